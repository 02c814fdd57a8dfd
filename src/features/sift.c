/* sift: SIFT descriptors encoded against a vocabulary learned on the
 * training images, or the dense descriptors themselves.
 *
 * Descriptors: dense SIFT at several bin sizes as VLFeat's PHOW does --
 * before each bin size the image is smoothed with sigma = bin / magnif, the
 * grids of the different sizes share their centres (offset
 * floor(1.5 (max bin - bin))), and frames whose gradient mass is below
 * `contrast` are zeroed (or dropped) -- or keypoint SIFT (vl_sift: DoG
 * detector with peak and edge thresholds, up to four orientations per
 * keypoint). Dense SIFT with the flat window (PHOW's, the default) is ours
 * (dsift.c: the same values as vl_dsift, bit for bit, without its per-pixel
 * scalar passes); with the Gaussian window it is vl_dsift.
 *
 * Encoding (internal.h, encode.c): bag of visual words, VLAD or Fisher
 * vectors, per cell of a spatial pyramid. fit() samples at most
 * max_descriptors descriptors from the training images (the same number
 * from each image where it has them; seeded per image, so the sample does
 * not depend on the thread count) and learns the codebook / GMM. With
 * `encoding: none` the output is the dense descriptors (nothing to fit). */
#include "dsift.h"
#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <vl/dsift.h>
#include <vl/imopv.h>
#include <vl/kmeans.h>
#include <vl/sift.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#define SIFT_D 128
#define SIFT_MAX_SCALES 8

static const vb_param_def sift_params[] = {
    {.name = "mode", .type = VB_PT_ENUM, .def = "dense", .choices = "dense|keypoints",
     .help = "dense: vl_dsift on a grid at every bin size; keypoints: vl_sift DoG keypoints"},
    {.name = "step", .type = VB_PT_INT, .def = "2", .min = 1, .max = 64, .flags = VB_PF_GRID,
     .help = "dense: grid step in pixels"},
    {.name = "bin", .type = VB_PT_INTS, .def = "[4, 6, 8]", .min = 1, .max = 64, .min_len = 1,
     .max_len = SIFT_MAX_SCALES, .help = "dense: spatial bin sizes in pixels (one scale each; a descriptor spans 4x4 bins)"},
    {.name = "magnif", .type = VB_PT_FLOAT, .def = "6", .min = 0, .max = 100,
     .help = "dense: smooth with sigma = bin / magnif before each scale (PHOW); 0 = no smoothing"},
    {.name = "flat_window", .type = VB_PT_BOOL, .def = "true",
     .help = "dense: flat spatial window (vl_dsift_set_flat_window, PHOW's fast mode) instead of a Gaussian"},
    {.name = "window_size", .type = VB_PT_FLOAT, .def = "1.5", .min = 0, .max = 100, .flags = VB_PF_MIN_OPEN,
     .help = "dense: size of the Gaussian window in bins"},
    {.name = "contrast", .type = VB_PT_FLOAT, .def = "0.005", .min = 0, .max = 100,
     .help = "dense: frames whose gradient mass (vl_dsift's norm) is below this are low-contrast; 0 = none"},
    {.name = "low_contrast", .type = VB_PT_ENUM, .def = "zero", .choices = "zero|drop",
     .help = "dense: zero low-contrast descriptors (PHOW; they still count, as 'flat' words) or drop them"},
    {.name = "root", .type = VB_PT_BOOL, .def = "false",
     .help = "RootSIFT: l1-normalise each descriptor and take square roots (Arandjelovic and Zisserman 2012)"},
    {.name = "peak_thresh", .type = VB_PT_FLOAT, .def = "0", .min = 0, .max = 1,
     .help = "keypoints: minimum |DoG| of a keypoint (images in [0, 1])"},
    {.name = "edge_thresh", .type = VB_PT_FLOAT, .def = "10", .min = 1, .max = 1000,
     .help = "keypoints: maximum edge ratio (larger keeps more edge-like keypoints)"},
    {.name = "first_octave", .type = VB_PT_INT, .def = "-1", .min = -2, .max = 8,
     .help = "keypoints: first octave (-1 doubles the image first, as Lowe does)"},
    {.name = "octaves", .type = VB_PT_INT, .def = "0", .min = 0, .max = 16,
     .help = "keypoints: octaves (0 = as many as the image allows)"},
    {.name = "levels", .type = VB_PT_INT, .def = "3", .min = 1, .max = 10, .help = "keypoints: levels per octave"},
    {.name = "encoding", .type = VB_PT_ENUM, .def = "bovw", .choices = "bovw|vlad|fisher|none",
     .help = "bag of visual words, VLAD (vl_vlad_encode), Fisher vectors (vl_gmm + vl_fisher_encode), or none: "
             "the dense descriptors themselves (the encoding parameters below are then unused)"},
    {.name = "words", .type = VB_PT_INT, .def = "256", .min = 1, .max = 65536, .flags = VB_PF_GRID,
     .help = "codebook size (k-means), or Gaussian components for fisher"},
    {.name = "assign", .type = VB_PT_ENUM, .def = "hard", .choices = "hard|soft",
     .help = "bovw/vlad: nearest word, or Gaussian kernel-codebook weights over the knn nearest words"},
    {.name = "sigma", .type = VB_PT_FLOAT, .def = "auto", .choices = "auto", .min = 0, .max = 1e6,
     .flags = VB_PF_MIN_OPEN | VB_PF_GRID,
     .help = "soft: kernel width (auto: RMS distance of the training descriptors to their nearest word)"},
    {.name = "knn", .type = VB_PT_INT, .def = "0", .min = 0, .max = 65536,
     .help = "soft: share each descriptor among its knn nearest words (0 = all words)"},
    {.name = "sqrt", .type = VB_PT_BOOL, .def = "true",
     .help = "signed square root of each cell's encoding (Hellinger for bovw; improved Fisher vectors)"},
    {.name = "norm", .type = VB_PT_ENUM, .def = "l2", .choices = "l2|l1|intra|mass|none",
     .help = "per cell, then over the pyramid: l2 (all), l1 (bovw), intra / mass (vlad), none"},
    {.name = "pyramid", .type = VB_PT_INTS, .def = "[1, 2]", .min = 1, .max = 64, .min_len = 1, .max_len = 8,
     .help = "spatial pyramid: grid sides; [1, 2, 4] pools over 1 + 4 + 16 cells"},
    {.name = "descriptor_pca", .type = VB_PT_INT, .def = "0", .min = 0, .max = SIFT_D,
     .help = "project descriptors on this many principal components (fitted on train) before encoding; 0 = off"},
    {.name = "kmeans", .type = VB_PT_ENUM, .def = "elkan", .choices = "elkan|lloyd|ann",
     .help = "VLFeat k-means algorithm (k-means++ initialisation)"},
    {.name = "iterations", .type = VB_PT_INT, .def = "50", .min = 1, .max = 10000, .help = "k-means iterations (max)"},
    {.name = "gmm_iterations", .type = VB_PT_INT, .def = "50", .min = 1, .max = 10000,
     .help = "fisher: EM iterations (max)"},
    {.name = "max_descriptors", .type = VB_PT_INT, .def = "100000", .min = 1, .max = 1e8,
     .help = "fit: descriptors sampled from the training images (seeded)"},
};

