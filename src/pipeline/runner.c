/* The experiment runner: every pipeline through every fold of one split. */
#include "visbench/ensemble.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A clustering's view of one fold: the test part's scores against the
 * labels (truth), and in mode: cluster the assignment of every sample of
 * the fold (training, validation, then test part). */
typedef struct fold_clusters {
    int k; /* clusters; 0 when the classifier is no clustering */
    vb_cluster_scores scores;
    size_t n;
    size_t *idx;
    int *assign;
} fold_clusters;

static vb_status cluster_fold(const vb_spec *spec, const vb_dataset *ds, const vb_fold *fold,
                              const vb_fold_features *ff, const vb_fitted *fit, const float *Xte, const int *truth,
                              fold_clusters *cl, vb_error *err)
{
    const size_t *part_idx[3] = {fold->train, fold->val, fold->test};
    size_t part_n[3] = {fold->n_train, fold->n_val, fold->n_test};
    size_t n_te = fold->n_test, n = spec->cluster ? part_n[0] + part_n[1] + n_te : n_te;
    cl->assign = vb_malloc(n ? n : 1, sizeof *cl->assign, err);
    if (!cl->assign)
        return VB_ERR_NOMEM;
    int *te = cl->assign + (n - n_te);
    vb_status st = vb_classifier_cluster(fit->clf, Xte, n_te, fit->pc->dim, te, &cl->k, err);
    if (st == VB_OK && cl->k && !ds->unlabeled)
        st = vb_cluster_compare(truth, te, n_te, ds->n_classes, cl->k, &cl->scores, err);
    if (st != VB_OK || !cl->k || !spec->cluster)
        return st;
    if (!(cl->idx = vb_malloc(n ? n : 1, sizeof *cl->idx, err)))
        return VB_ERR_NOMEM;
    size_t at = 0;
    for (int p = VB_ROWS_TRAIN; p <= VB_ROWS_TEST && st == VB_OK; p++) {
        memcpy(cl->idx + at, part_idx[p], part_n[p] * sizeof *cl->idx);
        if (p != VB_ROWS_TEST && part_n[p]) {
            float *X = NULL;
            int k;
            st = vb_postchain_apply(fit->pc, ff->X[p], part_n[p], &X, err);
            if (st == VB_OK)
                st = vb_classifier_cluster(fit->clf, X, part_n[p], fit->pc->dim, cl->assign + at, &k, err);
            free(X);
        }
        at += part_n[p];
    }
    cl->n = st == VB_OK ? n : 0;
    return st;
}

/* The test predictions of one fold's pipelines that an ensemble combines,
 * kept as they were handed to the sink (the stored scores). */
typedef struct score_memo {
    size_t P;
    int **labels;
    float **scores;
    int *proba;
} score_memo;

static score_memo *memo_new(size_t P, vb_error *err)
{
    score_memo *m = vb_calloc(1, sizeof *m, err);
    if (m && (!(m->labels = vb_calloc(P + 1, sizeof *m->labels, err)) ||
              !(m->scores = vb_calloc(P + 1, sizeof *m->scores, err)) ||
              !(m->proba = vb_calloc(P + 1, sizeof *m->proba, err)))) {
        free(m->labels);
        free(m->scores);
        free(m);
        return NULL;
    }
    if (m)
        m->P = P;
    return m;
}

static void memo_clear(score_memo *m)
{
    for (size_t i = 0; m && i < m->P; i++) {
        free(m->labels[i]);
        free(m->scores[i]);
        m->labels[i] = NULL;
        m->scores[i] = NULL;
    }
}

static void memo_free(score_memo *m)
{
    if (!m)
        return;
    memo_clear(m);
    free(m->labels);
    free(m->scores);
    free(m->proba);
    free(m);
}

/* Keeps a copy of pipeline i's test predictions for the ensembles of it. */
static vb_status memo_keep(score_memo *m, size_t i, size_t n, int K, const int *labels, const float *scores,
                           int proba, vb_error *err)
{
    free(m->labels[i]);
    free(m->scores[i]);
    m->labels[i] = vb_malloc(n ? n : 1, sizeof *labels, err);
    m->scores[i] = vb_malloc(n ? n : 1, (size_t)K * sizeof *scores, err);
    if (!m->labels[i] || !m->scores[i])
        return VB_ERR_NOMEM;
    memcpy(m->labels[i], labels, n * sizeof *labels);
    memcpy(m->scores[i], scores, n * (size_t)K * sizeof *scores);
    m->proba[i] = proba;
    return VB_OK;
}

