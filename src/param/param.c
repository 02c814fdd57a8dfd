/* Parameter tables: parsing spec values against a plug-in's table, grid
 * alternatives, canonical text, accessors. */
#include "visbench/param.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void pvalue_clear(vb_pvalue *v)
{
    free(v->word);
    free(v->nums);
    for (size_t i = 0; v->strs && i < v->n; i++)
        free(v->strs[i]);
    free(v->strs);
    vb_node_free(v->node);
    if (v->alts) {
        for (size_t i = 0; i < v->n_alts; i++)
            pvalue_clear(&v->alts[i]);
        free(v->alts);
    }
    memset(v, 0, sizeof *v);
}

static vb_status pvalue_copy(vb_pvalue *dst, const vb_pvalue *src, int with_alts)
{
    memset(dst, 0, sizeof *dst);
    dst->given = src->given;
    dst->num = src->num;
    dst->file = src->file;
    dst->line = src->line;
    dst->col = src->col;
    dst->n = src->n;
    dst->file_hash = src->file_hash;
    if (with_alts) {
        dst->dist = src->dist;
        dst->lo = src->lo;
        dst->hi = src->hi;
    }
    if (src->word && !(dst->word = strdup(src->word)))
        goto fail;
    if (src->nums) {
        if (!(dst->nums = malloc((src->n ? src->n : 1) * sizeof *dst->nums)))
            goto fail;
        memcpy(dst->nums, src->nums, src->n * sizeof *dst->nums);
    }
    if (src->strs) {
        if (!(dst->strs = calloc(src->n ? src->n : 1, sizeof *dst->strs)))
            goto fail;
        for (size_t i = 0; i < src->n; i++)
            if (!(dst->strs[i] = strdup(src->strs[i])))
                goto fail;
    }
    if (src->node && !(dst->node = vb_node_clone(src->node)))
        goto fail;
    if (with_alts && src->alts) {
        if (!(dst->alts = calloc(src->n_alts, sizeof *dst->alts)))
            goto fail;
        dst->n_alts = src->n_alts;
        for (size_t i = 0; i < src->n_alts; i++)
            if (pvalue_copy(&dst->alts[i], &src->alts[i], 0) != VB_OK)
                goto fail;
    }
    return VB_OK;
fail:
    pvalue_clear(dst);
    return VB_ERR_NOMEM;
}

/* Is word one of the '|'-separated choices? */
static int in_choices(const char *choices, const char *word)
{
    if (!choices)
        return 0;
    size_t len = strlen(word);
    for (const char *p = choices; *p;) {
        const char *bar = strchr(p, '|');
        size_t n = bar ? (size_t)(bar - p) : strlen(p);
        if (n == len && strncmp(p, word, n) == 0)
            return 1;
        if (!bar)
            break;
        p = bar + 1;
    }
    return 0;
}

/* Splits choices into an array of names for suggestions (into a scratch buffer). */
static size_t split_choices(const char *choices, char *scratch, size_t cap, const char **names, size_t max)
{
    snprintf(scratch, cap, "%s", choices ? choices : "");
    size_t n = 0;
    char *save = NULL; /* strtok_r: parameters may be parsed on several threads */
    for (char *tok = strtok_r(scratch, "|", &save); tok && n < max; tok = strtok_r(NULL, "|", &save))
        names[n++] = tok;
    return n;
}

static vb_status bad_choice(const vb_node *node, const char *what, const char *word, const char *choices,
                            vb_error *err)
{
    char scratch[512];
    const char *names[32];
    size_t n = split_choices(choices, scratch, sizeof scratch, names, 32);
    const char *near = vb_nearest_name(word, names, n);
    vb_buf list;
    vb_buf_init(&list);
    for (size_t i = 0; i < n; i++)
        vb_buf_printf(&list, "%s%s", i ? ", " : "", names[i]);
    vb_status st;
    if (near)
        st = vb_node_fail(node, err, "%s: unknown value '%s'; did you mean '%s'? (choices: %s)", what, word,
                          near, list.data ? list.data : "");
    else
        st = vb_node_fail(node, err, "%s: unknown value '%s' (choices: %s)", what, word,
                          list.data ? list.data : "");
    vb_buf_free(&list);
    return st;
}

static int has_range(const vb_param_def *d) { return d->min < d->max; }

