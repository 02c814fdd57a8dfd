/* Preprocessing ops applied to every image before feature extraction:
 * grayscale, rgb, resize, crop, normalize, equalize (global or CLAHE),
 * blur, sharpen, denoise (Gaussian, median, bilateral). Ops are stateless:
 * their parameters say everything, so a saved model replays them exactly.
 *
 * Spec form:  preprocess: [grayscale, {resize: [32, 32]}, {normalize: zscore}]
 */
#ifndef VISBENCH_PREPROCESS_H
#define VISBENCH_PREPROCESS_H

#include "visbench/image.h"
#include "visbench/param.h"

typedef struct vb_prep_vt {
    vb_plugin info;
    /* Output shape for an input shape (w = h = 0 when sizes vary); checks parameters. */
    vb_status (*shape)(const vb_params *p, vb_shape in, vb_shape *out, vb_error *err);
    /* in and out are different images; out is reshaped as needed. */
    vb_status (*apply)(const vb_params *p, const vb_image *in, vb_image *out, vb_error *err);
} vb_prep_vt;

const vb_prep_vt *const *vb_prep_registry(size_t *n);
const vb_prep_vt *vb_prep_find(const char *name);

/* A chain of ops with their parameters. */
typedef struct vb_prep_chain {
    size_t n;
    const vb_prep_vt **vt;
    vb_params *params;
} vb_prep_chain;

void vb_prep_chain_init(vb_prep_chain *c);
void vb_prep_chain_free(vb_prep_chain *c);
/* Appends an op (params copied). */
vb_status vb_prep_chain_add(vb_prep_chain *c, const vb_prep_vt *vt, const vb_params *params, vb_error *err);
/* Shape after the whole chain. */
vb_status vb_prep_chain_shape(const vb_prep_chain *c, vb_shape in, vb_shape *out, vb_error *err);
/* Runs the chain on src; the result is in *result, which points at tmp1 or
 * tmp2 (or at src itself for an empty chain). */
vb_status vb_prep_chain_apply(const vb_prep_chain *c, const vb_image *src, vb_image *tmp1, vb_image *tmp2,
                              const vb_image **result, vb_error *err);

#endif
