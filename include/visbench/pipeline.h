/* Running pipelines: the feature pipeline (preprocessing and extractors),
 * the post-processing chain, and the experiment runner that takes every
 * pipeline of a spec through every fold of a split.
 *
 * Every pipeline of a spec sees the same split. Within a fold, pipelines
 * with the same preprocessing and extractors share one extraction: the
 * extractors' fit seed depends on the feature configuration, not on the
 * pipeline, so sharing changes no number.
 */
#ifndef VISBENCH_PIPELINE_H
#define VISBENCH_PIPELINE_H

#include "visbench/run.h"
#include "visbench/spec.h"

/* ---- image sources ----------------------------------------------------- */

typedef struct vb_dataset_view {
    const vb_dataset *ds;
    const size_t *idx;
} vb_dataset_view;

/* An image source over ds samples idx[0..n) (view must outlive src). */
void vb_imgsrc_dataset(vb_imgsrc *src, vb_dataset_view *view, const vb_dataset *ds, const size_t *idx, size_t n);

/* ---- feature pipeline: preprocessing + extractors ---------------------- */

typedef struct vb_featpipe {
    vb_prep_chain prep;
    vb_shape shape; /* image shape after preprocessing: what the extractors get */
    size_t n_ext;
    vb_extractor **ext;
    size_t *offset; /* start of each extractor's part of a row */
    size_t dim;
} vb_featpipe;

/* Creates the extractors for input images of shape in (w = h = 0 when sizes
 * vary: then preprocessing must fix them). */
vb_status vb_featpipe_new(const vb_spec_pipeline *sp, vb_shape in, vb_featpipe **out, vb_error *err);
/* The same for a model file's pipeline: states[i] reads extractor i's
 * saved state, which builds the extractors that restore from it alone
 * (vt->restore); the others are created, their states the caller's to
 * load. */
vb_status vb_featpipe_new_saved(const vb_spec_pipeline *sp, vb_shape in, vb_reader *states, vb_featpipe **out,
                                vb_error *err);
void vb_featpipe_free(vb_featpipe *fp);
int vb_featpipe_needs_fit(const vb_featpipe *fp);
/* Fits the extractors that learn (codebooks) on raw training images. */
vb_status vb_featpipe_fit(vb_featpipe *fp, const vb_imgsrc *raw, uint64_t seed, vb_error *err);
/* Extracts n x dim features from raw images, in parallel (an extractor
 * that batches gets blocks of VB_EXT_BATCH images in order). Images whose
 * preprocessed size differs from fp->shape are resized to it (and their
 * channels converted), so a model takes images of any size. */
vb_status vb_featpipe_extract(const vb_featpipe *fp, const vb_imgsrc *raw, float *out, const char *stage,
                              vb_error *err);
/* The same, with `copies` augmented copies of each image after the images
 * themselves: out holds n (1 + copies) rows, copy c (1..copies) of image
 * i in row c n + i, made from the preprocessed image with a draw seeded by
 * vb_seed_derive(vb_seed_derive(seed, "augment-image", i), "copy", c): the
 * same rows at any thread count. */
vb_status vb_featpipe_extract_augmented(const vb_featpipe *fp, const vb_imgsrc *raw, const vb_augment *aug,
                                        int copies, uint64_t seed, float *out, const char *stage, vb_error *err);
/* "hog 1519 + raw 784" */
void vb_featpipe_describe(const vb_featpipe *fp, vb_buf *b);
/* Canonical text of the preprocessing and extractor configuration: what
 * the extractors are fitted with (their seed derives from it). */
void vb_featpipe_key(const vb_spec_pipeline *sp, vb_buf *b);
/* The same as a malloc'ed string (NULL and err set when out of memory). */
char *vb_featpipe_key_dup(const vb_spec_pipeline *sp, vb_error *err);
/* The key of a fold's feature rows: the feature configuration and the
 * training rows' augmentation (" augment: {...}" when the pipeline has
 * one). The feature cache and the plan share extractions by it. */
