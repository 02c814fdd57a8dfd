/* store: schema round trip, claims, resume and concurrency rules; merging
 * stores and moving a run as an image. */
#define _GNU_SOURCE /* unshare */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "support/testutil.h"
#include "visbench/pipeline.h"
#include "visbench/store.h"

#include <math.h>
#include <sched.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char SPEC[] = "name: st\nseed: 5\ndataset: mem\nsplit: {protocol: kfold, k: 2}\n"
                           "pipelines:\n  - {name: a, classifier: svm}\n  - {name: b, classifier: {svm: {C: 2}}}\n";

/* 2 classes x 4 one-pixel images. */
static vb_dataset *mem_dataset(void)
{
    vb_dataset *ds = vb_dataset_new(8, 0, NULL);
    assert_non_null(ds);
    ds->block = malloc(8);
    for (size_t i = 0; i < 8; i++) {
        ds->block[i] = (uint8_t)(i * 30);
        ds->px[i] = ds->block + i;
        ds->w[i] = ds->h[i] = ds->c[i] = 1;
        ds->labels[i] = (int)(i % 2);
    }
    const char *names[2] = {"no", "yes <b>"};
    assert_int_equal(vb_dataset_set_classes(ds, names, 2, NULL), VB_OK);
    ds->name = strdup("mem");
    vb_dataset_finish(ds);
    return ds;
}

typedef struct fixture {
    vb_spec *spec;
    vb_dataset *ds;
    vb_split *split;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    vb_error err = {0};
    f->ds = mem_dataset();
    if (vb_spec_parse(SPEC, "st.yaml", &f->spec, &err) != VB_OK || vb_split_make(&f->spec->split, f->ds, &f->split, &err))
        fail_msg("%s", err.msg);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    vb_split_free(f->split);
    vb_spec_free(f->spec);
    vb_dataset_free(f->ds);
    free(f);
    return 0;
}

static vb_store *open_ok(const char *path, int ro)
{
    vb_store *s = NULL;
    vb_error err = {0};
    if (vb_store_open(path, ro, &s, &err) != VB_OK)
        fail_msg("%s", err.msg);
    return s;
}

/* The integer a query on a store gives (through SQLite itself). */
static int count_rows(const char *path, const char *sql)
{
    sqlite3 *db;
    sqlite3_stmt *q;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &q, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    int n = sqlite3_column_int(q, 0);
    sqlite3_finalize(q);
    sqlite3_close(db);
    return n;
}

static vb_claim claim_ok(vb_store *s, int64_t exp, const char *pipeline, const char *fold, const char *config, int retry)
{
    vb_claim c;
    vb_error err = {0};
    if (vb_store_claim(s, exp, pipeline, pipeline[0] == 'b', fold, 0, config, retry, &c, &err) != VB_OK)
        fail_msg("%s", err.msg);
    return c;
}

/* A hand-made result: 4 test samples, 2 classes, probabilities, 2 epochs. */
typedef struct fake {
    int truth[4], pred[4];
    size_t idx[4];
    float scores[8];
    vb_metrics m;
    vb_epoch ep[2];
    vb_run_result r;
} fake;

static void fake_result(fake *f, const char *pipeline, const char *fold)
{
    const int truth[4] = {0, 1, 1, 0}, pred[4] = {0, 1, 0, 0};
    const size_t idx[4] = {1, 2, 5, 6};
    /* class-1 scores: positives 0.75, 0.5; negatives 0.25, 0.0 -> AUC 1 */
    const float scores[8] = {0.75f, 0.25f, 0.25f, 0.75f, 0.5f, 0.5f, 1.0f, 0.0f};
    memcpy(f->truth, truth, sizeof truth);
    memcpy(f->pred, pred, sizeof pred);
    memcpy(f->idx, idx, sizeof idx);
    memcpy(f->scores, scores, sizeof scores);
    assert_int_equal(vb_metrics_compute(f->truth, f->pred, 4, 2, &f->m, NULL), VB_OK);
    f->ep[0] = (vb_epoch){1.5, 0.5, 1.25, 0.5, 0.01, 2.0};
    f->ep[1] = (vb_epoch){0.75, 0.75, NAN, NAN, 0.005, 4.0};
    f->r = (vb_run_result){.pipeline = pipeline, .fold = fold, .fold_index = 0, .n_train = 4, .n_val = 0,
                           .n_test = 4, .n_classes = 2, .test_idx = f->idx, .truth = f->truth, .pred = f->pred,
                           .scores = f->scores, .proba = 1, .metrics = &f->m, .extract_s = 0.5, .tune_s = 0.25,
                           .train_s = 1.5, .predict_s = 0.125, .features_shared = 1, .peak_rss_kb = 4096,
                           .model_bytes = 77, .dim = 1, .features = "raw 1", .params = "{C: 1}", .grid = "C=1",
                           .clf_info = "\"n_sv\": 4", .epochs = f->ep, .n_epochs = 2};
}

/* The new tasks' rows: the task, label sets, the multilabel metrics under
 * their names (accuracy = subset accuracy) and per label; the taxonomy,
 * the hierarchical metrics and the confusion per level. */
