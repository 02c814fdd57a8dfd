/* logreg: multinomial logistic regression solved by L-BFGS.
 *
 * Minimises, over W (K x d) and intercepts b (K, not penalised),
 *   f = (1/n) [ sum_i -log softmax(W x_i + b)_{y_i} + ||W||^2 / (2C)
 *               + l1 sum_j sqrt(w_j^2 + eps^2) ]
 * i.e. scikit-learn's C convention (the penalty is on the summed loss). L1
 * is optional and smoothed (eps = 1e-4): the solver stays L-BFGS, weights
 * become small but not exactly zero. The loss and gradient take two GEMMs
 * per evaluation (Z = X W^T, G = (P - Y)^T X), in float with double
 * accumulation of the sums; reductions are in a fixed order so a given
 * thread count always gives the same model.
 *
 * Our own L-BFGS (two-loop recursion, m pairs, backtracking Armijo line
 * search) rather than GSL's vector_bfgs2, whose memoryless update converges
 * far slower on thousands of weights. It stops when the largest gradient
 * component is below tol (scikit-learn's gtol), when the objective stops
 * decreasing (relative change < 1e-12), or at max_iter (with a warning).
 * Features are not standardised here: that is the postprocess step's job. */
#include "internal.h"

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
    float *Wf, *Z, *G; /* K x d, n x K, K x d */
    double *rowloss;   /* n */
} problem;

/* f(theta) and its gradient; theta = [W (K x d), b (K)]. */
static double objective(problem *pb, const double *theta, double *grad)
{
    size_t n = pb->n, d = pb->d, K = (size_t)pb->K, Kd = K * d;
    for (size_t j = 0; j < Kd; j++)
        pb->Wf[j] = (float)theta[j];
    const double *b = theta + Kd;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)K, (int)d, 1.0f, pb->X, (int)d, pb->Wf,
                (int)d, 0.0f, pb->Z, (int)K);
    int intercept = pb->intercept;
    /* Z becomes the residual P - Y; rowloss the per-row log loss. */
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        float *z = pb->Z + i * K;
        double zmax = -INFINITY, v[64], *vv = v;
        double *heap = NULL;
        if (K > 64)
            vv = heap = malloc(K * sizeof *heap);
        if (!vv) {
            pb->rowloss[i] = NAN;
            continue;
        }
        for (size_t c = 0; c < K; c++) {
            vv[c] = (double)z[c] + (intercept ? b[c] : 0.0);
            zmax = vv[c] > zmax ? vv[c] : zmax;
        }
        double sum = 0;
        for (size_t c = 0; c < K; c++)
            sum += exp(vv[c] - zmax);
        double lse = zmax + log(sum);
        int yi = pb->y[i];
        pb->rowloss[i] = lse - vv[yi];
        for (size_t c = 0; c < K; c++)
            z[c] = (float)(exp(vv[c] - lse) - (c == (size_t)yi));
        free(heap);
    }
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)K, (int)d, (int)n, 1.0f, pb->Z, (int)K, pb->X, (int)d,
                0.0f, pb->G, (int)d);
    double loss = 0;
    for (size_t i = 0; i < n; i++)
        loss += pb->rowloss[i];
    double inv_n = 1.0 / (double)n, reg = 0;
    for (size_t j = 0; j < Kd; j++) {
        double w = theta[j], gj = (double)pb->G[j] + w / pb->C;
        reg += w * w / (2 * pb->C);
        if (pb->l1 > 0) {
            double r = sqrt(w * w + L1_EPS * L1_EPS);
            reg += pb->l1 * (r - L1_EPS);
            gj += pb->l1 * w / r;
        }
        grad[j] = gj * inv_n;
    }
    for (size_t c = 0; c < K; c++) {
        double gb = 0;
        if (intercept)
            for (size_t i = 0; i < n; i++)
                gb += pb->Z[i * K + c];
        grad[Kd + c] = gb * inv_n;
    }
    return (loss + reg) * inv_n;
}

double vb_logreg_objective(const float *X, const int *y, size_t n, size_t d, int K, double C, double l1,
                           int intercept, const double *theta, double *grad)
{
    problem pb = {X, y, n, d, K, intercept, C, l1, NULL, NULL, NULL, NULL};
    size_t Kd = (size_t)K * d;
    pb.Wf = malloc(Kd * sizeof *pb.Wf);
    pb.G = malloc(Kd * sizeof *pb.G);
    pb.Z = malloc(n * (size_t)K * sizeof *pb.Z);
    pb.rowloss = malloc(n * sizeof *pb.rowloss);
    double f = NAN;
    if (pb.Wf && pb.G && pb.Z && pb.rowloss)
        f = objective(&pb, theta, grad);
    free(pb.Wf);
    free(pb.G);
    free(pb.Z);
    free(pb.rowloss);
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
        if (rel <= 1e-12) {
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
    problem pb = {td->X, td->y, td->n, d, (int)K, s->intercept, s->C, s->l1, NULL, NULL, NULL, NULL};
    pb.Wf = vb_malloc(Kd, sizeof *pb.Wf, err);
    pb.G = vb_malloc(Kd, sizeof *pb.G, err);
    pb.Z = vb_malloc(nK, sizeof *pb.Z, err);
    pb.rowloss = vb_malloc(td->n, sizeof *pb.rowloss, err);
    double *x = vb_calloc(m, sizeof *x, err);
    s->W = vb_malloc(Kd, sizeof *s->W, err);
    s->b = vb_calloc(K, sizeof *s->b, err);
    vb_status st = VB_ERR_NOMEM;
    if (pb.Wf && pb.G && pb.Z && pb.rowloss && x && s->W && s->b)
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
    free(pb.Wf);
    free(pb.G);
    free(pb.Z);
    free(pb.rowloss);
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
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)mm, (int)K, (int)s->d, 1.0f, X + r0 * s->d,
                    (int)s->d, s->W, (int)s->d, 0.0f, Z, (int)K);
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
