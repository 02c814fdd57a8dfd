/* Directory listing and parallel decoding of image files. */
#include "internal.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

const char *vb_data_missing_hint(const char *path)
{
    if (strncmp(path, "/usr/share/datasets/", 20) == 0)
        return "; the dataset comes from a Debian package: run make deps (or apt-get install dataset-<name>)";
    return "; check the path (relative paths start at the descriptor's folder)";
}

vb_status vb_data_grow(void *arr, size_t *cap, size_t n, size_t size, size_t first, vb_error *err)
{
    if (n < *cap)
        return VB_OK;
    size_t nc = *cap ? *cap * 2 : first, bytes;
    if (nc <= n)
        nc = n + 1;
    void *old, *p;
    memcpy(&old, arr, sizeof old); /* arr is a T **, whatever T */
    if (!vb_mul_ok(nc, size, &bytes) || !(p = realloc(old, bytes)))
        return vb_fail(err, VB_ERR_NOMEM, "out of memory");
    memcpy(arr, &p, sizeof p);
    *cap = nc;
    return VB_OK;
}

void vb_data_free_names(char **names, int *is_dir, size_t n)
{
    for (size_t i = 0; names && i < n; i++)
        free(names[i]);
    free(names);
    free(is_dir);
}

vb_status vb_data_list_dir(const char *dir, char ***names_out, int **is_dir_out, size_t *n_out, vb_error *err)
{
    *names_out = NULL;
    *is_dir_out = NULL;
    *n_out = 0;
    DIR *d = opendir(dir);
    if (!d)
        return vb_fail(err, VB_ERR_IO, "%s: cannot open folder: %s", dir, strerror(errno));
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    vb_status st = VB_OK;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            char **nn = realloc(names, cap * sizeof *nn);
            if (!nn) {
                st = vb_fail(err, VB_ERR_NOMEM, "out of memory");
                break;
            }
            names = nn;
        }
        if (!(names[n] = strdup(e->d_name))) {
            st = vb_fail(err, VB_ERR_NOMEM, "out of memory");
            break;
        }
        n++;
    }
    closedir(d);
    int *is_dir = st == VB_OK ? calloc(n ? n : 1, sizeof *is_dir) : NULL;
    if (st == VB_OK && !is_dir)
        st = vb_fail(err, VB_ERR_NOMEM, "out of memory");
    if (st != VB_OK) {
        vb_data_free_names(names, is_dir, n);
        return st;
    }
    if (n) /* names is NULL for an empty folder */
        qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; i < n; i++) {
        char *full = vb_path_join(dir, names[i]);
        struct stat sb;
        is_dir[i] = full && stat(full, &sb) == 0 && S_ISDIR(sb.st_mode);
        free(full);
    }
    *names_out = names;
    *is_dir_out = is_dir;
    *n_out = n;
    return VB_OK;
}

vb_status vb_data_decode_files(const vb_file_item *items, size_t n, int with_part, int skip_invalid,
                               vb_dataset **out, size_t *src, vb_error *err)
{
    *out = NULL;
    uint8_t **px = vb_calloc(n, sizeof *px, err);
    int *wh = vb_calloc(n, 3 * sizeof *wh, err);
    char **msgs = vb_calloc(n, sizeof *msgs, err);
    if (!px || !wh || !msgs) {
        free(px);
        free(wh);
        free(msgs);
        return VB_ERR_NOMEM;
    }
    /* Decoding is independent per file; messages are kept per file so the
     * error reported is the first in order, whatever the thread timing. */
#pragma omp parallel for schedule(dynamic, 16)
    for (size_t i = 0; i < n; i++) {
        vb_error e = {0};
        if (vb_image_decode_u8(items[i].path, &px[i], &wh[3 * i], &wh[3 * i + 1], &wh[3 * i + 2], &e) != VB_OK)
            msgs[i] = strdup(e.msg[0] ? e.msg : "cannot decode");
        else if (wh[3 * i] > 65535 || wh[3 * i + 1] > 65535) {
            msgs[i] = vb_asprintf("%s: image too large (%dx%d)", items[i].path, wh[3 * i], wh[3 * i + 1]);
            free(px[i]);
            px[i] = NULL;
        }
    }
    vb_status st = VB_OK;
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        if (!px[i] && !msgs[i]) {
            st = vb_fail(err, VB_ERR_NOMEM, "out of memory decoding %s", items[i].path);
            break;
        }
        if (msgs[i]) {
            if (!skip_invalid) {
                st = vb_fail(err, VB_ERR_FORMAT, "%s (set skip_invalid: true in the dataset to skip such files)",
                             msgs[i]);
                break;
            }
            vb_log(VB_LOG_WARN, "skipping %s", msgs[i]);
            continue;
        }
        kept++;
    }
    vb_dataset *ds = NULL;
    if (st == VB_OK && !(ds = vb_dataset_new(kept, with_part, err)))
        st = VB_ERR_NOMEM;
    if (st == VB_OK && !(ds->paths = vb_calloc(kept, sizeof *ds->paths, err)))
        st = VB_ERR_NOMEM;
    size_t j = 0;
    for (size_t i = 0; st == VB_OK && i < n; i++) {
        if (!px[i])
            continue;
        ds->px[j] = px[i];
        px[i] = NULL;
        ds->w[j] = (uint16_t)wh[3 * i];
        ds->h[j] = (uint16_t)wh[3 * i + 1];
        ds->c[j] = (uint8_t)wh[3 * i + 2];
        ds->labels[j] = items[i].label;
        if (src)
            src[j] = i;
        if (with_part)
            ds->part[j] = items[i].part;
        if (!(ds->paths[j] = vb_strdup(items[i].path, err)))
            st = VB_ERR_NOMEM;
        j++;
    }
    for (size_t i = 0; i < n; i++) {
        free(px[i]);
        free(msgs[i]);
    }
    free(px);
    free(wh);
    free(msgs);
    if (st != VB_OK) {
        vb_dataset_free(ds);
        return st;
    }
    *out = ds;
    return VB_OK;
}
