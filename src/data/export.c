/* Writing a dataset out as PNG files and CSV manifests. A multilabel
 * dataset's manifest holds label sets (multilabel: true); a hierarchical
 * one's descriptor holds its hierarchy; a grouped one's manifest a group
 * column (group: COLUMN), so that the export reads back as the same dataset
 * (the same hash). */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Multilabel: a separator no class name holds, or NULL. Labels are trimmed
 * when read, so a name with white space at an end cannot be written. */
static vb_status label_separator(const vb_dataset *ds, const char **sep, vb_error *err)
{
    static const char *const cand[] = {";", "|", "+", "&", "^", "~"};
    *sep = NULL;
    for (int k = 0; k < ds->n_classes; k++) {
        const char *c = ds->classes[k];
        size_t len = strlen(c);
        if (!len || strchr(" \t\r\n\v\f", c[0]) || strchr(" \t\r\n\v\f", c[len - 1]))
            return vb_fail(err, VB_ERR_DATA,
                           "%s: label '%s' is empty or begins or ends with white space, which a multilabel manifest "
                           "trims; rename the class to export it",
                           ds->name, c);
    }
    for (size_t i = 0; i < sizeof cand / sizeof cand[0] && !*sep; i++) {
        int used = 0;
        for (int k = 0; k < ds->n_classes && !used; k++)
            used = strstr(ds->classes[k], cand[i]) != NULL;
        if (!used)
            *sep = cand[i];
    }
    if (!*sep)
        return vb_fail(err, VB_ERR_DATA, "%s: every label separator (; | + & ^ ~) occurs in a class name; rename "
                                         "a class to export the label sets",
                       ds->name);
    return VB_OK;
}

/* The members of node p (-1: the top level) as a descriptor's hierarchy:
 * {group: ..., ...} when they are all groups, else [class, {group: ...}].
 * first/next: each node's children in index order, so that the groups
 * read back in the same (pre-)order. */
static void write_members(const vb_taxonomy *t, const int *first, const int *next, int p, vb_buf *y)
{
    int all_groups = 1;
    for (int c = first[p + 1]; c >= 0; c = next[c])
        all_groups &= c >= t->n_leaves;
    vb_buf_puts(y, all_groups ? "{" : "[");
    for (int c = first[p + 1]; c >= 0; c = next[c]) {
        if (c != first[p + 1])
            vb_buf_puts(y, ", ");
        if (c < t->n_leaves) {
            vb_yaml_scalar(y, t->names[c]);
            continue;
        }
        vb_buf_puts(y, all_groups ? "" : "{");
        vb_yaml_scalar(y, t->names[c]);
        vb_buf_puts(y, ": ");
        write_members(t, first, next, c, y);
        vb_buf_puts(y, all_groups ? "" : "}");
    }
    vb_buf_puts(y, all_groups ? "}" : "]");
}

static vb_status write_hierarchy(const vb_taxonomy *t, vb_buf *y, vb_error *err)
{
    int *first = vb_malloc((size_t)t->n_nodes + 1, sizeof *first, err);
    int *next = vb_malloc((size_t)t->n_nodes + 1, sizeof *next, err);
    if (!first || !next) {
        free(first);
        free(next);
        return VB_ERR_NOMEM;
    }
    for (int i = 0; i <= t->n_nodes; i++)
        first[i] = -1;
    for (int i = t->n_nodes - 1; i >= 0; i--) {
        next[i] = first[t->parent[i] + 1];
        first[t->parent[i] + 1] = i;
    }
    vb_buf_puts(y, "hierarchy: ");
    write_members(t, first, next, -1, y);
    vb_buf_puts(y, "\n");
    free(first);
    free(next);
    return VB_OK;
}

