/* The pipeline engine: the one place where a pipeline is fitted on a fold.
 *
 * `run` (every pipeline through every fold), `train` (one pipeline on one
 * fold, saved as a model) and `features` (one pipeline's matrix) all call
 * the functions here, so the same spec, fold and seed give the same
 * extractors, the same post-processing and the same classifier whichever
 * command trains them. Seeds are derived from the spec's seed and the fold
 * index only:
 *   extractors   vb_seed_derive(seed, feature configuration, fold index)
 *   classifier   vb_seed_derive(seed, pipeline name, fold index)
 * so pipelines with the same feature configuration share one extraction
 * without any number changing.
 */
#include "visbench/model.h"
#include "visbench/ensemble.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

vb_shape vb_dataset_input_shape(const vb_dataset *ds)
{
    vb_shape s = {ds->fixed_w, ds->fixed_h, ds->fixed_c};
    if (!s.c) /* mixed grey and colour: extract in colour */
        s.c = 3;
    return s;
}

vb_shape vb_pipeline_row_shape(const vb_featpipe *fp, const vb_postchain *pc)
{
    vb_shape none = {0, 0, 0};
    if (pc->n == 0 && fp->n_ext == 1 && (fp->ext[0]->vt->flags & VB_EXT_IMAGE_ROWS))
        return fp->shape;
    return none;
}

double vb_wall_clock(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (double)tv.tv_sec + (double)tv.tv_usec * 1e-6;
}

/* ---- features of a fold ------------------------------------------------ */

void vb_fold_features_free(vb_fold_features *ff)
{
    if (!ff)
        return;
    free(ff->key);
    vb_featpipe_free(ff->fp);
    for (int k = 0; k < 3; k++)
        free(ff->X[k]);
    memset(ff, 0, sizeof *ff);
}

vb_status vb_fit_features(const vb_spec *spec, const vb_spec_pipeline *sp, const vb_dataset *ds, const vb_fold *fold,
                          size_t fold_index, int with_test, vb_fold_features *ff, vb_error *err)
{
    memset(ff, 0, sizeof *ff);
    char *fkey = vb_featpipe_key_dup(sp, err);
    if (!fkey || !(ff->key = vb_rows_key_dup(sp, err))) {
        free(fkey);
        return VB_ERR_NOMEM;
    }
    vb_augment aug;
    ff->copies = vb_pipeline_copies(sp, &aug);
    double t0 = vb_now();
    vb_status st = vb_featpipe_new(sp, vb_dataset_input_shape(ds), &ff->fp, err);
    vb_dataset_view view;
    vb_imgsrc src;
    if (st == VB_OK && vb_featpipe_needs_fit(ff->fp)) {
        char stage[200];
        snprintf(stage, sizeof stage, "%s: fitting the extractors on %zu images", sp->name, fold->n_train);
        vb_progress(stage, 0, 0);
        vb_imgsrc_dataset(&src, &view, ds, fold->train, fold->n_train);
        st = vb_featpipe_fit(ff->fp, &src, vb_seed_derive(spec->seed, fkey, fold_index), err);
        vb_progress(stage, 1, 1);
    }
    free(fkey);
    const size_t *lists[3] = {fold->train, fold->val, fold->test};
    size_t counts[3] = {fold->n_train, fold->n_val, with_test ? fold->n_test : 0};
    static const char *const what[3] = {"train", "validation", "test"};
    for (int k = 0; k < 3 && st == VB_OK; k++) {
        const int copies = k == VB_ROWS_TRAIN ? ff->copies : 0;
        ff->n[k] = counts[k] * (size_t)(1 + copies);
        if (counts[k] == 0)
            continue;
        if (!(ff->X[k] = vb_malloc(ff->n[k], ff->fp->dim * sizeof(float), err))) {
            st = VB_ERR_NOMEM;
            break;
        }
        char stage[160];
        if (copies)
            snprintf(stage, sizeof stage, "%s: features (%s, %d augmented copies each)", sp->name, what[k], copies);
        else
            snprintf(stage, sizeof stage, "%s: features (%s)", sp->name, what[k]);
        vb_imgsrc_dataset(&src, &view, ds, lists[k], counts[k]);
        st = copies ? vb_featpipe_extract_augmented(ff->fp, &src, &aug, copies,
                                                    vb_seed_derive(spec->seed, ff->key, fold_index), ff->X[k],
                                                    stage, err)
                    : vb_featpipe_extract(ff->fp, &src, ff->X[k], stage, err);
    }
    ff->extract_s = vb_now() - t0;
    if (st != VB_OK)
        vb_fold_features_free(ff);
    return st;
}

