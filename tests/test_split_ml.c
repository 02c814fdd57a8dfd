/* split on multilabel datasets: iterative stratification (Sechidis,
 * Tsoumakas and Vlahavas 2011, Algorithm 1) in kfold, holdout, validation,
 * the limits and the pool fold. Datasets are built in memory from 1x1
 * images and a label-set matrix Y. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "support/splitutil.h"
#include "support/testutil.h"
#include "visbench/split.h"
#include "../src/split/internal.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- fixtures ----------------------------------------------------------- */

/* A multilabel dataset of n 1x1 images with L labels: Y is copied (n x L),
 * labels[i] is image i's first label or 0, with_part gives the first
 * n_train images the training part and the rest the test part. */
static vb_dataset *make_ml(const uint8_t *Y, size_t n, int L, size_t n_train)
{
    vb_error err = {0};
    vb_dataset *ds = vb_dataset_new(n, n_train < n, &err);
    assert_non_null(ds);
    ds->Y = malloc(n * (size_t)L);
    assert_non_null(ds->Y);
    memcpy(ds->Y, Y, n * (size_t)L);
    for (size_t i = 0; i < n; i++) {
        const uint8_t *y = Y + i * (size_t)L;
        int first = -1;
        for (int l = L - 1; l >= 0; l--)
            if (y[l])
                first = l;
        ds->labels[i] = first < 0 ? 0 : first;
        ds->n_empty += first < 0;
        if (ds->part)
            ds->part[i] = i < n_train ? VB_PART_TRAIN : VB_PART_TEST;
        ds->px[i] = malloc(1);
        assert_non_null(ds->px[i]);
        ds->px[i][0] = (uint8_t)(i * 7);
        ds->w[i] = ds->h[i] = ds->c[i] = 1;
    }
    const char *names[8] = {"a", "b", "c", "d", "e", "f", "g", "h"};
    assert_true(L <= 8);
    assert_int_equal(vb_dataset_set_classes(ds, names, L, &err), VB_OK);
    ds->task = VB_TASK_MULTILABEL;
    ds->name = strdup("mltoy");
    vb_dataset_finish(ds);
    return ds;
}

static void free_ml(vb_dataset *ds)
{
    free(ds->Y); /* whether or not vb_dataset_free frees Y */
    ds->Y = NULL;
    vb_dataset_free(ds);
}

/* The split of ds under conf; fails the test on error. */
static vb_split *split_of(const vb_dataset *ds, const vb_split_conf *conf)
{
    vb_error err = {0};
    vb_split *s = NULL;
    if (vb_split_make(conf, ds, &s, &err) != VB_OK)
        fail_msg("split: %s", err.msg);
    return s;
}

/* The default split configuration with a protocol and a seed. */
static vb_split_conf conf_of(vb_protocol protocol, uint64_t seed)
{
    vb_split_conf conf = vb_split_conf_default;
    conf.protocol = protocol;
    conf.seed = seed;
    return conf;
}

/* Rows from strings of label letters: "ab" = labels 0 and 1, "" = none. */
static uint8_t *rows_of(const char *const *rows, size_t n, int L)
{
    uint8_t *Y = calloc(n * (size_t)L, 1);
    assert_non_null(Y);
    for (size_t i = 0; i < n; i++)
        for (const char *c = rows[i]; *c; c++) {
            assert_true(*c >= 'a' && *c < 'a' + L);
            Y[i * (size_t)L + (size_t)(*c - 'a')] = 1;
        }
    return Y;
}

enum { RL = 6 };
/* Label frequencies of the random set: from common to rare. */
static const double freq[RL] = {0.40, 0.25, 0.15, 0.08, 0.04, 0.015};

/* n random label sets: label l with probability freq[l], label 1 twice as
 * likely with label 0 (labels co-occur), so about a third of the rows are
 * empty. */
