/* Stratified, seeded splits and their file format. */
#include "visbench/split.h"
#include "internal.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const vb_split_conf vb_split_conf_default = {
    .protocol = VB_PROTO_HOLDOUT, .test_fraction = 0.2, .k = 5, .repeats = 1, .official_test = 0,
    .validation = 0.0, .train_limit = 0, .test_limit = 0, .pool = VB_POOL_TRAIN, .seed = 1,
};

static const char *const kind_names[] = {"holdout", "official-test", "cv", "repeat", "pool"};

const char *vb_fold_kind_name(vb_fold_kind k) { return (unsigned)k < 5 ? kind_names[k] : "?"; }

int vb_fold_kind_parse(const char *s, vb_fold_kind *k)
{
    for (int i = 0; i < 5; i++)
        if (strcmp(s, kind_names[i]) == 0) {
            *k = (vb_fold_kind)i;
            return 1;
        }
    return 0;
}

const char *vb_pool_name(vb_pool p) { return p == VB_POOL_ALL ? "all" : "train"; }

static const char *const proto_names[] = {"holdout", "official-test", "kfold"};

const char *vb_protocol_name(vb_protocol p) { return (unsigned)p < 3 ? proto_names[p] : "?"; }

int vb_protocol_parse(const char *s, vb_protocol *p)
{
    for (int i = 0; i < 3; i++)
        if (strcmp(s, proto_names[i]) == 0) {
            *p = (vb_protocol)i;
            return 1;
        }
    return 0;
}

void vb_fold_free(vb_fold *f)
{
    free(f->train);
    free(f->val);
    free(f->test);
    f->train = f->val = f->test = NULL;
    f->n_train = f->n_val = f->n_test = 0;
}

void vb_split_free(vb_split *s)
{
    if (!s)
        return;
    for (size_t f = 0; s->folds && f < s->n_folds; f++)
        vb_fold_free(&s->folds[f]);
    free(s->folds);
    free(s);
}

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

/* A list of indices. */
typedef struct ilist {
    size_t *v;
    size_t n;
} ilist;

/* Splits `in` by class and draws `m` samples stratified: per-class quotas by
 * the largest-remainder method, members drawn by a seeded shuffle. `keep_one`
 * leaves at least one sample of every class in `rest`. Both outputs are
 * sorted. */
static vb_status strat_take(const ilist *in, const int *labels, int n_classes, size_t m, vb_rng *rng,
                            int keep_one, ilist *taken, ilist *rest, vb_error *err)
{
    taken->v = rest->v = NULL;
    taken->n = rest->n = 0;
    size_t *count = vb_calloc((size_t)n_classes, sizeof *count, err);
    size_t *quota = vb_calloc((size_t)n_classes, sizeof *quota, err);
    double *frac = vb_calloc((size_t)n_classes, sizeof *frac, err);
    size_t *start = vb_calloc((size_t)n_classes + 1, sizeof *start, err);
    size_t *grouped = vb_calloc(in->n, sizeof *grouped, err);
    taken->v = vb_calloc(in->n, sizeof *taken->v, err);
    rest->v = vb_calloc(in->n, sizeof *rest->v, err);
    vb_status st = VB_OK;
    if (!count || !quota || !frac || !start || !grouped || !taken->v || !rest->v) {
        st = VB_ERR_NOMEM;
        goto out;
    }
    if (m > in->n)
        m = in->n;
    for (size_t i = 0; i < in->n; i++)
        count[labels[in->v[i]]]++;
    for (int c = 0; c < n_classes; c++)
        start[c + 1] = start[c] + count[c];
    {
        size_t *fill = vb_calloc((size_t)n_classes, sizeof *fill, err);
        if (!fill) {
            st = VB_ERR_NOMEM;
            goto out;
        }
        for (size_t i = 0; i < in->n; i++) {
            int c = labels[in->v[i]];
            grouped[start[c] + fill[c]++] = in->v[i];
        }
        free(fill);
    }
    size_t given = 0;
    for (int c = 0; c < n_classes; c++) {
        double exact = in->n ? (double)m * (double)count[c] / (double)in->n : 0;
        quota[c] = (size_t)floor(exact);
        frac[c] = exact - floor(exact);
        given += quota[c];
    }
    /* Every class present keeps at least one sample when m allows it, so a
     * small train_limit cannot silently drop a rare class; the extra ones
     * come from the largest quotas. */
    int present = 0;
    for (int c = 0; c < n_classes; c++)
        present += count[c] > 0;
    if (m >= (size_t)present)
        for (int c = 0; c < n_classes; c++)
            if (count[c] > 0 && quota[c] == 0) {
                quota[c] = 1;
                frac[c] = -1;
                given++;
            }
    while (given > m) {
        int big = -1;
        for (int c = 0; c < n_classes; c++)
            if (quota[c] > 1 && (big < 0 || quota[c] > quota[big]))
                big = c;
        if (big < 0)
            break;
        quota[big]--;
        given--;
    }
    while (given < m) { /* largest remainders first; ties to the lower class */
        int best = -1;
        for (int c = 0; c < n_classes; c++)
            if (quota[c] < count[c] && (best < 0 || frac[c] > frac[best]))
                best = c;
        if (best < 0)
            break;
        quota[best]++;
        frac[best] = -1;
        given++;
    }
    for (int c = 0; c < n_classes; c++) {
        if (keep_one && count[c] > 0 && quota[c] == count[c])
            quota[c]--;
        vb_rng_shuffle(rng, grouped + start[c], count[c]);
        for (size_t j = 0; j < count[c]; j++) {
            size_t idx = grouped[start[c] + j];
            if (j < quota[c])
                taken->v[taken->n++] = idx;
            else
                rest->v[rest->n++] = idx;
        }
    }
    qsort(taken->v, taken->n, sizeof *taken->v, cmp_size);
    qsort(rest->v, rest->n, sizeof *rest->v, cmp_size);
out:
    free(count);
    free(quota);
    free(frac);
    free(start);
    free(grouped);
    if (st != VB_OK) {
        free(taken->v);
        free(rest->v);
        taken->v = rest->v = NULL;
    }
    return st;
}