typedef struct sift_state {
    vb_shape in;
    int dense;
    int step, n_scales, bins[SIFT_MAX_SCALES], offs[SIFT_MAX_SCALES];
    size_t frames[SIFT_MAX_SCALES], total_frames;
    double magnif, window_size, contrast;
    int drop, flat, root;
    double peak, edge;
    int first_octave, octaves, levels;
    size_t max_desc;
    vbf_enc *enc;                      /* NULL: encoding none */
    vbf_dsift *plan[SIFT_MAX_SCALES];  /* flat window: our dense SIFT */
    float *fpos[SIFT_MAX_SCALES];      /* flat window: frame centres, frames x 2, scaled to [0, 1) */
} sift_state;

typedef struct sift_scratch {
    VlDsiftFilter *dsift[SIFT_MAX_SCALES];
    vbf_dsift_scratch *ds[SIFT_MAX_SCALES];
    VlSiftFilt *sift;
    float *grey, *smooth;
    float *desc, *pos; /* cap x 128, cap x 2 */
    float *mass;       /* the largest scale's frames */
    size_t cap;
    vbf_enc_scratch *enc;
} sift_scratch;

static void sift_scratch_free(void *scratch)
{
    sift_scratch *sc = scratch;
    if (!sc)
        return;
    for (int i = 0; i < SIFT_MAX_SCALES; i++) {
        if (sc->dsift[i])
            vl_dsift_delete(sc->dsift[i]);
        vbf_dsift_scratch_free(sc->ds[i]);
    }
    if (sc->sift)
        vl_sift_delete(sc->sift);
    free(sc->grey);
    free(sc->smooth);
    free(sc->desc);
    free(sc->pos);
    free(sc->mass);
    vbf_enc_scratch_free(sc->enc);
    free(sc);
}

