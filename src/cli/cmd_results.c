/* visbench results: leaderboards and significance from a store. */
#include "cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

/* Writes b to standard output and frees it; out of memory if it ran out. */
static int emit(vb_buf *b, vb_error *err)
{
    int rc = VB_EXIT_OK;
    if (b->failed) {
        vb_fail(err, VB_ERR_NOMEM, "out of memory");
        rc = cli_error(err);
    } else
        fwrite(b->data, 1, b->len, stdout);
    vb_buf_free(b);
    return rc;
}

enum { SHOW_LEADERBOARD, SHOW_PREDICTIONS, SHOW_CLUSTERS };

static int render(vb_store *store, int64_t exp, vb_format fmt, int show, int with_across, vb_error *err)
{
    vb_store_exp *e = NULL;
    vb_summary *s = NULL;
    vb_buf b;
    vb_buf_init(&b);
    /* the cluster assignments are read by one query: no predictions, no summary */
    vb_across *across = NULL;
    vb_status st = vb_store_load(store, exp, show != SHOW_CLUSTERS, &e, err);
    if (st == VB_OK && show == SHOW_LEADERBOARD)
        st = vb_summary_build(e, &s, err);
    /* a spec over several datasets: the matrix across them */
    if (st == VB_OK && show == SHOW_LEADERBOARD && with_across)
        st = vb_across_build(store, e->id, &across, err);
    if (st == VB_OK && show == SHOW_CLUSTERS)
        st = vb_store_clusters_csv(store, e->id, &b, err);
    if (st != VB_OK) {
        vb_buf_free(&b);
        vb_summary_free(s);
        vb_across_free(across);
        vb_store_exp_free(e);
        return cli_error(err);
    }
    if (show == SHOW_PREDICTIONS)
        vb_render_predictions_csv(e, &b);
    else if (show == SHOW_LEADERBOARD && fmt == VB_FMT_JSON) {
        vb_buf_puts(&b, "{\"experiment\": ");
        vb_render_experiment(e, fmt, &b);
        vb_buf_puts(&b, ", \"leaderboard\": ");
        vb_render_leaderboard(s, fmt, &b);
        vb_buf_printf(&b, ", \"correction\": \"%s\", \"pairwise\": ", vb_correction_name(s->correction));
        vb_render_pairwise(s, fmt, &b);
        if (across && across->n_sets > 1) {
            vb_buf_puts(&b, ", \"across\": ");
            vb_render_across(across, fmt, &b);
        }
        vb_buf_puts(&b, "}\n");
    } else if (show == SHOW_LEADERBOARD && fmt == VB_FMT_CSV) {
        vb_render_leaderboard(s, fmt, &b);
    } else if (show == SHOW_LEADERBOARD) {
        vb_render_experiment(e, fmt, &b);
        vb_render_leaderboard(s, fmt, &b);
        vb_render_task_metrics(s, fmt, &b);
        vb_buf_puts(&b, "\n");
        vb_render_pairwise(s, fmt, &b);
        vb_size_curve *sc = NULL;
        if (vb_size_curve_build(e, &sc, err) != VB_OK)
            b.failed = 1;
        vb_render_size_curve(sc, fmt, &b);
        vb_size_curve_free(sc);
        if (across)
            vb_render_across(across, fmt, &b);
    }
    int rc = emit(&b, err);
    vb_across_free(across);
    vb_summary_free(s);
    vb_store_exp_free(e);
    return rc;
}

int cli_print_leaderboard(vb_store *store, int64_t exp, vb_error *err)
{
    return render(store, exp, VB_FMT_TEXT, SHOW_LEADERBOARD, 0, err); /* (run prints the matrix once, at the end) */
}

/* --experiments: the store's table of contents. */
static int render_list(vb_store *store, vb_format fmt, vb_error *err)
{
    vb_store_exp_info *list = NULL;
    size_t n = 0;
    if (vb_store_list(store, &list, &n, err) != VB_OK)
        return cli_error(err);
    vb_buf b;
    vb_buf_init(&b);
    vb_render_experiments(list, n, fmt, &b);
    vb_store_list_free(list, n);
    return emit(&b, err);
}

int cmd_results(int argc, char **argv)
{
    vb_format fmt = VB_FMT_TEXT;
    long exp = 0;
    int show = SHOW_LEADERBOARD, list = 0;
    static const struct option opts[] = {{"format", required_argument, 0, 'f'},
                                         {"experiment", required_argument, 0, 'e'},
                                         {"predictions", no_argument, 0, 'p'},
                                         {"clusters", no_argument, 0, 'c'},
                                         {"experiments", no_argument, 0, 'l'},
                                         {0, 0, 0, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":f:e:", opts, NULL)) != -1) {
        switch (c) {
        case 'f':
            if (!vb_format_parse(optarg, &fmt) || fmt == VB_FMT_HTML)
                return cli_usage("results", "--format takes text, md, csv or json, not '%s'", optarg);
            break;
        case 'e':
            if (!vb_parse_long(optarg, &exp) || exp < 1)
                return cli_usage("results", "--experiment takes an experiment id (1, 2, ...), not '%s'", optarg);
            break;
        case 'p':
        case 'c':
            if (show != SHOW_LEADERBOARD)
                return cli_usage("results", "--predictions and --clusters each print a whole table; give one");
            show = c == 'p' ? SHOW_PREDICTIONS : SHOW_CLUSTERS;
            break;
        case 'l': list = 1; break;
        default: return cli_bad_option("results", c, argv);
        }
    }
    if (list && (show != SHOW_LEADERBOARD || exp))
        return cli_usage("results", "--experiments lists the store's experiments; it takes no %s",
                         show == SHOW_PREDICTIONS ? "--predictions" : show == SHOW_CLUSTERS ? "--clusters"
                                                                                            : "--experiment");
    if (optind != argc - 1)
        return cli_usage("results", "expects one store, e.g. visbench results results/quickstart.db");
    vb_error err = {0};
    vb_store *store = NULL;
    if (vb_store_open(argv[optind], 1, &store, &err) != VB_OK)
        return cli_error(&err);
    int rc = list ? render_list(store, fmt, &err) : render(store, exp, fmt, show, 1, &err);
    vb_store_close(store);
    return rc;
}
