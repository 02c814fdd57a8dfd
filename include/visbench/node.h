/* A YAML document as a small tree of nodes that remember where they came
 * from (file, line, column), so every error about a spec or a dataset
 * descriptor can point at the exact place. libfyaml does the parsing; only
 * this module sees it.
 *
 * Reading marks nodes as used; vb_node_check_keys() reports keys that no
 * reader accepts, with the nearest valid key as a suggestion.
 */
#ifndef VISBENCH_NODE_H
#define VISBENCH_NODE_H

#include "visbench/core.h"

typedef enum vb_node_kind { VB_NODE_SCALAR, VB_NODE_SEQ, VB_NODE_MAP } vb_node_kind;

typedef struct vb_node vb_node;
struct vb_node {
    vb_node_kind kind;
    const char *file; /* shared by every node of a document; stays valid after
                         vb_doc_free (names are kept for the life of the process) */
    int line, col;    /* 1-based */
    char *text;       /* scalar text (NUL-terminated), NULL otherwise */
    int plain;        /* scalar was written without quotes */
    size_t n;         /* sequence items or mapping pairs */
    vb_node **items;  /* sequence items, or mapping values */
    vb_node **keys;   /* mapping keys (scalars), NULL for sequences */
};

typedef struct vb_doc {
    vb_node *root; /* NULL for an empty document */
    char *file;
    char *text;    /* the source text, kept for hashing and for the store */
    size_t text_len;
} vb_doc;

/* The largest YAML text (spec, descriptor) accepted, checked before it is
 * read: a parsed node costs about a hundred times its text. */
#define VB_YAML_MAX_BYTES ((size_t)4 << 20)

/* Parses a file or a string ("name" is used in messages). A YAML syntax
 * error gives VB_ERR_SPEC with "file:line:col: message"; text over
 * VB_YAML_MAX_BYTES, not UTF-8, or with a malformed directive is refused
 * before parsing. */
vb_status vb_doc_load_file(const char *path, vb_doc **out, vb_error *err);
vb_status vb_doc_load_string(const char *text, const char *name, vb_doc **out, vb_error *err);
void vb_doc_free(vb_doc *doc);

/* "file:line:col: " + message, VB_ERR_SPEC. */
vb_status vb_node_fail(const vb_node *n, vb_error *err, const char *fmt, ...) VB_PRINTF(3, 4);

/* Value of key in a mapping, or NULL. */
vb_node *vb_node_get(const vb_node *map, const char *key);
/* Fails for keys not in allowed[]; the message names the key, where it is,
 * what it belongs to ("in split") and the nearest allowed key. */
vb_status vb_node_check_keys(const vb_node *map, const char *const *allowed, size_t n_allowed,
                             const char *where, vb_error *err);
/* Kind checks with a message naming what was expected. */
vb_status vb_node_expect(const vb_node *n, vb_node_kind kind, const char *what, vb_error *err);

/* Scalar conversions; errors point at the node. */
vb_status vb_node_long(const vb_node *n, const char *what, long *out, vb_error *err);
vb_status vb_node_double(const vb_node *n, const char *what, double *out, vb_error *err);
vb_status vb_node_bool(const vb_node *n, const char *what, int *out, vb_error *err);
vb_status vb_node_str(const vb_node *n, const char *what, const char **out, vb_error *err);

/* A plug-in entry in a list is written either as a bare name ("relu") or as
 * a one-key mapping ("hog: {cell: 4}" / "maxpool: 2"). Returns the name node
 * and the value node (NULL for a bare name). */
vb_status vb_node_entry(const vb_node *n, const char *what, const vb_node **name,
                        const vb_node **value, vb_error *err);

/* Appends a node as flow-style YAML text (canonical: used to store chosen
 * parameters and to rebuild plug-ins from a model file). */
void vb_node_to_yaml(const vb_node *n, vb_buf *b);
/* Appends a node as JSON, scalars typed as YAML's core schema reads them
 * when plain (true/false, null or ~, decimal numbers; "+1" and ".5" are
 * rewritten as JSON numbers), strings otherwise and when quoted. */
void vb_node_to_json(const vb_node *n, vb_buf *b);
/* Deep copy (positions kept); the copy shares the file name string. */
vb_node *vb_node_clone(const vb_node *n);
void vb_node_free(vb_node *n);
/* A scalar node that owns its text (for building nodes in code). */
vb_node *vb_node_new_scalar(const char *text, const char *file, int line, int col);

/* Appends a YAML-safe scalar: plain when that reads back as the same
 * string, double-quoted otherwise. */
void vb_yaml_scalar(vb_buf *b, const char *s);

#endif
