/* eval/ranks.c: corrections of p-values, ranks over data sets, Friedman,
 * Iman-Davenport and Nemenyi, against hand-computed and published values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "support/testutil.h"
#include "visbench/eval.h"

#include <math.h>
#include <string.h>

/* ---- corrections ------------------------------------------------------- */

static void assert_values(const double *got, const double *want, size_t n, double eps)
{
    for (size_t i = 0; i < n; i++) {
        if (isnan(want[i])) {
            if (!isnan(got[i]))
                fail_msg("value %zu is %g, expected NaN", i, got[i]);
            continue;
        }
        tu_assert_near(got[i], want[i], eps);
    }
}

/* By hand, m = 4. Sorted: 0.005 x4 = 0.02, 0.01 x3 = 0.03, 0.03 x2 =
 * 0.06, 0.04 x1 = 0.04 -> 0.06 (the running maximum). Bonferroni: x4. */
static void test_holm_bonferroni_hand(void **state)
{
    const double p[4] = {0.01, 0.04, 0.03, 0.005};
    const double holm[4] = {0.03, 0.06, 0.06, 0.02}, bonf[4] = {0.04, 0.16, 0.12, 0.02};
    double out[4];
    vb_error err = {0};
    assert_int_equal(vb_p_adjust(p, 4, VB_CORRECT_HOLM, out, &err), VB_OK);
    assert_values(out, holm, 4, 1e-15);
    assert_int_equal(vb_p_adjust(p, 4, VB_CORRECT_BONFERRONI, out, &err), VB_OK);
    assert_values(out, bonf, 4, 1e-15);
    assert_int_equal(vb_p_adjust(p, 4, VB_CORRECT_NONE, out, &err), VB_OK);
    assert_memory_equal(out, p, sizeof p);
    /* in place */
    double q[4];
    memcpy(q, p, sizeof q);
    assert_int_equal(vb_p_adjust(q, 4, VB_CORRECT_HOLM, q, &err), VB_OK);
    assert_values(q, holm, 4, 1e-15);
}

/* Capped at 1; ties share their adjusted value; NaN stays NaN and is not
 * in the family; an empty family is fine. */
static void test_adjust_edges(void **state)
{
    double out[4];
    vb_error err = {0};
    const double big[2] = {0.5, 0.6}, one[2] = {1, 1};
    assert_int_equal(vb_p_adjust(big, 2, VB_CORRECT_HOLM, out, &err), VB_OK); /* 0.5 x2 = 1, 0.6 -> 1 */
    assert_values(out, one, 2, 0);
    assert_int_equal(vb_p_adjust(big, 2, VB_CORRECT_BONFERRONI, out, &err), VB_OK);
    assert_values(out, one, 2, 0);

    const double ties[3] = {0.02, 0.5, 0.02}, ties_holm[3] = {0.06, 0.5, 0.06}; /* 0.06, max(0.04, 0.06), 0.5 */
    assert_int_equal(vb_p_adjust(ties, 3, VB_CORRECT_HOLM, out, &err), VB_OK);
    assert_values(out, ties_holm, 3, 1e-15);

    const double gaps[3] = {0.01, NAN, 0.02}, gaps_holm[3] = {0.02, NAN, 0.02}, gaps_bonf[3] = {0.02, NAN, 0.04};
    for (int i = 0; i < 3; i++)
        out[i] = -1; /* NaN is written, not left over */
    assert_int_equal(vb_p_adjust(gaps, 3, VB_CORRECT_HOLM, out, &err), VB_OK);
    assert_values(out, gaps_holm, 3, 1e-15);
    assert_int_equal(vb_p_adjust(gaps, 3, VB_CORRECT_BONFERRONI, out, &err), VB_OK);
    assert_values(out, gaps_bonf, 3, 1e-15);

    assert_int_equal(vb_p_adjust(NULL, 0, VB_CORRECT_HOLM, NULL, &err), VB_OK);
    const double single = 0.3;
    assert_int_equal(vb_p_adjust(&single, 1, VB_CORRECT_HOLM, out, &err), VB_OK);
    tu_assert_near(out[0], 0.3, 0);

    const double bad[2] = {0.2, 1.5};
    tu_expect_error(vb_p_adjust(bad, 2, VB_CORRECT_HOLM, out, &err), err, VB_ERR_PARAM,
                    "p-value 2 of 2 is 1.5, not in [0, 1]");
    const double neg[1] = {-0.1};
    tu_expect_error(vb_p_adjust(neg, 1, VB_CORRECT_NONE, out, &err), err, VB_ERR_PARAM,
                    "p-value 1 of 1 is -0.1, not in [0, 1]");
    tu_expect_error(vb_p_adjust(big, 2, (vb_correction)7, out, &err), err, VB_ERR_PARAM, "unknown correction 7");
}

