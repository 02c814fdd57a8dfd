/* YAML documents through libfyaml's event parser into vb_node trees. */
#include "visbench/node.h"

#include <ctype.h>
#include <libfyaml.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- nodes ------------------------------------------------------------- */

static vb_node *node_new(vb_node_kind kind, const char *file, int line, int col)
{
    vb_node *n = calloc(1, sizeof *n);
    if (!n)
        return NULL;
    n->kind = kind;
    n->file = file;
    n->line = line;
    n->col = col;
    return n;
}

vb_node *vb_node_new_scalar(const char *text, const char *file, int line, int col)
{
    vb_node *n = node_new(VB_NODE_SCALAR, file, line, col);
    if (!n)
        return NULL;
    n->text = strdup(text ? text : "");
    n->plain = 1;
    if (!n->text) {
        free(n);
        return NULL;
    }
    return n;
}

void vb_node_free(vb_node *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->n; i++) {
        vb_node_free(n->items[i]);
        if (n->keys)
            vb_node_free(n->keys[i]);
    }
    free(n->items);
    free(n->keys);
    free(n->text);
    free(n);
}

vb_node *vb_node_clone(const vb_node *n)
{
    if (!n)
        return NULL;
    vb_node *c = node_new(n->kind, n->file, n->line, n->col);
    if (!c)
        return NULL;
    c->plain = n->plain;
    if (n->text && !(c->text = strdup(n->text)))
        goto fail;
    if (n->n) {
        c->items = calloc(n->n, sizeof *c->items);
        if (!c->items)
            goto fail;
        if (n->keys && !(c->keys = calloc(n->n, sizeof *c->keys)))
            goto fail;
        for (size_t i = 0; i < n->n; i++) {
            c->n = i + 1;
            if (!(c->items[i] = vb_node_clone(n->items[i])))
                goto fail;
            if (n->keys && !(c->keys[i] = vb_node_clone(n->keys[i])))
                goto fail;
        }
    }
    return c;
fail:
    vb_node_free(c);
    return NULL;
}

/* Appends child (and key, for mappings) to parent. */
static int node_push(vb_node *parent, vb_node *key, vb_node *child)
{
    vb_node **items = realloc(parent->items, (parent->n + 1) * sizeof *items);
    if (!items)
        return 0;
    parent->items = items;
    if (parent->kind == VB_NODE_MAP) {
        vb_node **keys = realloc(parent->keys, (parent->n + 1) * sizeof *keys);
        if (!keys)
            return 0;
        parent->keys = keys;
        keys[parent->n] = key;
    }
    items[parent->n++] = child;
    return 1;
}

/* ---- parsing ----------------------------------------------------------- */

/* Nodes and parameter values point at their file name long after the
 * document is freed (a spec's parameters and cloned nodes outlive the parse,
 * and their errors still name the file). So nodes do not point into the
 * vb_doc: each distinct name is stored once, for the life of the process. */
typedef struct name_entry {
    struct name_entry *next;
    char name[];
} name_entry;
static name_entry *interned_names;
static pthread_mutex_t interned_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *intern_name(const char *s)
{
    pthread_mutex_lock(&interned_lock);
    name_entry *e;
    for (e = interned_names; e; e = e->next)
        if (strcmp(e->name, s) == 0)
            break;
    if (!e) {
        size_t n = strlen(s) + 1;
        if ((e = malloc(sizeof *e + n))) {
            memcpy(e->name, s, n);
            e->next = interned_names;
            interned_names = e;
        }
    }
    pthread_mutex_unlock(&interned_lock);
    return e ? e->name : NULL;
}

typedef struct anchor {
    char *name;
    vb_node *node;
} anchor;

typedef struct builder {
    const char *file;
    vb_node *stack[128];
    vb_node *pending_key[128]; /* for mappings: the key waiting for its value */
    int depth;
    vb_node *root;
    anchor *anchors;
    size_t n_anchors;
    size_t aliased; /* nodes copied by alias expansion so far */
    vb_error *err;
} builder;

/* Aliases are expanded by copying, so a few nested aliases can describe an
 * exponentially large tree ("billion laughs"); specs are small, so cap it. */
