/* Preprocessing ops and chains. */
#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- grayscale / rgb --------------------------------------------------- */

static vb_status gray_shape(const vb_params *p, vb_shape in, vb_shape *out, vb_error *err)
{
    *out = in;
    out->c = 1;
    return VB_OK;
}

static vb_status gray_apply(const vb_params *p, const vb_image *in, vb_image *out, vb_error *err)
{
    return vb_image_to_gray(in, out, err);
}

static const vb_prep_vt prep_grayscale = {
    .info = {.name = "grayscale", .help = "convert to one grey channel (BT.601 luma); grey images pass through"},
    .shape = gray_shape,
    .apply = gray_apply,
};

static vb_status rgb_shape(const vb_params *p, vb_shape in, vb_shape *out, vb_error *err)
{
    *out = in;
    out->c = 3;
    return VB_OK;
}

static vb_status rgb_apply(const vb_params *p, const vb_image *in, vb_image *out, vb_error *err)
{
    return vb_image_to_rgb(in, out, err);
}

static const vb_prep_vt prep_rgb = {
    .info = {.name = "rgb", .help = "convert to three channels (grey is replicated); RGB images pass through"},
    .shape = rgb_shape,
    .apply = rgb_apply,
};

/* ---- resize ------------------------------------------------------------ */

static const vb_param_def resize_params[] = {
    {.name = "size", .type = VB_PT_INTS, .flags = VB_PF_PRIMARY | VB_PF_REQUIRED, .min = 1, .max = 8192,
     .min_len = 2, .max_len = 2, .help = "[width, height] in pixels (one number for a square)"},
};

static vb_status resize_shape(const vb_params *p, vb_shape in, vb_shape *out, vb_error *err)
{
    size_t n;
    const double *s = vb_param_list(p, "size", &n);
    *out = in;
    out->w = (int)s[0];
    out->h = (int)s[1];
    return VB_OK;
}

static vb_status resize_apply(const vb_params *p, const vb_image *in, vb_image *out, vb_error *err)
{
    size_t n;
    const double *s = vb_param_list(p, "size", &n);
    return vb_image_resize(in, (int)s[0], (int)s[1], out, err);
}

static const vb_prep_vt prep_resize = {
    .info = {.name = "resize",
             .help = "resample to a fixed size (stb_image_resize: Mitchell down, Catmull-Rom up)",
             .params = resize_params,
             .n_params = 1},
    .shape = resize_shape,
    .apply = resize_apply,
};

/* ---- crop -------------------------------------------------------------- */

static const vb_param_def crop_params[] = {
    {.name = "size", .type = VB_PT_INTS, .flags = VB_PF_PRIMARY | VB_PF_REQUIRED, .min = 1, .max = 8192,
     .min_len = 2, .max_len = 2, .help = "[width, height] of the centred window kept"},
};

static vb_status crop_shape(const vb_params *p, vb_shape in, vb_shape *out, vb_error *err)
{
    size_t n;
    const double *s = vb_param_list(p, "size", &n);
    if (in.w && ((int)s[0] > in.w || (int)s[1] > in.h))
        return vb_param_fail(p, "size", err, "crop %dx%d is larger than the %dx%d images; resize first",
                             (int)s[0], (int)s[1], in.w, in.h);
    *out = in;
    out->w = (int)s[0];
    out->h = (int)s[1];
    return VB_OK;
}

static vb_status crop_apply(const vb_params *p, const vb_image *in, vb_image *out, vb_error *err)
{
    size_t n;
    const double *s = vb_param_list(p, "size", &n);
    int w = (int)s[0], h = (int)s[1];
    if (w > in->w || h > in->h)
        return vb_fail(err, VB_ERR_DATA, "crop %dx%d is larger than a %dx%d image; resize first", w, h, in->w, in->h);
    vb_status st = vb_image_reshape(out, w, h, in->c, err);
    if (st != VB_OK)
        return st;
    int x0 = (in->w - w) / 2, y0 = (in->h - h) / 2;
    for (int c = 0; c < in->c; c++)
        for (int y = 0; y < h; y++)
            memcpy(vb_image_plane(out, c) + (size_t)y * w, vb_image_plane(in, c) + (size_t)(y + y0) * in->w + x0,
                   (size_t)w * sizeof(float));
    return VB_OK;
}

static const vb_prep_vt prep_crop = {
    .info = {.name = "crop", .help = "keep the centred window of the given size", .params = crop_params, .n_params = 1},
    .shape = crop_shape,
    .apply = crop_apply,
};

/* ---- normalize --------------------------------------------------------- */

static const vb_param_def norm_params[] = {
    {.name = "method", .type = VB_PT_ENUM, .def = "zscore", .choices = "zscore|minmax", .flags = VB_PF_PRIMARY,
     .help = "per image: zscore = zero mean, unit variance over all pixels; minmax = stretch to [0, 1]"},
};

