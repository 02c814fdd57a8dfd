/* hog: histograms of oriented gradients.
 *
 * Our own implementation of VLFeat's vl_hog (same gradients, orientation
 * assignment, bilinear spatial weights and UoCTTI / Dalal-Triggs block
 * normalisation), written so that the per-pixel work vectorises and nothing
 * is allocated per image: vl_hog spends most of its time in a scalar,
 * branchy per-pixel loop. For the VLFeat settings (uoctti, or dalaltriggs
 * with unsigned bins and l2clip) the output reproduces vl_hog's: every
 * floating-point operation that decides a bin or feeds a histogram is the one
 * VLFeat performs, in the same order, so the values agree bit for bit with
 * the Debian build of libvl (tests/test_hog_fast.c checks them against
 * vl_hog on many sizes with a 1e-5 relative tolerance, the documented
 * guarantee).
 *
 * Layout: features are cell-major planes, as vl_hog returns them: value d
 * of cell (x, y) is out[d * cells_w * cells_h + y * cells_w + x].
 */

/* Built with -ffp-contract=off (see the Makefile): bit-for-bit agreement
 * needs a*b + c*d rounded twice, as VLFeat's generic x86-64 build does. */

#include "visbench/features.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { NORM_L2CLIP, NORM_L2HYS, NORM_L2, NORM_L1, NORM_L1SQRT };

static const vb_param_def hog_params[] = {
    {.name = "cell", .type = VB_PT_INT, .def = "8", .min = 1, .max = 256, .flags = VB_PF_GRID,
     .help = "cell side in pixels"},
    {.name = "orientations", .type = VB_PT_INT, .def = "9", .min = 2, .max = 36, .flags = VB_PF_GRID,
     .help = "orientation bins over 180 degrees"},
    {.name = "variant", .type = VB_PT_ENUM, .def = "uoctti", .choices = "uoctti|dalaltriggs",
     .help = "uoctti: 3o+4 values per cell (signed, unsigned, energies); dalaltriggs: 4o per cell"},
    {.name = "bilinear", .type = VB_PT_BOOL, .def = "false",
     .help = "split each gradient between the two nearest orientation bins"},
    {.name = "signed", .type = VB_PT_BOOL, .def = "false",
     .help = "dalaltriggs: 2o bins over 360 degrees (gradient direction kept), 8o values per cell; uoctti always "
             "has both"},
    {.name = "norm", .type = VB_PT_ENUM, .def = "l2clip", .choices = "l2clip|l2hys|l2|l1|l1sqrt",
     .help = "dalaltriggs block normalisation: l2clip (VLFeat's: L2, clipped at 0.2), l2hys (l2clip, then L2 "
             "again), l2, l1, l1sqrt; uoctti has its own"},
};

/* Pixels per strip of the gradient pass: the strip's buffers stay in L1. */
#define HOG_STRIP 2048

typedef struct hog_state {
    int w, h, c, cell, n, dt, bilinear, sgn, norm;
    int hw, hh;  /* cells across and down */
    int cells;   /* hw * hh: one histogram plane */
    int strip_rows;
    size_t per_cell;
    float ox[36], oy[36]; /* unit vectors of the orientation bin centres */
    /* Spatial weights of pixel column x: its gradient goes to cell
     * col_cell[x] with weight col_w1[x] and to the next cell with col_w2[x];
     * likewise for rows (row_cell is the offset of the cell row). A
     * neighbour outside the grid gets weight 0 (adding +0 changes no sum),
     * and the border pixel's one real neighbour is moved to the first slot. */
    int *col_cell, *row_cell;
    float *col_w1, *col_w2, *row_w1, *row_w2;
} hog_state;

typedef struct hog_scratch {
    float *gx, *gy, *g2, *mag, *ow0, *ow1; /* one strip of pixels */
    int32_t *bin, *bin1;                    /* orientation bin * cells */
    float *hist;   /* 2n planes of cells directed-orientation histograms, then slack */
    float *cnorm;  /* one plane */
    double *fac;   /* (hw + 1) x (hh + 1) block factors */
    double *cf;    /* 4 planes: the factors of each cell's four blocks */
    double *t;     /* 4 planes: UoCTTI energy accumulators */
    double *ren;   /* (hw + 1) x (hh + 1) l2hys renormalisation */
    float *val;    /* cells x m folded or signed histograms (generic norms) */
} hog_scratch;

