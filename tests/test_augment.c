/* augment: the shared augmentation ops on known images, their draws, and
 * a pipeline's augment block in the engine: only the training rows grow,
 * the same rows at any thread count, keys, the inner k-fold, errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "support/testutil.h"
#include "visbench/augment.h"
#include "visbench/plan.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static vb_dataset *g_ds; /* synthetic: 3 classes x 20 grey images of 24 px */

static int setup(void **state)
{
    vb_synth_opts o = vb_synth_defaults;
    o.classes = 3;
    o.per_class = 20;
    o.size = 24;
    o.seed = 9;
    vb_error err = {0};
    if (vb_synth_write(&o, "synth-aug", &err) != VB_OK || vb_dataset_load_path("synth-aug", &g_ds, &err) != VB_OK)
        fail_msg("%s", err.msg);
    return 0;
}

static int teardown(void **state)
{
    vb_dataset_free(g_ds);
    return 0;
}

/* ---- the ops ------------------------------------------------------------ */

static void test_flip(void **state)
{
    /* 3 wide, 2 high: each row mirrored */
    const float x[6] = {1, 2, 3, 4, 5, 6};
    float out[6];
    vb_aug_draw d = {.flip = 1};
    vb_augment_planes(x, 3, 2, 1, &d, out);
    const float want[6] = {3, 2, 1, 6, 5, 4};
    assert_memory_equal(out, want, sizeof want);
    /* twice: the image again */
    float back[6];
    vb_augment_planes(out, 3, 2, 1, &d, back);
    assert_memory_equal(back, x, sizeof x);
}

static void test_shift(void **state)
{
    /* by one to the right: the first column is uncovered, 0 */
    const float x[6] = {1, 2, 3, 4, 5, 6};
    float out[6];
    vb_aug_draw d = {.dx = 1};
    vb_augment_planes(x, 3, 2, 1, &d, out);
    const float right[6] = {0, 1, 2, 0, 4, 5};
    assert_memory_equal(out, right, sizeof right);
    /* by one up (dy = -1), two channels alike */
    const float y[12] = {1, 2, 3, 4, 5, 6, 10, 20, 30, 40, 50, 60};
    float o2[12];
    d = (vb_aug_draw){.dy = -1};
    vb_augment_planes(y, 3, 2, 2, &d, o2);
    const float up[12] = {4, 5, 6, 0, 0, 0, 40, 50, 60, 0, 0, 0};
    assert_memory_equal(o2, up, sizeof up);
    /* a shift, then the flip of the shifted position: out(x, y) = in(W - 1 - (x - dx), y) */
    d = (vb_aug_draw){.dx = 1, .flip = 1};
    vb_augment_planes(x, 3, 2, 1, &d, out);
    const float both[6] = {0, 3, 2, 0, 6, 5};
    assert_memory_equal(out, both, sizeof both);
}

static void test_rotate(void **state)
{
    /* a quarter turn of an odd square about its centre pixel: out(x, y) =
     * in(y, n - 1 - x), exact up to the sine and cosine of pi / 2 */
    for (int n = 3; n <= 5; n += 2) {
        float x[25], out[25];
        for (int i = 0; i < n * n; i++)
            x[i] = (float)(i * i % 17);
        vb_aug_draw d = {.angle = (float)(M_PI / 2)};
        vb_augment_planes(x, n, n, 1, &d, out);
        for (int y = 0; y < n; y++)
            for (int xx = 0; xx < n; xx++)
                assert_float_equal(out[y * n + xx], x[(n - 1 - xx) * n + y], 1e-4);
        /* the centre stays where it is, and so does its value */
        assert_float_equal(out[(n / 2) * n + n / 2], x[(n / 2) * n + n / 2], 1e-5);
        /* a half turn: out(x, y) = in(n - 1 - x, n - 1 - y) */
        d.angle = (float)M_PI;
        vb_augment_planes(x, n, n, 1, &d, out);
        for (int y = 0; y < n; y++)
            for (int xx = 0; xx < n; xx++)
                assert_float_equal(out[y * n + xx], x[(n - 1 - y) * n + (n - 1 - xx)], 1e-4);
    }
    /* a small turn is a bilinear blend: the centre of a constant image keeps its value */
    float c[49], o[49];
    for (int i = 0; i < 49; i++)
        c[i] = 0.5f;
    vb_aug_draw d = {.angle = 0.1f};
    vb_augment_planes(c, 7, 7, 1, &d, o);
    assert_float_equal(o[3 * 7 + 3], 0.5, 1e-6);
    assert_float_equal(o[2 * 7 + 4], 0.5, 1e-6);
}

