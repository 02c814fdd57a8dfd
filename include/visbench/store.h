/* The results store: one SQLite file per experiment spec
 * (results/<spec name>.db by default).
 *
 * Tables (see the README for the columns): experiments, classes, folds,
 * samples (each sample's source file), runs, metrics, class_metrics,
 * confusion, predictions, clusters (mode: cluster), curves.
 *
 * An experiment is identified by (spec name, split hash). Within it a run
 * is one (pipeline, fold), stored with a hash of the pipeline's
 * configuration: when the configuration changes, the old run is replaced.
 *
 * Resume and concurrency: a process *claims* a run (status 'running',
 * owner host:pid:start-time) in an immediate transaction, computes it,
 * then writes every row of its results in one transaction. A run that is
 * done is never redone; a claim whose owner has died (Ctrl-C, kill -9,
 * power loss) is taken over; a claim by a live process is left to it. So
 * an interrupted run resumes where it stopped, and two processes on one
 * store share the work without corrupting or losing rows.
 */
#ifndef VISBENCH_STORE_H
#define VISBENCH_STORE_H

#include "visbench/run.h"
#include "visbench/split.h"

/* The spec is only passed through (its name, text and hash are recorded). */
typedef struct vb_spec vb_spec;

typedef struct vb_store vb_store;

/* 4: folds of kind repeated-holdout, loo and curve (the folds table's CHECK).
 * 3: the task (multilabel, hierarchical), label sets in predictions, the
 * taxonomy and a confusion matrix per level.
 * 2: per-run provenance (host, threads, version, compiler, CPU, times) in
 * the runs, not the experiment. A store of another version is refused with
 * a message saying what to do; nothing converts one. */
#define VB_STORE_SCHEMA_VERSION 4

/* Opens or creates a store. readonly opens an existing file without
 * writing (for reports). */
vb_status vb_store_open(const char *path, int readonly, vb_store **out, vb_error *err);
void vb_store_close(vb_store *s);
/* Removes a store file (closed) with its -wal and -shm: one this process
 * created and could not fill (a failed merge, a full disk). */
void vb_store_remove(const char *path);
const char *vb_store_path(const vb_store *s);

/* Finds or creates the experiment of (spec, split) and records the spec
 * text, dataset, split, classes and where each sample came from. Only what is true of the experiment:
 * where and how each run ran is in its run (vb_store_save_run). */
vb_status vb_store_experiment(vb_store *s, const vb_spec *spec, const vb_dataset *ds, const vb_split *split,
                              int64_t *id, vb_error *err);

typedef enum vb_claim {
    VB_CLAIM_RUN,  /* this process runs it */
    VB_CLAIM_DONE, /* finished earlier (or failed, unless retrying) */
    VB_CLAIM_BUSY  /* another live process is running it */
} vb_claim;

/* Decides who runs (pipeline, fold) and claims it for this process when
 * nobody else may. config identifies the pipeline's configuration. */
vb_status vb_store_claim(vb_store *s, int64_t exp, const char *pipeline, size_t pipeline_index, const char *fold,
                         size_t fold_index, const char *config, int retry_failed, vb_claim *out, vb_error *err);
/* Gives a claim back (the run was interrupted). */
vb_status vb_store_release(vb_store *s, int64_t exp, const char *pipeline, const char *fold, vb_error *err);
/* Writes a finished run (claimed by this process) in one transaction, with
 * its provenance: r->started and r->finished when set (else the claim's
 * time and now), r->threads when set (else unknown, NULL), and this
 * process's host, visbench version, compiler and CPU. */
vb_status vb_store_save_run(vb_store *s, int64_t exp, const vb_run_result *r, vb_error *err);
vb_status vb_store_save_failure(vb_store *s, int64_t exp, const char *pipeline, const char *fold, const char *msg,
                                vb_error *err);

/* ---- reading ----------------------------------------------------------- */

typedef struct vb_store_epoch {
    double train_loss, train_acc, val_loss, val_acc, lr, seconds;
} vb_store_epoch;

typedef struct vb_store_run {
    int64_t id;
    char *pipeline, *fold, *status, *error;
    int fold_index, pipeline_index;
    char *config, *params, *grid, *features, *model_info;
    int proba, features_shared;
    size_t n_train, n_val, n_test, dim, peak_rss_kb, model_bytes;
    double extract_s, postprocess_s, tune_s, train_s, predict_s;
    size_t n_metrics;
    char **metric_names;
    double *metric_values;
    double *precision, *recall, *f1, *auc; /* n_classes each, for done runs */
    size_t *support;
    size_t *confusion;                     /* n_classes^2 */
    size_t n_pred;                         /* predictions (when loaded) */
    size_t *sample;
    int *truth, *pred;
    float *scores;                         /* n_pred x n_classes */
    size_t n_epochs;
    vb_store_epoch *epochs;
    vb_fold_kind fold_kind; /* from the folds table: what the fold is */
    int fold_repeat;        /* repeat of a repeated k-fold (1-based), else 0; curve: its fold (1-based) */
    int fold_number;        /* the fold's number; curve: the fraction of the training part, per mille */
    /* provenance; NULL / 0 when unknown */
    char *started, *finished; /* ISO 8601 UTC */
    char *host, *version, *compiler, *cpu;
    int threads;
    /* multilabel, with predictions: the label sets (n_pred x n_classes
     * bytes each), NULL otherwise */
    uint8_t *truth_sets, *pred_sets;
    /* hierarchical: the confusion matrices per level as rows (level, true
     * node, predicted node, count) */
    size_t n_level_conf;
    int *lc_level, *lc_true, *lc_pred;
    size_t *lc_count;
} vb_store_run;

