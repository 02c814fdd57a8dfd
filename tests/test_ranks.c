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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_holm_bonferroni_hand),
        cmocka_unit_test(test_adjust_edges),
        cmocka_unit_test(test_adjust_properties),
        cmocka_unit_test(test_correction_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
