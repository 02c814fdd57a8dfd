/* A pipeline's whole grid: its feature variants (every combination of the
 * listed values of its preprocessing, extractor and post-processing
 * parameters) times its classifier's grid points.
 *
 * A variant is the pipeline with each of those parameters at one value;
 * its feature configuration (vb_featpipe_key) names one extraction, which
 * the runner's feature cache computes once per fold for every variant and
 * every pipeline that has it. Variant v counts in mixed radix over the
 * parameter sets in pipeline order (preprocessing ops, extractors,
 * post-processing steps), the first set varying slowest, as the points of
 * one set do (vb_params_grid_point). */
#include "visbench/pipeline.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void vb_pipeline_param_sets(const vb_spec_pipeline *sp, int with_clf, vb_param_sets *s)
{
    s->n = 0;
    for (size_t i = 0; i < sp->prep.n && s->n < VB_PIPELINE_MAX_STEPS; i++, s->n++) {
        s->p[s->n] = &sp->prep.params[i];
        s->owner[s->n] = sp->prep.vt[i]->info.name;
    }
    for (size_t i = 0; i < sp->n_ext && s->n < VB_PIPELINE_MAX_STEPS; i++, s->n++) {
        s->p[s->n] = &sp->ext_params[i];
        s->owner[s->n] = sp->ext[i]->info.name;
    }
    for (size_t i = 0; i < sp->n_post && s->n < VB_PIPELINE_MAX_STEPS; i++, s->n++) {
        s->p[s->n] = &sp->post_params[i];
        s->owner[s->n] = sp->post[i]->info.name;
    }
    if (with_clf) {
        s->p[s->n] = &sp->clf_params;
        s->owner[s->n++] = sp->clf->info.name;
    }
}

size_t vb_pipeline_variants(const vb_spec_pipeline *sp)
{
    vb_param_sets s;
    vb_pipeline_param_sets(sp, 0, &s);
    size_t n = 1;
    for (size_t i = 0; i < s.n; i++)
        n *= vb_params_grid_size(s.p[i]);
    return n;
}

/* The point of set i at variant v. */
static size_t point_of(const vb_param_sets *s, size_t i, size_t v)
{
    size_t stride = 1;
    for (size_t j = s->n; j-- > i + 1;)
        stride *= vb_params_grid_size(s->p[j]);
    return (v / stride) % vb_params_grid_size(s->p[i]);
}

void vb_pipeline_variant_free(vb_spec_pipeline *v)
{
    if (v->owns_clf)
        vb_params_free(&v->clf_params);
    vb_prep_chain_free(&v->prep);
    for (size_t i = 0; v->ext_params && i < v->n_ext; i++)
        vb_params_free(&v->ext_params[i]);
    free(v->ext_params);
    for (size_t i = 0; v->post_params && i < v->n_post; i++)
        vb_params_free(&v->post_params[i]);
    free(v->post_params);
    memset(v, 0, sizeof *v);
}

/* How a derived pipeline's parameters are chosen: set `set` (in the order
 * of vb_pipeline_param_sets, the classifier last) of sp to one value each. */
typedef vb_status (*pick_fn)(const vb_params *p, size_t set, void *ctx, vb_params *out, vb_error *err);

/* sp with every preprocessing, extractor and post-processing parameter set
 * picked, and with with_clf the classifier's too (then out owns them and
 * searches nothing further). */
static vb_status derive(const vb_spec_pipeline *sp, pick_fn pick, void *ctx, int with_clf, vb_spec_pipeline *out,
                        vb_error *err)
{
    *out = *sp; /* name, plug-ins and tune block shared with sp; the classifier too without with_clf */
    vb_prep_chain_init(&out->prep);
    out->ext_params = NULL;
    out->post_params = NULL;
    out->owns_clf = 0;
    if (with_clf) {
        memset(&out->clf_params, 0, sizeof out->clf_params);
        memset(&out->search, 0, sizeof out->search); /* one point */
    }
    size_t set = 0;
    vb_status st = VB_OK;
    for (size_t i = 0; st == VB_OK && i < sp->prep.n; i++, set++) {
        vb_params p;
        if ((st = pick(&sp->prep.params[i], set, ctx, &p, err)) == VB_OK) {
            st = vb_prep_chain_add(&out->prep, sp->prep.vt[i], &p, err);
            vb_params_free(&p);
        }
    }
    if (st == VB_OK && sp->n_ext && !(out->ext_params = vb_calloc(sp->n_ext, sizeof *out->ext_params, err)))
        st = VB_ERR_NOMEM;
    for (size_t i = 0; st == VB_OK && i < sp->n_ext; i++, set++)
        st = pick(&sp->ext_params[i], set, ctx, &out->ext_params[i], err);
    if (st == VB_OK && sp->n_post && !(out->post_params = vb_calloc(sp->n_post, sizeof *out->post_params, err)))
        st = VB_ERR_NOMEM;
    for (size_t i = 0; st == VB_OK && i < sp->n_post; i++, set++)
        st = pick(&sp->post_params[i], set, ctx, &out->post_params[i], err);
    if (st == VB_OK && with_clf && (st = pick(&sp->clf_params, set, ctx, &out->clf_params, err)) == VB_OK)
        out->owns_clf = 1;
    if (st != VB_OK)
        vb_pipeline_variant_free(out);
    return st;
}

typedef struct variant_pick {
    vb_param_sets s;
    size_t v;
} variant_pick;

