/* The dataset container, descriptor parsing and the loader registry. */
#include "visbench/data.h"
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

const char *vb_task_name(vb_task t)
{
    switch (t) {
    case VB_TASK_SINGLE: return "single-label";
    case VB_TASK_MULTILABEL: return "multilabel";
    case VB_TASK_HIER: return "hierarchical";
    }
    return "unknown";
}

int vb_task_parse(const char *s, vb_task *t)
{
    static const vb_task all[] = {VB_TASK_SINGLE, VB_TASK_MULTILABEL, VB_TASK_HIER};
    for (size_t i = 0; s && i < sizeof all / sizeof all[0]; i++)
        if (strcmp(s, vb_task_name(all[i])) == 0) {
            *t = all[i];
            return 1;
        }
    return 0;
}

vb_dataset *vb_dataset_new(size_t n, int with_part, vb_error *err)
{
    vb_dataset *ds = vb_calloc(1, sizeof *ds, err);
    if (!ds)
        return NULL;
    ds->n = n;
    if (!(ds->labels = vb_calloc(n, sizeof *ds->labels, err)) || !(ds->px = vb_calloc(n, sizeof *ds->px, err)) ||
        !(ds->w = vb_calloc(n, sizeof *ds->w, err)) || !(ds->h = vb_calloc(n, sizeof *ds->h, err)) ||
        !(ds->c = vb_calloc(n, sizeof *ds->c, err)) ||
        (with_part && !(ds->part = vb_calloc(n, sizeof *ds->part, err)))) {
        vb_dataset_free(ds);
        return NULL;
    }
    return ds;
}

vb_status vb_data_check_claim(const char *path, size_t n, size_t px_bytes, vb_error *err)
{
    if (n <= VB_DATA_MAX_IMAGES && px_bytes && n <= VB_DATA_MAX_BYTES / px_bytes)
        return VB_OK;
    return vb_fail(err, VB_ERR_FORMAT,
                   "%s: claims %zu images of %zu bytes each, more than a dataset may hold (%u images, %zu bytes "
                   "of pixels); the file is corrupt or not what it seems",
                   path, n, px_bytes, VB_DATA_MAX_IMAGES, VB_DATA_MAX_BYTES);
}

void vb_dataset_free(vb_dataset *ds)
{
    if (!ds)
        return;
    if (!ds->block && ds->px)
        for (size_t i = 0; i < ds->n; i++)
            free(ds->px[i]);
    free(ds->block);
    free(ds->px);
    if (ds->paths)
        for (size_t i = 0; i < ds->n; i++)
            free(ds->paths[i]);
    free(ds->paths);
    for (size_t k = 0; k < ds->n_files; k++)
        free(ds->files[k]);
    free(ds->files);
    free(ds->file_of);
    free(ds->item_of);
    for (int k = 0; ds->classes && k < ds->n_classes; k++)
        free(ds->classes[k]);
    free(ds->classes);
    free(ds->labels);
    free(ds->part);
    free(ds->w);
    free(ds->h);
    free(ds->c);
    free(ds->Y);
    vb_taxonomy_free(ds->tax);
    for (size_t g = 0; ds->group_names && g < ds->n_groups; g++)
        free(ds->group_names[g]);
    free(ds->group_names);
    free(ds->group);
    free(ds->group_column);
    free(ds->name);
    free(ds->source);
    free(ds);
}

