/* ensembles of pipelines: voting by hand-computed cases, stacking that
 * never reads a test row, the spec's checks, train = run, model files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "support/testutil.h"
#include "visbench/ensemble.h"
#include "visbench/model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static vb_dataset *g_ds; /* synthetic: 3 classes x 24 images of 24 px */

static int setup(void **state)
{
    vb_synth_opts o = vb_synth_defaults;
    o.classes = 3;
    o.per_class = 24;
    o.size = 24;
    o.seed = 5;
    vb_error err = {0};
    if (vb_synth_write(&o, "synth-ens", &err) != VB_OK || vb_dataset_load_path("synth-ens", &g_ds, &err) != VB_OK)
        fail_msg("%s", err.msg);
    return 0;
}

static int teardown(void **state)
{
    vb_dataset_free(g_ds);
    tu_remove_tree("synth-ens");
    return 0;
}

/* ---- voting ------------------------------------------------------------ */

static void test_soft_vote(void **state)
{
    /* two rows, three classes, two members */
    const float a[] = {0.6f, 0.3f, 0.1f, 0.25f, 0.25f, 0.5f};
    const float b[] = {0.1f, 0.8f, 0.1f, 0.5f, 0.25f, 0.25f};
    const float *s[] = {a, b};
    int pred[2];
    float out[6];
    vb_ensemble_vote(VB_ENS_SOFT, 2, 2, 3, s, NULL, NULL, pred, out);
    /* means: (0.35, 0.55, 0.10) and (0.375, 0.25, 0.375): ties to the lower class */
    assert_int_equal(pred[0], 1);
    assert_int_equal(pred[1], 0);
    assert_float_equal(out[0], 0.35, 1e-6);
    assert_float_equal(out[1], 0.55, 1e-6);
    assert_float_equal(out[2], 0.10, 1e-6);
    assert_float_equal(out[3], 0.375, 0);
    assert_float_equal(out[5], 0.375, 0);
    /* weights 3:1 -> (0.475, 0.425, 0.1) */
    const double w[] = {3, 1};
    vb_ensemble_vote(VB_ENS_SOFT, 2, 2, 3, s, NULL, w, pred, out);
    assert_int_equal(pred[0], 0);
    assert_float_equal(out[0], 0.475, 1e-6);
    assert_float_equal(out[1], 0.425, 1e-6);
    assert_float_equal(out[0] + out[1] + out[2], 1.0, 1e-6);
}

static void test_hard_vote(void **state)
{
    /* row 0: 2, 1, 1 -> 1 (majority); row 1: 0, 2, 1 -> a three-way tie,
     * to the first member's vote (0); row 2: 2, 2, 0 -> 2 */
    const int l0[] = {2, 0, 2}, l1[] = {1, 2, 2}, l2[] = {1, 1, 0};
    const int *l[] = {l0, l1, l2};
    int pred[3];
    float out[9];
    vb_ensemble_vote(VB_ENS_HARD, 3, 3, 3, NULL, l, NULL, pred, out);
    assert_int_equal(pred[0], 1);
    assert_int_equal(pred[1], 0);
    assert_int_equal(pred[2], 2);
    assert_float_equal(out[1], 2.0 / 3, 1e-6);
    assert_float_equal(out[3 + 0], 1.0 / 3, 1e-6);
    assert_float_equal(out[6 + 2], 2.0 / 3, 1e-6);
    /* weights 1, 1, 3: member 2 outvotes the others in row 0 (1+3 vs 1 -> 1),
     * and in row 2 (3 for class 0 against 2 for class 2) */
    const double w[] = {1, 1, 3};
    vb_ensemble_vote(VB_ENS_HARD, 3, 3, 3, NULL, l, w, pred, out);
    assert_int_equal(pred[0], 1);
    assert_int_equal(pred[2], 0);
    assert_float_equal(out[6 + 0], 0.6, 1e-6);
    /* a tie between members 1 and 2 of weight 1 each (member 0 weighs 0):
     * row 1 votes 2 and 1 -> the first voter of a tied class, member 1 (2) */
    const double w0[] = {0, 1, 1};
    vb_ensemble_vote(VB_ENS_HARD, 3, 3, 3, NULL, l, w0, pred, out);
    assert_int_equal(pred[1], 2);
}

