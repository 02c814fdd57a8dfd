/* haar: Haar-like features (the Viola-Jones types) on an integral image,
 * evaluated over a grid of positions and window sizes.
 *
 * Types (a window of W x H pixels split into equal rectangles; every type
 * has weights summing to zero, so a flat image gives 0):
 *   h2  two rectangles side by side:    right - left
 *   v2  two rectangles one above other: bottom - top
 *   h3  three side by side:             2 * centre - left - right
 *   v3  three stacked:                  2 * middle - top - bottom
 *   d4  2 x 2:                          (top-left + bottom-right) - (top-right + bottom-left)
 * A scale S (pixels, or a fraction of the shorter image side) gives a
 * square window rounded down in the split direction to a multiple of the
 * rectangle count (h2: W = 2 floor(S/2), H = S; h3: W = 3 floor(S/3); d4:
 * W = H = 2 floor(S/2)). Windows are placed at x = 0, step, 2 step, ...
 * while they fit, step = max(1, round(stride * S)).
 *
 * Rectangle sums come from an integral image accumulated in double: for
 * images of 8-bit levels (every loaded image) each sum is exact.
 */
#include "visbench/features.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const vb_param_def haar_params[] = {
    {.name = "types", .type = VB_PT_STRINGS, .def = "[h2, v2, h3, v3, d4]", .min_len = 1, .max_len = 16,
     .help = "feature types, each of h2 v2 h3 v3 d4 (two-, three-rectangle horizontal and vertical, four-rectangle)"},
    {.name = "scales", .type = VB_PT_FLOATS, .def = "[0.25, 0.5]", .min = 0, .max = 4096, .flags = VB_PF_MIN_OPEN,
     .min_len = 1, .max_len = 32,
     .help = "window sides: up to 1 a fraction of the shorter image side, above 1 pixels"},
    {.name = "stride", .type = VB_PT_FLOAT, .def = "0.5", .min = 0, .max = 1, .flags = VB_PF_GRID | VB_PF_MIN_OPEN,
     .help = "step between window positions, as a fraction of the window side (at least 1 pixel)"},
    {.name = "area", .type = VB_PT_BOOL, .def = "true",
     .help = "divide each feature by its window's area (mean-intensity units, comparable across scales)"},
    {.name = "std", .type = VB_PT_BOOL, .def = "false",
     .help = "also divide by the image's standard deviation (contrast normalisation, as Viola-Jones)"},
};

enum { T_H2, T_V2, T_H3, T_V3, T_D4 };
static const char *const type_names[] = {"h2", "v2", "h3", "v3", "d4"};

/* One (type, scale): a grid of nx x ny windows of W x H at step. */
typedef struct haar_block {
    int type, W, H, step, nx, ny;
    double inv_area;
} haar_block;

typedef struct haar_state {
    int w, h, c, area, std;
    size_t nblocks, dim;
    haar_block *b;
} haar_state;

typedef struct haar_scratch {
    double *ii;   /* (w + 1) x (h + 1) integral image, zero first row and column */
    float *grey;
} haar_scratch;

static void haar_destroy(void *state)
{
    haar_state *s = state;
    if (!s)
        return;
    free(s->b);
    free(s);
}

/* Largest feature vector accepted (a guard against a stride of 1 px over
 * many scales of a large image). */
#define HAAR_MAX_DIM ((size_t)1 << 22)