/* An ensemble's predictions on the fold: its members' test predictions
 * from this process's runs, else from the sink (the store), else (a member
 * finished by a process whose store is elsewhere) refitted, which gives
 * the same numbers; for stacking, the meta-classifier fitted on inner
 * held-out scores of the training part (*train_s: that time). */
static vb_status ensemble_predict(const vb_spec *spec, const vb_spec_pipeline *sp, const vb_dataset *ds,
                                  const vb_fold *fold, size_t fold_index, vb_feat_cache *cache, score_memo *memo,
                                  const vb_run_sink *sink, int *pred, float *scores, int *proba,
                                  vb_classifier **meta, double *train_s, vb_error *err)
{
    size_t M = sp->n_members, n = fold->n_test;
    int K = ds->n_classes;
    const float **ms = vb_calloc(M, sizeof *ms, err);
    const int **ml = vb_calloc(M, sizeof *ml, err);
    vb_status st = ms && ml ? VB_OK : VB_ERR_NOMEM;
    int all_proba = 1;
    double refit_s = 0, refit_t0; /* members fitted again count as training time */
    for (size_t m = 0; m < M && st == VB_OK; m++) {
        size_t i = sp->members[m];
        const vb_spec_pipeline *mp = &spec->pipelines[i];
        if (!memo->scores[i] && sink->scores) {
            if ((st = sink->scores(sink->user, mp->name, fold, K, &memo->labels[i], &memo->scores[i], &memo->proba[i],
                                   err)) != VB_OK)
                break;
        }
        if (!memo->scores[i]) {
            refit_t0 = vb_now();
            vb_log(VB_LOG_INFO, "%s: %s: member '%s' has no stored run here; fitting it again", fold->name, sp->name,
                   mp->name);
            st = vb_pipeline_test_scores(spec, mp, ds, fold, fold_index, cache, &memo->labels[i], &memo->scores[i],
                                         &memo->proba[i], err);
            if (st != VB_OK) {
                vb_error_prefix(err, "ensemble '%s', member '%s'", sp->name, mp->name);
                break;
            }
            refit_s += vb_now() - refit_t0;
        }
        ms[m] = memo->scores[i];
        ml[m] = memo->labels[i];
        all_proba &= memo->proba[i];
    }
    if (st == VB_OK && sp->ens_method == VB_ENS_SOFT && !all_proba)
        st = vb_fail(err, VB_ERR_SPEC, "%s:%d:%d: ensemble '%s' (method: soft) found decision scores, not "
                                       "probabilities, in a member's run",
                     spec->path, sp->line, sp->col, sp->name);
    double t0 = vb_now();
    if (st == VB_OK && sp->ens_method == VB_ENS_STACK)
        st = vb_stack_train(spec, sp, ds, fold, fold_index, meta, err);
    *train_s = vb_now() - t0 + refit_s;
    if (st == VB_OK)
        st = vb_ensemble_apply(sp, *meta, M, n, K, ms, ml, pred, scores, err);
    if (st == VB_OK)
        *proba = sp->ens_method == VB_ENS_SOFT ? 1 : sp->ens_method == VB_ENS_STACK ? vb_classifier_has_proba(*meta) : 0;
    free(ms);
    free(ml);
    return st;
}

