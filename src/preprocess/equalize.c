/* Histogram equalisation: global (the classic greyscale equalisation) and
 * contrast-limited adaptive (CLAHE), each channel on its own.
 *
 * CLAHE follows Zuiderveld (Graphics Gems IV, 1994) as OpenCV's
 * createCLAHE(clipLimit, tileGridSize) computes it: the image is padded
 * at its right and bottom (mirrored, the edge pixel not repeated) to a
 * multiple of the tile grid (when one side is not a multiple, each side by
 * tiles - side % tiles, as OpenCV does); each tile's histogram is clipped at
 * max(1, floor(clip x tile pixels / bins)), the clipped counts spread
 * evenly over all bins and the remainder one by one at a stride of
 * bins / remainder; the tile's mapping is round((bins - 1) cdf / tile
 * pixels); each pixel's level is the bilinear blend of the mappings of the
 * four tiles whose centres surround it (clamped at the borders), rounded.
 * For 8-bit values with bins: 256 this is OpenCV's result on each channel.
 */
#include "internal.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* At most this many entries (tiles x bins) in the tiles' mappings. */
#define CLAHE_MAX_LUT (1u << 24)

static const vb_param_def eq_params[] = {
    {.name = "bins", .type = VB_PT_INT, .def = "256", .min = 2, .max = 65536, .flags = VB_PF_PRIMARY,
     .help = "histogram bins over [0, 1] (values are quantised to bins - 1 steps)"},
    {.name = "method", .type = VB_PT_ENUM, .def = "global", .choices = "global|clahe",
     .help = "global: one histogram per channel; clahe: contrast-limited adaptive equalisation per channel "
             "(OpenCV's createCLAHE: tiles and clip)"},
    {.name = "tiles", .type = VB_PT_INTS, .def = "[8, 8]", .min = 1, .max = 64, .min_len = 2, .max_len = 2,
     .help = "clahe: the tile grid [across, down] (OpenCV's tileGridSize; one number for both)"},
    {.name = "clip", .type = VB_PT_FLOAT, .def = "2", .min = 0, .max = 1e6, .flags = VB_PF_MIN_OPEN | VB_PF_GRID,
     .help = "clahe: the clip limit as a multiple of a tile's mean bin count (OpenCV's clipLimit)"},
};

/* Clamps to [0, 1]; NaN becomes 0 (it must not index the histogram). */
static float clamp01(float x) { return x > 0 ? (x < 1 ? x : 1) : 0; }

/* The histogram bin of a value. */
static int level(float v, int bins) { return (int)(clamp01(v) * (float)(bins - 1) + 0.5f); }

static vb_status eq_shape(const vb_params *p, vb_shape in, vb_shape *out, vb_error *err)
{
    vb_status st = VB_OK;
    if (vb_param_is(p, "method", "global")) {
        if ((st = vb_prep_method_only(p, "tiles", "clahe", err)) == VB_OK)
            st = vb_prep_method_only(p, "clip", "clahe", err);
        if (st != VB_OK)
            return st;
    } else {
        size_t n;
        const double *t = vb_param_list(p, "tiles", &n);
        if (t[0] * t[1] * (double)vb_param_int(p, "bins") > CLAHE_MAX_LUT)
            return vb_param_fail(p, "tiles", err, "%gx%g tiles of %ld bins are too many mappings (at most %u "
                                                  "entries); use fewer tiles or bins",
                                 t[0], t[1], vb_param_int(p, "bins"), CLAHE_MAX_LUT);
    }
    return vb_prep_same_shape(p, in, out, err);
}

static void global_plane(const float *src, size_t n, int bins, size_t *hist, float *dst)
{
    memset(hist, 0, (size_t)bins * sizeof *hist);
    for (size_t i = 0; i < n; i++)
        hist[level(src[i], bins)]++;
    size_t cum = 0, first = 0;
    for (int b = 0; b < bins; b++)
        if (hist[b]) {
            first = hist[b];
            break;
        }
    for (int b = 0; b < bins; b++) {
        cum += hist[b];
        hist[b] = cum;
    }
    double denom = (double)(n - first);
    for (size_t i = 0; i < n; i++) {
        size_t cdf = hist[level(src[i], bins)];
        dst[i] = denom > 0 ? (float)((double)(cdf - first) / denom) : clamp01(src[i]);
    }
}

/* Index i of a row of n mirrored beyond its ends, the end not repeated
 * (OpenCV's BORDER_REFLECT_101). */
static int reflect101(int i, int n)
{
    if (n == 1)
        return 0;
    while (i < 0 || i >= n)
        i = i < 0 ? -i : 2 * (n - 1) - i;
    return i;
}

/* One tile's histogram clipped at limit (0: none) with its excess
 * redistributed, as mapping to levels. */
static void clahe_tile_lut(uint32_t *hist, int bins, int limit, float scale, uint16_t *lut)
{
    if (limit > 0) {
        uint32_t clipped = 0;
        for (int i = 0; i < bins; i++)
            if (hist[i] > (uint32_t)limit) {
                clipped += hist[i] - (uint32_t)limit;
                hist[i] = (uint32_t)limit;
            }
        uint32_t batch = clipped / (uint32_t)bins, residual = clipped - batch * (uint32_t)bins;
        for (int i = 0; i < bins; i++)
            hist[i] += batch;
        if (residual) {
            int step = bins / (int)residual > 1 ? bins / (int)residual : 1;
            for (int i = 0; i < bins && residual > 0; i += step, residual--)
                hist[i]++;
        }
    }
    uint32_t sum = 0;
    for (int i = 0; i < bins; i++) {
        sum += hist[i];
        long v = lrintf((float)sum * scale);
        lut[i] = (uint16_t)(v < 0 ? 0 : v > bins - 1 ? bins - 1 : v);
    }
}

