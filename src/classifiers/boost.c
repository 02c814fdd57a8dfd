/* boost: gradient-boosted trees, trained and applied by XGBoost (its hist
 * method, through the C API).
 *
 * Two classes: binary:logistic, one tree per round, and the scores are
 * (1 - p, p); more: multi:softprob, one tree per class and round. The
 * training rows go to XGBoost as a quantile DMatrix (the rows binned into
 * max_bins histogram bins per feature, one byte per value for up to 256
 * bins; no copy of the floats), the validation rows as one that reuses its
 * cuts. Training runs round by round: after each round the log loss and
 * accuracy of the training and validation rows (from XGBoost's prediction
 * caches, so one tree's worth of work) make the learning curve, and with
 * early_stopping the round of the lowest validation log loss is kept (its
 * predictions use the trees up to it; the later ones stay in the model).
 *
 * The trained model is XGBoost's own serialisation (UBJSON), kept as bytes
 * in the state and written as such into the model file. A loaded model is
 * checked by vb_boost_check_model before XGBoost sees it, and the booster
 * that predicts after training is the one those bytes load into, so a model
 * predicts the same before and after a round trip.
 *
 * XGBoost's seed comes from the classifier's, its thread count from the
 * run's (omp_get_max_threads() when training and predicting; one inside a
 * parallel region of ours); the hist method builds the same trees for any
 * thread count. Its log is silenced
 * (verbosity 0, a setting XGBoost keeps per thread: set on each thread that
 * calls it). */
#include "internal.h"

#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xgboost/c_api.h>

static const vb_param_def boost_params[] = {
    {.name = "rounds", .type = VB_PT_INT, .def = "100", .min = 1, .max = 100000, .flags = VB_PF_GRID,
     .help = "boosting rounds (each adds one tree per class, one tree for two classes)"},
    {.name = "eta", .type = VB_PT_FLOAT, .def = "0.3", .min = 0, .max = 1, .flags = VB_PF_GRID | VB_PF_MIN_OPEN,
     .help = "learning rate: the factor on each new tree's leaf values"},
    {.name = "max_depth", .type = VB_PT_INT, .def = "6", .min = 1, .max = 30, .flags = VB_PF_GRID,
     .help = "maximum depth of a tree (edges from the root to a leaf)"},
    {.name = "subsample", .type = VB_PT_FLOAT, .def = "1", .min = 0, .max = 1, .flags = VB_PF_GRID | VB_PF_MIN_OPEN,
     .help = "fraction of the training rows each round's trees see (drawn per round, seeded)"},
    {.name = "colsample", .type = VB_PT_FLOAT, .def = "1", .min = 0, .max = 1, .flags = VB_PF_GRID | VB_PF_MIN_OPEN,
     .help = "fraction of the features each tree may split on (XGBoost's colsample_bytree; seeded)"},
    {.name = "min_child_weight", .type = VB_PT_FLOAT, .def = "1", .min = 0, .max = 1e9, .flags = VB_PF_GRID,
     .help = "minimum sum of the loss's second derivatives (hessians) in a child of a split"},
    {.name = "lambda", .type = VB_PT_FLOAT, .def = "1", .min = 0, .max = 1e9, .flags = VB_PF_GRID,
     .help = "L2 penalty on the leaf values: a leaf is -eta G / (H + lambda) of its rows' gradients G and "
             "hessians H"},
    {.name = "max_bins", .type = VB_PT_INT, .def = "256", .min = 2, .max = 4096,
     .help = "histogram bins per feature (quantile cuts; candidate split points)"},
    {.name = "early_stopping", .type = VB_PT_INT, .def = "0", .min = 0, .max = 100000,
     .help = "stop after this many rounds without a lower log loss on the validation part (split.validation) "
             "and predict with the best round; 0 = off. Off without a validation part"},
};

typedef struct boost_state {
    /* parameters */
    int rounds, max_depth, max_bins, early;
    double eta, subsample, colsample, min_child_weight, lambda;
    /* trained */
    size_t d;
    int K;
    uint8_t *raw; /* XGBoost's model (UBJSON) */
    size_t raw_len;
    BoosterHandle bst; /* raw, loaded */
    uint32_t rounds_run, best; /* rounds trained; the last round predictions use (0-based) */
    double best_loss;          /* validation log loss after round best (NaN: none measured) */
    vb_epoch *curve;           /* the last training's rounds (not saved) */
    size_t n_curve;
} boost_state;

