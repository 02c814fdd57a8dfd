/* split: the group k-fold, repeated holdout and leave-one-out protocols.
 * Datasets are built in memory from 1x1 images with known classes and
 * groups; the group k-fold cases are small enough to deal by hand. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "support/splitutil.h"
#include "support/testutil.h"
#include "visbench/split.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define expect_error tu_expect_error /* support/testutil.h */

static vb_split_conf conf_of(vb_protocol p, int k, uint64_t seed)
{
    vb_split_conf c = vb_split_conf_default;
    c.protocol = p;
    c.k = k;
    c.seed = seed;
    return c;
}

static vb_split *make_ok(const vb_split_conf *c, const vb_dataset *ds)
{
    vb_split *s = NULL;
    vb_error err = {0};
    if (vb_split_make(c, ds, &s, &err) != VB_OK)
        fail_msg("%s", err.msg);
    return s;
}

/* Every pool sample (mask; NULL: all) is tested by exactly one fold. */
static void assert_tested_once(const vb_split *s, const unsigned char *pool, size_t n)
{
    unsigned *times = calloc(n, sizeof *times);
    assert_non_null(times);
    for (size_t f = 0; f < s->n_folds; f++)
        for (size_t i = 0; i < s->folds[f].n_test; i++)
            times[s->folds[f].test[i]]++;
    for (size_t i = 0; i < n; i++)
        if (times[i] != (pool && !pool[i] ? 0u : 1u))
            fail_msg("sample %zu is tested %u times", i, times[i]);
    free(times);
}

/* Fails unless fold fo is called name and has that kind, repeat and number. */
static void assert_fold(const vb_fold *fo, const char *name, vb_fold_kind kind, int repeat, int number)
{
    assert_string_equal(fo->name, name);
    assert_int_equal(fo->kind, kind);
    assert_int_equal(fo->repeat, repeat);
    assert_int_equal(fo->number, number);
}

/* The test list of fold f as text, "0 3 7 11". */
static void list_text(const vb_fold *f, char *out, size_t cap)
{
    size_t len = 0;
    out[0] = 0;
    for (size_t i = 0; i < f->n_test && len < cap; i++)
        len += (size_t)snprintf(out + len, cap - len, "%s%zu", i ? " " : "", f->test[i]);
}

/* ---- group k-fold: by hand ---------------------------------------------- */

/* Groups A (4 images), B (3), C (2), D (2), E (1); n = 12, k = 3, so a fold
 * has room for 4. A goes anywhere; B cannot join A (7 > 4); C and D fit
 * only in the third fold (whichever comes first); E fits only beside B.
 * Whatever the seed, the test sets are {A}, {B, E} and {C, D}. */
static void test_group_kfold_by_hand(void **state)
{
    const char *g[12] = {"A", "B", "C", "A", "D", "B", "E", "A", "C", "D", "B", "A"};
    const int y[12] = {0, 1, 0, 0, 1, 1, 0, 0, 1, 1, 1, 0};
    vb_dataset *ds = su_grouped_ds(12, y, 2, g, NULL);
    assert_int_equal(ds->n_groups, 5);
    const char *want[3] = {"0 3 7 11", "1 5 6 10", "2 4 8 9"};
    for (uint64_t seed = 1; seed <= 20; seed++) {
        vb_split_conf c = conf_of(VB_PROTO_GROUP_KFOLD, 3, seed);
        vb_split *s = make_ok(&c, ds);
        assert_int_equal(s->n_folds, 3);
        int found[3] = {0};
        for (size_t f = 0; f < 3; f++) {
            char name[16], text[64];
            snprintf(name, sizeof name, "fold%zu", f + 1);
            assert_fold(&s->folds[f], name, VB_FOLD_CV, 0, (int)f + 1);
            assert_int_equal(s->folds[f].n_test, 4);
            assert_int_equal(s->folds[f].n_train, 8);
            su_assert_partition(&s->folds[f], NULL, 12);
            su_assert_groups_apart(ds, &s->folds[f]);
            list_text(&s->folds[f], text, sizeof text);
            int hit = 0;
            for (int w = 0; w < 3; w++)
                if (strcmp(text, want[w]) == 0) {
                    found[w]++;
                    hit = 1;
                }
            if (!hit)
                fail_msg("seed %d: fold %zu tests %s", (int)seed, f + 1, text);
        }
        assert_true(found[0] == 1 && found[1] == 1 && found[2] == 1);
        vb_split_free(s);
    }
    vb_dataset_free(ds);
}

