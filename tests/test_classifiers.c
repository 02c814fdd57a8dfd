/* classifiers: the instance wrapper's checks and the svm classifier,
 * against libsvm called directly (same data, same parameters). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "support/testutil.h"
#include "visbench/classifier.h"

#include <libsvm/svm.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ----------------------------------------------------------- */

static vb_classifier *svm_new(const char *yaml)
{
    const vb_classifier_vt *vt = vb_classifier_find("svm");
    assert_non_null(vt);
    vb_doc *doc = NULL;
    vb_error err = {0};
    if (yaml && vb_doc_load_string(yaml, "t.yaml", &doc, &err) != VB_OK)
        fail_msg("%s", err.msg);
    vb_params p;
    if (vb_params_parse(&p, &vt->info, doc ? doc->root : NULL, 0, &err) != VB_OK)
        fail_msg("%s", err.msg);
    vb_classifier *c = NULL;
    if (vb_classifier_new(vt, &p, &c, &err) != VB_OK)
        fail_msg("%s", err.msg);
    vb_params_free(&p);
    vb_doc_free(doc);
    return c;
}

static void train_ok(vb_classifier *c, const float *X, size_t n, size_t d, const int *y, int k, uint64_t seed)
{
    vb_traindata td = {.X = X, .n = n, .d = d, .y = y, .n_classes = k, .seed = seed};
    vb_error err = {0};
    if (vb_classifier_train(c, &td, &err) != VB_OK)
        fail_msg("%s", err.msg);
}

static void predict_ok(const vb_classifier *c, const float *X, size_t n, size_t d, int *labels, float *scores)
{
    vb_error err = {0};
    if (vb_classifier_predict(c, X, n, d, labels, scores, &err) != VB_OK)
        fail_msg("%s", err.msg);
}

static double accuracy(const int *a, const int *b, size_t n)
{
    size_t ok = 0;
    for (size_t i = 0; i < n; i++)
        ok += a[i] == b[i];
    return (double)ok / (double)n;
}

/* XOR: four Gaussian clusters at (+-3, +-3), sigma 0.7; class = x*y < 0. */
static float *xor_data(size_t n, uint64_t seed, int **y)
{
    float *X = malloc(n * 2 * sizeof *X);
    *y = malloc(n * sizeof **y);
    vb_rng *rng = vb_rng_new(seed);
    for (size_t i = 0; i < n; i++) {
        int q = (int)(i % 4);
        double cx = (q & 1) ? 3 : -3, cy = (q & 2) ? 3 : -3;
        X[i * 2] = (float)(cx + vb_rng_gauss(rng, 0.7));
        X[i * 2 + 1] = (float)(cy + vb_rng_gauss(rng, 0.7));
        (*y)[i] = (cx > 0) != (cy > 0);
    }
    vb_rng_free(rng);
    return X;
}

/* ---- accuracy ---------------------------------------------------------- */

static void test_separable_blobs(void **state)
{
    int *y, *yt;
    float *X = tu_blobs(3, 40, 4, 12.0, 1, &y), *Xt = tu_blobs(3, 30, 4, 12.0, 2, &yt);
    static const char *const specs[] = {"{kernel: linear}", "{kernel: rbf}", "{kernel: rbf, precompute_mb: 0}",
                                        "{kernel: linear, precompute_mb: 0}"};
    for (size_t s = 0; s < sizeof specs / sizeof specs[0]; s++) {
        vb_classifier *c = svm_new(specs[s]);
        train_ok(c, X, 120, 4, y, 3, 7);
        int pred[90];
        float scores[90 * 3];
        predict_ok(c, Xt, 90, 4, pred, scores);
        assert_float_equal(accuracy(pred, yt, 90), 1.0, 0);
        /* Decision scores rank the predicted class first. */
        for (size_t i = 0; i < 90; i++)
            for (int k = 0; k < 3; k++)
                if (k != pred[i])
                    assert_true(scores[i * 3 + (size_t)pred[i]] > scores[i * 3 + (size_t)k]);
        assert_false(vb_classifier_has_proba(c));
        vb_classifier_free(c);
    }
    free(X);
    free(y);
    free(Xt);
    free(yt);
}