#define VB_YAML_MAX_ALIASED 100000

static size_t node_count(const vb_node *n)
{
    size_t c = 1;
    for (size_t i = 0; i < n->n; i++)
        c += node_count(n->items[i]) + (n->keys ? 1 : 0);
    return c;
}

static void mark_pos(struct fy_token *t, int *line, int *col)
{
    const struct fy_mark *m = t ? fy_token_start_mark(t) : NULL;
    *line = m ? m->line + 1 : 0;
    *col = m ? m->column + 1 : 0;
}

static vb_status add_anchor(builder *b, struct fy_token *anchor_tok, vb_node *n)
{
    if (!anchor_tok)
        return VB_OK;
    size_t len = 0;
    const char *text = fy_token_get_text(anchor_tok, &len);
    anchor *a = realloc(b->anchors, (b->n_anchors + 1) * sizeof *a);
    if (!a)
        return vb_fail(b->err, VB_ERR_NOMEM, "out of memory");
    b->anchors = a;
    a[b->n_anchors].name = strndup(text ? text : "", len);
    a[b->n_anchors].node = n;
    if (!a[b->n_anchors].name)
        return vb_fail(b->err, VB_ERR_NOMEM, "out of memory");
    b->n_anchors++;
    return VB_OK;
}

/* Attaches a finished node to its parent (or makes it the root). Scalars
 * that are mapping keys wait for their value. */
static vb_status attach(builder *b, vb_node *n)
{
    if (b->depth == 0) {
        if (b->root) {
            vb_node_free(n);
            return VB_OK;
        }
        b->root = n;
        return VB_OK;
    }
    vb_node *parent = b->stack[b->depth - 1];
    if (parent->kind == VB_NODE_SEQ) {
        if (!node_push(parent, NULL, n)) {
            vb_node_free(n);
            return vb_fail(b->err, VB_ERR_NOMEM, "out of memory");
        }
        return VB_OK;
    }
    vb_node *key = b->pending_key[b->depth - 1];
    if (!key) {
        if (n->kind != VB_NODE_SCALAR) {
            vb_status st = vb_node_fail(n, b->err, "mapping keys must be plain names");
            vb_node_free(n);
            return st;
        }
        for (size_t i = 0; i < parent->n; i++)
            if (strcmp(parent->keys[i]->text, n->text) == 0) {
                vb_status st = vb_node_fail(n, b->err, "duplicate key '%s' (first given at line %d)",
                                            n->text, parent->keys[i]->line);
                vb_node_free(n);
                return st;
            }
        b->pending_key[b->depth - 1] = n;
        return VB_OK;
    }
    b->pending_key[b->depth - 1] = NULL;
    if (!node_push(parent, key, n)) {
        vb_node_free(key);
        vb_node_free(n);
        return vb_fail(b->err, VB_ERR_NOMEM, "out of memory");
    }
    return VB_OK;
}

