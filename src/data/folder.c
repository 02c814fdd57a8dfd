/* Image folders: one sub-folder per class, files in sorted order. Either
 * one root (`path`) or an official split (`train` and `test` roots). With
 * `labels: false` the images sit in the folder itself and have no class
 * (data to cluster, `mode: cluster`). */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

static const vb_param_def folder_params[] = {
    {.name = "path", .type = VB_PT_STRING, .flags = VB_PF_PRIMARY,
     .help = "folder with one sub-folder of images per class (relative to the descriptor)"},
    {.name = "train", .type = VB_PT_STRING, .help = "training folder of class sub-folders (instead of path)"},
    {.name = "test", .type = VB_PT_STRING, .help = "official test folder of class sub-folders (with train)"},
    {.name = "labels", .type = VB_PT_BOOL, .def = "true",
     .help = "false: the images are in the folder itself, without classes (for mode: cluster)"},
    {.name = "skip_invalid", .type = VB_PT_BOOL, .def = "false",
     .help = "skip files that are not readable images, with a warning for each (default: error)"},
};

typedef struct collect {
    char **classes;
    size_t n_classes;
    vb_file_item *items;
    size_t n_items, cap;
} collect;

static int class_index(collect *c, const char *name, int add)
{
    for (size_t k = 0; k < c->n_classes; k++)
        if (strcmp(c->classes[k], name) == 0)
            return (int)k;
    if (!add)
        return -1;
    char **nc = realloc(c->classes, (c->n_classes + 1) * sizeof *nc);
    if (!nc)
        return -2;
    c->classes = nc;
    if (!(nc[c->n_classes] = strdup(name)))
        return -2;
    return (int)c->n_classes++;
}

/* Adds every file under root/<class>/ to c. */
static vb_status scan_root(collect *c, const char *root, uint8_t part, vb_error *err)
{
    char **names;
    int *is_dir;
    size_t n;
    vb_status st = vb_data_list_dir(root, &names, &is_dir, &n, err);
    if (st != VB_OK)
        return st;
    size_t n_dirs = 0;
    for (size_t i = 0; i < n && st == VB_OK; i++) {
        if (!is_dir[i]) {
            /* Files beside the class folders (a README, dataset.yaml) are
             * fine; an image there is a mistake worth reporting. */
            char *full = vb_path_join(root, names[i]);
            int image = 0;
            st = full ? vb_image_probe(full, &image, err) : vb_fail(err, VB_ERR_NOMEM, "out of memory");
            free(full);
            if (st != VB_OK)
                break;
            if (image) {
                st = vb_fail(err, VB_ERR_DATA,
                             "%s/%s: image outside a class folder; put images in %s/<class>/ "
                             "(one sub-folder per class)",
                             root, names[i], root);
                break;
            }
            continue;
        }
        n_dirs++;
        char *cdir = vb_path_join(root, names[i]);
        char **files = NULL;
        int *fdir = NULL;
        size_t nf = 0;
        if (!cdir)
            st = vb_fail(err, VB_ERR_NOMEM, "out of memory");
        else
            st = vb_data_list_dir(cdir, &files, &fdir, &nf, err);
        /* Test folders may only use classes the training folder has. */
        int label = st == VB_OK ? class_index(c, names[i], part != VB_PART_TEST) : 0;
        if (st == VB_OK && label == -2)
            st = vb_fail(err, VB_ERR_NOMEM, "out of memory");
        else if (st == VB_OK && label < 0)
            st = vb_fail(err, VB_ERR_DATA, "%s: class '%s' is not in the training folder", cdir, names[i]);
        size_t n_files = 0;
        for (size_t f = 0; st == VB_OK && f < nf; f++) {
            if (fdir[f]) {
                st = vb_fail(err, VB_ERR_DATA, "%s/%s: nested folder inside a class folder; move its images up",
                             cdir, files[f]);
                break;
            }
            if (c->n_items == c->cap) {
                size_t cap = c->cap ? c->cap * 2 : 1024;
                vb_file_item *ni = realloc(c->items, cap * sizeof *ni);
                if (!ni) {
                    st = vb_fail(err, VB_ERR_NOMEM, "out of memory");
                    break;
                }
                c->items = ni;
                c->cap = cap;
            }
            vb_file_item *it = &c->items[c->n_items];
            if (!(it->path = vb_path_join(cdir, files[f]))) {
                st = vb_fail(err, VB_ERR_NOMEM, "out of memory");
                break;
            }
            it->label = label;
            it->part = part;
            c->n_items++;
            n_files++;
        }
        if (st == VB_OK && n_files == 0)
            st = vb_fail(err, VB_ERR_DATA, "%s: class folder holds no images; add images or remove the folder",
                         cdir);
        vb_data_free_names(files, fdir, nf);
        free(cdir);
    }
    if (st == VB_OK && n_dirs == 0)
        st = vb_fail(err, VB_ERR_DATA, "%s: no class folders; put images in %s/<class>/", root, root);
    vb_data_free_names(names, is_dir, n);
    return st;
}

