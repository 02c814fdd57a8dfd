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
    .protocol = VB_PROTO_HOLDOUT, .test_fraction = 0.2, .k = 5, .repeats = 1, .max_folds = 1000,
    .official_test = 0, .validation = 0.0, .train_limit = 0, .test_limit = 0, .pool = VB_POOL_TRAIN, .seed = 1,
};

/* in vb_fold_kind order */
static const char *const kind_names[] = {"holdout", "official-test", "cv",   "repeat",
                                         "pool",    "repeated-holdout", "loo", "curve"};
#define N_KINDS (int)(sizeof kind_names / sizeof kind_names[0])

const char *vb_fold_kind_name(vb_fold_kind k) { return (unsigned)k < (unsigned)N_KINDS ? kind_names[k] : "?"; }

int vb_fold_kind_parse(const char *s, vb_fold_kind *k)
{
    for (int i = 0; i < N_KINDS; i++)
        if (strcmp(s, kind_names[i]) == 0) {
            *k = (vb_fold_kind)i;
            return 1;
        }
    return 0;
}

const char *vb_pool_name(vb_pool p) { return p == VB_POOL_ALL ? "all" : "train"; }

/* in vb_protocol order */
static const char *const proto_names[] = {"holdout", "official-test", "kfold", "group_kfold", "loo"};
#define N_PROTOS (int)(sizeof proto_names / sizeof proto_names[0])

const char *vb_protocol_name(vb_protocol p) { return (unsigned)p < (unsigned)N_PROTOS ? proto_names[p] : "?"; }