static void test_xor(void **state)
{
    int *y, *yt;
    float *X = xor_data(200, 3, &y), *Xt = xor_data(200, 4, &yt);
    int pred[200];

    vb_classifier *c = svm_new("{kernel: rbf, gamma: 0.5, C: 10}");
    train_ok(c, X, 200, 2, y, 2, 1);
    predict_ok(c, Xt, 200, 2, pred, NULL);
    double acc_rbf = accuracy(pred, yt, 200);
    vb_classifier_free(c);

    c = svm_new("{kernel: linear}");
    train_ok(c, X, 200, 2, y, 2, 1);
    predict_ok(c, Xt, 200, 2, pred, NULL);
    double acc_lin = accuracy(pred, yt, 200);
    vb_classifier_free(c);

    if (acc_rbf < 0.95)
        fail_msg("rbf accuracy on XOR %.3f < 0.95", acc_rbf);
    if (acc_lin > 0.75)
        fail_msg("linear accuracy on XOR %.3f > 0.75", acc_lin);
    free(X);
    free(y);
    free(Xt);
    free(yt);
}

/* ---- against libsvm ---------------------------------------------------- */

typedef struct ref_model {
    struct svm_problem prob;
    struct svm_node *nodes;
    struct svm_model *model;
} ref_model;

static struct svm_node *to_nodes(const float *x, size_t d, struct svm_node *nd)
{
    for (size_t j = 0; j < d; j++) {
        nd[j].index = (int)j + 1;
        nd[j].value = x[j];
    }
    nd[d].index = -1;
    nd[d].value = 0;
    return nd;
}

static void silent(const char *msg) { (void)msg; }

static void ref_train(ref_model *r, const float *X, size_t n, size_t d, const int *y, int kernel, double C,
                      double gamma, int degree, double coef0, int nw, int *wl, double *wv)
{
    svm_set_print_string_function(silent);
    r->prob.l = (int)n;
    r->prob.y = malloc(n * sizeof *r->prob.y);
    r->prob.x = malloc(n * sizeof *r->prob.x);
    r->nodes = malloc(n * (d + 1) * sizeof *r->nodes);
    for (size_t i = 0; i < n; i++) {
        r->prob.y[i] = y[i];
        r->prob.x[i] = to_nodes(X + i * d, d, r->nodes + i * (d + 1));
    }
    struct svm_parameter p;
    memset(&p, 0, sizeof p);
    p.svm_type = C_SVC;
    p.kernel_type = kernel;
    p.degree = degree;
    p.gamma = gamma;
    p.coef0 = coef0;
    p.cache_size = 100;
    p.eps = 0.001;
    p.C = C;
    p.shrinking = 1;
    p.nr_weight = nw;
    p.weight_label = wl;
    p.weight = wv;
    assert_null(svm_check_parameter(&r->prob, &p));
    r->model = svm_train(&r->prob, &p);
    assert_non_null(r->model);
    /* The model keeps a copy of param, with our weight pointers: drop them. */
    r->model->param.weight_label = NULL;
    r->model->param.weight = NULL;
    r->model->param.nr_weight = 0;
}

static void ref_free(ref_model *r)
{
    svm_free_and_destroy_model(&r->model);
    free(r->prob.y);
    free(r->prob.x);
    free(r->nodes);
}

/* libsvm's labels and our documented decision scores (votes plus a
 * bounded confidence) for rows X. */
static void ref_predict(const ref_model *r, const float *X, size_t n, size_t d, int K, int *labels, double *scores)
{
    int k = svm_get_nr_class(r->model);
    int *lab = malloc((size_t)k * sizeof *lab);
    svm_get_labels(r->model, lab);
    size_t P = (size_t)k * (size_t)(k - 1) / 2;
    double *dec = malloc(P * sizeof *dec), *vote = malloc((size_t)k * sizeof *vote),
           *conf = malloc((size_t)k * sizeof *conf);
    struct svm_node *nd = malloc((d + 1) * sizeof *nd);
    for (size_t i = 0; i < n; i++) {
        labels[i] = (int)svm_predict_values(r->model, to_nodes(X + i * d, d, nd), dec);
        for (int a = 0; a < k; a++)
            vote[a] = conf[a] = 0;
        size_t p = 0;
        for (int a = 0; a < k; a++)
            for (int b = a + 1; b < k; b++, p++) {
                if (dec[p] > 0)
                    vote[a]++;
                else
                    vote[b]++;
                conf[a] += dec[p];
                conf[b] -= dec[p];
            }
        for (int c = 0; c < K; c++)
            scores[i * (size_t)K + (size_t)c] = -1;
        for (int a = 0; a < k; a++)
            scores[i * (size_t)K + (size_t)lab[a]] = vote[a] + conf[a] / (3 * (fabs(conf[a]) + 1));
    }
    free(lab);
    free(dec);
    free(vote);
    free(conf);
    free(nd);
}

