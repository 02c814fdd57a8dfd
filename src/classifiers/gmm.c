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
 * EM is our own, not vl_gmm: the benchmark asks for 3x scikit-learn, whose
 * E and M steps are matrix products, while vl_gmm loops over points and
 * components and accumulates its M step in thread arrival order (results
 * would change from run to run). Here both steps are GEMMs over blocks of
 * rows: log N(x | mu, s2) = c - 1/2 x^2 . (1/s2) + x . (mu/s2), and the
 * statistics R^T X, R^T X^2; sums run in a fixed order. The tests check one
 * step against vl_gmm's. Initialisation: VLFeat k-means (k-means++, seeded
 * through vl_get_rand()) giving each cluster's mean, variance and weight,
 * or k random training points with the global variance and equal weights.
 * Variances are floored at cov_floor. EM stops when the mean log-likelihood
 * per sample improves by less than tol (scikit-learn's criterion) or at
 * max_iter; a component that loses all its points keeps its parameters. */
#include "internal.h"

#include "visbench/eval.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <vl/kmeans.h>

static const vb_param_def gmm_params[] = {
    {.name = "k", .type = VB_PT_INT, .def = "0", .min = 0, .max = 100000, .flags = VB_PF_GRID | VB_PF_PRIMARY,
     .help = "components: cluster mode, in all (0 = the number of classes); classify mode, per class (0 = 1)"},
    {.name = "mode", .type = VB_PT_ENUM, .def = "cluster", .choices = "cluster|classify",
     .help = "cluster: components vote their majority label; classify: one mixture per class, max posterior"},
    {.name = "max_iter", .type = VB_PT_INT, .def = "100", .min = 1, .max = 1e6, .help = "EM iterations"},
    {.name = "tol", .type = VB_PT_FLOAT, .def = "0.001", .min = 0, .max = 1e6,
     .help = "stop when the mean log-likelihood per sample improves by less than this"},
    {.name = "init", .type = VB_PT_ENUM, .def = "kmeans", .choices = "kmeans|rand",
     .help = "initial mixture: VLFeat k-means clusters, or random training points"},
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
    float *A, *Bm;   /* k x d: -1/(2 var), mu / var */
    double *cst;     /* k */
} gmix;

static void gmix_free(gmix *g)
{
    free(g->mu);
    free(g->var);
    free(g->logpi);
    free(g->A);
    free(g->Bm);
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
    g->A = malloc(kd * sizeof *g->A);
    g->Bm = malloc(kd * sizeof *g->Bm);
    g->cst = malloc((size_t)k * sizeof *g->cst);
    return g->mu && g->var && g->logpi && g->A && g->Bm && g->cst;
}

static void gmix_derive(gmix *g)
{
    for (int c = 0; c < g->k; c++) {
        double acc = 0;
        for (size_t j = 0; j < g->d; j++) {
            size_t t = (size_t)c * g->d + j;
            double v = g->var[t], m = g->mu[t];
            g->A[t] = (float)(-0.5 / v);
            g->Bm[t] = (float)(m / v);
            acc += log(v) + LOG_2PI + m * m / v;
        }
        g->cst[c] = g->logpi[c] - 0.5 * acc;
    }
}

/* log(pi_c N(x | c)) for the m rows of Xb into L (m x k); X2 is scratch. */
static void log_joint(const gmix *g, const float *Xb, size_t m, float *X2, float *L)
{
    size_t d = g->d, k = (size_t)g->k;
    for (size_t t = 0; t < m * d; t++)
        X2[t] = Xb[t] * Xb[t];
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)k, (int)d, 1.0f, X2, (int)d, g->A, (int)d, 0.0f,
                L, (int)k);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)k, (int)d, 1.0f, Xb, (int)d, g->Bm, (int)d, 1.0f,
                L, (int)k);
}

/* Turns log joints (row of k) into posteriors; returns the row's log p(x). */
static double row_posterior(const gmix *g, float *l)
{
    double mx = -INFINITY, sum = 0;
    for (int c = 0; c < g->k; c++) {
        double v = (double)l[c] + g->cst[c];
        l[c] = (float)v;
        mx = v > mx ? v : mx;
    }
    for (int c = 0; c < g->k; c++)
        sum += exp((double)l[c] - mx);
    double lse = mx + log(sum);
    for (int c = 0; c < g->k; c++)
        l[c] = (float)exp((double)l[c] - lse);
    return lse;
}

#define BLOCK 2048

typedef struct emwork {
    float *X2, *L, *SX, *SX2; /* BLOCK x d, BLOCK x k, k x d, k x d */
    double *Nk, *rowll;       /* k, BLOCK */
} emwork;

static void emwork_free(emwork *w)
{
    free(w->X2);
    free(w->L);
    free(w->SX);
    free(w->SX2);
    free(w->Nk);
    free(w->rowll);
}

