/* gmm: Gaussian mixtures with diagonal covariances, two ways.
 *
 *   mode: cluster   one mixture of k components (0 = the number of classes)
 *                   over the training set; each component maps to its
 *                   majority training label, as kmeans does.
 *   mode: classify  a generative classifier: one mixture of k components
 *                   (0 = 1) per class, prediction by the largest posterior
 *                   p(c | x) ~ p(x | c) p(c), priors = class frequencies.
 *
 * Scores are probabilities in both modes (VB_CLF_PROBA): the class
 * posteriors (classify), or the component posteriors summed per mapped
 * label (cluster). The label is the top score.
 *
 * EM is our own, not vl_gmm: the benchmark asks for 3x scikit-learn, and
 * vl_gmm loops over points and components and accumulates its M step in
 * thread arrival order (results would change from run to run). One pass
 * over the data per iteration: the E step evaluates sum_j (x_j - mu_j)^2 /
 * var_j directly (four rows per load of a component, vectorised), the M
 * step sums r (x - mu) and r (x - mu)^2 around the current means; sums run
 * over fixed slices of rows added in order, so a model does not depend on
 * the thread count. (The earlier GEMM form, x^2/var - 2 x mu/var + mu^2/var
 * in float, cancelled catastrophically once a variance reached the floor,
 * which standardised HOG features do at once: the log-likelihood jittered
 * by whole units and EM never met its tolerance.) The tests check one step
 * against vl_gmm's.
 *
 * Initialisation (scikit-learn's defaults): k-means, with our own greedy
 * k-means++ seeding and Lloyd iterations (at most 300, until no label
 * changes or the squared centre shift is <= 1e-4 x the mean feature
 * variance; Hamerly's bounds skip the distances that cannot change a
 * label; checked against VLFeat's Lloyd in the tests), giving each
 * cluster's mean, variance and weight; or k random training points with the
 * global variance and equal weights. Variances are floored at cov_floor
 * (scikit-learn adds its reg_covar instead). EM stops when the mean
 * log-likelihood per sample changes by less than tol (scikit-learn's
 * criterion and default, 1e-3) or at max_iter (100); a component that loses
 * all its points keeps its parameters. */
#include "internal.h"

#include "visbench/eval.h"

#include <math.h>
#include <stdlib.h>
#include <omp.h>
#include <string.h>

static const vb_param_def gmm_params[] = {
    {.name = "k", .type = VB_PT_INT, .def = "0", .min = 0, .max = 100000, .flags = VB_PF_GRID | VB_PF_PRIMARY,
     .help = "components: cluster mode, in all (0 = the number of classes); classify mode, per class (0 = 1)"},
    {.name = "mode", .type = VB_PT_ENUM, .def = "cluster", .choices = "cluster|classify",
     .help = "cluster: components vote their majority label; classify: one mixture per class, max posterior"},
    {.name = "max_iter", .type = VB_PT_INT, .def = "100", .min = 1, .max = 1e6, .help = "EM iterations"},
    {.name = "tol", .type = VB_PT_FLOAT, .def = "0.001", .min = 0, .max = 1e6,
     .help = "stop when the mean log-likelihood per sample changes by less than this"},
    {.name = "init", .type = VB_PT_ENUM, .def = "kmeans", .choices = "kmeans|rand",
     .help = "initial mixture: k-means clusters (k-means++ seeds, Lloyd), or random training points"},
    {.name = "cov_floor", .type = VB_PT_FLOAT, .def = "1e-06", .min = 0, .max = 1e6, .flags = VB_PF_MIN_OPEN,
     .help = "lower bound of every variance"},
};

#define LOG_2PI 1.8378770664093454836

typedef struct gmix {
    int k;
    size_t d;
    float *mu, *var; /* k x d */
    double *logpi;   /* k */
    /* derived for the E step */
    float *P;    /* k x d: 1 / var */
    double *cst; /* k: log pi - 1/2 sum_j log(2 pi var_j) */
} gmix;

static void gmix_free(gmix *g)
{
    free(g->mu);
    free(g->var);
    free(g->logpi);
    free(g->P);
    free(g->cst);
    memset(g, 0, sizeof *g);
}

static int gmix_alloc(gmix *g, int k, size_t d)
{
    g->k = k;
    g->d = d;
    size_t kd = (size_t)k * d;
    g->mu = malloc(kd * sizeof *g->mu);
    g->var = malloc(kd * sizeof *g->var);
    g->logpi = malloc((size_t)k * sizeof *g->logpi);
    g->P = malloc(kd * sizeof *g->P);
    g->cst = malloc((size_t)k * sizeof *g->cst);
    return g->mu && g->var && g->logpi && g->P && g->cst;
}

static void gmix_derive(gmix *g)
{
    for (int c = 0; c < g->k; c++) {
        double acc = 0;
        for (size_t j = 0; j < g->d; j++) {
            size_t t = (size_t)c * g->d + j;
            double v = g->var[t];
            g->P[t] = (float)(1.0 / v);
            acc += log(v) + LOG_2PI;
        }
        g->cst[c] = g->logpi[c] - 0.5 * acc;
    }
}

/* ---- kernels ----------------------------------------------------------- */

/* Weighted squared distances sum_j (x_j - m_j)^2 w_j (w NULL: all 1) from
 * up to 4 rows x[0..nr) to one centre m, into out[0..nr). Four rows share
 * each load of m and w. The terms are all positive, so float is exact
 * enough; runs of KB terms are summed in float lanes and added in double.
 * (The expanded form x^2/v - 2 x m/v + m^2/v, as GEMMs, cancels
 * catastrophically in float once a variance reaches the floor: the
 * log-likelihood then jitters by whole units and EM never converges.) */
