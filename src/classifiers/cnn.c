/* cnn: a small convolutional network trained on the raw image rows (the
 * network itself lives in src/cnn). This file reads the parameters, checks
 * the architecture against the data, and adapts the network to the
 * classifier interface. */
#include "internal.h"
#include "visbench/cnn.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const vb_param_def cnn_params[] = {
    {.name = "layers", .type = VB_PT_NODE,
     .def = "[conv: {filters: 32, size: 3, pad: 1}, relu, maxpool: 2, conv: {filters: 64, size: 3, pad: 1}, relu, "
            "maxpool: 2, fc: 128, relu, fc: classes]",
     .help = "the network, first layer first: conv, maxpool, avgpool, relu, fc, dropout, batchnorm, flatten, each "
             "with its parameters (cnn.layers below), e.g. conv: {filters: 32, size: 5, pad: 2}, maxpool: 2, "
             "dropout: 0.5, fc: classes (the class count); the last layer's outputs go to the loss (see output)"},
    {.name = "output", .type = VB_PT_ENUM, .def = "softmax", .choices = "softmax|sigmoid",
     .help = "softmax: one label per image, softmax cross-entropy; sigmoid: label sets (multilabel data), a "
             "sigmoid per label and binary cross-entropy summed over the labels, averaged over the images"},
    {.name = "epochs", .type = VB_PT_INT, .def = "10", .min = 1, .max = 10000, .flags = VB_PF_GRID,
     .help = "passes over the training rows"},
    {.name = "batch", .type = VB_PT_INT, .def = "64", .min = 1, .max = 65536, .flags = VB_PF_GRID,
     .help = "images per mini-batch"},
    {.name = "optimizer", .type = VB_PT_NODE, .def = "{adam: {lr: 0.001}}",
     .help = "adam or sgd with its parameters (cnn.optimizer below), e.g. {sgd: {lr: 0.01, momentum: 0.9}}"},
    {.name = "weight_decay", .type = VB_PT_FLOAT, .def = "0", .min = 0, .max = 1, .flags = VB_PF_GRID,
     .help = "L2 penalty added to the gradient of conv and fc weights (not biases or batchnorm)"},
    {.name = "schedule", .type = VB_PT_NODE, .def = "none",
     .help = "learning rate per epoch: none, step or cosine (cnn.schedule below), e.g. {step: {every: 5, gamma: "
             "0.1}}"},
    {.name = "init", .type = VB_PT_ENUM, .def = "he", .choices = "he|xavier|uniform",
     .help = "initial weights: he (normal, sd sqrt(2/fan_in), zero biases), xavier (sd sqrt(2/(fan_in+fan_out))), "
             "or uniform (weights and biases in +-1/sqrt(fan_in), PyTorch's default)"},
    {.name = "augment", .type = VB_PT_NODE, .def = "none",
     .help = "training augmentation: none, or flip, shift, rotate and brightness (cnn.augment below), e.g. {flip: "
             "true, shift: 2}"},
    {.name = "early_stopping", .type = VB_PT_INT, .def = "0", .min = 0, .max = 10000,
     .help = "stop after this many epochs without a better validation accuracy (needs split.validation); 0 = off"},
    {.name = "keep_best", .type = VB_PT_BOOL, .def = "true",
     .help = "with validation rows, end with the weights of the epoch with the best validation accuracy"},
    {.name = "init_from", .type = VB_PT_STRING, .flags = VB_PF_FILE,
     .help = "fine-tuning: start from the weights of a cnn model file (visbench train wrote it) whose input shape "
             "and layers are these (but for the output layer's units); every layer but the output layer is "
             "copied, with the model's input standardisation, the output layer initialised as init says"},
    {.name = "freeze", .type = VB_PT_INT, .def = "0", .min = 0, .max = 256,
     .help = "the first N layers with weights (conv, fc, batchnorm) are not trained: weights, biases and "
             "batchnorm statistics stay as they start (at most the weighted layers minus 1)"},
    VB_ML_THRESH_PARAMS,
};

typedef struct cnn_state {
    vb_cnn_arch arch;
    vb_cnn_train_conf conf;
    vb_cnn_output output;
    int thresh_mode;  /* VB_ML_THRESH_* (sigmoid outputs) */
    float thresh_base;
    vb_cnn *net;
    vb_cnn_history hist;
    float *thresh; /* sigmoid outputs: a decision threshold per label (n_classes), else NULL */
    /* fine-tuning: the model to start from (NULL: none) and where it is
     * given, and the hash of the file the last training read */
    char *init_from;
    vb_pvalue init_at, freeze_at;
    uint64_t init_hash;
    int trained_from; /* trained here from init_from (init_hash is known) */
} cnn_state;

