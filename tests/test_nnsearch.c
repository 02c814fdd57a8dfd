/* nnsearch: the exact neighbour search behind knn's l2 and cosine metrics.
 * Its answer is checked against a plain double-precision search over every
 * row, and must not change with the bounds (none, forced components, the
 * pilot's choice), the reserve (so the overflow path), the block size or
 * the thread count. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "support/testutil.h"
#include "visbench/classifier.h"
#include "../src/classifiers/internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* n rows near an r-dimensional subspace of R^d: Z (n x r) A (r x d) plus
 * noise of standard deviation `noise` (the spectrum falls after r
 * components, as for image features). */
static float *low_rank(size_t n, size_t d, size_t r, double noise, uint64_t seed)
{
    vb_rng *rng = vb_rng_new(seed);
    vb_rng *arng = vb_rng_new(1234); /* the same subspace for every call */
    double *A = malloc(r * d * sizeof *A);
    for (size_t t = 0; t < r * d; t++)
        A[t] = vb_rng_gauss(arng, 1.0);
    float *X = malloc(n * d * sizeof *X);
    double *z = malloc(r * sizeof *z);
    for (size_t i = 0; i < n; i++) {
        for (size_t u = 0; u < r; u++)
            z[u] = vb_rng_gauss(rng, 1.0);
        for (size_t j = 0; j < d; j++) {
            double s = 3.0; /* off-centre: the bounds centre the rows */
            for (size_t u = 0; u < r; u++)
                s += z[u] * A[u * d + j];
            X[i * d + j] = (float)(s + vb_rng_gauss(rng, noise));
        }
    }
    free(A);
    free(z);
    vb_rng_free(rng);
    vb_rng_free(arng);
    return X;
}

/* The reference: distances summed in double, every row, sorted by
 * (distance, index). */
static void naive(const float *X, size_t n, size_t d, const float *Q, size_t nq, int k, double *dist, int32_t *idx)
{
    double *all = malloc(n * sizeof *all);
    for (size_t i = 0; i < nq; i++) {
        for (size_t j = 0; j < n; j++) {
            double s = 0;
            for (size_t t = 0; t < d; t++) {
                double u = (double)Q[i * d + t] - X[j * d + t];
                s += u * u;
            }
            all[j] = s;
        }
        for (int t = 0; t < k; t++) {
            size_t best = 0;
            for (size_t j = 1; j < n; j++)
                if (all[j] < all[best])
                    best = j;
            dist[i * k + t] = all[best];
            idx[i * k + t] = (int32_t)best;
            all[best] = INFINITY;
        }
    }
    free(all);
}

typedef struct answer {
    float *dist;
    int32_t *idx;
    int m;
} answer;

static answer search(const float *X, size_t n, size_t d, const float *Q, size_t nq, int k, int prune, int reserve,
                     double block_mb)
{
    vb_nn_index *ix = NULL;
    vb_error err = {0};
    if (vb_nn_build(X, n, d, k, prune, 7, &ix, &err) != VB_OK)
        fail_msg("build: %s", err.msg);
    vb_nn_set_reserve(ix, reserve);
    answer a = {malloc(nq * (size_t)k * sizeof *a.dist), malloc(nq * (size_t)k * sizeof *a.idx), vb_nn_dims(ix)};
    if (vb_nn_query(ix, Q, nq, k, block_mb, a.dist, a.idx, &err) != VB_OK)
        fail_msg("query: %s", err.msg);
    vb_nn_free(ix);
    return a;
}

static void same(answer a, answer b, size_t cells)
{
    assert_memory_equal(a.idx, b.idx, cells * sizeof *a.idx);
    assert_memory_equal(a.dist, b.dist, cells * sizeof *a.dist);
}

static void drop(answer a)
{
    free(a.dist);
    free(a.idx);
}

/* ---- tests ----------------------------------------------------------------- */

