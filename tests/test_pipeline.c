/* pipeline: feature pipelines against the extractors called by hand,
 * post-processing chains, the experiment runner (sharing, determinism,
 * grids, failures) and the results files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "support/testutil.h"
#include "visbench/model.h"
#include "visbench/pipeline.h"
#include "visbench/report.h"
#include "visbench/results.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- fixtures ---------------------------------------------------------- */

static vb_dataset *g_ds; /* synthetic folder dataset: 3 classes x 30 grey images of 32 px */

static int setup(void **state)
{
    vb_synth_opts o = vb_synth_defaults;
    o.classes = 3;
    o.per_class = 30;
    o.size = 32;
    o.seed = 5;
    vb_error err = {0};
    if (vb_synth_write(&o, "synth", &err) != VB_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return -1;
    }
    if (vb_dataset_load_path("synth", &g_ds, &err) != VB_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    vb_dataset_free(g_ds);
    return 0;
}

static vb_spec *spec_ok(const char *text)
{
    vb_spec *spec = NULL;
    vb_error err = {0};
    if (vb_spec_parse(text, "t.yaml", &spec, &err) != VB_OK)
        fail_msg("%s", err.msg);
    return spec;
}

/* An extractor built by hand from YAML parameters. */
static vb_extractor *ext_new(const char *name, const char *yaml, vb_shape in)
{
    const vb_extractor_vt *vt = vb_extractor_find(name);
    vb_doc *doc = NULL;
    vb_error err = {0};
    assert_int_equal(vb_doc_load_string(yaml, "x.yaml", &doc, &err), VB_OK);
    vb_params p;
    assert_int_equal(vb_params_parse(&p, &vt->info, doc->root, 0, &err), VB_OK);
    vb_extractor *x = NULL;
    if (vb_extractor_new(vt, &p, in, &x, &err) != VB_OK)
        fail_msg("%s", err.msg);
    vb_params_free(&p);
    vb_doc_free(doc);
    return x;
}

static void ext_run(const vb_extractor *x, const vb_image *img, float *out)
{
    void *scratch = x->vt->scratch_new ? x->vt->scratch_new(x->state) : NULL;
    vb_error err = {0};
    if (x->vt->extract(x->state, scratch, img, out, &err) != VB_OK)
        fail_msg("%s", err.msg);
    if (scratch)
        x->vt->scratch_free(scratch);
}

/* An in-memory dataset of grey images; image i of class i % k has
 * brightness 40 + 70 k plus noise. odd >= 0 gets size odd_w x odd_h. */
static vb_dataset *mem_dataset(int k, int per, long odd, int odd_w, int odd_h)
{
    size_t n = (size_t)k * (size_t)per;
    vb_dataset *ds = vb_dataset_new(n, 0, NULL);
    assert_non_null(ds);
    vb_rng *rng = vb_rng_new(3);
    for (size_t i = 0; i < n; i++) {
        int w = (long)i == odd ? odd_w : 16, h = (long)i == odd ? odd_h : 16;
        ds->labels[i] = (int)(i % (size_t)k);
        ds->w[i] = (uint16_t)w;
        ds->h[i] = (uint16_t)h;
        ds->c[i] = 1;
        ds->px[i] = malloc((size_t)w * h);
        for (int p = 0; p < w * h; p++) {
            double v = 40 + 70 * ds->labels[i] + vb_rng_gauss(rng, 10);
            ds->px[i][p] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
        }
    }
    vb_rng_free(rng);
    const char *names[4] = {"dark", "mid,grey", "light", "white"};
    assert_int_equal(vb_dataset_set_classes(ds, names, k, NULL), VB_OK);
    ds->name = strdup("mem");
    vb_dataset_finish(ds);
    return ds;
}

/* ---- feature pipelines ------------------------------------------------- */

static const char FEAT_SPEC[] = "name: f\n"
                                "dataset: synth\n"
                                "pipelines:\n"
                                "  - name: hog-raw\n"
                                "    features: [{hog: {cell: 4}}, raw]\n"
                                "    classifier: svm\n"
                                "  - name: small\n"
                                "    preprocess: [{resize: 16}]\n"
                                "    features: [{hog: {cell: 4, variant: dalaltriggs}}]\n"
                                "    classifier: svm\n";

static void test_featpipe_matches_extractors(void **state)
{
    assert_int_equal(g_ds->n, 90);
    assert_int_equal(g_ds->n_classes, 3);
    assert_int_equal(g_ds->fixed_w, 32);
    assert_int_equal(g_ds->fixed_c, 1);
    vb_spec *spec = spec_ok(FEAT_SPEC);
    vb_error err = {0};
    vb_featpipe *fp = NULL;
    assert_int_equal(vb_featpipe_new(&spec->pipelines[0], (vb_shape){32, 32, 1}, &fp, &err), VB_OK);
    assert_int_equal(fp->n_ext, 2);
    assert_int_equal(fp->dim, 8 * 8 * 31 + 32 * 32);
    assert_int_equal(fp->offset[0], 0);
    assert_int_equal(fp->offset[1], 8 * 8 * 31);
    assert_int_equal(fp->shape.w, 32);
    assert_false(vb_featpipe_needs_fit(fp));
    vb_buf b;
    vb_buf_init(&b);
    vb_featpipe_describe(fp, &b);
    assert_string_equal(b.data, "hog 1984 + raw 1024");
    vb_buf_free(&b);

    float *X = malloc(90 * fp->dim * sizeof *X);
    vb_dataset_view view;
    vb_imgsrc src;
    vb_imgsrc_dataset(&src, &view, g_ds, NULL, 90);
    assert_int_equal(vb_featpipe_extract(fp, &src, X, "test", &err), VB_OK);

    vb_extractor *hog = ext_new("hog", "{cell: 4}", (vb_shape){32, 32, 1});
    float *want = malloc(hog->dim * sizeof *want);
    vb_image img = {0};
    for (size_t i = 0; i < 90; i++) {
        assert_int_equal(vb_dataset_image(g_ds, i, &img, &err), VB_OK);
        ext_run(hog, &img, want);
        assert_memory_equal(X + i * fp->dim, want, hog->dim * sizeof *want);
        assert_memory_equal(X + i * fp->dim + 1984, img.data, 1024 * sizeof(float));
    }

    /* A subset through an index list, in its order. */
    const size_t idx[3] = {89, 0, 44};
    float *Xs = malloc(3 * fp->dim * sizeof *Xs);
    vb_imgsrc_dataset(&src, &view, g_ds, idx, 3);
    assert_int_equal(vb_featpipe_extract(fp, &src, Xs, "test", &err), VB_OK);
    for (size_t t = 0; t < 3; t++)
        assert_memory_equal(Xs + t * fp->dim, X + idx[t] * fp->dim, fp->dim * sizeof *Xs);
    free(Xs);
    vb_featpipe_free(fp);

    /* Preprocessing then the extractor: resize to 16 then Dalal-Triggs hog. */
    assert_int_equal(vb_featpipe_new(&spec->pipelines[1], (vb_shape){32, 32, 1}, &fp, &err), VB_OK);
    assert_int_equal(fp->shape.w, 16);
    assert_int_equal(fp->shape.h, 16);
    assert_int_equal(fp->dim, 4 * 4 * 36);
    vb_extractor *dt = ext_new("hog", "{cell: 4, variant: dalaltriggs}", (vb_shape){16, 16, 1});
    float *X2 = malloc(90 * fp->dim * sizeof *X2), *w2 = malloc(dt->dim * sizeof *w2);
    vb_imgsrc_dataset(&src, &view, g_ds, NULL, 90);
    assert_int_equal(vb_featpipe_extract(fp, &src, X2, "test", &err), VB_OK);
    vb_image small = {0};
    for (size_t i = 0; i < 90; i++) {
        assert_int_equal(vb_dataset_image(g_ds, i, &img, &err), VB_OK);
        assert_int_equal(vb_image_resize(&img, 16, 16, &small, &err), VB_OK);
        ext_run(dt, &small, w2);
        assert_memory_equal(X2 + i * fp->dim, w2, dt->dim * sizeof *w2);
    }
    free(small.data);
    free(img.data);
    free(X2);
    free(w2);
    free(X);
    free(want);
    vb_extractor_free(hog);
    vb_extractor_free(dt);
    vb_featpipe_free(fp);
    vb_spec_free(spec);
}

/* Images of another size or colour are conformed to the pipeline's shape. */
static void test_featpipe_conforms(void **state)
{
    vb_dataset *ds = vb_dataset_new(2, 0, NULL);
    ds->w[0] = 40, ds->h[0] = 24, ds->c[0] = 1;
    ds->w[1] = 32, ds->h[1] = 32, ds->c[1] = 3;
    vb_rng *rng = vb_rng_new(9);
    for (size_t i = 0; i < 2; i++) {
        size_t len = (size_t)ds->w[i] * ds->h[i] * ds->c[i];
        ds->px[i] = malloc(len);
        for (size_t p = 0; p < len; p++)
            ds->px[i][p] = (uint8_t)vb_rng_below(rng, 256);
    }
    vb_rng_free(rng);
    ds->labels[1] = 1;
    const char *names[2] = {"a", "b"};
    assert_int_equal(vb_dataset_set_classes(ds, names, 2, NULL), VB_OK);
    vb_dataset_finish(ds);
    assert_int_equal(ds->fixed_w, 0);

    vb_spec *spec = spec_ok(FEAT_SPEC);
    vb_error err = {0};
    vb_featpipe *fp = NULL;
    assert_int_equal(vb_featpipe_new(&spec->pipelines[0], (vb_shape){32, 32, 1}, &fp, &err), VB_OK);
    float *X = malloc(2 * fp->dim * sizeof *X), *want = malloc(fp->dim * sizeof *want);
    vb_dataset_view view;
    vb_imgsrc src;
    vb_imgsrc_dataset(&src, &view, ds, NULL, 2);
    assert_int_equal(vb_featpipe_extract(fp, &src, X, "test", &err), VB_OK);

    vb_extractor *hog = ext_new("hog", "{cell: 4}", (vb_shape){32, 32, 1});
    vb_image img = {0}, conf = {0};
    /* 40x24 grey: resized to 32x32 */
    assert_int_equal(vb_dataset_image(ds, 0, &img, &err), VB_OK);
    assert_int_equal(vb_image_resize(&img, 32, 32, &conf, &err), VB_OK);
    ext_run(hog, &conf, want);
    assert_memory_equal(X, want, 1984 * sizeof *X);
    assert_memory_equal(X + 1984, conf.data, 1024 * sizeof *X);
    /* 32x32 RGB: converted to grey */
    assert_int_equal(vb_dataset_image(ds, 1, &img, &err), VB_OK);
    assert_int_equal(vb_image_to_gray(&img, &conf, &err), VB_OK);
    ext_run(hog, &conf, want);
    assert_memory_equal(X + fp->dim, want, 1984 * sizeof *X);
    assert_memory_equal(X + fp->dim + 1984, conf.data, 1024 * sizeof *X);
    vb_featpipe_free(fp);

    /* An RGB pipeline replicates grey images. */
    assert_int_equal(vb_featpipe_new(&spec->pipelines[0], (vb_shape){32, 32, 3}, &fp, &err), VB_OK);
    assert_int_equal(fp->dim, 1984 + 3 * 1024);
    float *X3 = malloc(2 * fp->dim * sizeof *X3);
    assert_int_equal(vb_featpipe_extract(fp, &src, X3, "test", &err), VB_OK);
    vb_image rgb = {0};
    assert_int_equal(vb_dataset_image(ds, 0, &img, &err), VB_OK);
    assert_int_equal(vb_image_to_rgb(&img, &rgb, &err), VB_OK);
    assert_int_equal(vb_image_resize(&rgb, 32, 32, &conf, &err), VB_OK);
    assert_memory_equal(X3 + 1984, conf.data, 3 * 1024 * sizeof *X3);
    /* and RGB images pass through */
    assert_int_equal(vb_dataset_image(ds, 1, &img, &err), VB_OK);
    assert_memory_equal(X3 + fp->dim + 1984, img.data, 3 * 1024 * sizeof *X3);
    free(X3);
    free(rgb.data);
    vb_featpipe_free(fp);

    /* Sizes that vary with no resize: refused for extractors. */
    vb_status st = vb_featpipe_new(&spec->pipelines[0], (vb_shape){0, 0, 1}, &fp, &err);
    assert_int_equal(st, VB_ERR_SPEC);
    assert_string_equal(err.msg, "feature 'hog' needs images of one size, but the sizes vary; add {resize: [w, h]} "
                                 "to preprocess");
    assert_null(fp);

    free(img.data);
    free(conf.data);
    free(X);
    free(want);
    vb_extractor_free(hog);
    vb_spec_free(spec);
    vb_dataset_free(ds);
}

/* ---- post-processing chains -------------------------------------------- */

static void test_postchain(void **state)
{
    vb_spec *spec = spec_ok("name: p\ndataset: d\npipelines:\n"
                            "  - {name: a, postprocess: [standardize, l2], classifier: svm}\n"
                            "  - {name: b, classifier: svm}\n");
    vb_error err = {0};
    vb_postchain *pc = NULL;
    assert_int_equal(vb_postchain_new(&spec->pipelines[0], 2, &pc, &err), VB_OK);
    assert_int_equal(pc->n, 2);
    assert_int_equal(pc->dim_in, 2);
    assert_int_equal(pc->dim, 2);
    /* X: (0, 10), (2, 10), (4, 40): column 0 mean 2 sd sqrt(8/3); column 1 mean 20 sd sqrt(200) */
    const float X[6] = {0, 10, 2, 10, 4, 40};
    float *out = NULL;
    assert_int_equal(vb_postchain_fit(pc, X, 3, &out, &err), VB_OK);
    double s0 = sqrt(8.0 / 3), s1 = sqrt(200.0);
    for (int i = 0; i < 3; i++) {
        double a = (X[i * 2] - 2) / s0, b = (X[i * 2 + 1] - 20) / s1, nrm = sqrt(a * a + b * b);
        assert_float_equal(out[i * 2], a / nrm, 1e-5);
        assert_float_equal(out[i * 2 + 1], b / nrm, 1e-5);
    }
    free(out);
    /* apply uses the fitted statistics */
    const float Y[2] = {5, 20};
    assert_int_equal(vb_postchain_apply(pc, Y, 1, &out, &err), VB_OK);
    assert_float_equal(out[0], 1.0, 1e-6);
    assert_float_equal(out[1], 0.0, 1e-6);
    free(out);
    vb_postchain_free(pc);

    /* No steps: a copy. */
    assert_int_equal(vb_postchain_new(&spec->pipelines[1], 2, &pc, &err), VB_OK);
    assert_int_equal(pc->n, 0);
    assert_int_equal(vb_postchain_fit(pc, X, 3, &out, &err), VB_OK);
    assert_ptr_not_equal(out, X);
    assert_memory_equal(out, X, sizeof X);
    free(out);
    assert_int_equal(vb_postchain_apply(pc, X, 0, &out, &err), VB_OK);
    free(out);
    vb_postchain_free(pc);
    vb_spec_free(spec);
}

/* ---- the runner -------------------------------------------------------- */

typedef struct cap_result {
    char pipeline[64], fold[32];
    size_t fold_index, n_train, n_val, n_test, dim;
    int n_classes, proba, features_shared;
    size_t *test_idx;
    int *truth, *pred;
    float *scores;
    double accuracy, macro_f1, extract_s, tune_s, train_s, predict_s;
    size_t *confusion;
    char *features, *params, *grid, *clf_info;
} cap_result;

typedef struct capture {
    cap_result r[16];
    size_t n;
    char fail_pipe[8][64], fail_fold[8][32], fail_msg[8][1024];
    size_t n_fail;
    vb_store *store;       /* also record into this store */
    int64_t exp;
    const vb_spec *spec;
    const vb_dataset *ds;
    const char *skip;      /* claim says no for this pipeline */
    vb_status fail_with;   /* on_result fails with this */
    size_t on_result_calls;
} capture;

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

static vb_status cap_on_result(void *user, const vb_run_result *r, vb_error *err)
{
    capture *c = user;
    c->on_result_calls++;
    if (c->fail_with != VB_OK)
        return vb_fail(err, c->fail_with, "sink refuses %s", r->pipeline);
    assert_true(c->n < 16);
    cap_result *o = &c->r[c->n++];
    memset(o, 0, sizeof *o);
    snprintf(o->pipeline, sizeof o->pipeline, "%s", r->pipeline);
    snprintf(o->fold, sizeof o->fold, "%s", r->fold);
    o->fold_index = r->fold_index;
    o->n_train = r->n_train;
    o->n_val = r->n_val;
    o->n_test = r->n_test;
    o->dim = r->dim;
    o->n_classes = r->n_classes;
    o->proba = r->proba;
    o->features_shared = r->features_shared;
    o->test_idx = malloc(r->n_test * sizeof *o->test_idx);
    o->truth = malloc(r->n_test * sizeof *o->truth);
    o->pred = malloc(r->n_test * sizeof *o->pred);
    memcpy(o->test_idx, r->test_idx, r->n_test * sizeof *o->test_idx);
    memcpy(o->truth, r->truth, r->n_test * sizeof *o->truth);
    memcpy(o->pred, r->pred, r->n_test * sizeof *o->pred);
    if (r->scores) {
        size_t ns = r->n_test * (size_t)r->n_classes;
        o->scores = malloc(ns * sizeof *o->scores);
        memcpy(o->scores, r->scores, ns * sizeof *o->scores);
    }
    o->accuracy = r->metrics->accuracy;
    o->macro_f1 = r->metrics->macro_f1;
    size_t nc = (size_t)r->n_classes * (size_t)r->n_classes;
    o->confusion = malloc(nc * sizeof *o->confusion);
    memcpy(o->confusion, r->metrics->confusion, nc * sizeof *o->confusion);
    o->extract_s = r->extract_s;
    o->tune_s = r->tune_s;
    o->train_s = r->train_s;
    o->predict_s = r->predict_s;
    o->features = dup_or_null(r->features);
    o->params = dup_or_null(r->params);
    o->grid = dup_or_null(r->grid);
    o->clf_info = dup_or_null(r->clf_info);
    if (c->store)
        return vb_store_save_run(c->store, c->exp, r, err);
    return VB_OK;
}

static void cap_on_failure(void *user, const char *pipeline, const char *fold, const vb_error *e)
{
    capture *c = user;
    assert_true(c->n_fail < 8);
    snprintf(c->fail_pipe[c->n_fail], 64, "%s", pipeline);
    snprintf(c->fail_fold[c->n_fail], 32, "%s", fold);
    snprintf(c->fail_msg[c->n_fail], 1024, "%s", e->msg);
    c->n_fail++;
    if (c->store) {
        vb_error err = {0};
        assert_int_equal(vb_store_save_failure(c->store, c->exp, pipeline, fold, e->msg, &err), VB_OK);
    }
}

static vb_status cap_claim(void *user, const vb_spec_pipeline *sp, const vb_fold *fold, size_t fold_index, int *run,
                           vb_error *err)
{
    capture *c = user;
    *run = !(c->skip && strcmp(c->skip, sp->name) == 0);
    if (!c->store || !*run)
        return VB_OK;
    vb_buf config;
    vb_buf_init(&config);
    vb_pipeline_config(sp, &config);
    vb_claim claim;
    vb_status st = vb_store_claim(c->store, c->exp, sp->name, (size_t)(sp - c->spec->pipelines), fold->name, fold_index,
                                  config.data, 0, &claim, err);
    vb_buf_free(&config);
    *run = claim == VB_CLAIM_RUN ? VB_RUN_IT : claim == VB_CLAIM_BUSY ? VB_RUN_BUSY : VB_RUN_DONE;
    return st;
}


/* Records the experiment in a new store at path. */
static void cap_store(capture *c, const char *path, const vb_spec *spec, const vb_dataset *ds, const vb_split *split)
{
    vb_error err = {0};
    c->spec = spec;
    if (vb_store_open(path, 0, &c->store, &err) != VB_OK || vb_store_experiment(c->store, spec, ds, split, &c->exp, &err))
        fail_msg("%s", err.msg);
}

static void cap_free(capture *c)
{
    for (size_t i = 0; i < c->n; i++) {
        cap_result *o = &c->r[i];
        free(o->test_idx);
        free(o->truth);
        free(o->pred);
        free(o->scores);
        free(o->confusion);
        free(o->features);
        free(o->params);
        free(o->grid);
        free(o->clf_info);
    }
    c->n = 0;
}

static vb_run_sink sink_of(capture *c)
{
    return (vb_run_sink){.user = c, .claim = cap_claim, .on_result = cap_on_result, .on_failure = cap_on_failure};
}

static void run_ok(const vb_spec *spec, const vb_dataset *ds, const vb_split *split, const char *only, capture *c,
                   size_t want_failed)
{
    vb_run_opts opts = {.only = only};
    vb_run_sink sink = sink_of(c);
    size_t n_failed = 99;
    vb_error err = {0};
    if (vb_experiment_run(spec, ds, split, &opts, &sink, &n_failed, &err) != VB_OK)
        fail_msg("%s", err.msg);
    assert_int_equal(n_failed, want_failed);
}

static const char RUN_SPEC[] = "name: run\n"
                               "seed: 3\n"
                               "dataset: synth\n"
                               "split: {protocol: holdout, test_fraction: 0.3}\n"
                               "pipelines:\n"
                               "  - name: hog-svm\n"
                               "    features: [{hog: {cell: 4}}]\n"
                               "    postprocess: [standardize]\n"
                               "    classifier: {svm: {C: 10}}\n"
                               "  - name: raw-svm\n"
                               "    classifier: {svm: {kernel: rbf, probability: true}}\n"
                               "  - name: hog-svm-same\n"
                               "    features: [{hog: {cell: 4}}]\n"
                               "    postprocess: [standardize]\n"
                               "    classifier: {svm: {C: 10}}\n";

static const cap_result *find_result(const capture *c, const char *pipeline)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->r[i].pipeline, pipeline) == 0)
            return &c->r[i];
    fail_msg("no result for %s", pipeline);
    return NULL;
}

