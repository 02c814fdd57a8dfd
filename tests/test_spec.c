/* spec: experiment spec parsing, the structure it builds and every error
 * message (with file:line:col) a person can meet. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "support/splitutil.h"
#include "support/testutil.h"
#include "visbench/pipeline.h"
#include "visbench/spec.h"

#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

static vb_spec *parse_ok(const char *text)
{
    vb_spec *spec = NULL;
    vb_error err = {0};
    if (vb_spec_parse(text, "t.yaml", &spec, &err) != VB_OK)
        fail_msg("%s", err.msg);
    assert_non_null(spec);
    return spec;
}

/* Parses text, expects status want_st and exactly the message want. */
static void parse_fails_st(const char *text, vb_status want_st, const char *want)
{
    vb_spec *spec = (vb_spec *)1;
    vb_error err = {0};
    vb_status st = vb_spec_parse(text, "t.yaml", &spec, &err);
    if (st == VB_OK)
        fail_msg("parsed, expected: %s", want);
    assert_null(spec);
    if (strcmp(err.msg, want) != 0)
        fail_msg("message\n  '%s'\nexpected\n  '%s'", err.msg, want);
    assert_int_equal(err.status, st);
    assert_int_equal(st, want_st);
}

static void parse_fails(const char *text, const char *want) { parse_fails_st(text, VB_ERR_SPEC, want); }

static const char *pyaml(const vb_params *p, vb_buf *b)
{
    vb_buf_free(b);
    vb_buf_init(b);
    vb_params_to_yaml(p, b);
    assert_false(b->failed);
    return b->data;
}

/* ---- a good spec ------------------------------------------------------- */

static const char GOOD[] =
    "name: full-spec\n"                                                                       /* 1 */
    "seed: 7\n"                                                                               /* 2 */
    "dataset: data/ds.yaml\n"                                                                 /* 3 */
    "split: {protocol: holdout, test_fraction: 0.25, validation: 0.2, train_limit: 100}\n"    /* 4 */
    "preprocess: [grayscale, {resize: [24, 20]}]\n"                                           /* 5 */
    "pipelines:\n"                                                                            /* 6 */
    "  - name: hog-svm\n"                                                                     /* 7 */
    "    preprocess: [{normalize: minmax}]\n"                                                 /* 8 */
    "    features: [{hog: {cell: 4, orientations: 12}}, raw]\n"                               /* 9 */
    "    postprocess: [standardize, {l2: {}}]\n"                                              /* 10 */
    "    classifier: {svm: {C: [1, 10, 100], gamma: [0.01, 0.1], kernel: rbf}}\n"             /* 11 */
    "  - name: raw-svm\n"                                                                     /* 12 */
    "    classifier: svm\n";                                                                  /* 13 */

