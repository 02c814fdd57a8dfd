/* logreg: multinomial logistic regression solved by L-BFGS.
 *
 * Minimises, over W (K x d) and intercepts b (K, not penalised),
 *   f = (1/n) [ sum_i -log softmax(W x_i + b)_{y_i} + ||W||^2 / (2C)
 *               + l1 sum_j sqrt(w_j^2 + eps^2) ]
 * i.e. scikit-learn's C convention (the penalty is on the summed loss). L1
 * is optional and smoothed (eps = 1e-4): the solver stays L-BFGS, weights
 * become small but not exactly zero.
 *
 * The loss and gradient take one pass over X per evaluation, four rows at
 * a time: z = W x, the softmax residuals r, then G += r x^T (float over 64
 * rows, then double); rows are cut into slices fixed by n (not by the
 * thread count) whose sums are added in order, so the model does not
 * depend on the thread count. (Two SGEMMs with 10 columns ran OpenBLAS at a
 * fifth of its peak and read X twice.)
 *
 * Our own L-BFGS (two-loop recursion, m pairs, backtracking Armijo line
 * search) rather than GSL's vector_bfgs2, whose memoryless update converges
 * far slower on thousands of weights. It stops when the largest gradient
 * component is below tol (scikit-learn's gtol, here on the mean loss), when
 * the objective stops decreasing (relative decrease <= 2.2e-9, scipy's
 * default factr), or at max_iter (with a warning).
 * Features are not standardised here: that is the postprocess step's job. */
#include "internal.h"
#include "../core/linalg.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const vb_param_def logreg_params[] = {
    {.name = "C", .type = VB_PT_FLOAT, .def = "1", .min = 0, .max = 1e12, .flags = VB_PF_GRID | VB_PF_MIN_OPEN,
     .help = "inverse L2 strength (penalty ||W||^2 / 2C on the summed loss)"},
    {.name = "l1", .type = VB_PT_FLOAT, .def = "0", .min = 0, .max = 1e12, .flags = VB_PF_GRID,
     .help = "L1 strength (smoothed |w|, on the summed loss); 0 = none"},
    {.name = "max_iter", .type = VB_PT_INT, .def = "100", .min = 1, .max = 1e7, .help = "L-BFGS iterations"},
    {.name = "tol", .type = VB_PT_FLOAT, .def = "0.0001", .min = 0, .max = 1, .flags = VB_PF_MIN_OPEN,
     .help = "stop when the largest gradient component is below this"},
    {.name = "memory", .type = VB_PT_INT, .def = "10", .min = 1, .max = 1000,
     .help = "L-BFGS correction pairs"},
    {.name = "intercept", .type = VB_PT_BOOL, .def = "true", .help = "fit a bias per class"},
};

#define L1_EPS 1e-4
/* scipy's L-BFGS-B (scikit-learn's lbfgs) also stops when the relative
 * decrease of f is at most factr x machine epsilon, factr = 1e7 */
#define FTOL (1e7 * 2.220446049250313e-16)

typedef struct logreg_state {
    double C, l1, tol;
    int max_iter, memory, intercept;
    /* trained */
    size_t d;
    int K;
    float *W; /* K x d */
    float *b; /* K */
    /* convergence report */
    int iterations, evaluations, converged;
    double grad_norm, objective;
    const char *reason;
} logreg_state;

static void logreg_destroy(void *state)
{
    logreg_state *s = state;
    if (!s)
        return;
    free(s->W);
    free(s->b);
    free(s);
}

static vb_status logreg_create(const vb_params *p, void **state, vb_error *err)
{
    logreg_state *s = vb_calloc(1, sizeof *s, err);
    if (!s)
        return VB_ERR_NOMEM;
    s->C = vb_param_float(p, "C");
    s->l1 = vb_param_float(p, "l1");
    s->tol = vb_param_float(p, "tol");
    s->max_iter = (int)vb_param_int(p, "max_iter");
    s->memory = (int)vb_param_int(p, "memory");
    s->intercept = vb_param_bool(p, "intercept");
    s->reason = "not trained";
    *state = s;
    return VB_OK;
}

