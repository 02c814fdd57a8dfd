/* preprocess: every op of the registry on hand-computed images, shape
 * inference, parameter forms, and chains. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "support/testutil.h"
#include "visbench/preprocess.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define expect_error tu_expect_error /* support/testutil.h */

/* ---- helpers ----------------------------------------------------------- */

static const vb_prep_vt *op(const char *name)
{
    const vb_prep_vt *vt = vb_prep_find(name);
    if (!vt)
        fail_msg("no preprocess op '%s'", name);
    return vt;
}

/* Parameters of op `name` from YAML text (NULL: all defaults). */
static void params(vb_params *p, const char *name, const char *yaml)
{
    vb_error err = {0};
    vb_status st = yaml ? vb_params_parse_text(p, &op(name)->info, yaml, &err)
                        : vb_params_parse(p, &op(name)->info, NULL, 0, &err);
    if (st != VB_OK)
        fail_msg("%s %s: %s", name, yaml ? yaml : "(defaults)", err.msg);
}

static vb_image *image(int w, int h, int c, const float *values)
{
    vb_image *img = vb_image_new(w, h, c, NULL);
    assert_non_null(img);
    if (values)
        memcpy(img->data, values, (size_t)w * h * c * sizeof(float));
    return img;
}

static float px(const vb_image *img, int x, int y, int k)
{
    return img->data[(size_t)k * img->w * img->h + (size_t)y * img->w + x];
}

/* Deterministic pseudo-random values in [0, 1). */
static vb_image *noise_image(int w, int h, int c, uint64_t seed)
{
    vb_image *img = image(w, h, c, NULL);
    vb_rng *rng = vb_rng_new(seed);
    assert_non_null(rng);
    for (size_t i = 0; i < (size_t)w * h * c; i++)
        img->data[i] = (float)vb_rng_uniform(rng);
    vb_rng_free(rng);
    return img;
}

static void apply(const char *name, const char *yaml, const vb_image *in, vb_image *out)
{
    vb_params p;
    vb_error err = {0};
    params(&p, name, yaml);
    if (op(name)->apply(&p, in, out, &err) != VB_OK)
        fail_msg("%s: %s", name, err.msg);
    vb_params_free(&p);
}

static vb_shape shape_of(const char *name, const char *yaml, int w, int h, int c)
{
    vb_params p;
    vb_error err = {0};
    params(&p, name, yaml);
    vb_shape in = {w, h, c}, out = {-1, -1, -1};
    if (op(name)->shape(&p, in, &out, &err) != VB_OK)
        fail_msg("%s shape: %s", name, err.msg);
    vb_params_free(&p);
    return out;
}

#define assert_shape(s, W, H, C)                                                               \
    do {                                                                                       \
        vb_shape s_ = (s);                                                                     \
        assert_int_equal(s_.w, (W));                                                           \
        assert_int_equal(s_.h, (H));                                                           \
        assert_int_equal(s_.c, (C));                                                           \
    } while (0)

/* ---- registry ----------------------------------------------------------- */

static void test_registry(void **state)
{
    size_t n;
    const vb_prep_vt *const *all = vb_prep_registry(&n);
    assert_int_equal(n, 6);
    const char *names[6] = {"grayscale", "rgb", "resize", "crop", "normalize", "equalize"};
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(all[i]->info.name, names[i]);
        assert_ptr_equal(vb_prep_find(names[i]), all[i]);
        assert_non_null(all[i]->info.help);
        assert_non_null(all[i]->shape);
        assert_non_null(all[i]->apply);
    }
    assert_null(vb_prep_find("blur"));
    assert_null(vb_prep_find("Resize"));
}

/* ---- grayscale / rgb ---------------------------------------------------- */

