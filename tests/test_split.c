/* split: stratified holdout, official-test and k-fold splits, limits,
 * validation, determinism, and the split file format. Datasets are built in
 * memory from 1x1 images with known class counts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "support/splitutil.h"
#include "support/testutil.h"
#include "visbench/split.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define expect_error tu_expect_error /* support/testutil.h */

/* ---- fixtures ----------------------------------------------------------- */

/* A dataset of 1x1 grey images: counts[c] samples of class c in the
 * training part (or unpartitioned), test_counts[c] in the official test part
 * when test_counts is given. Labels are interleaved (not grouped) by a fixed
 * permutation so that index order says nothing about the class. */
static vb_dataset *make_ds(const size_t *counts, const size_t *test_counts, int n_classes)
{
    size_t ntr = 0, nte = 0;
    for (int c = 0; c < n_classes; c++) {
        ntr += counts[c];
        nte += test_counts ? test_counts[c] : 0;
    }
    size_t n = ntr + nte;
    int *lab = malloc(n * sizeof *lab);
    uint8_t *part = malloc(n);
    assert_non_null(lab);
    assert_non_null(part);
    size_t j = 0;
    for (int c = 0; c < n_classes; c++)
        for (size_t i = 0; i < counts[c]; i++, j++) {
            lab[j] = c;
            part[j] = VB_PART_TRAIN;
        }
    for (int c = 0; test_counts && c < n_classes; c++)
        for (size_t i = 0; i < test_counts[c]; i++, j++) {
            lab[j] = c;
            part[j] = VB_PART_TEST;
        }
    /* stride 37 is coprime with the sizes used here: a permutation */
    size_t stride = 37;
    while (n > 1 && (n % stride == 0 || stride % n == 0))
        stride += 2;
    int *plab = malloc(n * sizeof *plab);
    uint8_t *ppart = malloc(n);
    assert_non_null(plab);
    assert_non_null(ppart);
    for (size_t i = 0; i < n; i++) {
        plab[i] = lab[(i * stride) % n];
        ppart[i] = part[(i * stride) % n];
    }
    vb_dataset *ds = su_grouped_ds(n, plab, n_classes, NULL, test_counts ? ppart : NULL);
    free(plab);
    free(ppart);
    free(lab);
    free(part);
    return ds;
}

static const size_t c523[3] = {50, 30, 20};

/* Per-class counts of an index list. */
static void class_counts(const vb_dataset *ds, const size_t *v, size_t n, size_t *out)
{
    memset(out, 0, (size_t)ds->n_classes * sizeof *out);
    for (size_t i = 0; i < n; i++)
        out[ds->labels[v[i]]]++;
}

static unsigned char *part_mask(const vb_dataset *ds, int part)
{
    unsigned char *m = calloc(ds->n, 1);
    assert_non_null(m);
    for (size_t i = 0; i < ds->n; i++)
        m[i] = ds->part[i] == part;
    return m;
}

static void assert_within_one(double got, double exact)
{
    if (fabs(got - exact) > 1.0 + 1e-9)
        fail_msg("%g is not within 1 of %g", got, exact);
}

/* ---- holdout ------------------------------------------------------------ */

static void test_holdout(void **state)
{
    vb_dataset *ds = make_ds(c523, NULL, 3);
    vb_error err = {0};
    const double fractions[] = {0.2, 0.25, 0.33, 0.5, 0.9};
    for (size_t t = 0; t < sizeof fractions / sizeof fractions[0]; t++) {
        vb_split_conf conf = vb_split_conf_default;
        conf.test_fraction = fractions[t];
        vb_split *s = NULL;
        assert_int_equal(vb_split_make(&conf, ds, &s, &err), VB_OK);
        assert_int_equal(s->n_folds, 1);
        assert_int_equal(s->n_samples, 100);
        assert_true(s->data_hash == vb_dataset_hash(ds));
        assert_true(s->hash == vb_split_compute_hash(s));
        const vb_fold *f = &s->folds[0];
        assert_string_equal(f->name, "holdout");
        assert_int_equal(f->n_val, 0);
        su_assert_partition(f, NULL, ds->n);
        size_t te[3], tr[3];
        class_counts(ds, f->test, f->n_test, te);
        class_counts(ds, f->train, f->n_train, tr);
        for (int c = 0; c < 3; c++) {
            assert_within_one((double)te[c], fractions[t] * (double)c523[c]);
            assert_true(tr[c] >= 1);
        }
        assert_within_one((double)f->n_test, fractions[t] * 100);
        vb_split_free(s);
    }
    /* hand-computed: 0.2 of 50/30/20 is exactly 10/6/4; 0.25 is 12.5/7.5/5,
     * floors 12/7/5 and the one left goes to the lower class of the tie */
    vb_split_conf conf = vb_split_conf_default;
    vb_split *s = NULL;
    size_t te[3];
    assert_int_equal(vb_split_make(&conf, ds, &s, &err), VB_OK);
    class_counts(ds, s->folds[0].test, s->folds[0].n_test, te);
    assert_int_equal(te[0], 10);
    assert_int_equal(te[1], 6);
    assert_int_equal(te[2], 4);
    vb_split_free(s);
    conf.test_fraction = 0.25;
    assert_int_equal(vb_split_make(&conf, ds, &s, &err), VB_OK);
    class_counts(ds, s->folds[0].test, s->folds[0].n_test, te);
    assert_int_equal(te[0], 13);
    assert_int_equal(te[1], 7);
    assert_int_equal(te[2], 5);
    vb_split_free(s);
    vb_dataset_free(ds);
}

/* Tiny classes keep one training sample even when the fraction asks for
 * everything. */
static void test_holdout_keeps_one_training_sample(void **state)
{
    const size_t counts[3] = {1, 2, 10};
    vb_dataset *ds = make_ds(counts, NULL, 3);
    vb_error err = {0};
    vb_split_conf conf = vb_split_conf_default;
    conf.test_fraction = 0.95;
    vb_split *s = NULL;
    assert_int_equal(vb_split_make(&conf, ds, &s, &err), VB_OK);
    size_t tr[3], te[3];
    class_counts(ds, s->folds[0].train, s->folds[0].n_train, tr);
    class_counts(ds, s->folds[0].test, s->folds[0].n_test, te);
    for (int c = 0; c < 3; c++) {
        assert_true(tr[c] >= 1);
        assert_int_equal(tr[c] + te[c], counts[c]);
    }
    assert_int_equal(te[0], 0);
    su_assert_partition(&s->folds[0], NULL, ds->n);
    vb_split_free(s);
    vb_dataset_free(ds);
}

/* A holdout on a partitioned dataset splits all samples regardless of the parts. */
/* holdout on a dataset with an official test part draws from the training
 * part only (the test part stays unseen); pool: all takes every sample. */
