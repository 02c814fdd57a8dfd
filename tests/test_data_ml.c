/* data: multilabel and hierarchical datasets (issue 15). CSV manifests of
 * label sets, folders of images with label files, nested class folders,
 * a descriptor's hierarchy, the synthetic sets, export and the hash. Every
 * fixture is written here, into the scratch directory the test runs in. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "support/featutil.h"
#include "support/testutil.h"
#include "visbench/data.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ----------------------------------------------------------- */

static void mkdir_p(const char *path)
{
    vb_error err = {0};
    if (vb_mkdirs(path, &err) != VB_OK)
        fail_msg("%s", err.msg);
}

/* A small seeded grey PNG at path (its folder is made first). */
static void png(const char *path, uint64_t seed)
{
    char *dir = vb_path_dirname(path);
    mkdir_p(dir);
    free(dir);
    vb_image *img = fu_image(4, 3, 1, seed);
    vb_error err = {0};
    if (vb_image_save_png(img, path, &err) != VB_OK)
        fail_msg("%s", err.msg);
    vb_image_free(img);
}

static vb_dataset *load_ok(const char *path)
{
    vb_dataset *ds = NULL;
    vb_error err = {0};
    if (vb_dataset_load_path(path, &ds, &err) != VB_OK)
        fail_msg("%s", err.msg);
    return ds;
}

/* Loads an inline descriptor (a spec's dataset mapping) named spec.yaml. */
static vb_status load_inline(const char *yaml, const char *base, vb_dataset **ds, vb_error *err)
{
    vb_doc *doc = NULL;
    vb_status st = vb_doc_load_string(yaml, "spec.yaml", &doc, err);
    if (st == VB_OK)
        st = vb_dataset_load_node(doc->root, base, ds, err);
    vb_doc_free(doc);
    return st;
}

/* Asserts that sample i's label set is exactly want (a 0/1 string, one
 * character per class). */
static void check_set(const vb_dataset *ds, size_t i, const char *want)
{
    assert_int_equal(strlen(want), ds->n_classes);
    for (int k = 0; k < ds->n_classes; k++)
        if (ds->Y[i * (size_t)ds->n_classes + (size_t)k] != (want[k] == '1'))
            fail_msg("sample %zu, label %s: %d, expected %c", i, ds->classes[k],
                     ds->Y[i * (size_t)ds->n_classes + (size_t)k], want[k]);
}

static void check_classes(const vb_dataset *ds, const char *const *names, int n)
{
    assert_int_equal(ds->n_classes, n);
    for (int k = 0; k < n; k++)
        assert_string_equal(ds->classes[k], names[k]);
}

/* The taxonomy's inner nodes (after the leaves) and every node's parent
 * and depth. */
static void check_tax(const vb_dataset *ds, const char *const *inner, int n_inner, const int *parent,
                      const int *depth, int max_depth)
{
    const vb_taxonomy *t = ds->tax;
    assert_non_null(t);
    assert_int_equal(ds->task, VB_TASK_HIER);
    assert_int_equal(t->n_leaves, ds->n_classes);
    assert_int_equal(t->n_nodes, ds->n_classes + n_inner);
    for (int k = 0; k < ds->n_classes; k++)
        assert_string_equal(t->names[k], ds->classes[k]);
    for (int g = 0; g < n_inner; g++)
        assert_string_equal(t->names[ds->n_classes + g], inner[g]);
    for (int i = 0; i < t->n_nodes; i++) {
        if (t->parent[i] != parent[i] || t->depth[i] != depth[i])
            fail_msg("node %d (%s): parent %d depth %d, expected parent %d depth %d", i, t->names[i], t->parent[i],
                     t->depth[i], parent[i], depth[i]);
    }
    assert_int_equal(t->max_depth, max_depth);
}

/* ---- task names -------------------------------------------------------- */

static void test_task_names(void **state)
{
    vb_task t = VB_TASK_HIER;
    assert_string_equal(vb_task_name(VB_TASK_SINGLE), "single-label");
    assert_string_equal(vb_task_name(VB_TASK_MULTILABEL), "multilabel");
    assert_string_equal(vb_task_name(VB_TASK_HIER), "hierarchical");
    assert_true(vb_task_parse("single-label", &t));
    assert_int_equal(t, VB_TASK_SINGLE);
    assert_true(vb_task_parse("multilabel", &t));
    assert_int_equal(t, VB_TASK_MULTILABEL);
    assert_true(vb_task_parse("hierarchical", &t));
    assert_int_equal(t, VB_TASK_HIER);
    t = VB_TASK_MULTILABEL;
    assert_false(vb_task_parse("single", &t));
    assert_false(vb_task_parse("Multilabel", &t));
    assert_false(vb_task_parse("", &t));
    assert_false(vb_task_parse(NULL, &t));
    assert_int_equal(t, VB_TASK_MULTILABEL);
}

/* ---- CSV manifests of label sets ---------------------------------------- */

static void write_ml_images(void)
{
    const char *names[] = {"ml/img/a.png", "ml/img/b.png", "ml/img/c.png", "ml/img/d.png", "ml/img/e.png"};
    for (int i = 0; i < 5; i++)
        png(names[i], (uint64_t)i + 1);
}

