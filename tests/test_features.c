/* features: extractor and post-processing registries, raw, hog (against
 * VLFeat called directly), standardize (hand-computed statistics, save/load)
 * and l2. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "support/testutil.h"
#include "visbench/features.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <vl/hog.h>

/* ---- helpers ----------------------------------------------------------- */

/* Parameters of a plug-in from YAML text. The document stays alive with the
 * parameters (their positions point at its file name), so messages that
 * quote a parameter's position are safe to build. */
typedef struct tparams {
    vb_doc *doc;
    vb_params p;
} tparams;

static void tp_parse(tparams *tp, const vb_plugin *info, const char *yaml)
{
    vb_error err = {0};
    tp->doc = NULL;
    if (yaml && vb_doc_load_string(yaml, "t.yaml", &tp->doc, &err) != VB_OK)
        fail_msg("%s", err.msg);
    if (vb_params_parse(&tp->p, info, tp->doc ? tp->doc->root : NULL, 0, &err) != VB_OK)
        fail_msg("%s", err.msg);
}

static void tp_free(tparams *tp)
{
    vb_params_free(&tp->p);
    vb_doc_free(tp->doc);
}

static vb_extractor *ext_new(const char *name, const char *yaml, vb_shape in)
{
    const vb_extractor_vt *vt = vb_extractor_find(name);
    assert_non_null(vt);
    tparams tp;
    tp_parse(&tp, &vt->info, yaml);
    vb_extractor *x = NULL;
    vb_error err = {0};
    if (vb_extractor_new(vt, &tp.p, in, &x, &err) != VB_OK)
        fail_msg("%s", err.msg);
    tp_free(&tp);
    return x;
}

/* Runs an extractor instance on one image (with its scratch). */
static void ext_run(const vb_extractor *x, const vb_image *img, float *out)
{
    void *scratch = x->vt->scratch_new ? x->vt->scratch_new(x->state) : NULL;
    if (x->vt->scratch_new)
        assert_non_null(scratch);
    vb_error err = {0};
    if (x->vt->extract(x->state, scratch, img, out, &err) != VB_OK)
        fail_msg("%s", err.msg);
    if (scratch)
        x->vt->scratch_free(scratch);
}

static vb_image *random_image(int w, int h, int c, uint64_t seed)
{
    vb_image *img = vb_image_new(w, h, c, NULL);
    assert_non_null(img);
    vb_rng *rng = vb_rng_new(seed);
    size_t n = (size_t)w * h * c;
    for (size_t i = 0; i < n; i++)
        img->data[i] = (float)vb_rng_uniform(rng);
    /* Some structure too: a bright square, so gradients have a direction. */
    for (int ch = 0; ch < c; ch++)
        for (int y = h / 4; y < h / 2; y++)
            for (int x = w / 4; x < w / 2; x++)
                vb_image_plane(img, ch)[y * w + x] = 1.0f;
    vb_rng_free(rng);
    return img;
}

/* Fits an extractor on n random 32 x 24 grey images. */
typedef struct rand_src {
    size_t n;
} rand_src;

static vb_status rand_get(const vb_imgsrc *src, size_t i, vb_image *dst, vb_error *err)
{
    vb_image *img = random_image(32, 24, 1, 100 + i);
    vb_status st = vb_image_reshape(dst, 32, 24, 1, err);
    if (st == VB_OK)
        memcpy(dst->data, img->data, 32 * 24 * sizeof(float));
    vb_image_free(img);
    return st;
}

static void fit_random(vb_extractor *x, size_t n)
{
    vb_imgsrc src = {.n = n, .get = rand_get, .ctx = NULL};
    vb_error err = {0};
    if (x->vt->fit(x->state, &src, 5, &err) != VB_OK)
        fail_msg("%s: %s", x->vt->info.name, err.msg);
}

static vb_post *post_new(const char *name, const char *yaml, size_t dim)
{
    const vb_post_vt *vt = vb_post_find(name);
    assert_non_null(vt);
    tparams tp;
    tp_parse(&tp, &vt->info, yaml);
    vb_post *p = NULL;
    vb_error err = {0};
    if (vb_post_new(vt, &tp.p, dim, &p, &err) != VB_OK)
        fail_msg("%s", err.msg);
    tp_free(&tp);
    return p;
}

/* ---- registries -------------------------------------------------------- */