static void test_holdout_pool(void **state)
{
    const size_t tc[3] = {10, 10, 10};
    vb_dataset *ds = make_ds(c523, tc, 3);
    vb_error err = {0};
    vb_split_conf conf = vb_split_conf_default;
    vb_split *s = NULL;
    assert_int_equal(vb_split_make(&conf, ds, &s, &err), VB_OK);
    unsigned char *train = part_mask(ds, VB_PART_TRAIN);
    su_assert_partition(&s->folds[0], train, ds->n);
    free(train);
    /* 20 % of the training part tests */
    assert_int_equal(s->folds[0].n_test + s->folds[0].n_train, vb_split_pool_size(&conf, ds));
    assert_int_equal(s->folds[0].n_test, (size_t)llround(0.2 * (double)vb_split_pool_size(&conf, ds)));
    assert_int_equal(s->folds[0].kind, VB_FOLD_HOLDOUT);
    assert_string_equal(vb_fold_kind_name(s->folds[0].kind), "holdout");
    vb_split_free(s);

    conf.pool = VB_POOL_ALL;
    assert_int_equal(vb_split_make(&conf, ds, &s, &err), VB_OK);
    su_assert_partition(&s->folds[0], NULL, ds->n);
    assert_int_equal(s->folds[0].n_test, 26);
    assert_int_equal(vb_split_pool_size(&conf, ds), ds->n);
    vb_split_free(s);
    vb_dataset_free(ds);
}

/* Fold kinds are data; `train` picks its fold by kind, never by name; the
 * pool fold is the k-fold pool whole. */
static void test_fold_kinds_and_pool(void **state)
{
    const size_t tc[3] = {10, 10, 10};
    vb_dataset *ds = make_ds(c523, tc, 3);
    vb_error err = {0};
    vb_split_conf conf = vb_split_conf_default;
    conf.protocol = VB_PROTO_KFOLD;
    conf.k = 3;
    conf.repeats = 2;
    conf.official_test = 1;
    vb_split *s = NULL;
    assert_int_equal(vb_split_make(&conf, ds, &s, &err), VB_OK);
    assert_int_equal(s->n_folds, 7);
    for (int f = 0; f < 6; f++) {
        assert_int_equal(s->folds[f].kind, VB_FOLD_REPEAT);
        assert_int_equal(s->folds[f].repeat, f / 3 + 1);
        assert_int_equal(s->folds[f].number, f % 3 + 1);
    }
    assert_int_equal(s->folds[6].kind, VB_FOLD_OFFICIAL_TEST);
    assert_ptr_equal(vb_split_single_fold(s), &s->folds[6]);
    vb_split_free(s);

    conf.repeats = 1;
    conf.official_test = 0;
    conf.validation = 0.2;
    assert_int_equal(vb_split_make(&conf, ds, &s, &err), VB_OK);
    assert_int_equal(s->folds[1].kind, VB_FOLD_CV);
    assert_int_equal(s->folds[1].repeat, 0);
    assert_int_equal(s->folds[1].number, 2);
    assert_null(vb_split_single_fold(s));
    vb_fold pool;
    assert_int_equal(vb_split_pool_fold(&conf, ds, &pool, &err), VB_OK);
    assert_int_equal(pool.kind, VB_FOLD_POOL);
    assert_int_equal(pool.n_test, 0);
    /* every training-part sample, once, in train or validation */
    unsigned char *train = part_mask(ds, VB_PART_TRAIN);
    su_assert_partition(&pool, train, ds->n);
    free(train);
    assert_int_equal(pool.n_val, (size_t)llround(0.2 * (double)(pool.n_train + pool.n_val)));
    vb_fold_free(&pool);
    vb_split_free(s);
    vb_dataset_free(ds);
}

/* ---- official-test ------------------------------------------------------ */

static void test_official(void **state)
{
    const size_t tc[3] = {10, 7, 3};
    vb_dataset *ds = make_ds(c523, tc, 3);
    vb_error err = {0};
    vb_split_conf conf = vb_split_conf_default;
    conf.protocol = VB_PROTO_OFFICIAL;
    vb_split *s = NULL;
    assert_int_equal(vb_split_make(&conf, ds, &s, &err), VB_OK);
    assert_int_equal(s->n_folds, 1);
    const vb_fold *f = &s->folds[0];
    assert_string_equal(f->name, "test");
    assert_int_equal(f->n_train, 100);
    assert_int_equal(f->n_test, 20);
    su_assert_partition(f, NULL, ds->n);
    for (size_t i = 0; i < f->n_train; i++)
        assert_int_equal(ds->part[f->train[i]], VB_PART_TRAIN);
    for (size_t i = 0; i < f->n_test; i++)
        assert_int_equal(ds->part[f->test[i]], VB_PART_TEST);
    vb_split_free(s);

    /* limits: train 50/30/20 to 10 gives 5/3/2; test 10/7/3 to 10 gives 5/3.5/1.5 -> 5/4/1
     * (largest remainder, tie to the lower class) */
    conf.train_limit = 10;
    conf.test_limit = 10;
    assert_int_equal(vb_split_make(&conf, ds, &s, &err), VB_OK);
    f = &s->folds[0];
    size_t cnt[3];
    class_counts(ds, f->train, f->n_train, cnt);
    assert_int_equal(cnt[0], 5);
    assert_int_equal(cnt[1], 3);
    assert_int_equal(cnt[2], 2);
    class_counts(ds, f->test, f->n_test, cnt);
    assert_int_equal(cnt[0], 5);
    assert_int_equal(cnt[1], 4);
    assert_int_equal(cnt[2], 1);
    su_assert_sorted(f->train, f->n_train);
    su_assert_sorted(f->test, f->n_test);
    for (size_t i = 0; i < f->n_train; i++)
        assert_int_equal(ds->part[f->train[i]], VB_PART_TRAIN);
    for (size_t i = 0; i < f->n_test; i++)
        assert_int_equal(ds->part[f->test[i]], VB_PART_TEST);
    vb_split_free(s);
    vb_dataset_free(ds);
}

/* Largest remainder, hand-computed on 50/30/20 (official train part). */
static void test_train_limit_largest_remainder(void **state)
{
    const size_t tc[3] = {1, 1, 1};
    vb_dataset *ds = make_ds(c523, tc, 3);
    vb_error err = {0};
    /* limit, then the expected per-class counts */
    const size_t cases[][4] = {
        {10, 5, 3, 2},    /* 5, 3, 2 exactly */
        {7, 4, 2, 1},     /* 3.5, 2.1, 1.4: floors 3, 2, 1, one left: class 0 (.5) */
        {8, 4, 2, 2},     /* 4, 2.4, 1.6: floors 4, 2, 1, one left: class 2 (.6) */
        {3, 1, 1, 1},     /* 1.5, 0.9, 0.6: floors 1, 0, 0, two left: class 1 (.9), class 2 (.6) */
        {99, 49, 30, 20}, /* 49.5, 29.7, 19.8: floors 49, 29, 19, two left: class 2 (.8), class 1 (.7) */
        {100, 50, 30, 20},
        {1000, 50, 30, 20}, /* above the pool: everything */
    };
    for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
        vb_split_conf conf = vb_split_conf_default;
        conf.protocol = VB_PROTO_OFFICIAL;
        conf.train_limit = cases[t][0];
        vb_split *s = NULL;
        assert_int_equal(vb_split_make(&conf, ds, &s, &err), VB_OK);
        size_t cnt[3];
        class_counts(ds, s->folds[0].train, s->folds[0].n_train, cnt);
        for (int c = 0; c < 3; c++)
            if (cnt[c] != cases[t][c + 1])
                fail_msg("train_limit %zu: class %d has %zu, expected %zu", cases[t][0], c, cnt[c], cases[t][c + 1]);
        su_assert_sorted(s->folds[0].train, s->folds[0].n_train);
        vb_split_free(s);
    }
    vb_dataset_free(ds);
}

