/* svm: kernel support vector machine. libsvm (C-SVC, one-vs-one) trains;
 * the trained model is copied into a dense model this file owns, so
 * prediction is batched through BLAS (the kernel against every support
 * vector is one GEMM per block of samples) and never touches libsvm's
 * sparse nodes. Probability outputs use Platt sigmoids fitted on seeded
 * cross-validated decision values (our RNG, not libsvm's rand()), coupled
 * across pairs as Wu, Lin and Weng (2004) describe. */
#include "visbench/classifier.h"
#include "../core/linalg.h"


#include <cblas.h>
#include <libsvm/svm.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const vb_param_def svm_params[] = {
    {.name = "kernel", .type = VB_PT_ENUM, .def = "rbf", .choices = "rbf|linear|poly|sigmoid",
     .help = "kernel function"},
    {.name = "C", .type = VB_PT_FLOAT, .def = "1", .min = 0, .max = 1e12, .flags = VB_PF_GRID | VB_PF_MIN_OPEN,
     .help = "penalty of the error term"},
    {.name = "gamma", .type = VB_PT_FLOAT, .def = "scale", .choices = "scale|auto", .min = 0, .max = 1e12,
     .flags = VB_PF_GRID | VB_PF_MIN_OPEN,
     .help = "kernel width (rbf, poly, sigmoid); scale = 1/(d var(X)), auto = 1/d"},
    {.name = "degree", .type = VB_PT_INT, .def = "3", .min = 1, .max = 20, .flags = VB_PF_GRID,
     .help = "polynomial degree"},
    {.name = "coef0", .type = VB_PT_FLOAT, .def = "0", .min = -1e6, .max = 1e6, .help = "poly/sigmoid offset"},
    {.name = "probability", .type = VB_PT_BOOL, .def = "false",
     .help = "calibrated probabilities (Platt, 5-fold CV on the training set: about 4x the training time)"},
    {.name = "class_weight", .type = VB_PT_ENUM, .def = "none", .choices = "none|balanced",
     .help = "balanced: C of each class scaled by n / (k n_class)"},
    {.name = "tol", .type = VB_PT_FLOAT, .def = "0.001", .min = 0, .max = 1, .flags = VB_PF_MIN_OPEN,
     .help = "stopping tolerance of the solver"},
    {.name = "cache_mb", .type = VB_PT_FLOAT, .def = "1000", .min = 1, .max = 1e6,
     .help = "libsvm's kernel cache (MB), at most what a problem's kernel can fill (m^2 x 4 bytes for m rows)"},
    {.name = "shrinking", .type = VB_PT_BOOL, .def = "true", .help = "libsvm's shrinking heuristic"},
    {.name = "precompute_mb", .type = VB_PT_FLOAT, .def = "1024", .min = 0, .max = 1e7,
     .help = "memory for precomputed kernels (BLAS products; much faster training): the training rows' kernel "
             "(n^2 x 4 bytes) when it fits half of it, and each class pair's problem in libsvm's form "
             "((n_i + n_j)^2 x 16 bytes, one per thread) in the other half; a pair that does not fit trains on "
             "sparse rows; 0 = never"},
};

enum { K_RBF, K_LINEAR, K_POLY, K_SIGMOID };

typedef struct svm_state {
    /* parameters */
    int kernel, degree, probability, balanced, shrinking;
    double C, gamma_param, coef0, tol, cache_mb, precompute_mb;
    const char *gamma_word; /* "scale", "auto" or NULL */
    /* trained model */
    size_t d;
    int n_classes; /* classes of the dataset */
    int k;         /* classes present in training, in model order */
    size_t l;      /* support vectors */
    double gamma;
    int *label;    /* k: dataset class of each model class */
    int *nsv;      /* k */
    float *sv;     /* l x d */
    float *sv_sq;  /* l: squared norms */
    float *w;      /* P x l: pair p's coefficient of each SV (0 outside the pair) */
    double *rho;   /* P */
    double *probA, *probB; /* P, or NULL */
} svm_state;

static void model_clear(svm_state *s)
{
    free(s->label);
    free(s->nsv);
    free(s->sv);
    free(s->sv_sq);
    free(s->w);
    free(s->rho);
    free(s->probA);
    free(s->probB);
    s->label = s->nsv = NULL;
    s->sv = s->sv_sq = s->w = NULL;
    s->rho = s->probA = s->probB = NULL;
    s->l = 0;
    s->k = 0;
}

static void svm_destroy(void *state)
{
    svm_state *s = state;
    if (!s)
        return;
    model_clear(s);
    free(s);
}

static void quiet(const char *msg) { vb_log(VB_LOG_DEBUG, "libsvm: %s", msg); }

static vb_status svm_create(const vb_params *p, void **state, vb_error *err)
{
    svm_state *s = vb_calloc(1, sizeof *s, err);
    if (!s)
        return VB_ERR_NOMEM;
    const char *k = vb_param_str(p, "kernel");
    s->kernel = strcmp(k, "linear") == 0 ? K_LINEAR : strcmp(k, "poly") == 0 ? K_POLY
              : strcmp(k, "sigmoid") == 0 ? K_SIGMOID : K_RBF;
    s->C = vb_param_float(p, "C");
    s->gamma_word = vb_param_str(p, "gamma");
    s->gamma_param = vb_param_float(p, "gamma");
    s->degree = (int)vb_param_int(p, "degree");
    s->coef0 = vb_param_float(p, "coef0");
    s->probability = vb_param_bool(p, "probability");
    s->balanced = vb_param_is(p, "class_weight", "balanced");
    s->tol = vb_param_float(p, "tol");
    s->cache_mb = vb_param_float(p, "cache_mb");
    s->shrinking = vb_param_bool(p, "shrinking");
    s->precompute_mb = vb_param_float(p, "precompute_mb");
    svm_set_print_string_function(quiet);
    *state = s;
    return VB_OK;
}

/* ---- dense model ------------------------------------------------------- */

static size_t n_pairs(int k) { return (size_t)k * (size_t)(k - 1) / 2; }

/* Each support vector's squared norm into sv_sq (allocated, l entries). */
static void sv_norms(svm_state *s)
{
    for (size_t t = 0; t < s->l; t++) {
        double q = 0;
        for (size_t j = 0; j < s->d; j++)
            q += (double)s->sv[t * s->d + j] * s->sv[t * s->d + j];
        s->sv_sq[t] = (float)q;
    }
}