/* ---- multilabel: iterative stratification -------------------------------- */

/* The subset with the largest first[j] (when first is given), ties broken by
 * the largest second[j], then by a seeded draw (the only use of rng). */
static int pick_subset(const int64_t *first, const int64_t *second, int k, int *cand, vb_rng *rng)
{
    int n = 0;
    for (int j = 0; j < k; j++) {
        if (n && first && first[j] < first[cand[0]])
            continue;
        if (n && first && first[j] > first[cand[0]])
            n = 0;
        cand[n++] = j;
    }
    int m = 0;
    for (int i = 0; i < n; i++) {
        if (m && second[cand[i]] < second[cand[0]])
            continue;
        if (m && second[cand[i]] > second[cand[0]])
            m = 0;
        cand[m++] = cand[i];
    }
    return m > 1 ? cand[vb_rng_below(rng, (size_t)m)] : cand[0];
}

vb_status vb_iterative_partition(const uint8_t *Y, size_t L, const size_t *idx, size_t n, const uint64_t *weights,
                                 int k, vb_rng *rng, int *part, vb_error *err)
{
    uint64_t W = 0;
    for (int j = 0; j < k; j++)
        W = weights[j] > UINT64_MAX - W ? UINT64_MAX : W + weights[j];
    /* scaled desired counts n_l * w_j - W * taken stay within int64 */
    if (k < 1 || W == 0 || W > (uint64_t)INT64_MAX || (n && W > (uint64_t)INT64_MAX / n) || (n && L && !Y))
        return vb_fail(err, VB_ERR_INTERNAL, "iterative stratification of %zu examples into %d subsets: bad arguments",
                       n, k);
    size_t kk = (size_t)k;
    int64_t *want = vb_calloc(kk, sizeof *want, err); /* overall, scaled by W */
    int64_t *lwant = vb_calloc(L * kk, sizeof *lwant, err); /* per label and subset */
    size_t *rem = vb_calloc(L, sizeof *rem, err); /* unassigned examples per label */
    size_t *tied = vb_calloc(L, sizeof *tied, err);
    int *cand = vb_calloc(kk, sizeof *cand, err);
    vb_status st = VB_OK;
    if (!want || !lwant || !rem || !tied || !cand) {
        st = VB_ERR_NOMEM;
        goto out;
    }
    for (size_t t = 0; t < n; t++) {
        part[t] = -1;
        const uint8_t *y = Y + idx[t] * L;
        for (size_t l = 0; l < L; l++)
            rem[l] += y[l] != 0;
    }
    for (size_t j = 0; j < kk; j++) {
        want[j] = (int64_t)n * (int64_t)weights[j];
        for (size_t l = 0; l < L; l++)
            lwant[l * kk + j] = (int64_t)rem[l] * (int64_t)weights[j];
    }
    for (;;) {
        /* the label with the fewest remaining examples */
        size_t n_tied = 0;
        for (size_t l = 0; l < L; l++) {
            if (!rem[l] || (n_tied && rem[l] > rem[tied[0]]))
                continue;
            if (n_tied && rem[l] < rem[tied[0]])
                n_tied = 0;
            tied[n_tied++] = l;
        }
        if (!n_tied)
            break;
        size_t lab = n_tied > 1 ? tied[vb_rng_below(rng, n_tied)] : tied[0];
        for (size_t t = 0; t < n; t++) {
            const uint8_t *y = Y + idx[t] * L;
            if (part[t] >= 0 || !y[lab])
                continue;
            int m = pick_subset(lwant + lab * kk, want, k, cand, rng);
            part[t] = m;
            want[m] -= (int64_t)W;
            for (size_t l = 0; l < L; l++)
                if (y[l]) {
                    lwant[l * kk + (size_t)m] -= (int64_t)W;
                    rem[l]--;
                }
        }
    }
    /* examples without labels complete the subsets' sizes */
    for (size_t t = 0; t < n; t++)
        if (part[t] < 0) {
            int m = pick_subset(NULL, want, k, cand, rng);
            part[t] = m;
            want[m] -= (int64_t)W;
        }
out:
    free(want);
    free(lwant);
    free(rem);
    free(tied);
    free(cand);
    return st;
}