/* ---- kfold -------------------------------------------------------------- */

static void check_kfold(const vb_dataset *ds, const vb_split *s, size_t first, int k, const unsigned char *pool,
                        const size_t *pool_counts)
{
    size_t n_pool = 0;
    for (size_t i = 0; i < ds->n; i++)
        n_pool += pool ? pool[i] : 1;
    unsigned char *tested = calloc(ds->n, 1);
    assert_non_null(tested);
    size_t min_size = SIZE_MAX, max_size = 0, n_tested = 0;
    for (int f = 0; f < k; f++) {
        const vb_fold *fo = &s->folds[first + (size_t)f];
        su_assert_partition(fo, pool, ds->n);
        n_tested += fo->n_test;
        for (size_t i = 0; i < fo->n_test; i++) {
            assert_false(tested[fo->test[i]]);
            tested[fo->test[i]] = 1;
        }
        min_size = fo->n_test < min_size ? fo->n_test : min_size;
        max_size = fo->n_test > max_size ? fo->n_test : max_size;
        size_t cnt[8];
        class_counts(ds, fo->test, fo->n_test, cnt);
        for (int c = 0; c < ds->n_classes; c++)
            assert_within_one((double)cnt[c], (double)pool_counts[c] / k);
        size_t trc[8];
        class_counts(ds, fo->train, fo->n_train, trc);
        for (int c = 0; c < ds->n_classes; c++)
            assert_int_equal(trc[c] + cnt[c], pool_counts[c]);
    }
    assert_true(max_size - min_size <= 1);
    /* the test sets cover the pool, each sample once */
    assert_int_equal(n_tested, n_pool);
    for (size_t i = 0; i < ds->n; i++)
        assert_int_equal(tested[i], pool ? pool[i] : 1);
    free(tested);
}

/* A small limit keeps at least one sample of a rare class: 98/1/1 limited
 * to 3 is 1/1/1 (proportional quotas would be 3/0/0), and to 5 is 3/1/1. */
static void test_train_limit_keeps_rare_classes(void **state)
{
    const size_t c9811[3] = {98, 1, 1}, tc[3] = {1, 1, 1};
    vb_dataset *ds = make_ds(c9811, tc, 3);
    vb_error err = {0};
    const size_t cases[][4] = {{3, 1, 1, 1}, {5, 3, 1, 1}, {50, 48, 1, 1}};
    for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
        vb_split_conf conf = vb_split_conf_default;
        conf.protocol = VB_PROTO_OFFICIAL;
        conf.train_limit = cases[t][0];
        vb_split *s = NULL;
        assert_int_equal(vb_split_make(&conf, ds, &s, &err), VB_OK);
        size_t cnt[3];
        class_counts(ds, s->folds[0].train, s->folds[0].n_train, cnt);
        for (int c = 0; c < 3; c++)
            if (cnt[c] != cases[t][c + 1])
                fail_msg("train_limit %zu: class %d has %zu, expected %zu", cases[t][0], c, cnt[c], cases[t][c + 1]);
        vb_split_free(s);
    }
    vb_dataset_free(ds);
}

static void test_kfold(void **state)
{
    vb_dataset *ds = make_ds(c523, NULL, 3);
    vb_error err = {0};
    for (int k = 2; k <= 7; k++) {
        vb_split_conf conf = vb_split_conf_default;
        conf.protocol = VB_PROTO_KFOLD;
        conf.k = k;
        vb_split *s = NULL;
        assert_int_equal(vb_split_make(&conf, ds, &s, &err), VB_OK);
        assert_int_equal(s->n_folds, (size_t)k);
        for (int f = 0; f < k; f++) {
            char name[32];
            snprintf(name, sizeof name, "fold%d", f + 1);
            assert_string_equal(s->folds[f].name, name);
        }
        check_kfold(ds, s, 0, k, NULL, c523);
        vb_split_free(s);
    }
    /* k = 5: exactly 10/6/4 per fold */
    vb_split_conf conf = vb_split_conf_default;
    conf.protocol = VB_PROTO_KFOLD;
    vb_split *s = NULL;
    assert_int_equal(vb_split_make(&conf, ds, &s, &err), VB_OK);
    for (int f = 0; f < 5; f++) {
        size_t cnt[3];
        class_counts(ds, s->folds[f].test, s->folds[f].n_test, cnt);
        assert_int_equal(cnt[0], 10);
        assert_int_equal(cnt[1], 6);
        assert_int_equal(cnt[2], 4);
    }
    vb_split_free(s);
    vb_dataset_free(ds);
}

static void test_kfold_repeats(void **state)
{
    vb_dataset *ds = make_ds(c523, NULL, 3);
    vb_error err = {0};
    vb_split_conf conf = vb_split_conf_default;
    conf.protocol = VB_PROTO_KFOLD;
    conf.k = 3;
    conf.repeats = 3;
    vb_split *s = NULL;
    assert_int_equal(vb_split_make(&conf, ds, &s, &err), VB_OK);
    assert_int_equal(s->n_folds, 9);
    const char *names[9] = {"r1-fold1", "r1-fold2", "r1-fold3", "r2-fold1", "r2-fold2",
                            "r2-fold3", "r3-fold1", "r3-fold2", "r3-fold3"};
    for (int f = 0; f < 9; f++)
        assert_string_equal(s->folds[f].name, names[f]);
    for (int r = 0; r < 3; r++)
        check_kfold(ds, s, (size_t)r * 3, 3, NULL, c523);
    /* another repeat, other folds */
    for (int r = 1; r < 3; r++) {
        int same = 1;
        for (int f = 0; f < 3; f++) {
            const vb_fold *a = &s->folds[f], *b = &s->folds[r * 3 + f];
            same &= su_same_lists(a->test, a->n_test, b->test, b->n_test);
        }
        assert_false(same);
    }
    vb_split_free(s);
    vb_dataset_free(ds);
}

/* On a partitioned dataset kfold folds the training part; official_test
 * adds a "test" fold that trains on that whole part. */
