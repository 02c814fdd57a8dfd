/* Leaderboard, pairwise and prediction tables in text, Markdown, CSV, JSON. */
#include "internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int vb_format_parse(const char *s, vb_format *out)
{
    static const char *const names[] = {"text", "md", "csv", "json", "html"};
    for (int i = 0; i < 5; i++)
        if (strcmp(s, names[i]) == 0) {
            *out = (vb_format)i;
            return 1;
        }
    if (strcmp(s, "markdown") == 0) {
        *out = VB_FMT_MD;
        return 1;
    }
    return 0;
}

void vb_md_cell(vb_buf *b, const char *s)
{
    for (const char *p = s ? s : ""; *p; p++) {
        switch (*p) {
        case '|': vb_buf_puts(b, "\\|"); break;
        /* '<' could open an HTML tag and '&' an entity; '>' means nothing
         * inside a cell, so "hog -> svm" stays readable as plain text */
        case '<': vb_buf_puts(b, "&lt;"); break;
        case '&': vb_buf_puts(b, "&amp;"); break;
        case '\n': vb_buf_puts(b, " "); break;
        case '*': case '_': case '`': case '[': case ']': case '\\':
            vb_buf_append(b, "\\", 1);
            vb_buf_append(b, p, 1);
            break;
        default: vb_buf_append(b, p, 1);
        }
    }
}

void vb_html_text(vb_buf *b, const char *s)
{
    for (const char *p = s ? s : ""; *p; p++) {
        switch (*p) {
        case '<': vb_buf_puts(b, "&lt;"); break;
        case '>': vb_buf_puts(b, "&gt;"); break;
        case '&': vb_buf_puts(b, "&amp;"); break;
        case '"': vb_buf_puts(b, "&quot;"); break;
        case '\'': vb_buf_puts(b, "&#39;"); break;
        default: vb_buf_append(b, p, 1);
        }
    }
}

/* A number cell: fixed decimals, or "-" for NaN. */
static void num(vb_buf *b, double v, int decimals)
{
    if (isnan(v))
        vb_buf_puts(b, "-");
    else
        vb_buf_printf(b, "%.*f", decimals, v);
}

static void mean_sd(vb_buf *b, const vb_stat *s, int decimals)
{
    if (isnan(s->mean)) {
        vb_buf_puts(b, "-");
        return;
    }
    vb_buf_printf(b, "%.*f", decimals, s->mean);
    if (!isnan(s->sd))
        vb_buf_printf(b, " ± %.*f", decimals, s->sd);
}

static void json_num(vb_buf *b, const char *key, double v)
{
    vb_buf_printf(b, ", \"%s\": ", key);
    vb_buf_double(b, v); /* NaN -> null */
}

/* ---- provenance: where the experiment's runs ran ------------------------ */

typedef enum prov_field { PROV_VERSION, PROV_COMPILER, PROV_HOST, PROV_CPU, PROV_THREADS } prov_field;

/* A run that has finished (done or failed) says where it ran. */
static int run_finished(const vb_store_run *r) { return strcmp(r->status, "running") != 0; }

static const char *prov_value(const vb_store_run *r, prov_field f, char tmp[16])
{
    if (!run_finished(r))
        return NULL;
    switch (f) {
    case PROV_VERSION: return r->version;
    case PROV_COMPILER: return r->compiler;
    case PROV_HOST: return r->host;
    case PROV_CPU: return r->cpu;
    case PROV_THREADS:
        if (r->threads <= 0)
            return NULL;
        snprintf(tmp, 16, "%d", r->threads);
        return tmp;
    }
    return NULL;
}

/* The distinct values of a field over the finished runs, in run order:
 * "a, b" ("unknown" when no run says), or a JSON array. */
static void prov_list(const vb_store_exp *e, prov_field f, int json, vb_buf *b)
{
    size_t n = 0;
    if (json)
        vb_buf_puts(b, "[");
    for (size_t i = 0; i < e->n_runs; i++) {
        char t1[16], t2[16];
        const char *v = prov_value(&e->runs[i], f, t1);
        int seen = !v;
        for (size_t j = 0; j < i && !seen; j++) {
            const char *w = prov_value(&e->runs[j], f, t2);
            seen = w && strcmp(v, w) == 0;
        }
        if (seen)
            continue;
        if (n++)
            vb_buf_puts(b, ", ");
        if (json && f != PROV_THREADS)
            vb_buf_json_str(b, v);
        else
            vb_buf_puts(b, v);
    }
    if (json)
        vb_buf_puts(b, "]");
    else if (!n)
        vb_buf_puts(b, "unknown");
}

/* The earliest start and latest end of the finished runs (NULL: none). */
static void run_span(const vb_store_exp *e, const char **first, const char **last)
{
    *first = *last = NULL;
    for (size_t i = 0; i < e->n_runs; i++) {
        const vb_store_run *r = &e->runs[i];
        if (!run_finished(r))
            continue;
        if (r->started && (!*first || strcmp(r->started, *first) < 0))
            *first = r->started;
        if (r->finished && (!*last || strcmp(r->finished, *last) > 0))
            *last = r->finished;
    }
}

const char *rep_first_start(const vb_store_exp *e)
{
    const char *first, *last;
    run_span(e, &first, &last);
    return first ? first : e->created;
}

/* "visbench 0.1.0, gcc 12.2.0, host h (CPU), 2 threads" as plain text. */
static void prov_text(const vb_store_exp *e, vb_buf *b)
{
    vb_buf_puts(b, "visbench ");
    prov_list(e, PROV_VERSION, 0, b);
    vb_buf_puts(b, ", ");
    prov_list(e, PROV_COMPILER, 0, b);
    vb_buf_puts(b, ", host ");
    prov_list(e, PROV_HOST, 0, b);
    vb_buf_puts(b, " (");
    prov_list(e, PROV_CPU, 0, b);
    vb_buf_puts(b, "), threads ");
    prov_list(e, PROV_THREADS, 0, b);
}

static void json_str_or_null(vb_buf *b, const char *key, const char *v)
{
    vb_buf_printf(b, ", \"%s\": ", key);
    if (v)
        vb_buf_json_str(b, v);
    else
        vb_buf_puts(b, "null");
}

