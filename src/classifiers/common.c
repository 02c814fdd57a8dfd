/* Helpers shared by the classifier plug-ins. */
#include "internal.h"
#include "../core/linalg.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void vb_clf_write_tag(vb_writer *w, uint32_t tag, uint32_t version)
{
    vb_write_u32(w, tag);
    vb_write_u32(w, version);
}

vb_status vb_clf_read_tag(vb_reader *r, uint32_t tag, uint32_t version, const char *name, vb_error *err)
{
    uint32_t t, v;
    vb_status st;
    if ((st = vb_read_u32(r, &t, err)) != VB_OK || (st = vb_read_u32(r, &v, err)) != VB_OK)
        return st;
    if (t != tag)
        return vb_fail(err, VB_ERR_FORMAT, "%s: not a saved %s classifier (the state belongs to another kind)",
                       r->what, name);
    if (v != version)
        return vb_fail(err, VB_ERR_FORMAT, "%s: %s state of format version %u, this build reads version %u",
                       r->what, name, v, version);
    return VB_OK;
}

vb_status vb_clf_check_count(const vb_reader *r, uint64_t count, size_t elem_bytes, const char *what,
                             vb_error *err)
{
    size_t left = vb_reader_left(r);
    if (elem_bytes == 0)
        elem_bytes = 1;
    if (count > left / elem_bytes)
        return vb_fail(err, VB_ERR_FORMAT, "%s: corrupt state (%llu %s, more than the input holds)", r->what,
                       (unsigned long long)count, what);
    return VB_OK;
}

vb_status vb_clf_majority_map(const int *assign, const int *y, size_t n, int k, int n_classes, int *map,
                              vb_error *err)
{
    size_t *cnt = vb_calloc((size_t)k + 1, (size_t)n_classes * sizeof *cnt, err);
    if (!cnt)
        return VB_ERR_NOMEM;
    size_t *all = cnt + (size_t)k * (size_t)n_classes;
    for (size_t i = 0; i < n; i++) {
        cnt[(size_t)assign[i] * (size_t)n_classes + (size_t)y[i]]++;
        all[y[i]]++;
    }
    int global = 0;
    for (int c = 1; c < n_classes; c++)
        if (all[c] > all[global])
            global = c;
    for (int g = 0; g < k; g++) {
        const size_t *row = cnt + (size_t)g * (size_t)n_classes;
        int best = -1;
        for (int c = 0; c < n_classes; c++)
            if (row[c] > 0 && (best < 0 || row[c] > row[best]))
                best = c;
        map[g] = best < 0 ? global : best;
    }
    free(cnt);
    return VB_OK;
}

void vb_clf_row_sqnorms(const float *X, size_t n, size_t d, float *out)
{
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        double q = 0;
        const float *x = X + i * d;
#pragma omp simd reduction(+ : q)
        for (size_t j = 0; j < d; j++)
            q += (double)x[j] * x[j];
        out[i] = (float)q;
    }
}

vb_status vb_clf_sqdist(const float *X, size_t n, size_t d, const float *C, const float *csq, size_t k, float *D,
                        vb_error *err)
{
    if (n > 0x7fffffff || d > 0x7fffffff || k > 0x7fffffff)
        return vb_fail(err, VB_ERR_NOMEM, "distance block too large for BLAS");
    vb_sgemm(0, 1, n, k, d, -2.0f, X, d, C, d, 0.0f, D, k);
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        double q = 0;
        const float *x = X + i * d;
        for (size_t j = 0; j < d; j++)
            q += (double)x[j] * x[j];
        for (size_t c = 0; c < k; c++) {
            float v = (float)q + csq[c] + D[i * k + c];
            D[i * k + c] = v > 0 ? v : 0.0f;
        }
    }
    return VB_OK;
}

void vb_clf_cluster_json(vb_buf *b, const vb_cluster_scores *s)
{
    vb_buf_puts(b, ", \"train_purity\": ");
    vb_buf_double(b, s->purity);
    vb_buf_puts(b, ", \"train_nmi\": ");
    vb_buf_double(b, s->nmi);
    vb_buf_puts(b, ", \"train_ari\": ");
    vb_buf_double(b, s->ari);
}

vb_status vb_clf_parse_base(const vb_params *p, const char *owner, const vb_classifier_vt **vt, vb_params *bp,
                            vb_error *err)
{
    memset(bp, 0, sizeof *bp);
    *vt = NULL;
    const vb_node *n = vb_param_node(p, "base");
    const vb_node *name = NULL, *value = NULL;
    if (!n)
        return vb_fail(err, VB_ERR_SPEC, "%s: base: a classifier is required", owner);
    vb_status st = vb_node_entry(n, "base classifier", &name, &value, err);
    if (st != VB_OK)
        return st;
    const vb_classifier_vt *b = vb_classifier_find(name->text);
    if (!b) {
        size_t nreg;
        const vb_classifier_vt *const *reg = vb_classifier_registry(&nreg);
        const char *names[64];
        size_t k = 0;
        for (size_t i = 0; i < nreg && k < 64; i++)
            names[k++] = reg[i]->info.name;
        const char *near = vb_nearest_name(name->text, names, k);
        return vb_node_fail(name, err, "%s: base: unknown classifier '%s'%s%s%s", owner, name->text,
                            near ? " (did you mean '" : "", near ? near : "", near ? "'?)" : "");
    }
    if ((st = vb_params_parse(bp, &b->info, value, 0, err)) != VB_OK)
        return st;
    /* what the base is with these parameters (a cnn is multilabel only with
     * output: sigmoid, a gmm a clustering only in mode: cluster) */
    int ml = vb_classifier_multilabels(b, bp), clu = vb_classifier_clusters(b, bp), hier = (b->flags & VB_CLF_HIER) != 0;
    if (ml || clu || hier) {
        vb_params_free(bp);
        memset(bp, 0, sizeof *bp);
        return vb_node_fail(name, err,
                            "%s: base: '%s' cannot be a base classifier here (%s); give a single-label classifier "
                            "such as svm, logreg or forest",
                            owner, b->info.name,
                            clu ? "it clusters" : hier ? "it is itself hierarchical" : "it learns label sets");
    }
    *vt = b;
    return VB_OK;
}

void vb_clf_scores_to_dist(float *s, size_t n, int k, int proba)
{
    for (size_t i = 0; i < n; i++) {
        float *r = s + i * (size_t)k;
        double sum = 0;
        if (proba) {
            for (int c = 0; c < k; c++)
                sum += r[c] > 0 ? r[c] : 0;
            for (int c = 0; c < k; c++)
                r[c] = sum > 0 ? (float)((r[c] > 0 ? r[c] : 0) / sum) : 1.0f / (float)k;
            continue;
        }
        float mx = r[0];
        for (int c = 1; c < k; c++)
            mx = r[c] > mx ? r[c] : mx;
        for (int c = 0; c < k; c++)
            sum += exp((double)r[c] - mx);
        for (int c = 0; c < k; c++)
            r[c] = (float)(exp((double)r[c] - mx) / sum);
    }
}
