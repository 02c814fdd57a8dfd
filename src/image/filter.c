/* Gaussian kernels and separable filtering with replicated borders. */
#include "visbench/filter.h"

#include <math.h>
#include <string.h>

int vb_gauss_radius(double sigma) { return sigma > 0 ? (int)ceil(3 * sigma) : 0; }

void vb_gauss_taps(double sigma, float *taps)
{
    const int r = vb_gauss_radius(sigma);
    double sum = 0;
    for (int t = -r; t <= r; t++)
        sum += sigma > 0 ? exp(-(double)t * t / (2 * sigma * sigma)) : 1;
    for (int t = -r; t <= r; t++)
        taps[t + r] = (float)((sigma > 0 ? exp(-(double)t * t / (2 * sigma * sigma)) : 1) / sum);
}

static inline int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

void vb_filter_separable(const float *src, int w, int h, const float *taps, int r, float *pad, float *tmp,
                         float *dst)
{
    for (int y = 0; y < h; y++) {
        const float *row = src + (size_t)y * w;
        for (int t = 0; t < r; t++) {
            pad[t] = row[0];
            pad[r + w + t] = row[w - 1];
        }
        memcpy(pad + r, row, (size_t)w * sizeof *pad);
        float *o = tmp + (size_t)y * w;
        for (int x = 0; x < w; x++)
            o[x] = 0;
        for (int t = 0; t <= 2 * r; t++)
            for (int x = 0; x < w; x++)
                o[x] += taps[t] * pad[x + t];
    }
    for (int y = 0; y < h; y++) {
        float *o = dst + (size_t)y * w;
        for (int x = 0; x < w; x++)
            o[x] = 0;
        for (int t = -r; t <= r; t++) {
            const float *row = tmp + (size_t)clampi(y + t, 0, h - 1) * w;
            for (int x = 0; x < w; x++)
                o[x] += taps[t + r] * row[x];
        }
    }
}
