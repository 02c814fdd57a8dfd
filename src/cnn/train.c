/* The training loop (mini-batches, augmentation, validation, early
 * stopping, best weights, divergence) and batched inference. */
#include "visbench/cnn.h"
#include "internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

/* Inference batch: activations of this many images are kept at once. */
#define PREDICT_BATCH 64

static int max_threads(void)
{
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

void vb_cnn_history_free(vb_cnn_history *h)
{
    if (!h)
        return;
    free(h->epochs);
    memset(h, 0, sizeof *h);
}

static void standardise_one(const vb_cnn *net, const float *x, float *out)
{
    const size_t S = (size_t)net->in.w * net->in.h;
    for (int c = 0; c < net->in.c; c++) {
        const float m = net->mean[c], inv = 1.0f / net->std[c];
        const float *xc = x + (size_t)c * S;
        float *o = out + (size_t)c * S;
        for (size_t s = 0; s < S; s++)
            o[s] = (xc[s] - m) * inv;
    }
}

void vb_cnn_standardise(const vb_cnn *net, const float *X, size_t n, float *out, int nthreads)
{
    const size_t d = (size_t)net->in.w * net->in.h * net->in.c;
#pragma omp parallel for num_threads(nthreads) schedule(dynamic, 8)
    for (size_t i = 0; i < n; i++)
        standardise_one(net, X + i * d, out + i * d);
}

/* Per-channel mean and standard deviation of the training rows (two passes
 * in double; a constant channel keeps sd 1). */
static void fit_standardisation(vb_cnn *net, const float *X, size_t n)
{
    const int C = net->in.c;
    const size_t S = (size_t)net->in.w * net->in.h, d = S * C;
    for (int c = 0; c < C; c++) {
        double sum = 0, sq = 0;
        for (size_t i = 0; i < n; i++) {
            const float *x = X + i * d + (size_t)c * S;
            for (size_t s = 0; s < S; s++)
                sum += x[s];
        }
        double m = sum / ((double)n * S);
        for (size_t i = 0; i < n; i++) {
            const float *x = X + i * d + (size_t)c * S;
            for (size_t s = 0; s < S; s++)
                sq += (x[s] - m) * (x[s] - m);
        }
        double sd = sqrt(sq / ((double)n * S));
        net->mean[c] = (float)m;
        net->std[c] = sd > 1e-6 ? (float)sd : 1.0f;
    }
}

/* ---- augmentation ------------------------------------------------------ */

void vb_cnn_augment_image(const vb_cnn *net, const float *x, const vb_aug_draw *a, float *out)
{
    vb_augment_planes(x, net->in.w, net->in.h, net->in.c, a, out);
    standardise_one(net, out, out);
}

/* ---- evaluation -------------------------------------------------------- */

/* Loss and accuracy of rows X through net in inference mode, in batches
 * of the workspace, against labels y (softmax) or label sets Y (sigmoid:
 * per-label accuracy); neither: no loss. probs / labels may be NULL. */
static void evaluate(const vb_cnn *net, vb_cnn_ws *ws, const float *X, const int *y, const uint8_t *Y, size_t n,
                     double *loss, double *acc, int *labels, float *probs)
{
    const size_t B = vb_cnn_ws_batch(ws), d = net->layers[0].n_in, k = (size_t)net->n_classes;
    const int sigmoid = net->output == VB_CNN_SIGMOID;
    double total = 0;
    size_t hits = 0;
    int nt = max_threads();
    for (size_t i0 = 0; i0 < n; i0 += B) {
        size_t m = n - i0 < B ? n - i0 : B;
        vb_cnn_standardise(net, X + i0 * d, m, vb_cnn_ws_input(ws), nt);
        vb_cnn_forward(net, ws, m, 0);
        const float *z = vb_cnn_ws_output(ws);
        size_t c = 0;
        if (sigmoid && Y)
            total += vb_cnn_bce(z, Y + i0 * k, m, (int)k, NULL, probs ? probs + i0 * k : NULL, &c);
        else if (!sigmoid && y)
            total += vb_cnn_xent(z, y + i0, m, (int)k, NULL, probs ? probs + i0 * k : NULL, &c);
        hits += c;
        for (size_t i = 0; i < m; i++) {
            const float *zi = z + i * k;
            size_t arg = 0;
            for (size_t j = 1; j < k; j++)
                if (zi[j] > zi[arg])
                    arg = j;
            if (labels)
                labels[i0 + i] = (int)arg;
            if (probs && sigmoid && !Y)
                for (size_t j = 0; j < k; j++)
                    probs[(i0 + i) * k + j] = (float)vb_cnn_sigmoid(zi[j]);
            else if (probs && !sigmoid && !y) {
                double mx = zi[arg], s = 0;
                for (size_t j = 0; j < k; j++)
                    s += exp((double)zi[j] - mx);
                for (size_t j = 0; j < k; j++)
                    probs[(i0 + i) * k + j] = (float)(exp((double)zi[j] - mx) / s);
            }
        }
    }
    const size_t per = sigmoid ? k : 1; /* accuracy: of labels, or of images */
    if (loss)
        *loss = n ? total / (double)n : NAN;
    if (acc)
        *acc = n ? (double)hits / ((double)n * per) : NAN;
}

/* The inference workspace for n rows (n > 0): batches of PREDICT_BATCH. */
static vb_status inference_ws(const vb_cnn *net, size_t n, vb_cnn_ws **ws, vb_error *err)
{
    return vb_cnn_ws_new(net, n < PREDICT_BATCH ? n : PREDICT_BATCH, 0, 0, ws, err);
}

vb_status vb_cnn_activations(const vb_cnn *net, const float *X, size_t n, size_t layer, float *out, size_t ldo,
                             vb_error *err)
{
    if (layer >= net->n_layers)
        return vb_fail(err, VB_ERR_PARAM, "cnn: layer %zu of a network of %zu layers", layer + 1, net->n_layers);
    vb_cnn_ws *ws = NULL;
    vb_status st = n ? inference_ws(net, n, &ws, err) : VB_OK;
    const size_t B = ws ? vb_cnn_ws_batch(ws) : 1, d = net->layers[0].n_in, k = net->layers[layer].n_out;
    const int nt = max_threads();
    for (size_t i0 = 0; st == VB_OK && i0 < n; i0 += B) {
        const size_t m = n - i0 < B ? n - i0 : B;
        vb_cnn_standardise(net, X + i0 * d, m, vb_cnn_ws_input(ws), nt);
        vb_cnn_forward_to(net, ws, m, 0, layer + 1);
        const float *a = vb_cnn_ws_act(ws, layer);
        for (size_t i = 0; i < m; i++)
            memcpy(out + (i0 + i) * ldo, a + i * k, k * sizeof *out);
    }
    vb_cnn_ws_free(ws);
    return st;
}

vb_status vb_cnn_predict(const vb_cnn *net, const float *X, size_t n, int *labels, float *probs, vb_error *err)
{
    vb_cnn_ws *ws = NULL;
    vb_status st = n ? inference_ws(net, n, &ws, err) : VB_OK;
    if (st == VB_OK && n)
        evaluate(net, ws, X, NULL, NULL, n, NULL, NULL, labels, probs);
    vb_cnn_ws_free(ws);
    return st;
}

/* ---- training ---------------------------------------------------------- */

typedef struct snapshot {
    float *params, *stats;
    int epoch; /* 0 = empty */
} snapshot;

static void snap_take(snapshot *s, const vb_cnn *net, int epoch)
{
    memcpy(s->params, net->params, net->n_params * sizeof *s->params);
    memcpy(s->stats, net->stats, net->n_stats * sizeof *s->stats);
    s->epoch = epoch;
}

static void snap_restore(const snapshot *s, vb_cnn *net)
{
    memcpy(net->params, s->params, net->n_params * sizeof *s->params);
    memcpy(net->stats, s->stats, net->n_stats * sizeof *s->stats);
}

static vb_status snap_new(snapshot *s, const vb_cnn *net, vb_error *err)
{
    memset(s, 0, sizeof *s);
    s->params = vb_malloc(net->n_params ? net->n_params : 1, sizeof *s->params, err);
    s->stats = vb_malloc(net->n_stats ? net->n_stats : 1, sizeof *s->stats, err);
    return s->params && s->stats ? VB_OK : VB_ERR_NOMEM;
}

static void snap_free(snapshot *s)
{
    free(s->params);
    free(s->stats);
}

static int finite_weights(const vb_cnn *net)
{
    for (size_t i = 0; i < net->n_params; i++)
        if (!isfinite(net->params[i]))
            return 0;
    for (size_t i = 0; i < net->n_stats; i++)
        if (!isfinite(net->stats[i]))
            return 0;
    return 1;
}

/* The logits of the m rows in the workspace's input (the last batch), in
 * inference mode, are all finite. */
static int finite_outputs(const vb_cnn *net, vb_cnn_ws *ws, size_t m)
{
    vb_cnn_forward(net, ws, m, 0);
    const float *z = vb_cnn_ws_output(ws);
    for (size_t i = 0; i < m * (size_t)net->n_classes; i++)
        if (!isfinite(z[i]))
            return 0;
    return 1;
}

/* Training diverged in epoch e (0-based) at `where`: the network gets the
 * weights of an earlier epoch, from `best` when it holds one, else `good`
 * (both finite), with a warning; VB_ERR_NUMERIC when no epoch finished
 * with finite weights. */
static vb_status diverge(vb_cnn *net, const char *name, const char *what, int e, const char *where, double lr,
                         const snapshot *best, const snapshot *good, vb_cnn_history *hist, vb_error *err)
{
    hist->diverged_epoch = e + 1;
    if (!good->epoch)
        return vb_fail(err, VB_ERR_NUMERIC,
                       "%s: %s in epoch %d (%s, learning rate %g) before any epoch finished with finite weights, "
                       "so there are no weights to keep; lower the learning rate",
                       name, what, e + 1, where, lr);
    const snapshot *keep = best->epoch ? best : good;
    snap_restore(keep, net);
    hist->best_epoch = keep->epoch;
    vb_log(VB_LOG_WARN,
           "%s: %s in epoch %d (%s, learning rate %g); training stopped and the network keeps the weights of "
           "epoch %d; lower the learning rate",
           name, what, e + 1, where, lr, keep->epoch);
    return VB_OK;
}

static vb_status check_conf(const vb_cnn *net, const vb_cnn_train_conf *c, const vb_traindata *td, vb_error *err)
{
    const char *name = c->name ? c->name : "cnn";
    if (c->epochs < 1)
        return vb_fail(err, VB_ERR_PARAM, "%s: epochs must be >= 1, not %d", name, c->epochs);
    if (c->batch < 1)
        return vb_fail(err, VB_ERR_PARAM, "%s: batch must be >= 1", name);
    if (!(c->opt.lr > 0) || !isfinite(c->opt.lr))
        return vb_fail(err, VB_ERR_PARAM, "%s: the learning rate must be > 0, not %g", name, c->opt.lr);
    if (net->n_params == 0)
        return vb_fail(err, VB_ERR_SPEC, "%s: the network has no weights to train; add conv or fc layers", name);
    size_t weighted = 0;
    for (size_t l = 0; l < net->n_layers; l++)
        weighted += net->layers[l].n_w || net->layers[l].n_b;
    if (c->freeze >= weighted)
        return vb_fail(err, VB_ERR_PARAM, "%s: freeze %zu leaves no layer to train (the network has %zu with "
                                          "weights); at most %zu",
                       name, c->freeze, weighted, weighted - 1);
    if (c->from && (c->from->in.w != net->in.w || c->from->in.h != net->in.h || c->from->in.c != net->in.c))
        return vb_fail(err, VB_ERR_PARAM, "%s: the network to start from takes %dx%dx%d images, this one %dx%dx%d",
                       name, c->from->in.w, c->from->in.h, c->from->in.c, net->in.w, net->in.h, net->in.c);
    size_t d = (size_t)net->in.w * net->in.h * net->in.c;
    if (td->d != d)
        return vb_fail(err, VB_ERR_DATA, "%s: the network takes %dx%dx%d images (%zu values), the rows have %zu",
                       name, net->in.w, net->in.h, net->in.c, d, td->d);
    if (td->n == 0)
        return vb_fail(err, VB_ERR_DATA, "%s: no training rows", name);
    if (net->output == VB_CNN_SIGMOID) {
        /* label sets: y and yval mean nothing */
        if (!td->Y)
            return vb_fail(err, VB_ERR_DATA, "%s: output: sigmoid learns label sets, but this dataset has one label "
                                             "per image; use output: softmax", name);
        if (td->Xval && td->n_val > 0 && !td->Yval)
            return vb_fail(err, VB_ERR_DATA, "%s: the validation rows have no label sets", name);
        return VB_OK;
    }
    if (td->Y)
        return vb_fail(err, VB_ERR_DATA, "%s: this dataset has label sets (multilabel) and a softmax output learns "
                                         "one label per image; use output: sigmoid", name);
    for (size_t i = 0; i < td->n; i++)
        if (td->y[i] < 0 || td->y[i] >= net->n_classes)
            return vb_fail(err, VB_ERR_DATA, "%s: label %d of row %zu is outside 0..%d", name, td->y[i], i,
                           net->n_classes - 1);
    for (size_t i = 0; td->Xval && i < td->n_val; i++)
        if (td->yval[i] < 0 || td->yval[i] >= net->n_classes)
            return vb_fail(err, VB_ERR_DATA, "%s: validation label %d of row %zu is outside 0..%d", name,
                           td->yval[i], i, net->n_classes - 1);
    return VB_OK;
}

vb_status vb_cnn_train(vb_cnn *net, const vb_cnn_train_conf *conf, const vb_traindata *td, vb_cnn_history *hist,
                       vb_error *err)
{
    memset(hist, 0, sizeof *hist);
    vb_status st = check_conf(net, conf, td, err);
    if (st != VB_OK)
        return st;
    const char *name = conf->name ? conf->name : "cnn";
    const size_t n = td->n, d = td->d, k = (size_t)net->n_classes;
    const size_t B = conf->batch < n ? conf->batch : n;
    const size_t n_batches = (n + B - 1) / B;
    const int has_val = td->Xval && td->n_val > 0;
    const vb_augment *aug = &conf->aug;
    const int augment = vb_augment_active(aug);
    const int nt = max_threads();
    const int sigmoid = net->output == VB_CNN_SIGMOID;
    const size_t per = sigmoid ? k : 1; /* accuracy: of labels, or of images */

    vb_cnn_ws *ws = NULL;
    vb_cnn_opt *opt = NULL;
    snapshot best = {0}, good = {0};
    /* before the workspace and the optimiser: they leave frozen layers out */
    vb_cnn_freeze(net, conf->freeze);
    size_t *order = NULL;
    int *yb = NULL;
    uint8_t *Yb = NULL;
    vb_aug_draw *draws = NULL;
    vb_rng *rng = NULL;

    if (!(hist->epochs = vb_calloc((size_t)conf->epochs, sizeof *hist->epochs, err)) ||
        !(order = vb_malloc(n, sizeof *order, err)) || !(yb = vb_malloc(B, sizeof *yb, err)) ||
        !(draws = vb_malloc(B, sizeof *draws, err)) || (sigmoid && !(Yb = vb_malloc(B, k, err)))) {
        st = VB_ERR_NOMEM;
        goto out;
    }
    if ((st = vb_cnn_ws_new(net, B, 1, 0, &ws, err)) != VB_OK ||
        (st = vb_cnn_opt_new(net, &conf->opt, conf->weight_decay, &opt, err)) != VB_OK ||
        (st = snap_new(&best, net, err)) != VB_OK || (st = snap_new(&good, net, err)) != VB_OK)
        goto out;

    fit_standardisation(net, td->X, n);
    if ((st = vb_cnn_init(net, conf->init, vb_seed_derive(td->seed, "cnn-init", 0), err)) != VB_OK)
        goto out;
    if (conf->from) /* fine-tuning: its weights and standardisation, a fresh output layer */
        vb_cnn_transfer(net, conf->from);
    if (conf->early_stopping > 0 && !has_val)
        vb_log(VB_LOG_WARN, "%s: early_stopping needs validation rows (split: {validation: 0.1}); training all %d "
                            "epochs",
               name, conf->epochs);

    double best_acc = -1, train_time = 0;
    size_t images = 0;
    int since_best = 0;
    float *in = vb_cnn_ws_input(ws), *dz = vb_cnn_ws_output_grad(ws);
    const float *grad = vb_cnn_ws_param_grad(ws);
    char stage[256];
    snprintf(stage, sizeof stage, "%s: epoch 1/%d", name, conf->epochs);
    for (int e = 0; e < conf->epochs; e++) {
        double t0 = vb_now();
        const double lr = vb_cnn_sched_lr(&conf->sched, conf->opt.lr, e, conf->epochs);
        vb_rng_free(rng);
        if (!(rng = vb_rng_new(vb_seed_derive(td->seed, "cnn-epoch", (uint64_t)e)))) {
            st = vb_fail(err, VB_ERR_NOMEM, "out of memory");
            goto out;
        }
        for (size_t i = 0; i < n; i++)
            order[i] = i;
        vb_rng_shuffle(rng, order, n);
        double loss_sum = 0;
        size_t hits = 0, seen = 0;
        for (size_t b = 0; b < n_batches; b++) {
            if (vb_interrupted()) {
                st = vb_fail(err, VB_ERR_INTERRUPTED, "%s: interrupted in epoch %d", name, e + 1);
                goto out;
            }
            const size_t i0 = b * B, m = n - i0 < B ? n - i0 : B;
            for (size_t i = 0; i < m; i++) {
                if (sigmoid)
                    memcpy(Yb + i * k, td->Y + order[i0 + i] * k, k);
                else
                    yb[i] = td->y[order[i0 + i]];
                if (augment)
                    vb_augment_draw(aug, rng, &draws[i]);
            }
#pragma omp parallel for num_threads(nt) schedule(dynamic, 4)
            for (size_t i = 0; i < m; i++) {
                const float *x = td->X + order[i0 + i] * d;
                if (augment)
                    vb_cnn_augment_image(net, x, &draws[i], in + i * d);
                else
                    standardise_one(net, x, in + i * d);
            }
            vb_cnn_ws_draw_masks(ws, net, m, rng);
            vb_cnn_forward(net, ws, m, 1);
            size_t c = 0;
            double loss = sigmoid ? vb_cnn_bce(vb_cnn_ws_output(ws), Yb, m, (int)k, dz, NULL, &c)
                                  : vb_cnn_xent(vb_cnn_ws_output(ws), yb, m, (int)k, dz, NULL, &c);
            if (!isfinite(loss)) {
                char what[64], where[64];
                snprintf(what, sizeof what, "the training loss became %s", isnan(loss) ? "NaN" : "infinite");
                snprintf(where, sizeof where, "batch %zu of %zu", b + 1, n_batches);
                train_time += vb_now() - t0;
                st = diverge(net, name, what, e, where, lr, has_val && conf->keep_best ? &best : &good, &good, hist,
                             err);
                goto diverged;
            }
            loss_sum += loss;
            hits += c;
            seen += m;
            vb_cnn_backward(net, ws, m);
            vb_cnn_update_stats(net, ws, m);
            vb_cnn_opt_step(opt, net, grad, lr);
            vb_progress(stage, seen, n);
        }
        double secs = vb_now() - t0;
        train_time += secs;
        /* A finite loss before the last step says nothing of the weights
         * after it: they are kept only when finite and when they give the
         * last batch finite outputs. */
        if (!finite_weights(net) || !finite_outputs(net, ws, n - (n_batches - 1) * B)) {
            st = diverge(net, name, "the weights or the outputs became NaN or infinite", e, "after its last update",
                         lr, has_val && conf->keep_best ? &best : &good, &good, hist, err);
            goto diverged;
        }
        images += n;
        vb_epoch *ep = &hist->epochs[hist->n_epochs++];
        ep->train_loss = loss_sum / (double)n;
        ep->train_acc = (double)hits / ((double)n * per);
        ep->val_loss = ep->val_acc = NAN;
        ep->lr = lr;
        ep->seconds = secs;
        snap_take(&good, net, e + 1);
        int improved = 0;
        if (has_val) {
            evaluate(net, ws, td->Xval, td->yval, td->Yval, td->n_val, &ep->val_loss, &ep->val_acc, NULL, NULL);
            if (ep->val_acc > best_acc) {
                best_acc = ep->val_acc;
                improved = 1;
                since_best = 0;
                if (conf->keep_best)
                    snap_take(&best, net, e + 1);
            } else
                since_best++;
        }
        hist->best_epoch = e + 1;
        char val[64] = "";
        if (has_val)
            snprintf(val, sizeof val, ", val acc %.4f%s", ep->val_acc, improved ? "*" : "");
        vb_log(VB_LOG_DEBUG, "%s: epoch %d/%d: loss %.4f, acc %.4f%s, lr %.3g, %.0f images/s, %.1f s", name, e + 1,
               conf->epochs, ep->train_loss, ep->train_acc, val, lr, (double)n / secs, secs);
        if (conf->early_stopping > 0 && has_val && since_best >= conf->early_stopping && e + 1 < conf->epochs) {
            hist->stopped_early = 1;
            vb_log(VB_LOG_INFO, "%s: early stopping after epoch %d (no better validation accuracy for %d epochs)",
                   name, e + 1, conf->early_stopping);
            break;
        }
        /* The next epoch's progress line carries this one's numbers. */
        snprintf(stage, sizeof stage, "%s: epoch %d/%d (epoch %d: loss %.4f acc %.4f%s, %.0f img/s)", name, e + 2,
                 conf->epochs, e + 1, ep->train_loss, ep->train_acc, val, (double)n / secs);
    }
    if (has_val && conf->keep_best && best.epoch) {
        snap_restore(&best, net);
        hist->best_epoch = best.epoch;
    }
diverged:
    if (st != VB_OK)
        goto out;
    hist->seconds = train_time;
    hist->images_per_s = train_time > 0 ? (double)images / train_time : 0;
    if (hist->n_epochs) {
        const vb_epoch *last = &hist->epochs[hist->n_epochs - 1];
        char val[80] = "";
        if (has_val)
            snprintf(val, sizeof val, ", val acc %.4f", last->val_acc);
        vb_log(VB_LOG_INFO, "%s: %zu epochs in %.1f s (%.0f images/s); last: loss %.4f, acc %.4f%s; weights of epoch %d",
               name, hist->n_epochs, train_time, hist->images_per_s, last->train_loss, last->train_acc, val,
               hist->best_epoch);
    }
    st = VB_OK;
out:
    vb_rng_free(rng);
    vb_cnn_ws_free(ws);
    vb_cnn_opt_free(opt);
    snap_free(&best);
    snap_free(&good);
    free(order);
    free(yb);
    free(Yb);
    free(draws);
    return st;
}
