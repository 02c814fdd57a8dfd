/* Label sets of multilabel data: read per row (a manifest's label field, an
 * image's label file), then mapped to classes and laid out as ds->Y. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

vb_status vb_labelsets_opts(const vb_params *p, int *multilabel, const char **sep, int *empty_error, vb_error *err)
{
    *multilabel = vb_param_bool(p, "multilabel");
    *sep = vb_param_str(p, "label_separator");
    *empty_error = vb_param_is(p, "empty_labels", "error");
    static const char *const ml_only[] = {"label_separator", "empty_labels"};
    for (size_t i = 0; !*multilabel && i < 2; i++)
        if (vb_param(p, ml_only[i])->given)
            return vb_param_fail(p, ml_only[i], err, "applies to multilabel data; add multilabel: true");
    if (*multilabel && !**sep)
        return vb_param_fail(p, "label_separator", err, "must not be empty");
    return VB_OK;
}

void vb_labelsets_free(vb_labelsets *ls)
{
    for (size_t i = 0; i < ls->n_names; i++)
        free(ls->names[i]);
    free(ls->names);
    free(ls->start);
    free(ls->cls);
    memset(ls, 0, sizeof *ls);
}

static int is_space(char ch) { return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n' || ch == '\v' || ch == '\f'; }

/* Appends name[0, len) to the row being read. */
static vb_status push_name(vb_labelsets *ls, const char *name, size_t len, vb_error *err)
{
    vb_status st = vb_data_grow(&ls->names, &ls->cap_names, ls->n_names, sizeof *ls->names, 1024, err);
    if (st != VB_OK)
        return st;
    if (!(ls->names[ls->n_names] = strndup(name, len)))
        return vb_fail(err, VB_ERR_NOMEM, "out of memory");
    ls->n_names++;
    return VB_OK;
}

/* Appends the label text[a, b) trimmed (nothing when it is empty). */
static vb_status add_label(vb_labelsets *ls, const char *text, size_t a, size_t b, const char *file, int line,
                           vb_error *err)
{
    while (a < b && is_space(text[a]))
        a++;
    while (b > a && is_space(text[b - 1]))
        b--;
    if (a == b)
        return VB_OK;
    for (size_t i = ls->start[ls->n]; i < ls->n_names; i++)
        if (strlen(ls->names[i]) == b - a && memcmp(ls->names[i], text + a, b - a) == 0)
            return vb_fail(err, VB_ERR_DATA, "%s:%d: label '%s' given twice; list each label once", file, line,
                           ls->names[i]);
    return push_name(ls, text + a, b - a, err);
}

/* Room for one more row (start[n + 1]). */
static vb_status begin_row(vb_labelsets *ls, vb_error *err)
{
    int fresh = !ls->start;
    vb_status st = vb_data_grow(&ls->start, &ls->cap_rows, ls->n + 1, sizeof *ls->start, 1024, err);
    if (st == VB_OK && fresh)
        ls->start[0] = 0;
    return st;
}

vb_status vb_labelsets_add_one(vb_labelsets *ls, const char *label, vb_error *err)
{
    vb_status st = begin_row(ls, err);
    if (st == VB_OK)
        st = push_name(ls, label, strlen(label), err);
    if (st == VB_OK)
        ls->start[++ls->n] = ls->n_names;
    return st;
}

vb_status vb_labelsets_add(vb_labelsets *ls, const char *text, const char *sep, int lines, const char *file,
                           int first_line, size_t *count, vb_error *err)
{
    *count = 0;
    vb_status st = begin_row(ls, err);
    if (st != VB_OK)
        return st;
    size_t seplen = strlen(sep), a = 0, i = 0;
    int line = first_line;
    for (;;) {
        int at_sep = seplen && strncmp(text + i, sep, seplen) == 0;
        int at_nl = lines && text[i] == '\n';
        if (!text[i] || at_sep || at_nl) {
            if ((st = add_label(ls, text, a, i, file, line, err)) != VB_OK || !text[i])
                break;
            i += at_sep ? seplen : 1;
            line += at_nl || (at_sep && sep[0] == '\n');
            a = i;
        } else
            i++;
    }
    if (st != VB_OK) {
        for (size_t k = ls->start[ls->n]; k < ls->n_names; k++)
            free(ls->names[k]);
        ls->n_names = ls->start[ls->n];
        return st;
    }
    *count = ls->n_names - ls->start[ls->n];
    ls->start[++ls->n] = ls->n_names;
    return VB_OK;
}