static uint8_t *random_rows(size_t n, uint64_t seed)
{
    uint8_t *Y = calloc(n * RL, 1);
    vb_rng *rng = vb_rng_new(seed);
    assert_non_null(Y);
    assert_non_null(rng);
    for (size_t i = 0; i < n; i++)
        for (int l = 0; l < RL; l++) {
            double p = l == 1 && Y[i * RL] ? 2 * freq[1] : freq[l];
            Y[i * RL + (size_t)l] = vb_rng_uniform(rng) < p;
        }
    vb_rng_free(rng);
    return Y;
}

/* Positives of label l among the samples v[0..n). */
static size_t positives(const vb_dataset *ds, const size_t *v, size_t n, int l)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += ds->Y[v[i] * (size_t)ds->n_classes + (size_t)l] != 0;
    return c;
}

/* The label distribution measure LD of the paper (section 4.1): the mean
 * over labels and subsets of | p_j / (|S_j| - p_j) - P / (|D| - P) | where
 * p_j are subset j's positives of the label and P the pool's. subsets[j]
 * lists subset j (sizes[j] samples). */
static double label_distribution(const vb_dataset *ds, const size_t *const *subsets, const size_t *sizes, int k)
{
    size_t total = 0;
    for (int j = 0; j < k; j++)
        total += sizes[j];
    double ld = 0;
    for (int l = 0; l < ds->n_classes; l++) {
        size_t P = 0;
        for (int j = 0; j < k; j++)
            P += positives(ds, subsets[j], sizes[j], l);
        double whole = (double)P / (double)(total - P);
        for (int j = 0; j < k; j++) {
            size_t p = positives(ds, subsets[j], sizes[j], l);
            ld += fabs((double)p / (double)(sizes[j] - p) - whole) / k;
        }
    }
    return ld / ds->n_classes;
}

/* Every label's positives in the part (v, n) are within `bound` of its
 * share `frac` of the whole (w, nw). */
static void assert_label_shares(const vb_dataset *ds, const size_t *v, size_t n, const size_t *w, size_t nw,
                                double frac, double bound, const char *what)
{
    for (int l = 0; l < ds->n_classes; l++) {
        double ideal = frac * (double)positives(ds, w, nw, l);
        double got = (double)positives(ds, v, n, l);
        if (fabs(got - ideal) > bound + 1e-9)
            fail_msg("%s: label %d has %g positives, %g wanted (bound %g)", what, l, got, ideal, bound);
    }
}

/* ---- the algorithm, traced by hand -------------------------------------- */

/* Three subsets of proportions 0.5 / 0.3 / 0.2 of nine images, labels a b c
 * (5, 4 and 3 positives). Desired counts: sizes 4.5 2.7 1.8; a 2.5 1.5 1;
 * b 2 1.2 .8; c 1.5 .9 .6. No draw is ever needed:
 *   c is rarest (3): img0 (ac) -> S0 (1.5); c .5 .9 .6, a 1.5 1.5 1
 *                    img3 (abc) -> S1 (.9); c .5 -.1 .6, b 2 .2 .8, a 1.5 .5 1
 *                    img4 (ac) -> S2 (.6); c .5 -.1 -.4, a 1.5 .5 0
 *   a has 2 left, b 3 (b was the rarer at the start: remaining counts decide):
 *                    img1 (ab) -> S0 (1.5); a .5 .5 0, b 1 .2 .8
 *                    img6 (a)  -> S0 and S1 want a .5 each: S0 wants 2.5 more
 *                                 images, S1 1.7 -> S0; a -.5 .5 0
 *   b, 2 left:       img2 (b) -> S0 (1); b 0 .2 .8
 *                    img7 (b) -> S2 (.8); sizes now .5 1.7 -.2
 *   no labels:       img5 -> S1 (1.7 -> .7), img8 -> S1 (.7 > .5).
 * The rarest label is the last one, so an order by label index (or by the
 * counts at the start) would go wrong. */
