/* color: per-channel intensity histograms over a grid of cells, in RGB or
 * HSV. Hard binning: a value v in [0, 1] falls in bin floor(v * bins)
 * (1.0 in the last bin; values outside [0, 1], e.g. after z-scoring, are
 * clamped). A pixel (x, y) belongs to cell (floor(x cx / w), floor(y cy / h)). */
#include "visbench/features.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const vb_param_def color_params[] = {
    {.name = "space", .type = VB_PT_ENUM, .def = "rgb", .choices = "rgb|hsv", .flags = VB_PF_PRIMARY,
     .help = "colour space of the channels histogrammed (hue scaled to [0, 1))"},
    {.name = "bins", .type = VB_PT_INT, .def = "8", .min = 1, .max = 256, .flags = VB_PF_GRID,
     .help = "bins per channel over [0, 1]"},
    {.name = "cells", .type = VB_PT_INTS, .def = "[1, 1]", .min = 1, .max = 64, .min_len = 2, .max_len = 2,
     .help = "grid of cells [across, down]; one number is used for both"},
    {.name = "norm", .type = VB_PT_ENUM, .def = "l1", .choices = "l1|l2|none",
     .help = "per cell and channel: l1 = fractions of the cell's pixels, l2 = unit length, none = pixel counts"},
};

enum { COL_L1, COL_L2, COL_NONE };

typedef struct color_state {
    vb_shape in;
    int hsv, norm;
    size_t bins, cx, cy, channels;
} color_state;

static vb_status color_create(const vb_params *p, vb_shape in, void **state, vb_error *err)
{
    size_t n;
    const double *cells = vb_param_list(p, "cells", &n);
    size_t cx = (size_t)cells[0], cy = (size_t)cells[1];
    if (cx > (size_t)in.w || cy > (size_t)in.h)
        return vb_param_fail(p, "cells", err, "color: %zux%zu cells do not fit in %dx%d images", cx, cy, in.w, in.h);
    color_state *s = vb_calloc(1, sizeof *s, err);
    if (!s)
        return VB_ERR_NOMEM;
    s->in = in;
    s->hsv = vb_param_is(p, "space", "hsv");
    s->norm = vb_param_is(p, "norm", "l2") ? COL_L2 : vb_param_is(p, "norm", "none") ? COL_NONE : COL_L1;
    s->bins = (size_t)vb_param_int(p, "bins");
    s->cx = cx;
    s->cy = cy;
    s->channels = in.c == 1 ? 1 : 3;
    *state = s;
    return VB_OK;
}

static size_t color_dim(const void *state)
{
    const color_state *s = state;
    return s->cx * s->cy * s->channels * s->bins;
}

static size_t bin_of(float v, size_t bins)
{
    if (!(v > 0)) /* also NaN */
        return 0;
    if (v >= 1)
        return bins - 1;
    size_t b = (size_t)(v * (float)bins);
    return b < bins ? b : bins - 1;
}

/* HSV with H, S, V in [0, 1] (H = hue / 360; 0 for greys). */
static void to_hsv(float r, float g, float b, float *h, float *s, float *v)
{
    float mx = fmaxf(r, fmaxf(g, b)), mn = fminf(r, fminf(g, b)), c = mx - mn;
    *v = mx;
    *s = mx > 0 ? c / mx : 0;
    float hue = 0;
    if (c > 0) {
        if (mx == r)
            hue = fmodf((g - b) / c, 6.0f);
        else if (mx == g)
            hue = (b - r) / c + 2.0f;
        else
            hue = (r - g) / c + 4.0f;
        hue /= 6.0f;
        if (hue < 0)
            hue += 1.0f;
    }
    *h = hue >= 1.0f ? 0.0f : hue;
}

static vb_status color_extract(const void *state, void *scratch, const vb_image *img, float *out, vb_error *err)
{
    const color_state *s = state;
    size_t W = (size_t)s->in.w, H = (size_t)s->in.h, px = W * H, B = s->bins, C = s->channels;
    if ((size_t)img->c != (C == 1 ? 1u : 3u))
        return vb_fail(err, VB_ERR_DATA, "color: an image has %d channels, the extractor was made for %zu", img->c,
                       C);
    memset(out, 0, color_dim(s) * sizeof *out);
    const float *p0 = img->data, *p1 = C == 3 ? p0 + px : NULL, *p2 = C == 3 ? p0 + 2 * px : NULL;
    for (size_t y = 0; y < H; y++) {
        size_t cyi = y * s->cy / H;
        for (size_t x = 0; x < W; x++) {
            size_t cell = cyi * s->cx + x * s->cx / W, i = y * W + x;
            float *h = out + cell * C * B;
            if (C == 1) {
                h[bin_of(p0[i], B)] += 1;
                continue;
            }
            float a = p0[i], b = p1[i], c = p2[i];
            if (s->hsv)
                to_hsv(a, b, c, &a, &b, &c);
            h[bin_of(a, B)] += 1;
            h[B + bin_of(b, B)] += 1;
            h[2 * B + bin_of(c, B)] += 1;
        }
    }
    if (s->norm == COL_NONE)
        return VB_OK;
    for (size_t q = 0; q < s->cx * s->cy * C; q++) {
        float *h = out + q * B;
        double sum = 0;
        for (size_t k = 0; k < B; k++)
            sum += s->norm == COL_L1 ? h[k] : (double)h[k] * h[k];
        if (s->norm == COL_L2)
            sum = sqrt(sum);
        if (sum > 0)
            for (size_t k = 0; k < B; k++)
                h[k] = (float)(h[k] / sum);
    }
    return VB_OK;
}

static void color_destroy(void *state) { free(state); }

const vb_extractor_vt vb_ext_color = {
    .info = {.name = "color",
             .help = "per-channel colour histograms (RGB or HSV) over a grid of cells",
             .doc = "Colour: RGB images give 3 histograms per cell (R, G, B or H, S, V); grey images give one "
                    "(the intensity, whatever the space). Output: cells across x cells down x channels x bins "
                    "values, cell by cell (rows of cells top to bottom), then channel, then bin.",
             .params = color_params,
             .n_params = sizeof color_params / sizeof color_params[0]},
    .create = color_create,
    .dim = color_dim,
    .extract = color_extract,
    .destroy = color_destroy,
};
