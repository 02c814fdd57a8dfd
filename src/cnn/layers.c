/* Layers: forward and backward passes over a batch, and the workspace
 * that holds every buffer they use.
 *
 * Parallel work is cut into pieces that depend on the batch size only
 * (images, chunks of images, blocks of units), each piece summed in a
 * fixed order, so the numbers depend neither on the thread count nor on
 * which thread takes a piece. Pieces are handed out dynamically: on a
 * shared machine a descheduled thread does not hold the other one up at
 * the next barrier. OpenBLAS runs single-threaded inside the pieces
 * (vb_blas_serial_enter), so its threads and ours never compete. */
#include "visbench/cnn.h"
#include "internal.h"

#include "../core/linalg.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

static int thread_id(void)
{
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

/* Conv weight gradients are summed per chunk of images, then the chunks in
 * order: at most this many chunks per batch. */
#define CONV_CHUNKS 8
/* Fully connected layers split their units into blocks of about this many. */
#define FC_BLOCK 128
/* Below this much work (values touched, or multiply-adds) a layer runs on
 * the calling thread: a parallel region would cost more than it saves. */
#define PARALLEL_MIN 65536

struct vb_cnn_ws {
    size_t batch;
    int train, input_grad, nthreads;
    size_t n_layers;
    float **act;  /* n_layers + 1: act[0] input, act[l + 1] output of layer l */
    float **grad; /* same; NULL where no gradient is needed */
    unsigned char *own_act, *own_grad; /* which buffers are ours (flatten aliases) */
    float *pgrad;  /* n_params */
    int32_t **argmax; /* maxpool (train) */
    float **mask;     /* dropout (train) */
    float **xhat;     /* batchnorm (train): normalised input */
    float **bstat;    /* batchnorm (train): batch mean (c), variance (c), 1/sd (c) */
    float *col, *dcol;  /* per thread: im2col buffers */
    size_t col_size;
    float *pad;         /* per thread: a zero-bordered copy of an image */
    size_t pad_size;
    float *acc;         /* conv gradient accumulators, CONV_CHUNKS x acc_stride */
    size_t acc_stride, chunk;
    size_t *acc_off;    /* per layer: a conv layer's place in a chunk's accumulator */
};

/* Does training update this layer's parameters (it has some, not frozen)? */
static int trained(const vb_cnn_layer *L) { return (L->n_w || L->n_b) && !L->frozen; }

static int im2col_needed(const vb_cnn_layer *L)
{
    return !(L->conf.size == 1 && L->conf.stride == 1 && L->conf.pad == 0);
}

void vb_cnn_ws_free(vb_cnn_ws *ws)
{
    if (!ws)
        return;
    for (size_t l = 0; l <= ws->n_layers; l++) {
        if (ws->act && ws->own_act && ws->own_act[l])
            free(ws->act[l]);
        if (ws->grad && ws->own_grad && ws->own_grad[l])
            free(ws->grad[l]);
    }
    for (size_t l = 0; l < ws->n_layers; l++) {
        if (ws->argmax)
            free(ws->argmax[l]);
        if (ws->mask)
            free(ws->mask[l]);
        if (ws->xhat)
            free(ws->xhat[l]);
        if (ws->bstat)
            free(ws->bstat[l]);
    }
    free(ws->act);
    free(ws->grad);
    free(ws->own_act);
    free(ws->own_grad);
    free(ws->argmax);
    free(ws->mask);
    free(ws->xhat);
    free(ws->bstat);
    free(ws->pgrad);
    free(ws->col);
    free(ws->dcol);
    free(ws->pad);
    free(ws->acc);
    free(ws->acc_off);
    free(ws);
}

static void *alloc_floats(size_t batch, size_t per, vb_error *err)
{
    return vb_malloc(batch, (per ? per : 1) * sizeof(float), err);
}

vb_status vb_cnn_ws_new(const vb_cnn *net, size_t batch, int train, int input_grad, vb_cnn_ws **out,
                        vb_error *err)
{
    *out = NULL;
    if (batch == 0)
        return vb_fail(err, VB_ERR_PARAM, "cnn: batch size 0");
    vb_cnn_ws *ws = vb_calloc(1, sizeof *ws, err);
    if (!ws)
        return VB_ERR_NOMEM;
    size_t L = net->n_layers;
    ws->batch = batch;
    ws->train = train;
    ws->input_grad = train && input_grad;
    ws->n_layers = L;
#ifdef _OPENMP
    ws->nthreads = omp_get_max_threads();
#else
    ws->nthreads = 1;
#endif
    if (ws->nthreads < 1)
        ws->nthreads = 1;
    if (!(ws->act = vb_calloc(L + 1, sizeof *ws->act, err)) || !(ws->grad = vb_calloc(L + 1, sizeof *ws->grad, err)) ||
        !(ws->own_act = vb_calloc(L + 1, 1, err)) || !(ws->own_grad = vb_calloc(L + 1, 1, err)) ||
        !(ws->argmax = vb_calloc(L, sizeof *ws->argmax, err)) || !(ws->mask = vb_calloc(L, sizeof *ws->mask, err)) ||
        !(ws->xhat = vb_calloc(L, sizeof *ws->xhat, err)) || !(ws->bstat = vb_calloc(L, sizeof *ws->bstat, err)) ||
        !(ws->acc_off = vb_calloc(L, sizeof *ws->acc_off, err)))
        goto nomem;
    if (!(ws->act[0] = alloc_floats(batch, net->layers[0].n_in, err)))
        goto nomem;
    ws->own_act[0] = 1;
    /* A layer needs the gradient of its input when some layer below it has
     * parameters (or the caller wants the input gradient). */
    int below = ws->input_grad;
    size_t col_size = 0, acc_stride = 0, pad_size = 0;
    for (size_t l = 0; l < L; l++) {
        const vb_cnn_layer *ly = &net->layers[l];
        vb_cnn_kind k = ly->conf.kind;
        if (k == VB_CNN_FLATTEN) {
            ws->act[l + 1] = ws->act[l];
        } else {
            if (!(ws->act[l + 1] = alloc_floats(batch, ly->n_out, err)))
                goto nomem;
            ws->own_act[l + 1] = 1;
        }
        if (train) {
            if (l == 0 && below) {
                if (!(ws->grad[0] = alloc_floats(batch, ly->n_in, err)))
                    goto nomem;
                ws->own_grad[0] = 1;
            }
            if (k == VB_CNN_FLATTEN)
                ws->grad[l + 1] = ws->grad[l];
            else {
                if (!(ws->grad[l + 1] = alloc_floats(batch, ly->n_out, err)))
                    goto nomem;
                ws->own_grad[l + 1] = 1;
            }
            if (k == VB_CNN_MAXPOOL && !(ws->argmax[l] = vb_malloc(batch, ly->n_out * sizeof(int32_t), err)))
                goto nomem;
            if (k == VB_CNN_DROPOUT) {
                if (!(ws->mask[l] = alloc_floats(batch, ly->n_in, err)))
                    goto nomem;
                for (size_t j = 0; j < batch * ly->n_in; j++)
                    ws->mask[l][j] = 1;
            }
            if (k == VB_CNN_BATCHNORM && (!(ws->xhat[l] = alloc_floats(batch, ly->n_in, err)) ||
                                          !(ws->bstat[l] = alloc_floats(3, (size_t)ly->in.c, err))))
                goto nomem;
        }
        if (k == VB_CNN_CONV) {
            if (im2col_needed(ly)) {
                size_t cs = (size_t)ly->in.c * ly->conf.size * ly->conf.size * (size_t)ly->out.w * ly->out.h;
                col_size = cs > col_size ? cs : col_size;
                size_t ps = (size_t)ly->in.c * (ly->in.h + 2 * ly->conf.pad) * (ly->in.w + 2 * ly->conf.pad);
                pad_size = ly->conf.pad && ps > pad_size ? ps : pad_size;
            }
            ws->acc_off[l] = acc_stride;
            acc_stride += (ly->n_w + ly->n_b + 15) / 16 * 16;
        }
        if (trained(ly))
            below = 1;
    }
    /* Layers that nothing below needs a gradient from: drop the buffers
     * (the first layer's input gradient, chains of relu above the input,
     * frozen layers and what lies below them). */
    if (train) {
        below = ws->input_grad;
        for (size_t l = 0; l < L; l++) {
            vb_cnn_kind k = net->layers[l].conf.kind;
            if (!below && ws->own_grad[l]) {
                free(ws->grad[l]);
                ws->own_grad[l] = 0;
            }
            if (!below)
                ws->grad[l] = NULL;
            if (k == VB_CNN_FLATTEN)
                ws->grad[l + 1] = ws->grad[l];
            if (trained(&net->layers[l]))
                below = 1;
        }
    }
    /* Columns 16-float aligned per thread, so threads do not share lines. */
    col_size = (col_size + 15) / 16 * 16;
    ws->col_size = col_size;
    ws->pad_size = (pad_size + 15) / 16 * 16;
    if (pad_size && !(ws->pad = vb_malloc((size_t)ws->nthreads, ws->pad_size * sizeof(float), err)))
        goto nomem;
    if (col_size) {
        if (!(ws->col = vb_malloc((size_t)ws->nthreads, col_size * sizeof(float), err)))
            goto nomem;
        if (train && !(ws->dcol = vb_malloc((size_t)ws->nthreads, col_size * sizeof(float), err)))
            goto nomem;
    }
    if (train) {
        if (!(ws->pgrad = vb_calloc(net->n_params ? net->n_params : 1, sizeof(float), err)))
            goto nomem;
        ws->chunk = (batch + CONV_CHUNKS - 1) / CONV_CHUNKS;
        ws->acc_stride = acc_stride;
        if (acc_stride && !(ws->acc = vb_malloc(CONV_CHUNKS, ws->acc_stride * sizeof(float), err)))
            goto nomem;
    }
    *out = ws;
    return VB_OK;
nomem:
    vb_cnn_ws_free(ws);
    return VB_ERR_NOMEM;
}

size_t vb_cnn_ws_batch(const vb_cnn_ws *ws) { return ws->batch; }
float *vb_cnn_ws_input(vb_cnn_ws *ws) { return ws->act[0]; }
float *vb_cnn_ws_output(vb_cnn_ws *ws) { return ws->act[ws->n_layers]; }
float *vb_cnn_ws_output_grad(vb_cnn_ws *ws) { return ws->grad[ws->n_layers]; }
const float *vb_cnn_ws_input_grad(const vb_cnn_ws *ws) { return ws->input_grad ? ws->grad[0] : NULL; }
float *vb_cnn_ws_param_grad(vb_cnn_ws *ws) { return ws->pgrad; }
float *vb_cnn_ws_mask(vb_cnn_ws *ws, size_t l) { return l < ws->n_layers ? ws->mask[l] : NULL; }
const float *vb_cnn_ws_act(const vb_cnn_ws *ws, size_t l) { return l < ws->n_layers ? ws->act[l + 1] : NULL; }

void vb_cnn_ws_draw_masks(vb_cnn_ws *ws, const vb_cnn *net, size_t n, vb_rng *rng)
{
    for (size_t l = 0; l < net->n_layers; l++) {
        const vb_cnn_layer *L = &net->layers[l];
        if (L->conf.kind != VB_CNN_DROPOUT || !ws->mask[l])
            continue;
        float keep = 1.0f - L->conf.rate, scale = 1.0f / keep;
        /* 24-bit uniform draws, 24 bits at a time from 32-bit words */
        uint32_t thresh = (uint32_t)((double)keep * 16777216.0);
        float *m = ws->mask[l];
        size_t total = n * L->n_in;
        for (size_t j = 0; j < total; j++)
            m[j] = (vb_rng_u32(rng) >> 8) < thresh ? scale : 0.0f;
    }
}

/* ---- convolution ------------------------------------------------------- */

/* Sum of n floats in 16 interleaved partial sums (a fixed order, and one
 * that vectorises: a single running sum waits on each add's latency). */
static float row_sum(const float *restrict r, size_t n)
{
    float part[16] = {0};
    size_t p = 0;
    for (; p + 16 <= n; p += 16)
        for (int j = 0; j < 16; j++)
            part[j] += r[p + j];
    float s = 0;
    for (int j = 0; j < 16; j++)
        s += part[j];
    for (; p < n; p++)
        s += r[p];
    return s;
}

/* Copies a short row (n floats) in 8-float blocks, the last one
 * overlapping its predecessor, not a loop the compiler turns into a memcpy
 * call per row (im2col copies 14-float rows by the ten thousand). */
static inline void copy_row(float *restrict d, const float *restrict s, int n)
{
    if (n < 8) {
        for (int j = 0; j < n; j++)
            d[j] = s[j];
        return;
    }
    int j = 0;
    for (; j + 8 <= n; j += 8)
        memcpy(d + j, s + j, 8 * sizeof *d);
    if (j < n)
        memcpy(d + n - 8, s + n - 8, 8 * sizeof *d);
}

/* Padding: the image is copied once into a zero-bordered buffer (C x
 * (H + 2p) x (W + 2p)), so that im2col and col2im never test bounds. */
static const float *pad_image(const float *x, const vb_cnn_layer *L, float *buf)
{
    const int C = L->in.c, H = L->in.h, W = L->in.w, p = L->conf.pad, Wp = W + 2 * p, Hp = H + 2 * p;
    if (p == 0)
        return x;
    /* The buffer serves layers of other shapes too, so the border is
     * zeroed every time, but only the border; rows are short, so plain
     * loops rather than a memcpy call per row. */
    for (int c = 0; c < C; c++) {
        float *plane = buf + (size_t)c * Hp * Wp;
        memset(plane, 0, (size_t)p * Wp * sizeof *buf);
        memset(plane + (size_t)(p + H) * Wp, 0, (size_t)p * Wp * sizeof *buf);
        for (int y = 0; y < H; y++) {
            float *restrict row = plane + (size_t)(y + p) * Wp;
            const float *restrict src = x + ((size_t)c * H + y) * W;
            for (int j = 0; j < p; j++)
                row[j] = row[p + W + j] = 0.0f;
            copy_row(row + p, src, W);
        }
    }
    return buf;
}

/* The column matrix of one (padded) image: row (c, ky, kx), column (oy, ox). */
static void im2col(const float *xp, const vb_cnn_layer *L, float *restrict col)
{
    const int C = L->in.c, k = L->conf.size, s = L->conf.stride, p = L->conf.pad;
    const int Hp = L->in.h + 2 * p, Wp = L->in.w + 2 * p, Ho = L->out.h, Wo = L->out.w;
    for (int c = 0; c < C; c++)
        for (int ky = 0; ky < k; ky++)
            for (int kx = 0; kx < k; kx++) {
                const float *src = xp + ((size_t)c * Hp + ky) * Wp + kx;
                if (s == 1)
                    for (int oy = 0; oy < Ho; oy++, col += Wo)
                        copy_row(col, src + (size_t)oy * Wp, Wo);
                else
                    for (int oy = 0; oy < Ho; oy++, col += Wo) {
                        const float *restrict sr = src + (size_t)oy * s * Wp;
                        for (int ox = 0; ox < Wo; ox++)
                            col[ox] = sr[ox * s];
                    }
            }
}

/* The adjoint of im2col then of the padding: adds the columns into the
 * padded gradient dxp (zeroed here), then copies its interior to dx. */
static void col2im(const float *col, const vb_cnn_layer *L, float *dxp, float *dx)
{
    const int C = L->in.c, H = L->in.h, W = L->in.w, k = L->conf.size, s = L->conf.stride, p = L->conf.pad;
    const int Hp = H + 2 * p, Wp = W + 2 * p, Ho = L->out.h, Wo = L->out.w;
    float *acc = p ? dxp : dx;
    memset(acc, 0, (size_t)C * Hp * Wp * sizeof *acc);
    for (int c = 0; c < C; c++)
        for (int ky = 0; ky < k; ky++)
            for (int kx = 0; kx < k; kx++) {
                float *dst = acc + ((size_t)c * Hp + ky) * Wp + kx;
                for (int oy = 0; oy < Ho; oy++, col += Wo) {
                    float *restrict dr = dst + (size_t)oy * s * Wp;
                    const float *restrict cr = col;
                    if (s == 1)
                        for (int ox = 0; ox < Wo; ox++)
                            dr[ox] += cr[ox];
                    else
                        for (int ox = 0; ox < Wo; ox++)
                            dr[ox * s] += cr[ox];
                }
            }
    if (p)
        for (int c = 0; c < C; c++)
            for (int y = 0; y < H; y++)
                copy_row(dx + ((size_t)c * H + y) * W, dxp + ((size_t)c * Hp + y + p) * Wp + p, W);
}

/* Image-local layers (conv, pools, relu, dropout, flatten) work on one
 * image at a time: a run of them is one parallel loop over the images of
 * the batch, each image going through the whole run while its activations
 * are in cache. x, y, dy and dx point at image i's slice; acc is the conv
 * gradient accumulator of the image's chunk, set (first) or added to. */
typedef struct img_ctx {
    const vb_cnn *net;
    const vb_cnn_layer *L;
    vb_cnn_ws *ws;
    size_t l, i;
    int train, tid;
} img_ctx;

/* This thread's padding buffer; NULL when no layer pads (an offset from a
 * NULL pointer, even 0, is undefined). */
static float *thread_pad(const img_ctx *c)
{
    return c->ws->pad ? c->ws->pad + (size_t)c->tid * c->ws->pad_size : NULL;
}

static void conv_forward(const img_ctx *c, const float *x, float *y)
{
    const vb_cnn_layer *L = c->L;
    const int Co = L->out.c, P = L->out.w * L->out.h, K = L->in.c * L->conf.size * L->conf.size;
    const float *Wt = c->net->params + L->w_off, *b = c->net->params + L->b_off;
    const float *col = x;
    if (im2col_needed(L)) {
        float *cb = c->ws->col + (size_t)c->tid * c->ws->col_size;
        im2col(pad_image(x, L, thread_pad(c)), L, cb);
        col = cb;
    }
    for (int o = 0; o < Co; o++) {
        float bo = b[o], *r = y + (size_t)o * P;
        for (int p = 0; p < P; p++)
            r[p] = bo;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Co, P, K, 1.0f, Wt, K, col, P, 1.0f, y, P);
}

static void conv_backward(const img_ctx *c, const float *x, const float *y, const float *dy, float *dx, float *acc,
                          int first)
{
    const vb_cnn_layer *L = c->L;
    const int Co = L->out.c, P = L->out.w * L->out.h, K = L->in.c * L->conf.size * L->conf.size;
    const float *Wt = c->net->params + L->w_off;
    const int cols = im2col_needed(L);
    float *colbuf = cols ? c->ws->col + (size_t)c->tid * c->ws->col_size : NULL;
    float *padbuf = thread_pad(c);
    const float *col = x;
    if (cols) {
        im2col(pad_image(x, L, padbuf), L, colbuf);
        col = colbuf;
    }
    /* dW += dY col^T */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Co, K, P, 1.0f, dy, P, col, P, first ? 0.0f : 1.0f, acc, K);
    float *accb = acc + L->n_w;
    for (int o = 0; o < Co; o++) {
        const float s = row_sum(dy + (size_t)o * P, (size_t)P);
        accb[o] = first ? s : accb[o] + s;
    }
    if (dx) {
        /* dcol = W^T dY, then back into the image */
        float *dcol = cols ? c->ws->dcol + (size_t)c->tid * c->ws->col_size : dx;
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, P, Co, 1.0f, Wt, K, dy, P, 0.0f, dcol, P);
        if (cols)
            col2im(dcol, L, padbuf, dx);
    }
}

