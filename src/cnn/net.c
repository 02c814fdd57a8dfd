/* The network: building from an architecture, initialisation, FLOP
 * counts, save and load. */
#include "visbench/cnn.h"
#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

vb_status vb_cnn_new(const vb_cnn_arch *arch, vb_shape in, int n_classes, vb_cnn **out, vb_error *err)
{
    *out = NULL;
    vb_cnn *net = vb_calloc(1, sizeof *net, err);
    if (!net)
        return VB_ERR_NOMEM;
    vb_status st = VB_ERR_NOMEM;
    if (!(net->layers = vb_calloc(arch->n ? arch->n : 1, sizeof *net->layers, err)))
        goto fail;
    net->n_layers = arch->n;
    net->in = in;
    net->n_classes = n_classes;
    if ((st = vb_cnn_infer(arch, in, n_classes, net->layers, err)) != VB_OK)
        goto fail;
    st = VB_ERR_NOMEM;
    const vb_cnn_layer *last = &net->layers[net->n_layers - 1];
    net->n_params = last->b_off + last->n_b;
    for (size_t i = 0; i < net->n_layers; i++)
        if (net->layers[i].conf.kind == VB_CNN_BATCHNORM)
            net->n_stats = net->layers[i].s_off + 2 * (size_t)net->layers[i].in.c;
    if (!(net->params = vb_calloc(net->n_params ? net->n_params : 1, sizeof *net->params, err)) ||
        !(net->stats = vb_calloc(net->n_stats ? net->n_stats : 1, sizeof *net->stats, err)) ||
        !(net->mean = vb_calloc((size_t)in.c, sizeof *net->mean, err)) ||
        !(net->std = vb_calloc((size_t)in.c, sizeof *net->std, err)))
        goto fail;
    for (int c = 0; c < in.c; c++)
        net->std[c] = 1;
    for (size_t i = 0; i < net->n_layers; i++) {
        const vb_cnn_layer *L = &net->layers[i];
        if (L->conf.kind == VB_CNN_BATCHNORM)
            for (int c = 0; c < L->in.c; c++)
                net->stats[L->s_off + (size_t)L->in.c + c] = 1;
    }
    *out = net;
    return VB_OK;
fail:
    vb_cnn_free(net);
    return st;
}

void vb_cnn_free(vb_cnn *net)
{
    if (!net)
        return;
    free(net->layers);
    free(net->params);
    free(net->stats);
    free(net->mean);
    free(net->std);
    free(net);
}

vb_status vb_cnn_init(vb_cnn *net, vb_cnn_init_kind kind, uint64_t seed, vb_error *err)
{
    vb_rng *rng = vb_rng_new(seed);
    if (!rng)
        return vb_fail(err, VB_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < net->n_layers; i++) {
        const vb_cnn_layer *L = &net->layers[i];
        float *w = net->params + L->w_off, *b = net->params + L->b_off;
        double fan_in = 0, fan_out = 0;
        if (L->conf.kind == VB_CNN_CONV) {
            double k2 = (double)L->conf.size * L->conf.size;
            fan_in = L->in.c * k2;
            fan_out = L->out.c * k2;
        } else if (L->conf.kind == VB_CNN_FC) {
            fan_in = (double)L->n_in;
            fan_out = (double)L->n_out;
        } else if (L->conf.kind == VB_CNN_BATCHNORM) {
            for (size_t j = 0; j < L->n_w; j++) {
                w[j] = 1;
                b[j] = 0;
            }
            float *rm = net->stats + L->s_off, *rv = rm + L->in.c;
            for (int c = 0; c < L->in.c; c++) {
                rm[c] = 0;
                rv[c] = 1;
            }
            continue;
        } else
            continue;
        if (kind == VB_CNN_INIT_UNIFORM) {
            double bound = 1 / sqrt(fan_in);
            for (size_t j = 0; j < L->n_w; j++)
                w[j] = (float)((2 * vb_rng_uniform(rng) - 1) * bound);
            for (size_t j = 0; j < L->n_b; j++)
                b[j] = (float)((2 * vb_rng_uniform(rng) - 1) * bound);
            continue;
        }
        double sd = kind == VB_CNN_INIT_XAVIER ? sqrt(2.0 / (fan_in + fan_out)) : sqrt(2.0 / fan_in);
        for (size_t j = 0; j < L->n_w; j++)
            w[j] = (float)vb_rng_gauss(rng, sd);
        memset(b, 0, L->n_b * sizeof *b);
    }
    vb_rng_free(rng);
    return VB_OK;
}

/* ---- reuse: fine-tuning ------------------------------------------------ */

