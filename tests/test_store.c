/* store: schema round trip, claims, resume and concurrency rules. */
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
    assert_int_equal(vb_store_save_run(s, exp, &f.r, &err), VB_OK);
    assert_int_equal(vb_store_experiment_finish(s, exp, &err), VB_OK);
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
    assert_string_equal(e->version, VB_VERSION);
    assert_non_null(e->finished);
    assert_int_equal(e->n_classes, 2);
    assert_string_equal(e->classes[1], "yes <b>");
    assert_int_equal(e->n_runs, 1);
    const vb_store_run *r = &e->runs[0];
    assert_string_equal(r->pipeline, "a");
    assert_string_equal(r->fold, "fold1");
    assert_string_equal(r->status, "done");
    assert_string_equal(r->config, "cfg");
    assert_string_equal(r->params, "{C: 1}");
    assert_string_equal(r->grid, "C=1");
    assert_string_equal(r->features, "raw 1");
    assert_string_equal(r->model_info, "\"n_sv\": 4");
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
    assert_string_equal(err.msg, "new.db: written by a newer visbench (schema 99 > 1); upgrade visbench");
    /* An empty store has no experiment to show. */
    s = open_ok("empty.db", 0);
    vb_store_exp *e = NULL;
    assert_int_equal(vb_store_load(s, 0, 0, &e, &err), VB_ERR_DATA);
    assert_string_equal(err.msg, "empty.db: the store holds no experiment yet");
    assert_int_equal(vb_store_load(s, 7, 0, &e, &err), VB_ERR_DATA);
    assert_string_equal(err.msg, "empty.db: no experiment 7");
    vb_store_close(s);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_claims),
        cmocka_unit_test(test_claims_across_processes),
        cmocka_unit_test(test_two_handles),
        cmocka_unit_test(test_open_errors),
        cmocka_unit_test(test_read_only_store),
        cmocka_unit_test(test_pipeline_config),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
