/* dsift (our dense SIFT with a flat window) against VLFeat's vl_dsift
 * called directly: image sizes from the smallest that holds a frame to
 * 61x53, steps 1 to 7 (dividing the bin or not), bins 1 to 8, window sizes,
 * bounds, and images that exercise every branch: smooth and noisy, 8-bit
 * quantised (gradients exactly on orientation boundaries), constant (no
 * gradient: zero descriptors, mass 0), faint (squared gradients near
 * vl_fast_sqrt_f's 1e-8 cut) and large-valued.
 *
 * Tolerance: |ours - vl_dsift| <= 1e-6 per descriptor value, mass within
 * 1e-6 relative (+1e-12), frame centres equal. The implementation
 * reproduces VLFeat's floating-point operations in order, and on the Debian
 * build of libvl the test sees no difference at all; it reports how many
 * values differ in any bit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../src/features/dsift.h"
#include "support/testutil.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <vl/dsift.h>

#define VAL_TOL 1e-6
#define MASS_TOL 1e-6

static size_t g_values, g_inexact, g_frames;

enum { IMG_SMOOTH, IMG_NOISE, IMG_QUANT, IMG_CONST, IMG_FAINT, IMG_LARGE, IMG_KINDS };

/* A seeded image of the given kind. */
static float *make_image(int w, int h, int kind, uint64_t seed)
{
    float *im = malloc((size_t)w * h * sizeof *im);
    vb_rng *rng = vb_rng_new(seed);
    double cx = vb_rng_uniform(rng) * w, cy = vb_rng_uniform(rng) * h, fr = 0.2 + vb_rng_uniform(rng);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            double v = 0.5 + 0.4 * sin(fr * x + 0.7 * y) * cos(0.3 * fr * y - 0.2 * x) +
                       0.3 * exp(-((x - cx) * (x - cx) + (y - cy) * (y - cy)) / 20.0);
            double noise = vb_rng_uniform(rng);
            switch (kind) {
            case IMG_NOISE: v = noise; break;
            case IMG_QUANT: v = floor((0.7 * v + 0.3 * noise) * 255) / 255; break;
            case IMG_CONST: v = 0.25; break;
            case IMG_FAINT: v = 3e-5 * v + 1e-5 * noise; break;
            case IMG_LARGE: v = 255 * v + 40 * noise; break;
            default: v += 0.05 * noise; break;
            }
            im[(size_t)y * w + x] = (float)v;
        }
    vb_rng_free(rng);
    return im;
}

typedef struct geo {
    int w, h, step, bin;
    double ws;
    int bounds; /* 0: whole image; 1: a seeded sub-rectangle */
} geo;

