/* Rendering stored experiments: the tables `visbench results` prints and
 * the reports (`visbench report`) are built from. Everything here reads a
 * loaded store only; nothing re-runs.
 *
 * Every string that comes from data (class, pipeline and dataset names,
 * paths, parameters) is escaped for the output format: Markdown table
 * cells escape '|' and HTML-significant characters, CSV quotes fields,
 * JSON escapes strings.
 */
#ifndef VISBENCH_REPORT_H
#define VISBENCH_REPORT_H

#include "visbench/summary.h"

typedef enum vb_format { VB_FMT_TEXT, VB_FMT_MD, VB_FMT_CSV, VB_FMT_JSON, VB_FMT_HTML } vb_format;

/* "text", "md", "csv", "json", "html" -> format; 0 when unknown. */
int vb_format_parse(const char *s, vb_format *out);

/* The experiment's identity and machine. */
void vb_render_experiment(const vb_store_exp *e, vb_format fmt, vb_buf *b);
/* Ranked pipelines: test and CV accuracy, macro-F1, AUC, log-loss, times, memory. */
void vb_render_leaderboard(const vb_summary *s, vb_format fmt, vb_buf *b);
/* Pairwise McNemar and corrected t-test p-values. */
void vb_render_pairwise(const vb_summary *s, vb_format fmt, vb_buf *b);
/* Every stored prediction as CSV: pipeline,fold,sample,true,predicted,score:<class>...
 * in run order, fold order and sample order (deterministic bytes). */
void vb_render_predictions_csv(const vb_store_exp *e, vb_buf *b);

/* Escapers (shared by the renderers and the HTML report). */
void vb_md_cell(vb_buf *b, const char *s);
void vb_csv_field(vb_buf *b, const char *s);
void vb_html_text(vb_buf *b, const char *s);

#endif
