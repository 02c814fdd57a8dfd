/* Score-based metrics (ROC, AUC, top-k, log-loss) and significance tests. */
#include "visbench/eval.h"

#include <gsl/gsl_cdf.h>
#include <math.h>
#include <stdlib.h>

typedef struct scored {
    float s;
    int pos;
} scored;

/* A total order, NaN last: the metrics never sort a NaN (they return NaN
 * first), but a comparator that is not a total order is undefined in qsort. */
static int by_score_desc(const void *a, const void *b)
{
    float x = ((const scored *)a)->s, y = ((const scored *)b)->s;
    if (isnan(x) || isnan(y))
        return isnan(x) - isnan(y);
    return x > y ? -1 : x < y;
}

/* Whether a score (n x k) is NaN: in column `only`, or in any column when
 * only < 0. */
static int has_nan(const float *scores, size_t n, int k, int only)
{
    int c0 = only < 0 ? 0 : only, c1 = only < 0 ? k : only + 1;
    for (size_t i = 0; i < n; i++)
        for (int c = c0; c < c1; c++)
            if (isnan(scores[i * (size_t)k + (size_t)c]))
                return 1;
    return 0;
}

vb_status vb_scores_check(const float *scores, size_t n, int k, vb_error *err)
{
    for (size_t i = 0; i < n; i++)
        for (int c = 0; c < k; c++) {
            float s = scores[i * (size_t)k + (size_t)c];
            if (!isfinite(s))
                return vb_fail(err, VB_ERR_NUMERIC,
                               "the classifier scored test sample %zu of %zu %s for class %d, so no metric can "
                               "be computed; the model diverged or overflowed (for a network: lower the learning "
                               "rate)",
                               i + 1, n, isnan(s) ? "NaN" : s > 0 ? "+infinity" : "-infinity", c);
        }
    return VB_OK;
}

/* The groups of equal scores of one-vs-rest class c, highest score first,
 * each with its counts of positives and negatives. From a sorted copy of
 * the scores when there is memory for one; without (malloc failed), by
 * scanning the scores for the next lower one, O(n) a group: the same
 * groups in the same order, so AUC and ROC are exact either way and these
 * functions, which cannot report an error, never fail for memory. */
typedef struct score_walk {
    scored *v; /* sorted, or NULL: scan */
    const int *truth;
    const float *scores;
    size_t n, i;
    int k, c, started;
    float last;
} score_walk;

static void walk_init(score_walk *w, const int *truth, const float *scores, size_t n, int k, int c, size_t *np,
                      size_t *nn)
{
    *w = (score_walk){.truth = truth, .scores = scores, .n = n, .k = k, .c = c};
    *np = *nn = 0;
    for (size_t i = 0; i < n; i++) {
        if (truth[i] == c)
            (*np)++;
        else
            (*nn)++;
    }
    w->v = malloc((n ? n : 1) * sizeof *w->v);
    if (!w->v)
        return;
    for (size_t i = 0; i < n; i++) {
        w->v[i].s = scores[i * (size_t)k + (size_t)c];
        w->v[i].pos = truth[i] == c;
    }
    qsort(w->v, n, sizeof *w->v, by_score_desc);
}

static void walk_rewind(score_walk *w)
{
    w->i = 0;
    w->started = 0;
}

/* The next group's positives and negatives; 0 after the last group. */
static int next_group(score_walk *w, size_t *gp, size_t *gn)
{
    *gp = *gn = 0;
    if (w->v) {
        if (w->i >= w->n)
            return 0;
        size_t j = w->i;
        while (j < w->n && (j == w->i || w->v[j].s == w->v[w->i].s)) { /* a group has at least one sample */
            if (w->v[j].pos)
                (*gp)++;
            else
                (*gn)++;
            j++;
        }
        w->i = j;
        return 1;
    }
    int found = 0;
    float best = 0;
    for (size_t i = 0; i < w->n; i++) {
        float s = w->scores[i * (size_t)w->k + (size_t)w->c];
        if ((!w->started || s < w->last) && (!found || s > best)) {
            best = s;
            found = 1;
        }
    }
    if (!found)
        return 0;
    for (size_t i = 0; i < w->n; i++)
        if (w->scores[i * (size_t)w->k + (size_t)w->c] == best) {
            if (w->truth[i] == w->c)
                (*gp)++;
            else
                (*gn)++;
        }
    w->started = 1;
    w->last = best;
    return 1;
}

double vb_auc_ovr(const int *truth, const float *scores, size_t n, int k, int c)
{
    size_t np, nn;
    if (n == 0 || has_nan(scores, n, k, c)) /* NaN scores have no ranking: no AUC */
        return NAN;
    score_walk w;
    walk_init(&w, truth, scores, n, k, c, &np, &nn);
    if (np == 0 || nn == 0) {
        free(w.v);
        return NAN;
    }
    /* Walk groups of equal scores: each negative in a group beats the
     * positives seen before it, and ties with those in its group count half. */
    double wins = 0;
    size_t pos_above = 0, gp, gn;
    while (next_group(&w, &gp, &gn)) {
        wins += (double)gn * ((double)pos_above + 0.5 * (double)gp);
        pos_above += gp;
    }
    free(w.v);
    return wins / ((double)np * (double)nn);
}

double vb_auc_macro(const int *truth, const float *scores, size_t n, int k)
{
    double sum = 0;
    int m = 0;
    for (int c = 0; c < k; c++) {
        double a = vb_auc_ovr(truth, scores, n, k, c);
        if (!isnan(a)) {
            sum += a;
            m++;
        }
    }
    return m ? sum / m : NAN;
}