static vb_status run_one(const vb_spec *spec, const vb_spec_pipeline *sp, const vb_dataset *ds, const vb_fold *fold,
                         size_t fold_index, vb_feat_cache *cache, score_memo *memo, const vb_run_sink *sink,
                         int *sink_failed, vb_error *err)
{
    *sink_failed = 0;
    int ens = vb_spec_is_ensemble(sp), ens_proba = 0;
    vb_classifier *meta = NULL;
    double started = vb_wall_clock();
    vb_rss_reset_peak();
    const vb_fold_features *ff = NULL;
    int shared = 0;
    double extract_s = 0;
    vb_fitted fit;
    float *Xte = NULL, *scores = NULL;
    int *truth = NULL, *pred = NULL;
    vb_metrics m = {0};
    vb_ml_metrics mlm = {0};
    vb_hier_metrics hm = {0};
    int ml = ds->task == VB_TASK_MULTILABEL, have_hm = 0;
    uint8_t *tsets = NULL, *psets = NULL;
    fold_clusters cl = {0};
    vb_buf feat, params, info;
    vb_buf_init(&feat);
    vb_buf_init(&params);
    vb_buf_init(&info);
    double predict_s = 0;
    memset(&fit, 0, sizeof fit);

    vb_status st = ens ? VB_OK : vb_fit_best(spec, sp, ds, fold, fold_index, cache, &ff, &shared, &extract_s, &fit, err);
    if (st != VB_OK)
        goto out;
    truth = vb_malloc(fold->n_test, sizeof *truth, err);
    pred = vb_malloc(fold->n_test, sizeof *pred, err);
    scores = vb_malloc(fold->n_test, (size_t)ds->n_classes * sizeof *scores, err);
    if (!truth || !pred || !scores) {
        st = VB_ERR_NOMEM;
        goto out;
    }
    for (size_t i = 0; i < fold->n_test; i++)
        truth[i] = ds->labels[fold->test[i]];
    double t2 = vb_now();
    if (ens) {
        st = ensemble_predict(spec, sp, ds, fold, fold_index, cache, memo, sink, pred, scores, &ens_proba, &meta,
                              &fit.train_s, err);
        t2 += fit.train_s; /* predict: the combination alone */
    } else if ((st = vb_postchain_apply(fit.pc, ff->X[VB_ROWS_TEST], fold->n_test, &Xte, err)) != VB_OK)
        goto out;
    else if (ml) {
        tsets = vb_dataset_label_rows(ds, fold->test, fold->n_test, err);
        psets = vb_malloc(fold->n_test ? fold->n_test : 1, (size_t)ds->n_classes, err);
        if (!tsets || !psets) {
            st = VB_ERR_NOMEM;
            goto out;
        }
        st = vb_classifier_predict_sets(fit.clf, Xte, fold->n_test, fit.pc->dim, psets, scores, err);
        if (st == VB_OK)
            vb_scores_argmax(scores, fold->n_test, ds->n_classes, pred);
    } else
        st = vb_classifier_predict(fit.clf, Xte, fold->n_test, fit.pc->dim, pred, scores, err);
    if (st != VB_OK)
        goto out;
    if ((st = vb_scores_check(scores, fold->n_test, ds->n_classes, err)) != VB_OK)
        goto out;
    predict_s = vb_now() - t2;
    if (ml)
        st = vb_ml_metrics_compute(tsets, psets, scores, fold->n_test, ds->n_classes, &mlm, err);
    else {
        /* a hierarchical prediction that stopped at an inner node is no leaf */
        int *flat = vb_malloc(fold->n_test ? fold->n_test : 1, sizeof *flat, err);
        if (!flat) {
            st = VB_ERR_NOMEM;
            goto out;
        }
        for (size_t i = 0; i < fold->n_test; i++)
            flat[i] = pred[i] >= ds->n_classes ? -1 : pred[i];
        st = vb_metrics_compute(truth, flat, fold->n_test, ds->n_classes, &m, err);
        free(flat);
        if (st == VB_OK && ds->tax) {
            st = vb_hier_metrics_compute(ds->tax, truth, pred, fold->n_test, &hm, err);
            have_hm = st == VB_OK;
        }
    }
    if (st != VB_OK)
        goto out;
    if (!ens && (st = cluster_fold(spec, ds, fold, ff, &fit, Xte, truth, &cl, err)) != VB_OK)
        goto out;

    vb_writer w;
    vb_writer_init(&w);
    const vb_classifier *saved = ens ? meta : fit.clf;
    st = saved ? vb_classifier_save(saved, &w, err) : VB_OK;
    size_t model_bytes = w.buf.len;
    vb_writer_free(&w);
    if (st != VB_OK)
        goto out;
    size_t dim = 0;
    if (ens) {
        dim = sp->n_members * (sp->ens_method == VB_ENS_STACK ? (size_t)ds->n_classes : 1);
        vb_buf_printf(&feat, "ensemble (%s) of", vb_ens_method_name(sp->ens_method));
        vb_buf_puts(&info, "\"method\": \"");
        vb_buf_puts(&info, vb_ens_method_name(sp->ens_method));
        vb_buf_puts(&info, "\", \"members\": [");
        for (size_t k = 0; k < sp->n_members; k++) {
            vb_buf_printf(&feat, "%s %s", k ? " +" : "", spec->pipelines[sp->members[k]].name);
            vb_buf_printf(&info, "%s\"%s\"", k ? ", " : "", spec->pipelines[sp->members[k]].name);
        }
        vb_buf_puts(&info, "]");
        vb_params_to_yaml(&sp->ens_params, &params);
        if (meta && meta->vt->info_json) {
            vb_buf_printf(&info, ", \"meta\": \"%s\", ", meta->vt->info.name);
            meta->vt->info_json(meta->state, &info);
        }
    } else {
        dim = fit.pc->dim;
        vb_featpipe_describe(ff->fp, &feat);
        if (fit.pc->n)
            vb_buf_printf(&feat, " -> %zu", fit.pc->dim);
        vb_params_to_yaml(&fit.clf->params, &params);
        if (fit.clf->vt->info_json)
            fit.clf->vt->info_json(fit.clf->state, &info);
    }
    if (feat.failed || params.failed || info.failed) {
        st = vb_fail(err, VB_ERR_NOMEM, "out of memory");
        goto out;
    }
    vb_run_result r = {
        .pipeline = sp->name, .fold = fold->name, .fold_index = fold_index,
        .n_train = fold->n_train, .n_val = fold->n_val, .n_test = fold->n_test, .n_classes = ds->n_classes,
        .test_idx = fold->test, .truth = truth, .pred = pred, .scores = scores,
        .proba = ens ? ens_proba : vb_classifier_has_proba(fit.clf), .metrics = ml ? NULL : &m,
        .extract_s = extract_s, .postprocess_s = fit.post_s, .tune_s = fit.tune_s, .train_s = fit.train_s,
        .predict_s = predict_s, .features_shared = shared, .peak_rss_kb = vb_rss_peak_kb(),
        .model_bytes = model_bytes, .dim = dim, .features = feat.data, .params = params.data,
        .grid = fit.grid, .clf_info = info.data ? info.data : "",
        .started = started, .threads = vb_get_threads(),
        .cluster_mode = spec->cluster, .n_clusters = cl.k,
        .cluster = cl.k && !ds->unlabeled ? &cl.scores : NULL,
        .n_assigned = cl.n, .assigned_idx = cl.idx, .assign = cl.assign,
        .task = ds->task, .truth_sets = tsets, .pred_sets = psets, .ml = ml ? &mlm : NULL,
        .tax = ds->tax, .hier = have_hm ? &hm : NULL,
    };
    if (!ens)
        r.n_epochs = vb_classifier_curve(fit.clf, &r.epochs);
    r.finished = vb_wall_clock();
    if (sp->in_ensemble && !ml && (st = memo_keep(memo, (size_t)(sp - spec->pipelines), fold->n_test, ds->n_classes,
                                                   pred, scores, r.proba, err)) != VB_OK)
        goto out;
    st = sink->on_result(sink->user, &r, err);
    *sink_failed = st != VB_OK;
out:
    vb_classifier_free(meta);
    free(cl.idx);
    free(cl.assign);
    vb_metrics_free(&m);
    vb_ml_metrics_free(&mlm);
    if (have_hm)
        vb_hier_metrics_free(&hm);
    free(tsets);
    free(psets);
    vb_buf_free(&feat);
    vb_buf_free(&params);
    vb_buf_free(&info);
    vb_fitted_free(&fit);
    free(Xte);
    free(scores);
    free(truth);
    free(pred);
    return st;
}

