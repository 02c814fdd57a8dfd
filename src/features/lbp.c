/* lbp: local binary patterns through VLFeat's vl_lbp (3x3 neighbourhoods,
 * uniform patterns: 58 bins), histogrammed per cell with bilinear
 * weights.
 *
 * vl_lbp_process returns sqrt(h / |h|_1) per cell (the Hellinger map of
 * the l1-normalised histogram, unit l2 norm). The other normalisations are
 * recovered from it: squaring gives h / |h|_1 exactly up to float
 * rounding; the raw counts multiply that by the cell's mass |h|_1, which
 * depends on the geometry only (every interior pixel spreads weight 1 over
 * the cells around it), so it is computed once at create. */
#include "visbench/features.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <vl/lbp.h>

static const vb_param_def lbp_params[] = {
    {.name = "cell", .type = VB_PT_INT, .def = "8", .min = 2, .max = 256, .flags = VB_PF_GRID | VB_PF_PRIMARY,
     .help = "cell side in pixels"},
    {.name = "norm", .type = VB_PT_ENUM, .def = "sqrt", .choices = "sqrt|l1|l2|none",
     .help = "per cell: sqrt = VLFeat's sqrt(h/|h|_1); l1 = h/|h|_1; l2 = h/|h|_2; none = the weighted counts"},
};

enum { LBP_SQRT, LBP_L1, LBP_L2, LBP_NONE };

typedef struct lbp_state {
    vb_shape in;
    size_t cell, cw, ch, bins;
    int norm;
    float *mass; /* cw * ch: total bilinear weight of each cell */
} lbp_state;

static void lbp_destroy(void *state)
{
    lbp_state *s = state;
    if (!s)
        return;
    free(s->mass);
    free(s);
}

/* The weight each cell receives from the interior pixels, with vl_lbp's
 * bilinear rule (cell centres at (c + 0.5) * cell). */
static void cell_mass(lbp_state *s)
{
    size_t W = (size_t)s->in.w, H = (size_t)s->in.h, cw = s->cw, ch = s->ch;
    float cs = (float)s->cell;
    memset(s->mass, 0, cw * ch * sizeof *s->mass);
    for (size_t y = 1; y + 1 < H; y++) {
        float wy1 = (float)y / cs - 0.5f;
        int cy1 = (int)floorf(wy1), cy2 = cy1 + 1;
        float wy2 = wy1 - (float)cy1;
        wy1 = 1.0f - wy2;
        if (cy1 >= (int)ch)
            continue;
        for (size_t x = 1; x + 1 < W; x++) {
            float wx1 = (float)x / cs - 0.5f;
            int cx1 = (int)floorf(wx1), cx2 = cx1 + 1;
            float wx2 = wx1 - (float)cx1;
            wx1 = 1.0f - wx2;
            if (cx1 >= (int)cw)
                continue;
            if (cx1 >= 0 && cy1 >= 0)
                s->mass[(size_t)cy1 * cw + (size_t)cx1] += wx1 * wy1;
            if (cx2 < (int)cw && cy1 >= 0)
                s->mass[(size_t)cy1 * cw + (size_t)cx2] += wx2 * wy1;
            if (cx1 >= 0 && cy2 < (int)ch)
                s->mass[(size_t)cy2 * cw + (size_t)cx1] += wx1 * wy2;
            if (cx2 < (int)cw && cy2 < (int)ch)
                s->mass[(size_t)cy2 * cw + (size_t)cx2] += wx2 * wy2;
        }
    }
}

static vb_status lbp_create(const vb_params *p, vb_shape in, void **state, vb_error *err)
{
    size_t cell = (size_t)vb_param_int(p, "cell");
    if ((size_t)in.w < cell || (size_t)in.h < cell)
        return vb_param_fail(p, "cell", err, "lbp: cell %zu is larger than the %dx%d images", cell, in.w, in.h);
    lbp_state *s = vb_calloc(1, sizeof *s, err);
    if (!s)
        return VB_ERR_NOMEM;
    s->in = in;
    s->cell = cell;
    s->cw = (size_t)in.w / cell;
    s->ch = (size_t)in.h / cell;
    const char *nm = vb_param_str(p, "norm");
    s->norm = !strcmp(nm, "l1") ? LBP_L1 : !strcmp(nm, "l2") ? LBP_L2 : !strcmp(nm, "none") ? LBP_NONE : LBP_SQRT;
    VlLbp *l = vl_lbp_new(VlLbpUniform, VL_FALSE);
    s->mass = vb_malloc(s->cw * s->ch, sizeof *s->mass, err);
    if (!l || !s->mass) {
        if (l)
            vl_lbp_delete(l);
        lbp_destroy(s);
        return vb_fail(err, VB_ERR_NOMEM, "out of memory");
    }
    s->bins = vl_lbp_get_dimension(l);
    vl_lbp_delete(l);
    cell_mass(s);
    *state = s;
    return VB_OK;
}

