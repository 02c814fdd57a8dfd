/* Splits: which samples train, validate and test each fold. Seeded,
 * stratified, written to a file beside the results, read back, and
 * identified by a hash, so every pipeline of a spec sees the same samples.
 *
 * Protocols
 *   holdout        one stratified train/test split of all samples (test_fraction)
 *   official-test  the dataset's own train and test parts
 *   kfold          stratified k folds (repeated `repeats` times) of the training
 *                  pool: the official training part when the dataset has one,
 *                  else all samples; with official_test, one more fold trains on
 *                  the whole pool and tests on the official test part.
 * Then, for every fold: train_limit subsamples the training pool (for kfold,
 * before folding), test_limit subsamples the test side, and validation
 * carves a stratified fraction out of each training set.
 */
#ifndef VISBENCH_SPLIT_H
#define VISBENCH_SPLIT_H

#include "visbench/data.h"

typedef enum vb_protocol { VB_PROTO_HOLDOUT, VB_PROTO_OFFICIAL, VB_PROTO_KFOLD } vb_protocol;

typedef struct vb_split_conf {
    vb_protocol protocol;
    double test_fraction; /* holdout */
    int k;                /* kfold */
    int repeats;          /* kfold */
    int official_test;    /* kfold: add a fold on the official test part */
    double validation;    /* fraction of each training set held out for tuning */
    size_t train_limit;   /* 0 = no limit */
    size_t test_limit;    /* 0 = no limit */
    uint64_t seed;
} vb_split_conf;

extern const vb_split_conf vb_split_conf_default;

typedef struct vb_fold {
    char name[32]; /* "holdout", "test", "fold3", "r2-fold3" */
    size_t *train, n_train;
    size_t *val, n_val;
    size_t *test, n_test;
} vb_fold;

typedef struct vb_split {
    vb_split_conf conf;
    size_t n_samples;
    uint64_t data_hash;
    size_t n_folds;
    vb_fold *folds;
    uint64_t hash; /* over the data hash and every index list */
} vb_split;

const char *vb_protocol_name(vb_protocol p);
int vb_protocol_parse(const char *s, vb_protocol *p);

/* Builds the split of ds. Fails with a message for impossible requests
 * (no official test part, a class smaller than k, limits below the class
 * count). */
vb_status vb_split_make(const vb_split_conf *conf, const vb_dataset *ds, vb_split **out, vb_error *err);
void vb_split_free(vb_split *s);
/* Writes the split as text (atomically). */
vb_status vb_split_save(const vb_split *s, const char *path, vb_error *err);
/* Reads a split file; the stored hash must match the contents. */
vb_status vb_split_load(const char *path, vb_split **out, vb_error *err);
/* Assigns n labelled rows (labels in [0, n_classes)) to k folds,
 * stratified: a shuffle seeded by seed, then each class dealt round-robin,
 * so class counts per fold differ by at most one. fold receives n values in
 * [0, k). Used for inner cross-validation (calibration, grid tuning). */
vb_status vb_stratified_folds(const int *y, size_t n, int n_classes, int k, uint64_t seed, int *fold, vb_error *err);

/* Recomputes the hash from the contents. */
uint64_t vb_split_compute_hash(const vb_split *s);
/* The 16 hex digits of the hash. */
void vb_split_hash_text(const vb_split *s, char out[17]);

#endif
