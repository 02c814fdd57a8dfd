/* hog (our vectorised implementation) against VLFeat's vl_hog called
 * directly, on many image sizes, cells, orientation counts, grey and colour,
 * random and 8-bit quantised images with exact orientation ties; and the
 * options VLFeat lacks (signed Dalal-Triggs bins, block norms) against
 * their defining properties and a direct scalar reference.
 *
 * Tolerance: |ours - vl_hog| <= 1e-5 * |vl_hog| + 1e-7 for every value
 * (the implementation aims at, and on the Debian build of libvl reaches,
 * bit-for-bit equality; the test reports how many values differ at all). */
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

#define REL_TOL 1e-5
#define ABS_TOL 1e-7

static size_t g_values, g_inexact;

/* Parameters from YAML text. The document stays alive with the parameters
 * (their positions point at its file name) until the extractor is built, so
 * error messages that quote a position are safe to build. */
static vb_status ext_make(const char *yaml, vb_shape in, vb_extractor **x, vb_error *err)
{
    const vb_extractor_vt *vt = vb_extractor_find("hog");
    assert_non_null(vt);
    vb_doc *doc = NULL;
    vb_params p;
    if (vb_doc_load_string(yaml, "t.yaml", &doc, err) != VB_OK || vb_params_parse(&p, &vt->info, doc->root, 0, err) != VB_OK)
        fail_msg("%s", err->msg);
    vb_status st = vb_extractor_new(vt, &p, in, x, err);
    vb_params_free(&p);
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

static vb_status ext_try(const char *yaml, vb_shape in, vb_error *err)
{
    vb_extractor *x = NULL;
    vb_status st = ext_make(yaml, in, &x, err);
    vb_extractor_free(x);
    return st;
}

static void ext_run(const vb_extractor *x, const vb_image *img, float *out)
{
    void *scratch = x->vt->scratch_new(x->state);
    assert_non_null(scratch);
    vb_error err = {0};
    if (x->vt->extract(x->state, scratch, img, out, &err) != VB_OK)
        fail_msg("%s", err.msg);
    x->vt->scratch_free(scratch);
}

/* kind 0: uniform noise; 1: 8-bit quantised noise in flat patches (many
 * exactly horizontal, vertical and diagonal gradients, i.e. orientation
 * ties); 2: axis-aligned rectangles (only exact ties). */
static vb_image *make_image(int w, int h, int c, int kind, uint64_t seed)
{
    vb_image *img = vb_image_new(w, h, c, NULL);
    assert_non_null(img);
    vb_rng *rng = vb_rng_new(seed);
    for (int ch = 0; ch < c; ch++) {
        float *p = vb_image_plane(img, ch);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                float v;
                if (kind == 0)
                    v = (float)vb_rng_uniform(rng);
                else if (kind == 1)
                    v = (float)vb_rng_below(rng, 4) * 85.0f / 255.0f;
                else
                    v = ((x / 3 + y / 5 + ch) % 3) * (100.0f / 255.0f);
                p[y * w + x] = v;
            }
        if (kind == 1) /* flat 2x2 patches: copy each even pixel to its neighbours */
            for (int y = 0; y + 1 < h; y += 2)
                for (int x = 0; x + 1 < w; x += 2) {
                    float v = p[y * w + x];
                    p[y * w + x + 1] = p[(y + 1) * w + x] = p[(y + 1) * w + x + 1] = v;
                }
    }
    vb_rng_free(rng);
    return img;
}

static void compare(const float *got, const float *want, size_t n, const char *what)
{
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - want[i]);
        g_values++;
        if (got[i] != want[i])
            g_inexact++;
        if (!(d <= REL_TOL * fabs((double)want[i]) + ABS_TOL))
            fail_msg("%s: value %zu is %.9g, vl_hog gives %.9g", what, i, got[i], want[i]);
    }
}

