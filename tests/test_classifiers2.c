/* classifiers: linear, knn, forest, logreg, kmeans, gmm on synthetic data
 * with known answers; save/load round trips, determinism and errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "support/clfutil.h"
#include "support/testutil.h"
#include "visbench/classifier.h"
#include "visbench/eval.h"
#include "../src/classifiers/internal.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <vl/gmm.h>
#include <vl/kmeans.h>

/* VLFeat's GMM object leaks internal buffers on vl_gmm_delete (used here
 * only, as the reference of test_gmm_vs_vlfeat): keep LeakSanitizer quiet
 * about those. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) { return "leak:vl_gmm_new\nleak:vl_gmm_em\nleak:vl_gmm_cluster\n"; }

/* ---- helpers ----------------------------------------------------------- */

/* Every classifier under test, with parameters that suit small blobs. */
typedef struct ccase {
    const char *name, *params;
} ccase;

static const ccase cases[] = {
    {"linear", "{loss: hinge}"},
    {"linear", "{loss: logistic, solver: sgd, epochs: 20}"},
    {"knn", "{k: 3}"},
    {"knn", "{k: 4, metric: cosine, weights: distance}"},
    {"knn", "{k: 3, metric: l1}"},
    {"knn", "{k: 3, metric: chi2}"},
    {"knn", "{k: 3, search: kdforest, trees: 2}"},
    {"forest", "{n_trees: 10}"},
    {"forest", "{n_trees: 5, criterion: entropy, max_features: all, bootstrap: false}"},
    {"logreg", "{}"},
    {"logreg", "{l1: 0.1}"},
    {"kmeans", "{k: 3}"},
    {"kmeans", "{k: 3, algorithm: lloyd, init: random, scores: onehot}"},
    {"kmeans", "{k: 3, init: random, repetitions: 3}"},
    {"gmm", "{}"},
    {"gmm", "{mode: classify, k: 2}"},
};
#define N_CASES (sizeof cases / sizeof cases[0])

/* Three well separated blobs in 4-d, shifted positive (for chi2). */
static float *blobs3(size_t n_per, uint64_t seed, int **y)
{
    float *X = tu_blobs(3, n_per, 4, 12.0, seed, y);
    for (size_t i = 0; i < 3 * n_per * 4; i++)
        X[i] += 8.0f;
    return X;
}

/* ---- every classifier -------------------------------------------------- */

/* Separable blobs: every classifier gets all test points right. */
static void test_blobs_all(void **state)
{
    int *y, *yt;
    float *X = blobs3(60, 1, &y), *Xt = blobs3(40, 2, &yt);
    int pred[120];
    float scores[360];
    for (size_t k = 0; k < N_CASES; k++) {
        vb_classifier *c = cu_make(cases[k].name, cases[k].params);
        cu_train(c, X, y, 180, 4, 3, 7);
        cu_predict(c, Xt, 120, 4, pred, scores);
        double acc = cu_accuracy(pred, yt, 120);
        if (acc < 1.0)
            fail_msg("%s %s: test accuracy %.3f on separable blobs", cases[k].name, cases[k].params, acc);
        if (vb_classifier_has_proba(c))
            for (size_t i = 0; i < 120; i++) {
                double sum = 0;
                for (int j = 0; j < 3; j++) {
                    assert_true(scores[i * 3 + j] >= 0 && scores[i * 3 + j] <= 1);
                    sum += scores[i * 3 + j];
                }
                assert_float_equal(sum, 1.0, 1e-5);
            }
        /* the label is the top score */
        for (size_t i = 0; i < 120; i++)
            for (int j = 0; j < 3; j++)
                assert_true(scores[i * 3 + j] <= scores[i * 3 + (size_t)pred[i]]);
        vb_classifier_free(c);
    }
    free(X);
    free(y);
    free(Xt);
    free(yt);
}

/* save -> load -> predict gives bit-identical labels and scores; and every
 * truncated state fails with VB_ERR_FORMAT. */
static void test_round_trip_all(void **state)
{
    int *y, *yt;
    float *X = blobs3(20, 3, &y), *Xt = blobs3(10, 4, &yt);
    int p1[30], p2[30];
    float s1[90], s2[90];
    for (size_t k = 0; k < N_CASES; k++) {
        vb_classifier *c = cu_make(cases[k].name, cases[k].params);
        cu_train(c, X, y, 60, 4, 3, 11);
        cu_predict(c, Xt, 30, 4, p1, s1);
        vb_writer w;
        cu_save(c, &w);
        vb_classifier *c2 = cu_make(cases[k].name, cases[k].params);
        vb_reader r;
        vb_error err = {0};
        vb_reader_init(&r, w.buf.data, w.buf.len, "state");
        if (vb_classifier_load(c2, &r, &err) != VB_OK)
            fail_msg("load %s: %s", cases[k].name, err.msg);
        assert_int_equal(vb_reader_left(&r), 0);
        cu_predict(c2, Xt, 30, 4, p2, s2);
        assert_memory_equal(p1, p2, sizeof p1);
        assert_memory_equal(s1, s2, sizeof s1);
        /* saving the loaded model gives the same bytes */
        vb_writer w2;
        cu_save(c2, &w2);
        assert_int_equal(w2.buf.len, w.buf.len);
        assert_memory_equal(w2.buf.data, w.buf.data, w.buf.len);
        vb_writer_free(&w2);
        vb_classifier_free(c2);
        for (size_t len = 0; len < w.buf.len; len++) {
            vb_classifier *c3 = cu_make(cases[k].name, cases[k].params);
            vb_reader_init(&r, w.buf.data, len, "state");
            vb_status st = vb_classifier_load(c3, &r, &err);
            if (st != VB_ERR_FORMAT)
                fail_msg("%s: a state truncated to %zu of %zu bytes gave %s, not FORMAT", cases[k].name, len,
                         w.buf.len, vb_status_name(st));
            vb_classifier_free(c3);
        }
        vb_writer_free(&w);
        vb_classifier_free(c);
    }
    free(X);
    free(y);
    free(Xt);
    free(yt);
}

