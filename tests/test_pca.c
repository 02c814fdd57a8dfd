/* The PCA solvers (core/pca.c, core/pca_krylov.c): gram and randomized
 * against the full eigendecomposition, the auto choice, features wider
 * than the old 8,192 cap, the same bits at 1 and 2 threads, and the `pca`
 * step with each solver (variance mode, whitening, save/load). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../src/core/linalg.h"
#include "support/featutil.h"
#include "support/testutil.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

/* Rows around 5 + 0.01 j with a planted spectrum (fu_planted). */
static float *planted(size_t n, size_t d, size_t r, double s0, double q, double noise, uint64_t seed)
{
    return fu_planted(n, d, r, s0, q, noise, 5.0, 0.01, seed);
}

/* The variance fraction the first k components explain. */
static double explained(const vb_pca *p, size_t k)
{
    double kept = 0;
    for (size_t c = 0; c < k; c++)
        kept += p->values[c];
    return kept / p->total;
}

static void top(const float *X, size_t n, size_t d, size_t k, double variance, vb_pca_solver s, vb_pca *out)
{
    vb_error err = {0};
    if (vb_pca_top(X, n, d, k, variance, s, out, &err) != VB_OK)
        fail_msg("vb_pca_top (%s): %s", vb_pca_solver_names[s], err.msg);
}

/* The same matrix by two solvers. */
static void fit_pair(const float *X, size_t n, size_t d, size_t k, vb_pca_solver sa, vb_pca_solver sb, vb_pca *a,
                     vb_pca *b)
{
    top(X, n, d, k, 0, sa, a);
    top(X, n, d, k, 0, sb, b);
    assert_int_equal(a->solver, sa);
    assert_int_equal(b->solver, sb);
}

/* The k rows of V are orthonormal to tol. */
static void assert_orthonormal(const double *V, size_t k, size_t d, double tol)
{
    for (size_t a = 0; a < k; a++)
        for (size_t b = a; b < k; b++) {
            double dot = 0;
            for (size_t j = 0; j < d; j++)
                dot += V[a * d + j] * V[b * d + j];
            if (fabs(dot - (a == b)) > tol)
                fail_msg("rows %zu and %zu: dot %.3g", a, b, dot);
        }
}

/* Two results agree: values to rel, components to vtol in every entry (both
 * follow the same sign convention), means exactly, totals to 2e-6 (full's
 * is the sum of the eigenvalues of a float covariance, the others' a
 * double sum over the centred rows: apart by up to about 1e-6 on rows
 * with an offset of 5). */
static void assert_same_pca(const vb_pca *a, const vb_pca *b, size_t k, double rel, double vtol)
{
    size_t d = a->d;
    assert_int_equal(a->d, b->d);
    assert_true(a->k >= k && b->k >= k);
    assert_memory_equal(a->mean, b->mean, d * sizeof *a->mean);
    assert_float_equal(a->total, b->total, 2e-6 * a->total);
    for (size_t c = 0; c < k; c++) {
        if (fabs(a->values[c] - b->values[c]) > rel * a->values[c])
            fail_msg("value %zu: %.12g vs %.12g", c, a->values[c], b->values[c]);
        for (size_t j = 0; j < d; j++)
            if (fabs(a->vectors[c * d + j] - b->vectors[c * d + j]) > vtol)
                fail_msg("component %zu entry %zu: %.9f vs %.9f", c, j, a->vectors[c * d + j], b->vectors[c * d + j]);
    }
}

/* gram = full on n < d: both solve the same problem exactly (the float
 * products' rounding is about 1e-7 relative); the planted spectrum keeps
 * the leading eigenvalues a factor 1.5 apart, so the eigenvectors are as
 * well determined as the values. Also in variance mode (the same k). */