static vb_status check_range(const vb_param_def *d, const vb_node *node, const char *what, double v,
                             vb_error *err)
{
    if (!has_range(d))
        return VB_OK;
    int low = (d->flags & VB_PF_MIN_OPEN) ? v <= d->min : v < d->min;
    int high = (d->flags & VB_PF_MAX_OPEN) ? v >= d->max : v > d->max;
    if (low || high) {
        vb_buf r;
        vb_buf_init(&r);
        vb_param_range_text(d, &r);
        vb_status st = vb_node_fail(node, err, "%s = %s is out of range (%s)", what, node->text,
                                    r.data ? r.data : "");
        vb_buf_free(&r);
        return st;
    }
    return VB_OK;
}

static vb_status parse_number(const vb_param_def *d, const vb_node *node, const char *what, int integer,
                              double *out, vb_error *err)
{
    vb_status st;
    if (integer) {
        long l = 0;
        st = vb_node_long(node, what, &l, err);
        *out = (double)l;
    } else {
        st = vb_node_double(node, what, out, err);
        if (st == VB_OK && isinf(*out))
            st = vb_node_fail(node, err, "%s must be a finite number, not '%s'", what, node->text);
    }
    if (st != VB_OK)
        return st;
    return check_range(d, node, what, *out, err);
}

/* Parses a single (non-grid) value. */
static vb_status parse_one(const vb_param_def *d, const vb_node *node, const char *what, vb_pvalue *v,
                           vb_error *err)
{
    vb_status st;
    v->file = node->file;
    v->line = node->line;
    v->col = node->col;
    switch (d->type) {
    case VB_PT_INT:
    case VB_PT_FLOAT:
        if ((st = vb_node_expect(node, VB_NODE_SCALAR, what, err)) != VB_OK)
            return st;
        if (d->choices && in_choices(d->choices, node->text)) {
            v->word = strdup(node->text);
            v->num = NAN;
            return v->word ? VB_OK : vb_fail(err, VB_ERR_NOMEM, "out of memory");
        }
        if (d->choices) {
            double tmp;
            if (!vb_parse_double(node->text, &tmp))
                return bad_choice(node, what, node->text, d->choices, err);
        }
        return parse_number(d, node, what, d->type == VB_PT_INT, &v->num, err);
    case VB_PT_BOOL: {
        int b = 0;
        st = vb_node_bool(node, what, &b, err);
        v->num = b;
        return st;
    }
    case VB_PT_ENUM:
        if ((st = vb_node_expect(node, VB_NODE_SCALAR, what, err)) != VB_OK)
            return st;
        if (!in_choices(d->choices, node->text))
            return bad_choice(node, what, node->text, d->choices, err);
        v->word = strdup(node->text);
        return v->word ? VB_OK : vb_fail(err, VB_ERR_NOMEM, "out of memory");
    case VB_PT_STRING:
        if ((st = vb_node_expect(node, VB_NODE_SCALAR, what, err)) != VB_OK)
            return st;
        v->word = strdup(node->text);
        return v->word ? VB_OK : vb_fail(err, VB_ERR_NOMEM, "out of memory");
    case VB_PT_INTS:
    case VB_PT_FLOATS:
    case VB_PT_STRINGS: {
        size_t n = node->kind == VB_NODE_SEQ ? node->n : 1;
        if (node->kind == VB_NODE_MAP)
            return vb_node_fail(node, err, "%s must be a list, not a mapping", what);
        /* A single number stands for a list of min_len copies: resize: 32 = [32, 32]. */
        size_t count = node->kind == VB_NODE_SCALAR && d->min_len > 1 && d->type != VB_PT_STRINGS
                           ? (size_t)d->min_len : n;
        if ((d->min_len && count < (size_t)d->min_len) || (d->max_len && count > (size_t)d->max_len)) {
            if (d->min_len == d->max_len)
                return vb_node_fail(node, err, "%s needs %d values, not %zu", what, d->min_len, count);
            if (!d->max_len)
                return vb_node_fail(node, err, "%s needs at least %d values, not %zu", what, d->min_len, count);
            return vb_node_fail(node, err, "%s needs %d to %d values, not %zu", what, d->min_len,
                                d->max_len, count);
        }
        v->n = count;
        if (d->type == VB_PT_STRINGS) {
            if (!(v->strs = calloc(count ? count : 1, sizeof *v->strs)))
                return vb_fail(err, VB_ERR_NOMEM, "out of memory");
        } else if (!(v->nums = calloc(count ? count : 1, sizeof *v->nums)))
            return vb_fail(err, VB_ERR_NOMEM, "out of memory");
        for (size_t i = 0; i < count; i++) {
            const vb_node *item = node->kind == VB_NODE_SEQ ? node->items[i] : node;
            if (d->type == VB_PT_STRINGS) {
                const char *s;
                if ((st = vb_node_str(item, what, &s, err)) != VB_OK)
                    return st;
                if (!(v->strs[i] = strdup(s)))
                    return vb_fail(err, VB_ERR_NOMEM, "out of memory");
            } else if ((st = parse_number(d, item, what, d->type == VB_PT_INTS, &v->nums[i], err)) != VB_OK)
                return st;
        }
        return VB_OK;
    }
    case VB_PT_NODE:
        v->node = vb_node_clone(node);
        return v->node ? VB_OK : vb_fail(err, VB_ERR_NOMEM, "out of memory");
    }
    return vb_fail(err, VB_ERR_INTERNAL, "unknown parameter type");
}

