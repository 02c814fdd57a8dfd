/* Feature pipelines (preprocessing + extractors) and post-processing chains. */
#include "visbench/pipeline.h"

#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

static vb_status dataset_get(const vb_imgsrc *src, size_t i, vb_image *dst, vb_error *err)
{
    const vb_dataset_view *v = src->ctx;
    return vb_dataset_image(v->ds, v->idx ? v->idx[i] : i, dst, err);
}

void vb_imgsrc_dataset(vb_imgsrc *src, vb_dataset_view *view, const vb_dataset *ds, const size_t *idx, size_t n)
{
    view->ds = ds;
    view->idx = idx;
    src->n = n;
    src->get = dataset_get;
    src->ctx = view;
}

void vb_featpipe_free(vb_featpipe *fp)
{
    if (!fp)
        return;
    for (size_t i = 0; i < fp->n_ext; i++)
        vb_extractor_free(fp->ext[i]);
    free(fp->ext);
    free(fp->offset);
    vb_prep_chain_free(&fp->prep);
    free(fp);
}

/* states (NULL: none): a reader over each extractor's saved state, for
 * those that restore from it (vt->restore). */
static vb_status featpipe_make(const vb_spec_pipeline *sp, vb_shape in, vb_reader *states, vb_featpipe **out,
                               vb_error *err)
{
    *out = NULL;
    vb_featpipe *fp = vb_calloc(1, sizeof *fp, err);
    if (!fp)
        return VB_ERR_NOMEM;
    vb_prep_chain_init(&fp->prep);
    vb_status st = VB_OK;
    for (size_t i = 0; i < sp->prep.n && st == VB_OK; i++)
        st = vb_prep_chain_add(&fp->prep, sp->prep.vt[i], &sp->prep.params[i], err);
    if (st == VB_OK)
        st = vb_prep_chain_shape(&fp->prep, in, &fp->shape, err);
    if (st == VB_OK) {
        fp->ext = vb_calloc(sp->n_ext, sizeof *fp->ext, err);
        fp->offset = vb_calloc(sp->n_ext, sizeof *fp->offset, err);
        if (!fp->ext || !fp->offset)
            st = VB_ERR_NOMEM;
    }
    for (size_t i = 0; i < sp->n_ext && st == VB_OK; i++) {
        st = states && sp->ext[i]->restore
                 ? vb_extractor_restore(sp->ext[i], &sp->ext_params[i], fp->shape, &states[i], &fp->ext[i], err)
                 : vb_extractor_new(sp->ext[i], &sp->ext_params[i], fp->shape, &fp->ext[i], err);
        if (st == VB_OK) {
            fp->n_ext = i + 1;
            fp->offset[i] = fp->dim;
            fp->dim += fp->ext[i]->dim;
        }
    }
    if (st == VB_OK && fp->dim == 0)
        st = vb_fail(err, VB_ERR_SPEC, "pipeline '%s' extracts no features", sp->name);
    if (st != VB_OK) {
        if (err && err->status == VB_ERR_PARAM)
            vb_error_prefix(err, "pipeline '%s'", sp->name);
        vb_featpipe_free(fp);
        return st;
    }
    *out = fp;
    return VB_OK;
}

vb_status vb_featpipe_new(const vb_spec_pipeline *sp, vb_shape in, vb_featpipe **out, vb_error *err)
{
    return featpipe_make(sp, in, NULL, out, err);
}

vb_status vb_featpipe_new_saved(const vb_spec_pipeline *sp, vb_shape in, vb_reader *states, vb_featpipe **out,
                                vb_error *err)
{
    return featpipe_make(sp, in, states, out, err);
}

int vb_featpipe_needs_fit(const vb_featpipe *fp)
{
    for (size_t i = 0; i < fp->n_ext; i++)
        if (fp->ext[i]->vt->fit)
            return 1;
    return 0;
}