static void test_tasks_round_trip(void **state)
{
    fixture *fx = *state;
    vb_error err = {0};
    /* multilabel: the mem images with label sets (label 0 on even, 1 on i % 3 == 0) */
    vb_dataset *ds = mem_dataset();
    ds->task = VB_TASK_MULTILABEL;
    ds->Y = calloc(8 * 2, 1);
    for (size_t i = 0; i < 8; i++) {
        ds->Y[i * 2] = i % 2 == 0;
        ds->Y[i * 2 + 1] = i % 3 == 0;
    }
    vb_split *split = NULL;
    assert_int_equal(vb_split_make(&fx->spec->split, ds, &split, &err), VB_OK);
    vb_store *s = open_ok("tasks.db", 0);
    int64_t exp = 0;
    assert_int_equal(vb_store_experiment(s, fx->spec, ds, split, &exp, &err), VB_OK);
    assert_int_equal(claim_ok(s, exp, "a", "fold1", "cfg", 0), VB_CLAIM_RUN);
    fake f;
    fake_result(&f, "a", "fold1");
    const uint8_t T[8] = {1, 1, 0, 0, 1, 0, 0, 1}, P[8] = {1, 1, 0, 1, 1, 0, 0, 0};
    vb_ml_metrics ml;
    assert_int_equal(vb_ml_metrics_compute(T, P, f.scores, 4, 2, &ml, &err), VB_OK);
    f.r.metrics = NULL;
    f.r.ml = &ml;
    f.r.task = VB_TASK_MULTILABEL;
    f.r.truth_sets = T;
    f.r.pred_sets = P;
    assert_int_equal(vb_store_save_run(s, exp, &f.r, &err), VB_OK);
    vb_metrics_free(&f.m);
    vb_store_close(s);
    s = open_ok("tasks.db", 1);
    vb_store_exp *e = NULL;
    assert_int_equal(vb_store_load(s, exp, 1, &e, &err), VB_OK);
    assert_string_equal(e->task, "multilabel");
    assert_null(e->tax);
    const vb_store_run *r = &e->runs[0];
    assert_int_equal(r->n_pred, 4);
    /* predictions come back by sample (1, 2, 5, 6: the order written) */
    assert_memory_equal(r->truth_sets, T, 8);
    assert_memory_equal(r->pred_sets, P, 8);
    /* two of four sets right; 1 wrong decision of 8 */
    assert_float_equal(vb_store_metric(r, "accuracy"), 0.5, 1e-12);
    assert_float_equal(vb_store_metric(r, "subset_accuracy"), 0.5, 1e-12);
    assert_float_equal(vb_store_metric(r, "hamming_loss"), 2.0 / 8, 1e-12);
    assert_true(isnan(vb_store_metric(r, "balanced_accuracy")));
    assert_float_equal(r->precision[1], ml.precision[1], 1e-12);
    assert_int_equal(r->support[0], 2);
    vb_store_exp_free(e);
    vb_store_close(s);
    vb_ml_metrics_free(&ml);
    vb_split_free(split);
    vb_dataset_free(ds);

    /* hierarchical: both classes under one group */
    ds = mem_dataset();
    ds->task = VB_TASK_HIER;
    ds->tax = vb_taxonomy_new(2, 3, &err);
    const char *names[3] = {"no", "yes <b>", "g"};
    for (int v = 0; v < 3; v++) {
        ds->tax->names[v] = strdup(names[v]);
        ds->tax->parent[v] = v < 2 ? 2 : -1;
    }
    assert_int_equal(vb_taxonomy_finish(ds->tax, "t", &err), VB_OK);
    assert_int_equal(vb_split_make(&fx->spec->split, ds, &split, &err), VB_OK);
    s = open_ok("tasks.db", 0);
    assert_int_equal(vb_store_experiment(s, fx->spec, ds, split, &exp, &err), VB_OK);
    assert_int_equal(claim_ok(s, exp, "a", "fold1", "cfg", 0), VB_CLAIM_RUN);
    fake_result(&f, "a", "fold1");
    vb_hier_metrics hm;
    assert_int_equal(vb_hier_metrics_compute(ds->tax, f.truth, f.pred, 4, &hm, &err), VB_OK);
    f.r.task = VB_TASK_HIER;
    f.r.tax = ds->tax;
    f.r.hier = &hm;
    assert_int_equal(vb_store_save_run(s, exp, &f.r, &err), VB_OK);
    vb_metrics_free(&f.m);
    vb_store_close(s);
    s = open_ok("tasks.db", 1);
    assert_int_equal(vb_store_load(s, exp, 1, &e, &err), VB_OK);
    assert_string_equal(e->task, "hierarchical");
    assert_non_null(e->tax);
    assert_int_equal(vb_taxonomy_hash(e->tax), vb_taxonomy_hash(ds->tax));
    r = &e->runs[0];
    /* 3 of 4 leaves right; every path shares the group: hF = (4 + 3) / 8 */
    assert_float_equal(vb_store_metric(r, "accuracy"), 0.75, 1e-12);
    assert_float_equal(vb_store_metric(r, "hierarchical_f1"), 7.0 / 8, 1e-12);
    assert_float_equal(vb_store_metric(r, "level1_accuracy"), 1.0, 1e-12);
    assert_float_equal(vb_store_metric(r, "level2_accuracy"), 0.75, 1e-12);
    /* level 1: one cell (g, g) of 4; level 2: three cells */
    size_t n1 = 0, c1 = 0, n2 = 0;
    for (size_t q = 0; q < r->n_level_conf; q++) {
        if (r->lc_level[q] == 1) {
            n1++;
            c1 += r->lc_count[q];
            assert_int_equal(r->lc_true[q], 2);
        } else
            n2++;
    }
    assert_int_equal(n1, 1);
    assert_int_equal(c1, 4);
    assert_int_equal(n2, 3);
    vb_store_exp_free(e);
    vb_store_close(s);
    vb_hier_metrics_free(&hm);
    vb_split_free(split);
    vb_dataset_free(ds);
}

static void test_round_trip(void **state)
{
    fixture *fx = *state;
    vb_store *s = open_ok("rt.db", 0);
    int64_t exp = 0;
    vb_error err = {0};
    assert_int_equal(vb_store_experiment(s, fx->spec, fx->ds, fx->split, &exp, &err), VB_OK);
    assert_int_equal(exp, 1);
    assert_int_equal(claim_ok(s, exp, "a", "fold1", "cfg", 0), VB_CLAIM_RUN);
    fake f;
    fake_result(&f, "a", "fold1");
    f.r.threads = 3;
    f.r.started = 1700000000.25;  /* 2023-11-14T22:13:20.250Z */
    f.r.finished = 1700000061.5;
    assert_int_equal(vb_store_save_run(s, exp, &f.r, &err), VB_OK);
    /* A run the runner gave no times or thread count: the claim's time, the
     * save's, thread count unknown. */
    assert_int_equal(claim_ok(s, exp, "b", "fold1", "cfg", 0), VB_CLAIM_RUN);
    fake g;
    fake_result(&g, "b", "fold1");
    assert_int_equal(vb_store_save_run(s, exp, &g.r, &err), VB_OK);
    vb_store_close(s);

    s = open_ok("rt.db", 1);
    vb_store_exp *e = NULL;
    assert_int_equal(vb_store_load(s, 0, 1, &e, &err), VB_OK);
    assert_int_equal(e->id, 1);
    assert_string_equal(e->name, "st");
    assert_string_equal(e->spec_text, SPEC);
    assert_string_equal(e->dataset, "mem");
    assert_string_equal(e->protocol, "kfold");
    char hash[17];
    vb_split_hash_text(fx->split, hash);
    assert_string_equal(e->split_hash, hash);
    assert_int_equal(e->seed, 5);
    assert_non_null(e->created);
    assert_non_null(e->updated);
    assert_true(strcmp(e->updated, e->created) >= 0);
    assert_int_equal(e->n_classes, 2);
    assert_string_equal(e->classes[1], "yes <b>");
    assert_int_equal(e->n_runs, 2);
    const vb_store_run *r = &e->runs[0];
    /* provenance, per run */
    assert_int_equal(r->threads, 3);
    assert_string_equal(r->started, "2023-11-14T22:13:20.250Z");
    assert_string_equal(r->finished, "2023-11-14T22:14:21.500Z");
    assert_string_equal(r->version, VB_VERSION);
    assert_true(strncmp(r->compiler, "gcc ", 4) == 0 || strncmp(r->compiler, "clang ", 6) == 0);
    char host[128] = "";
    gethostname(host, sizeof host - 1);
    assert_string_equal(r->host, host);
    assert_non_null(strstr(r->cpu, " cores"));
    const vb_store_run *r2 = &e->runs[1];
    assert_int_equal(r2->threads, 0);
    assert_non_null(r2->started);
    assert_non_null(r2->finished);
    assert_true(strcmp(r2->started, r2->finished) <= 0);
    assert_true(strcmp(r2->finished, e->created) >= 0);
    assert_string_equal(e->updated, r2->finished); /* the last run written */
    /* what each fold is, as data; what the split drew from */
    assert_int_equal(count_rows("rt.db", "SELECT count(*) FROM folds WHERE kind = 'cv' AND repeat IS NULL"
                                         " AND number = fold_index + 1"),
                     2);
    assert_string_equal(e->pool, "train");
    assert_int_equal(count_rows("rt.db", "SELECT count(*) FROM experiments WHERE pool = 'train'"), 1);
    assert_int_equal(count_rows("rt.db", "SELECT count(*) FROM runs WHERE json_valid(params) AND json_valid(model_info)"
                                         " AND json_extract(params, '$.C') = 1 AND model_info ->> 'n_sv' = 4"),
                     2);
    assert_string_equal(r->pipeline, "a");
    assert_string_equal(r->fold, "fold1");
    assert_string_equal(r->status, "done");
    assert_string_equal(r->config, "cfg");
    assert_string_equal(r->params, "{\"C\": 1}"); /* the runner's YAML as JSON */
    assert_string_equal(r->grid, "C=1");
    assert_string_equal(r->features, "raw 1");
    assert_string_equal(r->model_info, "{\"n_sv\": 4}"); /* members in braces */
    assert_int_equal(r->proba, 1);
    assert_int_equal(r->features_shared, 1);
    assert_int_equal(r->n_train, 4);
    assert_int_equal(r->n_test, 4);
    assert_int_equal(r->peak_rss_kb, 4096);
    assert_int_equal(r->model_bytes, 77);
    assert_float_equal(r->extract_s, 0.5, 0);
    assert_float_equal(r->tune_s, 0.25, 0);
    assert_float_equal(r->train_s, 1.5, 0);
    assert_float_equal(r->predict_s, 0.125, 0);
    /* metrics, including those derived from scores */
    assert_float_equal(vb_store_metric(r, "accuracy"), 0.75, 1e-15);
    assert_float_equal(vb_store_metric(r, "macro_f1"), f.m.macro_f1, 1e-15);
    assert_float_equal(vb_store_metric(r, "top2_accuracy"), 1.0, 0);
    assert_float_equal(vb_store_metric(r, "auc_macro"), 1.0, 0);
    double ll = -(log(0.75) + log(0.75) + log(0.5) + log(1.0)) / 4;
    assert_float_equal(vb_store_metric(r, "log_loss"), ll, 1e-6);
    assert_true(isnan(vb_store_metric(r, "top5_accuracy"))); /* only with more than 5 classes */
    assert_true(isnan(vb_store_metric(r, "no such metric")));
    /* per class and confusion */
    assert_float_equal(r->precision[0], 2.0 / 3, 1e-15);
    assert_float_equal(r->recall[1], 0.5, 1e-15);
    assert_int_equal(r->support[0], 2);
    assert_float_equal(r->auc[1], 1.0, 0);
    const size_t conf[4] = {2, 0, 1, 1};
    assert_memory_equal(r->confusion, conf, sizeof conf);
    /* predictions bit for bit */
    assert_int_equal(r->n_pred, 4);
    assert_memory_equal(r->sample, f.idx, sizeof f.idx);
    assert_memory_equal(r->truth, f.truth, sizeof f.truth);
    assert_memory_equal(r->pred, f.pred, sizeof f.pred);
    assert_memory_equal(r->scores, f.scores, sizeof f.scores);
    /* learning curve, NaN kept as missing */
    assert_int_equal(r->n_epochs, 2);
    assert_float_equal(r->epochs[0].train_loss, 1.5, 0);
    assert_float_equal(r->epochs[1].seconds, 4.0, 0);
    assert_true(isnan(r->epochs[1].val_loss));
    vb_store_exp_free(e);

    /* Without predictions, none are loaded. */
    assert_int_equal(vb_store_load(s, 1, 0, &e, &err), VB_OK);
    assert_int_equal(e->runs[0].n_pred, 0);
    vb_store_exp_free(e);
    vb_store_close(s);
    vb_metrics_free(&f.m);
    vb_metrics_free(&g.m);
}