static void test_grayscale(void **state)
{
    /* 2x1 RGB: (1, 0.5, 0.25) and (0.2, 0.4, 0.6) */
    const float v[6] = {1.0f, 0.2f, 0.5f, 0.4f, 0.25f, 0.6f};
    vb_image *in = image(2, 1, 3, v), out = {0};
    apply("grayscale", NULL, in, &out);
    assert_int_equal(out.c, 1);
    assert_int_equal(out.w, 2);
    assert_int_equal(out.h, 1);
    assert_float_equal(out.data[0], 0.299 * 1.0 + 0.587 * 0.5 + 0.114 * 0.25, 1e-6); /* 0.621 */
    assert_float_equal(out.data[1], 0.299 * 0.2 + 0.587 * 0.4 + 0.114 * 0.6, 1e-6);  /* 0.363 */
    assert_float_equal(out.data[0], 0.621, 1e-6);
    /* grey passes through */
    const float g[4] = {0.1f, 0.7f, 0.0f, 1.0f};
    vb_image *grey = image(2, 2, 1, g), out2 = {0};
    apply("grayscale", NULL, grey, &out2);
    assert_int_equal(out2.c, 1);
    assert_memory_equal(out2.data, g, sizeof g);
    /* the params parser takes the bare name form (no parameters) */
    vb_params p;
    params(&p, "grayscale", "{}");
    vb_params_free(&p);

    assert_shape(shape_of("grayscale", NULL, 5, 4, 3), 5, 4, 1);
    assert_shape(shape_of("grayscale", NULL, 5, 4, 1), 5, 4, 1);
    assert_shape(shape_of("grayscale", NULL, 0, 0, 3), 0, 0, 1);
    vb_image_free(in);
    vb_image_free(grey);
    free(out.data);
    free(out2.data);
}

static void test_rgb(void **state)
{
    const float g[2] = {0.25f, 0.75f};
    vb_image *grey = image(2, 1, 1, g), out = {0};
    apply("rgb", NULL, grey, &out);
    assert_int_equal(out.c, 3);
    for (int k = 0; k < 3; k++) {
        assert_float_equal(px(&out, 0, 0, k), 0.25, 0);
        assert_float_equal(px(&out, 1, 0, k), 0.75, 0);
    }
    const float v[6] = {1.0f, 0.2f, 0.5f, 0.4f, 0.25f, 0.6f};
    vb_image *rgb = image(2, 1, 3, v), out2 = {0};
    apply("rgb", NULL, rgb, &out2);
    assert_int_equal(out2.c, 3);
    assert_memory_equal(out2.data, v, sizeof v);
    assert_shape(shape_of("rgb", NULL, 7, 3, 1), 7, 3, 3);
    assert_shape(shape_of("rgb", NULL, 0, 0, 3), 0, 0, 3);
    vb_image_free(grey);
    vb_image_free(rgb);
    free(out.data);
    free(out2.data);
}

/* ---- resize ------------------------------------------------------------- */

