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
    assert_int_equal(n, 9);
    const char *names[9] = {"grayscale", "rgb", "resize", "crop", "normalize", "equalize", "blur", "sharpen",
                            "denoise"};
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(all[i]->info.name, names[i]);
        assert_ptr_equal(vb_prep_find(names[i]), all[i]);
        assert_non_null(all[i]->info.help);
        assert_non_null(all[i]->shape);
        assert_non_null(all[i]->apply);
    }
    assert_null(vb_prep_find("blurr"));
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

/* ---- blur, sharpen, denoise --------------------------------------------- */

/* The shape error of op `name` with parameters yaml on a w x h grey image. */
static void expect_shape_error(const char *name, const char *yaml, const char *needle)
{
    vb_params p;
    vb_error err = {0};
    params(&p, name, yaml);
    vb_shape in = {8, 8, 1}, out;
    tu_assert_fails_with(op(name)->shape(&p, in, &out, &err), err, needle);
    vb_params_free(&p);
}

/* The taps of a Gaussian of width sigma, from their definition. */
static void gauss_taps(double sigma, int r, double *g)
{
    double sum = 0;
    for (int t = -r; t <= r; t++)
        sum += exp(-t * t / (2 * sigma * sigma));
    for (int t = -r; t <= r; t++)
        g[t + r] = exp(-t * t / (2 * sigma * sigma)) / sum;
}

static void test_blur(void **state)
{
    /* an impulse far from the borders: its blur is the normalised kernel,
     * g(dx) g(dy), radius ceil(3 sigma) = 3, and 0 beyond it */
    vb_image *imp = image(11, 11, 1, NULL), out = {0};
    imp->data[5 * 11 + 5] = 1;
    double g[7];
    gauss_taps(1, 3, g);
    apply("blur", "{sigma: 1}", imp, &out);
    for (int y = 0; y < 11; y++)
        for (int x = 0; x < 11; x++) {
            int dx = x - 5, dy = y - 5;
            double want = abs(dx) <= 3 && abs(dy) <= 3 ? g[dx + 3] * g[dy + 3] : 0;
            assert_float_equal(px(&out, x, y, 0), want, 1e-7);
        }
    /* blur: 0.5 (the primary parameter), radius 2; each channel on its own */
    vb_image *two = image(9, 9, 3, NULL);
    two->data[4 * 9 + 4] = 1;           /* red: an impulse */
    two->data[2 * 81 + 4 * 9 + 4] = 0.5f; /* blue: half of one */
    double h[5];
    gauss_taps(0.5, 2, h);
    apply("blur", "0.5", two, &out);
    assert_int_equal(out.c, 3);
    for (int y = 0; y < 9; y++)
        for (int x = 0; x < 9; x++) {
            int dx = x - 4, dy = y - 4;
            double want = abs(dx) <= 2 && abs(dy) <= 2 ? h[dx + 2] * h[dy + 2] : 0;
            assert_float_equal(px(&out, x, y, 0), want, 1e-7);
            assert_float_equal(px(&out, x, y, 1), 0, 0);
            assert_float_equal(px(&out, x, y, 2), want / 2, 1e-7);
        }
    /* borders replicated: a constant image stays constant, a step along x
     * stays a function of x alone */
    vb_image *step = image(6, 5, 1, NULL);
    for (int i = 0; i < 30; i++)
        step->data[i] = i % 6 < 3 ? 0.25f : 0.75f;
    apply("blur", "{sigma: 2}", step, &out);
    for (int y = 1; y < 5; y++)
        for (int x = 0; x < 6; x++)
            assert_float_equal(px(&out, x, y, 0), px(&out, x, 0, 0), 1e-7);
    /* the corner: the left half replicated outwards, 7 of the 13 taps see 0.25 */
    double g2[13], left = 0;
    gauss_taps(2, 6, g2);
    for (int t = -6; t <= 2; t++)
        left += g2[t + 6];
    assert_float_equal(px(&out, 0, 0, 0), 0.25 * left + 0.75 * (1 - left), 1e-6);
    assert_shape(shape_of("blur", NULL, 7, 5, 3), 7, 5, 3);
    vb_error err = {0};
    vb_params bad;
    assert_int_not_equal(vb_params_parse_text(&bad, &op("blur")->info, "{sigma: 0}", &err), VB_OK);
    assert_non_null(strstr(err.msg, "blur.sigma = 0 is out of range"));
    vb_image_free(imp);
    vb_image_free(two);
    vb_image_free(step);
    free(out.data);
}

