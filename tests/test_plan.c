/* plan: jobs grouped by shared features, costs, shards; and that running
 * an experiment by shards or by groups (as MPI workers do) gives exactly
 * the runs of one process. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "support/testutil.h"
#include "visbench/plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static vb_dataset *g_ds; /* synthetic: 3 classes x 18 images of 20 px */

/* six pipelines, three feature configurations: hog cell 4 (a, b, d), hog
 * cell 5 (e), and the pixels: raw (c) and the cnn's input (f) are one */
static const char *spec_text =
    "name: p\nseed: 5\ndataset: synth\nsplit: {protocol: kfold, k: 3}\n"
    "pipelines:\n"
    "  - {name: a, features: [{hog: {cell: 4}}], classifier: {knn: {k: 1}}}\n"
    "  - {name: b, features: [{hog: {cell: 4}}], postprocess: [standardize], classifier: {logreg: {C: 1}}}\n"
    "  - {name: c, features: [raw], classifier: {knn: {k: 3}}}\n"
    "  - {name: d, features: [{hog: {cell: 4}}], classifier: {forest: {n_trees: 5}}}\n"
    "  - {name: e, features: [{hog: {cell: 5}}], classifier: {svm: {kernel: rbf, C: 1}}}\n"
    "  - {name: f, classifier: {cnn: {layers: [conv: {filters: 2, size: 3}, relu, maxpool: 2, flatten, "
    "fc: classes], epochs: 2}}}\n";

static int setup(void **state)
{
    vb_synth_opts o = vb_synth_defaults;
    o.classes = 3;
    o.per_class = 18;
    o.size = 20;
    o.seed = 4;
    vb_error err = {0};
    if (vb_synth_write(&o, "synth", &err) != VB_OK || vb_dataset_load_path("synth", &g_ds, &err) != VB_OK)
        fail_msg("%s", err.msg);
    return 0;
}

static int teardown(void **state)
{
    vb_dataset_free(g_ds);
    return 0;
}

/* a feature grid joins groups: g's variants are a's and e's configurations,
 * so g, a and e are one group; c (the pixels) is another */
static const char *grid_text =
    "name: q\nseed: 5\ndataset: synth\nsplit: {protocol: kfold, k: 3, validation: 0.25}\n"
    "pipelines:\n"
    "  - {name: a, features: [{hog: {cell: 4}}], classifier: {knn: {k: 1}}}\n"
    "  - {name: c, features: [raw], classifier: {knn: {k: 3}}}\n"
    "  - {name: e, features: [{hog: {cell: 5}}], classifier: {logreg: {C: 1}}}\n"
    "  - {name: g, features: [{hog: {cell: [4, 5]}}], classifier: {knn: {k: [1, 3]}}}\n";

static void load_text(const char *text, vb_spec **spec, vb_split **split)
{
    vb_error err = {0};
    if (vb_spec_parse(text, "p.yaml", spec, &err) != VB_OK || vb_split_make(&(*spec)->split, g_ds, split, &err))
        fail_msg("%s", err.msg);
}

static void load(vb_spec **spec, vb_split **split) { load_text(spec_text, spec, split); }

static size_t find(const vb_spec *spec, const char *name)
{
    return (size_t)(vb_spec_find_pipeline(spec, name) - spec->pipelines);
}