static size_t lbp_dim(const void *state)
{
    const lbp_state *s = state;
    return s->cw * s->ch * s->bins;
}

typedef struct lbp_scratch {
    VlLbp *lbp;
    float *grey;
} lbp_scratch;

static void lbp_scratch_free(void *scratch)
{
    lbp_scratch *sc = scratch;
    if (!sc)
        return;
    if (sc->lbp)
        vl_lbp_delete(sc->lbp);
    free(sc->grey);
    free(sc);
}

static void *lbp_scratch_new(const void *state)
{
    const lbp_state *s = state;
    lbp_scratch *sc = calloc(1, sizeof *sc);
    if (!sc)
        return NULL;
    sc->lbp = vl_lbp_new(VlLbpUniform, VL_FALSE);
    sc->grey = malloc((size_t)s->in.w * (size_t)s->in.h * sizeof *sc->grey);
    if (!sc->lbp || !sc->grey) {
        lbp_scratch_free(sc);
        return NULL;
    }
    return sc;
}

static vb_status lbp_extract(const void *state, void *scratch, const vb_image *img, float *out, vb_error *err)
{
    const lbp_state *s = state;
    lbp_scratch *sc = scratch;
    if (!sc)
        return vb_fail(err, VB_ERR_NOMEM, "out of memory");
    size_t px = (size_t)s->in.w * (size_t)s->in.h, cells = s->cw * s->ch;
    if (img->c == 3) {
        const float *r = img->data, *g = r + px, *b = g + px;
        for (size_t i = 0; i < px; i++)
            sc->grey[i] = 0.299f * r[i] + 0.587f * g[i] + 0.114f * b[i];
    } else
        memcpy(sc->grey, img->data, px * sizeof *sc->grey);
    /* vl_lbp_process accumulates into its output */
    memset(out, 0, lbp_dim(s) * sizeof *out);
    vl_lbp_process(sc->lbp, out, sc->grey, (vl_size)s->in.w, (vl_size)s->in.h, (vl_size)s->cell);
    if (s->norm == LBP_SQRT)
        return VB_OK;
    /* layout: bins planes of ch x cw cells */
    for (size_t c = 0; c < cells; c++) {
        double sq = 0;
        for (size_t k = 0; k < s->bins; k++) {
            float *v = out + k * cells + c;
            *v = *v * *v;
            sq += (double)*v * *v;
        }
        double f = s->norm == LBP_NONE ? s->mass[c] : s->norm == LBP_L2 ? (sq > 0 ? 1.0 / sqrt(sq) : 0) : 1.0;
        if (f != 1.0)
            for (size_t k = 0; k < s->bins; k++)
                out[k * cells + c] = (float)(out[k * cells + c] * f);
    }
    return VB_OK;
}

const vb_extractor_vt vb_ext_lbp = {
    .info = {.name = "lbp",
             .help = "uniform local binary patterns (VLFeat vl_lbp): 58-bin histograms per cell",
             .doc = "Colour: computed on the luma (0.299 R + 0.587 G + 0.114 B). Output: 58 x floor(h/cell) x "
                    "floor(w/cell) values, as VLFeat lays them out (one plane of cells per pattern). Pixels vote "
                    "bilinearly into the four nearest cells; the border pixels have no pattern.",
             .params = lbp_params,
             .n_params = sizeof lbp_params / sizeof lbp_params[0]},
    .create = lbp_create,
    .dim = lbp_dim,
    .scratch_new = lbp_scratch_new,
    .scratch_free = lbp_scratch_free,
    .extract = lbp_extract,
    .destroy = lbp_destroy,
};
