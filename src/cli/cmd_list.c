/* visbench list: every plug-in and its parameters, from the same tables
 * the spec parser uses. */
#include "cli.h"

#include <getopt.h>
#include <string.h>

typedef struct kind {
    const char *key, *title, *usage;
    size_t n;
    const vb_plugin *p[64];
} kind;

#define COLLECT(k, getter)                                                                                   \
    do {                                                                                                     \
        size_t n_;                                                                                           \
        const void *const *all_ = (const void *const *)getter(&n_);                                         \
        for (size_t i_ = 0; i_ < n_ && i_ < 64; i_++)                                                        \
            (k)->p[i_] = (const vb_plugin *)all_[i_];                                                        \
        (k)->n = n_ < 64 ? n_ : 64;                                                                          \
    } while (0)

/* A Markdown table cell: '|' would end the cell, so it is escaped. */
static void md_cell(const char *s, int code)
{
    fputs(code && *s ? "| `" : "| ", stdout);
    for (; *s; s++) {
        if (*s == '|' && !code)
            fputc('\\', stdout);
        fputc(*s, stdout);
    }
    fputs(code && *s == 0 ? "` " : " ", stdout);
}

/* The rows of a plug-in's table. Columns as wide as its longest entry, so
 * that they stay aligned. */
static void print_rows(const vb_plugin *p, int md, const char *in)
{
    vb_buf t;
    int w[4] = {4, 4, 7, 5};
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < p->n_params; i++) {
            const vb_param_def *d = &p->params[i];
            vb_buf_init(&t);
            vb_param_type_text(d, &t);
            vb_buf r;
            vb_buf_init(&r);
            vb_param_range_text(d, &r);
            const char *def = d->def ? d->def : (d->flags & VB_PF_REQUIRED) ? "required" : "-";
            const char *cell[4] = {d->name, t.data ? t.data : "", def, r.data ? r.data : ""};
            if (pass == 0)
                for (int k = 0; k < 4; k++)
                    w[k] = (int)strlen(cell[k]) > w[k] ? (int)strlen(cell[k]) : w[k];
            else if (md) {
                md_cell(cell[0], 1);
                md_cell(cell[1], 0);
                md_cell(cell[2], 0);
                md_cell(cell[3], 0);
                md_cell(d->help ? d->help : "", 0);
                printf("|\n");
            } else
                printf("%s      %-*s  %-*s  default %-*s  %-*s  %s\n", in, w[0], cell[0], w[1], cell[1], w[2],
                       cell[2], w[3], cell[3], d->help ? d->help : "");
            vb_buf_free(&t);
            vb_buf_free(&r);
        }
}

/* A plug-in, its table and the tables of its structured parameters (the
 * cnn's layers, optimizers, ...), whose plug-ins are one level down (sub):
 * a bold name instead of a heading, or indented. */
static void print_plugin(const vb_plugin *p, int md, int sub)
{
    const char *in = sub ? "    " : "";
    if (md) {
        printf(sub ? "**`%s`**: %s." : "#### `%s`\n\n%s.", p->name, p->help);
        if (p->doc)
            printf(" %s", p->doc);
        printf("\n\n");
    } else {
        printf("%s  %s\n%s      %s\n", in, p->name, in, p->help);
        if (p->doc)
            printf("%s      %s\n", in, p->doc);
    }
    if (md && !p->n_params)
        printf("No parameters.\n\n");
    else {
        if (md)
            printf("| parameter | type | default | range | meaning |\n| --- | --- | --- | --- | --- |\n");
        print_rows(p, md, in);
        printf("\n");
    }
    for (size_t g = 0; g < p->n_groups; g++) {
        const vb_plugin_group *G = &p->groups[g];
        if (md)
            printf("##### `%s.%s`\n\n`%s`\n\n", p->name, G->param, G->usage);
        else
            printf("    %s.%s — %s\n\n", p->name, G->param, G->usage);
        for (size_t i = 0; i < G->n; i++)
            print_plugin(G->plugins[i], md, 1);
    }
}

