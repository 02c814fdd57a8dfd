/* Helpers for the classifier tests: instances from a registry name and
 * flow-YAML parameters, training, prediction and saving that fail the test
 * on error.
 *
 * Include <stdarg.h>, <stddef.h>, <setjmp.h> and <cmocka.h> before this. */
#ifndef VB_CLFUTIL_H
#define VB_CLFUTIL_H

#include "visbench/classifier.h"

vb_classifier *cu_make(const char *name, const char *yaml);
vb_traindata cu_data(const float *X, const int *y, size_t n, size_t d, int K, uint64_t seed);
void cu_train(vb_classifier *c, const float *X, const int *y, size_t n, size_t d, int K, uint64_t seed);
void cu_predict(const vb_classifier *c, const float *X, size_t n, size_t d, int *labels, float *scores);
/* The share of equal labels. */
double cu_accuracy(const int *a, const int *b, size_t n);
/* Saves c into w (initialised here; the caller frees it). */
void cu_save(const vb_classifier *c, vb_writer *w);
/* Trains name/yaml on X with one and with two threads and asserts that the
 * saved states are identical, byte for byte. */
void cu_assert_thread_independent(const char *name, const char *yaml, const float *X, const int *y, size_t n,
                                  size_t d, int k, uint64_t seed);

#endif
