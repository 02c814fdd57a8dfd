/* Deep features and fine-tuning (issue 18): the cnn extractor gives the
 * saved network's own activations (the model's preprocessing, its input
 * standardisation, its forward pass up to the layer), named and numbered
 * layers agree, it is the same at 1 and 2 threads, a model trained on it
 * needs no other file, a hash of the model file is part of the configuration;
 * init_from copies every layer but the output layer, freeze keeps layers
 * bit for bit through training; and the errors, each with its place in the
 * spec. */
#define _GNU_SOURCE /* memmem */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "support/testutil.h"
#include "visbench/cnn.h"
#include "visbench/model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static vb_dataset *g_ds;  /* 3 classes x 24 grey 24 px images */
static vb_dataset *g_ds4; /* 4 classes x 16 */

/* conv1 relu1 maxpool1 conv2 batchnorm1 relu2 flatten1 fc1 relu3 dropout1 fc2 */
#define LAYERS                                                                                                      \
    "[conv: {filters: 4, size: 3, pad: 1}, relu, maxpool: 2, conv: {filters: 4, size: 3}, batchnorm, relu, "      \
    "flatten, fc: 12, relu, dropout: 0.3, fc: classes]"
#define CNN_PIPELINE "{name: c, preprocess: [{resize: 16}], classifier: {cnn: {layers: " LAYERS ", epochs: 2, batch: 16}}}"

static char *spec_text(const char *dataset, const char *pipeline)
{
    return vb_asprintf("name: s\nseed: 3\ndataset: %s\nsplit: {protocol: holdout, test_fraction: 0.25}\n"
                       "pipelines:\n  - %s\n",
                       dataset, pipeline);
}

static vb_spec *spec_of(const char *dataset, const char *pipeline)
{
    char *text = spec_text(dataset, pipeline);
    vb_spec *spec = NULL;
    vb_error err = {0};
    if (vb_spec_parse(text, "s.yaml", &spec, &err) != VB_OK)
        fail_msg("%s: %s", pipeline, err.msg);
    free(text);
    return spec;
}

/* The pipeline trained on ds's holdout fold (as visbench train does). */
static vb_model *train(vb_dataset *ds, const char *dataset, const char *pipeline)
{
    vb_spec *spec = spec_of(dataset, pipeline);
    vb_split *split = NULL;
    vb_model *m = NULL;
    vb_error err = {0};
    if (vb_split_make(&spec->split, ds, &split, &err) != VB_OK ||
        vb_train_model(spec, &spec->pipelines[0], ds, &split->folds[0], 0, &m, &err) != VB_OK)
        fail_msg("%s: %s", pipeline, err.msg);
    vb_split_free(split);
    vb_spec_free(spec);
    return m;
}

static void save(const vb_model *m, const char *path)
{
    vb_error err = {0};
    if (vb_model_save(m, path, &err) != VB_OK)
        fail_msg("%s", err.msg);
}

static const vb_cnn *net_of(const vb_model *m)
{
    assert_non_null(m->clf->vt->net);
    const vb_cnn *net = m->clf->vt->net(m->clf->state);
    assert_non_null(net);
    return net;
}

/* The model setup trained (m.vbm), loaded. */
static vb_model *load_m(void)
{
    vb_model *m = NULL;
    vb_error err = {0};
    if (vb_model_load("m.vbm", &m, &err) != VB_OK)
        fail_msg("%s", err.msg);
    return m;
}

static int setup(void **state)
{
    vb_synth_opts o = tu_synth_opts(3, 24, 24, 11);
    g_ds = tu_synth(&o, "synth");
    o = tu_synth_opts(4, 16, 24, 12);
    g_ds4 = tu_synth(&o, "synth4");
    vb_model *m = train(g_ds, "synth", CNN_PIPELINE);
    save(m, "m.vbm");
    vb_model_free(m);
    return 0;
}

static int teardown(void **state)
{
    vb_dataset_free(g_ds);
    vb_dataset_free(g_ds4);
    return 0;
}

/* The features of every image of g_ds through a pipeline with the given
 * cnn extractor entry ("{cnn: {model: m.vbm, layer: fc1}}"); *dim gets
 * their size. */