static void hog_destroy(void *state)
{
    hog_state *s = state;
    if (!s)
        return;
    free(s->col_cell);
    free(s->row_cell);
    free(s->col_w1);
    free(s->col_w2);
    free(s->row_w1);
    free(s->row_w2);
    free(s);
}

/* VLFeat's spatial weights: hx = (x + 0.5) / cell - 0.5 in double, stored
 * as float; the left cell is floor(hx), in -1 .. ncell - 1. */
static void spatial_weights(int npix, int cell, int ncell, int unit, int *off, float *w1, float *w2)
{
    for (int x = 0; x < npix; x++) {
        float hx = (float)((x + 0.5) / cell - 0.5);
        long b = (long)floorf(hx);
        float wx2 = hx - (float)b, wx1 = (float)(1.0 - wx2);
        if (b < 0) { /* only the right neighbour (cell 0) is in the grid */
            off[x] = 0;
            w1[x] = wx2;
            w2[x] = 0.0f;
        } else {
            off[x] = (int)b * unit;
            w1[x] = wx1;
            w2[x] = b + 1 < ncell ? wx2 : 0.0f;
        }
    }
}

static vb_status hog_create(const vb_params *p, vb_shape in, void **state, vb_error *err)
{
    int cell = (int)vb_param_int(p, "cell");
    size_t cw = ((size_t)in.w + (size_t)cell / 2) / (size_t)cell, ch = ((size_t)in.h + (size_t)cell / 2) / (size_t)cell;
    if (cw == 0 || ch == 0)
        return vb_param_fail(p, "cell", err, "cell %d is too large for %dx%d images", cell, in.w, in.h);
    int dt = vb_param_is(p, "variant", "dalaltriggs");
    int sgn = vb_param_bool(p, "signed");
    const char *norm = vb_param_str(p, "norm");
    if (!dt && sgn)
        return vb_param_fail(p, "signed", err,
                             "signed applies to variant dalaltriggs; uoctti always has signed and unsigned bins");
    if (!dt && strcmp(norm, "l2clip") != 0)
        return vb_param_fail(p, "norm", err, "norm applies to variant dalaltriggs; uoctti has its own normalisation");
    hog_state *s = vb_calloc(1, sizeof *s, err);
    if (!s)
        return VB_ERR_NOMEM;
    s->w = in.w;
    s->h = in.h;
    s->c = in.c;
    s->cell = cell;
    s->n = (int)vb_param_int(p, "orientations");
    s->dt = dt;
    s->sgn = sgn;
    s->bilinear = vb_param_bool(p, "bilinear");
    static const char *const norms[] = {"l2clip", "l2hys", "l2", "l1", "l1sqrt"};
    for (int i = 0; i < 5; i++)
        if (strcmp(norm, norms[i]) == 0)
            s->norm = i;
    s->hw = (int)cw;
    s->hh = (int)ch;
    s->cells = s->hw * s->hh;
    s->per_cell = dt ? (size_t)(sgn ? 8 : 4) * (size_t)s->n : 3u * (size_t)s->n + 4;
    s->strip_rows = HOG_STRIP / in.w > 0 ? HOG_STRIP / in.w : 1;
    for (int o = 0; o < s->n; o++) {
        double angle = o * M_PI / s->n;
        s->ox[o] = (float)cos(angle);
        s->oy[o] = (float)sin(angle);
    }
    s->col_cell = vb_malloc((size_t)in.w, sizeof(int), err);
    s->row_cell = vb_malloc((size_t)in.h, sizeof(int), err);
    s->col_w1 = vb_malloc((size_t)in.w, sizeof(float), err);
    s->col_w2 = vb_malloc((size_t)in.w, sizeof(float), err);
    s->row_w1 = vb_malloc((size_t)in.h, sizeof(float), err);
    s->row_w2 = vb_malloc((size_t)in.h, sizeof(float), err);
    if (!s->col_cell || !s->row_cell || !s->col_w1 || !s->col_w2 || !s->row_w1 || !s->row_w2) {
        hog_destroy(s);
        return VB_ERR_NOMEM;
    }
    spatial_weights(in.w, cell, s->hw, 1, s->col_cell, s->col_w1, s->col_w2);
    spatial_weights(in.h, cell, s->hh, s->hw, s->row_cell, s->row_w1, s->row_w2);
    *state = s;
    return VB_OK;
}