#define KB 256
static void wsq4(const float *const x[4], int nr, const float *m, const float *w, size_t d, double out[4])
{
    const float *x0 = x[0], *x1 = x[nr > 1 ? 1 : 0], *x2 = x[nr > 2 ? 2 : 0], *x3 = x[nr > 3 ? 3 : 0];
    double a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    for (size_t j0 = 0; j0 < d; j0 += KB) {
        size_t j1 = d - j0 < KB ? d : j0 + KB;
        float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        if (w) {
#pragma omp simd reduction(+ : s0, s1, s2, s3)
            for (size_t j = j0; j < j1; j++) {
                float mj = m[j], wj = w[j];
                float t0 = x0[j] - mj, t1 = x1[j] - mj, t2 = x2[j] - mj, t3 = x3[j] - mj;
                s0 += t0 * t0 * wj;
                s1 += t1 * t1 * wj;
                s2 += t2 * t2 * wj;
                s3 += t3 * t3 * wj;
            }
        } else {
#pragma omp simd reduction(+ : s0, s1, s2, s3)
            for (size_t j = j0; j < j1; j++) {
                float mj = m[j];
                float t0 = x0[j] - mj, t1 = x1[j] - mj, t2 = x2[j] - mj, t3 = x3[j] - mj;
                s0 += t0 * t0;
                s1 += t1 * t1;
                s2 += t2 * t2;
                s3 += t3 * t3;
            }
        }
        a0 += s0;
        a1 += s1;
        a2 += s2;
        a3 += s3;
    }
    double a[4] = {a0, a1, a2, a3};
    for (int r = 0; r < nr; r++)
        out[r] = a[r];
}

/* Rows i0..i0+nr (nr <= 4) of X against the k centres C (weights W, or
 * NULL): D[r * k + c] = the weighted squared distance of row i0 + r. */
static void dist_rows(const float *X, size_t i0, int nr, size_t d, const float *C, const float *W, size_t k,
                      double *D)
{
    const float *x[4];
    for (int r = 0; r < 4; r++)
        x[r] = X + (i0 + (size_t)(r < nr ? r : 0)) * d;
    for (size_t c = 0; c < k; c++) {
        double o[4];
        wsq4(x, nr, C + c * d, W ? W + c * d : NULL, d, o);
        for (int r = 0; r < nr; r++)
            D[(size_t)r * k + c] = o[r];
    }
}

/* Log joints l_c = log(pi_c N(x | c)) of one row (its weighted squared
 * distances q on entry) into posteriors, in place; returns log p(x). */
static double row_posterior(const gmix *g, double *q)
{
    double mx = -INFINITY, sum = 0;
    for (int c = 0; c < g->k; c++) {
        q[c] = g->cst[c] - 0.5 * q[c];
        mx = q[c] > mx ? q[c] : mx;
    }
    for (int c = 0; c < g->k; c++)
        sum += exp(q[c] - mx);
    double lse = mx + log(sum);
    for (int c = 0; c < g->k; c++)
        q[c] = exp(q[c] - lse);
    return lse;
}

/* Component posteriors (m x k) of rows X[0..m); returns nothing, ll[i]
 * gets log p(x_i) when ll is not NULL. Parallel over rows. */
static void posteriors(const gmix *g, const float *X, size_t m, double *R, double *ll)
{
    size_t k = (size_t)g->k, d = g->d;
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < m; i += 4) {
        int nr = m - i < 4 ? (int)(m - i) : 4;
        dist_rows(X, i, nr, d, g->mu, g->P, k, R + i * k);
        for (int r = 0; r < nr; r++) {
            double v = row_posterior(g, R + (i + (size_t)r) * k);
            if (ll)
                ll[i + (size_t)r] = v;
        }
    }
}

/* ---- deterministic parallel sums ---------------------------------------

 * Rows are cut into a number of slices that depends on n and the size of
 * a partial sum only, never on the thread count; each slice sums its rows
 * in order into its own partial, and the partials are added in slice order.
 * So a model is the same whatever OMP_NUM_THREADS says. */
#define KMEANS_MAX_ITER 300
#define KMEANS_TOL 1e-4
#define SLICE_MIN_ROWS 256
#define SLICE_MAX 64
#define SLICE_BYTES ((size_t)128 << 20)

static size_t n_slices(size_t n, size_t partial_doubles)
{
    size_t s = (n + SLICE_MIN_ROWS - 1) / SLICE_MIN_ROWS, cap = SLICE_BYTES / (partial_doubles * sizeof(double) + 1);
    s = s < SLICE_MAX ? s : SLICE_MAX;
    s = s < cap ? s : cap;
    return s ? s : 1;
}

/* ---- EM ---------------------------------------------------------------- */

typedef struct emwork {
    size_t S, stride; /* slices; doubles per slice partial */
    double *part;     /* S x stride: S1 (k x d), S2 (k x d), Nk (k), ll (1), scratch (4 k) */
} emwork;

static void emwork_free(emwork *w)
{
    free(w->part);
    w->part = NULL;
}

static int emwork_alloc(emwork *w, size_t n, size_t d, int k)
{
    size_t kd = (size_t)k * d;
    w->stride = 2 * kd + (size_t)k + 1 + 4 * (size_t)k;
    w->S = n_slices(n, w->stride);
    w->part = malloc(w->S * w->stride * sizeof *w->part);
    return w->part != NULL;
}

/* Posteriors below this are left out of the M step: their share of any
 * statistic is far below float resolution. */
#define R_SKIP 1e-30

/* One EM step: E with the current parameters (returns the mean log-
 * likelihood per sample under them), then M in place. One pass over X:
 * the M statistics are sums of r (x - s) and r (x - s)^2 around the current
 * means s, which keeps the variance free of cancellation. */
