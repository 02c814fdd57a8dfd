/* What the report shows of each pipeline, derived once from the store and
 * shared by the HTML and Markdown renderers. */
#ifndef VB_REPORT_INTERNAL_H
#define VB_REPORT_INTERNAL_H

#include "visbench/report.h"

/* One pipeline's evaluation as the report shows it: its test (or holdout)
 * fold when it has one, else its cross-validation folds. */
typedef struct rep_view {
    const vb_summary_row *row;
    size_t color;       /* palette index: the rank */
    int from_test;      /* per-class values, confusion and ROC come from the test fold */
    size_t n_cv;        /* CV folds averaged / pooled */
    int has_class;      /* per-class values exist */
    double *precision, *recall, *f1, *auc; /* per class (CV: mean over folds; NaN when undefined) */
    size_t *confusion;  /* k x k (test run, or summed over the first repetition's folds); NULL: none */
    size_t n_pred;      /* predictions with scores for ROC (0: none) */
    int *truth;
    float *scores;      /* n_pred x k */
    const vb_store_run *curves; /* a run with a learning curve, or NULL */
    double *cv_acc;     /* accuracy of each CV fold */
    size_t n_cv_acc;
    const char *dim_run_features; /* features text of a done run (NULL: none) */
    size_t dim;
} rep_view;

/* Views of every row of s, in rank order. */
vb_status rep_views_build(const vb_summary *s, rep_view **out, vb_error *err);
void rep_views_free(rep_view *v, size_t n);


struct vb_across;
void rep_html(const vb_summary *s, const rep_view *v, const char *source, const struct vb_across *across, vb_buf *b);

/* How p-values were adjusted, for a legend: "after Holm's correction
 * over 15 pairs", "after Bonferroni's correction over 1 pair", "without
 * correction for 15 pairs" (one / many: what n counts). */
void rep_correction_phrase(vb_buf *b, vb_correction c, size_t n, const char *one, const char *many);
/* The same for the pairwise matrices of s (their two families). */
void rep_pairs_phrase(vb_buf *b, const vb_summary *s);

/* When the experiment's first finished run started (else its creation). */
const char *rep_first_start(const vb_store_exp *e);

/* Macro-averaged one-vs-rest ROC of a view on a common FPR grid of
 * n_grid points (tpr averaged over classes with a curve). Returns the
 * number of classes averaged (0: no curve). */
size_t rep_roc_macro(const rep_view *v, int k, const double *grid, size_t n_grid, double *tpr_out);

/* A named metric of row i as the report shows it: on the test fold when
 * there is one, else the mean over the cross-validation folds (NaN: none). */
double rep_row_metric(const vb_summary *s, size_t i, const char *name);
/* The names and headings of the task's own metrics (multilabel, or
 * hierarchical with levels levels): returns their count (at most max). */
size_t rep_task_metrics(const vb_store_exp *e, char names[][40], char heads[][40], size_t max);

#endif