static size_t hog_dim(const void *state)
{
    const hog_state *s = state;
    return (size_t)s->cells * s->per_cell;
}

static void hog_scratch_free(void *scratch)
{
    hog_scratch *k = scratch;
    if (!k)
        return;
    free(k->gx);
    free(k->gy);
    free(k->g2);
    free(k->mag);
    free(k->ow0);
    free(k->ow1);
    free(k->bin);
    free(k->bin1);
    free(k->hist);
    free(k->cnorm);
    free(k->fac);
    free(k->cf);
    free(k->t);
    free(k->ren);
    free(k->val);
    free(k);
}

/* Size of the histogram buffer: the planes plus the slack that the +0
 * contributions of the last cells may touch. */
static size_t hist_len(const hog_state *s) { return 2 * (size_t)s->n * (size_t)s->cells + (size_t)s->hw + 2; }

static void *hog_scratch_new(const void *state)
{
    const hog_state *s = state;
    hog_scratch *k = calloc(1, sizeof *k);
    if (!k)
        return NULL;
    size_t strip = (size_t)s->strip_rows * (size_t)s->w;
    size_t cells = (size_t)s->cells, blocks = (size_t)(s->hw + 1) * (size_t)(s->hh + 1);
    k->gx = vb_malloc(strip, sizeof(float), NULL);
    k->gy = vb_malloc(strip, sizeof(float), NULL);
    k->g2 = vb_malloc(strip, sizeof(float), NULL);
    k->mag = vb_malloc(strip, sizeof(float), NULL);
    k->bin = vb_malloc(strip, sizeof(int32_t), NULL);
    k->hist = vb_malloc(hist_len(s), sizeof(float), NULL);
    k->cnorm = vb_malloc(cells, sizeof(float), NULL);
    k->fac = vb_malloc(blocks, sizeof(double), NULL);
    k->cf = vb_malloc(4 * cells, sizeof(double), NULL);
    k->t = vb_malloc(4 * cells, sizeof(double), NULL);
    int ok = k->gx && k->gy && k->g2 && k->mag && k->bin && k->hist && k->cnorm && k->fac && k->cf && k->t;
    if (s->bilinear) {
        k->ow0 = vb_malloc(strip, sizeof(float), NULL);
        k->ow1 = vb_malloc(strip, sizeof(float), NULL);
        k->bin1 = vb_malloc(strip, sizeof(int32_t), NULL);
        ok = ok && k->ow0 && k->ow1 && k->bin1;
    }
    if (s->dt && (s->sgn || s->norm != NORM_L2CLIP)) {
        k->val = vb_malloc(cells * 2 * (size_t)s->n, sizeof(float), NULL);
        k->ren = vb_malloc(blocks, sizeof(double), NULL);
        ok = ok && k->val && k->ren;
    }
    if (!ok) {
        hog_scratch_free(k);
        return NULL;
    }
    return k;
}

/* ---- gradients and orientation bins ------------------------------------ */

/* Gradient of len consecutive pixels starting at src (central differences,
 * row stride w), over all channels: the channel with the largest squared
 * gradient wins, the first on ties, starting from a zero gradient, as in
 * vl_hog. */
static void gradients(const hog_state *s, const float *src, size_t len, float *restrict gx, float *restrict gy,
                      float *restrict g2)
{
    const size_t w = (size_t)s->w, cs = (size_t)s->w * (size_t)s->h;
    /* The neighbours through their own pointers: src[j - 1] with j = 0
     * would form an index of SIZE_MAX (undefined, though it reads the
     * same float). */
    const float *l = src - 1, *r = src + 1, *u = src - w, *d = src + w;
    for (size_t j = 0; j < len; j++) {
        float a = r[j] - l[j], b = d[j] - u[j];
        float q = a * a + b * b;
        int keep = q > 0.0f;
        gx[j] = keep ? a : 0.0f;
        gy[j] = keep ? b : 0.0f;
        g2[j] = keep ? q : 0.0f;
    }
    for (int ch = 1; ch < s->c; ch++) {
        const float *p = src + (size_t)ch * cs;
        const float *pl = p - 1, *pr = p + 1, *pu = p - w, *pd = p + w;
        for (size_t j = 0; j < len; j++) {
            float a = pr[j] - pl[j], b = pd[j] - pu[j];
            float q = a * a + b * b;
            int keep = q > g2[j];
            gx[j] = keep ? a : gx[j];
            gy[j] = keep ? b : gy[j];
            g2[j] = keep ? q : g2[j];
        }
    }
}