static void test_csv_multilabel(void **state)
{
    write_ml_images();
    /* header, quoted set, spaces around labels, empty fields (bare and quoted) */
    tu_write_text("ml/list.csv", "path,labels\n"
                                 "img/a.png,\"dog;car\"\n"
                                 "img/b.png, car ; tree \n"
                                 "img/c.png,\n"
                                 "img/d.png,dog\n"
                                 "\"img/e.png\",\"\"\n");
    tu_write_text("ml/d.yaml", "format: csv\npath: list.csv\nmultilabel: true\n");
    vb_dataset *ds = load_ok("ml/d.yaml");
    assert_int_equal(ds->task, VB_TASK_MULTILABEL);
    assert_null(ds->tax);
    assert_int_equal(ds->n, 5);
    static const char *const sorted[] = {"car", "dog", "tree"};
    check_classes(ds, sorted, 3);
    assert_non_null(ds->Y);
    check_set(ds, 0, "110");
    check_set(ds, 1, "101");
    check_set(ds, 2, "000");
    check_set(ds, 3, "010");
    check_set(ds, 4, "000");
    assert_int_equal(ds->n_empty, 2);
    /* labels[i]: the first label in class order, 0 for none */
    const int first[5] = {0, 0, 0, 1, 0};
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(ds->labels[i], first[i]);
    assert_string_equal(ds->paths[4], "ml/img/e.png");
    /* class counts are images per label */
    size_t counts[3];
    vb_dataset_class_counts(ds, VB_PART_NONE, counts);
    assert_int_equal(counts[0], 2);
    assert_int_equal(counts[1], 2);
    assert_int_equal(counts[2], 1);
    vb_dataset_free(ds);

    /* another separator; the classes list sets the order */
    tu_write_text("ml/list.csv", "img/a.png,dog|car\nimg/b.png,tree\nimg/c.png,car | tree|dog\n");
    tu_write_text("ml/d.yaml", "format: csv\npath: list.csv\nmultilabel: true\nlabel_separator: '|'\n"
                               "classes: [tree, dog, car]\n");
    ds = load_ok("ml/d.yaml");
    static const char *const given[] = {"tree", "dog", "car"};
    check_classes(ds, given, 3);
    check_set(ds, 0, "011");
    check_set(ds, 1, "100");
    check_set(ds, 2, "111");
    assert_int_equal(ds->n_empty, 0);
    assert_int_equal(ds->labels[0], 1);
    assert_int_equal(ds->labels[2], 0);
    vb_dataset_free(ds);

    /* a separator of several characters; ';' is then part of a label */
    tu_write_text("ml/list.csv", "img/a.png,dog::car;red\nimg/b.png,dog\n");
    tu_write_text("ml/d.yaml", "format: csv\npath: list.csv\nmultilabel: true\nlabel_separator: '::'\n");
    ds = load_ok("ml/d.yaml");
    static const char *const multi[] = {"car;red", "dog"};
    check_classes(ds, multi, 2);
    check_set(ds, 0, "11");
    vb_dataset_free(ds);

    /* a skipped file: the label sets stay with their images */
    tu_write_text("ml/img/bad.png", "not a png");
    tu_write_text("ml/list.csv", "img/a.png,dog\nimg/bad.png,car\nimg/b.png,car;dog\nimg/c.png,\n");
    tu_write_text("ml/d.yaml", "format: csv\npath: list.csv\nmultilabel: true\nskip_invalid: true\n");
    ds = load_ok("ml/d.yaml");
    assert_int_equal(ds->n, 3);
    assert_string_equal(ds->paths[1], "ml/img/b.png");
    check_set(ds, 0, "01");
    check_set(ds, 1, "11");
    check_set(ds, 2, "00");
    assert_int_equal(ds->labels[0], 1);
    assert_int_equal(ds->n_empty, 1);
    vb_dataset_free(ds);
}

static void test_csv_multilabel_parts(void **state)
{
    write_ml_images();
    tu_write_text("ml/train.csv", "path,label\nimg/a.png,dog;car\nimg/b.png,car\n");
    tu_write_text("ml/test.csv", "img/c.png,\nimg/d.png,dog;car\n");
    tu_write_text("ml/tt.yaml", "format: csv\ntrain: train.csv\ntest: test.csv\nmultilabel: true\n");
    vb_dataset *ds = load_ok("ml/tt.yaml");
    assert_int_equal(ds->n, 4);
    assert_non_null(ds->part);
    assert_int_equal(ds->part[1], VB_PART_TRAIN);
    assert_int_equal(ds->part[2], VB_PART_TEST);
    check_set(ds, 2, "00");
    check_set(ds, 3, "11");
    assert_int_equal(ds->n_empty, 1);
    size_t counts[2];
    vb_dataset_class_counts(ds, VB_PART_TEST, counts);
    assert_int_equal(counts[0], 1);
    assert_int_equal(counts[1], 1);
    vb_dataset_free(ds);

    /* a label only the test part has is on no training image */
    tu_write_text("ml/test.csv", "img/c.png,emu\n");
    vb_error err = {0};
    tu_expect_error(vb_dataset_load_path("ml/tt.yaml", &ds, &err), err, VB_ERR_DATA,
                    "ml/train.csv: label 'emu' is on no readable training image; add images with it or remove it");
    /* an unknown label in the test manifest names its file and line */
    tu_write_text("ml/tt.yaml", "format: csv\ntrain: train.csv\ntest: test.csv\nmultilabel: true\n"
                                "classes: [car, dog]\n");
    tu_expect_error(vb_dataset_load_path("ml/tt.yaml", &ds, &err), err, VB_ERR_DATA,
                    "ml/test.csv:1: label 'emu' is not in the classes list");
    assert_null(ds);
}

static void test_csv_multilabel_errors(void **state)
{
    write_ml_images();
    vb_dataset *ds = NULL;
    vb_error err = {0};
    tu_write_text("ml/d.yaml", "format: csv\npath: list.csv\nmultilabel: true\n");
    tu_write_text("ml/list.csv", "img/a.png,car\nimg/b.png,dog; car ;dog\n");
    tu_expect_error(vb_dataset_load_path("ml/d.yaml", &ds, &err), err, VB_ERR_DATA,
                    "ml/list.csv:2: label 'dog' given twice; list each label once");
    tu_write_text("ml/list.csv", "img/a.png,car\n,dog\n");
    tu_expect_error(vb_dataset_load_path("ml/d.yaml", &ds, &err), err, VB_ERR_FORMAT, "ml/list.csv:2: empty path");
    tu_write_text("ml/list.csv", "img/a.png\n");
    tu_expect_error(vb_dataset_load_path("ml/d.yaml", &ds, &err), err, VB_ERR_FORMAT,
                    "ml/list.csv:1: expected 'path,label', got 'img/a.png'");
    tu_write_text("ml/list.csv", "path,labels\nimg/a.png,\nimg/b.png, \n");
    tu_expect_error(vb_dataset_load_path("ml/d.yaml", &ds, &err), err, VB_ERR_DATA,
                    "ml/list.csv: no image has a label");

    /* empty_labels: error */
    tu_write_text("ml/list.csv", "path,labels\nimg/a.png,car\nimg/b.png,\"\"\n");
    tu_write_text("ml/d.yaml", "format: csv\npath: list.csv\nmultilabel: true\nempty_labels: error\n");
    tu_expect_error(vb_dataset_load_path("ml/d.yaml", &ds, &err), err, VB_ERR_DATA,
                    "ml/list.csv:3: no labels for img/b.png (empty_labels: error); give the image its labels, or "
                    "set empty_labels: allow for images without labels");
    tu_write_text("ml/d.yaml", "format: csv\npath: list.csv\nmultilabel: true\nempty_labels: never\n");
    tu_expect_error(vb_dataset_load_path("ml/d.yaml", &ds, &err), err, VB_ERR_SPEC,
                    "ml/d.yaml:4:15: csv.empty_labels: unknown value 'never' (choices: allow, error)");

    /* an unknown label when the classes are given */
    tu_write_text("ml/list.csv", "img/a.png,car\nimg/b.png,dog;bird\n");
    tu_write_text("ml/d.yaml", "format: csv\npath: list.csv\nmultilabel: true\nclasses: [car, dog]\n");
    tu_expect_error(vb_dataset_load_path("ml/d.yaml", &ds, &err), err, VB_ERR_DATA,
                    "ml/list.csv:2: label 'bird' is not in the classes list");
    /* a given class no image carries */
    tu_write_text("ml/d.yaml", "format: csv\npath: list.csv\nmultilabel: true\nclasses: [car, dog, bird, emu]\n");
    tu_expect_error(vb_dataset_load_path("ml/d.yaml", &ds, &err), err, VB_ERR_DATA,
                    "ml/list.csv: label 'emu' is on no readable training image; add images with it or remove it");

    /* the multilabel options without multilabel, and an empty separator */
    tu_write_text("ml/d.yaml", "format: csv\npath: list.csv\nlabel_separator: '|'\n");
    tu_expect_error(vb_dataset_load_path("ml/d.yaml", &ds, &err), err, VB_ERR_PARAM,
                    "ml/d.yaml:3:19: csv.label_separator: applies to multilabel data; add multilabel: true");
    tu_write_text("ml/d.yaml", "format: csv\npath: list.csv\nempty_labels: error\n");
    tu_expect_error(vb_dataset_load_path("ml/d.yaml", &ds, &err), err, VB_ERR_PARAM,
                    "ml/d.yaml:3:15: csv.empty_labels: applies to multilabel data; add multilabel: true");
    tu_write_text("ml/d.yaml", "format: csv\npath: list.csv\nmultilabel: true\nlabel_separator: ''\n");
    tu_expect_error(vb_dataset_load_path("ml/d.yaml", &ds, &err), err, VB_ERR_PARAM,
                    "ml/d.yaml:4:19: csv.label_separator: must not be empty");

    /* single-label manifests read as before: "dog;car" is one class */
    tu_write_text("ml/d.yaml", "format: csv\npath: list.csv\n");
    ds = load_ok("ml/d.yaml");
    assert_int_equal(ds->task, VB_TASK_SINGLE);
    assert_null(ds->Y);
    static const char *const single[] = {"car", "dog;bird"};
    check_classes(ds, single, 2);
    vb_dataset_free(ds);
}