static size_t trees_per_round(int K) { return K == 2 ? 1 : (size_t)K; }

static void boost_clear(boost_state *s)
{
    if (s->bst)
        XGBoosterFree(s->bst);
    s->bst = NULL;
    free(s->raw);
    s->raw = NULL;
    s->raw_len = 0;
    free(s->curve);
    s->curve = NULL;
    s->n_curve = 0;
    s->rounds_run = s->best = 0;
    s->best_loss = NAN;
}

static void boost_destroy(void *state)
{
    boost_state *s = state;
    if (!s)
        return;
    boost_clear(s);
    free(s);
}

static vb_status boost_create(const vb_params *p, void **state, vb_error *err)
{
    boost_state *s = vb_calloc(1, sizeof *s, err);
    if (!s)
        return VB_ERR_NOMEM;
    s->rounds = (int)vb_param_int(p, "rounds");
    s->eta = vb_param_float(p, "eta");
    s->max_depth = (int)vb_param_int(p, "max_depth");
    s->subsample = vb_param_float(p, "subsample");
    s->colsample = vb_param_float(p, "colsample");
    s->min_child_weight = vb_param_float(p, "min_child_weight");
    s->lambda = vb_param_float(p, "lambda");
    s->max_bins = (int)vb_param_int(p, "max_bins");
    s->early = (int)vb_param_int(p, "early_stopping");
    s->best_loss = NAN;
    *state = s;
    return VB_OK;
}

/* ---- talking to XGBoost ------------------------------------------------ */

/* XGBoost's last error as ours: its first line, without the time stamp and
 * the source location it starts with ("[12:52:34] ./src/x.cc:40: "). */
static vb_status xgb_fail(vb_error *err, vb_status st, const char *what, const char *doing)
{
    const char *m = XGBGetLastError();
    if (!m)
        m = "";
    if (m[0] == '[') {
        const char *c = strstr(m, "] ");
        if (c && c - m < 16)
            m = c + 2;
    }
    const char *colon = strstr(m, ": "), *nl = strchr(m, '\n');
    if (colon && (!nl || colon < nl) && colon > m && colon[-1] >= '0' && colon[-1] <= '9' &&
        memchr(m, ' ', (size_t)(colon - m)) == NULL)
        m = colon + 2;
    nl = strchr(m, '\n');
    int n = nl ? (int)(nl - m) : (int)strlen(m);
    return vb_fail(err, st, "%s: XGBoost could not %s: %.*s", what, doing, n > 300 ? 300 : n, m);
}

/* Quiet on this thread (XGBoost keeps its global configuration per thread). */
static void xgb_quiet(void) { XGBSetGlobalConfig("{\"verbosity\": 0}"); }

/* n rows of d floats as a NumPy __array_interface__, which XGBoost reads. */
static void array_interface(char *s, size_t cap, const float *X, size_t n, size_t d)
{
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    const char *type = ">f4";
#else
    const char *type = "<f4";
#endif
    snprintf(s, cap, "{\"data\": [%llu, true], \"shape\": [%zu, %zu], \"typestr\": \"%s\", \"version\": 3}",
             (unsigned long long)(uintptr_t)X, n, d, type);
}

/* The data iterator a quantile DMatrix is built from: one batch, the rows. */
typedef struct feed {
    DMatrixHandle proxy;
    const float *X;
    size_t n, d;
    int done, failed;
} feed;

static void feed_reset(DataIterHandle h) { ((feed *)h)->done = 0; }

static int feed_next(DataIterHandle h)
{
    feed *f = h;
    if (f->done)
        return 0;
    f->done = 1;
    char ai[192];
    array_interface(ai, sizeof ai, f->X, f->n, f->d);
    if (XGProxyDMatrixSetDataDense(f->proxy, ai) != 0) {
        f->failed = 1;
        return 0;
    }
    return 1;
}

