/* hier: hierarchical classification over any single-label classifier
 * (HiClass's local classifiers; Silla and Freitas 2011).
 *
 *   per-parent  one base classifier per parent node (the root and every
 *               inner node with two children or more), choosing among its
 *               children, trained on the images under it
 *   per-level   one base classifier per level, over that level's nodes
 *               (vb_tax_level_nodes), trained on every image
 *
 * Each node v gets a conditional probability c(v) = P(v | parent(v)) per
 * image: the base classifier's distribution over the parent's children
 * (per-parent) or its level's distribution renormalised over v's siblings
 * (per-level); decision values go through a softmax first. A leaf's score
 * is the product of c along its path, so the scores are a distribution over
 * the leaves. The prediction walks down from the root to the child of
 * largest c, so it is always consistent (a path of the taxonomy); with
 * stop > 0 it stops at an inner node when the best child's c is below stop
 * (the label is then that inner node's id, >= the class count). */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

static const vb_param_def hier_params[] = {
    {.name = "method", .type = VB_PT_ENUM, .def = "per-parent", .choices = "per-parent|per-level",
     .help = "local classifier per parent node, or per level"},
    VB_BASE_PARAM("at each parent node or level"),
    {.name = "stop", .type = VB_PT_FLOAT, .def = "0", .min = 0, .max = 1,
     .help = "stop at an inner node when the best child's conditional probability is below this (0: always "
             "predict a leaf)"},
};

typedef struct hier_state {
    int per_level;
    const vb_classifier_vt *base_vt;
    vb_params base_params;
    int proba;
    double stop;
    /* trained */
    size_t d;
    vb_taxonomy *tax;
    int n_units;        /* per-parent: 1 + inner nodes (unit 0 = the root); per-level: levels */
    int *unit_k;        /* classes of each unit */
    int **unit_node;    /* the node of each class of each unit */
    int *unit_const;    /* -1: trained; else the one class seen in training */
    vb_classifier **clf;
    /* derived from tax */
    int *n_child, **child; /* per node + 1 (index 0 = the root, node v at v + 1) */
} hier_state;

static vb_status hier_create(const vb_params *p, void **state, vb_error *err)
{
    hier_state *s = vb_calloc(1, sizeof *s, err);
    if (!s)
        return VB_ERR_NOMEM;
    vb_status st = vb_clf_parse_base(p, "hier", &s->base_vt, &s->base_params, err);
    if (st != VB_OK) {
        free(s);
        return st;
    }
    s->per_level = vb_param_is(p, "method", "per-level");
    s->stop = vb_param_float(p, "stop");
    s->proba = vb_classifier_params_proba(s->base_vt, &s->base_params);
    *state = s;
    return VB_OK;
}

static void hier_clear(hier_state *s)
{
    for (int u = 0; u < s->n_units; u++) {
        if (s->clf)
            vb_classifier_free(s->clf[u]);
        if (s->unit_node)
            free(s->unit_node[u]);
    }
    free(s->clf);
    free(s->unit_node);
    free(s->unit_k);
    free(s->unit_const);
    if (s->tax && s->child)
        for (int v = 0; v <= s->tax->n_nodes; v++)
            free(s->child[v]);
    free(s->child);
    free(s->n_child);
    vb_taxonomy_free(s->tax);
    s->clf = NULL;
    s->unit_node = NULL;
    s->unit_k = NULL;
    s->unit_const = NULL;
    s->child = NULL;
    s->n_child = NULL;
    s->tax = NULL;
    s->n_units = 0;
    s->d = 0;
}

static void hier_destroy(void *state)
{
    hier_state *s = state;
    hier_clear(s);
    vb_params_free(&s->base_params);
    free(s);
}

