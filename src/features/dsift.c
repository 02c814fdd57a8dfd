/* Dense SIFT with a flat window (see dsift.h for what and why).
 *
 * Built with -ffp-contract=off (see the Makefile): the results equal
 * vl_dsift's only if a*b + c is rounded twice, as VLFeat's generic x86-64
 * build does.
 *
 * The passes, for a strip of 8 image columns (one vector lane each):
 *
 *   1. rows bottom to top: gradient, orientation planes (8 vectors, one per
 *      orientation) and the backward running sum of each plane
 *      (vl_imconvcoltri_f's first integral), stored per row;
 *   2. rows top to bottom: the box difference, the forward running sum and,
 *      on the rows that hold bin centres, the triangular filter's value.
 *
 * VLFeat runs the same sums one column at a time; a lane here does exactly
 * that column's operations in the same order. The filtered rows are then
 * transposed so that 8 sampled rows share a vector, and the horizontal
 * filter runs the same two sweeps along x for 8 rows at a time, keeping
 * only the sampled columns. Descriptors are assembled 8 frames (one per
 * lane, consecutive in y) at a time, so that the normalisations' sums run
 * over the 128 values in VLFeat's order in every lane, and transposed into
 * the output.
 */
#include "dsift.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Builds without AVX (the sanitizer build) lower the 8-float vectors to
 * SSE pairs; the vector-passing functions are all static and inlined, so
 * the ABI note GCC gives for them does not apply. */
#pragma GCC diagnostic ignored "-Wpsabi"

#define NT 8 /* orientation planes */
#define NB 4 /* spatial bins along x and y */
#define VW 8 /* floats per vector */
#define PADL VW /* padded image: column x at offset PADL + x, so column 0 is aligned */

typedef float vf __attribute__((vector_size(VW * 4)));
typedef int32_t vi __attribute__((vector_size(VW * 4)));
typedef double vd __attribute__((vector_size(VW * 8)));
/* float arrays seen as vectors: aligned (vfa) or not (vfu) */
typedef float vfa __attribute__((vector_size(VW * 4), may_alias));
typedef float vfu __attribute__((vector_size(VW * 4), aligned(4), may_alias));

#define INLINE static inline __attribute__((always_inline))

/* A lane shuffle of two vectors by constant indices into their
 * concatenation (0..VW-1 from a, VW..2VW-1 from b): GCC and clang name the
 * builtin differently. */
#ifdef __clang__
#define SHUF(a, b, ...) __builtin_shufflevector(a, b, __VA_ARGS__)
#else
#define SHUF(a, b, ...) __builtin_shuffle(a, b, (vi){__VA_ARGS__})
#endif

INLINE vf ldu(const float *p) { return *(const vfu *)p; }
INLINE vf lda(const float *p) { return *(const vfa *)p; }
INLINE void sta(float *p, vf v) { *(vfa *)p = v; }
INLINE void stu(float *p, vf v) { *(vfu *)p = v; }
INLINE vf splat(float c) { return (vf){c, c, c, c, c, c, c, c}; }
INLINE vf sel(vi m, vf a, vf b) { return (vf)(((vi)a & m) | ((vi)b & ~m)); }

/* VLFeat's constants (vl/mathop.h, vl/host.h) */
#define VL_PI_ 3.141592653589793
#define VL_EPSILON_F_ 1.19209290E-07F

struct vbf_dsift {
    vbf_dsift_geom g;
    int nfx, nfy;
    size_t frames;
    int wp;      /* width rounded up to VW */
    size_t ps;   /* padded image row stride */
    int nu;      /* distinct image rows holding bin centres */
    int ng;      /* groups of VW pass-2 rows */
    int nc;      /* distinct image columns holding bin centres */
    size_t o2s;  /* pass-2 output: floats per (column, orientation) */
    int *row_u;  /* height: distinct-row index of image row y, or -1 */
    int *r_u;    /* ng * VW: pass-2 row -> distinct row (nu: a row of zeros) */
    int *col_c;  /* width: sampled-column index of image column x, or -1 */
    int *cidx;   /* NB x nfx: sampled column of bin bx of frame column fx */
    int rbase[NB]; /* pass-2 row of bin row by of frame row fy: rbase[by] + fy */
    float *kx;   /* wp: the x derivative's factor (0.5 inside, 1 at the border) */
    float w[NB][NB]; /* window weight of bin (bx, by), times bin^2 (unit-height triangles) */
    float scale;     /* vl_imconvcoltri_f's 1 / bin^2 */
    float mass_div;  /* frame area */
    float dcx;       /* frame centre - frame corner */
    float sqrt_min;  /* smallest float s with (double) s >= 1e-8 (vl_fast_sqrt_f's cut) */
    void *mem;
};

