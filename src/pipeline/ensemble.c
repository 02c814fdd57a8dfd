/* Ensembles of pipelines: voting, and stacking with a meta-classifier
 * fitted on inner held-out scores (see ensemble.h). */
#include "visbench/ensemble.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *vb_ens_method_name(vb_ens_method m)
{
    return m == VB_ENS_SOFT ? "soft" : m == VB_ENS_HARD ? "hard" : "stacking";
}

const double *vb_ensemble_weights(const vb_spec_pipeline *ens)
{
    size_t n;
    const double *w = vb_param_list(&ens->ens_params, "weights", &n);
    return n ? w : NULL;
}

void vb_ensemble_vote(vb_ens_method method, size_t M, size_t n, int K, const float *const *scores,
                      const int *const *labels, const double *weights, int *pred, float *out)
{
    double total = 0;
    for (size_t m = 0; m < M; m++)
        total += weights ? weights[m] : 1.0;
    if (total <= 0)
        total = 1;
    for (size_t i = 0; i < n; i++) {
        float *o = out + i * (size_t)K;
        double acc[K];
        for (int k = 0; k < K; k++)
            acc[k] = 0;
        for (size_t m = 0; m < M; m++) {
            double w = weights ? weights[m] : 1.0;
            if (method == VB_ENS_SOFT)
                for (int k = 0; k < K; k++)
                    acc[k] += w * scores[m][i * (size_t)K + k];
            else
                acc[labels[m][i]] += w;
        }
        int best = 0;
        for (int k = 1; k < K; k++)
            if (acc[k] > acc[best])
                best = k;
        if (method == VB_ENS_HARD) {
            /* ties: the first member whose vote is one of the tied classes */
            for (size_t m = 0; m < M; m++) {
                int l = labels[m][i];
                if (acc[l] == acc[best] && (weights ? weights[m] : 1.0) > 0) {
                    best = l;
                    break;
                }
            }
        }
        pred[i] = best;
        for (int k = 0; k < K; k++)
            o[k] = (float)(acc[k] / total);
    }
}

vb_status vb_stack_rows(size_t M, size_t n, int K, const float *const *scores, float **X, vb_error *err)
{
    size_t d = M * (size_t)K;
    float *x = vb_malloc(n ? n : 1, d * sizeof *x, err);
    if (!x)
        return VB_ERR_NOMEM;
    for (size_t i = 0; i < n; i++)
        for (size_t m = 0; m < M; m++)
            memcpy(x + i * d + m * (size_t)K, scores[m] + i * (size_t)K, (size_t)K * sizeof *x);
    *X = x;
    return VB_OK;
}

vb_status vb_pipeline_test_scores(const vb_spec *spec, const vb_spec_pipeline *sp, const vb_dataset *ds,
                                  const vb_fold *fold, size_t fold_index, vb_feat_cache *cache, int **labels,
                                  float **scores, int *proba, vb_error *err)
{
    *labels = NULL;
    *scores = NULL;
    vb_feat_cache *own = NULL;
    if (!cache && !(cache = own = vb_feat_cache_new(1, err)))
        return VB_ERR_NOMEM;
    const vb_fold_features *ff = NULL;
    int shared;
    double extract_s;
    vb_fitted fit;
    memset(&fit, 0, sizeof fit);
    float *Xte = NULL;
    size_t n = fold->n_test;
    int K = ds->n_classes;
    int *l = vb_malloc(n ? n : 1, sizeof *l, err);
    float *s = l ? vb_malloc(n ? n : 1, (size_t)K * sizeof *s, err) : NULL;
    vb_status st = s ? VB_OK : VB_ERR_NOMEM;
    if (st == VB_OK)
        st = vb_fit_best(spec, sp, ds, fold, fold_index, cache, &ff, &shared, &extract_s, &fit, err);
    if (st == VB_OK)
        st = vb_postchain_apply(fit.pc, ff->X[VB_ROWS_TEST], n, &Xte, err);
    if (st == VB_OK)
        st = vb_classifier_predict(fit.clf, Xte, n, fit.pc->dim, l, s, err);
    if (st == VB_OK)
        st = vb_scores_check(s, n, K, err);
    if (st == VB_OK)
        *proba = vb_classifier_has_proba(fit.clf);
    free(Xte);
    vb_fitted_free(&fit);
    vb_feat_cache_free(own);
    if (st != VB_OK) {
        free(l);
        free(s);
        return st;
    }
    *labels = l;
    *scores = s;
    return VB_OK;
}