static vb_status pick_variant(const vb_params *p, size_t set, void *ctx, vb_params *out, vb_error *err)
{
    const variant_pick *vp = ctx;
    return vb_params_grid_point(p, point_of(&vp->s, set, vp->v), out, err);
}

vb_status vb_pipeline_variant(const vb_spec_pipeline *sp, size_t v, vb_spec_pipeline *out, vb_error *err)
{
    variant_pick vp = {.v = v};
    vb_pipeline_param_sets(sp, 0, &vp.s);
    return derive(sp, pick_variant, &vp, 0, out, err);
}

void vb_pipeline_variant_describe(const vb_spec_pipeline *sp, size_t v, vb_buf *b)
{
    vb_param_sets s;
    vb_pipeline_param_sets(sp, 0, &s);
    int first = 1;
    for (size_t i = 0; i < s.n; i++)
        vb_params_grid_describe_as(s.p[i], point_of(&s, i, v), s.owner[i], &first, b);
}

size_t vb_pipeline_variant_edges(const vb_spec_pipeline *sp, size_t v, char names[][96], size_t max)
{
    vb_param_sets s;
    vb_pipeline_param_sets(sp, 0, &s);
    size_t n = 0;
    for (size_t i = 0; i < s.n && n < max; i++) {
        const char *e[16];
        size_t k = vb_params_grid_edges(s.p[i], point_of(&s, i, v), e, 16);
        for (size_t j = 0; j < k && n < max; j++)
            snprintf(names[n++], 96, "%s.%s", s.owner[i], e[j]);
    }
    return n;
}

/* ---- random search ------------------------------------------------------- */

size_t vb_pipeline_random(const vb_spec_pipeline *sp)
{
    return sp->search.plugin ? (size_t)vb_param_int(&sp->search, "random") : 0;
}

size_t vb_pipeline_points(const vb_spec_pipeline *sp)
{
    if (vb_spec_is_ensemble(sp))
        return 1; /* nothing to tune: its members tuned themselves */
    size_t r = vb_pipeline_random(sp);
    return r ? r : vb_pipeline_variants(sp) * vb_params_grid_size(&sp->clf_params);
}

static vb_status pick_draw(const vb_params *p, size_t set, void *ctx, vb_params *out, vb_error *err)
{
    (void)set;
    return vb_params_draw(p, ctx, out, err);
}

vb_status vb_pipeline_draw(const vb_spec_pipeline *sp, uint64_t seed, size_t i, vb_spec_pipeline *out,
                           vb_error *err)
{
    char label[96];
    snprintf(label, sizeof label, "search:%s", sp->name);
    vb_rng *rng = vb_rng_new(vb_seed_derive(seed, label, i));
    if (!rng) {
        memset(out, 0, sizeof *out);
        return vb_fail(err, VB_ERR_NOMEM, "out of memory");
    }
    vb_status st = derive(sp, pick_draw, rng, 1, out, err);
    vb_rng_free(rng);
    return st;
}

size_t vb_pipeline_candidates(const vb_spec_pipeline *sp)
{
    size_t r = vb_pipeline_random(sp);
    return r ? r : vb_pipeline_variants(sp);
}

vb_status vb_pipeline_candidate(const vb_spec_pipeline *sp, uint64_t seed, size_t i, vb_spec_pipeline *out,
                                vb_buf *text, vb_error *err)
{
    int random = vb_pipeline_random(sp) > 0;
    vb_status st = random ? vb_pipeline_draw(sp, seed, i, out, err) : vb_pipeline_variant(sp, i, out, err);
    if (st != VB_OK || !text)
        return st;
    if (random)
        vb_pipeline_draw_describe(sp, out, text);
    else
        vb_pipeline_variant_describe(sp, i, text);
    if (text->failed) {
        vb_pipeline_variant_free(out);
        return vb_fail(err, VB_ERR_NOMEM, "out of memory");
    }
    return VB_OK;
}

/* The parameter sets of sp and of its draw d, side by side (the classifier
 * last). */
static size_t paired_sets(const vb_spec_pipeline *sp, const vb_spec_pipeline *d, vb_param_sets *a, vb_param_sets *b)
{
    vb_pipeline_param_sets(sp, 1, a);
    vb_pipeline_param_sets(d, 1, b);
    a->owner[a->n - 1] = NULL; /* the classifier's names stand alone, as in a grid */
    return a->n;
}

void vb_pipeline_draw_describe(const vb_spec_pipeline *sp, const vb_spec_pipeline *drawn, vb_buf *b)
{
    vb_param_sets a, d;
    size_t n = paired_sets(sp, drawn, &a, &d);
    int first = 1;
    for (size_t i = 0; i < n; i++)
        vb_params_draw_describe(a.p[i], d.p[i], a.owner[i], &first, b);
}

size_t vb_pipeline_draw_edges(const vb_spec_pipeline *sp, const vb_spec_pipeline *drawn, char names[][96],
                              size_t max)
{
    vb_param_sets a, d;
    size_t n = paired_sets(sp, drawn, &a, &d), m = 0;
    for (size_t i = 0; i < n && m < max; i++) {
        const char *e[16];
        size_t k = vb_params_draw_edges(a.p[i], d.p[i], e, 16);
        for (size_t j = 0; j < k && m < max; j++)
            snprintf(names[m++], 96, "%s%s%s", a.owner[i] ? a.owner[i] : "", a.owner[i] ? "." : "", e[j]);
    }
    return m;
}