/* ---- folders of images with label files --------------------------------- */

static void write_txt_folder(void)
{
    png("mlf/a.png", 1);
    tu_write_text("mlf/a.txt", "dog\ncar\n");
    png("mlf/b.png", 2);
    tu_write_text("mlf/b.txt", " tree; car\r\n");
    png("mlf/c.png", 3);
    tu_write_text("mlf/c.txt", "");
    tu_write_text("mlf/README.md", "label files beside the images\n");
    tu_write_text("mlf/notes.txt", "a label file without an image is a note\n");
}

static void test_folder_multilabel(void **state)
{
    write_txt_folder();
    tu_write_text("mlf.yaml", "format: folder\npath: mlf\nmultilabel: true\n");
    vb_dataset *ds = load_ok("mlf.yaml");
    assert_int_equal(ds->task, VB_TASK_MULTILABEL);
    assert_int_equal(ds->n, 3);
    static const char *const names[] = {"car", "dog", "tree"};
    check_classes(ds, names, 3);
    check_set(ds, 0, "110");
    check_set(ds, 1, "101");
    check_set(ds, 2, "000");
    assert_int_equal(ds->n_empty, 1);
    assert_string_equal(ds->paths[1], "mlf/b.png");
    assert_false(ds->unlabeled);
    vb_dataset_free(ds);

    vb_error err = {0};
    tu_write_text("mlf.yaml", "format: folder\npath: mlf\nmultilabel: true\nempty_labels: error\n");
    tu_expect_error(vb_dataset_load_path("mlf.yaml", &ds, &err), err, VB_ERR_DATA,
                    "mlf/c.txt: no labels for mlf/c.png (empty_labels: error); write the image's labels, or set "
                    "empty_labels: allow for images without labels");
    tu_write_text("mlf.yaml", "format: folder\npath: mlf\nmultilabel: true\n");
    tu_write_text("mlf/a.txt", "dog\ncat\n\ndog\n");
    tu_expect_error(vb_dataset_load_path("mlf.yaml", &ds, &err), err, VB_ERR_DATA,
                    "mlf/a.txt:4: label 'dog' given twice; list each label once");
    tu_write_text("mlf/a.txt", "dog\n");
    png("mlf/d.png", 4);
    tu_expect_error(vb_dataset_load_path("mlf.yaml", &ds, &err), err, VB_ERR_DATA,
                    "mlf/d.png: no label file d.txt beside it; write the image's labels there (one a line, or "
                    "separated by ';'), or leave it empty for an image without labels");
    tu_write_text("mlf/d.txt", "cat");
    mkdir_p("mlf/sub");
    tu_expect_error(vb_dataset_load_path("mlf.yaml", &ds, &err), err, VB_ERR_DATA,
                    "mlf/sub: a folder; with multilabel: true the images sit in mlf itself, each beside its label "
                    "file (x.png and x.txt)");
    tu_remove_tree("mlf/sub");
    tu_write_text("mlf.yaml", "format: folder\npath: mlf\nmultilabel: true\nlabels: false\n");
    tu_expect_error(vb_dataset_load_path("mlf.yaml", &ds, &err), err, VB_ERR_PARAM,
                    "mlf.yaml:3:13: folder.multilabel: images with labels (multilabel: true) or without (labels: "
                    "false)?");
    /* a train and a test folder */
    png("mlt/train/x.png", 5);
    tu_write_text("mlt/train/x.txt", "b;a");
    png("mlt/test/y.png", 6);
    tu_write_text("mlt/test/y.txt", "a");
    tu_write_text("mlt/d.yaml", "format: folder\ntrain: train\ntest: test\nmultilabel: true\n");
    ds = load_ok("mlt/d.yaml");
    assert_int_equal(ds->n, 2);
    assert_int_equal(ds->part[1], VB_PART_TEST);
    check_set(ds, 0, "11");
    check_set(ds, 1, "10");
    vb_dataset_free(ds);
}

/* ---- nested class folders ------------------------------------------------ */

/* nest/bag/1.png beside nest/clothes/{bottoms/jeans, tops/{shirt, tee}} and
 * nest/shoes/sneaker: leaves at depths 1, 2 and 3. */
static void write_nested(const char *root)
{
    static const char *const files[] = {"bag/1.png",         "clothes/bottoms/jeans/1.png", "clothes/tops/shirt/1.png",
                                        "clothes/tops/tee/1.png", "clothes/tops/tee/2.png", "shoes/sneaker/1.png"};
    for (int i = 0; i < 6; i++) {
        char p[256];
        snprintf(p, sizeof p, "%s/%s", root, files[i]);
        png(p, (uint64_t)i + 10);
    }
    char p[256];
    snprintf(p, sizeof p, "%s/clothes/README", root);
    tu_write_text(p, "groups may hold notes\n");
}

