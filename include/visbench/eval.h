/* Evaluation metrics for single-label multi-class predictions.
 *
 * Conventions (those of scikit-learn with zero_division=0): a class that is
 * never predicted has precision 0, a class absent from the truth recall 0.
 * Macro averages run over the classes present in the truth or the
 * predictions; balanced accuracy over the classes present in the truth.
 * Micro averages equal accuracy for single-label data.
 */
#ifndef VISBENCH_EVAL_H
#define VISBENCH_EVAL_H

#include "visbench/core.h"
#include "visbench/taxonomy.h"

typedef struct vb_metrics {
    int n_classes;
    size_t n;
    size_t *confusion; /* n_classes x n_classes: row = true class, column = predicted */
    size_t *support;   /* true samples per class */
    double *precision, *recall, *f1;
    double accuracy, balanced_accuracy;
    double macro_precision, macro_recall, macro_f1;
    double micro_precision, micro_recall, micro_f1;
    double weighted_f1;
} vb_metrics;

/* ---- the metric set ---------------------------------------------------- */

/* The metrics a run is known by (the store keeps them, evaluate prints
 * them), in this order: accuracy, balanced_accuracy, macro_precision,
 * macro_recall, macro_f1, micro_f1, weighted_f1, top2_accuracy,
 * top5_accuracy (more than 5 classes), auc_macro, log_loss (probabilities
 * only). Those that need scores are NaN when scores is NULL; a NaN value
 * means "does not apply". */
#define VB_METRIC_SET_SIZE 11
typedef struct vb_named_value {
    const char *name;
    double v;
} vb_named_value;
void vb_metric_set(const vb_metrics *m, const int *truth, const float *scores, size_t n, int k, int proba,
                   vb_named_value out[VB_METRIC_SET_SIZE]);

/* ---- scores ------------------------------------------------------------ */

/* NaN scores: no metric below ranks a NaN. The AUC and ROC of class c are
 * undefined (NaN, 0 points) when a score of class c is NaN, top-k accuracy
 * is NaN when any score is NaN, and log loss is NaN when any probability is
 * NaN or infinite. Infinite scores rank as the largest / smallest values.
 * Each function terminates in O(n log n) time, whatever the scores. */

/* VB_ERR_NUMERIC, naming the first sample and class, when a score (n x k)
 * is NaN or infinite: how the runner refuses a diverged model's scores
 * before any metric or result is written. */
vb_status vb_scores_check(const float *scores, size_t n, int k, vb_error *err);

/* Area under the ROC curve of class c against the rest, from scores
 * (n x k, higher = more likely c), by the Mann-Whitney statistic with ties
 * counted half. NaN when class c or the rest is absent. This and
 * vb_roc_ovr never fail for memory: without room for their sorted copy of
 * the scores they scan them (O(n) per distinct score), same result. */
double vb_auc_ovr(const int *truth, const float *scores, size_t n, int k, int c);
/* Mean of the per-class one-vs-rest AUCs over the classes present (macro). */
double vb_auc_macro(const int *truth, const float *scores, size_t n, int k);
/* ROC curve of class c vs rest: up to max_points (fpr, tpr) pairs from (0,0)
 * to (1,1), thinned evenly when there are more thresholds. Returns the
 * number of points written (0 when undefined). */
size_t vb_roc_ovr(const int *truth, const float *scores, size_t n, int k, int c, double *fpr, double *tpr,
                  size_t max_points);
/* Fraction of samples whose true class is among the top_k scores (a class
 * ranks by how many classes score strictly higher). */
double vb_topk_accuracy(const int *truth, const float *scores, size_t n, int k, int top_k);
/* Mean negative log-probability of the true class (rows renormalised,
 * probabilities clipped to [1e-15, 1]). */
double vb_log_loss(const int *truth, const float *probs, size_t n, int k);

/* ---- significance ------------------------------------------------------ */

typedef struct vb_mcnemar {
    size_t b;        /* A right, B wrong */
    size_t c;        /* A wrong, B right */
    double statistic; /* (|b - c| - 1)^2 / (b + c), 0 when b + c = 0 */
    double p;        /* exact two-sided binomial p-value */
} vb_mcnemar;

