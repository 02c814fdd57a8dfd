/* cnn: deep features, the outputs of one layer of a saved cnn model.
 *
 * The model file (`visbench train` on a pipeline whose classifier is cnn)
 * is read through cnn.h's saved-model hook, which the model layer above
 * installs; the extractor applies the model's own front (its preprocessing:
 * a cnn's rows are its preprocessed images), its input standardisation and
 * its network up to the layer, so the features are the activations the
 * model itself computes for the image. The file's bytes are the fitted
 * state: a model trained on these features carries the network it needs. */
#include "visbench/cnn.h"
#include "visbench/features.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const vb_param_def cnnfeat_params[] = {
    {.name = "model", .type = VB_PT_STRING, .flags = VB_PF_REQUIRED | VB_PF_PRIMARY | VB_PF_FILE,
     .help = "a model file that visbench train wrote for a pipeline whose classifier is cnn"},
    {.name = "layer", .type = VB_PT_STRING,
     .help = "whose outputs are the features: a layer's name (its kind and place among the layers of that kind: "
             "conv1, relu2, fc1; visbench model info lists them) or its number from 1; default: the layer before "
             "the output layer"},
};

typedef struct cnnfeat_state {
    vb_cnn_saved saved;
    char *bytes; /* the model file: the saved state */
    size_t len;
    size_t layer, dim;
} cnnfeat_state;

static void cnnfeat_destroy(void *state)
{
    cnnfeat_state *s = state;
    if (!s)
        return;
    vb_cnn_saved_free(&s->saved);
    free(s->bytes);
    free(s);
}

static void shape_text(vb_shape s, char *buf, size_t size) { snprintf(buf, size, "%dx%dx%d", s.w, s.h, s.c); }

/* The model against this pipeline's images (shape in), and the layer. */
static vb_status setup(cnnfeat_state *s, const vb_params *p, vb_shape in, vb_error *err)
{
    const vb_cnn *net = s->saved.net;
    const char *path = vb_param_str(p, "model");
    vb_shape front;
    vb_error e = {0};
    if (vb_prep_chain_shape(s->saved.prep, in, &front, &e) != VB_OK)
        return vb_param_fail(p, "model", err, "'%s': its own preprocessing cannot take this pipeline's images: %s",
                             path, e.msg);
    if (front.w != net->in.w || front.h != net->in.h || front.c != net->in.c) {
        char want[48], have[48], got[48];
        shape_text(net->in, want, sizeof want);
        shape_text(in, have, sizeof have);
        shape_text(front, got, sizeof got);
        if (s->saved.prep->n)
            return vb_param_fail(p, "model", err,
                                 "'%s' takes %s images (w x h x channels) into its network, and this pipeline's "
                                 "images, %s after its preprocessing, are %s after the model's own; preprocess "
                                 "them to match (resize, grayscale or rgb)",
                                 path, want, have, got);
        return vb_param_fail(p, "model", err,
                             "'%s' takes %s images (w x h x channels) and this pipeline's are %s after its "
                             "preprocessing; preprocess them to match (resize, grayscale or rgb)",
                             path, want, have);
    }
    const char *which = vb_param_str(p, "layer");
    if (vb_cnn_find_layer(net, which, &s->layer, &e) != VB_OK)
        return vb_param_fail(p, which ? "layer" : "model", err, "'%s': %s", path, e.msg);
    s->dim = net->layers[s->layer].n_out;
    return VB_OK;
}

/* After the model is read (st): the setup, and the state or nothing. */
static vb_status finish(cnnfeat_state *s, const vb_params *p, vb_shape in, vb_status st, void **state, vb_error *err)
{
    if (st == VB_OK)
        st = setup(s, p, in, err);
    if (st != VB_OK) {
        cnnfeat_destroy(s);
        return st;
    }
    *state = s;
    return VB_OK;
}

static vb_status cnnfeat_create(const vb_params *p, vb_shape in, void **state, vb_error *err)
{
    cnnfeat_state *s = vb_calloc(1, sizeof *s, err);
    if (!s)
        return VB_ERR_NOMEM;
    vb_error e = {0};
    vb_status st = vb_cnn_saved_read(vb_param_str(p, "model"), &s->saved, &s->bytes, &s->len, &e);
    if (st == VB_ERR_NOMEM)
        st = vb_fail(err, VB_ERR_NOMEM, "out of memory");
    else if (st != VB_OK)
        st = vb_param_fail(p, "model", err, "%s", e.msg);
    return finish(s, p, in, st, state, err);
}

