/* nnsearch: exact k nearest neighbours in squared Euclidean distance, for
 * knn's l2 and cosine metrics (cosine on unit rows).
 *
 * Ranking. Every neighbour is ranked by its distance summed directly,
 * sum_t (q_t - x_t)^2 (nn_dist), and then by its index. BLAS only proposes
 * candidates: a GEMM gives a lower bound on the distance of every
 * (query, training row) pair, and a pair is summed directly only when its
 * bound does not exceed the query's current k-th distance. So the
 * neighbours do not depend on whether, or how, the bounds were computed,
 * nor on the thread count: only the time does.
 *
 * Bounds. Without pruning (m = 0) the bound is the usual GEMM distance
 * |q|^2 + |x|^2 - 2 q.x, less a margin for its rounding. With pruning, the
 * rows are centred (on a sample mean c) and split along the m leading
 * principal components W (fitted on a sample of the training rows): p = W
 * (x - c) and the residual norm r = |x - c - W'p|. Then, W having
 * orthonormal rows,
 *     |q - x|^2 = |pq - px|^2 + |rq_vec - rx_vec|^2
 *              >= |pq - px|^2 + (rq - rx)^2
 *               = |q - c|^2 + |x - c|^2 - 2 (pq.px + rq rx),
 * one GEMM over m + 1 columns instead of d. The margin, EPS times
 * |q - c|^2 + |x - c|^2, covers the rounding of the projection, the GEMM
 * and the direct sum (each far below 1e-4 of those norms in float) with
 * room to spare; it costs only a few extra direct sums.
 *
 * How many leading components, or none, is chosen when the index is built,
 * by a cost model fed with a pilot: 64 training rows are queried (leaving
 * themselves out) against all rows, and for each candidate m the pairs
 * whose bound passes their k-th distance are counted. A GEMM
 * multiply-add costs about 1/32 of one element of a direct sum (which
 * reads a training row from memory at random), so
 *     cost(m) = n (m + 1) + 32 d candidates(m)   per query,
 * against n d for the unpruned GEMM. On HOG features of Fashion-MNIST
 * (60000 x 1519) about 512 components leave some 90 candidates per query:
 * a third of the GEMM.
 *
 * Queries. A block of queries runs one GEMM per tile of training rows;
 * each query keeps the pairs whose bound is below its own threshold, in a
 * buffer of 2R: when the buffer fills, the R smallest are kept and the
 * threshold drops to the largest of them. Then the exact stage sums the
 * 2k + 8 smallest bounds directly, which sets a k-th distance, and sums
 * the other kept pairs whose bound does not exceed it. A query whose
 * k-th distance is not below its threshold (more than R candidates: many
 * training rows at nearly the same distance) is redone by a scan of all
 * training rows with the same bounds, one at a time. */
#include "internal.h"

#include "../core/linalg.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define EPS (1.0 / 1024)
#define PILOT_QUERIES 64
#define FIT_ROWS 4096
#define PILOT_ROWS 8192
#define GATHER_COST 32.0
#define MIN_ROWS 4096

struct vb_nn_index {
    const float *X; /* n x d, not owned */
    size_t n, d;
    int m;          /* leading components of the bounds; 0: the rows themselves */
    int reserve;    /* R: bounds kept per query (0: from k) */
    size_t k1;      /* columns of the bound rows: d, or m + 1 padded to 16 */
    float *c;       /* d: centre (m > 0) */
    float *W;       /* components as rows, the first m used (m > 0) */
    float *P;       /* n x (m + 1): projections, then the residual norm (m > 0) */
    float *nb;      /* n: (1 - EPS) |x - c|^2 (c = 0 when m = 0) */
};

/* ---- small pieces -------------------------------------------------------- */

static inline float nn_dist(const float *a, const float *b, size_t d)
{
    float acc = 0;
#pragma omp simd reduction(+ : acc)
    for (size_t t = 0; t < d; t++) {
        float u = a[t] - b[t];
        acc += u * u;
    }
    return acc;
}

static inline void nn_swap(float *v, int32_t *j, size_t a, size_t b)
{
    float tv = v[a];
    v[a] = v[b];
    v[b] = tv;
    int32_t tj = j[a];
    j[a] = j[b];
    j[b] = tj;
}

/* Quickselect with Hoare's partition around the median of three, moved to
 * the front first so that every partition splits the range. */
