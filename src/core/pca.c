/* Principal components of a float matrix: the covariance by one BLAS
 * ssyrk over the centred rows, the eigendecomposition by LAPACK's dsyevr
 * (MRRR) from OpenBLAS. GSL's unblocked QR (gsl_eigen_symmv, the reference
 * in features/pca_gsl.c) takes tens of seconds for a 1,500-dimensional HOG
 * covariance where dsyevr takes under a second.
 *
 * Shared by the features (the `pca` post-processing step, the descriptor
 * PCA of `sift`) and the classifiers (knn's pruning bounds). */
#include "linalg.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>

/* LAPACK as exported by OpenBLAS (Debian ships no lapacke.h with it). The
 * Fortran ABI passes character lengths as trailing hidden size_t arguments;
 * they are passed explicitly, as gfortran-built LAPACK may rely on them. */
extern void dsyevr_(const char *jobz, const char *range, const char *uplo, const int *n, double *a, const int *lda,
                    const double *vl, const double *vu, const int *il, const int *iu, const double *abstol, int *m,
                    double *w, double *z, const int *ldz, int *isuppz, double *work, const int *lwork, int *iwork,
                    const int *liwork, int *info, size_t len_jobz, size_t len_range, size_t len_uplo);

/* Mean and covariance (d x d doubles, full) of n rows. */
vb_status vb_pca_covariance(const float *X, size_t n, size_t d, double **mean_out, double **cov_out, vb_error *err)
{
    *mean_out = *cov_out = NULL;
    if (n < 2)
        return vb_fail(err, VB_ERR_DATA, "pca needs at least 2 training rows, not %zu", n);
    if (d == 0)
        return vb_fail(err, VB_ERR_DATA, "pca: the features are empty");
    if (d > VB_PCA_MAX_DIM)
        return vb_fail(err, VB_ERR_PARAM,
                       "pca on %zu features would need a %zu x %zu covariance; reduce the features below %d "
                       "(e.g. a larger cell or fewer words) first",
                       d, d, d, VB_PCA_MAX_DIM);
    size_t dd;
    if (!vb_mul_ok(d, d, &dd))
        return vb_fail(err, VB_ERR_NOMEM, "pca: size overflow");
    double *mean = vb_calloc(d, sizeof *mean, err);
    float *Xc = vb_malloc(n, d * sizeof *Xc, err);
    float *C = vb_malloc(dd, sizeof *C, err);
    double *cov = vb_malloc(dd, sizeof *cov, err);
    if (!mean || !Xc || !C || !cov) {
        free(mean);
        free(Xc);
        free(C);
        free(cov);
        return VB_ERR_NOMEM;
    }
    int bad = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++) {
            float v = X[i * d + j];
            if (!isfinite(v))
                bad = 1;
            mean[j] += v;
        }
    if (bad) {
        free(mean);
        free(Xc);
        free(C);
        free(cov);
        return vb_fail(err, VB_ERR_NUMERIC, "pca: the training features hold NaN or infinite values");
    }
    for (size_t j = 0; j < d; j++)
        mean[j] /= (double)n;
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++)
            Xc[i * d + j] = (float)((double)X[i * d + j] - mean[j]);
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

/* Decreasing order, clamped values, sign convention (see internal.h).
 * vec holds eigenvectors as rows, in increasing order of value on input. */
void vb_pca_finish(double *val, double *vec, size_t d)
{
    for (size_t a = 0, b = d - 1; a < b; a++, b--) {
        double t = val[a];
        val[a] = val[b];
        val[b] = t;
        for (size_t j = 0; j < d; j++) {
            t = vec[a * d + j];
            vec[a * d + j] = vec[b * d + j];
            vec[b * d + j] = t;
        }
    }
    for (size_t k = 0; k < d; k++) {
        if (!(val[k] > 0))
            val[k] = 0;
        double *v = vec + k * d, best = 0;
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

vb_status vb_pca_eig(const float *X, size_t n, size_t d, double **mean, double **values, double **vectors,
                      vb_error *err)
{
    *mean = *values = *vectors = NULL;
    double *cov = NULL, *m = NULL;
    vb_status st = vb_pca_covariance(X, n, d, &m, &cov, err);
    if (st != VB_OK)
        return st;
    int N = (int)d, M = 0, info = 0, lwork = -1, liwork = -1, iwkopt = 0, il = 1, iu = N;
    double wkopt = 0, vl = 0, vu = 0, abstol = 0;
    double *w = vb_malloc(d, sizeof *w, err), *z = vb_malloc(d, d * sizeof *z, err);
    int *isuppz = vb_malloc(2 * d, sizeof *isuppz, err);
    double *work = NULL;
    int *iwork = NULL;
    if (!w || !z || !isuppz) {
        st = VB_ERR_NOMEM;
        goto out;
    }
    /* Row-major symmetric = column-major symmetric; z comes back column-major
     * (column k = eigenvector k), which read row-major is one vector per row. */
    dsyevr_("V", "A", "U", &N, cov, &N, &vl, &vu, &il, &iu, &abstol, &M, w, z, &N, isuppz, &wkopt, &lwork, &iwkopt,
            &liwork, &info, 1, 1, 1);
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
    dsyevr_("V", "A", "U", &N, cov, &N, &vl, &vu, &il, &iu, &abstol, &M, w, z, &N, isuppz, work, &lwork, iwork,
            &liwork, &info, 1, 1, 1);
    if (info != 0 || M != N) {
        st = vb_fail(err, VB_ERR_NUMERIC, "pca: the eigendecomposition failed (LAPACK dsyevr info %d)", info);
        goto out;
    }
    vb_pca_finish(w, z, d);
    *mean = m;
    *values = w;
    *vectors = z;
    m = w = z = NULL;
out:
    free(cov);
    free(m);
    free(w);
    free(z);
    free(isuppz);
    free(work);
    free(iwork);
    return st;
}
