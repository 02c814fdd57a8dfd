/* Optimisers (SGD with momentum, Adam) and learning-rate schedules, with
 * torch's update rules so that the same hyper-parameters mean the same. */
#include "visbench/cnn.h"
#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct vb_cnn_opt {
    vb_cnn_opt_conf conf;
    double wd;
    size_t n;
    float *m, *v;  /* sgd: momentum buffer in m; adam: first and second moments */
    long t;        /* steps taken */
    size_t n_ranges;
    struct range {
        size_t off, n;
        int decay;
    } *ranges;
};

void vb_cnn_opt_free(vb_cnn_opt *o)
{
    if (!o)
        return;
    free(o->m);
    free(o->v);
    free(o->ranges);
    free(o);
}

vb_status vb_cnn_opt_new(const vb_cnn *net, const vb_cnn_opt_conf *conf, double weight_decay, vb_cnn_opt **out,
                         vb_error *err)
{
    *out = NULL;
    if (!(conf->lr > 0) || !isfinite(conf->lr))
        return vb_fail(err, VB_ERR_PARAM, "cnn: the learning rate must be > 0, not %g", conf->lr);
    vb_cnn_opt *o = vb_calloc(1, sizeof *o, err);
    if (!o)
        return VB_ERR_NOMEM;
    o->conf = *conf;
    o->wd = weight_decay;
    o->n = net->n_params;
    size_t n = o->n ? o->n : 1;
    if (!(o->m = vb_calloc(n, sizeof *o->m, err)) ||
        (conf->kind == VB_CNN_ADAM && !(o->v = vb_calloc(n, sizeof *o->v, err))) ||
        !(o->ranges = vb_calloc(2 * net->n_layers, sizeof *o->ranges, err))) {
        vb_cnn_opt_free(o);
        return VB_ERR_NOMEM;
    }
    for (size_t i = 0; i < net->n_layers; i++) {
        const vb_cnn_layer *L = &net->layers[i];
        if ((!L->n_w && !L->n_b) || L->frozen) /* a frozen layer is not updated */
            continue;
        int decay = L->conf.kind == VB_CNN_CONV || L->conf.kind == VB_CNN_FC;
        o->ranges[o->n_ranges++] = (struct range){L->w_off, L->n_w, decay};
        o->ranges[o->n_ranges++] = (struct range){L->b_off, L->n_b, 0};
    }
    *out = o;
    return VB_OK;
}

void vb_cnn_opt_step(vb_cnn_opt *o, vb_cnn *net, const float *grad, double lr)
{
    o->t++;
    float *w = net->params, *m = o->m, *v = o->v;
    const vb_cnn_opt_conf *c = &o->conf;
    const int adam = c->kind == VB_CNN_ADAM;
    const float b1 = (float)c->beta1, b2 = (float)c->beta2, eps = (float)c->eps;
    const double bc1 = 1 - pow(c->beta1, (double)o->t), bc2 = 1 - pow(c->beta2, (double)o->t);
    const float step = adam ? (float)(lr / bc1) : (float)lr, rs = adam ? (float)(1 / sqrt(bc2)) : 1.0f;
    const float mu = (float)c->momentum;
    const int first = o->t == 1, nesterov = c->nesterov;
    /* one parallel region; the ranges (weights decayed, biases not) share it */
#pragma omp parallel if (o->n > 8192)
    for (size_t r = 0; r < o->n_ranges; r++) {
        const size_t off = o->ranges[r].off, end = off + o->ranges[r].n;
        const float wd = o->ranges[r].decay ? (float)o->wd : 0.0f;
        if (adam) {
#pragma omp for schedule(dynamic, 8192) nowait
            for (size_t j = off; j < end; j++) {
                float g = grad[j] + wd * w[j];
                m[j] = b1 * m[j] + (1 - b1) * g;
                v[j] = b2 * v[j] + (1 - b2) * g * g;
                w[j] -= step * m[j] / (sqrtf(v[j]) * rs + eps);
            }
        } else {
#pragma omp for schedule(dynamic, 8192) nowait
            for (size_t j = off; j < end; j++) {
                float g = grad[j] + wd * w[j];
                if (mu != 0) {
                    /* torch starts the buffer at the first gradient */
                    m[j] = first ? g : mu * m[j] + g;
                    g = nesterov ? g + mu * m[j] : m[j];
                }
                w[j] -= step * g;
            }
        }
    }
}

double vb_cnn_sched_lr(const vb_cnn_sched *s, double lr0, int epoch, int epochs)
{
    switch (s->kind) {
    case VB_CNN_SCHED_STEP:
        return lr0 * pow(s->gamma, (double)(epoch / (s->every > 0 ? s->every : 1)));
    case VB_CNN_SCHED_COSINE:
        return s->min_lr + (lr0 - s->min_lr) * (1 + cos(M_PI * epoch / (epochs > 0 ? epochs : 1))) / 2;
    default:
        return lr0;
    }
}