struct vbf_dsift_scratch {
    float *pad; /* (height + 2) x ps: the image, borders repeated */
    vf *b1;     /* (height + bin) x NT: one strip's vertical sums */
    vf *tile;   /* (nu + 1) x NT: one strip's filtered sampled rows, then zeros */
    vf *o1;     /* ng x width x NT: vertically filtered, VW sampled rows per vector */
    vf *b2;     /* (width + bin) x NT */
    float *o2;  /* nc x NT x o2s: filtered at the bin centres, pass-2 rows contiguous */
    void *mem;
};

/* ---- plan ------------------------------------------------------------- */

/* VLFeat's _vl_dsift_get_bin_window_mean, operation for operation. */
static float window_mean(int bin, int nbins, int index, double window_size)
{
    float delta = bin * (index - 0.5F * (nbins - 1));
    float sigma = (float)bin * (float)window_size;
    float acc = 0.0f;
    for (int x = -bin + 1; x <= bin - 1; ++x) {
        float z = (x - delta) / sigma;
        acc += expf(-0.5F * z * z);
    }
    return acc / (float)(2 * bin - 1);
}

/* Sizes of the one allocation a plan or a scratch makes, in order. */
typedef struct layout {
    size_t off[8];
    size_t total;
    int n;
} layout;

static int lay(layout *l, size_t count, size_t size)
{
    size_t bytes;
    if (!vb_mul_ok(count ? count : 1, size, &bytes) || bytes > ((size_t)1 << 40))
        return 0;
    bytes = (bytes + 63) & ~(size_t)63;
    l->off[l->n++] = l->total;
    l->total += bytes;
    return 1;
}

