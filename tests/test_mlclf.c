/* The multilabel and hierarchical classifiers (br, chain, hier) and the
 * decision thresholds they share, on small data whose answers are known. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "support/testutil.h"
#include "visbench/classifier.h"
#include "../src/classifiers/internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static vb_classifier *make(const char *name, const char *yaml)
{
    const vb_classifier_vt *vt = vb_classifier_find(name);
    assert_non_null(vt);
    vb_doc *doc = NULL;
    vb_error err = {0};
    if (vb_doc_load_string(yaml, "t.yaml", &doc, &err) != VB_OK)
        fail_msg("%s", err.msg);
    vb_params p;
    if (vb_params_parse(&p, &vt->info, doc->root, 0, &err) != VB_OK)
        fail_msg("%s: %s", yaml, err.msg);
    vb_classifier *c = NULL;
    if (vb_classifier_new(vt, &p, &c, &err) != VB_OK)
        fail_msg("%s: %s", yaml, err.msg);
    vb_params_free(&p);
    vb_doc_free(doc);
    return c;
}

static vb_status make_status(const char *name, const char *yaml, vb_error *err)
{
    const vb_classifier_vt *vt = vb_classifier_find(name);
    vb_doc *doc = NULL;
    if (vb_doc_load_string(yaml, "t.yaml", &doc, err) != VB_OK)
        return VB_ERR_SPEC;
    vb_params p;
    vb_status st = vb_params_parse(&p, &vt->info, doc->root, 0, err);
    vb_classifier *c = NULL;
    if (st == VB_OK) {
        st = vb_classifier_new(vt, &p, &c, err);
        vb_params_free(&p);
    }
    vb_classifier_free(c);
    vb_doc_free(doc);
    return st;
}

/* ---- thresholds ---------------------------------------------------------- */

static void test_thresholds(void **state)
{
    /* label 0: scores 0.9 0.8 0.3 0.2 with truth 1 1 0 1. Predicting the top
     * two gives F1 = 2*2/(2*2+0+1) = 0.8 (that is base 0.5 too), all four
     * 2*3/(2*3+1+0) = 0.857, the top one 2/3: all four win, the threshold
     * just under 0.2 (0.2 - 0.2e-3 - 1e-3). label 1: no positive: base. */
    const float S[] = {0.9f, 0.1f, 0.8f, 0.7f, 0.3f, 0.2f, 0.2f, 0.6f};
    const uint8_t Y[] = {1, 0, 1, 0, 0, 0, 1, 0};
    float t[2];
    vb_error err = {0};
    assert_int_equal(vb_ml_tune_thresholds(S, Y, 4, 2, VB_ML_THRESH_PER_LABEL, 0.5f, t, &err), VB_OK);
    assert_float_equal(t[0], 0.2f - 0.2f * 1e-3f - 1e-3f, 1e-7);
    assert_float_equal(t[1], 0.5f, 0);
    /* fixed: base everywhere */
    assert_int_equal(vb_ml_tune_thresholds(S, Y, 4, 2, VB_ML_THRESH_FIXED, 0.25f, t, &err), VB_OK);
    assert_float_equal(t[0], 0.25f, 0);
    assert_float_equal(t[1], 0.25f, 0);
    /* global: the 8 scores with 3 positives (0.9, 0.8, 0.2). Above 0.5: 0.9
     * 0.8 0.7 0.6 -> tp 2, fp 2, F1 4/7 = 0.571; the top two (t 0.75): 4/5 =
     * 0.8 is the best (the top three 0.7 F1 4/6, all above 0.15: 6/10). */
    assert_int_equal(vb_ml_tune_thresholds(S, Y, 4, 2, VB_ML_THRESH_GLOBAL, 0.5f, t, &err), VB_OK);
    assert_float_equal(t[0], 0.75f, 1e-6);
    assert_float_equal(t[1], 0.75f, 1e-6);
    uint8_t sets[8];
    vb_ml_apply_thresholds(S, 4, 2, t, sets);
    const uint8_t want[8] = {1, 0, 1, 0, 0, 0, 0, 0};
    assert_memory_equal(sets, want, 8);
    /* no validation rows: base */
    assert_int_equal(vb_ml_tune_thresholds(NULL, NULL, 0, 2, VB_ML_THRESH_PER_LABEL, 0.0f, t, &err), VB_OK);
    assert_float_equal(t[0], 0.0f, 0);
}

/* ---- multilabel data ------------------------------------------------------ */

/* n points uniform in [-1, 1]^2 (+ a noise feature); labels: 0 = x0 > 0,
 * 1 = x1 > 0, 2 = both (an AND: linear in the labels before it, not in x). */
