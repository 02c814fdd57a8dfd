/* Is a direct convolution faster than im2col + sgemm for the first layer
 * of the reference nets (one input channel, 5x5 kernels, pad 2, 28x28)?
 * One thread; the best of 15 rounds of 2,000 images for each, interleaved.
 *
 *   bench_conv_direct [FILTERS...]      (default: 6 32, LeNet's and cnn2's)
 * Prints per filter count:
 *   RESULT filters=6 im2col_sgemm_us=... direct_us=... max_diff=...
 * The direct version is vectorised over a row and keeps the row's sums in
 * registers; im2col + sgemm is what src/cnn uses (measured faster here).
 */
#include "visbench/core.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void openblas_set_num_threads(int num_threads);

enum { H = 28, W = 28, K = 5, P = 2, HP = H + 2 * P, WP = W + 2 * P, MAXF = 256 };

static float xp[HP * WP], col[K * K * H * W], out1[MAXF * H * W], out2[MAXF * H * W], wt[MAXF * K * K];

static void im2col_sgemm(int filters)
{
    float *c = col;
    for (int ky = 0; ky < K; ky++)
        for (int kx = 0; kx < K; kx++)
            for (int oy = 0; oy < H; oy++, c += W)
                memcpy(c, xp + (oy + ky) * WP + kx, W * sizeof *c);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, filters, H * W, K * K, 1.0f, wt, K * K, col, H * W, 0.0f,
                out1, H * W);
}

static void direct(int filters)
{
    for (int o = 0; o < filters; o++) {
        const float *w = wt + o * K * K;
        for (int oy = 0; oy < H; oy++) {
            float acc[W] = {0};
            for (int ky = 0; ky < K; ky++)
                for (int kx = 0; kx < K; kx++) {
                    const float wv = w[ky * K + kx], *r = xp + (oy + ky) * WP + kx;
                    for (int x = 0; x < W; x++)
                        acc[x] += wv * r[x];
                }
            memcpy(out2 + (o * H + oy) * W, acc, sizeof acc);
        }
    }
}

int main(int argc, char **argv)
{
    int counts[16] = {6, 32}, n = 2;
    if (argc > 1) {
        n = 0;
        for (int i = 1; i < argc && n < 16; i++) {
            int f = atoi(argv[i]);
            if (f < 1 || f > MAXF) {
                fprintf(stderr, "bench_conv_direct: filters must be 1..%d\n", MAXF);
                return 2;
            }
            counts[n++] = f;
        }
    }
    openblas_set_num_threads(1);
    for (int i = 0; i < HP * WP; i++)
        xp[i] = (float)(i % 13) * 0.1f;
    for (int i = 0; i < MAXF * K * K; i++)
        wt[i] = (float)(i % 7) * 0.01f;
    const int reps = 2000;
    for (int t = 0; t < n; t++) {
        int f = counts[t];
        double best_g = 1e30, best_d = 1e30;
        for (int r = 0; r < 15; r++) {
            double t0 = vb_now();
            for (int i = 0; i < reps; i++)
                im2col_sgemm(f);
            double t1 = vb_now();
            for (int i = 0; i < reps; i++)
                direct(f);
            double t2 = vb_now();
            best_g = t1 - t0 < best_g ? t1 - t0 : best_g;
            best_d = t2 - t1 < best_d ? t2 - t1 : best_d;
        }
        double md = 0;
        for (int i = 0; i < f * H * W; i++)
            md = fmax(md, fabs((double)out1[i] - out2[i]));
        printf("RESULT filters=%d im2col_sgemm_us=%.2f direct_us=%.2f max_diff=%g\n", f, best_g / reps * 1e6,
               best_d / reps * 1e6, md);
    }
    return 0;
}
