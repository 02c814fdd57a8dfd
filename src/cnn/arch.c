/* Network architecture: the layer kinds and their parameter tables, the
 * spec's layers list, and shape inference with messages that point at the
 * spec. */
#include "visbench/cnn.h"
#include "internal.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the layer kinds and their parameters ------------------------------ */

static const vb_param_def conv_params[] = {
    {.name = "filters", .type = VB_PT_INT, .min = 1, .max = VB_CNN_MAX_UNITS,
     .flags = VB_PF_REQUIRED | VB_PF_PRIMARY, .help = "output channels, one filter over all input channels each"},
    {.name = "size", .type = VB_PT_INT, .min = 1, .max = VB_CNN_MAX_SIDE, .flags = VB_PF_REQUIRED,
     .help = "side of the square kernel"},
    {.name = "stride", .type = VB_PT_INT, .def = "1", .min = 1, .max = VB_CNN_MAX_SIDE,
     .help = "step between kernel positions"},
    {.name = "pad", .type = VB_PT_INT, .def = "0", .min = 0, .max = VB_CNN_MAX_SIDE,
     .help = "zeros around the image, on each side; less than size ((size - 1) / 2 keeps the image size)"},
};

static const vb_param_def pool_params[] = {
    {.name = "size", .type = VB_PT_INT, .def = "2", .min = 1, .max = VB_CNN_MAX_SIDE, .flags = VB_PF_PRIMARY,
     .help = "side of the square window"},
    {.name = "stride", .type = VB_PT_INT, .min = 1, .max = VB_CNN_MAX_SIDE,
     .help = "step between windows (default: size, windows side by side)"},
};

static const vb_param_def fc_params[] = {
    {.name = "units", .type = VB_PT_INT, .min = 1, .max = VB_CNN_MAX_UNITS, .choices = "classes",
     .flags = VB_PF_REQUIRED | VB_PF_PRIMARY, .help = "outputs; classes = the dataset's class count"},
};

static const vb_param_def dropout_params[] = {
    {.name = "rate", .type = VB_PT_FLOAT, .def = "0.5", .min = 0, .max = 1, .flags = VB_PF_PRIMARY | VB_PF_MAX_OPEN,
     .help = "probability of dropping a value (the others are scaled by 1 / (1 - rate))"},
};

static const vb_param_def batchnorm_params[] = {
    {.name = "momentum", .type = VB_PT_FLOAT, .def = "0.1", .min = 0, .max = 1, .flags = VB_PF_MIN_OPEN,
     .help = "weight of a new batch in the running mean and variance"},
    {.name = "eps", .type = VB_PT_FLOAT, .def = "1e-5", .min = 0, .max = 1, .flags = VB_PF_MIN_OPEN,
     .help = "added to the variance"},
};

/* In vb_cnn_kind order: a layer's kind is its index. */
static const vb_plugin layer_plugins[VB_CNN_N_KINDS] = {
    [VB_CNN_CONV] = {.name = "conv", .help = "2-d convolution over all input channels, a bias per filter",
                     VB_PARAMS(conv_params)},
    [VB_CNN_MAXPOOL] = {.name = "maxpool", .help = "max pooling: the largest value of each window, per channel",
                        VB_PARAMS(pool_params)},
    [VB_CNN_AVGPOOL] = {.name = "avgpool", .help = "average pooling: the mean of each window, per channel",
                        VB_PARAMS(pool_params)},
    [VB_CNN_RELU] = {.name = "relu", .help = "rectified linear unit, max(x, 0)"},
    [VB_CNN_FC] = {.name = "fc", .help = "fully connected layer; its outputs are a vector (an image is flattened "
                                         "first)", VB_PARAMS(fc_params)},
    [VB_CNN_DROPOUT] = {.name = "dropout", .help = "dropout: in training, each value is dropped (set to 0) with "
                                                   "probability rate; nothing when predicting",
                        VB_PARAMS(dropout_params)},
    [VB_CNN_BATCHNORM] = {.name = "batchnorm", .help = "batch normalisation per channel (per value after fc or "
                                                       "flatten) with a learnt scale and shift: batch statistics "
                                                       "in training, running ones when predicting",
                          VB_PARAMS(batchnorm_params)},
    [VB_CNN_FLATTEN] = {.name = "flatten", .help = "the image as one vector of values"},
};