static void hog_case(int w, int h, int c, int cell, int dt, int bilinear, int orientations, int kind)
{
    char yaml[200];
    snprintf(yaml, sizeof yaml, "{cell: %d, variant: %s, bilinear: %s, orientations: %d}", cell,
             dt ? "dalaltriggs" : "uoctti", bilinear ? "true" : "false", orientations);
    vb_extractor *x = ext_new(yaml, (vb_shape){w, h, c});
    vb_image *img = make_image(w, h, c, kind, (uint64_t)(w * 7919 + h * 131 + c * 17 + cell * 3 + kind));
    VlHog *ref = vl_hog_new(dt ? VlHogVariantDalalTriggs : VlHogVariantUoctti, (vl_size)orientations, VL_FALSE);
    assert_non_null(ref);
    vl_hog_set_use_bilinear_orientation_assignments(ref, bilinear ? VL_TRUE : VL_FALSE);
    vl_hog_put_image(ref, img->data, (vl_size)w, (vl_size)h, (vl_size)c, (vl_size)cell);
    size_t dim = vl_hog_get_width(ref) * vl_hog_get_height(ref) * vl_hog_get_dimension(ref);
    assert_int_equal(x->dim, dim);
    float *want = malloc(dim * sizeof *want), *got = malloc(dim * sizeof *got);
    assert_non_null(want);
    assert_non_null(got);
    vl_hog_extract(ref, want);
    vl_hog_delete(ref);
    ext_run(x, img, got);
    char what[256];
    snprintf(what, sizeof what, "%dx%dx%d kind %d %s", w, h, c, kind, yaml);
    compare(got, want, dim, what);
    free(want);
    free(got);
    vb_image_free(img);
    vb_extractor_free(x);
}

/* vl_hog needs sides > 3 and at least one cell. */
static void test_matches_vlfeat_sizes(void **state)
{
    static const int sides[] = {4, 5, 7, 8, 12, 13, 28, 31, 37, 64, 97};
    static const int cells[] = {1, 2, 3, 4, 5, 8, 16};
    size_t cases = 0;
    for (size_t a = 0; a < sizeof sides / sizeof *sides; a++)
        for (size_t b = 0; b < sizeof sides / sizeof *sides; b += 3)
            for (size_t k = 0; k < sizeof cells / sizeof *cells; k++) {
                int w = sides[a], h = sides[(a + b) % (sizeof sides / sizeof *sides)], cell = cells[k];
                if ((w + cell / 2) / cell == 0 || (h + cell / 2) / cell == 0)
                    continue;
                int c = (a + k) % 2 ? 3 : 1;
                for (int dt = 0; dt < 2; dt++) {
                    hog_case(w, h, c, cell, dt, 0, 9, (int)((a + b + k) % 3));
                    cases++;
                }
            }
    assert_true(cases > 200);
    print_message("hog: %zu values compared with vl_hog, %zu not bit-identical\n", g_values, g_inexact);
}

static void test_matches_vlfeat_options(void **state)
{
    static const int orients[] = {2, 3, 4, 6, 8, 9, 12, 18, 36};
    for (int kind = 0; kind < 3; kind++)
        for (int dt = 0; dt < 2; dt++)
            for (int bil = 0; bil < 2; bil++)
                for (int c = 1; c <= 3; c += 2) {
                    hog_case(28, 28, c, 4, dt, bil, 9, kind);
                    hog_case(37, 23, c, 8, dt, bil, 9, kind);
                    hog_case(224, 224, c, 4, dt, bil, 9, kind);
                    for (size_t o = 0; o < sizeof orients / sizeof *orients; o++)
                        hog_case(20, 16, c, 3, dt, bil, orients[o], kind);
                }
    hog_case(19, 21, 3, 4, 0, 1, 7, 1);
    print_message("hog: %zu values compared with vl_hog, %zu not bit-identical\n", g_values, g_inexact);
}

/* One scratch reused over different images, and two scratches of one
 * state, give the same numbers (per-thread scratch, const state). */
static void test_scratch_reuse(void **state)
{
    vb_extractor *x = ext_new("{cell: 4}", (vb_shape){28, 28, 3});
    vb_image *a = make_image(28, 28, 3, 0, 1), *b = make_image(28, 28, 3, 1, 2);
    size_t d = x->dim;
    float *o1 = malloc(d * sizeof *o1), *o2 = malloc(d * sizeof *o2), *o3 = malloc(d * sizeof *o3);
    void *s1 = x->vt->scratch_new(x->state), *s2 = x->vt->scratch_new(x->state);
    vb_error err = {0};
    assert_int_equal(x->vt->extract(x->state, s1, a, o1, &err), VB_OK);
    assert_int_equal(x->vt->extract(x->state, s1, b, o2, &err), VB_OK);
    assert_int_equal(x->vt->extract(x->state, s1, a, o3, &err), VB_OK);
    assert_memory_equal(o1, o3, d * sizeof *o1);
    assert_memory_not_equal(o1, o2, d * sizeof *o1);
    assert_int_equal(x->vt->extract(x->state, s2, a, o3, &err), VB_OK);
    assert_memory_equal(o1, o3, d * sizeof *o1);
    /* A wrong-shaped image is refused, not read out of bounds. */
    vb_image *small = make_image(20, 28, 3, 0, 3);
    tu_assert_fails_with(x->vt->extract(x->state, s1, small, o3, &err), err, "made for 28x28x3");
    vb_image_free(small);
    x->vt->scratch_free(s1);
    x->vt->scratch_free(s2);
    free(o1);
    free(o2);
    free(o3);
    vb_image_free(a);
    vb_image_free(b);
    vb_extractor_free(x);
}

