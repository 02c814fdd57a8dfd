/* Ensembles of pipelines (the spec's ensembles:): several pipelines'
 * predictions on one fold combined into one.
 *
 *   soft      the weighted mean of the members' probabilities;
 *   hard      a weighted majority of their predicted labels (ties to the
 *             first member, in `of` order, that voted for a tied class);
 *             scores are each class's share of the vote;
 *   stacking  a meta-classifier on the members' scores side by side
 *             (M x K columns). It learns from scores the members give rows
 *             they did not train on: an inner stratified k-fold of the
 *             fold's training part, each member fitted by the engine on
 *             k-1 parts and scoring the held-out one. The fold's test rows
 *             never reach it: their scores are only what it predicts from.
 *
 * The runner evaluates an ensemble on each fold from its members' test
 * scores (as stored with their runs, never refitted when they are at hand);
 * `train` fits the members on the whole pool and, for stacking, the
 * meta-classifier by the same inner k-fold, into one model file.
 */
#ifndef VISBENCH_ENSEMBLE_H
#define VISBENCH_ENSEMBLE_H

#include "visbench/pipeline.h"

typedef enum vb_ens_method { VB_ENS_SOFT, VB_ENS_HARD, VB_ENS_STACK } vb_ens_method;

const char *vb_ens_method_name(vb_ens_method m);

/* Soft or hard vote of M members over n rows of K classes. soft: scores[m]
 * (n x K probabilities); hard: labels[m] (n, in [0, K)). weights: M, or
 * NULL for equal. pred: n; out: n x K (soft: probabilities; hard: vote
 * shares). */
void vb_ensemble_vote(vb_ens_method method, size_t M, size_t n, int K, const float *const *scores,
                      const int *const *labels, const double *weights, int *pred, float *out);

/* The meta-classifier's rows: row i is the members' scores of row i side
 * by side (n x M*K, malloc'ed into *X). */
vb_status vb_stack_rows(size_t M, size_t n, int K, const float *const *scores, float **X, vb_error *err);

/* One pipeline fitted by the engine on fold (its training part, tuned on
 * its validation part) and applied to the fold's test rows: labels (n_test)
 * and scores (n_test x K, malloc'ed); *proba: they are probabilities.
 * cache: the fold's feature cache (NULL: one of its own). */
vb_status vb_pipeline_test_scores(const vb_spec *spec, const vb_spec_pipeline *sp, const vb_dataset *ds,
                                  const vb_fold *fold, size_t fold_index, vb_feat_cache *cache, int **labels,
                                  float **scores, int *proba, vb_error *err);

/* Stacking: every member's scores for the fold's training rows, each from
 * the member fitted without that row (ens's inner k-fold, seeded by the
 * spec's seed, the ensemble's name and fold_index), side by side:
 * n_train x M*K into *X. Reads nothing of the fold's test part. */
vb_status vb_stack_inner_scores(const vb_spec *spec, const vb_spec_pipeline *ens, const vb_dataset *ds,
                                const vb_fold *fold, size_t fold_index, float **X, vb_error *err);

/* Stacking: the meta-classifier of ens trained on X (n x d, the inner
 * scores) with labels y; seed as any classifier's (spec seed, ensemble
 * name, fold index). */
vb_status vb_stack_fit(const vb_spec *spec, const vb_spec_pipeline *ens, const float *X, size_t n, size_t d,
                       const int *y, int n_classes, size_t fold_index, vb_classifier **meta, vb_error *err);

/* Stacking on a fold: vb_stack_inner_scores, then vb_stack_fit on them
 * with the training part's labels. */
vb_status vb_stack_train(const vb_spec *spec, const vb_spec_pipeline *ens, const vb_dataset *ds, const vb_fold *fold,
                         size_t fold_index, vb_classifier **meta, vb_error *err);

/* Combines M members' test predictions (labels[m], scores[m], n x K) by
 * ens's method (meta: the fitted meta-classifier for stacking, else NULL)
 * into pred and out (n x K). */
vb_status vb_ensemble_apply(const vb_spec_pipeline *ens, const vb_classifier *meta, size_t M, size_t n, int K,
                            const float *const *scores, const int *const *labels, int *pred, float *out,
                            vb_error *err);

/* The weights of ens (NULL for equal or stacking). */
const double *vb_ensemble_weights(const vb_spec_pipeline *ens);

#endif
