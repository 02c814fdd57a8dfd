/* A descriptor's `hierarchy:` over flat classes, for any format:
 *
 *     hierarchy:
 *       tops: [T-shirt/top, Pullover, Coat, Shirt, Dress]
 *       footwear: {sandals: [Sandal], shoes: [Sneaker, Ankle boot]}
 *       bags: [Bag]
 *
 * Keys are groups (the taxonomy's inner nodes); a group's value is a list
 * of its members or a mapping of its sub-groups. A list may also hold
 * groups as one-key mappings (`footwear: [Sandal, {shoes: [Sneaker]}]`),
 * and the hierarchy itself may be such a list, for a class at the top
 * beside groups. Inner nodes are numbered in the order they are written
 * (pre-order), after the classes. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

typedef struct group {
    const vb_node *at; /* its key */
    int parent;        /* group index, -1 at the top */
} group;

typedef struct named {
    const char *name;
    int k;
} named;

typedef struct hparse {
    const vb_dataset *ds;
    named *by_name;           /* the classes, sorted by name */
    const vb_node **leaf_at;  /* per class: where it is listed, NULL until it is */
    int *leaf_parent;         /* per class: its group, -1 at the top */
    group *groups;
    size_t n_groups, cap;
} hparse;

static int cmp_named(const void *a, const void *b)
{
    return strcmp(((const named *)a)->name, ((const named *)b)->name);
}

static int class_of(const hparse *h, const char *name)
{
    named key = {name, 0};
    const named *hit = bsearch(&key, h->by_name, (size_t)h->ds->n_classes, sizeof *h->by_name, cmp_named);
    return hit ? hit->k : -1;
}

static int is_empty_value(const vb_node *v)
{
    if (!v)
        return 1;
    if (v->kind != VB_NODE_SCALAR)
        return v->n == 0;
    return v->plain && (!v->text[0] || !strcmp(v->text, "~") || !strcmp(v->text, "null") || !strcmp(v->text, "Null") ||
                        !strcmp(v->text, "NULL"));
}

static vb_status members(hparse *h, const vb_node *n, int parent, int depth, vb_error *err);

static vb_status add_leaf(hparse *h, const vb_node *item, int parent, vb_error *err)
{
    int k = class_of(h, item->text);
    if (k < 0) {
        const char *near = vb_nearest_name(item->text, (const char *const *)h->ds->classes, (size_t)h->ds->n_classes);
        if (near)
            return vb_node_fail(item, err, "'%s' in the hierarchy is not a class of the dataset; did you mean '%s'?",
                                item->text, near);
        return vb_node_fail(item, err,
                            "'%s' in the hierarchy is not a class of the dataset (a group is written as a key: "
                            "%s: [class, ...])",
                            item->text, item->text);
    }
    const vb_node *first = h->leaf_at[k];
    if (first)
        return vb_node_fail(item, err, "class '%s' is listed twice in the hierarchy (first at %s:%d:%d)", item->text,
                            first->file, first->line, first->col);
    h->leaf_at[k] = item;
    h->leaf_parent[k] = parent;
    return VB_OK;
}

static vb_status add_group(hparse *h, const vb_node *key, const vb_node *value, int parent, int depth, vb_error *err)
{
    const char *name = key->text;
    if (class_of(h, name) >= 0)
        return vb_node_fail(key, err,
                            "group '%s' has the name of a class of the dataset; a class cannot hold classes (give the "
                            "group another name)",
                            name);
    for (int p = parent; p >= 0; p = h->groups[p].parent)
        if (strcmp(h->groups[p].at->text, name) == 0)
            return vb_node_fail(key, err, "group '%s' is inside a group of the same name (%s:%d:%d): a cycle", name,
                                h->groups[p].at->file, h->groups[p].at->line, h->groups[p].at->col);
    for (size_t g = 0; g < h->n_groups; g++)
        if (strcmp(h->groups[g].at->text, name) == 0)
            return vb_node_fail(key, err, "group '%s' appears twice in the hierarchy (first at %s:%d:%d)", name,
                                h->groups[g].at->file, h->groups[g].at->line, h->groups[g].at->col);
    if (is_empty_value(value))
        return vb_node_fail(value && value->line > 0 ? value : key, err,
                            "'%s' in the hierarchy has no classes; list them (%s: [class, ...]) or remove it", name,
                            name);
    if (value->kind == VB_NODE_SCALAR)
        return vb_node_fail(value, err, "'%s' in the hierarchy: expected a list of classes ([%s]) or a mapping of "
                                        "groups, not a single name",
                            name, value->text);
    if (depth >= VB_TAX_MAX_DEPTH)
        return vb_node_fail(key, err, "the hierarchy is deeper than %d levels at group '%s'", VB_TAX_MAX_DEPTH, name);
    vb_status st = vb_data_grow(&h->groups, &h->cap, h->n_groups, sizeof *h->groups, 16, err);
    if (st != VB_OK)
        return st;
    int self = (int)h->n_groups++;
    h->groups[self] = (group){key, parent};
    return members(h, value, self, depth + 1, err);
}

