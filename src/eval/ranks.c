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

/* ---- the Nemenyi test ---------------------------------------------------- */

/* Gauss-Legendre nodes and weights of n points on [-1, 1] (the positive
 * half: node i and -node i share weight i), by Newton's method on the
 * Legendre polynomial P_n from the usual first guess. */
#define GL_N 16
static void gauss_legendre(double x[GL_N / 2], double w[GL_N / 2])
{
    const double pi = 3.14159265358979323846;
    for (int i = 0; i < GL_N / 2; i++) {
        double z = cos(pi * (i + 0.75) / (GL_N + 0.5)), dp = 1;
        for (int it = 0; it < 100; it++) {
            double p0 = 1, p1 = z; /* P_0, P_1, then up to P_n by the three-term recurrence */
            for (int n = 2; n <= GL_N; n++) {
                double p2 = ((2 * n - 1) * z * p1 - (n - 1) * p0) / n;
                p0 = p1;
                p1 = p2;
            }
            dp = GL_N * (z * p1 - p0) / (z * z - 1);
            double step = p1 / dp;
            z -= step;
            if (fabs(step) < 1e-16)
                break;
        }
        x[i] = z;
        w[i] = 2 / ((1 - z * z) * dp * dp);
    }
}

/* k phi(z) (Q(z)^(k-1) - (Q(z) - Q(z+w))^(k-1)): the density of the
 * smallest of k at z times the chance that another lies beyond z + w.
 * Written as Q^(k-1) (1 - r^(k-1)) with r = (Q(z) - Q(z+w)) / Q(z), the
 * difference of normal probabilities taken on the side where it keeps its
 * digits, and log r from whichever of r and 1 - r is the smaller, so that
 * small tails are accurate too. */
static double range_integrand(double z, double w, double km1)
{
    double a = gsl_cdf_ugaussian_Q(z);
    if (!(a > 0))
        return 0;
    double out = gsl_cdf_ugaussian_Q(z + w);
    double in = z + w / 2 > 0 ? a - out : gsl_cdf_ugaussian_P(z + w) - gsl_cdf_ugaussian_P(z);
    double log_r = in < a / 2 ? log(fmax(in, 0) / a) : log1p(-out / a);
    double beyond = -expm1(km1 * log_r); /* 1 - r^(k-1); 1 when r = 0 */
    const double inv_sqrt_2pi = 0.39894228040143267794;
    return (km1 + 1) * inv_sqrt_2pi * exp(-z * z / 2 + km1 * log(a)) * beyond;
}

double vb_normal_range_Q(double w, size_t k)
{
    if (k < 2 || isnan(w))
        return NAN;
    if (w <= 0)
        return 1;
    if (isinf(w))
        return 0;
    double x[GL_N / 2], gw[GL_N / 2];
    gauss_legendre(x, gw);
    /* The smallest of k standard normals lies in [-12, 9] but for less
     * than 1e-30 (k <= VB_NEMENYI_MAX_K): panels of a quarter, where the
     * integrand is smooth on the scale of the panel. */
    const double lo = -12, hi = 9, h = 0.25;
    double km1 = (double)(k - 1), sum = 0;
    for (int p = 0; p < (int)((hi - lo) / h); p++) {
        double c = lo + (p + 0.5) * h, part = 0;
        for (int i = 0; i < GL_N / 2; i++)
            part += gw[i] * (range_integrand(c - x[i] * h / 2, w, km1) + range_integrand(c + x[i] * h / 2, w, km1));
        sum += part * h / 2;
    }
    return fmin(fmax(sum, 0), 1);
}

static vb_status check_k_alpha(size_t k, double alpha, vb_error *err)
{
    if (k < 2 || k > VB_NEMENYI_MAX_K)
        return vb_fail(err, VB_ERR_PARAM, "the Nemenyi test compares 2 to %d methods, not %zu", VB_NEMENYI_MAX_K, k);
    if (!(alpha > 0 && alpha < 1))
        return vb_fail(err, VB_ERR_PARAM, "alpha must be in (0, 1), not %g", alpha);
    return VB_OK;
}

vb_status vb_nemenyi_q(size_t k, double alpha, double *q, vb_error *err)
{
    vb_status st = check_k_alpha(k, alpha, err);
    if (st != VB_OK)
        return st;
    /* The tail falls from 1 at w = 0: bracket the quantile, then halve. */
    double lo = 0, hi = 8;
    while (vb_normal_range_Q(hi, k) > alpha && hi < 1e3)
        lo = hi, hi *= 2;
    while (hi - lo > 1e-12 * hi) {
        double mid = (lo + hi) / 2;
        if (vb_normal_range_Q(mid, k) > alpha)
            lo = mid;
        else
            hi = mid;
    }
    *q = (lo + hi) / 2 / sqrt(2.0);
    return VB_OK;
}

/* sqrt(k(k+1) / (6N)): the standard error of a difference of average ranks. */
static double rank_se(size_t k, size_t n_sets)
{
    return sqrt((double)k * (double)(k + 1) / (6.0 * (double)n_sets));
}

vb_status vb_nemenyi_cd(size_t k, size_t n_sets, double alpha, double *cd, vb_error *err)
{
    if (n_sets == 0)
        return vb_fail(err, VB_ERR_PARAM, "ranking methods needs at least one data set");
    double q;
    vb_status st = vb_nemenyi_q(k, alpha, &q, err);
    if (st == VB_OK)
        *cd = q * rank_se(k, n_sets);
    return st;
}

vb_status vb_nemenyi_pvalues(const double *ranks, size_t k, size_t n_sets, double *p, vb_error *err)
{
    vb_status st = check_shape(n_sets, k, err);
    if (st == VB_OK)
        st = check_k_alpha(k, 0.5, err);
    for (size_t j = 0; st == VB_OK && j < k; j++)
        if (isnan(ranks[j]))
            st = vb_fail(err, VB_ERR_PARAM, "average rank %zu is NaN", j + 1);
    if (st != VB_OK)
        return st;
    double se = rank_se(k, n_sets);
    for (size_t i = 0; i < k; i++) {
        p[i * k + i] = 1;
        for (size_t j = i + 1; j < k; j++)
            p[i * k + j] = p[j * k + i] = vb_normal_range_Q(sqrt(2.0) * fabs(ranks[i] - ranks[j]) / se, k);
    }
    return VB_OK;
}

vb_status vb_bonferroni_dunn_q(size_t k, double alpha, double *q, vb_error *err)
{
    vb_status st = check_k_alpha(k, alpha, err);
    if (st == VB_OK)
        *q = gsl_cdf_ugaussian_Qinv(alpha / (2.0 * (double)(k - 1)));
    return st;
}