static void test_claims(void **state)
{
    fixture *fx = *state;
    vb_store *s = open_ok("cl.db", 0);
    int64_t exp;
    vb_error err = {0};
    assert_int_equal(vb_store_experiment(s, fx->spec, fx->ds, fx->split, &exp, &err), VB_OK);
    /* The same experiment again gets the same id. */
    int64_t again;
    assert_int_equal(vb_store_experiment(s, fx->spec, fx->ds, fx->split, &again, &err), VB_OK);
    assert_int_equal(again, exp);

    fake f;
    fake_result(&f, "a", "fold1");
    assert_int_equal(claim_ok(s, exp, "a", "fold1", "cfg", 0), VB_CLAIM_RUN);
    assert_int_equal(vb_store_save_run(s, exp, &f.r, &err), VB_OK);
    assert_int_equal(claim_ok(s, exp, "a", "fold1", "cfg", 0), VB_CLAIM_DONE);
    /* A changed configuration replaces the run (and its rows). */
    assert_int_equal(claim_ok(s, exp, "a", "fold1", "cfg2", 0), VB_CLAIM_RUN);
    vb_store_exp *e = NULL;
    assert_int_equal(vb_store_load(s, exp, 1, &e, &err), VB_OK);
    assert_int_equal(e->n_runs, 1);
    assert_string_equal(e->runs[0].status, "running");
    assert_int_equal(e->runs[0].n_metrics, 0);
    vb_store_exp_free(e);
    /* Saving a run this process did not claim is refused. */
    fake g;
    fake_result(&g, "b", "fold1");
    assert_int_equal(vb_store_save_run(s, exp, &g.r, &err), VB_ERR_STATE);
    assert_non_null(strstr(err.msg, "run b [fold1] is not claimed by this process"));

    /* Failures are kept unless retried. */
    assert_int_equal(vb_store_save_failure(s, exp, "a", "fold1", "it broke", &err), VB_OK);
    assert_int_equal(claim_ok(s, exp, "a", "fold1", "cfg2", 0), VB_CLAIM_DONE);
    assert_int_equal(claim_ok(s, exp, "a", "fold1", "cfg2", 1), VB_CLAIM_RUN);
    /* Released claims disappear. */
    assert_int_equal(vb_store_release(s, exp, "a", "fold1", &err), VB_OK);
    assert_int_equal(vb_store_load(s, exp, 0, &e, &err), VB_OK);
    assert_int_equal(e->n_runs, 0);
    vb_store_exp_free(e);
    /* Our own stale claim (an earlier attempt in this process) is taken over. */
    assert_int_equal(claim_ok(s, exp, "b", "fold2", "c", 0), VB_CLAIM_RUN);
    assert_int_equal(claim_ok(s, exp, "b", "fold2", "c", 0), VB_CLAIM_RUN);
    vb_store_close(s);
    vb_metrics_free(&f.m);
    vb_metrics_free(&g.m);
}

/* A claim by another live process is left alone; once that process is
 * dead (kill -9), the claim is taken over. */
static void test_claims_across_processes(void **state)
{
    fixture *fx = *state;
    vb_error err = {0};
    {
        vb_store *s = open_ok("pr.db", 0);
        int64_t exp;
        assert_int_equal(vb_store_experiment(s, fx->spec, fx->ds, fx->split, &exp, &err), VB_OK);
        vb_store_close(s);
    }
    int to_child[2], to_parent[2];
    assert_int_equal(pipe(to_child), 0);
    assert_int_equal(pipe(to_parent), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* The child claims a run, says so, and waits to be killed. */
        vb_store *s = NULL;
        vb_claim c;
        vb_error e = {0};
        char ok = 'n';
        if (vb_store_open("pr.db", 0, &s, &e) == VB_OK &&
            vb_store_claim(s, 1, "a", 0, "fold1", 0, "cfg", 0, &c, &e) == VB_OK && c == VB_CLAIM_RUN)
            ok = 'y';
        if (write(to_parent[1], &ok, 1) != 1)
            _exit(1);
        char x;
        if (read(to_child[0], &x, 1) < 0)
            _exit(1);
        _exit(0);
    }
    char ok = 0;
    assert_int_equal(read(to_parent[0], &ok, 1), 1);
    assert_int_equal(ok, 'y');
    vb_store *s = open_ok("pr.db", 0);
    assert_int_equal(claim_ok(s, 1, "a", "fold1", "cfg", 0), VB_CLAIM_BUSY);
    /* other runs are still free */
    assert_int_equal(claim_ok(s, 1, "b", "fold1", "cfg", 0), VB_CLAIM_RUN);
    kill(pid, SIGKILL);
    /* Dead but not yet reaped (a zombie): its claims are free already. */
    for (int i = 0; i < 1000 && claim_ok(s, 1, "a", "fold1", "cfg", 0) == VB_CLAIM_BUSY; i++)
        usleep(1000);
    assert_int_equal(claim_ok(s, 1, "a", "fold1", "cfg", 0), VB_CLAIM_RUN);
    int status;
    waitpid(pid, &status, 0);
    assert_int_equal(claim_ok(s, 1, "a", "fold1", "cfg", 0), VB_CLAIM_RUN);
    vb_store_close(s);
    close(to_child[0]);
    close(to_child[1]);
    close(to_parent[0]);
    close(to_parent[1]);
}