/* One dense-SIFT filter for scale i, with PHOW's geometry. */
static VlDsiftFilter *dsift_new(const sift_state *s, int i)
{
    VlDsiftFilter *f = vl_dsift_new_basic(s->in.w, s->in.h, s->step, s->bins[i]);
    if (!f)
        return NULL;
    vl_dsift_set_flat_window(f, s->flat ? VL_TRUE : VL_FALSE);
    vl_dsift_set_window_size(f, s->window_size);
    vl_dsift_set_bounds(f, s->offs[i], s->offs[i], s->in.w - 1, s->in.h - 1);
    return f;
}

static size_t grow_cap(size_t cap, size_t need)
{
    if (!cap)
        cap = 256;
    while (cap < need)
        cap *= 2;
    return cap;
}

static int ensure(sift_scratch *sc, size_t need)
{
    if (need <= sc->cap)
        return 1;
    size_t cap = grow_cap(sc->cap, need);
    if (cap > ((size_t)1 << 26))
        return 0;
    float *d = realloc(sc->desc, cap * SIFT_D * sizeof *d);
    if (!d)
        return 0;
    sc->desc = d;
    float *p = realloc(sc->pos, cap * 2 * sizeof *p);
    if (!p)
        return 0;
    sc->pos = p;
    sc->cap = cap;
    return 1;
}

static void *sift_scratch_new(const void *state)
{
    const sift_state *s = state;
    sift_scratch *sc = calloc(1, sizeof *sc);
    if (!sc)
        return NULL;
    size_t px = (size_t)s->in.w * (size_t)s->in.h;
    int ok = (sc->grey = malloc(px * sizeof(float))) && (sc->smooth = malloc(px * sizeof(float))) &&
             (!s->enc || (sc->enc = vbf_enc_scratch_new(s->enc)));
    if (ok && s->dense) {
        size_t most = 1;
        for (int i = 0; ok && i < s->n_scales; i++) {
            if (s->plan[i])
                ok = (sc->ds[i] = vbf_dsift_scratch_new(s->plan[i])) != NULL;
            else
                ok = (sc->dsift[i] = dsift_new(s, i)) != NULL;
            most = s->frames[i] > most ? s->frames[i] : most;
        }
        ok = ok && ensure(sc, s->total_frames ? s->total_frames : 1) && (sc->mass = malloc(most * sizeof(float)));
    } else if (ok) {
        sc->sift = vl_sift_new(s->in.w, s->in.h, s->octaves ? s->octaves : -1, s->levels, s->first_octave);
        ok = sc->sift != NULL;
        if (ok) {
            vl_sift_set_peak_thresh(sc->sift, s->peak);
            vl_sift_set_edge_thresh(sc->sift, s->edge);
        }
    }
    if (!ok) {
        sift_scratch_free(sc);
        return NULL;
    }
    return sc;
}

static void sift_destroy(void *state)
{
    sift_state *s = state;
    if (!s)
        return;
    vbf_enc_free(s->enc);
    for (int i = 0; i < SIFT_MAX_SCALES; i++) {
        vbf_dsift_free(s->plan[i]);
        free(s->fpos[i]);
    }
    free(s);
}

