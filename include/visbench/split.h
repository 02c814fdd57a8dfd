/* Splits: which samples train, validate and test each fold. Seeded,
 * stratified, written to a file beside the results, read back, and
 * identified by a hash, so every pipeline of a spec sees the same samples.
 *
 * The pool that every protocol but official-test draws from is the
 * dataset's official training part when it has one (its test part stays
 * unseen), else all samples; `pool: all` makes it every sample of both
 * parts.
 *
 * Protocols
 *   holdout        one stratified train/test split of the pool (test_fraction);
 *                  with repeats R > 1, R independent seeded ones (repeated
 *                  holdout, Monte Carlo cross-validation), folds of kind
 *                  repeated-holdout that are aggregated like CV folds
 *   official-test  the dataset's own train and test parts
 *   kfold          stratified k folds (repeated `repeats` times) of the pool;
 *                  with official_test, one more fold trains on the whole pool
 *                  and tests on the official test part.
 *   group_kfold    k folds of whole groups (vb_dataset.group): no group is
 *                  in two parts of a fold. Groups are dealt the largest first
 *                  (equal sizes in a seeded order); a group goes to a fold
 *                  that still has room for it (at most ceil(n / k) samples),
 *                  the one that most lacks the group's classes (or labels),
 *                  then the smallest, then a seeded draw; when no fold has
 *                  room, to the smallest. Sizes are balanced and classes
 *                  stratified as far as the groups allow; a class can be
 *                  missing from a fold's training part.
 *   loo            leave-one-out: one fold per pool sample, which is its
 *                  test set (kind loo); refused above max_folds samples.
 * Then, for every fold: train_limit subsamples the training pool (for kfold,
 * group_kfold and loo, before folding), test_limit subsamples the test side,
 * and validation carves a stratified fraction out of each training set (for
 * group_kfold, whole groups, dealt as above into two parts).
 *
 * Stratified means by class for single-label data (each class's share
 * within one sample). A multilabel dataset (task multilabel) is stratified
 * on its label sets Y instead, by iterative stratification (Sechidis,
 * Tsoumakas and Vlahavas 2011): every step above is a partition into
 * subsets of given proportions (k equal folds; train / test; the part kept
 * by a limit / the rest; validation / train) that deals each label's
 * images, rarest label first, to the subset that most wants that label,
 * and images without labels to the subset that most wants images. Each
 * label then keeps its share closely (not exactly) and sizes are close to
 * the proportions (exact only when enough images have no label); a label
 * rarer than k is no error, fewer pool images than k is, and a training
 * set is not promised every label.
 */
#ifndef VISBENCH_SPLIT_H
#define VISBENCH_SPLIT_H

#include "visbench/data.h"

typedef enum vb_protocol {
    VB_PROTO_HOLDOUT,
    VB_PROTO_OFFICIAL,
    VB_PROTO_KFOLD,
    VB_PROTO_GROUP_KFOLD,
    VB_PROTO_LOO
} vb_protocol;

/* What a fold is, as data (nothing parses fold names):
 *   holdout        the one split of the holdout protocol
 *   official-test  trains on the pool, tests on the official test part
 *   cv             fold `number` of a k-fold cross-validation
 *                  (and of a group k-fold: its folds too partition the pool)
 *   repeat         fold `number` of repeat `repeat` of a repeated k-fold
 *   pool           the whole pool, nothing held out: what `train` ships when
 *                  no fold is named (never part of a split file)
 *   repeated-holdout  repeat `repeat` of a repeated holdout: one of several
 *                  independent train/test draws, scored like a CV fold
 *   loo            fold `number` of a leave-one-out: one test sample
 *   curve          a learning-curve point: fold `repeat` (1-based) of the
 *                  split with a stratified `number` per mille of its
 *                  training part (its validation and test parts whole);
 *                  never in the leaderboard, only in the learning curve */
typedef enum vb_fold_kind {
    VB_FOLD_HOLDOUT,
    VB_FOLD_OFFICIAL_TEST,
    VB_FOLD_CV,
    VB_FOLD_REPEAT,
    VB_FOLD_POOL,
    VB_FOLD_REPEATED_HOLDOUT,
    VB_FOLD_LOO,
    VB_FOLD_CURVE
} vb_fold_kind;