static void cnn_destroy(void *state)
{
    cnn_state *s = state;
    if (!s)
        return;
    vb_cnn_arch_free(&s->arch);
    vb_cnn_free(s->net);
    vb_cnn_history_free(&s->hist);
    free(s->thresh);
    free(s->init_from);
    free(s);
}

/* ---- parameters -------------------------------------------------------- */

/* The optimizers, schedules and augmentation: tables of their own, which
 * visbench list prints after the cnn's. Bounds of 1e300 stand for none. */

static const vb_param_def adam_params[] = {
    {.name = "lr", .type = VB_PT_FLOAT, .def = "0.001", .min = 0, .max = 1e300, .flags = VB_PF_MIN_OPEN | VB_PF_PRIMARY,
     .help = "learning rate (of the first epoch, with a schedule)"},
    {.name = "beta1", .type = VB_PT_FLOAT, .def = "0.9", .min = 0, .max = 0.999999,
     .help = "decay of the running mean of the gradient"},
    {.name = "beta2", .type = VB_PT_FLOAT, .def = "0.999", .min = 0, .max = 0.99999999,
     .help = "decay of the running mean of the squared gradient"},
    {.name = "eps", .type = VB_PT_FLOAT, .def = "1e-8", .min = 0, .max = 1, .flags = VB_PF_MIN_OPEN,
     .help = "added to the root of the squared-gradient mean"},
};

static const vb_param_def sgd_params[] = {
    {.name = "lr", .type = VB_PT_FLOAT, .def = "0.01", .min = 0, .max = 1e300, .flags = VB_PF_MIN_OPEN | VB_PF_PRIMARY,
     .help = "learning rate (of the first epoch, with a schedule)"},
    {.name = "momentum", .type = VB_PT_FLOAT, .def = "0.9", .min = 0, .max = 0.999999,
     .help = "weight of the previous step: buffer b = momentum b + gradient"},
    {.name = "nesterov", .type = VB_PT_BOOL, .def = "false", .help = "Nesterov momentum (needs momentum > 0)"},
};

static const vb_param_def step_params[] = {
    {.name = "every", .type = VB_PT_INT, .min = 1, .max = 100000, .flags = VB_PF_REQUIRED | VB_PF_PRIMARY,
     .help = "epochs between decays"},
    {.name = "gamma", .type = VB_PT_FLOAT, .def = "0.1", .min = 0, .max = 1, .flags = VB_PF_MIN_OPEN,
     .help = "factor of each decay"},
};

static const vb_param_def cosine_params[] = {
    {.name = "min_lr", .type = VB_PT_FLOAT, .def = "0", .min = 0, .max = 1e300,
     .help = "the floor the learning rate falls towards (reached after the last epoch)"},
};

static const vb_plugin adam = {.name = "adam", .help = "Adam with bias correction (torch's update rule)",
                               VB_PARAMS(adam_params)};
static const vb_plugin sgd = {.name = "sgd", .help = "stochastic gradient descent with momentum (torch's update rule)",
                              VB_PARAMS(sgd_params)};
static const vb_plugin *const optimizers[] = {&adam, &sgd};

static const vb_plugin sched_none = {.name = "none", .help = "the same learning rate in every epoch"};
static const vb_plugin sched_step = {.name = "step", .help = "lr gamma^floor(epoch / every), epochs counted from 0: "
                                                             "a decay every few epochs",
                                     VB_PARAMS(step_params)};
static const vb_plugin sched_cosine = {.name = "cosine", .help = "min_lr + (lr - min_lr) (1 + cos(pi epoch / epochs)) "
                                                                 "/ 2: from lr down to min_lr along a half cosine",
                                       VB_PARAMS(cosine_params)};
static const vb_plugin *const schedules[] = {&sched_none, &sched_step, &sched_cosine};

static const vb_plugin augment = {.name = "augment",
                                  .help = "on-the-fly changes to each training image, drawn anew every epoch; "
                                          "uncovered pixels are 0",
                                  .params = vb_augment_params, .n_params = VB_AUGMENT_N_OPS};
