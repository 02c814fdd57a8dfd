/* Feature extractors and post-processing steps.
 *
 * An extractor turns one preprocessed image into a fixed-length float
 * vector. It is created for a known input shape (so its dimension is fixed),
 * may be fitted on the training images (codebooks), and extracts from many
 * threads at once: extract() takes a const state plus a per-thread scratch.
 *
 * A post-processing step maps feature rows to feature rows (standardize, l2,
 * PCA, ...), fitted on the training rows only.
 *
 * Adding one: one .c file defining a `const vb_extractor_vt` (or
 * vb_post_vt) with its parameter table, and one line in registry.c.
 */
#ifndef VISBENCH_FEATURES_H
#define VISBENCH_FEATURES_H

#include "visbench/preprocess.h"
#include "visbench/serial.h"

/* Random access to preprocessed images (for fitting): get() is thread-safe. */
typedef struct vb_imgsrc {
    size_t n;
    vb_status (*get)(const struct vb_imgsrc *src, size_t i, vb_image *dst, vb_error *err);
    const void *ctx;
} vb_imgsrc;

/* Capabilities, declared in the extractor vtable's flags. */
#define VB_EXT_IMAGE_ROWS 1u /* a row is the preprocessed image itself (CHW floats): image classifiers take it */

typedef struct vb_extractor_vt {
    vb_plugin info;
    unsigned flags;
    /* Checks parameters against the input shape and builds the state. */
    vb_status (*create)(const vb_params *p, vb_shape in, void **state, vb_error *err);
    /* Optional: learns from training images; seed drives any sampling. */
    vb_status (*fit)(void *state, const vb_imgsrc *train, uint64_t seed, vb_error *err);
    size_t (*dim)(const void *state);
    /* Optional per-thread working memory. */
    void *(*scratch_new)(const void *state);
    void (*scratch_free)(void *scratch);
    /* Writes dim() floats for an image of the shape given to create. */
    vb_status (*extract)(const void *state, void *scratch, const vb_image *img, float *out, vb_error *err);
    /* Optional, for an extractor whose work batches (a network's forward
     * pass): n images at once (n <= VB_EXT_BATCH, of the shape given to
     * create), row i at out + i * stride. The feature pipeline calls it
     * from one thread, outside its parallel regions (it may use OpenMP
     * itself), with the images in blocks of VB_EXT_BATCH in their order:
     * the blocks do not depend on the thread count. */
    vb_status (*extract_batch)(const void *state, const vb_image *const *imgs, size_t n, float *out, size_t stride,
                               vb_error *err);
    /* Optional: the fitted part of the state (created state + this = fitted state). */
    vb_status (*save)(const void *state, vb_writer *w, vb_error *err);
    vb_status (*load)(void *state, vb_reader *r, vb_error *err);
    void (*destroy)(void *state);
    /* Optional: the state from its saved form alone (what save wrote), for
     * an extractor whose parameters name a file that create reads (cnn: a
     * model): a model file carries what it read, and loading one reads no
     * other file. Model files use it instead of create + load. */
    vb_status (*restore)(const vb_params *p, vb_shape in, vb_reader *r, void **state, vb_error *err);
} vb_extractor_vt;

/* The most images an extract_batch call gets. */
#define VB_EXT_BATCH 64

typedef struct vb_post_vt {
    vb_plugin info;
    vb_status (*create)(const vb_params *p, size_t dim_in, void **state, vb_error *err);
    /* Optional: learns from the n training rows of dim_in floats. */
    vb_status (*fit)(void *state, const float *X, size_t n, vb_error *err);
    size_t (*dim)(const void *state);
    /* Maps n rows of dim_in floats to n rows of dim() floats; in != out. */
    vb_status (*transform)(const void *state, const float *in, size_t n, float *out, vb_error *err);
    vb_status (*save)(const void *state, vb_writer *w, vb_error *err);
    vb_status (*load)(void *state, vb_reader *r, vb_error *err);
    void (*destroy)(void *state);
} vb_post_vt;

const vb_extractor_vt *const *vb_extractor_registry(size_t *n);
const vb_extractor_vt *vb_extractor_find(const char *name);
const vb_post_vt *const *vb_post_registry(size_t *n);
const vb_post_vt *vb_post_find(const char *name);

/* ---- instances --------------------------------------------------------- */

typedef struct vb_extractor {
    const vb_extractor_vt *vt;
    vb_params params;
    vb_shape in;
    void *state;
    size_t dim;
} vb_extractor;

vb_status vb_extractor_new(const vb_extractor_vt *vt, const vb_params *params, vb_shape in, vb_extractor **out,
                           vb_error *err);
/* The same from a saved state, through vt->restore (which it must have). */
vb_status vb_extractor_restore(const vb_extractor_vt *vt, const vb_params *params, vb_shape in, vb_reader *state,
                               vb_extractor **out, vb_error *err);
void vb_extractor_free(vb_extractor *x);

typedef struct vb_post {
    const vb_post_vt *vt;
    vb_params params;
    size_t dim_in, dim;
    void *state;
} vb_post;

vb_status vb_post_new(const vb_post_vt *vt, const vb_params *params, size_t dim_in, vb_post **out, vb_error *err);
void vb_post_free(vb_post *p);

#endif