/* Does the dataset have a file of its own to name (not inline in the spec)? */
static int dataset_named(const vb_spec *spec, const vb_dataset *ds)
{
    return ds->source && strcmp(ds->source, spec->path) != 0;
}

/* An extractor needs one image size and the dataset's vary: say where in
 * the spec, and show two images of different sizes. */
static vb_status sizes_vary(const vb_spec *spec, const vb_spec_pipeline *sp, const vb_dataset *ds, vb_error *err)
{
    size_t a = 0, b = 0;
    for (size_t i = 1; i < ds->n && !b; i++)
        if (ds->w[i] != ds->w[0] || ds->h[i] != ds->h[0])
            b = i;
    char na[300], nb[300];
    if (ds->paths) {
        snprintf(na, sizeof na, "%s", ds->paths[a]);
        snprintf(nb, sizeof nb, "%s", ds->paths[b]);
    } else {
        snprintf(na, sizeof na, "image %zu", a);
        snprintf(nb, sizeof nb, "image %zu", b);
    }
    return vb_fail(err, VB_ERR_SPEC,
                   "%s:%d:%d: pipeline '%s' extracts features that need one image size, but the dataset's images "
                   "vary (%s is %dx%d, %s is %dx%d); add {resize: [w, h]} to its preprocess",
                   spec->path, sp->line, sp->col, sp->name, na, ds->w[a], ds->h[a],
                   nb, ds->w[b], ds->h[b]);
}

