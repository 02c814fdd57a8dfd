/* visbench run: every pipeline of a spec on the same split. */
#include "cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

typedef struct run_ctx {
    vb_results *res;
    const vb_dataset *ds;
    int json;
    /* rows for the closing summary */
    struct row {
        char *pipeline, *fold, *features;
        double acc, f1, ext, train, pred;
        int shared;
    } *rows;
    size_t n_rows;
} run_ctx;

static void print_result(const vb_run_result *r, const vb_dataset *ds)
{
    const vb_metrics *m = r->metrics;
    printf("\n%s [%s]  accuracy %.4f  balanced %.4f  macro-F1 %.4f\n", r->pipeline, r->fold, m->accuracy,
           m->balanced_accuracy, m->macro_f1);
    printf("  features %s%s; train %zu, validation %zu, test %zu\n", r->features,
           r->features_shared ? " (shared)" : "", r->n_train, r->n_val, r->n_test);
    printf("  extract %.2f s, train %.2f s%s, predict %.2f s, peak RSS %.0f MB, model %.1f kB\n", r->extract_s,
           r->train_s, "", r->predict_s, (double)r->peak_rss_kb / 1024.0, (double)r->model_bytes / 1024.0);
    if (r->grid)
        printf("  grid: chose %s (tuning %.2f s)\n", r->grid, r->tune_s);
    printf("  %-22s %9s %8s %8s %8s\n", "class", "precision", "recall", "f1", "support");
    for (int k = 0; k < m->n_classes; k++)
        printf("  %-22.22s %9.4f %8.4f %8.4f %8zu\n", ds->classes[k], m->precision[k], m->recall[k], m->f1[k],
               m->support[k]);
    fflush(stdout);
}

static vb_status on_result(void *user, const vb_run_result *r, vb_error *err)
{
    run_ctx *c = user;
    vb_status st = vb_results_add(c->res, r, err);
    if (st != VB_OK)
        return st;
    cli_progress_break();
    if (c->json) {
        vb_buf b;
        vb_buf_init(&b);
        vb_result_json(r, c->ds, 0, &b);
        if (b.failed) {
            vb_buf_free(&b);
            return vb_fail(err, VB_ERR_NOMEM, "out of memory");
        }
        printf("%s\n", b.data);
        fflush(stdout);
        vb_buf_free(&b);
    } else
        print_result(r, c->ds);
    struct row *rows = realloc(c->rows, (c->n_rows + 1) * sizeof *rows);
    if (!rows)
        return vb_fail(err, VB_ERR_NOMEM, "out of memory");
    c->rows = rows;
    struct row *w = &rows[c->n_rows++];
    w->pipeline = strdup(r->pipeline);
    w->fold = strdup(r->fold);
    w->features = strdup(r->features);
    w->acc = r->metrics->accuracy;
    w->f1 = r->metrics->macro_f1;
    w->ext = r->extract_s;
    w->train = r->train_s + r->tune_s;
    w->pred = r->predict_s;
    w->shared = r->features_shared;
    return VB_OK;
}

static void on_failure(void *user, const char *pipeline, const char *fold, const vb_error *e)
{
    run_ctx *c = user;
    cli_progress_break();
    fprintf(stderr, "visbench: pipeline '%s' [%s] failed: %s\n", pipeline, fold, e->msg);
    vb_error werr = {0};
    if (vb_results_add_failure(c->res, pipeline, fold, e->msg, &werr) != VB_OK)
        fprintf(stderr, "visbench: %s\n", werr.msg);
}