const vb_plugin *const vb_cnn_layer_plugins[VB_CNN_N_KINDS] = {
    &layer_plugins[VB_CNN_CONV],      &layer_plugins[VB_CNN_MAXPOOL], &layer_plugins[VB_CNN_AVGPOOL],
    &layer_plugins[VB_CNN_RELU],      &layer_plugins[VB_CNN_FC],      &layer_plugins[VB_CNN_DROPOUT],
    &layer_plugins[VB_CNN_BATCHNORM], &layer_plugins[VB_CNN_FLATTEN],
};

const char *vb_cnn_kind_name(vb_cnn_kind k) { return k < VB_CNN_N_KINDS ? layer_plugins[k].name : "?"; }

void vb_cnn_conf_defaults(vb_cnn_layer_conf *c, vb_cnn_kind kind)
{
    memset(c, 0, sizeof *c);
    c->kind = kind;
    c->stride = 1;
    c->rate = 0.5f;
    c->momentum = 0.1f;
    c->eps = 1e-5f;
    if (kind == VB_CNN_MAXPOOL || kind == VB_CNN_AVGPOOL)
        c->size = c->stride = 2;
}

/* ---- parsing ----------------------------------------------------------- */

/* The layer's parameters into c (the other fields keep their defaults). */
static vb_status layer_conf(const vb_params *p, vb_cnn_layer_conf *c, vb_error *err)
{
    switch (c->kind) {
    case VB_CNN_CONV:
        c->units = (int)vb_param_int(p, "filters");
        c->size = (int)vb_param_int(p, "size");
        c->stride = (int)vb_param_int(p, "stride");
        c->pad = (int)vb_param_int(p, "pad");
        if (c->pad >= c->size) {
            const vb_pvalue *at = vb_param(p, "pad"); /* given: the default 0 is smaller */
            return vb_fail(err, VB_ERR_SPEC,
                           "%s:%d:%d: conv.pad = %d must be smaller than size = %d (pad (size - 1) / 2 keeps the "
                           "image size)",
                           at->file, at->line, at->col, c->pad, c->size);
        }
        break;
    case VB_CNN_MAXPOOL:
    case VB_CNN_AVGPOOL:
        c->size = (int)vb_param_int(p, "size");
        c->stride = vb_param(p, "stride")->given ? (int)vb_param_int(p, "stride") : c->size;
        break;
    case VB_CNN_FC:
        c->units = vb_param_str(p, "units") ? VB_CNN_CLASSES : (int)vb_param_int(p, "units");
        break;
    case VB_CNN_DROPOUT:
        c->rate = (float)vb_param_float(p, "rate");
        break;
    case VB_CNN_BATCHNORM:
        c->momentum = (float)vb_param_float(p, "momentum");
        c->eps = (float)vb_param_float(p, "eps");
        break;
    default:
        break;
    }
    return VB_OK;
}

static vb_status parse_layer(const vb_node *item, size_t idx, vb_cnn_layer_conf *c, vb_error *err)
{
    const vb_node *name, *value;
    if (vb_node_entry(item, "cnn layer", &name, &value, NULL) == VB_OK && name->kind == VB_NODE_SCALAR) {
        if (strcmp(name->text, "softmax") == 0)
            return vb_node_fail(name, err, "cnn layer %zu: softmax is part of the loss (softmax cross-entropy on "
                                           "the last layer's outputs); remove it", idx);
        if (strcmp(name->text, "sigmoid") == 0)
            return vb_node_fail(name, err, "cnn layer %zu: sigmoid is part of the loss (give the cnn output: "
                                           "sigmoid for a sigmoid per label); remove it", idx);
    }
    vb_params p;
    const void *vt;
    vb_status st = vb_params_parse_entry(&p, (const void *const *)vb_cnn_layer_plugins, VB_CNN_N_KINDS, "cnn layer",
                                         item, 0, &vt, err);
    if (st != VB_OK)
        return st;
    vb_cnn_conf_defaults(c, (vb_cnn_kind)((const vb_plugin *)vt - layer_plugins));
    c->file = item->file;
    c->line = item->line;
    c->col = item->col;
    st = layer_conf(&p, c, err);
    vb_params_free(&p);
    return st;
}

