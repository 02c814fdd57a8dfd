/* Helpers shared by the classifier plug-ins (not a public interface). */
#ifndef VB_CLASSIFIERS_INTERNAL_H
#define VB_CLASSIFIERS_INTERNAL_H

#include "visbench/classifier.h"
#include "visbench/eval.h"

/* Every saved state starts with a four-letter tag and a format version, so
 * a state written by another classifier (or an older format) fails to load
 * with VB_ERR_FORMAT instead of being misread. */
#define VB_CLF_TAG(a, b, c, d) \
    ((uint32_t)(a) | (uint32_t)(b) << 8 | (uint32_t)(c) << 16 | (uint32_t)(d) << 24)

void vb_clf_write_tag(vb_writer *w, uint32_t tag, uint32_t version);
vb_status vb_clf_read_tag(vb_reader *r, uint32_t tag, uint32_t version, const char *name, vb_error *err);

/* Checks that a count read from a state can be backed by the bytes left
 * (each element at least elem_bytes long) before anything is allocated. */
vb_status vb_clf_check_count(const vb_reader *r, uint64_t count, size_t elem_bytes, const char *what,
                             vb_error *err);

/* Maps each of k groups (clusters) to the most frequent training label among
 * its members (ties: the smaller label); empty groups get the most frequent
 * label overall. assign: n group indices in [0, k). */
vb_status vb_clf_majority_map(const int *assign, const int *y, size_t n, int k, int n_classes, int *map,
                              vb_error *err);

/* Squared Euclidean norms of the n rows of X (n x d), in double. */
void vb_clf_row_sqnorms(const float *X, size_t n, size_t d, float *out);

/* Squared Euclidean distances D (n x k) from the rows of X (n x d) to the
 * centres C (k x d, squared norms csq), by one GEMM: |x|^2 + |c|^2 - 2 x.c,
 * clamped at 0. VB_ERR_NOMEM when the sizes overflow BLAS ints. */
vb_status vb_clf_sqdist(const float *X, size_t n, size_t d, const float *C, const float *csq, size_t k, float *D,
                        vb_error *err);

/* logreg's objective f(theta) (theta = [W (K x d), b (K)]) and its
 * gradient, exposed for the gradient check in the tests. NaN on no memory. */
double vb_logreg_objective(const float *X, const int *y, size_t n, size_t d, int K, double C, double l1,
                           int intercept, const double *theta, double *grad);

/* gmm: one EM step (E with the given parameters, then M in place) of a
 * diagonal mixture; returns the mean log-likelihood per sample before the
 * step. Exposed to check it against VLFeat's vl_gmm in the tests. */
double vb_gmm_em_once(const float *X, size_t n, size_t d, int k, float *mu, float *var, double *pi, double floor_v);

/* Our k-means (in gmm.c; the kmeans classifier and gmm's initial mixture):
 * Lloyd iterations with Hamerly's bounds from the k centres C (k x d,
 * refined in place) until no row changes cluster, the summed squared centre
 * shift is <= shift_tol, or max_iter; a (n) gets the nearest centre of
 * every row. Returns the iterations run, -1 on no memory. The tests check
 * it against VLFeat's Lloyd k-means. */
int vb_clf_kmeans_lloyd(const float *X, size_t n, size_t d, int k, float *C, int max_iter, double shift_tol,
                        uint32_t *a);

/* k-means++ seeding as scikit-learn does it (greedy: 2 + log k candidate
 * draws per centre, the one that lowers the potential most is kept): k rows
 * of X copied into C (k x d). The kmeans classifier and gmm's initial
 * mixture both start from it. */
vb_status vb_clf_kmeans_pp(const float *X, size_t n, size_t d, size_t k, vb_rng *rng, float *C, vb_error *err);

/* Appends ', "train_purity": p, "train_nmi": n, "train_ari": a' to an info
 * JSON object: the clustering classifiers' report on the training set. */
void vb_clf_cluster_json(vb_buf *b, const vb_cluster_scores *s);

/* k distinct random rows of X (a seeded shuffle) copied into C (k x d); the
 * other seeding of both. */
vb_status vb_clf_random_rows(const float *X, size_t n, size_t d, size_t k, vb_rng *rng, float *C, vb_error *err);

/* The mean over the d features of their variance (the scale of both
 * k-means' stopping tolerance), summed the same way for any thread count. */
vb_status vb_clf_mean_variance(const float *X, size_t n, size_t d, double *out, vb_error *err);

/* Inserts (v, j) into the list (dd, ii) of length *len <= k, sorted by
 * (v, j), when it ranks among the k smallest (knn's neighbour lists). */
static inline void vb_topk_push(float *dd, int32_t *ii, int *len, int k, float v, int32_t j)
{
    int m = *len;
    if (m == k) {
        if (v > dd[m - 1] || (v == dd[m - 1] && j > ii[m - 1]))
            return;
        m--;
    }
    int p = m;
    while (p > 0 && (dd[p - 1] > v || (dd[p - 1] == v && ii[p - 1] > j))) {
        dd[p] = dd[p - 1];
        ii[p] = ii[p - 1];
        p--;
    }
    dd[p] = v;
    ii[p] = j;
    *len = m + 1;
}

