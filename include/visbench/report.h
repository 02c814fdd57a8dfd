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
/* The store's experiments (vb_store_list), one per line or object: id,
 * name, dataset, protocol, split hash, runs done / failed / other, created,
 * updated. */
void vb_render_experiments(const vb_store_exp_info *list, size_t n, vb_format fmt, vb_buf *b);
/* Ranked pipelines: test and CV accuracy, macro-F1, AUC, log-loss, times, memory. */
void vb_render_leaderboard(const vb_summary *s, vb_format fmt, vb_buf *b);
/* Multilabel and hierarchical experiments: the task's own metrics per
 * pipeline (text or Markdown; nothing for single-label experiments). */
void vb_render_task_metrics(const vb_summary *s, vb_format fmt, vb_buf *b);
/* Pairwise McNemar and corrected t-test p-values. */
void vb_render_pairwise(const vb_summary *s, vb_format fmt, vb_buf *b);
/* The same matrix in HTML for the best max pipelines only (at most
 * n_pairwise); past five, columns are headed by rank, the name in a
 * tooltip, so that it fits a page's width. */
void vb_render_pairwise_html(const vb_summary *s, size_t max, vb_buf *b);
/* Every stored prediction as CSV: pipeline,fold,sample,true,predicted,score:<class>...
 * in run order, fold order and sample order (deterministic bytes). */
void vb_render_predictions_csv(const vb_store_exp *e, vb_buf *b);

/* The comparison report of a loaded experiment (`visbench report`).
 * Load the experiment with its predictions (vb_store_load with_predictions)
 * for ROC curves and pooled confusion matrices; without them those
 * sections say why they are missing. fmt:
 *   VB_FMT_HTML  one self-contained page (inline CSS, SVG charts and a small
 *                self-check script; nothing is fetched);
 *   VB_FMT_MD    the same tables in Markdown;
 *   VB_FMT_CSV   every stored number in long format (vb_report_metrics_csv).
 * source names the store in the page's footer (may be NULL). Appends to b;
 * returns VB_ERR_PARAM for another format and VB_ERR_NOMEM when memory ran
 * out (b may then hold part of the report). Deterministic bytes: the same
 * store renders the same report. */
vb_status vb_report_render(const vb_store_exp *e, vb_format fmt, const char *source, vb_buf *b, vb_error *err);
/* Accuracy against training-set size (split.learning_curve): for each
 * pipeline and fraction of the training part (the learning-curve folds,
 * and 1 for the folds they subsample), the mean and sample sd of accuracy
 * over those folds, the mean training images and train (+ tune) seconds.
 * *out is NULL for an experiment without learning-curve runs. */
typedef struct vb_size_curve {
    size_t n_pipe, n_pts;
    const char **pipelines; /* names in the experiment (not owned) */
    double *frac;           /* n_pts fractions, ascending, the last 1 */
    double *n_train, *acc_mean, *acc_sd, *train_s; /* n_pipe x n_pts */
} vb_size_curve;
vb_status vb_size_curve_build(const vb_store_exp *e, vb_size_curve **out, vb_error *err);
void vb_size_curve_free(vb_size_curve *c);
/* The points as a text or Markdown table (nothing for NULL). */
void vb_render_size_curve(const vb_size_curve *c, vb_format fmt, vb_buf *b);

/* The same with a section across datasets (a spec of several datasets:
 * the matrix, ranks, tests and critical-difference diagram); across may be
 * NULL or of one dataset (no section). */
struct vb_across;
vb_status vb_report_render_across(const vb_store_exp *e, vb_format fmt, const char *source,
                                  const struct vb_across *across, vb_buf *b, vb_error *err);

/* One tidy table of every number of the finished runs, one per line:
 *   experiment,pipeline,fold,metric,class,value
 * with the run metrics (class empty), per-class precision, recall, f1,
 * support and auc (class = the class name), timings (extract_s, tune_s,
 * train_s, predict_s), memory (peak_rss_kb, model_bytes) and sizes
 * (n_train, n_val, n_test, dim). Undefined values are left out. */
void vb_report_metrics_csv(const vb_store_exp *e, vb_buf *b);

/* Escapers (shared by the renderers and the HTML report). */
void vb_md_cell(vb_buf *b, const char *s);
void vb_html_text(vb_buf *b, const char *s);

#endif