/* c predicts what libsvm does on Xt (labels; scores to 1e-3) and has as
 * many support vectors; what names the case in messages. */
static void expect_as_libsvm(vb_classifier *c, const ref_model *ref, const float *Xt, size_t nt, size_t d, int K,
                             const int *want, const double *wscores, const char *what)
{
    int *got = malloc(nt * sizeof *got);
    float *scores = malloc(nt * (size_t)K * sizeof *scores);
    predict_ok(c, Xt, nt, d, got, scores);
    for (size_t i = 0; i < nt; i++) {
        if (got[i] != want[i])
            fail_msg("%s: row %zu: label %d, libsvm %d", what, i, got[i], want[i]);
        for (int k = 0; k < K; k++)
            if (fabs(scores[i * (size_t)K + (size_t)k] - wscores[i * (size_t)K + (size_t)k]) > 1e-3)
                fail_msg("%s: row %zu class %d: score %.6f, libsvm %.6f", what, i, k, scores[i * (size_t)K + (size_t)k],
                         wscores[i * (size_t)K + (size_t)k]);
    }
    /* n_sv as libsvm counts them. */
    vb_buf b;
    vb_buf_init(&b);
    c->vt->info_json(c->state, &b);
    char want_info[64];
    snprintf(want_info, sizeof want_info, "\"n_sv\": %d, ", ref->model->l);
    if (strncmp(b.data, want_info, strlen(want_info)) != 0)
        fail_msg("%s: info '%s', libsvm has %d SVs", what, b.data, ref->model->l);
    vb_buf_free(&b);
    free(got);
    free(scores);
}

static void compare_with_libsvm(const char *kname, int kernel, double gamma, int degree, double coef0)
{
    /* Overlapping blobs, so the model has many bounded SVs and the
     * boundaries are not trivial. */
    int *y, *yt;
    const size_t d = 5, n = 4 * 30, nt = 4 * 40;
    float *X = tu_blobs(4, 30, d, 3.0, 11, &y), *Xt = tu_blobs(4, 40, d, 3.0, 12, &yt);
    ref_model ref;
    ref_train(&ref, X, n, d, y, kernel, 2.0, gamma, degree, coef0, 0, NULL, NULL);
    int *want = malloc(nt * sizeof *want);
    double *wscores = malloc(nt * 4 * sizeof *wscores);
    ref_predict(&ref, Xt, nt, d, 4, want, wscores);

    for (int gram = 0; gram < 2; gram++) {
        char yaml[200];
        snprintf(yaml, sizeof yaml, "{kernel: %s, C: 2, gamma: %.17g, degree: %d, coef0: %.17g, precompute_mb: %s}",
                 kname, gamma, degree, coef0, gram ? "4096" : "0");
        vb_classifier *c = svm_new(yaml);
        train_ok(c, X, n, d, y, 4, 5);
        char what[64];
        snprintf(what, sizeof what, "%s (%s path)", kname, gram ? "gram" : "sparse");
        expect_as_libsvm(c, &ref, Xt, nt, d, 4, want, wscores, what);
        /* Training labels too (the support vectors are among them). */
        int *gtr = malloc(n * sizeof *gtr), *wtr = malloc(n * sizeof *wtr);
        double *wstr = malloc(n * 4 * sizeof *wstr);
        predict_ok(c, X, n, d, gtr, NULL);
        ref_predict(&ref, X, n, d, 4, wtr, wstr);
        assert_memory_equal(gtr, wtr, n * sizeof *gtr);
        free(gtr);
        free(wtr);
        free(wstr);
        vb_classifier_free(c);
    }
    free(want);
    free(wscores);
    ref_free(&ref);
    free(X);
    free(y);
    free(Xt);
    free(yt);
}

/* The one-vs-one pairs trained here give libsvm's multi-class model,
 * whichever way their kernels are had: from the training rows' kernel
 * matrix, from a product per pair (the matrix over budget), or on sparse
 * rows (a pair over budget). 10 classes of 20 rows: the matrix is 160 kB,
 * a pair's libsvm rows 27 kB. */
