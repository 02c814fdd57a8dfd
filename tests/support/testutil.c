#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "testutil.h"
#include "visbench/data.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void tu_write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        fail_msg("cannot create %s", path);
    if (len && fwrite(data, 1, len, f) != len)
        fail_msg("cannot write %s", path);
    fclose(f);
}

void tu_write_text(const char *path, const char *text) { tu_write_file(path, text, strlen(text)); }

char *tu_read_file(const char *path, size_t *len)
{
    char *data = NULL;
    vb_error err = {0};
    if (vb_file_read(path, &data, len, &err) != VB_OK)
        fail_msg("%s", err.msg);
    return data;
}

int tu_files_equal(const char *a, const char *b)
{
    size_t la, lb;
    char *da = tu_read_file(a, &la), *db = tu_read_file(b, &lb);
    int eq = la == lb && memcmp(da, db, la) == 0;
    free(da);
    free(db);
    return eq;
}

int tu_exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

void tu_remove_tree(const char *path)
{
    char *cmd = vb_asprintf("rm -rf '%s'", path);
    if (!cmd || system(cmd) != 0)
        fail_msg("cannot remove %s", path);
    free(cmd);
}

float *tu_blobs(int k, size_t n_per, size_t d, double sep, uint64_t seed, int **y)
{
    size_t n = (size_t)k * n_per;
    float *X = malloc(n * d * sizeof *X);
    *y = malloc(n * sizeof **y);
    vb_rng *rng = vb_rng_new(seed);
    assert_non_null(X);
    assert_non_null(*y);
    assert_non_null(rng);
    for (size_t i = 0; i < n; i++) {
        int c = (int)(i % (size_t)k);
        (*y)[i] = c;
        for (size_t j = 0; j < d; j++) {
            double centre = 0;
            if (j == (size_t)c % d)
                centre = sep * (1 + (size_t)c / d);
            X[i * d + j] = (float)(centre + vb_rng_gauss(rng, 1.0));
        }
    }
    vb_rng_free(rng);
    return X;
}

vb_taxonomy *tu_taxonomy(int n_leaves, int n_nodes, const char *const *names, const int *parent)
{
    vb_error err = {0};
    vb_taxonomy *t = vb_taxonomy_new(n_leaves, n_nodes, &err);
    if (!t)
        fail_msg("%s", err.msg);
    for (int i = 0; i < n_nodes; i++) {
        t->names[i] = names[i] ? vb_strdup(names[i], &err) : NULL;
        if (names[i] && !t->names[i])
            fail_msg("%s", err.msg);
        t->parent[i] = parent[i];
    }
    return t;
}

vb_dataset *tu_synth(const vb_synth_opts *opts, const char *dir)
{
    vb_dataset *ds = NULL;
    vb_error err = {0};
    if (vb_synth_write(opts, dir, &err) != VB_OK || vb_dataset_load_path(dir, &ds, &err) != VB_OK)
        fail_msg("%s: %s", dir, err.msg);
    return ds;
}

vb_synth_opts tu_synth_opts(int classes, int per_class, int size, uint64_t seed)
{
    vb_synth_opts o = vb_synth_defaults;
    o.classes = classes;
    o.per_class = per_class;
    o.size = size;
    o.seed = seed;
    return o;
}
