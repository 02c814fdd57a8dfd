/* lbp, color, pca, power, homkermap: VLFeat called directly, hand-computed
 * histograms and spectra, orthonormality and exact reconstruction, fit
 * isolation and save/load. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../src/features/internal.h"
#include "support/featutil.h"
#include "support/testutil.h"
#include "visbench/pipeline.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <vl/homkermap.h>
#include <vl/lbp.h>

/* ---- lbp ------------------------------------------------------------------ */

/* The default output is vl_lbp_process's own, bit for bit, on grey images
 * and on the luma of colour ones; l1 and l2 are its squares, rescaled. */
static void test_lbp_equals_vlfeat(void **state)
{
    const int w = 21, h = 17, cell = 4, cw = 5, ch = 4, bins = 58, dim = cw * ch * bins;
    vb_image *grey = fu_image(w, h, 1, 5), *rgb = fu_image(w, h, 3, 6);
    float *ref = calloc(dim, sizeof *ref), *out = malloc(dim * sizeof *out), *l1 = malloc(dim * sizeof *l1);
    VlLbp *lbp = vl_lbp_new(VlLbpUniform, VL_FALSE);
    assert_int_equal(vl_lbp_get_dimension(lbp), bins);

    vb_extractor *x = fu_extractor("lbp", "{cell: 4}", w, h, 1);
    assert_int_equal(x->dim, dim);
    vl_lbp_process(lbp, ref, grey->data, w, h, cell);
    fu_extract(x, grey, out);
    assert_memory_equal(out, ref, dim * sizeof *ref);
    vb_extractor_free(x);

    float *luma = malloc(w * h * sizeof *luma);
    for (int i = 0; i < w * h; i++)
        luma[i] = 0.299f * rgb->data[i] + 0.587f * rgb->data[w * h + i] + 0.114f * rgb->data[2 * w * h + i];
    memset(ref, 0, dim * sizeof *ref);
    vl_lbp_process(lbp, ref, luma, w, h, cell);
    x = fu_extractor("lbp", "{cell: 4}", w, h, 3);
    fu_extract(x, rgb, out);
    assert_memory_equal(out, ref, dim * sizeof *ref);
    vb_extractor_free(x);

    x = fu_extractor("lbp", "{cell: 4, norm: l1}", w, h, 3);
    fu_extract(x, rgb, l1);
    for (int c = 0; c < cw * ch; c++) {
        double sum = 0;
        for (int k = 0; k < bins; k++) {
            assert_float_equal(l1[k * cw * ch + c], (double)ref[k * cw * ch + c] * ref[k * cw * ch + c], 1e-6);
            sum += l1[k * cw * ch + c];
        }
        assert_float_equal(sum, 1.0, 1e-5);
    }
    vb_extractor_free(x);
    x = fu_extractor("lbp", "{cell: 4, norm: l2}", w, h, 3);
    fu_extract(x, rgb, out);
    for (int c = 0; c < cw * ch; c++) {
        double sq = 0;
        for (int k = 0; k < bins; k++)
            sq += (double)out[k * cw * ch + c] * out[k * cw * ch + c];
        assert_float_equal(sq, 1.0, 1e-5);
    }
    vb_extractor_free(x);
    vl_lbp_delete(lbp);
    free(ref);
    free(out);
    free(l1);
    free(luma);
    vb_image_free(grey);
    vb_image_free(rgb);
}

/* A flat 8x8 image: no neighbour is brighter, every pattern is 00000000,
 * which VLFeat (0.9.21) puts with 11111111 in bin 56 (bins 0-55 are the 56
 * patterns with two transitions, 57 the non-uniform ones). With cell 4 the interior pixels x = 1..6 spread
 * over the two cells of an axis as 0.75, 1, .75+.25, .5+.5, .25+.75, 1
 * (the 0.25 of x = 1 falls off the grid): 3.25 to cell 0, 2.5 to cell 1.
 * The counts (norm none) are the products per cell. */