/* Two handles on one file (two processes' view): each run is claimed once. */
static void test_two_handles(void **state)
{
    fixture *fx = *state;
    vb_error err = {0};
    vb_store *s1 = open_ok("two.db", 0), *s2 = open_ok("two.db", 0);
    int64_t e1, e2;
    assert_int_equal(vb_store_experiment(s1, fx->spec, fx->ds, fx->split, &e1, &err), VB_OK);
    assert_int_equal(vb_store_experiment(s2, fx->spec, fx->ds, fx->split, &e2, &err), VB_OK);
    assert_int_equal(e1, e2);
    /* Same process, so the owner strings are equal: a second claim of the
     * same run by the same owner is a restart, not a conflict. The store
     * keeps one row per run whatever the interleaving. */
    assert_int_equal(claim_ok(s1, e1, "a", "fold1", "cfg", 0), VB_CLAIM_RUN);
    fake f;
    fake_result(&f, "a", "fold1");
    assert_int_equal(vb_store_save_run(s1, e1, &f.r, &err), VB_OK);
    assert_int_equal(claim_ok(s2, e2, "a", "fold1", "cfg", 0), VB_CLAIM_DONE);
    vb_store_exp *e = NULL;
    assert_int_equal(vb_store_load(s2, e2, 1, &e, &err), VB_OK);
    assert_int_equal(e->n_runs, 1);
    assert_int_equal(e->runs[0].n_pred, 4);
    vb_store_exp_free(e);
    vb_store_close(s1);
    vb_store_close(s2);
    vb_metrics_free(&f.m);
}

/* Eight processes open one new store at the same moment, round after
 * round: none may fail (switching a new file to WAL took a lock that SQLite
 * does not wait for, and one process in a few rounds failed with "database
 * is locked"), and all of them find the one experiment. */
static void test_concurrent_open(void **state)
{
    fixture *fx = *state;
    enum { ROUNDS = 30, PROCS = 8 };
    int failures = 0;
    for (int round = 0; round < ROUNDS; round++) {
        char path[32];
        snprintf(path, sizeof path, "co%d.db", round);
        int gate[2];
        assert_int_equal(pipe(gate), 0);
        pid_t kids[PROCS];
        for (int p = 0; p < PROCS; p++) {
            kids[p] = fork();
            assert_true(kids[p] >= 0);
            if (kids[p] == 0) {
                close(gate[1]);
                char x;
                if (read(gate[0], &x, 1) < 0) /* returns when the parent closes the gate */
                    _exit(2);
                vb_store *s = NULL;
                vb_error e = {0};
                int64_t exp = 0;
                int ok = vb_store_open(path, 0, &s, &e) == VB_OK &&
                         vb_store_experiment(s, fx->spec, fx->ds, fx->split, &exp, &e) == VB_OK && exp == 1;
                if (!ok)
                    fprintf(stderr, "child %d: %s\n", p, e.msg);
                vb_store_close(s);
                _exit(ok ? 0 : 1);
            }
        }
        close(gate[0]);
        close(gate[1]);
        for (int p = 0; p < PROCS; p++) {
            int status = 0;
            assert_int_equal(waitpid(kids[p], &status, 0), kids[p]);
            failures += !WIFEXITED(status) || WEXITSTATUS(status) != 0;
        }
        sqlite3 *db;
        assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
        sqlite3_stmt *q;
        assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM experiments", -1, &q, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_step(q), SQLITE_ROW);
        assert_int_equal(sqlite3_column_int(q, 0), 1);
        sqlite3_finalize(q);
        sqlite3_close(db);
    }
    assert_int_equal(failures, 0);
}

static void test_open_errors(void **state)
{
    vb_store *s = NULL;
    vb_error err = {0};
    assert_int_equal(vb_store_open("missing.db", 1, &s, &err), VB_ERR_IO);
    assert_string_equal(err.msg, "missing.db: cannot open the store: No such file or directory");
    tu_write_text("text.db", "this is not a database, just some text that is long enough to have a header");
    assert_int_not_equal(vb_store_open("text.db", 1, &s, &err), VB_OK);
    assert_non_null(strstr(err.msg, "text.db: "));
    assert_null(s);
    /* A store written by a newer visbench. */
    s = open_ok("new.db", 0);
    vb_store_close(s);
    sqlite3 *db;
    assert_int_equal(sqlite3_open("new.db", &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "UPDATE meta SET value = '99' WHERE key = 'schema_version'", 0, 0, 0), SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(vb_store_open("new.db", 1, &s, &err), VB_ERR_FORMAT);
    assert_string_equal(err.msg, "new.db: written by a newer visbench (schema 99 > 4); upgrade visbench");
    /* a reader leaves no -wal or -shm beside the store, failing or not */
    assert_false(tu_exists("new.db-wal") || tu_exists("new.db-shm"));
    assert_int_equal(mkdir("dir.db", 0755), 0);
    for (int ro = 0; ro < 2; ro++) {
        assert_int_equal(vb_store_open("dir.db", ro, &s, &err), VB_ERR_IO);
        assert_string_equal(err.msg, "dir.db: a folder, not a store; name a file");
    }
    /* An empty store has no experiment to show. */
    s = open_ok("empty.db", 0);
    vb_store_exp *e = NULL;
    assert_int_equal(vb_store_load(s, 0, 0, &e, &err), VB_ERR_DATA);
    assert_string_equal(err.msg, "empty.db: the store holds no experiment yet");
    assert_int_equal(vb_store_load(s, 7, 0, &e, &err), VB_ERR_DATA);
    assert_string_equal(err.msg, "empty.db: no experiment 7");
    vb_store_close(s);
}

/* A store in a folder this user may not write (someone else's results):
 * SQLite cannot make the -shm file and says "attempt to write a readonly
 * database"; the store is read as immutable. As root, a child gives up
 * its rights first; skipped where it cannot. */
static void test_store_in_read_only_folder(void **state)
{
    fixture *fx = *state;
    vb_error err = {0};
    assert_int_equal(mkdir("rodir", 0755), 0);
    vb_store *s = open_ok("rodir/ro.db", 0);
    int64_t exp = 0;
    assert_int_equal(vb_store_experiment(s, fx->spec, fx->ds, fx->split, &exp, &err), VB_OK);
    vb_store_close(s);
    assert_int_equal(chmod("rodir/ro.db", 0444), 0);
    assert_int_equal(chmod("rodir", 0555), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0))
            _exit(77);
        if (access("rodir", W_OK) == 0 || access("rodir/ro.db", R_OK) != 0)
            _exit(77);
        vb_store *r = NULL;
        vb_store_exp *e = NULL;
        vb_error cerr = {0};
        int ok = vb_store_open("rodir/ro.db", 1, &r, &cerr) == VB_OK && vb_store_load(r, 0, 1, &e, &cerr) == VB_OK &&
                 e->id == exp;
        if (!ok)
            fprintf(stderr, "store in a read-only folder: %s\n", cerr.msg);
        _exit(ok ? 0 : 1);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    chmod("rodir", 0755);
    assert_true(WIFEXITED(status));
    if (WEXITSTATUS(status) == 77)
        skip();
    assert_int_equal(WEXITSTATUS(status), 0);
}