vb_status vb_prep_same_shape(const vb_params *p, vb_shape in, vb_shape *out, vb_error *err)
{
    *out = in;
    return VB_OK;
}

vb_status vb_prep_method_only(const vb_params *p, const char *param, const char *method, vb_error *err)
{
    if (vb_param_is_default(p, param))
        return VB_OK;
    return vb_param_fail(p, param, err, "applies to method: %s only (this is method: %s); remove it", method,
                         vb_param_str(p, "method"));
}

static vb_status norm_apply(const vb_params *p, const vb_image *in, vb_image *out, vb_error *err)
{
    vb_status st = vb_image_reshape(out, in->w, in->h, in->c, err);
    if (st != VB_OK)
        return st;
    size_t n = (size_t)in->w * (size_t)in->h * (size_t)in->c;
    if (vb_param_is(p, "method", "minmax")) {
        float lo = in->data[0], hi = in->data[0];
        for (size_t i = 1; i < n; i++) {
            lo = in->data[i] < lo ? in->data[i] : lo;
            hi = in->data[i] > hi ? in->data[i] : hi;
        }
        float s = hi > lo ? 1.0f / (hi - lo) : 0.0f;
        for (size_t i = 0; i < n; i++)
            out->data[i] = (in->data[i] - lo) * s;
        return VB_OK;
    }
    double sum = 0, sq = 0;
    for (size_t i = 0; i < n; i++)
        sum += in->data[i];
    double mean = sum / (double)n;
    for (size_t i = 0; i < n; i++)
        sq += (in->data[i] - mean) * (in->data[i] - mean);
    double sd = sqrt(sq / (double)n);
    float s = sd > 1e-12 ? (float)(1.0 / sd) : 0.0f;
    for (size_t i = 0; i < n; i++)
        out->data[i] = (float)(in->data[i] - mean) * s;
    return VB_OK;
}

static const vb_prep_vt prep_normalize = {
    .info = {.name = "normalize", .help = "per-image intensity normalisation (zscore or minmax)",
             .params = norm_params, .n_params = 1},
    .shape = vb_prep_same_shape,
    .apply = norm_apply,
};

/* ---- registry and chains ----------------------------------------------- */

static const vb_prep_vt *const registry[] = {&prep_grayscale,  &prep_rgb,      &prep_resize,
                                             &prep_crop,       &prep_normalize, &vb_prep_equalize,
                                             &vb_prep_blur,    &vb_prep_sharpen, &vb_prep_denoise};

const vb_prep_vt *const *vb_prep_registry(size_t *n)
{
    *n = sizeof registry / sizeof registry[0];
    return registry;
}

const vb_prep_vt *vb_prep_find(const char *name)
{
    return vb_plugin_find((const void *const *)registry, sizeof registry / sizeof registry[0], name);
}

void vb_prep_chain_init(vb_prep_chain *c) { memset(c, 0, sizeof *c); }

void vb_prep_chain_free(vb_prep_chain *c)
{
    for (size_t i = 0; i < c->n; i++)
        vb_params_free(&c->params[i]);
    free(c->params);
    free(c->vt);
    memset(c, 0, sizeof *c);
}

vb_status vb_prep_chain_add(vb_prep_chain *c, const vb_prep_vt *vt, const vb_params *params, vb_error *err)
{
    const vb_prep_vt **nv = realloc(c->vt, (c->n + 1) * sizeof *nv);
    if (!nv)
        return vb_fail(err, VB_ERR_NOMEM, "out of memory");
    c->vt = nv;
    vb_params *np = realloc(c->params, (c->n + 1) * sizeof *np);
    if (!np)
        return vb_fail(err, VB_ERR_NOMEM, "out of memory");
    c->params = np;
    vb_status st = vb_params_copy(&c->params[c->n], params, err);
    if (st != VB_OK)
        return st;
    c->vt[c->n++] = vt;
    return VB_OK;
}

vb_status vb_prep_chain_shape(const vb_prep_chain *c, vb_shape in, vb_shape *out, vb_error *err)
{
    vb_shape s = in;
    for (size_t i = 0; i < c->n; i++) {
        vb_shape next;
        vb_status st = c->vt[i]->shape(&c->params[i], s, &next, err);
        if (st != VB_OK)
            return st;
        s = next;
    }
    *out = s;
    return VB_OK;
}

vb_status vb_prep_chain_apply(const vb_prep_chain *c, const vb_image *src, vb_image *tmp1, vb_image *tmp2,
                              const vb_image **result, vb_error *err)
{
    const vb_image *cur = src;
    for (size_t i = 0; i < c->n; i++) {
        vb_image *dst = cur == tmp1 ? tmp2 : tmp1;
        vb_status st = c->vt[i]->apply(&c->params[i], cur, dst, err);
        if (st != VB_OK)
            return st;
        cur = dst;
    }
    *result = cur;
    return VB_OK;
}
