/* PCA fit time of visbench's solvers on a float32 matrix (bench/pca.sh).
 *
 *   bench_pca FILE.npy --components K [--solver auto|full|gram|randomized] [--repeat R] [--threads N]
 *
 * FILE.npy: a C-ordered float32 2-D array (rows x features), the file the
 * scikit-learn peer (bench/peers/sklearn_pca.py) reads. Fits vb_pca_top R
 * times (the best time counts), then prints one line:
 *   RESULT solver=randomized ran=randomized n=... d=... k=... seconds=... evr=... passes=... rss_mb=...
 * evr: the fraction of the total variance the k components explain; rss_mb:
 * the process's peak resident memory (the matrix included). */
#include "../src/core/linalg.h"
#include "visbench/core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The float32 matrix of a .npy file (version 1 or 2 header). */
static float *read_npy(const char *path, size_t *n, size_t *d)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    unsigned char magic[10];
    float *X = NULL;
    if (fread(magic, 1, 8, f) != 8 || memcmp(magic, "\x93NUMPY", 6) != 0)
        goto out;
    size_t hl = 0;
    if (magic[6] == 1) {
        if (fread(magic, 1, 2, f) != 2)
            goto out;
        hl = magic[0] | (size_t)magic[1] << 8;
    } else {
        if (fread(magic, 1, 4, f) != 4)
            goto out;
        hl = magic[0] | (size_t)magic[1] << 8 | (size_t)magic[2] << 16 | (size_t)magic[3] << 24;
    }
    char *hdr = calloc(hl + 1, 1);
    if (!hdr || fread(hdr, 1, hl, f) != hl) {
        free(hdr);
        goto out;
    }
    const char *shape = strstr(hdr, "'shape': (");
    int ok = strstr(hdr, "'<f4'") && strstr(hdr, "'fortran_order': False") && shape &&
             sscanf(shape, "'shape': (%zu, %zu)", n, d) == 2;
    free(hdr);
    if (!ok)
        goto out;
    X = malloc(*n * *d * sizeof *X);
    if (X && fread(X, sizeof *X, *n * *d, f) != *n * *d) {
        free(X);
        X = NULL;
    }
out:
    fclose(f);
    return X;
}

int main(int argc, char **argv)
{
    const char *path = NULL, *solver_name = "auto";
    size_t k = 0;
    int repeat = 1, threads = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--components") == 0 && i + 1 < argc)
            k = (size_t)atol(argv[++i]);
        else if (strcmp(argv[i], "--solver") == 0 && i + 1 < argc)
            solver_name = argv[++i];
        else if (strcmp(argv[i], "--repeat") == 0 && i + 1 < argc)
            repeat = atoi(argv[++i]);
        else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (argv[i][0] != '-' && !path)
            path = argv[i];
        else
            path = NULL, i = argc;
    }
    int solver = -1;
    for (int s = 0; s < 4; s++)
        if (strcmp(solver_name, vb_pca_solver_names[s]) == 0)
            solver = s;
    if (!path || !k || solver < 0 || repeat < 1) {
        fprintf(stderr, "usage: bench_pca FILE.npy --components K [--solver auto|full|gram|randomized] [--repeat R] "
                        "[--threads N]\n");
        return 2;
    }
    vb_set_threads(threads); /* 0: all cores */
    size_t n = 0, d = 0;
    float *X = read_npy(path, &n, &d);
    if (!X) {
        fprintf(stderr, "bench_pca: %s: not a readable C-ordered float32 2-D .npy file\n", path);
        return 1;
    }
    double best = 1e300, evr = 0;
    vb_pca p = {0};
    for (int r = 0; r < repeat; r++) {
        vb_pca_free(&p);
        vb_error err = {0};
        double t0 = vb_now();
        if (vb_pca_top(X, n, d, k, 0, (vb_pca_solver)solver, &p, &err) != VB_OK) {
            fprintf(stderr, "bench_pca: %s\n", err.msg);
            return 1;
        }
        double t = vb_now() - t0;
        best = t < best ? t : best;
    }
    double kept = 0;
    for (size_t c = 0; c < p.k; c++)
        kept += p.values[c];
    evr = p.total > 0 ? kept / p.total : 1.0;
    printf("RESULT solver=%s ran=%s n=%zu d=%zu k=%zu seconds=%.4f evr=%.8f passes=%d rss_mb=%.0f\n", solver_name,
           vb_pca_solver_names[p.solver], n, d, k, best, evr, p.passes, vb_rss_peak_kb() / 1024.0);
    vb_pca_free(&p);
    free(X);
    return 0;
}
