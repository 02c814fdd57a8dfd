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

/* One shape on the canvas: class, centre, radius in pixels, rotation, colour. */
typedef struct shape {
    int k;
    double cx, cy, scale, ca, sa;
    double fg[3];
} shape;

/* Draws the shapes over the background, then clutter and noise. */
static void paint(const vb_synth_opts *o, const shape *sh, int ns, const double bg[3], vb_rng *rng, vb_image *dst)
{
    int S = o->size, C = o->color ? 3 : 1;
    size_t plane = (size_t)S * (size_t)S;
    /* 3x3 supersampling for anti-aliased edges. */
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++) {
            double a[3] = {0};
            for (int j = 0; j < ns; j++) {
                int hits = 0;
                for (int sy = 0; sy < 3; sy++)
                    for (int sx = 0; sx < 3; sx++) {
                        double px = x + (sx + 0.5) / 3.0 - sh[j].cx, py = y + (sy + 0.5) / 3.0 - sh[j].cy;
                        double u = (sh[j].ca * px + sh[j].sa * py) / sh[j].scale;
                        double v = (-sh[j].sa * px + sh[j].ca * py) / sh[j].scale;
                        hits += inside(sh[j].k, u, -v);
                    }
                a[j] = hits / 9.0;
            }
            for (int c = 0; c < C; c++) {
                double v = bg[c];
                for (int j = 0; j < ns; j++)
                    v = a[j] * sh[j].fg[c] + (1 - a[j]) * v;
                dst->data[(size_t)c * plane + (size_t)y * S + x] = (float)v;
            }
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
}

vb_status vb_synth_render(const vb_synth_opts *o, int k, vb_rng *rng, vb_image *dst, vb_error *err)
{
    int S = o->size;
    vb_status st = vb_image_reshape(dst, S, S, o->color ? 3 : 1, err);
    if (st != VB_OK)
        return st;
    shape sh = {.k = k, .scale = S * (0.22 + 0.16 * vb_rng_uniform(rng))};
    double margin = sh.scale * 1.05;
    sh.cx = margin + vb_rng_uniform(rng) * (S - 2 * margin);
    sh.cy = margin + vb_rng_uniform(rng) * (S - 2 * margin);
    double ang = vb_rng_uniform(rng) * 2 * M_PI;
    sh.ca = cos(ang);
    sh.sa = sin(ang);
    double bg[3];
    double fgl = 0.6 + 0.4 * vb_rng_uniform(rng), bgl = 0.3 * vb_rng_uniform(rng);
    for (int c = 0; c < 3; c++) {
        sh.fg[c] = o->color ? clamp01(fgl * (0.4 + 0.6 * vb_rng_uniform(rng))) : fgl;
        bg[c] = o->color ? clamp01(bgl * (0.5 + vb_rng_uniform(rng))) : bgl;
    }
    paint(o, &sh, 1, bg, rng, dst);
    return VB_OK;
}

vb_status vb_synth_render_set(const vb_synth_opts *o, int k, vb_rng *rng, vb_image *dst, uint8_t *labels,
                              vb_error *err)
{
    int S = o->size, K = o->classes < 1 ? 1 : o->classes > 10 ? 10 : o->classes;
    vb_status st = vb_image_reshape(dst, S, S, o->color ? 3 : 1, err);
    if (st != VB_OK)
        return st;
    memset(labels, 0, (size_t)K);
    int perm[10];
    for (int j = 0; j < K; j++)
        perm[j] = j;
    int want = k < 0 && vb_rng_uniform(rng) < 0.05 ? 0 : 1 + (int)vb_rng_below(rng, (size_t)(K < 3 ? K : 3));
    if (k >= 0 && k < K) {
        perm[k] = 0;
        perm[0] = k;
    }
    /* distinct shapes: a partial shuffle (shape k first when given) */
    for (int j = k >= 0 ? 1 : 0; j < want; j++) {
        int r = j + (int)vb_rng_below(rng, (size_t)(K - j)), t = perm[j];
        perm[j] = perm[r];
        perm[r] = t;
    }
    shape sh[3];
    int ns = 0;
    for (int j = 0; j < want; j++) {
        shape s = {.k = perm[j], .scale = S * (0.12 + 0.06 * vb_rng_uniform(rng))};
        /* within the canvas and clear of the shapes so far: their corners reach 1.3 radii */
        double margin = s.scale * 1.3;
        int placed = 0;
        for (int t = 0; t < 100 && !placed; t++) {
            if (t && t % 20 == 0) { /* crowded: a smaller shape */
                s.scale *= 0.85;
                margin = s.scale * 1.3;
            }
            s.cx = margin + vb_rng_uniform(rng) * (S - 2 * margin);
            s.cy = margin + vb_rng_uniform(rng) * (S - 2 * margin);
            placed = 1;
            for (int i = 0; i < ns && placed; i++)
                placed = hypot(s.cx - sh[i].cx, s.cy - sh[i].cy) >= 1.3 * (s.scale + sh[i].scale) + 1;
        }
        if (!placed)
            continue; /* the canvas is full: one shape fewer */
        double ang = vb_rng_uniform(rng) * 2 * M_PI, fgl = 0.6 + 0.4 * vb_rng_uniform(rng);
        s.ca = cos(ang);
        s.sa = sin(ang);
        for (int c = 0; c < 3; c++)
            s.fg[c] = o->color ? clamp01(fgl * (0.4 + 0.6 * vb_rng_uniform(rng))) : fgl;
        sh[ns++] = s;
        labels[s.k] = 1;
    }
    double bg[3], bgl = 0.3 * vb_rng_uniform(rng);
    for (int c = 0; c < 3; c++)
        bg[c] = o->color ? clamp01(bgl * (0.5 + vb_rng_uniform(rng))) : bgl;
    paint(o, sh, ns, bg, rng, dst);
    return VB_OK;
}

