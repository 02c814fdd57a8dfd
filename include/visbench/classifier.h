/* Classifiers: trained on an n x d float matrix (row-major) with labels in
 * [0, n_classes), they predict labels and per-class scores.
 *
 * Scores are probabilities when the vtable says VB_CLF_PROBA (they sum to 1
 * per row), decision scores otherwise (higher = more likely). A classifier
 * whose input is an image tensor (the CNN) sets VB_CLF_IMAGE and receives
 * the shape in vb_traindata.
 *
 * The instance wrapper (vb_classifier) does the checks common to all:
 * finite features, at least two classes, the dimension at prediction, and
 * remembers d and n_classes for save/load.
 */
#ifndef VISBENCH_CLASSIFIER_H
#define VISBENCH_CLASSIFIER_H

#include "visbench/param.h"
#include "visbench/serial.h"
#include "visbench/traindata.h"

/* Capabilities, declared in the vtable's flags. */
#define VB_CLF_PROBA 1u /* scores are probabilities (when proba_if says so, only then) */
#define VB_CLF_IMAGE 2u /* expects raw image rows (shape known) */
/* Multilabel (when multilabel_if says so, only then): trains on label sets
 * (vb_traindata.Y), predicts a set per row (predict_sets) with one score
 * per label, independent across labels (probabilities of each label with
 * VB_CLF_PROBA, else decision values). */
#define VB_CLF_MULTILABEL 4u
/* Hierarchical: trains on leaves with the taxonomy (vb_traindata.tax) and
 * may predict an inner node (label = its node id, >= n_classes) where it stops early. */
#define VB_CLF_HIER 8u

struct vb_cnn; /* cnn.h */

/* A condition on one parameter: `name` equals `value` (an enum choice, or
 * "true"/"false" for a bool). */
typedef struct vb_param_rule {
    const char *name, *value;
} vb_param_rule;

typedef struct vb_classifier_vt {
    vb_plugin info;
    unsigned flags;
    /* Validates parameters (before any training) and builds the state. */
    vb_status (*create)(const vb_params *p, void **state, vb_error *err);
    vb_status (*train)(void *state, const vb_traindata *td, vb_error *err);
    /* labels: n; scores: n x n_classes, or NULL when not wanted. */
    vb_status (*predict)(const void *state, const float *X, size_t n, int *labels, float *scores, vb_error *err);
    vb_status (*save)(const void *state, vb_writer *w, vb_error *err);
    vb_status (*load)(void *state, vb_reader *r, vb_error *err);
    /* Optional: facts about the trained model as JSON members ("\"n_sv\": 12"). */
    void (*info_json)(const void *state, vb_buf *b);
    void (*destroy)(void *state);
    /* Optional: checks the parameters against the input before any work
     * (d features per row; shape when rows are images; n_classes). */
    vb_status (*check)(const void *state, size_t d, vb_shape shape, int n_classes, vb_error *err);
    /* Optional: the learning curve of the last training (number of epochs). */
    size_t (*curve)(const void *state, const vb_epoch **epochs);
    /* The feature count and class count the trained state works with; the
     * wrapper checks them against its own after a load, so a corrupt file
     * cannot make prediction read or write out of bounds. Required for
     * classifiers that can be loaded. */
    void (*dims)(const void *state, size_t *d, int *n_classes);
    /* With VB_CLF_PROBA: the parameter setting that makes the scores
     * probabilities (svm: probability true; linear: loss logistic), or
     * {NULL} when they always are. */
    vb_param_rule proba_if;
    /* Optional, for clusterings (kmeans, gmm in cluster mode): the cluster
     * of each of n rows into assign, in [0, *k); *k = 0 when this
     * instance is no clustering. cluster_if: the parameter setting that
     * makes an instance a clustering ({NULL}: every instance is). */
    vb_status (*cluster)(const void *state, const float *X, size_t n, int *assign, int *k, vb_error *err);
    vb_param_rule cluster_if;
    /* With VB_CLF_MULTILABEL: the label set of each of n rows into sets
     * (n x n_classes, 0/1) and per-label scores (n x n_classes, or NULL),
     * thresholds applied as the classifier tuned them. Its `predict` then
     * gives each row's best-scoring label. multilabel_if: the parameter
     * setting that makes an instance multilabel ({NULL}: every instance). */
    vb_status (*predict_sets)(const void *state, const float *X, size_t n, uint8_t *sets, float *scores,
                              vb_error *err);
    vb_param_rule multilabel_if;
    /* Optional, with VB_CLF_PROBA: decides from the parameters whether the
     * scores are probabilities, instead of proba_if (a wrapper whose scores
     * are its base classifier's: br, chain). */
    int (*proba_of)(const vb_params *p);
    /* Optional, for a classifier that is a network (cnn): its trained
     * network (NULL before training), which the cnn extractor and
     * init_from reuse from a model file. */
    const struct vb_cnn *(*net)(const void *state);
} vb_classifier_vt;

