/* visbench features: one pipeline's feature matrix (after post-processing)
 * for one part of one fold, written for other tools.
 *
 * The split, the extractors' fit and the post-processing fit are the
 * engine's (src/pipeline/fit.c), as `visbench run` does them, so the rows
 * are the ones its classifier sees.
 *
 * Formats (labels are class indices, 0-based, as `dataset info` lists them):
 *   libsvm  "label idx:val ..." per row, 1-based indices, %.9g, zeros omitted
 *   csv     a header "label,f1,...,fd", then one row per sample, label first
 *   npy     FILE holds the features (float32, C order, shape (n, d)); the
 *           labels go to a second file, FILE with ".npy" replaced by
 *           ".labels.npy" (int32, shape (n,))
 * Multilabel datasets write label sets: libsvm's multilabel form
 * ("0,3 idx:val ..."; an empty set is an empty label field), a CSV label
 * field of ';'-joined indices, and for npy a (n, L) uint8 matrix.
 * Files are written atomically (a temporary file, then rename). */
#include "cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

enum { FMT_LIBSVM, FMT_CSV, FMT_NPY };
enum { PART_TRAIN, PART_VAL, PART_TEST };

/* The .npy header (format 1.0): magic, version, header length, a Python
 * dict literal padded with spaces to a multiple of 64 bytes, '\n'. */
static void npy_header(vb_buf *b, const char *descr, size_t n, size_t d, int two_dims)
{
    char dict[256];
    int len = two_dims ? snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (%zu, %zu), }",
                                  descr, n, d)
                       : snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (%zu,), }",
                                  descr, n);
    size_t total = 10 + (size_t)len + 1, pad = (64 - total % 64) % 64, hlen = (size_t)len + pad + 1;
    vb_buf_append(b, "\x93NUMPY\x01\x00", 8);
    unsigned char hl[2] = {(unsigned char)(hlen & 0xff), (unsigned char)(hlen >> 8)};
    vb_buf_append(b, hl, 2);
    vb_buf_append(b, dict, (size_t)len);
    for (size_t i = 0; i < pad; i++)
        vb_buf_append(b, " ", 1);
    vb_buf_append(b, "\n", 1);
}

static char *labels_path(const char *out)
{
    size_t n = strlen(out);
    if (n > 4 && strcmp(out + n - 4, ".npy") == 0)
        return vb_asprintf("%.*s.labels.npy", (int)(n - 4), out);
    return vb_asprintf("%s.labels.npy", out);
}

/* The label field of row i: its class, or its label set (sep between labels). */
static void label_field(vb_buf *b, const int *y, const uint8_t *Y, size_t L, size_t i, const char *sep)
{
    if (!Y) {
        vb_buf_printf(b, "%d", y[i]);
        return;
    }
    int first = 1;
    for (size_t l = 0; l < L; l++)
        if (Y[i * L + l]) {
            vb_buf_printf(b, "%s%zu", first ? "" : sep, l);
            first = 0;
        }
}

/* Y: the label sets (n x L) of a multilabel dataset, else NULL. */
static vb_status write_matrix(const char *path, int fmt, const float *X, const int *y, const uint8_t *Y, size_t L,
                              size_t n, size_t d, vb_error *err)
{
    vb_buf b;
    vb_buf_init(&b);
    vb_status st = VB_OK;
    if (fmt == FMT_LIBSVM) {
        for (size_t i = 0; i < n && !b.failed; i++) {
            label_field(&b, y, Y, L, i, ",");
            for (size_t j = 0; j < d; j++)
                if (X[i * d + j] != 0)
                    vb_buf_printf(&b, " %zu:%.9g", j + 1, (double)X[i * d + j]);
            vb_buf_puts(&b, "\n");
        }
    } else if (fmt == FMT_CSV) {
        vb_buf_puts(&b, "label");
        for (size_t j = 0; j < d; j++)
            vb_buf_printf(&b, ",f%zu", j + 1);
        vb_buf_puts(&b, "\n");
        for (size_t i = 0; i < n && !b.failed; i++) {
            label_field(&b, y, Y, L, i, ";");
            for (size_t j = 0; j < d; j++)
                vb_buf_printf(&b, ",%.9g", (double)X[i * d + j]);
            vb_buf_puts(&b, "\n");
        }
    } else {
        npy_header(&b, "<f4", n, d, 1);
        /* little-endian IEEE floats: this machine's own representation */
        vb_buf_append(&b, X, n * d * sizeof *X);
    }
    if (b.failed)
        st = vb_fail(err, VB_ERR_NOMEM, "out of memory for the %zu x %zu matrix", n, d);
    if (st == VB_OK)
        st = vb_file_write_atomic(path, b.data ? b.data : "", b.len, err);
    vb_buf_free(&b);
    if (st != VB_OK || fmt != FMT_NPY)
        return st;
    char *lp = labels_path(path);
    if (!lp)
        return vb_fail(err, VB_ERR_NOMEM, "out of memory");
    vb_buf_init(&b);
    if (Y) {
        npy_header(&b, "|u1", n, L, 1);
        vb_buf_append(&b, Y, n * L);
    } else {
        npy_header(&b, "<i4", n, 0, 0);
        for (size_t i = 0; i < n; i++) {
            int32_t v = y[i];
            vb_buf_append(&b, &v, sizeof v);
        }
    }
    st = b.failed ? vb_fail(err, VB_ERR_NOMEM, "out of memory") : vb_file_write_atomic(lp, b.data, b.len, err);
    vb_buf_free(&b);
    free(lp);
    return st;
}