static void same_numbers(const cap_result *a, const cap_result *b)
{
    assert_int_equal(a->n_test, b->n_test);
    assert_memory_equal(a->test_idx, b->test_idx, a->n_test * sizeof *a->test_idx);
    assert_memory_equal(a->pred, b->pred, a->n_test * sizeof *a->pred);
    assert_memory_equal(a->scores, b->scores, a->n_test * (size_t)a->n_classes * sizeof *a->scores);
}

static void test_experiment(void **state)
{
    vb_spec *spec = spec_ok(RUN_SPEC);
    vb_error err = {0};
    vb_split *split = NULL;
    assert_int_equal(vb_split_make(&spec->split, g_ds, &split, &err), VB_OK);
    assert_int_equal(split->n_folds, 1);
    assert_int_equal(vb_experiment_check(spec, g_ds, NULL, &err), VB_OK);

    capture c;
    memset(&c, 0, sizeof c);
    c.ds = g_ds;
    cap_store(&c, "run.db", spec, g_ds, split);
    run_ok(spec, g_ds, split, NULL, &c, 0);
    assert_int_equal(c.n, 3); /* every (pipeline, fold) */
    assert_int_equal(c.n_fail, 0);
    const char *order[3] = {"hog-svm", "raw-svm", "hog-svm-same"};
    for (size_t i = 0; i < 3; i++) {
        const cap_result *r = &c.r[i];
        assert_string_equal(r->pipeline, order[i]);
        assert_string_equal(r->fold, "holdout");
        assert_int_equal(r->fold_index, 0);
        assert_int_equal(r->n_classes, 3);
        assert_int_equal(r->n_train + r->n_test, 90);
        assert_int_equal(r->n_test, split->folds[0].n_test);
        assert_int_equal(r->n_val, 0);
        assert_null(r->grid);
        assert_memory_equal(r->test_idx, split->folds[0].test, r->n_test * sizeof *r->test_idx);
        /* the metrics are those of truth and pred */
        vb_metrics m;
        assert_int_equal(vb_metrics_compute(r->truth, r->pred, r->n_test, 3, &m, &err), VB_OK);
        assert_float_equal(m.accuracy, r->accuracy, 0);
        assert_float_equal(m.macro_f1, r->macro_f1, 0);
        assert_memory_equal(m.confusion, r->confusion, 9 * sizeof *m.confusion);
        vb_metrics_free(&m);
        for (size_t t = 0; t < r->n_test; t++) {
            assert_int_equal(r->truth[t], g_ds->labels[r->test_idx[t]]);
            assert_true(r->pred[t] >= 0 && r->pred[t] < 3);
        }
        assert_non_null(r->scores);
        assert_true(r->accuracy > 0.6); /* shapes are learnable */
        assert_true(r->extract_s >= 0 && r->train_s >= 0 && r->predict_s >= 0);
        assert_non_null(strstr(r->clf_info, "\"n_sv\": "));
    }
    const cap_result *hog = find_result(&c, "hog-svm"), *raw = find_result(&c, "raw-svm"),
                     *same = find_result(&c, "hog-svm-same");
    assert_false(hog->features_shared);
    assert_false(raw->features_shared);
    assert_true(same->features_shared);
    assert_int_equal(hog->dim, 1984);
    assert_int_equal(raw->dim, 1024);
    assert_string_equal(hog->features, "hog 1984 -> 1984");
    assert_string_equal(raw->features, "raw 1024");
    assert_false(hog->proba);
    assert_true(raw->proba);
    for (size_t t = 0; t < raw->n_test; t++) {
        double s = 0;
        for (int k = 0; k < 3; k++)
            s += raw->scores[t * 3 + (size_t)k];
        assert_float_equal(s, 1.0, 1e-5);
    }
    assert_non_null(strstr(hog->params, "C: 10"));
    assert_non_null(strstr(raw->params, "probability: true"));
    /* Identical features and classifier: identical numbers. */
    same_numbers(hog, same);

    /* The store holds every result: predictions, scores and metrics. */
    vb_store_exp *e = NULL;
    assert_int_equal(vb_store_load(c.store, c.exp, 1, &e, &err), VB_OK);
    assert_string_equal(e->name, "run");
    assert_string_equal(e->dataset, "synth");
    assert_string_equal(e->protocol, "holdout");
    assert_int_equal(e->n_classes, 3);
    assert_string_equal(e->classes[2], "triangle");
    assert_int_equal(e->n_runs, 3);
    for (size_t i = 0; i < 3; i++) {
        const vb_store_run *sr = &e->runs[i];
        const cap_result *cr = find_result(&c, sr->pipeline);
        assert_string_equal(sr->status, "done");
        assert_string_equal(sr->fold, "holdout");
        assert_int_equal(sr->n_pred, cr->n_test);
        /* stored in sample order; the split's test list is sorted too */
        assert_memory_equal(sr->sample, cr->test_idx, cr->n_test * sizeof *sr->sample);
        assert_memory_equal(sr->pred, cr->pred, cr->n_test * sizeof *sr->pred);
        assert_memory_equal(sr->scores, cr->scores, cr->n_test * 3 * sizeof *sr->scores);
        assert_float_equal(vb_store_metric(sr, "accuracy"), cr->accuracy, 0);
        assert_float_equal(vb_store_metric(sr, "macro_f1"), cr->macro_f1, 0);
        assert_memory_equal(sr->confusion, cr->confusion, 9 * sizeof *sr->confusion);
        assert_string_equal(sr->features, cr->features);
        assert_int_equal(sr->features_shared, cr->features_shared);
    }
    vb_store_exp_free(e);
    /* The same store again: every run finished, nothing is redone. */
    capture again;
    memset(&again, 0, sizeof again);
    again.store = c.store;
    again.exp = c.exp;
    again.spec = spec;
    run_ok(spec, g_ds, split, NULL, &again, 0);
    assert_int_equal(again.n, 0);
    vb_store_close(c.store);
    c.store = NULL;

    /* Determinism: a second run gives the same numbers. */
    capture c2;
    memset(&c2, 0, sizeof c2);
    run_ok(spec, g_ds, split, NULL, &c2, 0);
    assert_int_equal(c2.n, 3);
    for (size_t i = 0; i < 3; i++)
        same_numbers(&c.r[i], &c2.r[i]);
    cap_free(&c2);

    /* One pipeline alone: not shared, and the same numbers as when shared. */
    run_ok(spec, g_ds, split, "hog-svm-same", &c2, 0);
    assert_int_equal(c2.n, 1);
    assert_false(c2.r[0].features_shared);
    same_numbers(&c2.r[0], same);
    cap_free(&c2);

    /* Finished runs are skipped. */
    c2.skip = "raw-svm";
    run_ok(spec, g_ds, split, NULL, &c2, 0);
    assert_int_equal(c2.n, 2);
    assert_string_equal(c2.r[0].pipeline, "hog-svm");
    assert_string_equal(c2.r[1].pipeline, "hog-svm-same");
    cap_free(&c2);

    cap_free(&c);
    vb_split_free(split);
    vb_spec_free(spec);
}