void vb_cnn_transfer(vb_cnn *dst, const vb_cnn *src)
{
    size_t out = dst->n_layers; /* the output layer: the last with weights, kept */
    for (size_t l = 0; l < dst->n_layers; l++)
        if (dst->layers[l].n_w || dst->layers[l].n_b)
            out = l;
    for (size_t l = 0; l < dst->n_layers && l < src->n_layers; l++) {
        const vb_cnn_layer *D = &dst->layers[l], *S = &src->layers[l];
        if (l == out || D->conf.kind != S->conf.kind || D->n_w != S->n_w || D->n_b != S->n_b)
            continue;
        memcpy(dst->params + D->w_off, src->params + S->w_off, (D->n_w + D->n_b) * sizeof *dst->params);
        if (D->conf.kind == VB_CNN_BATCHNORM && D->in.c == S->in.c)
            memcpy(dst->stats + D->s_off, src->stats + S->s_off, 2 * (size_t)D->in.c * sizeof *dst->stats);
    }
    if (dst->in.c == src->in.c) {
        memcpy(dst->mean, src->mean, (size_t)dst->in.c * sizeof *dst->mean);
        memcpy(dst->std, src->std, (size_t)dst->in.c * sizeof *dst->std);
    }
}

void vb_cnn_freeze(vb_cnn *net, size_t n)
{
    size_t seen = 0;
    for (size_t l = 0; l < net->n_layers; l++) {
        vb_cnn_layer *L = &net->layers[l];
        int weighted = L->n_w || L->n_b;
        L->frozen = weighted && seen < n;
        seen += weighted;
    }
}

void vb_cnn_flops(const vb_cnn *net, double *forward, double *train)
{
    double f = 0, t = 0;
    for (size_t i = 0; i < net->n_layers; i++) {
        const vb_cnn_layer *L = &net->layers[i];
        double mac = 0;
        if (L->conf.kind == VB_CNN_CONV)
            mac = (double)L->n_out * L->in.c * L->conf.size * L->conf.size;
        else if (L->conf.kind == VB_CNN_FC)
            mac = (double)L->n_out * (double)L->n_in;
        f += 2 * mac;
        /* backward: the weight gradient always, the input gradient except
         * for the first layer */
        t += 2 * mac * (i == 0 ? 2 : 3);
    }
    if (forward)
        *forward = f;
    if (train)
        *train = t;
}

/* ---- save and load ----------------------------------------------------- */

#define CNN_MAGIC 0x4e4e4356u /* "VCNN" */
/* 2: the output kind after the version (1: softmax, no such field) */
#define CNN_VERSION 2u

vb_status vb_cnn_save(const vb_cnn *net, vb_writer *w, vb_error *err)
{
    size_t start = w->buf.len;
    vb_write_u32(w, CNN_MAGIC);
    vb_write_u32(w, CNN_VERSION);
    vb_write_u32(w, (uint32_t)net->output);
    vb_write_i32(w, net->in.w);
    vb_write_i32(w, net->in.h);
    vb_write_i32(w, net->in.c);
    vb_write_u32(w, (uint32_t)net->n_classes);
    vb_write_u32(w, (uint32_t)net->n_layers);
    for (size_t i = 0; i < net->n_layers; i++) {
        const vb_cnn_layer_conf *c = &net->layers[i].conf;
        vb_write_u32(w, (uint32_t)c->kind);
        vb_write_i32(w, c->units);
        vb_write_i32(w, c->size);
        vb_write_i32(w, c->stride);
        vb_write_i32(w, c->pad);
        vb_write_f32(w, c->rate);
        vb_write_f32(w, c->momentum);
        vb_write_f32(w, c->eps);
    }
    vb_write_f32s(w, net->mean, (size_t)net->in.c);
    vb_write_f32s(w, net->std, (size_t)net->in.c);
    vb_write_f32s(w, net->params, net->n_params);
    vb_write_f32s(w, net->stats, net->n_stats);
    vb_status st = vb_writer_status(w, err);
    if (st != VB_OK)
        return st;
    /* The weights are most of the bytes; a checksum catches what no range
     * check can (a flipped bit in a weight). */
    vb_write_u32(w, vb_crc32(w->buf.data + start, w->buf.len - start, 0));
    return vb_writer_status(w, err);
}

static vb_status corrupt(const vb_reader *r, vb_error *err, const char *what)
{
    return vb_fail(err, VB_ERR_FORMAT, "%s: corrupt cnn model (%s)", r->what ? r->what : "model", what);
}