static void test_gram_equals_full(void **state)
{
    const size_t n = 60, d = 300, k = 10;
    float *X = planted(n, d, 20, 10.0, 0.8, 0.05, 1);
    vb_pca f, g;
    fit_pair(X, n, d, k, VB_PCA_FULL, VB_PCA_GRAM, &f, &g);
    assert_int_equal(g.k, k);
    assert_same_pca(&f, &g, k, 1e-6, 1e-5);
    assert_orthonormal(g.vectors, k, d, 1e-6);
    vb_pca_free(&f);
    vb_pca_free(&g);
    for (int t = 0; t < 3; t++) {
        const double var[3] = {0.5, 0.9, 0.99};
        top(X, n, d, 0, var[t], VB_PCA_FULL, &f);
        top(X, n, d, 0, var[t], VB_PCA_GRAM, &g);
        assert_int_equal(f.k, g.k);
        assert_same_pca(&f, &g, g.k < 10 ? g.k : 10, 1e-6, 1e-5);
        assert_float_equal(explained(&f, f.k), explained(&g, g.k), 2e-6);
        assert_true(explained(&g, g.k) >= var[t] * (1 - 1e-9));
        vb_pca_free(&f);
        vb_pca_free(&g);
    }
    free(X);
}

/* randomized = full on the top k of a rank-12 matrix plus noise, on both
 * sides (the Krylov basis in R^d for n >= d, in R^n for n < d), with the
 * mean taken off the products and on a centred copy. Tolerances:
 * the components' eigenvalues are 1.5 apart and 1e4 times the noise's, so
 * the Krylov space holds them to far below float rounding after a few
 * blocks; what is left is the float products' rounding, 1e-6 relative for
 * values and 1e-5 per entry of a unit component (the same as gram). The
 * explained fraction agrees to 2e-6 (the totals' rounding, above). */
static void test_randomized_equals_full(void **state)
{
    const size_t shapes[3][2] = {{400, 300}, {150, 600}, {400, 300}};
    for (int t = 0; t < 3; t++) {
        size_t n = shapes[t][0], d = shapes[t][1], k = 8;
        /* the third around 1000 with a spread of about 1: the mean is too
         * large to be taken off the products, the solver centres a copy */
        float *X = t < 2 ? planted(n, d, 12, 10.0, 0.8, 0.01, 2 + t)
                         : fu_planted(n, d, 12, 1.0, 0.8, 0.001, 1000.0, 0.0, 4);
        vb_pca f, r;
        fit_pair(X, n, d, k, VB_PCA_FULL, VB_PCA_RANDOMIZED, &f, &r);
        assert_true(r.passes >= 3 && r.passes <= 15);
        assert_same_pca(&f, &r, k, 1e-6, 1e-5);
        assert_orthonormal(r.vectors, k, d, 1e-6);
        assert_float_equal(explained(&f, k), explained(&r, k), 2e-6);
        vb_pca_free(&f);
        vb_pca_free(&r);
        free(X);
    }
}

/* Without a gap to speak of (a slowly decaying spectrum, 40 comparable
 * directions), the variance the k components explain still agrees with
 * full to 1e-5 of the total, ten times closer than the stopping rule's
 * 1e-4: the error left after the last block is far below its change. */
static void test_randomized_flat_spectrum(void **state)
{
    const size_t n = 300, d = 700, k = 10;
    float *X = planted(n, d, 40, 3.0, 0.97, 0.3, 9);
    vb_pca f, r;
    fit_pair(X, n, d, k, VB_PCA_FULL, VB_PCA_RANDOMIZED, &f, &r);
    /* Ritz values never exceed the true ones (beyond rounding) */
    assert_true(explained(&r, k) * r.total <= explained(&f, k) * f.total * (1 + 1e-6));
    assert_float_equal(explained(&f, k), explained(&r, k), 1e-5);
    assert_orthonormal(r.vectors, k, d, 1e-6);
    vb_pca_free(&f);
    vb_pca_free(&r);
    free(X);
}

