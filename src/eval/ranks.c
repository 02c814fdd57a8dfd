/* Comparing several methods: corrections of a family of p-values, and
 * (Demšar 2006, "Statistical Comparisons of Classifiers over Multiple Data
 * Sets", JMLR 7) average ranks over data sets, the Friedman and
 * Iman-Davenport tests, and the Nemenyi post-hoc test. */
#include "visbench/eval.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- corrections ------------------------------------------------------- */

static const char *const correction_names[] = {"none", "holm", "bonferroni"};

const char *vb_correction_name(vb_correction c)
{
    return (unsigned)c < 3 ? correction_names[c] : "?";
}

int vb_correction_parse(const char *name, vb_correction *out)
{
    for (int i = 0; name && i < 3; i++)
        if (strcmp(name, correction_names[i]) == 0) {
            *out = (vb_correction)i;
            return 1;
        }
    return 0;
}

typedef struct p_at {
    double p;
    size_t i;
} p_at;

/* Ascending p, ties in input order: a total order, so the sort is the
 * same everywhere. */
static int by_p(const void *a, const void *b)
{
    const p_at *x = a, *y = b;
    if (x->p != y->p)
        return x->p < y->p ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

vb_status vb_p_adjust(const double *p, size_t m, vb_correction c, double *out, vb_error *err)
{
    size_t n = 0;
    for (size_t i = 0; i < m; i++) {
        if (isnan(p[i]))
            continue;
        if (p[i] < 0 || p[i] > 1)
            return vb_fail(err, VB_ERR_PARAM, "p-value %zu of %zu is %g, not in [0, 1]", i + 1, m, p[i]);
        n++;
    }
    if (c == VB_CORRECT_NONE || c == VB_CORRECT_BONFERRONI) {
        for (size_t i = 0; i < m; i++)
            out[i] = c == VB_CORRECT_NONE || isnan(p[i]) ? p[i] : fmin(1, (double)n * p[i]);
        return VB_OK;
    }
    if (c != VB_CORRECT_HOLM)
        return vb_fail(err, VB_ERR_PARAM, "unknown correction %d", (int)c);
    p_at *v = vb_malloc(n ? n : 1, sizeof *v, err);
    if (!v)
        return VB_ERR_NOMEM;
    size_t k = 0;
    for (size_t i = 0; i < m; i++) {
        if (!isnan(p[i]))
            v[k++] = (p_at){p[i], i};
        else
            out[i] = NAN;
    }
    qsort(v, n, sizeof *v, by_p);
    double run = 0; /* the running maximum makes the adjusted values monotone */
    for (size_t j = 0; j < n; j++) {
        run = fmax(run, fmin(1, (double)(n - j) * v[j].p));
        v[j].p = run;
    }
    for (size_t j = 0; j < n; j++)
        out[v[j].i] = v[j].p;
    free(v);
    return VB_OK;
}
