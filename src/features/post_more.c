/* Post-processing: pca (principal components fitted on the training rows),
 * power (signed power normalisation) and homkermap (VLFeat's homogeneous
 * kernel map, to give linear classifiers a chi2 / intersection / JS
 * kernel).
 *
 * The principal components come from vb_pca_top (core/pca.c: the full
 * covariance, the Gram matrix or a randomized Krylov solver); the tests
 * check the full one against GSL (vbf_pca_eig_gsl) and the others against
 * it. */
#include "internal.h"
#include "../core/linalg.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <vl/homkermap.h>

/* ---- pca ----------------------------------------------------------------- */

static const vb_param_def pca_params[] = {
    {.name = "components", .type = VB_PT_INT, .def = "0", .min = 0, .max = 16777216,
     .flags = VB_PF_GRID | VB_PF_PRIMARY,
     .help = "components kept (0: as many as `variance` needs); more than the features or the training rows is an "
             "error at fit"},
    {.name = "variance", .type = VB_PT_FLOAT, .def = "0.95", .min = 0, .max = 1, .flags = VB_PF_MIN_OPEN,
     .help = "with components 0: keep the fewest leading components that explain this fraction of the variance"},
    {.name = "whiten", .type = VB_PT_BOOL, .def = "false",
     .help = "divide each component by its standard deviation (components without variance become 0)"},
    {.name = "solver", .type = VB_PT_ENUM, .def = "auto", .choices = "auto|full|gram|randomized",
     .help = "full: eigenvectors of the d x d covariance (exact; memory d^2); gram: of the n x n Gram matrix of the "
             "training rows (exact; for fewer rows than features); randomized: a randomized block Krylov method for "
             "a few components (needs components; explained variance within 1e-4); auto: full up to 500 "
             "features, randomized for components up to a tenth of min(rows, features), else gram or full"},
};

typedef struct pca_state {
    size_t d, k;       /* input dimension; components kept (0 before fit in variance mode) */
    size_t k_param;    /* requested components (0 = by variance) */
    double variance;
    vb_pca_solver solver;
    int whiten;
    int fitted;
    float *mean;       /* d */
    float *W;          /* k x d: components as rows */
    float *scale;      /* k: 1, or 1/sqrt(eigenvalue) when whitening */
    float *offset;     /* k: (W mean) * scale, subtracted after the product */
    double *values;    /* k eigenvalues */
    double explained;  /* fraction of the variance kept */
} pca_state;

static void pca_clear(pca_state *s)
{
    free(s->mean);
    free(s->W);
    free(s->scale);
    free(s->offset);
    free(s->values);
    s->mean = s->W = s->scale = s->offset = NULL;
    s->values = NULL;
    s->fitted = 0;
}

static void pca_destroy(void *state)
{
    pca_state *s = state;
    if (!s)
        return;
    pca_clear(s);
    free(s);
}

static vb_status pca_create(const vb_params *p, size_t d, void **state, vb_error *err)
{
    long k = vb_param_int(p, "components");
    /* A saved model's canonical parameters state variance at its default
     * beside the components, so only a value other than the default
     * conflicts. */
    if (k > 0 && vb_param(p, "variance")->given && vb_param_float(p, "variance") != 0.95)
        return vb_param_fail(p, "variance", err, "pca: give either components or variance, not both");
    if (k > 0 && (size_t)k > d)
        return vb_param_fail(p, "components", err, "pca: %ld components asked of %zu features", k, d);
    vb_pca_solver solver = VB_PCA_AUTO;
    for (int c = 0; c < 4; c++)
        if (vb_param_is(p, "solver", vb_pca_solver_names[c]))
            solver = (vb_pca_solver)c;
    if (solver == VB_PCA_RANDOMIZED && k == 0)
        return vb_param_fail(p, "solver", err,
                             "pca: the randomized solver finds a given number of components; give components: N, or "
                             "use solver gram, full or auto to keep a fraction of the variance");
    double need;
    if (solver == VB_PCA_FULL && !vb_pca_full_fits(0, d, &need))
        return vb_param_fail(p, "solver", err,
                             "pca: the full solver on %zu features would need a %zu x %zu covariance (about %.1f GB), "
                             "more than half of this machine's memory; use solver: gram or randomized (or auto)",
                             d, d, d, need / 1e9);
    pca_state *s = vb_calloc(1, sizeof *s, err);
    if (!s)
        return VB_ERR_NOMEM;
    s->d = d;
    s->k_param = (size_t)k;
    s->k = (size_t)k;
    s->variance = vb_param_float(p, "variance");
    s->whiten = vb_param_bool(p, "whiten");
    s->solver = solver;
    *state = s;
    return VB_OK;
}

/* Before fit in variance mode the dimension is not known: the input
 * dimension is its upper bound, and the chain re-reads dim() after fit. */
