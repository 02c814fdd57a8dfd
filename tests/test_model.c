/* model: whole-pipeline round trips for every plug-in, and fault tests. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "support/testutil.h"
#include "visbench/model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static vb_dataset *g_ds;    /* the dataset the helpers below train on: one of these */
static vb_dataset *g_flat;  /* synthetic: 3 classes x 24 images of 24 px, grey */
static vb_dataset *g_ml;    /* multilabel: 3 labels, 72 images of 24 px */
static vb_dataset *g_hier;  /* hierarchical: 4 classes in 2 shape families, 24 images each */

static int setup(void **state)
{
    vb_synth_opts o = tu_synth_opts(3, 24, 24, 11);
    g_flat = tu_synth(&o, "synth");
    o.multilabel = 1;
    g_ml = tu_synth(&o, "synth-ml");
    o.multilabel = 0;
    o.hierarchy = 1;
    o.classes = 4;
    g_hier = tu_synth(&o, "synth-h");
    assert_int_equal(g_ml->task, VB_TASK_MULTILABEL);
    assert_int_equal(g_hier->task, VB_TASK_HIER);
    g_ds = g_flat;
    return 0;
}

static int teardown(void **state)
{
    vb_dataset_free(g_flat);
    vb_dataset_free(g_ml);
    vb_dataset_free(g_hier);
    return 0;
}

/* The dataset a classifier of the registry needs (with its parameters in
 * the test): label sets for multilabel ones, a taxonomy for hier. */
static vb_dataset *dataset_for(const vb_classifier_vt *vt, const char *params_yaml)
{
    if (vt->flags & VB_CLF_HIER)
        return g_hier;
    if ((vt->flags & VB_CLF_MULTILABEL) && (!vt->multilabel_if.name || strstr(params_yaml, "sigmoid")))
        return g_ml;
    return g_flat;
}

/* Trains the pipeline of a one-pipeline spec on a holdout split. */
static vb_model *train(const char *pipeline_yaml, vb_split **split_out)
{
    char *text = vb_asprintf("name: m\nseed: 3\ndataset: synth\nsplit: {protocol: holdout, test_fraction: 0.25}\n"
                             "pipelines:\n  - %s\n",
                             pipeline_yaml);
    vb_spec *spec = NULL;
    vb_split *split = NULL;
    vb_model *m = NULL;
    vb_error err = {0};
    if (vb_spec_parse(text, "m.yaml", &spec, &err) != VB_OK || vb_split_make(&spec->split, g_ds, &split, &err) ||
        vb_train_model(spec, &spec->pipelines[0], g_ds, &split->folds[0], 0, &m, &err))
        fail_msg("%s: %s", pipeline_yaml, err.msg);
    free(text);
    vb_spec_free(spec);
    *split_out = split;
    return m;
}

static void predict_sets(const vb_model *m, const vb_split *split, int *labels, float *scores, uint8_t *sets)
{
    vb_dataset_view view;
    vb_imgsrc src;
    vb_imgsrc_dataset(&src, &view, g_ds, split->folds[0].test, split->folds[0].n_test);
    vb_error err = {0};
    if (vb_model_predict_src_sets(m, &src, labels, scores, NULL, sets, &err) != VB_OK)
        fail_msg("%s", err.msg);
}

static void predict(const vb_model *m, const vb_split *split, int *labels, float *scores)
{
    predict_sets(m, split, labels, scores, NULL);
}

static vb_buf serialize(const vb_model *m)
{
    vb_buf b;
    vb_buf_init(&b);
    vb_error err = {0};
    if (vb_model_serialize(m, &b, &err) != VB_OK)
        fail_msg("%s", err.msg);
    return b;
}

/* Saved and loaded, the model predicts exactly what the trained one does. */
static void round_trip(const char *pipeline_yaml)
{
    vb_split *split = NULL;
    vb_model *m = train(pipeline_yaml, &split);
    size_t n = split->folds[0].n_test, k = (size_t)g_ds->n_classes;
    int ml = g_ds->task == VB_TASK_MULTILABEL;
    int *l1 = malloc(n * sizeof *l1), *l2 = malloc(n * sizeof *l2);
    float *s1 = malloc(n * k * sizeof *s1), *s2 = malloc(n * k * sizeof *s2);
    uint8_t *y1 = ml ? malloc(n * k) : NULL, *y2 = ml ? malloc(n * k) : NULL;
    predict_sets(m, split, l1, s1, y1);
    vb_buf b = serialize(m);
    vb_model *m2 = NULL;
    vb_error err = {0};
    if (vb_model_parse(b.data, b.len, "m.vbm", &m2, &err) != VB_OK)
        fail_msg("%s: %s", pipeline_yaml, err.msg);
    predict_sets(m2, split, l2, s2, y2);
    assert_memory_equal(l1, l2, n * sizeof *l1);
    assert_int_equal(m2->task, g_ds->task);
    assert_int_equal(m2->tax != NULL, g_ds->tax != NULL);
    if (ml)
        assert_memory_equal(y1, y2, n * k);
    free(y1);
    free(y2);
    if (memcmp(s1, s2, n * k * sizeof *s1) != 0)
        fail_msg("%s: scores differ after a round trip", pipeline_yaml);
    /* The loaded model serialises to the same bytes. */
    vb_buf b2 = serialize(m2);
    assert_int_equal(b2.len, b.len);
    assert_memory_equal(b2.data, b.data, b.len);
    assert_string_equal(vb_model_describe(m), vb_model_describe(m2));
    assert_int_equal(vb_model_n_classes(m2), g_ds->n_classes);
    vb_buf_free(&b);
    vb_buf_free(&b2);
    vb_model_free(m);
    vb_model_free(m2);
    vb_split_free(split);
    free(l1);
    free(l2);
    free(s1);
    free(s2);
}