static const char *const nested_classes[] = {"bag", "jeans", "shirt", "tee", "sneaker"};
static const char *const nested_groups[] = {"clothes", "bottoms", "tops", "shoes"};
/* bag jeans shirt tee sneaker | clothes bottoms tops shoes */
static const int nested_parent[9] = {-1, 6, 7, 7, 8, -1, 5, 5, -1};
static const int nested_depth[9] = {1, 3, 3, 3, 2, 1, 2, 2, 1};

static void test_folder_nested(void **state)
{
    write_nested("nest");
    vb_dataset *ds = load_ok("nest");
    check_classes(ds, nested_classes, 5);
    check_tax(ds, nested_groups, 4, nested_parent, nested_depth, 3);
    const int labels[6] = {0, 1, 2, 3, 3, 4};
    assert_int_equal(ds->n, 6);
    for (size_t i = 0; i < 6; i++)
        assert_int_equal(ds->labels[i], labels[i]);
    assert_string_equal(ds->paths[3], "nest/clothes/tops/tee/1.png");
    assert_null(ds->Y);
    uint64_t h = vb_dataset_hash(ds);
    vb_dataset_free(ds);

    /* the same images flat: single-label, another hash */
    static const char *const flat[] = {"bag/1.png", "jeans/1.png", "shirt/1.png", "tee/1.png", "tee/2.png",
                                       "sneaker/1.png"};
    for (int i = 0; i < 6; i++) {
        char p[64];
        snprintf(p, sizeof p, "flat/%s", flat[i]);
        png(p, (uint64_t)i + 10);
    }
    ds = load_ok("flat");
    assert_int_equal(ds->task, VB_TASK_SINGLE);
    assert_null(ds->tax);
    assert_true(vb_dataset_hash(ds) != h);
    vb_dataset_free(ds);

    vb_error err = {0};
    png("nest/shoes/extra.png", 20);
    tu_expect_error(vb_dataset_load_path("nest", &ds, &err), err, VB_ERR_DATA,
                    "nest/shoes/sneaker: a folder beside the images of nest/shoes (extra.png); a folder holds the "
                    "images of one class, or folders of classes (a hierarchy), not both");
    tu_remove_tree("nest/shoes/extra.png");
    png("nest/shoes/shirt/1.png", 21);
    tu_expect_error(vb_dataset_load_path("nest", &ds, &err), err, VB_ERR_DATA,
                    "nest/clothes/tops/shirt and nest/shoes/shirt: two class folders named 'shirt'; a class is "
                    "named by its folder, so the names must differ");
    tu_remove_tree("nest/shoes/shirt");
    png("nest/shoes/bag/low/1.png", 22);
    tu_expect_error(vb_dataset_load_path("nest", &ds, &err), err, VB_ERR_DATA,
                    "nest/bag and nest/shoes/bag: 'bag' names both a class and a group of classes; rename one");
    tu_remove_tree("nest/shoes/bag");
    png("nest/shoes/tops/x/1.png", 23);
    tu_expect_error(vb_dataset_load_path("nest", &ds, &err), err, VB_ERR_DATA,
                    "nest/clothes/tops and nest/shoes/tops: two groups of classes named 'tops'; the names in a "
                    "hierarchy must differ");
    tu_remove_tree("nest/shoes/tops");
    mkdir_p("nest/shoes/empty");
    tu_expect_error(vb_dataset_load_path("nest", &ds, &err), err, VB_ERR_DATA,
                    "nest/shoes/empty: class folder holds no images; add images or remove the folder");
    tu_remove_tree("nest/shoes/empty");
    /* deeper than a taxonomy may be */
    char deep[512] = "nest/d1";
    for (int d = 2; d <= 17; d++)
        snprintf(deep + strlen(deep), sizeof deep - strlen(deep), "/d%d", d);
    char leaf[600];
    snprintf(leaf, sizeof leaf, "%s/1.png", deep);
    png(leaf, 24);
    tu_expect_error(vb_dataset_load_path("nest", &ds, &err), err, VB_ERR_DATA,
                    "nest/d1/d2/d3/d4/d5/d6/d7/d8/d9/d10/d11/d12/d13/d14/d15/d16/d17: class folders nested deeper "
                    "than 16 levels");
    tu_remove_tree("nest/d1");
    assert_null(ds);
    ds = load_ok("nest");
    vb_dataset_free(ds);
}

static void test_folder_nested_parts(void **state)
{
    write_nested("nt/train");
    png("nt/test/clothes/tops/tee/9.png", 30);
    png("nt/test/shoes/sneaker/9.png", 31);
    tu_write_text("nt/d.yaml", "format: folder\ntrain: train\ntest: test\n");
    vb_dataset *ds = load_ok("nt/d.yaml");
    check_tax(ds, nested_groups, 4, nested_parent, nested_depth, 3);
    assert_int_equal(ds->n, 8);
    assert_int_equal(ds->labels[6], 3);
    assert_int_equal(ds->part[6], VB_PART_TEST);
    assert_int_equal(ds->labels[7], 4);
    vb_dataset_free(ds);
    /* a test class elsewhere in the tree */
    png("nt/test/tops/shirt/9.png", 32);
    vb_error err = {0};
    tu_expect_error(vb_dataset_load_path("nt/d.yaml", &ds, &err), err, VB_ERR_DATA,
                    "nt/test/tops/shirt: class 'shirt' is at nt/train/clothes/tops/shirt in the training folder; give "
                    "the test folder the same hierarchy");
    tu_remove_tree("nt/test/tops");
    png("nt/test/shoes/boot/9.png", 33);
    tu_expect_error(vb_dataset_load_path("nt/d.yaml", &ds, &err), err, VB_ERR_DATA,
                    "nt/test/shoes/boot: class 'boot' is not in the training folder");
    assert_null(ds);
}

/* ---- a descriptor's hierarchy ------------------------------------------- */

static const char *const fashion[10] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                        "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

/* fm/list.csv: one image per Fashion-MNIST class. */
static void write_fashion_csv(void)
{
    vb_buf b;
    vb_buf_init(&b);
    for (int k = 0; k < 10; k++) {
        char p[64];
        snprintf(p, sizeof p, "fm/img/%d.png", k);
        png(p, (uint64_t)k + 40);
        vb_buf_printf(&b, "img/%d.png,", k);
        vb_buf_csv_field(&b, fashion[k]);
        vb_buf_puts(&b, "\n");
    }
    assert_false(b.failed);
    tu_write_text("fm/list.csv", b.data);
    vb_buf_free(&b);
}

#define FASHION_CLASSES "[T-shirt/top, Trouser, Pullover, Dress, Coat, Sandal, Shirt, Sneaker, Bag, Ankle boot]"
#define FASHION_HEAD "format: csv\npath: list.csv\nclasses: " FASHION_CLASSES "\n"
/* the same inside a flow mapping */
#define FASHION_INLINE "format: csv, path: list.csv, classes: " FASHION_CLASSES ", "