static void test_registry_defaults(void **state)
{
    size_t n;
    const vb_extractor_vt *const *all = vb_extractor_registry(&n);
    assert_true(n >= 2);
    const vb_shape shape = {32, 24, 1};
    for (size_t i = 0; i < n; i++) {
        const vb_extractor_vt *vt = all[i];
        assert_ptr_equal(vb_extractor_find(vt->info.name), vt);
        if (strcmp(vt->info.name, "cnn") == 0)
            continue; /* runs a model file it needs: tests/test_cnnfeat.c */
        vb_extractor *x = ext_new(vt->info.name, NULL, shape);
        size_t expect;
        if (strcmp(vt->info.name, "raw") == 0)
            expect = 32 * 24; /* c x h x w */
        else if (strcmp(vt->info.name, "hog") == 0)
            expect = 4 * 3 * 31; /* cell 8: round(32/8) x round(24/8) cells x (3*9+4) */
        else if (strcmp(vt->info.name, "gabor") == 0)
            expect = 2 * 2 * 4 * (5 * 4); /* mean+var x 2 freqs x 4 orientations x ceil(32/7) x ceil(24/7) */
        else if (strcmp(vt->info.name, "haar") == 0)
            expect = 5 * (9 * 7 + 4 * 3); /* 5 types; S = 6 (step 3): 9 x 7 windows, S = 12 (step 6): 4 x 3 */
        else if (strcmp(vt->info.name, "edges") == 0)
            expect = (8 + 1) * (5 * 4); /* 8 sobel bins + canny density, ceil(32/7) x ceil(24/7) cells */
        else if (strcmp(vt->info.name, "sift") == 0)
            expect = 256 * (1 + 4); /* bovw: 256 words x pyramid [1, 2] = 1 + 4 cells */
        else if (strcmp(vt->info.name, "lbp") == 0)
            expect = 58 * 3 * 4; /* 58 uniform patterns x floor(24/8) x floor(32/8) cells */
        else if (strcmp(vt->info.name, "color") == 0)
            expect = 1 * 1 * 8; /* one cell, one (grey) channel, 8 bins */
        else {
            fail_msg("extractor '%s' has no expected dimension in this test", vt->info.name);
            expect = 0;
        }
        assert_int_equal(x->dim, expect);
        assert_int_equal(vt->dim(x->state), expect);
        if (vt->fit) {
            /* An extractor that learns (a codebook) is fitted first, on
             * random images, with a codebook small enough for them. */
            vb_extractor_free(x);
            x = ext_new(vt->info.name, "{words: 8}", shape);
            fit_random(x, 12);
        }
        /* Extracting gives dim finite values. */
        vb_image *img = random_image(32, 24, 1, 7);
        float *out = malloc(x->dim * sizeof *out);
        assert_non_null(out);
        ext_run(x, img, out);
        for (size_t j = 0; j < x->dim; j++)
            assert_true(isfinite(out[j]));
        free(out);
        vb_image_free(img);
        vb_extractor_free(x);
    }
    assert_null(vb_extractor_find("hogg"));

    const vb_post_vt *const *posts = vb_post_registry(&n);
    assert_true(n >= 2);
    for (size_t i = 0; i < n; i++) {
        assert_ptr_equal(vb_post_find(posts[i]->info.name), posts[i]);
        vb_post *p = post_new(posts[i]->info.name, NULL, 5);
        assert_int_equal(p->dim_in, 5);
        /* homkermap: 2 order + 1 values each (order 1); the others keep the
         * dimension until fitted (pca by variance knows its size after fit) */
        assert_int_equal(p->dim, strcmp(posts[i]->info.name, "homkermap") == 0 ? 15 : 5);
        vb_post_free(p);
    }
    assert_non_null(vb_post_find("standardize"));
    assert_non_null(vb_post_find("l2"));
    assert_null(vb_post_find("pca-nope"));
}

static void test_varying_sizes_rejected(void **state)
{
    const vb_extractor_vt *vt = vb_extractor_find("raw");
    tparams tp;
    tp_parse(&tp, &vt->info, NULL);
    vb_extractor *x = (vb_extractor *)1;
    vb_error err = {0};
    vb_status st = vb_extractor_new(vt, &tp.p, (vb_shape){0, 0, 1}, &x, &err);
    assert_int_equal(st, VB_ERR_SPEC);
    assert_null(x);
    assert_string_equal(err.msg, "feature 'raw' needs images of one size, but the sizes vary; add {resize: [w, h]} "
                                 "to preprocess");
    tp_free(&tp);
}

