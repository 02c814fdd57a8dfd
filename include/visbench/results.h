/* A finished run as JSON: the objects `visbench run --json` prints, one per
 * (pipeline, fold). Results themselves live in the SQLite store (store.h).
 */
#ifndef VISBENCH_RESULTS_H
#define VISBENCH_RESULTS_H

#include "visbench/data.h"
#include "visbench/run.h"
#include "visbench/store.h"

/* Appends one result as a JSON object (no newline): pipeline, fold, the
 * metrics, timings, sizes, parameters; details adds per-class metrics and
 * the confusion matrix. */
void vb_result_json(const vb_run_result *r, const vb_dataset *ds, int details, vb_buf *b);
/* A run read back from the store (a run `run` kept from earlier) as the
 * same object, with "kept": true; the objects of new runs say "kept": false. */
void vb_stored_result_json(const vb_store_run *r, vb_buf *b);

#endif