/* Four groups of two: G1, G2 of class a, G3, G4 of class b; k = 2. A
 * dealing by size alone puts G1 and G2 together for some orders (G1, G3
 * then G2 to the emptier fold); by the labels a fold lacks, each fold
 * always tests one group of each class. */
static void test_group_kfold_stratifies(void **state)
{
    const char *g[8] = {"G1", "G3", "G1", "G4", "G2", "G3", "G2", "G4"};
    const int y[8] = {0, 1, 0, 1, 0, 1, 0, 1};
    vb_dataset *ds = su_grouped_ds(8, y, 2, g, NULL);
    for (uint64_t seed = 1; seed <= 40; seed++) {
        vb_split_conf c = conf_of(VB_PROTO_GROUP_KFOLD, 2, seed);
        vb_split *s = make_ok(&c, ds);
        for (size_t f = 0; f < 2; f++) {
            size_t cnt[2] = {0};
            for (size_t i = 0; i < s->folds[f].n_test; i++)
                cnt[ds->labels[s->folds[f].test[i]]]++;
            if (cnt[0] != 2 || cnt[1] != 2)
                fail_msg("seed %d fold %zu tests %zu of a, %zu of b", (int)seed, f + 1, cnt[0], cnt[1]);
            su_assert_groups_apart(ds, &s->folds[f]);
        }
        vb_split_free(s);
    }
    vb_dataset_free(ds);

    /* one image per group: a plain stratified k-fold, one of each class a
     * fold (no fold fills up while it lacks a class) */
    const char *one[9] = {"s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9"};
    const int y9[9] = {2, 0, 1, 1, 2, 0, 0, 2, 1};
    ds = su_grouped_ds(9, y9, 3, one, NULL);
    for (uint64_t seed = 1; seed <= 40; seed++) {
        vb_split_conf c = conf_of(VB_PROTO_GROUP_KFOLD, 3, seed);
        vb_split *s = make_ok(&c, ds);
        for (size_t f = 0; f < 3; f++) {
            size_t cnt[3] = {0};
            for (size_t i = 0; i < s->folds[f].n_test; i++)
                cnt[ds->labels[s->folds[f].test[i]]]++;
            assert_true(cnt[0] == 1 && cnt[1] == 1 && cnt[2] == 1);
        }
        vb_split_free(s);
    }
    vb_dataset_free(ds);
}

/* ---- group k-fold: properties ------------------------------------------- */

/* 60 images of 3 classes in 13 groups of 4 or 5 (group (7 i) mod 13). */
static vb_dataset *groups60(const uint8_t *part)
{
    static char names[60][8];
    const char *g[60];
    int y[60];
    for (int i = 0; i < 60; i++) {
        snprintf(names[i], sizeof names[i], "g%02d", (i * 7) % 13);
        g[i] = names[i];
        y[i] = (i / 2) % 3;
    }
    return su_grouped_ds(60, y, 3, g, part);
}

/* Whole groups in every part of every fold (validation too), every sample
 * tested once, and sizes within a group of each other or under the room
 * ceil(n / k): max <= max(ceil(n / k), min + the largest group). */