static size_t pca_dim(const void *state)
{
    const pca_state *s = state;
    return s->k ? s->k : s->d;
}

/* Allocates the k-component buffers. */
static vb_status pca_alloc(pca_state *s, size_t k, vb_error *err)
{
    s->k = k;
    s->mean = vb_malloc(s->d, sizeof *s->mean, err);
    s->W = vb_malloc(k, s->d * sizeof *s->W, err);
    s->scale = vb_malloc(k, sizeof *s->scale, err);
    s->offset = vb_malloc(k, sizeof *s->offset, err);
    s->values = vb_malloc(k, sizeof *s->values, err);
    if (!s->mean || !s->W || !s->scale || !s->offset || !s->values) {
        pca_clear(s);
        return VB_ERR_NOMEM;
    }
    return VB_OK;
}

/* scale and offset from mean, W, values. */
static void pca_derive(pca_state *s)
{
    double top = s->k ? s->values[0] : 0;
    for (size_t c = 0; c < s->k; c++) {
        double sc = 1.0;
        /* whitening a direction without variance would blow up noise */
        if (s->whiten)
            sc = s->values[c] > 1e-12 * top && s->values[c] > 0 ? 1.0 / sqrt(s->values[c]) : 0.0;
        double o = 0;
        for (size_t j = 0; j < s->d; j++)
            o += (double)s->W[c * s->d + j] * s->mean[j];
        s->scale[c] = (float)sc;
        s->offset[c] = (float)(o * sc);
    }
}

static vb_status pca_fit(void *state, const float *X, size_t n, vb_error *err)
{
    pca_state *s = state;
    pca_clear(s);
    vb_pca r;
    vb_status st = vb_pca_top(X, n, s->d, s->k_param, s->variance, s->solver, &r, err);
    if (st != VB_OK)
        return st;
    size_t k = r.k;
    if ((st = pca_alloc(s, k, err)) == VB_OK) {
        double kept = 0;
        for (size_t j = 0; j < s->d; j++)
            s->mean[j] = (float)r.mean[j];
        for (size_t c = 0; c < k; c++) {
            s->values[c] = r.values[c];
            kept += r.values[c];
        }
        for (size_t i = 0; i < k * s->d; i++)
            s->W[i] = (float)r.vectors[i];
        s->explained = r.total > 0 ? kept / r.total : 1.0;
        pca_derive(s);
        s->fitted = 1;
        vb_log(VB_LOG_DEBUG, "pca: %zu of %zu components keep %.4f of the variance", k, s->d, s->explained);
    }
    vb_pca_free(&r);
    return st;
}

static vb_status pca_transform(const void *state, const float *in, size_t n, float *out, vb_error *err)
{
    const pca_state *s = state;
    if (!s->fitted)
        return vb_fail(err, VB_ERR_STATE, "pca: transform before fit");
    if (n == 0)
        return VB_OK;
    size_t k = s->k, d = s->d;
    /* Blocks of rows keep BLAS's int arguments in range for any n. */
    const size_t block = 65536;
    for (size_t i0 = 0; i0 < n; i0 += block) {
        size_t m = n - i0 < block ? n - i0 : block;
        vb_sgemm(0, 1, m, k, d, 1.0f, in + i0 * d, d, s->W, d, 0.0f, out + i0 * k, k);
    }
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++)
        for (size_t c = 0; c < k; c++)
            out[i * k + c] = out[i * k + c] * s->scale[c] - s->offset[c];
    return VB_OK;
}

static vb_status pca_save(const void *state, vb_writer *w, vb_error *err)
{
    const pca_state *s = state;
    if (!s->fitted)
        return vb_fail(err, VB_ERR_STATE, "pca: save before fit");
    vb_write_u32(w, 1); /* format version */
    vb_write_u64(w, s->d);
    vb_write_u64(w, s->k);
    vb_write_f32s(w, s->mean, s->d);
    vb_write_f32s(w, s->W, s->k * s->d);
    vb_write_f64s(w, s->values, s->k);
    vb_write_f64(w, s->explained);
    return vb_writer_status(w, err);
}

