/* data: the dataset container, the idx / folder / csv / cifar10 loaders, the
 * descriptor parser and the synthetic generator. Every fixture is written
 * here, byte by byte, into the scratch directory the test runs in. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "support/testutil.h"
#include "visbench/data.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

/* ---- helpers ----------------------------------------------------------- */

#define expect_error tu_expect_error /* support/testutil.h */

static void mkdir_p(const char *path)
{
    vb_error err = {0};
    if (vb_mkdirs(path, &err) != VB_OK)
        fail_msg("%s", err.msg);
}

static void write_gz(const char *path, const void *data, size_t len)
{
    gzFile gz = gzopen(path, "wb");
    assert_non_null(gz);
    if (len)
        assert_int_equal(gzwrite(gz, data, (unsigned)len), (int)len);
    assert_int_equal(gzclose(gz), Z_OK);
}

static void write_maybe_gz(const char *path, const void *data, size_t len, int gz)
{
    if (gz)
        write_gz(path, data, len);
    else
        tu_write_file(path, data, len);
}

static size_t put_be32(uint8_t *b, uint32_t v)
{
    b[0] = (uint8_t)(v >> 24);
    b[1] = (uint8_t)(v >> 16);
    b[2] = (uint8_t)(v >> 8);
    b[3] = (uint8_t)v;
    return 4;
}

/* IDX image file: magic, n, rows, cols, then npx pixel bytes. */
static void write_idx_images(const char *path, uint32_t magic, uint32_t n, uint32_t rows, uint32_t cols,
                             const uint8_t *px, size_t npx, int gz)
{
    uint8_t *b = malloc(16 + npx);
    assert_non_null(b);
    size_t o = put_be32(b, magic);
    o += put_be32(b + o, n);
    o += put_be32(b + o, rows);
    o += put_be32(b + o, cols);
    if (npx)
        memcpy(b + o, px, npx);
    write_maybe_gz(path, b, o + npx, gz);
    free(b);
}

/* IDX label file: magic, n, then nlab bytes. */
static void write_idx_labels(const char *path, uint32_t magic, uint32_t n, const uint8_t *lab, size_t nlab, int gz)
{
    uint8_t b[64];
    assert_true(nlab <= 56);
    size_t o = put_be32(b, magic);
    o += put_be32(b + o, n);
    if (nlab)
        memcpy(b + o, lab, nlab);
    write_maybe_gz(path, b, o + nlab, gz);
}

/* Pixel j (row-major) of sample s in the IDX fixtures. */
static uint8_t idx_px(int s, int j) { return (uint8_t)(40 * s + 7 * j + 1); }

/* Tiny IDX set in dir: 3 training and 2 test images of 3x2 pixels (w 3, h 2). */
static const uint8_t idx_train_labels[3] = {0, 2, 1}, idx_test_labels[2] = {1, 0};

static void write_idx_set(const char *dir, int gz_train, int gz_test)
{
    uint8_t px[5 * 6];
    for (int s = 0; s < 5; s++)
        for (int j = 0; j < 6; j++)
            px[s * 6 + j] = idx_px(s, j);
    char path[256];
    mkdir_p(dir);
    snprintf(path, sizeof path, "%s/train-images", dir);
    write_idx_images(path, 0x803, 3, 2, 3, px, 18, gz_train);
    snprintf(path, sizeof path, "%s/train-labels", dir);
    write_idx_labels(path, 0x801, 3, idx_train_labels, 3, gz_train);
    snprintf(path, sizeof path, "%s/test-images", dir);
    write_idx_images(path, 0x803, 2, 2, 3, px + 18, 12, gz_test);
    snprintf(path, sizeof path, "%s/test-labels", dir);
    write_idx_labels(path, 0x801, 2, idx_test_labels, 2, gz_test);
}

static const char idx_desc_full[] = "name: tiny\n"
                                    "format: idx\n"
                                    "train_images: train-images\n"
                                    "train_labels: train-labels\n"
                                    "test_images: test-images\n"
                                    "test_labels: test-labels\n"
                                    "classes: [ant, bee, cat]\n";

/* Pixel value (x, y, channel k) of a float CHW image. */
static float at(const vb_image *img, int x, int y, int k)
{
    return img->data[(size_t)k * (size_t)img->w * (size_t)img->h + (size_t)y * (size_t)img->w + (size_t)x];
}

/* ---- IDX ---------------------------------------------------------------- */

/* Each sample knows its file and its place there. */
static void check_files(const vb_dataset *ds, const char *const *files, size_t n_files, const uint32_t *file_of,
                        const uint32_t *item_of)
{
    assert_int_equal(ds->n_files, n_files);
    for (size_t f = 0; f < n_files; f++)
        assert_string_equal(ds->files[f], files[f]);
    assert_non_null(ds->file_of);
    assert_non_null(ds->item_of);
    assert_memory_equal(ds->file_of, file_of, ds->n * sizeof *file_of);
    assert_memory_equal(ds->item_of, item_of, ds->n * sizeof *item_of);
}

static void check_idx_set(const vb_dataset *ds, const char *dir)
{
    char train[64], test[64];
    snprintf(train, sizeof train, "%s/train-images", dir);
    snprintf(test, sizeof test, "%s/test-images", dir);
    const char *files[2] = {train, test};
    const uint32_t file_of[5] = {0, 0, 0, 1, 1}, item_of[5] = {0, 1, 2, 0, 1};
    check_files(ds, files, 2, file_of, item_of);
    assert_int_equal(ds->n, 5);
    assert_int_equal(ds->n_classes, 3);
    assert_string_equal(ds->classes[0], "ant");
    assert_string_equal(ds->classes[1], "bee");
    assert_string_equal(ds->classes[2], "cat");
    const int labels[5] = {0, 2, 1, 1, 0};
    const uint8_t parts[5] = {VB_PART_TRAIN, VB_PART_TRAIN, VB_PART_TRAIN, VB_PART_TEST, VB_PART_TEST};
    assert_non_null(ds->part);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(ds->labels[i], labels[i]);
        assert_int_equal(ds->part[i], parts[i]);
        assert_int_equal(ds->w[i], 3);
        assert_int_equal(ds->h[i], 2);
        assert_int_equal(ds->c[i], 1);
    }
    assert_int_equal(ds->fixed_w, 3);
    assert_int_equal(ds->fixed_h, 2);
    assert_int_equal(ds->fixed_c, 1);
    assert_null(ds->paths);

    vb_image img = {0};
    vb_error err = {0};
    for (int s = 0; s < 5; s++) {
        assert_int_equal(vb_dataset_image(ds, (size_t)s, &img, &err), VB_OK);
        assert_int_equal(img.w, 3);
        assert_int_equal(img.h, 2);
        assert_int_equal(img.c, 1);
        for (int y = 0; y < 2; y++)
            for (int x = 0; x < 3; x++)
                assert_float_equal(at(&img, x, y, 0), idx_px(s, y * 3 + x) / 255.0, 1e-6);
    }
    /* hand-checked: sample 4, x 2, y 1 is byte 1*3+2 = 5: 40*4 + 35 + 1 = 196 */
    assert_float_equal(at(&img, 2, 1, 0), 196 / 255.0, 1e-6);
    expect_error(vb_dataset_image(ds, 5, &img, &err), err, VB_ERR_INTERNAL, "sample 5 out of range (5 samples)");
    free(img.data);
}

static void test_idx_plain_train_gz_test(void **state)
{
    write_idx_set("idx1", 0, 1);
    tu_write_text("idx1/d.yaml", idx_desc_full);
    vb_dataset *ds = NULL;
    vb_error err = {0};
    assert_int_equal(vb_dataset_load_path("idx1/d.yaml", &ds, &err), VB_OK);
    check_idx_set(ds, "idx1");
    assert_string_equal(ds->name, "tiny");
    assert_string_equal(ds->source, "idx1/d.yaml");
    size_t counts[3];
    vb_dataset_class_counts(ds, VB_PART_NONE, counts);
    assert_int_equal(counts[0], 2);
    assert_int_equal(counts[1], 2);
    assert_int_equal(counts[2], 1);
    vb_dataset_class_counts(ds, VB_PART_TEST, counts);
    assert_int_equal(counts[0], 1);
    assert_int_equal(counts[1], 1);
    assert_int_equal(counts[2], 0);
    vb_dataset_free(ds);
}

static void test_idx_gz_train_plain_test(void **state)
{
    write_idx_set("idx2", 1, 0);
    tu_write_text("idx2/d.yaml", idx_desc_full);
    vb_dataset *ds = NULL;
    vb_error err = {0};
    assert_int_equal(vb_dataset_load_path("idx2/d.yaml", &ds, &err), VB_OK);
    check_idx_set(ds, "idx2");
    vb_dataset_free(ds);
}

/* Without a test part there is no partition; without classes the names are
 * the label values; without name the name is the format. */
static void test_idx_train_only_default_classes(void **state)
{
    write_idx_set("idx3", 1, 1);
    tu_write_text("idx3/d.yaml", "format: idx\ntrain_images: train-images\ntrain_labels: train-labels\n");
    vb_dataset *ds = NULL;
    vb_error err = {0};
    assert_int_equal(vb_dataset_load_path("idx3/d.yaml", &ds, &err), VB_OK);
    assert_int_equal(ds->n, 3);
    assert_null(ds->part);
    const char *files[1] = {"idx3/train-images"};
    const uint32_t file_of[3] = {0, 0, 0}, item_of[3] = {0, 1, 2};
    check_files(ds, files, 1, file_of, item_of);
    assert_string_equal(ds->name, "idx");
    assert_int_equal(ds->n_classes, 3);
    assert_string_equal(ds->classes[0], "0");
    assert_string_equal(ds->classes[1], "1");
    assert_string_equal(ds->classes[2], "2");
    assert_int_equal(ds->labels[1], 2);
    vb_dataset_free(ds);
}