/* ---- raw --------------------------------------------------------------- */

static void test_raw_planes(void **state)
{
    vb_extractor *x = ext_new("raw", NULL, (vb_shape){5, 3, 3});
    assert_int_equal(x->dim, 5 * 3 * 3);
    vb_image *img = vb_image_new(5, 3, 3, NULL);
    assert_non_null(img);
    /* value = c*100 + y*10 + x */
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < 3; y++)
            for (int xx = 0; xx < 5; xx++)
                vb_image_plane(img, c)[y * 5 + xx] = (float)(c * 100 + y * 10 + xx);
    float out[45];
    ext_run(x, img, out);
    size_t k = 0;
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < 3; y++)
            for (int xx = 0; xx < 5; xx++)
                assert_float_equal(out[k++], c * 100 + y * 10 + xx, 0);
    vb_image_free(img);
    vb_extractor_free(x);
}

/* ---- hog --------------------------------------------------------------- */

/* Our hog against vl_hog called directly, bit for bit. */
static void hog_case(int w, int h, int c, int cell, const char *variant, int bilinear, int orientations)
{
    char yaml[160];
    snprintf(yaml, sizeof yaml, "{cell: %d, variant: %s, bilinear: %s, orientations: %d}", cell, variant,
             bilinear ? "true" : "false", orientations);
    vb_extractor *x = ext_new("hog", yaml, (vb_shape){w, h, c});
    vb_image *img = random_image(w, h, c, (uint64_t)(w * 1000 + h * 10 + c));

    VlHog *ref = vl_hog_new(strcmp(variant, "dalaltriggs") == 0 ? VlHogVariantDalalTriggs : VlHogVariantUoctti,
                            (vl_size)orientations, VL_FALSE);
    assert_non_null(ref);
    vl_hog_set_use_bilinear_orientation_assignments(ref, bilinear ? VL_TRUE : VL_FALSE);
    vl_hog_put_image(ref, img->data, (vl_size)w, (vl_size)h, (vl_size)c, (vl_size)cell);
    size_t dim = vl_hog_get_width(ref) * vl_hog_get_height(ref) * vl_hog_get_dimension(ref);
    assert_int_equal(x->dim, dim);
    /* The documented size: round(w/cell) x round(h/cell) cells. */
    size_t per = strcmp(variant, "dalaltriggs") == 0 ? 4u * (size_t)orientations : 3u * (size_t)orientations + 4;
    assert_int_equal(vl_hog_get_dimension(ref), per);
    assert_int_equal(vl_hog_get_width(ref), (size_t)(((double)w / cell) + 0.5));
    assert_int_equal(vl_hog_get_height(ref), (size_t)(((double)h / cell) + 0.5));
    float *want = malloc(dim * sizeof *want), *got = malloc(dim * sizeof *got);
    assert_non_null(want);
    assert_non_null(got);
    vl_hog_extract(ref, want);
    vl_hog_delete(ref);
    ext_run(x, img, got);
    assert_memory_equal(got, want, dim * sizeof *got);
    /* Not a trivial output. */
    double sum = 0;
    for (size_t i = 0; i < dim; i++)
        sum += fabs(got[i]);
    assert_true(sum > 0);
    free(want);
    free(got);
    vb_image_free(img);
    vb_extractor_free(x);
}

static void test_hog_matches_vlfeat(void **state)
{
    static const char *const variants[] = {"uoctti", "dalaltriggs"};
    for (int v = 0; v < 2; v++)
        for (int bil = 0; bil < 2; bil++)
            for (int c = 1; c <= 3; c += 2) {
                hog_case(28, 28, c, 4, variants[v], bil, 9);
                hog_case(37, 23, c, 8, variants[v], bil, 9);
            }
    hog_case(20, 16, 1, 5, "uoctti", 1, 6);
    hog_case(20, 16, 3, 3, "dalaltriggs", 0, 12);

    /* The bilinear flag reaches VLFeat: it changes the histograms. */
    vb_extractor *a = ext_new("hog", "{cell: 4, bilinear: false}", (vb_shape){28, 28, 1});
    vb_extractor *b = ext_new("hog", "{cell: 4, bilinear: true}", (vb_shape){28, 28, 1});
    vb_image *img = random_image(28, 28, 1, 3);
    float *oa = malloc(a->dim * sizeof *oa), *ob = malloc(b->dim * sizeof *ob);
    assert_int_equal(a->dim, b->dim);
    ext_run(a, img, oa);
    ext_run(b, img, ob);
    assert_memory_not_equal(oa, ob, a->dim * sizeof *oa);
    free(oa);
    free(ob);
    vb_image_free(img);
    vb_extractor_free(a);
    vb_extractor_free(b);
}

