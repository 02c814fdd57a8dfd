/* Training a pipeline's classifier, tuning its grid when it has one. */
#include "visbench/pipeline.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int vb_tune_folds(const vb_spec_pipeline *sp)
{
    return sp->tune.plugin ? (int)vb_param_int(&sp->tune, "folds") : 0;
}

static const char *tune_metric(const vb_spec_pipeline *sp)
{
    const char *m = sp->tune.plugin ? vb_param_str(&sp->tune, "metric") : NULL;
    return m ? m : "accuracy";
}

static vb_status train_point(const vb_spec_pipeline *sp, size_t g, const vb_traindata *td, vb_classifier **out,
                             vb_error *err)
{
    *out = NULL;
    vb_params p;
    vb_status st = vb_params_grid_point(&sp->clf_params, g, &p, err);
    if (st != VB_OK)
        return st;
    st = vb_classifier_new(sp->clf, &p, out, err);
    vb_params_free(&p);
    if (st == VB_OK)
        st = vb_classifier_train(*out, td, err);
    if (st != VB_OK) {
        vb_classifier_free(*out);
        *out = NULL;
    }
    return st;
}

/* The metric of a multilabel classifier's sets on rows with label sets Y:
 * accuracy is subset accuracy, macro_f1 the labels' macro-F1, and
 * balanced_accuracy (no multilabel meaning) micro-F1. */
static vb_status score_sets(const vb_classifier *c, const float *X, const uint8_t *Y, size_t n, size_t d, int k,
                            const char *metric, double *out, vb_error *err)
{
    uint8_t *P = vb_malloc(n ? n : 1, (size_t)k, err);
    if (!P)
        return VB_ERR_NOMEM;
    vb_ml_metrics m;
    vb_status st = vb_classifier_predict_sets(c, X, n, d, P, NULL, err);
    if (st == VB_OK)
        st = vb_ml_metrics_compute(Y, P, NULL, n, k, &m, err);
    if (st == VB_OK) {
        *out = strcmp(metric, "macro_f1") == 0 ? m.macro_f1
             : strcmp(metric, "accuracy") == 0 ? m.subset_accuracy : m.micro_f1;
        vb_ml_metrics_free(&m);
    }
    free(P);
    return st;
}

/* The metric of predictions on labelled rows (label sets Y for a
 * multilabel classifier). */
static vb_status score(const vb_classifier *c, const float *X, const int *y, const uint8_t *Y, size_t n, size_t d,
                       int k, const char *metric, double *out, vb_error *err)
{
    if (vb_classifier_multilabels(c->vt, &c->params))
        return score_sets(c, X, Y, n, d, k, metric, out, err);
    int *pred = vb_malloc(n ? n : 1, sizeof *pred, err);
    if (!pred)
        return VB_ERR_NOMEM;
    vb_metrics m;
    vb_status st = vb_classifier_predict(c, X, n, d, pred, NULL, err);
    if (st == VB_OK)
        st = vb_metrics_compute(y, pred, n, k, &m, err);
    if (st == VB_OK) {
        *out = strcmp(metric, "macro_f1") == 0 ? m.macro_f1
             : strcmp(metric, "balanced_accuracy") == 0 ? m.balanced_accuracy : m.accuracy;
        vb_metrics_free(&m);
    }
    free(pred);
    return st;
}

/* Rows rows[0..n) of td as a new training set (copies). */
static vb_status subset(const vb_traindata *td, const size_t *rows, size_t n, vb_traindata *out, float **X, int **y,
                        vb_error *err)
{
    *X = vb_malloc(n ? n : 1, td->d * sizeof **X, err);
    *y = vb_malloc(n ? n : 1, sizeof **y, err);
    if (!*X || !*y) {
        free(*X);
        free(*y);
        *X = NULL;
        *y = NULL;
        return VB_ERR_NOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        memcpy(*X + i * td->d, td->X + rows[i] * td->d, td->d * sizeof **X);
        (*y)[i] = td->y[rows[i]];
    }
    *out = *td;
    out->X = *X;
    out->y = *y;
    out->n = n;
    out->Xval = NULL;
    out->yval = NULL;
    out->n_val = 0;
    out->n_orig = 0; /* (the rows' order is its own) */
    return VB_OK;
}

/* Mean metric of grid point g over a stratified inner k-fold of td. The
 * folds deal td's images; an augmented copy trains with its image, and a
 * held-out image is scored without its copies. */
static vb_status kfold_score(const vb_spec_pipeline *sp, size_t g, const vb_traindata *td, int folds, double *out,
                             vb_error *err)
{
    size_t n = td->n, n0 = td->n_orig ? td->n_orig : n;
    int *fold = vb_malloc(n0, sizeof *fold, err);
    size_t *tr = vb_malloc(n, sizeof *tr, err), *te = vb_malloc(n, sizeof *te, err);
    vb_status st = fold && tr && te ? VB_OK : vb_fail(err, VB_ERR_NOMEM, "out of memory");
    /* The same folds for every grid point. */
    if (st == VB_OK)
        st = vb_stratified_folds(td->y, n0, td->n_classes, folds, vb_seed_derive(td->seed, "tune-folds", 0), fold,
                                 err);
    double sum = 0;
    for (int f = 0; f < folds && st == VB_OK; f++) {
        size_t ntr = 0, nte = 0;
        for (size_t i = 0; i < n; i++)
            if (fold[i % n0] != f)
                tr[ntr++] = i;
            else if (i < n0)
                te[nte++] = i;
        vb_traindata a, b;
        float *Xa = NULL, *Xb = NULL;
        int *ya = NULL, *yb = NULL;
        vb_classifier *c = NULL;
        double v = 0;
        if ((st = subset(td, tr, ntr, &a, &Xa, &ya, err)) == VB_OK &&
            (st = subset(td, te, nte, &b, &Xb, &yb, err)) == VB_OK &&
            (st = train_point(sp, g, &a, &c, err)) == VB_OK &&
            (st = score(c, Xb, yb, NULL, nte, td->d, td->n_classes, tune_metric(sp), &v, err)) == VB_OK)
            sum += v;
        vb_classifier_free(c);
        free(Xa);
        free(Xb);
        free(ya);
        free(yb);
    }
    if (st == VB_OK)
        *out = sum / folds;
    free(fold);
    free(tr);
    free(te);
    return st;
}