static void test_resize(void **state)
{
    /* one number is a square */
    vb_params p;
    params(&p, "resize", "{size: 4}");
    size_t n;
    const double *s = vb_param_list(&p, "size", &n);
    assert_int_equal(n, 2);
    assert_float_equal(s[0], 4, 0);
    assert_float_equal(s[1], 4, 0);
    vb_params_free(&p);
    params(&p, "resize", "7"); /* the primary form, "resize: 7" */
    s = vb_param_list(&p, "size", &n);
    assert_int_equal(n, 2);
    assert_float_equal(s[1], 7, 0);
    vb_params_free(&p);

    assert_shape(shape_of("resize", "{size: 4}", 9, 8, 3), 4, 4, 3);
    assert_shape(shape_of("resize", "{size: [6, 3]}", 2, 2, 1), 6, 3, 1);
    assert_shape(shape_of("resize", "[6, 3]", 0, 0, 1), 6, 3, 1);

    /* a constant stays constant, up and down */
    vb_image *in = image(8, 6, 3, NULL), out = {0};
    for (int k = 0; k < 3; k++)
        for (int i = 0; i < 48; i++)
            in->data[k * 48 + i] = 0.2f + 0.3f * (float)k;
    apply("resize", "{size: 4}", in, &out);
    assert_int_equal(out.w, 4);
    assert_int_equal(out.h, 4);
    assert_int_equal(out.c, 3);
    for (int k = 0; k < 3; k++)
        for (int y = 0; y < 4; y++)
            for (int x = 0; x < 4; x++)
                assert_float_equal(px(&out, x, y, k), 0.2 + 0.3 * k, 1e-5);
    apply("resize", "{size: [13, 11]}", in, &out);
    assert_int_equal(out.w, 13);
    assert_int_equal(out.h, 11);
    for (int k = 0; k < 3; k++)
        for (int y = 0; y < 11; y++)
            for (int x = 0; x < 13; x++)
                assert_float_equal(px(&out, x, y, k), 0.2 + 0.3 * k, 1e-5);

    /* a left-dark, right-bright image stays so */
    vb_image *half = image(8, 8, 1, NULL);
    for (int y = 0; y < 8; y++)
        for (int x = 0; x < 8; x++)
            half->data[y * 8 + x] = x < 4 ? 0.0f : 1.0f;
    apply("resize", "{size: [2, 2]}", half, &out);
    assert_int_equal(out.c, 1);
    for (int y = 0; y < 2; y++) {
        assert_true(px(&out, 0, y, 0) < 0.25f);
        assert_true(px(&out, 1, y, 0) > 0.75f);
        assert_float_equal(px(&out, 0, y, 0) + px(&out, 1, y, 0), 1.0, 1e-4); /* symmetric */
    }

    /* parameters are checked */
    vb_error err = {0};
    vb_params bad;
    assert_int_not_equal(vb_params_parse_text(&bad, &op("resize")->info, "{size: [1, 2, 3]}", &err), VB_OK);
    assert_non_null(strstr(err.msg, "resize.size needs 2 values, not 3"));
    assert_int_not_equal(vb_params_parse_text(&bad, &op("resize")->info, "{size: 0}", &err), VB_OK);
    assert_non_null(strstr(err.msg, "resize.size = 0 is out of range (1..8192)"));
    assert_int_not_equal(vb_params_parse_text(&bad, &op("resize")->info, "{}", &err), VB_OK);
    assert_non_null(strstr(err.msg, "'resize' needs the parameter 'size'"));
    vb_image_free(in);
    vb_image_free(half);
    free(out.data);
}

/* ---- crop --------------------------------------------------------------- */

