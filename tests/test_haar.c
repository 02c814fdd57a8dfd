/* haar: hand-computed rectangle sums on a 4x4 image for every type, the
 * grid and output-size formula, normalisations, colour and a flat image. */
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
    const vb_extractor_vt *vt = vb_extractor_find("haar");
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

/*   1 2 0 3
 *   4 1 1 0
 *   0 2 5 1
 *   3 0 1 2   (sum 26, sum of squares 76) */
static const float IMG4[16] = {1, 2, 0, 3, 4, 1, 1, 0, 0, 2, 5, 1, 3, 0, 1, 2};

static vb_image *img4(int c)
{
    vb_image *img = vb_image_new(4, 4, c, NULL);
    for (int ch = 0; ch < c; ch++)
        memcpy(vb_image_plane(img, ch), IMG4, sizeof IMG4);
    return img;
}

static void expect(const char *yaml, int c, const float *want, size_t n)
{
    vb_extractor *x = ext_new(yaml, (vb_shape){4, 4, c});
    assert_int_equal(x->dim, n);
    vb_image *img = img4(c);
    float *got = ext_run(x, img);
    for (size_t i = 0; i < n; i++)
        if (fabsf(got[i] - want[i]) > 1e-6f * (c == 1 ? 1 : 10))
            fail_msg("%s: value %zu is %.7g, expected %.7g", yaml, i, got[i], want[i]);
    free(got);
    vb_image_free(img);
    vb_extractor_free(x);
}

static void test_hand_computed(void **state)
{
    /* h3, 3x3 windows at steps of round(0.34 * 3) = 1: 2 x 2 positions.
     *   (0,0): columns 5, 5, 6 -> 2*5-5-6 = -1   (1,0): 5, 6, 4 -> 3
     *   (0,1): 7, 3, 7 -> -8                      (1,1): 3, 7, 3 -> 8
     * v3: rows (0,0): 3, 6, 7 -> 2   (1,0): 5, 2, 8 -> -9   (0,1): 6, 7, 4 -> 4   (1,1): 2, 8, 3 -> 11
     * divided by the window area 9. */
    const float h3v3[8] = {-1 / 9.f, 3 / 9.f, -8 / 9.f, 8 / 9.f, 2 / 9.f, -1.f, 4 / 9.f, 11 / 9.f};
    expect("{types: [h3, v3], scales: [3], stride: 0.34}", 1, h3v3, 8);
    /* Without the area: the raw sums. */
    const float raw[8] = {-1, 3, -8, 8, 2, -9, 4, 11};
    expect("{types: [h3, v3], scales: [3], stride: 0.34, area: false}", 1, raw, 8);
    /* v2, 2x2 windows at step 2: top/bottom row pairs 3/5, 3/1, 2/3, 6/3, over area 4. */
    const float v2[4] = {0.5f, -0.5f, 0.25f, -0.75f};
    expect("{types: [v2], scales: [2], stride: 1}", 1, v2, 4);
    /* h2 and d4 over the whole image (scale 1 = the shorter side):
     * h2: right 13 - left 13 = 0; d4: (8 + 9) - (4 + 5) = 8, over 16. */
    const float h2d4[2] = {0.0f, 0.5f};
    expect("{types: [h2, d4], scales: [1.0]}", 1, h2d4, 2);
    /* Image standard deviation: sqrt(76/16 - (26/16)^2) = sqrt(2.109375). */
    const float d4std[1] = {(float)(0.5 / sqrt(2.109375))};
    expect("{types: [d4], scales: [4], std: true}", 1, d4std, 1);
    /* Colour: three equal channels give the grey values (luma weights sum to 1). */
    expect("{types: [h3, v3], scales: [3], stride: 0.34}", 3, h3v3, 8);
}

/* The output size formula, per type and scale, on 28x28 with the defaults:
 * scales 0.25 and 0.5 of 28 -> S = 7 and 14, steps round(3.5) = 4 and 7. */
static void test_size_formula(void **state)
{
    vb_extractor *x = ext_new("{}", (vb_shape){28, 28, 1});
    size_t want = 0;
    const int S[2] = {7, 14}, step[2] = {4, 7};
    for (int t = 0; t < 5; t++)
        for (int j = 0; j < 2; j++) {
            int W = S[j], H = S[j];
            if (t == 0 || t == 4)
                W = W / 2 * 2;
            if (t == 1 || t == 4)
                H = H / 2 * 2;
            if (t == 2)
                W = W / 3 * 3;
            if (t == 3)
                H = H / 3 * 3;
            want += (size_t)((28 - W) / step[j] + 1) * (size_t)((28 - H) / step[j] + 1);
        }
    assert_int_equal(x->dim, want);
    /* by hand: every type has 6 x 6 windows at S = 7 and 3 x 3 at S = 14 */
    assert_int_equal(want, 5 * 36 + 5 * 9);
    /* A flat image gives zeros everywhere, with or without std. */
    vb_image *img = vb_image_new(28, 28, 1, NULL);
    for (int i = 0; i < 28 * 28; i++)
        img->data[i] = 0.3f;
    float *out = ext_run(x, img);
    for (size_t i = 0; i < x->dim; i++)
        assert_float_equal(out[i], 0.0f, 1e-7);
    free(out);
    vb_image_free(img);
    vb_extractor_free(x);
    x = ext_new("{std: true}", (vb_shape){28, 28, 1});
    img = vb_image_new(28, 28, 1, NULL);
    out = ext_run(x, img);
    for (size_t i = 0; i < x->dim; i++)
        assert_float_equal(out[i], 0.0f, 0);
    free(out);
    vb_image_free(img);
    vb_extractor_free(x);
    /* Non-square images: the shorter side sets fractional scales; a type too big is left out. */
    x = ext_new("{types: [h3], scales: [1.0, 20]}", (vb_shape){30, 12, 1});
    /* S = 12: W = 12, H = 12, step 6: 4 x 1; S = 20 > 12 rows: left out */
    assert_int_equal(x->dim, 4);
    vb_extractor_free(x);
}

static void test_errors(void **state)
{
    vb_extractor *x = NULL;
    vb_error err = {0};
    tu_assert_fails_with(ext_make("{types: [h2, x5]}", (vb_shape){28, 28, 1}, &x, &err), err,
                         "t.yaml:1:9: haar.types: unknown type 'x5'; the types are h2, v2, h3, v3, d4");
    tu_assert_fails_with(ext_make("{scales: [40]}", (vb_shape){28, 28, 1}, &x, &err), err,
                         "t.yaml:1:10: haar.scales: no window of these types and scales fits in 28x28 images");
    tu_assert_fails_with(ext_make("{scales: [2, 3, 4, 5, 6], stride: 0.01}", (vb_shape){2048, 2048, 1}, &x, &err),
                         err, "use a larger stride");
    assert_null(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hand_computed),
        cmocka_unit_test(test_size_formula),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