static void test_lbp_flat_counts(void **state)
{
    vb_image *img = vb_image_new(8, 8, 1, NULL);
    for (int i = 0; i < 64; i++)
        img->data[i] = 0.5f;
    vb_extractor *x = fu_extractor("lbp", "{cell: 4, norm: none}", 8, 8, 1);
    float out[4 * 58];
    fu_extract(x, img, out);
    const double expect[4] = {3.25 * 3.25, 3.25 * 2.5, 2.5 * 3.25, 2.5 * 2.5};
    for (int k = 0; k < 58; k++)
        for (int c = 0; c < 4; c++)
            assert_float_equal(out[k * 4 + c], k == 56 ? expect[c] : 0.0, 1e-5);
    vb_extractor_free(x);
    x = fu_extractor("lbp", "{cell: 4}", 8, 8, 1);
    fu_extract(x, img, out);
    for (int c = 0; c < 4; c++)
        assert_float_equal(out[56 * 4 + c], 1.0, 1e-6);
    vb_extractor_free(x);
    vb_extractor *bad = NULL;
    vb_error err = {0};
    tu_assert_fails_with(fu_extractor_try("lbp", "{cell: 9}", 8, 8, 1, &bad, &err), err, "larger than");
    vb_image_free(img);
}

/* ---- color ---------------------------------------------------------------- */

/* A 4x2 RGB image, 2 bins, cells [2, 1] (left and right halves):
 *   row 0: (0.1, 0.9, 0.5) (0.6, 0.2, 1.0) | (1.0, 1.0, 1.0) (0.0, 0.0, 0.0)
 *   row 1: (0.4, 0.4, 0.6) (0.7, 0.8, 0.1) | (0.5, 0.49, 0.2) (0.2, 0.6, 0.9)
 * left R: 0.1 0.6 0.4 0.7 -> bins [2, 2]; G: 0.9 0.2 0.4 0.8 -> [2, 2];
 *      B: 0.5 1.0 0.6 0.1 -> [1, 3]
 * right R: 1 0 0.5 0.2 -> [2, 2]; G: 1 0 0.49 0.6 -> [2, 2]; B: 1 0 .2 .9 -> [2, 2] */
static void test_color_rgb_hand(void **state)
{
    const float px[8][3] = {{0.1f, 0.9f, 0.5f}, {0.6f, 0.2f, 1.0f}, {1, 1, 1},         {0, 0, 0},
                            {0.4f, 0.4f, 0.6f}, {0.7f, 0.8f, 0.1f}, {0.5f, 0.49f, 0.2f}, {0.2f, 0.6f, 0.9f}};
    vb_image *img = vb_image_new(4, 2, 3, NULL);
    for (int i = 0; i < 8; i++)
        for (int k = 0; k < 3; k++)
            img->data[k * 8 + i] = px[i][k];
    vb_extractor *x = fu_extractor("color", "{bins: 2, cells: [2, 1], norm: none}", 4, 2, 3);
    assert_int_equal(x->dim, 12);
    float out[12];
    fu_extract(x, img, out);
    const float expect[12] = {2, 2, 2, 2, 1, 3, 2, 2, 2, 2, 2, 2};
    for (int j = 0; j < 12; j++)
        assert_float_equal(out[j], expect[j], 0);
    vb_extractor_free(x);
    x = fu_extractor("color", "{bins: 2, cells: [2, 1]}", 4, 2, 3); /* l1: fractions */
    fu_extract(x, img, out);
    for (int j = 0; j < 12; j++)
        assert_float_equal(out[j], expect[j] / 4.0, 1e-7);
    vb_extractor_free(x);
    x = fu_extractor("color", "{bins: 2, cells: [2, 1], norm: l2}", 4, 2, 3);
    fu_extract(x, img, out);
    assert_float_equal(out[4], 1 / sqrt(10.0), 1e-7);
    assert_float_equal(out[5], 3 / sqrt(10.0), 1e-7);
    assert_float_equal(out[0], 2 / sqrt(8.0), 1e-7);
    vb_extractor_free(x);
    vb_image_free(img);
}

/* HSV of pure colours: red (1,0,0) -> H 0, S 1, V 1; green -> H 1/3;
 * blue -> H 2/3; grey (0.5,0.5,0.5) -> H 0, S 0, V 0.5. With 3 bins:
 * H bins 0, 1, 2, 0; S bins 2, 2, 2, 0; V bins 2, 2, 2, 1. */
static void test_color_hsv_hand(void **state)
{
    const float px[4][3] = {{1, 0, 0}, {0, 1, 0}, {0, 0, 1}, {0.5f, 0.5f, 0.5f}};
    vb_image *img = vb_image_new(2, 2, 3, NULL);
    for (int i = 0; i < 4; i++)
        for (int k = 0; k < 3; k++)
            img->data[k * 4 + i] = px[i][k];
    vb_extractor *x = fu_extractor("color", "{space: hsv, bins: 3, norm: none}", 2, 2, 3);
    float out[9];
    fu_extract(x, img, out);
    const float expect[9] = {2, 1, 1, 1, 0, 3, 0, 1, 3};
    assert_memory_equal(out, expect, sizeof expect);
    vb_extractor_free(x);
    vb_image_free(img);
}