static int is_scalar_type(vb_ptype t)
{
    return t == VB_PT_INT || t == VB_PT_FLOAT || t == VB_PT_BOOL || t == VB_PT_ENUM || t == VB_PT_STRING;
}

/* {uniform: [lo, hi]} or {loguniform: [lo, hi]}: a range random search
 * draws from, each end within the parameter's bounds. */
static vb_status parse_range(const vb_param_def *d, const vb_node *node, const char *what, int allow_grid,
                             vb_pvalue *v, vb_error *err)
{
    static const char *const keys[] = {"uniform", "loguniform"};
    if (!(d->flags & VB_PF_GRID))
        return vb_node_fail(node, err, "%s takes a single value, not a range", what);
    if (!allow_grid)
        return vb_node_fail(node, err, "%s: a range of values is not allowed here", what);
    vb_status st = vb_node_check_keys(node, keys, 2, what, err);
    if (st != VB_OK)
        return st;
    if (node->n != 1)
        return vb_node_fail(node, err, "%s: give one range, uniform or loguniform", what);
    const vb_node *r = node->items[0];
    int logu = strcmp(node->keys[0]->text, "loguniform") == 0;
    if (r->kind != VB_NODE_SEQ || r->n != 2)
        return vb_node_fail(r, err, "%s: a range is two numbers [low, high]", what);
    double ends[2];
    for (int i = 0; i < 2; i++) {
        if ((st = vb_node_expect(r->items[i], VB_NODE_SCALAR, what, err)) != VB_OK ||
            (st = parse_number(d, r->items[i], what, d->type == VB_PT_INT, &ends[i], err)) != VB_OK)
            return st;
    }
    if (!(ends[0] < ends[1]))
        return vb_node_fail(r, err, "%s: the range's low end must be below its high end", what);
    if (logu && ends[0] <= 0)
        return vb_node_fail(r, err, "%s: a loguniform range must be above 0", what);
    v->file = node->file;
    v->line = node->line;
    v->col = node->col;
    v->dist = logu ? VB_DIST_LOGUNIFORM : VB_DIST_UNIFORM;
    v->lo = ends[0];
    v->hi = ends[1];
    v->num = ends[0];
    v->given = 1;
    return VB_OK;
}

static vb_status parse_value(const vb_param_def *d, const vb_node *node, const char *owner, int allow_grid,
                             vb_pvalue *v, vb_error *err)
{
    char what[160];
    snprintf(what, sizeof what, "%s.%s", owner, d->name);
    if (node->kind == VB_NODE_MAP && (d->type == VB_PT_INT || d->type == VB_PT_FLOAT) &&
        (vb_node_get(node, "uniform") || vb_node_get(node, "loguniform")))
        return parse_range(d, node, what, allow_grid, v, err);
    if (node->kind == VB_NODE_SEQ && is_scalar_type(d->type)) {
        if (!(d->flags & VB_PF_GRID))
            return vb_node_fail(node, err, "%s takes a single value, not a list", what);
        if (!allow_grid)
            return vb_node_fail(node, err, "%s: a list of values (a grid) is not allowed here", what);
        if (node->n == 0)
            return vb_node_fail(node, err, "%s: the grid is empty", what);
        v->alts = calloc(node->n, sizeof *v->alts);
        if (!v->alts)
            return vb_fail(err, VB_ERR_NOMEM, "out of memory");
        v->n_alts = node->n;
        for (size_t i = 0; i < node->n; i++) {
            vb_status st = parse_one(d, node->items[i], what, &v->alts[i], err);
            if (st != VB_OK)
                return st;
            v->alts[i].given = 1;
        }
        vb_pvalue *alts = v->alts;
        size_t n_alts = v->n_alts;
        v->alts = NULL;
        vb_status st = pvalue_copy(v, &alts[0], 0);
        v->alts = alts;
        v->n_alts = n_alts;
        if (st != VB_OK)
            return vb_fail(err, VB_ERR_NOMEM, "out of memory");
        v->given = 1;
        return VB_OK;
    }
    vb_status st = parse_one(d, node, what, v, err);
    v->given = 1;
    return st;
}

