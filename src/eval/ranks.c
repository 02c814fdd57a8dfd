/* Comparing several methods: corrections of a family of p-values, and
 * (Demšar 2006, "Statistical Comparisons of Classifiers over Multiple Data
 * Sets", JMLR 7) average ranks over data sets, the Friedman and
 * Iman-Davenport tests, and the Nemenyi post-hoc test. */
#include "visbench/eval.h"

#include <gsl/gsl_cdf.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- corrections ------------------------------------------------------- */

static const char *const correction_names[] = {"none", "holm", "bonferroni"};

const char *vb_correction_name(vb_correction c)
{
    return (unsigned)c < 3 ? correction_names[c] : "?";
}

int vb_correction_parse(const char *name, vb_correction *out)
{
    for (int i = 0; name && i < 3; i++)
        if (strcmp(name, correction_names[i]) == 0) {
            *out = (vb_correction)i;
            return 1;
        }
    return 0;
}

typedef struct p_at {
    double p;
    size_t i;
} p_at;

/* Ascending p, ties in input order: a total order, so the sort is the
 * same everywhere. */
static int by_p(const void *a, const void *b)
{
    const p_at *x = a, *y = b;
    if (x->p != y->p)
        return x->p < y->p ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

vb_status vb_p_adjust(const double *p, size_t m, vb_correction c, double *out, vb_error *err)
{
    size_t n = 0;
    for (size_t i = 0; i < m; i++) {
        if (isnan(p[i]))
            continue;
        if (p[i] < 0 || p[i] > 1)
            return vb_fail(err, VB_ERR_PARAM, "p-value %zu of %zu is %g, not in [0, 1]", i + 1, m, p[i]);
        n++;
    }
    if (c == VB_CORRECT_NONE || c == VB_CORRECT_BONFERRONI) {
        for (size_t i = 0; i < m; i++)
            out[i] = c == VB_CORRECT_NONE || isnan(p[i]) ? p[i] : fmin(1, (double)n * p[i]);
        return VB_OK;
    }
    if (c != VB_CORRECT_HOLM)
        return vb_fail(err, VB_ERR_PARAM, "unknown correction %d", (int)c);
    p_at *v = vb_malloc(n ? n : 1, sizeof *v, err);
    if (!v)
        return VB_ERR_NOMEM;
    size_t k = 0;
    for (size_t i = 0; i < m; i++) {
        if (!isnan(p[i]))
            v[k++] = (p_at){p[i], i};
        else
            out[i] = NAN;
    }
    qsort(v, n, sizeof *v, by_p);
    double run = 0; /* the running maximum makes the adjusted values monotone */
    for (size_t j = 0; j < n; j++) {
        run = fmax(run, fmin(1, (double)(n - j) * v[j].p));
        v[j].p = run;
    }
    for (size_t j = 0; j < n; j++)
        out[v[j].i] = v[j].p;
    free(v);
    return VB_OK;
}

/* ---- ranks over data sets and the Friedman test -------------------------- */

static vb_status check_shape(size_t n_sets, size_t k, vb_error *err)
{
    if (n_sets == 0)
        return vb_fail(err, VB_ERR_PARAM, "ranking methods needs at least one data set");
    if (k < 2)
        return vb_fail(err, VB_ERR_PARAM, "ranking methods needs at least 2 methods, not %zu", k);
    return VB_OK;
}

vb_status vb_average_ranks(const double *scores, size_t n_sets, size_t k, double *ranks, vb_error *err)
{
    vb_status st = check_shape(n_sets, k, err);
    if (st != VB_OK)
        return st;
    for (size_t d = 0; d < n_sets; d++)
        for (size_t j = 0; j < k; j++)
            if (isnan(scores[d * k + j]))
                return vb_fail(err, VB_ERR_DATA,
                               "the score of method %zu on data set %zu is NaN; ranks need every method's score "
                               "on every data set",
                               j + 1, d + 1);
    for (size_t j = 0; j < k; j++)
        ranks[j] = 0;
    /* A method's rank on a data set: 1 + the methods scoring higher, plus
     * half of the others tied with it (the mean of the ranks its tie group
     * spans). k^2 per data set, and no sort: k is a handful of methods. */
    for (size_t d = 0; d < n_sets; d++) {
        const double *row = scores + d * k;
        for (size_t j = 0; j < k; j++) {
            size_t above = 0, tied = 0;
            for (size_t i = 0; i < k; i++) {
                above += row[i] > row[j];
                tied += i != j && row[i] == row[j];
            }
            ranks[j] += 1 + (double)above + 0.5 * (double)tied;
        }
    }
    for (size_t j = 0; j < k; j++)
        ranks[j] /= (double)n_sets;
    return VB_OK;
}

vb_status vb_friedman_test(const double *ranks, size_t n_sets, size_t k, vb_friedman *out, vb_error *err)
{
    vb_status st = check_shape(n_sets, k, err);
    if (st != VB_OK)
        return st;
    double K = (double)k, N = (double)n_sets, sum = 0, sq = 0;
    for (size_t j = 0; j < k; j++) {
        if (!(ranks[j] >= 1 - 1e-9 && ranks[j] <= K + 1e-9))
            return vb_fail(err, VB_ERR_PARAM, "average rank %zu is %g, not in [1, %zu] (give vb_average_ranks' output)",
                           j + 1, ranks[j], k);
        sum += ranks[j];
        sq += ranks[j] * ranks[j];
    }
    if (fabs(sum - K * (K + 1) / 2) > 1e-9 * K * K)
        return vb_fail(err, VB_ERR_PARAM, "the average ranks sum to %g, not k(k+1)/2 = %g (give vb_average_ranks' output)",
                       sum, K * (K + 1) / 2);
    out->df1 = K - 1;
    out->df2 = (K - 1) * (N - 1);
    double chi2 = 12 * N / (K * (K + 1)) * (sq - K * (K + 1) * (K + 1) / 4);
    double most = N * (K - 1); /* every data set ranking the methods alike */
    chi2 = fmin(fmax(chi2, 0), most); /* rounding must not leave [0, N(k-1)] */
    out->chi2 = chi2;
    out->p_chi2 = gsl_cdf_chisq_Q(chi2, out->df1);
    double denom = most - chi2;
    if (n_sets == 1) {
        out->ff = out->p_ff = NAN; /* no degrees of freedom left */
    } else if (denom <= 1e-12 * most) {
        out->ff = INFINITY;
        out->p_ff = 0;
    } else {
        out->ff = (N - 1) * chi2 / denom;
        out->p_ff = gsl_cdf_fdist_Q(out->ff, out->df1, out->df2);
    }
    return VB_OK;
}