static void test_grid(void **state)
{
    vb_spec *spec = spec_ok("name: grid\n"
                            "dataset: synth\n"
                            "split: {protocol: holdout, test_fraction: 0.3, validation: 0.25}\n"
                            "pipelines:\n"
                            "  - name: g\n"
                            "    features: [{hog: {cell: 8}}]\n"
                            "    classifier: {svm: {kernel: linear, C: [0.001, 1]}}\n");
    vb_error err = {0};
    vb_split *split = NULL;
    assert_int_equal(vb_split_make(&spec->split, g_ds, &split, &err), VB_OK);
    capture c;
    memset(&c, 0, sizeof c);
    run_ok(spec, g_ds, split, NULL, &c, 0);
    assert_int_equal(c.n, 1);
    const cap_result *r = &c.r[0];
    assert_true(r->n_val > 0);
    assert_int_equal(r->n_train + r->n_val + r->n_test, 90);
    assert_non_null(r->grid);
    if (strcmp(r->grid, "C=0.001") == 0)
        assert_non_null(strstr(r->params, "C: 0.001,"));
    else if (strcmp(r->grid, "C=1") == 0)
        assert_non_null(strstr(r->params, "C: 1,"));
    else
        fail_msg("grid text '%s'", r->grid);
    assert_true(r->tune_s > 0);
    cap_free(&c);
    vb_split_free(split);
    vb_spec_free(spec);

    /* A grid without validation data is refused before any work. */
    spec = spec_ok("name: grid\n"
                   "dataset: synth\n"
                   "pipelines:\n"
                   "  - name: ok\n"
                   "    classifier: svm\n"
                   "  - name: g\n"
                   "    classifier: {svm: {C: [1, 10]}}\n");
    assert_int_equal(vb_experiment_check(spec, g_ds, NULL, &err), VB_ERR_SPEC);
    assert_string_equal(err.msg, "t.yaml:6:5: pipeline 'g' lists several values (a grid of 2 points) but "
                                 "split.validation is 0; add validation: 0.1 to split, or tune: {folds: 3} to the "
                                 "pipeline");
    assert_int_equal(vb_split_make(&spec->split, g_ds, &split, &err), VB_OK);
    vb_run_sink sink = sink_of(&c);
    size_t n_failed = 7;
    vb_error e2 = {0};
    assert_int_equal(vb_experiment_run(spec, g_ds, split, NULL, &sink, &n_failed, &e2), VB_ERR_SPEC);
    assert_string_equal(e2.msg, err.msg);
    assert_int_equal(c.n, 0); /* nothing ran */
    /* Training directly: the same rule from vb_train_classifier. */
    int *y;
    float *X = tu_blobs(2, 10, 3, 5, 1, &y);
    vb_traindata td = {.X = X, .n = 20, .d = 3, .y = y, .n_classes = 2};
    vb_classifier *clf = (vb_classifier *)1;
    vb_tuned tuned = {.grid = (char *)1, .tune_s = -1};
    assert_int_equal(vb_train_classifier(&spec->pipelines[1], &td, 0, &clf, &tuned, &err), VB_ERR_SPEC);
    assert_string_equal(err.msg, "pipeline 'g': the classifier lists several values (a grid of 2 points) but the "
                                 "split has no validation part; add validation: 0.1 to split, or tune: {folds: 3} to "
                                 "the pipeline");
    assert_null(clf);
    assert_null(tuned.grid);
    /* With validation rows: tuned, the first best point on ties. */
    td.Xval = X;
    td.yval = y;
    td.n_val = 20;
    assert_int_equal(vb_train_classifier(&spec->pipelines[1], &td, 0, &clf, &tuned, &err), VB_OK);
    assert_string_equal(tuned.grid, "C=1"); /* separable blobs: both points are perfect */
    assert_int_equal(tuned.point, 0);
    assert_float_equal(tuned.score, 1.0, 0);
    assert_float_equal(vb_param_float(&clf->params, "C"), 1, 0);
    assert_true(clf->trained);
    free(tuned.grid);
    vb_classifier_free(clf);
    free(X);
    free(y);
    vb_split_free(split);
    vb_spec_free(spec);
}