size_t vb_roc_ovr(const int *truth, const float *scores, size_t n, int k, int c, double *fpr, double *tpr,
                  size_t max_points)
{
    size_t np, nn;
    if (max_points < 2 || n == 0 || has_nan(scores, n, k, c))
        return 0;
    score_walk w;
    walk_init(&w, truth, scores, n, k, c, &np, &nn);
    if (np == 0 || nn == 0) {
        free(w.v);
        return 0;
    }
    /* Thresholds at each distinct score: count them first to thin evenly. */
    size_t groups = 0, gp, gn;
    while (next_group(&w, &gp, &gn))
        groups++;
    walk_rewind(&w);
    size_t out = 0, g = 0, tp = 0, fp = 0;
    fpr[out] = 0;
    tpr[out++] = 0;
    double stride = groups + 1 > max_points ? (double)groups / (double)(max_points - 1) : 1.0;
    double next = stride;
    while (next_group(&w, &gp, &gn)) {
        tp += gp;
        fp += gn;
        g++;
        if ((double)g + 1e-9 >= next || g == groups) {
            if (out < max_points) {
                fpr[out] = (double)fp / (double)nn;
                tpr[out++] = (double)tp / (double)np;
            }
            while (next <= (double)g + 1e-9)
                next += stride;
        }
    }
    if (fpr[out - 1] != 1.0 || tpr[out - 1] != 1.0) { /* always end at (1, 1) */
        if (out == max_points)
            out--;
        fpr[out] = 1.0;
        tpr[out++] = 1.0;
    }
    free(w.v);
    return out;
}

double vb_topk_accuracy(const int *truth, const float *scores, size_t n, int k, int top_k)
{
    if (n == 0 || has_nan(scores, n, k, -1))
        return NAN;
    size_t hit = 0;
    for (size_t i = 0; i < n; i++) {
        const float *row = scores + i * (size_t)k;
        float t = row[truth[i]];
        int higher = 0;
        for (int c = 0; c < k; c++)
            higher += row[c] > t;
        hit += higher < top_k;
    }
    return (double)hit / (double)n;
}

double vb_log_loss(const int *truth, const float *probs, size_t n, int k)
{
    if (n == 0)
        return NAN;
    for (size_t i = 0; i < n * (size_t)k; i++)
        if (!isfinite(probs[i]))
            return NAN;
    double total = 0;
    for (size_t i = 0; i < n; i++) {
        const float *row = probs + i * (size_t)k;
        double sum = 0;
        for (int c = 0; c < k; c++)
            sum += row[c] > 0 ? row[c] : 0;
        double p = sum > 0 ? row[truth[i]] / sum : 0;
        p = p < 1e-15 ? 1e-15 : p > 1 ? 1 : p;
        total -= log(p);
    }
    return total / (double)n;
}

/* The statistic and exact p-value from the discordant counts b and c. */
static void mcnemar_from_counts(size_t b, size_t c, vb_mcnemar *out)
{
    out->b = b;
    out->c = c;
    size_t m = b + c;
    if (m == 0) {
        out->statistic = 0;
        out->p = 1;
        return;
    }
    double diff = fabs((double)b - (double)c) - 1;
    out->statistic = diff > 0 ? diff * diff / (double)m : 0;
    /* Exact: under H0 the discordant pairs split as Binomial(m, 1/2). */
    size_t lo = b < c ? b : c;
    double p = 2 * gsl_cdf_binomial_P((unsigned)lo, 0.5, (unsigned)m);
    out->p = p > 1 ? 1 : p;
}

void vb_mcnemar_test(const int *truth, const int *pred_a, const int *pred_b, size_t n, vb_mcnemar *out)
{
    size_t b = 0, c = 0;
    for (size_t i = 0; i < n; i++) {
        int ra = pred_a[i] == truth[i], rb = pred_b[i] == truth[i];
        b += ra && !rb;
        c += !ra && rb;
    }
    mcnemar_from_counts(b, c, out);
}

/* Any nonzero byte is "right". */
void vb_mcnemar_correct(const uint8_t *right_a, const uint8_t *right_b, size_t n, vb_mcnemar *out)
{
    size_t b = 0, c = 0;
    for (size_t i = 0; i < n; i++) {
        int ra = right_a[i] != 0, rb = right_b[i] != 0;
        b += ra && !rb;
        c += !ra && rb;
    }
    mcnemar_from_counts(b, c, out);
}

void vb_mean_sd(const double *x, size_t n, double *mean, double *sd)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += x[i];
    *mean = n ? s / (double)n : NAN;
    double q = 0;
    for (size_t i = 0; i < n; i++)
        q += (x[i] - *mean) * (x[i] - *mean);
    *sd = n > 1 ? sqrt(q / (double)(n - 1)) : NAN;
}

vb_status vb_corrected_ttest(const double *d, size_t J, double n_train, double n_test, vb_ttest *out,
                             vb_error *err)
{
    if (J < 2)
        return vb_fail(err, VB_ERR_PARAM, "the corrected t-test needs at least 2 folds, not %zu", J);
    if (!(n_train > 0) || !(n_test > 0))
        return vb_fail(err, VB_ERR_PARAM, "the corrected t-test needs positive training and test sizes");
    vb_mean_sd(d, J, &out->mean, &out->sd);
    out->df = (int)J - 1;
    double var = out->sd * out->sd, scale = 1.0 / (double)J + n_test / n_train;
    if (var == 0) {
        out->t = out->mean == 0 ? 0 : copysign(INFINITY, out->mean);
        out->p = out->mean == 0 ? 1 : 0;
        return VB_OK;
    }
    out->t = out->mean / sqrt(scale * var);
    out->p = 2 * gsl_cdf_tdist_Q(fabs(out->t), out->df);
    return VB_OK;
}
