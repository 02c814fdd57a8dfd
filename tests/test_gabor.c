/* gabor: kernel symmetry and zero mean, no response to a flat image, the
 * strongest response at a grating's own orientation, and the separable
 * filtering against a direct 2-D convolution with mirrored borders. */
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

/* Test hook defined in src/features/gabor.c. */
size_t vb_gabor_kernel(const void *state, size_t i, float *even, float *odd);

static vb_status ext_make(const char *yaml, vb_shape in, vb_extractor **x, vb_error *err)
{
    const vb_extractor_vt *vt = vb_extractor_find("gabor");
    assert_non_null(vt);
    vb_doc *doc = NULL;
    vb_params p;
    if (vb_doc_load_string(yaml, "t.yaml", &doc, err) != VB_OK)
        fail_msg("%s", err->msg);
    vb_status st = vb_params_parse(&p, &vt->info, doc ? doc->root : NULL, 0, err);
    if (st != VB_OK) {
        vb_doc_free(doc);
        return st;
    }
    st = vb_extractor_new(vt, &p, in, x, err);
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

static vb_image *noise_image(int w, int h, int c, uint64_t seed)
{
    vb_image *img = vb_image_new(w, h, c, NULL);
    assert_non_null(img);
    vb_rng *rng = vb_rng_new(seed);
    for (size_t i = 0; i < (size_t)w * h * c; i++)
        img->data[i] = (float)vb_rng_uniform(rng);
    vb_rng_free(rng);
    return img;
}

/* Even part point-symmetric, odd part antisymmetric, both summing to 0. */
static void test_kernel_symmetry(void **state)
{
    vb_extractor *x = ext_new("{frequencies: [0.1, 0.25, 0.4], orientations: 6}", (vb_shape){28, 28, 1});
    for (size_t i = 0; i < 18; i++) {
        size_t k = vb_gabor_kernel(x->state, i, NULL, NULL);
        assert_true(k >= 3 && k % 2 == 1);
        float *e = malloc(k * k * sizeof *e), *o = malloc(k * k * sizeof *o);
        assert_int_equal(vb_gabor_kernel(x->state, i, e, o), k);
        double se = 0, so = 0, ae = 0, ao = 0;
        for (size_t y = 0; y < k; y++)
            for (size_t xx = 0; xx < k; xx++) {
                size_t a = y * k + xx, b = (k - 1 - y) * k + (k - 1 - xx);
                assert_float_equal(e[a], e[b], 1e-9);
                assert_float_equal(o[a], -o[b], 1e-9);
                se += e[a];
                so += o[a];
                ae += fabs(e[a]);
                ao += fabs(o[a]);
            }
        assert_true(ae > 0.1 && ao > 0.1); /* not degenerate */
        assert_true(fabs(se) < 1e-6 * ae);
        assert_true(fabs(so) < 1e-6 * ao);
        /* The odd kernel of orientation 0 is odd along x alone: o(x, y) = -o(-x, y). */
        if (i % 6 == 0)
            for (size_t y = 0; y < k; y++)
                for (size_t xx = 0; xx < k; xx++)
                    assert_float_equal(o[y * k + xx], -o[y * k + (k - 1 - xx)], 1e-9);
        free(e);
        free(o);
    }
    assert_int_equal(vb_gabor_kernel(x->state, 18, NULL, NULL), 0);
    /* r = ceil(3 sigma), sigma = 1/(pi f) sqrt(ln2/2) (2^1+1)/(2^1-1) = 0.5622/f: f 0.25 -> sigma 2.249 -> r 7 */
    assert_int_equal(vb_gabor_kernel(x->state, 6, NULL, NULL), 15);
    vb_extractor_free(x);
}

/* A flat image (any level) gives (numerically) no response anywhere. */
static void test_flat_image(void **state)
{
    vb_extractor *x = ext_new("{frequencies: [0.1, 0.3], orientations: 4, cell: 5}", (vb_shape){23, 17, 3});
    assert_int_equal(x->dim, 2 * 4 * 5 * 4 * 2); /* ceil(23/5) x ceil(17/5) cells */
    vb_image *img = vb_image_new(23, 17, 3, NULL);
    for (size_t i = 0; i < 23 * 17 * 3; i++)
        img->data[i] = 0.7f;
    float *flat = ext_run(x, img);
    vb_image *tex = noise_image(23, 17, 3, 4);
    float *noisy = ext_run(x, tex);
    double mx = 0, typ = 0;
    for (size_t j = 0; j < x->dim; j++) {
        mx = fmax(mx, fabs(flat[j]));
        typ = fmax(typ, fabs(noisy[j]));
    }
    assert_true(typ > 0.01);
    assert_true(mx < 1e-5 * typ);
    free(flat);
    free(noisy);
    vb_image_free(img);
    vb_image_free(tex);
    vb_extractor_free(x);
}

/* A grating at frequency f and angle theta_o excites filter (f, o) most. */
static void test_grating_orientation(void **state)
{
    const double freqs[2] = {0.125, 0.25};
    const int no = 4, side = 48;
    vb_extractor *x = ext_new("{frequencies: [0.125, 0.25], orientations: 4, cell: 16}", (vb_shape){side, side, 1});
    const size_t ncell = 9;
    for (int fi = 0; fi < 2; fi++)
        for (int o0 = 0; o0 < no; o0++) {
            vb_image *img = vb_image_new(side, side, 1, NULL);
            double th = o0 * M_PI / no;
            for (int y = 0; y < side; y++)
                for (int xx = 0; xx < side; xx++)
                    img->data[y * side + xx] =
                        (float)(0.5 + 0.5 * cos(2 * M_PI * freqs[fi] * (xx * cos(th) + y * sin(th))));
            float *out = ext_run(x, img);
            double best = -1;
            int arg = -1;
            for (int o = 0; o < no; o++) {
                size_t filt = (size_t)fi * no + o;
                double m = 0;
                for (size_t c = 0; c < ncell; c++)
                    m += out[2 * filt * ncell + c];
                if (m > best) {
                    best = m;
                    arg = o;
                }
            }
            assert_int_equal(arg, o0);
            free(out);
            vb_image_free(img);
        }
    vb_extractor_free(x);
}

static int mirror(int p, int n)
{
    int m = 2 * n;
    p %= m;
    if (p < 0)
        p += m;
    return p < n ? p : m - 1 - p;
}

/* Direct 2-D reference: correlate with the kernels, mirrored borders, then
 * pool mean and variance per cell, all in double. */
static void reference(const vb_extractor *x, const vb_image *img, int nfilt, int cell, double *out)
{
    int w = img->w, h = img->h, cw = (w + cell - 1) / cell, ch = (h + cell - 1) / cell;
    double *grey = malloc((size_t)w * h * sizeof *grey), *mag = malloc((size_t)w * h * sizeof *mag);
    for (int i = 0; i < w * h; i++)
        grey[i] = img->c == 1 ? img->data[i]
                              : 0.299f * img->data[i] + 0.587f * img->data[i + w * h] + 0.114f * img->data[i + 2 * w * h];
    for (int f = 0; f < nfilt; f++) {
        int k = (int)vb_gabor_kernel(x->state, (size_t)f, NULL, NULL), r = k / 2;
        float *e = malloc((size_t)k * k * sizeof *e), *o = malloc((size_t)k * k * sizeof *o);
        vb_gabor_kernel(x->state, (size_t)f, e, o);
        for (int y = 0; y < h; y++)
            for (int xx = 0; xx < w; xx++) {
                double re = 0, im = 0;
                for (int ty = -r; ty <= r; ty++)
                    for (int tx = -r; tx <= r; tx++) {
                        double v = grey[mirror(y + ty, h) * w + mirror(xx + tx, w)];
                        re += v * e[(ty + r) * k + tx + r];
                        im += v * o[(ty + r) * k + tx + r];
                    }
                mag[y * w + xx] = sqrt(re * re + im * im);
            }
        for (int cy = 0; cy < ch; cy++)
            for (int cx = 0; cx < cw; cx++) {
                double s = 0, s2 = 0;
                int n = 0;
                for (int y = cy * cell; y < h && y < (cy + 1) * cell; y++)
                    for (int xx = cx * cell; xx < w && xx < (cx + 1) * cell; xx++) {
                        s += mag[y * w + xx];
                        n++;
                    }
                double mu = s / n;
                for (int y = cy * cell; y < h && y < (cy + 1) * cell; y++)
                    for (int xx = cx * cell; xx < w && xx < (cx + 1) * cell; xx++)
                        s2 += (mag[y * w + xx] - mu) * (mag[y * w + xx] - mu);
                size_t c = (size_t)cy * cw + cx, nc = (size_t)cw * ch;
                out[2 * f * nc + c] = mu;
                out[(2 * f + 1) * nc + c] = s2 / n;
            }
        free(e);
        free(o);
    }
    free(grey);
    free(mag);
}

static void against_reference(int w, int h, int c, const char *yaml, int nfilt, int cell)
{
    vb_extractor *x = ext_new(yaml, (vb_shape){w, h, c});
    vb_image *img = noise_image(w, h, c, (uint64_t)(w * 100 + h));
    float *got = ext_run(x, img);
    double *want = malloc(x->dim * sizeof *want);
    reference(x, img, nfilt, cell, want);
    double scale = 0;
    for (size_t j = 0; j < x->dim; j++)
        scale = fmax(scale, fabs(want[j]));
    for (size_t j = 0; j < x->dim; j++)
        if (fabs(got[j] - want[j]) > 1e-4 * fabs(want[j]) + 1e-5 * scale)
            fail_msg("%s on %dx%dx%d: value %zu is %.7g, reference %.7g", yaml, w, h, c, j, got[j], want[j]);
    free(want);
    free(got);
    vb_image_free(img);
    vb_extractor_free(x);
}

static void test_against_direct_convolution(void **state)
{
    /* kernels wider than the image (mirrored more than once), partial cells, colour */
    against_reference(28, 28, 1, "{frequencies: [0.1, 0.25], orientations: 4, cell: 7}", 8, 7);
    against_reference(13, 9, 1, "{frequencies: [0.08], orientations: 3, cell: 4}", 3, 4);
    against_reference(30, 21, 3, "{frequencies: [0.2, 0.45], orientations: 5, bandwidth: 1.5, cell: 8}", 10, 8);
    against_reference(17, 40, 1, "{frequencies: [0.3], orientations: 2, sigma: 1.2, n_stds: 2, cell: 100}", 2, 100);
}

static void test_scratch_reuse_and_errors(void **state)
{
    vb_extractor *x = ext_new("{}", (vb_shape){28, 28, 1});
    assert_int_equal(x->dim, 2 * 4 * 16 * 2);
    vb_image *a = noise_image(28, 28, 1, 1), *b = noise_image(28, 28, 1, 2);
    float *o1 = malloc(x->dim * sizeof *o1), *o2 = malloc(x->dim * sizeof *o2), *o3 = malloc(x->dim * sizeof *o3);
    void *s = x->vt->scratch_new(x->state);
    vb_error err = {0};
    assert_int_equal(x->vt->extract(x->state, s, a, o1, &err), VB_OK);
    assert_int_equal(x->vt->extract(x->state, s, b, o2, &err), VB_OK);
    assert_int_equal(x->vt->extract(x->state, s, a, o3, &err), VB_OK);
    assert_memory_equal(o1, o3, x->dim * sizeof *o1);
    assert_memory_not_equal(o1, o2, x->dim * sizeof *o1);
    vb_image *wrong = noise_image(27, 28, 1, 3);
    tu_assert_fails_with(x->vt->extract(x->state, s, wrong, o3, &err), err, "made for 28x28x1");
    vb_image_free(wrong);
    x->vt->scratch_free(s);
    free(o1);
    free(o2);
    free(o3);
    vb_image_free(a);
    vb_image_free(b);
    vb_extractor_free(x);

    vb_extractor *bad = NULL;
    tu_assert_fails_with(ext_make("{frequencies: [0.001]}", (vb_shape){28, 28, 1}, &bad, &err), err,
                         "t.yaml:1:15: gabor.frequencies: frequency 0.001 gives sigma 562 px");
    assert_null(bad);
    tu_assert_fails_with(ext_make("{frequencies: [0.6]}", (vb_shape){28, 28, 1}, &bad, &err), err, "out of range");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kernel_symmetry),
        cmocka_unit_test(test_flat_image),
        cmocka_unit_test(test_grating_orientation),
        cmocka_unit_test(test_against_direct_convolution),
        cmocka_unit_test(test_scratch_reuse_and_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
