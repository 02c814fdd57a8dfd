/* visbench run --mpi: one experiment over the ranks of an MPI job.
 *
 * Rank 0 coordinates: it loaded the spec and the dataset, wrote the split,
 * opened the store and registered the experiment (cmd_run.c); here it
 * plans the jobs (plan.h), claims each group's runs in the store, hands the
 * groups out, the longest first, to whichever worker asks, and imports the
 * runs they send back. It computes nothing itself, and only polls (a
 * millisecond's sleep between looks), so it costs a worker no CPU time.
 *
 * A worker loads the spec and the dataset itself (the path must be shared
 * between hosts), makes the split and checks that spec and split hash are
 * rank 0's, then runs group after group with vb_experiment_run_group: a
 * group is one fold's pipelines with the same features, so features are
 * never extracted twice. Every finished run is saved into the worker's
 * scratch store ($TMPDIR), exported as one SQLite image and sent.
 *
 * Messages (all to or from rank 0):
 *   go      rank 0 -> all (broadcast): start or not, what to agree on
 *   hello   worker -> 0: ready, or why not; host, pid, threads
 *   work    0 -> worker: a group (fold, pipelines) or stop
 *   abort   0 -> worker: skip the rest of the group (rank 0 stops)
 *   report  worker -> 0: a result, a failure, a released run, the group
 *           done, or an error that stops the worker
 *
 * A lost worker: mpirun ends the job when a rank dies, and signals the
 * others; rank 0 hands the unfinished claims back, says which worker it
 * lost (when it ran on rank 0's host) and what was kept, and a rerun of the
 * same command does the rest.
 */
#define _GNU_SOURCE /* sched_getaffinity */
#include "cli.h"
#include "visbench/plan.h"
#include "visbench/store.h"

#include <stdlib.h>
#include <string.h>

#ifndef VB_HAVE_MPI

int cli_mpi_built(void) { return 0; }

vb_status cli_mpi_init(int *rank, int *size, vb_error *err)
{
    *rank = 0;
    *size = 1;
    return vb_fail(err, VB_ERR_SPEC,
                   "this visbench was built without MPI; install OpenMPI (apt-get install openmpi-bin "
                   "libopenmpi-dev, or make deps) and rebuild (make, or make MPI=1), then run mpirun -np N "
                   "visbench run SPEC --mpi");
}

void cli_mpi_go(int ok, const vb_spec *spec, const vb_split *split, int detailed, int json)
{
    (void)ok, (void)spec, (void)split, (void)detailed, (void)json;
}

vb_status cli_mpi_coordinate(const vb_spec *spec, const vb_dataset *ds, const vb_split *split,
                             const vb_run_opts *opts, const vb_run_sink *sink, cli_mpi_import_fn import,
                             size_t *n_failed, vb_error *err)
{
    (void)spec, (void)ds, (void)split, (void)opts, (void)sink, (void)import, (void)n_failed;
    return vb_fail(err, VB_ERR_INTERNAL, "built without MPI");
}

int cli_mpi_worker(const char *spec_path, const vb_run_opts *opts, size_t dataset, int rank)
{
    (void)spec_path, (void)opts, (void)dataset, (void)rank;
    return VB_EXIT_FAIL;
}

void cli_mpi_finalize(void) {}

#else

#include <errno.h>
#include <mpi.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

enum { TAG_HELLO = 1, TAG_WORK, TAG_ABORT, TAG_REPORT };
enum { REP_RESULT = 1, REP_FAILURE, REP_RELEASED, REP_GROUP_DONE, REP_ERROR };

static int started, go_sent, abandoned; /* abandoned: a rank was lost, do not wait for it */

int cli_mpi_built(void) { return 1; }

vb_status cli_mpi_init(int *rank, int *size, vb_error *err)
{
    if (MPI_Init(NULL, NULL) != MPI_SUCCESS)
        return vb_fail(err, VB_ERR_IO, "MPI could not start (MPI_Init failed); run visbench under mpirun");
    started = 1;
    /* errors come back as codes, so a failure here is reported, not an abort */
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, rank);
    MPI_Comm_size(MPI_COMM_WORLD, size);
    return VB_OK;
}

