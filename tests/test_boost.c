/* boost (XGBoost's gradient-boosted trees): leaf values computed by hand,
 * early stopping on a validation part whose best round is known, round
 * trips, seeds and thread counts, and corrupt model bytes turned away
 * before XGBoost reads them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "support/testutil.h"
#include "visbench/classifier.h"
#include "../src/classifiers/internal.h"

#include <fcntl.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- helpers ----------------------------------------------------------- */

static vb_classifier *boost(const char *yaml)
{
    const vb_classifier_vt *vt = vb_classifier_find("boost");
    assert_non_null(vt);
    vb_params p;
    vb_error err = {0};
    if (vb_params_parse_text(&p, &vt->info, yaml, &err) != VB_OK)
        fail_msg("%s: %s", yaml, err.msg);
    vb_classifier *c = NULL;
    vb_status st = vb_classifier_new(vt, &p, &c, &err);
    vb_params_free(&p);
    if (st != VB_OK)
        fail_msg("%s: %s", yaml, err.msg);
    return c;
}

static void train(vb_classifier *c, const vb_traindata *td)
{
    vb_error err = {0};
    if (vb_classifier_train(c, td, &err) != VB_OK)
        fail_msg("train: %s", err.msg);
}

static void predict(const vb_classifier *c, const float *X, size_t n, size_t d, int *labels, float *scores)
{
    vb_error err = {0};
    if (vb_classifier_predict(c, X, n, d, labels, scores, &err) != VB_OK)
        fail_msg("predict: %s", err.msg);
}

static vb_buf saved(const vb_classifier *c)
{
    vb_writer w;
    vb_writer_init(&w);
    vb_error err = {0};
    if (vb_classifier_save(c, &w, &err) != VB_OK)
        fail_msg("save: %s", err.msg);
    return w.buf;
}

static char *info(const vb_classifier *c)
{
    vb_buf b;
    vb_buf_init(&b);
    c->vt->info_json(c->state, &b);
    return b.data;
}

/* An integer member of the info JSON ("rounds": 3). */
static long info_int(const vb_classifier *c, const char *key)
{
    char *s = info(c), pat[64];
    snprintf(pat, sizeof pat, "\"%s\": ", key);
    const char *p = strstr(s, pat);
    if (!p)
        fail_msg("no %s in %s", key, s);
    long v = strtol(p + strlen(pat), NULL, 10);
    free(s);
    return v;
}

static double sigmoid(double m) { return 1 / (1 + exp(-m)); }

/* Three blobs in d dimensions, n_per rows each, with their labels. */
typedef struct blobs {
    float *X;
    int *y;
    size_t n, d;
} blobs;

static blobs make_blobs(size_t n_per, size_t d, double sep, uint64_t seed)
{
    blobs b = {0};
    b.X = tu_blobs(3, n_per, d, sep, seed, &b.y);
    b.n = 3 * n_per;
    b.d = d;
    return b;
}

static void free_blobs(blobs *b)
{
    free(b->X);
    free(b->y);
}

/* Training rows tr, validation rows va (may be NULL). */
static vb_traindata blob_td(const blobs *tr, const blobs *va, uint64_t seed)
{
    vb_traindata td = {.X = tr->X, .y = tr->y, .n = tr->n, .d = tr->d, .n_classes = 3, .seed = seed};
    if (va) {
        td.Xval = va->X;
        td.yval = va->y;
        td.n_val = va->n;
    }
    return td;
}

/* ---- known values ------------------------------------------------------ */

/* One stump on x = 1..8 with labels 0 0 1 0 1 1 1 1 (logistic loss, no
 * minimum child weight). From the base score 0.5 (margin 0) every row has
 * gradient p - y = 0.5 - y and hessian p (1 - p) = 0.25. The best split is
 * x < 5 (gain G_L^2/(H_L+l) + G_R^2/(H_R+l) - G^2/(H+l): with l = 1 it is
 * 1/2 + 2 - 1/3 = 2.17; x < 3 gives 1/1.5 + 4/2.5 - 1/3 = 1.93, x < 4 and
 * x < 6 less): left G = 1, H = 1, right G = -2, H = 1. Leaves are
 * -eta G / (H + lambda): with eta 1, lambda 1: -0.5 and 1; with eta 0.5,
 * lambda 3: -0.125 and 0.25 (x < 5 still wins: 1.05 against 0.97 for x < 3). */