/* Preprocesses one raw image and conforms it to the pipeline's shape. */
static vb_status prepare(const vb_featpipe *fp, const vb_image *raw, vb_image *t1, vb_image *t2, vb_image *t3,
                         const vb_image **res, vb_error *err)
{
    const vb_image *img;
    vb_status st = vb_prep_chain_apply(&fp->prep, raw, t1, t2, &img, err);
    if (st != VB_OK)
        return st;
    if (img->c != fp->shape.c && fp->shape.c) {
        vb_image *dst = img == t1 ? t2 : t1;
        st = fp->shape.c == 1 ? vb_image_to_gray(img, dst, err) : vb_image_to_rgb(img, dst, err);
        if (st != VB_OK)
            return st;
        img = dst;
    }
    if ((img->w != fp->shape.w || img->h != fp->shape.h) && fp->shape.w > 0) {
        if ((st = vb_image_resize(img, fp->shape.w, fp->shape.h, t3, err)) != VB_OK)
            return st;
        img = t3;
    }
    *res = img;
    return VB_OK;
}

typedef struct prep_ctx {
    const vb_featpipe *fp;
    const vb_imgsrc *raw;
} prep_ctx;

/* An image source of preprocessed images, for fitting extractors. */
static vb_status prepped_get(const vb_imgsrc *src, size_t i, vb_image *dst, vb_error *err)
{
    const prep_ctx *c = src->ctx;
    vb_image raw = {0}, t1 = {0}, t2 = {0}, t3 = {0};
    const vb_image *img = NULL;
    vb_status st = c->raw->get(c->raw, i, &raw, err);
    if (st == VB_OK)
        st = prepare(c->fp, &raw, &t1, &t2, &t3, &img, err);
    if (st == VB_OK && (st = vb_image_reshape(dst, img->w, img->h, img->c, err)) == VB_OK)
        memcpy(dst->data, img->data, (size_t)img->w * img->h * img->c * sizeof(float));
    free(raw.data);
    free(t1.data);
    free(t2.data);
    free(t3.data);
    return st;
}

vb_status vb_featpipe_fit(vb_featpipe *fp, const vb_imgsrc *raw, uint64_t seed, vb_error *err)
{
    prep_ctx ctx = {fp, raw};
    vb_imgsrc src = {.n = raw->n, .get = prepped_get, .ctx = &ctx};
    for (size_t i = 0; i < fp->n_ext; i++) {
        vb_extractor *x = fp->ext[i];
        if (!x->vt->fit)
            continue;
        vb_status st = x->vt->fit(x->state, &src, vb_seed_derive(seed, x->vt->info.name, i), err);
        if (st != VB_OK)
            return st;
    }
    return VB_OK;
}

/* Does an extractor of fp take its images in batches? */
static int batched(const vb_featpipe *fp)
{
    for (size_t k = 0; k < fp->n_ext; k++)
        if (fp->ext[k]->vt->extract_batch)
            return 1;
    return 0;
}