static double em_step(gmix *g, const float *X, size_t n, double floor_v, emwork *w)
{
    size_t d = g->d, k = (size_t)g->k, kd = k * d, S = w->S, stride = w->stride;
    gmix_derive(g);
#pragma omp parallel for schedule(dynamic)
    for (size_t sl = 0; sl < S; sl++) {
        double *S1 = w->part + sl * stride, *S2 = S1 + kd, *Nk = S2 + kd, *ll = Nk + k, *q = ll + 1;
        memset(S1, 0, (2 * kd + k + 1) * sizeof *S1);
        size_t r0 = sl * n / S, r1 = (sl + 1) * n / S;
        for (size_t i = r0; i < r1; i += 4) {
            int nr = r1 - i < 4 ? (int)(r1 - i) : 4;
            dist_rows(X, i, nr, d, g->mu, g->P, k, q);
            for (int r = 0; r < nr; r++) {
                double *rr = q + (size_t)r * k;
                *ll += row_posterior(g, rr);
                const float *x = X + (i + (size_t)r) * d;
                for (size_t c = 0; c < k; c++) {
                    double rc = rr[c];
                    if (rc < R_SKIP)
                        continue;
                    Nk[c] += rc;
                    const float *m = g->mu + c * d;
                    double *s1 = S1 + c * d, *s2 = S2 + c * d;
#pragma omp simd
                    for (size_t j = 0; j < d; j++) {
                        double t = (double)x[j] - (double)m[j], u = rc * t;
                        s1[j] += u;
                        s2[j] += u * t;
                    }
                }
            }
        }
    }
    /* add the slices in order into slice 0 */
    double *S1 = w->part, *S2 = S1 + kd, *Nk = S2 + kd, ll = Nk[k];
    for (size_t sl = 1; sl < S; sl++) {
        const double *p = w->part + sl * stride;
        for (size_t t = 0; t < 2 * kd + k; t++)
            S1[t] += p[t];
        ll += p[2 * kd + k];
    }
    double tiny = 1e-10 * (double)n;
    for (size_t c = 0; c < k; c++) {
        if (Nk[c] <= tiny)
            continue;
        for (size_t j = 0; j < d; j++) {
            size_t t = c * d + j;
            double dm = S1[t] / Nk[c], v = S2[t] / Nk[c] - dm * dm;
            g->mu[t] = (float)((double)g->mu[t] + dm);
            g->var[t] = (float)(v > floor_v ? v : floor_v);
        }
    }
    double tot = 0;
    for (size_t c = 0; c < k; c++)
        tot += Nk[c] > tiny ? Nk[c] : 0;
    for (size_t c = 0; c < k; c++)
        if (Nk[c] > tiny)
            g->logpi[c] = log(Nk[c] / tot);
    return ll / (double)n;
}

double vb_gmm_em_once(const float *X, size_t n, size_t d, int k, float *mu, float *var, double *pi, double floor_v)
{
    gmix g = {0};
    emwork w = {0};
    double ll = NAN;
    if (gmix_alloc(&g, k, d) && emwork_alloc(&w, n, d, k)) {
        memcpy(g.mu, mu, (size_t)k * d * sizeof *mu);
        memcpy(g.var, var, (size_t)k * d * sizeof *var);
        for (int c = 0; c < k; c++)
            g.logpi[c] = log(pi[c]);
        ll = em_step(&g, X, n, floor_v, &w);
        memcpy(mu, g.mu, (size_t)k * d * sizeof *mu);
        memcpy(var, g.var, (size_t)k * d * sizeof *var);
        for (int c = 0; c < k; c++)
            pi[c] = exp(g.logpi[c]);
    }
    gmix_free(&g);
    emwork_free(&w);
    return ll;
}

/* ---- k-means initialisation -------------------------------------------

 * Our own rather than VLFeat's: vl_kmeans (Elkan, SSE2 distances) cost
 * more than the whole EM here. Lloyd's algorithm with the distance kernel
 * above and Hamerly's bounds, scikit-learn's stopping rule
 * (squared centre shift <= 1e-4 x the mean feature variance, or no label
 * changes) and its greedy k-means++ seeding (2 + ln k candidates per
 * centre, the one that lowers the potential most). */

/* Distance of every row to centre m, lowered to cur[i] where smaller. */
static void min_dist(const float *X, size_t n, size_t d, const float *m, const double *cur, double *out)
{
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i += 4) {
        int nr = n - i < 4 ? (int)(n - i) : 4;
        const float *x[4];
        for (int r = 0; r < 4; r++)
            x[r] = X + (i + (size_t)(r < nr ? r : 0)) * d;
        double o[4];
        wsq4(x, nr, m, NULL, d, o);
        for (int r = 0; r < nr; r++)
            out[i + (size_t)r] = cur && cur[i + (size_t)r] < o[r] ? cur[i + (size_t)r] : o[r];
    }
}

static double sum_in_order(const double *v, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += v[i];
    return s;
}

/* Greedy k-means++: k seeds of the n rows into C (k x d). */
vb_status vb_clf_kmeans_pp(const float *X, size_t n, size_t d, size_t k, vb_rng *rng, float *C, vb_error *err)
{
    int trials = 2 + (int)log((double)k);
    double *D = vb_malloc(n, sizeof *D, err), *T = vb_malloc(n, (size_t)trials * sizeof *T, err);
    if (!D || !T) {
        free(D);
        free(T);
        return VB_ERR_NOMEM;
    }
    size_t first = vb_rng_below(rng, n);
    memcpy(C, X + first * d, d * sizeof *C);
    min_dist(X, n, d, C, NULL, D);
    double pot = sum_in_order(D, n);
    for (size_t c = 1; c < k; c++) {
        double best_pot = INFINITY;
        int best = 0;
        for (int t = 0; t < trials; t++) {
            size_t pick = n - 1;
            if (pot > 0) {
                double u = vb_rng_uniform(rng) * pot, acc = 0;
                for (size_t i = 0; i < n; i++)
                    if ((acc += D[i]) > u) {
                        pick = i;
                        break;
                    }
            } else
                pick = vb_rng_below(rng, n);
            double *Tt = T + (size_t)t * n;
            min_dist(X, n, d, X + pick * d, D, Tt);
            double p = sum_in_order(Tt, n);
            if (p < best_pot) {
                best_pot = p;
                best = t;
                memcpy(C + c * d, X + pick * d, d * sizeof *C);
            }
        }
        memcpy(D, T + (size_t)best * n, n * sizeof *D);
        pot = best_pot;
    }
    free(D);
    free(T);
    return VB_OK;
}

/* Per-group sums of the rows of X around each group's own shift (M, k x d):
 * cnt[c], S1 = sum (x - m_c), S2 = sum (x - m_c)^2 (k x d each; S2 may be
 * NULL) over the rows with a[i] == c (a NULL: every row in group 0). */