static void test_good_spec(void **state)
{
    vb_spec *s = parse_ok(GOOD);
    vb_buf b;
    vb_buf_init(&b);
    assert_string_equal(s->name, "full-spec");
    assert_string_equal(s->path, "t.yaml");
    assert_string_equal(s->base_dir, ".");
    assert_string_equal(s->text, GOOD);
    assert_true(s->hash == vb_hash64(GOOD, strlen(GOOD), 0));
    assert_int_equal(s->seed, 7);
    assert_string_equal(s->dataset_path, "data/ds.yaml");
    assert_null(s->dataset_node);

    assert_int_equal(s->split.protocol, VB_PROTO_HOLDOUT);
    assert_float_equal(s->split.test_fraction, 0.25, 0);
    assert_float_equal(s->split.validation, 0.2, 0);
    assert_int_equal(s->split.train_limit, 100);
    assert_int_equal(s->split.test_limit, 0);
    assert_int_equal(s->split.k, 5);
    assert_int_equal(s->split.repeats, 1);
    assert_false(s->split.official_test);
    assert_int_equal(s->split.seed, 7); /* the spec's seed */

    assert_int_equal(s->n_pipelines, 2);
    const vb_spec_pipeline *p = &s->pipelines[0];
    assert_string_equal(p->name, "hog-svm");
    assert_int_equal(p->line, 7);
    assert_int_equal(p->col, 5);
    /* global ops first, then the pipeline's own */
    assert_int_equal(p->prep.n, 3);
    assert_string_equal(p->prep.vt[0]->info.name, "grayscale");
    assert_string_equal(p->prep.vt[1]->info.name, "resize");
    assert_string_equal(p->prep.vt[2]->info.name, "normalize");
    assert_string_equal(pyaml(&p->prep.params[1], &b), "{size: [24, 20]}");
    assert_string_equal(vb_param_str(&p->prep.params[2], "method"), "minmax");

    assert_int_equal(p->n_ext, 2);
    assert_ptr_equal(p->ext[0], vb_extractor_find("hog"));
    assert_ptr_equal(p->ext[1], vb_extractor_find("raw"));
    assert_int_equal(vb_param_int(&p->ext_params[0], "cell"), 4);
    assert_int_equal(vb_param_int(&p->ext_params[0], "orientations"), 12);
    assert_true(vb_param_is(&p->ext_params[0], "variant", "uoctti")); /* default */
    assert_true(vb_param(&p->ext_params[0], "cell")->given);
    assert_false(vb_param(&p->ext_params[0], "variant")->given);
    assert_string_equal(pyaml(&p->ext_params[0], &b),
                        "{cell: 4, orientations: 12, variant: uoctti, bilinear: false, signed: false, norm: l2clip}");

    assert_int_equal(p->n_post, 2);
    assert_ptr_equal(p->post[0], vb_post_find("standardize"));
    assert_ptr_equal(p->post[1], vb_post_find("l2"));
    assert_true(vb_param_bool(&p->post_params[0], "with_mean"));

    assert_ptr_equal(p->clf, vb_classifier_find("svm"));
    assert_int_equal(vb_params_grid_size(&p->clf_params), 6);
    assert_int_equal(vb_param(&p->clf_params, "C")->n_alts, 3);
    assert_float_equal(vb_param_float(&p->clf_params, "C"), 1, 0); /* the first alternative */
    vb_params g;
    vb_error err = {0};
    /* The first grid parameter varies slowest: point 4 = C index 2 (100) x gamma index 0 (0.01). */
    assert_int_equal(vb_params_grid_point(&p->clf_params, 4, &g, &err), VB_OK);
    assert_float_equal(vb_param_float(&g, "C"), 100, 0);
    assert_float_equal(vb_param_float(&g, "gamma"), 0.01, 0);
    vb_params_free(&g);
    vb_buf_free(&b);
    vb_buf_init(&b);
    vb_params_grid_describe(&p->clf_params, 3, &b);
    assert_string_equal(b.data, "C=10, gamma=0.1");

    p = &s->pipelines[1];
    assert_string_equal(p->name, "raw-svm");
    assert_int_equal(p->line, 12);
    assert_int_equal(p->prep.n, 2); /* only the global ops */
    assert_string_equal(p->prep.vt[0]->info.name, "grayscale");
    assert_string_equal(p->prep.vt[1]->info.name, "resize");
    assert_int_equal(p->n_ext, 1); /* default: raw */
    assert_ptr_equal(p->ext[0], vb_extractor_find("raw"));
    assert_int_equal(p->n_post, 0);
    assert_int_equal(vb_params_grid_size(&p->clf_params), 1);
    assert_true(vb_param_is(&p->clf_params, "kernel", "rbf"));
    assert_true(vb_param_is(&p->clf_params, "gamma", "scale"));

    assert_ptr_equal(vb_spec_find_pipeline(s, "raw-svm"), &s->pipelines[1]);
    assert_ptr_equal(vb_spec_find_pipeline(s, "hog-svm"), &s->pipelines[0]);
    assert_null(vb_spec_find_pipeline(s, "raw"));

    /* Keys the featpipe shares on: same for equal configurations only. */
    vb_buf k0, k1;
    vb_buf_init(&k0);
    vb_buf_init(&k1);
    vb_featpipe_key(&s->pipelines[0], &k0);
    vb_featpipe_key(&s->pipelines[1], &k1);
    assert_string_equal(k1.data, "prep: grayscale{} resize{size: [24, 20]} features: raw{}");
    assert_string_not_equal(k0.data, k1.data);
    vb_buf_free(&k0);
    vb_buf_free(&k1);
    vb_buf_free(&b);
    vb_spec_free(s);
}

