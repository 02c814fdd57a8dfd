/* The job plan: groups of jobs that share features, costs, shards. */
#include "visbench/plan.h"
#include "visbench/ensemble.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Relative cost of extracting features for one image. */
static double extractor_cost(const char *name)
{
    static const struct {
        const char *name;
        double cost;
    } table[] = {{"sift", 8}, {"cnn", 4}, {"gabor", 3}, {"hog", 1},
                 {"lbp", 1},  {"haar", 1}, {"edges", 1}, {"color", 0.5}};
    for (size_t i = 0; i < sizeof table / sizeof *table; i++)
        if (strcmp(name, table[i].name) == 0)
            return table[i].cost;
    return 0.2; /* raw pixels and the like */
}

/* Relative cost of a classifier learning n_train rows (thousands: k). */
static double classifier_cost(const vb_classifier_vt *vt, const vb_params *p, double k)
{
    const char *name = vt->info.name;
    if (strcmp(name, "cnn") == 0)
        return 6.0 * k * (double)vb_param_int(p, "epochs");
    if (strcmp(name, "svm") == 0)
        return 3.0 * k * k; /* kernel rows: quadratic in the training set */
    if (strcmp(name, "forest") == 0)
        return 0.4 * k * (double)vb_param_int(p, "n_trees") / 10.0;
    if (strcmp(name, "boost") == 0)
        return 0.3 * k * (double)vb_param_int(p, "rounds") / 10.0; /* a tree per class and round */
    if (strcmp(name, "knn") == 0)
        return 1.5 * k;
    if (strcmp(name, "br") == 0 || strcmp(name, "chain") == 0 || strcmp(name, "hier") == 0)
        return 8.0 * k; /* one base classifier per label or node */
    return 1.0 * k;
}

/* Training rows of sp on the fold: its images and their augmented copies. */
static double train_rows(const vb_spec_pipeline *sp, const vb_fold *fold)
{
    return (double)fold->n_train * (1 + vb_pipeline_copies(sp, NULL));
}

static double job_cost(const vb_spec_pipeline *sp, const vb_fold *fold)
{
    if (vb_spec_is_ensemble(sp)) {
        /* voting reads its members' scores; stacking fits each member again on inner folds */
        double c = 0.01;
        for (size_t m = 0; sp->ens_method == VB_ENS_STACK && m < sp->n_members; m++)
            c += job_cost(&sp->all[sp->members[m]], fold) * (double)vb_param_int(&sp->ens_params, "folds");
        return c;
    }
    double k = (train_rows(sp, fold) + (double)fold->n_val) / 1000.0;
    double c = classifier_cost(sp->clf, &sp->clf_params, k);
    size_t points = vb_pipeline_points(sp);
    if (points > 1) {
        int folds = vb_tune_folds(sp);
        c *= (double)points * (folds > 0 ? (double)folds : 1.0) + 1.0;
    }
    return c + 0.05 * (double)fold->n_test / 1000.0;
}

/* One extraction of sp's features on the fold (each feature variant is
 * another one). */
static double extraction_cost(const vb_spec_pipeline *sp, const vb_fold *fold)
{
    double per_image = 0;
    for (size_t e = 0; e < sp->n_ext; e++)
        per_image += extractor_cost(sp->ext[e]->info.name);
    return per_image * (train_rows(sp, fold) + (double)(fold->n_val + fold->n_test)) / 1000.0;
}

/* The feature configurations of a pipeline: one per feature variant, or
 * per random draw. */
typedef struct keyset {
    size_t n;
    char **key;
} keyset;

static void keyset_free(keyset *k)
{
    for (size_t i = 0; k->key && i < k->n; i++)
        free(k->key[i]);
    free(k->key);
    memset(k, 0, sizeof *k);
}