static vb_status group_sums(const float *X, size_t n, size_t d, const uint32_t *a, size_t k, const float *M,
                            double *cnt, double *S1, double *S2, vb_error *err)
{
    size_t kd = k * d, stride = 2 * kd + k, S = n_slices(n, stride);
    double *part = vb_malloc(S, stride * sizeof *part, err);
    if (!part)
        return VB_ERR_NOMEM;
#pragma omp parallel for schedule(dynamic)
    for (size_t sl = 0; sl < S; sl++) {
        double *s1 = part + sl * stride, *s2 = s1 + kd, *ct = s2 + kd;
        memset(s1, 0, stride * sizeof *s1);
        for (size_t i = sl * n / S; i < (sl + 1) * n / S; i++) {
            size_t c = a ? a[i] : 0;
            double *p1 = s1 + c * d, *p2 = s2 + c * d;
            const float *x = X + i * d, *m = M + c * d;
            ct[c]++;
            if (S2) {
#pragma omp simd
                for (size_t j = 0; j < d; j++) {
                    double t = (double)x[j] - (double)m[j];
                    p1[j] += t;
                    p2[j] += t * t;
                }
            } else {
#pragma omp simd
                for (size_t j = 0; j < d; j++)
                    p1[j] += (double)x[j] - (double)m[j];
            }
        }
    }
    memcpy(S1, part, kd * sizeof *S1);
    if (S2)
        memcpy(S2, part + kd, kd * sizeof *S2);
    memcpy(cnt, part + 2 * kd, k * sizeof *cnt);
    for (size_t sl = 1; sl < S; sl++) {
        const double *p = part + sl * stride;
        for (size_t t = 0; t < kd; t++)
            S1[t] += p[t];
        if (S2)
            for (size_t t = 0; t < kd; t++)
                S2[t] += p[kd + t];
        for (size_t c = 0; c < k; c++)
            cnt[c] += p[2 * kd + c];
    }
    free(part);
    return VB_OK;
}

/* The mean over features of their variance, from sums S1 and S2 (d each)
 * of n rows around any origin. */
static double mean_var_of(const double *S1, const double *S2, size_t n, size_t d)
{
    double v = 0;
    for (size_t j = 0; j < d; j++) {
        double m = S1[j] / (double)n;
        v += S2[j] / (double)n - m * m;
    }
    return v / (double)d;
}

vb_status vb_clf_mean_variance(const float *X, size_t n, size_t d, double *out, vb_error *err)
{
    double *S = vb_malloc(2 * d + 1, sizeof *S, err);
    if (!S)
        return VB_ERR_NOMEM;
    /* around the first row, for precision */
    vb_status st = group_sums(X, n, d, NULL, 1, X, S + 2 * d, S, S + d, err);
    if (st == VB_OK)
        *out = mean_var_of(S, S + d, n, d);
    free(S);
    return st;
}

vb_status vb_clf_random_rows(const float *X, size_t n, size_t d, size_t k, vb_rng *rng, float *C, vb_error *err)
{
    size_t *rows = vb_malloc(n, sizeof *rows, err);
    if (!rows)
        return VB_ERR_NOMEM;
    for (size_t i = 0; i < n; i++)
        rows[i] = i;
    vb_rng_shuffle(rng, rows, n);
    for (size_t c = 0; c < k; c++)
        memcpy(C + c * d, X + rows[c] * d, d * sizeof *C);
    free(rows);
    return VB_OK;
}

/* sum_j (x_j - m_j)^2 for one row (float runs of KB added in double). */
static double sq1(const float *x, const float *m, size_t d)
{
    double acc = 0;
    for (size_t j0 = 0; j0 < d; j0 += KB) {
        size_t j1 = d - j0 < KB ? d : j0 + KB;
        float s0 = 0;
#pragma omp simd reduction(+ : s0)
        for (size_t j = j0; j < j1; j++) {
            float t = x[j] - m[j];
            s0 += t * t;
        }
        acc += s0;
    }
    return acc;
}

/* The nearest and second nearest centres of up to 4 rows (pointers x):
 * a[r], and the distances (not squared) u[r], l[r]; D: scratch 4 k. */
static void nearest2(const float *const x[4], int nr, const float *C, size_t k, size_t d, double *D, uint32_t *a,
                     double *u, double *l)
{
    for (size_t c = 0; c < k; c++) {
        double o[4];
        wsq4(x, nr, C + c * d, NULL, d, o);
        for (int r = 0; r < nr; r++)
            D[(size_t)r * k + c] = o[r];
    }
    for (int r = 0; r < nr; r++) {
        const double *dr = D + (size_t)r * k;
        size_t best = 0;
        double second = INFINITY;
        for (size_t c = 1; c < k; c++)
            if (dr[c] < dr[best]) {
                second = dr[best];
                best = c;
            } else if (dr[c] < second)
                second = dr[c];
        a[r] = (uint32_t)best;
        u[r] = sqrt(dr[best]);
        l[r] = sqrt(second);
    }
}

/* Hamerly's bounds keep Lloyd's result while skipping most distances: u[i]
 * bounds the distance to the own centre from above, l[i] every other one
 * from below; a row is settled while u <= max(l, half the distance from its
 * centre to the nearest other). Bounds grow by how far centres moved. The
 * slack covers float rounding of the distances, so a near tie is always
 * recomputed and resolved as Lloyd does (smaller index). */
#define HAM_SLACK 1e-5
#define KM_CHUNK 256

