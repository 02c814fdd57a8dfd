/* visbench dataset info | synth */
#include "cli.h"

#include <dirent.h>

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static int info(int argc, char **argv)
{
    if (argc != 2)
        return cli_usage("dataset info", "expects one dataset (a descriptor .yaml or an image folder)");
    vb_error err = {0};
    vb_dataset *ds = NULL;
    if (vb_dataset_load_path(argv[1], &ds, &err) != VB_OK)
        return cli_error(&err);
    printf("dataset   %s\nsource    %s\nimages    %zu\nclasses   %d\n", ds->name, argv[1], ds->n, ds->n_classes);
    if (ds->fixed_w)
        printf("size      %dx%d", ds->fixed_w, ds->fixed_h);
    else {
        int wmin = 1 << 30, wmax = 0, hmin = 1 << 30, hmax = 0;
        for (size_t i = 0; i < ds->n; i++) {
            wmin = ds->w[i] < wmin ? ds->w[i] : wmin;
            wmax = ds->w[i] > wmax ? ds->w[i] : wmax;
            hmin = ds->h[i] < hmin ? ds->h[i] : hmin;
            hmax = ds->h[i] > hmax ? ds->h[i] : hmax;
        }
        printf("size      varies: %d..%d x %d..%d (add a resize step)", wmin, wmax, hmin, hmax);
    }
    printf(", %s\n", ds->fixed_c == 1 ? "grey" : ds->fixed_c == 3 ? "RGB" : "grey and RGB mixed");
    printf("split     %s\n", ds->part ? "official train and test parts" : "none (use holdout or kfold)");
    if (ds->group) {
        size_t largest = 0, *size = calloc(ds->n_groups ? ds->n_groups : 1, sizeof *size);
        for (size_t i = 0; size && i < ds->n; i++)
            size[ds->group[i]]++;
        for (size_t g = 0; size && g < ds->n_groups; g++)
            largest = size[g] > largest ? size[g] : largest;
        free(size);
        printf("groups    %zu (column %s), the largest of %zu image%s: for protocol: group_kfold\n", ds->n_groups,
               ds->group_column, largest, largest == 1 ? "" : "s");
    }
    if (ds->task == VB_TASK_MULTILABEL)
        printf("task      multilabel (%zu image%s without a label; counts are images with the label)\n", ds->n_empty,
               ds->n_empty == 1 ? "" : "s");
    else if (ds->task == VB_TASK_HIER)
        printf("task      hierarchical (%d levels, %d groups)\n", ds->tax->max_depth, ds->tax->n_nodes - ds->tax->n_leaves);
    printf("\n");
    size_t *all = calloc((size_t)ds->n_classes, sizeof *all), *tr = calloc((size_t)ds->n_classes, sizeof *tr),
           *te = calloc((size_t)ds->n_classes, sizeof *te);
    if (!all || !tr || !te) {
        free(all);
        free(tr);
        free(te);
        vb_dataset_free(ds);
        vb_fail(&err, VB_ERR_NOMEM, "out of memory");
        return cli_error(&err);
    }
    vb_dataset_class_counts(ds, VB_PART_NONE, all);
    if (ds->part) {
        vb_dataset_class_counts(ds, VB_PART_TRAIN, tr);
        vb_dataset_class_counts(ds, VB_PART_TEST, te);
        printf("%-4s %-24s %8s %8s %8s\n", "id", "class", "train", "test", "total");
    } else
        printf("%-4s %-24s %8s\n", "id", "class", "images");
    for (int k = 0; k < ds->n_classes; k++) {
        if (ds->part)
            printf("%-4d %-24s %8zu %8zu %8zu\n", k, ds->classes[k], tr[k], te[k], all[k]);
        else
            printf("%-4d %-24s %8zu\n", k, ds->classes[k], all[k]);
    }
    free(all);
    free(tr);
    free(te);
    vb_dataset_free(ds);
    return VB_EXIT_OK;
}

static int number(const char *opt, const char *s, long lo, long hi, long *out)
{
    if (!vb_parse_long(s, out) || *out < lo || *out > hi)
        return cli_usage("dataset synth", "%s takes an integer from %ld to %ld, not '%s'", opt, lo, hi, s);
    return 0;
}

/* A folder that holds files is someone's data: writing a dataset over it
 * needs --force. */
static int refuse_nonempty(const char *cmd, const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d)))
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    if (!n)
        return 0;
    fprintf(stderr, "visbench: %s: %s is not empty; choose a new folder, or add --force to write over it\n", cmd, dir);
    return VB_EXIT_FAIL;
}

