/* sift: dense/keypoint SIFT with BoVW, VLAD and Fisher encodings, checked
 * against VLFeat's vl_dsift called directly plus hand-written encoders,
 * hand-counted frames, fit isolation, determinism and save/load. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "support/featutil.h"
#include "support/testutil.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <vl/dsift.h>
#include <vl/generic.h>
#include <vl/imopv.h>

#define W 24
#define H 24
#define N_TRAIN 12

static vb_image *train[N_TRAIN];
static vb_image *other[4];

static int setup(void **state)
{
    for (int i = 0; i < N_TRAIN; i++)
        train[i] = fu_image(W, H, 1, 100 + (uint64_t)i);
    for (int i = 0; i < 4; i++)
        other[i] = fu_image(W, H, 1, 900 + (uint64_t)i);
    return 0;
}

static int teardown(void **state)
{
    for (int i = 0; i < N_TRAIN; i++)
        vb_image_free(train[i]);
    for (int i = 0; i < 4; i++)
        vb_image_free(other[i]);
    return 0;
}

static vb_extractor *fitted(const char *yaml, uint64_t seed)
{
    vb_extractor *x = fu_extractor("sift", yaml, W, H, 1);
    vb_imgsrc src;
    fu_source(&src, train, N_TRAIN);
    vb_error err = {0};
    if (x->vt->fit(x->state, &src, seed, &err) != VB_OK)
        fail_msg("fit: %s", err.msg);
    return x;
}

/* The fitted state as saved: sift header, then the encoder's fields. */
typedef struct saved {
    uint32_t kind;
    uint64_t K, din, d;
    double sigma;
    float *mean, *proj, *centers, *covs, *priors;
} saved;

static void parse_saved(const vb_extractor *x, int pca, saved *s)
{
    size_t len;
    uint8_t *bytes = fu_save_extractor(x, &len);
    vb_reader r;
    vb_reader_init(&r, bytes, len, "state");
    vb_error err = {0};
    uint32_t v;
    size_t n;
    memset(s, 0, sizeof *s);
    assert_int_equal(vb_read_u32(&r, &v, &err), VB_OK);
    assert_int_equal(vb_read_u32(&r, &v, &err), VB_OK);
    assert_int_equal(vb_read_u32(&r, &s->kind, &err), VB_OK);
    assert_int_equal(vb_read_u64(&r, &s->K, &err), VB_OK);
    assert_int_equal(vb_read_u64(&r, &s->din, &err), VB_OK);
    assert_int_equal(vb_read_u64(&r, &s->d, &err), VB_OK);
    assert_int_equal(vb_read_f64(&r, &s->sigma, &err), VB_OK);
    if (pca) {
        assert_int_equal(vb_read_f32s_alloc(&r, &s->mean, &n, &err), VB_OK);
        assert_int_equal(vb_read_f32s_alloc(&r, &s->proj, &n, &err), VB_OK);
    }
    assert_int_equal(vb_read_f32s_alloc(&r, &s->centers, &n, &err), VB_OK);
    assert_int_equal(n, s->K * s->d);
    if (s->kind == 2) {
        assert_int_equal(vb_read_f32s_alloc(&r, &s->covs, &n, &err), VB_OK);
        assert_int_equal(vb_read_f32s_alloc(&r, &s->priors, &n, &err), VB_OK);
    }
    assert_int_equal(vb_reader_end(&r, &err), VB_OK);
    free(bytes);
}

static void saved_free(saved *s)
{
    free(s->mean);
    free(s->proj);
    free(s->centers);
    free(s->covs);
    free(s->priors);
}

/* Reference descriptors: one scale, no smoothing, no contrast threshold,
 * straight from vl_dsift with the extractor's geometry (flat window,
 * window size 1.5). Returns n x 128 descriptors and frame centres. */