void vb_render_experiment(const vb_store_exp *e, vb_format fmt, vb_buf *b)
{
    const char *first, *last;
    run_span(e, &first, &last);
    if (fmt == VB_FMT_JSON) {
        vb_buf_printf(b, "{\"id\": %lld, \"name\": ", (long long)e->id);
        vb_buf_json_str(b, e->name);
        vb_buf_puts(b, ", \"dataset\": ");
        vb_buf_json_str(b, e->dataset);
        vb_buf_puts(b, ", \"protocol\": ");
        vb_buf_json_str(b, e->protocol);
        json_str_or_null(b, "pool", e->pool);
        vb_buf_puts(b, ", \"split_hash\": ");
        vb_buf_json_str(b, e->split_hash);
        vb_buf_printf(b, ", \"seed\": %llu", (unsigned long long)e->seed);
        json_str_or_null(b, "created", e->created);
        json_str_or_null(b, "updated", e->updated);
        /* where the runs ran: the distinct values over the finished runs */
        static const struct {
            const char *key;
            prov_field f;
        } lists[] = {{"visbench", PROV_VERSION}, {"compiler", PROV_COMPILER}, {"host", PROV_HOST},
                     {"cpu", PROV_CPU},          {"threads", PROV_THREADS}};
        for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++) {
            vb_buf_printf(b, ", \"%s\": ", lists[i].key);
            prov_list(e, lists[i].f, 1, b);
        }
        json_str_or_null(b, "started", first);
        json_str_or_null(b, "finished", last);
        vb_buf_puts(b, ", \"classes\": [");
        for (int k = 0; k < e->n_classes; k++) {
            if (k)
                vb_buf_puts(b, ", ");
            vb_buf_json_str(b, e->classes[k]);
        }
        vb_buf_puts(b, "]}");
        return;
    }
    if (fmt == VB_FMT_CSV)
        return;
    if (fmt == VB_FMT_HTML) {
        char seed[32], id[32];
        snprintf(seed, sizeof seed, "%llu", (unsigned long long)e->seed);
        snprintf(id, sizeof id, "%lld", (long long)e->id);
        vb_buf lists[5];
        for (int i = 0; i < 5; i++) {
            vb_buf_init(&lists[i]);
            prov_list(e, (prov_field)i, 0, &lists[i]);
        }
        /* In pairs: the list is laid out two per row. */
        struct {
            const char *key, *value;
        } kv[] = {{"experiment", e->name},
                  {"experiment id", id},
                  {"dataset", e->dataset},
                  {"dataset hash", e->dataset_hash},
                  {"split protocol", e->protocol},
                  {"split hash", e->split_hash},
                  {"seed", seed},
                  {"spec hash", e->spec_hash},
                  {"visbench", lists[PROV_VERSION].data},
                  {"compiler", lists[PROV_COMPILER].data},
                  {"host", lists[PROV_HOST].data},
                  {"machine", lists[PROV_CPU].data},
                  {"threads", lists[PROV_THREADS].data},
                  {"created", e->created},
                  {"first run started", first ? first : "no finished run"},
                  {"last run finished", last ? last : "no finished run"}};
        vb_buf_puts(b, "<dl class=\"meta\">");
        for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++) {
            vb_buf_printf(b, "<dt>%s</dt><dd>", kv[i].key);
            vb_html_text(b, kv[i].value);
            vb_buf_puts(b, "</dd>");
        }
        for (int i = 0; i < 5; i++) {
            b->failed |= lists[i].failed; /* out of memory fails the page, not a blank field */
            vb_buf_free(&lists[i]);
        }
        vb_buf_printf(b, "<dt class=\"wide\">classes</dt><dd class=\"wide\">%d: ", e->n_classes);
        for (int k = 0; k < e->n_classes; k++) {
            if (k)
                vb_buf_puts(b, ", ");
            vb_buf_puts(b, "<span class=\"cls\">");
            vb_html_text(b, e->classes[k]);
            vb_buf_puts(b, "</span>");
        }
        vb_buf_puts(b, "</dd></dl>\n");
        return;
    }
    vb_buf prov;
    vb_buf_init(&prov);
    prov_text(e, &prov);
    if (fmt == VB_FMT_MD) {
        vb_buf_puts(b, "**");
        vb_md_cell(b, e->name);
        vb_buf_puts(b, "** on ");
        vb_md_cell(b, e->dataset);
        vb_buf_printf(b, " — %s split `%s`, seed %llu, %d classes  \n", e->protocol, e->split_hash,
                      (unsigned long long)e->seed, e->n_classes);
        vb_buf_puts(b, "runs: ");
        vb_md_cell(b, prov.data);
        vb_buf_printf(b, "; %s .. %s\n\n", first ? first : "none finished", last ? last : "");
    } else {
        vb_buf_printf(b, "experiment %lld: %s on %s, %s split %s, seed %llu, %d classes\n", (long long)e->id,
                      e->name, e->dataset, e->protocol, e->split_hash, (unsigned long long)e->seed, e->n_classes);
        vb_buf_printf(b, "runs: %s; %s .. %s\n\n", prov.data ? prov.data : "", first ? first : "none finished",
                      last ? last : "");
    }
    b->failed |= prov.failed;
    vb_buf_free(&prov);
}

