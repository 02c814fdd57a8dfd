/* The experiment runner: every pipeline through every fold of one split. */
#include "visbench/pipeline.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Features of one fold, shared by pipelines with the same configuration. */
typedef struct feat_entry {
    char *key;
    vb_featpipe *fp;
    float *Xtr, *Xval, *Xte;
    double extract_s;
    int users;
    vb_status st; /* a failed extraction stays failed for the pipelines that share it */
    vb_error err;
} feat_entry;

typedef struct feat_cache {
    feat_entry *e;
    size_t n;
} feat_cache;

static void cache_clear(feat_cache *c)
{
    for (size_t i = 0; i < c->n; i++) {
        free(c->e[i].key);
        vb_featpipe_free(c->e[i].fp);
        free(c->e[i].Xtr);
        free(c->e[i].Xval);
        free(c->e[i].Xte);
    }
    free(c->e);
    c->e = NULL;
    c->n = 0;
}

static vb_shape dataset_shape(const vb_dataset *ds)
{
    vb_shape s = {ds->fixed_w, ds->fixed_h, ds->fixed_c};
    if (!s.c) /* mixed grey and colour: extract in colour */
        s.c = 3;
    return s;
}

/* The image shape of a feature row when the rows are the preprocessed
 * images themselves (one raw extractor, no post-processing), else zeros. */
static vb_shape row_shape(const vb_spec_pipeline *sp, const vb_featpipe *fp, const vb_postchain *pc)
{
    vb_shape none = {0, 0, 0};
    if (pc->n == 0 && sp->n_ext == 1 && strcmp(sp->ext[0]->info.name, "raw") == 0)
        return fp->shape;
    return none;
}