static void test_known_stump(void **state)
{
    const float X[] = {1, 2, 3, 4, 5, 6, 7, 8};
    const int y[] = {0, 0, 1, 0, 1, 1, 1, 1};
    const struct {
        const char *params;
        double left, right;
    } cases[] = {{"{rounds: 1, max_depth: 1, eta: 1, lambda: 1, min_child_weight: 0}", -0.5, 1.0},
                 {"{rounds: 1, max_depth: 1, eta: 0.5, lambda: 3, min_child_weight: 0}", -0.125, 0.25}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        vb_classifier *c = boost(cases[k].params);
        vb_traindata td = {.X = X, .y = y, .n = 8, .d = 1, .n_classes = 2, .seed = 1};
        train(c, &td);
        int lab[8];
        float sc[16];
        predict(c, X, 8, 1, lab, sc);
        for (int i = 0; i < 8; i++) {
            double p = sigmoid(i < 4 ? cases[k].left : cases[k].right);
            tu_assert_near(sc[2 * i + 1], p, 1e-6);
            tu_assert_near(sc[2 * i], 1 - p, 1e-6);
            assert_int_equal(lab[i], i >= 4);
        }
        assert_int_equal(info_int(c, "rounds"), 1);
        assert_int_equal(info_int(c, "trees"), 1);
        assert_int_equal(info_int(c, "best_iteration"), 0);
        vb_classifier_free(c);
    }
}

/* Probabilities: two columns for two classes, K columns otherwise, each row
 * summing to 1, and the label its largest. */
static void test_probabilities(void **state)
{
    blobs tr = make_blobs(60, 4, 4.0, 1), te = make_blobs(30, 4, 4.0, 2);
    vb_classifier *c = boost("{rounds: 20, max_depth: 3}");
    vb_traindata td = blob_td(&tr, NULL, 5);
    train(c, &td);
    assert_true(vb_classifier_has_proba(c));
    int lab[90];
    float sc[270];
    predict(c, te.X, 90, 4, lab, sc);
    size_t hits = 0;
    for (size_t i = 0; i < 90; i++) {
        double sum = 0;
        int best = 0;
        for (int k = 0; k < 3; k++) {
            sum += sc[3 * i + (size_t)k];
            best = sc[3 * i + (size_t)k] > sc[3 * i + (size_t)best] ? k : best;
        }
        tu_assert_near(sum, 1.0, 1e-5);
        assert_int_equal(lab[i], best);
        hits += lab[i] == te.y[i];
    }
    if (hits < 80)
        fail_msg("boost on separated blobs: %zu of 90 right", hits);
    assert_int_equal(info_int(c, "trees"), 60);
    /* labels without scores are the same */
    int lab2[90];
    predict(c, te.X, 90, 4, lab2, NULL);
    assert_memory_equal(lab, lab2, sizeof lab);
    vb_classifier_free(c);
    free_blobs(&tr);
    free_blobs(&te);
}

/* ---- early stopping ---------------------------------------------------- */

/* Training: x = 1..4 of class 0, 5..8 of class 1; every round's stump
 * splits at x < 5 and, all rows of a side alike, moves the margin m of a
 * side by eta G / (H + 1) with G = 4 p, H = 4 p (1 - p) (left side; the
 * right one mirrors it). Validation: at x = 2 three rows of class 0 and one
 * of class 1, mirrored at x = 7, so its log loss is lowest at |m| = log 3.
 * expected_best simulates the margins to find that round. */
static const float es_X[] = {1, 2, 3, 4, 5, 6, 7, 8};
static const int es_y[] = {0, 0, 0, 0, 1, 1, 1, 1};
static const float es_Xv[] = {2, 2, 2, 2, 7, 7, 7, 7};
static const int es_yv[] = {0, 0, 0, 1, 1, 1, 1, 0};

static double es_val_loss(double m) /* m: the left side's margin (< 0) */
{
    double p = sigmoid(m); /* of class 1 */
    return -(0.75 * log(1 - p) + 0.25 * log(p));
}

static int expected_best(double eta, int rounds, double *best_loss)
{
    double m = 0, l[64];
    int at = 0;
    assert_true(rounds <= 64);
    for (int t = 0; t < rounds; t++) {
        double p = sigmoid(m);
        m -= eta * 4 * p / (4 * p * (1 - p) + 1);
        l[t] = es_val_loss(m);
        at = l[t] < l[at] ? t : at;
    }
    /* no near tie with the minimum, which float rounding could break otherwise */
    for (int t = 0; t < rounds; t++)
        assert_true(t == at || l[t] - l[at] > 1e-5);
    *best_loss = l[at];
    return at;
}