/* ---- objective --------------------------------------------------------- */

typedef struct problem {
    const float *X;
    const int *y;
    size_t n, d;
    int K, intercept;
    double C, l1;
    /* work */
    float *Wf;    /* K x d */
    size_t S;     /* row slices (fixed by n and K d, never by the thread count) */
    double *part; /* S x (K d + 2 K + 1): gradient sums of W, of b, the loss; K scratch */
    float *fpart; /* S x (K d + 4 K): a float gradient buffer and the 4-row residuals */
} problem;

#define SLICE_MIN_ROWS 256
#define SLICE_MAX 64
#define SLICE_BYTES ((size_t)128 << 20)
#define FLUSH_ROWS 64

static void problem_free(problem *pb)
{
    free(pb->Wf);
    free(pb->part);
    free(pb->fpart);
}

/* The work buffers of pb (n, d, K set); 0 on no memory. */
static int problem_alloc(problem *pb)
{
    size_t Kd = (size_t)pb->K * pb->d, per = (Kd + 2 * (size_t)pb->K + 1) * sizeof(double) + (Kd + 4 * (size_t)pb->K) * sizeof(float);
    size_t S = (pb->n + SLICE_MIN_ROWS - 1) / SLICE_MIN_ROWS, cap = SLICE_BYTES / per;
    S = S < SLICE_MAX ? S : SLICE_MAX;
    S = S < cap ? S : cap;
    pb->S = S ? S : 1;
    pb->Wf = malloc(Kd * sizeof *pb->Wf);
    pb->part = malloc(pb->S * (Kd + 2 * (size_t)pb->K + 1) * sizeof *pb->part);
    pb->fpart = malloc(pb->S * (Kd + 4 * (size_t)pb->K) * sizeof *pb->fpart);
    return pb->Wf && pb->part && pb->fpart;
}

/* Adds the float gradient buffer into the double one and clears it. */
static void flush(float *gf, double *gd, size_t m)
{
#pragma omp simd
    for (size_t j = 0; j < m; j++) {
        gd[j] += gf[j];
        gf[j] = 0;
    }
}

/* One slice of rows [r0, r1): its loss, and its gradient sums
 * G = sum_i (p_i - y_i) x_i^T and gb = sum_i (p_i - y_i) into part. One pass
 * over the rows, four at a time: z = W x (each row of W loaded once for the
 * four), the softmax residuals, then G += residuals x rows. G collects in
 * float over FLUSH_ROWS rows, then in double. */
static void slice_objective(const problem *pb, const double *b, size_t r0, size_t r1, double *part, float *fpart)
{
    size_t d = pb->d, K = (size_t)pb->K, Kd = K * d;
    double *Gd = part, *gb = part + Kd, *loss = gb + K, *ev = loss + 1;
    float *Gf = fpart, *res = fpart + Kd;
    memset(part, 0, (Kd + K + 1) * sizeof *part); /* (ev: scratch after them) */
    memset(Gf, 0, Kd * sizeof *Gf);
    size_t since = 0;
    for (size_t i = r0; i < r1; i += 4) {
        int nr = r1 - i < 4 ? (int)(r1 - i) : 4;
        const float *x0 = pb->X + i * d, *x1 = nr > 1 ? x0 + d : x0, *x2 = nr > 2 ? x0 + 2 * d : x0,
                    *x3 = nr > 3 ? x0 + 3 * d : x0;
        for (size_t c = 0; c < K; c++) {
            const float *w = pb->Wf + c * d;
            float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
#pragma omp simd reduction(+ : s0, s1, s2, s3)
            for (size_t j = 0; j < d; j++) {
                s0 += w[j] * x0[j];
                s1 += w[j] * x1[j];
                s2 += w[j] * x2[j];
                s3 += w[j] * x3[j];
            }
            res[c] = s0;
            res[K + c] = s1;
            res[2 * K + c] = s2;
            res[3 * K + c] = s3;
        }
        for (int r = 0; r < 4; r++) {
            float *z = res + (size_t)r * K;
            if (r >= nr) {
                for (size_t c = 0; c < K; c++)
                    z[c] = 0;
                continue;
            }
            double zmax = -INFINITY, sum = 0;
            for (size_t c = 0; c < K; c++) {
                ev[c] = (double)z[c] + (pb->intercept ? b[c] : 0.0);
                zmax = fmax(zmax, ev[c]);
            }
            for (size_t c = 0; c < K; c++)
                sum += (ev[c] = exp(ev[c] - zmax));
            int yi = pb->y[i + (size_t)r];
            *loss += zmax + log(sum) - ((double)z[yi] + (pb->intercept ? b[yi] : 0.0));
            for (size_t c = 0; c < K; c++) {
                double rc = ev[c] / sum - (c == (size_t)yi);
                gb[c] += rc;
                z[c] = (float)rc;
            }
        }
        for (size_t c = 0; c < K; c++) {
            float *g = Gf + c * d, q0 = res[c], q1 = res[K + c], q2 = res[2 * K + c], q3 = res[3 * K + c];
#pragma omp simd
            for (size_t j = 0; j < d; j++)
                g[j] += q0 * x0[j] + q1 * x1[j] + q2 * x2[j] + q3 * x3[j];
        }
        if ((since += 4) >= FLUSH_ROWS) {
            flush(Gf, Gd, Kd);
            since = 0;
        }
    }
    flush(Gf, Gd, Kd);
}