static void test_defaults_and_inline_dataset(void **state)
{
    vb_spec *s = parse_ok("name: a.b_c-1\n"
                          "dataset: {format: folder, path: imgs}\n"
                          "split: {protocol: kfold, k: 3, repeats: 2, official_test: true, seed: 99}\n"
                          "pipelines: [{name: p, classifier: {svm: {kernel: linear, C: 0.5}}}]\n");
    assert_string_equal(s->name, "a.b_c-1");
    assert_int_equal(s->seed, 42); /* default */
    assert_null(s->dataset_path);
    assert_non_null(s->dataset_node);
    assert_int_equal(s->dataset_node->kind, VB_NODE_MAP);
    assert_int_equal(s->dataset_node->line, 2);
    assert_string_equal(vb_node_get(s->dataset_node, "path")->text, "imgs");
    assert_int_equal(s->split.protocol, VB_PROTO_KFOLD);
    assert_int_equal(s->split.k, 3);
    assert_int_equal(s->split.repeats, 2);
    assert_true(s->split.official_test);
    assert_int_equal(s->split.seed, 99);
    assert_float_equal(s->split.test_fraction, 0.2, 0);
    assert_float_equal(s->split.validation, 0, 0);
    assert_int_equal(s->pipelines[0].prep.n, 0);
    assert_float_equal(vb_param_float(&s->pipelines[0].clf_params, "C"), 0.5, 0);
    vb_spec_free(s);

    /* Several datasets: the first is selected; each in turn. */
    s = parse_ok("name: x\ndatasets: [a.yaml, {format: folder, path: imgs}, c/d.yaml]\n"
                 "pipelines: [{name: p, classifier: svm}]\n");
    assert_int_equal(s->n_datasets, 3);
    assert_int_equal(s->dataset_index, 0);
    assert_string_equal(s->dataset_path, "a.yaml");
    assert_null(s->dataset_node);
    vb_spec_select_dataset(s, 1);
    assert_null(s->dataset_path);
    assert_string_equal(vb_node_get(s->dataset_node, "path")->text, "imgs");
    char label[64];
    assert_string_equal(vb_spec_dataset_label(s, 1, label, sizeof label), "dataset 2");
    vb_spec_select_dataset(s, 2);
    assert_string_equal(s->dataset_path, "c/d.yaml");
    assert_string_equal(vb_spec_dataset_label(s, 2, label, sizeof label), "c/d.yaml");
    vb_spec_select_dataset(s, 3); /* out of range: unchanged */
    assert_int_equal(s->dataset_index, 2);
    vb_spec_free(s);

    /* No split block: every default, seed from the spec. */
    s = parse_ok("name: x\nseed: 5\ndataset: d.yaml\npipelines: [{name: p, classifier: svm}]\n");
    assert_int_equal(s->split.protocol, VB_PROTO_HOLDOUT);
    assert_int_equal(s->split.seed, 5);
    vb_spec_free(s);

    /* A spec in a folder resolves the dataset path against it. */
    tu_write_text("spec_dir_test.yaml", "name: x\ndataset: ../d.yaml\npipelines: [{name: p, classifier: svm}]\n");
    vb_error err = {0};
    assert_int_equal(vb_mkdirs("sub", &err), VB_OK);
    tu_write_text("sub/s.yaml", "name: x\ndataset: ../d.yaml\npipelines: [{name: p, classifier: svm}]\n");
    assert_int_equal(vb_spec_load("sub/s.yaml", &s, &err), VB_OK);
    assert_string_equal(s->base_dir, "sub");
    assert_string_equal(s->dataset_path, "sub/../d.yaml");
    vb_spec_free(s);
    assert_int_equal(vb_spec_load("missing.yaml", &s, &err), VB_ERR_IO);
    assert_null(s);
}

/* ---- errors ------------------------------------------------------------ */

#define HEAD "name: t\ndataset: d.yaml\n"
#define PIPE(x) "pipelines:\n  - name: p\n" x

/* mode: cluster takes clusterings only, each with one setting. */
static void test_cluster_mode(void **state)
{
    const char *head = "name: c\nmode: cluster\ndataset: d\npipelines:\n";
    char text[512];
    snprintf(text, sizeof text, "%s  - name: km\n    classifier: {kmeans: {k: 4}}\n  - name: g\n    classifier: gmm\n",
             head);
    vb_spec *spec = NULL;
    vb_error err = {0};
    assert_int_equal(vb_spec_parse(text, "t.yaml", &spec, &err), VB_OK);
    assert_int_equal(spec->cluster, 1);
    vb_spec_free(spec);
    assert_int_equal(vb_spec_parse("name: c\ndataset: d\npipelines: [{name: k, classifier: kmeans}]\n", "t.yaml",
                                   &spec, &err),
                     VB_OK);
    assert_int_equal(spec->cluster, 0);
    vb_spec_free(spec);
    snprintf(text, sizeof text, "%s  - name: s\n    classifier: svm\n", head);
    parse_fails(text, "t.yaml:6:17: pipeline 's': svm does not cluster; mode: cluster takes kmeans, or gmm with "
                      "mode: cluster");
    snprintf(text, sizeof text, "%s  - name: g\n    classifier: {gmm: {mode: classify}}\n", head);
    parse_fails(text, "t.yaml:6:17: pipeline 'g': gmm in mode: classify does not cluster; mode: cluster takes "
                      "kmeans, or gmm with mode: cluster");
    snprintf(text, sizeof text, "%s  - name: k\n    classifier: {kmeans: {k: [2, 3]}}\n", head);
    parse_fails(text, "t.yaml:6:17: pipeline 'k': mode: cluster has no labels to tune a grid on; give each "
                      "parameter one value (one pipeline per setting compares them)");
    parse_fails("name: c\nmode: clusters\ndataset: d\npipelines: [{name: k, classifier: kmeans}]\n",
                "t.yaml:2:7: mode must be classify (the default) or cluster, not 'clusters'");
}