/* Children lists and the units (their classes) from the taxonomy. */
static vb_status hier_setup(hier_state *s, vb_error *err)
{
    const vb_taxonomy *t = s->tax;
    int N = t->n_nodes;
    s->n_child = vb_calloc((size_t)N + 1, sizeof *s->n_child, err);
    s->child = vb_calloc((size_t)N + 1, sizeof *s->child, err);
    if (!s->n_child || !s->child)
        return VB_ERR_NOMEM;
    for (int v = 0; v < N; v++)
        s->n_child[t->parent[v] + 1]++;
    for (int v = 0; v <= N; v++)
        if (s->n_child[v] && !(s->child[v] = vb_malloc((size_t)s->n_child[v], sizeof **s->child, err)))
            return VB_ERR_NOMEM;
    int *fill = vb_calloc((size_t)N + 1, sizeof *fill, err);
    if (!fill)
        return VB_ERR_NOMEM;
    for (int v = 0; v < N; v++) {
        int p = t->parent[v] + 1;
        s->child[p][fill[p]++] = v;
    }
    free(fill);
    s->n_units = s->per_level ? t->max_depth : 1 + (N - t->n_leaves);
    s->unit_k = vb_calloc((size_t)s->n_units, sizeof *s->unit_k, err);
    s->unit_node = vb_calloc((size_t)s->n_units, sizeof *s->unit_node, err);
    s->unit_const = vb_malloc((size_t)s->n_units, sizeof *s->unit_const, err);
    s->clf = vb_calloc((size_t)s->n_units, sizeof *s->clf, err);
    if (!s->unit_k || !s->unit_node || !s->unit_const || !s->clf)
        return VB_ERR_NOMEM;
    for (int u = 0; u < s->n_units; u++) {
        s->unit_const[u] = -1;
        int k;
        if (s->per_level)
            k = vb_tax_level_nodes(t, u + 1, NULL);
        else
            k = s->n_child[u == 0 ? 0 : t->n_leaves + u];
        s->unit_k[u] = k;
        if (!(s->unit_node[u] = vb_malloc((size_t)(k ? k : 1), sizeof **s->unit_node, err)))
            return VB_ERR_NOMEM;
        if (s->per_level)
            vb_tax_level_nodes(t, u + 1, s->unit_node[u]);
        else
            memcpy(s->unit_node[u], s->child[u == 0 ? 0 : t->n_leaves + u], (size_t)k * sizeof(int));
    }
    return VB_OK;
}

/* The class of leaf y for unit u, or -1 when the images of y do not train u. */
static int unit_class(const hier_state *s, int u, int y)
{
    const vb_taxonomy *t = s->tax;
    int target;
    if (s->per_level)
        target = vb_tax_at_level(t, y, u + 1);
    else {
        int parent = u == 0 ? -1 : t->n_leaves + (u - 1); /* the inner node of unit u */
        /* the child of parent on y's path */
        target = -1;
        for (int v = y; v >= 0; v = t->parent[v])
            if (t->parent[v] == parent) {
                target = v;
                break;
            }
        if (target < 0)
            return -1;
    }
    for (int c = 0; c < s->unit_k[u]; c++)
        if (s->unit_node[u][c] == target)
            return c;
    return -1;
}

static vb_status hier_train(void *state, const vb_traindata *td, vb_error *err)
{
    hier_state *s = state;
    hier_clear(s);
    if (!td->tax)
        return vb_fail(err, VB_ERR_DATA,
                       "hier: needs a class taxonomy (a hierarchical dataset: nested class folders, or hierarchy: "
                       "in the dataset descriptor)");
    if (td->tax->n_leaves != td->n_classes)
        return vb_fail(err, VB_ERR_DATA, "hier: the taxonomy has %d leaves for %d classes", td->tax->n_leaves,
                       td->n_classes);
    vb_status st = (s->tax = vb_taxonomy_copy(td->tax, err)) ? VB_OK : VB_ERR_NOMEM;
    if (st == VB_OK)
        st = hier_setup(s, err);
    s->d = td->d;
    size_t n = td->n;
    int *y = vb_malloc(n, sizeof *y, err), *yv = vb_malloc(td->n_val ? td->n_val : 1, sizeof *yv, err);
    size_t *rows = vb_malloc(n, sizeof *rows, err), *vrows = vb_malloc(td->n_val ? td->n_val : 1, sizeof *vrows, err);
    float *X = vb_malloc(n, td->d * sizeof *X, err);
    float *Xv = td->n_val ? vb_malloc(td->n_val, td->d * sizeof *Xv, err) : NULL;
    if (st == VB_OK && (!y || !yv || !rows || !vrows || !X || (td->n_val && !Xv)))
        st = VB_ERR_NOMEM;
    for (int u = 0; u < s->n_units && st == VB_OK; u++) {
        if (s->unit_k[u] < 2) {
            s->unit_const[u] = 0;
            continue;
        }
        size_t m = 0, mv = 0;
        int first = -1, distinct = 0;
        for (size_t i = 0; i < n; i++) {
            int c = unit_class(s, u, td->y[i]);
            if (c < 0)
                continue;
            if (first < 0)
                first = c;
            distinct |= c != first;
            y[m] = c;
            rows[m++] = i;
        }
        for (size_t i = 0; i < td->n_val; i++) {
            int c = unit_class(s, u, td->yval[i]);
            if (c >= 0) {
                yv[mv] = c;
                vrows[mv++] = i;
            }
        }
        if (!distinct) {
            s->unit_const[u] = first < 0 ? 0 : first;
            continue;
        }
        for (size_t i = 0; i < m; i++)
            memcpy(X + i * td->d, td->X + rows[i] * td->d, td->d * sizeof *X);
        for (size_t i = 0; i < mv; i++)
            memcpy(Xv + i * td->d, td->Xval + vrows[i] * td->d, td->d * sizeof *Xv);
        vb_traindata b = {.X = X, .n = m, .d = td->d, .y = y, .n_classes = s->unit_k[u],
                          .Xval = mv ? Xv : NULL, .yval = mv ? yv : NULL, .n_val = mv, .shape = td->shape,
                          .seed = vb_seed_derive(td->seed, "hier unit", (uint64_t)u), .name = td->name};
        st = vb_classifier_new(s->base_vt, &s->base_params, &s->clf[u], err);
        if (st == VB_OK)
            st = vb_classifier_train(s->clf[u], &b, err);
        if (st != VB_OK && s->per_level)
            vb_error_prefix(err, "hier: level %d", u + 1);
        else if (st != VB_OK)
            vb_error_prefix(err, "hier: node '%s'", u == 0 ? "(root)" : s->tax->names[s->tax->n_leaves + u - 1]);
    }
    free(y);
    free(yv);
    free(rows);
    free(vrows);
    free(X);
    free(Xv);
    if (st != VB_OK)
        hier_clear(s);
    return st;
}