static vb_status enc_conf_from(const vb_params *p, vbf_enc_conf *c, vb_error *err)
{
    memset(c, 0, sizeof *c);
    c->kind = vb_param_is(p, "encoding", "vlad") ? VBF_ENC_VLAD
              : vb_param_is(p, "encoding", "fisher") ? VBF_ENC_FISHER
                                                      : VBF_ENC_BOVW;
    c->words = (size_t)vb_param_int(p, "words");
    c->d_in = SIFT_D;
    c->d_pca = (size_t)vb_param_int(p, "descriptor_pca");
    c->soft = vb_param_is(p, "assign", "soft");
    c->knn = (size_t)vb_param_int(p, "knn");
    c->sigma = vb_param(p, "sigma")->word ? 0 : vb_param_float(p, "sigma");
    c->sqrt = vb_param_bool(p, "sqrt");
    const char *nm = vb_param_str(p, "norm");
    c->norm = !strcmp(nm, "l1")      ? VBF_NORM_L1
              : !strcmp(nm, "intra") ? VBF_NORM_INTRA
              : !strcmp(nm, "mass")  ? VBF_NORM_MASS
              : !strcmp(nm, "none")  ? VBF_NORM_NONE
                                     : VBF_NORM_L2;
    c->kmeans_algorithm = vb_param_is(p, "kmeans", "lloyd") ? VlKMeansLloyd
                          : vb_param_is(p, "kmeans", "ann") ? VlKMeansANN
                                                            : VlKMeansElkan;
    c->kmeans_iters = (int)vb_param_int(p, "iterations");
    c->gmm_iters = (int)vb_param_int(p, "gmm_iterations");
    size_t n;
    const double *g = vb_param_list(p, "pyramid", &n);
    c->n_levels = n;
    for (size_t i = 0; i < n && i < VBF_MAX_LEVELS; i++)
        c->grid[i] = (size_t)g[i];
    /* messages about combinations point at the parameter that decides */
    if (c->kind == VBF_ENC_FISHER && c->soft)
        return vb_param_fail(p, "assign", err, "sift: fisher vectors use the GMM posteriors; assign is for bovw and vlad");
    if ((c->kind == VBF_ENC_BOVW && (c->norm == VBF_NORM_INTRA || c->norm == VBF_NORM_MASS)) ||
        (c->kind == VBF_ENC_VLAD && c->norm == VBF_NORM_L1) ||
        (c->kind == VBF_ENC_FISHER && c->norm != VBF_NORM_L2 && c->norm != VBF_NORM_NONE))
        return vb_param_fail(p, "norm", err, "sift: norm %s does not apply to %s (bovw: l1|l2|none, vlad: "
                             "l2|intra|mass|none, fisher: l2|none)", nm, vb_param_str(p, "encoding"));
    if (c->d_pca && c->d_pca > SIFT_D)
        return vb_param_fail(p, "descriptor_pca", err, "sift: descriptor_pca is at most %d", SIFT_D);
    return VB_OK;
}