static float *features(const char *entry, size_t *dim)
{
    char *p = vb_asprintf("{name: f, features: [%s], classifier: svm}", entry);
    vb_spec *spec = spec_of("synth", p);
    free(p);
    vb_featpipe *fp = NULL;
    vb_error err = {0};
    if (vb_featpipe_new(&spec->pipelines[0], vb_dataset_input_shape(g_ds), &fp, &err) != VB_OK)
        fail_msg("%s: %s", entry, err.msg);
    vb_dataset_view view;
    vb_imgsrc src;
    vb_imgsrc_dataset(&src, &view, g_ds, NULL, g_ds->n);
    float *X = malloc(g_ds->n * fp->dim * sizeof *X);
    assert_non_null(X);
    if (vb_featpipe_extract(fp, &src, X, NULL, &err) != VB_OK)
        fail_msg("%s: %s", entry, err.msg);
    *dim = fp->dim;
    vb_featpipe_free(fp);
    vb_spec_free(spec);
    return X;
}

/* The model's own computation for every image of g_ds, up to layer l
 * (0-based): its feature pipeline (preprocessing and raw rows) as predict
 * runs it, the input standardisation as the network writes it, and a
 * forward pass through layers 0..l in batches of VB_EXT_BATCH (full: the
 * whole network, which does not store a relu fused with its pool). */
static float *reference(const vb_model *m, size_t l, int full, size_t *dim)
{
    const vb_cnn *net = net_of(m);
    const size_t n = g_ds->n, d = m->fp->dim, k = net->layers[l].n_out;
    assert_int_equal(d, net->layers[0].n_in);
    float *rows = malloc(n * d * sizeof *rows), *out = malloc(n * k * sizeof *out);
    assert_non_null(rows);
    assert_non_null(out);
    vb_dataset_view view;
    vb_imgsrc src;
    vb_imgsrc_dataset(&src, &view, g_ds, NULL, n);
    vb_error err = {0};
    if (vb_featpipe_extract(m->fp, &src, rows, NULL, &err) != VB_OK)
        fail_msg("%s", err.msg);
    vb_cnn_ws *ws = NULL;
    assert_int_equal(vb_cnn_ws_new(net, VB_EXT_BATCH, 0, 0, &ws, &err), VB_OK);
    const size_t S = (size_t)net->in.w * net->in.h;
    for (size_t i0 = 0; i0 < n; i0 += VB_EXT_BATCH) {
        size_t b = n - i0 < VB_EXT_BATCH ? n - i0 : VB_EXT_BATCH;
        float *in = vb_cnn_ws_input(ws);
        for (size_t i = 0; i < b; i++)
            for (int c = 0; c < net->in.c; c++) {
                const float mu = net->mean[c], inv = 1.0f / net->std[c];
                for (size_t s = 0; s < S; s++)
                    in[i * d + c * S + s] = (rows[(i0 + i) * d + c * S + s] - mu) * inv;
            }
        if (full)
            vb_cnn_forward(net, ws, b, 0);
        else
            vb_cnn_forward_to(net, ws, b, 0, l + 1);
        memcpy(out + i0 * k, vb_cnn_ws_act(ws, l), b * k * sizeof *out);
    }
    vb_cnn_ws_free(ws);
    free(rows);
    *dim = k;
    return out;
}

/* The features are the network's own activations, bit for bit: the same
 * front, the same standardisation, the same layers on the same batches of
 * images (72 images: a block of 64 and one of 8). */