int vb_protocol_parse(const char *s, vb_protocol *p)
{
    for (int i = 0; i < N_PROTOS; i++)
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

/* A partition of `in` into k subsets of proportions weights[j]: sub_of[i]
 * receives the subset of sample i. */
typedef vb_status (*partition_fn)(const ilist *in, const vb_dataset *ds, const uint64_t *weights, int k, vb_rng *rng,
                                  size_t *sub_of, vb_error *err);

/* strat_take by a 2-way partition whose first subset wants m of the in->n
 * samples (keep_one has no counterpart). Both outputs are sorted. */
static vb_status partition_take(const ilist *in, const vb_dataset *ds, size_t m, vb_rng *rng, partition_fn partition,
                                ilist *taken, ilist *rest, vb_error *err)
{
    taken->n = rest->n = 0;
    taken->v = vb_calloc(in->n ? in->n : 1, sizeof *taken->v, err);
    rest->v = vb_calloc(in->n ? in->n : 1, sizeof *rest->v, err);
    size_t *sub_of = vb_calloc(ds->n, sizeof *sub_of, err);
    vb_status st = taken->v && rest->v && sub_of ? VB_OK : VB_ERR_NOMEM;
    if (m > in->n)
        m = in->n;
    uint64_t weights[2] = {m, in->n - m};
    if (st == VB_OK && in->n)
        st = partition(in, ds, weights, 2, rng, sub_of, err);
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
        return partition_take(in, ds, m, rng, ml_partition, taken, rest, err);
    return strat_take(in, ds->labels, ds->n_classes, m, rng, keep_one, taken, rest, err);
}

/* ---- groups --------------------------------------------------------------- */

/* a + b and a * b, held at the int64 limits instead of overflowing (only
 * absurdly large groups on absurdly large data get there; the result
 * stays the same on every platform) */
static int64_t sat_add(int64_t a, int64_t b)
{
    int64_t r;
    return __builtin_add_overflow(a, b, &r) ? (b > 0 ? INT64_MAX : INT64_MIN + 1) : r;
}

static int64_t sat_mul(int64_t a, int64_t b)
{
    int64_t r;
    return __builtin_mul_overflow(a, b, &r) ? ((a < 0) != (b < 0) ? INT64_MIN + 1 : INT64_MAX) : r;
}

typedef struct group_rank {
    size_t size, rank, local;
} group_rank;

/* the largest group first; equal sizes in their seeded rank */
static int by_size_then_rank(const void *a, const void *b)
{
    const group_rank *x = a, *y = b;
    if (x->size != y->size)
        return x->size > y->size ? -1 : 1;
    return x->rank < y->rank ? -1 : x->rank > y->rank;
}

/* Deals the groups of `in` whole into k subsets of proportions weights[j] /
 * W (split.h, group_kfold): the largest group first (equal sizes in a
 * seeded order) to a subset that still has room for it (at most
 * ceil(n w_j / W) samples), the one that most lacks the group's labels
 * (sum over labels of the group's count times the subset's want, n_l w_j -
 * W taken_l), then the one that most wants samples (n w_j - W size_j), then
 * a seeded draw; with no room anywhere, by that want of samples alone.
 * sub_of[i] receives the subset of sample i. */
static vb_status group_partition(const ilist *in, const vb_dataset *ds, const uint64_t *weights, int k, vb_rng *rng,
                                 size_t *sub_of, vb_error *err)
{
    size_t L = (size_t)ds->n_classes, kk = (size_t)k, G = 0, n = in->n, GL;
    size_t *local = vb_malloc(ds->n_groups ? ds->n_groups : 1, sizeof *local, err);
    if (!local)
        return VB_ERR_NOMEM;
    for (size_t g = 0; g < ds->n_groups; g++)
        local[g] = SIZE_MAX;
    for (size_t i = 0; i < n; i++)
        if (local[ds->group[in->v[i]]] == SIZE_MAX)
            local[ds->group[in->v[i]]] = G++;
    if (!vb_mul_ok(G ? G : 1, L ? L : 1, &GL)) {
        free(local);
        return vb_fail(err, VB_ERR_NOMEM, "%zu groups of %zu labels: too many to count", G, L);
    }
    group_rank *order = vb_calloc(G ? G : 1, sizeof *order, err);
    size_t *shuffled = vb_calloc(G ? G : 1, sizeof *shuffled, err);
    int64_t *lab = vb_calloc(GL, sizeof *lab, err); /* per group and label */
    int64_t *tot = vb_calloc(L ? L : 1, sizeof *tot, err);
    int64_t *fsize = vb_calloc(kk, sizeof *fsize, err), *fcnt = vb_calloc(kk * (L ? L : 1), sizeof *fcnt, err);
    int64_t *first = vb_calloc(kk, sizeof *first, err), *second = vb_calloc(kk, sizeof *second, err);
    int *cand = vb_calloc(kk, sizeof *cand, err), *part = vb_calloc(G ? G : 1, sizeof *part, err);
    vb_status st = order && shuffled && lab && tot && fsize && fcnt && first && second && cand && part
                       ? VB_OK
                       : VB_ERR_NOMEM;
    int64_t W = 0;
    for (size_t j = 0; j < kk; j++)
        W += (int64_t)weights[j];
    for (size_t i = 0; st == VB_OK && i < n; i++) {
        size_t s = in->v[i], g = local[ds->group[s]];
        order[g].size++;
        if (ds->Y)
            for (size_t l = 0; l < L; l++)
                lab[g * L + l] += ds->Y[s * L + l];
        else
            lab[g * L + (size_t)ds->labels[s]]++;
    }
    for (size_t g = 0; st == VB_OK && g < G; g++) {
        for (size_t l = 0; l < L; l++)
            tot[l] += lab[g * L + l];
        shuffled[g] = g;
    }
    if (st == VB_OK) {
        vb_rng_shuffle(rng, shuffled, G);
        for (size_t t = 0; t < G; t++) {
            order[shuffled[t]].rank = t;
            order[shuffled[t]].local = shuffled[t];
        }
        qsort(order, G, sizeof *order, by_size_then_rank);
    }
    for (size_t t = 0; st == VB_OK && t < G; t++) {
        size_t g = order[t].local;
        int64_t sz = (int64_t)order[t].size;
        for (size_t j = 0; j < kk; j++) {
            int64_t w = (int64_t)weights[j], cap = ((int64_t)n * w + W - 1) / W;
            second[j] = (int64_t)n * w - W * fsize[j];
            first[j] = INT64_MIN;
            if (fsize[j] + sz <= cap) {
                first[j] = 0;
                for (size_t l = 0; l < L; l++)
                    if (lab[g * L + l])
                        first[j] = sat_add(first[j], sat_mul(lab[g * L + l], tot[l] * w - W * fcnt[j * L + l]));
            }
        }
        int m = pick_subset(first, second, k, cand, rng);
        part[g] = m;
        fsize[m] += sz;
        for (size_t l = 0; l < L; l++)
            fcnt[(size_t)m * L + l] += lab[g * L + l];
    }
    for (size_t i = 0; st == VB_OK && i < n; i++)
        sub_of[in->v[i]] = (size_t)part[local[ds->group[in->v[i]]]];
    free(local);
    free(order);
    free(shuffled);
    free(lab);
    free(tot);
    free(fsize);
    free(fcnt);
    free(first);
    free(second);
    free(cand);
    free(part);
    return st;
}

/* The number of groups among the samples of `in`. */
static vb_status count_groups(const ilist *in, const vb_dataset *ds, size_t *out, vb_error *err)
{
    unsigned char *seen = vb_calloc(ds->n_groups ? ds->n_groups : 1, 1, err);
    if (!seen)
        return VB_ERR_NOMEM;
    *out = 0;
    for (size_t i = 0; i < in->n; i++)
        if (!seen[ds->group[in->v[i]]]++)
            (*out)++;
    free(seen);
    return VB_OK;
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
/* Protocols that fold a pool already subsampled to train_limit. */
static int folds_limited_pool(const vb_split_conf *c)
{
    return c->protocol == VB_PROTO_KFOLD || c->protocol == VB_PROTO_GROUP_KFOLD || c->protocol == VB_PROTO_LOO;
}

static vb_status make_fold(vb_fold *f, const char *name, vb_fold_kind kind, ilist train, ilist test,
                           const vb_split_conf *conf, const vb_dataset *ds, uint64_t stream, vb_error *err)
{
    snprintf(f->name, sizeof f->name, "%s", name);
    f->kind = kind;
    vb_rng *rng = vb_rng_new(vb_seed_derive(conf->seed, "fold", stream));
    vb_status st = rng ? VB_OK : vb_fail(err, VB_ERR_NOMEM, "out of memory");
    if (st == VB_OK && !folds_limited_pool(conf) && kind != VB_FOLD_POOL)
        st = limit_list(&train, conf->train_limit, ds, rng, err);
    if (st == VB_OK)
        st = limit_list(&test, conf->test_limit, ds, rng, err);
    ilist val = {0};
    if (st == VB_OK && conf->validation > 0) {
        ilist rest;
        size_t m = (size_t)llround(conf->validation * (double)train.n);
        /* a group k-fold validates on whole groups too, so that tuning
         * sees no image of a group it trains on */
        st = conf->protocol == VB_PROTO_GROUP_KFOLD && ds->group
                 ? partition_take(&train, ds, m, rng, group_partition, &val, &rest, err)
                 : take(&train, ds, m, rng, 1, &val, &rest, err);
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

/* The samples every protocol but official-test draws from. */
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

/* Checks what can be checked before drawing; *blame names the split
 * parameter a failure is about, when one is. */
static vb_status check_conf(const vb_split_conf *c, const vb_dataset *ds, const char **blame, vb_error *err)
{
    const char *name = ds->name ? ds->name : "?";
    if (c->protocol == VB_PROTO_HOLDOUT && !(c->test_fraction > 0 && c->test_fraction < 1))
        return vb_fail(err, VB_ERR_PARAM, "split.test_fraction must be between 0 and 1, not %g", c->test_fraction);
    if ((c->protocol == VB_PROTO_KFOLD || c->protocol == VB_PROTO_GROUP_KFOLD) && (c->k < 2 || c->k > 1000))
        return vb_fail(err, VB_ERR_PARAM, "split.k must be 2..1000, not %d", c->k);
    if (c->repeats < 1 || c->repeats > 1000)
        return vb_fail(err, VB_ERR_PARAM, "split.repeats must be 1..1000, not %d", c->repeats);
    if (c->repeats > 1 && c->protocol != VB_PROTO_KFOLD && c->protocol != VB_PROTO_HOLDOUT) {
        *blame = "repeats";
        return vb_fail(err, VB_ERR_PARAM, "repeats: %d applies to protocol: kfold or holdout, not %s", c->repeats,
                       vb_protocol_name(c->protocol));
    }
    if (c->official_test && c->protocol != VB_PROTO_KFOLD && c->protocol != VB_PROTO_GROUP_KFOLD) {
        *blame = "official_test";
        return vb_fail(err, VB_ERR_PARAM, "official_test applies to protocol: kfold or group_kfold, not %s",
                       vb_protocol_name(c->protocol));
    }
    if (c->protocol == VB_PROTO_LOO && c->max_folds < 1)
        return vb_fail(err, VB_ERR_PARAM, "split.max_folds must be at least 1, not %d", c->max_folds);
    if (!(c->validation >= 0 && c->validation < 1))
        return vb_fail(err, VB_ERR_PARAM, "split.validation must be in [0, 1), not %g", c->validation);
    if ((c->protocol == VB_PROTO_OFFICIAL || c->official_test) && !ds->part)
        return vb_fail(err, VB_ERR_DATA,
                       "dataset '%s' has no official test part; use protocol: holdout or kfold, "
                       "or give the dataset a test part",
                       name);
    if (c->protocol == VB_PROTO_GROUP_KFOLD && !ds->group) {
        *blame = "protocol";
        return vb_fail(err, VB_ERR_DATA,
                       "group_kfold needs a group per image, and dataset '%s' (%s) has no group column; add "
                       "`group: COLUMN` to its descriptor (format: csv, a column of the manifest's header)",
                       name, ds->source ? ds->source : "inline");
    }
    if (is_multilabel(ds) && (!ds->Y || ds->n_classes < 1))
        return vb_fail(err, VB_ERR_INTERNAL, "dataset '%s' is multilabel but has no label sets", name);
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

/* Folds fi0 .. fi0 + k - 1 of s from the part of every pool sample
 * (part_of, indexed by sample): fold f tests the samples of part f and
 * trains on the others. */
static vb_status folds_of_parts(vb_split *s, size_t fi0, const ilist *all, const size_t *part_of, size_t k,
                                vb_fold_kind kind, int repeat, const vb_split_conf *conf, const vb_dataset *ds,
                                vb_error *err)
{
    vb_status st = VB_OK;
    for (size_t f = 0; st == VB_OK && f < k; f++) {
        ilist tr = {vb_calloc(all->n, sizeof(size_t), err), 0}, te = {vb_calloc(all->n, sizeof(size_t), err), 0};
        if (!tr.v || !te.v) {
            free(tr.v);
            free(te.v);
            return VB_ERR_NOMEM;
        }
        for (size_t i = 0; i < all->n; i++) {
            if (part_of[all->v[i]] == f)
                te.v[te.n++] = all->v[i];
            else
                tr.v[tr.n++] = all->v[i];
        }
        char name[32];
        int number = (int)f + 1; /* k <= 1000, loo <= max_folds */
        if (kind == VB_FOLD_REPEAT)
            snprintf(name, sizeof name, "r%d-fold%d", repeat, number);
        else
            snprintf(name, sizeof name, "%s%d", kind == VB_FOLD_LOO ? "loo" : "fold", number);
        size_t fi = fi0 + f;
        st = make_fold(&s->folds[fi], name, kind, tr, te, conf, ds, 1 + fi, err);
        s->folds[fi].repeat = repeat;
        s->folds[fi].number = number;
    }
    return st;
}

/* holdout: `repeats` independent stratified draws of the test part; the
 * first is the single holdout of the same seed. */
static vb_status make_holdout(vb_split *s, const vb_split_conf *conf, const vb_dataset *ds, vb_rng *rng,
                              vb_error *err)
{
    ilist all = {0};
    vb_status st = select_part(ds, pool_part(conf, ds), &all, err);
    for (int r = 0; st == VB_OK && r < conf->repeats; r++) {
        vb_rng *rr = r == 0 ? rng : vb_rng_new(vb_seed_derive(conf->seed, "split", (uint64_t)r));
        if (!rr) {
            st = vb_fail(err, VB_ERR_NOMEM, "out of memory");
            break;
        }
        ilist a = {0}, b = {0};
        st = take(&all, ds, (size_t)llround(conf->test_fraction * (double)all.n), rr, 1, &b, &a, err);
        if (rr != rng)
            vb_rng_free(rr);
        char name[32];
        if (conf->repeats > 1)
            snprintf(name, sizeof name, "r%d-holdout", r + 1);
        else
            snprintf(name, sizeof name, "holdout");
        if (st == VB_OK)
            st = make_fold(&s->folds[r], name, conf->repeats > 1 ? VB_FOLD_REPEATED_HOLDOUT : VB_FOLD_HOLDOUT, a, b,
                           conf, ds, (uint64_t)r, err);
        s->folds[r].repeat = conf->repeats > 1 ? r + 1 : 0;
    }
    free(all.v);
    return st;
}

/* kfold and group_kfold: the folds of every repeat (group_kfold has one),
 * then the official-test fold when asked. */
static vb_status make_kfold(vb_split *s, const vb_split_conf *conf, const vb_dataset *ds, const ilist *all,
                            const char **blame, vb_error *err)
{
    vb_status st = VB_OK;
    int grouped = conf->protocol == VB_PROTO_GROUP_KFOLD;
    if (grouped) {
        size_t n_groups;
        st = count_groups(all, ds, &n_groups, err);
        if (st == VB_OK && n_groups < (size_t)conf->k) {
            *blame = "k";
            return vb_fail(err, VB_ERR_DATA, "the pool has %zu group%s (column '%s'), fewer than the k = %d folds; "
                                             "lower k to %zu or less",
                           n_groups, n_groups == 1 ? "" : "s", ds->group_column ? ds->group_column : "group",
                           conf->k, n_groups);
        }
    } else
        st = check_kfold_pool(all, ds, conf->k, err);
    for (int r = 0; st == VB_OK && r < conf->repeats; r++) {
        vb_rng *rr = vb_rng_new(vb_seed_derive(conf->seed, grouped ? "group_kfold" : "kfold", (uint64_t)r));
        size_t *fold_of = vb_calloc(ds->n, sizeof *fold_of, err);
        if (!rr || !fold_of)
            st = vb_fail(err, VB_ERR_NOMEM, "out of memory");
        if (st == VB_OK && grouped) {
            uint64_t *ones = vb_calloc((size_t)conf->k, sizeof *ones, err);
            for (int f = 0; ones && f < conf->k; f++)
                ones[f] = 1;
            st = ones ? group_partition(all, ds, ones, conf->k, rr, fold_of, err) : VB_ERR_NOMEM;
            free(ones);
        } else if (st == VB_OK)
            st = deal_folds(all, ds, conf->k, rr, fold_of, err);
        int repeated = conf->repeats > 1;
        if (st == VB_OK)
            st = folds_of_parts(s, (size_t)r * (size_t)conf->k, all, fold_of, (size_t)conf->k,
                                repeated ? VB_FOLD_REPEAT : VB_FOLD_CV, repeated ? r + 1 : 0, conf, ds, err);
        free(fold_of);
        vb_rng_free(rr);
    }
    if (st == VB_OK && conf->official_test) {
        ilist tr = {vb_calloc(all->n ? all->n : 1, sizeof(size_t), err), all->n}, b = {0};
        if (!tr.v)
            return VB_ERR_NOMEM;
        memcpy(tr.v, all->v, all->n * sizeof *tr.v);
        st = select_part(ds, VB_PART_TEST, &b, err);
        if (st == VB_OK)
            st = make_fold(&s->folds[s->n_folds - 1], "test", VB_FOLD_OFFICIAL_TEST, tr, b, conf, ds, 0, err);
        else
            free(tr.v);
    }
    return st;
}

/* loo: one fold per pool sample, at most max_folds. */
static vb_status make_loo(vb_split *s, const vb_split_conf *conf, const vb_dataset *ds, const ilist *all,
                          vb_error *err)
{
    size_t *fold_of = vb_calloc(ds->n, sizeof *fold_of, err);
    if (!fold_of)
        return VB_ERR_NOMEM;
    for (size_t i = 0; i < all->n; i++)
        fold_of[all->v[i]] = i;
    vb_status st = folds_of_parts(s, 0, all, fold_of, all->n, VB_FOLD_LOO, 0, conf, ds, err);
    free(fold_of);
    return st;
}

/* The learning-curve folds after the n_base folds of s: for every fold f
 * and fraction q < 1, a stratified subsample of f's training part of
 * round(q n) images (at least one per class present), its validation and
 * test parts as they are. Each subsample has a seed of its own, so the
 * points of one fold are independent draws, the same in every run. */
static vb_status make_curve(vb_split *s, const vb_split_conf *conf, const vb_dataset *ds, size_t n_base,
                            const char **blame, vb_error *err)
{
    size_t at = n_base;
    vb_status st = VB_OK;
    for (size_t f = 0; st == VB_OK && f < n_base; f++)
        for (size_t c = 0; st == VB_OK && c < conf->n_curve; c++) {
            int q = conf->curve[c];
            if (q >= 1000)
                continue;
            const vb_fold *base = &s->folds[f];
            vb_fold *fo = &s->folds[at++];
            /* "fold1@25%", "holdout@2.5%" (base names are short: at most 20 kept) */
            char pct[16];
            if (q % 10)
                snprintf(pct, sizeof pct, "@%d.%d%%", q / 10 % 100, q % 10);
            else
                snprintf(pct, sizeof pct, "@%d%%", q / 10 % 100);
            size_t bl = strnlen(base->name, 20);
            memcpy(fo->name, base->name, bl);
            memcpy(fo->name + bl, pct, strlen(pct) + 1);
            fo->kind = VB_FOLD_CURVE;
            fo->repeat = (int)f + 1;
            fo->number = q;
            size_t m = (size_t)llround(q / 1000.0 * (double)base->n_train);
            if (m < (size_t)ds->n_classes)
                m = (size_t)ds->n_classes;
            if (m > base->n_train)
                m = base->n_train;
            vb_rng *rng = vb_rng_new(vb_seed_derive(conf->seed, "curve", (uint64_t)(f * VB_SPLIT_MAX_CURVE + c)));
            ilist in = {base->train, base->n_train}, taken = {0}, rest = {0};
            st = rng ? take(&in, ds, m, rng, 1, &taken, &rest, err) : vb_fail(err, VB_ERR_NOMEM, "out of memory");
            vb_rng_free(rng);
            free(rest.v);
            fo->train = taken.v;
            fo->n_train = taken.n;
            fo->val = base->n_val ? vb_malloc(base->n_val, sizeof *fo->val, err) : NULL;
            fo->test = vb_malloc(base->n_test ? base->n_test : 1, sizeof *fo->test, err);
            if (st == VB_OK && ((base->n_val && !fo->val) || !fo->test))
                st = VB_ERR_NOMEM;
            if (st == VB_OK) {
                if (base->n_val)
                    memcpy(fo->val, base->val, base->n_val * sizeof *fo->val);
                memcpy(fo->test, base->test, base->n_test * sizeof *fo->test);
                fo->n_val = base->n_val;
                fo->n_test = base->n_test;
            }
            if (st == VB_OK && fo->n_train == 0) {
                *blame = "learning_curve";
                st = vb_fail(err, VB_ERR_DATA, "learning-curve fold '%s' has no training samples", fo->name);
            }
        }
    return st;
}

vb_status vb_split_make(const vb_split_conf *conf, const vb_dataset *ds, vb_split **out, vb_error *err)
{
    return vb_split_make_blame(conf, ds, out, NULL, err);
}

vb_status vb_split_make_blame(const vb_split_conf *conf, const vb_dataset *ds, vb_split **out, const char **param,
                              vb_error *err)
{
    *out = NULL;
    const char *blame = NULL;
    if (param)
        *param = NULL;
    vb_status st = check_conf(conf, ds, &blame, err);
    vb_rng *rng = st == VB_OK ? vb_rng_new(vb_seed_derive(conf->seed, "split", 0)) : NULL;
    if (st == VB_OK && !rng)
        st = vb_fail(err, VB_ERR_NOMEM, "out of memory");
    /* the pool the folding protocols deal out, limited first */
    ilist all = {0};
    if (st == VB_OK && folds_limited_pool(conf))
        st = kfold_pool(conf, ds, rng, &all, err);
    if (st == VB_OK && conf->protocol == VB_PROTO_LOO && (all.n < 2 || all.n > (size_t)conf->max_folds)) {
        blame = all.n < 2 ? "protocol" : "max_folds";
        st = all.n < 2 ? vb_fail(err, VB_ERR_DATA, "leave-one-out needs at least 2 images in the pool, not %zu",
                                 all.n)
                       : vb_fail(err, VB_ERR_DATA,
                                 "leave-one-out would run %zu folds (one per pool image), more than max_folds = %d; "
                                 "use protocol: kfold (k: 10 is common), or raise max_folds",
                                 all.n, conf->max_folds);
    }
    size_t n_folds = 1;
    if (conf->protocol == VB_PROTO_HOLDOUT)
        n_folds = (size_t)conf->repeats;
    else if (conf->protocol == VB_PROTO_KFOLD)
        n_folds = (size_t)conf->k * (size_t)conf->repeats + (conf->official_test ? 1 : 0);
    else if (conf->protocol == VB_PROTO_GROUP_KFOLD)
        n_folds = (size_t)conf->k + (conf->official_test ? 1 : 0);
    else if (conf->protocol == VB_PROTO_LOO)
        n_folds = all.n;
    size_t n_base = n_folds, n_points = 0; /* learning-curve points below the whole training part */
    for (size_t c = 0; c < conf->n_curve; c++)
        n_points += conf->curve[c] < 1000;
    n_folds += n_base * n_points;
    vb_split *s = st == VB_OK ? vb_calloc(1, sizeof *s, err) : NULL;
    if (st == VB_OK && (!s || !(s->folds = vb_calloc(n_folds, sizeof *s->folds, err))))
        st = VB_ERR_NOMEM;
    if (st == VB_OK) {
        s->conf = *conf;
        s->n_samples = ds->n;
        s->data_hash = vb_dataset_hash(ds);
        s->n_folds = n_folds;
        if (conf->protocol == VB_PROTO_HOLDOUT)
            st = make_holdout(s, conf, ds, rng, err);
        else if (conf->protocol == VB_PROTO_OFFICIAL) {
            ilist a = {0}, b = {0};
            st = select_part(ds, VB_PART_TRAIN, &a, err);
            if (st == VB_OK)
                st = select_part(ds, VB_PART_TEST, &b, err);
            if (st == VB_OK)
                st = make_fold(&s->folds[0], "test", VB_FOLD_OFFICIAL_TEST, a, b, conf, ds, 0, err);
            else {
                free(a.v);
                free(b.v);
            }
        } else if (conf->protocol == VB_PROTO_LOO)
            st = make_loo(s, conf, ds, &all, err);
        else
            st = make_kfold(s, conf, ds, &all, &blame, err);
        if (st == VB_OK && n_points)
            st = make_curve(s, conf, ds, n_base, &blame, err);
    }
    free(all.v);
    vb_rng_free(rng);
    if (st != VB_OK) {
        if (param)
            *param = blame;
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
    const char *blame = NULL;
    vb_status st = check_conf(conf, ds, &blame, err);
    if (st != VB_OK)
        return st;
    vb_rng *rng = vb_rng_new(vb_seed_derive(conf->seed, "split", 0));
    if (!rng)
        return vb_fail(err, VB_ERR_NOMEM, "out of memory");
    ilist all = {0}, none = {0};
    st = kfold_pool(conf, ds, rng, &all, err); /* limited here, not again in make_fold */
    vb_rng_free(rng);
    if (st == VB_OK)
        st = make_fold(out, "pool", VB_FOLD_POOL, all, none, conf, ds, UINT64_MAX, err);
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
    vb_buf_puts(&b, "visbench-split 3\n");
    vb_buf_printf(&b, "protocol %s\n", vb_protocol_name(c->protocol));
    vb_buf_printf(&b, "test_fraction ");
    vb_buf_double(&b, c->test_fraction);
    vb_buf_printf(&b, "\nk %d\nrepeats %d\nmax_folds %d\nofficial_test %d\nvalidation ", c->k, c->repeats, c->max_folds,
                  c->official_test);
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
    if (!hdr || strcmp(hdr, "visbench-split 3") != 0)
        st = hdr && (strcmp(hdr, "visbench-split 1") == 0 || strcmp(hdr, "visbench-split 2") == 0)
                 ? bad(&l, err, "a split file of an older visbench (version %c)", hdr[15])
                 : bad(&l, err, "not a visbench split file (version 3)");
    if (st == VB_OK && (st = read_kv(&l, "protocol", &v, err)) == VB_OK && !vb_protocol_parse(v, &s->conf.protocol))
        st = bad(&l, err, "unknown protocol");
    if (st == VB_OK)
        st = read_dbl(&l, "test_fraction", &s->conf.test_fraction, err);
    if (st == VB_OK && (st = read_u64(&l, "k", &x, 0, err)) == VB_OK)
        s->conf.k = x > 1000 ? (st = bad(&l, err, "bad value for 'k'"), 0) : (int)x;
    if (st == VB_OK && (st = read_u64(&l, "repeats", &x, 0, err)) == VB_OK)
        s->conf.repeats = x > 1000 ? (st = bad(&l, err, "bad value for 'repeats'"), 0) : (int)x;
    if (st == VB_OK && (st = read_u64(&l, "max_folds", &x, 0, err)) == VB_OK)
        s->conf.max_folds = x > 100000 ? (st = bad(&l, err, "bad value for 'max_folds'"), 0) : (int)x;
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
