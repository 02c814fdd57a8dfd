/* Experiment spec parsing: structure, plug-in lookup, parameter tables. */
#include "visbench/spec.h"
#include "visbench/ensemble.h"
#include "visbench/model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const vb_param_def split_params[] = {
    {.name = "protocol", .type = VB_PT_ENUM, .def = "holdout", .choices = "holdout|official-test|kfold|group_kfold|loo",
     .help = "holdout: one stratified split of the pool (repeats: several); official-test: the dataset's own parts; "
             "kfold: stratified k folds of the pool (see pool); group_kfold: k folds of whole groups (the dataset's "
             "group column); loo: leave-one-out, one fold per pool image"},
    {.name = "test_fraction", .type = VB_PT_FLOAT, .def = "0.2", .min = 0, .max = 1, .flags = VB_PF_MIN_OPEN,
     .help = "holdout: fraction of the pool for testing"},
    {.name = "k", .type = VB_PT_INT, .def = "5", .min = 2, .max = 1000,
     .help = "kfold, group_kfold: number of folds"},
    {.name = "repeats", .type = VB_PT_INT, .def = "1", .min = 1, .max = 1000,
     .help = "kfold: repetitions with fresh shuffles (repeated k-fold); holdout: independent draws (repeated "
             "holdout, Monte Carlo cross-validation)"},
    {.name = "learning_curve", .type = VB_PT_FLOATS, .def = "[]", .min = 0, .max = 1, .max_len = VB_SPLIT_MAX_CURVE,
     .flags = VB_PF_MIN_OPEN,
     .help = "fractions of each fold's training part (stratified, kept to 0.1%) every pipeline also trains on, "
             "tested on the fold's whole test part: a learning curve in the report, apart from the leaderboard"},
    {.name = "max_folds", .type = VB_PT_INT, .def = "1000", .min = 1, .max = 10000,
     .help = "loo: the largest pool it accepts (one fold, and a model, per image)"},
    {.name = "official_test", .type = VB_PT_BOOL, .def = "false",
     .help = "kfold, group_kfold: also train on the whole pool and test on the official test part"},
    {.name = "validation", .type = VB_PT_FLOAT, .def = "0", .min = 0, .max = 0.9,
     .help = "fraction of each training set held out for tuning grids and early stopping"},
    {.name = "train_limit", .type = VB_PT_INT, .def = "0", .min = 0, .max = 1e12,
     .help = "stratified subsample of the training pool (0 = all)"},
    {.name = "test_limit", .type = VB_PT_INT, .def = "0", .min = 0, .max = 1e12,
     .help = "stratified subsample of each test set (0 = all)"},
    {.name = "pool", .type = VB_PT_ENUM, .def = "train", .choices = "train|all",
     .help = "all but official-test: draw from the official training part only (train), or from every sample (all)"},
    {.name = "seed", .type = VB_PT_INT, .min = 0, .max = 9.2e18,
     .help = "seed of the split (default: the spec's seed)"},
};

static const vb_param_def tune_params[] = {
    {.name = "metric", .type = VB_PT_ENUM, .def = "accuracy", .choices = "accuracy|balanced_accuracy|macro_f1",
     .flags = VB_PF_PRIMARY, .help = "what a grid point is scored by"},
    {.name = "folds", .type = VB_PT_INT, .def = "0", .min = 0, .max = 20,
     .help = "0: score on the split's validation part; k >= 2: stratified inner k-fold of the training part"},
    {.name = "max_points", .type = VB_PT_INT, .def = "1000", .min = 1, .max = 1e9,
     .help = "the most grid points a pipeline may have (feature variants x classifier points); a larger product "
             "is an error"},
};

static const vb_param_def search_params[] = {
    {.name = "random", .type = VB_PT_INT, .def = "0", .min = 0, .max = 1e6, .flags = VB_PF_PRIMARY,
     .help = "0: try every grid point; N: N seeded draws from the lists and ranges ({uniform: [a, b]}, "
             "{loguniform: [a, b]}), the same draws in every fold"},
};

const vb_plugin vb_search_plugin = {
    .name = "search",
    .help = "how a pipeline's grid is searched: every point, or random draws; a pipeline key",
    .params = search_params,
    .n_params = sizeof search_params / sizeof search_params[0],
};

const vb_plugin vb_augment_plugin = {
    .name = "augment",
    .help = "augmented copies of each training image, added to the training rows before feature extraction "
            "(validation and test images are never augmented); a pipeline key",
    .doc = "Copy c of training image i is drawn with a seed of the spec's seed, the feature configuration with "
           "this block, the fold, i and c, so run, train and features make the same rows in any process and at "
           "any thread count. The ops apply to the preprocessed image, as the extractors see it; uncovered "
           "pixels are 0. Extractors that learn (codebooks) are fitted on the original images only. The cnn "
           "takes none: it augments its own training images anew every epoch (its augment parameter).",
    .params = vb_augment_params,
    .n_params = VB_AUGMENT_N_PARAMS,
};

int vb_pipeline_copies(const vb_spec_pipeline *sp, vb_augment *a)
{
    if (!sp->augment.plugin) {
        if (a)
            memset(a, 0, sizeof *a);
        return 0;
    }
    if (a)
        vb_augment_from_params(&sp->augment, a);
    return (int)vb_param_int(&sp->augment, "copies");
}

const vb_plugin vb_tune_plugin = {
    .name = "tune",
    .help = "how a pipeline's grid (lists of values in its preprocessing, features, post-processing and "
            "classifier) is tuned; a pipeline key",
    .params = tune_params,
    .n_params = sizeof tune_params / sizeof tune_params[0],
};

