/* param: YAML node trees (positions, errors, anchors, emitting) and
 * parameter tables (parsing, defaults, errors, grids, canonical text). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "support/testutil.h"
#include "visbench/param.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- helpers ----------------------------------------------------------- */

static vb_doc *load_ok(const char *text)
{
    vb_doc *doc = NULL;
    vb_error err = {0};
    if (vb_doc_load_string(text, "t.yaml", &doc, &err) != VB_OK)
        fail_msg("'%s' did not parse: %s", text, err.msg);
    return doc;
}

/* Parses text and expects VB_ERR_SPEC with exactly msg. */
static void load_fails(const char *text, const char *msg)
{
    vb_doc *doc = (vb_doc *)1;
    vb_error err = {0};
    vb_status st = vb_doc_load_string(text, "t.yaml", &doc, &err);
    assert_int_equal(st, VB_ERR_SPEC);
    assert_null(doc);
    assert_int_equal(err.status, VB_ERR_SPEC);
    if (strcmp(err.msg, msg) != 0)
        fail_msg("'%s': got \"%s\", expected \"%s\"", text, err.msg, msg);
}

static void assert_pos(const vb_node *n, vb_node_kind kind, int line, int col, const char *text)
{
    assert_non_null(n);
    assert_int_equal(n->kind, kind);
    if (n->line != line || n->col != col)
        fail_msg("node '%s' at %d:%d, expected %d:%d", n->text ? n->text : "-", n->line, n->col, line, col);
    if (text)
        assert_string_equal(n->text, text);
    assert_string_equal(n->file, "t.yaml");
}

static char *emit(const vb_node *n)
{
    vb_buf b;
    vb_buf_init(&b);
    vb_node_to_yaml(n, &b);
    assert_false(b.failed);
    assert_non_null(b.data);
    return b.data;
}

/* ---- documents --------------------------------------------------------- */

static void test_positions_block_style(void **state)
{
    vb_doc *doc = load_ok("a: 1\n"
                          "bb:\n"
                          "  - x\n"
                          "  - 'y'\n"
                          "c:\n"
                          "  d: true\n");
    const vb_node *r = doc->root;
    assert_pos(r, VB_NODE_MAP, 1, 1, NULL);
    assert_int_equal(r->n, 3);
    assert_pos(r->keys[0], VB_NODE_SCALAR, 1, 1, "a");
    assert_pos(r->items[0], VB_NODE_SCALAR, 1, 4, "1");
    assert_true(r->items[0]->plain);
    assert_pos(r->keys[1], VB_NODE_SCALAR, 2, 1, "bb");
    assert_pos(r->items[1], VB_NODE_SEQ, 3, 3, NULL);
    assert_int_equal(r->items[1]->n, 2);
    assert_null(r->items[1]->keys);
    assert_pos(r->items[1]->items[0], VB_NODE_SCALAR, 3, 5, "x");
    /* A quoted scalar points at its first character inside the quotes. */
    assert_pos(r->items[1]->items[1], VB_NODE_SCALAR, 4, 6, "y");
    assert_false(r->items[1]->items[1]->plain);
    assert_pos(r->keys[2], VB_NODE_SCALAR, 5, 1, "c");
    assert_pos(r->items[2], VB_NODE_MAP, 6, 3, NULL);
    assert_pos(r->items[2]->keys[0], VB_NODE_SCALAR, 6, 3, "d");
    assert_pos(r->items[2]->items[0], VB_NODE_SCALAR, 6, 6, "true");
    assert_ptr_equal(vb_node_get(r, "bb"), r->items[1]);
    assert_null(vb_node_get(r, "zz"));
    assert_null(vb_node_get(r->items[1], "x")); /* not a mapping */
    assert_null(vb_node_get(NULL, "a"));
    /* The document keeps its text. */
    assert_int_equal(doc->text_len, strlen(doc->text));
    assert_memory_equal(doc->text, "a: 1\nbb:", 8);
    assert_string_equal(doc->file, "t.yaml");
    vb_doc_free(doc);
}

static void test_positions_flow_style(void **state)
{
    vb_doc *doc = load_ok("{a: 1, b: [x, y], c: {d: 2}}");
    const vb_node *r = doc->root;
    assert_pos(r, VB_NODE_MAP, 1, 1, NULL);
    assert_pos(r->keys[0], VB_NODE_SCALAR, 1, 2, "a");
    assert_pos(r->items[0], VB_NODE_SCALAR, 1, 5, "1");
    assert_pos(r->keys[1], VB_NODE_SCALAR, 1, 8, "b");
    assert_pos(r->items[1], VB_NODE_SEQ, 1, 11, NULL);
    assert_pos(r->items[1]->items[0], VB_NODE_SCALAR, 1, 12, "x");
    assert_pos(r->items[1]->items[1], VB_NODE_SCALAR, 1, 15, "y");
    assert_pos(r->keys[2], VB_NODE_SCALAR, 1, 19, "c");
    assert_pos(r->items[2], VB_NODE_MAP, 1, 22, NULL);
    assert_pos(r->items[2]->items[0], VB_NODE_SCALAR, 1, 26, "2");
    vb_doc_free(doc);

    /* Mixed: a flow list inside a block mapping on line 2. */
    doc = load_ok("# comment\nsize: [64, 32]\n");
    assert_pos(doc->root->items[0], VB_NODE_SEQ, 2, 7, NULL);
    assert_pos(doc->root->items[0]->items[1], VB_NODE_SCALAR, 2, 12, "32");
    vb_doc_free(doc);
}

static void test_null_and_empty(void **state)
{
    /* An empty document has no root. */
    vb_doc *doc = load_ok("");
    assert_null(doc->root);
    vb_doc_free(doc);
    doc = load_ok("# only a comment\n");
    assert_null(doc->root);
    vb_doc_free(doc);

    /* An empty value is an empty plain scalar that points at its key (it
     * has no token of its own), so errors about it still have a place. */
    doc = load_ok("k:\nm: 1\n");
    const vb_node *k = vb_node_get(doc->root, "k");
    assert_pos(k, VB_NODE_SCALAR, 1, 1, "");
    long v = 0;
    vb_error err = {0};
    assert_int_equal(vb_node_long(k, "k", &v, &err), VB_ERR_SPEC);
    assert_string_equal(err.msg, "t.yaml:1:1: k must be an integer, not ''");
    vb_doc_free(doc);
}

static void test_syntax_errors(void **state)
{
    load_fails("a: 1\na: 2\n", "t.yaml:2:1: duplicate key 'a' (first given at line 1)");
    load_fails("x:\n  p: 1\n  q: 2\n  p: 3\n", "t.yaml:4:3: duplicate key 'p' (first given at line 2)");
    load_fails("{a: 1, b: 2, a: 3}", "t.yaml:1:14: duplicate key 'a' (first given at line 1)");
    /* libfyaml's positions are 1-based already (they used to be shifted). */
    load_fails("a: b: c\n", "t.yaml:1:5: YAML syntax error: invalid nested block mapping on the same line");
    load_fails("a:\n\tb: 1\n", "t.yaml:2:1: YAML syntax error: tab character may not be used as indentation");
    load_fails("a: [1, 2\n", "t.yaml:2:1: YAML syntax error: flow sequence without a closing bracket");
    load_fails("a: 1\n---\nb: 2\n", "t.yaml: holds more than one YAML document; keep one");
    load_fails("? [a]\n: 1\n", "t.yaml:1:3: mapping keys must be plain names");
    load_fails("x: &v 1\ny: *w\n", "t.yaml:2:5: unknown alias '*w'");

    /* Every syntax error names the file, a line and a column. */
    static const char *const bad[] = {"a: 'open\n", "[1, 2", "a: 1\n b: 2\n", "]", "{a: 1,, }", "- a\nb: c\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        vb_doc *doc = NULL;
        vb_error err = {0};
        if (vb_doc_load_string(bad[i], "t.yaml", &doc, &err) != VB_ERR_SPEC)
            fail_msg("'%s' parsed", bad[i]);
        int line = 0, col = 0;
        if (sscanf(err.msg, "t.yaml:%d:%d: ", &line, &col) != 2 || line < 1 || col < 1 || doc)
            fail_msg("'%s' gave '%s' (no position)", bad[i], err.msg);
        assert_true(line <= 3);
    }
}