/* Grey images give one channel; values outside [0, 1] are clamped. A 3x3
 * image with cells [1, 3] (rows) and 4 bins: row 0 = 0, 0.25, 0.5;
 * row 1 = 0.74, 0.75, 1.0; row 2 = -1, 2, 0.3. */
static void test_color_grey_hand(void **state)
{
    const float v[9] = {0, 0.25f, 0.5f, 0.74f, 0.75f, 1.0f, -1, 2, 0.3f};
    vb_image *img = vb_image_new(3, 3, 1, NULL);
    memcpy(img->data, v, sizeof v);
    vb_extractor *x = fu_extractor("color", "{space: hsv, bins: 4, cells: [1, 3], norm: none}", 3, 3, 1);
    assert_int_equal(x->dim, 12);
    float out[12];
    fu_extract(x, img, out);
    const float expect[12] = {1, 1, 1, 0, 0, 0, 1, 2, 1, 1, 0, 1};
    assert_memory_equal(out, expect, sizeof expect);
    vb_extractor_free(x);
    vb_image_free(img);
}

/* ---- pca ------------------------------------------------------------------ */

static float *transform(const vb_post *p, const float *X, size_t n)
{
    float *out = malloc((n ? n : 1) * p->vt->dim(p->state) * sizeof *out);
    vb_error err = {0};
    if (p->vt->transform(p->state, X, n, out, &err) != VB_OK)
        fail_msg("transform: %s", err.msg);
    return out;
}

static void fit(vb_post *p, const float *X, size_t n)
{
    vb_error err = {0};
    if (p->vt->fit(p->state, X, n, &err) != VB_OK)
        fail_msg("fit: %s", err.msg);
}

/* A rank-r matrix: mean + A (n x r) B (r x d). */
static float *low_rank(size_t n, size_t d, size_t r, uint64_t seed)
{
    return fu_planted(n, d, r, 1.0, 1.0, 0.0, 3.0, 1.0, seed);
}

/* The components W (k x d) recovered through transform: T(e_j) - T(0) is
 * column j of W. */
static double *components(const vb_post *p, size_t d, size_t k)
{
    float *E = calloc((d + 1) * d, sizeof *E);
    for (size_t j = 0; j < d; j++)
        E[j * d + j] = 1;
    float *T = transform(p, E, d + 1);
    double *Wm = malloc(k * d * sizeof *Wm);
    for (size_t c = 0; c < k; c++)
        for (size_t j = 0; j < d; j++)
            Wm[c * d + j] = (double)T[j * k + c] - T[d * k + c];
    free(E);
    free(T);
    return Wm;
}

/* With r components a rank-r matrix is reproduced exactly: the projection
 * keeps all of |x - mean|^2, and the components are orthonormal. */
static void test_pca_rank_r(void **state)
{
    const size_t n = 60, d = 12, r = 3;
    float *X = low_rank(n, d, r, 1);
    vb_post *p = fu_post("pca", "{components: 3}", d);
    assert_int_equal(p->dim, 3);
    fit(p, X, n);
    float *Z = transform(p, X, n);
    double mean[12] = {0};
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++)
            mean[j] += X[i * d + j] / (double)n;
    double lost = 0, total = 0;
    for (size_t i = 0; i < n; i++) {
        double a = 0, b = 0;
        for (size_t j = 0; j < d; j++)
            a += pow(X[i * d + j] - mean[j], 2);
        for (size_t c = 0; c < r; c++)
            b += (double)Z[i * r + c] * Z[i * r + c];
        lost += a - b;
        total += a;
    }
    assert_true(fabs(lost) / total < 1e-5);
    double *Wm = components(p, d, r);
    for (size_t a = 0; a < r; a++)
        for (size_t b = 0; b < r; b++) {
            double dot = 0;
            for (size_t j = 0; j < d; j++)
                dot += Wm[a * d + j] * Wm[b * d + j];
            assert_float_equal(dot, a == b ? 1.0 : 0.0, 1e-5);
        }
    /* reconstruction x = mean + W' z, row by row */
    double worst = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++) {
            double x = mean[j];
            for (size_t c = 0; c < r; c++)
                x += Wm[c * d + j] * Z[i * r + c];
            worst = fmax(worst, fabs(x - X[i * d + j]) / (1 + fabs(X[i * d + j])));
        }
    assert_true(worst < 1e-4);
    free(Wm);
    free(Z);
    free(X);
    vb_post_free(p);
}