/* Builds the pair-coefficient matrix W and SV norms from sv / coef. */
static vb_status finish_model(svm_state *s, const double *coef, vb_error *err)
{
    size_t P = n_pairs(s->k), l = s->l;
    s->w = vb_calloc(P ? P : 1, (l ? l : 1) * sizeof *s->w, err);
    s->sv_sq = vb_calloc(l ? l : 1, sizeof *s->sv_sq, err);
    size_t *start = vb_calloc((size_t)s->k + 1, sizeof *start, err);
    if (!s->w || !s->sv_sq || !start) {
        free(start);
        return VB_ERR_NOMEM;
    }
    for (int i = 0; i < s->k; i++)
        start[i + 1] = start[i] + (size_t)s->nsv[i];
    size_t p = 0;
    for (int i = 0; i < s->k; i++)
        for (int j = i + 1; j < s->k; j++, p++) {
            /* libsvm's layout: for pair (i, j), SVs of class i use coef row
             * j-1 and SVs of class j use coef row i. */
            for (size_t t = start[i]; t < start[i + 1]; t++)
                s->w[p * l + t] = (float)coef[(size_t)(j - 1) * l + t];
            for (size_t t = start[j]; t < start[j + 1]; t++)
                s->w[p * l + t] = (float)coef[(size_t)i * l + t];
        }
    sv_norms(s);
    free(start);
    return VB_OK;
}

/* Copies a libsvm model into s. Support vectors come from the libsvm nodes,
 * or, for a model trained on a precomputed kernel (X != NULL), from the
 * feature rows X[rows[sv_index]]. */
static vb_status take_model(svm_state *s, const struct svm_model *m, size_t d, const float *X, const size_t *rows,
                            vb_error *err)
{
    model_clear(s);
    s->k = m->nr_class;
    s->l = (size_t)m->l;
    s->d = d;
    size_t P = n_pairs(s->k);
    s->label = vb_calloc((size_t)s->k, sizeof *s->label, err);
    s->nsv = vb_calloc((size_t)s->k, sizeof *s->nsv, err);
    s->sv = vb_calloc(s->l ? s->l : 1, d * sizeof *s->sv, err);
    s->rho = vb_calloc(P ? P : 1, sizeof *s->rho, err);
    double *coef = vb_calloc((size_t)(s->k - 1) * (s->l ? s->l : 1), sizeof *coef, err);
    if (!s->label || !s->nsv || !s->sv || !s->rho || !coef) {
        free(coef);
        return VB_ERR_NOMEM;
    }
    for (int i = 0; i < s->k; i++) {
        s->label[i] = m->label[i];
        s->nsv[i] = m->nSV[i];
    }
    for (size_t t = 0; t < s->l; t++) {
        if (X) {
            size_t r = (size_t)(m->sv_indices[t] - 1);
            memcpy(s->sv + t * d, X + (rows ? rows[r] : r) * d, d * sizeof *s->sv);
        } else
            for (const struct svm_node *x = m->SV[t]; x->index != -1; x++)
                s->sv[t * d + (size_t)(x->index - 1)] = (float)x->value;
    }
    for (int r = 0; r < s->k - 1; r++)
        for (size_t t = 0; t < s->l; t++)
            coef[(size_t)r * s->l + t] = m->sv_coef[r][t];
    memcpy(s->rho, m->rho, P * sizeof *s->rho);
    vb_status st = finish_model(s, coef, err);
    free(coef);
    return st;
}

/* Decision values (n x P) for rows X through the dense model. */
static vb_status decision_values(const svm_state *s, const float *X, size_t n, double *dec, vb_error *err)
{
    const size_t B = 512, l = s->l, d = s->d, P = n_pairs(s->k);
    float *G = vb_malloc(B, (l ? l : 1) * sizeof *G, err);
    float *D = vb_malloc(B, (P ? P : 1) * sizeof *D, err);
    if (!G || !D) {
        free(G);
        free(D);
        return VB_ERR_NOMEM;
    }
    const float g = (float)s->gamma, c0 = (float)s->coef0;
    for (size_t r0 = 0; r0 < n; r0 += B) {
        size_t m = n - r0 < B ? n - r0 : B;
        const float *Xb = X + r0 * d;
        /* G = Xb SV^T */
        vb_sgemm(0, 1, m, l, d, 1.0f, Xb, d, s->sv, d, 0.0f, G, l);
        int kernel = s->kernel, degree = s->degree;
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < m; i++) {
            float *row = G + i * l;
            if (kernel == K_RBF) {
                double xx = 0;
                for (size_t j = 0; j < d; j++)
                    xx += (double)Xb[i * d + j] * Xb[i * d + j];
                for (size_t t = 0; t < l; t++) {
                    float dist = (float)xx + s->sv_sq[t] - 2.0f * row[t];
                    row[t] = expf(-g * (dist > 0 ? dist : 0));
                }
            } else if (kernel == K_POLY) {
                for (size_t t = 0; t < l; t++) {
                    float b = g * row[t] + c0, v = 1;
                    for (int e = 0; e < degree; e++)
                        v *= b;
                    row[t] = v;
                }
            } else if (kernel == K_SIGMOID) {
                for (size_t t = 0; t < l; t++)
                    row[t] = tanhf(g * row[t] + c0);
            }
        }
        /* D = K W^T: the pairwise sums, then minus rho. */
        vb_sgemm(0, 1, m, P, l, 1.0f, G, l, s->w, l, 0.0f, D, P);
        for (size_t i = 0; i < m; i++)
            for (size_t p = 0; p < P; p++)
                dec[(r0 + i) * P + p] = (double)D[i * P + p] - s->rho[p];
    }
    free(G);
    free(D);
    return VB_OK;
}

/* ---- probability ------------------------------------------------------- */

/* Fits P(y = 1 | f) = 1 / (1 + exp(A f + B)) by Newton's method with
 * backtracking on the regularised targets of Platt (1999), as refined by
 * Lin, Lin and Weng (2007). */
static void fit_sigmoid(const double *f, const int *pos, size_t n, double *A_out, double *B_out)
{
    double np = 0, nn = 0;
    for (size_t i = 0; i < n; i++)
        pos[i] ? np++ : nn++;
    double hi = (np + 1) / (np + 2), lo = 1 / (nn + 2);
    double A = 0, B = log((nn + 1) / (np + 1));
    /* Objective: sum of cross-entropy with soft targets; evaluated stably. */
#define OBJ(a, b, out)                                                                                       \
    do {                                                                                                     \
        double acc = 0;                                                                                      \
        for (size_t i_ = 0; i_ < n; i_++) {                                                                  \
            double t_ = pos[i_] ? hi : lo, z_ = f[i_] * (a) + (b);                                           \
            acc += z_ >= 0 ? t_ * z_ + log1p(exp(-z_)) : (t_ - 1) * z_ + log1p(exp(z_));                     \
        }                                                                                                    \
        out = acc;                                                                                           \
    } while (0)
    double fval;
    OBJ(A, B, fval);
    for (int it = 0; it < 100; it++) {
        double h11 = 1e-12, h22 = 1e-12, h21 = 0, g1 = 0, g2 = 0;
        for (size_t i = 0; i < n; i++) {
            double t = pos[i] ? hi : lo, z = f[i] * A + B;
            double p = z >= 0 ? exp(-z) / (1 + exp(-z)) : 1 / (1 + exp(z)); /* 1/(1+e^z) */
            double q = 1 - p, dd = p * q, r = t - p;
            h11 += f[i] * f[i] * dd;
            h22 += dd;
            h21 += f[i] * dd;
            g1 += f[i] * r;
            g2 += r;
        }
        if (fabs(g1) < 1e-5 && fabs(g2) < 1e-5)
            break;
        double det = h11 * h22 - h21 * h21;
        double dA = -(h22 * g1 - h21 * g2) / det, dB = -(-h21 * g1 + h11 * g2) / det;
        double gd = g1 * dA + g2 * dB, step = 1;
        while (step >= 1e-10) {
            double nA = A + step * dA, nB = B + step * dB, nf;
            OBJ(nA, nB, nf);
            if (nf < fval + 1e-4 * step * gd) {
                A = nA;
                B = nB;
                fval = nf;
                break;
            }
            step /= 2;
        }
        if (step < 1e-10)
            break;
    }
#undef OBJ
    *A_out = A;
    *B_out = B;
}