/* Two scratches of the same state give the same output (thread safety of
 * the const state) and repeated use of one scratch is stable. */
static void test_hog_scratch_reuse(void **state)
{
    vb_extractor *x = ext_new("hog", "{cell: 4}", (vb_shape){28, 28, 1});
    vb_image *a = random_image(28, 28, 1, 1), *b = random_image(28, 28, 1, 2);
    float *o1 = malloc(x->dim * sizeof *o1), *o2 = malloc(x->dim * sizeof *o2), *o3 = malloc(x->dim * sizeof *o3);
    void *s = x->vt->scratch_new(x->state);
    vb_error err = {0};
    assert_int_equal(x->vt->extract(x->state, s, a, o1, &err), VB_OK);
    assert_int_equal(x->vt->extract(x->state, s, b, o2, &err), VB_OK);
    assert_int_equal(x->vt->extract(x->state, s, a, o3, &err), VB_OK);
    assert_memory_equal(o1, o3, x->dim * sizeof *o1);
    assert_memory_not_equal(o1, o2, x->dim * sizeof *o1);
    x->vt->scratch_free(s);
    free(o1);
    free(o2);
    free(o3);
    vb_image_free(a);
    vb_image_free(b);
    vb_extractor_free(x);
}

static void test_hog_cell_too_large(void **state)
{
    const vb_extractor_vt *vt = vb_extractor_find("hog");
    tparams tp;
    tp_parse(&tp, &vt->info, "{cell: 64}");
    vb_extractor *x = NULL;
    vb_error err = {0};
    vb_status st = vb_extractor_new(vt, &tp.p, (vb_shape){28, 28, 1}, &x, &err);
    assert_int_equal(st, VB_ERR_PARAM);
    assert_null(x);
    assert_string_equal(err.msg, "t.yaml:1:8: hog.cell: cell 64 is too large for 28x28 images");
    tp_free(&tp);

    /* A default (not written) cell: no position. 8 px cells on 3x3 images. */
    tp_parse(&tp, &vt->info, NULL);
    st = vb_extractor_new(vt, &tp.p, (vb_shape){3, 3, 1}, &x, &err);
    assert_int_equal(st, VB_ERR_PARAM);
    assert_string_equal(err.msg, "hog.cell: cell 8 is too large for 3x3 images");
    tp_free(&tp);

    /* Half a cell rounds up to one: 4 px of an 8 px cell is enough. */
    x = ext_new("hog", "{cell: 8}", (vb_shape){4, 4, 1});
    assert_int_equal(x->dim, 31);
    vb_extractor_free(x);
}

/* ---- standardize ------------------------------------------------------- */

/* X (3 x 3):  1 5 2 / 3 5 4 / 5 5 9
 * column 0: mean 3, population sd sqrt(8/3)
 * column 1: constant 5 -> inv_std 1 (no division by zero)
 * column 2: mean 5, sd sqrt(26/3) */
static const float HX[9] = {1, 5, 2, 3, 5, 4, 5, 5, 9};

/* Reads the saved state: f32s mean, f32s inv_std. */
static void std_state_of(const vb_post *p, float mean[3], float inv[3])
{
    vb_writer w;
    vb_writer_init(&w);
    vb_error err = {0};
    assert_int_equal(p->vt->save(p->state, &w, &err), VB_OK);
    assert_int_equal(vb_writer_status(&w, &err), VB_OK);
    vb_reader r;
    vb_reader_init(&r, w.buf.data, w.buf.len, "state");
    assert_int_equal(vb_read_f32s_into(&r, mean, 3, &err), VB_OK);
    assert_int_equal(vb_read_f32s_into(&r, inv, 3, &err), VB_OK);
    assert_int_equal(vb_reader_end(&r, &err), VB_OK);
    vb_writer_free(&w);
}