/* A 2x2 stride-2 max pool of one plane, with the same first-max-wins
 * choice as the general case; selects, not branches (which a random max
 * mispredicts half the time), so that the loops vectorise. relu: pool
 * max(x, 0) instead of x (a relu layer below, fused). */
static inline __attribute__((always_inline)) void pool2_plane(const float *xp, float *yp, int32_t *ap, int W, int Ho,
                                                              int Wo, const int relu)
{
#define POOL_IN(v) (relu ? ((v) > 0 ? (v) : 0.0f) : (v))
    for (int oy = 0; oy < Ho; oy++) {
        const float *restrict r0 = xp + (size_t)2 * oy * W, *restrict r1 = r0 + W;
        float *restrict yr = yp + (size_t)oy * Wo;
        if (!ap) {
            for (int ox = 0; ox < Wo; ox++) {
                float v0 = POOL_IN(r0[2 * ox]), v1 = POOL_IN(r0[2 * ox + 1]);
                float v2 = POOL_IN(r1[2 * ox]), v3 = POOL_IN(r1[2 * ox + 1]);
                float a = v1 > v0 ? v1 : v0, b = v3 > v2 ? v3 : v2;
                yr[ox] = b > a ? b : a;
            }
            continue;
        }
        int32_t *restrict ar = ap + (size_t)oy * Wo;
        const int32_t row = 2 * oy * W;
        for (int ox = 0; ox < Wo; ox++) {
            float v0 = POOL_IN(r0[2 * ox]), v1 = POOL_IN(r0[2 * ox + 1]);
            float v2 = POOL_IN(r1[2 * ox]), v3 = POOL_IN(r1[2 * ox + 1]);
            int32_t c01 = v1 > v0, c23 = v3 > v2;
            float a = c01 ? v1 : v0, b = c23 ? v3 : v2;
            int32_t cb = b > a;
            yr[ox] = cb ? b : a;
            ar[ox] = row + 2 * ox + c01 + cb * (W + c23 - c01);
        }
    }
#undef POOL_IN
}

