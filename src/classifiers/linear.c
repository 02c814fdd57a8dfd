/* linear: linear SVM (hinge or squared hinge) or L2-regularised logistic
 * regression at scale, with VLFeat's SDCA or SGD solvers, one-vs-rest.
 *
 * Each class c gets a binary problem (+1 for c, -1 for the rest) solved by
 * vl_svm over the float rows in place (vl_svmdataset, no copy). VLFeat
 * minimises lambda/2 ||w||^2 + (1/n) sum loss(w.x + b B), B the bias
 * multiplier (the bias is regularised with w, as in liblinear); lambda
 * defaults to 1/(C n), which makes C scikit-learn's LinearSVC C. The
 * classes train in parallel (OpenMP over classes).
 *
 * Randomness: VLFeat's solvers permute the data each epoch with the calling
 * thread's generator (vl_get_rand()). Right before solving class c, that
 * generator is reseeded from (seed, c), so every class sees the same
 * permutations whatever thread runs it: the model depends on the seed
 * only, not on the thread count or schedule.
 *
 * Scores: hinge losses give the decision values w_c.x + b_c (not
 * probabilities); the logistic loss gives one-vs-rest probabilities
 * sigmoid(s_c) / sum_k sigmoid(s_k) (scikit-learn's OvR predict_proba). */
#include "internal.h"
#include "../core/linalg.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <vl/generic.h>
#include <vl/random.h>
#include <vl/svm.h>

static const vb_param_def linear_params[] = {
    {.name = "loss", .type = VB_PT_ENUM, .def = "hinge", .choices = "hinge|squared_hinge|logistic",
     .help = "hinge: linear SVM; squared_hinge: L2-loss SVM (LinearSVC's default); logistic: logistic regression"},
    {.name = "solver", .type = VB_PT_ENUM, .def = "sdca", .choices = "sdca|sgd",
     .help = "VLFeat solver: stochastic dual coordinate ascent or stochastic gradient descent (Pegasos)"},
    {.name = "C", .type = VB_PT_FLOAT, .def = "1", .min = 0, .max = 1e12, .flags = VB_PF_GRID | VB_PF_MIN_OPEN,
     .help = "penalty of the loss; lambda = 1 / (C n)"},
    {.name = "lambda", .type = VB_PT_FLOAT, .def = "0", .min = 0, .max = 1e6, .flags = VB_PF_GRID,
     .help = "regularisation strength, instead of C when > 0"},
    {.name = "epochs", .type = VB_PT_INT, .def = "20", .min = 1, .max = 100000,
     .help = "maximum passes over the data per class"},
    {.name = "tol", .type = VB_PT_FLOAT, .def = "0.001", .min = 0, .max = 1, .flags = VB_PF_MIN_OPEN,
     .help = "stop when the duality gap (sdca) or the score variation (sgd) is below this"},
    {.name = "bias_multiplier", .type = VB_PT_FLOAT, .def = "1", .min = 0, .max = 1e6,
     .help = "constant feature appended for the bias (0 = no bias)"},
};

enum { L_HINGE, L_HINGE2, L_LOGISTIC };

typedef struct linear_state {
    int loss, sgd, epochs;
    double C, lambda_param, tol, bias_mult;
    /* trained */
    size_t d;
    int K;
    double lambda;
    float *W; /* K x d */
    float *b; /* K: bias * multiplier */
    uint32_t *epochs_run; /* K */
    uint8_t *converged;   /* K */
} linear_state;

static void linear_clear(linear_state *s)
{
    free(s->W);
    free(s->b);
    free(s->epochs_run);
    free(s->converged);
    s->W = s->b = NULL;
    s->epochs_run = NULL;
    s->converged = NULL;
}

static void linear_destroy(void *state)
{
    linear_state *s = state;
    if (!s)
        return;
    linear_clear(s);
    free(s);
}

static int loss_of(const vb_params *p)
{
    const char *l = vb_param_str(p, "loss");
    return strcmp(l, "logistic") == 0 ? L_LOGISTIC : strcmp(l, "squared_hinge") == 0 ? L_HINGE2 : L_HINGE;
}

static vb_status linear_create(const vb_params *p, void **state, vb_error *err)
{
    linear_state *s = vb_calloc(1, sizeof *s, err);
    if (!s)
        return VB_ERR_NOMEM;
    s->loss = loss_of(p);
    s->sgd = vb_param_is(p, "solver", "sgd");
    s->C = vb_param_float(p, "C");
    s->lambda_param = vb_param_float(p, "lambda");
    s->epochs = (int)vb_param_int(p, "epochs");
    s->tol = vb_param_float(p, "tol");
    s->bias_mult = vb_param_float(p, "bias_multiplier");
    *state = s;
    return VB_OK;
}