/* f(theta) and its gradient; theta = [W (K x d), b (K)]. */
static double objective(problem *pb, const double *theta, double *grad)
{
    size_t n = pb->n, d = pb->d, K = (size_t)pb->K, Kd = K * d, S = pb->S, stride = Kd + 2 * K + 1;
    for (size_t j = 0; j < Kd; j++)
        pb->Wf[j] = (float)theta[j];
    const double *b = theta + Kd;
#pragma omp parallel for schedule(dynamic)
    for (size_t sl = 0; sl < S; sl++)
        slice_objective(pb, b, sl * n / S, (sl + 1) * n / S, pb->part + sl * stride,
                        pb->fpart + sl * (Kd + 4 * K));
    /* the slices in order into slice 0 */
    double *G = pb->part;
    for (size_t sl = 1; sl < S; sl++)
        for (size_t t = 0; t < Kd + K + 1; t++)
            G[t] += pb->part[sl * stride + t];
    double loss = G[Kd + K];
    double inv_n = 1.0 / (double)n, reg = 0;
    for (size_t j = 0; j < Kd; j++) {
        double w = theta[j], gj = G[j] + w / pb->C;
        reg += w * w / (2 * pb->C);
        if (pb->l1 > 0) {
            double r = sqrt(w * w + L1_EPS * L1_EPS);
            reg += pb->l1 * (r - L1_EPS);
            gj += pb->l1 * w / r;
        }
        grad[j] = gj * inv_n;
    }
    for (size_t c = 0; c < K; c++)
        grad[Kd + c] = pb->intercept ? G[Kd + c] * inv_n : 0.0;
    return (loss + reg) * inv_n;
}

double vb_logreg_objective(const float *X, const int *y, size_t n, size_t d, int K, double C, double l1,
                           int intercept, const double *theta, double *grad)
{
    problem pb = {.X = X, .y = y, .n = n, .d = d, .K = K, .intercept = intercept, .C = C, .l1 = l1};
    double f = NAN;
    if (problem_alloc(&pb))
        f = objective(&pb, theta, grad);
    problem_free(&pb);
    return f;
}

/* ---- L-BFGS ------------------------------------------------------------ */

static double dot(const double *a, const double *b, size_t m)
{
    double s = 0;
    for (size_t i = 0; i < m; i++)
        s += a[i] * b[i];
    return s;
}

static double inf_norm(const double *a, size_t m)
{
    double v = 0;
    for (size_t i = 0; i < m; i++)
        v = fmax(v, fabs(a[i]));
    return v;
}