static void test_hierarchy_fashion(void **state)
{
    write_fashion_csv();
    tu_write_text("fm/d.yaml", FASHION_HEAD "hierarchy:\n"
                                            "  tops: [T-shirt/top, Pullover, Coat, Shirt, Dress]\n"
                                            "  bottoms: [Trouser]\n"
                                            "  footwear: [Sandal, Sneaker, Ankle boot]\n"
                                            "  bags: [Bag]\n");
    vb_dataset *ds = load_ok("fm/d.yaml");
    check_classes(ds, fashion, 10);
    static const char *const groups[] = {"tops", "bottoms", "footwear", "bags"};
    /* T-shirt Trouser Pullover Dress Coat Sandal Shirt Sneaker Bag Ankle | tops bottoms footwear bags */
    static const int parent[14] = {10, 11, 10, 10, 10, 12, 10, 12, 13, 12, -1, -1, -1, -1};
    static const int depth[14] = {2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 1, 1, 1, 1};
    check_tax(ds, groups, 4, parent, depth, 2);
    for (int k = 0; k < 10; k++)
        assert_int_equal(ds->labels[k], k); /* the labels stay the classes */
    uint64_t h = vb_dataset_hash(ds);
    vb_dataset_free(ds);

    /* without the hierarchy: single-label, another hash */
    tu_write_text("fm/flat.yaml", FASHION_HEAD);
    ds = load_ok("fm/flat.yaml");
    assert_int_equal(ds->task, VB_TASK_SINGLE);
    assert_true(vb_dataset_hash(ds) != h);
    vb_dataset_free(ds);

    /* three levels of nested mappings, inline in a spec */
    vb_error err = {0};
    assert_int_equal(load_inline("{" FASHION_INLINE "hierarchy: {clothing: {tops: [T-shirt/top, Pullover, Coat, Shirt, "
                                 "Dress], bottoms: [Trouser]}, footwear: {shoes: [Sneaker, Ankle boot], open: "
                                 "[Sandal]}, bags: [Bag]}}",
                                 "fm", &ds, &err),
                     VB_OK);
    static const char *const groups3[] = {"clothing", "tops", "bottoms", "footwear", "shoes", "open", "bags"};
    static const int parent3[17] = {11, 12, 11, 11, 11, 15, 11, 14, 16, 14, -1, 10, 10, -1, 13, 13, -1};
    static const int depth3[17] = {3, 3, 3, 3, 3, 3, 3, 3, 2, 3, 1, 2, 2, 1, 2, 2, 1};
    check_tax(ds, groups3, 7, parent3, depth3, 3);
    assert_string_equal(ds->source, "spec.yaml");
    vb_dataset_free(ds);

    /* a group of classes and groups, and a class at the top (lists with groups) */
    assert_int_equal(load_inline("{" FASHION_INLINE "hierarchy: [Bag, {clothes: [Trouser, {tops: [T-shirt/top, "
                                 "Pullover, Coat, Shirt, Dress]}], footwear: [Sandal, {shoes: [Sneaker, Ankle "
                                 "boot]}]}]}",
                                 "fm", &ds, &err),
                     VB_OK);
    static const char *const groups4[] = {"clothes", "tops", "footwear", "shoes"};
    static const int parent4[14] = {11, 10, 11, 11, 11, 12, 11, 13, -1, 13, -1, 10, -1, 12};
    static const int depth4[14] = {3, 2, 3, 3, 3, 2, 3, 3, 1, 3, 1, 2, 1, 2};
    check_tax(ds, groups4, 4, parent4, depth4, 3);
    vb_dataset_free(ds);
}

/* h/list.csv: classes cat, dog, Sneaker. */
static void write_small_csv(void)
{
    png("h/img/a.png", 50);
    png("h/img/b.png", 51);
    png("h/img/c.png", 52);
    tu_write_text("h/list.csv", "img/a.png,cat\nimg/b.png,dog\nimg/c.png,Sneaker\n");
}

/* Writes h/d.yaml with this hierarchy text and expects the load to fail so. */
static void hier_error(const char *hierarchy, const char *want)
{
    char *text = vb_asprintf("format: csv\npath: list.csv\nhierarchy:%s", hierarchy);
    assert_non_null(text);
    tu_write_text("h/d.yaml", text);
    free(text);
    vb_dataset *ds = NULL;
    vb_error err = {0};
    tu_expect_error(vb_dataset_load_path("h/d.yaml", &ds, &err), err, VB_ERR_SPEC, want);
    assert_null(ds);
}

