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
    {.name = "cache_mb", .type = VB_PT_FLOAT, .def = "1000", .min = 1, .max = 1e6, .help = "kernel cache (MB)"},
    {.name = "shrinking", .type = VB_PT_BOOL, .def = "true", .help = "libsvm's shrinking heuristic"},
    {.name = "precompute_mb", .type = VB_PT_FLOAT, .def = "4096", .min = 0, .max = 1e7,
     .help = "compute the whole kernel matrix with BLAS when it fits in this many MB (n^2 x 16 bytes); "
             "much faster training; 0 = never"},
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
    for (size_t t = 0; t < l; t++) {
        double q = 0;
        for (size_t j = 0; j < s->d; j++)
            q += (double)s->sv[t * s->d + j] * s->sv[t * s->d + j];
        s->sv_sq[t] = (float)q;
    }
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

/* The whole kernel matrix of the n training rows in libsvm's precomputed
 * form: row i is {0: i+1}, {1: K(i,0)}, ..., {n: K(i,n-1)}, {-1}. One GEMM
 * (in double, as libsvm computes kernels) replaces n^2 sparse dot products. */
typedef struct gram {
    struct svm_node *nodes;
    size_t n;
} gram;

static int gram_fits(const svm_state *s, size_t n)
{
    size_t cells;
    return s->precompute_mb > 0 && vb_mul_ok(n, n + 2, &cells) && cells <= (size_t)(s->precompute_mb * 1048576.0 / 16.0);
}

static vb_status gram_build(const svm_state *s, const float *X, size_t n, size_t d, gram *g, vb_error *err)
{
    g->n = n;
    g->nodes = vb_malloc(n, (n + 2) * sizeof *g->nodes, err);
    double *Xd = vb_malloc(n, d * sizeof *Xd, err), *sq = vb_malloc(n, sizeof *sq, err);
    const size_t B = 1024;
    double *G = vb_malloc(B, n * sizeof *G, err);
    if (!g->nodes || !Xd || !sq || !G) {
        free(g->nodes);
        g->nodes = NULL;
        free(Xd);
        free(sq);
        free(G);
        return VB_ERR_NOMEM;
    }
    for (size_t i = 0; i < n * d; i++)
        Xd[i] = X[i];
    for (size_t i = 0; i < n; i++) {
        double q = 0;
        for (size_t j = 0; j < d; j++)
            q += Xd[i * d + j] * Xd[i * d + j];
        sq[i] = q;
    }
    for (size_t r0 = 0; r0 < n; r0 += B) {
        size_t m = n - r0 < B ? n - r0 : B;
        vb_dgemm(0, 1, m, n, d, 1.0, Xd + r0 * d, d, Xd, d, 0.0, G, n);
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < m; i++) {
            struct svm_node *row = g->nodes + (r0 + i) * (n + 2);
            const double *gr = G + i * n;
            row[0].index = 0;
            row[0].value = (double)(r0 + i + 1);
            for (size_t j = 0; j < n; j++) {
                double v = gr[j];
                switch (s->kernel) {
                case K_RBF: v = exp(-s->gamma * fmax(sq[r0 + i] + sq[j] - 2 * v, 0.0)); break;
                case K_POLY: v = pow(s->gamma * v + s->coef0, s->degree); break;
                case K_SIGMOID: v = tanh(s->gamma * v + s->coef0); break;
                default: break;
                }
                row[j + 1].index = (int)j + 1;
                row[j + 1].value = v;
            }
            row[n + 1].index = -1;
            row[n + 1].value = 0;
        }
    }
    free(Xd);
    free(sq);
    free(G);
    return VB_OK;
}

/* A problem over rows[0..m) of a Gram matrix (no copies: rows point into it). */
static vb_status gram_problem(const gram *g, const int *y, const size_t *rows, size_t m, problem *pr, vb_error *err)
{
    memset(pr, 0, sizeof *pr);
    pr->prob.l = (int)m;
    pr->prob.y = vb_malloc(m, sizeof *pr->prob.y, err);
    pr->prob.x = vb_malloc(m, sizeof *pr->prob.x, err);
    if (!pr->prob.y || !pr->prob.x) {
        problem_free(pr);
        return VB_ERR_NOMEM;
    }
    for (size_t i = 0; i < m; i++) {
        size_t r = rows ? rows[i] : i;
        pr->prob.x[i] = g->nodes + r * (g->n + 2);
        pr->prob.y[i] = y[r];
    }
    return VB_OK;
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

static vb_status train_one(svm_state *s, const vb_traindata *td, const gram *g, const size_t *rows, size_t m,
                           vb_error *err)
{
    problem pr;
    vb_status st = g ? gram_problem(g, td->y, rows, m, &pr, err) : build_problem(td->X, td->y, td->d, rows, m, &pr, err);
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
    if (g)
        param.kernel_type = PRECOMPUTED;
    const char *bad = svm_check_parameter(&pr.prob, &param);
    if (bad) {
        st = vb_fail(err, VB_ERR_PARAM, "svm: %s", bad);
    } else {
        struct svm_model *model = svm_train(&pr.prob, &param);
        if (!model)
            st = vb_fail(err, VB_ERR_NOMEM, "svm: libsvm could not train (out of memory?)");
        else {
            st = take_model(s, model, td->d, g ? td->X : NULL, rows, err);
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
static vb_status calibrate(svm_state *s, const vb_traindata *td, const gram *g, vb_error *err)
{
    const int folds = 5;
    size_t n = td->n, P = n_pairs(s->k);
    int *fold = vb_malloc(n, sizeof *fold, err);
    double *cvdec = vb_calloc(n, (P ? P : 1) * sizeof *cvdec, err);
    int *cvok = vb_calloc(n, (P ? P : 1) * sizeof *cvok, err);
    vb_status st = fold && cvdec && cvok ? VB_OK : vb_fail(err, VB_ERR_NOMEM, "out of memory");
    if (st == VB_OK)
        st = vb_stratified_folds(td->y, n, td->n_classes, folds, vb_seed_derive(td->seed, "svm-platt", 0), fold, err);
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
    gram g = {0};
    vb_status st = VB_OK;
    if (gram_fits(s, td->n))
        st = gram_build(s, td->X, td->n, td->d, &g, err);
    if (st == VB_OK)
        st = train_one(s, td, g.nodes ? &g : NULL, NULL, td->n, err);
    if (st == VB_OK && s->probability)
        st = calibrate(s, td, g.nodes ? &g : NULL, err);
    free(g.nodes);
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