static double sigmoid(double f, double A, double B)
{
    double z = f * A + B;
    return z >= 0 ? exp(-z) / (1 + exp(-z)) : 1 / (1 + exp(z));
}

/* Pairwise coupling (Wu, Lin and Weng 2004, method 2): finds p minimising
 * sum_t sum_{j != t} (r_jt p_t - r_tj p_j)^2 subject to sum p = 1 by the
 * paper's fixed-point iteration. r is k x k, p receives k values. */
static void couple(int k, const double *r, double *p, double *Q, double *Qp)
{
    for (int t = 0; t < k; t++) {
        p[t] = 1.0 / k;
        Q[t * k + t] = 0;
        for (int j = 0; j < k; j++)
            if (j != t) {
                Q[t * k + t] += r[j * k + t] * r[j * k + t];
                Q[t * k + j] = -r[j * k + t] * r[t * k + j];
            }
    }
    double eps = 0.005 / k;
    int max_iter = k > 100 ? k : 100;
    for (int it = 0; it < max_iter; it++) {
        double pQp = 0;
        for (int t = 0; t < k; t++) {
            Qp[t] = 0;
            for (int j = 0; j < k; j++)
                Qp[t] += Q[t * k + j] * p[j];
            pQp += p[t] * Qp[t];
        }
        double worst = 0;
        for (int t = 0; t < k; t++)
            worst = fmax(worst, fabs(Qp[t] - pQp));
        if (worst < eps)
            break;
        for (int t = 0; t < k; t++) {
            double diff = (-Qp[t] + pQp) / Q[t * k + t];
            p[t] += diff;
            pQp = (pQp + diff * (diff * Q[t * k + t] + 2 * Qp[t])) / (1 + diff) / (1 + diff);
            for (int j = 0; j < k; j++) {
                Qp[j] = (Qp[j] + diff * Q[t * k + j]) / (1 + diff);
                p[j] /= (1 + diff);
            }
        }
    }
}

/* ---- training ---------------------------------------------------------- */

typedef struct problem {
    struct svm_problem prob;
    struct svm_node *nodes;
} problem;

static void problem_free(problem *pr)
{
    free(pr->prob.y);
    free(pr->prob.x);
    free(pr->nodes);
    memset(pr, 0, sizeof *pr);
}

/* libsvm rows for the samples rows[0..m) of X (all rows when rows is NULL);
 * zeros are left out, as they add nothing to a dot product. */
static vb_status build_problem(const float *X, const int *y, size_t d, const size_t *rows, size_t m, problem *pr,
                               vb_error *err)
{
    memset(pr, 0, sizeof *pr);
    size_t nnz = 0;
    for (size_t i = 0; i < m; i++) {
        const float *x = X + (rows ? rows[i] : i) * d;
        for (size_t j = 0; j < d; j++)
            nnz += x[j] != 0;
    }
    if (m > 0x7fffffff || d >= 0x7fffffff)
        return vb_fail(err, VB_ERR_DATA, "svm: %zu x %zu is beyond libsvm's int indices", m, d);
    pr->prob.l = (int)m;
    pr->prob.y = vb_malloc(m, sizeof *pr->prob.y, err);
    pr->prob.x = vb_malloc(m, sizeof *pr->prob.x, err);
    pr->nodes = vb_malloc(nnz + m, sizeof *pr->nodes, err);
    if (!pr->prob.y || !pr->prob.x || !pr->nodes) {
        problem_free(pr);
        return VB_ERR_NOMEM;
    }
    struct svm_node *nd = pr->nodes;
    for (size_t i = 0; i < m; i++) {
        size_t r = rows ? rows[i] : i;
        const float *x = X + r * d;
        pr->prob.x[i] = nd;
        pr->prob.y[i] = y[r];
        for (size_t j = 0; j < d; j++)
            if (x[j] != 0) {
                nd->index = (int)j + 1;
                nd->value = x[j];
                nd++;
            }
        nd->index = -1;
        nd->value = 0;
        nd++;
    }
    return VB_OK;
}

/* ---- one-vs-one on precomputed kernels ----------------------------------
 *
 * libsvm trains a k-class C-SVC as k(k-1)/2 binary problems, one per pair
 * of classes (the rows of class i, then those of class j, each in training
 * order), one after the other. A precomputed kernel (PRECOMPUTED) makes its
 * solver fast, but libsvm wants it as svm_node rows of n+2 entries, 16
 * bytes each: 1.6 GB for 10,000 rows. So the pairs are trained here, each
 * as libsvm's binary problem on a precomputed kernel of that pair's rows
 * only ((n_i+n_j)^2 x 16 bytes: 64 MB for two classes of 1,000), the pairs
 * shared out over the threads (libsvm's own loop is serial); the kernel
 * values come from one float matrix of the training rows (n^2 x 4 bytes,
 * one BLAS product) or, when that does not fit precompute_mb, from a
 * product per pair. The pair models are then assembled into the dense
 * model, exactly as libsvm assembles them (take_model's layout). A pair
 * too large for precompute_mb is trained by libsvm on sparse rows. */

static void fill_param(const svm_state *s, struct svm_parameter *p, int *wl, double *wv, const vb_traindata *td,
                       const size_t *rows, size_t m);

typedef struct kmat {
    float *K;     /* n x n kernel of the training rows, or NULL */
    double *sq;   /* n squared norms (for the rbf kernel of a pair) */
    size_t n;
} kmat;

/* Bytes of the budget (precompute_mb). */
static double budget_bytes(const svm_state *s) { return s->precompute_mb * 1048576.0; }

/* The kernel of two rows from their dot product and squared norms. */
static inline double kernel_of(const svm_state *s, double dot, double sqa, double sqb)
{
    switch (s->kernel) {
    case K_RBF: return exp(-s->gamma * fmax(sqa + sqb - 2 * dot, 0.0));
    case K_POLY: return pow(s->gamma * dot + s->coef0, s->degree);
    case K_SIGMOID: return tanh(s->gamma * dot + s->coef0);
    default: return dot;
    }
}