static int thread_num(void)
{
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

/* Rows of raw's images, and with aug each image's `copies` augmented
 * copies: copy c (1-based) of image i is row c n + i, its draw seeded by
 * (seed, i, c). Images are taken in blocks: all at once, or VB_EXT_BATCH at
 * a time when an extractor batches (its call follows the block's parallel
 * loop, which prepares each image and its copies and runs the other
 * extractors; it then takes the block's images, copy by copy). */
static vb_status extract_rows(const vb_featpipe *fp, const vb_imgsrc *raw, const vb_augment *aug, int copies,
                              uint64_t seed, float *out, const char *stage, vb_error *err)
{
    const size_t n = raw->n, nk = fp->n_ext ? fp->n_ext : 1, nc = aug ? (size_t)copies + 1 : 1;
    const int batch = batched(fp);
    const size_t B = batch ? VB_EXT_BATCH : n ? n : 1;
#ifdef _OPENMP
    const size_t nthreads = (size_t)omp_get_max_threads();
#else
    const size_t nthreads = 1;
#endif
    size_t failed_at = (size_t)-1, done = 0;
    vb_error first = {0};
    int interrupted = 0;
    /* per-thread scratch of each extractor (kept across blocks), and a
     * block's prepared images for the batching extractors */
    void **scratch = calloc(nthreads * nk, sizeof *scratch);
    vb_image *blk = batch ? calloc(B * nc, sizeof *blk) : NULL;
    const vb_image **ptr = batch ? calloc(B * nc, sizeof *ptr) : NULL;
    if (!scratch || (batch && (!blk || !ptr))) {
        free(scratch);
        free(blk);
        free(ptr);
        return vb_fail(err, VB_ERR_NOMEM, "out of memory for extractor buffers");
    }
    vb_progress(stage, 0, n);
    for (size_t i0 = 0; i0 < n && failed_at == (size_t)-1 && !interrupted; i0 += B) {
        const size_t m = n - i0 < B ? n - i0 : B;
#pragma omp parallel
        {
            void **sc = scratch + (size_t)thread_num() * nk;
            vb_image img = {0}, t1 = {0}, t2 = {0}, t3 = {0}, moved = {0};
            int ok = 1;
            for (size_t k = 0; k < fp->n_ext; k++) {
                const vb_extractor *x = fp->ext[k];
                if (!sc[k] && x->vt->scratch_new && !x->vt->extract_batch && !(sc[k] = x->vt->scratch_new(x->state)))
                    ok = 0;
            }
            if (!ok) {
#pragma omp critical(vb_extract_err)
                if (failed_at == (size_t)-1 || i0 < failed_at) {
                    failed_at = i0;
                    vb_fail(&first, VB_ERR_NOMEM, "out of memory for extractor buffers");
                }
            }
#pragma omp for schedule(dynamic, batch ? 4 : 32)
            for (size_t i = i0; i < i0 + m; i++) {
                int stop;
#pragma omp atomic read
                stop = interrupted;
                if (!ok || stop)
                    continue;
                vb_error e = {0};
                const vb_image *pimg = NULL;
                vb_status st = raw->get(raw, i, &img, &e);
                if (st == VB_OK)
                    st = prepare(fp, &img, &t1, &t2, &t3, &pimg, &e);
                for (size_t c = 0; st == VB_OK && c < nc; c++) {
                    const vb_image *im = pimg;
                    if (c > 0) {
                        vb_aug_draw dr;
                        vb_rng *rng = vb_rng_new(vb_seed_derive(vb_seed_derive(seed, "augment-image", i), "copy",
                                                                (uint64_t)c));
                        if (!rng) {
                            st = vb_fail(&e, VB_ERR_NOMEM, "out of memory");
                            break;
                        }
                        vb_augment_draw(aug, rng, &dr);
                        vb_rng_free(rng);
                        if ((st = vb_augment_image(pimg, &dr, &moved, &e)) != VB_OK)
                            break;
                        im = &moved;
                    }
                    float *row = out + (c * n + i) * fp->dim;
                    size_t slot = c * B + (i - i0);
                    for (size_t k = 0; st == VB_OK && k < fp->n_ext; k++) {
                        const vb_extractor *x = fp->ext[k];
                        if (!x->vt->extract_batch)
                            st = x->vt->extract(x->state, sc[k], im, row + fp->offset[k], &e);
                        else if (!ptr[slot]) { /* keep the image for the block's batch */
                            vb_image *keep = &blk[slot];
                            st = vb_image_reshape(keep, im->w, im->h, im->c, &e);
                            if (st == VB_OK) {
                                memcpy(keep->data, im->data, (size_t)im->w * im->h * im->c * sizeof(float));
                                ptr[slot] = keep;
                            }
                        }
                    }
                }
                if (st != VB_OK) {
#pragma omp critical(vb_extract_err)
                    if (i < failed_at) {
                        failed_at = i;
                        first = e;
                    }
                }
                size_t d;
#pragma omp atomic capture
                d = ++done;
                if (thread_num() == 0) {
                    if (d % 256 == 0)
                        vb_progress(stage, d, n);
                    if (vb_interrupted()) {
#pragma omp atomic write
                        interrupted = 1;
                    }
                }
            }
            free(img.data);
            free(t1.data);
            free(t2.data);
            free(t3.data);
            free(moved.data);
        }
        for (size_t k = 0; batch && failed_at == (size_t)-1 && !interrupted && k < fp->n_ext; k++) {
            const vb_extractor *x = fp->ext[k];
            if (!x->vt->extract_batch)
                continue;
            for (size_t c = 0; c < nc && failed_at == (size_t)-1; c++) {
                vb_error e = {0};
                if (x->vt->extract_batch(x->state, ptr + c * B, m, out + (c * n + i0) * fp->dim + fp->offset[k],
                                         fp->dim, &e) != VB_OK) {
                    failed_at = i0;
                    first = e;
                }
            }
        }
        if (batch)
            memset(ptr, 0, B * nc * sizeof *ptr);
        if (vb_interrupted())
            interrupted = 1;
    }
    for (size_t t = 0; t < nthreads; t++)
        for (size_t k = 0; k < fp->n_ext; k++)
            if (scratch[t * nk + k])
                fp->ext[k]->vt->scratch_free(scratch[t * nk + k]);
    free(scratch);
    for (size_t i = 0; blk && i < B * nc; i++)
        free(blk[i].data);
    free(blk);
    free(ptr);
    /* thread 0 polls as it goes; a request it did not see (the others took
     * every image) still stops here, so an interrupt is never lost */
    if (interrupted || vb_interrupted())
        return vb_fail(err, VB_ERR_INTERRUPTED, "interrupted");
    if (failed_at != (size_t)-1) {
        if (err)
            *err = first;
        return first.status ? first.status : VB_ERR_INTERNAL;
    }
    vb_progress(stage, n, n);
    return VB_OK;
}

vb_status vb_featpipe_extract(const vb_featpipe *fp, const vb_imgsrc *raw, float *out, const char *stage,
                              vb_error *err)
{
    return extract_rows(fp, raw, NULL, 0, 0, out, stage, err);
}

vb_status vb_featpipe_extract_augmented(const vb_featpipe *fp, const vb_imgsrc *raw, const vb_augment *aug,
                                        int copies, uint64_t seed, float *out, const char *stage, vb_error *err)
{
    return extract_rows(fp, raw, aug, copies, seed, out, stage, err);
}

void vb_featpipe_describe(const vb_featpipe *fp, vb_buf *b)
{
    for (size_t i = 0; i < fp->n_ext; i++)
        vb_buf_printf(b, "%s%s %zu", i ? " + " : "", fp->ext[i]->vt->info.name, fp->ext[i]->dim);
}

/* A plug-in's parameters as configuration text, with the hash of each file
 * they name and the points of its grid when it lists values (without
 * either, the text is as it always was). */
static void params_key(const char *name, const vb_params *p, vb_buf *b)
{
    vb_buf_printf(b, " %s", name);
    vb_params_to_yaml(p, b);
    vb_params_files_key(p, b); /* the content of the files it names */
    size_t g = vb_params_grid_size(p);
    for (size_t i = 0; g > 1 && i < g; i++) {
        vb_buf_puts(b, i ? "; " : " grid: ");
        vb_params_grid_describe(p, i, b);
    }
}

void vb_featpipe_key(const vb_spec_pipeline *sp, vb_buf *b)
{
    vb_buf_puts(b, "prep:");
    for (size_t i = 0; i < sp->prep.n; i++)
        params_key(sp->prep.vt[i]->info.name, &sp->prep.params[i], b);
    vb_buf_puts(b, " features:");
    for (size_t i = 0; i < sp->n_ext; i++)
        params_key(sp->ext[i]->info.name, &sp->ext_params[i], b);
}

/* ---- post-processing chains -------------------------------------------- */

void vb_postchain_free(vb_postchain *pc)
{
    if (!pc)
        return;
    for (size_t i = 0; i < pc->n; i++)
        vb_post_free(pc->post[i]);
    free(pc->post);
    free(pc);
}

vb_status vb_postchain_new(const vb_spec_pipeline *sp, size_t dim_in, vb_postchain **out, vb_error *err)
{
    *out = NULL;
    vb_postchain *pc = vb_calloc(1, sizeof *pc, err);
    if (!pc)
        return VB_ERR_NOMEM;
    pc->dim_in = pc->dim = dim_in;
    pc->post = vb_calloc(sp->n_post ? sp->n_post : 1, sizeof *pc->post, err);
    vb_status st = pc->post ? VB_OK : VB_ERR_NOMEM;
    for (size_t i = 0; i < sp->n_post && st == VB_OK; i++) {
        st = vb_post_new(sp->post[i], &sp->post_params[i], pc->dim, &pc->post[i], err);
        if (st == VB_OK) {
            pc->n = i + 1;
            pc->dim = pc->post[i]->dim;
        }
    }
    if (st != VB_OK) {
        vb_postchain_free(pc);
        return st;
    }
    *out = pc;
    return VB_OK;
}

/* A step whose output size is only known once fitted (pca with a variance
 * fraction) changes the input size of the steps after it: they are rebuilt,
 * still unfitted, for the new size. */
static vb_status rebuild_after(vb_postchain *pc, size_t i, vb_error *err)
{
    for (size_t j = i + 1; j < pc->n; j++) {
        vb_post *old = pc->post[j], *fresh = NULL;
        vb_status st = vb_post_new(old->vt, &old->params, pc->post[j - 1]->dim, &fresh, err);
        if (st != VB_OK)
            return st;
        vb_post_free(old);
        pc->post[j] = fresh;
    }
    pc->dim = pc->n ? pc->post[pc->n - 1]->dim : pc->dim_in;
    return VB_OK;
}

/* fit_pc is pc itself when fitting (then steps may be rebuilt), NULL otherwise. */
static vb_status run_chain(const vb_postchain *pc, vb_postchain *fit_pc, const float *X, size_t n, float **out,
                          vb_error *err)
{
    *out = NULL;
    size_t d = pc->dim_in;
    float *cur = vb_malloc(n ? n : 1, d * sizeof *cur, err);
    if (!cur)
        return VB_ERR_NOMEM;
    memcpy(cur, X, n * d * sizeof *cur);
    for (size_t i = 0; i < pc->n; i++) {
        vb_post *p = pc->post[i];
        vb_status st = VB_OK;
        if (fit_pc && p->vt->fit) {
            st = p->vt->fit(p->state, cur, n, err);
            if (st == VB_OK && p->vt->dim(p->state) != p->dim) {
                p->dim = p->vt->dim(p->state);
                st = rebuild_after(fit_pc, i, err);
            }
        }
        float *next = st == VB_OK ? vb_malloc(n ? n : 1, p->dim * sizeof *next, err) : NULL;
        if (st == VB_OK && !next)
            st = VB_ERR_NOMEM;
        if (st == VB_OK)
            st = p->vt->transform(p->state, cur, n, next, err);
        free(cur);
        if (st != VB_OK) {
            free(next);
            return st;
        }
        cur = next;
    }
    *out = cur;
    return VB_OK;
}

vb_status vb_postchain_fit(vb_postchain *pc, const float *X, size_t n, float **out, vb_error *err)
{
    return run_chain(pc, pc, X, n, out, err);
}

vb_status vb_postchain_apply(const vb_postchain *pc, const float *X, size_t n, float **out, vb_error *err)
{
    return run_chain(pc, NULL, X, n, out, err);
}

void vb_rows_key(const vb_spec_pipeline *sp, vb_buf *b)
{
    vb_featpipe_key(sp, b);
    if (sp->augment.plugin) { /* (without one, the key is the features' as it always was) */
        vb_buf_puts(b, " augment: ");
        vb_params_to_yaml(&sp->augment, b);
    }
}

static char *key_dup(const vb_spec_pipeline *sp, void (*key)(const vb_spec_pipeline *, vb_buf *), vb_error *err)
{
    vb_buf b;
    vb_buf_init(&b);
    key(sp, &b);
    if (b.failed || !b.data) {
        vb_buf_free(&b);
        vb_fail(err, VB_ERR_NOMEM, "out of memory");
        return NULL;
    }
    return b.data;
}

char *vb_featpipe_key_dup(const vb_spec_pipeline *sp, vb_error *err) { return key_dup(sp, vb_featpipe_key, err); }

char *vb_rows_key_dup(const vb_spec_pipeline *sp, vb_error *err) { return key_dup(sp, vb_rows_key, err); }

void vb_pipeline_config(const vb_spec_pipeline *sp, vb_buf *b)
{
    if (vb_spec_is_ensemble(sp)) {
        /* its method, and each member's configuration: a changed member is a changed ensemble */
        vb_buf_puts(b, "ensemble:");
        params_key("ensemble", &sp->ens_params, b);
        if (sp->clf) {
            vb_buf_puts(b, " meta:");
            params_key(sp->clf->info.name, &sp->clf_params, b);
        }
        for (size_t m = 0; m < sp->n_members; m++) {
            vb_buf_printf(b, " member %zu: ", m + 1);
            vb_pipeline_config(&sp->all[sp->members[m]], b);
        }
        return;
    }
    vb_rows_key(sp, b);
    vb_buf_puts(b, " post:");
    for (size_t i = 0; i < sp->n_post; i++)
        params_key(sp->post[i]->info.name, &sp->post_params[i], b);
    vb_buf_puts(b, " classifier:");
    params_key(sp->clf->info.name, &sp->clf_params, b);
    if (vb_pipeline_random(sp)) /* other draws, another configuration */
        vb_buf_printf(b, " search: random %zu", vb_pipeline_random(sp));
}