/* The experiment row says what is true of the experiment: registering it
 * again (a rerun, another process) changes nothing; an edited spec is
 * recorded and dates the row. */
static void test_experiment_row(void **state)
{
    fixture *fx = *state;
    vb_error err = {0};
    vb_store *s = open_ok("er.db", 0);
    int64_t exp, again;
    assert_int_equal(vb_store_experiment(s, fx->spec, fx->ds, fx->split, &exp, &err), VB_OK);
    vb_store_exp *e = NULL;
    assert_int_equal(vb_store_load(s, exp, 0, &e, &err), VB_OK);
    char created[32], updated[32];
    snprintf(created, sizeof created, "%s", e->created);
    snprintf(updated, sizeof updated, "%s", e->updated);
    vb_store_exp_free(e);
    usleep(2000); /* the times have milliseconds */
    assert_int_equal(vb_store_experiment(s, fx->spec, fx->ds, fx->split, &again, &err), VB_OK);
    assert_int_equal(again, exp);
    assert_int_equal(vb_store_load(s, exp, 0, &e, &err), VB_OK);
    assert_string_equal(e->created, created);
    assert_string_equal(e->updated, updated);
    vb_store_exp_free(e);
    vb_spec *edited = NULL;
    char *text = vb_asprintf("%s  - {name: c, classifier: knn}\n", SPEC);
    assert_int_equal(vb_spec_parse(text, "st.yaml", &edited, &err), VB_OK);
    assert_int_equal(vb_store_experiment(s, edited, fx->ds, fx->split, &again, &err), VB_OK);
    assert_int_equal(again, exp);
    assert_int_equal(vb_store_load(s, exp, 0, &e, &err), VB_OK);
    assert_string_equal(e->created, created);
    assert_true(strcmp(e->updated, updated) > 0);
    assert_string_equal(e->spec_text, text);
    vb_store_exp_free(e);
    vb_spec_free(edited);
    free(text);
    vb_store_close(s);
}

/* The table of contents: every experiment with its run counts. */
static void test_list(void **state)
{
    fixture *fx = *state;
    vb_error err = {0};
    vb_store *s = open_ok("ls.db", 0);
    vb_store_exp_info *l = NULL;
    size_t n = 9;
    assert_int_equal(vb_store_list(s, &l, &n, &err), VB_OK);
    assert_int_equal(n, 0);
    vb_store_list_free(l, n);
    int64_t exp;
    assert_int_equal(vb_store_experiment(s, fx->spec, fx->ds, fx->split, &exp, &err), VB_OK);
    usleep(2000); /* the times have milliseconds: the run's write comes later than the creation */
    fake f;
    fake_result(&f, "a", "fold1");
    assert_int_equal(claim_ok(s, exp, "a", "fold1", "cfg", 0), VB_CLAIM_RUN);
    assert_int_equal(vb_store_save_run(s, exp, &f.r, &err), VB_OK);
    assert_int_equal(claim_ok(s, exp, "a", "fold2", "cfg", 0), VB_CLAIM_RUN);
    assert_int_equal(vb_store_save_failure(s, exp, "a", "fold2", "broke", &err), VB_OK);
    assert_int_equal(claim_ok(s, exp, "b", "fold1", "cfg", 0), VB_CLAIM_RUN); /* running */
    vb_spec *other = NULL;
    assert_int_equal(vb_spec_parse("name: other\ndataset: mem\npipelines:\n  - {name: a, classifier: svm}\n",
                                   "o.yaml", &other, &err),
                     VB_OK);
    int64_t exp2;
    assert_int_equal(vb_store_experiment(s, other, fx->ds, fx->split, &exp2, &err), VB_OK);
    assert_int_equal(vb_store_list(s, &l, &n, &err), VB_OK);
    assert_int_equal(n, 2);
    assert_int_equal(l[0].id, exp);
    assert_string_equal(l[0].name, "st");
    assert_string_equal(l[0].dataset, "mem");
    assert_string_equal(l[0].protocol, "kfold");
    char hash[17];
    vb_split_hash_text(fx->split, hash);
    assert_string_equal(l[0].split_hash, hash);
    assert_int_equal(l[0].n_runs, 3);
    assert_int_equal(l[0].n_done, 1);
    assert_int_equal(l[0].n_failed, 1);
    assert_true(strcmp(l[0].updated, l[0].created) > 0);
    assert_int_equal(l[1].id, exp2);
    assert_string_equal(l[1].name, "other");
    assert_int_equal(l[1].n_runs, 0);
    vb_store_list_free(l, n);
    vb_spec_free(other);
    vb_store_close(s);
    vb_metrics_free(&f.m);
}

/* Each sample's source: its file (folder, CSV) or file and record (IDX,
 * CIFAR), as an absolute path; rewritten when the dataset moved. */
static void test_samples(void **state)
{
    fixture *fx = *state;
    vb_error err = {0};
    char cwd[4096];
    assert_non_null(getcwd(cwd, sizeof cwd));
    vb_dataset *ds = mem_dataset();
    ds->part = calloc(ds->n, 1);
    for (size_t i = 0; i < ds->n; i++)
        ds->part[i] = i < 6 ? VB_PART_TRAIN : VB_PART_TEST;
    assert_int_equal(vb_dataset_add_file(ds, "data/train-images", 0, 6, &err), VB_OK);
    assert_int_equal(vb_dataset_add_file(ds, "/abs/test-images", 6, 2, &err), VB_OK);
    vb_store *s = open_ok("sm.db", 0);
    int64_t exp;
    assert_int_equal(vb_store_experiment(s, fx->spec, ds, fx->split, &exp, &err), VB_OK);
    char *sql = vb_asprintf("SELECT count(*) FROM samples WHERE experiment_id = 1 AND ("
                            "(sample < 6 AND part = 'train' AND file = '%s/data/train-images' AND item = sample) OR"
                            " (sample >= 6 AND part = 'test' AND file = '/abs/test-images' AND item = sample - 6))",
                            cwd);
    assert_int_equal(count_rows("sm.db", sql), 8);
    free(sql);
    /* one file per sample; moved */
    vb_dataset *moved = mem_dataset();
    moved->paths = calloc(moved->n, sizeof *moved->paths);
    for (size_t i = 0; i < moved->n; i++)
        moved->paths[i] = vb_asprintf("/new/%zu.png", i);
    assert_int_equal(vb_store_experiment(s, fx->spec, moved, fx->split, &exp, &err), VB_OK);
    assert_int_equal(count_rows("sm.db", "SELECT count(*) FROM samples WHERE part IS NULL AND item IS NULL"
                                         " AND file = '/new/' || sample || '.png'"),
                     8);
    /* made in memory: no file */
    assert_int_equal(vb_store_experiment(s, fx->spec, fx->ds, fx->split, &exp, &err), VB_OK);
    assert_int_equal(count_rows("sm.db", "SELECT count(*) FROM samples WHERE file IS NULL"), 8);
    vb_store_close(s);
    vb_dataset_free(ds);
    vb_dataset_free(moved);
}

/* What the leaderboard does with a fold is decided by its kind: a single
 * evaluation, the first repetition (pooled predictions, McNemar), a
 * resampled estimate (the corrected t-test). */
