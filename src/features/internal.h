/* Helpers shared by the feature plug-ins (not part of the public API):
 *
 *   - vbf_pca_eig_gsl: the GSL reference for vb_pca_eig (core/linalg.h), which
 *     the `pca` step and the descriptor PCA of `sift` use;
 *   - vbf_enc: local-descriptor encoders (bag of visual words, VLAD, Fisher
 *     vectors) with spatial pyramid pooling, fitted on sampled descriptors.
 */
#ifndef VB_FEATURES_INTERNAL_H
#define VB_FEATURES_INTERNAL_H

#include "visbench/features.h"

#include "../core/linalg.h" /* vb_pca_eig, shared with the classifiers */

/* ---- principal components ---------------------------------------------- */

/* The reference solver (GSL gsl_eigen_symmv) on the same covariance; the
 * tests compare vb_pca_eig against it. Same outputs and conventions. */
vb_status vbf_pca_eig_gsl(const float *X, size_t n, size_t d, double **mean, double **values, double **vectors,
                          vb_error *err);

/* ---- descriptor encoders ----------------------------------------------- */

typedef enum { VBF_ENC_BOVW, VBF_ENC_VLAD, VBF_ENC_FISHER } vbf_enc_kind;
typedef enum { VBF_NORM_NONE, VBF_NORM_L1, VBF_NORM_L2, VBF_NORM_INTRA, VBF_NORM_MASS } vbf_norm;

#define VBF_MAX_LEVELS 8

typedef struct vbf_enc_conf {
    vbf_enc_kind kind;
    size_t words;          /* codebook size, or Gaussian components for Fisher */
    size_t d_in;           /* descriptor dimension */
    size_t d_pca;          /* 0: no descriptor PCA; else project to this many dimensions */
    int soft;              /* BoVW / VLAD: soft (kernel codebook) assignment */
    size_t knn;            /* soft: share each descriptor among its knn nearest words (0 = all) */
    double sigma;          /* soft: kernel width; <= 0 = fitted (RMS distance to the nearest word) */
    int sqrt;              /* signed square root of each cell's encoding */
    vbf_norm norm;         /* per-cell normalisation (then over the whole pyramid) */
    int kmeans_algorithm;  /* VlKMeansAlgorithm */
    int kmeans_iters, gmm_iters;
    size_t n_levels;
    size_t grid[VBF_MAX_LEVELS]; /* pyramid levels: grid sides (1 = whole image) */
} vbf_enc_conf;

typedef struct vbf_enc vbf_enc;
typedef struct vbf_enc_scratch vbf_enc_scratch;

/* Checks the configuration (message names the parameter through `what`,
 * e.g. "sift") and builds an unfitted encoder. */
vb_status vbf_enc_new(const vbf_enc_conf *conf, const char *what, vbf_enc **out, vb_error *err);
void vbf_enc_free(vbf_enc *e);
size_t vbf_enc_dim(const vbf_enc *e);
int vbf_enc_fitted(const vbf_enc *e);

/* Learns the descriptor PCA, then the k-means codebook (k-means++
 * initialisation) and, for Fisher vectors, a diagonal GMM initialised from
 * it, from n descriptors X (n x d_in). VLFeat draws its random numbers from
 * the calling thread's VlRand, which is seeded from `seed` for the fit and
 * restored afterwards. Refits replace the previous state. */
vb_status vbf_enc_fit(vbf_enc *e, const float *X, size_t n, uint64_t seed, vb_error *err);

/* Per-thread buffers for vbf_enc_encode (NULL when out of memory). */
vbf_enc_scratch *vbf_enc_scratch_new(const vbf_enc *e);
void vbf_enc_scratch_free(vbf_enc_scratch *s);

/* Encodes n descriptors X (n x d_in) with positions pos (n x 2, (x, y)
 * scaled to [0, 1) by the image size) into out (vbf_enc_dim floats): the
 * cells of every pyramid level in order (level by level, rows of cells top
 * to bottom), each cell's encoding computed from the descriptors inside it.
 * n may be 0 (all zeros). VB_ERR_STATE before fit. */
vb_status vbf_enc_encode(const vbf_enc *e, vbf_enc_scratch *s, const float *X, const float *pos, size_t n,
                         float *out, vb_error *err);

/* Fitted state: the descriptor PCA, the soft-assignment width, the
 * codebook and the GMM. Load checks the stored sizes against the
 * configuration and rejects truncated or inconsistent input with
 * VB_ERR_FORMAT. */
vb_status vbf_enc_save(const vbf_enc *e, vb_writer *w, vb_error *err);
vb_status vbf_enc_load(vbf_enc *e, vb_reader *r, vb_error *err);

#endif