/* The same seed gives the same model (bit-identical saved state); for the
 * stochastic ones another seed gives another model. */
static void test_determinism_all(void **state)
{
    int *y;
    float *X = blobs3(30, 5, &y);
    for (size_t k = 0; k < N_CASES; k++) {
        vb_writer w[2];
        for (int rep = 0; rep < 2; rep++) {
            vb_classifier *c = cu_make(cases[k].name, cases[k].params);
            cu_train(c, X, y, 90, 4, 3, 99);
            cu_save(c, &w[rep]);
            vb_classifier_free(c);
        }
        if (w[0].buf.len != w[1].buf.len || memcmp(w[0].buf.data, w[1].buf.data, w[0].buf.len) != 0)
            fail_msg("%s %s: two trainings with the same seed differ", cases[k].name, cases[k].params);
        vb_writer_free(&w[0]);
        vb_writer_free(&w[1]);
    }
    free(X);
    free(y);
}

/* A saved svm state loaded into each of the others fails cleanly; and each
 * one's state loaded into another kind too. */
static void test_wrong_state_all(void **state)
{
    int *y;
    float *X = blobs3(10, 6, &y);
    vb_classifier *svm = cu_make("svm", "{kernel: linear}");
    cu_train(svm, X, y, 30, 4, 3, 1);
    vb_writer ws;
    cu_save(svm, &ws);
    for (size_t k = 0; k < N_CASES; k++) {
        vb_classifier *c = cu_make(cases[k].name, cases[k].params);
        vb_reader r;
        vb_error err = {0};
        vb_reader_init(&r, ws.buf.data, ws.buf.len, "svm.state");
        tu_assert_fails_with(vb_classifier_load(c, &r, &err), err, "not a saved");
        assert_int_equal(err.status, VB_ERR_FORMAT);
        /* and this one's state into the next kind of the table */
        cu_train(c, X, y, 30, 4, 3, 1);
        vb_writer w;
        cu_save(c, &w);
        const ccase *o = &cases[(k + 2) % N_CASES];
        if (strcmp(o->name, cases[k].name) != 0) {
            vb_classifier *c2 = cu_make(o->name, o->params);
            vb_reader_init(&r, w.buf.data, w.buf.len, "other.state");
            assert_int_equal(vb_classifier_load(c2, &r, &err), VB_ERR_FORMAT);
            vb_classifier_free(c2);
        }
        vb_writer_free(&w);
        vb_classifier_free(c);
    }
    vb_writer_free(&ws);
    vb_classifier_free(svm);
    free(X);
    free(y);
}

/* NaN in the features, a dimension mismatch at prediction. */
static void test_bad_input_all(void **state)
{
    int *y;
    float *X = blobs3(10, 8, &y);
    int pred[2];
    for (size_t k = 0; k < N_CASES; k++) {
        vb_classifier *c = cu_make(cases[k].name, cases[k].params);
        vb_error err = {0};
        float keep = X[13];
        X[13] = NAN;
        vb_traindata td = cu_data(X, y, 30, 4, 3, 1);
        tu_assert_fails_with(vb_classifier_train(c, &td, &err), err, "NaN");
        X[13] = keep;
        cu_train(c, X, y, 30, 4, 3, 1);
        tu_assert_fails_with(vb_classifier_predict(c, X, 2, 3, pred, NULL, &err), err, "trained on 4 features");
        float row[4] = {1, 2, INFINITY, 4};
        tu_assert_fails_with(vb_classifier_predict(c, row, 1, 4, pred, NULL, &err), err, "not finite");
        vb_classifier_free(c);
    }
    free(X);
    free(y);
}

/* ---- knn --------------------------------------------------------------- */

/* Training points on a line (x, 1): 0, 1, 3, 6, 10 with labels
 * 0 0 1 1 1; the query x = 2.2 (second coordinate 1).
 *   l1 / l2 distances: 2.2, 1.2, 0.8, 3.8, 7.8 -> nearest 3: rows 2, 1, 0
 *   -> labels 1, 0, 0: class 0 wins 2/3.
 *   weights distance: class 0: 1/1.2 + 1/2.2, class 1: 1/0.8. */
static const float line_X[] = {0, 1, 1, 1, 3, 1, 6, 1, 10, 1};
static const int line_y[] = {0, 0, 1, 1, 1};

