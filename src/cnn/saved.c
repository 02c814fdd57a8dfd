/* Saved cnn models that plug-ins reuse (the cnn extractor, init_from):
 * the hook through which the model layer, above, parses model files. */
#include "visbench/cnn.h"

#include <stdlib.h>
#include <string.h>

#define VB_CNN_SAVED_DEPTH 8

static vb_cnn_saved_parser parser; /* set once, before any use, always to the same function */

void vb_cnn_set_saved_parser(vb_cnn_saved_parser parse) { __atomic_store_n(&parser, parse, __ATOMIC_RELEASE); }

vb_status vb_cnn_saved_parse(const void *data, size_t len, const char *name, vb_cnn_saved *out, vb_error *err)
{
    memset(out, 0, sizeof *out);
    vb_cnn_saved_parser parse = __atomic_load_n(&parser, __ATOMIC_ACQUIRE);
    if (!parse)
        return vb_fail(err, VB_ERR_STATE, "%s: no model reader is installed (call vb_model_install_hooks first)",
                       name);
    /* a model's cnn features carry a model, which may carry one: a few
     * levels are plenty, and a crafted file must not recurse without end */
    static __thread int depth;
    if (depth >= VB_CNN_SAVED_DEPTH)
        return vb_fail(err, VB_ERR_FORMAT, "%s: models nested more than %d deep (cnn features of cnn features ...)",
                       name, VB_CNN_SAVED_DEPTH);
    depth++;
    vb_status st = parse(data, len, name, out, err);
    depth--;
    if (st != VB_OK) {
        vb_cnn_saved_free(out);
        return st;
    }
    out->hash = vb_hash64(data, len, 0);
    return VB_OK;
}

vb_status vb_cnn_saved_read(const char *path, vb_cnn_saved *out, char **data, size_t *len, vb_error *err)
{
    memset(out, 0, sizeof *out);
    char *bytes = NULL;
    size_t n = 0;
    vb_status st = vb_file_read(path, &bytes, &n, err);
    if (st == VB_OK)
        st = vb_cnn_saved_parse(bytes, n, path, out, err);
    if (st == VB_OK && data) {
        *data = bytes;
        *len = n;
    } else
        free(bytes);
    return st;
}

void vb_cnn_saved_free(vb_cnn_saved *s)
{
    if (s && s->owner && s->release)
        s->release(s->owner);
    if (s)
        memset(s, 0, sizeof *s);
}