static vb_status set_default(const vb_param_def *d, const char *owner, vb_pvalue *v, vb_error *err)
{
    if (!d->def)
        return VB_OK;
    vb_doc *doc = NULL;
    char name[160];
    snprintf(name, sizeof name, "default of %s.%s", owner, d->name);
    vb_status st = vb_doc_load_string(d->def, name, &doc, err);
    if (st == VB_OK) {
        if (!doc->root)
            st = vb_fail(err, VB_ERR_INTERNAL, "%s is empty", name);
        else
            st = parse_one(d, doc->root, name, v, err);
    }
    vb_doc_free(doc);
    v->given = 0;
    v->file = NULL;
    v->line = v->col = 0;
    if (st != VB_OK)
        return vb_error_prefix(err, "internal: bad default in parameter table");
    return VB_OK;
}

void vb_params_free(vb_params *params)
{
    if (!params)
        return;
    if (params->v && params->plugin)
        for (size_t i = 0; i < params->plugin->n_params; i++)
            pvalue_clear(&params->v[i]);
    free(params->v);
    params->v = NULL;
    params->plugin = NULL;
}

/* vb_params_parse; at (when node is NULL: the entry's name) is where a
 * missing required parameter is reported. */
static vb_status params_parse(vb_params *params, const vb_plugin *plugin, const vb_node *node, const vb_node *at,
                              int allow_grid, vb_error *err)
{
    memset(params, 0, sizeof *params);
    params->plugin = plugin;
    params->v = calloc(plugin->n_params ? plugin->n_params : 1, sizeof *params->v);
    if (!params->v)
        return vb_fail(err, VB_ERR_NOMEM, "out of memory");
    vb_status st = VB_OK;
    const vb_param_def *defs = plugin->params;
    size_t np = plugin->n_params;

    if (node && node->kind == VB_NODE_MAP) {
        const char **names = vb_calloc(np ? np : 1, sizeof *names, err);
        if (!names) {
            st = VB_ERR_NOMEM;
            goto out;
        }
        for (size_t i = 0; i < np; i++)
            names[i] = defs[i].name;
        char where[160];
        snprintf(where, sizeof where, "the parameters of '%s'", plugin->name);
        st = vb_node_check_keys(node, names, np, where, err);
        free(names);
        if (st != VB_OK)
            goto out;
    }
    for (size_t i = 0; i < np; i++) {
        const vb_param_def *d = &defs[i];
        const vb_node *vn = NULL;
        if (node && node->kind == VB_NODE_MAP)
            vn = vb_node_get(node, d->name);
        else if (node && (d->flags & VB_PF_PRIMARY))
            vn = node;
        if (vn)
            st = parse_value(d, vn, plugin->name, allow_grid, &params->v[i], err);
        else if (d->flags & VB_PF_REQUIRED) {
            if (at)
                st = vb_node_fail(at, err, "'%s' needs the parameter '%s' (%s)", plugin->name, d->name,
                                  d->help ? d->help : "required");
            else
                st = vb_fail(err, VB_ERR_SPEC, "'%s' needs the parameter '%s' (%s)", plugin->name, d->name,
                             d->help ? d->help : "required");
        } else
            st = set_default(d, plugin->name, &params->v[i], err);
        if (st != VB_OK)
            goto out;
    }
    if (node && node->kind != VB_NODE_MAP) {
        size_t i;
        for (i = 0; i < np; i++)
            if (defs[i].flags & VB_PF_PRIMARY)
                break;
        if (i == np && !np)
            st = vb_node_fail(node, err, "'%s' takes no parameters; write just '%s'", plugin->name, plugin->name);
        else if (i == np)
            st = vb_node_fail(node, err, "'%s' takes its parameters as a mapping, e.g. '%s: {%s: ...}'",
                              plugin->name, plugin->name, defs[0].name);
    }
out:
    if (st != VB_OK)
        vb_params_free(params);
    return st;
}

vb_status vb_params_parse(vb_params *params, const vb_plugin *plugin, const vb_node *node, int allow_grid,
                          vb_error *err)
{
    return params_parse(params, plugin, node, node, allow_grid, err);
}