void vb_render_experiments(const vb_store_exp_info *list, size_t n, vb_format fmt, vb_buf *b)
{
    if (fmt == VB_FMT_JSON) {
        vb_buf_puts(b, "[");
        for (size_t i = 0; i < n; i++) {
            const vb_store_exp_info *x = &list[i];
            vb_buf_printf(b, "%s{\"id\": %lld", i ? ", " : "", (long long)x->id);
            const char *keys[6] = {"name", "dataset", "protocol", "split_hash", "created", "updated"};
            const char *vals[6] = {x->name, x->dataset, x->protocol, x->split_hash, x->created, x->updated};
            for (int k = 0; k < 6; k++)
                json_str_or_null(b, keys[k], vals[k]);
            vb_buf_printf(b, ", \"runs\": %zu, \"done\": %zu, \"failed\": %zu}", x->n_runs, x->n_done, x->n_failed);
        }
        vb_buf_puts(b, "]\n");
        return;
    }
    if (fmt == VB_FMT_CSV) {
        vb_buf_puts(b, "id,name,dataset,protocol,split_hash,runs,done,failed,created,updated\n");
        for (size_t i = 0; i < n; i++) {
            const vb_store_exp_info *x = &list[i];
            vb_buf_printf(b, "%lld,", (long long)x->id);
            const char *vals[4] = {x->name, x->dataset, x->protocol, x->split_hash};
            for (int k = 0; k < 4; k++) {
                vb_buf_csv_field(b, vals[k]);
                vb_buf_puts(b, ",");
            }
            vb_buf_printf(b, "%zu,%zu,%zu,%s,%s\n", x->n_runs, x->n_done, x->n_failed, x->created, x->updated);
        }
        return;
    }
    int md = fmt == VB_FMT_MD;
    if (md)
        vb_buf_puts(b, "| id | experiment | dataset | protocol | split | done | failed | created | updated |\n"
                       "|---:|---|---|---|---|---:|---:|---|---|\n");
    else
        vb_buf_printf(b, "%-4s %-20s %-16s %-13s %-16s %5s %5s %6s  %-24s  %s\n", "id", "experiment", "dataset",
                      "protocol", "split", "runs", "done", "failed", "created", "updated");
    for (size_t i = 0; i < n; i++) {
        const vb_store_exp_info *x = &list[i];
        if (md) {
            vb_buf_printf(b, "| %lld | ", (long long)x->id);
            vb_md_cell(b, x->name);
            vb_buf_puts(b, " | ");
            vb_md_cell(b, x->dataset);
            vb_buf_printf(b, " | %s | `%s` | %zu of %zu | %zu | %s | %s |\n", x->protocol, x->split_hash, x->n_done,
                          x->n_runs, x->n_failed, x->created, x->updated);
        } else
            vb_buf_printf(b, "%-4lld %-20s %-16s %-13s %-16s %5zu %5zu %6zu  %-24s  %s\n", (long long)x->id, x->name,
                          x->dataset, x->protocol, x->split_hash, x->n_runs, x->n_done, x->n_failed, x->created,
                          x->updated);
    }
}

void rep_correction_phrase(vb_buf *b, vb_correction c, size_t n, const char *one, const char *many)
{
    const char *what = n == 1 ? one : many;
    if (c == VB_CORRECT_NONE)
        vb_buf_printf(b, "without correction for %zu %s", n, what);
    else
        vb_buf_printf(b, "after %s's correction over %zu %s", c == VB_CORRECT_HOLM ? "Holm" : "Bonferroni", n, what);
}

void rep_pairs_phrase(vb_buf *b, const vb_summary *s)
{
    size_t nm = s->n_mcnemar_pairs, nt = s->n_ttest_pairs;
    if (nm && nt && nm != nt) {
        rep_correction_phrase(b, s->correction, nm, "McNemar pair", "McNemar pairs");
        vb_buf_printf(b, " and %zu t-test %s", nt, nt == 1 ? "pair" : "pairs");
        return;
    }
    rep_correction_phrase(b, s->correction, nm ? nm : nt, "pair", "pairs");
    if (nm && nt)
        vb_buf_puts(b, ", each test apart");
}

/* The adjusted p-value against the best, with "≈" when not significantly
 * worse. */
static void p_best_cell(vb_buf *b, const vb_summary_row *r, int best)
{
    if (best)
        vb_buf_puts(b, "best");
    else if (isnan(r->p_best_adj))
        vb_buf_puts(b, "-");
    else
        vb_buf_printf(b, r->p_best_adj < 1e-4 ? "%.1e%s" : "%.4f%s", r->p_best_adj,
                      r->p_best_adj >= VB_SUMMARY_ALPHA ? " ≈" : "");
}

/* Is row's value the best of its column (higher is better unless lower),
 * as shown with `decimals` digits? Ties share it; a column whose values
 * all look the same has none. */
static int is_best(const vb_summary *s, size_t row, double (*get)(const vb_summary_row *), int lower, int decimals)
{
    double scale = pow(10, decimals), v = round(get(&s->rows[row]) * scale);
    if (isnan(v))
        return 0;
    int differ = 0;
    for (size_t i = 0; i < s->n; i++) {
        double w = round(get(&s->rows[i]) * scale);
        if (isnan(w))
            continue;
        differ |= w != v;
        if (lower ? w < v : w > v)
            return 0;
    }
    return differ;
}

static double g_test_acc(const vb_summary_row *r) { return r->accuracy.test; }
static double g_test_f1(const vb_summary_row *r) { return r->macro_f1.test; }
static double g_test_auc(const vb_summary_row *r) { return r->auc_macro.test; }
static double g_test_ll(const vb_summary_row *r) { return r->log_loss.test; }
static double g_cv_acc(const vb_summary_row *r) { return r->accuracy.mean; }
static double g_cv_f1(const vb_summary_row *r) { return r->macro_f1.mean; }
/* Clustering scores: on the test fold when there is one, else the CV mean. */
static double test_or_mean(const vb_stat *v) { return !isnan(v->test) ? v->test : v->mean; }
static double g_nmi(const vb_summary_row *r) { return test_or_mean(&r->nmi); }
static double g_ari(const vb_summary_row *r) { return test_or_mean(&r->ari); }
static double g_purity(const vb_summary_row *r) { return test_or_mean(&r->purity); }
static double g_train(const vb_summary_row *r) { return r->n_done ? r->train_s + r->tune_s : NAN; }
static double g_rate(const vb_summary_row *r) { return r->n_done ? r->predict_per_s : NAN; }
static double g_rss(const vb_summary_row *r) { return r->n_done ? r->peak_rss_mb : NAN; }

/* A number cell, bold when it is the best of its column. */
static void html_num(vb_buf *b, const vb_summary *s, size_t row, double (*get)(const vb_summary_row *), int lower,
                     int decimals)
{
    double v = get(&s->rows[row]);
    int best = is_best(s, row, get, lower, decimals);
    vb_buf_puts(b, best ? "<td class=\"num best\">" : "<td class=\"num\">");
    num(b, v, decimals);
    vb_buf_puts(b, "</td>");
}

