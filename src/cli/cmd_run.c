/* visbench run: every pipeline of a spec on the same split, into a store. */
#include "cli.h"
#include "visbench/plan.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

typedef struct run_ctx {
    vb_store *store;
    int64_t exp;
    const vb_dataset *ds;
    const vb_spec *spec;
    int json, retry_failed;
    size_t ran, kept, by_other;
    size_t n_folds;
    unsigned char *was_busy; /* [pipeline * n_folds + fold]: another process held it */
    vb_store_exp *stored;    /* --json: the experiment as read from the store, for kept runs */
    int detailed;            /* per-run blocks with per-class tables (-v, or a single run) */
    char unreleased[200]; /* a run whose claim could not be handed back */
} run_ctx;

/* One line per finished run; the whole block (sizes, timings, grid, the
 * per-class table) with -v, or when the spec has a single run. */
/* mode: cluster: the clusters and, with labels, how they match them. */
static void print_clusters(FILE *out, const vb_run_result *r)
{
    fprintf(out, "%s [%s]  %d clusters", r->pipeline, r->fold, r->n_clusters);
    if (r->cluster)
        fprintf(out, "  NMI %.4f  ARI %.4f  purity %.4f", r->cluster->nmi, r->cluster->ari, r->cluster->purity);
    fprintf(out, "  %zu samples assigned\n", r->n_assigned);
}

static void print_result(FILE *out, const vb_run_result *r, const vb_dataset *ds, int detailed)
{
    const vb_metrics *m = r->metrics;
    if (r->cluster_mode) {
        print_clusters(out, r);
        if (detailed)
            fprintf(out, "  features %s; extract %.2f s, postprocess %.2f s, train %.2f s, predict %.2f s\n", r->features,
                   r->extract_s, r->postprocess_s, r->train_s, r->predict_s);
        fflush(out);
        return;
    }
    if (r->ml) {
        const vb_ml_metrics *ml = r->ml;
        fprintf(out, "%s [%s]  subset accuracy %.4f  micro-F1 %.4f  macro-F1 %.4f  Hamming loss %.4f", r->pipeline,
               r->fold, ml->subset_accuracy, ml->micro_f1, ml->macro_f1, ml->hamming_loss);
        fprintf(out, "  extract %.2f s  train %.2f s  predict %.2f s%s%s\n", r->extract_s, r->train_s, r->predict_s,
               r->grid ? "  grid " : "", r->grid ? r->grid : "");
        if (detailed) {
            fprintf(out, "  %-22s %9s %8s %8s %8s %8s\n", "label", "precision", "recall", "f1", "auc", "support");
            for (int k = 0; k < ml->n_labels; k++)
                fprintf(out, "  %-22.22s %9.4f %8.4f %8.4f %8.4f %8zu\n", ds->classes[k], ml->precision[k], ml->recall[k],
                       ml->f1[k], ml->auc[k], ml->support[k]);
        }
        fflush(out);
        return;
    }
    if (!detailed) {
        fprintf(out, "%s [%s]  accuracy %.4f  macro-F1 %.4f", r->pipeline, r->fold, m->accuracy, m->macro_f1);
        if (r->hier)
            fprintf(out, "  hF %.4f", r->hier->hf);
        if (r->cluster)
            fprintf(out, "  NMI %.4f  ARI %.4f", r->cluster->nmi, r->cluster->ari);
        fprintf(out, "  extract %.2f s  postprocess %.2f s  tune %.2f s  train %.2f s  predict %.2f s%s%s\n", r->extract_s,
               r->postprocess_s, r->tune_s, r->train_s, r->predict_s, r->grid ? "  grid " : "", r->grid ? r->grid : "");
        fflush(out);
        return;
    }
    fprintf(out, "\n%s [%s]  accuracy %.4f  balanced %.4f  macro-F1 %.4f\n", r->pipeline, r->fold, m->accuracy,
           m->balanced_accuracy, m->macro_f1);
    fprintf(out, "  features %s%s; train %zu, validation %zu, test %zu\n", r->features,
           r->features_shared ? " (shared)" : "", r->n_train, r->n_val, r->n_test);
    fprintf(out, "  extract %.2f s, postprocess %.2f s, tune %.2f s, train %.2f s, predict %.2f s, peak RSS %.0f MB, "
           "model %.1f kB\n",
           r->extract_s, r->postprocess_s, r->tune_s, r->train_s, r->predict_s, (double)r->peak_rss_kb / 1024.0,
           (double)r->model_bytes / 1024.0);
    if (r->grid)
        fprintf(out, "  grid: chose %s (tuning %.2f s)\n", r->grid, r->tune_s);
    fprintf(out, "  %-22s %9s %8s %8s %8s\n", "class", "precision", "recall", "f1", "support");
    for (int k = 0; k < m->n_classes; k++)
        fprintf(out, "  %-22.22s %9.4f %8.4f %8.4f %8zu\n", ds->classes[k], m->precision[k], m->recall[k], m->f1[k],
               m->support[k]);
    fflush(out);
}