static void test_root_errors(void **state)
{
    parse_fails(HEAD "pipeline: []\n", "t.yaml:3:1: unknown key 'pipeline' in the spec; did you mean 'pipelines'?");
    parse_fails(HEAD "colour: red\n",
                "t.yaml:3:1: unknown key 'colour' in the spec (valid keys: name, seed, mode, correction, dataset, "
                "datasets, split, preprocess, pipelines, ensembles)");
    parse_fails("dataset: d.yaml\npipelines: [{name: p, classifier: svm}]\n",
                "t.yaml:1:1: the spec needs a 'name' (it names the results folder)");
    parse_fails("name: my spec\ndataset: d\npipelines: [{name: p, classifier: svm}]\n",
                "t.yaml:1:7: name 'my spec' must be 1-64 letters, digits, '.', '_' or '-' (it names files)");
    parse_fails("name: .hidden\ndataset: d\npipelines: [{name: p, classifier: svm}]\n",
                "t.yaml:1:7: name '.hidden' must be 1-64 letters, digits, '.', '_' or '-' (it names files)");
    parse_fails("name: a/b\ndataset: d\npipelines: [{name: p, classifier: svm}]\n",
                "t.yaml:1:7: name 'a/b' must be 1-64 letters, digits, '.', '_' or '-' (it names files)");
    parse_fails("name: t\npipelines: [{name: p, classifier: svm}]\n",
                "t.yaml:1:1: the spec needs a 'dataset' (a descriptor path or {format: ..., ...}), or 'datasets' (a "
                "list of them)");
    parse_fails("name: t\ndataset: a\ndatasets: [a, b]\npipelines: [{name: p, classifier: svm}]\n",
                "t.yaml:3:11: the spec gives both 'dataset' and 'datasets'; keep one (datasets: [a, b] runs every "
                "pipeline on each)");
    parse_fails("name: t\ndatasets: []\npipelines: [{name: p, classifier: svm}]\n",
                "t.yaml:2:11: datasets must be a list of descriptor paths or mappings, e.g. datasets: "
                "[a/dataset.yaml, b/dataset.yaml]");
    parse_fails("name: t\ndatasets: [a.yaml, b.yaml, a.yaml]\npipelines: [{name: p, classifier: svm}]\n",
                "t.yaml:2:28: datasets lists a.yaml twice");
    parse_fails("name: t\ndatasets: [a, [b]]\npipelines: [{name: p, classifier: svm}]\n",
                "t.yaml:2:15: each of datasets must be a descriptor path or a mapping, not a list");
    parse_fails(HEAD, "t.yaml:1:1: the spec needs 'pipelines' (a list)");
    parse_fails(HEAD "pipelines: []\n", "t.yaml:3:12: pipelines is empty");
    parse_fails(HEAD "pipelines: {name: p}\n", "t.yaml:3:12: pipelines must be a list, not a mapping");
    parse_fails("name: t\ndataset: [a, b]\npipelines: [{name: p, classifier: svm}]\n",
                "t.yaml:2:10: dataset must be a descriptor path or a mapping, not a list");
    parse_fails("name: t\nseed: -1\ndataset: d\npipelines: [{name: p, classifier: svm}]\n",
                "t.yaml:2:7: seed must be >= 0, not -1");
    parse_fails("name: t\nseed: many\ndataset: d\npipelines: [{name: p, classifier: svm}]\n",
                "t.yaml:2:7: seed must be an integer, not 'many'");
    parse_fails(HEAD "preprocess: grayscale\n" PIPE("    classifier: svm\n"),
                "t.yaml:3:13: preprocess must be a list, not a single value");
    parse_fails("", "t.yaml: the spec is empty");
    parse_fails("- a\n- b\n", "t.yaml:1:1: the spec must be a mapping, not a list");
}

/* correction: how reports adjust pairwise p-values; holm unless given. */
static void test_correction(void **state)
{
    static const char *const names[3] = {"none", "holm", "bonferroni"};
    const vb_correction want[3] = {VB_CORRECT_NONE, VB_CORRECT_HOLM, VB_CORRECT_BONFERRONI};
    vb_spec *s = parse_ok("name: t\ndataset: d\npipelines: [{name: p, classifier: svm}]\n");
    assert_int_equal(s->correction, VB_CORRECT_HOLM);
    vb_spec_free(s);
    for (int i = 0; i < 3; i++) {
        char text[160];
        snprintf(text, sizeof text, "name: t\ncorrection: %s\ndataset: d\npipelines: [{name: p, classifier: svm}]\n",
                 names[i]);
        s = parse_ok(text);
        assert_int_equal(s->correction, want[i]);
        vb_spec_free(s);
    }
    parse_fails("name: t\ncorrection: hlm\ndataset: d\npipelines: [{name: p, classifier: svm}]\n",
                "t.yaml:2:13: correction must be none, holm (the default) or bonferroni, not 'hlm'; did you mean "
                "'holm'?");
    parse_fails("name: t\ncorrection: sidak\ndataset: d\npipelines: [{name: p, classifier: svm}]\n",
                "t.yaml:2:13: correction must be none, holm (the default) or bonferroni, not 'sidak'");
    parse_fails("name: t\ncorrection: [holm]\ndataset: d\npipelines: [{name: p, classifier: svm}]\n",
                "t.yaml:2:13: correction must be a single value, not a list");
    parse_fails("name: t\ncorection: holm\ndataset: d\npipelines: [{name: p, classifier: svm}]\n",
                "t.yaml:2:1: unknown key 'corection' in the spec; did you mean 'correction'?");
}