/* The two tiles of n whose centres surround pixel i (tile side 1 / inv),
 * clamped to the grid, and their weights a (of t2) and a1 (of t1). */
static void tile_pair(int i, float inv, int n, int *t1, int *t2, float *a, float *a1)
{
    float f = (float)i * inv - 0.5f;
    int lo = (int)floorf(f);
    *a = f - (float)lo;
    *a1 = 1.0f - *a;
    *t1 = lo > 0 ? lo : 0;
    *t2 = lo + 1 < n - 1 ? lo + 1 : n - 1;
}

static void clahe_plane(const float *src, int w, int h, int bins, int tx, int ty, double clip, uint32_t *hist,
                        uint16_t *lut, int *lv, float *dst)
{
    const size_t n = (size_t)w * h;
    for (size_t i = 0; i < n; i++)
        lv[i] = level(src[i], bins);
    /* the grid tiles the image padded to a multiple of it; as in OpenCV,
     * when one side needs padding both get tiles - side % tiles (a whole
     * tile's worth for a side that was a multiple) */
    const int pad = w % tx || h % ty;
    const int W = pad ? w + tx - w % tx : w, H = pad ? h + ty - h % ty : h;
    const int tw = W / tx, th = H / ty, area = tw * th;
    const int limit = clip > 0 ? (int)(clip * area / bins) > 1 ? (int)(clip * area / bins) : 1 : 0;
    const float scale = (float)(bins - 1) / (float)area;
    for (int j = 0; j < ty; j++)
        for (int i = 0; i < tx; i++) {
            memset(hist, 0, (size_t)bins * sizeof *hist);
            for (int y = j * th; y < (j + 1) * th; y++) {
                const int *row = lv + (size_t)reflect101(y, h) * w;
                for (int x = i * tw; x < (i + 1) * tw; x++)
                    hist[row[reflect101(x, w)]]++;
            }
            clahe_tile_lut(hist, bins, limit, scale, lut + ((size_t)j * tx + i) * bins);
        }
    const float top = (float)(bins - 1);
    for (int y = 0; y < h; y++) {
        int ty1, ty2;
        float ya, ya1;
        tile_pair(y, 1.0f / (float)th, ty, &ty1, &ty2, &ya, &ya1);
        const uint16_t *l1 = lut + (size_t)ty1 * tx * bins, *l2 = lut + (size_t)ty2 * tx * bins;
        for (int x = 0; x < w; x++) {
            int tx1, tx2;
            float xa, xa1;
            tile_pair(x, 1.0f / (float)tw, tx, &tx1, &tx2, &xa, &xa1);
            const int b = lv[(size_t)y * w + x];
            const size_t i1 = (size_t)tx1 * bins + b, i2 = (size_t)tx2 * bins + b;
            float res = (l1[i1] * xa1 + l1[i2] * xa) * ya1 + (l2[i1] * xa1 + l2[i2] * xa) * ya;
            long v = lrintf(res);
            dst[(size_t)y * w + x] = (float)(v < 0 ? 0 : v > bins - 1 ? bins - 1 : v) / top;
        }
    }
}

static vb_status eq_apply(const vb_params *p, const vb_image *in, vb_image *out, vb_error *err)
{
    vb_status st = vb_image_reshape(out, in->w, in->h, in->c, err);
    if (st != VB_OK)
        return st;
    const int bins = (int)vb_param_int(p, "bins");
    const size_t n = (size_t)in->w * (size_t)in->h;
    if (vb_param_is(p, "method", "global")) {
        size_t *hist = vb_calloc((size_t)bins, sizeof *hist, err);
        if (!hist)
            return VB_ERR_NOMEM;
        for (int c = 0; c < in->c; c++)
            global_plane(vb_image_plane(in, c), n, bins, hist, vb_image_plane(out, c));
        free(hist);
        return VB_OK;
    }
    size_t nt;
    const double *t = vb_param_list(p, "tiles", &nt);
    const int tx = (int)t[0], ty = (int)t[1];
    uint32_t *hist = vb_malloc((size_t)bins, sizeof *hist, err);
    uint16_t *lut = hist ? vb_malloc((size_t)tx * ty * bins, sizeof *lut, err) : NULL;
    int *lv = lut ? vb_malloc(n, sizeof *lv, err) : NULL;
    st = lv ? VB_OK : VB_ERR_NOMEM;
    for (int c = 0; st == VB_OK && c < in->c; c++)
        clahe_plane(vb_image_plane(in, c), in->w, in->h, bins, tx, ty, vb_param_float(p, "clip"), hist, lut, lv,
                    vb_image_plane(out, c));
    free(hist);
    free(lut);
    free(lv);
    return st;
}

const vb_prep_vt vb_prep_equalize = {
    .info = {.name = "equalize",
             .help = "histogram equalisation per channel: global, or contrast-limited adaptive (CLAHE)",
             .doc = "Each channel on its own (a colour image's channels are equalised apart, not its luma). "
                    "method: clahe follows Zuiderveld (1994) as OpenCV's createCLAHE computes it: the image "
                    "padded at its right and bottom by mirroring to a multiple of the tile grid (both sides "
                    "when either needs it, as OpenCV pads), each tile's "
                    "histogram clipped at max(1, floor(clip x tile pixels / bins)) with the excess spread over "
                    "all bins, each pixel the bilinear blend of the four nearest tiles' mappings, rounded to a "
                    "level; for 8-bit values and bins: 256 the result is OpenCV's.",
             VB_PARAMS(eq_params)},
    .shape = eq_shape,
    .apply = eq_apply,
};