static void test_load_file(void **state)
{
    tu_write_text("spec.yaml", "name: demo\nlist: [1, 2]\n");
    vb_doc *doc = NULL;
    vb_error err = {0};
    assert_int_equal(vb_doc_load_file("spec.yaml", &doc, &err), VB_OK);
    assert_string_equal(doc->file, "spec.yaml");
    assert_string_equal(doc->root->items[0]->file, "spec.yaml");
    assert_int_equal(doc->text_len, 24);
    vb_doc_free(doc);
    assert_int_equal(vb_doc_load_file("nope.yaml", &doc, &err), VB_ERR_IO);
    assert_null(doc);
    char want[128];
    snprintf(want, sizeof want, "nope.yaml: cannot open: %s", strerror(ENOENT));
    assert_string_equal(err.msg, want);
    tu_write_text("bad.yaml", "a: [1\n");
    assert_int_equal(vb_doc_load_file("bad.yaml", &doc, &err), VB_ERR_SPEC);
    assert_memory_equal(err.msg, "bad.yaml:2:1: YAML syntax error: ", 33);
}

/* Nodes keep naming their file after the document is gone: clones of a
 * spec's nodes and parameter values outlive the parse (ASan checks). */
static void test_file_name_outlives_document(void **state)
{
    vb_doc *doc = load_ok("layers: [conv, relu]\n");
    vb_node *copy = vb_node_clone(doc->root->items[0]);
    vb_doc_free(doc);
    vb_error err = {0};
    assert_int_equal(vb_node_fail(copy->items[1], &err, "unknown layer '%s'", copy->items[1]->text), VB_ERR_SPEC);
    assert_string_equal(err.msg, "t.yaml:1:16: unknown layer 'relu'");
    vb_node_free(copy);
}

static void test_anchors_and_aliases(void **state)
{
    vb_doc *doc = load_ok("base: &b {cell: 8, block: [2, 2]}\n"
                          "hog: *b\n"
                          "n: &n 3\n"
                          "list: [*n, *n, 4]\n");
    const vb_node *base = vb_node_get(doc->root, "base"), *hog = vb_node_get(doc->root, "hog");
    assert_int_equal(hog->kind, VB_NODE_MAP);
    assert_true(hog != base); /* expanded into a copy */
    assert_int_equal(hog->n, 2);
    assert_string_equal(vb_node_get(hog, "cell")->text, "8");
    assert_string_equal(vb_node_get(hog, "block")->items[1]->text, "2");
    /* The copy keeps the anchored node's position. */
    assert_int_equal(hog->line, 1);
    assert_int_equal(vb_node_get(hog, "cell")->line, 1);
    const vb_node *list = vb_node_get(doc->root, "list");
    assert_int_equal(list->n, 3);
    assert_string_equal(list->items[0]->text, "3");
    assert_string_equal(list->items[1]->text, "3");
    assert_string_equal(list->items[2]->text, "4");
    char *y = emit(doc->root);
    assert_string_equal(y, "{base: {cell: 8, block: [2, 2]}, hog: {cell: 8, block: [2, 2]}, n: 3, list: [3, 3, 4]}");
    free(y);
    vb_doc_free(doc);
}

/* ---- emitting ---------------------------------------------------------- */

static void test_yaml_scalar(void **state)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"abc", "abc"},     {"a_b.c/d+e-f", "a_b.c/d+e-f"}, {"-1", "-1"},      {"1e-3", "1e-3"},
        {"a b", "\"a b\""}, {"a: b", "\"a: b\""},           {"x,y", "\"x,y\""}, {"#", "\"#\""},
        {"", "\"\""},       {"-", "\"-\""},                 {"- x", "\"- x\""}, {"say \"hi\"", "\"say \\\"hi\\\"\""},
        {"a\nb", "\"a\\nb\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        vb_buf b;
        vb_buf_init(&b);
        vb_yaml_scalar(&b, cases[i].in);
        if (strcmp(b.data, cases[i].out) != 0)
            fail_msg("vb_yaml_scalar('%s') = '%s', expected '%s'", cases[i].in, b.data, cases[i].out);
        vb_buf_free(&b);
    }
}

/* YAML as JSON: scalars typed as the core schema reads them. */
static void test_node_to_json(void **state)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"{C: 10, gamma: scale, tol: 1e-3, bias: -0.5, shrinking: true, off: False, none: null, tilde: ~}",
         "{\"C\": 10, \"gamma\": \"scale\", \"tol\": 1e-3, \"bias\": -0.5, \"shrinking\": true, \"off\": false, "
         "\"none\": null, \"tilde\": null}"},
        {"{quoted: \"12\", single: 'true', words: hello world, odd: \"a\\\"b\"}",
         "{\"quoted\": \"12\", \"single\": \"true\", \"words\": \"hello world\", \"odd\": \"a\\\"b\"}"},
        {"[+1, .5, 1., 007, 0x1f, .inf, .nan, 1e, -x]", "[1, 0.5, 1, 7, \"0x1f\", \".inf\", \".nan\", \"1e\", \"-x\"]"},
        {"{layers: [{conv: {filters: 4, size: 3}}, relu, {fc: classes}], empty: {}, list: [], gap: }",
         "{\"layers\": [{\"conv\": {\"filters\": 4, \"size\": 3}}, \"relu\", {\"fc\": \"classes\"}], \"empty\": {}, "
         "\"list\": [], \"gap\": null}"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        vb_doc *doc = load_ok(cases[i].in);
        vb_buf b;
        vb_buf_init(&b);
        vb_node_to_json(doc->root, &b);
        if (strcmp(b.data, cases[i].out) != 0)
            fail_msg("vb_node_to_json('%s') = '%s', expected '%s'", cases[i].in, b.data, cases[i].out);
        vb_buf_free(&b);
        vb_doc_free(doc);
    }
    vb_buf b;
    vb_buf_init(&b);
    vb_node_to_json(NULL, &b);
    assert_string_equal(b.data, "null");
    vb_buf_free(&b);
}

static void test_emit_round_trip(void **state)
{
    const char *text = "name: demo\n"
                       "count: 12\n"
                       "quoted: \"12\"\n"
                       "colon: \"a: b\"\n"
                       "comma: \"x,y\"\n"
                       "hash: \"#\"\n"
                       "empty: ''\n"
                       "dash: \"-\"\n"
                       "words: hello world\n"
                       "tricky: \"{[*&!%@`'\\\\\\\"]}\"\n"
                       "ctrl: \"tab\\there\\u0001\"\n"
                       "utf8: \"caf\xc3\xa9\"\n"
                       "block: |\n  line1\n  line2\n"
                       "\"key: odd\": 1\n"
                       "nested: {a: [1, {b: c}], d: []}\n"
                       "nothing: {}\n";
    vb_doc *d1 = load_ok(text);
    char *e1 = emit(d1->root);
    assert_string_equal(e1, "{name: demo, count: 12, quoted: \"12\", colon: \"a: b\", comma: \"x,y\", hash: \"#\", "
                            "empty: \"\", dash: \"-\", words: \"hello world\", "
                            "tricky: \"{[*&!%@`'\\\\\\\"]}\", ctrl: \"tab\\there\\u0001\", "
                            "utf8: \"caf\xc3\xa9\", block: \"line1\\nline2\\n\", \"key: odd\": 1, "
                            "nested: {a: [1, {b: c}], d: []}, nothing: {}}");
    vb_doc *d2 = load_ok(e1);
    char *e2 = emit(d2->root);
    assert_string_equal(e2, e1); /* stable */
    /* Every scalar reads back as the same text. */
    assert_int_equal(d2->root->n, d1->root->n);
    for (size_t i = 0; i < d1->root->n; i++) {
        assert_string_equal(d2->root->keys[i]->text, d1->root->keys[i]->text);
        if (d1->root->items[i]->kind == VB_NODE_SCALAR)
            assert_string_equal(d2->root->items[i]->text, d1->root->items[i]->text);
    }
    /* A quoted number stays quoted (a string), a plain one stays plain. */
    assert_false(vb_node_get(d2->root, "quoted")->plain);
    assert_true(vb_node_get(d2->root, "count")->plain);
    free(e1);
    free(e2);
    vb_doc_free(d1);
    vb_doc_free(d2);

    char *n = emit(NULL);
    assert_string_equal(n, "null");
    free(n);
}

/* ---- node access ------------------------------------------------------- */

