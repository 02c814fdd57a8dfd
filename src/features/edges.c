/* edges: Sobel orientation histograms and/or Canny edge density per cell.
 *
 * sobel: the 3x3 Sobel gradient of the image (borders replicated); per cell
 *   a histogram of gradient orientation (0..180 degrees, or 0..360 with
 *   signed), each pixel voting its magnitude, split linearly between the two
 *   nearest bin centres; then normalised per cell.
 * canny: Gaussian smoothing (sigma), Sobel gradient, non-maximum
 *   suppression along the gradient quantised to 4 directions, hysteresis
 *   (pixels >= high start edges, 8-connected pixels >= low extend them);
 *   thresholds relative to the image's largest gradient magnitude or
 *   absolute. Border pixels are never edges. Per cell: the fraction of its
 *   pixels that are edges.
 *
 * Non-maximum suppression keeps a pixel whose magnitude is >= the neighbour
 * behind it (against the gradient) and > the one ahead (towards brighter),
 * magnitudes within a relative 1e-4 counting as equal: a step between two
 * pixels, which gives both the same magnitude up to rounding, marks exactly
 * one, the bright side's.
 */
#include "visbench/features.h"
#include "visbench/filter.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const vb_param_def edges_params[] = {
    {.name = "mode", .type = VB_PT_ENUM, .def = "both", .choices = "sobel|canny|both",
     .help = "sobel orientation histograms, canny edge density, or both concatenated (sobel first)"},
    {.name = "cell", .type = VB_PT_INT, .def = "7", .min = 1, .max = 4096, .flags = VB_PF_GRID,
     .help = "cell side in pixels (the last row and column of cells may be partial)"},
    {.name = "bins", .type = VB_PT_INT, .def = "8", .min = 2, .max = 72, .flags = VB_PF_GRID,
     .help = "sobel: orientation bins"},
    {.name = "signed", .type = VB_PT_BOOL, .def = "false",
     .help = "sobel: orientations over 360 degrees (gradient direction) instead of 180"},
    {.name = "norm", .type = VB_PT_ENUM, .def = "l2", .choices = "l2|l1|area",
     .help = "sobel: per-cell histogram normalisation (l2, l1 with a small epsilon; area: mean per pixel)"},
    {.name = "sigma", .type = VB_PT_FLOAT, .def = "1", .min = 0, .max = 32, .flags = VB_PF_GRID,
     .help = "canny: Gaussian smoothing in pixels before the gradient (0: none)"},
    {.name = "low", .type = VB_PT_FLOAT, .def = "0.1", .min = 0, .max = 1e6, .flags = VB_PF_GRID,
     .help = "canny: low hysteresis threshold"},
    {.name = "high", .type = VB_PT_FLOAT, .def = "0.2", .min = 0, .max = 1e6, .flags = VB_PF_GRID,
     .help = "canny: high hysteresis threshold"},
    {.name = "thresholds", .type = VB_PT_ENUM, .def = "relative", .choices = "relative|absolute",
     .help = "canny: thresholds as fractions of the image's largest gradient magnitude, or absolute magnitudes "
             "(Sobel of 0..1 images: up to 4 sqrt 2)"},
};

enum { NORM_L2, NORM_L1, NORM_AREA };

typedef struct edges_state {
    int w, h, c, cell, cw, ch, bins, sgn, norm, sobel, canny, relative;
    float low, high;
    int r;        /* Gaussian half-width */
    float *gk;    /* 2r + 1 normalised taps */
} edges_state;

typedef struct edges_scratch {
    float *grey, *pad, *tmp, *smooth, *gx, *gy, *mag;
    uint8_t *edge;  /* 0 none, 1 weak candidate, 2 edge */
    int32_t *stack;
    double *hist;
} edges_scratch;

static void edges_destroy(void *state)
{
    edges_state *s = state;
    if (!s)
        return;
    free(s->gk);
    free(s);
}

