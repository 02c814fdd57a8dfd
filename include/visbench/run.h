/* One finished run of one pipeline on one fold: what the runner hands to a
 * sink (the store, `run --json`). Plain data over eval.h and traindata.h,
 * so the store and the JSON writer need neither the pipeline nor the
 * classifiers. */
#ifndef VISBENCH_RUN_H
#define VISBENCH_RUN_H

#include "visbench/eval.h"
#include "visbench/traindata.h"

typedef struct vb_run_result {
    const char *pipeline, *fold;
    size_t fold_index;
    size_t n_train, n_val, n_test;
    int n_classes;
    const size_t *test_idx; /* dataset indices of the test samples */
    const int *truth, *pred;
    const float *scores;    /* n_test x n_classes, or NULL */
    int proba;              /* scores are probabilities */
    const vb_metrics *metrics;
    double extract_s, postprocess_s, tune_s, train_s, predict_s; /* train_s: the classifier alone */
    int features_shared;    /* the features came from an earlier pipeline's extraction */
    size_t peak_rss_kb, model_bytes, dim;
    const char *features;   /* "hog 1519 + raw 784 -> 2303" */
    const char *params;     /* the classifier's parameters as used (canonical YAML) */
    const char *grid;       /* chosen grid values ("C=10, gamma=0.01") or NULL */
    const char *clf_info;   /* JSON members from the classifier, or "" */
    const vb_epoch *epochs; /* learning curve (CNN), or NULL */
    size_t n_epochs;
    /* Provenance of this run: wall-clock start and end (seconds since the
     * Unix epoch) and the thread count it ran with. */
    double started, finished;
    int threads;
    /* Clusterings (kmeans, gmm in cluster mode): n_clusters > 0; cluster
     * holds the test part's purity, NMI and ARI against the labels (NULL
     * without labels). In mode: cluster (cluster_mode), where accuracy and
     * the other classification metrics are not kept, assign[j] is the
     * cluster of dataset sample assigned_idx[j], for every sample of the
     * fold's training and test parts (n_assigned; 0 otherwise). */
    int cluster_mode, n_clusters;
    const vb_cluster_scores *cluster;
    size_t n_assigned;
    const size_t *assigned_idx;
    const int *assign;
    /* The task (vb_task, data.h). Multilabel: the test part's label sets
     * (n_test x n_classes bytes each) and their metrics, metrics is NULL,
     * truth holds each image's first label and pred its best-scoring one,
     * scores are per label. Hierarchical: the taxonomy and the hierarchical
     * metrics; pred may be an inner node (a node id >= n_classes) where the
     * classifier stopped early. */
    int task;
    const uint8_t *truth_sets, *pred_sets;
    const vb_ml_metrics *ml;
    const vb_taxonomy *tax;
    const vb_hier_metrics *hier;
} vb_run_result;

#endif
