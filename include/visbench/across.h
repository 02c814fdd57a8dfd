/* One spec over several datasets (datasets: [a, b, ...]): the stored
 * experiments of the same spec name and spec hash, one per dataset (each
 * has a split of its own), as a datasets x pipelines matrix of
 * each pipeline's score (test accuracy when there is a test fold, else
 * mean CV accuracy; NMI for clusterings, as the leaderboard ranks), with
 * Demšar's statistics over the pipelines that have a score on every
 * dataset: average ranks, the Friedman test with Iman and Davenport's
 * correction, and Nemenyi's critical difference and pairwise tests. */
#ifndef VISBENCH_ACROSS_H
#define VISBENCH_ACROSS_H

#include "visbench/eval.h"
#include "visbench/report.h"

typedef struct vb_across {
    size_t n_sets, k;     /* datasets (rows), pipelines (columns, in spec order) */
    char **datasets;      /* each experiment's dataset name (\"name #2\" when one repeats) */
    int64_t *exp_ids;     /* the experiment of each row */
    char **pipelines;
    double *score;        /* n_sets x k, NaN where a pipeline has no score */
    const char *metric;   /* what score is ("accuracy", "nmi") */
    /* Over the pipelines with a score on every dataset (complete[j]), when
     * there are at least 2 datasets and 2 such pipelines (have_stats): */
    unsigned char *complete;
    size_t n_complete;
    int have_stats;
    double *ranks;        /* k average ranks (NaN for incomplete pipelines) */
    vb_friedman friedman;
    double cd05, cd10;    /* Nemenyi critical differences at 0.05 and 0.10 */
    double *nemenyi_p;    /* k x k (NaN off the complete pipelines) */
} vb_across;

/* The datasets x pipelines view of the experiment exp (0: the latest) and
 * its siblings in store s; n_sets is 1 for a spec of one dataset. */
vb_status vb_across_build(vb_store *s, int64_t exp, vb_across **out, vb_error *err);
void vb_across_free(vb_across *a);
/* The matrix, average ranks and tests as text, Markdown, CSV (the matrix
 * with a rank row) or JSON. */
void vb_render_across(const vb_across *a, vb_format fmt, vb_buf *b);
/* The same as an HTML section with the critical-difference diagram. */
void vb_render_across_html(const vb_across *a, vb_buf *b);

#endif