/* Relative paths are resolved against the descriptor's folder, absolute
 * ones are used as they are. */
static void test_idx_paths_relative_to_descriptor(void **state)
{
    write_idx_set("idx4/data", 0, 0);
    char cwd[1024];
    assert_non_null(getcwd(cwd, sizeof cwd));
    char *desc = vb_asprintf("format: idx\ntrain_images: data/train-images\ntrain_labels: %s/idx4/data/train-labels\n",
                             cwd);
    tu_write_text("idx4/d.yaml", desc);
    free(desc);
    vb_dataset *ds = NULL;
    vb_error err = {0};
    assert_int_equal(vb_dataset_load_path("idx4/d.yaml", &ds, &err), VB_OK);
    assert_int_equal(ds->n, 3);
    vb_dataset_free(ds);

    /* the message names the resolved path */
    tu_write_text("idx4/bad.yaml", "format: idx\ntrain_images: data/nope\ntrain_labels: data/train-labels\n");
    expect_error(vb_dataset_load_path("idx4/bad.yaml", &ds, &err), err, VB_ERR_IO,
                 "idx4/data/nope: cannot open: No such file or directory; check the path (relative paths start at the descriptor's folder)");
    assert_null(ds);
}

static void test_idx_wrong_magic(void **state)
{
    write_idx_set("idx5", 0, 0);
    uint8_t px[18] = {0};
    write_idx_images("idx5/train-images", 0x801, 3, 2, 3, px, 18, 0);
    tu_write_text("idx5/d.yaml", "format: idx\ntrain_images: train-images\ntrain_labels: train-labels\n");
    vb_dataset *ds = NULL;
    vb_error err = {0};
    expect_error(vb_dataset_load_path("idx5/d.yaml", &ds, &err), err, VB_ERR_FORMAT,
                 "idx5/train-images: not an IDX image file (magic 0x00000801, expected 0x00000803)");
    /* an image file given as labels */
    write_idx_set("idx5", 0, 0);
    tu_write_text("idx5/swap.yaml", "format: idx\ntrain_images: train-images\ntrain_labels: train-images\n");
    expect_error(vb_dataset_load_path("idx5/swap.yaml", &ds, &err), err, VB_ERR_FORMAT,
                 "idx5/train-images: not an IDX label file (magic 0x00000803, expected 0x00000801)");
}

static void test_idx_truncated(void **state)
{
    vb_dataset *ds = NULL;
    vb_error err = {0};
    for (int gz = 0; gz < 2; gz++) {
        write_idx_set("idx6", gz, gz);
        uint8_t px[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
        write_idx_images("idx6/train-images", 0x803, 3, 2, 3, px, 10, gz); /* promises 18 */
        tu_write_text("idx6/d.yaml", "format: idx\ntrain_images: train-images\ntrain_labels: train-labels\n");
        expect_error(vb_dataset_load_path("idx6/d.yaml", &ds, &err), err, VB_ERR_FORMAT,
                     "idx6/train-images: truncated: the header promises 18 bytes of pixels, the file holds 10; "
                     "download or reinstall it");
        /* labels short too */
        write_idx_set("idx6", gz, gz);
        write_idx_labels("idx6/train-labels", 0x801, 3, idx_train_labels, 2, gz);
        expect_error(vb_dataset_load_path("idx6/d.yaml", &ds, &err), err, VB_ERR_FORMAT,
                     "idx6/train-labels: truncated: the header promises 3 bytes of labels, the file holds 2; "
                     "download or reinstall it");
        /* a header cut short */
        tu_write_file("idx6/train-images", "\0\0\x08\x03\0\0", 6);
        expect_error(vb_dataset_load_path("idx6/d.yaml", &ds, &err), err, VB_ERR_FORMAT,
                     "idx6/train-images: truncated: too short for an IDX header; download or reinstall it");
        tu_write_file("idx6/train-images", "", 0);
        expect_error(vb_dataset_load_path("idx6/d.yaml", &ds, &err), err, VB_ERR_FORMAT,
                     "idx6/train-images: truncated: too short for an IDX header; download or reinstall it");
    }
    /* a gzip stream cut short: in the deflate data, and in the gzip trailer */
    write_idx_set("idx6", 1, 1);
    size_t len;
    char *gzdata = tu_read_file("idx6/train-images", &len);
    assert_true(len > 20);
    const size_t cuts[2] = {20, len - 4};
    for (int i = 0; i < 2; i++) {
        tu_write_file("idx6/train-images", gzdata, cuts[i]);
        expect_error(vb_dataset_load_path("idx6/d.yaml", &ds, &err), err, VB_ERR_FORMAT,
                     "idx6/train-images: truncated: the compressed data ends early; download or reinstall it");
    }
    free(gzdata);
    /* a corrupt gzip stream: a wrong CRC in the trailer, and a bad block type */
    write_idx_set("idx6", 1, 1);
    gzdata = tu_read_file("idx6/train-images", &len);
    gzdata[len - 8] ^= 0xff;
    tu_write_file("idx6/train-images", gzdata, len);
    expect_error(vb_dataset_load_path("idx6/d.yaml", &ds, &err), err, VB_ERR_FORMAT,
                 "idx6/train-images: corrupt compressed data (incorrect data check)");
    gzdata[len - 8] ^= 0xff;
    gzdata[10] = 0x07; /* first deflate block: BFINAL 1, BTYPE 3 (reserved) */
    tu_write_file("idx6/train-images", gzdata, len);
    free(gzdata);
    expect_error(vb_dataset_load_path("idx6/d.yaml", &ds, &err), err, VB_ERR_FORMAT,
                 "idx6/train-images: corrupt compressed data (invalid block type)");
    assert_null(ds);
}

/* A sparse file: any size, no disk space. */
static void write_sparse(const char *path, off_t size)
{
    int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, size), 0);
    close(fd);
}

/* Tiny files that claim huge datasets: each claim is checked against the
 * limits (data.h) and the file before memory is spent on it, and the
 * error names the file. (tests/e2e/run.sh runs such files under ulimit -v.) */
static void test_loader_claims(void **state)
{
    vb_dataset *ds = NULL;
    vb_error err = {0};
    mkdir_p("claim/cf");
    /* IDX: 24 bytes that claim 10^8 images of 28x28, and 2^32 - 1 of 1x1 */
    uint8_t px[8] = {0};
    write_idx_images("claim/huge-images", 0x803, 100000000, 28, 28, px, 8, 0);
    write_idx_labels("claim/huge-labels", 0x801, 100000000, NULL, 0, 0);
    tu_write_text("claim/huge.yaml", "format: idx\ntrain_images: huge-images\ntrain_labels: huge-labels\n");
    expect_error(vb_dataset_load_path("claim/huge.yaml", &ds, &err), err, VB_ERR_FORMAT,
                 "claim/huge-images: claims 100000000 images of 784 bytes each, more than a dataset may hold "
                 "(33554432 images, 17179869184 bytes of pixels); the file is corrupt or not what it seems");
    write_idx_images("claim/huge-images", 0x803, 0xffffffffu, 1, 1, px, 8, 0);
    write_idx_labels("claim/huge-labels", 0x801, 0xffffffffu, NULL, 0, 0);
    expect_error(vb_dataset_load_path("claim/huge.yaml", &ds, &err), err, VB_ERR_FORMAT,
                 "claim/huge-images: claims 4294967295 images of 1 bytes each, more than a dataset may hold "
                 "(33554432 images, 17179869184 bytes of pixels); the file is corrupt or not what it seems");
    /* within the limits but beyond the file: a plain file by its size, a
     * compressed one as it decompresses */
    for (int gz = 0; gz < 2; gz++) {
        write_idx_images("claim/huge-images", 0x803, 1000000, 28, 28, px, 8, gz);
        write_idx_labels("claim/huge-labels", 0x801, 1000000, NULL, 0, gz);
        expect_error(vb_dataset_load_path("claim/huge.yaml", &ds, &err), err, VB_ERR_FORMAT,
                     "claim/huge-images: truncated: the header promises 784000000 bytes of pixels, the file holds "
                     "8; download or reinstall it");
    }
    /* CIFAR-10: 6 million records (18 GB) in a sparse file */
    write_sparse("claim/cf/b.bin", (off_t)3073 * 6000000);
    tu_write_text("claim/cf.yaml", "format: cifar10\npath: cf\ntrain_files: [b.bin]\ntest_files: []\n");
    expect_error(vb_dataset_load_path("claim/cf.yaml", &ds, &err), err, VB_ERR_FORMAT,
                 "claim/cf/b.bin: claims 6000000 images of 3072 bytes each, more than a dataset may hold "
                 "(33554432 images, 17179869184 bytes of pixels); the file is corrupt or not what it seems");
    /* a CSV manifest over its limit is not read at all */
    write_sparse("claim/big.csv", (off_t)VB_DATA_MAX_MANIFEST_BYTES + 1);
    tu_write_text("claim/csv.yaml", "format: csv\npath: big.csv\n");
    expect_error(vb_dataset_load_path("claim/csv.yaml", &ds, &err), err, VB_ERR_FORMAT,
                 "claim/big.csv: 268435457 bytes, more than the 268435456 bytes a CSV manifest may have");
    assert_null(ds);
}