static void test_round_trip_pipelines(void **state)
{
    round_trip("{name: hs, features: [{hog: {cell: 6}}], postprocess: [standardize], classifier: {svm: {C: 10}}}");
    round_trip("{name: rl, preprocess: [{resize: 16}, {normalize: zscore}], postprocess: [l2], "
               "classifier: {svm: {kernel: linear, probability: true}}}");
    round_trip("{name: two, preprocess: [rgb, {crop: 20}], features: [{hog: {cell: 5, variant: dalaltriggs}}, raw], "
               "postprocess: [standardize, l2], classifier: {svm: {kernel: poly, degree: 2}}}");
    /* Learned encodings and fitted post-processing: codebooks, GMMs, PCA. */
    round_trip("{name: fv, features: [{sift: {encoding: fisher, words: 4, descriptor_pca: 16, max_descriptors: 2000, "
               "step: 4}}], postprocess: [{pca: {variance: 0.9}}], classifier: {svm: {kernel: linear}}}");
    round_trip("{name: vlad, features: [{sift: {encoding: vlad, words: 4, max_descriptors: 2000, step: 4, "
               "pyramid: [1, 2]}}], postprocess: [power, l2], classifier: {logreg: {}}}");
    round_trip("{name: hk, features: [{lbp: {cell: 6}}, {color: {cells: 2}}], postprocess: [l2, homkermap], "
               "classifier: {linear: {}}}");
    /* XGBoost's model inside ours */
    round_trip("{name: bo, features: [{hog: {cell: 6}}], classifier: {boost: {rounds: 12, max_depth: 4}}}");
    /* Dense descriptors without an encoding: nothing fitted in the extractor. */
    round_trip("{name: ds, features: [{sift: {encoding: none, step: 4, bin: [3, 4]}}], postprocess: [standardize], "
               "classifier: {svm: {kernel: linear}}}");
    /* every method of the filtering and equalising ops: a model replays them
     * from their canonical text, where every parameter is written */
    round_trip("{name: f1, preprocess: [{denoise: {method: median, size: 5}}, {equalize: {method: clahe, tiles: [3, 2], "
               "clip: 3}}, {sharpen: {amount: 0.5, sigma: 2}}], features: [{hog: {cell: 6}}], classifier: svm}");
    round_trip("{name: f2, preprocess: [{denoise: {method: bilateral, sigma_space: 1.5, sigma_color: 0.2}}, "
               "{blur: 0.7}, {denoise: gaussian}, {equalize: 64}], features: [{hog: {cell: 6}}], classifier: svm}");
}

/* Parameters that make a plug-in quick on 24 px images; plug-ins not listed
 * run with their defaults. */