static vb_status extract_fold(const vb_spec *spec, const vb_spec_pipeline *sp, const vb_dataset *ds,
                              const vb_fold *fold, size_t fold_index, feat_cache *cache, feat_entry **out,
                              vb_error *err)
{
    vb_buf key;
    vb_buf_init(&key);
    vb_featpipe_key(sp, &key);
    if (key.failed) {
        vb_buf_free(&key);
        return vb_fail(err, VB_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < cache->n; i++)
        if (strcmp(cache->e[i].key, key.data) == 0) {
            vb_buf_free(&key);
            if (cache->e[i].st != VB_OK) {
                if (err)
                    *err = cache->e[i].err;
                return cache->e[i].st;
            }
            cache->e[i].users++;
            *out = &cache->e[i];
            return VB_OK;
        }
    feat_entry *grown = realloc(cache->e, (cache->n + 1) * sizeof *grown);
    if (!grown) {
        vb_buf_free(&key);
        return vb_fail(err, VB_ERR_NOMEM, "out of memory");
    }
    cache->e = grown;
    feat_entry *e = &cache->e[cache->n];
    memset(e, 0, sizeof *e);
    e->key = key.data;
    double t0 = vb_now();
    vb_status st = vb_featpipe_new(sp, dataset_shape(ds), &e->fp, err);
    vb_dataset_view view;
    vb_imgsrc src;
    if (st == VB_OK && vb_featpipe_needs_fit(e->fp)) {
        vb_imgsrc_dataset(&src, &view, ds, fold->train, fold->n_train);
        uint64_t seed = vb_seed_derive(spec->seed, key.data, fold_index);
        st = vb_featpipe_fit(e->fp, &src, seed, err);
    }
    const size_t *lists[3] = {fold->train, fold->val, fold->test};
    size_t counts[3] = {fold->n_train, fold->n_val, fold->n_test};
    float **mats[3] = {&e->Xtr, &e->Xval, &e->Xte};
    const char *what[3] = {"train", "validation", "test"};
    for (int k = 0; k < 3 && st == VB_OK; k++) {
        if (counts[k] == 0)
            continue;
        if (!(*mats[k] = vb_malloc(counts[k], e->fp->dim * sizeof(float), err))) {
            st = VB_ERR_NOMEM;
            break;
        }
        char stage[160];
        snprintf(stage, sizeof stage, "%s: features (%s)", sp->name, what[k]);
        vb_imgsrc_dataset(&src, &view, ds, lists[k], counts[k]);
        st = vb_featpipe_extract(e->fp, &src, *mats[k], stage, err);
    }
    e->extract_s = vb_now() - t0;
    cache->n++; /* owned by the cache even on failure, so it is freed */
    if (st != VB_OK) {
        e->st = st;
        if (err)
            e->err = *err;
        else
            vb_fail(&e->err, st, "feature extraction failed");
        return st;
    }
    e->users = 1;
    *out = e;
    return VB_OK;
}

static vb_status run_one(const vb_spec *spec, const vb_spec_pipeline *sp, const vb_dataset *ds, const vb_fold *fold,
                         size_t fold_index, feat_cache *cache, const vb_run_sink *sink, int *sink_failed,
                         vb_error *err)
{
    *sink_failed = 0;
    vb_rss_reset_peak();
    feat_entry *fe = NULL;
    vb_status st = extract_fold(spec, sp, ds, fold, fold_index, cache, &fe, err);
    if (st != VB_OK)
        return st;
    vb_postchain *pc = NULL;
    float *Xtr = NULL, *Xval = NULL, *Xte = NULL, *scores = NULL;
    int *ytr = NULL, *yval = NULL, *truth = NULL, *pred = NULL;
    vb_classifier *clf = NULL;
    char *grid = NULL;
    vb_metrics m = {0};
    vb_buf feat, params, info;
    vb_buf_init(&feat);
    vb_buf_init(&params);
    vb_buf_init(&info);
    double tune_s = 0, train_s = 0, predict_s = 0;
    double t0 = vb_now();

    if ((st = vb_postchain_new(sp, fe->fp->dim, &pc, err)) != VB_OK)
        goto out;
    if ((st = vb_postchain_fit(pc, fe->Xtr, fold->n_train, &Xtr, err)) != VB_OK)
        goto out;
    if (fold->n_val && (st = vb_postchain_apply(pc, fe->Xval, fold->n_val, &Xval, err)) != VB_OK)
        goto out;
    double post_s = vb_now() - t0;
    ytr = vb_malloc(fold->n_train, sizeof *ytr, err);
    yval = vb_malloc(fold->n_val ? fold->n_val : 1, sizeof *yval, err);
    truth = vb_malloc(fold->n_test, sizeof *truth, err);
    pred = vb_malloc(fold->n_test, sizeof *pred, err);
    if (!ytr || !yval || !truth || !pred) {
        st = VB_ERR_NOMEM;
        goto out;
    }
    for (size_t i = 0; i < fold->n_train; i++)
        ytr[i] = ds->labels[fold->train[i]];
    for (size_t i = 0; i < fold->n_val; i++)
        yval[i] = ds->labels[fold->val[i]];
    for (size_t i = 0; i < fold->n_test; i++)
        truth[i] = ds->labels[fold->test[i]];
    vb_traindata td = {.X = Xtr, .n = fold->n_train, .d = pc->dim, .y = ytr, .n_classes = ds->n_classes,
                       .Xval = Xval, .yval = yval, .n_val = fold->n_val,
                       .seed = vb_seed_derive(spec->seed, sp->name, fold_index), .name = sp->name};
    td.shape = row_shape(sp, fe->fp, pc);
    double t1 = vb_now();
    if ((st = vb_train_classifier(sp, &td, &clf, &grid, &tune_s, err)) != VB_OK)
        goto out;
    train_s = vb_now() - t1 - tune_s + post_s;

    double t2 = vb_now();
    if ((st = vb_postchain_apply(pc, fe->Xte, fold->n_test, &Xte, err)) != VB_OK)
        goto out;
    if (!(scores = vb_malloc(fold->n_test, (size_t)ds->n_classes * sizeof *scores, err))) {
        st = VB_ERR_NOMEM;
        goto out;
    }
    if ((st = vb_classifier_predict(clf, Xte, fold->n_test, pc->dim, pred, scores, err)) != VB_OK)
        goto out;
    predict_s = vb_now() - t2;
    if ((st = vb_metrics_compute(truth, pred, fold->n_test, ds->n_classes, &m, err)) != VB_OK)
        goto out;

    vb_writer w;
    vb_writer_init(&w);
    st = vb_classifier_save(clf, &w, err);
    size_t model_bytes = w.buf.len;
    vb_writer_free(&w);
    if (st != VB_OK)
        goto out;
    vb_featpipe_describe(fe->fp, &feat);
    if (pc->n)
        vb_buf_printf(&feat, " -> %zu", pc->dim);
    vb_params_to_yaml(&clf->params, &params);
    if (clf->vt->info_json)
        clf->vt->info_json(clf->state, &info);
    if (feat.failed || params.failed || info.failed) {
        st = vb_fail(err, VB_ERR_NOMEM, "out of memory");
        goto out;
    }
    vb_run_result r = {
        .pipeline = sp->name, .fold = fold->name, .fold_index = fold_index,
        .n_train = fold->n_train, .n_val = fold->n_val, .n_test = fold->n_test, .n_classes = ds->n_classes,
        .test_idx = fold->test, .truth = truth, .pred = pred, .scores = scores,
        .proba = vb_classifier_has_proba(clf), .metrics = &m,
        .extract_s = fe->extract_s, .tune_s = tune_s, .train_s = train_s, .predict_s = predict_s,
        .features_shared = fe->users > 1, .peak_rss_kb = vb_rss_peak_kb(), .model_bytes = model_bytes,
        .dim = pc->dim, .features = feat.data, .params = params.data, .grid = grid,
        .clf_info = info.data ? info.data : "",
    };
    r.n_epochs = vb_classifier_curve(clf, &r.epochs);
    st = sink->on_result(sink->user, &r, err);
    *sink_failed = st != VB_OK;
out:
    vb_metrics_free(&m);
    vb_buf_free(&feat);
    vb_buf_free(&params);
    vb_buf_free(&info);
    free(grid);
    vb_classifier_free(clf);
    vb_postchain_free(pc);
    free(Xtr);
    free(Xval);
    free(Xte);
    free(scores);
    free(ytr);
    free(yval);
    free(truth);
    free(pred);
    return st;
}

vb_status vb_experiment_check(const vb_spec *spec, const vb_dataset *ds, const vb_run_opts *opts, vb_error *err)
{
    if (opts && opts->only && !vb_spec_find_pipeline(spec, opts->only))
        return vb_fail(err, VB_ERR_SPEC, "%s: no pipeline named '%s'", spec->path, opts->only);
    for (size_t i = 0; i < spec->n_pipelines; i++) {
        const vb_spec_pipeline *sp = &spec->pipelines[i];
        if (opts && opts->only && strcmp(opts->only, sp->name) != 0)
            continue;
        vb_featpipe *fp = NULL;
        vb_postchain *pc = NULL;
        vb_status st = vb_featpipe_new(sp, dataset_shape(ds), &fp, err);
        if (st == VB_OK)
            st = vb_postchain_new(sp, fp->dim, &pc, err);
        size_t points = vb_params_grid_size(&sp->clf_params);
        for (size_t g = 0; g < points && st == VB_OK; g++) {
            vb_params p;
            vb_classifier *c = NULL;
            if ((st = vb_params_grid_point(&sp->clf_params, g, &p, err)) != VB_OK)
                break;
            st = vb_classifier_new(sp->clf, &p, &c, err);
            vb_params_free(&p);
            /* the parameters against this data: shapes, class count */
            if (st == VB_OK)
                st = vb_classifier_check(c, pc->dim, row_shape(sp, fp, pc), ds->n_classes, err);
            if (st != VB_OK && points > 1) {
                vb_buf gb;
                vb_buf_init(&gb);
                vb_params_grid_describe(&sp->clf_params, g, &gb);
                vb_error_prefix(err, "pipeline '%s', grid point %s", sp->name, gb.data ? gb.data : "");
                vb_buf_free(&gb);
            } else if (st != VB_OK)
                vb_error_prefix(err, "pipeline '%s'", sp->name);
            vb_classifier_free(c);
        }
        if (st == VB_OK && points > 1 && spec->split.validation <= 0 && vb_tune_folds(sp) == 0)
            st = vb_fail(err, VB_ERR_SPEC,
                         "%s:%d:%d: pipeline '%s' lists several classifier values (a grid) but split.validation "
                         "is 0; add validation: 0.1 to split, or tune: {folds: 3} to the pipeline",
                         spec->path, sp->line, sp->col, sp->name);
        vb_featpipe_free(fp);
        vb_postchain_free(pc);
        if (st != VB_OK)
            return st;
    }
    return VB_OK;
}

vb_status vb_experiment_run(const vb_spec *spec, const vb_dataset *ds, const vb_split *split, const vb_run_opts *opts,
                            const vb_run_sink *sink, size_t *n_failed, vb_error *err)
{
    *n_failed = 0;
    vb_status st = vb_experiment_check(spec, ds, opts, err);
    if (st != VB_OK)
        return st;
    for (size_t f = 0; f < split->n_folds; f++) {
        const vb_fold *fold = &split->folds[f];
        feat_cache cache = {0};
        for (size_t i = 0; i < spec->n_pipelines; i++) {
            const vb_spec_pipeline *sp = &spec->pipelines[i];
            if (opts && opts->only && strcmp(opts->only, sp->name) != 0)
                continue;
            int run = 1;
            if (sink->claim && (st = sink->claim(sink->user, sp, fold, f, &run, err)) != VB_OK) {
                cache_clear(&cache);
                return st;
            }
            if (!run)
                continue;
            vb_error e = {0};
            int sink_failed = 0;
            st = run_one(spec, sp, ds, fold, f, &cache, sink, &sink_failed, &e);
            /* A failing sink stops the experiment, whatever its status. */
            if (sink_failed || st == VB_ERR_INTERRUPTED || st == VB_ERR_NOMEM || st == VB_ERR_IO) {
                /* The run did not finish: hand it back so a rerun does it. */
                if (sink->release)
                    sink->release(sink->user, sp->name, fold->name);
                cache_clear(&cache);
                if (err)
                    *err = e;
                return st;
            }
            if (st != VB_OK) {
                (*n_failed)++;
                if (sink->on_failure)
                    sink->on_failure(sink->user, sp->name, fold->name, &e);
            }
        }
        cache_clear(&cache);
    }
    return VB_OK;
}