static void test_sharpen(void **state)
{
    /* a constant image has no detail: exactly itself */
    vb_image *flat = image(7, 6, 3, NULL), out = {0};
    for (int i = 0; i < 7 * 6 * 3; i++)
        flat->data[i] = i < 42 ? 0.3f : i < 84 ? 0.6f : 0.9f;
    apply("sharpen", "{amount: 2, sigma: 1.5}", flat, &out);
    assert_memory_equal(out.data, flat->data, sizeof(float) * 7 * 6 * 3);
    /* a bright line on grey: x + amount (x - blur x), the blur across it
     * the 1-D kernel (taps g): on the line 0.6 + 1.5 (0.6 - 0.5 - 0.1 g0),
     * beside it 0.5 - 1.5 (0.1 g1); two far pixels set the range [0, 1] */
    vb_image *line = image(16, 9, 1, NULL);
    for (int y = 0; y < 9; y++)
        for (int x = 0; x < 16; x++)
            line->data[y * 16 + x] = x == 8 ? 0.6f : 0.5f;
    line->data[0] = 0;
    line->data[9 * 16 - 1] = 1;
    double g[7];
    gauss_taps(1, 3, g);
    apply("sharpen", "1.5", line, &out);
    assert_float_equal(px(&out, 8, 4, 0), 0.6 + 1.5 * (0.1 - 0.1 * g[3]), 1e-6);
    assert_float_equal(px(&out, 7, 4, 0), 0.5 - 1.5 * 0.1 * g[4], 1e-6);
    assert_float_equal(px(&out, 9, 4, 0), 0.5 - 1.5 * 0.1 * g[2], 1e-6);
    assert_float_equal(px(&out, 4, 4, 0), 0.5, 1e-6); /* beyond the kernel's reach */
    /* the overshoot is clamped to the channel's own range */
    vb_image *edge = image(8, 1, 1, NULL);
    for (int x = 0; x < 8; x++)
        edge->data[x] = x < 4 ? 0.2f : 0.7f;
    apply("sharpen", "{amount: 5}", edge, &out);
    for (int x = 0; x < 8; x++) {
        assert_true(out.data[x] >= 0.2f && out.data[x] <= 0.7f);
        if (x == 3 || x == 4) /* either side of the step: pushed apart to the range's ends */
            assert_float_equal(out.data[x], x == 3 ? 0.2 : 0.7, 0);
    }
    vb_image_free(flat);
    vb_image_free(line);
    vb_image_free(edge);
    free(out.data);
}

