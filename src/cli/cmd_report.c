/* visbench report: the comparison report of a stored experiment. */
#include "cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *ext_of(vb_format fmt) { return fmt == VB_FMT_HTML ? "html" : fmt == VB_FMT_MD ? "md" : "csv"; }

/* results/x.db -> results/x.html (results/x-exp3.html for an explicit
 * experiment, so that reports of several experiments of one store do not
 * overwrite each other). */
static char *default_output(const char *store, vb_format fmt, long exp)
{
    size_t n = strlen(store);
    const char *slash = strrchr(store, '/');
    const char *dot = strrchr(store, '.');
    if (dot && (!slash || dot > slash + 1))
        n = (size_t)(dot - store);
    if (exp)
        return vb_asprintf("%.*s-exp%ld.%s", (int)n, store, exp, ext_of(fmt));
    return vb_asprintf("%.*s.%s", (int)n, store, ext_of(fmt));
}

int cmd_report(int argc, char **argv)
{
    vb_format fmt = VB_FMT_HTML;
    int fmt_given = 0;
    long exp = 0;
    const char *out = NULL;
    static const struct option opts[] = {{"format", required_argument, 0, 'f'},
                                         {"experiment", required_argument, 0, 'e'},
                                         {"output", required_argument, 0, 'o'},
                                         {0, 0, 0, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":f:e:o:", opts, NULL)) != -1) {
        switch (c) {
        case 'f':
            if (!vb_format_parse(optarg, &fmt) || (fmt != VB_FMT_HTML && fmt != VB_FMT_MD && fmt != VB_FMT_CSV))
                return cli_usage("report", "--format takes html, md or csv, not '%s'", optarg);
            fmt_given = 1;
            break;
        case 'e':
            if (!vb_parse_long(optarg, &exp) || exp < 1)
                return cli_usage("report", "--experiment takes an experiment id (1, 2, ...), not '%s'", optarg);
            break;
        case 'o': out = optarg; break;
        default: return cli_bad_option("report", c, argv);
        }
    }
    if (optind != argc - 1)
        return cli_usage("report", "expects one store, e.g. visbench report results/quickstart.db");
    const char *store_path = argv[optind];
    if (!fmt_given && out) { /* the output's extension chooses the format */
        const char *dot = strrchr(out, '.');
        vb_format f;
        if (dot && vb_format_parse(dot + 1, &f) && (f == VB_FMT_HTML || f == VB_FMT_MD || f == VB_FMT_CSV))
            fmt = f;
    }
    char *path = NULL;
    int to_stdout = out ? strcmp(out, "-") == 0 : fmt != VB_FMT_HTML;
    if (!to_stdout) {
        path = out ? strdup(out) : default_output(store_path, fmt, exp);
        if (!path) {
            vb_error e = {0};
            vb_fail(&e, VB_ERR_NOMEM, "out of memory");
            return cli_error(&e);
        }
        if (cli_same_file(path, store_path)) {
            int rc = cli_usage("report", "the output '%s' is the store itself; choose another file with -o", path);
            free(path);
            return rc;
        }
    }
    vb_error err = {0};
    vb_store *store = NULL;
    vb_store_exp *e = NULL;
    vb_buf b;
    vb_buf_init(&b);
    int rc = VB_EXIT_OK;
    vb_across *across = NULL;
    if (vb_store_open(store_path, 1, &store, &err) != VB_OK || vb_store_load(store, exp, 1, &e, &err) != VB_OK ||
        (fmt != VB_FMT_CSV && vb_across_build(store, e->id, &across, &err) != VB_OK) ||
        vb_report_render_across(e, fmt, store_path, across, &b, &err) != VB_OK)
        rc = cli_error(&err);
    else if (to_stdout) {
        if (fwrite(b.data, 1, b.len, stdout) != b.len || fflush(stdout) != 0) {
            vb_fail(&err, VB_ERR_IO, "cannot write the report to standard output");
            rc = cli_error(&err);
        }
    } else if (vb_file_write_atomic(path, b.data, b.len, &err) != VB_OK)
        rc = cli_error(&err);
    else
        printf("%s\n", path);
    vb_across_free(across);
    vb_buf_free(&b);
    vb_store_exp_free(e);
    vb_store_close(store);
    free(path);
    return rc;
}
