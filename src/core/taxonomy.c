/* Class taxonomies: validation, depths, level maps, paths, hashing and
 * serialisation. */
#include "visbench/taxonomy.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* Serialised as: u32 version, u32 n_leaves, u32 n_nodes, then per node its
 * name (a string) and its parent (i32). */
#define TAX_VERSION 1
/* The fewest bytes one serialised node takes: an 8-byte name length, one
 * name byte (names are not empty), a 4-byte parent. */
#define TAX_NODE_MIN_BYTES 13

vb_taxonomy *vb_taxonomy_new(int n_leaves, int n_nodes, vb_error *err)
{
    if (n_leaves < 1 || n_nodes < n_leaves) {
        vb_fail(err, VB_ERR_PARAM, "a taxonomy needs at least one class and no fewer nodes than classes "
                                   "(%d classes, %d nodes)", n_leaves, n_nodes);
        return NULL;
    }
    vb_taxonomy *t = vb_calloc(1, sizeof *t, err);
    if (!t)
        return NULL;
    t->n_leaves = n_leaves;
    t->n_nodes = n_nodes;
    t->names = vb_calloc((size_t)n_nodes, sizeof *t->names, err);
    t->parent = vb_malloc((size_t)n_nodes, sizeof *t->parent, err);
    t->depth = vb_calloc((size_t)n_nodes, sizeof *t->depth, err);
    if (!t->names || !t->parent || !t->depth) {
        vb_taxonomy_free(t);
        return NULL;
    }
    for (int i = 0; i < n_nodes; i++)
        t->parent[i] = -1;
    return t;
}

void vb_taxonomy_free(vb_taxonomy *t)
{
    if (!t)
        return;
    if (t->names)
        for (int i = 0; i < t->n_nodes; i++)
            free(t->names[i]);
    free(t->names);
    free(t->parent);
    free(t->depth);
    free(t);
}

vb_taxonomy *vb_taxonomy_copy(const vb_taxonomy *t, vb_error *err)
{
    vb_taxonomy *c = vb_taxonomy_new(t->n_leaves, t->n_nodes, err);
    if (!c)
        return NULL;
    for (int i = 0; i < t->n_nodes; i++)
        if (t->names[i] && !(c->names[i] = vb_strdup(t->names[i], err))) {
            vb_taxonomy_free(c);
            return NULL;
        }
    memcpy(c->parent, t->parent, (size_t)t->n_nodes * sizeof *c->parent);
    memcpy(c->depth, t->depth, (size_t)t->n_nodes * sizeof *c->depth);
    c->max_depth = t->max_depth;
    return c;
}

/* "class" for a leaf, "group" for an inner node, in messages. */
static const char *kind(const vb_taxonomy *t, int node) { return node < t->n_leaves ? "class" : "group"; }

typedef struct named {
    const char *name;
    int node;
} named;

static int by_name(const void *a, const void *b)
{
    const named *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : (x->node > y->node) - (x->node < y->node);
}

/* The first name that two nodes share, as the lower of the two nodes, or -1. */
static vb_status duplicate_name(const vb_taxonomy *t, vb_error *err, int *dup)
{
    *dup = -1;
    named *v = vb_malloc((size_t)t->n_nodes, sizeof *v, err);
    if (!v)
        return VB_ERR_NOMEM;
    for (int i = 0; i < t->n_nodes; i++)
        v[i] = (named){t->names[i], i};
    qsort(v, (size_t)t->n_nodes, sizeof *v, by_name);
    for (int i = 1; i < t->n_nodes; i++)
        if (!strcmp(v[i - 1].name, v[i].name) && (*dup < 0 || v[i - 1].node < *dup))
            *dup = v[i - 1].node;
    free(v);
    return VB_OK;
}