/* The members of a group (or the top level) at the given depth. */
static vb_status members(hparse *h, const vb_node *n, int parent, int depth, vb_error *err)
{
    vb_status st = VB_OK;
    if (n->kind == VB_NODE_MAP) {
        for (size_t i = 0; i < n->n && st == VB_OK; i++)
            st = add_group(h, n->keys[i], n->items[i], parent, depth, err);
        return st;
    }
    for (size_t i = 0; i < n->n && st == VB_OK; i++) {
        const vb_node *it = n->items[i];
        if (it->kind == VB_NODE_SCALAR)
            st = add_leaf(h, it, parent, err);
        else if (it->kind == VB_NODE_MAP && it->n > 0)
            st = members(h, it, parent, depth, err);
        else
            st = vb_node_fail(it, err, "expected a class name or a group (group: [class, ...]) in the hierarchy");
    }
    return st;
}

static vb_status build(hparse *h, const vb_node *node, vb_dataset *ds, vb_error *err)
{
    if (node->kind == VB_NODE_SCALAR || node->n == 0)
        return vb_node_fail(node, err,
                            "hierarchy: expected a mapping of groups to their classes ({group: [class, ...], ...})");
    vb_status st = members(h, node, -1, 1, err);
    if (st != VB_OK)
        return st;
    for (int k = 0; k < ds->n_classes; k++)
        if (!h->leaf_at[k])
            return vb_node_fail(node, err, "class '%s' of the dataset is not in the hierarchy", ds->classes[k]);
    if (h->n_groups == 0)
        return vb_node_fail(node, err, "the hierarchy has no groups ({group: [class, ...], ...})");
    int K = ds->n_classes;
    vb_taxonomy *t = vb_taxonomy_new(K, K + (int)h->n_groups, err);
    if (!t)
        return VB_ERR_NOMEM;
    for (int k = 0; k < K && st == VB_OK; k++) {
        t->parent[k] = h->leaf_parent[k] < 0 ? -1 : K + h->leaf_parent[k];
        if (!(t->names[k] = vb_strdup(ds->classes[k], err)))
            st = VB_ERR_NOMEM;
    }
    for (size_t g = 0; g < h->n_groups && st == VB_OK; g++) {
        t->parent[K + (int)g] = h->groups[g].parent < 0 ? -1 : K + h->groups[g].parent;
        if (!(t->names[K + (int)g] = vb_strdup(h->groups[g].at->text, err)))
            st = VB_ERR_NOMEM;
    }
    return vb_data_set_taxonomy(ds, t, st, node->file, err);
}

vb_status vb_data_set_taxonomy(vb_dataset *ds, vb_taxonomy *t, vb_status st, const char *where, vb_error *err)
{
    if (st == VB_OK)
        st = vb_taxonomy_finish(t, where, err);
    if (st != VB_OK) {
        vb_taxonomy_free(t);
        return st;
    }
    ds->tax = t;
    ds->task = VB_TASK_HIER;
    return VB_OK;
}

vb_status vb_data_hierarchy(const vb_node *node, vb_dataset *ds, vb_error *err)
{
    if (ds->unlabeled)
        return vb_node_fail(node, err, "hierarchy: the dataset has no classes (labels: false)");
    if (ds->task == VB_TASK_MULTILABEL)
        return vb_node_fail(node, err, "hierarchy: takes single-label classes; this dataset is multilabel");
    if (ds->tax)
        return vb_node_fail(node, err,
                            "hierarchy: the class folders are nested and give the hierarchy already; remove "
                            "hierarchy or flatten the folders");
    hparse h = {.ds = ds};
    size_t K = (size_t)ds->n_classes;
    h.by_name = vb_calloc(K ? K : 1, sizeof *h.by_name, err);
    h.leaf_at = vb_calloc(K ? K : 1, sizeof *h.leaf_at, err);
    h.leaf_parent = vb_calloc(K ? K : 1, sizeof *h.leaf_parent, err);
    vb_status st = h.by_name && h.leaf_at && h.leaf_parent ? VB_OK : VB_ERR_NOMEM;
    if (st == VB_OK) {
        for (size_t k = 0; k < K; k++)
            h.by_name[k] = (named){ds->classes[k], (int)k};
        qsort(h.by_name, K, sizeof *h.by_name, cmp_named);
        st = build(&h, node, ds, err);
    }
    free(h.by_name);
    free(h.leaf_at);
    free(h.leaf_parent);
    free(h.groups);
    return st;
}