static void test_knn_hand(void **state)
{
    const float q[] = {2.2f, 1};
    int label;
    float sc[2];
    const char *metrics[] = {"l2", "l1"};
    for (int m = 0; m < 2; m++) {
        char yaml[128];
        snprintf(yaml, sizeof yaml, "{k: 3, metric: %s}", metrics[m]);
        vb_classifier *c = cu_make("knn", yaml);
        cu_train(c, line_X, line_y, 5, 2, 2, 1);
        cu_predict(c, q, 1, 2, &label, sc);
        assert_int_equal(label, 0);
        assert_float_equal(sc[0], 2.0 / 3.0, 1e-6);
        assert_float_equal(sc[1], 1.0 / 3.0, 1e-6);
        vb_classifier_free(c);
        snprintf(yaml, sizeof yaml, "{k: 3, metric: %s, weights: distance}", metrics[m]);
        c = cu_make("knn", yaml);
        cu_train(c, line_X, line_y, 5, 2, 2, 1);
        cu_predict(c, q, 1, 2, &label, sc);
        double w0 = 1 / 1.2 + 1 / 2.2, w1 = 1 / 0.8;
        assert_int_equal(label, 0);
        assert_float_equal(sc[0], w0 / (w0 + w1), 1e-5);
        vb_classifier_free(c);
    }
    /* chi2 of (2.2, 1) to (x, 1): (2.2 - x)^2 / (2.2 + x):
     *   x=0: 2.2, x=1: 1.44/3.2 = 0.45, x=3: 0.64/5.2 = 0.123, x=6: 14.44/8.2 = 1.761,
     *   x=10: 60.84/12.2 = 4.987 -> nearest 3: rows 2, 1, 3 -> labels 1, 0, 1. */
    vb_classifier *c = cu_make("knn", "{k: 3, metric: chi2}");
    cu_train(c, line_X, line_y, 5, 2, 2, 1);
    cu_predict(c, q, 1, 2, &label, sc);
    assert_int_equal(label, 1);
    assert_float_equal(sc[1], 2.0 / 3.0, 1e-6);
    vb_classifier_free(c);
    c = cu_make("knn", "{k: 2, metric: chi2, weights: distance}");
    cu_train(c, line_X, line_y, 5, 2, 2, 1);
    cu_predict(c, q, 1, 2, &label, sc);
    double a = 1 / (0.64 / 5.2), b = 1 / (1.44 / 3.2);
    assert_float_equal(sc[1], a / (a + b), 1e-5);
    vb_classifier_free(c);
    /* cosine: directions of (1,1)=45deg, (3,1), ... query (2.2,1);
     * cos distances: row0 (0,1): 1 - 1/|q| = 1 - 1/2.4166 = 0.5862;
     * row1 (1,1): 1 - 3.2/(2.4166*1.41421) = 0.0637; row2 (3,1): 1 - 7.6/(2.4166*3.1623) = 0.00548;
     * row3 (6,1): 1 - 14.2/(2.4166*6.0828) = 0.0340; row4: 1 - 23/(2.4166*10.0499) = 0.0530
     * -> nearest 3: rows 2, 3, 4 -> all class 1. */
    c = cu_make("knn", "{k: 3, metric: cosine}");
    cu_train(c, line_X, line_y, 5, 2, 2, 1);
    cu_predict(c, q, 1, 2, &label, sc);
    assert_int_equal(label, 1);
    assert_float_equal(sc[1], 1.0, 1e-6);
    vb_classifier_free(c);
}

/* A query at equal distance from two training rows of different classes
 * with k = 1 takes the earlier row; a 1-1 vote tie takes the smaller class. */
static void test_knn_ties(void **state)
{
    const float X[] = {0, 0, 2, 0, 4, 0};
    const int y[] = {1, 0, 1};
    const float q[] = {1, 0};
    int label;
    float sc[2];
    vb_classifier *c = cu_make("knn", "{k: 1}");
    cu_train(c, X, y, 3, 2, 2, 1);
    cu_predict(c, q, 1, 2, &label, sc);
    assert_int_equal(label, 1); /* row 0 (class 1) before row 1 (class 0) */
    vb_classifier_free(c);
    c = cu_make("knn", "{k: 2, metric: l1}");
    cu_train(c, X, y, 3, 2, 2, 1);
    cu_predict(c, q, 1, 2, &label, sc);
    assert_int_equal(label, 0); /* one vote each: the smaller class */
    assert_float_equal(sc[0], 0.5, 0);
    vb_classifier_free(c);
}

/* Blocked brute force (one test row per block) equals a single block. */
static void test_knn_blocked(void **state)
{
    int *y, *yt;
    float *X = tu_blobs(4, 50, 6, 2.0, 21, &y), *Xt = tu_blobs(4, 25, 6, 2.0, 22, &yt);
    int p1[100], p2[100];
    float s1[400], s2[400];
    const char *metrics[] = {"l2", "cosine"};
    for (int m = 0; m < 2; m++) {
        char a[128], b[128];
        snprintf(a, sizeof a, "{k: 7, metric: %s, block_mb: 1000}", metrics[m]);
        snprintf(b, sizeof b, "{k: 7, metric: %s, block_mb: 0.0000001}", metrics[m]);
        vb_classifier *c1 = cu_make("knn", a), *c2 = cu_make("knn", b);
        cu_train(c1, X, y, 200, 6, 4, 1);
        cu_train(c2, X, y, 200, 6, 4, 1);
        cu_predict(c1, Xt, 100, 6, p1, s1);
        cu_predict(c2, Xt, 100, 6, p2, s2);
        assert_memory_equal(p1, p2, sizeof p1);
        assert_memory_equal(s1, s2, sizeof s1);
        vb_classifier_free(c1);
        vb_classifier_free(c2);
    }
    /* the kd-forest with unlimited comparisons is exact */
    vb_classifier *c1 = cu_make("knn", "{k: 5}"), *c2 = cu_make("knn", "{k: 5, search: kdforest, max_comparisons: 0}");
    cu_train(c1, X, y, 200, 6, 4, 1);
    cu_train(c2, X, y, 200, 6, 4, 1);
    cu_predict(c1, Xt, 100, 6, p1, s1);
    cu_predict(c2, Xt, 100, 6, p2, s2);
    assert_memory_equal(p1, p2, sizeof p1);
    for (size_t i = 0; i < 400; i++)
        assert_float_equal(s1[i], s2[i], 1e-6);
    vb_classifier_free(c1);
    vb_classifier_free(c2);
    free(X);
    free(y);
    free(Xt);
    free(yt);
}