/* The nearest of the 2n directed orientations, as libvl 0.9.21's vl_hog
 * finds it: the gradient's score against each bin centre (its sign giving
 * the direction), the first strict maximum. Writes the magnitude and the
 * bin's plane offset (bin * cells). Grey images (src != NULL) take their
 * gradients from the pixels directly, colour ones from gradients(). Inlined
 * with constant n, the bin loop unrolls and the pixel loop vectorises. */
static inline __attribute__((always_inline)) void
orient_hard(size_t len, const float *restrict src, size_t w, const float *restrict gxa, const float *restrict gya,
            const float *restrict g2a, const float *restrict ox, const float *restrict oy, int n, int32_t cells,
            float *restrict mag, int32_t *restrict bin)
{
    /* (as in gradients(); no arithmetic on a NULL src) */
    const float *l = src ? src - 1 : NULL, *r = src ? src + 1 : NULL, *u = src ? src - w : NULL,
                *d = src ? src + w : NULL;
    for (size_t j = 0; j < len; j++) {
        float gx, gy, q;
        if (src) {
            float a = r[j] - l[j], b = d[j] - u[j];
            float aa = a * a + b * b;
            gx = aa > 0.0f ? a : 0.0f;
            gy = aa > 0.0f ? b : 0.0f;
            q = aa > 0.0f ? aa : 0.0f;
        } else {
            gx = gxa[j];
            gy = gya[j];
            q = g2a[j];
        }
        float best = -1.0f;
        int32_t b = 0;
#pragma GCC unroll 12
        for (int k = 0; k < n; k++) {
            float sc = gx * ox[k] + gy * oy[k];
            int32_t bk = sc < 0.0f ? (k + n) * cells : k * cells;
            sc = sc < 0.0f ? -sc : sc;
            b = sc > best ? bk : b;
            best = sc > best ? sc : best;
        }
        mag[j] = sqrtf(q);
        bin[j] = b;
    }
}

#define ORIENT_CASE(N)                                                                                            \
    case N:                                                                                                       \
        if (src)                                                                                                  \
            orient_hard(len, src, w, NULL, NULL, NULL, s->ox, s->oy, N, s->cells, mag, bin);                      \
        else                                                                                                      \
            orient_hard(len, NULL, w, gx, gy, g2, s->ox, s->oy, N, s->cells, mag, bin);                           \
        break;

static void orient_hard_any(const hog_state *s, size_t len, const float *src, const float *gx, const float *gy,
                            const float *g2, float *mag, int32_t *bin)
{
    const size_t w = (size_t)s->w;
    switch (s->n) {
        ORIENT_CASE(9)
        ORIENT_CASE(8)
        ORIENT_CASE(6)
        ORIENT_CASE(12)
    default:
        if (src)
            orient_hard(len, src, w, NULL, NULL, NULL, s->ox, s->oy, s->n, s->cells, mag, bin);
        else
            orient_hard(len, NULL, w, gx, gy, g2, s->ox, s->oy, s->n, s->cells, mag, bin);
    }
}

/* Bilinear orientation assignment, as vl_hog: the best and second-best bins
 * by score, the second weighted by the angle between the gradient and the
 * best bin's centre over the bin width. */
static void orient_bilinear(const hog_state *s, size_t len, const float *gxa, const float *gya, const float *g2a,
                            float *mag, int32_t *bin0, int32_t *bin1, float *ow0, float *ow1)
{
    const int n = s->n;
    for (size_t j = 0; j < len; j++) {
        float g = sqrtf(g2a[j]);
        float gx = gxa[j], gy = gya[j];
        float w0 = -1.0f, w1 = -1.0f;
        int32_t b0 = 0, b1 = 0;
        for (int k = 0; k < n; k++) {
            float sc = gx * s->ox[k] + gy * s->oy[k];
            int32_t bk = k;
            if (sc < 0) {
                sc = -sc;
                bk += n;
            }
            if (sc > w0) {
                b1 = b0;
                w1 = w0;
                b0 = bk;
                w0 = sc;
            } else if (sc > w1) {
                b1 = bk;
                w1 = sc;
            }
        }
        double cosine = (double)w0 / (g > 1e-10 ? (double)g : 1e-10);
        float angle0 = acosf(cosine < 1.0 ? (float)cosine : 1.0f);
        float a1 = (float)(angle0 / (M_PI / n));
        mag[j] = g;
        bin0[j] = b0 * s->cells;
        ow0[j] = 1.0f - a1;
        bin1[j] = b1 * s->cells;
        ow1[j] = a1;
    }
}