int cmd_features(int argc, char **argv)
{
    const char *only = NULL, *out = NULL, *format = "libsvm", *part_name = "test";
    long fold_no = 1;
    static const struct option opts[] = {{"pipeline", required_argument, 0, 'p'},
                                         {"out", required_argument, 0, 'o'},
                                         {"format", required_argument, 0, 'f'},
                                         {"part", required_argument, 0, 't'},
                                         {"fold", required_argument, 0, 'k'},
                                         {0, 0, 0, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":p:o:f:t:k:", opts, NULL)) != -1) {
        switch (c) {
        case 'p': only = optarg; break;
        case 'o': out = optarg; break;
        case 'f': format = optarg; break;
        case 't': part_name = optarg; break;
        case 'k':
            if (!vb_parse_long(optarg, &fold_no) || fold_no < 1)
                return cli_usage("features", "--fold takes a fold number from 1, not '%s'", optarg);
            break;
        default: return cli_bad_option("features", c, argv);
        }
    }
    if (optind != argc - 1)
        return cli_usage("features", "expects one spec file, e.g. visbench features SPEC --pipeline NAME --out FILE");
    if (!only)
        return cli_usage("features", "--pipeline NAME is required (the pipeline whose features to write)");
    if (!out)
        return cli_usage("features", "--out FILE is required");
    static const char *const formats[] = {"libsvm", "csv", "npy"}, *const parts[] = {"train", "val", "test"};
    int fmt = -1, part = -1;
    for (int i = 0; i < 3; i++) {
        if (strcmp(format, formats[i]) == 0)
            fmt = i;
        if (strcmp(part_name, parts[i]) == 0)
            part = i;
    }
    if (fmt < 0) {
        const char *near = vb_nearest_name(format, formats, 3);
        return cli_usage("features", "unknown format '%s'%s%s%s; use libsvm, csv or npy", format,
                         near ? " (did you mean '" : "", near ? near : "", near ? "'?)" : "");
    }
    if (part < 0)
        return cli_usage("features", "unknown part '%s'; use train, val or test", part_name);

    vb_error err = {0};
    vb_spec *spec = NULL;
    vb_dataset *ds = NULL;
    vb_split *split = NULL;
    vb_fold_features ff;
    memset(&ff, 0, sizeof ff);
    vb_postchain *pc = NULL;
    float *Ytr = NULL, *Ypart = NULL;
    int *labels = NULL;
    uint8_t *sets = NULL;
    size_t *train_rows = NULL;
    int rc = VB_EXIT_FAIL;
    vb_run_opts ropts = {.only = only};

    if (vb_spec_load(argv[optind], &spec, &err) != VB_OK)
        goto fail;
    const vb_spec_pipeline *sp = vb_spec_find_pipeline(spec, only);
    if (!sp) {
        const char *names[256];
        size_t m = spec->n_pipelines < 256 ? spec->n_pipelines : 256;
        for (size_t i = 0; i < m; i++)
            names[i] = spec->pipelines[i].name;
        const char *near = vb_nearest_name(only, names, m);
        if (near)
            vb_fail(&err, VB_ERR_SPEC, "%s: no pipeline named '%s'; did you mean '%s'?", spec->path, only, near);
        else
            vb_fail(&err, VB_ERR_SPEC, "%s: no pipeline named '%s'", spec->path, only);
        goto fail;
    }
    if (vb_spec_is_ensemble(sp)) {
        vb_fail(&err, VB_ERR_SPEC, "%s:%d:%d: '%s' is an ensemble: it has no features of its own; ask for one of "
                                   "its members' (%s, ...)",
                spec->path, sp->line, sp->col, sp->name, spec->pipelines[sp->members[0]].name);
        goto fail;
    }
    if (vb_pipeline_variants(sp) > 1) {
        vb_buf b;
        vb_buf_init(&b);
        vb_pipeline_variant_describe(sp, 0, &b);
        vb_fail(&err, VB_ERR_SPEC,
                "%s:%d:%d: pipeline '%s' lists several values for its features (%zu variants, e.g. %s); features "
                "writes one matrix: give each feature parameter one value (a copy of the pipeline per value)",
                spec->path, sp->line, sp->col, sp->name, vb_pipeline_variants(sp), b.data ? b.data : "");
        vb_buf_free(&b);
        goto fail;
    }
    if (vb_spec_load_dataset(spec, &ds, &err) != VB_OK)
        goto fail;
    if (vb_spec_split(spec, ds, &split, &err) != VB_OK)
        goto fail;
    if (vb_experiment_check(spec, ds, &ropts, &err) != VB_OK)
        goto fail;
    if ((size_t)fold_no > split->n_folds) {
        vb_fail(&err, VB_ERR_SPEC, "%s: --fold %ld, but the split has %zu fold%s (1 = %s)", spec->path, fold_no,
                split->n_folds, split->n_folds == 1 ? "" : "s", split->folds[0].name);
        goto fail;
    }
    size_t f = (size_t)fold_no - 1;
    const vb_fold *fold = &split->folds[f];
    if (part == PART_VAL && fold->n_val == 0) {
        vb_fail(&err, VB_ERR_SPEC, "%s: the split has no validation part; add validation: 0.1 to split", spec->path);
        goto fail;
    }
    /* The engine's own fit, as run does it on this fold. */
    if (vb_fit_features(spec, sp, ds, fold, f, part == PART_TEST, &ff, &err) != VB_OK ||
        vb_fit_postprocess(sp, &ff, &pc, &Ytr, part == PART_VAL ? &Ypart : NULL, &err) != VB_OK)
        goto fail;
    /* the training part: its images, then their augmented copies (augment:) */
    if (part == PART_TRAIN && !(train_rows = vb_fold_train_rows(fold, &ff, &err)))
        goto fail;
    const size_t *idx = part == PART_TRAIN ? train_rows : part == PART_VAL ? fold->val : fold->test;
    size_t n = part == PART_TRAIN ? ff.n[VB_ROWS_TRAIN] : part == PART_VAL ? fold->n_val : fold->n_test;
    if (part == PART_TEST && vb_postchain_apply(pc, ff.X[VB_ROWS_TEST], n, &Ypart, &err) != VB_OK)
        goto fail;
    const float *rows = part == PART_TRAIN ? Ytr : Ypart;
    if (!(labels = vb_malloc(n ? n : 1, sizeof *labels, &err)))
        goto fail;
    for (size_t i = 0; i < n; i++)
        labels[i] = ds->labels[idx[i]];
    if (ds->task == VB_TASK_MULTILABEL && !(sets = vb_dataset_label_rows(ds, idx, n, &err)))
        goto fail;
    if (write_matrix(out, fmt, rows, labels, sets, (size_t)ds->n_classes, n, pc->dim, &err) != VB_OK)
        goto fail;
    vb_log(VB_LOG_INFO, "%s: %zu rows x %zu features (%s, fold %s, %s) -> %s", sp->name, n, pc->dim, format,
           fold->name, part_name, out);
    rc = VB_EXIT_OK;
    goto done;
fail:
    rc = cli_error(&err);
done:
    free(Ytr);
    free(Ypart);
    free(labels);
    free(sets);
    free(train_rows);
    vb_postchain_free(pc);
    vb_fold_features_free(&ff);
    vb_split_free(split);
    vb_dataset_free(ds);
    vb_spec_free(spec);
    return rc;
}
