/* tree: the single CART decision tree on hand-made data with known splits,
 * gini against entropy, the growth limits, cost-complexity pruning against
 * a path computed by hand, save/load, thread counts, and the forest's
 * tree grown the plain way. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "support/clfutil.h"
#include "support/testutil.h"
#include "../src/classifiers/cart.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ----------------------------------------------------------- */

/* The trained tree's nodes, read back from its saved state. */
static void tree_model(const vb_classifier *c, vb_cart_model *m)
{
    vb_writer w;
    cu_save(c, &w);
    vb_reader r;
    vb_reader_init(&r, w.buf.data, w.buf.len, "tree");
    uint64_t d;
    uint32_t k;
    vb_error err = {0};
    memset(m, 0, sizeof *m);
    if (vb_read_u64(&r, &d, &err) || vb_read_u32(&r, &k, &err) ||
        vb_cart_load(m, &r, VB_CLF_TAG('T', 'R', 'E', 'E'), 1, "tree", &err))
        fail_msg("tree state: %s", err.msg);
    vb_writer_free(&w);
}

/* The leaf that row x reaches. */
static size_t leaf_of(const vb_cart_model *m, const float *x)
{
    size_t v = 0;
    while (m->nodes[v].feature >= 0)
        v = (size_t)(x[m->nodes[v].feature] <= m->nodes[v].thr ? m->nodes[v].left : m->nodes[v].right);
    return v;
}

static void info_has(const vb_classifier *c, const char *needle)
{
    vb_buf b;
    vb_buf_init(&b);
    c->vt->info_json(c->state, &b);
    if (!strstr(b.data, needle))
        fail_msg("info %s lacks %s", b.data, needle);
    vb_buf_free(&b);
}

/* a and b give X the same labels and scores (distributions), a at least
 * min_acc right on the labels y. */
static void assert_same_predictions(const vb_classifier *a, const vb_classifier *b, const float *X, const int *y,
                                    size_t n, size_t d, int K, double min_acc)
{
    float *s1 = malloc(n * (size_t)K * sizeof *s1), *s2 = malloc(n * (size_t)K * sizeof *s2);
    int *l1 = malloc(n * sizeof *l1), *l2 = malloc(n * sizeof *l2);
    cu_predict(a, X, n, d, l1, s1);
    cu_predict(b, X, n, d, l2, s2);
    assert_memory_equal(s1, s2, n * (size_t)K * sizeof *s1);
    assert_memory_equal(l1, l2, n * sizeof *l1);
    assert_true(cu_accuracy(l1, y, n) >= min_acc);
    for (size_t i = 0; i < n; i++) {
        double sum = 0;
        for (int k = 0; k < K; k++)
            sum += s1[i * (size_t)K + (size_t)k];
        tu_assert_near(sum, 1.0, 1e-6);
    }
    free(s1);
    free(s2);
    free(l1);
    free(l2);
}

static size_t leaves_at(const char *yaml, const float *X, const int *y, size_t n, size_t d, int K)
{
    vb_classifier *c = cu_make("tree", yaml);
    cu_train(c, X, y, n, d, K, 1);
    vb_cart_model m;
    tree_model(c, &m);
    size_t leaves = m.n_leaves;
    vb_cart_model_clear(&m);
    vb_classifier_free(c);
    return leaves;
}

/* ---- known splits ------------------------------------------------------- */

/* Eight points on a 4 x 2 grid:
 *
 *     x1 = 4:  2 2 2 2
 *     x1 = 1:  0 0 1 1      (x0 = 1 2 3 4)
 *
 * Root counts [2 2 4], gini N x impurity 8 - 24/8 = 5. x1 <= 2.5 leaves
 * [2 2 0] (4 - 8/4 = 2) and a pure [0 0 4]: 2 in all; the best x0 split
 * (<= 2.5: [2 0 2] and [0 2 2]) leaves 4. The left node then splits at
 * x0 <= 2.5 into two pure leaves: 5 nodes, 3 leaves, depth 2, every
 * threshold midway between training values. */
static const float grid_X[] = {1, 1, 2, 1, 3, 1, 4, 1, 1, 4, 2, 4, 3, 4, 4, 4};
static const int grid_y[] = {0, 0, 1, 1, 2, 2, 2, 2};

