/* CSV manifests: lines of "path,label", or, after a header line that names
 * the columns (a "path" and a "label" column, in any order, among others),
 * lines of those columns. Image paths are relative to the CSV file; fields
 * may be double-quoted. With multilabel: true the label field holds a set
 * of labels, "dog;car" (label_separator), or none when it is empty. With
 * group: COLUMN (which needs the header) each image's group is read from
 * that column. */
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
    {.name = "group", .type = VB_PT_STRING,
     .help = "column of the header that holds each image's group (a patient, a session), for protocol: "
             "group_kfold"},
};

typedef struct row {
    char *path; /* its labels are row i of csv_opts.ls */
    char *group; /* with group: its group's name */
    uint8_t part;
    int line;
} row;

/* How labels are read into ls: one per line as it is written, or sets;
 * group_col names the column of the groups, if any. */
typedef struct csv_opts {
    int multilabel, empty_error;
    const char *sep, *group_col;
    const vb_pvalue *group_at; /* where the descriptor says group: (for messages) */
    vb_labelsets *ls;
} csv_opts;

/* The most columns a manifest line may have. */
#define CSV_MAX_FIELDS 64

/* Splits one CSV line in place into fields, handling "quoted, fields";
 * *nf receives their count (which may exceed max: only the first max are
 * stored). 0 for a broken quote. */
static int split_line(char *line, char **fields, int max, int *nf)
{
    *nf = 0;
    char *p = line;
    for (;;) {
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
        if (*nf < max)
            fields[*nf] = start;
        (*nf)++;
        if (!more)
            return 1;
        p++; /* a trailing comma leaves an empty last field */
    }
}

/* The columns of a manifest: where path, label and the group are; n 0
 * before a header was read (then lines are path,label). */
typedef struct columns {
    int n, path, label, group;
} columns;

/* Is the line (its fields) a header: a field "path" and a field "label"
 * (or "labels" for label sets)? Fills c when it is. */
static int header_of(char **f, int nf, const csv_opts *o, columns *c)
{
    int path = -1, label = -1, group = -1;
    for (int i = 0; i < nf && i < CSV_MAX_FIELDS; i++) {
        if (path < 0 && strcasecmp(f[i], "path") == 0)
            path = i;
        else if (label < 0 && (strcasecmp(f[i], "label") == 0 || (o->multilabel && strcasecmp(f[i], "labels") == 0)))
            label = i;
        if (o->group_col && group < 0 && strcmp(f[i], o->group_col) == 0)
            group = i;
    }
    if (path < 0 || label < 0 || nf > CSV_MAX_FIELDS)
        return 0;
    *c = (columns){nf, path, label, group};
    return 1;
}