/* A grid over extractor and classifier parameters: each extractor setting
 * is extracted once per fold, whatever the grid points and pipelines that
 * need it, and the point chosen is the one an exhaustive loop over
 * separate pipelines, each scored on the validation part, chooses. */
static void test_feature_grid(void **state)
{
    static const int cells[3] = {4, 6, 8};
    static const char *const Cs[3] = {"0.01", "1", "100"};
    const char *head = "name: fg\nseed: 7\ndataset: synth\nsplit: {protocol: holdout, test_fraction: 0.3, "
                       "validation: 0.3}\npipelines:\n";
    char *text = vb_asprintf("%s  - name: g\n    features: [{hog: {cell: [4, 6, 8]}}]\n"
                             "    postprocess: [standardize]\n"
                             "    classifier: {svm: {kernel: linear, C: [0.01, 1, 100]}}\n"
                             "  - {name: k, features: [{hog: {cell: 6}}], classifier: {knn: {k: 3}}}\n",
                             head);
    vb_spec *spec = spec_ok(text);
    const vb_spec_pipeline *g = &spec->pipelines[0];
    assert_int_equal(vb_pipeline_variants(g), 3);
    vb_buf d;
    vb_buf_init(&d);
    vb_pipeline_variant_describe(g, 2, &d);
    assert_string_equal(d.data, "hog.cell=8");
    vb_buf_free(&d);
    vb_error err = {0};
    assert_int_equal(vb_experiment_check(spec, g_ds, NULL, &err), VB_OK);
    vb_split *split = NULL;
    assert_int_equal(vb_split_make(&spec->split, g_ds, &split, &err), VB_OK);
    const vb_fold *fold = &split->folds[0];

    /* the engine on the fold: 3 extractions serve the 3 variants and k */
    vb_feat_cache *cache = vb_feat_cache_new(1, &err);
    const vb_fold_features *ff;
    int shared;
    double extract_s;
    vb_fitted fit;
    assert_int_equal(vb_fit_best(spec, g, g_ds, fold, 0, cache, &ff, &shared, &extract_s, &fit, &err), VB_OK);
    char *chosen = strdup(fit.grid);
    vb_fitted_free(&fit);
    assert_int_equal(vb_fit_best(spec, &spec->pipelines[1], g_ds, fold, 0, cache, &ff, &shared, &extract_s, &fit,
                                 &err),
                     VB_OK);
    assert_true(shared); /* k's hog cell 6 is variant 2 of g's */
    vb_fitted_free(&fit);
    size_t made, uses;
    vb_feat_cache_stats(cache, &made, &uses);
    assert_int_equal(made, 3);
    assert_int_equal(uses, 4);
    vb_feat_cache_free(cache);

    /* the exhaustive loop: nine separate pipelines of one point each */
    double best = -1;
    char want[64] = "";
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 3; b++) {
            char *one = vb_asprintf("%s  - name: g\n    features: [{hog: {cell: %d}}]\n"
                                    "    postprocess: [standardize]\n"
                                    "    classifier: {svm: {kernel: linear, C: %s}}\n",
                                    head, cells[a], Cs[b]);
            vb_spec *s1 = spec_ok(one);
            vb_fold_features f1;
            vb_fitted p1;
            assert_int_equal(vb_fit_features(s1, &s1->pipelines[0], g_ds, fold, 0, 0, &f1, &err), VB_OK);
            assert_int_equal(vb_fit_pipeline(s1, &s1->pipelines[0], g_ds, fold, 0, &f1, 1, &p1, &err), VB_OK);
            assert_false(isnan(p1.score));
            if (p1.score > best) { /* the first best on ties */
                best = p1.score;
                snprintf(want, sizeof want, "hog.cell=%d, C=%s", cells[a], Cs[b]);
            }
            vb_fitted_free(&p1);
            vb_fold_features_free(&f1);
            vb_spec_free(s1);
            free(one);
        }
    assert_string_equal(chosen, want);

    /* run: the same choice, stored as the run's grid point; k shares */
    capture c;
    memset(&c, 0, sizeof c);
    run_ok(spec, g_ds, split, NULL, &c, 0);
    assert_int_equal(c.n, 2);
    assert_string_equal(c.r[0].grid, want);
    assert_int_equal(c.r[1].features_shared, 1);
    cap_free(&c);
    free(chosen);

    /* train makes the model run evaluated: the same choice */
    vb_model *m = NULL;
    assert_int_equal(vb_train_model(spec, g, g_ds, fold, 0, &m, &err), VB_OK);
    assert_non_null(strstr(m->info, want));
    vb_model_free(m);

    /* no validation part to choose on: said before anything runs */
    char *noval = vb_asprintf("name: fg\ndataset: synth\nsplit: {protocol: holdout}\npipelines:\n"
                              "  - {name: g, features: [{hog: {cell: [4, 8]}}], classifier: svm}\n");
    vb_spec *s2 = spec_ok(noval);
    assert_int_equal(vb_experiment_check(s2, g_ds, NULL, &err), VB_ERR_SPEC);
    assert_non_null(strstr(err.msg, "pipeline 'g' lists several values (a grid of 2 points) but split.validation"));
    vb_spec_free(s2);
    free(noval);
    /* a variant that cannot be built: its value and place in the spec */
    char *big = vb_asprintf("name: fg\ndataset: synth\nsplit: {protocol: holdout, validation: 0.2}\npipelines:\n"
                            "  - {name: g, features: [{hog: {cell: [8, 200]}}], classifier: svm}\n");
    vb_spec *s3 = spec_ok(big);
    assert_int_not_equal(vb_experiment_check(s3, g_ds, NULL, &err), VB_OK);
    assert_non_null(strstr(err.msg, "t.yaml:5:43: hog.cell: cell 200 is too large"));
    vb_spec_free(s3);
    free(big);
    vb_split_free(split);
    vb_spec_free(spec);
    free(text);
}

