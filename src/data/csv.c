/* CSV manifests: lines of "path,label" (an optional header line
 * "path,label" is skipped). Image paths are relative to the CSV file;
 * fields may be double-quoted. With multilabel: true the label field holds
 * a set of labels, "dog;car" (label_separator), or none when it is empty. */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const vb_param_def csv_params[] = {
    {.name = "path", .type = VB_PT_STRING, .flags = VB_PF_PRIMARY,
     .help = "CSV file of path,label lines (relative to the descriptor)"},
    {.name = "train", .type = VB_PT_STRING, .help = "CSV of the training part (instead of path)"},
    {.name = "test", .type = VB_PT_STRING, .help = "CSV of the official test part (with train)"},
    {.name = "classes", .type = VB_PT_STRINGS,
     .help = "class names in label order (default: the labels found, sorted)"},
    {.name = "skip_invalid", .type = VB_PT_BOOL, .def = "false",
     .help = "skip files that are not readable images, with a warning for each"},
    {.name = "multilabel", .type = VB_PT_BOOL, .def = "false",
     .help = "the label field is a set of labels (path,\"dog;car\"), empty for an image without labels"},
    {.name = "label_separator", .type = VB_PT_STRING, .def = ";",
     .help = "multilabel: what separates the labels of a field (labels are trimmed of spaces)"},
    {.name = "empty_labels", .type = VB_PT_ENUM, .def = "allow", .choices = "allow|error",
     .help = "multilabel: an empty label field is an image without labels (allow) or an error"},
};

typedef struct row {
    char *path; /* its labels are row i of csv_opts.ls */
    uint8_t part;
    int line;
} row;

/* How labels are read into ls: one per line as it is written, or sets. */
typedef struct csv_opts {
    int multilabel, empty_error;
    const char *sep;
    vb_labelsets *ls;
} csv_opts;

/* Splits one CSV line into at most 2 fields, handling "quoted, fields". */
static int split_line(char *line, char *fields[2], int *nf)
{
    *nf = 0;
    char *p = line;
    while (*p && *nf < 3) {
        char *out = p, *start = p;
        if (*p == '"') {
            p++;
            for (;;) {
                if (!*p)
                    return 0; /* unterminated quote */
                if (*p == '"' && p[1] == '"') {
                    *out++ = '"';
                    p += 2;
                } else if (*p == '"') {
                    p++;
                    break;
                } else
                    *out++ = *p++;
            }
            if (*p && *p != ',')
                return 0;
        } else {
            while (*p && *p != ',')
                out++, p++;
        }
        int more = *p == ',';
        *out = 0;
        if (*nf < 2)
            fields[*nf] = start;
        (*nf)++;
        if (!more)
            break;
        p++;
        if (!*p) { /* trailing comma: an empty last field */
            if (*nf < 2)
                fields[*nf] = p;
            (*nf)++;
        }
    }
    return 1;
}

/* The labels of a row, into o->ls. */
static vb_status row_labels(const csv_opts *o, const char *csv, int lineno, const char *path, const char *field,
                            vb_error *err)
{
    if (!o->multilabel)
        return vb_labelsets_add_one(o->ls, field, err);
    size_t count;
    vb_status st = vb_labelsets_add(o->ls, field, o->sep, 0, csv, lineno, &count, err);
    if (st == VB_OK && count == 0 && o->empty_error)
        st = vb_fail(err, VB_ERR_DATA,
                     "%s:%d: no labels for %s (empty_labels: error); give the image its labels, or set "
                     "empty_labels: allow for images without labels",
                     csv, lineno, path);
    return st;
}

