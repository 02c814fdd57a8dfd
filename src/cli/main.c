/* visbench: entry point, global options, hooks. */
#include "cli.h"

#include <pthread.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int verbosity = 1; /* 0 quiet, 1 normal, 2 verbose */
static int progress_tty;
static int progress_open; /* a \r-drawn line is on screen */
static pthread_mutex_t progress_mu = PTHREAD_MUTEX_INITIALIZER; /* the ticker thread draws too */
static double progress_last;
static char progress_stage[200];
static double progress_t0;

int cli_verbosity(void) { return verbosity; }

void cli_progress_break(void)
{
    pthread_mutex_lock(&progress_mu);
    if (progress_open) {
        fputs("\r\033[K", stderr);
        progress_open = 0;
    }
    pthread_mutex_unlock(&progress_mu);
}

static char log_prefix[32]; /* "rank 2: " on an MPI worker */

static void log_hook(void *user, vb_log_level level, const char *msg)
{
    if ((level == VB_LOG_DEBUG && verbosity < 2) || (level == VB_LOG_INFO && verbosity < 1))
        return;
    cli_progress_break();
    fprintf(stderr, "%s%s%s\n", log_prefix, level == VB_LOG_WARN ? "warning: " : "", msg);
}

void cli_log_as_worker(int rank)
{
    snprintf(log_prefix, sizeof log_prefix, "rank %d: ", rank);
    verbosity = 0;
    progress_tty = 0;
}

/* Progress, on a terminal only (nothing when stderr is not one, nothing
 * with -q): one line redrawn in place, at most ten times a second, never
 * wider than the terminal and never cut inside a word. A stage whose total
 * is known draws a bar; one whose total is unknown (total 0: training a
 * classifier, fitting PCA) shows what it is doing and the time so far,
 * which a ticker thread keeps current while the library works. */
static size_t progress_done, progress_total;
static double progress_delay = 0.5; /* seconds before a stage shows (VISBENCH_PROGRESS_DELAY) */
static int progress_unknown; /* the open stage has no known total */

