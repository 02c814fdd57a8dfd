/* Local-descriptor encoders: bag of visual words (hard or kernel-codebook
 * soft assignment), VLAD (VLFeat vl_vlad_encode) and Fisher vectors (VLFeat
 * vl_gmm + vl_fisher_encode), pooled over a spatial pyramid. The codebook
 * is VLFeat's k-means (k-means++ initialisation); an optional PCA of the
 * descriptors (vb_pca_eig) comes first, as Fisher vectors with diagonal
 * Gaussians want decorrelated dimensions.
 *
 * Randomness: VLFeat's k-means draws from vl_get_rand(), the calling
 * thread's VlRand. The fit seeds it from our seed (vl_rand_seed_by_array
 * on the 64-bit seed) and puts the previous generator state back when
 * done, so the codebook is a function of (descriptors, seed) only.
 *
 * Determinism across thread counts: k-means (Lloyd/Elkan/ANN) sums in a
 * fixed order whatever the threads; the GMM's M-step is ours for the same
 * reason (see fit_gmm). */
#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <vl/fisher.h>
#include <vl/gmm.h>
#include <vl/kmeans.h>
#include <vl/random.h>
#include <vl/vlad.h>

struct vbf_enc {
    vbf_enc_conf c;
    size_t d;        /* dimension of the encoded descriptors (after PCA) */
    size_t n_cells;  /* cells over all pyramid levels */
    size_t per_cell; /* K, K*d or 2*K*d */
    int fitted;
    float *pca_mean; /* d_in */
    float *pca_proj; /* d x d_in */
    float *pca_projT; /* d_in x d: transposed, for the projection loop */
    float *centers;  /* K x d: k-means centres, or GMM means for Fisher */
    float *ct;       /* d x K: centres transposed, for the distance loop */
    float *csq;      /* K: squared norms of the centres */
    float *covs;     /* K x d: GMM diagonal variances (Fisher) */
    float *priors;   /* K (Fisher) */
    double sigma;    /* soft assignment width, resolved at fit */
};

struct vbf_enc_scratch {
    size_t cap;      /* descriptors the buffers hold */
    size_t m;        /* assignments kept per descriptor */
    float *Y;        /* cap x d */
    float *dist;     /* cap x K */
    int32_t *idx;    /* cap x m */
    float *wt;       /* cap x m */
    float *A;        /* cap x K: dense assignments (VLAD) */
    float *cellY;    /* cap x d: one cell's descriptors, gathered */
    float *cellA;    /* cap x K */
    size_t *cell;    /* cap: cell of each descriptor at the current level */
    size_t *order;   /* cap: descriptors sorted by cell */
    size_t *start;   /* cells of the largest level + 1 */
    size_t max_cells_level;
};

static void enc_clear(vbf_enc *e)
{
    free(e->pca_mean);
    free(e->pca_proj);
    free(e->pca_projT);
    free(e->centers);
    free(e->ct);
    free(e->csq);
    free(e->covs);
    free(e->priors);
    e->pca_mean = e->pca_proj = e->pca_projT = e->centers = e->ct = e->csq = e->covs = e->priors = NULL;
    e->fitted = 0;
}

void vbf_enc_free(vbf_enc *e)
{
    if (!e)
        return;
    enc_clear(e);
    free(e);
}

size_t vbf_enc_dim(const vbf_enc *e) { return e->n_cells * e->per_cell; }
int vbf_enc_fitted(const vbf_enc *e) { return e->fitted; }