static void test_group_kfold_properties(void **state)
{
    vb_dataset *ds = groups60(NULL);
    size_t gmax = 0, *gsize = calloc(ds->n_groups, sizeof *gsize);
    assert_non_null(gsize);
    for (size_t i = 0; i < ds->n; i++)
        gsize[ds->group[i]]++;
    for (size_t g = 0; g < ds->n_groups; g++)
        gmax = gsize[g] > gmax ? gsize[g] : gmax;
    free(gsize);
    for (int k = 2; k <= 6; k++)
        for (uint64_t seed = 1; seed <= 8; seed++) {
            vb_split_conf c = conf_of(VB_PROTO_GROUP_KFOLD, k, seed);
            c.validation = 0.25;
            vb_split *s = make_ok(&c, ds);
            assert_int_equal(s->n_folds, (size_t)k);
            assert_tested_once(s, NULL, 60);
            size_t lo = SIZE_MAX, hi = 0, room = (60 + (size_t)k - 1) / (size_t)k;
            for (size_t f = 0; f < s->n_folds; f++) {
                const vb_fold *fo = &s->folds[f];
                su_assert_partition(fo, NULL, 60);
                su_assert_groups_apart(ds, fo);
                assert_true(fo->n_val > 0);
                lo = fo->n_test < lo ? fo->n_test : lo;
                hi = fo->n_test > hi ? fo->n_test : hi;
            }
            if (hi > room && hi > lo + gmax)
                fail_msg("k %d seed %d: folds of %zu..%zu images (room %zu, largest group %zu)", k, (int)seed, lo, hi,
                         room, gmax);
            /* the same seed gives the same folds */
            vb_split *again = make_ok(&c, ds);
            assert_true(su_same_split(s, again));
            vb_split_free(again);
            vb_split_free(s);
        }
    vb_dataset_free(ds);
}

/* With an official test part: the pool is the training part, its groups
 * are what counts, and official_test adds the test fold. */
static void test_group_kfold_pool_and_official(void **state)
{
    uint8_t part[60];
    for (int i = 0; i < 60; i++)
        part[i] = i < 45 ? VB_PART_TRAIN : VB_PART_TEST;
    vb_dataset *ds = groups60(part);
    unsigned char pool[60];
    for (int i = 0; i < 60; i++)
        pool[i] = part[i] == VB_PART_TRAIN;
    vb_split_conf c = conf_of(VB_PROTO_GROUP_KFOLD, 4, 3);
    c.official_test = 1;
    vb_split *s = make_ok(&c, ds);
    assert_int_equal(s->n_folds, 5);
    for (size_t f = 0; f < 4; f++) {
        su_assert_partition(&s->folds[f], pool, 60);
        su_assert_groups_apart(ds, &s->folds[f]);
    }
    const vb_fold *t = &s->folds[4];
    assert_string_equal(t->name, "test");
    assert_int_equal(t->kind, VB_FOLD_OFFICIAL_TEST);
    assert_int_equal(t->n_train, 45);
    assert_int_equal(t->n_test, 15);
    /* only folds of kind cv: the tested-once check over the pool */
    s->n_folds = 4;
    assert_tested_once(s, pool, 60);
    s->n_folds = 5;
    vb_split_free(s);

    /* the pool fold that `train` ships validates on whole groups too */
    c.validation = 0.3;
    vb_fold pf;
    vb_error err = {0};
    assert_int_equal(vb_split_pool_fold(&c, ds, &pf, &err), VB_OK);
    assert_int_equal(pf.kind, VB_FOLD_POOL);
    assert_int_equal(pf.n_train + pf.n_val, 45);
    assert_true(pf.n_val > 0);
    su_assert_groups_apart(ds, &pf);
    vb_fold_free(&pf);
    vb_dataset_free(ds);
}