static void test_check_keys(void **state)
{
    vb_doc *doc = load_ok("hog:\n  cell: 8\n  orientatons: 9\n");
    const vb_node *hog = vb_node_get(doc->root, "hog");
    static const char *const keys[] = {"cell", "block", "orientations", "signed"};
    vb_error err = {0};
    assert_int_equal(vb_node_check_keys(hog, keys, 4, "hog", &err), VB_ERR_SPEC);
    assert_string_equal(err.msg, "t.yaml:3:3: unknown key 'orientatons' in hog; did you mean 'orientations'?");
    vb_doc_free(doc);

    doc = load_ok("{cell: 8, zzz: 1}");
    assert_int_equal(vb_node_check_keys(doc->root, keys, 4, "the parameters of 'hog'", &err), VB_ERR_SPEC);
    assert_string_equal(err.msg, "t.yaml:1:11: unknown key 'zzz' in the parameters of 'hog' "
                                 "(valid keys: cell, block, orientations, signed)");
    assert_int_equal(vb_node_check_keys(doc->root, keys, 0, "split", &err), VB_ERR_SPEC);
    assert_string_equal(err.msg, "t.yaml:1:2: unknown key 'cell' in split (valid keys: none)");
    static const char *const ok_keys[] = {"zzz", "cell"};
    memset(&err, 0, sizeof err);
    assert_int_equal(vb_node_check_keys(doc->root, ok_keys, 2, "x", &err), VB_OK);
    assert_int_equal(err.status, VB_OK);
    assert_int_equal(vb_node_check_keys(NULL, keys, 4, "x", &err), VB_OK);
    assert_int_equal(vb_node_check_keys(doc->root->items[0], keys, 4, "x", &err), VB_OK); /* not a map */
    vb_doc_free(doc);
}

static void test_scalar_conversions(void **state)
{
    vb_doc *doc = load_ok("{i: 42, e: 1e3, f: 10.0, neg: -7, big: 1e300, frac: 2.5, word: abc, "
                          "d: 0.25, nan: nan, t: Yes, o: off, T: TRUE, one: 1, l: [1], m: {a: 1}}");
    const vb_node *r = doc->root;
    vb_error err = {0};
    long l = 0;
    assert_int_equal(vb_node_long(vb_node_get(r, "i"), "x.i", &l, &err), VB_OK);
    assert_int_equal(l, 42);
    assert_int_equal(vb_node_long(vb_node_get(r, "e"), "x.e", &l, &err), VB_OK);
    assert_int_equal(l, 1000);
    assert_int_equal(vb_node_long(vb_node_get(r, "f"), "x.f", &l, &err), VB_OK);
    assert_int_equal(l, 10);
    assert_int_equal(vb_node_long(vb_node_get(r, "neg"), "x.neg", &l, &err), VB_OK);
    assert_int_equal(l, -7);
    assert_int_equal(vb_node_long(vb_node_get(r, "big"), "x.big", &l, &err), VB_ERR_SPEC);
    assert_string_equal(err.msg, "t.yaml:1:40: x.big must be an integer, not '1e300'");
    assert_int_equal(vb_node_long(vb_node_get(r, "frac"), "x.frac", &l, &err), VB_ERR_SPEC);
    assert_string_equal(err.msg, "t.yaml:1:53: x.frac must be an integer, not '2.5'");
    assert_int_equal(vb_node_long(vb_node_get(r, "nan"), "x.nan", &l, &err), VB_ERR_SPEC);

    double d = 0;
    assert_int_equal(vb_node_double(vb_node_get(r, "d"), "x.d", &d, &err), VB_OK);
    assert_true(d == 0.25);
    assert_int_equal(vb_node_double(vb_node_get(r, "nan"), "x.nan", &d, &err), VB_ERR_SPEC);
    tu_assert_fails_with(VB_ERR_SPEC, err, "x.nan must be a number, not 'nan'");
    assert_int_equal(vb_node_double(vb_node_get(r, "word"), "x.word", &d, &err), VB_ERR_SPEC);
    assert_string_equal(err.msg, "t.yaml:1:64: x.word must be a number, not 'abc'");

    int b = -1;
    assert_int_equal(vb_node_bool(vb_node_get(r, "t"), "x.t", &b, &err), VB_OK);
    assert_int_equal(b, 1);
    assert_int_equal(vb_node_bool(vb_node_get(r, "o"), "x.o", &b, &err), VB_OK);
    assert_int_equal(b, 0);
    assert_int_equal(vb_node_bool(vb_node_get(r, "T"), "x.T", &b, &err), VB_OK);
    assert_int_equal(b, 1);
    assert_int_equal(vb_node_bool(vb_node_get(r, "one"), "x.one", &b, &err), VB_ERR_SPEC);
    tu_assert_fails_with(VB_ERR_SPEC, err, "x.one must be true or false, not '1'");

    const char *s = NULL;
    assert_int_equal(vb_node_str(vb_node_get(r, "word"), "x.word", &s, &err), VB_OK);
    assert_string_equal(s, "abc");
    assert_int_equal(vb_node_str(vb_node_get(r, "l"), "x.l", &s, &err), VB_ERR_SPEC);
    tu_assert_fails_with(VB_ERR_SPEC, err, "x.l must be a single value, not a list");
    assert_int_equal(vb_node_expect(vb_node_get(r, "m"), VB_NODE_SEQ, "x.m", &err), VB_ERR_SPEC);
    tu_assert_fails_with(VB_ERR_SPEC, err, "x.m must be a list, not a mapping");
    assert_int_equal(vb_node_expect(NULL, VB_NODE_MAP, "the dataset", &err), VB_ERR_SPEC);
    assert_string_equal(err.msg, "the dataset is missing");
    assert_int_equal(vb_node_expect(r, VB_NODE_MAP, "x", &err), VB_OK);
    vb_doc_free(doc);
}

static void test_entries_clone_and_new(void **state)
{
    vb_doc *doc = load_ok("- relu\n- maxpool: 2\n- hog: {cell: 8}\n- {a: 1, b: 2}\n- [x]\n");
    const vb_node *seq = doc->root, *name, *value;
    vb_error err = {0};
    assert_int_equal(vb_node_entry(seq->items[0], "layer", &name, &value, &err), VB_OK);
    assert_string_equal(name->text, "relu");
    assert_null(value);
    assert_int_equal(vb_node_entry(seq->items[1], "layer", &name, &value, &err), VB_OK);
    assert_string_equal(name->text, "maxpool");
    assert_string_equal(value->text, "2");
    assert_int_equal(vb_node_entry(seq->items[2], "layer", &name, &value, &err), VB_OK);
    assert_string_equal(name->text, "hog");
    assert_int_equal(value->kind, VB_NODE_MAP);
    assert_int_equal(vb_node_entry(seq->items[3], "layer", &name, &value, &err), VB_ERR_SPEC);
    assert_string_equal(err.msg,
                        "t.yaml:4:3: each layer must be a name, or a name with its parameters (e.g. 'hog: {cell: 8}')");
    assert_int_equal(vb_node_entry(seq->items[4], "layer", &name, &value, &err), VB_ERR_SPEC);

    /* A deep copy: same shape and positions, separate memory. */
    vb_node *c = vb_node_clone(seq);
    assert_int_equal(c->n, 5);
    assert_true(c->items[2] != seq->items[2]);
    assert_ptr_equal(c->file, seq->file);
    assert_int_equal(c->items[2]->keys[0]->line, 3);
    char *a = emit(seq), *b = emit(c);
    assert_string_equal(a, b);
    assert_string_equal(a, "[relu, {maxpool: 2}, {hog: {cell: 8}}, {a: 1, b: 2}, [x]]");
    free(c->items[0]->text);
    c->items[0]->text = strdup("gelu");
    assert_string_equal(seq->items[0]->text, "relu");
    free(a);
    free(b);
    vb_node_free(c);
    assert_null(vb_node_clone(NULL));
    vb_node_free(NULL);
    vb_doc_free(doc);

    vb_node *s = vb_node_new_scalar("8", "code", 0, 0);
    assert_int_equal(s->kind, VB_NODE_SCALAR);
    assert_string_equal(s->text, "8");
    assert_true(s->plain);
    vb_node_fail(s, &err, "bad");
    assert_string_equal(err.msg, "code: bad"); /* no position */
    vb_node_free(s);
    vb_node_fail(NULL, &err, "lost %d", 1);
    assert_string_equal(err.msg, "spec: lost 1");
}

/* ---- parameter tables -------------------------------------------------- */