/* The auto rule, case by case (linalg.h). */
static void test_auto_choice(void **state)
{
    assert_int_equal(vb_pca_choose(1000, 500, 5), VB_PCA_FULL);      /* d <= 500 */
    assert_int_equal(vb_pca_choose(100, 400, 0), VB_PCA_FULL);       /* d <= 500, even n < d */
    assert_int_equal(vb_pca_choose(165, 6912, 20), VB_PCA_GRAM);     /* 20 > 0.1 * 165 */
    assert_int_equal(vb_pca_choose(165, 6912, 0), VB_PCA_GRAM);      /* whole spectrum */
    assert_int_equal(vb_pca_choose(10000, 1519, 0), VB_PCA_FULL);    /* whole spectrum, n >= d */
    assert_int_equal(vb_pca_choose(10000, 1519, 20), VB_PCA_RANDOMIZED);
    assert_int_equal(vb_pca_choose(1000, 6912, 20), VB_PCA_RANDOMIZED);
    assert_int_equal(vb_pca_choose(2000, 20480, 20), VB_PCA_RANDOMIZED);
    assert_int_equal(vb_pca_choose(1000, 6912, 100), VB_PCA_RANDOMIZED); /* exactly 0.1 min */
    assert_int_equal(vb_pca_choose(1000, 6912, 101), VB_PCA_GRAM);
    assert_int_equal(vb_pca_choose(10000, 1519, 600), VB_PCA_FULL);
    assert_int_equal(vb_pca_choose(10000, 1519, 1300), VB_PCA_FULL); /* >= 0.8 min */
    assert_int_equal(vb_pca_choose(1000, 6912, 800), VB_PCA_GRAM);
    assert_int_equal(vb_pca_choose(50000, 9000, 2000), VB_PCA_RANDOMIZED); /* full above VB_PCA_MAX_DIM */
    assert_int_equal(vb_pca_choose(50000, 9000, 8000), VB_PCA_FULL);
    /* and vb_pca_top runs the choice */
    float *X = planted(30, 600, 5, 10.0, 0.7, 0.01, 4);
    vb_pca p;
    top(X, 30, 600, 2, 0, VB_PCA_AUTO, &p);
    assert_int_equal(p.solver, VB_PCA_RANDOMIZED);
    vb_pca_free(&p);
    top(X, 30, 600, 5, 0, VB_PCA_AUTO, &p);
    assert_int_equal(p.solver, VB_PCA_GRAM);
    vb_pca_free(&p);
    top(X, 30, 600, 0, 0.9, VB_PCA_AUTO, &p);
    assert_int_equal(p.solver, VB_PCA_GRAM);
    vb_pca_free(&p);
    free(X);
}

/* 9,000 features (the old cap was 8,192): gram and randomized agree with
 * each other and recover the planted rank-4 structure (the components
 * reconstruct the centred rows). */
static void test_wide_features(void **state)
{
    const size_t n = 40, d = 9000, k = 4;
    float *X = planted(n, d, 4, 10.0, 0.7, 0.0, 5);
    vb_pca g, r;
    fit_pair(X, n, d, k, VB_PCA_GRAM, VB_PCA_RANDOMIZED, &g, &r);
    assert_same_pca(&g, &r, k, 1e-5, 1e-5);
    assert_orthonormal(g.vectors, k, d, 1e-6);
    double lost = 0, all = 0;
    for (size_t i = 0; i < n; i++) {
        double sq = 0, proj = 0;
        for (size_t j = 0; j < d; j++)
            sq += pow(X[i * d + j] - g.mean[j], 2);
        for (size_t c = 0; c < k; c++) {
            double z = 0;
            for (size_t j = 0; j < d; j++)
                z += (X[i * d + j] - g.mean[j]) * g.vectors[c * d + j];
            proj += z * z;
        }
        lost += sq - proj;
        all += sq;
    }
    assert_true(lost / all < 1e-5);
    assert_float_equal(explained(&g, k), 1.0, 1e-5);
    vb_pca_free(&g);
    vb_pca_free(&r);
    free(X);
}

/* More components than the data's rank: gram and randomized still give k
 * orthonormal rows (the missing directions completed), values 0 beyond the
 * rank. */