static void test_early_stopping(void **state)
{
    const double etas[] = {1.0, 0.3};
    for (int k = 0; k < 2; k++) {
        double best_loss;
        int best = expected_best(etas[k], 30, &best_loss);
        char params[128];
        snprintf(params, sizeof params, "{rounds: 30, max_depth: 1, eta: %g, min_child_weight: 0, early_stopping: 3}",
                 etas[k]);
        vb_classifier *c = boost(params);
        vb_traindata td = {.X = es_X, .y = es_y, .n = 8, .d = 1, .n_classes = 2, .seed = 1,
                           .Xval = es_Xv, .yval = es_yv, .n_val = 8};
        train(c, &td);
        assert_int_equal(info_int(c, "best_iteration"), best);
        assert_int_equal(info_int(c, "rounds"), best + 4); /* three rounds without improvement */
        char *s = info(c);
        assert_non_null(strstr(s, "\"stopped_early\": true"));
        free(s);
        /* the curve: one entry per round, the validation loss as simulated */
        const vb_epoch *ep;
        assert_int_equal(vb_classifier_curve(c, &ep), (size_t)best + 4);
        tu_assert_near(ep[best].val_loss, best_loss, 1e-5);
        for (int t = 0; t < best + 4; t++) {
            assert_true(t == best || ep[t].val_loss > ep[best].val_loss);
            assert_true(t == 0 || ep[t].train_loss < ep[t - 1].train_loss);
            tu_assert_near(ep[t].lr, etas[k], 1e-12);
        }
        /* predictions use the best round: margin -log 3 ... on the left side */
        double m = 0;
        for (int t = 0; t <= best; t++) {
            double p = sigmoid(m);
            m -= etas[k] * 4 * p / (4 * p * (1 - p) + 1);
        }
        int lab[8];
        float sc[16];
        predict(c, es_X, 8, 1, lab, sc);
        tu_assert_near(sc[1], sigmoid(m), 1e-5);
        tu_assert_near(sc[15], sigmoid(-m), 1e-5);
        vb_classifier_free(c);
    }
    /* early stopping off: every round, the last one predicts */
    vb_classifier *c = boost("{rounds: 6, max_depth: 1, eta: 1, min_child_weight: 0}");
    vb_traindata td = {.X = es_X, .y = es_y, .n = 8, .d = 1, .n_classes = 2, .seed = 1,
                       .Xval = es_Xv, .yval = es_yv, .n_val = 8};
    train(c, &td);
    assert_int_equal(info_int(c, "rounds"), 6);
    assert_int_equal(info_int(c, "best_iteration"), 5);
    vb_classifier_free(c);
    /* no validation part: early stopping is off */
    c = boost("{rounds: 6, max_depth: 1, eta: 1, min_child_weight: 0, early_stopping: 1}");
    td.Xval = NULL;
    td.yval = NULL;
    td.n_val = 0;
    train(c, &td);
    assert_int_equal(info_int(c, "rounds"), 6);
    assert_int_equal(info_int(c, "best_iteration"), 5);
    char *s = info(c);
    assert_non_null(strstr(s, "\"best_val_logloss\": null"));
    free(s);
    const vb_epoch *ep;
    assert_int_equal(vb_classifier_curve(c, &ep), 6);
    assert_true(isnan(ep[0].val_loss));
    vb_classifier_free(c);
}

/* ---- round trips, seeds, threads ---------------------------------------- */

static const char *const sampled = "{rounds: 15, max_depth: 4, subsample: 0.7, colsample: 0.5, early_stopping: 4}";