static void test_stack_rows(void **state)
{
    const float a[] = {1, 2, 3, 4}, b[] = {5, 6, 7, 8};
    const float *s[] = {a, b};
    float *X = NULL;
    vb_error err = {0};
    assert_int_equal(vb_stack_rows(2, 2, 2, s, &X, &err), VB_OK);
    const float want[] = {1, 2, 5, 6, 3, 4, 7, 8};
    assert_memory_equal(X, want, sizeof want);
    free(X);
}

/* ---- the spec ---------------------------------------------------------- */

static const char *const base_spec =
    "name: e\nseed: 9\ndataset: synth-ens\nsplit: {protocol: kfold, k: 3}\n"
    "pipelines:\n"
    "  - {name: hog-lr, features: [{hog: {cell: 6}}], classifier: logreg}\n"
    "  - {name: raw-knn, classifier: {knn: {k: 3}}}\n"
    "  - {name: hog-svm, features: [{hog: {cell: 6}}], classifier: svm}\n";

static vb_spec *parse_with(const char *ensembles, vb_error *err, vb_status *st)
{
    char *text = vb_asprintf("%sensembles:\n%s", base_spec, ensembles);
    vb_spec *spec = NULL;
    *st = vb_spec_parse(text, "e.yaml", &spec, err);
    free(text);
    return spec;
}

static void expect_spec_error(const char *ensembles, const char *where, const char *text)
{
    vb_error err = {0};
    vb_status st;
    vb_spec *spec = parse_with(ensembles, &err, &st);
    if (st == VB_OK)
        fail_msg("accepted: %s", ensembles);
    assert_null(spec);
    if (!strstr(err.msg, where) || !strstr(err.msg, text))
        fail_msg("'%s': expected '%s' ... '%s', got: %s", ensembles, where, text, err.msg);
}

static void test_spec(void **state)
{
    vb_error err = {0};
    vb_status st;
    vb_spec *spec = parse_with("  - {name: v, of: [hog-lr, raw-knn], method: hard, weights: [2, 1]}\n"
                               "  - {name: s, of: [hog-lr, raw-knn, hog-svm], method: stacking, folds: 4}\n",
                               &err, &st);
    if (st != VB_OK)
        fail_msg("%s", err.msg);
    assert_int_equal(spec->n_pipelines, 5);
    assert_int_equal(spec->n_ensembles, 2);
    const vb_spec_pipeline *v = &spec->pipelines[3], *s = &spec->pipelines[4];
    assert_true(vb_spec_is_ensemble(v) && !vb_spec_is_ensemble(&spec->pipelines[0]));
    assert_int_equal(v->n_members, 2);
    assert_int_equal(v->members[1], 1);
    assert_int_equal(v->ens_method, VB_ENS_HARD);
    assert_float_equal(vb_ensemble_weights(v)[0], 2.0, 0);
    assert_null(v->clf);
    assert_int_equal(s->ens_method, VB_ENS_STACK);
    assert_string_equal(s->clf->info.name, "logreg");
    assert_int_equal(vb_param_int(&s->ens_params, "folds"), 4);
    assert_true(spec->pipelines[2].in_ensemble);
    /* a member's configuration is part of the ensemble's */
    vb_buf a;
    vb_buf_init(&a);
    vb_pipeline_config(v, &a);
    assert_non_null(strstr(a.data, "knn{k: 3"));
    vb_buf_free(&a);
    vb_spec_free(spec);

    /* each refused at its place (file:line:column) */
    expect_spec_error("  - {name: v, of: [hog-lr, raw-knm]}\n", "e.yaml:10:28:", "did you mean 'raw-knn'");
    expect_spec_error("  - {name: v, of: [hog-lr, hog-svm], method: soft}\n", "e.yaml:10:28:",
                      "pipeline 'hog-svm' (line 8) gives its classifier's (svm) decision scores");
    expect_spec_error("  - {name: v, of: [hog-lr, raw-knn], weights: [1]}\n", "e.yaml:10:", "1 weight for 2 members");
    expect_spec_error("  - {name: v, of: [hog-lr, hog-lr], method: hard}\n", "e.yaml:10:28:", "lists 'hog-lr' twice");
    expect_spec_error("  - {name: v, of: [hog-lr, raw-knn], method: hard}\n  - {name: w, of: [v, raw-knn], method: "
                      "hard}\n",
                      "e.yaml:11:20:", "another ensemble");
    expect_spec_error("  - {name: raw-knn, of: [hog-lr, raw-knn], method: hard}\n", "e.yaml:10:", "used twice");
    expect_spec_error("  - {name: v, of: [hog-lr, raw-knn], method: hard, meta: logreg}\n", "e.yaml:10:",
                      "meta applies to method: stacking only");
    expect_spec_error("  - {name: v, of: [hog-lr]}\n", "e.yaml:10:", "of");
    expect_spec_error("  - {name: v, of: [hog-lr, raw-knn], method: vote}\n", "e.yaml:10:", "method");
}

