/* Principal components of a float matrix, by three solvers:
 *
 *   full        the covariance by one BLAS ssyrk over the centred rows, all
 *               its eigenpairs by LAPACK's dsyevr (MRRR) from OpenBLAS. GSL's
 *               unblocked QR (gsl_eigen_symmv, the reference in
 *               features/pca_gsl.c) takes tens of seconds for a
 *               1,500-dimensional HOG covariance where dsyevr takes under a
 *               second; still, d x d is what makes wide features slow.
 *   gram        for n < d: the n x n Gram matrix of the centred rows, its
 *               leading eigenpairs (dsyevr), components Xc' u normalised.
 *   randomized  core/pca_krylov.c: a few products of the data with blocks
 *               of k + 10 vectors.
 *
 * Shared by the features (the `pca` post-processing step, the descriptor
 * PCA of `sift`) and the classifiers (knn's pruning bounds). */
#include "linalg.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* LAPACK as exported by OpenBLAS (Debian ships no lapacke.h with it). The
 * Fortran ABI passes character lengths as trailing hidden size_t arguments;
 * they are passed explicitly, as gfortran-built LAPACK may rely on them. */
extern void dsyevr_(const char *jobz, const char *range, const char *uplo, const int *n, double *a, const int *lda,
                    const double *vl, const double *vu, const int *il, const int *iu, const double *abstol, int *m,
                    double *w, double *z, const int *ldz, int *isuppz, double *work, const int *lwork, int *iwork,
                    const int *liwork, int *info, size_t len_jobz, size_t len_range, size_t len_uplo);

const char *const vb_pca_solver_names[4] = {"auto", "full", "gram", "randomized"};

/* Bytes a solver's square matrices take: full d x d (float product, double
 * copy, double eigenvectors), gram n x n likewise; plus the centred rows. */
static double square_bytes(size_t m, size_t n, size_t d) { return 16.0 * (double)m * m + 4.0 * (double)n * d; }

static double half_memory(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGE_SIZE);
    return pages > 0 && size > 0 ? 0.5 * (double)pages * (double)size : 4e9;
}

int vb_pca_full_fits(size_t n, size_t d, double *need_bytes)
{
    double need = square_bytes(d, n, d);
    if (need_bytes)
        *need_bytes = need;
    return need <= half_memory();
}

static vb_status too_big(const char *solver, size_t m, const char *what, double need, vb_error *err)
{
    return vb_fail(err, VB_ERR_PARAM,
                   "pca: the %s solver would need a %zu x %zu %s (about %.1f GB), more than half of this machine's "
                   "memory; use solver: randomized with components: N (or auto), or fewer features",
                   solver, m, m, what, need / 1e9);
}

/* Mean (d), and when asked the centred rows Xc = X - mean as floats and the
 * total variance sum |Xc|^2 / (n - 1) (without Xc, in the same pass as
 * the mean: sum x^2 - n mean^2 per column, in doubles, which the caller's
 * bound on the mean keeps accurate). Columns are shared out in blocks,
 * each summed over the rows in order: the same bits for any thread count
 * (and the same as one serial pass). */
