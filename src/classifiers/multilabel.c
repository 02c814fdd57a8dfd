/* Multilabel problem transformations over any single-label classifier.
 *
 *   br     binary relevance: one base classifier per label, trained on
 *          "has label l" against the rest (scikit-learn's
 *          MultiOutputClassifier / OneVsRestClassifier).
 *   chain  classifier chains (Read et al. 2011): label o[j] of a chain is
 *          learnt from the features and the labels o[0..j) (the true ones
 *          in training, the chain's own predictions when predicting); the
 *          order is as listed or seeded-random, and `chains: m` averages the
 *          scores of m chains of different seeded orders (an ensemble of
 *          classifier chains).
 *
 * A label's score is the base classifier's probability of "has label l"
 * when it gives probabilities, else its decision value for it minus the one
 * against (> 0 where the base would say yes). Decision thresholds are tuned
 * on the validation part (mlthresh.c). A label that is constant in the
 * training rows gets a constant score (no classifier). The labels train in
 * parallel, each from its own seed, so the model does not depend on the
 * thread count. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

static const vb_param_def br_params[] = {
    VB_BASE_PARAM("trained for each label"),
    VB_ML_THRESH_PARAMS,
};

static const vb_param_def chain_params[] = {
    VB_BASE_PARAM("trained for each label of each chain"),
    {.name = "order", .type = VB_PT_ENUM, .def = "random", .choices = "random|listed",
     .help = "the labels' order along a chain: seeded random, or the dataset's label order (first chain only; "
             "further chains are random)"},
    {.name = "chains", .type = VB_PT_INT, .def = "1", .min = 1, .max = 100,
     .help = "chains of different seeded orders whose scores are averaged (an ensemble of classifier chains)"},
    VB_ML_THRESH_PARAMS,
};

typedef struct ml_state {
    int chain;
    const vb_classifier_vt *base_vt;
    vb_params base_params;
    int order_listed, n_chains;
    int mode;
    float base_t;
    int proba;
    /* trained */
    size_t d;
    int L;
    int *order;          /* n_chains x L: the label at each place of each chain */
    int8_t *constant;    /* n_chains x L (by place): -1 trained, 0 / 1 constant label */
    vb_classifier **clf; /* n_chains x L (by place); NULL where constant */
    float *thresh;       /* L */
} ml_state;

static vb_status ml_create_common(const vb_params *p, int chain, void **state, vb_error *err)
{
    ml_state *s = vb_calloc(1, sizeof *s, err);
    if (!s)
        return VB_ERR_NOMEM;
    s->chain = chain;
    vb_status st = vb_clf_parse_base(p, chain ? "chain" : "br", &s->base_vt, &s->base_params, err);
    if (st != VB_OK) {
        free(s);
        return st;
    }
    s->order_listed = chain && vb_param_is(p, "order", "listed");
    s->n_chains = chain ? (int)vb_param_int(p, "chains") : 1;
    s->proba = vb_classifier_params_proba(s->base_vt, &s->base_params);
    vb_ml_thresh_params(p, s->proba, &s->mode, &s->base_t);
    *state = s;
    return VB_OK;
}

static vb_status br_create(const vb_params *p, void **state, vb_error *err) { return ml_create_common(p, 0, state, err); }
static vb_status chain_create(const vb_params *p, void **state, vb_error *err)
{
    return ml_create_common(p, 1, state, err);
}

static void ml_clear(ml_state *s)
{
    size_t m = (size_t)s->n_chains * (size_t)s->L;
    for (size_t i = 0; s->clf && i < m; i++)
        vb_classifier_free(s->clf[i]);
    free(s->clf);
    free(s->order);
    free(s->constant);
    free(s->thresh);
    s->clf = NULL;
    s->order = NULL;
    s->constant = NULL;
    s->thresh = NULL;
    s->L = 0;
    s->d = 0;
}

static void ml_destroy(void *state)
{
    ml_state *s = state;
    ml_clear(s);
    vb_params_free(&s->base_params);
    free(s);
}

static int ml_proba_of(const vb_params *p)
{
    const vb_classifier_vt *vt;
    vb_params bp;
    if (vb_clf_parse_base(p, "", &vt, &bp, NULL) != VB_OK)
        return 0;
    int pr = vb_classifier_params_proba(vt, &bp);
    vb_params_free(&bp);
    return pr;
}

