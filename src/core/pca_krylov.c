/* The randomized PCA solver: a randomized block Krylov range finder.
 *
 * Halko, Martinsson and Tropp (Finding structure with randomness, SIAM
 * Review 2011) find the leading singular subspace of a matrix A from
 * A (A'A)^q Omega, Omega a Gaussian block of k + p columns (p = 10
 * oversampling), re-orthonormalising after every product (their
 * Algorithm 4.4) and finishing with a Rayleigh-Ritz step. Keeping every
 * block of that power iteration, not only the last, is the Krylov variant
 * (HMT section 4.5, Musco and Musco, NIPS 2015): the same products with the
 * data, and on real features (HOG of Fashion-MNIST, k = 20) the explained
 * variance is exact to 1e-6 after 9 products where the last block alone
 * (scikit-learn's randomized_svd, 7 power iterations, 16 products) is off
 * by 1e-5.
 *
 * The Krylov space lives on the smaller side of the centred rows Xc
 * (n x d): in R^d when n >= d (M = Xc'Xc), in R^n otherwise (M = Xc Xc'),
 * so that its orthogonalisation costs little beside the products. With B
 * its orthonormal basis (s x L, doubles), each block V_b adds
 *   P_b = F V_b        (F = Xc or Xc': one product with the data)
 *   W_b = F' P_b = M V_b   (the next product)
 * and the next block is W_b made orthonormal to B (projected out twice,
 * directions under 1e-6 of the block's size dropped as rounding). The
 * projected matrix H = B'MB / (n - 1) has its new rows from the same
 * products: H_bb = P_b'P_b / (n - 1), H_bj = V_b'W_j / (n - 1). Its leading
 * eigenpairs are the Ritz values and vectors. It stops when one block
 * changes the k Ritz values by less than 1e-4 of the total variance in all
 * (the explained variance then moves by less than 1e-4; the error left is
 * far smaller, as each change is about the error of the step before and
 * the error falls faster than geometrically: 1e-6 on the HOG and Fisher
 * vectors of bench/pca.sh), after 8 blocks (15 products: scikit-learn
 * makes 16), or when the space is whole (exact).
 *
 * The products are float GEMMs (vb_sgemm) with the rows as given, the mean
 * taken off after (Xc V = X V - 1 (mean'V) and so on: no centred copy of
 * the data, whose writing cost as much as two products; core/pca.c makes
 * one when the mean is too large beside the spread for that), the rest
 * doubles (vb_dgemm, dsyevr): the same bits for any thread count. Omega is drawn from a seed
 * derived from (n, d, k), so `train` and `run` repeat it exactly. */
#include "linalg.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { OVERSAMPLE = 10, MAX_BLOCKS = 8, PD_ROWS = 4096 };
#define KRYLOV_TOL 1e-4 /* of the total variance */

typedef struct krylov {
    const float *X;
    const double *mu; /* the mean taken off every product (NULL: X is centred) */
    size_t n, d;
    int left;         /* the basis is in R^n (n < d) */
    size_t s, big;    /* the basis's dimension, the other one */
    size_t l, Lmax, L; /* block width, capacity, columns so far */
    double *B;        /* s x Lmax: the orthonormal basis, as columns */
    double *W;        /* s x Lmax: M B, block by block */
    float *P;         /* big x Lmax (left: the components come from it) or big x l */
    size_t ldp;
    double *H;        /* Lmax x Lmax: B'MB / (n - 1) */
    /* scratch */
    float *Vf, *Wf;   /* s x l */
    double *Y, *Ynew; /* s x l */
    double *C;        /* Lmax x l */
    double *G, *Z, *g; /* l x l, l x l, l */
    double *Pd;       /* PD_ROWS x l: P_b in doubles, a slice at a time */
    double *Hs;       /* Lmax x Lmax */
    double *b;        /* l: the mean's correction */
} krylov;

/* C (r x m, leading dimension ldc) less the outer product of a and b:
 * b_c = sum_i S_ic over the rows of S (q x m, leading dimension lds) when
 * a is the mean (a_i = mu_i), or a_i = 1 and b_c = sum_i mu_i S_ic. The
 * sums are doubles, row by row in order. */