vb_status vbf_enc_new(const vbf_enc_conf *conf, const char *what, vbf_enc **out, vb_error *err)
{
    *out = NULL;
    const vbf_enc_conf *c = conf;
    if (c->words < 1 || c->words > 65536)
        return vb_fail(err, VB_ERR_PARAM, "%s: words must be 1 to 65536, not %zu", what, c->words);
    if (c->d_pca > c->d_in)
        return vb_fail(err, VB_ERR_PARAM, "%s: descriptor_pca %zu exceeds the descriptor size %zu", what, c->d_pca,
                       c->d_in);
    if (c->n_levels < 1 || c->n_levels > VBF_MAX_LEVELS)
        return vb_fail(err, VB_ERR_PARAM, "%s: the pyramid needs 1 to %d levels", what, VBF_MAX_LEVELS);
    if (c->kind == VBF_ENC_BOVW && (c->norm == VBF_NORM_INTRA || c->norm == VBF_NORM_MASS))
        return vb_fail(err, VB_ERR_PARAM, "%s: norm intra and mass apply to vlad only; bovw takes l1, l2 or none",
                       what);
    if (c->kind == VBF_ENC_VLAD && c->norm == VBF_NORM_L1)
        return vb_fail(err, VB_ERR_PARAM, "%s: vlad takes norm l2, intra, mass or none, not l1", what);
    if (c->kind == VBF_ENC_FISHER && c->norm != VBF_NORM_L2 && c->norm != VBF_NORM_NONE)
        return vb_fail(err, VB_ERR_PARAM, "%s: fisher takes norm l2 or none", what);
    if (c->kind == VBF_ENC_FISHER && c->soft)
        return vb_fail(err, VB_ERR_PARAM, "%s: fisher vectors always use the GMM posteriors; assign applies to "
                       "bovw and vlad", what);
    size_t cells = 0;
    for (size_t l = 0; l < c->n_levels; l++) {
        if (c->grid[l] < 1 || c->grid[l] > 64)
            return vb_fail(err, VB_ERR_PARAM, "%s: pyramid grids must be 1 to 64, not %zu", what, c->grid[l]);
        cells += c->grid[l] * c->grid[l];
    }
    size_t d = c->d_pca ? c->d_pca : c->d_in, per = c->words, dim;
    if (c->kind != VBF_ENC_BOVW && !vb_mul_ok(per, d, &per))
        return vb_fail(err, VB_ERR_PARAM, "%s: the encoding is too large", what);
    if (c->kind == VBF_ENC_FISHER && !vb_mul_ok(per, 2, &per))
        return vb_fail(err, VB_ERR_PARAM, "%s: the encoding is too large", what);
    if (!vb_mul_ok(per, cells, &dim) || dim > ((size_t)1 << 28))
        return vb_fail(err, VB_ERR_PARAM,
                       "%s: %zu cells x %zu values per cell is too large; use fewer words, a smaller pyramid or "
                       "descriptor_pca",
                       what, cells, per);
    vbf_enc *e = vb_calloc(1, sizeof *e, err);
    if (!e)
        return VB_ERR_NOMEM;
    e->c = *c;
    e->d = d;
    e->n_cells = cells;
    e->per_cell = per;
    *out = e;
    return VB_OK;
}

/* ---- distances and assignments ------------------------------------------ */

/* Squared distances of n descriptors (n x d) to the K centres, rows of D:
 * |y|^2 + |c|^2 - 2 y.c. The products run over the transposed centres in
 * tiles of 4 descriptors x 32 centres whose sums stay in registers, so each
 * centre value loaded serves four descriptors; every sum still runs over
 * the dimensions in order, so no reassociation is needed to vectorise.
 * Callgrind on 1064 descriptors x 512 words x 128: 16.3 M instructions,
 * against 28 M for the plain row loop and 17.8 M in OpenBLAS's sgemm
 * kernel (AVX2), without calling BLAS from inside the extraction threads. */
#define DIST_RB 4
#define DIST_KB 32
static void sq_dists(const vbf_enc *e, const float *Y, size_t n, float *D)
{
    size_t K = e->c.words, d = e->d, i = 0;
    for (; i + DIST_RB <= n; i += DIST_RB)
        for (size_t k0 = 0; k0 < K; k0 += DIST_KB) {
            size_t kb = K - k0 < DIST_KB ? K - k0 : DIST_KB;
            float acc[DIST_RB][DIST_KB];
            memset(acc, 0, sizeof acc);
            if (kb == DIST_KB)
                for (size_t j = 0; j < d; j++) {
                    const float *c = e->ct + j * K + k0;
                    for (int r = 0; r < DIST_RB; r++) {
                        float v = Y[(i + (size_t)r) * d + j];
                        for (int q = 0; q < DIST_KB; q++)
                            acc[r][q] += v * c[q];
                    }
                }
            else
                for (size_t j = 0; j < d; j++) {
                    const float *c = e->ct + j * K + k0;
                    for (int r = 0; r < DIST_RB; r++) {
                        float v = Y[(i + (size_t)r) * d + j];
                        for (size_t q = 0; q < kb; q++)
                            acc[r][q] += v * c[q];
                    }
                }
            for (int r = 0; r < DIST_RB; r++)
                memcpy(D + (i + (size_t)r) * K + k0, acc[r], kb * sizeof **acc);
        }
    for (; i < n; i++) {
        float *row = D + i * K;
        for (size_t k = 0; k < K; k++)
            row[k] = 0;
        for (size_t j = 0; j < d; j++) {
            float v = Y[i * d + j];
            const float *c = e->ct + j * K;
            for (size_t k = 0; k < K; k++)
                row[k] += v * c[k];
        }
    }
    for (i = 0; i < n; i++) {
        const float *y = Y + i * d;
        float *row = D + i * K, ysq = 0;
        for (size_t j = 0; j < d; j++)
            ysq += y[j] * y[j];
        for (size_t k = 0; k < K; k++) {
            float t = ysq + e->csq[k] - 2 * row[k];
            row[k] = t > 0 ? t : 0;
        }
    }
}

/* Keeps m (word, weight) pairs per descriptor: the nearest word with weight
 * 1 (hard), or the m nearest words with Gaussian weights
 * exp(-d^2 / (2 sigma^2)) that sum to 1 (kernel codebook, "codeword
 * uncertainty" of van Gemert et al. 2010). Ties go to the lower index. */