static vb_status ml_alloc(ml_state *s, size_t d, int L, vb_error *err)
{
    s->d = d;
    s->L = L;
    size_t m = (size_t)s->n_chains * (size_t)L;
    s->order = vb_malloc(m, sizeof *s->order, err);
    s->constant = vb_malloc(m, sizeof *s->constant, err);
    s->clf = vb_calloc(m, sizeof *s->clf, err);
    s->thresh = vb_malloc((size_t)L, sizeof *s->thresh, err);
    return s->order && s->constant && s->clf && s->thresh ? VB_OK : VB_ERR_NOMEM;
}

/* The orders of the chains: as listed or a seeded permutation. */
static vb_status ml_orders(ml_state *s, uint64_t seed, vb_error *err)
{
    int L = s->L;
    for (int c = 0; c < s->n_chains; c++) {
        int *o = s->order + (size_t)c * L;
        for (int l = 0; l < L; l++)
            o[l] = l;
        if (!s->chain || (c == 0 && s->order_listed))
            continue;
        vb_rng *rng = vb_rng_new(vb_seed_derive(seed, "chain order", (uint64_t)c));
        if (!rng)
            return vb_fail(err, VB_ERR_NOMEM, "out of memory");
        for (int l = L - 1; l > 0; l--) {
            int j = (int)vb_rng_below(rng, (size_t)l + 1);
            int t = o[l];
            o[l] = o[j];
            o[j] = t;
        }
        vb_rng_free(rng);
    }
    return VB_OK;
}

/* Rows X (n x d) with the labels at places 0..j-1 of chain o appended
 * (from Y, n x L bytes). */
static float *augment(const float *X, size_t n, size_t d, const uint8_t *Y, int L, const int *o, int j,
                      vb_error *err)
{
    size_t w = d + (size_t)j;
    float *A = vb_malloc(n ? n : 1, w * sizeof *A, err);
    if (!A)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        memcpy(A + i * w, X + i * d, d * sizeof *A);
        for (int q = 0; q < j; q++)
            A[i * w + d + (size_t)q] = Y[i * (size_t)L + o[q]] ? 1.0f : 0.0f;
    }
    return A;
}

/* One label's score from its base classifier's two class scores. */
static float label_score(const float *s2, int proba) { return proba ? s2[1] : s2[1] - s2[0]; }

/* Scores of the label at place j of chain c for n rows A (n x (d + j)). */
static vb_status place_scores(const ml_state *s, int c, int j, const float *A, size_t n, float *out, vb_error *err)
{
    size_t k = (size_t)c * s->L + (size_t)j;
    if (s->constant[k] >= 0) {
        float v = s->constant[k] ? 1.0f : s->proba ? 0.0f : -1.0f;
        for (size_t i = 0; i < n; i++)
            out[i] = v;
        return VB_OK;
    }
    int *lab = vb_malloc(n ? n : 1, sizeof *lab, err);
    float *sc = vb_malloc(n ? n : 1, 2 * sizeof *sc, err);
    vb_status st = lab && sc ? VB_OK : VB_ERR_NOMEM;
    if (st == VB_OK)
        st = vb_classifier_predict(s->clf[k], A, n, s->d + (size_t)(s->chain ? j : 0), lab, sc, err);
    for (size_t i = 0; st == VB_OK && i < n; i++)
        out[i] = label_score(sc + 2 * i, s->proba);
    free(lab);
    free(sc);
    return st;
}

/* Per-label scores (n x L) of rows X: the chains' mean. */
static vb_status ml_scores(const ml_state *s, const float *X, size_t n, float *S, vb_error *err)
{
    int L = s->L;
    size_t d = s->d;
    memset(S, 0, n * (size_t)L * sizeof *S);
    float *col = vb_malloc(n ? n : 1, sizeof *col, err);
    uint8_t *Yp = s->chain ? vb_calloc(n ? n : 1, (size_t)L, err) : NULL;
    vb_status st = col && (!s->chain || Yp) ? VB_OK : VB_ERR_NOMEM;
    for (int c = 0; c < s->n_chains && st == VB_OK; c++) {
        const int *o = s->order + (size_t)c * L;
        for (int j = 0; j < L && st == VB_OK; j++) {
            float *A = NULL;
            const float *in = X;
            if (s->chain && j > 0) {
                if (!(A = augment(X, n, d, Yp, L, o, j, err))) {
                    st = VB_ERR_NOMEM;
                    break;
                }
                in = A;
            }
            st = place_scores(s, c, j, in, n, col, err);
            float yes = s->proba ? 0.5f : 0.0f;
            for (size_t i = 0; st == VB_OK && i < n; i++) {
                S[i * (size_t)L + o[j]] += col[i] / (float)s->n_chains;
                if (Yp)
                    Yp[i * (size_t)L + o[j]] = col[i] > yes;
            }
            free(A);
        }
    }
    free(col);
    free(Yp);
    return st;
}