/* --json: the object of a run that finished earlier (or that another
 * process finished), read back from the store, marked "kept": true. */
static vb_status print_kept(run_ctx *c, const char *pipeline, const char *fold, vb_error *err)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        for (size_t i = 0; c->stored && i < c->stored->n_runs; i++) {
            const vb_store_run *r = &c->stored->runs[i];
            if (strcmp(r->pipeline, pipeline) != 0 || strcmp(r->fold, fold) != 0 || strcmp(r->status, "done") != 0)
                continue;
            vb_buf b;
            vb_buf_init(&b);
            vb_stored_result_json(r, &b);
            if (b.failed) {
                vb_buf_free(&b);
                return vb_fail(err, VB_ERR_NOMEM, "out of memory");
            }
            cli_progress_break();
            printf("%s\n", b.data);
            fflush(stdout);
            vb_buf_free(&b);
            return VB_OK;
        }
        /* not in the copy read so far (done by another process since): read again */
        vb_store_exp_free(c->stored);
        c->stored = NULL;
        vb_status st = vb_store_load(c->store, c->exp, 0, &c->stored, err);
        if (st != VB_OK)
            return st;
    }
    return VB_OK; /* a failed run: nothing to print */
}

vb_status cli_run_claim(vb_store *store, int64_t exp, const vb_spec *spec, const vb_spec_pipeline *sp,
                        const vb_fold *fold, size_t fold_index, int retry_failed, vb_claim *claim, vb_error *err)
{
    vb_buf config;
    vb_buf_init(&config);
    vb_pipeline_config(sp, &config);
    if (spec->cluster) /* the same pipeline clustering is another run */
        vb_buf_puts(&config, " mode: cluster");
    vb_status st = config.failed ? vb_fail(err, VB_ERR_NOMEM, "out of memory")
                                 : vb_store_claim(store, exp, sp->name, (size_t)(sp - spec->pipelines), fold->name,
                                                  fold_index, config.data, retry_failed, claim, err);
    vb_buf_free(&config);
    return st;
}

vb_status cli_run_text(const vb_run_result *r, const vb_dataset *ds, int detailed, int json, vb_buf *b, vb_error *err)
{
    if (json) {
        vb_result_json(r, ds, 0, b);
        vb_buf_puts(b, "\n");
    } else {
        char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);
        if (!f)
            return vb_fail(err, VB_ERR_NOMEM, "out of memory");
        print_result(f, r, ds, detailed);
        int bad = fclose(f) != 0;
        if (!bad)
            vb_buf_append(b, text, len);
        free(text);
        if (bad)
            return vb_fail(err, VB_ERR_NOMEM, "out of memory");
    }
    return b->failed ? vb_fail(err, VB_ERR_NOMEM, "out of memory") : VB_OK;
}

/* An ensemble's member's stored test predictions. */
static vb_status on_scores(void *user, const char *pipeline, const vb_fold *fold, int n_classes, int **labels,
                           float **scores, int *proba, vb_error *err)
{
    run_ctx *c = user;
    return vb_store_run_predictions(c->store, c->exp, pipeline, fold->name, fold->test, fold->n_test, n_classes,
                                    labels, scores, proba, err);
}

static vb_status on_claim(void *user, const vb_spec_pipeline *sp, const vb_fold *fold, size_t fold_index, int *run,
                          vb_error *err)
{
    run_ctx *c = user;
    vb_claim claim;
    vb_status st = cli_run_claim(c->store, c->exp, c->spec, sp, fold, fold_index, c->retry_failed, &claim, err);
    if (st != VB_OK)
        return st;
    *run = claim == VB_CLAIM_RUN ? VB_RUN_IT : claim == VB_CLAIM_BUSY ? VB_RUN_BUSY : VB_RUN_DONE;
    unsigned char *held = &c->was_busy[(size_t)(sp - c->spec->pipelines) * c->n_folds + fold_index];
    if (claim == VB_CLAIM_BUSY)
        *held = 1;
    else if (claim == VB_CLAIM_DONE && *held)
        c->by_other++;
    else if (claim == VB_CLAIM_DONE)
        c->kept++;
    if (claim == VB_CLAIM_DONE && c->json) /* scripts get every run, kept or new */
        return print_kept(c, sp->name, fold->name, err);
    return VB_OK;
}

