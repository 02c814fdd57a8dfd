/* Experiment spec parsing: structure, plug-in lookup, parameter tables. */
#include "visbench/spec.h"

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
};

const vb_plugin vb_tune_plugin = {
    .name = "tune",
    .help = "how a classifier grid (a list of values) is tuned; a pipeline key",
    .params = tune_params,
    .n_params = sizeof tune_params / sizeof tune_params[0],
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
    vb_params_free(&p->clf_params);
    vb_params_free(&p->tune);
}

void vb_spec_free(vb_spec *spec)
{
    if (!spec)
        return;
    for (size_t i = 0; i < spec->n_pipelines; i++)
        pipeline_free(&spec->pipelines[i]);
    free(spec->pipelines);
    vb_node_free(spec->dataset_node);
    free(spec->dataset_path);
    free(spec->base_dir);
    free(spec->path);
    free(spec->name);
    free(spec->text);
    vb_params_free(&spec->split_params);
    free(spec);
}

/* A plug-in name that is not in a registry: suggest the nearest. */
static vb_status unknown_plugin(const vb_node *name, const char *kind, const vb_plugin *const *all, size_t n,
                                vb_error *err)
{
    const char *names[64];
    size_t m = n < 64 ? n : 64;
    vb_buf list;
    vb_buf_init(&list);
    for (size_t i = 0; i < m; i++) {
        names[i] = all[i]->name;
        vb_buf_printf(&list, "%s%s", i ? ", " : "", names[i]);
    }
    const char *near = vb_nearest_name(name->text, names, m);
    vb_status st;
    if (near)
        st = vb_node_fail(name, err, "unknown %s '%s'; did you mean '%s'? (see visbench list)", kind, name->text, near);
    else
        st = vb_node_fail(name, err, "unknown %s '%s' (choices: %s)", kind, name->text, list.data ? list.data : "");
    vb_buf_free(&list);
    return st;
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
    const vb_node *name, *value;
    vb_status st = vb_node_entry(entry, reg.kind, &name, &value, err);
    if (st != VB_OK)
        return st;
    *vt = vb_plugin_find(reg.vt, reg.n, name->text);
    if (!*vt) {
        const vb_plugin *all[64];
        size_t m = reg.n < 64 ? reg.n : 64;
        for (size_t i = 0; i < m; i++)
            all[i] = reg.vt[i];
        return unknown_plugin(name, reg.kind, all, m, err);
    }
    return vb_params_parse(params, (const vb_plugin *)*vt, value, allow_grid, err);
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
        st = parse_entry(list->items[i], reg, 0, &vt, &p, err);
        if (st == VB_OK) {
            st = vb_prep_chain_add(chain, vt, &p, err);
            vb_params_free(&p);
        }
    }
    return st;
}

static vb_status parse_pipeline(const vb_node *node, const vb_node *global_prep, int cluster, vb_spec_pipeline *p,
                                vb_error *err)
{
    static const char *const keys[] = {"name", "preprocess", "features", "postprocess", "classifier", "tune"};
    vb_status st = vb_node_expect(node, VB_NODE_MAP, "each pipeline", err);
    if (st == VB_OK)
        st = vb_node_check_keys(node, keys, 6, "a pipeline", err);
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
            if ((st = parse_entry(feats->items[i], REGISTRY("feature extractor", vb_extractor_registry), 0, &vt,
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
            if ((st = parse_entry(post->items[i], REGISTRY("postprocess step", vb_post_registry), 0, &vt,
                                  &p->post_params[i], err)) != VB_OK)
                return st;
            p->post[i] = vt;
            p->n_post++;
        }
    }
    const vb_node *clf = vb_node_get(node, "classifier");
    if (!clf)
        return vb_node_fail(node, err, "pipeline '%s' needs a 'classifier'", p->name);
    const void *vt;
    if ((st = parse_entry(clf, REGISTRY("classifier", vb_classifier_registry), 1, &vt, &p->clf_params, err)) != VB_OK)
        return st;
    p->clf = vt;
    if (cluster && !vb_classifier_clusters(p->clf, &p->clf_params))
        return vb_node_fail(clf, err,
                            "pipeline '%s': %s%s does not cluster; mode: cluster takes kmeans, or gmm with mode: "
                            "cluster",
                            p->name, p->clf->info.name, strcmp(p->clf->info.name, "gmm") == 0 ? " in mode: classify" : "");
    if (cluster && vb_params_grid_size(&p->clf_params) > 1)
        return vb_node_fail(clf, err,
                            "pipeline '%s': mode: cluster has no labels to tune a grid on; give each parameter one "
                            "value (one pipeline per setting compares them)",
                            p->name);
    const vb_node *tune = vb_node_get(node, "tune");
    if ((st = vb_params_parse(&p->tune, &vb_tune_plugin, tune, 0, err)) != VB_OK)
        return st;
    if (vb_param_int(&p->tune, "folds") == 1)
        return vb_param_fail(&p->tune, "folds", err, "must be 0 (the split's validation part) or at least 2");
    if (tune && vb_params_grid_size(&p->clf_params) <= 1)
        vb_log(VB_LOG_WARN, "%s:%d:%d: pipeline '%s' has a tune block but no grid (no parameter lists values); it "
                            "is ignored",
               tune->file, tune->line, tune->col, p->name);
    return VB_OK;
}

static vb_status parse_root(vb_spec *spec, const vb_doc *doc, vb_error *err)
{
    static const char *const keys[] = {"name", "seed", "mode", "dataset", "split", "preprocess", "pipelines"};
    const vb_node *root = doc->root;
    if (!root)
        return vb_fail(err, VB_ERR_SPEC, "%s: the spec is empty", doc->file);
    vb_status st = vb_node_expect(root, VB_NODE_MAP, "the spec", err);
    if (st == VB_OK)
        st = vb_node_check_keys(root, keys, 7, "the spec", err);
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

    const vb_node *ds = vb_node_get(root, "dataset");
    if (!ds)
        return vb_node_fail(root, err, "the spec needs a 'dataset' (a descriptor path or {format: ..., ...})");
    if (ds->kind == VB_NODE_SCALAR) {
        if (!(spec->dataset_path = vb_path_join(spec->base_dir, ds->text)))
            return vb_fail(err, VB_ERR_NOMEM, "out of memory");
    } else if (ds->kind == VB_NODE_MAP) {
        if (!(spec->dataset_node = vb_node_clone(ds)))
            return vb_fail(err, VB_ERR_NOMEM, "out of memory");
    } else
        return vb_node_fail(ds, err, "dataset must be a descriptor path or a mapping, not a list");

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
    spec->pipelines = vb_calloc(pipes->n, sizeof *spec->pipelines, err);
    if (!spec->pipelines)
        return VB_ERR_NOMEM;
    for (size_t i = 0; i < pipes->n; i++) {
        spec->n_pipelines = i + 1;
        if ((st = parse_pipeline(pipes->items[i], gprep, spec->cluster, &spec->pipelines[i], err)) != VB_OK)
            return st;
        for (size_t j = 0; j < i; j++)
            if (strcmp(spec->pipelines[j].name, spec->pipelines[i].name) == 0)
                return vb_node_fail(vb_node_get(pipes->items[i], "name"), err,
                                    "pipeline name '%s' is used twice (first at line %d)", spec->pipelines[i].name,
                                    spec->pipelines[j].line);
    }
    return VB_OK;
}

static vb_status parse_doc(const vb_doc *doc, const char *path, vb_spec **out, vb_error *err)
{
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
