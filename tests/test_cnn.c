/* cnn: gradient checks for every layer and a whole network, optimiser and
 * schedule values by hand, augmentation geometry, save/load round trips,
 * determinism (also across thread counts), literal error messages, NaN
 * handling, early stopping, and the runner wiring (check hook, curves);
 * sigmoid outputs for label sets: the binary cross-entropy by hand and by
 * central differences, learning a synthetic multilabel problem, threshold
 * tuning, save/load (and states of the format before them), threads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "support/testutil.h"
#include "../src/classifiers/internal.h"
#include "visbench/cnn.h"
#include "visbench/pipeline.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ----------------------------------------------------------- */

static void arch_from(const char *yaml, vb_cnn_arch *arch)
{
    vb_doc *doc = NULL;
    vb_error err = {0};
    if (vb_doc_load_string(yaml, "net.yaml", &doc, &err) != VB_OK)
        fail_msg("%s", err.msg);
    if (vb_cnn_arch_parse(doc->root, arch, &err) != VB_OK)
        fail_msg("%s", err.msg);
    vb_doc_free(doc);
}

static vb_cnn *make_net(const char *yaml, int w, int h, int c, int k)
{
    vb_cnn_arch arch;
    arch_from(yaml, &arch);
    vb_cnn *net = NULL;
    vb_error err = {0};
    vb_shape in = {w, h, c};
    if (vb_cnn_new(&arch, in, k, &net, &err) != VB_OK)
        fail_msg("%s", err.msg);
    vb_cnn_arch_free(&arch);
    return net;
}

/* Initial weights: on an fc layer with fan-in 64 and 100 units (6,400
 * weights) the sample moments match each scheme; He and Xavier leave the
 * biases at zero, uniform (PyTorch's default) draws them in the same
 * +-1/sqrt(fan_in) as the weights. */
static void test_init_kinds(void **state)
{
    vb_cnn *net = make_net("[flatten, fc: 100, relu, fc: classes]", 8, 8, 1, 10);
    const vb_cnn_layer *L = &net->layers[1];
    assert_int_equal(L->conf.kind, VB_CNN_FC);
    assert_int_equal(L->n_w, 6400);
    const vb_cnn_init_kind kinds[] = {VB_CNN_INIT_HE, VB_CNN_INIT_XAVIER, VB_CNN_INIT_UNIFORM};
    const double var_want[] = {2.0 / 64, 2.0 / (64 + 100), 1.0 / (3 * 64)};
    for (int t = 0; t < 3; t++) {
        vb_error err = {0};
        assert_int_equal(vb_cnn_init(net, kinds[t], 7, &err), VB_OK);
        const float *w = net->params + L->w_off, *b = net->params + L->b_off;
        double m = 0, q = 0, wmax = 0;
        for (size_t j = 0; j < L->n_w; j++) {
            m += w[j];
            q += (double)w[j] * w[j];
            wmax = fmax(wmax, fabs(w[j]));
        }
        m /= (double)L->n_w;
        double var = q / (double)L->n_w - m * m;
        if (fabs(m) > 0.05 * sqrt(var_want[t]) * 2 || fabs(var / var_want[t] - 1) > 0.06)
            fail_msg("init %d: mean %g, variance %g, expected 0 and %g", t, m, var, var_want[t]);
        size_t nonzero = 0;
        double bmax = 0;
        for (size_t j = 0; j < L->n_b; j++) {
            nonzero += b[j] != 0;
            bmax = fmax(bmax, fabs(b[j]));
        }
        if (kinds[t] == VB_CNN_INIT_UNIFORM) {
            assert_true(wmax <= 1 / 8.0);
            assert_true(bmax <= 1 / 8.0);
            assert_int_equal(nonzero, 100);
        } else
            assert_int_equal(nonzero, 0);
    }
    vb_cnn_free(net);
}

/* The error message of building yaml for (w, h, c) images and k classes. */
static vb_status arch_error(const char *yaml, int w, int h, int c, int k, vb_error *err)
{
    vb_doc *doc = NULL;
    assert_int_equal(vb_doc_load_string(yaml, "net.yaml", &doc, err), VB_OK);
    vb_cnn_arch arch;
    vb_status st = vb_cnn_arch_parse(doc->root, &arch, err);
    vb_doc_free(doc);
    if (st != VB_OK)
        return st;
    vb_shape in = {w, h, c};
    st = vb_cnn_arch_check(&arch, in, k, err);
    vb_cnn_arch_free(&arch);
    return st;
}

static void fill_gauss(float *v, size_t n, double sd, vb_rng *rng)
{
    for (size_t i = 0; i < n; i++)
        v[i] = (float)vb_rng_gauss(rng, sd);
}

/* Random weights everywhere (biases and batchnorm too, so that every
 * parameter has a non-trivial gradient). */
static void randomise(vb_cnn *net, uint64_t seed)
{
    vb_rng *rng = vb_rng_new(seed);
    fill_gauss(net->params, net->n_params, 0.5, rng);
    for (size_t l = 0; l < net->n_layers; l++) {
        const vb_cnn_layer *L = &net->layers[l];
        if (L->conf.kind == VB_CNN_BATCHNORM)
            for (size_t j = 0; j < L->n_w; j++)
                net->params[L->w_off + j] = 1.0f + 0.3f * (float)vb_rng_gauss(rng, 1);
    }
    vb_rng_free(rng);
}

/* ---- gradient checks --------------------------------------------------- */

typedef struct gc {
    vb_cnn *net;
    vb_cnn_ws *ws;
    size_t n;
    float *x;       /* n x n_in */
    float *R;       /* n x n_out: L = sum R * out (when y and Y are NULL) */
    const int *y;   /* labels: L = mean softmax cross-entropy */
    const uint8_t *Y; /* label sets (n x n_out): L = mean binary cross-entropy */
} gc;

static double gc_loss(gc *g)
{
    size_t d = g->net->layers[0].n_in, k = (size_t)g->net->n_classes;
    memcpy(vb_cnn_ws_input(g->ws), g->x, g->n * d * sizeof(float));
    vb_cnn_forward(g->net, g->ws, g->n, 1);
    const float *out = vb_cnn_ws_output(g->ws);
    if (g->y)
        return vb_cnn_xent(out, g->y, g->n, (int)k, NULL, NULL, NULL) / (double)g->n;
    if (g->Y)
        return vb_cnn_bce(out, g->Y, g->n, (int)k, NULL, NULL, NULL) / (double)g->n;
    double L = 0;
    for (size_t j = 0; j < g->n * k; j++)
        L += (double)g->R[j] * out[j];
    return L;
}

/* Analytic gradients: params (n_params) and input (n x n_in). */
static void gc_analytic(gc *g, float *dparams, float *dinput)
{
    size_t d = g->net->layers[0].n_in, k = (size_t)g->net->n_classes;
    memcpy(vb_cnn_ws_input(g->ws), g->x, g->n * d * sizeof(float));
    vb_cnn_forward(g->net, g->ws, g->n, 1);
    float *dz = vb_cnn_ws_output_grad(g->ws);
    if (g->y)
        vb_cnn_xent(vb_cnn_ws_output(g->ws), g->y, g->n, (int)k, dz, NULL, NULL);
    else if (g->Y)
        vb_cnn_bce(vb_cnn_ws_output(g->ws), g->Y, g->n, (int)k, dz, NULL, NULL);
    else
        memcpy(dz, g->R, g->n * k * sizeof(float));
    vb_cnn_backward(g->net, g->ws, g->n);
    memcpy(dparams, vb_cnn_ws_param_grad(g->ws), g->net->n_params * sizeof(float));
    const float *di = vb_cnn_ws_input_grad(g->ws);
    assert_non_null(di);
    memcpy(dinput, di, g->n * d * sizeof(float));
}

/* Difference quotient of the loss in *p over [p + lo, p + hi]. */
static double quotient(gc *g, float *p, double lo, double hi)
{
    float old = *p, a = (float)(old + lo), b = (float)(old + hi);
    *p = b;
    double lb = gc_loss(g);
    *p = a;
    double la = gc_loss(g);
    *p = old;
    return (lb - la) / ((double)b - (double)a);
}

typedef struct gc_stats {
    size_t checked, kinks, bad;
    double worst;
} gc_stats;

/* Central difference against the analytic value; where they disagree, a
 * kink (relu, max) between the probes shows as one one-sided difference
 * matching: counted as a kink, not a failure. */
static void gc_one(gc *g, float *p, double ana, double h, gc_stats *s, const char *what, size_t idx)
{
    const double atol = 2e-3, rtol = 1e-2;
    double num = quotient(g, p, -h, h);
    double err = fabs(num - ana), scale = fabs(num) > fabs(ana) ? fabs(num) : fabs(ana);
    s->checked++;
    if (err <= atol + rtol * scale)
        return;
    double fwd = quotient(g, p, 0, h / 8), bwd = quotient(g, p, -h / 8, 0);
    if (fabs(fwd - ana) <= 5 * atol + 5e-2 * scale || fabs(bwd - ana) <= 5 * atol + 5e-2 * scale) {
        s->kinks++;
        return;
    }
    s->bad++;
    if (err > s->worst)
        s->worst = err;
    if (s->bad <= 5)
        print_message("gradient mismatch: %s[%zu]: analytic %.6g, numeric %.6g\n", what, idx, ana, num);
}

/* Checks every parameter and input gradient of net on n random images,
 * with the loss of labels, of label sets, or (neither) sum R * out. */
static void grad_check_loss(vb_cnn *net, size_t n, const int *labels, const uint8_t *sets, double h,
                            int away_from_zero, uint64_t seed,
                            void (*setup)(vb_cnn_ws *ws, const vb_cnn *net, size_t n))
{
    vb_error err = {0};
    gc g = {.net = net, .n = n, .y = labels, .Y = sets};
    assert_int_equal(vb_cnn_ws_new(net, n, 1, 1, &g.ws, &err), VB_OK);
    size_t d = net->layers[0].n_in, k = (size_t)net->n_classes;
    vb_rng *rng = vb_rng_new(seed);
    g.x = malloc(n * d * sizeof(float));
    g.R = malloc(n * k * sizeof(float));
    fill_gauss(g.x, n * d, 1, rng);
    fill_gauss(g.R, n * k, 1, rng);
    if (away_from_zero) /* relu inputs well away from its kink */
        for (size_t i = 0; i < n * d; i++)
            g.x[i] = (g.x[i] < 0 ? -0.2f : 0.2f) + g.x[i];
    if (away_from_zero == 2) /* max pooling: distinct values 0.05 apart */
        for (size_t i = 0; i < n * d; i++)
            g.x[i] = 0.05f * (float)vb_rng_below(rng, 20 * n * d) + 0.001f * (float)i / (float)(n * d);
    if (setup)
        setup(g.ws, net, n);
    float *dp = malloc((net->n_params ? net->n_params : 1) * sizeof(float));
    float *dx = malloc(n * d * sizeof(float));
    gc_analytic(&g, dp, dx);
    gc_stats s = {0};
    for (size_t j = 0; j < net->n_params; j++)
        gc_one(&g, &net->params[j], dp[j], h, &s, "param", j);
    for (size_t j = 0; j < n * d; j++)
        gc_one(&g, &g.x[j], dx[j], h, &s, "input", j);
    if (s.bad)
        fail_msg("%zu of %zu gradients wrong (worst error %g)", s.bad, s.checked, s.worst);
    /* kinks are rare; many of them would hide a bug */
    assert_true(s.kinks * 20 <= s.checked);
    assert_true(s.checked == net->n_params + n * d);
    free(dp);
    free(dx);
    free(g.x);
    free(g.R);
    vb_rng_free(rng);
    vb_cnn_ws_free(g.ws);
}

static void grad_check(vb_cnn *net, size_t n, const int *labels, double h, int away_from_zero, uint64_t seed,
                       void (*setup)(vb_cnn_ws *ws, const vb_cnn *net, size_t n))
{
    grad_check_loss(net, n, labels, NULL, h, away_from_zero, seed, setup);
}

static void test_grad_conv_stride_pad(void **state)
{
    /* 7x6x2 -> (7+2-3)/2+1 = 4 by (6+2-3)/2+1 = 3, 3 filters */
    vb_cnn *net = make_net("[conv: {filters: 3, size: 3, stride: 2, pad: 1}]", 7, 6, 2, 36);
    assert_int_equal(net->layers[0].out.w, 4);
    assert_int_equal(net->layers[0].out.h, 3);
    randomise(net, 1);
    grad_check(net, 3, NULL, 1e-2, 0, 11, NULL);
    vb_cnn_free(net);
}

static void test_grad_conv_pad2(void **state)
{
    vb_cnn *net = make_net("[conv: {filters: 2, size: 5, pad: 2}]", 6, 5, 1, 60);
    randomise(net, 2);
    grad_check(net, 2, NULL, 1e-2, 0, 12, NULL);
    vb_cnn_free(net);
}

static void test_grad_conv_1x1(void **state)
{
    /* the path without im2col */
    vb_cnn *net = make_net("[conv: {filters: 2, size: 1}]", 4, 3, 3, 24);
    randomise(net, 3);
    grad_check(net, 2, NULL, 1e-2, 0, 13, NULL);
    vb_cnn_free(net);
}

static void test_grad_maxpool(void **state)
{
    vb_cnn *net = make_net("[maxpool: 2]", 6, 4, 2, 12);
    grad_check(net, 3, NULL, 1e-2, 2, 14, NULL);
    vb_cnn_free(net);
    /* overlapping windows: one input can be the max of two */
    net = make_net("[maxpool: {size: 3, stride: 2}]", 7, 7, 1, 9);
    grad_check(net, 2, NULL, 1e-2, 2, 15, NULL);
    vb_cnn_free(net);
}