void cli_mpi_finalize(void)
{
    if (started && !abandoned)
        MPI_Finalize();
    started = 0;
}

/* go: ok, detailed, json, spec hash, split hash */
void cli_mpi_go(int ok, const vb_spec *spec, const vb_split *split, int detailed, int json)
{
    if (!started || go_sent)
        return;
    go_sent = 1;
    uint64_t go[5] = {(uint64_t)ok, (uint64_t)detailed, (uint64_t)json, ok ? spec->hash : 0, ok ? split->hash : 0};
    MPI_Bcast(go, 5, MPI_UINT64_T, 0, MPI_COMM_WORLD);
}

/* ---- messages ------------------------------------------------------------ */

/* A report: kind, pipeline, fold, a number, then two byte strings (text,
 * image) with their lengths in the header. */
typedef struct report_head {
    uint64_t kind, pipeline, fold, number, text_len, blob_len;
} report_head;

static int send_report(uint64_t kind, size_t pipeline, size_t fold, uint64_t number, const char *text,
                       size_t text_len, const unsigned char *blob, size_t blob_len)
{
    report_head h = {kind, pipeline, fold, number, text_len, blob_len};
    size_t n = sizeof h + text_len + blob_len;
    if (n > INT32_MAX)
        return -1;
    unsigned char *m = malloc(n);
    if (!m)
        return -1;
    memcpy(m, &h, sizeof h);
    if (text_len)
        memcpy(m + sizeof h, text, text_len);
    if (blob_len)
        memcpy(m + sizeof h + text_len, blob, blob_len);
    int rc = MPI_Send(m, (int)n, MPI_BYTE, 0, TAG_REPORT, MPI_COMM_WORLD);
    free(m);
    return rc == MPI_SUCCESS ? 0 : -1;
}

/* hello: ok, pid, threads, the cores it may run on, then the host and a
 * message */
typedef struct hello {
    int32_t ok, pid, threads, cores;
    char host[64];
    char msg[sizeof(((vb_error *)0)->msg)];
} hello;

/* ---- the worker ---------------------------------------------------------- */

typedef struct worker {
    int rank;
    const vb_spec *spec;
    const vb_dataset *ds;
    vb_store *scratch;
    int64_t exp;
    int detailed, json;
    int aborted; /* rank 0 asked to skip the rest of the group */
    vb_error fatal;
} worker;

static size_t pipeline_index(const worker *w, const char *name)
{
    const vb_spec_pipeline *sp = vb_spec_find_pipeline(w->spec, name);
    return sp ? (size_t)(sp - w->spec->pipelines) : 0;
}

/* Claims the run in the scratch store (saving a run needs its claim),
 * unless rank 0 asked to stop. */
