/* Helpers for the feature-extractor and post-processing tests.
 *
 * Include <stdarg.h>, <stddef.h>, <setjmp.h> and <cmocka.h> before this. */
#ifndef VB_FEATUTIL_H
#define VB_FEATUTIL_H

#include "visbench/features.h"

/* An extractor / post step from its registry name and flow-YAML params
 * ("{cell: 4}"); fails the test on error. */
vb_extractor *fu_extractor(const char *name, const char *yaml, int w, int h, int c);
vb_post *fu_post(const char *name, const char *yaml, size_t dim_in);
/* Like fu_extractor but returns the status (for parameter errors). */
vb_status fu_extractor_try(const char *name, const char *yaml, int w, int h, int c, vb_extractor **out,
                           vb_error *err);
vb_status fu_post_try(const char *name, const char *yaml, size_t dim_in, vb_post **out, vb_error *err);

/* A seeded image with a few filled rectangles and discs of random grey
 * levels on a dark background, plus a little noise (c = 1 or 3). */
vb_image *fu_image(int w, int h, int c, uint64_t seed);

/* A seeded n x d matrix: offset a + b j in column j, plus sum_c s_c A_ic B_cj
 * over r Gaussian factors (A n x r, B r x d) with s_c = s0 q^c, plus
 * Gaussian noise of that sigma (none drawn at 0). With q well below 1 the
 * leading covariance eigenvalues (about s_c^2 d) are well apart. */
float *fu_planted(size_t n, size_t d, size_t r, double s0, double q, double noise, double a, double b,
                  uint64_t seed);

/* An image source over an array of images (the array must outlive it). */
void fu_source(vb_imgsrc *src, vb_image *const *imgs, size_t n);

/* Extracts one image with a fresh scratch; fails the test on error. */
void fu_extract(const vb_extractor *x, const vb_image *img, float *out);

/* The extractor's / step's saved state as bytes (malloc'ed). */
uint8_t *fu_save_extractor(const vb_extractor *x, size_t *len);
uint8_t *fu_save_post(const vb_post *p, size_t *len);

#endif