static void test_svm_pairs_every_way(void **state)
{
    int *y, *yt;
    const size_t d = 6, n = 10 * 20, nt = 10 * 15;
    float *X = tu_blobs(10, 20, d, 2.5, 21, &y), *Xt = tu_blobs(10, 15, d, 2.5, 22, &yt);
    ref_model ref;
    ref_train(&ref, X, n, d, y, RBF, 3.0, 0.2, 3, 0, 0, NULL, NULL);
    int *want = malloc(nt * sizeof *want);
    double *wscores = malloc(nt * 10 * sizeof *wscores);
    ref_predict(&ref, Xt, nt, d, 10, want, wscores);
    vb_set_threads(2);
    /* 4096: the matrix; 0.25 (262 kB): no matrix, pairs precomputed (65 kB a
     * thread); 0.05 (52 kB): sparse pairs; 0: libsvm's own multi-class */
    static const char *const budgets[] = {"4096", "0.25", "0.05", "0"};
    for (int b = 0; b < 4; b++) {
        char yaml[160];
        snprintf(yaml, sizeof yaml, "{kernel: rbf, C: 3, gamma: 0.2, precompute_mb: %s}", budgets[b]);
        vb_classifier *c = svm_new(yaml);
        train_ok(c, X, n, d, y, 10, 5);
        char what[64];
        snprintf(what, sizeof what, "precompute_mb %s", budgets[b]);
        expect_as_libsvm(c, &ref, Xt, nt, d, 10, want, wscores, what);
        vb_classifier_free(c);
    }
    free(want);
    free(wscores);
    ref_free(&ref);
    free(X);
    free(y);
    free(Xt);
    free(yt);
}

static void test_libsvm_rbf(void **state) { compare_with_libsvm("rbf", RBF, 0.1, 3, 0); }
static void test_libsvm_linear(void **state) { compare_with_libsvm("linear", LINEAR, 0.1, 3, 0); }
static void test_libsvm_poly(void **state) { compare_with_libsvm("poly", POLY, 0.05, 3, 1.0); }
static void test_libsvm_sigmoid(void **state) { compare_with_libsvm("sigmoid", SIGMOID, 0.01, 3, -0.5); }

/* Balanced class weights are libsvm's per-class C: n / (k n_c). */
static void test_balanced_weights(void **state)
{
    /* 3 classes: 60, 12, 6 rows, overlapping. */
    const size_t d = 3;
    int *yb;
    float *Xb = tu_blobs(3, 60, d, 2.5, 21, &yb);
    float *X = malloc(78 * d * sizeof *X);
    int *y = malloc(78 * sizeof *y), cnt[3] = {0, 0, 0};
    size_t n = 0;
    for (size_t i = 0; i < 180; i++) {
        int c = yb[i];
        if ((c == 1 && cnt[1] >= 12) || (c == 2 && cnt[2] >= 6))
            continue;
        cnt[c]++;
        memcpy(X + n * d, Xb + i * d, d * sizeof *X);
        y[n++] = c;
    }
    assert_int_equal(n, 78);
    int *yt;
    float *Xt = tu_blobs(3, 30, d, 2.5, 22, &yt);

    int wl[3] = {0, 1, 2};
    double wv[3] = {78.0 / (3 * 60), 78.0 / (3 * 12), 78.0 / (3 * 6)};
    ref_model ref;
    ref_train(&ref, X, n, d, y, RBF, 1.0, 0.2, 3, 0, 3, wl, wv);
    int want[90], got[90], plain[90];
    double ws[270];
    float scores[270];
    ref_predict(&ref, Xt, 90, d, 3, want, ws);

    for (int gram = 0; gram < 2; gram++) {
        vb_classifier *c = svm_new(gram ? "{gamma: 0.2, class_weight: balanced}"
                                        : "{gamma: 0.2, class_weight: balanced, precompute_mb: 0}");
        train_ok(c, X, n, d, y, 3, 1);
        predict_ok(c, Xt, 90, d, got, scores);
        assert_memory_equal(got, want, sizeof got);
        for (size_t i = 0; i < 90; i++) {
            assert_true(got[i] >= 0 && got[i] < 3);
            for (int k = 0; k < 3; k++)
                assert_true(isfinite(scores[i * 3 + (size_t)k]));
        }
        vb_classifier_free(c);
    }
    /* Unweighted, the small classes are predicted less often. */
    vb_classifier *c = svm_new("{gamma: 0.2}");
    train_ok(c, X, n, d, y, 3, 1);
    predict_ok(c, Xt, 90, d, plain, NULL);
    size_t small_w = 0, small_p = 0;
    for (size_t i = 0; i < 90; i++) {
        small_w += got[i] != 0;
        small_p += plain[i] != 0;
    }
    assert_true(small_w > small_p);
    vb_classifier_free(c);

    /* Balanced with probabilities: still valid rows. */
    c = svm_new("{gamma: 0.2, class_weight: balanced, probability: true}");
    train_ok(c, X, n, d, y, 3, 1);
    predict_ok(c, Xt, 90, d, got, scores);
    for (size_t i = 0; i < 90; i++) {
        double s = scores[i * 3] + scores[i * 3 + 1] + scores[i * 3 + 2];
        assert_float_equal(s, 1.0, 1e-5);
    }
    vb_classifier_free(c);
    ref_free(&ref);
    free(Xb);
    free(yb);
    free(X);
    free(y);
    free(Xt);
    free(yt);
}