static void test_iterative_by_hand(void **state)
{
    const char *rows[9] = {"ac", "ab", "b", "abc", "ac", "", "a", "b", ""};
    uint8_t *Y = rows_of(rows, 9, 3);
    size_t idx[9];
    for (size_t i = 0; i < 9; i++)
        idx[i] = i;
    const uint64_t w[3] = {5, 3, 2};
    int part[9];
    const int want[9] = {0, 0, 0, 1, 2, 1, 0, 2, 1};
    vb_error err = {0};
    for (uint64_t seed = 1; seed <= 8; seed++) { /* no draw: the seed does not matter */
        vb_rng *r = vb_rng_new(seed);
        assert_int_equal(vb_iterative_partition(Y, 3, idx, 9, w, 3, r, part, &err), VB_OK);
        vb_rng_free(r);
        for (int i = 0; i < 9; i++)
            if (part[i] != want[i])
                fail_msg("seed %d: image %d went to subset %d, traced %d", (int)seed, i, part[i], want[i]);
    }
    vb_rng *rng = vb_rng_new(1);
    /* the rows are found through idx: the same rows listed backwards and
     * read through a reversed idx give the same assignment */
    const char *back[9];
    for (size_t i = 0; i < 9; i++) {
        back[i] = rows[8 - i];
        idx[i] = 8 - i;
    }
    uint8_t *Yb = rows_of(back, 9, 3);
    assert_int_equal(vb_iterative_partition(Yb, 3, idx, 9, w, 3, rng, part, &err), VB_OK);
    assert_memory_equal(part, want, sizeof want);
    free(Y);
    free(Yb);
    vb_rng_free(rng);
}

/* A tie on the label's desired counts goes to the subset that wants more
 * images overall. Proportions 1/4 : 3/4 of eight images; a (2), b (5),
 * c (3): desired sizes 2 6; a .5 1.5; b 1.25 3.75; c .75 2.25.
 *   a: img0 (a)  -> S1 (1.5); a .5 .5
 *      img1 (ab) -> a ties at .5: S1 wants 5 more images, S0 2 -> S1;
 *                   b 1.25 2.75
 *   c (3) before b (4 left):
 *      img3 (bc) -> S1 (2.25); c .75 1.25, b 1.25 1.75
 *      img5 (bc) -> S1 (1.25); c .75 .25, b 1.25 .75
 *      img6 (c)  -> S0 (.75)
 *   b: img2 -> S0 (1.25 > .75), img4 -> S1 (.75 > .25)
 *   no labels: img7 -> S1 (sizes 0 1). */
static void test_iterative_tie_by_size(void **state)
{
    const char *rows[8] = {"a", "ab", "b", "bc", "b", "bc", "c", ""};
    uint8_t *Y = rows_of(rows, 8, 3);
    size_t idx[8];
    for (size_t i = 0; i < 8; i++)
        idx[i] = i;
    const uint64_t w[2] = {1, 3};
    int part[8];
    const int want[8] = {1, 1, 0, 1, 1, 1, 0, 1};
    vb_error err = {0};
    for (uint64_t seed = 1; seed <= 8; seed++) {
        vb_rng *rng = vb_rng_new(seed);
        assert_int_equal(vb_iterative_partition(Y, 3, idx, 8, w, 2, rng, part, &err), VB_OK);
        vb_rng_free(rng);
        for (int i = 0; i < 8; i++)
            if (part[i] != want[i])
                fail_msg("seed %d: image %d went to subset %d, traced %d", (int)seed, i, part[i], want[i]);
    }
    free(Y);
}

/* A full tie (two equal subsets, same sizes) is a seeded draw: the same
 * seed gives the same subset, and both subsets come up over seeds. The
 * second image of the label then goes to the other subset. */