static void test_kfold_official_test(void **state)
{
    const size_t tc[3] = {10, 10, 10};
    vb_dataset *ds = make_ds(c523, tc, 3);
    vb_error err = {0};
    unsigned char *trmask = part_mask(ds, VB_PART_TRAIN);
    vb_split_conf conf = vb_split_conf_default;
    conf.protocol = VB_PROTO_KFOLD;
    conf.k = 4;
    vb_split *s = NULL;
    assert_int_equal(vb_split_make(&conf, ds, &s, &err), VB_OK);
    assert_int_equal(s->n_folds, 4);
    check_kfold(ds, s, 0, 4, trmask, c523);
    vb_split_free(s);

    conf.official_test = 1;
    assert_int_equal(vb_split_make(&conf, ds, &s, &err), VB_OK);
    assert_int_equal(s->n_folds, 5);
    check_kfold(ds, s, 0, 4, trmask, c523);
    const vb_fold *t = &s->folds[4];
    assert_string_equal(t->name, "test");
    assert_int_equal(t->n_train, 100);
    assert_int_equal(t->n_test, 30);
    su_assert_partition(t, NULL, ds->n);
    for (size_t i = 0; i < t->n_test; i++)
        assert_int_equal(ds->part[t->test[i]], VB_PART_TEST);
    vb_split_free(s);

    /* train_limit subsamples the pool before folding: 5/3/2, and the test fold
     * trains on the same subsample */
    conf.k = 2;
    conf.train_limit = 10;
    assert_int_equal(vb_split_make(&conf, ds, &s, &err), VB_OK);
    assert_int_equal(s->n_folds, 3);
    unsigned char *pool = calloc(ds->n, 1);
    assert_non_null(pool);
    for (int f = 0; f < 2; f++)
        for (size_t i = 0; i < s->folds[f].n_test; i++)
            pool[s->folds[f].test[i]] = 1;
    size_t cnt[3] = {0};
    for (size_t i = 0; i < ds->n; i++)
        if (pool[i]) {
            assert_int_equal(ds->part[i], VB_PART_TRAIN);
            cnt[ds->labels[i]]++;
        }
    assert_int_equal(cnt[0], 5);
    assert_int_equal(cnt[1], 3);
    assert_int_equal(cnt[2], 2);
    const size_t lim[3] = {5, 3, 2};
    check_kfold(ds, s, 0, 2, pool, lim);
    t = &s->folds[2];
    assert_int_equal(t->n_train, 10);
    for (size_t i = 0; i < t->n_train; i++)
        assert_true(pool[t->train[i]]);
    free(pool);
    vb_split_free(s);
    free(trmask);
    vb_dataset_free(ds);
}

static void test_kfold_test_limit(void **state)
{
    vb_dataset *ds = make_ds(c523, NULL, 3);
    vb_error err = {0};
    vb_split_conf conf = vb_split_conf_default;
    conf.protocol = VB_PROTO_KFOLD;
    conf.k = 5;
    conf.test_limit = 5; /* of 10/6/4: 2.5/1.5/1 -> 2/1/1 + one to class 0 (tie) */
    vb_split *s = NULL;
    assert_int_equal(vb_split_make(&conf, ds, &s, &err), VB_OK);
    for (int f = 0; f < 5; f++) {
        const vb_fold *fo = &s->folds[f];
        assert_int_equal(fo->n_train, 80);
        assert_int_equal(fo->n_test, 5);
        size_t cnt[3];
        class_counts(ds, fo->test, fo->n_test, cnt);
        assert_int_equal(cnt[0], 3);
        assert_int_equal(cnt[1], 1);
        assert_int_equal(cnt[2], 1);
        su_assert_sorted(fo->test, fo->n_test);
        /* still disjoint from training */
        for (size_t i = 0; i < fo->n_test; i++)
            for (size_t j = 0; j < fo->n_train; j++)
                assert_true(fo->test[i] != fo->train[j]);
    }
    vb_split_free(s);
    vb_dataset_free(ds);
}

/* ---- validation --------------------------------------------------------- */

static void test_validation(void **state)
{
    vb_dataset *ds = make_ds(c523, NULL, 3);
    vb_error err = {0};
    vb_split_conf conf = vb_split_conf_default;
    conf.validation = 0.25; /* train 40/24/16 -> val 10/6/4, train 30/18/12 */
    vb_split *s = NULL;
    assert_int_equal(vb_split_make(&conf, ds, &s, &err), VB_OK);
    const vb_fold *f = &s->folds[0];
    su_assert_partition(f, NULL, ds->n);
    size_t va[3], tr[3], te[3];
    class_counts(ds, f->val, f->n_val, va);
    class_counts(ds, f->train, f->n_train, tr);
    class_counts(ds, f->test, f->n_test, te);
    const size_t want_va[3] = {10, 6, 4}, want_tr[3] = {30, 18, 12}, want_te[3] = {10, 6, 4};
    for (int c = 0; c < 3; c++) {
        assert_int_equal(va[c], want_va[c]);
        assert_int_equal(tr[c], want_tr[c]);
        assert_int_equal(te[c], want_te[c]);
    }
    vb_split_free(s);

    /* kfold: every fold carves its own validation set out of its training set */
    conf.protocol = VB_PROTO_KFOLD;
    conf.k = 4;
    conf.validation = 0.3;
    assert_int_equal(vb_split_make(&conf, ds, &s, &err), VB_OK);
    for (int k = 0; k < 4; k++) {
        f = &s->folds[k];
        su_assert_partition(f, NULL, ds->n);
        assert_int_equal(f->n_test, 25);
        assert_int_equal(f->n_val, 23); /* llround(0.3 * 75) = 22.5 -> 23 */
        assert_int_equal(f->n_train, 52);
        size_t trc[3], tec[3];
        class_counts(ds, f->val, f->n_val, va);
        class_counts(ds, f->train, f->n_train, trc);
        class_counts(ds, f->test, f->n_test, tec);
        for (int c = 0; c < 3; c++) {
            assert_within_one((double)va[c], 0.3 * (double)(c523[c] - tec[c]));
            assert_true(trc[c] >= 1);
        }
    }
    vb_split_free(s);

    /* a class of one training sample keeps it in training */
    const size_t counts[2] = {2, 20};
    vb_dataset *small = make_ds(counts, NULL, 2);
    conf = vb_split_conf_default;
    conf.test_fraction = 0.5;
    conf.validation = 0.9;
    assert_int_equal(vb_split_make(&conf, small, &s, &err), VB_OK);
    f = &s->folds[0];
    su_assert_partition(f, NULL, small->n);
    class_counts(small, f->train, f->n_train, tr);
    assert_true(tr[0] >= 1 && tr[1] >= 1);
    vb_split_free(s);
    vb_dataset_free(small);
    vb_dataset_free(ds);
}

/* ---- determinism -------------------------------------------------------- */

static void test_determinism(void **state)
{
    const size_t tc[3] = {9, 9, 9};
    vb_dataset *ds = make_ds(c523, tc, 3);
    vb_error err = {0};
    su_check_determinism(ds, 60, 20);
    /* the data hash is part of the split hash */
    vb_split_conf conf = vb_split_conf_default;
    vb_split *a = NULL, *b = NULL;
    assert_int_equal(vb_split_make(&conf, ds, &a, &err), VB_OK);
    ds->px[0][0] ^= 0xff;
    assert_int_equal(vb_split_make(&conf, ds, &b, &err), VB_OK);
    assert_true(a->data_hash != b->data_hash);
    assert_true(a->hash != b->hash);
    vb_split_free(a);
    vb_split_free(b);
    vb_dataset_free(ds);
}