/* A plug-in name that is not in a registry: the nearest, else the choices. */
static vb_status unknown_plugin(const vb_node *name, const char *kind, const void *const *registry, size_t n,
                                vb_error *err)
{
    const char *names[64];
    size_t m = n < 64 ? n : 64;
    vb_buf list;
    vb_buf_init(&list);
    for (size_t i = 0; i < m; i++) {
        names[i] = ((const vb_plugin *)registry[i])->name;
        vb_buf_printf(&list, "%s%s", i ? ", " : "", names[i]);
    }
    const char *near = vb_nearest_name(name->text, names, m);
    vb_status st;
    if (near)
        st = vb_node_fail(name, err, "unknown %s '%s'; did you mean '%s'? (see visbench list)", kind, name->text, near);
    else
        st = vb_node_fail(name, err, "unknown %s '%s' (choices: %s)", kind, name->text, list.data ? list.data : "");
    vb_buf_free(&list);
    return st;
}

vb_status vb_params_parse_entry(vb_params *params, const void *const *registry, size_t n, const char *kind,
                                const vb_node *entry, int allow_grid, const void **vt, vb_error *err)
{
    memset(params, 0, sizeof *params);
    const vb_node *name, *value;
    vb_status st = vb_node_entry(entry, kind, &name, &value, err);
    if (st != VB_OK)
        return st;
    *vt = name->kind == VB_NODE_SCALAR ? vb_plugin_find(registry, n, name->text) : NULL;
    if (!*vt)
        return name->kind == VB_NODE_SCALAR ? unknown_plugin(name, kind, registry, n, err)
                                            : vb_node_fail(name, err, "expected the name of a %s", kind);
    if (value && value->kind == VB_NODE_SCALAR &&
        (!value->text[0] || strcmp(value->text, "~") == 0 || strcmp(value->text, "null") == 0))
        value = NULL;
    return params_parse(params, (const vb_plugin *)*vt, value, value ? value : name, allow_grid, err);
}

vb_status vb_params_parse_text(vb_params *params, const vb_plugin *plugin, const char *yaml, vb_error *err)
{
    vb_doc *doc = NULL;
    vb_status st = vb_doc_load_string(yaml, plugin->name, &doc, err);
    if (st != VB_OK)
        return st;
    st = vb_params_parse(params, plugin, doc->root, 0, err);
    vb_doc_free(doc);
    return st;
}

vb_status vb_params_copy(vb_params *dst, const vb_params *src, vb_error *err)
{
    memset(dst, 0, sizeof *dst);
    dst->plugin = src->plugin;
    size_t np = src->plugin->n_params;
    dst->v = calloc(np ? np : 1, sizeof *dst->v);
    if (!dst->v)
        return vb_fail(err, VB_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < np; i++)
        if (pvalue_copy(&dst->v[i], &src->v[i], 1) != VB_OK) {
            vb_params_free(dst);
            return vb_fail(err, VB_ERR_NOMEM, "out of memory");
        }
    return VB_OK;
}

size_t vb_params_grid_size(const vb_params *params)
{
    size_t n = 1;
    for (size_t i = 0; i < params->plugin->n_params; i++)
        if (params->v[i].n_alts > 1)
            n *= params->v[i].n_alts;
    return n;
}

/* The alternative index of parameter i at grid point idx (first grid
 * parameter varies slowest). */
static size_t alt_index(const vb_params *params, size_t i, size_t idx)
{
    size_t stride = 1;
    for (size_t j = params->plugin->n_params; j-- > i + 1;)
        if (params->v[j].n_alts > 1)
            stride *= params->v[j].n_alts;
    return (idx / stride) % params->v[i].n_alts;
}

/* Empty values for params's plug-in, to be filled one by one. */
static vb_status params_like(const vb_params *params, vb_params *out, vb_error *err)
{
    memset(out, 0, sizeof *out);
    out->plugin = params->plugin;
    size_t np = params->plugin->n_params;
    out->v = calloc(np ? np : 1, sizeof *out->v);
    return out->v ? VB_OK : vb_fail(err, VB_ERR_NOMEM, "out of memory");
}

vb_status vb_params_grid_point(const vb_params *params, size_t idx, vb_params *out, vb_error *err)
{
    if (params_like(params, out, err) != VB_OK)
        return VB_ERR_NOMEM;
    size_t np = params->plugin->n_params;
    for (size_t i = 0; i < np; i++) {
        const vb_pvalue *src = &params->v[i];
        if (src->n_alts > 1)
            src = &src->alts[alt_index(params, i, idx)];
        if (pvalue_copy(&out->v[i], src, 0) != VB_OK) {
            vb_params_free(out);
            return vb_fail(err, VB_ERR_NOMEM, "out of memory");
        }
    }
    return VB_OK;
}