vb_status vb_cnn_arch_parse(const vb_node *layers, vb_cnn_arch *arch, vb_error *err)
{
    memset(arch, 0, sizeof *arch);
    if (!layers)
        return vb_fail(err, VB_ERR_SPEC, "cnn.layers is missing");
    if (layers->kind != VB_NODE_SEQ)
        return vb_node_fail(layers, err, "cnn.layers must be a list of layers, e.g. [conv: {filters: 32, size: 5}, "
                                         "relu, maxpool: 2, fc: classes]");
    if (layers->n == 0)
        return vb_node_fail(layers, err, "cnn.layers is empty; the network needs at least one layer (fc: classes)");
    if (layers->n > VB_CNN_MAX_LAYERS)
        return vb_node_fail(layers, err, "cnn.layers has %zu layers; at most %d", layers->n, VB_CNN_MAX_LAYERS);
    if (!(arch->layers = vb_calloc(layers->n, sizeof *arch->layers, err)))
        return VB_ERR_NOMEM;
    arch->n = layers->n;
    for (size_t i = 0; i < layers->n; i++) {
        vb_status st = parse_layer(layers->items[i], i + 1, &arch->layers[i], err);
        if (st != VB_OK) {
            vb_cnn_arch_free(arch);
            return st;
        }
    }
    return VB_OK;
}

void vb_cnn_arch_free(vb_cnn_arch *arch)
{
    if (!arch)
        return;
    free(arch->layers);
    arch->layers = NULL;
    arch->n = 0;
}

/* ---- shapes ------------------------------------------------------------ */

static void describe_layer(const vb_cnn_layer_conf *c, int n_classes, vb_buf *b)
{
    const char *k = layer_plugins[c->kind].name;
    switch (c->kind) {
    case VB_CNN_CONV:
        vb_buf_printf(b, "conv %d of %dx%d", c->units, c->size, c->size);
        if (c->stride != 1)
            vb_buf_printf(b, " stride %d", c->stride);
        if (c->pad)
            vb_buf_printf(b, " pad %d", c->pad);
        break;
    case VB_CNN_MAXPOOL:
    case VB_CNN_AVGPOOL:
        vb_buf_printf(b, "%s %d", k, c->size);
        if (c->stride != c->size)
            vb_buf_printf(b, " stride %d", c->stride);
        break;
    case VB_CNN_FC:
        if (c->units == VB_CNN_CLASSES)
            vb_buf_printf(b, n_classes > 0 ? "fc %d (classes)" : "fc classes", n_classes);
        else
            vb_buf_printf(b, "fc %d", c->units);
        break;
    case VB_CNN_DROPOUT:
        vb_buf_printf(b, "dropout %g", (double)c->rate);
        break;
    default:
        vb_buf_puts(b, k);
    }
}

void vb_cnn_arch_describe(const vb_cnn_arch *arch, vb_buf *b)
{
    for (size_t i = 0; i < arch->n; i++) {
        if (i)
            vb_buf_puts(b, ", ");
        describe_layer(&arch->layers[i], 0, b);
    }
}

/* "file:line:col: cnn layer 4 (conv 64 of 5x5): " + message. */
static vb_status layer_fail(const vb_cnn_layer_conf *c, size_t idx, int n_classes, vb_error *err, const char *fmt,
                            ...) VB_PRINTF(5, 6);