static vb_status validate(vb_taxonomy *t, const char *where, vb_error *err)
{
    int n = t->n_nodes;
    for (int i = 0; i < n; i++) {
        if (!t->names[i] || !t->names[i][0])
            return vb_fail(err, VB_ERR_DATA, "%s: %s %d of the hierarchy has no name", where, kind(t, i), i);
        int p = t->parent[i];
        if (p != -1 && (p < 0 || p >= n))
            return vb_fail(err, VB_ERR_DATA, "%s: %s '%s' has parent %d, not a node of the hierarchy (%d nodes)",
                           where, kind(t, i), t->names[i], p, n);
        if (p != -1 && p < t->n_leaves)
            return vb_fail(err, VB_ERR_DATA, "%s: %s '%s' is under '%s', which is a class, not a group",
                           where, kind(t, i), t->names[i], t->names[p] ? t->names[p] : "?");
    }
    /* Depths: walk up from each node, at most VB_TAX_MAX_DEPTH steps; a
     * longer walk fails, and walked on to n steps it tells a cycle (after n
     * steps it stands on the cycle) from a chain too deep. */
    t->max_depth = 0;
    for (int i = 0; i < n; i++) {
        int d = 1, p = t->parent[i];
        while (p != -1 && d <= VB_TAX_MAX_DEPTH) {
            d++;
            p = t->parent[p];
        }
        while (p != -1 && d <= n) {
            d++;
            p = t->parent[p];
        }
        if (p != -1)
            return vb_fail(err, VB_ERR_DATA, "%s: group '%s' is its own ancestor (the hierarchy has a cycle)", where,
                           t->names[p]);
        if (d > VB_TAX_MAX_DEPTH)
            return vb_fail(err, VB_ERR_DATA, "%s: %s '%s' is %d levels deep, more than the %d a hierarchy may have",
                           where, kind(t, i), t->names[i], d, VB_TAX_MAX_DEPTH);
        t->depth[i] = d;
        t->max_depth = d > t->max_depth ? d : t->max_depth;
    }
    /* Every group has a child (a leaf at the end of each branch). */
    int *children = vb_calloc((size_t)n, sizeof *children, err);
    if (!children)
        return VB_ERR_NOMEM;
    for (int i = 0; i < n; i++)
        if (t->parent[i] >= 0)
            children[t->parent[i]]++;
    int empty = -1;
    for (int i = t->n_leaves; i < n && empty < 0; i++)
        if (!children[i])
            empty = i;
    free(children);
    if (empty >= 0)
        return vb_fail(err, VB_ERR_DATA, "%s: group '%s' of the hierarchy has no class or group under it", where,
                       t->names[empty]);
    int dup;
    vb_status st = duplicate_name(t, err, &dup);
    if (st != VB_OK)
        return st;
    if (dup >= 0)
        return vb_fail(err, VB_ERR_DATA, "%s: %s '%s' appears twice in the hierarchy", where, kind(t, dup),
                       t->names[dup]);
    return VB_OK;
}

/* A taxonomy that fails keeps max_depth 0: not usable as finished. */
vb_status vb_taxonomy_finish(vb_taxonomy *t, const char *where, vb_error *err)
{
    where = where ? where : "taxonomy";
    if (!t || t->n_leaves < 1 || t->n_nodes < t->n_leaves)
        return vb_fail(err, VB_ERR_DATA, "%s: a taxonomy needs at least one class", where);
    vb_status st = validate(t, where, err);
    if (st != VB_OK)
        t->max_depth = 0;
    return st;
}

/* Out-of-range nodes and levels: at_level gives -1 for a node out of range
 * and treats a level below 1 as 1. */
int vb_tax_at_level(const vb_taxonomy *t, int node, int level)
{
    if (node < 0 || node >= t->n_nodes)
        return -1;
    level = level < 1 ? 1 : level;
    for (int d = t->depth[node]; d > level; d--)
        node = t->parent[node];
    return node;
}

/* When max is smaller than the depth, the first max nodes from the top. */
int vb_tax_path(const vb_taxonomy *t, int node, int *out, int max)
{
    if (node < 0 || node >= t->n_nodes || max < 0)
        return 0;
    int d = t->depth[node];
    for (int i = d - 1; i >= 0 && node >= 0; i--, node = t->parent[node])
        if (i < max)
            out[i] = node;
    return d < max ? d : max;
}

