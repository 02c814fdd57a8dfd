/* CART trees on histogram bins (cart.h): binning, growth, flattening,
 * prediction, save/load, shared by forest.c and tree.c.
 *
 * Binning follows LightGBM and scikit-learn's HistGradientBoosting: edges
 * from up to bin_sample rows (radix-sorted), bins as bytes (feature-major
 * for the forest, rows of 16 features for the tree). Growth keeps the
 * node's samples as an index list (partitioned stably, so memory access
 * stays ascending); X is never copied. A node's split comes from one
 * histogram (bin x class counts) per feature, scanned left to right with
 * the gini or entropy proxy updated incrementally, visiting only the
 * classes present in a bin.
 *
 * With every feature searched in order (the single tree, "full growth"),
 * a node of at least `big` samples keeps its histograms of all features;
 * of its two children only the smaller one's are counted, the larger
 * one's are the parent's minus those (histogram subtraction, as in
 * LightGBM). The smaller child is grown first, so at most about
 * log2(n / big) such histograms wait on the stack. The nodes of n / 32
 * samples (and 1024) or more are searched a block of features a thread;
 * below that each subtree is a task grown on one thread into a tree of
 * its own, and stitched in a fixed order. Counts are integers, so a
 * histogram derived or counted is the same, each feature's best split is
 * reduced in feature order, and the tree is the same whichever histograms
 * the memory cap lets us keep, and for any thread count. */
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

/* Sorts the finite values v[0..m) ascending (k, tmp: m scratch each): an
 * LSD radix sort of their order-preserving unsigned images, a byte a
 * pass, skipping the bytes all values share (-0 comes back as +0). */
