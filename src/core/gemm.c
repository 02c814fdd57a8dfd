/* GEMM whose result does not depend on the thread count.
 *
 * OpenBLAS splits a threaded GEMM by the number of threads, and the split
 * changes which micro-kernel (and so which rounding) computes an element:
 * an RBF SVM's decision values differed in the last bits between --threads 1
 * and 2. Here C is cut into tiles of a fixed size, and each tile is one
 * single-threaded OpenBLAS call; our OpenMP threads share out the tiles. A
 * tile's shape depends only on the matrix sizes, so every element is
 * computed the same way whatever the thread count. */
#include "linalg.h"

#include <cblas.h>

enum { TILE_M = 256, TILE_N = 512 };

#define GEMM_TILED(NAME, T, GEMM)                                                                                   \
    void NAME(int trans_a, int trans_b, size_t m, size_t n, size_t k, T alpha, const T *A, size_t lda, const T *B,  \
              size_t ldb, T beta, T *C, size_t ldc)                                                                 \
    {                                                                                                               \
        if (!m || !n)                                                                                               \
            return;                                                                                                 \
        size_t tm = (m + TILE_M - 1) / TILE_M, tn = (n + TILE_N - 1) / TILE_N;                                      \
        int saved = vb_blas_serial_enter(); /* never from inside a parallel region: see vb_set_threads */          \
        _Pragma("omp parallel for schedule(dynamic, 1) if (tm * tn > 1)") for (size_t t = 0; t < tm * tn; t++)     \
        {                                                                                                           \
            size_t i0 = (t / tn) * TILE_M, j0 = (t % tn) * TILE_N;                                                  \
            size_t mi = m - i0 < TILE_M ? m - i0 : TILE_M, nj = n - j0 < TILE_N ? n - j0 : TILE_N;                  \
            const T *a = trans_a ? A + i0 : A + i0 * lda;                                                           \
            const T *b = trans_b ? B + j0 * ldb : B + j0;                                                           \
            GEMM(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, (int)mi,  \
                 (int)nj, (int)k, alpha, a, (int)lda, b, (int)ldb, beta, C + i0 * ldc + j0, (int)ldc);              \
        }                                                                                                           \
        vb_blas_serial_leave(saved);                                                                                \
    }

GEMM_TILED(vb_sgemm, float, cblas_sgemm)
GEMM_TILED(vb_dgemm, double, cblas_dgemm)

/* The tiles on and above the diagonal of C = alpha op(A)' op(A) (n x n):
 * A' A for A k x n (trans), A A' for A n x k. */
static void ssyrk_upper(int trans, size_t n, size_t k, float alpha, const float *A, size_t lda, float *C,
                        size_t ldc)
{
    size_t tn = (n + TILE_N - 1) / TILE_N;
    int saved = vb_blas_serial_enter();
#pragma omp parallel for schedule(dynamic, 1)
    for (size_t t = 0; t < tn * tn; t++) {
        size_t bi = t / tn, bj = t % tn;
        if (bj < bi)
            continue;
        size_t i0 = bi * TILE_N, j0 = bj * TILE_N;
        size_t mi = n - i0 < TILE_N ? n - i0 : TILE_N, nj = n - j0 < TILE_N ? n - j0 : TILE_N;
        if (trans)
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)mi, (int)nj, (int)k, alpha, A + i0, (int)lda,
                        A + j0, (int)lda, 0.0f, C + i0 * ldc + j0, (int)ldc);
        else
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)mi, (int)nj, (int)k, alpha, A + i0 * lda,
                        (int)lda, A + j0 * lda, (int)lda, 0.0f, C + i0 * ldc + j0, (int)ldc);
    }
    vb_blas_serial_leave(saved);
}

void vb_ssyrk_upper_t(size_t n, size_t k, float alpha, const float *A, size_t lda, float *C, size_t ldc)
{
    ssyrk_upper(1, n, k, alpha, A, lda, C, ldc);
}

void vb_ssyrk_upper_n(size_t n, size_t k, float alpha, const float *A, size_t lda, float *C, size_t ldc)
{
    ssyrk_upper(0, n, k, alpha, A, lda, C, ldc);
}