const vb_classifier_vt *const *vb_classifier_registry(size_t *n);
const vb_classifier_vt *vb_classifier_find(const char *name);

typedef struct vb_classifier {
    const vb_classifier_vt *vt;
    vb_params params;
    void *state;
    size_t d;
    int n_classes;
    int trained;
} vb_classifier;

vb_status vb_classifier_new(const vb_classifier_vt *vt, const vb_params *params, vb_classifier **out,
                            vb_error *err);
void vb_classifier_free(vb_classifier *c);
vb_status vb_classifier_train(vb_classifier *c, const vb_traindata *td, vb_error *err);
vb_status vb_classifier_predict(const vb_classifier *c, const float *X, size_t n, size_t d, int *labels,
                                float *scores, vb_error *err);
/* Checks the instance's parameters against the input before any work: d
 * features per row, shape when the rows are images (zeros otherwise),
 * n_classes. Image classifiers (VB_CLF_IMAGE) need the shape; then the
 * classifier's own check runs, if it has one. */
vb_status vb_classifier_check(const vb_classifier *c, size_t d, vb_shape shape, int n_classes, vb_error *err);
/* The learning curve of the last training (NULL and 0 when there is none). */
size_t vb_classifier_curve(const vb_classifier *c, const vb_epoch **epochs);
/* The cluster of each of n rows (n x d) when the trained instance is a
 * clustering (*k clusters), else *k = 0 and assign is untouched. */
vb_status vb_classifier_cluster(const vb_classifier *c, const float *X, size_t n, size_t d, int *assign, int *k,
                                vb_error *err);
/* Can instances of this vtable, with these parameters, cluster? */
int vb_classifier_clusters(const vb_classifier_vt *vt, const vb_params *p);
/* Can instances of this vtable, with these parameters, learn label sets? */
int vb_classifier_multilabels(const vb_classifier_vt *vt, const vb_params *p);
/* Label sets (n x n_classes bytes) and per-label scores (or NULL) of n rows
 * from a trained multilabel instance. */
vb_status vb_classifier_predict_sets(const vb_classifier *c, const float *X, size_t n, size_t d, uint8_t *sets,
                                     float *scores, vb_error *err);
/* Would an instance of vt with parameters p give probabilities? */
int vb_classifier_params_proba(const vb_classifier_vt *vt, const vb_params *p);
/* Each of n rows' best-scoring class (ties to the lower) from scores
 * (n x k): a multilabel prediction's label when one label is wanted. */
void vb_scores_argmax(const float *scores, size_t n, int k, int *labels);
/* Are this instance's scores probabilities? */
int vb_classifier_has_proba(const vb_classifier *c);
/* Serialises d, n_classes and the trained state (params are the caller's). */
vb_status vb_classifier_save(const vb_classifier *c, vb_writer *w, vb_error *err);
vb_status vb_classifier_load(vb_classifier *c, vb_reader *r, vb_error *err);

/* First non-finite value in X (n x d), or 0 when all are finite. */
int vb_find_nonfinite(const float *X, size_t n, size_t d, size_t *row, size_t *col);

#endif
