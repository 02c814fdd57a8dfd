/* Helpers shared by the unit tests. Each test binary runs in its own empty
 * scratch directory (see the Makefile), so tests may write files freely.
 *
 * Include <stdarg.h>, <stddef.h>, <setjmp.h> and <cmocka.h> before this. */
#ifndef VB_TESTUTIL_H
#define VB_TESTUTIL_H

#include "visbench/core.h"

/* Writes bytes to a file (fails the test on error). */
void tu_write_file(const char *path, const void *data, size_t len);
void tu_write_text(const char *path, const char *text);
/* Reads a whole file (NUL-terminated, malloc'ed); fails the test on error. */
char *tu_read_file(const char *path, size_t *len);
int tu_exists(const char *path);
/* rm -rf */
void tu_remove_tree(const char *path);

/* Gaussian blobs: k classes of n_per points in d dimensions, class c centred
 * at sep * e_(c mod d) (+ sep for c >= d), unit variance. Rows are
 * interleaved by class. Returns X (k*n_per x d); *y receives labels. */
float *tu_blobs(int k, size_t n_per, size_t d, double sep, uint64_t seed, int **y);

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
