#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "featutil.h"
#include "visbench/node.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Parameters from YAML text. The document stays alive until the plug-in is
 * built: the parsed values point at its file name for their messages
 * (vb_params_parse_text frees it at once, so a parameter error from
 * create() would read freed memory). */
static vb_status parse(vb_params *p, const vb_plugin *pl, const char *yaml, vb_doc **doc, vb_error *err)
{
    memset(p, 0, sizeof *p);
    vb_status st = vb_doc_load_string(yaml, "test", doc, err);
    if (st == VB_OK)
        st = vb_params_parse(p, pl, (*doc)->root, 0, err);
    return st;
}

vb_status fu_extractor_try(const char *name, const char *yaml, int w, int h, int c, vb_extractor **out,
                           vb_error *err)
{
    const vb_extractor_vt *vt = vb_extractor_find(name);
    if (!vt)
        fail_msg("no extractor %s", name);
    vb_params p;
    vb_doc *doc = NULL;
    vb_status st = parse(&p, &vt->info, yaml, &doc, err);
    if (st == VB_OK)
        st = vb_extractor_new(vt, &p, (vb_shape){w, h, c}, out, err);
    vb_params_free(&p);
    vb_doc_free(doc);
    return st;
}

vb_extractor *fu_extractor(const char *name, const char *yaml, int w, int h, int c)
{
    vb_error err = {0};
    vb_extractor *x = NULL;
    if (fu_extractor_try(name, yaml, w, h, c, &x, &err) != VB_OK)
        fail_msg("%s %s: %s", name, yaml, err.msg);
    return x;
}

vb_status fu_post_try(const char *name, const char *yaml, size_t dim_in, vb_post **out, vb_error *err)
{
    const vb_post_vt *vt = vb_post_find(name);
    if (!vt)
        fail_msg("no post step %s", name);
    vb_params p;
    vb_doc *doc = NULL;
    vb_status st = parse(&p, &vt->info, yaml, &doc, err);
    if (st == VB_OK)
        st = vb_post_new(vt, &p, dim_in, out, err);
    vb_params_free(&p);
    vb_doc_free(doc);
    return st;
}

vb_post *fu_post(const char *name, const char *yaml, size_t dim_in)
{
    vb_error err = {0};
    vb_post *p = NULL;
    if (fu_post_try(name, yaml, dim_in, &p, &err) != VB_OK)
        fail_msg("%s %s: %s", name, yaml, err.msg);
    return p;
}

vb_image *fu_image(int w, int h, int c, uint64_t seed)
{
    vb_image *img = vb_image_new(w, h, c, NULL);
    vb_rng *rng = vb_rng_new(seed);
    assert_non_null(img);
    assert_non_null(rng);
    size_t px = (size_t)w * (size_t)h;
    int shapes = 2 + (int)vb_rng_below(rng, 3);
    for (int s = 0; s < shapes; s++) {
        double cx = vb_rng_uniform(rng) * w, cy = vb_rng_uniform(rng) * h;
        double r = 2 + vb_rng_uniform(rng) * (w < h ? w : h) / 4.0;
        int disc = (int)vb_rng_below(rng, 2);
        float level[3];
        for (int k = 0; k < 3; k++)
            level[k] = (float)(0.3 + 0.7 * vb_rng_uniform(rng));
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                double dx = x - cx, dy = y - cy;
                int in = disc ? dx * dx + dy * dy <= r * r : fabs(dx) <= r && fabs(dy) <= r * 0.6;
                if (in)
                    for (int k = 0; k < c; k++)
                        img->data[(size_t)k * px + (size_t)y * w + x] = level[k];
            }
    }
    for (size_t i = 0; i < px * (size_t)c; i++) {
        float v = img->data[i] + (float)vb_rng_gauss(rng, 0.02);
        img->data[i] = v < 0 ? 0 : v > 1 ? 1 : v;
    }
    vb_rng_free(rng);
    return img;
}

static vb_status list_get(const vb_imgsrc *src, size_t i, vb_image *dst, vb_error *err)
{
    vb_image *const *imgs = src->ctx;
    const vb_image *im = imgs[i];
    vb_status st = vb_image_reshape(dst, im->w, im->h, im->c, err);
    if (st == VB_OK)
        memcpy(dst->data, im->data, (size_t)im->w * im->h * im->c * sizeof(float));
    return st;
}

float *fu_planted(size_t n, size_t d, size_t r, double s0, double q, double noise, double a, double b,
                  uint64_t seed)
{
    vb_rng *rng = vb_rng_new(seed);
    double *A = malloc(n * r * sizeof *A), *B = malloc(r * d * sizeof *B);
    float *X = malloc(n * d * sizeof *X);
    assert_true(rng && A && B && X);
    for (size_t i = 0; i < n * r; i++)
        A[i] = vb_rng_gauss(rng, 1.0);
    for (size_t i = 0; i < r * d; i++)
        B[i] = vb_rng_gauss(rng, 1.0);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++) {
            double v = a + b * (double)j, s = s0;
            for (size_t c = 0; c < r; c++, s *= q)
                v += s * A[i * r + c] * B[c * d + j];
            X[i * d + j] = (float)(noise > 0 ? v + vb_rng_gauss(rng, noise) : v);
        }
    free(A);
    free(B);
    vb_rng_free(rng);
    return X;
}

void fu_source(vb_imgsrc *src, vb_image *const *imgs, size_t n)
{
    src->n = n;
    src->get = list_get;
    src->ctx = imgs;
}

void fu_extract(const vb_extractor *x, const vb_image *img, float *out)
{
    void *sc = x->vt->scratch_new ? x->vt->scratch_new(x->state) : NULL;
    vb_error err = {0};
    if (x->vt->extract(x->state, sc, img, out, &err) != VB_OK)
        fail_msg("extract %s: %s", x->vt->info.name, err.msg);
    if (sc)
        x->vt->scratch_free(sc);
}

uint8_t *fu_save_extractor(const vb_extractor *x, size_t *len)
{
    vb_writer w;
    vb_writer_init(&w);
    vb_error err = {0};
    if (x->vt->save(x->state, &w, &err) != VB_OK)
        fail_msg("save %s: %s", x->vt->info.name, err.msg);
    *len = w.buf.len;
    return (uint8_t *)w.buf.data;
}

uint8_t *fu_save_post(const vb_post *p, size_t *len)
{
    vb_writer w;
    vb_writer_init(&w);
    vb_error err = {0};
    if (p->vt->save(p->state, &w, &err) != VB_OK)
        fail_msg("save %s: %s", p->vt->info.name, err.msg);
    *len = w.buf.len;
    return (uint8_t *)w.buf.data;
}