static const vb_param_def demo_params[] = {
    {.name = "cell", .type = VB_PT_INT, .def = "4", .min = 1, .max = 128, .flags = VB_PF_PRIMARY | VB_PF_GRID,
     .help = "cell side in pixels"},
    {.name = "C", .type = VB_PT_FLOAT, .def = "1", .min = 0, .max = INFINITY, .flags = VB_PF_MIN_OPEN | VB_PF_GRID},
    {.name = "gamma", .type = VB_PT_FLOAT, .def = "scale", .min = 0, .max = INFINITY, .choices = "scale|auto",
     .flags = VB_PF_MIN_OPEN | VB_PF_GRID},
    {.name = "kernel", .type = VB_PT_ENUM, .def = "rbf", .choices = "rbf|linear|poly", .flags = VB_PF_GRID},
    {.name = "shrink", .type = VB_PT_BOOL, .def = "true"},
    {.name = "label", .type = VB_PT_STRING, .def = "svm"},
    {.name = "size", .type = VB_PT_INTS, .def = "[32, 32]", .min = 1, .max = 4096, .min_len = 2, .max_len = 2},
    {.name = "weights", .type = VB_PT_FLOATS, .def = "[0.5, 1]"},
    {.name = "classes", .type = VB_PT_STRINGS, .def = "[]"},
    {.name = "layers", .type = VB_PT_NODE},
    {.name = "ratio", .type = VB_PT_FLOAT, .def = "0.5", .min = 0, .max = 1},
    {.name = "degree", .type = VB_PT_INT, .def = "3", .min = 1, .max = 10},
    {.name = "frac", .type = VB_PT_FLOAT, .def = "0.25", .min = 0, .max = 1, .flags = VB_PF_MIN_OPEN},
    {.name = "pads", .type = VB_PT_INTS, .def = "[0, 0]", .min_len = 2},
};
static const vb_plugin demo = {.name = "svm", .help = "test table", .params = demo_params,
                               .n_params = sizeof demo_params / sizeof demo_params[0]};

static const vb_param_def loader_params[] = {
    {.name = "path", .type = VB_PT_STRING, .flags = VB_PF_REQUIRED, .help = "folder of images"},
    {.name = "limit", .type = VB_PT_INT, .def = "0"},
};
static const vb_plugin loader = {.name = "folder", .params = loader_params, .n_params = 2};

static const vb_param_def noprim_params[] = {{.name = "k", .type = VB_PT_INT, .def = "1"}};
static const vb_plugin noprim = {.name = "knn", .params = noprim_params, .n_params = 1};
static const vb_plugin empty_plugin = {.name = "relu"};

/* Parses "text" (its root; "" for none) against plugin. */
static vb_status parse(vb_params *p, const vb_plugin *plugin, const char *text, int allow_grid, vb_error *err)
{
    vb_doc *doc = load_ok(text);
    vb_status st = vb_params_parse(p, plugin, doc->root, allow_grid, err);
    vb_doc_free(doc);
    return st;
}

static void parse_ok(vb_params *p, const vb_plugin *plugin, const char *text, int allow_grid)
{
    vb_error err = {0};
    if (parse(p, plugin, text, allow_grid, &err) != VB_OK)
        fail_msg("'%s' did not parse: %s", text, err.msg);
}

static void parse_fails(const vb_plugin *plugin, const char *text, int allow_grid, const char *msg)
{
    vb_params p;
    vb_error err = {0};
    vb_status st = parse(&p, plugin, text, allow_grid, &err);
    if (st == VB_OK)
        fail_msg("'%s' parsed, expected \"%s\"", text, msg);
    assert_int_equal(err.status, st);
    if (strcmp(err.msg, msg) != 0)
        fail_msg("'%s': got \"%s\", expected \"%s\"", text, err.msg, msg);
    assert_null(p.v); /* freed on failure */
}

static char *params_yaml(const vb_params *p)
{
    vb_buf b;
    vb_buf_init(&b);
    vb_params_to_yaml(p, &b);
    assert_false(b.failed);
    return b.data;
}

static const char *const demo_defaults_yaml =
    "{cell: 4, C: 1, gamma: scale, kernel: rbf, shrink: true, label: svm, size: [32, 32], "
    "weights: [0.5, 1], classes: [], ratio: 0.5, degree: 3, frac: 0.25, pads: [0, 0]}";

static void test_params_defaults(void **state)
{
    vb_params p;
    vb_error err = {0};
    assert_int_equal(vb_params_parse(&p, &demo, NULL, 0, &err), VB_OK);
    assert_ptr_equal(p.plugin, &demo);
    assert_int_equal(vb_param_int(&p, "cell"), 4);
    assert_false(vb_param(&p, "cell")->given);
    assert_null(vb_param(&p, "cell")->file);
    assert_true(vb_param_float(&p, "C") == 1.0);
    assert_string_equal(vb_param_str(&p, "gamma"), "scale");
    assert_true(isnan(vb_param_float(&p, "gamma"))); /* a keyword has no number */
    assert_int_equal(vb_param_int(&p, "gamma"), 0);
    assert_true(vb_param_is(&p, "kernel", "rbf"));
    assert_false(vb_param_is(&p, "kernel", "poly"));
    assert_true(vb_param_bool(&p, "shrink"));
    assert_string_equal(vb_param_str(&p, "label"), "svm");
    size_t n = 0;
    const double *size = vb_param_list(&p, "size", &n);
    assert_int_equal(n, 2);
    assert_true(size[0] == 32 && size[1] == 32);
    const double *w = vb_param_list(&p, "weights", &n);
    assert_int_equal(n, 2);
    assert_true(w[0] == 0.5 && w[1] == 1.0);
    assert_int_equal(vb_param(&p, "classes")->n, 0);
    assert_null(vb_param_node(&p, "layers")); /* optional, absent */
    assert_int_equal(vb_params_grid_size(&p), 1);
    assert_null(vb_param(&p, "nope"));
    assert_int_equal(vb_param_int(&p, "nope"), 0);
    assert_null(vb_param_str(&p, "nope"));
    assert_null(vb_param_list(&p, "nope", &n));
    assert_int_equal(n, 0);
    char *y = params_yaml(&p);
    assert_string_equal(y, demo_defaults_yaml);
    free(y);
    vb_params_free(&p);
    assert_null(p.v);
    vb_params_free(&p); /* twice is harmless */

    /* An empty mapping is the same as no parameters; a plug-in without
     * parameters takes none. */
    parse_ok(&p, &demo, "{}", 0);
    y = params_yaml(&p);
    assert_string_equal(y, demo_defaults_yaml);
    free(y);
    vb_params_free(&p);
    assert_int_equal(vb_params_parse(&p, &empty_plugin, NULL, 0, &err), VB_OK);
    y = params_yaml(&p);
    assert_string_equal(y, "{}");
    free(y);
    vb_params_free(&p);
}