static vb_status centre(const float *X, size_t n, size_t d, double *mean, float *Xc, double *total, vb_error *err)
{
    enum { CB = 256 }; /* 1 KB of each row: long runs for the prefetcher */
    size_t nb = (d + CB - 1) / CB;
    double *sq = NULL;
    if (total && !(sq = vb_calloc(d, sizeof *sq, err)))
        return VB_ERR_NOMEM;
#pragma omp parallel for schedule(static)
    for (size_t b = 0; b < nb; b++) {
        size_t j0 = b * CB, w = j0 + CB < d ? CB : d - j0;
        double acc[CB] = {0}, q[CB] = {0}, mu[CB];
        for (size_t i = 0; i < n; i++) {
            const float *restrict x = X + i * d + j0;
            if (Xc || !sq) {
#pragma omp simd
                for (size_t j = 0; j < w; j++)
                    acc[j] += x[j];
            } else {
#pragma omp simd
                for (size_t j = 0; j < w; j++) {
                    acc[j] += x[j];
                    q[j] += (double)x[j] * x[j];
                }
            }
        }
        for (size_t j = 0; j < w; j++) {
            mean[j0 + j] = mu[j] = acc[j] / (double)n;
            if (!Xc)
                q[j] -= acc[j] * mu[j];
        }
        for (size_t i = 0; Xc && i < n; i++) {
            const float *restrict x = X + i * d + j0;
            float *restrict c = Xc + i * d + j0;
#pragma omp simd
            for (size_t j = 0; j < w; j++) {
                float v = (float)((double)x[j] - mu[j]);
                c[j] = v;
                q[j] += (double)v * v;
            }
        }
        if (sq)
            memcpy(sq + j0, q, w * sizeof *q);
    }
    /* a NaN or an infinity makes its column's sum so (finite floats cannot
     * overflow a double sum) */
    int bad = 0;
    for (size_t j = 0; j < d; j++)
        bad |= !isfinite(mean[j]);
    if (bad) {
        free(sq);
        return vb_fail(err, VB_ERR_NUMERIC, "pca: the training features hold NaN or infinite values");
    }
    if (total) {
        double t = 0;
        for (size_t j = 0; j < d; j++)
            t += sq[j];
        *total = t / (double)(n - 1);
        free(sq);
    }
    return VB_OK;
}

/* Mean and covariance (d x d doubles, full) of n rows. */
vb_status vb_pca_covariance(const float *X, size_t n, size_t d, double **mean_out, double **cov_out, vb_error *err)
{
    *mean_out = *cov_out = NULL;
    if (n < 2)
        return vb_fail(err, VB_ERR_DATA, "pca needs at least 2 training rows, not %zu", n);
    if (d == 0)
        return vb_fail(err, VB_ERR_DATA, "pca: the features are empty");
    double need;
    if (!vb_pca_full_fits(n, d, &need))
        return too_big("full", d, "covariance", need, err);
    size_t dd;
    if (!vb_mul_ok(d, d, &dd))
        return vb_fail(err, VB_ERR_NOMEM, "pca: size overflow");
    double *mean = vb_calloc(d, sizeof *mean, err);
    float *Xc = vb_malloc(n, d * sizeof *Xc, err);
    float *C = vb_malloc(dd, sizeof *C, err);
    double *cov = vb_malloc(dd, sizeof *cov, err);
    vb_status st = mean && Xc && C && cov ? centre(X, n, d, mean, Xc, NULL, err) : VB_ERR_NOMEM;
    if (st != VB_OK) {
        free(mean);
        free(Xc);
        free(C);
        free(cov);
        return st;
    }
    /* Xc' Xc / (n - 1); the upper triangle is filled, then mirrored. */
    vb_ssyrk_upper_t(d, n, (float)(1.0 / (double)(n - 1)), Xc, d, C, d);
    for (size_t a = 0; a < d; a++)
        for (size_t b = a; b < d; b++)
            cov[a * d + b] = cov[b * d + a] = C[a * d + b];
    free(Xc);
    free(C);
    *mean_out = mean;
    *cov_out = cov;
    return VB_OK;
}

void vb_pca_sign(double *vec, size_t k, size_t d)
{
    for (size_t c = 0; c < k; c++) {
        double *v = vec + c * d, best = 0;
        size_t at = 0;
        for (size_t j = 0; j < d; j++)
            if (fabs(v[j]) > best * (1 + 1e-12)) {
                best = fabs(v[j]);
                at = j;
            }
        if (v[at] < 0)
            for (size_t j = 0; j < d; j++)
                v[j] = -v[j];
    }
}

/* k pairs (rows of d values) in increasing order -> decreasing. */
static void reverse_pairs(double *val, double *vec, size_t k, size_t d)
{
    for (size_t a = 0, b = k - 1; k && a < b; a++, b--) {
        double t = val[a];
        val[a] = val[b];
        val[b] = t;
        for (size_t j = 0; vec && j < d; j++) {
            t = vec[a * d + j];
            vec[a * d + j] = vec[b * d + j];
            vec[b * d + j] = t;
        }
    }
}

