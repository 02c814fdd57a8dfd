/* knn: k nearest neighbours by brute force, or approximately with VLFeat's
 * kd-forest (l2 only).
 *
 * Brute force for l2 and cosine is nnsearch.c: exact neighbours ranked by
 * the directly summed squared distance, with GEMM tiles (bounded by
 * block_mb, never n_test x n_train) of lower bounds to skip training rows,
 * on the leading principal components when a pilot at training predicts a
 * saving (prune). Cosine compares unit rows; its distance 1 - x.t is half
 * their squared distance. l1 and chi2 are computed directly, row by row
 * (vectorised over features, parallel over test rows), with a running
 * top-k.
 *
 * Neighbours are ordered by (distance, training index): ties go to the
 * earlier training row. Scores are the (weighted) vote fractions of the k
 * neighbours, so they are probabilities; the label is the class with the
 * largest vote, ties to the smaller class index (scikit-learn's rule). With
 * weights: distance, a neighbour weighs 1/distance; when some neighbours are
 * at distance 0, only they vote (as in scikit-learn).
 *
 * Memory: the model is a copy of the training set, n x d floats plus n
 * labels: 60000 x 1519 HOG rows are 365 MB; with pruning, the rows'
 * projections on m components (n x (m + 1), padded) besides: 123 MB at
 * m = 504. Only the copy is saved; the search index is rebuilt on load. */
#include "internal.h"

#include <cblas.h>
#include <omp.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <vl/kdtree.h>
#include <vl/random.h>

static const vb_param_def knn_params[] = {
    {.name = "k", .type = VB_PT_INT, .def = "5", .min = 1, .max = 1e6, .flags = VB_PF_GRID | VB_PF_PRIMARY,
     .help = "number of neighbours"},
    {.name = "metric", .type = VB_PT_ENUM, .def = "l2", .choices = "l2|cosine|l1|chi2",
     .help = "distance: Euclidean, 1 - cosine similarity, Manhattan, or chi2 sum (x-y)^2/(|x|+|y|) "
             "(the usual chi2 on histograms)"},
    {.name = "weights", .type = VB_PT_ENUM, .def = "uniform", .choices = "uniform|distance",
     .help = "vote weight of a neighbour: 1, or 1/distance"},
    {.name = "search", .type = VB_PT_ENUM, .def = "brute", .choices = "brute|kdforest",
     .help = "exact brute force, or VLFeat's randomised kd-forest (approximate, l2 only)"},
    {.name = "trees", .type = VB_PT_INT, .def = "4", .min = 1, .max = 64, .help = "kdforest: number of trees"},
    {.name = "max_comparisons", .type = VB_PT_INT, .def = "256", .min = 0, .max = 1e9,
     .help = "kdforest: leaves checked per query (0 = unlimited, exact)"},
    {.name = "block_mb", .type = VB_PT_FLOAT, .def = "32", .min = 0, .max = 1e6, .flags = VB_PF_MIN_OPEN,
     .help = "memory for one tile of test-to-training distance bounds (brute l2/cosine), and as much for the "
             "candidates kept"},
    {.name = "prune", .type = VB_PT_ENUM, .def = "auto", .choices = "auto|off",
     .help = "brute l2/cosine: skip training rows by exact lower bounds on their distance from the leading "
             "principal components (auto: when a pilot at training predicts a saving; the neighbours are the "
             "same either way)"},
    {.name = "prune_dims", .type = VB_PT_INT, .def = "0", .min = 0, .max = 8192,
     .help = "prune: components of the bounds (0: chosen by the pilot; at most features - 1)"},
};

enum { M_L2, M_COSINE, M_L1, M_CHI2 };

typedef struct knn_state {
    int k, metric, distw, kdforest, trees, prune;
    long max_cmp;
    double block_mb;
    /* trained */
    size_t n, d;
    int n_classes;
    float *X;   /* n x d (cosine: unit rows) */
    int *y;     /* n */
    uint64_t seed;
    VlKDForest *forest;
    vb_nn_index *nn; /* brute l2 / cosine */
} knn_state;

static void knn_clear(knn_state *s)
{
    if (s->forest)
        vl_kdforest_delete(s->forest);
    s->forest = NULL;
    vb_nn_free(s->nn);
    s->nn = NULL;
    free(s->X);
    free(s->y);
    s->X = NULL;
    s->y = NULL;
    s->n = 0;
}

