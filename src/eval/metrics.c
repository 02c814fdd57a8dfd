/* Confusion matrix and the metrics derived from it. */
#include "visbench/eval.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void vb_metrics_free(vb_metrics *m)
{
    if (!m)
        return;
    free(m->confusion);
    free(m->support);
    free(m->precision);
    free(m->recall);
    free(m->f1);
    memset(m, 0, sizeof *m);
}

vb_status vb_metrics_compute(const int *truth, const int *pred, size_t n, int k, vb_metrics *m, vb_error *err)
{
    memset(m, 0, sizeof *m);
    if (k < 1)
        return vb_fail(err, VB_ERR_PARAM, "metrics need at least one class");
    m->n_classes = k;
    m->n = n;
    size_t kk = (size_t)k;
    m->confusion = vb_calloc(kk * kk, sizeof *m->confusion, err);
    m->support = vb_calloc(kk, sizeof *m->support, err);
    m->precision = vb_calloc(kk, sizeof *m->precision, err);
    m->recall = vb_calloc(kk, sizeof *m->recall, err);
    m->f1 = vb_calloc(kk, sizeof *m->f1, err);
    if (!m->confusion || !m->support || !m->precision || !m->recall || !m->f1) {
        vb_metrics_free(m);
        return VB_ERR_NOMEM;
    }
    size_t *abstain = vb_calloc(kk, sizeof *abstain, err), n_abstain = 0;
    if (!abstain) {
        vb_metrics_free(m);
        return VB_ERR_NOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        if (truth[i] >= 0 && truth[i] < k && pred[i] == -1) {
            abstain[truth[i]]++;
            n_abstain++;
            continue;
        }
        if (truth[i] < 0 || truth[i] >= k || pred[i] < 0 || pred[i] >= k) {
            free(abstain);
            vb_metrics_free(m);
            return vb_fail(err, VB_ERR_DATA, "label out of range at sample %zu (true %d, predicted %d, %d classes)",
                           i, truth[i], pred[i], k);
        }
        m->confusion[(size_t)truth[i] * kk + (size_t)pred[i]]++;
    }
    size_t correct = 0;
    int present = 0, in_truth = 0;
    double sum_p = 0, sum_r = 0, sum_f = 0, wf = 0, bal = 0;
    for (size_t c = 0; c < kk; c++) {
        size_t tp = m->confusion[c * kk + c], row = abstain[c], col = 0;
        for (size_t j = 0; j < kk; j++) {
            row += m->confusion[c * kk + j];
            col += m->confusion[j * kk + c];
        }
        correct += tp;
        m->support[c] = row;
        m->precision[c] = col ? (double)tp / (double)col : 0.0;
        m->recall[c] = row ? (double)tp / (double)row : 0.0;
        double pr = m->precision[c] + m->recall[c];
        m->f1[c] = pr > 0 ? 2 * m->precision[c] * m->recall[c] / pr : 0.0;
        if (row || col) {
            present++;
            sum_p += m->precision[c];
            sum_r += m->recall[c];
            sum_f += m->f1[c];
        }
        if (row) {
            in_truth++;
            bal += m->recall[c];
            wf += m->f1[c] * (double)row;
        }
    }
    free(abstain);
    m->accuracy = n ? (double)correct / (double)n : 0.0;
    m->micro_precision = m->micro_recall = m->micro_f1 = m->accuracy;
    if (n_abstain) { /* predictions that stopped above the leaves */
        m->micro_precision = n > n_abstain ? (double)correct / (double)(n - n_abstain) : 0.0;
        double pr = m->micro_precision + m->micro_recall;
        m->micro_f1 = pr > 0 ? 2 * m->micro_precision * m->micro_recall / pr : 0.0;
    }
    m->macro_precision = present ? sum_p / present : 0.0;
    m->macro_recall = present ? sum_r / present : 0.0;
    m->macro_f1 = present ? sum_f / present : 0.0;
    m->balanced_accuracy = in_truth ? bal / in_truth : 0.0;
    m->weighted_f1 = n ? wf / (double)n : 0.0;
    return VB_OK;
}

vb_status vb_metrics_from_confusion(const size_t *cm, int k, vb_metrics *m, vb_error *err)
{
    memset(m, 0, sizeof *m);
    size_t kk = k > 0 ? (size_t)k : 0, n = 0;
    for (size_t i = 0; i < kk * kk; i++)
        n += cm[i];
    int *truth = vb_malloc(n ? n : 1, sizeof *truth, err), *pred = vb_malloc(n ? n : 1, sizeof *pred, err);
    vb_status st = truth && pred ? VB_OK : VB_ERR_NOMEM;
    for (size_t t = 0, at = 0; st == VB_OK && t < kk; t++)
        for (size_t p = 0; p < kk; p++)
            for (size_t c = 0; c < cm[t * kk + p]; c++, at++) {
                truth[at] = (int)t;
                pred[at] = (int)p;
            }
    if (st == VB_OK)
        st = vb_metrics_compute(truth, pred, n, k, m, err);
    free(truth);
    free(pred);
    return st;
}

void vb_metric_set(const vb_metrics *m, const int *truth, const float *scores, size_t n, int k, int proba,
                   vb_named_value out[VB_METRIC_SET_SIZE])
{
    const vb_named_value set[VB_METRIC_SET_SIZE] = {
        {"accuracy", m->accuracy},
        {"balanced_accuracy", m->balanced_accuracy},
        {"macro_precision", m->macro_precision},
        {"macro_recall", m->macro_recall},
        {"macro_f1", m->macro_f1},
        {"micro_f1", m->micro_f1},
        {"weighted_f1", m->weighted_f1},
        {"top2_accuracy", scores ? vb_topk_accuracy(truth, scores, n, k, 2) : NAN},
        {"top5_accuracy", scores && k > 5 ? vb_topk_accuracy(truth, scores, n, k, 5) : NAN},
        {"auc_macro", scores ? vb_auc_macro(truth, scores, n, k) : NAN},
        {"log_loss", scores && proba ? vb_log_loss(truth, scores, n, k) : NAN}};
    for (int i = 0; i < VB_METRIC_SET_SIZE; i++)
        out[i] = set[i];
}