/* A multilabel dataset is stratified on its label sets, else on labels[]. */
static int is_multilabel(const vb_dataset *ds) { return ds->task == VB_TASK_MULTILABEL; }

/* Splits `in` into k subsets of proportions weights[j] by iterative
 * stratification on the label sets, the examples in an order shuffled by
 * rng (so that which of a label's examples go where is random, not the
 * index order); sub_of[i] receives the subset of sample i of `in`. */
static vb_status ml_partition(const ilist *in, const vb_dataset *ds, const uint64_t *weights, int k, vb_rng *rng,
                              size_t *sub_of, vb_error *err)
{
    size_t *order = vb_calloc(in->n, sizeof *order, err);
    int *part = vb_calloc(in->n, sizeof *part, err);
    vb_status st = order && part ? VB_OK : VB_ERR_NOMEM;
    if (st == VB_OK) {
        memcpy(order, in->v, in->n * sizeof *order);
        vb_rng_shuffle(rng, order, in->n);
        st = vb_iterative_partition(ds->Y, (size_t)ds->n_classes, order, in->n, weights, k, rng, part, err);
    }
    for (size_t t = 0; st == VB_OK && t < in->n; t++)
        sub_of[order[t]] = (size_t)part[t];
    free(order);
    free(part);
    return st;
}

/* strat_take for a multilabel dataset: a 2-way iterative stratification
 * whose first subset wants m of the in->n samples. keep_one has no
 * counterpart (a label set is not a class). Both outputs are sorted. */
static vb_status ml_take(const ilist *in, const vb_dataset *ds, size_t m, vb_rng *rng, ilist *taken, ilist *rest,
                         vb_error *err)
{
    taken->n = rest->n = 0;
    taken->v = vb_calloc(in->n, sizeof *taken->v, err);
    rest->v = vb_calloc(in->n, sizeof *rest->v, err);
    size_t *sub_of = vb_calloc(ds->n, sizeof *sub_of, err);
    vb_status st = taken->v && rest->v && sub_of ? VB_OK : VB_ERR_NOMEM;
    if (m > in->n)
        m = in->n;
    uint64_t weights[2] = {m, in->n - m};
    if (st == VB_OK && in->n)
        st = ml_partition(in, ds, weights, 2, rng, sub_of, err);
    for (size_t t = 0; st == VB_OK && t < in->n; t++) {
        ilist *to = sub_of[in->v[t]] == 0 ? taken : rest;
        to->v[to->n++] = in->v[t];
    }
    free(sub_of);
    if (st != VB_OK) {
        free(taken->v);
        free(rest->v);
        taken->v = rest->v = NULL;
        taken->n = rest->n = 0;
        return st;
    }
    qsort(taken->v, taken->n, sizeof *taken->v, cmp_size);
    qsort(rest->v, rest->n, sizeof *rest->v, cmp_size);
    return VB_OK;
}

/* Draws m samples of `in`, stratified on what the dataset's labels are. */
static vb_status take(const ilist *in, const vb_dataset *ds, size_t m, vb_rng *rng, int keep_one, ilist *taken,
                      ilist *rest, vb_error *err)
{
    if (is_multilabel(ds))
        return ml_take(in, ds, m, rng, taken, rest, err);
    return strat_take(in, ds->labels, ds->n_classes, m, rng, keep_one, taken, rest, err);
}

static vb_status check_limit(size_t limit, const char *what, int n_classes, vb_error *err)
{
    if (limit && limit < (size_t)n_classes)
        return vb_fail(err, VB_ERR_PARAM, "split.%s = %zu is smaller than the %d classes; raise it", what, limit,
                       n_classes);
    return VB_OK;
}

/* Applies a limit: keeps a stratified subsample of `l` (in place). */
static vb_status limit_list(ilist *l, size_t limit, const vb_dataset *ds, vb_rng *rng, vb_error *err)
{
    if (!limit || l->n <= limit)
        return VB_OK;
    ilist taken, rest;
    vb_status st = take(l, ds, limit, rng, 0, &taken, &rest, err);
    if (st != VB_OK)
        return st;
    free(rest.v);
    free(l->v);
    *l = taken;
    return VB_OK;
}

/* Fills a fold from its train and test lists (owning them), applying the
 * limits and the validation carve-out. */
