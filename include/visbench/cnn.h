/* cnn: a small convolutional network library (layers, network, optimisers,
 * training loop) behind the `cnn` classifier.
 *
 * Tensors are float32, image-major: a batch of n images of shape (c, h, w)
 * is n x c x h x w, the same layout as the raw extractor's rows, so a
 * training matrix is a batch as it stands and "flatten" costs nothing.
 *
 * Convolutions are im2col + GEMM (OpenBLAS sgemm, one image at a time per
 * thread); fully connected layers are GEMMs over the batch. Work is split
 * over OpenMP threads in pieces fixed by the batch size (never by the
 * thread count), with OpenBLAS single-threaded inside them, so results do
 * not depend on the number of threads and the two thread pools never
 * compete for the cores.
 *
 *     vb_cnn_arch arch;                    // from the spec's layers list
 *     vb_cnn_arch_parse(node, &arch, &err);
 *     vb_cnn *net;
 *     vb_cnn_new(&arch, shape, n_classes, &net, &err);
 *     vb_cnn_history h;
 *     vb_cnn_train(net, &conf, &td, &h, &err);
 *     vb_cnn_predict(net, X, n, labels, probs, &err);
 */
#ifndef VISBENCH_CNN_H
#define VISBENCH_CNN_H

#include "visbench/augment.h"
#include "visbench/node.h"
#include "visbench/param.h"
#include "visbench/preprocess.h"
#include "visbench/serial.h"
#include "visbench/traindata.h"

/* ---- architecture ------------------------------------------------------ */

typedef enum vb_cnn_kind {
    VB_CNN_CONV,
    VB_CNN_MAXPOOL,
    VB_CNN_AVGPOOL,
    VB_CNN_RELU,
    VB_CNN_FC,
    VB_CNN_DROPOUT,
    VB_CNN_BATCHNORM,
    VB_CNN_FLATTEN,
    VB_CNN_N_KINDS
} vb_cnn_kind;

/* "conv", "maxpool", ... (the names the spec uses). */
const char *vb_cnn_kind_name(vb_cnn_kind k);
/* Each layer kind's parameter table, in vb_cnn_kind order. */
extern const vb_plugin *const vb_cnn_layer_plugins[VB_CNN_N_KINDS];

#define VB_CNN_CLASSES 0 /* fc units: the dataset's class count ("fc: classes") */

/* One layer as written in the spec. */
typedef struct vb_cnn_layer_conf {
    vb_cnn_kind kind;
    int units;             /* conv: filters; fc: outputs (VB_CNN_CLASSES = class count) */
    int size, stride, pad; /* conv: kernel; pools: window (pad 0) */
    float rate;            /* dropout: probability of dropping a value */
    float momentum, eps;   /* batchnorm: running-average weight of a new batch, variance floor */
    const char *file;      /* position in the spec, for messages; NULL when unknown */
    int line, col;
} vb_cnn_layer_conf;

typedef struct vb_cnn_arch {
    size_t n;
    vb_cnn_layer_conf *layers;
} vb_cnn_arch;

/* Parses a layers list (a sequence of "relu" / "maxpool: 2" / "conv: {...}"
 * entries), each layer's parameters against its kind's table
 * (vb_cnn_layer_plugins; "maxpool: 2" sets its primary parameter). Errors
 * name the file, line and column. arch is owned by the caller
 * (vb_cnn_arch_free). */
vb_status vb_cnn_arch_parse(const vb_node *layers, vb_cnn_arch *arch, vb_error *err);
void vb_cnn_arch_free(vb_cnn_arch *arch);
/* Infers every layer's shape for images of shape in and checks that each
 * fits and that the last gives n_classes values. VB_ERR_SPEC with a message
 * naming the layer (number, kind, spec position) otherwise. */
vb_status vb_cnn_arch_check(const vb_cnn_arch *arch, vb_shape in, int n_classes, vb_error *err);
/* "conv 32x5x5 pad 2, relu, maxpool 2, ..." */
void vb_cnn_arch_describe(const vb_cnn_arch *arch, vb_buf *b);
/* Layers with weights (conv, fc, batchnorm): what freeze counts. */
size_t vb_cnn_arch_weighted(const vb_cnn_arch *arch);

