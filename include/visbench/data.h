/* Datasets: labelled images behind one loader interface.
 *
 * Pixels are kept as 8-bit interleaved (HWC) samples, 1 or 3 channels, and
 * converted to a float vb_image in [0, 1] on access: Fashion-MNIST's 70k
 * images take 55 MB instead of 220 MB.
 *
 * A dataset descriptor (datasets/NAME.yaml, or inline in a spec) names a
 * loader format and its parameters, e.g.
 *
 *     name: fashion-mnist
 *     format: idx
 *     train_images: /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
 *     ...
 */
#ifndef VISBENCH_DATA_H
#define VISBENCH_DATA_H

#include "visbench/image.h"
#include "visbench/param.h"
#include "visbench/taxonomy.h"

/* Limits every loader checks a file's claims against before it allocates
 * (besides the file's own size): samples per dataset, bytes of 8-bit
 * pixels per dataset, and bytes of a CSV manifest. */
#define VB_DATA_MAX_IMAGES (1u << 25)                /* 33,554,432 */
#define VB_DATA_MAX_BYTES ((size_t)16 << 30)         /* 16 GiB */
#define VB_DATA_MAX_MANIFEST_BYTES ((size_t)256 << 20) /* 256 MiB */

/* What a sample's label is:
 *   single-label  one class per image (labels[i])
 *   multilabel    a set of labels per image, possibly empty (Y: n x n_classes
 *                 bytes, 1 where image i has label k); labels[i] is then the
 *                 image's first label or 0 and means nothing on its own
 *   hierarchical  one leaf class per image (labels[i]) in a taxonomy (tax)
 *                 whose leaves are the classes */
typedef enum vb_task { VB_TASK_SINGLE = 0, VB_TASK_MULTILABEL = 1, VB_TASK_HIER = 2 } vb_task;
/* "single-label", "multilabel", "hierarchical" */
const char *vb_task_name(vb_task t);
int vb_task_parse(const char *s, vb_task *t);

/* Official partition of a sample, when the dataset has one. */
enum { VB_PART_NONE = 0, VB_PART_TRAIN = 1, VB_PART_TEST = 2 };

typedef struct vb_dataset {
    char *name;
    char *source;       /* descriptor path or data path, for messages */
    size_t n;           /* samples */
    int n_classes;
    char **classes;     /* n_classes names */
    int *labels;        /* n, in [0, n_classes) */
    uint8_t *part;      /* n, VB_PART_*; NULL when there is no official split */
    uint8_t **px;       /* n pointers to HWC pixels */
    uint16_t *w, *h;    /* n */
    uint8_t *c;         /* n: 1 or 3 */
    uint8_t *block;     /* one allocation behind px[] when the loader used one */
    char **paths;       /* n source files (folder / csv), or NULL */
    /* Samples read from files that hold many (IDX, CIFAR batches): sample i
     * is record item_of[i] (0-based) of files[file_of[i]]. NULL / 0 for
     * datasets of one file per sample (paths) or made in memory. */
    char **files;
    size_t n_files;
    uint32_t *file_of, *item_of; /* n each */
    int fixed_w, fixed_h, fixed_c; /* common shape, 0 when images differ */
    int unlabeled;      /* no classes (one class, "(none)"): data to cluster */
    vb_task task;
    uint8_t *Y;         /* multilabel: n x n_classes label sets (0/1); NULL otherwise */
    size_t n_empty;     /* multilabel: images with no label */
    vb_taxonomy *tax;   /* hierarchical: leaves = classes; NULL otherwise */
    /* Groups of samples that belong together (one patient, one photo
     * session), from a CSV manifest's group column: sample i is in group
     * group[i] < n_groups, named group_names[group[i]] (the names sorted).
     * group_kfold never puts one group on both sides of a fold. NULL / 0
     * without groups. */
    uint32_t *group;
    size_t n_groups;
    char **group_names;
    char *group_column; /* the column the groups came from, for messages */
} vb_dataset;

/* Empty dataset with room for n samples (labels, part when with_part, sizes). */
vb_dataset *vb_dataset_new(size_t n, int with_part, vb_error *err);
void vb_dataset_free(vb_dataset *ds); /* also paths, files, file_of, item_of */
/* Sets the common shape fields from the samples. */
void vb_dataset_finish(vb_dataset *ds);
/* Sample i as a float image in [0, 1] (dst is reshaped). */
vb_status vb_dataset_image(const vb_dataset *ds, size_t i, vb_image *dst, vb_error *err);
/* 64-bit identity of the labels (a multilabel set's label sets too), groups,
 * partition and pixels. */
uint64_t vb_dataset_hash(const vb_dataset *ds);
/* Multilabel: the label sets of samples idx[0..n) as n x n_classes bytes
 * (malloc'ed; at least one byte when n is 0). NULL and err on no memory. */
uint8_t *vb_dataset_label_rows(const vb_dataset *ds, const size_t *idx, size_t n, vb_error *err);
/* Appends a label set (row: k bytes) as its labels joined by ';': the
 * names, or the label indices when names is NULL; nothing for no label. */