/* Renders and saves images 0 .. n-1 in parallel: one(ctx, i, e) does image
 * i. The error reported is the failure of the lowest image, whatever the
 * thread timing. */
static vb_status save_all(size_t n, vb_status (*one)(const void *ctx, size_t i, vb_error *e), const void *ctx,
                          vb_error *err)
{
    size_t first = n;
    vb_error fe = {0};
#pragma omp parallel for schedule(dynamic, 8)
    for (size_t i = 0; i < n; i++) {
        vb_error e = {0};
        vb_status s = one(ctx, i, &e);
        if (s != VB_OK) {
#pragma omp critical(vb_synth_err)
            if (i < first) {
                first = i;
                fe = e;
                fe.status = s;
            }
        }
    }
    if (first == n)
        return VB_OK;
    if (err)
        *err = fe;
    return fe.status;
}

/* Shape families of a hierarchical synth (dataset synth --hierarchy). */
static const char *family_of(int k)
{
    static const char *const fam[10] = {"round",   "angular", "angular", "angular", "round",
                                        "angular", "texture", "texture", "round",   "round"};
    return fam[k];
}

/* Saves a rendered image (when st is VB_OK) and frees what made it. */
static vb_status save_image(vb_status st, vb_image *img, char *path, vb_rng *rng, vb_error *e)
{
    if (st == VB_OK)
        st = vb_image_save_png(img, path, e);
    free(path);
    free(img->data);
    vb_rng_free(rng);
    return st;
}

typedef struct class_job {
    const vb_synth_opts *o;
    const char *cdir;
    int k;
    uint64_t salt;
} class_job;

static vb_status class_image(const void *ctx, size_t i, vb_error *e)
{
    const class_job *j = ctx;
    vb_rng *rng = vb_rng_new(vb_seed_derive(j->o->seed, "synth", j->salt + (uint64_t)j->k * 1000003u + i));
    vb_image img = {0};
    char *path = vb_asprintf("%s/%s_%04zu.png", j->cdir, class_names[j->k], i);
    vb_status s = !rng || !path ? vb_fail(e, VB_ERR_NOMEM, "out of memory") : vb_synth_render(j->o, j->k, rng, &img, e);
    return save_image(s, &img, path, rng, e);
}

static vb_status write_part(const vb_synth_opts *o, const char *dir, int per_class, uint64_t salt, vb_error *err)
{
    vb_status st = VB_OK;
    for (int k = 0; k < o->classes && st == VB_OK; k++) {
        char *cdir = o->hierarchy ? vb_asprintf("%s/%s/%s", dir, family_of(k), class_names[k])
                                  : vb_asprintf("%s/%s", dir, class_names[k]);
        if (!cdir)
            return vb_fail(err, VB_ERR_NOMEM, "out of memory");
        st = vb_mkdirs(cdir, err);
        class_job job = {o, cdir, k, salt};
        if (st == VB_OK)
            st = save_all((size_t)per_class, class_image, &job, err);
        free(cdir);
    }
    return st;
}

typedef struct set_job {
    const vb_synth_opts *o;
    const char *dir;
    size_t n_train; /* images 0 .. n_train-1 are the training part, the rest the test part */
    uint8_t *Y;     /* label sets, classes bytes per image */
} set_job;