static vb_status row_norms(const float *X, size_t n, size_t d, double **sq, vb_error *err)
{
    double *q = vb_malloc(n ? n : 1, sizeof *q, err);
    if (!q)
        return VB_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        double v = 0;
        for (size_t j = 0; j < d; j++)
            v += (double)X[i * d + j] * X[i * d + j];
        q[i] = v;
    }
    *sq = q;
    return VB_OK;
}

/* K = kernel(X X^T) over all n rows when it fits half the budget; else
 * only the norms (pairs then compute their own blocks). */
static vb_status kmat_build(const svm_state *s, const float *X, size_t n, size_t d, kmat *km, vb_error *err)
{
    memset(km, 0, sizeof *km);
    km->n = n;
    vb_status st = row_norms(X, n, d, &km->sq, err);
    size_t cells;
    if (st != VB_OK || !vb_mul_ok(n, n, &cells) || (double)cells * 4.0 > budget_bytes(s) / 2)
        return st;
    if (!(km->K = vb_malloc(cells ? cells : 1, sizeof *km->K, err)))
        return VB_ERR_NOMEM;
    const size_t B = 2048; /* rows per product: BLAS's int sizes stay in range */
    for (size_t r0 = 0; r0 < n; r0 += B) {
        size_t m = n - r0 < B ? n - r0 : B;
        vb_sgemm(0, 1, m, n, d, 1.0f, X + r0 * d, d, X, d, 0.0f, km->K + r0 * n, n);
    }
    if (s->kernel != K_LINEAR) {
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < n; j++)
                km->K[i * n + j] = (float)kernel_of(s, km->K[i * n + j], km->sq[i], km->sq[j]);
    }
    return VB_OK;
}

static void kmat_free(kmat *km)
{
    free(km->K);
    free(km->sq);
    memset(km, 0, sizeof *km);
}

/* One pair's binary model: its support vectors (indices into the pair's
 * rows), their coefficients, and rho. */
typedef struct pair_model {
    size_t n_sv;
    size_t *sv; /* into the pair's rows */
    double *coef;
    double rho;
} pair_model;

/* The pair's precomputed kernel as libsvm's rows: row r is {0: r+1},
 * {1: K(r,0)}, ..., {m: K(r,m-1)}, {-1}. rows: the pair's m training rows. */
static vb_status pair_nodes(const svm_state *s, const vb_traindata *td, const kmat *km, const size_t *rows, size_t m,
                            struct svm_node **out, vb_error *err)
{
    struct svm_node *nd = vb_malloc(m, (m + 2) * sizeof *nd, err);
    float *G = NULL;
    if (!nd)
        return VB_ERR_NOMEM;
    if (!km->K) { /* this pair's dot products */
        float *Xp = vb_malloc(m, td->d * sizeof *Xp, err);
        G = Xp ? vb_malloc(m, m * sizeof *G, err) : NULL;
        if (!G) {
            free(Xp);
            free(nd);
            return VB_ERR_NOMEM;
        }
        for (size_t i = 0; i < m; i++)
            memcpy(Xp + i * td->d, td->X + rows[i] * td->d, td->d * sizeof *Xp);
        vb_sgemm(0, 1, m, m, td->d, 1.0f, Xp, td->d, Xp, td->d, 0.0f, G, m);
        free(Xp);
    }
    for (size_t i = 0; i < m; i++) {
        struct svm_node *row = nd + i * (m + 2);
        row[0].index = 0;
        row[0].value = (double)(i + 1);
        for (size_t j = 0; j < m; j++) {
            row[j + 1].index = (int)j + 1;
            row[j + 1].value = km->K ? (double)km->K[rows[i] * km->n + rows[j]]
                                     : (double)(float)kernel_of(s, G[i * m + j], km->sq[rows[i]], km->sq[rows[j]]);
        }
        row[m + 1].index = -1;
        row[m + 1].value = 0;
    }
    free(G);
    *out = nd;
    return VB_OK;
}

/* Trains libsvm's binary problem of a pair: rows[0..mi) of one class (+1),
 * rows[mi..m) of the other (-1), with their C weights. */
static vb_status train_pair(const svm_state *s, const vb_traindata *td, const kmat *km, const size_t *rows,
                            size_t mi, size_t m, double wi, double wj, pair_model *pm, vb_error *err)
{
    memset(pm, 0, sizeof *pm);
    int precomputed = (double)m * (double)(m + 2) * 16.0 <= budget_bytes(s) / 2 / (double)vb_get_threads();
    if (!precomputed)
        vb_log(VB_LOG_DEBUG, "svm: a pair of %zu rows trains on sparse rows (over precompute_mb)", m);
    problem pr;
    memset(&pr, 0, sizeof pr);
    struct svm_node *nd = NULL;
    vb_status st;
    if (precomputed) {
        st = pair_nodes(s, td, km, rows, m, &nd, err);
        if (st == VB_OK) {
            pr.prob.l = (int)m;
            pr.prob.y = vb_malloc(m, sizeof *pr.prob.y, err);
            pr.prob.x = vb_malloc(m, sizeof *pr.prob.x, err);
            if (!pr.prob.y || !pr.prob.x)
                st = VB_ERR_NOMEM;
            for (size_t i = 0; st == VB_OK && i < m; i++)
                pr.prob.x[i] = nd + i * (m + 2);
        }
    } else
        st = build_problem(td->X, td->y, td->d, rows, m, &pr, err);
    for (size_t i = 0; st == VB_OK && i < m; i++)
        pr.prob.y[i] = i < mi ? 1.0 : -1.0;
    int wl[2] = {1, -1};
    double wv[2] = {wi, wj};
    struct svm_parameter param;
    if (st == VB_OK) {
        svm_state plain = *s; /* the pair's class weights are set here */
        plain.balanced = 0;
        fill_param(&plain, &param, NULL, NULL, td, rows, m);
        param.nr_weight = 2;
        param.weight_label = wl;
        param.weight = wv;
        if (precomputed)
            param.kernel_type = PRECOMPUTED;
        /* a cache row is one kernel column of the pair: m^2 floats hold them all */
        double all = (double)m * (double)m * 4.0 / 1048576.0 + 1;
        param.cache_size = param.cache_size < all ? param.cache_size : all;
        const char *bad = svm_check_parameter(&pr.prob, &param);
        if (bad)
            st = vb_fail(err, VB_ERR_PARAM, "svm: %s", bad);
    }
    struct svm_model *model = NULL;
    if (st == VB_OK && !(model = svm_train(&pr.prob, &param)))
        st = vb_fail(err, VB_ERR_NOMEM, "svm: libsvm could not train (out of memory?)");
    if (st == VB_OK) {
        /* libsvm numbers the labels by first appearance: +1 (rows[0]) is its first */
        pm->n_sv = (size_t)model->l;
        pm->sv = vb_malloc(pm->n_sv ? pm->n_sv : 1, sizeof *pm->sv, err);
        pm->coef = vb_malloc(pm->n_sv ? pm->n_sv : 1, sizeof *pm->coef, err);
        if (!pm->sv || !pm->coef)
            st = VB_ERR_NOMEM;
        for (size_t t = 0; st == VB_OK && t < pm->n_sv; t++) {
            pm->sv[t] = (size_t)(model->sv_indices[t] - 1);
            pm->coef[t] = model->sv_coef[0][t];
        }
        pm->rho = model->rho[0];
        if (model->nr_class == 2 && model->label[0] != 1) { /* never, but the sign would be */
            pm->rho = -pm->rho;
            for (size_t t = 0; t < pm->n_sv; t++)
                pm->coef[t] = -pm->coef[t];
        }
    }
    if (model)
        svm_free_and_destroy_model(&model);
    free(nd);
    problem_free(&pr);
    return st;
}