/* Rows +-a_j e_j (two per axis): mean 0, covariance diag(2 a_j^2 / (n-1)),
 * so the spectrum is proportional to a^2 = 100, 25, 4, 1, 0.25 (total
 * 130.25). Kept fractions: 1 -> 0.768, 2 -> 0.960, 3 -> 0.990, 4 -> 0.998.
 * The components are e_0, e_1, ... with the positive sign. */
static void test_pca_variance_selection(void **state)
{
    const double a[5] = {10, 5, 2, 1, 0.5};
    float X[10 * 5] = {0};
    for (int j = 0; j < 5; j++) {
        X[(2 * j) * 5 + j] = (float)a[j];
        X[(2 * j + 1) * 5 + j] = (float)-a[j];
    }
    const struct {
        const char *yaml;
        size_t k;
    } cases[] = {{"{variance: 0.7}", 1}, {"{variance: 0.95}", 2}, {"{variance: 0.96}", 3},
                 {"{variance: 0.99}", 3}, {"{variance: 0.995}", 4}, {"{variance: 1}", 5}};
    for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
        vb_post *p = fu_post("pca", cases[t].yaml, 5);
        assert_int_equal(p->vt->dim(p->state), 5); /* unknown before fit: the upper bound */
        fit(p, X, 10);
        size_t k = p->vt->dim(p->state);
        if (k != cases[t].k)
            fail_msg("%s kept %zu components, expected %zu", cases[t].yaml, k, cases[t].k);
        double *Wm = components(p, 5, k);
        for (size_t c = 0; c < k; c++)
            for (size_t j = 0; j < 5; j++)
                assert_float_equal(Wm[c * 5 + j], c == j ? 1.0 : 0.0, 1e-6);
        free(Wm);
        vb_post_free(p);
    }
    /* whitening: each kept component has unit variance on the training rows */
    vb_post *p = fu_post("pca", "{components: 3, whiten: true}", 5);
    fit(p, X, 10);
    float *Z = transform(p, X, 10);
    for (int c = 0; c < 3; c++) {
        double v = 0;
        for (int i = 0; i < 10; i++)
            v += (double)Z[i * 3 + c] * Z[i * 3 + c];
        assert_float_equal(v / 9.0, 1.0, 1e-5);
    }
    free(Z);
    vb_post_free(p);
}

/* The LAPACK route agrees with GSL's gsl_eigen_symmv (the reference). */
static void test_pca_matches_gsl(void **state)
{
    const size_t n = 200, d = 30;
    float *X = low_rank(n, d, 30, 7);
    double *m1, *v1, *w1, *m2, *v2, *w2;
    vb_error err = {0};
    assert_int_equal(vb_pca_eig(X, n, d, &m1, &v1, &w1, &err), VB_OK);
    assert_int_equal(vbf_pca_eig_gsl(X, n, d, &m2, &v2, &w2, &err), VB_OK);
    for (size_t k = 0; k < d; k++) {
        assert_float_equal(v1[k], v2[k], 1e-9 * v1[0]);
        if (k + 1 < d)
            assert_true(v1[k] >= v1[k + 1]);
    }
    for (size_t k = 0; k < 10; k++) /* well-separated leading vectors */
        for (size_t j = 0; j < d; j++)
            assert_float_equal(w1[k * d + j], w2[k * d + j], 1e-6);
    free(m1), free(v1), free(w1), free(m2), free(v2), free(w2);
    free(X);
}

/* Fit on A; transforming other rows B1 and B2 leaves the fitted state and
 * A's projection unchanged; save -> load gives bit-identical output; every
 * truncation and a NaN are rejected. */