/* c(v) for every node v of n rows into C (n x n_nodes). */
static vb_status conditionals(const hier_state *s, const float *X, size_t n, float *C, vb_error *err)
{
    const vb_taxonomy *t = s->tax;
    int N = t->n_nodes;
    for (size_t i = 0; i < n * (size_t)N; i++)
        C[i] = 0;
    vb_status st = VB_OK;
    int kmax = 1;
    for (int u = 0; u < s->n_units; u++)
        kmax = s->unit_k[u] > kmax ? s->unit_k[u] : kmax;
    float *S = vb_malloc(n ? n : 1, (size_t)kmax * sizeof *S, err);
    int *lab = vb_malloc(n ? n : 1, sizeof *lab, err);
    if (!S || !lab)
        st = VB_ERR_NOMEM;
    for (int u = 0; u < s->n_units && st == VB_OK; u++) {
        int k = s->unit_k[u];
        if (k == 0)
            continue;
        if (s->unit_const[u] >= 0) {
            for (size_t i = 0; i < n * (size_t)k; i++)
                S[i] = 0;
            for (size_t i = 0; i < n; i++)
                S[i * (size_t)k + s->unit_const[u]] = 1;
        } else {
            if ((st = vb_classifier_predict(s->clf[u], X, n, s->d, lab, S, err)) != VB_OK)
                break;
            vb_clf_scores_to_dist(S, n, k, s->proba);
        }
        for (size_t i = 0; i < n; i++)
            for (int c = 0; c < k; c++) {
                int v = s->unit_node[u][c];
                if (!s->per_level || t->depth[v] == u + 1)
                    C[i * (size_t)N + v] = S[i * (size_t)k + c];
            }
    }
    if (st == VB_OK && s->per_level) /* renormalise over the siblings */
        for (size_t i = 0; i < n; i++)
            for (int p = 0; p <= N; p++) {
                double sum = 0;
                for (int c = 0; c < s->n_child[p]; c++)
                    sum += C[i * (size_t)N + s->child[p][c]];
                for (int c = 0; c < s->n_child[p]; c++) {
                    float *x = &C[i * (size_t)N + s->child[p][c]];
                    *x = sum > 0 ? (float)(*x / sum) : 1.0f / (float)s->n_child[p];
                }
            }
    free(S);
    free(lab);
    return st;
}

static vb_status hier_predict(const void *state, const float *X, size_t n, int *labels, float *scores, vb_error *err)
{
    const hier_state *s = state;
    const vb_taxonomy *t = s->tax;
    int N = t->n_nodes;
    float *C = vb_malloc(n ? n : 1, (size_t)N * sizeof *C, err);
    if (!C)
        return VB_ERR_NOMEM;
    vb_status st = conditionals(s, X, n, C, err);
    for (size_t i = 0; st == VB_OK && i < n; i++) {
        const float *c = C + i * (size_t)N;
        int node = -1;
        for (;;) {
            int p = node + 1, best = -1;
            for (int q = 0; q < s->n_child[p]; q++) {
                int v = s->child[p][q];
                if (best < 0 || c[v] > c[best])
                    best = v;
            }
            if (best < 0)
                break; /* a leaf */
            if (node >= 0 && s->stop > 0 && c[best] < s->stop)
                break;
            node = best;
        }
        labels[i] = node;
        if (scores)
            for (int l = 0; l < t->n_leaves; l++) {
                double pr = 1;
                for (int v = l; v >= 0; v = t->parent[v])
                    pr *= c[v];
                scores[i * (size_t)t->n_leaves + l] = (float)pr;
            }
    }
    free(C);
    return st;
}

