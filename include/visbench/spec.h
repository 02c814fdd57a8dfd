/* Experiment specs: one dataset, one split protocol, a list of pipelines.
 *
 *     name: quickstart
 *     seed: 42
 *     dataset: ../datasets/fashion-mnist.yaml     # or an inline mapping
 *     mode: classify                              # or cluster (kmeans, gmm; labels optional)
 *     split: {protocol: official-test, train_limit: 10000}
 *     preprocess: [{resize: [32, 32]}]            # for every pipeline
 *     pipelines:
 *       - name: hog-svm
 *         preprocess: [grayscale]                 # appended to the global list
 *         features: [{hog: {cell: 4}}]            # default [raw]
 *         postprocess: [standardize]
 *         classifier: {svm: {C: [1, 10]}}         # a list = a grid tuned on validation
 *         tune: {metric: macro_f1, folds: 3}      # optional: metric, inner k-fold
 *
 * Parsing is strict: unknown keys, wrong types, values out of range and
 * unknown plug-ins are errors naming file:line:column, with a suggestion.
 */
#ifndef VISBENCH_SPEC_H
#define VISBENCH_SPEC_H

#include "visbench/classifier.h"
#include "visbench/features.h"
#include "visbench/split.h"

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
} vb_spec_pipeline;

typedef struct vb_spec {
    char *path;
    char *name;
    char *text; /* the spec file's text */
    uint64_t hash;
    uint64_t seed;
    int cluster;           /* mode: cluster (every classifier clusters; labels only score it) */
    char *dataset_path;    /* dataset given as a path (resolved against the spec's folder) */
    vb_node *dataset_node; /* or inline */
    char *base_dir;        /* the spec's folder */
    vb_split_conf split;
    vb_params split_params; /* the split block as written: where each parameter is */
    int split_line, split_col; /* the split block's place, 0 when the spec has none */
    size_t n_pipelines;
    vb_spec_pipeline *pipelines;
} vb_spec;

/* The split block's parameter table (for `visbench list` and the docs). */
extern const vb_plugin vb_split_plugin;
/* A pipeline's `tune` block: how a classifier grid is tuned. */
extern const vb_plugin vb_tune_plugin;

vb_status vb_spec_load(const char *path, vb_spec **out, vb_error *err);
vb_status vb_spec_parse(const char *text, const char *name, vb_spec **out, vb_error *err);
void vb_spec_free(vb_spec *spec);
vb_status vb_spec_load_dataset(const vb_spec *spec, vb_dataset **out, vb_error *err);
/* Makes the spec's split of ds (vb_split_make). A failure is placed in
 * the spec: at the split parameter it is about (file:line:col: split.k:
 * ...), at the protocol when that parameter has its default, else at the
 * split block or the spec. */
vb_status vb_spec_split(const vb_spec *spec, const vb_dataset *ds, vb_split **out, vb_error *err);
/* The pipeline called name, or NULL. */
const vb_spec_pipeline *vb_spec_find_pipeline(const vb_spec *spec, const char *name);

#endif