size_t vb_labelsets_row_of(const vb_labelsets *ls, size_t i)
{
    /* the last row r with start[r] <= i */
    size_t lo = 0, hi = ls->n;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (ls->start[mid] <= i)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

typedef struct named {
    const char *name;
    size_t k;
} named;

static int cmp_named(const void *a, const void *b)
{
    return strcmp(((const named *)a)->name, ((const named *)b)->name);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

vb_status vb_labelsets_classes(vb_labelsets *ls, const char *const *given, size_t n_given, char ***names_out,
                               size_t *n_out, size_t *unknown, vb_error *err)
{
    *names_out = NULL;
    *n_out = 0;
    *unknown = SIZE_MAX;
    size_t cap = n_given ? n_given : ls->n_names;
    char **names = vb_calloc(cap ? cap : 1, sizeof *names, err);
    named *by = vb_calloc(cap ? cap : 1, sizeof *by, err);
    free(ls->cls);
    ls->cls = vb_calloc(ls->n_names ? ls->n_names : 1, sizeof *ls->cls, err);
    if (!names || !by || !ls->cls) {
        free(names);
        free(by);
        return VB_ERR_NOMEM;
    }
    size_t n = 0;
    if (n_given) {
        for (; n < n_given; n++)
            names[n] = (char *)given[n];
    } else if (ls->n_names) {
        memcpy(names, ls->names, ls->n_names * sizeof *names);
        qsort(names, ls->n_names, sizeof *names, cmp_str);
        for (size_t i = 0; i < ls->n_names; i++)
            if (n == 0 || strcmp(names[n - 1], names[i]) != 0)
                names[n++] = names[i];
    }
    /* binary search: a manifest of a million labels must not cost a million squared */
    for (size_t k = 0; k < n; k++)
        by[k] = (named){names[k], k};
    qsort(by, n, sizeof *by, cmp_named);
    for (size_t i = 0; i < ls->n_names; i++) {
        named key = {ls->names[i], 0};
        const named *hit = n ? bsearch(&key, by, n, sizeof *by, cmp_named) : NULL;
        if (!hit) {
            *unknown = i;
            break;
        }
        ls->cls[i] = (int)hit->k;
    }
    free(by);
    *names_out = names;
    *n_out = n;
    return VB_OK;
}

vb_status vb_labelsets_apply(const vb_labelsets *ls, const size_t *src, vb_dataset *ds, vb_error *err)
{
    size_t K = (size_t)ds->n_classes, bytes;
    if (!vb_mul_ok(ds->n, K ? K : 1, &bytes) || bytes > VB_DATA_MAX_BYTES)
        return vb_fail(err, VB_ERR_DATA, "%zu images with %zu labels: more label sets than a dataset may hold (%zu bytes)",
                       ds->n, K, VB_DATA_MAX_BYTES);
    uint8_t *Y = vb_calloc(bytes ? bytes : 1, 1, err);
    if (!Y)
        return VB_ERR_NOMEM;
    free(ds->Y);
    ds->Y = Y;
    ds->n_empty = 0;
    for (size_t j = 0; j < ds->n; j++) {
        size_t r = src ? src[j] : j;
        int first = -1;
        for (size_t i = ls->start[r]; i < ls->start[r + 1]; i++) {
            int k = ls->cls[i];
            Y[j * K + (size_t)k] = 1;
            if (first < 0 || k < first)
                first = k;
        }
        ds->labels[j] = first < 0 ? 0 : first;
        ds->n_empty += first < 0;
    }
    ds->task = VB_TASK_MULTILABEL;
    return VB_OK;
}

/* ---- label sets of a subset (the engine's rows) ---- */

uint8_t *vb_dataset_label_rows(const vb_dataset *ds, const size_t *idx, size_t n, vb_error *err)
{
    size_t L = (size_t)ds->n_classes;
    uint8_t *Y = vb_malloc(n && L ? n : 1, L ? L : 1, err);
    if (!Y)
        return NULL;
    for (size_t i = 0; i < n; i++)
        memcpy(Y + i * L, ds->Y + idx[i] * L, L);
    return Y;
}

void vb_labelset_text(vb_buf *b, const uint8_t *row, int k, const char *const *names)
{
    int first = 1;
    for (int c = 0; c < k; c++)
        if (row[c]) {
            if (names)
                vb_buf_printf(b, "%s%s", first ? "" : ";", names[c]);
            else
                vb_buf_printf(b, "%s%d", first ? "" : ";", c);
            first = 0;
        }
}
