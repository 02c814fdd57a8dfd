/* CART trees on histogram bins (cart.h): binning, growth, flattening,
 * prediction, save/load, shared by forest.c and tree.c.
 *
 * Binning follows LightGBM and scikit-learn's HistGradientBoosting: edges
 * from up to bin_sample rows, feature-major bytes. Growth keeps the node's
 * samples as an index list (partitioned stably, so memory access stays
 * ascending); X is never copied. A node's split comes from one histogram
 * (bin x class counts) per feature, scanned left to right with the gini
 * or entropy proxy updated incrementally.
 *
 * With every feature searched in order (the single tree), a node of at
 * least `big` samples keeps its histograms of all features; of its two
 * children only the smaller one's are counted, the larger one's are the
 * parent's minus those (histogram subtraction, as in LightGBM). The
 * smaller child is grown first, so at most about log2(n / big) such
 * histograms wait on the stack. Counts are integers, so a histogram
 * derived or counted is the same, and the tree is the same whichever
 * histograms the memory cap lets us keep, and for any thread count
 * (features are searched in parallel, each its own best, reduced in
 * feature order). */
#include "cart.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void vb_cart_opts_read(const vb_params *p, vb_cart_opts *o)
{
    memset(o, 0, sizeof *o);
    o->entropy = vb_param_is(p, "criterion", "entropy");
    o->max_depth = (int)vb_param_int(p, "max_depth");
    o->min_leaf = vb_param_int(p, "min_samples_leaf");
    o->min_split = vb_param_int(p, "min_samples_split");
    o->mf_word = vb_param_str(p, "max_features");
    o->mf_frac = vb_param_float(p, "max_features");
    o->max_bins = (int)vb_param_int(p, "max_bins");
    o->bin_sample = vb_param_int(p, "bin_sample");
}

size_t vb_cart_features_per_split(const vb_cart_opts *o, size_t d)
{
    double m;
    if (!o->mf_word)
        m = o->mf_frac * (double)d;
    else if (strcmp(o->mf_word, "sqrt") == 0)
        m = sqrt((double)d);
    else if (strcmp(o->mf_word, "log2") == 0)
        m = log2((double)d);
    else
        m = (double)d;
    size_t k = (size_t)m;
    return k < 1 ? 1 : k > d ? d : k;
}

/* ---- binning ----------------------------------------------------------- */

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* Edges (strictly increasing, at most max_bins - 1) of one feature from
 * sorted values v[0..m). A value x falls in bin #{edges < x}. */
static int make_edges(const float *v, size_t m, int max_bins, float *edges)
{
    /* distinct values */
    size_t distinct = m ? 1 : 0;
    for (size_t i = 1; i < m; i++)
        distinct += v[i] != v[i - 1];
    int ne = 0;
    if (distinct <= (size_t)max_bins) {
        for (size_t i = 1; i < m; i++)
            if (v[i] != v[i - 1]) {
                float mid = (float)(((double)v[i - 1] + (double)v[i]) / 2);
                edges[ne++] = mid < v[i] ? mid : v[i - 1];
            }
        return ne;
    }
    for (int q = 1; q < max_bins; q++) {
        size_t pos = (size_t)((double)q * (double)m / max_bins);
        if (pos == 0 || pos >= m || v[pos] == v[pos - 1])
            continue;
        float mid = (float)(((double)v[pos - 1] + (double)v[pos]) / 2);
        float e = mid < v[pos] ? mid : v[pos - 1];
        if (ne == 0 || e > edges[ne - 1])
            edges[ne++] = e;
    }
    return ne;
}