static void assign(const vbf_enc *e, const float *D, size_t n, size_t m, int32_t *idx, float *wt)
{
    size_t K = e->c.words;
    double inv = e->c.soft ? 1.0 / (2.0 * e->sigma * e->sigma) : 0;
    for (size_t i = 0; i < n; i++) {
        const float *row = D + i * K;
        int32_t *ix = idx + i * m;
        float *w = wt + i * m;
        if (!e->c.soft) {
            size_t best = 0;
            for (size_t k = 1; k < K; k++)
                if (row[k] < row[best])
                    best = k;
            ix[0] = (int32_t)best;
            w[0] = 1.0f;
            continue;
        }
        if (m == K)
            for (size_t k = 0; k < K; k++)
                ix[k] = (int32_t)k;
        else {
            /* insertion into a sorted list of the m nearest */
            size_t have = 0;
            for (size_t k = 0; k < K; k++) {
                if (have == m && !(row[k] < row[ix[m - 1]]))
                    continue;
                size_t at = have < m ? have++ : m - 1;
                while (at > 0 && row[k] < row[ix[at - 1]]) {
                    ix[at] = ix[at - 1];
                    at--;
                }
                ix[at] = (int32_t)k;
            }
        }
        float dmin = row[ix[0]];
        for (size_t t = 1; t < m; t++)
            if (row[ix[t]] < dmin)
                dmin = row[ix[t]];
        double sum = 0;
        for (size_t t = 0; t < m; t++) {
            double v = exp(-((double)row[ix[t]] - dmin) * inv);
            w[t] = (float)v;
            sum += v;
        }
        for (size_t t = 0; t < m; t++)
            w[t] = (float)(w[t] / sum);
    }
}

static vb_status transpose_proj(vbf_enc *e, vb_error *err)
{
    size_t d = e->d, din = e->c.d_in;
    free(e->pca_projT);
    if (!(e->pca_projT = vb_malloc(din, d * sizeof *e->pca_projT, err)))
        return VB_ERR_NOMEM;
    for (size_t c = 0; c < d; c++)
        for (size_t j = 0; j < din; j++)
            e->pca_projT[j * d + c] = e->pca_proj[c * din + j];
    return VB_OK;
}

/* Derived buffers: the centres transposed and their squared norms, and
 * the transposed descriptor projection. */
static vb_status derive(vbf_enc *e, vb_error *err)
{
    size_t K = e->c.words, d = e->d;
    free(e->ct);
    free(e->csq);
    e->ct = vb_malloc(K, d * sizeof *e->ct, err);
    e->csq = vb_malloc(K, sizeof *e->csq, err);
    if (!e->ct || !e->csq)
        return VB_ERR_NOMEM;
    for (size_t k = 0; k < K; k++) {
        float s = 0;
        for (size_t j = 0; j < d; j++) {
            float v = e->centers[k * d + j];
            e->ct[j * K + k] = v;
            s += v * v;
        }
        e->csq[k] = s;
    }
    return e->c.d_pca ? transpose_proj(e, err) : VB_OK;
}

/* Y (n x d) = (X - mean) P' for the descriptor PCA, or a copy. The loop
 * runs over the transposed projection (as sq_dists does). */
static void project(const vbf_enc *e, const float *X, size_t n, float *Y)
{
    size_t din = e->c.d_in, d = e->d;
    if (!e->c.d_pca) {
        memcpy(Y, X, n * d * sizeof *Y);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const float *x = X + i * din;
        float *y = Y + i * d;
        for (size_t c = 0; c < d; c++)
            y[c] = 0;
        for (size_t j = 0; j < din; j++) {
            float v = x[j] - e->pca_mean[j];
            const float *p = e->pca_projT + j * d;
            for (size_t c = 0; c < d; c++)
                y[c] += v * p[c];
        }
    }
}

/* ---- fit ----------------------------------------------------------------- */

/* EM for a diagonal GMM, initialised from the k-means partition (one
 * Gaussian per word; an empty word keeps its centre with the global
 * variance). The E-step is VLFeat's vl_get_gmm_data_posteriors_f; the
 * M-step is ours, because VLFeat 0.9.21's vl_gmm_em adds per-thread
 * partial sums in arrival order (the model changes from run to run with
 * three or more threads) and leaks a buffer every iteration
 * (_vl_gmm_restart_empty_modes), and vl_gmm_delete leaks its covariance
 * bounds. Here each component sums over the descriptors in order, so any
 * thread count gives the same bits; EM runs exactly gmm_iterations
 * iterations, since VLFeat's log-likelihood is a thread-order-dependent
 * sum and a stopping test on it would not be. Variances are floored at
 * 1e-4 of the largest data variance (VLFeat's MATLAB default); a
 * component that receives no mass keeps its parameters. */