/* Over many families: adjusted >= raw, Holm <= Bonferroni, and Holm keeps
 * the order of the raw values (its running maximum). */
static void test_adjust_properties(void **state)
{
    enum { M = 40 };
    double p[M], h[M], b[M];
    uint64_t x = 12345;
    for (int rep = 0; rep < 50; rep++) {
        for (int i = 0; i < M; i++) {
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            p[i] = (double)(x >> 11) / 9007199254740992.0 * (rep % 2 ? 0.05 : 1);
        }
        assert_int_equal(vb_p_adjust(p, M, VB_CORRECT_HOLM, h, NULL), VB_OK);
        assert_int_equal(vb_p_adjust(p, M, VB_CORRECT_BONFERRONI, b, NULL), VB_OK);
        for (int i = 0; i < M; i++) {
            assert_true(h[i] >= p[i] && h[i] <= b[i] && b[i] <= 1);
            for (int j = 0; j < M; j++)
                if (p[i] < p[j])
                    assert_true(h[i] <= h[j]);
        }
    }
}

static void test_correction_names(void **state)
{
    const vb_correction all[3] = {VB_CORRECT_NONE, VB_CORRECT_HOLM, VB_CORRECT_BONFERRONI};
    const char *names[3] = {"none", "holm", "bonferroni"};
    for (int i = 0; i < 3; i++) {
        assert_string_equal(vb_correction_name(all[i]), names[i]);
        vb_correction c = VB_CORRECT_NONE;
        assert_true(vb_correction_parse(names[i], &c));
        assert_int_equal(c, all[i]);
    }
    vb_correction c = VB_CORRECT_HOLM;
    assert_false(vb_correction_parse("Holm", &c));
    assert_false(vb_correction_parse("", &c));
    assert_false(vb_correction_parse(NULL, &c));
    assert_int_equal(c, VB_CORRECT_HOLM); /* untouched */
    assert_string_equal(vb_correction_name((vb_correction)7), "?");
}

/* ---- ranks and the Friedman test ------------------------------------------ */

/* Demšar (2006), Table 6: AUC of C4.5, C4.5+m, C4.5+cf and C4.5+m+cf on
 * 14 data sets (adult (sample), breast cancer, breast cancer wisconsin,
 * cmc, ionosphere, iris, liver disorders, lung cancer, lymphography,
 * mushroom, primary tumor, rheum, voting, wine), with the ranks the paper
 * prints beside them. The paper ranked unrounded AUCs: on voting it ranks
 * C4.5+cf 2 and C4.5+m+cf 3 though both print as 0.975, so C4.5+cf is
 * 0.9751 here (as in SciPy's test of the same table). */
static const double demsar_auc[14][4] = {
    {0.763, 0.768, 0.771, 0.798}, {0.599, 0.591, 0.590, 0.569}, {0.954, 0.971, 0.968, 0.967},
    {0.628, 0.661, 0.654, 0.657}, {0.882, 0.888, 0.886, 0.898}, {0.936, 0.931, 0.916, 0.931},
    {0.661, 0.668, 0.609, 0.685}, {0.583, 0.583, 0.563, 0.625}, {0.775, 0.838, 0.866, 0.875},
    {1.000, 1.000, 1.000, 1.000}, {0.940, 0.962, 0.965, 0.962}, {0.619, 0.666, 0.614, 0.669},
    {0.972, 0.981, 0.9751, 0.975}, {0.957, 0.978, 0.946, 0.970}};

/* The table's ranks (sums 44, 28, 40.5, 27.5 over 14 data sets: the
 * printed 3.143, 2.000, 2.893, 1.964), chi2_F = 9.28 and F_F = 3.69, with
 * F(3, 39), whose critical value at 0.05 the paper gives as 2.85. */