/* Random search: seeded draws, the same in every fold and process; the
 * best draw is the one evaluating each draw on its own would pick. */
static void test_random_search(void **state)
{
    const char *text = "name: rs\nseed: 3\ndataset: synth\nsplit: {protocol: kfold, k: 2, validation: 0.3}\n"
                       "pipelines:\n"
                       "  - name: r\n    features: [{hog: {cell: [4, 6, 8]}}]\n    postprocess: [standardize]\n"
                       "    classifier: {svm: {kernel: linear, C: {loguniform: [0.001, 100]}}}\n"
                       "    search: {random: 5}\n";
    vb_spec *spec = spec_ok(text);
    const vb_spec_pipeline *sp = &spec->pipelines[0];
    assert_int_equal(vb_pipeline_random(sp), 5);
    assert_int_equal(vb_pipeline_points(sp), 5);
    vb_error err = {0};
    /* draw i depends on (seed, pipeline, i) only */
    char seen[5][96];
    for (size_t i = 0; i < 5; i++) {
        vb_spec_pipeline a, b;
        assert_int_equal(vb_pipeline_draw(sp, spec->seed, i, &a, &err), VB_OK);
        assert_int_equal(vb_pipeline_draw(sp, spec->seed, i, &b, &err), VB_OK);
        vb_buf ta, tb;
        vb_buf_init(&ta);
        vb_buf_init(&tb);
        vb_pipeline_draw_describe(sp, &a, &ta);
        vb_pipeline_draw_describe(sp, &b, &tb);
        assert_string_equal(ta.data, tb.data);
        assert_int_equal(strncmp(ta.data, "hog.cell=", 9), 0);
        assert_non_null(strstr(ta.data, ", C="));
        double C = vb_param_float(&a.clf_params, "C");
        assert_true(C >= 0.001 && C <= 100);
        assert_int_equal(vb_pipeline_random(&a), 0); /* a draw is one point */
        snprintf(seen[i], sizeof seen[i], "%s", ta.data);
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(seen[j], seen[i]);
        vb_buf_free(&ta);
        vb_buf_free(&tb);
        vb_pipeline_variant_free(&a);
        vb_pipeline_variant_free(&b);
    }
    vb_split *split = NULL;
    assert_int_equal(vb_split_make(&spec->split, g_ds, &split, &err), VB_OK);
    assert_int_equal(vb_experiment_check(spec, g_ds, NULL, &err), VB_OK);
    for (size_t f = 0; f < 2; f++) {
        const vb_fold *fold = &split->folds[f];
        /* each draw on its own */
        double best = -1;
        const char *want = "";
        for (size_t i = 0; i < 5; i++) {
            vb_spec_pipeline d;
            vb_fold_features ff1;
            vb_fitted p1;
            assert_int_equal(vb_pipeline_draw(sp, spec->seed, i, &d, &err), VB_OK);
            assert_int_equal(vb_fit_features(spec, &d, g_ds, fold, f, 0, &ff1, &err), VB_OK);
            assert_int_equal(vb_fit_pipeline(spec, &d, g_ds, fold, f, &ff1, 1, &p1, &err), VB_OK);
            if (p1.score > best) {
                best = p1.score;
                want = seen[i];
            }
            vb_fitted_free(&p1);
            vb_fold_features_free(&ff1);
            vb_pipeline_variant_free(&d);
        }
        vb_feat_cache *cache = vb_feat_cache_new(0, &err);
        const vb_fold_features *ff;
        int shared;
        double extract_s;
        vb_fitted fit;
        assert_int_equal(vb_fit_best(spec, sp, g_ds, fold, f, cache, &ff, &shared, &extract_s, &fit, &err), VB_OK);
        assert_string_equal(fit.grid, want);
        size_t made, uses;
        vb_feat_cache_stats(cache, &made, &uses);
        assert_int_equal(uses, 5);
        assert_true(made <= 3); /* three cell values: each extracted once */
        vb_fitted_free(&fit);
        vb_feat_cache_free(cache);
    }
    vb_split_free(split);
    vb_spec_free(spec);

    /* a range without random search, and draws over the limit */
    vb_spec *bad = NULL;
    assert_int_equal(vb_spec_parse("name: x\ndataset: d\npipelines:\n"
                                   "  - {name: p, classifier: {svm: {C: {uniform: [1, 2]}}}}\n",
                                   "t.yaml", &bad, &err),
                     VB_ERR_SPEC);
    assert_string_equal(err.msg, "t.yaml:4:37: pipeline 'p': a range of values is drawn from by random search; add "
                                 "search: {random: N} to the pipeline, or list the values");
    assert_int_equal(vb_spec_parse("name: x\ndataset: d\npipelines:\n"
                                   "  - {name: p, classifier: svm, search: {random: 50}, tune: {max_points: 10}}\n",
                                   "t.yaml", &bad, &err),
                     VB_ERR_SPEC);
    assert_string_equal(err.msg, "t.yaml:4:5: pipeline 'p': search.random draws 50 points, more than "
                                 "tune.max_points (10); draw fewer, or raise tune: {max_points: N}");
}