static void test_known_splits(void **state)
{
    vb_classifier *c = cu_make("tree", "{}");
    cu_train(c, grid_X, grid_y, 8, 2, 3, 1);
    vb_cart_model m;
    tree_model(c, &m);
    assert_int_equal(m.n_nodes, 5);
    assert_int_equal(m.n_leaves, 3);
    assert_int_equal(m.depth_max, 2);
    /* preorder: the root, its left child, the left child's two leaves, the root's right leaf */
    assert_int_equal(m.nodes[0].feature, 1);
    assert_true(m.nodes[0].thr == 2.5f);
    assert_int_equal(m.nodes[0].left, 1);
    assert_int_equal(m.nodes[0].right, 4);
    assert_int_equal(m.nodes[1].feature, 0);
    assert_true(m.nodes[1].thr == 2.5f);
    assert_int_equal(m.nodes[2].feature, -1);
    assert_int_equal(m.nodes[3].feature, -1);
    assert_int_equal(m.nodes[4].feature, -1);
    info_has(c, "\"n_nodes\": 5, \"n_leaves\": 3, \"depth\": 2, \"top_features\": [[1, ");
    /* gini decreases: root 5 - 2 = 3 (x1), left node 2 (x0): importances 0.6 and 0.4 */
    tu_assert_near(m.importance[1], 0.6, 1e-12);
    tu_assert_near(m.importance[0], 0.4, 1e-12);
    vb_cart_model_clear(&m);
    /* the thresholds are exact: 2.5 goes left, the next float right */
    const float nx = nextafterf(2.5f, 3.0f);
    const float q[] = {2.5f, 0, nx, 0, 0, 2.5f, 0, nx, 4, 2.5f, 1, 100};
    const int want[] = {0, 1, 0, 2, 1, 2};
    int lab[6];
    float sc[18];
    cu_predict(c, q, 6, 2, lab, sc);
    for (int i = 0; i < 6; i++) {
        assert_int_equal(lab[i], want[i]);
        for (int k = 0; k < 3; k++)
            assert_true(sc[i * 3 + k] == (k == want[i] ? 1.0f : 0.0f));
    }
    vb_classifier_free(c);
}

/* Six rows, classes [1 2 3], two binary features, one split each:
 *   x0 <= 0.5 gives [0 1 0] | [1 1 3]: gini 0 + (5 - 11/5) = 2.8,
 *                              entropy 0 + 5 H(1/5, 1/5, 3/5) = 6.855 bits;
 *   x1 <= 0.5 gives [0 2 2] | [1 0 1]: gini 2 + 1 = 3, entropy 4 + 2 = 6 bits.
 * Gini takes x0, entropy x1. */
static const float ge_X[] = {1, 1, 0, 0, 1, 0, 1, 0, 1, 0, 1, 1};
static const int ge_y[] = {0, 1, 1, 2, 2, 2};

static void test_gini_entropy(void **state)
{
    for (int e = 0; e < 2; e++) {
        vb_classifier *c = cu_make("tree", e ? "{criterion: entropy, max_depth: 1}" : "{max_depth: 1}");
        cu_train(c, ge_X, ge_y, 6, 2, 3, 1);
        vb_cart_model m;
        tree_model(c, &m);
        assert_int_equal(m.n_leaves, 2);
        assert_int_equal(m.nodes[0].feature, e ? 1 : 0);
        assert_true(m.nodes[0].thr == 0.5f);
        const float *left = m.vals + m.nodes[m.nodes[0].left].left;
        assert_true(left[0] == 0.0f);
        assert_true(left[1] == (e ? 0.5f : 1.0f));
        assert_true(left[2] == (e ? 0.5f : 0.0f));
        vb_cart_model_clear(&m);
        vb_classifier_free(c);
    }
}

/* ---- limits --------------------------------------------------------------- */

/* Noisy labels in 3-d: max_depth bounds every path, min_samples_leaf every
 * leaf's training rows, min_samples_split every split node's. */
static float *noisy(size_t n, size_t d, uint64_t seed, int **y)
{
    float *X = malloc(n * d * sizeof *X);
    *y = malloc(n * sizeof **y);
    vb_rng *rng = vb_rng_new(seed);
    for (size_t i = 0; i < n; i++) {
        double s = 0;
        for (size_t j = 0; j < d; j++) {
            X[i * d + j] = (float)vb_rng_gauss(rng, 1.0);
            s += X[i * d + j] * (double)(j + 1);
        }
        (*y)[i] = vb_rng_uniform(rng) < 0.2 ? (int)vb_rng_below(rng, 3) : s > 1 ? 2 : s > -1;
    }
    vb_rng_free(rng);
    return X;
}