static void test_demsar_example(void **state)
{
    double r[4];
    vb_error err = {0};
    assert_int_equal(vb_average_ranks(&demsar_auc[0][0], 14, 4, r, &err), VB_OK);
    tu_assert_near(r[0], 44.0 / 14, 1e-12);
    tu_assert_near(r[1], 28.0 / 14, 1e-12);
    tu_assert_near(r[2], 40.5 / 14, 1e-12);
    tu_assert_near(r[3], 27.5 / 14, 1e-12);
    tu_assert_near(r[0], 3.143, 5e-4); /* as printed */
    tu_assert_near(r[2], 2.893, 5e-4);
    tu_assert_near(r[3], 1.964, 5e-4);
    vb_friedman f;
    assert_int_equal(vb_friedman_test(r, 14, 4, &f, &err), VB_OK);
    tu_assert_near(f.chi2, 9.28, 5e-3);
    tu_assert_near(f.chi2, 8.4 * (5116.5 / 196 - 25), 1e-12); /* 12N/(k(k+1)) (sum R^2 - k(k+1)^2/4) */
    tu_assert_near(f.ff, 3.69, 5e-3);
    tu_assert_near(f.ff, 13 * f.chi2 / (42 - f.chi2), 1e-12);
    tu_assert_near(f.df1, 3, 0);
    tu_assert_near(f.df2, 39, 0);
    assert_true(f.ff > 2.85 && f.p_ff < 0.05); /* "so we reject the null-hypothesis" */
    assert_true(f.p_chi2 < 0.05 && f.p_chi2 > f.p_ff); /* F_F is the less conservative */
}

/* k = 3, N = 4 by hand, one tie:
 *   A .90 .85 .70 .60   ranks 1 2 1.5 1   mean 1.375
 *   B .80 .86 .70 .50         2 1 1.5 3        1.875
 *   C .70 .60 .50 .55         3 3 3   2        2.75
 * chi2 = 12*4/(3*4) (1.375^2 + 1.875^2 + 2.75^2 - 12) = 3.875; with
 * k - 1 = 2 degrees the chi-square tail is exp(-x/2), and F(2, d) has
 * the tail (1 + 2f/d)^(-d/2): F_F = 3 * 3.875 / (8 - 3.875), d = 6. */
static void test_friedman_hand(void **state)
{
    const double s[4 * 3] = {0.90, 0.80, 0.70, 0.85, 0.86, 0.60, 0.70, 0.70, 0.50, 0.60, 0.50, 0.55};
    double r[3];
    assert_int_equal(vb_average_ranks(s, 4, 3, r, NULL), VB_OK);
    tu_assert_near(r[0], 1.375, 1e-15);
    tu_assert_near(r[1], 1.875, 1e-15);
    tu_assert_near(r[2], 2.75, 1e-15);
    vb_friedman f;
    assert_int_equal(vb_friedman_test(r, 4, 3, &f, NULL), VB_OK);
    tu_assert_near(f.chi2, 3.875, 1e-12);
    tu_assert_near(f.p_chi2, exp(-3.875 / 2), 1e-12);
    double ff = 3 * 3.875 / (8 - 3.875);
    tu_assert_near(f.ff, ff, 1e-12);
    tu_assert_near(f.p_ff, pow(1 + 2 * ff / 6, -3), 1e-12);
}

/* Ties within a data set share the mean of their ranks; a data set where
 * all tie gives everyone (k+1)/2. */
static void test_rank_ties(void **state)
{
    const double s[2 * 4] = {0.9, 0.8, 0.8, 0.7, 0.5, 0.5, 0.5, 0.5};
    double r[4];
    assert_int_equal(vb_average_ranks(s, 1, 4, r, NULL), VB_OK);
    const double one[4] = {1, 2.5, 2.5, 4};
    assert_values(r, one, 4, 0);
    assert_int_equal(vb_average_ranks(s + 4, 1, 4, r, NULL), VB_OK);
    const double all[4] = {2.5, 2.5, 2.5, 2.5};
    assert_values(r, all, 4, 0);
    assert_int_equal(vb_average_ranks(s, 2, 4, r, NULL), VB_OK);
    const double both[4] = {1.75, 2.5, 2.5, 3.25};
    assert_values(r, both, 4, 1e-15);
    /* all tied: no difference at all */
    vb_friedman f;
    const double s3[3 * 4] = {0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5};
    assert_int_equal(vb_average_ranks(s3, 3, 4, r, NULL), VB_OK);
    assert_int_equal(vb_friedman_test(r, 3, 4, &f, NULL), VB_OK);
    tu_assert_near(f.chi2, 0, 1e-12);
    tu_assert_near(f.p_chi2, 1, 1e-12);
    tu_assert_near(f.ff, 0, 1e-12);
    tu_assert_near(f.p_ff, 1, 1e-12);
    /* infinite scores rank as the best and the worst */
    const double inf[3] = {-INFINITY, INFINITY, 0};
    const double inf_r[3] = {3, 1, 2};
    assert_int_equal(vb_average_ranks(inf, 1, 3, r, NULL), VB_OK);
    assert_values(r, inf_r, 3, 0);
}