/* ---- golden hashes ------------------------------------------------------ */

/* Single-label splits are pinned bit for bit: these hashes were recorded
 * before multilabel (iterative) stratification was added to split.c, and
 * every protocol, limit, validation and the pool fold must still give them. */
static void test_single_label_golden_hashes(void **state)
{
    const size_t tc[3] = {9, 9, 9};
    vb_dataset *ds = make_ds(c523, tc, 3);
    vb_error err = {0};
    struct {
        vb_protocol proto;
        int k, repeats, official_test;
        double test_fraction, validation;
        size_t train_limit, test_limit;
        vb_pool pool;
        uint64_t seed, want;
    } cases[] = {
        {VB_PROTO_HOLDOUT, 5, 1, 0, 0.2, 0.0, 0, 0, VB_POOL_TRAIN, 1, 0x4b15c1f79ff41a8aull},
        {VB_PROTO_HOLDOUT, 5, 1, 0, 0.3, 0.25, 40, 7, VB_POOL_ALL, 7, 0x54f05b0428081a25ull},
        {VB_PROTO_OFFICIAL, 5, 1, 0, 0.2, 0.2, 60, 20, VB_POOL_TRAIN, 42, 0x5226bf50bc4a2ee7ull},
        {VB_PROTO_KFOLD, 5, 1, 0, 0.2, 0.0, 0, 0, VB_POOL_TRAIN, 1, 0xa7568ac2f5c42ddcull},
        {VB_PROTO_KFOLD, 3, 2, 1, 0.2, 0.2, 60, 20, VB_POOL_TRAIN, 42, 0x4c3fe9d6a6faba65ull},
        {VB_PROTO_KFOLD, 4, 3, 0, 0.2, 0.1, 0, 10, VB_POOL_ALL, 99, 0xc3259d779bc5041bull},
    };
    for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
        vb_split_conf conf = vb_split_conf_default;
        conf.protocol = cases[t].proto;
        conf.k = cases[t].k;
        conf.repeats = cases[t].repeats;
        conf.official_test = cases[t].official_test;
        conf.test_fraction = cases[t].test_fraction;
        conf.validation = cases[t].validation;
        conf.train_limit = cases[t].train_limit;
        conf.test_limit = cases[t].test_limit;
        conf.pool = cases[t].pool;
        conf.seed = cases[t].seed;
        vb_split *s = NULL;
        assert_int_equal(vb_split_make(&conf, ds, &s, &err), VB_OK);
        if (s->hash != cases[t].want)
            fail_msg("case %zu: split hash %016" PRIx64 ", recorded %016" PRIx64, t, s->hash, cases[t].want);
        vb_split_free(s);
    }
    /* the pool fold that `train` ships, limited and with validation */
    vb_split_conf conf = vb_split_conf_default;
    conf.protocol = VB_PROTO_KFOLD;
    conf.train_limit = 50;
    conf.validation = 0.2;
    conf.seed = 5;
    vb_fold pool;
    assert_int_equal(vb_split_pool_fold(&conf, ds, &pool, &err), VB_OK);
    vb_split one = {.n_samples = ds->n, .data_hash = vb_dataset_hash(ds), .n_folds = 1, .folds = &pool};
    uint64_t h = vb_split_compute_hash(&one);
    if (h != 0x5fb10cc14c9aa478ull)
        fail_msg("pool fold hash %016" PRIx64 ", recorded 5fb10cc14c9aa478", h);
    vb_fold_free(&pool);
    vb_dataset_free(ds);
}

/* ---- errors ------------------------------------------------------------- */

static void test_errors(void **state)
{
    vb_dataset *ds = make_ds(c523, NULL, 3);
    vb_error err = {0};
    vb_split *s = (vb_split *)1;
    vb_split_conf conf = vb_split_conf_default;
    conf.protocol = VB_PROTO_OFFICIAL;
    expect_error(vb_split_make(&conf, ds, &s, &err), err, VB_ERR_DATA,
                 "dataset 'toy' has no official test part; use protocol: holdout or kfold, "
                 "or give the dataset a test part");
    assert_null(s);
    conf.protocol = VB_PROTO_KFOLD;
    conf.official_test = 1;
    expect_error(vb_split_make(&conf, ds, &s, &err), err, VB_ERR_DATA,
                 "dataset 'toy' has no official test part; use protocol: holdout or kfold, "
                 "or give the dataset a test part");

    conf = vb_split_conf_default;
    conf.protocol = VB_PROTO_KFOLD;
    conf.k = 21;
    expect_error(vb_split_make(&conf, ds, &s, &err), err, VB_ERR_DATA,
                 "class 'c' has 20 samples, fewer than the k = 21 folds; lower k");
    conf.k = 5;
    conf.train_limit = 10; /* 5/3/2 < 5 */
    expect_error(vb_split_make(&conf, ds, &s, &err), err, VB_ERR_DATA,
                 "class 'b' has 3 samples, fewer than the k = 5 folds; lower k");
    conf.k = 1;
    expect_error(vb_split_make(&conf, ds, &s, &err), err, VB_ERR_PARAM, "split.k must be 2..1000, not 1");
    conf.k = 1001;
    expect_error(vb_split_make(&conf, ds, &s, &err), err, VB_ERR_PARAM, "split.k must be 2..1000, not 1001");
    conf.k = 5;
    conf.repeats = 0;
    expect_error(vb_split_make(&conf, ds, &s, &err), err, VB_ERR_PARAM, "split.repeats must be 1..1000, not 0");

    conf = vb_split_conf_default;
    conf.train_limit = 2;
    expect_error(vb_split_make(&conf, ds, &s, &err), err, VB_ERR_PARAM,
                 "split.train_limit = 2 is smaller than the 3 classes; raise it");
    conf.train_limit = 0;
    conf.test_limit = 1;
    expect_error(vb_split_make(&conf, ds, &s, &err), err, VB_ERR_PARAM,
                 "split.test_limit = 1 is smaller than the 3 classes; raise it");

    conf = vb_split_conf_default;
    const double bad_tf[] = {0, 1, -0.2, 1.5};
    const char *bad_tf_msg[] = {"split.test_fraction must be between 0 and 1, not 0",
                                "split.test_fraction must be between 0 and 1, not 1",
                                "split.test_fraction must be between 0 and 1, not -0.2",
                                "split.test_fraction must be between 0 and 1, not 1.5"};
    for (int i = 0; i < 4; i++) {
        conf.test_fraction = bad_tf[i];
        expect_error(vb_split_make(&conf, ds, &s, &err), err, VB_ERR_PARAM, bad_tf_msg[i]);
    }
    conf.test_fraction = NAN;
    expect_error(vb_split_make(&conf, ds, &s, &err), err, VB_ERR_PARAM,
                 "split.test_fraction must be between 0 and 1, not nan");
    conf = vb_split_conf_default;
    conf.validation = 1;
    expect_error(vb_split_make(&conf, ds, &s, &err), err, VB_ERR_PARAM,
                 "split.validation must be in [0, 1), not 1");
    conf.validation = -0.1;
    expect_error(vb_split_make(&conf, ds, &s, &err), err, VB_ERR_PARAM,
                 "split.validation must be in [0, 1), not -0.1");
    conf.validation = NAN;
    expect_error(vb_split_make(&conf, ds, &s, &err), err, VB_ERR_PARAM,
                 "split.validation must be in [0, 1), not nan");
    /* kfold ignores test_fraction */
    conf = vb_split_conf_default;
    conf.protocol = VB_PROTO_KFOLD;
    conf.test_fraction = 0;
    assert_int_equal(vb_split_make(&conf, ds, &s, &err), VB_OK);
    vb_split_free(s);

    /* a fraction so small that nothing is tested */
    conf = vb_split_conf_default;
    conf.test_fraction = 0.001;
    expect_error(vb_split_make(&conf, ds, &s, &err), err, VB_ERR_DATA, "split fold 'holdout' has no test samples");
    assert_null(s);
    vb_dataset_free(ds);

    /* an official part without training samples */
    const size_t none[2] = {0, 0}, some[2] = {3, 3};
    vb_dataset *only_test = make_ds(none, some, 2);
    conf = vb_split_conf_default;
    conf.protocol = VB_PROTO_OFFICIAL;
    expect_error(vb_split_make(&conf, only_test, &s, &err), err, VB_ERR_DATA,
                 "split fold 'test' has no training samples");
    vb_dataset_free(only_test);
}

