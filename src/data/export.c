/* Writing a dataset out as PNG files and CSV manifests. */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

vb_status vb_dataset_export(const vb_dataset *ds, const char *dir, int part, vb_error *err)
{
    if (part != VB_PART_NONE && !ds->part)
        return vb_fail(err, VB_ERR_DATA, "%s has no official train/test parts; export all samples", ds->name);
    char *img_dir = vb_path_join(dir, "images");
    if (!img_dir)
        return vb_fail(err, VB_ERR_NOMEM, "out of memory");
    vb_status st = vb_mkdirs(img_dir, err);
    int with_parts = ds->part && part == VB_PART_NONE;
    vb_buf man[2];
    vb_buf_init(&man[0]);
    vb_buf_init(&man[1]);
    vb_buf_puts(&man[0], "path,label\n");
    vb_buf_puts(&man[1], "path,label\n");
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
        vb_buf_csv_field(b, ds->classes[ds->labels[i]]);
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