/* Adds the strip's pixels (rows y0..y1-1, columns 1..w-2) to the histogram
 * planes: each gradient goes to the four nearest cell centres (and, with
 * bilinear orientations, to two bins). Raster order and vl_hog's product
 * order ((grad * ow) * wx) * wy keep the sums identical to vl_hog's.
 * Strip index of pixel (x, y) is (y - y0) * w + x. */
static void scatter(const hog_state *s, const hog_scratch *k, int y0, int y1, float *hist)
{
    const int w = s->w, hw = s->hw;
    const int *cc = s->col_cell;
    const float *c1 = s->col_w1, *c2 = s->col_w2;
    for (int y = y0; y < y1; y++) {
        float wy1 = s->row_w1[y], wy2 = s->row_w2[y];
        float *row = hist + s->row_cell[y];
        size_t j0 = (size_t)(y - y0) * (size_t)w;
        const float *mg = k->mag + j0;
        const int32_t *bn = k->bin + j0;
        if (!s->bilinear) {
            for (int x = 1; x < w - 1; x++) {
                float g = mg[x];
                float a = g * c1[x], b = g * c2[x];
                float *hp = row + bn[x] + cc[x];
                hp[0] += a * wy1;
                hp[1] += b * wy1;
                hp[hw + 1] += b * wy2;
                hp[hw] += a * wy2;
            }
            continue;
        }
        const int32_t *bn1 = k->bin1 + j0;
        const float *o0 = k->ow0 + j0, *o1 = k->ow1 + j0;
        for (int x = 1; x < w - 1; x++) {
            float g = mg[x] * o0[x];
            float a = g * c1[x], b = g * c2[x];
            float *hp = row + bn[x] + cc[x];
            hp[0] += a * wy1;
            hp[1] += b * wy1;
            hp[hw + 1] += b * wy2;
            hp[hw] += a * wy2;
            g = mg[x] * o1[x];
            a = g * c1[x];
            b = g * c2[x];
            hp = row + bn1[x] + cc[x];
            hp[0] += a * wy1;
            hp[1] += b * wy1;
            hp[hw + 1] += b * wy2;
            hp[hw] += a * wy2;
        }
    }
}

static void histograms(const hog_state *s, hog_scratch *k, const float *img)
{
    memset(k->hist, 0, hist_len(s) * sizeof(float));
    const int w = s->w, h = s->h;
    if (w < 3 || h < 3)
        return;
    for (int y0 = 1; y0 < h - 1; y0 += s->strip_rows) {
        int y1 = y0 + s->strip_rows < h - 1 ? y0 + s->strip_rows : h - 1;
        /* Flat run from (1, y0) to (w-2, y1-1); the border columns in
         * between get gradients that wrap around rows and are not used.
         * Buffers are written from index 1, so pixel (x, y) is at
         * (y - y0) * w + x. */
        size_t len = (size_t)(y1 - y0) * (size_t)w - 2;
        const float *src = img + (size_t)y0 * (size_t)w + 1;
        if (s->bilinear || s->c > 1)
            gradients(s, src, len, k->gx + 1, k->gy + 1, k->g2 + 1);
        if (s->bilinear)
            orient_bilinear(s, len, k->gx + 1, k->gy + 1, k->g2 + 1, k->mag + 1, k->bin + 1, k->bin1 + 1,
                            k->ow0 + 1, k->ow1 + 1);
        else if (s->c > 1)
            orient_hard_any(s, len, NULL, k->gx + 1, k->gy + 1, k->g2 + 1, k->mag + 1, k->bin + 1);
        else
            orient_hard_any(s, len, src, NULL, NULL, NULL, k->mag + 1, k->bin + 1);
        scatter(s, k, y0, y1, k->hist);
    }
}

/* ---- block normalisation ----------------------------------------------- */

