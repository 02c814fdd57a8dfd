/* Synthetic labelled images: shapes and textures with random position,
 * scale, rotation, contrast, noise and clutter. Used by the tests and the
 * examples, so every image depends only on (seed, class, index). */
#include "visbench/data.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const vb_synth_opts vb_synth_defaults = {
    .classes = 4, .per_class = 50, .size = 32, .color = 0, .noise = 0.05, .clutter = 2, .seed = 1,
    .test_per_class = 0,
};

static const char *const class_names[10] = {"circle", "square", "triangle", "cross", "ring",
                                            "star", "stripes", "checker", "dots", "hexagon"};

const char *vb_synth_class_name(int k) { return k >= 0 && k < 10 ? class_names[k] : NULL; }

/* Is local point (u, v) (shape frame, unit radius) inside shape k? */
static int inside(int k, double u, double v)
{
    double r = sqrt(u * u + v * v), au = fabs(u), av = fabs(v);
    switch (k) {
    case 0: return r <= 1.0;
    case 1: return au <= 0.8 && av <= 0.8;
    case 2: return v >= -0.5 && v <= 1.0 - 1.732 * au;
    case 3: return (au <= 0.25 && av <= 1.0) || (av <= 0.25 && au <= 1.0);
    case 4: return r >= 0.6 && r <= 1.0;
    case 5: { /* five-pointed star: radius varies with angle */
        double a = atan2(v, u), t = fmod(a + 10 * M_PI, 2 * M_PI / 5) / (2 * M_PI / 5);
        double edge = 0.45 + 0.55 * fabs(1.0 - 2.0 * t);
        return r <= edge;
    }
    case 6: return au <= 0.9 && av <= 0.9 && sin(v * 3.0 * M_PI) > 0;
    case 7: return au <= 0.9 && av <= 0.9 && ((int)floor(u * 2.5 + 10) + (int)floor(v * 2.5 + 10)) % 2 == 0;
    case 8: { /* 3x3 grid of dots */
        if (au > 1.0 || av > 1.0)
            return 0;
        double cu = u - 0.66 * round(u / 0.66), cv = v - 0.66 * round(v / 0.66);
        return cu * cu + cv * cv <= 0.2 * 0.2;
    }
    case 9: { /* regular hexagon */
        double q = fabs(u), s = fabs(v);
        return s <= 0.866 && 0.866 * q + 0.5 * s <= 0.866;
    }
    }
    return 0;
}

static double clamp01(double x) { return x < 0 ? 0 : x > 1 ? 1 : x; }

vb_status vb_synth_render(const vb_synth_opts *o, int k, vb_rng *rng, vb_image *dst, vb_error *err)
{
    int S = o->size, C = o->color ? 3 : 1;
    vb_status st = vb_image_reshape(dst, S, S, C, err);
    if (st != VB_OK)
        return st;
    double scale = S * (0.22 + 0.16 * vb_rng_uniform(rng));
    double margin = scale * 1.05;
    double cx = margin + vb_rng_uniform(rng) * (S - 2 * margin);
    double cy = margin + vb_rng_uniform(rng) * (S - 2 * margin);
    double ang = vb_rng_uniform(rng) * 2 * M_PI, ca = cos(ang), sa = sin(ang);
    double fg[3], bg[3];
    double fgl = 0.6 + 0.4 * vb_rng_uniform(rng), bgl = 0.3 * vb_rng_uniform(rng);
    for (int c = 0; c < 3; c++) {
        fg[c] = o->color ? clamp01(fgl * (0.4 + 0.6 * vb_rng_uniform(rng))) : fgl;
        bg[c] = o->color ? clamp01(bgl * (0.5 + vb_rng_uniform(rng))) : bgl;
    }
    size_t plane = (size_t)S * (size_t)S;
    /* 3x3 supersampling for anti-aliased edges. */
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++) {
            int hits = 0;
            for (int sy = 0; sy < 3; sy++)
                for (int sx = 0; sx < 3; sx++) {
                    double px = x + (sx + 0.5) / 3.0 - cx, py = y + (sy + 0.5) / 3.0 - cy;
                    double u = (ca * px + sa * py) / scale, v = (-sa * px + ca * py) / scale;
                    hits += inside(k, u, -v);
                }
            double a = hits / 9.0;
            for (int c = 0; c < C; c++)
                dst->data[(size_t)c * plane + (size_t)y * S + x] = (float)(a * fg[c] + (1 - a) * bg[c]);
        }
    /* Clutter: short random strokes. */
    for (int i = 0; i < o->clutter; i++) {
        double x0 = vb_rng_uniform(rng) * S, y0 = vb_rng_uniform(rng) * S;
        double dir = vb_rng_uniform(rng) * 2 * M_PI, len = S * (0.1 + 0.2 * vb_rng_uniform(rng));
        double val = 0.2 + 0.6 * vb_rng_uniform(rng);
        int steps = (int)(len * 2) + 1;
        for (int s = 0; s <= steps; s++) {
            int x = (int)(x0 + cos(dir) * len * s / steps), y = (int)(y0 + sin(dir) * len * s / steps);
            if (x < 0 || y < 0 || x >= S || y >= S)
                continue;
            for (int c = 0; c < C; c++)
                dst->data[(size_t)c * plane + (size_t)y * S + x] = (float)val;
        }
    }
    if (o->noise > 0)
        for (size_t i = 0; i < plane * (size_t)C; i++)
            dst->data[i] = (float)clamp01(dst->data[i] + vb_rng_gauss(rng, o->noise));
    return VB_OK;
}