static void maxpool_forward(const img_ctx *c, const float *x, float *y)
{
    const vb_cnn_layer *L = c->L;
    const int H = L->in.h, W = L->in.w, Ho = L->out.h, Wo = L->out.w, k = L->conf.size, s = L->conf.stride;
    const size_t in_plane = (size_t)H * W, out_plane = (size_t)Ho * Wo;
    int32_t *am = c->train && c->ws->argmax[c->l] ? c->ws->argmax[c->l] + c->i * L->n_out : NULL;
    for (int ch = 0; ch < L->in.c; ch++) {
        const float *xp = x + ch * in_plane;
        float *yp = y + ch * out_plane;
        int32_t *ap = am ? am + ch * out_plane : NULL;
        if (k == 2 && s == 2) {
            pool2_plane(xp, yp, ap, W, Ho, Wo, 0);
            continue;
        }
        for (int oy = 0; oy < Ho; oy++)
            for (int ox = 0; ox < Wo; ox++) {
                int base = oy * s * W + ox * s, bi = base;
                float best = xp[base];
                for (int ky = 0; ky < k; ky++)
                    for (int kx = 0; kx < k; kx++) {
                        int idx = base + ky * W + kx;
                        if (xp[idx] > best) {
                            best = xp[idx];
                            bi = idx;
                        }
                    }
                yp[oy * Wo + ox] = best;
                if (ap)
                    ap[oy * Wo + ox] = bi;
            }
    }
}

