/* Experiment specs: one dataset, one split protocol, a list of pipelines.
 *
 *     name: quickstart
 *     seed: 42
 *     dataset: ../datasets/fashion-mnist.yaml     # or an inline mapping
 *                                                 # or datasets: [a.yaml, b.yaml, ...]
 *     mode: classify                              # or cluster (kmeans, gmm; labels optional)
 *     correction: holm                            # of pairwise p-values: none, holm, bonferroni
 *     split: {protocol: official-test, train_limit: 10000}
 *     preprocess: [{resize: [32, 32]}]            # for every pipeline
 *     pipelines:
 *       - name: hog-svm
 *         preprocess: [grayscale]                 # appended to the global list
 *         features: [{hog: {cell: 4}}]            # default [raw]
 *         postprocess: [standardize]
 *         classifier: {svm: {C: [1, 10]}}         # a list = a grid tuned on validation
 *         tune: {metric: macro_f1, folds: 3}      # optional: metric, inner k-fold
 *     ensembles:                                  # optional: pipelines combined
 *       - {name: vote2, of: [hog-svm, raw-svm], method: soft}   # soft | hard | stacking
 *         augment: {flip: true, copies: 2}        # optional: augmented training copies
 *
 * Parsing is strict: unknown keys, wrong types, values out of range and
 * unknown plug-ins are errors naming file:line:column, with a suggestion.
 */
#ifndef VISBENCH_SPEC_H
#define VISBENCH_SPEC_H

#include "visbench/augment.h"
#include "visbench/classifier.h"
#include "visbench/eval.h"
#include "visbench/features.h"
#include "visbench/split.h"

/* At most this many preprocessing ops, extractors and post-processing steps
 * in one pipeline (the global preprocessing included). */
#define VB_PIPELINE_MAX_STEPS 64

typedef struct vb_spec_pipeline {
    char *name;
    int line, col;
    vb_prep_chain prep; /* global ops then the pipeline's own */
    size_t n_ext;
    const vb_extractor_vt **ext;
    vb_params *ext_params;
    size_t n_post;
    const vb_post_vt **post;
    vb_params *post_params;
    const vb_classifier_vt *clf;
    vb_params clf_params; /* may hold grid alternatives */
    vb_params tune;       /* how a grid is tuned (vb_tune_plugin) */
    vb_params search;     /* grid or random search (vb_search_plugin) */
    vb_params augment;    /* augmented copies of the training images (vb_augment_plugin); plugin NULL: none */
    int owns_clf;         /* a drawn pipeline: clf_params are its own */
    /* An ensemble (the spec's ensembles:, listed after every pipeline):
     * n_members > 0 pipelines (indices into spec->pipelines, never
     * ensembles) combined by ens_method, with ens_params (method, weights,
     * folds, meta) as written. Stacking's meta-classifier is clf /
     * clf_params; soft and hard voting have clf NULL. An ensemble has no
     * preprocessing, extractors or post-processing of its own. */
    size_t n_members;
    size_t *members;
    int ens_method;                  /* vb_ens_method (ensemble.h) */
    const struct vb_spec_pipeline *all; /* the spec's pipelines: member m is all[members[m]] */
    vb_params ens_params;
    int in_ensemble; /* a pipeline some ensemble combines (the runner keeps its test scores) */
} vb_spec_pipeline;

/* Is sp an ensemble of pipelines? */
static inline int vb_spec_is_ensemble(const vb_spec_pipeline *sp)
{
    return sp->n_members > 0;
}

typedef struct vb_spec {
    char *path;
    char *name;
    char *text; /* the spec file's text */
    uint64_t hash;
    uint64_t seed;
    int cluster;           /* mode: cluster (every classifier clusters; labels only score it) */
    vb_correction correction; /* of the pairwise p-values in reports (correction:, default holm) */
    char *dataset_path;    /* the dataset run on: a path (resolved against the spec's folder) */
    vb_node *dataset_node; /* or inline */
    /* datasets: [a, b, ...] (or the one dataset): every pipeline runs on
     * each, under the same protocol, as an experiment of its own; the
     * selected one (vb_spec_select_dataset, the first by default) is in
     * dataset_path / dataset_node, which point into these arrays */
    size_t n_datasets, dataset_index;
    char **dataset_paths;    /* NULL entries for inline ones */
    vb_node **dataset_nodes; /* NULL entries for paths */
    int *dataset_lines, *dataset_cols; /* where each is in the spec */
    char *base_dir;        /* the spec's folder */
    vb_split_conf split;
    vb_params split_params; /* the split block as written: where each parameter is */
    int split_line, split_col; /* the split block's place, 0 when the spec has none */
    size_t n_pipelines;         /* pipelines, then ensembles */
    vb_spec_pipeline *pipelines;
    size_t n_ensembles;         /* the last n_ensembles of pipelines */
} vb_spec;

/* ---- the whole grid (src/pipeline/grid.c) --------------------------------
 * A pipeline's preprocessing, extractor and post-processing parameters may
 * list values too: each combination is a feature variant, and the grid is
 * the variants times the classifier's points, tuned as one. */

/* The parameter sets of a pipeline that may list values, in its order
 * (preprocessing ops, extractors, post-processing steps, then with with_clf
 * the classifier), each with its plug-in's name. */
