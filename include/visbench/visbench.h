/* visbench: the C library API for embedding trained models.
 *
 * A model file (.vbm, written by `visbench train`) holds a whole trained
 * pipeline: preprocessing, fitted feature extractors (codebooks, PCA),
 * post-processing, the classifier and the class names. Load it once,
 * predict many times (prediction is thread-safe on one loaded model), free it.
 *
 *     #include <visbench/visbench.h>
 *
 *     vb_error err = {0};
 *     vb_model *m = NULL;
 *     if (vb_model_load("shapes.vbm", &m, &err) != VB_OK) {
 *         fprintf(stderr, "%s\n", err.msg);
 *         return 1;
 *     }
 *     float probs[64];
 *     int label;
 *     if (vb_model_predict_file(m, "cat.png", &label, probs, &err) == VB_OK)
 *         printf("%s (%.2f)\n", vb_model_class_name(m, label), probs[label]);
 *     vb_model_free(m);
 *
 * Build with: cc app.c $(pkg-config --cflags --libs visbench)
 *
 * Errors: every function that can fail returns a vb_status and fills the
 * caller's vb_error (which may be NULL) with one message naming the file
 * and what is wrong. Nothing is printed; nothing exits.
 */
#ifndef VISBENCH_VISBENCH_H
#define VISBENCH_VISBENCH_H

#include "visbench/core.h"
#include "visbench/image.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vb_model vb_model;

/* Loads a model file. Truncated, corrupted, foreign or newer-version files
 * fail with VB_ERR_FORMAT and a message; nothing is allocated from an
 * unchecked length. The caller frees the model with vb_model_free. */
vb_status vb_model_load(const char *path, vb_model **out, vb_error *err) VB_MUST_USE;
void vb_model_free(vb_model *m);

/* Number of classes and their names (0 <= k < n; the model owns the strings). */
int vb_model_n_classes(const vb_model *m);
const char *vb_model_class_name(const vb_model *m, int k);
/* Do the scores of this model sum to 1 (probabilities), or are they
 * decision scores (higher = more likely)? */
int vb_model_has_probabilities(const vb_model *m);
/* One-line description: pipeline name, features, classifier. */
const char *vb_model_describe(const vb_model *m);

/* Predicts one image of any size and format stb_image reads (it goes
 * through the model's own preprocessing). scores receives
 * vb_model_n_classes() values, or pass NULL. */
vb_status vb_model_predict_image(const vb_model *m, const vb_image *img, int *label, float *scores,
                                 vb_error *err) VB_MUST_USE;
vb_status vb_model_predict_file(const vb_model *m, const char *path, int *label, float *scores,
                                vb_error *err) VB_MUST_USE;
/* Predicts n images (decoded and extracted in parallel, classified in one
 * batch). labels receives n values, scores n x n_classes (or NULL). */
vb_status vb_model_predict_files(const vb_model *m, const char *const *paths, size_t n, int *labels,
                                 float *scores, vb_error *err) VB_MUST_USE;

#ifdef __cplusplus
}
#endif

#endif