static vb_status lbfgs(logreg_state *s, problem *pb, double *x, size_t m, vb_error *err)
{
    int M = s->memory;
    double *g = vb_malloc(m, sizeof *g, err), *dir = vb_malloc(m, sizeof *dir, err);
    double *xn = vb_malloc(m, sizeof *xn, err), *gn = vb_malloc(m, sizeof *gn, err);
    double *S = vb_malloc((size_t)M, m * sizeof *S, err), *Y = vb_malloc((size_t)M, m * sizeof *Y, err);
    double *rho = vb_malloc((size_t)M, sizeof *rho, err), *alpha = vb_malloc((size_t)M, sizeof *alpha, err);
    vb_status st = VB_OK;
    if (!g || !dir || !xn || !gn || !S || !Y || !rho || !alpha) {
        st = VB_ERR_NOMEM;
        goto out;
    }
    double f = objective(pb, x, g);
    s->evaluations = 1;
    s->iterations = 0;
    s->converged = 0;
    s->reason = "max_iter reached";
    int used = 0, head = 0; /* pairs stored, next slot */
    if (!isfinite(f)) {
        st = vb_fail(err, VB_ERR_NUMERIC, "logreg: the loss is not finite at the start");
        goto out;
    }
    while (1) {
        double gnorm = inf_norm(g, m);
        if (gnorm <= s->tol) {
            s->converged = 1;
            s->reason = "gradient below tol";
            break;
        }
        if (s->iterations >= s->max_iter)
            break;
        if (vb_interrupted()) {
            st = vb_fail(err, VB_ERR_INTERRUPTED, "logreg: interrupted");
            goto out;
        }
        /* two-loop recursion: dir = -H g */
        for (size_t i = 0; i < m; i++)
            dir[i] = -g[i];
        for (int k = 0; k < used; k++) {
            int j = (head - 1 - k + M) % M;
            alpha[j] = rho[j] * dot(S + (size_t)j * m, dir, m);
            for (size_t i = 0; i < m; i++)
                dir[i] -= alpha[j] * Y[(size_t)j * m + i];
        }
        double step = 1;
        if (used > 0) {
            int j = (head - 1 + M) % M;
            double gamma = dot(S + (size_t)j * m, Y + (size_t)j * m, m) / dot(Y + (size_t)j * m, Y + (size_t)j * m, m);
            for (size_t i = 0; i < m; i++)
                dir[i] *= gamma;
        } else
            step = 1.0 / sqrt(dot(g, g, m));
        for (int k = used - 1; k >= 0; k--) {
            int j = (head - 1 - k + M) % M;
            double beta = rho[j] * dot(Y + (size_t)j * m, dir, m);
            for (size_t i = 0; i < m; i++)
                dir[i] += (alpha[j] - beta) * S[(size_t)j * m + i];
        }
        double gd = dot(g, dir, m);
        if (!(gd < 0)) { /* not a descent direction: restart from steepest descent */
            used = 0;
            for (size_t i = 0; i < m; i++)
                dir[i] = -g[i];
            gd = -dot(g, g, m);
            step = 1.0 / sqrt(-gd);
        }
        /* backtracking (Armijo) line search */
        double fn = f;
        int ok = 0;
        for (int ls = 0; ls < 40; ls++) {
            for (size_t i = 0; i < m; i++)
                xn[i] = x[i] + step * dir[i];
            fn = objective(pb, xn, gn);
            s->evaluations++;
            if (isfinite(fn) && fn <= f + 1e-4 * step * gd) {
                ok = 1;
                break;
            }
            step *= 0.5;
        }
        s->iterations++;
        if (!ok) {
            s->converged = 1;
            s->reason = "line search made no progress (at the precision of the loss)";
            break;
        }
        /* new pair */
        double *sk = S + (size_t)head * m, *yk = Y + (size_t)head * m;
        for (size_t i = 0; i < m; i++) {
            sk[i] = xn[i] - x[i];
            yk[i] = gn[i] - g[i];
        }
        double sy = dot(sk, yk, m);
        if (sy > 1e-12 * sqrt(dot(sk, sk, m) * dot(yk, yk, m))) {
            rho[head] = 1.0 / sy;
            head = (head + 1) % M;
            if (used < M)
                used++;
        }
        double rel = (f - fn) / fmax(fmax(fabs(f), fabs(fn)), 1.0);
        memcpy(x, xn, m * sizeof *x);
        memcpy(g, gn, m * sizeof *g);
        f = fn;
        if (rel <= FTOL) {
            s->converged = 1;
            s->reason = "objective stopped decreasing";
            break;
        }
    }
    s->grad_norm = inf_norm(g, m);
    s->objective = f;
out:
    free(g);
    free(dir);
    free(xn);
    free(gn);
    free(S);
    free(Y);
    free(rho);
    free(alpha);
    return st;
}