static vb_status on_event(builder *b, struct fy_event *ev)
{
    int line, col;
    vb_node *n;
    switch (ev->type) {
    case FYET_SCALAR: {
        mark_pos(ev->scalar.value, &line, &col);
        if (line == 0 && b->depth > 0) {
            /* An empty (null) value has no token: point at its key, or
             * at the enclosing collection. */
            const vb_node *at = b->pending_key[b->depth - 1];
            if (!at)
                at = b->stack[b->depth - 1];
            line = at->line;
            col = at->col;
        }
        size_t len = 0;
        const char *text = fy_token_get_text(ev->scalar.value, &len);
        if (!(n = node_new(VB_NODE_SCALAR, b->file, line, col)) ||
            !(n->text = strndup(text ? text : "", len))) {
            vb_node_free(n);
            return vb_fail(b->err, VB_ERR_NOMEM, "out of memory");
        }
        n->plain = fy_token_scalar_style(ev->scalar.value) == FYSS_PLAIN;
        vb_status st = add_anchor(b, ev->scalar.anchor, n);
        if (st != VB_OK) {
            vb_node_free(n);
            return st;
        }
        return attach(b, n);
    }
    case FYET_SEQUENCE_START:
    case FYET_MAPPING_START: {
        int is_map = ev->type == FYET_MAPPING_START;
        struct fy_token *t = is_map ? ev->mapping_start.mapping_start : ev->sequence_start.sequence_start;
        mark_pos(t, &line, &col);
        if (b->depth >= (int)(sizeof b->stack / sizeof b->stack[0]))
            return vb_fail(b->err, VB_ERR_SPEC, "%s:%d:%d: nesting too deep", b->file, line, col);
        if (!(n = node_new(is_map ? VB_NODE_MAP : VB_NODE_SEQ, b->file, line, col)))
            return vb_fail(b->err, VB_ERR_NOMEM, "out of memory");
        vb_status st = add_anchor(b, is_map ? ev->mapping_start.anchor : ev->sequence_start.anchor, n);
        if (st != VB_OK) {
            vb_node_free(n);
            return st;
        }
        b->pending_key[b->depth] = NULL;
        b->stack[b->depth++] = n;
        return VB_OK;
    }
    case FYET_SEQUENCE_END:
    case FYET_MAPPING_END:
        n = b->stack[--b->depth];
        return attach(b, n);
    case FYET_ALIAS: {
        size_t len = 0;
        const char *name = fy_token_get_text(ev->alias.anchor, &len);
        mark_pos(ev->alias.anchor, &line, &col);
        for (size_t i = b->n_anchors; i-- > 0;)
            if (strlen(b->anchors[i].name) == len && memcmp(b->anchors[i].name, name, len) == 0) {
                b->aliased += node_count(b->anchors[i].node);
                if (b->aliased > VB_YAML_MAX_ALIASED)
                    return vb_fail(b->err, VB_ERR_SPEC,
                                   "%s:%d:%d: aliases expand to more than %d nodes; write the values out", b->file,
                                   line, col, VB_YAML_MAX_ALIASED);
                if (!(n = vb_node_clone(b->anchors[i].node)))
                    return vb_fail(b->err, VB_ERR_NOMEM, "out of memory");
                return attach(b, n);
            }
        return vb_fail(b->err, VB_ERR_SPEC, "%s:%d:%d: unknown alias '*%.*s'", b->file, line, col,
                       (int)len, name ? name : "");
    }
    default:
        return VB_OK;
    }
}

static vb_status parse_with(struct fy_parser *fyp, struct fy_diag *diag, vb_doc *doc, vb_error *err)
{
    builder b;
    memset(&b, 0, sizeof b);
    if (!(b.file = intern_name(doc->file)))
        return vb_fail(err, VB_ERR_NOMEM, "out of memory");
    b.err = err;
    vb_status st = VB_OK;
    struct fy_event *ev;
    int docs = 0;
    while ((ev = fy_parser_parse(fyp)) != NULL) {
        if (ev->type == FYET_DOCUMENT_START && ++docs > 1) {
            fy_parser_event_free(fyp, ev);
            st = vb_fail(err, VB_ERR_SPEC, "%s: holds more than one YAML document; keep one", doc->file);
            break;
        }
        st = on_event(&b, ev);
        fy_parser_event_free(fyp, ev);
        if (st != VB_OK)
            break;
    }
    if (st == VB_OK && fy_parser_get_stream_error(fyp)) {
        void *it = NULL;
        struct fy_diag_error *e = fy_diag_errors_iterate(diag, &it);
        /* libfyaml's collected positions are already 1-based. */
        if (e && e->line > 0 && e->column > 0)
            st = vb_fail(err, VB_ERR_SPEC, "%s:%d:%d: YAML syntax error: %s", doc->file, e->line,
                         e->column, e->msg ? e->msg : "invalid YAML");
        else if (e)
            st = vb_fail(err, VB_ERR_SPEC, "%s: YAML syntax error: %s", doc->file,
                         e->msg ? e->msg : "invalid YAML");
        else
            st = vb_fail(err, VB_ERR_SPEC, "%s: YAML syntax error", doc->file);
    }
    while (b.depth > 0) {
        b.depth--;
        vb_node_free(b.pending_key[b.depth]);
        vb_node_free(b.stack[b.depth]);
    }
    for (size_t i = 0; i < b.n_anchors; i++)
        free(b.anchors[i].name);
    free(b.anchors);
    if (st != VB_OK) {
        vb_node_free(b.root);
        return st;
    }
    doc->root = b.root;
    return VB_OK;
}