/* vb_nn_select against a sort, on arrays with many ties. */
static void test_select(void **state)
{
    vb_rng *rng = vb_rng_new(5);
    float v[300], w[300];
    int32_t j[300];
    for (int round = 0; round < 400; round++) {
        size_t n = 1 + vb_rng_below(rng, 300), r = vb_rng_below(rng, n);
        int levels = 1 + (int)vb_rng_below(rng, 20);
        long sum = 0;
        for (size_t i = 0; i < n; i++) {
            v[i] = (float)vb_rng_below(rng, (size_t)levels);
            j[i] = (int32_t)i;
            sum += (long)v[i] * 1000 + i;
        }
        memcpy(w, v, sizeof v);
        for (size_t a = 1; a < n; a++) /* insertion sort of the reference */
            for (size_t b = a; b > 0 && w[b - 1] > w[b]; b--) {
                float t = w[b];
                w[b] = w[b - 1];
                w[b - 1] = t;
            }
        if (r + 1 < n) /* r < n - 1: r = n - 1 is never asked for */
            vb_nn_select(v, j, n, r);
        else
            continue;
        assert_float_equal(v[r], w[r], 0);
        long check = 0;
        for (size_t i = 0; i < n; i++) {
            if (i < r)
                assert_true(v[i] <= v[r]);
            if (i > r)
                assert_true(v[i] >= v[r]);
            assert_float_equal(v[i], (float)((long)v[i]), 0);
            check += (long)v[i] * 1000 + j[i]; /* the pairs travel together */
        }
        assert_int_equal(check, sum);
    }
    vb_rng_free(rng);
}

/* Exact on low-rank data, whatever the bounds; the pilot prunes there. */
static void test_exact_low_rank(void **state)
{
    size_t n = 6000, d = 64, nq = 200;
    int k = 5;
    float *X = low_rank(n, d, 6, 0.05, 1), *Q = low_rank(nq, d, 6, 0.05, 2);
    double *rd = malloc(nq * k * sizeof *rd);
    int32_t *ri = malloc(nq * k * sizeof *ri);
    naive(X, n, d, Q, nq, k, rd, ri);
    answer off = search(X, n, d, Q, nq, k, 0, 0, 32);
    assert_int_equal(off.m, 0);
    assert_memory_equal(off.idx, ri, nq * k * sizeof *ri);
    for (size_t c = 0; c < nq * (size_t)k; c++)
        assert_float_equal(off.dist[c], rd[c], 1e-4 * (1 + rd[c]));
    answer aut = search(X, n, d, Q, nq, k, -1, 0, 32);
    if (aut.m <= 0 || aut.m >= (int)d / 2)
        fail_msg("the pilot chose %d components for rank-6 data in 64 dimensions", aut.m);
    same(off, aut, nq * k);
    int forced[] = {1, 8, 40};
    for (int f = 0; f < 3; f++) {
        answer a = search(X, n, d, Q, nq, k, forced[f], 0, 32);
        assert_int_equal(a.m, forced[f]);
        same(off, a, nq * k);
        drop(a);
    }
    drop(off);
    drop(aut);
    free(X);
    free(Q);
    free(rd);
    free(ri);
}

/* Isotropic noise: no component bounds anything, and the pilot says so. */
static void test_pilot_declines_noise(void **state)
{
    size_t n = 5000, d = 48;
    float *X = malloc(n * d * sizeof *X);
    vb_rng *rng = vb_rng_new(3);
    for (size_t t = 0; t < n * d; t++)
        X[t] = (float)vb_rng_gauss(rng, 1.0);
    vb_nn_index *ix = NULL;
    vb_error err = {0};
    assert_int_equal(vb_nn_build(X, n, d, 5, -1, 1, &ix, &err), VB_OK);
    assert_int_equal(vb_nn_dims(ix), 0);
    vb_nn_free(ix);
    /* and too few rows for a pilot: no pruning either */
    assert_int_equal(vb_nn_build(X, 1000, d, 5, -1, 1, &ix, &err), VB_OK);
    assert_int_equal(vb_nn_dims(ix), 0);
    vb_nn_free(ix);
    vb_rng_free(rng);
    free(X);
}

/* A reserve far below the candidates (many rows at the same distance, and a
 * reserve of k) sends queries down the overflow path; block sizes from one
 * query and one row up change nothing either. */