/* ---- network ----------------------------------------------------------- */

/* A layer with its shapes and where its numbers live. Vectors (after fc or
 * flatten) have shape (w 1, h 1, c n). Weights and bias of a layer are
 * contiguous: b_off = w_off + n_w. */
typedef struct vb_cnn_layer {
    vb_cnn_layer_conf conf; /* units resolved (no VB_CNN_CLASSES) */
    vb_shape in, out;
    size_t n_in, n_out; /* values per image */
    size_t w_off, n_w;  /* conv: units x (c size size); fc: units x n_in; batchnorm: gamma */
    size_t b_off, n_b;  /* bias; batchnorm: beta */
    size_t s_off;       /* batchnorm: running mean (c) then running variance (c) in stats */
    int frozen;         /* training leaves its weights, bias and statistics as they are (vb_cnn_freeze) */
} vb_cnn_layer;

/* The output layer: a softmax over the classes (one label per image), or a
 * sigmoid per label (label sets, multilabel data). */
typedef enum vb_cnn_output { VB_CNN_SOFTMAX, VB_CNN_SIGMOID } vb_cnn_output;

typedef struct vb_cnn {
    vb_shape in;
    int n_classes;
    vb_cnn_output output; /* VB_CNN_SOFTMAX from vb_cnn_new; set it before training */
    size_t n_layers;
    vb_cnn_layer *layers;
    size_t n_params, n_stats;
    float *params; /* every weight and bias */
    float *stats;  /* batchnorm running statistics */
    float *mean, *std; /* input standardisation, per channel (identity until fitted) */
} vb_cnn;

/* Builds the network (shapes checked as vb_cnn_arch_check does); weights
 * are zero until vb_cnn_init. */
vb_status vb_cnn_new(const vb_cnn_arch *arch, vb_shape in, int n_classes, vb_cnn **out, vb_error *err);
void vb_cnn_free(vb_cnn *net);

typedef enum vb_cnn_init_kind { VB_CNN_INIT_HE, VB_CNN_INIT_XAVIER, VB_CNN_INIT_UNIFORM } vb_cnn_init_kind;
/* Gaussian weights (He: sd sqrt(2 / fan_in); Xavier: sd sqrt(2 / (fan_in +
 * fan_out))) and zero biases, or (uniform, PyTorch's default for conv and
 * linear layers) weights and biases uniform in +-1 / sqrt(fan_in); from
 * vb_rng seeded with seed; batchnorm gamma 1,
 * beta 0, running mean 0, variance 1. VB_ERR_NOMEM when the RNG cannot be made. */
vb_status vb_cnn_init(vb_cnn *net, vb_cnn_init_kind kind, uint64_t seed, vb_error *err);
/* ---- names and reuse ----------------------------------------------------
 * A layer's name is its kind and its place among the layers of that kind,
 * from 1: conv1, relu1, maxpool1, conv2, ..., fc1, relu3, fc2. */
void vb_cnn_layer_name(const vb_cnn *net, size_t l, char *buf, size_t size);
/* What layer l is: "conv 32 of 5x5 pad 2", "fc 10 (classes)". */
void vb_cnn_layer_describe(const vb_cnn *net, size_t l, vb_buf *b);
/* The layer `which` names (0-based into *layer): a name (conv2), a number
 * from 1, or NULL for the layer before the output layer (the last).
 * VB_ERR_PARAM with the network's layer names otherwise. */
vb_status vb_cnn_find_layer(const vb_cnn *net, const char *which, size_t *layer, vb_error *err);
/* Can a network of arch for images of shape in start from src's weights?
 * The same input shape and the same layers, but for the output layer's
 * units (the last layer with weights: the class count). VB_ERR_SPEC naming
 * both shapes, or the first layer that differs. */
vb_status vb_cnn_transfer_check(const vb_cnn_arch *arch, vb_shape in, const vb_cnn *src, vb_error *err);
/* Copies src's weights, biases and batchnorm statistics into dst, layer by
 * layer where kinds and sizes agree, except dst's output layer (its last
 * with weights), and src's input standardisation: dst starts where src
 * ended, with its own output layer. */