int vb_tax_is_ancestor(const vb_taxonomy *t, int a, int b)
{
    if (a < 0 || a >= t->n_nodes || b < 0 || b >= t->n_nodes || t->depth[a] > t->depth[b])
        return 0;
    return vb_tax_at_level(t, b, t->depth[a]) == a;
}

void vb_tax_path_text(const vb_taxonomy *t, int node, vb_buf *b)
{
    int path[VB_TAX_MAX_DEPTH];
    int d = vb_tax_path(t, node, path, VB_TAX_MAX_DEPTH);
    for (int i = 0; i < d; i++) {
        if (i)
            vb_buf_puts(b, "/");
        vb_buf_puts(b, t->names[path[i]]);
    }
}

int vb_tax_level_nodes(const vb_taxonomy *t, int level, int *nodes)
{
    int k = 0;
    for (int i = 0; i < t->n_nodes; i++)
        if (t->depth[i] == level || (i < t->n_leaves && t->depth[i] < level)) {
            if (nodes)
                nodes[k] = i;
            k++;
        }
    return k;
}

uint64_t vb_taxonomy_hash(const vb_taxonomy *t)
{
    int32_t head[2] = {t->n_leaves, t->n_nodes};
    uint64_t h = vb_hash64(head, sizeof head, 0);
    for (int i = 0; i < t->n_nodes; i++) {
        const char *s = t->names[i] ? t->names[i] : "";
        h = vb_hash64(s, strlen(s) + 1, h); /* with the NUL, so "ab"+"c" differs from "a"+"bc" */
        int32_t p = t->parent[i];
        h = vb_hash64(&p, sizeof p, h);
    }
    return h;
}

void vb_taxonomy_save(const vb_taxonomy *t, vb_writer *w)
{
    vb_write_u32(w, TAX_VERSION);
    vb_write_u32(w, (uint32_t)t->n_leaves);
    vb_write_u32(w, (uint32_t)t->n_nodes);
    for (int i = 0; i < t->n_nodes; i++) {
        vb_write_str(w, t->names[i]);
        vb_write_i32(w, t->parent[i]);
    }
}

vb_status vb_taxonomy_load(vb_reader *r, vb_taxonomy **out, vb_error *err)
{
    *out = NULL;
    uint32_t version, n_leaves, n_nodes;
    vb_status st;
    if ((st = vb_read_u32_range(r, &version, TAX_VERSION, TAX_VERSION, "taxonomy version", err)) ||
        (st = vb_read_u32_range(r, &n_leaves, 1, INT_MAX, "taxonomy classes", err)) ||
        (st = vb_read_u32_range(r, &n_nodes, n_leaves, INT_MAX, "taxonomy nodes", err)))
        return st;
    if ((size_t)n_nodes > vb_reader_left(r) / TAX_NODE_MIN_BYTES)
        return vb_fail(err, VB_ERR_FORMAT, "%s: corrupt taxonomy: %u nodes in %zu bytes", r->what, n_nodes,
                       vb_reader_left(r));
    vb_taxonomy *t = vb_taxonomy_new((int)n_leaves, (int)n_nodes, err);
    if (!t)
        return VB_ERR_NOMEM;
    for (int i = 0; i < t->n_nodes && st == VB_OK; i++) {
        int32_t p = 0;
        if ((st = vb_read_str(r, &t->names[i], err)) || (st = vb_read_i32(r, &p, err)))
            break;
        if (!t->names[i] || (p != -1 && (p < t->n_leaves || p >= t->n_nodes)))
            st = vb_fail(err, VB_ERR_FORMAT, "%s: corrupt taxonomy node %d", r->what, i);
        t->parent[i] = p;
    }
    if (st == VB_OK && (st = vb_taxonomy_finish(t, r->what, err)) == VB_ERR_DATA) {
        st = VB_ERR_FORMAT; /* a hierarchy a file claims: the file is corrupt */
        if (err)
            err->status = st;
    }
    if (st != VB_OK) {
        vb_taxonomy_free(t);
        return st;
    }
    *out = t;
    return VB_OK;
}