static vb_status edges_create(const vb_params *p, vb_shape in, void **state, vb_error *err)
{
    const double low = vb_param_float(p, "low"), high = vb_param_float(p, "high");
    const int relative = vb_param_is(p, "thresholds", "relative");
    if (low > high)
        return vb_param_fail(p, "low", err, "low threshold %g is above the high threshold %g", low, high);
    if (relative && high > 1)
        return vb_param_fail(p, "high", err, "relative thresholds are fractions of the largest magnitude (0..1), "
                                             "not %g; or set thresholds: absolute", high);
    edges_state *s = vb_calloc(1, sizeof *s, err);
    if (!s)
        return VB_ERR_NOMEM;
    s->w = in.w;
    s->h = in.h;
    s->c = in.c;
    s->cell = (int)vb_param_int(p, "cell");
    s->cw = (in.w + s->cell - 1) / s->cell;
    s->ch = (in.h + s->cell - 1) / s->cell;
    s->bins = (int)vb_param_int(p, "bins");
    s->sgn = vb_param_bool(p, "signed");
    s->norm = vb_param_is(p, "norm", "l1") ? NORM_L1 : vb_param_is(p, "norm", "area") ? NORM_AREA : NORM_L2;
    s->sobel = !vb_param_is(p, "mode", "canny");
    s->canny = !vb_param_is(p, "mode", "sobel");
    s->relative = relative;
    s->low = (float)low;
    s->high = (float)high;
    double sigma = vb_param_float(p, "sigma");
    s->r = vb_gauss_radius(sigma);
    s->gk = vb_malloc(2 * (size_t)s->r + 1, sizeof(float), err);
    if (!s->gk) {
        edges_destroy(s);
        return VB_ERR_NOMEM;
    }
    vb_gauss_taps(sigma, s->gk);
    *state = s;
    return VB_OK;
}

static size_t edges_dim(const void *state)
{
    const edges_state *s = state;
    size_t cells = (size_t)s->cw * (size_t)s->ch;
    return (s->sobel ? cells * (size_t)s->bins : 0) + (s->canny ? cells : 0);
}

static void edges_scratch_free(void *scratch)
{
    edges_scratch *k = scratch;
    if (!k)
        return;
    free(k->grey);
    free(k->pad);
    free(k->tmp);
    free(k->smooth);
    free(k->gx);
    free(k->gy);
    free(k->mag);
    free(k->edge);
    free(k->stack);
    free(k->hist);
    free(k);
}

static void *edges_scratch_new(const void *state)
{
    const edges_state *s = state;
    edges_scratch *k = calloc(1, sizeof *k);
    if (!k)
        return NULL;
    size_t n = (size_t)s->w * (size_t)s->h;
    k->grey = vb_malloc(n, sizeof(float), NULL);
    k->pad = vb_malloc((size_t)s->w + 2 * (size_t)s->r, sizeof(float), NULL);
    k->tmp = vb_malloc(n, sizeof(float), NULL);
    k->smooth = vb_malloc(n, sizeof(float), NULL);
    k->gx = vb_malloc(n, sizeof(float), NULL);
    k->gy = vb_malloc(n, sizeof(float), NULL);
    k->mag = vb_malloc(n, sizeof(float), NULL);
    k->edge = vb_malloc(n, 1, NULL);
    k->stack = vb_malloc(n, sizeof(int32_t), NULL);
    k->hist = vb_malloc((size_t)s->cw * (size_t)s->ch * (size_t)s->bins, sizeof(double), NULL);
    if (!k->grey || !k->pad || !k->tmp || !k->smooth || !k->gx || !k->gy || !k->mag || !k->edge || !k->stack || !k->hist) {
        edges_scratch_free(k);
        return NULL;
    }
    return k;
}

static inline int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

/* 3x3 Sobel (borders replicated): gx = [-1 0 1; -2 0 2; -1 0 1] (x right),
 * gy likewise down; magnitude sqrt(gx^2 + gy^2). */
static void sobel(const edges_state *s, const float *img, float *gx, float *gy, float *mag)
{
    const int w = s->w, h = s->h;
    for (int y = 0; y < h; y++) {
        const float *up = img + (size_t)clampi(y - 1, 0, h - 1) * w, *mid = img + (size_t)y * w,
                    *dn = img + (size_t)clampi(y + 1, 0, h - 1) * w;
        float *ox = gx + (size_t)y * w, *oy = gy + (size_t)y * w, *om = mag + (size_t)y * w;
        for (int x = 0; x < w; x++) {
            int l = x > 0 ? x - 1 : 0, r = x < w - 1 ? x + 1 : w - 1;
            float a = (up[r] - up[l]) + 2 * (mid[r] - mid[l]) + (dn[r] - dn[l]);
            float b = (dn[l] - up[l]) + 2 * (dn[x] - up[x]) + (dn[r] - up[r]);
            ox[x] = a;
            oy[x] = b;
            om[x] = sqrtf(a * a + b * b);
        }
    }
}