static int emwork_alloc(emwork *w, size_t d, int k)
{
    w->X2 = malloc((size_t)BLOCK * d * sizeof *w->X2);
    w->L = malloc((size_t)BLOCK * (size_t)k * sizeof *w->L);
    w->SX = malloc((size_t)k * d * sizeof *w->SX);
    w->SX2 = malloc((size_t)k * d * sizeof *w->SX2);
    w->Nk = malloc((size_t)k * sizeof *w->Nk);
    w->rowll = malloc(BLOCK * sizeof *w->rowll);
    return w->X2 && w->L && w->SX && w->SX2 && w->Nk && w->rowll;
}

/* One EM step: E with the current parameters (returns the mean log-
 * likelihood per sample under them), then M in place. */
static double em_step(gmix *g, const float *X, size_t n, double floor_v, emwork *w)
{
    size_t d = g->d, k = (size_t)g->k;
    gmix_derive(g);
    for (size_t c = 0; c < k; c++)
        w->Nk[c] = 0;
    double ll = 0;
    for (size_t r0 = 0; r0 < n; r0 += BLOCK) {
        size_t m = n - r0 < BLOCK ? n - r0 : BLOCK;
        const float *Xb = X + r0 * d;
        log_joint(g, Xb, m, w->X2, w->L);
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < m; i++)
            w->rowll[i] = row_posterior(g, w->L + i * k);
        for (size_t i = 0; i < m; i++) {
            ll += w->rowll[i];
            for (size_t c = 0; c < k; c++)
                w->Nk[c] += w->L[i * k + c];
        }
        float beta = r0 ? 1.0f : 0.0f;
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)k, (int)d, (int)m, 1.0f, w->L, (int)k, Xb, (int)d,
                    beta, w->SX, (int)d);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)k, (int)d, (int)m, 1.0f, w->L, (int)k, w->X2,
                    (int)d, beta, w->SX2, (int)d);
    }
    double tiny = 1e-10 * (double)n;
    for (size_t c = 0; c < k; c++) {
        if (w->Nk[c] <= tiny)
            continue;
        for (size_t j = 0; j < d; j++) {
            size_t t = c * d + j;
            double mu = w->SX[t] / w->Nk[c];
            double v = w->SX2[t] / w->Nk[c] - mu * mu;
            g->mu[t] = (float)mu;
            g->var[t] = (float)(v > floor_v ? v : floor_v);
        }
    }
    double tot = 0;
    for (size_t c = 0; c < k; c++)
        tot += w->Nk[c] > tiny ? w->Nk[c] : 0;
    for (size_t c = 0; c < k; c++)
        if (w->Nk[c] > tiny)
            g->logpi[c] = log(w->Nk[c] / tot);
    return ll / (double)n;
}