static void knn_destroy(void *state)
{
    knn_state *s = state;
    if (!s)
        return;
    knn_clear(s);
    free(s);
}

static vb_status knn_create(const vb_params *p, void **state, vb_error *err)
{
    const char *m = vb_param_str(p, "metric");
    int metric = strcmp(m, "cosine") == 0 ? M_COSINE : strcmp(m, "l1") == 0 ? M_L1
               : strcmp(m, "chi2") == 0 ? M_CHI2 : M_L2;
    int kdf = vb_param_is(p, "search", "kdforest");
    if (kdf && metric != M_L2)
        return vb_param_fail(p, "search", err, "knn: search: kdforest supports only metric: l2 (metric is %s)", m);
    knn_state *s = vb_calloc(1, sizeof *s, err);
    if (!s)
        return VB_ERR_NOMEM;
    s->k = (int)vb_param_int(p, "k");
    s->metric = metric;
    s->distw = vb_param_is(p, "weights", "distance");
    s->kdforest = kdf;
    s->trees = (int)vb_param_int(p, "trees");
    s->max_cmp = vb_param_int(p, "max_comparisons");
    s->block_mb = vb_param_float(p, "block_mb");
    s->prune = vb_param_is(p, "prune", "off") ? 0 : vb_param_int(p, "prune_dims") > 0 ? (int)vb_param_int(p, "prune_dims") : -1;
    *state = s;
    return VB_OK;
}

static void normalise_rows(float *X, size_t n, size_t d)
{
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        float *x = X + i * d;
        double q = 0;
        for (size_t j = 0; j < d; j++)
            q += (double)x[j] * x[j];
        /* A zero row stays zero: its cosine distance to anything is 1. */
        float inv = q > 0 ? (float)(1.0 / sqrt(q)) : 0.0f;
        for (size_t j = 0; j < d; j++)
            x[j] *= inv;
    }
}

static vb_status build_forest(knn_state *s, vb_error *err)
{
    s->forest = vl_kdforest_new(VL_TYPE_FLOAT, s->d, (vl_size)s->trees, VlDistanceL2);
    if (!s->forest)
        return vb_fail(err, VB_ERR_NOMEM, "knn: out of memory for the kd-forest");
    vl_kdforest_set_max_num_comparisons(s->forest, (vl_size)s->max_cmp);
    /* The split dimensions are drawn from VLFeat's per-thread generator:
     * seed it so the forest (and so the neighbours) are reproducible. */
    vl_rand_seed(vl_get_rand(), (vl_uint32)vb_seed_derive(s->seed, "knn-kdforest", 0));
    vl_kdforest_build(s->forest, s->n, s->X);
    return VB_OK;
}

/* Fills the derived parts (search index or forest) of a state whose X, y
 * are set. */
static vb_status knn_finish(knn_state *s, vb_error *err)
{
    if (s->kdforest)
        return build_forest(s, err);
    if (s->metric == M_L2 || s->metric == M_COSINE)
        return vb_nn_build(s->X, s->n, s->d, s->k, s->prune, s->seed, &s->nn, err);
    return VB_OK;
}

static vb_status knn_train(void *state, const vb_traindata *td, vb_error *err)
{
    knn_state *s = state;
    knn_clear(s);
    if ((size_t)s->k > td->n)
        return vb_fail(err, VB_ERR_PARAM, "knn: k = %d is larger than the training set (%zu rows); use k <= %zu",
                       s->k, td->n, td->n);
    size_t cells;
    if (!vb_mul_ok(td->n, td->d, &cells))
        return vb_fail(err, VB_ERR_NOMEM, "knn: training set too large");
    s->n = td->n;
    s->d = td->d;
    s->n_classes = td->n_classes;
    s->seed = td->seed;
    s->X = vb_malloc(cells, sizeof *s->X, err);
    s->y = vb_malloc(td->n, sizeof *s->y, err);
    if (!s->X || !s->y) {
        knn_clear(s);
        return VB_ERR_NOMEM;
    }
    /* in parallel: for 60k HOG rows (365 MB) the page faults of the fresh
     * copy cost more than the copying */
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < td->n; i++)
        memcpy(s->X + i * td->d, td->X + i * td->d, td->d * sizeof *s->X);
    memcpy(s->y, td->y, td->n * sizeof *s->y);
    if (s->metric == M_COSINE)
        normalise_rows(s->X, s->n, s->d);
    vb_status st = knn_finish(s, err);
    if (st != VB_OK)
        knn_clear(s);
    return st;
}