static void value_to_yaml(const vb_param_def *d, const vb_pvalue *v, vb_buf *b)
{
    if (v->dist) {
        vb_buf_printf(b, "{%s: [", v->dist == VB_DIST_LOGUNIFORM ? "loguniform" : "uniform");
        vb_buf_double(b, v->lo);
        vb_buf_puts(b, ", ");
        vb_buf_double(b, v->hi);
        vb_buf_puts(b, "]}");
        return;
    }
    switch (d->type) {
    case VB_PT_INT:
        if (v->word)
            vb_yaml_scalar(b, v->word);
        else
            vb_buf_printf(b, "%ld", (long)v->num);
        break;
    case VB_PT_FLOAT:
        if (v->word)
            vb_yaml_scalar(b, v->word);
        else
            vb_buf_double(b, v->num);
        break;
    case VB_PT_BOOL:
        vb_buf_puts(b, v->num != 0 ? "true" : "false");
        break;
    case VB_PT_ENUM:
    case VB_PT_STRING:
        if (v->word)
            vb_yaml_scalar(b, v->word);
        else
            vb_buf_puts(b, "\"\"");
        break;
    case VB_PT_INTS:
    case VB_PT_FLOATS:
    case VB_PT_STRINGS:
        vb_buf_puts(b, "[");
        for (size_t i = 0; i < v->n; i++) {
            if (i)
                vb_buf_puts(b, ", ");
            if (d->type == VB_PT_INTS)
                vb_buf_printf(b, "%ld", (long)v->nums[i]);
            else if (d->type == VB_PT_FLOATS)
                vb_buf_double(b, v->nums[i]);
            else
                vb_yaml_scalar(b, v->strs[i]);
        }
        vb_buf_puts(b, "]");
        break;
    case VB_PT_NODE:
        vb_node_to_yaml(v->node, b);
        break;
    }
}

void vb_params_grid_describe_as(const vb_params *params, size_t idx, const char *prefix, int *first, vb_buf *b)
{
    for (size_t i = 0; i < params->plugin->n_params; i++) {
        const vb_pvalue *v = &params->v[i];
        if (v->n_alts <= 1)
            continue;
        vb_buf_printf(b, "%s%s%s%s=", *first ? "" : ", ", prefix ? prefix : "", prefix ? "." : "",
                      params->plugin->params[i].name);
        value_to_yaml(&params->plugin->params[i], &v->alts[alt_index(params, i, idx)], b);
        *first = 0;
    }
}

void vb_params_grid_describe(const vb_params *params, size_t idx, vb_buf *b)
{
    int first = 1;
    vb_params_grid_describe_as(params, idx, NULL, &first, b);
}

size_t vb_params_grid_edges(const vb_params *params, size_t idx, const char **names, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < params->plugin->n_params; i++) {
        const vb_param_def *d = &params->plugin->params[i];
        const vb_pvalue *v = &params->v[i];
        if (v->n_alts <= 2 || (d->type != VB_PT_INT && d->type != VB_PT_FLOAT))
            continue;
        size_t at = alt_index(params, i, idx);
        if ((at == 0 || at == v->n_alts - 1) && n < max)
            names[n++] = d->name;
    }
    return n;
}

const vb_pvalue *vb_params_first_range(const vb_params *params)
{
    for (size_t i = 0; i < params->plugin->n_params; i++)
        if (params->v[i].dist)
            return &params->v[i];
    return NULL;
}

vb_status vb_params_draw(const vb_params *params, vb_rng *rng, vb_params *out, vb_error *err)
{
    if (params_like(params, out, err) != VB_OK)
        return VB_ERR_NOMEM;
    size_t np = params->plugin->n_params;
    for (size_t i = 0; i < np; i++) {
        const vb_param_def *d = &params->plugin->params[i];
        const vb_pvalue *src = &params->v[i];
        if (src->n_alts > 1)
            src = &src->alts[vb_rng_below(rng, src->n_alts)];
        if (pvalue_copy(&out->v[i], src, 0) != VB_OK) {
            vb_params_free(out);
            return vb_fail(err, VB_ERR_NOMEM, "out of memory");
        }
        if (!src->dist)
            continue;
        double u = vb_rng_uniform(rng), x;
        if (src->dist == VB_DIST_LOGUNIFORM)
            x = exp(log(src->lo) + u * (log(src->hi) - log(src->lo)));
        else
            x = src->lo + u * (src->hi - src->lo);
        if (d->type == VB_PT_INT)
            x = floor(x + 0.5);
        out->v[i].num = x < src->lo ? src->lo : x > src->hi ? src->hi : x;
    }
    return VB_OK;
}

