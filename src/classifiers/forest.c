/* forest: random forest classifier (Breiman 2001) with histogram splits.
 *
 * Training first bins every feature into at most max_bins quantile bins
 * (edges from up to bin_sample rows, as LightGBM and scikit-learn's
 * HistGradientBoosting do), stored feature-major as bytes. A split of a node
 * then costs one histogram pass over the node's samples per candidate
 * feature, and a split "bin <= b" is kept as the exact float threshold
 * "x <= edge[b]", so prediction reads raw features and agrees with the bins
 * on every training value. Samples are partitioned as index lists (stable,
 * so memory access stays ascending); X is never copied.
 *
 * Trees are grown in parallel (OpenMP over trees). Tree t draws everything
 * (bootstrap sample, feature order) from its own generator seeded with
 * (seed, t), so the forest does not depend on the number of threads.
 * Probabilities are the mean of the leaves' class distributions;
 * importances are the mean decrease in impurity, normalised per tree and
 * averaged (scikit-learn's feature_importances_). */
#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const vb_param_def forest_params[] = {
    {.name = "n_trees", .type = VB_PT_INT, .def = "100", .min = 1, .max = 100000, .flags = VB_PF_GRID,
     .help = "number of trees"},
    {.name = "criterion", .type = VB_PT_ENUM, .def = "gini", .choices = "gini|entropy", .help = "split impurity"},
    {.name = "max_depth", .type = VB_PT_INT, .def = "0", .min = 0, .max = 1000, .flags = VB_PF_GRID,
     .help = "maximum depth of a tree (0 = unlimited)"},
    {.name = "min_samples_leaf", .type = VB_PT_INT, .def = "1", .min = 1, .max = 1e9, .flags = VB_PF_GRID,
     .help = "minimum samples in a leaf"},
    {.name = "min_samples_split", .type = VB_PT_INT, .def = "2", .min = 2, .max = 1e9,
     .help = "minimum samples in a node to split it"},
    {.name = "max_features", .type = VB_PT_FLOAT, .def = "sqrt", .choices = "sqrt|log2|all", .min = 0, .max = 1,
     .flags = VB_PF_GRID | VB_PF_MIN_OPEN,
     .help = "features tried per split: sqrt(d), log2(d), all, or a fraction of d"},
    {.name = "bootstrap", .type = VB_PT_BOOL, .def = "true",
     .help = "grow each tree on a bootstrap sample (else on all rows)"},
    {.name = "max_bins", .type = VB_PT_INT, .def = "256", .min = 2, .max = 256,
     .help = "quantile bins per feature (candidate thresholds)"},
    {.name = "bin_sample", .type = VB_PT_INT, .def = "100000", .min = 100, .max = 1e9,
     .help = "rows sampled to place the bin edges"},
};

typedef struct fnode {
    int32_t feature; /* -1 for a leaf */
    float thr;       /* go left when x[feature] <= thr */
    int32_t left;    /* child index, or for a leaf the offset of its K probabilities */
    int32_t right;
} fnode;

typedef struct forest_state {
    /* parameters */
    int n_trees, entropy, max_depth, bootstrap, max_bins;
    long min_leaf, min_split, bin_sample;
    const char *mf_word;
    double mf_frac;
    /* trained */
    size_t d;
    int K;
    size_t n_nodes, n_vals;
    int32_t *roots; /* n_trees start nodes */
    fnode *nodes;
    float *vals;    /* leaf class distributions */
    double *importance; /* d */
    int depth_max;
    size_t n_leaves;
} forest_state;

static void forest_clear(forest_state *s)
{
    free(s->roots);
    free(s->nodes);
    free(s->vals);
    free(s->importance);
    s->roots = NULL;
    s->nodes = NULL;
    s->vals = NULL;
    s->importance = NULL;
    s->n_nodes = s->n_vals = s->n_leaves = 0;
}

static void forest_destroy(void *state)
{
    forest_state *s = state;
    if (!s)
        return;
    forest_clear(s);
    free(s);
}