size_t *vb_fold_train_rows(const vb_fold *fold, const vb_fold_features *ff, vb_error *err)
{
    const size_t n = ff->n[VB_ROWS_TRAIN];
    size_t *rows = vb_malloc(n ? n : 1, sizeof *rows, err);
    for (size_t r = 0; rows && r < n; r++)
        rows[r] = fold->train[r % fold->n_train];
    return rows;
}

/* ---- post-processing and the classifier -------------------------------- */

vb_status vb_fit_postprocess(const vb_spec_pipeline *sp, const vb_fold_features *ff, vb_postchain **pc, float **Xtr,
                             float **Xval, vb_error *err)
{
    *pc = NULL;
    *Xtr = NULL;
    if (Xval)
        *Xval = NULL;
    vb_status st = vb_postchain_new(sp, ff->fp->dim, pc, err);
    if (st == VB_OK)
        st = vb_postchain_fit(*pc, ff->X[VB_ROWS_TRAIN], ff->n[VB_ROWS_TRAIN], Xtr, err);
    if (st == VB_OK && Xval && ff->n[VB_ROWS_VAL])
        st = vb_postchain_apply(*pc, ff->X[VB_ROWS_VAL], ff->n[VB_ROWS_VAL], Xval, err);
    if (st != VB_OK) {
        vb_postchain_free(*pc);
        *pc = NULL;
        free(*Xtr);
        *Xtr = NULL;
        if (Xval) {
            free(*Xval);
            *Xval = NULL;
        }
    }
    return st;
}

void vb_fitted_free(vb_fitted *f)
{
    if (!f)
        return;
    vb_postchain_free(f->pc);
    vb_classifier_free(f->clf);
    free(f->grid);
    memset(f, 0, sizeof *f);
}