/* Multilabel: stratified on the label sets, groups whole all the same. */
static void test_group_kfold_multilabel(void **state)
{
    vb_dataset *ds = groups60(NULL);
    size_t L = 3;
    ds->task = VB_TASK_MULTILABEL;
    ds->Y = calloc(60 * L, 1);
    assert_non_null(ds->Y);
    for (size_t i = 0; i < 60; i++) {
        ds->Y[i * L + (size_t)ds->labels[i]] = 1;
        ds->Y[i * L + (i % 5 == 0 ? 2 : (size_t)ds->labels[i])] = 1;
    }
    vb_split_conf c = conf_of(VB_PROTO_GROUP_KFOLD, 3, 11);
    c.validation = 0.2;
    vb_split *s = make_ok(&c, ds);
    assert_tested_once(s, NULL, 60);
    for (size_t f = 0; f < 3; f++)
        su_assert_groups_apart(ds, &s->folds[f]);
    vb_split_free(s);
    vb_dataset_free(ds);
}

static void test_group_kfold_errors(void **state)
{
    const int y[6] = {0, 1, 0, 1, 0, 1};
    vb_dataset *plain = su_grouped_ds(6, y, 2, NULL, NULL);
    vb_split_conf c = conf_of(VB_PROTO_GROUP_KFOLD, 2, 1);
    vb_split *s = (vb_split *)1;
    vb_error err = {0};
    const char *param = "x";
    expect_error(vb_split_make_blame(&c, plain, &s, &param, &err), err, VB_ERR_DATA,
                 "group_kfold needs a group per image, and dataset 'toy' (toy.yaml) has no group column; add "
                 "`group: COLUMN` to its descriptor (format: csv, a column of the manifest's header)");
    assert_null(s);
    assert_string_equal(param, "protocol");
    vb_dataset_free(plain);

    /* 4 groups, 3 of them in the pool (the training part) */
    const char *g[6] = {"p", "q", "r", "p", "q", "t"};
    const uint8_t part[6] = {VB_PART_TRAIN, VB_PART_TRAIN, VB_PART_TRAIN, VB_PART_TRAIN, VB_PART_TRAIN, VB_PART_TEST};
    vb_dataset *ds = su_grouped_ds(6, y, 2, g, part);
    assert_int_equal(ds->n_groups, 4);
    c.k = 4;
    expect_error(vb_split_make_blame(&c, ds, &s, &param, &err), err, VB_ERR_DATA,
                 "the pool has 3 groups (column 'session'), fewer than the k = 4 folds; lower k to 3 or less");
    assert_string_equal(param, "k");
    c.k = 3;
    assert_int_equal(vb_split_make_blame(&c, ds, &s, &param, &err), VB_OK);
    assert_null(param);
    vb_split_free(s);
    c.repeats = 2;
    expect_error(vb_split_make_blame(&c, ds, &s, &param, &err), err, VB_ERR_PARAM,
                 "repeats: 2 applies to protocol: kfold or holdout, not group_kfold");
    assert_string_equal(param, "repeats");
    vb_dataset_free(ds);
}

/* ---- repeated holdout ---------------------------------------------------- */

static vb_dataset *classes_50_30_20(void)
{
    int y[100];
    for (int i = 0; i < 100; i++)
        y[i] = (i * 37) % 100 < 50 ? 0 : (i * 37) % 100 < 80 ? 1 : 2;
    return su_grouped_ds(100, y, 3, NULL, NULL);
}

/* R seeded stratified draws: each a partition of the pool with 20 test
 * images (10/6/4 by class), of kind repeated-holdout; the first is the
 * single holdout of the seed; all differ; the seed reproduces them. */