/* The k(k-1)/2 pairs of the classes present in rows[0..m) (all rows when
 * NULL), trained in parallel and assembled into the dense model of s, as
 * libsvm's multi-class training would: classes in order of first
 * appearance, support vectors grouped by class in training order. */
static vb_status train_pairs(svm_state *s, const vb_traindata *td, const kmat *km, const size_t *rows, size_t m,
                             vb_error *err)
{
    model_clear(s);
    int K = td->n_classes;
    int *order = vb_malloc((size_t)K, sizeof *order, err);   /* model index -> class */
    int *index = vb_malloc((size_t)K, sizeof *index, err);   /* class -> model index, or -1 */
    size_t *cnt = vb_calloc((size_t)K + 1, sizeof *cnt, err);
    size_t *at = vb_calloc((size_t)K + 1, sizeof *at, err);
    size_t *byc = vb_malloc(m ? m : 1, sizeof *byc, err);    /* training rows grouped by model class */
    vb_status st = order && index && cnt && at && byc ? VB_OK : VB_ERR_NOMEM;
    int k = 0;
    for (int c = 0; st == VB_OK && c < K; c++)
        index[c] = -1;
    for (size_t i = 0; st == VB_OK && i < m; i++) {
        int c = td->y[rows ? rows[i] : i];
        if (index[c] < 0) {
            index[c] = k;
            order[k++] = c;
        }
        cnt[index[c]]++;
    }
    if (st == VB_OK && k < 2)
        st = vb_fail(err, VB_ERR_DATA, "svm: the training rows hold one class");
    for (int c = 0; st == VB_OK && c < k; c++)
        at[c + 1] = at[c] + cnt[c];
    size_t *fill = st == VB_OK ? vb_calloc((size_t)k, sizeof *fill, err) : NULL;
    if (st == VB_OK && !fill)
        st = VB_ERR_NOMEM;
    for (size_t i = 0; st == VB_OK && i < m; i++) {
        int c = index[td->y[rows ? rows[i] : i]];
        size_t p = at[c] + fill[c]++;
        byc[p] = rows ? rows[i] : i;
    }
    free(fill);
    /* libsvm's per-class C: balanced weights over the whole training rows */
    double *wc = st == VB_OK ? vb_malloc((size_t)k, sizeof *wc, err) : NULL;
    if (st == VB_OK && !wc)
        st = VB_ERR_NOMEM;
    for (int c = 0; st == VB_OK && c < k; c++)
        wc[c] = s->balanced ? (double)m / ((double)k * (double)cnt[c]) : 1.0;
    size_t P = n_pairs(k);
    pair_model *pm = st == VB_OK ? vb_calloc(P ? P : 1, sizeof *pm, err) : NULL;
    if (st == VB_OK && !pm)
        st = VB_ERR_NOMEM;
    if (st == VB_OK) {
        int *pi = vb_malloc(P, sizeof *pi, err), *pj = vb_malloc(P, sizeof *pj, err);
        vb_status *pst = vb_calloc(P, sizeof *pst, err);
        vb_error *perr = vb_calloc(P, sizeof *perr, err);
        if (!pi || !pj || !pst || !perr)
            st = VB_ERR_NOMEM;
        for (int i = 0, p = 0; st == VB_OK && i < k; i++)
            for (int j = i + 1; j < k; j++, p++) {
                pi[p] = i;
                pj[p] = j;
            }
        if (st == VB_OK) {
            int saved = vb_blas_serial_enter();
#pragma omp parallel for schedule(dynamic, 1)
            for (size_t p = 0; p < P; p++) {
                int i = pi[p], j = pj[p];
                size_t mi = cnt[i], mp = cnt[i] + cnt[j];
                size_t *pr = malloc(mp * sizeof *pr);
                if (!pr) {
                    pst[p] = vb_fail(&perr[p], VB_ERR_NOMEM, "out of memory");
                    continue;
                }
                memcpy(pr, byc + at[i], mi * sizeof *pr);
                memcpy(pr + mi, byc + at[j], cnt[j] * sizeof *pr);
                pst[p] = train_pair(s, td, km, pr, mi, mp, wc[i], wc[j], &pm[p], &perr[p]);
                /* back to places among the pair's rows of classes i, j -> grouped rows */
                for (size_t t = 0; pst[p] == VB_OK && t < pm[p].n_sv; t++)
                    pm[p].sv[t] = pm[p].sv[t] < mi ? at[i] + pm[p].sv[t] : at[j] + (pm[p].sv[t] - mi);
                free(pr);
            }
            vb_blas_serial_leave(saved);
            for (size_t p = 0; p < P && st == VB_OK; p++)
                if (pst[p] != VB_OK) {
                    st = pst[p];
                    if (err)
                        *err = perr[p];
                }
        }
        free(pi);
        free(pj);
        free(pst);
        free(perr);
    }
    /* the support vectors: every grouped row that is one in some pair */
    size_t *svat = st == VB_OK ? vb_malloc(m ? m : 1, sizeof *svat, err) : NULL;
    if (st == VB_OK && !svat)
        st = VB_ERR_NOMEM;
    if (st == VB_OK) {
        for (size_t r = 0; r < m; r++)
            svat[r] = SIZE_MAX;
        for (size_t p = 0; p < P; p++)
            for (size_t t = 0; t < pm[p].n_sv; t++)
                svat[pm[p].sv[t]] = 0;
        s->k = k;
        s->d = td->d;
        s->label = vb_malloc((size_t)k, sizeof *s->label, err);
        s->nsv = vb_calloc((size_t)k, sizeof *s->nsv, err);
        s->rho = vb_malloc(P ? P : 1, sizeof *s->rho, err);
        if (!s->label || !s->nsv || !s->rho)
            st = VB_ERR_NOMEM;
    }
    if (st == VB_OK) {
        size_t l = 0;
        for (int c = 0; c < k; c++) {
            s->label[c] = order[c];
            for (size_t r = at[c]; r < at[c + 1]; r++)
                if (svat[r] == 0) {
                    svat[r] = l++;
                    s->nsv[c]++;
                }
        }
        s->l = l;
        s->sv = vb_malloc(l ? l : 1, td->d * sizeof *s->sv, err);
        s->w = vb_calloc(P ? P : 1, (l ? l : 1) * sizeof *s->w, err);
        s->sv_sq = vb_malloc(l ? l : 1, sizeof *s->sv_sq, err);
        if (!s->sv || !s->w || !s->sv_sq)
            st = VB_ERR_NOMEM;
        for (size_t r = 0; st == VB_OK && r < m; r++)
            if (svat[r] != SIZE_MAX)
                memcpy(s->sv + svat[r] * td->d, td->X + byc[r] * td->d, td->d * sizeof *s->sv);
        for (size_t p = 0; st == VB_OK && p < P; p++) {
            s->rho[p] = pm[p].rho;
            for (size_t t = 0; t < pm[p].n_sv; t++)
                s->w[p * l + svat[pm[p].sv[t]]] = (float)pm[p].coef[t];
        }
        if (st == VB_OK)
            sv_norms(s);
    }
    for (size_t p = 0; pm && p < P; p++) {
        free(pm[p].sv);
        free(pm[p].coef);
    }
    free(pm);
    free(wc);
    free(svat);
    free(order);
    free(index);
    free(cnt);
    free(at);
    free(byc);
    return st;
}