static void test_protocol_names(void **state)
{
    vb_protocol p;
    assert_true(vb_protocol_parse("holdout", &p));
    assert_int_equal(p, VB_PROTO_HOLDOUT);
    assert_true(vb_protocol_parse("official-test", &p));
    assert_int_equal(p, VB_PROTO_OFFICIAL);
    assert_true(vb_protocol_parse("kfold", &p));
    assert_int_equal(p, VB_PROTO_KFOLD);
    assert_false(vb_protocol_parse("k-fold", &p));
    assert_false(vb_protocol_parse("", &p));
    assert_string_equal(vb_protocol_name(VB_PROTO_KFOLD), "kfold");
    assert_string_equal(vb_protocol_name(VB_PROTO_OFFICIAL), "official-test");
    assert_string_equal(vb_protocol_name((vb_protocol)7), "?");
}

/* ---- file format -------------------------------------------------------- */

static vb_split *sample_split(const vb_dataset *ds)
{
    vb_split_conf conf = vb_split_conf_default;
    conf.protocol = VB_PROTO_KFOLD;
    conf.k = 3;
    conf.repeats = 2;
    conf.official_test = 1;
    conf.validation = 0.1;
    conf.test_limit = 25;
    conf.seed = 12345678901234ull;
    vb_split *s = NULL;
    vb_error err = {0};
    assert_int_equal(vb_split_make(&conf, ds, &s, &err), VB_OK);
    return s;
}

static void test_save_load_round_trip(void **state)
{
    const size_t tc[3] = {5, 5, 5};
    vb_dataset *ds = make_ds(c523, tc, 3);
    vb_split *s = sample_split(ds);
    vb_error err = {0};
    assert_int_equal(vb_split_save(s, "split.txt", &err), VB_OK);
    vb_split *l = NULL;
    assert_int_equal(vb_split_load("split.txt", &l, &err), VB_OK);
    assert_true(su_same_split(s, l));
    assert_int_equal(l->conf.protocol, VB_PROTO_KFOLD);
    assert_int_equal(l->conf.k, 3);
    assert_int_equal(l->conf.repeats, 2);
    assert_int_equal(l->conf.official_test, 1);
    assert_float_equal(l->conf.validation, 0.1, 0);
    assert_float_equal(l->conf.test_fraction, 0.2, 0);
    assert_int_equal(l->conf.train_limit, 0);
    assert_int_equal(l->conf.test_limit, 25);
    assert_true(l->conf.seed == 12345678901234ull);
    assert_true(l->hash == vb_split_compute_hash(l));
    char a[17], b[17];
    vb_split_hash_text(s, a);
    vb_split_hash_text(l, b);
    assert_string_equal(a, b);
    assert_int_equal(strlen(a), 16);
    assert_int_equal(strspn(a, "0123456789abcdef"), 16);
    char want[32];
    snprintf(want, sizeof want, "%016" PRIx64, s->hash);
    assert_string_equal(a, want);
    /* saving the loaded split gives the same bytes */
    assert_int_equal(vb_split_save(l, "split2.txt", &err), VB_OK);
    size_t la, lb;
    char *ta = tu_read_file("split.txt", &la), *tb = tu_read_file("split2.txt", &lb);
    assert_int_equal(la, lb);
    assert_memory_equal(ta, tb, la);
    assert_int_equal(strncmp(ta, "visbench-split 3\nprotocol kfold\n", 32), 0);
    for (size_t f = 0; f < s->n_folds; f++) {
        assert_int_equal(l->folds[f].kind, s->folds[f].kind);
        assert_int_equal(l->folds[f].repeat, s->folds[f].repeat);
        assert_int_equal(l->folds[f].number, s->folds[f].number);
    }
    free(ta);
    free(tb);
    vb_split_free(l);

    /* a holdout split, whose folds have empty val lists */
    vb_split_conf conf = vb_split_conf_default;
    vb_split *h = NULL;
    assert_int_equal(vb_split_make(&conf, ds, &h, &err), VB_OK);
    assert_int_equal(vb_split_save(h, "holdout.txt", &err), VB_OK);
    assert_int_equal(vb_split_load("holdout.txt", &l, &err), VB_OK);
    assert_true(su_same_split(h, l));
    vb_split_free(l);
    vb_split_free(h);

    /* short hash text: leading zeros are kept */
    h = calloc(1, sizeof *h);
    assert_non_null(h);
    h->hash = 0xabcull;
    vb_split_hash_text(h, a);
    assert_string_equal(a, "0000000000000abc");
    free(h);
    vb_split_free(s);
    vb_dataset_free(ds);
}

/* Replaces the first occurrence of `from` (after `after`) in text by `to`;
 * returns the 1-based line number of the change. */
static int replace_in(char **text, const char *after, const char *from, const char *to)
{
    char *start = strstr(*text, after);
    assert_non_null(start);
    char *p = strstr(start, from);
    assert_non_null(p);
    int line = 1;
    for (char *q = *text; q < p; q++)
        line += *q == '\n';
    size_t pre = (size_t)(p - *text);
    char *out = vb_asprintf("%.*s%s%s", (int)pre, *text, to, p + strlen(from));
    assert_non_null(out);
    free(*text);
    *text = out;
    return line;
}