int vb_clf_kmeans_lloyd(const float *X, size_t n, size_t d, int k_, float *C, int max_iter, double shift_tol,
                        uint32_t *a)
{
    size_t k = (size_t)k_, kd = k * d;
    int threads = omp_get_max_threads(), it = 0;
    double *sum = calloc(kd, sizeof *sum), *cnt = calloc(k, sizeof *cnt), *u = malloc(n * sizeof *u);
    double *l = malloc(n * sizeof *l), *delta = malloc(k * sizeof *delta), *half = malloc(k * sizeof *half);
    double *scratch = malloc((size_t)threads * (4 * k) * sizeof *scratch);
    size_t *pend = malloc((size_t)threads * KM_CHUNK * sizeof *pend), *moved = malloc(n * sizeof *moved);
    uint32_t *from = malloc(n * sizeof *from);
    float *Cold = malloc(kd * sizeof *Cold);
    if (!sum || !cnt || !u || !l || !delta || !half || !scratch || !pend || !moved || !from || !Cold) {
        it = -1;
        goto out;
    }
    /* the first assignment, with exact bounds */
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i += 4) {
        int nr = n - i < 4 ? (int)(n - i) : 4;
        const float *x[4];
        for (int r = 0; r < 4; r++)
            x[r] = X + (i + (size_t)(r < nr ? r : 0)) * d;
        nearest2(x, nr, C, k, d, scratch + (size_t)omp_get_thread_num() * 4 * k, a + i, u + i, l + i);
    }
    size_t n_moved = n;
    for (size_t i = 0; i < n; i++) {
        moved[i] = i;
        from[i] = UINT32_MAX; /* (no centre to leave) */
    }
    while (1) {
        /* sums of the rows per cluster, updated by the rows that moved;
         * parallel over columns, so every sum runs in row order */
#pragma omp parallel for schedule(static)
        for (size_t j0 = 0; j0 < d; j0 += 64) {
            size_t j1 = d - j0 < 64 ? d : j0 + 64;
            for (size_t t = 0; t < n_moved; t++) {
                size_t i = moved[t];
                const float *x = X + i * d;
                double *to = sum + (size_t)a[i] * d;
                for (size_t j = j0; j < j1; j++)
                    to[j] += x[j];
                if (from[i] != UINT32_MAX) {
                    double *fr = sum + (size_t)from[i] * d;
                    for (size_t j = j0; j < j1; j++)
                        fr[j] -= x[j];
                }
            }
        }
        for (size_t t = 0; t < n_moved; t++) {
            size_t i = moved[t];
            cnt[a[i]]++;
            if (from[i] != UINT32_MAX)
                cnt[from[i]]--;
        }
        if (it >= max_iter)
            break;
        it++;
        /* new centres, how far each moved, half the gap to the nearest other */
        memcpy(Cold, C, kd * sizeof *C);
        double shift = 0, dmax = 0, dmax2 = 0;
        size_t cmax = 0;
        for (size_t c = 0; c < k; c++) {
            double q = 0;
            if (cnt[c] > 0) /* an empty cluster keeps its centre */
                for (size_t j = 0; j < d; j++) {
                    C[c * d + j] = (float)(sum[c * d + j] / cnt[c]);
                    double t = (double)C[c * d + j] - Cold[c * d + j];
                    q += t * t;
                }
            shift += q;
            delta[c] = sqrt(q);
            if (delta[c] > dmax) {
                dmax2 = dmax;
                dmax = delta[c];
                cmax = c;
            } else if (delta[c] > dmax2)
                dmax2 = delta[c];
        }
        for (size_t c = 0; c < k; c++)
            half[c] = INFINITY;
        for (size_t c = 0; c < k; c++)
            for (size_t e = c + 1; e < k; e++) {
                double h = 0.5 * sqrt(sq1(C + c * d, C + e * d, d));
                half[c] = h < half[c] ? h : half[c];
                half[e] = h < half[e] ? h : half[e];
            }
        /* reassign: bounds first, distances where they do not settle a row */
#pragma omp parallel
        {
            int tid = omp_get_thread_num();
            size_t *pd = pend + (size_t)tid * KM_CHUNK;
            double *D = scratch + (size_t)tid * 4 * k;
#pragma omp for schedule(dynamic)
            for (size_t i0 = 0; i0 < n; i0 += KM_CHUNK) {
                size_t i1 = n - i0 < KM_CHUNK ? n : i0 + KM_CHUNK, np = 0;
                for (size_t i = i0; i < i1; i++) {
                    uint32_t c = a[i];
                    from[i] = c;
                    u[i] += delta[c];
                    l[i] -= c == cmax ? dmax2 : dmax;
                    double m = l[i] > half[c] ? l[i] : half[c];
                    if (u[i] * (1 + HAM_SLACK) <= m * (1 - HAM_SLACK))
                        continue;
                    u[i] = sqrt(sq1(X + i * d, C + (size_t)c * d, d));
                    if (u[i] * (1 + HAM_SLACK) <= m * (1 - HAM_SLACK))
                        continue;
                    pd[np++] = i;
                }
                for (size_t t = 0; t < np; t += 4) {
                    int nr = np - t < 4 ? (int)(np - t) : 4;
                    const float *x[4];
                    uint32_t aa[4];
                    double uu[4], ll[4];
                    for (int r = 0; r < 4; r++)
                        x[r] = X + pd[t + (size_t)(r < nr ? r : 0)] * d;
                    nearest2(x, nr, C, k, d, D, aa, uu, ll);
                    for (int r = 0; r < nr; r++) {
                        size_t i = pd[t + (size_t)r];
                        a[i] = aa[r];
                        u[i] = uu[r];
                        l[i] = ll[r];
                    }
                }
            }
        }
        n_moved = 0;
        for (size_t i = 0; i < n; i++)
            if (a[i] != from[i])
                moved[n_moved++] = i;
        if (n_moved == 0 || shift <= shift_tol)
            break;
    }
out:
    free(sum);
    free(cnt);
    free(u);
    free(l);
    free(delta);
    free(half);
    free(scratch);
    free(pend);
    free(moved);
    free(from);
    free(Cold);
    return it;
}

/* ---- the classifier ---------------------------------------------------- */

typedef struct gmm_state {
    int k_param, classify, max_iter, kmeans_init;
    double tol, floor_v;
    /* trained */
    size_t d;
    int K;           /* classes */
    int n_mix;       /* 1 (cluster) or K (classify) */
    gmix *mix;       /* n_mix */
    double *logprior; /* K (classify) */
    int32_t *map;    /* components of mix[0] -> class (cluster) */
    /* report */
    int iterations, converged;
    double loglik;
    vb_cluster_scores train;
} gmm_state;

static void gmm_clear(gmm_state *s)
{
    for (int i = 0; s->mix && i < s->n_mix; i++)
        gmix_free(&s->mix[i]);
    free(s->mix);
    free(s->logprior);
    free(s->map);
    s->mix = NULL;
    s->logprior = NULL;
    s->map = NULL;
    s->n_mix = 0;
}

static void gmm_destroy(void *state)
{
    gmm_state *s = state;
    if (!s)
        return;
    gmm_clear(s);
    free(s);
}

static vb_status gmm_create(const vb_params *p, void **state, vb_error *err)
{
    gmm_state *s = vb_calloc(1, sizeof *s, err);
    if (!s)
        return VB_ERR_NOMEM;
    s->k_param = (int)vb_param_int(p, "k");
    s->classify = vb_param_is(p, "mode", "classify");
    s->max_iter = (int)vb_param_int(p, "max_iter");
    s->tol = vb_param_float(p, "tol");
    s->kmeans_init = vb_param_is(p, "init", "kmeans");
    s->floor_v = vb_param_float(p, "cov_floor");
    *state = s;
    return VB_OK;
}

