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
 * skip_invalid, in which case each skipped file is logged as a warning. */
vb_status vb_data_decode_files(const vb_file_item *items, size_t n, int with_part, int skip_invalid,
                               vb_dataset **out, vb_error *err);

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

#endif