typedef struct vb_store_exp {
    int64_t id;
    char *name, *spec_text, *spec_hash, *dataset, *dataset_hash, *protocol, *split_hash;
    char *pool; /* what holdout and kfold drew from: "train" or "all" (vb_pool_name) */
    uint64_t seed;
    char *created, *updated; /* first recorded; last spec change or run written */
    int n_classes;
    char **classes;
    char *task;       /* vb_task_name */
    vb_taxonomy *tax; /* hierarchical experiments, else NULL */
    size_t n_runs;
    vb_store_run *runs; /* ordered by the pipeline's place in the spec, then fold index */
    /* learning-curve runs (folds of kind curve), kept out of runs */
    size_t n_curve_runs;
    vb_store_run *curve_runs;
} vb_store_exp;

/* One line of the store's table of contents (vb_store_list). */
typedef struct vb_store_exp_info {
    int64_t id;
    char *name, *dataset, *protocol, *split_hash, *created, *updated;
    char *spec_hash; /* which spec wrote it (two shards of one experiment agree) */
    size_t n_runs, n_done, n_failed; /* n_runs - done - failed are running or interrupted */
} vb_store_exp_info;

/* mode: cluster: every stored assignment of experiment exp as CSV rows
 * pipeline,fold,sample,part,file,item,cluster (file and item say where the
 * sample came from; the part is the dataset's official part, if any). */
vb_status vb_store_clusters_csv(vb_store *s, int64_t exp, vb_buf *b, vb_error *err);

/* Every experiment of the store, by id. */
vb_status vb_store_list(vb_store *s, vb_store_exp_info **out, size_t *n, vb_error *err);
void vb_store_list_free(vb_store_exp_info *list, size_t n);

/* Loads an experiment (id 0 = the most recent) with its runs; predictions
 * and scores too when with_predictions. */
vb_status vb_store_load(vb_store *s, int64_t id, int with_predictions, vb_store_exp **out, vb_error *err);
void vb_store_exp_free(vb_store_exp *e);
/* By the folds' kinds, never by their names:
 * - is the run a single evaluation (a holdout or official-test fold), not
 *   one of several folds whose scores are averaged (cv, repeat,
 *   repeated-holdout, loo)?
 * - is it a fold of the first (or only) repetition: the folds whose pooled
 *   test sets hold each pool sample at most once (cv, loo, the first
 *   repeat of a repeated k-fold: exactly once; the first draw of a
 *   repeated holdout: its one test set)?
 * - is it a resampled estimate the corrected resampled t-test (Nadeau and
 *   Bengio) compares fold by fold: cv, repeat and repeated-holdout, not loo
 *   (one test sample a fold: pipelines are compared by McNemar on the
 *   pooled predictions instead)? */
int vb_store_run_is_test(const vb_store_run *r);
int vb_store_run_first_repetition(const vb_store_run *r);
int vb_store_run_resampled(const vb_store_run *r);
/* The test predictions of the finished run (pipeline, fold) of experiment
 * exp, in the order of test (n dataset indices) with k classes: labels (n)
 * and scores (n x k), malloc'ed, and whether they are probabilities. Both
 * NULL when there is no such finished run, or its test samples or scores
 * are not these (an ensemble then fits its member again). */
vb_status vb_store_run_predictions(vb_store *s, int64_t exp, const char *pipeline, const char *fold,
                                   const size_t *test, size_t n, int k, int **labels, float **scores, int *proba,
                                   vb_error *err);
/* Value of a named metric of a run, NaN when absent. */
double vb_store_metric(const vb_store_run *r, const char *name);


/* ---- joining stores: visbench merge (Slurm shards) and MPI ranks ------ */

/* What a merge did, run by run. */
typedef struct vb_merge_report {
    size_t added;      /* runs new to the destination */
    size_t replaced;   /* a failed run or an unfinished claim there, replaced by a finished run */
    size_t same;       /* already there with identical results (merging again changes nothing) */
    size_t kept;       /* a failed or unfinished run of a source, where the destination has it finished */
    size_t unfinished; /* claimed in a source but never finished there (not copied) */
    size_t experiments_added;
} vb_merge_report;

/* Checks, without writing anything, that the n store files can be merged:
 * each is a visbench store of this schema, and all hold the same
 * experiments, identified by (name, split hash), with the same spec hash.
 * The message names both files and what differs (spec or split). */
vb_status vb_store_merge_check(const char *const *paths, size_t n, vb_error *err);

/* Joins the runs of the n store files into s in one transaction: on any
 * failure s is unchanged. An experiment s lacks is copied whole (its
 * classes, folds, samples, taxonomy); one s holds must agree on its spec
 * hash. A run finished in a source and finished in s must have identical
 * results (configuration, metrics, predictions), else VB_ERR_DATA naming
 * the run and both files; timings and provenance may differ. Idempotent. */
vb_status vb_store_merge_files(vb_store *s, const char *const *paths, size_t n, vb_merge_report *rep,
                               vb_error *err);

/* MPI: the finished run (pipeline, fold) of experiment exp as one
 * self-contained SQLite image (sqlite3_serialize) holding the experiment's
 * identity and the run's rows, malloc'ed into *blob. With drop, the run is
 * deleted from s afterwards (a worker's scratch store stays small). */
vb_status vb_store_export_run(vb_store *s, int64_t exp, const char *pipeline, const char *fold, int drop,
                              unsigned char **blob, size_t *len, vb_error *err);
/* Writes an image of vb_store_export_run into experiment exp of s, in one
 * transaction, replacing this process's claim of the run (the run's
 * provenance is the worker's). The image's experiment must be exp's (name,
 * spec hash, split hash), else VB_ERR_DATA. */
vb_status vb_store_import_run(vb_store *s, int64_t exp, const unsigned char *blob, size_t len, vb_error *err);

#endif