static void html_stat(vb_buf *b, const vb_summary *s, size_t row, const vb_stat *st,
                      double (*get)(const vb_summary_row *))
{
    vb_buf_puts(b, is_best(s, row, get, 0, 4) ? "<td class=\"num best\">" : "<td class=\"num\">");
    mean_sd(b, st, 4);
    vb_buf_puts(b, "</td>");
}

static void leaderboard_html(const vb_summary *s, vb_buf *b)
{
    const char *tf = s->test_fold ? s->test_fold : "test";
    int acc = !s->cluster_only;
    vb_buf_puts(b, "<table class=\"lb\"><thead><tr><th>rank</th><th class=\"l\">pipeline</th>");
    if (s->has_test && acc)
        vb_buf_printf(b, "<th>%s accuracy</th><th>%s macro-F1</th><th>%s AUC</th><th>%s log-loss</th>", tf, tf, tf, tf);
    if (s->has_cv && acc)
        vb_buf_printf(b, "<th>CV accuracy (%zu folds)</th><th>CV macro-F1</th>", s->n_cv_folds);
    if (s->has_nmi)
        vb_buf_printf(b, "<th>%s NMI</th><th>%s ARI</th><th>%s purity</th>", s->has_test ? tf : "CV",
                      s->has_test ? tf : "CV", s->has_test ? tf : "CV");
    if (s->has_cluster)
        vb_buf_puts(b, "<th>clusters</th>");
    vb_buf_puts(b, acc ? "<th>p vs best</th>" : "");
    vb_buf_puts(b, "<th>train s</th><th>images/s</th><th>peak MB</th></tr></thead><tbody>");
    for (size_t i = 0; i < s->n; i++) {
        const vb_summary_row *r = &s->rows[i];
        vb_buf_printf(b, "<tr><td class=\"num\">%zu</td><td class=\"l nw\"><span class=\"pl\">", i + 1);
        vb_html_text(b, r->pipeline);
        vb_buf_puts(b, "</span>");
        if (i == 0 && r->n_done && (acc || s->by_nmi))
            vb_buf_puts(b, " <span class=\"badge best\" title=\"ranked first\">best</span>");
        else if (!isnan(r->p_best_adj) && r->p_best_adj >= VB_SUMMARY_ALPHA) {
            vb_buf_printf(b,
                          " <span class=\"badge tie\" title=\"not significantly worse than the best (%s p = %.3g "
                          "\u2265 %.2f ",
                          r->p_best_test, r->p_best_adj, VB_SUMMARY_ALPHA);
            rep_correction_phrase(b, s->correction, s->n_best_tests, "comparison", "comparisons");
            vb_buf_puts(b, ")\">\u2248 best</span>");
        }
        if (r->n_failed)
            vb_buf_printf(b, " <span class=\"badge fail\">%zu failed</span>", r->n_failed);
        vb_buf_puts(b, "</td>");
        if (s->has_test && acc) {
            html_num(b, s, i, g_test_acc, 0, 4);
            html_num(b, s, i, g_test_f1, 0, 4);
            html_num(b, s, i, g_test_auc, 0, 4);
            html_num(b, s, i, g_test_ll, 1, 4);
        }
        if (s->has_cv && acc) {
            html_stat(b, s, i, &r->accuracy, g_cv_acc);
            html_stat(b, s, i, &r->macro_f1, g_cv_f1);
        }
        if (s->has_nmi) {
            html_num(b, s, i, g_nmi, 0, 4);
            html_num(b, s, i, g_ari, 0, 4);
            html_num(b, s, i, g_purity, 0, 4);
        }
        if (s->has_cluster) {
            vb_buf_puts(b, "<td class=\"num\">");
            num(b, test_or_mean(&r->clusters), 0);
            vb_buf_puts(b, "</td>");
        }
        if (acc) {
            vb_buf_puts(b, "<td class=\"num\"");
            if (r->p_best_test)
                vb_buf_printf(b, " title=\"%s\"", r->p_best_test);
            vb_buf_puts(b, ">");
            p_best_cell(b, r, i == 0);
            vb_buf_puts(b, "</td>");
        }
        html_num(b, s, i, g_train, 1, 2);
        html_num(b, s, i, g_rate, 0, 0);
        html_num(b, s, i, g_rss, 1, 0);
        vb_buf_puts(b, "</tr>");
    }
    vb_buf_puts(b, "</tbody></table>\n");
}