static void clamp_values(double *val, size_t k)
{
    for (size_t c = 0; c < k; c++)
        if (!(val[c] > 0))
            val[c] = 0;
}

/* Decreasing order, clamped values, sign convention (see linalg.h).
 * vec holds eigenvectors as rows, in increasing order of value on input. */
void vb_pca_finish(double *val, double *vec, size_t d)
{
    reverse_pairs(val, vec, d, d);
    clamp_values(val, d);
    vb_pca_sign(vec, d, d);
}

vb_status vb_sym_eig_top(double *A, size_t m, size_t want, double *w, double *z, vb_error *err)
{
    if (m > 2147483647u)
        return vb_fail(err, VB_ERR_PARAM, "pca: a %zu x %zu eigenproblem is beyond LAPACK's int sizes", m, m);
    int N = (int)m, M = 0, info = 0, lwork = -1, liwork = -1, iwkopt = 0, il = (int)(m - want) + 1, iu = N;
    double wkopt = 0, vl = 0, vu = 0, abstol = 0;
    /* a subset costs dsyevr a bisection: worth it only for a few of many */
    int all = want == m || m <= 512;
    const char *jobz = z ? "V" : "N", *range = all ? "A" : "I";
    if (all)
        il = 1;
    double *wall = vb_malloc(m, sizeof *wall, err);
    double *zall = z && all && want < m ? vb_malloc(m, m * sizeof *zall, err) : NULL;
    double *zout = zall ? zall : z;
    int *isuppz = vb_malloc(2 * m, sizeof *isuppz, err);
    double *work = NULL;
    int *iwork = NULL;
    vb_status st = VB_OK;
    int saved = vb_blas_serial_enter(); /* LAPACK's BLAS calls: the same bits for any thread count */
    if (!wall || !isuppz || (z && all && want < m && !zall)) {
        st = VB_ERR_NOMEM;
        goto out;
    }
    /* Row-major symmetric = column-major symmetric; z comes back column-major
     * (column k = eigenvector k), which read row-major is one vector per row. */
    dsyevr_(jobz, range, "U", &N, A, &N, &vl, &vu, &il, &iu, &abstol, &M, wall, zout, &N, isuppz, &wkopt, &lwork,
            &iwkopt, &liwork, &info, 1, 1, 1);
    if (info != 0) {
        st = vb_fail(err, VB_ERR_NUMERIC, "pca: LAPACK dsyevr workspace query failed (info %d)", info);
        goto out;
    }
    lwork = (int)wkopt + 1;
    liwork = iwkopt + 1;
    work = vb_malloc((size_t)lwork, sizeof *work, err);
    iwork = vb_malloc((size_t)liwork, sizeof *iwork, err);
    if (!work || !iwork) {
        st = VB_ERR_NOMEM;
        goto out;
    }
    dsyevr_(jobz, range, "U", &N, A, &N, &vl, &vu, &il, &iu, &abstol, &M, wall, zout, &N, isuppz, work, &lwork,
            iwork, &liwork, &info, 1, 1, 1);
    if (info != 0 || (size_t)M != (all ? m : want)) {
        st = vb_fail(err, VB_ERR_NUMERIC, "pca: the eigendecomposition failed (LAPACK dsyevr info %d)", info);
        goto out;
    }
    /* the last `want` (the largest, increasing) */
    memcpy(w, wall + (M - want), want * sizeof *w);
    if (zall)
        memcpy(z, zall + (m - want) * m, want * m * sizeof *z);
    reverse_pairs(w, z, want, m);
out:
    vb_blas_serial_leave(saved);
    free(wall);
    free(zall);
    free(isuppz);
    free(work);
    free(iwork);
    return st;
}