vb_status vb_cnn_load(vb_reader *r, vb_cnn **out, vb_error *err)
{
    *out = NULL;
    size_t start = r->pos;
    uint32_t magic, version, output = VB_CNN_SOFTMAX, k, nl;
    int32_t w, h, c;
    vb_status st;
    if ((st = vb_read_u32(r, &magic, err)) != VB_OK)
        return st;
    if (magic != CNN_MAGIC)
        return corrupt(r, err, "not a cnn network");
    if ((st = vb_read_u32_range(r, &version, 1, CNN_VERSION, "cnn version", err)) != VB_OK ||
        (version >= 2 && (st = vb_read_u32_range(r, &output, VB_CNN_SOFTMAX, VB_CNN_SIGMOID, "cnn output", err)) !=
                             VB_OK) ||
        (st = vb_read_i32(r, &w, err)) != VB_OK || (st = vb_read_i32(r, &h, err)) != VB_OK ||
        (st = vb_read_i32(r, &c, err)) != VB_OK ||
        (st = vb_read_u32_range(r, &k, 2, VB_CNN_MAX_UNITS, "n_classes", err)) != VB_OK ||
        (st = vb_read_u32_range(r, &nl, 1, VB_CNN_MAX_LAYERS, "layer count", err)) != VB_OK)
        return st;
    if (w < 1 || h < 1 || c < 1 || w > VB_CNN_MAX_SIDE || h > VB_CNN_MAX_SIDE || c > VB_CNN_MAX_SIDE)
        return corrupt(r, err, "input shape");
    vb_cnn_arch arch = {0};
    if (!(arch.layers = vb_calloc(nl, sizeof *arch.layers, err)))
        return VB_ERR_NOMEM;
    arch.n = nl;
    for (uint32_t i = 0; i < nl && st == VB_OK; i++) {
        vb_cnn_layer_conf *L = &arch.layers[i];
        uint32_t kind;
        int32_t v[4];
        float f[3];
        if ((st = vb_read_u32_range(r, &kind, 0, VB_CNN_N_KINDS - 1, "layer kind", err)) != VB_OK)
            break;
        for (int j = 0; j < 4 && st == VB_OK; j++)
            st = vb_read_i32(r, &v[j], err);
        for (int j = 0; j < 3 && st == VB_OK; j++)
            st = vb_read_f32(r, &f[j], err);
        if (st != VB_OK)
            break;
        vb_cnn_conf_defaults(L, (vb_cnn_kind)kind);
        L->units = v[0];
        L->size = v[1];
        L->stride = v[2];
        L->pad = v[3];
        L->rate = f[0];
        L->momentum = f[1];
        L->eps = f[2];
        int ok = v[0] >= 0 && v[0] <= VB_CNN_MAX_UNITS && v[1] >= 0 && v[1] <= VB_CNN_MAX_SIDE && v[2] >= 1 &&
                 v[2] <= VB_CNN_MAX_SIDE && v[3] >= 0 && v[3] <= VB_CNN_MAX_SIDE && f[0] >= 0 && f[0] < 1 &&
                 f[1] >= 0 && f[1] <= 1 && f[2] > 0 && f[2] <= 1;
        if (kind == VB_CNN_CONV)
            ok = ok && v[0] >= 1 && v[1] >= 1 && v[3] < v[1];
        if (kind == VB_CNN_FC)
            ok = ok && v[0] >= 1;
        if (kind == VB_CNN_MAXPOOL || kind == VB_CNN_AVGPOOL)
            ok = ok && v[1] >= 1;
        if (!ok)
            st = corrupt(r, err, "layer parameters");
    }
    vb_cnn *net = NULL;
    if (st == VB_OK) {
        vb_shape in = {w, h, c};
        vb_error e = {0};
        st = vb_cnn_new(&arch, in, (int)k, &net, &e);
        if (st == VB_OK)
            net->output = (vb_cnn_output)output;
        if (st == VB_ERR_SPEC)
            st = vb_fail(err, VB_ERR_FORMAT, "%s: corrupt cnn model (%s)", r->what ? r->what : "model", e.msg);
        else if (st != VB_OK && err)
            *err = e;
    }
    vb_cnn_arch_free(&arch);
    if (st != VB_OK)
        return st;
    uint32_t crc;
    if ((st = vb_read_f32s_into(r, net->mean, (size_t)c, err)) != VB_OK ||
        (st = vb_read_f32s_into(r, net->std, (size_t)c, err)) != VB_OK ||
        (st = vb_read_f32s_into(r, net->params, net->n_params, err)) != VB_OK ||
        (st = vb_read_f32s_into(r, net->stats, net->n_stats, err)) != VB_OK)
        goto fail;
    uint32_t want = vb_crc32(r->p + start, r->pos - start, 0);
    if ((st = vb_read_u32(r, &crc, err)) != VB_OK)
        goto fail;
    if (crc != want) {
        st = corrupt(r, err, "checksum mismatch");
        goto fail;
    }
    for (int j = 0; j < c; j++)
        if (!isfinite(net->mean[j]) || !(net->std[j] > 0) || !isfinite(net->std[j])) {
            st = corrupt(r, err, "input standardisation");
            goto fail;
        }
    *out = net;
    return VB_OK;
fail:
    vb_cnn_free(net);
    return st;
}