void vb_render_leaderboard(const vb_summary *s, vb_format fmt, vb_buf *b)
{
    const char *tf = s->test_fold ? s->test_fold : "test";
    if (fmt == VB_FMT_CSV) {
        vb_buf_puts(b, "rank,pipeline,runs,failed,test_accuracy,cv_accuracy_mean,cv_accuracy_sd,test_macro_f1,"
                       "cv_macro_f1_mean,cv_macro_f1_sd,test_auc,test_log_loss,extract_s,train_s,tune_s,predict_s,"
                       "predict_per_s,peak_rss_mb,model_kb,postprocess_s,test_nmi,cv_nmi_mean,test_ari,cv_ari_mean,"
                       "test_purity,cv_purity_mean,clusters,features,params,grid\n");
        for (size_t i = 0; i < s->n; i++) {
            const vb_summary_row *r = &s->rows[i];
            vb_buf_printf(b, "%zu,", i + 1);
            vb_buf_csv_field(b, r->pipeline);
            vb_buf_printf(b, ",%zu,%zu", r->n_done, r->n_failed);
            double v[] = {r->accuracy.test, r->accuracy.mean, r->accuracy.sd, r->macro_f1.test, r->macro_f1.mean,
                          r->macro_f1.sd, r->auc_macro.test, r->log_loss.test, r->extract_s, r->train_s, r->tune_s,
                          r->predict_s, r->predict_per_s, r->peak_rss_mb, r->model_kb, r->postprocess_s,
                          r->nmi.test, r->nmi.mean, r->ari.test, r->ari.mean, r->purity.test, r->purity.mean,
                          test_or_mean(&r->clusters)};
            for (size_t j = 0; j < sizeof v / sizeof v[0]; j++) {
                vb_buf_puts(b, ",");
                if (!isnan(v[j]))
                    vb_buf_double(b, v[j]);
            }
            vb_buf_puts(b, ",");
            vb_buf_csv_field(b, r->features);
            vb_buf_puts(b, ",");
            vb_buf_csv_field(b, r->params);
            vb_buf_puts(b, ",");
            vb_buf_csv_field(b, r->grid);
            vb_buf_puts(b, "\n");
        }
        return;
    }
    if (fmt == VB_FMT_JSON) {
        vb_buf_puts(b, "[");
        for (size_t i = 0; i < s->n; i++) {
            const vb_summary_row *r = &s->rows[i];
            vb_buf_printf(b, "%s{\"rank\": %zu, \"pipeline\": ", i ? ", " : "", i + 1);
            vb_buf_json_str(b, r->pipeline);
            vb_buf_printf(b, ", \"runs\": %zu, \"failed\": %zu", r->n_done, r->n_failed);
            json_num(b, "test_accuracy", r->accuracy.test);
            json_num(b, "cv_accuracy_mean", r->accuracy.mean);
            json_num(b, "cv_accuracy_sd", r->accuracy.sd);
            json_num(b, "test_macro_f1", r->macro_f1.test);
            json_num(b, "cv_macro_f1_mean", r->macro_f1.mean);
            json_num(b, "cv_macro_f1_sd", r->macro_f1.sd);
            json_num(b, "test_auc", r->auc_macro.test);
            json_num(b, "test_log_loss", r->log_loss.test);
            json_num(b, "extract_s", r->extract_s);
            json_num(b, "postprocess_s", r->postprocess_s);
            json_num(b, "train_s", r->train_s);
            json_num(b, "tune_s", r->tune_s);
            json_num(b, "predict_s", r->predict_s);
            json_num(b, "predict_per_s", r->predict_per_s);
            json_num(b, "peak_rss_mb", r->peak_rss_mb);
            json_num(b, "model_kb", r->model_kb);
            if (s->has_cluster) {
                json_num(b, "test_nmi", r->nmi.test);
                json_num(b, "cv_nmi_mean", r->nmi.mean);
                json_num(b, "test_ari", r->ari.test);
                json_num(b, "cv_ari_mean", r->ari.mean);
                json_num(b, "test_purity", r->purity.test);
                json_num(b, "cv_purity_mean", r->purity.mean);
                json_num(b, "clusters", test_or_mean(&r->clusters));
            }
            vb_buf_puts(b, ", \"features\": ");
            vb_buf_json_str(b, r->features);
            vb_buf_puts(b, ", \"params\": ");
            vb_buf_json_str(b, r->params);
            if (r->grid) {
                vb_buf_puts(b, ", \"grid\": ");
                vb_buf_json_str(b, r->grid);
            }
            if (r->error) {
                vb_buf_puts(b, ", \"error\": ");
                vb_buf_json_str(b, r->error);
            }
            vb_buf_puts(b, "}");
        }
        vb_buf_puts(b, "]");
        return;
    }
    if (fmt == VB_FMT_HTML) {
        leaderboard_html(s, b);
        return;
    }
    int md = fmt == VB_FMT_MD, acc = !s->cluster_only, clu = s->has_nmi;
    const char *cw = s->has_test ? tf : "CV";
    if (md) {
        vb_buf_puts(b, "| rank | pipeline |");
        if (s->has_test && acc)
            vb_buf_printf(b, " %s accuracy | %s macro-F1 | %s AUC |", tf, tf, tf);
        if (s->has_cv && acc)
            vb_buf_printf(b, " CV accuracy (%zu folds) | CV macro-F1 |", s->n_cv_folds);
        if (clu)
            vb_buf_printf(b, " %s NMI | %s ARI | %s purity |", cw, cw, cw);
        if (s->has_cluster)
            vb_buf_puts(b, " clusters |");
        vb_buf_puts(b, acc ? " p vs best | train s | predict s | images/s | peak MB | features |\n|---:|---|"
                           : " train s | predict s | images/s | peak MB | features |\n|---:|---|");
        if (s->has_test && acc)
            vb_buf_puts(b, "---:|---:|---:|");
        if (s->has_cv && acc)
            vb_buf_puts(b, "---:|---:|");
        if (clu)
            vb_buf_puts(b, "---:|---:|---:|");
        if (s->has_cluster)
            vb_buf_puts(b, "---:|");
        vb_buf_puts(b, acc ? "---|---:|---:|---:|---:|---|\n" : "---:|---:|---:|---:|---|\n");
    } else {
        vb_buf_printf(b, "%-4s %-22s", "rank", "pipeline");
        if (s->has_test && acc)
            vb_buf_printf(b, " %9s %9s %7s", "accuracy", "macro-F1", "AUC");
        if (s->has_cv && acc)
            vb_buf_printf(b, " %-19s %-19s", "CV accuracy", "CV macro-F1");
        if (clu)
            vb_buf_printf(b, " %7s %7s %7s", "NMI", "ARI", "purity");
        if (s->has_cluster)
            vb_buf_printf(b, " %8s", "clusters");
        vb_buf_printf(b, " %9s %9s %10s %8s  %s\n", "train s", "predict s", "images/s", "peak MB", "features");
    }
    for (size_t i = 0; i < s->n; i++) {
        const vb_summary_row *r = &s->rows[i];
        char cv1[64] = "", cv2[64] = "";
        vb_buf t;
        vb_buf_init(&t);
        mean_sd(&t, &r->accuracy, 4);
        snprintf(cv1, sizeof cv1, "%s", t.data ? t.data : "-");
        vb_buf_free(&t);
        vb_buf_init(&t);
        mean_sd(&t, &r->macro_f1, 4);
        snprintf(cv2, sizeof cv2, "%s", t.data ? t.data : "-");
        vb_buf_free(&t);
        if (md) {
            vb_buf_printf(b, "| %zu | ", i + 1);
            vb_md_cell(b, r->pipeline);
            if (r->n_failed)
                vb_buf_printf(b, " (%zu failed)", r->n_failed);
            vb_buf_puts(b, " |");
            if (s->has_test && acc) {
                vb_buf_puts(b, i == 0 ? " **" : " ");
                num(b, r->accuracy.test, 4);
                vb_buf_puts(b, i == 0 ? "** | " : " | ");
                num(b, r->macro_f1.test, 4);
                vb_buf_puts(b, " | ");
                num(b, r->auc_macro.test, 4);
                vb_buf_puts(b, " |");
            }
            if (s->has_cv && acc)
                vb_buf_printf(b, " %s | %s |", cv1, cv2);
            for (int j = 0; clu && j < 3; j++) {
                vb_buf_puts(b, " ");
                num(b, (j == 0 ? g_nmi : j == 1 ? g_ari : g_purity)(r), 4);
                vb_buf_puts(b, " |");
            }
            if (s->has_cluster) {
                vb_buf_puts(b, " ");
                num(b, test_or_mean(&r->clusters), 0);
                vb_buf_puts(b, " |");
            }
            if (acc) {
                vb_buf_puts(b, " ");
                p_best_cell(b, r, i == 0);
                vb_buf_puts(b, " |");
            }
            vb_buf_puts(b, " ");
            num(b, r->train_s + r->tune_s, 2);
            vb_buf_puts(b, " | ");
            num(b, r->predict_s, 2);
            vb_buf_puts(b, " | ");
            num(b, r->predict_per_s, 0);
            vb_buf_puts(b, " | ");
            num(b, r->peak_rss_mb, 0);
            vb_buf_puts(b, " | ");
            vb_md_cell(b, r->features);
            vb_buf_puts(b, " |\n");
        } else {
            char name[64];
            snprintf(name, sizeof name, "%s%s", r->pipeline, r->n_failed ? " (failed)" : "");
            vb_buf_printf(b, "%-4zu %-22s", i + 1, name);
            if (s->has_test && acc) {
                char a[32], f[32], u[32];
                snprintf(a, sizeof a, isnan(r->accuracy.test) ? "-" : "%.4f", r->accuracy.test);
                snprintf(f, sizeof f, isnan(r->macro_f1.test) ? "-" : "%.4f", r->macro_f1.test);
                snprintf(u, sizeof u, isnan(r->auc_macro.test) ? "-" : "%.4f", r->auc_macro.test);
                vb_buf_printf(b, " %9s %9s %7s", a, f, u);
            }
            if (s->has_cv && acc)
                vb_buf_printf(b, " %-19s %-19s", cv1, cv2);
            for (int j = 0; clu && j < 3; j++) {
                double v = (j == 0 ? g_nmi : j == 1 ? g_ari : g_purity)(r);
                char c[32];
                snprintf(c, sizeof c, isnan(v) ? "-" : "%.4f", v);
                vb_buf_printf(b, " %7s", c);
            }
            if (s->has_cluster) {
                double v = test_or_mean(&r->clusters);
                char c[32];
                snprintf(c, sizeof c, isnan(v) ? "-" : "%.0f", v);
                vb_buf_printf(b, " %8s", c);
            }
            vb_buf_printf(b, " %9.2f %9.2f %10.0f %8.0f  %s\n", r->train_s + r->tune_s, r->predict_s,
                          r->predict_per_s, r->peak_rss_mb, r->features ? r->features : "");
        }
    }
    if (md) {
        const char *test = NULL;
        for (size_t i = 0; i < s->n && !test; i++)
            test = s->rows[i].p_best_test;
        if (test) {
            vb_buf_printf(b, "\np vs best: %s p-value against the best pipeline, ", test);
            rep_correction_phrase(b, s->correction, s->n_best_tests, "comparison with the best",
                                  "comparisons with the best");
            vb_buf_printf(b, "; ≈ marks pipelines not significantly worse than the best (p ≥ %.2f).\n",
                          VB_SUMMARY_ALPHA);
        }
    }
    for (size_t i = 0; i < s->n; i++)
        if (s->rows[i].error) {
            if (md) {
                vb_buf_puts(b, "\n*");
                vb_md_cell(b, s->rows[i].pipeline);
                vb_buf_puts(b, " failed:* ");
                vb_md_cell(b, s->rows[i].error);
                vb_buf_puts(b, "\n");
            } else
                vb_buf_printf(b, "%s failed: %s\n", s->rows[i].pipeline, s->rows[i].error);
        }
}

