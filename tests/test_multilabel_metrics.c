/* multilabel metrics and McNemar from correctness, against hand-computed
 * values (cross-checked against scikit-learn 1.2.1 where it agrees). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "support/testutil.h"
#include "visbench/eval.h"

#include <math.h>
#include <string.h>

/* 6 samples x 4 labels. Sample 2 has neither true nor predicted labels,
 * sample 5 no true label, sample 1 no predicted label; label 3 is never
 * true and never predicted.
 *
 *        Y        P        scores
 *   s0   1 0 1 0  1 1 1 0  .9 .5 .5 .1
 *   s1   0 1 1 0  0 0 0 0  .2 .6 .3 .6
 *   s2   0 0 0 0  0 0 0 0  .1 .2 .3 .4
 *   s3   1 1 0 0  1 1 1 0  .7 .4 .8 .4
 *   s4   0 0 1 0  0 0 1 0  .3 .3 .3 .2
 *   s5   0 0 0 0  0 1 0 0  .8 .6 .1  0
 *
 * Set metrics:
 *   mismatches: s0 1, s1 2, s3 1, s5 1 -> hamming 5/24; exact sets s2, s4 -> subset 2/6
 *   label 0: support 2, predicted 2, tp 2: P 1,   R 1,   F1 1
 *   label 1: support 2, predicted 3, tp 1: P 1/3, R 1/2, F1 2/5
 *   label 2: support 3, predicted 3, tp 2: P 2/3, R 2/3, F1 2/3
 *   label 3: 0 0 0 -> all 0 and left out of the macro average
 *   micro: tp 5, predicted 8, true 7: P 5/8, R 5/7, F1 10/15 = 2/3
 *   macro over labels 0-2: P 2/3, R 13/18, F1 (1 + 2/5 + 2/3)/3 = 31/45
 *     (scikit-learn averages all 4 labels: 1/2, 13/24, 31/60)
 *   samples F1: s0 2*2/5, s1 0, s2 1 (both empty), s3 4/5, s4 1, s5 0 -> 3.6/6 = 0.6
 *     (scikit-learn 1.2 with zero_division=0 scores s2 0: 2.6/6)
 * Ranking metrics (rank of a label = labels scoring >= it):
 *   LRAP s0: label 0 rank 1 (1 true) 1; label 2 rank 3 (0,1,2; 2 true) 2/3 -> 5/6
 *        s1: label 1 rank 2 (tie with 3; 1 true) 1/2; label 2 rank 3 (2 true) 2/3 -> 7/12
 *        s3: label 0 rank 2 (2,0) 1/2; label 1 rank 4 (2 true) 1/2 -> 1/2
 *        s4: label 2 rank 3 (three-way tie) 1/3;  s2, s5 (no true label) 1
 *        mean (10 + 7 + 12 + 6 + 4 + 12) / 12 / 6 = 17/24
 *   coverage: s0 3, s1 3, s2 0, s3 4, s4 3, s5 0 -> 13/6
 *   AUC label 0: pos .9 .7, neg .2 .1 .3 .8: 4 + 3 of 8 = 7/8
 *       label 1: pos .6 .4, neg .5 .2 .3 .6: 3.5 (tie) + 2 of 8 = 11/16
 *       label 2: pos .5 .3 .3, neg .3 .8 .1: 2 + 1.5 + 1.5 of 9 = 5/9
 *       label 3: never true -> NaN; macro (7/8 + 11/16 + 5/9)/3 = 305/432
 * scikit-learn 1.2.1 gives the same hamming_loss, accuracy_score, micro
 * and per-label P/R/F1, label_ranking_average_precision_score,
 * coverage_error and roc_auc_score per label. */