/* Trains the classifier at place j of chain c on the rows A (n x w). */
static vb_status train_place(ml_state *s, const vb_traindata *td, int c, int j, const float *A, size_t w,
                             const float *Aval, vb_error *err)
{
    int L = s->L;
    size_t k = (size_t)c * L + (size_t)j;
    int l = s->order[k];
    size_t n = td->n, pos = 0;
    int *y = vb_malloc(n, sizeof *y, err);
    int *yv = td->n_val ? vb_malloc(td->n_val, sizeof *yv, err) : NULL;
    if (!y || (td->n_val && !yv)) {
        free(y);
        free(yv);
        return VB_ERR_NOMEM;
    }
    for (size_t i = 0; i < n; i++)
        pos += (size_t)(y[i] = td->Y[i * (size_t)L + l] != 0);
    for (size_t i = 0; yv && i < td->n_val; i++)
        yv[i] = td->Yval[i * (size_t)L + l] != 0;
    vb_status st = VB_OK;
    s->constant[k] = pos == 0 ? 0 : pos == n ? 1 : -1;
    if (s->constant[k] < 0) {
        vb_traindata b = {.X = A, .n = n, .d = w, .y = y, .n_classes = 2,
                          .Xval = Aval, .yval = Aval ? yv : NULL, .n_val = Aval ? td->n_val : 0,
                          .shape = s->chain && j > 0 ? (vb_shape){0, 0, 0} : td->shape,
                          .seed = vb_seed_derive(td->seed, "label", k), .name = td->name};
        st = vb_classifier_new(s->base_vt, &s->base_params, &s->clf[k], err);
        if (st == VB_OK)
            st = vb_classifier_train(s->clf[k], &b, err);
    }
    free(y);
    free(yv);
    return st;
}

static vb_status ml_train(void *state, const vb_traindata *td, vb_error *err)
{
    ml_state *s = state;
    const char *name = s->chain ? "chain" : "br";
    ml_clear(s);
    if (!td->Y)
        return vb_fail(err, VB_ERR_DATA, "%s: needs label sets (a multilabel dataset)", name);
    int L = td->n_classes;
    vb_status st = ml_alloc(s, td->d, L, err);
    if (st != VB_OK)
        return st;
    if ((st = ml_orders(s, td->seed, err)) != VB_OK) {
        ml_clear(s);
        return st;
    }
    size_t m = (size_t)s->n_chains * (size_t)L;
    if (!s->chain) {
        /* binary relevance: the labels in parallel, each from its own seed */
        vb_status *sts = vb_malloc(m, sizeof *sts, err);
        vb_error *errs = vb_calloc(m, sizeof *errs, err);
        if (!sts || !errs) {
            free(sts);
            free(errs);
            return VB_ERR_NOMEM;
        }
#pragma omp parallel for schedule(dynamic, 1) if (vb_get_threads() > 1 && L > 1)
        for (int j = 0; j < L; j++)
            sts[j] = train_place(s, td, 0, j, td->X, td->d, td->Xval, &errs[j]);
        for (size_t j = 0; j < m && st == VB_OK; j++)
            if ((st = sts[j]) != VB_OK && err)
                *err = errs[j];
        free(sts);
        free(errs);
    } else {
        for (int c = 0; c < s->n_chains && st == VB_OK; c++) {
            const int *o = s->order + (size_t)c * L;
            for (int j = 0; j < L && st == VB_OK; j++) {
                float *A = j ? augment(td->X, td->n, td->d, td->Y, L, o, j, err) : NULL;
                if (j && !A) {
                    st = VB_ERR_NOMEM;
                    break;
                }
                st = train_place(s, td, c, j, j ? A : td->X, td->d + (size_t)j, NULL, err);
                free(A);
            }
        }
    }
    if (st == VB_OK && td->n_val && td->Yval && s->mode != VB_ML_THRESH_FIXED) {
        float *S = vb_malloc(td->n_val, (size_t)L * sizeof *S, err);
        st = S ? ml_scores(s, td->Xval, td->n_val, S, err) : VB_ERR_NOMEM;
        if (st == VB_OK)
            st = vb_ml_tune_thresholds(S, td->Yval, td->n_val, L, s->mode, s->base_t, s->thresh, err);
        free(S);
    } else if (st == VB_OK)
        vb_ml_tune_thresholds(NULL, NULL, 0, L, VB_ML_THRESH_FIXED, s->base_t, s->thresh, NULL);
    if (st != VB_OK)
        ml_clear(s);
    return st;
}