/* After the failure that stops the run. When the store cannot take even
 * the release (a full disk), that failure's message says so, rather than a
 * second error: the claim stays until a later run sees that this process
 * has ended and takes the run over. */
static void on_release(void *user, const char *pipeline, const char *fold)
{
    run_ctx *c = user;
    vb_error err = {0};
    if (vb_store_release(c->store, c->exp, pipeline, fold, &err) != VB_OK)
        snprintf(c->unreleased, sizeof c->unreleased, "%s [%s]", pipeline, fold);
}

static vb_status print_text(run_ctx *c, const vb_run_result *r, vb_error *err)
{
    vb_buf b;
    vb_buf_init(&b);
    vb_status st = cli_run_text(r, c->ds, c->detailed, c->json, &b, err);
    if (st == VB_OK) {
        cli_progress_break();
        fwrite(b.data, 1, b.len, stdout);
        fflush(stdout);
    }
    vb_buf_free(&b);
    return st;
}

static vb_status on_result(void *user, const vb_run_result *res, vb_error *err)
{
    run_ctx *c = user;
    /* A runner that does not say how many threads a run had gave it the
     * process's. */
    vb_run_result with_threads = *res;
    if (with_threads.threads <= 0)
        with_threads.threads = vb_get_threads();
    const vb_run_result *r = &with_threads;
    vb_status st = vb_store_save_run(c->store, c->exp, r, err);
    if (st != VB_OK)
        return st;
    c->ran++;
    return print_text(c, r, err);
}

/* MPI: a run a worker finished, as an SQLite image, and its printed text. */
static vb_status on_import(void *user, const unsigned char *blob, size_t len, const char *text, vb_error *err)
{
    run_ctx *c = user;
    vb_status st = vb_store_import_run(c->store, c->exp, blob, len, err);
    if (st != VB_OK)
        return st;
    c->ran++;
    cli_progress_break();
    fputs(text, stdout);
    fflush(stdout);
    return VB_OK;
}

static void on_failure(void *user, const char *pipeline, const char *fold, const vb_error *e)
{
    run_ctx *c = user;
    cli_progress_break();
    fprintf(stderr, "visbench: pipeline '%s' [%s] failed: %s\n", pipeline, fold, e->msg);
    vb_error werr = {0};
    if (vb_store_save_failure(c->store, c->exp, pipeline, fold, e->msg, &werr) != VB_OK)
        fprintf(stderr, "visbench: %s\n", werr.msg);
}

/* Where the split drew its samples from, for the run header and --dry-run:
 * "the training part, 60000 of 70000 images (the test part stays unseen)". */
static void pool_text(const vb_split *split, const vb_dataset *ds, char *out, size_t cap)
{
    const vb_split_conf *c = &split->conf;
    size_t n = vb_split_pool_size(c, ds);
    if (c->protocol == VB_PROTO_OFFICIAL)
        snprintf(out, cap, "the dataset's own parts, %zu training images", n);
    else if (!ds->part)
        snprintf(out, cap, "all %zu images (the dataset has no official test part)", n);
    else if (c->pool == VB_POOL_ALL)
        snprintf(out, cap, "all %zu images, official test part included (pool: all)", n);
    else
        snprintf(out, cap, "the training part, %zu of %zu images (the official test part %s)", n, ds->n,
                 c->official_test ? "is the last fold's test set" : "stays unseen; pool: all to include it");
    if (c->train_limit && c->train_limit < n) {
        size_t len = strlen(out);
        snprintf(out + len, cap - len, ", subsampled to %zu", c->train_limit);
    }
}

/* "3 classes", or "no labels" (labels: false) */
static const char *classes_text(const vb_dataset *ds, char *buf, size_t size)
{
    if (ds->unlabeled)
        snprintf(buf, size, "no labels");
    else if (ds->task == VB_TASK_MULTILABEL)
        snprintf(buf, size, "multilabel, %d labels, %zu images with none", ds->n_classes, ds->n_empty);
    else if (ds->tax)
        snprintf(buf, size, "%d classes in a taxonomy of %d levels", ds->n_classes, ds->tax->max_depth);
    else
        snprintf(buf, size, "%d class%s", ds->n_classes, ds->n_classes == 1 ? "" : "es");
    return buf;
}

