/* Helpers shared by the unit tests. Each test binary runs in its own empty
 * scratch directory (see the Makefile), so tests may write files freely.
 *
 * Include <stdarg.h>, <stddef.h>, <setjmp.h> and <cmocka.h> before this. */
#ifndef VB_TESTUTIL_H
#define VB_TESTUTIL_H

#include "visbench/core.h"
#include "visbench/data.h"
#include "visbench/taxonomy.h"

/* Writes bytes to a file (fails the test on error). */
void tu_write_file(const char *path, const void *data, size_t len);
void tu_write_text(const char *path, const char *text);
/* Reads a whole file (NUL-terminated, malloc'ed); fails the test on error. */
char *tu_read_file(const char *path, size_t *len);
int tu_exists(const char *path);
/* A synthetic dataset written to dir (vb_synth_write) and loaded; fails the
 * test on error. tu_synth_opts: the defaults with these (grey images). */
vb_dataset *tu_synth(const vb_synth_opts *opts, const char *dir);
vb_synth_opts tu_synth_opts(int classes, int per_class, int size, uint64_t seed);
/* rm -rf */
void tu_remove_tree(const char *path);

/* Gaussian blobs: k classes of n_per points in d dimensions, class c centred
 * at sep * e_(c mod d) (+ sep for c >= d), unit variance. Rows are
 * interleaved by class. Returns X (k*n_per x d); *y receives labels. */
float *tu_blobs(int k, size_t n_per, size_t d, double sep, uint64_t seed, int **y);

/* A taxonomy of n_nodes named nodes (leaves first) with the given parents
 * (-1: top level), not yet finished (fails the test when it cannot be
 * allocated). */
vb_taxonomy *tu_taxonomy(int n_leaves, int n_nodes, const char *const *names, const int *parent);

/* assert_float_equal, which a NaN passes (no comparison with NaN is
 * true); this one fails on a NaN. */
#define tu_assert_near(a, b, eps)                                                              \
    do {                                                                                       \
        double tu_a_ = (a), tu_b_ = (b);                                                       \
        if (tu_a_ != tu_a_)                                                                    \
            fail_msg("%s is NaN, expected %g", #a, tu_b_);                                     \
        assert_float_equal(tu_a_, tu_b_, (eps));                                               \
    } while (0)

/* Do two files hold the same bytes? */
int tu_files_equal(const char *a, const char *b);

/* Asserts a failure with exactly this status and this message. */
#define tu_expect_error(call, err, status, text)                                               \
    do {                                                                                       \
        vb_status st_ = (call);                                                                \
        if (st_ != (status))                                                                   \
            fail_msg("status %s (%s), expected %s", vb_status_name(st_), (err).msg,            \
                     vb_status_name(status));                                                  \
        assert_string_equal((err).msg, (text));                                                \
    } while (0)

/* Asserts that st is not VB_OK and that err->msg contains `needle`. */
#define tu_assert_fails_with(st, err, needle)                                                  \
    do {                                                                                       \
        assert_int_not_equal((st), VB_OK);                                                     \
        if (!strstr((err).msg, (needle)))                                                      \
            fail_msg("error message '%s' does not contain '%s'", (err).msg, (needle));         \
    } while (0)

#endif
