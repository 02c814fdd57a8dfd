/* Multilabel metrics: set-based (Hamming loss, subset accuracy, micro,
 * macro, per-label and samples P/R/F1) and ranking-based (LRAP, coverage
 * error, per-label ROC AUC), with scikit-learn's conventions (eval.h).
 *
 * Choices eval.h leaves open: n = 0 gives zeros and NaN ranking metrics;
 * a NaN score makes LRAP and coverage error NaN (no ranking of a NaN) and
 * the AUC of its label NaN, as the single-label score metrics do. */
#include "visbench/eval.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void vb_ml_metrics_free(vb_ml_metrics *m)
{
    if (!m)
        return;
    free(m->precision);
    free(m->recall);
    free(m->f1);
    free(m->auc);
    free(m->support);
    free(m->predicted);
    memset(m, 0, sizeof *m);
}

static double ratio(double a, double b) { return b > 0 ? a / b : 0.0; }
static double f1_of(double p, double r) { return p + r > 0 ? 2 * p * r / (p + r) : 0.0; }

typedef struct ranked {
    float s;
    uint8_t rel;
} ranked;

static int by_score_desc(const void *a, const void *b)
{
    float x = ((const ranked *)a)->s, y = ((const ranked *)b)->s;
    return x > y ? -1 : x < y;
}

/* LRAP of one sample (no NaN scores) with its n_true true labels among L:
 * each true label's precision at its rank, where labels tied with it rank
 * with it (rank = labels scoring >= it, of which n true), averaged. v: L
 * entries of scratch. */
static double sample_lrap(const float *s, const uint8_t *y, int L, int n_true, ranked *v)
{
    if (n_true == 0 || n_true == L)
        return 1.0;
    for (int l = 0; l < L; l++)
        v[l] = (ranked){s[l], y[l] != 0};
    qsort(v, (size_t)L, sizeof *v, by_score_desc);
    double sum = 0;
    int rank = 0, true_above = 0;
    for (int i = 0; i < L;) {
        int j = i, group_true = 0;
        while (j < L && v[j].s == v[i].s)
            group_true += v[j++].rel;
        rank = j;
        true_above += group_true;
        sum += group_true * ((double)true_above / rank);
        i = j;
    }
    return sum / n_true;
}

/* Coverage of one sample: labels scoring >= its lowest-scored true label
 * (0 with no true label). */
static double sample_coverage(const float *s, const uint8_t *y, int L)
{
    int any = 0;
    float lo = 0;
    for (int l = 0; l < L; l++)
        if (y[l] && (!any || s[l] < lo)) {
            lo = s[l];
            any = 1;
        }
    if (!any)
        return 0.0;
    int c = 0;
    for (int l = 0; l < L; l++)
        c += s[l] >= lo;
    return c;
}

/* Per-label AUC by vb_auc_ovr: label l's column of scores (n x L) as class
 * l against the rest, with truth l where Y has the label and -1 elsewhere. */
static vb_status ranking_metrics(const uint8_t *Y, const float *scores, size_t n, int L, vb_ml_metrics *m,
                                 vb_error *err)
{
    size_t nl = (size_t)L;
    int *truth = vb_malloc(n ? n : 1, sizeof *truth, err);
    ranked *v = vb_malloc(nl, sizeof *v, err);
    if (!truth || !v) {
        free(truth);
        free(v);
        return VB_ERR_NOMEM;
    }
    double auc_sum = 0;
    int n_auc = 0;
    for (int l = 0; l < L; l++) {
        for (size_t i = 0; i < n; i++)
            truth[i] = Y[i * nl + (size_t)l] ? l : -1;
        m->auc[l] = vb_auc_ovr(truth, scores, n, L, l);
        if (!isnan(m->auc[l])) {
            auc_sum += m->auc[l];
            n_auc++;
        }
    }
    m->auc_macro = n_auc ? auc_sum / n_auc : NAN;
    int has_nan = 0;
    for (size_t i = 0; i < n * nl && !has_nan; i++)
        has_nan = isnan(scores[i]);
    if (n && !has_nan) {
        double ap = 0, cov = 0;
        for (size_t i = 0; i < n; i++) {
            const uint8_t *y = Y + i * nl;
            int n_true = 0;
            for (int l = 0; l < L; l++)
                n_true += y[l] != 0;
            ap += sample_lrap(scores + i * nl, y, L, n_true, v);
            cov += sample_coverage(scores + i * nl, y, L);
        }
        m->lrap = ap / (double)n;
        m->coverage_error = cov / (double)n;
    }
    free(truth);
    free(v);
    return VB_OK;
}