static float *ref_dsift(const vb_image *img, int step, int bin, size_t *n, float **pos)
{
    VlDsiftFilter *f = vl_dsift_new_basic(img->w, img->h, step, bin);
    vl_dsift_set_flat_window(f, VL_TRUE);
    vl_dsift_set_window_size(f, 1.5);
    vl_dsift_process(f, img->data);
    *n = (size_t)vl_dsift_get_keypoint_num(f);
    float *d = malloc(*n * 128 * sizeof *d);
    *pos = malloc(*n * 2 * sizeof **pos);
    memcpy(d, vl_dsift_get_descriptors(f), *n * 128 * sizeof *d);
    const VlDsiftKeypoint *kp = vl_dsift_get_keypoints(f);
    for (size_t i = 0; i < *n; i++) {
        (*pos)[2 * i] = (float)kp[i].x;
        (*pos)[2 * i + 1] = (float)kp[i].y;
    }
    vl_dsift_delete(f);
    return d;
}

/* Reference dense descriptors as the extractor computed them before it had
 * its own dense SIFT: for each bin size, vl_imsmooth_f with
 * sigma = bin / magnif (when magnif > 0), vl_dsift with PHOW's bounds
 * (offset floor(1.5 (max bin - bin))), descriptors of mass below contrast
 * zeroed (drop = 0) or left out (drop = 1). Returns n x 128 values. */
static float *ref_dense(const vb_image *img, int step, const int *bins, int nb, double magnif, int flat, double ws,
                        double contrast, int drop, size_t *n)
{
    int w = img->w, h = img->h, maxbin = 0;
    for (int k = 0; k < nb; k++)
        maxbin = bins[k] > maxbin ? bins[k] : maxbin;
    float *sm = malloc((size_t)w * h * sizeof *sm), *out = NULL;
    *n = 0;
    for (int k = 0; k < nb; k++) {
        const float *im = img->data;
        if (magnif > 0) {
            vl_imsmooth_f(sm, w, img->data, w, h, w, bins[k] / magnif, bins[k] / magnif);
            im = sm;
        }
        int off = (int)floor(1.5 * (maxbin - bins[k]));
        VlDsiftFilter *f = vl_dsift_new_basic(w, h, step, bins[k]);
        vl_dsift_set_flat_window(f, flat ? VL_TRUE : VL_FALSE);
        vl_dsift_set_window_size(f, ws);
        vl_dsift_set_bounds(f, off, off, w - 1, h - 1);
        vl_dsift_process(f, im);
        size_t m = (size_t)vl_dsift_get_keypoint_num(f);
        out = realloc(out, (*n + m + 1) * 128 * sizeof *out);
        const float *d = vl_dsift_get_descriptors(f);
        const VlDsiftKeypoint *kp = vl_dsift_get_keypoints(f);
        for (size_t i = 0; i < m; i++) {
            int low = contrast > 0 && kp[i].norm < contrast;
            if (low && drop)
                continue;
            if (low)
                memset(out + *n * 128, 0, 128 * sizeof *out);
            else
                memcpy(out + *n * 128, d + i * 128, 128 * sizeof *out);
            (*n)++;
        }
        vl_dsift_delete(f);
    }
    free(sm);
    return out;
}

static size_t nearest(const float *x, const float *C, size_t K, size_t d)
{
    size_t best = 0;
    double bd = INFINITY;
    for (size_t k = 0; k < K; k++) {
        double s = 0;
        for (size_t j = 0; j < d; j++)
            s += ((double)x[j] - C[k * d + j]) * ((double)x[j] - C[k * d + j]);
        if (s < bd) {
            bd = s;
            best = k;
        }
    }
    return best;
}

#define ONE_SCALE "bin: [3], step: 2, magnif: 0, contrast: 0"

/* 24x24, step 2, bin 3: a frame spans 3*3+1 = 10 pixels, so its corner runs
 * over 0, 2, ..., 14: 8 x 8 = 64 frames with centres at corner + 4.5. With a
 * 2x2 pyramid level each quarter holds 4 x 4 = 16 of them. */
