/* Parameter tables: every plug-in (dataset loader, preprocess op, extractor,
 * postprocess step, classifier) declares its parameters once, in a table of
 * vb_param_def. The spec parser validates against it, `visbench list`
 * prints it, the README documents it, and model files rebuild plug-ins from
 * the canonical text it produces.
 *
 *     static const vb_param_def hog_params[] = {
 *         {.name = "cell", .type = VB_PT_INT, .def = "4", .min = 1, .max = 128,
 *          .help = "cell side in pixels"},
 *         ...
 *     };
 */
#ifndef VISBENCH_PARAM_H
#define VISBENCH_PARAM_H

#include "visbench/node.h"

typedef enum vb_ptype {
    VB_PT_INT,
    VB_PT_FLOAT,
    VB_PT_BOOL,
    VB_PT_ENUM,    /* one of choices "a|b|c" */
    VB_PT_STRING,
    VB_PT_INTS,    /* list of integers (or one integer, repeated to min_len) */
    VB_PT_FLOATS,  /* list of numbers */
    VB_PT_STRINGS, /* list of strings */
    VB_PT_NODE     /* structured value the plug-in reads itself (e.g. CNN layers) */
} vb_ptype;

#define VB_PF_GRID 1u     /* a list of values is a grid, tuned on validation data */
#define VB_PF_PRIMARY 2u  /* "name: value" (not a mapping) sets this parameter */
#define VB_PF_REQUIRED 4u /* must be given; def is NULL */
#define VB_PF_MIN_OPEN 8u /* the value must be > min rather than >= min */
#define VB_PF_MAX_OPEN 16u /* the value must be < max rather than <= max */
/* STRING: a file's path, relative to the folder of the spec it is written
 * in. The spec resolves it and hashes the file's bytes (vb_pvalue.file_hash,
 * FNV-1a 64: not a CRC-32, which is the same for every file that ends with
 * its own, as model files do), and the hash is part of the pipeline's
 * configuration (vb_params_files_key): a changed file is another
 * configuration. */
#define VB_PF_FILE 32u

typedef struct vb_param_def {
    const char *name;
    vb_ptype type;
    const char *def;     /* default as YAML text; NULL = required or absent */
    double min, max;     /* range for numbers (each element of a list); used when min < max */
    const char *choices; /* ENUM: the choices; INT/FLOAT: keywords also accepted ("scale|auto") */
    unsigned flags;
    int min_len, max_len; /* list length limits (0 = none) */
    const char *help;
} vb_param_def;

struct vb_plugin;

/* A structured (VB_PT_NODE) parameter of a plug-in whose value is written
 * with plug-ins of its own: one of several ("optimizer: {adam: {lr:
 * 0.001}}", parsed by vb_params_parse_entry), a list of them (the cnn's
 * layers), or one table ("augment: {flip: true}"). visbench list prints
 * their tables after the plug-in's. */
typedef struct vb_plugin_group {
    const char *param; /* the parameter of the owning plug-in */
    const char *usage; /* how it is written */
    const struct vb_plugin *const *plugins;
    size_t n;
} vb_plugin_group;

/* Common head of every plug-in vtable. */
typedef struct vb_plugin {
    const char *name;
    const char *help;  /* one line */
    const char *doc;   /* what it does with colour, output size, references; may be NULL */
    const vb_param_def *params;
    size_t n_params;
    const vb_plugin_group *groups; /* sub-tables of NODE parameters; may be NULL */
    size_t n_groups;
} vb_plugin;

/* A plug-in's table in its initializer: {.name = "hog", VB_PARAMS(hog_params)}. */
#define VB_PARAMS(t) .params = (t), .n_params = sizeof(t) / sizeof((t)[0])

/* Looks a plug-in up by name in a registry: an array of n vtables that each
 * begin with a vb_plugin. NULL when there is none of that name. */
const void *vb_plugin_find(const void *const *registry, size_t n, const char *name);

typedef struct vb_pvalue {
    int given;       /* written in the spec (else the default) */
    double num;      /* INT, FLOAT, BOOL */
    char *word;      /* ENUM choice, STRING, or keyword of a number; owned */
    double *nums;    /* INTS, FLOATS; owned */
    char **strs;     /* STRINGS; owned */
    size_t n;        /* elements of nums / strs */
    vb_node *node;   /* NODE; owned copy */
    const char *file; /* where it was given (for later messages) */
    int line, col;
    struct vb_pvalue *alts; /* grid alternatives (n_alts > 1), alts[0] is this value */
    size_t n_alts;
    /* a range for random search ({uniform: [lo, hi]} or {loguniform: ...});
     * num is lo meanwhile */
    int dist;
    double lo, hi;
    uint64_t file_hash; /* VB_PF_FILE: vb_hash64 of the file's bytes, read with the spec (0 until then) */
} vb_pvalue;

enum { VB_DIST_NONE, VB_DIST_UNIFORM, VB_DIST_LOGUNIFORM };

typedef struct vb_params {
    const vb_plugin *plugin;
    vb_pvalue *v; /* one per plugin->params entry */
} vb_params;

