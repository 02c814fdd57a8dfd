/* One spec over several datasets: the datasets x pipelines matrix and
 * Demšar's statistics over it (across.h). */
#include "visbench/across.h"
#include "visbench/chart.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void vb_across_free(vb_across *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < a->n_sets; i++)
        free(a->datasets[i]);
    for (size_t j = 0; j < a->k; j++)
        free(a->pipelines[j]);
    free(a->datasets);
    free(a->exp_ids);
    free(a->pipelines);
    free(a->score);
    free(a->complete);
    free(a->ranks);
    free(a->nemenyi_p);
    free(a);
}

/* The experiments of ref's spec (same name and spec hash): one per dataset
 * the spec ran on (each has its own split), in the order they were made. */
static size_t siblings(const vb_store_exp_info *list, size_t n, const vb_store_exp_info *ref, size_t *out)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i].name, ref->name) == 0 && strcmp(list[i].spec_hash, ref->spec_hash) == 0)
            out[m++] = i;
    return m;
}

/* Row names: the datasets' names, "#2" after one that repeats. */
static char *row_name(const vb_store_exp_info *list, const size_t *rows, size_t i, vb_error *err)
{
    size_t same = 0;
    for (size_t j = 0; j < i; j++)
        same += strcmp(list[rows[j]].dataset, list[rows[i]].dataset) == 0;
    char *t = same ? vb_asprintf("%s #%zu", list[rows[i]].dataset, same + 1) : vb_strdup(list[rows[i]].dataset, err);
    if (!t)
        vb_fail(err, VB_ERR_NOMEM, "out of memory");
    return t;
}

static size_t pipeline_of(const vb_across *a, const char *name)
{
    for (size_t j = 0; j < a->k; j++)
        if (strcmp(a->pipelines[j], name) == 0)
            return j;
    return SIZE_MAX;
}

/* Scores of one experiment's pipelines into row i (new pipelines appended). */
static vb_status fill_row(vb_across *a, size_t i, const vb_summary *s, size_t cap, vb_error *err)
{
    for (size_t r = 0; r < s->n; r++) {
        size_t j = pipeline_of(a, s->rows[r].pipeline);
        if (j == SIZE_MAX) {
            if (a->k >= cap)
                return vb_fail(err, VB_ERR_INTERNAL, "more pipelines than runs");
            if (!(a->pipelines[a->k] = vb_strdup(s->rows[r].pipeline, err)))
                return VB_ERR_NOMEM;
            j = a->k++;
        }
        a->score[i * cap + j] = vb_summary_score(s, &s->rows[r]);
    }
    if (s->by_nmi)
        a->metric = "nmi";
    return VB_OK;
}

/* The statistics over the complete pipelines. */
static vb_status stats(vb_across *a, vb_error *err)
{
    size_t N = a->n_sets, k = a->k, kc = 0;
    for (size_t j = 0; j < k; j++) {
        int all = 1;
        for (size_t i = 0; i < N; i++)
            all &= !isnan(a->score[i * k + j]);
        a->complete[j] = (unsigned char)all;
        kc += all;
        a->ranks[j] = NAN;
    }
    for (size_t x = 0; x < k * k; x++)
        a->nemenyi_p[x] = NAN;
    a->n_complete = kc;
    if (N < 2 || kc < 2 || kc > VB_NEMENYI_MAX_K)
        return VB_OK;
    double *sub = vb_malloc(N * kc, sizeof *sub, err), *r = vb_malloc(kc, sizeof *r, err);
    double *p = vb_malloc(kc * kc, sizeof *p, err);
    vb_status st = sub && r && p ? VB_OK : VB_ERR_NOMEM;
    for (size_t i = 0; st == VB_OK && i < N; i++)
        for (size_t j = 0, c = 0; j < k; j++)
            if (a->complete[j])
                sub[i * kc + c++] = a->score[i * k + j];
    if (st == VB_OK)
        st = vb_average_ranks(sub, N, kc, r, err);
    if (st == VB_OK)
        st = vb_friedman_test(r, N, kc, &a->friedman, err);
    if (st == VB_OK)
        st = vb_nemenyi_cd(kc, N, 0.05, &a->cd05, err);
    if (st == VB_OK)
        st = vb_nemenyi_cd(kc, N, 0.10, &a->cd10, err);
    if (st == VB_OK)
        st = vb_nemenyi_pvalues(r, kc, N, p, err);
    if (st == VB_OK) {
        size_t *col = vb_malloc(kc, sizeof *col, err); /* complete column c -> pipeline */
        if (!col)
            st = VB_ERR_NOMEM;
        for (size_t j = 0, c = 0; col && j < k; j++)
            if (a->complete[j])
                col[c++] = j;
        for (size_t c = 0; col && c < kc; c++) {
            a->ranks[col[c]] = r[c];
            for (size_t d = 0; d < kc; d++)
                a->nemenyi_p[col[c] * k + col[d]] = p[c * kc + d];
        }
        free(col);
        a->have_stats = st == VB_OK;
    }
    free(sub);
    free(r);
    free(p);
    return st;
}