static vb_status make_fold(vb_fold *f, const char *name, vb_fold_kind kind, ilist train, ilist test,
                           const vb_split_conf *conf, const vb_dataset *ds, uint64_t stream, vb_error *err)
{
    snprintf(f->name, sizeof f->name, "%s", name);
    f->kind = kind;
    vb_rng *rng = vb_rng_new(vb_seed_derive(conf->seed, "fold", stream));
    vb_status st = rng ? VB_OK : vb_fail(err, VB_ERR_NOMEM, "out of memory");
    if (st == VB_OK && conf->protocol != VB_PROTO_KFOLD)
        st = limit_list(&train, conf->train_limit, ds, rng, err);
    if (st == VB_OK)
        st = limit_list(&test, conf->test_limit, ds, rng, err);
    ilist val = {0};
    if (st == VB_OK && conf->validation > 0) {
        ilist rest;
        size_t m = (size_t)llround(conf->validation * (double)train.n);
        st = take(&train, ds, m, rng, 1, &val, &rest, err);
        if (st == VB_OK) {
            free(train.v);
            train = rest;
        }
    }
    vb_rng_free(rng);
    f->train = train.v;
    f->n_train = train.n;
    f->test = test.v;
    f->n_test = test.n;
    f->val = val.v;
    f->n_val = val.n;
    if (st == VB_OK && f->n_train == 0)
        st = vb_fail(err, VB_ERR_DATA, "split fold '%s' has no training samples", name);
    if (st == VB_OK && f->n_test == 0 && kind != VB_FOLD_POOL)
        st = vb_fail(err, VB_ERR_DATA, "split fold '%s' has no test samples", name);
    return st;
}

/* The samples holdout and kfold draw from. */
static int pool_part(const vb_split_conf *c, const vb_dataset *ds)
{
    return ds->part && c->pool == VB_POOL_TRAIN ? VB_PART_TRAIN : VB_PART_NONE;
}

size_t vb_split_pool_size(const vb_split_conf *conf, const vb_dataset *ds)
{
    int part = conf->protocol == VB_PROTO_OFFICIAL ? VB_PART_TRAIN : pool_part(conf, ds);
    size_t n = 0;
    for (size_t i = 0; i < ds->n; i++)
        n += part == VB_PART_NONE || ds->part[i] == part;
    return n;
}

static vb_status select_part(const vb_dataset *ds, int part, ilist *out, vb_error *err)
{
    out->v = vb_calloc(ds->n, sizeof *out->v, err);
    out->n = 0;
    if (!out->v)
        return VB_ERR_NOMEM;
    for (size_t i = 0; i < ds->n; i++)
        if (part == VB_PART_NONE || ds->part[i] == part)
            out->v[out->n++] = i;
    return VB_OK;
}

/* The pool k-fold deals out: the pool part, subsampled to train_limit by
 * the split's own stream. */
static vb_status kfold_pool(const vb_split_conf *conf, const vb_dataset *ds, vb_rng *rng, ilist *all, vb_error *err)
{
    vb_status st = select_part(ds, pool_part(conf, ds), all, err);
    if (st == VB_OK)
        st = limit_list(all, conf->train_limit, ds, rng, err);
    return st;
}

static vb_status check_conf(const vb_split_conf *c, const vb_dataset *ds, vb_error *err)
{
    if (c->protocol == VB_PROTO_HOLDOUT && !(c->test_fraction > 0 && c->test_fraction < 1))
        return vb_fail(err, VB_ERR_PARAM, "split.test_fraction must be between 0 and 1, not %g", c->test_fraction);
    if (c->protocol == VB_PROTO_KFOLD && (c->k < 2 || c->k > 1000))
        return vb_fail(err, VB_ERR_PARAM, "split.k must be 2..1000, not %d", c->k);
    if (c->repeats < 1 || c->repeats > 1000)
        return vb_fail(err, VB_ERR_PARAM, "split.repeats must be 1..1000, not %d", c->repeats);
    if (!(c->validation >= 0 && c->validation < 1))
        return vb_fail(err, VB_ERR_PARAM, "split.validation must be in [0, 1), not %g", c->validation);
    if ((c->protocol == VB_PROTO_OFFICIAL || c->official_test) && !ds->part)
        return vb_fail(err, VB_ERR_DATA,
                       "dataset '%s' has no official test part; use protocol: holdout or kfold, "
                       "or give the dataset a test part",
                       ds->name ? ds->name : "?");
    if (is_multilabel(ds) && (!ds->Y || ds->n_classes < 1))
        return vb_fail(err, VB_ERR_INTERNAL, "dataset '%s' is multilabel but has no label sets",
                       ds->name ? ds->name : "?");
    vb_status st = check_limit(c->train_limit, "train_limit", ds->n_classes, err);
    if (st == VB_OK)
        st = check_limit(c->test_limit, "test_limit", ds->n_classes, err);
    return st;
}

/* k-fold needs every class in every fold; a label set is not a class, and
 * iterative stratification copes with labels rarer than k, but not with
 * fewer images than folds. */
static vb_status check_kfold_pool(const ilist *all, const vb_dataset *ds, int k, vb_error *err)
{
    if (is_multilabel(ds))
        return all->n < (size_t)k ? vb_fail(err, VB_ERR_DATA,
                                             "the pool has %zu images, fewer than the k = %d folds; lower k", all->n, k)
                                  : VB_OK;
    size_t *count = vb_calloc((size_t)ds->n_classes, sizeof *count, err);
    if (!count)
        return VB_ERR_NOMEM;
    vb_status st = VB_OK;
    for (size_t i = 0; i < all->n; i++)
        count[ds->labels[all->v[i]]]++;
    for (int c = 0; st == VB_OK && c < ds->n_classes; c++)
        if (count[c] > 0 && count[c] < (size_t)k)
            st = vb_fail(err, VB_ERR_DATA, "class '%s' has %zu samples, fewer than the k = %d folds; lower k",
                         ds->classes[c], count[c], k);
    free(count);
    return st;
}

