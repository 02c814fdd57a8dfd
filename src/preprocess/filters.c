/* Filtering ops: blur (Gaussian), sharpen (unsharp mask) and denoise
 * (Gaussian, median or bilateral), each channel on its own, borders
 * replicated (the edge pixel repeated outwards). */
#include "internal.h"
#include "visbench/filter.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* out = in smoothed by a Gaussian of width sigma (filter.h), every channel. */
static vb_status gauss_image(const vb_image *in, double sigma, vb_image *out, vb_error *err)
{
    vb_status st = vb_image_reshape(out, in->w, in->h, in->c, err);
    if (st != VB_OK)
        return st;
    const int r = vb_gauss_radius(sigma);
    float *taps = vb_malloc(2 * (size_t)r + 1, sizeof *taps, err);
    float *pad = taps ? vb_malloc((size_t)in->w + 2 * (size_t)r, sizeof *pad, err) : NULL;
    float *tmp = pad ? vb_malloc((size_t)in->w * in->h, sizeof *tmp, err) : NULL;
    st = tmp ? VB_OK : VB_ERR_NOMEM;
    if (st == VB_OK) {
        vb_gauss_taps(sigma, taps);
        for (int c = 0; c < in->c; c++)
            vb_filter_separable(vb_image_plane(in, c), in->w, in->h, taps, r, pad, tmp, vb_image_plane(out, c));
    }
    free(taps);
    free(pad);
    free(tmp);
    return st;
}

/* ---- blur -------------------------------------------------------------- */

static const vb_param_def blur_params[] = {
    {.name = "sigma", .type = VB_PT_FLOAT, .def = "1", .min = 0, .max = 32, .flags = VB_PF_PRIMARY | VB_PF_MIN_OPEN | VB_PF_GRID,
     .help = "the Gaussian's width in pixels (kernel radius ceil(3 sigma))"},
};

static vb_status blur_apply(const vb_params *p, const vb_image *in, vb_image *out, vb_error *err)
{
    return gauss_image(in, vb_param_float(p, "sigma"), out, err);
}

const vb_prep_vt vb_prep_blur = {
    .info = {.name = "blur", .help = "Gaussian smoothing per channel (separable, borders replicated)",
             VB_PARAMS(blur_params)},
    .shape = vb_prep_same_shape,
    .apply = blur_apply,
};

/* ---- sharpen ----------------------------------------------------------- */

static const vb_param_def sharpen_params[] = {
    {.name = "amount", .type = VB_PT_FLOAT, .def = "1", .min = 0, .max = 100, .flags = VB_PF_PRIMARY | VB_PF_GRID,
     .help = "how much of the detail (the image less its blur) is added"},
    {.name = "sigma", .type = VB_PT_FLOAT, .def = "1", .min = 0, .max = 32, .flags = VB_PF_MIN_OPEN | VB_PF_GRID,
     .help = "the blur's Gaussian width in pixels"},
};

static vb_status sharpen_apply(const vb_params *p, const vb_image *in, vb_image *out, vb_error *err)
{
    vb_status st = gauss_image(in, vb_param_float(p, "sigma"), out, err);
    if (st != VB_OK)
        return st;
    const float amount = (float)vb_param_float(p, "amount");
    const size_t n = (size_t)in->w * in->h;
    for (int c = 0; c < in->c; c++) {
        const float *x = vb_image_plane(in, c);
        float *o = vb_image_plane(out, c), lo = x[0], hi = x[0];
        for (size_t i = 1; i < n; i++) {
            lo = x[i] < lo ? x[i] : lo;
            hi = x[i] > hi ? x[i] : hi;
        }
        for (size_t i = 0; i < n; i++) {
            float v = x[i] + amount * (x[i] - o[i]);
            o[i] = v > lo ? (v < hi ? v : hi) : lo;
        }
    }
    return VB_OK;
}

const vb_prep_vt vb_prep_sharpen = {
    .info = {.name = "sharpen",
             .help = "unsharp mask per channel: x + amount (x - blur(x)), clamped to the channel's own range of "
                     "values (so loaded images stay in [0, 1])",
             VB_PARAMS(sharpen_params)},
    .shape = vb_prep_same_shape,
    .apply = sharpen_apply,
};

/* ---- denoise ----------------------------------------------------------- */

static const vb_param_def denoise_params[] = {
    {.name = "method", .type = VB_PT_ENUM, .def = "gaussian", .choices = "gaussian|median|bilateral",
     .flags = VB_PF_PRIMARY,
     .help = "gaussian: smoothing (sigma); median: the median of each size x size window; bilateral: a Gaussian "
             "in space (sigma_space) weighted by a Gaussian of the value difference (sigma_color), which keeps "
             "edges"},
    {.name = "sigma", .type = VB_PT_FLOAT, .def = "1", .min = 0, .max = 32, .flags = VB_PF_MIN_OPEN | VB_PF_GRID,
     .help = "gaussian: the width in pixels (kernel radius ceil(3 sigma))"},
    {.name = "size", .type = VB_PT_INT, .def = "3", .min = 1, .max = 15, .flags = VB_PF_GRID,
     .help = "median: the window's side in pixels (odd)"},
    {.name = "sigma_space", .type = VB_PT_FLOAT, .def = "1", .min = 0, .max = 16, .flags = VB_PF_MIN_OPEN | VB_PF_GRID,
     .help = "bilateral: the spatial width in pixels; the window is (2 ceil(3 sigma_space) + 1) square"},
    {.name = "sigma_color", .type = VB_PT_FLOAT, .def = "0.1", .min = 0, .max = 1e6,
     .flags = VB_PF_MIN_OPEN | VB_PF_GRID,
     .help = "bilateral: the width of the value difference, in pixel values (loaded images: [0, 1])"},
};

