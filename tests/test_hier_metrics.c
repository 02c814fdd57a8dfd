/* hierarchical metrics against hand-computed values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "support/testutil.h"
#include "visbench/eval.h"

#include <string.h>
#include <unistd.h>

/* Leaves A B C D E (0..4), groups x (5, top), y (6, under x), z (7, top):
 * x/y/A, x/y/B, x/C, z/D, z/E; depths A B 3, C D E 2, y 2, x z 1. */
enum { A, B, C, D, E, X, Y, Z, N_NODES };

static vb_taxonomy *tax5(void)
{
    static const char *const names[N_NODES] = {"A", "B", "C", "D", "E", "x", "y", "z"};
    static const int parent[N_NODES] = {Y, Y, X, Z, Z, -1, X, -1};
    vb_taxonomy *t = tu_taxonomy(5, N_NODES, names, parent);
    vb_error err = {0};
    if (vb_taxonomy_finish(t, "tax5", &err) != VB_OK)
        fail_msg("%s", err.msg);
    return t;
}

/* Nine samples; y, z and x are predictions that stopped early.
 *
 *   #  true pred  |A(t) ∩ A(p)|  |A(p)|  |A(t)|
 *   0  A    A     3 (x y A)      3       3
 *   1  A    B     2 (x y)        3       3
 *   2  B    C     1 (x)          2       3
 *   3  C    C     2 (x C)        2       2
 *   4  D    E     1 (z)          2       2
 *   5  E    A     0              3       2
 *   6  A    y     2 (x y)        2       3
 *   7  D    z     1 (z)          1       2
 *   8  B    x     1 (x)          1       3
 *                 13             19      23
 * hP = 13/19, hR = 13/23, hF = 2 * 13 / (19 + 23) = 13/21.
 *
 * Level 1 (x, z): true x x x x z z x z x, pred x x x x z x x z x: 8/9 right.
 *   confusion [6 0; 1 2]; F1 x 2*6/(7+6) = 12/13, z 2*2/(2+3) = 4/5 -> macro 56/65.
 * Level 2 (C, D, E, y): true y y y C D E y D y, pred y y C C E y y - -
 *   (z and x stopped above level 2): 4/9 right, 2 stopped.
 *   confusion rows C [1 0 0 0], D [0 0 1 0] (+1 stopped), E [0 0 0 1],
 *   y [1 0 0 3] (+1 stopped). F1: C 2*1/(2+1) = 2/3, D 0, E 0, y 2*3/(4+5) = 2/3
 *   -> macro 1/3.
 * Level 3 (A, B, C, D, E): true A A B C D E A D B, pred A B C C E A - - -
 *   (y, z, x stopped): 2/9 right, 3 stopped. C at level 3 is C itself.
 *   confusion rows A [1 1 0 0 0] (+1), B [0 0 1 0 0] (+1), C [0 0 1 0 0],
 *   D [0 0 0 0 1] (+1), E [1 0 0 0 0]. F1: A 2*1/(2+3) = 2/5, B 0,
 *   C 2*1/(2+1) = 2/3, D 0, E 0 -> macro (2/5 + 2/3)/5 = 16/75. */
static const int truth9[] = {A, A, B, C, D, E, A, D, B};
static const int pred9[] = {A, B, C, C, E, A, Y, Z, X};

static void test_hand_computed(void **state)
{
    vb_taxonomy *t = tax5();
    vb_hier_metrics m;
    vb_error err = {0};
    assert_int_equal(vb_hier_metrics_compute(t, truth9, pred9, 9, &m, &err), VB_OK);
    tu_assert_near(m.hp, 13.0 / 19, 1e-12);
    tu_assert_near(m.hr, 13.0 / 23, 1e-12);
    tu_assert_near(m.hf, 13.0 / 21, 1e-12);
    assert_int_equal(m.n_levels, 3);

    const vb_hier_level *l1 = &m.level[0], *l2 = &m.level[1], *l3 = &m.level[2];
    assert_int_equal(l1->n_nodes, 2);
    assert_int_equal(l1->nodes[0], X);
    assert_int_equal(l1->nodes[1], Z);
    tu_assert_near(l1->accuracy, 8.0 / 9, 1e-12);
    tu_assert_near(l1->macro_f1, 56.0 / 65, 1e-12);
    assert_int_equal(l1->n_stopped, 0);
    const size_t c1[] = {6, 0, 1, 2};
    assert_memory_equal(l1->confusion, c1, sizeof c1);

    const int n2[] = {C, D, E, Y};
    assert_int_equal(l2->n_nodes, 4);
    assert_memory_equal(l2->nodes, n2, sizeof n2);
    tu_assert_near(l2->accuracy, 4.0 / 9, 1e-12);
    tu_assert_near(l2->macro_f1, 1.0 / 3, 1e-12);
    assert_int_equal(l2->n_stopped, 2);
    const size_t c2[] = {1, 0, 0, 0, /**/ 0, 0, 1, 0, /**/ 0, 0, 0, 1, /**/ 1, 0, 0, 3};
    assert_memory_equal(l2->confusion, c2, sizeof c2);

    const int n3[] = {A, B, C, D, E};
    assert_int_equal(l3->n_nodes, 5);
    assert_memory_equal(l3->nodes, n3, sizeof n3);
    tu_assert_near(l3->accuracy, 2.0 / 9, 1e-12);
    tu_assert_near(l3->macro_f1, 16.0 / 75, 1e-12);
    assert_int_equal(l3->n_stopped, 3);
    const size_t c3[] = {1, 1, 0, 0, 0, /**/ 0, 0, 1, 0, 0, /**/ 0, 0, 1, 0, 0, /**/ 0, 0, 0, 0, 1,
                         /**/ 1, 0, 0, 0, 0};
    assert_memory_equal(l3->confusion, c3, sizeof c3);
    vb_hier_metrics_free(&m);
    vb_hier_metrics_free(&m); /* freeing twice is harmless */
    vb_taxonomy_free(t);
}