static void test_brightness(void **state)
{
    /* the offset is added to every value (the uncovered ones too: they are 0 before it) */
    const float x[6] = {0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f};
    float out[6];
    vb_aug_draw d = {.delta = 0.25f};
    vb_augment_planes(x, 3, 2, 1, &d, out);
    for (int i = 0; i < 6; i++)
        assert_float_equal(out[i], x[i] + 0.25f, 0);
    d = (vb_aug_draw){.dx = 1, .delta = -0.5f};
    vb_augment_planes(x, 3, 2, 1, &d, out);
    assert_float_equal(out[0], -0.5, 0);
    assert_float_equal(out[1], 0.1f - 0.5f, 0);
    /* the image form reshapes its output */
    vb_image in = {.w = 3, .h = 2, .c = 1, .data = (float *)x}, o = {0};
    vb_error err = {0};
    assert_int_equal(vb_augment_image(&in, &(vb_aug_draw){.delta = 1}, &o, &err), VB_OK);
    assert_int_equal(o.w, 3);
    assert_int_equal(o.h, 2);
    assert_int_equal(o.c, 1);
    assert_float_equal(o.data[5], 1.6, 1e-6);
    free(o.data);
}

/* Draws come from the rng in a fixed order, each only when asked for:
 * flip (a u32's low bit), dx, dy (below 2 shift + 1), angle, delta (uniform). */
static void test_draw(void **state)
{
    vb_augment a = {.flip = 1, .shift = 2, .rotate = 10, .brightness = 0.1};
    assert_true(vb_augment_active(&a));
    int flips = 0;
    for (uint64_t seed = 1; seed <= 200; seed++) {
        vb_rng *r = vb_rng_new(seed), *replay = vb_rng_new(seed);
        vb_aug_draw d;
        vb_augment_draw(&a, r, &d);
        assert_int_equal(d.flip, (int)(vb_rng_u32(replay) & 1));
        assert_int_equal(d.dx, (int)vb_rng_below(replay, 5) - 2);
        assert_int_equal(d.dy, (int)vb_rng_below(replay, 5) - 2);
        assert_float_equal(d.angle, (float)((2 * vb_rng_uniform(replay) - 1) * 10 * M_PI / 180), 0);
        assert_float_equal(d.delta, (float)((2 * vb_rng_uniform(replay) - 1) * 0.1), 0);
        assert_true(abs(d.dx) <= 2 && abs(d.dy) <= 2);
        assert_true(fabsf(d.angle) <= (float)(10 * M_PI / 180) && fabsf(d.delta) <= 0.1f);
        flips += d.flip;
        /* both have drawn as much */
        assert_int_equal(vb_rng_u32(r), vb_rng_u32(replay));
        vb_rng_free(r);
        vb_rng_free(replay);
    }
    assert_true(flips > 70 && flips < 130);
    /* nothing asked: an all-zero draw that takes nothing from the rng */
    vb_augment none = {0};
    assert_false(vb_augment_active(&none));
    vb_rng *r = vb_rng_new(3), *replay = vb_rng_new(3);
    vb_aug_draw d = {.flip = 1, .dx = 5};
    vb_augment_draw(&none, r, &d);
    assert_int_equal(d.flip + d.dx + d.dy, 0);
    assert_float_equal(d.angle + d.delta, 0, 0);
    assert_int_equal(vb_rng_u32(r), vb_rng_u32(replay));
    vb_rng_free(r);
    vb_rng_free(replay);
}