/* ---- neighbour lists --------------------------------------------------- */

static inline float dist_l1(const float *a, const float *b, size_t d)
{
    float acc = 0;
#pragma omp simd reduction(+ : acc)
    for (size_t j = 0; j < d; j++)
        acc += fabsf(a[j] - b[j]);
    return acc;
}

static inline float dist_chi2(const float *a, const float *b, size_t d)
{
    float acc = 0;
#pragma omp simd reduction(+ : acc)
    for (size_t j = 0; j < d; j++) {
        float den = fabsf(a[j]) + fabsf(b[j]), diff = a[j] - b[j];
        acc += den > 0 ? diff * diff / den : 0.0f;
    }
    return acc;
}

/* Votes of one row's neighbours (true distances dd, sorted) into scores
 * (K) and the label. */
static int vote(const knn_state *s, const float *dd, const int32_t *ii, int m, float *scores, double *w)
{
    int K = s->n_classes;
    for (int c = 0; c < K; c++)
        w[c] = 0;
    int zeros = 0;
    if (s->distw)
        for (int t = 0; t < m; t++)
            zeros += dd[t] == 0;
    for (int t = 0; t < m; t++) {
        double wt = 1;
        if (s->distw)
            wt = zeros ? (dd[t] == 0) : 1.0 / dd[t];
        w[s->y[ii[t]]] += wt;
    }
    double tot = 0;
    int best = 0;
    for (int c = 0; c < K; c++) {
        tot += w[c];
        if (w[c] > w[best])
            best = c;
    }
    if (scores)
        for (int c = 0; c < K; c++)
            scores[c] = (float)(w[c] / tot);
    return best;
}

/* ---- prediction -------------------------------------------------------- */

/* l2 and cosine: the exact neighbours from the search index (nnsearch.c),
 * in runs of queries so that the neighbour lists stay small; cosine
 * compares unit rows, whose squared distance is 2 (1 - cos). */
#define RUN_ROWS 8192

static vb_status predict_nn(const knn_state *s, const float *X, size_t n, int *labels, float *scores, vb_error *err)
{
    size_t d = s->d, run = n < RUN_ROWS ? n : RUN_ROWS;
    int k = s->k, K = s->n_classes, cosine = s->metric == M_COSINE;
    float *dd = vb_malloc(run, (size_t)k * sizeof *dd, err);
    int32_t *ii = vb_malloc(run, (size_t)k * sizeof *ii, err);
    float *Q = cosine ? vb_malloc(run, d * sizeof *Q, err) : NULL;
    double *w = vb_malloc((size_t)omp_get_max_threads(), (size_t)K * sizeof *w, err);
    vb_status st = VB_OK;
    if (!dd || !ii || (cosine && !Q) || !w) {
        st = VB_ERR_NOMEM;
        goto out;
    }
    for (size_t r0 = 0; r0 < n; r0 += run) {
        size_t m = n - r0 < run ? n - r0 : run;
        const float *Qr = X + r0 * d;
        if (cosine) {
            memcpy(Q, Qr, m * d * sizeof *Q);
            normalise_rows(Q, m, d);
            Qr = Q;
        }
        if ((st = vb_nn_query(s->nn, Qr, m, k, s->block_mb, dd, ii, err)) != VB_OK)
            goto out;
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < m; i++) {
            float *di = dd + i * (size_t)k;
            for (int t = 0; t < k; t++)
                di[t] = cosine ? di[t] / 2 : sqrtf(di[t]);
            labels[r0 + i] = vote(s, di, ii + i * (size_t)k, k, scores ? scores + (r0 + i) * (size_t)K : NULL,
                                  w + (size_t)omp_get_thread_num() * (size_t)K);
        }
    }
out:
    free(dd);
    free(ii);
    free(Q);
    free(w);
    return st;
}