static void test_idx_count_mismatch_and_trailing_bytes(void **state)
{
    vb_dataset *ds = NULL;
    vb_error err = {0};
    write_idx_set("idx7", 0, 0);
    write_idx_labels("idx7/train-labels", 0x801, 2, idx_train_labels, 2, 0);
    tu_write_text("idx7/d.yaml", "format: idx\ntrain_images: train-images\ntrain_labels: train-labels\n");
    expect_error(vb_dataset_load_path("idx7/d.yaml", &ds, &err), err, VB_ERR_FORMAT,
                 "idx7/train-images holds 3 images but idx7/train-labels holds 2 labels");

    /* one byte more than the header says, in the images and in the labels */
    uint8_t px[19] = {0};
    for (int gz = 0; gz < 2; gz++) {
        write_idx_set("idx7", gz, gz);
        write_idx_images("idx7/train-images", 0x803, 3, 2, 3, px, 19, gz);
        expect_error(vb_dataset_load_path("idx7/d.yaml", &ds, &err), err, VB_ERR_FORMAT,
                     "idx7/train-images: longer than its header says; the file is corrupt");
        write_idx_set("idx7", gz, gz);
        const uint8_t lab[4] = {0, 1, 2, 0};
        write_idx_labels("idx7/train-labels", 0x801, 3, lab, 4, gz);
        expect_error(vb_dataset_load_path("idx7/d.yaml", &ds, &err), err, VB_ERR_FORMAT,
                     "idx7/train-labels: longer than its header says; the file is corrupt");
    }
    /* zero images, absurd sizes */
    write_idx_images("idx7/train-images", 0x803, 0, 2, 3, px, 0, 0);
    write_idx_labels("idx7/train-labels", 0x801, 0, NULL, 0, 0);
    expect_error(vb_dataset_load_path("idx7/d.yaml", &ds, &err), err, VB_ERR_FORMAT,
                 "idx7/train-images: holds no images");
    write_idx_images("idx7/train-images", 0x803, 3, 0, 3, px, 0, 0);
    write_idx_labels("idx7/train-labels", 0x801, 3, idx_train_labels, 3, 0);
    expect_error(vb_dataset_load_path("idx7/d.yaml", &ds, &err), err, VB_ERR_FORMAT,
                 "idx7/train-images: implausible image size 3x0");
    assert_null(ds);
}

static void test_idx_test_part_errors(void **state)
{
    vb_dataset *ds = NULL;
    vb_error err = {0};
    write_idx_set("idx8", 0, 0);
    tu_write_text("idx8/d.yaml", "format: idx\n"
                                 "train_images: train-images\n"
                                 "train_labels: train-labels\n"
                                 "test_images: test-images\n");
    expect_error(vb_dataset_load_path("idx8/d.yaml", &ds, &err), err, VB_ERR_PARAM,
                 "idx8/d.yaml:4:14: idx.test_images: give both test_images and test_labels, or neither");
    tu_write_text("idx8/d.yaml", "format: idx\n"
                                 "train_images: train-images\n"
                                 "train_labels: train-labels\n"
                                 "test_labels: test-labels\n");
    expect_error(vb_dataset_load_path("idx8/d.yaml", &ds, &err), err, VB_ERR_PARAM,
                 "idx8/d.yaml:4:14: idx.test_labels: give both test_images and test_labels, or neither");

    /* test images of another size than the training images */
    uint8_t px[2 * 16] = {0};
    write_idx_images("idx8/test-images", 0x803, 2, 4, 4, px, 32, 0);
    tu_write_text("idx8/d.yaml", idx_desc_full);
    expect_error(vb_dataset_load_path("idx8/d.yaml", &ds, &err), err, VB_ERR_FORMAT,
                 "idx8/test-images: images are 4x4 but the training images are 3x2; "
                 "the test files belong to another dataset");
    assert_null(ds);
}

static void test_idx_classes_shorter_than_labels(void **state)
{
    vb_dataset *ds = NULL;
    vb_error err = {0};
    write_idx_set("idx9", 0, 0);
    tu_write_text("idx9/d.yaml", "format: idx\n"
                                 "train_images: train-images\n"
                                 "train_labels: train-labels\n"
                                 "classes: [ant, bee]\n");
    expect_error(vb_dataset_load_path("idx9/d.yaml", &ds, &err), err, VB_ERR_PARAM,
                 "idx9/d.yaml:4:10: idx.classes: lists 2 class names but the labels go up to 2");
    tu_write_text("idx9/d.yaml", "format: idx\n"
                                 "train_images: train-images\n"
                                 "train_labels: train-labels\n"
                                 "classes: [ant, bee, ant]\n");
    expect_error(vb_dataset_load_path("idx9/d.yaml", &ds, &err), err, VB_ERR_PARAM,
                 "idx9/d.yaml:4:10: idx.classes: class name 'ant' appears twice");
    /* more names than label values is fine (a class may be absent) */
    tu_write_text("idx9/d.yaml", "format: idx\n"
                                 "train_images: train-images\n"
                                 "train_labels: train-labels\n"
                                 "classes: [ant, bee, cat, dog]\n");
    assert_int_equal(vb_dataset_load_path("idx9/d.yaml", &ds, &err), VB_OK);
    assert_int_equal(ds->n_classes, 4);
    assert_string_equal(ds->classes[3], "dog");
    vb_dataset_free(ds);
}

/* ---- descriptors -------------------------------------------------------- */

static void test_descriptor_errors(void **state)
{
    vb_dataset *ds = NULL;
    vb_error err = {0};
    write_idx_set("desc", 0, 0);
    tu_write_text("desc/a.yaml", "name: x\ntrain_images: train-images\n");
    expect_error(vb_dataset_load_path("desc/a.yaml", &ds, &err), err, VB_ERR_SPEC,
                 "desc/a.yaml:1:1: the dataset needs 'format' (one of: folder, idx, cifar10, csv)");
    tu_write_text("desc/a.yaml", "name: x\nformat: foldr\npath: .\n");
    expect_error(vb_dataset_load_path("desc/a.yaml", &ds, &err), err, VB_ERR_SPEC,
                 "desc/a.yaml:2:9: unknown dataset format 'foldr'; did you mean 'folder'?");
    tu_write_text("desc/a.yaml", "format: parquet\n");
    expect_error(vb_dataset_load_path("desc/a.yaml", &ds, &err), err, VB_ERR_SPEC,
                 "desc/a.yaml:1:9: unknown dataset format 'parquet' (formats: folder, idx, cifar10, csv)");
    tu_write_text("desc/a.yaml", "format: idx\ntrian_images: train-images\ntrain_labels: train-labels\n");
    expect_error(vb_dataset_load_path("desc/a.yaml", &ds, &err), err, VB_ERR_SPEC,
                 "desc/a.yaml:2:1: unknown key 'trian_images' in the parameters of 'idx'; "
                 "did you mean 'train_images'?");
    tu_write_text("desc/a.yaml", "format: idx\ntrain_labels: train-labels\n");
    expect_error(vb_dataset_load_path("desc/a.yaml", &ds, &err), err, VB_ERR_SPEC,
                 "desc/a.yaml:1:1: 'idx' needs the parameter 'train_images' "
                 "(IDX image file of the training part (.gz or plain); relative to the descriptor)");
    tu_write_text("desc/a.yaml", "");
    expect_error(vb_dataset_load_path("desc/a.yaml", &ds, &err), err, VB_ERR_SPEC,
                 "desc/a.yaml: the descriptor is empty");
    tu_write_text("desc/a.yaml", "[idx]\n");
    vb_status st = vb_dataset_load_path("desc/a.yaml", &ds, &err);
    assert_int_equal(st, VB_ERR_SPEC);
    assert_non_null(strstr(err.msg, "desc/a.yaml:1:1: "));
    assert_null(ds);
}

static void test_load_missing_path(void **state)
{
    vb_dataset *ds = (vb_dataset *)1;
    vb_error err = {0};
    expect_error(vb_dataset_load_path("no/such/dataset.yaml", &ds, &err), err, VB_ERR_IO,
                 "no/such/dataset.yaml: no such file or directory; give a dataset descriptor "
                 "(datasets/*.yaml) or an image folder with one sub-folder per class");
    assert_null(ds);
}

/* An inline descriptor node resolves paths against the given base. */
static void test_load_node_inline(void **state)
{
    write_idx_set("inl/sub", 0, 1);
    vb_doc *doc = NULL;
    vb_error err = {0};
    assert_int_equal(vb_doc_load_string("{format: idx, name: inline, train_images: train-images, "
                                        "train_labels: train-labels, test_images: test-images, "
                                        "test_labels: test-labels, classes: [ant, bee, cat]}",
                                        "spec.yaml", &doc, &err),
                     VB_OK);
    vb_dataset *ds = NULL;
    assert_int_equal(vb_dataset_load_node(doc->root, "inl/sub", &ds, &err), VB_OK);
    check_idx_set(ds, "inl/sub");
    assert_string_equal(ds->name, "inline");
    assert_string_equal(ds->source, "spec.yaml");
    vb_dataset_free(ds);
    expect_error(vb_dataset_load_node(doc->root, "inl", &ds, &err), err, VB_ERR_IO,
                 "inl/train-images: cannot open: No such file or directory; check the path (relative paths start at the descriptor's folder)");
    vb_doc_free(doc);
}

/* ---- folder ------------------------------------------------------------- */

/* A w x h PNG whose pixel (x, y, k) is (base + 10 x + 20 y + 50 k) / 255. */
static void write_png(const char *path, int w, int h, int c, int base)
{
    vb_error err = {0};
    vb_image *img = vb_image_new(w, h, c, &err);
    assert_non_null(img);
    for (int k = 0; k < c; k++)
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                img->data[(size_t)k * w * h + (size_t)y * w + x] = (float)((base + 10 * x + 20 * y + 50 * k) / 255.0);
    if (vb_image_save_png(img, path, &err) != VB_OK)
        fail_msg("%s", err.msg);
    vb_image_free(img);
}