vb_status vb_pca_eig_prepare(const float *X, size_t n, size_t d, double **mean, double **cov, double **w,
                             double **z, vb_error *err)
{
    *mean = *cov = *w = *z = NULL;
    vb_status st = vb_pca_covariance(X, n, d, mean, cov, err);
    if (st != VB_OK)
        return st;
    *w = vb_malloc(d, sizeof **w, err);
    *z = vb_malloc(d, d * sizeof **z, err);
    if (*w && *z)
        return VB_OK;
    free(*mean), free(*cov), free(*w), free(*z);
    *mean = *cov = *w = *z = NULL;
    return VB_ERR_NOMEM;
}

vb_status vb_pca_eig(const float *X, size_t n, size_t d, double **mean, double **values, double **vectors,
                      vb_error *err)
{
    double *cov, *m, *w, *z;
    *mean = *values = *vectors = NULL;
    vb_status st = vb_pca_eig_prepare(X, n, d, &m, &cov, &w, &z, err);
    if (st == VB_OK && (st = vb_sym_eig_top(cov, d, d, w, z, err)) == VB_OK) {
        clamp_values(w, d);
        vb_pca_sign(z, d, d);
        *mean = m;
        *values = w;
        *vectors = z;
        m = w = z = NULL;
    }
    free(cov); /* all NULL when vb_pca_eig_prepare failed */
    free(m);
    free(w);
    free(z);
    return st;
}

/* v minus its projections on the first r rows of V (c: r doubles of
 * scratch), twice (classical Gram-Schmidt twice is as good as modified);
 * its norm after. */
static double project_out(double *v, const double *V, size_t r, size_t d, double *c)
{
    for (int pass = 0; pass < 2 && r; pass++) {
        vb_dgemm(0, 1, r, 1, d, 1.0, V, d, v, d, 0.0, c, 1);
        vb_dgemm(0, 0, 1, d, r, -1.0, c, r, V, d, 1.0, v, d);
    }
    double q = 0;
    vb_dgemm(0, 1, 1, 1, d, 1.0, v, d, v, d, 0.0, &q, 1);
    return sqrt(q);
}

vb_status vb_pca_orthonormal_rows(double *V, size_t k, size_t d, size_t from, vb_error *err)
{
    double *c = vb_malloc(k ? k : 1, sizeof *c, err);
    if (!c)
        return VB_ERR_NOMEM;
    for (size_t r = 0; r < k; r++) {
        double *v = V + r * d, before = project_out(v, V, 0, d, c), after = before;
        if (r >= from)
            after = project_out(v, V, r, d, c);
        if (!(after > 1e-6 * before) || before == 0) {
            /* nothing of its own: the first coordinate vector that has */
            for (size_t e = 0; e < d; e++) {
                memset(v, 0, d * sizeof *v);
                v[e] = 1;
                if ((after = project_out(v, V, r, d, c)) > 0.5)
                    break;
            }
        }
        for (size_t j = 0; j < d; j++)
            v[j] /= after;
    }
    free(c);
    return VB_OK;
}

vb_pca_solver vb_pca_choose(size_t n, size_t d, size_t k)
{
    double m = (double)(n < d ? n : d);
    vb_pca_solver exact = n < d ? VB_PCA_GRAM : VB_PCA_FULL;
    if (d <= 500)
        return VB_PCA_FULL;
    if (k == 0 || (double)k >= 0.8 * m)
        return exact;
    if ((double)k <= 0.1 * m || (exact == VB_PCA_FULL && d > VB_PCA_MAX_DIM))
        return VB_PCA_RANDOMIZED;
    return exact;
}

/* The fewest leading values whose sum reaches `variance` of total (all m
 * of them at worst; 1 without variance). */
static size_t by_variance(const double *val, size_t m, double total, double variance)
{
    if (!(total > 0))
        return 1;
    double acc = 0;
    for (size_t j = 0; j < m; j++) {
        acc += val[j];
        if (acc >= variance * total * (1 - 1e-12))
            return j + 1;
    }
    return m;
}