static vb_status w_claim(void *user, const vb_spec_pipeline *sp, const vb_fold *fold, size_t fold_index, int *run,
                         vb_error *err)
{
    worker *w = user;
    int flag = 0;
    MPI_Status ms;
    if (!w->aborted && MPI_Iprobe(0, TAG_ABORT, MPI_COMM_WORLD, &flag, &ms) == MPI_SUCCESS && flag) {
        int dummy;
        MPI_Recv(&dummy, 1, MPI_INT, 0, TAG_ABORT, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        w->aborted = 1;
    }
    if (w->aborted) {
        *run = VB_RUN_DONE;
        return VB_OK;
    }
    vb_claim claim;
    vb_status st = cli_run_claim(w->scratch, w->exp, w->spec, sp, fold, fold_index, 1, &claim, err);
    *run = VB_RUN_IT;
    return st;
}

static void w_release(void *user, const char *pipeline, const char *fold)
{
    worker *w = user;
    vb_error e = {0};
    vb_store_release(w->scratch, w->exp, pipeline, fold, &e);
    send_report(REP_RELEASED, pipeline_index(w, pipeline), 0, 0, fold, strlen(fold), NULL, 0);
}

static vb_status w_result(void *user, const vb_run_result *r, vb_error *err)
{
    worker *w = user;
    vb_run_result with_threads = *r;
    if (with_threads.threads <= 0)
        with_threads.threads = vb_get_threads();
    vb_status st = vb_store_save_run(w->scratch, w->exp, &with_threads, err);
    unsigned char *blob = NULL;
    size_t len = 0;
    if (st == VB_OK)
        st = vb_store_export_run(w->scratch, w->exp, r->pipeline, r->fold, 1, &blob, &len, err);
    vb_buf text;
    vb_buf_init(&text);
    if (st == VB_OK)
        st = cli_run_text(&with_threads, w->ds, w->detailed, w->json, &text, err);
    if (st == VB_OK && send_report(REP_RESULT, pipeline_index(w, r->pipeline), r->fold_index, 0, text.data,
                                   text.len, blob, len) != 0)
        st = vb_fail(err, VB_ERR_IO, "rank %d could not send a result to rank 0", w->rank);
    vb_buf_free(&text);
    free(blob);
    return st;
}

static void w_failure(void *user, const char *pipeline, const char *fold, const vb_error *e)
{
    worker *w = user;
    /* the fold by name: the text is "fold\0message" */
    size_t fl = strlen(fold), ml = strlen(e->msg);
    char *t = malloc(fl + 1 + ml);
    if (!t)
        return;
    memcpy(t, fold, fl + 1);
    memcpy(t + fl + 1, e->msg, ml);
    send_report(REP_FAILURE, pipeline_index(w, pipeline), 0, 0, t, fl + 1 + ml, NULL, 0);
    free(t);
}

/* The worker's loading, as rank 0's: spec, dataset, split, checks. */
static vb_status worker_load(const char *path, const vb_run_opts *opts, size_t dataset, vb_spec **spec,
                             vb_dataset **ds, vb_split **split, vb_error *err)
{
    vb_status st = vb_spec_load(path, spec, err);
    if (st == VB_OK)
        vb_spec_select_dataset(*spec, dataset);
    if (st == VB_OK)
        st = vb_spec_load_dataset(*spec, ds, err);
    if (st == VB_OK)
        st = vb_spec_split(*spec, *ds, split, err);
    if (st == VB_OK)
        st = vb_experiment_check(*spec, *ds, opts, err);
    return st;
}

int cli_mpi_worker(const char *spec_path, const vb_run_opts *opts, size_t dataset, int rank)
{
    vb_error err = {0};
    vb_spec *spec = NULL;
    vb_dataset *ds = NULL;
    vb_split *split = NULL;
    vb_status st = worker_load(spec_path, opts, dataset, &spec, &ds, &split, &err);
    uint64_t go[5];
    if (MPI_Bcast(go, 5, MPI_UINT64_T, 0, MPI_COMM_WORLD) != MPI_SUCCESS || !go[0]) {
        /* rank 0 failed and said why */
        vb_split_free(split);
        vb_dataset_free(ds);
        vb_spec_free(spec);
        return VB_EXIT_FAIL;
    }
    if (st == VB_OK && go[3] != spec->hash)
        st = vb_fail(&err, VB_ERR_DATA,
                     "%s differs from rank 0's (spec hash %016llx vs %016llx); every rank must read the same "
                     "spec file",
                     spec->path, (unsigned long long)spec->hash, (unsigned long long)go[3]);
    if (st == VB_OK && go[4] != split->hash)
        st = vb_fail(&err, VB_ERR_DATA,
                     "its split differs from rank 0's (split hash %016llx vs %016llx); every rank must read the "
                     "same dataset (a shared path on every host)",
                     (unsigned long long)split->hash, (unsigned long long)go[4]);
    /* the scratch store: this rank's own, in $TMPDIR, removed at the end */
    char *scratch_path = NULL;
    worker w = {.rank = rank, .spec = spec, .ds = ds, .detailed = (int)go[1], .json = (int)go[2]};
    if (st == VB_OK) {
        const char *tmp = getenv("TMPDIR");
        scratch_path = vb_asprintf("%s/visbench-rank%d-%ld.db", tmp && *tmp ? tmp : "/tmp", rank, (long)getpid());
        if (!scratch_path)
            st = vb_fail(&err, VB_ERR_NOMEM, "out of memory");
        else if ((st = vb_store_open(scratch_path, 0, &w.scratch, &err)) == VB_OK)
            st = vb_store_experiment(w.scratch, spec, ds, split, &w.exp, &err);
    }
    hello h = {.ok = st == VB_OK, .pid = (int32_t)getpid(), .threads = vb_get_threads(), .cores = 0};
    cpu_set_t cpus;
    if (sched_getaffinity(0, sizeof cpus, &cpus) == 0)
        h.cores = CPU_COUNT(&cpus);
    gethostname(h.host, sizeof h.host - 1);
    snprintf(h.msg, sizeof h.msg, "%s", st == VB_OK ? "" : err.msg);
    MPI_Send(&h, (int)sizeof h, MPI_BYTE, 0, TAG_HELLO, MPI_COMM_WORLD);
    int rc = st == VB_OK ? VB_EXIT_OK : VB_EXIT_FAIL;
    vb_run_sink sink = {.user = &w, .claim = w_claim, .release = w_release, .on_result = w_result,
                        .on_failure = w_failure};
    while (st == VB_OK) {
        int64_t msg[2 + 4096];
        MPI_Status ms;
        if (MPI_Recv(msg, (int)(sizeof msg / sizeof *msg), MPI_INT64_T, 0, TAG_WORK, MPI_COMM_WORLD, &ms) !=
            MPI_SUCCESS)
            break;
        if (msg[0] < 0) /* stop */
            break;
        size_t fold = (size_t)msg[0], n = (size_t)msg[1], idx[4096];
        for (size_t k = 0; k < n && k < 4096; k++)
            idx[k] = (size_t)msg[2 + k];
        w.aborted = 0;
        size_t failed = 0;
        vb_error e = {0};
        st = vb_experiment_run_group(spec, ds, split, fold, idx, n, &sink, &failed, &e);
        if (st != VB_OK) {
            /* an error that stops this worker (out of memory, its scratch
             * store, interrupted): rank 0 says it, with the rank */
            send_report(REP_ERROR, 0, fold, (uint64_t)st, e.msg, strlen(e.msg), NULL, 0);
            rc = st == VB_ERR_INTERRUPTED ? VB_EXIT_INTERRUPTED : VB_EXIT_FAIL;
            break;
        }
        send_report(REP_GROUP_DONE, 0, fold, failed, NULL, 0, NULL, 0);
    }
    vb_store_close(w.scratch);
    if (scratch_path) {
        const char *suffix[] = {"", "-wal", "-shm", "-journal"};
        for (size_t k = 0; k < 4; k++) {
            char *p = vb_asprintf("%s%s", scratch_path, suffix[k]);
            if (p)
                unlink(p);
            free(p);
        }
    }
    free(scratch_path);
    vb_split_free(split);
    vb_dataset_free(ds);
    vb_spec_free(spec);
    return rc;
}

/* ---- rank 0 -------------------------------------------------------------- */

typedef struct wstate {
    int rank, pid, threads, stopped, busy;
    char host[64];
    const vb_job_group *group; /* the group it runs (busy) */
    unsigned char *open;       /* per job of the group: claimed, not yet answered */
    double since, busy_s;      /* when its group started; time spent on groups */
    size_t groups, runs;
} wstate;

typedef struct coord {
    const vb_spec *spec;
    const vb_split *split;
    const vb_run_sink *sink;
    cli_mpi_import_fn import;
    const vb_plan *plan;
    size_t next;      /* next group to hand out */
    wstate *w;
    int n_workers;
    char host[64];
    size_t *n_failed;
    size_t skipped_busy; /* runs another process on the store holds */
    int failing;         /* rank 0 failed: results that still come are handed back, not written */
} coord;

/* Claims the runs of group g; marks those to run in open[]. Returns how many. */
static vb_status claim_group(coord *c, const vb_job_group *g, unsigned char *open, size_t *n, vb_error *err)
{
    *n = 0;
    const vb_fold *fold = &c->split->folds[g->fold];
    for (size_t j = 0; j < g->n_jobs; j++) {
        const vb_spec_pipeline *sp = &c->spec->pipelines[g->jobs[j].pipeline];
        int run = VB_RUN_IT;
        vb_status st = c->sink->claim ? c->sink->claim(c->sink->user, sp, fold, g->fold, &run, err) : VB_OK;
        if (st != VB_OK)
            return st;
        open[j] = run == VB_RUN_IT;
        *n += open[j];
        c->skipped_busy += run == VB_RUN_BUSY;
    }
    return VB_OK;
}

/* Hands worker w its next group with runs to do, or stops it. */
static vb_status dispatch(coord *c, wstate *w, int stopping, vb_error *err)
{
    while (!stopping && c->next < c->plan->n_groups) {
        const vb_job_group *g = &c->plan->groups[c->next++];
        size_t n;
        free(w->open);
        if (!(w->open = vb_calloc(g->n_jobs, 1, err)))
            return VB_ERR_NOMEM;
        vb_status st = claim_group(c, g, w->open, &n, err);
        if (st != VB_OK)
            return st;
        if (!n)
            continue;
        int64_t msg[2 + 4096];
        size_t k = 0;
        msg[0] = (int64_t)g->fold;
        for (size_t j = 0; j < g->n_jobs && k < 4096; j++)
            if (w->open[j])
                msg[2 + k++] = (int64_t)g->jobs[j].pipeline;
        msg[1] = (int64_t)k;
        if (MPI_Send(msg, (int)(2 + k), MPI_INT64_T, w->rank, TAG_WORK, MPI_COMM_WORLD) != MPI_SUCCESS)
            return vb_fail(err, VB_ERR_IO, "could not send work to rank %d (%s)", w->rank, w->host);
        w->group = g;
        w->busy = 1;
        w->since = vb_now();
        w->groups++;
        return VB_OK;
    }
    int64_t stop[2] = {-1, 0};
    MPI_Send(stop, 2, MPI_INT64_T, w->rank, TAG_WORK, MPI_COMM_WORLD);
    w->busy = 0;
    w->stopped = 1;
    return VB_OK;
}

/* The job of w's group for pipeline p, marked answered; NULL if none. */
static const vb_job *answer(wstate *w, size_t p)
{
    if (!w->busy)
        return NULL;
    for (size_t j = 0; j < w->group->n_jobs; j++)
        if (w->group->jobs[j].pipeline == p && w->open[j]) {
            w->open[j] = 0;
            return &w->group->jobs[j];
        }
    return NULL;
}

/* Gives back every claim still open (the experiment stops). */
static void release_open(coord *c)
{
    for (int i = 0; i < c->n_workers; i++) {
        wstate *w = &c->w[i];
        for (size_t j = 0; w->busy && j < w->group->n_jobs; j++)
            if (w->open[j] && c->sink->release) {
                const vb_job *jb = &w->group->jobs[j];
                c->sink->release(c->sink->user, c->spec->pipelines[jb->pipeline].name,
                                 c->split->folds[jb->fold].name);
                w->open[j] = 0;
            }
    }
}

/* One report from worker w. */
static vb_status handle(coord *c, wstate *w, const unsigned char *m, size_t n, int *stopping, vb_error *first,
                        vb_error *err)
{
    report_head h;
    if (n < sizeof h)
        return vb_fail(err, VB_ERR_INTERNAL, "rank %d sent a short message", w->rank);
    memcpy(&h, m, sizeof h);
    if (sizeof h + h.text_len + h.blob_len != n || h.pipeline >= c->spec->n_pipelines)
        return vb_fail(err, VB_ERR_INTERNAL, "rank %d sent a malformed message", w->rank);
    const char *text = (const char *)m + sizeof h;
    const unsigned char *blob = m + sizeof h + h.text_len;
    char *t = strndup(text, h.text_len);
    if (!t)
        return vb_fail(err, VB_ERR_NOMEM, "out of memory");
    vb_status st = VB_OK;
    switch (h.kind) {
    case REP_RESULT:
        answer(w, h.pipeline);
        if (c->failing) {
            if (c->sink->release)
                c->sink->release(c->sink->user, c->spec->pipelines[h.pipeline].name, c->split->folds[h.fold].name);
            break;
        }
        if (h.fold >= c->split->n_folds) {
            st = vb_fail(err, VB_ERR_INTERNAL, "rank %d sent a malformed message", w->rank);
            break;
        }
        st = c->import(c->sink->user, blob, h.blob_len, t, err);
        w->runs++;
        break;
    case REP_FAILURE: { /* "fold\0message" */
        answer(w, h.pipeline);
        size_t fl = strnlen(text, h.text_len);
        char *msg = fl < h.text_len ? strndup(text + fl + 1, h.text_len - fl - 1) : NULL;
        vb_error e = {0};
        snprintf(e.msg, sizeof e.msg, "%s", msg ? msg : "");
        (*c->n_failed)++;
        if (c->sink->on_failure)
            c->sink->on_failure(c->sink->user, c->spec->pipelines[h.pipeline].name, t, &e);
        free(msg);
        break;
    }
    case REP_RELEASED:
        answer(w, h.pipeline);
        if (c->sink->release)
            c->sink->release(c->sink->user, c->spec->pipelines[h.pipeline].name, t);
        break;
    case REP_ERROR:
        if (!first->msg[0]) {
            first->status = h.number ? (vb_status)h.number : VB_ERR_INTERNAL;
            snprintf(first->msg, sizeof first->msg, "rank %d (%s): %.900s", w->rank, w->host, t);
        }
        *stopping = 1;
        /* the worker is done with its group */
        /* fallthrough */
    case REP_GROUP_DONE:
        if (w->busy) {
            w->busy_s += vb_now() - w->since;
            /* runs it never answered (skipped after an abort) go back */
            for (size_t j = 0; j < w->group->n_jobs; j++)
                if (w->open[j] && c->sink->release) {
                    c->sink->release(c->sink->user, c->spec->pipelines[w->group->jobs[j].pipeline].name,
                                     c->split->folds[w->group->fold].name);
                    w->open[j] = 0;
                }
        }
        w->busy = 0;
        if (h.kind == REP_ERROR) { /* that worker has ended */
            w->stopped = 1;
            break;
        }
        st = dispatch(c, w, *stopping, err);
        break;
    default:
        st = vb_fail(err, VB_ERR_INTERNAL, "rank %d sent an unknown message", w->rank);
    }
    free(t);
    return st;
}

/* Is a worker that ran on this host gone (its pid ended)? */
static int lost_here(const coord *c)
{
    for (int i = 0; i < c->n_workers; i++)
        if (!c->w[i].stopped && strcmp(c->w[i].host, c->host) == 0 && vb_proc_start(c->w[i].pid) == 0)
            return 1;
    return 0;
}

static void say_lost(coord *c, double t0)
{
    size_t done = 0;
    for (int i = 0; i < c->n_workers; i++)
        done += c->w[i].runs;
    for (int i = 0; i < c->n_workers; i++) {
        wstate *w = &c->w[i];
        if (strcmp(w->host, c->host) != 0 || vb_proc_start(w->pid) != 0)
            continue;
        char what[300] = "";
        for (size_t j = 0; w->busy && j < w->group->n_jobs; j++)
            if (w->open[j]) {
                snprintf(what, sizeof what, " while running '%s' [%s]",
                         c->spec->pipelines[w->group->jobs[j].pipeline].name,
                         c->split->folds[w->group->fold].name);
                break;
            }
        cli_progress_break();
        fprintf(stderr, "visbench: lost rank %d (pid %d on %s)%s after %.0f s\n", w->rank, w->pid, w->host, what,
                vb_now() - t0);
    }
    fprintf(stderr, "visbench: %zu run%s finished in this job and kept in the store; run the same command again "
                    "to do the rest\n",
            done, done == 1 ? "" : "s");
}

vb_status cli_mpi_coordinate(const vb_spec *spec, const vb_dataset *ds, const vb_split *split,
                             const vb_run_opts *opts, const vb_run_sink *sink, cli_mpi_import_fn import,
                             size_t *n_failed, vb_error *err)
{
    *n_failed = 0;
    int size;
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    coord c = {.spec = spec, .split = split, .sink = sink, .import = import, .n_workers = size - 1,
               .n_failed = n_failed};
    gethostname(c.host, sizeof c.host - 1);
    vb_plan *plan = NULL;
    vb_status st = vb_plan_make(spec, ds, split, opts ? opts->only : NULL, &plan, err);
    if (st != VB_OK)
        return st;
    c.plan = plan;
    for (size_t g = 0; g < plan->n_groups; g++)
        if (plan->groups[g].n_jobs > 4096) {
            vb_plan_free(plan);
            return vb_fail(err, VB_ERR_SPEC, "%s: more than 4096 pipelines share one feature configuration; "
                                             "--mpi hands out at most 4096 at a time", spec->path);
        }
    if (!(c.w = vb_calloc((size_t)c.n_workers, sizeof *c.w, err))) {
        vb_plan_free(plan);
        return VB_ERR_NOMEM;
    }
    /* every worker says it is ready, or why it is not */
    vb_error first = {0};
    for (int i = 0; i < c.n_workers; i++) {
        hello h;
        wstate *w = &c.w[i];
        w->rank = i + 1;
        if (MPI_Recv(&h, (int)sizeof h, MPI_BYTE, w->rank, TAG_HELLO, MPI_COMM_WORLD, MPI_STATUS_IGNORE) !=
            MPI_SUCCESS) {
            st = vb_fail(err, VB_ERR_IO, "rank %d did not report", w->rank);
            break;
        }
        h.host[sizeof h.host - 1] = 0;
        h.msg[sizeof h.msg - 1] = 0;
        w->pid = h.pid;
        w->threads = h.threads;
        snprintf(w->host, sizeof w->host, "%s", h.host);
        /* mpirun binds each rank to one core when there are few ranks: its
         * threads would then take turns on that core */
        if (h.ok && h.cores > 0 && h.cores < h.threads)
            vb_log(VB_LOG_WARN,
                   "rank %d (%s) may run on %d core%s but has %d threads (mpirun binds ranks to cores): give it "
                   "room with mpirun --bind-to none, or --map-by slot:PE=%d",
                   w->rank, w->host, h.cores, h.cores == 1 ? "" : "s", h.threads, h.threads);
        if (!h.ok) {
            w->stopped = 1;
            if (!first.msg[0]) {
                first.status = VB_ERR_DATA;
                snprintf(first.msg, sizeof first.msg, "rank %d (%s): %.900s", w->rank, w->host, h.msg);
            }
        }
    }
    vb_log(VB_LOG_INFO, "MPI: %d worker rank%s, %zu runs in %zu groups (a group shares one feature extraction), "
                        "the longest first",
           c.n_workers, c.n_workers == 1 ? "" : "s", plan->n_jobs, plan->n_groups);
    int stopping = first.msg[0] != 0;
    double t0 = vb_now();
    for (int i = 0; i < c.n_workers && st == VB_OK; i++)
        if (!c.w[i].stopped)
            st = dispatch(&c, &c.w[i], stopping, err);
    /* From here on a failure does not end the loop at once: the workers are
     * told to stop and their last reports drained, so that every rank ends
     * cleanly, unless one is lost (interrupted) or MPI itself fails. */
    vb_status fatal = st;
    vb_error fatal_err = {0};
    if (st != VB_OK && err)
        fatal_err = *err;
    c.failing = st != VB_OK;
    stopping |= c.failing;
    unsigned char *m = NULL;
    size_t cap = 0;
    int interrupted = 0, aborted = 0;
    double abort_at = 0;
    for (;;) {
        int live = 0;
        for (int i = 0; i < c.n_workers; i++)
            live += !c.w[i].stopped;
        if (!live)
            break;
        if (vb_interrupted() && !interrupted) {
            /* Ctrl-C, or mpirun ending the job because a rank was lost */
            interrupted = stopping = 1;
            abort_at = vb_now();
        }
        if (stopping && !aborted) { /* the workers skip the rest of their group */
            aborted = 1;
            for (int i = 0; i < c.n_workers; i++)
                if (!c.w[i].stopped) {
                    int one = 1;
                    MPI_Send(&one, 1, MPI_INT, c.w[i].rank, TAG_ABORT, MPI_COMM_WORLD);
                }
        }
        /* A lost rank never answers, and mpirun soon ends the others: stop
         * at once when one of this host is gone, else after a second. */
        if (interrupted && (lost_here(&c) || vb_now() - abort_at > 1.0)) {
            abandoned = 1;
            break;
        }
        int flag = 0;
        MPI_Status ms;
        if (MPI_Iprobe(MPI_ANY_SOURCE, TAG_REPORT, MPI_COMM_WORLD, &flag, &ms) != MPI_SUCCESS) {
            abandoned = 1;
            st = vb_fail(err, VB_ERR_IO, "MPI failed while waiting for the workers");
            break;
        }
        if (!flag) {
            usleep(1000);
            continue;
        }
        int count;
        MPI_Get_count(&ms, MPI_BYTE, &count);
        if ((size_t)count > cap) {
            unsigned char *grown = realloc(m, (size_t)count);
            if (!grown) {
                abandoned = 1;
                st = vb_fail(err, VB_ERR_NOMEM, "out of memory");
                break;
            }
            m = grown;
            cap = (size_t)count;
        }
        if (MPI_Recv(m, count, MPI_BYTE, ms.MPI_SOURCE, TAG_REPORT, MPI_COMM_WORLD, MPI_STATUS_IGNORE) !=
            MPI_SUCCESS) {
            abandoned = 1;
            st = vb_fail(err, VB_ERR_IO, "MPI failed receiving from rank %d", ms.MPI_SOURCE);
            break;
        }
        if (ms.MPI_SOURCE < 1 || ms.MPI_SOURCE > c.n_workers)
            continue;
        vb_error e = {0};
        vb_status hs = handle(&c, &c.w[ms.MPI_SOURCE - 1], m, (size_t)count, &stopping, &first, &e);
        if (hs != VB_OK && fatal == VB_OK) {
            fatal = hs;
            fatal_err = e;
            c.failing = stopping = 1;
        }
    }
    free(m);
    double wall = vb_now() - t0;
    if (st == VB_OK && fatal == VB_OK && !interrupted && !first.msg[0])
        for (int i = 0; i < c.n_workers; i++) {
            wstate *w = &c.w[i];
            vb_log(VB_LOG_INFO, "rank %d (%s, %d thread%s): %zu group%s, %zu run%s, busy %.1f s, idle %.1f s (%.0f%%)",
                   w->rank, w->host, w->threads, w->threads == 1 ? "" : "s", w->groups, w->groups == 1 ? "" : "s",
                   w->runs, w->runs == 1 ? "" : "s", w->busy_s, wall - w->busy_s,
                   wall > 0 ? 100.0 * (wall - w->busy_s) / wall : 0.0);
        }
    if (c.skipped_busy)
        vb_log(VB_LOG_INFO, "%zu run%s left to another visbench process working on the store", c.skipped_busy,
               c.skipped_busy == 1 ? "" : "s");
    if (st == VB_OK && fatal == VB_OK && interrupted)
        say_lost(&c, t0); /* (before the claims go back: it names the run that was lost) */
    release_open(&c);
    if (st == VB_OK && fatal != VB_OK) {
        st = fatal;
        if (err)
            *err = fatal_err;
    } else if (st == VB_OK && interrupted) {
        st = vb_fail(err, VB_ERR_INTERRUPTED, "stopped before every run was done");
    } else if (st == VB_OK && first.msg[0]) {
        st = first.status;
        if (err)
            *err = first;
    }
    for (int i = 0; i < c.n_workers; i++)
        free(c.w[i].open);
    free(c.w);
    vb_plan_free(plan);
    return st;
}

#endif