/* A quantile DMatrix of X (n x d): the cuts its own (ref NULL) or ref's. */
static vb_status quantile_matrix(const float *X, size_t n, size_t d, DMatrixHandle ref, int threads, int max_bins,
                                 DMatrixHandle *out, vb_error *err)
{
    feed f = {.X = X, .n = n, .d = d};
    *out = NULL;
    if (XGProxyDMatrixCreate(&f.proxy) != 0)
        return xgb_fail(err, VB_ERR_INTERNAL, "boost", "make a data matrix");
    char cfg[128];
    snprintf(cfg, sizeof cfg, "{\"missing\": NaN, \"nthread\": %d, \"max_bin\": %d}", threads, max_bins);
    int rc = XGQuantileDMatrixCreateFromCallback(&f, f.proxy, ref, feed_reset, feed_next, cfg, out);
    vb_status st = VB_OK;
    if (rc != 0 || f.failed) {
        st = xgb_fail(err, VB_ERR_INTERNAL, "boost", ref ? "bin the validation rows" : "bin the training rows");
        if (rc == 0)
            XGDMatrixFree(*out);
        *out = NULL;
    }
    XGDMatrixFree(f.proxy);
    return st;
}

static vb_status set_param(BoosterHandle b, const char *name, const char *value, vb_error *err)
{
    if (XGBoosterSetParam(b, name, value) == 0)
        return VB_OK;
    char doing[96];
    snprintf(doing, sizeof doing, "set %s to %s", name, value);
    return xgb_fail(err, VB_ERR_INTERNAL, "boost", doing);
}

/* The threads XGBoost may use here: the run's, or one inside a parallel
 * region of ours (br trains its labels in parallel). XGBoost splits some
 * work into nthread parts by thread number, so an nthread its own parallel
 * regions cannot have (they are nested, of one thread) would leave parts
 * undone. */
static int xgb_threads(void)
{
    return omp_get_active_level() >= omp_get_max_active_levels() ? 1 : omp_get_max_threads();
}

static vb_status set_threads(BoosterHandle b, vb_error *err)
{
    char v[16];
    snprintf(v, sizeof v, "%d", xgb_threads());
    return set_param(b, "nthread", v, err);
}

/* Scores (n x K) from XGBoost's output: its rows of K probabilities, or for
 * two classes one probability p per row, which becomes (1 - p, p). */
static void to_scores(const float *out, size_t n, int K, float *scores)
{
    if (K != 2) {
        memcpy(scores, out, n * (size_t)K * sizeof *scores);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        scores[2 * i] = 1.0f - out[i];
        scores[2 * i + 1] = out[i];
    }
}

/* Mean log loss and accuracy of XGBoost's output for n rows of labels y, the
 * labels as predict gives them (the first best score). */
static void loss_acc(const float *out, const int *y, size_t n, int K, double *loss, double *acc)
{
    double l = 0;
    size_t hits = 0;
    for (size_t i = 0; i < n; i++) {
        float p;
        int label = 0;
        if (K == 2) {
            float p1 = out[i], p0 = 1.0f - p1;
            label = p1 > p0;
            p = y[i] ? p1 : p0;
        } else {
            const float *r = out + i * (size_t)K;
            for (int c = 1; c < K; c++)
                label = r[c] > r[label] ? c : label;
            p = r[y[i]];
        }
        l -= log(p > 1e-16f ? (double)p : 1e-16);
        hits += label == y[i];
    }
    *loss = l / (double)n;
    *acc = (double)hits / (double)n;
}

/* The cached predictions of the training or validation matrix: log loss and accuracy. */
static vb_status cached_loss(BoosterHandle b, DMatrixHandle m, const int *y, size_t n, int K, double *loss,
                             double *acc, vb_error *err)
{
    const bst_ulong *shape;
    bst_ulong dim;
    const float *out;
    if (XGBoosterPredictFromDMatrix(b, m, "{\"type\": 0, \"training\": false, \"iteration_begin\": 0, "
                                          "\"iteration_end\": 0, \"strict_shape\": true}",
                                    &shape, &dim, &out) != 0)
        return xgb_fail(err, VB_ERR_INTERNAL, "boost", "predict during training");
    if (dim != 2 || shape[0] != n || shape[1] != trees_per_round(K))
        return vb_fail(err, VB_ERR_INTERNAL, "boost: XGBoost predicted an output of another shape");
    loss_acc(out, y, n, K, loss, acc);
    return VB_OK;
}