static void maxpool_backward(const img_ctx *c, const float *x, const float *y, const float *dy, float *dx,
                             float *acc, int first)
{
    const vb_cnn_layer *L = c->L;
    const int32_t *am = c->ws->argmax[c->l] + c->i * L->n_out;
    const size_t in_plane = (size_t)L->in.h * L->in.w, out_plane = (size_t)L->out.h * L->out.w;
    /* zeroing, then one add per output: cheaper than choosing each input
     * of a window (data-dependent choices mispredict) */
    memset(dx, 0, L->n_in * sizeof *dx);
    for (int ch = 0; ch < L->in.c; ch++) {
        float *dp = dx + ch * in_plane;
        const float *gp = dy + ch * out_plane;
        const int32_t *ap = am + ch * out_plane;
        for (size_t o = 0; o < out_plane; o++)
            dp[ap[o]] += gp[o];
    }
}

/* relu then a 2x2 stride-2 maxpool that tiles its input (relu_pool_fits),
 * in one pass: c is the pool's context, x the relu's input, y the pool's
 * output. Pooling max(x, 0) gives the pool exactly what it would get; the
 * relu's own output is not stored (the fused backward does not need it). */
static int relu_pool_fits(const vb_cnn_layer *relu, const vb_cnn_layer *pool)
{
    return relu->conf.kind == VB_CNN_RELU && pool->conf.kind == VB_CNN_MAXPOOL && pool->conf.size == 2 &&
           pool->conf.stride == 2 && pool->in.h == 2 * pool->out.h && pool->in.w == 2 * pool->out.w;
}