static void test_iterative_ties_are_seeded(void **state)
{
    const uint8_t Y[2] = {1, 1};
    const size_t idx[2] = {0, 1};
    const uint64_t w[2] = {1, 1};
    int seen[2] = {0, 0};
    vb_error err = {0};
    for (uint64_t seed = 1; seed <= 16; seed++) {
        int a[2], b[2];
        vb_rng *r1 = vb_rng_new(seed), *r2 = vb_rng_new(seed);
        assert_int_equal(vb_iterative_partition(Y, 1, idx, 2, w, 2, r1, a, &err), VB_OK);
        assert_int_equal(vb_iterative_partition(Y, 1, idx, 2, w, 2, r2, b, &err), VB_OK);
        assert_memory_equal(a, b, sizeof a);
        assert_int_equal(a[0] + a[1], 1);
        seen[a[0]] = 1;
        vb_rng_free(r1);
        vb_rng_free(r2);
    }
    assert_true(seen[0] && seen[1]);

    /* a tie between the rarest labels is a draw too. Images a a b b into
     * 3/4 : 1/4 (sizes 3 1, each label 1.5 .5): a first sends both a's to
     * S0 (the second by size: 2 > 1) and then b's second to S1, giving
     * 0 0 0 1; b first gives 0 1 0 0. */
    const char *rows[4] = {"a", "a", "b", "b"};
    uint8_t *Y2 = rows_of(rows, 4, 2);
    const size_t idx4[4] = {0, 1, 2, 3};
    const uint64_t w31[2] = {3, 1};
    const int a_first[4] = {0, 0, 0, 1}, b_first[4] = {0, 1, 0, 0};
    int got[2] = {0, 0};
    for (uint64_t seed = 1; seed <= 16; seed++) {
        int p4[4];
        vb_rng *r = vb_rng_new(seed);
        assert_int_equal(vb_iterative_partition(Y2, 2, idx4, 4, w31, 2, r, p4, &err), VB_OK);
        vb_rng_free(r);
        if (memcmp(p4, a_first, sizeof p4) == 0)
            got[0]++;
        else if (memcmp(p4, b_first, sizeof p4) == 0)
            got[1]++;
        else
            fail_msg("seed %d: %d %d %d %d is neither order's outcome", (int)seed, p4[0], p4[1], p4[2], p4[3]);
    }
    assert_true(got[0] && got[1]);
    free(Y2);

    /* bad arguments are a bug of the caller */
    const uint64_t zero[2] = {0, 0};
    int p[2];
    vb_rng *rng = vb_rng_new(1);
    assert_int_equal(vb_iterative_partition(Y, 1, idx, 2, zero, 2, rng, p, &err), VB_ERR_INTERNAL);
    assert_int_equal(vb_iterative_partition(NULL, 1, idx, 2, w, 2, rng, p, &err), VB_ERR_INTERNAL);
    vb_rng_free(rng);
}

/* ---- kfold -------------------------------------------------------------- */

/* The random set of the tests below: 600 images, six labels of 40 % down to
 * 1.5 % (about 240, 150, 90, 48, 24 and 9 positives), a third of the rows
 * empty. */
static vb_dataset *random_ds(uint64_t seed, size_t n_train)
{
    uint8_t *Y = random_rows(600, seed);
    vb_dataset *ds = make_ml(Y, 600, RL, n_train);
    free(Y);
    return ds;
}

/* The LD of k equal folds dealt from a seeded shuffle: the random split the
 * paper compares against. */
static double random_split_ld(const vb_dataset *ds, int k, uint64_t seed)
{
    size_t *perm = malloc(ds->n * sizeof *perm);
    assert_non_null(perm);
    for (size_t i = 0; i < ds->n; i++)
        perm[i] = i;
    vb_rng *rng = vb_rng_new(seed);
    vb_rng_shuffle(rng, perm, ds->n);
    vb_rng_free(rng);
    const size_t *subsets[16];
    size_t sizes[16];
    for (int j = 0; j < k; j++) {
        subsets[j] = perm + ds->n * (size_t)j / (size_t)k;
        sizes[j] = ds->n * (size_t)(j + 1) / (size_t)k - ds->n * (size_t)j / (size_t)k;
    }
    double ld = label_distribution(ds, subsets, sizes, k);
    free(perm);
    return ld;
}

/* Checks the k folds of one repeat (folds[0..k)) over the whole set:
 * every image tests in exactly one fold and trains in the others, each
 * label's positives per fold within 1 of n_l / k, fold sizes within
 * size_bound of n / k; returns the folds' LD. */
