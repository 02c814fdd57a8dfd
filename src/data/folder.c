/* Image folders: one sub-folder per class, files in sorted order. Either
 * one root (`path`) or an official split (`train` and `test` roots). With
 * `labels: false` the images sit in the folder itself and have no class
 * (data to cluster, `mode: cluster`).
 *
 * Class folders may be grouped in folders (root/footwear/sneaker/x.png, to
 * any depth): the folders that hold images are the classes, named by their
 * folder, and the folders above them give the taxonomy (a hierarchical
 * dataset). With `multilabel: true` the images sit in the folder itself,
 * each with a label file beside it (x.png, x.txt). */
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
    {.name = "multilabel", .type = VB_PT_BOOL, .def = "false",
     .help = "the images are in the folder itself, each with its labels in a text file beside it (x.png, x.txt)"},
    {.name = "label_separator", .type = VB_PT_STRING, .def = ";",
     .help = "multilabel: what separates labels on a line of a label file (line breaks do too)"},
    {.name = "empty_labels", .type = VB_PT_ENUM, .def = "allow", .choices = "allow|error",
     .help = "multilabel: an empty label file is an image without labels (allow) or an error"},
};

/* Classes or groups of classes, in the order found. */
typedef struct nodes {
    char **name;
    char **rel;  /* the folder below the root ("footwear/sneaker") */
    int *parent; /* the group it is in, -1 at the top */
    size_t n;
} nodes;

typedef struct collect {
    const char *root;   /* the training (or only) root */
    nodes cls, grp;     /* classes (leaf folders) and groups (folders of folders) */
    vb_file_item *items;
    size_t n_items, cap;
    vb_labelsets *ls;   /* multilabel: a row per item */
    const char *sep;
    int empty_error;
} collect;

static void nodes_free(nodes *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->name[i]);
        free(s->rel[i]);
    }
    free(s->name);
    free(s->rel);
    free(s->parent);
}

static int nodes_find(const nodes *s, const char *name)
{
    for (size_t k = 0; k < s->n; k++)
        if (strcmp(s->name[k], name) == 0)
            return (int)k;
    return -1;
}

/* Appends a node; its index, or -1 out of memory. */
static int nodes_add(nodes *s, const char *name, const char *rel, int parent)
{
    char **nn = realloc(s->name, (s->n + 1) * sizeof *nn);
    if (nn)
        s->name = nn;
    char **nr = nn ? realloc(s->rel, (s->n + 1) * sizeof *nr) : NULL;
    if (nr)
        s->rel = nr;
    int *np = nr ? realloc(s->parent, (s->n + 1) * sizeof *np) : NULL;
    if (!np)
        return -1;
    s->parent = np;
    if (!(nn[s->n] = strdup(name)) || !(nr[s->n] = strdup(rel))) {
        free(nn[s->n]);
        return -1;
    }
    np[s->n] = parent;
    return (int)s->n++;
}

static vb_status add_item(collect *c, const char *dir, const char *file, int label, uint8_t part, vb_error *err)
{
    vb_status st = vb_data_grow(&c->items, &c->cap, c->n_items, sizeof *c->items, 1024, err);
    if (st != VB_OK)
        return st;
    vb_file_item *it = &c->items[c->n_items];
    if (!(it->path = vb_path_join(dir, file)))
        return vb_fail(err, VB_ERR_NOMEM, "out of memory");
    it->label = label;
    it->part = part;
    c->n_items++;
    return VB_OK;
}

/* The first of dir's files (not folders) that is an image, or -1. */
static vb_status first_image(const char *dir, char **names, const int *is_dir, size_t n, long *which, vb_error *err)
{
    *which = -1;
    for (size_t i = 0; i < n; i++) {
        if (is_dir[i])
            continue;
        char *full = vb_path_join(dir, names[i]);
        int image = 0;
        vb_status st = full ? vb_image_probe(full, &image, err) : vb_fail(err, VB_ERR_NOMEM, "out of memory");
        free(full);
        if (st != VB_OK)
            return st;
        if (image) {
            *which = (long)i;
            return VB_OK;
        }
    }
    return VB_OK;
}

static vb_status scan_node(collect *c, const char *root, const char *rel, int parent, int depth, uint8_t part,
                           vb_error *err);

static const char *base_name(const char *rel) { return strrchr(rel, '/') ? strrchr(rel, '/') + 1 : rel; }

/* Adds the class folder (or group of them) at rel, whose name must be new
 * in the tree: the names are the taxonomy's. *index receives its index. */
