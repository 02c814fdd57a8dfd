/* eval: metrics against hand-computed values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "support/testutil.h"
#include "visbench/eval.h"

#include <string.h>

/* truth: 0 0 0 1 1 2 2 2 2 ; pred: 0 1 0 1 1 2 0 2 1
 * confusion (rows true, cols pred):
 *   0: [2 1 0]   1: [0 2 0]   2: [1 1 2]
 * precision: 0: 2/3, 1: 2/4, 2: 2/2; recall: 0: 2/3, 1: 2/2, 2: 2/4 */
static void test_hand_computed(void **state)
{
    const int truth[] = {0, 0, 0, 1, 1, 2, 2, 2, 2}, pred[] = {0, 1, 0, 1, 1, 2, 0, 2, 1};
    vb_metrics m;
    vb_error err = {0};
    assert_int_equal(vb_metrics_compute(truth, pred, 9, 3, &m, &err), VB_OK);
    const size_t conf[9] = {2, 1, 0, 0, 2, 0, 1, 1, 2};
    assert_memory_equal(m.confusion, conf, sizeof conf);
    assert_int_equal(m.support[0], 3);
    assert_int_equal(m.support[2], 4);
    assert_float_equal(m.accuracy, 6.0 / 9.0, 1e-12);
    assert_float_equal(m.precision[0], 2.0 / 3.0, 1e-12);
    assert_float_equal(m.precision[1], 0.5, 1e-12);
    assert_float_equal(m.precision[2], 1.0, 1e-12);
    assert_float_equal(m.recall[1], 1.0, 1e-12);
    assert_float_equal(m.recall[2], 0.5, 1e-12);
    assert_float_equal(m.f1[1], 2 * 0.5 * 1.0 / 1.5, 1e-12);
    assert_float_equal(m.balanced_accuracy, (2.0 / 3 + 1.0 + 0.5) / 3, 1e-12);
    double f1s = 2.0 / 3 + 2.0 / 3 + 2 * 0.5 / 1.5;
    assert_float_equal(m.macro_f1, f1s / 3, 1e-12);
    assert_float_equal(m.weighted_f1, (3 * (2.0 / 3) + 2 * (2.0 / 3) + 4 * (2.0 / 3)) / 9, 1e-12);
    assert_float_equal(m.micro_f1, m.accuracy, 1e-12);
    vb_metrics_free(&m);
}

/* A class never predicted has precision 0 and still counts in the macro
 * average; a class absent from both is left out. */
static void test_absent_classes(void **state)
{
    const int truth[] = {0, 0, 1, 1}, pred[] = {0, 0, 0, 0};
    vb_metrics m;
    assert_int_equal(vb_metrics_compute(truth, pred, 4, 3, &m, NULL), VB_OK);
    assert_float_equal(m.precision[1], 0.0, 0);
    assert_float_equal(m.recall[1], 0.0, 0);
    assert_float_equal(m.precision[0], 0.5, 1e-12);
    /* macro over classes 0 and 1 (class 2 absent everywhere) */
    assert_float_equal(m.macro_precision, 0.25, 1e-12);
    assert_float_equal(m.macro_recall, 0.5, 1e-12);
    assert_float_equal(m.balanced_accuracy, 0.5, 1e-12);
    vb_metrics_free(&m);
}

static void test_label_out_of_range(void **state)
{
    const int truth[] = {0, 3}, pred[] = {0, 0};
    vb_metrics m;
    vb_error err = {0};
    tu_assert_fails_with(vb_metrics_compute(truth, pred, 2, 3, &m, &err), err, "label out of range at sample 1");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hand_computed),
        cmocka_unit_test(test_absent_classes),
        cmocka_unit_test(test_label_out_of_range),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