static void test_pca_isolation_and_round_trip(void **state)
{
    const size_t n = 40, d = 8;
    float *A = low_rank(n, d, 8, 2), *B1 = low_rank(10, d, 8, 3), *B2 = low_rank(10, d, 8, 4);
    vb_post *p = fu_post("pca", "{variance: 0.9, whiten: true}", d);
    fit(p, A, n);
    size_t k = p->vt->dim(p->state), l1, l2;
    uint8_t *s1 = fu_save_post(p, &l1);
    float *ZA = transform(p, A, n);
    free(transform(p, B1, 10));
    free(transform(p, B2, 10));
    uint8_t *s2 = fu_save_post(p, &l2);
    assert_int_equal(l1, l2);
    assert_memory_equal(s1, s2, l1);
    float *ZA2 = transform(p, A, n);
    assert_memory_equal(ZA, ZA2, n * k * sizeof *ZA);
    /* a second fit on the same A (after seeing B) is the same state */
    vb_post *q = fu_post("pca", "{variance: 0.9, whiten: true}", d);
    free(transform(p, B2, 10));
    fit(q, A, n);
    uint8_t *s3 = fu_save_post(q, &l2);
    assert_memory_equal(s1, s3, l1);
    vb_post_free(q);

    vb_post *r = fu_post("pca", "{variance: 0.9, whiten: true}", d);
    vb_error err = {0};
    vb_reader rd;
    for (size_t cut = 0; cut < l1; cut++) {
        vb_reader_init(&rd, s1, cut, "pca state");
        if (r->vt->load(r->state, &rd, &err) != VB_ERR_FORMAT)
            fail_msg("a pca state cut at %zu of %zu bytes was accepted", cut, l1);
    }
    vb_reader_init(&rd, s1, l1, "pca state");
    assert_int_equal(r->vt->load(r->state, &rd, &err), VB_OK);
    assert_int_equal(vb_reader_end(&rd, &err), VB_OK);
    assert_int_equal(r->vt->dim(r->state), k);
    float *ZB = transform(p, B1, 10), *ZB2 = transform(r, B1, 10);
    assert_memory_equal(ZB, ZB2, 10 * k * sizeof *ZB);
    float nan = NAN;
    memcpy(s2 + 32, &nan, 4); /* the second mean value: 4 + 8 + 8 + 8 bytes of header, one float */
    vb_reader_init(&rd, s2, l1, "pca state");
    assert_int_equal(r->vt->load(r->state, &rd, &err), VB_ERR_FORMAT);
    /* a state for another input size */
    vb_post *o = fu_post("pca", "{variance: 0.9}", d + 1);
    vb_reader_init(&rd, s1, l1, "pca state");
    tu_assert_fails_with(o->vt->load(o->state, &rd, &err), err, "fitted on 8 features");
    vb_post_free(o);
    free(s1), free(s2), free(s3), free(ZA), free(ZA2), free(ZB), free(ZB2);
    free(A), free(B1), free(B2);
    vb_post_free(p);
    vb_post_free(r);
}

static void test_pca_errors(void **state)
{
    vb_post *p = NULL;
    vb_error err = {0};
    tu_assert_fails_with(fu_post_try("pca", "{components: 3, variance: 0.5}", 10, &p, &err), err, "not both");
    tu_assert_fails_with(fu_post_try("pca", "{components: 11}", 10, &p, &err), err, "11 components asked of 10");
    p = fu_post("pca", "{components: 5}", 10);
    float X[5 * 10] = {0};
    tu_assert_fails_with(p->vt->fit(p->state, X, 5, &err), err, "span at most 4 dimensions");
    float out[10];
    tu_assert_fails_with(p->vt->transform(p->state, X, 1, out, &err), err, "before fit");
    vb_post_free(p);
}

/* In a chain, pca by variance fixes its size at fit and the steps after it
 * are rebuilt for that size. */
static void test_chain_variance_pca(void **state)
{
    const char *text = "name: t\n"
                       "dataset: {format: folder, path: nowhere}\n"
                       "split: {protocol: holdout}\n"
                       "pipelines:\n"
                       "  - name: p\n"
                       "    postprocess: [{pca: {variance: 0.95}}, standardize, {homkermap: {order: 1}}]\n"
                       "    classifier: svm\n";
    vb_spec *spec = NULL;
    vb_error err = {0};
    if (vb_spec_parse(text, "chain.yaml", &spec, &err) != VB_OK)
        fail_msg("%s", err.msg);
    const double a[5] = {10, 5, 2, 1, 0.5};
    float X[10 * 5] = {0};
    for (int j = 0; j < 5; j++) {
        X[(2 * j) * 5 + j] = (float)a[j];
        X[(2 * j + 1) * 5 + j] = (float)-a[j];
    }
    vb_postchain *pc = NULL;
    assert_int_equal(vb_postchain_new(&spec->pipelines[0], 5, &pc, &err), VB_OK);
    assert_int_equal(pc->dim, 15); /* before fit: 5 -> 5 -> 5 x 3 */
    float *out = NULL;
    assert_int_equal(vb_postchain_fit(pc, X, 10, &out, &err), VB_OK);
    assert_int_equal(pc->dim, 6); /* 2 components x 3 */
    assert_int_equal(pc->post[1]->dim_in, 2);
    float *again = NULL;
    assert_int_equal(vb_postchain_apply(pc, X, 10, &again, &err), VB_OK);
    assert_memory_equal(out, again, 10 * 6 * sizeof *out);
    free(out);
    free(again);
    vb_postchain_free(pc);
    vb_spec_free(spec);
}