static float *ml_data(size_t n, uint64_t seed, uint8_t **Y)
{
    vb_rng *rng = vb_rng_new(seed);
    float *X = malloc(n * 3 * sizeof *X);
    *Y = malloc(n * 3);
    for (size_t i = 0; i < n; i++) {
        for (int j = 0; j < 3; j++)
            X[i * 3 + j] = (float)(2 * vb_rng_uniform(rng) - 1);
        (*Y)[i * 3 + 0] = X[i * 3] > 0;
        (*Y)[i * 3 + 1] = X[i * 3 + 1] > 0;
        (*Y)[i * 3 + 2] = X[i * 3] > 0 && X[i * 3 + 1] > 0;
    }
    vb_rng_free(rng);
    return X;
}

static vb_traindata ml_td(const float *X, const uint8_t *Y, int *y, size_t n)
{
    for (size_t i = 0; i < n; i++)
        y[i] = Y[i * 3] ? 0 : Y[i * 3 + 1] ? 1 : Y[i * 3 + 2] ? 2 : 0;
    return (vb_traindata){.X = X, .n = n, .d = 3, .y = y, .n_classes = 3, .Y = Y, .seed = 5};
}

static double subset_accuracy(vb_classifier *c, const float *X, const uint8_t *Y, size_t n, uint8_t *P, float *S)
{
    vb_error err = {0};
    if (vb_classifier_predict_sets(c, X, n, 3, P, S, &err) != VB_OK)
        fail_msg("%s", err.msg);
    size_t right = 0;
    for (size_t i = 0; i < n; i++)
        right += memcmp(P + i * 3, Y + i * 3, 3) == 0;
    return (double)right / (double)n;
}

static vb_classifier *reload(const vb_classifier *c, const char *name, const char *yaml)
{
    vb_writer w;
    vb_writer_init(&w);
    vb_error err = {0};
    if (vb_classifier_save(c, &w, &err) != VB_OK)
        fail_msg("%s", err.msg);
    vb_classifier *c2 = make(name, yaml);
    vb_reader r;
    vb_reader_init(&r, w.buf.data, w.buf.len, "state");
    if (vb_classifier_load(c2, &r, &err) != VB_OK)
        fail_msg("%s", err.msg);
    /* every truncation fails cleanly */
    for (size_t len = 0; len < w.buf.len; len += 1 + len / 8) {
        vb_classifier *c3 = make(name, yaml);
        vb_reader_init(&r, w.buf.data, len, "state");
        vb_error e2 = {0};
        vb_status st = vb_classifier_load(c3, &r, &e2);
        if (st == VB_OK)
            st = vb_reader_end(&r, &e2);
        assert_int_not_equal(st, VB_OK);
        vb_classifier_free(c3);
    }
    vb_writer_free(&w);
    return c2;
}

