/* Network architecture: the spec's layers list, each layer's parameters,
 * and shape inference with messages that point at the spec. */
#include "visbench/cnn.h"
#include "internal.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const kind_names[VB_CNN_N_KINDS] = {
    [VB_CNN_CONV] = "conv",       [VB_CNN_MAXPOOL] = "maxpool", [VB_CNN_AVGPOOL] = "avgpool",
    [VB_CNN_RELU] = "relu",       [VB_CNN_FC] = "fc",           [VB_CNN_DROPOUT] = "dropout",
    [VB_CNN_BATCHNORM] = "batchnorm", [VB_CNN_FLATTEN] = "flatten",
};

const char *vb_cnn_kind_name(vb_cnn_kind k) { return k < VB_CNN_N_KINDS ? kind_names[k] : "?"; }

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

static vb_status get_int(const vb_node *n, size_t idx, const char *kind, const char *key, long lo, long hi,
                         int *out, vb_error *err)
{
    char what[96];
    snprintf(what, sizeof what, "cnn layer %zu (%s): %s", idx, kind, key);
    long v;
    vb_status st = vb_node_long(n, what, &v, err);
    if (st != VB_OK)
        return st;
    if (v < lo || v > hi) {
        if (lo == 1 && v < 1)
            return vb_node_fail(n, err, "%s must be a positive integer, not %ld", what, v);
        return vb_node_fail(n, err, "%s must be in %ld..%ld, not %ld", what, lo, hi, v);
    }
    *out = (int)v;
    return VB_OK;
}

static vb_status get_float(const vb_node *n, size_t idx, const char *kind, const char *key, double lo, double hi,
                           int lo_open, int hi_open, float *out, vb_error *err)
{
    char what[96];
    snprintf(what, sizeof what, "cnn layer %zu (%s): %s", idx, kind, key);
    double v;
    vb_status st = vb_node_double(n, what, &v, err);
    if (st != VB_OK)
        return st;
    if (!(lo_open ? v > lo : v >= lo) || !(hi_open ? v < hi : v <= hi))
        return vb_node_fail(n, err, "%s must be in %s%g, %g%s, not %g", what, lo_open ? "(" : "[", lo, hi,
                            hi_open ? ")" : "]", v);
    *out = (float)v;
    return VB_OK;
}

static vb_status need_map(const vb_node *entry, const vb_node *value, size_t idx, const char *kind,
                          const char *const *keys, size_t n_keys, const char *example, vb_error *err)
{
    if (!value || value->kind != VB_NODE_MAP)
        return vb_node_fail(value ? value : entry, err, "cnn layer %zu (%s) takes a mapping, e.g. '%s'", idx, kind,
                            example);
    char where[64];
    snprintf(where, sizeof where, "cnn layer %zu (%s)", idx, kind);
    return vb_node_check_keys(value, keys, n_keys, where, err);
}

static vb_status parse_conv(const vb_node *entry, const vb_node *v, size_t idx, vb_cnn_layer_conf *c, vb_error *err)
{
    static const char *const keys[] = {"filters", "size", "stride", "pad"};
    vb_status st = need_map(entry, v, idx, "conv", keys, 4, "conv: {filters: 32, size: 5, pad: 2}", err);
    if (st != VB_OK)
        return st;
    const vb_node *f = vb_node_get(v, "filters"), *s = vb_node_get(v, "size");
    if (!f || !s)
        return vb_node_fail(v, err, "cnn layer %zu (conv) needs '%s' (e.g. conv: {filters: 32, size: 5})", idx,
                            f ? "size" : "filters");
    if ((st = get_int(f, idx, "conv", "filters", 1, VB_CNN_MAX_UNITS, &c->units, err)) != VB_OK ||
        (st = get_int(s, idx, "conv", "size", 1, VB_CNN_MAX_SIDE, &c->size, err)) != VB_OK)
        return st;
    const vb_node *n;
    if ((n = vb_node_get(v, "stride")) && (st = get_int(n, idx, "conv", "stride", 1, VB_CNN_MAX_SIDE, &c->stride, err)))
        return st;
    if ((n = vb_node_get(v, "pad")) && (st = get_int(n, idx, "conv", "pad", 0, VB_CNN_MAX_SIDE, &c->pad, err)))
        return st;
    if (c->pad >= c->size)
        return vb_node_fail(vb_node_get(v, "pad"), err,
                            "cnn layer %zu (conv): pad %d must be smaller than size %d (pad (size - 1) / 2 keeps "
                            "the image size)",
                            idx, c->pad, c->size);
    return VB_OK;
}

static vb_status parse_pool(const vb_node *entry, const vb_node *v, size_t idx, vb_cnn_layer_conf *c, vb_error *err)
{
    const char *kind = kind_names[c->kind];
    vb_status st;
    if (!v)
        return VB_OK; /* 2x2, stride 2 */
    if (v->kind == VB_NODE_SCALAR) {
        if ((st = get_int(v, idx, kind, "size", 1, VB_CNN_MAX_SIDE, &c->size, err)) != VB_OK)
            return st;
        c->stride = c->size;
        return VB_OK;
    }
    static const char *const keys[] = {"size", "stride"};
    if ((st = need_map(entry, v, idx, kind, keys, 2, "maxpool: 2 or maxpool: {size: 3, stride: 2}", err)) != VB_OK)
        return st;
    const vb_node *n;
    if ((n = vb_node_get(v, "size")) && (st = get_int(n, idx, kind, "size", 1, VB_CNN_MAX_SIDE, &c->size, err)))
        return st;
    c->stride = c->size;
    if ((n = vb_node_get(v, "stride")) && (st = get_int(n, idx, kind, "stride", 1, VB_CNN_MAX_SIDE, &c->stride, err)))
        return st;
    return VB_OK;
}

