/* Hierarchical metrics: Kiritchenko's hP, hR, hF over a taxonomy and the
 * single-label metrics of each level (eval.h).
 *
 * A level's metrics come from vb_metrics_compute over the level's classes
 * plus one extra column for the predictions that stopped above the level:
 * no sample is truly of that column, so a stopped prediction counts wrong
 * and lowers its true class's recall, and the extra column is then left
 * out of the confusion matrix and of the macro average. */
#include "visbench/eval.h"

#include <stdlib.h>
#include <string.h>

void vb_hier_metrics_free(vb_hier_metrics *m)
{
    if (!m)
        return;
    for (int l = 0; m->level && l < m->n_levels; l++) {
        free(m->level[l].nodes);
        free(m->level[l].confusion);
    }
    free(m->level);
    memset(m, 0, sizeof *m);
}

/* |A(a) ∩ A(b)|: the depth of the deepest common ancestor of a and b (0
 * when they share no top-level node). */
static int common_depth(const vb_taxonomy *t, int a, int b)
{
    int d = t->depth[a] < t->depth[b] ? t->depth[a] : t->depth[b];
    a = vb_tax_at_level(t, a, d);
    b = vb_tax_at_level(t, b, d);
    while (a != b) {
        a = t->parent[a];
        b = t->parent[b];
        d--;
    }
    return d;
}

/* Level L's classes, its confusion matrix, accuracy and macro-F1. col:
 * n_nodes of scratch (node -> column). tl, pl: n of scratch. */
static vb_status level_metrics(const vb_taxonomy *t, const int *truth, const int *pred, size_t n, int L,
                               int *col, int *tl, int *pl, vb_hier_level *lv, vb_error *err)
{
    int k = vb_tax_level_nodes(t, L, NULL);
    size_t kk = (size_t)k;
    lv->n_nodes = k;
    lv->nodes = vb_malloc(kk, sizeof *lv->nodes, err);
    lv->confusion = vb_calloc(kk * kk, sizeof *lv->confusion, err);
    if (!lv->nodes || !lv->confusion)
        return VB_ERR_NOMEM;
    vb_tax_level_nodes(t, L, lv->nodes);
    for (int i = 0; i < t->n_nodes; i++)
        col[i] = -1;
    for (int c = 0; c < k; c++)
        col[lv->nodes[c]] = c;
    for (size_t i = 0; i < n; i++) {
        tl[i] = col[vb_tax_at_level(t, truth[i], L)];
        int p = pred[i], stopped = p >= t->n_leaves && t->depth[p] < L;
        pl[i] = stopped ? k : col[vb_tax_at_level(t, p, L)];
        lv->n_stopped += (size_t)stopped;
    }
    vb_metrics mm;
    vb_status st = vb_metrics_compute(tl, pl, n, k + 1, &mm, err);
    if (st != VB_OK)
        return st;
    double sum_f = 0;
    int present = 0;
    for (size_t c = 0; c < kk; c++) {
        size_t predicted = 0;
        for (size_t r = 0; r < kk; r++) {
            lv->confusion[r * kk + c] = mm.confusion[r * (kk + 1) + c];
            predicted += lv->confusion[r * kk + c];
        }
        if (mm.support[c] || predicted) {
            present++;
            sum_f += mm.f1[c];
        }
    }
    lv->accuracy = mm.accuracy;
    lv->macro_f1 = present ? sum_f / present : 0.0;
    vb_metrics_free(&mm);
    return VB_OK;
}

vb_status vb_hier_metrics_compute(const vb_taxonomy *t, const int *truth, const int *pred, size_t n,
                                  vb_hier_metrics *m, vb_error *err)
{
    memset(m, 0, sizeof *m);
    if (!t || t->max_depth < 1)
        return vb_fail(err, VB_ERR_PARAM, "hierarchical metrics need a finished taxonomy");
    double inter = 0, sum_p = 0, sum_t = 0;
    for (size_t i = 0; i < n; i++) {
        if (truth[i] < 0 || truth[i] >= t->n_leaves)
            return vb_fail(err, VB_ERR_DATA,
                           "hierarchical metrics: true label %d of sample %zu is not a class (%d classes)", truth[i],
                           i, t->n_leaves);
        if (pred[i] < 0 || pred[i] >= t->n_nodes)
            return vb_fail(err, VB_ERR_DATA,
                           "hierarchical metrics: prediction %d of sample %zu is not a node of the taxonomy "
                           "(%d nodes)",
                           pred[i], i, t->n_nodes);
        inter += common_depth(t, truth[i], pred[i]);
        sum_p += t->depth[pred[i]];
        sum_t += t->depth[truth[i]];
    }
    m->hp = sum_p > 0 ? inter / sum_p : 0.0;
    m->hr = sum_t > 0 ? inter / sum_t : 0.0;
    m->hf = m->hp + m->hr > 0 ? 2 * m->hp * m->hr / (m->hp + m->hr) : 0.0;
    m->level = vb_calloc((size_t)t->max_depth, sizeof *m->level, err);
    int *col = vb_malloc((size_t)t->n_nodes, sizeof *col, err);
    int *tl = vb_malloc(n ? n : 1, sizeof *tl, err), *pl = vb_malloc(n ? n : 1, sizeof *pl, err);
    vb_status st = m->level && col && tl && pl ? VB_OK : VB_ERR_NOMEM;
    if (m->level)
        m->n_levels = t->max_depth;
    for (int L = 1; L <= m->n_levels && st == VB_OK; L++)
        st = level_metrics(t, truth, pred, n, L, col, tl, pl, &m->level[L - 1], err);
    free(col);
    free(tl);
    free(pl);
    if (st != VB_OK)
        vb_hier_metrics_free(m);
    return st;
}