static void fill_param(const svm_state *s, struct svm_parameter *p, int *wl, double *wv, const vb_traindata *td,
                       const size_t *rows, size_t m)
{
    memset(p, 0, sizeof *p);
    p->svm_type = C_SVC;
    p->kernel_type = s->kernel == K_LINEAR ? LINEAR : s->kernel == K_POLY ? POLY : s->kernel == K_SIGMOID ? SIGMOID : RBF;
    p->degree = s->degree;
    p->gamma = s->gamma;
    p->coef0 = s->coef0;
    p->cache_size = s->cache_mb;
    p->eps = s->tol;
    p->C = s->C;
    p->shrinking = s->shrinking;
    p->probability = 0;
    if (s->balanced) {
        size_t *cnt = calloc((size_t)td->n_classes, sizeof *cnt);
        int present = 0;
        if (cnt) {
            for (size_t i = 0; i < m; i++)
                cnt[td->y[rows ? rows[i] : i]]++;
            for (int c = 0; c < td->n_classes; c++)
                present += cnt[c] > 0;
            int nw = 0;
            for (int c = 0; c < td->n_classes; c++)
                if (cnt[c]) {
                    wl[nw] = c;
                    wv[nw++] = (double)m / ((double)present * (double)cnt[c]);
                }
            p->nr_weight = nw;
            p->weight_label = wl;
            p->weight = wv;
            free(cnt);
        }
    }
}

/* Trains s on rows[0..m) of td (all when NULL): pair by pair on
 * precomputed kernels (km), or by libsvm on sparse rows (km NULL:
 * precompute_mb 0). */
static vb_status train_one(svm_state *s, const vb_traindata *td, const kmat *km, const size_t *rows, size_t m,
                           vb_error *err)
{
    if (km)
        return train_pairs(s, td, km, rows, m, err);
    problem pr;
    vb_status st = build_problem(td->X, td->y, td->d, rows, m, &pr, err);
    if (st != VB_OK)
        return st;
    int *wl = vb_calloc((size_t)td->n_classes, sizeof *wl, err);
    double *wv = vb_calloc((size_t)td->n_classes, sizeof *wv, err);
    if (!wl || !wv) {
        free(wl);
        free(wv);
        problem_free(&pr);
        return VB_ERR_NOMEM;
    }
    struct svm_parameter param;
    fill_param(s, &param, wl, wv, td, rows, m);
    /* m^2 floats hold every kernel column: a larger cache is never filled */
    double all = (double)m * (double)m * 4.0 / 1048576.0 + 1;
    param.cache_size = param.cache_size < all ? param.cache_size : all;
    const char *bad = svm_check_parameter(&pr.prob, &param);
    if (bad) {
        st = vb_fail(err, VB_ERR_PARAM, "svm: %s", bad);
    } else {
        struct svm_model *model = svm_train(&pr.prob, &param);
        if (!model)
            st = vb_fail(err, VB_ERR_NOMEM, "svm: libsvm could not train (out of memory?)");
        else {
            st = take_model(s, model, td->d, NULL, rows, err);
            svm_free_and_destroy_model(&model);
        }
    }
    free(wl);
    free(wv);
    problem_free(&pr);
    return st;
}

/* The model index of dataset class c, or -1. */
static int model_index(const svm_state *s, int c)
{
    for (int i = 0; i < s->k; i++)
        if (s->label[i] == c)
            return i;
    return -1;
}

/* Decision value of the pair (dataset classes a, b), oriented so that
 * positive favours a, from one row of decision values of model s. */
static int pair_value(const svm_state *s, const double *dec_row, int a, int b, double *v)
{
    int i = model_index(s, a), j = model_index(s, b);
    if (i < 0 || j < 0)
        return 0;
    int lo = i < j ? i : j, hi = i < j ? j : i;
    size_t p = (size_t)lo * (size_t)(2 * s->k - lo - 1) / 2 + (size_t)(hi - lo - 1);
    *v = i < j ? dec_row[p] : -dec_row[p];
    return 1;
}

/* Platt calibration: 5 seeded stratified folds; each fold model gives
 * decision values for its held-out rows; one sigmoid per pair. */