/* relu then maxpool run fused (one pass each way); a rate-0 dropout in
 * between keeps them apart. Both must give the same numbers, bit for bit:
 * outputs (training and inference) and input gradients, on inputs with
 * negatives, zeros, ties and all-negative windows. */
static void relu_pool_same(const char *fused, const char *apart, int w, int h, int c, int k)
{
    vb_cnn *a = make_net(fused, w, h, c, k), *b = make_net(apart, w, h, c, k);
    randomise(a, 5);
    assert_int_equal(a->n_params, b->n_params);
    memcpy(b->params, a->params, a->n_params * sizeof *a->params);
    const int direct = a->layers[0].conf.kind == VB_CNN_RELU;
    const size_t n = 3, d = (size_t)w * h * c;
    vb_error err = {0};
    vb_cnn_ws *wa = NULL, *wb = NULL, *ia = NULL, *ib = NULL;
    assert_int_equal(vb_cnn_ws_new(a, n, 1, 1, &wa, &err), VB_OK);
    assert_int_equal(vb_cnn_ws_new(b, n, 1, 1, &wb, &err), VB_OK);
    assert_int_equal(vb_cnn_ws_new(a, n, 0, 0, &ia, &err), VB_OK);
    assert_int_equal(vb_cnn_ws_new(b, n, 0, 0, &ib, &err), VB_OK);
    vb_rng *rng = vb_rng_new(31);
    float *x = vb_cnn_ws_input(wa);
    fill_gauss(x, n * d, 1, rng);
    for (size_t i = 0; i < n * d; i += 7)
        x[i] = 0; /* zeros: ties at the relu's kink */
    for (size_t i = 3; i < n * d; i += 11)
        x[i] = x[i - 1]; /* ties between values */
    for (int j = 0; j < 2 * w; j++)
        x[j] = -1.0f - 0.1f * (float)j; /* the first two rows negative: all-negative windows */
    memcpy(vb_cnn_ws_input(wb), x, n * d * sizeof *x);
    memcpy(vb_cnn_ws_input(ia), x, n * d * sizeof *x);
    memcpy(vb_cnn_ws_input(ib), x, n * d * sizeof *x);
    vb_cnn_forward(a, wa, n, 1);
    vb_cnn_forward(b, wb, n, 1);
    vb_cnn_forward(a, ia, n, 0);
    vb_cnn_forward(b, ib, n, 0);
    assert_memory_equal(vb_cnn_ws_output(wa), vb_cnn_ws_output(wb), n * (size_t)k * sizeof(float));
    assert_memory_equal(vb_cnn_ws_output(ia), vb_cnn_ws_output(ib), n * (size_t)k * sizeof(float));
    assert_memory_equal(vb_cnn_ws_output(ia), vb_cnn_ws_output(wa), n * (size_t)k * sizeof(float));
    float *ga = vb_cnn_ws_output_grad(wa);
    fill_gauss(ga, n * (size_t)k, 1, rng);
    memcpy(vb_cnn_ws_output_grad(wb), ga, n * (size_t)k * sizeof *ga);
    vb_cnn_backward(a, wa, n);
    vb_cnn_backward(b, wb, n);
    const float *da = vb_cnn_ws_input_grad(wa), *db = vb_cnn_ws_input_grad(wb);
    assert_memory_equal(da, db, n * d * sizeof *da);
    size_t nonzero = 0;
    for (size_t i = 0; i < n * d; i++) {
        if (da[i] != 0 && direct)
            assert_true(x[i] > 0); /* the relu passes nothing else */
        nonzero += da[i] != 0;
    }
    assert_true(nonzero > 0);
    if (a->n_params)
        assert_memory_equal(vb_cnn_ws_param_grad(wa), vb_cnn_ws_param_grad(wb), a->n_params * sizeof(float));
    vb_rng_free(rng);
    vb_cnn_ws_free(wa);
    vb_cnn_ws_free(wb);
    vb_cnn_ws_free(ia);
    vb_cnn_ws_free(ib);
    vb_cnn_free(a);
    vb_cnn_free(b);
}

static void test_relu_maxpool_fused(void **state)
{
    relu_pool_same("[relu, maxpool: 2]", "[relu, dropout: 0, maxpool: 2]", 8, 6, 3, 36);
    /* odd sides: windows do not tile, the forward is not fused, the backward is */
    relu_pool_same("[relu, maxpool: 2]", "[relu, dropout: 0, maxpool: 2]", 7, 5, 2, 12);
    relu_pool_same("[relu, maxpool: {size: 3, stride: 2}]", "[relu, dropout: 0, maxpool: {size: 3, stride: 2}]", 7,
                   7, 1, 9);
    /* after a convolution, as in the classic nets */
    relu_pool_same("[conv: {filters: 4, size: 3, pad: 1}, relu, maxpool: 2]",
                   "[conv: {filters: 4, size: 3, pad: 1}, relu, dropout: 0, maxpool: 2]", 6, 6, 2, 36);
}

static void test_grad_avgpool(void **state)
{
    vb_cnn *net = make_net("[avgpool: 2]", 4, 6, 2, 12);
    grad_check(net, 3, NULL, 1e-2, 0, 16, NULL);
    vb_cnn_free(net);
    net = make_net("[avgpool: {size: 3, stride: 2}]", 7, 7, 1, 9);
    grad_check(net, 2, NULL, 1e-2, 0, 17, NULL);
    vb_cnn_free(net);
}

static void test_grad_relu(void **state)
{
    vb_cnn *net = make_net("[relu]", 5, 5, 1, 25);
    grad_check(net, 3, NULL, 1e-2, 1, 18, NULL);
    vb_cnn_free(net);
}

static void test_grad_fc(void **state)
{
    vb_cnn *net = make_net("[flatten, fc: 5]", 3, 3, 2, 5);
    randomise(net, 4);
    grad_check(net, 4, NULL, 1e-2, 0, 19, NULL);
    vb_cnn_free(net);
}

/* fc layers are cut into pieces by units, inputs or rows depending on
 * their sizes: each way gets checked. */
static void test_grad_fc_pieces(void **state)
{
    /* 300 units: forward and dW by blocks of units, dX by rows */
    vb_cnn *net = make_net("[flatten, fc: 300]", 2, 2, 1, 300);
    randomise(net, 8);
    grad_check(net, 18, NULL, 1e-2, 0, 24, NULL);
    vb_cnn_free(net);
    /* 260 inputs, 5 units: forward by rows, dW and dX by blocks of inputs */
    net = make_net("[flatten, fc: 5]", 13, 10, 2, 5);
    randomise(net, 9);
    grad_check(net, 17, NULL, 1e-2, 0, 25, NULL);
    vb_cnn_free(net);
}

static void test_grad_batchnorm(void **state)
{
    /* per channel over images and positions, training mode */
    vb_cnn *net = make_net("[batchnorm]", 4, 3, 3, 36);
    randomise(net, 5);
    grad_check(net, 3, NULL, 1e-2, 0, 20, NULL);
    vb_cnn_free(net);
    /* per feature over images, after flatten */
    net = make_net("[flatten, batchnorm]", 2, 2, 2, 8);
    randomise(net, 6);
    grad_check(net, 5, NULL, 1e-2, 0, 21, NULL);
    vb_cnn_free(net);
}

static void fixed_mask(vb_cnn_ws *ws, const vb_cnn *net, size_t n)
{
    for (size_t l = 0; l < net->n_layers; l++) {
        float *m = vb_cnn_ws_mask(ws, l);
        if (!m)
            continue;
        float scale = 1.0f / (1.0f - net->layers[l].conf.rate);
        for (size_t j = 0; j < n * net->layers[l].n_in; j++)
            m[j] = (j * 7 + 3) % 5 < 2 ? 0.0f : scale;
    }
}

static void test_grad_dropout(void **state)
{
    vb_cnn *net = make_net("[dropout: 0.4]", 4, 4, 1, 16);
    grad_check(net, 3, NULL, 1e-2, 0, 22, fixed_mask);
    /* and the forward pass applies the mask: zeros where it is zero */
    vb_cnn_ws *ws = NULL;
    vb_error err = {0};
    assert_int_equal(vb_cnn_ws_new(net, 2, 1, 0, &ws, &err), VB_OK);
    fixed_mask(ws, net, 2);
    float *in = vb_cnn_ws_input(ws);
    for (int j = 0; j < 32; j++)
        in[j] = 1.0f + (float)j;
    vb_cnn_forward(net, ws, 2, 1);
    const float *out = vb_cnn_ws_output(ws), *m = vb_cnn_ws_mask(ws, 0);
    for (int j = 0; j < 32; j++)
        assert_float_equal(out[j], in[j] * m[j], 1e-6);
    /* inference: identity */
    vb_cnn_forward(net, ws, 2, 0);
    for (int j = 0; j < 32; j++)
        assert_float_equal(out[j], in[j], 0);
    vb_cnn_ws_free(ws);
    vb_cnn_free(net);
}

/* A loss of logits (n x k) against labels or label sets: the sum over the
 * rows, with d(mean) / d logits into dz when not NULL. */
typedef double (*loss_fn)(const float *z, const void *truth, size_t n, int k, float *dz);

static double xent_loss(const float *z, const void *truth, size_t n, int k, float *dz)
{
    return vb_cnn_xent(z, truth, n, k, dz, NULL, NULL);
}

static double bce_loss(const float *z, const void *truth, size_t n, int k, float *dz)
{
    return vb_cnn_bce(z, truth, n, k, dz, NULL, NULL);
}

/* Central differences of the mean loss over a batch of n x k logits z
 * (changed and restored) against its analytic gradient, in double. */
static void loss_grad_check(loss_fn loss, const void *truth, float *z, size_t n, int k)
{
    float *dz = malloc(n * (size_t)k * sizeof *dz);
    loss(z, truth, n, k, dz);
    for (size_t j = 0; j < n * (size_t)k; j++) {
        float old = z[j], hi = old + 1e-2f, lo = old - 1e-2f;
        z[j] = hi;
        double lp = loss(z, truth, n, k, NULL) / (double)n;
        z[j] = lo;
        double lm = loss(z, truth, n, k, NULL) / (double)n;
        z[j] = old;
        assert_float_equal(dz[j], (lp - lm) / ((double)hi - (double)lo), 1e-5);
    }
    free(dz);
}

static void test_xent(void **state)
{
    /* logits (0, ln 2, ln 5): p = (1, 2, 5) / 8 */
    const float z[3] = {0, (float)log(2.0), (float)log(5.0)};
    const int y[1] = {1};
    float dz[3], p[3];
    size_t correct;
    double L = vb_cnn_xent(z, y, 1, 3, dz, p, &correct);
    assert_float_equal(L, -log(2.0 / 8), 1e-6);
    assert_float_equal(p[0], 1.0 / 8, 1e-6);
    assert_float_equal(p[2], 5.0 / 8, 1e-6);
    assert_float_equal(dz[1], 2.0 / 8 - 1, 1e-6);
    assert_float_equal(dz[2], 5.0 / 8, 1e-6);
    assert_int_equal(correct, 0);
    /* central differences of the mean loss over a batch */
    vb_rng *rng = vb_rng_new(5);
    float zz[4 * 6];
    const int yy[4] = {0, 5, 2, 2};
    fill_gauss(zz, 24, 2, rng);
    loss_grad_check(xent_loss, yy, zz, 4, 6);
    vb_rng_free(rng);
}

/* every kind at once, with the loss: 9x9x2 -> conv s2 p1 5x5x4 -> bn ->
 * relu -> maxpool 2 s1 4x4x4 -> avgpool 2 2x2x4 -> flatten -> fc 6 -> bn ->
 * relu -> dropout -> fc 3 */
static const char *every_kind_net = "[conv: {filters: 4, size: 3, stride: 2, pad: 1}, batchnorm, relu, "
                                    "maxpool: {size: 2, stride: 1}, avgpool: 2, flatten, fc: 6, batchnorm, relu, "
                                    "dropout: 0.25, conv: {filters: 5, size: 1}, fc: classes]";

static void test_grad_network(void **state)
{
    vb_cnn *net = make_net(every_kind_net, 9, 9, 2, 3);
    randomise(net, 7);
    const int y[4] = {0, 2, 1, 2};
    grad_check(net, 4, y, 1e-2, 0, 23, fixed_mask);
    vb_cnn_free(net);
}

/* Binary cross-entropy by hand, its stability at huge logits, and central
 * differences of the mean loss over a batch (in double, as test_xent). */