#define HIER_TAG VB_CLF_TAG('H', 'I', 'E', 'R')
#define HIER_VERSION 1

static vb_status hier_save(const void *state, vb_writer *w, vb_error *err)
{
    const hier_state *s = state;
    vb_clf_write_tag(w, HIER_TAG, HIER_VERSION);
    vb_write_u8(w, (uint8_t)s->per_level);
    vb_write_u64(w, s->d);
    vb_taxonomy_save(s->tax, w);
    vb_write_u32(w, (uint32_t)s->n_units);
    vb_write_i32s(w, s->unit_const, (size_t)s->n_units);
    for (int u = 0; u < s->n_units; u++)
        if (s->unit_const[u] < 0) {
            vb_status st = vb_classifier_save(s->clf[u], w, err);
            if (st != VB_OK)
                return st;
        }
    return vb_writer_status(w, err);
}

static vb_status hier_load(void *state, vb_reader *r, vb_error *err)
{
    hier_state *s = state;
    hier_clear(s);
    vb_status st = vb_clf_read_tag(r, HIER_TAG, HIER_VERSION, "hier", err);
    uint8_t per_level = 0;
    uint64_t d = 0;
    uint32_t units = 0;
    if (st == VB_OK)
        st = vb_read_u8(r, &per_level, err);
    if (st == VB_OK && per_level != (uint8_t)s->per_level)
        st = vb_fail(err, VB_ERR_FORMAT, "%s: hier: the state is of another method", r->what);
    if (st == VB_OK)
        st = vb_read_u64(r, &d, err);
    if (st == VB_OK && (d == 0 || d > ((uint64_t)1 << 31)))
        st = vb_fail(err, VB_ERR_FORMAT, "%s: hier: bad feature count", r->what);
    if (st == VB_OK)
        st = vb_taxonomy_load(r, &s->tax, err);
    if (st == VB_OK)
        st = hier_setup(s, err);
    if (st == VB_OK)
        st = vb_read_u32_range(r, &units, (uint32_t)s->n_units, (uint32_t)s->n_units, "units", err);
    if (st == VB_OK)
        st = vb_read_i32s_into(r, s->unit_const, (size_t)s->n_units, err);
    s->d = (size_t)d;
    for (int u = 0; st == VB_OK && u < s->n_units; u++) {
        if (s->unit_const[u] < -1 || s->unit_const[u] >= (s->unit_k[u] ? s->unit_k[u] : 1)) {
            st = vb_fail(err, VB_ERR_FORMAT, "%s: hier: corrupt state", r->what);
            break;
        }
        if (s->unit_const[u] >= 0)
            continue;
        st = vb_classifier_new(s->base_vt, &s->base_params, &s->clf[u], err);
        if (st == VB_OK)
            st = vb_classifier_load(s->clf[u], r, err);
        if (st == VB_OK && (s->clf[u]->d != s->d || s->clf[u]->n_classes != s->unit_k[u]))
            st = vb_fail(err, VB_ERR_FORMAT, "%s: hier: a local classifier has the wrong shape", r->what);
    }
    if (st != VB_OK)
        hier_clear(s);
    return st;
}

static void hier_dims(const void *state, size_t *d, int *n_classes)
{
    const hier_state *s = state;
    *d = s->d;
    *n_classes = s->tax ? s->tax->n_leaves : 0;
}

static void hier_info(const void *state, vb_buf *b)
{
    const hier_state *s = state;
    int trained = 0;
    for (int u = 0; u < s->n_units; u++)
        trained += s->unit_const[u] < 0;
    vb_buf_printf(b, "\"base\": \"%s\", \"method\": \"%s\", \"local_classifiers\": %d, \"levels\": %d",
                  s->base_vt->info.name, s->per_level ? "per-level" : "per-parent", trained,
                  s->tax ? s->tax->max_depth : 0);
}

const vb_classifier_vt vb_clf_hier = {
    .info = {.name = "hier",
             .help = "hierarchical classification: local classifiers per parent node or per level",
             .doc = "Needs a class taxonomy (nested class folders, or hierarchy: in the dataset descriptor). Leaf "
                    "scores are the products of the conditional probabilities along each path (decision values "
                    "through a softmax at each node); predictions walk down the taxonomy, so they are always "
                    "consistent.",
             .params = hier_params,
             .n_params = sizeof hier_params / sizeof hier_params[0]},
    .flags = VB_CLF_PROBA | VB_CLF_HIER,
    .create = hier_create,
    .train = hier_train,
    .predict = hier_predict,
    .save = hier_save,
    .load = hier_load,
    .info_json = hier_info,
    .destroy = hier_destroy,
    .dims = hier_dims,
};