static void test_features_are_the_activations(void **state)
{
    vb_model *m = load_m();
    vb_error err = {0};
    const vb_cnn *net = net_of(m);
    assert_int_equal(net->n_layers, 11);
    assert_true(g_ds->n > VB_EXT_BATCH);
    static const struct {
        const char *entry;
        size_t layer; /* 0-based */
        int full;     /* also against the whole network's forward pass */
    } cases[] = {
        {"{cnn: {model: m.vbm, layer: fc1}}", 7, 1},      {"{cnn: {model: m.vbm, layer: conv2}}", 3, 1},
        {"{cnn: {model: m.vbm, layer: relu1}}", 1, 0},    {"{cnn: {model: m.vbm, layer: batchnorm1}}", 4, 1},
        {"{cnn: {model: m.vbm, layer: fc2}}", 10, 1},     {"{cnn: {model: m.vbm, layer: flatten1}}", 6, 0},
    };
    for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
        size_t d1, d2, d3;
        float *X = features(cases[t].entry, &d1);
        float *R = reference(m, cases[t].layer, 0, &d2);
        assert_int_equal(d1, d2);
        assert_int_equal(d1, net->layers[cases[t].layer].n_out);
        if (memcmp(X, R, g_ds->n * d1 * sizeof *X) != 0)
            fail_msg("%s: the features are not the network's activations", cases[t].entry);
        if (cases[t].full) {
            float *F = reference(m, cases[t].layer, 1, &d3);
            assert_memory_equal(X, F, g_ds->n * d1 * sizeof *X);
            free(F);
        }
        free(X);
        free(R);
    }
    /* the last layer's are the logits predict turns into probabilities */
    size_t d;
    float *Z = features("{cnn: {model: m.vbm, layer: 11}}", &d);
    assert_int_equal(d, 3);
    float *P = malloc(g_ds->n * 3 * sizeof *P);
    int *labels = malloc(g_ds->n * sizeof *labels);
    vb_dataset_view view;
    vb_imgsrc src;
    vb_imgsrc_dataset(&src, &view, g_ds, NULL, g_ds->n);
    assert_int_equal(vb_model_predict_src(m, &src, labels, P, &err), VB_OK);
    for (size_t i = 0; i < g_ds->n; i++) {
        int arg = 0;
        for (int j = 1; j < 3; j++)
            arg = Z[i * 3 + j] > Z[i * 3 + arg] ? j : arg;
        assert_int_equal(arg, labels[i]);
    }
    free(Z);
    free(P);
    free(labels);
    vb_model_free(m);
}

/* A name, its number and (for the layer before the output layer) the
 * default give the same features; dropout is the identity when predicting. */
static void test_named_and_numbered_layers(void **state)
{
    static const char *const same[][2] = {
        {"{cnn: {model: m.vbm, layer: fc1}}", "{cnn: {model: m.vbm, layer: 8}}"},
        {"{cnn: {model: m.vbm, layer: relu1}}", "{cnn: {model: m.vbm, layer: 2}}"},
        {"{cnn: {model: m.vbm, layer: maxpool1}}", "{cnn: {model: m.vbm, layer: 3}}"},
        {"{cnn: m.vbm}", "{cnn: {model: m.vbm, layer: dropout1}}"},
        {"{cnn: {model: m.vbm, layer: 10}}", "{cnn: {model: m.vbm, layer: relu3}}"},
    };
    for (size_t t = 0; t < sizeof same / sizeof same[0]; t++) {
        size_t da, db;
        float *A = features(same[t][0], &da), *B = features(same[t][1], &db);
        assert_int_equal(da, db);
        if (memcmp(A, B, g_ds->n * da * sizeof *A) != 0)
            fail_msg("%s and %s differ", same[t][0], same[t][1]);
        free(A);
        free(B);
    }
    size_t d;
    free(features("{cnn: m.vbm}", &d));
    assert_int_equal(d, 12); /* dropout1 after fc 12 */
    free(features("{cnn: {model: m.vbm, layer: maxpool1}}", &d));
    assert_int_equal(d, 8 * 8 * 4);
}

/* The same numbers at 1 and at 2 threads. */
static void test_threads(void **state)
{
    int saved = vb_get_threads();
    size_t d1, d2;
    vb_set_threads(1);
    float *A = features("{cnn: {model: m.vbm, layer: conv2}}", &d1);
    vb_set_threads(2);
    float *B = features("{cnn: {model: m.vbm, layer: conv2}}", &d2);
    vb_set_threads(saved);
    assert_int_equal(d1, d2);
    assert_memory_equal(A, B, g_ds->n * d1 * sizeof *A);
    free(A);
    free(B);
}

static void predict_all(const vb_model *m, int *labels, float *scores)
{
    vb_dataset_view view;
    vb_imgsrc src;
    vb_imgsrc_dataset(&src, &view, g_ds, NULL, g_ds->n);
    vb_error err = {0};
    if (vb_model_predict_src(m, &src, labels, scores, &err) != VB_OK)
        fail_msg("%s", err.msg);
}

/* CNN features + SVM as a model: it carries the network, so it loads and
 * predicts the same with the cnn's model file gone. */