static double check_ml_folds(const vb_dataset *ds, const vb_fold *folds, int k, double size_bound)
{
    unsigned char *tested = calloc(ds->n, 1);
    assert_non_null(tested);
    const size_t *subsets[16];
    size_t sizes[16];
    for (int f = 0; f < k; f++) {
        su_assert_partition(&folds[f], NULL, ds->n);
        assert_int_equal(folds[f].n_val, 0);
        for (size_t i = 0; i < folds[f].n_test; i++) {
            if (tested[folds[f].test[i]])
                fail_msg("image %zu tests in two folds", folds[f].test[i]);
            tested[folds[f].test[i]] = 1;
        }
        subsets[f] = folds[f].test;
        sizes[f] = folds[f].n_test;
        if (fabs((double)sizes[f] - (double)ds->n / k) > size_bound + 1e-9)
            fail_msg("fold %d has %zu images, %g wanted (bound %g)", f + 1, sizes[f], (double)ds->n / k, size_bound);
    }
    for (size_t i = 0; i < ds->n; i++)
        if (!tested[i])
            fail_msg("image %zu tests in no fold", i);
    size_t *all = malloc(ds->n * sizeof *all);
    assert_non_null(all);
    for (size_t i = 0; i < ds->n; i++)
        all[i] = i;
    for (int f = 0; f < k; f++)
        assert_label_shares(ds, folds[f].test, folds[f].n_test, all, ds->n, 1.0 / k, 1.0, folds[f].name);
    free(all);
    free(tested);
    return label_distribution(ds, subsets, sizes, k);
}

/* Bounds, from running these checks on 200 random sets like this one (seeds
 * 1..200) before fixing them: every label's positives per fold were within
 * 0.8 of n_l / k (always the floor or the ceiling), so within 1 is asserted;
 * with a third of the rows empty the folds were exactly 120 images each
 * (the empty rows, dealt last by desired size, even out the sizes), so
 * within 1 is asserted; the LD was at most 0.185 of a random split's (mean
 * of 10 seeded shuffles), typically 0.1, so a quarter is asserted. */
static void test_kfold_random_set(void **state)
{
    vb_dataset *ds = random_ds(2024, 600);
    assert_true(ds->n_empty > 150 && ds->n_empty < 250);
    vb_split_conf conf = conf_of(VB_PROTO_KFOLD, 7);
    conf.k = 5;
    conf.repeats = 2;
    vb_split *s = split_of(ds, &conf);
    assert_int_equal(s->n_folds, 10);
    double random_ld = 0;
    for (uint64_t r = 0; r < 10; r++)
        random_ld += random_split_ld(ds, 5, 100 + r) / 10;
    for (int r = 0; r < 2; r++) {
        double ld = check_ml_folds(ds, s->folds + 5 * r, 5, 1.0);
        size_t lo = SIZE_MAX, hi = 0;
        for (int f = 0; f < 5; f++) {
            lo = s->folds[5 * r + f].n_test < lo ? s->folds[5 * r + f].n_test : lo;
            hi = s->folds[5 * r + f].n_test > hi ? s->folds[5 * r + f].n_test : hi;
        }
        assert_true(hi - lo <= 1); /* fold sizes differ by at most one */
        if (!(ld < random_ld / 4))
            fail_msg("repeat %d: LD %g, not under a quarter of a random split's %g", r + 1, ld, random_ld);
    }
    /* the repeats are different partitions */
    int differ = 0;
    for (int f = 0; f < 5; f++)
        differ |= s->folds[f].n_test != s->folds[5 + f].n_test ||
                  memcmp(s->folds[f].test, s->folds[5 + f].test, s->folds[f].n_test * sizeof(size_t)) != 0;
    assert_true(differ);
    vb_split_free(s);
    free_ml(ds);
}

/* Without empty rows nothing evens the fold sizes out: labelled images go
 * where their rarest label is wanted and a fold's size only breaks ties.
 * On 200 such sets the sizes strayed up to 14 images from 120 (the labels
 * stayed within 1), so 20 is asserted for the sizes. */