/* One data set: the ranks are that data set's, chi2 = k - 1 without ties
 * (p = exp(-1) for k = 3) and F_F has no degrees of freedom. Perfect
 * agreement over several data sets: chi2 = N(k-1), F_F infinite. */
static void test_friedman_edges(void **state)
{
    const double s[3] = {0.5, 0.9, 0.7};
    double r[3];
    vb_friedman f;
    assert_int_equal(vb_average_ranks(s, 1, 3, r, NULL), VB_OK);
    const double want[3] = {3, 1, 2};
    assert_values(r, want, 3, 0);
    assert_int_equal(vb_friedman_test(r, 1, 3, &f, NULL), VB_OK);
    tu_assert_near(f.chi2, 2, 1e-12);
    tu_assert_near(f.p_chi2, exp(-1), 1e-12);
    assert_true(isnan(f.ff) && isnan(f.p_ff));
    tu_assert_near(f.df2, 0, 0);
    const double same[3 * 3] = {0.5, 0.9, 0.7, 0.1, 0.3, 0.2, 0.6, 0.8, 0.7};
    assert_int_equal(vb_average_ranks(same, 3, 3, r, NULL), VB_OK);
    assert_int_equal(vb_friedman_test(r, 3, 3, &f, NULL), VB_OK);
    tu_assert_near(f.chi2, 6, 1e-12);
    assert_true(isinf(f.ff) && f.ff > 0);
    tu_assert_near(f.p_ff, 0, 0);
}

/* k = 2: chi2 = N d^2 for d the difference of the average ranks, whose
 * chi-square tail (1 degree) is erfc(sqrt(chi2 / 2)); F(1, N-1) is the
 * square of Student's t with N-1 degrees. A wins 4 of N = 5: ranks 1.2
 * and 1.8, chi2 = 1.8, F_F = 4 * 1.8 / (5 - 1.8) = 2.25 = 1.5^2, and
 * Student's t with 4 degrees has the closed form
 * P(T <= t) = 1/2 + 3/8 u (1 - u^2 / 12) with u = t / sqrt(1 + t^2/4):
 * u = 1.2, P = 0.896, two-sided p = 0.208. */
static void test_friedman_two_methods(void **state)
{
    const double s[5 * 2] = {0.9, 0.8, 0.7, 0.6, 0.95, 0.9, 0.5, 0.4, 0.3, 0.35};
    double r[2];
    vb_friedman f;
    assert_int_equal(vb_average_ranks(s, 5, 2, r, NULL), VB_OK);
    tu_assert_near(r[0], 1.2, 1e-15);
    tu_assert_near(r[1], 1.8, 1e-15);
    assert_int_equal(vb_friedman_test(r, 5, 2, &f, NULL), VB_OK);
    tu_assert_near(f.chi2, 1.8, 1e-12);
    tu_assert_near(f.p_chi2, erfc(sqrt(0.9)), 1e-12);
    tu_assert_near(f.ff, 2.25, 1e-12);
    tu_assert_near(f.df1, 1, 0);
    tu_assert_near(f.df2, 4, 0);
    tu_assert_near(f.p_ff, 0.208, 1e-12);
}