static void test_br_and_chain(void **state)
{
    size_t n = 600, nt = 400;
    uint8_t *Y, *Yt;
    float *X = ml_data(n, 1, &Y), *Xt = ml_data(nt, 2, &Yt);
    int *y = malloc(n * sizeof *y);
    vb_traindata td = ml_td(X, Y, y, n);
    uint8_t *P = malloc(nt * 3), *P2 = malloc(nt * 3);
    float *S = malloc(nt * 3 * sizeof *S), *S2 = malloc(nt * 3 * sizeof *S2);
    vb_error err = {0};

    const char *br_yaml = "{base: {logreg: {C: 100}}, threshold: fixed}";
    vb_classifier *br = make("br", br_yaml);
    assert_true(vb_classifier_multilabels(br->vt, &br->params));
    if (vb_classifier_train(br, &td, &err) != VB_OK)
        fail_msg("%s", err.msg);
    assert_true(vb_classifier_has_proba(br));
    double acc_br = subset_accuracy(br, Xt, Yt, nt, P, S);
    /* labels 0 and 1 are half-planes: binary relevance gets them right */
    size_t wrong01 = 0;
    for (size_t i = 0; i < nt; i++)
        wrong01 += (P[i * 3] != Yt[i * 3]) + (P[i * 3 + 1] != Yt[i * 3 + 1]);
    assert_true(wrong01 <= nt / 50);
    for (size_t i = 0; i < nt * 3; i++)
        assert_true(S[i] >= 0 && S[i] <= 1);
    /* saved and loaded: the same sets and scores */
    vb_classifier *br2 = reload(br, "br", br_yaml);
    subset_accuracy(br2, Xt, Yt, nt, P2, S2);
    assert_memory_equal(P, P2, nt * 3);
    assert_memory_equal(S, S2, nt * 3 * sizeof *S);
    /* one thread or two: the same model */
    vb_set_threads(1);
    vb_classifier *br1 = make("br", br_yaml);
    if (vb_classifier_train(br1, &td, &err) != VB_OK)
        fail_msg("%s", err.msg);
    vb_set_threads(2);
    subset_accuracy(br1, Xt, Yt, nt, P2, S2);
    assert_memory_equal(S, S2, nt * 3 * sizeof *S);

    /* a chain in the listed order learns the AND from the two labels before
     * it; binary relevance cannot (no line in x separates it) */
    const char *ch_yaml = "{base: {logreg: {C: 100}}, order: listed, threshold: fixed}";
    vb_classifier *ch = make("chain", ch_yaml);
    if (vb_classifier_train(ch, &td, &err) != VB_OK)
        fail_msg("%s", err.msg);
    double acc_ch = subset_accuracy(ch, Xt, Yt, nt, P, S);
    assert_true(acc_ch >= 0.97);
    assert_true(acc_ch > acc_br + 0.03);
    vb_classifier *ch2 = reload(ch, "chain", ch_yaml);
    subset_accuracy(ch2, Xt, Yt, nt, P2, S2);
    assert_memory_equal(S, S2, nt * 3 * sizeof *S);

    /* an ensemble of seeded random orders: deterministic */
    const char *ecc = "{base: {logreg: {C: 100}}, chains: 3, threshold: fixed}";
    vb_classifier *e1 = make("chain", ecc), *e2 = make("chain", ecc);
    assert_int_equal(vb_classifier_train(e1, &td, &err), VB_OK);
    assert_int_equal(vb_classifier_train(e2, &td, &err), VB_OK);
    subset_accuracy(e1, Xt, Yt, nt, P, S);
    subset_accuracy(e2, Xt, Yt, nt, P2, S2);
    assert_memory_equal(S, S2, nt * 3 * sizeof *S);

    /* tuned thresholds come from the validation rows */
    td.Xval = Xt;
    td.Yval = Yt;
    td.n_val = nt;
    int *yv = malloc(nt * sizeof *yv);
    for (size_t i = 0; i < nt; i++)
        yv[i] = 0;
    td.yval = yv;
    vb_classifier *tb = make("br", "{base: {logreg: {C: 100}}}");
    assert_int_equal(vb_classifier_train(tb, &td, &err), VB_OK);
    vb_buf info;
    vb_buf_init(&info);
    tb->vt->info_json(tb->state, &info);
    assert_non_null(strstr(info.data, "\"thresholds\": ["));
    assert_null(strstr(info.data, "\"thresholds\": [0.5, 0.5, 0.5]"));
    vb_buf_free(&info);

    /* single-label data: refused with a message */
    vb_classifier *bad = make("br", br_yaml);
    td.Y = NULL;
    tu_assert_fails_with(vb_classifier_train(bad, &td, &err), err, "label sets");
    vb_classifier_free(bad);

    vb_classifier_free(tb);
    vb_classifier_free(e1);
    vb_classifier_free(e2);
    vb_classifier_free(br);
    vb_classifier_free(br1);
    vb_classifier_free(br2);
    vb_classifier_free(ch);
    vb_classifier_free(ch2);
    free(yv);
    free(X);
    free(Y);
    free(Xt);
    free(Yt);
    free(y);
    free(P);
    free(P2);
    free(S);
    free(S2);
}

static void test_base_errors(void **state)
{
    vb_error err = {0};
    tu_assert_fails_with(make_status("br", "{base: {svn: {}}}", &err), err, "did you mean 'svm'");
    tu_assert_fails_with(make_status("br", "{base: {svn: {}}}", &err), err, "t.yaml:1:");
    tu_assert_fails_with(make_status("chain", "{base: br}", &err), err, "cannot be a base classifier here");
    tu_assert_fails_with(make_status("hier", "{base: {kmeans: {}}}", &err), err, "clusters");
    tu_assert_fails_with(make_status("br", "{base: {svm: {C: [1, 10]}}}", &err), err, "grid");
    /* what a base is depends on its parameters: a softmax cnn and a gmm that
     * classifies are bases, a sigmoid cnn and a clustering gmm are not */
    assert_int_equal(make_status("hier", "{base: {cnn: {epochs: 1}}}", &err), VB_OK);
    assert_int_equal(make_status("br", "{base: {gmm: {mode: classify}}}", &err), VB_OK);
    tu_assert_fails_with(make_status("br", "{base: {cnn: {output: sigmoid}}}", &err), err, "it learns label sets");
    tu_assert_fails_with(make_status("br", "{base: {gmm: {mode: cluster}}}", &err), err, "it clusters");
}

/* ---- hierarchical ------------------------------------------------------------ */

/* Leaves a1 a2 b1 b2 (classes 0..3) under A (node 4) and B (node 5); points
 * in [-1, 1]^2: the group is the sign of x0, the leaf in it the sign of x1. */