static void test_bce(void **state)
{
    /* row 1: z = (0, ln 3, -2), Y = (1, 0, 1): sigmoids 1/2, 3/4, 1/(1+e^2),
     * losses ln 2, -ln(1 - 3/4), ln(1 + e^2); row 2: z = (5, -5, 0), Y =
     * (1, 0, 0): ln(1 + e^-5) twice and ln 2. A row's loss sums its labels'. */
    const float z[6] = {0, (float)log(3.0), -2, 5, -5, 0};
    const uint8_t Y[6] = {1, 0, 1, 1, 0, 0};
    float dz[6], p[6];
    size_t correct = 99;
    double L = vb_cnn_bce(z, Y, 2, 3, dz, p, &correct);
    assert_float_equal(L, 2 * log(2.0) + log(4.0) + log(1 + exp(2.0)) + 2 * log(1 + exp(-5.0)), 1e-6);
    const double s2 = 1 / (1 + exp(2.0)), s5 = 1 / (1 + exp(-5.0));
    const double pw[6] = {0.5, 0.75, s2, s5, 1 - s5, 0.5};
    for (int j = 0; j < 6; j++) {
        assert_float_equal(p[j], pw[j], 1e-6);
        assert_float_equal(dz[j], (pw[j] - Y[j]) / 2, 1e-6); /* d(mean row loss) / dz */
    }
    assert_int_equal(correct, 3); /* row 1: none (z = 0 is not > 0); row 2: all three */
    /* nonzero bytes are the label; a NULL dlogits and probs are fine */
    const uint8_t Y2[6] = {7, 0, 255, 1, 0, 0};
    assert_float_equal(vb_cnn_bce(z, Y2, 2, 3, NULL, NULL, NULL), L, 0);
    /* logits far out: the loss is |z| where the sign is wrong, 0 where it is
     * right, never inf or NaN; the gradient is +-1 or 0 */
    const float big[4] = {100, -100, 1000, -1000};
    const uint8_t Yb[4] = {0, 1, 1, 0};
    float db[4], pb[4];
    assert_float_equal(vb_cnn_bce(big, Yb, 1, 4, db, pb, &correct), 200, 1e-9);
    assert_int_equal(correct, 2);
    const float dbw[4] = {1, -1, 0, 0}, pbw[4] = {1, 0, 1, 0};
    for (int j = 0; j < 4; j++) {
        assert_float_equal(db[j], dbw[j], 1e-30);
        assert_float_equal(pb[j], pbw[j], 1e-30);
    }
    /* central differences of the mean loss over a batch */
    vb_rng *rng = vb_rng_new(6);
    float zz[4 * 5];
    uint8_t YY[4 * 5];
    fill_gauss(zz, 20, 2, rng);
    for (int j = 0; j < 20; j++)
        YY[j] = vb_rng_u32(rng) & 1;
    loss_grad_check(bce_loss, YY, zz, 4, 5);
    vb_rng_free(rng);
}

/* The whole network of test_grad_network under binary cross-entropy. */
static void test_grad_network_bce(void **state)
{
    vb_cnn *net = make_net(every_kind_net, 9, 9, 2, 3);
    net->output = VB_CNN_SIGMOID;
    randomise(net, 7);
    const uint8_t Y[4 * 3] = {1, 0, 1, 0, 0, 0, 1, 1, 1, 0, 1, 0};
    grad_check_loss(net, 4, NULL, Y, 1e-2, 0, 23, fixed_mask);
    vb_cnn_free(net);
}

/* ---- optimisers, schedules ---------------------------------------------- */

static void test_sgd_by_hand(void **state)
{
    vb_cnn *net = make_net("[flatten, fc: classes]", 1, 1, 2, 2); /* W 2x2, b 2 */
    const float w0[6] = {0.5f, -1.0f, 2.0f, 0.25f, 0.1f, -0.2f};
    const float g1[6] = {1, 2, -1, 0.5f, 0.3f, -0.4f}, g2[6] = {-0.5f, 1, 0, 2, 1, 1};
    memcpy(net->params, w0, sizeof w0);
    vb_cnn_opt_conf oc = {.kind = VB_CNN_SGD, .lr = 0.1, .momentum = 0.9};
    vb_cnn_opt *o = NULL;
    vb_error err = {0};
    assert_int_equal(vb_cnn_opt_new(net, &oc, 0.01, &o, &err), VB_OK);
    vb_cnn_opt_step(o, net, g1, 0.1);
    vb_cnn_opt_step(o, net, g2, 0.05);
    for (int j = 0; j < 6; j++) {
        double wd = j < 4 ? 0.01 : 0; /* biases are not decayed */
        double w = w0[j], b = g1[j] + wd * w; /* the buffer starts at the first gradient */
        w -= 0.1 * b;
        b = 0.9 * b + g2[j] + wd * w;
        w -= 0.05 * b;
        assert_float_equal(net->params[j], w, 1e-6);
    }
    vb_cnn_opt_free(o);
    vb_cnn_free(net);
}

static void test_adam_by_hand(void **state)
{
    vb_cnn *net = make_net("[flatten, fc: classes]", 1, 1, 2, 2);
    const float w0[6] = {0.5f, -1.0f, 2.0f, 0.25f, 0.1f, -0.2f};
    const float g[3][6] = {{1, 2, -1, 0.5f, 0.3f, -0.4f}, {-0.5f, 1, 0, 2, 1, 1}, {0.1f, 0.1f, 0.1f, -3, 0, 2}};
    memcpy(net->params, w0, sizeof w0);
    vb_cnn_opt_conf oc = {.kind = VB_CNN_ADAM, .lr = 0.01, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8};
    vb_cnn_opt *o = NULL;
    vb_error err = {0};
    assert_int_equal(vb_cnn_opt_new(net, &oc, 0.1, &o, &err), VB_OK);
    for (int t = 0; t < 3; t++)
        vb_cnn_opt_step(o, net, g[t], 0.01);
    for (int j = 0; j < 6; j++) {
        double w = w0[j], m = 0, v = 0, wd = j < 4 ? 0.1 : 0;
        for (int t = 1; t <= 3; t++) {
            double gg = g[t - 1][j] + wd * w;
            m = 0.9 * m + 0.1 * gg;
            v = 0.999 * v + 0.001 * gg * gg;
            double mh = m / (1 - pow(0.9, t)), vh = v / (1 - pow(0.999, t));
            w -= 0.01 * mh / (sqrt(vh) + 1e-8);
        }
        assert_float_equal(net->params[j], w, 1e-5);
    }
    vb_cnn_opt_free(o);
    vb_cnn_free(net);
}

static void test_schedules(void **state)
{
    vb_cnn_sched none = {0}, step = {.kind = VB_CNN_SCHED_STEP, .every = 2, .gamma = 0.5},
                 cosine = {.kind = VB_CNN_SCHED_COSINE, .min_lr = 0.1};
    assert_float_equal(vb_cnn_sched_lr(&none, 1, 7, 10), 1, 0);
    assert_float_equal(vb_cnn_sched_lr(&step, 1, 0, 10), 1, 0);
    assert_float_equal(vb_cnn_sched_lr(&step, 1, 1, 10), 1, 0);
    assert_float_equal(vb_cnn_sched_lr(&step, 1, 2, 10), 0.5, 1e-15);
    assert_float_equal(vb_cnn_sched_lr(&step, 1, 5, 10), 0.25, 1e-15);
    assert_float_equal(vb_cnn_sched_lr(&cosine, 1, 0, 4), 1, 1e-15);
    assert_float_equal(vb_cnn_sched_lr(&cosine, 1, 2, 4), 0.55, 1e-15);
    assert_float_equal(vb_cnn_sched_lr(&cosine, 1, 1, 4), 0.1 + 0.9 * (1 + cos(M_PI / 4)) / 2, 1e-15);
}

/* ---- augmentation ------------------------------------------------------- */

static void test_augment_geometry(void **state)
{
    vb_cnn *net = make_net("[flatten, fc: classes]", 4, 3, 1, 2);
    net->mean[0] = 1;
    net->std[0] = 2;
    float x[12], out[12];
    for (int i = 0; i < 12; i++)
        x[i] = (float)i;
    vb_aug_draw a = {0};
    vb_cnn_augment_image(net, x, &a, out);
    for (int i = 0; i < 12; i++)
        assert_float_equal(out[i], (x[i] - 1) / 2, 0);
    a.flip = 1;
    vb_cnn_augment_image(net, x, &a, out);
    for (int y = 0; y < 3; y++)
        for (int xx = 0; xx < 4; xx++)
            assert_float_equal(out[y * 4 + xx], (x[y * 4 + 3 - xx] - 1) / 2, 0);
    a = (vb_aug_draw){.dx = 1, .dy = -1, .delta = 0.5f};
    vb_cnn_augment_image(net, x, &a, out);
    for (int y = 0; y < 3; y++)
        for (int xx = 0; xx < 4; xx++) {
            int sx = xx - 1, sy = y + 1;
            float v = sx >= 0 && sy < 3 ? x[sy * 4 + sx] : 0;
            assert_float_equal(out[y * 4 + xx], (v + 0.5f - 1) / 2, 1e-6);
        }
    vb_cnn_free(net);
    /* a quarter turn of a square image about its centre: out(x, y) = in(y, 2 - x) */
    net = make_net("[flatten, fc: classes]", 3, 3, 1, 2);
    float s[9], o[9];
    for (int i = 0; i < 9; i++)
        s[i] = (float)(i * i);
    a = (vb_aug_draw){.angle = (float)(M_PI / 2)};
    vb_cnn_augment_image(net, s, &a, o);
    for (int y = 0; y < 3; y++)
        for (int xx = 0; xx < 3; xx++)
            assert_float_equal(o[y * 3 + xx], s[(2 - xx) * 3 + y], 1e-4);
    vb_cnn_free(net);
    /* the cnn's augmentation is the shared op (augment.h) then its
     * standardisation, to the bit: (T(x) + delta - mean) / sd per channel */
    net = make_net("[flatten, fc: classes]", 7, 5, 3, 2);
    const float mean[3] = {0.2f, 0.5f, -0.1f}, sd[3] = {0.3f, 2.0f, 0.7f};
    memcpy(net->mean, mean, sizeof mean);
    memcpy(net->std, sd, sizeof sd);
    float img[105], aug[105], want[105], got[105];
    vb_rng *rng = vb_rng_new(12);
    for (int i = 0; i < 105; i++)
        img[i] = (float)vb_rng_uniform(rng);
    const vb_augment conf = {.flip = 1, .shift = 2, .rotate = 15, .brightness = 0.2};
    for (int t = 0; t < 20; t++) {
        vb_aug_draw d;
        vb_augment_draw(&conf, rng, &d);
        vb_augment_planes(img, 7, 5, 3, &d, aug);
        for (int c = 0; c < 3; c++)
            for (int i = 0; i < 35; i++)
                want[c * 35 + i] = (aug[c * 35 + i] - mean[c]) * (1.0f / sd[c]);
        vb_cnn_augment_image(net, img, &d, got);
        assert_memory_equal(got, want, sizeof want);
    }
    vb_rng_free(rng);
    vb_cnn_free(net);
}

/* ---- training on synthetic shapes --------------------------------------- */

typedef struct shapes {
    float *X, *Xv;
    int *y, *yv;
    size_t n, nv;
} shapes;

/* n training and nv validation images (size x size grey) of 3 classes a
 * small net learns quickly: a horizontal bar, a vertical bar, a square
 * blob, each at a random place and brightness, in Gaussian noise. */
static void make_shapes(shapes *s, int k, size_t n, size_t nv, int size, uint64_t seed)
{
    assert_int_equal(k, 3);
    vb_rng *rng = vb_rng_new(seed);
    size_t d = (size_t)size * size;
    s->n = n;
    s->nv = nv;
    s->X = malloc(n * d * sizeof(float));
    s->Xv = malloc((nv ? nv : 1) * d * sizeof(float));
    s->y = malloc(n * sizeof(int));
    s->yv = malloc((nv ? nv : 1) * sizeof(int));
    for (size_t i = 0; i < n + nv; i++) {
        int c = (int)(i % 3);
        float *img = i < n ? s->X + i * d : s->Xv + (i - n) * d;
        for (size_t p = 0; p < d; p++)
            img[p] = 0.2f + (float)vb_rng_gauss(rng, 0.1);
        float v = 0.6f + 0.4f * (float)vb_rng_uniform(rng);
        int a = 2 + (int)vb_rng_below(rng, (size_t)size - 4), b0 = (int)vb_rng_below(rng, (size_t)size / 2);
        int len = size / 2;
        for (int t = 0; t < len; t++) {
            if (c == 0)
                img[a * size + b0 + t] = v;
            else if (c == 1)
                img[(b0 + t) * size + a] = v;
        }
        if (c == 2)
            for (int y = 0; y < 3; y++)
                for (int x = 0; x < 3; x++)
                    img[(a - 1 + y) * size + (b0 + x + 1)] = v;
        if (i < n)
            s->y[i] = c;
        else
            s->yv[i - n] = c;
    }
    vb_rng_free(rng);
}

static void free_shapes(shapes *s)
{
    free(s->X);
    free(s->Xv);
    free(s->y);
    free(s->yv);
}

static const char *small_net = "[conv: {filters: 6, size: 3, pad: 1}, relu, maxpool: 2, conv: {filters: 8, size: 3}, "
                               "batchnorm, relu, maxpool: 2, flatten, fc: 16, relu, dropout: 0.2, fc: classes]";

static vb_cnn_train_conf base_conf(void)
{
    vb_cnn_train_conf c = {.epochs = 3, .batch = 16, .init = VB_CNN_INIT_HE, .keep_best = 1, .name = "test"};
    c.opt = (vb_cnn_opt_conf){.kind = VB_CNN_ADAM, .lr = 0.01, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8};
    return c;
}

static vb_traindata shapes_td(const shapes *s, int k, int size, int with_val)
{
    vb_traindata td = {.X = s->X, .n = s->n, .d = (size_t)size * size, .y = s->y, .n_classes = k,
                       .shape = {size, size, 1}, .seed = 99};
    if (with_val) {
        td.Xval = s->Xv;
        td.yval = s->yv;
        td.n_val = s->nv;
    }
    return td;
}

static vb_cnn *train_small(const shapes *s, const vb_cnn_train_conf *conf, int with_val, vb_cnn_history *h)
{
    vb_cnn *net = make_net(small_net, 16, 16, 1, 3);
    vb_traindata td = shapes_td(s, 3, 16, with_val);
    vb_error err = {0};
    if (vb_cnn_train(net, conf, &td, h, &err) != VB_OK)
        fail_msg("%s", err.msg);
    return net;
}