/* ---- probabilities ----------------------------------------------------- */

static void check_proba_rows(const float *scores, const int *labels, size_t n, int K)
{
    for (size_t i = 0; i < n; i++) {
        double s = 0;
        int best = 0;
        for (int k = 0; k < K; k++) {
            float v = scores[i * (size_t)K + (size_t)k];
            assert_true(v >= 0 && v <= 1);
            s += v;
            if (v > scores[i * (size_t)K + (size_t)best])
                best = k;
        }
        assert_float_equal(s, 1.0, 1e-5);
        assert_int_equal(best, labels[i]);
    }
}

static void test_probability(void **state)
{
    int *y, *yt;
    float *X = tu_blobs(3, 40, 4, 2.5, 31, &y), *Xt = tu_blobs(3, 30, 4, 2.5, 32, &yt);
    int l1[90], l2[90], l3[90];
    float s1[270], s2[270], s3[270];

    vb_classifier *a = svm_new("{probability: true}");
    assert_true(vb_classifier_has_proba(a));
    train_ok(a, X, 120, 4, y, 3, 99);
    predict_ok(a, Xt, 90, 4, l1, s1);
    check_proba_rows(s1, l1, 90, 3);
    assert_true(accuracy(l1, yt, 90) > 0.8);

    vb_classifier *b = svm_new("{probability: true}");
    train_ok(b, X, 120, 4, y, 3, 99);
    predict_ok(b, Xt, 90, 4, l2, s2);
    assert_memory_equal(s1, s2, sizeof s1);
    assert_memory_equal(l1, l2, sizeof l1);

    /* Another seed: other calibration folds; still valid probabilities. */
    vb_classifier *c = svm_new("{probability: true, precompute_mb: 0}");
    train_ok(c, X, 120, 4, y, 3, 12345);
    predict_ok(c, Xt, 90, 4, l3, s3);
    check_proba_rows(s3, l3, 90, 3);

    /* Two classes: the coupling reduces to the pair's sigmoid. */
    int *y2;
    float *X2 = tu_blobs(2, 40, 3, 2.0, 41, &y2);
    vb_classifier *d2 = svm_new("{probability: true}");
    train_ok(d2, X2, 80, 3, y2, 2, 1);
    int l4[80];
    float s4[160];
    predict_ok(d2, X2, 80, 3, l4, s4);
    check_proba_rows(s4, l4, 80, 2);

    /* A class absent from training gets probability 0 and is never predicted. */
    vb_classifier *e = svm_new("{probability: true}");
    train_ok(e, X, 120, 4, y, 4, 1);
    float s5[90 * 4];
    predict_ok(e, Xt, 90, 4, l3, s5);
    check_proba_rows(s5, l3, 90, 4);
    for (size_t i = 0; i < 90; i++) {
        assert_float_equal(s5[i * 4 + 3], 0.0, 0);
        assert_int_not_equal(l3[i], 3);
    }
    vb_classifier *f = svm_new(NULL);
    train_ok(f, X, 120, 4, y, 4, 1);
    predict_ok(f, Xt, 90, 4, l3, s5);
    for (size_t i = 0; i < 90; i++)
        assert_float_equal(s5[i * 4 + 3], -1.0, 0);

    vb_classifier_free(a);
    vb_classifier_free(b);
    vb_classifier_free(c);
    vb_classifier_free(d2);
    vb_classifier_free(e);
    vb_classifier_free(f);
    free(X);
    free(y);
    free(Xt);
    free(yt);
    free(X2);
    free(y2);
}