/* Prefixes "pipeline 'P'" and what (one %s), and the pipeline's place in
 * the spec unless the message names a place in it already. */
static void where_prefix(const vb_spec *spec, const vb_spec_pipeline *sp, vb_error *err, const char *what,
                         const char *arg)
{
    if (!err)
        return;
    char w[200];
    snprintf(w, sizeof w, what, arg);
    if (strstr(err->msg, spec->path))
        vb_error_prefix(err, "pipeline '%s'%s", sp->name, w);
    else
        vb_error_prefix(err, "%s:%d:%d: pipeline '%s'%s", spec->path, sp->line, sp->col, sp->name, w);
}

/* Can classifier c learn the dataset's kind of labels? */
static vb_status task_check(const vb_spec *spec, const vb_dataset *ds, const vb_classifier *c, vb_error *err)
{
    const char *name = c->vt->info.name;
    int sets = vb_classifier_multilabels(c->vt, &c->params);
    if (ds->task == VB_TASK_MULTILABEL && !sets)
        return vb_fail(err, VB_ERR_SPEC,
                       "classifier %s predicts one label per image, but the dataset has label sets (multilabel); "
                       "wrap it: {br: {base: {%s: ...}}} (binary relevance) or {chain: {base: ...}}, or use the "
                       "cnn with output: sigmoid",
                       name, name);
    if (ds->task != VB_TASK_MULTILABEL && sets)
        return vb_fail(err, VB_ERR_SPEC,
                       "classifier %s learns label sets (multilabel), but the dataset has one label per image; use "
                       "it on a multilabel dataset (multilabel: true in the descriptor), or a single-label classifier",
                       name);
    if ((c->vt->flags & VB_CLF_HIER) && !ds->tax)
        return vb_fail(err, VB_ERR_SPEC,
                       "classifier %s needs a class taxonomy, and the dataset has none; use nested class folders or "
                       "add hierarchy: to the dataset descriptor",
                       name);
    if (spec->cluster && ds->task == VB_TASK_MULTILABEL)
        return vb_fail(err, VB_ERR_SPEC, "mode: cluster compares clusters with one label per image; this dataset "
                                         "has label sets (multilabel)");
    return VB_OK;
}

/* A pipeline's augmentation against the images its extractors see (shape
 * after preprocessing; w = 0 when their sizes vary): a shift must leave
 * part of every image in view. */
static vb_status augment_check(const vb_spec_pipeline *c, vb_shape shape, vb_error *err)
{
    vb_augment a;
    if (!vb_pipeline_copies(c, &a) || shape.w <= 0)
        return VB_OK;
    int side = shape.w < shape.h ? shape.w : shape.h;
    if (a.shift < side)
        return VB_OK;
    vb_param_fail(&c->augment, "shift", err,
                  "a shift of up to %d pixels can move the %dx%d images the extractors see (after preprocessing) "
                  "wholly out of view; give at most %d",
                  a.shift, shape.w, shape.h, side - 1);
    return vb_error_prefix(err, "pipeline '%s'", c->name);
}