void vb_cnn_transfer(vb_cnn *dst, const vb_cnn *src);
/* Freezes the first n layers with weights (and unfreezes the others). */
void vb_cnn_freeze(vb_cnn *net, size_t n);

/* Multiply-adds x 2 per image: a forward pass, and a training step
 * (forward + backward, without the input gradient of the first layer). */
void vb_cnn_flops(const vb_cnn *net, double *forward, double *train);

/* ---- workspace and passes (what training is made of; tests use it) ----- */

typedef struct vb_cnn_ws vb_cnn_ws;

/* Buffers for batches of up to `batch` images: activations, and with train
 * also their gradients, the parameter gradient and the caches the
 * backward pass needs; input_grad also keeps d loss / d input. Allocated
 * once; no pass allocates. */
vb_status vb_cnn_ws_new(const vb_cnn *net, size_t batch, int train, int input_grad, vb_cnn_ws **out,
                        vb_error *err);
void vb_cnn_ws_free(vb_cnn_ws *ws);
size_t vb_cnn_ws_batch(const vb_cnn_ws *ws);
float *vb_cnn_ws_input(vb_cnn_ws *ws);          /* batch x n_in of layer 0: fill before forward */
float *vb_cnn_ws_output(vb_cnn_ws *ws);         /* batch x n_out of the last layer (logits) */
float *vb_cnn_ws_output_grad(vb_cnn_ws *ws);    /* d loss / d output: fill before backward */
const float *vb_cnn_ws_input_grad(const vb_cnn_ws *ws); /* after backward (input_grad only) */
float *vb_cnn_ws_param_grad(vb_cnn_ws *ws);     /* n_params, after backward */
/* Dropout mask of layer l (batch x n_in values: 0 or 1 / (1 - rate)), NULL
 * for other layers; vb_cnn_ws_draw_masks draws new ones. */
float *vb_cnn_ws_mask(vb_cnn_ws *ws, size_t l);
/* The output of layer l (batch x n_out) after a forward pass that ran it.
 * A relu followed by a 2x2 maxpool is fused with it when both run, and
 * its own output is then not stored: vb_cnn_forward_to(.., l + 1) stores
 * it. */
const float *vb_cnn_ws_act(const vb_cnn_ws *ws, size_t l);
void vb_cnn_ws_draw_masks(vb_cnn_ws *ws, const vb_cnn *net, size_t n, vb_rng *rng);

/* Forward pass of n images (n <= batch) from the input buffer. train:
 * batchnorm uses batch statistics and dropout the masks; otherwise running
 * statistics and no dropout. */
void vb_cnn_forward(const vb_cnn *net, vb_cnn_ws *ws, size_t n, int train);
/* The same through the first `layers` layers only. */
void vb_cnn_forward_to(const vb_cnn *net, vb_cnn_ws *ws, size_t n, int train, size_t layers);
/* Backward pass after a training forward of the same n images: parameter
 * gradients (overwritten, not accumulated) and, with input_grad, the
 * input gradient. */
void vb_cnn_backward(const vb_cnn *net, vb_cnn_ws *ws, size_t n);
/* Folds the last training forward's batch statistics into the running ones. */
void vb_cnn_update_stats(vb_cnn *net, const vb_cnn_ws *ws, size_t n);

/* Softmax cross-entropy of logits (n x k) against labels y. Returns the sum
 * of the n losses; dlogits (if not NULL) receives d(mean loss) / d logits,
 * probs (if not NULL) the probabilities, *correct (if not NULL) the number
 * of rows whose largest logit is the label's. */
double vb_cnn_xent(const float *logits, const int *y, size_t n, int k, float *dlogits, float *probs,
                   size_t *correct);