static vb_status ml_predict_sets(const void *state, const float *X, size_t n, uint8_t *sets, float *scores,
                                 vb_error *err)
{
    const ml_state *s = state;
    float *S = scores ? scores : vb_malloc(n, (size_t)s->L * sizeof *S, err);
    if (!S)
        return VB_ERR_NOMEM;
    vb_status st = ml_scores(s, X, n, S, err);
    if (st == VB_OK && sets)
        vb_ml_apply_thresholds(S, n, s->L, s->thresh, sets);
    if (S != scores)
        free(S);
    return st;
}

static vb_status ml_predict(const void *state, const float *X, size_t n, int *labels, float *scores, vb_error *err)
{
    const ml_state *s = state;
    int L = s->L;
    float *S = scores ? scores : vb_malloc(n, (size_t)L * sizeof *S, err);
    if (!S)
        return VB_ERR_NOMEM;
    vb_status st = ml_scores(s, X, n, S, err);
    if (st == VB_OK)
        vb_scores_argmax(S, n, L, labels);
    if (S != scores)
        free(S);
    return st;
}

#define ML_TAG VB_CLF_TAG('M', 'L', 'B', 'R')
#define ML_VERSION 1

static vb_status ml_save(const void *state, vb_writer *w, vb_error *err)
{
    const ml_state *s = state;
    vb_clf_write_tag(w, ML_TAG, ML_VERSION);
    vb_write_u8(w, (uint8_t)s->chain);
    vb_write_u32(w, (uint32_t)s->n_chains);
    vb_write_u64(w, s->d);
    vb_write_u32(w, (uint32_t)s->L);
    size_t m = (size_t)s->n_chains * (size_t)s->L;
    vb_write_i32s(w, s->order, m);
    vb_write_bytes(w, s->constant, m);
    vb_write_f32s(w, s->thresh, (size_t)s->L);
    for (size_t k = 0; k < m; k++)
        if (s->constant[k] < 0) {
            vb_status st = vb_classifier_save(s->clf[k], w, err);
            if (st != VB_OK)
                return st;
        }
    return vb_writer_status(w, err);
}