static void test_params_given(void **state)
{
    vb_params p;
    parse_ok(&p, &demo,
             "cell: 8\n"
             "C: 0.01\n"
             "gamma: auto\n"
             "kernel: poly\n"
             "shrink: no\n"
             "label: \"a: b\"\n"
             "size: 64\n"
             "weights: [1, 2.5, -3]\n"
             "classes: [cat, \"dog, big\"]\n"
             "layers: [{conv: 8}, relu]\n"
             "ratio: 1\n"
             "degree: 1e1\n"
             "pads: [1, 2, 3]\n",
             0);
    assert_int_equal(vb_param_int(&p, "cell"), 8);
    const vb_pvalue *v = vb_param(&p, "cell");
    assert_true(v->given);
    assert_string_equal(v->file, "t.yaml");
    assert_int_equal(v->line, 1);
    assert_int_equal(v->col, 7);
    assert_true(vb_param_float(&p, "C") == 0.01);
    assert_string_equal(vb_param_str(&p, "gamma"), "auto");
    assert_true(vb_param_is(&p, "kernel", "poly"));
    assert_false(vb_param_bool(&p, "shrink"));
    assert_string_equal(vb_param_str(&p, "label"), "a: b");
    size_t n;
    const double *size = vb_param_list(&p, "size", &n);
    assert_int_equal(n, 2); /* one number stands for [64, 64] */
    assert_true(size[0] == 64 && size[1] == 64);
    const double *w = vb_param_list(&p, "weights", &n);
    assert_int_equal(n, 3);
    assert_true(w[0] == 1 && w[1] == 2.5 && w[2] == -3);
    v = vb_param(&p, "classes");
    assert_int_equal(v->n, 2);
    assert_string_equal(v->strs[1], "dog, big");
    const vb_node *layers = vb_param_node(&p, "layers");
    assert_non_null(layers);
    assert_int_equal(layers->kind, VB_NODE_SEQ);
    assert_int_equal(layers->n, 2);
    assert_true(vb_param_float(&p, "ratio") == 1.0); /* closed bound */
    assert_int_equal(vb_param_int(&p, "degree"), 10);
    assert_int_equal(vb_param(&p, "pads")->n, 3); /* min_len only */

    char *y = params_yaml(&p);
    assert_string_equal(y, "{cell: 8, C: 0.01, gamma: auto, kernel: poly, shrink: false, label: \"a: b\", "
                           "size: [64, 64], weights: [1, 2.5, -3], classes: [cat, \"dog, big\"], "
                           "layers: [{conv: 8}, relu], ratio: 1, degree: 10, frac: 0.25, pads: [1, 2, 3]}");

    /* Round trip through the canonical text. */
    vb_params q;
    vb_error err = {0};
    assert_int_equal(vb_params_parse_text(&q, &demo, y, &err), VB_OK);
    char *y2 = params_yaml(&q);
    assert_string_equal(y2, y);
    assert_true(vb_param_float(&q, "C") == 0.01);
    assert_string_equal(vb_param_str(&q, "label"), "a: b");
    assert_string_equal(vb_param(&q, "classes")->strs[1], "dog, big");
    free(y2);

    /* The canonical text names the plug-in as its file; messages about
     * values from it still work after the text's tree is gone. */
    assert_int_equal(vb_param_fail(&q, "cell", &err, "cell %d is too large", 8), VB_ERR_PARAM);
    assert_string_equal(err.msg, "svm:1:8: svm.cell: cell 8 is too large");
    vb_params_free(&q);
    free(y);

    /* vb_param_fail: with the spec position when given, without otherwise. */
    assert_int_equal(vb_param_fail(&p, "kernel", &err, "needs %s", "more"), VB_ERR_PARAM);
    assert_string_equal(err.msg, "t.yaml:4:9: svm.kernel: needs more");
    assert_int_equal(vb_param_fail(&p, "frac", &err, "unused"), VB_ERR_PARAM);
    assert_string_equal(err.msg, "svm.frac: unused");
    vb_params_free(&p);

    /* A scalar is the primary parameter. */
    parse_ok(&p, &demo, "16", 0);
    assert_int_equal(vb_param_int(&p, "cell"), 16);
    assert_true(vb_param(&p, "cell")->given);
    assert_false(vb_param(&p, "C")->given);
    vb_params_free(&p);

    /* Floats in full precision, keywords and exponent forms. */
    parse_ok(&p, &demo, "{C: 0.1, gamma: 1e-3, weights: [0.30000000000000004]}", 0);
    y = params_yaml(&p);
    assert_non_null(strstr(y, "C: 0.1, gamma: 0.001, "));
    assert_non_null(strstr(y, "weights: [0.30000000000000004]"));
    free(y);
    vb_params_free(&p);
}

static void test_params_errors(void **state)
{
    /* Types. */
    parse_fails(&demo, "{cell: abc}", 0, "t.yaml:1:8: svm.cell must be an integer, not 'abc'");
    parse_fails(&demo, "{cell: 2.5}", 0, "t.yaml:1:8: svm.cell must be an integer, not '2.5'");
    parse_fails(&demo, "{cell: 1e300}", 0, "t.yaml:1:8: svm.cell must be an integer, not '1e300'");
    parse_fails(&demo, "{C: x}", 0, "t.yaml:1:5: svm.C must be a number, not 'x'");
    parse_fails(&demo, "{C: nan}", 0, "t.yaml:1:5: svm.C must be a number, not 'nan'");
    parse_fails(&demo, "{C: inf}", 0, "t.yaml:1:5: svm.C must be a finite number, not 'inf'");
    parse_fails(&demo, "{shrink: maybe}", 0, "t.yaml:1:10: svm.shrink must be true or false, not 'maybe'");
    parse_fails(&demo, "{cell: {a: 1}}", 0, "t.yaml:1:8: svm.cell must be a single value, not a mapping");
    parse_fails(&demo, "{label: [a]}", 0, "t.yaml:1:9: svm.label takes a single value, not a list");
    parse_fails(&demo, "{size: {a: 1}}", 0, "t.yaml:1:8: svm.size must be a list, not a mapping");
    parse_fails(&demo, "{weights: [1, x]}", 0, "t.yaml:1:15: svm.weights must be a number, not 'x'");
    parse_fails(&demo, "{classes: [a, [b]]}", 0, "t.yaml:1:15: svm.classes must be a single value, not a list");

    /* Ranges, with the range in words. */
    parse_fails(&demo, "{cell: 0}", 0, "t.yaml:1:8: svm.cell = 0 is out of range (1..128)");
    parse_fails(&demo, "{cell: 129}", 0, "t.yaml:1:8: svm.cell = 129 is out of range (1..128)");
    parse_fails(&demo, "{C: 0}", 0, "t.yaml:1:5: svm.C = 0 is out of range (> 0)");
    parse_fails(&demo, "{C: -1e-9}", 0, "t.yaml:1:5: svm.C = -1e-9 is out of range (> 0)");
    parse_fails(&demo, "{gamma: -1}", 0, "t.yaml:1:9: svm.gamma = -1 is out of range (> 0)");
    parse_fails(&demo, "{ratio: 1.5}", 0, "t.yaml:1:9: svm.ratio = 1.5 is out of range (0..1)");
    parse_fails(&demo, "{ratio: -0.1}", 0, "t.yaml:1:9: svm.ratio = -0.1 is out of range (0..1)");
    parse_fails(&demo, "{frac: 0}", 0, "t.yaml:1:8: svm.frac = 0 is out of range (0 < x <= 1)");
    parse_fails(&demo, "{size: [8, 0]}", 0, "t.yaml:1:12: svm.size = 0 is out of range (1..4096)");
    parse_fails(&demo, "{size: 5000}", 0, "t.yaml:1:8: svm.size = 5000 is out of range (1..4096)");

    /* Enums and keywords. */
    parse_fails(&demo, "{kernel: rfb}", 0,
                "t.yaml:1:10: svm.kernel: unknown value 'rfb'; did you mean 'rbf'? (choices: rbf, linear, poly)");
    parse_fails(&demo, "{kernel: sigmoid}", 0,
                "t.yaml:1:10: svm.kernel: unknown value 'sigmoid' (choices: rbf, linear, poly)");
    parse_fails(&demo, "{gamma: atuo}", 0,
                "t.yaml:1:9: svm.gamma: unknown value 'atuo'; did you mean 'auto'? (choices: scale, auto)");

    /* List lengths. */
    parse_fails(&demo, "{size: [1, 2, 3]}", 0, "t.yaml:1:8: svm.size needs 2 values, not 3");
    parse_fails(&demo, "{size: [7]}", 0, "t.yaml:1:8: svm.size needs 2 values, not 1");
    parse_fails(&demo, "{pads: [7]}", 0, "t.yaml:1:8: svm.pads needs at least 2 values, not 1");

    /* Keys, required parameters, primary values. */
    parse_fails(&demo, "{cel: 3}", 0,
                "t.yaml:1:2: unknown key 'cel' in the parameters of 'svm'; did you mean 'cell'?");
    parse_fails(&loader, "{limit: 3}", 0, "t.yaml:1:1: 'folder' needs the parameter 'path' (folder of images)");
    vb_params p;
    vb_error err = {0};
    assert_int_equal(vb_params_parse(&p, &loader, NULL, 0, &err), VB_ERR_SPEC);
    assert_string_equal(err.msg, "'folder' needs the parameter 'path' (folder of images)");
    parse_fails(&noprim, "5", 0, "t.yaml:1:1: 'knn' takes its parameters as a mapping, e.g. 'knn: {k: ...}'");
    parse_fails(&noprim, "[5]", 0, "t.yaml:1:1: 'knn' takes its parameters as a mapping, e.g. 'knn: {k: ...}'");

    /* Lists where one value belongs. */
    parse_fails(&demo, "{degree: [2, 3]}", 1, "t.yaml:1:10: svm.degree takes a single value, not a list");
    parse_fails(&demo, "{C: [1, 10]}", 0, "t.yaml:1:5: svm.C: a list of values (a grid) is not allowed here");
    parse_fails(&demo, "{C: []}", 1, "t.yaml:1:5: svm.C: the grid is empty");
    parse_fails(&demo, "{C: [1, 0]}", 1, "t.yaml:1:9: svm.C = 0 is out of range (> 0)");

    /* The required parameter, given; its canonical text has it. */
    parse_ok(&p, &loader, "{path: data/x}", 0);
    assert_string_equal(vb_param_str(&p, "path"), "data/x");
    char *y = params_yaml(&p);
    assert_string_equal(y, "{path: data/x, limit: 0}");
    free(y);
    vb_params_free(&p);
}