/* McNemar's test between two classifiers' predictions on the same samples. */
void vb_mcnemar_test(const int *truth, const int *pred_a, const int *pred_b, size_t n, vb_mcnemar *out);

typedef struct vb_ttest {
    double mean, sd; /* of the per-fold differences */
    double t, p;     /* corrected statistic, two-sided p (df = folds - 1) */
    int df;
} vb_ttest;

/* Nadeau and Bengio's corrected resampled t-test of per-fold score
 * differences d[0..J) with n_train and n_test samples per fold:
 * t = mean / sqrt((1/J + n_test/n_train) var), var with J-1 degrees. */
vb_status vb_corrected_ttest(const double *d, size_t J, double n_train, double n_test, vb_ttest *out,
                             vb_error *err);
/* Mean and sample standard deviation (J-1) of x[0..n). */
void vb_mean_sd(const double *x, size_t n, double *mean, double *sd);

/* ---- multiple comparisons ---------------------------------------------- */

/* How a family of m p-values is adjusted for testing them all: not at
 * all, by Holm's step-down procedure (1979), or by Bonferroni's bound. */
typedef enum vb_correction { VB_CORRECT_NONE, VB_CORRECT_HOLM, VB_CORRECT_BONFERRONI } vb_correction;

/* "none", "holm", "bonferroni" (as a spec writes them). */
const char *vb_correction_name(vb_correction c);
/* The correction called name (a vb_correction_name); 0 when there is none. */
int vb_correction_parse(const char *name, vb_correction *out);

/* Adjusted p-values of p[0..m), in their order; out may be p. A NaN p (a
 * test that does not apply) stays NaN and is not counted in the family,
 * so m' below is the number of the others. Bonferroni: min(1, m' p).
 * Holm: with p(1) <= ... <= p(m') sorted, the adjusted p(i) is
 * min(1, max over j <= i of (m' - j + 1) p(j)), so adjusted values keep
 * the order of the raw ones, and a test is rejected at level alpha
 * exactly when Holm's procedure rejects it. VB_ERR_PARAM for a p outside
 * [0, 1], VB_ERR_NOMEM when the sort has no room. */
vb_status vb_p_adjust(const double *p, size_t m, vb_correction c, double *out, vb_error *err);

/* ---- k methods over N data sets (Demšar 2006) ---------------------------
 *
 * After J. Demšar, "Statistical Comparisons of Classifiers over Multiple
 * Data Sets", JMLR 7 (2006) 1-30, section 3.2.2: rank the methods on each
 * data set, average the ranks, test whether they differ (Friedman, or
 * Iman and Davenport's less conservative F_F), and if so which pairs do
 * (Nemenyi: two methods differ when their average ranks are at least the
 * critical difference CD apart). */

/* Average ranks of k methods over n_sets data sets from scores (n_sets x
 * k, row = data set, higher = better): on each data set the best method
 * ranks 1 and tied methods share the mean of the ranks they span (0.9,
 * 0.8, 0.8, 0.7 rank 1, 2.5, 2.5, 4). ranks (k) receives each method's
 * mean over the data sets. VB_ERR_DATA for a NaN score, naming its data
 * set and method; VB_ERR_PARAM for no data set or fewer than 2 methods. */
vb_status vb_average_ranks(const double *scores, size_t n_sets, size_t k, double *ranks, vb_error *err);

typedef struct vb_friedman {
    double chi2;     /* Friedman's 12N / (k(k+1)) (sum R_j^2 - k(k+1)^2 / 4) */
    double p_chi2;   /* from the chi-square distribution with k - 1 degrees */
    double ff;       /* Iman-Davenport (N-1) chi2 / (N(k-1) - chi2); +inf when
                        every data set ranks the methods alike, NaN for N = 1 */
    double p_ff;     /* from F(df1, df2); NaN for N = 1 */
    double df1, df2; /* k - 1 and (k-1)(N-1) */
} vb_friedman;

/* The Friedman test (without a correction for ties, as Demšar gives it)
 * and Iman and Davenport's F_F from average ranks (vb_average_ranks) of k
 * methods over n_sets data sets. VB_ERR_PARAM when the ranks are not
 * average ranks (each in [1, k], summing to k(k+1)/2). */
