/* The boost classifier's guard at XGBoost's door: a saved XGBoost model
 * (Universal Binary JSON, as XGBoosterSaveModelToBuffer writes it with
 * {"format": "ubj"}) is checked here before XGBoost reads it. XGBoost's own
 * loader trusts sizes and indices (a short tree_info array, a child index
 * past the node arrays or a feature past the row are read out of bounds,
 * a child that points back makes prediction loop), so a model file that is
 * corrupt behind a valid checksum must be turned away by us.
 *
 * Two passes: the document's syntax (every length within the buffer, no
 * marker XGBoost does not write, bounded nesting, no duplicate key), then
 * the model's shape: a gbtree of trees_per_round x rounds trees for the
 * expected feature count and classes, each tree's arrays as long as its
 * node count, children after their parent and within the tree, features
 * within the row, numerical splits only, finite thresholds and leaves. */
#include "internal.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#define NONE SIZE_MAX
#define MAX_DEPTH 32
#define MAX_KEYS 64

typedef struct ubj {
    const uint8_t *p;
    size_t len;
} ubj;

/* Payload bytes after a fixed-size marker, 0 for null/true/false, -1 for
 * any other marker. */
static int fixed_size(uint8_t m)
{
    switch (m) {
    case 'i':
    case 'U':
        return 1;
    case 'I':
        return 2;
    case 'l':
    case 'd':
        return 4;
    case 'L':
    case 'D':
        return 8;
    case 'Z':
    case 'T':
    case 'F':
        return 0;
    default:
        return -1;
    }
}

static int is_int(uint8_t m) { return m == 'i' || m == 'U' || m == 'I' || m == 'l' || m == 'L'; }