static void test_rank_deficient(void **state)
{
    const size_t n = 12, d = 700, k = 6;
    float *X = planted(n, d, 2, 10.0, 0.5, 0.0, 6);
    const vb_pca_solver s[2] = {VB_PCA_GRAM, VB_PCA_RANDOMIZED};
    for (int t = 0; t < 2; t++) {
        vb_pca p;
        top(X, n, d, k, 0, s[t], &p);
        assert_orthonormal(p.vectors, k, d, 1e-6);
        for (size_t c = 2; c < k; c++)
            assert_true(p.values[c] < 1e-5 * p.values[0]);
        vb_pca_free(&p);
    }
    free(X);
}

/* Each solver gives the same bits at 1 and 2 threads (sizes of several
 * GEMM tiles each way). */
static void test_threads_bit_identical(void **state)
{
    const size_t shapes[3][3] = {{700, 1100, 12}, {5000, 600, 12}, {300, 1100, 40}}; /* 5000: H in slices */
    const vb_pca_solver s[3] = {VB_PCA_RANDOMIZED, VB_PCA_RANDOMIZED, VB_PCA_GRAM};
    int saved = omp_get_max_threads();
    for (int t = 0; t < 4; t++) {
        size_t n = t < 3 ? shapes[t][0] : 600, d = t < 3 ? shapes[t][1] : 520, k = t < 3 ? shapes[t][2] : 5;
        vb_pca_solver sv = t < 3 ? s[t] : VB_PCA_FULL;
        float *X = planted(n, d, 30, 5.0, 0.9, 0.1, 7 + t);
        vb_pca a, b;
        omp_set_num_threads(1);
        top(X, n, d, k, 0, sv, &a);
        omp_set_num_threads(2);
        top(X, n, d, k, 0, sv, &b);
        assert_int_equal(a.k, b.k);
        assert_int_equal(a.passes, b.passes);
        assert_memory_equal(a.mean, b.mean, d * sizeof *a.mean);
        assert_memory_equal(a.values, b.values, a.k * sizeof *a.values);
        assert_memory_equal(a.vectors, b.vectors, a.k * d * sizeof *a.vectors);
        assert_memory_equal(&a.total, &b.total, sizeof a.total);
        vb_pca_free(&a);
        vb_pca_free(&b);
        free(X);
    }
    omp_set_num_threads(saved);
}

static void post_fit(vb_post *p, const float *X, size_t n)
{
    vb_error err = {0};
    if (p->vt->fit(p->state, X, n, &err) != VB_OK)
        fail_msg("fit: %s", err.msg);
}

static float *post_apply(const vb_post *p, const float *X, size_t n)
{
    float *out = malloc(n * p->vt->dim(p->state) * sizeof *out);
    vb_error err = {0};
    if (p->vt->transform(p->state, X, n, out, &err) != VB_OK)
        fail_msg("transform: %s", err.msg);
    return out;
}

/* The pca step with each solver on n < d: the same projections as full (to
 * the components' agreement), whitening gives unit variance, variance mode
 * keeps the same number of components with gram, a saved state loads to
 * the same outputs bit for bit. */
