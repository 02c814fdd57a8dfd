/* Shared by the folder and CSV loaders. */
#ifndef VB_DATA_INTERNAL_H
#define VB_DATA_INTERNAL_H

#include "visbench/data.h"

typedef struct vb_file_item {
    char *path; /* owned by the caller */
    int label;
    uint8_t part;
} vb_file_item;

/* Decodes every file (in parallel) into a new dataset, in the given order.
 * A file that is not a readable image is an error naming it, unless
 * skip_invalid, in which case each skipped file is logged as a warning.
 * src, when not NULL, has room for n entries and receives, for each sample
 * j of the new dataset, the index of its item (skipped items have none). */
vb_status vb_data_decode_files(const vb_file_item *items, size_t n, int with_part, int skip_invalid,
                               vb_dataset **out, size_t *src, vb_error *err);

/* Room for element n (so n + 1 elements) in the growable array *arr of
 * *cap elements of size bytes: doubles it, from first elements. */
vb_status vb_data_grow(void *arr, size_t *cap, size_t n, size_t size, size_t first, vb_error *err);

/* VB_OK when n images of px_bytes pixel bytes each stay within
 * VB_DATA_MAX_IMAGES and VB_DATA_MAX_BYTES; else VB_ERR_FORMAT naming the
 * file whose claim (header, size) would take the dataset past them. */
vb_status vb_data_check_claim(const char *path, size_t n, size_t px_bytes, vb_error *err);

/* What to do about a data file that cannot be opened: a hint for the
 * message ("install ..." for Debian dataset packages, else where relative
 * paths start). */
const char *vb_data_missing_hint(const char *path);

/* Sorted entries of a directory, without hidden (dot) entries. *is_dir
 * tells which are directories. */
vb_status vb_data_list_dir(const char *dir, char ***names, int **is_dir, size_t *n, vb_error *err);
void vb_data_free_names(char **names, int *is_dir, size_t n);

/* ---- label sets (labelset.c): multilabel manifests and label files ---- */

/* Label names per row (a manifest's line, an image's label file), read
 * before the classes are known. */
typedef struct vb_labelsets {
    size_t n;        /* rows */
    size_t *start;   /* n + 1 entries: row r holds names[start[r] .. start[r + 1]) */
    char **names;    /* label occurrences, owned */
    size_t n_names;
    int *cls;        /* n_names class indices, set by vb_labelsets_classes */
    size_t cap_rows, cap_names;
} vb_labelsets;

/* A loader's multilabel, label_separator and empty_labels parameters
 * (the last two only with multilabel: true; the separator not empty). */
vb_status vb_labelsets_opts(const vb_params *p, int *multilabel, const char **sep, int *empty_error, vb_error *err);
void vb_labelsets_free(vb_labelsets *ls);
/* Adds a row: text cut at every sep (and at every line break when lines),
 * each label trimmed of white space; empty pieces are skipped, so an empty
 * text is a row without labels. A label given twice is VB_ERR_DATA
 * "FILE:LINE: label 'x' given twice; list each label once" (line counts
 * from first_line at line breaks). *count receives the row's labels. */
vb_status vb_labelsets_add(vb_labelsets *ls, const char *text, const char *sep, int lines, const char *file,
                           int first_line, size_t *count, vb_error *err);
/* Adds a row of one label, exactly as written (single-label manifests). */
vb_status vb_labelsets_add_one(vb_labelsets *ls, const char *label, vb_error *err);
/* The classes: given[0 .. n_given) when n_given > 0, else the distinct labels
 * sorted (strcmp, like single-label classes). *names (malloc'ed array; the
 * strings stay owned by given or ls) and *n_names receive them, ls->cls the
 * class of every label. *unknown receives the first label occurrence not in
 * given, or SIZE_MAX when all are (the caller names its row). */
vb_status vb_labelsets_classes(vb_labelsets *ls, const char *const *given, size_t n_given, char ***names,
                               size_t *n_names, size_t *unknown, vb_error *err);
/* The row that holds label occurrence i. */
size_t vb_labelsets_row_of(const vb_labelsets *ls, size_t i);
/* Makes ds (classes set) multilabel: sample j holds the labels of row
 * src[j] (row j when src is NULL): Y, labels (the first label in class
 * order, or 0), n_empty and task. */
vb_status vb_labelsets_apply(const vb_labelsets *ls, const size_t *src, vb_dataset *ds, vb_error *err);

/* ---- hierarchy (hierarchy.c) ------------------------------------------ */

/* Sets ds->tax and task from a descriptor's `hierarchy:` node over the
 * dataset's classes; errors point at the node (file:line:col). */
vb_status vb_data_hierarchy(const vb_node *h, vb_dataset *ds, vb_error *err);
/* Makes ds hierarchical with t (its names and parents filled in) when st
 * is VB_OK and vb_taxonomy_finish accepts it (naming where); frees t
 * otherwise and returns the failure. */
vb_status vb_data_set_taxonomy(vb_dataset *ds, vb_taxonomy *t, vb_status st, const char *where, vb_error *err);

#endif