static void test_learns_shapes(void **state)
{
    shapes s;
    make_shapes(&s, 3, 240, 60, 16, 1);
    vb_cnn_train_conf conf = base_conf();
    conf.epochs = 8;
    conf.aug = (vb_augment){.shift = 1, .rotate = 5, .brightness = 0.05};
    vb_cnn_history h;
    vb_cnn *net = train_small(&s, &conf, 1, &h);
    assert_int_equal(h.n_epochs, (size_t)conf.epochs);
    assert_true(h.epochs[conf.epochs - 1].train_loss < h.epochs[0].train_loss);
    int pred[60];
    float probs[180];
    vb_error err = {0};
    assert_int_equal(vb_cnn_predict(net, s.Xv, 60, pred, probs, &err), VB_OK);
    size_t hits = 0;
    for (int i = 0; i < 60; i++) {
        hits += pred[i] == s.yv[i];
        assert_float_equal(probs[3 * i] + probs[3 * i + 1] + probs[3 * i + 2], 1, 1e-5);
    }
    /* the kept epoch's validation accuracy is what predict gives */
    assert_float_equal((double)hits / 60, h.epochs[h.best_epoch - 1].val_acc, 1e-12);
    assert_true(hits >= 57);
    vb_cnn_history_free(&h);
    vb_cnn_free(net);
    free_shapes(&s);
}

static void test_deterministic(void **state)
{
    shapes s;
    make_shapes(&s, 3, 96, 24, 16, 2);
    vb_cnn_train_conf conf = base_conf();
    conf.aug = (vb_augment){.flip = 1, .shift = 2, .rotate = 10, .brightness = 0.1};
    vb_cnn_history h1, h2, h3;
    vb_set_threads(2);
    vb_cnn *a = train_small(&s, &conf, 1, &h1);
    vb_cnn *b = train_small(&s, &conf, 1, &h2);
    /* one thread: the same numbers, the work is cut by the batch size only */
    vb_set_threads(1);
    vb_cnn *c = train_small(&s, &conf, 1, &h3);
    vb_set_threads(2);
    assert_memory_equal(a->params, b->params, a->n_params * sizeof(float));
    assert_memory_equal(a->stats, b->stats, a->n_stats * sizeof(float));
    assert_memory_equal(a->params, c->params, a->n_params * sizeof(float));
    assert_memory_equal(a->stats, c->stats, a->n_stats * sizeof(float));
    assert_float_equal(h1.epochs[2].train_loss, h3.epochs[2].train_loss, 0);
    /* another seed differs */
    vb_traindata td = shapes_td(&s, 3, 16, 1);
    td.seed = 100;
    vb_cnn *d = make_net(small_net, 16, 16, 1, 3);
    vb_cnn_history h4;
    vb_error err = {0};
    assert_int_equal(vb_cnn_train(d, &conf, &td, &h4, &err), VB_OK);
    assert_true(memcmp(a->params, d->params, a->n_params * sizeof(float)) != 0);
    vb_cnn_history_free(&h1);
    vb_cnn_history_free(&h2);
    vb_cnn_history_free(&h3);
    vb_cnn_history_free(&h4);
    vb_cnn_free(a);
    vb_cnn_free(b);
    vb_cnn_free(c);
    vb_cnn_free(d);
    free_shapes(&s);
}

static void test_save_load(void **state)
{
    shapes s;
    make_shapes(&s, 3, 64, 40, 16, 3);
    vb_cnn_train_conf conf = base_conf();
    conf.epochs = 2;
    vb_cnn_history h;
    vb_cnn *net = train_small(&s, &conf, 0, &h);
    vb_writer w;
    vb_writer_init(&w);
    vb_error err = {0};
    assert_int_equal(vb_cnn_save(net, &w, &err), VB_OK);
    vb_reader r;
    vb_reader_init(&r, w.buf.data, w.buf.len, "net.bin");
    vb_cnn *back = NULL;
    assert_int_equal(vb_cnn_load(&r, &back, &err), VB_OK);
    assert_int_equal(vb_reader_end(&r, &err), VB_OK);
    assert_int_equal(back->n_params, net->n_params);
    assert_memory_equal(back->params, net->params, net->n_params * sizeof(float));
    assert_memory_equal(back->stats, net->stats, net->n_stats * sizeof(float));
    int p1[40], p2[40];
    float s1[120], s2[120];
    assert_int_equal(vb_cnn_predict(net, s.Xv, 40, p1, s1, &err), VB_OK);
    assert_int_equal(vb_cnn_predict(back, s.Xv, 40, p2, s2, &err), VB_OK);
    assert_memory_equal(p1, p2, sizeof p1);
    assert_memory_equal(s1, s2, sizeof s1);
    /* every truncation and every flipped byte is rejected */
    for (size_t len = 0; len < w.buf.len; len += len < 300 ? 1 : 37) {
        vb_reader_init(&r, w.buf.data, len, "net.bin");
        vb_cnn *x = NULL;
        assert_int_equal(vb_cnn_load(&r, &x, &err), VB_ERR_FORMAT);
        assert_null(x);
    }
    for (size_t pos = 0; pos < w.buf.len; pos += pos < 300 ? 1 : 53) {
        w.buf.data[pos] ^= 0x10;
        vb_reader_init(&r, w.buf.data, w.buf.len, "net.bin");
        vb_cnn *x = NULL;
        vb_status st = vb_cnn_load(&r, &x, &err);
        w.buf.data[pos] ^= 0x10;
        if (st != VB_ERR_FORMAT)
            fail_msg("flipped byte %zu: load gave %s", pos, vb_status_name(st));
        assert_null(x);
    }
    vb_writer_free(&w);
    vb_cnn_free(back);
    vb_cnn_free(net);
    vb_cnn_history_free(&h);
    free_shapes(&s);
}

/* a and b give the same labels and scores (k per row) on the n rows of X,
 * and the same label sets when they are multilabel. */
static void assert_same_predictions(const vb_classifier *a, const vb_classifier *b, const float *X, size_t n,
                                    size_t d, int k)
{
    int *la = malloc(n * sizeof *la), *lb = malloc(n * sizeof *lb);
    float *sa = malloc(n * (size_t)k * sizeof *sa), *sb = malloc(n * (size_t)k * sizeof *sb);
    uint8_t *pa = malloc(n * (size_t)k), *pb = malloc(n * (size_t)k);
    vb_error err = {0};
    assert_int_equal(vb_classifier_predict(a, X, n, d, la, sa, &err), VB_OK);
    assert_int_equal(vb_classifier_predict(b, X, n, d, lb, sb, &err), VB_OK);
    assert_memory_equal(la, lb, n * sizeof *la);
    assert_memory_equal(sa, sb, n * (size_t)k * sizeof *sa);
    if (vb_classifier_multilabels(a->vt, &a->params)) {
        assert_int_equal(vb_classifier_predict_sets(a, X, n, d, pa, sa, &err), VB_OK);
        assert_int_equal(vb_classifier_predict_sets(b, X, n, d, pb, sb, &err), VB_OK);
        assert_memory_equal(pa, pb, n * (size_t)k);
        assert_memory_equal(sa, sb, n * (size_t)k * sizeof *sa);
    }
    free(la);
    free(lb);
    free(sa);
    free(sb);
    free(pa);
    free(pb);
}

/* Saves a into w (initialised here) and loads all of it into b. */
static void save_load(const vb_classifier *a, vb_classifier *b, vb_writer *w)
{
    vb_writer_init(w);
    vb_error err = {0};
    assert_int_equal(vb_classifier_save(a, w, &err), VB_OK);
    vb_reader r;
    vb_reader_init(&r, w->buf.data, w->buf.len, "model");
    if (vb_classifier_load(b, &r, &err) != VB_OK)
        fail_msg("%s", err.msg);
    assert_int_equal(vb_reader_end(&r, &err), VB_OK);
}

/* The plug-in: train, save through the classifier wrapper, load into a
 * fresh instance, same predictions and scores; other layers are refused. */
static void test_classifier_round_trip(void **state)
{
    shapes s;
    make_shapes(&s, 3, 60, 30, 12, 4);
    const vb_classifier_vt *vt = vb_classifier_find("cnn");
    assert_non_null(vt);
    const char *text = "{layers: [conv: {filters: 4, size: 3}, relu, maxpool: 2, fc: 12, relu, fc: classes], "
                       "epochs: 2, batch: 10, optimizer: {sgd: {lr: 0.05, momentum: 0.9}}, schedule: {cosine: {}}, "
                       "init: xavier, weight_decay: 0.0005, augment: {flip: true, shift: 1}, early_stopping: 1}";
    vb_params p;
    vb_error err = {0};
    assert_int_equal(vb_params_parse_text(&p, &vt->info, text, &err), VB_OK);
    vb_classifier *a = NULL, *b = NULL, *c = NULL;
    assert_int_equal(vb_classifier_new(vt, &p, &a, &err), VB_OK);
    vb_traindata td = {.X = s.X, .n = 60, .d = 144, .y = s.y, .n_classes = 3, .shape = {12, 12, 1}, .seed = 5,
                       .Xval = s.Xv, .yval = s.yv, .n_val = 30};
    assert_int_equal(vb_classifier_train(a, &td, &err), VB_OK);
    const vb_epoch *ep;
    size_t ne = vb_classifier_curve(a, &ep);
    assert_true(ne >= 1 && ne <= 2);
    assert_false(isnan(ep[0].val_acc));
    assert_float_equal(ep[0].lr, 0.05, 1e-12); /* cosine: epoch 0 at the full rate */
    assert_int_equal(vb_classifier_new(vt, &p, &b, &err), VB_OK);
    vb_writer w;
    save_load(a, b, &w);
    assert_same_predictions(a, b, s.Xv, 30, 144, 3);
    assert_true(vb_classifier_has_proba(b));
    const vb_epoch *eb;
    assert_int_equal(vb_classifier_curve(b, &eb), ne);
    assert_memory_equal(ep, eb, ne * sizeof *ep);
    /* a model whose layers differ from the parameters' */
    vb_params q;
    assert_int_equal(vb_params_parse_text(&q, &vt->info,
                                          "{layers: [conv: {filters: 5, size: 3}, relu, maxpool: 2, fc: 12, relu, "
                                          "fc: classes]}",
                                          &err),
                     VB_OK);
    assert_int_equal(vb_classifier_new(vt, &q, &c, &err), VB_OK);
    vb_reader r;
    vb_reader_init(&r, w.buf.data, w.buf.len, "model");
    tu_assert_fails_with(vb_classifier_load(c, &r, &err), err, "model: the saved network does not have the layers");
    vb_writer_free(&w);
    vb_classifier_free(a);
    vb_classifier_free(b);
    vb_classifier_free(c);
    vb_params_free(&p);
    vb_params_free(&q);
    free_shapes(&s);
}

/* ---- divergence and early stopping -------------------------------------- */

static void test_nan_first_epoch_fails(void **state)
{
    shapes s;
    make_shapes(&s, 3, 64, 0, 16, 5);
    vb_cnn_train_conf conf = base_conf();
    conf.opt = (vb_cnn_opt_conf){.kind = VB_CNN_SGD, .lr = 1e30};
    vb_cnn *net = make_net(small_net, 16, 16, 1, 3);
    vb_traindata td = shapes_td(&s, 3, 16, 0);
    vb_cnn_history h;
    vb_error err = {0};
    vb_status st = vb_cnn_train(net, &conf, &td, &h, &err);
    assert_int_equal(st, VB_ERR_NUMERIC);
    assert_non_null(strstr(err.msg, "test: the training loss became "));
    assert_non_null(strstr(err.msg, " in epoch 1 (batch 2 of 4, learning rate 1e+30) before any epoch finished"));
    assert_int_equal(h.diverged_epoch, 1);
    vb_cnn_history_free(&h);
    vb_cnn_free(net);
    free_shapes(&s);
}

static void test_nan_later_keeps_last_good(void **state)
{
    shapes s;
    make_shapes(&s, 3, 64, 0, 16, 6);
    vb_cnn_train_conf conf = base_conf();
    conf.epochs = 1;
    vb_cnn_history h1, h2;
    vb_cnn *one = train_small(&s, &conf, 0, &h1);
    /* epoch 1 as above, then a learning rate that blows up in epoch 2 */
    conf.epochs = 3;
    conf.opt = (vb_cnn_opt_conf){.kind = VB_CNN_SGD, .lr = 0.01, .momentum = 0.9};
    conf.sched = (vb_cnn_sched){.kind = VB_CNN_SCHED_STEP, .every = 1, .gamma = 1e30};
    vb_cnn_train_conf conf1 = conf;
    conf1.epochs = 1;
    vb_cnn_history_free(&h1);
    vb_cnn_free(one);
    one = train_small(&s, &conf1, 0, &h1);
    vb_cnn *net = train_small(&s, &conf, 0, &h2);
    assert_int_equal(h2.diverged_epoch, 2);
    assert_int_equal(h2.n_epochs, 1);
    assert_int_equal(h2.best_epoch, 1);
    assert_memory_equal(net->params, one->params, net->n_params * sizeof(float));
    assert_memory_equal(net->stats, one->stats, net->n_stats * sizeof(float));
    vb_cnn_history_free(&h1);
    vb_cnn_history_free(&h2);
    vb_cnn_free(one);
    vb_cnn_free(net);
    free_shapes(&s);
}

/* One batch per epoch and a learning rate of 1e30: the loss of each batch
 * is computed before its update, so it stays finite while the update makes
 * the network produce NaN. The weights of such an epoch are never kept:
 * training fails when it is the first, and keeps the last epoch that ended
 * finite otherwise (a network once kept its NaN-producing weights, and run
 * then hung on their NaN scores). */