void vb_rows_key(const vb_spec_pipeline *sp, vb_buf *b);
char *vb_rows_key_dup(const vb_spec_pipeline *sp, vb_error *err);

/* The canonical configuration text of a whole pipeline (preprocessing,
 * extractors, post-processing, classifier with its grid): a run is redone
 * when it changes. */
void vb_pipeline_config(const vb_spec_pipeline *sp, vb_buf *b);

/* ---- post-processing chain --------------------------------------------- */

typedef struct vb_postchain {
    size_t n;
    vb_post **post;
    size_t dim_in, dim;
} vb_postchain;

vb_status vb_postchain_new(const vb_spec_pipeline *sp, size_t dim_in, vb_postchain **out, vb_error *err);
void vb_postchain_free(vb_postchain *pc);
/* Fits each step on the training rows as transformed by the steps before
 * it; *out receives the transformed training rows (n x dim, malloc'ed).
 * A step whose size is only known once fitted (pca by variance) updates
 * its dim, the later steps are rebuilt for it, and pc->dim is final. */
vb_status vb_postchain_fit(vb_postchain *pc, const float *X, size_t n, float **out, vb_error *err);
/* Transforms rows (n x dim_in) into a new n x dim matrix. With no steps,
 * *out is a copy. */
vb_status vb_postchain_apply(const vb_postchain *pc, const float *X, size_t n, float **out, vb_error *err);

/* ---- the experiment runner --------------------------------------------- */

enum { VB_RUN_DONE = 0, VB_RUN_IT = 1, VB_RUN_BUSY = 2 };

typedef struct vb_run_sink {
    void *user;
    /* Optional: should this process run (pipeline, fold)? Sets *run to
     * VB_RUN_IT (a results store claims the run for this process), to
     * VB_RUN_DONE for a run that finished earlier, or to VB_RUN_BUSY for one
     * another live process is running: the runner asks again about those
     * once it has done everything else, about once a second, until each is
     * done or can be taken over (its holder died). */
    vb_status (*claim)(void *user, const vb_spec_pipeline *sp, const vb_fold *fold, size_t fold_index, int *run,
                       vb_error *err);
    /* Optional: a claimed run was interrupted; give it back. */
    void (*release)(void *user, const char *pipeline, const char *fold);
    /* A finished run. A failing sink stops the experiment. */
    vb_status (*on_result)(void *user, const vb_run_result *r, vb_error *err);
    /* A run that failed (others go on). */
    void (*on_failure)(void *user, const char *pipeline, const char *fold, const vb_error *e);
    /* Optional: the stored test predictions of a finished run of
     * (pipeline, fold), for an ensemble of it: labels (n_test) and scores
     * (n_test x n_classes), malloc'ed, in the fold's test order; both NULL
     * when the run is not stored. */
    vb_status (*scores)(void *user, const char *pipeline, const vb_fold *fold, int n_classes, int **labels,
                        float **scores, int *proba, vb_error *err);
} vb_run_sink;

typedef struct vb_run_opts {
    const char *only; /* run only this pipeline (NULL = all) */
    /* run job (fold f, pipeline i) only where mask[f * n_pipelines + i]
     * is set (NULL = all): a shard of the plan (plan.h) */
    const unsigned char *mask;
} vb_run_opts;

/* ---- the engine: one pipeline fitted on one fold (src/pipeline/fit.c) ---
 *
 * run, train and features all fit through these, so one spec, fold and
 * seed give one model. Seeds: extractors vb_seed_derive(spec seed, feature
 * configuration, fold index), classifier vb_seed_derive(spec seed, pipeline
 * name, fold index). */

/* The image shape extractors are built for on ds (mixed grey and colour
 * datasets extract in colour). */
vb_shape vb_dataset_input_shape(const vb_dataset *ds);
/* The image shape of a feature row when rows are the preprocessed images
 * themselves (one VB_EXT_IMAGE_ROWS extractor, no post-processing), else
 * zeros: what image classifiers (the CNN) need. */