vb_status vbf_dsift_new(const vbf_dsift_geom *g, vbf_dsift **out, vb_error *err)
{
    *out = NULL;
    if (g->width < 1 || g->height < 1 || g->width > (1 << 15) || g->height > (1 << 15))
        return vb_fail(err, VB_ERR_PARAM, "dsift: image size %dx%d out of range", g->width, g->height);
    if (g->step < 1 || g->bin < 1 || g->bin > 4096 || g->step > (1 << 15))
        return vb_fail(err, VB_ERR_PARAM, "dsift: step %d and bin %d must be positive", g->step, g->bin);
    if (g->min_x < 0 || g->min_y < 0 || g->max_x >= g->width || g->max_y >= g->height || g->min_x > g->max_x ||
        g->min_y > g->max_y)
        return vb_fail(err, VB_ERR_PARAM, "dsift: bounds [%d, %d] x [%d, %d] outside the %dx%d image", g->min_x,
                       g->max_x, g->min_y, g->max_y, g->width, g->height);
    if (!(g->window_size > 0) || !isfinite(g->window_size))
        return vb_fail(err, VB_ERR_PARAM, "dsift: window size %g must be positive", g->window_size);
    vbf_dsift *d = vb_calloc(1, sizeof *d, err);
    if (!d)
        return VB_ERR_NOMEM;
    d->g = *g;
    const int W = g->width, H = g->height, F = g->bin, S = g->step;
    int rx = g->max_x - g->min_x - (NB - 1) * F, ry = g->max_y - g->min_y - (NB - 1) * F;
    d->nfx = rx >= 0 ? rx / S + 1 : 0;
    d->nfy = ry >= 0 ? ry / S + 1 : 0;
    d->frames = (size_t)d->nfx * (size_t)d->nfy;
    d->dcx = 0.5F * F * (NB - 1);
    *out = d;
    if (!d->frames)
        return VB_OK;

    /* Pass-2 rows: when the bin is a multiple of the step, the bin rows of
     * consecutive frames coincide and each distinct row is computed once
     * (rbase[by] = by * bin / step); otherwise every bin row of every
     * frame row gets its own (rbase[by] = by * nfy). Either way the rows of
     * consecutive frames are consecutive, so 8 frames load as one vector. */
    int shared = F % S == 0;
    int nr = shared ? d->nfy + (NB - 1) * (F / S) : NB * d->nfy;
    d->ng = (nr + VW - 1) / VW;
    for (int by = 0; by < NB; by++)
        d->rbase[by] = shared ? by * (F / S) : by * d->nfy;
    d->wp = (W + VW - 1) / VW * VW;
    d->ps = (size_t)PADL + (size_t)d->wp + VW;
    d->o2s = (size_t)d->ng * VW + VW; /* + VW: loads of 8 frames from the last rows */

    layout l = {0};
    int ok = lay(&l, (size_t)H, sizeof(int)) && lay(&l, (size_t)d->ng * VW, sizeof(int)) &&
             lay(&l, (size_t)W, sizeof(int)) && lay(&l, (size_t)NB * d->nfx, sizeof(int)) &&
             lay(&l, (size_t)d->wp, sizeof(float)) && lay(&l, (size_t)nr, sizeof(int));
    char *mem = ok ? malloc(l.total + 64) : NULL;
    if (!mem) {
        vbf_dsift_free(d);
        *out = NULL;
        return vb_fail(err, VB_ERR_NOMEM, "dsift: out of memory for a %dx%d plan", W, H);
    }
    d->mem = mem;
    char *base = (char *)(((uintptr_t)mem + 63) & ~(uintptr_t)63);
    d->row_u = (int *)(base + l.off[0]);
    d->r_u = (int *)(base + l.off[1]);
    d->col_c = (int *)(base + l.off[2]);
    d->cidx = (int *)(base + l.off[3]);
    d->kx = (float *)(base + l.off[4]);
    int *ry_of = (int *)(base + l.off[5]); /* image row of each pass-2 row */

    /* shared: pass-2 row r is image row min_y + r step (rows between the
     * bins of frames fewer than bin / step apart are computed, unused) */
    for (int r = 0; r < nr; r++)
        ry_of[r] = g->min_y + r * S;
    if (!shared)
        for (int by = 0; by < NB; by++)
            for (int fy = 0; fy < d->nfy; fy++)
                ry_of[d->rbase[by] + fy] = g->min_y + fy * S + by * F;
    for (int y = 0; y < H; y++)
        d->row_u[y] = -1;
    for (int r = 0; r < nr; r++)
        d->row_u[ry_of[r]] = 0;
    d->nu = 0;
    for (int y = 0; y < H; y++)
        if (d->row_u[y] == 0)
            d->row_u[y] = d->nu++;
        else
            d->row_u[y] = -1;
    for (int r = 0; r < d->ng * VW; r++)
        d->r_u[r] = r < nr ? d->row_u[ry_of[r]] : d->nu;

    for (int x = 0; x < W; x++)
        d->col_c[x] = -1;
    for (int bx = 0; bx < NB; bx++)
        for (int fx = 0; fx < d->nfx; fx++)
            d->col_c[g->min_x + fx * S + bx * F] = 0;
    d->nc = 0;
    for (int x = 0; x < W; x++)
        if (d->col_c[x] == 0)
            d->col_c[x] = d->nc++;
        else
            d->col_c[x] = -1;
    for (int bx = 0; bx < NB; bx++)
        for (int fx = 0; fx < d->nfx; fx++)
            d->cidx[bx * d->nfx + fx] = d->col_c[g->min_x + fx * S + bx * F];

    for (int x = 0; x < d->wp; x++)
        d->kx[x] = x == 0 || x == W - 1 ? 1.0f : 0.5f;
    for (int by = 0; by < NB; by++) {
        float wy = window_mean(F, NB, by, g->window_size);
        wy *= F;
        for (int bx = 0; bx < NB; bx++) {
            float wx = window_mean(F, NB, bx, g->window_size);
            wx *= F;
            d->w[bx][by] = wx * wy;
        }
    }
    d->scale = (float)(1.0 / ((double)F * (double)F));
    int fs = F * (NB - 1) + 1;
    d->mass_div = (float)(fs * fs);
    float t = (float)1e-8;
    if ((double)t < 1e-8)
        t = nextafterf(t, INFINITY);
    d->sqrt_min = t;
    return VB_OK;
}