static vb_status predict_direct(const knn_state *s, const float *X, size_t n, int *labels, float *scores,
                                vb_error *err)
{
    size_t N = s->n, d = s->d;
    int k = s->k, K = s->n_classes, fail = 0;
#pragma omp parallel
    {
        float *dd = malloc((size_t)k * sizeof *dd);
        int32_t *ii = malloc((size_t)k * sizeof *ii);
        double *w = malloc((size_t)K * sizeof *w);
        if (!dd || !ii || !w) {
#pragma omp atomic write
            fail = 1;
        } else {
#pragma omp for schedule(dynamic, 16)
            for (size_t i = 0; i < n; i++) {
                const float *x = X + i * d;
                int len = 0;
                for (size_t j = 0; j < N; j++) {
                    float v = s->metric == M_L1 ? dist_l1(x, s->X + j * d, d) : dist_chi2(x, s->X + j * d, d);
                    vb_topk_push(dd, ii, &len, k, v, (int32_t)j);
                }
                labels[i] = vote(s, dd, ii, len, scores ? scores + i * (size_t)K : NULL, w);
            }
        }
        free(dd);
        free(ii);
        free(w);
    }
    return fail ? vb_fail(err, VB_ERR_NOMEM, "knn: out of memory") : VB_OK;
}

static vb_status predict_forest(const knn_state *s, const float *X, size_t n, int *labels, float *scores,
                                vb_error *err)
{
    int k = s->k, K = s->n_classes, fail = 0;
    int nt = vb_get_threads();
    if (nt < 1)
        nt = 1;
    VlKDForestSearcher **sr = vb_calloc((size_t)nt, sizeof *sr, err);
    if (!sr)
        return VB_ERR_NOMEM;
    /* Searchers register themselves in the forest: create them one at a time. */
#pragma omp critical(vb_knn_searchers)
    for (int t = 0; t < nt; t++)
        sr[t] = vl_kdforest_new_searcher(s->forest);
#pragma omp parallel num_threads(nt)
    {
        VlKDForestNeighbor *nb = malloc((size_t)k * sizeof *nb);
        float *dd = malloc((size_t)k * sizeof *dd);
        int32_t *ii = malloc((size_t)k * sizeof *ii);
        double *w = malloc((size_t)K * sizeof *w);
        VlKDForestSearcher *me = sr[omp_get_thread_num()];
        if (!nb || !dd || !ii || !w || !me) {
#pragma omp atomic write
            fail = 1;
        } else {
#pragma omp for schedule(dynamic, 16)
            for (size_t i = 0; i < n; i++) {
                /* (the return value counts comparisons, not neighbours) */
                for (int t = 0; t < k; t++) {
                    nb[t].distance = INFINITY;
                    nb[t].index = (vl_uindex)-1;
                }
                vl_kdforestsearcher_query(me, nb, (vl_size)k, X + i * s->d);
                int len = 0;
                for (int t = 0; t < k; t++)
                    if (nb[t].index < s->n && isfinite(nb[t].distance)) {
                        dd[len] = sqrtf((float)nb[t].distance);
                        ii[len++] = (int32_t)nb[t].index;
                    }
                labels[i] = vote(s, dd, ii, len, scores ? scores + i * (size_t)K : NULL, w);
            }
        }
        free(nb);
        free(dd);
        free(ii);
        free(w);
    }
#pragma omp critical(vb_knn_searchers)
    for (int t = 0; t < nt; t++)
        if (sr[t])
            vl_kdforestsearcher_delete(sr[t]);
    free(sr);
    return fail ? vb_fail(err, VB_ERR_NOMEM, "knn: out of memory") : VB_OK;
}

static vb_status knn_predict(const void *state, const float *X, size_t n, int *labels, float *scores, vb_error *err)
{
    const knn_state *s = state;
    if (s->kdforest)
        return predict_forest(s, X, n, labels, scores, err);
    if (s->metric == M_L2 || s->metric == M_COSINE)
        return predict_nn(s, X, n, labels, scores, err);
    return predict_direct(s, X, n, labels, scores, err);
}

/* ---- save / load ------------------------------------------------------- */

#define KNN_TAG VB_CLF_TAG('K', 'N', 'N', 'S')