vb_status vb_across_build(vb_store *s, int64_t exp, vb_across **out, vb_error *err)
{
    *out = NULL;
    vb_store_exp_info *list = NULL;
    size_t n = 0;
    vb_status st = vb_store_list(s, &list, &n, err);
    if (st != VB_OK)
        return st;
    const vb_store_exp_info *ref = NULL;
    for (size_t i = 0; i < n; i++)
        if (exp ? list[i].id == exp : 1)
            ref = &list[i]; /* (the latest: the last listed) */
    if (!ref) {
        vb_store_list_free(list, n);
        return vb_fail(err, VB_ERR_DATA, "%s: no experiment %lld", vb_store_path(s), (long long)exp);
    }
    size_t *rows = vb_calloc(n, sizeof *rows, err);
    vb_across *a = rows ? vb_calloc(1, sizeof *a, err) : NULL;
    if (!a) {
        free(rows);
        vb_store_list_free(list, n);
        return VB_ERR_NOMEM;
    }
    size_t N = siblings(list, n, ref, rows), cap = 0;
    for (size_t i = 0; i < N; i++)
        cap += list[rows[i]].n_runs;
    cap = cap ? cap : 1;
    a->metric = "accuracy";
    a->datasets = vb_calloc(N, sizeof *a->datasets, err);
    a->exp_ids = vb_calloc(N, sizeof *a->exp_ids, err);
    a->pipelines = vb_calloc(cap, sizeof *a->pipelines, err);
    a->score = vb_malloc(N * cap, sizeof *a->score, err);
    if (!a->datasets || !a->exp_ids || !a->pipelines || !a->score)
        st = VB_ERR_NOMEM;
    for (size_t x = 0; st == VB_OK && x < N * cap; x++)
        a->score[x] = NAN;
    for (size_t i = 0; st == VB_OK && i < N; i++) {
        vb_store_exp *e = NULL;
        vb_summary *sum = NULL;
        a->exp_ids[i] = list[rows[i]].id;
        if (!(a->datasets[i] = row_name(list, rows, i, err)))
            st = VB_ERR_NOMEM;
        a->n_sets = i + 1;
        if (st == VB_OK)
            st = vb_store_load(s, list[rows[i]].id, 0, &e, err);
        if (st == VB_OK)
            st = vb_summary_build(e, &sum, err);
        if (st == VB_OK)
            st = fill_row(a, i, sum, cap, err);
        vb_summary_free(sum);
        vb_store_exp_free(e);
    }
    /* the matrix packed to k columns */
    size_t k = a->k;
    for (size_t i = 0; st == VB_OK && i < N; i++)
        memmove(a->score + i * k, a->score + i * cap, (k ? k : 1) * sizeof *a->score);
    if (st == VB_OK) {
        a->complete = vb_calloc(k ? k : 1, 1, err);
        a->ranks = vb_calloc(k ? k : 1, sizeof *a->ranks, err);
        a->nemenyi_p = vb_calloc(k ? k * k : 1, sizeof *a->nemenyi_p, err);
        st = a->complete && a->ranks && a->nemenyi_p ? stats(a, err) : VB_ERR_NOMEM;
    }
    free(rows);
    vb_store_list_free(list, n);
    if (st != VB_OK) {
        vb_across_free(a);
        return st;
    }
    *out = a;
    return VB_OK;
}

/* ---- rendering ------------------------------------------------------------ */

static void num(vb_buf *b, double v, int w)
{
    if (isnan(v))
        vb_buf_printf(b, "%*s", w, "-");
    else
        vb_buf_printf(b, "%*.4f", w, v);
}

/* "Friedman chi2 = 9.28 (p = 0.026), Iman-Davenport F = 3.69 (p = 0.020)" */
static void tests_text(const vb_across *a, vb_buf *b)
{
    const vb_friedman *f = &a->friedman;
    vb_buf_printf(b, "Friedman chi2 = %.3f (p = %.3g), Iman-Davenport F(%g, %g) = %.3f (p = %.3g), over %zu datasets "
                     "and %zu pipelines; Nemenyi CD = %.3f at 0.05 (%.3f at 0.10)",
                  f->chi2, f->p_chi2, f->df1, f->df2, f->ff, f->p_ff, a->n_sets, a->n_complete, a->cd05, a->cd10);
}