/* tune: an inner k-fold needs no validation part, and the metric decides. */
static void test_tune_kfold(void **state)
{
    vb_spec *spec = spec_ok("name: tk\n"
                            "dataset: synth\n"
                            "split: {protocol: holdout, test_fraction: 0.3}\n"
                            "pipelines:\n"
                            "  - name: g\n"
                            "    features: [{hog: {cell: 8}}]\n"
                            "    postprocess: [standardize]\n"
                            "    classifier: {svm: {kernel: linear, C: [0.00001, 0.001, 1]}}\n"
                            "    tune: {metric: macro_f1, folds: 3}\n");
    assert_int_equal(vb_tune_folds(&spec->pipelines[0]), 3);
    vb_error err = {0};
    assert_int_equal(vb_experiment_check(spec, g_ds, NULL, &err), VB_OK);
    vb_split *split = NULL;
    assert_int_equal(vb_split_make(&spec->split, g_ds, &split, &err), VB_OK);
    capture c;
    memset(&c, 0, sizeof c);
    run_ok(spec, g_ds, split, NULL, &c, 0);
    assert_int_equal(c.n, 1);
    assert_int_equal(c.r[0].n_val, 0);
    /* C = 1e-5 underfits badly (every point is within the margin); the
     * chosen point is one of the other two, and the model is trained with it. */
    assert_non_null(c.r[0].grid);
    assert_true(strcmp(c.r[0].grid, "C=0.001") == 0 || strcmp(c.r[0].grid, "C=1") == 0);
    char want[32];
    snprintf(want, sizeof want, "C: %s,", c.r[0].grid + 2);
    assert_non_null(strstr(c.r[0].params, want));
    /* Determinism: the inner folds are seeded. */
    capture c2;
    memset(&c2, 0, sizeof c2);
    run_ok(spec, g_ds, split, NULL, &c2, 0);
    assert_string_equal(c2.r[0].grid, c.r[0].grid);
    same_numbers(&c.r[0], &c2.r[0]);
    cap_free(&c);
    cap_free(&c2);
    vb_split_free(split);
    vb_spec_free(spec);

    /* The tune block is checked like any parameter table. */
    vb_spec *bad = NULL;
    assert_int_equal(vb_spec_parse("name: x\ndataset: d\npipelines:\n"
                                   "  - {name: p, classifier: svm, tune: {metric: f1}}\n",
                                   "t.yaml", &bad, &err),
                     VB_ERR_SPEC);
    assert_string_equal(err.msg, "t.yaml:4:47: tune.metric: unknown value 'f1' (choices: accuracy, balanced_accuracy, "
                                 "macro_f1)");
    assert_int_equal(vb_spec_parse("name: x\ndataset: d\npipelines:\n"
                                   "  - {name: p, classifier: svm, tune: {folds: 1}}\n",
                                   "t.yaml", &bad, &err),
                     VB_ERR_PARAM);
    assert_int_equal(err.status, VB_ERR_PARAM);
    assert_string_equal(err.msg, "t.yaml:4:46: tune.folds: must be 0 (the split's validation part) or at least 2");
}