static void test_model_needs_no_other_file(void **state)
{
    char *bytes;
    size_t len;
    bytes = tu_read_file("m.vbm", &len);
    tu_write_file("m2.vbm", bytes, len);
    free(bytes);
    vb_model *m = train(g_ds, "synth",
                        "{name: ds, features: [{cnn: {model: m2.vbm, layer: fc1}}], postprocess: [standardize], "
                        "classifier: {svm: {kernel: linear}}}");
    vb_buf b;
    vb_buf_init(&b);
    vb_error err = {0};
    assert_int_equal(vb_model_serialize(m, &b, &err), VB_OK);
    assert_int_equal(remove("m2.vbm"), 0);
    vb_model *m2 = NULL;
    if (vb_model_parse(b.data, b.len, "ds.vbm", &m2, &err) != VB_OK)
        fail_msg("%s", err.msg);
    const size_t n = g_ds->n;
    int *l1 = malloc(n * sizeof *l1), *l2 = malloc(n * sizeof *l2);
    float *s1 = malloc(n * 3 * sizeof *s1), *s2 = malloc(n * 3 * sizeof *s2);
    predict_all(m, l1, s1);
    predict_all(m2, l2, s2);
    assert_memory_equal(l1, l2, n * sizeof *l1);
    assert_memory_equal(s1, s2, n * 3 * sizeof *s1);
    /* and it writes the same bytes again */
    vb_buf b2;
    vb_buf_init(&b2);
    assert_int_equal(vb_model_serialize(m2, &b2, &err), VB_OK);
    assert_int_equal(b2.len, b.len);
    assert_memory_equal(b2.data, b.data, b.len);
    /* a corrupt embedded model is the model file's error */
    vb_model *m3 = NULL;
    uint8_t *copy = malloc(b.len);
    memcpy(copy, b.data, b.len);
    const char *magic = "VBMODEL";
    uint8_t *inner = memmem(copy + 8, b.len - 8, magic, 8); /* the embedded file */
    assert_non_null(inner);
    inner[100] ^= 0x40;
    assert_int_not_equal(vb_model_parse(copy, b.len, "bad.vbm", &m3, &err), VB_OK);
    assert_null(m3);
    free(copy);
    vb_buf_free(&b);
    vb_buf_free(&b2);
    vb_model_free(m);
    vb_model_free(m2);
    free(l1);
    free(l2);
    free(s1);
    free(s2);
}

/* The configuration names the model file's content: a hash of it is in the
 * feature key and the pipeline's configuration, and in the spec's hash; a
 * retrained model file changes all three. */
static void test_model_hash_in_the_configuration(void **state)
{
    char *bytes;
    size_t len;
    bytes = tu_read_file("m.vbm", &len);
    tu_write_file("m3.vbm", bytes, len);
    char want[48];
    snprintf(want, sizeof want, " files: {model: %016llx}", (unsigned long long)vb_hash64(bytes, len, 0));
    free(bytes);
    const char *p = "{name: f, features: [{cnn: {model: m3.vbm, layer: fc1}}], classifier: svm}";
    vb_spec *a = spec_of("synth", p);
    vb_buf key, cfg;
    vb_buf_init(&key);
    vb_buf_init(&cfg);
    vb_featpipe_key(&a->pipelines[0], &key);
    vb_pipeline_config(&a->pipelines[0], &cfg);
    assert_non_null(strstr(key.data, want));
    assert_non_null(strstr(cfg.data, want));
    /* another model in the same file */
    vb_model *m = train(g_ds, "synth",
                        "{name: c, preprocess: [{resize: 16}], classifier: {cnn: {layers: " LAYERS
                        ", epochs: 1, batch: 8}}}");
    save(m, "m3.vbm");
    vb_model_free(m);
    vb_spec *b = spec_of("synth", p);
    vb_buf key2;
    vb_buf_init(&key2);
    vb_featpipe_key(&b->pipelines[0], &key2);
    assert_string_not_equal(key.data, key2.data);
    assert_true(a->hash != b->hash);
    /* init_from likewise, in the pipeline's configuration */
    vb_spec *c = spec_of("synth", "{name: t, preprocess: [{resize: 16}], classifier: {cnn: {layers: " LAYERS
                                  ", init_from: m3.vbm}}}");
    vb_buf cfg3;
    vb_buf_init(&cfg3);
    vb_pipeline_config(&c->pipelines[0], &cfg3);
    assert_non_null(strstr(cfg3.data, " files: {init_from: "));
    vb_buf_free(&key);
    vb_buf_free(&key2);
    vb_buf_free(&cfg);
    vb_buf_free(&cfg3);
    vb_spec_free(a);
    vb_spec_free(b);
    vb_spec_free(c);
}