static void test_knn_errors(void **state)
{
    vb_classifier *c = cu_make("knn", "{k: 6}");
    vb_traindata td = cu_data(line_X, line_y, 5, 2, 2, 1);
    vb_error err = {0};
    tu_assert_fails_with(vb_classifier_train(c, &td, &err), err, "k = 6 is larger than the training set (5 rows)");
    vb_classifier_free(c);
    const vb_classifier_vt *vt = vb_classifier_find("knn");
    vb_params p;
    assert_int_equal(vb_params_parse_text(&p, &vt->info, "{metric: l1, search: kdforest}", &err), VB_OK);
    tu_assert_fails_with(vb_classifier_new(vt, &p, &c, &err), err, "kdforest supports only metric: l2");
    vb_params_free(&p);
}

/* ---- forest ------------------------------------------------------------ */

/* XOR of the signs of two coordinates (plus two noise features). */
static float *xor_data(size_t n, uint64_t seed, int **y)
{
    float *X = malloc(n * 4 * sizeof *X);
    *y = malloc(n * sizeof **y);
    vb_rng *rng = vb_rng_new(seed);
    for (size_t i = 0; i < n; i++) {
        for (int j = 0; j < 4; j++)
            X[i * 4 + j] = (float)(vb_rng_uniform(rng) * 2 - 1);
        (*y)[i] = (X[i * 4] > 0) != (X[i * 4 + 1] > 0);
    }
    vb_rng_free(rng);
    return X;
}

static void test_forest_xor(void **state)
{
    int *y, *yt, pred[1000];
    float *X = xor_data(1000, 31, &y), *Xt = xor_data(1000, 32, &yt);
    vb_classifier *c = cu_make("forest", "{n_trees: 50}");
    cu_train(c, X, y, 1000, 4, 2, 3);
    cu_predict(c, Xt, 1000, 4, pred, NULL);
    double acc = cu_accuracy(pred, yt, 1000);
    if (acc < 0.95)
        fail_msg("forest on XOR: accuracy %.3f < 0.95", acc);
    /* the two informative features carry most of the importance */
    vb_buf b;
    vb_buf_init(&b);
    c->vt->info_json(c->state, &b);
    assert_non_null(strstr(b.data, "\"top_features\": [[0, ") ? b.data : strstr(b.data, "\"top_features\": [[1, "));
    vb_buf_free(&b);
    vb_classifier_free(c);
    free(X);
    free(y);
    free(Xt);
    free(yt);
}

/* The same forest with one and with two threads. */
static void test_forest_threads(void **state)
{
    int *y;
    float *X = xor_data(500, 41, &y);
    cu_assert_thread_independent("forest", "{n_trees: 8, max_features: 0.5}", X, y, 500, 4, 2, 5);
    free(X);
    free(y);
}

/* A depth-1 forest without bootstrap on 1-d data: one stump at the best
 * gini threshold. Values 1 2 3 4 5 6, labels 0 0 0 1 1 0: the best split is
 * x <= 3.5 (left 3x class 0, right 2x 1 + 1x 0). */
static void test_forest_stump(void **state)
{
    const float X[] = {1, 2, 3, 4, 5, 6};
    const int y[] = {0, 0, 0, 1, 1, 0};
    vb_classifier *c = cu_make("forest", "{n_trees: 1, max_depth: 1, bootstrap: false, max_features: all}");
    cu_train(c, X, y, 6, 1, 2, 1);
    const float q[] = {3.4f, 3.6f};
    int lab[2];
    float sc[4];
    cu_predict(c, q, 2, 1, lab, sc);
    assert_int_equal(lab[0], 0);
    assert_int_equal(lab[1], 1);
    assert_float_equal(sc[0], 1.0, 1e-7);
    assert_float_equal(sc[3], 2.0 / 3.0, 1e-6);
    vb_classifier_free(c);
}

/* ---- logreg ------------------------------------------------------------ */

/* Central differences of the objective against the analytic gradient,
 * with L2, smoothed L1 and intercepts. */
static void test_logreg_gradient(void **state)
{
    int *y;
    float *X = tu_blobs(3, 10, 4, 1.5, 51, &y);
    const size_t n = 30, d = 4, m = 3 * d + 3;
    double th[15], g[15], g2[15];
    vb_rng *rng = vb_rng_new(52);
    for (size_t j = 0; j < m; j++)
        th[j] = vb_rng_gauss(rng, 0.5);
    vb_rng_free(rng);
    for (int variant = 0; variant < 2; variant++) {
        double C = variant ? 0.3 : 2.0, l1 = variant ? 0.7 : 0.0;
        vb_logreg_objective(X, y, n, d, 3, C, l1, 1, th, g);
        for (size_t j = 0; j < m; j++) {
            double h = 1e-3, keep = th[j];
            th[j] = keep + h;
            double fp = vb_logreg_objective(X, y, n, d, 3, C, l1, 1, th, g2);
            th[j] = keep - h;
            double fm = vb_logreg_objective(X, y, n, d, 3, C, l1, 1, th, g2);
            th[j] = keep;
            double num = (fp - fm) / (2 * h);
            if (fabs(num - g[j]) > 2e-4 * fmax(1, fabs(num)))
                fail_msg("logreg gradient %zu (C=%g, l1=%g): analytic %.8g, central difference %.8g", j, C, l1, g[j],
                         num);
        }
    }
    free(X);
    free(y);
}

/* The sliced one-pass objective against a plain double-precision one on
 * 1001 rows (four slices, ragged four-row groups): loss and gradient. */