static const vb_plugin *const augments[] = {&augment};

#define GROUP(p, u, all) {.param = p, .usage = u, .plugins = all, .n = sizeof all / sizeof all[0]}

static const vb_plugin_group cnn_groups[] = {
    GROUP("layers", "layers: [NAME, NAME: value, NAME: {param: value}, ...], first layer first (NAME: value sets "
                    "its first parameter; batchnorm takes a mapping)",
          vb_cnn_layer_plugins),
    GROUP("optimizer", "optimizer: NAME, {NAME: lr} or {NAME: {param: value}}", optimizers),
    GROUP("schedule", "schedule: NAME, {step: every} or {NAME: {param: value}}", schedules),
    GROUP("augment", "augment: none or {param: value, ...}", augments),
};

static vb_status optimizer_conf(const vb_node *node, vb_cnn_opt_conf *o, vb_error *err)
{
    vb_params p;
    const void *vt;
    vb_status st = vb_params_parse_entry(&p, (const void *const *)optimizers, 2, "optimizer", node, 0, &vt, err);
    if (st != VB_OK)
        return st;
    memset(o, 0, sizeof *o);
    o->lr = vb_param_float(&p, "lr");
    if (vt == &adam) {
        o->kind = VB_CNN_ADAM;
        o->beta1 = vb_param_float(&p, "beta1");
        o->beta2 = vb_param_float(&p, "beta2");
        o->eps = vb_param_float(&p, "eps");
    } else {
        o->kind = VB_CNN_SGD;
        o->momentum = vb_param_float(&p, "momentum");
        o->nesterov = vb_param_bool(&p, "nesterov");
        const vb_pvalue *at = vb_param(&p, "nesterov"); /* given: the default is false */
        if (o->nesterov && o->momentum == 0)
            st = vb_fail(err, VB_ERR_SPEC, "%s:%d:%d: sgd.nesterov needs a momentum > 0", at->file, at->line,
                         at->col);
    }
    vb_params_free(&p);
    return st;
}

static vb_status schedule_conf(const vb_node *node, vb_cnn_sched *s, vb_error *err)
{
    vb_params p;
    const void *vt;
    vb_status st = vb_params_parse_entry(&p, (const void *const *)schedules, 3, "schedule", node, 0, &vt, err);
    if (st != VB_OK)
        return st;
    memset(s, 0, sizeof *s);
    if (vt == &sched_step) {
        s->kind = VB_CNN_SCHED_STEP;
        s->every = (int)vb_param_int(&p, "every");
        s->gamma = vb_param_float(&p, "gamma");
    } else if (vt == &sched_cosine) {
        s->kind = VB_CNN_SCHED_COSINE;
        s->min_lr = vb_param_float(&p, "min_lr");
    }
    vb_params_free(&p);
    return VB_OK;
}

static vb_status augment_conf(const vb_node *node, vb_augment *a, vb_error *err)
{
    memset(a, 0, sizeof *a);
    if (node->kind == VB_NODE_SCALAR && (strcmp(node->text, "none") == 0 || strcmp(node->text, "false") == 0))
        return VB_OK;
    vb_params p;
    vb_status st = vb_params_parse(&p, &augment, node, 0, err);
    if (st != VB_OK)
        return st;
    vb_augment_from_params(&p, a);
    vb_params_free(&p);
    return VB_OK;
}