vb_shape vb_pipeline_row_shape(const vb_featpipe *fp, const vb_postchain *pc);
/* Wall-clock seconds since the Unix epoch (provenance, not timing). */
double vb_wall_clock(void);

enum { VB_ROWS_TRAIN, VB_ROWS_VAL, VB_ROWS_TEST };

/* The features of one fold for one feature configuration (shared by the
 * pipelines that have it). */
typedef struct vb_fold_features {
    char *key;        /* vb_rows_key */
    vb_featpipe *fp;  /* fitted on the fold's training images */
    float *X[3];      /* raw feature rows of train, validation, test (NULL when none) */
    size_t n[3];
    int copies;       /* augmented copies of each training image: n[VB_ROWS_TRAIN] = n_train (1 + copies) */
    double extract_s; /* fitting + extraction */
} vb_fold_features;

/* Builds sp's feature pipeline, fits it on fold's training images and
 * extracts the training and validation rows, and the test rows when
 * with_test. A pipeline with an augment block gets each training image's
 * augmented copies as training rows too, after the images themselves
 * (vb_featpipe_extract_augmented, seeded by vb_seed_derive(spec seed,
 * vb_rows_key, fold index)); the extractors are fitted on the images
 * alone, and validation and test rows are never augmented. */
vb_status vb_fit_features(const vb_spec *spec, const vb_spec_pipeline *sp, const vb_dataset *ds, const vb_fold *fold,
                          size_t fold_index, int with_test, vb_fold_features *out, vb_error *err);
void vb_fold_features_free(vb_fold_features *ff);
/* The dataset index of each of ff's training rows (ff->n[VB_ROWS_TRAIN]
 * of them: the fold's training images, then each copy of them), for their
 * labels; malloc'ed. */
size_t *vb_fold_train_rows(const vb_fold *fold, const vb_fold_features *ff, vb_error *err);

/* Fits sp's post-processing on the training rows of ff; *Xtr and *Xval
 * (when Xval is not NULL and there are validation rows) get the
 * transformed rows. */
vb_status vb_fit_postprocess(const vb_spec_pipeline *sp, const vb_fold_features *ff, vb_postchain **pc, float **Xtr,
                             float **Xval, vb_error *err);

typedef struct vb_fitted {
    vb_postchain *pc;
    vb_classifier *clf;
    char *grid;   /* the chosen grid point, or NULL */
    size_t point; /* the classifier grid's point chosen */
    double score; /* its tuning score (validation or inner k-fold), NaN when nothing was tuned */
    double post_s, tune_s, train_s;
} vb_fitted;

/* Fits post-processing and the classifier (tuning its grid) on the fold's
 * training rows, with ff from vb_fit_features on the same fold. With
 * score_one, a classifier without a grid is scored too (out->score), as
 * one point of a feature grid. */
vb_status vb_fit_pipeline(const vb_spec *spec, const vb_spec_pipeline *sp, const vb_dataset *ds, const vb_fold *fold,
                          size_t fold_index, const vb_fold_features *ff, int score_one, vb_fitted *out,
                          vb_error *err);
void vb_fitted_free(vb_fitted *f);

/* The features of one fold, each feature configuration extracted once for
 * every pipeline and feature variant that has it (with_test: the test rows
 * too). A failed extraction stays failed for all who ask. */
typedef struct vb_feat_cache vb_feat_cache;
vb_feat_cache *vb_feat_cache_new(int with_test, vb_error *err);
/* Forgets every entry (the next fold). */
void vb_feat_cache_clear(vb_feat_cache *c);
void vb_feat_cache_free(vb_feat_cache *c);
/* The features of (a variant) sp on the fold: from the cache or extracted
 * now; *users counts the asks this configuration has served (1: the first). */
vb_status vb_feat_cache_get(vb_feat_cache *c, const vb_spec *spec, const vb_spec_pipeline *sp, const vb_dataset *ds,
                            const vb_fold *fold, size_t fold_index, const vb_fold_features **out, int *users,
                            vb_error *err);