static void test_step_solvers(void **state)
{
    const size_t n = 80, d = 640;
    float *X = planted(n, d, 10, 10.0, 0.75, 0.01, 8);
    vb_post *ref = fu_post("pca", "{components: 6, solver: full}", d);
    post_fit(ref, X, n);
    float *Zf = post_apply(ref, X, n);
    const char *yaml[3] = {"{components: 6, solver: gram}", "{components: 6, solver: randomized}", "{components: 6}"};
    for (int t = 0; t < 3; t++) {
        vb_post *p = fu_post("pca", yaml[t], d);
        post_fit(p, X, n);
        float *Z = post_apply(p, X, n);
        double scale = 0;
        for (size_t i = 0; i < n * 6; i++)
            scale = fmax(scale, fabs(Zf[i]));
        for (size_t i = 0; i < n * 6; i++)
            if (fabs(Z[i] - Zf[i]) > 1e-4 * scale)
                fail_msg("%s: output %zu: %g vs %g", yaml[t], i, Z[i], Zf[i]);
        size_t len;
        uint8_t *saved = fu_save_post(p, &len);
        vb_post *q = fu_post("pca", yaml[t], d);
        vb_reader rd;
        vb_error err = {0};
        vb_reader_init(&rd, saved, len, "pca state");
        assert_int_equal(q->vt->load(q->state, &rd, &err), VB_OK);
        float *Zq = post_apply(q, X, n);
        assert_memory_equal(Z, Zq, n * 6 * sizeof *Z);
        free(Zq);
        free(saved);
        vb_post_free(q);
        free(Z);
        vb_post_free(p);
    }
    /* whitening with randomized: unit variance per component on the training rows */
    vb_post *w = fu_post("pca", "{components: 4, whiten: true, solver: randomized}", d);
    post_fit(w, X, n);
    float *Zw = post_apply(w, X, n);
    for (size_t c = 0; c < 4; c++) {
        double v = 0;
        for (size_t i = 0; i < n; i++)
            v += (double)Zw[i * 4 + c] * Zw[i * 4 + c];
        assert_float_equal(v / (double)(n - 1), 1.0, 1e-4);
    }
    free(Zw);
    vb_post_free(w);
    /* variance mode: gram keeps as many components as full */
    vb_post *vf = fu_post("pca", "{variance: 0.9, solver: full}", d);
    vb_post *vg = fu_post("pca", "{variance: 0.9, solver: gram}", d);
    post_fit(vf, X, n);
    post_fit(vg, X, n);
    assert_int_equal(vf->vt->dim(vf->state), vg->vt->dim(vg->state));
    vb_post_free(vf);
    vb_post_free(vg);
    free(Zf);
    vb_post_free(ref);
    free(X);
}

static void test_errors(void **state)
{
    vb_post *p = NULL;
    vb_error err = {0};
    tu_assert_fails_with(fu_post_try("pca", "{solver: randomized}", 100, &p, &err), err,
                         "randomized solver finds a given number of components");
    tu_assert_fails_with(fu_post_try("pca", "{components: 5, solver: full}", 1000000, &p, &err), err,
                         "more than half of this machine's memory; use solver: gram or randomized");
    tu_assert_fails_with(fu_post_try("pca", "{solver: fast}", 100, &p, &err), err, "fast");
    /* 1,000,000 features with another solver is no error at create */
    assert_int_equal(fu_post_try("pca", "{components: 5, solver: gram}", 1000000, &p, &err), VB_OK);
    vb_post_free(p);
    float X[4 * 3] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 1, 0, 1};
    vb_pca r;
    tu_assert_fails_with(vb_pca_top(X, 4, 3, 0, 0.9, VB_PCA_RANDOMIZED, &r, &err), err, "give components: N");
    tu_assert_fails_with(vb_pca_top(X, 4, 3, 4, 0, VB_PCA_GRAM, &r, &err), err, "4 components asked of 3 features");
    tu_assert_fails_with(vb_pca_top(X, 3, 4, 3, 0, VB_PCA_RANDOMIZED, &r, &err), err,
                         "3 training rows span at most 2 dimensions");
    tu_assert_fails_with(vb_pca_top(X, 1, 12, 1, 0, VB_PCA_GRAM, &r, &err), err, "at least 2 training rows");
    X[5] = NAN;
    tu_assert_fails_with(vb_pca_top(X, 4, 3, 2, 0, VB_PCA_RANDOMIZED, &r, &err), err, "NaN");
    tu_assert_fails_with(vb_pca_top(X, 4, 3, 2, 0, VB_PCA_GRAM, &r, &err), err, "NaN");
    double need;
    assert_false(vb_pca_full_fits(10, 1000000, &need));
    assert_float_equal(need, 16e12 + 4e7, 1e3);
    assert_true(vb_pca_full_fits(10, 1000, NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gram_equals_full),
        cmocka_unit_test(test_randomized_equals_full),
        cmocka_unit_test(test_randomized_flat_spectrum),
        cmocka_unit_test(test_auto_choice),
        cmocka_unit_test(test_wide_features),
        cmocka_unit_test(test_rank_deficient),
        cmocka_unit_test(test_threads_bit_identical),
        cmocka_unit_test(test_step_solvers),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