enum { N = 6, L = 4 };
static const uint8_t Y[N * L] = {1, 0, 1, 0, 0, 1, 1, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0};
static const uint8_t P[N * L] = {1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 1, 0, 0, 1, 0, 0};
static const float S[N * L] = {.9f, .5f, .5f, .1f, .2f, .6f, .3f, .6f, .1f, .2f, .3f, .4f,
                               .7f, .4f, .8f, .4f, .3f, .3f, .3f, .2f, .8f, .6f, .1f, 0};

static void check_set_metrics(const vb_ml_metrics *m)
{
    assert_int_equal(m->n_labels, L);
    assert_int_equal(m->n, N);
    assert_int_equal(m->n_empty_truth, 2);
    assert_int_equal(m->n_empty_pred, 2);
    tu_assert_near(m->hamming_loss, 5.0 / 24, 1e-12);
    tu_assert_near(m->subset_accuracy, 1.0 / 3, 1e-12);
    const size_t support[L] = {2, 2, 3, 0}, predicted[L] = {2, 3, 3, 0};
    assert_memory_equal(m->support, support, sizeof support);
    assert_memory_equal(m->predicted, predicted, sizeof predicted);
    const double prec[L] = {1, 1.0 / 3, 2.0 / 3, 0}, rec[L] = {1, 0.5, 2.0 / 3, 0}, f1[L] = {1, 0.4, 2.0 / 3, 0};
    for (int l = 0; l < L; l++) {
        tu_assert_near(m->precision[l], prec[l], 1e-12);
        tu_assert_near(m->recall[l], rec[l], 1e-12);
        tu_assert_near(m->f1[l], f1[l], 1e-12);
    }
    tu_assert_near(m->micro_precision, 5.0 / 8, 1e-12);
    tu_assert_near(m->micro_recall, 5.0 / 7, 1e-12);
    tu_assert_near(m->micro_f1, 2.0 / 3, 1e-12);
    tu_assert_near(m->macro_precision, 2.0 / 3, 1e-12);
    tu_assert_near(m->macro_recall, 13.0 / 18, 1e-12);
    tu_assert_near(m->macro_f1, 31.0 / 45, 1e-12);
    tu_assert_near(m->samples_f1, 0.6, 1e-12);
}

static void test_hand_computed(void **state)
{
    vb_ml_metrics m;
    vb_error err = {0};
    assert_int_equal(vb_ml_metrics_compute(Y, P, S, N, L, &m, &err), VB_OK);
    check_set_metrics(&m);
    tu_assert_near(m.lrap, 17.0 / 24, 1e-12);
    tu_assert_near(m.coverage_error, 13.0 / 6, 1e-12);
    tu_assert_near(m.auc[0], 7.0 / 8, 1e-12);
    tu_assert_near(m.auc[1], 11.0 / 16, 1e-12);
    tu_assert_near(m.auc[2], 5.0 / 9, 1e-12);
    assert_true(isnan(m.auc[3]));
    tu_assert_near(m.auc_macro, 305.0 / 432, 1e-12);

    vb_named_value v[VB_ML_METRIC_SET_SIZE];
    vb_ml_metric_set(&m, v);
    const char *names[VB_ML_METRIC_SET_SIZE] = {"subset_accuracy", "hamming_loss",    "micro_f1",     "macro_f1",
                                                "samples_f1",      "micro_precision", "micro_recall", "lrap",
                                                "coverage_error",  "auc_macro"};
    const double want[VB_ML_METRIC_SET_SIZE] = {1.0 / 3, 5.0 / 24, 2.0 / 3,   31.0 / 45, 0.6,
                                                5.0 / 8, 5.0 / 7,  17.0 / 24, 13.0 / 6,  305.0 / 432};
    for (int i = 0; i < VB_ML_METRIC_SET_SIZE; i++) {
        assert_string_equal(v[i].name, names[i]);
        tu_assert_near(v[i].v, want[i], 1e-12);
    }
    vb_ml_metrics_free(&m);
    vb_ml_metrics_free(&m); /* freeing twice is harmless */
}