static vb_status parse_fc(const vb_node *entry, const vb_node *v, size_t idx, vb_cnn_layer_conf *c, vb_error *err)
{
    if (!v || v->kind != VB_NODE_SCALAR)
        return vb_node_fail(v ? v : entry, err,
                            "cnn layer %zu (fc) takes its number of outputs, e.g. 'fc: 128' or 'fc: classes'", idx);
    if (strcmp(v->text, "classes") == 0) {
        c->units = VB_CNN_CLASSES;
        return VB_OK;
    }
    return get_int(v, idx, "fc", "outputs", 1, VB_CNN_MAX_UNITS, &c->units, err);
}

static vb_status parse_dropout(const vb_node *entry, const vb_node *v, size_t idx, vb_cnn_layer_conf *c,
                               vb_error *err)
{
    if (!v)
        return VB_OK; /* 0.5 */
    if (v->kind != VB_NODE_SCALAR)
        return vb_node_fail(v, err, "cnn layer %zu (dropout) takes the probability of dropping a value, e.g. "
                                    "'dropout: 0.5'", idx);
    return get_float(v, idx, "dropout", "rate", 0, 1, 0, 1, &c->rate, err);
}

static vb_status parse_batchnorm(const vb_node *entry, const vb_node *v, size_t idx, vb_cnn_layer_conf *c,
                                 vb_error *err)
{
    if (!v)
        return VB_OK;
    static const char *const keys[] = {"momentum", "eps"};
    vb_status st = need_map(entry, v, idx, "batchnorm", keys, 2, "batchnorm: {momentum: 0.1, eps: 1e-5}", err);
    const vb_node *n;
    if (st == VB_OK && (n = vb_node_get(v, "momentum")))
        st = get_float(n, idx, "batchnorm", "momentum", 0, 1, 1, 0, &c->momentum, err);
    if (st == VB_OK && (n = vb_node_get(v, "eps")))
        st = get_float(n, idx, "batchnorm", "eps", 0, 1, 1, 0, &c->eps, err);
    return st;
}

static vb_status parse_bare(const vb_node *entry, const vb_node *v, size_t idx, vb_cnn_layer_conf *c, vb_error *err)
{
    if (v)
        return vb_node_fail(v, err, "cnn layer %zu (%s) takes no parameters; write just '%s'", idx,
                            kind_names[c->kind], kind_names[c->kind]);
    return VB_OK;
}

typedef vb_status (*parse_fn)(const vb_node *, const vb_node *, size_t, vb_cnn_layer_conf *, vb_error *);
static const parse_fn parsers[VB_CNN_N_KINDS] = {
    [VB_CNN_CONV] = parse_conv,       [VB_CNN_MAXPOOL] = parse_pool, [VB_CNN_AVGPOOL] = parse_pool,
    [VB_CNN_RELU] = parse_bare,       [VB_CNN_FC] = parse_fc,        [VB_CNN_DROPOUT] = parse_dropout,
    [VB_CNN_BATCHNORM] = parse_batchnorm, [VB_CNN_FLATTEN] = parse_bare,
};

static vb_status parse_layer(const vb_node *item, size_t idx, vb_cnn_layer_conf *c, vb_error *err)
{
    const vb_node *name, *value;
    vb_status st = vb_node_entry(item, "cnn layer", &name, &value, err);
    if (st != VB_OK)
        return st;
    if (name->kind != VB_NODE_SCALAR)
        return vb_node_fail(name, err, "cnn layer %zu: expected a layer name", idx);
    int k;
    for (k = 0; k < VB_CNN_N_KINDS; k++)
        if (strcmp(name->text, kind_names[k]) == 0)
            break;
    if (k == VB_CNN_N_KINDS) {
        if (strcmp(name->text, "softmax") == 0)
            return vb_node_fail(name, err, "cnn layer %zu: softmax is part of the loss (softmax cross-entropy on "
                                           "the last layer's outputs); remove it", idx);
        if (strcmp(name->text, "sigmoid") == 0)
            return vb_node_fail(name, err, "cnn layer %zu: sigmoid is part of the loss (give the cnn output: "
                                           "sigmoid for a sigmoid per label); remove it", idx);
        const char *near = vb_nearest_name(name->text, kind_names, VB_CNN_N_KINDS);
        return vb_node_fail(name, err, "cnn layer %zu: unknown layer '%s'%s%s%s (layers: conv, maxpool, avgpool, "
                                       "relu, fc, dropout, batchnorm, flatten)",
                            idx, name->text, near ? "; did you mean '" : "", near ? near : "", near ? "'?" : "");
    }
    vb_cnn_conf_defaults(c, (vb_cnn_kind)k);
    c->file = item->file;
    c->line = item->line;
    c->col = item->col;
    return parsers[k](item, value, idx, c, err);
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
    const char *k = kind_names[c->kind];
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