static void sobel_histograms(const edges_state *s, edges_scratch *k, float *out)
{
    const int w = s->w, h = s->h, cell = s->cell, cw = s->cw, nb = s->bins;
    const size_t ncell = (size_t)cw * (size_t)s->ch;
    const double range = s->sgn ? 2 * M_PI : M_PI, per = nb / range;
    double *hist = k->hist;
    memset(hist, 0, ncell * (size_t)nb * sizeof *hist);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            size_t i = (size_t)y * w + x;
            float m = k->mag[i];
            if (m <= 0)
                continue;
            double a = atan2f(k->gy[i], k->gx[i]);
            if (a < 0)
                a += 2 * M_PI;
            if (!s->sgn && a >= M_PI)
                a -= M_PI;
            /* bin centres at (j + 0.5) * range / nb */
            double pos = a * per - 0.5;
            int b0 = (int)floor(pos);
            double f = pos - b0;
            int b1 = b0 + 1;
            b0 = (b0 + nb) % nb;
            b1 = b1 % nb;
            double *hc = hist + ((size_t)(y / cell) * cw + (size_t)(x / cell)) * (size_t)nb;
            hc[b0] += m * (1 - f);
            hc[b1] += m * f;
        }
    for (int cy = 0; cy < s->ch; cy++)
        for (int cx = 0; cx < cw; cx++) {
            const double *hc = hist + ((size_t)cy * cw + cx) * (size_t)nb;
            double z = 0;
            if (s->norm == NORM_AREA) {
                int nx = ((cx + 1) * cell < w ? (cx + 1) * cell : w) - cx * cell;
                int ny = ((cy + 1) * cell < h ? (cy + 1) * cell : h) - cy * cell;
                z = (double)nx * ny;
            } else if (s->norm == NORM_L1) {
                for (int b = 0; b < nb; b++)
                    z += hc[b];
                z += 1e-2;
            } else {
                for (int b = 0; b < nb; b++)
                    z += hc[b] * hc[b];
                z = sqrt(z + 1e-4);
            }
            /* cell-major planes: bin b of every cell together */
            for (int b = 0; b < nb; b++)
                out[(size_t)b * ncell + (size_t)cy * cw + cx] = (float)(hc[b] / z);
        }
}

/* Non-maximum suppression and hysteresis; writes k->edge (2 = edge). */
static void canny(const edges_state *s, edges_scratch *k)
{
    const int w = s->w, h = s->h;
    const size_t n = (size_t)w * (size_t)h;
    const float *mag = k->mag, *gx = k->gx, *gy = k->gy;
    uint8_t *e = k->edge;
    memset(e, 0, n);
    float mx = 0;
    for (size_t i = 0; i < n; i++)
        mx = mag[i] > mx ? mag[i] : mx;
    float lo = s->low, hi = s->high;
    if (s->relative) {
        lo *= mx;
        hi *= mx;
    }
    if (mx <= 0)
        return;
    const float t22 = 0.41421356f; /* tan(22.5 degrees) */
    int32_t *stack = k->stack;
    size_t top = 0;
    for (int y = 1; y < h - 1; y++)
        for (int x = 1; x < w - 1; x++) {
            size_t i = (size_t)y * w + x;
            float m = mag[i];
            if (m <= 0 || m < lo)
                continue;
            float ax = fabsf(gx[i]), ay = fabsf(gy[i]);
            int dx, dy; /* one step towards brighter */
            if (ay <= t22 * ax) {
                dx = gx[i] > 0 ? 1 : -1;
                dy = 0;
            } else if (ax <= t22 * ay) {
                dx = 0;
                dy = gy[i] > 0 ? 1 : -1;
            } else {
                dx = gx[i] > 0 ? 1 : -1;
                dy = gy[i] > 0 ? 1 : -1;
            }
            float ahead = mag[(size_t)(y + dy) * w + (size_t)(x + dx)];
            float behind = mag[(size_t)(y - dy) * w + (size_t)(x - dx)];
            /* Ties (within float rounding of the smoothing and Sobel sums)
             * go to the bright side. */
            const float tie = 1e-4f * m;
            if (!(m >= behind - tie && m > ahead + tie))
                continue;
            if (m >= hi) {
                e[i] = 2;
                stack[top++] = (int32_t)i;
            } else
                e[i] = 1;
        }
    /* Grow the strong edges through 8-connected candidates. */
    while (top > 0) {
        int32_t i = stack[--top];
        int y = i / w, x = i % w;
        /* only interior pixels are candidates, so neighbours are in the image */
        for (int dy = -1; dy <= 1; dy++)
            for (int dx = -1; dx <= 1; dx++) {
                size_t j = (size_t)(y + dy) * w + (size_t)(x + dx);
                if (e[j] == 1) {
                    e[j] = 2;
                    stack[top++] = (int32_t)j;
                }
            }
    }
}