static void test_crop(void **state)
{
    /* 4x3, 3 channels: value = 100 k + 4 y + x */
    vb_image *in = image(4, 3, 3, NULL), out = {0};
    for (int k = 0; k < 3; k++)
        for (int y = 0; y < 3; y++)
            for (int x = 0; x < 4; x++)
                in->data[k * 12 + y * 4 + x] = (float)(100 * k + 4 * y + x);
    /* [2, 1]: x0 = (4 - 2) / 2 = 1, y0 = (3 - 1) / 2 = 1 */
    apply("crop", "{size: [2, 1]}", in, &out);
    assert_int_equal(out.w, 2);
    assert_int_equal(out.h, 1);
    assert_int_equal(out.c, 3);
    const float want[6] = {5, 6, 105, 106, 205, 206};
    assert_memory_equal(out.data, want, sizeof want);
    /* [3, 3] from 4x3: x0 = 0 (0.5 rounds down), y0 = 0 */
    apply("crop", "{size: [3, 3]}", in, &out);
    assert_float_equal(px(&out, 0, 0, 0), 0, 0);
    assert_float_equal(px(&out, 2, 2, 1), 110, 0);
    assert_float_equal(px(&out, 1, 0, 2), 201, 0);
    /* the full size is a copy */
    apply("crop", "{size: [4, 3]}", in, &out);
    assert_memory_equal(out.data, in->data, 36 * sizeof(float));
    /* one number: square */
    vb_image *sq = image(5, 5, 1, NULL);
    for (int i = 0; i < 25; i++)
        sq->data[i] = (float)i;
    apply("crop", "{size: 3}", sq, &out);
    const float want3[9] = {6, 7, 8, 11, 12, 13, 16, 17, 18};
    assert_int_equal(out.w, 3);
    assert_memory_equal(out.data, want3, sizeof want3);
    apply("crop", "2", sq, &out); /* x0 = y0 = 1 */
    const float want2[4] = {6, 7, 11, 12};
    assert_memory_equal(out.data, want2, sizeof want2);

    assert_shape(shape_of("crop", "{size: [2, 1]}", 4, 3, 3), 2, 1, 3);
    assert_shape(shape_of("crop", "{size: 3}", 0, 0, 3), 3, 3, 3); /* sizes vary: checked per image */
    assert_shape(shape_of("crop", "{size: [4, 3]}", 4, 3, 1), 4, 3, 1);

    /* too large: shape() names both sizes and where the size was given */
    vb_doc *doc = NULL;
    vb_error err = {0};
    assert_int_equal(vb_doc_load_string("preprocess:\n  - crop: [4, 2]\n", "spec.yaml", &doc, &err), VB_OK);
    const vb_node *entry = vb_node_get(doc->root, "preprocess")->items[0];
    vb_params p;
    assert_int_equal(vb_params_parse(&p, &op("crop")->info, vb_node_get(entry, "crop"), 0, &err), VB_OK);
    vb_shape in_shape = {3, 3, 1}, out_shape;
    expect_error(op("crop")->shape(&p, in_shape, &out_shape, &err), err, VB_ERR_PARAM,
                 "spec.yaml:2:11: crop.size: crop 4x2 is larger than the 3x3 images; resize first");
    in_shape.w = 4;
    in_shape.h = 1;
    expect_error(op("crop")->shape(&p, in_shape, &out_shape, &err), err, VB_ERR_PARAM,
                 "spec.yaml:2:11: crop.size: crop 4x2 is larger than the 4x1 images; resize first");
    /* and apply() on an image that is too small */
    vb_image *small = image(3, 3, 1, NULL);
    expect_error(op("crop")->apply(&p, small, &out, &err), err, VB_ERR_DATA,
                 "crop 4x2 is larger than a 3x3 image; resize first");
    vb_params_free(&p);
    vb_doc_free(doc);
    /* from text: the message still points at the size */
    params(&p, "crop", "{size: [9, 9]}");
    in_shape.w = in_shape.h = 8;
    vb_status st = op("crop")->shape(&p, in_shape, &out_shape, &err);
    assert_int_equal(st, VB_ERR_PARAM);
    assert_non_null(strstr(err.msg, "crop.size: crop 9x9 is larger than the 8x8 images; resize first"));
    vb_params_free(&p);
    vb_image_free(small);
    vb_image_free(sq);
    vb_image_free(in);
    free(out.data);
}

/* ---- normalize ---------------------------------------------------------- */

static void stats(const vb_image *img, double *mean, double *sd, float *lo, float *hi)
{
    size_t n = (size_t)img->w * img->h * img->c;
    double s = 0, q = 0;
    *lo = *hi = img->data[0];
    for (size_t i = 0; i < n; i++) {
        assert_false(isnan(img->data[i]));
        s += img->data[i];
        *lo = img->data[i] < *lo ? img->data[i] : *lo;
        *hi = img->data[i] > *hi ? img->data[i] : *hi;
    }
    *mean = s / (double)n;
    for (size_t i = 0; i < n; i++)
        q += (img->data[i] - *mean) * (img->data[i] - *mean);
    *sd = sqrt(q / (double)n);
}