static void relu_maxpool_forward(const img_ctx *c, const float *x, float *y)
{
    const vb_cnn_layer *L = c->L;
    const int W = L->in.w, Ho = L->out.h, Wo = L->out.w;
    const size_t in_plane = (size_t)L->in.h * W, out_plane = (size_t)Ho * Wo;
    int32_t *am = c->train && c->ws->argmax[c->l] ? c->ws->argmax[c->l] + c->i * L->n_out : NULL;
    for (int ch = 0; ch < L->in.c; ch++)
        pool2_plane(x + ch * in_plane, y + ch * out_plane, am ? am + ch * out_plane : NULL, W, Ho, Wo, 1);
}

/* Backward through a maxpool (c's layer, output y, gradient dy) and the
 * relu below it, into the relu's input gradient dx: an output's gradient
 * goes to its argmax when the pooled value is positive, which is where the
 * relu passes it. Any window shape. */
static void relu_maxpool_backward(const img_ctx *c, const float *y, const float *dy, float *dx)
{
    const vb_cnn_layer *L = c->L;
    const int32_t *am = c->ws->argmax[c->l] + c->i * L->n_out;
    const size_t in_plane = (size_t)L->in.h * L->in.w, out_plane = (size_t)L->out.h * L->out.w;
    memset(dx, 0, L->n_in * sizeof *dx);
    for (int ch = 0; ch < L->in.c; ch++) {
        float *dp = dx + ch * in_plane;
        const float *gp = dy + ch * out_plane, *yp = y + ch * out_plane;
        const int32_t *ap = am + ch * out_plane;
        for (size_t o = 0; o < out_plane; o++)
            dp[ap[o]] += yp[o] > 0 ? gp[o] : 0.0f;
    }
}

static void avgpool_forward(const img_ctx *c, const float *x, float *y)
{
    const vb_cnn_layer *L = c->L;
    const int H = L->in.h, W = L->in.w, Ho = L->out.h, Wo = L->out.w, k = L->conf.size, s = L->conf.stride;
    const size_t in_plane = (size_t)H * W, out_plane = (size_t)Ho * Wo;
    const float inv = 1.0f / (float)(k * k);
    for (int ch = 0; ch < L->in.c; ch++) {
        const float *xp = x + ch * in_plane;
        float *yp = y + ch * out_plane;
        for (int oy = 0; oy < Ho; oy++)
            for (int ox = 0; ox < Wo; ox++) {
                const float *w0 = xp + (size_t)oy * s * W + (size_t)ox * s;
                float sum = 0;
                for (int ky = 0; ky < k; ky++)
                    for (int kx = 0; kx < k; kx++)
                        sum += w0[ky * W + kx];
                yp[oy * Wo + ox] = sum * inv;
            }
    }
}

static void avgpool_backward(const img_ctx *c, const float *x, const float *y, const float *dy, float *dx,
                             float *acc, int first)
{
    const vb_cnn_layer *L = c->L;
    const int H = L->in.h, W = L->in.w, Ho = L->out.h, Wo = L->out.w, k = L->conf.size, s = L->conf.stride;
    const size_t in_plane = (size_t)H * W, out_plane = (size_t)Ho * Wo;
    const float inv = 1.0f / (float)(k * k);
    memset(dx, 0, L->n_in * sizeof *dx);
    for (int ch = 0; ch < L->in.c; ch++) {
        float *dp = dx + ch * in_plane;
        const float *gp = dy + ch * out_plane;
        for (int oy = 0; oy < Ho; oy++)
            for (int ox = 0; ox < Wo; ox++) {
                float g = gp[oy * Wo + ox] * inv;
                float *w0 = dp + (size_t)oy * s * W + (size_t)ox * s;
                for (int ky = 0; ky < k; ky++)
                    for (int kx = 0; kx < k; kx++)
                        w0[ky * W + kx] += g;
            }
    }
}

static void relu_forward(const img_ctx *c, const float *x, float *y)
{
    const size_t n = c->L->n_in;
    for (size_t j = 0; j < n; j++)
        y[j] = x[j] > 0 ? x[j] : 0.0f;
}

static void relu_backward(const img_ctx *c, const float *x, const float *y, const float *dy, float *dx, float *acc,
                          int first)
{
    const size_t n = c->L->n_in;
    for (size_t j = 0; j < n; j++)
        dx[j] = y[j] > 0 ? dy[j] : 0.0f;
}

static void dropout_forward(const img_ctx *c, const float *x, float *y)
{
    const size_t n = c->L->n_in;
    const float *m = c->train && c->ws->mask[c->l] ? c->ws->mask[c->l] + c->i * n : NULL;
    if (!m) {
        memcpy(y, x, n * sizeof *y);
        return;
    }
    for (size_t j = 0; j < n; j++)
        y[j] = x[j] * m[j];
}

static void dropout_backward(const img_ctx *c, const float *x, const float *y, const float *dy, float *dx,
                             float *acc, int first)
{
    const size_t n = c->L->n_in;
    const float *m = c->ws->mask[c->l] + c->i * n;
    for (size_t j = 0; j < n; j++)
        dx[j] = dy[j] * m[j];
}

static void flatten_forward(const img_ctx *c, const float *x, float *y)
{
    /* the output buffer is the input buffer */
}

static void flatten_backward(const img_ctx *c, const float *x, const float *y, const float *dy, float *dx,
                             float *acc, int first)
{
}

/* ---- batch normalisation ----------------------------------------------- */