static vb_status fit_gmm(vbf_enc *e, const float *Y, size_t n, vb_error *err)
{
    size_t K = e->c.words, d = e->d;
    float *D = vb_malloc(n, K * sizeof *D, err); /* distances, then posteriors */
    double *gmean = vb_calloc(d, sizeof *gmean, err), *gvar = vb_calloc(d, sizeof *gvar, err);
    int32_t *near = vb_malloc(n, sizeof *near, err);
    float *mu = vb_malloc(K, d * sizeof *mu, err), *var = vb_malloc(K, d * sizeof *var, err);
    float *prior = vb_malloc(K, sizeof *prior, err);
    double *mass = vb_calloc(K, sizeof *mass, err);
    vb_status st = VB_OK;
    if (!D || !gmean || !gvar || !near || !mu || !var || !prior || !mass) {
        st = VB_ERR_NOMEM;
        goto out;
    }
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        float *row = D + i * K;
        sq_dists(e, Y + i * d, 1, row);
        size_t best = 0;
        for (size_t k = 1; k < K; k++)
            if (row[k] < row[best])
                best = k;
        near[i] = (int32_t)best;
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++)
            gmean[j] += Y[i * d + j];
    for (size_t j = 0; j < d; j++)
        gmean[j] /= (double)n;
    double maxvar = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++)
            gvar[j] += ((double)Y[i * d + j] - gmean[j]) * ((double)Y[i * d + j] - gmean[j]);
    for (size_t j = 0; j < d; j++) {
        gvar[j] /= (double)(n > 1 ? n - 1 : 1);
        maxvar = gvar[j] > maxvar ? gvar[j] : maxvar;
    }
    double bound = maxvar > 0 ? 1e-4 * maxvar : 1e-10;
    /* the k-means partition as hard posteriors, then one M-step */
    memset(D, 0, n * K * sizeof *D);
    for (size_t i = 0; i < n; i++)
        D[i * K + (size_t)near[i]] = 1;
    for (size_t k = 0; k < K; k++)
        for (size_t j = 0; j < d; j++) {
            mu[k * d + j] = e->centers[k * d + j];
            var[k * d + j] = (float)(gvar[j] > bound ? gvar[j] : bound);
        }
    for (int it = 0; it <= e->c.gmm_iters; it++) {
        if (it > 0) /* E-step */
            vl_get_gmm_data_posteriors_f(D, (vl_size)K, (vl_size)n, prior, mu, (vl_size)d, var, Y);
        /* M-step: one component per loop iteration, its sums in data order */
#pragma omp parallel for schedule(dynamic, 1)
        for (size_t k = 0; k < K; k++) {
            double m = 0;
            for (size_t i = 0; i < n; i++)
                m += D[i * K + k];
            mass[k] = m;
            if (!(m > 1e-6 / (double)K))
                continue;
            double acc[1024];
            for (size_t j0 = 0; j0 < d; j0 += 1024) {
                size_t j1 = d - j0 < 1024 ? d : j0 + 1024;
                memset(acc, 0, sizeof acc);
                for (size_t i = 0; i < n; i++) {
                    double p = D[i * K + k];
                    if (p == 0)
                        continue;
                    for (size_t j = j0; j < j1; j++)
                        acc[j - j0] += p * Y[i * d + j];
                }
                for (size_t j = j0; j < j1; j++)
                    mu[k * d + j] = (float)(acc[j - j0] / m);
                memset(acc, 0, sizeof acc);
                for (size_t i = 0; i < n; i++) {
                    double p = D[i * K + k];
                    if (p == 0)
                        continue;
                    for (size_t j = j0; j < j1; j++) {
                        double t = (double)Y[i * d + j] - mu[k * d + j];
                        acc[j - j0] += p * t * t;
                    }
                }
                for (size_t j = j0; j < j1; j++) {
                    double v = acc[j - j0] / m;
                    var[k * d + j] = (float)(v > bound ? v : bound);
                }
            }
        }
        double total = 0;
        for (size_t k = 0; k < K; k++)
            total += mass[k];
        for (size_t k = 0; k < K; k++)
            prior[k] = (float)(mass[k] > 1e-6 / (double)K ? mass[k] / total : 1e-6 / (double)K);
    }
    e->covs = vb_malloc(K, d * sizeof *e->covs, err);
    e->priors = vb_malloc(K, sizeof *e->priors, err);
    if (!e->covs || !e->priors) {
        st = VB_ERR_NOMEM;
        goto out;
    }
    for (size_t k = 0; k < K && st == VB_OK; k++) {
        e->priors[k] = prior[k];
        if (!(prior[k] > 0) || !isfinite(prior[k]))
            st = vb_fail(err, VB_ERR_NUMERIC, "the GMM diverged (component %zu has prior %g)", k, (double)prior[k]);
        for (size_t j = 0; j < d && st == VB_OK; j++) {
            e->centers[k * d + j] = mu[k * d + j];
            e->covs[k * d + j] = var[k * d + j];
            if (!(var[k * d + j] > 0) || !isfinite(var[k * d + j]) || !isfinite(mu[k * d + j]))
                st = vb_fail(err, VB_ERR_NUMERIC, "the GMM diverged (component %zu)", k);
        }
    }
out:
    free(D);
    free(gmean);
    free(gvar);
    free(near);
    free(mu);
    free(var);
    free(prior);
    free(mass);
    return st;
}

/* RMS distance from each descriptor to its nearest word; -1 when out of
 * memory. */
