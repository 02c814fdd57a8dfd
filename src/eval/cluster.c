/* Clustering metrics: purity, normalised mutual information, adjusted Rand
 * index, all from the contingency table of classes x clusters. */
#include "visbench/eval.h"

#include <math.h>
#include <stdlib.h>

/* n choose 2, in double (exact up to 2^53). */
static double comb2(double x) { return x * (x - 1) / 2; }

static double entropy(const size_t *cnt, size_t k, double n)
{
    double h = 0;
    for (size_t i = 0; i < k; i++)
        if (cnt[i]) {
            double p = (double)cnt[i] / n;
            h -= p * log(p);
        }
    return h;
}

vb_status vb_cluster_compare(const int *truth, const int *assign, size_t n, int n_classes, int n_clusters,
                             vb_cluster_scores *out, vb_error *err)
{
    out->purity = out->nmi = out->ari = 0;
    if (n_classes < 1 || n_clusters < 1)
        return vb_fail(err, VB_ERR_DATA, "clustering metrics: %d classes and %d clusters", n_classes, n_clusters);
    size_t K = (size_t)n_classes, C = (size_t)n_clusters, cells;
    if (!vb_mul_ok(K, C, &cells))
        return vb_fail(err, VB_ERR_NOMEM, "clustering metrics: table too large");
    size_t *tab = vb_calloc(cells + K + C, sizeof *tab, err);
    if (!tab)
        return VB_ERR_NOMEM;
    size_t *rows = tab + cells, *cols = rows + K;
    for (size_t i = 0; i < n; i++) {
        if (truth[i] < 0 || truth[i] >= n_classes || assign[i] < 0 || assign[i] >= n_clusters) {
            free(tab);
            return vb_fail(err, VB_ERR_DATA, "clustering metrics: label or cluster out of range at sample %zu", i);
        }
        tab[(size_t)truth[i] * C + (size_t)assign[i]]++;
        rows[truth[i]]++;
        cols[assign[i]]++;
    }
    if (n == 0) {
        free(tab);
        return VB_OK;
    }
    double N = (double)n;
    /* purity: each cluster counts its majority class */
    double pure = 0;
    for (size_t c = 0; c < C; c++) {
        size_t best = 0;
        for (size_t k = 0; k < K; k++)
            if (tab[k * C + c] > best)
                best = tab[k * C + c];
        pure += (double)best;
    }
    out->purity = pure / N;
    /* mutual information and entropies (natural log) */
    double mi = 0, sum_ij = 0;
    for (size_t k = 0; k < K; k++)
        for (size_t c = 0; c < C; c++) {
            double v = (double)tab[k * C + c];
            if (v > 0)
                mi += v / N * log(v * N / ((double)rows[k] * (double)cols[c]));
            sum_ij += comb2(v);
        }
    double hu = entropy(rows, K, N), hv = entropy(cols, C, N);
    size_t used_k = 0, used_c = 0;
    for (size_t k = 0; k < K; k++)
        used_k += rows[k] > 0;
    for (size_t c = 0; c < C; c++)
        used_c += cols[c] > 0;
    if (used_k == 1 && used_c == 1)
        out->nmi = 1;
    else if (used_k == 1 || used_c == 1)
        out->nmi = 0;
    else
        out->nmi = fmax(mi, 0) / fmax((hu + hv) / 2, 1e-300);
    /* ARI: (index - expected) / (max - expected) */
    double sa = 0, sb = 0;
    for (size_t k = 0; k < K; k++)
        sa += comb2((double)rows[k]);
    for (size_t c = 0; c < C; c++)
        sb += comb2((double)cols[c]);
    double expected = n > 1 ? sa * sb / comb2(N) : 0, maxi = (sa + sb) / 2;
    out->ari = maxi == expected ? 1.0 : (sum_ij - expected) / (maxi - expected);
    free(tab);
    return VB_OK;
}