static vb_taxonomy *tax4(void)
{
    vb_error err = {0};
    vb_taxonomy *t = vb_taxonomy_new(4, 6, &err);
    static const char *const names[] = {"a1", "a2", "b1", "b2", "A", "B"};
    static const int parent[] = {4, 4, 5, 5, -1, -1};
    for (int v = 0; v < 6; v++) {
        t->names[v] = strdup(names[v]);
        t->parent[v] = parent[v];
    }
    if (vb_taxonomy_finish(t, "tax4", &err) != VB_OK)
        fail_msg("%s", err.msg);
    return t;
}

static float *hier_data(size_t n, uint64_t seed, int *y)
{
    vb_rng *rng = vb_rng_new(seed);
    float *X = malloc(n * 2 * sizeof *X);
    for (size_t i = 0; i < n; i++) {
        X[i * 2] = (float)(2 * vb_rng_uniform(rng) - 1);
        X[i * 2 + 1] = (float)(2 * vb_rng_uniform(rng) - 1);
        y[i] = (X[i * 2] > 0 ? 2 : 0) + (X[i * 2 + 1] > 0);
    }
    vb_rng_free(rng);
    return X;
}

static void test_hier(void **state)
{
    size_t n = 400, nt = 200;
    int *y = malloc(n * sizeof *y), *yt = malloc(nt * sizeof *yt), *p = malloc(nt * sizeof *p),
        *p2 = malloc(nt * sizeof *p2);
    float *X = hier_data(n, 3, y), *Xt = hier_data(nt, 4, yt);
    float *S = malloc(nt * 4 * sizeof *S), *S2 = malloc(nt * 4 * sizeof *S2);
    vb_taxonomy *t = tax4();
    vb_traindata td = {.X = X, .n = n, .d = 2, .y = y, .n_classes = 4, .tax = t, .seed = 9};
    vb_error err = {0};
    static const char *const methods[] = {"{method: per-parent, base: {logreg: {C: 100}}}",
                                          "{method: per-level, base: {logreg: {C: 100}}}",
                                          "{method: per-parent, base: {svm: {kernel: linear}}}"};
    for (int m = 0; m < 3; m++) {
        vb_classifier *c = make("hier", methods[m]);
        if (vb_classifier_train(c, &td, &err) != VB_OK)
            fail_msg("%s: %s", methods[m], err.msg);
        assert_int_equal(vb_classifier_predict(c, Xt, nt, 2, p, S, &err), VB_OK);
        size_t right = 0;
        for (size_t i = 0; i < nt; i++) {
            right += p[i] == yt[i];
            double sum = 0;
            int best = 0;
            for (int l = 0; l < 4; l++) {
                sum += S[i * 4 + l];
                best = S[i * 4 + l] > S[i * 4 + best] ? l : best;
            }
            assert_float_equal(sum, 1.0, 1e-5); /* a distribution over the leaves */
            assert_true(p[i] >= 0 && p[i] < 4);  /* mandatory leaf */
        }
        if (right < nt * 95 / 100)
            fail_msg("%s: %zu of %zu right", methods[m], right, nt);
        vb_classifier *c2 = reload(c, "hier", methods[m]);
        assert_int_equal(vb_classifier_predict(c2, Xt, nt, 2, p2, S2, &err), VB_OK);
        assert_memory_equal(p, p2, nt * sizeof *p);
        assert_memory_equal(S, S2, nt * 4 * sizeof *S);
        vb_classifier_free(c);
        vb_classifier_free(c2);
    }
    /* stop: 0.99 keeps the group where the leaf is uncertain (x1 near 0),
     * as the inner node's id (4 = A, 5 = B), and only there */
    vb_classifier *c = make("hier", "{method: per-parent, base: {logreg: {C: 1}}, stop: 0.99}");
    assert_int_equal(vb_classifier_train(c, &td, &err), VB_OK);
    assert_int_equal(vb_classifier_predict(c, Xt, nt, 2, p, S, &err), VB_OK);
    size_t stopped = 0;
    for (size_t i = 0; i < nt; i++)
        if (p[i] >= 4) {
            stopped++;
            assert_int_equal(p[i], Xt[i * 2] > 0 ? 5 : 4);
        }
    assert_true(stopped > 0 && stopped < nt);
    vb_classifier_free(c);
    /* without a taxonomy: refused with what to do */
    c = make("hier", "{base: logreg}");
    td.tax = NULL;
    tu_assert_fails_with(vb_classifier_train(c, &td, &err), err, "hierarchy:");
    vb_classifier_free(c);
    vb_taxonomy_free(t);
    free(X);
    free(Xt);
    free(y);
    free(yt);
    free(p);
    free(p2);
    free(S);
    free(S2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_thresholds),
        cmocka_unit_test(test_br_and_chain),
        cmocka_unit_test(test_base_errors),
        cmocka_unit_test(test_hier),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