static vb_status haar_create(const vb_params *p, vb_shape in, void **state, vb_error *err)
{
    const vb_pvalue *tv = vb_param(p, "types");
    size_t nscales;
    const double *scales = vb_param_list(p, "scales", &nscales);
    const double stride = vb_param_float(p, "stride");
    int types[16];
    for (size_t i = 0; i < tv->n; i++) {
        types[i] = -1;
        for (int t = 0; t < 5; t++)
            if (strcmp(tv->strs[i], type_names[t]) == 0)
                types[i] = t;
        if (types[i] < 0)
            return vb_param_fail(p, "types", err, "unknown type '%s'; the types are h2, v2, h3, v3, d4",
                                 tv->strs[i]);
    }
    haar_state *s = vb_calloc(1, sizeof *s, err);
    if (!s)
        return VB_ERR_NOMEM;
    s->w = in.w;
    s->h = in.h;
    s->c = in.c;
    s->area = vb_param_bool(p, "area");
    s->std = vb_param_bool(p, "std");
    s->b = vb_calloc(tv->n * nscales, sizeof *s->b, err);
    if (!s->b) {
        haar_destroy(s);
        return VB_ERR_NOMEM;
    }
    int side = in.w < in.h ? in.w : in.h;
    for (size_t i = 0; i < tv->n; i++)
        for (size_t j = 0; j < nscales; j++) {
            int S = scales[j] <= 1 ? (int)floor(scales[j] * side + 0.5) : (int)floor(scales[j]);
            int t = types[i], W = S, H = S;
            if (t == T_H2 || t == T_D4)
                W = S / 2 * 2;
            if (t == T_V2 || t == T_D4)
                H = S / 2 * 2;
            if (t == T_H3)
                W = S / 3 * 3;
            if (t == T_V3)
                H = S / 3 * 3;
            if (W < 1 || H < 1 || W > in.w || H > in.h)
                continue; /* this type does not fit at this scale */
            haar_block *b = &s->b[s->nblocks++];
            b->type = t;
            b->W = W;
            b->H = H;
            b->step = (int)floor(stride * S + 0.5);
            if (b->step < 1)
                b->step = 1;
            b->nx = (in.w - W) / b->step + 1;
            b->ny = (in.h - H) / b->step + 1;
            b->inv_area = s->area ? 1.0 / ((double)W * H) : 1.0;
            s->dim += (size_t)b->nx * (size_t)b->ny;
        }
    if (s->dim == 0) {
        haar_destroy(s);
        return vb_param_fail(p, "scales", err, "no window of these types and scales fits in %dx%d images", in.w,
                             in.h);
    }
    if (s->dim > HAAR_MAX_DIM) {
        size_t d = s->dim;
        haar_destroy(s);
        return vb_param_fail(p, "stride", err, "%zu features (more than %zu); use a larger stride or fewer scales",
                             d, HAAR_MAX_DIM);
    }
    *state = s;
    return VB_OK;
}

static size_t haar_dim(const void *state) { return ((const haar_state *)state)->dim; }

static void haar_scratch_free(void *scratch)
{
    haar_scratch *k = scratch;
    if (!k)
        return;
    free(k->ii);
    free(k->grey);
    free(k);
}

static void *haar_scratch_new(const void *state)
{
    const haar_state *s = state;
    haar_scratch *k = calloc(1, sizeof *k);
    if (!k)
        return NULL;
    k->ii = vb_calloc(((size_t)s->w + 1) * ((size_t)s->h + 1), sizeof(double), NULL);
    k->grey = vb_malloc((size_t)s->w * (size_t)s->h, sizeof(float), NULL);
    if (!k->ii || !k->grey) {
        haar_scratch_free(k);
        return NULL;
    }
    return k;
}