static void test_logreg_objective_reference(void **state)
{
    int *y;
    const size_t n = 1001, d = 7, K = 3, Kd = K * d, m = Kd + K;
    float *X = tu_blobs(3, 334, d, 1.0, 53, &y); /* 1002 rows: the first 1001 */
    double th[24], g[24], gr[24] = {0};
    vb_rng *rng = vb_rng_new(54);
    for (size_t j = 0; j < m; j++)
        th[j] = vb_rng_gauss(rng, 0.3);
    vb_rng_free(rng);
    const double C = 0.5;
    double f = vb_logreg_objective(X, y, n, d, (int)K, C, 0, 1, th, g), fr = 0;
    for (size_t i = 0; i < n; i++) {
        double z[3], mx = -INFINITY, sum = 0;
        for (size_t c = 0; c < K; c++) {
            z[c] = th[Kd + c];
            for (size_t j = 0; j < d; j++)
                z[c] += th[c * d + j] * X[i * d + j];
            mx = fmax(mx, z[c]);
        }
        for (size_t c = 0; c < K; c++)
            sum += exp(z[c] - mx);
        fr += mx + log(sum) - z[y[i]];
        for (size_t c = 0; c < K; c++) {
            double r = exp(z[c] - mx) / sum - (c == (size_t)y[i]);
            for (size_t j = 0; j < d; j++)
                gr[c * d + j] += r * X[i * d + j];
            gr[Kd + c] += r;
        }
    }
    for (size_t j = 0; j < Kd; j++) {
        fr += th[j] * th[j] / (2 * C);
        gr[j] += th[j] / C;
    }
    fr /= (double)n;
    assert_float_equal(f, fr, 1e-6 * fabs(fr));
    for (size_t j = 0; j < m; j++)
        if (fabs(g[j] - gr[j] / (double)n) > 1e-6 * fmax(1e-2, fabs(gr[j] / (double)n)))
            fail_msg("logreg gradient %zu: %.9g, reference %.9g", j, g[j], gr[j] / (double)n);
    free(X);
    free(y);
}

/* x = -1 (class 0) and x = +1 (class 1), no intercept, C = 1. By symmetry
 * w0 = -w1 = -a; the summed objective is 2 log(1 + e^(-2a)) + a^2 / C,
 * stationary where a = 2 C sigmoid(-2a) = 2 C / (1 + e^(2a)). */
static void test_logreg_hand(void **state)
{
    const float X[] = {-1, 1};
    const int y[] = {0, 1};
    vb_classifier *c = cu_make("logreg", "{C: 1, intercept: false, tol: 1e-10, max_iter: 1000}");
    cu_train(c, X, y, 2, 1, 2, 1);
    double lo = 0, hi = 2; /* bisection of a - 2 / (1 + e^(2a)) */
    for (int it = 0; it < 200; it++) {
        double mid = (lo + hi) / 2;
        if (mid - 2 / (1 + exp(2 * mid)) > 0)
            hi = mid;
        else
            lo = mid;
    }
    double a = lo;
    const float q[] = {1};
    int lab;
    float sc[2];
    cu_predict(c, q, 1, 1, &lab, sc);
    assert_int_equal(lab, 1);
    assert_float_equal(sc[1], 1 / (1 + exp(-2 * a)), 1e-6);
    vb_buf b;
    vb_buf_init(&b);
    c->vt->info_json(c->state, &b);
    assert_non_null(strstr(b.data, "\"converged\": true"));
    vb_buf_free(&b);
    vb_classifier_free(c);
}

/* ---- kmeans ------------------------------------------------------------ */

/* Our k-means gives the same centres (the saved state, byte for byte) with
 * one and with two threads, on overlapping blobs where many rows move. */
static void test_kmeans_threads(void **state)
{
    int *y;
    float *X = tu_blobs(5, 400, 24, 1.5, 73, &y);
    cu_assert_thread_independent("kmeans", "{k: 12, repetitions: 2}", X, y, 2000, 24, 5, 9);
    free(X);
    free(y);
}

/* Four blobs far apart: the centres come back (in some order) within 0.3. */
static void test_kmeans_centres(void **state)
{
    int *y;
    float *X = tu_blobs(4, 200, 2, 20.0, 61, &y);
    /* centres of tu_blobs in 2-d: (20, 0), (0, 20), (40, 0), (0, 40) */
    const double want[4][2] = {{20, 0}, {0, 20}, {40, 0}, {0, 40}};
    const char *algos[] = {"hamerly", "lloyd", "elkan", "ann"};
    for (int a = 0; a < 4; a++) {
        char yaml[96];
        snprintf(yaml, sizeof yaml, "{k: 4, algorithm: %s}", algos[a]);
        vb_classifier *c = cu_make("kmeans", yaml);
        cu_train(c, X, y, 800, 2, 4, 3);
        float probe[8];
        int lab[4];
        for (int i = 0; i < 4; i++) {
            probe[2 * i] = (float)want[i][0];
            probe[2 * i + 1] = (float)want[i][1];
        }
        cu_predict(c, probe, 4, 2, lab, NULL);
        for (int i = 0; i < 4; i++)
            assert_int_equal(lab[i], i);
        /* the saved state holds the centres: match each true centre */
        vb_writer w;
        cu_save(c, &w);
        vb_reader r;
        vb_reader_init(&r, w.buf.data, w.buf.len, "s");
        uint64_t u64;
        uint32_t u32;
        vb_read_u64(&r, &u64, NULL); /* wrapper: d, classes */
        vb_read_u32(&r, &u32, NULL);
        vb_read_u32(&r, &u32, NULL); /* tag, version, d, k, K */
        vb_read_u32(&r, &u32, NULL);
        vb_read_u64(&r, &u64, NULL);
        vb_read_u32(&r, &u32, NULL);
        vb_read_u32(&r, &u32, NULL);
        float C[8];
        assert_int_equal(vb_read_f32s_into(&r, C, 8, NULL), VB_OK);
        for (int i = 0; i < 4; i++) {
            double best = 1e9;
            for (int g = 0; g < 4; g++)
                best = fmin(best, hypot(C[2 * g] - want[i][0], C[2 * g + 1] - want[i][1]));
            if (best > 0.3)
                fail_msg("kmeans %s: centre %d (%g, %g) recovered only within %g", algos[a], i, want[i][0],
                         want[i][1], best);
        }
        vb_buf b;
        vb_buf_init(&b);
        c->vt->info_json(c->state, &b);
        assert_non_null(strstr(b.data, "\"train_purity\": 1,"));
        assert_non_null(strstr(b.data, "\"train_ari\": 1"));
        vb_buf_free(&b);
        vb_writer_free(&w);
        vb_classifier_free(c);
    }
    free(X);
    free(y);
}