static void check_png_sample(const vb_dataset *ds, size_t i, int w, int h, int c, int base)
{
    vb_image img = {0};
    vb_error err = {0};
    assert_int_equal(vb_dataset_image(ds, i, &img, &err), VB_OK);
    assert_int_equal(img.w, w);
    assert_int_equal(img.h, h);
    assert_int_equal(img.c, c);
    for (int k = 0; k < c; k++)
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                assert_float_equal(at(&img, x, y, k), (base + 10 * x + 20 * y + 50 * k) / 255.0, 1e-6);
    free(img.data);
}

/* root/zebra/{b,a}.png, root/ant/c.png, root/moose/{a,z}.png (RGB) plus a
 * README, a dataset.yaml and hidden entries that must be ignored. */
static void write_folder_set(const char *root)
{
    char p[256];
    const char *dirs[] = {"zebra", "ant", "moose"};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/%s", root, dirs[i]);
        mkdir_p(p);
    }
    snprintf(p, sizeof p, "%s/zebra/b.png", root);
    write_png(p, 3, 2, 1, 60);
    snprintf(p, sizeof p, "%s/zebra/a.png", root);
    write_png(p, 3, 2, 1, 50);
    snprintf(p, sizeof p, "%s/ant/c.png", root);
    write_png(p, 3, 2, 1, 5);
    snprintf(p, sizeof p, "%s/moose/z.png", root);
    write_png(p, 2, 2, 3, 30);
    snprintf(p, sizeof p, "%s/moose/a.png", root);
    write_png(p, 3, 2, 1, 20);
    snprintf(p, sizeof p, "%s/README", root);
    tu_write_text(p, "Three classes of tiny images.\n");
    snprintf(p, sizeof p, "%s/dataset.yaml", root);
    tu_write_text(p, "name: animals\nformat: folder\npath: .\n");
    snprintf(p, sizeof p, "%s/.DS_Store", root);
    tu_write_text(p, "junk");
    snprintf(p, sizeof p, "%s/ant/.hidden.txt", root);
    tu_write_text(p, "not an image");
    snprintf(p, sizeof p, "%s/.cache/x", root);
    mkdir_p(p);
}

static void check_folder_set(const vb_dataset *ds, const char *root)
{
    assert_int_equal(ds->n, 5);
    assert_int_equal(ds->n_classes, 3);
    assert_string_equal(ds->classes[0], "ant");
    assert_string_equal(ds->classes[1], "moose");
    assert_string_equal(ds->classes[2], "zebra");
    const char *files[5] = {"ant/c.png", "moose/a.png", "moose/z.png", "zebra/a.png", "zebra/b.png"};
    const int labels[5] = {0, 1, 1, 2, 2};
    assert_non_null(ds->paths);
    assert_null(ds->files); /* one file per sample: paths says it */
    assert_null(ds->file_of);
    for (int i = 0; i < 5; i++) {
        char want[256];
        snprintf(want, sizeof want, "%s/%s", root, files[i]);
        assert_string_equal(ds->paths[i], want);
        assert_int_equal(ds->labels[i], labels[i]);
    }
    assert_null(ds->part);
    /* sizes and channels differ */
    assert_int_equal(ds->fixed_w, 0);
    assert_int_equal(ds->fixed_h, 0);
    assert_int_equal(ds->fixed_c, 0);
    check_png_sample(ds, 0, 3, 2, 1, 5);
    check_png_sample(ds, 1, 3, 2, 1, 20);
    check_png_sample(ds, 2, 2, 2, 3, 30);
    check_png_sample(ds, 3, 3, 2, 1, 50);
    check_png_sample(ds, 4, 3, 2, 1, 60);
    /* interleaved storage: moose/z.png pixel (1, 1) is 30 + 10 + 20 + 50 k */
    assert_int_equal(ds->px[2][(1 * 2 + 1) * 3 + 0], 60);
    assert_int_equal(ds->px[2][(1 * 2 + 1) * 3 + 2], 160);
}

static void test_folder_bare_directory(void **state)
{
    write_folder_set("animals");
    vb_dataset *ds = NULL;
    vb_error err = {0};
    assert_int_equal(vb_dataset_load_path("animals", &ds, &err), VB_OK);
    check_folder_set(ds, "animals");
    assert_string_equal(ds->name, "animals");
    vb_dataset_free(ds);
    /* trailing slashes are not part of the name */
    assert_int_equal(vb_dataset_load_path("animals//", &ds, &err), VB_OK);
    assert_string_equal(ds->name, "animals");
    assert_int_equal(ds->n, 5);
    vb_dataset_free(ds);
    char cwd[1024], *abs;
    assert_non_null(getcwd(cwd, sizeof cwd));
    abs = vb_asprintf("%s/animals/", cwd);
    assert_int_equal(vb_dataset_load_path(abs, &ds, &err), VB_OK);
    assert_string_equal(ds->name, "animals");
    free(abs);
    vb_dataset_free(ds);
}

static void test_folder_descriptor(void **state)
{
    write_folder_set("animals2");
    vb_dataset *ds = NULL;
    vb_error err = {0};
    /* dataset.yaml inside the folder: path "." is the folder itself */
    assert_int_equal(vb_dataset_load_path("animals2/dataset.yaml", &ds, &err), VB_OK);
    check_folder_set(ds, "animals2");
    assert_string_equal(ds->name, "animals");
    vb_dataset_free(ds);
    /* a descriptor beside it, the primary form "folder: path" is not a thing
     * but "path:" is */
    tu_write_text("animals2.yaml", "format: folder\npath: animals2\n");
    assert_int_equal(vb_dataset_load_path("animals2.yaml", &ds, &err), VB_OK);
    check_folder_set(ds, "animals2");
    assert_string_equal(ds->name, "folder");
    vb_dataset_free(ds);
    tu_write_text("animals2.yaml", "format: folder\n");
    expect_error(vb_dataset_load_path("animals2.yaml", &ds, &err), err, VB_ERR_PARAM,
                 "folder.train: give either path (one folder) or train (and optionally test) folders");
    tu_write_text("animals2.yaml", "format: folder\npath: animals2\ntrain: animals2\n");
    expect_error(vb_dataset_load_path("animals2.yaml", &ds, &err), err, VB_ERR_PARAM,
                 "animals2.yaml:2:7: folder.path: give either path (one folder) or train (and optionally test) "
                 "folders");
    tu_write_text("animals2.yaml", "format: folder\npath: nowhere\n");
    expect_error(vb_dataset_load_path("animals2.yaml", &ds, &err), err, VB_ERR_IO,
                 "nowhere: cannot open folder: No such file or directory");
}

static void test_folder_train_test(void **state)
{
    mkdir_p("tt/train/cat");
    mkdir_p("tt/train/dog");
    mkdir_p("tt/test/dog");
    mkdir_p("tt/test/cat");
    write_png("tt/train/dog/1.png", 2, 2, 1, 1);
    write_png("tt/train/cat/1.png", 2, 2, 1, 2);
    write_png("tt/train/cat/2.png", 2, 2, 1, 3);
    write_png("tt/test/cat/9.png", 2, 2, 1, 4);
    write_png("tt/test/dog/8.png", 2, 2, 1, 5);
    tu_write_text("tt/d.yaml", "name: pets\nformat: folder\ntrain: train\ntest: test\n");
    vb_dataset *ds = NULL;
    vb_error err = {0};
    assert_int_equal(vb_dataset_load_path("tt/d.yaml", &ds, &err), VB_OK);
    assert_int_equal(ds->n, 5);
    assert_int_equal(ds->n_classes, 2);
    assert_string_equal(ds->classes[0], "cat");
    assert_string_equal(ds->classes[1], "dog");
    const int labels[5] = {0, 0, 1, 0, 1};
    const uint8_t parts[5] = {VB_PART_TRAIN, VB_PART_TRAIN, VB_PART_TRAIN, VB_PART_TEST, VB_PART_TEST};
    const int bases[5] = {2, 3, 1, 4, 5};
    assert_non_null(ds->part);
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(ds->labels[i], labels[i]);
        assert_int_equal(ds->part[i], parts[i]);
        check_png_sample(ds, i, 2, 2, 1, bases[i]);
    }
    assert_string_equal(ds->paths[3], "tt/test/cat/9.png");
    assert_int_equal(ds->fixed_w, 2);
    assert_int_equal(ds->fixed_c, 1);
    vb_dataset_free(ds);

    /* a test class the training folder does not have */
    mkdir_p("tt/test/emu");
    write_png("tt/test/emu/1.png", 2, 2, 1, 6);
    expect_error(vb_dataset_load_path("tt/d.yaml", &ds, &err), err, VB_ERR_DATA,
                 "tt/test/emu: class 'emu' is not in the training folder");
    tu_remove_tree("tt/test/emu");

    /* test without train */
    tu_write_text("tt/d.yaml", "format: folder\ntest: test\n");
    expect_error(vb_dataset_load_path("tt/d.yaml", &ds, &err), err, VB_ERR_PARAM,
                 "folder.train: give either path (one folder) or train (and optionally test) folders");
    assert_null(ds);
}

static int n_warnings;
static char last_warning[1024];
static void log_hook(void *user, vb_log_level level, const char *msg)
{
    if (level == VB_LOG_WARN) {
        n_warnings++;
        snprintf(last_warning, sizeof last_warning, "%s", msg);
    }
}