int cmd_list(int argc, char **argv)
{
    int md = 0;
    static const struct option opts[] = {{"markdown", no_argument, 0, 'm'}, {0, 0, 0, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":m", opts, NULL)) != -1) {
        if (c == 'm')
            md = 1;
        else
            return cli_bad_option("list", c, argv);
    }
    const char *only = optind < argc ? argv[optind] : NULL;
    static kind kinds[9] = {
        {.key = "datasets", .title = "Dataset formats", .usage = "dataset: {format: NAME, ...} or a descriptor file with these keys (and name, hierarchy)"},
        {.key = "split", .title = "Split", .usage = "split: {...}"},
        {.key = "preprocess", .title = "Preprocessing ops", .usage = "preprocess: [NAME, {NAME: {param: value}}, ...]"},
        {.key = "features", .title = "Feature extractors", .usage = "features: [{NAME: {param: value}}, ...]  (several = concatenated)"},
        {.key = "postprocess", .title = "Post-processing", .usage = "postprocess: [NAME, ...]  (fitted on the training split)"},
        {.key = "classifiers", .title = "Classifiers", .usage = "classifier: {NAME: {param: value or [grid values]}}"},
        {.key = "tune", .title = "Tuning", .usage = "tune: {metric: ..., folds: ..., max_points: ...}  and  search: {random: N}  (pipeline keys, for grids)"},
        {.key = "augment", .title = "Augmentation", .usage = "augment: {flip: true, shift: 2, rotate: 10, brightness: 0.1, copies: 2}  (a pipeline key: augmented copies of the training images)"},
        {.key = "ensembles", .title = "Ensembles", .usage = "ensembles: [{name: NAME, of: [pipeline, ...], method: soft|hard|stacking, ...}]  (evaluated on the members' folds from their test scores)"},
    };
    COLLECT(&kinds[0], vb_loaders);
    kinds[1].n = 1;
    kinds[1].p[0] = &vb_split_plugin;
    COLLECT(&kinds[2], vb_prep_registry);
    COLLECT(&kinds[3], vb_extractor_registry);
    COLLECT(&kinds[4], vb_post_registry);
    COLLECT(&kinds[5], vb_classifier_registry);
    kinds[6].n = 2;
    kinds[6].p[0] = &vb_tune_plugin;
    kinds[6].p[1] = &vb_search_plugin;
    kinds[7].n = 1;
    kinds[7].p[0] = &vb_augment_plugin;
    kinds[8].n = 1;
    kinds[8].p[0] = &vb_ensemble_plugin;
    int shown = 0;
    for (int k = 0; k < 9; k++) {
        if (only && strcmp(only, kinds[k].key) != 0)
            continue;
        shown++;
        if (md)
            printf("### %s\n\n`%s`\n\n", kinds[k].title, kinds[k].usage);
        else
            printf("%s — %s\n\n", kinds[k].title, kinds[k].usage);
        for (size_t i = 0; i < kinds[k].n; i++)
            print_plugin(kinds[k].p[i], md, 0);
    }
    /* A plug-in's name: that plug-in alone, under its kind (each of its
     * kinds: the cnn extractor and the cnn classifier share a name). */
    for (int k = 0, named = shown; !named && only && k < 9; k++)
        for (size_t i = 0, here = 0; i < kinds[k].n; i++)
            if (strcmp(kinds[k].p[i]->name, only) == 0 && kinds[k].n > 1) {
                if (!here++)
                    printf(md ? "### %s\n\n`%s`\n\n" : "%s — %s\n\n", kinds[k].title, kinds[k].usage);
                shown++;
                print_plugin(kinds[k].p[i], md, 0);
            }
    if (!shown) {
        const char *keys[9];
        for (int k = 0; k < 9; k++)
            keys[k] = kinds[k].key;
        const char *near = vb_nearest_name(only, keys, 9);
        return cli_usage("list", "unknown kind or plug-in '%s'%s%s%s (kinds: datasets, split, preprocess, features, "
                                 "postprocess, classifiers, tune, augment, ensembles; or a plug-in's name)",
                         only, near ? "; did you mean '" : "", near ? near : "", near ? "'?" : "");
    }
    return VB_EXIT_OK;
}