static void test_rank_errors(void **state)
{
    vb_error err = {0};
    double r[3];
    vb_friedman f;
    const double s[2 * 3] = {0.5, 0.6, 0.7, 0.1, NAN, 0.3};
    tu_expect_error(vb_average_ranks(s, 2, 3, r, &err), err, VB_ERR_DATA,
                    "the score of method 2 on data set 2 is NaN; ranks need every method's score on every data set");
    tu_expect_error(vb_average_ranks(s, 0, 3, r, &err), err, VB_ERR_PARAM, "ranking methods needs at least one data set");
    tu_expect_error(vb_average_ranks(s, 1, 1, r, &err), err, VB_ERR_PARAM,
                    "ranking methods needs at least 2 methods, not 1");
    const double raw[3] = {0.5, 0.6, 0.7}; /* scores, not ranks */
    tu_expect_error(vb_friedman_test(raw, 2, 3, &f, &err), err, VB_ERR_PARAM,
                    "average rank 1 is 0.5, not in [1, 3] (give vb_average_ranks' output)");
    const double off[3] = {1, 1, 3};
    tu_expect_error(vb_friedman_test(off, 2, 3, &f, &err), err, VB_ERR_PARAM,
                    "the average ranks sum to 5, not k(k+1)/2 = 6 (give vb_average_ranks' output)");
    const double nan_r[3] = {1, NAN, 3};
    tu_assert_fails_with(vb_friedman_test(nan_r, 2, 3, &f, &err), err, "average rank 2 is nan");
    tu_expect_error(vb_friedman_test(off, 2, 1, &f, &err), err, VB_ERR_PARAM,
                    "ranking methods needs at least 2 methods, not 1");
}

/* ---- the Nemenyi test ---------------------------------------------------- */

/* Two normals: the range is sqrt(2) |Z|, so P(R > w) = erfc(w / 2), to
 * 12 digits down to 1.5e-12 (w = 10) and within 1e-30 beyond; the tail
 * falls with w and grows with k. */
static void test_range_tail(void **state)
{
    const double w[5] = {0.1, 1, 2.77, 5, 10};
    tu_assert_near(vb_normal_range_Q(17, 2), erfc(8.5), 1e-30);
    for (int i = 0; i < 5; i++) {
        double want = erfc(w[i] / 2), got = vb_normal_range_Q(w[i], 2);
        if (fabs(got - want) > 1e-12 * want)
            fail_msg("k = 2, w = %g: %.17g, expected %.17g", w[i], got, want);
    }
    tu_assert_near(vb_normal_range_Q(0, 5), 1, 0);
    tu_assert_near(vb_normal_range_Q(-1, 5), 1, 0);
    tu_assert_near(vb_normal_range_Q(1e-9, 5), 1, 1e-9);
    tu_assert_near(vb_normal_range_Q(INFINITY, 5), 0, 0);
    assert_true(isnan(vb_normal_range_Q(NAN, 5)));
    assert_true(isnan(vb_normal_range_Q(1, 1)));
    double last = 1;
    for (double x = 0.5; x < 8; x += 0.5) {
        double t = vb_normal_range_Q(x, 6);
        assert_true(t < last);
        assert_true(vb_normal_range_Q(x, 7) > t);
        last = t;
    }
}

/* Demšar (2006), Table 5(a): q_0.05 and q_0.10 of the two-tailed Nemenyi
 * test for k = 2..10, printed to 3 decimals from 3-decimal studentized
 * range values over sqrt(2), so that a last digit may be one off (k = 3:
 * 2.3437 is printed 2.343, k = 7: 2.9483 is printed 2.949); and the
 * 9-digit q_0.05 that N. Kourentzes tabulates ("Critical values for the
 * Nemenyi test", 2014). */
static void test_nemenyi_table(void **state)
{
    static const double q05[9] = {1.960, 2.343, 2.569, 2.728, 2.850, 2.949, 3.031, 3.102, 3.164};
    static const double q10[9] = {1.645, 2.052, 2.291, 2.459, 2.589, 2.693, 2.780, 2.855, 2.920};
    static const double q05_9[9] = {1.959964233, 2.343700476, 2.569032073, 2.727774717, 2.849705382,
                                    2.948319908, 3.030878867, 3.10173026, 3.16368342};
    for (size_t k = 2; k <= 10; k++) {
        double a, b;
        vb_error err = {0};
        assert_int_equal(vb_nemenyi_q(k, 0.05, &a, &err), VB_OK);
        assert_int_equal(vb_nemenyi_q(k, 0.10, &b, &err), VB_OK);
        if (fabs(a - q05[k - 2]) > 1e-3 || fabs(b - q10[k - 2]) > 1e-3 || fabs(a - q05_9[k - 2]) > 1e-6)
            fail_msg("k = %zu: q_0.05 = %.9f (table %.3f, %.9f), q_0.10 = %.9f (table %.3f)", k, a, q05[k - 2],
                     q05_9[k - 2], b, q10[k - 2]);
        /* the quantile: the range's tail there is alpha */
        tu_assert_near(vb_normal_range_Q(a * sqrt(2), k), 0.05, 1e-10);
    }
    double q;
    assert_int_equal(vb_nemenyi_q(2, 0.05, &q, NULL), VB_OK);
    tu_assert_near(q, 1.959963984540054, 1e-10); /* k = 2: the normal quantile */
    assert_int_equal(vb_nemenyi_q(4, 1e-10, &q, NULL), VB_OK); /* far out: still the quantile */
    tu_assert_near(vb_normal_range_Q(q * sqrt(2), 4) / 1e-10, 1, 1e-6);
}