/* Perfect leaf predictions score 1 everywhere; a flat taxonomy (every
 * leaf top-level) has one level, which is the single-label problem. */
static void test_perfect_and_flat(void **state)
{
    vb_taxonomy *t = tax5();
    vb_hier_metrics m;
    assert_int_equal(vb_hier_metrics_compute(t, truth9, truth9, 9, &m, NULL), VB_OK);
    tu_assert_near(m.hp, 1, 1e-12);
    tu_assert_near(m.hr, 1, 1e-12);
    tu_assert_near(m.hf, 1, 1e-12);
    for (int l = 0; l < m.n_levels; l++) {
        tu_assert_near(m.level[l].accuracy, 1, 1e-12);
        tu_assert_near(m.level[l].macro_f1, 1, 1e-12);
        assert_int_equal(m.level[l].n_stopped, 0);
    }
    vb_hier_metrics_free(&m);
    /* Classes absent from the truth and the predictions are not averaged:
     * A and D alone, right, score 1 at every level (not 2/5 at level 3). */
    const int ad[] = {A, D};
    assert_int_equal(vb_hier_metrics_compute(t, ad, ad, 2, &m, NULL), VB_OK);
    for (int l = 0; l < m.n_levels; l++)
        tu_assert_near(m.level[l].macro_f1, 1, 1e-12);
    vb_hier_metrics_free(&m);
    vb_taxonomy_free(t);

    /* flat: A B C; truth A A B C, pred A B B A. hP = hR = accuracy 2/4.
     * F1: A 2*1/(2+2) = 1/2, B 2*1/(2+1) = 2/3, C 0 -> macro 7/18. */
    t = tu_taxonomy(3, 3, (const char *const[]){"A", "B", "C"}, (const int[]){-1, -1, -1});
    assert_int_equal(vb_taxonomy_finish(t, "flat", NULL), VB_OK);
    const int tr[] = {0, 0, 1, 2}, pr[] = {0, 1, 1, 0};
    assert_int_equal(vb_hier_metrics_compute(t, tr, pr, 4, &m, NULL), VB_OK);
    assert_int_equal(m.n_levels, 1);
    tu_assert_near(m.hp, 0.5, 1e-12);
    tu_assert_near(m.hr, 0.5, 1e-12);
    tu_assert_near(m.hf, 0.5, 1e-12);
    tu_assert_near(m.level[0].accuracy, 0.5, 1e-12);
    tu_assert_near(m.level[0].macro_f1, 7.0 / 18, 1e-12);
    vb_hier_metrics_free(&m);
    /* no samples: zeros */
    assert_int_equal(vb_hier_metrics_compute(t, tr, pr, 0, &m, NULL), VB_OK);
    tu_assert_near(m.hf, 0, 0);
    tu_assert_near(m.level[0].accuracy, 0, 0);
    vb_hier_metrics_free(&m);
    vb_taxonomy_free(t);
}

/* The alarm turns a walk through an out-of-range node (were it not
 * refused) into a failure instead of a stuck make. */
static void test_out_of_range(void **state)
{
    alarm(60);
    vb_taxonomy *t = tax5();
    vb_hier_metrics m;
    vb_error err = {0};
    const int inner_truth[] = {A, Y}, neg_truth[] = {-1, A}, ok_truth[] = {A, B};
    const int ok_pred[] = {A, B}, big_pred[] = {A, N_NODES}, neg_pred[] = {-3, A};
    tu_assert_fails_with(vb_hier_metrics_compute(t, inner_truth, ok_pred, 2, &m, &err), err,
                         "true label 6 of sample 1 is not a class (5 classes)");
    assert_int_equal(err.status, VB_ERR_DATA);
    assert_null(m.level);
    tu_assert_fails_with(vb_hier_metrics_compute(t, neg_truth, ok_pred, 2, &m, &err), err,
                         "true label -1 of sample 0 is not a class");
    assert_int_equal(err.status, VB_ERR_DATA);
    tu_assert_fails_with(vb_hier_metrics_compute(t, ok_truth, big_pred, 2, &m, &err), err,
                         "prediction 8 of sample 1 is not a node of the taxonomy (8 nodes)");
    assert_int_equal(err.status, VB_ERR_DATA);
    tu_assert_fails_with(vb_hier_metrics_compute(t, ok_truth, neg_pred, 2, &m, &err), err,
                         "prediction -3 of sample 0 is not a node");
    assert_int_equal(err.status, VB_ERR_DATA);
    /* an unfinished taxonomy */
    vb_taxonomy *raw = vb_taxonomy_new(2, 2, &err);
    tu_assert_fails_with(vb_hier_metrics_compute(raw, ok_truth, ok_pred, 2, &m, &err), err, "finished taxonomy");
    vb_taxonomy_free(raw);
    vb_taxonomy_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hand_computed),
        cmocka_unit_test(test_perfect_and_flat),
        cmocka_unit_test(test_out_of_range),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