/* Text files that may sit beside unlabelled images (a manifest, notes). */
static int is_note(const char *name)
{
    static const char *const ext[] = {".yaml", ".yml", ".txt", ".md", ".csv", ".json"};
    size_t n = strlen(name);
    for (size_t i = 0; i < sizeof ext / sizeof ext[0]; i++) {
        size_t m = strlen(ext[i]);
        if (n > m && strcmp(name + n - m, ext[i]) == 0)
            return 1;
    }
    return 0;
}

/* labels: false: every file in root (but notes) is an image of class 0. */
static vb_status scan_flat(collect *c, const char *root, vb_error *err)
{
    char **names;
    int *is_dir;
    size_t n;
    vb_status st = vb_data_list_dir(root, &names, &is_dir, &n, err);
    if (st != VB_OK)
        return st;
    if (class_index(c, "(none)", 1) != 0)
        st = vb_fail(err, VB_ERR_NOMEM, "out of memory");
    c->items = st == VB_OK ? vb_calloc(n ? n : 1, sizeof *c->items, err) : NULL;
    if (st == VB_OK && !c->items)
        st = VB_ERR_NOMEM;
    for (size_t i = 0; i < n && st == VB_OK; i++) {
        if (is_dir[i]) {
            st = vb_fail(err, VB_ERR_DATA,
                         "%s/%s: a folder; with labels: false the images sit in %s itself (move them up, or drop "
                         "labels: false for one sub-folder per class)",
                         root, names[i], root);
            break;
        }
        if (is_note(names[i]))
            continue;
        vb_file_item *it = &c->items[c->n_items];
        if (!(it->path = vb_path_join(root, names[i])))
            st = vb_fail(err, VB_ERR_NOMEM, "out of memory");
        else
            c->n_items++;
    }
    if (st == VB_OK && c->n_items == 0)
        st = vb_fail(err, VB_ERR_DATA, "%s: holds no images", root);
    vb_data_free_names(names, is_dir, n);
    return st;
}

static vb_status folder_load(const vb_params *p, const char *base_dir, vb_dataset **out, vb_error *err)
{
    *out = NULL;
    const char *path = vb_param_str(p, "path"), *train = vb_param_str(p, "train"), *test = vb_param_str(p, "test");
    if ((path != NULL) == (train != NULL))
        return vb_param_fail(p, path ? "path" : "train", err,
                             "give either path (one folder) or train (and optionally test) folders");
    if (test && !train)
        return vb_param_fail(p, "test", err, "test needs train");
    int labels = vb_param_bool(p, "labels");
    if (!labels && !path)
        return vb_param_fail(p, "labels", err, "labels: false takes one folder (path), not train and test");
    collect c = {0};
    vb_status st = VB_OK;
    char *roots[2] = {vb_path_join(base_dir, path ? path : train), test ? vb_path_join(base_dir, test) : NULL};
    if (!roots[0] || (test && !roots[1]))
        st = vb_fail(err, VB_ERR_NOMEM, "out of memory");
    if (st == VB_OK)
        st = labels ? scan_root(&c, roots[0], test ? VB_PART_TRAIN : VB_PART_NONE, err) : scan_flat(&c, roots[0], err);
    if (st == VB_OK && test)
        st = scan_root(&c, roots[1], VB_PART_TEST, err);
    vb_dataset *ds = NULL;
    if (st == VB_OK)
        st = vb_data_decode_files(c.items, c.n_items, test != NULL, vb_param_bool(p, "skip_invalid"), &ds, err);
    if (st == VB_OK)
        st = vb_dataset_set_classes(ds, (const char *const *)c.classes, (int)c.n_classes, err);
    /* A class whose every file was skipped is empty now. */
    if (st == VB_OK && labels)
        st = vb_dataset_check_classes(ds, roots[0], err);
    if (st == VB_OK)
        ds->unlabeled = !labels;
    for (size_t i = 0; i < c.n_items; i++)
        free(c.items[i].path);
    free(c.items);
    for (size_t k = 0; k < c.n_classes; k++)
        free(c.classes[k]);
    free(c.classes);
    free(roots[0]);
    free(roots[1]);
    if (st != VB_OK) {
        vb_dataset_free(ds);
        return st;
    }
    *out = ds;
    return VB_OK;
}

const vb_loader_vt vb_loader_folder = {
    .info = {.name = "folder",
             .help = "image files in one sub-folder per class (any format stb_image reads)",
             .doc = "Classes are the sub-folder names in sorted order; files are read in sorted order. "
                    "Hidden files, and non-image files beside the class folders (README, dataset.yaml), "
                    "are ignored; any other file that is not an image is an error unless skip_invalid is set. "
                    "With labels: false the images sit in the folder itself and have no class (for mode: "
                    "cluster); text files there (.yaml, .yml, .txt, .md, .csv, .json) are ignored.",
             .params = folder_params,
             .n_params = sizeof folder_params / sizeof folder_params[0]},
    .load = folder_load,
};