/* Without scores the set metrics stand and the ranking ones are NaN; any
 * nonzero byte is a label. */
static void test_no_scores_and_nonzero_bytes(void **state)
{
    uint8_t Y7[N * L], P9[N * L];
    for (int i = 0; i < N * L; i++) {
        Y7[i] = (uint8_t)(Y[i] * 7);
        P9[i] = (uint8_t)(P[i] * 255);
    }
    vb_ml_metrics m;
    assert_int_equal(vb_ml_metrics_compute(Y7, P9, NULL, N, L, &m, NULL), VB_OK);
    check_set_metrics(&m);
    assert_true(isnan(m.lrap));
    assert_true(isnan(m.coverage_error));
    assert_true(isnan(m.auc_macro));
    for (int l = 0; l < L; l++)
        assert_true(isnan(m.auc[l]));
    vb_ml_metrics_free(&m);
    assert_int_equal(vb_ml_metrics_compute(Y7, P9, S, N, L, &m, NULL), VB_OK);
    tu_assert_near(m.lrap, 17.0 / 24, 1e-12);
    tu_assert_near(m.coverage_error, 13.0 / 6, 1e-12);
    tu_assert_near(m.auc[1], 11.0 / 16, 1e-12);
    vb_ml_metrics_free(&m);
}

static void test_edge_cases(void **state)
{
    vb_ml_metrics m;
    vb_error err = {0};
    /* A NaN score: no ranking of its sample, no AUC of its label; the
     * other labels' AUCs stand. */
    float s[N * L];
    memcpy(s, S, sizeof s);
    s[1 * L + 2] = NAN;
    assert_int_equal(vb_ml_metrics_compute(Y, P, s, N, L, &m, &err), VB_OK);
    assert_true(isnan(m.lrap));
    assert_true(isnan(m.coverage_error));
    assert_true(isnan(m.auc[2]));
    tu_assert_near(m.auc[0], 7.0 / 8, 1e-12);
    tu_assert_near(m.auc_macro, (7.0 / 8 + 11.0 / 16) / 2, 1e-12);
    vb_ml_metrics_free(&m);

    /* Every label true in a sample: LRAP 1, coverage L. All-true label 0
     * has no AUC. Infinite scores rank as extremes. */
    const uint8_t y1[2 * 2] = {1, 1, 1, 0}, p1[2 * 2] = {1, 1, 1, 0};
    const float s1[2 * 2] = {-INFINITY, INFINITY, 0.5f, 0.7f};
    assert_int_equal(vb_ml_metrics_compute(y1, p1, s1, 2, 2, &m, &err), VB_OK);
    /* s0: all true -> 1; s1: label 0 (0.5) ranks 2nd -> 1/2. coverage: 2, 2 */
    tu_assert_near(m.lrap, 0.75, 1e-12);
    tu_assert_near(m.coverage_error, 2.0, 1e-12);
    assert_true(isnan(m.auc[0]));
    /* label 1: pos +inf, neg 0.7 -> 1 */
    tu_assert_near(m.auc[1], 1.0, 1e-12);
    tu_assert_near(m.subset_accuracy, 1.0, 1e-12);
    tu_assert_near(m.samples_f1, 1.0, 1e-12);
    vb_ml_metrics_free(&m);

    /* Three samples without a true label, two without a predicted one:
     * label 0 is predicted once and never true (P R F1 0, still averaged),
     * label 1 is absent (not averaged). Hamming 1/6, subset 2/3, samples F1
     * (0 + 1 + 1)/3. */
    const uint8_t y2[3 * 2] = {0}, p2[3 * 2] = {1, 0, 0, 0, 0, 0};
    assert_int_equal(vb_ml_metrics_compute(y2, p2, NULL, 3, 2, &m, &err), VB_OK);
    assert_int_equal(m.n_empty_truth, 3);
    assert_int_equal(m.n_empty_pred, 2);
    tu_assert_near(m.hamming_loss, 1.0 / 6, 1e-12);
    tu_assert_near(m.subset_accuracy, 2.0 / 3, 1e-12);
    tu_assert_near(m.samples_f1, 2.0 / 3, 1e-12);
    tu_assert_near(m.micro_f1, 0, 0);
    tu_assert_near(m.macro_f1, 0, 0);
    vb_ml_metrics_free(&m);

    /* No samples: zeros, and NaN ranking metrics. */
    assert_int_equal(vb_ml_metrics_compute(Y, P, S, 0, L, &m, &err), VB_OK);
    tu_assert_near(m.hamming_loss, 0, 0);
    tu_assert_near(m.macro_f1, 0, 0);
    assert_true(isnan(m.lrap) && isnan(m.auc_macro));
    vb_ml_metrics_free(&m);

    tu_assert_fails_with(vb_ml_metrics_compute(Y, P, S, N, 0, &m, &err), err, "at least one label");
    assert_int_equal(err.status, VB_ERR_PARAM);
}