/* Fills params from node: NULL (all defaults), a scalar or list (the
 * primary parameter) or a mapping. Unknown keys, wrong types and values
 * out of range fail with file:line:col. With allow_grid, a list given for a
 * VB_PF_GRID parameter becomes grid alternatives. */
vb_status vb_params_parse(vb_params *params, const vb_plugin *plugin, const vb_node *node,
                          int allow_grid, vb_error *err);
/* Parses one plug-in entry, a name alone or "name: value", against a
 * registry (as vb_plugin_find's): *vt is the plug-in, params its
 * parameters from value as vb_params_parse reads them; a null value
 * ("name:", "name: ~", "name: \"\"") is none. An unknown name fails at its
 * position with the nearest one ("unknown optimizer 'adma'; did you mean
 * 'adam'?"); kind names the registry's plug-ins in messages. */
vb_status vb_params_parse_entry(vb_params *params, const void *const *registry, size_t n, const char *kind,
                                const vb_node *entry, int allow_grid, const void **vt, vb_error *err);
/* Parses params from canonical text (vb_params_to_yaml output). */
vb_status vb_params_parse_text(vb_params *params, const vb_plugin *plugin, const char *yaml,
                               vb_error *err);
void vb_params_free(vb_params *params);
vb_status vb_params_copy(vb_params *dst, const vb_params *src, vb_error *err);

/* Does a parameter give a range ({uniform: [a, b]}, {loguniform: [a, b]}),
 * which only random search can use? The first such value, or NULL. */
const vb_pvalue *vb_params_first_range(const vb_params *params);
/* Random search: a copy with each grid parameter at a value drawn with
 * rng: one of its listed values (each as likely), or from its range
 * (uniform, or uniform in log; integers rounded), within its bounds. */
vb_status vb_params_draw(const vb_params *params, vb_rng *rng, vb_params *out, vb_error *err);
/* "C=12.5, gamma=0.01": the drawn values of the parameters that list
 * values or give a range in space (as vb_params_grid_describe_as). */
void vb_params_draw_describe(const vb_params *space, const vb_params *drawn, const char *prefix, int *first,
                             vb_buf *b);
/* The parameters whose drawn value lies at an end of what space allows:
 * the first or last of a numeric list of more than two, or within the
 * outer 5% of a range (of its logarithm for loguniform). */
size_t vb_params_draw_edges(const vb_params *space, const vb_params *drawn, const char **names, size_t max);

/* Number of grid points (product of alternatives), 1 without a grid. */
size_t vb_params_grid_size(const vb_params *params);
/* A copy with each grid parameter set to its alternative for point idx. */
vb_status vb_params_grid_point(const vb_params *params, size_t idx, vb_params *out, vb_error *err);
/* Names and values of the grid parameters at point idx, "C=10, gamma=0.01". */
void vb_params_grid_describe(const vb_params *params, size_t idx, vb_buf *b);
/* The same with each name as "prefix.name" (no prefix when NULL), after a
 * ", " unless *first; clears *first when it wrote anything. */
void vb_params_grid_describe_as(const vb_params *params, size_t idx, const char *prefix, int *first, vb_buf *b);
/* The numeric grid parameters (more than two values) whose value at point
 * idx is the first or last of their list: a best value there suggests
 * widening the grid. Up to max names, in table order; returns how many. */
size_t vb_params_grid_edges(const vb_params *params, size_t idx, const char **names, size_t max);

/* Canonical flow-YAML of every parameter: "{cell: 4, orientations: 9}". */
void vb_params_to_yaml(const vb_params *params, vb_buf *b);
/* " files: {model: 0123456789abcdef}": the hash of each VB_PF_FILE parameter's
 * file that the spec read (nothing when there is none), for
 * configuration keys: the parameters' text names a file, this its
 * content. */
void vb_params_files_key(const vb_params *params, vb_buf *b);

/* Accessors. The name must be in the table (a bug otherwise: they return 0/NULL). */
const vb_pvalue *vb_param(const vb_params *p, const char *name);
long vb_param_int(const vb_params *p, const char *name);
double vb_param_float(const vb_params *p, const char *name);
int vb_param_bool(const vb_params *p, const char *name);
const char *vb_param_str(const vb_params *p, const char *name); /* enum, string or keyword */
int vb_param_is(const vb_params *p, const char *name, const char *word);
const double *vb_param_list(const vb_params *p, const char *name, size_t *n);
const vb_node *vb_param_node(const vb_params *p, const char *name);
/* Does the parameter hold its table's default (not given, or given as the
 * same canonical value)? A model's canonical text gives every parameter,
 * so a check that one does not apply must look at the value. */
int vb_param_is_default(const vb_params *p, const char *name);
/* "file:line:col: " message about a parameter (its given position, if any). */
vb_status vb_param_fail(const vb_params *p, const char *name, vb_error *err, const char *fmt, ...)
    VB_PRINTF(4, 5);

/* Human description of a type ("integer", "one of rbf|linear|poly", ...). */
void vb_param_type_text(const vb_param_def *d, vb_buf *b);
void vb_param_range_text(const vb_param_def *d, vb_buf *b);

#endif