int cmd_run(int argc, char **argv)
{
    int json = 0;
    const char *out = NULL, *only = NULL;
    static const struct option opts[] = {{"json", no_argument, 0, 'j'},
                                         {"out", required_argument, 0, 'o'},
                                         {"pipeline", required_argument, 0, 'p'},
                                         {0, 0, 0, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "jo:p:", opts, NULL)) != -1) {
        switch (c) {
        case 'j': json = 1; break;
        case 'o': out = optarg; break;
        case 'p': only = optarg; break;
        default: return cli_usage("run", "unknown option");
        }
    }
    if (optind != argc - 1)
        return cli_usage("run", "expects one spec file, e.g. visbench run pipelines/quickstart.yaml");
    const char *path = argv[optind];
    vb_error err = {0};
    vb_spec *spec = NULL;
    vb_dataset *ds = NULL;
    vb_split *split = NULL, *back = NULL;
    vb_results *res = NULL;
    char *dir = NULL, *split_path = NULL;
    run_ctx ctx = {0};
    int rc = VB_EXIT_FAIL;
    size_t failed = 0;
    vb_run_opts ropts = {.only = only};

    if (vb_spec_load(path, &spec, &err) != VB_OK)
        goto fail;
    double t0 = vb_now();
    if (vb_spec_load_dataset(spec, &ds, &err) != VB_OK)
        goto fail;
    double load_s = vb_now() - t0;
    if (vb_split_make(&spec->split, ds, &split, &err) != VB_OK) {
        vb_error_prefix(&err, "%s: split", spec->path);
        goto fail;
    }
    /* Everything is checked before the results folder is touched. */
    if (vb_experiment_check(spec, ds, &ropts, &err) != VB_OK)
        goto fail;
    vb_log(VB_LOG_INFO, "dataset %s: %zu images, %d classes, %s (%.1f s)", ds->name, ds->n, ds->n_classes,
           ds->fixed_w ? "fixed size" : "sizes vary", load_s);
    dir = out ? strdup(out) : vb_asprintf("results/%s", spec->name);
    split_path = dir ? vb_path_join(dir, "split.txt") : NULL;
    if (!dir || !split_path) {
        vb_fail(&err, VB_ERR_NOMEM, "out of memory");
        goto fail;
    }
    if (vb_mkdirs(dir, &err) != VB_OK || vb_split_save(split, split_path, &err) != VB_OK ||
        vb_split_load(split_path, &back, &err) != VB_OK)
        goto fail;
    if (back->hash != split->hash) {
        vb_fail(&err, VB_ERR_INTERNAL, "%s: the split read back differs from the one written", split_path);
        goto fail;
    }
    char hash[17];
    vb_split_hash_text(back, hash);
    vb_log(VB_LOG_INFO, "split %s (hash %s): %zu fold%s, fold 1: train %zu, validation %zu, test %zu -> %s",
           vb_protocol_name(back->conf.protocol), hash, back->n_folds, back->n_folds == 1 ? "" : "s",
           back->folds[0].n_train, back->folds[0].n_val, back->folds[0].n_test, split_path);
    if (vb_results_open(dir, spec, ds, back, &res, &err) != VB_OK)
        goto fail;
    ctx.res = res;
    ctx.ds = ds;
    ctx.json = json;
    vb_run_sink sink = {.user = &ctx, .on_result = on_result, .on_failure = on_failure};
    if (vb_experiment_run(spec, ds, back, &ropts, &sink, &failed, &err) != VB_OK)
        goto fail;
    if (!json && ctx.n_rows) {
        printf("\n%-24s %-10s %9s %9s %10s %9s %10s  %s\n", "pipeline", "fold", "accuracy", "macro-F1", "extract s",
               "train s", "predict s", "features");
        for (size_t i = 0; i < ctx.n_rows; i++) {
            struct row *w = &ctx.rows[i];
            printf("%-24s %-10s %9.4f %9.4f %10.2f%s %9.2f %10.2f  %s\n", w->pipeline, w->fold, w->acc, w->f1,
                   w->ext, w->shared ? "*" : " ", w->train, w->pred, w->features);
        }
        printf("(* features shared with an earlier pipeline of the same fold)\nresults: %s/\n", dir);
    }
    rc = failed ? VB_EXIT_FAIL : VB_EXIT_OK;
    if (failed)
        fprintf(stderr, "visbench: %zu run%s failed (see above and %s/metrics.json)\n", failed, failed == 1 ? "" : "s",
                dir);
    goto done;
fail:
    rc = cli_error(&err);
done:
    for (size_t i = 0; i < ctx.n_rows; i++) {
        free(ctx.rows[i].pipeline);
        free(ctx.rows[i].fold);
        free(ctx.rows[i].features);
    }
    free(ctx.rows);
    vb_results_free(res);
    vb_split_free(split);
    vb_split_free(back);
    vb_dataset_free(ds);
    vb_spec_free(spec);
    free(dir);
    free(split_path);
    return rc;
}