/* ---- gamma ------------------------------------------------------------- */

static void test_gamma_rules(void **state)
{
    /* X (2 x 2): 0 2 / 4 6: mean 3, variance (9+1+1+9)/4 = 5 -> scale: 1/(2*5) */
    const float X[4] = {0, 2, 4, 6};
    const int y[2] = {0, 1};
    static const struct {
        const char *yaml, *info;
    } cases[] = {
        {"{gamma: scale}", "\"gamma\": 0.1"},
        {"{gamma: auto}", "\"gamma\": 0.5"},
        {"{gamma: 0.25}", "\"gamma\": 0.25"},
    };
    for (size_t i = 0; i < 3; i++) {
        vb_classifier *c = svm_new(cases[i].yaml);
        train_ok(c, X, 2, 2, y, 2, 1);
        vb_buf b;
        vb_buf_init(&b);
        c->vt->info_json(c->state, &b);
        char *want = vb_asprintf("\"n_sv\": 2, %s", cases[i].info);
        assert_string_equal(b.data, want);
        free(want);
        vb_buf_free(&b);
        vb_classifier_free(c);
    }
}

/* ---- save / load ------------------------------------------------------- */

static void round_trip(const char *yaml)
{
    int *y, *yt;
    float *X = tu_blobs(3, 30, 4, 2.5, 51, &y), *Xt = tu_blobs(3, 20, 4, 2.5, 52, &yt);
    vb_classifier *c = svm_new(yaml);
    train_ok(c, X, 90, 4, y, 3, 3);
    vb_writer w;
    vb_writer_init(&w);
    vb_error err = {0};
    assert_int_equal(vb_classifier_save(c, &w, &err), VB_OK);

    vb_classifier *c2 = svm_new(yaml);
    vb_reader r;
    vb_reader_init(&r, w.buf.data, w.buf.len, "model.vbm");
    if (vb_classifier_load(c2, &r, &err) != VB_OK)
        fail_msg("%s", err.msg);
    assert_int_equal(vb_reader_end(&r, &err), VB_OK);
    assert_int_equal(c2->d, 4);
    assert_int_equal(c2->n_classes, 3);
    int l1[60], l2[60];
    float s1[180], s2[180];
    predict_ok(c, Xt, 60, 4, l1, s1);
    predict_ok(c2, Xt, 60, 4, l2, s2);
    assert_memory_equal(l1, l2, sizeof l1);
    assert_memory_equal(s1, s2, sizeof s1);

    /* Saving the loaded model gives the same bytes. */
    vb_writer w2;
    vb_writer_init(&w2);
    assert_int_equal(vb_classifier_save(c2, &w2, &err), VB_OK);
    assert_int_equal(w2.buf.len, w.buf.len);
    assert_memory_equal(w2.buf.data, w.buf.data, w.buf.len);
    vb_writer_free(&w2);

    /* Every truncation is an error, never a crash; the instance stays
     * unusable afterwards. */
    for (size_t len = 0; len < w.buf.len; len++) {
        vb_classifier *c3 = svm_new(yaml);
        uint8_t *copy = malloc(len ? len : 1);
        memcpy(copy, w.buf.data, len);
        vb_reader_init(&r, copy, len, "model.vbm");
        vb_error e = {0};
        vb_status st = vb_classifier_load(c3, &r, &e);
        if (st == VB_OK)
            fail_msg("a state truncated to %zu of %zu bytes loaded", len, w.buf.len);
        assert_int_equal(st, VB_ERR_FORMAT);
        assert_non_null(strstr(e.msg, "model.vbm"));
        st = vb_classifier_predict(c3, Xt, 1, 4, l2, NULL, &e);
        assert_int_equal(st, VB_ERR_STATE);
        free(copy);
        vb_classifier_free(c3);
    }
    /* A wrapper header that disagrees with the state (a feature count of 5
     * where the state has 4) is corrupt, not a model that reads past rows. */
    uint8_t *bad = malloc(w.buf.len);
    memcpy(bad, w.buf.data, w.buf.len);
    bad[0] = 5; /* the wrapper's u64 feature count, little-endian */
    vb_classifier *c4 = svm_new(yaml);
    vb_reader_init(&r, bad, w.buf.len, "model.vbm");
    vb_error e4 = {0};
    assert_int_equal(vb_classifier_load(c4, &r, &e4), VB_ERR_FORMAT);
    assert_string_equal(e4.msg, "model.vbm: corrupt svm state (4 features and 3 classes, the header says 5 and 3)");
    vb_classifier_free(c4);
    free(bad);

    /* A failed load into a trained instance leaves it untrained. */
    vb_reader_init(&r, w.buf.data, w.buf.len / 2, "model.vbm");
    assert_int_not_equal(vb_classifier_load(c2, &r, &err), VB_OK);
    vb_error e = {0};
    vb_status st = vb_classifier_predict(c2, Xt, 1, 4, l2, NULL, &e);
    assert_int_equal(st, VB_ERR_STATE);
    assert_string_equal(e.msg, "svm: predict before train");

    vb_writer_free(&w);
    vb_classifier_free(c);
    vb_classifier_free(c2);
    free(X);
    free(y);
    free(Xt);
    free(yt);
}