void vbf_dsift_free(vbf_dsift *d)
{
    if (!d)
        return;
    free(d->mem);
    free(d);
}

size_t vbf_dsift_frames(const vbf_dsift *d) { return d->frames; }

void vbf_dsift_frame_center(const vbf_dsift *d, size_t i, double *x, double *y)
{
    int fx = (int)(i % (size_t)d->nfx), fy = (int)(i / (size_t)d->nfx);
    *x = (float)(d->g.min_x + fx * d->g.step) + d->dcx;
    *y = (float)(d->g.min_y + fy * d->g.step) + d->dcx;
}

vbf_dsift_scratch *vbf_dsift_scratch_new(const vbf_dsift *d)
{
    vbf_dsift_scratch *s = calloc(1, sizeof *s);
    if (!s || !d->frames)
        return s;
    const size_t H = (size_t)d->g.height, W = (size_t)d->g.width, F = (size_t)d->g.bin;
    layout l = {0};
    int ok = lay(&l, (H + 2) * d->ps, sizeof(float)) && lay(&l, (H + F) * NT, sizeof(vf)) &&
             lay(&l, ((size_t)d->nu + 1) * NT, sizeof(vf)) && lay(&l, (size_t)d->ng * W * NT, sizeof(vf)) &&
             lay(&l, (W + F) * NT, sizeof(vf)) && lay(&l, (size_t)d->nc * NT * d->o2s, sizeof(float));
    char *mem = ok ? malloc(l.total + 64) : NULL;
    if (!mem) {
        free(s);
        return NULL;
    }
    s->mem = mem;
    char *base = (char *)(((uintptr_t)mem + 63) & ~(uintptr_t)63);
    /* zeros: the tile's last row and o2's tail lanes are read, never written */
    memset(base, 0, l.total);
    s->pad = (float *)(base + l.off[0]);
    s->b1 = (vf *)(base + l.off[1]);
    s->tile = (vf *)(base + l.off[2]);
    s->o1 = (vf *)(base + l.off[3]);
    s->b2 = (vf *)(base + l.off[4]);
    s->o2 = (float *)(base + l.off[5]);
    return s;
}

void vbf_dsift_scratch_free(vbf_dsift_scratch *s)
{
    if (!s)
        return;
    free(s->mem);
    free(s);
}

/* ---- vector pieces ---------------------------------------------------- */

/* vl_fast_sqrt_f: 0 below 1e-8, else x times the inverse square root from
 * the 0x5f3759df guess and two Newton steps. */
INLINE vf fast_sqrt(vf x, float cut)
{
    vf xhalf = 0.5f * x;
    vi i = 0x5f3759df - ((vi)x >> 1);
    vf y = (vf)i;
    y = y * (1.5f - xhalf * y * y);
    y = y * (1.5f - xhalf * y * y);
    return sel(x < cut, splat(0), x * y);
}