static vb_status keyset_of(const vb_spec_pipeline *sp, uint64_t seed, keyset *out, vb_error *err)
{
    size_t n = vb_pipeline_candidates(sp);
    out->n = 0;
    if (!(out->key = vb_calloc(n, sizeof *out->key, err)))
        return VB_ERR_NOMEM;
    for (size_t v = 0; v < n; v++) {
        vb_spec_pipeline c;
        vb_status st = vb_pipeline_candidate(sp, seed, v, &c, NULL, err);
        if (st != VB_OK)
            return st;
        out->key[v] = vb_rows_key_dup(&c, err);
        vb_pipeline_variant_free(&c);
        if (!out->key[v])
            return VB_ERR_NOMEM;
        out->n++;
    }
    return VB_OK;
}

static int keysets_meet(const keyset *a, const keyset *b)
{
    for (size_t i = 0; i < a->n; i++)
        for (size_t j = 0; j < b->n; j++)
            if (strcmp(a->key[i], b->key[j]) == 0)
                return 1;
    return 0;
}

/* Is key i of group member at the first of its configuration in the group
 * (members before it, and its own earlier variants)? Only those are
 * extracted. */
static int key_new(const keyset *sets, const size_t *members, size_t at, size_t i)
{
    for (size_t x = 0; x <= at; x++)
        for (size_t j = 0; j < sets[members[x]].n && !(x == at && j >= i); j++)
            if (strcmp(sets[members[x]].key[j], sets[members[at]].key[i]) == 0)
                return 0;
    return 1;
}

static int group_cmp(const void *a, const void *b)
{
    const vb_job_group *x = a, *y = b;
    if (x->cost != y->cost)
        return x->cost > y->cost ? -1 : 1;
    if (x->fold != y->fold)
        return x->fold < y->fold ? -1 : 1;
    return x->jobs[0].pipeline < y->jobs[0].pipeline ? -1 : x->jobs[0].pipeline > y->jobs[0].pipeline;
}

void vb_plan_free(vb_plan *p)
{
    if (!p)
        return;
    for (size_t g = 0; g < p->n_groups; g++)
        free(p->groups[g].jobs);
    free(p->groups);
    free(p);
}