vb_status vb_dataset_add_file(vb_dataset *ds, const char *path, size_t first, size_t n, vb_error *err)
{
    if (first > ds->n || n > ds->n - first || n > UINT32_MAX || ds->n_files >= UINT32_MAX)
        return vb_fail(err, VB_ERR_INTERNAL, "%s: samples %zu + %zu out of range (%zu samples)", path, first, n,
                       ds->n);
    if (!ds->file_of && (!(ds->file_of = vb_calloc(ds->n ? ds->n : 1, sizeof *ds->file_of, err)) ||
                         !(ds->item_of = vb_calloc(ds->n ? ds->n : 1, sizeof *ds->item_of, err))))
        return VB_ERR_NOMEM;
    char **nf = realloc(ds->files, (ds->n_files + 1) * sizeof *nf);
    if (!nf)
        return vb_fail(err, VB_ERR_NOMEM, "out of memory");
    ds->files = nf;
    if (!(nf[ds->n_files] = vb_strdup(path, err)))
        return VB_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        ds->file_of[first + i] = (uint32_t)ds->n_files;
        ds->item_of[first + i] = (uint32_t)i;
    }
    ds->n_files++;
    return VB_OK;
}

void vb_dataset_finish(vb_dataset *ds)
{
    ds->fixed_w = ds->fixed_h = ds->fixed_c = 0;
    if (ds->n == 0)
        return;
    int w = ds->w[0], h = ds->h[0], c = ds->c[0];
    for (size_t i = 1; i < ds->n; i++) {
        if (ds->w[i] != w || ds->h[i] != h)
            w = h = 0;
        if (ds->c[i] != c)
            c = 0;
    }
    ds->fixed_w = w;
    ds->fixed_h = h;
    ds->fixed_c = c;
}

vb_status vb_dataset_image(const vb_dataset *ds, size_t i, vb_image *dst, vb_error *err)
{
    if (i >= ds->n)
        return vb_fail(err, VB_ERR_INTERNAL, "sample %zu out of range (%zu samples)", i, ds->n);
    return vb_image_from_u8(ds->px[i], ds->w[i], ds->h[i], ds->c[i], dst, err);
}

uint64_t vb_dataset_hash(const vb_dataset *ds)
{
    uint64_t h = vb_hash64(&ds->n, sizeof ds->n, 0);
    h = vb_hash64(ds->labels, ds->n * sizeof *ds->labels, h);
    if (ds->part)
        h = vb_hash64(ds->part, ds->n, h);
    /* Label sets and the taxonomy; a single-label dataset hashes as it did
     * before there were tasks, so stores keep recognising it. */
    if (ds->task != VB_TASK_SINGLE) {
        uint32_t task = (uint32_t)ds->task;
        h = vb_hash64(&task, sizeof task, h);
    }
    if (ds->Y)
        h = vb_hash64(ds->Y, ds->n * (size_t)ds->n_classes, h);
    if (ds->tax) {
        uint64_t th = vb_taxonomy_hash(ds->tax);
        h = vb_hash64(&th, sizeof th, h);
    }
    if (ds->group) { /* (a dataset without groups hashes as before them) */
        uint64_t ng = ds->n_groups;
        h = vb_hash64(&ng, sizeof ng, h);
        h = vb_hash64(ds->group, ds->n * sizeof *ds->group, h);
    }
    for (size_t i = 0; i < ds->n; i++) {
        uint32_t shape[3] = {ds->w[i], ds->h[i], ds->c[i]};
        h = vb_hash64(shape, sizeof shape, h);
        /* Pixels contribute through a cheap word-wise mix; FNV over every byte
         * of 70k images would cost more than loading them. */
        size_t len = (size_t)ds->w[i] * ds->h[i] * ds->c[i];
        uint64_t acc = 0x9E3779B97F4A7C15ull;
        const uint8_t *p = ds->px[i];
        size_t j = 0;
        for (; j + 8 <= len; j += 8) {
            uint64_t x;
            memcpy(&x, p + j, 8);
            acc = (acc ^ x) * 0xff51afd7ed558ccdull;
            acc ^= acc >> 29;
        }
        for (; j < len; j++)
            acc = (acc ^ p[j]) * 0x100000001b3ull;
        h = vb_hash64(&acc, sizeof acc, h);
    }
    return h;
}

