/* edges: Canny on a filled square gives its one-pixel outline; Sobel
 * histograms of ramps by hand; flat images; sizes, colour and errors. */
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

static vb_status ext_make(const char *yaml, vb_shape in, vb_extractor **x, vb_error *err)
{
    const vb_extractor_vt *vt = vb_extractor_find("edges");
    assert_non_null(vt);
    vb_doc *doc = NULL;
    vb_params p;
    if (vb_doc_load_string(yaml, "t.yaml", &doc, err) != VB_OK)
        fail_msg("%s", err->msg);
    vb_status st = vb_params_parse(&p, &vt->info, doc ? doc->root : NULL, 0, err);
    if (st == VB_OK) {
        st = vb_extractor_new(vt, &p, in, x, err);
        vb_params_free(&p);
    }
    vb_doc_free(doc);
    return st;
}

static vb_extractor *ext_new(const char *yaml, vb_shape in)
{
    vb_extractor *x = NULL;
    vb_error err = {0};
    if (ext_make(yaml, in, &x, &err) != VB_OK)
        fail_msg("%s", err.msg);
    return x;
}

static float *ext_run(const vb_extractor *x, const vb_image *img)
{
    float *out = malloc(x->dim * sizeof *out);
    assert_non_null(out);
    void *scratch = x->vt->scratch_new(x->state);
    assert_non_null(scratch);
    vb_error err = {0};
    if (x->vt->extract(x->state, scratch, img, out, &err) != VB_OK)
        fail_msg("%s", err.msg);
    x->vt->scratch_free(scratch);
    return out;
}

/* With 1-pixel cells the canny part is the edge map itself. */
static void square_case(int side, int x0, int x1, float lo, float hi, int c, const char *yaml)
{
    vb_extractor *x = ext_new(yaml, (vb_shape){side, side, c});
    assert_int_equal(x->dim, (size_t)side * side);
    vb_image *img = vb_image_new(side, side, c, NULL);
    for (int ch = 0; ch < c; ch++)
        for (int y = x0; y <= x1; y++)
            for (int xx = x0; xx <= x1; xx++)
                vb_image_plane(img, ch)[y * side + xx] = hi;
    for (int ch = 0; ch < c; ch++)
        for (int i = 0; i < side * side; i++)
            if (vb_image_plane(img, ch)[i] == 0)
                vb_image_plane(img, ch)[i] = lo;
    float *e = ext_run(x, img);
    int count = 0;
    for (int y = 0; y < side; y++)
        for (int xx = 0; xx < side; xx++) {
            int inside = xx >= x0 && xx <= x1 && y >= x0 && y <= x1;
            int ring = inside && (xx == x0 || xx == x1 || y == x0 || y == x1);
            float v = e[y * side + xx];
            assert_true(v == 0.0f || v == 1.0f);
            if (v == 1.0f) {
                count++;
                if (!ring)
                    fail_msg("%s: edge at (%d, %d), off the square's border", yaml, xx, y);
            } else if (ring)
                fail_msg("%s: no edge at (%d, %d) on the square's border", yaml, xx, y);
        }
    /* the whole border, one pixel thick */
    assert_int_equal(count, 4 * (x1 - x0 + 1) - 4);
    free(e);
    vb_image_free(img);
    vb_extractor_free(x);
}

static void test_canny_square(void **state)
{
    square_case(32, 8, 23, 0.0f, 1.0f, 1, "{mode: canny, cell: 1}");
    /* grey on grey, wider smoothing; colour; absolute thresholds */
    square_case(40, 5, 30, 0.2f, 0.9f, 1, "{mode: canny, cell: 1, sigma: 1.5}");
    square_case(24, 6, 15, 0.0f, 1.0f, 3, "{mode: canny, cell: 1, sigma: 0.7, low: 0.3, high: 0.6}");
    square_case(32, 8, 23, 0.0f, 1.0f, 1, "{mode: canny, cell: 1, thresholds: absolute, low: 0.5, high: 1.0}");
}

/* Absolute thresholds above the strongest gradient find nothing; a flat
 * image has no edges and no gradient. */
static void test_no_edges(void **state)
{
    vb_extractor *x = ext_new("{mode: canny, cell: 4, thresholds: absolute, low: 9, high: 10}", (vb_shape){16, 16, 1});
    vb_image *img = vb_image_new(16, 16, 1, NULL);
    for (int i = 0; i < 256; i++)
        img->data[i] = (i % 16) >= 8 ? 1.0f : 0.0f; /* a vertical step: Sobel 4 at most */
    float *o = ext_run(x, img);
    for (size_t i = 0; i < x->dim; i++)
        assert_float_equal(o[i], 0.0f, 0);
    free(o);
    vb_extractor_free(x);
    /* Relative thresholds: the same step is found, two cells wide columns 2 of 4 */
    x = ext_new("{mode: canny, cell: 4}", (vb_shape){16, 16, 1});
    o = ext_run(x, img);
    /* Edge at column 8 (bright side), rows 1..14 (borders are never edges): cells in cell column 2 */
    for (int cy = 0; cy < 4; cy++)
        for (int cx = 0; cx < 4; cx++) {
            float want = cx == 2 ? (cy == 0 || cy == 3 ? 3.0f / 16 : 4.0f / 16) : 0.0f;
            assert_float_equal(o[cy * 4 + cx], want, 1e-7);
        }
    free(o);
    vb_extractor_free(x);
    x = ext_new("{}", (vb_shape){16, 16, 1});
    for (int i = 0; i < 256; i++)
        img->data[i] = 0.4f;
    o = ext_run(x, img);
    assert_int_equal(x->dim, 9 * 8 + 9); /* ceil(16/7)^2 cells x (8 bins + 1 density) */
    for (size_t i = 0; i < x->dim; i++)
        assert_float_equal(o[i], 0.0f, 0);
    free(o);
    vb_extractor_free(x);
    vb_image_free(img);
}