/* Loads s->raw (checked first) into a new booster for prediction. */
static vb_status attach(boost_state *s, const char *what, vb_error *err)
{
    vb_status st = vb_boost_check_model(s->raw, s->raw_len, s->d, s->K,
                                        (uint64_t)s->rounds_run * trees_per_round(s->K), what, err);
    if (st != VB_OK)
        return st;
    xgb_quiet();
    if (XGBoosterCreate(NULL, 0, &s->bst) != 0) {
        s->bst = NULL;
        return xgb_fail(err, VB_ERR_INTERNAL, what, "make a booster");
    }
    if (XGBoosterLoadModelFromBuffer(s->bst, s->raw, (bst_ulong)s->raw_len) != 0)
        return xgb_fail(err, VB_ERR_FORMAT, what, "load the model");
    bst_ulong nf = 0;
    int rounds = 0;
    if (XGBoosterGetNumFeature(s->bst, &nf) != 0 || XGBoosterBoostedRounds(s->bst, &rounds) != 0)
        return xgb_fail(err, VB_ERR_FORMAT, what, "read the model");
    if (nf != s->d || rounds != (int)s->rounds_run)
        return vb_fail(err, VB_ERR_FORMAT,
                       "%s: corrupt boost state (the XGBoost model has %llu features and %d rounds, the state says "
                       "%zu and %u)",
                       what, (unsigned long long)nf, rounds, s->d, s->rounds_run);
    return VB_OK;
}

/* ---- training ---------------------------------------------------------- */

static vb_status configure(const boost_state *s, BoosterHandle b, int K, uint64_t seed, vb_error *err)
{
    char v[64];
    vb_status st = VB_OK;
#define SET(name, ...) \
    if (st == VB_OK) { \
        snprintf(v, sizeof v, __VA_ARGS__); \
        st = set_param(b, name, v, err); \
    }
    SET("tree_method", "hist");
    SET("objective", "%s", K == 2 ? "binary:logistic" : "multi:softprob");
    if (K != 2)
        SET("num_class", "%d", K);
    SET("eta", "%.17g", s->eta);
    SET("max_depth", "%d", s->max_depth);
    SET("subsample", "%.17g", s->subsample);
    SET("colsample_bytree", "%.17g", s->colsample);
    SET("min_child_weight", "%.17g", s->min_child_weight);
    SET("lambda", "%.17g", s->lambda);
    SET("max_bin", "%d", s->max_bins);
    /* XGBoost's generator takes 32 bits of its seed: 31 of the classifier's */
    SET("seed", "%llu", (unsigned long long)(vb_seed_derive(seed, "boost", 0) >> 33));
#undef SET
    return st == VB_OK ? set_threads(b, err) : st;
}