static void test_groups(void **state)
{
    vb_spec *spec;
    vb_split *split;
    load(&spec, &split);
    vb_plan *p = NULL;
    vb_error err = {0};
    assert_int_equal(vb_plan_make(spec, g_ds, split, NULL, &p, &err), VB_OK);
    assert_int_equal(p->n_pipelines, 6);
    assert_int_equal(p->n_folds, 3);
    assert_int_equal(p->n_jobs, 18);
    /* three feature configurations per fold */
    assert_int_equal(p->n_groups, 9);
    unsigned char seen[18] = {0};
    for (size_t g = 0; g < p->n_groups; g++) {
        const vb_job_group *gr = &p->groups[g];
        if (g > 0)
            assert_true(p->groups[g - 1].cost >= gr->cost); /* the longest first */
        double sum = 0;
        for (size_t j = 0; j < gr->n_jobs; j++) {
            const vb_job *jb = &gr->jobs[j];
            assert_int_equal(jb->fold, gr->fold);
            if (j > 0)
                assert_true(gr->jobs[j - 1].pipeline < jb->pipeline); /* spec order */
            assert_int_equal(seen[jb->fold * 6 + jb->pipeline]++, 0);
            sum += jb->cost;
            assert_true(jb->cost > 0);
        }
        assert_true(gr->cost >= sum);
        /* a, b and d share the hog features, c and f the pixels; e is alone */
        size_t first = gr->jobs[0].pipeline;
        if (first == find(spec, "a")) {
            assert_int_equal(gr->n_jobs, 3);
            assert_int_equal(gr->jobs[1].pipeline, find(spec, "b"));
            assert_int_equal(gr->jobs[2].pipeline, find(spec, "d"));
        } else if (first == find(spec, "c")) {
            assert_int_equal(gr->n_jobs, 2);
            assert_int_equal(gr->jobs[1].pipeline, find(spec, "f"));
        } else {
            assert_int_equal(first, find(spec, "e"));
            assert_int_equal(gr->n_jobs, 1);
        }
    }
    for (size_t k = 0; k < 18; k++)
        assert_int_equal(seen[k], 1);
    vb_plan_free(p);

    /* only one pipeline: one job per fold */
    assert_int_equal(vb_plan_make(spec, g_ds, split, "b", &p, &err), VB_OK);
    assert_int_equal(p->n_jobs, 3);
    assert_int_equal(p->n_groups, 3);
    for (size_t g = 0; g < 3; g++) {
        assert_int_equal(p->groups[g].n_jobs, 1);
        assert_int_equal(p->groups[g].jobs[0].pipeline, find(spec, "b"));
    }
    vb_plan_free(p);
    vb_split_free(split);
    vb_spec_free(spec);
}

/* A plan made by hand: groups of cost 5, 4, 3, 3, 2 over two shards go
 * 5 -> 0, 4 -> 1, 3 -> 1 (4 < 5), 3 -> 0 (5 < 7), 2 -> 1 (7 < 8). */
static void test_shard_by_hand(void **state)
{
    vb_job jobs[5] = {{0, 0, 5}, {1, 0, 4}, {2, 0, 3}, {0, 1, 3}, {1, 1, 2}};
    vb_job_group groups[5];
    for (size_t g = 0; g < 5; g++)
        groups[g] = (vb_job_group){.fold = jobs[g].fold, .n_jobs = 1, .jobs = &jobs[g], .cost = jobs[g].cost};
    vb_plan p = {.n_pipelines = 3, .n_folds = 2, .n_jobs = 5, .n_groups = 5, .groups = groups, .total_cost = 17};
    unsigned char m0[6], m1[6];
    double c0, c1;
    vb_error err = {0};
    assert_int_equal(vb_plan_shard(&p, 0, 2, m0, &c0, &err), VB_OK);
    assert_int_equal(vb_plan_shard(&p, 1, 2, m1, &c1, &err), VB_OK);
    assert_true(c0 == 8 && c1 == 9);
    /* mask[fold * 3 + pipeline] */
    const unsigned char want0[6] = {1, 0, 0, 1, 0, 0}, want1[6] = {0, 1, 1, 0, 1, 0};
    assert_memory_equal(m0, want0, 6);
    assert_memory_equal(m1, want1, 6);
}

/* Shards of the real plan: disjoint, covering, whole groups, balanced to
 * within the largest group (greedy dealing's bound), the same every time. */