static void test_kfold_no_empty_rows(void **state)
{
    uint8_t *Y = random_rows(600, 2024);
    for (size_t i = 0; i < 600; i++) {
        int any = 0;
        for (int l = 0; l < RL; l++)
            any |= Y[i * RL + (size_t)l];
        if (!any)
            Y[i * RL] = 1; /* label a on the empty rows: a is then common (~70 %) */
    }
    vb_dataset *ds = make_ml(Y, 600, RL, 600);
    free(Y);
    assert_int_equal(ds->n_empty, 0);
    vb_split_conf conf = vb_split_conf_default;
    conf.protocol = VB_PROTO_KFOLD;
    conf.k = 5;
    vb_split *s = split_of(ds, &conf);
    check_ml_folds(ds, s->folds, 5, 20.0);
    vb_split_free(s);
    free_ml(ds);
}

/* A label with fewer positives than k is no error for a multilabel set
 * (its positives land in different folds); fewer images than folds is. */
static void test_kfold_rare_labels_and_errors(void **state)
{
    const char *rows[12] = {"a", "b", "ab", "", "a", "c", "b", "a", "", "ac", "b", "a"};
    uint8_t *Y = rows_of(rows, 12, 3);
    vb_dataset *ds = make_ml(Y, 12, 3, 12);
    vb_error err = {0};
    vb_split_conf conf = vb_split_conf_default;
    conf.protocol = VB_PROTO_KFOLD;
    conf.k = 4; /* label c has 2 positives */
    vb_split *s = split_of(ds, &conf);
    int c_folds = 0;
    for (int f = 0; f < 4; f++) {
        size_t c = positives(ds, s->folds[f].test, s->folds[f].n_test, 2);
        assert_true(c <= 1);
        c_folds += (int)c;
        assert_int_equal(s->folds[f].n_test, 3);
    }
    assert_int_equal(c_folds, 2);
    vb_split_free(s);

    conf.k = 13;
    s = (vb_split *)1;
    assert_int_equal(vb_split_make(&conf, ds, &s, &err), VB_ERR_DATA);
    assert_string_equal(err.msg, "the pool has 12 images, fewer than the k = 13 folds; lower k");
    assert_null(s);
    conf.k = 5;
    conf.train_limit = 4; /* the limit is applied before folding */
    assert_int_equal(vb_split_make(&conf, ds, &s, &err), VB_ERR_DATA);
    assert_string_equal(err.msg, "the pool has 4 images, fewer than the k = 5 folds; lower k");

    /* a multilabel dataset without its label sets is a bug */
    uint8_t *keep = ds->Y;
    ds->Y = NULL;
    conf = vb_split_conf_default;
    assert_int_equal(vb_split_make(&conf, ds, &s, &err), VB_ERR_INTERNAL);
    assert_string_equal(err.msg, "dataset 'mltoy' is multilabel but has no label sets");
    vb_fold pool;
    assert_int_equal(vb_split_pool_fold(&conf, ds, &pool, &err), VB_ERR_INTERNAL);
    ds->Y = keep;
    free(Y);
    free_ml(ds);
}

/* ---- holdout, validation, limits, pool ---------------------------------- */

/* Bounds: on 300 random sets like these (seeds 1..300) the holdout test
 * part, the validation part (holdout and every k-fold training set), the
 * train_limit and test_limit subsamples and the pool fold had every label
 * within 0.5 of its share (the rounded ideal) and exactly the wanted size;
 * within 1 is asserted for both. */
static void test_holdout_ml(void **state)
{
    vb_dataset *ds = random_ds(2024, 480);
    unsigned char *train_part = calloc(ds->n, 1);
    assert_non_null(train_part);
    size_t pool[600], n_pool = 0;
    for (size_t i = 0; i < ds->n; i++)
        if ((train_part[i] = ds->part[i] == VB_PART_TRAIN))
            pool[n_pool++] = i;
    const double fractions[3] = {0.2, 0.3, 0.5};
    for (int t = 0; t < 3; t++) {
        vb_split_conf conf = vb_split_conf_default;
        conf.test_fraction = fractions[t];
        conf.seed = 11;
        vb_split *s = split_of(ds, &conf);
        const vb_fold *f = &s->folds[0];
        su_assert_partition(f, train_part, ds->n); /* the official test part stays unseen */
        assert_true(fabs((double)f->n_test - (double)llround(fractions[t] * 480)) <= 1);
        assert_label_shares(ds, f->test, f->n_test, pool, n_pool, fractions[t], 1.0, "holdout test");
        assert_label_shares(ds, f->train, f->n_train, pool, n_pool, 1 - fractions[t], 1.0, "holdout train");
        vb_split_free(s);
    }
    free(train_part);
    free_ml(ds);
}