static void test_syntax_error(void **state)
{
    vb_spec *s = NULL;
    vb_error err = {0};
    vb_status st = vb_spec_parse("name: t\ndataset: [a, b\npipelines: []\n", "t.yaml", &s, &err);
    assert_int_equal(st, VB_ERR_SPEC);
    assert_null(s);
    if (strncmp(err.msg, "t.yaml:", 7) != 0 || !strstr(err.msg, ": YAML syntax error: "))
        fail_msg("%s", err.msg);
    st = vb_spec_parse("name: t\n  bad: indent\n", "t.yaml", &s, &err);
    assert_int_equal(st, VB_ERR_SPEC);
    assert_non_null(strstr(err.msg, "YAML syntax error"));
    parse_fails("name: t\nname: u\n", "t.yaml:2:1: duplicate key 'name' (first given at line 1)");
}

static void test_split_errors(void **state)
{
    parse_fails(HEAD "split: {protocl: kfold}\n" PIPE("    classifier: svm\n"),
                "t.yaml:3:9: unknown key 'protocl' in the parameters of 'split'; did you mean 'protocol'?");
    parse_fails(HEAD "split: {protocol: kfolds}\n" PIPE("    classifier: svm\n"),
                "t.yaml:3:19: split.protocol: unknown value 'kfolds'; did you mean 'kfold'? (choices: holdout, "
                "official-test, kfold, group_kfold, loo)");
    parse_fails_st(HEAD "split: {official_test: true}\n" PIPE("    classifier: svm\n"), VB_ERR_PARAM,
                "t.yaml:3:24: split.official_test: only applies to protocol: kfold or group_kfold");
    parse_fails_st(HEAD "split: {protocol: official-test, official_test: true}\n" PIPE("    classifier: svm\n"),
                   VB_ERR_PARAM,
                "t.yaml:3:49: split.official_test: only applies to protocol: kfold or group_kfold");
    parse_fails(HEAD "split: {test_fraction: 0}\n" PIPE("    classifier: svm\n"),
                "t.yaml:3:24: split.test_fraction = 0 is out of range (0 < x <= 1)");
    parse_fails(HEAD "split: {k: 1}\n" PIPE("    classifier: svm\n"),
                "t.yaml:3:12: split.k = 1 is out of range (2..1000)");
    parse_fails(HEAD "split: {k: [3, 5]}\n" PIPE("    classifier: svm\n"),
                "t.yaml:3:12: split.k takes a single value, not a list");
    parse_fails(HEAD "split: {validation: lots}\n" PIPE("    classifier: svm\n"),
                "t.yaml:3:21: split.validation must be a number, not 'lots'");
    /* a plain value folded over lines: the message stays one line (found
     * by make fuzz) */
    parse_fails(HEAD "split: {train_limit: 100\n\n\n  00}\n" PIPE("    classifier: svm\n"),
                "t.yaml:3:22: split.train_limit must be an integer, not '100\\n\\n00'");
}

static void test_pipeline_errors(void **state)
{
    parse_fails(HEAD PIPE("    clasifier: svm\n"),
                "t.yaml:5:5: unknown key 'clasifier' in a pipeline; did you mean 'classifier'?");
    parse_fails(HEAD "pipelines:\n  - classifier: svm\n", "t.yaml:4:5: each pipeline needs a 'name'");
    parse_fails(HEAD "pipelines:\n  - svm\n", "t.yaml:4:5: each pipeline must be a mapping, not a single value");
    parse_fails(HEAD "pipelines:\n  - name: hog svm\n    classifier: svm\n",
                "t.yaml:4:11: pipeline name 'hog svm' must be 1-64 letters, digits, '.', '_', '+' or '-'");
    parse_fails(HEAD PIPE("    features: [hog]\n"), "t.yaml:4:5: pipeline 'p' needs a 'classifier'");
    parse_fails(HEAD "pipelines:\n"
                     "  - name: a\n"
                     "    classifier: svm\n"
                     "  - name: b\n"
                     "    classifier: svm\n"
                     "  - name: a\n"
                     "    classifier: svm\n",
                "t.yaml:8:11: pipeline name 'a' is used twice (first at line 4)");
    parse_fails(HEAD PIPE("    features: []\n    classifier: svm\n"),
                "t.yaml:5:15: features is empty; leave it out to use the raw pixels");
    parse_fails(HEAD PIPE("    features: hog\n    classifier: svm\n"),
                "t.yaml:5:15: features must be a list, not a single value");
}