void vb_nn_select(float *v, int32_t *j, size_t n, size_t r)
{
    size_t lo = 0, hi = n - 1;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v[mid] < v[lo])
            nn_swap(v, j, mid, lo);
        if (v[hi] < v[lo])
            nn_swap(v, j, hi, lo);
        if (v[hi] < v[mid])
            nn_swap(v, j, hi, mid);
        nn_swap(v, j, lo, mid); /* the median to the front */
        float piv = v[lo];
        size_t i = lo, k = hi;
        for (;;) {
            while (v[i] < piv)
                i++;
            while (v[k] > piv)
                k--;
            if (i >= k)
                break;
            nn_swap(v, j, i, k);
            i++;
            k--;
        }
        /* [lo, k] <= piv <= [k + 1, hi], and k < hi: the pivot at lo stops
         * the first scan there */
        if (r <= k)
            hi = k;
        else
            lo = k + 1;
    }
}

/* ---- building ------------------------------------------------------------ */

void vb_nn_free(vb_nn_index *ix)
{
    if (!ix)
        return;
    free(ix->c);
    free(ix->W);
    free(ix->P);
    free(ix->nb);
    free(ix);
}

/* One thread's share of a projection: h rows of X (rows sel[0..h-1], or
 * the first h when sel is NULL) centred into buf (h x d) and projected on
 * the M components W (M x d): out (h x ldo, the first M columns) and xc2
 * (h: |x - c|^2, in double). */
static void project_rows(const float *X, size_t d, const size_t *sel, size_t h, const float *c, const float *W,
                         size_t M, float *buf, float *out, size_t ldo, double *xc2)
{
    for (size_t i = 0; i < h; i++) {
        const float *x = X + (sel ? sel[i] : i) * d;
        float *o = buf + i * d;
        double s = 0;
#pragma omp simd reduction(+ : s)
        for (size_t t = 0; t < d; t++) {
            o[t] = x[t] - c[t];
            s += (double)o[t] * o[t];
        }
        xc2[i] = s;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)h, (int)M, (int)d, 1.0f, buf, (int)d, W, (int)d, 0.0f,
                out, (int)ldo);
}

/* Projections (h x ldo, M columns) made bound rows: the residual norm
 * after them in column M, zeros up to ldo; and nb = (1 - EPS) |x - c|^2. */
static void finish_rows(float *out, size_t ldo, size_t M, size_t h, const double *xc2, float *nb)
{
    for (size_t i = 0; i < h; i++) {
        float *p = out + i * ldo;
        double s = 0;
#pragma omp simd reduction(+ : s)
        for (size_t t = 0; t < M; t++)
            s += (double)p[t] * p[t];
        p[M] = (float)sqrt(fmax(xc2[i] - s, 0));
        for (size_t t = M + 1; t < ldo; t++)
            p[t] = 0;
        nb[i] = (float)((1 - EPS) * xc2[i]);
    }
}

/* The same over many rows, each thread on its own chunks with OpenBLAS
 * serial; with nb, finished into bound rows (then ldo > M). */
static vb_status project(const float *X, size_t d, const size_t *sel, size_t h, const float *c, const float *W,
                         size_t M, float *out, size_t ldo, double *xc2, float *nb, vb_error *err)
{
    size_t CH = 256, nch = (h + CH - 1) / CH;
    int fail = 0, saved = vb_blas_serial_enter();
#pragma omp parallel
    {
        float *buf = malloc(CH * d * sizeof *buf);
        if (!buf) {
#pragma omp atomic write
            fail = 1;
        } else {
#pragma omp for schedule(dynamic, 1)
            for (size_t ch = 0; ch < nch; ch++) {
                size_t i0 = ch * CH, hh = h - i0 < CH ? h - i0 : CH;
                project_rows(sel ? X : X + i0 * d, d, sel ? sel + i0 : NULL, hh, c, W, M, buf, out + i0 * ldo, ldo,
                             xc2 + i0);
                if (nb)
                    finish_rows(out + i0 * ldo, ldo, M, hh, xc2 + i0, nb + i0);
            }
        }
        free(buf);
    }
    vb_blas_serial_leave(saved);
    return fail ? vb_fail(err, VB_ERR_NOMEM, "knn: out of memory") : VB_OK;
}