static const vb_param_def ensemble_params[] = {
    {.name = "name", .type = VB_PT_STRING, .flags = VB_PF_REQUIRED,
     .help = "the ensemble's name, a row of the leaderboard like a pipeline's"},
    {.name = "of", .type = VB_PT_STRINGS, .flags = VB_PF_REQUIRED, .min_len = 2, .max_len = 64,
     .help = "the pipelines it combines (names from pipelines:, at least two)"},
    {.name = "method", .type = VB_PT_ENUM, .def = "soft", .choices = "soft|hard|stacking",
     .help = "soft: the (weighted) mean of the members' probabilities; hard: a (weighted) majority of their "
             "predicted labels, ties to the first member in `of` that voted for a tied class; stacking: a "
             "meta-classifier on the members' scores, fitted by an inner k-fold of each fold's training part"},
    {.name = "weights", .type = VB_PT_FLOATS, .def = "[]", .min = 0, .max = 1e6, .max_len = 64,
     .help = "soft, hard: one weight per member (default: equal)"},
    {.name = "folds", .type = VB_PT_INT, .def = "3", .min = 2, .max = 20,
     .help = "stacking: inner folds of the training part whose held-out scores the meta-classifier learns from"},
    {.name = "meta", .type = VB_PT_NODE, .def = "logreg",
     .help = "stacking: the meta-classifier, as a pipeline's classifier: is written ({logreg: {C: 1}})"},
};

const vb_plugin vb_ensemble_plugin = {
    .name = "ensemble",
    .help = "pipelines combined on the same folds from their stored test scores; ranks, tests, reports and "
            "saves (visbench train --pipeline NAME) like a pipeline",
    VB_PARAMS(ensemble_params),
};

const vb_plugin vb_split_plugin = {
    .name = "split",
    .help = "which samples train, validate and test each fold",
    .params = split_params,
    .n_params = sizeof split_params / sizeof split_params[0],
};

static void pipeline_free(vb_spec_pipeline *p)
{
    free(p->name);
    vb_prep_chain_free(&p->prep);
    for (size_t i = 0; i < p->n_ext; i++)
        vb_params_free(&p->ext_params[i]);
    free(p->ext);
    free(p->ext_params);
    for (size_t i = 0; i < p->n_post; i++)
        vb_params_free(&p->post_params[i]);
    free(p->post);
    free(p->post_params);
    vb_params_free(&p->search);
    vb_params_free(&p->augment);
    vb_params_free(&p->clf_params);
    vb_params_free(&p->tune);
    free(p->members);
    vb_params_free(&p->ens_params);
}

void vb_spec_free(vb_spec *spec)
{
    if (!spec)
        return;
    for (size_t i = 0; i < spec->n_pipelines; i++)
        pipeline_free(&spec->pipelines[i]);
    free(spec->pipelines);
    for (size_t i = 0; i < spec->n_datasets; i++) {
        free(spec->dataset_paths[i]);
        vb_node_free(spec->dataset_nodes[i]);
    }
    free(spec->dataset_paths);
    free(spec->dataset_nodes);
    free(spec->dataset_lines);
    free(spec->dataset_cols);
    free(spec->base_dir);
    free(spec->path);
    free(spec->name);
    free(spec->text);
    vb_params_free(&spec->split_params);
    free(spec);
}

/* A registry of one kind of plug-in (vtables that begin with vb_plugin). */
typedef struct registry {
    const char *kind;
    const void *const *vt;
    size_t n;
} registry;

#define REGISTRY(kind, getter) ((registry){kind, (const void *const *)getter(&n_tmp), n_tmp})

/* Parses one plug-in entry ("name" or "name: params") against its registry. */
static vb_status parse_entry(const vb_node *entry, registry reg, int allow_grid, const void **vt, vb_params *params,
                             vb_error *err)
{
    return vb_params_parse_entry(params, reg.vt, reg.n, reg.kind, entry, allow_grid, vt, err);
}

static vb_status parse_prep_list(const vb_node *list, vb_prep_chain *chain, vb_error *err)
{
    if (!list)
        return VB_OK;
    vb_status st = vb_node_expect(list, VB_NODE_SEQ, "preprocess", err);
    size_t n_tmp;
    registry reg = REGISTRY("preprocess op", vb_prep_registry);
    for (size_t i = 0; st == VB_OK && i < list->n; i++) {
        const void *vt;
        vb_params p;
        st = parse_entry(list->items[i], reg, 1, &vt, &p, err);
        if (st == VB_OK) {
            st = vb_prep_chain_add(chain, vt, &p, err);
            vb_params_free(&p);
        }
    }
    return st;
}

/* Is the base classifier's parameter `key` one whose list is a grid? */
static int base_grid_param(const vb_classifier_vt *b, const char *key)
{
    for (size_t i = 0; i < b->info.n_params; i++) {
        const vb_param_def *d = &b->info.params[i];
        if (strcmp(d->name, key) == 0)
            return (d->flags & VB_PF_GRID) && (d->type == VB_PT_INT || d->type == VB_PT_FLOAT ||
                                               d->type == VB_PT_BOOL || d->type == VB_PT_ENUM ||
                                               d->type == VB_PT_STRING);
    }
    return 0;
}

/* A wrapper's base classifier may list values too (br: {base: {svm: {C:
 * [1, 10]}}}): each combination becomes an alternative of the wrapper's
 * `base` parameter, so that the wrapper's grid holds them, as any grid.
 * The base's own table says which lists are grids. */