vb_status vb_fit_pipeline(const vb_spec *spec, const vb_spec_pipeline *sp, const vb_dataset *ds, const vb_fold *fold,
                          size_t fold_index, const vb_fold_features *ff, int score_one, vb_fitted *out, vb_error *err)
{
    memset(out, 0, sizeof *out);
    out->score = NAN;
    float *Xtr = NULL, *Xval = NULL;
    /* the training rows: the fold's images, then their augmented copies */
    size_t n_tr = ff->n[VB_ROWS_TRAIN], n_val = fold->n_val;
    size_t *rows = vb_fold_train_rows(fold, ff, err);
    int *ytr = vb_malloc(n_tr ? n_tr : 1, sizeof *ytr, err), *yval = vb_malloc(n_val ? n_val : 1, sizeof *yval, err);
    uint8_t *Ytr = NULL, *Yval = NULL;
    vb_status st = rows && ytr && yval ? VB_OK : VB_ERR_NOMEM;
    if (st == VB_OK && (n_tr != fold->n_train * (size_t)(1 + ff->copies) || ff->n[VB_ROWS_VAL] != n_val))
        st = vb_fail(err, VB_ERR_INTERNAL, "%s: the features are not those of fold %s", sp->name, fold->name);
    if (st == VB_OK && ds->task == VB_TASK_MULTILABEL) {
        Ytr = vb_dataset_label_rows(ds, rows, n_tr, err);
        Yval = vb_dataset_label_rows(ds, fold->val, n_val, err);
        if (!Ytr || !Yval)
            st = VB_ERR_NOMEM;
    }
    double t0 = vb_now();
    char stage[200];
    snprintf(stage, sizeof stage, "%s: fitting the post-processing", sp->name);
    if (st == VB_OK && sp->n_post)
        vb_progress(stage, 0, 0); /* no known total: the CLI shows the time so far */
    if (st == VB_OK)
        st = vb_fit_postprocess(sp, ff, &out->pc, &Xtr, &Xval, err);
    if (sp->n_post)
        vb_progress(stage, 1, 1);
    out->post_s = vb_now() - t0;
    if (st == VB_OK) {
        for (size_t i = 0; i < n_tr; i++)
            ytr[i] = ds->labels[rows[i]];
        for (size_t i = 0; i < n_val; i++)
            yval[i] = ds->labels[fold->val[i]];
        vb_traindata td = {.X = Xtr, .n = n_tr, .d = out->pc->dim, .y = ytr, .n_classes = ds->n_classes,
                           .Xval = Xval, .yval = n_val ? yval : NULL, .n_val = n_val,
                           .shape = vb_pipeline_row_shape(ff->fp, out->pc),
                           .seed = vb_seed_derive(spec->seed, sp->name, fold_index), .name = sp->name,
                           .Y = Ytr, .Yval = n_val ? Yval : NULL, .tax = ds->tax,
                           .n_orig = ff->copies ? fold->n_train : 0};
        double t1 = vb_now();
        snprintf(stage, sizeof stage, "%s: training %s (%zu x %zu)", sp->name, sp->clf->info.name, n_tr,
                 out->pc->dim);
        vb_progress(stage, 0, 0);
        vb_tuned tuned;
        st = vb_train_classifier(sp, &td, score_one, &out->clf, &tuned, err);
        out->grid = tuned.grid;
        out->point = tuned.point;
        out->score = tuned.score;
        out->tune_s = tuned.tune_s;
        vb_progress(stage, 1, 1);
        out->train_s = vb_now() - t1 - out->tune_s;
    }
    free(Xtr);
    free(Xval);
    free(rows);
    free(ytr);
    free(yval);
    free(Ytr);
    free(Yval);
    if (st != VB_OK)
        vb_fitted_free(out);
    return st;
}

/* ---- the features of a fold, shared ------------------------------------ */

/* One feature configuration's extraction on the fold. A failed extraction
 * stays failed for everyone who asks for it. */
typedef struct feat_entry {
    vb_fold_features ff;
    int users;
    vb_status st;
    vb_error err;
} feat_entry;

struct vb_feat_cache {
    int with_test;
    feat_entry **e; /* each entry on its own: pointers to them stay valid */
    size_t n, uses;
};

vb_feat_cache *vb_feat_cache_new(int with_test, vb_error *err)
{
    vb_feat_cache *c = vb_calloc(1, sizeof *c, err);
    if (c)
        c->with_test = with_test;
    return c;
}

void vb_feat_cache_clear(vb_feat_cache *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++) {
        vb_fold_features_free(&c->e[i]->ff);
        free(c->e[i]);
    }
    free(c->e);
    c->e = NULL;
    c->n = c->uses = 0;
}

void vb_feat_cache_free(vb_feat_cache *c)
{
    vb_feat_cache_clear(c);
    free(c);
}

void vb_feat_cache_stats(const vb_feat_cache *c, size_t *extractions, size_t *uses)
{
    *extractions = c->n;
    *uses = c->uses;
}