/* The fold of every pool sample for one repeat (fold_of is indexed by
 * sample). Single-label: per class, shuffled members go round-robin to the
 * folds; each class starts where the previous one stopped, so fold sizes
 * differ by at most one. Multilabel: k equal subsets by iterative
 * stratification. */
static vb_status deal_folds(const ilist *all, const vb_dataset *ds, int k, vb_rng *rr, size_t *fold_of, vb_error *err)
{
    if (is_multilabel(ds)) {
        uint64_t *ones = vb_calloc((size_t)k, sizeof *ones, err);
        if (!ones)
            return VB_ERR_NOMEM;
        for (int f = 0; f < k; f++)
            ones[f] = 1;
        vb_status st = ml_partition(all, ds, ones, k, rr, fold_of, err);
        free(ones);
        return st;
    }
    ilist byclass = {vb_calloc(all->n, sizeof(size_t), err), 0};
    if (!byclass.v)
        return vb_fail(err, VB_ERR_NOMEM, "out of memory");
    size_t next = 0;
    for (int c = 0; c < ds->n_classes; c++) {
        byclass.n = 0;
        for (size_t i = 0; i < all->n; i++)
            if (ds->labels[all->v[i]] == c)
                byclass.v[byclass.n++] = all->v[i];
        vb_rng_shuffle(rr, byclass.v, byclass.n);
        for (size_t j = 0; j < byclass.n; j++)
            fold_of[byclass.v[j]] = (next++) % (size_t)k;
    }
    free(byclass.v);
    return VB_OK;
}

vb_status vb_split_make(const vb_split_conf *conf, const vb_dataset *ds, vb_split **out, vb_error *err)
{
    *out = NULL;
    vb_status st = check_conf(conf, ds, err);
    if (st != VB_OK)
        return st;
    vb_split *s = vb_calloc(1, sizeof *s, err);
    if (!s)
        return VB_ERR_NOMEM;
    s->conf = *conf;
    s->n_samples = ds->n;
    s->data_hash = vb_dataset_hash(ds);
    size_t n_folds = conf->protocol == VB_PROTO_KFOLD ? (size_t)conf->k * (size_t)conf->repeats + (conf->official_test ? 1 : 0) : 1;
    s->folds = vb_calloc(n_folds, sizeof *s->folds, err);
    if (!s->folds) {
        free(s);
        return VB_ERR_NOMEM;
    }
    s->n_folds = n_folds;
    vb_rng *rng = vb_rng_new(vb_seed_derive(conf->seed, "split", 0));
    if (!rng) {
        vb_split_free(s);
        return vb_fail(err, VB_ERR_NOMEM, "out of memory");
    }
    ilist all = {0}, a = {0}, b = {0};
    if (conf->protocol == VB_PROTO_HOLDOUT) {
        st = select_part(ds, pool_part(conf, ds), &all, err);
        if (st == VB_OK)
            st = take(&all, ds, (size_t)llround(conf->test_fraction * (double)all.n), rng, 1, &b, &a, err);
        if (st == VB_OK)
            st = make_fold(&s->folds[0], "holdout", VB_FOLD_HOLDOUT, a, b, conf, ds, 0, err);
    } else if (conf->protocol == VB_PROTO_OFFICIAL) {
        st = select_part(ds, VB_PART_TRAIN, &a, err);
        if (st == VB_OK)
            st = select_part(ds, VB_PART_TEST, &b, err);
        if (st == VB_OK)
            st = make_fold(&s->folds[0], "test", VB_FOLD_OFFICIAL_TEST, a, b, conf, ds, 0, err);
        else {
            free(a.v);
            free(b.v);
        }
    } else {
        st = kfold_pool(conf, ds, rng, &all, err);
        if (st == VB_OK)
            st = check_kfold_pool(&all, ds, conf->k, err);
        for (int r = 0; st == VB_OK && r < conf->repeats; r++) {
            vb_rng *rr = vb_rng_new(vb_seed_derive(conf->seed, "kfold", (uint64_t)r));
            size_t *fold_of = vb_calloc(ds->n, sizeof *fold_of, err);
            if (!rr || !fold_of)
                st = vb_fail(err, VB_ERR_NOMEM, "out of memory");
            if (st == VB_OK)
                st = deal_folds(&all, ds, conf->k, rr, fold_of, err);
            for (int f = 0; st == VB_OK && f < conf->k; f++) {
                ilist tr = {vb_calloc(all.n, sizeof(size_t), err), 0}, te = {vb_calloc(all.n, sizeof(size_t), err), 0};
                if (!tr.v || !te.v) {
                    free(tr.v);
                    free(te.v);
                    st = VB_ERR_NOMEM;
                    break;
                }
                for (size_t i = 0; i < all.n; i++) {
                    if (fold_of[all.v[i]] == (size_t)f)
                        te.v[te.n++] = all.v[i];
                    else
                        tr.v[tr.n++] = all.v[i];
                }
                char name[32];
                if (conf->repeats > 1)
                    snprintf(name, sizeof name, "r%d-fold%d", r + 1, f + 1);
                else
                    snprintf(name, sizeof name, "fold%d", f + 1);
                size_t fi = (size_t)r * (size_t)conf->k + (size_t)f;
                st = make_fold(&s->folds[fi], name, conf->repeats > 1 ? VB_FOLD_REPEAT : VB_FOLD_CV, tr, te, conf,
                               ds, 1 + fi, err);
                s->folds[fi].repeat = conf->repeats > 1 ? r + 1 : 0;
                s->folds[fi].number = f + 1;
            }
            free(fold_of);
            vb_rng_free(rr);
        }
        if (st == VB_OK && conf->official_test) {
            ilist tr = {vb_calloc(all.n ? all.n : 1, sizeof(size_t), err), all.n};
            if (!tr.v)
                st = VB_ERR_NOMEM;
            else {
                memcpy(tr.v, all.v, all.n * sizeof *tr.v);
                st = select_part(ds, VB_PART_TEST, &b, err);
                if (st == VB_OK)
                    st = make_fold(&s->folds[n_folds - 1], "test", VB_FOLD_OFFICIAL_TEST, tr, b, conf, ds, 0, err);
                else
                    free(tr.v);
            }
        }
    }
    free(all.v);
    vb_rng_free(rng);
    if (st != VB_OK) {
        vb_split_free(s);
        return st;
    }
    s->hash = vb_split_compute_hash(s);
    *out = s;
    return VB_OK;
}

