/* IDX files (MNIST, Fashion-MNIST): gzip through zlib or plain. The magic,
 * the dimensions and the length are checked against the header, and the
 * header's claims against the limits (data.h) and the file before memory
 * is spent on them. */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

static const vb_param_def idx_params[] = {
    {.name = "train_images", .type = VB_PT_STRING, .flags = VB_PF_REQUIRED,
     .help = "IDX image file of the training part (.gz or plain); relative to the descriptor"},
    {.name = "train_labels", .type = VB_PT_STRING, .flags = VB_PF_REQUIRED,
     .help = "IDX label file of the training part"},
    {.name = "test_images", .type = VB_PT_STRING, .help = "IDX image file of the official test part (optional)"},
    {.name = "test_labels", .type = VB_PT_STRING, .help = "IDX label file of the official test part"},
    {.name = "classes", .type = VB_PT_STRINGS, .help = "class names in label order (default: 0, 1, ...)"},
};

typedef struct idx_file {
    gzFile gz;
    const char *path;
} idx_file;

/* zlib's message for the last error, without the "path: " it starts with. */
static const char *gz_msg(const idx_file *f)
{
    int code;
    const char *msg = gzerror(f->gz, &code);
    if (!msg || !*msg)
        return "zlib error";
    size_t n = strlen(f->path);
    if (strncmp(msg, f->path, n) == 0 && msg[n] == ':' && msg[n + 1] == ' ')
        msg += n + 2;
    return msg;
}

/* Reads up to len bytes; *got says how many arrived (fewer only where the
 * data ends). */
static vb_status gz_read_upto(idx_file *f, void *buf, size_t len, size_t *got, vb_error *err)
{
    unsigned char *p = buf;
    *got = 0;
    while (*got < len) {
        unsigned chunk = len - *got > (1u << 30) ? (1u << 30) : (unsigned)(len - *got);
        int r = gzread(f->gz, p + *got, chunk);
        if (r < 0)
            return vb_fail(err, VB_ERR_FORMAT, "%s: corrupt compressed data (%s)", f->path, gz_msg(f));
        if (r == 0) {
            int code = Z_OK;
            gzerror(f->gz, &code);
            if (code == Z_BUF_ERROR) /* a gzip stream cut short */
                return vb_fail(err, VB_ERR_FORMAT, "%s: truncated: the compressed data ends early; "
                                                   "download or reinstall it",
                               f->path);
            break;
        }
        *got += (size_t)r;
    }
    return VB_OK;
}

static vb_status truncated(const idx_file *f, const char *what, size_t len, size_t got, vb_error *err)
{
    if (strcmp(what, "header") == 0)
        return vb_fail(err, VB_ERR_FORMAT, "%s: truncated: too short for an IDX header; download or reinstall it",
                       f->path);
    return vb_fail(err, VB_ERR_FORMAT,
                   "%s: truncated: the header promises %zu bytes of %s, the file holds %zu; download or "
                   "reinstall it",
                   f->path, len, what, got);
}

static vb_status gz_read_exact(idx_file *f, void *buf, size_t len, const char *what, vb_error *err)
{
    size_t got;
    vb_status st = gz_read_upto(f, buf, len, &got, err);
    return st == VB_OK && got < len ? truncated(f, what, len, got, err) : st;
}

/* Reads the len bytes of `what` into a new buffer (*out) behind a copy of
 * keep[0..n_keep), growing it as the data arrives: a header that promises
 * more than a compressed file holds costs no more memory than the file. */
static vb_status gz_read_grow(idx_file *f, const unsigned char *keep, size_t n_keep, size_t len, const char *what,
                              unsigned char **out, vb_error *err)
{
    size_t got = 0, cap = len < ((size_t)1 << 20) ? len : (size_t)1 << 20;
    unsigned char *buf = NULL;
    for (;;) {
        unsigned char *nb = realloc(buf, n_keep + cap);
        if (!nb) {
            free(buf);
            return vb_fail(err, VB_ERR_NOMEM, "%s: out of memory for %zu bytes of %s", f->path, n_keep + cap, what);
        }
        if (!buf && n_keep)
            memcpy(nb, keep, n_keep);
        buf = nb;
        size_t step;
        vb_status st = gz_read_upto(f, buf + n_keep + got, cap - got, &step, err);
        got += step;
        if (st == VB_OK && got < cap)
            st = truncated(f, what, len, got, err);
        if (st != VB_OK) {
            free(buf);
            return st;
        }
        if (got == len)
            break;
        cap = len - cap < cap ? len : 2 * cap;
    }
    *out = buf;
    return VB_OK;
}