static void take_mean(const krylov *K, int mean_outer, const float *S, size_t q, size_t lds, size_t m, float *C,
                      size_t r, size_t ldc, double *b)
{
    for (size_t c = 0; c < m; c++)
        b[c] = 0;
    for (size_t i = 0; i < q; i++) {
        double w = mean_outer ? 1.0 : K->mu[i];
        for (size_t c = 0; c < m; c++)
            b[c] += w * S[i * lds + c];
    }
    for (size_t i = 0; i < r; i++) {
        double a = mean_outer ? K->mu[i] : 1.0;
        for (size_t c = 0; c < m; c++)
            C[i * ldc + c] = (float)((double)C[i * ldc + c] - a * b[c]);
    }
}

/* P = F V (V: s x m floats, P: big x m with leading dimension ldp), F =
 * Xc or Xc' with Xc = X - 1 mu': X V - 1 (mu'V), X'V - mu (1'V). */
static void forward(const krylov *K, const float *V, size_t m, float *P, size_t ldp)
{
    if (K->left)
        vb_sgemm(1, 0, K->d, m, K->n, 1.0f, K->X, K->d, V, m, 0.0f, P, ldp);
    else
        vb_sgemm(0, 0, K->n, m, K->d, 1.0f, K->X, K->d, V, m, 0.0f, P, ldp);
    if (K->mu)
        take_mean(K, K->left, V, K->s, m, m, P, K->big, ldp, K->b);
}

/* W = F' P (W: s x m floats): X'P - mu (1'P), X P - 1 (mu'P). */
static void back(const krylov *K, const float *P, size_t ldp, size_t m, float *W)
{
    if (K->left)
        vb_sgemm(0, 0, K->n, m, K->d, 1.0f, K->X, K->d, P, ldp, 0.0f, W, m);
    else
        vb_sgemm(1, 0, K->d, m, K->n, 1.0f, K->X, K->d, P, ldp, 0.0f, W, m);
    if (K->mu)
        take_mean(K, !K->left, P, K->big, ldp, m, W, K->s, m, K->b);
}

/* Appends the part of the m columns of Y (s x m, destroyed) orthogonal to
 * B to B, orthonormal: two rounds of projecting out B and orthonormalising
 * through the eigenvectors of Y'Y, dropping the directions under 1e-12 of
 * the block's largest column (round one) or of unit size (round two), and
 * beyond the space's capacity the smallest. *added: how many were added. */
static vb_status append(krylov *K, size_t m, size_t *added, vb_error *err)
{
    size_t s = K->s, L = K->L;
    double *Y = K->Y;
    double scale = 0;
    for (size_t c = 0; c < m; c++) {
        double q = 0;
        for (size_t i = 0; i < s; i++)
            q += Y[i * m + c] * Y[i * m + c];
        scale = q > scale ? q : scale;
    }
    *added = 0;
    for (int round = 0; round < 2 && m > 0; round++) {
        size_t ldy = m;
        if (L > 0) {
            vb_dgemm(1, 0, L, m, s, 1.0, K->B, K->Lmax, Y, ldy, 0.0, K->C, m);
            vb_dgemm(0, 0, s, m, L, -1.0, K->B, K->Lmax, K->C, m, 1.0, Y, ldy);
        }
        vb_dgemm(1, 0, m, m, s, 1.0, Y, ldy, Y, ldy, 0.0, K->G, m);
        vb_status st = vb_sym_eig_top(K->G, m, m, K->g, K->Z, err);
        if (st != VB_OK)
            return st;
        double thr = round == 0 ? 1e-12 * scale : 0.25;
        size_t keep = 0;
        while (keep < m && K->g[keep] > thr)
            keep++;
        if (L + keep > K->Lmax) /* the last columns of the space: the largest directions */
            keep = K->Lmax - L;
        for (size_t c = 0; c < keep; c++) {
            double f = 1.0 / sqrt(K->g[c]);
            for (size_t j = 0; j < m; j++)
                K->Z[c * m + j] *= f;
        }
        if (keep)
            vb_dgemm(0, 1, s, keep, m, 1.0, Y, ldy, K->Z, m, 0.0, K->Ynew, keep);
        double *t = Y;
        Y = K->Ynew;
        K->Ynew = t;
        m = keep;
    }
    K->Y = Y;
    for (size_t i = 0; i < s; i++)
        memcpy(K->B + i * K->Lmax + L, Y + i * m, m * sizeof *Y);
    K->L = L + m;
    *added = m;
    return VB_OK;
}