vb_status vb_ml_metrics_compute(const uint8_t *Y, const uint8_t *P, const float *scores, size_t n, int L,
                                vb_ml_metrics *m, vb_error *err)
{
    memset(m, 0, sizeof *m);
    if (L < 1)
        return vb_fail(err, VB_ERR_PARAM, "multilabel metrics need at least one label");
    size_t nl = (size_t)L, cells;
    if (!vb_mul_ok(n, nl, &cells))
        return vb_fail(err, VB_ERR_NOMEM, "multilabel metrics: %zu samples x %d labels overflows", n, L);
    m->n_labels = L;
    m->n = n;
    m->precision = vb_calloc(nl, sizeof *m->precision, err);
    m->recall = vb_calloc(nl, sizeof *m->recall, err);
    m->f1 = vb_calloc(nl, sizeof *m->f1, err);
    m->auc = vb_calloc(nl, sizeof *m->auc, err);
    m->support = vb_calloc(nl, sizeof *m->support, err);
    m->predicted = vb_calloc(nl, sizeof *m->predicted, err);
    size_t *tp = vb_calloc(nl, sizeof *tp, err);
    if (!m->precision || !m->recall || !m->f1 || !m->auc || !m->support || !m->predicted || !tp) {
        free(tp);
        vb_ml_metrics_free(m);
        return VB_ERR_NOMEM;
    }
    size_t mismatch = 0, exact = 0;
    double samples_f1 = 0;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *y = Y + i * nl, *p = P + i * nl;
        size_t n_y = 0, n_p = 0, n_both = 0;
        for (size_t l = 0; l < nl; l++) {
            int a = y[l] != 0, b = p[l] != 0;
            n_y += (size_t)a;
            n_p += (size_t)b;
            n_both += (size_t)(a && b);
            mismatch += (size_t)(a != b);
            m->support[l] += (size_t)a;
            m->predicted[l] += (size_t)b;
            tp[l] += (size_t)(a && b);
        }
        exact += n_both == n_y && n_both == n_p;
        m->n_empty_truth += n_y == 0;
        m->n_empty_pred += n_p == 0;
        samples_f1 += n_y + n_p ? 2.0 * (double)n_both / (double)(n_y + n_p) : 1.0;
    }
    size_t sum_tp = 0, sum_true = 0, sum_pred = 0;
    int present = 0;
    for (size_t l = 0; l < nl; l++) {
        m->precision[l] = ratio((double)tp[l], (double)m->predicted[l]);
        m->recall[l] = ratio((double)tp[l], (double)m->support[l]);
        m->f1[l] = f1_of(m->precision[l], m->recall[l]);
        sum_tp += tp[l];
        sum_true += m->support[l];
        sum_pred += m->predicted[l];
        if (m->support[l] || m->predicted[l]) {
            present++;
            m->macro_precision += m->precision[l];
            m->macro_recall += m->recall[l];
            m->macro_f1 += m->f1[l];
        }
    }
    free(tp);
    if (present) {
        m->macro_precision /= present;
        m->macro_recall /= present;
        m->macro_f1 /= present;
    }
    m->hamming_loss = ratio((double)mismatch, (double)cells);
    m->subset_accuracy = ratio((double)exact, (double)n);
    m->samples_f1 = ratio(samples_f1, (double)n);
    m->micro_precision = ratio((double)sum_tp, (double)sum_pred);
    m->micro_recall = ratio((double)sum_tp, (double)sum_true);
    m->micro_f1 = ratio(2.0 * (double)sum_tp, (double)(sum_pred + sum_true));
    m->lrap = m->coverage_error = m->auc_macro = NAN;
    for (size_t l = 0; l < nl; l++)
        m->auc[l] = NAN;
    if (!scores)
        return VB_OK;
    vb_status st = ranking_metrics(Y, scores, n, L, m, err);
    if (st != VB_OK)
        vb_ml_metrics_free(m);
    return st;
}

void vb_ml_metric_set(const vb_ml_metrics *m, vb_named_value out[VB_ML_METRIC_SET_SIZE])
{
    const vb_named_value set[VB_ML_METRIC_SET_SIZE] = {
        {"subset_accuracy", m->subset_accuracy}, {"hamming_loss", m->hamming_loss},
        {"micro_f1", m->micro_f1},               {"macro_f1", m->macro_f1},
        {"samples_f1", m->samples_f1},           {"micro_precision", m->micro_precision},
        {"micro_recall", m->micro_recall},       {"lrap", m->lrap},
        {"coverage_error", m->coverage_error},   {"auc_macro", m->auc_macro}};
    for (int i = 0; i < VB_ML_METRIC_SET_SIZE; i++)
        out[i] = set[i];
}