static void test_huge_lr_keeps_finite_weights(void **state)
{
    shapes s;
    make_shapes(&s, 3, 64, 0, 16, 5);
    vb_cnn_train_conf conf = base_conf();
    conf.epochs = 1;
    conf.batch = 64;
    conf.opt = (vb_cnn_opt_conf){.kind = VB_CNN_SGD, .lr = 1e30};
    /* (no batchnorm: it would keep the huge weights' outputs finite) */
    vb_cnn *net = make_net("[conv: {filters: 4, size: 3, pad: 1}, relu, maxpool: 2, fc: classes]", 16, 16, 1, 3);
    vb_traindata td = shapes_td(&s, 3, 16, 0);
    vb_cnn_history h;
    vb_error err = {0};
    tu_assert_fails_with(vb_cnn_train(net, &conf, &td, &h, &err), err,
                         "test: the weights or the outputs became NaN or infinite in epoch 1 (after its last "
                         "update, learning rate 1e+30) before any epoch finished with finite weights");
    assert_int_equal(err.status, VB_ERR_NUMERIC);
    assert_int_equal(h.diverged_epoch, 1);
    vb_cnn_history_free(&h);
    /* a sane first epoch, then the schedule multiplies the rate by 1e30 */
    conf.epochs = 3;
    conf.opt = (vb_cnn_opt_conf){.kind = VB_CNN_SGD, .lr = 0.01};
    conf.sched = (vb_cnn_sched){.kind = VB_CNN_SCHED_STEP, .every = 1, .gamma = 1e30};
    assert_int_equal(vb_cnn_train(net, &conf, &td, &h, &err), VB_OK);
    assert_int_equal(h.diverged_epoch, 2);
    assert_int_equal(h.best_epoch, 1);
    for (size_t i = 0; i < net->n_params; i++)
        assert_true(isfinite(net->params[i]));
    float probs[64 * 3];
    int labels[64];
    assert_int_equal(vb_cnn_predict(net, s.X, 64, labels, probs, &err), VB_OK);
    for (size_t i = 0; i < 64 * 3; i++)
        assert_true(isfinite(probs[i]));
    vb_cnn_history_free(&h);
    vb_cnn_free(net);
    free_shapes(&s);
}

static void test_early_stopping(void **state)
{
    shapes s;
    make_shapes(&s, 3, 48, 24, 16, 7);
    vb_cnn_train_conf conf = base_conf();
    conf.epochs = 10;
    conf.early_stopping = 2;
    conf.opt.lr = 1e-30; /* nothing changes, so no epoch beats the first */
    /* (no batchnorm: its running statistics would change) */
    vb_cnn *net = make_net("[conv: {filters: 4, size: 3}, relu, maxpool: 2, fc: classes]", 16, 16, 1, 3);
    vb_traindata td = shapes_td(&s, 3, 16, 1);
    vb_cnn_history h;
    vb_error err = {0};
    assert_int_equal(vb_cnn_train(net, &conf, &td, &h, &err), VB_OK);
    assert_int_equal(h.n_epochs, 3);
    assert_int_equal(h.stopped_early, 1);
    assert_int_equal(h.best_epoch, 1);
    assert_float_equal(h.epochs[0].val_acc, h.epochs[2].val_acc, 0);
    vb_cnn_history_free(&h);
    vb_cnn_free(net);
    free_shapes(&s);
}

/* ---- messages ------------------------------------------------------------ */

static void test_shape_errors(void **state)
{
    vb_error err = {0};
    assert_int_equal(arch_error("- conv: {filters: 8, size: 5}\n- maxpool: 2\n- conv: {filters: 8, size: 5}\n"
                                "- fc: classes\n",
                                8, 8, 1, 10, &err),
                     VB_ERR_SPEC);
    assert_string_equal(err.msg, "net.yaml:3:3: cnn layer 3 (conv 8 of 5x5): needs an input of at least 5x5, but "
                                 "gets 2x2x8 (w x h x channels); lower size, add pad, or remove a pooling layer "
                                 "before it");
    assert_int_equal(arch_error("- conv: {filters: 4, size: 3}\n- fc: 7\n", 8, 8, 1, 10, &err), VB_ERR_SPEC);
    assert_string_equal(err.msg, "net.yaml:2:3: cnn layer 2 (fc 7): the network ends with 7 values per image but "
                                 "the dataset has 10 classes; end the layers with 'fc: classes'");
    assert_int_equal(arch_error("- fc: 20\n- conv: {filters: 4, size: 3}\n- fc: classes\n", 8, 8, 1, 10, &err),
                     VB_ERR_SPEC);
    assert_string_equal(err.msg, "net.yaml:2:3: cnn layer 2 (conv 4 of 3x3): gets a vector of 20 values (after fc "
                                 "or flatten), not an image; put convolutions before them");
    assert_int_equal(arch_error("- maxpool: 3\n- maxpool: 3\n- fc: classes\n", 5, 5, 1, 10, &err), VB_ERR_SPEC);
    assert_string_equal(err.msg, "net.yaml:2:3: cnn layer 2 (maxpool 3): needs an input of at least 3x3, but gets "
                                 "1x1x1 (w x h x channels); lower size, or remove a pooling layer before it");
    assert_int_equal(arch_error("- conv: {filters: 0, size: 3}\n", 8, 8, 1, 10, &err), VB_ERR_SPEC);
    assert_string_equal(err.msg, "net.yaml:1:19: conv.filters = 0 is out of range (1..1048576)");
    assert_int_equal(arch_error("- conv: {filters: 4, size: -3}\n", 8, 8, 1, 10, &err), VB_ERR_SPEC);
    assert_string_equal(err.msg, "net.yaml:1:28: conv.size = -3 is out of range (1..4096)");
    assert_int_equal(arch_error("- conv: {filters: 4, size: 3, pad: 3}\n", 8, 8, 1, 10, &err), VB_ERR_SPEC);
    assert_string_equal(err.msg, "net.yaml:1:36: conv.pad = 3 must be smaller than size = 3 (pad (size - 1) / 2 "
                                 "keeps the image size)");
    assert_int_equal(arch_error("- convv: {filters: 4, size: 3}\n", 8, 8, 1, 10, &err), VB_ERR_SPEC);
    assert_string_equal(err.msg, "net.yaml:1:3: unknown cnn layer 'convv'; did you mean 'conv'? (see visbench list)");
    assert_int_equal(arch_error("- dropout: 1\n- fc: classes\n", 8, 8, 1, 10, &err), VB_ERR_SPEC);
    assert_string_equal(err.msg, "net.yaml:1:12: dropout.rate = 1 is out of range (0 <= x < 1)");
    assert_int_equal(arch_error("- maxpool: 0\n", 8, 8, 1, 10, &err), VB_ERR_SPEC);
    assert_string_equal(err.msg, "net.yaml:1:12: maxpool.size = 0 is out of range (1..4096)");
    assert_int_equal(arch_error("- fc: 0\n", 8, 8, 1, 10, &err), VB_ERR_SPEC);
    assert_string_equal(err.msg, "net.yaml:1:7: fc.units = 0 is out of range (1..1048576)");
    assert_int_equal(arch_error("- relu: 3\n", 8, 8, 1, 10, &err), VB_ERR_SPEC);
    assert_string_equal(err.msg, "net.yaml:1:9: 'relu' takes no parameters; write just 'relu'");
    assert_int_equal(arch_error("- softmax\n", 8, 8, 1, 10, &err), VB_ERR_SPEC);
    assert_non_null(strstr(err.msg, "softmax is part of the loss"));
    assert_int_equal(arch_error("[]", 8, 8, 1, 10, &err), VB_ERR_SPEC);
    assert_non_null(strstr(err.msg, "cnn.layers is empty"));
    /* fine: fc on an image flattens it, and fc: classes resolves */
    assert_int_equal(arch_error("[conv: {filters: 2, size: 3, pad: 1}, fc: classes]", 8, 8, 1, 10, &err), VB_OK);
}

/* Each layer kind's table: unknown keys (with the nearest), values out of
 * range, a missing required parameter, at the file, line and column. */
