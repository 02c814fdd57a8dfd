/* Extractor and post-processing instances: the plug-in, its parameters and
 * its state, plus the registries' lookups. */
#include "visbench/features.h"

#include <stdlib.h>
#include <string.h>

/* create, or with a saved state restore */
static vb_status extractor_make(const vb_extractor_vt *vt, const vb_params *params, vb_shape in, vb_reader *state,
                                vb_extractor **out, vb_error *err)
{
    *out = NULL;
    if (in.w <= 0 || in.h <= 0)
        return vb_fail(err, VB_ERR_SPEC,
                       "feature '%s' needs images of one size, but the sizes vary; add {resize: [w, h]} to "
                       "preprocess",
                       vt->info.name);
    vb_extractor *x = vb_calloc(1, sizeof *x, err);
    if (!x)
        return VB_ERR_NOMEM;
    x->vt = vt;
    x->in = in;
    vb_status st = vb_params_copy(&x->params, params, err);
    if (st == VB_OK)
        st = state ? vt->restore(&x->params, in, state, &x->state, err) : vt->create(&x->params, in, &x->state, err);
    if (st != VB_OK) {
        vb_extractor_free(x);
        return st;
    }
    x->dim = vt->dim(x->state);
    *out = x;
    return VB_OK;
}

vb_status vb_extractor_new(const vb_extractor_vt *vt, const vb_params *params, vb_shape in, vb_extractor **out,
                           vb_error *err)
{
    return extractor_make(vt, params, in, NULL, out, err);
}

vb_status vb_extractor_restore(const vb_extractor_vt *vt, const vb_params *params, vb_shape in, vb_reader *state,
                               vb_extractor **out, vb_error *err)
{
    if (!vt->restore) {
        *out = NULL;
        return vb_fail(err, VB_ERR_INTERNAL, "extractor '%s' cannot be restored from its state alone", vt->info.name);
    }
    return extractor_make(vt, params, in, state, out, err);
}

void vb_extractor_free(vb_extractor *x)
{
    if (!x)
        return;
    if (x->state)
        x->vt->destroy(x->state);
    vb_params_free(&x->params);
    free(x);
}

vb_status vb_post_new(const vb_post_vt *vt, const vb_params *params, size_t dim_in, vb_post **out, vb_error *err)
{
    *out = NULL;
    vb_post *p = vb_calloc(1, sizeof *p, err);
    if (!p)
        return VB_ERR_NOMEM;
    p->vt = vt;
    p->dim_in = dim_in;
    vb_status st = vb_params_copy(&p->params, params, err);
    if (st == VB_OK)
        st = vt->create(&p->params, dim_in, &p->state, err);
    if (st != VB_OK) {
        vb_post_free(p);
        return st;
    }
    p->dim = vt->dim(p->state);
    *out = p;
    return VB_OK;
}

void vb_post_free(vb_post *p)
{
    if (!p)
        return;
    if (p->state)
        p->vt->destroy(p->state);
    vb_params_free(&p->params);
    free(p);
}

/* ---- registries: one line per plug-in ---------------------------------- */

extern const vb_extractor_vt vb_ext_raw, vb_ext_hog, vb_ext_gabor, vb_ext_haar, vb_ext_edges;
extern const vb_extractor_vt vb_ext_sift, vb_ext_lbp, vb_ext_color, vb_ext_cnn;
extern const vb_post_vt vb_post_standardize, vb_post_l2;
extern const vb_post_vt vb_post_pca, vb_post_power, vb_post_homkermap;

static const vb_extractor_vt *const extractors[] = {
    &vb_ext_raw,
    &vb_ext_hog,
    &vb_ext_gabor,
    &vb_ext_haar,
    &vb_ext_edges,
    &vb_ext_sift,
    &vb_ext_lbp,
    &vb_ext_color,
    &vb_ext_cnn,
};

static const vb_post_vt *const posts[] = {
    &vb_post_standardize,
    &vb_post_l2,
    &vb_post_pca,
    &vb_post_power,
    &vb_post_homkermap,
};

const vb_extractor_vt *const *vb_extractor_registry(size_t *n)
{
    *n = sizeof extractors / sizeof extractors[0];
    return extractors;
}

const vb_extractor_vt *vb_extractor_find(const char *name)
{
    return vb_plugin_find((const void *const *)extractors, sizeof extractors / sizeof extractors[0], name);
}

const vb_post_vt *const *vb_post_registry(size_t *n)
{
    *n = sizeof posts / sizeof posts[0];
    return posts;
}

const vb_post_vt *vb_post_find(const char *name)
{
    return vb_plugin_find((const void *const *)posts, sizeof posts / sizeof posts[0], name);
}