/* Binary cross-entropy of logits (n x k), each through its own sigmoid,
 * against label sets Y (n x k bytes, nonzero = the label is there). A row's
 * loss is the sum over its k labels of max(z, 0) - z y + log1p(exp(-|z|))
 * (-log sigmoid(z) for y = 1, -log(1 - sigmoid(z)) for y = 0, without
 * overflow); the return is the sum of the n row losses, so that training
 * minimises their mean as with vb_cnn_xent. dlogits (if not NULL) receives
 * d(mean row loss) / d logits = (sigmoid(z) - y) / n, probs (if not NULL)
 * the sigmoids, *correct (if not NULL) the number of the n k (row, label)
 * pairs where z > 0 (sigmoid > 1/2) exactly when the label is there. */
double vb_cnn_bce(const float *logits, const uint8_t *Y, size_t n, int k, float *dlogits, float *probs,
                  size_t *correct);

/* ---- optimisers and schedules ------------------------------------------ */

typedef enum vb_cnn_opt_kind { VB_CNN_SGD, VB_CNN_ADAM } vb_cnn_opt_kind;

typedef struct vb_cnn_opt_conf {
    vb_cnn_opt_kind kind;
    double lr;
    double momentum; /* sgd */
    int nesterov;    /* sgd */
    double beta1, beta2, eps; /* adam */
} vb_cnn_opt_conf;

/* Optimiser state for net's parameters. weight_decay adds wd * w to the
 * gradient of conv and fc weights (not biases, not batchnorm), as torch's
 * SGD and Adam (not AdamW) do for the parameters they are given. */
typedef struct vb_cnn_opt vb_cnn_opt;
vb_status vb_cnn_opt_new(const vb_cnn *net, const vb_cnn_opt_conf *conf, double weight_decay, vb_cnn_opt **out,
                         vb_error *err);
void vb_cnn_opt_free(vb_cnn_opt *o);
/* One update of net->params from grad with learning rate lr (torch's
 * update rules: SGD with momentum buffer b = m b + g; Adam with bias
 * correction). */
void vb_cnn_opt_step(vb_cnn_opt *o, vb_cnn *net, const float *grad, double lr);

typedef enum vb_cnn_sched_kind { VB_CNN_SCHED_NONE, VB_CNN_SCHED_STEP, VB_CNN_SCHED_COSINE } vb_cnn_sched_kind;
typedef struct vb_cnn_sched {
    vb_cnn_sched_kind kind;
    int every;     /* step: epochs between decays */
    double gamma;  /* step: factor */
    double min_lr; /* cosine: the floor */
} vb_cnn_sched;

/* Learning rate of epoch e (0-based) of `epochs`: step: lr0 gamma^floor(e /
 * every); cosine: min + (lr0 - min) (1 + cos(pi e / epochs)) / 2. */
double vb_cnn_sched_lr(const vb_cnn_sched *s, double lr0, int epoch, int epochs);

/* ---- training ---------------------------------------------------------- */

/* On-the-fly augmentation of training images (augment.h), drawn for
 * every image in every epoch, in input units before standardisation:
 * out = standardise(vb_augment_planes(x, a)) for one image x of net's
 * input shape. */
void vb_cnn_augment_image(const vb_cnn *net, const float *x, const vb_aug_draw *a, float *out);

typedef struct vb_cnn_train_conf {
    int epochs;
    size_t batch;
    vb_cnn_opt_conf opt;
    double weight_decay;
    vb_cnn_sched sched;
    vb_cnn_init_kind init;
    vb_augment aug;
    int early_stopping; /* patience in epochs on validation accuracy; 0 = off */
    int keep_best;      /* with validation rows: end with the best epoch's weights */
    const char *name;   /* for progress and log lines */
    /* fine-tuning: start from this network's weights and standardisation
     * (vb_cnn_transfer; the output layer initialised as `init` says), and
     * freeze its first `freeze` layers with weights */
    const vb_cnn *from;
    size_t freeze;
} vb_cnn_train_conf;

typedef struct vb_cnn_history {
    vb_epoch *epochs; /* one per finished epoch */
    size_t n_epochs;
    int best_epoch;     /* 1-based epoch whose weights the network holds */
    int stopped_early;  /* early stopping ended training */
    int diverged_epoch; /* the loss became NaN/inf in this epoch (0 = never) */
    double seconds;     /* training time, validation excluded */
    double images_per_s;
} vb_cnn_history;

void vb_cnn_history_free(vb_cnn_history *h);