static vb_status set_image(const void *ctx, size_t i, vb_error *e)
{
    const set_job *j = ctx;
    int test = i >= j->n_train;
    size_t idx = test ? i - j->n_train : i;
    vb_rng *rng = vb_rng_new(vb_seed_derive(j->o->seed, "synth-multilabel", (test ? 1ull << 40 : 0) + idx));
    vb_image img = {0};
    char *path = vb_asprintf("%s/images/%06zu.png", j->dir, i);
    /* the first images of each part hold shape 0, 1, ...: every label is used */
    int k = idx < (size_t)j->o->classes ? (int)idx : -1;
    vb_status s = !rng || !path ? vb_fail(e, VB_ERR_NOMEM, "out of memory")
                                : vb_synth_render_set(j->o, k, rng, &img, j->Y + i * (size_t)j->o->classes, e);
    return save_image(s, &img, path, rng, e);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* --multilabel: DIR/images/NNNNNN.png and a CSV manifest of label sets per part. */
static vb_status write_sets(const vb_synth_opts *o, const char *dir, vb_buf *y, vb_error *err)
{
    size_t K = (size_t)o->classes, n_train = K * (size_t)o->per_class, n = n_train + K * (size_t)o->test_per_class;
    char *img_dir = vb_asprintf("%s/images", dir);
    uint8_t *Y = vb_calloc(n, K, err);
    vb_status st = !Y ? VB_ERR_NOMEM : img_dir ? vb_mkdirs(img_dir, err) : vb_fail(err, VB_ERR_NOMEM, "out of memory");
    set_job job = {o, dir, n_train, Y};
    if (st == VB_OK)
        st = save_all(n, set_image, &job, err);
    vb_buf man[2];
    vb_buf_init(&man[0]);
    vb_buf_init(&man[1]);
    for (int p = 0; p < 2; p++)
        vb_buf_puts(&man[p], "path,labels\n");
    for (size_t i = 0; st == VB_OK && i < n; i++) {
        vb_buf *b = &man[i >= n_train];
        vb_buf_printf(b, "images/%06zu.png,", i);
        for (size_t k = 0, m = 0; k < K; k++)
            if (Y[i * K + k])
                vb_buf_printf(b, "%s%s", m++ ? ";" : "", class_names[k]);
        vb_buf_puts(b, "\n");
    }
    const char *sorted[10];
    for (size_t k = 0; k < K; k++)
        sorted[k] = class_names[k];
    qsort(sorted, K, sizeof *sorted, cmp_str);
    vb_buf_puts(y, "format: csv\nmultilabel: true\n");
    vb_buf_puts(y, o->test_per_class > 0 ? "train: train.csv\ntest: test.csv\n" : "path: labels.csv\n");
    vb_buf_puts(y, "classes: [");
    for (size_t k = 0; k < K; k++)
        vb_buf_printf(y, "%s%s", k ? ", " : "", sorted[k]);
    vb_buf_puts(y, "]\n");
    const char *names[2] = {o->test_per_class > 0 ? "train.csv" : "labels.csv", "test.csv"};
    for (int f = 0; st == VB_OK && f < 1 + (o->test_per_class > 0); f++) {
        char *path = vb_path_join(dir, names[f]);
        st = path && !man[f].failed ? vb_file_write_atomic(path, man[f].data, man[f].len, err)
                                    : vb_fail(err, VB_ERR_NOMEM, "out of memory");
        free(path);
    }
    vb_buf_free(&man[0]);
    vb_buf_free(&man[1]);
    free(Y);
    free(img_dir);
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
    if (o->multilabel && o->hierarchy)
        return vb_fail(err, VB_ERR_PARAM, "synthetic data is multilabel or hierarchical, not both");
    vb_status st = vb_mkdirs(dir, err);
    if (st != VB_OK)
        return st;
    vb_buf y;
    vb_buf_init(&y);
    vb_buf_printf(&y, "# written by visbench dataset synth (seed %llu)\nname: synth\n", (unsigned long long)o->seed);
    if (o->multilabel)
        st = write_sets(o, dir, &y, err);
    else if (o->test_per_class > 0) {
        char *tr = vb_asprintf("%s/train", dir), *te = vb_asprintf("%s/test", dir);
        st = tr && te ? VB_OK : vb_fail(err, VB_ERR_NOMEM, "out of memory");
        if (st == VB_OK)
            st = write_part(o, tr, o->per_class, 0, err);
        if (st == VB_OK)
            st = write_part(o, te, o->test_per_class, 1ull << 40, err);
        free(tr);
        free(te);
        vb_buf_puts(&y, "format: folder\ntrain: train\ntest: test\n");
    } else {
        st = write_part(o, dir, o->per_class, 0, err);
        vb_buf_puts(&y, "format: folder\npath: .\n");
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