static vb_status knn_save(const void *state, vb_writer *w, vb_error *err)
{
    const knn_state *s = state;
    vb_clf_write_tag(w, KNN_TAG, 1);
    vb_write_u32(w, (uint32_t)s->metric);
    vb_write_u64(w, s->n);
    vb_write_u64(w, s->d);
    vb_write_u32(w, (uint32_t)s->n_classes);
    vb_write_u64(w, s->seed);
    vb_write_f32s(w, s->X, s->n * s->d);
    vb_write_i32s(w, s->y, s->n);
    return VB_OK;
}

static vb_status knn_load(void *state, vb_reader *r, vb_error *err)
{
    knn_state *s = state;
    knn_clear(s);
    uint32_t metric, K;
    uint64_t n, d;
    vb_status st;
    if ((st = vb_clf_read_tag(r, KNN_TAG, 1, "knn", err)) || (st = vb_read_u32(r, &metric, err)) ||
        (st = vb_read_u64(r, &n, err)) || (st = vb_read_u64(r, &d, err)) ||
        (st = vb_read_u32_range(r, &K, 2, 1u << 20, "classes", err)) || (st = vb_read_u64(r, &s->seed, err)))
        return st;
    if (metric != (uint32_t)s->metric)
        return vb_fail(err, VB_ERR_FORMAT, "%s: knn state saved with another metric than the parameters say",
                       r->what);
    size_t cells;
    if (n == 0 || d == 0 || !vb_mul_ok((size_t)n, (size_t)d, &cells) ||
        vb_clf_check_count(r, cells, 4, "training values", err) != VB_OK)
        return vb_fail(err, VB_ERR_FORMAT, "%s: corrupt knn sizes (%llu rows x %llu features)", r->what,
                       (unsigned long long)n, (unsigned long long)d);
    if ((size_t)s->k > n)
        return vb_fail(err, VB_ERR_FORMAT, "%s: knn state holds %llu rows, fewer than k = %d", r->what,
                       (unsigned long long)n, s->k);
    s->n = (size_t)n;
    s->d = (size_t)d;
    s->n_classes = (int)K;
    s->X = vb_malloc(cells, sizeof *s->X, err);
    s->y = vb_malloc(s->n, sizeof *s->y, err);
    if (!s->X || !s->y)
        return VB_ERR_NOMEM;
    if ((st = vb_read_f32s_into(r, s->X, cells, err)) || (st = vb_read_i32s_into(r, s->y, s->n, err)))
        return st;
    for (size_t i = 0; i < s->n; i++)
        if (s->y[i] < 0 || s->y[i] >= (int)K)
            return vb_fail(err, VB_ERR_FORMAT, "%s: corrupt knn label at row %zu", r->what, i);
    return knn_finish(s, err);
}

static void knn_info(const void *state, vb_buf *b)
{
    const knn_state *s = state;
    vb_buf_printf(b, "\"n_train\": %zu, \"model_mb\": ", s->n);
    vb_buf_double(b, (double)s->n * ((double)s->d * 4 + 8) / 1048576.0);
    if (s->nn)
        vb_buf_printf(b, ", \"prune_dims\": %d", vb_nn_dims(s->nn));
}

static void knn_dims(const void *state, size_t *d, int *n_classes)
{
    const knn_state *s = state;
    *d = s->d;
    *n_classes = s->n_classes;
}

const vb_classifier_vt vb_clf_knn = {
    .info = {.name = "knn",
             .help = "k nearest neighbours: exact (l2/cosine with BLAS bounds and PCA pruning, l1, chi2) or "
                     "VLFeat kd-forest",
             .doc = "The model keeps a copy of the training set (n x d floats). Scores are the (1/distance "
                    "weighted) vote fractions; ties go to the nearer training row, then to the smaller class. "
                    "l2 and cosine rank by the directly summed distance; GEMM lower bounds (on the leading "
                    "principal components when `prune` finds them worth it) only skip rows, so the neighbours "
                    "are the same with or without pruning and for any thread count. Training then fits the "
                    "components on 4096 rows and prices each number of them on a pilot of other rows.",
             .params = knn_params,
             .n_params = sizeof knn_params / sizeof knn_params[0]},
    .flags = VB_CLF_PROBA,
    .create = knn_create,
    .train = knn_train,
    .predict = knn_predict,
    .save = knn_save,
    .load = knn_load,
    .info_json = knn_info,
    .destroy = knn_destroy,
    .dims = knn_dims,
};