/* Images below vl_hog's minimum (3 px or fewer) give zero features. */
static void test_tiny_images(void **state)
{
    vb_extractor *x = ext_new("{cell: 2}", (vb_shape){3, 2, 1});
    assert_int_equal(x->dim, 2 * 1 * 31);
    vb_image *img = make_image(3, 2, 1, 0, 5);
    float out[62];
    ext_run(x, img, out);
    for (int i = 0; i < 62; i++)
        assert_float_equal(out[i], 0.0f, 0);
    vb_image_free(img);
    vb_extractor_free(x);
}

static void test_option_errors(void **state)
{
    vb_error err = {0};
    tu_assert_fails_with(ext_try("{signed: true}", (vb_shape){28, 28, 1}, &err), err,
                         "t.yaml:1:10: hog.signed: signed applies to variant dalaltriggs");
    tu_assert_fails_with(ext_try("{norm: l1}", (vb_shape){28, 28, 1}, &err), err,
                         "t.yaml:1:8: hog.norm: norm applies to variant dalaltriggs");
    tu_assert_fails_with(ext_try("{cell: 64}", (vb_shape){28, 28, 1}, &err), err,
                         "t.yaml:1:8: hog.cell: cell 64 is too large for 28x28 images");
    assert_int_equal(ext_try("{variant: dalaltriggs, signed: true, norm: l2hys}", (vb_shape){28, 28, 1}, &err),
                     VB_OK);
}

/* ---- options VLFeat lacks ---------------------------------------------- */

/* A direct scalar reference of the Dalal-Triggs histograms: vl_hog's
 * gradients and hard orientation bins, bilinear spatial weights; returns the
 * 2n directed histograms of every cell (cell-major, bins inner). */
static double *ref_histograms(const vb_image *img, int cell, int n, int *hw_out, int *hh_out)
{
    int w = img->w, h = img->h, hw = (w + cell / 2) / cell, hh = (h + cell / 2) / cell;
    double *H = calloc((size_t)hw * hh * 2 * n, sizeof *H);
    assert_non_null(H);
    for (int y = 1; y < h - 1; y++)
        for (int x = 1; x < w - 1; x++) {
            double best2 = 0, gx = 0, gy = 0;
            for (int c = 0; c < img->c; c++) {
                const float *p = vb_image_plane(img, c);
                double a = p[y * w + x + 1] - p[y * w + x - 1], b = p[(y + 1) * w + x] - p[(y - 1) * w + x];
                if (a * a + b * b > best2) {
                    best2 = a * a + b * b;
                    gx = a;
                    gy = b;
                }
            }
            double g = sqrt(best2);
            if (g == 0)
                continue;
            /* nearest directed bin centre k * pi / n */
            double ang = atan2(gy, gx);
            if (ang < 0)
                ang += 2 * M_PI;
            int o = (int)floor(ang / (M_PI / n) + 0.5) % (2 * n);
            double hx = (x + 0.5) / cell - 0.5, hy = (y + 0.5) / cell - 0.5;
            int bx = (int)floor(hx), by = (int)floor(hy);
            double wx = hx - bx, wy = hy - by;
            for (int dy = 0; dy < 2; dy++)
                for (int dx = 0; dx < 2; dx++) {
                    int cx = bx + dx, cy = by + dy;
                    if (cx < 0 || cy < 0 || cx >= hw || cy >= hh)
                        continue;
                    H[((size_t)cy * hw + cx) * 2 * n + o] += g * (dx ? wx : 1 - wx) * (dy ? wy : 1 - wy);
                }
        }
    *hw_out = hw;
    *hh_out = hh;
    return H;
}