/* Can candidate c of sp's search (text: what it is, empty for a pipeline
 * of one point) be built for ds, with every point of its classifier's
 * grid? Says which point when one cannot. */
static vb_status check_candidate(const vb_spec *spec, const vb_spec_pipeline *sp, const vb_spec_pipeline *c,
                                 const char *text, const vb_dataset *ds, vb_error *err)
{
    vb_featpipe *fp = NULL;
    vb_postchain *pc = NULL;
    vb_status st = vb_featpipe_new(c, vb_dataset_input_shape(ds), &fp, err);
    if (st == VB_ERR_SPEC && !ds->fixed_w)
        st = sizes_vary(spec, sp, ds, err);
    else if (st == VB_OK)
        st = augment_check(c, fp->shape, err);
    if (st == VB_OK)
        st = vb_postchain_new(c, fp->dim, &pc, err);
    size_t points = vb_params_grid_size(&c->clf_params);
    for (size_t g = 0; g < points && st == VB_OK; g++) {
        vb_params p;
        vb_classifier *clf = NULL;
        if ((st = vb_params_grid_point(&c->clf_params, g, &p, err)) != VB_OK)
            break;
        st = vb_classifier_new(c->clf, &p, &clf, err);
        vb_params_free(&p);
        /* the parameters against this data: task, shapes, class count */
        if (st == VB_OK)
            st = task_check(spec, ds, clf, err);
        if (st == VB_OK)
            st = vb_classifier_check(clf, pc->dim, vb_pipeline_row_shape(fp, pc), ds->n_classes, err);
        if (st != VB_OK && (*text || points > 1)) {
            vb_buf gb;
            vb_buf_init(&gb);
            vb_buf_puts(&gb, text);
            if (points > 1) {
                if (gb.len)
                    vb_buf_puts(&gb, ", ");
                vb_params_grid_describe(&c->clf_params, g, &gb);
            }
            where_prefix(spec, sp, err, ", grid point %s", gb.data ? gb.data : "");
            vb_buf_free(&gb);
        } else if (st != VB_OK)
            where_prefix(spec, sp, err, "%s", "");
        vb_classifier_free(clf);
    }
    /* (features that cannot be built name the value, and its place in the spec, themselves) */
    vb_featpipe_free(fp);
    vb_postchain_free(pc);
    return st;
}

vb_status vb_experiment_check(const vb_spec *spec, const vb_dataset *ds, const vb_run_opts *opts, vb_error *err)
{
    if (ds->unlabeled && !spec->cluster)
        return vb_fail(err, VB_ERR_SPEC,
                       "%s: the dataset%s%s has no labels (labels: false); classification needs them. Add mode: "
                       "cluster to the spec to cluster it",
                       spec->path, dataset_named(spec, ds) ? " " : "", dataset_named(spec, ds) ? ds->source : "");
    if (ds->n_classes < 2 && !spec->cluster)
        return vb_fail(err, VB_ERR_DATA,
                       "%s: the dataset%s%s has %d class%s%s%s%s; classification needs at least two (add images of "
                       "another class)",
                       spec->path, dataset_named(spec, ds) ? " " : "", dataset_named(spec, ds) ? ds->source : "",
                       ds->n_classes, ds->n_classes == 1 ? "" : "es",
                       ds->n_classes == 1 ? " ('" : "", ds->n_classes == 1 ? ds->classes[0] : "",
                       ds->n_classes == 1 ? "')" : "");
    if (opts && opts->only && !vb_spec_find_pipeline(spec, opts->only))
        return vb_fail(err, VB_ERR_SPEC, "%s: no pipeline named '%s'", spec->path, opts->only);
    const vb_spec_pipeline *only = opts && opts->only ? vb_spec_find_pipeline(spec, opts->only) : NULL;
    for (size_t i = 0; i < spec->n_pipelines; i++) {
        const vb_spec_pipeline *sp = &spec->pipelines[i];
        int member = 0; /* of the one ensemble asked for, which may fit it */
        for (size_t m = 0; only && vb_spec_is_ensemble(only) && m < only->n_members; m++)
            member |= only->members[m] == i;
        if (only && only != sp && !member)
            continue;
        vb_status st = VB_OK;
        if (vb_spec_is_ensemble(sp)) {
            if (ds->task != VB_TASK_SINGLE)
                return vb_fail(err, VB_ERR_SPEC,
                               "%s:%d:%d: ensemble '%s' combines single-label predictions, and this dataset is %s; "
                               "drop the ensemble",
                               spec->path, sp->line, sp->col, sp->name, vb_task_name(ds->task));
            continue; /* its members are checked as pipelines */
        }
        size_t n = vb_pipeline_candidates(sp);
        for (size_t k = 0; k < n && st == VB_OK; k++) {
            vb_spec_pipeline c;
            vb_buf text;
            vb_buf_init(&text);
            if ((st = vb_pipeline_candidate(sp, spec->seed, k, &c, &text, err)) == VB_OK) {
                st = check_candidate(spec, sp, &c, text.data ? text.data : "", ds, err);
                vb_pipeline_variant_free(&c);
            }
            vb_buf_free(&text);
        }
        size_t points = vb_pipeline_points(sp);
        if (st == VB_OK && points > 1 && spec->split.validation <= 0 && vb_tune_folds(sp) == 0)
            st = vb_fail(err, VB_ERR_SPEC,
                         "%s:%d:%d: pipeline '%s' lists several values (a grid of %zu points) but split.validation "
                         "is 0; add validation: 0.1 to split, or tune: {folds: 3} to the pipeline",
                         spec->path, sp->line, sp->col, sp->name, points);
        if (st != VB_OK)
            return st;
    }
    return VB_OK;
}