static void test_folder_invalid_file(void **state)
{
    write_folder_set("inv");
    tu_write_text("inv/moose/notes.txt", "moose notes\n");
    vb_dataset *ds = NULL;
    vb_error err = {0};
    expect_error(vb_dataset_load_path("inv", &ds, &err), err, VB_ERR_FORMAT,
                 "inv/moose/notes.txt: not a readable image (unknown image type); remove or replace the file "
                 "(set skip_invalid: true in the dataset to skip such files)");
    assert_null(ds);

    tu_write_text("inv.yaml", "format: folder\npath: inv\nskip_invalid: true\n");
    n_warnings = 0;
    vb_log_set_hook(log_hook, NULL);
    vb_status st = vb_dataset_load_path("inv.yaml", &ds, &err);
    vb_log_set_hook(NULL, NULL);
    assert_int_equal(st, VB_OK);
    check_folder_set(ds, "inv");
    vb_dataset_free(ds);
    assert_int_equal(n_warnings, 1);
    assert_string_equal(last_warning, "skipping inv/moose/notes.txt: not a readable image (unknown image type); "
                                      "remove or replace the file");

    /* every file of a class skipped: the class is empty */
    tu_write_text("inv/ant/c.png", "not a png");
    expect_error(vb_dataset_load_path("inv.yaml", &ds, &err), err, VB_ERR_DATA,
                 "inv: class 'ant' has no readable training images; add images or remove it");
    assert_null(ds);
}

static void test_folder_truncated_png(void **state)
{
    write_folder_set("trunc");
    size_t len;
    char *png = tu_read_file("trunc/zebra/b.png", &len);
    assert_true(len > 40);
    tu_write_file("trunc/zebra/b.png", png, len - 20);
    free(png);
    vb_dataset *ds = NULL;
    vb_error err = {0};
    expect_error(vb_dataset_load_path("trunc", &ds, &err), err, VB_ERR_FORMAT,
                 "trunc/zebra/b.png: truncated PNG: an IDAT chunk claims 16 bytes, the file has 12 left; remove or "
                 "replace the file "
                 "(set skip_invalid: true in the dataset to skip such files)");
    assert_null(ds);
}

static void test_folder_layout_errors(void **state)
{
    vb_dataset *ds = NULL;
    vb_error err = {0};
    /* an empty class folder (hidden files do not count) */
    write_folder_set("lay");
    mkdir_p("lay/empty");
    tu_write_text("lay/empty/.keep", "");
    expect_error(vb_dataset_load_path("lay", &ds, &err), err, VB_ERR_DATA,
                 "lay/empty: class folder holds no images; add images or remove the folder");
    tu_remove_tree("lay/empty");

    /* an image directly in the root */
    write_png("lay/stray.png", 2, 2, 1, 0);
    expect_error(vb_dataset_load_path("lay", &ds, &err), err, VB_ERR_DATA,
                 "lay/stray.png: image outside a class folder; put images in lay/<class>/ "
                 "(one sub-folder per class)");
    tu_remove_tree("lay/stray.png");

    /* a folder inside a class folder */
    mkdir_p("lay/ant/more");
    expect_error(vb_dataset_load_path("lay", &ds, &err), err, VB_ERR_DATA,
                 "lay/ant/more: a folder beside the images of lay/ant (c.png); a folder holds the images of one "
                 "class, or folders of classes (a hierarchy), not both");
    tu_remove_tree("lay/ant/more");

    /* images but no class folders */
    mkdir_p("flat");
    tu_write_text("flat/README", "nothing here");
    expect_error(vb_dataset_load_path("flat", &ds, &err), err, VB_ERR_DATA,
                 "flat: no class folders; put images in flat/<class>/");
    assert_null(ds);

    /* and the fixed layout still loads */
    assert_int_equal(vb_dataset_load_path("lay", &ds, &err), VB_OK);
    assert_int_equal(ds->n, 5);
    vb_dataset_free(ds);
}

/* ---- CSV ---------------------------------------------------------------- */

static void write_csv_images(void)
{
    mkdir_p("man/img");
    write_png("man/img/a.png", 2, 1, 1, 10);
    write_png("man/img/b, c.png", 2, 1, 1, 20);
    write_png("man/img/d.png", 2, 1, 1, 30);
    write_png("man/img/q\"e.png", 2, 1, 1, 40);
}

static void test_csv_manifest(void **state)
{
    write_csv_images();
    /* header, quoted field with a comma, doubled quote, CRLF, comment, blank line */
    tu_write_text("man/list.csv", "path,label\r\n"
                                  "img/a.png,owl\r\n"
                                  "\"img/b, c.png\",cat\n"
                                  "# a comment\n"
                                  "\n"
                                  "img/d.png,\"owl\"\n"
                                  "\"img/q\"\"e.png\",cat\n");
    tu_write_text("man/d.yaml", "format: csv\npath: list.csv\n");
    vb_dataset *ds = NULL;
    vb_error err = {0};
    assert_int_equal(vb_dataset_load_path("man/d.yaml", &ds, &err), VB_OK);
    assert_int_equal(ds->n, 4);
    assert_int_equal(ds->n_classes, 2);
    assert_string_equal(ds->classes[0], "cat"); /* sorted */
    assert_string_equal(ds->classes[1], "owl");
    const int labels[4] = {1, 0, 1, 0};
    const char *paths[4] = {"man/img/a.png", "man/img/b, c.png", "man/img/d.png", "man/img/q\"e.png"};
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(ds->labels[i], labels[i]);
        assert_string_equal(ds->paths[i], paths[i]);
        check_png_sample(ds, i, 2, 1, 1, 10 * (int)(i + 1));
    }
    assert_null(ds->part);
    vb_dataset_free(ds);

    /* no header; classes given (their order is the label order) */
    tu_write_text("man/list.csv", "img/a.png,owl\nimg/d.png,cat\n");
    tu_write_text("man/d.yaml", "format: csv\npath: list.csv\nclasses: [owl, cat]\n");
    assert_int_equal(vb_dataset_load_path("man/d.yaml", &ds, &err), VB_OK);
    assert_int_equal(ds->n, 2);
    assert_string_equal(ds->classes[0], "owl");
    assert_string_equal(ds->classes[1], "cat");
    assert_int_equal(ds->labels[0], 0);
    assert_int_equal(ds->labels[1], 1);
    vb_dataset_free(ds);
}

static void test_csv_train_test(void **state)
{
    write_csv_images();
    tu_write_text("man/train.csv", "path,label\nimg/a.png,owl\nimg/d.png,cat\n");
    tu_write_text("man/test.csv", "path,label\nimg/q\"e.png,owl\n");
    tu_write_text("man/tt.yaml", "format: csv\ntrain: train.csv\ntest: test.csv\n");
    vb_dataset *ds = NULL;
    vb_error err = {0};
    assert_int_equal(vb_dataset_load_path("man/tt.yaml", &ds, &err), VB_OK);
    assert_int_equal(ds->n, 3);
    assert_non_null(ds->part);
    assert_int_equal(ds->part[0], VB_PART_TRAIN);
    assert_int_equal(ds->part[2], VB_PART_TEST);
    assert_int_equal(ds->labels[2], 1);
    vb_dataset_free(ds);

    /* an unknown label in the test manifest names the test manifest */
    tu_write_text("man/test.csv", "img/q\"e.png,emu\n");
    tu_write_text("man/tt.yaml", "format: csv\ntrain: train.csv\ntest: test.csv\nclasses: [owl, cat]\n");
    expect_error(vb_dataset_load_path("man/tt.yaml", &ds, &err), err, VB_ERR_DATA,
                 "man/test.csv: label 'emu' of man/img/q\"e.png is not in the classes list");
    assert_null(ds);
}

/* group: COLUMN reads each image's group from a header column; columns in
 * any order, extra ones ignored; names sorted, numbered in that order. */
static void test_csv_groups(void **state)
{
    write_csv_images();
    tu_write_text("man/list.csv", "session,path,label,notes\n"
                                  "s2,img/a.png,owl,x\n"
                                  "s1,\"img/b, c.png\",cat,\n"
                                  "s2,img/d.png,owl,y\n"
                                  "s10,\"img/q\"\"e.png\",cat,z\n");
    tu_write_text("man/g.yaml", "format: csv\npath: list.csv\ngroup: session\n");
    vb_dataset *ds = NULL;
    vb_error err = {0};
    assert_int_equal(vb_dataset_load_path("man/g.yaml", &ds, &err), VB_OK);
    assert_int_equal(ds->n, 4);
    assert_int_equal(ds->n_groups, 3);
    assert_string_equal(ds->group_column, "session");
    const char *names[3] = {"s1", "s10", "s2"}; /* strcmp order */
    for (size_t g = 0; g < 3; g++)
        assert_string_equal(ds->group_names[g], names[g]);
    const uint32_t group[4] = {2, 0, 2, 1};
    const int labels[4] = {1, 0, 1, 0};
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(ds->group[i], group[i]);
        assert_int_equal(ds->labels[i], labels[i]);
        check_png_sample(ds, i, 2, 1, 1, 10 * (int)(i + 1));
    }
    uint64_t with_groups = vb_dataset_hash(ds);
    /* an export keeps the groups: it reads back as the same dataset */
    assert_int_equal(vb_dataset_export(ds, "man-out", VB_PART_NONE, &err), VB_OK);
    vb_dataset_free(ds);
    char *text = tu_read_file("man-out/labels.csv", NULL);
    const char *head = "path,label,session\nimages/000000.png,owl,s2\nimages/000001.png,cat,s1\n";
    assert_int_equal(strncmp(text, head, strlen(head)), 0);
    free(text);
    assert_int_equal(vb_dataset_load_path("man-out", &ds, &err), VB_OK);
    assert_int_equal(ds->n_groups, 3);
    assert_true(vb_dataset_hash(ds) == with_groups);
    vb_dataset_free(ds);

    /* the same manifest without group: no groups, another hash; the extra
     * columns of a header are ignored */
    tu_write_text("man/g.yaml", "format: csv\npath: list.csv\n");
    assert_int_equal(vb_dataset_load_path("man/g.yaml", &ds, &err), VB_OK);
    assert_null(ds->group);
    assert_int_equal(ds->n_groups, 0);
    assert_int_equal(ds->n, 4);
    assert_true(vb_dataset_hash(ds) != with_groups);
    vb_dataset_free(ds);

    /* a skipped file takes its group with it; groups span train and test */
    tu_write_text("man/img/bad.png", "not an image");
    tu_write_text("man/train.csv", "path,label,session\nimg/a.png,owl,p\nimg/bad.png,cat,gone\nimg/d.png,cat,q\n");
    tu_write_text("man/test.csv", "label,session,path\nowl,q,img/b, c.png\n");
    tu_write_text("man/g.yaml", "format: csv\ntrain: train.csv\ntest: test.csv\ngroup: session\nskip_invalid: true\n");
    tu_write_text("man/test.csv", "label,session,path\nowl,q,\"img/b, c.png\"\n");
    assert_int_equal(vb_dataset_load_path("man/g.yaml", &ds, &err), VB_OK);
    assert_int_equal(ds->n, 3);
    assert_int_equal(ds->n_groups, 2);
    assert_string_equal(ds->group_names[0], "p");
    assert_string_equal(ds->group_names[1], "q");
    assert_int_equal(ds->group[0], 0);
    assert_int_equal(ds->group[1], 1);
    assert_int_equal(ds->group[2], 1);
    assert_int_equal(ds->part[2], VB_PART_TEST);
    vb_dataset_free(ds);
}