static void test_check_errors(void **state)
{
    vb_spec *spec = spec_ok(RUN_SPEC);
    vb_error err = {0};
    vb_run_opts opts = {.only = "nope"};
    assert_int_equal(vb_experiment_check(spec, g_ds, &opts, &err), VB_ERR_SPEC);
    assert_string_equal(err.msg, "t.yaml: no pipeline named 'nope'");
    opts.only = "raw-svm";
    assert_int_equal(vb_experiment_check(spec, g_ds, &opts, &err), VB_OK);
    vb_spec_free(spec);

    /* Shapes are checked up front, with the spec position. */
    spec = spec_ok("name: c\ndataset: synth\npipelines:\n"
                   "  - name: ok\n    classifier: svm\n"
                   "  - name: big\n    features: [{hog: {cell: 80}}]\n    classifier: svm\n");
    assert_int_equal(vb_experiment_check(spec, g_ds, NULL, &err), VB_ERR_PARAM);
    assert_string_equal(err.msg, "pipeline 'big': t.yaml:7:29: hog.cell: cell 80 is too large for 32x32 images");
    vb_spec_free(spec);
}

/* A pipeline that fails at run time is reported; the others go on. */
static void test_failing_pipeline(void **state)
{
    /* 3 classes x 12 images of 16 px; image 7 is 10x10, too small to crop. */
    vb_dataset *ds = mem_dataset(3, 12, 7, 10, 10);
    assert_int_equal(ds->fixed_w, 0);
    vb_spec *spec = spec_ok("name: f\n"
                            "dataset: mem\n"
                            "split: {test_fraction: 0.25}\n"
                            "pipelines:\n"
                            "  - name: crop\n"
                            "    preprocess: [{crop: 12}]\n"
                            "    classifier: svm\n"
                            "  - name: resize\n"
                            "    preprocess: [{resize: 8}]\n"
                            "    classifier: {svm: {kernel: linear}}\n"
                            "  - name: crop-again\n"
                            "    preprocess: [{crop: 12}]\n"
                            "    classifier: {svm: {kernel: linear}}\n");
    vb_error err = {0};
    vb_split *split = NULL;
    assert_int_equal(vb_split_make(&spec->split, ds, &split, &err), VB_OK);
    assert_int_equal(vb_experiment_check(spec, ds, NULL, &err), VB_OK);
    capture c;
    memset(&c, 0, sizeof c);
    cap_store(&c, "f.db", spec, ds, split);
    run_ok(spec, ds, split, NULL, &c, 2);
    assert_int_equal(c.n_fail, 2);
    assert_string_equal(c.fail_pipe[0], "crop");
    assert_string_equal(c.fail_fold[0], "holdout");
    assert_string_equal(c.fail_msg[0], "crop 12x12 is larger than a 10x10 image; resize first");
    /* A pipeline that would share the failed extraction fails the same way. */
    assert_string_equal(c.fail_pipe[1], "crop-again");
    assert_string_equal(c.fail_msg[1], "crop 12x12 is larger than a 10x10 image; resize first");
    assert_int_equal(c.n, 1);
    assert_string_equal(c.r[0].pipeline, "resize");
    assert_float_equal(c.r[0].accuracy, 1.0, 0); /* brightness separates the classes */
    assert_string_equal(c.r[0].features, "raw 64");

    vb_store_exp *e = NULL;
    assert_int_equal(vb_store_load(c.store, c.exp, 1, &e, &err), VB_OK);
    assert_int_equal(e->n_runs, 3);
    assert_string_equal(e->runs[0].pipeline, "crop");
    assert_string_equal(e->runs[0].status, "failed");
    assert_string_equal(e->runs[0].error, "crop 12x12 is larger than a 10x10 image; resize first");
    assert_string_equal(e->runs[1].pipeline, "resize");
    assert_string_equal(e->runs[1].status, "done");
    assert_string_equal(e->runs[2].status, "failed");
    /* a class name with a comma is quoted in the predictions CSV */
    vb_buf csv;
    vb_buf_init(&csv);
    vb_render_predictions_csv(e, &csv);
    assert_int_equal(strncmp(csv.data, "pipeline,fold,sample,true,predicted,score:dark,\"score:mid,grey\",score:light\n",
                             76),
                     0);
    vb_buf_free(&csv);
    vb_store_exp_free(e);
    vb_store_close(c.store);
    cap_free(&c);
    vb_split_free(split);
    vb_spec_free(spec);
    vb_dataset_free(ds);
}