double vb_gmm_em_once(const float *X, size_t n, size_t d, int k, float *mu, float *var, double *pi, double floor_v)
{
    gmix g = {0};
    emwork w = {0};
    double ll = NAN;
    if (gmix_alloc(&g, k, d) && emwork_alloc(&w, d, k)) {
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
    size_t d = g->d, k = (size_t)g->k;
    double *sum = vb_calloc(k, 2 * d * sizeof *sum, err), *cnt = vb_calloc(k, sizeof *cnt, err);
    uint32_t *a = vb_malloc(n, sizeof *a, err);
    if (!sum || !cnt || !a) {
        free(sum);
        free(cnt);
        free(a);
        return VB_ERR_NOMEM;
    }
    vb_status st = VB_OK;
    if (s->kmeans_init) {
        VlKMeans *km = vl_kmeans_new(VL_TYPE_FLOAT, VlDistanceL2);
        if (!km) {
            st = vb_fail(err, VB_ERR_NOMEM, "gmm: out of memory");
            goto out;
        }
        vl_kmeans_set_algorithm(km, VlKMeansElkan);
        vl_kmeans_set_initialization(km, VlKMeansPlusPlus);
        vl_kmeans_set_max_num_iterations(km, 20);
        vl_rand_seed(vl_get_rand(), (vl_uint32)seed);
        vl_kmeans_cluster(km, X, d, n, k);
        vl_kmeans_quantize(km, a, NULL, X, n);
        vl_kmeans_delete(km);
        for (size_t i = 0; i < n; i++) {
            double *sm = sum + (size_t)a[i] * 2 * d;
            cnt[a[i]]++;
            for (size_t j = 0; j < d; j++) {
                double x = X[i * d + j];
                sm[j] += x;
                sm[d + j] += x * x;
            }
        }
        for (size_t c = 0; c < k; c++) {
            double nc = cnt[c] > 0 ? cnt[c] : 1;
            for (size_t j = 0; j < d; j++) {
                double mu = sum[c * 2 * d + j] / nc, v = sum[c * 2 * d + d + j] / nc - mu * mu;
                g->mu[c * d + j] = (float)mu;
                g->var[c * d + j] = (float)(v > s->floor_v ? v : s->floor_v);
            }
            g->logpi[c] = log((cnt[c] > 0 ? cnt[c] : 0.5) / (double)n);
        }
    } else {
        size_t *rows = vb_malloc(n, sizeof *rows, err);
        vb_rng *rng = vb_rng_new(seed);
        if (!rows || !rng) {
            free(rows);
            vb_rng_free(rng);
            st = VB_ERR_NOMEM;
            goto out;
        }
        for (size_t i = 0; i < n; i++)
            rows[i] = i;
        vb_rng_shuffle(rng, rows, n);
        vb_rng_free(rng);
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < d; j++) {
                double x = X[i * d + j];
                sum[j] += x;
                sum[d + j] += x * x;
            }
        for (size_t c = 0; c < k; c++) {
            memcpy(g->mu + c * d, X + rows[c] * d, d * sizeof *g->mu);
            for (size_t j = 0; j < d; j++) {
                double mu = sum[j] / (double)n, v = sum[d + j] / (double)n - mu * mu;
                g->var[c * d + j] = (float)(v > s->floor_v ? v : s->floor_v);
            }
            g->logpi[c] = -log((double)k);
        }
        free(rows);
    }
out:
    free(sum);
    free(cnt);
    free(a);
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
    if (!emwork_alloc(&w, g->d, g->k)) {
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

/* Per-class scores (m x K, probabilities) and labels for a block of rows. */
static void predict_block(const gmm_state *s, const float *Xb, size_t m, float *X2, float *L, double *J,
                          int *labels, float *scores)
{
    size_t K = (size_t)s->K;
    if (!s->classify) {
        const gmix *g = &s->mix[0];
        size_t k = (size_t)g->k;
        log_joint(g, Xb, m, X2, L);
        for (size_t i = 0; i < m; i++) {
            float *l = L + i * k;
            row_posterior(g, l);
            double *p = J + i * K;
            for (size_t c = 0; c < K; c++)
                p[c] = 0;
            for (size_t c = 0; c < k; c++)
                p[s->map[c]] += l[c];
        }
    } else {
        for (size_t c = 0; c < K; c++) {
            const gmix *g = &s->mix[c];
            size_t k = (size_t)g->k;
            log_joint(g, Xb, m, X2, L);
            for (size_t i = 0; i < m; i++)
                J[i * K + c] = row_posterior(g, L + i * k) + s->logprior[c];
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
    float *X2 = vb_malloc(BLOCK, s->d * sizeof *X2, err), *L = vb_malloc(BLOCK, kmax * sizeof *L, err);
    double *J = vb_malloc(BLOCK, K * sizeof *J, err);
    if (!X2 || !L || !J) {
        free(X2);
        free(L);
        free(J);
        return VB_ERR_NOMEM;
    }
    for (size_t r0 = 0; r0 < n; r0 += BLOCK) {
        size_t m = n - r0 < BLOCK ? n - r0 : BLOCK;
        predict_block(s, X + r0 * s->d, m, X2, L, J, labels + r0, scores ? scores + r0 * K : NULL);
    }
    free(X2);
    free(L);
    free(J);
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
        float *X2 = a ? vb_malloc(BLOCK, d * sizeof *X2, err) : NULL, *L = X2 ? vb_malloc(BLOCK, (size_t)k * sizeof *L, err) : NULL;
        if (st == VB_OK && !L)
            st = VB_ERR_NOMEM;
        for (size_t r0 = 0; st == VB_OK && r0 < n; r0 += BLOCK) {
            size_t m = n - r0 < BLOCK ? n - r0 : BLOCK;
            log_joint(&s->mix[0], td->X + r0 * d, m, X2, L);
            for (size_t i = 0; i < m; i++) {
                float *l = L + i * (size_t)k;
                row_posterior(&s->mix[0], l);
                int best = 0;
                for (int c = 1; c < k; c++)
                    if (l[c] > l[best])
                        best = c;
                a[r0 + i] = best;
            }
        }
        if (st == VB_OK)
            st = vb_clf_majority_map(a, td->y, n, k, K, s->map, err);
        if (st == VB_OK)
            st = vb_cluster_compare(td->y, a, n, K, k, &s->train, err);
        free(a);
        free(X2);
        free(L);
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
        (st = vb_read_u64(r, &d, err)) || (st = vb_read_u32_range(r, &K, 2, 1u << 20, "classes", err)) ||
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
    if (!s->classify) {
        vb_buf_puts(b, ", \"train_purity\": ");
        vb_buf_double(b, s->train.purity);
        vb_buf_puts(b, ", \"train_nmi\": ");
        vb_buf_double(b, s->train.nmi);
        vb_buf_puts(b, ", \"train_ari\": ");
        vb_buf_double(b, s->train.ari);
    }
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
                    "label (cluster). EM runs as BLAS products (checked against VLFeat's vl_gmm); k-means "
                    "initialisation by VLFeat. info reports iterations, convergence, the mean log-likelihood per "
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
};