vb_status vb_plan_make(const vb_spec *spec, const vb_dataset *ds, const vb_split *split, const char *only,
                       vb_plan **out, vb_error *err)
{
    (void)ds;
    *out = NULL;
    size_t P = spec->n_pipelines;
    vb_plan *p = vb_calloc(1, sizeof *p, err);
    keyset *keys = p ? vb_calloc(P ? P : 1, sizeof *keys, err) : NULL;
    size_t *first = keys ? vb_calloc(P ? P : 1, sizeof *first, err) : NULL; /* the group's first pipeline */
    size_t *members = first ? vb_calloc(P ? P : 1, sizeof *members, err) : NULL;
    vb_status st = members ? VB_OK : VB_ERR_NOMEM;
    if (st == VB_OK) {
        p->n_pipelines = P;
        p->n_folds = split->n_folds;
        p->groups = vb_calloc(P * split->n_folds + 1, sizeof *p->groups, err);
        if (!p->groups)
            st = VB_ERR_NOMEM;
    }
    /* Pipelines that share any feature configuration (of any variant) are
     * one group, and so is everything connected to them: a group then holds
     * every user of each extraction it makes. */
    for (size_t i = 0; i < P && st == VB_OK; i++) {
        first[i] = SIZE_MAX;
        if (only && strcmp(only, spec->pipelines[i].name) != 0)
            continue; /* (keys[i] stays empty) */
        first[i] = i;
        if (vb_spec_is_ensemble(&spec->pipelines[i])) {
            /* an ensemble runs where its members run (it reads their scores) */
            const vb_spec_pipeline *e = &spec->pipelines[i];
            for (size_t m = 0; m < e->n_members; m++) {
                size_t j = e->members[m];
                if (first[j] == SIZE_MAX || first[j] == first[i])
                    continue;
                size_t a = first[j], b = first[i], lo = a < b ? a : b, hi = a < b ? b : a;
                for (size_t x = 0; x <= i; x++)
                    if (first[x] == hi)
                        first[x] = lo;
            }
            continue;
        }
        if ((st = keyset_of(&spec->pipelines[i], spec->seed, &keys[i], err)) != VB_OK)
            break;
        for (size_t j = 0; j < i; j++) {
            if (first[j] == SIZE_MAX || !keysets_meet(&keys[j], &keys[i]))
                continue;
            size_t a = first[j], b = first[i], lo = a < b ? a : b, hi = a < b ? b : a;
            for (size_t x = 0; x <= i; x++) /* merge group hi into group lo */
                if (first[x] == hi)
                    first[x] = lo;
        }
    }
    for (size_t f = 0; f < split->n_folds && st == VB_OK; f++) {
        const vb_fold *fold = &split->folds[f];
        for (size_t i = 0; i < P && st == VB_OK; i++) {
            if (first[i] != i)
                continue;
            /* a new group: this pipeline and every later one joined to it */
            vb_job_group *g = &p->groups[p->n_groups];
            size_t n = 0;
            for (size_t j = i; j < P; j++)
                if (first[j] == i)
                    members[n++] = j;
            if (!(g->jobs = vb_calloc(n, sizeof *g->jobs, err))) {
                st = VB_ERR_NOMEM;
                break;
            }
            p->n_groups++;
            g->fold = f;
            for (size_t x = 0; x < n; x++) {
                const vb_spec_pipeline *sj = &spec->pipelines[members[x]];
                for (size_t v = 0; v < keys[members[x]].n; v++)
                    if (key_new(keys, members, x, v))
                        g->cost += extraction_cost(sj, fold);
                vb_job *jb = &g->jobs[g->n_jobs++];
                jb->pipeline = members[x];
                jb->fold = f;
                jb->cost = job_cost(sj, fold);
                g->cost += jb->cost;
            }
            p->n_jobs += g->n_jobs;
            p->total_cost += g->cost;
        }
    }
    for (size_t i = 0; keys && i < P; i++)
        keyset_free(&keys[i]);
    free(keys);
    free(first);
    free(members);
    if (st != VB_OK) {
        vb_plan_free(p);
        return st;
    }
    qsort(p->groups, p->n_groups, sizeof *p->groups, group_cmp);
    *out = p;
    return VB_OK;
}

vb_status vb_plan_shard(const vb_plan *p, size_t i, size_t n, unsigned char *mask, double *cost, vb_error *err)
{
    memset(mask, 0, p->n_folds * p->n_pipelines);
    double *loads = vb_calloc(n, sizeof *loads, err), mine = 0;
    if (!loads)
        return VB_ERR_NOMEM;
    for (size_t g = 0; g < p->n_groups; g++) {
        size_t best = 0;
        for (size_t s = 1; s < n; s++)
            if (loads[s] < loads[best])
                best = s;
        loads[best] += p->groups[g].cost;
        if (best != i)
            continue;
        mine += p->groups[g].cost;
        for (size_t j = 0; j < p->groups[g].n_jobs; j++)
            mask[p->groups[g].jobs[j].fold * p->n_pipelines + p->groups[g].jobs[j].pipeline] = 1;
    }
    free(loads);
    if (cost)
        *cost = mine;
    return VB_OK;
}

int vb_shard_parse(const char *text, size_t *index, size_t *count)
{
    char *end;
    if (!text || *text < '0' || *text > '9')
        return -1;
    unsigned long i = strtoul(text, &end, 10);
    if (*end != '/' || end[1] < '0' || end[1] > '9')
        return -1;
    unsigned long n = strtoul(end + 1, &end, 10);
    if (*end || i < 1 || n < 1 || i > n || n > 100000)
        return -1;
    *index = i - 1;
    *count = n;
    return 0;
}