/* The pairs Nemenyi separates at 0.05, "a > b (p = 0.01)". */
static size_t different_pairs(const vb_across *a, vb_buf *b, const char *sep)
{
    size_t m = 0;
    for (size_t i = 0; i < a->k; i++)
        for (size_t j = i + 1; j < a->k; j++) {
            double p = a->nemenyi_p[i * a->k + j];
            if (isnan(p) || p >= VB_SUMMARY_ALPHA)
                continue;
            size_t better = a->ranks[i] < a->ranks[j] ? i : j, worse = better == i ? j : i;
            vb_buf_printf(b, "%s%s > %s (p = %.3g)", m++ ? sep : "", a->pipelines[better], a->pipelines[worse], p);
        }
    return m;
}

static void render_json(const vb_across *a, vb_buf *b)
{
    vb_buf_printf(b, "{\"metric\": \"%s\", \"datasets\": [", a->metric);
    for (size_t i = 0; i < a->n_sets; i++) {
        vb_buf_puts(b, i ? ", " : "");
        vb_buf_json_str(b, a->datasets[i]);
    }
    vb_buf_puts(b, "], \"pipelines\": [");
    for (size_t j = 0; j < a->k; j++) {
        vb_buf_puts(b, j ? ", " : "");
        vb_buf_json_str(b, a->pipelines[j]);
    }
    vb_buf_puts(b, "], \"scores\": [");
    for (size_t i = 0; i < a->n_sets; i++) {
        vb_buf_puts(b, i ? ", [" : "[");
        for (size_t j = 0; j < a->k; j++) {
            vb_buf_puts(b, j ? ", " : "");
            vb_buf_double(b, a->score[i * a->k + j]);
        }
        vb_buf_puts(b, "]");
    }
    vb_buf_puts(b, "], \"average_ranks\": [");
    for (size_t j = 0; j < a->k; j++) {
        vb_buf_puts(b, j ? ", " : "");
        vb_buf_double(b, a->ranks[j]);
    }
    vb_buf_puts(b, "]");
    if (a->have_stats) {
        vb_buf_puts(b, ", \"friedman\": {\"chi2\": ");
        vb_buf_double(b, a->friedman.chi2);
        vb_buf_puts(b, ", \"p\": ");
        vb_buf_double(b, a->friedman.p_chi2);
        vb_buf_puts(b, ", \"iman_davenport_f\": ");
        vb_buf_double(b, a->friedman.ff);
        vb_buf_puts(b, ", \"iman_davenport_p\": ");
        vb_buf_double(b, a->friedman.p_ff);
        vb_buf_puts(b, "}, \"nemenyi_cd_05\": ");
        vb_buf_double(b, a->cd05);
        vb_buf_puts(b, ", \"nemenyi_cd_10\": ");
        vb_buf_double(b, a->cd10);
    }
    vb_buf_puts(b, "}");
}

void vb_render_across(const vb_across *a, vb_format fmt, vb_buf *b)
{
    if (a->n_sets < 2)
        return;
    size_t k = a->k;
    if (fmt == VB_FMT_JSON) {
        render_json(a, b);
        return;
    }
    if (fmt == VB_FMT_CSV) {
        vb_buf_puts(b, "dataset");
        for (size_t j = 0; j < k; j++) {
            vb_buf_puts(b, ",");
            vb_buf_csv_field(b, a->pipelines[j]);
        }
        vb_buf_puts(b, "\n");
        for (size_t i = 0; i <= a->n_sets; i++) {
            if (i < a->n_sets)
                vb_buf_csv_field(b, a->datasets[i]);
            else
                vb_buf_puts(b, "average rank");
            for (size_t j = 0; j < k; j++) {
                double v = i < a->n_sets ? a->score[i * k + j] : a->ranks[j];
                if (isnan(v))
                    vb_buf_puts(b, ",");
                else
                    vb_buf_printf(b, ",%.6g", v);
            }
            vb_buf_puts(b, "\n");
        }
        return;
    }
    int md = fmt == VB_FMT_MD;
    vb_buf_printf(b, "%sacross %zu datasets: each pipeline's %s (on the test fold, else the mean over CV folds)\n%s",
                  md ? "\n### " : "\n", a->n_sets, a->metric, md ? "\n" : "");
    if (md) {
        vb_buf_puts(b, "| dataset |");
        for (size_t j = 0; j < k; j++) {
            vb_buf_puts(b, " ");
            vb_md_cell(b, a->pipelines[j]);
            vb_buf_puts(b, " |");
        }
        vb_buf_puts(b, "\n| --- |");
        for (size_t j = 0; j < k; j++)
            vb_buf_puts(b, " ---: |");
        vb_buf_puts(b, "\n");
    } else {
        vb_buf_printf(b, "%-22s", "dataset");
        for (size_t j = 0; j < k; j++)
            vb_buf_printf(b, " %12.12s", a->pipelines[j]);
        vb_buf_puts(b, "\n");
    }
    for (size_t i = 0; i <= a->n_sets; i++) {
        const char *name = i < a->n_sets ? a->datasets[i] : "average rank";
        if (md) {
            vb_buf_puts(b, "| ");
            vb_md_cell(b, name);
            vb_buf_puts(b, " |");
        } else
            vb_buf_printf(b, "%-22.22s", name);
        for (size_t j = 0; j < k; j++) {
            double v = i < a->n_sets ? a->score[i * k + j] : a->ranks[j];
            if (md) {
                vb_buf_puts(b, " ");
                num(b, v, 0);
                vb_buf_puts(b, " |");
            } else {
                vb_buf_puts(b, " ");
                num(b, v, 12);
            }
        }
        vb_buf_puts(b, "\n");
    }
    if (!a->have_stats) {
        vb_buf_printf(b, "%s(the tests need at least 2 datasets and 2 pipelines with a score on each)\n",
                      md ? "\n" : "");
        return;
    }
    vb_buf_puts(b, md ? "\n" : "");
    tests_text(a, b);
    vb_buf_puts(b, md ? "\n\nNemenyi, p < 0.05: " : "\nNemenyi, p < 0.05: ");
    if (!different_pairs(a, b, "; "))
        vb_buf_puts(b, "no two pipelines differ significantly");
    vb_buf_puts(b, "\n");
}

