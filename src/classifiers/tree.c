/* tree: one CART decision tree (Breiman, Friedman, Olshen and Stone 1984)
 * with minimal cost-complexity pruning.
 *
 * The tree is the forest's (cart.c) grown once on all rows: histogram
 * splits on quantile bins, which are the exact CART splits (thresholds
 * midway between training values) when a feature has at most max_bins
 * distinct values. With every feature tried (max_features: all, the
 * default) nothing is random, ties go to the lower feature, the larger
 * nodes' histograms come by subtraction and each node's features are
 * searched in parallel; with fewer, each node draws its features from a
 * generator seeded with (seed, "tree").
 *
 * Pruning is scikit-learn's ccp_alpha: with R(t) = (n_t / n) impurity(t)
 * (the entropy in bits) and T_t the branch at t, the weakest link, the
 * internal node of least effective alpha (R(t) - R(T_t)) / (|leaves(T_t)|
 * - 1) (the first in preorder on ties), becomes a leaf, again and again
 * while that alpha is <= ccp_alpha. The pruned tree is stored as a compact
 * node array in preorder. Scores are the leaf's class distribution. */
#include "cart.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const vb_param_def tree_params[] = {
    VB_CART_GROW_PARAMS("all"),
    {.name = "ccp_alpha", .type = VB_PT_FLOAT, .def = "0", .min = 0, .max = 1e6, .flags = VB_PF_GRID,
     .help = "minimal cost-complexity pruning: the weakest link is pruned while its effective alpha, (R(t) - "
             "R(branch)) / (leaves - 1) with R the share of samples times the impurity (entropy in bits), is <= "
             "ccp_alpha (scikit-learn's; 0 = no pruning)"},
    VB_CART_BIN_PARAMS,
};

#define TREE_TAG VB_CLF_TAG('T', 'R', 'E', 'E')

typedef struct tree_state {
    vb_cart_state c; /* first: the shared vtable entries see it */
    double ccp_alpha;
} tree_state;

static vb_status tree_create(const vb_params *p, void **state, vb_error *err)
{
    tree_state *s = vb_calloc(1, sizeof *s, err);
    if (!s)
        return VB_ERR_NOMEM;
    s->c = (vb_cart_state){.name = "tree", .tag = TREE_TAG, .depth_key = "depth", .T = 1};
    vb_cart_opts_read(p, &s->c.o);
    s->ccp_alpha = vb_param_float(p, "ccp_alpha");
    *state = s;
    return VB_OK;
}

/* ---- pruning ----------------------------------------------------------- */

/* A candidate of the weakest-link search; stale once its node's version moved on. */
typedef struct cand {
    double alpha;
    int32_t pre, node;
    uint32_t version;
} cand;

static int cand_less(const cand *a, const cand *b)
{
    return a->alpha < b->alpha || (a->alpha == b->alpha && a->pre < b->pre);
}