static void test_kmeans_errors(void **state)
{
    vb_classifier *c = cu_make("kmeans", "{k: 9}");
    vb_traindata td = cu_data(line_X, line_y, 5, 2, 2, 1);
    vb_error err = {0};
    tu_assert_fails_with(vb_classifier_train(c, &td, &err), err, "k = 9 is larger than the training set (5 rows)");
    vb_classifier_free(c);
    c = cu_make("gmm", "{mode: classify, k: 3}");
    tu_assert_fails_with(vb_classifier_train(c, &td, &err), err, "class 0 has 2 training rows, fewer than k = 3");
    vb_classifier_free(c);
}

/* The cluster hook: kmeans and gmm (cluster mode) give each row its
 * cluster, consistent with the labels they predict (each cluster maps to
 * one label); gmm in classify mode and other classifiers are no
 * clusterings. Trained on one class (data without labels), a clustering
 * still clusters, and a classifier refuses. */
static void test_cluster_hook(void **state)
{
    int *y;
    float *X = blobs3(40, 5, &y);
    size_t n = 120;
    int *a = malloc(n * sizeof *a), *lab = malloc(n * sizeof *lab), *one = calloc(n, sizeof *one);
    assert_true(a && lab && one);
    const char *const name[] = {"kmeans", "gmm"};
    for (int i = 0; i < 2; i++) {
        vb_classifier *c = cu_make(name[i], "{k: 3}");
        vb_error err = {0};
        int k = -1;
        assert_true(vb_classifier_clusters(c->vt, &c->params));
        assert_int_equal(vb_classifier_cluster(c, X, n, 4, a, &k, &err), VB_ERR_STATE);
        cu_train(c, X, y, n, 4, 3, 9);
        assert_int_equal(vb_classifier_cluster(c, X, n, 4, a, &k, &err), VB_OK);
        assert_int_equal(k, 3);
        assert_int_equal(vb_classifier_cluster(c, X, n, 3, a, &k, &err), VB_ERR_DATA);
        assert_int_equal(vb_classifier_cluster(c, X, n, 4, a, &k, &err), VB_OK);
        vb_cluster_scores cs;
        assert_int_equal(vb_cluster_compare(y, a, n, 3, k, &cs, &err), VB_OK);
        assert_float_equal(cs.nmi, 1, 1e-12); /* separable blobs */
        cu_predict(c, X, n, 4, lab, NULL);
        int map[3] = {-1, -1, -1};
        for (size_t r = 0; r < n; r++) {
            if (map[a[r]] < 0)
                map[a[r]] = lab[r];
            assert_int_equal(map[a[r]], lab[r]);
        }
        vb_classifier_free(c);
        /* one class: every cluster maps to it, and the clusters stay apart */
        c = cu_make(name[i], "{k: 3}");
        cu_train(c, X, one, n, 4, 1, 9);
        assert_int_equal(vb_classifier_cluster(c, X, n, 4, a, &k, &err), VB_OK);
        assert_int_equal(vb_cluster_compare(y, a, n, 3, k, &cs, &err), VB_OK);
        assert_float_equal(cs.nmi, 1, 1e-12);
        cu_predict(c, X, n, 4, lab, NULL);
        for (size_t r = 0; r < n; r++)
            assert_int_equal(lab[r], 0);
        vb_writer w;
        vb_writer_init(&w);
        assert_int_equal(vb_classifier_save(c, &w, &err), VB_OK);
        vb_classifier *back = cu_make(name[i], "{k: 3}");
        vb_reader r;
        vb_reader_init(&r, w.buf.data, w.buf.len, "one-class");
        assert_int_equal(vb_classifier_load(back, &r, &err), VB_OK);
        int *b = malloc(n * sizeof *b);
        assert_non_null(b);
        assert_int_equal(vb_classifier_cluster(back, X, n, 4, b, &k, &err), VB_OK);
        assert_memory_equal(a, b, n * sizeof *a);
        free(b);
        vb_writer_free(&w);
        vb_classifier_free(back);
        vb_classifier_free(c);
    }
    /* k: 0 (one per class) needs classes */
    vb_classifier *c = cu_make("kmeans", "{}");
    vb_error err = {0};
    tu_assert_fails_with(vb_classifier_check(c, 4, (vb_shape){0, 0, 0}, 1, &err), err,
                         "kmeans: k: 0 means one cluster per class, and the data set has no labels");
    vb_classifier_free(c);
    const char *const no[][2] = {{"gmm", "{mode: classify}"}, {"svm", "{}"}, {"knn", "{}"}};
    for (int i = 0; i < 3; i++) {
        c = cu_make(no[i][0], no[i][1]);
        assert_false(vb_classifier_clusters(c->vt, &c->params));
        int k = -1;
        if (i == 0) {
            cu_train(c, X, y, n, 4, 3, 9);
            assert_int_equal(vb_classifier_cluster(c, X, n, 4, a, &k, &err), VB_OK);
            assert_int_equal(k, 0);
        } else {
            vb_traindata td = cu_data(X, one, n, 4, 1, 9);
            tu_assert_fails_with(vb_classifier_train(c, &td, &err), err, "needs at least two classes");
        }
        vb_classifier_free(c);
    }
    free(X);
    free(y);
    free(a);
    free(lab);
    free(one);
}