/* 8 x 8 transpose: r[i][k] -> r[k][i]. */
INLINE void transpose8(vf r[8])
{
    vf t0 = SHUF(r[0], r[1], 0, 8, 1, 9, 4, 12, 5, 13);
    vf t1 = SHUF(r[0], r[1], 2, 10, 3, 11, 6, 14, 7, 15);
    vf t2 = SHUF(r[2], r[3], 0, 8, 1, 9, 4, 12, 5, 13);
    vf t3 = SHUF(r[2], r[3], 2, 10, 3, 11, 6, 14, 7, 15);
    vf t4 = SHUF(r[4], r[5], 0, 8, 1, 9, 4, 12, 5, 13);
    vf t5 = SHUF(r[4], r[5], 2, 10, 3, 11, 6, 14, 7, 15);
    vf t6 = SHUF(r[6], r[7], 0, 8, 1, 9, 4, 12, 5, 13);
    vf t7 = SHUF(r[6], r[7], 2, 10, 3, 11, 6, 14, 7, 15);
    vf u0 = SHUF(t0, t2, 0, 1, 8, 9, 4, 5, 12, 13);
    vf u1 = SHUF(t0, t2, 2, 3, 10, 11, 6, 7, 14, 15);
    vf u2 = SHUF(t1, t3, 0, 1, 8, 9, 4, 5, 12, 13);
    vf u3 = SHUF(t1, t3, 2, 3, 10, 11, 6, 7, 14, 15);
    vf u4 = SHUF(t4, t6, 0, 1, 8, 9, 4, 5, 12, 13);
    vf u5 = SHUF(t4, t6, 2, 3, 10, 11, 6, 7, 14, 15);
    vf u6 = SHUF(t5, t7, 0, 1, 8, 9, 4, 5, 12, 13);
    vf u7 = SHUF(t5, t7, 2, 3, 10, 11, 6, 7, 14, 15);
    r[0] = SHUF(u0, u4, 0, 1, 2, 3, 8, 9, 10, 11);
    r[4] = SHUF(u0, u4, 4, 5, 6, 7, 12, 13, 14, 15);
    r[1] = SHUF(u1, u5, 0, 1, 2, 3, 8, 9, 10, 11);
    r[5] = SHUF(u1, u5, 4, 5, 6, 7, 12, 13, 14, 15);
    r[2] = SHUF(u2, u6, 0, 1, 2, 3, 8, 9, 10, 11);
    r[6] = SHUF(u2, u6, 4, 5, 6, 7, 12, 13, 14, 15);
    r[3] = SHUF(u3, u7, 0, 1, 2, 3, 8, 9, 10, 11);
    r[7] = SHUF(u3, u7, 4, 5, 6, 7, 12, 13, 14, 15);
}

/* The orientation planes of 8 pixels from their gradients, as vl_dsift:
 * angle = vl_fast_atan2_f(gy, gx) taken mod 2 pi, nt = angle * 8 / (2 pi)
 * (the product in double, as C evaluates VLFeat's expression), the
 * magnitude split between planes floor(nt) and floor(nt) + 1 (mod 8) in
 * proportion 1 - frac and frac. */
INLINE void orient(vf gx, vf gy, float cut, vf v[NT])
{
    const vf eps = splat(VL_EPSILON_F_);
    vf aby = (vf)((vi)gy & 0x7fffffff) + eps;
    vi xpos = gx >= 0;
    vf r = sel(xpos, gx - aby, gx + aby) / sel(xpos, gx + aby, aby - gx);
    vf ang = sel(xpos, splat((float)(VL_PI_ / 4)), splat((float)(3 * VL_PI_ / 4)));
    ang = ang + (0.1821F * r * r - 0.9675F) * r;
    ang = sel(gy < 0, -ang, ang);
    /* vl_mod_2pi_f: the angle lies in about [-pi, pi], one turn suffices */
    ang = sel(ang < 0.0F, ang + (float)(2 * VL_PI_), ang);
    vd a = __builtin_convertvector(ang, vd) * ((double)NT / (2 * VL_PI_));
    vf nt = __builtin_convertvector(a, vf);
    vi bint = __builtin_convertvector(nt, vi);
    vf rb = nt - __builtin_convertvector(bint, vf);
    vf mod = fast_sqrt(gx * gx + gy * gy, cut);
    vf w0 = (1 - rb) * mod, w1 = rb * mod;
    vi b0 = bint & (NT - 1);
    vi prev = b0 == NT - 1;
    for (int t = 0; t < NT; t++) {
        vi m = b0 == t;
        v[t] = sel(m, w0, (vf)((vi)w1 & prev));
        prev = m;
    }
}

/* ---- passes ----------------------------------------------------------- */

/* The image into s->pad with its border repeated one pixel out (and to the
 * right up to wp), so that central differences of padded neighbours give
 * VLFeat's one-sided border differences. */
static void pad_image(const vbf_dsift *d, vbf_dsift_scratch *s, const float *im)
{
    const int W = d->g.width, H = d->g.height;
    for (int y = 0; y < H; y++) {
        float *p = s->pad + (size_t)(y + 1) * d->ps + PADL;
        memcpy(p, im + (size_t)y * W, (size_t)W * sizeof *p);
        p[-1] = p[0];
        for (int x = W; x <= d->wp; x++)
            p[x] = p[W - 1];
    }
    memcpy(s->pad, s->pad + d->ps, d->ps * sizeof *s->pad);
    memcpy(s->pad + (size_t)(H + 1) * d->ps, s->pad + (size_t)H * d->ps, d->ps * sizeof *s->pad);
}