static vb_status forest_create(const vb_params *p, void **state, vb_error *err)
{
    long leaf = vb_param_int(p, "min_samples_leaf"), split = vb_param_int(p, "min_samples_split");
    forest_state *s = vb_calloc(1, sizeof *s, err);
    if (!s)
        return VB_ERR_NOMEM;
    s->n_trees = (int)vb_param_int(p, "n_trees");
    s->entropy = vb_param_is(p, "criterion", "entropy");
    s->max_depth = (int)vb_param_int(p, "max_depth");
    s->min_leaf = leaf;
    s->min_split = split;
    s->mf_word = vb_param_str(p, "max_features");
    s->mf_frac = vb_param_float(p, "max_features");
    s->bootstrap = vb_param_bool(p, "bootstrap");
    s->max_bins = (int)vb_param_int(p, "max_bins");
    s->bin_sample = vb_param_int(p, "bin_sample");
    *state = s;
    return VB_OK;
}

static size_t features_per_split(const forest_state *s, size_t d)
{
    double m;
    if (!s->mf_word)
        m = s->mf_frac * (double)d;
    else if (strcmp(s->mf_word, "sqrt") == 0)
        m = sqrt((double)d);
    else if (strcmp(s->mf_word, "log2") == 0)
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

typedef struct binned {
    uint8_t *B;   /* d x n, feature-major */
    float *edges; /* d x (max_bins - 1) */
    int *n_edges; /* d */
} binned;

static vb_status bin_features(const forest_state *s, const vb_traindata *td, binned *b, vb_error *err)
{
    size_t n = td->n, d = td->d, E = (size_t)s->max_bins - 1;
    size_t m = n < (size_t)s->bin_sample ? n : (size_t)s->bin_sample;
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
        vb_rng *rng = vb_rng_new(vb_seed_derive(td->seed, "forest-bins", 0));
        if (!rng) {
            free(rows);
            return vb_fail(err, VB_ERR_NOMEM, "forest: out of memory");
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
                b->n_edges[f] = make_edges(v, m, s->max_bins, b->edges + f * E);
            }
        }
        free(v);
    }
    free(rows);
    if (fail)
        return vb_fail(err, VB_ERR_NOMEM, "forest: out of memory");
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

/* ---- growing one tree -------------------------------------------------- */

typedef struct tree_out {
    fnode *nodes;
    size_t n_nodes, cap_nodes;
    float *vals;
    size_t n_vals, cap_vals;
    double *imp; /* d */
    int depth;
    size_t leaves;
} tree_out;

typedef struct scratch {
    uint32_t *idx, *tmp; /* n */
    int32_t *yv;         /* labels of the current node's samples */
    int32_t *hist;       /* 256 x K */
    double *cnt, *lc;    /* K: node class counts, left counts */
    size_t *feat;        /* d: feature order */
    double *xlogx;       /* n + 1 (entropy) */
} scratch;

typedef struct job {
    size_t start, count;
    int32_t node;
    int depth;
} job;

static int32_t new_node(tree_out *t)
{
    if (t->n_nodes == t->cap_nodes) {
        size_t cap = t->cap_nodes ? 2 * t->cap_nodes : 256;
        fnode *p = realloc(t->nodes, cap * sizeof *p);
        if (!p || cap > 0x7fffffff)
            return -1;
        t->nodes = p;
        t->cap_nodes = cap;
    }
    return (int32_t)t->n_nodes++;
}

static int make_leaf(tree_out *t, int32_t node, const double *cnt, int K, double total)
{
    if (t->n_vals + (size_t)K > t->cap_vals) {
        size_t cap = t->cap_vals ? 2 * t->cap_vals : 1024 * (size_t)K;
        float *p = realloc(t->vals, cap * sizeof *p);
        if (!p || cap > 0x7fffffff)
            return -1;
        t->vals = p;
        t->cap_vals = cap;
    }
    fnode *nd = &t->nodes[node];
    nd->feature = -1;
    nd->thr = 0;
    nd->left = (int32_t)t->n_vals;
    nd->right = -1;
    for (int c = 0; c < K; c++)
        t->vals[t->n_vals + (size_t)c] = (float)(cnt[c] / total);
    t->n_vals += (size_t)K;
    t->leaves++;
    return 0;
}

