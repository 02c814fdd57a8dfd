/* Gaussian filtering of float planes (h rows of w values), borders
 * replicated: the edges extractor's smoothing before Canny, and the blur,
 * denoise and sharpen preprocessing ops.
 *
 * A Gaussian of width sigma has radius r = ceil(3 sigma) and 2r + 1 taps
 * exp(-t^2 / (2 sigma^2)) normalised to sum 1 (sigma <= 0: r = 0, the
 * identity); a 2-D Gaussian is the 1-D kernel along x, then along y.
 */
#ifndef VISBENCH_FILTER_H
#define VISBENCH_FILTER_H

#include "visbench/core.h"

/* The radius of sigma's kernel: ceil(3 sigma), 0 for sigma <= 0. */
int vb_gauss_radius(double sigma);
/* Writes the 2 vb_gauss_radius(sigma) + 1 taps of sigma's kernel. */
void vb_gauss_taps(double sigma, float *taps);
/* dst = src convolved with the 2r + 1 taps along x, then along y, borders
 * replicated. pad holds w + 2r floats, tmp w h; dst is not src. */
void vb_filter_separable(const float *src, int w, int h, const float *taps, int r, float *pad, float *tmp,
                         float *dst);

#endif
