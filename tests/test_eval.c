/* eval: metrics against hand-computed values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "support/testutil.h"
#include "visbench/eval.h"

#include <math.h>
#include <string.h>
#include <unistd.h>

/* truth: 0 0 0 1 1 2 2 2 2 ; pred: 0 1 0 1 1 2 0 2 1
 * confusion (rows true, cols pred):
 *   0: [2 1 0]   1: [0 2 0]   2: [1 1 2]
 * precision: 0: 2/3, 1: 2/4, 2: 2/2; recall: 0: 2/3, 1: 2/2, 2: 2/4 */
static void test_hand_computed(void **state)
{
    const int truth[] = {0, 0, 0, 1, 1, 2, 2, 2, 2}, pred[] = {0, 1, 0, 1, 1, 2, 0, 2, 1};
    vb_metrics m;
    vb_error err = {0};
    assert_int_equal(vb_metrics_compute(truth, pred, 9, 3, &m, &err), VB_OK);
    const size_t conf[9] = {2, 1, 0, 0, 2, 0, 1, 1, 2};
    assert_memory_equal(m.confusion, conf, sizeof conf);
    assert_int_equal(m.support[0], 3);
    assert_int_equal(m.support[2], 4);
    assert_float_equal(m.accuracy, 6.0 / 9.0, 1e-12);
    assert_float_equal(m.precision[0], 2.0 / 3.0, 1e-12);
    assert_float_equal(m.precision[1], 0.5, 1e-12);
    assert_float_equal(m.precision[2], 1.0, 1e-12);
    assert_float_equal(m.recall[1], 1.0, 1e-12);
    assert_float_equal(m.recall[2], 0.5, 1e-12);
    assert_float_equal(m.f1[1], 2 * 0.5 * 1.0 / 1.5, 1e-12);
    assert_float_equal(m.balanced_accuracy, (2.0 / 3 + 1.0 + 0.5) / 3, 1e-12);
    double f1s = 2.0 / 3 + 2.0 / 3 + 2 * 0.5 / 1.5;
    assert_float_equal(m.macro_f1, f1s / 3, 1e-12);
    assert_float_equal(m.weighted_f1, (3 * (2.0 / 3) + 2 * (2.0 / 3) + 4 * (2.0 / 3)) / 9, 1e-12);
    assert_float_equal(m.micro_f1, m.accuracy, 1e-12);
    vb_metrics_free(&m);
}

/* A class never predicted has precision 0 and still counts in the macro
 * average; a class absent from both is left out. */
static void test_absent_classes(void **state)
{
    const int truth[] = {0, 0, 1, 1}, pred[] = {0, 0, 0, 0};
    vb_metrics m;
    assert_int_equal(vb_metrics_compute(truth, pred, 4, 3, &m, NULL), VB_OK);
    assert_float_equal(m.precision[1], 0.0, 0);
    assert_float_equal(m.recall[1], 0.0, 0);
    assert_float_equal(m.precision[0], 0.5, 1e-12);
    /* macro over classes 0 and 1 (class 2 absent everywhere) */
    assert_float_equal(m.macro_precision, 0.25, 1e-12);
    assert_float_equal(m.macro_recall, 0.5, 1e-12);
    assert_float_equal(m.balanced_accuracy, 0.5, 1e-12);
    vb_metrics_free(&m);
}

/* The metrics of a confusion matrix are those of the predictions it
 * counts: [[3, 1], [0, 2]] is 3 right and 1 wrong of class 0, 2 right of
 * class 1. */
static void test_from_confusion(void **state)
{
    const size_t cm[4] = {3, 1, 0, 2};
    vb_metrics m;
    assert_int_equal(vb_metrics_from_confusion(cm, 2, &m, NULL), VB_OK);
    assert_int_equal(m.n, 6);
    assert_memory_equal(m.confusion, cm, sizeof cm);
    assert_float_equal(m.accuracy, 5.0 / 6, 1e-12);
    assert_float_equal(m.precision[1], 2.0 / 3, 1e-12);
    assert_float_equal(m.recall[0], 0.75, 1e-12);
    assert_float_equal(m.macro_f1, (6.0 / 7 + 4.0 / 5) / 2, 1e-12); /* 2 TP / (2 TP + FP + FN) */
    assert_float_equal(m.balanced_accuracy, (0.75 + 1.0) / 2, 1e-12);
    vb_metrics_free(&m);
    const size_t none[4] = {0};
    assert_int_equal(vb_metrics_from_confusion(none, 2, &m, NULL), VB_OK);
    assert_int_equal(m.n, 0);
    assert_float_equal(m.accuracy, 0.0, 0);
    vb_metrics_free(&m);
}

static void test_label_out_of_range(void **state)
{
    const int truth[] = {0, 3}, pred[] = {0, 0};
    vb_metrics m;
    vb_error err = {0};
    tu_assert_fails_with(vb_metrics_compute(truth, pred, 2, 3, &m, &err), err, "label out of range at sample 1");
}