static vb_status calibrate(svm_state *s, const vb_traindata *td, const kmat *g, vb_error *err)
{
    const int folds = 5;
    size_t n = td->n, P = n_pairs(s->k);
    int *fold = vb_malloc(n, sizeof *fold, err);
    double *cvdec = vb_calloc(n, (P ? P : 1) * sizeof *cvdec, err);
    int *cvok = vb_calloc(n, (P ? P : 1) * sizeof *cvok, err);
    vb_status st = fold && cvdec && cvok ? VB_OK : vb_fail(err, VB_ERR_NOMEM, "out of memory");
    /* folds of images: an augmented copy (rows n_orig..n) goes with its image */
    size_t n0 = td->n_orig ? td->n_orig : n;
    if (st == VB_OK)
        st = vb_stratified_folds(td->y, n0, td->n_classes, folds, vb_seed_derive(td->seed, "svm-platt", 0), fold, err);
    for (size_t i = n0; st == VB_OK && i < n; i++)
        fold[i] = fold[i % n0];
    vb_error ferr[5];
    vb_status fst[5] = {VB_OK, VB_OK, VB_OK, VB_OK, VB_OK};
    if (st == VB_OK) {
#pragma omp parallel for schedule(dynamic, 1)
        for (int f = 0; f < folds; f++) {
            size_t *tr = malloc(n * sizeof *tr), *te = malloc(n * sizeof *te);
            float *Xte = NULL;
            double *dec = NULL;
            size_t ntr = 0, nte = 0;
            svm_state sub = *s;
            sub.label = NULL, sub.nsv = NULL, sub.sv = NULL, sub.sv_sq = NULL, sub.w = NULL, sub.rho = NULL;
            sub.probA = sub.probB = NULL;
            memset(&ferr[f], 0, sizeof ferr[f]);
            if (!tr || !te) {
                fst[f] = vb_fail(&ferr[f], VB_ERR_NOMEM, "out of memory");
                goto next;
            }
            for (size_t i = 0; i < n; i++)
                *(fold[i] == f ? &te[nte++] : &tr[ntr++]) = i;
            if ((fst[f] = train_one(&sub, td, g, tr, ntr, &ferr[f])) != VB_OK)
                goto next;
            Xte = malloc(nte * td->d * sizeof *Xte);
            dec = malloc(nte * (n_pairs(sub.k) ? n_pairs(sub.k) : 1) * sizeof *dec);
            if (!Xte || !dec) {
                fst[f] = vb_fail(&ferr[f], VB_ERR_NOMEM, "out of memory");
                goto next;
            }
            for (size_t t = 0; t < nte; t++)
                memcpy(Xte + t * td->d, td->X + te[t] * td->d, td->d * sizeof *Xte);
            if ((fst[f] = decision_values(&sub, Xte, nte, dec, &ferr[f])) != VB_OK)
                goto next;
            for (size_t t = 0; t < nte; t++) {
                size_t i = te[t];
                size_t p = 0;
                for (int a = 0; a < s->k; a++)
                    for (int b = a + 1; b < s->k; b++, p++) {
                        double v;
                        if (pair_value(&sub, dec + t * n_pairs(sub.k), s->label[a], s->label[b], &v)) {
                            cvdec[i * P + p] = v;
                            cvok[i * P + p] = 1;
                        }
                    }
            }
        next:
            model_clear(&sub);
            free(tr);
            free(te);
            free(Xte);
            free(dec);
        }
        for (int f = 0; f < folds && st == VB_OK; f++)
            if (fst[f] != VB_OK) {
                if (err)
                    *err = ferr[f];
                st = fst[f];
            }
    }
    double *fv = st == VB_OK ? vb_malloc(n, sizeof *fv, err) : NULL;
    int *pos = st == VB_OK ? vb_malloc(n, sizeof *pos, err) : NULL;
    s->probA = st == VB_OK ? vb_calloc(P ? P : 1, sizeof *s->probA, err) : NULL;
    s->probB = st == VB_OK ? vb_calloc(P ? P : 1, sizeof *s->probB, err) : NULL;
    if (st == VB_OK && (!fv || !pos || !s->probA || !s->probB))
        st = VB_ERR_NOMEM;
    size_t p = 0;
    for (int a = 0; st == VB_OK && a < s->k; a++)
        for (int b = a + 1; b < s->k; b++, p++) {
            size_t m = 0;
            for (size_t i = 0; i < n; i++)
                if ((td->y[i] == s->label[a] || td->y[i] == s->label[b]) && cvok[i * P + p]) {
                    fv[m] = cvdec[i * P + p];
                    pos[m++] = td->y[i] == s->label[a];
                }
            fit_sigmoid(fv, pos, m, &s->probA[p], &s->probB[p]);
        }
    free(fv);
    free(pos);
    free(fold);
    free(cvdec);
    free(cvok);
    return st;
}

static vb_status clf_train(void *state, const vb_traindata *td, vb_error *err)
{
    svm_state *s = state;
    s->n_classes = td->n_classes;
    if (s->gamma_word && strcmp(s->gamma_word, "auto") == 0)
        s->gamma = 1.0 / (double)td->d;
    else if (s->gamma_word) { /* scale: 1 / (d var(X)) over every entry */
        double sum = 0, sq = 0, cnt = (double)td->n * (double)td->d;
        for (size_t i = 0; i < td->n * td->d; i++)
            sum += td->X[i];
        double mean = sum / cnt;
        for (size_t i = 0; i < td->n * td->d; i++)
            sq += (td->X[i] - mean) * (td->X[i] - mean);
        double var = sq / cnt;
        s->gamma = var > 0 ? 1.0 / ((double)td->d * var) : 1.0;
    } else
        s->gamma = s->gamma_param;
    kmat km = {0};
    vb_status st = VB_OK;
    if (s->precompute_mb > 0)
        st = kmat_build(s, td->X, td->n, td->d, &km, err);
    if (st == VB_OK && s->precompute_mb > 0)
        vb_log(VB_LOG_DEBUG, "svm: %s", km.K ? "kernels from the training rows' kernel matrix"
                                              : "kernels by a product per class pair (the matrix is over precompute_mb / 2)");
    if (st == VB_OK)
        st = train_one(s, td, s->precompute_mb > 0 ? &km : NULL, NULL, td->n, err);
    if (st == VB_OK && s->probability)
        st = calibrate(s, td, s->precompute_mb > 0 ? &km : NULL, err);
    kmat_free(&km);
    return st;
}

/* ---- prediction -------------------------------------------------------- */

static vb_status clf_predict(const void *state, const float *X, size_t n, int *labels, float *scores, vb_error *err)
{
    const svm_state *s = state;
    size_t P = n_pairs(s->k);
    int K = s->n_classes, k = s->k;
    double *dec = vb_malloc(n, (P ? P : 1) * sizeof *dec, err);
    if (!dec)
        return VB_ERR_NOMEM;
    vb_status st = decision_values(s, X, n, dec, err);
    if (st != VB_OK) {
        free(dec);
        return st;
    }
    int fail = 0;
#pragma omp parallel
    {
        double *r = malloc((size_t)k * (size_t)k * sizeof *r), *pr = malloc((size_t)k * sizeof *pr);
        double *Q = malloc((size_t)k * (size_t)k * sizeof *Q), *Qp = malloc((size_t)k * sizeof *Qp);
        double *vote = malloc((size_t)k * sizeof *vote), *conf = malloc((size_t)k * sizeof *conf);
        if (!r || !pr || !Q || !Qp || !vote || !conf) {
#pragma omp atomic write
            fail = 1;
        } else {
#pragma omp for schedule(static)
            for (size_t i = 0; i < n; i++) {
                const double *dv = dec + i * P;
                int best = 0;
                if (s->probA) {
                    size_t p = 0;
                    for (int a = 0; a < k; a++)
                        for (int b = a + 1; b < k; b++, p++) {
                            double v = sigmoid(dv[p], s->probA[p], s->probB[p]);
                            v = fmin(fmax(v, 1e-7), 1 - 1e-7);
                            r[a * k + b] = v;
                            r[b * k + a] = 1 - v;
                        }
                    if (k == 2) {
                        pr[0] = r[1];
                        pr[1] = r[k];
                    } else
                        couple(k, r, pr, Q, Qp);
                    for (int a = 1; a < k; a++)
                        if (pr[a] > pr[best])
                            best = a;
                    if (scores) {
                        for (int c = 0; c < K; c++)
                            scores[i * (size_t)K + (size_t)c] = 0;
                        for (int a = 0; a < k; a++)
                            scores[i * (size_t)K + (size_t)s->label[a]] = (float)pr[a];
                    }
                } else {
                    for (int a = 0; a < k; a++)
                        vote[a] = conf[a] = 0;
                    size_t p = 0;
                    for (int a = 0; a < k; a++)
                        for (int b = a + 1; b < k; b++, p++) {
                            if (dv[p] > 0)
                                vote[a]++;
                            else
                                vote[b]++;
                            conf[a] += dv[p];
                            conf[b] -= dv[p];
                        }
                    for (int a = 1; a < k; a++)
                        if (vote[a] > vote[best])
                            best = a;
                    if (scores) {
                        /* Votes plus a bounded confidence (scikit-learn's
                         * ovr transform): ranks classes, ties broken by margin. */
                        for (int c = 0; c < K; c++)
                            scores[i * (size_t)K + (size_t)c] = -1;
                        for (int a = 0; a < k; a++)
                            scores[i * (size_t)K + (size_t)s->label[a]] =
                                (float)(vote[a] + conf[a] / (3 * (fabs(conf[a]) + 1)));
                    }
                }
                labels[i] = s->label[best];
            }
        }
        free(r);
        free(pr);
        free(Q);
        free(Qp);
        free(vote);
        free(conf);
    }
    free(dec);
    if (fail)
        return vb_fail(err, VB_ERR_NOMEM, "out of memory");
    return VB_OK;
}