/* Per channel c over the n images and the S = w h positions. */
static void batchnorm_forward(const vb_cnn *net, const vb_cnn_layer *L, size_t l, vb_cnn_ws *ws, const float *x,
                              float *y, size_t n, int train)
{
    const int C = L->in.c;
    const size_t S = (size_t)L->in.w * L->in.h, stride = L->n_in;
    const float *gamma = net->params + L->w_off, *beta = net->params + L->b_off;
    const float *rm = net->stats + L->s_off, *rv = rm + C;
    const float eps = L->conf.eps;
    float *xh = train ? ws->xhat[l] : NULL, *bs = train ? ws->bstat[l] : NULL;
#pragma omp parallel for num_threads(ws->nthreads) schedule(dynamic) if (n * L->n_in >= PARALLEL_MIN)
    for (int c = 0; c < C; c++) {
        float mean, inv;
        if (train) {
            double sum = 0, sq = 0;
            for (size_t i = 0; i < n; i++) {
                const float *p = x + i * stride + (size_t)c * S;
                for (size_t s = 0; s < S; s++)
                    sum += p[s];
            }
            double m = sum / (double)(n * S);
            for (size_t i = 0; i < n; i++) {
                const float *p = x + i * stride + (size_t)c * S;
                for (size_t s = 0; s < S; s++)
                    sq += (p[s] - m) * (p[s] - m);
            }
            double var = sq / (double)(n * S);
            mean = (float)m;
            inv = (float)(1.0 / sqrt(var + eps));
            bs[c] = mean;
            bs[C + c] = (float)var;
            bs[2 * C + c] = inv;
        } else {
            mean = rm[c];
            inv = 1.0f / sqrtf(rv[c] + eps);
        }
        const float g = gamma[c], b = beta[c];
        for (size_t i = 0; i < n; i++) {
            const float *p = x + i * stride + (size_t)c * S;
            float *q = y + i * stride + (size_t)c * S;
            if (xh) {
                float *h = xh + i * stride + (size_t)c * S;
                for (size_t s = 0; s < S; s++) {
                    h[s] = (p[s] - mean) * inv;
                    q[s] = g * h[s] + b;
                }
            } else
                for (size_t s = 0; s < S; s++)
                    q[s] = g * ((p[s] - mean) * inv) + b;
        }
    }
}

static void batchnorm_backward(const vb_cnn *net, const vb_cnn_layer *L, size_t l, vb_cnn_ws *ws, const float *x,
                               const float *y, const float *dy, float *dx, float *pg, size_t n)
{
    const int C = L->in.c;
    const size_t S = (size_t)L->in.w * L->in.h, stride = L->n_in;
    const float *gamma = net->params + L->w_off;
    const float *xh = ws->xhat[l], *bs = ws->bstat[l];
    float *dgamma = pg + L->w_off, *dbeta = pg + L->b_off;
    const double M = (double)(n * S);
#pragma omp parallel for num_threads(ws->nthreads) schedule(dynamic) if (n * L->n_in >= PARALLEL_MIN)
    for (int c = 0; c < C; c++) {
        double sdy = 0, sdyx = 0;
        for (size_t i = 0; i < n; i++) {
            const float *g = dy + i * stride + (size_t)c * S, *h = xh + i * stride + (size_t)c * S;
            for (size_t s = 0; s < S; s++) {
                sdy += g[s];
                sdyx += (double)g[s] * h[s];
            }
        }
        dgamma[c] = (float)sdyx;
        dbeta[c] = (float)sdy;
        if (!dx)
            continue;
        /* dx = gamma / sd (dy - mean(dy) - xhat mean(dy xhat)) */
        const float k = gamma[c] * bs[2 * C + c], a = (float)(sdy / M), b = (float)(sdyx / M);
        for (size_t i = 0; i < n; i++) {
            const float *g = dy + i * stride + (size_t)c * S, *h = xh + i * stride + (size_t)c * S;
            float *d = dx + i * stride + (size_t)c * S;
            for (size_t s = 0; s < S; s++)
                d[s] = k * (g[s] - a - h[s] * b);
        }
    }
}

void vb_cnn_update_stats(vb_cnn *net, const vb_cnn_ws *ws, size_t n)
{
    for (size_t l = 0; l < net->n_layers; l++) {
        const vb_cnn_layer *L = &net->layers[l];
        if (L->conf.kind != VB_CNN_BATCHNORM || !ws->bstat[l] || L->frozen)
            continue;
        const int C = L->in.c;
        const double M = (double)n * L->in.w * L->in.h, m = L->conf.momentum;
        float *rm = net->stats + L->s_off, *rv = rm + C;
        const float *bs = ws->bstat[l];
        /* running variance: the unbiased batch variance, as torch keeps it */
        const double unbias = M > 1 ? M / (M - 1) : 1;
        for (int c = 0; c < C; c++) {
            rm[c] = (float)((1 - m) * rm[c] + m * bs[c]);
            rv[c] = (float)((1 - m) * rv[c] + m * bs[C + c] * unbias);
        }
    }
}

/* ---- fully connected --------------------------------------------------- */

/* Blocks of units: [*b0, *b1) of block q among nb blocks of `units`. */
static size_t fc_blocks(size_t units) { return units / FC_BLOCK ? units / FC_BLOCK : 1; }

static void block_range(size_t units, size_t nb, size_t q, size_t *b0, size_t *b1)
{
    /* boundaries on multiples of 16 floats */
    size_t per = (units + nb - 1) / nb;
    per = (per + 15) / 16 * 16;
    *b0 = q * per < units ? q * per : units;
    *b1 = (q + 1) * per < units ? (q + 1) * per : units;
}

/* Rows of the batch per piece when a layer is cut along the batch. */
#define FC_ROWS 16

/* Y = X W^T + b: blocks of units, or, with few units, blocks of rows. */
static void fc_forward(const vb_cnn *net, const vb_cnn_layer *L, size_t l, vb_cnn_ws *ws, const float *x, float *y,
                       size_t n, int train)
{
    const size_t NI = L->n_in, NO = L->n_out, nbo = fc_blocks(NO);
    const int by_rows = nbo < 2;
    const size_t pieces = by_rows ? (n + FC_ROWS - 1) / FC_ROWS : nbo;
    const float *Wt = net->params + L->w_off, *b = net->params + L->b_off;
#pragma omp parallel for num_threads(ws->nthreads) schedule(dynamic) if (n * NI * NO >= PARALLEL_MIN)
    for (size_t q = 0; q < pieces; q++) {
        size_t o0 = 0, o1 = NO, r0 = 0, r1 = n;
        if (by_rows) {
            r0 = q * FC_ROWS;
            r1 = r0 + FC_ROWS < n ? r0 + FC_ROWS : n;
        } else
            block_range(NO, nbo, q, &o0, &o1);
        if (o0 >= o1 || r0 >= r1)
            continue;
        for (size_t i = r0; i < r1; i++)
            memcpy(y + i * NO + o0, b + o0, (o1 - o0) * sizeof *y);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)(r1 - r0), (int)(o1 - o0), (int)NI, 1.0f,
                    x + r0 * NI, (int)NI, Wt + o0 * NI, (int)NI, 1.0f, y + r0 * NO + o0, (int)NO);
    }
}

/* dW = dY^T X and db in blocks of units (or of inputs, with few units);
 * dX = dY W in blocks of inputs (or of rows, with few inputs). */