static void test_round_trip_plain(void **state) { round_trip("{kernel: rbf}"); }
static void test_round_trip_proba(void **state) { round_trip("{kernel: poly, gamma: 0.1, probability: true}"); }

/* A corrupt header that claims huge tables is refused before allocating. */
static void test_load_corrupt_sizes(void **state)
{
    vb_writer w;
    vb_writer_init(&w);
    vb_write_u64(&w, 1);        /* wrapper: d */
    vb_write_u32(&w, 1u << 20); /* wrapper: n_classes */
    vb_write_u64(&w, 1);        /* svm: d */
    vb_write_u32(&w, 1u << 20); /* classes */
    vb_write_u32(&w, 1u << 20); /* model classes: 2^39 pairs */
    vb_write_u64(&w, 1);        /* SVs */
    vb_write_f64(&w, 1.0);      /* gamma */
    for (int i = 0; i < 16; i++)
        vb_write_u64(&w, 0);
    vb_classifier *c = svm_new(NULL);
    vb_reader r;
    vb_reader_init(&r, w.buf.data, w.buf.len, "bad.vbm");
    vb_error err = {0};
    vb_status st = vb_classifier_load(c, &r, &err);
    assert_int_equal(st, VB_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "bad.vbm: corrupt svm"));
    vb_classifier_free(c);

    /* Class count out of range. */
    vb_writer_free(&w);
    vb_writer_init(&w);
    vb_write_u64(&w, 4);
    vb_write_u32(&w, 1);
    c = svm_new(NULL);
    vb_reader_init(&r, w.buf.data, w.buf.len, "bad.vbm");
    st = vb_classifier_load(c, &r, &err);
    assert_int_equal(st, VB_ERR_FORMAT);
    assert_string_equal(err.msg, "bad.vbm: corrupt field n_classes = 1 (expected 2..1048576)");
    vb_classifier_free(c);
    vb_writer_free(&w);
}

/* ---- wrapper errors ---------------------------------------------------- */