static vb_status boost_train(void *state, const vb_traindata *td, vb_error *err)
{
    boost_state *s = state;
    boost_clear(s);
    size_t n = td->n, d = td->d;
    int K = td->n_classes, threads = xgb_threads();
    int has_val = td->Xval && td->yval && td->n_val > 0;
    DMatrixHandle dtrain = NULL, dval = NULL;
    BoosterHandle b = NULL;
    float *label = vb_malloc(n, sizeof *label, err);
    s->curve = vb_calloc((size_t)s->rounds, sizeof *s->curve, err);
    vb_status st = label && s->curve ? VB_OK : VB_ERR_NOMEM;
    xgb_quiet();
    if (st == VB_OK)
        st = quantile_matrix(td->X, n, d, NULL, threads, s->max_bins, &dtrain, err);
    if (st == VB_OK && has_val)
        st = quantile_matrix(td->Xval, td->n_val, d, dtrain, threads, s->max_bins, &dval, err);
    if (st == VB_OK) {
        for (size_t i = 0; i < n; i++)
            label[i] = (float)td->y[i];
        if (XGDMatrixSetFloatInfo(dtrain, "label", label, n) != 0)
            st = xgb_fail(err, VB_ERR_INTERNAL, "boost", "set the labels");
    }
    DMatrixHandle cache[2] = {dtrain, dval};
    if (st == VB_OK && XGBoosterCreate(cache, has_val ? 2 : 1, &b) != 0) {
        b = NULL;
        st = xgb_fail(err, VB_ERR_INTERNAL, "boost", "make a booster");
    }
    if (st == VB_OK)
        st = configure(s, b, K, td->seed, err);
    int stop_early = has_val && s->early > 0;
    const char *name = td->name ? td->name : "boost";
    if (s->early > 0 && !has_val)
        vb_log(VB_LOG_WARN, "%s: early_stopping needs validation rows (split: {validation: 0.1}); training all %d rounds",
               name, s->rounds);
    for (int it = 0; st == VB_OK && it < s->rounds; it++) {
        if (vb_interrupted()) {
            st = vb_fail(err, VB_ERR_INTERRUPTED, "boost: interrupted");
            break;
        }
        double t0 = vb_now();
        if (XGBoosterUpdateOneIter(b, it, dtrain) != 0) {
            st = xgb_fail(err, VB_ERR_INTERNAL, "boost", "train a round");
            break;
        }
        vb_epoch *ep = &s->curve[it];
        ep->val_loss = ep->val_acc = NAN;
        st = cached_loss(b, dtrain, td->y, n, K, &ep->train_loss, &ep->train_acc, err);
        if (st == VB_OK && has_val)
            st = cached_loss(b, dval, td->yval, td->n_val, K, &ep->val_loss, &ep->val_acc, err);
        ep->lr = s->eta;
        ep->seconds = vb_now() - t0;
        s->n_curve = (size_t)it + 1;
        s->rounds_run = (uint32_t)it + 1;
        vb_log(VB_LOG_DEBUG, "%s: round %d/%d: log loss %.4f, acc %.4f; validation %.4f, %.4f; %.2f s", name, it + 1,
               s->rounds, ep->train_loss, ep->train_acc, ep->val_loss, ep->val_acc, ep->seconds);
        if (st != VB_OK || !has_val)
            continue;
        if (it == 0 || ep->val_loss < s->best_loss || !stop_early) {
            s->best = (uint32_t)it;
            s->best_loss = ep->val_loss;
        } else if (it - (int)s->best >= s->early) {
            vb_log(VB_LOG_INFO, "%s: early stopping after round %d (no lower validation log loss for %d rounds); "
                                "predicting with round %u",
                   name, it + 1, s->early, s->best + 1);
            break;
        }
    }
    if (!has_val)
        s->best = s->rounds_run ? s->rounds_run - 1 : 0;
    if (st == VB_OK) {
        bst_ulong len = 0;
        const char *buf = NULL;
        if (XGBoosterSaveModelToBuffer(b, "{\"format\": \"ubj\"}", &len, &buf) != 0)
            st = xgb_fail(err, VB_ERR_INTERNAL, "boost", "save the model");
        else if (!(s->raw = vb_malloc(len ? len : 1, 1, err)))
            st = VB_ERR_NOMEM;
        else {
            memcpy(s->raw, buf, len);
            s->raw_len = len;
        }
    }
    if (b)
        XGBoosterFree(b);
    if (dtrain)
        XGDMatrixFree(dtrain);
    if (dval)
        XGDMatrixFree(dval);
    free(label);
    s->d = d;
    s->K = K;
    /* the booster that predicts is the saved model, loaded: as after a round trip */
    if (st == VB_OK)
        st = attach(s, "boost", err);
    if (st != VB_OK)
        boost_clear(s);
    return st;
}

/* ---- prediction -------------------------------------------------------- */

static vb_status boost_predict(const void *state, const float *X, size_t n, int *labels, float *scores,
                               vb_error *err)
{
    const boost_state *s = state;
    int K = s->K;
    if (!s->bst)
        return vb_fail(err, VB_ERR_STATE, "boost: predict before train");
    xgb_quiet();
    vb_status st = set_threads(s->bst, err);
    if (st != VB_OK)
        return st;
    char ai[192], cfg[224];
    array_interface(ai, sizeof ai, X, n, s->d);
    snprintf(cfg, sizeof cfg,
             "{\"type\": 0, \"training\": false, \"iteration_begin\": 0, \"iteration_end\": %u, "
             "\"strict_shape\": true, \"missing\": NaN, \"cache_id\": 0}",
             s->best + 1);
    const bst_ulong *shape;
    bst_ulong dim;
    const float *out;
    if (XGBoosterPredictFromDense(s->bst, ai, cfg, NULL, &shape, &dim, &out) != 0)
        return xgb_fail(err, VB_ERR_INTERNAL, "boost", "predict");
    if (dim != 2 || shape[0] != n || shape[1] != trees_per_round(K))
        return vb_fail(err, VB_ERR_INTERNAL, "boost: XGBoost predicted an output of another shape");
    float *sc = scores ? scores : vb_malloc(n, (size_t)K * sizeof *sc, err);
    if (!sc)
        return VB_ERR_NOMEM;
    to_scores(out, n, K, sc);
    vb_scores_argmax(sc, n, K, labels);
    if (sc != scores)
        free(sc);
    return VB_OK;
}

/* ---- save / load ------------------------------------------------------- */

#define BOOST_TAG VB_CLF_TAG('B', 'O', 'S', 'T')