static void test_layer_param_errors(void **state)
{
    static const struct {
        const char *yaml, *msg;
    } cases[] = {
        {"- conv: {filters: 4, sise: 3}\n",
         "net.yaml:1:22: unknown key 'sise' in the parameters of 'conv'; did you mean 'size'?"},
        {"- conv: {filters: 4, size: 3, stride: 0}\n", "net.yaml:1:39: conv.stride = 0 is out of range (1..4096)"},
        {"- conv: {filters: 4, size: 3, pad: 5000}\n", "net.yaml:1:36: conv.pad = 5000 is out of range (0..4096)"},
        {"- conv: {filters: 2000000, size: 3}\n", "net.yaml:1:19: conv.filters = 2000000 is out of range (1..1048576)"},
        {"- conv: 4\n", "net.yaml:1:9: 'conv' needs the parameter 'size' (side of the square kernel)"},
        {"- conv\n", "net.yaml:1:3: 'conv' needs the parameter 'filters' (output channels, one filter over all input "
                     "channels each)"},
        {"- maxpool: {size: 2, strid: 1}\n",
         "net.yaml:1:22: unknown key 'strid' in the parameters of 'maxpool'; did you mean 'stride'?"},
        {"- maxpool: {stride: 0}\n", "net.yaml:1:21: maxpool.stride = 0 is out of range (1..4096)"},
        {"- avgpool: {sise: 2}\n",
         "net.yaml:1:13: unknown key 'sise' in the parameters of 'avgpool'; did you mean 'size'?"},
        {"- avgpool: 5000\n", "net.yaml:1:12: avgpool.size = 5000 is out of range (1..4096)"},
        {"- fc: {unit: 10}\n", "net.yaml:1:8: unknown key 'unit' in the parameters of 'fc'; did you mean 'units'?"},
        {"- fc: 1048577\n", "net.yaml:1:7: fc.units = 1048577 is out of range (1..1048576)"},
        {"- fc: clases\n", "net.yaml:1:7: fc.units: unknown value 'clases'; did you mean 'classes'? (choices: classes)"},
        {"- fc\n", "net.yaml:1:3: 'fc' needs the parameter 'units' (outputs; classes = the dataset's class count)"},
        {"- dropout: {rat: 0.1}\n",
         "net.yaml:1:13: unknown key 'rat' in the parameters of 'dropout'; did you mean 'rate'?"},
        {"- dropout: -0.1\n", "net.yaml:1:12: dropout.rate = -0.1 is out of range (0 <= x < 1)"},
        {"- batchnorm: {momentun: 0.1}\n",
         "net.yaml:1:15: unknown key 'momentun' in the parameters of 'batchnorm'; did you mean 'momentum'?"},
        {"- batchnorm: {momentum: 0}\n", "net.yaml:1:25: batchnorm.momentum = 0 is out of range (0 < x <= 1)"},
        {"- batchnorm: {eps: 2}\n", "net.yaml:1:20: batchnorm.eps = 2 is out of range (0 < x <= 1)"},
        {"- batchnorm: 0.1\n",
         "net.yaml:1:14: 'batchnorm' takes its parameters as a mapping, e.g. 'batchnorm: {momentum: ...}'"},
        {"- flatten: {x: 1}\n", "net.yaml:1:13: unknown key 'x' in the parameters of 'flatten' (valid keys: none)"},
        {"- [conv]\n", "net.yaml:1:3: each cnn layer must be a name, or a name with its parameters (e.g. 'hog: {cell: "
                       "8}')"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        vb_error err = {0};
        vb_status st = arch_error(cases[i].yaml, 8, 8, 1, 10, &err);
        if (st != VB_ERR_SPEC || strcmp(err.msg, cases[i].msg) != 0)
            fail_msg("%s: got %d '%s', want '%s'", cases[i].yaml, st, err.msg, cases[i].msg);
    }
}

/* Do two layers have the same parameters? */
static void assert_same_layer(const vb_cnn_layer_conf *a, const vb_cnn_layer_conf *b)
{
    assert_int_equal(a->kind, b->kind);
    assert_int_equal(a->units, b->units);
    assert_int_equal(a->size, b->size);
    assert_int_equal(a->stride, b->stride);
    assert_int_equal(a->pad, b->pad);
    assert_memory_equal(&a->rate, &b->rate, sizeof a->rate);
    assert_memory_equal(&a->momentum, &b->momentum, sizeof a->momentum);
    assert_memory_equal(&a->eps, &b->eps, sizeof a->eps);
}

/* A scalar after a layer's name is its primary parameter, and a name
 * alone (or a null value) its defaults; the layers are the same as
 * written in full, and have the documented values. */
static void test_layer_shorthand(void **state)
{
    vb_cnn_arch s, l;
    arch_from("[conv: {filters: 6, size: 3}, maxpool: 3, avgpool: {size: 2, stride: 1}, maxpool, dropout: 0.25, "
              "dropout, fc: 7, fc: classes, batchnorm, relu, flatten, avgpool: ~]",
              &s);
    arch_from("[conv: {filters: 6, size: 3, stride: 1, pad: 0}, maxpool: {size: 3, stride: 3}, avgpool: {size: 2, "
              "stride: 1}, maxpool: {size: 2}, dropout: {rate: 0.25}, dropout: {}, fc: {units: 7}, fc: {units: "
              "classes}, batchnorm: {momentum: 0.1, eps: 1e-5}, relu: {}, flatten, avgpool: {stride: 2}]",
              &l);
    assert_int_equal(s.n, 12);
    assert_int_equal(l.n, 12);
    for (size_t i = 0; i < s.n; i++)
        assert_same_layer(&s.layers[i], &l.layers[i]);
    const vb_cnn_layer_conf *c = s.layers;
    assert_int_equal(c[0].kind, VB_CNN_CONV);
    assert_int_equal(c[0].units, 6);
    assert_int_equal(c[0].size, 3);
    assert_int_equal(c[0].stride, 1);
    assert_int_equal(c[0].pad, 0);
    assert_int_equal(c[1].kind, VB_CNN_MAXPOOL);
    assert_int_equal(c[1].size, 3);
    assert_int_equal(c[1].stride, 3); /* the stride follows the size */
    assert_int_equal(c[2].stride, 1);
    assert_int_equal(c[3].size, 2);
    assert_int_equal(c[3].stride, 2);
    assert_true(c[4].rate == 0.25f);
    assert_true(c[5].rate == 0.5f);
    assert_int_equal(c[6].units, 7);
    assert_int_equal(c[7].units, VB_CNN_CLASSES);
    assert_true(c[8].momentum == 0.1f);
    assert_true(c[8].eps == 1e-5f);
    assert_int_equal(c[11].kind, VB_CNN_AVGPOOL);
    assert_int_equal(c[11].size, 2);
    /* the entry's place, for shape messages */
    assert_string_equal(c[1].file, "net.yaml");
    assert_int_equal(c[1].line, 1);
    vb_cnn_arch_free(&s);
    vb_cnn_arch_free(&l);
}

/* A cnn classifier from text, trained on s; NULL (and the message in err)
 * when its parameters are refused. */
static vb_classifier *cnn_trained(const char *params, const shapes *s, vb_error *err)
{
    const vb_classifier_vt *vt = vb_classifier_find("cnn");
    char text[512];
    snprintf(text, sizeof text, "{layers: [conv: {filters: 4, size: 3}, relu, maxpool: 2, fc: 12, relu, fc: classes], "
                                "epochs: 2, batch: 10, %s}", params);
    vb_params p;
    if (vb_params_parse_text(&p, &vt->info, text, err) != VB_OK)
        return NULL;
    vb_classifier *c = NULL;
    vb_status st = vb_classifier_new(vt, &p, &c, err);
    vb_params_free(&p);
    if (st != VB_OK)
        return NULL;
    vb_traindata td = {.X = s->X, .n = s->n, .d = 144, .y = s->y, .n_classes = 3, .shape = {12, 12, 1}, .seed = 5,
                       .Xval = s->Xv, .yval = s->yv, .n_val = s->nv};
    if (vb_classifier_train(c, &td, err) != VB_OK)
        fail_msg("%s: %s", text, err->msg);
    return c;
}

/* The same training: predictions, scores and every epoch's numbers (the
 * learning rate shows the schedule). */
static void assert_same_training(const vb_classifier *a, const vb_classifier *b, const shapes *s)
{
    assert_same_predictions(a, b, s->Xv, s->nv, 144, 3);
    const vb_epoch *ea, *eb;
    size_t n = vb_classifier_curve(a, &ea);
    assert_int_equal(vb_classifier_curve(b, &eb), n);
    for (size_t e = 0; e < n; e++) {
        assert_memory_equal(&ea[e].train_loss, &eb[e].train_loss, sizeof(double));
        assert_memory_equal(&ea[e].val_acc, &eb[e].val_acc, sizeof(double));
        assert_memory_equal(&ea[e].lr, &eb[e].lr, sizeof(double));
    }
}

/* The optimizer's and the schedule's shorthands ({adam: 0.003}, sgd,
 * {step: 1}, {cosine: ~}, augment: false) train the same network as
 * written in full; the values reach training. */
static void test_block_shorthand(void **state)
{
    shapes s;
    make_shapes(&s, 3, 60, 30, 12, 4);
    static const char *const same[][3] = {
        {"optimizer: {adam: 0.003}", "optimizer: {adam: {lr: 0.003}}", "optimizer: {adam: {lr: 0.003, beta1: 0.9, "
                                                                        "beta2: 0.999, eps: 1e-8}}"},
        {"optimizer: sgd", "optimizer: {sgd: ~}", "optimizer: {sgd: {lr: 0.01, momentum: 0.9, nesterov: false}}"},
        {"optimizer: {sgd: 0.05}, schedule: {step: 1}", "optimizer: {sgd: {lr: 0.05}}, schedule: {step: {every: 1}}",
         "optimizer: {sgd: {lr: 0.05}}, schedule: {step: {every: 1, gamma: 0.1}}"},
        {"schedule: cosine", "schedule: {cosine: }", "schedule: {cosine: {min_lr: 0}}"},
        {"schedule: none", "schedule: {none: {}}", "optimizer: adam"},
        {"augment: false", "augment: {}", "augment: {flip: false, shift: 0, rotate: 0, brightness: 0}"},
    };
    vb_error err = {0};
    for (size_t i = 0; i < sizeof same / sizeof same[0]; i++) {
        vb_classifier *a = cnn_trained(same[i][0], &s, &err);
        assert_non_null(a);
        for (int j = 1; j < 3; j++) {
            vb_classifier *b = cnn_trained(same[i][j], &s, &err);
            assert_non_null(b);
            assert_same_training(a, b, &s);
            vb_classifier_free(b);
        }
        const vb_epoch *ep;
        assert_int_equal(vb_classifier_curve(a, &ep), 2);
        if (i == 0)
            assert_float_equal(ep[1].lr, 0.003, 1e-15);
        if (i == 2) {
            assert_float_equal(ep[0].lr, 0.05, 1e-15);
            assert_float_equal(ep[1].lr, 0.005, 1e-15);
        }
        vb_classifier_free(a);
    }
    /* a different learning rate trains a different network */
    vb_classifier *a = cnn_trained("optimizer: {adam: 0.003}", &s, &err), *b = cnn_trained("optimizer: adam", &s, &err);
    float sa[90], sb[90];
    assert_int_equal(vb_classifier_predict(a, s.Xv, 30, 144, NULL, sa, &err), VB_OK);
    assert_int_equal(vb_classifier_predict(b, s.Xv, 30, 144, NULL, sb, &err), VB_OK);
    assert_true(memcmp(sa, sb, sizeof sa) != 0);
    vb_classifier_free(a);
    vb_classifier_free(b);
    free_shapes(&s);
}

static void test_param_errors(void **state)
{
    const vb_classifier_vt *vt = vb_classifier_find("cnn");
    struct {
        const char *text, *msg;
    } cases[] = {
        /* optimizer */
        {"{optimizer: {adam: {lr: 0}}}", "cnn:1:25: adam.lr = 0 is out of range (0 < x <= 1e+300)"},
        {"{optimizer: {sgd: {lr: -0.1}}}", "cnn:1:24: sgd.lr = -0.1 is out of range (0 < x <= 1e+300)"},
        {"{optimizer: {adam: 0}}", "cnn:1:20: adam.lr = 0 is out of range (0 < x <= 1e+300)"},
        {"{optimizer: {adam: {beta2: 1}}}", "cnn:1:28: adam.beta2 = 1 is out of range (0..0.99999999)"},
        {"{optimizer: {adam: {eps: 0}}}", "cnn:1:26: adam.eps = 0 is out of range (0 < x <= 1)"},
        {"{optimizer: {sgd: {momentum: 1}}}", "cnn:1:30: sgd.momentum = 1 is out of range (0..0.999999)"},
        {"{optimizer: {adma: {lr: 0.1}}}",
         "cnn:1:14: unknown optimizer 'adma'; did you mean 'adam'? (see visbench list)"},
        {"{optimizer: {adam: {lrr: 0.1}}}", "cnn:1:21: unknown key 'lrr' in the parameters of 'adam'; did you mean 'lr'?"},
        {"{optimizer: {sgd: {momentun: 0.5}}}",
         "cnn:1:20: unknown key 'momentun' in the parameters of 'sgd'; did you mean 'momentum'?"},
        {"{optimizer: {adam: {momentum: 0.9}}}",
         "cnn:1:21: unknown key 'momentum' in the parameters of 'adam' (valid keys: lr, beta1, beta2, eps)"},
        {"{optimizer: {sgd: {nesterov: true, momentum: 0}}}", "cnn:1:30: sgd.nesterov needs a momentum > 0"},
        {"{optimizer: {sgd: {nesterov: maybe}}}", "cnn:1:30: sgd.nesterov must be true or false, not 'maybe'"},
        /* schedule */
        {"{schedule: {step: {gamma: 0.5}}}", "cnn:1:19: 'step' needs the parameter 'every' (epochs between decays)"},
        {"{schedule: step}", "cnn:1:12: 'step' needs the parameter 'every' (epochs between decays)"},
        {"{schedule: {step: 0}}", "cnn:1:19: step.every = 0 is out of range (1..100000)"},
        {"{schedule: {step: {every: 5, gamma: 1.5}}}", "cnn:1:37: step.gamma = 1.5 is out of range (0 < x <= 1)"},
        {"{schedule: {step: {every: 5, gama: 0.5}}}",
         "cnn:1:30: unknown key 'gama' in the parameters of 'step'; did you mean 'gamma'?"},
        {"{schedule: {cosine: {min_lr: -1}}}", "cnn:1:30: cosine.min_lr = -1 is out of range (0..1e+300)"},
        {"{schedule: {cosine: {minlr: 0}}}",
         "cnn:1:22: unknown key 'minlr' in the parameters of 'cosine'; did you mean 'min_lr'?"},
        {"{schedule: {cosin: {}}}", "cnn:1:13: unknown schedule 'cosin'; did you mean 'cosine'? (see visbench list)"},
        {"{schedule: linear}", "cnn:1:12: unknown schedule 'linear' (choices: none, step, cosine)"},
        /* augment */
        {"{augment: {shift: -1}}", "cnn:1:19: augment.shift = -1 is out of range (0..1024)"},
        {"{augment: {rotate: 200}}", "cnn:1:20: augment.rotate = 200 is out of range (0..180)"},
        {"{augment: {brightness: -1}}", "cnn:1:24: augment.brightness = -1 is out of range (0..1e+06)"},
        {"{augment: {shfit: 2}}", "cnn:1:12: unknown key 'shfit' in the parameters of 'augment'; did you mean 'shift'?"},
        {"{augment: {zoom: 2}}", "cnn:1:12: unknown key 'zoom' in the parameters of 'augment' (valid keys: flip, "
                                 "shift, rotate, brightness)"},
        {"{augment: true}", "cnn:1:11: 'augment' takes its parameters as a mapping, e.g. 'augment: {flip: ...}'"},
        /* layers, through the classifier */
        {"{layers: [conv: {filters: 4, sise: 3}, fc: classes]}",
         "cnn:1:30: unknown key 'sise' in the parameters of 'conv'; did you mean 'size'?"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        vb_params p;
        vb_error err = {0};
        assert_int_equal(vb_params_parse_text(&p, &vt->info, cases[i].text, &err), VB_OK);
        vb_classifier *c = NULL;
        vb_status st = vb_classifier_new(vt, &p, &c, &err);
        if (st != VB_ERR_SPEC || strcmp(err.msg, cases[i].msg) != 0)
            fail_msg("%s: got %d '%s', want '%s'", cases[i].text, st, err.msg, cases[i].msg);
        assert_null(c);
        vb_params_free(&p);
    }
}

/* ---- the runner ---------------------------------------------------------- */

static vb_dataset *shapes_dataset(size_t n_per, int size)
{
    vb_error err = {0};
    vb_dataset *ds = vb_dataset_new(3 * n_per, 0, &err);
    size_t d = (size_t)size * size;
    ds->block = malloc(3 * n_per * d);
    vb_synth_opts o = vb_synth_defaults;
    o.classes = 3;
    o.size = size;
    vb_rng *rng = vb_rng_new(8);
    vb_image img = {0};
    for (size_t i = 0; i < 3 * n_per; i++) {
        int c = (int)(i % 3);
        assert_int_equal(vb_synth_render(&o, c, rng, &img, &err), VB_OK);
        ds->px[i] = ds->block + i * d;
        for (size_t p = 0; p < d; p++)
            ds->px[i][p] = (uint8_t)lrintf(img.data[p] * 255.0f);
        ds->w[i] = ds->h[i] = (uint16_t)size;
        ds->c[i] = 1;
        ds->labels[i] = c;
    }
    free(img.data);
    vb_rng_free(rng);
    const char *names[3] = {"circle", "square", "triangle"};
    assert_int_equal(vb_dataset_set_classes(ds, names, 3, &err), VB_OK);
    ds->n_classes = 3;
    vb_dataset_finish(ds);
    return ds;
}

typedef struct sink_state {
    size_t results, epochs;
    int val_ok;
    char info[512];
} sink_state;

static vb_status on_result(void *user, const vb_run_result *r, vb_error *err)
{
    sink_state *s = user;
    s->results++;
    s->epochs = r->n_epochs;
    s->val_ok = r->n_epochs && !isnan(r->epochs[0].val_acc) && r->epochs[0].seconds > 0;
    snprintf(s->info, sizeof s->info, "%s", r->clf_info);
    return VB_OK;
}

static void on_failure(void *user, const char *pipeline, const char *fold, const vb_error *e)
{
    fail_msg("pipeline %s failed: %s", pipeline, e->msg);
}

static void test_runner(void **state)
{
    vb_dataset *ds = shapes_dataset(20, 12);
    vb_error err = {0};
    vb_spec *spec = NULL;
    const char *text = "name: t\n"
                       "dataset: none.yaml\n"
                       "split: {protocol: holdout, test_fraction: 0.25, validation: 0.2}\n"
                       "pipelines:\n"
                       "  - name: net\n"
                       "    classifier:\n"
                       "      cnn:\n"
                       "        layers: [conv: {filters: 4, size: 3}, relu, maxpool: 2, fc: classes]\n"
                       "        epochs: 3\n";
    assert_int_equal(vb_spec_parse(text, "spec.yaml", &spec, &err), VB_OK);
    vb_split *split = NULL;
    assert_int_equal(vb_split_make(&spec->split, ds, &split, &err), VB_OK);
    sink_state s = {0};
    vb_run_sink sink = {.user = &s, .on_result = on_result, .on_failure = on_failure};
    size_t failed = 9;
    assert_int_equal(vb_experiment_run(spec, ds, split, NULL, &sink, &failed, &err), VB_OK);
    assert_int_equal(failed, 0);
    assert_int_equal(s.results, 1);
    assert_int_equal(s.epochs, 3);
    assert_true(s.val_ok);
    assert_non_null(strstr(s.info, "\"epochs_run\": 3"));
    vb_split_free(split);
    vb_spec_free(spec);
    vb_dataset_free(ds);
}

/* vb_experiment_check reaches the cnn's check: a shape error names the
 * spec position before any work; features other than raw are refused. */
static void test_runner_check(void **state)
{
    vb_dataset *ds = shapes_dataset(4, 12);
    vb_error err = {0};
    vb_spec *spec = NULL;
    const char *text = "name: t\n"
                       "dataset: none.yaml\n"
                       "split: {protocol: holdout}\n"
                       "pipelines:\n"
                       "  - name: deep\n"
                       "    classifier:\n"
                       "      cnn:\n"
                       "        layers:\n"
                       "          - conv: {filters: 4, size: 5}\n"
                       "          - maxpool: 2\n"
                       "          - conv: {filters: 4, size: 5}\n"
                       "          - fc: classes\n";
    assert_int_equal(vb_spec_parse(text, "spec.yaml", &spec, &err), VB_OK);
    assert_int_equal(vb_experiment_check(spec, ds, NULL, &err), VB_ERR_SPEC);
    assert_string_equal(err.msg, "pipeline 'deep': spec.yaml:11:13: cnn layer 3 (conv 4 of 5x5): needs an input of at "
                                 "least 5x5, but gets 4x4x4 (w x h x channels); lower size, add pad, or remove a "
                                 "pooling layer before it");
    vb_spec_free(spec);
    const char *hog = "name: t\n"
                      "dataset: none.yaml\n"
                      "split: {protocol: holdout}\n"
                      "pipelines:\n"
                      "  - name: h\n"
                      "    features: [{hog: {cell: 4}}]\n"
                      "    classifier: {cnn: {layers: [fc: classes]}}\n";
    assert_int_equal(vb_spec_parse(hog, "spec.yaml", &spec, &err), VB_OK);
    tu_assert_fails_with(vb_experiment_check(spec, ds, NULL, &err), err,
                         "cnn: needs raw image rows as input (give the pipeline no features, or features: [raw], and "
                         "no postprocess)");
    vb_spec_free(spec);
    vb_dataset_free(ds);
}

/* ---- sigmoid outputs: label sets ----------------------------------------- */

/* n grey size x size images with L <= 4 labels: label l is a bright 2x2
 * blob somewhere inside quadrant l (top left, top right, bottom left,
 * bottom right), there with probability prob[l] and of brightness
 * bright[l], on noise around 0.2. y is each image's first label or 0. */
typedef struct quads {
    float *X;
    uint8_t *Y;
    int *y;
    size_t n;
} quads;

static void make_quads(quads *q, size_t n, int size, int L, const double *prob, const float *bright, uint64_t seed)
{
    vb_rng *rng = vb_rng_new(seed);
    const size_t d = (size_t)size * size;
    const int half = size / 2;
    q->n = n;
    q->X = malloc(n * d * sizeof *q->X);
    q->Y = calloc(n * (size_t)L, 1);
    q->y = calloc(n, sizeof *q->y);
    for (size_t i = 0; i < n; i++) {
        float *img = q->X + i * d;
        for (size_t p = 0; p < d; p++)
            img[p] = 0.2f + (float)vb_rng_gauss(rng, 0.1);
        int first = -1;
        for (int l = 0; l < L; l++) {
            if (vb_rng_uniform(rng) >= prob[l])
                continue;
            q->Y[i * (size_t)L + l] = 1;
            if (first < 0)
                first = l;
            int x0 = (l & 1) * half + (int)vb_rng_below(rng, (size_t)half - 1);
            int y0 = (l >> 1) * half + (int)vb_rng_below(rng, (size_t)half - 1);
            for (int dy = 0; dy < 2; dy++)
                for (int dx = 0; dx < 2; dx++)
                    img[(size_t)(y0 + dy) * size + x0 + dx] = bright[l];
        }
        q->y[i] = first < 0 ? 0 : first;
    }
    vb_rng_free(rng);
}

static void free_quads(quads *q)
{
    free(q->X);
    free(q->Y);
    free(q->y);
}

static vb_traindata quads_td(const quads *tr, const quads *val, int size, int L)
{
    vb_traindata td = {.X = tr->X, .n = tr->n, .d = (size_t)size * size, .y = tr->y, .Y = tr->Y, .n_classes = L,
                       .shape = {size, size, 1}, .seed = 17};
    if (val) {
        td.Xval = val->X;
        td.yval = val->y;
        td.Yval = val->Y;
        td.n_val = val->n;
    }
    return td;
}

/* 8 x 8 training and validation quads (seeds seed and seed + 1) and their traindata. */
typedef struct ml_data {
    quads tr, val;
    vb_traindata td;
} ml_data;

static void make_ml(ml_data *m, size_t n, size_t nv, int L, const double *prob, const float *bright, uint64_t seed)
{
    make_quads(&m->tr, n, 8, L, prob, bright, seed);
    make_quads(&m->val, nv, 8, L, prob, bright, seed + 1);
    m->td = quads_td(&m->tr, &m->val, 8, L);
}

static void free_ml(ml_data *m)
{
    free_quads(&m->tr);
    free_quads(&m->val);
}

static vb_classifier *ml_classifier(const char *params)
{
    const vb_classifier_vt *vt = vb_classifier_find("cnn");
    vb_params p;
    vb_error err = {0};
    if (vb_params_parse_text(&p, &vt->info, params, &err) != VB_OK)
        fail_msg("%s", err.msg);
    vb_classifier *c = NULL;
    if (vb_classifier_new(vt, &p, &c, &err) != VB_OK)
        fail_msg("%s", err.msg);
    vb_params_free(&p);
    return c;
}

static vb_classifier *ml_train(const char *params, const vb_traindata *td)
{
    vb_classifier *c = ml_classifier(params);
    vb_error err = {0};
    if (vb_classifier_train(c, td, &err) != VB_OK)
        fail_msg("%s", err.msg);
    return c;
}

/* The thresholds the trained instance reports in its info (L of them). */
static void ml_thresholds(const vb_classifier *c, int L, float *t)
{
    vb_buf b;
    vb_buf_init(&b);
    c->vt->info_json(c->state, &b);
    const char *p = b.data ? strstr(b.data, "\"thresholds\": [") : NULL;
    if (!p)
        fail_msg("no thresholds in '%s'", b.data ? b.data : "");
    p += strlen("\"thresholds\": [");
    for (int l = 0; l < L; l++) {
        char *end;
        t[l] = (float)strtod(p, &end);
        assert_true(end > p);
        p = end + (l + 1 < L ? 2 : 0);
    }
    assert_int_equal(*p, ']');
    vb_buf_free(&b);
}

/* Subset accuracy and per-label accuracy (1 - Hamming loss) of sets P. */
static void set_scores(const uint8_t *Y, const uint8_t *P, size_t n, int L, double *subset, double *per_label)
{
    size_t exact = 0, right = 0;
    for (size_t i = 0; i < n; i++) {
        int all = 1;
        for (int l = 0; l < L; l++) {
            int ok = (Y[i * (size_t)L + l] != 0) == (P[i * (size_t)L + l] != 0);
            right += ok;
            all &= ok;
        }
        exact += all;
    }
    *subset = (double)exact / (double)n;
    *per_label = (double)right / ((double)n * L);
}

static const char *quads_net = "{layers: [conv: {filters: 6, size: 3, pad: 1}, relu, maxpool: 2, fc: 16, relu, "
                               "fc: classes], output: sigmoid, epochs: 12, batch: 16, optimizer: {adam: {lr: 0.01}}";

/* Four independent labels, each in half the images: a constant guess gets
 * 1/16 of the sets right. The sigmoid net learns them all; predict gives
 * the most probable label and the same sigmoid scores as predict_sets. */
static void test_learns_label_sets(void **state)
{
    const double prob[4] = {0.5, 0.5, 0.5, 0.5};
    const float bright[4] = {1, 1, 1, 1};
    ml_data m;
    quads te;
    make_ml(&m, 320, 80, 4, prob, bright, 1);
    make_quads(&te, 200, 8, 4, prob, bright, 3);
    char params[512];
    snprintf(params, sizeof params, "%s}", quads_net);
    vb_classifier *c = ml_train(params, &m.td);
    assert_true(vb_classifier_multilabels(c->vt, &c->params));
    assert_true(vb_classifier_has_proba(c));
    const vb_epoch *ep;
    size_t ne = vb_classifier_curve(c, &ep);
    assert_int_equal(ne, 12);
    assert_true(ep[ne - 1].train_loss < ep[0].train_loss / 4);
    uint8_t P[200 * 4];
    float S[200 * 4], S2[200 * 4];
    int lab[200];
    vb_error err = {0};
    assert_int_equal(vb_classifier_predict_sets(c, te.X, 200, 64, P, S, &err), VB_OK);
    double subset, per_label;
    set_scores(te.Y, P, 200, 4, &subset, &per_label);
    if (subset < 0.9 || per_label < 0.97)
        fail_msg("subset accuracy %.3f, per-label accuracy %.3f", subset, per_label);
    /* the curve's validation accuracy is per-label accuracy at 1/2 */
    assert_true(ep[ne - 1].val_acc >= 0.95 && ep[ne - 1].val_acc <= 1);
    assert_int_equal(vb_classifier_predict(c, te.X, 200, 64, lab, S2, &err), VB_OK);
    assert_memory_equal(S, S2, sizeof S);
    for (size_t i = 0; i < 200; i++) {
        double sum = 0;
        for (int l = 0; l < 4; l++) {
            assert_true(S[i * 4 + l] >= 0 && S[i * 4 + l] <= 1);
            assert_true(S[i * 4 + l] <= S[i * 4 + lab[i]]);
            sum += S[i * 4 + l];
        }
        if (P[i * 4] + P[i * 4 + 1] + P[i * 4 + 2] + P[i * 4 + 3] >= 2)
            assert_true(sum > 1.2); /* independent labels, not a softmax */
    }
    /* without scores */
    uint8_t P2[200 * 4];
    assert_int_equal(vb_classifier_predict_sets(c, te.X, 200, 64, P2, NULL, &err), VB_OK);
    assert_memory_equal(P, P2, sizeof P);
    vb_classifier_free(c);
    free_ml(&m);
    free_quads(&te);
}

/* Tuning on a biased problem (a rare, faint third label, a net trained
 * briefly): the thresholds are vb_ml_tune_thresholds' on the validation
 * rows' sigmoid scores, predict_sets applies them, and they are not all
 * 1/2; fixed and global modes, and no validation rows (the base). */
static void test_label_sets_thresholds(void **state)
{
    ml_data m;
    make_ml(&m, 240, 80, 3, (const double[]){0.5, 0.5, 0.12}, (const float[]){1, 1, 0.45f}, 4);
    const quads *val = &m.val;
    const char *base = "{layers: [conv: {filters: 4, size: 3, pad: 1}, relu, maxpool: 2, fc: classes], "
                       "output: sigmoid, epochs: 2, batch: 16, optimizer: {adam: {lr: 0.003}}";
    char params[512];
    snprintf(params, sizeof params, "%s}", base);
    vb_classifier *c = ml_train(params, &m.td);
    float S[80 * 3], S2[80 * 3], t[3], want[3];
    int lab[80];
    uint8_t P[80 * 3], Pw[80 * 3];
    vb_error err = {0};
    assert_int_equal(vb_classifier_predict(c, val->X, 80, 64, lab, S, &err), VB_OK);
    ml_thresholds(c, 3, t);
    assert_int_equal(vb_ml_tune_thresholds(S, val->Y, 80, 3, VB_ML_THRESH_PER_LABEL, 0.5f, want, &err), VB_OK);
    assert_memory_equal(t, want, sizeof t);
    int moved = 0;
    for (int l = 0; l < 3; l++)
        moved += t[l] != 0.5f;
    if (!moved)
        fail_msg("every tuned threshold is 0.5");
    assert_int_equal(vb_classifier_predict_sets(c, val->X, 80, 64, P, S2, &err), VB_OK);
    assert_memory_equal(S, S2, sizeof S);
    vb_ml_apply_thresholds(S, 80, 3, t, Pw);
    assert_memory_equal(P, Pw, sizeof P);
    vb_classifier_free(c);
    /* fixed: every threshold is threshold_value (auto: 1/2), on the same scores */
    snprintf(params, sizeof params, "%s, threshold: fixed, threshold_value: 0.3}", base);
    c = ml_train(params, &m.td);
    ml_thresholds(c, 3, t);
    for (int l = 0; l < 3; l++)
        assert_true(t[l] == 0.3f);
    assert_int_equal(vb_classifier_predict_sets(c, val->X, 80, 64, P, S2, &err), VB_OK);
    assert_memory_equal(S, S2, sizeof S);
    for (int j = 0; j < 80 * 3; j++)
        assert_int_equal(P[j], S[j] > 0.3f);
    vb_classifier_free(c);
    snprintf(params, sizeof params, "%s, threshold: global}", base);
    c = ml_train(params, &m.td);
    ml_thresholds(c, 3, t);
    assert_int_equal(vb_ml_tune_thresholds(S, val->Y, 80, 3, VB_ML_THRESH_GLOBAL, 0.5f, want, &err), VB_OK);
    assert_memory_equal(t, want, sizeof t);
    vb_classifier_free(c);
    /* no validation rows: nothing to tune on */
    m.td.Xval = NULL;
    m.td.yval = NULL;
    m.td.Yval = NULL;
    m.td.n_val = 0;
    snprintf(params, sizeof params, "%s}", base);
    c = ml_train(params, &m.td);
    ml_thresholds(c, 3, t);
    for (int l = 0; l < 3; l++)
        assert_true(t[l] == 0.5f);
    vb_classifier_free(c);
    free_ml(&m);
}

/* Save and load through the wrapper: the same sets, scores, thresholds and
 * curve; a model of sigmoid outputs under softmax parameters, and every
 * cut of the state's tail, are refused. */
static void test_label_sets_round_trip(void **state)
{
    ml_data m;
    make_ml(&m, 160, 60, 4, (const double[]){0.5, 0.3, 0.5, 0.2}, (const float[]){1, 0.8f, 1, 0.7f}, 6);
    const char *params = "{layers: [conv: {filters: 4, size: 3, pad: 1}, batchnorm, relu, maxpool: 2, fc: 8, relu, "
                         "dropout: 0.1, fc: classes], output: sigmoid, epochs: 3, batch: 16, early_stopping: 2}";
    vb_classifier *a = ml_train(params, &m.td), *b = ml_classifier(params);
    vb_writer w;
    save_load(a, b, &w);
    assert_same_predictions(a, b, m.val.X, 60, 64, 4);
    float ta[4], tb[4];
    ml_thresholds(a, 4, ta);
    ml_thresholds(b, 4, tb);
    assert_memory_equal(ta, tb, sizeof ta);
    const vb_epoch *ea, *eb;
    size_t ne = vb_classifier_curve(a, &ea);
    assert_int_equal(vb_classifier_curve(b, &eb), ne);
    assert_memory_equal(ea, eb, ne * sizeof *ea);
    /* the same layers with softmax parameters */
    vb_classifier *c = ml_classifier("{layers: [conv: {filters: 4, size: 3, pad: 1}, batchnorm, relu, maxpool: 2, "
                                     "fc: 8, relu, dropout: 0.1, fc: classes]}");
    vb_reader r;
    vb_error err = {0};
    vb_reader_init(&r, w.buf.data, w.buf.len, "model");
    vb_status st = vb_classifier_load(c, &r, &err);
    assert_int_equal(st, VB_ERR_FORMAT);
    assert_string_equal(err.msg, "model: the saved network has sigmoid outputs but its parameters say output: "
                                 "softmax");
    /* the thresholds are the last 16 bytes: any cut there fails */
    for (size_t len = w.buf.len - 20; len < w.buf.len; len++) {
        vb_classifier *x = ml_classifier(params);
        vb_reader_init(&r, w.buf.data, len, "model");
        assert_int_equal(vb_classifier_load(x, &r, &err), VB_ERR_FORMAT);
        vb_classifier_free(x);
    }
    vb_writer_free(&w);
    vb_classifier_free(a);
    vb_classifier_free(b);
    vb_classifier_free(c);
    free_ml(&m);
}

static void put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* A softmax state as the format before sigmoid outputs wrote it (state
 * version 1, network version 1 without the output field) still loads, to
 * the same predictions. */
static void test_load_state_version1(void **state)
{
    shapes s;
    make_shapes(&s, 3, 60, 30, 12, 4);
    const char *params = "{layers: [conv: {filters: 4, size: 3}, relu, maxpool: 2, fc: classes], epochs: 2}";
    vb_traindata td = {.X = s.X, .n = 60, .d = 144, .y = s.y, .n_classes = 3, .shape = {12, 12, 1}, .seed = 5,
                       .Xval = s.Xv, .yval = s.yv, .n_val = 30};
    vb_classifier *a = ml_train(params, &td), *b = ml_classifier(params);
    vb_writer w;
    vb_writer_init(&w);
    vb_error err = {0};
    assert_int_equal(vb_classifier_save(a, &w, &err), VB_OK);
    const vb_epoch *ep;
    size_t ne = vb_classifier_curve(a, &ep);
    /* d (8), n_classes (4), state version (4), then the network: magic,
     * version, output, ..., crc; then the history (32 + 48 per epoch) */
    const uint8_t *v2 = (const uint8_t *)w.buf.data;
    const size_t len = w.buf.len, net_end = len - 32 - 48 * ne;
    assert_int_equal(v2[12], 2);
    assert_int_equal(v2[20], 2);
    assert_int_equal(v2[24], 0); /* softmax */
    uint8_t *v1 = malloc(len - 4);
    memcpy(v1, v2, 24);
    put_u32(v1 + 12, 1);
    put_u32(v1 + 20, 1);
    memcpy(v1 + 24, v2 + 28, net_end - 4 - 28);
    put_u32(v1 + net_end - 8, vb_crc32(v1 + 16, net_end - 8 - 16, 0));
    memcpy(v1 + net_end - 4, v2 + net_end, len - net_end);
    vb_reader r;
    vb_reader_init(&r, v1, len - 4, "old model");
    if (vb_classifier_load(b, &r, &err) != VB_OK)
        fail_msg("%s", err.msg);
    assert_int_equal(vb_reader_end(&r, &err), VB_OK);
    assert_same_predictions(a, b, s.Xv, 30, 144, 3);
    free(v1);
    vb_writer_free(&w);
    vb_classifier_free(a);
    vb_classifier_free(b);
    free_shapes(&s);
}

/* As test_deterministic for sigmoid outputs: the same weights, curve, sets
 * and thresholds with two threads twice and with one. */
static void test_label_sets_threads(void **state)
{
    ml_data m;
    make_ml(&m, 96, 32, 4, (const double[]){0.5, 0.4, 0.5, 0.3}, (const float[]){1, 1, 0.8f, 0.9f}, 8);
    vb_cnn_train_conf conf = base_conf();
    conf.aug = (vb_augment){.shift = 1, .rotate = 10, .brightness = 0.1};
    vb_cnn *net[3];
    vb_cnn_history h[3];
    vb_classifier *c[3];
    const char *params = "{layers: [conv: {filters: 6, size: 3, pad: 1}, relu, maxpool: 2, conv: {filters: 8, size: "
                         "3}, batchnorm, relu, maxpool: 2, flatten, fc: 16, relu, dropout: 0.2, fc: classes], output: "
                         "sigmoid, epochs: 3, batch: 16, augment: {shift: 1, rotate: 10, brightness: 0.1}}";
    vb_error err = {0};
    for (int i = 0; i < 3; i++) {
        vb_set_threads(i < 2 ? 2 : 1);
        net[i] = make_net(small_net, 8, 8, 1, 4);
        net[i]->output = VB_CNN_SIGMOID;
        if (vb_cnn_train(net[i], &conf, &m.td, &h[i], &err) != VB_OK)
            fail_msg("%s", err.msg);
        c[i] = ml_train(params, &m.td);
    }
    vb_set_threads(2);
    uint8_t P[3][32 * 4];
    float S[3][32 * 4], t[3][4];
    for (int i = 0; i < 3; i++) {
        assert_memory_equal(net[0]->params, net[i]->params, net[0]->n_params * sizeof(float));
        assert_memory_equal(net[0]->stats, net[i]->stats, net[0]->n_stats * sizeof(float));
        assert_int_equal(h[i].n_epochs, 3);
        for (int e = 0; e < 3; e++) {
            assert_float_equal(h[0].epochs[e].train_loss, h[i].epochs[e].train_loss, 0);
            assert_float_equal(h[0].epochs[e].train_acc, h[i].epochs[e].train_acc, 0);
            assert_float_equal(h[0].epochs[e].val_loss, h[i].epochs[e].val_loss, 0);
            assert_float_equal(h[0].epochs[e].val_acc, h[i].epochs[e].val_acc, 0);
        }
        assert_int_equal(vb_classifier_predict_sets(c[i], m.val.X, 32, 64, P[i], S[i], &err), VB_OK);
        ml_thresholds(c[i], 4, t[i]);
        assert_memory_equal(P[0], P[i], sizeof P[0]);
        assert_memory_equal(S[0], S[i], sizeof S[0]);
        assert_memory_equal(t[0], t[i], sizeof t[0]);
    }
    /* per-label accuracy: a multiple of 1 / (96 x 4) in [0, 1] */
    double hits = h[0].epochs[2].train_acc * 96 * 4;
    assert_float_equal(hits, round(hits), 1e-9);
    assert_true(h[0].epochs[2].train_acc <= 1);
    for (int i = 0; i < 3; i++) {
        vb_cnn_history_free(&h[i]);
        vb_cnn_free(net[i]);
        vb_classifier_free(c[i]);
    }
    free_ml(&m);
}

/* Which message a mismatch of output and data gets. */
static void test_label_sets_errors(void **state)
{
    shapes s;
    make_shapes(&s, 3, 30, 0, 12, 10);
    vb_traindata single = {.X = s.X, .n = 30, .d = 144, .y = s.y, .n_classes = 3, .shape = {12, 12, 1}, .seed = 5};
    const char *layers = "layers: [conv: {filters: 2, size: 3}, relu, maxpool: 2, fc: classes], epochs: 1";
    char params[256];
    snprintf(params, sizeof params, "{%s, output: sigmoid}", layers);
    /* through the wrapper, which knows before the cnn does */
    vb_classifier *c = ml_classifier(params);
    vb_error err = {0};
    assert_int_equal(vb_classifier_train(c, &single, &err), VB_ERR_DATA);
    assert_string_equal(err.msg, "cnn: output: sigmoid learns label sets, but this dataset has one label per image; "
                                 "use output: softmax");
    vb_classifier_free(c);
    /* the network's own check says the same */
    vb_cnn *net = make_net("[conv: {filters: 2, size: 3}, relu, maxpool: 2, fc: classes]", 12, 12, 1, 3);
    net->output = VB_CNN_SIGMOID;
    vb_cnn_train_conf conf = base_conf();
    vb_cnn_history h;
    assert_int_equal(vb_cnn_train(net, &conf, &single, &h, &err), VB_ERR_DATA);
    assert_string_equal(err.msg, "test: output: sigmoid learns label sets, but this dataset has one label per image; "
                                 "use output: softmax");
    vb_cnn_history_free(&h);
    vb_cnn_free(net);
    /* softmax on label sets */
    const double prob[3] = {0.5, 0.5, 0.5};
    const float bright[3] = {1, 1, 1};
    quads q;
    make_quads(&q, 30, 12, 3, prob, bright, 11);
    vb_traindata sets = quads_td(&q, NULL, 12, 3);
    snprintf(params, sizeof params, "{%s}", layers);
    c = ml_classifier(params);
    assert_int_equal(vb_classifier_train(c, &sets, &err), VB_ERR_DATA);
    assert_string_equal(err.msg, "cnn: this dataset has label sets (multilabel) and a softmax output learns one label "
                                 "per image; use output: sigmoid");
    /* a softmax instance predicts no sets */
    assert_int_equal(vb_classifier_train(c, &single, &err), VB_OK);
    uint8_t P[3];
    tu_assert_fails_with(vb_classifier_predict_sets(c, s.X, 1, 144, P, NULL, &err), err,
                         "cnn: predicts one label per image, not label sets");
    assert_int_equal(c->vt->predict_sets(c->state, s.X, 1, P, NULL, &err), VB_ERR_STATE);
    assert_string_equal(err.msg, "cnn: predicts one label per image (output: softmax), not label sets");
    vb_classifier_free(c);
    /* sigmoid is not a layer */
    assert_int_equal(arch_error("- fc: classes\n- sigmoid\n", 8, 8, 1, 3, &err), VB_ERR_SPEC);
    assert_string_equal(err.msg, "net.yaml:2:3: cnn layer 2: sigmoid is part of the loss (give the cnn output: "
                                 "sigmoid for a sigmoid per label); remove it");
    free_quads(&q);
    free_shapes(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_kinds),
        cmocka_unit_test(test_grad_conv_stride_pad),
        cmocka_unit_test(test_grad_conv_pad2),
        cmocka_unit_test(test_grad_conv_1x1),
        cmocka_unit_test(test_grad_maxpool),
        cmocka_unit_test(test_relu_maxpool_fused),
        cmocka_unit_test(test_grad_avgpool),
        cmocka_unit_test(test_grad_relu),
        cmocka_unit_test(test_grad_fc),
        cmocka_unit_test(test_grad_fc_pieces),
        cmocka_unit_test(test_grad_batchnorm),
        cmocka_unit_test(test_grad_dropout),
        cmocka_unit_test(test_xent),
        cmocka_unit_test(test_grad_network),
        cmocka_unit_test(test_bce),
        cmocka_unit_test(test_grad_network_bce),
        cmocka_unit_test(test_sgd_by_hand),
        cmocka_unit_test(test_adam_by_hand),
        cmocka_unit_test(test_schedules),
        cmocka_unit_test(test_augment_geometry),
        cmocka_unit_test(test_learns_shapes),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_save_load),
        cmocka_unit_test(test_classifier_round_trip),
        cmocka_unit_test(test_nan_first_epoch_fails),
        cmocka_unit_test(test_nan_later_keeps_last_good),
        cmocka_unit_test(test_huge_lr_keeps_finite_weights),
        cmocka_unit_test(test_early_stopping),
        cmocka_unit_test(test_shape_errors),
        cmocka_unit_test(test_layer_param_errors),
        cmocka_unit_test(test_layer_shorthand),
        cmocka_unit_test(test_block_shorthand),
        cmocka_unit_test(test_param_errors),
        cmocka_unit_test(test_runner),
        cmocka_unit_test(test_runner_check),
        cmocka_unit_test(test_learns_label_sets),
        cmocka_unit_test(test_label_sets_thresholds),
        cmocka_unit_test(test_label_sets_round_trip),
        cmocka_unit_test(test_load_state_version1),
        cmocka_unit_test(test_label_sets_threads),
        cmocka_unit_test(test_label_sets_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