/* Rows from which vb_pca_orthonormal_rows must orthogonalise: the first
 * whose value is below 1e-5 of the largest. Components made as Xc' u from
 * float products are orthogonal to about 1e-7 sqrt(l0 / l) only. */
static size_t first_small(const double *val, size_t k)
{
    for (size_t c = 0; c < k; c++)
        if (!(val[c] >= 1e-5 * val[0]) || val[0] <= 0)
            return c;
    return k;
}

static vb_status solve_full(const float *X, size_t n, size_t d, size_t k, double variance, vb_pca *out,
                            vb_error *err)
{
    double *val = NULL, *vec = NULL;
    vb_status st = vb_pca_eig(X, n, d, &out->mean, &val, &vec, err);
    if (st != VB_OK)
        return st;
    double total = 0;
    for (size_t j = 0; j < d; j++)
        total += val[j];
    out->total = total;
    out->k = k ? k : by_variance(val, d, total, variance);
    /* the leading rows, in place */
    double *v = realloc(vec, out->k * d * sizeof *vec), *w = realloc(val, out->k * sizeof *val);
    out->vectors = v ? v : vec;
    out->values = w ? w : val;
    return VB_OK;
}

static vb_status solve_gram(const float *X, size_t n, size_t d, size_t k, double variance, vb_pca *out,
                            vb_error *err)
{
    double need = square_bytes(n, n, d);
    if (need > half_memory())
        return too_big("gram", n, "Gram matrix", need, err);
    size_t want = k ? k : n;
    float *Xc = vb_malloc(n, d * sizeof *Xc, err), *Gf = vb_malloc(n, n * sizeof *Gf, err), *U = NULL,
          *Vf = NULL;
    double *G = vb_malloc(n, n * sizeof *G, err), *w = vb_malloc(want, sizeof *w, err);
    double *z = vb_malloc(want, n * sizeof *z, err);
    out->mean = vb_malloc(d, sizeof *out->mean, err);
    vb_status st = Xc && Gf && G && w && z && out->mean ? centre(X, n, d, out->mean, Xc, NULL, err) : VB_ERR_NOMEM;
    if (st != VB_OK)
        goto out;
    vb_ssyrk_upper_n(n, d, (float)(1.0 / (double)(n - 1)), Xc, d, Gf, n);
    double total = 0;
    for (size_t a = 0; a < n; a++) {
        total += Gf[a * n + a];
        for (size_t b = a; b < n; b++)
            G[a * n + b] = G[b * n + a] = Gf[a * n + b];
    }
    free(Gf);
    Gf = NULL;
    if ((st = vb_sym_eig_top(G, n, want, w, z, err)) != VB_OK)
        goto out;
    clamp_values(w, want);
    out->total = total;
    k = k ? k : by_variance(w, n, total, variance);
    out->k = k;
    /* components: the rows of U Xc (k x d), normalised */
    U = vb_malloc(k, n * sizeof *U, err);
    Vf = vb_malloc(k, d * sizeof *Vf, err);
    out->vectors = vb_malloc(k, d * sizeof *out->vectors, err);
    out->values = vb_malloc(k, sizeof *out->values, err);
    if (!U || !Vf || !out->vectors || !out->values) {
        st = VB_ERR_NOMEM;
        goto out;
    }
    for (size_t i = 0; i < k * n; i++)
        U[i] = (float)z[i];
    vb_sgemm(0, 0, k, d, n, 1.0f, U, n, Xc, d, 0.0f, Vf, d);
    for (size_t i = 0; i < k * d; i++)
        out->vectors[i] = Vf[i];
    memcpy(out->values, w, k * sizeof *w);
    if ((st = vb_pca_orthonormal_rows(out->vectors, k, d, first_small(w, k), err)) == VB_OK)
        vb_pca_sign(out->vectors, k, d);
out:
    free(Xc);
    free(Gf);
    free(G);
    free(w);
    free(z);
    free(U);
    free(Vf);
    return st;
}