/* Which images of a label go to which subset is random, not the index
 * order (taken in index order, the desired counts would send the first
 * images of every label to training): over 60 seeds every one of 100
 * images (all of label a, every tenth of b too) tests at least
 * once and trains at least once (a given image misses one side in all 60
 * draws with chance 0.8^60, about 1e-6). */
static void test_holdout_draws_images_at_random(void **state)
{
    uint8_t Y[100 * 2];
    for (size_t i = 0; i < 100; i++) {
        Y[2 * i] = 1;
        Y[2 * i + 1] = i % 10 == 0;
    }
    vb_dataset *ds = make_ml(Y, 100, 2, 100);
    int tested[100] = {0};
    for (uint64_t seed = 1; seed <= 60; seed++) {
        vb_split_conf conf = vb_split_conf_default;
        conf.seed = seed;
        vb_split *s = split_of(ds, &conf);
        assert_int_equal(s->folds[0].n_test, 20);
        assert_int_equal(positives(ds, s->folds[0].test, 20, 1), 2);
        for (size_t i = 0; i < 20; i++)
            tested[s->folds[0].test[i]]++;
        vb_split_free(s);
    }
    for (int i = 0; i < 100; i++)
        if (tested[i] == 0 || tested[i] == 60)
            fail_msg("image %d tests in %d of 60 holdout splits", i, tested[i]);
    free_ml(ds);
}

/* A fold's training side: its train and val lists as one list. */
static size_t *union_of(const size_t *a, size_t na, const size_t *b, size_t nb)
{
    size_t *u = malloc((na + nb + 1) * sizeof *u);
    assert_non_null(u);
    memcpy(u, a, na * sizeof *u);
    memcpy(u + na, b, nb * sizeof *u);
    return u;
}

/* A fold of the pool (a mask, NULL = all) whose validation part has
 * want_val images (within 1) and each label's share v of the fold's
 * training side (train + val) within 1. */
static void check_validation(const vb_dataset *ds, const vb_fold *f, const unsigned char *pool, double v,
                             size_t want_val)
{
    su_assert_partition(f, pool, ds->n);
    assert_true(fabs((double)f->n_val - (double)want_val) <= 1);
    size_t *tv = union_of(f->train, f->n_train, f->val, f->n_val);
    assert_label_shares(ds, f->val, f->n_val, tv, f->n_train + f->n_val, v, 1.0, f->name);
    free(tv);
}

static void test_validation_ml(void **state)
{
    vb_dataset *ds = random_ds(2024, 600);
    vb_split_conf conf = vb_split_conf_default;
    conf.validation = 0.25;
    conf.seed = 3;
    vb_split *s = split_of(ds, &conf);
    check_validation(ds, &s->folds[0], NULL, 0.25, 120); /* llround(0.25 * 480) */
    vb_split_free(s);

    /* every k-fold training set carves its own */
    conf.protocol = VB_PROTO_KFOLD;
    conf.k = 4;
    conf.validation = 0.2;
    s = split_of(ds, &conf);
    for (int k = 0; k < 4; k++)
        check_validation(ds, &s->folds[k], NULL, 0.2, 90); /* llround(0.2 * 450) */
    vb_split_free(s);
    free_ml(ds);
}

