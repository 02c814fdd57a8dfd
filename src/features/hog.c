/* hog: histograms of oriented gradients through VLFeat's vl_hog.
 * Output: for each of ceil-rounded (w / cell) x (h / cell) cells, 31 values
 * (UoCTTI: 2*o signed + o unsigned orientation bins + 4 texture energies,
 * for o = 9) or 4*o values (Dalal-Triggs), cell-major planes as VLFeat
 * returns them. */
#include "visbench/features.h"

#include <stdlib.h>
#include <string.h>
#include <vl/hog.h>

static const vb_param_def hog_params[] = {
    {.name = "cell", .type = VB_PT_INT, .def = "8", .min = 1, .max = 256, .flags = VB_PF_GRID,
     .help = "cell side in pixels"},
    {.name = "orientations", .type = VB_PT_INT, .def = "9", .min = 2, .max = 36, .flags = VB_PF_GRID,
     .help = "orientation bins over 180 degrees"},
    {.name = "variant", .type = VB_PT_ENUM, .def = "uoctti", .choices = "uoctti|dalaltriggs",
     .help = "uoctti: 3o+4 values per cell (signed, unsigned, energies); dalaltriggs: 4o per cell"},
    {.name = "bilinear", .type = VB_PT_BOOL, .def = "false",
     .help = "split each gradient between the two nearest orientation bins"},
};

typedef struct hog_state {
    vb_shape in;
    int cell, orientations, bilinear;
    VlHogVariant variant;
    size_t cells_w, cells_h, per_cell;
} hog_state;

static vb_status hog_create(const vb_params *p, vb_shape in, void **state, vb_error *err)
{
    int cell = (int)vb_param_int(p, "cell");
    size_t cw = ((size_t)in.w + (size_t)cell / 2) / (size_t)cell, ch = ((size_t)in.h + (size_t)cell / 2) / (size_t)cell;
    if (cw == 0 || ch == 0)
        return vb_param_fail(p, "cell", err, "cell %d is too large for %dx%d images", cell, in.w, in.h);
    hog_state *s = vb_calloc(1, sizeof *s, err);
    if (!s)
        return VB_ERR_NOMEM;
    s->in = in;
    s->cell = cell;
    s->orientations = (int)vb_param_int(p, "orientations");
    s->bilinear = vb_param_bool(p, "bilinear");
    s->variant = vb_param_is(p, "variant", "dalaltriggs") ? VlHogVariantDalalTriggs : VlHogVariantUoctti;
    s->cells_w = cw;
    s->cells_h = ch;
    VlHog *h = vl_hog_new(s->variant, (vl_size)s->orientations, VL_FALSE);
    if (!h) {
        free(s);
        return vb_fail(err, VB_ERR_NOMEM, "out of memory");
    }
    s->per_cell = vl_hog_get_dimension(h);
    vl_hog_delete(h);
    *state = s;
    return VB_OK;
}

static size_t hog_dim(const void *state)
{
    const hog_state *s = state;
    return s->cells_w * s->cells_h * s->per_cell;
}

static void *hog_scratch_new(const void *state)
{
    const hog_state *s = state;
    VlHog *h = vl_hog_new(s->variant, (vl_size)s->orientations, VL_FALSE);
    if (h)
        vl_hog_set_use_bilinear_orientation_assignments(h, s->bilinear ? VL_TRUE : VL_FALSE);
    return h;
}

static void hog_scratch_free(void *scratch) { vl_hog_delete(scratch); }

static vb_status hog_extract(const void *state, void *scratch, const vb_image *img, float *out, vb_error *err)
{
    const hog_state *s = state;
    VlHog *h = scratch;
    if (!h)
        return vb_fail(err, VB_ERR_NOMEM, "out of memory");
    vl_hog_put_image(h, img->data, (vl_size)img->w, (vl_size)img->h, (vl_size)img->c, (vl_size)s->cell);
    vl_hog_extract(h, out);
    return VB_OK;
}

static void hog_destroy(void *state) { free(state); }

const vb_extractor_vt vb_ext_hog = {
    .info = {.name = "hog",
             .help = "histograms of oriented gradients (VLFeat vl_hog, UoCTTI or Dalal-Triggs)",
             .doc = "Colour: at each pixel the gradient of the channel with the largest magnitude is used. "
                    "Output: round(w/cell) x round(h/cell) cells x (3*orientations+4 for uoctti, "
                    "4*orientations for dalaltriggs) values.",
             .params = hog_params,
             .n_params = sizeof hog_params / sizeof hog_params[0]},
    .create = hog_create,
    .dim = hog_dim,
    .scratch_new = hog_scratch_new,
    .scratch_free = hog_scratch_free,
    .extract = hog_extract,
    .destroy = hog_destroy,
};