static vb_status read_csv(const char *csv, uint8_t part, const csv_opts *o, row **rows, size_t *n, size_t *cap,
                          vb_error *err)
{
    char *text;
    size_t len;
    vb_status st = vb_file_read_max(csv, VB_DATA_MAX_MANIFEST_BYTES, "a CSV manifest", &text, &len, err);
    if (st == VB_ERR_IO && err) {
        size_t used = strlen(err->msg);
        snprintf(err->msg + used, sizeof err->msg - used, "%s", vb_data_missing_hint(csv));
    }
    if (st != VB_OK)
        return st;
    /* the lines are C strings: a NUL would end the manifest there, silently */
    const char *nul = memchr(text, 0, len);
    if (nul) {
        int at = 1;
        for (const char *q = text; q < nul; q++)
            at += *q == '\n';
        free(text);
        return vb_fail(err, VB_ERR_FORMAT, "%s:%d: a NUL byte; a CSV manifest is text", csv, at);
    }
    char *dir = vb_path_dirname(csv);
    if (!dir) {
        free(text);
        return vb_fail(err, VB_ERR_NOMEM, "out of memory");
    }
    int lineno = 0;
    size_t added = 0;
    for (char *line = text, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = 0;
        lineno++;
        line[strcspn(line, "\r")] = 0;
        if (!*line || line[0] == '#')
            continue;
        char *f[2] = {0};
        int nf;
        /* split_line cuts the line in place: keep the text for the message. */
        char *orig = strdup(line);
        if (!orig) {
            st = vb_fail(err, VB_ERR_NOMEM, "out of memory");
            break;
        }
        if (!split_line(line, f, &nf) || nf != 2) {
            st = vb_fail(err, VB_ERR_FORMAT, "%s:%d: expected 'path,label', got '%s'", csv, lineno, orig);
            free(orig);
            break;
        }
        free(orig);
        if (added == 0 && strcasecmp(f[0], "path") == 0 &&
            (strcasecmp(f[1], "label") == 0 || (o->multilabel && strcasecmp(f[1], "labels") == 0)))
            continue;
        if (!*f[0] || (!o->multilabel && !*f[1])) {
            st = vb_fail(err, VB_ERR_FORMAT, o->multilabel ? "%s:%d: empty path" : "%s:%d: empty path or label", csv,
                         lineno);
            break;
        }
        if (*n == VB_DATA_MAX_IMAGES) {
            st = vb_fail(err, VB_ERR_FORMAT, "%s:%d: more than the %u images a dataset may hold", csv, lineno,
                         VB_DATA_MAX_IMAGES);
            break;
        }
        if (*n == *cap) {
            *cap = *cap ? *cap * 2 : 1024;
            row *nr = realloc(*rows, *cap * sizeof *nr);
            if (!nr) {
                st = vb_fail(err, VB_ERR_NOMEM, "out of memory");
                break;
            }
            *rows = nr;
        }
        row *r = &(*rows)[*n];
        r->path = vb_path_join(dir, f[0]);
        r->part = part;
        r->line = lineno;
        if (!r->path) {
            st = vb_fail(err, VB_ERR_NOMEM, "out of memory");
            break;
        }
        if ((st = row_labels(o, csv, lineno, f[0], f[1], err)) != VB_OK) {
            free(r->path);
            break;
        }
        (*n)++;
        added++;
    }
    if (st == VB_OK && added == 0)
        st = vb_fail(err, VB_ERR_DATA, "%s: lists no images", csv);
    free(dir);
    free(text);
    return st;
}

/* The given classes (checked for duplicates), or none. */
static vb_status given_classes(const vb_params *p, const char *const **names, size_t *n, vb_error *err)
{
    const vb_pvalue *v = vb_param(p, "classes");
    *names = NULL;
    *n = 0;
    if (!v->given)
        return VB_OK;
    for (size_t k = 0; k < v->n; k++)
        for (size_t j = 0; j < k; j++)
            if (strcmp(v->strs[k], v->strs[j]) == 0)
                return vb_param_fail(p, "classes", err, "class name '%s' appears twice", v->strs[k]);
    *names = (const char *const *)v->strs;
    *n = v->n;
    return VB_OK;
}