/* Columns headed by the pipeline's rank (its name in a tooltip) past this
 * many: names as headers make a matrix of twenty too wide for a page. */
#define PAIRWISE_NAMED_MAX 5

static void pairwise_html(const vb_summary *s, int has_m, int has_t, size_t m, vb_buf *b)
{
    size_t n = s->n_pairwise;
    int numbered = m > PAIRWISE_NAMED_MAX;
    vb_buf_puts(b, "<p>p-values. Above the diagonal: McNemar's exact test on ");
    if (s->has_test)
        vb_buf_printf(b, "the predictions of the %s fold", s->test_fold);
    else
        vb_buf_puts(b, s->repeated_holdout ? "the test predictions of the first draw"
                                           : "the pooled out-of-fold predictions of the first repetition");
    if (has_t)
        vb_buf_puts(b, ". Below it: Nadeau and Bengio's corrected resampled t-test on per-fold accuracy differences");
    vb_buf_printf(b, ". Shaded cells: p &lt; %.2f ", VB_SUMMARY_ALPHA);
    rep_pairs_phrase(b, s);
    vb_buf_puts(b, s->correction == VB_CORRECT_NONE ? ", a significant difference."
                                                    : ", a significant difference (the raw p in each cell's tooltip).");
    if (s->n > m)
        vb_buf_printf(b, " The %zu best of %zu pipelines; the leaderboard compares every one with the best.", m, s->n);
    if (numbered)
        vb_buf_puts(b, " Columns are numbered by rank.");
    vb_buf_puts(b, "</p>\n");
    if (!has_m && !has_t) {
        vb_buf_puts(b, "<p class=\"note\">No paired predictions to compare.</p>\n");
        return;
    }
    vb_buf_puts(b, "<table class=\"pw\"><thead><tr><th></th>");
    for (size_t j = 0; j < m; j++) {
        if (numbered) {
            vb_buf_puts(b, "<th title=\"");
            vb_html_text(b, s->rows[j].pipeline);
            vb_buf_printf(b, "\">%zu</th>", j + 1);
            continue;
        }
        vb_buf_puts(b, "<th>");
        vb_html_text(b, s->rows[j].pipeline);
        vb_buf_puts(b, "</th>");
    }
    vb_buf_puts(b, "</tr></thead><tbody>");
    for (size_t i = 0; i < m; i++) {
        vb_buf_puts(b, "<tr><th class=\"l nw\">");
        if (numbered)
            vb_buf_printf(b, "%zu. ", i + 1);
        vb_html_text(b, s->rows[i].pipeline);
        vb_buf_puts(b, "</th>");
        for (size_t j = 0; j < m; j++) {
            double p = i < j ? s->mcnemar_p_adj[i * n + j] : i > j ? s->ttest_p_adj[i * n + j] : NAN;
            double raw = i < j ? s->mcnemar_p[i * n + j] : i > j ? s->ttest_p[i * n + j] : NAN;
            if (i == j) {
                vb_buf_puts(b, "<td class=\"diag\"></td>");
                continue;
            }
            const char *kind = i < j ? "McNemar" : "corrected t-test";
            vb_buf_printf(b, "<td class=\"num%s\" title=\"%s", !isnan(p) && p < VB_SUMMARY_ALPHA ? " sig" : "", kind);
            if (!isnan(raw) && s->correction != VB_CORRECT_NONE)
                vb_buf_printf(b, raw < 1e-4 ? ", raw p = %.1e" : ", raw p = %.4f", raw);
            vb_buf_puts(b, "\">");
            if (isnan(p))
                vb_buf_puts(b, "-");
            else
                vb_buf_printf(b, p < 1e-4 ? "%.1e" : "%.4f", p);
            vb_buf_puts(b, "</td>");
        }
        vb_buf_puts(b, "</tr>");
    }
    vb_buf_puts(b, "</tbody></table>\n");
}