static double nearest_rms(const vbf_enc *e, const float *Y, size_t n)
{
    size_t K = e->c.words, d = e->d;
    /* a fixed partition of the sum keeps the result thread-count independent */
    size_t blocks = (n + 1023) / 1024;
    double *part = calloc(blocks ? blocks : 1, sizeof *part);
    int failed = part == NULL;
#pragma omp parallel if (!failed)
    {
        float *D = malloc(K * sizeof *D);
        if (!D) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp for schedule(static)
        for (size_t b = 0; b < blocks; b++) {
            double s = 0;
            for (size_t i = b * 1024; D && i < n && i < (b + 1) * 1024; i++) {
                sq_dists(e, Y + i * d, 1, D);
                float best = D[0];
                for (size_t k = 1; k < K; k++)
                    if (D[k] < best)
                        best = D[k];
                s += best;
            }
            part[b] = s;
        }
        free(D);
    }
    double total = 0;
    for (size_t b = 0; !failed && b < blocks; b++)
        total += part[b];
    free(part);
    return failed ? -1 : sqrt(total / (double)(n ? n : 1));
}

vb_status vbf_enc_fit(vbf_enc *e, const float *X, size_t n, uint64_t seed, vb_error *err)
{
    enc_clear(e);
    size_t K = e->c.words, d = e->d, din = e->c.d_in;
    if (n < K)
        return vb_fail(err, VB_ERR_DATA,
                       "only %zu descriptors to learn %zu words; use fewer words or more training images", n, K);
    for (size_t i = 0; i < n * din; i++)
        if (!isfinite(X[i]))
            return vb_fail(err, VB_ERR_NUMERIC, "the descriptors hold NaN or infinite values");
    vb_status st = VB_OK;
    const float *Y = X;
    float *Ybuf = NULL;
    if (e->c.d_pca) {
        double *mean = NULL, *val = NULL, *vec = NULL;
        if ((st = vb_pca_eig(X, n, din, &mean, &val, &vec, err)) != VB_OK)
            return vb_error_prefix(err, "descriptor pca");
        e->pca_mean = vb_malloc(din, sizeof *e->pca_mean, err);
        e->pca_proj = vb_malloc(d, din * sizeof *e->pca_proj, err);
        Ybuf = vb_malloc(n, d * sizeof *Ybuf, err);
        if (e->pca_mean && e->pca_proj && Ybuf) {
            for (size_t j = 0; j < din; j++)
                e->pca_mean[j] = (float)mean[j];
            for (size_t c = 0; c < d * din; c++)
                e->pca_proj[c] = (float)vec[c];
        } else
            st = VB_ERR_NOMEM;
        free(mean);
        free(val);
        free(vec);
        if (st != VB_OK) {
            free(Ybuf);
            enc_clear(e);
            return st;
        }
        if ((st = transpose_proj(e, err)) != VB_OK) {
            free(Ybuf);
            enc_clear(e);
            return st;
        }
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < n; i++)
            project(e, X + i * din, 1, Ybuf + i * d);
        Y = Ybuf;
    }

    VlRand *rand = vl_get_rand();
    VlRand saved = *rand;
    vl_uint32 key[2] = {(vl_uint32)seed, (vl_uint32)(seed >> 32)};
    vl_rand_seed_by_array(rand, key, 2);
    VlKMeans *km = vl_kmeans_new(VL_TYPE_FLOAT, VlDistanceL2);
    if (!km)
        st = vb_fail(err, VB_ERR_NOMEM, "out of memory");
    else {
        vl_kmeans_set_algorithm(km, (VlKMeansAlgorithm)e->c.kmeans_algorithm);
        vl_kmeans_set_initialization(km, VlKMeansPlusPlus);
        vl_kmeans_set_max_num_iterations(km, (vl_size)e->c.kmeans_iters);
        vl_kmeans_set_num_repetitions(km, 1);
        if (e->c.kmeans_algorithm == VlKMeansANN) {
            vl_kmeans_set_num_trees(km, 2);
            vl_kmeans_set_max_num_comparisons(km, K / 4 > 16 ? K / 4 : 16);
        }
        vl_kmeans_cluster(km, Y, (vl_size)d, (vl_size)n, (vl_size)K);
        const float *c = vl_kmeans_get_centers(km);
        e->centers = vb_malloc(K, d * sizeof *e->centers, err);
        if (!e->centers)
            st = VB_ERR_NOMEM;
        else
            memcpy(e->centers, c, K * d * sizeof *e->centers);
        vl_kmeans_delete(km);
    }
    if (st == VB_OK)
        st = derive(e, err);
    if (st == VB_OK && e->c.kind == VBF_ENC_FISHER)
        st = fit_gmm(e, Y, n, err);
    if (st == VB_OK && e->c.kind == VBF_ENC_FISHER)
        st = derive(e, err); /* the means moved */
    *rand = saved;
    if (st == VB_OK) {
        e->sigma = e->c.sigma > 0 ? e->c.sigma : 0;
        if (e->c.soft && !(e->c.sigma > 0)) {
            e->sigma = nearest_rms(e, Y, n);
            if (e->sigma < 0)
                st = vb_fail(err, VB_ERR_NOMEM, "out of memory");
            else if (!(e->sigma > 0))
                e->sigma = 1e-6; /* every descriptor sits on a word: any small width is exact */
        }
        for (size_t i = 0; i < K * d && st == VB_OK; i++)
            if (!isfinite(e->centers[i]))
                st = vb_fail(err, VB_ERR_NUMERIC, "k-means produced non-finite centres");
    }
    free(Ybuf);
    if (st != VB_OK) {
        enc_clear(e);
        return st;
    }
    e->fitted = 1;
    return VB_OK;
}