/* ---- the text libfyaml may see ------------------------------------------ */

/* Length of the UTF-8 sequence at s (at most n bytes), 0 when it is not
 * valid: truncated, overlong, a surrogate or beyond U+10FFFF. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    if (c < 0x80)
        return 1;
    size_t len = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
    if (len == 0 || len > n)
        return 0;
    for (size_t i = 1; i < len; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    if ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] > 0x9f) || (c == 0xf0 && s[1] < 0x90) ||
        (c == 0xf4 && s[1] > 0x8f))
        return 0;
    return len;
}

static int is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* Whether the directive line s[0..n) (it starts with '%') is a well-formed
 * "%YAML 1.x" or "%TAG !handle! prefix", maybe followed by a comment. */
static int directive_ok(const char *s, size_t n)
{
    size_t i;
    if (n > 5 && memcmp(s, "%YAML", 5) == 0 && is_blank(s[5])) {
        for (i = 5; i < n && is_blank(s[i]); i++)
            ;
        if (i + 2 >= n || s[i] != '1' || s[i + 1] != '.' || s[i + 2] < '0' || s[i + 2] > '9')
            return 0;
        for (i += 2; i < n && s[i] >= '0' && s[i] <= '9'; i++)
            ;
    } else if (n > 4 && memcmp(s, "%TAG", 4) == 0 && is_blank(s[4])) {
        for (i = 4; i < n && is_blank(s[i]); i++)
            ;
        /* the handle: !, !! or !word! */
        if (i >= n || s[i++] != '!')
            return 0;
        size_t w = i;
        while (i < n && (isalnum((unsigned char)s[i]) || s[i] == '-'))
            i++;
        if (i < n && s[i] == '!')
            i++;
        else if (i != w)
            return 0;
        if (i >= n || !is_blank(s[i]))
            return 0;
        while (i < n && is_blank(s[i]))
            i++;
        size_t p = i; /* the prefix: printable ASCII, no blanks */
        while (i < n && s[i] > ' ' && s[i] < 0x7f)
            i++;
        if (i == p)
            return 0;
    } else
        return 0;
    size_t end = i;
    while (i < n && is_blank(s[i]))
        i++;
    return i == n || (i > end && s[i] == '#');
}

/* libfyaml 0.7.12 never returns from fy_scan_directive on some malformed
 * directives ("%\xff"), so nothing reaches it unchecked: the text must be
 * UTF-8 without NUL bytes, and a line that starts with '%' must be one of
 * the two directives YAML 1.2 defines, well formed. Positions count
 * characters, 1-based, as libfyaml's do. */
static vb_status check_text(const char *text, size_t len, const char *file, vb_error *err)
{
    const unsigned char *t = (const unsigned char *)text;
    int line = 1, col = 1;
    for (size_t i = 0; i < len;) {
        size_t n = utf8_len(t + i, len - i);
        if (n == 0)
            return vb_fail(err, VB_ERR_SPEC, "%s:%d:%d: byte 0x%02x is not valid UTF-8; YAML files must be UTF-8 text",
                           file, line, col, t[i]);
        if (t[i] == 0)
            return vb_fail(err, VB_ERR_SPEC, "%s:%d:%d: a NUL byte; YAML files must be UTF-8 text", file, line, col);
        if (col == 1 && t[i] == '%') {
            size_t e = i;
            while (e < len && t[e] != '\n' && t[e] != '\r')
                e++;
            if (!directive_ok(text + i, e - i))
                return vb_fail(err, VB_ERR_SPEC,
                               "%s:%d:1: a line starting with '%%' is a YAML directive, and only well-formed "
                               "'%%YAML 1.x' and '%%TAG !handle! prefix' directives are accepted; remove the line",
                               file, line);
        }
        if (t[i] == '\n' || (t[i] == '\r' && (i + 1 == len || t[i + 1] != '\n'))) {
            line++;
            col = 1;
        } else if (t[i] != '\r')
            col++;
        i += n;
    }
    return VB_OK;
}

