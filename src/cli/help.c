/* Help: `visbench help [COMMAND]`, `visbench COMMAND --help|-h`, and the
 * overview `visbench` prints. One table holds each command's usage, what
 * it does, its options with their defaults and an example, so the overview
 * and every command's own help say the same thing. */
#include "cli.h"

#include <string.h>

typedef struct cmd_opt {
    const char *flag, *text; /* text ends with the default, when there is one */
} cmd_opt;

typedef struct cmd_help {
    const char *name;
    const char *usage;   /* after "visbench " */
    const char *summary; /* one line for the overview */
    const char *text;    /* what it does */
    cmd_opt opts[16];
    const char *example;
} cmd_help;

static const cmd_help commands[] = {
    {"run", "run SPEC [--json] [--store DB] [--pipeline NAME] [--dataset N] [--retry-failed] [--dry-run] "
            "[--shard I/N | --mpi]",
     "run every pipeline of a spec on the same split, into a results store",
     "Checks the whole spec against the dataset, writes the split beside the store, runs every\n"
     "pipeline on every fold and prints each result and the leaderboard. Runs finished earlier are\n"
     "kept, so an interrupted run continues where it stopped, and several processes of one host may\n"
     "share one store. Across hosts: --shard (a Slurm job array, then visbench merge) or --mpi\n"
     "(mpirun -np N visbench run SPEC --mpi: rank 0 plans and writes the store, the other ranks\n"
     "compute, each with --threads). Both keep the runs that share a feature extraction together.",
     {{"--store DB", "the results store (default: results/<spec name>.db)"},
      {"--pipeline NAME", "run only this pipeline (default: all)"},
      {"--dataset N", "a spec with datasets: [...]: run only dataset N (1-based) or the one at this path "
                      "(default: every one, then the matrix across them)"},
      {"--json", "print one JSON object per (pipeline, fold) on stdout instead of tables"},
      {"--retry-failed", "run again the runs that failed earlier (default: keep them failed)"},
      {"--dry-run", "check the spec and print the plan (pool, folds, features) without running"},
      {"--shard I/N", "run only the I-th of N disjoint, balanced slices of the runs (alone: I and N from "
                      "SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT; default store results/<spec "
                      "name>.shard-I-of-N.db)"},
      {"--mpi", "share the runs between the ranks of an MPI job (mpirun); needs a visbench built with MPI"}},
     "visbench run pipelines/quickstart.yaml"},
    {"results", "results DB [--experiment ID] [--format text|md|csv|json] [--predictions|--clusters] [--experiments]",
     "the leaderboard and significance tests of a stored experiment",
     "Prints the leaderboard and the pairwise significance tests of one experiment of a store\n"
     "(the latest by default), without re-running anything.",
     {{"--experiment ID", "the experiment (default: the latest)"},
      {"--format F", "text, md, csv or json (default: text)"},
      {"--predictions", "print every stored prediction as CSV instead"},
      {"--clusters", "mode: cluster: print every sample's cluster as CSV instead (pipeline, fold, file)"},
      {"--experiments", "list the store's experiments instead (id, name, dataset, split, runs)"}},
     "visbench results results/quickstart.db --format md"},
    {"merge", "merge OUT.db SHARD.db...",
     "join the stores of the shards of one spec (run --shard, a Slurm job array) into one",
     "Checks that every shard holds the same experiments (the same spec hash and split hash), then\n"
     "copies their runs into OUT (created if missing) in one transaction. A run finished in two\n"
     "stores must have the same results there, else nothing is written; a finished run replaces a\n"
     "failed or interrupted one; unfinished claims are skipped. Merging again changes nothing. On\n"
     "any error OUT is left as it was (a new OUT is not created).",
     {{NULL, NULL}},
     "visbench merge results/fashion.db results/fashion.shard-*.db"},
    {"report", "report DB [-o FILE] [--format html|md|csv] [--experiment ID]",
     "the comparison report of a stored experiment (HTML with charts, Markdown, CSV)",
     "Renders the report of one experiment from the store. html is one self-contained page written\n"
     "beside the store (results/x.db -> results/x.html) unless -o names a file; md and csv go to\n"
     "standard output unless -o names a file; '-o -' sends any format there. Without --format, the\n"
     "extension of -o chooses. Prints the path of the file it wrote.",
     {{"-o, --output FILE", "where to write (default: beside the store for html, stdout otherwise)"},
      {"--format F", "html, md or csv (default: from -o, else html)"},
      {"--experiment ID", "the experiment (default: the latest)"}},
     "visbench report results/quickstart.db -o report.html"},
    {"train", "train SPEC --pipeline NAME [-o MODEL] [--fold NAME] [--with-val]",
     "train one pipeline exactly as run does and save it as a model",
     "Fits the pipeline through the same engine as run and saves the whole trained pipeline. With\n"
     "--fold, the model is the one run evaluated on that fold (the same predictions, bit for bit).\n"
     "Without it: the holdout or official-test fold of such a spec, or for cross-validation the\n"
     "whole training pool (what you ship; run did not evaluate that model).",
     {{"--pipeline NAME", "the pipeline to train (required)"},
      {"-o, --output MODEL", "the model file (default: results/<spec>.<pipeline>.vbm)"},
      {"--fold NAME", "train on this fold of the split (default: see above)"},
      {"--with-val", "add the validation part to the training part (default: off)"}},
     "visbench train pipelines/quickstart.yaml --pipeline hog-svm -o hog.vbm"},
    {"predict", "predict MODEL IMAGE|DIR... [--format text|csv|json] [--top K]",
     "label new images with a saved model",
     "Prints the predicted label and the top scores of each image, through the model's own\n"
     "preprocessing; folders are searched for images. Says on stderr whether the model's scores are\n"
     "probabilities or decision values (json: \"scores\" in each object).",
     {{"--format F", "text, csv or json (default: text)"},
      {"--top K", "the K best classes with their scores (default: 3; csv prints every score unless --top)"}},
     "visbench predict hog.vbm shirt.png photos/ --format csv"},
    {"evaluate", "evaluate MODEL DATASET [--part test|train|all] [--json]",
     "the metrics of a saved model on a labelled dataset",
     "Scores a saved model on a labelled dataset whose class names match the model's: every metric\n"
     "of the results store (accuracy, balanced accuracy, macro and micro scores, top-k, AUC, log loss\n"
     "for probabilities), the per-class table with AUC, and the confusion matrix; --json has it all.",
     {{"--part P", "test, train or all (default: test when the dataset has one, else all)"},
      {"--json", "print the metrics as JSON"}},
     "visbench evaluate hog.vbm datasets/fashion-mnist.yaml"},
    {"features", "features SPEC --pipeline NAME --out FILE [--format libsvm|csv|npy] [--part train|val|test] [--fold N]",
     "write one pipeline's feature matrix for other tools",
     "Writes the features of one pipeline (after post-processing, fitted on the fold's training part\n"
     "as run does) with labels; npy puts the labels in FILE.labels.npy.",
     {{"--pipeline NAME", "the pipeline (required)"},
      {"--out FILE", "the output file (required)"},
      {"--format F", "libsvm, csv or npy (default: libsvm)"},
      {"--part P", "train (the images, then a pipeline's augmented copies), val or test (default: test)"},
      {"--fold N", "the fold number, from 1 (default: 1)"}},
     "visbench features pipelines/fashion-hog.yaml --pipeline hog-svm --out hog.npy --format npy"},
    {"list", "list [KIND|PLUGIN] [--markdown]", "every plug-in with its parameters",
     "Lists dataset formats, split options, preprocessing ops, feature extractors, post-processing\n"
     "steps and classifiers with their parameters, types, defaults and ranges, from the tables the\n"
     "spec parser checks. KIND: datasets, split, preprocess, features, postprocess, classifiers, tune.",
     {{"--markdown", "print Markdown tables (as in the README)"}},
     "visbench list classifiers"},
    {"dataset",
     "dataset info DATASET\n"
     "       visbench dataset synth --out DIR [--classes N] [--per-class N] [--test-per-class N]\n"
     "                [--size S] [--color] [--noise SIGMA] [--clutter N] [--seed S] [--force]\n"
     "                [--multilabel | --hierarchy]\n"
     "       visbench dataset export DATASET --out DIR [--part all|train|test]",
     "inspect, generate or export datasets",
     "info: classes, counts per part and image size of a descriptor or an image folder.\n"
     "synth: a labelled synthetic PNG dataset (shapes and textures) with its dataset.yaml.\n"
     "export: any dataset (IDX, CIFAR, ...) as PNG files with CSV manifests.",
     {{"--out DIR", "synth, export: the folder to write (required)"},
      {"--classes N", "synth: classes, 2..10 (default: 4)"},
      {"--per-class N", "synth: training images per class (default: 50)"},
      {"--test-per-class N", "synth: also write a test part (default: 0, none)"},
      {"--size S", "synth: image side in pixels (default: 32)"},
      {"--color", "synth: RGB images (default: grey)"},
      {"--noise SIGMA", "synth: Gaussian noise (default: 0.05)"},
      {"--clutter N", "synth: distracting strokes per image (default: 2)"},
      {"--seed S", "synth: the seed (default: 1)"},
      {"--force", "synth: write into a folder that is not empty (default: refuse)"},
      {"--multilabel", "synth: images of 1..3 shapes (none in 5%), a CSV manifest of label sets (size 48 unless --size)"},
      {"--hierarchy", "synth: class folders grouped by shape family (round, angular, texture)"},
      {"--part P", "export: all, train or test (default: all)"}},
     "visbench dataset synth --out shapes --classes 4 --per-class 30"},
    {"model", "model info MODEL [--json]", "what a saved model is and how it was made",
     "Prints a model file's pipeline, task, classes, whether its scores are probabilities, the input\n"
     "shape, the size of each section, the visbench version that wrote it, and how it was made: the\n"
     "spec, the dataset's hash and size, the split and fold, the seed, the chosen grid point, and the\n"
     "metrics on the fold's test part at training time.",
     {{"--json", "print it all as one JSON object"}},
     "visbench model info results/quickstart.hog-svm.vbm"},
    {"version", "version", "print the version", "Prints the visbench version (also: visbench --version).", {{0, 0}},
     "visbench version"},
    {"help", "help [COMMAND]", "this overview, or one command's help",
     "Prints the overview of the commands, or the help of one command (the same as COMMAND --help).", {{0, 0}},
     "visbench help run"},
};