static void heap_push(cand *h, size_t *n, cand c)
{
    size_t i = (*n)++;
    while (i > 0 && cand_less(&c, &h[(i - 1) / 2])) {
        h[i] = h[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h[i] = c;
}

static cand heap_pop(cand *h, size_t *n)
{
    cand top = h[0], last = h[--*n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= *n)
            break;
        if (c + 1 < *n && cand_less(&h[c + 1], &h[c]))
            c++;
        if (!cand_less(&h[c], &last))
            break;
        h[i] = h[c];
        i = c;
    }
    if (*n)
        h[i] = last;
    return top;
}

/* The grown tree's nodes in preorder (the left child first) into order. */
static void preorder(const vb_cart_tree *g, int32_t *order, int32_t *stack)
{
    size_t sp = 0, k = 0;
    stack[sp++] = 0;
    while (sp) {
        int32_t v = stack[--sp];
        order[k++] = v;
        if (g->nodes[v].feature >= 0) {
            stack[sp++] = g->nodes[v].right;
            stack[sp++] = g->nodes[v].left;
        }
    }
}

/* Marks in cut the internal nodes of the grown tree g (with stats) that
 * pruning at alpha turns into leaves; what lies below them goes. */
static vb_status prune(const vb_cart_tree *g, int K, int entropy, double alpha, uint8_t *cut, vb_error *err)
{
    size_t nn = g->n_nodes;
    int32_t *order = vb_malloc(nn, sizeof *order, err), *stack = vb_malloc(nn + 1, sizeof *stack, err);
    int32_t *parent = vb_malloc(nn, sizeof *parent, err), *pre = vb_malloc(nn, sizeof *pre, err);
    int32_t *leaves = vb_malloc(nn, sizeof *leaves, err);
    uint32_t *version = vb_calloc(nn, sizeof *version, err);
    double *r = vb_malloc(nn, sizeof *r, err), *rb = vb_malloc(nn, sizeof *rb, err);
    uint8_t *dead = vb_calloc(nn, 1, err);
    cand *heap = vb_malloc(nn + 1, sizeof *heap, err); /* at most one live entry per node, plus stale ones */
    size_t hn = 0, hcap = nn + 1;
    vb_status st = VB_ERR_NOMEM;
    if (!order || !stack || !parent || !pre || !leaves || !version || !r || !rb || !dead || !heap)
        goto out;
    preorder(g, order, stack);
    double n = 0;
    for (int c = 0; c < K; c++)
        n += g->cnt[c];
    parent[0] = -1;
    for (size_t k = 0; k < nn; k++) {
        int32_t v = order[k];
        const double *cv = g->cnt + (size_t)v * (size_t)K;
        double Nv = 0;
        for (int c = 0; c < K; c++)
            Nv += cv[c];
        double imp = g->nimp[v] / Nv / (entropy ? log(2.0) : 1.0);
        r[v] = Nv / n * imp;
        pre[v] = (int32_t)k;
        if (g->nodes[v].feature >= 0)
            parent[g->nodes[v].left] = parent[g->nodes[v].right] = v;
    }
    for (size_t k = nn; k-- > 0;) { /* children before their parent */
        int32_t v = order[k];
        const vb_cart_node *nd = &g->nodes[v];
        leaves[v] = nd->feature < 0 ? 1 : leaves[nd->left] + leaves[nd->right];
        rb[v] = nd->feature < 0 ? r[v] : rb[nd->left] + rb[nd->right];
    }
    for (size_t k = 0; k < nn; k++) {
        int32_t v = order[k];
        if (g->nodes[v].feature >= 0)
            heap_push(heap, &hn, (cand){(r[v] - rb[v]) / (leaves[v] - 1), (int32_t)k, v, 0});
    }
    while (hn) {
        cand c = heap_pop(heap, &hn);
        int32_t v = c.node;
        if (dead[v] || cut[v] || c.version != version[v])
            continue;
        if (c.alpha > alpha)
            break;
        cut[v] = 1;
        /* the branch below v goes */
        size_t sp = 0;
        stack[sp++] = g->nodes[v].left;
        stack[sp++] = g->nodes[v].right;
        while (sp) {
            int32_t u = stack[--sp];
            dead[u] = 1;
            if (g->nodes[u].feature >= 0 && !cut[u]) {
                stack[sp++] = g->nodes[u].left;
                stack[sp++] = g->nodes[u].right;
            }
        }
        int32_t dl = leaves[v] - 1;
        double dr = r[v] - rb[v];
        leaves[v] = 1;
        rb[v] = r[v];
        for (int32_t a = parent[v]; a >= 0; a = parent[a]) {
            leaves[a] -= dl;
            rb[a] += dr;
            version[a]++;
            if (hn == hcap) {
                cand *p = realloc(heap, 2 * hcap * sizeof *p);
                if (!p) {
                    st = vb_fail(err, VB_ERR_NOMEM, "tree: out of memory while pruning");
                    goto out;
                }
                heap = p;
                hcap *= 2;
            }
            heap_push(heap, &hn, (cand){(r[a] - rb[a]) / (leaves[a] - 1), pre[a], a, version[a]});
        }
    }
    st = VB_OK;
out:
    free(order);
    free(stack);
    free(parent);
    free(pre);
    free(leaves);
    free(version);
    free(r);
    free(rb);
    free(dead);
    free(heap);
    return st;
}

/* The grown tree g without the branches below the cut nodes, as a compact
 * tree in preorder: leaf distributions from the class counts, importances
 * from the impurity decrease of the splits left. */
static vb_status rebuild(const vb_cart_tree *g, const uint8_t *cut, int K, size_t d, vb_cart_tree *t, vb_error *err)
{
    size_t nn = g->n_nodes;
    int32_t *map = vb_malloc(nn, sizeof *map, err), *old = vb_malloc(nn, sizeof *old, err);
    int32_t *stack = vb_malloc(nn + 1, sizeof *stack, err), *depth = vb_malloc(nn, sizeof *depth, err);
    t->nodes = vb_malloc(nn, sizeof *t->nodes, err);
    t->vals = vb_malloc(nn, (size_t)K * sizeof *t->vals, err);
    t->imp = vb_calloc(d, sizeof *t->imp, err);
    vb_status st = VB_ERR_NOMEM;
    if (!map || !old || !stack || !depth || !t->nodes || !t->vals || !t->imp)
        goto out;
    size_t sp = 0, k = 0;
    stack[sp++] = 0;
    depth[0] = 0;
    while (sp) {
        int32_t v = stack[--sp];
        map[v] = (int32_t)k;
        old[k++] = v;
        if (depth[v] > t->depth)
            t->depth = depth[v];
        const vb_cart_node *nd = &g->nodes[v];
        if (nd->feature >= 0 && !cut[v]) {
            depth[nd->left] = depth[nd->right] = depth[v] + 1;
            stack[sp++] = nd->right;
            stack[sp++] = nd->left;
        }
    }
    for (size_t j = 0; j < k; j++) {
        int32_t v = old[j];
        const vb_cart_node *nd = &g->nodes[v];
        vb_cart_node *out = &t->nodes[j];
        const double *cv = g->cnt + (size_t)v * (size_t)K;
        if (nd->feature >= 0 && !cut[v]) {
            *out = (vb_cart_node){nd->feature, nd->thr, map[nd->left], map[nd->right]};
            t->imp[nd->feature] += g->nimp[v] - g->nimp[nd->left] - g->nimp[nd->right];
        } else {
            double N = 0;
            for (int c = 0; c < K; c++)
                N += cv[c];
            *out = (vb_cart_node){-1, 0, (int32_t)t->n_vals, -1};
            vb_cart_leaf_values(cv, K, N, t->vals + t->n_vals);
            t->n_vals += (size_t)K;
            t->leaves++;
        }
    }
    t->n_nodes = k;
    st = VB_OK;
out:
    free(map);
    free(old);
    free(stack);
    free(depth);
    return st;
}

/* ---- training ---------------------------------------------------------- */

static vb_status tree_train(void *state, const vb_traindata *td, vb_error *err)
{
    tree_state *s = state;
    vb_cart_model_clear(&s->c.m);
    size_t n = td->n, d = td->d, mf = vb_cart_features_per_split(&s->c.o, d);
    int K = td->n_classes;
    if (n > 0x7fffffffu)
        return vb_fail(err, VB_ERR_DATA, "tree: %zu training rows is beyond 2^31", n);
    vb_cart_bins bn = {0};
    vb_cart_tree g = {0}, t = {0};
    vb_cart_work *w = NULL;
    vb_rng *rng = NULL;
    uint8_t *cut = NULL;
    double *xlogx = vb_cart_xlogx(n, err);
    vb_status st = xlogx ? vb_cart_bin(&s->c.o, td, "tree", mf == d ? VB_CART_BLOCK : 1, &bn, err) : VB_ERR_NOMEM;
    if (st != VB_OK)
        goto out;
    st = VB_ERR_NOMEM;
    w = vb_cart_work_new(&bn, n, d, K, xlogx, mf == d);
    g.imp = calloc(d, sizeof *g.imp);
    if (mf < d)
        rng = vb_rng_new(vb_seed_derive(td->seed, "tree", 0));
    if (!w || !g.imp || (mf < d && !rng)) {
        st = vb_fail(err, VB_ERR_NOMEM, "tree: out of memory");
        goto out;
    }
    int rc = vb_cart_grow(&s->c.o, &bn, td->y, n, d, K, mf, rng, 1, w, &g);
    if (rc == -2) {
        st = vb_fail(err, VB_ERR_INTERRUPTED, "tree: interrupted");
        goto out;
    }
    if (rc < 0) {
        st = vb_fail(err, VB_ERR_NOMEM, "tree: out of memory while growing the tree");
        goto out;
    }
    /* scikit-learn does not prune at ccp_alpha 0 (not even splits that gain nothing) */
    if (!(cut = vb_calloc(g.n_nodes, 1, err)) ||
        (s->ccp_alpha > 0 && (st = prune(&g, K, s->c.o.entropy, s->ccp_alpha, cut, err)) != VB_OK) ||
        (st = rebuild(&g, cut, K, d, &t, err)) != VB_OK)
        goto out;
    st = vb_cart_model_set(&s->c.m, &t, 1, d, K, "tree", err);
out:
    vb_cart_tree_free(&g);
    vb_cart_tree_free(&t);
    vb_cart_work_free(w);
    vb_rng_free(rng);
    vb_cart_bins_free(&bn);
    free(cut);
    free(xlogx);
    return st;
}

const vb_classifier_vt vb_clf_tree = {
    .info = {.name = "tree",
             .help = "one CART decision tree (the forest's histogram splits, exact when a feature has at most "
                     "max_bins distinct values), with minimal cost-complexity pruning",
             .doc = "Scores are the class distribution of the leaf (probabilities). With every feature tried "
                    "(the default) the tree does not depend on the seed: ties go to the lower feature; the "
                    "larger nodes' histograms are derived by subtraction and their features searched in "
                    "parallel, smaller subtrees grown as parallel tasks, the same tree for any thread count. "
                    "With max_features below all each node tries features in an order drawn from the seed. "
                    "info reports the nodes, leaves and depth after pruning and the ten largest feature "
                    "importances (impurity decrease, normalised; also in visbench model info).",
             .params = tree_params,
             .n_params = sizeof tree_params / sizeof tree_params[0]},
    .flags = VB_CLF_PROBA,
    .create = tree_create,
    .train = tree_train,
    VB_CART_VT_ENTRIES,
};