/* Reference Dalal-Triggs value for cell (x, y), block j, bin q. */
static double ref_value(const double *H, int hw, int hh, int n, int sgn, const char *norm, int x, int y, int j,
                        int q)
{
    int m = sgn ? 2 * n : n;
    int bx0 = x - 1 + (j % 2), by0 = y - 1 + (j / 2); /* block's top-left cell, before clamping */
    double v[4][72];
    double sum = 0;
    int l1 = strncmp(norm, "l1", 2) == 0;
    for (int c = 0; c < 4; c++) {
        int cx = bx0 + c % 2, cy = by0 + c / 2;
        cx = cx < 0 ? 0 : cx >= hw ? hw - 1 : cx;
        cy = cy < 0 ? 0 : cy >= hh ? hh - 1 : cy;
        const double *hc = H + ((size_t)cy * hw + cx) * 2 * n;
        for (int k = 0; k < m; k++) {
            v[c][k] = sgn ? hc[k] : hc[k] + hc[k + n];
            sum += l1 ? fabs(v[c][k]) : v[c][k] * v[c][k];
        }
    }
    double f = l1 ? 1.0 / (sum + 1e-2) : 1.0 / sqrt(sum + 1e-4);
    /* this cell is corner 3 - j of the block */
    double val = f * v[3 - j][q];
    if (strcmp(norm, "l2clip") == 0)
        return fmin(val, 0.2);
    if (strcmp(norm, "l1sqrt") == 0)
        return sqrt(val);
    if (strcmp(norm, "l2hys") == 0) {
        double r = 0;
        for (int c = 0; c < 4; c++)
            for (int k = 0; k < m; k++)
                r += fmin(f * v[c][k], 0.2) * fmin(f * v[c][k], 0.2);
        return fmin(val, 0.2) / sqrt(r + 1e-4);
    }
    return val;
}

static void generic_case(int w, int h, int c, int cell, int n, int sgn, const char *norm, int kind)
{
    char yaml[200];
    snprintf(yaml, sizeof yaml, "{cell: %d, variant: dalaltriggs, orientations: %d, signed: %s, norm: %s}", cell, n,
             sgn ? "true" : "false", norm);
    vb_extractor *x = ext_new(yaml, (vb_shape){w, h, c});
    int m = sgn ? 2 * n : n, hw, hh;
    vb_image *img = make_image(w, h, c, kind, (uint64_t)(w + h + cell + n));
    double *H = ref_histograms(img, cell, n, &hw, &hh);
    size_t stride = (size_t)hw * hh;
    assert_int_equal(x->dim, stride * 4 * m);
    float *out = malloc(x->dim * sizeof *out);
    assert_non_null(out);
    ext_run(x, img, out);
    for (int y = 0; y < hh; y++)
        for (int xx = 0; xx < hw; xx++)
            for (int j = 0; j < 4; j++)
                for (int q = 0; q < m; q++) {
                    double want = ref_value(H, hw, hh, n, sgn, norm, xx, y, j, q);
                    float got = out[((size_t)j * m + q) * stride + (size_t)y * hw + xx];
                    if (fabs(got - want) > 1e-4 * fabs(want) + 1e-6)
                        fail_msg("%s on %dx%dx%d: cell (%d,%d) block %d bin %d is %.8g, reference %.8g", yaml, w, h,
                                 c, xx, y, j, q, got, want);
                }
    free(H);
    free(out);
    vb_image_free(img);
    vb_extractor_free(x);
}

/* Random images never sit on a bin boundary, so the atan2 reference bins
 * agree with vl_hog's score comparisons. */
static void test_generic_against_reference(void **state)
{
    static const char *const norms[] = {"l2clip", "l2hys", "l2", "l1", "l1sqrt"};
    for (int k = 0; k < 5; k++)
        for (int sgn = 0; sgn < 2; sgn++) {
            generic_case(28, 28, 1, 4, 9, sgn, norms[k], 0);
            generic_case(23, 17, 3, 5, 6, sgn, norms[k], 0);
            generic_case(9, 12, 1, 8, 4, sgn, norms[k], 0);
        }
}

/* The default's unsigned l2clip through the generic code (signed false but
 * another norm forces it) agrees with the VLFeat path for l2clip's formula:
 * l2 then min(., 0.2) equals l2clip wherever l2 < 0.2. */
static void test_l2_vs_l2clip(void **state)
{
    vb_extractor *a = ext_new("{cell: 4, variant: dalaltriggs}", (vb_shape){28, 28, 1});
    vb_extractor *b = ext_new("{cell: 4, variant: dalaltriggs, norm: l2}", (vb_shape){28, 28, 1});
    vb_image *img = make_image(28, 28, 1, 0, 11);
    float *oa = malloc(a->dim * sizeof *oa), *ob = malloc(b->dim * sizeof *ob);
    ext_run(a, img, oa);
    ext_run(b, img, ob);
    size_t clipped = 0;
    for (size_t i = 0; i < a->dim; i++) {
        assert_float_equal(oa[i], fminf(ob[i], 0.2f), 1e-6);
        clipped += ob[i] > 0.2f;
    }
    assert_true(clipped > 0);
    free(oa);
    free(ob);
    vb_image_free(img);
    vb_extractor_free(a);
    vb_extractor_free(b);
}

