/* CART trees on histogram bins, shared by the forest (forest.c) and the
 * single decision tree (tree.c); not a public interface.
 *
 * Training bins every feature into at most max_bins quantile bins (edges
 * from up to bin_sample rows), stored feature-major as bytes. A split
 * "bin <= b" is kept as the exact float threshold "x <= edge[b]": the edges
 * are midpoints between consecutive sampled values, so with no more
 * distinct values than bins every split is an exact CART split.
 * Prediction reads raw features. */
#ifndef VB_CLASSIFIERS_CART_H
#define VB_CLASSIFIERS_CART_H

#include "internal.h"

/* The parameter table entries forest and tree share: the growth limits
 * (max_features defaulting to mf_def) and the binning. */
#define VB_CART_GROW_PARAMS(mf_def)                                                                          \
    {.name = "criterion", .type = VB_PT_ENUM, .def = "gini", .choices = "gini|entropy",                     \
     .help = "split impurity"},                                                                              \
    {.name = "max_depth", .type = VB_PT_INT, .def = "0", .min = 0, .max = 1000, .flags = VB_PF_GRID,        \
     .help = "maximum depth of a tree (0 = unlimited)"},                                                     \
    {.name = "min_samples_leaf", .type = VB_PT_INT, .def = "1", .min = 1, .max = 1e9, .flags = VB_PF_GRID,  \
     .help = "minimum samples in a leaf"},                                                                   \
    {.name = "min_samples_split", .type = VB_PT_INT, .def = "2", .min = 2, .max = 1e9,                      \
     .help = "minimum samples in a node to split it"},                                                       \
    {.name = "max_features", .type = VB_PT_FLOAT, .def = mf_def, .choices = "sqrt|log2|all", .min = 0,      \
     .max = 1, .flags = VB_PF_GRID | VB_PF_MIN_OPEN,                                                         \
     .help = "features tried per split: sqrt(d), log2(d), all, or a fraction of d"}
#define VB_CART_BIN_PARAMS                                                                                   \
    {.name = "max_bins", .type = VB_PT_INT, .def = "256", .min = 2, .max = 256,                             \
     .help = "quantile bins per feature (candidate thresholds)"},                                            \
    {.name = "bin_sample", .type = VB_PT_INT, .def = "100000", .min = 100, .max = 1e9,                      \
     .help = "rows sampled to place the bin edges"}

/* Those parameters, read. */
typedef struct vb_cart_opts {
    int entropy, max_depth, max_bins;
    long min_leaf, min_split, bin_sample;
    const char *mf_word; /* "sqrt", "log2", "all", or NULL for the fraction mf_frac */
    double mf_frac;
    int bootstrap; /* grow on a bootstrap sample (drawn from the tree's generator) */
} vb_cart_opts;

/* Reads the shared parameters (the strings stay the params'); bootstrap 0. */
void vb_cart_opts_read(const vb_params *p, vb_cart_opts *o);
/* Features tried per split, in [1, d]. */
size_t vb_cart_features_per_split(const vb_cart_opts *o, size_t d);

/* ---- binning ------------------------------------------------------------ */

/* The bins as bytes in blocks of fb features: block k holds the n rows'
 * bins of features k fb .. k fb + fb - 1, fb bytes a row. fb = 1 is
 * feature-major (the forest, which reads a few features a node); growth
 * with every feature reads a block's row at once (VB_CART_BLOCK). */
#define VB_CART_BLOCK 16
typedef struct vb_cart_bins {
    uint8_t *B;    /* ceil(d / fb) x n x fb */
    size_t n, fb;
    float *edges;  /* d x E (E = max_bins - 1) */
    int *n_edges;  /* d; a value x falls in bin #{edges < x} */
    size_t E;
} vb_cart_bins;

/* Bins the training rows, fb (1 .. VB_CART_BLOCK) features a block; when
 * n > bin_sample the edges come from a sample of rows shuffled with
 * vb_seed_derive(seed, "<name>-bins", 0). name ("forest", "tree") also
 * starts the messages. */
vb_status vb_cart_bin(const vb_cart_opts *o, const vb_traindata *td, const char *name, size_t fb, vb_cart_bins *b,
                      vb_error *err);
void vb_cart_bins_free(vb_cart_bins *b);

/* xlogx[i] = i ln i for i in [0, n] (entropy from integer counts). */
double *vb_cart_xlogx(size_t n, vb_error *err);

/* ---- growing one tree ---------------------------------------------------- */

typedef struct vb_cart_node {
    int32_t feature; /* -1 for a leaf */
    float thr;       /* go left when x[feature] <= thr */
    int32_t left;    /* child index, or for a leaf the offset of its K probabilities */
    int32_t right;
} vb_cart_node;

/* A tree as grown: nodes (the root first, children after their parent),
 * leaf distributions, the impurity decrease of each feature. With stats,
 * also every node's class counts and N x impurity (the entropy in nats). */
