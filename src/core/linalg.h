/* Dense linear algebra shared by the modules (not a public interface). */
#ifndef VB_CORE_LINALG_H
#define VB_CORE_LINALG_H

#include "visbench/core.h"

/* The eigen-decomposition of the covariance of n rows of d floats:
 * mean[d], eigenvalues in decreasing order (values[d], tiny negative ones
 * clamped to 0) and unit eigenvectors as rows (vectors[d x d], row k is
 * component k). Sign convention: the entry of largest magnitude of each
 * component is positive (the first such entry on ties), so the result does
 * not depend on the eigensolver's arbitrary signs. Fails with VB_ERR_DATA
 * for n < 2, VB_ERR_PARAM when d is too large for a dense d x d covariance
 * (VB_PCA_MAX_DIM), VB_ERR_NUMERIC when the solver fails or the data hold
 * NaN/inf. All outputs are malloc'ed and owned by the caller. */
#define VB_PCA_MAX_DIM 8192
vb_status vb_pca_eig(const float *X, size_t n, size_t d, double **mean, double **values, double **vectors,
                    vb_error *err);

/* The pieces both solvers share: mean and full covariance (d x d doubles,
 * malloc'ed; the checks above), and the ordering and sign convention
 * applied to eigenvalues/eigenvectors (rows) given in increasing order. */
vb_status vb_pca_covariance(const float *X, size_t n, size_t d, double **mean, double **cov, vb_error *err);
void vb_pca_finish(double *values, double *vectors, size_t d);

/* OpenBLAS single-threaded while our own OpenMP threads each run GEMMs on
 * their share (OpenBLAS's threads would otherwise spin beside ours on the
 * same cores); enter returns the caller's setting for leave to restore. */
int vb_blas_serial_enter(void);
void vb_blas_serial_leave(int saved);

/* C = alpha op(A) op(B) + beta C, row-major (op = transpose when trans_*),
 * with the same bits for any thread count (fixed tiles, each a serial
 * OpenBLAS call, shared out by OpenMP). Use these, not cblas_?gemm, for
 * anything whose result reaches a model or a metric. */
void vb_sgemm(int trans_a, int trans_b, size_t m, size_t n, size_t k, float alpha, const float *A, size_t lda,
              const float *B, size_t ldb, float beta, float *C, size_t ldc);
void vb_dgemm(int trans_a, int trans_b, size_t m, size_t n, size_t k, double alpha, const double *A, size_t lda,
              const double *B, size_t ldb, double beta, double *C, size_t ldc);
/* The upper triangle (at least) of C = alpha A' A, A being k x n: the
 * covariance product, with the same bits for any thread count. */
void vb_ssyrk_upper_t(size_t n, size_t k, float alpha, const float *A, size_t lda, float *C, size_t ldc);

#endif