static void test_repeated_holdout(void **state)
{
    vb_dataset *ds = classes_50_30_20();
    vb_split_conf c = conf_of(VB_PROTO_HOLDOUT, 5, 17);
    vb_split *one = make_ok(&c, ds);
    assert_int_equal(one->n_folds, 1);
    assert_int_equal(one->folds[0].kind, VB_FOLD_HOLDOUT);
    c.repeats = 6;
    c.validation = 0.1;
    vb_split *s = make_ok(&c, ds);
    assert_int_equal(s->n_folds, 6);
    for (size_t f = 0; f < 6; f++) {
        const vb_fold *fo = &s->folds[f];
        char name[16];
        snprintf(name, sizeof name, "r%zu-holdout", f + 1);
        assert_fold(fo, name, VB_FOLD_REPEATED_HOLDOUT, (int)f + 1, 0);
        su_assert_partition(fo, NULL, 100);
        assert_int_equal(fo->n_test, 20);
        assert_int_equal(fo->n_val, 8);
        size_t cnt[3] = {0};
        for (size_t i = 0; i < fo->n_test; i++)
            cnt[ds->labels[fo->test[i]]]++;
        assert_true(cnt[0] == 10 && cnt[1] == 6 && cnt[2] == 4);
        for (size_t e = 0; e < f; e++)
            assert_false(su_same_lists(fo->test, fo->n_test, s->folds[e].test, s->folds[e].n_test));
    }
    /* the first draw is the holdout of the same seed (validation aside) */
    assert_true(su_same_lists(s->folds[0].test, s->folds[0].n_test, one->folds[0].test, one->folds[0].n_test));
    vb_split *again = make_ok(&c, ds);
    assert_true(su_same_split(s, again));
    c.seed = 18;
    vb_split *other = make_ok(&c, ds);
    assert_true(other->hash != s->hash);
    for (size_t f = 0; f < 6; f++)
        assert_false(su_same_lists(s->folds[f].test, 20, other->folds[f].test, 20));
    vb_split_free(other);
    vb_split_free(again);
    vb_split_free(s);
    vb_split_free(one);
    vb_dataset_free(ds);
}

/* ---- leave-one-out ------------------------------------------------------- */

static void test_loo(void **state)
{
    /* 10 images in the training part, 2 in the official test part */
    int y[12];
    uint8_t part[12];
    unsigned char pool[12];
    for (int i = 0; i < 12; i++) {
        y[i] = i % 2;
        part[i] = i % 6 == 5 ? VB_PART_TEST : VB_PART_TRAIN;
        pool[i] = part[i] == VB_PART_TRAIN;
    }
    vb_dataset *ds = su_grouped_ds(12, y, 2, NULL, part);
    vb_split_conf c = conf_of(VB_PROTO_LOO, 5, 9);
    c.validation = 0.25;
    vb_split *s = make_ok(&c, ds);
    assert_int_equal(s->n_folds, 10);
    const size_t order[10] = {0, 1, 2, 3, 4, 6, 7, 8, 9, 10}; /* the pool, in index order */
    for (size_t f = 0; f < 10; f++) {
        const vb_fold *fo = &s->folds[f];
        char name[16];
        snprintf(name, sizeof name, "loo%zu", f + 1);
        assert_fold(fo, name, VB_FOLD_LOO, 0, (int)f + 1);
        assert_int_equal(fo->n_test, 1);
        assert_int_equal(fo->test[0], order[f]);
        assert_int_equal(fo->n_val, 2); /* round(0.25 * 9) */
        assert_int_equal(fo->n_train, 7);
        su_assert_partition(fo, pool, 12);
    }
    assert_tested_once(s, pool, 12);
    vb_split_free(s);

    /* train_limit subsamples the pool first: one fold per kept image */
    c.validation = 0;
    c.train_limit = 6;
    s = make_ok(&c, ds);
    assert_int_equal(s->n_folds, 6);
    for (size_t f = 0; f < 6; f++)
        assert_int_equal(s->folds[f].n_train, 5);
    vb_split_free(s);

    /* more pool images than max_folds */
    c.train_limit = 0;
    c.max_folds = 9;
    vb_error err = {0};
    const char *param = NULL;
    expect_error(vb_split_make_blame(&c, ds, &s, &param, &err), err, VB_ERR_DATA,
                 "leave-one-out would run 10 folds (one per pool image), more than max_folds = 9; use protocol: "
                 "kfold (k: 10 is common), or raise max_folds");
    assert_string_equal(param, "max_folds");
    c.max_folds = 10;
    assert_int_equal(vb_split_make_blame(&c, ds, &s, &param, &err), VB_OK);
    vb_split_free(s);
    c.official_test = 1;
    expect_error(vb_split_make_blame(&c, ds, &s, &param, &err), err, VB_ERR_PARAM,
                 "official_test applies to protocol: kfold or group_kfold, not loo");
    assert_string_equal(param, "official_test");
    vb_dataset_free(ds);
}