static void test_bovw_counts_and_reference(void **state)
{
    vb_extractor *x = fitted("{" ONE_SCALE ", words: 8, pyramid: [1, 2], norm: none, sqrt: false}", 7);
    assert_int_equal(x->dim, 8 * 5);
    saved s;
    parse_saved(x, 0, &s);
    assert_int_equal(s.K, 8);
    for (int t = 0; t < 3; t++) {
        const vb_image *img = t < 2 ? other[t] : train[t];
        float out[40];
        fu_extract(x, img, out);
        size_t n;
        float *pos;
        float *D = ref_dsift(img, 2, 3, &n, &pos);
        assert_int_equal(n, 64);
        double expect[40] = {0};
        for (size_t i = 0; i < n; i++) {
            size_t k = nearest(D + i * 128, s.centers, 8, 128);
            size_t cx = pos[2 * i] + 0.5 < 12 ? 0 : 1, cy = pos[2 * i + 1] + 0.5 < 12 ? 0 : 1;
            expect[k] += 1;
            expect[(1 + cy * 2 + cx) * 8 + k] += 1;
        }
        double total = 0, quarter[4] = {0};
        for (int j = 0; j < 40; j++) {
            assert_float_equal(out[j], expect[j], 1e-6);
            if (j < 8)
                total += out[j];
            else
                quarter[(j - 8) / 8] += out[j];
        }
        assert_float_equal(total, 64, 1e-6);
        for (int q = 0; q < 4; q++)
            assert_float_equal(quarter[q], 16, 1e-6);
        free(D);
        free(pos);
    }
    saved_free(&s);
    vb_extractor_free(x);
}

/* l1 + sqrt: each cell is sqrt(h / n) (the Hellinger map), so its squares
 * sum to one; the whole pyramid is then l1-normalised again. */
static void test_bovw_normalisation(void **state)
{
    vb_extractor *a = fitted("{" ONE_SCALE ", words: 8, pyramid: [1], norm: none, sqrt: false}", 7);
    vb_extractor *b = fitted("{" ONE_SCALE ", words: 8, pyramid: [1], norm: l2, sqrt: true}", 7);
    float ha[8], hb[8];
    fu_extract(a, other[0], ha);
    fu_extract(b, other[0], hb);
    for (int k = 0; k < 8; k++)
        assert_float_equal(hb[k], sqrt(ha[k] / 64.0), 1e-6);
    vb_extractor_free(a);
    vb_extractor_free(b);
}

/* Soft assignment: each descriptor spreads weight 1 over the words in
 * proportion to exp(-d^2 / (2 sigma^2)). */
static void test_bovw_soft(void **state)
{
    vb_extractor *x = fitted("{" ONE_SCALE ", words: 8, pyramid: [1], norm: none, sqrt: false, assign: soft, "
                             "sigma: 0.3}", 7);
    saved s;
    parse_saved(x, 0, &s);
    assert_float_equal(s.sigma, 0.3, 0);
    float out[8];
    fu_extract(x, other[1], out);
    size_t n;
    float *pos, *D = ref_dsift(other[1], 2, 3, &n, &pos);
    double expect[8] = {0}, total = 0;
    for (size_t i = 0; i < n; i++) {
        double d2[8], m = INFINITY, z = 0;
        for (int k = 0; k < 8; k++) {
            d2[k] = 0;
            for (int j = 0; j < 128; j++)
                d2[k] += pow((double)D[i * 128 + j] - s.centers[k * 128 + j], 2);
            m = fmin(m, d2[k]);
        }
        for (int k = 0; k < 8; k++)
            z += exp(-(d2[k] - m) / (2 * 0.09));
        for (int k = 0; k < 8; k++)
            expect[k] += exp(-(d2[k] - m) / (2 * 0.09)) / z;
    }
    for (int k = 0; k < 8; k++) {
        assert_float_equal(out[k], expect[k], 1e-4);
        total += out[k];
    }
    assert_float_equal(total, 64, 1e-4);
    free(D);
    free(pos);
    saved_free(&s);
    vb_extractor_free(x);
    /* sigma: auto resolves to a positive width at fit */
    x = fitted("{" ONE_SCALE ", words: 8, assign: soft, knn: 3}", 7);
    parse_saved(x, 0, &s);
    assert_true(s.sigma > 0);
    saved_free(&s);
    vb_extractor_free(x);
}

