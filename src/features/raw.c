/* raw: the preprocessed pixels themselves, channel planes one after another. */
#include "visbench/features.h"

#include <stdlib.h>
#include <string.h>

typedef struct raw_state {
    vb_shape in;
} raw_state;

static vb_status raw_create(const vb_params *p, vb_shape in, void **state, vb_error *err)
{
    raw_state *s = vb_calloc(1, sizeof *s, err);
    if (!s)
        return VB_ERR_NOMEM;
    s->in = in;
    *state = s;
    return VB_OK;
}

static size_t raw_dim(const void *state)
{
    const raw_state *s = state;
    return (size_t)s->in.w * (size_t)s->in.h * (size_t)s->in.c;
}

static vb_status raw_extract(const void *state, void *scratch, const vb_image *img, float *out, vb_error *err)
{
    memcpy(out, img->data, raw_dim(state) * sizeof(float));
    return VB_OK;
}

static void raw_destroy(void *state) { free(state); }

const vb_extractor_vt vb_ext_raw = {
    .flags = VB_EXT_IMAGE_ROWS,
    .info = {.name = "raw",
             .help = "the pixels themselves (c x h x w values, planes in order)",
             .doc = "Colour: all channels, one plane after another. Combine with resize to control the size; "
                    "the cnn classifier takes these rows as its image tensor."},
    .create = raw_create,
    .dim = raw_dim,
    .extract = raw_extract,
    .destroy = raw_destroy,
};