static void canny_density(const edges_state *s, const edges_scratch *k, float *out)
{
    const int w = s->w, h = s->h, cell = s->cell, cw = s->cw;
    for (int cy = 0; cy < s->ch; cy++)
        for (int cx = 0; cx < cw; cx++) {
            int x1 = (cx + 1) * cell < w ? (cx + 1) * cell : w, y1 = (cy + 1) * cell < h ? (cy + 1) * cell : h;
            int count = 0;
            for (int y = cy * cell; y < y1; y++)
                for (int x = cx * cell; x < x1; x++)
                    count += k->edge[(size_t)y * w + x] == 2;
            out[(size_t)cy * cw + cx] = (float)count / (float)((x1 - cx * cell) * (y1 - cy * cell));
        }
}

static vb_status edges_extract(const void *state, void *scratch, const vb_image *img, float *out, vb_error *err)
{
    const edges_state *s = state;
    edges_scratch *k = scratch;
    if (!k)
        return vb_fail(err, VB_ERR_NOMEM, "out of memory");
    if (img->w != s->w || img->h != s->h || img->c != s->c)
        return vb_fail(err, VB_ERR_DATA, "edges: a %dx%dx%d image given to an extractor made for %dx%dx%d", img->w,
                       img->h, img->c, s->w, s->h, s->c);
    const size_t n = (size_t)s->w * (size_t)s->h;
    const float *g = img->data;
    if (s->c == 3) {
        const float *r = img->data, *gr = r + n, *b = gr + n;
        for (size_t i = 0; i < n; i++)
            k->grey[i] = 0.299f * r[i] + 0.587f * gr[i] + 0.114f * b[i];
        g = k->grey;
    }
    if (s->sobel) {
        sobel(s, g, k->gx, k->gy, k->mag);
        sobel_histograms(s, k, out);
        out += (size_t)s->cw * (size_t)s->ch * (size_t)s->bins;
    }
    if (s->canny) {
        const float *src = g;
        if (s->r > 0) {
            vb_filter_separable(g, s->w, s->h, s->gk, s->r, k->pad, k->tmp, k->smooth);
            src = k->smooth;
        }
        sobel(s, src, k->gx, k->gy, k->mag);
        canny(s, k);
        canny_density(s, k, out);
    }
    return VB_OK;
}

const vb_extractor_vt vb_ext_edges = {
    .info = {.name = "edges",
             .help = "edge features: Sobel orientation histograms and/or Canny edge density per cell",
             .doc = "Colour: converted to luma (0.299 R + 0.587 G + 0.114 B) first. Output, with "
                    "cells = ceil(w/cell) x ceil(h/cell): sobel gives bins x cells values (one plane per bin, "
                    "cells row-major), canny gives cells values (the fraction of edge pixels), both gives the "
                    "sobel part then the canny part.",
             .params = edges_params,
             .n_params = sizeof edges_params / sizeof edges_params[0]},
    .create = edges_create,
    .dim = edges_dim,
    .scratch_new = edges_scratch_new,
    .scratch_free = edges_scratch_free,
    .extract = edges_extract,
    .destroy = edges_destroy,
};