static uint64_t big_endian(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

static int64_t int_value(uint8_t m, const uint8_t *p)
{
    switch (m) {
    case 'i':
        return (int8_t)p[0];
    case 'U':
        return p[0];
    case 'I':
        return (int16_t)big_endian(p, 2);
    case 'l':
        return (int32_t)big_endian(p, 4);
    default:
        return (int64_t)big_endian(p, 8);
    }
}

static double float_value(uint8_t m, const uint8_t *p)
{
    if (m == 'd') {
        uint32_t b = (uint32_t)big_endian(p, 4);
        float f;
        memcpy(&f, &b, sizeof f);
        return f;
    }
    uint64_t b = big_endian(p, 8);
    double v;
    memcpy(&v, &b, sizeof v);
    return v;
}

/* A non-negative integer (marker and payload) at *pos: a length or count. */
static int read_count(const ubj *u, size_t *pos, uint64_t *out)
{
    if (*pos >= u->len || !is_int(u->p[*pos]))
        return -1;
    uint8_t m = u->p[*pos];
    size_t sz = (size_t)fixed_size(m);
    if (u->len - *pos - 1 < sz)
        return -1;
    int64_t v = int_value(m, u->p + *pos + 1);
    if (v < 0)
        return -1;
    *pos += 1 + sz;
    *out = (uint64_t)v;
    return 0;
}

/* A length-prefixed string at *pos (an object key, or a string after 'S'). */
static int read_chars(const ubj *u, size_t *pos, size_t *off, size_t *n)
{
    uint64_t l;
    if (read_count(u, pos, &l) || l > u->len - *pos)
        return -1;
    *off = *pos;
    *n = (size_t)l;
    *pos += (size_t)l;
    return 0;
}

/* Skips the value at *pos, checking its syntax. */
static int skip(const ubj *u, size_t *pos, int depth)
{
    if (*pos >= u->len || depth > MAX_DEPTH)
        return -1;
    uint8_t m = u->p[(*pos)++];
    int fs = fixed_size(m);
    if (fs >= 0) {
        if (u->len - *pos < (size_t)fs)
            return -1;
        *pos += (size_t)fs;
        return 0;
    }
    size_t off, n;
    uint64_t cnt;
    if (m == 'S')
        return read_chars(u, pos, &off, &n);
    if (m == '{') {
        size_t keys[MAX_KEYS], klen[MAX_KEYS];
        int nk = 0;
        for (;;) {
            if (*pos >= u->len)
                return -1;
            if (u->p[*pos] == '}') {
                (*pos)++;
                return 0;
            }
            if (nk == MAX_KEYS || read_chars(u, pos, &off, &n))
                return -1;
            for (int k = 0; k < nk; k++)
                if (klen[k] == n && memcmp(u->p + keys[k], u->p + off, n) == 0)
                    return -1; /* a duplicate key: which one XGBoost keeps is not ours to guess */
            keys[nk] = off;
            klen[nk++] = n;
            if (skip(u, pos, depth + 1))
                return -1;
        }
    }
    if (m != '[' || *pos >= u->len)
        return -1;
    if (u->p[*pos] == '$') { /* a typed array: [$ type # count, then the payloads */
        if (u->len - *pos < 3)
            return -1;
        int es = fixed_size(u->p[*pos + 1]);
        if (es <= 0 || u->p[*pos + 2] != '#')
            return -1;
        *pos += 3;
        if (read_count(u, pos, &cnt) || cnt > (u->len - *pos) / (size_t)es)
            return -1;
        *pos += (size_t)cnt * (size_t)es;
        return 0;
    }
    if (u->p[*pos] == '#') { /* a counted array of values */
        (*pos)++;
        if (read_count(u, pos, &cnt) || cnt > u->len - *pos)
            return -1;
        for (uint64_t i = 0; i < cnt; i++)
            if (skip(u, pos, depth + 1))
                return -1;
        return 0;
    }
    for (;;) {
        if (*pos >= u->len)
            return -1;
        if (u->p[*pos] == ']') {
            (*pos)++;
            return 0;
        }
        if (skip(u, pos, depth + 1))
            return -1;
    }
}

/* ---- navigation (on a document whose syntax was checked; still bounded) -- */

/* The value of key in the object at pos, or NONE. */
static size_t get(const ubj *u, size_t pos, const char *key)
{
    if (pos == NONE || u->p[pos] != '{')
        return NONE;
    size_t k = strlen(key), q = pos + 1, off, n;
    while (q < u->len && u->p[q] != '}') {
        if (read_chars(u, &q, &off, &n))
            return NONE;
        if (n == k && memcmp(u->p + off, key, k) == 0)
            return q;
        if (skip(u, &q, 0))
            return NONE;
    }
    return NONE;
}

/* The object at a path of keys from pos ("learner", "objective", NULL). */
static size_t path(const ubj *u, size_t pos, const char *const *keys)
{
    for (; *keys && pos != NONE; keys++)
        pos = get(u, pos, *keys);
    return pos;
}

/* Is the value at pos the string s? */
static int str_is(const ubj *u, size_t pos, const char *s)
{
    size_t off, n;
    if (pos == NONE || u->p[pos] != 'S')
        return 0;
    pos++;
    return read_chars(u, &pos, &off, &n) == 0 && n == strlen(s) && memcmp(u->p + off, s, n) == 0;
}

/* A string of decimal digits (XGBoost keeps its parameters as strings) at
 * pos, at most max. */
static int str_uint(const ubj *u, size_t pos, uint64_t max, uint64_t *v)
{
    size_t off, n;
    if (pos == NONE || u->p[pos] != 'S')
        return -1;
    pos++;
    if (read_chars(u, &pos, &off, &n) || n == 0 || n > 12)
        return -1;
    uint64_t x = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = u->p[off + i];
        if (c < '0' || c > '9')
            return -1;
        x = x * 10 + (uint64_t)(c - '0');
    }
    if (x > max)
        return -1;
    *v = x;
    return 0;
}

/* An array at pos, element by element: typed ([$ type # count) or of
 * values (counted or up to ']'). */
typedef struct arr {
    size_t at;      /* the next element (its marker; its payload when typed) */
    uint64_t left;  /* elements left (counted forms) */
    uint8_t type;   /* the element type of a typed array, else 0 */
    int counted;
} arr;

static int arr_begin(const ubj *u, size_t pos, arr *a)
{
    if (pos == NONE || u->p[pos] != '[')
        return -1;
    memset(a, 0, sizeof *a);
    size_t q = pos + 1;
    if (u->p[q] == '$') {
        a->type = u->p[q + 1];
        q += 3;
        if (read_count(u, &q, &a->left))
            return -1;
        a->counted = 1;
    } else if (u->p[q] == '#') {
        q++;
        if (read_count(u, &q, &a->left))
            return -1;
        a->counted = 1;
    }
    a->at = q;
    return 0;
}

/* The next element: *m its marker, *payload where its value is; 0 at the end. */
static int arr_next(const ubj *u, arr *a, uint8_t *m, size_t *payload)
{
    if (a->counted ? a->left == 0 : u->p[a->at] == ']')
        return 0;
    a->left -= a->counted != 0;
    if (a->type) {
        *m = a->type;
        *payload = a->at;
        a->at += (size_t)fixed_size(a->type);
        return 1;
    }
    *m = u->p[a->at];
    *payload = a->at + 1;
    return skip(u, &a->at, 0) == 0;
}