/* ---- runs -------------------------------------------------------------- */

/* What a run handed its sink for the pipeline called `want`, per fold. */
typedef struct keep {
    const char *want;
    size_t n[3];
    int *labels[3];
    float *scores[3];
    int proba;
    size_t failed;
} keep;

static vb_status keep_result(void *user, const vb_run_result *r, vb_error *err)
{
    keep *k = user;
    if (strcmp(r->pipeline, k->want) != 0 || r->fold_index >= 3)
        return VB_OK;
    size_t f = r->fold_index, K = (size_t)r->n_classes;
    k->n[f] = r->n_test;
    k->labels[f] = malloc(r->n_test * sizeof(int));
    k->scores[f] = malloc(r->n_test * K * sizeof(float));
    memcpy(k->labels[f], r->pred, r->n_test * sizeof(int));
    memcpy(k->scores[f], r->scores, r->n_test * K * sizeof(float));
    k->proba = r->proba;
    return VB_OK;
}

static void note_failure(void *user, const char *pipeline, const char *fold, const vb_error *e)
{
    ((keep *)user)->failed++;
    print_message("%s [%s] failed: %s\n", pipeline, fold, e->msg);
}

static void keep_free(keep *k)
{
    for (int f = 0; f < 3; f++) {
        free(k->labels[f]);
        free(k->scores[f]);
    }
}

static void run_keep(const vb_spec *spec, const vb_split *split, const char *only, keep *k)
{
    vb_run_sink sink = {.user = k, .on_result = keep_result, .on_failure = note_failure};
    vb_run_opts opts = {.only = only};
    size_t n_failed = 0;
    vb_error err = {0};
    if (vb_experiment_run(spec, g_ds, split, &opts, &sink, &n_failed, &err) != VB_OK || n_failed)
        fail_msg("run: %s", err.msg);
}

/* A soft vote in a run is the mean of its members' stored scores. */
static void test_run_soft_is_mean_of_members(void **state)
{
    vb_error err = {0};
    vb_status st;
    vb_spec *spec = parse_with("  - {name: v, of: [hog-lr, raw-knn], method: soft}\n", &err, &st);
    vb_split *split = NULL;
    if (st != VB_OK || vb_spec_split(spec, g_ds, &split, &err) != VB_OK)
        fail_msg("%s", err.msg);
    keep a = {.want = "hog-lr"}, b = {.want = "raw-knn"}, v = {.want = "v"};
    run_keep(spec, split, NULL, &a);
    run_keep(spec, split, NULL, &b);
    run_keep(spec, split, NULL, &v);
    size_t K = (size_t)g_ds->n_classes;
    for (int f = 0; f < 3; f++) {
        assert_int_equal(v.n[f], split->folds[f].n_test);
        for (size_t i = 0; i < v.n[f]; i++)
            for (size_t c = 0; c < K; c++)
                assert_float_equal(v.scores[f][i * K + c],
                                   (a.scores[f][i * K + c] + b.scores[f][i * K + c]) / 2, 1e-6);
    }
    assert_true(v.proba);
    /* alone (--pipeline v), with no stored members at hand, it fits them
     * again and gets the very same numbers */
    keep alone = {.want = "v"};
    run_keep(spec, split, "v", &alone);
    for (int f = 0; f < 3; f++)
        assert_memory_equal(alone.scores[f], v.scores[f], v.n[f] * K * sizeof(float));
    keep_free(&a);
    keep_free(&b);
    keep_free(&v);
    keep_free(&alone);
    vb_split_free(split);
    vb_spec_free(spec);
}