static vb_status pca_load(void *state, vb_reader *r, vb_error *err)
{
    pca_state *s = state;
    uint32_t version;
    uint64_t d, k;
    vb_status st = vb_read_u32_range(r, &version, 1, 1, "pca format version", err);
    if (st == VB_OK)
        st = vb_read_u64(r, &d, err);
    if (st == VB_OK)
        st = vb_read_u64(r, &k, err);
    if (st != VB_OK)
        return st;
    if (d != s->d)
        return vb_fail(err, VB_ERR_FORMAT, "%s: pca was fitted on %llu features, this pipeline gives %zu", r->what,
                       (unsigned long long)d, s->d);
    if (k == 0 || k > d || (s->k_param && k != s->k_param))
        return vb_fail(err, VB_ERR_FORMAT, "%s: pca holds %llu components, expected %s%zu", r->what,
                       (unsigned long long)k, s->k_param ? "" : "1 to ", s->k_param ? s->k_param : s->d);
    /* The reader checks each array's length against the input left before
     * anything is allocated from it; k * d is bounded by d^2 above. */
    if (vb_reader_left(r) < (size_t)k * s->d * sizeof(float))
        return vb_fail(err, VB_ERR_FORMAT, "%s: truncated pca state", r->what);
    pca_clear(s);
    if ((st = pca_alloc(s, (size_t)k, err)) != VB_OK)
        return st;
    double explained = 0;
    st = vb_read_f32s_into(r, s->mean, s->d, err);
    if (st == VB_OK)
        st = vb_read_f32s_into(r, s->W, s->k * s->d, err);
    if (st == VB_OK)
        st = vb_read_f64s_into(r, s->values, s->k, err);
    if (st == VB_OK)
        st = vb_read_f64(r, &explained, err);
    for (size_t c = 0; st == VB_OK && c < s->k; c++)
        if (!(s->values[c] >= 0) || !isfinite(s->values[c]))
            st = vb_fail(err, VB_ERR_FORMAT, "%s: pca eigenvalue %zu is invalid", r->what, c);
    for (size_t j = 0; st == VB_OK && j < s->k * s->d; j++)
        if (!isfinite(s->W[j]) || (j < s->d && !isfinite(s->mean[j])))
            st = vb_fail(err, VB_ERR_FORMAT, "%s: pca state holds non-finite values", r->what);
    if (st != VB_OK) {
        pca_clear(s);
        s->k = s->k_param;
        return st;
    }
    s->explained = explained;
    pca_derive(s);
    s->fitted = 1;
    return VB_OK;
}

const vb_post_vt vb_post_pca = {
    .info = {.name = "pca",
             .help = "principal component projection fitted on the training rows (optionally whitened)",
             .doc = "Centres the rows on the training mean and projects them on the leading eigenvectors of the "
                    "training covariance. Output: `components` values, or with components 0 the fewest components "
                    "that keep `variance` of the variance (known after fit; the whole spectrum: solver full or "
                    "gram). Each component's largest coefficient is positive, so results do not depend on the "
                    "solver's signs, and the solvers agree to rounding (randomized: to its tolerance). full forms "
                    "the d x d covariance (BLAS ssyrk, LAPACK dsyevr) and is refused when that would take more than "
                    "half the memory; gram eigendecomposes the n x n matrix of the centred rows' products and maps "
                    "its eigenvectors back; randomized (Halko, Martinsson and Tropp 2011, in its block Krylov form) "
                    "multiplies the data by blocks of components + 10 random vectors, at most 15 times, until one more "
                    "block moves the explained variance by less than 1e-4 (the error left is far smaller), its seed "
                    "fixed by the data's size. `visbench -v` logs which solver ran.",
             .params = pca_params,
             .n_params = sizeof pca_params / sizeof pca_params[0]},
    .create = pca_create,
    .fit = pca_fit,
    .dim = pca_dim,
    .transform = pca_transform,
    .save = pca_save,
    .load = pca_load,
    .destroy = pca_destroy,
};

/* ---- power --------------------------------------------------------------- */

static const vb_param_def power_params[] = {
    {.name = "alpha", .type = VB_PT_FLOAT, .def = "0.5", .min = 0, .max = 10, .flags = VB_PF_GRID | VB_PF_PRIMARY | VB_PF_MIN_OPEN,
     .help = "exponent: x -> sign(x) |x|^alpha (0.5 on non-negative histograms = the Hellinger map)"},
};

typedef struct power_state {
    size_t d;
    double alpha;
} power_state;

static vb_status power_create(const vb_params *p, size_t d, void **state, vb_error *err)
{
    power_state *s = vb_calloc(1, sizeof *s, err);
    if (!s)
        return VB_ERR_NOMEM;
    s->d = d;
    s->alpha = vb_param_float(p, "alpha");
    *state = s;
    return VB_OK;
}

static size_t power_dim(const void *state) { return ((const power_state *)state)->d; }

static vb_status power_transform(const void *state, const float *in, size_t n, float *out, vb_error *err)
{
    const power_state *s = state;
    size_t d = s->d;
    int is_sqrt = s->alpha == 0.5;
    float a = (float)s->alpha;
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++) {
            float x = in[i * d + j], m = fabsf(x);
            float y = is_sqrt ? sqrtf(m) : powf(m, a);
            out[i * d + j] = x < 0 ? -y : y;
        }
    return VB_OK;
}

static void power_destroy(void *state) { free(state); }