/* Two classes; column 1 holds the class-1 scores. Positives score 0.9 and
 * 0.4, negatives 0.8 and 0.1: 3 of 4 pairs are ordered right. */
static const int auc_truth[] = {1, 0, 1, 0};
static const float auc_scores[] = {0.1f, 0.9f, 0.2f, 0.8f, 0.6f, 0.4f, 0.9f, 0.1f};

static void test_auc_hand(void **state)
{
    assert_float_equal(vb_auc_ovr(auc_truth, auc_scores, 4, 2, 1), 0.75, 1e-12);
    /* class 0's column: positives (truth 0) 0.2, 0.9; negatives 0.1, 0.6 -> 3/4 */
    assert_float_equal(vb_auc_ovr(auc_truth, auc_scores, 4, 2, 0), 0.75, 1e-12);
    assert_float_equal(vb_auc_macro(auc_truth, auc_scores, 4, 2), 0.75, 1e-12);
    /* A tie between a positive and a negative counts half: 1 + 0.5 of 2... */
    const int t2[] = {1, 0, 0};
    const float s2[] = {0, 0.5f, 0, 0.5f, 0, 0.2f};
    assert_float_equal(vb_auc_ovr(t2, s2, 3, 2, 1), (0.5 + 1.0) / 2.0, 1e-12);
    /* Undefined without negatives. */
    const int t3[] = {1, 1};
    const float s3[] = {0, 1, 0, 2};
    assert_true(isnan(vb_auc_ovr(t3, s3, 2, 2, 1)));
}

static void test_roc_hand(void **state)
{
    double fpr[10], tpr[10];
    size_t n = vb_roc_ovr(auc_truth, auc_scores, 4, 2, 1, fpr, tpr, 10);
    const double ef[] = {0, 0, 0.5, 0.5, 1}, et[] = {0, 0.5, 0.5, 1, 1};
    assert_int_equal(n, 5);
    for (size_t i = 0; i < n; i++) {
        assert_float_equal(fpr[i], ef[i], 1e-12);
        assert_float_equal(tpr[i], et[i], 1e-12);
    }
    /* Thinned to 3 points it still runs from (0,0) to (1,1), monotonic. */
    n = vb_roc_ovr(auc_truth, auc_scores, 4, 2, 1, fpr, tpr, 3);
    assert_int_equal(n, 3);
    assert_float_equal(fpr[0], 0, 0);
    assert_float_equal(tpr[n - 1], 1, 0);
    assert_float_equal(fpr[n - 1], 1, 0);
    assert_true(fpr[1] >= fpr[0] && tpr[1] >= tpr[0]);
}

static void test_topk_logloss(void **state)
{
    const int truth[] = {0, 1, 2};
    const float p[] = {0.5f, 0.3f, 0.2f, /* true 0: rank 1 */
                       0.5f, 0.25f, 0.25f, /* true 1: rank 2 (tie with class 2 does not push it down) */
                       0.6f, 0.3f, 0.1f}; /* true 2: rank 3 */
    assert_float_equal(vb_topk_accuracy(truth, p, 3, 3, 1), 1.0 / 3, 1e-12);
    assert_float_equal(vb_topk_accuracy(truth, p, 3, 3, 2), 2.0 / 3, 1e-12);
    assert_float_equal(vb_topk_accuracy(truth, p, 3, 3, 3), 1.0, 1e-12);
    double expect = -(log(0.5) + log(0.25) + log(0.1)) / 3;
    assert_float_equal(vb_log_loss(truth, p, 3, 3), expect, 1e-6);
    /* Rows are renormalised: doubling every probability changes nothing. */
    float q[9];
    for (int i = 0; i < 9; i++)
        q[i] = 2 * p[i];
    assert_float_equal(vb_log_loss(truth, q, 3, 3), expect, 1e-6);
}

/* NaN scores (a diverged model): every score metric returns, with the
 * value eval.h documents. The alarm only turns a hang (the AUC's tie walk
 * once never advanced past a NaN) into a failure instead of a stuck make. */
