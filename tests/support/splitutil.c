#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "splitutil.h"

#include <stdlib.h>
#include <string.h>

void su_assert_sorted(const size_t *v, size_t n)
{
    for (size_t i = 1; i < n; i++)
        if (v[i - 1] >= v[i])
            fail_msg("index list not strictly increasing at %zu: %zu, %zu", i, v[i - 1], v[i]);
}

void su_assert_partition(const vb_fold *f, const unsigned char *pool, size_t n)
{
    su_assert_sorted(f->train, f->n_train);
    su_assert_sorted(f->val, f->n_val);
    su_assert_sorted(f->test, f->n_test);
    unsigned char *seen = calloc(n, 1);
    assert_non_null(seen);
    const size_t *lists[3] = {f->train, f->val, f->test};
    size_t counts[3] = {f->n_train, f->n_val, f->n_test};
    for (int k = 0; k < 3; k++)
        for (size_t i = 0; i < counts[k]; i++) {
            size_t x = lists[k][i];
            assert_true(x < n);
            if (seen[x])
                fail_msg("fold %s: sample %zu appears twice", f->name, x);
            seen[x] = 1;
        }
    for (size_t i = 0; i < n; i++)
        if (seen[i] != (pool ? pool[i] : 1))
            fail_msg("fold %s: sample %zu %s", f->name, i, seen[i] ? "is not in the pool" : "is missing");
    free(seen);
}

int su_same_lists(const size_t *a, size_t na, const size_t *b, size_t nb)
{
    return na == nb && (na == 0 || memcmp(a, b, na * sizeof *a) == 0);
}

int su_same_split(const vb_split *a, const vb_split *b)
{
    if (a->n_folds != b->n_folds || a->hash != b->hash || a->n_samples != b->n_samples ||
        a->data_hash != b->data_hash)
        return 0;
    for (size_t f = 0; f < a->n_folds; f++) {
        const vb_fold *x = &a->folds[f], *y = &b->folds[f];
        if (strcmp(x->name, y->name) != 0 || !su_same_lists(x->train, x->n_train, y->train, y->n_train) ||
            !su_same_lists(x->val, x->n_val, y->val, y->n_val) ||
            !su_same_lists(x->test, x->n_test, y->test, y->n_test))
            return 0;
    }
    return 1;
}

void su_check_determinism(const vb_dataset *ds, size_t train_limit, size_t test_limit)
{
    vb_error err = {0};
    const vb_protocol protos[3] = {VB_PROTO_HOLDOUT, VB_PROTO_OFFICIAL, VB_PROTO_KFOLD};
    for (int p = 0; p < 3; p++) {
        vb_split_conf conf = vb_split_conf_default;
        conf.protocol = protos[p];
        conf.k = 3;
        conf.repeats = protos[p] == VB_PROTO_OFFICIAL ? 1 : 2; /* holdout: a repeated holdout */
        conf.validation = 0.2;
        conf.train_limit = train_limit;
        conf.test_limit = test_limit;
        conf.official_test = protos[p] == VB_PROTO_KFOLD;
        conf.seed = 42;
        vb_split *a = NULL, *b = NULL, *c = NULL, *l = NULL;
        assert_int_equal(vb_split_make(&conf, ds, &a, &err), VB_OK);
        assert_int_equal(vb_split_make(&conf, ds, &b, &err), VB_OK);
        conf.seed = 43;
        assert_int_equal(vb_split_make(&conf, ds, &c, &err), VB_OK);
        assert_true(su_same_split(a, b));
        assert_true(a->hash == vb_split_compute_hash(a));
        assert_false(su_same_split(a, c));
        assert_true(a->hash != c->hash);
        /* the other seed changes the samples drawn, not only the hash */
        int differ = 0;
        for (size_t f = 0; f < a->n_folds; f++)
            differ |= !su_same_lists(a->folds[f].train, a->folds[f].n_train, c->folds[f].train, c->folds[f].n_train) ||
                      !su_same_lists(a->folds[f].val, a->folds[f].n_val, c->folds[f].val, c->folds[f].n_val);
        assert_true(differ);
        /* the file keeps the index lists: the split reads back whole */
        assert_int_equal(vb_split_save(a, "determinism-split.txt", &err), VB_OK);
        assert_int_equal(vb_split_load("determinism-split.txt", &l, &err), VB_OK);
        assert_true(su_same_split(a, l));
        vb_split_free(l);
        vb_split_free(a);
        vb_split_free(b);
        vb_split_free(c);
    }
}

vb_dataset *su_grouped_ds(size_t n, const int *labels, int n_classes, const char *const *groups, const uint8_t *part)
{
    vb_error err = {0};
    vb_dataset *ds = vb_dataset_new(n, part != NULL, &err);
    assert_non_null(ds);
    for (size_t i = 0; i < n; i++) {
        ds->labels[i] = labels[i];
        if (part)
            ds->part[i] = part[i];
        ds->px[i] = malloc(1);
        assert_non_null(ds->px[i]);
        ds->px[i][0] = (uint8_t)(i * 7);
        ds->w[i] = ds->h[i] = ds->c[i] = 1;
    }
    const char *names[8] = {"a", "b", "c", "d", "e", "f", "g", "h"};
    assert_true(n_classes <= 8);
    assert_int_equal(vb_dataset_set_classes(ds, names, n_classes, &err), VB_OK);
    if (groups)
        assert_int_equal(vb_dataset_set_groups(ds, groups, "session", &err), VB_OK);
    ds->name = strdup("toy");
    ds->source = strdup("toy.yaml");
    vb_dataset_finish(ds);
    return ds;
}

void su_assert_groups_apart(const vb_dataset *ds, const vb_fold *f)
{
    int *where = malloc((ds->n_groups ? ds->n_groups : 1) * sizeof *where);
    assert_non_null(where);
    for (size_t g = 0; g < ds->n_groups; g++)
        where[g] = -1;
    const size_t *lists[3] = {f->train, f->val, f->test};
    size_t counts[3] = {f->n_train, f->n_val, f->n_test};
    for (int k = 0; k < 3; k++)
        for (size_t i = 0; i < counts[k]; i++) {
            uint32_t g = ds->group[lists[k][i]];
            if (where[g] >= 0 && where[g] != k)
                fail_msg("fold %s: group %s is in two parts (%d and %d)", f->name, ds->group_names[g], where[g], k);
            where[g] = k;
        }
    free(where);
}