static void test_standardize_hand(void **state)
{
    vb_post *p = post_new("standardize", NULL, 3);
    vb_error err = {0};
    assert_int_equal(p->vt->fit(p->state, HX, 3, &err), VB_OK);
    float mean[3], inv[3];
    std_state_of(p, mean, inv);
    assert_float_equal(mean[0], 3.0, 1e-6);
    assert_float_equal(mean[1], 5.0, 1e-6);
    assert_float_equal(mean[2], 5.0, 1e-6);
    assert_float_equal(inv[0], 1.0 / sqrt(8.0 / 3.0), 1e-6);
    assert_float_equal(inv[1], 1.0, 0);
    assert_float_equal(inv[2], 1.0 / sqrt(26.0 / 3.0), 1e-6);

    float out[9];
    assert_int_equal(p->vt->transform(p->state, HX, 3, out, &err), VB_OK);
    for (int i = 0; i < 3; i++) {
        assert_float_equal(out[i * 3 + 0], (HX[i * 3] - 3.0) / sqrt(8.0 / 3.0), 1e-5);
        assert_float_equal(out[i * 3 + 1], 0.0, 0);
        assert_float_equal(out[i * 3 + 2], (HX[i * 3 + 2] - 5.0) / sqrt(26.0 / 3.0), 1e-5);
        for (int j = 0; j < 3; j++)
            assert_false(isnan(out[i * 3 + j]));
    }
    /* Transformed training columns have mean 0 and (population) sd 1. */
    for (int j = 0; j < 3; j += 2) {
        double m = 0, s = 0;
        for (int i = 0; i < 3; i++)
            m += out[i * 3 + j];
        for (int i = 0; i < 3; i++)
            s += out[i * 3 + j] * out[i * 3 + j];
        assert_float_equal(m / 3, 0.0, 1e-6);
        assert_float_equal(s / 3, 1.0, 1e-5);
    }
    /* A new row uses the training statistics. */
    const float row[3] = {7, -1, 5};
    assert_int_equal(p->vt->transform(p->state, row, 1, out, &err), VB_OK);
    assert_float_equal(out[0], 4.0 / sqrt(8.0 / 3.0), 1e-5);
    assert_float_equal(out[1], -6.0, 1e-6);
    assert_float_equal(out[2], 0.0, 1e-6);
    vb_post_free(p);
}

static void test_standardize_flags(void **state)
{
    vb_error err = {0};
    float mean[3], inv[3], out[9];

    vb_post *p = post_new("standardize", "{with_mean: false}", 3);
    assert_int_equal(p->vt->fit(p->state, HX, 3, &err), VB_OK);
    std_state_of(p, mean, inv);
    for (int j = 0; j < 3; j++)
        assert_float_equal(mean[j], 0.0, 0);
    assert_float_equal(inv[0], 1.0 / sqrt(8.0 / 3.0), 1e-6); /* sd still about the mean */
    assert_int_equal(p->vt->transform(p->state, HX, 3, out, &err), VB_OK);
    assert_float_equal(out[0], 1.0 / sqrt(8.0 / 3.0), 1e-5);
    assert_float_equal(out[1], 5.0, 0);
    assert_float_equal(out[8], 9.0 / sqrt(26.0 / 3.0), 1e-5);
    vb_post_free(p);

    p = post_new("standardize", "{with_std: false}", 3);
    assert_int_equal(p->vt->fit(p->state, HX, 3, &err), VB_OK);
    std_state_of(p, mean, inv);
    for (int j = 0; j < 3; j++)
        assert_float_equal(inv[j], 1.0, 0);
    assert_int_equal(p->vt->transform(p->state, HX, 3, out, &err), VB_OK);
    const float want[9] = {-2, 0, -3, 0, 0, -1, 2, 0, 4};
    for (int i = 0; i < 9; i++)
        assert_float_equal(out[i], want[i], 1e-6);
    vb_post_free(p);

    p = post_new("standardize", "{with_mean: false, with_std: false}", 3);
    assert_int_equal(p->vt->fit(p->state, HX, 3, &err), VB_OK);
    assert_int_equal(p->vt->transform(p->state, HX, 3, out, &err), VB_OK);
    assert_memory_equal(out, HX, sizeof HX);
    vb_post_free(p);

    /* Unfitted: identity. */
    p = post_new("standardize", NULL, 3);
    assert_int_equal(p->vt->transform(p->state, HX, 3, out, &err), VB_OK);
    assert_memory_equal(out, HX, sizeof HX);
    vb_post_free(p);
}