/* ---- save / load ------------------------------------------------------- */

static vb_status svm_save(const void *state, vb_writer *w, vb_error *err)
{
    const svm_state *s = state;
    size_t P = n_pairs(s->k);
    vb_write_u64(w, s->d);
    vb_write_u32(w, (uint32_t)s->n_classes);
    vb_write_u32(w, (uint32_t)s->k);
    vb_write_u64(w, s->l);
    vb_write_f64(w, s->gamma);
    vb_write_i32s(w, s->label, (size_t)s->k);
    vb_write_i32s(w, s->nsv, (size_t)s->k);
    vb_write_f32s(w, s->sv, s->l * s->d);
    vb_write_f32s(w, s->w, P * s->l);
    vb_write_f64s(w, s->rho, P);
    vb_write_u8(w, s->probA != NULL);
    if (s->probA) {
        vb_write_f64s(w, s->probA, P);
        vb_write_f64s(w, s->probB, P);
    }
    return VB_OK;
}

static vb_status svm_load(void *state, vb_reader *r, vb_error *err)
{
    svm_state *s = state;
    model_clear(s);
    uint64_t d, l;
    uint32_t K, k;
    uint8_t has_prob;
    vb_status st;
    if ((st = vb_read_u64(r, &d, err)) != VB_OK || (st = vb_read_u32_range(r, &K, 2, 1u << 20, "classes", err)) ||
        (st = vb_read_u32_range(r, &k, 2, K, "model classes", err)) || (st = vb_read_u64(r, &l, err)) ||
        (st = vb_read_f64(r, &s->gamma, err)))
        return st;
    /* Sizes must fit in what is left of the input before anything is allocated. */
    size_t left = vb_reader_left(r), sz;
    if (d == 0 || l == 0 || d > left || l > left || !vb_mul_ok((size_t)l, (size_t)d, &sz) || sz > left / 4)
        return vb_fail(err, VB_ERR_FORMAT, "%s: corrupt svm sizes (%llu SVs x %llu features)", r->what,
                       (unsigned long long)l, (unsigned long long)d);
    /* So must the class tables (2 x k int32), the pair coefficients (P x l
     * floats) and the pair offsets (P doubles). */
    size_t P = n_pairs((int)k), pl;
    if ((size_t)k > left / 8 || P > left / 8 || !vb_mul_ok(P, (size_t)l, &pl) || pl > left / 4)
        return vb_fail(err, VB_ERR_FORMAT, "%s: corrupt svm sizes (%u classes, %llu SVs)", r->what, k,
                       (unsigned long long)l);
    s->d = (size_t)d;
    s->n_classes = (int)K;
    s->k = (int)k;
    s->l = (size_t)l;
    s->label = vb_calloc(k, sizeof *s->label, err);
    s->nsv = vb_calloc(k, sizeof *s->nsv, err);
    s->sv = vb_malloc(s->l, s->d * sizeof *s->sv, err);
    s->w = vb_malloc(P, s->l * sizeof *s->w, err);
    s->rho = vb_calloc(P, sizeof *s->rho, err);
    s->sv_sq = vb_calloc(s->l, sizeof *s->sv_sq, err);
    if (!s->label || !s->nsv || !s->sv || !s->w || !s->rho || !s->sv_sq)
        return VB_ERR_NOMEM;
    if ((st = vb_read_i32s_into(r, s->label, k, err)) || (st = vb_read_i32s_into(r, s->nsv, k, err)) ||
        (st = vb_read_f32s_into(r, s->sv, s->l * s->d, err)) || (st = vb_read_f32s_into(r, s->w, P * s->l, err)) ||
        (st = vb_read_f64s_into(r, s->rho, P, err)) || (st = vb_read_u8(r, &has_prob, err)))
        return st;
    size_t total = 0;
    for (uint32_t i = 0; i < k; i++) {
        if (s->label[i] < 0 || s->label[i] >= (int)K || s->nsv[i] < 0)
            return vb_fail(err, VB_ERR_FORMAT, "%s: corrupt svm class table", r->what);
        total += (size_t)s->nsv[i];
    }
    if (total != s->l)
        return vb_fail(err, VB_ERR_FORMAT, "%s: corrupt svm model (SV counts do not add up)", r->what);
    if (has_prob) {
        s->probA = vb_calloc(P, sizeof *s->probA, err);
        s->probB = vb_calloc(P, sizeof *s->probB, err);
        if (!s->probA || !s->probB)
            return VB_ERR_NOMEM;
        if ((st = vb_read_f64s_into(r, s->probA, P, err)) || (st = vb_read_f64s_into(r, s->probB, P, err)))
            return st;
    }
    for (size_t t = 0; t < s->l; t++) {
        double q = 0;
        for (size_t j = 0; j < s->d; j++)
            q += (double)s->sv[t * s->d + j] * s->sv[t * s->d + j];
        s->sv_sq[t] = (float)q;
    }
    return VB_OK;
}

static void svm_dims(const void *state, size_t *d, int *n_classes)
{
    const svm_state *s = state;
    *d = s->d;
    *n_classes = s->n_classes;
}

static void svm_info(const void *state, vb_buf *b)
{
    const svm_state *s = state;
    vb_buf_printf(b, "\"n_sv\": %zu, \"gamma\": ", s->l);
    vb_buf_double(b, s->gamma);
}

const vb_classifier_vt vb_clf_svm = {
    .info = {.name = "svm",
             .help = "kernel SVM (libsvm C-SVC, one-vs-one), batched GEMM prediction, seeded Platt probabilities",
             .params = svm_params,
             .n_params = sizeof svm_params / sizeof svm_params[0]},
    .flags = VB_CLF_PROBA,
    .proba_if = {"probability", "true"},
    .create = svm_create,
    .train = clf_train,
    .predict = clf_predict,
    .save = svm_save,
    .load = svm_load,
    .info_json = svm_info,
    .destroy = svm_destroy,
    .dims = svm_dims,
};