static vb_status logreg_train(void *state, const vb_traindata *td, vb_error *err)
{
    logreg_state *s = state;
    free(s->W);
    free(s->b);
    s->W = s->b = NULL;
    size_t K = (size_t)td->n_classes, d = td->d, Kd, nK, m;
    if (!vb_mul_ok(K, d, &Kd) || !vb_mul_ok(td->n, K, &nK) || (m = Kd + K) < Kd)
        return vb_fail(err, VB_ERR_NOMEM, "logreg: problem too large");
    if (td->n > 0x7fffffff || d > 0x7fffffff)
        return vb_fail(err, VB_ERR_DATA, "logreg: %zu x %zu is beyond BLAS int sizes", td->n, d);
    problem pb = {.X = td->X, .y = td->y, .n = td->n, .d = d, .K = (int)K, .intercept = s->intercept, .C = s->C,
                  .l1 = s->l1};
    double *x = vb_calloc(m, sizeof *x, err);
    s->W = vb_malloc(Kd, sizeof *s->W, err);
    s->b = vb_calloc(K, sizeof *s->b, err);
    vb_status st = VB_ERR_NOMEM;
    if (!problem_alloc(&pb))
        st = vb_fail(err, VB_ERR_NOMEM, "logreg: out of memory");
    else if (x && s->W && s->b)
        st = lbfgs(s, &pb, x, m, err);
    if (st == VB_OK) {
        s->d = d;
        s->K = (int)K;
        for (size_t j = 0; j < Kd; j++)
            s->W[j] = (float)x[j];
        for (size_t c = 0; c < K; c++)
            s->b[c] = (float)x[Kd + c];
        if (!s->converged)
            vb_log(VB_LOG_WARN,
                   "logreg: L-BFGS stopped at max_iter = %d before converging (largest gradient component %.3g > "
                   "tol %.3g); raise max_iter or standardise the features",
                   s->max_iter, s->grad_norm, s->tol);
    } else {
        free(s->W);
        free(s->b);
        s->W = s->b = NULL;
    }
    problem_free(&pb);
    free(x);
    return st;
}

static vb_status logreg_predict(const void *state, const float *X, size_t n, int *labels, float *scores, vb_error *err)
{
    const logreg_state *s = state;
    size_t K = (size_t)s->K, B = 4096;
    float *Z = vb_malloc(B, K * sizeof *Z, err);
    if (!Z)
        return VB_ERR_NOMEM;
    for (size_t r0 = 0; r0 < n; r0 += B) {
        size_t mm = n - r0 < B ? n - r0 : B;
        vb_sgemm(0, 1, mm, K, s->d, 1.0f, X + r0 * s->d, s->d, s->W, s->d, 0.0f, Z, K);
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < mm; i++) {
            float *z = Z + i * K;
            double zmax = -INFINITY, sum = 0;
            size_t best = 0;
            for (size_t c = 0; c < K; c++) {
                z[c] += s->b[c];
                if (z[c] > z[best])
                    best = c;
                zmax = fmax(zmax, z[c]);
            }
            labels[r0 + i] = (int)best;
            if (scores) {
                for (size_t c = 0; c < K; c++)
                    sum += exp((double)z[c] - zmax);
                for (size_t c = 0; c < K; c++)
                    scores[(r0 + i) * K + c] = (float)(exp((double)z[c] - zmax) / sum);
            }
        }
    }
    free(Z);
    return VB_OK;
}

/* ---- save / load ------------------------------------------------------- */