/* Claims and runs one job. *run says what the claim decided (VB_RUN_*). A
 * failed run is counted and reported and the experiment goes on; any
 * other status stops it (the run is handed back first). */
static vb_status job(const vb_spec *spec, const vb_spec_pipeline *sp, const vb_dataset *ds, const vb_fold *fold,
                     size_t f, vb_feat_cache *cache, score_memo *memo, const vb_run_sink *sink, int *run,
                     size_t *n_failed, vb_error *err)
{
    *run = VB_RUN_IT;
    vb_status st;
    if (sink->claim && (st = sink->claim(sink->user, sp, fold, f, run, err)) != VB_OK)
        return st;
    if (*run != VB_RUN_IT)
        return VB_OK;
    vb_error e = {0};
    int sink_failed = 0;
    st = run_one(spec, sp, ds, fold, f, cache, memo, sink, &sink_failed, &e);
    /* A failing sink stops the experiment, whatever its status. */
    if (sink_failed || st == VB_ERR_INTERRUPTED || st == VB_ERR_NOMEM || st == VB_ERR_IO) {
        /* The run did not finish: hand it back so a rerun does it. */
        if (sink->release)
            sink->release(sink->user, sp->name, fold->name);
        if (err)
            *err = e;
        return st;
    }
    if (st != VB_OK) {
        (*n_failed)++;
        if (sink->on_failure)
            sink->on_failure(sink->user, sp->name, fold->name, &e);
    }
    return VB_OK;
}

/* What a fold's runs shared: how many pipelines and grid points ran, and
 * how many feature extractions served them. */
typedef struct fold_tally {
    size_t pipelines, points;
} fold_tally;

static void tally(fold_tally *t, const vb_spec_pipeline *sp, int run)
{
    if (run != VB_RUN_IT)
        return;
    t->pipelines++;
    t->points += vb_pipeline_points(sp);
}

/* Said when something was shared or a grid ran. */
static void say_shared(const vb_feat_cache *cache, const vb_fold *fold, const fold_tally *t)
{
    size_t made, uses;
    vb_feat_cache_stats(cache, &made, &uses);
    if (made && (uses > made || t->points > t->pipelines))
        vb_log(VB_LOG_INFO, "%s: %zu feature extraction%s served %zu pipeline%s with %zu grid point%s", fold->name,
               made, made == 1 ? "" : "s", t->pipelines, t->pipelines == 1 ? "" : "s", t->points,
               t->points == 1 ? "" : "s");
}

static int wanted(const vb_run_opts *opts, const vb_spec_pipeline *sp, size_t cell)
{
    return !(opts && opts->only && strcmp(opts->only, sp->name) != 0) && !(opts && opts->mask && !opts->mask[cell]);
}