typedef struct vb_cart_tree {
    vb_cart_node *nodes;
    size_t n_nodes, cap_nodes;
    float *vals;
    size_t n_vals, cap_vals;
    double *imp; /* d, owned by the caller */
    int depth;
    size_t leaves;
    double *cnt;  /* cap_nodes x K, with stats */
    double *nimp; /* cap_nodes, with stats */
} vb_cart_tree;

void vb_cart_tree_free(vb_cart_tree *t);
/* N x impurity of class counts c (sum N): N - sum c^2 / N for gini,
 * N ln N - sum c ln c for entropy (xlogx: vb_cart_xlogx). */
double vb_cart_node_impurity(int entropy, const double *c, int K, double N, const double *xlogx);
/* Leaf distribution: v[c] = cnt[c] / total as a float. */
void vb_cart_leaf_values(const double *cnt, int K, double total, float *v);

/* Scratch memory of one grower (one per thread that grows trees). full:
 * the grower will grow with every feature in order (rng NULL below), and
 * keeps the histograms it needs for that (bn->fb may then be up to
 * VB_CART_BLOCK; growth with a random order works with any fb). */
typedef struct vb_cart_work vb_cart_work;
vb_cart_work *vb_cart_work_new(const vb_cart_bins *bn, size_t n, size_t d, int K, const double *xlogx, int full);
void vb_cart_work_free(vb_cart_work *w);

/* Grows one tree on the binned rows (labels y). With rng: the bootstrap
 * sample (o->bootstrap) and at each node mf features in a fresh random
 * order (those constant in the node do not count), sequentially. Without:
 * every feature in order (mf must be d; ties go to the lower feature), the
 * larger nodes' histograms derived by subtraction (parent minus the
 * smaller child) and features searched in parallel (OpenMP): the same
 * tree for any thread count. stats: record t->cnt and t->nimp. t->imp
 * must hold d zeros. Returns 0, -1 on no memory, -2 when interrupted. */
int vb_cart_grow(const vb_cart_opts *o, const vb_cart_bins *bn, const int *y, size_t n, size_t d, int K,
                 size_t mf, vb_rng *rng, int stats, vb_cart_work *w, vb_cart_tree *t);

/* ---- trained trees: flattening, prediction, save/load, info ------------- */

typedef struct vb_cart_model {
    size_t d;
    int K, T;
    size_t n_nodes, n_vals;
    int32_t *roots; /* T start nodes */
    vb_cart_node *nodes;
    float *vals;        /* leaf class distributions */
    double *importance; /* d: impurity decrease, normalised per tree, averaged */
    int depth_max;
    size_t n_leaves;
} vb_cart_model;

void vb_cart_model_clear(vb_cart_model *m);
/* Flattens T grown trees into m (in tree order); name starts messages. */
vb_status vb_cart_model_set(vb_cart_model *m, const vb_cart_tree *trees, int T, size_t d, int K, const char *name,
                            vb_error *err);
/* Labels (the most probable class, the lower on ties) and, when scores is
 * not NULL, the mean of the trees' leaf distributions (n x K). */
vb_status vb_cart_predict(const vb_cart_model *m, const float *X, size_t n, int *labels, float *scores,
                          const char *name, vb_error *err);
void vb_cart_save(const vb_cart_model *m, vb_writer *w, uint32_t tag);
/* Loads what vb_cart_save wrote under tag, with T trees (the parameters'),
 * checking every node so that traversal stays in bounds and ends. */
vb_status vb_cart_load(vb_cart_model *m, vb_reader *r, uint32_t tag, int T, const char *name, vb_error *err);
/* "n_nodes", "n_leaves", depth_key (the depth of the deepest leaf), the
 * ten largest importances as [feature, importance] and the number of
 * features used, as JSON members. */
void vb_cart_info(const vb_cart_model *m, const char *depth_key, vb_buf *b);

/* ---- the classifiers' state ------------------------------------------- */

/* The head of forest's and tree's state, so that one set of vtable entries
 * serves both. */
typedef struct vb_cart_state {
    const char *name;      /* "forest", "tree": starts messages */
    uint32_t tag;          /* of the saved state */
    const char *depth_key; /* info's name for the depth of the deepest leaf */
    int T;                 /* trees */
    vb_cart_opts o;
    vb_cart_model m; /* trained */
} vb_cart_state;

/* Vtable entries (predict, save, load, info_json, destroy, dims) of a
 * classifier whose state starts with a vb_cart_state. */
vb_status vb_cart_vt_predict(const void *state, const float *X, size_t n, int *labels, float *scores, vb_error *err);
vb_status vb_cart_vt_save(const void *state, vb_writer *w, vb_error *err);
vb_status vb_cart_vt_load(void *state, vb_reader *r, vb_error *err);
void vb_cart_vt_info(const void *state, vb_buf *b);
void vb_cart_vt_destroy(void *state);
void vb_cart_vt_dims(const void *state, size_t *d, int *n_classes);
#define VB_CART_VT_ENTRIES                                                                                   \
    .predict = vb_cart_vt_predict, .save = vb_cart_vt_save, .load = vb_cart_vt_load,                         \
    .info_json = vb_cart_vt_info, .destroy = vb_cart_vt_destroy, .dims = vb_cart_vt_dims

#endif
