/* Results files of one experiment run, in the results folder:
 *   split.txt        the split (see split.h)
 *   predictions.csv  pipeline,fold,sample,true,predicted,score:<class>...
 *   metrics.json     one object per finished (pipeline, fold) and the failures
 * Both result files are rewritten atomically after every finished run, so
 * an interrupted experiment leaves complete files of what finished.
 */
#ifndef VISBENCH_RESULTS_H
#define VISBENCH_RESULTS_H

#include "visbench/pipeline.h"

typedef struct vb_results vb_results;

vb_status vb_results_open(const char *dir, const vb_spec *spec, const vb_dataset *ds, const vb_split *split,
                          vb_results **out, vb_error *err);
void vb_results_free(vb_results *r);
vb_status vb_results_add(vb_results *r, const vb_run_result *res, vb_error *err);
vb_status vb_results_add_failure(vb_results *r, const char *pipeline, const char *fold, const char *msg,
                                 vb_error *err);
/* One result as a JSON object (no newline). details adds per-class
 * metrics and the confusion matrix. */
void vb_result_json(const vb_run_result *r, const vb_dataset *ds, int details, vb_buf *b);

#endif
