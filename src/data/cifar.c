/* CIFAR-10 binary batches: records of 1 label byte + 3072 pixel bytes
 * (1024 red, 1024 green, 1024 blue, row-major 32x32). */
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define REC 3073
#define SIDE 32

static const vb_param_def cifar_params[] = {
    {.name = "path", .type = VB_PT_STRING, .flags = VB_PF_REQUIRED | VB_PF_PRIMARY,
     .help = "folder with data_batch_1.bin .. data_batch_5.bin and test_batch.bin"},
    {.name = "train_files", .type = VB_PT_STRINGS,
     .def = "[data_batch_1.bin, data_batch_2.bin, data_batch_3.bin, data_batch_4.bin, data_batch_5.bin]",
     .help = "training batches, relative to path"},
    {.name = "test_files", .type = VB_PT_STRINGS, .def = "[test_batch.bin]",
     .help = "official test batches, relative to path ([] for none)"},
    {.name = "classes", .type = VB_PT_STRINGS,
     .help = "class names (default: batches.meta.txt if present, else the CIFAR-10 names)"},
};

static const char *const cifar_names[10] = {"airplane", "automobile", "bird", "cat", "deer",
                                            "dog", "frog", "horse", "ship", "truck"};

typedef struct batch {
    char *path;
    size_t n;
    int part;
} batch;

static vb_status read_batch(const batch *b, vb_dataset *ds, size_t at, vb_error *err)
{
    FILE *f = fopen(b->path, "rb");
    if (!f)
        return vb_fail(err, VB_ERR_IO, "%s: cannot open: %s", b->path, strerror(errno));
    unsigned char rec[REC];
    vb_status st = VB_OK;
    for (size_t i = 0; i < b->n; i++) {
        if (fread(rec, 1, REC, f) != REC) {
            st = vb_fail(err, VB_ERR_FORMAT, "%s: truncated at record %zu", b->path, i);
            break;
        }
        if (rec[0] > 9) {
            st = vb_fail(err, VB_ERR_FORMAT, "%s: record %zu has label %u; CIFAR-10 labels are 0..9", b->path, i,
                         rec[0]);
            break;
        }
        size_t s = at + i;
        uint8_t *px = ds->block + s * SIDE * SIDE * 3;
        for (int p = 0; p < SIDE * SIDE; p++)
            for (int k = 0; k < 3; k++)
                px[p * 3 + k] = rec[1 + k * SIDE * SIDE + p];
        ds->px[s] = px;
        ds->labels[s] = rec[0];
        ds->w[s] = ds->h[s] = SIDE;
        ds->c[s] = 3;
        if (ds->part)
            ds->part[s] = (uint8_t)b->part;
    }
    fclose(f);
    return st;
}

/* Class names from batches.meta.txt (one per line) when it is there. */
static int meta_names(const char *dir, char names[10][64])
{
    char *path = vb_path_join(dir, "batches.meta.txt");
    FILE *f = path ? fopen(path, "r") : NULL;
    free(path);
    if (!f)
        return 0;
    int n = 0;
    char line[128];
    while (n < 10 && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        if (!*line)
            continue;
        line[63] = 0; /* class names longer than that are cut */
        memcpy(names[n++], line, strlen(line) + 1);
    }
    fclose(f);
    return n == 10;
}

static vb_status cifar_load(const vb_params *p, const char *base_dir, vb_dataset **out, vb_error *err)
{
    *out = NULL;
    char *dir = vb_path_join(base_dir, vb_param_str(p, "path"));
    if (!dir)
        return vb_fail(err, VB_ERR_NOMEM, "out of memory");
    size_t ntr, nte;
    const vb_pvalue *tr = vb_param(p, "train_files"), *te = vb_param(p, "test_files");
    ntr = tr->n;
    nte = te->n;
    batch *b = calloc(ntr + nte + 1, sizeof *b);
    vb_status st = b ? VB_OK : vb_fail(err, VB_ERR_NOMEM, "out of memory");
    size_t total = 0;
    for (size_t i = 0; st == VB_OK && i < ntr + nte; i++) {
        b[i].path = vb_path_join(dir, i < ntr ? tr->strs[i] : te->strs[i - ntr]);
        b[i].part = i < ntr ? VB_PART_TRAIN : VB_PART_TEST;
        struct stat sb;
        if (!b[i].path)
            st = vb_fail(err, VB_ERR_NOMEM, "out of memory");
        else if (stat(b[i].path, &sb) != 0)
            st = vb_fail(err, VB_ERR_IO, "%s: cannot open: %s%s", b[i].path, strerror(errno),
                         vb_data_missing_hint(b[i].path));
        else if (!S_ISREG(sb.st_mode) || sb.st_size == 0 || sb.st_size % REC != 0)
            st = vb_fail(err, VB_ERR_FORMAT,
                         "%s: %lld bytes is not a whole number of %d-byte CIFAR-10 records (truncated?)",
                         b[i].path, (long long)sb.st_size, REC);
        else {
            b[i].n = (size_t)sb.st_size / REC;
            total += b[i].n;
            /* (a sparse file can claim any size without the disk space) */
            st = vb_data_check_claim(b[i].path, total, SIDE * SIDE * 3, err);
        }
    }
    vb_dataset *ds = NULL;
    if (st == VB_OK && (!(ds = vb_dataset_new(total, nte > 0, err)) ||
                        !(ds->block = vb_malloc(total, SIDE * SIDE * 3, err))))
        st = vb_error_prefix(err, "%s", dir);
    size_t at = 0;
    for (size_t i = 0; st == VB_OK && i < ntr + nte; i++) {
        st = read_batch(&b[i], ds, at, err);
        if (st == VB_OK)
            st = vb_dataset_add_file(ds, b[i].path, at, b[i].n, err);
        at += b[i].n;
    }
    if (st == VB_OK) {
        const vb_pvalue *cl = vb_param(p, "classes");
        char meta[10][64];
        if (cl->given)
            st = vb_dataset_classes_from_params(ds, p, 10, err);
        else if (meta_names(dir, meta)) {
            const char *names[10];
            for (int k = 0; k < 10; k++)
                names[k] = meta[k];
            st = vb_dataset_set_classes(ds, names, 10, err);
        } else
            st = vb_dataset_set_classes(ds, cifar_names, 10, err);
    }
    for (size_t i = 0; b && i < ntr + nte; i++)
        free(b[i].path);
    free(b);
    free(dir);
    if (st != VB_OK) {
        vb_dataset_free(ds);
        return st;
    }
    *out = ds;
    return VB_OK;
}

const vb_loader_vt vb_loader_cifar10 = {
    .info = {.name = "cifar10",
             .help = "CIFAR-10 binary batches (32x32 RGB); data_batch_*.bin train, test_batch.bin official test",
             .params = cifar_params,
             .n_params = sizeof cifar_params / sizeof cifar_params[0]},
    .load = cifar_load,
};