static vb_status denoise_shape(const vb_params *p, vb_shape in, vb_shape *out, vb_error *err)
{
    static const char *const own[][2] = {{"sigma", "gaussian"}, {"size", "median"}, {"sigma_space", "bilateral"},
                                         {"sigma_color", "bilateral"}};
    for (size_t i = 0; i < sizeof own / sizeof own[0]; i++)
        if (!vb_param_is(p, "method", own[i][1])) {
            vb_status st = vb_prep_method_only(p, own[i][0], own[i][1], err);
            if (st != VB_OK)
                return st;
        }
    long size = vb_param_int(p, "size");
    if (size % 2 == 0)
        return vb_param_fail(p, "size", err, "the median window needs a centre: give an odd size (%ld or %ld)",
                             size - 1, size + 1);
    return vb_prep_same_shape(p, in, out, err);
}

static inline int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

/* The k-th smallest of a[0..n) (reordered): quickselect with Lomuto's
 * partition, which stays within the array whatever the values (NaN too). */
static float select_kth(float *a, int n, int k)
{
    int lo = 0, hi = n - 1;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        float t = a[mid];
        a[mid] = a[hi];
        a[hi] = t;
        const float pivot = a[hi];
        int s = lo;
        for (int i = lo; i < hi; i++)
            if (a[i] < pivot) {
                t = a[i];
                a[i] = a[s];
                a[s++] = t;
            }
        a[hi] = a[s];
        a[s] = pivot;
        if (k == s)
            break;
        if (k < s)
            hi = s - 1;
        else
            lo = s + 1;
    }
    return a[k];
}

static void median_plane(const float *x, int w, int h, int r, float *win, float *o)
{
    const int m = (2 * r + 1) * (2 * r + 1);
    for (int y = 0; y < h; y++)
        for (int xx = 0; xx < w; xx++) {
            int k = 0;
            for (int dy = -r; dy <= r; dy++) {
                const float *row = x + (size_t)clampi(y + dy, 0, h - 1) * w;
                for (int dx = -r; dx <= r; dx++)
                    win[k++] = row[clampi(xx + dx, 0, w - 1)];
            }
            o[(size_t)y * w + xx] = select_kth(win, m, m / 2);
        }
}

/* ws: the (2r + 1)^2 spatial weights. */
static void bilateral_plane(const float *x, int w, int h, int r, const float *ws, double sigma_color, float *o)
{
    const double inv = 1.0 / (2 * sigma_color * sigma_color);
    for (int y = 0; y < h; y++)
        for (int xx = 0; xx < w; xx++) {
            const double c = x[(size_t)y * w + xx];
            double num = 0, den = 0;
            const float *wrow = ws;
            for (int dy = -r; dy <= r; dy++, wrow += 2 * r + 1) {
                const float *row = x + (size_t)clampi(y + dy, 0, h - 1) * w;
                for (int dx = -r; dx <= r; dx++) {
                    const double v = row[clampi(xx + dx, 0, w - 1)], d = v - c;
                    const double wt = wrow[dx + r] * exp(-d * d * inv);
                    num += wt * v;
                    den += wt;
                }
            }
            o[(size_t)y * w + xx] = (float)(num / den);
        }
}

static vb_status denoise_apply(const vb_params *p, const vb_image *in, vb_image *out, vb_error *err)
{
    if (vb_param_is(p, "method", "gaussian"))
        return gauss_image(in, vb_param_float(p, "sigma"), out, err);
    vb_status st = vb_image_reshape(out, in->w, in->h, in->c, err);
    if (st != VB_OK)
        return st;
    const int median = vb_param_is(p, "method", "median");
    const double sigma = vb_param_float(p, "sigma_space");
    const int r = median ? (int)vb_param_int(p, "size") / 2 : vb_gauss_radius(sigma), side = 2 * r + 1;
    float *buf = vb_malloc((size_t)side * side, sizeof *buf, err);
    if (!buf)
        return VB_ERR_NOMEM;
    if (!median) {
        /* exp(-(dx^2 + dy^2) / (2 sigma^2)) = g(dx) g(dy): the blur's taps, unnormalised as one */
        float *g = vb_malloc((size_t)side, sizeof *g, err);
        if (!g) {
            free(buf);
            return VB_ERR_NOMEM;
        }
        vb_gauss_taps(sigma, g);
        for (int i = 0; i < side; i++)
            for (int j = 0; j < side; j++)
                buf[i * side + j] = g[i] * g[j];
        free(g);
    }
    for (int c = 0; c < in->c; c++)
        if (median)
            median_plane(vb_image_plane(in, c), in->w, in->h, r, buf, vb_image_plane(out, c));
        else
            bilateral_plane(vb_image_plane(in, c), in->w, in->h, r, buf, vb_param_float(p, "sigma_color"),
                            vb_image_plane(out, c));
    free(buf);
    return VB_OK;
}

const vb_prep_vt vb_prep_denoise = {
    .info = {.name = "denoise",
             .help = "noise removal per channel: Gaussian, median or bilateral filtering, borders replicated",
             VB_PARAMS(denoise_params)},
    .shape = denoise_shape,
    .apply = denoise_apply,
};