void vb_render_across_html(const vb_across *a, vb_buf *b)
{
    if (a->n_sets < 2)
        return;
    vb_buf_printf(b, "<section id=\"datasets\"><h2>Across datasets</h2>\n<p class=\"small\">Each pipeline's %s "
                     "on each of the %zu datasets (on the test fold, else the mean over CV folds), the average "
                     "ranks and Dem&#353;ar's (2006) tests over the pipelines that have a score on every "
                     "dataset.</p>\n<div class=\"scroll\"><table><thead><tr><th>dataset</th>",
                  a->metric, a->n_sets);
    for (size_t j = 0; j < a->k; j++) {
        vb_buf_puts(b, "<th>");
        vb_html_text(b, a->pipelines[j]);
        vb_buf_puts(b, "</th>");
    }
    vb_buf_puts(b, "</tr></thead><tbody>\n");
    for (size_t i = 0; i <= a->n_sets; i++) {
        vb_buf_puts(b, i < a->n_sets ? "<tr><td>" : "<tr class=\"ranks\"><td>average rank");
        if (i < a->n_sets)
            vb_html_text(b, a->datasets[i]);
        vb_buf_puts(b, "</td>");
        for (size_t j = 0; j < a->k; j++) {
            double v = i < a->n_sets ? a->score[i * a->k + j] : a->ranks[j];
            vb_buf_puts(b, "<td class=\"num\">");
            num(b, v, 0);
            vb_buf_puts(b, "</td>");
        }
        vb_buf_puts(b, "</tr>\n");
    }
    vb_buf_puts(b, "</tbody></table></div>\n");
    if (a->have_stats) {
        vb_buf_puts(b, "<p>");
        vb_buf tmp;
        vb_buf_init(&tmp);
        tests_text(a, &tmp);
        vb_buf_puts(&tmp, ". Nemenyi, p &lt; 0.05: ");
        vb_html_text(b, tmp.data ? tmp.data : "");
        vb_buf_free(&tmp);
        vb_buf_init(&tmp);
        if (!different_pairs(a, &tmp, "; "))
            vb_buf_puts(&tmp, "no two pipelines differ significantly");
        vb_html_text(b, tmp.data ? tmp.data : "");
        vb_buf_free(&tmp);
        vb_buf_puts(b, ".</p>\n<figure>");
        vb_cd_diagram cd = {.id = "cd-diagram", .title = "Critical difference (Nemenyi, 0.05)", .n = a->k,
                            .labels = (const char *const *)a->pipelines, .ranks = a->ranks, .cd = a->cd05,
                            .cd_label = "Nemenyi CD at 0.05"};
        vb_chart_cd(&cd, b);
        vb_buf_puts(b, "<figcaption>Average ranks (1 = best); pipelines joined by a line do not differ "
                       "significantly (Nemenyi, 0.05).</figcaption></figure>\n");
    } else
        vb_buf_puts(b, "<p class=\"note\">The tests need at least 2 datasets and 2 pipelines with a score on "
                       "each.</p>\n");
    vb_buf_puts(b, "</section>\n");
}