static void test_plugin_errors(void **state)
{
    /* unknown plug-ins, with a suggestion */
    parse_fails(HEAD PIPE("    features: [hogg]\n    classifier: svm\n"),
                "t.yaml:5:16: unknown feature extractor 'hogg'; did you mean 'hog'? (see visbench list)");
    parse_fails(HEAD PIPE("    features: [{hogg: {cell: 4}}]\n    classifier: svm\n"),
                "t.yaml:5:17: unknown feature extractor 'hogg'; did you mean 'hog'? (see visbench list)");
    parse_fails(HEAD PIPE("    classifier: svn\n"),
                "t.yaml:5:17: unknown classifier 'svn'; did you mean 'svm'? (see visbench list)");
    {
        /* Far from every name: the message lists the registry (which grows). */
        vb_buf want;
        vb_buf_init(&want);
        vb_buf_puts(&want, "t.yaml:5:18: unknown classifier 'randomforest' (choices: ");
        size_t n;
        const vb_classifier_vt *const *all = vb_classifier_registry(&n);
        for (size_t i = 0; i < n; i++)
            vb_buf_printf(&want, "%s%s", i ? ", " : "", all[i]->info.name);
        vb_buf_puts(&want, ")");
        parse_fails(HEAD PIPE("    classifier: {randomforest: {}}\n"), want.data);
        vb_buf_free(&want);
    }
    parse_fails(HEAD "preprocess: [greyscale]\n" PIPE("    classifier: svm\n"),
                "t.yaml:3:14: unknown preprocess op 'greyscale'; did you mean 'grayscale'? (see visbench list)");
    parse_fails(HEAD PIPE("    preprocess: [{resise: 32}]\n    classifier: svm\n"),
                "t.yaml:5:19: unknown preprocess op 'resise'; did you mean 'resize'? (see visbench list)");
    parse_fails(HEAD PIPE("    postprocess: [standardise]\n    classifier: svm\n"),
                "t.yaml:5:19: unknown postprocess step 'standardise'; did you mean 'standardize'? (see visbench "
                "list)");

    /* parameters */
    parse_fails(HEAD PIPE("    features: [{hog: {orientation: 8}}]\n    classifier: svm\n"),
                "t.yaml:5:23: unknown key 'orientation' in the parameters of 'hog'; did you mean 'orientations'?");
    parse_fails(HEAD PIPE("    features: [{hog: {cell: big}}]\n    classifier: svm\n"),
                "t.yaml:5:29: hog.cell must be an integer, not 'big'");
    parse_fails(HEAD PIPE("    features: [{hog: {cell: 0}}]\n    classifier: svm\n"),
                "t.yaml:5:29: hog.cell = 0 is out of range (1..256)");
    parse_fails(HEAD PIPE("    features: [{hog: {cell: 4.5}}]\n    classifier: svm\n"),
                "t.yaml:5:29: hog.cell must be an integer, not '4.5'");
    parse_fails(HEAD PIPE("    features: [{hog: {variant: dalal}}]\n    classifier: svm\n"),
                "t.yaml:5:32: hog.variant: unknown value 'dalal' (choices: uoctti, dalaltriggs)");
    parse_fails(HEAD PIPE("    features: [{hog: 4}]\n    classifier: svm\n"),
                "t.yaml:5:22: 'hog' takes its parameters as a mapping, e.g. 'hog: {cell: ...}'");
    parse_fails(HEAD PIPE("    classifier: {svm: {C: 0}}\n"), "t.yaml:5:27: svm.C = 0 is out of range (0 < x <= 1e+12)");
    parse_fails(HEAD PIPE("    classifier: {svm: {gamma: wide}}\n"),
                "t.yaml:5:31: svm.gamma: unknown value 'wide' (choices: scale, auto)");
    parse_fails(HEAD PIPE("    classifier: {svm: {kernel: rbff}}\n"),
                "t.yaml:5:32: svm.kernel: unknown value 'rbff'; did you mean 'rbf'? (choices: rbf, linear, poly, "
                "sigmoid)");
    parse_fails(HEAD PIPE("    postprocess: [{standardize: {with_mean: maybe}}]\n    classifier: svm\n"),
                "t.yaml:5:45: standardize.with_mean must be true or false, not 'maybe'");
    parse_fails(HEAD PIPE("    preprocess: [{resize: [1, 2, 3]}]\n    classifier: svm\n"),
                "t.yaml:5:27: resize.size needs 2 values, not 3");

    /* grids: only for the parameters the tables mark grid, in any plug-in */
    parse_fails(HEAD PIPE("    classifier: {svm: {kernel: [rbf, linear]}}\n"),
                "t.yaml:5:32: svm.kernel takes a single value, not a list");
    parse_fails(HEAD PIPE("    classifier: {svm: {probability: [true, false]}}\n"),
                "t.yaml:5:37: svm.probability takes a single value, not a list");
    parse_fails(HEAD PIPE("    features: [{hog: {variant: [uoctti, dalaltriggs]}}]\n    classifier: svm\n"),
                "t.yaml:5:32: hog.variant takes a single value, not a list");
    parse_fails(HEAD PIPE("    preprocess: [{resize: {size: [[8, 8], [16, 16]]}}]\n    classifier: svm\n"),
                "t.yaml:5:35: resize.size must be a single value, not a list");
    parse_fails(HEAD "split: {k: [2, 3]}\n" PIPE("    classifier: svm\n"),
                "t.yaml:3:12: split.k takes a single value, not a list");
    /* a wrapper's base lists values: alternatives of its base parameter */
    {
        vb_spec *g = parse_ok(HEAD PIPE("    classifier: {br: {base: {svm: {C: [1, 10], gamma: [0.1, 1, 10], "
                                        "kernel: rbf}}}}\n"));
        const vb_params *cp = &g->pipelines[0].clf_params;
        assert_int_equal(vb_params_grid_size(cp), 6);
        vb_buf b;
        vb_buf_init(&b);
        vb_params_grid_describe(cp, 4, &b); /* C slowest: 10, then gamma 1 */
        assert_string_equal(b.data, "base={svm: {C: 10, gamma: 1, kernel: rbf}}");
        vb_buf_free(&b);
        vb_spec_free(g);
        /* a list the base's table does not mark grid stays, for the base to refuse */
        g = parse_ok(HEAD PIPE("    classifier: {br: {base: {svm: {kernel: [rbf, linear]}}}}\n"));
        assert_int_equal(vb_params_grid_size(&g->pipelines[0].clf_params), 1);
        vb_spec_free(g);
        parse_fails(HEAD PIPE("    classifier: {br: {base: {svm: {C: []}}}}\n"), "t.yaml:5:39: svm.C: the grid is empty");
    }
    /* the product of every grid against tune.max_points, with what makes it */
    parse_fails(HEAD PIPE("    features: [{hog: {cell: [4, 6, 8], orientations: [6, 9]}}]\n"
                          "    postprocess: [{pca: {components: [10, 20]}}]\n"
                          "    classifier: {svm: {C: [1, 10, 100]}}\n    tune: {max_points: 30}\n"),
                "t.yaml:4:5: pipeline 'p': its grid has 36 points (hog.cell 3 x hog.orientations 2 x "
                "pca.components 2 x svm.C 3), more than tune.max_points (30); list fewer values, or raise tune: "
                "{max_points: N}");
    parse_fails(HEAD PIPE("    tune: {max_points: 0}\n    classifier: svm\n"),
                "t.yaml:5:24: tune.max_points = 0 is out of range (1..1e+09)");
    parse_fails(HEAD PIPE("    classifier: {svm: {C: []}}\n"), "t.yaml:5:27: svm.C: the grid is empty");
    parse_fails(HEAD PIPE("    classifier: {svm: {C: [1, -1]}}\n"),
                "t.yaml:5:31: svm.C = -1 is out of range (0 < x <= 1e+12)");
}