/* Initial mixture of k components for the n rows of X. */
static vb_status init_mix(const gmm_state *s, gmix *g, const float *X, size_t n, uint64_t seed, vb_error *err)
{
    size_t d = g->d, k = (size_t)g->k, kd = k * d;
    double *S1 = vb_malloc(kd, sizeof *S1, err), *S2 = vb_malloc(kd, sizeof *S2, err);
    double *cnt = vb_malloc(k, sizeof *cnt, err);
    uint32_t *a = vb_malloc(n, sizeof *a, err);
    vb_rng *rng = vb_rng_new(seed);
    vb_status st = VB_OK;
    if (!S1 || !S2 || !cnt || !a || !rng) {
        st = rng ? VB_ERR_NOMEM : vb_fail(err, VB_ERR_NOMEM, "gmm: out of memory");
        goto out;
    }
    /* the feature variances (around the first row, for precision) */
    if ((st = group_sums(X, n, d, NULL, 1, X, cnt, S1, S2, err)) != VB_OK)
        goto out;
    const double mean_var = mean_var_of(S1, S2, n, d);
    if (s->kmeans_init) {
        if ((st = vb_clf_kmeans_pp(X, n, d, k, rng, g->mu, err)) != VB_OK)
            goto out;
        if (vb_clf_kmeans_lloyd(X, n, d, (int)k, g->mu, KMEANS_MAX_ITER, KMEANS_TOL * mean_var, a) < 0) {
            st = vb_fail(err, VB_ERR_NOMEM, "gmm: out of memory");
            goto out;
        }
        if ((st = group_sums(X, n, d, a, k, g->mu, cnt, S1, S2, err)) != VB_OK)
            goto out;
        for (size_t c = 0; c < k; c++) {
            double nc = cnt[c] > 0 ? cnt[c] : 1;
            for (size_t j = 0; j < d; j++) {
                double dm = S1[c * d + j] / nc, v = S2[c * d + j] / nc - dm * dm;
                g->mu[c * d + j] = (float)((double)g->mu[c * d + j] + dm);
                g->var[c * d + j] = (float)(v > s->floor_v ? v : s->floor_v);
            }
            g->logpi[c] = log((cnt[c] > 0 ? cnt[c] : 0.5) / (double)n);
        }
    } else {
        if ((st = vb_clf_random_rows(X, n, d, k, rng, g->mu, err)) != VB_OK)
            goto out;
        for (size_t c = 0; c < k; c++) {
            for (size_t j = 0; j < d; j++) {
                double m = S1[j] / (double)n, v = S2[j] / (double)n - m * m;
                g->var[c * d + j] = (float)(v > s->floor_v ? v : s->floor_v);
            }
            g->logpi[c] = -log((double)k);
        }
    }
out:
    free(S1);
    free(S2);
    free(cnt);
    free(a);
    vb_rng_free(rng);
    return st;
}

/* Fits a mixture by EM; *iters, *conv and *ll report the run. */
static vb_status fit_mix(gmm_state *s, gmix *g, const float *X, size_t n, uint64_t seed, int *iters, int *conv,
                         double *ll, vb_error *err)
{
    vb_status st = init_mix(s, g, X, n, seed, err);
    if (st != VB_OK)
        return st;
    emwork w = {0};
    if (!emwork_alloc(&w, n, g->d, g->k)) {
        emwork_free(&w);
        return vb_fail(err, VB_ERR_NOMEM, "gmm: out of memory");
    }
    double prev = -INFINITY, cur = -INFINITY;
    *conv = 0;
    int it = 0;
    while (it < s->max_iter) {
        if (vb_interrupted()) {
            emwork_free(&w);
            return vb_fail(err, VB_ERR_INTERRUPTED, "gmm: interrupted");
        }
        cur = em_step(g, X, n, s->floor_v, &w);
        it++;
        if (!isfinite(cur)) {
            emwork_free(&w);
            return vb_fail(err, VB_ERR_NUMERIC, "gmm: the log-likelihood is not finite (raise cov_floor)");
        }
        if (fabs(cur - prev) < s->tol) {
            *conv = 1;
            break;
        }
        prev = cur;
    }
    emwork_free(&w);
    gmix_derive(g);
    *iters = it;
    *ll = cur;
    return VB_OK;
}

#define BLOCK 2048

/* Per-class scores (m x K, probabilities) and labels for a block of rows;
 * R is scratch (m x the largest k), J (m x K). */
static void predict_block(const gmm_state *s, const float *Xb, size_t m, double *R, double *J, int *labels,
                          float *scores)
{
    size_t K = (size_t)s->K;
    if (!s->classify) {
        const gmix *g = &s->mix[0];
        size_t k = (size_t)g->k;
        posteriors(g, Xb, m, R, NULL);
        for (size_t i = 0; i < m; i++) {
            const double *l = R + i * k;
            double *p = J + i * K;
            for (size_t c = 0; c < K; c++)
                p[c] = 0;
            for (size_t c = 0; c < k; c++)
                p[s->map[c]] += l[c];
        }
    } else {
        double *ll = R + m * (size_t)s->mix[0].k; /* R has room for m more */
        for (size_t c = 0; c < K; c++) {
            const gmix *g = &s->mix[c];
            posteriors(g, Xb, m, R, ll);
            for (size_t i = 0; i < m; i++)
                J[i * K + c] = ll[i] + s->logprior[c];
        }
        for (size_t i = 0; i < m; i++) {
            double *p = J + i * K, mx = -INFINITY, sum = 0;
            for (size_t c = 0; c < K; c++)
                mx = p[c] > mx ? p[c] : mx;
            for (size_t c = 0; c < K; c++)
                sum += (p[c] = exp(p[c] - mx));
            for (size_t c = 0; c < K; c++)
                p[c] /= sum;
        }
    }
    for (size_t i = 0; i < m; i++) {
        const double *p = J + i * K;
        size_t best = 0;
        for (size_t c = 1; c < K; c++)
            if (p[c] > p[best])
                best = c;
        labels[i] = (int)best;
        if (scores)
            for (size_t c = 0; c < K; c++)
                scores[i * K + c] = (float)p[c];
    }
}