/* One comparison; returns the number of frames. */
static size_t compare(const geo *c, int kind, uint64_t seed)
{
    float *im = make_image(c->w, c->h, kind, seed);
    vbf_dsift_geom g = {.width = c->w, .height = c->h, .step = c->step, .bin = c->bin, .min_x = 0, .min_y = 0,
                        .max_x = c->w - 1, .max_y = c->h - 1, .window_size = c->ws};
    if (c->bounds) {
        vb_rng *rng = vb_rng_new(seed ^ 0x5eed);
        g.min_x = (int)vb_rng_below(rng, (size_t)c->w / 3 + 1);
        g.min_y = (int)vb_rng_below(rng, (size_t)c->h / 3 + 1);
        g.max_x = c->w - 1 - (int)vb_rng_below(rng, (size_t)c->w / 4 + 1);
        g.max_y = c->h - 1 - (int)vb_rng_below(rng, (size_t)c->h / 4 + 1);
        vb_rng_free(rng);
    }
    VlDsiftFilter *f = vl_dsift_new_basic(c->w, c->h, c->step, c->bin);
    vl_dsift_set_flat_window(f, VL_TRUE);
    vl_dsift_set_window_size(f, c->ws);
    vl_dsift_set_bounds(f, g.min_x, g.min_y, g.max_x, g.max_y);
    vl_dsift_process(f, im);
    size_t n = (size_t)vl_dsift_get_keypoint_num(f);

    vbf_dsift *d = NULL;
    vb_error err = {0};
    if (vbf_dsift_new(&g, &d, &err) != VB_OK)
        fail_msg("%s", err.msg);
    assert_int_equal(vbf_dsift_frames(d), n);
    vbf_dsift_scratch *s = vbf_dsift_scratch_new(d);
    assert_non_null(s);
    float *desc = malloc((n ? n : 1) * 128 * sizeof *desc), *mass = malloc((n ? n : 1) * sizeof *mass);
    vbf_dsift_process(d, s, im, desc, mass);

    const float *ref = vl_dsift_get_descriptors(f);
    const VlDsiftKeypoint *kp = vl_dsift_get_keypoints(f);
    for (size_t i = 0; i < n; i++) {
        double x, y;
        vbf_dsift_frame_center(d, i, &x, &y);
        if (x != kp[i].x || y != kp[i].y)
            fail_msg("%dx%d step %d bin %d: frame %zu at (%g, %g), vl_dsift (%g, %g)", c->w, c->h, c->step, c->bin, i,
                     x, y, kp[i].x, kp[i].y);
        if (fabs(mass[i] - kp[i].norm) > MASS_TOL * fabs(kp[i].norm) + 1e-12)
            fail_msg("%dx%d step %d bin %d ws %g kind %d: frame %zu mass %.9g, vl_dsift %.9g", c->w, c->h, c->step,
                     c->bin, c->ws, kind, i, mass[i], kp[i].norm);
        g_inexact += (float)kp[i].norm != mass[i];
        for (int j = 0; j < 128; j++) {
            float a = desc[i * 128 + j], b = ref[i * 128 + j];
            if (!(fabsf(a - b) <= VAL_TOL))
                fail_msg("%dx%d step %d bin %d ws %g bounds %d kind %d: frame %zu value %d is %.9g, vl_dsift %.9g",
                         c->w, c->h, c->step, c->bin, c->ws, c->bounds, kind, i, j, a, b);
            g_inexact += memcmp(&a, &b, sizeof a) != 0;
        }
    }
    g_values += n * 129;
    g_frames += n;
    free(desc);
    free(mass);
    free(im);
    vbf_dsift_scratch_free(s);
    vbf_dsift_free(d);
    vl_dsift_delete(f);
    return n;
}

/* Every step and bin on a few sizes, each image kind. */
static void test_steps_and_bins(void **state)
{
    static const int sizes[][2] = {{24, 24}, {17, 31}, {40, 13}, {33, 33}};
    uint64_t seed = 1;
    for (size_t z = 0; z < sizeof sizes / sizeof *sizes; z++)
        for (int step = 1; step <= 7; step++)
            for (int bin = 1; bin <= 8; bin++) {
                geo c = {sizes[z][0], sizes[z][1], step, bin, 1.5, 0};
                for (int kind = 0; kind < IMG_KINDS; kind++)
                    compare(&c, kind, seed++);
            }
}

/* Sizes around the vector width and the smallest images holding a frame. */
static void test_sizes(void **state)
{
    uint64_t seed = 1000;
    for (int w = 4; w <= 61; w += (w < 20 ? 1 : 7))
        for (int h = 4; h <= 53; h += (h < 12 ? 3 : 11)) {
            geo c = {w, h, 1 + (w + h) % 3, 1, 1.5, 0};
            int maxbin = ((w < h ? w : h) - 1) / 3;
            c.bin = 1 + (int)(seed % (size_t)maxbin);
            compare(&c, (int)(seed % IMG_KINDS), seed);
            seed++;
            geo e = {w, h, 2, maxbin, 2.0, 0}; /* the largest bin that fits: one frame row or column */
            assert_true(compare(&e, IMG_SMOOTH, seed++) >= 1);
        }
}

/* Window sizes (the weights of the bins) and bounds. */
static void test_windows_and_bounds(void **state)
{
    static const double ws[] = {0.5, 1.0, 1.5, 2.0, 10.0};
    uint64_t seed = 5000;
    for (size_t k = 0; k < sizeof ws / sizeof *ws; k++)
        for (int bounds = 0; bounds <= 1; bounds++)
            for (int bin = 2; bin <= 6; bin += 2) {
                geo c = {37, 29, 1 + (int)k % 4, bin, ws[k], bounds};
                compare(&c, IMG_NOISE, seed++);
                compare(&c, IMG_QUANT, seed++);
            }
}

/* The benchmark's geometries: Fashion-MNIST's 28x28 and 224x224 with step
 * 4, bin 4, and PHOW's bins 2 to 4 at step 1 on 28x28. */