static int term_columns(void)
{
    struct winsize ws;
    if (ioctl(2, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20)
        return ws.ws_col;
    const char *c = getenv("COLUMNS");
    long v;
    if (c && vb_parse_long(c, &v) && v >= 20 && v <= 1000)
        return (int)v;
    return 80;
}

/* text cut to at most max columns at a word boundary ("..." marks a cut) */
static void fit_words(const char *text, int max, char *out, size_t cap)
{
    size_t n = strlen(text);
    if ((int)n <= max || max < 4) {
        snprintf(out, cap, "%.*s", max < 0 ? 0 : max, text);
        return;
    }
    int cut = max - 3;
    while (cut > 0 && text[cut] != ' ')
        cut--;
    while (cut > 0 && text[cut - 1] == ' ')
        cut--;
    if (cut == 0)
        cut = max - 3; /* one long word: nothing better to do */
    snprintf(out, cap, "%.*s...", cut, text);
}

/* Draws the open stage (progress_mu held). */
static void progress_draw(double now)
{
    int cols = term_columns() - 1; /* the last column would wrap on some terminals */
    double el = now - progress_t0;
    char tail[96], head[256];
    if (progress_unknown)
        snprintf(tail, sizeof tail, "  %.1f s", el);
    else {
        int fill = progress_total ? (int)((double)progress_done / (double)progress_total * 12) : 12;
        char bar[16];
        for (int i = 0; i < 12; i++)
            bar[i] = i < fill ? '#' : '.';
        bar[12] = 0;
        snprintf(tail, sizeof tail, " [%s] %3d%% %zu/%zu %.1f s", bar,
                 progress_total ? (int)(100.0 * (double)progress_done / (double)progress_total) : 100, progress_done,
                 progress_total, el);
    }
    int room = cols - (int)strlen(tail);
    if (room < 8) { /* a narrow terminal: the stage alone */
        tail[0] = 0;
        room = cols;
    }
    fit_words(progress_stage, room, head, sizeof head);
    fprintf(stderr, "\r\033[K%s%s", head, tail);
    progress_open = 1;
}

static void *progress_ticker(void *arg)
{
    (void)arg;
    for (;;) {
        usleep(250000);
        pthread_mutex_lock(&progress_mu);
        double now = vb_now();
        if (progress_stage[0] && progress_unknown && now - progress_t0 >= progress_delay)
            progress_draw(now);
        pthread_mutex_unlock(&progress_mu);
    }
    return NULL;
}

/* VISBENCH_INTERRUPT_AT=TEXT: a test knob that interrupts the process (as
 * Ctrl-C would) when a stage whose name holds TEXT starts, so that tests
 * can interrupt a precise stage without racing a signal against it. */
static const char *interrupt_at;

static void progress_hook(void *user, const char *stage, size_t done, size_t total)
{
    if (interrupt_at && *interrupt_at && strstr(stage, interrupt_at))
        vb_interrupt_request();
    if (verbosity < 1 || !progress_tty)
        return;
    pthread_mutex_lock(&progress_mu);
    double now = vb_now();
    int ends = total > 0 && done >= total;
    if (ends && strcmp(stage, progress_stage) != 0) { /* an outer stage ending after an inner one: said already */
        pthread_mutex_unlock(&progress_mu);
        return;
    }
    if (strcmp(stage, progress_stage) != 0) {
        snprintf(progress_stage, sizeof progress_stage, "%s", stage);
        progress_t0 = now;
        progress_last = 0;
    }
    progress_done = done;
    progress_total = total;
    progress_unknown = total == 0;
    int end = total > 0 && done >= total;
    if (end) {
        if (progress_open) { /* a stage that showed itself says it is done */
            char head[256];
            fit_words(stage, term_columns() - 16, head, sizeof head);
            fprintf(stderr, "\r\033[K%s: done (%.1f s)\n", head, now - progress_t0);
        }
        progress_open = 0;
        progress_stage[0] = 0;
    } else if (now - progress_t0 >= progress_delay && now - progress_last >= 0.1) { /* quick stages stay silent */
        progress_last = now;
        progress_draw(now);
    }
    pthread_mutex_unlock(&progress_mu);
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
    interrupt_at = getenv("VISBENCH_INTERRUPT_AT");
    const char *delay = getenv("VISBENCH_PROGRESS_DELAY");
    double dv;
    if (delay && vb_parse_double(delay, &dv) && dv >= 0 && dv <= 3600)
        progress_delay = dv;
    if (progress_tty && verbosity > 0) {
        pthread_t t;
        if (pthread_create(&t, NULL, progress_ticker, NULL) == 0)
            pthread_detach(t);
    }
    vb_log_set_hook(log_hook, NULL);
    vb_progress_set_hook(progress_hook, NULL);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

int cli_same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    if (strcmp(a, b) == 0)
        return 1;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
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

int cli_bad_option(const char *cmd, int c, char **argv)
{
    const char *arg = optind > 0 ? argv[optind - 1] : "";
    if (c == ':')
        return cli_usage(cmd, "option '%s' needs a value", arg);
    if (strncmp(arg, "--", 2) != 0)
        return cli_usage(cmd, "unknown option '-%c'", optopt);
    int len = (int)strcspn(arg, "=");
    if (optopt) /* a known long option given a value it does not take */
        return cli_usage(cmd, "option '%.*s' takes no value", len, arg);
    return cli_usage(cmd, "unknown option '%.*s'", len, arg);
}

int main(int argc, char **argv)
{
    int threads = 0, verbose = 0, quiet = 0, i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--threads") == 0) {
            long t;
            if (i + 1 == argc)
                return cli_usage("", "--threads takes a number from 1 to 1024");
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
                                            "evaluate", "features", "list", "dataset", "model", "merge"};
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
    if (strcmp(cmd, "merge") == 0)
        return cmd_merge(sub_argc, sub_argv);
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("visbench %s\n", VB_VERSION);
        return VB_EXIT_OK;
    }
    static const char *const cmds[] = {"run",      "results", "report",  "train",   "predict", "evaluate",
                                       "features", "list",    "dataset", "model",   "merge",   "version", "help"};
    const char *near = vb_nearest_name(cmd, cmds, sizeof cmds / sizeof cmds[0]);
    if (near)
        return cli_usage("", "unknown command '%s'; did you mean '%s'?", cmd, near);
    return cli_usage("", "unknown command '%s'", cmd);
}