/* A failing sink stops the experiment, whatever the status it returns. */
static void test_sink_failure_stops(void **state)
{
    vb_dataset *ds = mem_dataset(2, 10, -1, 0, 0);
    vb_spec *spec = spec_ok("name: s\ndataset: mem\npipelines:\n"
                            "  - {name: a, classifier: {svm: {kernel: linear}}}\n"
                            "  - {name: b, classifier: {svm: {kernel: linear}}}\n");
    vb_error err = {0};
    vb_split *split = NULL;
    assert_int_equal(vb_split_make(&spec->split, ds, &split, &err), VB_OK);
    static const vb_status kinds[2] = {VB_ERR_IO, VB_ERR_DATA};
    for (int i = 0; i < 2; i++) {
        capture c;
        memset(&c, 0, sizeof c);
        c.fail_with = kinds[i];
        vb_run_sink sink = sink_of(&c);
        size_t n_failed = 9;
        vb_status st = vb_experiment_run(spec, ds, split, NULL, &sink, &n_failed, &err);
        assert_int_equal(st, kinds[i]);
        assert_string_equal(err.msg, "sink refuses a");
        assert_int_equal(c.on_result_calls, 1);
        assert_int_equal(c.n_fail, 0);
        assert_int_equal(n_failed, 0);
    }
    vb_split_free(split);
    vb_spec_free(spec);
    vb_dataset_free(ds);
}

/* ---- results ----------------------------------------------------------- */

static void test_result_json(void **state)
{
    const int truth[4] = {0, 1, 1, 0}, pred[4] = {0, 1, 0, 0};
    const size_t idx[4] = {3, 8, 1, 0};
    const float scores[8] = {0.9f, 0.1f, 0.25f, 0.75f, 0.5f, 0.5f, 1, 0};
    vb_metrics m;
    assert_int_equal(vb_metrics_compute(truth, pred, 4, 2, &m, NULL), VB_OK);
    vb_run_result r = {.pipeline = "p1", .fold = "fold2", .fold_index = 1, .n_train = 10, .n_val = 2, .n_test = 4,
                       .n_classes = 2, .test_idx = idx, .truth = truth, .pred = pred, .scores = scores, .proba = 1,
                       .metrics = &m, .extract_s = 1.5, .tune_s = 0.5, .train_s = 2, .predict_s = 0.25,
                       .features_shared = 1, .peak_rss_kb = 2048, .model_bytes = 123, .dim = 7,
                       .features = "hog 7", .params = "{C: 10}", .grid = "C=10", .clf_info = "\"n_sv\": 3",
                       .postprocess_s = 0.125};
    vb_buf b;
    vb_buf_init(&b);
    vb_result_json(&r, NULL, 0, &b);
    /* accuracy 3/4; f1: class 0 = 0.8, class 1 = 2/3 */
    const char *want = "{\"pipeline\": \"p1\", \"fold\": \"fold2\", \"accuracy\": 0.75, \"balanced_accuracy\": 0.75, "
                       "\"macro_f1\": 0.7333333333333334, \"macro_precision\": 0.8333333333333333, "
                       "\"macro_recall\": 0.75, \"weighted_f1\": 0.7333333333333334, \"extract_s\": 1.5, "
                       "\"postprocess_s\": 0.125, \"tune_s\": 0.5, \"train_s\": 2, \"predict_s\": 0.25, \"n_train\": 10, \"n_val\": 2, "
                       "\"n_test\": 4, \"dim\": 7, \"features_shared\": true, \"peak_rss_mb\": 2, "
                       "\"model_bytes\": 123, \"probabilities\": true, \"features\": \"hog 7\", "
                       "\"params\": {\"C\": 10}, \"grid\": \"C=10\", \"model\": {\"n_sv\": 3}, \"kept\": false}";
    assert_string_equal(b.data, want);
    vb_buf_free(&b);

    /* details: per-class metrics and the confusion matrix */
    vb_dataset *ds = mem_dataset(2, 10, -1, 0, 0);
    vb_buf_init(&b);
    r.grid = NULL;
    r.clf_info = "";
    vb_result_json(&r, ds, 1, &b);
    assert_null(strstr(b.data, "\"grid\""));
    assert_null(strstr(b.data, "\"model\""));
    assert_non_null(strstr(b.data, "\"per_class\": [{\"class\": \"dark\", \"precision\": "));
    assert_non_null(strstr(b.data, "{\"class\": \"mid,grey\", \"precision\": 1, \"recall\": 0.5, "));
    assert_non_null(strstr(b.data, "\"support\": 2}], \"confusion\": [[2, 0], [1, 1]], \"kept\": false}"));
    vb_buf_free(&b);

    vb_dataset_free(ds);
    vb_metrics_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_featpipe_matches_extractors),
        cmocka_unit_test(test_featpipe_conforms),
        cmocka_unit_test(test_postchain),
        cmocka_unit_test(test_experiment),
        cmocka_unit_test(test_grid),
        cmocka_unit_test(test_tune_kfold),
        cmocka_unit_test(test_feature_grid),
        cmocka_unit_test(test_random_search),
        cmocka_unit_test(test_check_errors),
        cmocka_unit_test(test_failing_pipeline),
        cmocka_unit_test(test_sink_failure_stops),
        cmocka_unit_test(test_result_json),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