static vb_status csv_load(const vb_params *p, const char *base_dir, vb_dataset **out, vb_error *err)
{
    *out = NULL;
    const char *path = vb_param_str(p, "path"), *train = vb_param_str(p, "train"), *test = vb_param_str(p, "test");
    if ((path != NULL) == (train != NULL))
        return vb_param_fail(p, path ? "path" : "train", err, "give either path or train (and optionally test)");
    if (test && !train)
        return vb_param_fail(p, "test", err, "test needs train");
    vb_labelsets ls = {0};
    csv_opts o = {.ls = &ls};
    const char *const *given;
    size_t n_given;
    vb_status st = vb_labelsets_opts(p, &o.multilabel, &o.sep, &o.empty_error, err);
    if (st == VB_OK)
        st = given_classes(p, &given, &n_given, err);
    if (st != VB_OK)
        return st;
    row *rows = NULL;
    size_t n = 0, cap = 0;
    char *files[2] = {vb_path_join(base_dir, path ? path : train), test ? vb_path_join(base_dir, test) : NULL};
    if (!files[0] || (test && !files[1]))
        st = vb_fail(err, VB_ERR_NOMEM, "out of memory");
    if (st == VB_OK)
        st = read_csv(files[0], test ? VB_PART_TRAIN : VB_PART_NONE, &o, &rows, &n, &cap, err);
    if (st == VB_OK && test)
        st = read_csv(files[1], VB_PART_TEST, &o, &rows, &n, &cap, err);

    /* Class names: the given list, or the distinct labels sorted. */
    char **names = NULL;
    size_t n_names = 0, unknown = SIZE_MAX;
    if (st == VB_OK)
        st = vb_labelsets_classes(&ls, given, n_given, &names, &n_names, &unknown, err);
    if (st == VB_OK && unknown != SIZE_MAX) {
        const row *r = &rows[vb_labelsets_row_of(&ls, unknown)];
        const char *file = r->part == VB_PART_TEST ? files[1] : files[0];
        if (o.multilabel)
            st = vb_fail(err, VB_ERR_DATA, "%s:%d: label '%s' is not in the classes list", file, r->line,
                         ls.names[unknown]);
        else
            st = vb_fail(err, VB_ERR_DATA, "%s: label '%s' of %s is not in the classes list", file,
                         ls.names[unknown], r->path);
    }
    if (st == VB_OK && o.multilabel && n_names == 0)
        st = vb_fail(err, VB_ERR_DATA, "%s: no image has a label", files[0]);
    vb_file_item *items = st == VB_OK ? vb_calloc(n ? n : 1, sizeof *items, err) : NULL;
    size_t *src = st == VB_OK ? vb_calloc(n ? n : 1, sizeof *src, err) : NULL;
    if (st == VB_OK && (!items || !src))
        st = VB_ERR_NOMEM;
    for (size_t i = 0; st == VB_OK && i < n; i++) {
        items[i].path = rows[i].path;
        items[i].label = o.multilabel ? 0 : ls.cls[i]; /* single-label: one label per row */
        items[i].part = rows[i].part;
    }
    vb_dataset *ds = NULL;
    if (st == VB_OK)
        st = vb_data_decode_files(items, n, test != NULL, vb_param_bool(p, "skip_invalid"), &ds, src, err);
    if (st == VB_OK)
        st = vb_dataset_set_classes(ds, (const char *const *)names, (int)n_names, err);
    if (st == VB_OK && o.multilabel)
        st = vb_labelsets_apply(&ls, src, ds, err);
    if (st == VB_OK)
        st = vb_dataset_check_classes(ds, files[0], err);
    free(items);
    free(src);
    free(names);
    vb_labelsets_free(&ls);
    for (size_t i = 0; i < n; i++)
        free(rows[i].path);
    free(rows);
    free(files[0]);
    free(files[1]);
    if (st != VB_OK) {
        vb_dataset_free(ds);
        return st;
    }
    *out = ds;
    return VB_OK;
}

const vb_loader_vt vb_loader_csv = {
    .info = {.name = "csv",
             .help = "CSV manifest of path,label lines; paths relative to the CSV file",
             .doc = "Classes are the labels found, sorted (or the classes list). With multilabel: true each "
                    "label field is a set of labels separated by label_separator (\"dog;car\"), trimmed of "
                    "spaces, each label at most once; an empty field is an image without labels (counted; an "
                    "error with empty_labels: error). A header line path,label (or path,labels) is skipped.",
             .params = csv_params,
             .n_params = sizeof csv_params / sizeof csv_params[0]},
    .load = csv_load,
};