/* ---- power and homkermap -------------------------------------------------- */

static void test_power_known(void **state)
{
    const float in[4] = {-4, 0, 9, 0.25f};
    vb_post *p = fu_post("power", "{}", 4);
    float out[4];
    vb_error err = {0};
    assert_int_equal(p->vt->transform(p->state, in, 1, out, &err), VB_OK);
    const float e1[4] = {-2, 0, 3, 0.5f};
    assert_memory_equal(out, e1, sizeof e1);
    vb_post_free(p);
    p = fu_post("power", "2", 4);
    assert_int_equal(p->vt->transform(p->state, in, 1, out, &err), VB_OK);
    const float e2[4] = {-16, 0, 81, 0.0625f};
    for (int j = 0; j < 4; j++)
        assert_float_equal(out[j], e2[j], 1e-6);
    vb_post_free(p);
}

/* The map is VLFeat's, 2n+1 consecutive values per input value, and inner
 * products of mapped values approximate the kernels: chi2 2xy/(x+y),
 * intersection min(x, y), JS x/2 log2((x+y)/x) + y/2 log2((x+y)/y). */
static void test_homkermap(void **state)
{
    const float in[2] = {0.3f, 0.5f};
    const char *kernels[3] = {"chi2", "intersection", "js"};
    const VlHomogeneousKernelType types[3] = {VlHomogeneousKernelChi2, VlHomogeneousKernelIntersection,
                                              VlHomogeneousKernelJS};
    const double x = 0.3, y = 0.5;
    const double truth[3] = {2 * x * y / (x + y), fmin(x, y),
                             x / 2 * log2((x + y) / x) + y / 2 * log2((x + y) / y)};
    const double tol[3] = {2e-3, 2e-2, 2e-3};
    for (int t = 0; t < 3; t++) {
        char yaml[80];
        snprintf(yaml, sizeof yaml, "{kernel: %s, order: 3}", kernels[t]);
        vb_post *p = fu_post("homkermap", yaml, 2);
        assert_int_equal(p->dim, 14);
        float out[14], ref[7];
        vb_error err = {0};
        assert_int_equal(p->vt->transform(p->state, in, 1, out, &err), VB_OK);
        VlHomogeneousKernelMap *m =
            vl_homogeneouskernelmap_new(types[t], 1.0, 3, -1, VlHomogeneousKernelMapWindowRectangular);
        vl_homogeneouskernelmap_evaluate_f(m, ref, 1, in[1]);
        assert_memory_equal(out + 7, ref, sizeof ref);
        vl_homogeneouskernelmap_delete(m);
        double dot = 0;
        for (int k = 0; k < 7; k++)
            dot += (double)out[k] * out[7 + k];
        if (fabs(dot - truth[t]) > tol[t])
            fail_msg("%s: <psi(x), psi(y)> = %g, kernel %g", kernels[t], dot, truth[t]);
        vb_post_free(p);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lbp_equals_vlfeat),
        cmocka_unit_test(test_lbp_flat_counts),
        cmocka_unit_test(test_color_rgb_hand),
        cmocka_unit_test(test_color_hsv_hand),
        cmocka_unit_test(test_color_grey_hand),
        cmocka_unit_test(test_pca_rank_r),
        cmocka_unit_test(test_pca_variance_selection),
        cmocka_unit_test(test_pca_matches_gsl),
        cmocka_unit_test(test_pca_isolation_and_round_trip),
        cmocka_unit_test(test_pca_errors),
        cmocka_unit_test(test_chain_variance_pca),
        cmocka_unit_test(test_power_known),
        cmocka_unit_test(test_homkermap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