/* ---- encode -------------------------------------------------------------- */

void vbf_enc_scratch_free(vbf_enc_scratch *s)
{
    if (!s)
        return;
    free(s->Y);
    free(s->dist);
    free(s->idx);
    free(s->wt);
    free(s->A);
    free(s->cellY);
    free(s->cellA);
    free(s->cell);
    free(s->order);
    free(s->start);
    free(s);
}

vbf_enc_scratch *vbf_enc_scratch_new(const vbf_enc *e)
{
    vbf_enc_scratch *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    const vbf_enc_conf *c = &e->c;
    s->m = !c->soft ? 1 : c->knn && c->knn < c->words ? c->knn : c->words;
    for (size_t l = 0; l < c->n_levels; l++)
        if (c->grid[l] * c->grid[l] > s->max_cells_level)
            s->max_cells_level = c->grid[l] * c->grid[l];
    s->start = calloc(s->max_cells_level + 1, sizeof *s->start);
    if (!s->start) {
        vbf_enc_scratch_free(s);
        return NULL;
    }
    return s;
}

static vb_status grow(const vbf_enc *e, vbf_enc_scratch *s, size_t n, vb_error *err)
{
    if (n <= s->cap)
        return VB_OK;
    size_t cap = s->cap ? s->cap : 64;
    while (cap < n)
        cap *= 2;
    size_t K = e->c.words, d = e->d, a, b, c2, dd;
    if (!vb_mul_ok(cap, K, &a) || !vb_mul_ok(cap, s->m, &b) || !vb_mul_ok(cap, d, &dd) ||
        !vb_mul_ok(a, sizeof(float), &c2))
        return vb_fail(err, VB_ERR_NOMEM, "too many descriptors (%zu)", n);
    float *Y = realloc(s->Y, dd * sizeof *Y), *dist = NULL, *wt = NULL, *A = NULL, *cellY = NULL, *cellA = NULL;
    if (Y)
        s->Y = Y;
    dist = Y ? realloc(s->dist, a * sizeof *dist) : NULL;
    if (dist)
        s->dist = dist;
    int32_t *idx = dist ? realloc(s->idx, b * sizeof *idx) : NULL;
    if (idx)
        s->idx = idx;
    wt = idx ? realloc(s->wt, b * sizeof *wt) : NULL;
    if (wt)
        s->wt = wt;
    int need_a = e->c.kind == VBF_ENC_VLAD;
    if (wt && need_a && (A = realloc(s->A, a * sizeof *A)))
        s->A = A;
    if (wt && need_a && A && (cellA = realloc(s->cellA, a * sizeof *cellA)))
        s->cellA = cellA;
    int ok_a = !need_a || (A && cellA);
    if (wt && ok_a && (cellY = realloc(s->cellY, dd * sizeof *cellY)))
        s->cellY = cellY;
    size_t *cell = cellY ? realloc(s->cell, cap * sizeof *cell) : NULL;
    if (cell)
        s->cell = cell;
    size_t *order = cell ? realloc(s->order, cap * sizeof *order) : NULL;
    if (order)
        s->order = order;
    if (!order)
        return vb_fail(err, VB_ERR_NOMEM, "out of memory for %zu descriptors", n);
    s->cap = cap;
    return VB_OK;
}

/* v <- sign(v) sqrt|v| */
static void signed_sqrt(float *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        v[i] = v[i] < 0 ? -sqrtf(-v[i]) : sqrtf(v[i]);
}

/* Scales v to unit l1 or l2 norm (all-zero stays zero). */
static void normalise(float *v, size_t n, int l1)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += l1 ? fabs(v[i]) : (double)v[i] * v[i];
    if (!l1)
        s = sqrt(s);
    if (s > 1e-12)
        for (size_t i = 0; i < n; i++)
            v[i] = (float)(v[i] / s);
}

static size_t cell_of(const float *pos, size_t g)
{
    double x = pos[0] * (double)g, y = pos[1] * (double)g;
    size_t cx = x <= 0 ? 0 : (size_t)x, cy = y <= 0 ? 0 : (size_t)y;
    if (cx >= g)
        cx = g - 1;
    if (cy >= g)
        cy = g - 1;
    return cy * g + cx;
}

