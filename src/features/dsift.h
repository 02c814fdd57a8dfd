/* Dense SIFT with a flat window: our implementation of VLFeat's vl_dsift
 * (0.9.21) for the geometry vl_dsift_new_basic sets up (4 x 4 spatial bins
 * of `bin` pixels, 8 orientations, the same step along x and y) with
 * vl_dsift_set_flat_window(f, VL_TRUE) -- the case PHOW uses. Internal to
 * src/features (the `sift` extractor), not part of the public API.
 *
 * What it computes, as vl_dsift does: image gradients (central differences,
 * one-sided at the border), split between the two nearest of 8 orientation
 * planes with VLFeat's fast atan2 and fast square root; each plane filtered
 * by a separable triangular kernel of support 2 bin - 1 (VLFeat's
 * vl_imconvcoltri_f: a box of a box computed by running sums, border
 * pixels repeated); the 4 x 4 bin centres of every frame sampled from it,
 * weighted by the mean of a Gaussian window of width window_size bins over
 * each bin; each descriptor's mass (its sum divided by the frame area, the
 * keypoint `norm` of vl_dsift) taken before it is l2-normalised, clamped at
 * 0.2 and l2-normalised again.
 *
 * Agreement: every floating-point operation that reaches an output is the
 * one VLFeat performs, in the same order (gradients, the running sums in
 * their order, the sequential sums of the normalisations), so the results
 * equal vl_dsift's bit for bit on the Debian build of libvl (checked by
 * tests/test_dsift.c; the documented guarantee is |ours - vl_dsift| <=
 * 1e-6 per descriptor value and 1e-6 relative for the mass). The source must
 * be compiled without floating-point contraction (-ffp-contract=off).
 *
 * Speed: nothing is allocated per image (vbf_dsift_scratch holds every
 * buffer); the work runs on 8-float vectors (GCC vector extensions): the
 * gradient, orientation planes and vertical running sums of a strip of 8
 * columns in one pass over its rows, kept in registers; the horizontal
 * running sums over 8 sampled rows at a time, only on the rows that hold
 * bin centres; the normalisations over 8 descriptors at a time.
 *
 * Layout of the output, as vl_dsift's: frames row by row (y outer, x
 * inner), descriptor value t + 8 bx + 32 by for orientation t (angle
 * t * 45 degrees, counter-clockwise with y pointing down, as atan2(gy, gx))
 * of spatial bin (bx, by).
 */
#ifndef VB_FEATURES_DSIFT_H
#define VB_FEATURES_DSIFT_H

#include "visbench/core.h"

#include <stddef.h>

#define VBF_DSIFT_D 128

typedef struct vbf_dsift_geom {
    int width, height; /* image size */
    int step;          /* frame step in pixels, along x and y */
    int bin;           /* spatial bin size in pixels */
    /* Frames whose bins all lie in [min_x, max_x] x [min_y, max_y] (as
     * vl_dsift_set_bounds); 0 <= min <= max < width / height. */
    int min_x, min_y, max_x, max_y;
    double window_size; /* Gaussian window in bins (vl_dsift_set_window_size) */
} vbf_dsift_geom;

typedef struct vbf_dsift vbf_dsift;
typedef struct vbf_dsift_scratch vbf_dsift_scratch;

/* The plan for one geometry: frame positions and the tables every image
 * shares; immutable afterwards, so any number of threads may use it with a
 * scratch each. VB_ERR_PARAM for an invalid geometry (sizes or bounds out
 * of range), VB_ERR_NOMEM. A geometry with no frame is valid (frames() is
 * 0 and process() does nothing). */
vb_status vbf_dsift_new(const vbf_dsift_geom *g, vbf_dsift **out, vb_error *err);
void vbf_dsift_free(vbf_dsift *d);

/* Number of frames, and the centre of frame i (as vl_dsift's keypoint x,
 * y: the top-left bin centre plus 1.5 bins, computed in float). */
size_t vbf_dsift_frames(const vbf_dsift *d);
void vbf_dsift_frame_center(const vbf_dsift *d, size_t i, double *x, double *y);

/* Per-thread working memory for process() (NULL when out of memory). */
vbf_dsift_scratch *vbf_dsift_scratch_new(const vbf_dsift *d);
void vbf_dsift_scratch_free(vbf_dsift_scratch *s);

/* Describes one grey image (width x height floats, row-major): writes
 * frames() x 128 descriptor values to desc and, when mass is not NULL,
 * frames() masses (vl_dsift's keypoint norm). */
void vbf_dsift_process(const vbf_dsift *d, vbf_dsift_scratch *s, const float *image, float *desc, float *mass);

#endif