static void test_normalize(void **state)
{
    vb_image *in = noise_image(7, 5, 3, 11), out = {0};
    double mean, sd;
    float lo, hi;
    /* default: zscore over all pixels of all channels */
    apply("normalize", NULL, in, &out);
    assert_int_equal(out.w, 7);
    assert_int_equal(out.h, 5);
    assert_int_equal(out.c, 3);
    stats(&out, &mean, &sd, &lo, &hi);
    assert_float_equal(mean, 0, 1e-5);
    assert_float_equal(sd, 1, 1e-5);
    apply("normalize", "zscore", in, &out);
    stats(&out, &mean, &sd, &lo, &hi);
    assert_float_equal(mean, 0, 1e-5);
    assert_float_equal(sd, 1, 1e-5);

    /* hand-computed: 0, 0.5, 1, 0.5 has mean 0.5 and sd sqrt(0.125) */
    const float v[4] = {0.0f, 0.5f, 1.0f, 0.5f};
    vb_image *small = image(2, 2, 1, v);
    apply("normalize", "{method: zscore}", small, &out);
    double z = 0.5 / sqrt(0.125);
    assert_float_equal(out.data[0], -z, 1e-5);
    assert_float_equal(out.data[1], 0, 1e-6);
    assert_float_equal(out.data[2], z, 1e-5);

    /* minmax: (v - min) / (max - min) */
    const float m[4] = {0.2f, 0.4f, 0.6f, 0.3f};
    vb_image *mm = image(4, 1, 1, m);
    apply("normalize", "{method: minmax}", mm, &out);
    assert_float_equal(out.data[0], 0, 1e-6);
    assert_float_equal(out.data[1], 0.5, 1e-6);
    assert_float_equal(out.data[2], 1, 1e-6);
    assert_float_equal(out.data[3], 0.25, 1e-6);
    apply("normalize", "minmax", in, &out);
    stats(&out, &mean, &sd, &lo, &hi);
    assert_float_equal(lo, 0, 1e-6);
    assert_float_equal(hi, 1, 1e-6);

    /* a constant image becomes zeros, never NaN */
    vb_image *flat = image(3, 3, 1, NULL);
    for (int i = 0; i < 9; i++)
        flat->data[i] = 0.4f;
    apply("normalize", "zscore", flat, &out);
    for (int i = 0; i < 9; i++)
        assert_float_equal(out.data[i], 0, 0);
    apply("normalize", "minmax", flat, &out);
    for (int i = 0; i < 9; i++)
        assert_float_equal(out.data[i], 0, 0);

    assert_shape(shape_of("normalize", NULL, 6, 2, 3), 6, 2, 3);
    assert_shape(shape_of("normalize", "minmax", 0, 0, 1), 0, 0, 1);

    vb_error err = {0};
    vb_params bad;
    assert_int_not_equal(vb_params_parse_text(&bad, &op("normalize")->info, "{method: zcore}", &err), VB_OK);
    assert_non_null(strstr(err.msg, "normalize.method: unknown value 'zcore'; did you mean 'zscore'?"));
    vb_image_free(in);
    vb_image_free(small);
    vb_image_free(mm);
    vb_image_free(flat);
    free(out.data);
}

/* ---- equalize ----------------------------------------------------------- */