static void test_fold_kinds_decide(void **state)
{
    struct {
        vb_fold_kind kind;
        int repeat, test, first, resampled;
    } cases[] = {
        {VB_FOLD_HOLDOUT, 0, 1, 0, 0},          {VB_FOLD_OFFICIAL_TEST, 0, 1, 0, 0},
        {VB_FOLD_CV, 0, 0, 1, 1},               {VB_FOLD_REPEAT, 1, 0, 1, 1},
        {VB_FOLD_REPEAT, 2, 0, 0, 1},           {VB_FOLD_REPEATED_HOLDOUT, 1, 0, 1, 1},
        {VB_FOLD_REPEATED_HOLDOUT, 3, 0, 0, 1}, {VB_FOLD_LOO, 0, 0, 1, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        vb_store_run r = {.fold_kind = cases[i].kind, .fold_repeat = cases[i].repeat};
        assert_int_equal(vb_store_run_is_test(&r), cases[i].test);
        assert_int_equal(vb_store_run_first_repetition(&r), cases[i].first);
        assert_int_equal(vb_store_run_resampled(&r), cases[i].resampled);
    }
}

/* A store written by visbench 0.1.0 (schema 1) is refused, read-only or
 * not, with what to do, and left as it was. */
static void test_schema_1_refused(void **state)
{
    (void)state;
    sqlite3 *db;
    assert_int_equal(sqlite3_open("v1.db", &db), SQLITE_OK);
    assert_int_equal(
        sqlite3_exec(db,
                     "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
                     "INSERT INTO meta VALUES ('schema_version', '1');"
                     "CREATE TABLE experiments(id INTEGER PRIMARY KEY, name TEXT NOT NULL, spec_text TEXT NOT NULL,"
                     " spec_hash TEXT NOT NULL, dataset TEXT NOT NULL, dataset_hash TEXT NOT NULL,"
                     " n_samples INTEGER NOT NULL, protocol TEXT NOT NULL, split_hash TEXT NOT NULL,"
                     " seed INTEGER NOT NULL, n_folds INTEGER NOT NULL, visbench_version TEXT NOT NULL,"
                     " compiler TEXT NOT NULL, cpu TEXT NOT NULL, threads INTEGER NOT NULL, started TEXT NOT NULL,"
                     " finished TEXT, UNIQUE(name, split_hash));"
                     "INSERT INTO experiments VALUES (1, 'st', 'name: st', '0', 'mem', '0', 8, 'kfold', '0', 5, 2,"
                     " '0.1.0', 'gcc', 'cpu', 2, '2024-01-01T00:00:00Z', NULL);",
                     NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);
    const char *want = "v1.db: store schema 1 is from an older visbench, which still reads it; this visbench "
                       "reads and writes schema 4 only. Move v1.db aside (or run with --store NEW.db) and run the "
                       "spec again";
    for (int ro = 0; ro < 2; ro++) {
        vb_store *s = NULL;
        vb_error err = {0};
        assert_int_equal(vb_store_open("v1.db", ro, &s, &err), VB_ERR_FORMAT);
        assert_null(s);
        assert_string_equal(err.msg, want);
    }
    assert_int_equal(count_rows("v1.db", "SELECT count(*) FROM sqlite_master WHERE type = 'table'"), 2);
    assert_int_equal(count_rows("v1.db", "SELECT value FROM meta WHERE key = 'schema_version'"), 1);
    /* A database with tables but none of ours is no store either, and is
     * not written to. */
    assert_int_equal(sqlite3_open("other.db", &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "CREATE TABLE t(x)", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    vb_store *s = NULL;
    vb_error err = {0};
    assert_int_equal(vb_store_open("other.db", 0, &s, &err), VB_ERR_FORMAT);
    assert_string_equal(err.msg, "other.db: not a visbench store (no schema version)");
    assert_int_equal(count_rows("other.db", "SELECT count(*) FROM sqlite_master WHERE type = 'table'"), 1);
    assert_int_equal(count_rows("other.db", "SELECT journal_mode = 'delete' FROM pragma_journal_mode"), 1);
    assert_int_equal(count_rows("v1.db", "SELECT journal_mode = 'delete' FROM pragma_journal_mode"), 1);
}

/* A store on a read-only mount: SQLite cannot create the -shm file its WAL
 * reader needs, so vb_store_open reopens it immutable. The mount is made in
 * a child's own mount namespace (nothing outside sees it); skipped where
 * that is not permitted. */
static void test_read_only_store(void **state)
{
    fixture *fx = *state;
    vb_error err = {0};
    assert_int_equal(mkdir("rosrc", 0755), 0);
    assert_int_equal(mkdir("romnt", 0755), 0);
    vb_store *s = open_ok("rosrc/ro.db", 0);
    int64_t exp = 0;
    assert_int_equal(vb_store_experiment(s, fx->spec, fx->ds, fx->split, &exp, &err), VB_OK);
    assert_int_equal(claim_ok(s, exp, "a", "fold1", "cfg", 0), VB_CLAIM_RUN);
    fake f;
    fake_result(&f, "a", "fold1");
    assert_int_equal(vb_store_save_run(s, exp, &f.r, &err), VB_OK);
    vb_store_close(s);
    vb_metrics_free(&f.m);
    assert_int_not_equal(access("rosrc/ro.db-shm", F_OK), 0); /* closed cleanly: no -shm, no -wal */
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
            mount("rosrc", "romnt", NULL, MS_BIND, NULL) != 0 ||
            mount(NULL, "romnt", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) != 0)
            _exit(77);
        vb_store *r = NULL;
        vb_store_exp *e = NULL;
        vb_error cerr = {0};
        int ok = vb_store_open("romnt/ro.db", 1, &r, &cerr) == VB_OK && vb_store_load(r, 0, 1, &e, &cerr) == VB_OK &&
                 e->n_runs == 1 && e->runs[0].n_pred == 4 && strcmp(vb_store_path(r), "romnt/ro.db") == 0;
        if (!ok)
            fprintf(stderr, "read-only store: %s\n", cerr.msg);
        /* and nothing can write there: a writer says so */
        vb_store *w = NULL;
        ok = ok && vb_store_open("romnt/ro.db", 0, &w, &cerr) != VB_OK && strstr(cerr.msg, "romnt/ro.db: ");
        _exit(ok ? 0 : 1);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    if (WEXITSTATUS(status) == 77)
        skip(); /* no mount namespace here */
    assert_int_equal(WEXITSTATUS(status), 0);
}

/* The configuration text covers the grid, so changing it redoes the run. */
static void test_pipeline_config(void **state)
{
    vb_spec *a = NULL, *b = NULL;
    vb_error err = {0};
    assert_int_equal(vb_spec_parse("name: x\ndataset: d\npipelines:\n  - {name: p, features: [{hog: {cell: 4}}], "
                                   "postprocess: [l2], classifier: {svm: {C: [1, 10]}}}\n",
                                   "x.yaml", &a, &err),
                     VB_OK);
    assert_int_equal(vb_spec_parse("name: x\ndataset: d\npipelines:\n  - {name: p, features: [{hog: {cell: 4}}], "
                                   "postprocess: [l2], classifier: {svm: {C: [1, 100]}}}\n",
                                   "x.yaml", &b, &err),
                     VB_OK);
    vb_buf ca, cb;
    vb_buf_init(&ca);
    vb_buf_init(&cb);
    vb_pipeline_config(&a->pipelines[0], &ca);
    vb_pipeline_config(&b->pipelines[0], &cb);
    assert_non_null(strstr(ca.data, " features: hog{cell: 4, "));
    assert_non_null(strstr(ca.data, " post: l2{}"));
    assert_non_null(strstr(ca.data, " grid: C=1; C=10"));
    assert_string_not_equal(ca.data, cb.data);
    vb_buf_free(&ca);
    vb_buf_free(&cb);
    vb_spec_free(a);
    vb_spec_free(b);
}

/* ---- merge (Slurm shards) and run images (MPI) ---------------------------- */

/* A store at path holding the experiment of spec with, for each of the n
 * (pipeline, fold, how) runs: 'd' done, 'f' failed, 'r' claimed and never
 * finished, 'x' done with other predictions. */
static void shard(const char *path, const vb_spec *spec, const vb_dataset *ds, const vb_split *split,
                  const char *const *runs, size_t n)
{
    vb_error err = {0};
    vb_store *s = open_ok(path, 0);
    int64_t exp = 0;
    assert_int_equal(vb_store_experiment(s, spec, ds, split, &exp, &err), VB_OK);
    for (size_t i = 0; i < n; i++) {
        char pipeline[8], fold[8], how;
        assert_int_equal(sscanf(runs[i], "%7[^/]/%7[^/]/%c", pipeline, fold, &how), 3);
        assert_int_equal(claim_ok(s, exp, pipeline, fold, "cfg", 1), VB_CLAIM_RUN);
        fake f;
        fake_result(&f, pipeline, fold);
        if (how == 'x')
            f.pred[1] = 0;
        if (how == 'd' || how == 'x')
            assert_int_equal(vb_store_save_run(s, exp, &f.r, &err), VB_OK);
        else if (how == 'f')
            assert_int_equal(vb_store_save_failure(s, exp, pipeline, fold, "it broke", &err), VB_OK);
        vb_metrics_free(&f.m);
    }
    vb_store_close(s);
}

/* Loads experiment 1 of a store with its predictions. */
static vb_store_exp *load_all(const char *path)
{
    vb_store *s = open_ok(path, 1);
    vb_store_exp *e = NULL;
    vb_error err = {0};
    if (vb_store_load(s, 1, 1, &e, &err) != VB_OK)
        fail_msg("%s", err.msg);
    vb_store_close(s);
    return e;
}

static const vb_store_run *find(const vb_store_exp *e, const char *pipeline, const char *fold)
{
    for (size_t i = 0; i < e->n_runs; i++)
        if (strcmp(e->runs[i].pipeline, pipeline) == 0 && strcmp(e->runs[i].fold, fold) == 0)
            return &e->runs[i];
    return NULL;
}

/* Two runs hold the same results, row for row. */
static void assert_same_run(const vb_store_run *a, const vb_store_run *b)
{
    assert_non_null(a);
    assert_non_null(b);
    assert_string_equal(a->status, b->status);
    assert_string_equal(a->config, b->config);
    assert_int_equal(a->n_metrics, b->n_metrics);
    for (size_t i = 0; i < a->n_metrics; i++) {
        assert_string_equal(a->metric_names[i], b->metric_names[i]);
        assert_memory_equal(&a->metric_values[i], &b->metric_values[i], sizeof(double));
    }
    assert_int_equal(a->n_pred, b->n_pred);
    assert_memory_equal(a->pred, b->pred, a->n_pred * sizeof *a->pred);
    assert_memory_equal(a->sample, b->sample, a->n_pred * sizeof *a->sample);
    if (a->n_pred)
        assert_memory_equal(a->scores, b->scores, a->n_pred * 2 * sizeof(float));
    if (a->confusion)
        assert_memory_equal(a->confusion, b->confusion, 4 * sizeof(size_t));
    assert_int_equal(a->n_epochs, b->n_epochs);
}

static void test_merge(void **state)
{
    fixture *fx = *state;
    vb_error err = {0};
    const char *a[] = {"a/fold1/d", "b/fold1/f"};
    const char *b[] = {"a/fold2/d", "b/fold2/r"};
    shard("m1.db", fx->spec, fx->ds, fx->split, a, 2);
    shard("m2.db", fx->spec, fx->ds, fx->split, b, 2);
    const char *both[] = {"m1.db", "m2.db"};
    assert_int_equal(vb_store_merge_check(both, 2, &err), VB_OK);
    vb_store *out = open_ok("mo.db", 0);
    vb_merge_report rep;
    assert_int_equal(vb_store_merge_files(out, both, 2, &rep, &err), VB_OK);
    assert_int_equal(rep.experiments_added, 1);
    assert_int_equal(rep.added, 3);     /* a/fold1, b/fold1 (failed), a/fold2 */
    assert_int_equal(rep.unfinished, 1); /* b/fold2: claimed, never finished */
    assert_int_equal(rep.replaced + rep.same + rep.kept, 0);
    vb_store_close(out);
    vb_store_exp *e = load_all("mo.db"), *e1 = load_all("m1.db"), *e2 = load_all("m2.db");
    assert_int_equal(e->n_runs, 3);
    assert_same_run(find(e, "a", "fold1"), find(e1, "a", "fold1"));
    assert_same_run(find(e, "a", "fold2"), find(e2, "a", "fold2"));
    assert_string_equal(find(e, "b", "fold1")->error, "it broke");
    assert_null(find(e, "b", "fold2"));
    /* the experiment whole: classes, folds, samples */
    assert_string_equal(e->classes[1], "yes <b>");
    assert_string_equal(e->spec_text, SPEC);
    assert_string_equal(e->split_hash, e1->split_hash);
    assert_int_equal(count_rows("mo.db", "SELECT count(*) FROM folds"), 2);
    assert_int_equal(count_rows("mo.db", "SELECT count(*) FROM classes"), 2);
    assert_int_equal(count_rows("mo.db", "SELECT count(*) FROM samples"),
                     count_rows("m1.db", "SELECT count(*) FROM samples"));
    vb_store_exp_free(e);
    vb_store_exp_free(e2);

    /* again: nothing changes */
    int metrics = count_rows("mo.db", "SELECT count(*) FROM metrics");
    out = open_ok("mo.db", 0);
    assert_int_equal(vb_store_merge_files(out, both, 2, &rep, &err), VB_OK);
    assert_int_equal(rep.added + rep.replaced + rep.experiments_added, 0);
    assert_int_equal(rep.same, 3);
    vb_store_close(out);
    assert_int_equal(count_rows("mo.db", "SELECT count(*) FROM runs"), 3);
    assert_int_equal(count_rows("mo.db", "SELECT count(*) FROM metrics"), metrics);
    assert_int_equal(count_rows("mo.db", "SELECT count(*) FROM experiments"), 1);

    /* a finished run replaces the failure; a failure does not replace a finished run */
    const char *c[] = {"b/fold1/d", "a/fold1/f"};
    shard("m3.db", fx->spec, fx->ds, fx->split, c, 2);
    const char *third[] = {"m3.db"};
    out = open_ok("mo.db", 0);
    assert_int_equal(vb_store_merge_files(out, third, 1, &rep, &err), VB_OK);
    assert_int_equal(rep.replaced, 1);
    assert_int_equal(rep.kept, 1);
    assert_int_equal(rep.added, 0);
    vb_store_close(out);
    e = load_all("mo.db");
    assert_string_equal(find(e, "b", "fold1")->status, "done");
    assert_same_run(find(e, "a", "fold1"), find(e1, "a", "fold1"));
    vb_store_exp_free(e);
    vb_store_exp_free(e1);

    /* a finished run with other results: refused, naming the run and both
     * files, and the store unchanged */
    const char *d[] = {"b/fold2/d", "a/fold1/x"};
    shard("m4.db", fx->spec, fx->ds, fx->split, d, 2);
    const char *fourth[] = {"m4.db"};
    int runs = count_rows("mo.db", "SELECT count(*) FROM runs");
    out = open_ok("mo.db", 0);
    assert_int_equal(vb_store_merge_files(out, fourth, 1, &rep, &err), VB_ERR_DATA);
    assert_non_null(strstr(err.msg, "run 'a' [fold1]"));
    assert_non_null(strstr(err.msg, "mo.db"));
    assert_non_null(strstr(err.msg, "m4.db"));
    vb_store_close(out);
    assert_int_equal(count_rows("mo.db", "SELECT count(*) FROM runs"), runs); /* b/fold2 not added either */
}

static void test_merge_check(void **state)
{
    fixture *fx = *state;
    vb_error err = {0};
    const char *a[] = {"a/fold1/d"};
    shard("c1.db", fx->spec, fx->ds, fx->split, a, 1);
    /* another spec (a parameter changed), the same data and split */
    char *text = vb_asprintf("%s  - {name: c, classifier: knn}\n", SPEC);
    vb_spec *other = NULL;
    assert_int_equal(vb_spec_parse(text, "st.yaml", &other, &err), VB_OK);
    shard("c2.db", other, fx->ds, fx->split, a, 1);
    const char *specs[] = {"c1.db", "c2.db"};
    assert_int_equal(vb_store_merge_check(specs, 2, &err), VB_ERR_DATA);
    assert_non_null(strstr(err.msg, "another spec"));
    assert_non_null(strstr(err.msg, "c1.db"));
    assert_non_null(strstr(err.msg, "c2.db"));
    /* merging it into a store that holds the first: refused there too */
    vb_store *out = open_ok("c1.db", 0);
    vb_merge_report rep;
    const char *second[] = {"c2.db"};
    assert_int_equal(vb_store_merge_files(out, second, 1, &rep, &err), VB_ERR_DATA);
    assert_non_null(strstr(err.msg, "another spec"));
    vb_store_close(out);
    assert_int_equal(count_rows("c1.db", "SELECT count(*) FROM experiments"), 1);
    /* the same spec on other data: another split */
    vb_dataset *ds = mem_dataset();
    ds->labels[0] = 1;
    ds->labels[1] = 0;
    vb_split *split = NULL;
    assert_int_equal(vb_split_make(&fx->spec->split, ds, &split, &err), VB_OK);
    shard("c3.db", fx->spec, ds, split, a, 1);
    const char *splits[] = {"c1.db", "c3.db"};
    assert_int_equal(vb_store_merge_check(splits, 2, &err), VB_ERR_DATA);
    assert_non_null(strstr(err.msg, "another split"));
    /* a file that is no store, and one that is missing */
    FILE *f = fopen("junk.db", "w");
    fputs("not a database at all, just text that is long enough to be read", f);
    fclose(f);
    const char *junk[] = {"c1.db", "junk.db"};
    assert_int_not_equal(vb_store_merge_check(junk, 2, &err), VB_OK);
    assert_non_null(strstr(err.msg, "junk.db"));
    const char *missing[] = {"c1.db", "nothere.db"};
    assert_int_not_equal(vb_store_merge_check(missing, 2, &err), VB_OK);
    assert_non_null(strstr(err.msg, "nothere.db"));
    assert_int_equal(access("nothere.db", F_OK), -1);
    vb_split_free(split);
    vb_dataset_free(ds);
    vb_spec_free(other);
    free(text);
}

/* MPI: a worker's finished run moves to rank 0 as an image, whole. */
static void test_run_image(void **state)
{
    fixture *fx = *state;
    vb_error err = {0};
    const char *a[] = {"a/fold1/d", "b/fold1/r"};
    shard("w.db", fx->spec, fx->ds, fx->split, a, 2);
    vb_store_exp *before = load_all("w.db");
    vb_store *w = open_ok("w.db", 0);
    unsigned char *blob = NULL;
    size_t len = 0;
    /* only a finished run */
    assert_int_equal(vb_store_export_run(w, 1, "b", "fold1", 1, &blob, &len, &err), VB_ERR_STATE);
    assert_null(blob);
    assert_int_equal(vb_store_export_run(w, 1, "a", "fold1", 1, &blob, &len, &err), VB_OK);
    assert_true(len > 0);
    vb_store_close(w);
    assert_int_equal(count_rows("w.db", "SELECT count(*) FROM runs WHERE pipeline = 'a'"), 0); /* dropped */
    assert_int_equal(count_rows("w.db", "SELECT count(*) FROM metrics"), 0);

    /* rank 0: the run must be its own claim */
    vb_store *s = open_ok("r0.db", 0);
    int64_t exp = 0;
    assert_int_equal(vb_store_experiment(s, fx->spec, fx->ds, fx->split, &exp, &err), VB_OK);
    assert_int_equal(vb_store_import_run(s, exp, blob, len, &err), VB_ERR_STATE);
    assert_int_equal(claim_ok(s, exp, "a", "fold1", "cfg", 0), VB_CLAIM_RUN);
    /* a damaged image: an error, nothing written */
    unsigned char *bad = malloc(len);
    memcpy(bad, blob, len);
    memset(bad + len / 2, 0x5a, len - len / 2);
    assert_int_not_equal(vb_store_import_run(s, exp, bad, len, &err), VB_OK);
    assert_int_not_equal(vb_store_import_run(s, exp, blob, 100, &err), VB_OK);
    free(bad);
    assert_int_equal(vb_store_import_run(s, exp, blob, len, &err), VB_OK);
    vb_store_close(s);
    vb_store_exp *after = load_all("r0.db");
    assert_same_run(find(after, "a", "fold1"), find(before, "a", "fold1"));
    assert_string_equal(find(after, "a", "fold1")->host, find(before, "a", "fold1")->host);
    vb_store_exp_free(after);
    vb_store_exp_free(before);

    /* an image of another experiment is refused */
    char *text = vb_asprintf("%s  - {name: c, classifier: knn}\n", SPEC);
    vb_spec *other = NULL;
    assert_int_equal(vb_spec_parse(text, "st.yaml", &other, &err), VB_OK);
    s = open_ok("r1.db", 0);
    assert_int_equal(vb_store_experiment(s, other, fx->ds, fx->split, &exp, &err), VB_OK);
    assert_int_equal(claim_ok(s, exp, "a", "fold1", "cfg", 0), VB_CLAIM_RUN);
    assert_int_equal(vb_store_import_run(s, exp, blob, len, &err), VB_ERR_DATA);
    assert_non_null(strstr(err.msg, "another experiment"));
    vb_store_close(s);
    assert_int_equal(count_rows("r1.db", "SELECT count(*) FROM runs WHERE status = 'done'"), 0);
    vb_spec_free(other);
    free(text);
    free(blob);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_tasks_round_trip),
        cmocka_unit_test(test_claims),
        cmocka_unit_test(test_claims_across_processes),
        cmocka_unit_test(test_two_handles),
        cmocka_unit_test(test_concurrent_open),
        cmocka_unit_test(test_open_errors),
        cmocka_unit_test(test_store_in_read_only_folder),
        cmocka_unit_test(test_experiment_row),
        cmocka_unit_test(test_samples),
        cmocka_unit_test(test_list),
        cmocka_unit_test(test_schema_1_refused),
        cmocka_unit_test(test_fold_kinds_decide),
        cmocka_unit_test(test_read_only_store),
        cmocka_unit_test(test_pipeline_config),
        cmocka_unit_test(test_merge),
        cmocka_unit_test(test_merge_check),
        cmocka_unit_test(test_run_image),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