static vb_status boost_save(const void *state, vb_writer *w, vb_error *err)
{
    const boost_state *s = state;
    if (!s->raw)
        return vb_fail(err, VB_ERR_STATE, "boost: nothing to save before training");
    vb_clf_write_tag(w, BOOST_TAG, 1);
    vb_write_u64(w, s->d);
    vb_write_u32(w, (uint32_t)s->K);
    vb_write_u32(w, s->rounds_run);
    vb_write_u32(w, s->best);
    vb_write_f64(w, s->best_loss);
    vb_write_u64(w, s->raw_len);
    vb_write_bytes(w, s->raw, s->raw_len);
    return VB_OK;
}

static vb_status boost_load(void *state, vb_reader *r, vb_error *err)
{
    boost_state *s = state;
    boost_clear(s);
    uint64_t d, len;
    uint32_t K, rounds, best;
    double loss;
    vb_status st;
    if ((st = vb_clf_read_tag(r, BOOST_TAG, 1, "boost", err)) || (st = vb_read_u64(r, &d, err)) ||
        (st = vb_read_u32_range(r, &K, 2, 1u << 20, "classes", err)) ||
        (st = vb_read_u32_range(r, &rounds, 1, (uint32_t)s->rounds, "rounds", err)) ||
        (st = vb_read_u32_range(r, &best, 0, rounds - 1, "best round", err)) || (st = vb_read_f64(r, &loss, err)) ||
        (st = vb_read_u64(r, &len, err)) || (st = vb_clf_check_count(r, len, 1, "model bytes", err)))
        return st;
    if (d == 0 || d > (1ull << 32) || len == 0)
        return vb_fail(err, VB_ERR_FORMAT, "%s: corrupt boost sizes", r->what);
    if (!(s->raw = vb_malloc((size_t)len, 1, err)))
        return VB_ERR_NOMEM;
    if ((st = vb_read_bytes_into(r, s->raw, (size_t)len, err)) != VB_OK) {
        boost_clear(s);
        return st;
    }
    s->raw_len = (size_t)len;
    s->d = (size_t)d;
    s->K = (int)K;
    s->rounds_run = rounds;
    s->best = best;
    s->best_loss = loss;
    if ((st = attach(s, r->what, err)) != VB_OK)
        boost_clear(s);
    return st;
}

static void boost_info(const void *state, vb_buf *b)
{
    const boost_state *s = state;
    size_t per = trees_per_round(s->K);
    vb_buf_printf(b,
                  "\"rounds\": %u, \"best_iteration\": %u, \"stopped_early\": %s, \"trees\": %zu, \"trees_used\": "
                  "%zu, \"model_bytes\": %zu, \"best_val_logloss\": ",
                  s->rounds_run, s->best, s->rounds_run < (uint32_t)s->rounds ? "true" : "false",
                  (size_t)s->rounds_run * per, ((size_t)s->best + 1) * per, s->raw_len);
    if (isfinite(s->best_loss))
        vb_buf_double(b, s->best_loss);
    else
        vb_buf_puts(b, "null");
}

static size_t boost_curve(const void *state, const vb_epoch **epochs)
{
    const boost_state *s = state;
    *epochs = s->curve;
    return s->n_curve;
}

static void boost_dims(const void *state, size_t *d, int *n_classes)
{
    const boost_state *s = state;
    *d = s->d;
    *n_classes = s->K;
}

const vb_classifier_vt vb_clf_boost = {
    .info = {.name = "boost",
             .help = "gradient-boosted trees (XGBoost's hist method: binary:logistic or multi:softprob), seeded, "
                     "with early stopping on the validation part",
             .doc = "Scores are probabilities. info reports the rounds trained, the round predictions use "
                    "(best_iteration, 0-based: the last one unless early stopping kept an earlier one), the trees "
                    "in the model and those used, and the validation log loss of that round; the learning curve "
                    "holds each round's training and validation log loss and accuracy. The same seed gives the "
                    "same model for any thread count. The model file holds XGBoost's own model (UBJSON), checked "
                    "before XGBoost reads it.",
             VB_PARAMS(boost_params)},
    .flags = VB_CLF_PROBA,
    .create = boost_create,
    .train = boost_train,
    .predict = boost_predict,
    .save = boost_save,
    .load = boost_load,
    .info_json = boost_info,
    .destroy = boost_destroy,
    .curve = boost_curve,
    .dims = boost_dims,
};