static void test_params_grid(void **state)
{
    vb_params p;
    parse_ok(&p, &demo, "{cell: [4, 8], C: [0.1, 1, 10], kernel: [rbf, linear], gamma: auto}", 1);
    assert_int_equal(vb_param(&p, "cell")->n_alts, 2);
    assert_int_equal(vb_param(&p, "C")->n_alts, 3);
    assert_int_equal(vb_param(&p, "kernel")->n_alts, 2);
    assert_int_equal(vb_param(&p, "gamma")->n_alts, 0);
    assert_int_equal(vb_params_grid_size(&p), 12);
    /* The value itself is the first alternative. */
    assert_int_equal(vb_param_int(&p, "cell"), 4);
    assert_true(vb_param_float(&p, "C") == 0.1);
    assert_int_equal(vb_param(&p, "C")->alts[2].line, 1);
    assert_int_equal(vb_param(&p, "C")->alts[2].col, 28);

    const long cells[] = {4, 8};
    const double Cs[] = {0.1, 1, 10};
    const char *const kernels[] = {"rbf", "linear"};
    int seen[2][3][2] = {{{0}}};
    vb_error err = {0};
    for (size_t idx = 0; idx < 12; idx++) {
        vb_params g;
        assert_int_equal(vb_params_grid_point(&p, idx, &g, &err), VB_OK);
        assert_int_equal(vb_params_grid_size(&g), 1);
        int ci = -1, Ci = -1, ki = -1;
        for (int i = 0; i < 2; i++)
            if (vb_param_int(&g, "cell") == cells[i])
                ci = i;
        for (int i = 0; i < 3; i++)
            if (vb_param_float(&g, "C") == Cs[i])
                Ci = i;
        for (int i = 0; i < 2; i++)
            if (vb_param_is(&g, "kernel", kernels[i]))
                ki = i;
        assert_true(ci >= 0 && Ci >= 0 && ki >= 0);
        seen[ci][Ci][ki]++;
        /* The first grid parameter varies slowest. */
        assert_int_equal((size_t)((ci * 3 + Ci) * 2 + ki), idx);
        assert_string_equal(vb_param_str(&g, "gamma"), "auto"); /* non-grid values carried */
        assert_true(vb_param(&g, "C")->given);
        vb_params_free(&g);
    }
    for (int a = 0; a < 2; a++)
        for (int b = 0; b < 3; b++)
            for (int c = 0; c < 2; c++)
                assert_int_equal(seen[a][b][c], 1); /* every combination exactly once */

    vb_buf b;
    vb_buf_init(&b);
    vb_params_grid_describe(&p, 5, &b);
    assert_string_equal(b.data, "cell=4, C=10, kernel=linear");
    vb_buf_free(&b);
    vb_buf_init(&b);
    vb_params_grid_describe(&p, 6, &b);
    assert_string_equal(b.data, "cell=8, C=0.1, kernel=rbf");
    vb_buf_free(&b);

    /* A grid point's canonical text round-trips. */
    vb_params g, q;
    assert_int_equal(vb_params_grid_point(&p, 11, &g, &err), VB_OK);
    char *y = params_yaml(&g);
    assert_string_equal(y, "{cell: 8, C: 10, gamma: auto, kernel: linear, shrink: true, label: svm, size: [32, 32], "
                           "weights: [0.5, 1], classes: [], ratio: 0.5, degree: 3, frac: 0.25, pads: [0, 0]}");
    assert_int_equal(vb_params_parse_text(&q, &demo, y, &err), VB_OK);
    char *y2 = params_yaml(&q);
    assert_string_equal(y2, y);
    free(y);
    free(y2);
    vb_params_free(&q);
    vb_params_free(&g);

    /* A copy is independent (and keeps the grid). */
    vb_params c;
    assert_int_equal(vb_params_copy(&c, &p, &err), VB_OK);
    vb_params_free(&p);
    assert_int_equal(vb_params_grid_size(&c), 12);
    assert_true(vb_param(&c, "C")->alts[2].num == 10);
    vb_buf_init(&b);
    vb_params_grid_describe(&c, 11, &b);
    assert_string_equal(b.data, "cell=8, C=10, kernel=linear");
    vb_buf_free(&b);
    vb_params_free(&c);

    /* A one-element list is a grid of one: no grid at all. */
    parse_ok(&p, &demo, "{C: [3]}", 1);
    assert_int_equal(vb_params_grid_size(&p), 1);
    assert_true(vb_param_float(&p, "C") == 3);
    vb_buf_init(&b);
    vb_params_grid_describe(&p, 0, &b);
    assert_null(b.data); /* nothing to describe */
    vb_buf_free(&b);
    vb_params_free(&p);

    /* The primary parameter as a grid. */
    parse_ok(&p, &demo, "[2, 4, 6]", 1);
    assert_int_equal(vb_params_grid_size(&p), 3);
    vb_params_free(&p);
}

static void test_params_copy_independent(void **state)
{
    vb_params p, c;
    vb_error err = {0};
    parse_ok(&p, &demo, "{label: hello, layers: {a: [1, 2]}, classes: [x, y], weights: [1, 2]}", 0);
    assert_int_equal(vb_params_copy(&c, &p, &err), VB_OK);
    char *before = params_yaml(&p);
    vb_params_free(&p);
    char *after = params_yaml(&c);
    assert_string_equal(after, before);
    assert_string_equal(vb_param_str(&c, "label"), "hello");
    assert_string_equal(vb_param(&c, "classes")->strs[1], "y");
    assert_int_equal(vb_param_node(&c, "layers")->kind, VB_NODE_MAP);
    free(before);
    free(after);
    vb_params_free(&c);
}

/* d's type and range as visbench list prints them. */
static void assert_texts(const vb_param_def *d, const char *type, const char *range)
{
    vb_buf t, r;
    vb_buf_init(&t);
    vb_buf_init(&r);
    vb_param_type_text(d, &t);
    vb_param_range_text(d, &r);
    assert_string_equal(t.data, type);
    assert_string_equal(r.data ? r.data : "", range);
    vb_buf_free(&t);
    vb_buf_free(&r);
}