/* Demšar's example: CD = 1.25 at 0.05 and 1.12 at 0.10 for k = 4 and
 * N = 14. C4.5 (3.143) against C4.5+m (2.000) and C4.5+m+cf (1.964)
 * differ by 1.143 and 1.179: more than 1.12, less than 1.25, so their
 * Nemenyi p lie between 0.05 and 0.10; the other pairs are closer. */
static void test_nemenyi_demsar(void **state)
{
    double cd05, cd10;
    vb_error err = {0};
    assert_int_equal(vb_nemenyi_cd(4, 14, 0.05, &cd05, &err), VB_OK);
    assert_int_equal(vb_nemenyi_cd(4, 14, 0.10, &cd10, &err), VB_OK);
    tu_assert_near(cd05, 1.25, 5e-3);
    tu_assert_near(cd10, 1.12, 5e-3);
    tu_assert_near(cd05, 2.569032 * sqrt(20.0 / 84), 1e-6);
    const double r[4] = {44.0 / 14, 28.0 / 14, 40.5 / 14, 27.5 / 14};
    double p[16];
    assert_int_equal(vb_nemenyi_pvalues(r, 4, 14, p, &err), VB_OK);
    for (int i = 0; i < 4; i++) {
        tu_assert_near(p[i * 4 + i], 1, 0);
        for (int j = 0; j < 4; j++)
            tu_assert_near(p[i * 4 + j], p[j * 4 + i], 0);
    }
    assert_true(p[0 * 4 + 1] > 0.05 && p[0 * 4 + 1] < 0.10);
    assert_true(p[0 * 4 + 3] > 0.05 && p[0 * 4 + 3] < p[0 * 4 + 1]); /* 1.179 apart: the smaller p */
    assert_true(p[0 * 4 + 2] > 0.10 && p[1 * 4 + 2] > 0.10 && p[1 * 4 + 3] > 0.10 && p[2 * 4 + 3] > 0.10);
    tu_assert_near(p[1 * 4 + 1], 1, 0);
}

/* Average ranks exactly CD apart have p = alpha; for k = 2 the Nemenyi p
 * is the two-sided normal p of z, which is also Friedman's chi-square p
 * (chi2 = z^2 with one degree). */
static void test_nemenyi_pvalues(void **state)
{
    double cd, p[9];
    assert_int_equal(vb_nemenyi_cd(3, 10, 0.05, &cd, NULL), VB_OK);
    const double r[3] = {2 - cd / 2, 2 + cd / 2, 2};
    assert_int_equal(vb_nemenyi_pvalues(r, 3, 10, p, NULL), VB_OK);
    tu_assert_near(p[0 * 3 + 1], 0.05, 1e-9);
    assert_true(p[0 * 3 + 2] > 0.05 && p[1 * 3 + 2] > 0.05);
    tu_assert_near(p[0 * 3 + 2], p[1 * 3 + 2], 1e-15); /* equally far */
    /* k = 2, N = 5: ranks 1.2 and 1.8 (test_friedman_two_methods) */
    const double s[5 * 2] = {0.9, 0.8, 0.7, 0.6, 0.95, 0.9, 0.5, 0.4, 0.3, 0.35};
    double r2[2], p2[4];
    vb_friedman f;
    assert_int_equal(vb_average_ranks(s, 5, 2, r2, NULL), VB_OK);
    assert_int_equal(vb_friedman_test(r2, 5, 2, &f, NULL), VB_OK);
    assert_int_equal(vb_nemenyi_pvalues(r2, 2, 5, p2, NULL), VB_OK);
    tu_assert_near(p2[1], erfc(0.6 * sqrt(5.0) / sqrt(2.0)), 1e-12); /* z = 0.6 / sqrt(2*3/30) */
    tu_assert_near(p2[1], f.p_chi2, 1e-12);
    /* one data set: the ranks are that set's */
    const double one[3] = {1, 2, 3};
    assert_int_equal(vb_nemenyi_pvalues(one, 3, 1, p, NULL), VB_OK);
    tu_assert_near(p[0 * 3 + 2], vb_normal_range_Q(sqrt(2.0) * 2 / sqrt(2.0), 3), 1e-15); /* se = sqrt(12/6) */
}