vb_status vb_dataset_export(const vb_dataset *ds, const char *dir, int part, vb_error *err)
{
    if (part != VB_PART_NONE && !ds->part)
        return vb_fail(err, VB_ERR_DATA, "%s has no official train/test parts; export all samples", ds->name);
    const char *sep = NULL;
    if (ds->Y) {
        vb_status sst = label_separator(ds, &sep, err);
        if (sst != VB_OK)
            return sst;
    }
    char *img_dir = vb_path_join(dir, "images");
    if (!img_dir)
        return vb_fail(err, VB_ERR_NOMEM, "out of memory");
    vb_status st = vb_mkdirs(img_dir, err);
    int with_parts = ds->part && part == VB_PART_NONE;
    vb_buf man[2];
    vb_buf_init(&man[0]);
    vb_buf_init(&man[1]);
    for (int m = 0; m < 2; m++) {
        vb_buf_puts(&man[m], ds->Y ? "path,labels" : "path,label");
        if (ds->group) {
            vb_buf_puts(&man[m], ",");
            vb_buf_csv_field(&man[m], ds->group_column);
        }
        vb_buf_puts(&man[m], "\n");
    }
    int failed = 0;
    vb_error first = {0};
    if (st == VB_OK) {
#pragma omp parallel for schedule(dynamic, 64)
        for (size_t i = 0; i < ds->n; i++) {
            if (part != VB_PART_NONE && ds->part[i] != part)
                continue;
            vb_error e = {0};
            vb_image img = {0};
            char *path = vb_asprintf("%s/%06zu.png", img_dir, i);
            vb_status s = path ? vb_dataset_image(ds, i, &img, &e) : vb_fail(&e, VB_ERR_NOMEM, "out of memory");
            if (s == VB_OK)
                s = vb_image_save_png(&img, path, &e);
            if (s != VB_OK) {
#pragma omp critical(vb_export_err)
                if (!failed) {
                    failed = 1;
                    first = e;
                }
            }
            free(path);
            free(img.data);
        }
        if (failed) {
            if (err)
                *err = first;
            st = first.status;
        }
    }
    for (size_t i = 0; st == VB_OK && i < ds->n; i++) {
        if (part != VB_PART_NONE && ds->part[i] != part)
            continue;
        vb_buf *b = &man[with_parts && ds->part[i] == VB_PART_TEST];
        vb_buf_printf(b, "images/%06zu.png,", i);
        if (ds->Y) {
            vb_buf set;
            vb_buf_init(&set);
            for (int k = 0, m = 0; k < ds->n_classes; k++)
                if (ds->Y[i * (size_t)ds->n_classes + (size_t)k]) {
                    vb_buf_puts(&set, m++ ? sep : "");
                    vb_buf_puts(&set, ds->classes[k]);
                }
            if (set.failed)
                b->failed = 1;
            else
                vb_buf_csv_field(b, set.data ? set.data : "");
            vb_buf_free(&set);
        } else
            vb_buf_csv_field(b, ds->classes[ds->labels[i]]);
        if (ds->group) {
            vb_buf_puts(b, ",");
            vb_buf_csv_field(b, ds->group_names[ds->group[i]]);
        }
        vb_buf_puts(b, "\n");
    }
    vb_buf y;
    vb_buf_init(&y);
    vb_buf_puts(&y, "# written by visbench dataset export\nname: ");
    vb_yaml_scalar(&y, ds->name ? ds->name : "export");
    vb_buf_puts(&y, "\nformat: csv\n");
    vb_buf_puts(&y, with_parts ? "train: train.csv\ntest: test.csv\n" : "path: labels.csv\n");
    /* The class order (and so the label numbers) stays the source's. */
    vb_buf_puts(&y, "classes: [");
    for (int k = 0; k < ds->n_classes; k++) {
        if (k)
            vb_buf_puts(&y, ", ");
        vb_yaml_scalar(&y, ds->classes[k]);
    }
    vb_buf_puts(&y, "]\n");
    if (ds->Y) {
        vb_buf_puts(&y, "multilabel: true\n");
        if (strcmp(sep, ";") != 0) {
            vb_buf_puts(&y, "label_separator: ");
            vb_yaml_scalar(&y, sep);
            vb_buf_puts(&y, "\n");
        }
    }
    if (ds->group) {
        vb_buf_puts(&y, "group: ");
        vb_yaml_scalar(&y, ds->group_column);
        vb_buf_puts(&y, "\n");
    }
    if (st == VB_OK && ds->tax)
        st = write_hierarchy(ds->tax, &y, err);
    const char *names[3] = {with_parts ? "train.csv" : "labels.csv", "test.csv", "dataset.yaml"};
    vb_buf *bufs[3] = {&man[0], &man[1], &y};
    for (int f = 0; st == VB_OK && f < 3; f++) {
        if (f == 1 && !with_parts)
            continue;
        char *p = vb_path_join(dir, names[f]);
        st = p && !bufs[f]->failed ? vb_file_write_atomic(p, bufs[f]->data, bufs[f]->len, err)
                                   : vb_fail(err, VB_ERR_NOMEM, "out of memory");
        free(p);
    }
    vb_buf_free(&man[0]);
    vb_buf_free(&man[1]);
    vb_buf_free(&y);
    free(img_dir);
    return st;
}