/* Ramps: I = 0.1 x (or 0.7 - 0.1 x) on 8x8, cells of 4, 4 bins, area norm.
 * Sobel gx = 4 * 2 * 0.1 = 0.8 inside, 0.4 on the replicated border
 * columns, gy = 0: a cell row sums 0.4 + 3 * 0.8 = 2.8, 4 rows: 11.2,
 * per pixel 0.7. Orientation 0 lies between the centres 157.5 and 22.5
 * (unsigned) or 315 and 45 (signed): half to bins 3 and 0. The falling ramp
 * points at 180: unsigned, the same; signed, half to 135 and 225 (bins 1, 2). */
static void test_sobel_ramps(void **state)
{
    static const char *const yaml[2] = {"{mode: sobel, cell: 4, bins: 4, norm: area}",
                                        "{mode: sobel, cell: 4, bins: 4, norm: area, signed: true}"};
    for (int sg = 0; sg < 2; sg++)
        for (int fall = 0; fall < 2; fall++) {
            vb_extractor *x = ext_new(yaml[sg], (vb_shape){8, 8, 1});
            assert_int_equal(x->dim, 4 * 4);
            vb_image *img = vb_image_new(8, 8, 1, NULL);
            for (int y = 0; y < 8; y++)
                for (int xx = 0; xx < 8; xx++)
                    img->data[y * 8 + xx] = fall ? 0.7f - 0.1f * xx : 0.1f * xx;
            float *o = ext_run(x, img);
            int hot0 = sg && fall ? 1 : 0, hot1 = sg && fall ? 2 : 3;
            for (int b = 0; b < 4; b++)
                for (int c = 0; c < 4; c++)
                    assert_float_equal(o[b * 4 + c], b == hot0 || b == hot1 ? 0.35f : 0.0f, 1e-6);
            free(o);
            vb_image_free(img);
            vb_extractor_free(x);
        }
    /* l2 and l1 norms of the same histogram: (0.5, 0, 0, 0.5) * 11.2 -> 1/sqrt(2) each; l1 -> 1/2 each */
    vb_extractor *x = ext_new("{mode: sobel, cell: 4, bins: 4}", (vb_shape){8, 8, 1});
    vb_extractor *y1 = ext_new("{mode: sobel, cell: 4, bins: 4, norm: l1}", (vb_shape){8, 8, 1});
    vb_image *img = vb_image_new(8, 8, 1, NULL);
    for (int i = 0; i < 64; i++)
        img->data[i] = 0.1f * (i % 8);
    float *o = ext_run(x, img), *o1 = ext_run(y1, img);
    assert_float_equal(o[0], 5.6 / sqrt(2 * 5.6 * 5.6 + 1e-4), 1e-6);
    assert_float_equal(o1[0], 5.6 / (11.2 + 1e-2), 1e-6);
    free(o);
    free(o1);
    vb_image_free(img);
    vb_extractor_free(x);
    vb_extractor_free(y1);
}

/* both = sobel then canny; colour with equal channels = grey. */
static void test_both_and_colour(void **state)
{
    vb_extractor *s = ext_new("{mode: sobel, cell: 5}", (vb_shape){23, 17, 1});
    vb_extractor *c = ext_new("{mode: canny, cell: 5}", (vb_shape){23, 17, 1});
    vb_extractor *b = ext_new("{mode: both, cell: 5}", (vb_shape){23, 17, 1});
    vb_extractor *b3 = ext_new("{mode: both, cell: 5}", (vb_shape){23, 17, 3});
    assert_int_equal(s->dim, 5 * 4 * 8);
    assert_int_equal(c->dim, 5 * 4);
    assert_int_equal(b->dim, s->dim + c->dim);
    vb_image *img = vb_image_new(23, 17, 1, NULL), *img3 = vb_image_new(23, 17, 3, NULL);
    vb_rng *rng = vb_rng_new(5);
    for (int i = 0; i < 23 * 17; i++) {
        img->data[i] = (float)vb_rng_below(rng, 256) / 255.0f;
        for (int ch = 0; ch < 3; ch++)
            vb_image_plane(img3, ch)[i] = img->data[i];
    }
    vb_rng_free(rng);
    float *os = ext_run(s, img), *oc = ext_run(c, img), *ob = ext_run(b, img), *ob3 = ext_run(b3, img3);
    assert_memory_equal(ob, os, s->dim * sizeof *os);
    assert_memory_equal(ob + s->dim, oc, c->dim * sizeof *oc);
    for (size_t i = 0; i < b->dim; i++)
        assert_float_equal(ob3[i], ob[i], 1e-4);
    free(os);
    free(oc);
    free(ob);
    free(ob3);
    vb_image_free(img);
    vb_image_free(img3);
    vb_extractor_free(s);
    vb_extractor_free(c);
    vb_extractor_free(b);
    vb_extractor_free(b3);
}

static void test_errors(void **state)
{
    vb_extractor *x = NULL;
    vb_error err = {0};
    tu_assert_fails_with(ext_make("{low: 0.5, high: 0.2}", (vb_shape){28, 28, 1}, &x, &err), err,
                         "t.yaml:1:7: edges.low: low threshold 0.5 is above the high threshold 0.2");
    tu_assert_fails_with(ext_make("{low: 1, high: 3}", (vb_shape){28, 28, 1}, &x, &err), err,
                         "or set thresholds: absolute");
    assert_null(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_canny_square),
        cmocka_unit_test(test_no_edges),
        cmocka_unit_test(test_sobel_ramps),
        cmocka_unit_test(test_both_and_colour),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