static vb_status write_part(const vb_synth_opts *o, const char *dir, int per_class, uint64_t salt, vb_error *err)
{
    vb_status st = VB_OK;
    for (int k = 0; k < o->classes && st == VB_OK; k++) {
        char *cdir = vb_asprintf("%s/%s", dir, class_names[k]);
        if (!cdir)
            return vb_fail(err, VB_ERR_NOMEM, "out of memory");
        st = vb_mkdirs(cdir, err);
        int failed = 0;
        vb_error first = {0};
        if (st == VB_OK) {
#pragma omp parallel for schedule(dynamic, 8)
            for (int i = 0; i < per_class; i++) {
                vb_error e = {0};
                vb_rng *rng = vb_rng_new(vb_seed_derive(o->seed, "synth", salt + (uint64_t)k * 1000003u + (uint64_t)i));
                vb_image img = {0};
                char *path = vb_asprintf("%s/%s_%04d.png", cdir, class_names[k], i);
                vb_status s = !rng || !path ? vb_fail(&e, VB_ERR_NOMEM, "out of memory")
                                            : vb_synth_render(o, k, rng, &img, &e);
                if (s == VB_OK)
                    s = vb_image_save_png(&img, path, &e);
                if (s != VB_OK) {
#pragma omp critical(vb_synth_err)
                    if (!failed) {
                        failed = 1;
                        first = e;
                    }
                }
                free(path);
                free(img.data);
                vb_rng_free(rng);
            }
        }
        if (st == VB_OK && failed) {
            if (err)
                *err = first;
            st = first.status;
        }
        free(cdir);
    }
    return st;
}

vb_status vb_synth_write(const vb_synth_opts *o, const char *dir, vb_error *err)
{
    if (o->classes < 2 || o->classes > 10)
        return vb_fail(err, VB_ERR_PARAM, "synthetic classes must be 2..10, not %d", o->classes);
    if (o->per_class < 1 || o->per_class > 1000000)
        return vb_fail(err, VB_ERR_PARAM, "images per class must be 1..1000000, not %d", o->per_class);
    if (o->size < 8 || o->size > 4096)
        return vb_fail(err, VB_ERR_PARAM, "image size must be 8..4096, not %d", o->size);
    if (!(o->noise >= 0 && o->noise <= 1)) /* NaN too */
        return vb_fail(err, VB_ERR_PARAM, "noise must be 0..1, not %g", o->noise);
    if (o->clutter < 0 || o->clutter > 100)
        return vb_fail(err, VB_ERR_PARAM, "clutter must be 0..100, not %d", o->clutter);
    if (o->test_per_class < 0 || o->test_per_class > 1000000)
        return vb_fail(err, VB_ERR_PARAM, "test images per class must be 0..1000000, not %d", o->test_per_class);
    vb_status st = vb_mkdirs(dir, err);
    if (st != VB_OK)
        return st;
    vb_buf y;
    vb_buf_init(&y);
    vb_buf_printf(&y, "# written by visbench dataset synth (seed %llu)\nname: synth\nformat: folder\n",
                  (unsigned long long)o->seed);
    if (o->test_per_class > 0) {
        char *tr = vb_asprintf("%s/train", dir), *te = vb_asprintf("%s/test", dir);
        st = tr && te ? VB_OK : vb_fail(err, VB_ERR_NOMEM, "out of memory");
        if (st == VB_OK)
            st = write_part(o, tr, o->per_class, 0, err);
        if (st == VB_OK)
            st = write_part(o, te, o->test_per_class, 1ull << 40, err);
        free(tr);
        free(te);
        vb_buf_puts(&y, "train: train\ntest: test\n");
    } else {
        st = write_part(o, dir, o->per_class, 0, err);
        vb_buf_puts(&y, "path: .\n");
    }
    if (st == VB_OK) {
        char *desc = vb_asprintf("%s/dataset.yaml", dir);
        st = desc && !y.failed ? vb_file_write_atomic(desc, y.data, y.len, err)
                               : vb_fail(err, VB_ERR_NOMEM, "out of memory");
        free(desc);
    }
    vb_buf_free(&y);
    return st;
}