void vb_params_draw_describe(const vb_params *space, const vb_params *drawn, const char *prefix, int *first,
                             vb_buf *b)
{
    for (size_t i = 0; i < space->plugin->n_params; i++) {
        if (space->v[i].n_alts <= 1 && !space->v[i].dist)
            continue;
        vb_buf_printf(b, "%s%s%s%s=", *first ? "" : ", ", prefix ? prefix : "", prefix ? "." : "",
                      space->plugin->params[i].name);
        const vb_param_def *d = &space->plugin->params[i];
        if (d->type == VB_PT_FLOAT && !drawn->v[i].word) /* a drawn float: enough digits to tell draws apart */
            vb_buf_printf(b, "%.4g", drawn->v[i].num);
        else
            value_to_yaml(d, &drawn->v[i], b);
        *first = 0;
    }
}

size_t vb_params_draw_edges(const vb_params *space, const vb_params *drawn, const char **names, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < space->plugin->n_params && n < max; i++) {
        const vb_param_def *d = &space->plugin->params[i];
        const vb_pvalue *s = &space->v[i];
        double x = drawn->v[i].num;
        int edge = 0;
        if (s->dist) {
            int lg = s->dist == VB_DIST_LOGUNIFORM;
            double lo = lg ? log(s->lo) : s->lo, hi = lg ? log(s->hi) : s->hi, t = lg ? log(x) : x;
            edge = (t - lo) < 0.05 * (hi - lo) || (hi - t) < 0.05 * (hi - lo);
        } else if (s->n_alts > 2 && (d->type == VB_PT_INT || d->type == VB_PT_FLOAT) && !drawn->v[i].word)
            edge = x == s->alts[0].num || x == s->alts[s->n_alts - 1].num;
        if (edge)
            names[n++] = d->name;
    }
    return n;
}

void vb_params_to_yaml(const vb_params *params, vb_buf *b)
{
    vb_buf_puts(b, "{");
    int first = 1;
    for (size_t i = 0; i < params->plugin->n_params; i++) {
        const vb_param_def *d = &params->plugin->params[i];
        const vb_pvalue *v = &params->v[i];
        if (!v->given && !d->def)
            continue; /* absent optional value */
        vb_buf_printf(b, "%s%s: ", first ? "" : ", ", d->name);
        value_to_yaml(d, v, b);
        first = 0;
    }
    vb_buf_puts(b, "}");
}

void vb_params_files_key(const vb_params *params, vb_buf *b)
{
    int first = 1;
    for (size_t i = 0; i < params->plugin->n_params; i++) {
        const vb_param_def *d = &params->plugin->params[i];
        const vb_pvalue *v = &params->v[i];
        if (!(d->flags & VB_PF_FILE) || !v->word)
            continue;
        vb_buf_printf(b, "%s%s: ", first ? " files: {" : ", ", d->name);
        if (v->n_alts > 1) /* a list of files: each one's */
            for (size_t a = 0; a < v->n_alts; a++)
                vb_buf_printf(b, "%s%016llx", a ? "/" : "", (unsigned long long)v->alts[a].file_hash);
        else
            vb_buf_printf(b, "%016llx", (unsigned long long)v->file_hash);
        first = 0;
    }
    if (!first)
        vb_buf_puts(b, "}");
}

const void *vb_plugin_find(const void *const *registry, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(((const vb_plugin *)registry[i])->name, name) == 0)
            return registry[i];
    return NULL;
}

const vb_pvalue *vb_param(const vb_params *p, const char *name)
{
    for (size_t i = 0; i < p->plugin->n_params; i++)
        if (strcmp(p->plugin->params[i].name, name) == 0)
            return &p->v[i];
    return NULL;
}