vb_status vb_feat_cache_get(vb_feat_cache *c, const vb_spec *spec, const vb_spec_pipeline *sp, const vb_dataset *ds,
                            const vb_fold *fold, size_t fold_index, const vb_fold_features **out, int *users,
                            vb_error *err)
{
    *out = NULL;
    char *key = vb_rows_key_dup(sp, err);
    if (!key)
        return VB_ERR_NOMEM;
    c->uses++;
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->e[i]->ff.key, key) == 0) {
            free(key);
            feat_entry *e = c->e[i];
            if (e->st != VB_OK) {
                if (err)
                    *err = e->err;
                return e->st;
            }
            *users = ++e->users;
            *out = &e->ff;
            return VB_OK;
        }
    feat_entry **grown = realloc(c->e, (c->n + 1) * sizeof *grown);
    feat_entry *e = grown ? calloc(1, sizeof *e) : NULL;
    if (grown)
        c->e = grown;
    if (!e) {
        free(key);
        return vb_fail(err, VB_ERR_NOMEM, "out of memory");
    }
    c->e[c->n++] = e;
    vb_status st = vb_fit_features(spec, sp, ds, fold, fold_index, c->with_test, &e->ff, err);
    if (st != VB_OK) {
        /* remembered by its key, so the pipelines sharing it fail alike */
        e->ff.key = key;
        e->st = st;
        if (err)
            e->err = *err;
        else
            vb_fail(&e->err, st, "feature extraction failed");
        return st;
    }
    free(key);
    e->users = *users = 1;
    *out = &e->ff;
    return VB_OK;
}

vb_featpipe *vb_feat_cache_take_fp(vb_feat_cache *c, const vb_fold_features *ff)
{
    for (size_t i = 0; i < c->n; i++)
        if (&c->e[i]->ff == ff) {
            vb_featpipe *fp = c->e[i]->ff.fp;
            c->e[i]->ff.fp = NULL;
            return fp;
        }
    return NULL;
}

/* ---- the whole grid: feature variants x classifier points -------------- */

/* The search of a grid with feature variants, or a random search: each
 * candidate's features from the cache, fitted and scored (its classifier
 * grid too); the first best wins, as within a classifier grid. */