/* ---- the engine ---------------------------------------------------------- */

static vb_spec *spec_ok(const char *pipelines, const char *split)
{
    char *text = vb_asprintf("name: a\nseed: 4\ndataset: synth-aug\nsplit: %s\npipelines:\n%s", split, pipelines);
    vb_spec *spec = NULL;
    vb_error err = {0};
    if (vb_spec_parse(text, "a.yaml", &spec, &err) != VB_OK)
        fail_msg("%s", err.msg);
    free(text);
    return spec;
}

static void features(const vb_spec *spec, size_t i, const vb_fold *fold, vb_fold_features *ff)
{
    vb_error err = {0};
    if (vb_fit_features(spec, &spec->pipelines[i], g_ds, fold, 0, 1, ff, &err) != VB_OK)
        fail_msg("%s: %s", spec->pipelines[i].name, err.msg);
}

static const char AUG_PIPES[] =
    "  - {name: plain, features: [{sift: {words: 6, max_descriptors: 1500, step: 4}}], classifier: linear}\n"
    "  - {name: aug, features: [{sift: {words: 6, max_descriptors: 1500, step: 4}}], classifier: linear,\n"
    "     augment: {flip: true, shift: 2, rotate: 10, brightness: 0.1, copies: 2}}\n"
    "  - {name: raw, classifier: linear, augment: {shift: 1, copies: 3}}\n"
    "  - {name: lit, classifier: linear, augment: {rotate: 10, brightness: 0.1, copies: 2}}\n";

/* Only the training part grows, by copies per image; the images' own rows
 * and the validation and test rows are those of the pipeline without it
 * (the codebook is fitted on the images alone, with the same seed). */
static void test_training_rows(void **state)
{
    vb_spec *spec = spec_ok(AUG_PIPES, "{protocol: holdout, test_fraction: 0.25, validation: 0.2}");
    vb_split *split = NULL;
    vb_error err = {0};
    assert_int_equal(vb_split_make(&spec->split, g_ds, &split, &err), VB_OK);
    const vb_fold *fold = &split->folds[0];
    assert_true(fold->n_train > 0 && fold->n_val > 0 && fold->n_test > 0);
    vb_fold_features p, a;
    features(spec, 0, fold, &p);
    features(spec, 1, fold, &a);
    assert_int_equal(p.copies, 0);
    assert_int_equal(a.copies, 2);
    assert_int_equal(p.n[VB_ROWS_TRAIN], fold->n_train);
    assert_int_equal(a.n[VB_ROWS_TRAIN], fold->n_train * 3);
    assert_int_equal(a.n[VB_ROWS_VAL], fold->n_val);
    assert_int_equal(a.n[VB_ROWS_TEST], fold->n_test);
    const size_t d = p.fp->dim, bytes = fold->n_train * d * sizeof(float);
    assert_int_equal(a.fp->dim, d);
    assert_memory_equal(a.X[VB_ROWS_TRAIN], p.X[VB_ROWS_TRAIN], bytes);
    assert_memory_equal(a.X[VB_ROWS_VAL], p.X[VB_ROWS_VAL], fold->n_val * d * sizeof(float));
    assert_memory_equal(a.X[VB_ROWS_TEST], p.X[VB_ROWS_TEST], fold->n_test * d * sizeof(float));
    /* each row's image: the fold's training list, then again per copy */
    size_t *rows = vb_fold_train_rows(fold, &a, &err);
    assert_non_null(rows);
    for (size_t r = 0; r < a.n[VB_ROWS_TRAIN]; r++)
        assert_int_equal(rows[r], fold->train[r % fold->n_train]);
    free(rows);
    /* raw pixels: a copy is the image shifted by at most one pixel, 0 where it was uncovered */
    vb_fold_features r;
    features(spec, 2, fold, &r);
    assert_int_equal(r.n[VB_ROWS_TRAIN], fold->n_train * 4);
    vb_image img = {0};
    assert_int_equal(vb_dataset_image(g_ds, fold->train[0], &img, &err), VB_OK);
    const size_t side = 24;
    for (int c = 1; c <= 3; c++) {
        const float *row = r.X[VB_ROWS_TRAIN] + (size_t)c * fold->n_train * side * side;
        int found = 0;
        for (int dy = -1; dy <= 1 && !found; dy++)
            for (int dx = -1; dx <= 1 && !found; dx++) {
                int ok = 1;
                for (int y = 0; y < 24 && ok; y++)
                    for (int x = 0; x < 24 && ok; x++) {
                        int sx = x - dx, sy = y - dy;
                        float v = sx >= 0 && sx < 24 && sy >= 0 && sy < 24 ? img.data[sy * 24 + sx] : 0;
                        ok = row[y * 24 + x] == v;
                    }
                found = ok;
            }
        if (!found)
            fail_msg("copy %d of the first image is no shift of it by at most one pixel", c);
    }
    free(img.data);
    vb_fold_features_free(&r);
    /* the copies are other rows: each copy differs from its image, and copy 2 from copy 1 */
    features(spec, 3, fold, &r);
    const size_t n = fold->n_train, px = 24 * 24;
    for (size_t i = 0; i < n; i++) {
        const float *x = r.X[VB_ROWS_TRAIN] + i * px, *c1 = x + n * px, *c2 = c1 + n * px;
        assert_true(memcmp(x, c1, px * sizeof(float)) != 0 && memcmp(c1, c2, px * sizeof(float)) != 0);
    }
    vb_fold_features_free(&r);
    vb_fold_features_free(&p);
    vb_fold_features_free(&a);
    vb_split_free(split);
    vb_spec_free(spec);
}