static vb_status cnn_create(const vb_params *p, void **state, vb_error *err)
{
    cnn_state *s = vb_calloc(1, sizeof *s, err);
    if (!s)
        return VB_ERR_NOMEM;
    vb_cnn_train_conf *c = &s->conf;
    vb_status st = vb_cnn_arch_parse(vb_param_node(p, "layers"), &s->arch, err);
    if (st == VB_OK)
        st = optimizer_conf(vb_param_node(p, "optimizer"), &c->opt, err);
    if (st == VB_OK)
        st = schedule_conf(vb_param_node(p, "schedule"), &c->sched, err);
    if (st == VB_OK)
        st = augment_conf(vb_param_node(p, "augment"), &c->aug, err);
    if (st != VB_OK) {
        cnn_destroy(s);
        return st;
    }
    c->epochs = (int)vb_param_int(p, "epochs");
    c->batch = (size_t)vb_param_int(p, "batch");
    c->weight_decay = vb_param_float(p, "weight_decay");
    c->init = vb_param_is(p, "init", "xavier")    ? VB_CNN_INIT_XAVIER
              : vb_param_is(p, "init", "uniform") ? VB_CNN_INIT_UNIFORM
                                                  : VB_CNN_INIT_HE;
    c->early_stopping = (int)vb_param_int(p, "early_stopping");
    c->keep_best = vb_param_bool(p, "keep_best");
    c->name = "cnn";
    c->freeze = (size_t)vb_param_int(p, "freeze");
    /* positions only (the strings are the parameters', not kept) */
    const vb_pvalue *at = vb_param(p, "init_from");
    s->init_at = (vb_pvalue){.given = at->given, .file = at->file, .line = at->line, .col = at->col};
    at = vb_param(p, "freeze");
    s->freeze_at = (vb_pvalue){.given = at->given, .file = at->file, .line = at->line, .col = at->col};
    const char *from = vb_param_str(p, "init_from");
    if (from && *from && !(s->init_from = vb_strdup(from, err))) {
        cnn_destroy(s);
        return VB_ERR_NOMEM;
    }
    size_t weighted = vb_cnn_arch_weighted(&s->arch);
    if (c->freeze && c->freeze >= weighted) {
        vb_status fst = vb_param_fail(p, "freeze", err,
                                      "%zu freezes every layer with weights; the network has %zu (conv, fc, "
                                      "batchnorm) and at least its output layer trains: at most %zu",
                                      c->freeze, weighted, weighted ? weighted - 1 : 0);
        cnn_destroy(s);
        return fst;
    }
    s->output = vb_param_is(p, "output", "sigmoid") ? VB_CNN_SIGMOID : VB_CNN_SOFTMAX;
    vb_ml_thresh_params(p, 1, &s->thresh_mode, &s->thresh_base);
    *state = s;
    return VB_OK;
}

/* ---- the classifier interface ------------------------------------------ */

/* "spec.yaml:12:9: cnn.init_from: " + the message already in err. */
static vb_status at_fail(const vb_pvalue *at, const char *name, vb_status st, vb_error *err)
{
    if (!err || st == VB_ERR_NOMEM)
        return st;
    if (at->given && at->file)
        vb_error_prefix(err, "%s:%d:%d: cnn.%s", at->file, at->line, at->col, name);
    else
        vb_error_prefix(err, "cnn.%s", name);
    err->status = VB_ERR_SPEC;
    return VB_ERR_SPEC;
}

/* The init_from model, checked against this network for images of shape. */
static vb_status read_init(const cnn_state *s, vb_shape shape, vb_cnn_saved *from, vb_error *err)
{
    vb_status st = vb_cnn_saved_read(s->init_from, from, NULL, NULL, err);
    if (st == VB_OK && (st = vb_cnn_transfer_check(&s->arch, shape, from->net, err)) != VB_OK) {
        vb_error_prefix(err, "'%s'", s->init_from);
        vb_cnn_saved_free(from);
    }
    return st == VB_OK ? VB_OK : at_fail(&s->init_at, "init_from", st, err);
}

static vb_status cnn_check(const void *state, size_t d, vb_shape shape, int n_classes, vb_error *err)
{
    const cnn_state *s = state;
    vb_status st = vb_cnn_arch_check(&s->arch, shape, n_classes, err);
    if (st != VB_OK || !s->init_from)
        return st;
    vb_cnn_saved from;
    if ((st = read_init(s, shape, &from, err)) == VB_OK)
        vb_cnn_saved_free(&from);
    return st;
}

/* Sigmoid outputs: the decision thresholds, tuned on the validation rows'
 * probabilities (every one at the base without validation rows). */
static vb_status tune_thresholds(cnn_state *s, const vb_traindata *td, vb_error *err)
{
    const int k = s->net->n_classes;
    if (!(s->thresh = vb_malloc((size_t)k, sizeof *s->thresh, err)))
        return VB_ERR_NOMEM;
    const size_t nv = td->Xval && td->Yval ? td->n_val : 0;
    float *S = NULL;
    if (nv && !(S = vb_malloc(nv, (size_t)k * sizeof *S, err)))
        return VB_ERR_NOMEM;
    vb_status st = nv ? vb_cnn_predict(s->net, td->Xval, nv, NULL, S, err) : VB_OK;
    if (st == VB_OK)
        st = vb_ml_tune_thresholds(S, td->Yval, nv, k, s->thresh_mode, s->thresh_base, s->thresh, err);
    free(S);
    return st;
}