static const char *ext_params(const char *name)
{
    static const struct {
        const char *name, *params;
    } t[] = {{"hog", "{cell: 6}"},
             {"sift", "{words: 8, max_descriptors: 2000, step: 4}"},
             {"gabor", "{}"},
             {"haar", "{}"},
             {"cnn", "{model: tiny-cnn.vbm, layer: conv1}"}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (strcmp(t[i].name, name) == 0)
            return t[i].params;
    return "{}";
}

static const char *clf_params(const char *name)
{
    static const struct {
        const char *name, *params;
    } t[] = {{"forest", "{n_trees: 5}"},
             {"boost", "{rounds: 8, max_depth: 3, subsample: 0.8, colsample: 0.5}"},
             {"kmeans", "{k: 6}"},
             {"gmm", "{k: 2}"},
             {"cnn", "{layers: [conv: {filters: 4, size: 3}, relu, maxpool: 2, flatten, fc: classes], epochs: 1}"},
             {"br", "{base: {logreg: {}}}"},
             {"chain", "{base: {svm: {kernel: linear}}, chains: 2}"},
             {"hier", "{method: per-level, base: {svm: {kernel: linear, probability: true}}}"}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (strcmp(t[i].name, name) == 0)
            return t[i].params;
    return "{}";
}

/* Every registered extractor and classifier survives a round trip. */
static void test_round_trip_every_plugin(void **state)
{
    /* the model the cnn extractor runs (a loaded model carries it:
     * tests/test_cnnfeat.c loads one without the file) */
    vb_split *split = NULL;
    vb_model *cnn = train("{name: c, classifier: {cnn: {layers: [conv: {filters: 2, size: 3}, relu, maxpool: 2, "
                          "flatten, fc: classes], epochs: 1}}}",
                          &split);
    vb_error err = {0};
    if (vb_model_save(cnn, "tiny-cnn.vbm", &err) != VB_OK)
        fail_msg("%s", err.msg);
    vb_model_free(cnn);
    vb_split_free(split);
    size_t n;
    const vb_extractor_vt *const *ext = vb_extractor_registry(&n);
    for (size_t i = 0; i < n; i++) {
        char *p = vb_asprintf("{name: e, features: [{%s: %s}], postprocess: [standardize], classifier: svm}",
                              ext[i]->info.name, ext_params(ext[i]->info.name));
        round_trip(p);
        free(p);
    }
    const vb_post_vt *const *post = vb_post_registry(&n);
    for (size_t i = 0; i < n; i++) {
        char *p = vb_asprintf("{name: p, preprocess: [{resize: 12}], postprocess: [%s], classifier: svm}",
                              post[i]->info.name);
        round_trip(p);
        free(p);
    }
    const vb_classifier_vt *const *clf = vb_classifier_registry(&n);
    for (size_t i = 0; i < n; i++) {
        const char *name = clf[i]->info.name;
        int image = (clf[i]->flags & VB_CLF_IMAGE) != 0;
        char *p = vb_asprintf("{name: c, preprocess: [{resize: 12}], %sclassifier: {%s: %s}}",
                              image ? "" : "postprocess: [standardize], ", name, clf_params(name));
        g_ds = dataset_for(clf[i], clf_params(name));
        round_trip(p);
        free(p);
    }
    /* the tasks' other forms: a sigmoid cnn, hier per parent node */
    g_ds = g_ml;
    round_trip("{name: cs, classifier: {cnn: {output: sigmoid, layers: [conv: {filters: 4, size: 3}, relu, maxpool: 2, "
               "flatten, fc: classes], epochs: 1}}}");
    g_ds = g_hier;
    round_trip("{name: hp, features: [{hog: {cell: 6}}], classifier: {hier: {base: {logreg: {}}}}}");
    round_trip("{name: hs, features: [{hog: {cell: 6}}], classifier: {hier: {base: logreg, stop: 0.9}}}");
    g_ds = g_flat;
}

/* The INFO section: written by train, read back; a file without it (an
 * older visbench's) loads with no info, and both predict the same. */
static void test_info_section(void **state)
{
    vb_split *split = NULL;
    vb_model *m = train("{name: i, features: [{hog: {cell: 8}}], classifier: {svm: {kernel: linear}}}", &split);
    assert_non_null(m->info);
    assert_non_null(strstr(m->info, "\"task\": \"single-label\""));
    assert_non_null(strstr(m->info, "\"fold_kind\": \"holdout\""));
    vb_error err = {0};
    assert_int_equal(vb_model_info_add(m, "\"test\": {\"n\": 3}", &err), VB_OK);
    assert_int_equal(m->info[strlen(m->info) - 1], '}');
    assert_non_null(strstr(m->info, ", \"test\": {\"n\": 3}}"));
    vb_buf b = serialize(m);
    vb_model *m2 = NULL;
    assert_int_equal(vb_model_parse(b.data, b.len, "i.vbm", &m2, &err), VB_OK);
    assert_string_equal(m2->info, m->info);
    assert_string_equal(m2->written_by, VB_VERSION);
    assert_true(m2->sections[5] > strlen(m->info));
    free(m->info);
    m->info = NULL;
    vb_buf old = serialize(m);
    assert_true(old.len < b.len);
    vb_model *m3 = NULL;
    assert_int_equal(vb_model_parse(old.data, old.len, "old.vbm", &m3, &err), VB_OK);
    assert_null(m3->info);
    assert_int_equal(m3->sections[5], 0);
    vb_buf b3 = serialize(m3);
    assert_int_equal(b3.len, old.len);
    assert_memory_equal(b3.data, old.data, old.len);
    vb_buf_free(&b);
    vb_buf_free(&old);
    vb_buf_free(&b3);
    vb_model_free(m);
    vb_model_free(m2);
    vb_model_free(m3);
    vb_split_free(split);
}

/* ---- train = run --------------------------------------------------------- */

/* What run stored for one fold of one pipeline. */
typedef struct fold_pred {
    size_t n;
    int *labels;
    float *scores;
    uint8_t *sets; /* multilabel */
} fold_pred;

typedef struct pred_sink {
    fold_pred fold[3];
    int failed;
} pred_sink;

static vb_status keep_pred(void *user, const vb_run_result *r, vb_error *err)
{
    pred_sink *ps = user;
    assert_true(r->fold_index < 3);
    fold_pred *f = &ps->fold[r->fold_index];
    f->n = r->n_test;
    f->labels = malloc(r->n_test * sizeof *f->labels);
    f->scores = malloc(r->n_test * (size_t)r->n_classes * sizeof *f->scores);
    memcpy(f->labels, r->pred, r->n_test * sizeof *f->labels);
    memcpy(f->scores, r->scores, r->n_test * (size_t)r->n_classes * sizeof *f->scores);
    if (r->pred_sets) {
        f->sets = malloc(r->n_test * (size_t)r->n_classes);
        memcpy(f->sets, r->pred_sets, r->n_test * (size_t)r->n_classes);
    }
    return VB_OK;
}

static void note_failure(void *user, const char *pipeline, const char *fold, const vb_error *e)
{
    ((pred_sink *)user)->failed = 1;
    print_error("%s [%s]: %s\n", pipeline, fold, e->msg);
}

/* For each fold of a 3-fold split, the model `train --fold F` builds (here
 * through the same vb_train_model, saved and loaded) predicts exactly the
 * labels and scores that run computed for F. */
static void train_equals_run(const char *pipeline_yaml, const char *split_yaml)
{
    char *text = vb_asprintf("name: tr\nseed: 7\ndataset: synth\nsplit: %s\npipelines:\n  - %s\n", split_yaml,
                             pipeline_yaml);
    vb_spec *spec = NULL;
    vb_split *split = NULL;
    vb_error err = {0};
    if (vb_spec_parse(text, "tr.yaml", &spec, &err) != VB_OK || vb_split_make(&spec->split, g_ds, &split, &err))
        fail_msg("%s: %s", pipeline_yaml, err.msg);
    assert_int_equal(split->n_folds, 3);
    pred_sink ps;
    memset(&ps, 0, sizeof ps);
    vb_run_sink sink = {.user = &ps, .on_result = keep_pred, .on_failure = note_failure};
    size_t n_failed = 0;
    if (vb_experiment_run(spec, g_ds, split, NULL, &sink, &n_failed, &err) != VB_OK || n_failed || ps.failed)
        fail_msg("%s: run failed: %s", pipeline_yaml, err.msg);
    for (size_t f = 0; f < 3; f++) {
        const vb_fold *fold = &split->folds[f];
        vb_model *m = NULL, *m2 = NULL;
        if (vb_train_model(spec, &spec->pipelines[0], g_ds, fold, f, &m, &err) != VB_OK)
            fail_msg("%s: train: %s", pipeline_yaml, err.msg);
        vb_buf b = serialize(m);
        if (vb_model_parse(b.data, b.len, "tr.vbm", &m2, &err) != VB_OK)
            fail_msg("%s: %s", pipeline_yaml, err.msg);
        size_t n = fold->n_test, k = (size_t)g_ds->n_classes;
        assert_int_equal(ps.fold[f].n, n);
        int *labels = malloc(n * sizeof *labels);
        float *scores = malloc(n * k * sizeof *scores);
        uint8_t *sets = ps.fold[f].sets ? malloc(n * k) : NULL;
        vb_dataset_view view;
        vb_imgsrc src;
        vb_imgsrc_dataset(&src, &view, g_ds, fold->test, n);
        if (vb_model_predict_src_sets(m2, &src, labels, scores, NULL, sets, &err) != VB_OK)
            fail_msg("%s: %s", pipeline_yaml, err.msg);
        if (sets && memcmp(sets, ps.fold[f].sets, n * k) != 0)
            fail_msg("%s: fold %s: train's model predicts other label sets than run", pipeline_yaml, fold->name);
        free(sets);
        free(ps.fold[f].sets);
        if (memcmp(labels, ps.fold[f].labels, n * sizeof *labels) != 0)
            fail_msg("%s: fold %s: train's model predicts other labels than run", pipeline_yaml, fold->name);
        if (memcmp(scores, ps.fold[f].scores, n * k * sizeof *scores) != 0)
            fail_msg("%s: fold %s: train's model gives other scores than run", pipeline_yaml, fold->name);
        free(labels);
        free(scores);
        vb_buf_free(&b);
        vb_model_free(m);
        vb_model_free(m2);
        free(ps.fold[f].labels);
        free(ps.fold[f].scores);
    }
    vb_split_free(split);
    vb_spec_free(spec);
    free(text);
}

/* Every classifier in the registry, behind an extractor that fits a
 * codebook (sift), or on raw pixels for image classifiers; then a grid
 * tuned on the validation part, with fitted post-processing (pca by
 * components, which a loaded model once refused). */
static void test_train_reproduces_run(void **state)
{
    size_t n;
    const vb_classifier_vt *const *clf = vb_classifier_registry(&n);
    for (size_t i = 0; i < n; i++) {
        const char *name = clf[i]->info.name;
        int image = (clf[i]->flags & VB_CLF_IMAGE) != 0;
        char *p = image ? vb_asprintf("{name: c, preprocess: [{resize: 12}], classifier: {%s: %s}}", name,
                                      clf_params(name))
                        : vb_asprintf("{name: c, features: [{sift: {words: 8, max_descriptors: 2000, step: 4}}], "
                                      "postprocess: [standardize], classifier: {%s: %s}}",
                                      name, clf_params(name));
        g_ds = dataset_for(clf[i], clf_params(name));
        /* the multilabel ones tune their thresholds on a validation part */
        train_equals_run(p, g_ds == g_ml ? "{protocol: kfold, k: 3, validation: 0.25}" : "{protocol: kfold, k: 3}");
        free(p);
    }
    g_ds = g_ml;
    train_equals_run("{name: cs, preprocess: [{resize: 12}], classifier: {cnn: {output: sigmoid, layers: [conv: "
                     "{filters: 4, size: 3}, relu, maxpool: 2, flatten, fc: classes], epochs: 2}}}",
                     "{protocol: kfold, k: 3, validation: 0.25}");
    g_ds = g_hier;
    train_equals_run("{name: hp, features: [{hog: {cell: 6}}], classifier: {hier: {method: per-parent, base: {svm: "
                     "{kernel: linear}}}}}",
                     "{protocol: kfold, k: 3, validation: 0.25}");
    g_ds = g_flat;
    train_equals_run("{name: g, features: [{sift: {encoding: vlad, words: 4, max_descriptors: 2000, step: 4}}], "
                     "postprocess: [{pca: {components: 8}}], classifier: {svm: {C: [1, 100], probability: true}}}",
                     "{protocol: kfold, k: 3, validation: 0.25}");
    /* augmented training rows (augment:) happen inside the engine: train
     * makes the copies run made; with a codebook, a grid tuned by inner
     * k-fold, the new preprocessing ops, and label sets */
    train_equals_run("{name: a, preprocess: [{denoise: median}, {equalize: {method: clahe, tiles: 3}}, sharpen], "
                     "features: [{sift: {words: 6, max_descriptors: 2000, step: 4}}], postprocess: [standardize], "
                     "classifier: {svm: {C: [1, 10]}}, tune: {folds: 3}, "
                     "augment: {flip: true, shift: 2, rotate: 10, brightness: 0.1, copies: 2}}",
                     "{protocol: kfold, k: 3}");
    train_equals_run("{name: ab, preprocess: [{blur: 0.8}, {denoise: {method: bilateral, sigma_color: 0.2}}], "
                     "features: [{hog: {cell: 6}}], classifier: {knn: {k: [1, 3]}}, augment: {rotate: 15, copies: 1}}",
                     "{protocol: kfold, k: 3, validation: 0.25}");
    g_ds = g_ml;
    train_equals_run("{name: am, features: [{hog: {cell: 6}}], classifier: {br: {base: {linear: {C: 1}}}}, "
                     "augment: {flip: true, shift: 1, copies: 2}}",
                     "{protocol: kfold, k: 3, validation: 0.25}");
    g_ds = g_flat;
}

/* ---- faults ------------------------------------------------------------ */

/* The file bytes of a model of the pipeline, trained on the test set. */
static vb_buf model_bytes(const char *pipeline_yaml)
{
    vb_split *split = NULL;
    vb_model *m = train(pipeline_yaml, &split);
    vb_buf b = serialize(m);
    vb_model_free(m);
    vb_split_free(split);
    return b;
}

static vb_buf sample_model(void)
{
    return model_bytes("{name: f, features: [{hog: {cell: 8}}], postprocess: [standardize], "
                       "classifier: {svm: {kernel: linear}}}");
}

static void expect_format_error(const uint8_t *data, size_t len, const char *what)
{
    vb_model *m = NULL;
    vb_error err = {0};
    vb_status st = vb_model_parse(data, len, "f.vbm", &m, &err);
    if (st == VB_OK)
        fail_msg("%s: a damaged model loaded", what);
    if (st != VB_ERR_FORMAT)
        fail_msg("%s: status %s (%s), expected a format error", what, vb_status_name(st), err.msg);
    assert_null(m);
    assert_non_null(strstr(err.msg, "f.vbm"));
}

static void test_truncation(void **state)
{
    vb_buf b = sample_model();
    for (size_t len = 0; len < b.len; len++) {
        uint8_t *copy = malloc(len ? len : 1);
        memcpy(copy, b.data, len);
        char what[64];
        snprintf(what, sizeof what, "truncated to %zu of %zu bytes", len, b.len);
        expect_format_error(copy, len, what);
        free(copy);
    }
    vb_buf_free(&b);
}

static void test_random_flips(void **state)
{
    vb_buf b = sample_model();
    uint8_t *copy = malloc(b.len);
    vb_rng *rng = vb_rng_new(77);
    for (int t = 0; t < 1000; t++) {
        memcpy(copy, b.data, b.len);
        size_t at = vb_rng_below(rng, b.len);
        uint8_t bit = (uint8_t)(1u << vb_rng_below(rng, 8));
        copy[at] ^= bit;
        char what[64];
        snprintf(what, sizeof what, "bit flip at byte %zu", at);
        expect_format_error(copy, b.len, what);
    }
    vb_rng_free(rng);
    free(copy);
    vb_buf_free(&b);
}

static uint64_t get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Offset of the section table and of section number `which`. */
static void section(const uint8_t *d, int which, size_t *entry, size_t *off, size_t *len)
{
    size_t ver_len = (size_t)get64(d + 12);
    size_t table = 8 + 4 + 8 + ver_len + 4;
    *entry = table + (size_t)which * 24;
    *off = (size_t)get64(d + *entry + 4);
    *len = (size_t)get64(d + *entry + 12);
}

/* Recomputes the section's CRC and the file's, as a crafted file would. */
static void reseal(uint8_t *d, size_t n, int which)
{
    size_t entry, off, len;
    section(d, which, &entry, &off, &len);
    put32(d + entry + 20, vb_crc32(d + off, len, 0));
    put32(d + n - 4, vb_crc32(d, n - 4, 0));
}

/* The offset of the first occurrence of s in section `which`. */
static size_t section_find(const uint8_t *d, int which, const char *s)
{
    size_t entry, off, len, n = strlen(s);
    section(d, which, &entry, &off, &len);
    for (size_t i = off; i + n <= off + len; i++)
        if (memcmp(d + i, s, n) == 0)
            return i;
    fail_msg("no %s in section %d", s, which);
    return 0;
}

/* Crafted files with valid checksums: lengths that point past the end must
 * be refused by the parser itself, never allocated. */
static void test_crafted_lengths(void **state)
{
    vb_buf b = sample_model();
    uint8_t *d = malloc(b.len);
    size_t entry, off, len;

    /* HEAD: the class count */
    memcpy(d, b.data, b.len);
    section(d, 0, &entry, &off, &len);
    put32(d + off, 0x7fffffff);
    reseal(d, b.len, 0);
    expect_format_error(d, b.len, "class count 2^31");

    /* CLSF: the name's length field set to 2^62 */
    memcpy(d, b.data, b.len);
    section(d, 4, &entry, &off, &len);
    put64(d + off, 1ull << 62);
    reseal(d, b.len, 4);
    expect_format_error(d, b.len, "string length 2^62");

    /* CLSF: the classifier state's length set to 2^62 */
    memcpy(d, b.data, b.len);
    size_t p = off;
    p += 8 + (size_t)get64(d + p); /* name */
    p += 8 + (size_t)get64(d + p); /* params */
    put64(d + p, 1ull << 62);
    reseal(d, b.len, 4);
    expect_format_error(d, b.len, "state length 2^62");

    /* CLSF: inside the state, the svm's support-vector count set to 2^62:
     * wrapper u64 d + u32 k, then svm u64 d, u32 K, u32 k, u64 l */
    memcpy(d, b.data, b.len);
    put64(d + p + 8 + 8 + 4 + 8 + 4 + 4, 1ull << 62);
    reseal(d, b.len, 4);
    expect_format_error(d, b.len, "svm SV count 2^62");

    /* A section table entry pointing outside the file. */
    memcpy(d, b.data, b.len);
    section(d, 2, &entry, &off, &len);
    put64(d + entry + 12, 1ull << 62);
    put32(d + b.len - 4, vb_crc32(d, b.len - 4, 0));
    expect_format_error(d, b.len, "section length 2^62");

    /* A newer format version. */
    memcpy(d, b.data, b.len);
    put32(d + 8, 99);
    put32(d + b.len - 4, vb_crc32(d, b.len - 4, 0));
    vb_model *m = NULL;
    vb_error err = {0};
    assert_int_equal(vb_model_parse(d, b.len, "f.vbm", &m, &err), VB_ERR_FORMAT);
    assert_string_equal(err.msg, "f.vbm: model format 99 is newer than this visbench reads (3); upgrade visbench");
    free(d);
    vb_buf_free(&b);
}

/* Parameters a plug-in refuses when it is made from them (the cnn parses
 * its layers then): the model is corrupt, and the message names the file
 * (make fuzz found "cnn:1:49: cnn layer 3: unknown layer ..." without it). */
static void test_refused_parameters(void **state)
{
    vb_buf b = model_bytes("{name: c, classifier: {cnn: {layers: [conv: {filters: 2, size: 3}, relu, maxpool: 2, "
                           "fc: classes], epochs: 1}}}");
    uint8_t *d = malloc(b.len);
    memcpy(d, b.data, b.len);
    memcpy(d + section_find(d, 4, "maxpool"), "maxpoox", 7);
    reseal(d, b.len, 4);
    vb_model *bad = (vb_model *)1;
    vb_error err = {0};
    assert_int_equal(vb_model_parse(d, b.len, "f.vbm", &bad, &err), VB_ERR_FORMAT);
    assert_null(bad);
    assert_int_equal(err.status, VB_ERR_FORMAT);
    assert_memory_equal(err.msg, "f.vbm (CLSF): corrupt classifier: ", 34);
    assert_non_null(strstr(err.msg, "unknown cnn layer 'maxpoox'; did you mean 'maxpool'?"));
    free(d);
    vb_buf_free(&b);
}

/* boost keeps XGBoost's model in its state: cut short, the file is refused
 * by its checksum; damaged behind valid checksums, by boost's check of the
 * model before XGBoost reads it (or it still loads and predicts). */
static void test_boost_damage(void **state)
{
    vb_buf b = model_bytes("{name: b, features: [{hog: {cell: 8}}], classifier: {boost: {rounds: 3, max_depth: 2}}}");
    for (size_t len = 0; len < b.len; len += 7) {
        char what[96];
        snprintf(what, sizeof what, "boost model cut to %zu of %zu bytes", len, b.len);
        expect_format_error((const uint8_t *)b.data, len, what);
    }
    uint8_t *d = malloc(b.len);
    memcpy(d, b.data, b.len);
    /* the first child, after [$l#L and the count */
    put32(d + section_find(d, 4, "left_children") + 13 + 4 + 9, 0x7f7f7f7f);
    reseal(d, b.len, 4);
    expect_format_error(d, b.len, "a child index past the nodes");
    vb_model *m = NULL;
    vb_error err = {0};
    vb_model_parse(d, b.len, "f.vbm", &m, &err);
    assert_non_null(strstr(err.msg, "not linked as a tree"));
    /* random bytes in XGBoost's part of the section (from the document's
     * '{' and its first key's length), resealed */
    size_t entry, off, len, raw = section_find(d, 4, "learner") - 10;
    section(d, 4, &entry, &off, &len);
    assert_true(raw > off && d[raw] == '{');
    vb_rng *rng = vb_rng_new(5);
    vb_image *img = vb_image_new(24, 24, 1, NULL);
    assert_non_null(img);
    for (size_t i = 0; i < 24 * 24; i++)
        img->data[i] = (float)(i % 13) / 12.0f;
    for (int t = 0; t < 300; t++) {
        memcpy(d, b.data, b.len);
        d[raw + vb_rng_below(rng, off + len - raw)] = (uint8_t)vb_rng_below(rng, 256);
        reseal(d, b.len, 4);
        m = NULL;
        vb_status st = vb_model_parse(d, b.len, "f.vbm", &m, &err);
        if (st == VB_OK) {
            int label;
            float scores[3];
            assert_int_equal(vb_model_predict_image(m, img, &label, scores, &err), VB_OK);
            assert_true(label >= 0 && label < 3);
            vb_model_free(m);
        } else if (st != VB_ERR_FORMAT)
            fail_msg("damage %d: status %s (%s)", t, vb_status_name(st), err.msg);
    }
    vb_image_free(img);
    vb_rng_free(rng);
    free(d);
    vb_buf_free(&b);
}

static void test_foreign_and_missing(void **state)
{
    vb_model *m = NULL;
    vb_error err = {0};
    tu_write_text("notes.txt", "just some text, not a model at all");
    assert_int_equal(vb_model_load("notes.txt", &m, &err), VB_ERR_FORMAT);
    assert_string_equal(err.msg, "notes.txt: not a visbench model (no VBMODEL header)");
    assert_int_equal(vb_model_load("missing.vbm", &m, &err), VB_ERR_IO);
    assert_non_null(strstr(err.msg, "missing.vbm: cannot open"));
    assert_null(m);
}

/* The public API: save a file, load it, predict image files. */
static void test_public_api(void **state)
{
    vb_split *split = NULL;
    vb_model *m = train("{name: api, features: [{hog: {cell: 6}}], classifier: {svm: {probability: true}}}", &split);
    vb_error err = {0};
    assert_int_equal(vb_model_save(m, "api.vbm", &err), VB_OK);
    vb_model *m2 = NULL;
    assert_int_equal(vb_model_load("api.vbm", &m2, &err), VB_OK);
    assert_true(vb_model_has_probabilities(m2));
    assert_string_equal(vb_model_class_name(m2, 0), "circle");
    assert_null(vb_model_class_name(m2, 3));
    /* predict_file on the dataset's own files equals predict_src */
    size_t n = split->folds[0].n_test;
    int *want = malloc(n * sizeof *want);
    float *ws = malloc(n * 3 * sizeof *ws);
    predict(m, split, want, ws);
    const char **paths = malloc(n * sizeof *paths);
    for (size_t i = 0; i < n; i++)
        paths[i] = g_ds->paths[split->folds[0].test[i]];
    int *got = malloc(n * sizeof *got);
    float *gs = malloc(n * 3 * sizeof *gs);
    assert_int_equal(vb_model_predict_files(m2, paths, n, got, gs, &err), VB_OK);
    assert_memory_equal(got, want, n * sizeof *got);
    assert_memory_equal(gs, ws, n * 3 * sizeof *gs);
    int one;
    float sc[3];
    assert_int_equal(vb_model_predict_file(m2, paths[0], &one, sc, &err), VB_OK);
    assert_int_equal(one, want[0]);
    double sum = sc[0] + sc[1] + sc[2];
    assert_float_equal(sum, 1.0, 1e-5);
    /* an image of another size goes through the model's preprocessing */
    vb_image *big = NULL;
    assert_int_equal(vb_image_load(paths[0], &big, &err), VB_OK);
    vb_image resized = {0};
    assert_int_equal(vb_image_resize(big, 48, 40, &resized, &err), VB_OK);
    assert_int_equal(vb_model_predict_image(m2, &resized, &one, NULL, &err), VB_OK);
    assert_true(one >= 0 && one < 3);
    assert_int_equal(vb_model_predict_file(m2, "notes-missing.png", &one, NULL, &err), VB_ERR_IO);
    vb_image_free(big);
    free(resized.data);
    free(paths);
    free(want);
    free(ws);
    free(got);
    free(gs);
    vb_model_free(m);
    vb_model_free(m2);
    vb_split_free(split);
}

/* Models of the new tasks are format 2 with a TASK section; single-label
 * models stay format 1 (older readers read them); a task kind this reader
 * does not know is refused with what to do. */
static void test_task_section(void **state)
{
    vb_split *split = NULL;
    vb_model *m = train("{name: f, features: [{hog: {cell: 8}}], classifier: {svm: {kernel: linear}}}", &split);
    vb_buf b = serialize(m);
    assert_int_equal(((const uint8_t *)b.data)[8], 1);
    assert_int_equal(m->task, VB_TASK_SINGLE);
    vb_buf_free(&b);
    vb_model_free(m);
    vb_split_free(split);

    g_ds = g_hier;
    m = train("{name: h, features: [{hog: {cell: 8}}], classifier: {hier: {base: logreg}}}", &split);
    b = serialize(m);
    assert_int_equal(((const uint8_t *)b.data)[8], 2);
    vb_model *m2 = NULL;
    vb_error err = {0};
    assert_int_equal(vb_model_parse(b.data, b.len, "h.vbm", &m2, &err), VB_OK);
    assert_int_equal(m2->task, VB_TASK_HIER);
    assert_int_equal(vb_taxonomy_hash(m2->tax), vb_taxonomy_hash(g_hier->tax));
    vb_model_free(m2);
    vb_buf_free(&b);
    /* a kind from the future */
    m->task = (vb_task)7;
    b = serialize(m);
    m->task = VB_TASK_HIER;
    m2 = NULL;
    assert_int_equal(vb_model_parse(b.data, b.len, "new.vbm", &m2, &err), VB_ERR_FORMAT);
    assert_null(m2);
    assert_string_equal(err.msg, "new.vbm: the model is for a task (kind 7) newer than this visbench knows "
                                 "(single-label, multilabel, hierarchical); upgrade visbench to use it");
    vb_buf_free(&b);
    vb_model_free(m);
    vb_split_free(split);
    g_ds = g_flat;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_pipelines),
        cmocka_unit_test(test_round_trip_every_plugin),
        cmocka_unit_test(test_train_reproduces_run),
        cmocka_unit_test(test_info_section),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_random_flips),
        cmocka_unit_test(test_crafted_lengths),
        cmocka_unit_test(test_refused_parameters),
        cmocka_unit_test(test_boost_damage),
        cmocka_unit_test(test_foreign_and_missing),
        cmocka_unit_test(test_public_api),
        cmocka_unit_test(test_task_section),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
