/* Trained models: building, saving and loading whole pipelines.
 *
 * File format (.vbm), all fields fixed-width little-endian:
 *   magic "VBMODEL\0" (8 bytes), u32 format version, str visbench version,
 *   u32 section count, then per section: u32 tag, u64 offset, u64 length,
 *   u32 CRC-32 of its bytes; then the sections; then u32 CRC-32 of every
 *   byte before it. Sections:
 *     HEAD  class names, spec, pipeline and dataset names, creation time,
 *           input shape, feature description
 *     PREP  preprocessing ops: name and canonical parameters each
 *     EXTR  extractors: name, parameters, input shape, fitted state
 *     POST  post-processing steps: name, parameters, input dim, fitted state
 *     CLSF  classifier: name, parameters, trained state
 *     TASK  (format 2) the task kind and, for hierarchical models, the
 *           taxonomy; a reader refuses a task kind it does not know
 *     ENSM  (format 3, an ensemble of pipelines, instead of PREP, EXTR,
 *           POST, CLSF and TASK) u32 method (soft, hard, stacking), u32
 *           member count, each member a whole model file (u64 length,
 *           bytes: its own sections and checksums), u8 weights present and
 *           a f64 weight per member, u8 meta present and the stacking
 *           meta-classifier (name, parameters, trained state)
 *     INFO  (optional) how the model was made, as one JSON object: task,
 *           spec, pipeline configuration, dataset hash and size, split,
 *           fold, seeds, metrics on the fold's test part. Readers skip
 *           sections they do not know, so older ones still load the file.
 * Plug-ins are rebuilt through the same constructors `visbench run` uses,
 * then given their saved state. Models are built by the pipeline engine
 * (vb_train_model in pipeline.h), exactly as `run` fits the pipeline. Files are written to a temporary file and
 * renamed into place.
 */
#ifndef VISBENCH_MODEL_H
#define VISBENCH_MODEL_H

#include "visbench/pipeline.h"
#include "visbench/visbench.h"

/* The newest format this visbench reads and writes: 2 adds the TASK
 * section (u32 task kind, u8 taxonomy present, the taxonomy), written for
 * multilabel and hierarchical models only; single-label models are still
 * written as format 1, which older readers read. 3: ensembles of
 * pipelines (ENSM), written for them only. */
#define VB_MODEL_FORMAT 3

struct vb_model {
    char *spec_name, *pipeline, *dataset, *created, *description;
    int n_classes;
    char **classes;
    vb_shape in; /* the image shape the feature pipeline was built for */
    vb_featpipe *fp;
    vb_postchain *pc;
    vb_classifier *clf;
    char *info;          /* the INFO JSON object, or NULL */
    char *written_by;    /* visbench version that wrote the file (loaded models) */
    size_t sections[8];  /* bytes of HEAD, PREP, EXTR, POST, CLSF, INFO, TASK, ENSM (loaded models) */
    vb_task task;        /* single-label unless a TASK section says otherwise */
    vb_taxonomy *tax;    /* hierarchical models */
    /* An ensemble of pipelines (fp, pc, clf NULL): its members' models,
     * combined by ens_method (vb_ens_method) with weights (NULL: equal) or
     * the stacking meta-classifier. */
    size_t n_members;
    struct vb_model **members;
    int ens_method;
    double *weights;
    vb_classifier *meta;
};

/* Lets the plug-ins below this layer read model files (the cnn extractor
 * runs a saved cnn, the cnn classifier's init_from starts from one): installs
 * the parser they reach through cnn.h (vb_cnn_set_saved_parser).
 * vb_spec_load, vb_spec_parse and vb_model_parse call it; a program that
 * makes those plug-ins from parameters of its own calls it first. */
void vb_model_install_hooks(void);
/* Appends JSON members ("\"k\": v, ...") to the INFO object. */
vb_status vb_model_info_add(vb_model *m, const char *members, vb_error *err);
/* Sets m->description from its parts (after building or loading). */
vb_status vb_model_describe_build(vb_model *m, vb_error *err);
/* Serialises a model into b (the file's bytes). */
vb_status vb_model_serialize(const vb_model *m, vb_buf *b, vb_error *err);
/* Writes a model file atomically. */
vb_status vb_model_save(const vb_model *m, const char *path, vb_error *err);
/* Loads a model from bytes in memory (name is used in messages). */
vb_status vb_model_parse(const void *data, size_t len, const char *name, vb_model **out, vb_error *err);
/* Predicts raw images from a source (preprocessing and extraction in
 * parallel, then one classifier batch). */
vb_status vb_model_predict_src(const vb_model *m, const vb_imgsrc *src, int *labels, float *scores, vb_error *err);
/* Does the model's classifier cluster (kmeans, gmm in cluster mode)? */
int vb_model_clusters(const vb_model *m);
/* As vb_model_predict_src / _files, and each image's cluster into
 * clusters (n; a model that does not cluster is an error). */
vb_status vb_model_predict_src_ex(const vb_model *m, const vb_imgsrc *src, int *labels, float *scores, int *clusters,
                                  vb_error *err);
vb_status vb_model_predict_files_ex(const vb_model *m, const char *const *paths, size_t n, int *labels, float *scores,
                                    int *clusters, vb_error *err);

/* As vb_model_predict_src_ex, and for a multilabel model each image's
 * label set into sets (n x n_classes bytes; NULL: not wanted) with the
 * per-label scores in scores. */
vb_status vb_model_predict_src_sets(const vb_model *m, const vb_imgsrc *src, int *labels, float *scores,
                                    int *clusters, uint8_t *sets, vb_error *err);
vb_status vb_model_predict_files_sets(const vb_model *m, const char *const *paths, size_t n, int *labels,
                                      float *scores, uint8_t *sets, vb_error *err);

#endif
