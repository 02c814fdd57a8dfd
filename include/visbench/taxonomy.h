/* Class taxonomies for hierarchical classification: a forest of named
 * nodes under an implicit root. The leaves are the dataset's classes, in
 * its class order (nodes 0 .. n_leaves-1); the inner nodes follow
 * (n_leaves .. n_nodes-1). A sample's label is its leaf; its ancestors are
 * implied. Leaves may sit at different depths (bags -> Bag beside
 * footwear -> sneakers -> Sneaker): at a level deeper than a leaf, the
 * leaf stands for itself (vb_tax_at_level).
 *
 * Plain data over core.h and serial.h, shared by the data loaders (which
 * build it from nested folders or a descriptor's `hierarchy:`), the
 * hierarchical metrics, the hierarchical classifiers and model files.
 */
#ifndef VISBENCH_TAXONOMY_H
#define VISBENCH_TAXONOMY_H

#include "visbench/serial.h"

#define VB_TAX_MAX_DEPTH 16

typedef struct vb_taxonomy {
    int n_leaves;  /* = the dataset's n_classes */
    int n_nodes;   /* leaves first, then inner nodes */
    char **names;  /* n_nodes, owned */
    int *parent;   /* n_nodes: parent node (an inner node), -1 for a top-level node */
    int *depth;    /* n_nodes: 1 for top-level nodes (set by vb_taxonomy_finish) */
    int max_depth; /* levels 1 .. max_depth */
} vb_taxonomy;

/* An empty taxonomy with room for n_nodes nodes (names NULL, parents -1). */
vb_taxonomy *vb_taxonomy_new(int n_leaves, int n_nodes, vb_error *err);
void vb_taxonomy_free(vb_taxonomy *t);
vb_taxonomy *vb_taxonomy_copy(const vb_taxonomy *t, vb_error *err);
/* Validates and computes depths: every parent is an inner node, no cycle,
 * every inner node has a child, node names unique, depth <= VB_TAX_MAX_DEPTH.
 * VB_ERR_DATA naming `where` and the node otherwise. */
vb_status vb_taxonomy_finish(vb_taxonomy *t, const char *where, vb_error *err);
/* The ancestor of node at depth level (1-based), or the node itself when it
 * is not deeper than level. */
int vb_tax_at_level(const vb_taxonomy *t, int node, int level);
/* The path from the top-level node down to node (depth[node] entries):
 * returns the count written (at most max). */
int vb_tax_path(const vb_taxonomy *t, int node, int *out, int max);
/* Is a an ancestor of b, or b itself? */
int vb_tax_is_ancestor(const vb_taxonomy *t, int a, int b);
/* "footwear/sneakers/Sneaker" */
void vb_tax_path_text(const vb_taxonomy *t, int node, vb_buf *b);
/* The nodes at level L as used by per-level metrics and classifiers: every
 * node of depth L and every leaf shallower than L, ascending; returns the
 * count (nodes may be NULL to count). */
int vb_tax_level_nodes(const vb_taxonomy *t, int level, int *nodes);
/* 64-bit identity of names and structure. */
uint64_t vb_taxonomy_hash(const vb_taxonomy *t);
/* Serialisation (model files, classifier states); the reader validates. */
void vb_taxonomy_save(const vb_taxonomy *t, vb_writer *w);
vb_status vb_taxonomy_load(vb_reader *r, vb_taxonomy **out, vb_error *err);

#endif