vb_status vb_stack_inner_scores(const vb_spec *spec, const vb_spec_pipeline *ens, const vb_dataset *ds,
                                const vb_fold *fold, size_t fold_index, float **X, vb_error *err)
{
    *X = NULL;
    size_t n = fold->n_train, M = ens->n_members, K = (size_t)ds->n_classes, d = M * K;
    int folds = (int)vb_param_int(&ens->ens_params, "folds");
    if (n < (size_t)folds)
        return vb_fail(err, VB_ERR_DATA,
                       "ensemble '%s' (stacking) needs at least %d training images for its inner %d-fold, and "
                       "fold %s has %zu",
                       ens->name, folds, folds, fold->name, n);
    int *y = vb_malloc(n ? n : 1, sizeof *y, err);
    int *part = y ? vb_malloc(n ? n : 1, sizeof *part, err) : NULL;
    float *out = part ? vb_calloc(n ? n : 1, d * sizeof *out, err) : NULL;
    size_t *idx = out ? vb_malloc(n ? n : 1, 2 * sizeof *idx, err) : NULL;
    vb_status st = idx ? VB_OK : VB_ERR_NOMEM;
    for (size_t i = 0; st == VB_OK && i < n; i++)
        y[i] = ds->labels[fold->train[i]];
    if (st == VB_OK)
        st = vb_stratified_folds(y, n, ds->n_classes, folds,
                                 vb_seed_derive(spec->seed, ens->name, fold_index), part, err);
    for (int j = 0; st == VB_OK && j < folds; j++) {
        /* inner fold j: trains on the other parts (the outer fold's
         * validation part still tunes), scores part j */
        vb_fold inner = *fold;
        snprintf(inner.name, sizeof inner.name, "%.20s/inner%d", fold->name, (j + 1) % 100);
        inner.train = idx;
        inner.test = idx + n;
        inner.n_train = inner.n_test = 0;
        for (size_t i = 0; i < n; i++) {
            if (part[i] == j)
                inner.test[inner.n_test++] = fold->train[i];
            else
                inner.train[inner.n_train++] = fold->train[i];
        }
        vb_feat_cache *cache = vb_feat_cache_new(1, err);
        if (!cache) {
            st = VB_ERR_NOMEM;
            break;
        }
        for (size_t m = 0; st == VB_OK && m < M; m++) {
            int *l;
            float *s;
            int proba;
            st = vb_pipeline_test_scores(spec, &spec->pipelines[ens->members[m]], ds, &inner, fold_index, cache, &l,
                                         &s, &proba, err);
            if (st != VB_OK) {
                vb_error_prefix(err, "ensemble '%s' (stacking), member '%s' on %s", ens->name,
                                spec->pipelines[ens->members[m]].name, inner.name);
                break;
            }
            size_t t = 0;
            for (size_t i = 0; i < n; i++)
                if (part[i] == j)
                    memcpy(out + i * d + m * K, s + (t++) * K, K * sizeof *out);
            free(l);
            free(s);
        }
        vb_feat_cache_free(cache);
    }
    free(y);
    free(part);
    free(idx);
    if (st != VB_OK) {
        free(out);
        return st;
    }
    *X = out;
    return VB_OK;
}

vb_status vb_stack_fit(const vb_spec *spec, const vb_spec_pipeline *ens, const float *X, size_t n, size_t d,
                       const int *y, int n_classes, size_t fold_index, vb_classifier **meta, vb_error *err)
{
    *meta = NULL;
    vb_classifier *c = NULL;
    vb_status st = vb_classifier_new(ens->clf, &ens->clf_params, &c, err);
    if (st != VB_OK)
        return st;
    vb_traindata td = {.X = X, .n = n, .d = d, .y = y, .n_classes = n_classes,
                       .seed = vb_seed_derive(spec->seed, ens->name, fold_index), .name = ens->name};
    if ((st = vb_classifier_train(c, &td, err)) != VB_OK) {
        vb_error_prefix(err, "ensemble '%s' (stacking), meta-classifier %s", ens->name, ens->clf->info.name);
        vb_classifier_free(c);
        return st;
    }
    *meta = c;
    return VB_OK;
}

vb_status vb_stack_train(const vb_spec *spec, const vb_spec_pipeline *ens, const vb_dataset *ds, const vb_fold *fold,
                         size_t fold_index, vb_classifier **meta, vb_error *err)
{
    *meta = NULL;
    float *X = NULL;
    int *y = vb_malloc(fold->n_train ? fold->n_train : 1, sizeof *y, err);
    vb_status st = y ? vb_stack_inner_scores(spec, ens, ds, fold, fold_index, &X, err) : VB_ERR_NOMEM;
    for (size_t i = 0; st == VB_OK && i < fold->n_train; i++)
        y[i] = ds->labels[fold->train[i]];
    if (st == VB_OK)
        st = vb_stack_fit(spec, ens, X, fold->n_train, ens->n_members * (size_t)ds->n_classes, y, ds->n_classes,
                          fold_index, meta, err);
    free(X);
    free(y);
    return st;
}

vb_status vb_ensemble_apply(const vb_spec_pipeline *ens, const vb_classifier *meta, size_t M, size_t n, int K,
                            const float *const *scores, const int *const *labels, int *pred, float *out,
                            vb_error *err)
{
    if (ens->ens_method != VB_ENS_STACK) {
        vb_ensemble_vote(ens->ens_method, M, n, K, scores, labels, vb_ensemble_weights(ens), pred, out);
        return VB_OK;
    }
    float *X;
    vb_status st = vb_stack_rows(M, n, K, scores, &X, err);
    if (st != VB_OK)
        return st;
    st = vb_classifier_predict(meta, X, n, M * (size_t)K, pred, out, err);
    free(X);
    return st;
}