static vb_status expand_base_grid(vb_params *clf, vb_error *err)
{
    for (size_t i = 0; i < clf->plugin->n_params; i++) {
        vb_pvalue *v = &clf->v[i];
        const vb_param_def *d = &clf->plugin->params[i];
        if (d->type != VB_PT_NODE || strcmp(d->name, "base") != 0 || !v->node || v->n_alts)
            continue;
        const vb_node *n = v->node;
        if (n->kind != VB_NODE_MAP || n->n != 1 || n->items[0]->kind != VB_NODE_MAP)
            continue;
        const vb_classifier_vt *b = vb_classifier_find(n->keys[0]->text);
        const vb_node *val = n->items[0];
        size_t lists[64], m = 0, total = 1;
        for (size_t j = 0; b && j < val->n && m < 64; j++)
            if (val->items[j]->kind == VB_NODE_SEQ && base_grid_param(b, val->keys[j]->text)) {
                if (val->items[j]->n == 0)
                    return vb_node_fail(val->items[j], err, "%s.%s: the grid is empty", b->info.name,
                                        val->keys[j]->text);
                lists[m++] = j;
                total *= val->items[j]->n;
                if (total > 1000000)
                    return vb_node_fail(val, err, "%s: the base classifier's grid is too large", d->name);
            }
        if (!m)
            continue;
        vb_pvalue *alts = vb_calloc(total, sizeof *alts, err);
        if (!alts)
            return VB_ERR_NOMEM;
        for (size_t t = 0; t < total; t++) {
            vb_node *c = vb_node_clone(n);
            if (!c) {
                for (size_t u = 0; u < t; u++)
                    vb_node_free(alts[u].node);
                free(alts);
                return vb_fail(err, VB_ERR_NOMEM, "out of memory");
            }
            size_t rest = t;
            for (size_t q = m; q-- > 0;) { /* the first list varies slowest */
                const vb_node *seq = val->items[lists[q]];
                vb_node *pick = vb_node_clone(seq->items[rest % seq->n]);
                rest /= seq->n;
                vb_node_free(c->items[0]->items[lists[q]]);
                c->items[0]->items[lists[q]] = pick;
            }
            alts[t] = (vb_pvalue){.given = 1, .node = c, .file = v->file, .line = v->line, .col = v->col};
        }
        vb_node *first = vb_node_clone(alts[0].node);
        if (!first) {
            for (size_t u = 0; u < total; u++)
                vb_node_free(alts[u].node);
            free(alts);
            return vb_fail(err, VB_ERR_NOMEM, "out of memory");
        }
        vb_node_free(v->node);
        v->node = first;
        v->alts = alts;
        v->n_alts = total;
    }
    return VB_OK;
}

/* A range ({uniform: ...}) can only be drawn from. */
static vb_status ranges_need_random(const vb_spec_pipeline *p, vb_error *err)
{
    if (vb_pipeline_random(p))
        return VB_OK;
    vb_param_sets sets;
    vb_pipeline_param_sets(p, 1, &sets);
    for (size_t k = 0; k < sets.n; k++) {
        const vb_pvalue *r = vb_params_first_range(sets.p[k]);
        if (r)
            return vb_fail(err, VB_ERR_SPEC,
                           "%s:%d:%d: pipeline '%s': a range of values is drawn from by random search; add search: "
                           "{random: N} to the pipeline, or list the values",
                           r->file, r->line, r->col, p->name);
    }
    return VB_OK;
}

/* The grid's size against tune.max_points, with what makes it up. */
static vb_status grid_limit(const vb_node *node, const vb_spec_pipeline *p, size_t points, vb_error *err)
{
    long max = vb_param_int(&p->tune, "max_points");
    if (points <= (size_t)max)
        return VB_OK;
    vb_buf b;
    vb_buf_init(&b);
    vb_param_sets sets;
    vb_pipeline_param_sets(p, 1, &sets);
    for (size_t k = 0; k < sets.n; k++)
        for (size_t i = 0; i < sets.p[k]->plugin->n_params; i++)
            if (sets.p[k]->v[i].n_alts > 1)
                vb_buf_printf(&b, "%s%s.%s %zu", b.len ? " x " : "", sets.owner[k], sets.p[k]->plugin->params[i].name,
                              sets.p[k]->v[i].n_alts);
    vb_status st = vb_pipeline_random(p)
                       ? vb_node_fail(node, err,
                                      "pipeline '%s': search.random draws %zu points, more than tune.max_points "
                                      "(%ld); draw fewer, or raise tune: {max_points: N}",
                                      p->name, points, max)
                       : vb_node_fail(node, err,
                                      "pipeline '%s': its grid has %zu points (%s), more than tune.max_points (%ld); "
                                      "list fewer values, or raise tune: {max_points: N}",
                                      p->name, points, b.data ? b.data : "", max);
    vb_buf_free(&b);
    return st;
}

/* A pipeline's augment block: ops that change something, and a
 * classifier that does not augment its own images. */
static vb_status parse_augment(const vb_node *node, vb_spec_pipeline *p, vb_error *err)
{
    if (!node)
        return VB_OK;
    vb_status st = vb_params_parse(&p->augment, &vb_augment_plugin, node, 0, err);
    if (st != VB_OK)
        return st;
    vb_augment a;
    vb_pipeline_copies(p, &a);
    if (!vb_augment_active(&a))
        return vb_node_fail(node, err,
                            "pipeline '%s': augment changes nothing, so its copies would repeat the images; give "
                            "flip: true, shift, rotate or brightness",
                            p->name);
    if (p->clf->flags & VB_CLF_IMAGE)
        return vb_node_fail(node, err,
                            "pipeline '%s': %s augments its own training images, anew every epoch; move the ops "
                            "into its parameters (classifier: {%s: {augment: {flip: true, ...}}}) and drop the "
                            "pipeline's augment",
                            p->name, p->clf->info.name, p->clf->info.name);
    return VB_OK;
}

