/* Helpers for the split tests (single-label and multilabel).
 *
 * Include <stdarg.h>, <stddef.h>, <setjmp.h> and <cmocka.h> before this. */
#ifndef VB_SPLITUTIL_H
#define VB_SPLITUTIL_H

#include "visbench/split.h"

/* Fails the test unless v[0..n) is strictly increasing. */
void su_assert_sorted(const size_t *v, size_t n);
/* Fails the test unless train, val and test are sorted, pairwise disjoint
 * and together exactly the pool (a membership mask over n samples; NULL =
 * all of them). */
void su_assert_partition(const vb_fold *f, const unsigned char *pool, size_t n);
int su_same_lists(const size_t *a, size_t na, const size_t *b, size_t nb);
/* The same folds (names and lists), hash, sample count and data hash. */
int su_same_split(const vb_split *a, const vb_split *b);
/* For holdout, official-test and kfold (k 3, 2 repeats, official fold) with
 * validation 0.2 and the given limits: seed 42 twice gives the same split,
 * seed 43 another hash and other training or validation samples, and the
 * split reads back whole from its file. ds needs an official test part. */
void su_check_determinism(const vb_dataset *ds, size_t train_limit, size_t test_limit);
/* A dataset of n 1x1 grey images (pixel i * 7) of classes labels[i] (of
 * n_classes, named a, b, ...), in groups groups[i] (NULL: none) and in
 * parts part[i] (NULL: none); named "toy", source "toy.yaml". */
vb_dataset *su_grouped_ds(size_t n, const int *labels, int n_classes, const char *const *groups, const uint8_t *part);
/* Fails the test unless no group of ds has samples in two of the fold's
 * train, validation and test parts. */
void su_assert_groups_apart(const vb_dataset *ds, const vb_fold *f);

#endif