/* Trains net on td (rows are images of net->in; labels in [0, n_classes)):
 * fits the input standardisation, initialises the weights from td->seed,
 * then runs mini-batch epochs with validation after each when td has
 * validation rows. The loss follows net->output: softmax cross-entropy on
 * td->y (td->Y must be NULL), or binary cross-entropy (vb_cnn_bce) on the
 * label sets td->Y and td->Yval (required; y and yval are not read). With
 * sigmoid outputs an epoch's train_acc and val_acc are per-label accuracy,
 * 1 - Hamming loss, with every threshold at 1/2, and early stopping and
 * keep_best go by that. A NaN or infinite loss stops training: when an epoch
 * had finished, the network keeps the weights of the last good epoch (the
 * best one with validation and keep_best), hist->diverged_epoch says when,
 * a warning is logged and the return is VB_OK; in the first epoch it is
 * VB_ERR_NUMERIC. hist is filled in either case (vb_cnn_history_free). */
vb_status vb_cnn_train(vb_cnn *net, const vb_cnn_train_conf *conf, const vb_traindata *td, vb_cnn_history *hist,
                       vb_error *err);

/* Layer `layer`'s outputs (0-based) for n rows, standardised on the fly,
 * in inference mode and in the batches vb_cnn_predict uses (so the last
 * layer's are the logits it sees): row i at out + i * ldo. */
vb_status vb_cnn_activations(const vb_cnn *net, const float *X, size_t n, size_t layer, float *out, size_t ldo,
                             vb_error *err);

/* Batched inference on n standardised-on-the-fly rows: labels (n: the
 * largest output) and probabilities (n x n_classes, may be NULL: a softmax
 * over the classes, or with sigmoid outputs each label's own sigmoid). */
vb_status vb_cnn_predict(const vb_cnn *net, const float *X, size_t n, int *labels, float *probs, vb_error *err);

/* Serialises the architecture, the output kind, the input standardisation,
 * the weights and the batchnorm statistics; vb_cnn_load rebuilds the same
 * network (exact round trip; a network of format 1, from before sigmoid
 * outputs, loads as softmax) or fails with VB_ERR_FORMAT on truncated or
 * corrupt input. */
vb_status vb_cnn_save(const vb_cnn *net, vb_writer *w, vb_error *err);
vb_status vb_cnn_load(vb_reader *r, vb_cnn **out, vb_error *err);

/* ---- saved models: the cnn extractor and init_from -----------------------
 * A model file that `visbench train` wrote for a cnn pipeline, as the
 * plug-ins that reuse it see it: its network, and its front, everything it
 * does to an image before the network (its preprocessing: a cnn's rows are
 * the preprocessed images themselves). Model files are the model layer's,
 * above this one: it installs the parser (vb_model_install_hooks). */
typedef struct vb_cnn_saved {
    const vb_cnn *net;         /* the trained network */
    const vb_prep_chain *prep; /* the model's preprocessing */
    vb_shape in;               /* the images it was trained on, before preprocessing */
    uint64_t hash;             /* vb_hash64 of the file's bytes */
    void *owner;               /* the parser's: holds net and prep */
    void (*release)(void *owner);
} vb_cnn_saved;

/* Parses a model file's bytes (name for messages) into out; VB_ERR_FORMAT
 * when it is corrupt or its classifier is not a cnn. */
typedef vb_status (*vb_cnn_saved_parser)(const void *data, size_t len, const char *name, vb_cnn_saved *out,
                                         vb_error *err);
void vb_cnn_set_saved_parser(vb_cnn_saved_parser parse);
/* Through the installed parser (VB_ERR_STATE when there is none); hash set. */
vb_status vb_cnn_saved_parse(const void *data, size_t len, const char *name, vb_cnn_saved *out, vb_error *err);
/* Reads and parses the file at path; *data and *len (when data is not
 * NULL) get its bytes (malloc'ed). */
vb_status vb_cnn_saved_read(const char *path, vb_cnn_saved *out, char **data, size_t *len, vb_error *err);
void vb_cnn_saved_free(vb_cnn_saved *s);

#endif
