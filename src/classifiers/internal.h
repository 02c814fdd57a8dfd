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

#endif