vb_status vb_experiment_run(const vb_spec *spec, const vb_dataset *ds, const vb_split *split, const vb_run_opts *opts,
                            const vb_run_sink *sink, size_t *n_failed, vb_error *err)
{
    *n_failed = 0;
    vb_status st = vb_experiment_check(spec, ds, opts, err);
    if (st != VB_OK)
        return st;
    /* Runs another live process holds are tried again once this process
     * has done all it could: taken over if that process dies, skipped when
     * it finishes them. busy[f * P + i] marks them. */
    size_t P = spec->n_pipelines, n_busy = 0;
    size_t cells = split->n_folds * P;
    unsigned char *busy = vb_calloc(cells ? cells : 1, 1, err);
    vb_feat_cache *cache = busy ? vb_feat_cache_new(1, err) : NULL;
    score_memo *memo = cache ? memo_new(P, err) : NULL;
    if (!memo) {
        vb_feat_cache_free(cache);
        free(busy);
        return VB_ERR_NOMEM;
    }
    for (int pass = 0; st == VB_OK; pass++) {
        if (pass > 0) {
            if (!n_busy)
                break;
            if (pass == 1)
                vb_log(VB_LOG_INFO, "waiting for %zu run%s that another visbench process is doing", n_busy,
                       n_busy == 1 ? "" : "s");
            for (int w = 0; w < 10 && !vb_interrupted(); w++) /* a second between looks, interruptible */
                usleep(100000);
            if (vb_interrupted()) {
                st = vb_fail(err, VB_ERR_INTERRUPTED, "interrupted while waiting for runs of another process");
                break;
            }
        }
        for (size_t f = 0; f < split->n_folds && st == VB_OK; f++) {
            const vb_fold *fold = &split->folds[f];
            vb_feat_cache_clear(cache);
            memo_clear(memo);
            fold_tally t = {0, 0};
            for (size_t i = 0; i < P && st == VB_OK; i++) {
                const vb_spec_pipeline *sp = &spec->pipelines[i];
                if (!wanted(opts, sp, f * P + i) || (pass > 0 && !busy[f * P + i]))
                    continue;
                int run;
                st = job(spec, sp, ds, fold, f, cache, memo, sink, &run, n_failed, err);
                tally(&t, sp, run);
                if (st == VB_OK && busy[f * P + i] != (run == VB_RUN_BUSY)) {
                    n_busy += run == VB_RUN_BUSY ? 1 : (size_t)-1;
                    busy[f * P + i] = run == VB_RUN_BUSY;
                }
            }
            say_shared(cache, fold, &t);
        }
    }
    vb_feat_cache_free(cache);
    memo_free(memo);
    free(busy);
    return st;
}

vb_status vb_experiment_run_group(const vb_spec *spec, const vb_dataset *ds, const vb_split *split, size_t fold_index,
                                  const size_t *pipelines, size_t n, const vb_run_sink *sink, size_t *n_failed,
                                  vb_error *err)
{
    *n_failed = 0;
    if (fold_index >= split->n_folds)
        return vb_fail(err, VB_ERR_INTERNAL, "fold %zu of a split of %zu", fold_index, split->n_folds);
    vb_feat_cache *cache = vb_feat_cache_new(1, err);
    score_memo *memo = cache ? memo_new(spec->n_pipelines, err) : NULL;
    if (!memo) {
        vb_feat_cache_free(cache);
        return VB_ERR_NOMEM;
    }
    vb_status st = VB_OK;
    fold_tally t = {0, 0};
    for (size_t k = 0; k < n && st == VB_OK; k++) {
        if (pipelines[k] >= spec->n_pipelines) {
            st = vb_fail(err, VB_ERR_INTERNAL, "pipeline %zu of a spec of %zu", pipelines[k], spec->n_pipelines);
            break;
        }
        int run;
        st = job(spec, &spec->pipelines[pipelines[k]], ds, &split->folds[fold_index], fold_index, cache, memo, sink,
                 &run, n_failed, err);
        tally(&t, &spec->pipelines[pipelines[k]], run);
    }
    say_shared(cache, &split->folds[fold_index], &t);
    vb_feat_cache_free(cache);
    memo_free(memo);
    return st;
}