/* Saved and loaded, the model predicts the same bits and saves the same bytes. */
static void test_round_trip(void **state)
{
    blobs tr = make_blobs(80, 6, 1.2, 3), va = make_blobs(20, 6, 1.2, 4), te = make_blobs(30, 6, 1.2, 5);
    vb_classifier *c = boost(sampled);
    vb_traindata td = blob_td(&tr, &va, 9);
    train(c, &td);
    vb_buf b = saved(c);
    vb_classifier *c2 = boost(sampled);
    vb_reader r;
    vb_reader_init(&r, b.data, b.len, "m.vbm");
    vb_error err = {0};
    if (vb_classifier_load(c2, &r, &err) != VB_OK)
        fail_msg("load: %s", err.msg);
    assert_int_equal(vb_reader_left(&r), 0);
    int l1[90], l2[90];
    float s1[270], s2[270];
    predict(c, te.X, 90, 6, l1, s1);
    predict(c2, te.X, 90, 6, l2, s2);
    assert_memory_equal(l1, l2, sizeof l1);
    assert_memory_equal(s1, s2, sizeof s1);
    vb_buf b2 = saved(c2);
    assert_int_equal(b2.len, b.len);
    assert_memory_equal(b2.data, b.data, b.len);
    char *i1 = info(c), *i2 = info(c2);
    assert_string_equal(i1, i2);
    free(i1);
    free(i2);
    /* a loaded model has no learning curve (it belongs to a training) */
    const vb_epoch *ep;
    assert_int_equal(vb_classifier_curve(c2, &ep), 0);
    vb_buf_free(&b);
    vb_buf_free(&b2);
    vb_classifier_free(c);
    vb_classifier_free(c2);
    free_blobs(&tr);
    free_blobs(&va);
    free_blobs(&te);
}

/* The model of (params, seed) on the blobs, as saved bytes, at t threads. */
static vb_buf model_at(const char *params, uint64_t seed, int threads, const blobs *tr, const blobs *va)
{
    int saved_threads = vb_get_threads();
    vb_set_threads(threads);
    vb_classifier *c = boost(params);
    vb_traindata td = blob_td(tr, va, seed);
    train(c, &td);
    vb_buf b = saved(c);
    vb_classifier_free(c);
    vb_set_threads(saved_threads);
    return b;
}

static int same(const vb_buf *a, const vb_buf *b) { return a->len == b->len && memcmp(a->data, b->data, a->len) == 0; }

/* The same seed gives the same model, at one thread or two; another seed
 * (with row and feature sampling) another; XGBoost leaves the thread
 * count alone. */
static void test_seed_and_threads(void **state)
{
    blobs tr = make_blobs(300, 8, 1.0, 6), va = make_blobs(50, 8, 1.0, 7);
    int before = omp_get_max_threads();
    vb_buf a1 = model_at(sampled, 11, 1, &tr, &va), a2 = model_at(sampled, 11, 2, &tr, &va),
           a3 = model_at(sampled, 11, 2, &tr, &va), b1 = model_at(sampled, 12, 1, &tr, &va);
    assert_int_equal(omp_get_max_threads(), before);
    if (!same(&a1, &a2))
        fail_msg("one and two threads give different models");
    assert_true(same(&a2, &a3));
    assert_false(same(&a1, &b1));
    /* without sampling the seed does not matter */
    const char *plain = "{rounds: 5, max_depth: 3}";
    vb_buf p1 = model_at(plain, 1, 1, &tr, NULL), p2 = model_at(plain, 2, 2, &tr, NULL);
    assert_true(same(&p1, &p2));
    vb_buf_free(&a1);
    vb_buf_free(&a2);
    vb_buf_free(&a3);
    vb_buf_free(&b1);
    vb_buf_free(&p1);
    vb_buf_free(&p2);
    free_blobs(&tr);
    free_blobs(&va);
}

/* Nothing carries over from one instance to the next: a model trained
 * after others, or while another one is alive, is the model trained alone;
 * two live instances predict as each does alone. */
static void test_instances_apart(void **state)
{
    blobs tr = make_blobs(100, 5, 1.0, 8), va = make_blobs(30, 5, 1.0, 9);
    vb_buf alone = model_at(sampled, 3, 2, &tr, &va);
    vb_classifier *x = boost("{rounds: 7, max_depth: 2, subsample: 0.5, eta: 0.1}");
    vb_traindata tdx = blob_td(&tr, NULL, 99);
    train(x, &tdx);
    vb_buf after = model_at(sampled, 3, 2, &tr, &va);
    assert_true(same(&alone, &after));
    int lx[30], ly[30];
    float sx[90], sx2[90], sy[90];
    predict(x, va.X, 30, 5, lx, sx);
    vb_classifier *y = boost(sampled);
    vb_traindata tdy = blob_td(&tr, &va, 3);
    train(y, &tdy);
    vb_buf yb = saved(y);
    assert_true(same(&alone, &yb));
    predict(y, va.X, 30, 5, ly, sy);
    predict(x, va.X, 30, 5, lx, sx2);
    assert_memory_equal(sx, sx2, sizeof sx);
    vb_buf_free(&alone);
    vb_buf_free(&after);
    vb_buf_free(&yb);
    vb_classifier_free(x);
    vb_classifier_free(y);
    free_blobs(&tr);
    free_blobs(&va);
}