vb_status vbf_enc_encode(const vbf_enc *e, vbf_enc_scratch *s, const float *X, const float *pos, size_t n,
                         float *out, vb_error *err)
{
    if (!e->fitted)
        return vb_fail(err, VB_ERR_STATE, "the codebook is used before it is fitted");
    const vbf_enc_conf *c = &e->c;
    size_t K = c->words, d = e->d, per = e->per_cell, m = s->m;
    memset(out, 0, vbf_enc_dim(e) * sizeof *out);
    vb_status st = grow(e, s, n ? n : 1, err);
    if (st != VB_OK)
        return st;
    if (n) {
        project(e, X, n, s->Y);
        if (c->kind != VBF_ENC_FISHER) {
            sq_dists(e, s->Y, n, s->dist);
            assign(e, s->dist, n, m, s->idx, s->wt);
        }
        if (c->kind == VBF_ENC_VLAD) {
            memset(s->A, 0, n * K * sizeof *s->A);
            for (size_t i = 0; i < n; i++)
                for (size_t t = 0; t < m; t++)
                    s->A[i * K + (size_t)s->idx[i * m + t]] += s->wt[i * m + t];
        }
    }
    int vlad_flags = (c->sqrt ? VL_VLAD_FLAG_SQUARE_ROOT : 0) |
                     (c->norm == VBF_NORM_INTRA ? VL_VLAD_FLAG_NORMALIZE_COMPONENTS : 0) |
                     (c->norm == VBF_NORM_MASS ? VL_VLAD_FLAG_NORMALIZE_MASS : 0) |
                     (c->norm == VBF_NORM_NONE ? VL_VLAD_FLAG_UNNORMALIZED : 0);
    int fisher_flags = (c->sqrt ? VL_FISHER_FLAG_SQUARE_ROOT : 0) | (c->norm == VBF_NORM_L2 ? VL_FISHER_FLAG_NORMALIZED : 0);
    size_t base = 0;
    for (size_t l = 0; l < c->n_levels; l++) {
        size_t g = c->grid[l], cells = g * g;
        if (c->kind == VBF_ENC_BOVW) {
            for (size_t i = 0; i < n; i++) {
                float *h = out + (base + cell_of(pos + 2 * i, g)) * K;
                for (size_t t = 0; t < m; t++)
                    h[s->idx[i * m + t]] += s->wt[i * m + t];
            }
            for (size_t q = 0; q < cells; q++) {
                float *h = out + (base + q) * K;
                if (c->sqrt)
                    signed_sqrt(h, K);
                if (c->norm != VBF_NORM_NONE)
                    normalise(h, K, c->norm == VBF_NORM_L1);
            }
        } else if (n) {
            /* counting sort of the descriptors by cell, then one call per cell */
            memset(s->start, 0, (cells + 1) * sizeof *s->start);
            for (size_t i = 0; i < n; i++) {
                s->cell[i] = cell_of(pos + 2 * i, g);
                s->start[s->cell[i] + 1]++;
            }
            for (size_t q = 0; q < cells; q++)
                s->start[q + 1] += s->start[q];
            for (size_t i = 0; i < n; i++)
                s->order[s->start[s->cell[i]]++] = i;
            for (size_t q = cells; q > 0; q--)
                s->start[q] = s->start[q - 1];
            s->start[0] = 0;
            for (size_t q = 0; q < cells; q++) {
                size_t a = s->start[q], b = s->start[q + 1], cnt = b - a;
                if (!cnt)
                    continue; /* no descriptor: zeros */
                for (size_t t = 0; t < cnt; t++) {
                    size_t i = s->order[a + t];
                    memcpy(s->cellY + t * d, s->Y + i * d, d * sizeof *s->Y);
                    if (c->kind == VBF_ENC_VLAD)
                        memcpy(s->cellA + t * K, s->A + i * K, K * sizeof *s->A);
                }
                float *o = out + (base + q) * per;
                if (c->kind == VBF_ENC_VLAD)
                    vl_vlad_encode(o, VL_TYPE_FLOAT, e->centers, (vl_size)d, (vl_size)K, s->cellY, (vl_size)cnt,
                                   s->cellA, vlad_flags);
                else
                    vl_fisher_encode(o, VL_TYPE_FLOAT, e->centers, (vl_size)d, (vl_size)K, e->covs, e->priors,
                                     s->cellY, (vl_size)cnt, fisher_flags);
            }
        }
        base += cells;
    }
    /* Every cell carries the same weight; the concatenation is normalised
     * again so the whole vector has unit norm. */
    if (e->n_cells > 1 && c->norm != VBF_NORM_NONE)
        normalise(out, vbf_enc_dim(e), c->norm == VBF_NORM_L1);
    return VB_OK;
}

/* ---- save / load --------------------------------------------------------- */

#define ENC_FORMAT 1