static vb_status cnn_train(void *state, const vb_traindata *td, vb_error *err)
{
    cnn_state *s = state;
    vb_cnn_free(s->net);
    s->net = NULL;
    vb_cnn_history_free(&s->hist);
    free(s->thresh);
    s->thresh = NULL;
    vb_status st = vb_cnn_new(&s->arch, td->shape, td->n_classes, &s->net, err);
    if (st != VB_OK)
        return st;
    s->net->output = s->output;
    vb_cnn_train_conf conf = s->conf;
    if (td->name)
        conf.name = td->name;
    vb_cnn_saved from = {0};
    if (s->init_from && (st = read_init(s, td->shape, &from, err)) != VB_OK)
        return st;
    conf.from = from.net;
    s->init_hash = from.hash;
    s->trained_from = from.net != NULL;
    st = vb_cnn_train(s->net, &conf, td, &s->hist, err);
    vb_cnn_saved_free(&from);
    if (st == VB_OK && s->output == VB_CNN_SIGMOID)
        st = tune_thresholds(s, td, err);
    return st;
}

static vb_status cnn_predict(const void *state, const float *X, size_t n, int *labels, float *scores, vb_error *err)
{
    const cnn_state *s = state;
    if (!s->net)
        return vb_fail(err, VB_ERR_STATE, "cnn: predict before train");
    return vb_cnn_predict(s->net, X, n, labels, scores, err);
}

static vb_status cnn_predict_sets(const void *state, const float *X, size_t n, uint8_t *sets, float *scores,
                                  vb_error *err)
{
    const cnn_state *s = state;
    if (!s->net)
        return vb_fail(err, VB_ERR_STATE, "cnn: predict before train");
    if (!s->thresh)
        return vb_fail(err, VB_ERR_STATE, "cnn: predicts one label per image (output: softmax), not label sets");
    const int k = s->net->n_classes;
    float *S = scores ? scores : vb_malloc(n, (size_t)k * sizeof *S, err);
    if (!S)
        return VB_ERR_NOMEM;
    vb_status st = vb_cnn_predict(s->net, X, n, NULL, S, err);
    if (st == VB_OK)
        vb_ml_apply_thresholds(S, n, k, s->thresh, sets);
    if (S != scores)
        free(S);
    return st;
}

/* 2: the thresholds of a network with sigmoid outputs after the history
 * (1: softmax only; such states still load). */
#define STATE_VERSION 2u

static vb_status cnn_save(const void *state, vb_writer *w, vb_error *err)
{
    const cnn_state *s = state;
    if (!s->net)
        return vb_fail(err, VB_ERR_STATE, "cnn: nothing to save before training");
    vb_write_u32(w, STATE_VERSION);
    vb_status st = vb_cnn_save(s->net, w, err);
    if (st != VB_OK)
        return st;
    const vb_cnn_history *h = &s->hist;
    vb_write_u32(w, (uint32_t)h->best_epoch);
    vb_write_u32(w, (uint32_t)h->stopped_early);
    vb_write_u32(w, (uint32_t)h->diverged_epoch);
    vb_write_f64(w, h->seconds);
    vb_write_f64(w, h->images_per_s);
    vb_write_u32(w, (uint32_t)h->n_epochs);
    for (size_t e = 0; e < h->n_epochs; e++) {
        const vb_epoch *ep = &h->epochs[e];
        vb_write_f64(w, ep->train_loss);
        vb_write_f64(w, ep->train_acc);
        vb_write_f64(w, ep->val_loss);
        vb_write_f64(w, ep->val_acc);
        vb_write_f64(w, ep->lr);
        vb_write_f64(w, ep->seconds);
    }
    if (s->net->output == VB_CNN_SIGMOID)
        vb_write_f32s(w, s->thresh, (size_t)s->net->n_classes);
    return vb_writer_status(w, err);
}

/* Does the saved network have the layers the parameters describe? */
static int same_arch(const vb_cnn_arch *a, const vb_cnn *net)
{
    if (a->n != net->n_layers)
        return 0;
    for (size_t i = 0; i < a->n; i++) {
        const vb_cnn_layer_conf *x = &a->layers[i], *y = &net->layers[i].conf;
        int units = x->kind == VB_CNN_FC && x->units == VB_CNN_CLASSES ? net->n_classes : x->units;
        if (x->kind != y->kind || units != y->units || x->size != y->size || x->stride != y->stride ||
            x->pad != y->pad || x->rate != y->rate || x->momentum != y->momentum || x->eps != y->eps)
            return 0;
    }
    return 1;
}