/* init_from before training: every layer but the output layer is the
 * source's bit for bit (batchnorm statistics and input standardisation
 * too); the output layer, for another class count, keeps its own
 * initialisation. */
static void test_transfer_copies_all_but_the_output(void **state)
{
    vb_model *m = load_m();
    vb_error err = {0};
    const vb_cnn *src = net_of(m);
    vb_doc *doc = NULL;
    vb_cnn_arch arch;
    assert_int_equal(vb_doc_load_string(LAYERS, "net.yaml", &doc, &err), VB_OK);
    assert_int_equal(vb_cnn_arch_parse(doc->root, &arch, &err), VB_OK);
    vb_doc_free(doc);
    vb_cnn *dst = NULL;
    assert_int_equal(vb_cnn_new(&arch, src->in, 4, &dst, &err), VB_OK);
    assert_int_equal(vb_cnn_transfer_check(&arch, src->in, src, &err), VB_OK);
    assert_int_equal(vb_cnn_init(dst, VB_CNN_INIT_HE, 5, &err), VB_OK);
    const vb_cnn_layer *out = &dst->layers[10];
    assert_int_equal(out->n_out, 4);
    float *fresh = malloc((out->n_w + out->n_b) * sizeof *fresh);
    memcpy(fresh, dst->params + out->w_off, (out->n_w + out->n_b) * sizeof *fresh);
    vb_cnn_transfer(dst, src);
    for (size_t l = 0; l < 10; l++) {
        const vb_cnn_layer *D = &dst->layers[l], *S = &src->layers[l];
        assert_int_equal(D->n_w + D->n_b, S->n_w + S->n_b);
        assert_memory_equal(dst->params + D->w_off, src->params + S->w_off, (D->n_w + D->n_b) * sizeof(float));
    }
    assert_memory_equal(dst->params + out->w_off, fresh, (out->n_w + out->n_b) * sizeof *fresh);
    assert_int_equal(dst->n_stats, src->n_stats);
    assert_true(dst->n_stats > 0);
    assert_memory_equal(dst->stats, src->stats, dst->n_stats * sizeof *dst->stats);
    assert_memory_equal(dst->mean, src->mean, sizeof *dst->mean);
    assert_memory_equal(dst->std, src->std, sizeof *dst->std);
    assert_true(src->mean[0] != 0 && src->std[0] != 1); /* fitted, not the identity */
    free(fresh);
    vb_cnn_free(dst);
    vb_cnn_arch_free(&arch);
    vb_model_free(m);
}

/* Fine-tuning through the classifier, on 4 classes from a 3-class model,
 * with weight decay: the first three weighted layers (conv1, conv2,
 * batchnorm1, with its statistics) are the source's bit for bit after
 * training, fc1 moved, the output layer has 4 units; the run records the
 * hash of the model file. */
static void test_fine_tune_freeze(void **state)
{
    vb_model *src_m = load_m();
    const vb_cnn *src = net_of(src_m);
    vb_model *m = train(g_ds4, "synth4",
                        "{name: ft, preprocess: [{resize: 16}], classifier: {cnn: {layers: " LAYERS
                        ", epochs: 2, batch: 8, weight_decay: 0.01, init_from: m.vbm, freeze: 3}}}");
    const vb_cnn *net = net_of(m);
    assert_int_equal(net->n_classes, 4);
    assert_int_equal(net->layers[10].n_out, 4);
    for (size_t l = 0; l < 5; l++) { /* conv1 .. batchnorm1 */
        const vb_cnn_layer *L = &net->layers[l];
        assert_memory_equal(net->params + L->w_off, src->params + src->layers[l].w_off,
                            (L->n_w + L->n_b) * sizeof(float));
    }
    assert_memory_equal(net->stats, src->stats, net->n_stats * sizeof *net->stats);
    assert_memory_equal(net->mean, src->mean, sizeof *net->mean);
    const vb_cnn_layer *fc1 = &net->layers[7];
    assert_int_equal(fc1->conf.kind, VB_CNN_FC);
    assert_memory_not_equal(net->params + fc1->w_off, src->params + src->layers[7].w_off,
                            fc1->n_w * sizeof(float));
    vb_buf info;
    vb_buf_init(&info);
    m->clf->vt->info_json(m->clf->state, &info);
    char *bytes;
    size_t len;
    bytes = tu_read_file("m.vbm", &len);
    char want[64];
    snprintf(want, sizeof want, "\"init_hash\": \"%016llx\"", (unsigned long long)vb_hash64(bytes, len, 0));
    free(bytes);
    assert_non_null(strstr(info.data, want));
    assert_non_null(strstr(info.data, "\"frozen_layers\": 3"));
    vb_buf_free(&info);
    vb_model_free(m);
    /* freeze 0: every layer trains, conv1 moves too */
    m = train(g_ds4, "synth4",
              "{name: ft, preprocess: [{resize: 16}], classifier: {cnn: {layers: " LAYERS
              ", epochs: 2, batch: 8, init_from: m.vbm}}}");
    net = net_of(m);
    assert_memory_not_equal(net->params, src->params, net->layers[0].n_w * sizeof(float));
    vb_model_free(m);
    vb_model_free(src_m);
}