/* Block index: blk[by * (hw + 1) + bx] is the 2x2 block whose top-left cell
 * is (bx - 1, by - 1), cell indices clamped to the grid (so border blocks
 * repeat cells, as in vl_hog). Cell (x, y) lies in blocks (x, y),
 * (x + 1, y), (x, y + 1), (x + 1, y + 1) of this index. Sums in vl_hog's
 * order: top-left, top-right, bottom-left, bottom-right. */
static void block_sums(const hog_state *s, const float *cell, double *blk)
{
    const int hw = s->hw, hh = s->hh;
    for (int by = 0; by <= hh; by++) {
        int y0 = by - 1 > 0 ? by - 1 : 0, y1 = by < hh - 1 ? by : hh - 1;
        const float *r0 = cell + (size_t)y0 * hw, *r1 = cell + (size_t)y1 * hw;
        double *b = blk + (size_t)by * (hw + 1);
        b[0] = (double)r0[0] + (double)r0[0] + (double)r1[0] + (double)r1[0];
        for (int bx = 1; bx < hw; bx++)
            b[bx] = (double)r0[bx - 1] + (double)r0[bx] + (double)r1[bx - 1] + (double)r1[bx];
        b[hw] = (double)r0[hw - 1] + (double)r0[hw - 1] + (double)r1[hw - 1] + (double)r1[hw - 1];
    }
}

/* The factors of each cell's four blocks as four planes of cells. */
static void cell_factors(const hog_state *s, const double *fac, double *cf)
{
    const int hw = s->hw, hh = s->hh;
    const size_t cells = (size_t)s->cells;
    for (int y = 0; y < hh; y++) {
        const double *r0 = fac + (size_t)y * (hw + 1), *r1 = r0 + hw + 1;
        double *f = cf + (size_t)y * hw;
        for (int x = 0; x < hw; x++) {
            f[x] = r0[x];
            f[x + cells] = r0[x + 1];
            f[x + 2 * cells] = r1[x];
            f[x + 3 * cells] = r1[x + 1];
        }
    }
}

/* One orientation of vl_hog's UoCTTI normalisation over the cells of a
 * plane (separate, with restrict arguments, so that it vectorises). */
static void uoctti_plane(size_t cells, const float *restrict pa, const float *restrict pb, const double *restrict f1,
                         const double *restrict f2, const double *restrict f3, const double *restrict f4,
                         double *restrict t1, double *restrict t2, double *restrict t3, double *restrict t4,
                         float *restrict oa, float *restrict ob, float *restrict oc)
{
    for (size_t c = 0; c < cells; c++) {
        double ha = pa[c], hb = pb[c];
        double a1 = f1[c] * ha, a2 = f2[c] * ha, a3 = f3[c] * ha, a4 = f4[c] * ha;
        double b1 = f1[c] * hb, b2 = f2[c] * hb, b3 = f3[c] * hb, b4 = f4[c] * hb;
        double c1 = a1 + b1, c2 = a2 + b2, c3 = a3 + b3, c4 = a4 + b4;
        a1 = a1 < 0.2 ? a1 : 0.2;
        a2 = a2 < 0.2 ? a2 : 0.2;
        a3 = a3 < 0.2 ? a3 : 0.2;
        a4 = a4 < 0.2 ? a4 : 0.2;
        b1 = b1 < 0.2 ? b1 : 0.2;
        b2 = b2 < 0.2 ? b2 : 0.2;
        b3 = b3 < 0.2 ? b3 : 0.2;
        b4 = b4 < 0.2 ? b4 : 0.2;
        c1 = c1 < 0.2 ? c1 : 0.2;
        c2 = c2 < 0.2 ? c2 : 0.2;
        c3 = c3 < 0.2 ? c3 : 0.2;
        c4 = c4 < 0.2 ? c4 : 0.2;
        t1[c] += c1;
        t2[c] += c2;
        t3[c] += c3;
        t4[c] += c4;
        oa[c] = (float)(0.5 * (a1 + a2 + a3 + a4));
        ob[c] = (float)(0.5 * (b1 + b2 + b3 + b4));
        oc[c] = (float)(0.5 * (c1 + c2 + c3 + c4));
    }
}

/* Dalal-Triggs: min(0.2, f * ha + f * hb) for the four blocks. Rounding to
 * float is monotonic, so clipping the float at 0.2f is the same as rounding
 * the clipped double (and, unlike it, vectorises with gcc). */
