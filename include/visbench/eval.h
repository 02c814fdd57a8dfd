/* Evaluation metrics for single-label multi-class predictions.
 *
 * Conventions (those of scikit-learn with zero_division=0): a class that is
 * never predicted has precision 0, a class absent from the truth recall 0.
 * Macro averages run over the classes present in the truth or the
 * predictions; balanced accuracy over the classes present in the truth.
 * Micro averages equal accuracy for single-label data.
 */
#ifndef VISBENCH_EVAL_H
#define VISBENCH_EVAL_H

#include "visbench/core.h"

typedef struct vb_metrics {
    int n_classes;
    size_t n;
    size_t *confusion; /* n_classes x n_classes: row = true class, column = predicted */
    size_t *support;   /* true samples per class */
    double *precision, *recall, *f1;
    double accuracy, balanced_accuracy;
    double macro_precision, macro_recall, macro_f1;
    double micro_precision, micro_recall, micro_f1;
    double weighted_f1;
} vb_metrics;

/* Fills m from truth and predictions (labels in [0, n_classes)). */
vb_status vb_metrics_compute(const int *truth, const int *pred, size_t n, int n_classes, vb_metrics *m,
                             vb_error *err);
void vb_metrics_free(vb_metrics *m);

#endif