static vb_status add_node(collect *c, int group, const char *rel, const char *dir, int parent, int *index,
                          vb_error *err)
{
    const char *name = base_name(rel);
    nodes *same = group ? &c->grp : &c->cls, *other = group ? &c->cls : &c->grp;
    int k = nodes_find(same, name), o = nodes_find(other, name);
    if (k >= 0)
        return vb_fail(err, VB_ERR_DATA,
                       group ? "%s/%s and %s: two groups of classes named '%s'; the names in a hierarchy must differ"
                             : "%s/%s and %s: two class folders named '%s'; a class is named by its folder, so the "
                               "names must differ",
                       c->root, same->rel[k], dir, name);
    if (o >= 0)
        return vb_fail(err, VB_ERR_DATA, "%s/%s and %s: '%s' names both a class and a group of classes; rename one",
                       c->root, other->rel[o], dir, name);
    if ((*index = nodes_add(same, name, rel, parent)) < 0)
        return vb_fail(err, VB_ERR_NOMEM, "out of memory");
    return VB_OK;
}

/* A folder of class folders: files beside them (a README) are ignored, an
 * image there is an error. */
static vb_status scan_group(collect *c, const char *root, const char *rel, const char *dir, char **names,
                            const int *is_dir, size_t n, int parent, int depth, uint8_t part, vb_error *err)
{
    long img;
    vb_status st = first_image(dir, names, is_dir, n, &img, err);
    if (st == VB_OK && img >= 0) {
        size_t sub = 0;
        while (!is_dir[sub])
            sub++;
        return vb_fail(err, VB_ERR_DATA,
                       "%s/%s: a folder beside the images of %s (%s); a folder holds the images of one class, or "
                       "folders of classes (a hierarchy), not both",
                       dir, names[sub], dir, names[img]);
    }
    int self = -1; /* the test part's groups are the training part's */
    if (st == VB_OK && part != VB_PART_TEST)
        st = add_node(c, 1, rel, dir, parent, &self, err);
    for (size_t i = 0; i < n && st == VB_OK; i++) {
        if (!is_dir[i])
            continue;
        char *sub = vb_asprintf("%s/%s", rel, names[i]);
        st = sub ? scan_node(c, root, sub, self, depth + 1, part, err) : vb_fail(err, VB_ERR_NOMEM, "out of memory");
        free(sub);
    }
    return st;
}

/* A class folder: every file is an image of the class. */
static vb_status scan_class(collect *c, const char *rel, const char *dir, char **files, size_t nf, int parent,
                            uint8_t part, vb_error *err)
{
    const char *name = base_name(rel);
    int label = nodes_find(&c->cls, name);
    if (part == VB_PART_TEST) {
        /* Test folders may only use classes the training folder has, where it has them. */
        if (label < 0)
            return vb_fail(err, VB_ERR_DATA, "%s: class '%s' is not in the training folder", dir, name);
        if (strcmp(c->cls.rel[label], rel) != 0)
            return vb_fail(err, VB_ERR_DATA,
                           "%s: class '%s' is at %s/%s in the training folder; give the test folder the same "
                           "hierarchy",
                           dir, name, c->root, c->cls.rel[label]);
    } else {
        vb_status st = add_node(c, 0, rel, dir, parent, &label, err);
        if (st != VB_OK)
            return st;
    }
    if (nf == 0)
        return vb_fail(err, VB_ERR_DATA, "%s: class folder holds no images; add images or remove the folder", dir);
    vb_status st = VB_OK;
    for (size_t f = 0; f < nf && st == VB_OK; f++)
        st = add_item(c, dir, files[f], label, part, err);
    return st;
}

/* root/rel: a class folder, or a group of them. */
static vb_status scan_node(collect *c, const char *root, const char *rel, int parent, int depth, uint8_t part,
                           vb_error *err)
{
    char *dir = vb_path_join(root, rel);
    if (!dir)
        return vb_fail(err, VB_ERR_NOMEM, "out of memory");
    char **names = NULL;
    int *is_dir = NULL;
    size_t n = 0, n_sub = 0;
    vb_status st = depth > VB_TAX_MAX_DEPTH
                       ? vb_fail(err, VB_ERR_DATA, "%s: class folders nested deeper than %d levels", dir,
                                 VB_TAX_MAX_DEPTH)
                       : vb_data_list_dir(dir, &names, &is_dir, &n, err);
    for (size_t i = 0; i < n; i++)
        n_sub += is_dir[i] != 0;
    if (st == VB_OK && n_sub)
        st = scan_group(c, root, rel, dir, names, is_dir, n, parent, depth, part, err);
    else if (st == VB_OK)
        st = scan_class(c, rel, dir, names, n, parent, part, err);
    vb_data_free_names(names, is_dir, n);
    free(dir);
    return st;
}