/* ---- gmm --------------------------------------------------------------- */

static double info_number(const vb_classifier *c, const char *key)
{
    vb_buf b;
    vb_buf_init(&b);
    c->vt->info_json(c->state, &b);
    const char *p = strstr(b.data, key);
    assert_non_null(p);
    double v = strtod(p + strlen(key), NULL);
    vb_buf_free(&b);
    return v;
}

/* EM never lowers the log-likelihood: the final value after t + 1
 * iterations is at least the value after t. */
static void test_gmm_monotone(void **state)
{
    int *y;
    float *X = tu_blobs(3, 100, 3, 2.5, 71, &y);
    const char *inits[] = {"rand", "kmeans"};
    for (int i = 0; i < 2; i++) {
        double prev = -INFINITY;
        for (int t = 1; t <= 25; t++) {
            char yaml[128];
            snprintf(yaml, sizeof yaml, "{k: 5, init: %s, max_iter: %d, tol: 1e-300}", inits[i], t);
            vb_classifier *c = cu_make("gmm", yaml);
            cu_train(c, X, y, 300, 3, 3, 8);
            double ll = info_number(c, "\"log_likelihood\": ");
            if (ll < prev - 1e-9 * fabs(prev))
                fail_msg("gmm (%s init): log-likelihood fell from %.10g to %.10g at iteration %d", inits[i], prev, ll,
                         t);
            prev = ll;
            vb_classifier_free(c);
        }
    }
    free(X);
    free(y);
}

/* One EM step against VLFeat's vl_gmm from the same starting mixture: the
 * same log-likelihood (of the starting mixture), means, variances and
 * weights. (VLFeat's second component comes out up to 1e-3 away from ours
 * in some coordinates, the first agrees to 1e-6: hence the tolerances.) */
static void test_gmm_vs_vlfeat(void **state)
{
    int *y;
    const size_t n = 300, d = 4; /* (a multiple of 4: VLFeat's SSE path) */
    const int k = 2;
    float *X = tu_blobs(2, 150, d, 3.0, 81, &y);
    float mu[8] = {0.5f, 0.2f, 0.1f, 0.4f, 0.3f, 2.0f, -0.2f, 0.1f};
    float var[8] = {1.5f, 2.0f, 1.0f, 0.8f, 1.2f, 1.0f, 3.0f, 1.1f};
    double pi[2] = {0.4, 0.6};
    float mu0[8], var0[8];
    memcpy(mu0, mu, sizeof mu);
    memcpy(var0, var, sizeof var);
    /* VLFeat 0.9.21 evaluates the E step before testing the iteration
     * count: max 0 gives the starting log-likelihood, max 1 one full step. */
    float pif[2] = {0.4f, 0.6f};
    VlGMM *gs[2];
    double ll_vl = 0;
    int saved = vb_get_threads();
    vb_set_threads(1);
    for (int it = 0; it < 2; it++) {
        memcpy(mu0, mu, sizeof mu);
        memcpy(var0, var, sizeof var);
        VlGMM *g = gs[it] = vl_gmm_new(VL_TYPE_FLOAT, d, (vl_size)k);
        vl_gmm_set_means(g, mu0);
        vl_gmm_set_covariances(g, var0);
        vl_gmm_set_priors(g, pif);
        vl_gmm_set_initialization(g, VlGMMCustom);
        vl_gmm_set_max_num_iterations(g, (vl_size)it);
        vl_gmm_set_covariance_lower_bound(g, 1e-6);
        double v = vl_gmm_cluster(g, X, n);
        if (it == 0)
            ll_vl = v;
    }
    vb_set_threads(saved);
    VlGMM *g = gs[1];
    double ll = vb_gmm_em_once(X, n, d, k, mu, var, pi, 1e-6);
    assert_float_equal(ll * (double)n, ll_vl, 1e-6 * fabs(ll_vl));
    const float *vm = vl_gmm_get_means(g), *vv = vl_gmm_get_covariances(g), *vp = vl_gmm_get_priors(g);
    for (size_t t = 0; t < (size_t)k * d; t++) {
        assert_float_equal(mu[t], vm[t], 2e-3);
        assert_float_equal(var[t], vv[t], 1e-2 * fmax(1, vv[t]));
    }
    for (int c = 0; c < k; c++)
        assert_float_equal(pi[c], vp[c], 1e-3);
    vl_gmm_delete(gs[0]);
    vl_gmm_delete(gs[1]);
    free(X);
    free(y);
}

/* gmm's own Lloyd k-means (its initialisation) against VLFeat's, from the
 * same starting centres (two in one blob, none in the third, so it takes
 * a few iterations): the same final centres and assignments. */