vb_status vbf_enc_save(const vbf_enc *e, vb_writer *w, vb_error *err)
{
    if (!e->fitted)
        return vb_fail(err, VB_ERR_STATE, "the codebook is saved before it is fitted");
    size_t K = e->c.words, d = e->d;
    vb_write_u32(w, ENC_FORMAT);
    vb_write_u32(w, (uint32_t)e->c.kind);
    vb_write_u64(w, K);
    vb_write_u64(w, e->c.d_in);
    vb_write_u64(w, d);
    vb_write_f64(w, e->sigma);
    if (e->c.d_pca) {
        vb_write_f32s(w, e->pca_mean, e->c.d_in);
        vb_write_f32s(w, e->pca_proj, d * e->c.d_in);
    }
    vb_write_f32s(w, e->centers, K * d);
    if (e->c.kind == VBF_ENC_FISHER) {
        vb_write_f32s(w, e->covs, K * d);
        vb_write_f32s(w, e->priors, K);
    }
    return vb_writer_status(w, err);
}

static vb_status check_finite(const float *v, size_t n, const char *what, const vb_reader *r, vb_error *err)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(v[i]))
            return vb_fail(err, VB_ERR_FORMAT, "%s: the %s hold non-finite values", r->what, what);
    return VB_OK;
}

vb_status vbf_enc_load(vbf_enc *e, vb_reader *r, vb_error *err)
{
    enc_clear(e);
    size_t K = e->c.words, d = e->d, din = e->c.d_in;
    uint32_t version, kind;
    uint64_t k64, din64, d64;
    double sigma;
    vb_status st = vb_read_u32_range(r, &version, ENC_FORMAT, ENC_FORMAT, "codebook format version", err);
    if (st == VB_OK)
        st = vb_read_u32_range(r, &kind, 0, 2, "encoding", err);
    if (st == VB_OK)
        st = vb_read_u64(r, &k64, err);
    if (st == VB_OK)
        st = vb_read_u64(r, &din64, err);
    if (st == VB_OK)
        st = vb_read_u64(r, &d64, err);
    if (st == VB_OK)
        st = vb_read_f64(r, &sigma, err);
    if (st != VB_OK)
        return st;
    if (kind != (uint32_t)e->c.kind || k64 != K || din64 != din || d64 != d)
        return vb_fail(err, VB_ERR_FORMAT,
                       "%s: the codebook was fitted with other parameters (encoding %u, %llu words, descriptors "
                       "%llu -> %llu; expected %u, %zu, %zu -> %zu)",
                       r->what, kind, (unsigned long long)k64, (unsigned long long)din64, (unsigned long long)d64,
                       (unsigned)e->c.kind, K, din, d);
    if (!isfinite(sigma) || sigma < 0 || (e->c.soft && !(sigma > 0)))
        return vb_fail(err, VB_ERR_FORMAT, "%s: invalid assignment width %g", r->what, sigma);
    /* sizes come from the configuration, never from the input */
    if (e->c.d_pca) {
        e->pca_mean = vb_malloc(din, sizeof *e->pca_mean, err);
        e->pca_proj = vb_malloc(d, din * sizeof *e->pca_proj, err);
        if (!e->pca_mean || !e->pca_proj)
            st = VB_ERR_NOMEM;
        if (st == VB_OK)
            st = vb_read_f32s_into(r, e->pca_mean, din, err);
        if (st == VB_OK)
            st = vb_read_f32s_into(r, e->pca_proj, d * din, err);
        if (st == VB_OK)
            st = check_finite(e->pca_mean, din, "pca mean", r, err);
        if (st == VB_OK)
            st = check_finite(e->pca_proj, d * din, "pca components", r, err);
    }
    if (st == VB_OK && !(e->centers = vb_malloc(K, d * sizeof *e->centers, err)))
        st = VB_ERR_NOMEM;
    if (st == VB_OK)
        st = vb_read_f32s_into(r, e->centers, K * d, err);
    if (st == VB_OK)
        st = check_finite(e->centers, K * d, "centres", r, err);
    if (st == VB_OK && e->c.kind == VBF_ENC_FISHER) {
        e->covs = vb_malloc(K, d * sizeof *e->covs, err);
        e->priors = vb_malloc(K, sizeof *e->priors, err);
        if (!e->covs || !e->priors)
            st = VB_ERR_NOMEM;
        if (st == VB_OK)
            st = vb_read_f32s_into(r, e->covs, K * d, err);
        if (st == VB_OK)
            st = vb_read_f32s_into(r, e->priors, K, err);
        for (size_t i = 0; st == VB_OK && i < K * d; i++)
            if (!(e->covs[i] > 0) || !isfinite(e->covs[i]))
                st = vb_fail(err, VB_ERR_FORMAT, "%s: GMM variance %zu is not positive", r->what, i);
        for (size_t k = 0; st == VB_OK && k < K; k++)
            if (!(e->priors[k] > 0) || !isfinite(e->priors[k]))
                st = vb_fail(err, VB_ERR_FORMAT, "%s: GMM prior %zu is not positive", r->what, k);
    }
    if (st == VB_OK)
        st = derive(e, err);
    if (st != VB_OK) {
        enc_clear(e);
        return st;
    }
    e->sigma = sigma;
    e->fitted = 1;
    return VB_OK;
}