static vb_status parse_pipeline(const vb_node *node, const vb_node *global_prep, int cluster, vb_spec_pipeline *p,
                                vb_error *err)
{
    static const char *const keys[] = {"name", "preprocess", "features", "postprocess", "classifier", "tune",
                                       "search", "augment"};
    vb_status st = vb_node_expect(node, VB_NODE_MAP, "each pipeline", err);
    if (st == VB_OK)
        st = vb_node_check_keys(node, keys, 8, "a pipeline", err);
    if (st != VB_OK)
        return st;
    p->line = node->line;
    p->col = node->col;
    const vb_node *name = vb_node_get(node, "name");
    const char *name_text;
    if (!name)
        return vb_node_fail(node, err, "each pipeline needs a 'name'");
    if ((st = vb_node_str(name, "pipeline name", &name_text, err)) != VB_OK)
        return st;
    if (!*name_text || strlen(name_text) > 64 || strspn(name_text, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._+-") != strlen(name_text))
        return vb_node_fail(name, err, "pipeline name '%s' must be 1-64 letters, digits, '.', '_', '+' or '-'",
                            name_text);
    if (!(p->name = vb_strdup(name_text, err)))
        return VB_ERR_NOMEM;
    vb_prep_chain_init(&p->prep);
    if ((st = parse_prep_list(global_prep, &p->prep, err)) != VB_OK ||
        (st = parse_prep_list(vb_node_get(node, "preprocess"), &p->prep, err)) != VB_OK)
        return st;

    size_t n_tmp;
    const vb_node *feats = vb_node_get(node, "features");
    if (feats) {
        if ((st = vb_node_expect(feats, VB_NODE_SEQ, "features", err)) != VB_OK)
            return st;
        if (feats->n == 0)
            return vb_node_fail(feats, err, "features is empty; leave it out to use the raw pixels");
        p->ext = vb_calloc(feats->n, sizeof *p->ext, err);
        p->ext_params = vb_calloc(feats->n, sizeof *p->ext_params, err);
        if (!p->ext || !p->ext_params)
            return VB_ERR_NOMEM;
        for (size_t i = 0; i < feats->n; i++) {
            const void *vt;
            if ((st = parse_entry(feats->items[i], REGISTRY("feature extractor", vb_extractor_registry), 1, &vt,
                                  &p->ext_params[i], err)) != VB_OK)
                return st;
            p->ext[i] = vt;
            p->n_ext++;
        }
    } else {
        /* Default: the raw pixels. */
        p->ext = vb_calloc(1, sizeof *p->ext, err);
        p->ext_params = vb_calloc(1, sizeof *p->ext_params, err);
        if (!p->ext || !p->ext_params)
            return VB_ERR_NOMEM;
        p->ext[0] = vb_extractor_find("raw");
        if ((st = vb_params_parse(&p->ext_params[0], &p->ext[0]->info, NULL, 0, err)) != VB_OK)
            return st;
        p->n_ext = 1;
    }
    const vb_node *post = vb_node_get(node, "postprocess");
    if (post) {
        if ((st = vb_node_expect(post, VB_NODE_SEQ, "postprocess", err)) != VB_OK)
            return st;
        p->post = vb_calloc(post->n, sizeof *p->post, err);
        p->post_params = vb_calloc(post->n, sizeof *p->post_params, err);
        if (!p->post || !p->post_params)
            return VB_ERR_NOMEM;
        for (size_t i = 0; i < post->n; i++) {
            const void *vt;
            if ((st = parse_entry(post->items[i], REGISTRY("postprocess step", vb_post_registry), 1, &vt,
                                  &p->post_params[i], err)) != VB_OK)
                return st;
            p->post[i] = vt;
            p->n_post++;
        }
    }
    if (p->prep.n + p->n_ext + p->n_post > VB_PIPELINE_MAX_STEPS)
        return vb_node_fail(node, err,
                            "pipeline '%s' has %zu preprocessing ops, extractors and post-processing steps; at most "
                            "%d",
                            p->name, p->prep.n + p->n_ext + p->n_post, VB_PIPELINE_MAX_STEPS);
    const vb_node *clf = vb_node_get(node, "classifier");
    if (!clf)
        return vb_node_fail(node, err, "pipeline '%s' needs a 'classifier'", p->name);
    const void *vt;
    if ((st = parse_entry(clf, REGISTRY("classifier", vb_classifier_registry), 1, &vt, &p->clf_params, err)) != VB_OK)
        return st;
    p->clf = vt;
    if ((st = expand_base_grid(&p->clf_params, err)) != VB_OK)
        return st;
    if (cluster && !vb_classifier_clusters(p->clf, &p->clf_params))
        return vb_node_fail(clf, err,
                            "pipeline '%s': %s%s does not cluster; mode: cluster takes kmeans, or gmm with mode: "
                            "cluster",
                            p->name, p->clf->info.name, strcmp(p->clf->info.name, "gmm") == 0 ? " in mode: classify" : "");
    const vb_node *search = vb_node_get(node, "search");
    if ((st = vb_params_parse(&p->search, &vb_search_plugin, search, 0, err)) != VB_OK)
        return st;
    if ((st = ranges_need_random(p, err)) != VB_OK)
        return st;
    size_t points = vb_pipeline_points(p);
    if (cluster && points > 1)
        return vb_node_fail(clf, err,
                            "pipeline '%s': mode: cluster has no labels to tune a grid on; give each parameter one "
                            "value (one pipeline per setting compares them)",
                            p->name);
    const vb_node *tune = vb_node_get(node, "tune");
    if ((st = vb_params_parse(&p->tune, &vb_tune_plugin, tune, 0, err)) != VB_OK)
        return st;
    if (vb_param_int(&p->tune, "folds") == 1)
        return vb_param_fail(&p->tune, "folds", err, "must be 0 (the split's validation part) or at least 2");
    if ((st = grid_limit(node, p, points, err)) != VB_OK)
        return st;
    if ((st = parse_augment(vb_node_get(node, "augment"), p, err)) != VB_OK)
        return st;
    if (tune && points <= 1)
        vb_log(VB_LOG_WARN, "%s:%d:%d: pipeline '%s' has a tune block but no grid (no parameter lists values); it "
                            "is ignored",
               tune->file, tune->line, tune->col, p->name);
    return VB_OK;
}

/* One entry of ensembles: (name, of, method, ...) into p, its members
 * looked up among the spec's first n_plain pipelines. */
static vb_status parse_ensemble(const vb_spec *spec, size_t n_plain, const vb_node *node, vb_spec_pipeline *p,
                                vb_error *err)
{
    vb_status st = vb_node_expect(node, VB_NODE_MAP, "each ensemble", err);
    if (st == VB_OK)
        st = vb_params_parse(&p->ens_params, &vb_ensemble_plugin, node, 0, err);
    if (st != VB_OK)
        return st;
    p->line = node->line;
    p->col = node->col;
    p->all = spec->pipelines;
    const vb_node *name = vb_node_get(node, "name"), *of = vb_node_get(node, "of");
    const char *name_text = vb_param_str(&p->ens_params, "name");
    if (!*name_text || strlen(name_text) > 64 ||
        strspn(name_text, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._+-") != strlen(name_text))
        return vb_node_fail(name, err, "ensemble name '%s' must be 1-64 letters, digits, '.', '_', '+' or '-'",
                            name_text);
    if (!(p->name = vb_strdup(name_text, err)))
        return VB_ERR_NOMEM;
    vb_prep_chain_init(&p->prep);
    const char *method = vb_param_str(&p->ens_params, "method");
    p->ens_method = strcmp(method, "soft") == 0 ? VB_ENS_SOFT : strcmp(method, "hard") == 0 ? VB_ENS_HARD : VB_ENS_STACK;
    if (of->kind != VB_NODE_SEQ)
        return vb_node_fail(of, err, "of must be a list of pipeline names, e.g. of: [hog-svm, raw-svm]");
    p->members = vb_calloc(of->n, sizeof *p->members, err);
    if (!p->members)
        return VB_ERR_NOMEM;
    for (size_t i = 0; i < of->n; i++) {
        const vb_node *m = of->items[i];
        size_t j = 0;
        while (j < spec->n_pipelines && strcmp(spec->pipelines[j].name, m->text) != 0)
            j++;
        if (j == spec->n_pipelines) {
            const char *names[256];
            size_t k = n_plain < 256 ? n_plain : 256;
            for (size_t x = 0; x < k; x++)
                names[x] = spec->pipelines[x].name;
            const char *near = vb_nearest_name(m->text, names, k);
            return vb_node_fail(m, err, "ensemble '%s' combines '%s', which is no pipeline of this spec%s%s%s",
                                p->name, m->text, near ? "; did you mean '" : "", near ? near : "",
                                near ? "'?" : " (ensembles combine the spec's pipelines)");
        }
        if (j >= n_plain)
            return vb_node_fail(m, err, "ensemble '%s' combines '%s', another ensemble; combine pipelines (list "
                                        "that ensemble's members instead)",
                                p->name, m->text);
        for (size_t x = 0; x < p->n_members; x++)
            if (p->members[x] == j)
                return vb_node_fail(m, err, "ensemble '%s' lists '%s' twice", p->name, m->text);
        const vb_spec_pipeline *mp = &spec->pipelines[j];
        if (p->ens_method == VB_ENS_SOFT && !vb_classifier_params_proba(mp->clf, &mp->clf_params))
            return vb_node_fail(m, err,
                                "ensemble '%s' averages probabilities (method: soft), but pipeline '%s' (line %d) "
                                "gives its classifier's (%s) decision scores, not probabilities; make them "
                                "probabilities (svm: probability: true; linear: loss: logistic), or use method: "
                                "hard or stacking",
                                p->name, mp->name, mp->line, mp->clf->info.name);
        p->members[p->n_members++] = j;
    }
    size_t nw;
    vb_param_list(&p->ens_params, "weights", &nw);
    if (nw && p->ens_method == VB_ENS_STACK)
        return vb_param_fail(&p->ens_params, "weights", err, "does not apply to method: stacking (the "
                                                              "meta-classifier learns how to weigh the members)");
    if (nw && nw != p->n_members)
        return vb_param_fail(&p->ens_params, "weights", err, "gives %zu weight%s for %zu members; give one per member",
                             nw, nw == 1 ? "" : "s", p->n_members);
    const vb_node *meta = vb_node_get(node, "meta");
    if (meta && p->ens_method != VB_ENS_STACK)
        return vb_node_fail(meta, err, "meta applies to method: stacking only (this ensemble's method is %s)", method);
    if (vb_node_get(node, "folds") && p->ens_method != VB_ENS_STACK)
        return vb_param_fail(&p->ens_params, "folds", err, "applies to method: stacking only");
    if (p->ens_method == VB_ENS_STACK) {
        size_t n_tmp;
        const void *vt;
        if (meta)
            st = parse_entry(meta, REGISTRY("classifier", vb_classifier_registry), 0, &vt, &p->clf_params, err);
        else {
            vt = vb_classifier_find("logreg");
            st = vb_params_parse(&p->clf_params, &((const vb_classifier_vt *)vt)->info, NULL, 0, err);
        }
        if (st != VB_OK)
            return st;
        p->clf = vt;
        if (p->clf->flags & (VB_CLF_IMAGE | VB_CLF_MULTILABEL | VB_CLF_HIER) || vb_classifier_clusters(p->clf, &p->clf_params))
            return vb_node_fail(meta, err, "the meta-classifier learns from the members' scores: use a flat "
                                           "classifier (logreg, linear, svm, forest, knn, ...), not %s",
                                p->clf->info.name);
    }
    /* the (empty) parameter sets of the parts an ensemble does not have */
    if ((st = vb_params_parse(&p->tune, &vb_tune_plugin, NULL, 0, err)) != VB_OK ||
        (st = vb_params_parse(&p->search, &vb_search_plugin, NULL, 0, err)) != VB_OK)
        return st;
    return VB_OK;
}

static vb_status parse_ensembles(vb_spec *spec, const vb_node *ens, vb_error *err)
{
    if (spec->cluster && ens->n)
        return vb_node_fail(ens, err, "mode: cluster has no labels to combine ensembles by; drop ensembles");
    size_t n_plain = spec->n_pipelines;
    for (size_t i = 0; i < ens->n; i++) {
        vb_spec_pipeline *p = &spec->pipelines[spec->n_pipelines];
        spec->n_pipelines++;
        spec->n_ensembles++;
        vb_status st = parse_ensemble(spec, n_plain, ens->items[i], p, err);
        if (st != VB_OK)
            return st;
        for (size_t j = 0; j + 1 < spec->n_pipelines; j++)
            if (strcmp(spec->pipelines[j].name, p->name) == 0)
                return vb_node_fail(vb_node_get(ens->items[i], "name"), err,
                                    "the name '%s' is used twice (first at line %d); ensembles and pipelines need "
                                    "names of their own",
                                    p->name, spec->pipelines[j].line);
        for (size_t m = 0; m < p->n_members; m++)
            spec->pipelines[p->members[m]].in_ensemble = 1;
    }
    return VB_OK;
}

/* One file a VB_PF_FILE value names: the path resolved against the spec's
 * folder, the hash of the file's bytes read (and folded into the spec's hash, so that
 * a changed file changes it too). */
static vb_status resolve_file(vb_spec *spec, const vb_params *p, const vb_param_def *d, vb_pvalue *v, vb_error *err)
{
    char *full = vb_path_join(spec->base_dir, v->word);
    if (!full)
        return vb_fail(err, VB_ERR_NOMEM, "out of memory");
    free(v->word);
    v->word = full;
    char *data = NULL;
    size_t len = 0;
    vb_error e = {0};
    if (vb_file_read(full, &data, &len, &e) != VB_OK) {
        if (e.status == VB_ERR_NOMEM)
            return vb_fail(err, VB_ERR_NOMEM, "out of memory");
        return vb_fail(err, VB_ERR_SPEC, "%s:%d:%d: %s.%s: %s (the path is relative to the spec's folder)", v->file,
                       v->line, v->col, p->plugin->name, d->name, e.msg);
    }
    v->file_hash = vb_hash64(data, len, 0);
    free(data);
    spec->hash = vb_hash64(&v->file_hash, sizeof v->file_hash, spec->hash);
    return VB_OK;
}

/* Every file named by a parameter of the pipeline's plug-ins (VB_PF_FILE:
 * a model the cnn extractor runs, one the cnn starts from). */
static vb_status resolve_files(vb_spec *spec, vb_spec_pipeline *sp, vb_error *err)
{
    size_t n = sp->prep.n + sp->n_ext + sp->n_post + 1;
    for (size_t k = 0; k < n; k++) {
        vb_params *p = k < sp->prep.n                           ? &sp->prep.params[k]
                       : k < sp->prep.n + sp->n_ext             ? &sp->ext_params[k - sp->prep.n]
                       : k < sp->prep.n + sp->n_ext + sp->n_post ? &sp->post_params[k - sp->prep.n - sp->n_ext]
                                                                 : &sp->clf_params;
        for (size_t i = 0; i < p->plugin->n_params; i++) {
            const vb_param_def *d = &p->plugin->params[i];
            vb_pvalue *v = &p->v[i];
            if (!(d->flags & VB_PF_FILE) || !v->given || !v->word)
                continue;
            vb_status st = VB_OK;
            if (v->n_alts > 1) { /* a grid of files; the value itself is the first */
                for (size_t a = 0; a < v->n_alts && st == VB_OK; a++)
                    st = resolve_file(spec, p, d, &v->alts[a], err);
                char *first = st == VB_OK ? vb_strdup(v->alts[0].word, err) : NULL;
                if (st == VB_OK && !first)
                    return VB_ERR_NOMEM;
                if (first) {
                    free(v->word);
                    v->word = first;
                    v->file_hash = v->alts[0].file_hash;
                }
            } else
                st = resolve_file(spec, p, d, v, err);
            if (st != VB_OK)
                return st;
        }
    }
    return VB_OK;
}

static vb_status parse_root(vb_spec *spec, const vb_doc *doc, vb_error *err)
{
    static const char *const keys[] = {"name",    "seed",  "mode",       "correction", "dataset",
                                       "datasets", "split", "preprocess", "pipelines", "ensembles"};
    const vb_node *root = doc->root;
    if (!root)
        return vb_fail(err, VB_ERR_SPEC, "%s: the spec is empty", doc->file);
    vb_status st = vb_node_expect(root, VB_NODE_MAP, "the spec", err);
    if (st == VB_OK)
        st = vb_node_check_keys(root, keys, 10, "the spec", err);
    if (st != VB_OK)
        return st;

    const vb_node *name = vb_node_get(root, "name");
    const char *name_text;
    if (!name)
        return vb_node_fail(root, err, "the spec needs a 'name' (it names the results folder)");
    if ((st = vb_node_str(name, "name", &name_text, err)) != VB_OK)
        return st;
    if (!*name_text || strlen(name_text) > 64 || name_text[0] == '.' ||
        strspn(name_text, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != strlen(name_text))
        return vb_node_fail(name, err, "name '%s' must be 1-64 letters, digits, '.', '_' or '-' (it names files)",
                            name_text);
    if (!(spec->name = vb_strdup(name_text, err)))
        return VB_ERR_NOMEM;

    spec->seed = 42;
    const vb_node *seed = vb_node_get(root, "seed");
    if (seed) {
        long v;
        if ((st = vb_node_long(seed, "seed", &v, err)) != VB_OK)
            return st;
        if (v < 0)
            return vb_node_fail(seed, err, "seed must be >= 0, not %ld", v);
        spec->seed = (uint64_t)v;
    }

    const vb_node *mode = vb_node_get(root, "mode");
    if (mode) {
        const char *m;
        if ((st = vb_node_str(mode, "mode", &m, err)) != VB_OK)
            return st;
        if (strcmp(m, "cluster") != 0 && strcmp(m, "classify") != 0)
            return vb_node_fail(mode, err, "mode must be classify (the default) or cluster, not '%s'", m);
        spec->cluster = strcmp(m, "cluster") == 0;
    }

    /* How the pairwise p-values of the report are adjusted for the number
     * of pairs; the report reads it back from the stored spec text. */
    spec->correction = VB_CORRECT_HOLM;
    const vb_node *corr = vb_node_get(root, "correction");
    if (corr) {
        const char *m;
        if ((st = vb_node_str(corr, "correction", &m, err)) != VB_OK)
            return st;
        if (!vb_correction_parse(m, &spec->correction)) {
            static const char *const names[] = {"none", "holm", "bonferroni"};
            const char *near = vb_nearest_name(m, names, 3);
            return vb_node_fail(corr, err, "correction must be none, holm (the default) or bonferroni, not '%s'%s%s%s", m,
                                near ? "; did you mean '" : "", near ? near : "", near ? "'?" : "");
        }
    }

    const vb_node *ds = vb_node_get(root, "dataset"), *dss = vb_node_get(root, "datasets");
    if (ds && dss)
        return vb_node_fail(dss, err, "the spec gives both 'dataset' and 'datasets'; keep one (datasets: [a, b] "
                                      "runs every pipeline on each)");
    if (!ds && !dss)
        return vb_node_fail(root, err, "the spec needs a 'dataset' (a descriptor path or {format: ..., ...}), or "
                                       "'datasets' (a list of them)");
    if (dss && (dss->kind != VB_NODE_SEQ || dss->n == 0))
        return vb_node_fail(dss, err, "datasets must be a list of descriptor paths or mappings, e.g. datasets: "
                                      "[a/dataset.yaml, b/dataset.yaml]");
    size_t n_ds = dss ? dss->n : 1;
    spec->dataset_paths = vb_calloc(n_ds, sizeof *spec->dataset_paths, err);
    spec->dataset_nodes = vb_calloc(n_ds, sizeof *spec->dataset_nodes, err);
    spec->dataset_lines = vb_calloc(n_ds, sizeof *spec->dataset_lines, err);
    spec->dataset_cols = vb_calloc(n_ds, sizeof *spec->dataset_cols, err);
    if (!spec->dataset_paths || !spec->dataset_nodes || !spec->dataset_lines || !spec->dataset_cols)
        return VB_ERR_NOMEM;
    spec->n_datasets = n_ds;
    for (size_t i = 0; i < n_ds; i++) {
        const vb_node *d = dss ? dss->items[i] : ds;
        spec->dataset_lines[i] = d->line;
        spec->dataset_cols[i] = d->col;
        if (d->kind == VB_NODE_SCALAR) {
            if (!(spec->dataset_paths[i] = vb_path_join(spec->base_dir, d->text)))
                return vb_fail(err, VB_ERR_NOMEM, "out of memory");
            for (size_t j = 0; j < i; j++)
                if (spec->dataset_paths[j] && strcmp(spec->dataset_paths[j], spec->dataset_paths[i]) == 0)
                    return vb_node_fail(d, err, "datasets lists %s twice", d->text);
        } else if (d->kind == VB_NODE_MAP) {
            if (!(spec->dataset_nodes[i] = vb_node_clone(d)))
                return vb_fail(err, VB_ERR_NOMEM, "out of memory");
        } else
            return vb_node_fail(d, err, "%s must be a descriptor path or a mapping, not a list",
                                dss ? "each of datasets" : "dataset");
    }
    vb_spec_select_dataset(spec, 0);

    const vb_node *split = vb_node_get(root, "split");
    if (split) {
        spec->split_line = split->line;
        spec->split_col = split->col;
    }
    vb_params *sp_kept = &spec->split_params, sp;
    if ((st = vb_params_parse(sp_kept, &vb_split_plugin, split, 0, err)) != VB_OK)
        return st;
    sp = *sp_kept; /* (kept for errors found once the data is loaded: vb_spec_split) */
    vb_split_conf *c = &spec->split;
    *c = vb_split_conf_default;
    vb_protocol_parse(vb_param_str(&sp, "protocol"), &c->protocol);
    c->test_fraction = vb_param_float(&sp, "test_fraction");
    c->k = (int)vb_param_int(&sp, "k");
    c->repeats = (int)vb_param_int(&sp, "repeats");
    c->max_folds = (int)vb_param_int(&sp, "max_folds");
    c->official_test = vb_param_bool(&sp, "official_test");
    c->validation = vb_param_float(&sp, "validation");
    c->train_limit = (size_t)vb_param_int(&sp, "train_limit");
    c->test_limit = (size_t)vb_param_int(&sp, "test_limit");
    c->pool = strcmp(vb_param_str(&sp, "pool"), "all") == 0 ? VB_POOL_ALL : VB_POOL_TRAIN;
    if (c->pool == VB_POOL_ALL && c->protocol == VB_PROTO_OFFICIAL)
        st = vb_param_fail(&sp, "pool", err, "does not apply to protocol: official-test (it uses the dataset's parts)");
    else if (c->pool == VB_POOL_ALL && c->official_test)
        st = vb_param_fail(&sp, "pool", err, "pool: all would put the official test part into the training folds; "
                                              "drop official_test or the pool");
    c->seed = vb_param(&sp, "seed")->given ? (uint64_t)vb_param_int(&sp, "seed") : spec->seed;
    size_t n_curve = 0;
    const double *curve = vb_param_list(&sp, "learning_curve", &n_curve);
    for (size_t i = 0; st == VB_OK && i < n_curve; i++) {
        int q = (int)lround(curve[i] * 1000);
        if (q < 1)
            st = vb_param_fail(&sp, "learning_curve", err, "%g is below 0.1%% of a training part (0.001)", curve[i]);
        for (size_t j = 0; st == VB_OK && j < c->n_curve; j++)
            if (c->curve[j] == q)
                st = vb_param_fail(&sp, "learning_curve", err, "lists %g twice", curve[i]);
        if (st == VB_OK)
            c->curve[c->n_curve++] = q;
    }
    if (st == VB_OK && c->n_curve && c->protocol == VB_PROTO_LOO)
        st = vb_param_fail(&sp, "learning_curve", err,
                           "does not apply to protocol: loo (a point per image and fraction); use kfold");
    if (st == VB_OK && c->official_test && c->protocol != VB_PROTO_KFOLD && c->protocol != VB_PROTO_GROUP_KFOLD)
        st = vb_param_fail(&sp, "official_test", err, "only applies to protocol: kfold or group_kfold");
    if (st == VB_OK && c->repeats > 1 && c->protocol != VB_PROTO_KFOLD && c->protocol != VB_PROTO_HOLDOUT)
        st = vb_param_fail(&sp, "repeats", err,
                           "only applies to protocol: kfold (repeated k-fold) or holdout (repeated holdout); %s has "
                           "one way to deal its folds",
                           vb_protocol_name(c->protocol));
    if (st != VB_OK)
        return st;

    const vb_node *pipes = vb_node_get(root, "pipelines");
    if (!pipes)
        return vb_node_fail(root, err, "the spec needs 'pipelines' (a list)");
    if ((st = vb_node_expect(pipes, VB_NODE_SEQ, "pipelines", err)) != VB_OK)
        return st;
    if (pipes->n == 0)
        return vb_node_fail(pipes, err, "pipelines is empty");
    const vb_node *gprep = vb_node_get(root, "preprocess");
    if (gprep && (st = vb_node_expect(gprep, VB_NODE_SEQ, "preprocess", err)) != VB_OK)
        return st;
    const vb_node *ens = vb_node_get(root, "ensembles");
    if (ens && (st = vb_node_expect(ens, VB_NODE_SEQ, "ensembles", err)) != VB_OK)
        return st;
    spec->pipelines = vb_calloc(pipes->n + (ens ? ens->n : 0), sizeof *spec->pipelines, err);
    if (!spec->pipelines)
        return VB_ERR_NOMEM;
    for (size_t i = 0; i < pipes->n; i++) {
        spec->n_pipelines = i + 1;
        if ((st = parse_pipeline(pipes->items[i], gprep, spec->cluster, &spec->pipelines[i], err)) != VB_OK ||
            (st = resolve_files(spec, &spec->pipelines[i], err)) != VB_OK)
            return st;
        for (size_t j = 0; j < i; j++)
            if (strcmp(spec->pipelines[j].name, spec->pipelines[i].name) == 0)
                return vb_node_fail(vb_node_get(pipes->items[i], "name"), err,
                                    "pipeline name '%s' is used twice (first at line %d)", spec->pipelines[i].name,
                                    spec->pipelines[j].line);
    }
    return ens ? parse_ensembles(spec, ens, err) : VB_OK;
}

static vb_status parse_doc(const vb_doc *doc, const char *path, vb_spec **out, vb_error *err)
{
    /* plug-ins this spec names may read model files (the cnn extractor,
     * init_from): the model layer's reader */
    vb_model_install_hooks();
    vb_spec *spec = vb_calloc(1, sizeof *spec, err);
    if (!spec)
        return VB_ERR_NOMEM;
    spec->path = vb_strdup(path, err);
    spec->base_dir = vb_path_dirname(path);
    spec->text = vb_strdup(doc->text, err);
    vb_status st = spec->path && spec->base_dir && spec->text ? VB_OK : VB_ERR_NOMEM;
    if (st == VB_OK) {
        spec->hash = vb_hash64(doc->text, doc->text_len, 0);
        st = parse_root(spec, doc, err);
    }
    if (st != VB_OK) {
        vb_spec_free(spec);
        return st;
    }
    *out = spec;
    return VB_OK;
}

vb_status vb_spec_load(const char *path, vb_spec **out, vb_error *err)
{
    *out = NULL;
    vb_doc *doc = NULL;
    vb_status st = vb_doc_load_file(path, &doc, err);
    if (st != VB_OK)
        return st;
    st = parse_doc(doc, path, out, err);
    vb_doc_free(doc);
    return st;
}

vb_status vb_spec_parse(const char *text, const char *name, vb_spec **out, vb_error *err)
{
    *out = NULL;
    vb_doc *doc = NULL;
    vb_status st = vb_doc_load_string(text, name, &doc, err);
    if (st != VB_OK)
        return st;
    st = parse_doc(doc, name, out, err);
    vb_doc_free(doc);
    return st;
}

vb_status vb_spec_load_dataset(const vb_spec *spec, vb_dataset **out, vb_error *err)
{
    if (spec->dataset_path)
        return vb_dataset_load_path(spec->dataset_path, out, err);
    return vb_dataset_load_node(spec->dataset_node, spec->base_dir, out, err);
}

void vb_spec_select_dataset(vb_spec *spec, size_t i)
{
    if (i >= spec->n_datasets)
        return;
    spec->dataset_index = i;
    spec->dataset_path = spec->dataset_paths[i];
    spec->dataset_node = spec->dataset_nodes[i];
}

const char *vb_spec_dataset_label(const vb_spec *spec, size_t i, char *buf, size_t size)
{
    if (i < spec->n_datasets && spec->dataset_paths[i]) {
        /* the path relative to the spec's folder, as written */
        const char *p = spec->dataset_paths[i];
        size_t b = spec->base_dir ? strlen(spec->base_dir) : 0;
        if (b && strncmp(p, spec->base_dir, b) == 0 && p[b] == '/')
            p += b + 1;
        snprintf(buf, size, "%s", p);
    } else
        snprintf(buf, size, "dataset %zu", i + 1);
    return buf;
}

vb_status vb_spec_split(const vb_spec *spec, const vb_dataset *ds, vb_split **out, vb_error *err)
{
    const char *param = NULL;
    vb_status st = vb_split_make_blame(&spec->split, ds, out, &param, err);
    if (st == VB_OK)
        return st;
    const vb_params *p = &spec->split_params;
    if (!err)
        return st;
    if (param && p->plugin && !vb_param(p, param)->given && vb_param(p, "protocol")->given)
        param = "protocol"; /* a default is at fault: point at the protocol that needs it */
    if (param && p->plugin && vb_param(p, param)->given) {
        char msg[sizeof err->msg];
        snprintf(msg, sizeof msg, "%s", err->msg);
        vb_param_fail(p, param, err, "%s", msg);
        err->status = st; /* (a data error stays one) */
        return st;
    }
    if (spec->split_line)
        return vb_error_prefix(err, "%s:%d:%d: split", spec->path, spec->split_line, spec->split_col);
    return vb_error_prefix(err, "%s: split", spec->path);
}

const vb_spec_pipeline *vb_spec_find_pipeline(const vb_spec *spec, const char *name)
{
    for (size_t i = 0; i < spec->n_pipelines; i++)
        if (strcmp(spec->pipelines[i].name, name) == 0)
            return &spec->pipelines[i];
    return NULL;
}