vb_status vb_friedman_test(const double *ranks, size_t n_sets, size_t k, vb_friedman *out, vb_error *err);

/* P(R > w) for R the range (largest minus smallest) of k independent
 * standard normal variables: the tail of the studentized range with
 * infinite degrees of freedom, computed as
 *   k * integral phi(z) (Q(z)^(k-1) - (Q(z) - Q(z+w))^(k-1)) dz
 * by composite Gauss-Legendre quadrature (about 1e-14 absolute). 1 for w
 * <= 0; NaN for k < 2 or a NaN w. */
double vb_normal_range_Q(double w, size_t k);

/* The most methods the Nemenyi functions take. */
#define VB_NEMENYI_MAX_K 10000

/* Critical value q_alpha of the two-tailed Nemenyi test of k methods: the
 * studentized range's 1 - alpha quantile at infinite degrees of freedom
 * over sqrt(2), computed (vb_normal_range_Q, bisection to 1e-12), not
 * read from a table: Demšar's Table 5(a) gives 2.569 for k = 4 at 0.05
 * and 2.291 at 0.10. VB_ERR_PARAM for k outside [2, VB_NEMENYI_MAX_K] or
 * alpha outside (0, 1). */
vb_status vb_nemenyi_q(size_t k, double alpha, double *q, vb_error *err);
/* Nemenyi's critical difference of average ranks over n_sets data sets,
 * CD = q_alpha sqrt(k(k+1) / (6N)): 1.25 for k = 4, N = 14, alpha 0.05. */
vb_status vb_nemenyi_cd(size_t k, size_t n_sets, double alpha, double *cd, vb_error *err);
/* Pairwise Nemenyi p-values (k x k, symmetric, 1 on the diagonal) of
 * average ranks: with z = (R_i - R_j) / sqrt(k(k+1) / (6N)), p is
 * vb_normal_range_Q(sqrt(2) |z|, k), so p < alpha exactly when |R_i - R_j|
 * exceeds the CD at alpha. The family is already accounted for: no
 * further correction applies. */
vb_status vb_nemenyi_pvalues(const double *ranks, size_t k, size_t n_sets, double *p, vb_error *err);
/* The Bonferroni-Dunn test's q_alpha (one control against the k - 1
 * others, Demšar's Table 5(b)): the normal quantile z(1 - alpha / (2(k-1))). */
vb_status vb_bonferroni_dunn_q(size_t k, double alpha, double *q, vb_error *err);

/* Fills m from truth and predictions (labels in [0, n_classes)). A
 * prediction of -1 is no prediction (a hierarchical classifier that stopped
 * above the leaves): wrong, in its true class's support, in no column. */
vb_status vb_metrics_compute(const int *truth, const int *pred, size_t n, int n_classes, vb_metrics *m,
                             vb_error *err);
/* vb_metrics_compute of the predictions that a confusion matrix counts
 * (k x k, row = true class): the scores of folds pooled. */
vb_status vb_metrics_from_confusion(const size_t *cm, int k, vb_metrics *m, vb_error *err);
void vb_metrics_free(vb_metrics *m);

/* ---- clustering -------------------------------------------------------- */

typedef struct vb_cluster_scores {
    double purity; /* fraction of samples in their cluster's majority class */
    double nmi;    /* mutual information / arithmetic mean of the entropies */
    double ari;    /* Hubert and Arabie's adjusted Rand index */
} vb_cluster_scores;

/* Compares a clustering (assign[i] in [0, n_clusters)) with the true
 * classes (truth[i] in [0, n_classes)). Conventions of scikit-learn: NMI
 * and ARI are 1 when both partitions are a single group (or ARI: when both
 * put every sample apart); NMI is 0 when exactly one of them is a single
 * group. VB_ERR_DATA for a label or cluster out of range, n = 0 gives
 * zeros. */
vb_status vb_cluster_compare(const int *truth, const int *assign, size_t n, int n_classes, int n_clusters,
                             vb_cluster_scores *out, vb_error *err);