void vb_dataset_class_counts(const vb_dataset *ds, int part, size_t *counts)
{
    size_t K = (size_t)ds->n_classes;
    memset(counts, 0, K * sizeof *counts);
    for (size_t i = 0; i < ds->n; i++) {
        if (part != VB_PART_NONE && !(ds->part && ds->part[i] == part))
            continue;
        if (ds->Y) /* multilabel: the images that carry each label */
            for (size_t k = 0; k < K; k++)
                counts[k] += ds->Y[i * K + k];
        else
            counts[ds->labels[i]]++;
    }
}

vb_status vb_dataset_check_classes(const vb_dataset *ds, const char *where, vb_error *err)
{
    size_t *counts = vb_calloc((size_t)ds->n_classes, sizeof *counts, err);
    if (!counts)
        return VB_ERR_NOMEM;
    vb_dataset_class_counts(ds, ds->part ? VB_PART_TRAIN : VB_PART_NONE, counts);
    vb_status st = VB_OK;
    for (int k = 0; k < ds->n_classes && st == VB_OK; k++)
        if (counts[k] == 0 && ds->Y)
            st = vb_fail(err, VB_ERR_DATA,
                         "%s: label '%s' is on no readable training image; add images with it or remove it", where,
                         ds->classes[k]);
        else if (counts[k] == 0)
            st = vb_fail(err, VB_ERR_DATA, "%s: class '%s' has no readable training images; add images or remove it",
                         where, ds->classes[k]);
    free(counts);
    return st;
}

static int cmp_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

vb_status vb_dataset_set_groups(vb_dataset *ds, const char *const *names, const char *column, vb_error *err)
{
    size_t n = ds->n;
    const char **sorted = vb_calloc(n ? n : 1, sizeof *sorted, err);
    uint32_t *group = vb_calloc(n ? n : 1, sizeof *group, err);
    char **distinct = vb_calloc(n ? n : 1, sizeof *distinct, err);
    char *col = vb_strdup(column ? column : "group", err);
    size_t m = 0;
    vb_status st = sorted && group && distinct && col ? VB_OK : VB_ERR_NOMEM;
    if (st == VB_OK) {
        memcpy(sorted, names, n * sizeof *sorted);
        qsort(sorted, n, sizeof *sorted, cmp_name);
    }
    for (size_t i = 0; st == VB_OK && i < n; i++)
        if ((i == 0 || strcmp(sorted[i], sorted[i - 1]) != 0) && !(distinct[m++] = vb_strdup(sorted[i], err)))
            st = VB_ERR_NOMEM;
    for (size_t i = 0; st == VB_OK && i < n; i++) {
        char *const *at = bsearch(&names[i], distinct, m, sizeof *distinct, cmp_name);
        group[i] = (uint32_t)(at - distinct);
    }
    free(sorted);
    if (st != VB_OK) {
        for (size_t g = 0; g < m; g++)
            free(distinct[g]);
        free(distinct);
        free(group);
        free(col);
        return st;
    }
    for (size_t g = 0; ds->group_names && g < ds->n_groups; g++)
        free(ds->group_names[g]);
    free(ds->group_names);
    free(ds->group);
    free(ds->group_column);
    ds->group = group;
    ds->group_names = distinct;
    ds->n_groups = m;
    ds->group_column = col;
    return VB_OK;
}

vb_status vb_dataset_set_classes(vb_dataset *ds, const char *const *names, int n, vb_error *err)
{
    char **c = vb_calloc((size_t)n, sizeof *c, err);
    if (!c)
        return VB_ERR_NOMEM;
    for (int k = 0; k < n; k++)
        if (!(c[k] = vb_strdup(names[k], err))) {
            for (int j = 0; j < k; j++)
                free(c[j]);
            free(c);
            return VB_ERR_NOMEM;
        }
    for (int k = 0; ds->classes && k < ds->n_classes; k++)
        free(ds->classes[k]);
    free(ds->classes);
    ds->classes = c;
    ds->n_classes = n;
    return VB_OK;
}