/* Distinct extractions made, and the asks they served. */
void vb_feat_cache_stats(const vb_feat_cache *c, size_t *extractions, size_t *uses);
/* Takes the feature pipeline out of an entry (for a model). */
vb_featpipe *vb_feat_cache_take_fp(vb_feat_cache *c, const vb_fold_features *ff);

/* Fits sp on the fold choosing the best point of its whole grid: each
 * feature variant's features from the cache, post-processing and the
 * classifier's grid scored on the validation part (or by inner k-fold);
 * the first best wins ties. *ff: the chosen variant's features; out->grid:
 * the chosen point ("hog.cell=6, C=10"); *shared: those features served
 * another pipeline too; *extract_s: the extraction time of every variant.
 * run and train both fit through here, so they choose alike. */
vb_status vb_fit_best(const vb_spec *spec, const vb_spec_pipeline *sp, const vb_dataset *ds, const vb_fold *fold,
                      size_t fold_index, vb_feat_cache *cache, const vb_fold_features **ff, int *shared,
                      double *extract_s, vb_fitted *out, vb_error *err);

/* The whole pipeline fitted on fold (its training part; the validation
 * part tunes a grid) as a model: exactly what `run` evaluated on that
 * fold. fold_index is the fold's place in the split (for a fold made
 * outside it, such as the whole pool, one past the last). */
struct vb_model;
vb_status vb_train_model(const vb_spec *spec, const vb_spec_pipeline *sp, const vb_dataset *ds, const vb_fold *fold,
                         size_t fold_index, struct vb_model **out, vb_error *err);

/* Checks that every pipeline can be built for ds (shapes, parameters)
 * before any work starts. */
vb_status vb_experiment_check(const vb_spec *spec, const vb_dataset *ds, const vb_run_opts *opts, vb_error *err);
/* Runs the pipelines through the folds. *n_failed counts failed runs;
 * the return value is an error only for problems that stop everything. */
vb_status vb_experiment_run(const vb_spec *spec, const vb_dataset *ds, const vb_split *split,
                            const vb_run_opts *opts, const vb_run_sink *sink, size_t *n_failed, vb_error *err);
/* Runs pipelines[0..n) (indices into spec->pipelines) on one fold of the
 * split, sharing one feature extraction among those with the same
 * features: one group of a plan (plan.h), as an MPI worker runs it. Claims
 * through the sink like vb_experiment_run; a run the claim calls done or
 * busy is skipped, not waited for. The caller checked the experiment
 * (vb_experiment_check). */
vb_status vb_experiment_run_group(const vb_spec *spec, const vb_dataset *ds, const vb_split *split, size_t fold_index,
                                  const size_t *pipelines, size_t n, const vb_run_sink *sink, size_t *n_failed,
                                  vb_error *err);

/* Training helper shared by the runner and `visbench train`. Without a
 * grid it trains once. With a grid (a parameter listing values) it scores
 * every point by the pipeline's tune.metric, on the validation rows
 * (tune.folds = 0) or by a stratified inner k-fold of the training rows
 * (tune.folds = k), keeps the best (the first on ties), warns when a best
 * numeric value lies on the edge of its grid, and returns the classifier
 * trained on the training rows, with what it chose in *tuned. score_one
 * scores a single point too (one variant of a feature grid), and leaves
 * the edge-of-grid warning to the caller. */
typedef struct vb_tuned {
    char *grid;    /* the chosen point ("C=10"), NULL without a grid */
    size_t point;  /* its index in the classifier's grid */
    double score;  /* its score, NaN without a grid */
    double tune_s; /* time spent choosing */
} vb_tuned;
vb_status vb_train_classifier(const vb_spec_pipeline *sp, const vb_traindata *td, int score_one, vb_classifier **out,
                              vb_tuned *tuned, vb_error *err);
/* tune.folds of a pipeline (0 = the validation part). */
int vb_tune_folds(const vb_spec_pipeline *sp);

#endif