/* The offset of the first n bytes equal to pat in b. */
static size_t find(const vb_buf *b, const char *pat, size_t n)
{
    for (size_t i = 0; i + n <= b->len; i++)
        if (memcmp(b->data + i, pat, n) == 0)
            return i;
    fail_msg("no %.*s in the model", (int)n, pat);
    return 0;
}

/* stderr into stderr.txt (appended), and back. */
static int quiet_begin(void)
{
    fflush(stderr);
    int keep = dup(2), fd = open("stderr.txt", O_CREAT | O_APPEND | O_WRONLY, 0644);
    assert_true(keep >= 0 && fd >= 0);
    dup2(fd, 2);
    close(fd);
    return keep;
}

static void quiet_end(int keep)
{
    fflush(stderr);
    dup2(keep, 2);
    close(keep);
}

/* Inside a parallel region of ours (br trains and predicts its labels so),
 * each thread's boost gives the model and the predictions of a serial one:
 * XGBoost then gets one thread, not an nthread its nested regions cannot
 * have (with which it left part of its work undone). */
static void test_in_parallel_region(void **state)
{
    blobs tr = make_blobs(100, 6, 1.0, 13), te = make_blobs(20, 6, 1.0, 14);
    const char *params = "{rounds: 8, max_depth: 4, subsample: 0.7}";
    int saved_threads = vb_get_threads();
    vb_set_threads(2);
    vb_buf alone = model_at(params, 4, 2, &tr, NULL);
    vb_classifier *ref = boost(params);
    vb_traindata td = blob_td(&tr, NULL, 4);
    train(ref, &td);
    float want[180];
    int lab[60];
    predict(ref, te.X, 60, 6, lab, want);
    vb_buf got[2];
    float scores[2][180];
    vb_status st[2];
#pragma omp parallel for num_threads(2)
    for (int t = 0; t < 2; t++) {
        vb_classifier *c = boost(params);
        vb_error err = {0};
        int l[60];
        st[t] = vb_classifier_train(c, &td, &err);
        if (st[t] == VB_OK)
            st[t] = vb_classifier_predict(c, te.X, 60, 6, l, scores[t], &err);
        vb_writer w;
        vb_writer_init(&w);
        if (st[t] == VB_OK)
            st[t] = vb_classifier_save(c, &w, &err);
        got[t] = w.buf;
        vb_classifier_free(c);
    }
    vb_set_threads(saved_threads);
    for (int t = 0; t < 2; t++) {
        assert_int_equal(st[t], VB_OK);
        if (!same(&alone, &got[t]))
            fail_msg("thread %d of a parallel region trained another model", t);
        assert_memory_equal(scores[t], want, sizeof want);
        vb_buf_free(&got[t]);
    }
    vb_buf_free(&alone);
    vb_classifier_free(ref);
    free_blobs(&tr);
    free_blobs(&te);
}

/* Training, prediction and a load XGBoost refuses write nothing to stderr. */
static void test_quiet(void **state)
{
    tu_write_text("stderr.txt", "");
    int keep = quiet_begin();
    vb_classifier *c = boost("{rounds: 3, subsample: 0.5, early_stopping: 1}");
    vb_traindata td = {.X = es_X, .y = es_y, .n = 8, .d = 1, .n_classes = 2, .seed = 1,
                       .Xval = es_Xv, .yval = es_yv, .n_val = 8};
    train(c, &td);
    int lab[8];
    predict(c, es_X, 8, 1, lab, NULL);
    vb_buf b = saved(c);
    quiet_end(keep);
    /* the logistic loss's parameters under another name: XGBoost refuses
     * the model itself (boost does not check them) */
    b.data[find(&b, "reg_loss_param", 14) + 13] = 'x';
    vb_classifier *c2 = boost("{rounds: 3, subsample: 0.5, early_stopping: 1}");
    vb_reader r;
    vb_reader_init(&r, b.data, b.len, "m.vbm");
    vb_error err = {0};
    keep = quiet_begin();
    vb_status st = vb_classifier_load(c2, &r, &err);
    quiet_end(keep);
    if (st != VB_ERR_FORMAT || !strstr(err.msg, "m.vbm: XGBoost could not load the model: "))
        fail_msg("status %s: %s", vb_status_name(st), err.msg);
    assert_null(strchr(err.msg, '\n'));
    size_t len;
    char *text = tu_read_file("stderr.txt", &len);
    if (len)
        fail_msg("boost wrote to stderr: %s", text);
    free(text);
    vb_buf_free(&b);
    vb_classifier_free(c);
    vb_classifier_free(c2);
}