static vb_status search(const vb_spec *spec, const vb_spec_pipeline *sp, const vb_dataset *ds, const vb_fold *fold,
                        size_t fold_index, vb_feat_cache *cache, size_t n, const vb_fold_features **ff, int *shared,
                        double *extract_s, vb_fitted *out, vb_error *err)
{
    int random = vb_pipeline_random(sp) > 0;
    if (vb_tune_folds(sp) == 0 && fold->n_val == 0)
        return vb_fail(err, VB_ERR_SPEC,
                       "pipeline '%s': its grid has %zu points but the split has no validation part to choose on; "
                       "add validation: 0.1 to split, or tune: {folds: 3} to the pipeline",
                       sp->name, vb_pipeline_points(sp));
    const vb_fold_features **used = vb_calloc(n, sizeof *used, err); /* each configuration's time once */
    if (!used)
        return VB_ERR_NOMEM;
    size_t n_used = 0;
    double t0 = vb_now(), get_s = 0, best_score = -INFINITY;
    vb_spec_pipeline best; /* candidate best_i */
    memset(&best, 0, sizeof best);
    size_t best_i = 0;
    vb_buf best_text;
    vb_buf_init(&best_text);
    vb_status st = VB_OK;
    const char *metric = sp->tune.plugin ? vb_param_str(&sp->tune, "metric") : "accuracy";
    char stage[200];
    snprintf(stage, sizeof stage, "%s: %s of %zu points", sp->name, random ? "random search" : "grid",
             vb_pipeline_points(sp));
    for (size_t i = 0; i < n && st == VB_OK; i++) {
        vb_progress(stage, i, n);
        vb_spec_pipeline c;
        vb_buf text;
        vb_buf_init(&text);
        if ((st = vb_pipeline_candidate(sp, spec->seed, i, &c, &text, err)) != VB_OK) {
            vb_buf_free(&text);
            break;
        }
        const vb_fold_features *fv = NULL;
        vb_fitted fit;
        memset(&fit, 0, sizeof fit);
        int users = 0;
        double tg = vb_now();
        st = vb_feat_cache_get(cache, spec, &c, ds, fold, fold_index, &fv, &users, err);
        get_s += vb_now() - tg;
        if (st == VB_OK) {
            size_t k = 0;
            while (k < n_used && used[k] != fv)
                k++;
            if (k == n_used) {
                used[n_used++] = fv;
                *extract_s += fv->extract_s;
            }
            st = vb_fit_pipeline(spec, &c, ds, fold, fold_index, fv, 1, &fit, err);
        }
        const char *t = text.data ? text.data : "";
        int clf_grid = fit.grid && *fit.grid;
        if (st != VB_OK)
            vb_error_prefix(err, "pipeline '%s', %s", sp->name, t);
        else
            vb_log(VB_LOG_INFO, "%s: %s%.0zu%s%s%s%s: %s %s %.4f", sp->name, random ? "draw " : "", random ? i + 1 : 0,
                   random ? ": " : "", t, clf_grid ? ", best " : "", clf_grid ? fit.grid : "",
                   vb_tune_folds(sp) ? "inner k-fold" : "validation", metric, fit.score);
        if (st == VB_OK && fit.score > best_score) {
            best_score = fit.score;
            vb_fitted_free(out);
            *out = fit;
            *ff = fv;
            *shared = users > 1;
            vb_pipeline_variant_free(&best);
            best = c;
            vb_buf_free(&best_text);
            best_text = text;
            vb_buf_init(&text);
            if (clf_grid) /* the variant's values, then its classifier's */
                vb_buf_printf(&best_text, ", %s", out->grid);
            free(out->grid);
            out->grid = NULL;
            best_i = i;
        } else {
            vb_fitted_free(&fit);
            vb_pipeline_variant_free(&c);
        }
        vb_buf_free(&text);
    }
    free(used);
    if (st == VB_OK) {
        vb_progress(stage, n, n);
        if (best_text.failed || !best_text.data)
            st = vb_fail(err, VB_ERR_NOMEM, "out of memory");
    }
    if (st == VB_OK) {
        out->grid = best_text.data;
        best_text.data = NULL;
        char edges[32][96];
        size_t n_edges = random ? vb_pipeline_draw_edges(sp, &best, edges, 32)
                                : vb_pipeline_variant_edges(sp, best_i, edges, 16);
        const char *clf_edges[16];
        size_t n_clf = random ? 0 : vb_params_grid_edges(&sp->clf_params, out->point, clf_edges, 16);
        for (size_t i = 0; i < n_clf; i++)
            snprintf(edges[n_edges++], sizeof edges[0], "%s", clf_edges[i]);
        for (size_t i = 0; i < n_edges; i++)
            vb_log(VB_LOG_WARN, "%s: the best %s lies on the edge of its %s; consider extending it", sp->name,
                   edges[i], random ? "list or range" : "grid");
        /* every candidate's fitting but the chosen one's own was tuning */
        out->tune_s = vb_now() - t0 - get_s - out->post_s - out->train_s;
        if (out->tune_s < 0)
            out->tune_s = 0;
    } else {
        vb_fitted_free(out);
        *ff = NULL;
    }
    vb_pipeline_variant_free(&best);
    vb_buf_free(&best_text);
    return st;
}

vb_status vb_fit_best(const vb_spec *spec, const vb_spec_pipeline *sp, const vb_dataset *ds, const vb_fold *fold,
                      size_t fold_index, vb_feat_cache *cache, const vb_fold_features **ff, int *shared,
                      double *extract_s, vb_fitted *out, vb_error *err)
{
    memset(out, 0, sizeof *out);
    *ff = NULL;
    *shared = 0;
    *extract_s = 0;
    size_t n = vb_pipeline_candidates(sp);
    if (n > 1 || vb_pipeline_random(sp))
        return search(spec, sp, ds, fold, fold_index, cache, n, ff, shared, extract_s, out, err);
    int users = 0;
    vb_status st = vb_feat_cache_get(cache, spec, sp, ds, fold, fold_index, ff, &users, err);
    if (st == VB_OK)
        st = vb_fit_pipeline(spec, sp, ds, fold, fold_index, *ff, 0, out, err);
    *shared = users > 1;
    *extract_s = *ff ? (*ff)->extract_s : 0;
    return st;
}