/* ---- errors ------------------------------------------------------------ */

/* The spec's check of pipeline p on ds (dataset named dataset) fails with
 * a message that has want in it. */
static void check_fails(vb_dataset *ds, const char *dataset, const char *p, const char *want)
{
    char *text = spec_text(dataset, p);
    vb_spec *spec = NULL;
    vb_error err = {0};
    vb_status st = vb_spec_parse(text, "s.yaml", &spec, &err);
    if (st == VB_OK)
        st = vb_experiment_check(spec, ds, NULL, &err);
    if (st == VB_OK)
        fail_msg("%s: no error, expected '%s'", p, want);
    if (!strstr(err.msg, want))
        fail_msg("%s:\n  got      %s\n  expected %s", p, err.msg, want);
    vb_spec_free(spec);
    free(text);
}

static void test_extractor_errors(void **state)
{
    vb_model *svm = train(g_ds, "synth", "{name: h, features: [{hog: {cell: 6}}], classifier: svm}");
    save(svm, "svm.vbm");
    vb_model_free(svm);
    char *bytes;
    size_t len;
    bytes = tu_read_file("m.vbm", &len);
    tu_write_file("trunc.vbm", bytes, len / 2);
    bytes[len / 3] ^= 1;
    tu_write_file("flip.vbm", bytes, len);
    free(bytes);
    tu_write_text("text.vbm", "not a model\n");
    /* column 40: the value of model: after "  - {name: f, features: [{cnn: {model: " */
#define EXT(v) "{name: f, features: [{cnn: {model: " v "}}], classifier: svm}"
    check_fails(g_ds, "synth", EXT("none.vbm"), "s.yaml:6:40: cnn.model: none.vbm: cannot open: No such file");
    check_fails(g_ds, "synth", EXT("svm.vbm"),
                "s.yaml:6:40: cnn.model: svm.vbm: not a cnn model (it is h: hog ");
    check_fails(g_ds, "synth", EXT("trunc.vbm"), "s.yaml:6:40: cnn.model: trunc.vbm: ");
    check_fails(g_ds, "synth", EXT("flip.vbm"), "s.yaml:6:40: cnn.model: flip.vbm: checksum mismatch");
    check_fails(g_ds, "synth", EXT("text.vbm"), "s.yaml:6:40: cnn.model: text.vbm: not a visbench model");
    check_fails(g_ds, "synth", EXT("m.vbm, layer: fc3"),
                "s.yaml:6:54: cnn.layer: 'm.vbm': the network has no layer 'fc3'; its layers are conv1, relu1, "
                "maxpool1, conv2, batchnorm1, relu2, flatten1, fc1, relu3, dropout1, fc2 (or give a number, 1 to "
                "11)");
    check_fails(g_ds, "synth", EXT("m.vbm, layer: 12"),
                "s.yaml:6:54: cnn.layer: 'm.vbm': layer 12 is out of range: the network has 11 layers, 1 to 11");
    check_fails(g_ds, "synth", EXT("m.vbm, layer: 0"), "layer 0 is out of range");
    /* the model resizes to 16 px but keeps the channels: colour images are not its input */
    check_fails(g_ds, "synth", "{name: f, preprocess: [rgb], features: [{cnn: m.vbm}], classifier: svm}",
                "cnn.model: 'm.vbm' takes 16x16x1 images (w x h x channels) into its network, and this "
                "pipeline's images, 24x24x3 after its preprocessing, are 16x16x3 after the model's own");
#undef EXT
    /* a model without preprocessing of its own takes only its size */
    vb_model *m = train(g_ds, "synth",
                        "{name: c, classifier: {cnn: {layers: [conv: {filters: 2, size: 3}, relu, maxpool: 2, flatten, "
                        "fc: classes], epochs: 1}}}");
    save(m, "plain.vbm");
    vb_model_free(m);
    check_fails(g_ds, "synth", "{name: f, preprocess: [{resize: 20}], features: [{cnn: plain.vbm}], classifier: svm}",
                "'plain.vbm' takes 24x24x1 images (w x h x channels) and this pipeline's are 20x20x1 after its "
                "preprocessing");
    /* the default layer of a one-layer network: there is none before its output */
    m = train(g_ds, "synth", "{name: c, classifier: {cnn: {layers: [fc: classes], epochs: 1}}}");
    save(m, "one.vbm");
    vb_model_free(m);
    check_fails(g_ds, "synth", "{name: f, features: [{cnn: one.vbm}], classifier: svm}",
                "the network has one layer, its output layer (fc1)");
}

