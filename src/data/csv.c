/* CSV manifests: lines of "path,label" (an optional header line
 * "path,label" is skipped). Image paths are relative to the CSV file;
 * fields may be double-quoted. */
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
};

typedef struct row {
    char *path, *label;
    uint8_t part;
} row;

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

static vb_status read_csv(const char *csv, uint8_t part, row **rows, size_t *n, size_t *cap, vb_error *err)
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
        if (added == 0 && strcasecmp(f[0], "path") == 0 && strcasecmp(f[1], "label") == 0)
            continue;
        if (!*f[0] || !*f[1]) {
            st = vb_fail(err, VB_ERR_FORMAT, "%s:%d: empty path or label", csv, lineno);
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
        r->label = strdup(f[1]);
        r->part = part;
        if (!r->path || !r->label) {
            free(r->path);
            free(r->label);
            st = vb_fail(err, VB_ERR_NOMEM, "out of memory");
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

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

typedef struct named {
    const char *name;
    size_t k;
} named;

static int cmp_named(const void *a, const void *b)
{
    return strcmp(((const named *)a)->name, ((const named *)b)->name);
}

static vb_status csv_load(const vb_params *p, const char *base_dir, vb_dataset **out, vb_error *err)
{
    *out = NULL;
    const char *path = vb_param_str(p, "path"), *train = vb_param_str(p, "train"), *test = vb_param_str(p, "test");
    if ((path != NULL) == (train != NULL))
        return vb_param_fail(p, path ? "path" : "train", err, "give either path or train (and optionally test)");
    if (test && !train)
        return vb_param_fail(p, "test", err, "test needs train");
    row *rows = NULL;
    size_t n = 0, cap = 0;
    char *files[2] = {vb_path_join(base_dir, path ? path : train), test ? vb_path_join(base_dir, test) : NULL};
    vb_status st = files[0] && (!test || files[1]) ? VB_OK : vb_fail(err, VB_ERR_NOMEM, "out of memory");
    if (st == VB_OK)
        st = read_csv(files[0], test ? VB_PART_TRAIN : VB_PART_NONE, &rows, &n, &cap, err);
    if (st == VB_OK && test)
        st = read_csv(files[1], VB_PART_TEST, &rows, &n, &cap, err);

    /* Class names: the given list, or the distinct labels sorted. */
    const vb_pvalue *given = vb_param(p, "classes");
    char **names = NULL;
    size_t n_names = 0;
    if (st == VB_OK) {
        names = calloc(given->given ? given->n : n, sizeof *names);
        if (!names)
            st = vb_fail(err, VB_ERR_NOMEM, "out of memory");
    }
    if (st == VB_OK && given->given) {
        for (size_t k = 0; k < given->n && st == VB_OK; k++) {
            for (size_t j = 0; j < k && st == VB_OK; j++)
                if (strcmp(given->strs[k], given->strs[j]) == 0)
                    st = vb_param_fail(p, "classes", err, "class name '%s' appears twice", given->strs[k]);
            names[n_names++] = given->strs[k];
        }
    } else if (st == VB_OK) {
        for (size_t i = 0; i < n; i++)
            names[n_names++] = rows[i].label;
        qsort(names, n_names, sizeof *names, cmp_str);
        size_t u = 0;
        for (size_t i = 0; i < n_names; i++)
            if (u == 0 || strcmp(names[u - 1], names[i]) != 0)
                names[u++] = names[i];
        n_names = u;
    }
    /* Labels to class indices by binary search: a manifest of a million
     * distinct labels must not cost a million squared comparisons. */
    vb_file_item *items = st == VB_OK ? calloc(n ? n : 1, sizeof *items) : NULL;
    named *by_name = st == VB_OK ? calloc(n_names ? n_names : 1, sizeof *by_name) : NULL;
    if (st == VB_OK && (!items || !by_name))
        st = vb_fail(err, VB_ERR_NOMEM, "out of memory");
    for (size_t k = 0; st == VB_OK && k < n_names; k++)
        by_name[k] = (named){names[k], k};
    if (st == VB_OK)
        qsort(by_name, n_names, sizeof *by_name, cmp_named);
    for (size_t i = 0; st == VB_OK && i < n; i++) {
        named key = {rows[i].label, 0};
        const named *hit = bsearch(&key, by_name, n_names, sizeof *by_name, cmp_named);
        size_t k = hit ? hit->k : n_names;
        if (k == n_names)
            st = vb_fail(err, VB_ERR_DATA, "%s: label '%s' of %s is not in the classes list",
                         rows[i].part == VB_PART_TEST ? files[1] : files[0], rows[i].label, rows[i].path);
        items[i].path = rows[i].path;
        items[i].label = (int)k;
        items[i].part = rows[i].part;
    }
    vb_dataset *ds = NULL;
    if (st == VB_OK)
        st = vb_data_decode_files(items, n, test != NULL, vb_param_bool(p, "skip_invalid"), &ds, err);
    if (st == VB_OK)
        st = vb_dataset_set_classes(ds, (const char *const *)names, (int)n_names, err);
    if (st == VB_OK)
        st = vb_dataset_check_classes(ds, files[0], err);
    free(items);
    free(by_name);
    free(names);
    for (size_t i = 0; i < n; i++) {
        free(rows[i].path);
        free(rows[i].label);
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
             .params = csv_params,
             .n_params = sizeof csv_params / sizeof csv_params[0]},
    .load = csv_load,
};