static void test_limits(void **state)
{
    int *y;
    const size_t n = 600, d = 3;
    float *X = noisy(n, d, 5, &y);
    struct {
        const char *yaml;
        int depth;
        size_t leaf, split;
    } t[] = {{"{}", 0, 1, 2},
             {"{max_depth: 4}", 4, 1, 2},
             {"{min_samples_leaf: 25}", 0, 25, 2},
             {"{min_samples_split: 80, criterion: entropy}", 0, 1, 80}};
    size_t full_leaves = 0;
    for (size_t k = 0; k < sizeof t / sizeof t[0]; k++) {
        vb_classifier *c = cu_make("tree", t[k].yaml);
        cu_train(c, X, y, n, d, 3, 1);
        vb_cart_model m;
        tree_model(c, &m);
        if (t[k].depth)
            assert_int_equal(m.depth_max, t[k].depth); /* the noise makes it reach the limit */
        size_t *rows = calloc(m.n_nodes, sizeof *rows);
        for (size_t i = 0; i < n; i++) { /* rows through every node */
            size_t v = 0;
            rows[v]++;
            while (m.nodes[v].feature >= 0) {
                v = (size_t)(X[i * d + (size_t)m.nodes[v].feature] <= m.nodes[v].thr ? m.nodes[v].left
                                                                                      : m.nodes[v].right);
                rows[v]++;
            }
        }
        for (size_t v = 0; v < m.n_nodes; v++) {
            if (m.nodes[v].feature < 0 && rows[v] < t[k].leaf)
                fail_msg("%s: leaf %zu has %zu training rows", t[k].yaml, v, rows[v]);
            if (m.nodes[v].feature >= 0 && rows[v] < t[k].split)
                fail_msg("%s: node %zu splits %zu training rows", t[k].yaml, v, rows[v]);
        }
        if (k == 0) {
            full_leaves = m.n_leaves;
            assert_true(m.depth_max > 4);
        } else
            assert_true(m.n_leaves < full_leaves);
        /* predictions are the leaves' distributions */
        float sc[3];
        int lab;
        cu_predict(c, X + 7 * d, 1, d, &lab, sc);
        const float *v = m.vals + m.nodes[leaf_of(&m, X + 7 * d)].left;
        assert_memory_equal(sc, v, sizeof sc);
        free(rows);
        vb_cart_model_clear(&m);
        vb_classifier_free(c);
    }
    free(X);
    free(y);
}

/* ---- pruning ----------------------------------------------------------- */

/* x = 1..8, labels 0 0 0 1 0 1 1 1. The full gini tree (n = 8):
 *
 *   root [4 4]  x <= 3.5          R = 8/8 x 0.5  = 0.5
 *     leaf [3 0]
 *     A [1 4]   x <= 5.5          R = 5/8 x 8/25 = 0.2
 *       B [1 1] x <= 4.5          R = 2/8 x 0.5  = 0.125
 *         leaf [0 1], leaf [1 0]
 *       leaf [0 3]
 *
 * (pure leaves R = 0). Effective alphas: B 0.125 / 1 = 0.125, A 0.2 / 2
 * = 0.1, root 0.5 / 3 = 0.167: A is the weakest link, pruned at 0.1 (B
 * with it); then the root's alpha is (0.5 - 0.2) / 1 = 0.3. So 4 leaves
 * below 0.1, 2 from 0.1 to 0.3, 1 above (scikit-learn's
 * cost_complexity_pruning_path gives the same [0, 0.1, 0.3]).
 *
 * With entropy (bits): R(root) = 1, R(A) = 5/8 H(1/5, 4/5) = 0.45121,
 * R(B) = 2/8: alphas A 0.22561, B 0.25, root 1/3; after A the root's is
 * 1 - 0.45121 = 0.54879. */
static const float line_X[] = {1, 2, 3, 4, 5, 6, 7, 8};
static const int line_y[] = {0, 0, 0, 1, 0, 1, 1, 1};

