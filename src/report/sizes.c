/* Accuracy against training-set size: split.learning_curve's points. */
#include "visbench/report.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void vb_size_curve_free(vb_size_curve *c)
{
    if (!c)
        return;
    free(c->pipelines);
    free(c->frac);
    free(c->n_train);
    free(c->acc_mean);
    free(c->acc_sd);
    free(c->train_s);
    free(c);
}

static int by_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* Is fold index f a fold that learning-curve runs subsample? */
static int is_base(const vb_store_exp *e, int f)
{
    for (size_t i = 0; i < e->n_curve_runs; i++)
        if (e->curve_runs[i].fold_repeat == f + 1)
            return 1;
    return 0;
}

vb_status vb_size_curve_build(const vb_store_exp *e, vb_size_curve **out, vb_error *err)
{
    *out = NULL;
    if (!e->n_curve_runs)
        return VB_OK;
    vb_size_curve *c = vb_calloc(1, sizeof *c, err);
    int *q = c ? vb_malloc(e->n_curve_runs + 1, sizeof *q, err) : NULL;
    if (!q) {
        free(c);
        return VB_ERR_NOMEM;
    }
    size_t nq = 0;
    for (size_t i = 0; i < e->n_curve_runs; i++) {
        int v = e->curve_runs[i].fold_number, seen = 0;
        for (size_t j = 0; j < nq; j++)
            seen |= q[j] == v;
        if (!seen)
            q[nq++] = v;
    }
    q[nq++] = 1000; /* the whole training part: the folds themselves */
    qsort(q, nq, sizeof *q, by_int);
    /* the pipelines, in the order of the experiment's runs */
    c->pipelines = vb_calloc(e->n_runs + e->n_curve_runs, sizeof *c->pipelines, err);
    vb_status st = c->pipelines ? VB_OK : VB_ERR_NOMEM;
    for (size_t i = 0; st == VB_OK && i < e->n_runs + e->n_curve_runs; i++) {
        const char *name = i < e->n_runs ? e->runs[i].pipeline : e->curve_runs[i - e->n_runs].pipeline;
        int seen = 0;
        for (size_t j = 0; j < c->n_pipe; j++)
            seen |= strcmp(c->pipelines[j], name) == 0;
        if (!seen)
            c->pipelines[c->n_pipe++] = name;
    }
    size_t cells = c->n_pipe * nq;
    c->n_pts = nq;
    if (st == VB_OK) {
        c->frac = vb_malloc(nq, sizeof *c->frac, err);
        c->n_train = vb_malloc(cells, sizeof *c->n_train, err);
        c->acc_mean = vb_malloc(cells, sizeof *c->acc_mean, err);
        c->acc_sd = vb_malloc(cells, sizeof *c->acc_sd, err);
        c->train_s = vb_malloc(cells, sizeof *c->train_s, err);
        if (!c->frac || !c->n_train || !c->acc_mean || !c->acc_sd || !c->train_s)
            st = VB_ERR_NOMEM;
    }
    size_t cap = e->n_runs + e->n_curve_runs;
    double *acc = st == VB_OK ? vb_malloc(cap, sizeof *acc, err) : NULL;
    if (st == VB_OK && !acc)
        st = VB_ERR_NOMEM;
    for (size_t p = 0; st == VB_OK && p < c->n_pipe; p++)
        for (size_t k = 0; k < nq; k++) {
            c->frac[k] = q[k] / 1000.0;
            size_t m = 0;
            double nt = 0, ts = 0;
            size_t n_all = q[k] == 1000 ? e->n_runs : e->n_curve_runs;
            for (size_t i = 0; i < n_all; i++) {
                const vb_store_run *r = q[k] == 1000 ? &e->runs[i] : &e->curve_runs[i];
                if (strcmp(r->pipeline, c->pipelines[p]) != 0 || strcmp(r->status, "done") != 0)
                    continue;
                if (q[k] == 1000 ? !is_base(e, r->fold_index) : r->fold_number != q[k])
                    continue;
                acc[m++] = vb_store_metric(r, "accuracy");
                nt += (double)r->n_train;
                ts += r->train_s + r->tune_s;
            }
            size_t at = p * nq + k;
            if (m)
                vb_mean_sd(acc, m, &c->acc_mean[at], &c->acc_sd[at]);
            else
                c->acc_mean[at] = c->acc_sd[at] = NAN;
            c->n_train[at] = m ? nt / (double)m : NAN;
            c->train_s[at] = m ? ts / (double)m : NAN;
        }
    free(acc);
    free(q);
    if (st != VB_OK) {
        vb_size_curve_free(c);
        return st;
    }
    *out = c;
    return VB_OK;
}

void vb_render_size_curve(const vb_size_curve *c, vb_format fmt, vb_buf *b)
{
    if (!c)
        return;
    int md = fmt == VB_FMT_MD;
    vb_buf_puts(b, md ? "\n### Learning curve\n\n" : "\nlearning curve: accuracy (mean ± sd over the folds) and "
                                                       "train seconds against the training part\n");
    if (md) {
        vb_buf_puts(b, "Accuracy (mean ± sd over the folds) and train seconds against the training part.\n\n"
                       "| pipeline | fraction | training images | accuracy | train s |\n| --- | ---: | ---: | ---: | ---: |\n");
    } else
        vb_buf_printf(b, "%-22s %8s %9s %18s %9s\n", "pipeline", "fraction", "images", "accuracy", "train s");
    for (size_t p = 0; p < c->n_pipe; p++)
        for (size_t k = 0; k < c->n_pts; k++) {
            size_t at = p * c->n_pts + k;
            if (md) {
                vb_buf_puts(b, "| ");
                vb_md_cell(b, c->pipelines[p]);
                vb_buf_printf(b, " | %.3g | %.0f | %.4f ± %.4f | %.2f |\n", c->frac[k], c->n_train[at],
                              c->acc_mean[at], c->acc_sd[at], c->train_s[at]);
            } else
                vb_buf_printf(b, "%-22.22s %8.3g %9.0f %9.4f ± %6.4f %9.2f\n", k ? "" : c->pipelines[p], c->frac[k],
                              c->n_train[at], c->acc_mean[at], c->acc_sd[at], c->train_s[at]);
        }
}