static vb_status load(const char *text, size_t len, const char *name, vb_doc **out, vb_error *err)
{
    *out = NULL;
    if (len > VB_YAML_MAX_BYTES)
        return vb_fail(err, VB_ERR_SPEC, "%s: %zu bytes, more than the %zu bytes a YAML spec or descriptor may have",
                       name, len, VB_YAML_MAX_BYTES);
    vb_status cst = check_text(text, len, name, err);
    if (cst != VB_OK)
        return cst;
    vb_doc *doc = calloc(1, sizeof *doc);
    if (!doc || !(doc->file = strdup(name)) || !(doc->text = malloc(len + 1))) {
        vb_doc_free(doc);
        return vb_fail(err, VB_ERR_NOMEM, "out of memory");
    }
    memcpy(doc->text, text, len);
    doc->text[len] = 0;
    doc->text_len = len;

    struct fy_diag_cfg dcfg;
    fy_diag_cfg_default(&dcfg);
    dcfg.fp = NULL;
    dcfg.output_fn = NULL;
    dcfg.level = FYET_ERROR;
    struct fy_diag *diag = fy_diag_create(&dcfg);
    if (!diag) {
        vb_doc_free(doc);
        return vb_fail(err, VB_ERR_NOMEM, "out of memory");
    }
    fy_diag_set_collect_errors(diag, true);
    struct fy_parse_cfg cfg = {.flags = FYPCF_QUIET | FYPCF_COLLECT_DIAG, .diag = diag};
    struct fy_parser *fyp = fy_parser_create(&cfg);
    vb_status st;
    if (!fyp || fy_parser_set_string(fyp, doc->text, len) != 0)
        st = vb_fail(err, VB_ERR_NOMEM, "out of memory");
    else
        st = parse_with(fyp, diag, doc, err);
    fy_parser_destroy(fyp);
    fy_diag_destroy(diag); /* unlike fy_diag_unref, also frees the collected errors */
    if (st != VB_OK) {
        vb_doc_free(doc);
        return st;
    }
    *out = doc;
    return VB_OK;
}

vb_status vb_doc_load_file(const char *path, vb_doc **out, vb_error *err)
{
    *out = NULL; /* also when the file cannot be read */
    char *text;
    size_t len;
    vb_status st = vb_file_read_max(path, VB_YAML_MAX_BYTES, "a YAML spec or descriptor", &text, &len, err);
    if (st != VB_OK)
        return st;
    st = load(text, len, path, out, err);
    free(text);
    return st;
}

vb_status vb_doc_load_string(const char *text, const char *name, vb_doc **out, vb_error *err)
{
    return load(text, strlen(text), name, out, err);
}

void vb_doc_free(vb_doc *doc)
{
    if (!doc)
        return;
    vb_node_free(doc->root);
    free(doc->file);
    free(doc->text);
    free(doc);
}

/* ---- access ------------------------------------------------------------ */

