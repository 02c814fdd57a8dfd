/* visbench: entry point, global options, hooks. */
#include "cli.h"

#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int verbosity = 1; /* 0 quiet, 1 normal, 2 verbose */
static int progress_tty;
static int progress_open; /* a \r-drawn line is on screen */
static double progress_last;
static char progress_stage[200];
static double progress_t0;

int cli_verbosity(void) { return verbosity; }

void cli_progress_break(void)
{
    if (progress_open) {
        fputs("\r\033[K", stderr);
        progress_open = 0;
    }
}

static void log_hook(void *user, vb_log_level level, const char *msg)
{
    if ((level == VB_LOG_DEBUG && verbosity < 2) || (level == VB_LOG_INFO && verbosity < 1))
        return;
    cli_progress_break();
    fprintf(stderr, "%s%s\n", level == VB_LOG_WARN ? "warning: " : "", msg);
}

/* On a terminal: one bar redrawn in place, at most ten times a second.
 * Otherwise: a line when a stage starts and when it ends. */
static void progress_hook(void *user, const char *stage, size_t done, size_t total)
{
    if (verbosity < 1)
        return;
    double now = vb_now();
    int new_stage = strcmp(stage, progress_stage) != 0;
    if (new_stage) {
        snprintf(progress_stage, sizeof progress_stage, "%s", stage);
        progress_t0 = now;
        progress_last = 0;
    }
    if (!progress_tty) {
        /* Logs stay short: a line when a stage ends, and while a long one
         * runs (after 2 s) a line every 30 s, so a quick failure prints
         * only its error. */
        if (done >= total && total > 0)
            fprintf(stderr, "%s: done (%.1f s)\n", stage, now - progress_t0);
        else if (now - progress_t0 >= 2 && (progress_last == 0 || now - progress_last >= 30)) {
            fprintf(stderr, "%s: %zu/%zu (%.0f%%)\n", stage, done, total,
                    total ? 100.0 * (double)done / (double)total : 0.0);
            progress_last = now;
        }
        return;
    }
    if (done < total && now - progress_last < 0.1)
        return;
    progress_last = now;
    int width = 30, fill = total ? (int)((double)done / (double)total * width) : width;
    char bar[64];
    for (int i = 0; i < width; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[width] = 0;
    double el = now - progress_t0, rate = el > 0 ? (double)done / el : 0;
    fprintf(stderr, "\r\033[K%-40.40s [%s] %3d%% %zu/%zu  %.0f/s", stage, bar,
            total ? (int)(100.0 * (double)done / (double)total) : 100, done, total, rate);
    progress_open = 1;
    if (done >= total) {
        fprintf(stderr, "\r\033[K%s: done (%.1f s)\n", stage, el);
        progress_open = 0;
    }
}

static void on_sigint(int sig)
{
    (void)sig;
    if (vb_interrupted())
        _exit(VB_EXIT_INTERRUPTED); /* second Ctrl-C: stop now */
    vb_interrupt_request();
}

void cli_setup(int verbose, int quiet)
{
    verbosity = quiet ? 0 : verbose ? 2 : 1;
    progress_tty = isatty(2);
    vb_log_set_hook(log_hook, NULL);
    vb_progress_set_hook(progress_hook, NULL);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

int cli_error(const vb_error *err)
{
    cli_progress_break();
    fprintf(stderr, "visbench: %s\n", err->msg[0] ? err->msg : vb_status_name(err->status));
    return err->status == VB_ERR_INTERRUPTED ? VB_EXIT_INTERRUPTED : VB_EXIT_FAIL;
}

int cli_usage(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "visbench: %s%s", cmd, *cmd ? ": " : "");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (see 'visbench help')\n");
    va_end(ap);
    return VB_EXIT_USAGE;
}

int main(int argc, char **argv)
{
    int threads = 0, verbose = 0, quiet = 0, i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
            long t;
            if (!vb_parse_long(argv[++i], &t) || t < 1 || t > 1024)
                return cli_usage("", "--threads takes a number from 1 to 1024, not '%s'", argv[i]);
            threads = (int)t;
        } else if (strcmp(argv[i], "-v") == 0 || strcmp(argv[i], "--verbose") == 0)
            verbose = 1;
        else if (strcmp(argv[i], "-q") == 0 || strcmp(argv[i], "--quiet") == 0)
            quiet = 1;
        else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
            return cli_help(NULL);
        else if (strcmp(argv[i], "--version") == 0) {
            printf("visbench %s\n", VB_VERSION);
            return VB_EXIT_OK;
        } else
            return cli_usage("", "unknown option '%s'", argv[i]);
    }
    if (i >= argc) {
        cli_help_overview(stderr);
        return VB_EXIT_USAGE;
    }
    vb_set_threads(threads);
    cli_setup(verbose, quiet);
    const char *cmd = argv[i];
    int sub_argc = argc - i;
    char **sub_argv = argv + i;
    if (strcmp(cmd, "help") == 0)
        return cli_help(sub_argc > 1 ? sub_argv[1] : NULL);
    if (strcmp(cmd, "version") != 0 && cli_wants_help(sub_argc, sub_argv)) {
        static const char *const known[] = {"run",     "results", "report",  "train", "predict",
                                            "evaluate", "features", "list", "dataset", "model"};
        for (size_t k = 0; k < sizeof known / sizeof known[0]; k++)
            if (strcmp(cmd, known[k]) == 0)
                return cli_help(cmd);
    }
    if (strcmp(cmd, "run") == 0)
        return cmd_run(sub_argc, sub_argv);
    if (strcmp(cmd, "results") == 0)
        return cmd_results(sub_argc, sub_argv);
    if (strcmp(cmd, "report") == 0)
        return cmd_report(sub_argc, sub_argv);
    if (strcmp(cmd, "train") == 0)
        return cmd_train(sub_argc, sub_argv);
    if (strcmp(cmd, "predict") == 0)
        return cmd_predict(sub_argc, sub_argv);
    if (strcmp(cmd, "evaluate") == 0)
        return cmd_evaluate(sub_argc, sub_argv);
    if (strcmp(cmd, "features") == 0)
        return cmd_features(sub_argc, sub_argv);
    if (strcmp(cmd, "list") == 0)
        return cmd_list(sub_argc, sub_argv);
    if (strcmp(cmd, "dataset") == 0)
        return cmd_dataset(sub_argc, sub_argv);
    if (strcmp(cmd, "model") == 0)
        return cmd_model(sub_argc, sub_argv);
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("visbench %s\n", VB_VERSION);
        return VB_EXIT_OK;
    }
    static const char *const cmds[] = {"run",      "results", "report",  "train",   "predict", "evaluate",
                                       "features", "list",    "dataset", "model",   "version", "help"};
    const char *near = vb_nearest_name(cmd, cmds, sizeof cmds / sizeof cmds[0]);
    if (near)
        return cli_usage("", "unknown command '%s'; did you mean '%s'?", cmd, near);
    return cli_usage("", "unknown command '%s'", cmd);
}