/* --dry-run: what would run, with each pipeline's feature size. */
static int print_plan(const vb_spec *spec, const vb_dataset *ds, const vb_split *split, const char *only,
                      vb_error *err)
{
    char hash[17];
    vb_split_hash_text(split, hash);
    char ct[96];
    printf("spec %s: dataset %s (%zu images, %s), %s split %s, %zu fold%s\n", spec->name, ds->name, ds->n,
           classes_text(ds, ct, sizeof ct), vb_protocol_name(split->conf.protocol), hash, split->n_folds,
           split->n_folds == 1 ? "" : "s");
    char pool[160];
    pool_text(split, ds, pool, sizeof pool);
    printf("  pool: %s\n", pool);
    for (size_t f = 0; f < split->n_folds; f++)
        printf("  fold %-10s train %6zu  validation %6zu  test %6zu  (%s)\n", split->folds[f].name,
               split->folds[f].n_train, split->folds[f].n_val, split->folds[f].n_test,
               vb_fold_kind_name(split->folds[f].kind));
    vb_shape in = vb_dataset_input_shape(ds);
    for (size_t i = 0; i < spec->n_pipelines; i++) {
        const vb_spec_pipeline *sp = &spec->pipelines[i];
        if (only && strcmp(only, sp->name) != 0)
            continue;
        if (vb_spec_is_ensemble(sp)) {
            printf("  ensemble %-22s %s of", sp->name, vb_param_str(&sp->ens_params, "method"));
            for (size_t m = 0; m < sp->n_members; m++)
                printf("%s %s", m ? " +" : "", spec->pipelines[sp->members[m]].name);
            printf(sp->clf ? " -> %s\n" : "\n", sp->clf ? sp->clf->info.name : "");
            continue;
        }
        vb_featpipe *fp = NULL;
        vb_postchain *pc = NULL;
        vb_buf d;
        vb_buf_init(&d);
        if (vb_featpipe_new(sp, in, &fp, err) != VB_OK || vb_postchain_new(sp, fp->dim, &pc, err) != VB_OK) {
            vb_featpipe_free(fp);
            return cli_error(err);
        }
        vb_featpipe_describe(fp, &d);
        for (size_t k = 0; k < pc->n; k++)
            vb_buf_printf(&d, " -> %s", pc->post[k]->vt->info.name);
        size_t g = vb_params_grid_size(&sp->clf_params);
        printf("  pipeline %-22s %dx%dx%d images -> %s -> %s", sp->name, fp->shape.w, fp->shape.h, fp->shape.c,
               d.data ? d.data : "", sp->clf->info.name);
        if (g > 1)
            printf(" (grid of %zu points)", g);
        printf("\n");
        vb_buf_free(&d);
        vb_featpipe_free(fp);
        vb_postchain_free(pc);
    }
    return VB_EXIT_OK;
}

/* "results/x.db" -> "results/x.split.txt" */
static char *split_path_of(const char *store)
{
    size_t n = strlen(store);
    if (n > 3 && strcmp(store + n - 3, ".db") == 0)
        n -= 3;
    return vb_asprintf("%.*s.split.txt", (int)n, store);
}

/* "2/4", "0/3", "12/x": digits, a slash, then no dot (no spec file) */
static int looks_like_shard(const char *a)
{
    size_t d = strspn(a, "0123456789");
    return d > 0 && a[d] == '/' && !strchr(a, '.');
}

/* --shard without I/N: the Slurm array task's place in its array. */
static int shard_from_slurm(size_t *index, size_t *count)
{
    const char *id = getenv("SLURM_ARRAY_TASK_ID"), *n = getenv("SLURM_ARRAY_TASK_COUNT");
    const char *min = getenv("SLURM_ARRAY_TASK_MIN");
    long i, c, lo = 0;
    if (!id || !n || !vb_parse_long(id, &i) || !vb_parse_long(n, &c) || (min && !vb_parse_long(min, &lo)))
        return cli_usage("run", "--shard without I/N takes the shard from a Slurm job array "
                                "(SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT), and they are not set; give "
                                "--shard I/N, e.g. --shard 1/4");
    if (c < 1 || i - lo < 0 || i - lo >= c)
        return cli_usage("run", "the Slurm array task %ld is not one of %ld tasks numbered from %ld; submit the "
                                "array as --array=0-%ld (no step) or give --shard I/N",
                         i, c, lo, c - 1);
    *index = (size_t)(i - lo);
    *count = (size_t)c;
    return VB_EXIT_OK;
}