static inline int bin_of(const float *e, int ne, float x)
{
    int lo = 0, hi = ne; /* number of edges < x */
    while (lo < hi) {
        int mid = (lo + hi) >> 1;
        if (e[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

void vb_cart_bins_free(vb_cart_bins *b)
{
    free(b->B);
    free(b->edges);
    free(b->n_edges);
    memset(b, 0, sizeof *b);
}

vb_status vb_cart_bin(const vb_cart_opts *o, const vb_traindata *td, const char *name, vb_cart_bins *b,
                      vb_error *err)
{
    size_t n = td->n, d = td->d, E = (size_t)o->max_bins - 1;
    size_t m = n < (size_t)o->bin_sample ? n : (size_t)o->bin_sample;
    memset(b, 0, sizeof *b);
    b->E = E;
    size_t *rows = vb_malloc(n, sizeof *rows, err);
    b->B = vb_malloc(n, d, err);
    b->edges = vb_malloc(d, E * sizeof *b->edges, err);
    b->n_edges = vb_malloc(d, sizeof *b->n_edges, err);
    if (!rows || !b->B || !b->edges || !b->n_edges) {
        free(rows);
        return VB_ERR_NOMEM;
    }
    for (size_t i = 0; i < n; i++)
        rows[i] = i;
    if (m < n) {
        char tag[64];
        snprintf(tag, sizeof tag, "%s-bins", name);
        vb_rng *rng = vb_rng_new(vb_seed_derive(td->seed, tag, 0));
        if (!rng) {
            free(rows);
            return vb_fail(err, VB_ERR_NOMEM, "%s: out of memory", name);
        }
        vb_rng_shuffle(rng, rows, n);
        vb_rng_free(rng);
    }
    int fail = 0;
#pragma omp parallel
    {
        float *v = malloc((m ? m : 1) * sizeof *v);
        if (!v) {
#pragma omp atomic write
            fail = 1;
        } else {
#pragma omp for schedule(dynamic, 8)
            for (size_t f = 0; f < d; f++) {
                for (size_t i = 0; i < m; i++)
                    v[i] = td->X[rows[i] * d + f];
                qsort(v, m, sizeof *v, cmp_float);
                b->n_edges[f] = make_edges(v, m, o->max_bins, b->edges + f * E);
            }
        }
        free(v);
    }
    free(rows);
    if (fail)
        return vb_fail(err, VB_ERR_NOMEM, "%s: out of memory", name);
    /* Tiles of 64 rows: reads of X stay in cache, writes are 64-byte runs. */
#pragma omp parallel for schedule(static)
    for (size_t r0 = 0; r0 < n; r0 += 64) {
        size_t r1 = r0 + 64 < n ? r0 + 64 : n;
        for (size_t f = 0; f < d; f++) {
            const float *e = b->edges + f * E;
            int ne = b->n_edges[f];
            uint8_t *col = b->B + f * n;
            for (size_t i = r0; i < r1; i++)
                col[i] = (uint8_t)bin_of(e, ne, td->X[i * d + f]);
        }
    }
    return VB_OK;
}

double *vb_cart_xlogx(size_t n, vb_error *err)
{
    double *t = vb_malloc(n + 1, sizeof *t, err);
    if (t)
        for (size_t i = 0; i <= n; i++)
            t[i] = i ? (double)i * log((double)i) : 0;
    return t;
}

/* ---- growing one tree -------------------------------------------------- */

/* Nodes with at least this many samples keep all their histograms (full
 * growth); smaller ones count only occupied bins, feature by feature. */
#define BIG_MIN 2048
/* A node's features are searched in parallel from this many
 * (sample, feature) pairs on. */
#define PAR_MIN 32768
/* Memory for the kept histograms of full growth. */
#define POOL_BYTES ((size_t)512 << 20)

struct vb_cart_work {
    size_t n, d;
    int K;
    uint32_t *idx, *tmp; /* n */
    int32_t *yv;         /* labels of the current node's samples */
    int32_t *hist;       /* 256 x K (the sequential search) */
    double *cnt, *lc;    /* K: node class counts, left counts */
    size_t *feat;        /* d: feature order */
    const double *xlogx; /* n + 1 (entropy) */
    /* full growth */
    int full, nth;
    int32_t *thist; /* nth x 256 x K */
    double *tlc;    /* nth x K */
    double *fbest;  /* d: each feature's best proxy in the node */
    int *fbin;      /* d: and its bin */
    size_t *hoff;   /* d + 1: offsets of the features in a node's histograms */
    size_t big;     /* samples from which a node keeps its histograms */
    int32_t **pool; /* max_pool buffers of hoff[d] counts, allocated on first use */
    uint8_t *busy;
    int max_pool;
};

void vb_cart_work_free(vb_cart_work *w)
{
    if (!w)
        return;
    free(w->idx);
    free(w->tmp);
    free(w->yv);
    free(w->hist);
    free(w->cnt);
    free(w->lc);
    free(w->feat);
    free(w->thist);
    free(w->tlc);
    free(w->fbest);
    free(w->fbin);
    free(w->hoff);
    for (int i = 0; w->pool && i < w->max_pool; i++)
        free(w->pool[i]);
    free(w->pool);
    free(w->busy);
    free(w);
}

vb_cart_work *vb_cart_work_new(const vb_cart_bins *bn, size_t n, size_t d, int K, const double *xlogx, int full)
{
    vb_cart_work *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->n = n;
    w->d = d;
    w->K = K;
    w->xlogx = xlogx;
    w->idx = malloc(n * sizeof *w->idx);
    w->tmp = malloc(n * sizeof *w->tmp);
    w->yv = malloc(n * sizeof *w->yv);
    w->hist = calloc(256 * (size_t)K, sizeof *w->hist);
    w->cnt = malloc((size_t)K * sizeof *w->cnt);
    w->lc = malloc((size_t)K * sizeof *w->lc);
    w->feat = malloc(d * sizeof *w->feat);
    int ok = w->idx && w->tmp && w->yv && w->hist && w->cnt && w->lc && w->feat;
    if (ok && full) {
        w->full = 1;
        w->nth = omp_get_max_threads();
        w->thist = calloc((size_t)w->nth * 256 * (size_t)K, sizeof *w->thist);
        w->tlc = malloc((size_t)w->nth * (size_t)K * sizeof *w->tlc);
        w->fbest = malloc(d * sizeof *w->fbest);
        w->fbin = malloc(d * sizeof *w->fbin);
        w->hoff = malloc((d + 1) * sizeof *w->hoff);
        ok = w->thist && w->tlc && w->fbest && w->fbin && w->hoff;
        if (ok) {
            w->hoff[0] = 0;
            for (size_t f = 0; f < d; f++)
                w->hoff[f + 1] = w->hoff[f] + ((size_t)bn->n_edges[f] + 1) * (size_t)K;
            size_t bytes = w->hoff[d] * sizeof(int32_t), cap = POOL_BYTES / (bytes ? bytes : 1);
            w->max_pool = cap < 2 ? 2 : cap > 32 ? 32 : (int)cap;
            w->big = 4 * 256 * (size_t)K > BIG_MIN ? 4 * 256 * (size_t)K : BIG_MIN;
            w->pool = calloc((size_t)w->max_pool, sizeof *w->pool);
            w->busy = calloc((size_t)w->max_pool, 1);
            ok = w->pool && w->busy;
        }
    }
    if (!ok) {
        vb_cart_work_free(w);
        return NULL;
    }
    return w;
}

/* A free histogram buffer (NULL when none may be had: then the caller
 * counts histograms instead of keeping them). */
static int32_t *pool_get(vb_cart_work *w)
{
    for (int i = 0; i < w->max_pool; i++)
        if (!w->busy[i]) {
            if (!w->pool[i] && !(w->pool[i] = malloc(w->hoff[w->d] * sizeof(int32_t))))
                return NULL;
            w->busy[i] = 1;
            return w->pool[i];
        }
    return NULL;
}

static void pool_put(vb_cart_work *w, int32_t *h)
{
    for (int i = 0; h && i < w->max_pool; i++)
        if (w->pool[i] == h)
            w->busy[i] = 0;
}

void vb_cart_tree_free(vb_cart_tree *t)
{
    free(t->nodes);
    free(t->vals);
    free(t->imp);
    free(t->cnt);
    free(t->nimp);
    memset(t, 0, sizeof *t);
}

typedef struct job {
    size_t start, count;
    int32_t node;
    int depth;
    int32_t *hist; /* the node's histograms of every feature, or NULL */
} job;

static int32_t new_node(vb_cart_tree *t, int stats, int K)
{
    if (t->n_nodes == t->cap_nodes) {
        size_t cap = t->cap_nodes ? 2 * t->cap_nodes : 256;
        if (cap > 0x7fffffff)
            return -1;
        vb_cart_node *p = realloc(t->nodes, cap * sizeof *p);
        if (!p)
            return -1;
        t->nodes = p;
        if (stats) {
            double *c = realloc(t->cnt, cap * (size_t)K * sizeof *c);
            if (c)
                t->cnt = c;
            double *m = c ? realloc(t->nimp, cap * sizeof *m) : NULL;
            if (!m)
                return -1;
            t->nimp = m;
        }
        t->cap_nodes = cap;
    }
    return (int32_t)t->n_nodes++;
}

void vb_cart_leaf_values(const double *cnt, int K, double total, float *v)
{
    for (int c = 0; c < K; c++)
        v[c] = (float)(cnt[c] / total);
}

static int make_leaf(vb_cart_tree *t, int32_t node, const double *cnt, int K, double total)
{
    if (t->n_vals + (size_t)K > t->cap_vals) {
        size_t cap = t->cap_vals ? 2 * t->cap_vals : 1024 * (size_t)K;
        float *p = realloc(t->vals, cap * sizeof *p);
        if (!p || cap > 0x7fffffff)
            return -1;
        t->vals = p;
        t->cap_vals = cap;
    }
    vb_cart_node *nd = &t->nodes[node];
    nd->feature = -1;
    nd->thr = 0;
    nd->left = (int32_t)t->n_vals;
    nd->right = -1;
    vb_cart_leaf_values(cnt, K, total, t->vals + t->n_vals);
    t->n_vals += (size_t)K;
    t->leaves++;
    return 0;
}

double vb_cart_node_impurity(int entropy, const double *c, int K, double N, const double *xlogx)
{
    double v = 0;
    if (entropy) {
        for (int k = 0; k < K; k++)
            v -= xlogx[(size_t)c[k]];
        return v + xlogx[(size_t)N];
    }
    for (int k = 0; k < K; k++)
        v += c[k] * c[k];
    return N - v / N;
}

/* Histogram of one feature over a node's samples into h (256 x K, zero on
 * entry); the occupied bins, ascending, into bins. Returns their number. */
static int count_bins(const uint8_t *col, const uint32_t *ix, const int32_t *yv, size_t N, int K, int32_t *h,
                      int *bins)
{
    /* occupied bins as a 256-bit set: small nodes scan only those */
    uint64_t occ[4] = {0, 0, 0, 0};
    for (size_t i = 0; i < N; i++) {
        int b = col[ix[i]];
        h[b * K + yv[i]]++;
        occ[b >> 6] |= 1ull << (b & 63);
    }
    int nb = 0;
    for (int q = 0; q < 4; q++)
        for (uint64_t bits = occ[q]; bits; bits &= bits - 1)
            bins[nb++] = q * 64 + __builtin_ctzll(bits);
    return nb;
}

/* The candidate splits "bin <= b" of one feature, b running over the
 * occupied bins (ascending, but the last) of its histogram h; each side
 * needs min_leaf samples. Updates *best and *best_b on a strictly larger
 * proxy (so the first bin wins ties) and says whether it did. clear: zero
 * the bins scanned (the last is the caller's). lc: K scratch. */
static int scan_bins(const vb_cart_opts *o, int32_t *h, const int *bins, int nb, int K, const double *cnt, double dN,
                     const double *xlogx, double *lc, int clear, double *best, int *best_b)
{
    int found = 0;
    for (int c = 0; c < K; c++)
        lc[c] = 0;
    double NL = 0, sl = 0, sr = 0;
    if (!o->entropy)
        for (int c = 0; c < K; c++)
            sr += cnt[c] * cnt[c];
    for (int q = 0; q + 1 < nb; q++) {
        int b = bins[q];
        int32_t *hb = h + (size_t)b * (size_t)K;
        for (int c = 0; c < K; c++)
            if (hb[c]) {
                double a = hb[c], l = lc[c], rr = cnt[c] - l;
                if (!o->entropy) {
                    sl += a * (2 * l + a);
                    sr += a * (a - 2 * rr);
                }
                lc[c] = l + a;
                NL += a;
                if (clear)
                    hb[c] = 0;
            }
        double NR = dN - NL;
        if (NL < (double)o->min_leaf || NR < (double)o->min_leaf)
            continue;
        double proxy;
        if (!o->entropy)
            proxy = sl / NL + sr / NR;
        else {
            proxy = -xlogx[(size_t)NL] - xlogx[(size_t)NR];
            for (int c = 0; c < K; c++)
                proxy += xlogx[(size_t)lc[c]] + xlogx[(size_t)(cnt[c] - lc[c])];
        }
        if (proxy > *best) {
            *best = proxy;
            *best_b = b;
            found = 1;
        }
    }
    return found;
}

/* One feature's best split in a node by counting (h: zero 256 x K scratch,
 * zero again on return). Returns the number of occupied bins (< 2: the
 * feature is constant in the node). */
static int feature_split(const vb_cart_opts *o, const uint8_t *col, const uint32_t *ix, const int32_t *yv, size_t N,
                         int K, const double *cnt, const double *xlogx, int32_t *h, double *lc, double *best,
                         int *best_b, int *found)
{
    int bins[256];
    int nb = count_bins(col, ix, yv, N, K, h, bins);
    *found = 0;
    if (nb >= 2)
        *found = scan_bins(o, h, bins, nb, K, cnt, (double)N, xlogx, lc, 1, best, best_b);
    memset(h + (size_t)bins[nb - 1] * (size_t)K, 0, (size_t)K * sizeof *h);
    return nb;
}

/* The node's best split over mf features in a fresh random order (the
 * forest's): -1 when there is none. */
static int split_random(const vb_cart_opts *o, const vb_cart_bins *bn, size_t n, size_t d, int K, size_t mf,
                        vb_rng *rng, vb_cart_work *w, const uint32_t *ix, size_t N, int *best_bin)
{
    double best = -INFINITY;
    int best_f = -1;
    size_t tried = 0;
    for (size_t j = 0; j < d && tried < mf; j++) {
        size_t r = j + vb_rng_below(rng, d - j);
        size_t f = w->feat[r];
        w->feat[r] = w->feat[j];
        w->feat[j] = f;
        int found;
        if (feature_split(o, bn->B + f * n, ix, w->yv, N, K, w->cnt, w->xlogx, w->hist, w->lc, &best, best_bin,
                          &found) < 2)
            continue;
        tried++;
        if (found)
            best_f = (int)f;
    }
    return best_f;
}

/* Counts the histograms of every feature over N samples into hs. */
static void count_all(const vb_cart_bins *bn, size_t n, size_t d, int K, const vb_cart_work *w, const uint32_t *ix,
                      size_t N, int32_t *hs)
{
#pragma omp parallel for schedule(dynamic, 8) if (N * d >= PAR_MIN)
    for (size_t f = 0; f < d; f++) {
        int32_t *h = hs + w->hoff[f];
        memset(h, 0, (w->hoff[f + 1] - w->hoff[f]) * sizeof *h);
        const uint8_t *col = bn->B + f * n;
        for (size_t i = 0; i < N; i++)
            h[col[ix[i]] * K + w->yv[i]]++;
    }
}

/* The node's best split over every feature in order: from its kept
 * histograms when hs is given, else by counting; -1 when there is none. */
static int split_all(const vb_cart_opts *o, const vb_cart_bins *bn, size_t n, size_t d, int K, vb_cart_work *w,
                     const uint32_t *ix, size_t N, int32_t *hs, int *best_bin)
{
#pragma omp parallel for schedule(dynamic, 8) if (N * d >= PAR_MIN)
    for (size_t f = 0; f < d; f++) {
        int tid = omp_get_thread_num();
        double *lc = w->tlc + (size_t)tid * (size_t)K, best = -INFINITY;
        int b = 0, found;
        if (hs) {
            int32_t *h = hs + w->hoff[f];
            int bins[256], nb = 0, nbins = (int)((w->hoff[f + 1] - w->hoff[f]) / (size_t)K);
            for (int q = 0; q < nbins; q++) {
                const int32_t *hb = h + (size_t)q * (size_t)K;
                int any = 0;
                for (int c = 0; c < K; c++)
                    any |= hb[c];
                if (any)
                    bins[nb++] = q;
            }
            found = nb >= 2 && scan_bins(o, h, bins, nb, K, w->cnt, (double)N, w->xlogx, lc, 0, &best, &b);
        } else
            feature_split(o, bn->B + f * n, ix, w->yv, N, K, w->cnt, w->xlogx,
                          w->thist + (size_t)tid * 256 * (size_t)K, lc, &best, &b, &found);
        w->fbest[f] = found ? best : -INFINITY;
        w->fbin[f] = b;
    }
    double best = -INFINITY;
    int best_f = -1;
    for (size_t f = 0; f < d; f++)
        if (w->fbest[f] > best) {
            best = w->fbest[f];
            best_f = (int)f;
            *best_bin = w->fbin[f];
        }
    return best_f;
}

/* After a split of a node with kept histograms hs: the children's. The
 * smaller child's are counted, the larger one's are hs minus those; each
 * is kept (in *hsmall, *hlarge) when its child is big. */
static void derive_hists(const vb_cart_bins *bn, const int *y, size_t n, size_t d, int K, vb_cart_work *w,
                         const uint32_t *ix_small, size_t n_small, size_t n_large, int32_t *hs, int32_t **hsmall,
                         int32_t **hlarge)
{
    *hsmall = *hlarge = NULL;
    int32_t *h = n_large >= w->big ? pool_get(w) : NULL;
    if (!h) {
        pool_put(w, hs);
        return;
    }
    for (size_t i = 0; i < n_small; i++)
        w->yv[i] = y[ix_small[i]];
    count_all(bn, n, d, K, w, ix_small, n_small, h);
    size_t H = w->hoff[d];
#pragma omp parallel for schedule(static) if (H >= PAR_MIN)
    for (size_t i = 0; i < H; i++)
        hs[i] -= h[i];
    *hlarge = hs;
    if (n_small >= w->big)
        *hsmall = h;
    else
        pool_put(w, h);
}

int vb_cart_grow(const vb_cart_opts *o, const vb_cart_bins *bn, const int *y, size_t n, size_t d, int K,
                 size_t mf, vb_rng *rng, int stats, vb_cart_work *w, vb_cart_tree *t)
{
    job *stack = NULL;
    size_t sp = 0, cap = 0;
    int rc = -1;
    if (!rng && !w->full)
        return -1; /* every feature in order needs the scratch of full growth */
    /* sample: a bootstrap draw, as ascending indices with repeats */
    size_t m = n;
    if (rng && o->bootstrap) {
        uint32_t *c = w->tmp;
        memset(c, 0, n * sizeof *c);
        for (size_t i = 0; i < n; i++)
            c[vb_rng_below(rng, n)]++;
        m = 0;
        for (size_t i = 0; i < n; i++)
            for (uint32_t r = 0; r < c[i]; r++)
                w->idx[m++] = (uint32_t)i;
    } else
        for (size_t i = 0; i < n; i++)
            w->idx[i] = (uint32_t)i;
    for (size_t f = 0; f < d; f++)
        w->feat[f] = f;
    int32_t root = new_node(t, stats, K);
    if (root < 0)
        goto done;
    cap = 64;
    stack = malloc(cap * sizeof *stack);
    if (!stack)
        goto done;
    stack[sp++] = (job){0, m, root, 0, NULL};
    double *cnt = w->cnt, *lc = w->lc;
    while (sp > 0) {
        if (vb_interrupted()) {
            rc = -2;
            goto done;
        }
        job jb = stack[--sp];
        uint32_t *ix = w->idx + jb.start;
        size_t N = jb.count;
        for (int c = 0; c < K; c++)
            cnt[c] = 0;
        for (size_t i = 0; i < N; i++) {
            int32_t c = y[ix[i]];
            w->yv[i] = c;
            cnt[c]++;
        }
        if (jb.depth > t->depth)
            t->depth = jb.depth;
        int classes = 0;
        for (int c = 0; c < K; c++)
            classes += cnt[c] > 0;
        double dN = (double)N;
        if (stats) {
            memcpy(t->cnt + (size_t)jb.node * (size_t)K, cnt, (size_t)K * sizeof *cnt);
            t->nimp[jb.node] = vb_cart_node_impurity(o->entropy, cnt, K, dN, w->xlogx);
        }
        int best_f = -1, best_b = 0;
        if (!(classes < 2 || (long)N < o->min_split || (long)N < 2 * o->min_leaf ||
              (o->max_depth > 0 && jb.depth >= o->max_depth))) {
            if (rng)
                best_f = split_random(o, bn, n, d, K, mf, rng, w, ix, N, &best_b);
            else {
                if (!jb.hist && N >= w->big && (jb.hist = pool_get(w)) != NULL)
                    count_all(bn, n, d, K, w, ix, N, jb.hist);
                best_f = split_all(o, bn, n, d, K, w, ix, N, jb.hist, &best_b);
            }
        }
        if (best_f < 0) {
            if (w->full)
                pool_put(w, jb.hist);
            if (make_leaf(t, jb.node, cnt, K, dN) < 0)
                goto done;
            continue;
        }
        /* stable partition of the node's samples by bin <= best_b */
        const uint8_t *col = bn->B + (size_t)best_f * n;
        size_t nl = 0, nr = 0;
        for (size_t i = 0; i < N; i++) {
            uint32_t v = ix[i];
            if (col[v] <= best_b)
                ix[nl++] = v;
            else
                w->tmp[nr++] = v;
        }
        memcpy(ix + nl, w->tmp, nr * sizeof *ix);
        /* impurity decrease (for importances), from the left/right counts */
        for (int c = 0; c < K; c++)
            lc[c] = 0;
        for (size_t i = 0; i < nl; i++)
            lc[y[ix[i]]]++;
        double imp_t = vb_cart_node_impurity(o->entropy, cnt, K, dN, w->xlogx);
        double imp_l = vb_cart_node_impurity(o->entropy, lc, K, (double)nl, w->xlogx);
        for (int c = 0; c < K; c++)
            lc[c] = cnt[c] - lc[c];
        double imp_r = vb_cart_node_impurity(o->entropy, lc, K, (double)nr, w->xlogx);
        t->imp[best_f] += imp_t - imp_l - imp_r;
        int32_t L = new_node(t, stats, K), R = new_node(t, stats, K);
        if (L < 0 || R < 0)
            goto done;
        vb_cart_node *nd = &t->nodes[jb.node];
        nd->feature = best_f;
        nd->thr = bn->edges[(size_t)best_f * bn->E + (size_t)best_b];
        nd->left = L;
        nd->right = R;
        if (sp + 2 > cap) {
            cap *= 2;
            job *p = realloc(stack, cap * sizeof *p);
            if (!p)
                goto done;
            stack = p;
        }
        job jl = {jb.start, nl, L, jb.depth + 1, NULL}, jr = {jb.start + nl, nr, R, jb.depth + 1, NULL};
        if (rng || nr >= nl) {
            /* the left child is grown first (the forest's order; with full
             * growth: the smaller child first, to keep few histograms) */
            if (jb.hist)
                derive_hists(bn, y, n, d, K, w, ix, nl, nr, jb.hist, &jl.hist, &jr.hist);
            stack[sp++] = jr;
            stack[sp++] = jl;
        } else {
            if (jb.hist)
                derive_hists(bn, y, n, d, K, w, ix + nl, nr, nl, jb.hist, &jr.hist, &jl.hist);
            stack[sp++] = jl;
            stack[sp++] = jr;
        }
    }
    rc = 0;
done:
    if (w->full) /* every kept histogram is free again */
        memset(w->busy, 0, (size_t)w->max_pool);
    free(stack);
    return rc;
}

/* ---- trained trees ----------------------------------------------------- */

void vb_cart_model_clear(vb_cart_model *m)
{
    free(m->roots);
    free(m->nodes);
    free(m->vals);
    free(m->importance);
    m->roots = NULL;
    m->nodes = NULL;
    m->vals = NULL;
    m->importance = NULL;
    m->n_nodes = m->n_vals = m->n_leaves = 0;
}

vb_status vb_cart_model_set(vb_cart_model *m, const vb_cart_tree *trees, int T, size_t d, int K, const char *name,
                            vb_error *err)
{
    vb_cart_model_clear(m);
    m->d = d;
    m->K = K;
    m->T = T;
    size_t nn = 0, nv = 0;
    for (int t = 0; t < T; t++) {
        nn += trees[t].n_nodes;
        nv += trees[t].n_vals;
    }
    if (nn > 0x7fffffff || nv > 0x7fffffff)
        return vb_fail(err, VB_ERR_NOMEM, "%s: %zu nodes is beyond 2^31; limit max_depth", name, nn);
    m->roots = vb_malloc((size_t)T, sizeof *m->roots, err);
    m->nodes = vb_malloc(nn, sizeof *m->nodes, err);
    m->vals = vb_malloc(nv, sizeof *m->vals, err);
    m->importance = vb_calloc(d, sizeof *m->importance, err);
    if (!m->roots || !m->nodes || !m->vals || !m->importance) {
        vb_cart_model_clear(m);
        return VB_ERR_NOMEM;
    }
    size_t on = 0, ov = 0;
    m->depth_max = 0;
    for (int t = 0; t < T; t++) {
        const vb_cart_tree *to = &trees[t];
        m->roots[t] = (int32_t)on;
        for (size_t i = 0; i < to->n_nodes; i++) {
            vb_cart_node nd = to->nodes[i];
            if (nd.feature >= 0) {
                nd.left += (int32_t)on;
                nd.right += (int32_t)on;
            } else
                nd.left += (int32_t)ov;
            m->nodes[on + i] = nd;
        }
        memcpy(m->vals + ov, to->vals, to->n_vals * sizeof *m->vals);
        on += to->n_nodes;
        ov += to->n_vals;
        double sum = 0;
        for (size_t f = 0; f < d; f++)
            sum += to->imp[f];
        if (sum > 0)
            for (size_t f = 0; f < d; f++)
                m->importance[f] += to->imp[f] / sum / T;
        if (to->depth > m->depth_max)
            m->depth_max = to->depth;
        m->n_leaves += to->leaves;
    }
    m->n_nodes = nn;
    m->n_vals = nv;
    return VB_OK;
}

vb_status vb_cart_predict(const vb_cart_model *m, const float *X, size_t n, int *labels, float *scores,
                          const char *name, vb_error *err)
{
    int K = m->K, T = m->T, fail = 0;
#pragma omp parallel
    {
        double *acc = malloc((size_t)K * sizeof *acc);
        if (!acc) {
#pragma omp atomic write
            fail = 1;
        } else {
#pragma omp for schedule(static)
            for (size_t i = 0; i < n; i++) {
                const float *x = X + i * m->d;
                for (int c = 0; c < K; c++)
                    acc[c] = 0;
                for (int t = 0; t < T; t++) {
                    const vb_cart_node *nd = &m->nodes[m->roots[t]];
                    while (nd->feature >= 0)
                        nd = &m->nodes[x[nd->feature] <= nd->thr ? nd->left : nd->right];
                    const float *v = m->vals + nd->left;
                    for (int c = 0; c < K; c++)
                        acc[c] += v[c];
                }
                int best = 0;
                for (int c = 1; c < K; c++)
                    if (acc[c] > acc[best])
                        best = c;
                labels[i] = best;
                if (scores)
                    for (int c = 0; c < K; c++)
                        scores[i * (size_t)K + (size_t)c] = (float)(acc[c] / T);
            }
        }
        free(acc);
    }
    return fail ? vb_fail(err, VB_ERR_NOMEM, "%s: out of memory", name) : VB_OK;
}

void vb_cart_save(const vb_cart_model *m, vb_writer *w, uint32_t tag)
{
    vb_clf_write_tag(w, tag, 1);
    vb_write_u64(w, m->d);
    vb_write_u32(w, (uint32_t)m->K);
    vb_write_u32(w, (uint32_t)m->T);
    vb_write_u64(w, m->n_nodes);
    vb_write_u64(w, m->n_vals);
    vb_write_u32(w, (uint32_t)m->depth_max);
    vb_write_u64(w, m->n_leaves);
    vb_write_i32s(w, m->roots, (size_t)m->T);
    for (size_t i = 0; i < m->n_nodes; i++) {
        vb_write_i32(w, m->nodes[i].feature);
        vb_write_f32(w, m->nodes[i].thr);
        vb_write_i32(w, m->nodes[i].left);
        vb_write_i32(w, m->nodes[i].right);
    }
    vb_write_f32s(w, m->vals, m->n_vals);
    vb_write_f64s(w, m->importance, m->d);
}

vb_status vb_cart_load(vb_cart_model *m, vb_reader *r, uint32_t tag, int T_want, const char *name, vb_error *err)
{
    vb_cart_model_clear(m);
    uint64_t d, nn, nv, leaves;
    uint32_t K, T, depth;
    vb_status st;
    if ((st = vb_clf_read_tag(r, tag, 1, name, err)) || (st = vb_read_u64(r, &d, err)) ||
        (st = vb_read_u32_range(r, &K, 2, 1u << 20, "classes", err)) ||
        (st = vb_read_u32_range(r, &T, 1, 100000, "trees", err)) || (st = vb_read_u64(r, &nn, err)) ||
        (st = vb_read_u64(r, &nv, err)) || (st = vb_read_u32(r, &depth, err)) ||
        (st = vb_read_u64(r, &leaves, err)))
        return st;
    if (T != (uint32_t)T_want)
        return vb_fail(err, VB_ERR_FORMAT, "%s: %s state has %u trees, the parameters say %d", r->what, name, T,
                       T_want);
    if (d == 0 || d > (1ull << 32) || nn < T || nn > 0x7fffffff || nv > 0x7fffffff ||
        (st = vb_clf_check_count(r, nn, 16, "nodes", err)) || (st = vb_clf_check_count(r, nv, 4, "values", err)) ||
        (st = vb_clf_check_count(r, d, 8, "importances", err)))
        return st ? st : vb_fail(err, VB_ERR_FORMAT, "%s: corrupt %s sizes", r->what, name);
    m->d = (size_t)d;
    m->K = (int)K;
    m->T = (int)T;
    m->n_nodes = (size_t)nn;
    m->n_vals = (size_t)nv;
    m->depth_max = (int)depth;
    m->n_leaves = (size_t)leaves;
    m->roots = vb_malloc(T, sizeof *m->roots, err);
    m->nodes = vb_malloc(m->n_nodes, sizeof *m->nodes, err);
    m->vals = vb_malloc(m->n_vals ? m->n_vals : 1, sizeof *m->vals, err);
    m->importance = vb_malloc(m->d, sizeof *m->importance, err);
    if (!m->roots || !m->nodes || !m->vals || !m->importance)
        return VB_ERR_NOMEM;
    if ((st = vb_read_i32s_into(r, m->roots, T, err)))
        return st;
    for (size_t i = 0; i < m->n_nodes; i++) {
        vb_cart_node *nd = &m->nodes[i];
        if ((st = vb_read_i32(r, &nd->feature, err)) || (st = vb_read_f32(r, &nd->thr, err)) ||
            (st = vb_read_i32(r, &nd->left, err)) || (st = vb_read_i32(r, &nd->right, err)))
            return st;
    }
    if ((st = vb_read_f32s_into(r, m->vals, m->n_vals, err)) ||
        (st = vb_read_f64s_into(r, m->importance, m->d, err)))
        return st;
    /* Trees are contiguous and children come after their parent within the
     * tree, so traversal always ends; leaves point at K values. */
    for (uint32_t t = 0; t < T; t++) {
        size_t lo = (size_t)m->roots[t], hi = t + 1 < T ? (size_t)m->roots[t + 1] : m->n_nodes;
        if (m->roots[t] < 0 || lo >= hi || hi > m->n_nodes || (t == 0 && lo != 0))
            return vb_fail(err, VB_ERR_FORMAT, "%s: corrupt %s tree table", r->what, name);
        for (size_t i = lo; i < hi; i++) {
            const vb_cart_node *nd = &m->nodes[i];
            int ok = nd->feature < 0
                         ? nd->left >= 0 && (size_t)nd->left + K <= m->n_vals
                         : (size_t)nd->feature < m->d && (size_t)nd->left > i && (size_t)nd->left < hi &&
                               (size_t)nd->right > i && (size_t)nd->right < hi && isfinite(nd->thr);
            if (!ok)
                return vb_fail(err, VB_ERR_FORMAT, "%s: corrupt %s node %zu", r->what, name, i);
        }
    }
    return VB_OK;
}

void vb_cart_info(const vb_cart_model *m, vb_buf *b)
{
    vb_buf_printf(b, "\"n_nodes\": %zu, \"n_leaves\": %zu, \"max_depth\": %d, \"top_features\": [", m->n_nodes,
                  m->n_leaves, m->depth_max);
    /* the ten most important features as [index, importance] */
    int taken[10];
    int nt = 0;
    for (; nt < 10 && (size_t)nt < m->d; nt++) {
        int best = -1;
        for (size_t f = 0; f < m->d; f++) {
            int dup = 0;
            for (int j = 0; j < nt; j++)
                dup |= taken[j] == (int)f;
            if (!dup && (best < 0 || m->importance[f] > m->importance[best]))
                best = (int)f;
        }
        taken[nt] = best;
        vb_buf_printf(b, "%s[%d, ", nt ? ", " : "", best);
        vb_buf_double(b, m->importance[best]);
        vb_buf_puts(b, "]");
    }
    size_t used = 0;
    for (size_t f = 0; f < m->d; f++)
        used += m->importance[f] > 0;
    vb_buf_printf(b, "], \"features_used\": %zu", used);
}