/* Vertical filter of the 8 orientation planes of columns x0 .. x0 + 7,
 * kept on the sampled rows (s->tile). vl_imconvcoltri_f on a column of
 * height H with filter size F: B = backward running sum (border value
 * repeated F rows above), C[y] = B[y] - B[y + F] (the last value repeated
 * below), D = forward running sum of C, out = (D[y] - D[y - F]) / F^2. */
static void pass1_strip(const vbf_dsift *d, vbf_dsift_scratch *s, int x0)
{
    const int H = d->g.height, F = d->g.bin;
    const size_t ps = d->ps;
    vf *b = s->b1 + (size_t)F * NT; /* b[y * NT + t], y in [-F, H) */
    const float *col = s->pad + ps + PADL + x0;
    const vf kx = lda(d->kx + x0);
    const float cut = d->sqrt_min;
    vf acc[NT], v[NT];
    const float *p = col + (size_t)(H - 1) * ps; /* the bottom row starts the sums */
    orient(kx * (ldu(p + 1) - ldu(p - 1)), lda(p) - lda(p - ps), cut, acc);
    for (int t = 0; t < NT; t++)
        b[(H - 1) * NT + t] = v[t] = acc[t];
    for (int y = H - 2; y >= 0; y--) {
        p = col + (size_t)y * ps;
        vf gx = kx * (ldu(p + 1) - ldu(p - 1));
        vf gy = (y == 0 ? 1.0f : 0.5f) * (lda(p + ps) - lda(p - ps));
        orient(gx, gy, cut, v);
        vf *o = b + (size_t)y * NT;
        for (int t = 0; t < NT; t++)
            o[t] = acc[t] = acc[t] + v[t];
    }
    for (int y = -1; y >= -F; y--)
        for (int t = 0; t < NT; t++)
            b[y * NT + t] = acc[t] = acc[t] + v[t];

    vf last[NT];
    for (int t = 0; t < NT; t++)
        last[t] = b[(H - 1) * NT + t];
    const vf scale = splat(d->scale);
    vf dd[NT];
    for (int t = 0; t < NT; t++)
        b[-F * NT + t] = dd[t] = b[-F * NT + t] - b[t];
    int y = -F + 1;
    for (; y < H - F; y++) {
        vf *o = b + (ptrdiff_t)y * NT;
        for (int t = 0; t < NT; t++)
            o[t] = dd[t] = dd[t] + (o[t] - o[F * NT + t]);
        int u = y >= 0 ? d->row_u[y] : -1;
        if (u >= 0)
            for (int t = 0; t < NT; t++)
                s->tile[u * NT + t] = scale * (dd[t] - o[-F * NT + t]);
    }
    for (; y < H; y++) {
        vf *o = b + (ptrdiff_t)y * NT;
        float k = (float)(H - F - y);
        for (int t = 0; t < NT; t++)
            o[t] = dd[t] = dd[t] + (o[t] - last[t] * k);
        int u = y >= 0 ? d->row_u[y] : -1;
        if (u >= 0)
            for (int t = 0; t < NT; t++)
                s->tile[u * NT + t] = scale * (dd[t] - o[-F * NT + t]);
    }

    /* the strip's sampled rows into o1, 8 pass-2 rows per vector */
    const int W = d->g.width, n = W - x0 < VW ? W - x0 : VW;
    for (int g = 0; g < d->ng; g++) {
        const int *ru = d->r_u + g * VW;
        vf *dst = s->o1 + ((size_t)g * W + (size_t)x0) * NT;
        for (int t = 0; t < NT; t++) {
            vf r[VW];
            for (int k = 0; k < VW; k++)
                r[k] = s->tile[ru[k] * NT + t];
            transpose8(r);
            for (int i = 0; i < n; i++)
                dst[i * NT + t] = r[i];
        }
    }
}

/* Horizontal filter of the pass-2 rows of group g (the same sums along x),
 * kept on the sampled columns (s->o2). */