static void test_pruning_path(void **state)
{
    assert_int_equal(leaves_at("{}", line_X, line_y, 8, 1, 2), 4);
    struct {
        const char *crit;
        double alpha;
        size_t below, above;
    } t[] = {{"gini", 0.1, 4, 2},
             {"gini", 0.3, 2, 1},
             {"entropy", 0.5 * 5.0 / 8 * (0.2 * log2(5) + 0.8 * log2(1.25)), 4, 2},
             {"entropy", 1 - 5.0 / 8 * (0.2 * log2(5) + 0.8 * log2(1.25)), 2, 1}};
    for (size_t k = 0; k < sizeof t / sizeof t[0]; k++)
        for (int side = 0; side < 2; side++) {
            char yaml[128];
            snprintf(yaml, sizeof yaml, "{criterion: %s, ccp_alpha: %.12f}", t[k].crit,
                     t[k].alpha + (side ? 1e-9 : -1e-9));
            size_t got = leaves_at(yaml, line_X, line_y, 8, 1, 2);
            if (got != (side ? t[k].above : t[k].below))
                fail_msg("%s: %zu leaves, expected %zu", yaml, got, side ? t[k].above : t[k].below);
        }
    /* pruned at 0.2: A is one leaf [1 4], the tree one split at 3.5 */
    vb_classifier *c = cu_make("tree", "{ccp_alpha: 0.2}");
    cu_train(c, line_X, line_y, 8, 1, 2, 1);
    vb_cart_model m;
    tree_model(c, &m);
    assert_int_equal(m.n_nodes, 3);
    assert_int_equal(m.depth_max, 1);
    assert_true(m.nodes[0].thr == 3.5f);
    const float *a = m.vals + m.nodes[m.nodes[0].right].left;
    assert_true(a[0] == 0.2f && a[1] == 0.8f);
    info_has(c, "\"n_nodes\": 3, \"n_leaves\": 2, \"depth\": 1");
    vb_cart_model_clear(&m);
    vb_classifier_free(c);
    /* pruning far enough leaves the root alone */
    assert_int_equal(leaves_at("{ccp_alpha: 10}", line_X, line_y, 8, 1, 2), 1);
}

/* ---- save/load, threads, the forest's tree ------------------------------ */

static void test_save_load(void **state)
{
    int *y;
    const size_t n = 800, d = 5;
    float *X = noisy(n, d, 11, &y);
    vb_classifier *c = cu_make("tree", "{ccp_alpha: 0.001, max_features: 0.6}");
    cu_train(c, X, y, n, d, 3, 4);
    vb_writer w;
    cu_save(c, &w);
    vb_classifier *c2 = cu_make("tree", "{ccp_alpha: 0.001, max_features: 0.6}");
    vb_reader r;
    vb_reader_init(&r, w.buf.data, w.buf.len, "tree");
    vb_error err = {0};
    if (vb_classifier_load(c2, &r, &err) != VB_OK)
        fail_msg("load: %s", err.msg);
    assert_same_predictions(c, c2, X, y, n, d, 3, 0.8);
    /* a forest's state is no tree's */
    vb_classifier *f = cu_make("forest", "{n_trees: 1}");
    vb_writer wf;
    cu_train(f, X, y, n, d, 3, 4);
    cu_save(f, &wf);
    vb_reader_init(&r, wf.buf.data, wf.buf.len, "forest.vbm");
    tu_assert_fails_with(vb_classifier_load(c2, &r, &err), err, "forest.vbm");
    /* a truncated one fails cleanly */
    vb_reader_init(&r, w.buf.data, w.buf.len - 9, "cut.vbm");
    tu_assert_fails_with(vb_classifier_load(c2, &r, &err), err, "cut.vbm");
    vb_writer_free(&w);
    vb_writer_free(&wf);
    vb_classifier_free(f);
    vb_classifier_free(c);
    vb_classifier_free(c2);
    free(X);
    free(y);
}

/* Enough rows for every way of growing: subtrees as tasks, features in
 * parallel, kept histograms derived by subtraction. */
static void test_threads(void **state)
{
    int *y;
    const size_t n = 24000, d = 6;
    float *X = noisy(n, d, 21, &y);
    cu_assert_thread_independent("tree", "{}", X, y, n, d, 3, 1);
    cu_assert_thread_independent("tree", "{criterion: entropy, ccp_alpha: 0.0005}", X, y, n, d, 3, 1);
    cu_assert_thread_independent("tree", "{max_features: sqrt, max_bins: 32}", X, y, 3000, d, 3, 1);
    free(X);
    free(y);
}

/* The tree's growth (subtraction, subtrees as tasks) against the
 * forest's plain one, a tree on all rows: on one feature the forest's
 * random feature order is no order, ties go to the lower bin in both, so
 * every split and leaf is the same (scored on other rows). */
