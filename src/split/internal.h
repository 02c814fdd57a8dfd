/* The split module's multilabel stratification (not a public interface;
 * declared here so that the unit tests can trace it by hand). */
#ifndef VB_SPLIT_INTERNAL_H
#define VB_SPLIT_INTERNAL_H

#include "visbench/core.h"

/* Iterative stratification (Sechidis, Tsoumakas and Vlahavas 2011, "On the
 * Stratification of Multi-Label Data", Algorithm 1) of the n examples
 * idx[0..n) into k subsets of proportions weights[j] / sum(weights).
 * Example idx[t] has label l when Y[idx[t] * L + l] is non-zero; a row may
 * be all zero.
 *
 * Desired sizes are n * r_j and desired label counts n_l * r_j. While
 * labelled examples remain, the label with the fewest remaining examples
 * is taken (ties: a seeded draw) and each of its remaining examples, in
 * idx order, goes to the subset that most wants that label (ties: the one
 * that most wants examples overall, then a seeded draw); the desired
 * counts of that subset drop for every label of the example. Examples
 * without labels then go, in idx order, to the subset that most wants
 * examples (ties: a seeded draw). Desired counts are kept exactly, scaled
 * by sum(weights), so ties are exact and platform independent. rng is
 * drawn from only to break ties; the caller shuffles idx beforehand when
 * the order should not matter.
 *
 * part receives n values in [0, k): the subset of idx[t]. */
vb_status vb_iterative_partition(const uint8_t *Y, size_t L, const size_t *idx, size_t n, const uint64_t *weights,
                                 int k, vb_rng *rng, int *part, vb_error *err);

#endif