/* Stacking's meta-classifier learns from scores of the training part only:
 * poison everything of the fold's test part (its images, its labels, and
 * the members' scores on it) and the meta-classifier is bit-identical. */
static void test_stacking_never_sees_test_rows(void **state)
{
    vb_error err = {0};
    vb_status st;
    vb_spec *spec = parse_with("  - {name: s, of: [hog-lr, raw-knn], method: stacking}\n", &err, &st);
    vb_split *split = NULL;
    if (st != VB_OK || vb_spec_split(spec, g_ds, &split, &err) != VB_OK)
        fail_msg("%s", err.msg);
    const vb_spec_pipeline *ens = &spec->pipelines[3];
    const vb_fold *fold = &split->folds[1];
    size_t K = (size_t)g_ds->n_classes, d = 2 * K, n = fold->n_train;
    int *y = malloc(n * sizeof *y);
    for (size_t i = 0; i < n; i++)
        y[i] = g_ds->labels[fold->train[i]];

    vb_buf meta_bytes[2];
    float *inner[2];
    for (int poisoned = 0; poisoned < 2; poisoned++) {
        if (poisoned) /* noise for every test image, and labels shifted */
            for (size_t t = 0; t < fold->n_test; t++) {
                size_t j = fold->test[t];
                size_t px = (size_t)g_ds->w[j] * (size_t)g_ds->h[j] * g_ds->c[j];
                for (size_t p = 0; p < px; p++)
                    g_ds->px[j][p] = (uint8_t)((p * 7919 + j * 104729) % 256);
                g_ds->labels[j] = (g_ds->labels[j] + 1) % g_ds->n_classes;
            }
        if (vb_stack_inner_scores(spec, ens, g_ds, fold, 1, &inner[poisoned], &err) != VB_OK)
            fail_msg("%s", err.msg);
        vb_classifier *meta = NULL;
        if (vb_stack_fit(spec, ens, inner[poisoned], n, d, y, (int)K, 1, &meta, &err) != VB_OK)
            fail_msg("%s", err.msg);
        vb_writer w;
        vb_writer_init(&w);
        assert_int_equal(vb_classifier_save(meta, &w, &err), VB_OK);
        meta_bytes[poisoned] = w.buf;
        /* the members' test scores poisoned too: the meta-classifier only
         * predicts from them */
        float *ts = malloc(fold->n_test * K * sizeof *ts);
        for (size_t i = 0; i < fold->n_test * K; i++)
            ts[i] = poisoned ? 1e3f : 0.5f;
        const float *s[] = {ts, ts};
        int *pred = malloc(fold->n_test * sizeof *pred);
        float *out = malloc(fold->n_test * K * sizeof *out);
        assert_int_equal(vb_ensemble_apply(ens, meta, 2, fold->n_test, (int)K, s, NULL, pred, out, &err), VB_OK);
        free(ts);
        free(pred);
        free(out);
        vb_classifier_free(meta);
    }
    /* every inner score is of a training row, made without that row */
    assert_memory_equal(inner[0], inner[1], n * d * sizeof(float));
    assert_int_equal(meta_bytes[0].len, meta_bytes[1].len);
    assert_memory_equal(meta_bytes[0].data, meta_bytes[1].data, meta_bytes[0].len);
    for (int i = 0; i < 2; i++) {
        free(inner[i]);
        vb_buf_free(&meta_bytes[i]);
    }
    free(y);
    vb_split_free(split);
    vb_spec_free(spec);
    /* the dataset is poisoned: load it again for the tests after this one */
    vb_dataset_free(g_ds);
    if (vb_dataset_load_path("synth-ens", &g_ds, &err) != VB_OK)
        fail_msg("%s", err.msg);
}