const vb_post_vt vb_post_power = {
    .info = {.name = "power",
             .help = "signed power normalisation x -> sign(x) |x|^alpha (alpha 0.5: Hellinger / signed square root)",
             .doc = "Output: as many values as its input. Often followed by l2.",
             .params = power_params,
             .n_params = sizeof power_params / sizeof power_params[0]},
    .create = power_create,
    .dim = power_dim,
    .transform = power_transform,
    .destroy = power_destroy,
};

/* ---- homkermap ----------------------------------------------------------- */

static const vb_param_def hkm_params[] = {
    {.name = "kernel", .type = VB_PT_ENUM, .def = "chi2", .choices = "chi2|intersection|js", .flags = VB_PF_PRIMARY,
     .help = "the additive kernel approximated"},
    {.name = "order", .type = VB_PT_INT, .def = "1", .min = 0, .max = 16, .flags = VB_PF_GRID,
     .help = "approximation order n: each value becomes 2n+1 values"},
    {.name = "gamma", .type = VB_PT_FLOAT, .def = "1", .min = 0, .max = 10, .flags = VB_PF_GRID | VB_PF_MIN_OPEN,
     .help = "homogeneity degree of the kernel (1: the standard kernels; 0.5 often works better on histograms)"},
    {.name = "window", .type = VB_PT_ENUM, .def = "rectangular", .choices = "rectangular|uniform",
     .help = "window truncating the kernel's spectrum (VLFeat's default: rectangular)"},
    {.name = "period", .type = VB_PT_FLOAT, .def = "auto", .choices = "auto", .min = 0, .max = 1e6,
     .flags = VB_PF_MIN_OPEN, .help = "period of the sampled spectrum (auto: VLFeat's heuristic)"},
};

typedef struct hkm_state {
    size_t d, m; /* input dimension; values per input value (2n+1) */
    VlHomogeneousKernelMap *map;
} hkm_state;

static void hkm_destroy(void *state)
{
    hkm_state *s = state;
    if (!s)
        return;
    if (s->map)
        vl_homogeneouskernelmap_delete(s->map);
    free(s);
}

static vb_status hkm_create(const vb_params *p, size_t d, void **state, vb_error *err)
{
    long order = vb_param_int(p, "order");
    size_t m = 2 * (size_t)order + 1, dim;
    if (!vb_mul_ok(d, m, &dim) || dim > ((size_t)1 << 40))
        return vb_param_fail(p, "order", err, "homkermap: %zu features x %zu is too large", d, m);
    VlHomogeneousKernelType kt = vb_param_is(p, "kernel", "intersection") ? VlHomogeneousKernelIntersection
                                 : vb_param_is(p, "kernel", "js")         ? VlHomogeneousKernelJS
                                                                          : VlHomogeneousKernelChi2;
    VlHomogeneousKernelMapWindowType wt = vb_param_is(p, "window", "uniform") ? VlHomogeneousKernelMapWindowUniform
                                                                              : VlHomogeneousKernelMapWindowRectangular;
    double period = vb_param(p, "period")->word ? -1 : vb_param_float(p, "period");
    hkm_state *s = vb_calloc(1, sizeof *s, err);
    if (!s)
        return VB_ERR_NOMEM;
    s->d = d;
    s->m = m;
    s->map = vl_homogeneouskernelmap_new(kt, vb_param_float(p, "gamma"), (vl_size)order, period, wt);
    if (!s->map) {
        free(s);
        return vb_fail(err, VB_ERR_NOMEM, "out of memory");
    }
    *state = s;
    return VB_OK;
}

static size_t hkm_dim(const void *state)
{
    const hkm_state *s = state;
    return s->d * s->m;
}

static vb_status hkm_transform(const void *state, const float *in, size_t n, float *out, vb_error *err)
{
    const hkm_state *s = state;
    size_t d = s->d, m = s->m;
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++)
            vl_homogeneouskernelmap_evaluate_f(s->map, out + (i * d + j) * m, 1, in[i * d + j]);
    return VB_OK;
}

const vb_post_vt vb_post_homkermap = {
    .info = {.name = "homkermap",
             .help = "homogeneous kernel map (VLFeat): a linear classifier on the output approximates a chi2, "
                     "intersection or Jensen-Shannon kernel",
             .doc = "Output: every input value x becomes 2*order+1 values (consecutive), d*(2*order+1) in all. "
                    "Meant for non-negative features (histograms); a negative x maps to -psi(-x) as in VLFeat. "
                    "Vedaldi and Zisserman, Efficient additive kernels via explicit feature maps, PAMI 2012.",
             .params = hkm_params,
             .n_params = sizeof hkm_params / sizeof hkm_params[0]},
    .create = hkm_create,
    .dim = hkm_dim,
    .transform = hkm_transform,
    .destroy = hkm_destroy,
};