static vb_status ml_load(void *state, vb_reader *r, vb_error *err)
{
    ml_state *s = state;
    const char *name = s->chain ? "chain" : "br";
    ml_clear(s);
    vb_status st = vb_clf_read_tag(r, ML_TAG, ML_VERSION, name, err);
    uint8_t chain = 0;
    uint32_t nc = 0, L = 0;
    uint64_t d = 0;
    if (st == VB_OK)
        st = vb_read_u8(r, &chain, err);
    if (st == VB_OK && chain != (uint8_t)s->chain)
        st = vb_fail(err, VB_ERR_FORMAT, "%s: %s: the state is of another classifier", r->what, name);
    if (st == VB_OK)
        st = vb_read_u32_range(r, &nc, (uint32_t)s->n_chains, (uint32_t)s->n_chains, "chains", err);
    if (st == VB_OK)
        st = vb_read_u64(r, &d, err);
    if (st == VB_OK)
        st = vb_read_u32_range(r, &L, 1, 1u << 16, "labels", err);
    if (st == VB_OK && (d == 0 || d > ((uint64_t)1 << 31)))
        st = vb_fail(err, VB_ERR_FORMAT, "%s: %s: bad feature count", r->what, name);
    size_t m = (size_t)nc * L;
    if (st == VB_OK)
        st = vb_clf_check_count(r, m, 5, "labels", err);
    if (st == VB_OK)
        st = ml_alloc(s, (size_t)d, (int)L, err);
    if (st == VB_OK)
        st = vb_read_i32s_into(r, s->order, m, err);
    if (st == VB_OK)
        st = vb_read_bytes_into(r, s->constant, m, err);
    if (st == VB_OK)
        st = vb_read_f32s_into(r, s->thresh, L, err);
    for (size_t k = 0; st == VB_OK && k < m; k++) {
        if (s->order[k] < 0 || s->order[k] >= (int)L || s->constant[k] < -1 || s->constant[k] > 1) {
            st = vb_fail(err, VB_ERR_FORMAT, "%s: %s: corrupt label order", r->what, name);
            break;
        }
        if (s->constant[k] >= 0)
            continue;
        int j = (int)(k % L);
        size_t want_d = (size_t)d + (size_t)(s->chain ? j : 0);
        size_t got_d;
        int got_k;
        st = vb_classifier_new(s->base_vt, &s->base_params, &s->clf[k], err);
        if (st == VB_OK)
            st = vb_classifier_load(s->clf[k], r, err);
        if (st == VB_OK) {
            got_d = s->clf[k]->d;
            got_k = s->clf[k]->n_classes;
            if (got_d != want_d || got_k != 2)
                st = vb_fail(err, VB_ERR_FORMAT, "%s: %s: a label's classifier has the wrong shape", r->what, name);
        }
    }
    if (st != VB_OK)
        ml_clear(s);
    return st;
}

static void ml_dims(const void *state, size_t *d, int *n_classes)
{
    const ml_state *s = state;
    *d = s->d;
    *n_classes = s->L;
}

static void ml_info(const void *state, vb_buf *b)
{
    const ml_state *s = state;
    vb_buf_printf(b, "\"base\": \"%s\", \"labels\": %d", s->base_vt->info.name, s->L);
    if (s->chain)
        vb_buf_printf(b, ", \"chains\": %d", s->n_chains);
    vb_buf_puts(b, ", \"thresholds\": [");
    for (int l = 0; l < s->L; l++) {
        if (l)
            vb_buf_puts(b, ", ");
        vb_buf_double(b, s->thresh[l]);
    }
    vb_buf_puts(b, "]");
}

#define ML_DOC                                                                                                 \
    "A label's score is the base classifier's probability of the label when it gives probabilities, else its " \
    "decision value for the label minus the one against it. Thresholds are tuned on the validation part "     \
    "(split.validation) for the F1 of each label (per-label) or the micro-F1 (global)."

const vb_classifier_vt vb_clf_br = {
    .info = {.name = "br",
             .help = "binary relevance (multilabel): one base classifier per label",
             .doc = ML_DOC " Labels train in parallel, each from its own seed.",
             .params = br_params,
             .n_params = sizeof br_params / sizeof br_params[0]},
    .flags = VB_CLF_PROBA | VB_CLF_MULTILABEL,
    .create = br_create,
    .train = ml_train,
    .predict = ml_predict,
    .save = ml_save,
    .load = ml_load,
    .info_json = ml_info,
    .destroy = ml_destroy,
    .dims = ml_dims,
    .predict_sets = ml_predict_sets,
    .proba_of = ml_proba_of,
};

const vb_classifier_vt vb_clf_chain = {
    .info = {.name = "chain",
             .help = "classifier chains (multilabel): each label learnt from the features and the labels before it",
             .doc = ML_DOC " When predicting, a chain passes on its own decisions (score above 0.5 for "
                    "probabilities, above 0 for decision values); chains: m > 1 averages m seeded orders.",
             .params = chain_params,
             .n_params = sizeof chain_params / sizeof chain_params[0]},
    .flags = VB_CLF_PROBA | VB_CLF_MULTILABEL,
    .create = chain_create,
    .train = ml_train,
    .predict = ml_predict,
    .save = ml_save,
    .load = ml_load,
    .info_json = ml_info,
    .destroy = ml_destroy,
    .dims = ml_dims,
    .predict_sets = ml_predict_sets,
    .proba_of = ml_proba_of,
};