static void test_gmm_kmeans_vs_vlfeat(void **state)
{
    int *y;
    const size_t n = 600, d = 8;
    const int k = 3;
    float *X = tu_blobs(3, 200, d, 2.0, 83, &y);
    size_t start[3] = {0, 1, 0};
    for (size_t i = 0; i < n; i++)
        if (y[i] == 1) {
            start[2] = i;
            break;
        }
    for (size_t i = 2; i < n && y[start[1]] != y[0]; i++)
        start[1] = i; /* a second row of row 0's blob */
    float C[3 * 8], Cvl[3 * 8];
    for (int c = 0; c < k; c++)
        memcpy(C + (size_t)c * d, X + start[c] * d, d * sizeof *C);
    memcpy(Cvl, C, sizeof C);
    VlKMeans *km = vl_kmeans_new(VL_TYPE_FLOAT, VlDistanceL2);
    vl_kmeans_set_algorithm(km, VlKMeansLloyd);
    vl_kmeans_set_max_num_iterations(km, 100);
    vl_kmeans_set_centers(km, Cvl, d, (vl_size)k);
    vl_kmeans_refine_centers(km, X, n);
    vl_uint32 avl[600];
    vl_kmeans_quantize(km, avl, NULL, X, n);
    uint32_t a[600];
    int it = vb_clf_kmeans_lloyd(X, n, d, k, C, 100, 0, a);
    assert_true(it >= 2 && it < 100);
    const float *cv = vl_kmeans_get_centers(km);
    for (size_t t = 0; t < (size_t)k * d; t++)
        assert_float_equal(C[t], cv[t], 1e-4);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(a[i], avl[i]);
    vl_kmeans_delete(km);
    free(X);
    free(y);
}

/* gmm and logreg with one and two threads: the same model, as their sums
 * run over slices of rows fixed by n alone, added in order. (2000 rows:
 * several slices.) */
static void test_sliced_threads(void **state)
{
    int *y;
    float *X = tu_blobs(4, 500, 6, 1.5, 85, &y);
    const ccase cs[] = {{"gmm", "{k: 6}"},
                        {"gmm", "{k: 3, init: rand}"},
                        {"gmm", "{mode: classify, k: 2}"},
                        {"logreg", "{max_iter: 30}"},
                        {"logreg", "{l1: 0.1, max_iter: 30}"}};
    for (size_t p = 0; p < sizeof cs / sizeof cs[0]; p++)
        cu_assert_thread_independent(cs[p].name, cs[p].params, X, y, 2000, 6, 4, 5);
    free(X);
    free(y);
}

/* The classify mode on blobs with two sub-clusters per class beats one
 * Gaussian per class; scores are posteriors. */
static void test_gmm_classify(void **state)
{
    int *y4, *yt4;
    float *X = tu_blobs(4, 100, 2, 10.0, 91, &y4), *Xt = tu_blobs(4, 50, 2, 10.0, 92, &yt4);
    /* classes 0+2 -> 0, 1+3 -> 1: each class is two blobs */
    for (int i = 0; i < 400; i++)
        y4[i] %= 2;
    for (int i = 0; i < 200; i++)
        yt4[i] %= 2;
    int pred[200];
    vb_classifier *c = cu_make("gmm", "{mode: classify, k: 2}");
    cu_train(c, X, y4, 400, 2, 2, 4);
    cu_predict(c, Xt, 200, 2, pred, NULL);
    double acc = cu_accuracy(pred, yt4, 200);
    assert_true(acc > 0.97);
    assert_true(vb_classifier_has_proba(c));
    vb_classifier_free(c);
    free(X);
    free(y4);
    free(Xt);
    free(yt4);
}

/* ---- linear ------------------------------------------------------------ */

static void test_linear_proba_flag(void **state)
{
    vb_classifier *c = cu_make("linear", "{loss: logistic}");
    assert_true(vb_classifier_has_proba(c));
    vb_classifier_free(c);
    c = cu_make("linear", "{loss: hinge}");
    assert_false(vb_classifier_has_proba(c));
    vb_classifier_free(c);
    /* the same model with one and two threads (seeded per class) */
    int *y;
    float *X = tu_blobs(4, 40, 5, 2.0, 101, &y);
    vb_writer w[2];
    int saved = vb_get_threads();
    for (int t = 0; t < 2; t++) {
        vb_set_threads(t + 1);
        c = cu_make("linear", "{loss: hinge, solver: sgd, epochs: 5}");
        cu_train(c, X, y, 160, 5, 4, 5);
        cu_save(c, &w[t]);
        vb_classifier_free(c);
    }
    vb_set_threads(saved);
    assert_int_equal(w[0].buf.len, w[1].buf.len);
    assert_memory_equal(w[0].buf.data, w[1].buf.data, w[0].buf.len);
    vb_writer_free(&w[0]);
    vb_writer_free(&w[1]);
    free(X);
    free(y);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blobs_all),
        cmocka_unit_test(test_round_trip_all),
        cmocka_unit_test(test_determinism_all),
        cmocka_unit_test(test_wrong_state_all),
        cmocka_unit_test(test_bad_input_all),
        cmocka_unit_test(test_knn_hand),
        cmocka_unit_test(test_knn_ties),
        cmocka_unit_test(test_knn_blocked),
        cmocka_unit_test(test_knn_errors),
        cmocka_unit_test(test_forest_xor),
        cmocka_unit_test(test_forest_threads),
        cmocka_unit_test(test_forest_stump),
        cmocka_unit_test(test_logreg_gradient),
        cmocka_unit_test(test_logreg_hand),
        cmocka_unit_test(test_logreg_objective_reference),
        cmocka_unit_test(test_kmeans_centres),
        cmocka_unit_test(test_kmeans_threads),
        cmocka_unit_test(test_kmeans_errors),
        cmocka_unit_test(test_cluster_hook),
        cmocka_unit_test(test_gmm_monotone),
        cmocka_unit_test(test_gmm_vs_vlfeat),
        cmocka_unit_test(test_gmm_kmeans_vs_vlfeat),
        cmocka_unit_test(test_sliced_threads),
        cmocka_unit_test(test_gmm_classify),
        cmocka_unit_test(test_linear_proba_flag),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