static vb_status cnn_load(void *state, vb_reader *r, vb_error *err)
{
    cnn_state *s = state;
    uint32_t v, best, early, div, ne = 0;
    vb_cnn *net = NULL;
    vb_cnn_history h = {0};
    float *thresh = NULL;
    const char *what = r->what ? r->what : "model";
    vb_status st = vb_read_u32_range(r, &v, 1, STATE_VERSION, "cnn state version", err);
    if (st == VB_OK)
        st = vb_cnn_load(r, &net, err);
    if (st == VB_OK && !same_arch(&s->arch, net))
        st = vb_fail(err, VB_ERR_FORMAT, "%s: the saved network does not have the layers its parameters list", what);
    if (st == VB_OK && v < 2 && net->output != VB_CNN_SOFTMAX)
        st = vb_fail(err, VB_ERR_FORMAT, "%s: corrupt cnn state (sigmoid outputs in a format 1 state)", what);
    if (st == VB_OK && net->output != s->output)
        st = vb_fail(err, VB_ERR_FORMAT, "%s: the saved network has %s outputs but its parameters say output: %s",
                     what, net->output == VB_CNN_SIGMOID ? "sigmoid" : "softmax",
                     s->output == VB_CNN_SIGMOID ? "sigmoid" : "softmax");
    if (st == VB_OK && (st = vb_read_u32_range(r, &best, 0, 1000000, "best epoch", err)) == VB_OK &&
        (st = vb_read_u32_range(r, &early, 0, 1, "stopped early", err)) == VB_OK &&
        (st = vb_read_u32_range(r, &div, 0, 1000000, "diverged epoch", err)) == VB_OK &&
        (st = vb_read_f64(r, &h.seconds, err)) == VB_OK && (st = vb_read_f64(r, &h.images_per_s, err)) == VB_OK)
        /* 48 bytes per epoch must still be in the input */
        st = vb_read_u32_range(r, &ne, 0, (uint32_t)(vb_reader_left(r) / 48 < 10000 ? vb_reader_left(r) / 48 : 10000),
                               "epoch count", err);
    if (st == VB_OK && ne && !(h.epochs = vb_calloc(ne, sizeof *h.epochs, err)))
        st = VB_ERR_NOMEM;
    for (uint32_t e = 0; e < ne && st == VB_OK; e++) {
        vb_epoch *ep = &h.epochs[e];
        double *f[6] = {&ep->train_loss, &ep->train_acc, &ep->val_loss, &ep->val_acc, &ep->lr, &ep->seconds};
        for (int j = 0; j < 6 && st == VB_OK; j++)
            st = vb_read_f64(r, f[j], err);
    }
    if (st == VB_OK && net->output == VB_CNN_SIGMOID) {
        const size_t k = (size_t)net->n_classes;
        if (!(thresh = vb_malloc(k, sizeof *thresh, err)))
            st = VB_ERR_NOMEM;
        else if ((st = vb_read_f32s_into(r, thresh, k, err)) == VB_OK)
            for (size_t l = 0; l < k && st == VB_OK; l++)
                if (!isfinite(thresh[l]))
                    st = vb_fail(err, VB_ERR_FORMAT, "%s: corrupt cnn state (threshold %zu is not finite)", what, l);
    }
    if (st != VB_OK) {
        vb_cnn_free(net);
        free(h.epochs);
        free(thresh);
        return st;
    }
    h.n_epochs = ne;
    h.best_epoch = (int)best;
    h.stopped_early = (int)early;
    h.diverged_epoch = (int)div;
    vb_cnn_free(s->net);
    vb_cnn_history_free(&s->hist);
    free(s->thresh);
    s->net = net;
    s->hist = h;
    s->thresh = thresh;
    return VB_OK;
}