static void pass2_group(const vbf_dsift *d, vbf_dsift_scratch *s, int g)
{
    const int W = d->g.width, F = d->g.bin;
    const vf *in = s->o1 + (size_t)g * W * NT;
    vf *b = s->b2 + (size_t)F * NT;
    vf acc[NT];
    for (int t = 0; t < NT; t++)
        b[(W - 1) * NT + t] = acc[t] = in[(W - 1) * NT + t];
    for (int x = W - 2; x >= 0; x--)
        for (int t = 0; t < NT; t++)
            b[x * NT + t] = acc[t] = acc[t] + in[x * NT + t];
    for (int x = -1; x >= -F; x--)
        for (int t = 0; t < NT; t++)
            b[x * NT + t] = acc[t] = acc[t] + in[t];

    vf last[NT];
    for (int t = 0; t < NT; t++)
        last[t] = b[(W - 1) * NT + t];
    const vf scale = splat(d->scale);
    vf dd[NT];
    for (int t = 0; t < NT; t++)
        b[-F * NT + t] = dd[t] = b[-F * NT + t] - b[t];
    float *o2 = s->o2 + (size_t)g * VW;
    int x = -F + 1;
    for (; x < W - F; x++) {
        vf *o = b + (ptrdiff_t)x * NT;
        for (int t = 0; t < NT; t++)
            o[t] = dd[t] = dd[t] + (o[t] - o[F * NT + t]);
        int c = x >= 0 ? d->col_c[x] : -1;
        if (c >= 0)
            for (int t = 0; t < NT; t++)
                sta(o2 + ((size_t)c * NT + t) * d->o2s, scale * (dd[t] - o[-F * NT + t]));
    }
    for (; x < W; x++) {
        vf *o = b + (ptrdiff_t)x * NT;
        float k = (float)(W - F - x);
        for (int t = 0; t < NT; t++)
            o[t] = dd[t] = dd[t] + (o[t] - last[t] * k);
        int c = x >= 0 ? d->col_c[x] : -1;
        if (c >= 0)
            for (int t = 0; t < NT; t++)
                sta(o2 + ((size_t)c * NT + t) * d->o2s, scale * (dd[t] - o[-F * NT + t]));
    }
}

/* A block of 8 frames, one per lane: lanes 0-3 are frames (fx[0],
 * fy[0] + k) and lanes 4-7 frames (fx[1], fy[1] + k - 4). When the frame
 * column is at least 8 frames tall the two halves continue each other
 * (split = 0: one load per value); shorter columns pair two of them
 * (split = 1: two half loads), so small images do not leave half the
 * lanes idle. dst[k]: the output descriptor of lane k, NULL for lanes past
 * the last frame. */
typedef struct block {
    int fx[2], fy[2];
    float *dst[VW];
    float *mass[VW];
} block;

typedef float v4u __attribute__((vector_size(16), aligned(4), may_alias));

INLINE vf ld_halves(const float *a, const float *b)
{
    union {
        vf v;
        v4u h[2];
    } u;
    u.h[0] = *(const v4u *)a;
    u.h[1] = *(const v4u *)b;
    return u.v;
}

/* The weighted bin values, the mass, l2 normalisation, clamp at 0.2, l2
 * normalisation: each sum over the 128 values in order, as VLFeat's
 * loops. nb blocks (1 or 2) at once: their sums are independent chains, so
 * the second hides the latency of the first. */
