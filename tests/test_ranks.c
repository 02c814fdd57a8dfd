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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