static void test_shards(void **state)
{
    vb_spec *spec;
    vb_split *split;
    load(&spec, &split);
    vb_plan *p = NULL;
    vb_error err = {0};
    assert_int_equal(vb_plan_make(spec, g_ds, split, NULL, &p, &err), VB_OK);
    for (size_t n = 1; n <= 5; n++) {
        unsigned char count[18] = {0}, m[18], again[18];
        double lo = 1e300, hi = 0, total = 0;
        for (size_t i = 0; i < n; i++) {
            double c, c2;
            assert_int_equal(vb_plan_shard(p, i, n, m, &c, &err), VB_OK);
            assert_int_equal(vb_plan_shard(p, i, n, again, &c2, &err), VB_OK);
            assert_memory_equal(m, again, 18);
            for (size_t k = 0; k < 18; k++)
                count[k] += m[k];
            for (size_t g = 0; g < p->n_groups; g++) { /* a group is never split */
                const vb_job_group *gr = &p->groups[g];
                for (size_t j = 1; j < gr->n_jobs; j++)
                    assert_int_equal(m[gr->fold * 6 + gr->jobs[j].pipeline], m[gr->fold * 6 + gr->jobs[0].pipeline]);
            }
            lo = c < lo ? c : lo;
            hi = c > hi ? c : hi;
            total += c;
        }
        for (size_t k = 0; k < 18; k++)
            assert_int_equal(count[k], 1);
        assert_true(total > p->total_cost * (1 - 1e-12) && total < p->total_cost * (1 + 1e-12));
        assert_true(hi - lo <= p->groups[0].cost + 1e-9);
    }
    vb_plan_free(p);
    vb_split_free(split);
    vb_spec_free(spec);
}

static void test_shard_parse(void **state)
{
    size_t i = 9, n = 9;
    assert_int_equal(vb_shard_parse("1/3", &i, &n), 0);
    assert_true(i == 0 && n == 3);
    assert_int_equal(vb_shard_parse("3/3", &i, &n), 0);
    assert_true(i == 2 && n == 3);
    const char *bad[] = {"0/3", "4/3", "a/3", "1/", "/3", "1/3x", "", "1", "-1/3", "1/-3", "1/0"};
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++)
        assert_int_equal(vb_shard_parse(bad[k], &i, &n), -1);
}

/* ---- the same runs, whichever way the plan is cut ---------------------- */

typedef struct rec {
    char key[64];
    size_t n;
    int *pred;
    float *scores;
    double accuracy;
    int shared;
} rec;

typedef struct recorder {
    rec r[64];
    size_t n;
} recorder;

static vb_status on_result(void *user, const vb_run_result *r, vb_error *err)
{
    recorder *c = user;
    assert_true(c->n < 64);
    rec *x = &c->r[c->n++];
    snprintf(x->key, sizeof x->key, "%s/%s", r->pipeline, r->fold);
    x->n = r->n_test;
    x->pred = malloc(r->n_test * sizeof *x->pred);
    x->scores = malloc(r->n_test * (size_t)r->n_classes * sizeof *x->scores);
    memcpy(x->pred, r->pred, r->n_test * sizeof *x->pred);
    memcpy(x->scores, r->scores, r->n_test * (size_t)r->n_classes * sizeof *x->scores);
    x->accuracy = r->metrics->accuracy;
    x->shared = r->features_shared;
    return VB_OK;
}

static void on_failure(void *user, const char *pipeline, const char *fold, const vb_error *e)
{
    fail_msg("%s [%s]: %s", pipeline, fold, e->msg);
}

static const rec *lookup(const recorder *c, const char *key)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->r[i].key, key) == 0)
            return &c->r[i];
    return NULL;
}

static void assert_same_runs(const recorder *a, const recorder *b)
{
    assert_int_equal(a->n, b->n);
    for (size_t i = 0; i < a->n; i++) {
        const rec *x = &a->r[i], *y = lookup(b, x->key);
        if (!y)
            fail_msg("run %s missing", x->key);
        assert_int_equal(x->n, y->n);
        assert_memory_equal(x->pred, y->pred, x->n * sizeof *x->pred);
        assert_memory_equal(x->scores, y->scores, x->n * 3 * sizeof *x->scores);
        assert_true(x->accuracy == y->accuracy);
        assert_int_equal(x->shared, y->shared); /* shared in a group as in a fold */
    }
}

static void recorder_free(recorder *c)
{
    for (size_t i = 0; i < c->n; i++) {
        free(c->r[i].pred);
        free(c->r[i].scores);
    }
}