static vb_status linear_train(void *state, const vb_traindata *td, vb_error *err)
{
    linear_state *s = state;
    linear_clear(s);
    size_t n = td->n, d = td->d, Kd;
    int K = td->n_classes;
    if (!vb_mul_ok((size_t)K, d, &Kd))
        return vb_fail(err, VB_ERR_NOMEM, "linear: problem too large");
    s->lambda = s->lambda_param > 0 ? s->lambda_param : 1.0 / (s->C * (double)n);
    s->W = vb_malloc(Kd, sizeof *s->W, err);
    s->b = vb_calloc((size_t)K, sizeof *s->b, err);
    s->epochs_run = vb_calloc((size_t)K, sizeof *s->epochs_run, err);
    s->converged = vb_calloc((size_t)K, sizeof *s->converged, err);
    if (!s->W || !s->b || !s->epochs_run || !s->converged) {
        linear_clear(s);
        return VB_ERR_NOMEM;
    }
    /* VLFeat only reads the rows; its API takes a non-const pointer. */
    VlSvmDataset *ds = vl_svmdataset_new(VL_TYPE_FLOAT, (void *)(uintptr_t)td->X, d, n);
    if (!ds) {
        linear_clear(s);
        return vb_fail(err, VB_ERR_NOMEM, "linear: out of memory");
    }
    VlSvmLossType loss = s->loss == L_LOGISTIC ? VlSvmLossLogistic : s->loss == L_HINGE2 ? VlSvmLossHinge2
                                                                                         : VlSvmLossHinge;
    int fail = 0, stop = 0;
#pragma omp parallel
    {
        double *lab = malloc(n * sizeof *lab);
        if (!lab) {
#pragma omp atomic write
            fail = 1;
        }
#pragma omp for schedule(dynamic, 1)
        for (int c = 0; c < K; c++) {
            if (!lab || stop)
                continue;
            if (vb_interrupted()) {
                stop = 1;
                continue;
            }
            for (size_t i = 0; i < n; i++)
                lab[i] = td->y[i] == c ? 1.0 : -1.0;
            VlSvm *svm = vl_svm_new_with_dataset(s->sgd ? VlSvmSolverSgd : VlSvmSolverSdca, ds, lab, s->lambda);
            if (!svm) {
#pragma omp atomic write
                fail = 1;
                continue;
            }
            vl_svm_set_loss(svm, loss);
            vl_svm_set_epsilon(svm, s->tol);
            vl_svm_set_bias_multiplier(svm, s->bias_mult);
            vl_svm_set_max_num_iterations(svm, (vl_size)s->epochs * n);
            vl_svm_set_diagnostic_frequency(svm, n);
            vl_rand_seed(vl_get_rand(), (vl_uint32)vb_seed_derive(td->seed, "linear-class", (uint64_t)c));
            vl_svm_train(svm);
            const double *w = vl_svm_get_model(svm);
            for (size_t j = 0; j < d; j++)
                s->W[(size_t)c * d + j] = (float)w[j];
            s->b[c] = (float)vl_svm_get_bias(svm); /* (already times the multiplier) */
            const VlSvmStatistics *stt = vl_svm_get_statistics(svm);
            s->epochs_run[c] = (uint32_t)(stt->epoch + 1);
            s->converged[c] = stt->status == VlSvmStatusConverged;
            /* vl_svm_delete (0.9.21) forgets the scores buffer */
            vl_free((void *)(uintptr_t)vl_svm_get_scores(svm));
            vl_svm_delete(svm);
        }
        free(lab);
    }
    vl_svmdataset_delete(ds);
    if (stop || fail) {
        linear_clear(s);
        return stop ? vb_fail(err, VB_ERR_INTERRUPTED, "linear: interrupted")
                    : vb_fail(err, VB_ERR_NOMEM, "linear: out of memory");
    }
    s->d = d;
    s->K = K;
    int unconverged = 0;
    for (int c = 0; c < K; c++)
        unconverged += !s->converged[c];
    if (unconverged)
        vb_log(VB_LOG_WARN, "linear: %d of %d one-vs-rest problems stopped at epochs = %d before tol = %g", unconverged,
               K, s->epochs, s->tol);
    return VB_OK;
}

static vb_status linear_predict(const void *state, const float *X, size_t n, int *labels, float *scores, vb_error *err)
{
    const linear_state *s = state;
    size_t K = (size_t)s->K, B = 4096;
    float *Z = vb_malloc(B, K * sizeof *Z, err);
    if (!Z)
        return VB_ERR_NOMEM;
    for (size_t r0 = 0; r0 < n; r0 += B) {
        size_t m = n - r0 < B ? n - r0 : B;
        vb_sgemm(0, 1, m, K, s->d, 1.0f, X + r0 * s->d, s->d, s->W, s->d, 0.0f, Z, K);
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < m; i++) {
            float *z = Z + i * K;
            size_t best = 0;
            for (size_t c = 0; c < K; c++) {
                z[c] += s->b[c];
                if (z[c] > z[best])
                    best = c;
            }
            labels[r0 + i] = (int)best;
            if (!scores)
                continue;
            float *out = scores + (r0 + i) * K;
            if (s->loss == L_LOGISTIC) {
                double sum = 0;
                for (size_t c = 0; c < K; c++)
                    sum += 1.0 / (1.0 + exp(-(double)z[c]));
                for (size_t c = 0; c < K; c++)
                    out[c] = (float)(1.0 / (1.0 + exp(-(double)z[c])) / sum);
            } else
                memcpy(out, z, K * sizeof *out);
        }
    }
    free(Z);
    return VB_OK;
}

