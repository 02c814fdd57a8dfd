/* TEMPORARY stand-in for src/core/taxonomy.c (being written on another
 * branch): only what the data layer calls, to the semantics documented in
 * taxonomy.h. Deleted before merging ("drop taxonomy stub"). */
#include "visbench/taxonomy.h"

#include <stdlib.h>
#include <string.h>

vb_taxonomy *vb_taxonomy_new(int n_leaves, int n_nodes, vb_error *err)
{
    if (n_leaves < 0 || n_nodes < n_leaves) {
        vb_fail(err, VB_ERR_INTERNAL, "taxonomy of %d leaves and %d nodes", n_leaves, n_nodes);
        return NULL;
    }
    vb_taxonomy *t = vb_calloc(1, sizeof *t, err);
    if (!t)
        return NULL;
    t->n_leaves = n_leaves;
    t->n_nodes = n_nodes;
    size_t n = n_nodes ? (size_t)n_nodes : 1;
    if (!(t->names = vb_calloc(n, sizeof *t->names, err)) || !(t->parent = vb_calloc(n, sizeof *t->parent, err)) ||
        !(t->depth = vb_calloc(n, sizeof *t->depth, err))) {
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
    for (int i = 0; t->names && i < t->n_nodes; i++)
        free(t->names[i]);
    free(t->names);
    free(t->parent);
    free(t->depth);
    free(t);
}

vb_status vb_taxonomy_finish(vb_taxonomy *t, const char *where, vb_error *err)
{
    for (int i = 0; i < t->n_nodes; i++) {
        if (!t->names[i])
            return vb_fail(err, VB_ERR_DATA, "%s: taxonomy node %d has no name", where, i);
        int p = t->parent[i];
        if (p != -1 && (p < t->n_leaves || p >= t->n_nodes))
            return vb_fail(err, VB_ERR_DATA, "%s: the parent of '%s' is not an inner node", where, t->names[i]);
        for (int j = 0; j < i; j++)
            if (strcmp(t->names[i], t->names[j]) == 0)
                return vb_fail(err, VB_ERR_DATA, "%s: two nodes named '%s'", where, t->names[i]);
    }
    t->max_depth = 0;
    for (int i = 0; i < t->n_nodes; i++) {
        int d = 1;
        for (int p = t->parent[i]; p != -1; p = t->parent[p])
            if (++d > VB_TAX_MAX_DEPTH)
                return vb_fail(err, VB_ERR_DATA, "%s: '%s' is deeper than %d levels (or in a cycle)", where,
                               t->names[i], VB_TAX_MAX_DEPTH);
        t->depth[i] = d;
        if (d > t->max_depth)
            t->max_depth = d;
    }
    for (int i = t->n_leaves; i < t->n_nodes; i++) {
        int has = 0;
        for (int j = 0; j < t->n_nodes && !has; j++)
            has = t->parent[j] == i;
        if (!has)
            return vb_fail(err, VB_ERR_DATA, "%s: inner node '%s' has no children", where, t->names[i]);
    }
    return VB_OK;
}

uint64_t vb_taxonomy_hash(const vb_taxonomy *t)
{
    uint64_t h = vb_hash64(&t->n_leaves, sizeof t->n_leaves, 0);
    h = vb_hash64(&t->n_nodes, sizeof t->n_nodes, h);
    for (int i = 0; i < t->n_nodes; i++) {
        h = vb_hash64(t->names[i], strlen(t->names[i]) + 1, h);
        h = vb_hash64(&t->parent[i], sizeof t->parent[i], h);
    }
    return h;
}