void vb_labelset_text(vb_buf *b, const uint8_t *row, int k, const char *const *names);
/* Sets the groups from one name per sample (names[i] for sample i, none
 * empty): n_groups distinct names, sorted, numbered in that order; column
 * names where they came from. */
vb_status vb_dataset_set_groups(vb_dataset *ds, const char *const *names, const char *column, vb_error *err);
/* Counts per class (n_classes entries), optionally restricted to one part. */
void vb_dataset_class_counts(const vb_dataset *ds, int part, size_t *counts);
/* Fails, naming `where` and the class, when a class has no training images
 * (in the training part when there is one). */
vb_status vb_dataset_check_classes(const vb_dataset *ds, const char *where, vb_error *err);

/* ---- loaders ----------------------------------------------------------- */
typedef struct vb_loader_vt {
    vb_plugin info; /* info.name is the descriptor's `format` */
    /* base_dir resolves relative paths (the descriptor's directory). */
    vb_status (*load)(const vb_params *p, const char *base_dir, vb_dataset **out, vb_error *err);
} vb_loader_vt;

const vb_loader_vt *const *vb_loaders(size_t *n);
const vb_loader_vt *vb_loader_find(const char *format);

/* Loads a dataset from a descriptor file (YAML), an image folder, or a
 * descriptor node inline in a spec (base_dir resolves its paths). */
vb_status vb_dataset_load_path(const char *path, vb_dataset **out, vb_error *err);
vb_status vb_dataset_load_node(const vb_node *node, const char *base_dir, vb_dataset **out, vb_error *err);

/* Shared helpers for loaders. */
/* Records that samples first .. first + n - 1 are records 0 .. n - 1 of
 * the file at path (a copy is kept). */
vb_status vb_dataset_add_file(vb_dataset *ds, const char *path, size_t first, size_t n, vb_error *err);
vb_status vb_dataset_set_classes(vb_dataset *ds, const char *const *names, int n, vb_error *err);
/* Sets class names from the descriptor's `classes` list when given, checking
 * its length against the labels; default names are "0", "1", ... */
vb_status vb_dataset_classes_from_params(vb_dataset *ds, const vb_params *p, int n_label_values,
                                         vb_error *err);

/* Writes the samples of one part (VB_PART_NONE = all) as PNG files
 * DIR/images/NNNNNN.png with a CSV manifest per part (DIR/train.csv and
 * DIR/test.csv, or DIR/labels.csv) and DIR/dataset.yaml describing them,
 * so that any dataset (IDX, CIFAR) becomes a folder of image files. Class
 * names are kept exactly (the manifest quotes them). */
vb_status vb_dataset_export(const vb_dataset *ds, const char *dir, int part, vb_error *err);

/* ---- synthetic data ---------------------------------------------------- */
typedef struct vb_synth_opts {
    int classes;       /* 2..10: circle, square, triangle, cross, ring, star, stripes, checker, dots, hexagon */
    int per_class;     /* images per class */
    int size;          /* side in pixels */
    int color;         /* 0 grey, 1 RGB */
    double noise;      /* Gaussian noise sigma (0..1 scale) */
    int clutter;       /* distracting strokes per image */
    uint64_t seed;
    int test_per_class; /* > 0: write train/ and test/ folders */
    /* Multilabel: classes x per_class images (and classes x test_per_class
     * for the test part) of 1..3 different shapes at places apart, none
     * in 5% of them, as DIR/images/NNNNNN.png with a CSV manifest of label
     * sets (labels.csv, or train.csv and test.csv). */
    int multilabel;
    /* Hierarchical: the class folders grouped by shape family,
     * DIR/<family>/<class>/ (round: circle, ring, dots, hexagon; angular:
     * square, triangle, cross, star; texture: stripes, checker). */
    int hierarchy;
} vb_synth_opts;

extern const vb_synth_opts vb_synth_defaults;
/* Writes DIR/<class>/<class>_NNNN.png (or DIR/train/..., DIR/test/...;
 * DIR/<family>/<class>/... with hierarchy; the manifest and images/ with
 * multilabel) and DIR/dataset.yaml describing them. */
vb_status vb_synth_write(const vb_synth_opts *opts, const char *dir, vb_error *err);
/* Renders one image of class k (the same pixels vb_synth_write saves). */
vb_status vb_synth_render(const vb_synth_opts *opts, int k, vb_rng *rng, vb_image *dst, vb_error *err);
/* Renders one multilabel image: shape k (k >= 0) and up to two others, or
 * (k < 0) none with probability 5%, else 1..3 shapes, of the first
 * opts->classes; labels (opts->classes bytes) receives 1 for each shape
 * drawn. */
vb_status vb_synth_render_set(const vb_synth_opts *opts, int k, vb_rng *rng, vb_image *dst, uint8_t *labels,
                              vb_error *err);
const char *vb_synth_class_name(int k);

#endif