static vb_status sift_create(const vb_params *p, vb_shape in, void **state, vb_error *err)
{
    vbf_enc_conf conf;
    int none = vb_param_is(p, "encoding", "none");
    vb_status st = VB_OK;
    if (none) {
        /* the output must have one size for every image */
        if (!vb_param_is(p, "mode", "dense"))
            return vb_param_fail(p, "encoding", err, "sift: encoding none outputs dense descriptors; keypoint counts "
                                 "vary from image to image, so keypoints need an encoding (bovw, vlad or fisher)");
        if (vb_param_is(p, "low_contrast", "drop"))
            return vb_param_fail(p, "low_contrast", err, "sift: with encoding none low-contrast descriptors are "
                                 "zeroed (dropping them would change the output size); use low_contrast: zero");
        if (vb_param_int(p, "descriptor_pca"))
            return vb_param_fail(p, "descriptor_pca", err, "sift: descriptor_pca is fitted for an encoding; with "
                                 "encoding none use a pca post-processing step instead");
    } else if ((st = enc_conf_from(p, &conf, err)) != VB_OK)
        return st;
    if (!none && (size_t)vb_param_int(p, "max_descriptors") < conf.words)
        return vb_param_fail(p, "max_descriptors", err, "sift: max_descriptors (%ld) must be at least words (%zu)",
                             vb_param_int(p, "max_descriptors"), conf.words);
    sift_state *s = vb_calloc(1, sizeof *s, err);
    if (!s)
        return VB_ERR_NOMEM;
    s->in = in;
    s->dense = vb_param_is(p, "mode", "dense");
    s->step = (int)vb_param_int(p, "step");
    s->magnif = vb_param_float(p, "magnif");
    s->flat = vb_param_bool(p, "flat_window");
    s->window_size = vb_param_float(p, "window_size");
    s->contrast = vb_param_float(p, "contrast");
    s->drop = vb_param_is(p, "low_contrast", "drop");
    s->root = vb_param_bool(p, "root");
    s->peak = vb_param_float(p, "peak_thresh");
    s->edge = vb_param_float(p, "edge_thresh");
    s->first_octave = (int)vb_param_int(p, "first_octave");
    s->octaves = (int)vb_param_int(p, "octaves");
    s->levels = (int)vb_param_int(p, "levels");
    s->max_desc = (size_t)vb_param_int(p, "max_descriptors");
    size_t nb;
    const double *bins = vb_param_list(p, "bin", &nb);
    s->n_scales = (int)nb;
    int maxbin = 0;
    for (size_t i = 0; i < nb; i++) {
        s->bins[i] = (int)bins[i];
        if (s->bins[i] > maxbin)
            maxbin = s->bins[i];
    }
    if (s->dense) {
        for (int i = 0; i < s->n_scales; i++) {
            /* PHOW aligns the frame centres of every scale with the largest */
            s->offs[i] = (int)floor(1.5 * (maxbin - s->bins[i]));
            VlDsiftFilter *f = dsift_new(s, i);
            if (!f) {
                sift_destroy(s);
                return vb_fail(err, VB_ERR_NOMEM, "out of memory");
            }
            s->frames[i] = (size_t)vl_dsift_get_keypoint_num(f);
            s->total_frames += s->frames[i];
            vl_dsift_delete(f);
            if (s->flat && s->frames[i]) {
                vbf_dsift_geom g = {.width = in.w, .height = in.h, .step = s->step, .bin = s->bins[i],
                                    .min_x = s->offs[i], .min_y = s->offs[i], .max_x = in.w - 1, .max_y = in.h - 1,
                                    .window_size = s->window_size};
                if ((st = vbf_dsift_new(&g, &s->plan[i], err)) != VB_OK) {
                    sift_destroy(s);
                    return st;
                }
                size_t n = vbf_dsift_frames(s->plan[i]);
                if (n != s->frames[i]) {
                    size_t m = s->frames[i];
                    sift_destroy(s);
                    return vb_fail(err, VB_ERR_INTERNAL, "sift: %zu dense frames, vl_dsift has %zu", n, m);
                }
                if (!(s->fpos[i] = vb_malloc(n, 2 * sizeof(float), err))) {
                    sift_destroy(s);
                    return VB_ERR_NOMEM;
                }
                for (size_t j = 0; j < n; j++) {
                    double x, y;
                    vbf_dsift_frame_center(s->plan[i], j, &x, &y);
                    s->fpos[i][2 * j] = (float)((x + 0.5) / (double)in.w);
                    s->fpos[i][2 * j + 1] = (float)((y + 0.5) / (double)in.h);
                }
            }
        }
        if (s->total_frames == 0) {
            sift_destroy(s);
            return vb_param_fail(p, "bin", err,
                                 "sift: no descriptor fits in %dx%d images with bins up to %d (a descriptor spans "
                                 "3 x bin + 1 pixels); use smaller bins or resize the images up",
                                 in.w, in.h, maxbin);
        }
    } else if (in.w < 8 || in.h < 8) {
        sift_destroy(s);
        return vb_param_fail(p, "mode", err, "sift: keypoints need images of at least 8x8 pixels, not %dx%d", in.w,
                             in.h);
    }
    size_t dim;
    if (none && !vb_mul_ok(s->total_frames, SIFT_D, &dim)) {
        sift_destroy(s);
        return vb_param_fail(p, "step", err, "sift: too many descriptors for encoding none");
    }
    if (!none && (st = vbf_enc_new(&conf, "sift", &s->enc, err)) != VB_OK) {
        sift_destroy(s);
        return st;
    }
    *state = s;
    return VB_OK;
}

static size_t sift_dim(const void *state)
{
    const sift_state *s = state;
    return s->enc ? vbf_enc_dim(s->enc) : s->total_frames * SIFT_D;
}

/* The descriptors of one image into desc (sc->desc, or the output for
 * encoding none) and, for an encoding, their positions into sc->pos; *n
 * receives their count. */