/* Parses text, makes its split of ds, expects status want_st and exactly
 * the message want. */
static void split_fails(const char *text, const vb_dataset *ds, vb_status want_st, const char *want)
{
    vb_spec *spec = parse_ok(text);
    vb_split *split = (vb_split *)1;
    vb_error err = {0};
    vb_status st = vb_spec_split(spec, ds, &split, &err);
    if (st == VB_OK)
        fail_msg("split made, expected: %s", want);
    assert_null(split);
    if (strcmp(err.msg, want) != 0)
        fail_msg("message\n  '%s'\nexpected\n  '%s'", err.msg, want);
    assert_int_equal(err.status, want_st);
    vb_spec_free(spec);
}

/* The new protocols' errors: those of the spec alone when it is parsed,
 * those that need the data when the split is made, at the parameter they
 * are about (or the protocol that needs a default, or the split block). */
static void test_protocol_errors(void **state)
{
    parse_fails_st(HEAD "split: {protocol: group_kfold, repeats: 3}\n" PIPE("    classifier: svm\n"), VB_ERR_PARAM,
                   "t.yaml:3:41: split.repeats: only applies to protocol: kfold (repeated k-fold) or holdout "
                   "(repeated holdout); group_kfold has one way to deal its folds");
    parse_fails_st(HEAD "split: {protocol: loo, repeats: 2}\n" PIPE("    classifier: svm\n"), VB_ERR_PARAM,
                   "t.yaml:3:33: split.repeats: only applies to protocol: kfold (repeated k-fold) or holdout "
                   "(repeated holdout); loo has one way to deal its folds");
    parse_fails_st(HEAD "split: {protocol: loo, official_test: true}\n" PIPE("    classifier: svm\n"), VB_ERR_PARAM,
                   "t.yaml:3:39: split.official_test: only applies to protocol: kfold or group_kfold");
    parse_fails(HEAD "split: {protocol: loo, max_folds: 0}\n" PIPE("    classifier: svm\n"),
                "t.yaml:3:35: split.max_folds = 0 is out of range (1..10000)");
    vb_spec *ok =
        parse_ok(HEAD "split: {protocol: holdout, repeats: 10, test_fraction: 0.3}\n" PIPE("    classifier: svm\n"));
    assert_int_equal(ok->split.protocol, VB_PROTO_HOLDOUT);
    assert_int_equal(ok->split.repeats, 10);
    assert_int_equal(ok->split.max_folds, 1000);
    vb_spec_free(ok);

    int y[12];
    const char *g[12];
    const char *names[3] = {"p", "q", "r"};
    for (int i = 0; i < 12; i++) {
        y[i] = i % 2;
        g[i] = names[i % 3];
    }
    vb_dataset *plain = su_grouped_ds(12, y, 2, NULL, NULL), *grouped = su_grouped_ds(12, y, 2, g, NULL);
    split_fails(HEAD "split: {protocol: group_kfold, k: 2}\n" PIPE("    classifier: svm\n"), plain, VB_ERR_DATA,
                "t.yaml:3:19: split.protocol: group_kfold needs a group per image, and dataset 'toy' (toy.yaml) has "
                "no group column; add `group: COLUMN` to its descriptor (format: csv, a column of the manifest's "
                "header)");
    split_fails(HEAD "split: {protocol: group_kfold, k: 4}\n" PIPE("    classifier: svm\n"), grouped, VB_ERR_DATA,
                "t.yaml:3:35: split.k: the pool has 3 groups (column 'session'), fewer than the k = 4 folds; lower k "
                "to 3 or less");
    /* k left at its default 5: the protocol that needs it is the place */
    split_fails(HEAD "split: {protocol: group_kfold}\n" PIPE("    classifier: svm\n"), grouped, VB_ERR_DATA,
                "t.yaml:3:19: split.protocol: the pool has 3 groups (column 'session'), fewer than the k = 5 "
                "folds; lower k to 3 or less");
    split_fails(HEAD "split: {protocol: loo, max_folds: 10}\n" PIPE("    classifier: svm\n"), plain, VB_ERR_DATA,
                "t.yaml:3:35: split.max_folds: leave-one-out would run 12 folds (one per pool image), more than "
                "max_folds = 10; use protocol: kfold (k: 10 is common), or raise max_folds");
    /* an error about no one parameter: at the split block */
    split_fails(HEAD "split: {protocol: kfold, k: 7}\n" PIPE("    classifier: svm\n"), plain, VB_ERR_DATA,
                "t.yaml:3:8: split: class 'a' has 6 samples, fewer than the k = 7 folds; lower k");
    vb_spec *s = parse_ok(HEAD "split: {protocol: group_kfold, k: 3}\n" PIPE("    classifier: svm\n"));
    vb_split *split = NULL;
    vb_error err = {0};
    assert_int_equal(vb_spec_split(s, grouped, &split, &err), VB_OK);
    assert_int_equal(split->n_folds, 3);
    vb_split_free(split);
    vb_spec_free(s);
    vb_dataset_free(plain);
    vb_dataset_free(grouped);
}