static void krylov_free(krylov *K)
{
    free(K->B);
    free(K->W);
    free(K->P);
    free(K->H);
    free(K->Vf);
    free(K->Wf);
    free(K->Y);
    free(K->Ynew);
    free(K->C);
    free(K->G);
    free(K->Z);
    free(K->g);
    free(K->Pd);
    free(K->Hs);
    free(K->b);
}

vb_status vb_pca_krylov(const float *X, const double *mean, size_t n, size_t d, size_t k, double total,
                        double *values, double *vectors, int *passes, vb_error *err)
{
    krylov K = {.X = X, .mu = mean, .n = n, .d = d, .left = n < d};
    K.s = K.left ? n : d;
    K.big = K.left ? d : n;
    K.l = k + OVERSAMPLE < K.s ? k + OVERSAMPLE : K.s;
    K.Lmax = MAX_BLOCKS * K.l < K.s ? MAX_BLOCKS * K.l : K.s;
    K.ldp = K.left ? K.Lmax : K.l;
    size_t s = K.s, l = K.l, Lmax = K.Lmax, big = K.big;
    double *theta = vb_malloc(k, sizeof *theta, err), *prev = vb_malloc(k, sizeof *prev, err);
    double *S = vb_malloc(k, Lmax * sizeof *S, err);
    K.B = vb_malloc(s, Lmax * sizeof *K.B, err);
    K.W = vb_malloc(s, Lmax * sizeof *K.W, err);
    K.P = vb_malloc(big, K.ldp * sizeof *K.P, err);
    K.H = vb_malloc(Lmax, Lmax * sizeof *K.H, err);
    K.Hs = vb_malloc(Lmax, Lmax * sizeof *K.Hs, err);
    K.Vf = vb_malloc(s, l * sizeof *K.Vf, err);
    K.Wf = vb_malloc(s, l * sizeof *K.Wf, err);
    K.Y = vb_malloc(s, l * sizeof *K.Y, err);
    K.Ynew = vb_malloc(s, l * sizeof *K.Ynew, err);
    K.C = vb_malloc(Lmax, l * sizeof *K.C, err);
    K.G = vb_malloc(l, l * sizeof *K.G, err);
    K.Z = vb_malloc(l, l * sizeof *K.Z, err);
    K.g = vb_malloc(l, sizeof *K.g, err);
    K.Pd = vb_malloc(big < PD_ROWS ? big : PD_ROWS, l * sizeof *K.Pd, err);
    K.b = vb_malloc(l, sizeof *K.b, err);
    float *Sf = NULL, *Rf = NULL;
    uint64_t seed = vb_seed_derive(vb_seed_derive(0x7063612d6b72796cULL, "pca-n", n), "pca-d", d);
    vb_rng *rng = vb_rng_new(vb_seed_derive(seed, "pca-k", k));
    vb_status st = VB_OK;
    *passes = 0;
    if (!theta || !prev || !S || !K.B || !K.W || !K.P || !K.H || !K.Hs || !K.Vf || !K.Wf || !K.Y || !K.Ynew ||
        !K.C || !K.G || !K.Z || !K.g || !K.Pd || !K.b || !rng) {
        st = VB_ERR_NOMEM;
        goto out;
    }
    for (size_t i = 0; i < s * l; i++)
        K.Y[i] = vb_rng_gauss(rng, 1.0);
    size_t lb = 0, kk = 0, kprev = 0;
    if ((st = append(&K, l, &lb, err)) != VB_OK)
        goto out;
    double inv = 1.0 / (double)(n - 1);
    for (int b = 0; lb > 0; b++) {
        size_t L0 = K.L - lb, L = K.L;
        for (size_t i = 0; i < s; i++)
            for (size_t c = 0; c < lb; c++)
                K.Vf[i * lb + c] = (float)K.B[i * Lmax + L0 + c];
        float *Pb = K.P + (K.left ? L0 : 0);
        forward(&K, K.Vf, lb, Pb, K.ldp);
        ++*passes;
        /* the new rows of H: P_b'P_b and V_b'W_j for the blocks before */
        for (size_t i0 = 0; i0 < big; i0 += PD_ROWS) {
            size_t m = big - i0 < PD_ROWS ? big - i0 : PD_ROWS;
            for (size_t i = 0; i < m; i++)
                for (size_t c = 0; c < lb; c++)
                    K.Pd[i * lb + c] = Pb[(i0 + i) * K.ldp + c];
            vb_dgemm(1, 0, lb, lb, m, inv, K.Pd, lb, K.Pd, lb, i0 ? 1.0 : 0.0, K.H + L0 * Lmax + L0, Lmax);
        }
        if (L0)
            vb_dgemm(1, 0, lb, L0, s, inv, K.B + L0, Lmax, K.W, Lmax, 0.0, K.H + L0 * Lmax, Lmax);
        for (size_t a = L0; a < L; a++)
            for (size_t c = 0; c < a; c++)
                K.H[c * Lmax + a] = K.H[a * Lmax + c];
        /* Ritz values and vectors */
        for (size_t a = 0; a < L; a++)
            memcpy(K.Hs + a * L, K.H + a * Lmax, L * sizeof *K.Hs);
        kk = k < L ? k : L;
        if ((st = vb_sym_eig_top(K.Hs, L, kk, theta, S, err)) != VB_OK)
            goto out;
        int done = b + 1 == MAX_BLOCKS || L == Lmax;
        if (b > 0 && kk == kprev) {
            double change = 0;
            for (size_t c = 0; c < kk; c++)
                change += fabs(theta[c] - prev[c]);
            done = done || change <= KRYLOV_TOL * total;
        }
        if (done)
            break;
        if (vb_interrupted()) {
            st = vb_fail(err, VB_ERR_INTERRUPTED, "pca: interrupted");
            goto out;
        }
        memcpy(prev, theta, kk * sizeof *prev);
        kprev = kk;
        back(&K, Pb, K.ldp, lb, K.Wf);
        ++*passes;
        for (size_t i = 0; i < s; i++)
            for (size_t c = 0; c < lb; c++)
                K.W[i * Lmax + L0 + c] = K.Y[i * lb + c] = K.Wf[i * lb + c];
        if ((st = append(&K, lb, &lb, err)) != VB_OK)
            goto out;
    }
    /* the components: B S (right) or P S (left: Xc'B S, normalised after) */
    size_t L = K.L;
    memset(vectors, 0, k * d * sizeof *vectors);
    memset(values, 0, k * sizeof *values);
    for (size_t c = 0; c < kk; c++)
        values[c] = theta[c] > 0 ? theta[c] : 0;
    if (!K.left)
        vb_dgemm(0, 1, kk, d, L, 1.0, S, L, K.B, Lmax, 0.0, vectors, d);
    else {
        Sf = vb_malloc(kk ? kk : 1, L * sizeof *Sf, err);
        Rf = vb_malloc(kk ? kk : 1, d * sizeof *Rf, err);
        if (!Sf || !Rf) {
            st = VB_ERR_NOMEM;
            goto out;
        }
        for (size_t i = 0; i < kk * L; i++)
            Sf[i] = (float)S[i];
        vb_sgemm(0, 1, kk, d, L, 1.0f, Sf, L, K.P, K.ldp, 0.0f, Rf, d);
        for (size_t i = 0; i < kk * d; i++)
            vectors[i] = Rf[i];
    }
    /* right: B S is orthonormal already; left: as gram's Xc'u */
    size_t from = kk;
    for (size_t c = 0; K.left && c < kk; c++)
        if (!(values[c] >= 1e-5 * values[0]) || values[0] <= 0) {
            from = c;
            break;
        }
    st = vb_pca_orthonormal_rows(vectors, k, d, from, err);
out:
    vb_rng_free(rng);
    krylov_free(&K);
    free(theta);
    free(prev);
    free(S);
    free(Sf);
    free(Rf);
    return st;
}