#define LINEAR_TAG VB_CLF_TAG('L', 'I', 'N', 'R')

static vb_status linear_save(const void *state, vb_writer *w, vb_error *err)
{
    const linear_state *s = state;
    vb_clf_write_tag(w, LINEAR_TAG, 1);
    vb_write_u32(w, (uint32_t)s->loss);
    vb_write_u64(w, s->d);
    vb_write_u32(w, (uint32_t)s->K);
    vb_write_f64(w, s->lambda);
    vb_write_f32s(w, s->W, (size_t)s->K * s->d);
    vb_write_f32s(w, s->b, (size_t)s->K);
    vb_write_i32s(w, (const int32_t *)s->epochs_run, (size_t)s->K);
    vb_write_bytes(w, s->converged, (size_t)s->K);
    return VB_OK;
}

static vb_status linear_load(void *state, vb_reader *r, vb_error *err)
{
    linear_state *s = state;
    linear_clear(s);
    uint32_t loss, K;
    uint64_t d;
    vb_status st;
    if ((st = vb_clf_read_tag(r, LINEAR_TAG, 1, "linear", err)) || (st = vb_read_u32(r, &loss, err)) ||
        (st = vb_read_u64(r, &d, err)) || (st = vb_read_u32_range(r, &K, 2, 1u << 20, "classes", err)) ||
        (st = vb_read_f64(r, &s->lambda, err)))
        return st;
    if (loss != (uint32_t)s->loss)
        return vb_fail(err, VB_ERR_FORMAT, "%s: linear state saved with another loss than the parameters say",
                       r->what);
    size_t Kd;
    if (d == 0 || !vb_mul_ok((size_t)d, K, &Kd) || (st = vb_clf_check_count(r, Kd, 4, "weights", err)))
        return st ? st : vb_fail(err, VB_ERR_FORMAT, "%s: corrupt linear sizes", r->what);
    s->W = vb_malloc(Kd, sizeof *s->W, err);
    s->b = vb_malloc(K, sizeof *s->b, err);
    s->epochs_run = vb_malloc(K, sizeof *s->epochs_run, err);
    s->converged = vb_malloc(K, 1, err);
    if (!s->W || !s->b || !s->epochs_run || !s->converged)
        return VB_ERR_NOMEM;
    if ((st = vb_read_f32s_into(r, s->W, Kd, err)) || (st = vb_read_f32s_into(r, s->b, K, err)) ||
        (st = vb_read_i32s_into(r, (int32_t *)s->epochs_run, K, err)) ||
        (st = vb_read_bytes_into(r, s->converged, K, err)))
        return st;
    s->d = (size_t)d;
    s->K = (int)K;
    return VB_OK;
}

static void linear_info(const void *state, vb_buf *b)
{
    const linear_state *s = state;
    int conv = 0;
    uint32_t emax = 0;
    for (int c = 0; c < s->K; c++) {
        conv += s->converged[c];
        emax = s->epochs_run[c] > emax ? s->epochs_run[c] : emax;
    }
    vb_buf_puts(b, "\"lambda\": ");
    vb_buf_double(b, s->lambda);
    vb_buf_printf(b, ", \"converged_classes\": %d, \"classes\": %d, \"max_epochs_run\": %u", conv, s->K, emax);
}


static void linear_dims(const void *state, size_t *d, int *n_classes)
{
    const linear_state *s = state;
    *d = s->d;
    *n_classes = s->K;
}

const vb_classifier_vt vb_clf_linear = {
    .info = {.name = "linear",
             .help = "linear SVM or logistic regression by VLFeat SDCA/SGD, one-vs-rest, classes in parallel",
             .doc = "Scores: decision values for the hinge losses; for the logistic loss one-vs-rest "
                    "probabilities sigmoid(s_c) / sum_k sigmoid(s_k). Each class's solver is seeded from "
                    "(seed, class), so the model does not depend on the thread count.",
             .params = linear_params,
             .n_params = sizeof linear_params / sizeof linear_params[0]},
    .flags = VB_CLF_PROBA,
    .create = linear_create,
    .train = linear_train,
    .predict = linear_predict,
    .save = linear_save,
    .load = linear_load,
    .info_json = linear_info,
    .destroy = linear_destroy,
    .dims = linear_dims,
    .proba_if = {"loss", "logistic"},
};