static void dt_plane(size_t cells, const float *restrict pa, const float *restrict pb, const double *restrict f1,
                     const double *restrict f2, const double *restrict f3, const double *restrict f4,
                     float *restrict o1, float *restrict o2, float *restrict o3, float *restrict o4)
{
    for (size_t c = 0; c < cells; c++) {
        double ha = pa[c], hb = pb[c];
        float c1 = (float)(f1[c] * ha + f1[c] * hb), c2 = (float)(f2[c] * ha + f2[c] * hb);
        float c3 = (float)(f3[c] * ha + f3[c] * hb), c4 = (float)(f4[c] * ha + f4[c] * hb);
        o1[c] = c1 < 0.2f ? c1 : 0.2f;
        o2[c] = c2 < 0.2f ? c2 : 0.2f;
        o3[c] = c3 < 0.2f ? c3 : 0.2f;
        o4[c] = c4 < 0.2f ? c4 : 0.2f;
    }
}

static void cell_norms(size_t cells, int n, const float *restrict hist, float *restrict cn)
{
    memset(cn, 0, cells * sizeof *cn);
    for (int o = 0; o < n; o++) {
        const float *ha = hist + (size_t)o * cells, *hb = ha + (size_t)n * cells;
        for (size_t c = 0; c < cells; c++) {
            float v = ha[c] + hb[c];
            cn[c] += v * v;
        }
    }
}

/* vl_hog_extract's normalisation, operation for operation (double
 * arithmetic, the same sums in the same order), vectorised over the cells
 * of a plane. */
static void normalise_vlfeat(const hog_state *s, hog_scratch *k, float *out)
{
    const int n = s->n;
    const size_t cells = (size_t)s->cells, nb = (size_t)(s->hw + 1) * (size_t)(s->hh + 1);
    cell_norms(cells, n, k->hist, k->cnorm);
    double *fac = k->fac;
    block_sums(s, k->cnorm, fac);
    for (size_t i = 0; i < nb; i++)
        fac[i] = 1.0 / sqrt(fac[i] + 1e-4);
    cell_factors(s, fac, k->cf);
    const double *f1 = k->cf, *f2 = f1 + cells, *f3 = f2 + cells, *f4 = f3 + cells;
    double *t1 = k->t, *t2 = t1 + cells, *t3 = t2 + cells, *t4 = t3 + cells;
    const size_t on = (size_t)n * cells;
    if (s->dt) {
        for (int o = 0; o < n; o++) {
            const float *pa = k->hist + (size_t)o * cells;
            float *o1 = out + (size_t)o * cells;
            dt_plane(cells, pa, pa + on, f1, f2, f3, f4, o1, o1 + on, o1 + 2 * on, o1 + 3 * on);
        }
        return;
    }
    memset(t1, 0, 4 * cells * sizeof *t1);
    for (int o = 0; o < n; o++) {
        const float *pa = k->hist + (size_t)o * cells;
        float *oa = out + (size_t)o * cells;
        uoctti_plane(cells, pa, pa + on, f1, f2, f3, f4, t1, t2, t3, t4, oa, oa + on, oa + 2 * on);
    }
    const double inv18 = (double)(1.0f / sqrtf(18.0f));
    float *oe = out + 3 * on;
    for (size_t c = 0; c < 4 * cells; c++)
        oe[c] = (float)(inv18 * t1[c]);
}

/* Dalal-Triggs with signed bins or another block norm: each cell's m-bin
 * histogram (m = n folded, or 2n signed) normalised by each of its four
 * blocks, blocks as in vl_hog (2x2 cells, border cells repeated). */