/* Exact k nearest neighbours in squared Euclidean distance (nnsearch.c):
 * neighbours ranked by (directly summed distance, index), BLAS GEMMs only
 * to bound the distances and skip rows, optionally on the leading principal
 * components. The index borrows X (n x d), which must outlive it.
 * prune: 0 none, -1 chosen by a pilot (when n and d are large enough),
 * m > 0 that many components. k: the k the queries will use (for the
 * pilot). */
typedef struct vb_nn_index vb_nn_index;
vb_status vb_nn_build(const float *X, size_t n, size_t d, int k, int prune, uint64_t seed, vb_nn_index **out,
                      vb_error *err);
void vb_nn_free(vb_nn_index *ix);
/* the leading components the bounds use (0: none) */
int vb_nn_dims(const vb_nn_index *ix);
/* bounds kept per query before the threshold drops (0: the default); for
 * the tests of the overflow path */
void vb_nn_set_reserve(vb_nn_index *ix, int reserve);
/* Reorders (v, j) so that v[r] is the (r+1)-th smallest value, with none
 * larger before it and none smaller after it (r < n; ties in any order). */
void vb_nn_select(float *v, int32_t *j, size_t n, size_t r);
/* For each of the nq rows of Q (nq x d), its k <= n nearest rows: squared
 * distances ascending (dist, nq x k) and indices (idx, nq x k); ties to the
 * smaller index. Working memory about 2 x block_mb. */
vb_status vb_nn_query(const vb_nn_index *ix, const float *Q, size_t nq, int k, double block_mb, float *dist,
                      int32_t *idx, vb_error *err);

/* ---- boost: XGBoost models --------------------------------------------- */

/* Checks a saved XGBoost model (UBJSON, xgbmodel.c) before XGBoost reads
 * it: its syntax, and that it is a gbtree of n_trees well-formed trees for
 * d features and n_classes classes with boost's objective (binary:logistic
 * for two classes, else multi:softprob). VB_ERR_FORMAT naming `what`. */
vb_status vb_boost_check_model(const uint8_t *buf, size_t len, size_t d, int n_classes, uint64_t n_trees,
                               const char *what, vb_error *err);

/* ---- wrappers over a base classifier (br, chain, hier) ----------------- */

/* The `base` parameter of a wrapper: "svm" or {svm: {C: 10}}, a
 * single-label classifier of the registry (no grid, no clustering, no
 * wrapper). *vt and *bp (parsed, to free with vb_params_free) on success;
 * errors name the place in the spec. */
vb_status vb_clf_parse_base(const vb_params *p, const char *owner, const vb_classifier_vt **vt, vb_params *bp,
                            vb_error *err);
/* The node that the `base` parameter of a wrapper's table declares. */
#define VB_BASE_PARAM(what)                                                                                   \
    {.name = "base", .type = VB_PT_NODE, .def = "{logreg: {}}",                                              \
     .help = "the classifier " what ": any single-label classifier of the registry with its parameters, e.g. " \
             "{svm: {kernel: linear, C: 1}}"}
/* Per-class scores (n x k, from a base classifier) turned into a
 * distribution per row in place: probabilities are renormalised, decision
 * values go through a softmax. */
void vb_clf_scores_to_dist(float *s, size_t n, int k, int proba);

/* ---- multilabel decision thresholds (br, chain, cnn with sigmoid outputs) --
 *
 * A label is predicted when its score is above its threshold. Modes:
 * fixed (every threshold = base), global (one threshold for every label,
 * maximising micro-F1 on the validation rows), per-label (each label's own,
 * maximising its F1; base for a label with no positive validation row).
 * Candidates are base and the midpoints between consecutive distinct
 * validation scores; ties go to the candidate closest to base. */
enum { VB_ML_THRESH_FIXED, VB_ML_THRESH_GLOBAL, VB_ML_THRESH_PER_LABEL };
/* The parameter table entries "threshold" and "threshold_value" every
 * multilabel classifier declares (threshold_value: auto = 0.5 for
 * probabilities, 0 for decision values). */
#define VB_ML_THRESH_PARAMS                                                                                   \
    {.name = "threshold", .type = VB_PT_ENUM, .def = "per-label", .choices = "per-label|global|fixed",       \
     .help = "multilabel decision thresholds: tuned per label or one global value on the validation part "   \
             "(split.validation), or fixed"},                                                                \
    {.name = "threshold_value", .type = VB_PT_FLOAT, .def = "auto", .min = -1e6, .max = 1e6,                 \
     .choices = "auto",                                                                                       \
     .help = "the fixed threshold, and the start of tuning (auto: 0.5 for probabilities, 0 for decision "    \
             "values)"}
/* Mode and base threshold from those parameters. */
void vb_ml_thresh_params(const vb_params *p, int proba, int *mode, float *base);
/* Thresholds t (L) from validation scores S (n x L) and truth Y (n x L);
 * with n = 0 every threshold is base. */
vb_status vb_ml_tune_thresholds(const float *S, const uint8_t *Y, size_t n, int L, int mode, float base, float *t,
                                vb_error *err);
/* sets[i L + l] = S[i L + l] > t[l]. */
void vb_ml_apply_thresholds(const float *S, size_t n, int L, const float *t, uint8_t *sets);

#endif