static void test_hierarchy_errors(void **state)
{
    write_small_csv();
    /* the classes are cat, Sneaker and dog (line 4 is the first under hierarchy:) */
    hier_error("\n  pets: [cat, dog]\n  shoes: [Sneakers]\n",
               "h/d.yaml:5:11: 'Sneakers' in the hierarchy is not a class of the dataset; did you mean 'Sneaker'?");
    hier_error("\n  pets: [cat, dog, zebra]\n  shoes: [Sneaker]\n",
               "h/d.yaml:4:20: 'zebra' in the hierarchy is not a class of the dataset (a group is written as a key: "
               "zebra: [class, ...])");
    hier_error("\n  pets: [cat, dog]\n  shoes: [Sneaker, cat]\n",
               "h/d.yaml:5:20: class 'cat' is listed twice in the hierarchy (first at h/d.yaml:4:10)");
    hier_error("\n  pets: [cat, dog]\n",
               "h/d.yaml:4:3: class 'Sneaker' of the dataset is not in the hierarchy");
    hier_error("\n  pets: []\n  shoes: [Sneaker, cat, dog]\n",
               "h/d.yaml:4:9: 'pets' in the hierarchy has no classes; list them (pets: [class, ...]) or remove it");
    hier_error("\n  pets:\n  shoes: [Sneaker, cat, dog]\n",
               "h/d.yaml:4:3: 'pets' in the hierarchy has no classes; list them (pets: [class, ...]) or remove it");
    hier_error("\n  pets: {}\n  shoes: [Sneaker, cat, dog]\n",
               "h/d.yaml:4:9: 'pets' in the hierarchy has no classes; list them (pets: [class, ...]) or remove it");
    hier_error("\n  pets: [cat, dog]\n  shoes: Sneaker\n",
               "h/d.yaml:5:10: 'shoes' in the hierarchy: expected a list of classes ([Sneaker]) or a mapping of "
               "groups, not a single name");
    /* cycles: a group inside itself, a group named like a class */
    hier_error("\n  pets:\n    pets: [cat, dog]\n  shoes: [Sneaker]\n",
               "h/d.yaml:5:5: group 'pets' is inside a group of the same name (h/d.yaml:4:3): a cycle");
    hier_error("\n  animals:\n    pets: {animals: [cat, dog]}\n  shoes: [Sneaker]\n",
               "h/d.yaml:5:12: group 'animals' is inside a group of the same name (h/d.yaml:4:3): a cycle");
    hier_error("\n  cat: [dog]\n  shoes: [Sneaker]\n",
               "h/d.yaml:4:3: group 'cat' has the name of a class of the dataset; a class cannot hold classes (give "
               "the group another name)");
    hier_error("\n  a: {misc: [cat]}\n  b: {misc: [dog, Sneaker]}\n",
               "h/d.yaml:5:7: group 'misc' appears twice in the hierarchy (first at h/d.yaml:4:7)");
    hier_error("\n  pets: [cat, [dog]]\n  shoes: [Sneaker]\n",
               "h/d.yaml:4:15: expected a class name or a group (group: [class, ...]) in the hierarchy");
    hier_error(" pets\n",
               "h/d.yaml:3:12: hierarchy: expected a mapping of groups to their classes ({group: [class, ...], ...})");
    hier_error(" {}\n",
               "h/d.yaml:3:12: hierarchy: expected a mapping of groups to their classes ({group: [class, ...], ...})");
    hier_error(" [cat, dog, Sneaker]\n", "h/d.yaml:3:12: the hierarchy has no groups ({group: [class, ...], ...})");
    /* 16 levels of groups above the classes: one too many */
    vb_buf b;
    vb_buf_init(&b);
    vb_buf_puts(&b, " ");
    for (int d = 1; d <= 16; d++)
        vb_buf_printf(&b, "{g%d: ", d);
    vb_buf_puts(&b, "[cat, dog, Sneaker]");
    for (int d = 1; d <= 16; d++)
        vb_buf_puts(&b, "}");
    vb_buf_puts(&b, "\n");
    assert_false(b.failed);
    hier_error(b.data, "h/d.yaml:3:94: the hierarchy is deeper than 16 levels at group 'g16'");
    vb_buf_free(&b);

    /* inline in a spec: the position is the spec's */
    vb_dataset *ds = NULL;
    vb_error err = {0};
    tu_expect_error(load_inline("{format: csv, path: list.csv, hierarchy: {pets: [cat, dgo], shoes: [Sneaker]}}", "h",
                                &ds, &err),
                    err, VB_ERR_SPEC,
                    "spec.yaml:1:55: 'dgo' in the hierarchy is not a class of the dataset; did you mean 'dog'?");
    /* 15 levels are fine */
    assert_int_equal(load_inline("{format: csv, path: list.csv, hierarchy: {a1: {a2: {a3: {a4: {a5: {a6: {a7: {a8: "
                                 "{a9: {a10: {a11: {a12: {a13: {a14: {a15: [cat, dog, Sneaker]}}}}}}}}}}}}}}}}",
                                 "h", &ds, &err),
                     VB_OK);
    assert_int_equal(ds->tax->max_depth, 16);
    vb_dataset_free(ds);

    /* a hierarchy over nested folders, over multilabel data, over data without classes */
    write_nested("h/nest");
    tu_expect_error(load_inline("{format: folder, path: nest, hierarchy: {a: [bag]}}", "h", &ds, &err), err,
                    VB_ERR_SPEC,
                    "spec.yaml:1:41: hierarchy: the class folders are nested and give the hierarchy already; remove "
                    "hierarchy or flatten the folders");
    tu_write_text("h/ml.csv", "img/a.png,cat;dog\nimg/b.png,dog\n");
    tu_expect_error(load_inline("{format: csv, path: ml.csv, multilabel: true, hierarchy: {a: [cat, dog]}}", "h", &ds,
                                &err),
                    err, VB_ERR_SPEC, "spec.yaml:1:58: hierarchy: takes single-label classes; this dataset is multilabel");
    tu_expect_error(load_inline("{format: folder, path: img, labels: false, hierarchy: {a: [x]}}", "h", &ds, &err),
                    err, VB_ERR_SPEC, "spec.yaml:1:55: hierarchy: the dataset has no classes (labels: false)");
    assert_null(ds);
}

/* ---- synthetic data ------------------------------------------------------ */

static void test_synth_render_set(void **state)
{
    vb_synth_opts o = vb_synth_defaults;
    o.classes = 10;
    o.size = 48;
    vb_error err = {0};
    vb_image img = {0};
    uint8_t labels[10];
    size_t empty = 0, per_count[4] = {0};
    vb_rng *rng = vb_rng_new(3);
    for (int i = 0; i < 2000; i++) {
        assert_int_equal(vb_synth_render_set(&o, -1, rng, &img, labels, &err), VB_OK);
        int n = 0;
        for (int k = 0; k < 10; k++)
            n += labels[k];
        assert_true(n <= 3);
        per_count[n]++;
        empty += n == 0;
        for (size_t j = 0; j < 48 * 48; j++)
            assert_true(img.data[j] >= 0.0f && img.data[j] <= 1.0f);
    }
    /* none in about 5%, else one, two or three shapes alike */
    assert_in_range(empty, 50, 160);
    for (int n = 1; n <= 3; n++)
        assert_in_range(per_count[n], 500, 800);
    /* a given shape is always there, never alone in an empty image */
    for (int i = 0; i < 200; i++) {
        assert_int_equal(vb_synth_render_set(&o, i % 10, rng, &img, labels, &err), VB_OK);
        assert_int_equal(labels[i % 10], 1);
    }
    /* deterministic in the RNG */
    vb_image a = {0};
    vb_rng *r1 = vb_rng_new(11), *r2 = vb_rng_new(11);
    uint8_t la[10], lb[10];
    assert_int_equal(vb_synth_render_set(&o, -1, r1, &a, la, &err), VB_OK);
    assert_int_equal(vb_synth_render_set(&o, -1, r2, &img, lb, &err), VB_OK);
    assert_memory_equal(a.data, img.data, 48 * 48 * sizeof(float));
    assert_memory_equal(la, lb, 10);
    vb_rng_free(r1);
    vb_rng_free(r2);
    vb_rng_free(rng);
    free(a.data);
    free(img.data);
}