/* The element count of the array at pos (-1 when it is none). */
static int64_t arr_len(const ubj *u, size_t pos)
{
    arr a;
    if (arr_begin(u, pos, &a))
        return -1;
    if (a.counted)
        return (int64_t)a.left;
    int64_t n = 0;
    uint8_t m;
    size_t p;
    while (arr_next(u, &a, &m, &p))
        n++;
    return n;
}

/* A typed array of nodes elements of type t at key in the tree object. */
static const uint8_t *node_array(const ubj *u, size_t tree, const char *key, uint8_t t, uint64_t nodes)
{
    size_t pos = get(u, tree, key);
    arr a;
    if (arr_begin(u, pos, &a) || a.type != t || a.left != nodes)
        return NULL;
    return u->p + a.at;
}

/* ---- the model ----------------------------------------------------------- */

static vb_status corrupt(const char *what, vb_error *err, const char *detail)
{
    return vb_fail(err, VB_ERR_FORMAT, "%s: corrupt boost state (the XGBoost model %s)", what, detail);
}

/* One tree: node arrays of its node count, children after their parent and
 * inside the tree, features within d, numerical splits, finite values. */
static vb_status check_tree(const ubj *u, size_t tree, uint64_t index, size_t d, const char *what, vb_error *err)
{
    static const char *const tp[] = {"tree_param", NULL};
    size_t par = path(u, tree, tp), idp = get(u, tree, "id");
    uint64_t nodes, feat, leafvec, deleted;
    if (par == NONE || str_uint(u, get(u, par, "num_nodes"), 1u << 30, &nodes) || nodes == 0 ||
        str_uint(u, get(u, par, "num_feature"), UINT32_MAX, &feat) || feat != d ||
        str_uint(u, get(u, par, "size_leaf_vector"), 0, &leafvec) ||
        str_uint(u, get(u, par, "num_deleted"), 0, &deleted))
        return corrupt(what, err, "has a tree whose parameters are not those of this model");
    if (idp == NONE || !is_int(u->p[idp]) || int_value(u->p[idp], u->p + idp + 1) != (int64_t)index)
        return corrupt(what, err, "numbers its trees out of order");
    const uint8_t *left = node_array(u, tree, "left_children", 'l', nodes),
                  *right = node_array(u, tree, "right_children", 'l', nodes),
                  *parent = node_array(u, tree, "parents", 'l', nodes),
                  *feature = node_array(u, tree, "split_indices", 'l', nodes),
                  *cond = node_array(u, tree, "split_conditions", 'd', nodes),
                  *type = node_array(u, tree, "split_type", 'U', nodes);
    static const struct {
        const char *key;
        uint8_t type;
    } others[] = {{"default_left", 'U'}, {"base_weights", 'd'}, {"loss_changes", 'd'}, {"sum_hessian", 'd'}};
    int ok = left && right && parent && feature && cond && type;
    for (size_t k = 0; ok && k < sizeof others / sizeof others[0]; k++)
        ok = node_array(u, tree, others[k].key, others[k].type, nodes) != NULL;
    if (!ok)
        return corrupt(what, err, "has a tree whose node arrays do not match its node count");
    static const char *const cats[] = {"categories", "categories_nodes", "categories_segments", "categories_sizes"};
    for (size_t k = 0; k < sizeof cats / sizeof cats[0]; k++)
        if (arr_len(u, get(u, tree, cats[k])) != 0)
            return corrupt(what, err, "has categorical splits, which boost never makes");
    if ((int32_t)big_endian(parent, 4) != INT32_MAX)
        return corrupt(what, err, "has a tree whose root has a parent");
    for (uint64_t i = 0; i < nodes; i++) {
        int32_t l = (int32_t)big_endian(left + 4 * i, 4), r = (int32_t)big_endian(right + 4 * i, 4);
        if (!isfinite(float_value('d', cond + 4 * i)) || type[i] != 0)
            return corrupt(what, err, "has a node with a value that is not finite or a split that is not numerical");
        if (l == -1 && r == -1)
            continue; /* a leaf */
        uint32_t f = (uint32_t)big_endian(feature + 4 * i, 4);
        if (l <= (int64_t)i || r <= (int64_t)i || l == r || (uint64_t)l >= nodes || (uint64_t)r >= nodes ||
            (int32_t)big_endian(parent + 4 * (size_t)l, 4) != (int32_t)i ||
            (int32_t)big_endian(parent + 4 * (size_t)r, 4) != (int32_t)i)
            return corrupt(what, err, "has a tree whose nodes are not linked as a tree");
        if (f >= d)
            return corrupt(what, err, "splits on a feature beyond the input");
    }
    return VB_OK;
}