INLINE void describe_blocks(const vbf_dsift *d, const vbf_dsift_scratch *s, const block *b, int nb, int split)
{
    vf D[2][VBF_DSIFT_D], m[2], n1[2], n2[2];
    const size_t cs = (size_t)NT * d->o2s;
    for (int i = 0; i < nb; i++)
        m[i] = n1[i] = n2[i] = splat(0);
    for (int by = 0; by < NB; by++)
        for (int bx = 0; bx < NB; bx++) {
            const int *ci = d->cidx + bx * d->nfx;
            const float *s0[2], *s1[2];
            for (int i = 0; i < nb; i++) {
                s0[i] = s->o2 + (size_t)ci[b[i].fx[0]] * cs + d->rbase[by] + b[i].fy[0];
                s1[i] = s->o2 + (size_t)ci[b[i].fx[1]] * cs + d->rbase[by] + b[i].fy[1];
            }
            vf w = splat(d->w[bx][by]);
            for (int t = 0; t < NT; t++) {
                size_t at = (size_t)t * d->o2s;
                for (int i = 0; i < nb; i++) {
                    vf v = w * (split ? ld_halves(s0[i] + at, s1[i] + at) : ldu(s0[i] + at));
                    D[i][(by * NB + bx) * NT + t] = v;
                    m[i] = m[i] + v;
                    n1[i] = n1[i] + v * v;
                }
            }
        }
    for (int i = 0; i < nb; i++) {
        m[i] = m[i] / d->mass_div;
        n1[i] = fast_sqrt(n1[i], d->sqrt_min) + VL_EPSILON_F_;
    }
    for (int j = 0; j < VBF_DSIFT_D; j++)
        for (int i = 0; i < nb; i++) {
            vf v = D[i][j] / n1[i];
            v = sel(v > 0.2F, splat(0.2F), v);
            D[i][j] = v;
            n2[i] = n2[i] + v * v;
        }
    for (int i = 0; i < nb; i++)
        n2[i] = fast_sqrt(n2[i], d->sqrt_min) + VL_EPSILON_F_;
    for (int i = 0; i < nb; i++) {
        for (int q = 0; q < VBF_DSIFT_D / VW; q++) {
            vf r[VW];
            for (int k = 0; k < VW; k++)
                r[k] = D[i][q * VW + k] / n2[i];
            transpose8(r);
            for (int k = 0; k < VW; k++)
                if (b[i].dst[k])
                    stu(b[i].dst[k] + q * VW, r[k]);
        }
        float mm[VW];
        memcpy(mm, &m[i], sizeof mm);
        for (int k = 0; k < VW; k++)
            if (b[i].mass[k])
                *b[i].mass[k] = mm[k];
    }
}

/* Lane k of a block: frame (fx, fy) if it exists. */
static void lane(const vbf_dsift *d, block *b, int k, int fx, int fy, float *desc, float *mass)
{
    int ok = fx < d->nfx && fy < d->nfy;
    size_t f = (size_t)fy * (size_t)d->nfx + (size_t)fx;
    b->dst[k] = ok ? desc + f * VBF_DSIFT_D : NULL;
    b->mass[k] = ok && mass ? mass + f : NULL;
}

/* Every frame, in blocks of 8 lanes, two blocks at a time. */
static void describe_all(const vbf_dsift *d, const vbf_dsift_scratch *s, float *desc, float *mass)
{
    block b[2];
    int nb = 0, split = d->nfy <= VW / 2;
    if (!split) {
        /* along frame rows, so that the output is written as 8 streams */
        for (int fy0 = 0; fy0 < d->nfy; fy0 += VW)
            for (int fx = 0; fx < d->nfx; fx++) {
                block *c = &b[nb++];
                c->fx[0] = c->fx[1] = fx;
                c->fy[0] = c->fy[1] = fy0; /* the second half is the 8-lane load's */
                for (int k = 0; k < VW; k++)
                    lane(d, c, k, fx, fy0 + k, desc, mass);
                if (nb == 2) {
                    describe_blocks(d, s, b, 2, 0);
                    nb = 0;
                }
            }
        if (nb)
            describe_blocks(d, s, b, 1, 0);
        return;
    }
    for (int fx = 0; fx < d->nfx; fx += 2) {
        block *c = &b[nb++];
        c->fx[0] = fx;
        c->fx[1] = fx + 1 < d->nfx ? fx + 1 : fx; /* a missing column: lanes unused */
        c->fy[0] = c->fy[1] = 0;
        for (int k = 0; k < VW; k++)
            lane(d, c, k, fx + k / (VW / 2), k % (VW / 2), desc, mass);
        if (nb == 2) {
            describe_blocks(d, s, b, 2, 1);
            nb = 0;
        }
    }
    if (nb)
        describe_blocks(d, s, b, 1, 1);
}

void vbf_dsift_process(const vbf_dsift *d, vbf_dsift_scratch *s, const float *image, float *desc, float *mass)
{
    if (!d->frames)
        return;
    pad_image(d, s, image);
    for (int x0 = 0; x0 < d->g.width; x0 += VW)
        pass1_strip(d, s, x0);
    for (int g = 0; g < d->ng; g++)
        pass2_group(d, s, g);
    describe_all(d, s, desc, mass);
}
