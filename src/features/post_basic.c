/* Post-processing: standardize (fitted mean and deviation per feature) and
 * l2 (each row scaled to unit length). */
#include "visbench/features.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- standardize ------------------------------------------------------- */

static const vb_param_def std_params[] = {
    {.name = "with_mean", .type = VB_PT_BOOL, .def = "true", .help = "subtract the training mean"},
    {.name = "with_std", .type = VB_PT_BOOL, .def = "true",
     .help = "divide by the training standard deviation (constant features are left unscaled)"},
};

typedef struct std_state {
    size_t d;
    int with_mean, with_std;
    float *mean, *inv_std;
} std_state;

static void std_destroy(void *state)
{
    std_state *s = state;
    if (!s)
        return;
    free(s->mean);
    free(s->inv_std);
    free(s);
}

static vb_status std_create(const vb_params *p, size_t d, void **state, vb_error *err)
{
    std_state *s = vb_calloc(1, sizeof *s, err);
    if (!s)
        return VB_ERR_NOMEM;
    s->d = d;
    s->with_mean = vb_param_bool(p, "with_mean");
    s->with_std = vb_param_bool(p, "with_std");
    s->mean = vb_calloc(d, sizeof *s->mean, err);
    s->inv_std = vb_malloc(d, sizeof *s->inv_std, err);
    if (!s->mean || !s->inv_std) {
        std_destroy(s);
        return VB_ERR_NOMEM;
    }
    for (size_t j = 0; j < d; j++)
        s->inv_std[j] = 1.0f;
    *state = s;
    return VB_OK;
}

static vb_status std_fit(void *state, const float *X, size_t n, vb_error *err)
{
    std_state *s = state;
    size_t d = s->d;
    double *sum = vb_calloc(d, sizeof *sum, err), *sq = vb_calloc(d, sizeof *sq, err);
    if (!sum || !sq) {
        free(sum);
        free(sq);
        return VB_ERR_NOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        const float *x = X + i * d;
        for (size_t j = 0; j < d; j++)
            sum[j] += x[j];
    }
    for (size_t j = 0; j < d; j++)
        sum[j] /= (double)(n ? n : 1);
    for (size_t i = 0; i < n; i++) {
        const float *x = X + i * d;
        for (size_t j = 0; j < d; j++) {
            double v = x[j] - sum[j];
            sq[j] += v * v;
        }
    }
    for (size_t j = 0; j < d; j++) {
        double sd = sqrt(sq[j] / (double)(n ? n : 1));
        s->mean[j] = s->with_mean ? (float)sum[j] : 0.0f;
        s->inv_std[j] = s->with_std && sd > 1e-12 ? (float)(1.0 / sd) : 1.0f;
    }
    free(sum);
    free(sq);
    return VB_OK;
}

static size_t std_dim(const void *state) { return ((const std_state *)state)->d; }

static vb_status std_transform(const void *state, const float *in, size_t n, float *out, vb_error *err)
{
    const std_state *s = state;
    size_t d = s->d;
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++)
            out[i * d + j] = (in[i * d + j] - s->mean[j]) * s->inv_std[j];
    return VB_OK;
}

static vb_status std_save(const void *state, vb_writer *w, vb_error *err)
{
    const std_state *s = state;
    vb_write_f32s(w, s->mean, s->d);
    vb_write_f32s(w, s->inv_std, s->d);
    return VB_OK;
}

static vb_status std_load(void *state, vb_reader *r, vb_error *err)
{
    std_state *s = state;
    vb_status st = vb_read_f32s_into(r, s->mean, s->d, err);
    if (st == VB_OK)
        st = vb_read_f32s_into(r, s->inv_std, s->d, err);
    return st;
}

const vb_post_vt vb_post_standardize = {
    .info = {.name = "standardize",
             .help = "subtract the mean and divide by the standard deviation of each feature (fitted on train)",
             .params = std_params,
             .n_params = sizeof std_params / sizeof std_params[0]},
    .create = std_create,
    .fit = std_fit,
    .dim = std_dim,
    .transform = std_transform,
    .save = std_save,
    .load = std_load,
    .destroy = std_destroy,
};

/* ---- l2 ---------------------------------------------------------------- */

typedef struct l2_state {
    size_t d;
} l2_state;

static vb_status l2_create(const vb_params *p, size_t d, void **state, vb_error *err)
{
    l2_state *s = vb_calloc(1, sizeof *s, err);
    if (!s)
        return VB_ERR_NOMEM;
    s->d = d;
    *state = s;
    return VB_OK;
}

static size_t l2_dim(const void *state) { return ((const l2_state *)state)->d; }

static vb_status l2_transform(const void *state, const float *in, size_t n, float *out, vb_error *err)
{
    size_t d = ((const l2_state *)state)->d;
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        double ss = 0;
        for (size_t j = 0; j < d; j++)
            ss += (double)in[i * d + j] * in[i * d + j];
        float s = ss > 1e-24 ? (float)(1.0 / sqrt(ss)) : 0.0f;
        for (size_t j = 0; j < d; j++)
            out[i * d + j] = in[i * d + j] * s;
    }
    return VB_OK;
}

static void l2_destroy(void *state) { free(state); }

const vb_post_vt vb_post_l2 = {
    .info = {.name = "l2", .help = "scale each feature row to unit Euclidean length (all-zero rows stay zero)"},
    .create = l2_create,
    .dim = l2_dim,
    .transform = l2_transform,
    .destroy = l2_destroy,
};