int cli_dataset_choice(const char *cmd, const vb_spec *spec, const char *choice, size_t *index)
{
    long n;
    char label[512];
    if (vb_parse_long(choice, &n)) {
        if (n >= 1 && (size_t)n <= spec->n_datasets) {
            *index = (size_t)n - 1;
            return VB_EXIT_OK;
        }
    } else
        for (size_t i = 0; i < spec->n_datasets; i++)
            if (strcmp(vb_spec_dataset_label(spec, i, label, sizeof label), choice) == 0) {
                *index = i;
                return VB_EXIT_OK;
            }
    vb_buf names;
    vb_buf_init(&names);
    for (size_t i = 0; i < spec->n_datasets; i++)
        vb_buf_printf(&names, "%s%zu = %s", i ? ", " : "", i + 1, vb_spec_dataset_label(spec, i, label, sizeof label));
    int rc = cli_usage(cmd, "--dataset takes one of the spec's %zu dataset%s (%s), not '%s'", spec->n_datasets,
                       spec->n_datasets == 1 ? "" : "s", names.data ? names.data : "", choice);
    vb_buf_free(&names);
    return rc;
}

/* The split file of dataset i: results/x.split.txt, or with several
 * datasets results/x.d2.split.txt. */
static char *split_path_for(const char *store, const vb_spec *spec, size_t i)
{
    if (spec->n_datasets == 1)
        return split_path_of(store);
    size_t n = strlen(store);
    if (n > 3 && strcmp(store + n - 3, ".db") == 0)
        n -= 3;
    return vb_asprintf("%.*s.d%zu.split.txt", (int)n, store, i + 1);
}

/* Datasets of one spec compared with one pipeline need one image size when
 * the spec does not resize them all. */
static vb_status sizes_agree(const vb_spec *spec, vb_dataset *const *ds, const size_t *which, size_t n, vb_error *err)
{
    size_t resized = spec->n_ensembles; /* pipelines that resize every image to one size (ensembles: none of their own) */
    for (size_t p = 0; p < spec->n_pipelines - spec->n_ensembles; p++) {
        const vb_prep_chain *c = &spec->pipelines[p].prep;
        int r = 0;
        for (size_t k = 0; k < c->n; k++)
            r |= strcmp(c->vt[k]->info.name, "resize") == 0;
        resized += r;
    }
    if (resized == spec->n_pipelines || n < 2)
        return VB_OK;
    char la[512], lb[512];
    for (size_t i = 1; i < n; i++)
        if (ds[i]->fixed_w != ds[0]->fixed_w || ds[i]->fixed_h != ds[0]->fixed_h)
            return vb_fail(err, VB_ERR_SPEC,
                           "%s:%d:%d: datasets %s (%dx%d) and %s (%dx%d) have other image sizes; add preprocess: "
                           "[{resize: [w, h]}] to the spec so that every pipeline sees one size",
                           spec->path, spec->dataset_lines[which[i]], spec->dataset_cols[which[i]], vb_spec_dataset_label(spec, which[0], la, sizeof la), ds[0]->fixed_w,
                           ds[0]->fixed_h, vb_spec_dataset_label(spec, which[i], lb, sizeof lb), ds[i]->fixed_w,
                           ds[i]->fixed_h);
    return VB_OK;
}

typedef struct run_args {
    const vb_spec *spec;
    vb_store *store;
    const char *db;
    int json, retry, mpi, n_ranks, sharded;
    size_t shard, n_shards;
    const char *only;
} run_args;

/* Runs the spec on one dataset (the spec's selected one) into the store:
 * split file, experiment, runs, leaderboard. *failed counts failed runs. */