static void fc_backward(const vb_cnn *net, const vb_cnn_layer *L, size_t l, vb_cnn_ws *ws, const float *x,
                        const float *y, const float *dy, float *dx, float *pg, size_t n)
{
    const size_t NI = L->n_in, NO = L->n_out, nbo = fc_blocks(NO), nbi = fc_blocks(NI);
    const int w_by_in = nbo < 2, x_by_rows = nbi < 2;
    const size_t pw = w_by_in ? nbi : nbo, px = !dx ? 0 : x_by_rows ? (n + FC_ROWS - 1) / FC_ROWS : nbi;
    const float *Wt = net->params + L->w_off;
    float *dW = pg + L->w_off, *db = pg + L->b_off;
    /* one loop over both kinds of pieces keeps the threads busy */
#pragma omp parallel for num_threads(ws->nthreads) schedule(dynamic) if (n * NI * NO >= PARALLEL_MIN)
    for (size_t q = 0; q < pw + px; q++) {
        if (q < pw) {
            size_t o0 = 0, o1 = NO, i0 = 0, i1 = NI;
            if (w_by_in)
                block_range(NI, nbi, q, &i0, &i1);
            else
                block_range(NO, nbo, q, &o0, &o1);
            if (o0 >= o1 || i0 >= i1)
                continue;
            /* dW[o0:o1, i0:i1] = dY[:, o0:o1]^T X[:, i0:i1] */
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)(o1 - o0), (int)(i1 - i0), (int)n, 1.0f,
                        dy + o0, (int)NO, x + i0, (int)NI, 0.0f, dW + o0 * NI + i0, (int)NI);
            if (i0 == 0) {
                for (size_t o = o0; o < o1; o++)
                    db[o] = 0;
                for (size_t i = 0; i < n; i++)
                    for (size_t o = o0; o < o1; o++)
                        db[o] += dy[i * NO + o];
            }
        } else {
            size_t i0 = 0, i1 = NI, r0 = 0, r1 = n;
            if (x_by_rows) {
                r0 = (q - pw) * FC_ROWS;
                r1 = r0 + FC_ROWS < n ? r0 + FC_ROWS : n;
            } else
                block_range(NI, nbi, q - pw, &i0, &i1);
            if (i0 >= i1 || r0 >= r1)
                continue;
            /* dX[r0:r1, i0:i1] = dY[r0:r1] W[:, i0:i1] */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)(r1 - r0), (int)(i1 - i0), (int)NO, 1.0f,
                        dy + r0 * NO, (int)NO, Wt + i0, (int)NI, 0.0f, dx + r0 * NI + i0, (int)NI);
        }
    }
}

/* ---- dispatch ---------------------------------------------------------- */

typedef void (*img_forward_fn)(const img_ctx *, const float *, float *);
typedef void (*img_backward_fn)(const img_ctx *, const float *, const float *, const float *, float *, float *, int);
typedef void (*forward_fn)(const vb_cnn *, const vb_cnn_layer *, size_t, vb_cnn_ws *, const float *, float *, size_t,
                           int);
typedef void (*backward_fn)(const vb_cnn *, const vb_cnn_layer *, size_t, vb_cnn_ws *, const float *, const float *,
                            const float *, float *, float *, size_t);

/* Image-local kinds have per-image functions; the others work on the batch. */
static const struct {
    img_forward_fn img_forward;
    img_backward_fn img_backward;
    forward_fn forward;
    backward_fn backward;
} ops[VB_CNN_N_KINDS] = {
    [VB_CNN_CONV] = {conv_forward, conv_backward, NULL, NULL},
    [VB_CNN_MAXPOOL] = {maxpool_forward, maxpool_backward, NULL, NULL},
    [VB_CNN_AVGPOOL] = {avgpool_forward, avgpool_backward, NULL, NULL},
    [VB_CNN_RELU] = {relu_forward, relu_backward, NULL, NULL},
    [VB_CNN_FC] = {NULL, NULL, fc_forward, fc_backward},
    [VB_CNN_DROPOUT] = {dropout_forward, dropout_backward, NULL, NULL},
    [VB_CNN_BATCHNORM] = {NULL, NULL, batchnorm_forward, batchnorm_backward},
    [VB_CNN_FLATTEN] = {flatten_forward, flatten_backward, NULL, NULL},
};

static int is_local(const vb_cnn *net, size_t l) { return ops[net->layers[l].conf.kind].img_forward != NULL; }

/* Rough work of image-local layers [l0, l1) on n images: multiply-adds of
 * the convolutions, values of the others. */
static size_t segment_work(const vb_cnn *net, size_t l0, size_t l1, size_t n)
{
    size_t w = 0;
    for (size_t l = l0; l < l1; l++) {
        const vb_cnn_layer *L = &net->layers[l];
        w += L->conf.kind == VB_CNN_CONV ? L->n_out * L->n_w / (size_t)L->out.c : L->n_in;
    }
    return w * n;
}

/* Layers [l0, l1), all image-local, for images 0..n-1. */
static void local_forward(const vb_cnn *net, vb_cnn_ws *ws, size_t l0, size_t l1, size_t n, int train)
{
#pragma omp parallel for num_threads(ws->nthreads) schedule(dynamic) if (segment_work(net, l0, l1, n) >= PARALLEL_MIN)
    for (size_t i = 0; i < n; i++) {
        img_ctx c = {.net = net, .ws = ws, .i = i, .train = train, .tid = thread_id()};
        for (size_t l = l0; l < l1; l++) {
            const vb_cnn_layer *L = &net->layers[l];
            if (l + 1 < l1 && relu_pool_fits(L, &net->layers[l + 1])) {
                c.L = &net->layers[l + 1];
                c.l = l + 1;
                relu_maxpool_forward(&c, ws->act[l] + i * L->n_in, ws->act[l + 2] + i * c.L->n_out);
                l++;
                continue;
            }
            c.L = L;
            c.l = l;
            ops[L->conf.kind].img_forward(&c, ws->act[l] + i * L->n_in, ws->act[l + 1] + i * L->n_out);
        }
    }
}

/* Backward through image-local layers [l0, l1): chunks of images, each
 * summing its conv gradients image by image; then the chunks in order. */