static void cnn_info_json(const void *state, vb_buf *b)
{
    const cnn_state *s = state;
    if (!s->net)
        return;
    double fwd, train;
    vb_cnn_flops(s->net, &fwd, &train);
    const vb_cnn_history *h = &s->hist;
    vb_buf_printf(b, "\"weights\": %zu, \"mflop_per_image\": ", s->net->n_params);
    vb_buf_double(b, fwd / 1e6);
    vb_buf_printf(b, ", \"epochs_run\": %zu, \"best_epoch\": %d, \"stopped_early\": %s, \"diverged_epoch\": %d, "
                     "\"train_images_per_s\": ",
                  h->n_epochs, h->best_epoch, h->stopped_early ? "true" : "false", h->diverged_epoch);
    vb_buf_double(b, round(h->images_per_s * 10) / 10);
    vb_buf_puts(b, ", \"network\": ");
    vb_buf nb;
    vb_buf_init(&nb);
    vb_cnn_arch_describe(&s->arch, &nb);
    vb_buf_json_str(b, nb.data ? nb.data : "");
    vb_buf_free(&nb);
    if (s->init_from) { /* what it was fine-tuned from: the file, as it was then */
        vb_buf_puts(b, ", \"init_from\": ");
        vb_buf_json_str(b, s->init_from);
        if (s->trained_from) /* known where it was trained, not in a loaded state */
            vb_buf_printf(b, ", \"init_hash\": \"%016llx\"", (unsigned long long)s->init_hash);
    }
    if (s->conf.freeze)
        vb_buf_printf(b, ", \"frozen_layers\": %zu", s->conf.freeze);
    if (!s->thresh)
        return;
    vb_buf_puts(b, ", \"output\": \"sigmoid\", \"thresholds\": [");
    for (int l = 0; l < s->net->n_classes; l++) {
        vb_buf_puts(b, l ? ", " : "");
        vb_buf_double(b, s->thresh[l]);
    }
    vb_buf_puts(b, "]");
}

static size_t cnn_curve(const void *state, const vb_epoch **epochs)
{
    const cnn_state *s = state;
    *epochs = s->hist.epochs;
    return s->hist.n_epochs;
}

static const vb_cnn *cnn_net(const void *state) { return ((const cnn_state *)state)->net; }

static void cnn_dims(const void *state, size_t *d, int *n_classes)
{
    const cnn_state *s = state;
    *d = s->net ? (size_t)s->net->in.w * (size_t)s->net->in.h * (size_t)s->net->in.c : 0;
    *n_classes = s->net ? s->net->n_classes : 0;
}

const vb_classifier_vt vb_clf_cnn = {
    .info = {.name = "cnn",
             .help = "a small convolutional network on the raw image rows (softmax output, or sigmoid outputs for "
                     "label sets)",
             .doc = "Takes the preprocessed pixels (no features, or features: [raw], and no postprocess); images "
                    "of one size. Rows are standardised per channel with the training mean and sd. "
                    "Convolutions are im2col + OpenBLAS sgemm; the work is split over OpenMP threads in pieces "
                    "fixed by the batch size, so results do not depend on the thread count. Validation rows "
                    "(split.validation) give per-epoch validation accuracy, early stopping and the best "
                    "epoch's weights. With output: sigmoid (multilabel data) each of the last layer's outputs is one "
                    "label's probability, the loss is binary cross-entropy summed over the labels and averaged over "
                    "the images, the epochs' accuracy (train and validation, early stopping, keep_best) is per-label "
                    "accuracy (1 - Hamming loss) with every threshold at 0.5, and after training the decision "
                    "thresholds are tuned on the validation rows (threshold, threshold_value); predict gives each "
                    "image's most probable label with the sigmoid scores. A NaN or infinite loss, or an epoch ending "
                    "with weights that are not finite "
                    "or give its last batch non-finite outputs, stops training with the weights of the last "
                    "epoch that ended finite and a warning (a failure when no epoch did).",
             .params = cnn_params,
             .n_params = sizeof cnn_params / sizeof cnn_params[0],
             .groups = cnn_groups,
             .n_groups = sizeof cnn_groups / sizeof cnn_groups[0]},
    .flags = VB_CLF_PROBA | VB_CLF_IMAGE | VB_CLF_MULTILABEL,
    .create = cnn_create,
    .train = cnn_train,
    .predict = cnn_predict,
    .save = cnn_save,
    .load = cnn_load,
    .info_json = cnn_info_json,
    .destroy = cnn_destroy,
    .check = cnn_check,
    .curve = cnn_curve,
    .dims = cnn_dims,
    .predict_sets = cnn_predict_sets,
    .multilabel_if = {"output", "sigmoid"},
    .net = cnn_net,
};