static void test_csv_group_errors(void **state)
{
    write_csv_images();
    vb_dataset *ds = NULL;
    vb_error err = {0};
    tu_write_text("man/g.yaml", "format: csv\npath: list.csv\ngroup: session\n");
    /* no header to find the column in */
    tu_write_text("man/list.csv", "# images\nimg/a.png,owl\n");
    expect_error(vb_dataset_load_path("man/g.yaml", &ds, &err), err, VB_ERR_DATA,
                 "man/list.csv:2: group: session needs a header line naming the columns (path,label,session) before "
                 "the first image");
    /* the column is not in the header */
    tu_write_text("man/list.csv", "path,label,sesion\nimg/a.png,owl,s1\n");
    expect_error(vb_dataset_load_path("man/g.yaml", &ds, &err), err, VB_ERR_DATA,
                 "man/list.csv:1: no column 'session' in the header (path, label, sesion); did you mean 'sesion'? "
                 "(group: at man/g.yaml:3:8 names the column that holds each image's group)");
    tu_write_text("man/list.csv", "path,label,patient\nimg/a.png,owl,s1\n");
    expect_error(vb_dataset_load_path("man/g.yaml", &ds, &err), err, VB_ERR_DATA,
                 "man/list.csv:1: no column 'session' in the header (path, label, patient) (group: at man/g.yaml:3:8 "
                 "names the column that holds each image's group)");
    /* an empty group value */
    tu_write_text("man/list.csv", "path,label,session\nimg/a.png,owl,s1\n\nimg/d.png,cat,\n");
    expect_error(vb_dataset_load_path("man/g.yaml", &ds, &err), err, VB_ERR_FORMAT,
                 "man/list.csv:4: empty group (column 'session') for img/d.png; every image needs its group");
    /* a line without the header's columns */
    tu_write_text("man/list.csv", "path,label,session\nimg/a.png,owl\n");
    expect_error(vb_dataset_load_path("man/g.yaml", &ds, &err), err, VB_ERR_FORMAT,
                 "man/list.csv:2: expected the 3 fields of the header, got 'img/a.png,owl'");
    /* the test manifest needs the column too */
    tu_write_text("man/train.csv", "path,label,session\nimg/a.png,owl,s1\n");
    tu_write_text("man/test.csv", "path,label\nimg/d.png,owl\n");
    tu_write_text("man/g.yaml", "format: csv\ntrain: train.csv\ntest: test.csv\ngroup: session\n");
    expect_error(vb_dataset_load_path("man/g.yaml", &ds, &err), err, VB_ERR_DATA,
                 "man/test.csv:1: no column 'session' in the header (path, label) (group: at man/g.yaml:4:8 names the "
                 "column that holds each image's group)");
    /* an empty column name */
    tu_write_text("man/g.yaml", "format: csv\npath: list.csv\ngroup: ''\n");
    expect_error(vb_dataset_load_path("man/g.yaml", &ds, &err), err, VB_ERR_PARAM,
                 "man/g.yaml:3:9: csv.group: names no column; give the header's name of the group column");
    assert_null(ds);
}

static void test_csv_errors(void **state)
{
    write_csv_images();
    vb_dataset *ds = NULL;
    vb_error err = {0};
    tu_write_text("man/d.yaml", "format: csv\npath: list.csv\nclasses: [owl, cat]\n");
    tu_write_text("man/list.csv", "img/a.png,owl\nimg/d.png,bird\n");
    expect_error(vb_dataset_load_path("man/d.yaml", &ds, &err), err, VB_ERR_DATA,
                 "man/list.csv: label 'bird' of man/img/d.png is not in the classes list");
    tu_write_text("man/list.csv", "");
    expect_error(vb_dataset_load_path("man/d.yaml", &ds, &err), err, VB_ERR_DATA, "man/list.csv: lists no images");
    tu_write_text("man/list.csv", "path,label\n");
    expect_error(vb_dataset_load_path("man/d.yaml", &ds, &err), err, VB_ERR_DATA, "man/list.csv: lists no images");
    tu_write_text("man/list.csv", "img/a.png,owl\nimg/d.png\n");
    expect_error(vb_dataset_load_path("man/d.yaml", &ds, &err), err, VB_ERR_FORMAT,
                 "man/list.csv:2: expected 'path,label', got 'img/d.png'");
    tu_write_text("man/list.csv", "img/a.png,owl,extra\n");
    expect_error(vb_dataset_load_path("man/d.yaml", &ds, &err), err, VB_ERR_FORMAT,
                 "man/list.csv:1: expected 'path,label', got 'img/a.png,owl,extra'");
    tu_write_text("man/list.csv", "\"img/a.png,owl\n");
    expect_error(vb_dataset_load_path("man/d.yaml", &ds, &err), err, VB_ERR_FORMAT,
                 "man/list.csv:1: expected 'path,label', got '\"img/a.png,owl'");
    tu_write_text("man/list.csv", "img/a.png,\n");
    expect_error(vb_dataset_load_path("man/d.yaml", &ds, &err), err, VB_ERR_FORMAT,
                 "man/list.csv:1: empty path or label");
    /* a NUL byte would end the manifest there, the rows after it unread */
    static const char nul_csv[] = "img/a.png,owl\nimg/d.png,c\0at\n\"img/b, c.png\",cat\n";
    tu_write_file("man/list.csv", nul_csv, sizeof nul_csv - 1);
    expect_error(vb_dataset_load_path("man/d.yaml", &ds, &err), err, VB_ERR_FORMAT,
                 "man/list.csv:2: a NUL byte; a CSV manifest is text");
    tu_write_text("man/list.csv", "img/a.png,owl\nimg/d.png,cat\n");
    tu_write_text("man/d.yaml", "format: csv\npath: list.csv\nclasses: [owl, cat, owl]\n");
    expect_error(vb_dataset_load_path("man/d.yaml", &ds, &err), err, VB_ERR_PARAM,
                 "man/d.yaml:3:10: csv.classes: class name 'owl' appears twice");
    tu_write_text("man/d.yaml", "format: csv\npath: list.csv\nclasses: [owl, cat]\n");
    /* a class listed but never used */
    tu_write_text("man/list.csv", "img/a.png,owl\n");
    expect_error(vb_dataset_load_path("man/d.yaml", &ds, &err), err, VB_ERR_DATA,
                 "man/list.csv: class 'cat' has no readable training images; add images or remove it");
    /* a listed file that is missing */
    tu_write_text("man/list.csv", "img/a.png,owl\nimg/gone.png,cat\n");
    expect_error(vb_dataset_load_path("man/d.yaml", &ds, &err), err, VB_ERR_FORMAT,
                 "man/img/gone.png: cannot open: No such file or directory "
                 "(set skip_invalid: true in the dataset to skip such files)");
    tu_write_text("man/d.yaml", "format: csv\npath: nope.csv\n");
    expect_error(vb_dataset_load_path("man/d.yaml", &ds, &err), err, VB_ERR_IO,
                 "man/nope.csv: cannot open: No such file or directory; check the path (relative paths start at the descriptor's folder)");
    assert_null(ds);
}

/* ---- CIFAR-10 ----------------------------------------------------------- */

#define CREC 3073

/* Record: label, then R, G, B planes of 32x32. Pixel p of plane k is
 * (p * (k + 1) + seed) mod 256. */
static void fill_record(uint8_t *rec, int label, int seed)
{
    rec[0] = (uint8_t)label;
    for (int k = 0; k < 3; k++)
        for (int p = 0; p < 1024; p++)
            rec[1 + k * 1024 + p] = (uint8_t)((p * (k + 1) + seed) % 256);
}

static void write_cifar(const char *dir)
{
    mkdir_p(dir);
    uint8_t *b = malloc(3 * CREC);
    assert_non_null(b);
    fill_record(b, 3, 0);
    fill_record(b + CREC, 9, 11);
    fill_record(b + 2 * CREC, 0, 22);
    /* a known pixel: x 5, y 7 of record 0 is R 200, G 100, B 50 */
    int p = 7 * 32 + 5;
    b[1 + p] = 200;
    b[1 + 1024 + p] = 100;
    b[1 + 2048 + p] = 50;
    char path[256];
    snprintf(path, sizeof path, "%s/batch_a.bin", dir);
    tu_write_file(path, b, 3 * CREC);
    fill_record(b, 7, 33);
    snprintf(path, sizeof path, "%s/t.bin", dir);
    tu_write_file(path, b, CREC);
    free(b);
}