#define LOGREG_TAG VB_CLF_TAG('L', 'G', 'R', 'G')

static vb_status logreg_save(const void *state, vb_writer *w, vb_error *err)
{
    const logreg_state *s = state;
    vb_clf_write_tag(w, LOGREG_TAG, 1);
    vb_write_u64(w, s->d);
    vb_write_u32(w, (uint32_t)s->K);
    vb_write_f32s(w, s->W, (size_t)s->K * s->d);
    vb_write_f32s(w, s->b, (size_t)s->K);
    vb_write_u32(w, (uint32_t)s->iterations);
    vb_write_u32(w, (uint32_t)s->evaluations);
    vb_write_u8(w, (uint8_t)s->converged);
    vb_write_f64(w, s->grad_norm);
    vb_write_f64(w, s->objective);
    return VB_OK;
}

static vb_status logreg_load(void *state, vb_reader *r, vb_error *err)
{
    logreg_state *s = state;
    free(s->W);
    free(s->b);
    s->W = s->b = NULL;
    uint64_t d;
    uint32_t K, it, ev;
    uint8_t conv;
    vb_status st;
    if ((st = vb_clf_read_tag(r, LOGREG_TAG, 1, "logreg", err)) || (st = vb_read_u64(r, &d, err)) ||
        (st = vb_read_u32_range(r, &K, 2, 1u << 20, "classes", err)))
        return st;
    size_t Kd;
    if (d == 0 || !vb_mul_ok((size_t)d, K, &Kd) || (st = vb_clf_check_count(r, Kd, 4, "weights", err)))
        return st ? st : vb_fail(err, VB_ERR_FORMAT, "%s: corrupt logreg sizes", r->what);
    s->W = vb_malloc(Kd, sizeof *s->W, err);
    s->b = vb_malloc(K, sizeof *s->b, err);
    if (!s->W || !s->b)
        return VB_ERR_NOMEM;
    if ((st = vb_read_f32s_into(r, s->W, Kd, err)) || (st = vb_read_f32s_into(r, s->b, K, err)) ||
        (st = vb_read_u32(r, &it, err)) || (st = vb_read_u32(r, &ev, err)) || (st = vb_read_u8(r, &conv, err)) ||
        (st = vb_read_f64(r, &s->grad_norm, err)) || (st = vb_read_f64(r, &s->objective, err)))
        return st;
    s->d = (size_t)d;
    s->K = (int)K;
    s->iterations = (int)it;
    s->evaluations = (int)ev;
    s->converged = conv != 0;
    s->reason = "loaded";
    return VB_OK;
}

static void logreg_info(const void *state, vb_buf *b)
{
    const logreg_state *s = state;
    vb_buf_printf(b, "\"iterations\": %d, \"evaluations\": %d, \"converged\": %s, \"grad_norm\": ", s->iterations,
                  s->evaluations, s->converged ? "true" : "false");
    vb_buf_double(b, s->grad_norm);
    vb_buf_puts(b, ", \"objective\": ");
    vb_buf_double(b, s->objective);
    vb_buf_puts(b, ", \"stop\": ");
    vb_buf_json_str(b, s->reason);
}

static void logreg_dims(const void *state, size_t *d, int *n_classes)
{
    const logreg_state *s = state;
    *d = s->d;
    *n_classes = s->K;
}

const vb_classifier_vt vb_clf_logreg = {
    .info = {.name = "logreg",
             .help = "multinomial logistic regression (L2, optional smoothed L1) by L-BFGS with BLAS gradients",
             .doc = "Scores are the softmax probabilities. info reports iterations, the final largest gradient "
                    "component and whether tol was reached; reaching max_iter logs a warning.",
             .params = logreg_params,
             .n_params = sizeof logreg_params / sizeof logreg_params[0]},
    .flags = VB_CLF_PROBA,
    .create = logreg_create,
    .train = logreg_train,
    .predict = logreg_predict,
    .save = logreg_save,
    .load = logreg_load,
    .info_json = logreg_info,
    .destroy = logreg_destroy,
    .dims = logreg_dims,
};