/* ---- a whole pipeline as a model --------------------------------------- */

/* How the model was made, for `visbench model info` (the INFO section). */
static vb_status model_info(const vb_spec *spec, const vb_spec_pipeline *sp, const vb_dataset *ds, const vb_fold *fold,
                            const char *grid, size_t dim, vb_model *m, vb_error *err)
{
    vb_buf b, cfg;
    vb_buf_init(&b);
    vb_buf_init(&cfg);
    vb_pipeline_config(sp, &cfg);
    char hex[17];
    vb_buf_printf(&b, "{\"task\": \"%s\", \"spec\": ", spec->cluster ? "cluster" : vb_task_name(ds->task));
    vb_buf_json_str(&b, spec->name);
    snprintf(hex, sizeof hex, "%016llx", (unsigned long long)spec->hash);
    vb_buf_printf(&b, ", \"spec_hash\": \"%s\", \"pipeline\": ", hex);
    vb_buf_json_str(&b, sp->name);
    vb_buf_puts(&b, ", \"config\": ");
    vb_buf_json_str(&b, cfg.data ? cfg.data : "");
    vb_buf_puts(&b, ", \"dataset\": ");
    vb_buf_json_str(&b, ds->name ? ds->name : "");
    /* the dataset's hash comes with the split (the caller's, vb_model_info_add):
     * hashing every pixel again here would repeat vb_split_make's work */
    vb_buf_printf(&b, ", \"dataset_images\": %zu, \"protocol\": \"%s\", \"pool\": \"%s\"", ds->n,
                  vb_protocol_name(spec->split.protocol), vb_pool_name(spec->split.pool));
    vb_buf_printf(&b, ", \"seed\": %llu, \"fold\": ", (unsigned long long)spec->seed);
    vb_buf_json_str(&b, fold->name);
    vb_buf_printf(&b, ", \"fold_kind\": \"%s\", \"n_train\": %zu, \"n_val\": %zu, \"features\": %zu",
                  vb_fold_kind_name(fold->kind), fold->n_train, fold->n_val, dim);
    if (grid) {
        vb_buf_puts(&b, ", \"grid\": ");
        vb_buf_json_str(&b, grid);
    }
    vb_buf_puts(&b, "}");
    vb_buf_free(&cfg);
    if (b.failed || cfg.failed) {
        vb_buf_free(&b);
        return vb_fail(err, VB_ERR_NOMEM, "out of memory");
    }
    m->info = b.data;
    return VB_OK;
}

/* What every model carries: classes, task, names, creation time, INFO. */
static vb_status model_finish(const vb_spec *spec, const vb_spec_pipeline *sp, const vb_dataset *ds,
                              const vb_fold *fold, const char *grid, size_t dim, vb_model *m, vb_error *err)
{
    vb_status st = VB_OK;
    m->n_classes = ds->n_classes;
    m->task = ds->task;
    if (ds->tax && !(m->tax = vb_taxonomy_copy(ds->tax, err)))
        st = VB_ERR_NOMEM;
    if (st == VB_OK && !(m->classes = vb_calloc((size_t)ds->n_classes, sizeof *m->classes, err)))
        st = VB_ERR_NOMEM;
    for (int k = 0; st == VB_OK && k < ds->n_classes; k++)
        if (!(m->classes[k] = vb_strdup(ds->classes[k], err)))
            st = VB_ERR_NOMEM;
    if (st == VB_OK)
        st = model_info(spec, sp, ds, fold, grid, dim, m, err);
    if (st == VB_OK) {
        char now[32];
        time_t t = time(NULL);
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", &tm);
        m->spec_name = vb_strdup(spec->name, err);
        m->pipeline = vb_strdup(sp->name, err);
        m->dataset = vb_strdup(ds->name, err);
        m->created = vb_strdup(now, err);
        st = m->spec_name && m->pipeline && m->dataset && m->created ? vb_model_describe_build(m, err) : VB_ERR_NOMEM;
    }
    return st;
}