/* The randomized solver multiplies the rows as they are, the mean taken
 * off each product (a rank-one correction), unless the mean is large
 * beside the spread (|mean| above 10 times the centred rows' rms norm):
 * then a float product would round away too much of the centred part, and
 * it works on a centred copy. The copy costs a pass and n x d floats. */
static vb_status solve_randomized(const float *X, size_t n, size_t d, size_t k, vb_pca *out, vb_error *err)
{
    float *Xc = NULL;
    out->mean = vb_malloc(d, sizeof *out->mean, err);
    out->values = vb_malloc(k, sizeof *out->values, err);
    out->vectors = vb_malloc(k, d * sizeof *out->vectors, err);
    out->k = k;
    vb_status st = out->mean && out->values && out->vectors ? centre(X, n, d, out->mean, NULL, &out->total, err)
                                                            : VB_ERR_NOMEM;
    if (st != VB_OK)
        return st;
    double mu2 = 0, rms2 = out->total * (double)(n - 1) / (double)n;
    for (size_t j = 0; j < d; j++)
        mu2 += out->mean[j] * out->mean[j];
    if (!(mu2 <= 100.0 * rms2)) {
        if (!(Xc = vb_malloc(n, d * sizeof *Xc, err)))
            return VB_ERR_NOMEM;
        st = centre(X, n, d, out->mean, Xc, &out->total, err);
    }
    if (st == VB_OK)
        st = vb_pca_krylov(Xc ? Xc : X, Xc ? NULL : out->mean, n, d, k, out->total, out->values, out->vectors,
                           &out->passes, err);
    if (st == VB_OK)
        vb_pca_sign(out->vectors, k, d);
    free(Xc);
    return st;
}

void vb_pca_free(vb_pca *p)
{
    if (!p)
        return;
    free(p->mean);
    free(p->values);
    free(p->vectors);
    *p = (vb_pca){0};
}

vb_status vb_pca_top(const float *X, size_t n, size_t d, size_t k, double variance, vb_pca_solver solver,
                     vb_pca *out, vb_error *err)
{
    *out = (vb_pca){.d = d};
    if (n < 2)
        return vb_fail(err, VB_ERR_DATA, "pca needs at least 2 training rows, not %zu", n);
    if (d == 0)
        return vb_fail(err, VB_ERR_DATA, "pca: the features are empty");
    if (k > d)
        return vb_fail(err, VB_ERR_DATA, "pca: %zu components asked of %zu features", k, d);
    if (k > n - 1)
        return vb_fail(err, VB_ERR_DATA, "pca: %zu components asked, but %zu training rows span at most %zu dimensions",
                       k, n, n - 1);
    vb_pca_solver s = solver == VB_PCA_AUTO ? vb_pca_choose(n, d, k) : solver;
    if (s == VB_PCA_RANDOMIZED && k == 0)
        return vb_fail(err, VB_ERR_PARAM,
                       "pca: the randomized solver finds a given number of components; give components: N, or use "
                       "solver gram, full or auto to keep a fraction of the variance");
    double t0 = vb_now();
    vb_status st = s == VB_PCA_FULL   ? solve_full(X, n, d, k, variance, out, err)
                   : s == VB_PCA_GRAM ? solve_gram(X, n, d, k, variance, out, err)
                                      : solve_randomized(X, n, d, k, out, err);
    if (st != VB_OK) {
        vb_pca_free(out);
        return st;
    }
    out->d = d;
    out->solver = s;
    if (s == VB_PCA_RANDOMIZED)
        vb_log(VB_LOG_DEBUG, "pca: solver randomized%s on %zu x %zu, %zu components: %d products with the data, %.3f s",
               solver == VB_PCA_AUTO ? " (auto)" : "", n, d, out->k, out->passes, vb_now() - t0);
    else
        vb_log(VB_LOG_DEBUG, "pca: solver %s%s on %zu x %zu, %zu components, %.3f s", vb_pca_solver_names[s],
               solver == VB_PCA_AUTO ? " (auto)" : "", n, d, out->k, vb_now() - t0);
    return VB_OK;
}