static vb_status layer_fail(const vb_cnn_layer_conf *c, size_t idx, int n_classes, vb_error *err, const char *fmt,
                            ...)
{
    char msg[700];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    vb_buf d;
    vb_buf_init(&d);
    describe_layer(c, n_classes, &d);
    vb_status st;
    if (c->file && c->line > 0)
        st = vb_fail(err, VB_ERR_SPEC, "%s:%d:%d: cnn layer %zu (%s): %s", c->file, c->line, c->col, idx,
                     d.data ? d.data : "", msg);
    else
        st = vb_fail(err, VB_ERR_SPEC, "cnn layer %zu (%s): %s", idx, d.data ? d.data : "", msg);
    vb_buf_free(&d);
    return st;
}

static void shape_text(vb_shape s, int flat, char *buf, size_t len)
{
    if (flat)
        snprintf(buf, len, "%d values", s.c);
    else
        snprintf(buf, len, "%dx%dx%d (w x h x channels)", s.w, s.h, s.c);
}

vb_status vb_cnn_infer(const vb_cnn_arch *arch, vb_shape in, int n_classes, vb_cnn_layer *out, vb_error *err)
{
    if (in.w <= 0 || in.h <= 0 || in.c <= 0)
        return vb_fail(err, VB_ERR_SPEC,
                       "cnn needs images of one size (got %dx%dx%d); add a resize to preprocess, and give the "
                       "pipeline no features (or features: [raw]) and no postprocess",
                       in.w, in.h, in.c);
    if (n_classes < 2)
        return vb_fail(err, VB_ERR_SPEC, "cnn needs at least two classes, got %d", n_classes);
    vb_shape s = in;
    int flat = 0; /* s is a vector from fc or flatten */
    size_t params = 0, stats = 0;
    for (size_t i = 0; i < arch->n; i++) {
        const vb_cnn_layer_conf *c = &arch->layers[i];
        size_t idx = i + 1;
        char have[96];
        shape_text(s, flat, have, sizeof have);
        vb_shape o = s;
        size_t nw = 0, nb = 0, ns = 0, n_in = (size_t)s.w * s.h * s.c;
        switch (c->kind) {
        case VB_CNN_CONV:
            if (s.w + 2 * c->pad < c->size || s.h + 2 * c->pad < c->size) {
                if (flat)
                    return layer_fail(c, idx, n_classes, err,
                                      "gets a vector of %d values (after fc or flatten), not an image; put "
                                      "convolutions before them",
                                      s.c);
                return layer_fail(c, idx, n_classes, err,
                                  "needs an input of at least %dx%d%s, but gets %s; lower size, add pad, or "
                                  "remove a pooling layer before it",
                                  c->size - 2 * c->pad, c->size - 2 * c->pad, c->pad ? " (with its padding)" : "",
                                  have);
            }
            o.w = (s.w + 2 * c->pad - c->size) / c->stride + 1;
            o.h = (s.h + 2 * c->pad - c->size) / c->stride + 1;
            o.c = c->units;
            if (!vb_mul_ok((size_t)c->units, (size_t)s.c * c->size * c->size, &nw))
                return layer_fail(c, idx, n_classes, err, "too many weights");
            nb = (size_t)c->units;
            break;
        case VB_CNN_MAXPOOL:
        case VB_CNN_AVGPOOL:
            if (s.w < c->size || s.h < c->size) {
                if (flat)
                    return layer_fail(c, idx, n_classes, err,
                                      "gets a vector of %d values (after fc or flatten), not an image; put "
                                      "pooling before them",
                                      s.c);
                return layer_fail(c, idx, n_classes, err,
                                  "needs an input of at least %dx%d, but gets %s; lower size, or remove a pooling "
                                  "layer before it",
                                  c->size, c->size, have);
            }
            o.w = (s.w - c->size) / c->stride + 1;
            o.h = (s.h - c->size) / c->stride + 1;
            break;
        case VB_CNN_FC:
            o.w = o.h = 1;
            o.c = c->units == VB_CNN_CLASSES ? n_classes : c->units;
            if (!vb_mul_ok((size_t)o.c, n_in, &nw))
                return layer_fail(c, idx, n_classes, err, "too many weights");
            nb = (size_t)o.c;
            break;
        case VB_CNN_BATCHNORM:
            nw = nb = (size_t)s.c;
            ns = 2 * (size_t)s.c;
            break;
        case VB_CNN_FLATTEN:
            o.w = o.h = 1;
            o.c = (int)n_in;
            break;
        default:
            break;
        }
        size_t n_out;
        if (!vb_mul_ok((size_t)o.w * o.h, (size_t)o.c, &n_out) || n_out > VB_CNN_MAX_VALUES ||
            nw > VB_CNN_MAX_VALUES)
            return layer_fail(c, idx, n_classes, err, "gives too many values per image (%dx%dx%d)", o.w, o.h, o.c);
        if (out) {
            vb_cnn_layer *L = &out[i];
            L->conf = *c;
            if (c->kind == VB_CNN_FC)
                L->conf.units = o.c;
            L->in = s;
            L->out = o;
            L->n_in = n_in;
            L->n_out = n_out;
            L->w_off = params;
            L->n_w = nw;
            L->b_off = params + nw;
            L->n_b = nb;
            L->s_off = stats;
        }
        params += nw + nb;
        stats += ns;
        if (params > VB_CNN_MAX_VALUES)
            return layer_fail(c, idx, n_classes, err, "the network has too many parameters (%zu)", params);
        s = o;
        if (c->kind == VB_CNN_FC || c->kind == VB_CNN_FLATTEN)
            flat = 1;
        else if (c->kind == VB_CNN_CONV || c->kind == VB_CNN_MAXPOOL || c->kind == VB_CNN_AVGPOOL)
            flat = 0;
    }
    size_t last = (size_t)s.w * s.h * s.c;
    if (last != (size_t)n_classes) {
        const vb_cnn_layer_conf *c = &arch->layers[arch->n - 1];
        return layer_fail(c, arch->n, n_classes, err,
                          "the network ends with %zu values per image but the dataset has %d classes; end the "
                          "layers with 'fc: classes'",
                          last, n_classes);
    }
    return VB_OK;
}