static vb_status gmm_predict(const void *state, const float *X, size_t n, int *labels, float *scores, vb_error *err)
{
    const gmm_state *s = state;
    size_t K = (size_t)s->K, kmax = 1;
    for (int i = 0; i < s->n_mix; i++)
        kmax = (size_t)s->mix[i].k > kmax ? (size_t)s->mix[i].k : kmax;
    double *R = vb_malloc(BLOCK, (kmax + 1) * sizeof *R, err), *J = vb_malloc(BLOCK, K * sizeof *J, err);
    if (!R || !J) {
        free(R);
        free(J);
        return VB_ERR_NOMEM;
    }
    for (size_t r0 = 0; r0 < n; r0 += BLOCK) {
        size_t m = n - r0 < BLOCK ? n - r0 : BLOCK;
        predict_block(s, X + r0 * s->d, m, R, J, labels + r0, scores ? scores + r0 * K : NULL);
    }
    free(R);
    free(J);
    return VB_OK;
}

static vb_status gmm_check(const void *state, size_t d, vb_shape shape, int n_classes, vb_error *err)
{
    const gmm_state *s = state;
    if (!s->classify && s->k_param == 0 && n_classes < 2)
        return vb_fail(err, VB_ERR_SPEC, "gmm: k: 0 means one component per class, and the data set has no labels; "
                                         "give k, the number of components");
    return VB_OK;
}

/* Cluster mode: each row's most likely component. */
static vb_status gmm_cluster(const void *state, const float *X, size_t n, int *assign, int *k, vb_error *err)
{
    const gmm_state *s = state;
    *k = 0;
    if (s->classify)
        return VB_OK;
    const gmix *g = &s->mix[0];
    double *R = vb_malloc(BLOCK, (size_t)g->k * sizeof *R, err);
    if (!R)
        return VB_ERR_NOMEM;
    for (size_t r0 = 0; r0 < n; r0 += BLOCK) {
        size_t m = n - r0 < BLOCK ? n - r0 : BLOCK;
        posteriors(g, X + r0 * s->d, m, R, NULL);
        for (size_t i = 0; i < m; i++) {
            const double *l = R + i * (size_t)g->k;
            int best = 0;
            for (int c = 1; c < g->k; c++)
                if (l[c] > l[best])
                    best = c;
            assign[r0 + i] = best;
        }
    }
    free(R);
    *k = g->k;
    return VB_OK;
}

static vb_status gmm_train(void *state, const vb_traindata *td, vb_error *err)
{
    gmm_state *s = state;
    gmm_clear(s);
    size_t n = td->n, d = td->d;
    int K = td->n_classes;
    s->d = d;
    s->K = K;
    s->iterations = 0;
    s->converged = 1;
    vb_status st = VB_OK;
    if (!s->classify) {
        int k = s->k_param ? s->k_param : K;
        if ((size_t)k > n)
            return vb_fail(err, VB_ERR_PARAM, "gmm: k = %d components is more than the training set (%zu rows)", k,
                           n);
        s->n_mix = 1;
        s->mix = vb_calloc(1, sizeof *s->mix, err);
        s->map = vb_malloc((size_t)k, sizeof *s->map, err);
        if (!s->mix || !s->map || !gmix_alloc(&s->mix[0], k, d)) {
            gmm_clear(s);
            return vb_fail(err, VB_ERR_NOMEM, "gmm: out of memory");
        }
        st = fit_mix(s, &s->mix[0], td->X, n, vb_seed_derive(td->seed, "gmm", 0), &s->iterations, &s->converged,
                     &s->loglik, err);
        /* components -> majority labels, by each row's most likely component */
        int *a = st == VB_OK ? vb_malloc(n, sizeof *a, err) : NULL;
        int got = 0;
        if (st == VB_OK)
            st = a ? gmm_cluster(s, td->X, n, a, &got, err) : VB_ERR_NOMEM;
        if (st == VB_OK)
            st = vb_clf_majority_map(a, td->y, n, k, K, s->map, err);
        if (st == VB_OK)
            st = vb_cluster_compare(td->y, a, n, K, k, &s->train, err);
        free(a);
    } else {
        int k = s->k_param ? s->k_param : 1;
        size_t *cnt = vb_calloc((size_t)K, sizeof *cnt, err);
        s->n_mix = K;
        s->mix = vb_calloc((size_t)K, sizeof *s->mix, err);
        s->logprior = vb_malloc((size_t)K, sizeof *s->logprior, err);
        float *Xc = vb_malloc(n, d * sizeof *Xc, err);
        if (!cnt || !s->mix || !s->logprior || !Xc) {
            free(cnt);
            free(Xc);
            gmm_clear(s);
            return VB_ERR_NOMEM;
        }
        for (size_t i = 0; i < n; i++)
            cnt[td->y[i]]++;
        s->loglik = 0;
        for (int c = 0; c < K && st == VB_OK; c++) {
            if (cnt[c] < (size_t)k) {
                st = vb_fail(err, VB_ERR_DATA,
                             "gmm: class %d has %zu training rows, fewer than k = %d components per class", c, cnt[c],
                             k);
                break;
            }
            size_t m = 0;
            for (size_t i = 0; i < n; i++)
                if (td->y[i] == c)
                    memcpy(Xc + (m++) * d, td->X + i * d, d * sizeof *Xc);
            if (!gmix_alloc(&s->mix[c], k, d)) {
                st = vb_fail(err, VB_ERR_NOMEM, "gmm: out of memory");
                break;
            }
            int it, conv;
            double ll;
            st = fit_mix(s, &s->mix[c], Xc, m, vb_seed_derive(td->seed, "gmm-class", (uint64_t)c), &it, &conv, &ll,
                         err);
            s->iterations = it > s->iterations ? it : s->iterations;
            s->converged &= conv;
            s->loglik += ll * (double)m / (double)n;
            s->logprior[c] = log((double)m / (double)n);
        }
        free(cnt);
        free(Xc);
    }
    if (st != VB_OK)
        gmm_clear(s);
    return st;
}

/* ---- save / load ------------------------------------------------------- */

#define GMM_TAG VB_CLF_TAG('G', 'M', 'M', 'S')

