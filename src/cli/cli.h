/* The visbench command line: the only code that prints or exits. */
#ifndef VB_CLI_H
#define VB_CLI_H

#include "visbench/across.h"
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
/* Do two paths name one file (the same text, or the same device and
 * inode)? */
int cli_same_file(const char *a, const char *b);
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

/* run (cmd_run.c), shared with its MPI workers (mpi.c): a claim of the run
 * (pipeline sp, fold) in a store, under the configuration text the run is
 * stored with, and a finished run as run prints it (one line, the -v
 * block, or with json one JSON object per line). */
vb_status cli_run_claim(vb_store *store, int64_t exp, const vb_spec *spec, const vb_spec_pipeline *sp,
                        const vb_fold *fold, size_t fold_index, int retry_failed, vb_claim *claim, vb_error *err);
vb_status cli_run_text(const vb_run_result *r, const vb_dataset *ds, int detailed, int json, vb_buf *b,
                       vb_error *err);

/* ---- MPI (mpi.c): `mpirun -np N visbench run SPEC --mpi` ---------------
 * Rank 0 loads, splits, plans and is the only process that writes the
 * store; the other ranks (workers) each load the spec and the dataset,
 * check that their split is rank 0's, and run the plan's groups rank 0
 * hands them, longest first, sending every finished run back as an SQLite
 * image (vb_store_export_run). Built with VB_HAVE_MPI (make MPI=1, or when
 * mpicc is found); without it cli_mpi_init says how to get it. */
int cli_mpi_built(void);
/* MPI_Init; this process's rank and the number of ranks. */
vb_status cli_mpi_init(int *rank, int *size, vb_error *err);
/* Rank 0, once, before it coordinates or after it failed: tells the
 * workers whether to start (ok), and what they must agree on. */
void cli_mpi_go(int ok, const vb_spec *spec, const vb_split *split, int detailed, int json);
/* Rank 0: hands out the plan's groups and imports each result through
 * import (which writes it and prints text); claim, release and on_failure
 * of sink are called as vb_experiment_run calls them. */
typedef vb_status (*cli_mpi_import_fn)(void *user, const unsigned char *blob, size_t len, const char *text,
                                       vb_error *err);
vb_status cli_mpi_coordinate(const vb_spec *spec, const vb_dataset *ds, const vb_split *split,
                             const vb_run_opts *opts, const vb_run_sink *sink, cli_mpi_import_fn import,
                             size_t *n_failed, vb_error *err);
/* A worker rank's whole life (on dataset `dataset` of the spec): returns
 * its exit code. */
int cli_mpi_worker(const char *spec_path, const vb_run_opts *opts, size_t dataset, int rank);
/* --dataset N|PATH of a spec with several datasets: its index, or a usage
 * error (exit code) for what names none. */
int cli_dataset_choice(const char *cmd, const vb_spec *spec, const char *choice, size_t *index);
/* MPI_Finalize when MPI was started (a no-op otherwise), unless a rank was
 * lost: then the others are not waited for. */
void cli_mpi_finalize(void);
/* A worker rank's log: warnings and errors only, prefixed "rank N: ", no
 * progress lines (main.c). */
void cli_log_as_worker(int rank);

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
int cmd_merge(int argc, char **argv);

#endif