static void test_denoise_median(void **state)
{
    /* salt on a flat image (one grain in a corner): a 3x3 median removes
     * every grain, the corner's too (its replicated window holds 4 of 9) */
    vb_image *salt = image(7, 6, 1, NULL), out = {0};
    for (int i = 0; i < 42; i++)
        salt->data[i] = 0.4f;
    const int grains[][2] = {{0, 0}, {3, 2}, {6, 1}, {1, 5}, {5, 4}};
    for (int k = 0; k < 5; k++)
        salt->data[grains[k][1] * 7 + grains[k][0]] = 1;
    apply("denoise", "{method: median, size: 3}", salt, &out);
    for (int i = 0; i < 42; i++)
        assert_float_equal(out.data[i], 0.4, 0);
    /* a hand-made 3x3: the centre's window is every value, its median 5;
     * the corner (0, 0) sees 4 x 7, 2 x 3, 2 x 1 and 9: median 7 */
    const float v[9] = {7, 3, 8, 1, 2, 6, 9, 4, 5};
    vb_image *small = image(3, 3, 1, v);
    apply("denoise", "median", small, &out);
    assert_float_equal(px(&out, 1, 1, 0), 5, 0);
    assert_float_equal(px(&out, 0, 0, 0), 3, 0);
    /* a 5x5 window on a 5x5 image of 0..24: the centre's median is 12 */
    vb_image *ramp = image(5, 5, 3, NULL);
    for (int i = 0; i < 75; i++)
        ramp->data[i] = (float)(i % 25) * (i < 25 ? 1 : -1);
    apply("denoise", "{method: median, size: 5}", ramp, &out);
    assert_float_equal(px(&out, 2, 2, 0), 12, 0);
    assert_float_equal(px(&out, 2, 2, 1), -12, 0);
    /* a step edge survives a median */
    vb_image *step = image(8, 4, 1, NULL);
    for (int i = 0; i < 32; i++)
        step->data[i] = i % 8 < 4 ? 0 : 1;
    apply("denoise", "{method: median, size: 3}", step, &out);
    assert_memory_equal(out.data, step->data, 32 * sizeof(float));
    expect_shape_error("denoise", "{method: median, size: 4}",
                       "denoise.size: the median window needs a centre: give an odd size (3 or 5)");
    expect_shape_error("denoise", "{method: gaussian, size: 5}",
                       "denoise.size: applies to method: median only (this is method: gaussian); remove it");
    /* a model's canonical text gives every parameter, the others' at their
     * defaults: that is no error */
    vb_params p, q;
    vb_buf text;
    vb_buf_init(&text);
    params(&p, "denoise", "{method: median, size: 5}");
    vb_params_to_yaml(&p, &text);
    params(&q, "denoise", text.data);
    assert_true(vb_param(&q, "sigma")->given && vb_param_is_default(&q, "sigma"));
    assert_false(vb_param_is_default(&q, "size"));
    assert_shape(shape_of("denoise", text.data, 5, 4, 3), 5, 4, 3);
    vb_buf_free(&text);
    vb_params_free(&p);
    vb_params_free(&q);
    expect_shape_error("denoise", "{method: median, sigma_color: 0.2}",
                       "denoise.sigma_color: applies to method: bilateral only (this is method: median)");
    vb_image_free(salt);
    vb_image_free(small);
    vb_image_free(ramp);
    vb_image_free(step);
    free(out.data);
}

static void test_denoise_bilateral(void **state)
{
    /* a step from 0.2 to 0.8 in a faint fixed pattern of noise (+-0.02) */
    vb_image *img = image(16, 10, 1, NULL), bil = {0}, gau = {0};
    for (int y = 0; y < 10; y++)
        for (int x = 0; x < 16; x++)
            img->data[y * 16 + x] = (x < 8 ? 0.2f : 0.8f) + (((x * 7 + y * 3) % 5) - 2) * 0.01f;
    apply("denoise", "{method: bilateral, sigma_space: 1.5, sigma_color: 0.05}", img, &bil);
    apply("denoise", "{method: gaussian, sigma: 1.5}", img, &gau);
    double var_in = 0, var_out = 0;
    for (int y = 0; y < 10; y++)
        for (int x = 0; x < 16; x++) {
            double base = x < 8 ? 0.2 : 0.8, a = px(img, x, y, 0) - base, b = px(&bil, x, y, 0) - base;
            /* the edge is kept: every pixel stays on its side's level */
            assert_true(fabs(b) <= 0.02 + 1e-6);
            var_in += a * a;
            var_out += b * b;
        }
    /* the flat noise is smoothed */
    assert_true(var_out < 0.25 * var_in);
    /* a Gaussian of the same width blurs the edge: beside it, far off its level */
    assert_true(px(&gau, 7, 5, 0) > 0.35f && px(&gau, 8, 5, 0) < 0.65f);
    /* a huge sigma_color makes every range weight 1: the Gaussian itself */
    vb_image *rnd = noise_image(12, 9, 3, 8);
    apply("denoise", "{method: bilateral, sigma_space: 1.2, sigma_color: 1e6}", rnd, &bil);
    apply("blur", "1.2", rnd, &gau);
    for (int i = 0; i < 12 * 9 * 3; i++)
        assert_float_equal(bil.data[i], gau.data[i], 1e-6);
    expect_shape_error("denoise", "{method: bilateral, sigma: 2}",
                       "denoise.sigma: applies to method: gaussian only (this is method: bilateral)");
    vb_error err = {0};
    vb_params bad;
    assert_int_not_equal(vb_params_parse_text(&bad, &op("denoise")->info, "{method: bilateral, sigma_color: 0}", &err),
                         VB_OK);
    assert_non_null(strstr(err.msg, "denoise.sigma_color = 0 is out of range"));
    assert_int_not_equal(vb_params_parse_text(&bad, &op("denoise")->info, "{method: wiener}", &err), VB_OK);
    assert_non_null(strstr(err.msg, "wiener"));
    vb_image_free(img);
    vb_image_free(rnd);
    free(bil.data);
    free(gau.data);
}