static void test_same_as_forest_tree(void **state)
{
    int *y, *yt;
    const size_t n = 40000, d = 1;
    float *X = noisy(n, d, 31, &y), *Xt = noisy(n, d, 32, &yt);
    const char *crit[] = {"gini", "entropy"};
    for (int k = 0; k < 2; k++) {
        char ty[64], fy[128];
        snprintf(ty, sizeof ty, "{criterion: %s}", crit[k]);
        snprintf(fy, sizeof fy, "{n_trees: 1, bootstrap: false, criterion: %s}", crit[k]);
        vb_classifier *t = cu_make("tree", ty), *f = cu_make("forest", fy);
        cu_train(t, X, y, n, d, 3, 1);
        cu_train(f, X, y, n, d, 3, 1);
        assert_same_predictions(t, f, Xt, yt, n, d, 3, 0.5);
        vb_cart_model m;
        tree_model(t, &m);
        vb_buf b;
        vb_buf_init(&b);
        f->vt->info_json(f->state, &b);
        char want[96];
        snprintf(want, sizeof want, "\"n_nodes\": %zu, \"n_leaves\": %zu, \"max_depth\": %d", m.n_nodes, m.n_leaves,
                 m.depth_max);
        if (!strstr(b.data, want))
            fail_msg("forest %s, tree %s", b.data, want);
        vb_buf_free(&b);
        vb_cart_model_clear(&m);
        vb_classifier_free(t);
        vb_classifier_free(f);
    }
    free(X);
    free(y);
    free(Xt);
    free(yt);
}

/* With fewer features per split the seed decides; the same seed, the same tree. */
static void test_seeded_features(void **state)
{
    int *y;
    const size_t n = 500, d = 6;
    float *X = noisy(n, d, 41, &y);
    vb_writer w[3];
    for (int k = 0; k < 3; k++) {
        vb_classifier *c = cu_make("tree", "{max_features: 0.4}");
        cu_train(c, X, y, n, d, 3, k < 2 ? 7 : 8);
        cu_save(c, &w[k]);
        vb_classifier_free(c);
    }
    assert_true(w[0].buf.len == w[1].buf.len && memcmp(w[0].buf.data, w[1].buf.data, w[0].buf.len) == 0);
    assert_false(w[0].buf.len == w[2].buf.len && memcmp(w[0].buf.data, w[2].buf.data, w[0].buf.len) == 0);
    for (int k = 0; k < 3; k++)
        vb_writer_free(&w[k]);
    free(X);
    free(y);
}

/* ---- bad parameters ------------------------------------------------------ */

static void test_bad_params(void **state)
{
    const vb_classifier_vt *vt = vb_classifier_find("tree");
    assert_non_null(vt);
    assert_true(vt->flags & VB_CLF_PROBA);
    struct {
        const char *yaml, *needle;
    } t[] = {{"{ccp_alpha: -0.01}", "ccp_alpha"},     {"{ccp_alpha: .nan}", "ccp_alpha"},
             {"{criterion: mse}", "criterion"},        {"{max_depth: -1}", "max_depth"},
             {"{min_samples_leaf: 0}", "min_samples_leaf"}, {"{min_samples_split: 1}", "min_samples_split"},
             {"{max_features: 0}", "max_features"},    {"{max_features: 1.5}", "max_features"},
             {"{max_bins: 1}", "max_bins"},            {"{bin_sample: 10}", "bin_sample"},
             {"{n_trees: 5}", "n_trees"}};
    for (size_t k = 0; k < sizeof t / sizeof t[0]; k++) {
        vb_params p;
        vb_error err = {0};
        tu_assert_fails_with(vb_params_parse_text(&p, &vt->info, t[k].yaml, &err), err, t[k].needle);
    }
    /* one class only, or labels out of range: the wrapper refuses */
    vb_classifier *c = cu_make("tree", "{}");
    const int one[] = {1, 1, 1, 1, 1, 1, 1, 1};
    vb_traindata td = cu_data(grid_X, one, 8, 2, 3, 1);
    vb_error err = {0};
    tu_assert_fails_with(vb_classifier_train(c, &td, &err), err, "only one class");
    int lab;
    tu_assert_fails_with(vb_classifier_predict(c, grid_X, 1, 2, &lab, NULL, &err), err, "before train");
    vb_classifier_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_splits),    cmocka_unit_test(test_gini_entropy),
        cmocka_unit_test(test_limits),          cmocka_unit_test(test_pruning_path),
        cmocka_unit_test(test_save_load),       cmocka_unit_test(test_threads),
        cmocka_unit_test(test_same_as_forest_tree), cmocka_unit_test(test_seeded_features),
        cmocka_unit_test(test_bad_params),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