/* ---- multilabel -------------------------------------------------------
 *
 * Truth Y and predictions P are n x L bytes (0/1), scores n x L (higher =
 * more likely the label; NULL: the ranking metrics are NaN). Conventions,
 * those of scikit-learn with zero_division=0 unless said:
 *   hamming_loss      mismatching (sample, label) pairs / (n L)
 *   subset_accuracy   samples whose predicted set equals the true set
 *   micro P/R/F1      over all (sample, label) pairs
 *   per-label P/R/F1  0 where undefined; support = true count
 *   macro F1          mean over the labels present in the truth or the
 *                     predictions (visbench's single-label convention; a
 *                     label absent from both is not averaged)
 *   samples F1        mean over samples of the F1 of the two sets; a sample
 *                     whose true and predicted sets are both empty scores 1
 *   auc[l]            ROC AUC of label l, NaN when l is all 0 or all 1 in
 *                     the truth; auc_macro the mean of the defined ones
 *   lrap              label ranking average precision; a sample with no
 *                     true label (or all labels true) scores 1
 *   coverage_error    mean over samples of the rank (ties counted at the
 *                     worst) of the lowest-scored true label; 0 for a
 *                     sample with no true label
 */
typedef struct vb_ml_metrics {
    int n_labels;
    size_t n;
    size_t n_empty_truth, n_empty_pred; /* samples with no true / no predicted label */
    double hamming_loss, subset_accuracy;
    double micro_precision, micro_recall, micro_f1;
    double macro_precision, macro_recall, macro_f1, samples_f1;
    double lrap, coverage_error, auc_macro;
    double *precision, *recall, *f1, *auc; /* n_labels each */
    size_t *support, *predicted;           /* true and predicted count per label */
} vb_ml_metrics;

vb_status vb_ml_metrics_compute(const uint8_t *Y, const uint8_t *P, const float *scores, size_t n, int L,
                                vb_ml_metrics *m, vb_error *err);
void vb_ml_metrics_free(vb_ml_metrics *m);
/* The multilabel metrics a run is known by (stored, printed), in this
 * order: subset_accuracy, hamming_loss, micro_f1, macro_f1, samples_f1,
 * micro_precision, micro_recall, lrap, coverage_error, auc_macro. */
#define VB_ML_METRIC_SET_SIZE 10
void vb_ml_metric_set(const vb_ml_metrics *m, vb_named_value out[VB_ML_METRIC_SET_SIZE]);

/* ---- hierarchical -----------------------------------------------------
 *
 * truth: leaves (nodes 0 .. n_leaves-1); pred: any node (an inner node when
 * a classifier stopped early). Hierarchical precision, recall and F1 after
 * Kiritchenko et al. (2006), micro-averaged over samples: with A(x) the
 * node x and its ancestors (the root excluded),
 *   hP = sum |A(pred) ∩ A(true)| / sum |A(pred)|,
 *   hR = sum |A(pred) ∩ A(true)| / sum |A(true)|,  hF = 2 hP hR / (hP + hR).
 * Per level L (1 .. max_depth): both sides mapped by vb_tax_at_level; a
 * prediction that stopped above level L counts as wrong there. Accuracy and
 * macro-F1 (single-label conventions) over vb_tax_level_nodes(L), and the
 * confusion matrix of that level (a stopped prediction is in no column).
 */
typedef struct vb_hier_level {
    int n_nodes;        /* classes of this level */
    int *nodes;         /* their taxonomy node ids */
    double accuracy, macro_f1;
    size_t *confusion;  /* n_nodes x n_nodes: row = true, column = predicted */
    size_t n_stopped;   /* predictions that stopped above this level */
} vb_hier_level;

typedef struct vb_hier_metrics {
    double hp, hr, hf;
    int n_levels;
    vb_hier_level *level; /* n_levels */
} vb_hier_metrics;

vb_status vb_hier_metrics_compute(const vb_taxonomy *t, const int *truth, const int *pred, size_t n,
                                  vb_hier_metrics *m, vb_error *err);
void vb_hier_metrics_free(vb_hier_metrics *m);

/* McNemar's test from per-sample correctness (1 right, 0 wrong) of two
 * methods on the same samples: subset-correctness for multilabel. */
void vb_mcnemar_correct(const uint8_t *right_a, const uint8_t *right_b, size_t n, vb_mcnemar *out);

#endif