vb_status vb_node_fail(const vb_node *n, vb_error *err, const char *fmt, ...)
{
    char msg[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (n && n->line > 0)
        return vb_fail(err, VB_ERR_SPEC, "%s:%d:%d: %s", n->file, n->line, n->col, msg);
    return vb_fail(err, VB_ERR_SPEC, "%s: %s", n && n->file ? n->file : "spec", msg);
}

vb_node *vb_node_get(const vb_node *map, const char *key)
{
    if (!map || map->kind != VB_NODE_MAP)
        return NULL;
    for (size_t i = 0; i < map->n; i++)
        if (strcmp(map->keys[i]->text, key) == 0)
            return map->items[i];
    return NULL;
}

vb_status vb_node_check_keys(const vb_node *map, const char *const *allowed, size_t n_allowed,
                             const char *where, vb_error *err)
{
    if (!map || map->kind != VB_NODE_MAP)
        return VB_OK;
    for (size_t i = 0; i < map->n; i++) {
        const char *k = map->keys[i]->text;
        size_t j;
        for (j = 0; j < n_allowed; j++)
            if (strcmp(k, allowed[j]) == 0)
                break;
        if (j < n_allowed)
            continue;
        const char *near = vb_nearest_name(k, allowed, n_allowed);
        vb_buf list;
        vb_buf_init(&list);
        for (j = 0; j < n_allowed; j++)
            vb_buf_printf(&list, "%s%s", j ? ", " : "", allowed[j]);
        vb_status st;
        if (near)
            st = vb_node_fail(map->keys[i], err, "unknown key '%s' in %s; did you mean '%s'?", k, where, near);
        else
            st = vb_node_fail(map->keys[i], err, "unknown key '%s' in %s (valid keys: %s)", k, where,
                              list.data ? list.data : "none");
        vb_buf_free(&list);
        return st;
    }
    return VB_OK;
}

static const char *kind_name(vb_node_kind k)
{
    return k == VB_NODE_SCALAR ? "a single value" : k == VB_NODE_SEQ ? "a list" : "a mapping";
}

vb_status vb_node_expect(const vb_node *n, vb_node_kind kind, const char *what, vb_error *err)
{
    if (!n)
        return vb_fail(err, VB_ERR_SPEC, "%s is missing", what);
    if (n->kind != kind)
        return vb_node_fail(n, err, "%s must be %s, not %s", what, kind_name(kind), kind_name(n->kind));
    return VB_OK;
}

vb_status vb_node_long(const vb_node *n, const char *what, long *out, vb_error *err)
{
    vb_status st = vb_node_expect(n, VB_NODE_SCALAR, what, err);
    if (st != VB_OK)
        return st;
    double d;
    if (vb_parse_long(n->text, out))
        return VB_OK;
    /* 1e3 or 10.0 are integers too, written differently. The range check
     * comes first: converting an out-of-range double (or NaN) is undefined. */
    if (vb_parse_double(n->text, &d) && d > -9.2e18 && d < 9.2e18 && d == (double)(long)d) {
        *out = (long)d;
        return VB_OK;
    }
    return vb_node_fail(n, err, "%s must be an integer, not '%s'", what, n->text);
}

vb_status vb_node_double(const vb_node *n, const char *what, double *out, vb_error *err)
{
    vb_status st = vb_node_expect(n, VB_NODE_SCALAR, what, err);
    if (st != VB_OK)
        return st;
    if (vb_parse_double(n->text, out) && *out == *out)
        return VB_OK;
    return vb_node_fail(n, err, "%s must be a number, not '%s'", what, n->text);
}

vb_status vb_node_bool(const vb_node *n, const char *what, int *out, vb_error *err)
{
    vb_status st = vb_node_expect(n, VB_NODE_SCALAR, what, err);
    if (st != VB_OK)
        return st;
    static const char *const yes[] = {"true", "yes", "on"}, *const no[] = {"false", "no", "off"};
    for (int i = 0; i < 3; i++) {
        if (strcasecmp(n->text, yes[i]) == 0) {
            *out = 1;
            return VB_OK;
        }
        if (strcasecmp(n->text, no[i]) == 0) {
            *out = 0;
            return VB_OK;
        }
    }
    return vb_node_fail(n, err, "%s must be true or false, not '%s'", what, n->text);
}

vb_status vb_node_str(const vb_node *n, const char *what, const char **out, vb_error *err)
{
    vb_status st = vb_node_expect(n, VB_NODE_SCALAR, what, err);
    if (st == VB_OK)
        *out = n->text;
    return st;
}

vb_status vb_node_entry(const vb_node *n, const char *what, const vb_node **name,
                        const vb_node **value, vb_error *err)
{
    if (n->kind == VB_NODE_SCALAR) {
        *name = n;
        *value = NULL;
        return VB_OK;
    }
    if (n->kind == VB_NODE_MAP && n->n == 1) {
        *name = n->keys[0];
        *value = n->items[0];
        return VB_OK;
    }
    return vb_node_fail(n, err, "each %s must be a name, or a name with its parameters "
                                "(e.g. 'hog: {cell: 8}')",
                        what);
}

/* ---- emitting ---------------------------------------------------------- */

void vb_yaml_scalar(vb_buf *b, const char *s)
{
    /* Plain when every character is one that cannot start or end a YAML
     * construct; double-quoted (JSON escaping is valid YAML) otherwise. */
    int plain = *s != 0 && s[0] != '-' ? 1 : (s[0] == '-' && s[1] != 0 && s[1] != ' ');
    for (const char *p = s; *p && plain; p++)
        plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                strchr("_./+-", *p) != NULL;
    if (plain)
        vb_buf_puts(b, s);
    else
        vb_buf_json_str(b, s);
}

/* A plain scalar that YAML's core schema reads as a decimal number: as
 * JSON writes one (kept as it is), or in a form JSON lacks ("+1", ".5",
 * "1.") that is rewritten. 0 for anything else (words, hex, .inf, .nan). */
static int yaml_number(const char *s, int *as_json)
{
    const char *p = s;
    int digits = 0;
    *as_json = 1;
    if (*p == '+')
        *as_json = 0;
    if (*p == '-' || *p == '+')
        p++;
    if (*p == '0' && p[1] >= '0' && p[1] <= '9')
        *as_json = 0; /* a leading zero */
    if (*p == '.')
        *as_json = 0;
    while (*p >= '0' && *p <= '9')
        p++, digits++;
    if (*p == '.') {
        p++;
        if (!(*p >= '0' && *p <= '9'))
            *as_json = 0;
        while (*p >= '0' && *p <= '9')
            p++, digits++;
    }
    if (!digits)
        return 0;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '-' || *p == '+')
            p++;
        if (!(*p >= '0' && *p <= '9'))
            return 0;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    return *p == 0;
}