const vb_fold *vb_split_single_fold(const vb_split *s)
{
    for (size_t f = 0; f < s->n_folds; f++)
        if (s->folds[f].kind == VB_FOLD_HOLDOUT || s->folds[f].kind == VB_FOLD_OFFICIAL_TEST)
            return &s->folds[f];
    return NULL;
}

vb_status vb_split_pool_fold(const vb_split_conf *conf, const vb_dataset *ds, vb_fold *out, vb_error *err)
{
    memset(out, 0, sizeof *out);
    vb_status st = check_conf(conf, ds, err);
    if (st != VB_OK)
        return st;
    vb_rng *rng = vb_rng_new(vb_seed_derive(conf->seed, "split", 0));
    if (!rng)
        return vb_fail(err, VB_ERR_NOMEM, "out of memory");
    ilist all = {0}, none = {0};
    vb_split_conf c = *conf;
    c.protocol = VB_PROTO_KFOLD; /* the limit is applied here, not again in make_fold */
    st = kfold_pool(&c, ds, rng, &all, err);
    vb_rng_free(rng);
    if (st == VB_OK)
        st = make_fold(out, "pool", VB_FOLD_POOL, all, none, &c, ds, UINT64_MAX, err);
    else
        free(all.v);
    if (st != VB_OK)
        vb_fold_free(out);
    return st;
}

uint64_t vb_split_compute_hash(const vb_split *s)
{
    uint64_t h = vb_hash64(&s->data_hash, sizeof s->data_hash, 0);
    uint64_t n = s->n_samples;
    h = vb_hash64(&n, sizeof n, h);
    for (size_t f = 0; f < s->n_folds; f++) {
        const vb_fold *fo = &s->folds[f];
        h = vb_hash64(fo->name, strlen(fo->name), h);
        uint32_t kind[3] = {(uint32_t)fo->kind, (uint32_t)fo->repeat, (uint32_t)fo->number};
        h = vb_hash64(kind, sizeof kind, h);
        const size_t *lists[3] = {fo->train, fo->val, fo->test};
        size_t counts[3] = {fo->n_train, fo->n_val, fo->n_test};
        for (int k = 0; k < 3; k++) {
            uint64_t c = counts[k];
            h = vb_hash64(&c, sizeof c, h);
            for (size_t i = 0; i < counts[k]; i++) {
                uint64_t v = lists[k][i];
                h = vb_hash64(&v, sizeof v, h);
            }
        }
    }
    return h;
}

void vb_split_hash_text(const vb_split *s, char out[17])
{
    snprintf(out, 17, "%016" PRIx64, s->hash);
}

/* ---- file format ------------------------------------------------------- */

static void put_list(vb_buf *b, const char *tag, const size_t *v, size_t n)
{
    vb_buf_printf(b, "%s", tag);
    for (size_t i = 0; i < n; i++)
        vb_buf_printf(b, " %zu", v[i]);
    vb_buf_puts(b, "\n");
}

