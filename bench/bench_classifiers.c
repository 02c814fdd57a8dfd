/* Classifier speed and accuracy on HOG features of Fashion-MNIST.
 *
 *   bench_classifiers [--train N] [--test N] [--svm-train N] [--only a,b,..] [--out DIR]
 *
 * Computes HOG (cell 4, 9 orientations: pipelines/quickstart.yaml) of the
 * first N official training images and the first N test images, standardises
 * them with the training statistics, writes them to DIR/{train,test}_{X,y}.npy
 * for the scikit-learn peer (bench/peers/sklearn_classifiers.py), then trains
 * and tests each classifier, one line each:
 *   RESULT name=knn train_s=... predict_s=... accuracy=... rss_mb=... n_train=... n_test=...
 * Names: knn forest tree boost logreg linear svm kmeans gmm (default: all). svm trains on
 * the first --svm-train rows (default 10000), as the reference figures do. */
#include "visbench/pipeline.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int write_npy(const char *path, const char *descr, const void *data, size_t elem, size_t n, size_t d)
{
    char hdr[256];
    int len = d ? snprintf(hdr, sizeof hdr, "{'descr': '%s', 'fortran_order': False, 'shape': (%zu, %zu), }", descr,
                           n, d)
                : snprintf(hdr, sizeof hdr, "{'descr': '%s', 'fortran_order': False, 'shape': (%zu,), }", descr, n);
    int total = 10 + len + 1, pad = (64 - total % 64) % 64;
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    uint16_t hl = (uint16_t)(len + pad + 1);
    fwrite("\x93NUMPY\x01\x00", 1, 8, f);
    fputc(hl & 0xff, f);
    fputc(hl >> 8, f);
    fwrite(hdr, 1, (size_t)len, f);
    for (int i = 0; i < pad; i++)
        fputc(' ', f);
    fputc('\n', f);
    size_t cnt = n * (d ? d : 1);
    int ok = fwrite(data, elem, cnt, f) == cnt;
    return fclose(f) == 0 && ok ? 0 : -1;
}

typedef struct feats {
    float *X;
    int *y;
    size_t n;
} feats;

static int extract(const vb_dataset *ds, int part, size_t limit, vb_featpipe *fp, feats *out, vb_error *err)
{
    size_t *idx = malloc(ds->n * sizeof *idx), n = 0;
    for (size_t i = 0; i < ds->n && n < limit; i++)
        if (ds->part[i] == part)
            idx[n++] = i;
    out->n = n;
    out->X = malloc(n * fp->dim * sizeof *out->X);
    out->y = malloc(n * sizeof *out->y);
    for (size_t i = 0; i < n; i++)
        out->y[i] = ds->labels[idx[i]];
    vb_dataset_view view;
    vb_imgsrc src;
    vb_imgsrc_dataset(&src, &view, ds, idx, n);
    vb_status st = vb_featpipe_extract(fp, &src, out->X, "bench", err);
    free(idx);
    return st == VB_OK ? 0 : -1;
}

typedef struct bconf {
    const char *name, *clf, *params;
} bconf;

static const bconf configs[] = {
    {"knn", "knn", "{k: 5}"},
    {"forest", "forest", "{n_trees: 100}"},
    {"tree", "tree", "{criterion: gini, max_depth: 0}"},
    {"boost", "boost", "{rounds: 100, eta: 0.3, max_depth: 6}"},
    {"logreg", "logreg", "{C: 1, max_iter: 100}"},
    {"linear", "linear", "{loss: squared_hinge, C: 0.01, epochs: 60, tol: 0.0001}"},
    {"svm", "svm", "{kernel: rbf, C: 10, gamma: scale}"},
    {"kmeans", "kmeans", "{k: 10}"},
    {"gmm", "gmm", "{k: 10}"},
};

static int selected(const char *only, const char *name)
{
    if (!only)
        return 1;
    size_t l = strlen(name);
    for (const char *p = only; (p = strstr(p, name)) != NULL; p += l)
        if ((p == only || p[-1] == ',') && (p[l] == 0 || p[l] == ','))
            return 1;
    return 0;
}