vb_status vb_boost_check_model(const uint8_t *buf, size_t len, size_t d, int n_classes, uint64_t n_trees,
                               const char *what, vb_error *err)
{
    ubj u = {buf, len};
    size_t end = 0;
    if (len < 2 || buf[0] != '{' || skip(&u, &end, 0) || end != len)
        return corrupt(what, err, "is not a well-formed UBJSON document");
    static const char *const lmp[] = {"learner", "learner_model_param", NULL},
                             *const obj[] = {"learner", "objective", NULL},
                             *const gb[] = {"learner", "gradient_booster", NULL},
                             *const gbp[] = {"learner", "gradient_booster", "model", "gbtree_model_param", NULL},
                             *const model[] = {"learner", "gradient_booster", "model", NULL},
                             *const names[] = {"learner", "feature_names", NULL},
                             *const types[] = {"learner", "feature_types", NULL},
                             *const attrs[] = {"learner", "attributes", NULL};
    size_t mp = path(&u, 0, lmp), op = path(&u, 0, obj), gp = path(&u, 0, gb), pp = path(&u, 0, gbp),
           mo = path(&u, 0, model), ap = path(&u, 0, attrs);
    uint64_t nf, nc, ntg, nt, npt, slv, ncs;
    int binary = n_classes == 2;
    if (mp == NONE || str_uint(&u, get(&u, mp, "num_feature"), UINT32_MAX, &nf) ||
        str_uint(&u, get(&u, mp, "num_class"), 1u << 20, &nc) ||
        str_uint(&u, get(&u, mp, "num_target"), UINT32_MAX, &ntg))
        return corrupt(what, err, "has no feature, class or target count");
    if (nf != d || nc != (binary ? 0 : (uint64_t)n_classes) || ntg != 1)
        return corrupt(what, err, "is for another feature or class count");
    if (get(&u, mp, "base_score") == NONE || u.p[get(&u, mp, "base_score")] != 'S')
        return corrupt(what, err, "has no base score");
    static const char *const smp[] = {"softmax_multiclass_param", NULL};
    if (binary ? !str_is(&u, get(&u, op, "name"), "binary:logistic")
               : (!str_is(&u, get(&u, op, "name"), "multi:softprob") ||
                  str_uint(&u, get(&u, path(&u, op, smp), "num_class"), 1u << 20, &ncs) ||
                  ncs != (uint64_t)n_classes))
        return corrupt(what, err, "has another objective than boost's");
    if (!str_is(&u, get(&u, gp, "name"), "gbtree") || pp == NONE ||
        str_uint(&u, get(&u, pp, "num_trees"), UINT32_MAX, &nt) ||
        str_uint(&u, get(&u, pp, "num_parallel_tree"), 1, &npt) || npt != 1 ||
        str_uint(&u, get(&u, pp, "size_leaf_vector"), 0, &slv))
        return corrupt(what, err, "is not a gradient-boosted tree ensemble of boost's kind");
    if (nt != n_trees)
        return corrupt(what, err, "holds another number of trees than its state says");
    if (arr_len(&u, path(&u, 0, names)) != 0 || arr_len(&u, path(&u, 0, types)) != 0)
        return corrupt(what, err, "names its features, which boost never does");
    if (ap == NONE || u.p[ap] != '{')
        return corrupt(what, err, "has no attributes");
    for (size_t q = ap + 1, off, n; u.p[q] != '}';)
        if (read_chars(&u, &q, &off, &n) || u.p[q] != 'S' || skip(&u, &q, 0))
            return corrupt(what, err, "has an attribute that is not a string");
    /* tree_info: the class of each tree */
    arr a;
    uint8_t m;
    size_t pl;
    uint64_t count = 0;
    if (arr_begin(&u, get(&u, mo, "tree_info"), &a))
        return corrupt(what, err, "has no tree classes");
    while (arr_next(&u, &a, &m, &pl)) {
        if (!is_int(m) || int_value(m, u.p + pl) < 0 || int_value(m, u.p + pl) >= (binary ? 1 : n_classes))
            return corrupt(what, err, "assigns a tree to a class that does not exist");
        count++;
    }
    if (count != n_trees)
        return corrupt(what, err, "has another number of tree classes than trees");
    if (arr_begin(&u, get(&u, mo, "trees"), &a) || a.type)
        return corrupt(what, err, "has no trees");
    count = 0;
    while (arr_next(&u, &a, &m, &pl)) {
        vb_status st = m == '{' ? check_tree(&u, pl - 1, count, d, what, err)
                                : corrupt(what, err, "has a tree that is not an object");
        if (st != VB_OK)
            return st;
        count++;
    }
    if (count != n_trees)
        return corrupt(what, err, "has another number of trees than it says");
    return VB_OK;
}