static void test_synth_multilabel(void **state)
{
    vb_synth_opts o = tu_synth_opts(4, 3, 48, 9);
    o.multilabel = 1;
    vb_error err = {0};
    assert_int_equal(vb_synth_write(&o, "smA", &err), VB_OK);
    assert_int_equal(vb_synth_write(&o, "smB", &err), VB_OK);
    o.seed = 10;
    assert_int_equal(vb_synth_write(&o, "smC", &err), VB_OK);
    assert_true(tu_exists("smA/images/000011.png"));
    assert_false(tu_exists("smA/images/000012.png"));
    assert_true(tu_files_equal("smA/labels.csv", "smB/labels.csv"));
    assert_true(tu_files_equal("smA/images/000005.png", "smB/images/000005.png"));
    char *desc = tu_read_file("smA/dataset.yaml", NULL);
    assert_string_equal(desc, "# written by visbench dataset synth (seed 9)\nname: synth\nformat: csv\n"
                              "multilabel: true\npath: labels.csv\nclasses: [circle, cross, square, triangle]\n");
    free(desc);

    vb_dataset *a = load_ok("smA"), *b = load_ok("smB/dataset.yaml"), *c = load_ok("smC");
    assert_int_equal(a->task, VB_TASK_MULTILABEL);
    assert_int_equal(a->n, 12);
    static const char *const names[] = {"circle", "cross", "square", "triangle"};
    check_classes(a, names, 4);
    assert_int_equal(a->fixed_w, 48);
    assert_true(vb_dataset_hash(a) == vb_dataset_hash(b));
    assert_true(vb_dataset_hash(a) != vb_dataset_hash(c));
    /* images 0..3 hold circle, square, triangle, cross (shape order) */
    const int forced[4] = {0, 2, 3, 1};
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(a->Y[i * 4 + (size_t)forced[i]], 1);
    /* seed 9's label sets, pinned (circle cross square triangle) */
    static const char *const sets[12] = {"1101", "0111", "0101", "1110", "0010", "0001",
                                         "0101", "0110", "0100", "1000", "0100", "1101"};
    for (size_t i = 0; i < 12; i++)
        check_set(a, i, sets[i]);
    assert_int_equal(a->n_empty, 0);
    const int first[12] = {0, 1, 1, 0, 2, 3, 1, 1, 1, 0, 1, 0};
    for (size_t i = 0; i < 12; i++)
        assert_int_equal(a->labels[i], first[i]);
    vb_dataset_free(a);
    vb_dataset_free(b);
    vb_dataset_free(c);

    /* a test part */
    o.test_per_class = 2;
    assert_int_equal(vb_synth_write(&o, "smD", &err), VB_OK);
    assert_true(tu_exists("smD/train.csv"));
    assert_true(tu_exists("smD/test.csv"));
    assert_true(tu_exists("smD/images/000019.png"));
    assert_false(tu_exists("smD/labels.csv"));
    a = load_ok("smD");
    assert_int_equal(a->n, 20);
    assert_int_equal(a->part[11], VB_PART_TRAIN);
    assert_int_equal(a->part[12], VB_PART_TEST);
    vb_dataset_free(a);

    o.hierarchy = 1;
    tu_expect_error(vb_synth_write(&o, "smX", &err), err, VB_ERR_PARAM,
                    "synthetic data is multilabel or hierarchical, not both");
    assert_false(tu_exists("smX"));
}

static void test_synth_hierarchy(void **state)
{
    vb_synth_opts o = tu_synth_opts(10, 2, 16, 4);
    o.hierarchy = 1;
    vb_error err = {0};
    assert_int_equal(vb_synth_write(&o, "shA", &err), VB_OK);
    assert_int_equal(vb_synth_write(&o, "shB", &err), VB_OK);
    assert_true(tu_exists("shA/round/circle/circle_0001.png"));
    assert_true(tu_exists("shA/texture/checker/checker_0000.png"));
    assert_true(tu_exists("shA/angular/star/star_0000.png"));
    /* the pixels are the flat set's */
    o.hierarchy = 0;
    assert_int_equal(vb_synth_write(&o, "shF", &err), VB_OK);
    assert_true(tu_files_equal("shA/round/dots/dots_0001.png", "shF/dots/dots_0001.png"));

    vb_dataset *a = load_ok("shA"), *b = load_ok("shB/dataset.yaml"), *f = load_ok("shF");
    static const char *const names[] = {"cross",  "square", "star", "triangle", "circle",
                                        "dots",   "hexagon", "ring", "checker", "stripes"};
    check_classes(a, names, 10);
    static const char *const groups[] = {"angular", "round", "texture"};
    static const int parent[13] = {10, 10, 10, 10, 11, 11, 11, 11, 12, 12, -1, -1, -1};
    static const int depth[13] = {2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 1, 1, 1};
    check_tax(a, groups, 3, parent, depth, 2);
    assert_true(vb_dataset_hash(a) == vb_dataset_hash(b));
    assert_true(vb_dataset_hash(a) != vb_dataset_hash(f));
    assert_int_equal(f->task, VB_TASK_SINGLE);
    vb_dataset_free(a);
    vb_dataset_free(b);
    vb_dataset_free(f);

    /* fewer classes: only their families */
    o.hierarchy = 1;
    o.classes = 3;
    o.test_per_class = 1;
    assert_int_equal(vb_synth_write(&o, "shC", &err), VB_OK);
    a = load_ok("shC");
    static const char *const three[] = {"square", "triangle", "circle"};
    check_classes(a, three, 3);
    static const char *const groups3[] = {"angular", "round"};
    static const int parent3[5] = {3, 3, 4, -1, -1};
    static const int depth3[5] = {2, 2, 2, 1, 1};
    check_tax(a, groups3, 2, parent3, depth3, 2);
    assert_int_equal(a->n, 9);
    assert_non_null(a->part);
    vb_dataset_free(a);
}

/* ---- export --------------------------------------------------------------- */

static void export_roundtrip(const vb_dataset *ds, const char *dir)
{
    vb_error err = {0};
    if (vb_dataset_export(ds, dir, VB_PART_NONE, &err) != VB_OK)
        fail_msg("%s", err.msg);
    vb_dataset *back = load_ok(dir);
    assert_int_equal(back->task, ds->task);
    assert_int_equal(back->n, ds->n);
    assert_int_equal(back->n_empty, ds->n_empty);
    assert_true(vb_dataset_hash(back) == vb_dataset_hash(ds));
    vb_dataset_free(back);
}