vb_status vb_dataset_classes_from_params(vb_dataset *ds, const vb_params *p, int n_label_values, vb_error *err)
{
    const vb_pvalue *v = vb_param(p, "classes");
    if (v && v->given) {
        if ((int)v->n < n_label_values)
            return vb_param_fail(p, "classes", err, "lists %zu class names but the labels go up to %d",
                                 v->n, n_label_values - 1);
        for (size_t i = 0; i < v->n; i++)
            for (size_t j = 0; j < i; j++)
                if (strcmp(v->strs[i], v->strs[j]) == 0)
                    return vb_param_fail(p, "classes", err, "class name '%s' appears twice", v->strs[i]);
        return vb_dataset_set_classes(ds, (const char *const *)v->strs, (int)v->n, err);
    }
    char **names = vb_calloc((size_t)n_label_values, sizeof *names, err);
    if (!names)
        return VB_ERR_NOMEM;
    vb_status st = VB_OK;
    for (int k = 0; k < n_label_values && st == VB_OK; k++)
        if (!(names[k] = vb_asprintf("%d", k)))
            st = vb_fail(err, VB_ERR_NOMEM, "out of memory");
    if (st == VB_OK)
        st = vb_dataset_set_classes(ds, (const char *const *)names, n_label_values, err);
    for (int k = 0; k < n_label_values; k++)
        free(names[k]);
    free(names);
    return st;
}

/* ---- registry ---------------------------------------------------------- */

extern const vb_loader_vt vb_loader_idx, vb_loader_cifar10, vb_loader_folder, vb_loader_csv;

static const vb_loader_vt *const loaders[] = {&vb_loader_folder, &vb_loader_idx, &vb_loader_cifar10,
                                              &vb_loader_csv};

const vb_loader_vt *const *vb_loaders(size_t *n)
{
    *n = sizeof loaders / sizeof loaders[0];
    return loaders;
}

const vb_loader_vt *vb_loader_find(const char *format)
{
    return vb_plugin_find((const void *const *)loaders, sizeof loaders / sizeof loaders[0], format);
}

vb_status vb_dataset_load_node(const vb_node *node, const char *base_dir, vb_dataset **out, vb_error *err)
{
    *out = NULL;
    vb_status st = vb_node_expect(node, VB_NODE_MAP, "a dataset descriptor", err);
    if (st != VB_OK)
        return st;
    const vb_node *fmt = vb_node_get(node, "format");
    if (!fmt)
        return vb_node_fail(node, err, "the dataset needs 'format' (one of: folder, idx, cifar10, csv)");
    const char *format;
    if ((st = vb_node_str(fmt, "format", &format, err)) != VB_OK)
        return st;
    const vb_loader_vt *ld = vb_loader_find(format);
    if (!ld) {
        const char *names[8];
        size_t n;
        const vb_loader_vt *const *all = vb_loaders(&n);
        for (size_t i = 0; i < n; i++)
            names[i] = all[i]->info.name;
        const char *near = vb_nearest_name(format, names, n);
        if (near)
            return vb_node_fail(fmt, err, "unknown dataset format '%s'; did you mean '%s'?", format, near);
        return vb_node_fail(fmt, err, "unknown dataset format '%s' (formats: folder, idx, cifar10, csv)", format);
    }
    const vb_node *name = vb_node_get(node, "name");
    const char *name_text = NULL;
    if (name && (st = vb_node_str(name, "name", &name_text, err)) != VB_OK)
        return st;

    /* The loader's parameters are the descriptor's keys other than name and
     * format: parse them from a view of the mapping without those two... */
    vb_node view = *node;
    view.keys = calloc(node->n ? node->n : 1, sizeof *view.keys);
    view.items = calloc(node->n ? node->n : 1, sizeof *view.items);
    if (!view.keys || !view.items) {
        free(view.keys);
        free(view.items);
        return vb_fail(err, VB_ERR_NOMEM, "out of memory");
    }
    view.n = 0;
    /* ... and without hierarchy, which applies to every format (below). */
    const vb_node *hier = vb_node_get(node, "hierarchy");
    for (size_t i = 0; i < node->n; i++)
        if (strcmp(node->keys[i]->text, "name") != 0 && strcmp(node->keys[i]->text, "format") != 0 &&
            strcmp(node->keys[i]->text, "hierarchy") != 0) {
            view.keys[view.n] = node->keys[i];
            view.items[view.n++] = node->items[i];
        }
    vb_params p;
    st = vb_params_parse(&p, &ld->info, &view, 0, err);
    free(view.keys);
    free(view.items);
    if (st != VB_OK)
        return st;
    vb_dataset *ds = NULL;
    st = ld->load(&p, base_dir, &ds, err);
    vb_params_free(&p);
    if (st != VB_OK)
        return st;
    if (ds->n == 0) {
        vb_dataset_free(ds);
        return vb_node_fail(node, err, "the dataset has no images");
    }
    if (hier && (st = vb_data_hierarchy(hier, ds, err)) != VB_OK) {
        vb_dataset_free(ds);
        return st;
    }
    free(ds->name);
    ds->name = vb_strdup(name_text ? name_text : format, err);
    free(ds->source);
    ds->source = vb_strdup(node->file, err);
    if (!ds->name || !ds->source) {
        vb_dataset_free(ds);
        return VB_ERR_NOMEM;
    }
    vb_dataset_finish(ds);
    *out = ds;
    return VB_OK;
}