int main(int argc, char **argv)
{
    size_t n_train = 60000, n_test = 10000, n_svm = 10000;
    const char *only = NULL, *out = "build/bench";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--train") == 0 && i + 1 < argc)
            n_train = (size_t)atol(argv[++i]);
        else if (strcmp(argv[i], "--test") == 0 && i + 1 < argc)
            n_test = (size_t)atol(argv[++i]);
        else if (strcmp(argv[i], "--svm-train") == 0 && i + 1 < argc)
            n_svm = (size_t)atol(argv[++i]);
        else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc)
            only = argv[++i];
        else if (strcmp(argv[i], "--out") == 0 && i + 1 < argc)
            out = argv[++i];
        else {
            fprintf(stderr, "usage: bench_classifiers [--train N] [--test N] [--svm-train N] [--only a,b] [--out DIR]\n");
            return 2;
        }
    }
    vb_set_threads(0);
    vb_error err = {0};
    vb_dataset *ds = NULL;
    if (vb_dataset_load_path("datasets/fashion-mnist.yaml", &ds, &err) != VB_OK) {
        fprintf(stderr, "bench_classifiers: %s\n", err.msg);
        return 1;
    }
    const vb_extractor_vt *hog = vb_extractor_find("hog");
    vb_params hp;
    vb_params_parse_text(&hp, &hog->info, "{cell: 4, orientations: 9}", &err);
    vb_spec_pipeline sp = {0};
    sp.name = (char *)"bench";
    sp.n_ext = 1;
    sp.ext = &hog;
    sp.ext_params = &hp;
    vb_prep_chain_init(&sp.prep);
    vb_featpipe *fp = NULL;
    vb_shape in = {ds->fixed_w, ds->fixed_h, 1};
    feats tr = {0}, te = {0};
    double t0 = vb_now();
    if (vb_featpipe_new(&sp, in, &fp, &err) != VB_OK || extract(ds, VB_PART_TRAIN, n_train, fp, &tr, &err) ||
        extract(ds, VB_PART_TEST, n_test, fp, &te, &err)) {
        fprintf(stderr, "bench_classifiers: %s\n", err.msg);
        return 1;
    }
    size_t d = fp->dim;
    /* standardise with the training statistics */
    for (size_t j = 0; j < d; j++) {
        double s = 0, q = 0;
        for (size_t i = 0; i < tr.n; i++)
            s += tr.X[i * d + j];
        double mean = s / (double)tr.n;
        for (size_t i = 0; i < tr.n; i++)
            q += (tr.X[i * d + j] - mean) * (tr.X[i * d + j] - mean);
        double sd = sqrt(q / (double)tr.n);
        float inv = sd > 1e-12 ? (float)(1 / sd) : 1.0f;
        for (size_t i = 0; i < tr.n; i++)
            tr.X[i * d + j] = (float)(tr.X[i * d + j] - mean) * inv;
        for (size_t i = 0; i < te.n; i++)
            te.X[i * d + j] = (float)(te.X[i * d + j] - mean) * inv;
    }
    printf("features: hog cell 4, %zu dims, %zu train + %zu test images in %.1f s\n", d, tr.n, te.n, vb_now() - t0);
    char path[1024];
    int wr = 0;
    snprintf(path, sizeof path, "%s/train_X.npy", out);
    wr |= write_npy(path, "<f4", tr.X, 4, tr.n, d);
    snprintf(path, sizeof path, "%s/train_y.npy", out);
    wr |= write_npy(path, "<i4", tr.y, 4, tr.n, 0);
    snprintf(path, sizeof path, "%s/test_X.npy", out);
    wr |= write_npy(path, "<f4", te.X, 4, te.n, d);
    snprintf(path, sizeof path, "%s/test_y.npy", out);
    wr |= write_npy(path, "<i4", te.y, 4, te.n, 0);
    if (wr) {
        fprintf(stderr, "bench_classifiers: cannot write the .npy files in %s\n", out);
        return 1;
    }
    fflush(stdout);
    int *pred = malloc(te.n * sizeof *pred);
    for (size_t c = 0; c < sizeof configs / sizeof configs[0]; c++) {
        const bconf *bc = &configs[c];
        if (!selected(only, bc->name))
            continue;
        const vb_classifier_vt *vt = vb_classifier_find(bc->clf);
        vb_params p;
        vb_classifier *clf = NULL;
        if (vb_params_parse_text(&p, &vt->info, bc->params, &err) != VB_OK ||
            vb_classifier_new(vt, &p, &clf, &err) != VB_OK) {
            fprintf(stderr, "bench_classifiers: %s\n", err.msg);
            return 1;
        }
        size_t ntr = strcmp(bc->name, "svm") == 0 && n_svm < tr.n ? n_svm : tr.n;
        vb_traindata td = {.X = tr.X, .y = tr.y, .n = ntr, .d = d, .n_classes = 10, .seed = 42};
        vb_rss_reset_peak();
        double a = vb_now();
        if (vb_classifier_train(clf, &td, &err) != VB_OK) {
            fprintf(stderr, "bench_classifiers: %s: %s\n", bc->name, err.msg);
            return 1;
        }
        double b = vb_now();
        if (vb_classifier_predict(clf, te.X, te.n, d, pred, NULL, &err) != VB_OK) {
            fprintf(stderr, "bench_classifiers: %s: %s\n", bc->name, err.msg);
            return 1;
        }
        double e = vb_now();
        size_t ok = 0;
        for (size_t i = 0; i < te.n; i++)
            ok += pred[i] == te.y[i];
        printf("RESULT name=%s train_s=%.3f predict_s=%.3f accuracy=%.4f rss_mb=%.0f n_train=%zu n_test=%zu\n",
               bc->name, b - a, e - b, (double)ok / (double)te.n, (double)vb_rss_peak_kb() / 1024.0, ntr, te.n);
        fflush(stdout);
        vb_classifier_free(clf);
        vb_params_free(&p);
    }
    free(pred);
    free(tr.X);
    free(tr.y);
    free(te.X);
    free(te.y);
    vb_featpipe_free(fp);
    vb_params_free(&hp);
    vb_dataset_free(ds);
    return 0;
}
