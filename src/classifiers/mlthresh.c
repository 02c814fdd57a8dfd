/* Multilabel decision thresholds, shared by br, chain and the CNN with
 * sigmoid outputs: tuned on the validation rows, or fixed. */
#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void vb_ml_thresh_params(const vb_params *p, int proba, int *mode, float *base)
{
    *mode = vb_param_is(p, "threshold", "global") ? VB_ML_THRESH_GLOBAL
            : vb_param_is(p, "threshold", "fixed") ? VB_ML_THRESH_FIXED
                                                   : VB_ML_THRESH_PER_LABEL;
    *base = vb_param_is(p, "threshold_value", "auto") ? (proba ? 0.5f : 0.0f)
                                                      : (float)vb_param_float(p, "threshold_value");
}

void vb_ml_apply_thresholds(const float *S, size_t n, int L, const float *t, uint8_t *sets)
{
    for (size_t i = 0; i < n; i++)
        for (int l = 0; l < L; l++)
            sets[i * (size_t)L + l] = S[i * (size_t)L + l] > t[l];
}

typedef struct scored {
    float s;
    uint8_t y;
} scored;

static int by_score_desc(const void *a, const void *b)
{
    float x = ((const scored *)a)->s, y = ((const scored *)b)->s;
    return (x < y) - (x > y);
}

/* The threshold over m scored pairs (sorted by descending score) that
 * maximises F1 = 2 tp / (2 tp + fp + fn); positives: how many y are 1.
 * Predicting the first j pairs is the threshold between pair j-1 and j. */
static float best_threshold(const scored *v, size_t m, size_t positives, float base)
{
    /* the F1 at base itself */
    size_t tp = 0, fp = 0;
    for (size_t j = 0; j < m; j++)
        if (v[j].s > base) {
            tp += v[j].y;
            fp += !v[j].y;
        }
    double best = 2.0 * tp / (double)(2 * tp + fp + (positives - tp) + (tp + fp + positives == 0));
    float best_t = base;
    tp = fp = 0;
    for (size_t j = 0; j <= m; j++) {
        /* the first j pairs predicted: a threshold between v[j-1].s and v[j].s */
        if (j == 0 || j == m || v[j].s < v[j - 1].s) {
            float t;
            if (j == 0)
                t = m ? v[0].s + fabsf(v[0].s) * 1e-3f + 1e-3f : base;
            else if (j == m)
                t = v[m - 1].s - fabsf(v[m - 1].s) * 1e-3f - 1e-3f;
            else
                t = v[j - 1].s * 0.5f + v[j].s * 0.5f;
            size_t den = 2 * tp + fp + (positives - tp);
            double f1 = den ? 2.0 * tp / (double)den : 0.0;
            if (f1 > best + 1e-12 || (f1 > best - 1e-12 && fabsf(t - base) < fabsf(best_t - base))) {
                best = f1 > best ? f1 : best;
                best_t = t;
            }
        }
        if (j < m) {
            tp += v[j].y;
            fp += !v[j].y;
        }
    }
    return best_t;
}

vb_status vb_ml_tune_thresholds(const float *S, const uint8_t *Y, size_t n, int L, int mode, float base, float *t,
                                vb_error *err)
{
    for (int l = 0; l < L; l++)
        t[l] = base;
    if (n == 0 || mode == VB_ML_THRESH_FIXED)
        return VB_OK;
    size_t m = mode == VB_ML_THRESH_GLOBAL ? n * (size_t)L : n;
    scored *v = vb_malloc(m, sizeof *v, err);
    if (!v)
        return VB_ERR_NOMEM;
    if (mode == VB_ML_THRESH_GLOBAL) {
        size_t pos = 0;
        for (size_t k = 0; k < m; k++) {
            v[k].s = S[k];
            v[k].y = Y[k] != 0;
            pos += v[k].y;
        }
        qsort(v, m, sizeof *v, by_score_desc);
        float g = best_threshold(v, m, pos, base);
        for (int l = 0; l < L; l++)
            t[l] = g;
    } else {
        for (int l = 0; l < L; l++) {
            size_t pos = 0;
            for (size_t i = 0; i < n; i++) {
                v[i].s = S[i * (size_t)L + l];
                v[i].y = Y[i * (size_t)L + l] != 0;
                pos += v[i].y;
            }
            if (!pos)
                continue; /* nothing to learn a threshold from: keep base */
            qsort(v, n, sizeof *v, by_score_desc);
            t[l] = best_threshold(v, n, pos, base);
        }
    }
    free(v);
    return VB_OK;
}