vb_status vb_cnn_arch_check(const vb_cnn_arch *arch, vb_shape in, int n_classes, vb_error *err)
{
    return vb_cnn_infer(arch, in, n_classes, NULL, err);
}

/* ---- names and reuse --------------------------------------------------- */

size_t vb_cnn_arch_weighted(const vb_cnn_arch *arch)
{
    size_t n = 0;
    for (size_t i = 0; i < arch->n; i++)
        n += arch->layers[i].kind == VB_CNN_CONV || arch->layers[i].kind == VB_CNN_FC ||
             arch->layers[i].kind == VB_CNN_BATCHNORM;
    return n;
}

void vb_cnn_layer_name(const vb_cnn *net, size_t l, char *buf, size_t size)
{
    const vb_cnn_kind k = net->layers[l].conf.kind;
    int ordinal = 0;
    for (size_t i = 0; i <= l; i++)
        ordinal += net->layers[i].conf.kind == k;
    snprintf(buf, size, "%s%d", layer_plugins[k].name, ordinal);
}

void vb_cnn_layer_describe(const vb_cnn *net, size_t l, vb_buf *b)
{
    describe_layer(&net->layers[l].conf, net->n_classes, b);
}

/* "conv1, relu1, ..., fc2" */
static void layer_names(const vb_cnn *net, vb_buf *b)
{
    for (size_t l = 0; l < net->n_layers; l++) {
        char name[32];
        vb_cnn_layer_name(net, l, name, sizeof name);
        vb_buf_printf(b, "%s%s", l ? ", " : "", name);
    }
}