static const cmd_help *find_command(const char *name)
{
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

static void print_command(FILE *f, const cmd_help *h)
{
    fprintf(f, "usage: visbench %s\n\n%s\n", h->usage, h->text);
    if (h->opts[0].flag) {
        fputs("\noptions:\n", f);
        for (size_t i = 0; i < sizeof h->opts / sizeof h->opts[0] && h->opts[i].flag; i++)
            fprintf(f, "  %-20s %s\n", h->opts[i].flag, h->opts[i].text);
    }
    fprintf(f, "\nexample:\n  %s\n", h->example);
}

void cli_help_overview(FILE *f)
{
    fputs("usage: visbench [--threads N] [-v|-q] COMMAND [ARGS]\n\ncommands:\n", f);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fputs("\noptions:\n"
          "  --threads N   threads for OpenMP and OpenBLAS (default: all cores)\n"
          "  -v, -q        more or less output on stderr\n"
          "  --version     print the version\n"
          "\n'visbench help COMMAND' or 'visbench COMMAND --help' shows one command.\n",
          f);
}

int cli_help(const char *command)
{
    if (!command) {
        cli_help_overview(stdout);
        return VB_EXIT_OK;
    }
    const cmd_help *h = find_command(command);
    if (!h) {
        const char *names[sizeof commands / sizeof commands[0]];
        for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
            names[i] = commands[i].name;
        const char *near = vb_nearest_name(command, names, sizeof names / sizeof names[0]);
        if (near)
            return cli_usage("help", "unknown command '%s'; did you mean '%s'?", command, near);
        return cli_usage("help", "unknown command '%s'", command);
    }
    print_command(stdout, h);
    return VB_EXIT_OK;
}

int cli_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            return 0;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return 1;
    }
    return 0;
}