static vb_status describe(const sift_state *s, sift_scratch *sc, const vb_image *img, float *desc, size_t *n,
                          vb_error *err)
{
    *n = 0;
    size_t W = (size_t)s->in.w, H = (size_t)s->in.h, px = W * H;
    const float *grey = img->data;
    if (img->c == 3) {
        const float *r = img->data, *g = r + px, *b = g + px;
        for (size_t i = 0; i < px; i++)
            sc->grey[i] = 0.299f * r[i] + 0.587f * g[i] + 0.114f * b[i];
        grey = sc->grey;
    }
    size_t count = 0;
    if (s->dense) {
        for (int k = 0; k < s->n_scales; k++) {
            if (!s->frames[k])
                continue;
            const float *im = grey;
            if (s->magnif > 0) {
                double sigma = s->bins[k] / s->magnif;
                vl_imsmooth_f(sc->smooth, W, grey, W, H, W, sigma, sigma);
                im = sc->smooth;
            }
            if (s->plan[k]) {
                float *o = desc + count * SIFT_D;
                vbf_dsift_process(s->plan[k], sc->ds[k], im, o, sc->mass);
                const float *fp = s->fpos[k];
                for (size_t i = 0; i < s->frames[k]; i++) {
                    int low = s->contrast > 0 && sc->mass[i] < s->contrast;
                    if (low && s->drop)
                        continue;
                    float *dst = desc + count * SIFT_D;
                    if (low)
                        memset(dst, 0, SIFT_D * sizeof *dst);
                    else if (dst != o + i * SIFT_D)
                        memmove(dst, o + i * SIFT_D, SIFT_D * sizeof *dst);
                    if (s->enc) {
                        sc->pos[2 * count] = fp[2 * i];
                        sc->pos[2 * count + 1] = fp[2 * i + 1];
                    }
                    count++;
                }
                continue;
            }
            VlDsiftFilter *f = sc->dsift[k];
            vl_dsift_process(f, im);
            const float *d = vl_dsift_get_descriptors(f);
            const VlDsiftKeypoint *kp = vl_dsift_get_keypoints(f);
            size_t nf = (size_t)vl_dsift_get_keypoint_num(f);
            for (size_t i = 0; i < nf; i++) {
                int low = s->contrast > 0 && kp[i].norm < s->contrast;
                if (low && s->drop)
                    continue;
                float *o = desc + count * SIFT_D;
                if (low)
                    memset(o, 0, SIFT_D * sizeof *o);
                else
                    memcpy(o, d + i * SIFT_D, SIFT_D * sizeof *o);
                sc->pos[2 * count] = (float)((kp[i].x + 0.5) / (double)W);
                sc->pos[2 * count + 1] = (float)((kp[i].y + 0.5) / (double)H);
                count++;
            }
        }
    } else {
        VlSiftFilt *f = sc->sift;
        int r = vl_sift_process_first_octave(f, grey);
        while (r != VL_ERR_EOF) {
            vl_sift_detect(f);
            const VlSiftKeypoint *kp = vl_sift_get_keypoints(f);
            int nk = vl_sift_get_nkeypoints(f);
            for (int i = 0; i < nk; i++) {
                double angles[4];
                int na = vl_sift_calc_keypoint_orientations(f, angles, &kp[i]);
                if (!ensure(sc, count + (size_t)na))
                    return vb_fail(err, VB_ERR_NOMEM, "out of memory for SIFT keypoints");
                desc = sc->desc; /* keypoints always describe into the scratch, which may have moved */
                for (int a = 0; a < na; a++) {
                    vl_sift_calc_keypoint_descriptor(f, desc + count * SIFT_D, &kp[i], angles[a]);
                    sc->pos[2 * count] = (float)((kp[i].x + 0.5) / (double)W);
                    sc->pos[2 * count + 1] = (float)((kp[i].y + 0.5) / (double)H);
                    count++;
                }
            }
            r = vl_sift_process_next_octave(f);
        }
    }
    if (s->root)
        for (size_t i = 0; i < count; i++) {
            float *o = desc + i * SIFT_D, l1 = 0;
            for (int j = 0; j < SIFT_D; j++)
                l1 += fabsf(o[j]);
            if (l1 > 0)
                for (int j = 0; j < SIFT_D; j++)
                    o[j] = sqrtf(fabsf(o[j]) / l1);
        }
    *n = count;
    return VB_OK;
}

static vb_status sift_extract(const void *state, void *scratch, const vb_image *img, float *out, vb_error *err)
{
    const sift_state *s = state;
    sift_scratch *sc = scratch;
    if (!sc)
        return vb_fail(err, VB_ERR_NOMEM, "out of memory");
    size_t n;
    if (!s->enc)
        return describe(s, sc, img, out, &n, err);
    if (!vbf_enc_fitted(s->enc))
        return vb_fail(err, VB_ERR_STATE, "sift: extract before fit (the codebook is learned on the training images)");
    vb_status st = describe(s, sc, img, sc->desc, &n, err);
    if (st == VB_OK)
        st = vbf_enc_encode(s->enc, sc->enc, sc->desc, sc->pos, n, out, err);
    return st;
}