static void sort_floats(float *v, size_t m, uint32_t *k, uint32_t *tmp)
{
    for (size_t i = 0; i < m; i++) {
        uint32_t u;
        float x = v[i] == 0 ? 0.0f : v[i];
        memcpy(&u, &x, sizeof u);
        k[i] = u & 0x80000000u ? ~u : u | 0x80000000u;
    }
    for (int shift = 0; shift < 32; shift += 8) {
        size_t c[256] = {0};
        for (size_t i = 0; i < m; i++)
            c[k[i] >> shift & 255]++;
        if (m == 0 || c[k[0] >> shift & 255] == m)
            continue;
        for (size_t b = 0, sum = 0; b < 256; b++) {
            size_t t = c[b];
            c[b] = sum;
            sum += t;
        }
        for (size_t i = 0; i < m; i++)
            tmp[c[k[i] >> shift & 255]++] = k[i];
        uint32_t *sw = k;
        k = tmp;
        tmp = sw;
    }
    for (size_t i = 0; i < m; i++) {
        uint32_t u = k[i] & 0x80000000u ? k[i] & 0x7fffffffu : ~k[i];
        memcpy(&v[i], &u, sizeof u);
    }
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

/* The bins of m values x into out[i * stride]: the number of edges < x by
 * a branch-free binary search over the edges padded with +inf to 2 top - 1
 * entries (top a power of two, or 0 for none), the values abreast (a
 * gather a step). */
static void bins_of(const float *pad, int top, const float *x, size_t m, uint8_t *out, size_t stride)
{
    int lo[64];
    for (size_t i = 0; i < m; i++)
        lo[i] = 0;
    for (int step = top; step; step >>= 1)
        for (size_t i = 0; i < m; i++)
            lo[i] += pad[lo[i] + step - 1] < x[i] ? step : 0;
    for (size_t i = 0; i < m; i++)
        out[i * stride] = (uint8_t)lo[i];
}

/* Feature f's bins: row i's at col[i * bn->fb]. */
static inline const uint8_t *bin_col(const vb_cart_bins *bn, size_t f)
{
    return bn->B + (f / bn->fb) * bn->n * bn->fb + f % bn->fb;
}

void vb_cart_bins_free(vb_cart_bins *b)
{
    free(b->B);
    free(b->edges);
    free(b->n_edges);
    memset(b, 0, sizeof *b);
}

vb_status vb_cart_bin(const vb_cart_opts *o, const vb_traindata *td, const char *name, size_t fb, vb_cart_bins *b,
                      vb_error *err)
{
    size_t n = td->n, d = td->d, E = (size_t)o->max_bins - 1;
    size_t m = n < (size_t)o->bin_sample ? n : (size_t)o->bin_sample;
    memset(b, 0, sizeof *b);
    b->E = E;
    b->n = n;
    b->fb = fb;
    size_t *rows = vb_malloc(n, sizeof *rows, err);
    b->B = vb_malloc(n, (d + fb - 1) / fb * fb, err);
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
    /* features in groups of F: a row's F values are one read */
    size_t F = m ? ((size_t)1 << 22) / m : 16;
    F = F < 1 ? 1 : F > 16 ? 16 : F;
    int fail = 0;
#pragma omp parallel
    {
        float *v = malloc((m ? m : 1) * F * sizeof *v);
        uint32_t *k = malloc((m ? m : 1) * 2 * sizeof *k);
        if (!v || !k) {
#pragma omp atomic write
            fail = 1;
        } else {
#pragma omp for schedule(dynamic, 1)
            for (size_t f0 = 0; f0 < d; f0 += F) {
                size_t nf = d - f0 < F ? d - f0 : F;
                for (size_t i = 0; i < m; i++) {
                    const float *row = td->X + rows[i] * d + f0;
                    for (size_t j = 0; j < nf; j++)
                        v[j * m + i] = row[j];
                }
                for (size_t j = 0; j < nf; j++) {
                    sort_floats(v + j * m, m, k, k + m);
                    b->n_edges[f0 + j] = make_edges(v + j * m, m, o->max_bins, b->edges + (f0 + j) * E);
                }
            }
        }
        free(v);
        free(k);
    }
    free(rows);
    float *pad = fail ? NULL : vb_malloc(d, 256 * sizeof *pad, err);
    int *top = pad ? vb_malloc(d, sizeof *top, err) : NULL;
    if (!top) {
        free(pad);
        return vb_fail(err, VB_ERR_NOMEM, "%s: out of memory", name);
    }
    for (size_t f = 0; f < d; f++) {
        int ne = b->n_edges[f], t = 1;
        while (t <= ne)
            t *= 2;
        top[f] = t / 2;
        for (int j = 0; j < 256; j++)
            pad[f * 256 + (size_t)j] = j < ne ? b->edges[f * E + (size_t)j] : INFINITY;
    }
    /* Tiles of 64 rows: reads of X stay in cache, writes are 64-byte runs. */
#pragma omp parallel for schedule(static)
    for (size_t r0 = 0; r0 < n; r0 += 64) {
        size_t r1 = r0 + 64 < n ? r0 + 64 : n;
        float x[64];
        for (size_t f = 0; f < d; f++) {
            for (size_t i = r0; i < r1; i++)
                x[i - r0] = td->X[i * d + f];
            bins_of(pad + f * 256, top[f], x, r1 - r0, (uint8_t *)bin_col(b, f) + r0 * fb, fb);
        }
    }
    free(pad);
    free(top);
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
/* Full growth searches a node's features in parallel when it has at least
 * this many (sample, feature) pairs; below SUB_MIN samples (or n / SUB_DIV)
 * a node's whole subtree is one task, grown apart on one thread. */
#define PAR_MIN 32768
/* Rows of a block are fetched this many samples ahead. */
#define PREFETCH 8
#define SUB_MIN 1024
#define SUB_DIV 32
/* Memory for the kept histograms of full growth. */
#define POOL_BYTES ((size_t)256 << 20)

/* Counting scratch: a histogram of one feature (256 x K), with K <= 64
 * the set of classes present in each bin (cm, 256; else NULL), and K
 * doubles. h and cm are zero between uses. */
typedef struct fscratch {
    int32_t *h;
    uint64_t *cm;
    double *lc;
} fscratch;

typedef struct job {
    size_t start, count;
    int32_t node;
    int depth;
    int32_t *hist; /* the node's histograms of every feature, or NULL */
} job;

/* Counting scratch of a block of features (full growth): VB_CART_BLOCK
 * histograms and class sets, laid out as fscratch's. */
typedef struct bscratch {
    int32_t *h;
    uint64_t *cm;
    double *lc;
} bscratch;

/* One thread's scratch. */
typedef struct grower {
    uint32_t *tmp;    /* n */
    int32_t *yv;      /* labels of the current node's samples */
    double *cnt, *lc; /* K: node class counts, left counts */
    fscratch x;
    bscratch bx; /* full growth */
    double *fbest; /* d (full): each feature's best proxy in the node */
    int *fbin;     /* d (full): and its bin */
    job *stack;
    size_t cap;
} grower;

struct vb_cart_work {
    size_t n, d;
    int K;
    uint32_t *idx;       /* n: the samples, partitioned node by node */
    size_t *feat;        /* d: feature order */
    const double *xlogx; /* n + 1 (entropy) */
    int nth;             /* growers: one a thread with full growth, else 1 */
    grower *g;
    /* full growth */
    int full;
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
    free(w->feat);
    for (int t = 0; w->g && t < w->nth; t++) {
        grower *g = &w->g[t];
        free(g->tmp);
        free(g->yv);
        free(g->cnt);
        free(g->lc);
        free(g->x.h);
        free(g->x.cm);
        free(g->x.lc);
        free(g->bx.h);
        free(g->bx.cm);
        free(g->fbest);
        free(g->fbin);
        free(g->stack);
    }
    free(w->g);
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
    w->full = full;
    w->idx = malloc(n * sizeof *w->idx);
    w->feat = malloc(d * sizeof *w->feat);
    w->nth = full ? omp_get_max_threads() : 1;
    w->g = calloc((size_t)w->nth, sizeof *w->g);
    int ok = w->idx && w->feat && w->g;
    for (int t = 0; ok && t < w->nth; t++) {
        grower *g = &w->g[t];
        g->tmp = malloc(n * sizeof *g->tmp);
        g->yv = malloc(n * sizeof *g->yv);
        g->cnt = malloc((size_t)K * sizeof *g->cnt);
        g->lc = malloc((size_t)K * sizeof *g->lc);
        g->x.h = calloc(256 * (size_t)K, sizeof *g->x.h);
        g->x.cm = K <= 64 ? calloc(256, sizeof *g->x.cm) : NULL;
        g->x.lc = malloc((size_t)K * sizeof *g->x.lc);
        g->cap = 64;
        g->stack = malloc(g->cap * sizeof *g->stack);
        ok = g->tmp && g->yv && g->cnt && g->lc && g->x.h && (g->x.cm || K > 64) && g->x.lc && g->stack;
        if (ok && full) {
            g->fbest = malloc(d * sizeof *g->fbest);
            g->fbin = malloc(d * sizeof *g->fbin);
            g->bx.h = calloc(VB_CART_BLOCK * 256 * (size_t)K, sizeof *g->bx.h);
            g->bx.cm = K <= 64 ? calloc(VB_CART_BLOCK * 256, sizeof *g->bx.cm) : NULL;
            g->bx.lc = g->x.lc;
            ok = g->fbest && g->fbin && g->bx.h && (g->bx.cm || K > 64) && bn->fb <= VB_CART_BLOCK;
        }
    }
    if (ok && full) {
        w->hoff = malloc((d + 1) * sizeof *w->hoff);
        ok = w->hoff != NULL;
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

/* Room for m more nodes (and their stats). */
static int reserve_nodes(vb_cart_tree *t, size_t m, int stats, int K)
{
    if (t->n_nodes + m <= t->cap_nodes)
        return 0;
    size_t cap = t->cap_nodes ? 2 * t->cap_nodes : 256;
    while (cap < t->n_nodes + m)
        cap *= 2;
    if (cap > 0x7fffffff)
        return -1;
    vb_cart_node *p = realloc(t->nodes, cap * sizeof *p);
    if (!p)
        return -1;
    t->nodes = p;
    if (stats) {
        double *c = realloc(t->cnt, cap * (size_t)K * sizeof *c);
        if (!c)
            return -1;
        t->cnt = c;
        double *q = realloc(t->nimp, cap * sizeof *q);
        if (!q)
            return -1;
        t->nimp = q;
    }
    t->cap_nodes = cap;
    return 0;
}

static int32_t new_node(vb_cart_tree *t, int stats, int K)
{
    return reserve_nodes(t, 1, stats, K) < 0 ? -1 : (int32_t)t->n_nodes++;
}

/* Room for m more leaf values. */
static int reserve_vals(vb_cart_tree *t, size_t m)
{
    if (t->n_vals + m <= t->cap_vals)
        return 0;
    size_t cap = t->cap_vals ? 2 * t->cap_vals : 1024 * m;
    while (cap < t->n_vals + m)
        cap *= 2;
    float *p = realloc(t->vals, cap * sizeof *p);
    if (!p || cap > 0x7fffffff)
        return -1;
    t->vals = p;
    t->cap_vals = cap;
    return 0;
}

void vb_cart_leaf_values(const double *cnt, int K, double total, float *v)
{
    for (int c = 0; c < K; c++)
        v[c] = (float)(cnt[c] / total);
}

static int make_leaf(vb_cart_tree *t, int32_t node, const double *cnt, int K, double total)
{
    if (reserve_vals(t, (size_t)K) < 0)
        return -1;
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

/* Histogram of one feature over a node's samples into x->h (and x->cm);
 * the occupied bins, ascending, into bins. Returns their number. */
static int count_bins(const uint8_t *col, size_t stride, const uint32_t *ix, const int32_t *yv, size_t N, int K,
                      const fscratch *x, int *bins)
{
    /* occupied bins as a 256-bit set: small nodes scan only those */
    uint64_t occ[4] = {0, 0, 0, 0};
    int32_t *h = x->h;
    if (x->cm)
        for (size_t i = 0; i < N; i++) {
            int b = col[(size_t)ix[i] * stride], c = yv[i];
            h[b * K + c]++;
            x->cm[b] |= 1ull << c;
            occ[b >> 6] |= 1ull << (b & 63);
        }
    else
        for (size_t i = 0; i < N; i++) {
            int b = col[(size_t)ix[i] * stride];
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
 * proxy (so the first bin wins ties) and says whether it did. With cm
 * (the classes present in each bin) only those classes are visited, and
 * the bins scanned are cleared (the last is the caller's). lc: K
 * scratch. */
static int scan_bins(const vb_cart_opts *o, int32_t *h, uint64_t *cm, const int *bins, int nb, int K,
                     const double *cnt, double dN, const double *xlogx, double *lc, int clear, double *best,
                     int *best_b)
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
        /* the classes present, ascending: from the set, or by looking */
        uint64_t set = cm ? cm[b] : 0;
        for (int c = cm ? (set ? __builtin_ctzll(set) : K) : 0; c < K;) {
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
            if (cm) {
                set &= set - 1;
                c = set ? __builtin_ctzll(set) : K;
            } else
                c++;
        }
        if (cm && clear)
            cm[b] = 0;
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

/* One feature's best split in a node by counting (x: zero scratch, zero
 * again on return). Returns the number of occupied bins (< 2: the
 * feature is constant in the node). */
static int feature_split(const vb_cart_opts *o, const uint8_t *col, size_t stride, const uint32_t *ix,
                         const int32_t *yv, size_t N, int K, const double *cnt, const double *xlogx, const fscratch *x,
                         double *best, int *best_b, int *found)
{
    int bins[256];
    int nb = count_bins(col, stride, ix, yv, N, K, x, bins);
    *found = 0;
    if (nb >= 2)
        *found = scan_bins(o, x->h, x->cm, bins, nb, K, cnt, (double)N, xlogx, x->lc, 1, best, best_b);
    memset(x->h + (size_t)bins[nb - 1] * (size_t)K, 0, (size_t)K * sizeof *x->h);
    if (x->cm)
        x->cm[bins[nb - 1]] = 0;
    return nb;
}


/* The node's best split over mf features in a fresh random order (the
 * forest's): -1 when there is none. */
static int split_random(const vb_cart_opts *o, const vb_cart_bins *bn, size_t n, size_t d, int K, size_t mf,
                        vb_rng *rng, vb_cart_work *w, grower *gr, const uint32_t *ix, size_t N, int *best_bin)
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
        if (feature_split(o, bin_col(bn, f), bn->fb, ix, gr->yv, N, K, gr->cnt, w->xlogx, &gr->x, &best, best_bin,
                          &found) < 2)
            continue;
        tried++;
        if (found)
            best_f = (int)f;
    }
    return best_f;
}

/* Counts the histograms of every feature over N samples (labels gr->yv)
 * into hs, a block of features at a time (in parallel), each row's bins
 * of the block read together. */
static void count_all(const vb_cart_bins *bn, size_t d, int K, const vb_cart_work *w, const grower *gr,
                      const uint32_t *ix, size_t N, int32_t *hs)
{
    size_t fb = bn->fb, nblk = (d + fb - 1) / fb;
#pragma omp parallel for schedule(dynamic, 1) if (N * d >= PAR_MIN)
    for (size_t k = 0; k < nblk; k++) {
        size_t f0 = k * fb, nf = d - f0 < fb ? d - f0 : fb;
        memset(hs + w->hoff[f0], 0, (w->hoff[f0 + nf] - w->hoff[f0]) * sizeof *hs);
        const uint8_t *base = bin_col(bn, f0);
        int32_t *hp[VB_CART_BLOCK];
        for (size_t j = 0; j < nf; j++)
            hp[j] = hs + w->hoff[f0 + j];
        for (size_t i = 0; i < N; i++) {
            if (i + PREFETCH < N)
                __builtin_prefetch(base + (size_t)ix[i + PREFETCH] * fb);
            const uint8_t *row = base + (size_t)ix[i] * fb;
            int c = gr->yv[i];
            for (size_t j = 0; j < nf; j++)
                hp[j][row[j] * K + c]++;
        }
    }
}

/* The best splits of features f0 .. f0 + nf - 1 (a block) in the node of
 * gr (counts gr->cnt, labels gr->yv) into gr->fbest (-inf for none) and
 * gr->fbin: from the kept histograms hs, or by counting the block's bins
 * with scratch x (each row's read together). */
static void block_best(const vb_cart_opts *o, const vb_cart_bins *bn, int K, const vb_cart_work *w,
                       const grower *gr, const bscratch *x, const uint32_t *ix, size_t N, int32_t *hs, size_t f0,
                       size_t nf)
{
    size_t hk = 256 * (size_t)K;
    uint64_t occ[VB_CART_BLOCK][4];
    if (!hs) {
        memset(occ, 0, sizeof occ);
        const uint8_t *base = bin_col(bn, f0);
        size_t fb = bn->fb;
        int32_t *h = x->h;
        uint64_t *cm = x->cm;
        /* rows are fetched ahead: the counting of one hides the next's latency */
        if (cm)
            for (size_t i = 0; i < N; i++) {
                if (i + PREFETCH < N)
                    __builtin_prefetch(base + (size_t)ix[i + PREFETCH] * fb);
                const uint8_t *row = base + (size_t)ix[i] * fb;
                int c = gr->yv[i];
                uint64_t bit = 1ull << c;
                for (size_t j = 0; j < nf; j++) {
                    int b = row[j];
                    h[j * hk + (size_t)(b * K + c)]++;
                    cm[j * 256 + (size_t)b] |= bit;
                    occ[j][b >> 6] |= 1ull << (b & 63);
                }
            }
        else
            for (size_t i = 0; i < N; i++) {
                if (i + PREFETCH < N)
                    __builtin_prefetch(base + (size_t)ix[i + PREFETCH] * fb);
                const uint8_t *row = base + (size_t)ix[i] * fb;
                int c = gr->yv[i];
                for (size_t j = 0; j < nf; j++) {
                    int b = row[j];
                    h[j * hk + (size_t)(b * K + c)]++;
                    occ[j][b >> 6] |= 1ull << (b & 63);
                }
            }
    }
    for (size_t j = 0; j < nf; j++) {
        size_t f = f0 + j;
        double best = -INFINITY;
        int b = 0, found, bins[256], nb = 0;
        if (hs) { /* the occupied bins of the kept histogram */
            int32_t *h = hs + w->hoff[f];
            int nbins = (int)((w->hoff[f + 1] - w->hoff[f]) / (size_t)K);
            for (int q = 0; q < nbins; q++) {
                const int32_t *hb = h + (size_t)q * (size_t)K;
                int any = 0;
                for (int c = 0; c < K; c++)
                    any |= hb[c];
                if (any)
                    bins[nb++] = q;
            }
            found = nb >= 2 && scan_bins(o, h, NULL, bins, nb, K, gr->cnt, (double)N, w->xlogx, x->lc, 0, &best, &b);
        } else {
            for (int q = 0; q < 4; q++)
                for (uint64_t bits = occ[j][q]; bits; bits &= bits - 1)
                    bins[nb++] = q * 64 + __builtin_ctzll(bits);
            int32_t *h = x->h + j * hk;
            uint64_t *cm = x->cm ? x->cm + j * 256 : NULL;
            found = nb >= 2 && scan_bins(o, h, cm, bins, nb, K, gr->cnt, (double)N, w->xlogx, x->lc, 1, &best, &b);
            memset(h + (size_t)bins[nb - 1] * (size_t)K, 0, (size_t)K * sizeof *h);
            if (cm)
                cm[bins[nb - 1]] = 0;
        }
        gr->fbest[f] = found ? best : -INFINITY;
        gr->fbin[f] = b;
    }
}

/* The node's best split over every feature in order (ties to the lower
 * feature), the blocks of features in parallel when par: -1 when there is
 * none. */
static int split_all(const vb_cart_opts *o, const vb_cart_bins *bn, size_t d, int K, vb_cart_work *w, grower *gr,
                     const uint32_t *ix, size_t N, int32_t *hs, int par, int *best_bin)
{
    size_t fb = bn->fb, nblk = (d + fb - 1) / fb;
    if (par) {
#pragma omp parallel for schedule(dynamic, 1)
        for (size_t k = 0; k < nblk; k++)
            block_best(o, bn, K, w, gr, &w->g[omp_get_thread_num()].bx, ix, N, hs, k * fb,
                       d - k * fb < fb ? d - k * fb : fb);
    } else
        for (size_t k = 0; k < nblk; k++)
            block_best(o, bn, K, w, gr, &gr->bx, ix, N, hs, k * fb, d - k * fb < fb ? d - k * fb : fb);
    double best = -INFINITY;
    int best_f = -1;
    for (size_t f = 0; f < d; f++)
        if (gr->fbest[f] > best) {
            best = gr->fbest[f];
            best_f = (int)f;
            *best_bin = gr->fbin[f];
        }
    return best_f;
}

/* After a split of a node with kept histograms hs: the children's. The
 * smaller child's are counted, the larger one's are hs minus those; each
 * is kept (in *hsmall, *hlarge) when its child is big. */
static void derive_hists(const vb_cart_bins *bn, const int *y, size_t n, size_t d, int K, vb_cart_work *w,
                         grower *gr, const uint32_t *ix_small, size_t n_small, size_t n_large, int32_t *hs,
                         int32_t **hsmall, int32_t **hlarge)
{
    *hsmall = *hlarge = NULL;
    int32_t *h = n_large >= w->big ? pool_get(w) : NULL;
    if (!h) {
        pool_put(w, hs);
        return;
    }
    for (size_t i = 0; i < n_small; i++)
        gr->yv[i] = y[ix_small[i]];
    count_all(bn, d, K, w, gr, ix_small, n_small, h);
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

/* Appends j to the list (*list, *len, *cap); -1 on no memory. */
static int push_job(job **list, size_t *len, size_t *cap, job j)
{
    if (*len == *cap) {
        size_t c = *cap ? 2 * *cap : 64;
        job *p = realloc(*list, c * sizeof *p);
        if (!p)
            return -1;
        *list = p;
        *cap = c;
    }
    (*list)[(*len)++] = j;
    return 0;
}

/* The subtrees that full growth leaves to tasks. */
typedef struct deferred {
    job *jobs;
    size_t n, cap, sub; /* a child of fewer than sub samples is deferred */
} deferred;

/* Grows the nodes from root (its samples, node and depth) down into t,
 * with gr's scratch. With defer (the first phase of full growth): the
 * features of a node searched in parallel, big nodes' histograms kept, and
 * a child of fewer than defer->sub samples left for a task (its node in t
 * is filled by stitch). Returns 0, -1 on no memory, -2 when interrupted. */
static int grow_nodes(const vb_cart_opts *o, const vb_cart_bins *bn, const int *y, size_t n, size_t d, int K,
                      size_t mf, vb_rng *rng, int stats, vb_cart_work *w, grower *gr, vb_cart_tree *t, job root,
                      deferred *defer)
{
    size_t sp = 0;
    gr->stack[sp++] = root;
    double *cnt = gr->cnt, *lc = gr->lc;
    while (sp > 0) {
        if (vb_interrupted())
            return -2;
        job jb = gr->stack[--sp];
        uint32_t *ix = w->idx + jb.start;
        size_t N = jb.count;
        for (int c = 0; c < K; c++)
            cnt[c] = 0;
        for (size_t i = 0; i < N; i++) {
            int32_t c = y[ix[i]];
            gr->yv[i] = c;
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
                best_f = split_random(o, bn, n, d, K, mf, rng, w, gr, ix, N, &best_b);
            else {
                if (defer && !jb.hist && N >= w->big && (jb.hist = pool_get(w)) != NULL)
                    count_all(bn, d, K, w, gr, ix, N, jb.hist);
                best_f = split_all(o, bn, d, K, w, gr, ix, N, jb.hist, defer && N * d >= PAR_MIN, &best_b);
            }
        }
        if (best_f < 0) {
            pool_put(w, jb.hist);
            if (make_leaf(t, jb.node, cnt, K, dN) < 0)
                return -1;
            continue;
        }
        /* stable partition of the node's samples by bin <= best_b */
        const uint8_t *col = bin_col(bn, (size_t)best_f);
        size_t nl = 0, nr = 0, stride = bn->fb;
        for (size_t i = 0; i < N; i++) {
            uint32_t v = ix[i];
            if (col[(size_t)v * stride] <= best_b)
                ix[nl++] = v;
            else
                gr->tmp[nr++] = v;
        }
        memcpy(ix + nl, gr->tmp, nr * sizeof *ix);
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
            return -1;
        vb_cart_node *nd = &t->nodes[jb.node];
        nd->feature = best_f;
        nd->thr = bn->edges[(size_t)best_f * bn->E + (size_t)best_b];
        nd->left = L;
        nd->right = R;
        job ch[2] = {{jb.start, nl, L, jb.depth + 1, NULL}, {jb.start + nl, nr, R, jb.depth + 1, NULL}};
        /* the left child is grown first (the forest's order); with full
         * growth the smaller child, to keep few histograms waiting */
        int first = rng || nl <= nr ? 0 : 1;
        if (jb.hist)
            derive_hists(bn, y, n, d, K, w, gr, ix + (first ? nl : 0), ch[first].count, ch[1 - first].count,
                         jb.hist, &ch[first].hist, &ch[1 - first].hist);
        for (int k = 0; k < 2; k++) {
            job c = ch[k == 0 ? 1 - first : first]; /* pushed last, popped first */
            if (defer && c.count < defer->sub) {
                pool_put(w, c.hist);
                c.hist = NULL;
                if (push_job(&defer->jobs, &defer->n, &defer->cap, c) < 0)
                    return -1;
            } else if (push_job(&gr->stack, &sp, &gr->cap, c) < 0)
                return -1;
        }
    }
    return 0;
}

/* Puts the subtree s (grown apart, its root in place of node at of t) into
 * t: s's other nodes are appended, in order. */
static int stitch(vb_cart_tree *t, int32_t at, const vb_cart_tree *s, int stats, int K, size_t d)
{
    size_t base = t->n_nodes, m = s->n_nodes;
    if (reserve_nodes(t, m - 1, stats, K) < 0 || reserve_vals(t, s->n_vals) < 0)
        return -1;
#define STITCHED(j) ((j) == 0 ? at : (int32_t)(base + (size_t)(j) - 1))
    for (size_t j = 0; j < m; j++) {
        vb_cart_node nd = s->nodes[j];
        int32_t to = STITCHED(j);
        if (nd.feature >= 0) {
            nd.left = STITCHED(nd.left);
            nd.right = STITCHED(nd.right);
        } else
            nd.left += (int32_t)t->n_vals;
        t->nodes[to] = nd;
        if (stats) {
            memcpy(t->cnt + (size_t)to * (size_t)K, s->cnt + j * (size_t)K, (size_t)K * sizeof *t->cnt);
            t->nimp[to] = s->nimp[j];
        }
    }
#undef STITCHED
    memcpy(t->vals + t->n_vals, s->vals, s->n_vals * sizeof *t->vals);
    t->n_vals += s->n_vals;
    t->n_nodes = base + m - 1;
    for (size_t f = 0; f < d; f++)
        t->imp[f] += s->imp[f];
    if (s->depth > t->depth)
        t->depth = s->depth;
    t->leaves += s->leaves;
    return 0;
}

/* Larger subtrees first (they bound the time), then in the order made. */
static int cmp_deferred(const void *a, const void *b)
{
    const job *x = a, *y = b;
    if (x->count != y->count)
        return x->count < y->count ? 1 : -1;
    return (x->node > y->node) - (x->node < y->node);
}

/* Grows the deferred subtrees as tasks (dynamic over threads, each into a
 * tree of its own) and stitches them into t in a fixed order. */
static int grow_deferred(const vb_cart_opts *o, const vb_cart_bins *bn, const int *y, size_t n, size_t d, int K,
                         int stats, vb_cart_work *w, vb_cart_tree *t, deferred *df)
{
    qsort(df->jobs, df->n, sizeof *df->jobs, cmp_deferred);
    vb_cart_tree *sub = calloc(df->n ? df->n : 1, sizeof *sub);
    if (!sub)
        return -1;
    int rc = 0;
#pragma omp parallel for schedule(dynamic, 1)
    for (size_t i = 0; i < df->n; i++) {
        int bad;
#pragma omp atomic read
        bad = rc;
        if (bad)
            continue;
        vb_cart_tree *s = &sub[i];
        job j = df->jobs[i];
        int r = (s->imp = calloc(d, sizeof *s->imp)) != NULL && (j.node = new_node(s, stats, K)) == 0
                    ? grow_nodes(o, bn, y, n, d, K, d, NULL, stats, w, &w->g[omp_get_thread_num()], s, j, NULL)
                    : -1;
        if (r < 0) {
#pragma omp atomic write
            rc = r;
        }
    }
    for (size_t i = 0; rc == 0 && i < df->n; i++)
        if (stitch(t, df->jobs[i].node, &sub[i], stats, K, d) < 0)
            rc = -1;
    for (size_t i = 0; i < df->n; i++)
        vb_cart_tree_free(&sub[i]);
    free(sub);
    return rc;
}

int vb_cart_grow(const vb_cart_opts *o, const vb_cart_bins *bn, const int *y, size_t n, size_t d, int K,
                 size_t mf, vb_rng *rng, int stats, vb_cart_work *w, vb_cart_tree *t)
{
    if (!rng && !w->full)
        return -1; /* every feature in order needs the scratch of full growth */
    /* sample: a bootstrap draw, as ascending indices with repeats */
    size_t m = n;
    if (rng && o->bootstrap) {
        uint32_t *c = w->g[0].tmp;
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
        return -1;
    job r = {0, m, root, 0, NULL};
    deferred df = {NULL, 0, 0, n / SUB_DIV > SUB_MIN ? n / SUB_DIV : SUB_MIN};
    if (rng || m < df.sub)
        return grow_nodes(o, bn, y, n, d, K, mf, rng, stats, w, &w->g[0], t, r, NULL);
    int rc = grow_nodes(o, bn, y, n, d, K, mf, NULL, stats, w, &w->g[0], t, r, &df);
    memset(w->busy, 0, (size_t)w->max_pool); /* every kept histogram is free again */
    if (rc == 0)
        rc = grow_deferred(o, bn, y, n, d, K, stats, w, t, &df);
    free(df.jobs);
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

/* Rows are walked down a tree in blocks, a level at a time, so that the
 * memory reads of the block's rows overlap instead of queueing; threads
 * share the rows when there are at least PREDICT_PAR node visits. */
#define PREDICT_BLOCK 16
#define PREDICT_PAR ((size_t)1 << 20)

vb_status vb_cart_predict(const vb_cart_model *m, const float *X, size_t n, int *labels, float *scores,
                          const char *name, vb_error *err)
{
    int K = m->K, T = m->T, fail = 0;
#pragma omp parallel if (n * (size_t)T * (size_t)(m->depth_max + 1) >= PREDICT_PAR)
    {
        double *acc = malloc(PREDICT_BLOCK * (size_t)K * sizeof *acc);
        if (!acc) {
#pragma omp atomic write
            fail = 1;
        } else {
#pragma omp for schedule(static)
            for (size_t i0 = 0; i0 < n; i0 += PREDICT_BLOCK) {
                size_t nb = n - i0 < PREDICT_BLOCK ? n - i0 : PREDICT_BLOCK;
                const float *x = X + i0 * m->d;
                for (size_t j = 0; j < nb * (size_t)K; j++)
                    acc[j] = 0;
                for (int t = 0; t < T; t++) {
                    int32_t v[PREDICT_BLOCK];
                    for (size_t r = 0; r < nb; r++)
                        v[r] = m->roots[t];
                    for (int active = 1; active;) {
                        active = 0;
                        for (size_t r = 0; r < nb; r++) {
                            const vb_cart_node *nd = &m->nodes[v[r]];
                            if (nd->feature >= 0) {
                                v[r] = x[r * m->d + (size_t)nd->feature] <= nd->thr ? nd->left : nd->right;
                                active = 1;
                            }
                        }
                    }
                    for (size_t r = 0; r < nb; r++) {
                        const float *val = m->vals + m->nodes[v[r]].left;
                        double *a = acc + r * (size_t)K;
                        for (int c = 0; c < K; c++)
                            a[c] += val[c];
                    }
                }
                for (size_t r = 0; r < nb; r++) {
                    const double *a = acc + r * (size_t)K;
                    int best = 0;
                    for (int c = 1; c < K; c++)
                        if (a[c] > a[best])
                            best = c;
                    labels[i0 + r] = best;
                    if (scores)
                        for (int c = 0; c < K; c++)
                            scores[(i0 + r) * (size_t)K + (size_t)c] = (float)(a[c] / T);
                }
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

void vb_cart_info(const vb_cart_model *m, const char *depth_key, vb_buf *b)
{
    vb_buf_printf(b, "\"n_nodes\": %zu, \"n_leaves\": %zu, \"%s\": %d, \"top_features\": [", m->n_nodes,
                  m->n_leaves, depth_key, m->depth_max);
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

/* ---- the classifiers' state ---------------------------------------------- */

vb_status vb_cart_vt_predict(const void *state, const float *X, size_t n, int *labels, float *scores, vb_error *err)
{
    const vb_cart_state *s = state;
    return vb_cart_predict(&s->m, X, n, labels, scores, s->name, err);
}

vb_status vb_cart_vt_save(const void *state, vb_writer *w, vb_error *err)
{
    const vb_cart_state *s = state;
    vb_cart_save(&s->m, w, s->tag);
    return VB_OK;
}

vb_status vb_cart_vt_load(void *state, vb_reader *r, vb_error *err)
{
    vb_cart_state *s = state;
    return vb_cart_load(&s->m, r, s->tag, s->T, s->name, err);
}

void vb_cart_vt_info(const void *state, vb_buf *b)
{
    const vb_cart_state *s = state;
    vb_cart_info(&s->m, s->depth_key, b);
}

void vb_cart_vt_destroy(void *state)
{
    vb_cart_state *s = state;
    if (!s)
        return;
    vb_cart_model_clear(&s->m);
    free(s);
}

void vb_cart_vt_dims(const void *state, size_t *d, int *n_classes)
{
    const vb_cart_state *s = state;
    *d = s->m.d;
    *n_classes = s->m.K;
}
