/* Summaries of a stored experiment: the leaderboard and the pairwise
 * significance tests that `visbench results` prints and the reports draw.
 *
 * Folds named "test" or "holdout" are single evaluations; every other fold
 * is a cross-validation fold. For each pipeline, every metric is averaged
 * (mean and sample standard deviation) over its CV folds, and the single
 * evaluation is kept apart. Pipelines rank by test accuracy when there is a
 * test fold, else by mean CV accuracy; in mode: cluster (no accuracy) by
 * NMI the same way, and without labels in spec order.
 *
 * Pairwise tests: McNemar's test on the predictions of the test fold (or,
 * without one, the pooled out-of-fold predictions of the first repetition);
 * Nadeau and Bengio's corrected resampled t-test on per-fold accuracy
 * differences across the CV folds.
 *
 * Multiple comparisons: the reports mark p-values adjusted by the spec's
 * `correction` (none, holm, bonferroni; holm when the stored spec text
 * names none), each family apart: the McNemar p-values of all pairs of
 * the matrix, its t-test p-values, and the comparisons with the best
 * (p_best). The raw p-values are kept beside the adjusted ones.
 */
#ifndef VISBENCH_SUMMARY_H
#define VISBENCH_SUMMARY_H

#include "visbench/store.h"

/* A metric over the CV folds and on the test fold. */
/* The pairwise matrix covers at most this many pipelines (the best ones):
 * beyond that a table of p-values is no longer read, and its cost grows
 * with the square. */
#define VB_SUMMARY_MAX_PAIRWISE 64

typedef struct vb_stat {
    double mean, sd; /* over CV folds (NaN without them; sd NaN with one) */
    double test;     /* on the test/holdout fold (NaN without it) */
    size_t n;        /* CV folds that have it */
} vb_stat;

typedef struct vb_summary_row {
    const char *pipeline;
    size_t n_done, n_failed, n_cv;
    vb_stat accuracy, balanced_accuracy, macro_f1, auc_macro, log_loss, top2_accuracy;
    vb_stat purity, nmi, ari, clusters; /* clusterings (kmeans, gmm): the test part against the labels */
    double extract_s, postprocess_s, train_s, tune_s, predict_s; /* mean over done runs */
    double predict_per_s;                         /* test images per second of prediction */
    double peak_rss_mb, model_kb;                 /* max and mean */
    int proba;
    /* Its averaged folds are leave-one-out folds of single labels, which
     * test one image each: macro_f1 and balanced_accuracy (sd NaN) and the
     * report's per-class scores come from their pooled confusion matrix
     * (accuracy's mean is the pooled accuracy anyway). */
    int pooled;
    const char *features, *params, *grid;         /* of the test fold run, else the first */
    const vb_store_run *test_run;                 /* NULL without a test fold */
    const char *error;                            /* first failure message */
    const size_t *run_idx;                        /* its runs: indices into e->runs, in fold order */
    size_t n_runs;
    /* This row against the best (rows[0]) in the test that matches the
     * ranking score: McNemar on the test fold when pipelines rank by test
     * accuracy, else the corrected t-test across CV folds (McNemar on the
     * pooled out-of-fold predictions where that is undefined). p_best is
     * NaN for the best itself and where no test applies; p_best_test
     * names the test ("McNemar", "corrected t-test") or is NULL. */
    double p_best;
    const char *p_best_test;
    double p_best_adj; /* p_best adjusted over the comparisons with the best (n_best_tests) */
} vb_summary_row;

typedef struct vb_summary {
    const vb_store_exp *e;
    size_t n;                /* pipelines */
    vb_summary_row *rows;    /* ranked best first */
    int has_cv, has_test;
    int has_cluster;         /* some pipeline clusters (a clusters column) */
    int has_nmi;             /* ... and was scored against labels (purity, NMI, ARI columns) */
    int cluster_only;        /* mode: cluster: no classification metrics at all */
    int by_nmi;              /* cluster_only with labels: pipelines rank by NMI */
    const char *test_fold;   /* "test" or "holdout" */
    /* the averaged folds are draws of a repeated holdout: their "first
     * repetition", which McNemar pairs, is the first draw's test set */
    int repeated_holdout;
    size_t n_cv_folds;
    /* Pairwise tests between the first n_pairwise ranked rows (all of them
     * up to VB_SUMMARY_MAX_PAIRWISE): n_pairwise x n_pairwise in row order,
     * NaN where undefined. Every row has p_best. */
    size_t n_pairwise;
    double *mcnemar_p;
    double *ttest_p, *ttest_t;
    /* The correction and what it adjusted: the matrices over the pairs of
     * each test apart (n_mcnemar_pairs, n_ttest_pairs have a p), p_best
     * over the n_best_tests rows that have one. */
    vb_correction correction;
    double *mcnemar_p_adj, *ttest_p_adj;
    size_t n_mcnemar_pairs, n_ttest_pairs, n_best_tests;
    size_t *run_order;       /* e->runs indices grouped by pipeline (rows point into it) */
} vb_summary;

/* Significance level of the markers in reports. */
#define VB_SUMMARY_ALPHA 0.05

vb_status vb_summary_build(const vb_store_exp *e, vb_summary **out, vb_error *err);
void vb_summary_free(vb_summary *s);
/* The primary score a row ranks by. */
double vb_summary_score(const vb_summary *s, const vb_summary_row *r);

#endif