static void test_benchmark_sizes(void **state)
{
    geo a = {28, 28, 4, 4, 2.0, 0}, b = {224, 224, 4, 4, 2.0, 0};
    assert_int_equal(compare(&a, IMG_SMOOTH, 77), 16);
    assert_int_equal(compare(&b, IMG_QUANT, 78), 53 * 53);
    for (int bin = 2; bin <= 4; bin++) {
        geo c = {28, 28, 1, bin, 1.5, 0};
        compare(&c, IMG_QUANT, 80 + (uint64_t)bin);
    }
}

/* A scratch carries nothing from one image to the next, and threads with a
 * scratch each share one plan. */
static void test_reuse_and_threads(void **state)
{
    vbf_dsift_geom g = {.width = 45, .height = 38, .step = 3, .bin = 4, .max_x = 44, .max_y = 37, .window_size = 1.5};
    vbf_dsift *d = NULL;
    vb_error err = {0};
    assert_int_equal(vbf_dsift_new(&g, &d, &err), VB_OK);
    size_t n = vbf_dsift_frames(d), per = n * 128;
    enum { N_IMG = 12 };
    float *ref = malloc(N_IMG * per * sizeof *ref), *out = malloc(N_IMG * per * sizeof *out);
    float *ims[N_IMG];
    for (int i = 0; i < N_IMG; i++) {
        ims[i] = make_image(45, 38, i % IMG_KINDS, 300 + (uint64_t)i);
        vbf_dsift_scratch *s = vbf_dsift_scratch_new(d);
        vbf_dsift_process(d, s, ims[i], ref + i * per, NULL);
        vbf_dsift_scratch_free(s);
    }
#pragma omp parallel num_threads(2)
    {
        vbf_dsift_scratch *s = vbf_dsift_scratch_new(d);
#pragma omp for schedule(static, 1)
        for (int i = 0; i < N_IMG; i++)
            vbf_dsift_process(d, s, ims[i], out + i * per, NULL);
        vbf_dsift_scratch_free(s);
    }
    assert_memory_equal(ref, out, N_IMG * per * sizeof *ref);
    for (int i = 0; i < N_IMG; i++)
        free(ims[i]);
    free(ref);
    free(out);
    vbf_dsift_free(d);
}

/* Geometries without frames are valid and do nothing; invalid ones fail. */
static void test_geometry(void **state)
{
    vbf_dsift *d = NULL;
    vb_error err = {0};
    vbf_dsift_geom g = {.width = 20, .height = 20, .step = 2, .bin = 7, .max_x = 19, .max_y = 19, .window_size = 1.5};
    assert_int_equal(vbf_dsift_new(&g, &d, &err), VB_OK);
    assert_int_equal(vbf_dsift_frames(d), 0);
    vbf_dsift_scratch *s = vbf_dsift_scratch_new(d);
    assert_non_null(s);
    float im[400] = {0}, desc[1] = {42};
    vbf_dsift_process(d, s, im, desc, NULL);
    assert_true(desc[0] == 42);
    vbf_dsift_scratch_free(s);
    vbf_dsift_free(d);
    g.bin = 6; /* 3 x 6 + 1 = 19 <= 20: frame corners 0 (and 2 > 20 - 19): one frame */
    assert_int_equal(vbf_dsift_new(&g, &d, &err), VB_OK);
    assert_int_equal(vbf_dsift_frames(d), 1);
    vbf_dsift_free(d);
    vbf_dsift_geom bad = g;
    bad.max_x = 20;
    tu_assert_fails_with(vbf_dsift_new(&bad, &d, &err), err, "bounds");
    assert_null(d);
    bad = g;
    bad.step = 0;
    tu_assert_fails_with(vbf_dsift_new(&bad, &d, &err), err, "positive");
    bad = g;
    bad.window_size = 0;
    tu_assert_fails_with(vbf_dsift_new(&bad, &d, &err), err, "window size");
    bad = g;
    bad.width = 0;
    tu_assert_fails_with(vbf_dsift_new(&bad, &d, &err), err, "image size");
}

static int report(void **state)
{
    printf("dsift vs vl_dsift: %zu frames, %zu values compared, %zu differ in any bit\n", g_frames, g_values,
           g_inexact);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_steps_and_bins),
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_windows_and_bounds),
        cmocka_unit_test(test_benchmark_sizes),
        cmocka_unit_test(test_reuse_and_threads),
        cmocka_unit_test(test_geometry),
    };
    return cmocka_run_group_tests(tests, NULL, report);
}