/* A plain scalar as JSON: typed as YAML's core schema reads it. */
static void plain_to_json(const char *t, vb_buf *b)
{
    int as_json;
    double v = 0;
    if (!strcmp(t, "true") || !strcmp(t, "True") || !strcmp(t, "TRUE"))
        vb_buf_puts(b, "true");
    else if (!strcmp(t, "false") || !strcmp(t, "False") || !strcmp(t, "FALSE"))
        vb_buf_puts(b, "false");
    else if (!*t || !strcmp(t, "~") || !strcmp(t, "null") || !strcmp(t, "Null") || !strcmp(t, "NULL"))
        vb_buf_puts(b, "null");
    else if (yaml_number(t, &as_json) && as_json)
        vb_buf_puts(b, t);
    else if (yaml_number(t, &as_json) && vb_parse_double(t, &v))
        vb_buf_double(b, v);
    else
        vb_buf_json_str(b, t);
}

/* Flow YAML (canonical) or JSON: the same tree, scalars and keys written
 * each its way. */
static void emit_node(const vb_node *n, int json, vb_buf *b)
{
    if (!n) {
        vb_buf_puts(b, "null");
        return;
    }
    switch (n->kind) {
    case VB_NODE_SCALAR:
        if (!n->plain)
            vb_buf_json_str(b, n->text);
        else if (json)
            plain_to_json(n->text, b);
        else
            vb_yaml_scalar(b, n->text);
        break;
    case VB_NODE_SEQ:
        vb_buf_puts(b, "[");
        for (size_t i = 0; i < n->n; i++) {
            if (i)
                vb_buf_puts(b, ", ");
            emit_node(n->items[i], json, b);
        }
        vb_buf_puts(b, "]");
        break;
    case VB_NODE_MAP:
        vb_buf_puts(b, "{");
        for (size_t i = 0; i < n->n; i++) {
            if (i)
                vb_buf_puts(b, ", ");
            if (json)
                vb_buf_json_str(b, n->keys[i]->text);
            else
                vb_yaml_scalar(b, n->keys[i]->text);
            vb_buf_puts(b, ": ");
            emit_node(n->items[i], json, b);
        }
        vb_buf_puts(b, "}");
        break;
    }
}

void vb_node_to_yaml(const vb_node *n, vb_buf *b) { emit_node(n, 0, b); }

void vb_node_to_json(const vb_node *n, vb_buf *b) { emit_node(n, 1, b); }