static void test_equalize(void **state)
{
    vb_image out = {0};
    /* hand-computed with 4 bins: values 0, 1/3, 1/3, 1 fall in bins 0, 1, 1, 3;
     * cdf 1, 3, 3, 4; first 1; (cdf - 1) / 3 -> 0, 2/3, 2/3, 1 */
    const float v[4] = {0.0f, 1.0f / 3, 1.0f / 3, 1.0f};
    vb_image *in = image(2, 2, 1, v);
    apply("equalize", "{bins: 4}", in, &out);
    assert_float_equal(out.data[0], 0, 1e-6);
    assert_float_equal(out.data[1], 2.0 / 3, 1e-6);
    assert_float_equal(out.data[2], 2.0 / 3, 1e-6);
    assert_float_equal(out.data[3], 1, 1e-6);

    /* two levels map to 0 and 1 */
    vb_image *two = image(5, 4, 1, NULL);
    for (int i = 0; i < 20; i++)
        two->data[i] = i % 3 ? 0.2f : 0.7f;
    apply("equalize", NULL, two, &out);
    for (int i = 0; i < 20; i++)
        assert_float_equal(out.data[i], (i % 3 ? 0.0 : 1.0), 0);

    /* random image: monotonic, range exactly [0, 1], every channel on its own */
    vb_image *rnd = noise_image(16, 16, 3, 3);
    for (int i = 0; i < 256; i++)
        rnd->data[2 * 256 + i] *= 0.25f; /* a dim blue channel */
    apply("equalize", NULL, rnd, &out);
    assert_int_equal(out.c, 3);
    for (int k = 0; k < 3; k++) {
        const float *a = rnd->data + k * 256, *b = out.data + k * 256;
        float lo = b[0], hi = b[0];
        for (int i = 0; i < 256; i++) {
            lo = b[i] < lo ? b[i] : lo;
            hi = b[i] > hi ? b[i] : hi;
            for (int j = 0; j < 256; j++)
                if (a[i] < a[j] && b[i] > b[j])
                    fail_msg("channel %d: %g < %g but %g > %g", k, a[i], a[j], b[i], b[j]);
        }
        assert_float_equal(lo, 0, 0);
        assert_float_equal(hi, 1, 0);
    }

    /* a constant image has nothing to stretch: unchanged */
    vb_image *flat = image(3, 2, 1, NULL);
    for (int i = 0; i < 6; i++)
        flat->data[i] = 0.3f;
    apply("equalize", NULL, flat, &out);
    for (int i = 0; i < 6; i++)
        assert_float_equal(out.data[i], 0.3, 1e-7);

    /* values outside [0, 1] (after zscore) and NaN are clamped, not indexed */
    const float odd[4] = {-2.0f, 3.0f, NAN, 0.5f};
    vb_image *o = image(4, 1, 1, odd);
    apply("equalize", "{bins: 4}", o, &out);
    /* bins: 0 (-2), 3 (3), 0 (NaN as 0), 2 (0.5 -> round(1.5) = 2); cdf 2, 2, 3, 4; first 2 */
    assert_float_equal(out.data[0], 0, 1e-6);
    assert_float_equal(out.data[1], 1, 1e-6);
    assert_float_equal(out.data[2], 0, 1e-6);
    assert_float_equal(out.data[3], 0.5, 1e-6);

    assert_shape(shape_of("equalize", NULL, 3, 2, 3), 3, 2, 3);
    vb_error err = {0};
    vb_params bad;
    assert_int_not_equal(vb_params_parse_text(&bad, &op("equalize")->info, "{bins: 1}", &err), VB_OK);
    assert_non_null(strstr(err.msg, "equalize.bins = 1 is out of range (2..65536)"));
    vb_image_free(in);
    vb_image_free(two);
    vb_image_free(rnd);
    vb_image_free(flat);
    vb_image_free(o);
    free(out.data);
}

/* ---- chains ------------------------------------------------------------- */

static void test_chain(void **state)
{
    vb_error err = {0};
    vb_prep_chain c;
    vb_prep_chain_init(&c);
    const char *names[3] = {"grayscale", "resize", "normalize"};
    const char *yaml[3] = {NULL, "[4, 3]", "minmax"};
    for (int i = 0; i < 3; i++) {
        vb_params p;
        params(&p, names[i], yaml[i]);
        assert_int_equal(vb_prep_chain_add(&c, op(names[i]), &p, &err), VB_OK);
        vb_params_free(&p); /* the chain holds a copy */
    }
    assert_int_equal(c.n, 3);
    vb_shape in = {9, 7, 3}, out;
    assert_int_equal(vb_prep_chain_shape(&c, in, &out, &err), VB_OK);
    assert_shape(out, 4, 3, 1);
    vb_shape vary = {0, 0, 3};
    assert_int_equal(vb_prep_chain_shape(&c, vary, &out, &err), VB_OK);
    assert_shape(out, 4, 3, 1);

    vb_image *src = noise_image(9, 7, 3, 99), t1 = {0}, t2 = {0};
    const vb_image *res = NULL;
    assert_int_equal(vb_prep_chain_apply(&c, src, &t1, &t2, &res, &err), VB_OK);
    assert_true(res == &t1 || res == &t2);
    assert_int_equal(res->w, 4);
    assert_int_equal(res->h, 3);
    assert_int_equal(res->c, 1);
    /* one by one */
    vb_image a = {0}, b = {0}, d = {0};
    apply("grayscale", NULL, src, &a);
    apply("resize", "[4, 3]", &a, &b);
    apply("normalize", "minmax", &b, &d);
    assert_memory_equal(res->data, d.data, 12 * sizeof(float));
    /* the source is left alone */
    vb_image *again = noise_image(9, 7, 3, 99);
    assert_memory_equal(src->data, again->data, 9 * 7 * 3 * sizeof(float));
    /* and running again with the same scratch images gives the same result */
    const vb_image *res2 = NULL;
    assert_int_equal(vb_prep_chain_apply(&c, again, &t1, &t2, &res2, &err), VB_OK);
    assert_memory_equal(res2->data, d.data, 12 * sizeof(float));

    /* a shape error in the chain comes out of vb_prep_chain_shape */
    vb_params p;
    params(&p, "crop", "{size: 5}");
    assert_int_equal(vb_prep_chain_add(&c, op("crop"), &p, &err), VB_OK);
    vb_params_free(&p);
    vb_status st = vb_prep_chain_shape(&c, in, &out, &err);
    assert_int_equal(st, VB_ERR_PARAM);
    assert_non_null(strstr(err.msg, "crop 5x5 is larger than the 4x3 images; resize first"));
    st = vb_prep_chain_apply(&c, src, &t1, &t2, &res, &err);
    assert_int_equal(st, VB_ERR_DATA);
    assert_string_equal(err.msg, "crop 5x5 is larger than a 4x3 image; resize first");

    vb_prep_chain_free(&c);
    assert_int_equal(c.n, 0);
    vb_prep_chain_free(&c); /* twice is harmless */
    vb_image_free(src);
    vb_image_free(again);
    free(t1.data);
    free(t2.data);
    free(a.data);
    free(b.data);
    free(d.data);
}