static vb_status sift_fit(void *state, const vb_imgsrc *train, uint64_t seed, vb_error *err)
{
    sift_state *s = state;
    if (!s->enc)
        return VB_OK; /* encoding none: nothing to learn */
    size_t n_img = train->n;
    if (n_img == 0)
        return vb_fail(err, VB_ERR_DATA, "sift: no training images to learn the codebook from");
    /* the same quota from every image, rounded up; trimmed below */
    size_t quota = (s->max_desc + n_img - 1) / n_img;
    float **samp = vb_calloc(n_img, sizeof *samp, err);
    size_t *cnt = vb_calloc(n_img, sizeof *cnt, err);
    if (!samp || !cnt) {
        free(samp);
        free(cnt);
        return VB_ERR_NOMEM;
    }
    size_t failed_at = (size_t)-1, done = 0;
    vb_error first = {0};
    int stop = 0;
    vb_progress("sift: descriptors for the codebook", 0, n_img);
#pragma omp parallel
    {
        sift_scratch *sc = sift_scratch_new(s);
        vb_image img = {0};
        size_t *pick = malloc((s->dense ? s->total_frames : 1) * sizeof *pick + sizeof *pick);
#pragma omp for schedule(dynamic, 16)
        for (size_t i = 0; i < n_img; i++) {
            int halt;
#pragma omp atomic read
            halt = stop;
            if (halt)
                continue;
            vb_error e = {0};
            vb_status st = sc ? VB_OK : vb_fail(&e, VB_ERR_NOMEM, "out of memory");
            if (st == VB_OK)
                st = train->get(train, i, &img, &e);
            if (st == VB_OK && (img.w != s->in.w || img.h != s->in.h))
                st = vb_fail(&e, VB_ERR_DATA, "sift: training image %zu is %dx%d, expected %dx%d", i, img.w, img.h,
                             s->in.w, s->in.h);
            size_t n = 0;
            if (st == VB_OK)
                st = describe(s, sc, &img, sc->desc, &n, &e);
            if (st == VB_OK && n) {
                size_t take = n < quota ? n : quota;
                size_t *ix = pick;
                size_t *tmp = NULL;
                if (!s->dense || n > s->total_frames)
                    ix = tmp = malloc(n * sizeof *ix);
                float *dst = malloc(take * SIFT_D * sizeof *dst);
                if (!ix || !dst) {
                    free(dst);
                    st = vb_fail(&e, VB_ERR_NOMEM, "out of memory");
                } else {
                    /* a partial Fisher-Yates shuffle from this image's own stream */
                    vb_rng *rng = vb_rng_new(vb_seed_derive(seed, "sift-sample", i));
                    for (size_t t = 0; t < n; t++)
                        ix[t] = t;
                    for (size_t t = 0; rng && t < take && take < n; t++) {
                        size_t j = t + vb_rng_below(rng, n - t), x = ix[t];
                        ix[t] = ix[j];
                        ix[j] = x;
                    }
                    if (!rng && take < n)
                        st = vb_fail(&e, VB_ERR_NOMEM, "out of memory");
                    vb_rng_free(rng);
                    for (size_t t = 0; t < take; t++)
                        memcpy(dst + t * SIFT_D, sc->desc + ix[t] * SIFT_D, SIFT_D * sizeof *dst);
                    samp[i] = dst;
                    cnt[i] = take;
                }
                free(tmp);
            }
            if (st != VB_OK) {
#pragma omp critical(vb_sift_fit_err)
                if (i < failed_at) {
                    failed_at = i;
                    first = e;
                }
#pragma omp atomic write
                stop = 1;
            }
            size_t d;
#pragma omp atomic capture
            d = ++done;
#ifdef _OPENMP
            if (omp_get_thread_num() == 0)
#endif
            {
                if (d % 256 == 0)
                    vb_progress("sift: descriptors for the codebook", d, n_img);
                if (vb_interrupted()) {
#pragma omp atomic write
                    stop = 1;
                }
            }
        }
        sift_scratch_free(sc);
        free(img.data);
        free(pick);
    }
    vb_status st = VB_OK;
    if (failed_at != (size_t)-1) {
        if (err)
            *err = first;
        st = first.status ? first.status : VB_ERR_INTERNAL;
    } else if (stop)
        st = vb_fail(err, VB_ERR_INTERRUPTED, "interrupted");
    size_t total = 0;
    for (size_t i = 0; i < n_img; i++)
        total += cnt[i];
    float *X = NULL;
    size_t keep = total < s->max_desc ? total : s->max_desc;
    if (st == VB_OK) {
        vb_progress("sift: descriptors for the codebook", n_img, n_img);
        if (!(X = vb_malloc(keep ? keep : 1, SIFT_D * sizeof *X, err)))
            st = VB_ERR_NOMEM;
    }
    if (st == VB_OK) {
        /* rounding the quota up may overshoot: keep a seeded subset, in
         * image order */
        unsigned char *take = NULL;
        if (keep < total) {
            size_t *ix = vb_malloc(total, sizeof *ix, err);
            take = vb_calloc(total, 1, err);
            vb_rng *rng = vb_rng_new(vb_seed_derive(seed, "sift-trim", 0));
            if (!ix || !take || !rng)
                st = vb_fail(err, VB_ERR_NOMEM, "out of memory");
            else {
                for (size_t t = 0; t < total; t++)
                    ix[t] = t;
                for (size_t t = 0; t < keep; t++) {
                    size_t j = t + vb_rng_below(rng, total - t), x = ix[t];
                    ix[t] = ix[j];
                    ix[j] = x;
                    take[ix[t]] = 1;
                }
            }
            free(ix);
            vb_rng_free(rng);
        }
        size_t at = 0, g = 0;
        for (size_t i = 0; st == VB_OK && i < n_img; i++)
            for (size_t t = 0; t < cnt[i]; t++, g++)
                if (!take || take[g])
                    memcpy(X + (at++) * SIFT_D, samp[i] + t * SIFT_D, SIFT_D * sizeof *X);
        free(take);
    }
    for (size_t i = 0; i < n_img; i++)
        free(samp[i]);
    free(samp);
    free(cnt);
    if (st == VB_OK) {
        double t0 = vb_now();
        st = vbf_enc_fit(s->enc, X, keep, vb_seed_derive(seed, "sift-codebook", 0), err);
        if (st == VB_OK)
            vb_log(VB_LOG_INFO, "sift: codebook from %zu descriptors of %zu images (%.1f s)", keep, n_img,
                   vb_now() - t0);
        else
            vb_error_prefix(err, "sift");
    }
    free(X);
    return st;
}