static int synth(int argc, char **argv)
{
    vb_synth_opts o = vb_synth_defaults;
    const char *out = NULL;
    static const struct option opts[] = {
        {"out", required_argument, 0, 'o'},       {"classes", required_argument, 0, 'c'},
        {"per-class", required_argument, 0, 'n'}, {"test-per-class", required_argument, 0, 't'},
        {"size", required_argument, 0, 's'},      {"color", no_argument, 0, 'C'},
        {"noise", required_argument, 0, 'N'},     {"clutter", required_argument, 0, 'k'},
        {"seed", required_argument, 0, 'S'},      {"force", no_argument, 0, 'F'},
        {"multilabel", no_argument, 0, 'M'},      {"hierarchy", no_argument, 0, 'H'},
        {0, 0, 0, 0}};
    int c, rc, force = 0, size_given = 0;
    long v;
    double d;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":o:", opts, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 'F': force = 1; break;
        case 'c': if ((rc = number("--classes", optarg, 2, 10, &v))) return rc; o.classes = (int)v; break;
        case 'n': if ((rc = number("--per-class", optarg, 1, 1000000, &v))) return rc; o.per_class = (int)v; break;
        case 't': if ((rc = number("--test-per-class", optarg, 0, 1000000, &v))) return rc; o.test_per_class = (int)v; break;
        case 's': if ((rc = number("--size", optarg, 8, 4096, &v))) return rc; o.size = (int)v; size_given = 1; break;
        case 'M': o.multilabel = 1; break;
        case 'H': o.hierarchy = 1; break;
        case 'C': o.color = 1; break;
        case 'N':
            if (!vb_parse_double(optarg, &d) || !(d >= 0 && d <= 1))
                return cli_usage("dataset synth", "--noise takes a number from 0 to 1, not '%s'", optarg);
            o.noise = d;
            break;
        case 'k': if ((rc = number("--clutter", optarg, 0, 100, &v))) return rc; o.clutter = (int)v; break;
        case 'S': if ((rc = number("--seed", optarg, 0, 0x7fffffffffffffffL, &v))) return rc; o.seed = (uint64_t)v; break;
        default: return cli_bad_option("dataset synth", c, argv);
        }
    }
    if (!out)
        return cli_usage("dataset synth", "needs --out DIR");
    if (optind < argc)
        return cli_usage("dataset synth", "unexpected argument '%s'", argv[optind]);
    if (o.multilabel && o.hierarchy)
        return cli_usage("dataset synth", "--multilabel or --hierarchy, not both");
    if (o.multilabel && !size_given)
        o.size = 48; /* room for three shapes */
    vb_error err = {0};
    if (!force && (rc = refuse_nonempty("dataset synth", out)))
        return rc;
    if (vb_synth_write(&o, out, &err) != VB_OK)
        return cli_error(&err);
    if (o.multilabel)
        printf("wrote %d multilabel images of %d shapes (%dx%d %s)%s to %s; descriptor %s/dataset.yaml\n",
               o.classes * o.per_class, o.classes, o.size, o.size, o.color ? "RGB" : "grey",
               o.test_per_class ? " plus a test part" : "", out, out);
    else
        printf("wrote %d classes x %d images (%dx%d %s)%s%s to %s; descriptor %s/dataset.yaml\n", o.classes,
               o.per_class, o.size, o.size, o.color ? "RGB" : "grey", o.test_per_class ? " plus a test part" : "",
               o.hierarchy ? " in shape families" : "", out, out);
    return VB_EXIT_OK;
}

static int export_(int argc, char **argv)
{
    const char *out = NULL, *part_name = "all";
    static const struct option opts[] = {{"out", required_argument, 0, 'o'}, {"part", required_argument, 0, 'p'},
                                         {0, 0, 0, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":o:", opts, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 'p':
            if (strcmp(optarg, "all") && strcmp(optarg, "train") && strcmp(optarg, "test"))
                return cli_usage("dataset export", "--part takes all, train or test, not '%s'", optarg);
            part_name = optarg;
            break;
        default: return cli_bad_option("dataset export", c, argv);
        }
    }
    if (!out || optind != argc - 1)
        return cli_usage("dataset export", "expects DATASET --out DIR [--part all|train|test]");
    vb_error err = {0};
    vb_dataset *ds = NULL;
    if (vb_dataset_load_path(argv[optind], &ds, &err) != VB_OK)
        return cli_error(&err);
    int part = strcmp(part_name, "train") == 0 ? VB_PART_TRAIN : strcmp(part_name, "test") == 0 ? VB_PART_TEST
                                                                                              : VB_PART_NONE;
    vb_status st = vb_dataset_export(ds, out, part, &err);
    size_t n = 0;
    for (size_t i = 0; i < ds->n; i++)
        n += part == VB_PART_NONE || (ds->part && ds->part[i] == part);
    vb_dataset_free(ds);
    if (st != VB_OK)
        return cli_error(&err);
    printf("wrote %zu images to %s/images; descriptor %s/dataset.yaml\n", n, out, out);
    return VB_EXIT_OK;
}

int cmd_dataset(int argc, char **argv)
{
    if (argc < 2)
        return cli_usage("dataset", "expects 'info DATASET' or 'synth --out DIR ...'");
    if (strcmp(argv[1], "info") == 0)
        return info(argc - 1, argv + 1);
    if (strcmp(argv[1], "synth") == 0)
        return synth(argc - 1, argv + 1);
    if (strcmp(argv[1], "export") == 0)
        return export_(argc - 1, argv + 1);
    return cli_usage("dataset", "unknown subcommand '%s' (info, synth, export)", argv[1]);
}