/* Runs text's experiment whole, as 3 shards and group by group: the same
 * runs each way. */
static void cuts(const char *text, size_t n_jobs)
{
    vb_spec *spec;
    vb_split *split;
    load_text(text, &spec, &split);
    vb_error err = {0};
    size_t failed;
    recorder whole = {0}, shards = {0}, groups = {0};
    vb_run_sink sink = {.user = &whole, .on_result = on_result, .on_failure = on_failure};
    assert_int_equal(vb_experiment_run(spec, g_ds, split, NULL, &sink, &failed, &err), VB_OK);
    assert_int_equal(whole.n, n_jobs);

    /* three shards, each a masked run */
    vb_plan *p = NULL;
    assert_int_equal(vb_plan_make(spec, g_ds, split, NULL, &p, &err), VB_OK);
    sink.user = &shards;
    for (size_t i = 0; i < 3; i++) {
        unsigned char mask[64];
        assert_int_equal(vb_plan_shard(p, i, 3, mask, NULL, &err), VB_OK);
        vb_run_opts opts = {.mask = mask};
        assert_int_equal(vb_experiment_run(spec, g_ds, split, &opts, &sink, &failed, &err), VB_OK);
    }
    assert_same_runs(&whole, &shards);

    /* group by group, the longest first, as MPI workers run them, with one
     * thread and with two */
    sink.user = &groups;
    for (size_t g = 0; g < p->n_groups; g++) {
        size_t idx[8];
        for (size_t j = 0; j < p->groups[g].n_jobs; j++)
            idx[j] = p->groups[g].jobs[j].pipeline;
        vb_set_threads(g % 2 ? 1 : 2);
        assert_int_equal(vb_experiment_run_group(spec, g_ds, split, p->groups[g].fold, idx, p->groups[g].n_jobs,
                                                 &sink, &failed, &err),
                         VB_OK);
        assert_int_equal(failed, 0);
    }
    vb_set_threads(0);
    assert_same_runs(&whole, &groups);

    /* a group out of range is refused, not run */
    size_t idx[1] = {99};
    assert_int_equal(vb_experiment_run_group(spec, g_ds, split, 0, idx, 1, &sink, &failed, &err), VB_ERR_INTERNAL);
    assert_int_equal(vb_experiment_run_group(spec, g_ds, split, 7, idx, 0, &sink, &failed, &err), VB_ERR_INTERNAL);
    recorder_free(&whole);
    recorder_free(&shards);
    recorder_free(&groups);
    vb_plan_free(p);
    vb_split_free(split);
    vb_spec_free(spec);
}

static void test_cuts_give_the_same_runs(void **state) { cuts(spec_text, 18); }

static void test_feature_grid_groups(void **state)
{
    vb_spec *spec;
    vb_split *split;
    load_text(grid_text, &spec, &split);
    vb_plan *p = NULL;
    vb_error err = {0};
    assert_int_equal(vb_plan_make(spec, g_ds, split, NULL, &p, &err), VB_OK);
    assert_int_equal(p->n_groups, 6);
    for (size_t g = 0; g < p->n_groups; g++) {
        const vb_job_group *gr = &p->groups[g];
        if (gr->jobs[0].pipeline == find(spec, "a")) {
            assert_int_equal(gr->n_jobs, 3);
            assert_int_equal(gr->jobs[1].pipeline, find(spec, "e"));
            assert_int_equal(gr->jobs[2].pipeline, find(spec, "g"));
        } else {
            assert_int_equal(gr->jobs[0].pipeline, find(spec, "c"));
            assert_int_equal(gr->n_jobs, 1);
        }
    }
    vb_plan_free(p);
    vb_split_free(split);
    vb_spec_free(spec);
    /* and every way of running it gives the same runs, sharing included */
    cuts(grid_text, 12);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_groups),
        cmocka_unit_test(test_shard_by_hand),
        cmocka_unit_test(test_shards),
        cmocka_unit_test(test_shard_parse),
        cmocka_unit_test(test_cuts_give_the_same_runs),
        cmocka_unit_test(test_feature_grid_groups),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