#define SIFT_FORMAT 1

static vb_status sift_save(const void *state, vb_writer *w, vb_error *err)
{
    const sift_state *s = state;
    vb_write_u32(w, SIFT_FORMAT);
    return s->enc ? vbf_enc_save(s->enc, w, err) : VB_OK;
}

static vb_status sift_load(void *state, vb_reader *r, vb_error *err)
{
    sift_state *s = state;
    uint32_t v;
    vb_status st = vb_read_u32_range(r, &v, SIFT_FORMAT, SIFT_FORMAT, "sift format version", err);
    return st == VB_OK && s->enc ? vbf_enc_load(s->enc, r, err) : st;
}

const vb_extractor_vt vb_ext_sift = {
    .info = {.name = "sift",
             .help = "dense (PHOW) or keypoint SIFT encoded as bag of words, VLAD or Fisher vectors over a spatial "
                     "pyramid (the codebook is fitted on the training images), or the dense descriptors themselves "
                     "(encoding none)",
             .doc = "Colour: descriptors are computed on the luma (0.299 R + 0.587 G + 0.114 B). Dense SIFT with "
                    "the flat window is visbench's own implementation, equal to vl_dsift's bit for bit (Gaussian "
                    "window: vl_dsift itself). Output: for each "
                    "pyramid cell (sum of g^2 over the `pyramid` grids) words values (bovw), words x 128 (vlad) or "
                    "2 x words x 128 (fisher), with 128 replaced by descriptor_pca when set. Encoding none (dense "
                    "only): the descriptors, 128 values each, scale by scale in `bin` order; within a scale, frames "
                    "row by row (top to bottom, then left to right), a frame's corner starting at offset "
                    "floor(1.5 (max bin - bin)) and moving by `step` while its 4 x 4 bins fit (3 x bin + 1 pixels "
                    "from the corner); within a descriptor VLFeat's order, value t + 8 bx + 32 by for spatial bin "
                    "(bx, by) and orientation t (atan2(gy, gx) near t x 45 degrees, y pointing down); "
                    "low-contrast descriptors zeroed. The size is fixed by the image size. Randomness: the "
                    "descriptor sample and VLFeat's k-means++ (its thread-local VlRand, seeded from the fit seed "
                    "and restored afterwards) derive from the spec's seed. References: Lazebnik et al. 2006 "
                    "(pyramids), Bosch et al. 2007 (PHOW), Jegou et al. 2010 (VLAD), Perronnin et al. 2010 "
                    "(improved Fisher vectors).",
             .params = sift_params,
             .n_params = sizeof sift_params / sizeof sift_params[0]},
    .create = sift_create,
    .fit = sift_fit,
    .dim = sift_dim,
    .scratch_new = sift_scratch_new,
    .scratch_free = sift_scratch_free,
    .extract = sift_extract,
    .save = sift_save,
    .load = sift_load,
    .destroy = sift_destroy,
};