vb_status vb_train_classifier(const vb_spec_pipeline *sp, const vb_traindata *td, int score_one, vb_classifier **out,
                              vb_tuned *tuned, vb_error *err)
{
    *out = NULL;
    memset(tuned, 0, sizeof *tuned);
    tuned->score = NAN;
    size_t points = vb_params_grid_size(&sp->clf_params);
    if (points <= 1 && !score_one)
        return train_point(sp, 0, td, out, err);
    int folds = vb_tune_folds(sp);
    const char *metric = tune_metric(sp);
    if (folds == 0 && (!td->Xval || td->n_val == 0))
        return vb_fail(err, VB_ERR_SPEC,
                       "pipeline '%s': the classifier lists several values (a grid of %zu points) but the split "
                       "has no validation part; add validation: 0.1 to split, or tune: {folds: 3} to the pipeline",
                       sp->name, points);
    if (folds > 0 && td->Y)
        return vb_fail(err, VB_ERR_SPEC,
                       "pipeline '%s': tune.folds (an inner k-fold) is not available for label sets (multilabel); "
                       "tune on the validation part instead: remove tune.folds and add validation: 0.2 to split",
                       sp->name);
    if (folds > 0 && (td->n_orig ? td->n_orig : td->n) < (size_t)folds * 2)
        return vb_fail(err, VB_ERR_DATA, "pipeline '%s': %zu training rows are too few for tune.folds = %d", sp->name,
                       td->n_orig ? td->n_orig : td->n, folds);
    double t0 = vb_now(), best_score = -1;
    size_t best = 0;
    vb_classifier *best_clf = NULL;
    vb_status st = VB_OK;
    /* Validation mode: points train on the training rows (the CNN also sees
     * the validation rows, for early stopping) and are scored on them. */
    vb_traindata inner = *td;
    /* (a multilabel classifier keeps them too: it tunes its thresholds on them) */
    if (!(sp->clf->flags & VB_CLF_IMAGE) && !td->Y) {
        inner.Xval = NULL;
        inner.yval = NULL;
        inner.n_val = 0;
    }
    char stage[200];
    snprintf(stage, sizeof stage, "%s: grid of %zu point%s (%s)", sp->name, points, points == 1 ? "" : "s",
             folds ? "inner k-fold" : "validation part");
    for (size_t g = 0; g < points && st == VB_OK; g++) {
        double v = 0;
        vb_classifier *c = NULL;
        vb_progress(stage, g, points);
        if (folds > 0)
            st = kfold_score(sp, g, &inner, folds, &v, err);
        else if ((st = train_point(sp, g, &inner, &c, err)) == VB_OK)
            st = score(c, td->Xval, td->yval, td->Yval, td->n_val, td->d, td->n_classes, metric, &v, err);
        vb_buf gb;
        vb_buf_init(&gb);
        vb_params_grid_describe(&sp->clf_params, g, &gb);
        if (st != VB_OK)
            vb_error_prefix(err, "pipeline '%s', grid point %s", sp->name, gb.data ? gb.data : "");
        else if (points > 1)
            vb_log(VB_LOG_INFO, "%s: grid %s: %s %s %.4f", sp->name, gb.data ? gb.data : "",
                   folds ? "inner k-fold" : "validation", metric, v);
        vb_buf_free(&gb);
        if (st == VB_OK && v > best_score) {
            best_score = v;
            best = g;
            vb_classifier_free(best_clf);
            best_clf = c;
            c = NULL;
        }
        vb_classifier_free(c);
    }
    if (st == VB_OK)
        vb_progress(stage, points, points);
    /* With an inner k-fold the chosen point is trained on all training rows. */
    if (st == VB_OK && folds > 0)
        st = train_point(sp, best, &inner, &best_clf, err);
    if (st != VB_OK) {
        vb_classifier_free(best_clf);
        return st;
    }
    vb_buf gb;
    vb_buf_init(&gb);
    vb_params_grid_describe(&sp->clf_params, best, &gb);
    /* A best value on the edge of a numeric grid suggests widening it (of
     * a feature grid's variant, only the final choice is worth a word). */
    const char *edges[16];
    size_t n_edges = score_one ? 0 : vb_params_grid_edges(&sp->clf_params, best, edges, 16);
    for (size_t i = 0; i < n_edges; i++)
        vb_log(VB_LOG_WARN, "%s: the best %s lies on the edge of its grid; consider extending the grid", sp->name,
               edges[i]);
    tuned->score = best_score;
    tuned->point = best;
    tuned->grid = gb.data ? gb.data : vb_strdup("", NULL);
    tuned->tune_s = vb_now() - t0;
    *out = best_clf;
    return VB_OK;
}