static vb_status gmm_save(const void *state, vb_writer *w, vb_error *err)
{
    const gmm_state *s = state;
    vb_clf_write_tag(w, GMM_TAG, 1);
    vb_write_u8(w, (uint8_t)s->classify);
    vb_write_u64(w, s->d);
    vb_write_u32(w, (uint32_t)s->K);
    vb_write_u32(w, (uint32_t)s->n_mix);
    for (int i = 0; i < s->n_mix; i++) {
        const gmix *g = &s->mix[i];
        vb_write_u32(w, (uint32_t)g->k);
        vb_write_f32s(w, g->mu, (size_t)g->k * s->d);
        vb_write_f32s(w, g->var, (size_t)g->k * s->d);
        vb_write_f64s(w, g->logpi, (size_t)g->k);
    }
    if (s->classify)
        vb_write_f64s(w, s->logprior, (size_t)s->K);
    else
        vb_write_i32s(w, s->map, (size_t)s->mix[0].k);
    vb_write_u32(w, (uint32_t)s->iterations);
    vb_write_u8(w, (uint8_t)s->converged);
    vb_write_f64(w, s->loglik);
    vb_write_f64(w, s->train.purity);
    vb_write_f64(w, s->train.nmi);
    vb_write_f64(w, s->train.ari);
    return VB_OK;
}

static vb_status gmm_load(void *state, vb_reader *r, vb_error *err)
{
    gmm_state *s = state;
    gmm_clear(s);
    uint8_t classify, conv;
    uint64_t d;
    uint32_t K, nm, it;
    vb_status st;
    if ((st = vb_clf_read_tag(r, GMM_TAG, 1, "gmm", err)) || (st = vb_read_u8(r, &classify, err)) ||
        (st = vb_read_u64(r, &d, err)) || (st = vb_read_u32_range(r, &K, 1, 1u << 20, "classes", err)) ||
        (st = vb_read_u32_range(r, &nm, 1, K, "mixtures", err)))
        return st;
    if ((classify != 0) != (s->classify != 0) || nm != (classify ? K : 1))
        return vb_fail(err, VB_ERR_FORMAT, "%s: gmm state of another mode than the parameters say", r->what);
    if (d == 0 || (st = vb_clf_check_count(r, d, 8, "features", err)))
        return st ? st : vb_fail(err, VB_ERR_FORMAT, "%s: corrupt gmm sizes", r->what);
    s->d = (size_t)d;
    s->K = (int)K;
    s->mix = vb_calloc(nm, sizeof *s->mix, err);
    if (!s->mix)
        return VB_ERR_NOMEM;
    s->n_mix = (int)nm;
    for (uint32_t i = 0; i < nm; i++) {
        uint32_t k;
        size_t kd;
        if ((st = vb_read_u32_range(r, &k, 1, 100000, "components", err)))
            return st;
        if (!vb_mul_ok(k, s->d, &kd) || (st = vb_clf_check_count(r, kd, 8, "component values", err)))
            return st ? st : vb_fail(err, VB_ERR_FORMAT, "%s: corrupt gmm sizes", r->what);
        gmix *g = &s->mix[i];
        if (!gmix_alloc(g, (int)k, s->d))
            return vb_fail(err, VB_ERR_NOMEM, "gmm: out of memory");
        if ((st = vb_read_f32s_into(r, g->mu, kd, err)) || (st = vb_read_f32s_into(r, g->var, kd, err)) ||
            (st = vb_read_f64s_into(r, g->logpi, k, err)))
            return st;
        for (size_t t = 0; t < kd; t++)
            if (!(g->var[t] > 0))
                return vb_fail(err, VB_ERR_FORMAT, "%s: corrupt gmm variance", r->what);
        gmix_derive(g);
    }
    if (classify) {
        s->logprior = vb_malloc(K, sizeof *s->logprior, err);
        if (!s->logprior)
            return VB_ERR_NOMEM;
        if ((st = vb_read_f64s_into(r, s->logprior, K, err)))
            return st;
    } else {
        size_t k = (size_t)s->mix[0].k;
        s->map = vb_malloc(k, sizeof *s->map, err);
        if (!s->map)
            return VB_ERR_NOMEM;
        if ((st = vb_read_i32s_into(r, s->map, k, err)))
            return st;
        for (size_t c = 0; c < k; c++)
            if (s->map[c] < 0 || s->map[c] >= (int)K)
                return vb_fail(err, VB_ERR_FORMAT, "%s: corrupt gmm component labels", r->what);
    }
    if ((st = vb_read_u32(r, &it, err)) || (st = vb_read_u8(r, &conv, err)) || (st = vb_read_f64(r, &s->loglik, err)) ||
        (st = vb_read_f64(r, &s->train.purity, err)) || (st = vb_read_f64(r, &s->train.nmi, err)) ||
        (st = vb_read_f64(r, &s->train.ari, err)))
        return st;
    s->iterations = (int)it;
    s->converged = conv != 0;
    return VB_OK;
}

static void gmm_info(const void *state, vb_buf *b)
{
    const gmm_state *s = state;
    vb_buf_printf(b, "\"mode\": \"%s\", \"components\": %d, \"iterations\": %d, \"converged\": %s, \"log_likelihood\": ",
                  s->classify ? "classify" : "cluster", s->mix ? s->mix[0].k : 0, s->iterations,
                  s->converged ? "true" : "false");
    vb_buf_double(b, s->loglik);
    if (!s->classify && s->K > 1)
        vb_clf_cluster_json(b, &s->train);
}

static void gmm_dims(const void *state, size_t *d, int *n_classes)
{
    const gmm_state *s = state;
    *d = s->d;
    *n_classes = s->K;
}

const vb_classifier_vt vb_clf_gmm = {
    .info = {.name = "gmm",
             .help = "diagonal Gaussian mixtures: clustering (components vote labels) or one mixture per class",
             .doc = "Scores are probabilities: class posteriors (classify) or component posteriors summed per "
                    "label (cluster). EM is vectorised direct code (checked against VLFeat's vl_gmm), "
                    "initialised by k-means as scikit-learn does. info reports iterations, convergence, the mean log-likelihood per "
                    "sample and, in cluster mode, purity/NMI/ARI of the training-set clustering.",
             .params = gmm_params,
             .n_params = sizeof gmm_params / sizeof gmm_params[0]},
    .flags = VB_CLF_PROBA,
    .create = gmm_create,
    .train = gmm_train,
    .predict = gmm_predict,
    .save = gmm_save,
    .load = gmm_load,
    .info_json = gmm_info,
    .destroy = gmm_destroy,
    .dims = gmm_dims,
    .check = gmm_check,
    .cluster = gmm_cluster,
    .cluster_if = {"mode", "cluster"},
};