/* The same rows at one thread and at two, and the same numbers run after run. */
static void test_threads(void **state)
{
    vb_spec *spec = spec_ok(AUG_PIPES, "{protocol: kfold, k: 3}");
    vb_split *split = NULL;
    vb_error err = {0};
    assert_int_equal(vb_split_make(&spec->split, g_ds, &split, &err), VB_OK);
    vb_fold_features a1, a2;
    vb_set_threads(1);
    features(spec, 1, &split->folds[1], &a1);
    vb_set_threads(2);
    features(spec, 1, &split->folds[1], &a2);
    assert_int_equal(a1.n[VB_ROWS_TRAIN], a2.n[VB_ROWS_TRAIN]);
    assert_memory_equal(a1.X[VB_ROWS_TRAIN], a2.X[VB_ROWS_TRAIN], a1.n[VB_ROWS_TRAIN] * a1.fp->dim * sizeof(float));
    vb_fold_features_free(&a1);
    vb_fold_features_free(&a2);

    /* a run at one thread and at two: the same predictions and scores */
    vb_feat_cache *c[2] = {vb_feat_cache_new(1, &err), vb_feat_cache_new(1, &err)};
    vb_fitted fit[2];
    const vb_fold_features *ff[2];
    for (int t = 0; t < 2; t++) {
        vb_set_threads(t + 1);
        int shared;
        double ex;
        if (vb_fit_best(spec, &spec->pipelines[2], g_ds, &split->folds[0], 0, c[t], &ff[t], &shared, &ex, &fit[t],
                        &err) != VB_OK)
            fail_msg("%s", err.msg);
    }
    vb_set_threads(2);
    const vb_fold *f0 = &split->folds[0];
    float *X = NULL;
    int pred[2][60];
    float sc[2][180];
    for (int t = 0; t < 2; t++) {
        assert_int_equal(vb_postchain_apply(fit[t].pc, ff[t]->X[VB_ROWS_TEST], f0->n_test, &X, &err), VB_OK);
        assert_int_equal(vb_classifier_predict(fit[t].clf, X, f0->n_test, fit[t].pc->dim, pred[t], sc[t], &err),
                         VB_OK);
        free(X);
        vb_fitted_free(&fit[t]);
        vb_feat_cache_free(c[t]);
    }
    assert_memory_equal(pred[0], pred[1], f0->n_test * sizeof(int));
    assert_memory_equal(sc[0], sc[1], f0->n_test * 3 * sizeof(float));
    vb_split_free(split);
    vb_spec_free(spec);
}