vb_status vb_split_save(const vb_split *s, const char *path, vb_error *err)
{
    vb_buf b;
    vb_buf_init(&b);
    const vb_split_conf *c = &s->conf;
    vb_buf_puts(&b, "visbench-split 2\n");
    vb_buf_printf(&b, "protocol %s\n", vb_protocol_name(c->protocol));
    vb_buf_printf(&b, "test_fraction ");
    vb_buf_double(&b, c->test_fraction);
    vb_buf_printf(&b, "\nk %d\nrepeats %d\nofficial_test %d\nvalidation ", c->k, c->repeats, c->official_test);
    vb_buf_double(&b, c->validation);
    vb_buf_printf(&b, "\ntrain_limit %zu\ntest_limit %zu\npool %s\nseed %" PRIu64 "\n", c->train_limit, c->test_limit,
                  vb_pool_name(c->pool), c->seed);
    vb_buf_printf(&b, "samples %zu\ndata_hash %016" PRIx64 "\nfolds %zu\n", s->n_samples, s->data_hash, s->n_folds);
    for (size_t f = 0; f < s->n_folds; f++) {
        const vb_fold *fo = &s->folds[f];
        vb_buf_printf(&b, "fold %s %s %d %d %zu %zu %zu\n", fo->name, vb_fold_kind_name(fo->kind), fo->repeat,
                      fo->number, fo->n_train, fo->n_val, fo->n_test);
        put_list(&b, "train", fo->train, fo->n_train);
        put_list(&b, "val", fo->val, fo->n_val);
        put_list(&b, "test", fo->test, fo->n_test);
    }
    vb_buf_printf(&b, "hash %016" PRIx64 "\n", s->hash);
    if (b.failed) {
        vb_buf_free(&b);
        return vb_fail(err, VB_ERR_NOMEM, "out of memory writing %s", path);
    }
    vb_status st = vb_file_write_atomic(path, b.data, b.len, err);
    vb_buf_free(&b);
    return st;
}

typedef struct lines {
    char *text, *cur;
    const char *path;
    int lineno;
} lines;

static char *next_line(lines *l)
{
    if (!l->cur || !*l->cur)
        return NULL;
    char *line = l->cur, *nl = strchr(line, '\n');
    if (nl) {
        *nl = 0;
        l->cur = nl + 1;
    } else
        l->cur = NULL;
    l->lineno++;
    return line;
}

static vb_status bad(lines *l, vb_error *err, const char *fmt, ...) VB_PRINTF(3, 4);
static vb_status bad(lines *l, vb_error *err, const char *fmt, ...)
{
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (l->lineno == 0) /* nothing read: an empty file */
        return vb_fail(err, VB_ERR_FORMAT, "%s: %s; delete the file to have it rebuilt", l->path, what);
    return vb_fail(err, VB_ERR_FORMAT, "%s:%d: %s; delete the file to have it rebuilt", l->path, l->lineno, what);
}

/* "key value" with the expected key. */
static vb_status read_kv(lines *l, const char *key, char **value, vb_error *err)
{
    char *line = next_line(l);
    size_t kl = strlen(key);
    if (!line)
        return bad(l, err, "the file ends before '%s' (truncated)", key);
    if (strncmp(line, key, kl) != 0 || line[kl] != ' ')
        return bad(l, err, "expected '%s ...'", key);
    *value = line + kl + 1;
    return VB_OK;
}

static vb_status read_u64(lines *l, const char *key, uint64_t *v, int hex, vb_error *err)
{
    char *s = NULL, *end;
    vb_status st = read_kv(l, key, &s, err);
    if (st != VB_OK)
        return st;
    errno = 0;
    unsigned long long x = strtoull(s, &end, hex ? 16 : 10);
    if (errno || *end || end == s || *s == '-')
        return bad(l, err, "bad value for '%s'", key);
    *v = x;
    return VB_OK;
}

static vb_status read_dbl(lines *l, const char *key, double *v, vb_error *err)
{
    char *s = NULL;
    vb_status st = read_kv(l, key, &s, err);
    if (st == VB_OK && !vb_parse_double(s, v))
        return bad(l, err, "bad value for '%s'", key);
    return st;
}

static vb_status read_list(lines *l, const char *tag, size_t n, size_t n_samples, size_t **out, vb_error *err)
{
    *out = NULL;
    char *s = NULL;
    char *line = next_line(l);
    size_t tl = strlen(tag);
    if (!line)
        return bad(l, err, "the file ends before the %s list (truncated)", tag);
    if (strncmp(line, tag, tl) != 0 || (line[tl] != ' ' && line[tl] != 0))
        return bad(l, err, "expected '%s ...'", tag);
    s = line + tl;
    size_t *v = vb_calloc(n ? n : 1, sizeof *v, err);
    if (!v)
        return VB_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        char *end;
        errno = 0;
        while (*s == ' ')
            s++;
        if (!*s) {
            free(v);
            if (!l->cur) /* the last line of the file, cut short */
                return bad(l, err, "the file ends inside the %s list (truncated)", tag);
            return bad(l, err, "fewer indices than the fold header says");
        }
        unsigned long long x = strtoull(s, &end, 10);
        if (errno || end == s || x >= n_samples || *s == '-') {
            free(v);
            return bad(l, err, "bad or out-of-range index");
        }
        v[i] = (size_t)x;
        s = end;
    }
    while (*s == ' ')
        s++;
    if (*s) {
        free(v);
        return bad(l, err, "more indices than the fold header says");
    }
    *out = v;
    return VB_OK;
}