static int run_dataset(const run_args *a, const vb_dataset *ds, const vb_split *split, const char *split_path,
                       double load_s, size_t *failed)
{
    const vb_spec *spec = a->spec;
    vb_error err = {0};
    vb_split *back = NULL;
    run_ctx ctx = {0};
    int rc = VB_EXIT_FAIL;
    vb_run_opts ropts = {.only = a->only};
    unsigned char *mask = NULL;
    vb_plan *plan = NULL;
    *failed = 0;
    if (a->sharded) {
        /* the shard's slice of the plan: whole groups, balanced by cost */
        double cost = 0;
        size_t mine = 0;
        if (vb_plan_make(spec, ds, split, a->only, &plan, &err) != VB_OK ||
            !(mask = vb_calloc(split->n_folds * spec->n_pipelines + 1, 1, &err)) ||
            vb_plan_shard(plan, a->shard, a->n_shards, mask, &cost, &err) != VB_OK)
            goto fail;
        for (size_t k = 0; k < split->n_folds * spec->n_pipelines; k++)
            mine += mask[k];
        ropts.mask = mask;
        vb_log(VB_LOG_INFO, "shard %zu/%zu: %zu of %zu runs (%zu groups in all; an estimated %.0f%% of the work)",
               a->shard + 1, a->n_shards, mine, plan->n_jobs, plan->n_groups,
               plan->total_cost > 0 ? 100.0 * cost / plan->total_cost : 0.0);
    }
    char ct[96];
    vb_log(VB_LOG_INFO, "dataset %s: %zu images, %s, %s (%.1f s)", ds->name, ds->n, classes_text(ds, ct, sizeof ct),
           ds->fixed_w ? "fixed size" : "sizes vary", load_s);
    /* The split is written beside the store and read back: what runs is
     * exactly what the file says. */
    if (vb_split_save(split, split_path, &err) != VB_OK || vb_split_load(split_path, &back, &err) != VB_OK)
        goto fail;
    if (back->hash != split->hash) {
        vb_fail(&err, VB_ERR_INTERNAL, "%s: the split read back differs from the one written", split_path);
        goto fail;
    }
    char hash[17];
    vb_split_hash_text(back, hash);
    char pool[160];
    pool_text(back, ds, pool, sizeof pool);
    vb_log(VB_LOG_INFO, "split %s (hash %s) of %s: %zu fold%s, fold 1: train %zu, validation %zu, test %zu -> %s",
           vb_protocol_name(back->conf.protocol), hash, pool, back->n_folds, back->n_folds == 1 ? "" : "s",
           back->folds[0].n_train, back->folds[0].n_val, back->folds[0].n_test, split_path);
    if (vb_store_experiment(a->store, spec, ds, back, &ctx.exp, &err) != VB_OK)
        goto fail;
    ctx.store = a->store;
    ctx.ds = ds;
    ctx.spec = spec;
    ctx.json = a->json;
    ctx.retry_failed = a->retry;
    ctx.n_folds = back->n_folds;
    ctx.detailed = cli_verbosity() >= 2 || (a->only ? 1 : spec->n_pipelines) * back->n_folds == 1;
    if (!(ctx.was_busy = vb_calloc(spec->n_pipelines * back->n_folds, 1, &err)))
        goto fail;
    vb_run_sink sink = {.user = &ctx, .claim = on_claim, .release = on_release, .on_result = on_result,
                        .on_failure = on_failure, .scores = on_scores};
    if (a->mpi && a->n_ranks > 1) {
        cli_mpi_go(1, spec, back, ctx.detailed, a->json);
        if (cli_mpi_coordinate(spec, ds, back, &ropts, &sink, on_import, failed, &err) != VB_OK)
            goto fail;
    } else {
        if (a->mpi)
            vb_log(VB_LOG_INFO, "MPI: one rank, so it runs every job itself (mpirun -np N for N-1 workers)");
        if (vb_experiment_run(spec, ds, back, &ropts, &sink, failed, &err) != VB_OK)
            goto fail;
    }
    if (ctx.kept)
        vb_log(VB_LOG_INFO, "%zu run%s finished earlier and kept (see visbench results %s)", ctx.kept,
               ctx.kept == 1 ? "" : "s", a->db);
    if (ctx.by_other)
        vb_log(VB_LOG_INFO, "%zu run%s done by another visbench process working on %s", ctx.by_other,
               ctx.by_other == 1 ? "" : "s", a->db);
    rc = VB_EXIT_OK;
    if (!a->json) {
        cli_progress_break();
        printf("\n");
        rc = cli_print_leaderboard(a->store, ctx.exp, &err);
    }
    goto done;
fail:
    if (ctx.unreleased[0]) {
        size_t n = strlen(err.msg);
        snprintf(err.msg + n, sizeof err.msg - n, " (run %s stays claimed in the store until the next run takes it over)",
                 ctx.unreleased);
    }
    rc = cli_error(&err);
done:
    free(mask);
    vb_plan_free(plan);
    free(ctx.was_busy);
    vb_store_exp_free(ctx.stored);
    vb_split_free(back);
    return rc;
}