/* Where every protocol but official-test draws its samples from. */
typedef enum vb_pool { VB_POOL_TRAIN, VB_POOL_ALL } vb_pool;

#define VB_SPLIT_MAX_CURVE 16

typedef struct vb_split_conf {
    vb_protocol protocol;
    double test_fraction; /* holdout */
    int k;                /* kfold, group_kfold */
    int repeats;          /* kfold; holdout: > 1 is a repeated holdout */
    int max_folds;        /* loo: the most folds (pool samples) it accepts */
    int official_test;    /* kfold: add a fold on the official test part */
    double validation;    /* fraction of each training set held out for tuning */
    size_t train_limit;   /* 0 = no limit */
    size_t test_limit;    /* 0 = no limit */
    vb_pool pool;         /* not official-test: the training part (default) or all */
    /* learning_curve: fractions in (0, 1] of each fold's training part,
     * kept per mille; below 1000, each adds a curve fold per fold */
    size_t n_curve;
    int curve[VB_SPLIT_MAX_CURVE];
    uint64_t seed;
} vb_split_conf;

extern const vb_split_conf vb_split_conf_default;

typedef struct vb_fold {
    char name[32]; /* "holdout", "test", "fold3", "r2-fold3", "r4-holdout", "loo17", "pool": for people */
    vb_fold_kind kind;
    /* cv, repeat and loo folds: number 1-based; repeat and repeated-holdout
     * folds: repeat 1-based; 0 otherwise */
    int repeat, number;
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
const char *vb_fold_kind_name(vb_fold_kind k);
int vb_fold_kind_parse(const char *s, vb_fold_kind *k);
const char *vb_pool_name(vb_pool p);
/* The pool a split of ds draws from, as said in run headers: "training part
 * (60000 images)" or "all 70000 images". */
size_t vb_split_pool_size(const vb_split_conf *conf, const vb_dataset *ds);
/* The split's evaluation fold for `train` without --fold: the holdout or
 * official-test fold when the split has exactly one fold, else NULL (cross-
 * validation: train on the whole pool instead). */
const vb_fold *vb_split_single_fold(const vb_split *s);
/* The whole pool of the split as one fold (kind pool: every pool sample
 * trains, validation carved out as in the folds, nothing tests). */
vb_status vb_split_pool_fold(const vb_split_conf *conf, const vb_dataset *ds, vb_fold *out, vb_error *err);
void vb_fold_free(vb_fold *f);
int vb_protocol_parse(const char *s, vb_protocol *p);

/* Builds the split of ds. Fails with a message for impossible requests
 * (no official test part, a class smaller than k or, multilabel, a pool
 * smaller than k, limits below the class count; group_kfold on a dataset
 * without groups or with fewer groups than k; loo on a pool larger than
 * max_folds); VB_ERR_INTERNAL for a multilabel dataset without its label
 * sets Y. */
vb_status vb_split_make(const vb_split_conf *conf, const vb_dataset *ds, vb_split **out, vb_error *err);
/* vb_split_make that also says which split parameter a failure is about
 * ("protocol", "k", "max_folds") when one is, else NULL, so that a caller
 * that knows where the parameters were written can point there
 * (vb_spec_split). */
vb_status vb_split_make_blame(const vb_split_conf *conf, const vb_dataset *ds, vb_split **out, const char **param,
                              vb_error *err);
void vb_split_free(vb_split *s);
/* Writes the split as text (atomically). */
vb_status vb_split_save(const vb_split *s, const char *path, vb_error *err);
/* Reads a split file; the stored hash must match the contents. */
vb_status vb_split_load(const char *path, vb_split **out, vb_error *err);

/* Recomputes the hash from the contents. */
uint64_t vb_split_compute_hash(const vb_split *s);
/* The 16 hex digits of the hash. */
void vb_split_hash_text(const vb_split *s, char out[17]);

#endif