/* The model `train` saves predicts what `run` scored, bit for bit, for
 * each method, through a model file. */
static void test_train_equals_run(void **state)
{
    static const char *const methods[] = {"  - {name: x, of: [hog-lr, raw-knn], method: soft, weights: [1, 2]}\n",
                                          "  - {name: x, of: [hog-lr, raw-knn, hog-svm], method: hard}\n",
                                          "  - {name: x, of: [hog-lr, raw-knn, hog-svm], method: stacking}\n"};
    for (size_t k = 0; k < 3; k++) {
        vb_error err = {0};
        vb_status st;
        vb_spec *spec = parse_with(methods[k], &err, &st);
        vb_split *split = NULL;
        if (st != VB_OK || vb_spec_split(spec, g_ds, &split, &err) != VB_OK)
            fail_msg("%s", err.msg);
        keep r = {.want = "x"};
        run_keep(spec, split, NULL, &r);
        size_t K = (size_t)g_ds->n_classes;
        for (size_t f = 0; f < 3; f++) {
            const vb_fold *fold = &split->folds[f];
            vb_model *m = NULL, *m2 = NULL;
            if (vb_train_model(spec, &spec->pipelines[3], g_ds, fold, f, &m, &err) != VB_OK)
                fail_msg("%s", err.msg);
            vb_buf b;
            vb_buf_init(&b);
            if (vb_model_serialize(m, &b, &err) != VB_OK || vb_model_parse(b.data, b.len, "x.vbm", &m2, &err) != VB_OK)
                fail_msg("%s", err.msg);
            assert_int_equal(m2->n_members, spec->pipelines[3].n_members);
            assert_int_equal(vb_model_has_probabilities(m2), r.proba);
            size_t n = fold->n_test;
            int *labels = malloc(n * sizeof *labels);
            float *scores = malloc(n * K * sizeof *scores);
            vb_dataset_view view;
            vb_imgsrc src;
            vb_imgsrc_dataset(&src, &view, g_ds, fold->test, n);
            if (vb_model_predict_src(m2, &src, labels, scores, &err) != VB_OK)
                fail_msg("%s", err.msg);
            if (memcmp(labels, r.labels[f], n * sizeof *labels) || memcmp(scores, r.scores[f], n * K * sizeof *scores))
                fail_msg("%s: fold %zu: the trained model predicts other than the run", methods[k], f);
            /* every damaged byte of the ensemble's file is refused, never a crash */
            for (size_t at = 0; at < b.len; at += 97) {
                uint8_t *copy = malloc(b.len);
                memcpy(copy, b.data, b.len);
                copy[at] ^= 0x5a;
                vb_model *bad = NULL;
                assert_int_not_equal(vb_model_parse(copy, b.len, "x.vbm", &bad, &err), VB_OK);
                assert_null(bad);
                free(copy);
            }
            free(labels);
            free(scores);
            vb_buf_free(&b);
            vb_model_free(m);
            vb_model_free(m2);
        }
        keep_free(&r);
        vb_split_free(split);
        vb_spec_free(spec);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_soft_vote),
        cmocka_unit_test(test_hard_vote),
        cmocka_unit_test(test_stack_rows),
        cmocka_unit_test(test_spec),
        cmocka_unit_test(test_run_soft_is_mean_of_members),
        cmocka_unit_test(test_stacking_never_sees_test_rows),
        cmocka_unit_test(test_train_equals_run),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