/* An uncompressed file's size is known: it must hold what the header
 * promises before anything is allocated for it. */
static vb_status idx_check_size(const idx_file *f, size_t header, size_t len, const char *what, vb_error *err)
{
    struct stat sb;
    if (!gzdirect(f->gz) || stat(f->path, &sb) != 0 || !S_ISREG(sb.st_mode))
        return VB_OK; /* compressed: checked as it decompresses */
    size_t have = (size_t)sb.st_size > header ? (size_t)sb.st_size - header : 0;
    return have < len ? truncated(f, what, len, have, err) : VB_OK;
}

static uint32_t be32(const unsigned char *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* Opens an IDX file and reads its header; dims[] receives the sizes. */
static vb_status idx_open(idx_file *f, const char *path, int want_dims, uint32_t *dims, vb_error *err)
{
    f->path = path;
    f->gz = gzopen(path, "rb");
    if (!f->gz)
        return vb_fail(err, VB_ERR_IO, "%s: cannot open: %s%s", path, errno ? strerror(errno) : "gzopen failed",
                       vb_data_missing_hint(path));
    gzbuffer(f->gz, 1 << 17);
    unsigned char hdr[4];
    vb_status st = gz_read_exact(f, hdr, 4, "header", err);
    if (st != VB_OK)
        return st;
    uint32_t magic = be32(hdr), want = 0x0800u | (uint32_t)want_dims;
    if (magic != want)
        return vb_fail(err, VB_ERR_FORMAT,
                       "%s: not an IDX %s file (magic 0x%08x, expected 0x%08x)", path,
                       want_dims == 1 ? "label" : "image", magic, want);
    for (int i = 0; i < want_dims; i++) {
        if ((st = gz_read_exact(f, hdr, 4, "header", err)) != VB_OK)
            return st;
        dims[i] = be32(hdr);
    }
    return VB_OK;
}

static vb_status idx_expect_end(idx_file *f, vb_error *err)
{
    unsigned char extra;
    int r = gzread(f->gz, &extra, 1);
    if (r > 0)
        return vb_fail(err, VB_ERR_FORMAT, "%s: longer than its header says; the file is corrupt", f->path);
    if (r < 0)
        return vb_fail(err, VB_ERR_FORMAT, "%s: corrupt compressed data (%s)", f->path, gz_msg(f));
    int code = Z_OK;
    gzerror(f->gz, &code);
    if (code == Z_BUF_ERROR) /* the gzip trailer (CRC, size) is missing: unchecked data */
        return vb_fail(err, VB_ERR_FORMAT, "%s: truncated: the compressed data ends early; download or reinstall it",
                       f->path);
    return VB_OK;
}

static void idx_close(idx_file *f)
{
    if (f->gz)
        gzclose(f->gz);
    f->gz = NULL;
}

/* Reads one images/labels pair into ds starting at sample `at`. */
static vb_status read_pair(const char *img_path, const char *lab_path, vb_dataset **ds, int part, vb_error *err)
{
    idx_file fi = {0}, fl = {0};
    uint32_t idims[3] = {0}, ldims[1] = {0};
    vb_status st;
    if ((st = idx_open(&fi, img_path, 3, idims, err)) != VB_OK)
        goto out;
    if ((st = idx_open(&fl, lab_path, 1, ldims, err)) != VB_OK)
        goto out;
    if (idims[1] == 0 || idims[2] == 0 || idims[1] > 4096 || idims[2] > 4096) {
        st = vb_fail(err, VB_ERR_FORMAT, "%s: implausible image size %ux%u", img_path, idims[2], idims[1]);
        goto out;
    }
    /* Samples of both parts share one block with one image size. */
    if (*ds && (*ds)->n && ((*ds)->w[0] != idims[2] || (*ds)->h[0] != idims[1])) {
        st = vb_fail(err, VB_ERR_FORMAT,
                     "%s: images are %ux%u but the training images are %ux%u; "
                     "the test files belong to another dataset",
                     img_path, idims[2], idims[1], (unsigned)(*ds)->w[0], (unsigned)(*ds)->h[0]);
        goto out;
    }
    if (idims[0] != ldims[0]) {
        st = vb_fail(err, VB_ERR_FORMAT, "%s holds %u images but %s holds %u labels", img_path, idims[0],
                     lab_path, ldims[0]);
        goto out;
    }
    size_t n = idims[0], side = (size_t)idims[1] * idims[2];
    if (n == 0) {
        st = vb_fail(err, VB_ERR_FORMAT, "%s: holds no images", img_path);
        goto out;
    }
    /* Grow the dataset: samples of earlier pairs keep their place. */
    vb_dataset *old = *ds;
    size_t base = old ? old->n : 0;
    /* What the header claims, against the limits and the file, before any
     * allocation; the data is read before the dataset is made. */
    unsigned char *block = NULL, *lab = NULL;
    if ((st = vb_data_check_claim(img_path, base + n, side, err)) != VB_OK ||
        (st = idx_check_size(&fi, 16, n * side, "pixels", err)) != VB_OK ||
        (st = idx_check_size(&fl, 8, n, "labels", err)) != VB_OK ||
        (st = gz_read_grow(&fi, old ? old->block : NULL, base * side, n * side, "pixels", &block, err)) != VB_OK ||
        (st = idx_expect_end(&fi, err)) != VB_OK ||
        (st = gz_read_grow(&fl, NULL, 0, n, "labels", &lab, err)) != VB_OK ||
        (st = idx_expect_end(&fl, err)) != VB_OK) {
        free(block);
        free(lab);
        goto out;
    }
    vb_dataset *nd = vb_dataset_new(base + n, 1, err);
    if (!nd) {
        free(block);
        free(lab);
        st = vb_error_prefix(err, "%s", img_path);
        goto out;
    }
    nd->block = block;
    if (old) {
        memcpy(nd->labels, old->labels, base * sizeof *nd->labels);
        memcpy(nd->part, old->part, base);
    }
    /* Where every sample came from: the earlier pairs' files, then this one. */
    for (size_t f = 0; st == VB_OK && old && f < old->n_files; f++) {
        size_t first = 0, count = 0;
        for (size_t i = 0; i < base; i++)
            if (old->file_of[i] == f && !count++)
                first = i;
        st = vb_dataset_add_file(nd, old->files[f], first, count, err);
    }
    if (st == VB_OK)
        st = vb_dataset_add_file(nd, img_path, base, n, err);
    if (st != VB_OK) {
        vb_dataset_free(nd);
        goto out;
    }
    for (size_t i = 0; i < base + n; i++) {
        nd->px[i] = nd->block + i * side;
        nd->w[i] = (uint16_t)idims[2];
        nd->h[i] = (uint16_t)idims[1];
        nd->c[i] = 1;
    }
    for (size_t i = 0; i < n; i++) {
        nd->labels[base + i] = lab[i];
        nd->part[base + i] = (uint8_t)part;
    }
    free(lab);
    vb_dataset_free(old);
    *ds = nd;
out:
    idx_close(&fi);
    idx_close(&fl);
    return st;
}

static vb_status idx_load(const vb_params *p, const char *base_dir, vb_dataset **out, vb_error *err)
{
    *out = NULL;
    const char *ti = vb_param_str(p, "test_images"), *tl = vb_param_str(p, "test_labels");
    if ((ti == NULL) != (tl == NULL))
        return vb_param_fail(p, ti ? "test_images" : "test_labels", err,
                             "give both test_images and test_labels, or neither");
    const char *files[4] = {vb_param_str(p, "train_images"), vb_param_str(p, "train_labels"), ti, tl};
    char *paths[4] = {0};
    vb_status st = VB_OK;
    for (int i = 0; i < 4; i++)
        if (files[i] && !(paths[i] = vb_path_join(base_dir, files[i])))
            st = vb_fail(err, VB_ERR_NOMEM, "out of memory");
    vb_dataset *ds = NULL;
    if (st == VB_OK)
        st = read_pair(paths[0], paths[1], &ds, VB_PART_TRAIN, err);
    if (st == VB_OK && paths[2])
        st = read_pair(paths[2], paths[3], &ds, VB_PART_TEST, err);
    if (st == VB_OK && !paths[2]) {
        free(ds->part); /* no official test part: no partition at all */
        ds->part = NULL;
    }
    int maxlab = -1;
    for (size_t i = 0; st == VB_OK && i < ds->n; i++)
        if (ds->labels[i] > maxlab)
            maxlab = ds->labels[i];
    if (st == VB_OK)
        st = vb_dataset_classes_from_params(ds, p, maxlab + 1, err);
    for (int i = 0; i < 4; i++)
        free(paths[i]);
    if (st != VB_OK) {
        vb_dataset_free(ds);
        return st;
    }
    *out = ds;
    return VB_OK;
}

const vb_loader_vt vb_loader_idx = {
    .info = {.name = "idx",
             .help = "IDX files (MNIST, Fashion-MNIST), gzip or plain; train and optional official test part",
             .params = idx_params,
             .n_params = sizeof idx_params / sizeof idx_params[0]},
    .load = idx_load,
};