/* N * impurity of a node with class counts c (sum N). */
static double node_impurity(const forest_state *s, const double *c, int K, double N, const double *xlogx)
{
    double v = 0;
    if (s->entropy) {
        for (int k = 0; k < K; k++)
            v -= xlogx[(size_t)c[k]];
        return v + xlogx[(size_t)N];
    }
    for (int k = 0; k < K; k++)
        v += c[k] * c[k];
    return N - v / N;
}

static int grow_tree(const forest_state *s, const binned *bn, const int *y, size_t n, size_t d, int K,
                     uint64_t seed, scratch *w, tree_out *t)
{
    vb_rng *rng = vb_rng_new(seed);
    job *stack = NULL;
    size_t sp = 0, cap = 0;
    int rc = -1;
    if (!rng)
        return -1;
    /* sample: a bootstrap draw, as ascending indices with repeats */
    size_t m = n;
    if (s->bootstrap) {
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
    size_t mf = features_per_split(s, d);
    const size_t E = (size_t)s->max_bins - 1;
    int32_t root = new_node(t);
    if (root < 0)
        goto done;
    cap = 64;
    stack = malloc(cap * sizeof *stack);
    if (!stack)
        goto done;
    stack[sp++] = (job){0, m, root, 0};
    double *cnt = w->cnt, *lc = w->lc;
    while (sp > 0) {
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
        if (classes < 2 || (long)N < s->min_split || (long)N < 2 * s->min_leaf ||
            (s->max_depth > 0 && jb.depth >= s->max_depth)) {
            if (make_leaf(t, jb.node, cnt, K, dN) < 0)
                goto done;
            continue;
        }
        /* Candidate features in a fresh random order (partial Fisher-Yates);
         * features constant in this node do not count towards mf. */
        double best = -INFINITY, parent_proxy = 0;
        if (!s->entropy) {
            for (int c = 0; c < K; c++)
                parent_proxy += cnt[c] * cnt[c];
            parent_proxy /= dN;
        }
        int best_f = -1, best_b = 0;
        size_t tried = 0;
        for (size_t j = 0; j < d && tried < mf; j++) {
            size_t r = j + vb_rng_below(rng, d - j);
            size_t f = w->feat[r];
            w->feat[r] = w->feat[j];
            w->feat[j] = f;
            const uint8_t *col = bn->B + f * n;
            int32_t *h = w->hist;
            /* occupied bins as a 256-bit set: small nodes scan only those */
            uint64_t occ[4] = {0, 0, 0, 0};
            for (size_t i = 0; i < N; i++) {
                int b = col[ix[i]];
                h[b * K + w->yv[i]]++;
                occ[b >> 6] |= 1ull << (b & 63);
            }
            int nb = 0, bins[256];
            for (int q = 0; q < 4; q++)
                for (uint64_t bits = occ[q]; bits; bits &= bits - 1)
                    bins[nb++] = q * 64 + __builtin_ctzll(bits);
            if (nb < 2) {
                memset(h + (size_t)bins[0] * (size_t)K, 0, (size_t)K * sizeof *h);
                continue;
            }
            tried++;
            for (int c = 0; c < K; c++)
                lc[c] = 0;
            double NL = 0, sl = 0, sr = 0;
            if (!s->entropy)
                for (int c = 0; c < K; c++)
                    sr += cnt[c] * cnt[c];
            for (int q = 0; q + 1 < nb; q++) {
                int b = bins[q];
                int32_t *hb = h + (size_t)b * (size_t)K;
                for (int c = 0; c < K; c++)
                    if (hb[c]) {
                        double a = hb[c], l = lc[c], rr = cnt[c] - l;
                        if (!s->entropy) {
                            sl += a * (2 * l + a);
                            sr += a * (a - 2 * rr);
                        }
                        lc[c] = l + a;
                        NL += a;
                        hb[c] = 0;
                    }
                double NR = dN - NL;
                if (NL < (double)s->min_leaf || NR < (double)s->min_leaf)
                    continue;
                double proxy;
                if (!s->entropy)
                    proxy = sl / NL + sr / NR;
                else {
                    proxy = -w->xlogx[(size_t)NL] - w->xlogx[(size_t)NR];
                    for (int c = 0; c < K; c++)
                        proxy += w->xlogx[(size_t)lc[c]] + w->xlogx[(size_t)(cnt[c] - lc[c])];
                }
                if (proxy > best) {
                    best = proxy;
                    best_f = (int)f;
                    best_b = b;
                }
            }
            memset(h + (size_t)bins[nb - 1] * (size_t)K, 0, (size_t)K * sizeof *h);
        }
        if (best_f < 0) {
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
        double imp_t = node_impurity(s, cnt, K, dN, w->xlogx);
        double imp_l = node_impurity(s, lc, K, (double)nl, w->xlogx);
        for (int c = 0; c < K; c++)
            lc[c] = cnt[c] - lc[c];
        double imp_r = node_impurity(s, lc, K, (double)nr, w->xlogx);
        t->imp[best_f] += imp_t - imp_l - imp_r;
        (void)parent_proxy;
        int32_t L = new_node(t), R = new_node(t);
        if (L < 0 || R < 0)
            goto done;
        fnode *nd = &t->nodes[jb.node];
        nd->feature = best_f;
        nd->thr = bn->edges[(size_t)best_f * E + (size_t)best_b];
        nd->left = L;
        nd->right = R;
        if (sp + 2 > cap) {
            cap *= 2;
            job *p = realloc(stack, cap * sizeof *p);
            if (!p)
                goto done;
            stack = p;
        }
        /* right pushed first: the left child is grown first */
        stack[sp++] = (job){jb.start + nl, nr, R, jb.depth + 1};
        stack[sp++] = (job){jb.start, nl, L, jb.depth + 1};
    }
    rc = 0;
done:
    free(stack);
    vb_rng_free(rng);
    return rc;
}

static vb_status forest_train(void *state, const vb_traindata *td, vb_error *err)
{
    forest_state *s = state;
    forest_clear(s);
    size_t n = td->n, d = td->d;
    int K = td->n_classes, T = s->n_trees;
    if (n > 0x7fffffffu)
        return vb_fail(err, VB_ERR_DATA, "forest: %zu training rows is beyond 2^31", n);
    s->d = d;
    s->K = K;
    binned bn = {0};
    tree_out *trees = vb_calloc((size_t)T, sizeof *trees, err);
    double *xlogx = vb_malloc(n + 1, sizeof *xlogx, err);
    vb_status st = trees && xlogx ? bin_features(s, td, &bn, err) : VB_ERR_NOMEM;
    if (st != VB_OK)
        goto out;
    for (size_t i = 0; i <= n; i++)
        xlogx[i] = i ? (double)i * log((double)i) : 0;
    int fail = 0, stop = 0;
#pragma omp parallel
    {
        scratch w = {0};
        w.idx = malloc(n * sizeof *w.idx);
        w.tmp = malloc(n * sizeof *w.tmp);
        w.yv = malloc(n * sizeof *w.yv);
        w.hist = calloc(256 * (size_t)K, sizeof *w.hist);
        w.cnt = malloc((size_t)K * sizeof *w.cnt);
        w.lc = malloc((size_t)K * sizeof *w.lc);
        w.feat = malloc(d * sizeof *w.feat);
        w.xlogx = xlogx;
        int ok = w.idx && w.tmp && w.yv && w.hist && w.cnt && w.lc && w.feat;
        if (!ok) {
#pragma omp atomic write
            fail = 1;
        }
#pragma omp for schedule(dynamic, 1)
        for (int t = 0; t < T; t++) {
            int bad;
#pragma omp atomic read
            bad = fail;
            if (!ok || bad || stop)
                continue;
            if (vb_interrupted()) {
                stop = 1;
                continue;
            }
            tree_out *to = &trees[t];
            to->imp = calloc(d, sizeof *to->imp);
            if (!to->imp ||
                grow_tree(s, &bn, td->y, n, d, K, vb_seed_derive(td->seed, "forest-tree", (uint64_t)t), &w, to) < 0) {
#pragma omp atomic write
                fail = 1;
            }
        }
        free(w.idx);
        free(w.tmp);
        free(w.yv);
        free(w.hist);
        free(w.cnt);
        free(w.lc);
        free(w.feat);
    }
    if (stop) {
        st = vb_fail(err, VB_ERR_INTERRUPTED, "forest: interrupted");
        goto out;
    }
    if (fail) {
        st = vb_fail(err, VB_ERR_NOMEM, "forest: out of memory while growing the trees");
        goto out;
    }
    /* flatten, in tree order */
    size_t nn = 0, nv = 0;
    for (int t = 0; t < T; t++) {
        nn += trees[t].n_nodes;
        nv += trees[t].n_vals;
    }
    if (nn > 0x7fffffff || nv > 0x7fffffff) {
        st = vb_fail(err, VB_ERR_NOMEM, "forest: %zu nodes is beyond 2^31; limit max_depth", nn);
        goto out;
    }
    s->roots = vb_malloc((size_t)T, sizeof *s->roots, err);
    s->nodes = vb_malloc(nn, sizeof *s->nodes, err);
    s->vals = vb_malloc(nv, sizeof *s->vals, err);
    s->importance = vb_calloc(d, sizeof *s->importance, err);
    if (!s->roots || !s->nodes || !s->vals || !s->importance) {
        st = VB_ERR_NOMEM;
        goto out;
    }
    size_t on = 0, ov = 0;
    s->depth_max = 0;
    for (int t = 0; t < T; t++) {
        tree_out *to = &trees[t];
        s->roots[t] = (int32_t)on;
        for (size_t i = 0; i < to->n_nodes; i++) {
            fnode nd = to->nodes[i];
            if (nd.feature >= 0) {
                nd.left += (int32_t)on;
                nd.right += (int32_t)on;
            } else
                nd.left += (int32_t)ov;
            s->nodes[on + i] = nd;
        }
        memcpy(s->vals + ov, to->vals, to->n_vals * sizeof *s->vals);
        on += to->n_nodes;
        ov += to->n_vals;
        double sum = 0;
        for (size_t f = 0; f < d; f++)
            sum += to->imp[f];
        if (sum > 0)
            for (size_t f = 0; f < d; f++)
                s->importance[f] += to->imp[f] / sum / T;
        if (to->depth > s->depth_max)
            s->depth_max = to->depth;
        s->n_leaves += to->leaves;
    }
    s->n_nodes = nn;
    s->n_vals = nv;
out:
    if (trees)
        for (int t = 0; t < T; t++) {
            free(trees[t].nodes);
            free(trees[t].vals);
            free(trees[t].imp);
        }
    free(trees);
    free(xlogx);
    free(bn.B);
    free(bn.edges);
    free(bn.n_edges);
    if (st != VB_OK)
        forest_clear(s);
    return st;
}

/* ---- prediction -------------------------------------------------------- */

static vb_status forest_predict(const void *state, const float *X, size_t n, int *labels, float *scores,
                                vb_error *err)
{
    const forest_state *s = state;
    int K = s->K, T = s->n_trees, fail = 0;
#pragma omp parallel
    {
        double *acc = malloc((size_t)K * sizeof *acc);
        if (!acc) {
#pragma omp atomic write
            fail = 1;
        } else {
#pragma omp for schedule(static)
            for (size_t i = 0; i < n; i++) {
                const float *x = X + i * s->d;
                for (int c = 0; c < K; c++)
                    acc[c] = 0;
                for (int t = 0; t < T; t++) {
                    const fnode *nd = &s->nodes[s->roots[t]];
                    while (nd->feature >= 0)
                        nd = &s->nodes[x[nd->feature] <= nd->thr ? nd->left : nd->right];
                    const float *v = s->vals + nd->left;
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
    return fail ? vb_fail(err, VB_ERR_NOMEM, "forest: out of memory") : VB_OK;
}

/* ---- save / load ------------------------------------------------------- */

#define FOREST_TAG VB_CLF_TAG('F', 'R', 'S', 'T')

static vb_status forest_save(const void *state, vb_writer *w, vb_error *err)
{
    const forest_state *s = state;
    vb_clf_write_tag(w, FOREST_TAG, 1);
    vb_write_u64(w, s->d);
    vb_write_u32(w, (uint32_t)s->K);
    vb_write_u32(w, (uint32_t)s->n_trees);
    vb_write_u64(w, s->n_nodes);
    vb_write_u64(w, s->n_vals);
    vb_write_u32(w, (uint32_t)s->depth_max);
    vb_write_u64(w, s->n_leaves);
    vb_write_i32s(w, s->roots, (size_t)s->n_trees);
    for (size_t i = 0; i < s->n_nodes; i++) {
        vb_write_i32(w, s->nodes[i].feature);
        vb_write_f32(w, s->nodes[i].thr);
        vb_write_i32(w, s->nodes[i].left);
        vb_write_i32(w, s->nodes[i].right);
    }
    vb_write_f32s(w, s->vals, s->n_vals);
    vb_write_f64s(w, s->importance, s->d);
    return VB_OK;
}

static vb_status forest_load(void *state, vb_reader *r, vb_error *err)
{
    forest_state *s = state;
    forest_clear(s);
    uint64_t d, nn, nv, leaves;
    uint32_t K, T, depth;
    vb_status st;
    if ((st = vb_clf_read_tag(r, FOREST_TAG, 1, "forest", err)) || (st = vb_read_u64(r, &d, err)) ||
        (st = vb_read_u32_range(r, &K, 2, 1u << 20, "classes", err)) ||
        (st = vb_read_u32_range(r, &T, 1, 100000, "trees", err)) || (st = vb_read_u64(r, &nn, err)) ||
        (st = vb_read_u64(r, &nv, err)) || (st = vb_read_u32(r, &depth, err)) ||
        (st = vb_read_u64(r, &leaves, err)))
        return st;
    if (T != (uint32_t)s->n_trees)
        return vb_fail(err, VB_ERR_FORMAT, "%s: forest state has %u trees, the parameters say %d", r->what, T,
                       s->n_trees);
    if (d == 0 || d > (1ull << 32) || nn < T || nn > 0x7fffffff || nv > 0x7fffffff ||
        (st = vb_clf_check_count(r, nn, 16, "nodes", err)) || (st = vb_clf_check_count(r, nv, 4, "values", err)) ||
        (st = vb_clf_check_count(r, d, 8, "importances", err)))
        return st ? st : vb_fail(err, VB_ERR_FORMAT, "%s: corrupt forest sizes", r->what);
    s->d = (size_t)d;
    s->K = (int)K;
    s->n_nodes = (size_t)nn;
    s->n_vals = (size_t)nv;
    s->depth_max = (int)depth;
    s->n_leaves = (size_t)leaves;
    s->roots = vb_malloc(T, sizeof *s->roots, err);
    s->nodes = vb_malloc(s->n_nodes, sizeof *s->nodes, err);
    s->vals = vb_malloc(s->n_vals ? s->n_vals : 1, sizeof *s->vals, err);
    s->importance = vb_malloc(s->d, sizeof *s->importance, err);
    if (!s->roots || !s->nodes || !s->vals || !s->importance)
        return VB_ERR_NOMEM;
    if ((st = vb_read_i32s_into(r, s->roots, T, err)))
        return st;
    for (size_t i = 0; i < s->n_nodes; i++) {
        fnode *nd = &s->nodes[i];
        if ((st = vb_read_i32(r, &nd->feature, err)) || (st = vb_read_f32(r, &nd->thr, err)) ||
            (st = vb_read_i32(r, &nd->left, err)) || (st = vb_read_i32(r, &nd->right, err)))
            return st;
    }
    if ((st = vb_read_f32s_into(r, s->vals, s->n_vals, err)) ||
        (st = vb_read_f64s_into(r, s->importance, s->d, err)))
        return st;
    /* Trees are contiguous and children come after their parent within the
     * tree, so traversal always ends; leaves point at K values. */
    for (uint32_t t = 0; t < T; t++) {
        size_t lo = (size_t)s->roots[t], hi = t + 1 < T ? (size_t)s->roots[t + 1] : s->n_nodes;
        if (s->roots[t] < 0 || lo >= hi || hi > s->n_nodes || (t == 0 && lo != 0))
            return vb_fail(err, VB_ERR_FORMAT, "%s: corrupt forest tree table", r->what);
        for (size_t i = lo; i < hi; i++) {
            const fnode *nd = &s->nodes[i];
            int ok = nd->feature < 0
                         ? nd->left >= 0 && (size_t)nd->left + K <= s->n_vals
                         : (size_t)nd->feature < s->d && (size_t)nd->left > i && (size_t)nd->left < hi &&
                               (size_t)nd->right > i && (size_t)nd->right < hi && isfinite(nd->thr);
            if (!ok)
                return vb_fail(err, VB_ERR_FORMAT, "%s: corrupt forest node %zu", r->what, i);
        }
    }
    return VB_OK;
}

static void forest_info(const void *state, vb_buf *b)
{
    const forest_state *s = state;
    vb_buf_printf(b, "\"n_nodes\": %zu, \"n_leaves\": %zu, \"max_depth\": %d, \"top_features\": [", s->n_nodes,
                  s->n_leaves, s->depth_max);
    /* the ten most important features as [index, importance] */
    int taken[10];
    int nt = 0;
    for (; nt < 10 && (size_t)nt < s->d; nt++) {
        int best = -1;
        for (size_t f = 0; f < s->d; f++) {
            int dup = 0;
            for (int j = 0; j < nt; j++)
                dup |= taken[j] == (int)f;
            if (!dup && (best < 0 || s->importance[f] > s->importance[best]))
                best = (int)f;
        }
        taken[nt] = best;
        vb_buf_printf(b, "%s[%d, ", nt ? ", " : "", best);
        vb_buf_double(b, s->importance[best]);
        vb_buf_puts(b, "]");
    }
    size_t used = 0;
    for (size_t f = 0; f < s->d; f++)
        used += s->importance[f] > 0;
    vb_buf_printf(b, "], \"features_used\": %zu", used);
}

static void forest_dims(const void *state, size_t *d, int *n_classes)
{
    const forest_state *s = state;
    *d = s->d;
    *n_classes = s->K;
}

const vb_classifier_vt vb_clf_forest = {
    .info = {.name = "forest",
             .help = "random forest (histogram splits on quantile bins, trees in parallel, seeded per tree)",
             .doc = "Scores are the mean class distribution of the leaves (probabilities). info reports the "
                    "ten largest mean-decrease-in-impurity feature importances.",
             .params = forest_params,
             .n_params = sizeof forest_params / sizeof forest_params[0]},
    .flags = VB_CLF_PROBA,
    .create = forest_create,
    .train = forest_train,
    .predict = forest_predict,
    .save = forest_save,
    .load = forest_load,
    .info_json = forest_info,
    .destroy = forest_destroy,
    .dims = forest_dims,
};