static vb_status cnnfeat_restore(const vb_params *p, vb_shape in, vb_reader *r, void **state, vb_error *err)
{
    cnnfeat_state *s = vb_calloc(1, sizeof *s, err);
    if (!s)
        return VB_ERR_NOMEM;
    uint64_t len;
    vb_status st = vb_read_u64(r, &len, err);
    if (st == VB_OK && len > vb_reader_left(r))
        st = vb_fail(err, VB_ERR_FORMAT, "%s: corrupt cnn features (a model of %llu bytes in %zu)", r->what,
                     (unsigned long long)len, vb_reader_left(r));
    if (st == VB_OK && !(s->bytes = vb_malloc(len ? len : 1, 1, err)))
        st = VB_ERR_NOMEM;
    if (st == VB_OK) {
        s->len = (size_t)len;
        memcpy(s->bytes, r->p + r->pos, s->len);
        r->pos += s->len;
        char what[300];
        snprintf(what, sizeof what, "%s: the cnn features' model", r->what ? r->what : "model");
        st = vb_cnn_saved_parse(s->bytes, s->len, what, &s->saved, err);
    }
    return finish(s, p, in, st, state, err);
}

static vb_status cnnfeat_save(const void *state, vb_writer *w, vb_error *err)
{
    const cnnfeat_state *s = state;
    vb_write_u64(w, s->len);
    vb_write_bytes(w, s->bytes, s->len);
    return vb_writer_status(w, err);
}

static size_t cnnfeat_dim(const void *state) { return ((const cnnfeat_state *)state)->dim; }

/* The model's preprocessing on each image (its network's input rows), in
 * parallel, then the network up to the layer, in its batches. */
static vb_status cnnfeat_extract_batch(const void *state, const vb_image *const *imgs, size_t n, float *out,
                                       size_t stride, vb_error *err)
{
    const cnnfeat_state *s = state;
    const vb_cnn *net = s->saved.net;
    const size_t d = net->layers[0].n_in;
    float *rows = vb_malloc(n ? n : 1, d * sizeof *rows, err);
    if (!rows)
        return VB_ERR_NOMEM;
    size_t failed_at = (size_t)-1;
    vb_error first = {0};
#pragma omp parallel
    {
        vb_image t1 = {0}, t2 = {0};
#pragma omp for schedule(dynamic, 4)
        for (size_t i = 0; i < n; i++) {
            const vb_image *res = NULL;
            vb_error e = {0};
            vb_status st = vb_prep_chain_apply(s->saved.prep, imgs[i], &t1, &t2, &res, &e);
            if (st == VB_OK && (size_t)res->w * res->h * res->c != d)
                st = vb_fail(&e, VB_ERR_INTERNAL, "cnn features: a %dx%dx%d image for a network of %zu inputs",
                             res->w, res->h, res->c, d);
            if (st == VB_OK)
                memcpy(rows + i * d, res->data, d * sizeof *rows);
            else {
#pragma omp critical(vb_cnnfeat_err)
                if (i < failed_at) {
                    failed_at = i;
                    first = e;
                }
            }
        }
        free(t1.data);
        free(t2.data);
    }
    vb_status st;
    if (failed_at != (size_t)-1) {
        if (err)
            *err = first;
        st = first.status ? first.status : VB_ERR_INTERNAL;
    } else
        st = vb_cnn_activations(net, rows, n, s->layer, out, stride, err);
    free(rows);
    return st;
}

static vb_status cnnfeat_extract(const void *state, void *scratch, const vb_image *img, float *out, vb_error *err)
{
    return cnnfeat_extract_batch(state, &img, 1, out, cnnfeat_dim(state), err);
}

const vb_extractor_vt vb_ext_cnn = {
    .info = {.name = "cnn",
             .help = "deep features: the outputs of one layer of a saved cnn model (visbench train), for any "
                     "classifier",
             .doc = "Runs the model on each image as the model itself does: its own preprocessing, its input "
                    "standardisation, its network up to the layer (inference: dropout off, batchnorm's running "
                    "statistics); that layer's outputs are the features (a conv or pool layer's: its channel "
                    "planes one after another). This pipeline's images, after its preprocessing, must become the "
                    "network's input shape through the model's preprocessing. Images go through the network in "
                    "blocks of 64, in their order (GEMMs, OpenMP inside), so the numbers do not depend on the "
                    "thread count. The model file is kept in any model trained on these features, which needs no "
                    "other file; a hash of its bytes is part of the feature configuration, so a retrained model is "
                    "another one.",
             VB_PARAMS(cnnfeat_params)},
    .create = cnnfeat_create,
    .dim = cnnfeat_dim,
    .extract = cnnfeat_extract,
    .extract_batch = cnnfeat_extract_batch,
    .save = cnnfeat_save,
    .load = NULL,
    .destroy = cnnfeat_destroy,
    .restore = cnnfeat_restore,
};