static void test_wrapper_errors(void **state)
{
    float X[12] = {0, 0, 1, 1, 5, 5, 6, 6, 0, 1, 5, 6};
    int y[6] = {0, 0, 1, 1, 0, 1};
    vb_error err = {0};
    vb_classifier *c = svm_new(NULL);
    vb_traindata td = {.X = X, .n = 6, .d = 2, .y = y, .n_classes = 2};
    int lab[6];
    vb_status st;

    st = vb_classifier_predict(c, X, 6, 2, lab, NULL, &err);
    assert_int_equal(st, VB_ERR_STATE);
    assert_string_equal(err.msg, "svm: predict before train");
    vb_writer w;
    vb_writer_init(&w);
    assert_int_equal(vb_classifier_save(c, &w, &err), VB_ERR_STATE);
    assert_string_equal(err.msg, "svm: cannot save an untrained classifier");
    vb_writer_free(&w);

    td.n = 0;
    st = vb_classifier_train(c, &td, &err);
    assert_int_equal(st, VB_ERR_DATA);
    assert_string_equal(err.msg, "svm: empty training set (0 rows of 2 features)");
    td.n = 6;

    td.n_classes = 1;
    st = vb_classifier_train(c, &td, &err);
    assert_int_equal(st, VB_ERR_DATA);
    assert_string_equal(err.msg, "svm: needs at least two classes, the dataset has 1");
    td.n_classes = 2;

    int one[6] = {1, 1, 1, 1, 1, 1};
    td.y = one;
    st = vb_classifier_train(c, &td, &err);
    assert_int_equal(st, VB_ERR_DATA);
    assert_string_equal(err.msg, "svm: the training set holds only one class; a classifier needs at least two");

    int bad[6] = {0, 2, 1, 0, 1, 0};
    td.y = bad;
    st = vb_classifier_train(c, &td, &err);
    assert_int_equal(st, VB_ERR_DATA);
    assert_string_equal(err.msg, "svm: label 2 of row 1 is outside 0..1");
    bad[1] = -1;
    st = vb_classifier_train(c, &td, &err);
    assert_string_equal(err.msg, "svm: label -1 of row 1 is outside 0..1");
    td.y = y;

    X[5] = NAN; /* row 2, column 1 */
    st = vb_classifier_train(c, &td, &err);
    assert_int_equal(st, VB_ERR_DATA);
    assert_string_equal(err.msg, "svm: training feature 1 of row 2 is NaN; check the extractor and post-processing");
    X[5] = 5;
    X[8] = -INFINITY; /* row 4, column 0 */
    st = vb_classifier_train(c, &td, &err);
    assert_int_equal(st, VB_ERR_DATA);
    assert_string_equal(err.msg,
                        "svm: training feature 0 of row 4 is infinite; check the extractor and post-processing");
    X[8] = 0;
    assert_false(c->trained);

    float Xv[2] = {1, NAN};
    int yv[1] = {0};
    td.Xval = Xv;
    td.yval = yv;
    td.n_val = 1;
    st = vb_classifier_train(c, &td, &err);
    assert_int_equal(st, VB_ERR_DATA);
    assert_string_equal(err.msg, "svm: validation feature 1 of row 0 is not finite");
    td.Xval = NULL;
    td.yval = NULL;
    td.n_val = 0;

    assert_int_equal(vb_classifier_train(c, &td, &err), VB_OK);
    assert_true(c->trained);
    assert_int_equal(c->d, 2);
    assert_int_equal(c->n_classes, 2);
    predict_ok(c, X, 6, 2, lab, NULL);
    assert_memory_equal(lab, y, sizeof y);

    st = vb_classifier_predict(c, X, 4, 3, lab, NULL, &err);
    assert_int_equal(st, VB_ERR_DATA);
    assert_string_equal(err.msg, "svm: trained on 2 features, asked to predict rows of 3");
    const float Xn[4] = {0, 0, INFINITY, 1};
    st = vb_classifier_predict(c, Xn, 2, 2, lab, NULL, &err);
    assert_int_equal(st, VB_ERR_DATA);
    assert_string_equal(err.msg, "svm: feature 0 of row 1 is not finite");
    /* Zero rows: nothing to do. */
    assert_int_equal(vb_classifier_predict(c, X, 0, 2, lab, NULL, &err), VB_OK);
    vb_classifier_free(c);

    size_t r = 9, col = 9;
    assert_int_equal(vb_find_nonfinite(Xn, 2, 2, &r, &col), 1);
    assert_int_equal(r, 1);
    assert_int_equal(col, 0);
    assert_int_equal(vb_find_nonfinite(X, 6, 2, &r, &col), 0);
}

static void test_registry_and_params(void **state)
{
    size_t n;
    const vb_classifier_vt *const *all = vb_classifier_registry(&n);
    assert_true(n >= 1);
    assert_ptr_equal(vb_classifier_find("svm"), all[0]);
    assert_null(vb_classifier_find("svn"));
    vb_classifier *c = svm_new(NULL);
    assert_false(vb_classifier_has_proba(c));
    assert_false(c->trained);
    vb_classifier_free(c);
    c = svm_new("{probability: true}");
    assert_true(vb_classifier_has_proba(c));
    vb_classifier_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registry_and_params),
        cmocka_unit_test(test_separable_blobs),
        cmocka_unit_test(test_xor),
        cmocka_unit_test(test_libsvm_rbf),
        cmocka_unit_test(test_libsvm_linear),
        cmocka_unit_test(test_libsvm_poly),
        cmocka_unit_test(test_libsvm_sigmoid),
        cmocka_unit_test(test_svm_pairs_every_way),
        cmocka_unit_test(test_balanced_weights),
        cmocka_unit_test(test_probability),
        cmocka_unit_test(test_gamma_rules),
        cmocka_unit_test(test_round_trip_plain),
        cmocka_unit_test(test_round_trip_proba),
        cmocka_unit_test(test_load_corrupt_sizes),
        cmocka_unit_test(test_wrapper_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