/* Positions stay valid after parsing: a parameter that only turns out to be
 * wrong when the pipeline is built (hog cell vs the image size) is still
 * reported at its place in the spec. */
static void test_late_errors_keep_positions(void **state)
{
    vb_spec *s = parse_ok(HEAD PIPE("    features: [{hog: {cell: 64}}]\n    classifier: svm\n"));
    vb_featpipe *fp = NULL;
    vb_error err = {0};
    vb_status st = vb_featpipe_new(&s->pipelines[0], (vb_shape){28, 28, 1}, &fp, &err);
    assert_int_equal(st, VB_ERR_PARAM);
    assert_null(fp);
    assert_string_equal(err.msg, "pipeline 'p': t.yaml:5:29: hog.cell: cell 64 is too large for 28x28 images");
    vb_spec_free(s);

    /* An inline dataset's errors point into the spec too. */
    s = parse_ok("name: t\ndataset: {format: foldr, path: x}\npipelines: [{name: p, classifier: svm}]\n");
    vb_dataset *ds = NULL;
    st = vb_spec_load_dataset(s, &ds, &err);
    assert_int_equal(st, VB_ERR_SPEC);
    assert_null(ds);
    assert_string_equal(err.msg, "t.yaml:2:19: unknown dataset format 'foldr'; did you mean 'folder'?");
    vb_spec_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_spec),
        cmocka_unit_test(test_defaults_and_inline_dataset),
        cmocka_unit_test(test_root_errors),
        cmocka_unit_test(test_cluster_mode),
        cmocka_unit_test(test_correction),
        cmocka_unit_test(test_syntax_error),
        cmocka_unit_test(test_split_errors),
        cmocka_unit_test(test_pipeline_errors),
        cmocka_unit_test(test_plugin_errors),
        cmocka_unit_test(test_late_errors_keep_positions),
        cmocka_unit_test(test_protocol_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
