/* What the preprocessing ops' files share: the registry in ops.c lists
 * the ops defined in filters.c and equalize.c. */
#ifndef VB_PREPROCESS_INTERNAL_H
#define VB_PREPROCESS_INTERNAL_H

#include "visbench/preprocess.h"

/* The shape hook of an op that keeps its input's shape. */
vb_status vb_prep_same_shape(const vb_params *p, vb_shape in, vb_shape *out, vb_error *err);
/* A parameter of op p set, other than to its default, for a method it
 * does not apply to: the error at it ("denoise.size: applies to method:
 * median only ..."); VB_OK otherwise (a model's canonical text gives the
 * defaults of every parameter). */
vb_status vb_prep_method_only(const vb_params *p, const char *param, const char *method, vb_error *err);

extern const vb_prep_vt vb_prep_equalize; /* equalize.c */
extern const vb_prep_vt vb_prep_blur, vb_prep_sharpen, vb_prep_denoise; /* filters.c */

#endif