static vb_status haar_extract(const void *state, void *scratch, const vb_image *img, float *out, vb_error *err)
{
    const haar_state *s = state;
    haar_scratch *k = scratch;
    if (!k)
        return vb_fail(err, VB_ERR_NOMEM, "out of memory");
    if (img->w != s->w || img->h != s->h || img->c != s->c)
        return vb_fail(err, VB_ERR_DATA, "haar: a %dx%dx%d image given to an extractor made for %dx%dx%d", img->w,
                       img->h, img->c, s->w, s->h, s->c);
    const int w = s->w, h = s->h;
    const size_t n = (size_t)w * (size_t)h, iw = (size_t)w + 1;
    const float *g = img->data;
    if (s->c == 3) {
        const float *r = img->data, *gr = r + n, *b = gr + n;
        for (size_t i = 0; i < n; i++)
            k->grey[i] = 0.299f * r[i] + 0.587f * gr[i] + 0.114f * b[i];
        g = k->grey;
    }
    /* Integral image: ii[(y+1) * iw + (x+1)] = sum of g over [0, x] x [0, y]. */
    double *ii = k->ii;
    double total = 0, total2 = 0;
    for (int y = 0; y < h; y++) {
        double row = 0;
        const float *src = g + (size_t)y * w;
        double *prev = ii + (size_t)y * iw, *cur = prev + iw;
        for (int x = 0; x < w; x++) {
            row += src[x];
            total2 += (double)src[x] * src[x];
            cur[x + 1] = prev[x + 1] + row;
        }
        total += row;
    }
    double scale = 1.0;
    if (s->std) {
        double mean = total / (double)n, var = total2 / (double)n - mean * mean;
        /* A (nearly) flat image has nothing to normalise: leave it. */
        scale = var > 1e-12 ? 1.0 / sqrt(var) : 1.0;
    }
/* sum over columns [x0, x1) and rows [y0, y1) */
#define RECT(x0, y0, x1, y1)                                                                                        \
    (ii[(size_t)(y1) * iw + (size_t)(x1)] - ii[(size_t)(y0) * iw + (size_t)(x1)] -                                   \
     ii[(size_t)(y1) * iw + (size_t)(x0)] + ii[(size_t)(y0) * iw + (size_t)(x0)])
    float *o = out;
    for (size_t bi = 0; bi < s->nblocks; bi++) {
        const haar_block *b = &s->b[bi];
        const double f = b->inv_area * scale;
        for (int iy = 0; iy < b->ny; iy++) {
            const int y = iy * b->step, H = b->H;
            for (int ix = 0; ix < b->nx; ix++) {
                const int x = ix * b->step, W = b->W;
                double v;
                switch (b->type) {
                case T_H2:
                    v = RECT(x + W / 2, y, x + W, y + H) - RECT(x, y, x + W / 2, y + H);
                    break;
                case T_V2:
                    v = RECT(x, y + H / 2, x + W, y + H) - RECT(x, y, x + W, y + H / 2);
                    break;
                case T_H3: {
                    int a = W / 3;
                    v = 2 * RECT(x + a, y, x + 2 * a, y + H) - RECT(x, y, x + a, y + H) -
                        RECT(x + 2 * a, y, x + W, y + H);
                    break;
                }
                case T_V3: {
                    int a = H / 3;
                    v = 2 * RECT(x, y + a, x + W, y + 2 * a) - RECT(x, y, x + W, y + a) -
                        RECT(x, y + 2 * a, x + W, y + H);
                    break;
                }
                default: {
                    int a = W / 2, c = H / 2;
                    v = RECT(x, y, x + a, y + c) + RECT(x + a, y + c, x + W, y + H) - RECT(x + a, y, x + W, y + c) -
                        RECT(x, y + c, x + a, y + H);
                    break;
                }
                }
                *o++ = (float)(v * f);
            }
        }
    }
#undef RECT
    return VB_OK;
}

const vb_extractor_vt vb_ext_haar = {
    .info = {.name = "haar",
             .help = "Haar-like features (Viola-Jones two-, three-, four-rectangle types) on an integral image",
             .doc = "Colour: converted to luma (0.299 R + 0.587 G + 0.114 B) first. Output: for each type (in the "
                    "order given) and each scale, the windows row-major: (floor((w - W) / step) + 1) x "
                    "(floor((h - H) / step) + 1) values, W x H the type's window at side S = scale (pixels, or "
                    "round(scale x shorter side) when at most 1) rounded down to a multiple of its rectangle count in "
                    "the split direction, step = max(1, round(stride * S)); a type whose window does not fit is "
                    "left out. Values: right-left, bottom-top, 2*centre-sides, diagonal differences.",
             .params = haar_params,
             .n_params = sizeof haar_params / sizeof haar_params[0]},
    .create = haar_create,
    .dim = haar_dim,
    .scratch_new = haar_scratch_new,
    .scratch_free = haar_scratch_free,
    .extract = haar_extract,
    .destroy = haar_destroy,
};