/* Signed bins tell a dark-to-bright step from a bright-to-dark one:
 * a vertical edge brightening to the right has its gradient at 0 degrees
 * (bin 0), the mirrored one at 180 degrees (bin n). Unsigned bins fold both
 * into bin 0. */
static void test_signed_direction(void **state)
{
    const int n = 9;
    vb_extractor *sx = ext_new("{cell: 4, variant: dalaltriggs, signed: true, norm: l2}", (vb_shape){16, 16, 1});
    vb_extractor *ux = ext_new("{cell: 4, variant: dalaltriggs, norm: l2}", (vb_shape){16, 16, 1});
    assert_int_equal(sx->dim, 16 * 4 * 2 * n);
    assert_int_equal(ux->dim, 16 * 4 * n);
    for (int flip = 0; flip < 2; flip++) {
        vb_image *img = vb_image_new(16, 16, 1, NULL);
        for (int y = 0; y < 16; y++)
            for (int x = 0; x < 16; x++)
                img->data[y * 16 + x] = (x >= 8) != flip ? 1.0f : 0.0f;
        float so[16 * 4 * 18], uo[16 * 4 * 9];
        ext_run(sx, img, so);
        ext_run(ux, img, uo);
        /* cell (1, 1), block 3 (the cell's own lower-right block), every bin */
        size_t stride = 16, at = 1 * 4 + 1;
        int hot = flip ? n : 0;
        for (int q = 0; q < 2 * n; q++) {
            float v = so[((size_t)3 * 2 * n + q) * stride + at];
            if (q == hot)
                assert_true(v > 0.3f);
            else
                assert_float_equal(v, 0.0f, 0);
        }
        for (int q = 0; q < n; q++) {
            float v = uo[((size_t)3 * n + q) * stride + at];
            if (q == 0)
                assert_true(v > 0.3f);
            else
                assert_float_equal(v, 0.0f, 0);
        }
        vb_image_free(img);
    }
    vb_extractor_free(sx);
    vb_extractor_free(ux);
}

/* Block norms on an interior block: the four pieces of one block (stored
 * at four cells) have L2 norm 1 (l2, l2hys) or L1 norm 1 (l1; l1sqrt's
 * squares), up to the epsilon. */
static void test_block_norms(void **state)
{
    static const char *const norms[] = {"l2", "l2hys", "l1", "l1sqrt"};
    for (int k = 0; k < 4; k++) {
        char yaml[120];
        snprintf(yaml, sizeof yaml, "{cell: 4, variant: dalaltriggs, norm: %s}", norms[k]);
        vb_extractor *x = ext_new(yaml, (vb_shape){32, 32, 1});
        vb_image *img = make_image(32, 32, 1, 0, 21);
        float *out = malloc(x->dim * sizeof *out);
        ext_run(x, img, out);
        const int n = 9, hw = 8;
        const size_t stride = 64;
        /* block with cells (3..4, 3..4): cell (3,3) holds it as j=3, (4,3) j=2, (3,4) j=1, (4,4) j=0 */
        const int cx[4] = {3, 4, 3, 4}, cy[4] = {3, 3, 4, 4};
        double l1 = 0, l2 = 0, mx = 0;
        for (int c = 0; c < 4; c++)
            for (int q = 0; q < n; q++) {
                double v = out[((size_t)(3 - c) * n + q) * stride + (size_t)cy[c] * hw + cx[c]];
                assert_true(v >= 0);
                l1 += v;
                l2 += v * v;
                mx = fmax(mx, v);
            }
        if (k == 0 || k == 1)
            assert_float_equal(l2, 1.0, 1e-3);
        else if (k == 2)
            assert_float_equal(l1, 1.0, 1e-3);
        else
            assert_float_equal(l2, 1.0, 1e-3);
        assert_true(mx > 0);
        free(out);
        vb_image_free(img);
        vb_extractor_free(x);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matches_vlfeat_sizes),
        cmocka_unit_test(test_matches_vlfeat_options),
        cmocka_unit_test(test_scratch_reuse),
        cmocka_unit_test(test_tiny_images),
        cmocka_unit_test(test_option_errors),
        cmocka_unit_test(test_generic_against_reference),
        cmocka_unit_test(test_l2_vs_l2clip),
        cmocka_unit_test(test_signed_direction),
        cmocka_unit_test(test_block_norms),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