/* VLAD, hard, unnormalised: cell k holds sum over its descriptors of
 * (x - c_k). */
static void test_vlad_reference(void **state)
{
    vb_extractor *x = fitted("{" ONE_SCALE ", words: 3, encoding: vlad, pyramid: [1], norm: none, sqrt: false}", 9);
    assert_int_equal(x->dim, 3 * 128);
    saved s;
    parse_saved(x, 0, &s);
    float out[3 * 128];
    fu_extract(x, other[2], out);
    size_t n;
    float *pos, *D = ref_dsift(other[2], 2, 3, &n, &pos);
    double expect[3 * 128] = {0};
    for (size_t i = 0; i < n; i++) {
        size_t k = nearest(D + i * 128, s.centers, 3, 128);
        for (int j = 0; j < 128; j++)
            expect[k * 128 + j] += (double)D[i * 128 + j] - s.centers[k * 128 + j];
    }
    for (int j = 0; j < 3 * 128; j++)
        assert_float_equal(out[j], expect[j], 1e-4);
    free(D);
    free(pos);
    saved_free(&s);
    vb_extractor_free(x);
}

/* Fisher vector with one Gaussian (prior 1): u_j = mean_i (x_ij - mu_j) /
 * sigma_j and v_j = mean_i ((x_ij - mu_j)^2 / sigma_j^2 - 1) / sqrt(2). */
static void test_fisher_one_gaussian(void **state)
{
    vb_extractor *x = fitted("{" ONE_SCALE ", words: 1, encoding: fisher, pyramid: [1], norm: none, sqrt: false}", 9);
    assert_int_equal(x->dim, 2 * 128);
    saved s;
    parse_saved(x, 0, &s);
    assert_float_equal(s.priors[0], 1.0, 1e-6);
    float out[256];
    fu_extract(x, other[3], out);
    size_t n;
    float *pos, *D = ref_dsift(other[3], 2, 3, &n, &pos);
    for (int j = 0; j < 128; j++) {
        double u = 0, v = 0, mu = s.centers[j], sd = sqrt(s.covs[j]);
        for (size_t i = 0; i < n; i++) {
            double z = (D[i * 128 + j] - mu) / sd;
            u += z;
            v += z * z - 1;
        }
        u /= (double)n;
        v /= (double)n * sqrt(2.0);
        assert_float_equal(out[j], u, 1e-3 * fmax(1, fabs(u)));
        assert_float_equal(out[128 + j], v, 1e-3 * fmax(1, fabs(v)));
    }
    free(D);
    free(pos);
    saved_free(&s);
    vb_extractor_free(x);
}

/* Improved Fisher vectors with descriptor PCA over a pyramid: every cell is
 * unit length after the signed square root, and so is the whole vector. */
static void test_fisher_pyramid_norms(void **state)
{
    vb_extractor *x = fitted("{bin: [3, 4], words: 4, encoding: fisher, descriptor_pca: 16, pyramid: [1, 2]}", 11);
    assert_int_equal(x->dim, 5 * 2 * 4 * 16);
    float *out = malloc(x->dim * sizeof *out);
    fu_extract(x, other[0], out);
    double total = 0;
    for (size_t j = 0; j < x->dim; j++) {
        assert_true(isfinite(out[j]));
        total += (double)out[j] * out[j];
    }
    assert_float_equal(total, 1.0, 1e-5);
    free(out);
    vb_extractor_free(x);
}