vb_status vb_split_load(const char *path, vb_split **out, vb_error *err)
{
    *out = NULL;
    lines l = {0};
    l.path = path;
    vb_status st = vb_file_read(path, &l.text, NULL, err);
    if (st != VB_OK)
        return st;
    l.cur = l.text;
    vb_split *s = vb_calloc(1, sizeof *s, err);
    if (!s) {
        free(l.text);
        return VB_ERR_NOMEM;
    }
    char *v = NULL;
    uint64_t x;
    char *hdr = next_line(&l);
    if (!hdr || strcmp(hdr, "visbench-split 2") != 0)
        st = bad(&l, err, hdr && strcmp(hdr, "visbench-split 1") == 0 ? "a split file of an older visbench (version 1)"
                                                                    : "not a visbench split file (version 2)");
    if (st == VB_OK && (st = read_kv(&l, "protocol", &v, err)) == VB_OK && !vb_protocol_parse(v, &s->conf.protocol))
        st = bad(&l, err, "unknown protocol");
    if (st == VB_OK)
        st = read_dbl(&l, "test_fraction", &s->conf.test_fraction, err);
    if (st == VB_OK && (st = read_u64(&l, "k", &x, 0, err)) == VB_OK)
        s->conf.k = x > 1000 ? (st = bad(&l, err, "bad value for 'k'"), 0) : (int)x;
    if (st == VB_OK && (st = read_u64(&l, "repeats", &x, 0, err)) == VB_OK)
        s->conf.repeats = x > 1000 ? (st = bad(&l, err, "bad value for 'repeats'"), 0) : (int)x;
    if (st == VB_OK && (st = read_u64(&l, "official_test", &x, 0, err)) == VB_OK)
        s->conf.official_test = x != 0;
    if (st == VB_OK)
        st = read_dbl(&l, "validation", &s->conf.validation, err);
    if (st == VB_OK && (st = read_u64(&l, "train_limit", &x, 0, err)) == VB_OK)
        s->conf.train_limit = (size_t)x;
    if (st == VB_OK && (st = read_u64(&l, "test_limit", &x, 0, err)) == VB_OK)
        s->conf.test_limit = (size_t)x;
    if (st == VB_OK && (st = read_kv(&l, "pool", &v, err)) == VB_OK) {
        if (strcmp(v, "train") == 0 || strcmp(v, "all") == 0)
            s->conf.pool = strcmp(v, "all") == 0 ? VB_POOL_ALL : VB_POOL_TRAIN;
        else
            st = bad(&l, err, "unknown pool");
    }
    if (st == VB_OK)
        st = read_u64(&l, "seed", &s->conf.seed, 0, err);
    if (st == VB_OK && (st = read_u64(&l, "samples", &x, 0, err)) == VB_OK)
        s->n_samples = (size_t)x;
    if (st == VB_OK)
        st = read_u64(&l, "data_hash", &s->data_hash, 1, err);
    if (st == VB_OK && (st = read_u64(&l, "folds", &x, 0, err)) == VB_OK) {
        if (x == 0 || x > 100000)
            st = bad(&l, err, "bad value for 'folds'");
        else if (!(s->folds = vb_calloc((size_t)x, sizeof *s->folds, err)))
            st = VB_ERR_NOMEM;
        else
            s->n_folds = (size_t)x;
    }
    for (size_t f = 0; st == VB_OK && f < s->n_folds; f++) {
        vb_fold *fo = &s->folds[f];
        char *line = next_line(&l);
        char name[32], kind[32];
        unsigned long long a, b, c;
        int rep, num;
        if (!line) {
            st = bad(&l, err, "the file ends before fold %zu of %zu (truncated)", f + 1, s->n_folds);
            break;
        }
        if (sscanf(line, "fold %31s %31s %d %d %llu %llu %llu", name, kind, &rep, &num, &a, &b, &c) != 7 ||
            a > s->n_samples || b > s->n_samples || c > s->n_samples || rep < 0 || num < 0 ||
            !vb_fold_kind_parse(kind, &fo->kind) || fo->kind == VB_FOLD_POOL) {
            st = bad(&l, err, "bad fold header");
            break;
        }
        snprintf(fo->name, sizeof fo->name, "%s", name);
        fo->repeat = rep;
        fo->number = num;
        if ((st = read_list(&l, "train", (size_t)a, s->n_samples, &fo->train, err)) != VB_OK)
            break;
        fo->n_train = (size_t)a;
        if ((st = read_list(&l, "val", (size_t)b, s->n_samples, &fo->val, err)) != VB_OK)
            break;
        fo->n_val = (size_t)b;
        if ((st = read_list(&l, "test", (size_t)c, s->n_samples, &fo->test, err)) != VB_OK)
            break;
        fo->n_test = (size_t)c;
    }
    if (st == VB_OK && (st = read_u64(&l, "hash", &s->hash, 1, err)) == VB_OK &&
        vb_split_compute_hash(s) != s->hash)
        st = vb_fail(err, VB_ERR_FORMAT, "%s: contents do not match the stored hash (edited or corrupt); "
                                         "delete the file to have it rebuilt",
                     path);
    free(l.text);
    if (st != VB_OK) {
        vb_split_free(s);
        return st;
    }
    *out = s;
    return VB_OK;
}