vb_status vb_dataset_load_path(const char *path, vb_dataset **out, vb_error *err)
{
    *out = NULL;
    struct stat sb;
    if (stat(path, &sb) != 0)
        return vb_fail(err, VB_ERR_IO, "%s: no such file or directory; give a dataset descriptor "
                                       "(datasets/*.yaml) or an image folder with one sub-folder per class",
                       path);
    vb_status st;
    if (S_ISDIR(sb.st_mode)) {
        /* A folder that describes itself (dataset synth writes one) is
         * loaded through its descriptor. */
        char *desc = vb_path_join(path, "dataset.yaml");
        struct stat ds;
        if (desc && stat(desc, &ds) == 0 && S_ISREG(ds.st_mode)) {
            vb_status dst = vb_dataset_load_path(desc, out, err);
            free(desc);
            return dst;
        }
        free(desc);
        /* A bare folder: one sub-folder per class. */
        vb_doc *doc = NULL;
        vb_buf q;
        vb_buf_init(&q);
        vb_buf_puts(&q, "{format: folder, path: ");
        vb_buf_json_str(&q, path);
        vb_buf_puts(&q, "}");
        if (q.failed) {
            vb_buf_free(&q);
            return vb_fail(err, VB_ERR_NOMEM, "out of memory");
        }
        st = vb_doc_load_string(q.data, path, &doc, err);
        vb_buf_free(&q);
        if (st == VB_OK)
            st = vb_dataset_load_node(doc->root, ".", out, err);
        vb_doc_free(doc);
        if (st == VB_OK) {
            /* The folder's own name, without trailing slashes ("data/pets/" is "pets"). */
            size_t end = strlen(path);
            while (end > 1 && path[end - 1] == '/')
                end--;
            size_t start = end;
            while (start > 0 && path[start - 1] != '/')
                start--;
            char *nm = start < end ? strndup(path + start, end - start) : strdup(path);
            if (nm) {
                free((*out)->name);
                (*out)->name = nm;
            }
        }
        return st;
    }
    vb_doc *doc = NULL;
    if ((st = vb_doc_load_file(path, &doc, err)) != VB_OK)
        return st;
    if (!doc->root) {
        vb_doc_free(doc);
        return vb_fail(err, VB_ERR_SPEC, "%s: the descriptor is empty", path);
    }
    char *dir = vb_path_dirname(path);
    if (!dir) {
        vb_doc_free(doc);
        return vb_fail(err, VB_ERR_NOMEM, "out of memory");
    }
    st = vb_dataset_load_node(doc->root, dir, out, err);
    free(dir);
    vb_doc_free(doc);
    return st;
}