static void test_fine_tune_errors(void **state)
{
    /* the messages (their places in the spec: the last two) */
#define FT(pre, layers, rest) "{name: t, " pre "classifier: {cnn: {layers: " layers ", epochs: 1, " rest "}}}"
    check_fails(g_ds4, "synth4", FT("preprocess: [{resize: 16}], ", LAYERS, "init_from: gone.vbm"),
                "cnn.init_from: gone.vbm: cannot open: No such file or directory");
    check_fails(g_ds4, "synth4", FT("preprocess: [{resize: 16}], ", LAYERS, "init_from: svm.vbm"),
                "cnn.init_from: svm.vbm: not a cnn model");
    check_fails(g_ds4, "synth4", FT("preprocess: [{resize: 12}], ", LAYERS, "init_from: m.vbm"),
                "cnn.init_from: 'm.vbm': the model takes 16x16x1 images (w x h x channels) and this pipeline "
                "gives 12x12x1");
    check_fails(g_ds4, "synth4",
                FT("preprocess: [{resize: 16}], ",
                   "[conv: {filters: 4, size: 3, pad: 1}, relu, maxpool: 2, conv: {filters: 8, size: 3}, batchnorm, "
                   "relu, flatten, fc: 12, relu, dropout: 0.3, fc: classes]",
                   "init_from: m.vbm"),
                "cnn.init_from: 'm.vbm': the model's layers differ from this cnn's at layer 4: this cnn has 'conv 8 "
                "of 3x3', the model 'conv2, conv 4 of 3x3'");
    check_fails(g_ds4, "synth4",
                FT("preprocess: [{resize: 16}], ",
                   "[conv: {filters: 4, size: 3, pad: 1}, relu, maxpool: 2, fc: classes]", "init_from: m.vbm"),
                "differ from this cnn's at layer 4: this cnn has 'fc classes', the model 'conv2, conv 4 of 3x3'");
    check_fails(g_ds4, "synth4", FT("preprocess: [{resize: 16}], ", LAYERS, "init_from: m.vbm, freeze: 5"),
                "cnn.freeze: 5 freezes every layer with weights; the network has 5 (conv, fc, batchnorm) and at "
                "least its output layer trains: at most 4");
#undef FT
    /* positions: the spec file, line and column of the value */
    check_fails(g_ds4, "synth4",
                "{name: t, preprocess: [{resize: 12}], classifier: {cnn: {init_from: m.vbm, layers: " LAYERS "}}}",
                "s.yaml:6:73: cnn.init_from: 'm.vbm': the model takes 16x16x1 images");
    check_fails(g_ds4, "synth4",
                "{name: t, preprocess: [{resize: 16}], classifier: {cnn: {freeze: 9, layers: " LAYERS "}}}",
                "s.yaml:6:70: cnn.freeze: 9 freezes every layer");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_features_are_the_activations),
        cmocka_unit_test(test_named_and_numbered_layers),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_model_needs_no_other_file),
        cmocka_unit_test(test_model_hash_in_the_configuration),
        cmocka_unit_test(test_transfer_copies_all_but_the_output),
        cmocka_unit_test(test_fine_tune_freeze),
        cmocka_unit_test(test_extractor_errors),
        cmocka_unit_test(test_fine_tune_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