static void pairwise_has(const vb_summary *s, int *has_m, int *has_t)
{
    *has_t = *has_m = 0;
    for (size_t i = 0; i < s->n_pairwise * s->n_pairwise; i++) {
        *has_t |= !isnan(s->ttest_p[i]);
        *has_m |= !isnan(s->mcnemar_p[i]);
    }
}

void vb_render_pairwise_html(const vb_summary *s, size_t max, vb_buf *b)
{
    size_t m = max < s->n_pairwise ? max : s->n_pairwise;
    if (m < 2)
        return;
    int has_m, has_t;
    pairwise_has(s, &has_m, &has_t);
    pairwise_html(s, has_m, has_t, m, b);
}

void vb_render_pairwise(const vb_summary *s, vb_format fmt, vb_buf *b)
{
    size_t n = s->n_pairwise;
    if (n < 2)
        return;
    int has_t, has_m;
    pairwise_has(s, &has_m, &has_t);
    if (fmt == VB_FMT_CSV || fmt == VB_FMT_JSON) {
        if (fmt == VB_FMT_CSV)
            vb_buf_puts(b, "pipeline_a,pipeline_b,mcnemar_p,ttest_t,ttest_p,mcnemar_p_adjusted,ttest_p_adjusted\n");
        else
            vb_buf_puts(b, "[");
        int first = 1;
        for (size_t i = 0; i < n; i++)
            for (size_t j = i + 1; j < n; j++) {
                size_t k = i * n + j;
                if (fmt == VB_FMT_CSV) {
                    vb_buf_csv_field(b, s->rows[i].pipeline);
                    vb_buf_puts(b, ",");
                    vb_buf_csv_field(b, s->rows[j].pipeline);
                    double v[5] = {s->mcnemar_p[k], s->ttest_t[k], s->ttest_p[k], s->mcnemar_p_adj[k],
                                   s->ttest_p_adj[k]};
                    for (int c = 0; c < 5; c++) {
                        vb_buf_puts(b, ",");
                        if (!isnan(v[c]))
                            vb_buf_double(b, v[c]);
                    }
                    vb_buf_puts(b, "\n");
                } else {
                    vb_buf_puts(b, first ? "{\"a\": " : ", {\"a\": ");
                    vb_buf_json_str(b, s->rows[i].pipeline);
                    vb_buf_puts(b, ", \"b\": ");
                    vb_buf_json_str(b, s->rows[j].pipeline);
                    json_num(b, "mcnemar_p", s->mcnemar_p[k]);
                    json_num(b, "ttest_t", s->ttest_t[k]);
                    json_num(b, "ttest_p", s->ttest_p[k]);
                    json_num(b, "mcnemar_p_adjusted", s->mcnemar_p_adj[k]);
                    json_num(b, "ttest_p_adjusted", s->ttest_p_adj[k]);
                    vb_buf_puts(b, "}");
                }
                first = 0;
            }
        if (fmt == VB_FMT_JSON)
            vb_buf_puts(b, "]");
        return;
    }
    if (fmt == VB_FMT_HTML) {
        pairwise_html(s, has_m, has_t, n, b);
        return;
    }
    int md = fmt == VB_FMT_MD;
    if (s->cluster_only) {
        vb_buf_puts(b, "pairwise tests: none in mode: cluster (a cluster's number is arbitrary, so predictions do not "
                       "pair up; compare the NMI and ARI columns)\n");
        if (md)
            vb_buf_puts(b, "\n");
        return;
    }
    const char *where = s->has_test           ? s->test_fold
                        : s->repeated_holdout ? "first draw's test predictions"
                                              : "pooled out-of-fold predictions";
    if (s->n > n)
        vb_buf_printf(b, "%sthe %zu best of %zu pipelines (the leaderboard compares every one with the best)%s",
                      md ? "Pairwise tests between " : "pairwise tests between ", n, s->n, md ? ".\n\n" : "\n");
    if (md)
        vb_buf_printf(b, "Pairwise significance (p-values): McNemar's test on the %s%s%s above the diagonal%s.\n\n",
                      s->has_test ? "" : "", where, s->has_test ? " predictions" : "",
                      has_t ? ", corrected resampled t-test across CV folds below it" : "");
    else
        vb_buf_printf(b, "pairwise p-values: McNemar on the %s%s (upper right)%s\n", where,
                      s->has_test ? " predictions" : "",
                      has_t ? ", corrected resampled t-test across CV folds (lower left)" : "");
    if (!has_m && !has_t) {
        vb_buf_puts(b, md ? "(no paired predictions to compare)\n\n" : "(no paired predictions to compare)\n");
        return;
    }
    if (md) {
        vb_buf_puts(b, "| |");
        for (size_t j = 0; j < n; j++) {
            vb_buf_puts(b, " ");
            vb_md_cell(b, s->rows[j].pipeline);
            vb_buf_puts(b, " |");
        }
        vb_buf_puts(b, "\n|---|");
        for (size_t j = 0; j < n; j++)
            vb_buf_puts(b, "---:|");
        vb_buf_puts(b, "\n");
    } else {
        vb_buf_printf(b, "%-22s", "");
        for (size_t j = 0; j < n; j++)
            vb_buf_printf(b, " %12.12s", s->rows[j].pipeline);
        vb_buf_puts(b, "\n");
    }
    for (size_t i = 0; i < n; i++) {
        if (md) {
            vb_buf_puts(b, "| ");
            vb_md_cell(b, s->rows[i].pipeline);
            vb_buf_puts(b, " |");
        } else
            vb_buf_printf(b, "%-22.22s", s->rows[i].pipeline);
        for (size_t j = 0; j < n; j++) {
            double p = i < j ? s->mcnemar_p_adj[i * n + j] : i > j ? s->ttest_p_adj[i * n + j] : NAN;
            char cell[32];
            if (i == j || isnan(p))
                snprintf(cell, sizeof cell, "-");
            else
                snprintf(cell, sizeof cell, p < 1e-4 ? "%.1e%s" : "%.4f%s", p, p < VB_SUMMARY_ALPHA ? "*" : "");
            if (md)
                vb_buf_printf(b, " %s |", cell);
            else
                vb_buf_printf(b, " %12s", cell);
        }
        vb_buf_puts(b, "\n");
    }
    vb_buf_printf(b, md ? "\n\\* p < %.2f " : "(* p < %.2f ", VB_SUMMARY_ALPHA);
    rep_pairs_phrase(b, s);
    vb_buf_puts(b, md ? "\n\n" : ")\n");
}