/* group: COLUMN not in the header: the error, naming the columns there. */
static vb_status no_group_column(const char *csv, int lineno, char **f, int nf, const char *col,
                                 const vb_pvalue *at, vb_error *err)
{
    vb_buf b;
    vb_buf_init(&b);
    for (int i = 0; i < nf; i++)
        vb_buf_printf(&b, "%s%s", i ? ", " : "", f[i]);
    const char *near = vb_nearest_name(col, (const char *const *)f, (size_t)nf);
    char where[600] = "";
    if (at && at->file) /* and where the descriptor names it */
        snprintf(where, sizeof where, " at %s:%d:%d", at->file, at->line, at->col);
    vb_status st = vb_fail(err, VB_ERR_DATA, "%s:%d: no column '%s' in the header (%s)%s%s%s (group:%s names the column "
                                             "that holds each image's group)",
                           csv, lineno, col, b.data ? b.data : "", near ? "; did you mean '" : "", near ? near : "",
                           near ? "'?" : "", where);
    vb_buf_free(&b);
    return st;
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

/* One line's fields, checked against the columns: *f_path, *f_label and
 * *f_group (NULL without group:) point into the line. Before the first
 * image (may_header) a line can be the header: then *header is set and
 * cols filled. */
static vb_status line_fields(char *line, int lineno, const char *csv, const csv_opts *o, int may_header,
                             columns *cols, int *header, const char **f_path, const char **f_label,
                             const char **f_group, vb_error *err)
{
    char *f[CSV_MAX_FIELDS];
    int nf;
    *header = 0;
    /* split_line cuts the line in place: keep the text for the message. */
    char *orig = strdup(line);
    if (!orig)
        return vb_fail(err, VB_ERR_NOMEM, "out of memory");
    vb_status st = VB_OK;
    int ok = split_line(line, f, CSV_MAX_FIELDS, &nf);
    if (ok && may_header && cols->n == 0 && header_of(f, nf, o, cols)) {
        *header = 1;
        if (o->group_col && cols->group < 0)
            st = no_group_column(csv, lineno, f, nf, o->group_col, o->group_at, err);
    } else if (!ok || (cols->n ? nf != cols->n : nf != 2))
        st = cols->n ? vb_fail(err, VB_ERR_FORMAT, "%s:%d: expected the %d fields of the header, got '%s'", csv, lineno,
                               cols->n, orig)
                     : vb_fail(err, VB_ERR_FORMAT, "%s:%d: expected 'path,label', got '%s'", csv, lineno, orig);
    else if (o->group_col && cols->n == 0)
        st = vb_fail(err, VB_ERR_DATA,
                     "%s:%d: group: %s needs a header line naming the columns (path,label,%s) before the first "
                     "image",
                     csv, lineno, o->group_col, o->group_col);
    free(orig);
    if (st != VB_OK || *header)
        return st;
    *f_path = f[cols->n ? cols->path : 0];
    *f_label = f[cols->n ? cols->label : 1];
    *f_group = o->group_col ? f[cols->group] : NULL;
    if (!**f_path || (!o->multilabel && !**f_label))
        return vb_fail(err, VB_ERR_FORMAT, o->multilabel ? "%s:%d: empty path" : "%s:%d: empty path or label", csv,
                       lineno);
    if (*f_group && !**f_group)
        return vb_fail(err, VB_ERR_FORMAT, "%s:%d: empty group (column '%s') for %s; every image needs its group", csv,
                       lineno, o->group_col, *f_path);
    return VB_OK;
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
    columns cols = {0};
    for (char *line = text, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = 0;
        lineno++;
        line[strcspn(line, "\r")] = 0;
        if (!*line || line[0] == '#')
            continue;
        const char *f_path = NULL, *f_label = NULL, *f_group = NULL;
        int header;
        st = line_fields(line, lineno, csv, o, added == 0, &cols, &header, &f_path, &f_label, &f_group, err);
        if (st != VB_OK)
            break;
        if (header)
            continue;
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
        r->path = vb_path_join(dir, f_path);
        r->group = f_group ? strdup(f_group) : NULL;
        r->part = part;
        r->line = lineno;
        if (!r->path || (f_group && !r->group)) {
            free(r->path);
            free(r->group);
            st = vb_fail(err, VB_ERR_NOMEM, "out of memory");
            break;
        }
        if ((st = row_labels(o, csv, lineno, f_path, f_label, err)) != VB_OK) {
            free(r->path);
            free(r->group);
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

/* The groups of the samples decoded: sample j is row src[j]. */
static vb_status set_groups(vb_dataset *ds, const row *rows, const size_t *src, const char *column, vb_error *err)
{
    const char **names = vb_calloc(ds->n ? ds->n : 1, sizeof *names, err);
    if (!names)
        return VB_ERR_NOMEM;
    for (size_t j = 0; j < ds->n; j++)
        names[j] = rows[src[j]].group;
    vb_status st = vb_dataset_set_groups(ds, names, column, err);
    free(names);
    return st;
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
    o.group_col = vb_param_str(p, "group");
    o.group_at = vb_param(p, "group");
    if (st == VB_OK && o.group_col && !*o.group_col)
        st = vb_param_fail(p, "group", err, "names no column; give the header's name of the group column");
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
    if (st == VB_OK && o.group_col)
        st = set_groups(ds, rows, src, o.group_col, err);
    if (st == VB_OK)
        st = vb_dataset_check_classes(ds, files[0], err);
    free(items);
    free(src);
    free(names);
    vb_labelsets_free(&ls);
    for (size_t i = 0; i < n; i++) {
        free(rows[i].path);
        free(rows[i].group);
    }
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
                    "error with empty_labels: error). A header line path,label (or path,labels) is skipped; a header "
                    "may name more columns, in any order (path,label,session), and lines then have those columns. "
                    "With group: COLUMN each image's group is that column's value (none may be empty): "
                    "protocol: group_kfold never puts a group on both sides of a fold.",
             .params = csv_params,
             .n_params = sizeof csv_params / sizeof csv_params[0]},
    .load = csv_load,
};