/* ---- corrupt model bytes ------------------------------------------------- */

/* The offset of XGBoost's bytes in a saved state: the wrapper's d (8) and
 * class count (4), boost's tag and version (8), d (8), classes, rounds and
 * best round (12), the best loss (8), the byte count (8). */
#define RAW_AT 56

/* A 3-class model's state, its XGBoost bytes at RAW_AT. */
static vb_buf small_state(void)
{
    blobs tr = make_blobs(30, 3, 1.5, 12);
    vb_classifier *c = boost("{rounds: 3, max_depth: 3}");
    vb_traindata td = blob_td(&tr, NULL, 1);
    train(c, &td);
    vb_buf b = saved(c);
    vb_classifier_free(c);
    free_blobs(&tr);
    return b;
}

/* Loads state bytes: the status; on success a prediction must work. */
static vb_status try_load(const uint8_t *data, size_t len, vb_error *err)
{
    vb_classifier *c = boost("{rounds: 3, max_depth: 3}");
    vb_reader r;
    vb_reader_init(&r, data, len, "m.vbm");
    vb_status st = vb_classifier_load(c, &r, err);
    if (st == VB_OK) {
        const float X[6] = {0, 1, 2, -1, 0.5f, 3};
        int lab[2];
        float sc[6];
        st = vb_classifier_predict(c, X, 2, 3, lab, sc, err);
        if (st == VB_OK)
            assert_true(lab[0] >= 0 && lab[0] < 3 && lab[1] >= 0 && lab[1] < 3);
    }
    vb_classifier_free(c);
    return st;
}

/* The offset of the first element of the typed array at key (its bytes
 * after "[$t#L" and the 8-byte count). */
static size_t array_at(const vb_buf *b, const char *key)
{
    size_t k = strlen(key);
    for (size_t i = RAW_AT; i + k + 14 <= b->len; i++)
        if (memcmp(b->data + i, key, k) == 0 && b->data[i + k] == '[' && b->data[i + k + 1] == '$')
            return i + k + 4 + 9;
    fail_msg("no %s in the model", key);
    return 0;
}

static void put_be32(char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (char)(v >> (24 - 8 * i));
}

/* One edit of the state, and the words the refusal must name. */
static void expect_refused(const vb_buf *b, void (*edit)(vb_buf *), const char *needle)
{
    vb_buf c;
    vb_buf_init(&c);
    vb_buf_append(&c, b->data, b->len);
    edit(&c);
    vb_error err = {0};
    vb_status st = try_load((const uint8_t *)c.data, c.len, &err);
    if (st != VB_ERR_FORMAT)
        fail_msg("%s: status %s (%s)", needle, vb_status_name(st), err.msg);
    if (!strstr(err.msg, needle) || !strstr(err.msg, "m.vbm"))
        fail_msg("expected '%s' in: %s", needle, err.msg);
    vb_buf_free(&c);
}