static void test_load_errors(void **state)
{
    const size_t tc[3] = {5, 5, 5};
    vb_dataset *ds = make_ds(c523, tc, 3);
    vb_split *s = sample_split(ds);
    vb_error err = {0};
    assert_int_equal(vb_split_save(s, "orig.txt", &err), VB_OK);
    size_t len;
    char *orig = tu_read_file("orig.txt", &len);
    vb_split *l = (vb_split *)1;
    char msg[512];

    /* one index changed (to another valid index) */
    char *t = strdup(orig);
    const vb_fold *f0 = &s->folds[0];
    char from[64], to[64];
    snprintf(from, sizeof from, "\ntrain %zu ", f0->train[0]);
    snprintf(to, sizeof to, "\ntrain %zu ", (f0->train[0] + 1) % ds->n);
    replace_in(&t, "\nfold ", from, to);
    tu_write_text("tampered.txt", t);
    free(t);
    expect_error(vb_split_load("tampered.txt", &l, &err), err, VB_ERR_FORMAT,
                 "tampered.txt: contents do not match the stored hash (edited or corrupt); "
                 "delete the file to have it rebuilt");
    assert_null(l);

    /* an index past the samples */
    t = strdup(orig);
    snprintf(to, sizeof to, "\ntrain %zu ", ds->n);
    int line = replace_in(&t, "\nfold ", from, to) + 1;
    tu_write_text("range.txt", t);
    free(t);
    snprintf(msg, sizeof msg, "range.txt:%d: bad or out-of-range index; delete the file to have it rebuilt", line);
    expect_error(vb_split_load("range.txt", &l, &err), err, VB_ERR_FORMAT, msg);

    /* a negative index */
    t = strdup(orig);
    snprintf(to, sizeof to, "\ntrain -%zu ", f0->train[0]);
    line = replace_in(&t, "\nfold ", from, to) + 1;
    tu_write_text("neg.txt", t);
    free(t);
    snprintf(msg, sizeof msg, "neg.txt:%d: bad or out-of-range index; delete the file to have it rebuilt", line);
    expect_error(vb_split_load("neg.txt", &l, &err), err, VB_ERR_FORMAT, msg);

    /* garbage header */
    tu_write_text("garbage.txt", "PK\x03\x04 this is a zip file\n");
    expect_error(vb_split_load("garbage.txt", &l, &err), err, VB_ERR_FORMAT,
                 "garbage.txt:1: not a visbench split file (version 3); delete the file to have it rebuilt");
    tu_write_text("garbage.txt", "");
    expect_error(vb_split_load("garbage.txt", &l, &err), err, VB_ERR_FORMAT,
                 "garbage.txt: not a visbench split file (version 3); delete the file to have it rebuilt");
    tu_write_text("old.txt", "visbench-split 1\nprotocol kfold\n");
    expect_error(vb_split_load("old.txt", &l, &err), err, VB_ERR_FORMAT,
                 "old.txt:1: a split file of an older visbench (version 1); delete the file to have it rebuilt");

    /* truncated: without its hash line, in the middle of a list, after the header */
    char *hash_line = strstr(orig, "\nhash ");
    assert_non_null(hash_line);
    int n_lines = 1;
    for (char *q = orig; q < hash_line; q++)
        n_lines += *q == '\n';
    tu_write_file("trunc.txt", orig, (size_t)(hash_line - orig) + 1);
    snprintf(msg, sizeof msg,
             "trunc.txt:%d: the file ends before 'hash' (truncated); delete the file to have it rebuilt", n_lines);
    expect_error(vb_split_load("trunc.txt", &l, &err), err, VB_ERR_FORMAT, msg);

    char *mid = strstr(orig, "\ntest ");
    assert_non_null(mid);
    line = 2;
    for (char *q = orig; q < mid; q++)
        line += *q == '\n';
    tu_write_file("trunc.txt", orig, (size_t)(mid - orig) + 8);
    snprintf(msg, sizeof msg,
             "trunc.txt:%d: the file ends inside the test list (truncated); delete the file to have it rebuilt", line);
    expect_error(vb_split_load("trunc.txt", &l, &err), err, VB_ERR_FORMAT, msg);

    char *fold2 = strstr(orig, "\nfold r1-fold2 ");
    assert_non_null(fold2);
    line = 1;
    for (char *q = orig; q < fold2; q++)
        line += *q == '\n';
    tu_write_file("trunc.txt", orig, (size_t)(fold2 - orig) + 1);
    snprintf(msg, sizeof msg,
             "trunc.txt:%d: the file ends before fold 2 of 7 (truncated); delete the file to have it rebuilt", line);
    expect_error(vb_split_load("trunc.txt", &l, &err), err, VB_ERR_FORMAT, msg);

    tu_write_text("old.txt", "visbench-split 2\nprotocol kfold\n");
    expect_error(vb_split_load("old.txt", &l, &err), err, VB_ERR_FORMAT,
                 "old.txt:1: a split file of an older visbench (version 2); delete the file to have it rebuilt");

    tu_write_text("trunc.txt", "visbench-split 3\nprotocol kfold\n");
    expect_error(vb_split_load("trunc.txt", &l, &err), err, VB_ERR_FORMAT,
                 "trunc.txt:2: the file ends before 'test_fraction' (truncated); delete the file to have it rebuilt");

    /* a line out of place, an unknown protocol, a bad number */
    t = strdup(orig);
    replace_in(&t, "", "\nrepeats ", "\nrepeat ");
    tu_write_text("bad.txt", t);
    free(t);
    expect_error(vb_split_load("bad.txt", &l, &err), err, VB_ERR_FORMAT,
                 "bad.txt:5: expected 'repeats ...'; delete the file to have it rebuilt");
    t = strdup(orig);
    replace_in(&t, "", "protocol kfold", "protocol bootstrap");
    tu_write_text("bad.txt", t);
    free(t);
    expect_error(vb_split_load("bad.txt", &l, &err), err, VB_ERR_FORMAT,
                 "bad.txt:2: unknown protocol; delete the file to have it rebuilt");
    t = strdup(orig);
    replace_in(&t, "", "\nk 3\n", "\nk three\n");
    tu_write_text("bad.txt", t);
    free(t);
    expect_error(vb_split_load("bad.txt", &l, &err), err, VB_ERR_FORMAT,
                 "bad.txt:4: bad value for 'k'; delete the file to have it rebuilt");
    /* more indices than the fold header says */
    t = strdup(orig);
    snprintf(to, sizeof to, "\ntrain 0 %zu ", f0->train[0]);
    line = replace_in(&t, "\nfold ", from, to) + 1;
    tu_write_text("bad.txt", t);
    free(t);
    snprintf(msg, sizeof msg,
             "bad.txt:%d: more indices than the fold header says; delete the file to have it rebuilt", line);
    expect_error(vb_split_load("bad.txt", &l, &err), err, VB_ERR_FORMAT, msg);
    /* fewer: drop the last index of the first training list */
    t = strdup(orig);
    snprintf(from, sizeof from, " %zu\nval", f0->train[f0->n_train - 1]);
    line = replace_in(&t, "\nfold ", from, "\nval");
    tu_write_text("bad.txt", t);
    free(t);
    snprintf(msg, sizeof msg,
             "bad.txt:%d: fewer indices than the fold header says; delete the file to have it rebuilt", line);
    expect_error(vb_split_load("bad.txt", &l, &err), err, VB_ERR_FORMAT, msg);
    /* a fold header that does not parse */
    t = strdup(orig);
    line = replace_in(&t, "", "\nfold r1-fold2 ", "\nfold r1-fold2 x");
    tu_write_text("bad.txt", t);
    free(t);
    snprintf(msg, sizeof msg, "bad.txt:%d: bad fold header; delete the file to have it rebuilt", line + 1);
    expect_error(vb_split_load("bad.txt", &l, &err), err, VB_ERR_FORMAT, msg);
    expect_error(vb_split_load("missing.txt", &l, &err), err, VB_ERR_IO,
                 "missing.txt: cannot open: No such file or directory");
    assert_null(l);
    free(orig);
    vb_split_free(s);
    vb_dataset_free(ds);
}