/* (1 - EPS) |x|^2 of n rows: the norms of unpruned bounds. */
static void scaled_sqnorms(const float *X, size_t n, size_t d, float *out)
{
    vb_clf_row_sqnorms(X, n, d, out);
    for (size_t i = 0; i < n; i++)
        out[i] = (float)((1 - EPS) * out[i]);
}

/* The pilot: the first nq of the S sampled rows (rows) are queried.
 * Their k-th distance comes from all n rows but themselves (by the GEMM:
 * an estimate); the pairs whose bound passes it are counted among the
 * sample (PS: S x M projections, xc2s: their squared centred norms) and
 * scaled to n rows. For every candidate m (ms[0..nm-1], increasing,
 * ms[nm-1] = M): the candidates per query (cand[t]) and the share of
 * queries with more than R (over[t]). */
static vb_status pilot(const vb_nn_index *ix, const size_t *rows, size_t S, const float *PS, const double *xc2s,
                       size_t nq, int k, size_t R, const int *ms, int nm, double *cand, double *over, vb_error *err)
{
    size_t n = ix->n, d = ix->d, M = (size_t)ms[nm - 1];
    size_t gcols = n > S ? n : S;
    float *Q = vb_malloc(nq, d * sizeof *Q, err), *G = vb_malloc(nq, gcols * sizeof *G, err);
    float *sq = vb_malloc(n, sizeof *sq, err), *dk = vb_malloc(nq, sizeof *dk, err);
    double *p2 = vb_calloc(S, sizeof *p2, err), *rx = vb_malloc(S, sizeof *rx, err);
    vb_status st = VB_OK;
    int fail = 0;
    if (!Q || !G || !sq || !dk || !p2 || !rx) {
        st = VB_ERR_NOMEM;
        goto out;
    }
    for (size_t a = 0; a < nq; a++)
        memcpy(Q + a * d, ix->X + rows[a] * d, d * sizeof *Q);
    vb_clf_row_sqnorms(ix->X, n, d, sq);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nq, (int)n, (int)d, 1.0f, Q, (int)d, ix->X, (int)d,
                0.0f, G, (int)n);
#pragma omp parallel
    {
        float *v = malloc(n * sizeof *v);
        int32_t *j = malloc(n * sizeof *j);
        if (!v || !j) {
#pragma omp atomic write
            fail = 1;
        } else {
#pragma omp for schedule(dynamic, 1)
            for (size_t a = 0; a < nq; a++) {
                size_t len = 0;
                for (size_t b = 0; b < n; b++)
                    if (b != rows[a]) {
                        v[len] = sq[rows[a]] + sq[b] - 2 * G[a * n + b];
                        j[len++] = (int32_t)b;
                    }
                size_t kk = (size_t)k < len ? (size_t)k : len;
                if (kk < len)
                    vb_nn_select(v, j, len, kk - 1);
                dk[a] = v[kk - 1];
            }
        }
        free(v);
        free(j);
    }
    if (fail) {
        st = vb_fail(err, VB_ERR_NOMEM, "knn: out of memory");
        goto out;
    }
    /* pq.px over the first m components, grown one slice at a time */
    double scale = (double)(n - 1) / (double)(S - 1);
    for (int t = 0, m0 = 0; t < nm; m0 = ms[t++]) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nq, (int)S, ms[t] - m0, 1.0f, PS + m0, (int)M,
                    PS + m0, (int)M, t == 0 ? 0.0f : 1.0f, G, (int)S);
        for (size_t b = 0; b < S; b++) {
            for (int u = m0; u < ms[t]; u++)
                p2[b] += (double)PS[b * M + u] * PS[b * M + u];
            rx[b] = sqrt(fmax(xc2s[b] - p2[b], 0)); /* the residual norm after ms[t] */
        }
        double c = 0, o = 0;
#pragma omp parallel for schedule(static) reduction(+ : c, o)
        for (size_t a = 0; a < nq; a++) {
            size_t cnt = 0;
            for (size_t b = 0; b < S; b++) {
                double lb = (1 - EPS) * (xc2s[a] + xc2s[b]) - 2 * ((double)G[a * S + b] + rx[a] * rx[b]);
                cnt += b != a && lb <= dk[a];
            }
            c += (double)cnt * scale;
            o += (double)cnt * scale > (double)R;
        }
        cand[t] = c / (double)nq;
        over[t] = o / (double)nq;
    }
