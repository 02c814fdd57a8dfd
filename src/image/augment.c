/* Augmentation ops shared by the cnn's training loop and the engine's
 * augmented training rows. */
#include "visbench/augment.h"

#include <math.h>
#include <string.h>

const vb_param_def vb_augment_params[VB_AUGMENT_N_PARAMS] = {
    {.name = "flip", .type = VB_PT_BOOL, .def = "false", .help = "a horizontal flip with probability 1/2"},
    {.name = "shift", .type = VB_PT_INT, .def = "0", .min = 0, .max = 1024,
     .help = "a shift of up to this many pixels in x and in y"},
    {.name = "rotate", .type = VB_PT_FLOAT, .def = "0", .min = 0, .max = 180,
     .help = "a rotation of up to this many degrees about the centre (bilinear)"},
    {.name = "brightness", .type = VB_PT_FLOAT, .def = "0", .min = 0, .max = 1e6,
     .help = "an offset of up to this much added to every value (in the units of the preprocessed images: [0, 1] "
             "unless normalize changed them; for the cnn before its standardisation)"},
    {.name = "copies", .type = VB_PT_INT, .def = "1", .min = 1, .max = VB_AUGMENT_MAX_COPIES,
     .help = "augmented copies of each training image, each drawn anew, added to the image itself"},
};

void vb_augment_from_params(const vb_params *p, vb_augment *a)
{
    memset(a, 0, sizeof *a);
    a->flip = vb_param_bool(p, "flip");
    a->shift = (int)vb_param_int(p, "shift");
    a->rotate = vb_param_float(p, "rotate");
    a->brightness = vb_param_float(p, "brightness");
}

int vb_augment_active(const vb_augment *a) { return a->flip || a->shift > 0 || a->rotate > 0 || a->brightness > 0; }

void vb_augment_draw(const vb_augment *a, vb_rng *rng, vb_aug_draw *d)
{
    memset(d, 0, sizeof *d);
    if (a->flip)
        d->flip = vb_rng_u32(rng) & 1;
    if (a->shift > 0) {
        d->dx = (int)vb_rng_below(rng, (size_t)(2 * a->shift + 1)) - a->shift;
        d->dy = (int)vb_rng_below(rng, (size_t)(2 * a->shift + 1)) - a->shift;
    }
    if (a->rotate > 0)
        d->angle = (float)((2 * vb_rng_uniform(rng) - 1) * a->rotate * M_PI / 180);
    if (a->brightness > 0)
        d->delta = (float)((2 * vb_rng_uniform(rng) - 1) * a->brightness);
}

void vb_augment_planes(const float *x, int W, int H, int C, const vb_aug_draw *a, float *out)
{
    const size_t S = (size_t)W * H;
    const float cx = (W - 1) * 0.5f, cy = (H - 1) * 0.5f;
    const float cs = cosf(a->angle), sn = sinf(a->angle);
    for (int c = 0; c < C; c++) {
        const float *xp = x + (size_t)c * S;
        float *op = out + (size_t)c * S;
        for (int y = 0; y < H; y++)
            for (int xx = 0; xx < W; xx++) {
                float v;
                if (a->angle == 0) {
                    int sx = xx - a->dx, sy = y - a->dy;
                    if (a->flip)
                        sx = W - 1 - sx;
                    v = sx >= 0 && sx < W && sy >= 0 && sy < H ? xp[(size_t)sy * W + sx] : 0.0f;
                } else {
                    float u = xx - a->dx - cx, w = y - a->dy - cy;
                    float fx = cs * u + sn * w + cx, fy = -sn * u + cs * w + cy;
                    if (a->flip)
                        fx = W - 1 - fx;
                    int x0 = (int)floorf(fx), y0 = (int)floorf(fy);
                    float ax = fx - x0, ay = fy - y0;
                    v = 0;
                    for (int j = 0; j < 2; j++)
                        for (int i = 0; i < 2; i++) {
                            int px = x0 + i, py = y0 + j;
                            if (px < 0 || px >= W || py < 0 || py >= H)
                                continue;
                            float wgt = (i ? ax : 1 - ax) * (j ? ay : 1 - ay);
                            v += wgt * xp[(size_t)py * W + px];
                        }
                }
                op[(size_t)y * W + xx] = v + a->delta;
            }
    }
}

vb_status vb_augment_image(const vb_image *in, const vb_aug_draw *d, vb_image *out, vb_error *err)
{
    vb_status st = vb_image_reshape(out, in->w, in->h, in->c, err);
    if (st == VB_OK)
        vb_augment_planes(in->data, in->w, in->h, in->c, d, out->data);
    return st;
}
