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
 * for n < 2, VB_ERR_PARAM when the d x d matrices would not fit in memory
 * (vb_pca_full_fits), VB_ERR_NUMERIC when the solver fails or the data
 * hold NaN/inf. All outputs are malloc'ed and owned by the caller. This is
 * the `full` solver of vb_pca_top. */
vb_status vb_pca_eig(const float *X, size_t n, size_t d, double **mean, double **values, double **vectors,
                    vb_error *err);

/* The pieces both full eigensolvers (LAPACK, features/pca_gsl.c) share:
 * mean and full covariance (d x d doubles, malloc'ed; the checks above),
 * and the ordering and sign convention applied to eigenvalues/eigenvectors
 * (rows) given in increasing order. */
vb_status vb_pca_covariance(const float *X, size_t n, size_t d, double **mean, double **cov, vb_error *err);
void vb_pca_finish(double *values, double *vectors, size_t d);
/* vb_pca_covariance and room for the d eigenvalues (w) and d x d vectors
 * (z); on failure nothing stays allocated. */
vb_status vb_pca_eig_prepare(const float *X, size_t n, size_t d, double **mean, double **cov, double **w,
                             double **z, vb_error *err);

/* ---- the k leading components, by the solver that suits the shape ---- */

/* full: covariance (d x d) and all its eigenpairs (vb_pca_eig).
 * gram: the n x n Gram matrix of the centred rows (n < d), its leading
 *   eigenpairs, components Xc' u / |Xc' u|; never d x d.
 * randomized: a randomized block Krylov range finder (Halko, Martinsson and
 *   Tropp 2011, section 4; the Krylov variant of Musco and Musco 2015) on
 *   the smaller side of Xc, Rayleigh-Ritz on the whole Krylov space; seeded
 *   by (n, d, k), so it needs no seed and repeats exactly.
 * auto: vb_pca_choose. */
typedef enum vb_pca_solver { VB_PCA_AUTO, VB_PCA_FULL, VB_PCA_GRAM, VB_PCA_RANDOMIZED } vb_pca_solver;
/* "auto", "full", "gram", "randomized" (the pca step's `solver` choices) */
extern const char *const vb_pca_solver_names[4];

/* auto above this many features never picks the full solver (its d x d
 * matrices); knn's pruning keeps to it too. A fixed number, not the
 * machine's memory, so that auto picks the same solver everywhere. */
#define VB_PCA_MAX_DIM 8192

/* The solver auto runs for n rows, d features and k components (k = 0:
 * the whole spectrum, for a variance fraction):
 *   d <= 500: full (the exact decomposition is cheap; the same results as
 *     before there were other solvers);
 *   k = 0 or k >= 0.8 min(n, d): gram when n < d, else full (exact);
 *   k <= 0.1 min(n, d), or full's d above VB_PCA_MAX_DIM: randomized;
 *   otherwise gram when n < d, else full. */
vb_pca_solver vb_pca_choose(size_t n, size_t d, size_t k);

/* Does the full solver on n rows of d features fit in memory (its d x d
 * matrices: about 16 d^2 + 4 n d bytes, at most half of the physical
 * memory)? *need_bytes, when given, receives the estimate. */
int vb_pca_full_fits(size_t n, size_t d, double *need_bytes);

typedef struct vb_pca {
    size_t d, k;          /* features; components */
    double *mean;         /* d */
    double *values;       /* k eigenvalues of the covariance, decreasing, >= 0 */
    double *vectors;      /* k x d unit components as rows (sign convention as vb_pca_eig) */
    double total;         /* the total variance (trace of the covariance) */
    vb_pca_solver solver; /* the solver that ran */
    int passes;           /* randomized: products with the data (2 per Krylov block, 1 fewer at the end) */
} vb_pca;

/* The k leading principal components of n rows of d floats, with k = 0:
 * the fewest leading components that explain `variance` of the total (all
 * of them at worst). total is the sum of all eigenvalues for full (as
 * vb_pca_eig's callers had it) and the trace from the centred rows for
 * gram and randomized (the same number, to rounding). Fails with
 * VB_ERR_DATA for n < 2 or k above min(n - 1, d) (the rank), VB_ERR_PARAM
 * for randomized with k = 0 or full above vb_pca_full_fits, VB_ERR_NUMERIC
 * for NaN/inf or a failed eigensolver. *out is owned by the caller
 * (vb_pca_free). The same bits for any thread count. */
vb_status vb_pca_top(const float *X, size_t n, size_t d, size_t k, double variance, vb_pca_solver solver,
                     vb_pca *out, vb_error *err);
void vb_pca_free(vb_pca *p);

/* Shared by the solvers (core/pca.c, core/pca_krylov.c). */
/* Eigenpairs of a symmetric m x m matrix A (row- or column-major alike;
 * destroyed): the `want` largest (all: want = m) into w, decreasing, and
 * when z is given their unit eigenvectors as rows of z (want x m); LAPACK
 * dsyevr, OpenBLAS serial. */
vb_status vb_sym_eig_top(double *A, size_t m, size_t want, double *w, double *z, vb_error *err);
/* Makes the k rows of V (k x d) unit vectors, and those from row `from` on
 * orthogonal to the rows before them too (Gram-Schmidt in order, twice); a
 * row that is (nearly) in the span of those before it, or zero, is
 * replaced by the first coordinate vector that is not, so that there are
 * always k orthonormal rows. */
vb_status vb_pca_orthonormal_rows(double *V, size_t k, size_t d, size_t from, vb_error *err);
/* The sign convention of vb_pca_eig on k rows of d values. */
void vb_pca_sign(double *V, size_t k, size_t d);
/* The randomized solver on rows X (n x d) less mean (d; NULL: X is
 * centred already): the k leading eigenvalues of Xc'Xc / (n - 1) into
 * values (k) and unit components into vectors (k x d, orthonormal, signs
 * not yet set); total is the total variance (the convergence test is
 * relative to it). */
vb_status vb_pca_krylov(const float *X, const double *mean, size_t n, size_t d, size_t k, double total,
                        double *values, double *vectors, int *passes, vb_error *err);

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
/* The same for C = alpha A A', A being n x k (the Gram matrix of its rows). */
void vb_ssyrk_upper_n(size_t n, size_t k, float alpha, const float *A, size_t lda, float *C, size_t ldc);

#endif