int vb_param_is_default(const vb_params *p, const char *name)
{
    const vb_pvalue *v = vb_param(p, name);
    if (!v || !v->given)
        return 1;
    const vb_param_def *d = &p->plugin->params[v - p->v];
    if (!d->def || v->n_alts > 1 || v->dist)
        return 0;
    vb_pvalue dv;
    memset(&dv, 0, sizeof dv);
    if (set_default(d, p->plugin->name, &dv, NULL) != VB_OK) {
        pvalue_clear(&dv);
        return 0;
    }
    vb_buf a, b;
    vb_buf_init(&a);
    vb_buf_init(&b);
    value_to_yaml(d, v, &a);
    value_to_yaml(d, &dv, &b);
    int same = !a.failed && !b.failed && a.data && b.data && strcmp(a.data, b.data) == 0;
    vb_buf_free(&a);
    vb_buf_free(&b);
    pvalue_clear(&dv);
    return same;
}

long vb_param_int(const vb_params *p, const char *name)
{
    const vb_pvalue *v = vb_param(p, name);
    return v && !v->word ? (long)v->num : 0;
}

double vb_param_float(const vb_params *p, const char *name)
{
    const vb_pvalue *v = vb_param(p, name);
    return v ? v->num : 0.0;
}

int vb_param_bool(const vb_params *p, const char *name)
{
    const vb_pvalue *v = vb_param(p, name);
    return v ? v->num != 0 : 0;
}

const char *vb_param_str(const vb_params *p, const char *name)
{
    const vb_pvalue *v = vb_param(p, name);
    return v ? v->word : NULL;
}

int vb_param_is(const vb_params *p, const char *name, const char *word)
{
    const char *s = vb_param_str(p, name);
    return s && strcmp(s, word) == 0;
}

const double *vb_param_list(const vb_params *p, const char *name, size_t *n)
{
    const vb_pvalue *v = vb_param(p, name);
    *n = v ? v->n : 0;
    return v ? v->nums : NULL;
}

const vb_node *vb_param_node(const vb_params *p, const char *name)
{
    const vb_pvalue *v = vb_param(p, name);
    return v ? v->node : NULL;
}

vb_status vb_param_fail(const vb_params *p, const char *name, vb_error *err, const char *fmt, ...)
{
    char msg[800];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const vb_pvalue *v = vb_param(p, name);
    if (v && v->given && v->file)
        return vb_fail(err, VB_ERR_PARAM, "%s:%d:%d: %s.%s: %s", v->file, v->line, v->col, p->plugin->name,
                       name, msg);
    return vb_fail(err, VB_ERR_PARAM, "%s.%s: %s", p->plugin->name, name, msg);
}

void vb_param_type_text(const vb_param_def *d, vb_buf *b)
{
    static const char *const names[] = {"int", "float", "bool", "enum", "string",
                                        "int list", "float list", "string list", "structure"};
    if (d->type == VB_PT_ENUM) {
        vb_buf_printf(b, "%s", d->choices);
        return;
    }
    vb_buf_puts(b, d->type == VB_PT_STRING && (d->flags & VB_PF_FILE) ? "file" : names[d->type]);
    if (d->choices)
        vb_buf_printf(b, "|%s", d->choices);
    if ((d->type == VB_PT_INTS || d->type == VB_PT_FLOATS || d->type == VB_PT_STRINGS) && d->min_len) {
        if (d->min_len == d->max_len)
            vb_buf_printf(b, " of %d", d->min_len);
        else if (d->max_len)
            vb_buf_printf(b, " of %d..%d", d->min_len, d->max_len);
    }
    if (d->flags & VB_PF_GRID)
        vb_buf_puts(b, ", grid");
}

/* %g, or as many digits as it takes to read back as v (0.99999999, not 1). */
static void num_text(vb_buf *b, double v)
{
    if (isinf(v)) {
        vb_buf_puts(b, v > 0 ? "inf" : "-inf");
        return;
    }
    char s[40];
    for (int digits = 6; digits <= 17; digits++) {
        snprintf(s, sizeof s, "%.*g", digits, v);
        double back;
        if (vb_parse_double(s, &back) && back == v)
            break;
    }
    vb_buf_puts(b, s);
}

void vb_param_range_text(const vb_param_def *d, vb_buf *b)
{
    if (!has_range(d))
        return;
    if (isinf(d->max)) {
        vb_buf_puts(b, (d->flags & VB_PF_MIN_OPEN) ? "> " : ">= ");
        num_text(b, d->min);
        return;
    }
    num_text(b, d->min);
    if (d->flags & (VB_PF_MIN_OPEN | VB_PF_MAX_OPEN)) {
        vb_buf_puts(b, (d->flags & VB_PF_MIN_OPEN) ? " < x" : " <= x");
        vb_buf_puts(b, (d->flags & VB_PF_MAX_OPEN) ? " < " : " <= ");
    } else
        vb_buf_puts(b, "..");
    num_text(b, d->max);
}
