/* Fuzz target: the model loader (vb_model_parse), and a prediction with
 * each model it accepts, on a small image of the model's input shape. The
 * bytes are freed before the prediction: a model keeps no pointer into
 * them (vb_model_load frees its file buffer likewise). */
#include "fuzz.h"

#include "visbench/model.h"

static uint64_t le(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = n; i-- > 0;)
        v = v << 8 | p[i];
    return v;
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* The format checksums each section and the whole file (model.c): they are
 * recomputed first, so that mutations reach the parsers behind them.
 * Layout: magic (8), version (4), version string (8 + n), section count
 * (4), per section tag (4), offset (8), length (8), CRC (4); file CRC (4). */
static void fix_checksums(uint8_t *p, size_t len)
{
    if (len < 8 + 4 + 8 + 4 + 4)
        return;
    size_t end = len - 4, q = 12;
    uint64_t sl = le(p + q, 8);
    if (sl > end - q - 8)
        goto file;
    q += 8 + (size_t)sl;
    if (q + 4 > end)
        goto file;
    uint64_t n = le(p + q, 4);
    q += 4;
    for (uint64_t i = 0; i < n && i < 64 && q + 24 <= end; i++, q += 24) {
        uint64_t off = le(p + q + 4, 8), slen = le(p + q + 12, 8);
        if (off <= end && slen <= end - off)
            put32(p + q + 20, vb_crc32(p + off, (size_t)slen, 0));
    }
file:
    put32(p + end, vb_crc32(p, end, 0));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    fix_checksums(copy, size);
    vb_model *m = (vb_model *)1;
    vb_error err = {0};
    vb_status st = vb_model_parse(copy, size, "fuzz.vbm", &m, &err);
    free(copy);
    if (st != VB_OK) {
        FUZZ_REQUIRE(m == NULL, "a model despite '%s'", err.msg);
        fuzz_require_named(st, &err, "fuzz.vbm");
        return 0;
    }
    FUZZ_REQUIRE(m != NULL, "no model");
    int w = m->in.w ? m->in.w : 16, h = m->in.h ? m->in.h : 16, c = m->in.c == 3 ? 3 : 1;
    if (w <= 64 && h <= 64) {
        vb_image *img = vb_image_new(w, h, c, NULL);
        if (img) {
            for (size_t i = 0; i < (size_t)w * (size_t)h * (size_t)c; i++)
                img->data[i] = (float)(i % 17) / 16.0f;
            int k = vb_model_n_classes(m), label = -1;
            float *scores = malloc((size_t)(k > 0 ? k : 1) * sizeof *scores);
            st = scores ? vb_model_predict_image(m, img, &label, scores, &err) : VB_ERR_NOMEM;
            if (st == VB_OK)
                FUZZ_REQUIRE(label >= 0 && label < k, "label %d of %d classes", label, k);
            free(scores);
            vb_image_free(img);
        }
    }
    vb_model_free(m);
    return 0;
}