/* Inner-CV folds: class counts per fold differ by at most one, every row
 * gets a fold, and the seed decides. */
static void test_stratified_folds(void **state)
{
    int y[100], f1[100], f2[100], f3[100];
    for (int i = 0; i < 100; i++)
        y[i] = i < 50 ? 0 : i < 80 ? 1 : 2; /* 50/30/20 */
    vb_error err = {0};
    assert_int_equal(vb_stratified_folds(y, 100, 3, 4, 9, f1, &err), VB_OK);
    assert_int_equal(vb_stratified_folds(y, 100, 3, 4, 9, f2, &err), VB_OK);
    assert_int_equal(vb_stratified_folds(y, 100, 3, 4, 10, f3, &err), VB_OK);
    assert_memory_equal(f1, f2, sizeof f1);
    assert_memory_not_equal(f1, f3, sizeof f1);
    int cnt[3][4] = {{0}}, size[4] = {0};
    for (int i = 0; i < 100; i++) {
        assert_true(f1[i] >= 0 && f1[i] < 4);
        cnt[y[i]][f1[i]]++;
        size[f1[i]]++;
    }
    const int per[3] = {50, 30, 20};
    for (int c = 0; c < 3; c++)
        for (int f = 0; f < 4; f++)
            assert_true(cnt[c][f] == per[c] / 4 || cnt[c][f] == per[c] / 4 + 1);
    for (int f = 0; f < 4; f++)
        assert_int_equal(size[f], 25);
    assert_int_equal(vb_stratified_folds(y, 100, 3, 0, 9, f1, &err), VB_ERR_PARAM);
}

/* split.learning_curve: for each fold and fraction, a stratified subsample
 * of its training part, the validation and test parts unchanged; by seed. */
static void test_learning_curve(void **state)
{
    vb_dataset *ds = make_ds(c523, NULL, 3); /* 50, 30, 20 */
    vb_error err = {0};
    vb_split_conf conf = vb_split_conf_default;
    conf.protocol = VB_PROTO_KFOLD;
    conf.k = 5;
    conf.validation = 0.25;
    conf.n_curve = 3;
    conf.curve[0] = 250;
    conf.curve[1] = 1000; /* the folds themselves: no fold of its own */
    conf.curve[2] = 500;
    vb_split *s = NULL;
    assert_int_equal(vb_split_make(&conf, ds, &s, &err), VB_OK);
    assert_int_equal(s->n_folds, 5 + 5 * 2);
    /* fold1@25%, fold1@50%, fold2@25%, ... after the five folds */
    for (size_t f = 0; f < 5; f++)
        for (size_t c = 0; c < 2; c++) {
            const vb_fold *base = &s->folds[f], *fo = &s->folds[5 + f * 2 + c];
            char name[32];
            snprintf(name, sizeof name, "fold%zu@%d%%", f + 1, c ? 50 : 25);
            assert_string_equal(fo->name, name);
            assert_int_equal(fo->kind, VB_FOLD_CURVE);
            assert_int_equal(fo->repeat, (int)f + 1);
            assert_int_equal(fo->number, c ? 500 : 250);
            /* 60 training images a fold (80 less validation's 20): 15 and 30,
             * 25/15/10 and 50/30/20 of the classes' shares */
            assert_int_equal(base->n_train, 60);
            assert_int_equal(fo->n_train, c ? 30 : 15);
            size_t cnt[3], want[2][3] = {{8, 4, 3}, {15, 9, 6}};
            class_counts(ds, fo->train, fo->n_train, cnt);
            for (int k = 0; k < 3; k++)
                assert_true(cnt[k] + 1 >= want[c][k] && cnt[k] <= want[c][k] + 1);
            /* a subset of the fold's training part; validation and test as they are */
            for (size_t i = 0; i < fo->n_train; i++) {
                int in = 0;
                for (size_t j = 0; j < base->n_train; j++)
                    in |= base->train[j] == fo->train[i];
                assert_true(in);
            }
            assert_int_equal(fo->n_val, base->n_val);
            assert_memory_equal(fo->val, base->val, base->n_val * sizeof *fo->val);
            assert_int_equal(fo->n_test, base->n_test);
            assert_memory_equal(fo->test, base->test, base->n_test * sizeof *fo->test);
        }
    /* the folds themselves are those of the same split without a curve */
    vb_split_conf plain = conf;
    plain.n_curve = 0;
    vb_split *p = NULL;
    assert_int_equal(vb_split_make(&plain, ds, &p, &err), VB_OK);
    assert_int_equal(p->n_folds, 5);
    for (size_t f = 0; f < 5; f++)
        assert_memory_equal(p->folds[f].train, s->folds[f].train, p->folds[f].n_train * sizeof(size_t));
    assert_true(p->hash != s->hash);
    /* the same seed, the same subsamples; and a round trip through the file */
    vb_split *again = NULL;
    assert_int_equal(vb_split_make(&conf, ds, &again, &err), VB_OK);
    assert_true(again->hash == s->hash);
    assert_int_equal(vb_split_save(s, "curve.txt", &err), VB_OK);
    vb_split *back = NULL;
    assert_int_equal(vb_split_load("curve.txt", &back, &err), VB_OK);
    assert_true(back->hash == s->hash);
    assert_int_equal(back->folds[7].kind, VB_FOLD_CURVE);
    assert_int_equal(back->folds[7].number, 250);
    assert_int_equal(back->folds[7].repeat, 2);
    vb_split_free(back);
    vb_split_free(again);
    vb_split_free(p);
    vb_split_free(s);
    vb_dataset_free(ds);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_holdout),
        cmocka_unit_test(test_holdout_keeps_one_training_sample),
        cmocka_unit_test(test_holdout_pool),
        cmocka_unit_test(test_fold_kinds_and_pool),
        cmocka_unit_test(test_official),
        cmocka_unit_test(test_train_limit_largest_remainder),
        cmocka_unit_test(test_train_limit_keeps_rare_classes),
        cmocka_unit_test(test_kfold),
        cmocka_unit_test(test_stratified_folds),
        cmocka_unit_test(test_kfold_repeats),
        cmocka_unit_test(test_kfold_official_test),
        cmocka_unit_test(test_kfold_test_limit),
        cmocka_unit_test(test_validation),
        cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_single_label_golden_hashes),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_protocol_names),
        cmocka_unit_test(test_save_load_round_trip),
        cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_learning_curve),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