static void test_empty_chain(void **state)
{
    vb_error err = {0};
    vb_prep_chain c;
    vb_prep_chain_init(&c);
    vb_shape in = {5, 4, 3}, out;
    assert_int_equal(vb_prep_chain_shape(&c, in, &out, &err), VB_OK);
    assert_shape(out, 5, 4, 3);
    vb_image *src = noise_image(5, 4, 3, 1), t1 = {0}, t2 = {0};
    const vb_image *res = NULL;
    assert_int_equal(vb_prep_chain_apply(&c, src, &t1, &t2, &res, &err), VB_OK);
    assert_ptr_equal(res, src);
    assert_null(t1.data);
    assert_null(t2.data);
    vb_prep_chain_free(&c);
    vb_image_free(src);
}

/* Two ops in a row alternate between the scratch images; a third returns to the first. */
static void test_chain_scratch_alternates(void **state)
{
    vb_error err = {0};
    vb_prep_chain c;
    vb_prep_chain_init(&c);
    vb_params p;
    params(&p, "rgb", NULL);
    assert_int_equal(vb_prep_chain_add(&c, op("rgb"), &p, &err), VB_OK);
    vb_params_free(&p);
    vb_image *src = noise_image(3, 3, 1, 5), t1 = {0}, t2 = {0};
    const vb_image *res = NULL;
    assert_int_equal(vb_prep_chain_apply(&c, src, &t1, &t2, &res, &err), VB_OK);
    assert_ptr_equal(res, &t1);
    params(&p, "grayscale", NULL);
    assert_int_equal(vb_prep_chain_add(&c, op("grayscale"), &p, &err), VB_OK);
    vb_params_free(&p);
    assert_int_equal(vb_prep_chain_apply(&c, src, &t1, &t2, &res, &err), VB_OK);
    assert_ptr_equal(res, &t2);
    /* rgb then grayscale of grey: the same grey values (luma weights sum to 1) */
    for (int i = 0; i < 9; i++)
        assert_float_equal(res->data[i], src->data[i], 1e-6);
    params(&p, "equalize", NULL);
    assert_int_equal(vb_prep_chain_add(&c, op("equalize"), &p, &err), VB_OK);
    vb_params_free(&p);
    assert_int_equal(vb_prep_chain_apply(&c, src, &t1, &t2, &res, &err), VB_OK);
    assert_ptr_equal(res, &t1);
    vb_prep_chain_free(&c);
    vb_image_free(src);
    free(t1.data);
    free(t2.data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registry),
        cmocka_unit_test(test_grayscale),
        cmocka_unit_test(test_rgb),
        cmocka_unit_test(test_resize),
        cmocka_unit_test(test_crop),
        cmocka_unit_test(test_normalize),
        cmocka_unit_test(test_equalize),
        cmocka_unit_test(test_chain),
        cmocka_unit_test(test_empty_chain),
        cmocka_unit_test(test_chain_scratch_alternates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