static void child_out(vb_buf *b) { put_be32(b->data + array_at(b, "left_children"), 1000); }
static void child_back(vb_buf *b) { put_be32(b->data + array_at(b, "right_children"), 0); }
static void feature_out(vb_buf *b) { put_be32(b->data + array_at(b, "split_indices"), 3); }
static void categorical(vb_buf *b) { b->data[array_at(b, "split_type")] = 1; }
static void nan_leaf(vb_buf *b) { put_be32(b->data + array_at(b, "split_conditions"), 0x7fc00000u); }
static void short_count(vb_buf *b) { b->data[array_at(b, "parents") - 1]--; }
static void last_brace(vb_buf *b) { b->data[b->len - 1] = ']'; }
static void cut_short(vb_buf *b)
{
    /* XGBoost's byte count (little-endian, before its bytes) and the bytes one shorter */
    uint64_t n = 0;
    for (int i = 0; i < 8; i++)
        n |= (uint64_t)(uint8_t)b->data[RAW_AT - 8 + i] << (8 * i);
    n--;
    for (int i = 0; i < 8; i++)
        b->data[RAW_AT - 8 + i] = (char)(n >> (8 * i));
    memmove(b->data + b->len - 2, b->data + b->len - 1, 1);
    b->len--;
}
static void bad_marker(vb_buf *b) { b->data[RAW_AT + 1] = 'x'; }
static void other_features(vb_buf *b)
{
    /* every num_feature "3" (the learner's and each tree's) becomes "4" */
    static const char pat[] = "num_featureSL\0\0\0\0\0\0\0\x01" "3";
    size_t n = sizeof pat - 1, hits = 0;
    for (size_t i = 0; i + n <= b->len; i++)
        if (memcmp(b->data + i, pat, n) == 0) {
            b->data[i + n - 1] = '4';
            hits++;
        }
    assert_true(hits > 1);
}
/* the rounds and best round fields: 2 rounds (the model has 3), the last one best */
static void wrong_rounds(vb_buf *b)
{
    b->data[RAW_AT - 24] = 2;
    b->data[RAW_AT - 20] = 1;
}
static void best_beyond(vb_buf *b) { b->data[RAW_AT - 20] = 7; }

static void test_corrupt_model(void **state)
{
    vb_buf b = small_state();
    vb_error err = {0};
    assert_int_equal(try_load((const uint8_t *)b.data, b.len, &err), VB_OK);
    static const struct {
        void (*edit)(vb_buf *);
        const char *needle;
    } cases[] = {
        {child_out, "not linked as a tree"},
        {child_back, "not linked as a tree"},
        {feature_out, "feature beyond the input"},
        {categorical, "not numerical"},
        {nan_leaf, "not finite"},
        {short_count, "not a well-formed UBJSON document"},
        {last_brace, "not a well-formed UBJSON document"},
        {cut_short, "not a well-formed UBJSON document"},
        {bad_marker, "not a well-formed UBJSON document"},
        {other_features, "another feature or class count"},
        {wrong_rounds, "another number of trees"},
        {best_beyond, "best round"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++)
        expect_refused(&b, cases[k].edit, cases[k].needle);
    /* cut anywhere: refused by our reader before XGBoost sees it */
    for (size_t len = 0; len < b.len; len += len < RAW_AT + 64 ? 1 : 97)
        assert_int_equal(try_load((const uint8_t *)b.data, len, &err), VB_ERR_FORMAT);
    vb_buf_free(&b);
}

/* Random damage to XGBoost's bytes: each copy is refused as corrupt, or
 * loads and predicts; never a crash. */
static void test_random_damage(void **state)
{
    vb_buf b = small_state();
    vb_rng *rng = vb_rng_new(21);
    uint8_t *copy = malloc(b.len);
    size_t refused = 0;
    const int tries = 1500;
    for (int t = 0; t < tries; t++) {
        memcpy(copy, b.data, b.len);
        int flips = 1 + (int)vb_rng_below(rng, 3);
        for (int f = 0; f < flips; f++) {
            size_t at = RAW_AT + vb_rng_below(rng, b.len - RAW_AT);
            copy[at] = t % 2 ? (uint8_t)vb_rng_below(rng, 256) : copy[at] ^ (uint8_t)(1u << vb_rng_below(rng, 8));
        }
        vb_error err = {0};
        vb_status st = try_load(copy, b.len, &err);
        if (st != VB_OK && st != VB_ERR_FORMAT)
            fail_msg("try %d: status %s (%s)", t, vb_status_name(st), err.msg);
        refused += st != VB_OK;
    }
    /* most damage lands in node arrays and lengths: most copies are refused */
    assert_true(refused > tries / 4);
    free(copy);
    vb_rng_free(rng);
    vb_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_stump),
        cmocka_unit_test(test_probabilities),
        cmocka_unit_test(test_early_stopping),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_seed_and_threads),
        cmocka_unit_test(test_instances_apart),
        cmocka_unit_test(test_in_parallel_region),
        cmocka_unit_test(test_quiet),
        cmocka_unit_test(test_corrupt_model),
        cmocka_unit_test(test_random_damage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
