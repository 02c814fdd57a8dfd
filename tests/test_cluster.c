/* eval: clustering metrics (purity, NMI, ARI) against hand-computed values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "support/testutil.h"
#include "visbench/eval.h"

#include <math.h>
#include <string.h>

/* truth 0 0 0 1 1 1, clusters 0 0 1 1 2 2. Contingency (class x cluster):
 *   class 0: [2 1 0], class 1: [0 1 2]
 * purity = (2 + 1 + 2) / 6.
 * MI = 2 * (2/6) ln((2/6) / (1/2 * 1/3)) = (2/3) ln 2; H(class) = ln 2,
 * H(cluster) = ln 3, so NMI = (2/3) ln 2 / ((ln 2 + ln 3) / 2).
 * ARI: sum C(n_ij, 2) = 2, row pairs 3 + 3 = 6, column pairs 1 + 1 + 1 = 3,
 * expected = 6 * 3 / C(6, 2) = 1.2, max = (6 + 3) / 2 = 4.5, so
 * ARI = (2 - 1.2) / (4.5 - 1.2) = 8/33. */
static void test_hand_computed(void **state)
{
    const int truth[] = {0, 0, 0, 1, 1, 1}, assign[] = {0, 0, 1, 1, 2, 2};
    vb_cluster_scores s;
    vb_error err = {0};
    assert_int_equal(vb_cluster_compare(truth, assign, 6, 2, 3, &s, &err), VB_OK);
    assert_float_equal(s.purity, 5.0 / 6.0, 1e-12);
    assert_float_equal(s.nmi, (2.0 / 3.0) * log(2.0) / ((log(2.0) + log(3.0)) / 2), 1e-12);
    assert_float_equal(s.ari, 8.0 / 33.0, 1e-12);
}

/* A relabelled perfect clustering scores 1 everywhere. */
static void test_permutation(void **state)
{
    const int truth[] = {0, 0, 1, 1, 2, 2}, assign[] = {2, 2, 0, 0, 1, 1};
    vb_cluster_scores s;
    assert_int_equal(vb_cluster_compare(truth, assign, 6, 3, 3, &s, NULL), VB_OK);
    assert_float_equal(s.purity, 1, 1e-12);
    assert_float_equal(s.nmi, 1, 1e-12);
    assert_float_equal(s.ari, 1, 1e-12);
}

/* One cluster for three classes: purity 2/6, NMI 0; ARI: index 3, expected
 * 3 * 15 / 15 = 3, so 0. */
static void test_single_cluster(void **state)
{
    const int truth[] = {0, 0, 1, 1, 2, 2}, assign[] = {0, 0, 0, 0, 0, 0};
    vb_cluster_scores s;
    assert_int_equal(vb_cluster_compare(truth, assign, 6, 3, 2, &s, NULL), VB_OK);
    assert_float_equal(s.purity, 2.0 / 6.0, 1e-12);
    assert_float_equal(s.nmi, 0, 1e-12);
    assert_float_equal(s.ari, 0, 1e-12);
}

/* ARI is negative for a clustering worse than chance: truth 0 0 1 1,
 * clusters 0 1 0 1: index 0, rows 1 + 1, columns 1 + 1, expected 4/6,
 * max 2: (0 - 2/3) / (2 - 2/3) = -1/2. */
static void test_negative_ari(void **state)
{
    const int truth[] = {0, 0, 1, 1}, assign[] = {0, 1, 0, 1};
    vb_cluster_scores s;
    assert_int_equal(vb_cluster_compare(truth, assign, 4, 2, 2, &s, NULL), VB_OK);
    assert_float_equal(s.ari, -0.5, 1e-12);
    assert_float_equal(s.nmi, 0, 1e-12);
    assert_float_equal(s.purity, 0.5, 1e-12);
}

static void test_out_of_range(void **state)
{
    const int truth[] = {0, 1}, assign[] = {0, 4};
    vb_cluster_scores s;
    vb_error err = {0};
    tu_assert_fails_with(vb_cluster_compare(truth, assign, 2, 2, 3, &s, &err), err, "out of range at sample 1");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hand_computed),
        cmocka_unit_test(test_permutation),
        cmocka_unit_test(test_single_cluster),
        cmocka_unit_test(test_negative_ari),
        cmocka_unit_test(test_out_of_range),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