static void test_type_and_range_text(void **state)
{
    static const struct {
        int i;
        const char *type, *range;
    } cases[] = {
        {0, "int, grid", "1..128"},           {1, "float, grid", "> 0"},
        {2, "float|scale|auto, grid", "> 0"}, {3, "rbf|linear|poly", ""},
        {4, "bool", ""},                      {5, "string", ""},
        {6, "int list of 2", "1..4096"},      {7, "float list", ""},
        {8, "string list", ""},               {9, "structure", ""},
        {10, "float", "0..1"},                {12, "float", "0 < x <= 1"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++)
        assert_texts(&demo_params[cases[k].i], cases[k].type, cases[k].range);
}

/* Parses the entry "text" against {svm (demo), folder, knn, relu}. */
static vb_status parse_entry_text(const char *text, vb_params *p, const void **vt, vb_error *err)
{
    static const void *const registry[] = {&demo, &loader, &noprim, &empty_plugin};
    vb_doc *doc = load_ok(text);
    vb_status st = vb_params_parse_entry(p, registry, 4, "plug-in", doc->root, 0, vt, err);
    vb_doc_free(doc);
    return st;
}

static void entry_fails(const char *text, const char *msg)
{
    vb_params p;
    const void *vt;
    vb_error err = {0};
    assert_int_equal(parse_entry_text(text, &p, &vt, &err), VB_ERR_SPEC);
    if (strcmp(err.msg, msg) != 0)
        fail_msg("'%s': got \"%s\", expected \"%s\"", text, err.msg, msg);
    assert_null(p.v);
}

/* A name alone, a null value, a primary value, a mapping; unknown names
 * with the nearest, a missing required parameter at the name. */
static void test_params_parse_entry(void **state)
{
    static const struct {
        const char *text;
        const vb_plugin *vt;
        long cell; /* svm's cell, knn's k */
    } ok[] = {
        {"svm", &demo, 4},         {"{svm: }", &demo, 4},        {"{svm: ~}", &demo, 4},
        {"{svm: null}", &demo, 4}, {"{svm: \"\"}", &demo, 4},    {"{svm: 9}", &demo, 9},
        {"{svm: {cell: 7}}", &demo, 7}, {"knn", &noprim, 1},     {"{knn: {k: 3}}", &noprim, 3},
        {"relu", &empty_plugin, 0}, {"{relu: {}}", &empty_plugin, 0},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        vb_params p;
        const void *vt = NULL;
        vb_error err = {0};
        if (parse_entry_text(ok[i].text, &p, &vt, &err) != VB_OK)
            fail_msg("'%s': %s", ok[i].text, err.msg);
        assert_ptr_equal(vt, ok[i].vt);
        assert_ptr_equal(p.plugin, ok[i].vt);
        if (vt == &demo)
            assert_int_equal(vb_param_int(&p, "cell"), ok[i].cell);
        if (vt == &noprim)
            assert_int_equal(vb_param_int(&p, "k"), ok[i].cell);
        vb_params_free(&p);
    }
    entry_fails("{svn: {cell: 3}}", "t.yaml:1:2: unknown plug-in 'svn'; did you mean 'svm'? (see visbench list)");
    entry_fails("{zzzzzz: 1}", "t.yaml:1:2: unknown plug-in 'zzzzzz' (choices: svm, folder, knn, relu)");
    entry_fails("{svm: {cel: 3}}", "t.yaml:1:8: unknown key 'cel' in the parameters of 'svm'; did you mean 'cell'?");
    entry_fails("{svm: 0}", "t.yaml:1:7: svm.cell = 0 is out of range (1..128)");
    entry_fails("folder", "t.yaml:1:1: 'folder' needs the parameter 'path' (folder of images)");
    entry_fails("{folder: ~}", "t.yaml:1:2: 'folder' needs the parameter 'path' (folder of images)");
    entry_fails("{relu: 3}", "t.yaml:1:8: 'relu' takes no parameters; write just 'relu'");
    entry_fails("{knn: 3}", "t.yaml:1:7: 'knn' takes its parameters as a mapping, e.g. 'knn: {k: ...}'");
    entry_fails("[svm]", "t.yaml:1:1: each plug-in must be a name, or a name with its parameters (e.g. 'hog: "
                         "{cell: 8}')");
    entry_fails("{svm: 1, knn: 2}", "t.yaml:1:1: each plug-in must be a name, or a name with its parameters (e.g. "
                                    "'hog: {cell: 8}')");
}

/* An open upper bound, both ends open, and bounds %g would round. */
static void test_open_bounds(void **state)
{
    static const vb_param_def defs[] = {
        {.name = "rate", .type = VB_PT_FLOAT, .def = "0.5", .min = 0, .max = 1, .flags = VB_PF_MAX_OPEN},
        {.name = "p", .type = VB_PT_FLOAT, .def = "0.5", .min = 0, .max = 1, .flags = VB_PF_MIN_OPEN | VB_PF_MAX_OPEN},
        {.name = "beta", .type = VB_PT_FLOAT, .def = "0.9", .min = 0, .max = 0.99999999},
    };
    static const vb_plugin drop = {.name = "dropout", VB_PARAMS(defs)};
    const char *range[] = {"0 <= x < 1", "0 < x < 1", "0..0.99999999"};
    for (int i = 0; i < 3; i++)
        assert_texts(&defs[i], "float", range[i]);
    parse_fails(&drop, "{rate: 1}", 0, "t.yaml:1:8: dropout.rate = 1 is out of range (0 <= x < 1)");
    parse_fails(&drop, "{p: 0}", 0, "t.yaml:1:5: dropout.p = 0 is out of range (0 < x < 1)");
    parse_fails(&drop, "{p: 1}", 0, "t.yaml:1:5: dropout.p = 1 is out of range (0 < x < 1)");
    parse_fails(&drop, "{beta: 0.999999999}", 0,
                "t.yaml:1:8: dropout.beta = 0.999999999 is out of range (0..0.99999999)");
    vb_params p;
    parse_ok(&p, &drop, "{rate: 0, p: 0.999, beta: 0.99999999}", 0);
    assert_true(vb_param_float(&p, "rate") == 0);
    assert_true(vb_param_float(&p, "p") == 0.999);
    assert_true(vb_param_float(&p, "beta") == 0.99999999);
    vb_params_free(&p);
}

static void test_plugin_find(void **state)
{
    const void *const registry[] = {&demo, &loader, &noprim};
    assert_ptr_equal(vb_plugin_find(registry, 3, "svm"), &demo);
    assert_ptr_equal(vb_plugin_find(registry, 3, "knn"), &noprim);
    assert_null(vb_plugin_find(registry, 3, "SVM"));
    assert_null(vb_plugin_find(registry, 3, "nope"));
    assert_null(vb_plugin_find(registry, 2, "knn")); /* beyond n */
    assert_null(vb_plugin_find(NULL, 0, "svm"));
}

/* Nested aliases cannot expand into an exponentially large tree. */
static void test_alias_bomb(void **state)
{
    const char *y = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
                    "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                    "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
                    "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
                    "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
                    "f: [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n";
    vb_doc *doc = NULL;
    vb_error err = {0};
    assert_int_equal(vb_doc_load_string(y, "bomb.yaml", &doc, &err), VB_ERR_SPEC);
    assert_null(doc);
    assert_string_equal(err.msg, "bomb.yaml:5:37: aliases expand to more than 100000 nodes; write the values out");
}

/* libfyaml 0.7.12 loops forever on "%\xff\n" (in fy_scan_directive), so
 * text is checked before it reaches libfyaml: UTF-8, no NUL, and only
 * well-formed %YAML / %TAG directives. Each refusal names file:line:col. */
static void test_text_guard(void **state)
{
    alarm(60); /* a hang (as before the guard) fails instead of stopping make */
    static const char dir[] = "a line starting with '%' is a YAML directive, and only well-formed '%YAML 1.x' "
                              "and '%TAG !handle! prefix' directives are accepted; remove the line";
    char want[512];
    snprintf(want, sizeof want, "t.yaml:1:1: %s", dir);
    load_fails("%\xff\n", want);
    load_fails("%\n", want);
    load_fails("%YAML\n---\na: 1\n", want);
    load_fails("%YAML 2.0\n---\na: 1\n", want);
    load_fails("%YAML 1.2x\n---\na: 1\n", want);
    load_fails("%FOO bar\n---\na: 1\n", want);
    load_fails("%TAG !x tag:a,2000:\n---\na: 1\n", want);
    snprintf(want, sizeof want, "t.yaml:3:1: %s", dir);
    load_fails("%YAML 1.2\n---\n%\x01\n", want);
    load_fails("a: 1\n  \xc3\xa9\xc3\n", "t.yaml:2:4: byte 0xc3 is not valid UTF-8; YAML files must be UTF-8 text");
    load_fails("a: \xed\xa0\x80\n", "t.yaml:1:4: byte 0xed is not valid UTF-8; YAML files must be UTF-8 text");
    load_fails("a: \xc0\xaf\n", "t.yaml:1:4: byte 0xc0 is not valid UTF-8; YAML files must be UTF-8 text");
    load_fails("a: 1\r\nb: \xff\n", "t.yaml:2:4: byte 0xff is not valid UTF-8; YAML files must be UTF-8 text");
    /* a NUL byte can only come from a file */
    FILE *f = fopen("nul.yaml", "wb");
    assert_non_null(f);
    fwrite("a: 1\nb: x\0y\n", 1, 13, f);
    fclose(f);
    vb_doc *doc = NULL;
    vb_error err = {0};
    assert_int_equal(vb_doc_load_file("nul.yaml", &doc, &err), VB_ERR_SPEC);
    assert_string_equal(err.msg, "nul.yaml:2:5: a NUL byte; YAML files must be UTF-8 text");
    /* what stays accepted: the two directives, UTF-8 text, '%' inside values */
    vb_doc *d = load_ok("%YAML 1.2\n%TAG !e! tag:example.com,2000:app/ # tags\n---\n"
                        "name: caf\xc3\xa9 \xf0\x9f\x98\x80\nv: 50%\n");
    assert_string_equal(vb_node_get(d->root, "name")->text, "caf\xc3\xa9 \xf0\x9f\x98\x80");
    assert_string_equal(vb_node_get(d->root, "v")->text, "50%");
    vb_doc_free(d);
    d = load_ok("%TAG ! tag:a,2000:\n%TAG !! tag:b,2000:\n---\na: 1\n");
    vb_doc_free(d);
    alarm(0);
}

/* A spec over VB_YAML_MAX_BYTES is refused before it is read or parsed (a
 * 50 MB spec once took 5 GB and 45 s): from a file, and as a string. */
static void test_yaml_size_limit(void **state)
{
    size_t n = VB_YAML_MAX_BYTES + 1;
    char *text = malloc(n + 1);
    assert_non_null(text);
    for (size_t i = 0; i < n; i++)
        text[i] = i % 8 == 7 ? '\n' : i % 8 == 0 ? '#' : 'x'; /* comments: valid YAML */
    text[n] = 0;
    FILE *f = fopen("big.yaml", "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, n, f), n);
    fclose(f);
    vb_doc *doc = NULL;
    vb_error err = {0};
    assert_int_equal(vb_doc_load_file("big.yaml", &doc, &err), VB_ERR_FORMAT);
    assert_null(doc);
    assert_string_equal(err.msg, "big.yaml: 4194305 bytes, more than the 4194304 bytes a YAML spec or descriptor "
                                 "may have");
    load_fails(text, "t.yaml: 4194305 bytes, more than the 4194304 bytes a YAML spec or descriptor may have");
    text[n - 1] = 0; /* the limit itself is fine */
    vb_doc_free(load_ok(text));
    free(text);
}

/* Random search: draws from lists and ranges, within bounds, by the seed. */
static void test_params_draw(void **state)
{
    vb_params p;
    parse_ok(&p, &demo, "{cell: {uniform: [2, 9]}, C: {loguniform: [0.001, 1000]}, kernel: [rbf, linear, poly]}",
             1);
    const vb_pvalue *c = vb_param(&p, "C");
    assert_int_equal(c->dist, VB_DIST_LOGUNIFORM);
    assert_true(c->lo == 0.001 && c->hi == 1000);
    assert_int_equal(vb_param(&p, "cell")->dist, VB_DIST_UNIFORM);
    assert_ptr_equal(vb_params_first_range(&p), vb_param(&p, "cell"));
    assert_int_equal(vb_params_grid_size(&p), 3); /* a range is no grid of points */
    char *y = params_yaml(&p);
    assert_non_null(strstr(y, "cell: {uniform: [2, 9]}, C: {loguniform: [0.001, 1000]}, gamma: scale, kernel: rbf"));
    free(y);
    /* 3000 draws: in bounds, integers whole, each list value and each
     * decade of the log range about equally often */
    vb_rng *rng = vb_rng_new(11);
    size_t kernel[3] = {0}, decade[6] = {0}, cells[10] = {0};
    vb_error err = {0};
    for (int i = 0; i < 3000; i++) {
        vb_params d;
        assert_int_equal(vb_params_draw(&p, rng, &d, &err), VB_OK);
        double C = vb_param_float(&d, "C");
        long cell = vb_param_int(&d, "cell");
        assert_true(C >= 0.001 && C <= 1000);
        assert_true(cell >= 2 && cell <= 9);
        assert_true(vb_param_float(&d, "cell") == (double)cell);
        assert_int_equal(vb_param(&d, "C")->dist, VB_DIST_NONE); /* a drawn value is one value */
        cells[cell]++;
        decade[(int)floor(log10(C) + 3) < 6 ? (int)floor(log10(C) + 3) : 5]++;
        kernel[vb_param_is(&d, "kernel", "rbf") ? 0 : vb_param_is(&d, "kernel", "linear") ? 1 : 2]++;
        assert_string_equal(vb_param_str(&d, "gamma"), "scale"); /* the rest carried */
        vb_params_free(&d);
    }
    vb_rng_free(rng);
    for (int k = 0; k < 3; k++)
        assert_true(kernel[k] > 850 && kernel[k] < 1150); /* 1000 each; 5 sigma is 130 */
    for (int k = 0; k < 6; k++)
        assert_true(decade[k] > 380 && decade[k] < 620); /* 500 each */
    /* the rounded ends get half a bin: 2 and 9 about 1/14, the rest 1/7 */
    assert_true(cells[2] > 130 && cells[2] < 300);
    assert_true(cells[5] > 330 && cells[5] < 530);
    /* the same seed, the same draws; another seed, others */
    vb_rng *a = vb_rng_new(5), *b = vb_rng_new(5), *o = vb_rng_new(6);
    int differ = 0;
    for (int i = 0; i < 20; i++) {
        vb_params da, db, dother;
        assert_int_equal(vb_params_draw(&p, a, &da, &err), VB_OK);
        assert_int_equal(vb_params_draw(&p, b, &db, &err), VB_OK);
        assert_int_equal(vb_params_draw(&p, o, &dother, &err), VB_OK);
        assert_true(vb_param_float(&da, "C") == vb_param_float(&db, "C"));
        assert_int_equal(vb_param_int(&da, "cell"), vb_param_int(&db, "cell"));
        differ += vb_param_float(&da, "C") != vb_param_float(&dother, "C");
        /* what a draw says, and its edges */
        if (i == 0) {
            vb_buf t;
            vb_buf_init(&t);
            int first = 1;
            vb_params_draw_describe(&p, &da, "svm", &first, &t);
            char want[128];
            snprintf(want, sizeof want, "svm.cell=%ld, svm.C=%.4g, svm.kernel=%s", vb_param_int(&da, "cell"),
                     vb_param_float(&da, "C"), vb_param_str(&da, "kernel"));
            assert_string_equal(t.data, want);
            vb_buf_free(&t);
        }
        vb_params_free(&da);
        vb_params_free(&db);
        vb_params_free(&dother);
    }
    assert_true(differ >= 19);
    vb_rng_free(a);
    vb_rng_free(b);
    vb_rng_free(o);
    /* edges: C near 1000 in log (the outer 5% of 6 decades: above 10^2.7),
     * the first of the three kernels, a cell inside */
    vb_params d;
    assert_int_equal(vb_params_grid_point(&p, 0, &d, &err), VB_OK);
    ((vb_pvalue *)vb_param(&d, "C"))->num = 600; /* 10^2.78 */
    ((vb_pvalue *)vb_param(&d, "cell"))->num = 5;
    const char *names[8];
    size_t n = vb_params_draw_edges(&p, &d, names, 8);
    assert_int_equal(n, 1);
    assert_string_equal(names[0], "C"); /* (the kernel is no number) */
    ((vb_pvalue *)vb_param(&d, "C"))->num = 1;
    assert_int_equal(vb_params_draw_edges(&p, &d, names, 8), 0);
    vb_params_free(&d);
    vb_params_free(&p);

    /* ranges are refused where they cannot be drawn from, or make no sense */
    parse_fails(&demo, "{ratio: {uniform: [0, 1]}}", 1, "t.yaml:1:9: svm.ratio takes a single value, not a range");
    parse_fails(&demo, "{C: {uniform: [1, 2]}}", 0, "t.yaml:1:5: svm.C: a range of values is not allowed here");
    parse_fails(&demo, "{C: {loguniform: [0, 2]}}", 1, "t.yaml:1:19: svm.C = 0 is out of range (> 0)");
    parse_fails(&demo, "{C: {uniform: [3, 2]}}", 1,
                "t.yaml:1:15: svm.C: the range's low end must be below its high end");
    parse_fails(&demo, "{C: {uniform: [1]}}", 1, "t.yaml:1:15: svm.C: a range is two numbers [low, high]");
    parse_fails(&demo, "{C: {normal: [1, 2]}}", 0, "t.yaml:1:5: svm.C must be a single value, not a mapping");
    parse_fails(&demo, "{cell: {uniform: [0, 9]}}", 1, "t.yaml:1:19: svm.cell = 0 is out of range (1..128)");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alias_bomb),
        cmocka_unit_test(test_text_guard),
        cmocka_unit_test(test_yaml_size_limit),
        cmocka_unit_test(test_positions_block_style),
        cmocka_unit_test(test_node_to_json),
        cmocka_unit_test(test_positions_flow_style),
        cmocka_unit_test(test_null_and_empty),
        cmocka_unit_test(test_syntax_errors),
        cmocka_unit_test(test_load_file),
        cmocka_unit_test(test_file_name_outlives_document),
        cmocka_unit_test(test_anchors_and_aliases),
        cmocka_unit_test(test_yaml_scalar),
        cmocka_unit_test(test_emit_round_trip),
        cmocka_unit_test(test_check_keys),
        cmocka_unit_test(test_scalar_conversions),
        cmocka_unit_test(test_entries_clone_and_new),
        cmocka_unit_test(test_params_defaults),
        cmocka_unit_test(test_params_given),
        cmocka_unit_test(test_params_errors),
        cmocka_unit_test(test_params_grid),
        cmocka_unit_test(test_params_copy_independent),
        cmocka_unit_test(test_type_and_range_text),
        cmocka_unit_test(test_open_bounds),
        cmocka_unit_test(test_params_parse_entry),
        cmocka_unit_test(test_plugin_find),
        cmocka_unit_test(test_params_draw),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