/* Adds every file under root/<class>/ (or root/<group>/.../<class>/) to c. */
static vb_status scan_root(collect *c, const char *root, uint8_t part, vb_error *err)
{
    char **names;
    int *is_dir;
    size_t n;
    vb_status st = vb_data_list_dir(root, &names, &is_dir, &n, err);
    if (st != VB_OK)
        return st;
    /* Files beside the class folders (a README, dataset.yaml) are fine; an
     * image there is a mistake worth reporting. */
    long img;
    st = first_image(root, names, is_dir, n, &img, err);
    if (st == VB_OK && img >= 0)
        st = vb_fail(err, VB_ERR_DATA,
                     "%s/%s: image outside a class folder; put images in %s/<class>/ (one sub-folder per class)",
                     root, names[img], root);
    size_t n_dirs = 0;
    for (size_t i = 0; i < n && st == VB_OK; i++)
        if (is_dir[i]) {
            n_dirs++;
            st = scan_node(c, root, names[i], -1, 1, part, err);
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

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* multilabel: the labels of root/image from its label file (names: root's sorted entries). */
static vb_status image_labels(collect *c, const char *root, char **names, size_t n, const char *image, vb_error *err)
{
    const char *dot = strrchr(image, '.');
    size_t stem = dot ? (size_t)(dot - image) : strlen(image);
    char *txt = vb_asprintf("%.*s.txt", (int)stem, image);
    char *path = txt ? vb_path_join(root, txt) : NULL;
    char *text = NULL;
    size_t len, count;
    vb_status st = path ? VB_OK : vb_fail(err, VB_ERR_NOMEM, "out of memory");
    if (st == VB_OK && !bsearch(&txt, names, n, sizeof *names, cmp_str))
        st = vb_fail(err, VB_ERR_DATA,
                     "%s/%s: no label file %s beside it; write the image's labels there (one a line, or separated by "
                     "'%s'), or leave it empty for an image without labels",
                     root, image, txt, c->sep);
    if (st == VB_OK)
        st = vb_file_read_max(path, (size_t)1 << 20, "a label file", &text, &len, err);
    if (st == VB_OK && memchr(text, 0, len))
        st = vb_fail(err, VB_ERR_FORMAT, "%s: a NUL byte; a label file is text", path);
    if (st == VB_OK)
        st = vb_labelsets_add(c->ls, text, c->sep, 1, path, 1, &count, err);
    if (st == VB_OK && count == 0 && c->empty_error)
        st = vb_fail(err, VB_ERR_DATA,
                     "%s: no labels for %s/%s (empty_labels: error); write the image's labels, or set "
                     "empty_labels: allow for images without labels",
                     path, root, image);
    free(text);
    free(path);
    free(txt);
    return st;
}

/* The images in root itself: labels: false (class 0), or multilabel with a
 * label file beside each image. */
static vb_status scan_flat(collect *c, const char *root, uint8_t part, vb_error *err)
{
    char **names;
    int *is_dir;
    size_t n, before = c->n_items;
    vb_status st = vb_data_list_dir(root, &names, &is_dir, &n, err);
    if (st != VB_OK)
        return st;
    for (size_t i = 0; i < n && st == VB_OK; i++) {
        if (is_dir[i] && c->ls)
            st = vb_fail(err, VB_ERR_DATA,
                         "%s/%s: a folder; with multilabel: true the images sit in %s itself, each beside its label "
                         "file (x.png and x.txt)",
                         root, names[i], root);
        else if (is_dir[i])
            st = vb_fail(err, VB_ERR_DATA,
                         "%s/%s: a folder; with labels: false the images sit in %s itself (move them up, or drop "
                         "labels: false for one sub-folder per class)",
                         root, names[i], root);
        else if (!is_note(names[i])) {
            st = add_item(c, root, names[i], 0, part, err);
            if (st == VB_OK && c->ls)
                st = image_labels(c, root, names, n, names[i], err);
        }
    }
    if (st == VB_OK && c->n_items == before)
        st = vb_fail(err, VB_ERR_DATA, "%s: holds no images", root);
    vb_data_free_names(names, is_dir, n);
    return st;
}

/* The classes' taxonomy when the class folders are grouped in folders. */
static vb_status folder_taxonomy(const collect *c, vb_dataset *ds, vb_error *err)
{
    int K = (int)c->cls.n;
    vb_taxonomy *t = vb_taxonomy_new(K, K + (int)c->grp.n, err);
    if (!t)
        return VB_ERR_NOMEM;
    vb_status st = VB_OK;
    for (int i = 0; i < t->n_nodes && st == VB_OK; i++) {
        const nodes *s = i < K ? &c->cls : &c->grp;
        size_t j = (size_t)(i < K ? i : i - K);
        t->parent[i] = s->parent[j] < 0 ? -1 : K + s->parent[j];
        if (!(t->names[i] = vb_strdup(s->name[j], err)))
            st = VB_ERR_NOMEM;
    }
    return vb_data_set_taxonomy(ds, t, st, c->root, err);
}

/* Classes and labels of the decoded dataset. */
static vb_status folder_classes(collect *c, const size_t *src, vb_dataset *ds, vb_error *err)
{
    if (!c->ls) {
        vb_status st = vb_dataset_set_classes(ds, (const char *const *)c->cls.name, (int)c->cls.n, err);
        return st == VB_OK && c->grp.n ? folder_taxonomy(c, ds, err) : st;
    }
    char **names;
    size_t n_names, unknown;
    vb_status st = vb_labelsets_classes(c->ls, NULL, 0, &names, &n_names, &unknown, err);
    if (st == VB_OK && n_names == 0)
        st = vb_fail(err, VB_ERR_DATA, "%s: no image has a label", c->root);
    if (st == VB_OK)
        st = vb_dataset_set_classes(ds, (const char *const *)names, (int)n_names, err);
    if (st == VB_OK)
        st = vb_labelsets_apply(c->ls, src, ds, err);
    free(names);
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
    vb_labelsets ls = {0};
    collect c = {0};
    int multilabel;
    vb_status st = vb_labelsets_opts(p, &multilabel, &c.sep, &c.empty_error, err);
    if (st == VB_OK && multilabel && !labels)
        st = vb_param_fail(p, "multilabel", err, "images with labels (multilabel: true) or without (labels: false)?");
    if (st != VB_OK)
        return st;
    c.ls = multilabel ? &ls : NULL;
    char *roots[2] = {vb_path_join(base_dir, path ? path : train), test ? vb_path_join(base_dir, test) : NULL};
    c.root = roots[0];
    if (!roots[0] || (test && !roots[1]))
        st = vb_fail(err, VB_ERR_NOMEM, "out of memory");
    if (st == VB_OK && !labels && nodes_add(&c.cls, "(none)", "", -1) < 0)
        st = vb_fail(err, VB_ERR_NOMEM, "out of memory");
    for (int r = 0; r < 2 && st == VB_OK && roots[r]; r++) {
        uint8_t part = r ? VB_PART_TEST : test ? VB_PART_TRAIN : VB_PART_NONE;
        st = labels && !multilabel ? scan_root(&c, roots[r], part, err) : scan_flat(&c, roots[r], part, err);
    }
    vb_dataset *ds = NULL;
    size_t *src = st == VB_OK ? vb_calloc(c.n_items ? c.n_items : 1, sizeof *src, err) : NULL;
    if (st == VB_OK && !src)
        st = VB_ERR_NOMEM;
    if (st == VB_OK)
        st = vb_data_decode_files(c.items, c.n_items, test != NULL, vb_param_bool(p, "skip_invalid"), &ds, src, err);
    if (st == VB_OK)
        st = folder_classes(&c, src, ds, err);
    /* A class whose every file was skipped is empty now. */
    if (st == VB_OK && labels)
        st = vb_dataset_check_classes(ds, roots[0], err);
    if (st == VB_OK)
        ds->unlabeled = !labels;
    for (size_t i = 0; i < c.n_items; i++)
        free(c.items[i].path);
    free(c.items);
    free(src);
    nodes_free(&c.cls);
    nodes_free(&c.grp);
    vb_labelsets_free(&ls);
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
                    "Class folders may be grouped in folders, to any depth (DIR/footwear/sneaker/*.png): the "
                    "folders that hold images are the classes, in path order, named by their folder (so the names "
                    "must differ across the tree), and the folders above them their groups: a hierarchical "
                    "dataset. A folder holds images or folders, not both. "
                    "With labels: false the images sit in the folder itself and have no class (for mode: "
                    "cluster); text files there (.yaml, .yml, .txt, .md, .csv, .json) are ignored. "
                    "With multilabel: true the images sit in the folder itself too, each with a label file of "
                    "the same name ending in .txt (x.png, x.txt): labels one a line or separated by "
                    "label_separator, an empty file for an image without labels; the classes are the labels "
                    "found, sorted. (A folder with a CSV manifest of label sets is format: csv, multilabel: "
                    "true.)",
             .params = folder_params,
             .n_params = sizeof folder_params / sizeof folder_params[0]},
    .load = folder_load,
};