/* An ensemble's model: each member's model fitted on the fold as `run`
 * fits it, and for stacking the meta-classifier on the inner held-out
 * scores of the fold's training part, as `run` fits it. */
static vb_status train_ensemble(const vb_spec *spec, const vb_spec_pipeline *sp, const vb_dataset *ds,
                                const vb_fold *fold, size_t fold_index, vb_model **out, vb_error *err)
{
    size_t M = sp->n_members;
    vb_model *m = vb_calloc(1, sizeof *m, err);
    vb_status st = m && (m->members = vb_calloc(M, sizeof *m->members, err)) ? VB_OK : VB_ERR_NOMEM;
    if (st == VB_OK)
        m->ens_method = sp->ens_method;
    for (size_t i = 0; i < M && st == VB_OK; i++) {
        const vb_spec_pipeline *mp = &spec->pipelines[sp->members[i]];
        vb_log(VB_LOG_INFO, "%s: training member %zu of %zu, %s", sp->name, i + 1, M, mp->name);
        if ((st = vb_train_model(spec, mp, ds, fold, fold_index, &m->members[i], err)) == VB_OK)
            m->n_members = i + 1;
    }
    const double *w = vb_ensemble_weights(sp);
    if (st == VB_OK && w) {
        if (!(m->weights = vb_malloc(M, sizeof *m->weights, err)))
            st = VB_ERR_NOMEM;
        else
            memcpy(m->weights, w, M * sizeof *w);
    }
    if (st == VB_OK && sp->ens_method == VB_ENS_STACK) {
        vb_log(VB_LOG_INFO, "%s: fitting the meta-classifier on an inner %d-fold of the training part", sp->name,
               (int)vb_param_int(&sp->ens_params, "folds"));
        st = vb_stack_train(spec, sp, ds, fold, fold_index, &m->meta, err);
    }
    if (st == VB_OK) {
        m->in = m->members[0]->in;
        st = model_finish(spec, sp, ds, fold, NULL, M * (sp->ens_method == VB_ENS_STACK ? (size_t)ds->n_classes : 1),
                          m, err);
    }
    if (st != VB_OK) {
        vb_model_free(m);
        return st;
    }
    *out = m;
    return VB_OK;
}

vb_status vb_train_model(const vb_spec *spec, const vb_spec_pipeline *sp, const vb_dataset *ds, const vb_fold *fold,
                         size_t fold_index, vb_model **out, vb_error *err)
{
    *out = NULL;
    if (vb_spec_is_ensemble(sp))
        return train_ensemble(spec, sp, ds, fold, fold_index, out, err);
    vb_fitted fit;
    memset(&fit, 0, sizeof fit);
    vb_feat_cache *cache = vb_feat_cache_new(0, err);
    if (!cache)
        return VB_ERR_NOMEM;
    const vb_fold_features *ff = NULL;
    int shared;
    double extract_s;
    vb_status st = vb_fit_best(spec, sp, ds, fold, fold_index, cache, &ff, &shared, &extract_s, &fit, err);
    if (st == VB_OK && fit.grid)
        vb_log(VB_LOG_INFO, "%s: grid chose %s", sp->name, fit.grid);
    vb_model *m = st == VB_OK ? vb_calloc(1, sizeof *m, err) : NULL;
    if (st == VB_OK && !m)
        st = VB_ERR_NOMEM;
    if (st == VB_OK) {
        m->in = vb_dataset_input_shape(ds);
        m->fp = vb_feat_cache_take_fp(cache, ff);
        m->pc = fit.pc;
        m->clf = fit.clf;
        fit.pc = NULL;
        fit.clf = NULL;
        st = model_finish(spec, sp, ds, fold, fit.grid, m->pc->dim, m, err);
    }
    vb_feat_cache_free(cache);
    vb_fitted_free(&fit);
    if (st != VB_OK) {
        vb_model_free(m);
        return st;
    }
    *out = m;
    return VB_OK;
}