/* Keypoints: a blank image has none (all zeros); a single blob in the
 * top-left quarter puts all the mass in that quarter's cell. */
static void test_keypoints(void **state)
{
    vb_extractor *x = fitted("{mode: keypoints, words: 4, pyramid: [2], norm: none, sqrt: false}", 5);
    float out[16];
    vb_image *blank = vb_image_new(W, H, 1, NULL);
    fu_extract(x, blank, out);
    for (int j = 0; j < 16; j++)
        assert_float_equal(out[j], 0, 0);
    for (int y = 0; y < H; y++)
        for (int xx = 0; xx < W; xx++)
            blank->data[y * W + xx] = (float)exp(-((xx - 6.0) * (xx - 6.0) + (y - 6.0) * (y - 6.0)) / 8.0);
    fu_extract(x, blank, out);
    double top_left = 0, rest = 0;
    for (int j = 0; j < 16; j++) {
        if (j < 4)
            top_left += out[j];
        else
            rest += out[j];
    }
    assert_true(top_left >= 1);
    assert_float_equal(rest, 0, 0);
    vb_image_free(blank);
    vb_extractor_free(x);
}

/* Colour images are described through their luma. */
static void test_colour_uses_luma(void **state)
{
    vb_extractor *g = fitted("{" ONE_SCALE ", words: 6}", 3);
    vb_extractor *c = fu_extractor("sift", "{" ONE_SCALE ", words: 6}", W, H, 3);
    size_t len;
    uint8_t *bytes = fu_save_extractor(g, &len);
    vb_reader r;
    vb_reader_init(&r, bytes, len, "state");
    vb_error err = {0};
    assert_int_equal(c->vt->load(c->state, &r, &err), VB_OK);
    vb_image *rgb = fu_image(W, H, 3, 77), *grey = vb_image_new(W, H, 1, NULL);
    for (int i = 0; i < W * H; i++)
        grey->data[i] = 0.299f * rgb->data[i] + 0.587f * rgb->data[W * H + i] + 0.114f * rgb->data[2 * W * H + i];
    float a[30], b[30];
    fu_extract(g, grey, a);
    fu_extract(c, rgb, b);
    assert_memory_equal(a, b, sizeof a);
    free(bytes);
    vb_image_free(rgb);
    vb_image_free(grey);
    vb_extractor_free(g);
    vb_extractor_free(c);
}

/* The fitted codebook depends on the training images only: extracting
 * other images (B1, then B2) leaves it and the training features as they
 * were. */
static void test_fit_isolation(void **state)
{
    const char *yamls[] = {"{words: 8}", "{words: 4, encoding: vlad, descriptor_pca: 16}",
                           "{words: 3, encoding: fisher, descriptor_pca: 16}"};
    for (int t = 0; t < 3; t++) {
        vb_extractor *x1 = fitted(yamls[t], 21), *x2 = fitted(yamls[t], 21);
        size_t l1, l2;
        uint8_t *s1 = fu_save_extractor(x1, &l1);
        float *f1 = malloc(x1->dim * sizeof *f1), *f2 = malloc(x1->dim * sizeof *f2), *tmp = malloc(x1->dim * sizeof *tmp);
        fu_extract(x1, other[0], tmp); /* test set B1 */
        fu_extract(x1, other[1], tmp);
        fu_extract(x2, other[2], tmp); /* test set B2 */
        fu_extract(x2, other[3], tmp);
        uint8_t *s2 = fu_save_extractor(x2, &l2);
        assert_int_equal(l1, l2);
        assert_memory_equal(s1, s2, l1);
        uint8_t *s1b = fu_save_extractor(x1, &l2);
        assert_memory_equal(s1, s1b, l1);
        for (int i = 0; i < N_TRAIN; i++) {
            fu_extract(x1, train[i], f1);
            fu_extract(x2, train[i], f2);
            assert_memory_equal(f1, f2, x1->dim * sizeof *f1);
        }
        free(s1);
        free(s1b);
        free(s2);
        free(f1);
        free(f2);
        free(tmp);
        vb_extractor_free(x1);
        vb_extractor_free(x2);
    }
}