static void test_export_keeps_tasks(void **state)
{
    vb_synth_opts o = tu_synth_opts(3, 4, 24, 1);
    o.test_per_class = 1;
    o.multilabel = 1;
    vb_error err = {0};
    assert_int_equal(vb_synth_write(&o, "exm", &err), VB_OK);
    vb_dataset *ds = load_ok("exm");
    export_roundtrip(ds, "exm-out");
    char *desc = tu_read_file("exm-out/dataset.yaml", NULL);
    assert_string_equal(desc, "# written by visbench dataset export\nname: synth\nformat: csv\ntrain: train.csv\n"
                              "test: test.csv\nclasses: [circle, square, triangle]\nmultilabel: true\n");
    free(desc);
    vb_dataset_free(ds);

    /* nested folders, and a descriptor's hierarchy with a class at the top */
    write_nested("exn");
    ds = load_ok("exn");
    export_roundtrip(ds, "exn-out");
    desc = tu_read_file("exn-out/dataset.yaml", NULL);
    assert_non_null(strstr(desc, "\nhierarchy: [bag, {clothes: {bottoms: [jeans], tops: [shirt, tee]}}, "
                                 "{shoes: [sneaker]}]\n"));
    free(desc);
    vb_dataset_free(ds);
    write_fashion_csv();
    assert_int_equal(load_inline("{" FASHION_INLINE "hierarchy: [Bag, {clothes: [Trouser, {tops: [T-shirt/top, "
                                 "Pullover, Coat, Shirt, Dress]}], footwear: [Sandal, {shoes: [Sneaker, Ankle "
                                 "boot]}]}]}",
                                 "fm", &ds, &err),
                     VB_OK);
    export_roundtrip(ds, "exf-out");
    vb_dataset_free(ds);

    /* a class name that holds ';': another separator */
    write_ml_images();
    tu_write_text("ml/list.csv", "img/a.png,a;b+c\nimg/b.png,c\nimg/c.png,\n");
    tu_write_text("ml/d.yaml", "format: csv\npath: list.csv\nmultilabel: true\nlabel_separator: +\n");
    ds = load_ok("ml/d.yaml");
    check_set(ds, 0, "11");
    export_roundtrip(ds, "exs-out");
    desc = tu_read_file("exs-out/dataset.yaml", NULL);
    assert_non_null(strstr(desc, "multilabel: true\nlabel_separator: \"|\"\n"));
    free(desc);
    desc = tu_read_file("exs-out/labels.csv", NULL);
    assert_string_equal(desc, "path,labels\nimages/000000.png,a;b|c\nimages/000001.png,c\nimages/000002.png,\n");
    free(desc);
    /* a name a manifest would trim */
    free(ds->classes[1]);
    ds->classes[1] = strdup(" c");
    tu_expect_error(vb_dataset_export(ds, "exs-bad", VB_PART_NONE, &err), err, VB_ERR_DATA,
                    "csv: label ' c' is empty or begins or ends with white space, which a multilabel manifest trims; "
                    "rename the class to export it");
    assert_false(tu_exists("exs-bad"));
    vb_dataset_free(ds);
}

/* ---- the container ------------------------------------------------------ */

/* n 1x1 samples, 3 labels, image i holding label k when bit k of i is set. */
static vb_dataset *ml_dataset(size_t n, int with_part)
{
    vb_error err = {0};
    vb_dataset *ds = vb_dataset_new(n, with_part, &err);
    assert_non_null(ds);
    const char *names[3] = {"x", "y", "z"};
    assert_int_equal(vb_dataset_set_classes(ds, names, 3, &err), VB_OK);
    ds->Y = calloc(n * 3, 1);
    assert_non_null(ds->Y);
    for (size_t i = 0; i < n; i++) {
        ds->px[i] = calloc(1, 1);
        assert_non_null(ds->px[i]);
        ds->px[i][0] = (uint8_t)i;
        ds->w[i] = ds->h[i] = ds->c[i] = 1;
        for (size_t k = 0; k < 3; k++)
            ds->Y[i * 3 + k] = (uint8_t)((i >> k) & 1);
        ds->n_empty += (i & 7) == 0;
        if (with_part)
            ds->part[i] = i % 2 ? VB_PART_TEST : VB_PART_TRAIN;
    }
    ds->task = VB_TASK_MULTILABEL;
    vb_dataset_finish(ds);
    return ds;
}

static void test_multilabel_container(void **state)
{
    vb_dataset *ds = ml_dataset(8, 0);
    uint64_t h0 = vb_dataset_hash(ds);
    assert_true(vb_dataset_hash(ds) == h0);
    /* a label set changes: the hash does */
    ds->Y[5 * 3 + 1] ^= 1;
    uint64_t h1 = vb_dataset_hash(ds);
    assert_true(h1 != h0);
    ds->Y[5 * 3 + 1] ^= 1;
    assert_true(vb_dataset_hash(ds) == h0);
    ds->Y[0] = 1; /* sample 0 gains a label; labels[] stay */
    assert_true(vb_dataset_hash(ds) != h0);
    ds->Y[0] = 0;
    /* the task counts */
    ds->task = VB_TASK_SINGLE;
    assert_true(vb_dataset_hash(ds) != h0);
    ds->task = VB_TASK_MULTILABEL;

    size_t counts[3];
    vb_dataset_class_counts(ds, VB_PART_NONE, counts);
    assert_int_equal(counts[0], 4);
    assert_int_equal(counts[1], 4);
    assert_int_equal(counts[2], 4);
    vb_error err = {0};
    assert_int_equal(vb_dataset_check_classes(ds, "here", &err), VB_OK);
    vb_dataset_free(ds);

    /* with parts: only the training part (even samples) counts */
    ds = ml_dataset(8, 1);
    vb_dataset_class_counts(ds, VB_PART_TRAIN, counts);
    assert_int_equal(counts[0], 0);
    assert_int_equal(counts[1], 2);
    assert_int_equal(counts[2], 2);
    vb_dataset_class_counts(ds, VB_PART_TEST, counts);
    assert_int_equal(counts[0], 4);
    tu_expect_error(vb_dataset_check_classes(ds, "parts", &err), err, VB_ERR_DATA,
                    "parts: label 'x' is on no readable training image; add images with it or remove it");
    vb_dataset_free(ds);

    /* a taxonomy counts in the hash: its structure and its names */
    write_nested("hh");
    ds = load_ok("hh");
    uint64_t t0 = vb_dataset_hash(ds);
    ds->tax->parent[4] = -1; /* sneaker leaves shoes */
    assert_true(vb_dataset_hash(ds) != t0);
    ds->tax->parent[4] = 8;
    assert_true(vb_dataset_hash(ds) == t0);
    ds->tax->names[8][0] = 'S';
    assert_true(vb_dataset_hash(ds) != t0);
    vb_dataset_free(ds);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_task_names),
        cmocka_unit_test(test_csv_multilabel),
        cmocka_unit_test(test_csv_multilabel_parts),
        cmocka_unit_test(test_csv_multilabel_errors),
        cmocka_unit_test(test_folder_multilabel),
        cmocka_unit_test(test_folder_nested),
        cmocka_unit_test(test_folder_nested_parts),
        cmocka_unit_test(test_hierarchy_fashion),
        cmocka_unit_test(test_hierarchy_errors),
        cmocka_unit_test(test_synth_render_set),
        cmocka_unit_test(test_synth_multilabel),
        cmocka_unit_test(test_synth_hierarchy),
        cmocka_unit_test(test_export_keeps_tasks),
        cmocka_unit_test(test_multilabel_container),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