/* McNemar from correctness equals McNemar from predictions: the subset
 * correctness of two multilabel predictions, and single-label predictions
 * turned into right/wrong bytes. */
static void test_mcnemar_correct(void **state)
{
    enum { M = 12 };
    const int truth[M] = {0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2};
    const int pa[M] = {0, 1, 2, 0, 1, 2, 0, 1, 0, 0, 2, 2};
    const int pb[M] = {0, 0, 1, 1, 1, 0, 0, 1, 2, 2, 2, 2};
    uint8_t ra[M], rb[M];
    for (int i = 0; i < M; i++) {
        ra[i] = (uint8_t)(pa[i] == truth[i] ? 1 + i : 0); /* any nonzero byte is right */
        rb[i] = pb[i] == truth[i];
    }
    vb_mcnemar want, got;
    vb_mcnemar_test(truth, pa, pb, M, &want);
    vb_mcnemar_correct(ra, rb, M, &got);
    /* a right, b wrong: samples 1 2 3 5 9 (5); a wrong, b right: 8 (1) */
    assert_int_equal(want.b, 5);
    assert_int_equal(want.c, 1);
    assert_int_equal(got.b, want.b);
    assert_int_equal(got.c, want.c);
    assert_true(got.statistic == want.statistic);
    assert_true(got.p == want.p);
    /* (|5 - 1| - 1)^2 / 6 = 1.5; p = 2 P(X <= 1), X ~ Bin(6, 1/2) = 2 * 7/64 */
    tu_assert_near(got.statistic, 1.5, 1e-12);
    tu_assert_near(got.p, 14.0 / 64, 1e-12);

    /* Subset correctness of P against a second prediction Q (s0 fixed,
     * s4 broken): right P = s2 s4, right Q = s0 s2 -> b 1, c 1, p 1. */
    uint8_t Q[N * L];
    memcpy(Q, P, sizeof Q);
    Q[0 * L + 1] = 0;
    Q[4 * L + 0] = 1;
    uint8_t rp[N], rq[N];
    for (int i = 0; i < N; i++) {
        rp[i] = !memcmp(P + i * L, Y + i * L, L);
        rq[i] = !memcmp(Q + i * L, Y + i * L, L);
    }
    vb_mcnemar_correct(rp, rq, N, &got);
    assert_int_equal(got.b, 1);
    assert_int_equal(got.c, 1);
    tu_assert_near(got.statistic, 0, 0);
    tu_assert_near(got.p, 1, 0);
    vb_mcnemar_correct(rp, rp, N, &got);
    assert_int_equal(got.b + got.c, 0);
    tu_assert_near(got.p, 1, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hand_computed),
        cmocka_unit_test(test_no_scores_and_nonzero_bytes),
        cmocka_unit_test(test_edge_cases),
        cmocka_unit_test(test_mcnemar_correct),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