int cmd_run(int argc, char **argv)
{
    int json = 0, retry = 0, dry = 0, mpi = 0, sharded = 0;
    size_t shard = 0, n_shards = 1;
    const char *store_path = NULL, *only = NULL, *dataset_choice = NULL;
    static const struct option opts[] = {{"json", no_argument, 0, 'j'},
                                         {"store", required_argument, 0, 's'},
                                         {"pipeline", required_argument, 0, 'p'},
                                         {"retry-failed", no_argument, 0, 'r'},
                                         {"dry-run", no_argument, 0, 'n'},
                                         {"mpi", no_argument, 0, 'm'},
                                         {"shard", optional_argument, 0, 'S'},
                                         {"dataset", required_argument, 0, 'd'},
                                         {0, 0, 0, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":js:p:", opts, NULL)) != -1) {
        switch (c) {
        case 'j': json = 1; break;
        case 's': store_path = optarg; break;
        case 'p': only = optarg; break;
        case 'r': retry = 1; break;
        case 'n': dry = 1; break;
        case 'm': mpi = 1; break;
        case 'd': dataset_choice = optarg; break;
        case 'S': {
            /* --shard I/N, --shard=I/N, or --shard alone (from Slurm) */
            const char *v = optarg;
            if (!v && optind < argc && looks_like_shard(argv[optind]))
                v = argv[optind++]; /* "--shard 2/4": the value in the next word */
            if (v && vb_shard_parse(v, &shard, &n_shards) != 0)
                return cli_usage("run", "--shard takes I/N with 1 <= I <= N (the I-th of N slices), not '%s'", v);
            if (!v) {
                int rc = shard_from_slurm(&shard, &n_shards);
                if (rc != VB_EXIT_OK)
                    return rc;
            }
            sharded = 1;
            break;
        }
        default: return cli_bad_option("run", c, argv);
        }
    }
    if (optind != argc - 1)
        return cli_usage("run", "expects one spec file, e.g. visbench run pipelines/quickstart.yaml");
    if (mpi && sharded)
        return cli_usage("run", "--mpi and --shard are two ways to share one experiment; use one of them");
    if (mpi && dry)
        return cli_usage("run", "--dry-run needs no MPI; run it without --mpi");
    const char *path = argv[optind];
    vb_error err = {0};
    vb_spec *spec = NULL;
    int rank = 0, n_ranks = 1;
    if (mpi) {
        if (cli_mpi_init(&rank, &n_ranks, &err) != VB_OK)
            return cli_error(&err);
        if (rank > 0) {
            cli_log_as_worker(rank);
            size_t which = 0; /* (rank 0 says what is wrong with the spec or the choice) */
            if (dataset_choice && vb_spec_load(path, &spec, &err) == VB_OK &&
                cli_dataset_choice("run", spec, dataset_choice, &which) != VB_EXIT_OK)
                which = 0;
            vb_spec_free(spec);
            vb_run_opts wopts = {.only = only};
            int wrc = cli_mpi_worker(path, &wopts, which, rank);
            cli_mpi_finalize();
            return wrc;
        }
    }
    vb_dataset **ds = NULL;
    vb_split **split = NULL;
    size_t *which = NULL, n = 0;
    double *load_s = NULL;
    vb_store *store = NULL;
    char *db = NULL, *dir = NULL;
    int rc = VB_EXIT_FAIL;
    size_t failed_all = 0;
    vb_run_opts ropts = {.only = only};

    if (vb_spec_load(path, &spec, &err) != VB_OK)
        goto fail;
    size_t one = 0;
    if (dataset_choice && (rc = cli_dataset_choice("run", spec, dataset_choice, &one)) != VB_EXIT_OK)
        goto done;
    rc = VB_EXIT_FAIL;
    /* one experiment (dataset) at a time across hosts: each is its own plan */
    if ((mpi || sharded) && spec->n_datasets > 1 && !dataset_choice) {
        rc = cli_usage("run", "%s has %zu datasets; --%s runs one of them: add --dataset N (1..%zu), once for each",
                       spec->path, spec->n_datasets, mpi ? "mpi" : "shard", spec->n_datasets);
        goto done;
    }
    n = dataset_choice ? 1 : spec->n_datasets;
    ds = vb_calloc(n, sizeof *ds, &err);
    split = vb_calloc(n, sizeof *split, &err);
    which = vb_calloc(n, sizeof *which, &err);
    load_s = vb_calloc(n, sizeof *load_s, &err);
    if (!ds || !split || !which || !load_s)
        goto fail;
    /* Every dataset is loaded, split and checked before the results folder
     * is touched. */
    for (size_t i = 0; i < n; i++) {
        which[i] = dataset_choice ? one : i;
        vb_spec_select_dataset(spec, which[i]);
        double t0 = vb_now();
        if (vb_spec_load_dataset(spec, &ds[i], &err) != VB_OK)
            goto fail;
        load_s[i] = vb_now() - t0;
    }
    if (sizes_agree(spec, ds, which, n, &err) != VB_OK)
        goto fail;
    for (size_t i = 0; i < n; i++) {
        vb_spec_select_dataset(spec, which[i]);
        if (vb_spec_split(spec, ds[i], &split[i], &err) != VB_OK)
            goto fail;
        if (vb_experiment_check(spec, ds[i], &ropts, &err) != VB_OK)
            goto fail;
    }
    if (dry) {
        for (size_t i = 0; i < n; i++) {
            vb_spec_select_dataset(spec, which[i]);
            if ((rc = print_plan(spec, ds[i], split[i], only, &err)) != VB_EXIT_OK)
                goto done;
        }
        goto done;
    }
    if (store_path)
        db = strdup(store_path);
    else if (sharded) /* shards on a cluster never share one SQLite file */
        db = vb_asprintf("results/%s.shard-%zu-of-%zu.db", spec->name, shard + 1, n_shards);
    else
        db = vb_asprintf("results/%s.db", spec->name);
    dir = db ? vb_path_dirname(db) : NULL;
    if (!db || !dir) {
        vb_fail(&err, VB_ERR_NOMEM, "out of memory");
        goto fail;
    }
    /* The store is opened first, so a store that cannot be used leaves no
     * split file behind. */
    if (vb_mkdirs(dir, &err) != VB_OK || vb_store_open(db, 0, &store, &err) != VB_OK)
        goto fail;
    run_args a = {.spec = spec, .store = store, .db = db, .json = json, .retry = retry, .mpi = mpi,
                  .n_ranks = n_ranks, .sharded = sharded, .shard = shard, .n_shards = n_shards, .only = only};
    for (size_t i = 0; i < n; i++) {
        char label[512];
        vb_spec_select_dataset(spec, which[i]);
        if (spec->n_datasets > 1)
            vb_log(VB_LOG_INFO, "dataset %zu of %zu: %s", which[i] + 1, spec->n_datasets,
                   vb_spec_dataset_label(spec, which[i], label, sizeof label));
        char *split_path = split_path_for(db, spec, which[i]);
        size_t failed = 0;
        rc = split_path ? run_dataset(&a, ds[i], split[i], split_path, load_s[i], &failed)
                        : cli_error(&(vb_error){.status = VB_ERR_NOMEM, .msg = "out of memory"});
        free(split_path);
        failed_all += failed;
        if (rc != VB_EXIT_OK && !failed)
            goto done;
    }
    if (!json && n > 1) { /* every dataset ran: the matrix across them */
        vb_across *across = NULL;
        vb_buf ab;
        vb_buf_init(&ab);
        if (vb_across_build(store, 0, &across, &err) != VB_OK) {
            rc = cli_error(&err);
            goto done;
        }
        vb_render_across(across, VB_FMT_TEXT, &ab);
        vb_across_free(across);
        if (ab.data)
            fputs(ab.data, stdout);
        vb_buf_free(&ab);
    }
    if (!json) {
        printf("results: %s (visbench results %s; visbench report %s)\n", db, db, db);
        if (sharded)
            printf("shard %zu of %zu: when every shard is done, join them: visbench merge OUT.db SHARD.db...\n",
                   shard + 1, n_shards);
    }
    rc = failed_all ? VB_EXIT_FAIL : VB_EXIT_OK;
    if (failed_all)
        fprintf(stderr, "visbench: %zu run%s failed (see above and visbench results %s)\n", failed_all,
                failed_all == 1 ? "" : "s", db);
    goto done;
fail:
    rc = cli_error(&err);
done:
    cli_mpi_go(0, NULL, NULL, 0, 0); /* (if rank 0 failed before it started the workers) */
    cli_mpi_finalize();
    vb_store_close(store);
    for (size_t i = 0; i < n; i++) {
        if (split)
            vb_split_free(split[i]);
        if (ds)
            vb_dataset_free(ds[i]);
    }
    free(split);
    free(ds);
    free(which);
    free(load_s);
    vb_spec_free(spec);
    free(db);
    free(dir);
    return rc;
}