vb_status vb_cnn_find_layer(const vb_cnn *net, const char *which, size_t *layer, vb_error *err)
{
    const size_t n = net->n_layers;
    vb_buf names;
    vb_buf_init(&names);
    layer_names(net, &names);
    const char *list = names.data ? names.data : "";
    vb_status st = VB_OK;
    long num;
    if (!which) { /* the layer before the head: the last one is the classifier's */
        if (n < 2)
            st = vb_fail(err, VB_ERR_PARAM, "the network has one layer, its output layer (%s); there is no layer "
                                            "before it to take features from",
                         list);
        else
            *layer = n - 2;
    } else if (vb_parse_long(which, &num)) {
        if (num < 1 || (size_t)num > n)
            st = vb_fail(err, VB_ERR_PARAM, "layer %ld is out of range: the network has %zu layers, 1 to %zu (%s)",
                         num, n, n, list);
        else
            *layer = (size_t)num - 1;
    } else {
        size_t l = 0;
        for (; l < n; l++) {
            char name[32];
            vb_cnn_layer_name(net, l, name, sizeof name);
            if (strcmp(name, which) == 0)
                break;
        }
        if (l < n)
            *layer = l;
        else
            st = vb_fail(err, VB_ERR_PARAM, "the network has no layer '%s'; its layers are %s (or give a number, 1 "
                                            "to %zu)",
                         which, list, n);
    }
    vb_buf_free(&names);
    return st;
}

/* The last layer with weights: the output layer that reuse replaces. */
static size_t last_weighted(const vb_cnn *net)
{
    size_t last = net->n_layers;
    for (size_t l = 0; l < net->n_layers; l++)
        if (net->layers[l].n_w || net->layers[l].n_b)
            last = l;
    return last;
}

/* Do two layers agree (units too unless `output`: the replaced layer)? */
static int same_layer(const vb_cnn_layer_conf *a, int a_units, const vb_cnn_layer_conf *b, int output)
{
    return a->kind == b->kind && (output || a_units == b->units) && a->size == b->size && a->stride == b->stride &&
           a->pad == b->pad && a->rate == b->rate && a->momentum == b->momentum && a->eps == b->eps;
}

vb_status vb_cnn_transfer_check(const vb_cnn_arch *arch, vb_shape in, const vb_cnn *src, vb_error *err)
{
    if (in.w != src->in.w || in.h != src->in.h || in.c != src->in.c)
        return vb_fail(err, VB_ERR_SPEC,
                       "the model takes %dx%dx%d images (w x h x channels) and this pipeline gives %dx%dx%d; "
                       "preprocess to the model's size (resize, grayscale or rgb), or start from another model",
                       src->in.w, src->in.h, src->in.c, in.w, in.h, in.c);
    /* the output layer: this network's last weighted layer (its units are
     * this dataset's classes) */
    size_t out = arch->n;
    for (size_t i = 0; i < arch->n; i++)
        if (arch->layers[i].kind == VB_CNN_CONV || arch->layers[i].kind == VB_CNN_FC ||
            arch->layers[i].kind == VB_CNN_BATCHNORM)
            out = i;
    const size_t n = arch->n > src->n_layers ? arch->n : src->n_layers;
    for (size_t i = 0; i < n; i++) {
        const vb_cnn_layer_conf *a = i < arch->n ? &arch->layers[i] : NULL;
        const vb_cnn_layer_conf *b = i < src->n_layers ? &src->layers[i].conf : NULL;
        int units = a && a->kind == VB_CNN_FC && a->units == VB_CNN_CLASSES ? src->n_classes : a ? a->units : 0;
        if (a && b && same_layer(a, units, b, i == out && i == last_weighted(src)))
            continue;
        vb_buf mine, theirs;
        vb_buf_init(&mine);
        vb_buf_init(&theirs);
        if (a)
            describe_layer(a, 0, &mine);
        if (b) {
            char name[32];
            vb_cnn_layer_name(src, i, name, sizeof name);
            vb_buf_printf(&theirs, "%s, ", name);
            describe_layer(b, src->n_classes, &theirs);
        }
        vb_status st = vb_fail(err, VB_ERR_SPEC,
                               "the model's layers differ from this cnn's at layer %zu: this cnn has %s%s%s, the "
                               "model %s%s%s; give the cnn the model's layers (all but the output layer's units)",
                               i + 1, a ? "'" : "", a ? mine.data : "none", a ? "'" : "", b ? "'" : "",
                               b ? theirs.data : "none", b ? "'" : "");
        vb_buf_free(&mine);
        vb_buf_free(&theirs);
        return st;
    }
    return VB_OK;
}