/* Same seed, same codebook, whatever the thread count (ours and VLFeat's,
 * which keeps its own for k-means and the GMM posteriors); another seed
 * gives another k-means++ start. */
static void test_determinism(void **state)
{
    const char *yamls[] = {"{words: 6, encoding: fisher, descriptor_pca: 12, max_descriptors: 700}",
                           "{words: 8, kmeans: lloyd}", "{words: 8, kmeans: ann}"};
    int threads = omp_get_max_threads();
    vl_size vl_threads = vl_get_max_threads();
    for (int t = 0; t < 3; t++) {
        omp_set_num_threads(1);
        vl_set_num_threads(1);
        vb_extractor *a = fitted(yamls[t], 33);
        omp_set_num_threads(2);
        vl_set_num_threads(2);
        vb_extractor *b = fitted(yamls[t], 33), *c = fitted(yamls[t], 34);
        omp_set_num_threads(threads);
        vl_set_num_threads(vl_threads);
        size_t la, lb, lc;
        uint8_t *sa = fu_save_extractor(a, &la), *sb = fu_save_extractor(b, &lb), *sc = fu_save_extractor(c, &lc);
        assert_int_equal(la, lb);
        if (memcmp(sa, sb, la) != 0)
            fail_msg("%s: the fitted state depends on the thread count", yamls[t]);
        assert_int_equal(la, lc);
        assert_true(memcmp(sa, sc, la) != 0);
        free(sa);
        free(sb);
        free(sc);
        vb_extractor_free(a);
        vb_extractor_free(b);
        vb_extractor_free(c);
    }
}

/* save -> load into a fresh extractor gives bit-identical features; every
 * truncation of the state and a few corruptions are rejected. */
static void round_trip(const char *yaml)
{
    vb_extractor *x = fitted(yaml, 44), *y = fu_extractor("sift", yaml, W, H, 1);
    size_t len;
    uint8_t *bytes = fu_save_extractor(x, &len);
    vb_error err = {0};
    vb_reader r;
    /* before load: extract refuses */
    float *fa = malloc(x->dim * sizeof *fa), *fb = malloc(x->dim * sizeof *fb);
    void *sc = y->vt->scratch_new(y->state);
    assert_int_equal(y->vt->extract(y->state, sc, other[0], fb, &err), VB_ERR_STATE);
    y->vt->scratch_free(sc);
    for (size_t cut = 0; cut < len; cut += (len > 4000 ? 7 : 1)) {
        vb_reader_init(&r, bytes, cut, "state");
        err.msg[0] = 0;
        if (y->vt->load(y->state, &r, &err) != VB_ERR_FORMAT)
            fail_msg("%s: a state cut at %zu of %zu bytes was accepted (%s)", yaml, cut, len, err.msg);
    }
    vb_reader_init(&r, bytes, len, "state");
    if (y->vt->load(y->state, &r, &err) != VB_OK)
        fail_msg("load: %s", err.msg);
    assert_int_equal(vb_reader_end(&r, &err), VB_OK);
    for (int t = 0; t < 4; t++) {
        fu_extract(x, other[t], fa);
        fu_extract(y, other[t], fb);
        assert_memory_equal(fa, fb, x->dim * sizeof *fa);
    }
    /* corruptions: version, encoding kind, a NaN centre (the last float) */
    uint8_t *bad = malloc(len);
    memcpy(bad, bytes, len);
    bad[0] = 9;
    vb_reader_init(&r, bad, len, "state");
    assert_int_equal(y->vt->load(y->state, &r, &err), VB_ERR_FORMAT);
    memcpy(bad, bytes, len);
    bad[8] ^= 1;
    vb_reader_init(&r, bad, len, "state");
    assert_int_equal(y->vt->load(y->state, &r, &err), VB_ERR_FORMAT);
    memcpy(bad, bytes, len);
    float nan = NAN;
    memcpy(bad + len - 4, &nan, 4);
    vb_reader_init(&r, bad, len, "state");
    assert_int_equal(y->vt->load(y->state, &r, &err), VB_ERR_FORMAT);
    /* a state for other parameters */
    vb_extractor *z = fu_extractor("sift", "{words: 5}", W, H, 1);
    vb_reader_init(&r, bytes, len, "state");
    tu_assert_fails_with(z->vt->load(z->state, &r, &err), err, "other parameters");
    free(bad);
    free(bytes);
    free(fa);
    free(fb);
    vb_extractor_free(x);
    vb_extractor_free(y);
    vb_extractor_free(z);
}

