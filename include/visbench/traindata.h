/* What a learner is trained on (vb_traindata) and what an iterative one
 * reports per epoch (vb_epoch): plain data, shared by the classifiers, the
 * CNN, the runner and the store without pulling in any of them. */
#ifndef VISBENCH_TRAINDATA_H
#define VISBENCH_TRAINDATA_H

#include "visbench/image.h"
#include "visbench/taxonomy.h"

typedef struct vb_traindata {
    const float *X;
    size_t n, d;
    const int *y;
    int n_classes;
    /* Optional validation rows (early stopping, monitoring). */
    const float *Xval;
    const int *yval;
    size_t n_val;
    vb_shape shape; /* image shape of a row (c*h*w == d) when known, else zeros */
    uint64_t seed;
    const char *name; /* the pipeline, for progress and log lines (may be NULL) */
    /* Multilabel data: label sets, n x n_classes and n_val x n_classes bytes
     * (0/1); y and yval then hold each row's first label (or 0). NULL for
     * single-label data. */
    const uint8_t *Y, *Yval;
    /* Hierarchical data: the taxonomy whose leaves are the n_classes
     * classes (y are leaves). NULL otherwise. */
    const vb_taxonomy *tax;
    /* Augmented rows: rows [n_orig, n) are augmented copies of row
     * r % n_orig (an inner k-fold keeps each with its image); 0 when every
     * row is an image of its own. */
    size_t n_orig;
} vb_traindata;

/* One epoch of an iterative learner (the CNN), for learning curves; NaN
 * where a value was not measured. */
typedef struct vb_epoch {
    double train_loss, train_acc, val_loss, val_acc, lr, seconds;
} vb_epoch;

#endif