out:
    free(Q);
    free(G);
    free(sq);
    free(dk);
    free(p2);
    free(rx);
    return st;
}

static size_t reserve_of(const vb_nn_index *ix, int k)
{
    size_t R = ix->reserve > 0 ? (size_t)ix->reserve : (size_t)(k > 32 ? 32 * k : 1024);
    return R < ix->n ? R : ix->n;
}

/* Fits the components on a sample, runs the pilot on it, and projects
 * every row on the cheapest number of components (or none). */
static vb_status build_pruned(vb_nn_index *ix, int k, int force_m, uint64_t seed, vb_error *err)
{
    size_t n = ix->n, d = ix->d;
    /* the components are fitted on FIT_ROWS random rows; the pilot runs on
     * up to PILOT_ROWS others, so that it sees them as it will see new
     * queries (on the rows they were fitted to, the bounds are tighter) */
    size_t S = force_m > 0 ? n : n / 2 < FIT_ROWS ? n / 2 : FIT_ROWS;
    size_t Sp = n - S < PILOT_ROWS ? n - S : PILOT_ROWS;
    size_t *rows = vb_malloc(n, sizeof *rows, err);
    float *Xs = vb_malloc(S, d * sizeof *Xs, err);
    double *mean = NULL, *val = NULL, *vec = NULL, *xc2 = NULL;
    float *PS = NULL, *Wa = NULL;
    vb_rng *rng = vb_rng_new(vb_seed_derive(seed, "knn-prune", 0));
    vb_status st = VB_OK;
    if (!rows || !Xs || !rng) {
        st = VB_ERR_NOMEM;
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        rows[i] = i;
    vb_rng_shuffle(rng, rows, n);
    for (size_t i = 0; i < S; i++)
        memcpy(Xs + i * d, ix->X + rows[i] * d, d * sizeof *Xs);
    if ((st = vb_pca_eig(Xs, S, d, &mean, &val, &vec, err)) != VB_OK) {
        /* no components (the eigensolver failed): search without them */
        if (st != VB_ERR_NOMEM) {
            if (err)
                *err = (vb_error){0};
            st = VB_OK;
        }
        goto out;
    }

    /* candidate m: fractions of d, multiples of 8 */
    static const double frac[] = {1.0 / 16, 1.0 / 12, 1.0 / 8, 1.0 / 6, 1.0 / 4, 1.0 / 3, 0.4, 0.5};
    int ms[8], nm = 0;
    if (S < 2)
        goto out;
    size_t mcap = (d < S ? d : S) - 1;
    if (force_m > 0) {
        ms[nm++] = (int)((size_t)force_m < mcap ? (size_t)force_m : mcap);
    } else {
        for (size_t t = 0; t < sizeof frac / sizeof frac[0]; t++) {
            size_t m = (size_t)(frac[t] * (double)d) / 8 * 8;
            if (m >= 8 && m <= mcap && (nm == 0 || (int)m > ms[nm - 1]))
                ms[nm++] = (int)m;
        }
    }
    if (nm == 0 || ms[0] < 1)
        goto out; /* too few dimensions or rows to prune: m stays 0 */
    size_t M = (size_t)ms[nm - 1];
    Wa = vb_malloc(M, d * sizeof *Wa, err);
    ix->c = vb_malloc(d, sizeof *ix->c, err);
    xc2 = vb_malloc(n, sizeof *xc2, err);
    if (!Wa || !ix->c || !xc2) {
        st = VB_ERR_NOMEM;
        goto out;
    }
    for (size_t t = 0; t < M * d; t++)
        Wa[t] = (float)vec[t];
    for (size_t t = 0; t < d; t++)
        ix->c[t] = (float)mean[t];

    int m = ms[0];
    if (force_m <= 0) {
        size_t R = reserve_of(ix, k), nq = Sp < PILOT_QUERIES ? Sp : PILOT_QUERIES;
        double cand[8], over[8];
        PS = vb_malloc(Sp, M * sizeof *PS, err);
        if (!PS) {
            st = VB_ERR_NOMEM;
            goto out;
        }
        if (Sp < 2 || (st = project(ix->X, d, rows + S, Sp, ix->c, Wa, M, PS, M, xc2, NULL, err)) != VB_OK ||
            (st = pilot(ix, rows + S, Sp, PS, xc2, nq, k, R, ms, nm, cand, over, err)) != VB_OK)
            goto out;
        /* the cheapest m, if it saves 30 % on the unpruned GEMM */
        double brute = (double)n * (double)d + GATHER_COST * (double)d * (k + 2), best = INFINITY;
        for (int t = 0; t < nm; t++) {
            double c = (double)n * (ms[t] + 1) * (1 + over[t]) + GATHER_COST * (double)d * cand[t];
            if (c < best) {
                best = c;
                m = ms[t];
            }
        }
        if (!(best < 0.7 * brute))
            goto out;
    }
    /* every row on the first m components (W keeps all M rows; the first
     * m are used); then the residual norm, and zeros up to a multiple of
     * 16 columns (aligned GEMM rows) */
    size_t K1 = ((size_t)m + 1 + 15) / 16 * 16;
    ix->W = Wa;
    Wa = NULL;
    ix->P = vb_malloc(n, K1 * sizeof *ix->P, err);
    ix->nb = vb_malloc(n, sizeof *ix->nb, err);
    if (!ix->P || !ix->nb) {
        st = VB_ERR_NOMEM;
        goto out;
    }
    if ((st = project(ix->X, d, NULL, n, ix->c, ix->W, (size_t)m, ix->P, K1, xc2, ix->nb, err)) != VB_OK)
        goto out;
    ix->m = m;
    ix->k1 = K1;
out:
    if (ix->m == 0) {
        free(ix->c);
        free(ix->W);
        free(ix->P);
        free(ix->nb);
        ix->c = ix->W = ix->P = ix->nb = NULL;
    }
    vb_rng_free(rng);
    free(rows);
    free(Xs);
    free(mean);
    free(val);
    free(vec);
    free(xc2);
    free(PS);
    free(Wa);
    return st;
}

vb_status vb_nn_build(const float *X, size_t n, size_t d, int k, int prune, uint64_t seed, vb_nn_index **out,
                      vb_error *err)
{
    *out = NULL;
    vb_nn_index *ix = vb_calloc(1, sizeof *ix, err);
    if (!ix)
        return VB_ERR_NOMEM;
    ix->X = X;
    ix->n = n;
    ix->d = d;
    ix->k1 = d;
    vb_status st = VB_OK;
    int want = prune > 0 || (prune < 0 && n >= MIN_ROWS && d >= 32);
    if (want && d >= 2 && n >= 3 && d <= VB_PCA_MAX_DIM)
        st = build_pruned(ix, k, prune, seed, err);
    if (st == VB_OK && ix->m == 0) {
        ix->nb = vb_malloc(n, sizeof *ix->nb, err);
        if (!ix->nb)
            st = VB_ERR_NOMEM;
        else
            scaled_sqnorms(X, n, d, ix->nb);
    }
    if (st != VB_OK) {
        vb_nn_free(ix);
        return st;
    }
    *out = ix;
    return VB_OK;
}

int vb_nn_dims(const vb_nn_index *ix) { return ix->m; }

void vb_nn_set_reserve(vb_nn_index *ix, int reserve) { ix->reserve = reserve; }

/* ---- queries ------------------------------------------------------------- */

/* The bound rows of h queries Q (h x d) when m > 0: QB (h x K1, the GEMM's
 * left side) and qa (h: (1 - EPS) |q - c|^2); without components the rows
 * are Q themselves and qa (1 - EPS) |q|^2. Qc (h x d), xc2 (h): scratch. */
static void query_rows(const vb_nn_index *ix, const float *Q, size_t h, float *Qc, double *xc2, float *QB, float *qa)
{
    if (ix->m == 0) {
        scaled_sqnorms(Q, h, ix->d, qa);
        return;
    }
    project_rows(Q, ix->d, NULL, h, ix->c, ix->W, (size_t)ix->m, Qc, QB, ix->k1, xc2);
    finish_rows(QB, ix->k1, (size_t)ix->m, h, xc2, qa);
}

/* One query's scan of the training rows, one bound at a time (the
 * overflow path): its k nearest into (dd, ii). */
static void scan_all(const vb_nn_index *ix, const float *q, const float *qb, float qa, int k, float *dd,
                     int32_t *ii)
{
    size_t n = ix->n, d = ix->d, K1 = ix->k1;
    const float *B = ix->m ? ix->P : ix->X;
    int len = 0;
    for (size_t j = 0; j < n; j++) {
        const float *b = B + j * K1;
        float g = 0;
#pragma omp simd reduction(+ : g)
        for (size_t t = 0; t < K1; t++)
            g += qb[t] * b[t];
        float v = qa + ix->nb[j] - 2 * g;
        if (len < k || v <= dd[k - 1])
            vb_topk_push(dd, ii, &len, k, nn_dist(q, ix->X + j * d, d), (int32_t)j);
    }
}

#define CHUNK 64

/* One thread's working memory for a block of h queries. */
typedef struct nn_work {
    float *D;          /* h x T bounds of a tile */
    float *QB, *qa, *Qc; /* QB, Qc: with components only */
    double *xc2;
    float *bv, *thr;   /* h x room kept bounds; h thresholds */
    int32_t *bj;       /* h x room their rows */
    size_t *blen;
    unsigned char *trunc;
} nn_work;

static void work_free(nn_work *w)
{
    free(w->D);
    free(w->QB);
    free(w->qa);
    free(w->Qc);
    free(w->xc2);
    free(w->bv);
    free(w->thr);
    free(w->bj);
    free(w->blen);
    free(w->trunc);
}

static int work_alloc(nn_work *w, size_t h, size_t T, size_t K1, size_t d, int centred, size_t room)
{
    memset(w, 0, sizeof *w);
    size_t a, b;
    if (!vb_mul_ok(h, T, &a) || !vb_mul_ok(h, room, &b))
        return 0;
    w->D = malloc(a * sizeof *w->D);
    w->qa = malloc(h * sizeof *w->qa);
    if (centred) {
        w->QB = malloc(h * K1 * sizeof *w->QB);
        w->Qc = malloc(h * d * sizeof *w->Qc);
        w->xc2 = malloc(h * sizeof *w->xc2);
    }
    w->bv = malloc(b * sizeof *w->bv);
    w->thr = malloc(h * sizeof *w->thr);
    w->bj = malloc(b * sizeof *w->bj);
    w->blen = malloc(h * sizeof *w->blen);
    w->trunc = malloc(h);
    return w->D && w->qa && (!centred || (w->QB && w->Qc && w->xc2)) && w->bv && w->thr && w->bj && w->blen &&
           w->trunc;
}

/* Keeps the bounds of query i (bounds g of training rows j0..j0+nt) that
 * are below its threshold; when the buffer reaches cap (and cutting is
 * possible), cuts it to the R smallest and lowers the threshold to the
 * largest of them. */
static void keep_bounds(const vb_nn_index *ix, nn_work *w, size_t room, size_t i, const float *g, size_t j0,
                        size_t nt, size_t cap, size_t R, int cut)
{
    float *v = w->bv + i * room, a = w->qa[i], th = w->thr[i];
    int32_t *jj = w->bj + i * room;
    size_t len = w->blen[i];
    for (size_t c0 = 0; c0 < nt; c0 += CHUNK) {
        size_t cm = nt - c0 < CHUNK ? nt - c0 : CHUNK;
        float u[CHUNK], mn = INFINITY;
        const float *nb = ix->nb + j0 + c0;
#pragma omp simd reduction(min : mn)
        for (size_t t = 0; t < cm; t++) {
            u[t] = a + nb[t] - 2 * g[c0 + t];
            mn = u[t] < mn ? u[t] : mn;
        }
        if (!(mn < th))
            continue;
        /* append the chunk's passes without branching */
        int32_t j = (int32_t)(j0 + c0);
        for (size_t t = 0; t < cm; t++) {
            v[len] = u[t];
            jj[len] = j + (int32_t)t;
            len += u[t] < th;
        }
        if (len >= cap && cut) {
            vb_nn_select(v, jj, len, R - 1);
            len = R;
            th = v[R - 1];
            w->trunc[i] = 1;
        }
    }
    w->blen[i] = len;
    w->thr[i] = th;
}

/* The exact stage of query i: the 2k + 8 smallest bounds summed directly
 * set a k-th distance; then every other kept bound up to it. Returns 0
 * when the query must be redone by scan_all (its k-th distance is not
 * below the threshold of a cut buffer). */
static int exact_stage(const vb_nn_index *ix, nn_work *w, size_t room, size_t i, const float *q, int k, float *dd,
                       int32_t *ii)
{
    size_t d = ix->d, len = w->blen[i], first = (size_t)2 * k + 8;
    float *v = w->bv + i * room;
    int32_t *jj = w->bj + i * room;
    if (first < len)
        vb_nn_select(v, jj, len, first - 1);
    else
        first = len;
    int got = 0;
    for (size_t e = 0; e < first; e++)
        vb_topk_push(dd, ii, &got, k, nn_dist(q, ix->X + (size_t)jj[e] * d, d), jj[e]);
    for (size_t e = first; e < len; e++)
        if (got < k || v[e] <= dd[k - 1])
            vb_topk_push(dd, ii, &got, k, nn_dist(q, ix->X + (size_t)jj[e] * d, d), jj[e]);
    return got == k && !(w->trunc[i] && !(dd[k - 1] < w->thr[i]));
}

vb_status vb_nn_query(const vb_nn_index *ix, const float *Q, size_t nq, int k, double block_mb, float *dist,
                      int32_t *idx, vb_error *err)
{
    if (nq == 0)
        return VB_OK;
    size_t n = ix->n, d = ix->d, K1 = ix->k1;
    const float *B = ix->m ? ix->P : ix->X;
    size_t R = reserve_of(ix, k), cap = 2 * R < n ? 2 * R : n, room = cap + CHUNK;
    int cut = cap < n; /* else every row fits: nothing is ever cut */
    /* Every thread takes whole blocks of queries, with OpenBLAS serial in
     * it: a block's GEMMs, bounds and exact stage run on one core. The
     * budget (block_mb for the tiles of bounds, as much for the kept
     * bounds) is shared by the threads. */
    int nt = vb_get_threads();
    nt = nt < 1 ? 1 : nt;
    double elems = block_mb * 1048576.0 / 4.0 / nt;
    size_t h = (size_t)(elems / 2.0 / (double)room);
    size_t fair = (nq + (size_t)nt - 1) / (size_t)nt; /* small runs: a share per thread */
    h = h < 1 ? 1 : h > 512 ? 512 : h;
    h = h > fair ? fair : h;
    size_t T = (size_t)(elems / (double)h);
    T = T < 1 ? 1 : T > n ? n : T;
    size_t nblocks = (nq + h - 1) / h;
    int fail = 0, saved = vb_blas_serial_enter();
#pragma omp parallel num_threads(nt)
    {
        nn_work w;
        if (!work_alloc(&w, h, T, K1, d, ix->m > 0, room)) {
#pragma omp atomic write
            fail = 1;
        }
#pragma omp barrier
        if (!fail) {
#pragma omp for schedule(dynamic, 1)
            for (size_t blk = 0; blk < nblocks; blk++) {
                size_t r0 = blk * h, hb = nq - r0 < h ? nq - r0 : h;
                const float *Qr = Q + r0 * d;
                query_rows(ix, Qr, hb, w.Qc, w.xc2, w.QB, w.qa);
                const float *L = ix->m ? w.QB : Qr; /* the bound rows */
                for (size_t i = 0; i < hb; i++) {
                    w.blen[i] = 0;
                    w.thr[i] = INFINITY;
                    w.trunc[i] = 0;
                }
                for (size_t j0 = 0; j0 < n; j0 += T) {
                    size_t tn = n - j0 < T ? n - j0 : T;
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)hb, (int)tn, (int)K1, 1.0f, L,
                                (int)K1, B + j0 * K1, (int)K1, 0.0f, w.D, (int)tn);
                    for (size_t i = 0; i < hb; i++)
                        keep_bounds(ix, &w, room, i, w.D + i * tn, j0, tn, cap, R, cut);
                }
                for (size_t i = 0; i < hb; i++) {
                    float *dd = dist + (r0 + i) * (size_t)k;
                    int32_t *ii = idx + (r0 + i) * (size_t)k;
                    if (!exact_stage(ix, &w, room, i, Qr + i * d, k, dd, ii))
                        scan_all(ix, Qr + i * d, L + i * K1, w.qa[i], k, dd, ii);
                }
            }
        }
        work_free(&w);
    }
    vb_blas_serial_leave(saved);
    return fail ? vb_fail(err, VB_ERR_NOMEM, "knn: out of memory for the neighbour search") : VB_OK;
}