static void test_limits_ml(void **state)
{
    vb_dataset *ds = random_ds(2024, 480);
    size_t trp[480], tep[120];
    for (size_t i = 0; i < 600; i++) {
        assert_int_equal(ds->part[i], i < 480 ? VB_PART_TRAIN : VB_PART_TEST);
        if (i < 480)
            trp[i] = i;
        else
            tep[i - 480] = i;
    }
    vb_error err = {0};
    vb_split_conf conf = conf_of(VB_PROTO_OFFICIAL, 5);
    conf.train_limit = 200;
    conf.test_limit = 50;
    vb_split *s = split_of(ds, &conf);
    const vb_fold *f = &s->folds[0];
    assert_true(fabs((double)f->n_train - 200) <= 1);
    assert_true(fabs((double)f->n_test - 50) <= 1);
    assert_label_shares(ds, f->train, f->n_train, trp, 480, 200.0 / 480, 1.0, "train_limit");
    assert_label_shares(ds, f->test, f->n_test, tep, 120, 50.0 / 120, 1.0, "test_limit");
    vb_split_free(s);

    /* kfold: train_limit subsamples the pool before folding */
    conf.protocol = VB_PROTO_KFOLD;
    conf.k = 4;
    conf.test_limit = 0;
    s = split_of(ds, &conf);
    size_t sub[480], n_sub = 0;
    unsigned char *in_sub = calloc(ds->n, 1);
    assert_non_null(in_sub);
    for (int k = 0; k < 4; k++)
        for (size_t i = 0; i < s->folds[k].n_test; i++) {
            sub[n_sub++] = s->folds[k].test[i];
            in_sub[s->folds[k].test[i]] = 1;
        }
    for (int k = 0; k < 4; k++) /* every fold deals out the same subsample */
        su_assert_partition(&s->folds[k], in_sub, ds->n);
    assert_true(fabs((double)n_sub - 200) <= 1);
    assert_label_shares(ds, sub, n_sub, trp, 480, 200.0 / 480, 1.0, "kfold train_limit");
    vb_split_free(s);

    /* the pool fold `train` ships: the same limit, validation carved out */
    conf.validation = 0.2;
    vb_fold pool;
    assert_int_equal(vb_split_pool_fold(&conf, ds, &pool, &err), VB_OK);
    check_validation(ds, &pool, in_sub, 0.2, 40); /* the same subsample as the folds' */
    free(in_sub);
    vb_fold_free(&pool);
    free_ml(ds);
}

/* ---- determinism and identity ------------------------------------------- */

/* Same seed, same split; another seed, another (holdout, official-test and
 * repeated kfold with validation and both limits). */
static void test_determinism_ml(void **state)
{
    vb_dataset *ds = random_ds(2024, 480);
    su_check_determinism(ds, 300, 60);
    free_ml(ds);
}

/* The label sets are part of the dataset's identity, so of the split's:
 * one label flipped in Y (labels[] unchanged) changes the data hash. */
static void test_hash_covers_label_sets(void **state)
{
    vb_dataset *ds = random_ds(2024, 600);
    vb_split_conf conf = vb_split_conf_default;
    vb_split *a = split_of(ds, &conf);
    size_t i = 0; /* an image with two labels or more: flipping the last keeps its first */
    for (;; i++) {
        assert_true(i < ds->n);
        int m = 0;
        for (int l = 0; l < RL; l++)
            m += ds->Y[i * RL + (size_t)l];
        if (m >= 2)
            break;
    }
    int last = RL - 1;
    while (!ds->Y[i * RL + (size_t)last])
        last--;
    ds->Y[i * RL + (size_t)last] = 0;
    vb_split *b = split_of(ds, &conf);
    assert_true(a->data_hash != b->data_hash);
    assert_true(a->hash != b->hash);
    vb_split_free(a);
    vb_split_free(b);
    free_ml(ds);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_iterative_by_hand),
        cmocka_unit_test(test_iterative_tie_by_size),
        cmocka_unit_test(test_iterative_ties_are_seeded),
        cmocka_unit_test(test_kfold_random_set),
        cmocka_unit_test(test_kfold_no_empty_rows),
        cmocka_unit_test(test_kfold_rare_labels_and_errors),
        cmocka_unit_test(test_holdout_ml),
        cmocka_unit_test(test_holdout_draws_images_at_random),
        cmocka_unit_test(test_validation_ml),
        cmocka_unit_test(test_limits_ml),
        cmocka_unit_test(test_determinism_ml),
        cmocka_unit_test(test_hash_covers_label_sets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