/* Demšar (2006), Table 5(b), the Bonferroni-Dunn test: the normal
 * quantiles z(1 - alpha / (2(k-1))). The table prints 2.724 for k = 9 at
 * 0.05, where z(1 - 0.05/16) is 2.734 (its neighbours 2.690 and 2.773,
 * and the 0.10 row, agree with the formula): checked against 2.734. */
static void test_bonferroni_dunn_table(void **state)
{
    static const double q05[9] = {1.960, 2.241, 2.394, 2.498, 2.576, 2.638, 2.690, 2.734, 2.773};
    static const double q10[9] = {1.645, 1.960, 2.128, 2.241, 2.326, 2.394, 2.450, 2.498, 2.539};
    for (size_t k = 2; k <= 10; k++) {
        double a, b;
        assert_int_equal(vb_bonferroni_dunn_q(k, 0.05, &a, NULL), VB_OK);
        assert_int_equal(vb_bonferroni_dunn_q(k, 0.10, &b, NULL), VB_OK);
        tu_assert_near(a, q05[k - 2], 5e-4);
        tu_assert_near(b, q10[k - 2], 5e-4);
    }
}

static void test_nemenyi_errors(void **state)
{
    vb_error err = {0};
    double q, p[4];
    tu_expect_error(vb_nemenyi_q(1, 0.05, &q, &err), err, VB_ERR_PARAM,
                    "the Nemenyi test compares 2 to 10000 methods, not 1");
    tu_expect_error(vb_nemenyi_q(VB_NEMENYI_MAX_K + 1, 0.05, &q, &err), err, VB_ERR_PARAM,
                    "the Nemenyi test compares 2 to 10000 methods, not 10001");
    tu_expect_error(vb_nemenyi_q(4, 0, &q, &err), err, VB_ERR_PARAM, "alpha must be in (0, 1), not 0");
    tu_expect_error(vb_nemenyi_q(4, 1, &q, &err), err, VB_ERR_PARAM, "alpha must be in (0, 1), not 1");
    tu_assert_fails_with(vb_nemenyi_q(4, NAN, &q, &err), err, "alpha must be in (0, 1)");
    tu_expect_error(vb_bonferroni_dunn_q(4, 1.5, &q, &err), err, VB_ERR_PARAM, "alpha must be in (0, 1), not 1.5");
    tu_expect_error(vb_nemenyi_cd(4, 0, 0.05, &q, &err), err, VB_ERR_PARAM,
                    "ranking methods needs at least one data set");
    const double r[2] = {1.5, NAN};
    tu_expect_error(vb_nemenyi_pvalues(r, 2, 3, p, &err), err, VB_ERR_PARAM, "average rank 2 is NaN");
    tu_expect_error(vb_nemenyi_pvalues(r, 1, 3, p, &err), err, VB_ERR_PARAM,
                    "ranking methods needs at least 2 methods, not 1");
    /* the largest k still works */
    assert_int_equal(vb_nemenyi_q(VB_NEMENYI_MAX_K, 0.05, &q, &err), VB_OK);
    assert_true(q > 5.5 && q < 6.5);
    tu_assert_near(vb_normal_range_Q(q * sqrt(2), VB_NEMENYI_MAX_K), 0.05, 1e-9);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_holm_bonferroni_hand),
        cmocka_unit_test(test_adjust_edges),
        cmocka_unit_test(test_adjust_properties),
        cmocka_unit_test(test_correction_names),
        cmocka_unit_test(test_demsar_example),
        cmocka_unit_test(test_friedman_hand),
        cmocka_unit_test(test_rank_ties),
        cmocka_unit_test(test_friedman_edges),
        cmocka_unit_test(test_friedman_two_methods),
        cmocka_unit_test(test_rank_errors),
        cmocka_unit_test(test_range_tail),
        cmocka_unit_test(test_nemenyi_table),
        cmocka_unit_test(test_nemenyi_demsar),
        cmocka_unit_test(test_nemenyi_pvalues),
        cmocka_unit_test(test_bonferroni_dunn_table),
        cmocka_unit_test(test_nemenyi_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