/* ---- CLAHE -------------------------------------------------------------- */

/* An 8-bit pattern as [0, 1] values, the same formula as the script that
 * made the OpenCV results below. */
static vb_image *pattern8(int w, int h)
{
    vb_image *img = image(w, h, 1, NULL);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            img->data[y * w + x] = (float)((x * 37 + y * 91 + (x * y * 13) % 29) % 256) / 255.0f;
    return img;
}

static uint64_t fnv_levels(const vb_image *img, uint64_t *sum)
{
    uint64_t h = 0xcbf29ce484222325ull;
    *sum = 0;
    for (size_t i = 0; i < (size_t)img->w * img->h; i++) {
        long v = lrintf(img->data[i] * 255);
        *sum += (uint64_t)v;
        h = (h ^ (uint64_t)v) * 0x100000001b3ull;
    }
    return h;
}

static void test_clahe(void **state)
{
    vb_image out = {0};
    /* one tile, 4 bins, 8 pixels in bins 0 (six), 1 and 3: clip 2 limits a
     * bin to floor(2 x 8 / 4) = 4, so bin 0 gives 2 of its 6; they go one
     * each to bins 0 and 2 (a stride of 4 / 2): 5, 1, 1, 1. The mapping is
     * round(3 cdf / 8): 5 -> 1.875 -> 2, 6 -> 2, 8 -> 3: levels 2/3, 2/3, 1. */
    const float v[8] = {0, 0, 0, 0, 0, 0, 1.0f / 3, 1};
    vb_image *small = image(4, 2, 1, v);
    apply("equalize", "{method: clahe, bins: 4, tiles: [1, 1], clip: 2}", small, &out);
    const float want[8] = {2.0f / 3, 2.0f / 3, 2.0f / 3, 2.0f / 3, 2.0f / 3, 2.0f / 3, 2.0f / 3, 1};
    for (int i = 0; i < 8; i++)
        assert_float_equal(out.data[i], want[i], 1e-6);
    /* without clipping (clip 100) it is plain equalisation of the cdf 6, 7, 7, 8:
     * round(2.25) = 2, round(2.625) = 3, 3 */
    apply("equalize", "{method: clahe, bins: 4, tiles: 1, clip: 100}", small, &out);
    for (int i = 0; i < 8; i++)
        assert_float_equal(out.data[i], i < 6 ? 2.0 / 3 : 1, 1e-6);

    /* a constant image (level 128): one 16x16 tile clips at 2, the 254
     * spread one each over bins 0..253, so cdf(128) = 128 + 3 and
     * round(255 x 131 / 256) = 130; in 8x8 tiles of 2x2 each tile's limit is
     * 1, its 3 spread to bins 0, 85, 170: cdf(128) = 3, round(255 x 3 / 4) =
     * 191 (OpenCV 4.6 gives both) */
    vb_image *flat = image(16, 16, 1, NULL);
    for (int i = 0; i < 256; i++)
        flat->data[i] = 128.0f / 255;
    apply("equalize", "{method: clahe, tiles: [1, 1]}", flat, &out);
    for (int i = 0; i < 256; i++)
        assert_float_equal(out.data[i], 130.0 / 255, 1e-7);
    apply("equalize", "{method: clahe}", flat, &out);
    for (int i = 0; i < 256; i++)
        assert_float_equal(out.data[i], 191.0 / 255, 1e-7);

    /* OpenCV 4.6 (python3-opencv, cv2.createCLAHE(clipLimit, tileGridSize)
     * .apply on the uint8 pattern), computed once offline: the same levels
     * exactly (tolerance 0: both round the same float blend, unfused); a
     * 13x9 image in a 3x2 grid (padded to 15x10 by mirroring) in full, then
     * sums and FNV-1a hashes of the levels: 32x24 in 8x8 tiles of 4x3, 40x30
     * in 4x4 (30 is no multiple of 4, so both sides are padded, 40 to 44, as
     * OpenCV pads them), 7x5 in 8x8 (tiles of one pixel) */
    static const unsigned char cv13x9[117] = {
        20,  71,  102, 132, 167, 199, 227, 20,  60,  85,  122, 167, 194, 112, 163, 214, 233, 38,  51,  88,
        121, 153, 181, 224, 23,  51,  204, 255, 61,  80,  106, 133, 173, 214, 245, 25,  76,  115, 143, 48,
        90,  131, 152, 191, 236, 252, 52,  92,  106, 148, 204, 223, 119, 184, 215, 242, 26,  80,  107, 143,
        164, 201, 254, 30,  62,  209, 245, 46,  91,  131, 150, 192, 235, 29,  38,  74,  114, 172, 54,  105,
        133, 162, 211, 245, 18,  76,  104, 127, 189, 214, 245, 142, 173, 215, 255, 45,  82,  120, 162, 182,
        223, 255, 38,  84,  235, 20,  61,  112, 125, 189, 205, 244, 39,  62,  107, 133, 153};
    vb_image *pat = pattern8(13, 9);
    apply("equalize", "{method: clahe, tiles: [3, 2], clip: 2}", pat, &out);
    for (int i = 0; i < 117; i++)
        if (lrintf(out.data[i] * 255) != cv13x9[i])
            fail_msg("pixel %d: level %ld, OpenCV %d", i, lrintf(out.data[i] * 255), cv13x9[i]);
    static const struct {
        int w, h;
        const char *yaml;
        uint64_t sum, fnv;
    } cases[] = {
        {32, 24, "{method: clahe}", 104366, 0xfece75af24726e01ull},
        {40, 30, "{method: clahe, tiles: 4, clip: 4}", 157915, 0xabeac7a090e07482ull},
        {7, 5, "{method: clahe}", 7335, 0x0592aa3f14ad9882ull}, /* more tiles than pixels */
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        vb_image *p = pattern8(cases[k].w, cases[k].h);
        apply("equalize", cases[k].yaml, p, &out);
        uint64_t sum, h = fnv_levels(&out, &sum);
        if (sum != cases[k].sum || h != cases[k].fnv)
            fail_msg("%dx%d %s: sum %llu, hash %016llx; OpenCV %llu, %016llx", cases[k].w, cases[k].h,
                     cases[k].yaml, (unsigned long long)sum, (unsigned long long)h,
                     (unsigned long long)cases[k].sum, (unsigned long long)cases[k].fnv);
        vb_image_free(p);
    }
    /* colour: each channel on its own */
    vb_image *rgb = image(13, 9, 3, NULL);
    for (int c = 0; c < 3; c++)
        memcpy(rgb->data + c * 117, pat->data, 117 * sizeof(float));
    apply("equalize", "{method: clahe, tiles: [3, 2]}", rgb, &out);
    for (int i = 0; i < 3 * 117; i++)
        assert_int_equal(lrintf(out.data[i] * 255), cv13x9[i % 117]);

    expect_shape_error("equalize", "{tiles: [4, 4]}",
                       "equalize.tiles: applies to method: clahe only (this is method: global); remove it");
    expect_shape_error("equalize", "{method: clahe, tiles: [64, 64], bins: 65536}", "equalize.tiles: 64x64 tiles");
    vb_error err = {0};
    vb_params bad;
    assert_int_not_equal(vb_params_parse_text(&bad, &op("equalize")->info, "{method: clahe, clip: 0}", &err), VB_OK);
    assert_non_null(strstr(err.msg, "equalize.clip = 0 is out of range"));
    assert_int_not_equal(vb_params_parse_text(&bad, &op("equalize")->info, "{method: clahe, tiles: [0, 2]}", &err),
                         VB_OK);
    assert_non_null(strstr(err.msg, "equalize.tiles"));
    vb_image_free(small);
    vb_image_free(flat);
    vb_image_free(pat);
    vb_image_free(rgb);
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
        cmocka_unit_test(test_blur),
        cmocka_unit_test(test_sharpen),
        cmocka_unit_test(test_denoise_median),
        cmocka_unit_test(test_denoise_bilateral),
        cmocka_unit_test(test_clahe),
        cmocka_unit_test(test_chain),
        cmocka_unit_test(test_empty_chain),
        cmocka_unit_test(test_chain_scratch_alternates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
