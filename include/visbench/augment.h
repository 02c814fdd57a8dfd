/* Augmentation of training images: a horizontal flip with probability
 * 1/2, a shift of up to `shift` pixels in x and y, a rotation of up to
 * `rotate` degrees about the centre (bilinear), and an offset of up to
 * `brightness` added to every value; pixels the moved image leaves
 * uncovered are 0 before the offset. The cnn draws one for every image in every epoch (its
 * augment: parameter); a classical pipeline's augment: block adds `copies`
 * drawn copies of each training image to its training rows.
 *
 * Images are planar float CHW (vb_image's layout), in whatever units the
 * preprocessing left them.
 */
#ifndef VISBENCH_AUGMENT_H
#define VISBENCH_AUGMENT_H

#include "visbench/image.h"
#include "visbench/param.h"

/* What to draw from; all zero = no augmentation. */
typedef struct vb_augment {
    int flip;
    int shift;
    double rotate, brightness;
} vb_augment;

/* One image's draw: flip (0/1), shift in pixels, rotation in radians,
 * brightness offset. */
typedef struct vb_aug_draw {
    int flip, dx, dy;
    float angle, delta;
} vb_aug_draw;

/* The parameter table: flip, shift, rotate, brightness (the first
 * VB_AUGMENT_N_OPS, the cnn's), then copies (a pipeline's augment block). */
#define VB_AUGMENT_N_OPS 4
#define VB_AUGMENT_N_PARAMS 5
#define VB_AUGMENT_MAX_COPIES 64
extern const vb_param_def vb_augment_params[VB_AUGMENT_N_PARAMS];
/* The ops of parameters parsed with that table. */
void vb_augment_from_params(const vb_params *p, vb_augment *a);
/* Does a change anything? */
int vb_augment_active(const vb_augment *a);

/* Draws one image's augmentation from rng (flip, dx, dy, angle, delta in
 * that order, each only when asked for). */
void vb_augment_draw(const vb_augment *a, vb_rng *rng, vb_aug_draw *d);
/* out = T(x) + delta for one w x h image of c planes at x:
 * out(p) = x(T^-1 p), T^-1 p = R(-angle) (p - centre - shift) + centre,
 * mirrored in x when flip; bilinear when angle != 0, exact otherwise.
 * out is not x. */
void vb_augment_planes(const float *x, int w, int h, int c, const vb_aug_draw *d, float *out);
/* The same for an image: out is reshaped to in's shape. */
vb_status vb_augment_image(const vb_image *in, const vb_aug_draw *d, vb_image *out, vb_error *err);

#endif