/* ---- names, and the split file ------------------------------------------- */

static void test_names(void **state)
{
    vb_protocol p;
    assert_true(vb_protocol_parse("group_kfold", &p));
    assert_int_equal(p, VB_PROTO_GROUP_KFOLD);
    assert_true(vb_protocol_parse("loo", &p));
    assert_int_equal(p, VB_PROTO_LOO);
    assert_false(vb_protocol_parse("group-kfold", &p));
    assert_string_equal(vb_protocol_name(VB_PROTO_LOO), "loo");
    vb_fold_kind k;
    assert_true(vb_fold_kind_parse("repeated-holdout", &k));
    assert_int_equal(k, VB_FOLD_REPEATED_HOLDOUT);
    assert_true(vb_fold_kind_parse("loo", &k));
    assert_int_equal(k, VB_FOLD_LOO);
    assert_string_equal(vb_fold_kind_name(VB_FOLD_LOO), "loo");
    assert_string_equal(vb_fold_kind_name(VB_FOLD_REPEATED_HOLDOUT), "repeated-holdout");
    assert_string_equal(vb_fold_kind_name((vb_fold_kind)99), "?");
}

/* Each new protocol writes its split file and reads it back whole: the
 * folds, their kinds, repeats and numbers, and the conf with max_folds. */
static void test_split_file_round_trip(void **state)
{
    vb_dataset *ds = groups60(NULL);
    vb_split_conf confs[3] = {conf_of(VB_PROTO_GROUP_KFOLD, 4, 5), conf_of(VB_PROTO_HOLDOUT, 5, 6),
                              conf_of(VB_PROTO_LOO, 5, 7)};
    confs[0].validation = 0.2;
    confs[1].repeats = 4;
    confs[2].max_folds = 77;
    confs[2].train_limit = 12;
    for (int t = 0; t < 3; t++) {
        vb_split *s = make_ok(&confs[t], ds), *l = NULL;
        vb_error err = {0};
        assert_int_equal(vb_split_save(s, "proto-split.txt", &err), VB_OK);
        assert_int_equal(vb_split_load("proto-split.txt", &l, &err), VB_OK);
        assert_true(su_same_split(s, l));
        assert_int_equal(l->conf.protocol, confs[t].protocol);
        assert_int_equal(l->conf.repeats, confs[t].repeats);
        assert_int_equal(l->conf.max_folds, confs[t].max_folds);
        assert_int_equal(l->conf.k, confs[t].k);
        for (size_t f = 0; f < s->n_folds; f++)
            assert_fold(&l->folds[f], s->folds[f].name, s->folds[f].kind, s->folds[f].repeat, s->folds[f].number);
        assert_true(l->hash == vb_split_compute_hash(l));
        vb_split_free(l);
        vb_split_free(s);
    }
    vb_dataset_free(ds);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_group_kfold_by_hand),
        cmocka_unit_test(test_group_kfold_stratifies),
        cmocka_unit_test(test_group_kfold_properties),
        cmocka_unit_test(test_group_kfold_pool_and_official),
        cmocka_unit_test(test_group_kfold_multilabel),
        cmocka_unit_test(test_group_kfold_errors),
        cmocka_unit_test(test_repeated_holdout),
        cmocka_unit_test(test_loo),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_split_file_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