static void test_standardize_round_trip(void **state)
{
    vb_error err = {0};
    vb_post *p = post_new("standardize", NULL, 3);
    assert_int_equal(p->vt->fit(p->state, HX, 3, &err), VB_OK);
    vb_writer w;
    vb_writer_init(&w);
    assert_int_equal(p->vt->save(p->state, &w, &err), VB_OK);
    assert_int_equal(vb_writer_status(&w, &err), VB_OK);

    vb_post *q = post_new("standardize", NULL, 3);
    vb_reader r;
    vb_reader_init(&r, w.buf.data, w.buf.len, "std.state");
    assert_int_equal(q->vt->load(q->state, &r, &err), VB_OK);
    assert_int_equal(vb_reader_end(&r, &err), VB_OK);
    const float rows[6] = {0.5f, 100, -3, 11, 5, 5};
    float a[6], b[6];
    assert_int_equal(p->vt->transform(p->state, rows, 2, a, &err), VB_OK);
    assert_int_equal(q->vt->transform(q->state, rows, 2, b, &err), VB_OK);
    assert_memory_equal(a, b, sizeof a);
    vb_post_free(q);

    /* Every truncation fails with VB_ERR_FORMAT. */
    for (size_t len = 0; len < w.buf.len; len++) {
        q = post_new("standardize", NULL, 3);
        char *copy = malloc(len ? len : 1);
        memcpy(copy, w.buf.data, len);
        vb_reader_init(&r, copy, len, "std.state");
        vb_error e = {0};
        assert_int_equal(q->vt->load(q->state, &r, &e), VB_ERR_FORMAT);
        assert_non_null(strstr(e.msg, "std.state"));
        free(copy);
        vb_post_free(q);
    }
    /* A state of another dimension is refused. */
    q = post_new("standardize", NULL, 4);
    vb_reader_init(&r, w.buf.data, w.buf.len, "std.state");
    assert_int_equal(q->vt->load(q->state, &r, &err), VB_ERR_FORMAT);
    assert_string_equal(err.msg, "std.state: array of 3 elements where 4 were expected");
    vb_post_free(q);
    vb_writer_free(&w);
    vb_post_free(p);
}

/* ---- l2 ---------------------------------------------------------------- */

static void test_l2(void **state)
{
    vb_post *p = post_new("l2", NULL, 3);
    assert_null(p->vt->fit);
    const float X[12] = {3, 4, 0, 0, 0, 0, 1, -2, 2, 1e-3f, 0, 0};
    float out[12];
    vb_error err = {0};
    assert_int_equal(p->vt->transform(p->state, X, 4, out, &err), VB_OK);
    assert_float_equal(out[0], 0.6, 1e-6);
    assert_float_equal(out[1], 0.8, 1e-6);
    assert_float_equal(out[2], 0.0, 0);
    for (int j = 3; j < 6; j++)
        assert_float_equal(out[j], 0.0, 0); /* zero row stays zero, no NaN */
    assert_float_equal(out[6], 1.0 / 3, 1e-6);
    assert_float_equal(out[7], -2.0 / 3, 1e-6);
    assert_float_equal(out[8], 2.0 / 3, 1e-6);
    assert_float_equal(out[9], 1.0, 1e-6);
    for (int i = 0; i < 4; i++) {
        double ss = 0;
        for (int j = 0; j < 3; j++)
            ss += (double)out[i * 3 + j] * out[i * 3 + j];
        assert_float_equal(ss, i == 1 ? 0.0 : 1.0, 1e-6);
    }
    vb_post_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registry_defaults),
        cmocka_unit_test(test_varying_sizes_rejected),
        cmocka_unit_test(test_raw_planes),
        cmocka_unit_test(test_hog_matches_vlfeat),
        cmocka_unit_test(test_hog_scratch_reuse),
        cmocka_unit_test(test_hog_cell_too_large),
        cmocka_unit_test(test_standardize_hand),
        cmocka_unit_test(test_standardize_flags),
        cmocka_unit_test(test_standardize_round_trip),
        cmocka_unit_test(test_l2),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