static void test_overflow_and_blocks(void **state)
{
    size_t n = 3000, d = 24, nq = 120;
    int k = 4;
    float *X = low_rank(n, d, 3, 0.1, 4), *Q = low_rank(nq, d, 3, 0.1, 5);
    for (size_t i = 100; i < 400; i++) /* 300 copies of row 7 */
        memcpy(X + i * d, X + 7 * d, d * sizeof *X);
    memcpy(Q, X + 7 * d, d * sizeof *Q); /* a query on them: ties by index */
    double *rd = malloc(nq * k * sizeof *rd);
    int32_t *ri = malloc(nq * k * sizeof *ri);
    naive(X, n, d, Q, nq, k, rd, ri);
    assert_int_equal(ri[0], 7);
    assert_int_equal(ri[3], 102);
    answer ref = search(X, n, d, Q, nq, k, 0, 0, 32);
    assert_memory_equal(ref.idx, ri, nq * k * sizeof *ri);
    int prunes[] = {0, 6};
    for (int p = 0; p < 2; p++) {
        answer a = search(X, n, d, Q, nq, k, prunes[p], k, 32);
        same(ref, a, nq * k);
        drop(a);
        a = search(X, n, d, Q, nq, k, prunes[p], 0, 1e-9);
        same(ref, a, nq * k);
        drop(a);
        a = search(X, n, d, Q, nq, k, prunes[p], 64, 0.05);
        same(ref, a, nq * k);
        drop(a);
    }
    /* k = n: every row, in order */
    answer all = search(X, 50, d, Q, 3, 50, 0, 0, 32);
    double *ad = malloc(3 * 50 * sizeof *ad);
    int32_t *ai = malloc(3 * 50 * sizeof *ai);
    naive(X, 50, d, Q, 3, 50, ad, ai);
    assert_memory_equal(all.idx, ai, 3 * 50 * sizeof *ai);
    drop(all);
    free(ad);
    free(ai);
    drop(ref);
    free(X);
    free(Q);
    free(rd);
    free(ri);
}

/* One thread or two: the same neighbours and distances, to the bit. */
static void test_threads(void **state)
{
    size_t n = 5000, d = 40, nq = 300;
    int k = 7;
    float *X = low_rank(n, d, 5, 0.05, 8), *Q = low_rank(nq, d, 5, 0.05, 9);
    vb_set_threads(1);
    answer a = search(X, n, d, Q, nq, k, -1, 0, 32), b0 = search(X, n, d, Q, nq, k, 0, 0, 32);
    vb_set_threads(2);
    answer b = search(X, n, d, Q, nq, k, -1, 0, 32);
    vb_set_threads(0);
    assert_true(a.m > 0);
    assert_int_equal(a.m, b.m);
    same(a, b, nq * k);
    same(a, b0, nq * k);
    drop(a);
    drop(b);
    drop(b0);
    free(X);
    free(Q);
}

/* The knn classifier: prune on (forced) or off, l2 and cosine: the same
 * labels and scores; the info says how many components bound. */
static void test_knn_prune(void **state)
{
    size_t n = 2000, d = 32, nt = 200;
    float *X = low_rank(n, d, 4, 0.2, 11), *Xt = low_rank(nt, d, 4, 0.2, 12);
    int *y = malloc(n * sizeof *y);
    for (size_t i = 0; i < n; i++)
        y[i] = X[i * d] + X[i * d + 1] > 6 ? 1 : X[i * d + 2] > 3 ? 2 : 0;
    const char *metric[] = {"l2", "cosine"};
    for (int mt = 0; mt < 2; mt++) {
        int p1[200], p2[200];
        float s1[600], s2[600];
        vb_classifier *c[2];
        for (int v = 0; v < 2; v++) {
            char yaml[128];
            snprintf(yaml, sizeof yaml, "{k: 6, weights: distance, metric: %s, %s}", metric[mt],
                     v ? "prune_dims: 5" : "prune: off");
            const vb_classifier_vt *vt = vb_classifier_find("knn");
            vb_params p;
            vb_error err = {0};
            assert_int_equal(vb_params_parse_text(&p, &vt->info, yaml, &err), VB_OK);
            assert_int_equal(vb_classifier_new(vt, &p, &c[v], &err), VB_OK);
            vb_params_free(&p);
            vb_traindata td = {.X = X, .y = y, .n = n, .d = d, .n_classes = 3, .seed = 1};
            assert_int_equal(vb_classifier_train(c[v], &td, &err), VB_OK);
            assert_int_equal(vb_classifier_predict(c[v], Xt, nt, d, v ? p2 : p1, v ? s2 : s1, &err), VB_OK);
            vb_buf b;
            vb_buf_init(&b);
            c[v]->vt->info_json(c[v]->state, &b);
            assert_non_null(strstr(b.data, v ? "\"prune_dims\": 5" : "\"prune_dims\": 0"));
            vb_buf_free(&b);
        }
        assert_memory_equal(p1, p2, sizeof p1);
        assert_memory_equal(s1, s2, sizeof s1);
        vb_classifier_free(c[0]);
        vb_classifier_free(c[1]);
    }
    free(X);
    free(Xt);
    free(y);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_select),
        cmocka_unit_test(test_exact_low_rank),
        cmocka_unit_test(test_pilot_declines_noise),
        cmocka_unit_test(test_overflow_and_blocks),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_knn_prune),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