/* The augmentation is part of the rows' key and of the pipeline's
 * configuration, not of the extractors' one; the cache keeps the two apart. */
static void test_keys(void **state)
{
    vb_spec *spec = spec_ok(AUG_PIPES, "{protocol: holdout}");
    vb_buf fp, fa, rp, ra, cp, ca;
    vb_buf *all[] = {&fp, &fa, &rp, &ra, &cp, &ca};
    for (int i = 0; i < 6; i++)
        vb_buf_init(all[i]);
    vb_featpipe_key(&spec->pipelines[0], &fp);
    vb_featpipe_key(&spec->pipelines[1], &fa);
    vb_rows_key(&spec->pipelines[0], &rp);
    vb_rows_key(&spec->pipelines[1], &ra);
    vb_pipeline_config(&spec->pipelines[0], &cp);
    vb_pipeline_config(&spec->pipelines[1], &ca);
    assert_string_equal(fp.data, fa.data);
    assert_string_equal(rp.data, fp.data);
    assert_string_equal(ra.data + strlen(fa.data),
                        " augment: {flip: true, shift: 2, rotate: 10, brightness: 0.1, copies: 2}");
    assert_non_null(strstr(ca.data, " augment: {flip: true"));
    assert_null(strstr(cp.data, "augment"));
    for (int i = 0; i < 6; i++)
        vb_buf_free(all[i]);
    vb_error err = {0};
    vb_split *split = NULL;
    assert_int_equal(vb_split_make(&spec->split, g_ds, &split, &err), VB_OK);
    vb_feat_cache *cache = vb_feat_cache_new(0, &err);
    const vb_fold_features *ff;
    int users;
    for (int i = 0; i < 2; i++)
        assert_int_equal(vb_feat_cache_get(cache, spec, &spec->pipelines[i], g_ds, &split->folds[0], 0, &ff, &users,
                                           &err),
                         VB_OK);
    size_t extractions, uses;
    vb_feat_cache_stats(cache, &extractions, &uses);
    assert_int_equal(extractions, 2);
    assert_int_equal(ff->copies, 2);
    vb_feat_cache_free(cache);
    /* the plan groups jobs by the rows' key: plain and aug share no
     * extraction, so each fold has a group for each pipeline */
    vb_plan *plan = NULL;
    assert_int_equal(vb_plan_make(spec, g_ds, split, NULL, &plan, &err), VB_OK);
    assert_int_equal(plan->n_groups, 4 * split->n_folds);
    vb_plan_free(plan);
    vb_split_free(split);
    vb_spec_free(spec);
}

/* An inner k-fold deals images: a copy trains with its image and is never
 * scored. Rows that are exact copies show it: with them in the scored
 * folds a 1-nearest neighbour would find each held-out image's copy. */