typedef struct vb_param_sets {
    size_t n;
    const vb_params *p[VB_PIPELINE_MAX_STEPS + 1];
    const char *owner[VB_PIPELINE_MAX_STEPS + 1];
} vb_param_sets;
void vb_pipeline_param_sets(const vb_spec_pipeline *sp, int with_clf, vb_param_sets *out);
/* How many feature variants sp has (1 without a feature grid). */
size_t vb_pipeline_variants(const vb_spec_pipeline *sp);
/* sp with every preprocessing, extractor and post-processing parameter at
 * variant v; shares sp's name, plug-ins, classifier (with its grid) and
 * tune block, owns its parameter copies (vb_pipeline_variant_free). */
vb_status vb_pipeline_variant(const vb_spec_pipeline *sp, size_t v, vb_spec_pipeline *out, vb_error *err);
void vb_pipeline_variant_free(vb_spec_pipeline *v);
/* "hog.cell=6, pca.components=20": the feature grid values of variant v. */
void vb_pipeline_variant_describe(const vb_spec_pipeline *sp, size_t v, vb_buf *b);
/* The feature grid parameters ("hog.cell") whose value at variant v is the
 * first or last of a numeric list of more than two; returns how many. */
size_t vb_pipeline_variant_edges(const vb_spec_pipeline *sp, size_t v, char names[][96], size_t max);

/* Random search: how many points a pipeline draws (search: {random: N}),
 * 0 for a grid search of every point. */
size_t vb_pipeline_random(const vb_spec_pipeline *sp);
/* Draw i of sp's random search: every parameter that lists values or gives
 * a range at a value drawn with seed vb_seed_derive(seed, "search:" name,
 * i), so draw i is the same in every fold and process; owns its parameters
 * (vb_pipeline_variant_free). */
vb_status vb_pipeline_draw(const vb_spec_pipeline *sp, uint64_t seed, size_t i, vb_spec_pipeline *out,
                           vb_error *err);
/* "hog.cell=6, C=12.5": the drawn values. */
void vb_pipeline_draw_describe(const vb_spec_pipeline *sp, const vb_spec_pipeline *drawn, vb_buf *b);
/* The drawn values at an end of their list or range ("svm.C"). */
size_t vb_pipeline_draw_edges(const vb_spec_pipeline *sp, const vb_spec_pipeline *drawn, char names[][96],
                              size_t max);
/* The grid points a pipeline tunes over: its random draws, or feature
 * variants x classifier points. */
size_t vb_pipeline_points(const vb_spec_pipeline *sp);
/* What a pipeline's search tries one by one: its random draws, or its
 * feature variants (each with the classifier's grid); 1 for a pipeline
 * without either. */
size_t vb_pipeline_candidates(const vb_spec_pipeline *sp);
/* Candidate i (draw i with seed, or variant i), owning its parameters
 * (vb_pipeline_variant_free); text (may be NULL) gets what it is
 * ("hog.cell=6", "hog.cell=6, C=35.19"; empty without a grid). */
vb_status vb_pipeline_candidate(const vb_spec_pipeline *sp, uint64_t seed, size_t i, vb_spec_pipeline *out,
                                vb_buf *text, vb_error *err);

/* The split block's parameter table (for `visbench list` and the docs). */
extern const vb_plugin vb_split_plugin;
/* A pipeline's `tune` block: how a classifier grid is tuned. */
extern const vb_plugin vb_tune_plugin;
/* A pipeline's `search` block: grid or random search. */
extern const vb_plugin vb_search_plugin;
/* An entry of the spec's `ensembles` list. */
extern const vb_plugin vb_ensemble_plugin;
/* A pipeline's `augment` block: each training image's augmented copies
 * (augment.h), added to the training rows before feature extraction. */
extern const vb_plugin vb_augment_plugin;
/* The augmented copies of each training image sp adds (0 without an
 * augment block), and what they are drawn from. */
int vb_pipeline_copies(const vb_spec_pipeline *sp, vb_augment *a);

vb_status vb_spec_load(const char *path, vb_spec **out, vb_error *err);
vb_status vb_spec_parse(const char *text, const char *name, vb_spec **out, vb_error *err);
void vb_spec_free(vb_spec *spec);
vb_status vb_spec_load_dataset(const vb_spec *spec, vb_dataset **out, vb_error *err);
/* Makes dataset i (0-based) of `datasets` the one dataset_path / node and
 * vb_spec_load_dataset name. */
void vb_spec_select_dataset(vb_spec *spec, size_t i);
/* What the spec calls dataset i: its path as written, or "dataset N" for an
 * inline one (for messages and --dataset). */
const char *vb_spec_dataset_label(const vb_spec *spec, size_t i, char *buf, size_t size);
/* Makes the spec's split of ds (vb_split_make). A failure is placed in
 * the spec: at the split parameter it is about (file:line:col: split.k:
 * ...), at the protocol when that parameter has its default, else at the
 * split block or the spec. */
vb_status vb_spec_split(const vb_spec *spec, const vb_dataset *ds, vb_split **out, vb_error *err);
/* The pipeline called name, or NULL. */
const vb_spec_pipeline *vb_spec_find_pipeline(const vb_spec *spec, const char *name);

#endif