static void local_backward(const vb_cnn *net, vb_cnn_ws *ws, size_t l0, size_t l1, size_t n)
{
    const size_t G = ws->chunk, nch = (n + G - 1) / G;
#pragma omp parallel num_threads(ws->nthreads) if (segment_work(net, l0, l1, n) >= PARALLEL_MIN)
    {
        img_ctx c = {.net = net, .ws = ws, .train = 1, .tid = thread_id()};
#pragma omp for schedule(dynamic)
        for (size_t g = 0; g < nch; g++) {
            float *acc = ws->acc ? ws->acc + g * ws->acc_stride : NULL; /* (NULL: no conv here) */
            size_t i0 = g * G, i1 = i0 + G < n ? i0 + G : n;
            for (size_t i = i0; i < i1; i++) {
                c.i = i;
                for (size_t l = l1; l-- > l0;) {
                    const vb_cnn_layer *L = &net->layers[l];
                    if (!ws->grad[l + 1])
                        break; /* nothing below needs a gradient */
                    c.L = L;
                    c.l = l;
                    if (L->conf.kind == VB_CNN_MAXPOOL && l > l0 && net->layers[l - 1].conf.kind == VB_CNN_RELU) {
                        /* relu and pool in one pass (the relu's output may not be stored) */
                        l--;
                        if (ws->grad[l])
                            relu_maxpool_backward(&c, ws->act[l + 2] + i * L->n_out, ws->grad[l + 2] + i * L->n_out,
                                                  ws->grad[l] + i * net->layers[l].n_in);
                        continue;
                    }
                    float *dx = ws->grad[l] ? ws->grad[l] + i * L->n_in : NULL;
                    if (!dx && L->conf.kind != VB_CNN_CONV)
                        continue;
                    float *lacc = acc ? acc + ws->acc_off[l] : NULL;
                    ops[L->conf.kind].img_backward(&c, ws->act[l] + i * L->n_in, ws->act[l + 1] + i * L->n_out,
                                                   ws->grad[l + 1] + i * L->n_out, dx, lacc, i == i0);
                }
            }
        }
        for (size_t l = l0; l < l1; l++) {
            const vb_cnn_layer *L = &net->layers[l];
            if (L->conf.kind != VB_CNN_CONV || !ws->grad[l + 1])
                continue;
            const size_t npar = L->n_w + L->n_b, off = ws->acc_off[l];
            float *out = ws->pgrad + L->w_off;
#pragma omp for schedule(dynamic, 4096) nowait
            for (size_t j = 0; j < npar; j++) {
                float s = ws->acc[off + j];
                for (size_t g = 1; g < nch; g++)
                    s += ws->acc[g * ws->acc_stride + off + j];
                out[j] = s;
            }
        }
    }
}

void vb_cnn_forward(const vb_cnn *net, vb_cnn_ws *ws, size_t n, int train)
{
    vb_cnn_forward_to(net, ws, n, train, net->n_layers);
}

void vb_cnn_forward_to(const vb_cnn *net, vb_cnn_ws *ws, size_t n, int train, size_t layers)
{
    train = train && ws->train;
    if (layers > net->n_layers)
        layers = net->n_layers;
    int saved = vb_blas_serial_enter();
    /* a relu fused with the pool after it is not stored: the last layer
     * run is never fused with one it does not run */
    for (size_t l = 0; l < layers;) {
        if (is_local(net, l)) {
            size_t r = l + 1;
            while (r < layers && is_local(net, r))
                r++;
            local_forward(net, ws, l, r, n, train);
            l = r;
            continue;
        }
        const vb_cnn_layer *L = &net->layers[l];
        ops[L->conf.kind].forward(net, L, l, ws, ws->act[l], ws->act[l + 1], n, train);
        l++;
    }
    vb_blas_serial_leave(saved);
}

void vb_cnn_backward(const vb_cnn *net, vb_cnn_ws *ws, size_t n)
{
    if (!ws->train)
        return;
    int saved = vb_blas_serial_enter();
    for (size_t l = net->n_layers; l > 0;) {
        if (is_local(net, l - 1)) {
            size_t s = l - 1;
            while (s > 0 && is_local(net, s - 1))
                s--;
            local_backward(net, ws, s, l, n);
            l = s;
            continue;
        }
        l--;
        const vb_cnn_layer *L = &net->layers[l];
        if (ws->grad[l + 1])
            ops[L->conf.kind].backward(net, L, l, ws, ws->act[l], ws->act[l + 1], ws->grad[l + 1], ws->grad[l],
                                       ws->pgrad, n);
    }
    vb_blas_serial_leave(saved);
}

/* ---- loss -------------------------------------------------------------- */

double vb_cnn_xent(const float *logits, const int *y, size_t n, int k, float *dlogits, float *probs,
                   size_t *correct)
{
    double total = 0;
    size_t hits = 0;
    for (size_t i = 0; i < n; i++) {
        const float *z = logits + i * (size_t)k;
        int arg = 0;
        for (int j = 1; j < k; j++)
            if (z[j] > z[arg])
                arg = j;
        hits += arg == y[i];
        double mx = z[arg], s = 0;
        for (int j = 0; j < k; j++)
            s += exp((double)z[j] - mx);
        double lse = mx + log(s);
        total += lse - z[y[i]];
        for (int j = 0; j < k; j++) {
            double p = exp((double)z[j] - lse);
            if (probs)
                probs[i * (size_t)k + j] = (float)p;
            if (dlogits)
                dlogits[i * (size_t)k + j] = (float)((p - (j == y[i])) / (double)n);
        }
    }
    if (correct)
        *correct = hits;
    return total;
}

double vb_cnn_bce(const float *logits, const uint8_t *Y, size_t n, int k, float *dlogits, float *probs,
                  size_t *correct)
{
    double total = 0;
    size_t hits = 0;
    for (size_t i = 0; i < n * (size_t)k; i++) {
        const double z = logits[i];
        const int y = Y[i] != 0;
        hits += (z > 0) == y;
        /* log(1 + e^z) - z y, without overflow */
        total += (z > 0 ? z : 0) - z * y + log1p(exp(-fabs(z)));
        const double p = vb_cnn_sigmoid(z);
        if (probs)
            probs[i] = (float)p;
        if (dlogits)
            dlogits[i] = (float)((p - y) / (double)n);
    }
    if (correct)
        *correct = hits;
    return total;
}