static void test_save_load_bovw(void **state) { round_trip("{words: 6, assign: soft, knn: 2}"); }
static void test_save_load_vlad(void **state) { round_trip("{words: 4, encoding: vlad, descriptor_pca: 8, norm: intra}"); }
static void test_save_load_fisher(void **state) { round_trip("{words: 3, encoding: fisher, descriptor_pca: 8}"); }

/* encoding: none outputs the descriptors themselves, equal bit for bit to
 * the reference: one scale (8 x 8 frames of 24x24, step 2, bin 3), PHOW's
 * three smoothed scales with the contrast threshold, window sizes, the
 * Gaussian window (vl_dsift), and RootSIFT. Nothing to fit: extract works
 * on a fresh extractor, and save/load carries no state. */
static void test_encoding_none(void **state)
{
    static const struct {
        const char *yaml;
        int step, bins[3], nb, flat, root;
        double magnif, ws, contrast;
    } cases[] = {
        {"{" ONE_SCALE ", encoding: none}", 2, {3}, 1, 1, 0, 0, 1.5, 0},
        {"{encoding: none}", 2, {4, 6, 8}, 3, 1, 0, 6, 1.5, 0.005},
        {"{encoding: none, bin: [2, 3, 4], step: 1, contrast: 0.02}", 1, {2, 3, 4}, 3, 1, 0, 6, 1.5, 0.02},
        {"{encoding: none, bin: [5], step: 3, magnif: 0, window_size: 2}", 3, {5}, 1, 1, 0, 0, 2, 0.005},
        {"{encoding: none, bin: [4], step: 2, flat_window: false}", 2, {4}, 1, 0, 0, 6, 1.5, 0.005},
        {"{encoding: none, bin: [3, 4], root: true}", 2, {3, 4}, 2, 1, 1, 6, 1.5, 0.005},
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        vb_extractor *x = fu_extractor("sift", cases[c].yaml, W, H, 1);
        for (int t = 0; t < 3; t++) {
            size_t n;
            float *ref = ref_dense(other[t], cases[c].step, cases[c].bins, cases[c].nb, cases[c].magnif,
                                   cases[c].flat, cases[c].ws, cases[c].contrast, 0, &n);
            if (c == 0)
                assert_int_equal(n, 64);
            assert_int_equal(x->dim, n * 128);
            for (size_t i = 0; cases[c].root && i < n; i++) {
                float *o = ref + i * 128, l1 = 0;
                for (int j = 0; j < 128; j++)
                    l1 += fabsf(o[j]);
                if (l1 > 0)
                    for (int j = 0; j < 128; j++)
                        o[j] = sqrtf(fabsf(o[j]) / l1);
            }
            float *out = malloc(x->dim * sizeof *out);
            fu_extract(x, other[t], out);
            for (size_t j = 0; j < x->dim; j++)
                if (memcmp(out + j, ref + j, sizeof *out) != 0)
                    fail_msg("%s: value %zu (frame %zu) is %.9g, reference %.9g", cases[c].yaml, j, j / 128, out[j],
                             ref[j]);
            free(out);
            free(ref);
        }
        size_t len;
        uint8_t *bytes = fu_save_extractor(x, &len);
        assert_int_equal(len, 4); /* the format version only */
        free(bytes);
        vb_extractor_free(x);
    }
}