/* A label set as names joined by ';'. */
static void set_names(vb_buf *b, const vb_store_exp *e, const uint8_t *row)
{
    vb_buf f;
    vb_buf_init(&f);
    vb_labelset_text(&f, row, e->n_classes, (const char *const *)e->classes);
    b->failed |= f.failed;
    vb_buf_csv_field(b, f.data ? f.data : "");
    vb_buf_free(&f);
}

void vb_render_predictions_csv(const vb_store_exp *e, vb_buf *b)
{
    int sets = e->task && strcmp(e->task, "multilabel") == 0;
    vb_buf_puts(b, sets ? "pipeline,fold,sample,true,predicted,true_labels,predicted_labels"
                        : "pipeline,fold,sample,true,predicted");
    for (int k = 0; k < e->n_classes; k++) {
        vb_buf_puts(b, ",");
        char *col = vb_asprintf("score:%s", e->classes[k]);
        if (!col)
            b->failed = 1; /* out of memory: no header short of its class names */
        vb_buf_csv_field(b, col ? col : "score");
        free(col);
    }
    vb_buf_puts(b, "\n");
    for (size_t i = 0; i < e->n_runs; i++) {
        const vb_store_run *r = &e->runs[i];
        for (size_t t = 0; t < r->n_pred; t++) {
            vb_buf_csv_field(b, r->pipeline);
            vb_buf_puts(b, ",");
            vb_buf_csv_field(b, r->fold);
            vb_buf_printf(b, ",%zu,%d,%d", r->sample[t], r->truth[t], r->pred[t]);
            if (sets && r->truth_sets && r->pred_sets) {
                vb_buf_puts(b, ",");
                set_names(b, e, r->truth_sets + t * (size_t)e->n_classes);
                vb_buf_puts(b, ",");
                set_names(b, e, r->pred_sets + t * (size_t)e->n_classes);
            }
            for (int k = 0; k < e->n_classes; k++) {
                vb_buf_puts(b, ",");
                vb_buf_double(b, (double)r->scores[t * (size_t)e->n_classes + (size_t)k]);
            }
            vb_buf_puts(b, "\n");
        }
    }
}

void vb_render_task_metrics(const vb_summary *s, vb_format fmt, vb_buf *b)
{
    char names[40][40], heads[40][40];
    size_t n = rep_task_metrics(s->e, names, heads, 40);
    if (!n || !s->n)
        return;
    int ml = s->e->task && strcmp(s->e->task, "multilabel") == 0;
    if (fmt == VB_FMT_MD) {
        vb_buf_puts(b, ml ? "\n**Label sets**\n\n| pipeline |" : "\n**Hierarchy**\n\n| pipeline |");
        for (size_t j = 0; j < n; j++)
            vb_buf_printf(b, " %s |", heads[j]);
        vb_buf_puts(b, "\n|---|");
        for (size_t j = 0; j < n; j++)
            vb_buf_puts(b, "---:|");
        vb_buf_puts(b, "\n");
    } else
        vb_buf_printf(b, "\n%s (%s)\n%-24s", ml ? "label sets" : "hierarchy",
                      s->has_test ? "test fold" : "mean over CV folds", "pipeline");
    for (size_t j = 0; fmt != VB_FMT_MD && j < n; j++)
        vb_buf_printf(b, " %*s", (int)(strlen(heads[j]) > 8 ? strlen(heads[j]) : 8), heads[j]);
    if (fmt != VB_FMT_MD)
        vb_buf_puts(b, "\n");
    for (size_t i = 0; i < s->n; i++) {
        if (fmt == VB_FMT_MD) {
            vb_buf_puts(b, "| ");
            vb_md_cell(b, s->rows[i].pipeline);
            vb_buf_puts(b, " |");
        } else
            vb_buf_printf(b, "%-24.24s", s->rows[i].pipeline);
        for (size_t j = 0; j < n; j++) {
            double v = rep_row_metric(s, i, names[j]);
            int w = fmt == VB_FMT_MD ? 0 : (int)(strlen(heads[j]) > 8 ? strlen(heads[j]) : 8);
            if (fmt == VB_FMT_MD && isnan(v))
                vb_buf_puts(b, " - |");
            else if (fmt == VB_FMT_MD)
                vb_buf_printf(b, " %.4f |", v);
            else if (isnan(v))
                vb_buf_printf(b, " %*s", w, "-");
            else
                vb_buf_printf(b, " %*.4f", w, v);
        }
        vb_buf_puts(b, "\n");
    }
}
