/* The visbench command line: the only code that prints or exits. */
#ifndef VB_CLI_H
#define VB_CLI_H

#include "visbench/report.h"
#include "visbench/model.h"
#include "visbench/results.h"

#include <stdio.h>

/* Exit codes: 0 success, 1 failure, 2 usage error, 130 interrupted. */
enum { VB_EXIT_OK = 0, VB_EXIT_FAIL = 1, VB_EXIT_USAGE = 2, VB_EXIT_INTERRUPTED = 130 };

/* Prints "visbench: <message>" for an error and returns the exit code. */
int cli_error(const vb_error *err);
/* Prints a usage error and returns VB_EXIT_USAGE. */
int cli_usage(const char *cmd, const char *fmt, ...) VB_PRINTF(2, 3);
/* The usage error for what getopt_long (optstring starting with ':')
 * returned as C: an unknown option, or one missing its value. */
int cli_bad_option(const char *cmd, int c, char **argv);
/* Installs the log and progress hooks and the SIGINT handler. */
void cli_setup(int verbose, int quiet);
/* 0 with -q, 1 by default, 2 with -v. */
int cli_verbosity(void);
/* Ends a progress line that is being drawn (before printing other output). */
void cli_progress_break(void);

/* Help (help.c): the overview of every command; one command's usage,
 * options with defaults and an example (NULL: the overview), exit 0; does
 * argv hold -h or --help (before "--")? */
void cli_help_overview(FILE *f);
int cli_help(const char *command);
int cli_wants_help(int argc, char **argv);

/* Prints the text leaderboard and pairwise table of an experiment. */
int cli_print_leaderboard(vb_store *store, int64_t exp, vb_error *err);

int cmd_run(int argc, char **argv);
int cmd_results(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_predict(int argc, char **argv);
int cmd_evaluate(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_dataset(int argc, char **argv);
int cmd_features(int argc, char **argv);
int cmd_model(int argc, char **argv);

#endif