/* The extractor's dense descriptors (our dense SIFT) are the ones the
 * codebook path sees too: PHOW's scales with low-contrast frames dropped. */
static void test_dense_drop_matches_vlfeat(void **state)
{
    vb_extractor *x = fitted("{bin: [2, 3, 4], step: 1, words: 1, encoding: vlad, pyramid: [1], norm: none, "
                             "sqrt: false, low_contrast: drop, contrast: 0.03}", 5);
    saved s;
    parse_saved(x, 0, &s);
    float out[128];
    fu_extract(x, other[1], out);
    size_t n;
    int bins[3] = {2, 3, 4};
    float *D = ref_dense(other[1], 1, bins, 3, 6, 1, 1.5, 0.03, 1, &n);
    assert_true(n > 0);
    /* one word: VLAD is the sum of (x - c) over the kept descriptors */
    for (int j = 0; j < 128; j++) {
        double e = 0;
        for (size_t i = 0; i < n; i++)
            e += (double)D[i * 128 + j] - s.centers[j];
        assert_float_equal(out[j], e, 1e-3);
    }
    free(D);
    saved_free(&s);
    vb_extractor_free(x);
}

static void test_bad_parameters(void **state)
{
    vb_extractor *x = NULL;
    vb_error err = {0};
    tu_assert_fails_with(fu_extractor_try("sift", "{bin: [8]}", 20, 20, 1, &x, &err), err, "no descriptor fits");
    tu_assert_fails_with(fu_extractor_try("sift", "{encoding: fisher, assign: soft}", W, H, 1, &x, &err), err,
                         "GMM posteriors");
    tu_assert_fails_with(fu_extractor_try("sift", "{encoding: vlad, norm: l1}", W, H, 1, &x, &err), err,
                         "does not apply to vlad");
    tu_assert_fails_with(fu_extractor_try("sift", "{words: 64, max_descriptors: 10}", W, H, 1, &x, &err), err,
                         "at least words");
    tu_assert_fails_with(fu_extractor_try("sift", "{encoding: none, mode: keypoints}", W, H, 1, &x, &err), err,
                         "keypoint counts vary");
    tu_assert_fails_with(fu_extractor_try("sift", "{encoding: none, low_contrast: drop}", W, H, 1, &x, &err), err,
                         "low_contrast: zero");
    tu_assert_fails_with(fu_extractor_try("sift", "{encoding: none, descriptor_pca: 32}", W, H, 1, &x, &err), err,
                         "pca post-processing");
    assert_null(x);
    /* too few descriptors for the words: a data error at fit */
    x = fu_extractor("sift", "{bin: [3], step: 8, words: 200, max_descriptors: 200}", W, H, 1);
    vb_imgsrc src;
    fu_source(&src, train, 2);
    tu_assert_fails_with(x->vt->fit(x->state, &src, 1, &err), err, "descriptors to learn 200 words");
    vb_extractor_free(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bovw_counts_and_reference),
        cmocka_unit_test(test_bovw_normalisation),
        cmocka_unit_test(test_bovw_soft),
        cmocka_unit_test(test_vlad_reference),
        cmocka_unit_test(test_fisher_one_gaussian),
        cmocka_unit_test(test_fisher_pyramid_norms),
        cmocka_unit_test(test_keypoints),
        cmocka_unit_test(test_colour_uses_luma),
        cmocka_unit_test(test_fit_isolation),
        cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_save_load_bovw),
        cmocka_unit_test(test_save_load_vlad),
        cmocka_unit_test(test_save_load_fisher),
        cmocka_unit_test(test_encoding_none),
        cmocka_unit_test(test_dense_drop_matches_vlfeat),
        cmocka_unit_test(test_bad_parameters),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