static void test_cifar(void **state)
{
    write_cifar("cf");
    tu_write_text("cf.yaml", "format: cifar10\npath: cf\ntrain_files: [batch_a.bin]\ntest_files: [t.bin]\n");
    vb_dataset *ds = NULL;
    vb_error err = {0};
    assert_int_equal(vb_dataset_load_path("cf.yaml", &ds, &err), VB_OK);
    assert_int_equal(ds->n, 4);
    const char *files[2] = {"cf/batch_a.bin", "cf/t.bin"};
    const uint32_t file_of[4] = {0, 0, 0, 1}, item_of[4] = {0, 1, 2, 0};
    check_files(ds, files, 2, file_of, item_of);
    assert_null(ds->paths);
    const int labels[4] = {3, 9, 0, 7};
    const uint8_t parts[4] = {VB_PART_TRAIN, VB_PART_TRAIN, VB_PART_TRAIN, VB_PART_TEST};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(ds->labels[i], labels[i]);
        assert_int_equal(ds->part[i], parts[i]);
    }
    assert_int_equal(ds->fixed_w, 32);
    assert_int_equal(ds->fixed_h, 32);
    assert_int_equal(ds->fixed_c, 3);
    assert_int_equal(ds->n_classes, 10);
    assert_string_equal(ds->classes[0], "airplane");
    assert_string_equal(ds->classes[9], "truck");
    /* interleaved: pixel (5, 7) */
    int p = 7 * 32 + 5;
    assert_int_equal(ds->px[0][p * 3 + 0], 200);
    assert_int_equal(ds->px[0][p * 3 + 1], 100);
    assert_int_equal(ds->px[0][p * 3 + 2], 50);
    vb_image img = {0};
    assert_int_equal(vb_dataset_image(ds, 0, &img, &err), VB_OK);
    assert_float_equal(at(&img, 5, 7, 0), 200 / 255.0, 1e-6);
    assert_float_equal(at(&img, 5, 7, 1), 100 / 255.0, 1e-6);
    assert_float_equal(at(&img, 5, 7, 2), 50 / 255.0, 1e-6);
    /* another pixel of another record: (31, 2) of record 1 (seed 11) */
    int q = 2 * 32 + 31;
    assert_int_equal(vb_dataset_image(ds, 1, &img, &err), VB_OK);
    for (int k = 0; k < 3; k++)
        assert_float_equal(at(&img, 31, 2, k), ((q * (k + 1) + 11) % 256) / 255.0, 1e-6);
    assert_int_equal(ds->px[3][q * 3 + 2], (q * 3 + 33) % 256);
    free(img.data);
    vb_dataset_free(ds);

    /* names from batches.meta.txt */
    tu_write_text("cf/batches.meta.txt", "a0\na1\na2\na3\na4\na5\na6\na7\na8\na9\n\n");
    assert_int_equal(vb_dataset_load_path("cf.yaml", &ds, &err), VB_OK);
    assert_string_equal(ds->classes[0], "a0");
    assert_string_equal(ds->classes[9], "a9");
    vb_dataset_free(ds);
    /* given names win */
    tu_write_text("cf.yaml", "format: cifar10\npath: cf\ntrain_files: [batch_a.bin]\ntest_files: []\n"
                             "classes: [c0, c1, c2, c3, c4, c5, c6, c7, c8, c9]\n");
    assert_int_equal(vb_dataset_load_path("cf.yaml", &ds, &err), VB_OK);
    assert_int_equal(ds->n, 3);
    assert_null(ds->part);
    assert_string_equal(ds->classes[7], "c7");
    vb_dataset_free(ds);
}

static void test_cifar_errors(void **state)
{
    write_cifar("cfe");
    vb_dataset *ds = NULL;
    vb_error err = {0};
    tu_write_text("cfe.yaml", "format: cifar10\npath: cfe\ntrain_files: [batch_a.bin]\ntest_files: [t.bin]\n");
    size_t len;
    char *data = tu_read_file("cfe/batch_a.bin", &len);
    tu_write_file("cfe/batch_a.bin", data, 2 * CREC + 100);
    expect_error(vb_dataset_load_path("cfe.yaml", &ds, &err), err, VB_ERR_FORMAT,
                 "cfe/batch_a.bin: 6246 bytes is not a whole number of 3073-byte CIFAR-10 records (truncated?)");
    data[CREC] = 12; /* record 1's label */
    tu_write_file("cfe/batch_a.bin", data, len);
    free(data);
    expect_error(vb_dataset_load_path("cfe.yaml", &ds, &err), err, VB_ERR_FORMAT,
                 "cfe/batch_a.bin: record 1 has label 12; CIFAR-10 labels are 0..9");
    tu_write_text("cfe.yaml", "format: cifar10\npath: cfe\n");
    expect_error(vb_dataset_load_path("cfe.yaml", &ds, &err), err, VB_ERR_IO,
                 "cfe/data_batch_1.bin: cannot open: No such file or directory; check the path (relative paths start at the descriptor's folder)");
    tu_write_text("cfe.yaml", "format: cifar10\npath: cfe\ntrain_files: [t.bin]\ntest_files: []\n"
                              "classes: [a, b, c]\n");
    expect_error(vb_dataset_load_path("cfe.yaml", &ds, &err), err, VB_ERR_PARAM,
                 "cfe.yaml:5:10: cifar10.classes: lists 3 class names but the labels go up to 9");
    assert_null(ds);
}

/* ---- synthetic ---------------------------------------------------------- */

#define files_equal tu_files_equal

static void test_synth_write_and_load(void **state)
{
    vb_synth_opts o = vb_synth_defaults;
    o.classes = 3;
    o.per_class = 4;
    o.size = 16;
    o.seed = 7;
    vb_error err = {0};
    assert_int_equal(vb_synth_write(&o, "syA", &err), VB_OK);
    assert_int_equal(vb_synth_write(&o, "syB", &err), VB_OK);
    o.seed = 8;
    assert_int_equal(vb_synth_write(&o, "syC", &err), VB_OK);
    assert_true(tu_exists("syA/dataset.yaml"));
    int differ = 0;
    for (int k = 0; k < 3; k++)
        for (int i = 0; i < 4; i++) {
            char a[128], b[128], c[128];
            const char *cn = vb_synth_class_name(k);
            snprintf(a, sizeof a, "syA/%s/%s_%04d.png", cn, cn, i);
            snprintf(b, sizeof b, "syB/%s/%s_%04d.png", cn, cn, i);
            snprintf(c, sizeof c, "syC/%s/%s_%04d.png", cn, cn, i);
            assert_true(tu_exists(a));
            assert_true(files_equal(a, b));
            differ += !files_equal(a, c);
        }
    assert_int_equal(differ, 12);
    assert_false(tu_exists("syA/circle/circle_0004.png"));
    assert_false(tu_exists("syA/cross"));
    assert_string_equal(vb_synth_class_name(0), "circle");
    assert_string_equal(vb_synth_class_name(2), "triangle");
    assert_null(vb_synth_class_name(10));
    assert_null(vb_synth_class_name(-1));

    vb_dataset *ds = NULL, *ds2 = NULL;
    assert_int_equal(vb_dataset_load_path("syA", &ds, &err), VB_OK);
    assert_int_equal(ds->n, 12);
    assert_int_equal(ds->n_classes, 3);
    assert_string_equal(ds->classes[0], "circle");
    assert_string_equal(ds->classes[1], "square");
    assert_string_equal(ds->classes[2], "triangle");
    assert_int_equal(ds->fixed_w, 16);
    assert_int_equal(ds->fixed_h, 16);
    assert_int_equal(ds->fixed_c, 1);
    for (size_t i = 0; i < 12; i++)
        assert_int_equal(ds->labels[i], (int)(i / 4));
    assert_int_equal(vb_dataset_load_path("syA/dataset.yaml", &ds2, &err), VB_OK);
    assert_string_equal(ds2->name, "synth");
    assert_int_equal(ds2->n, 12);
    assert_true(vb_dataset_hash(ds) == vb_dataset_hash(ds2));
    vb_dataset_free(ds2);
    assert_int_equal(vb_dataset_load_path("syC", &ds2, &err), VB_OK);
    assert_true(vb_dataset_hash(ds) != vb_dataset_hash(ds2));
    vb_dataset_free(ds2);
    vb_dataset_free(ds);
}

static void test_synth_render_matches_and_color(void **state)
{
    vb_synth_opts o = vb_synth_defaults;
    o.classes = 2;
    o.per_class = 2;
    o.size = 12;
    o.color = 1;
    o.noise = 0;
    o.clutter = 0;
    vb_error err = {0};
    assert_int_equal(vb_synth_write(&o, "syD", &err), VB_OK);
    vb_dataset *ds = NULL;
    assert_int_equal(vb_dataset_load_path("syD", &ds, &err), VB_OK);
    assert_int_equal(ds->n, 4);
    assert_int_equal(ds->fixed_c, 3);
    vb_dataset_free(ds);
    /* rendering is deterministic in the RNG and values stay in [0, 1] */
    vb_image a = {0}, b = {0};
    vb_rng *r1 = vb_rng_new(5), *r2 = vb_rng_new(5);
    o.noise = 0.3;
    o.clutter = 3;
    for (int k = 0; k < 10; k++) {
        assert_int_equal(vb_synth_render(&o, k, r1, &a, &err), VB_OK);
        assert_int_equal(vb_synth_render(&o, k, r2, &b, &err), VB_OK);
        assert_int_equal(a.w, 12);
        assert_int_equal(a.c, 3);
        assert_memory_equal(a.data, b.data, 12 * 12 * 3 * sizeof(float));
        for (int i = 0; i < 12 * 12 * 3; i++)
            assert_true(a.data[i] >= 0.0f && a.data[i] <= 1.0f);
    }
    vb_rng_free(r1);
    vb_rng_free(r2);
    free(a.data);
    free(b.data);
}

