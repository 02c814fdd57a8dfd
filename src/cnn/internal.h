/* Shared by the files of the cnn module only. */
#ifndef VB_CNN_INTERNAL_H
#define VB_CNN_INTERNAL_H

#include "visbench/cnn.h"

#include <math.h>

#define VB_CNN_MAX_LAYERS 256
#define VB_CNN_MAX_UNITS (1 << 20)
#define VB_CNN_MAX_SIDE 4096
#define VB_CNN_MAX_VALUES ((size_t)1 << 31) /* per image, and parameters in all */

/* Default parameters of a layer kind (stride 1, dropout 0.5, pools 2x2, ...). */
void vb_cnn_conf_defaults(vb_cnn_layer_conf *c, vb_cnn_kind kind);
/* Shape inference; fills out[arch->n] when not NULL. */
vb_status vb_cnn_infer(const vb_cnn_arch *arch, vb_shape in, int n_classes, vb_cnn_layer *out, vb_error *err);

/* Standardises rows (n x c*h*w) of net's input into out, per channel, over
 * nthreads OpenMP threads. */
void vb_cnn_standardise(const vb_cnn *net, const float *X, size_t n, float *out, int nthreads);

/* 1 / (1 + e^-z), from e^-|z| <= 1 so that nothing overflows. */
static inline double vb_cnn_sigmoid(double z)
{
    const double e = exp(-fabs(z));
    return z >= 0 ? 1 / (1 + e) : e / (1 + e);
}

#endif