static void normalise_generic(const hog_state *s, hog_scratch *k, float *out)
{
    const int hw = s->hw, hh = s->hh, n = s->n, m = s->sgn ? 2 * n : n;
    const size_t cells = (size_t)s->cells, nb = (size_t)(hw + 1) * (size_t)(hh + 1);
    const int l1 = s->norm == NORM_L1 || s->norm == NORM_L1SQRT;
    float *val = k->val, *cn = k->cnorm;
    for (size_t c = 0; c < cells; c++) {
        const float *hp = k->hist + c;
        float *v = val + c * (size_t)m;
        float acc = 0.0f;
        for (int o = 0; o < m; o++) {
            v[o] = s->sgn ? hp[(size_t)o * cells] : hp[(size_t)o * cells] + hp[(size_t)(o + n) * cells];
            acc += l1 ? v[o] : v[o] * v[o];
        }
        cn[c] = acc;
    }
    double *fac = k->fac, *ren = k->ren;
    block_sums(s, cn, fac);
    for (size_t i = 0; i < nb; i++)
        fac[i] = l1 ? 1.0 / (fac[i] + 1e-2) : 1.0 / sqrt(fac[i] + 1e-4);
    if (s->norm == NORM_L2HYS) {
        /* The clipped block's own L2 norm. */
        for (int by = 0; by <= hh; by++) {
            int y0 = by - 1 > 0 ? by - 1 : 0, y1 = by < hh - 1 ? by : hh - 1;
            for (int bx = 0; bx <= hw; bx++) {
                int x0 = bx - 1 > 0 ? bx - 1 : 0, x1 = bx < hw - 1 ? bx : hw - 1;
                double f = fac[by * (hw + 1) + bx], acc = 0;
                const int cy[4] = {y0, y0, y1, y1}, cx[4] = {x0, x1, x0, x1};
                for (int q = 0; q < 4; q++) {
                    const float *v = val + ((size_t)cy[q] * hw + cx[q]) * (size_t)m;
                    for (int o = 0; o < m; o++) {
                        double c = f * v[o];
                        c = c < 0.2 ? c : 0.2;
                        acc += c * c;
                    }
                }
                ren[by * (hw + 1) + bx] = 1.0 / sqrt(acc + 1e-4);
            }
        }
    }
    for (int y = 0; y < hh; y++)
        for (int x = 0; x < hw; x++) {
            const float *v = val + ((size_t)y * hw + x) * (size_t)m;
            const size_t blk[4] = {(size_t)y * (hw + 1) + x, (size_t)y * (hw + 1) + x + 1,
                                   (size_t)(y + 1) * (hw + 1) + x, (size_t)(y + 1) * (hw + 1) + x + 1};
            for (int j = 0; j < 4; j++) {
                double f = fac[blk[j]];
                float *o = out + (size_t)j * m * cells + (size_t)y * hw + x;
                for (int q = 0; q < m; q++) {
                    double c = f * v[q];
                    switch (s->norm) {
                    case NORM_L2CLIP:
                        c = c < 0.2 ? c : 0.2;
                        break;
                    case NORM_L2HYS:
                        c = (c < 0.2 ? c : 0.2) * ren[blk[j]];
                        break;
                    case NORM_L1SQRT:
                        c = sqrt(c);
                        break;
                    default:
                        break;
                    }
                    o[(size_t)q * cells] = (float)c;
                }
            }
        }
}

static vb_status hog_extract(const void *state, void *scratch, const vb_image *img, float *out, vb_error *err)
{
    const hog_state *s = state;
    hog_scratch *k = scratch;
    if (!k)
        return vb_fail(err, VB_ERR_NOMEM, "out of memory");
    if (img->w != s->w || img->h != s->h || img->c != s->c)
        return vb_fail(err, VB_ERR_DATA, "hog: a %dx%dx%d image given to an extractor made for %dx%dx%d", img->w,
                       img->h, img->c, s->w, s->h, s->c);
    histograms(s, k, img->data);
    if (s->dt && (s->sgn || s->norm != NORM_L2CLIP))
        normalise_generic(s, k, out);
    else
        normalise_vlfeat(s, k, out);
    return VB_OK;
}

const vb_extractor_vt vb_ext_hog = {
    .info = {.name = "hog",
             .help = "histograms of oriented gradients (VLFeat's UoCTTI or Dalal-Triggs, vectorised)",
             .doc = "Colour: at each pixel the gradient of the channel with the largest magnitude is used. "
                    "Output: round(w/cell) x round(h/cell) cells x (3*orientations+4 for uoctti, "
                    "4*orientations for dalaltriggs, 8*orientations for dalaltriggs with signed), "
                    "stored as one plane per value (cell-major), as vl_hog returns them. With the default "
                    "norm the values reproduce vl_hog's.",
             .params = hog_params,
             .n_params = sizeof hog_params / sizeof hog_params[0]},
    .create = hog_create,
    .dim = hog_dim,
    .scratch_new = hog_scratch_new,
    .scratch_free = hog_scratch_free,
    .extract = hog_extract,
    .destroy = hog_destroy,
};