static void test_synth_train_test(void **state)
{
    vb_synth_opts o = vb_synth_defaults;
    o.classes = 2;
    o.per_class = 3;
    o.test_per_class = 2;
    o.size = 8;
    vb_error err = {0};
    assert_int_equal(vb_synth_write(&o, "syE", &err), VB_OK);
    assert_true(tu_exists("syE/train/circle/circle_0002.png"));
    assert_true(tu_exists("syE/test/square/square_0001.png"));
    assert_false(tu_exists("syE/test/square/square_0002.png"));
    assert_false(tu_exists("syE/circle"));
    /* train and test images differ */
    assert_false(files_equal("syE/train/circle/circle_0000.png", "syE/test/circle/circle_0000.png"));
    vb_dataset *ds = NULL;
    assert_int_equal(vb_dataset_load_path("syE/dataset.yaml", &ds, &err), VB_OK);
    assert_int_equal(ds->n, 10);
    assert_non_null(ds->part);
    size_t counts[2];
    vb_dataset_class_counts(ds, VB_PART_TRAIN, counts);
    assert_int_equal(counts[0], 3);
    assert_int_equal(counts[1], 3);
    vb_dataset_class_counts(ds, VB_PART_TEST, counts);
    assert_int_equal(counts[0], 2);
    assert_int_equal(counts[1], 2);
    for (size_t i = 0; i < 10; i++)
        assert_int_equal(ds->part[i], i < 6 ? VB_PART_TRAIN : VB_PART_TEST);
    vb_dataset_free(ds);
}

static void test_synth_bad_options(void **state)
{
    vb_error err = {0};
    vb_synth_opts o = vb_synth_defaults;
    o.classes = 1;
    expect_error(vb_synth_write(&o, "syX", &err), err, VB_ERR_PARAM, "synthetic classes must be 2..10, not 1");
    o.classes = 11;
    expect_error(vb_synth_write(&o, "syX", &err), err, VB_ERR_PARAM, "synthetic classes must be 2..10, not 11");
    o = vb_synth_defaults;
    o.per_class = 0;
    expect_error(vb_synth_write(&o, "syX", &err), err, VB_ERR_PARAM, "images per class must be 1..1000000, not 0");
    o = vb_synth_defaults;
    o.size = 7;
    expect_error(vb_synth_write(&o, "syX", &err), err, VB_ERR_PARAM, "image size must be 8..4096, not 7");
    o = vb_synth_defaults;
    o.noise = -0.5;
    expect_error(vb_synth_write(&o, "syX", &err), err, VB_ERR_PARAM, "noise must be 0..1, not -0.5");
    o.noise = 1.5;
    expect_error(vb_synth_write(&o, "syX", &err), err, VB_ERR_PARAM, "noise must be 0..1, not 1.5");
    o.noise = NAN;
    expect_error(vb_synth_write(&o, "syX", &err), err, VB_ERR_PARAM, "noise must be 0..1, not nan");
    o = vb_synth_defaults;
    o.clutter = -1;
    expect_error(vb_synth_write(&o, "syX", &err), err, VB_ERR_PARAM, "clutter must be 0..100, not -1");
    o = vb_synth_defaults;
    o.test_per_class = -1;
    expect_error(vb_synth_write(&o, "syX", &err), err, VB_ERR_PARAM,
                 "test images per class must be 0..1000000, not -1");
    o.test_per_class = 1000001;
    expect_error(vb_synth_write(&o, "syX", &err), err, VB_ERR_PARAM,
                 "test images per class must be 0..1000000, not 1000001");
    assert_false(tu_exists("syX"));
}

/* ---- container ---------------------------------------------------------- */

/* n 2x2 grey samples with labels i % 2. */
static vb_dataset *small_dataset(size_t n)
{
    vb_error err = {0};
    vb_dataset *ds = vb_dataset_new(n, 0, &err);
    assert_non_null(ds);
    for (size_t i = 0; i < n; i++) {
        ds->px[i] = malloc(4);
        assert_non_null(ds->px[i]);
        for (int j = 0; j < 4; j++)
            ds->px[i][j] = (uint8_t)(i * 4 + (size_t)j);
        ds->w[i] = ds->h[i] = 2;
        ds->c[i] = 1;
        ds->labels[i] = (int)(i % 2);
    }
    const char *names[2] = {"even", "odd"};
    assert_int_equal(vb_dataset_set_classes(ds, names, 2, &err), VB_OK);
    vb_dataset_finish(ds);
    return ds;
}

static void test_dataset_hash(void **state)
{
    vb_dataset *ds = small_dataset(5);
    assert_int_equal(ds->fixed_w, 2);
    assert_int_equal(ds->fixed_c, 1);
    uint64_t h0 = vb_dataset_hash(ds);
    assert_true(h0 == vb_dataset_hash(ds));
    ds->px[3][2] ^= 1;
    uint64_t h1 = vb_dataset_hash(ds);
    assert_true(h1 != h0);
    ds->px[3][2] ^= 1;
    assert_true(vb_dataset_hash(ds) == h0);
    ds->labels[4] = 1;
    uint64_t h2 = vb_dataset_hash(ds);
    assert_true(h2 != h0 && h2 != h1);
    ds->labels[4] = 0;
    assert_true(vb_dataset_hash(ds) == h0);
    /* a larger image: the word-wise part of the mix */
    vb_dataset *big = vb_dataset_new(1, 0, NULL);
    assert_non_null(big);
    big->px[0] = calloc(40, 1);
    assert_non_null(big->px[0]);
    big->w[0] = 5;
    big->h[0] = 4;
    big->c[0] = 2;
    uint64_t b0 = vb_dataset_hash(big);
    big->px[0][9] = 1;
    uint64_t b1 = vb_dataset_hash(big);
    big->px[0][9] = 0;
    big->px[0][39] = 1;
    uint64_t b2 = vb_dataset_hash(big);
    assert_true(b0 != b1 && b0 != b2 && b1 != b2);
    /* the shape counts too */
    big->px[0][39] = 0;
    big->w[0] = 4;
    big->h[0] = 5;
    assert_true(vb_dataset_hash(big) != b0);
    vb_dataset_free(big);
    vb_dataset_free(ds);
}

static void test_dataset_classes(void **state)
{
    vb_dataset *ds = small_dataset(4);
    vb_error err = {0};
    assert_int_equal(vb_dataset_check_classes(ds, "here", &err), VB_OK);
    const char *names[3] = {"even", "odd", "never"};
    assert_int_equal(vb_dataset_set_classes(ds, names, 3, &err), VB_OK);
    assert_int_equal(ds->n_classes, 3);
    expect_error(vb_dataset_check_classes(ds, "here", &err), err, VB_ERR_DATA,
                 "here: class 'never' has no readable training images; add images or remove it");
    /* with a partition, only the training part counts */
    vb_dataset *p = vb_dataset_new(3, 1, &err);
    assert_non_null(p);
    for (size_t i = 0; i < 3; i++) {
        p->px[i] = calloc(1, 1);
        p->w[i] = p->h[i] = p->c[i] = 1;
        p->labels[i] = (int)i % 2;
        p->part[i] = i == 1 ? VB_PART_TEST : VB_PART_TRAIN;
    }
    assert_int_equal(vb_dataset_set_classes(p, names, 2, &err), VB_OK);
    expect_error(vb_dataset_check_classes(p, "parts", &err), err, VB_ERR_DATA,
                 "parts: class 'odd' has no readable training images; add images or remove it");
    vb_dataset_finish(p);
    assert_int_equal(p->fixed_w, 1);
    vb_dataset_free(p);
    vb_dataset_free(ds);

    /* loader registry */
    size_t n;
    const vb_loader_vt *const *all = vb_loaders(&n);
    assert_int_equal(n, 4);
    assert_ptr_equal(vb_loader_find("csv"), all[3]);
    assert_string_equal(vb_loader_find("idx")->info.name, "idx");
    assert_null(vb_loader_find("IDX"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_idx_plain_train_gz_test),
        cmocka_unit_test(test_idx_gz_train_plain_test),
        cmocka_unit_test(test_idx_train_only_default_classes),
        cmocka_unit_test(test_idx_paths_relative_to_descriptor),
        cmocka_unit_test(test_idx_wrong_magic),
        cmocka_unit_test(test_idx_truncated),
        cmocka_unit_test(test_idx_count_mismatch_and_trailing_bytes),
        cmocka_unit_test(test_loader_claims),
        cmocka_unit_test(test_idx_test_part_errors),
        cmocka_unit_test(test_idx_classes_shorter_than_labels),
        cmocka_unit_test(test_descriptor_errors),
        cmocka_unit_test(test_load_missing_path),
        cmocka_unit_test(test_load_node_inline),
        cmocka_unit_test(test_folder_bare_directory),
        cmocka_unit_test(test_folder_descriptor),
        cmocka_unit_test(test_folder_train_test),
        cmocka_unit_test(test_folder_invalid_file),
        cmocka_unit_test(test_folder_truncated_png),
        cmocka_unit_test(test_folder_layout_errors),
        cmocka_unit_test(test_csv_manifest),
        cmocka_unit_test(test_csv_train_test),
        cmocka_unit_test(test_csv_errors),
        cmocka_unit_test(test_csv_groups),
        cmocka_unit_test(test_csv_group_errors),
        cmocka_unit_test(test_cifar),
        cmocka_unit_test(test_cifar_errors),
        cmocka_unit_test(test_synth_write_and_load),
        cmocka_unit_test(test_synth_render_matches_and_color),
        cmocka_unit_test(test_synth_train_test),
        cmocka_unit_test(test_synth_bad_options),
        cmocka_unit_test(test_dataset_hash),
        cmocka_unit_test(test_dataset_classes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