static void test_nan_scores(void **state)
{
    alarm(60);
    const int truth[] = {1, 0, 1, 0};
    float s[8];
    memcpy(s, auc_scores, sizeof s);
    s[3] = NAN; /* sample 1, class 1 */
    assert_true(isnan(vb_auc_ovr(truth, s, 4, 2, 1)));
    /* class 0's column has no NaN: its AUC stands, and the macro is its */
    assert_float_equal(vb_auc_ovr(truth, s, 4, 2, 0), 0.75, 1e-12);
    assert_float_equal(vb_auc_macro(truth, s, 4, 2), 0.75, 1e-12);
    double fpr[10], tpr[10];
    assert_int_equal(vb_roc_ovr(truth, s, 4, 2, 1, fpr, tpr, 10), 0);
    assert_int_equal(vb_roc_ovr(truth, s, 4, 2, 0, fpr, tpr, 10), 5);
    assert_true(isnan(vb_topk_accuracy(truth, s, 4, 2, 1)));
    assert_true(isnan(vb_log_loss(truth, s, 4, 2)));
    float all[8];
    for (int i = 0; i < 8; i++)
        all[i] = NAN;
    assert_true(isnan(vb_auc_macro(truth, all, 4, 2)));
    assert_int_equal(vb_roc_ovr(truth, all, 4, 2, 0, fpr, tpr, 10), 0);
    /* infinite scores rank as the extremes: -inf for the 0.1 negative and
     * +inf for the 0.9 positive change no order */
    memcpy(s, auc_scores, sizeof s);
    s[1] = INFINITY;
    s[7] = -INFINITY;
    assert_float_equal(vb_auc_ovr(truth, s, 4, 2, 1), 0.75, 1e-12);
    assert_int_equal(vb_roc_ovr(truth, s, 4, 2, 1, fpr, tpr, 10), 5);
    assert_float_equal(vb_topk_accuracy(truth, s, 4, 2, 1), 0.5, 1e-12);
    /* as probabilities they are not: log loss is NaN */
    assert_true(isnan(vb_log_loss(truth, s, 4, 2)));
    alarm(0);
}

static void test_scores_check(void **state)
{
    vb_error err = {0};
    assert_int_equal(vb_scores_check(auc_scores, 4, 2, &err), VB_OK);
    float s[8];
    memcpy(s, auc_scores, sizeof s);
    s[5] = NAN;
    tu_assert_fails_with(vb_scores_check(s, 4, 2, &err), err, "scored test sample 3 of 4 NaN for class 1");
    assert_int_equal(err.status, VB_ERR_NUMERIC);
    s[5] = 0;
    s[6] = -INFINITY;
    tu_assert_fails_with(vb_scores_check(s, 4, 2, &err), err, "scored test sample 4 of 4 -infinity for class 0");
}

/* b = 10 samples only A gets right, c = 2 only B: exact two-sided p =
 * 2 P(X <= 2), X ~ Bin(12, 1/2) = 2 (1 + 12 + 66) / 4096. */
static void test_mcnemar_hand(void **state)
{
    enum { N = 20 };
    int truth[N] = {0}, a[N], b[N];
    for (int i = 0; i < N; i++) {
        a[i] = b[i] = 0; /* both right */
        if (i < 10)
            b[i] = 1; /* only A right */
        else if (i < 12)
            a[i] = 1; /* only B right */
        else if (i < 14)
            a[i] = b[i] = 1; /* both wrong */
    }
    vb_mcnemar m;
    vb_mcnemar_test(truth, a, b, N, &m);
    assert_int_equal(m.b, 10);
    assert_int_equal(m.c, 2);
    assert_float_equal(m.statistic, 49.0 / 12.0, 1e-12);
    assert_float_equal(m.p, 158.0 / 4096.0, 1e-12);
    vb_mcnemar_test(truth, a, a, N, &m);
    assert_float_equal(m.p, 1.0, 0);
}

/* Differences built so that the corrected statistic equals the 97.5%
 * quantile of Student's t with 4 degrees of freedom (2.776445105), whose
 * two-sided p-value is 0.05 by definition. */
static void test_corrected_ttest(void **state)
{
    const double tq = 2.776445105, a = 0.01, ntr = 8000, nte = 2000;
    /* d = [m+a, m-a, m, m, m]: sd = a / sqrt(2); t = m / sqrt((1/5 + 1/4) a^2 / 2) */
    double m = tq * sqrt((0.2 + 0.25) * a * a / 2);
    double d[5] = {m + a, m - a, m, m, m};
    vb_ttest t;
    vb_error err = {0};
    assert_int_equal(vb_corrected_ttest(d, 5, ntr, nte, &t, &err), VB_OK);
    assert_int_equal(t.df, 4);
    assert_float_equal(t.mean, m, 1e-15);
    assert_float_equal(t.sd, a / sqrt(2), 1e-15);
    assert_float_equal(t.t, tq, 1e-9);
    assert_float_equal(t.p, 0.05, 1e-8);
    /* The uncorrected test would be far more confident: the correction matters. */
    assert_true(t.t < m / (t.sd / sqrt(5)));
    tu_assert_fails_with(vb_corrected_ttest(d, 1, ntr, nte, &t, &err), err, "needs at least 2 folds");
    double same[3] = {0.01, 0.01, 0.01};
    assert_int_equal(vb_corrected_ttest(same, 3, ntr, nte, &t, &err), VB_OK);
    assert_float_equal(t.p, 0.0, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hand_computed),
        cmocka_unit_test(test_absent_classes),
        cmocka_unit_test(test_label_out_of_range),
        cmocka_unit_test(test_from_confusion),
        cmocka_unit_test(test_auc_hand),
        cmocka_unit_test(test_roc_hand),
        cmocka_unit_test(test_topk_logloss),
        cmocka_unit_test(test_nan_scores),
        cmocka_unit_test(test_scores_check),
        cmocka_unit_test(test_mcnemar_hand),
        cmocka_unit_test(test_corrected_ttest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