static void test_inner_kfold(void **state)
{
    vb_spec *spec = spec_ok("  - {name: k, classifier: {knn: 1}, tune: {folds: 3}}\n", "{protocol: holdout}");
    const size_t n = 45, d = 4;
    int *blob_y = NULL;
    float *blobs = tu_blobs(3, 15, d, 1.5, 2, &blob_y), X[2 * 45 * 4];
    int y[2 * 45];
    for (int k = 0; k < 2; k++) {
        memcpy(X + k * n * d, blobs, n * d * sizeof(float));
        memcpy(y + k * n, blob_y, n * sizeof(int));
    }
    free(blobs);
    free(blob_y);
    vb_traindata plain = {.X = X, .n = n, .d = d, .y = y, .n_classes = 3, .seed = 5},
                 copied = {.X = X, .n = 2 * n, .d = d, .y = y, .n_classes = 3, .seed = 5, .n_orig = n},
                 leaky = copied;
    leaky.n_orig = 0;
    vb_classifier *c = NULL;
    vb_tuned t[3];
    vb_error err = {0};
    const vb_traindata *tds[3] = {&plain, &copied, &leaky};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(vb_train_classifier(&spec->pipelines[0], tds[i], 1, &c, &t[i], &err), VB_OK);
        vb_classifier_free(c);
        free(t[i].grid);
    }
    /* the same folds of the images, the same neighbours (a copy is as near as its image) */
    assert_float_equal(t[1].score, t[0].score, 0);
    assert_true(t[2].score > t[0].score + 0.2); /* what dealing rows would report (0.82 against 0.51) */
    vb_spec_free(spec);
}

/* ---- spec errors ---------------------------------------------------------- */

static void expect_spec_error(const char *pipelines, const char *msg)
{
    char *text = vb_asprintf("name: a\ndataset: synth-aug\npipelines:\n%s", pipelines);
    vb_spec *spec = NULL;
    vb_error err = {0};
    vb_status st = vb_spec_parse(text, "a.yaml", &spec, &err);
    if (st == VB_OK) {
        /* the data decides the rest */
        st = vb_experiment_check(spec, g_ds, NULL, &err);
        vb_spec_free(spec);
    }
    assert_int_not_equal(st, VB_OK);
    assert_string_equal(err.msg, msg);
    free(text);
}

static void test_errors(void **state)
{
    expect_spec_error("  - {name: p, classifier: linear, augment: {flip: true, copies: 0}}\n",
                      "a.yaml:4:65: augment.copies = 0 is out of range (1..64)");
    expect_spec_error("  - {name: p, classifier: linear, augment: {flip: true, copies: 65}}\n",
                      "a.yaml:4:65: augment.copies = 65 is out of range (1..64)");
    expect_spec_error("  - {name: p, classifier: linear, augment: {copies: 2}}\n",
                      "a.yaml:4:44: pipeline 'p': augment changes nothing, so its copies would repeat the images; "
                      "give flip: true, shift, rotate or brightness");
    expect_spec_error("  - {name: p, classifier: linear, augment: {flip: true, zoom: 2}}\n",
                      "a.yaml:4:57: unknown key 'zoom' in the parameters of 'augment' (valid keys: flip, shift, "
                      "rotate, brightness, copies)");
    expect_spec_error("  - {name: p, classifier: linear, augment: {rotate: 181}}\n",
                      "a.yaml:4:53: augment.rotate = 181 is out of range (0..180)");
    expect_spec_error("  - {name: p, preprocess: [{resize: 24}], classifier: {cnn: {epochs: 1}}, augment: {flip: true}}\n",
                      "a.yaml:4:84: pipeline 'p': cnn augments its own training images, anew every epoch; move the "
                      "ops into its parameters (classifier: {cnn: {augment: {flip: true, ...}}}) and drop the "
                      "pipeline's augment");
    /* the images the extractors see: 8x8 after the resize */
    expect_spec_error("  - {name: p, preprocess: [{resize: 8}], classifier: linear, augment: {shift: 8}}\n",
                      "pipeline 'p': a.yaml:4:79: augment.shift: a shift of up to 8 pixels can move the 8x8 images "
                      "the extractors see (after preprocessing) wholly out of view; give at most 7");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flip),
        cmocka_unit_test(test_shift),
        cmocka_unit_test(test_rotate),
        cmocka_unit_test(test_brightness),
        cmocka_unit_test(test_draw),
        cmocka_unit_test(test_training_rows),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_keys),
        cmocka_unit_test(test_inner_kfold),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
