/* The HTML report: one self-contained page with inline CSS and SVG. */
#include "internal.h"
#include "visbench/across.h"
#include "visbench/chart.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char CSS[] =
    ":root{--fg:#1b1b1b;--muted:#5f5f5f;--line:#dcdcdc;--head:#f3f4f6;--accent:#0072B2}"
    "*{box-sizing:border-box}"
    "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,'Helvetica Neue',Arial,sans-serif;"
    "color:var(--fg);background:#fff;margin:0}"
    "header,main,footer{max-width:1180px;margin:0 auto;padding:0 20px}"
    "header{padding-top:18px;border-bottom:1px solid var(--line)}"
    "h1{font-size:22px;margin:0 0 2px}h2{font-size:18px;margin:30px 0 8px;padding-bottom:4px;"
    "border-bottom:2px solid var(--line)}h3{font-size:15px;margin:16px 0 6px}"
    ".sub{color:var(--muted);margin:0 0 8px}"
    "nav{display:flex;flex-wrap:wrap;gap:4px 14px;padding:6px 0 10px}nav a{color:var(--accent);text-decoration:none}"
    "nav a:hover{text-decoration:underline}"
    "table{border-collapse:collapse;margin:6px 0 10px;font-variant-numeric:tabular-nums}"
    "th,td{padding:4px 8px;border-bottom:1px solid var(--line);text-align:right;vertical-align:top}"
    "th{background:var(--head);font-weight:600}"
    ".l{text-align:left}.small{font-size:12px;color:var(--muted)}td.best{font-weight:700}"
    ".pl{font-weight:600;white-space:nowrap}"
    ".badge{display:inline-block;font-size:11px;line-height:16px;padding:0 6px;border-radius:8px;border:1px solid;"
    "margin-left:4px;white-space:nowrap;font-weight:600}"
    ".badge.best{background:#0072B2;border-color:#0072B2;color:#fff}.badge.tie{color:#0072B2}"
    ".badge.fail{color:#D55E00}"
    ".pw td.sig{background:#fbe3cf;font-weight:600}.pw td.diag{background:var(--head)}"
    ".heat td{text-align:center;min-width:48px}"
    "dl.meta{display:grid;grid-template-columns:max-content minmax(0,1fr) max-content minmax(0,1fr);"
    "gap:2px 18px;margin:8px 0}"
    "dt.wide{grid-column:1}dd.wide{grid-column:2/-1}td.num,td.nw{white-space:nowrap}"
    "dt{color:var(--muted)}dd{margin:0;overflow-wrap:anywhere}"
    "figure{margin:10px 0 16px;break-inside:avoid}"
    "figcaption{color:var(--muted);font-size:13px;max-width:820px;margin-top:4px}"
    "svg.chart{max-width:100%;height:auto;display:block}"
    ".grid{display:flex;flex-wrap:wrap;gap:8px 32px;align-items:flex-start}.grid>figure{max-width:540px}"
    ".note{color:var(--muted);font-style:italic}"
    ".scroll{overflow-x:auto}"
    "summary{cursor:pointer}"
    ".folds{display:flex;flex-wrap:wrap;gap:6px 8px;align-items:flex-start;margin:6px 0 12px}"
    ".folds>details{border:1px solid var(--line);border-radius:4px;padding:3px 8px}"
    ".folds>details[open]{flex-basis:100%}.folds summary .small{margin-left:4px}"
    ".vs td.sig{background:#fbe3cf}.vs td,.vs th{padding:2px 8px;vertical-align:middle}"
    "pre{background:#f6f6f6;padding:8px 10px;overflow-x:auto;font-size:12px;white-space:pre-wrap}"
    "td.err{text-align:left;font-family:ui-monospace,monospace;font-size:12px;white-space:pre-wrap;"
    "overflow-wrap:anywhere;max-width:640px}"
    "footer{color:var(--muted);font-size:12px;margin-top:36px;padding-bottom:24px;border-top:1px solid var(--line)}"
    "@media print{body{font-size:11px}nav{display:none}header{border:0}"
    "h2{break-after:avoid}figure,table,dl{break-inside:avoid}.scroll{overflow:visible}"
    "a{color:inherit;text-decoration:none}pre{white-space:pre-wrap}@page{margin:12mm}"
    ".grid{gap:4px 3%}.grid>figure{max-width:48%;margin:4px 0}figure{margin:6px 0}h2{margin-top:18px}"
    "details:not([open]){display:none}}";

/* First script: record every error (script errors, failed resource loads,
 * rejected promises) where the self-check below and a test can read it. */
static const char JS_ERRORS[] =
    "(function(){var errs=[];window.__vbErrors=errs;"
    "function rec(m){errs.push(String(m));var c=document.getElementById('vb-check');"
    "if(c)c.setAttribute('data-errors',String(errs.length));}"
    "window.onerror=function(msg,src,line){rec(msg+' (line '+line+')');};"
    "window.addEventListener('error',function(ev){if(ev.target&&ev.target!==window)"
    "rec('failed to load: '+(ev.target.tagName||'?'));},true);"
    "window.addEventListener('unhandledrejection',function(ev){rec('unhandled: '+ev.reason);});})();";

/* Last script: count the charts and what each draws, and note the charts
 * the renderer wrote that are missing or draw nothing. */
static const char JS_CHECK[] =
    "(function(){var c=document.getElementById('vb-check');if(!c)return;"
    "var svgs=document.querySelectorAll('svg.chart'),drawn=[],empty=[],seen={};"
    "for(var i=0;i<svgs.length;i++){var s=svgs[i];"
    "var n=s.querySelectorAll('g.data rect,g.data path,g.data circle').length;"
    "seen[s.id]=n;drawn.push(s.id+'='+n);if(!n)empty.push(s.id);}"
    "var exp=(c.getAttribute('data-expected')||'').split(' ').filter(Boolean),missing=[];"
    "for(var j=0;j<exp.length;j++)if(!(exp[j] in seen))missing.push(exp[j]);"
    "var errs=window.__vbErrors||['the error recorder did not run'];"
    "c.setAttribute('data-charts',String(svgs.length));c.setAttribute('data-drawn',drawn.join(' '));"
    "c.setAttribute('data-empty',empty.join(' '));c.setAttribute('data-missing',missing.join(' '));"
    "c.setAttribute('data-errors',String(errs.length));c.setAttribute('data-error-text',errs.join(' | '));"
    "c.setAttribute('data-status','done');})();";

typedef struct page {
    vb_buf *b;
    vb_buf expected; /* ids of the charts written, for the self-check */
    const vb_summary *s;
    const rep_view *v;
    const vb_store_exp *e;
    size_t k;
} page;

static void text(page *p, const char *s) { vb_html_text(p->b, s); }
static int task_is(const page *p, const char *t);

static void section(page *p, const char *id, const char *title)
{
    vb_buf_printf(p->b, "<section id=\"%s\"><h2>%s</h2>\n", id, title);
}

static void note(page *p, const char *msg) { vb_buf_printf(p->b, "<p class=\"note\">%s</p>\n", msg); }

static void expect(page *p, const char *id)
{
    vb_buf_puts(&p->expected, p->expected.len ? " " : "");
    vb_buf_puts(&p->expected, id);
}

/* A figure holding a chart; the chart function writes the <svg>. */
static void fig_open(page *p) { vb_buf_puts(p->b, "<figure>"); }

static void fig_close(page *p, const char *caption)
{
    if (caption)
        vb_buf_printf(p->b, "<figcaption>%s</figcaption>", caption);
    vb_buf_puts(p->b, "</figure>\n");
}

static const char *tf(const page *p) { return p->s->test_fold ? p->s->test_fold : "test"; }

/* Per-pipeline detail (confusion matrices, per-class ROC) is folded
 * when there are more pipelines than this: one closed <details> each,
 * laid out as a row of chips, so the page stays short. */
#define FOLD_OVER 4

static int folded(const page *p) { return p->s->n > FOLD_OVER; }

/* Opens pipeline i's detail: a heading, or a closed fold named by rank. */
static void detail_open(page *p, size_t i, const char *what)
{
    const rep_view *v = &p->v[i];
    if (folded(p)) {
        vb_buf_printf(p->b, "<details><summary><span class=\"pl\">%zu. ", i + 1);
        text(p, v->row->pipeline);
        vb_buf_puts(p->b, "</span>");
    } else {
        vb_buf_puts(p->b, "<h3>");
        text(p, v->row->pipeline);
    }
    /* a fold names its source only when it is not the test fold (the
     * section's note says which fold that is) */
    vb_buf_puts(p->b, " <span class=\"small\">");
    if (what)
        vb_buf_puts(p->b, what);
    else if (v->from_test) {
        if (!folded(p)) {
            text(p, tf(p));
            vb_buf_puts(p->b, " fold");
        }
    } else
        vb_buf_puts(p->b, folded(p) ? "out-of-fold, pooled" : "out-of-fold predictions of the first CV repetition, pooled");
    vb_buf_puts(p->b, folded(p) ? "</span></summary>" : "</span></h3>");
}

/* The note over a row of folds: where their numbers come from. */
static void folds_note(page *p, const char *what)
{
    size_t test = 0;
    for (size_t i = 0; i < p->s->n; i++)
        test += p->v[i].from_test;
    vb_buf_printf(p->b, " One fold per pipeline, in rank order: open one to see its %s", what);
    if (test) {
        vb_buf_puts(p->b, " (on the ");
        text(p, tf(p));
        vb_buf_puts(p->b, test < p->s->n ? " fold unless marked otherwise)." : " fold).");
    } else
        vb_buf_puts(p->b, p->s->repeated_holdout
                              ? " (the test predictions of the first draw of the repeated holdout)."
                              : " (the pooled out-of-fold predictions of the first CV repetition).");
}

static void detail_close(page *p) { vb_buf_puts(p->b, folded(p) ? "</details>\n" : "\n"); }

/* ---- summary ------------------------------------------------------------------ */


/* What a fold is, for people (by its kind). */
static const char *fold_kind_text(const vb_store_run *r)
{
    switch (r->fold_kind) {
    case VB_FOLD_REPEATED_HOLDOUT: return "repeated holdout";
    case VB_FOLD_LOO: return "leave-one-out";
    case VB_FOLD_CV:
    case VB_FOLD_REPEAT: return "cross-validation";
    default: return vb_store_run_is_test(r) ? "single evaluation" : vb_fold_kind_name(r->fold_kind);
    }
}
static void summary(page *p)
{
    const vb_store_exp *e = p->e;
    section(p, "summary", "Summary");
    vb_render_experiment(e, VB_FMT_HTML, p->b);
    /* Folds as the runs saw them. */
    vb_buf_puts(p->b, "<h3>Folds</h3>");
    size_t shown = 0;
    for (size_t i = 0; i < e->n_runs; i++) {
        const vb_store_run *r = &e->runs[i];
        if (strcmp(r->status, "done") != 0)
            continue;
        int dup = 0;
        for (size_t j = 0; j < i && !dup; j++)
            dup = strcmp(e->runs[j].status, "done") == 0 && strcmp(e->runs[j].fold, r->fold) == 0;
        if (dup)
            continue;
        if (!shown++)
            vb_buf_puts(p->b, "<table><thead><tr><th class=\"l\">fold</th><th>kind</th><th>train</th>"
                              "<th>validation</th><th>test</th></tr></thead><tbody>");
        vb_buf_puts(p->b, "<tr><td class=\"l\">");
        text(p, r->fold);
        vb_buf_printf(p->b, "</td><td>%s</td><td>%zu</td><td>%zu</td><td>%zu</td></tr>",
                      fold_kind_text(r), r->n_train, r->n_val,
                      r->n_test);
    }
    if (shown)
        vb_buf_puts(p->b, "</tbody></table>\n");
    else
        note(p, "No run has finished yet, so no fold sizes are known.");
    if (e->spec_text && *e->spec_text) {
        vb_buf_puts(p->b, "<details><summary>Experiment spec</summary><pre>");
        text(p, e->spec_text);
        vb_buf_puts(p->b, "</pre></details>\n");
    }
    vb_buf_puts(p->b, "</section>\n");
}

/* ---- leaderboard ---------------------------------------------------------------- */

static void leaderboard(page *p)
{
    const vb_summary *s = p->s;
    section(p, "leaderboard", "Leaderboard");
    if (!s->n) {
        note(p, "No runs are stored for this experiment yet.");
        vb_buf_puts(p->b, "</section>\n");
        return;
    }
    vb_buf_puts(p->b, "<div class=\"scroll\">");
    vb_render_leaderboard(s, VB_FMT_HTML, p->b);
    if (s->cluster_only) {
        vb_buf_puts(p->b, "</div><p class=\"small\">");
        vb_buf_puts(p->b, !s->by_nmi ? "In spec order: without labels nothing ranks the clusterings."
                          : s->has_test ? "Ranked by NMI on the test part." : "Ranked by mean NMI over the folds.");
        vb_buf_puts(p->b, " mode: cluster keeps no classification metrics; see <a href=\"#clustering\">"
                          "Clustering</a>.</p>\n</section>\n");
        return;
    }
    vb_buf_puts(p->b, "</div><p class=\"small\">Ranked by ");
    vb_buf_puts(p->b, s->has_test ? "accuracy on the " : "mean accuracy over the cross-validation folds.");
    if (s->has_test) {
        text(p, tf(p));
        vb_buf_puts(p->b, " fold.");
    }
    vb_buf_printf(p->b,
                  " Bold: the best value of its column. <b>&#8776; best</b>: not significantly worse than the best"
                  " pipeline (p &#8805; %.2f in the test named by the <i>p vs best</i> column&#8217;s tooltip:"
                  " McNemar on the %s predictions when ranking by a single evaluation, otherwise the corrected"
                  " resampled t-test across folds; p ",
                  VB_SUMMARY_ALPHA, s->has_test ? "test" : "out-of-fold");
    rep_correction_phrase(p->b, s->correction, s->n_best_tests, "comparison with the best", "comparisons with the best");
    vb_buf_puts(p->b, "). Times are means per run; train s includes tuning; images/s is the prediction throughput (more"
                      " in <a href=\"#resources\">Timings and memory</a>).</p>\n");
    vb_buf_puts(p->b, "</section>\n");
}

/* ---- clustering ------------------------------------------------------------------ */

static void cell_num(page *p, double v, int decimals);

static void stat_cell(page *p, const vb_stat *v, int test)
{
    vb_buf_puts(p->b, "<td class=\"num\">");
    double x = test ? v->test : v->mean;
    if (isnan(x))
        vb_buf_puts(p->b, "-");
    else if (!test && !isnan(v->sd))
        vb_buf_printf(p->b, "%.4f &#177; %.4f", x, v->sd);
    else
        vb_buf_printf(p->b, "%.4f", x);
    vb_buf_puts(p->b, "</td>");
}

/* Pipelines that cluster (kmeans, gmm): their test clusterings against the labels. */
static void clustering(page *p)
{
    const vb_summary *s = p->s;
    if (!s->has_cluster)
        return;
    section(p, "clustering", "Clustering");
    vb_buf_puts(p->b, "<div class=\"scroll\"><table><thead><tr><th class=\"l\">pipeline</th><th>clusters</th>");
    static const char *const names[] = {"NMI", "ARI", "purity"};
    for (int t = 1; t >= 0; t--) {
        if (t ? !s->has_test : !s->has_cv)
            continue;
        for (int j = 0; s->has_nmi && j < 3; j++) {
            vb_buf_printf(p->b, "<th>%s ", t ? "" : "CV");
            if (t)
                text(p, tf(p));
            vb_buf_printf(p->b, " %s</th>", names[j]);
        }
    }
    vb_buf_puts(p->b, "</tr></thead><tbody>");
    for (size_t i = 0; i < s->n; i++) {
        const vb_summary_row *r = &s->rows[i];
        if (isnan(r->clusters.test) && !r->clusters.n)
            continue;
        vb_buf_puts(p->b, "<tr><td class=\"l nw\">");
        text(p, r->pipeline);
        vb_buf_puts(p->b, "</td>");
        cell_num(p, !isnan(r->clusters.test) ? r->clusters.test : r->clusters.mean, 0);
        for (int t = 1; t >= 0; t--) {
            if (t ? !s->has_test : !s->has_cv)
                continue;
            const vb_stat *v[3] = {&r->nmi, &r->ari, &r->purity};
            for (int j = 0; s->has_nmi && j < 3; j++)
                stat_cell(p, v[j], t);
        }
        vb_buf_puts(p->b, "</tr>");
    }
    vb_buf_puts(p->b, "</tbody></table></div><p class=\"small\">");
    if (s->has_nmi)
        vb_buf_puts(p->b, "Each clustering of the test part against its labels: NMI (normalised mutual information, "
                          "arithmetic mean), ARI (adjusted Rand index, 0 for chance) and purity (the share of "
                          "samples in their cluster&#8217;s majority class). Cluster numbers are arbitrary, so these "
                          "compare clusterings, not predictions. ");
    else
        vb_buf_puts(p->b, "The data set has no labels, so nothing scores the clusterings here. ");
    if (s->cluster_only)
        vb_buf_puts(p->b, "In <code>mode: cluster</code> every sample&#8217;s cluster is stored: "
                          "<code>visbench results DB --clusters</code> prints them as CSV.");
    vb_buf_puts(p->b, "</p></section>\n");
}

/* ---- accuracy bars -------------------------------------------------------------- */

static void accuracy(page *p)
{
    const vb_summary *s = p->s;
    vb_bar *bars = calloc(s->n ? s->n : 1, sizeof *bars);
    if (!bars) {
        p->b->failed = 1;
        return;
    }
    size_t drawn = 0;
    for (size_t i = 0; i < s->n; i++) {
        const vb_summary_row *r = &s->rows[i];
        const rep_view *v = &p->v[i];
        vb_bar *bar = &bars[i];
        bar->label = r->pipeline;
        bar->color = v->color;
        bar->err = NAN;
        bar->marker = NAN;
        if (s->has_cv) {
            bar->value = r->accuracy.mean;
            bar->err = r->accuracy.sd;
            bar->dots = v->cv_acc;
            bar->n_dots = v->n_cv_acc;
            bar->marker = r->accuracy.test;
        } else
            bar->value = r->accuracy.test;
        drawn += !isnan(bar->value) || !isnan(bar->marker);
    }
    section(p, "accuracy", "Accuracy");
    if (!drawn)
        note(p, "No pipeline has an accuracy yet: every run failed or none finished.");
    else {
        vb_bar_chart c = {.id = "acc", .title = "Accuracy of each pipeline", .x = {"accuracy", 0, 1, 0, 1},
                          .n = s->n, .bars = bars};
        if (s->has_cv) {
            c.value_legend = "CV mean \xc2\xb1 sd";
            c.dots_legend = "CV fold";
            c.marker_legend = s->has_test ? (strcmp(tf(p), "holdout") == 0 ? "holdout fold" : "test fold") : NULL;
        } else
            c.value_legend = strcmp(tf(p), "holdout") == 0 ? "holdout fold" : "test fold";
        fig_open(p);
        vb_chart_bars(&c, p->b);
        expect(p, "acc");
        fig_close(p, s->has_cv ? "Bars: mean accuracy over the cross-validation folds, with one standard deviation"
                                 " (error bar) and each fold (dots)."
                                 " The diamond is the single evaluation on the test fold, when there is one."
                                 " The axis spans the values: when it does not start at 0, the chart says where it"
                                 " starts, and bars are compared by where they end."
                               : "Accuracy on the single evaluation fold (no cross-validation folds, so no spread)."
                                 " The axis spans the values: when it does not start at 0, the chart says where it"
                                 " starts, and bars are compared by where they end.");
    }
    vb_buf_puts(p->b, "</section>\n");
    free(bars);
}

/* ---- trade-offs ---------------------------------------------------------------- */

static void tradeoffs(page *p)
{
    const vb_summary *s = p->s;
    vb_point *pts = calloc(s->n ? s->n : 1, sizeof *pts), *pts2 = calloc(s->n ? s->n : 1, sizeof *pts2);
    if (!pts || !pts2) {
        p->b->failed = 1;
        free(pts);
        free(pts2);
        return;
    }
    size_t n1 = 0, n2 = 0;
    for (size_t i = 0; i < s->n; i++) {
        const vb_summary_row *r = &s->rows[i];
        double y = vb_summary_score(s, r);
        double t = r->n_done ? r->train_s + r->tune_s : NAN, rate = r->n_done ? r->predict_per_s : NAN;
        pts[i] = (vb_point){r->pipeline, t, y, p->v[i].color};
        pts2[i] = (vb_point){r->pipeline, rate, y, p->v[i].color};
        n1 += !isnan(y) && t > 0;
        n2 += !isnan(y) && rate > 0;
    }
    const char *ytitle = s->has_test ? "accuracy (test fold)" : "accuracy (CV mean)";
    section(p, "tradeoffs", "Accuracy against cost");
    if (!n1 && !n2)
        note(p, "No finished run has both an accuracy and timings.");
    vb_buf_puts(p->b, "<div class=\"grid\">");
    if (n1) {
        vb_scatter c = {.id = "tradeoff-train", .title = "Accuracy against training time",
                        .x = {"training time per run (s, incl. tuning)", NAN, NAN, 1, 0}, .y = {ytitle, 0, 1, 0, 1},
                        .n = s->n, .pts = pts, .x_lower_better = 1};
        fig_open(p);
        vb_chart_scatter(&c, p->b);
        expect(p, "tradeoff-train");
        fig_close(p, "Accuracy against the mean training time of a run (log scale). Ringed points joined by the"
                     " dashed line form the Pareto front: no other pipeline is both faster to train and at least as"
                     " accurate.");
    }
    if (n2) {
        vb_scatter c = {.id = "tradeoff-predict", .title = "Accuracy against prediction throughput",
                        .x = {"prediction throughput (images/s)", NAN, NAN, 1, 0}, .y = {ytitle, 0, 1, 0, 1},
                        .n = s->n, .pts = pts2, .x_lower_better = 0};
        fig_open(p);
        vb_chart_scatter(&c, p->b);
        expect(p, "tradeoff-predict");
        fig_close(p, "Accuracy against test images predicted per second (feature extraction excluded; log scale)."
                     " Ringed points: the Pareto front (no other pipeline predicts faster at least as accurately).");
    }
    vb_buf_puts(p->b, "</div></section>\n");
    free(pts);
    free(pts2);
}

/* ---- per-class F1 ---------------------------------------------------------------- */

static void heat_cell(page *p, double v, const char *tip)
{
    char col[8];
    int dark = 0;
    vb_chart_shade(v, col, &dark);
    vb_buf_printf(p->b, "<td style=\"background:%s;color:%s\"", col, dark ? "#fff" : "#111");
    if (tip)
        vb_buf_printf(p->b, " title=\"%s\"", tip);
    vb_buf_puts(p->b, ">");
    if (isnan(v))
        vb_buf_puts(p->b, "-");
    else
        vb_buf_printf(p->b, "%.3f", v);
    vb_buf_puts(p->b, "</td>");
}

static void per_class(page *p)
{
    const vb_summary *s = p->s;
    int ml = task_is(p, "multilabel");
    section(p, "per-class", ml ? "Per-label F1" : "Per-class F1");
    int any = 0, mixed_cv = 0;
    for (size_t i = 0; i < s->n; i++) {
        any |= p->v[i].has_class;
        mixed_cv |= p->v[i].has_class && !p->v[i].from_test;
    }
    if (!any) {
        note(p, "No finished run: no per-class scores.");
        vb_buf_puts(p->b, "</section>\n");
        return;
    }
    vb_buf_puts(p->b, "<div class=\"scroll\"><table class=\"heat\"><thead><tr><th class=\"l\">pipeline</th>");
    for (size_t c = 0; c < p->k; c++) {
        vb_buf_puts(p->b, "<th>");
        text(p, p->e->classes[c]);
        vb_buf_puts(p->b, "</th>");
    }
    vb_buf_puts(p->b, "</tr></thead><tbody>");
    for (size_t i = 0; i < s->n; i++) {
        const rep_view *v = &p->v[i];
        if (!v->has_class)
            continue;
        vb_buf_puts(p->b, "<tr><th class=\"l\">");
        text(p, v->row->pipeline);
        vb_buf_puts(p->b, "</th>");
        for (size_t c = 0; c < p->k; c++) {
            char tip[96];
            snprintf(tip, sizeof tip, "precision %.3f, recall %.3f", v->precision[c], v->recall[c]);
            heat_cell(p, v->f1[c], tip);
        }
        vb_buf_puts(p->b, "</tr>");
    }
    vb_buf_puts(p->b, ml ? "</tbody></table></div><p class=\"small\">F1 per label (each label is a yes/no decision "
                           "for every image)"
                         : "</tbody></table></div><p class=\"small\">F1 per class");
    if (s->has_test) {
        vb_buf_puts(p->b, " on the ");
        text(p, tf(p));
        vb_buf_puts(p->b, " fold");
        if (mixed_cv)
            vb_buf_puts(p->b, " (mean over the CV folds for pipelines without one)");
    } else
        vb_buf_puts(p->b, ", mean over the cross-validation folds");
    vb_buf_puts(p->b, "; darker is better. Hover a cell for precision and recall.</p></section>\n");
}

/* ---- confusion matrices ------------------------------------------------------------ */

static void confusion(page *p)
{
    const vb_summary *s = p->s;
    size_t k = p->k, kk = k * k;
    section(p, "confusion", "Confusion matrices");
    if (task_is(p, "multilabel")) {
        note(p, "Label sets have no confusion matrix: an image can be right on some labels and wrong on others. "
                "Each label&#8217;s precision and recall are under Per label, its AUC under Label sets.");
        vb_buf_puts(p->b, "</section>\n");
        return;
    }
    int any = 0;
    for (size_t i = 0; i < s->n; i++)
        any |= p->v[i].confusion != NULL;
    if (!any || !k) {
        note(p, "No finished run: no confusion matrix.");
        vb_buf_puts(p->b, "</section>\n");
        return;
    }
    double *shade = malloc((kk ? kk : 1) * sizeof *shade), *val = malloc((kk ? kk : 1) * sizeof *val);
    double *nshade = malloc((kk ? kk : 1) * sizeof *nshade);
    if (!shade || !val || !nshade) {
        p->b->failed = 1;
        free(shade);
        free(val);
        free(nshade);
        return;
    }
    const char *const *names = (const char *const *)p->e->classes;
    vb_buf_puts(p->b, "<p class=\"small\">Rows: true class; columns: predicted class. Left: counts (shaded by count);"
                      " right: each row divided by its total, so the diagonal is the recall of each class.");
    if (folded(p))
        folds_note(p, "matrices");
    vb_buf_puts(p->b, "</p>\n");
    if (folded(p))
        vb_buf_puts(p->b, "<div class=\"folds\">");
    for (size_t i = 0; i < s->n; i++) {
        const rep_view *v = &p->v[i];
        if (!v->confusion)
            continue;
        detail_open(p, i, NULL);
        vb_buf_puts(p->b, "<div class=\"grid\">");
        size_t max = 0;
        for (size_t j = 0; j < kk; j++)
            max = v->confusion[j] > max ? v->confusion[j] : max;
        for (size_t r = 0; r < k; r++) {
            size_t tot = 0;
            for (size_t c = 0; c < k; c++)
                tot += v->confusion[r * k + c];
            for (size_t c = 0; c < k; c++) {
                size_t x = v->confusion[r * k + c];
                val[r * k + c] = (double)x;
                shade[r * k + c] = max ? (double)x / (double)max : 0;
                nshade[r * k + c] = tot ? (double)x / (double)tot : NAN;
            }
        }
        char id1[48], id2[48];
        snprintf(id1, sizeof id1, "cm-%zu-counts", i + 1);
        snprintf(id2, sizeof id2, "cm-%zu-rows", i + 1);
        vb_heatmap h = {.id = id1, .title = "Confusion matrix (counts)", .rows = k, .cols = k, .row_labels = names,
                        .col_labels = names, .row_title = "true class", .col_title = "predicted class",
                        .shade = shade, .value = val, .decimals = 0};
        fig_open(p);
        vb_chart_heatmap(&h, p->b);
        expect(p, id1);
        fig_close(p, "counts");
        h.id = id2;
        h.title = "Confusion matrix (row-normalised)";
        h.shade = nshade;
        h.value = nshade;
        h.decimals = 2;
        fig_open(p);
        vb_chart_heatmap(&h, p->b);
        expect(p, id2);
        fig_close(p, "row-normalised");
        vb_buf_puts(p->b, "</div>");
        detail_close(p);
    }
    if (folded(p))
        vb_buf_puts(p->b, "</div>");
    vb_buf_puts(p->b, "</section>\n");
    free(shade);
    free(val);
    free(nshade);
}

/* ---- ROC ------------------------------------------------------------------------- */

#define ROC_GRID 101
#define ROC_POINTS 200

static void roc(page *p)
{
    const vb_summary *s = p->s;
    int k = (int)p->k;
    section(p, "roc", "ROC curves (one-vs-rest)");
    if (task_is(p, "multilabel")) {
        note(p, "Each label&#8217;s ROC AUC is in the Label sets table (its macro mean) and in visbench results; "
                "the curves here are drawn for one label per image only.");
        vb_buf_puts(p->b, "</section>\n");
        return;
    }
    size_t with = 0;
    for (size_t i = 0; i < s->n; i++)
        with += p->v[i].n_pred > 0;
    if (!with || k < 2) {
        note(p, k < 2 ? "Fewer than two classes: no ROC curve."
                      : "No stored prediction scores (the classifiers returned labels only, or no run finished).");
        vb_buf_puts(p->b, "</section>\n");
        return;
    }
    double grid[ROC_GRID];
    for (size_t g = 0; g < ROC_GRID; g++)
        grid[g] = (double)g / (ROC_GRID - 1);
    double *macro = malloc(s->n * ROC_GRID * sizeof *macro);
    vb_series *ser = calloc(s->n > (size_t)k ? s->n : (size_t)k, sizeof *ser);
    char **labels = calloc(s->n > (size_t)k ? s->n : (size_t)k, sizeof *labels);
    double *fpr = malloc((size_t)k * ROC_POINTS * sizeof *fpr), *tpr = malloc((size_t)k * ROC_POINTS * sizeof *tpr);
    if (!macro || !ser || !labels || !fpr || !tpr) {
        p->b->failed = 1;
        goto out;
    }
    size_t ns = 0;
    for (size_t i = 0; i < s->n; i++) {
        const rep_view *v = &p->v[i];
        if (!v->n_pred || !rep_roc_macro(v, k, grid, ROC_GRID, macro + ns * ROC_GRID))
            continue;
        double auc = vb_auc_macro(v->truth, v->scores, v->n_pred, k);
        char *name = vb_chart_shorten(v->row->pipeline, 22);
        labels[ns] = vb_asprintf("%s (AUC %.3f)", name ? name : "?", auc);
        if (!name || !labels[ns])
            p->b->failed = 1; /* out of memory: no report rather than one with a label short */
        free(name);
        ser[ns] = (vb_series){labels[ns] ? labels[ns] : v->row->pipeline, grid, macro + ns * ROC_GRID, ROC_GRID,
                              v->color, 0};
        ns++;
    }
    if (ns) {
        vb_line_chart c = {.id = "roc-macro", .title = "Macro-averaged ROC curves", .x = {"false positive rate", 0, 1, 0, 0},
                           .y = {"true positive rate", 0, 1, 0, 0}, .n = ns, .series = ser, .diagonal = 1};
        fig_open(p);
        vb_chart_lines(&c, p->b);
        expect(p, "roc-macro");
        fig_close(p, "Macro average over classes of the one-vs-rest ROC curves (TPR averaged on a common FPR grid);"
                     " the legend gives the macro AUC, the mean of the per-class AUCs. Dotted: chance.");
    }
    for (size_t j = 0; j < ns; j++) {
        free(labels[j]);
        labels[j] = NULL;
    }
    vb_buf_puts(p->b, "<h3>Per class</h3>");
    if (folded(p)) {
        vb_buf_puts(p->b, "<p class=\"small\">Each class against the rest; classes have colours of their own, none"
                          " of them a pipeline&#8217;s.");
        folds_note(p, "curves");
        vb_buf_puts(p->b, "</p>");
    }
    vb_buf_puts(p->b, folded(p) ? "<div class=\"folds\">" : "<div class=\"grid\">");
    for (size_t i = 0; i < s->n; i++) {
        const rep_view *v = &p->v[i];
        if (!v->n_pred)
            continue;
        size_t nc = 0;
        for (int c = 0; c < k; c++) {
            size_t np = vb_roc_ovr(v->truth, v->scores, v->n_pred, k, c, fpr + (size_t)c * ROC_POINTS,
                                   tpr + (size_t)c * ROC_POINTS, ROC_POINTS);
            if (np < 2)
                continue;
            double auc = vb_auc_ovr(v->truth, v->scores, v->n_pred, k, c);
            char *name = vb_chart_shorten(p->e->classes[c], 32);
            labels[nc] = vb_asprintf("%s (AUC %.3f)", name ? name : "?", auc);
            if (!name || !labels[nc])
                p->b->failed = 1;
            free(name);
            ser[nc] = (vb_series){labels[nc] ? labels[nc] : p->e->classes[c], fpr + (size_t)c * ROC_POINTS,
                                  tpr + (size_t)c * ROC_POINTS, np, (size_t)c, 0}; /* the class's colour */
            nc++;
        }
        if (nc) {
            char id[48];
            snprintf(id, sizeof id, "roc-%zu", i + 1);
            vb_line_chart c = {.id = id, .title = "ROC curves per class", .x = {"false positive rate", 0, 1, 0, 0},
                               .y = {"true positive rate", 0, 1, 0, 0}, .n = nc, .series = ser, .diagonal = 1,
                               .small = 1, .palette = VB_PALETTE_CLASSES};
            if (folded(p))
                detail_open(p, i, NULL);
            fig_open(p);
            vb_chart_lines(&c, p->b);
            expect(p, id);
            vb_buf_puts(p->b, "<figcaption><b>");
            text(p, v->row->pipeline);
            vb_buf_puts(p->b, "</b>: each class against the rest, ");
            if (v->from_test) {
                vb_buf_puts(p->b, "on the ");
                text(p, tf(p));
                vb_buf_puts(p->b, " fold");
            } else
                vb_buf_puts(p->b, p->s->repeated_holdout
                                      ? "on the test scores of the first draw of the repeated holdout"
                                      : "on the pooled out-of-fold scores of the first CV repetition");
            vb_buf_puts(p->b, ".</figcaption></figure>\n");
            if (folded(p))
                detail_close(p);
        }
        for (size_t j = 0; j < nc; j++) {
            free(labels[j]);
            labels[j] = NULL;
        }
    }
    vb_buf_puts(p->b, "</div>");
out:
    vb_buf_puts(p->b, "</section>\n");
    free(macro);
    free(ser);
    free(labels);
    free(fpr);
    free(tpr);
}

/* ---- learning curves ------------------------------------------------------------------ */

static int finite_any(const vb_store_run *r, size_t field)
{
    for (size_t j = 0; j < r->n_epochs; j++) {
        const double *v = &r->epochs[j].train_loss;
        if (!isnan(v[field]))
            return 1;
    }
    return 0;
}

static void curves(page *p)
{
    const vb_summary *s = p->s;
    section(p, "curves", "Learning curves");
    size_t n = 0, maxep = 0;
    for (size_t i = 0; i < s->n; i++)
        if (p->v[i].curves) {
            n++;
            maxep = p->v[i].curves->n_epochs > maxep ? p->v[i].curves->n_epochs : maxep;
        }
    if (!n) {
        note(p, "No run recorded a learning curve (only networks trained by epochs, such as the CNN, do).");
        vb_buf_puts(p->b, "</section>\n");
        return;
    }
    double *x = malloc(maxep * sizeof *x), *ys = malloc(4 * n * maxep * sizeof *ys);
    vb_series *ser = calloc(2 * n, sizeof *ser);
    char **labels = calloc(4 * n, sizeof *labels);
    if (!x || !ys || !ser || !labels) {
        p->b->failed = 1;
        goto out;
    }
    for (size_t j = 0; j < maxep; j++)
        x[j] = (double)(j + 1);
    size_t nl = 0;
    /* fields of vb_store_epoch: 0 train_loss, 1 train_acc, 2 val_loss, 3 val_acc */
    static const char *const what[2] = {"loss", "accuracy"};
    for (int chart = 0; chart < 2; chart++) {
        size_t ns = 0, col = 0;
        for (size_t i = 0; i < s->n; i++) {
            const vb_store_run *r = p->v[i].curves;
            if (!r)
                continue;
            for (int val = 0; val < 2; val++) {
                size_t field = (size_t)(chart + 2 * val);
                if (!finite_any(r, field))
                    continue;
                double *y = ys + (col * 2 + (size_t)val) * maxep;
                for (size_t j = 0; j < r->n_epochs; j++)
                    y[j] = (&r->epochs[j].train_loss)[field];
                char *name = vb_chart_shorten(p->v[i].row->pipeline, 22);
                labels[nl] = vb_asprintf("%s %s", name ? name : "?", val ? "validation" : "train");
                if (!name || !labels[nl])
                    p->b->failed = 1;
                free(name);
                ser[ns++] = (vb_series){labels[nl] ? labels[nl] : p->v[i].row->pipeline, x, y, r->n_epochs,
                                        p->v[i].color, val};
                nl++;
            }
            col++;
        }
        if (!ns)
            continue;
        vb_line_chart c = {.id = chart ? "curve-acc" : "curve-loss",
                           .title = chart ? "Accuracy per epoch" : "Loss per epoch",
                           .x = {"epoch", NAN, NAN, 0, 0},
                           .y = {what[chart], chart ? 0 : NAN, chart ? 1 : NAN, 0, chart},
                           .n = ns,
                           .series = ser,
                           .markers = maxep <= 40};
        fig_open(p);
        vb_chart_lines(&c, p->b);
        expect(p, c.id);
        fig_close(p, chart ? "Accuracy per epoch: solid on the training data, dashed on the validation part."
                           : "Loss per epoch: solid on the training data, dashed on the validation part.");
    }
    vb_buf_puts(p->b, "<p class=\"small\">One run per pipeline: the test-fold run when it has a curve, else the"
                      " first fold&#8217;s.</p>");
out:
    vb_buf_puts(p->b, "</section>\n");
    for (size_t i = 0; labels && i < 4 * n; i++)
        free(labels[i]);
    free(labels);
    free(ser);
    free(x);
    free(ys);
}

/* split.learning_curve: accuracy and train time against the training
 * images, a line per pipeline, the spread over folds in each point's
 * tooltip-free table below. */
static void training_size(page *p)
{
    vb_size_curve *c = NULL;
    vb_error err = {0};
    if (vb_size_curve_build(p->e, &c, &err) != VB_OK) {
        p->b->failed = 1;
        return;
    }
    if (!c)
        return;
    section(p, "training-size", "Accuracy against training-set size");
    vb_series *ser = calloc(c->n_pipe, sizeof *ser);
    if (!ser) {
        p->b->failed = 1;
        vb_size_curve_free(c);
        return;
    }
    for (int chart = 0; chart < 2; chart++) {
        for (size_t i = 0; i < c->n_pipe; i++)
            ser[i] = (vb_series){c->pipelines[i], c->n_train + i * c->n_pts,
                                 (chart ? c->train_s : c->acc_mean) + i * c->n_pts, c->n_pts, i % VB_CHART_COLORS, 0};
        vb_line_chart lc = {.id = chart ? "size-time" : "size-acc",
                            .title = chart ? "Train seconds against training images" : "Accuracy against training images",
                            .x = {"training images", NAN, NAN, 0, 0},
                            .y = {chart ? "train s" : "accuracy", chart ? NAN : 0, chart ? NAN : 1, 0, !chart},
                            .n = c->n_pipe,
                            .series = ser,
                            .markers = 1};
        fig_open(p);
        vb_chart_lines(&lc, p->b);
        expect(p, lc.id);
        fig_close(p, chart ? "Training (and tuning) seconds, mean over the folds."
                           : "Test accuracy, mean over the folds (the table below gives the spread).");
    }
    free(ser);
    vb_buf_puts(p->b, "<div class=\"scroll\"><table><thead><tr><th>pipeline</th><th>fraction</th><th>training "
                      "images</th><th>accuracy (mean &plusmn; sd)</th><th>train s</th></tr></thead><tbody>\n");
    for (size_t i = 0; i < c->n_pipe; i++)
        for (size_t k = 0; k < c->n_pts; k++) {
            size_t at = i * c->n_pts + k;
            vb_buf_puts(p->b, "<tr><td>");
            if (!k)
                text(p, c->pipelines[i]);
            vb_buf_printf(p->b, "</td><td class=\"num\">%.3g</td><td class=\"num\">%.0f</td><td class=\"num\">"
                                "%.4f &plusmn; %.4f</td><td class=\"num\">%.2f</td></tr>\n",
                          c->frac[k], c->n_train[at], c->acc_mean[at], c->acc_sd[at], c->train_s[at]);
        }
    vb_buf_puts(p->b, "</tbody></table></div></section>\n");
    vb_size_curve_free(c);
}

/* ---- significance, parameters, resources, failures ------------------------------------ */

static void cell_num(page *p, double v, int decimals)
{
    vb_buf_puts(p->b, "<td>");
    if (isnan(v))
        vb_buf_puts(p->b, "-");
    else
        vb_buf_printf(p->b, "%.*f", decimals, v);
    vb_buf_puts(p->b, "</td>");
}

/* Up to this many pipelines the section is the full matrix; past it, each
 * pipeline against the best, and the matrix of the best few in a fold
 * (a matrix of twenty columns no longer fits a page's width). */
#define PAIRWISE_OPEN_MAX 5
#define PAIRWISE_MATRIX_MAX 12

static void versus_best(page *p)
{
    const vb_summary *s = p->s;
    const vb_summary_row *best = &s->rows[0];
    double b0 = vb_summary_score(s, best);
    vb_buf_puts(p->b, "<p>Each pipeline against the best, ");
    text(p, best->pipeline);
    vb_buf_printf(p->b, ", in the test that matches the ranking (McNemar on the %s predictions when ranking by a"
                        " single evaluation, otherwise the corrected resampled t-test across folds). Shaded: p &lt;"
                        " %.2f ",
                  s->has_test ? "test" : "out-of-fold", VB_SUMMARY_ALPHA);
    rep_correction_phrase(p->b, s->correction, s->n_best_tests, "comparison with the best", "comparisons with the best");
    vb_buf_puts(p->b, ", significantly worse than the best.</p>\n");
    vb_buf_printf(p->b, "<table class=\"vs\"><thead><tr><th>rank</th><th class=\"l\">pipeline</th><th>%s</th>"
                        "<th>difference</th><th>p vs best</th><th class=\"l\">test</th><th class=\"l\">verdict</th>"
                        "</tr></thead><tbody>",
                  s->has_test ? "accuracy (test fold)" : "accuracy (CV mean)");
    for (size_t i = 0; i < s->n; i++) {
        const vb_summary_row *r = &s->rows[i];
        double v = vb_summary_score(s, r);
        int sig = i && !isnan(r->p_best_adj) && r->p_best_adj < VB_SUMMARY_ALPHA;
        vb_buf_printf(p->b, "<tr><td class=\"num\">%zu</td><td class=\"l nw\"><span class=\"pl\">", i + 1);
        text(p, r->pipeline);
        vb_buf_puts(p->b, "</span></td>");
        cell_num(p, v, 4);
        if (i && !isnan(v) && !isnan(b0))
            vb_buf_printf(p->b, "<td class=\"num\">%+.4f</td>", v - b0);
        else
            vb_buf_puts(p->b, "<td>-</td>");
        vb_buf_printf(p->b, "<td class=\"num%s\">", sig ? " sig" : "");
        if (!i)
            vb_buf_puts(p->b, "best");
        else if (isnan(r->p_best_adj))
            vb_buf_puts(p->b, "-");
        else
            vb_buf_printf(p->b, r->p_best_adj < 1e-4 ? "%.1e" : "%.4f", r->p_best_adj);
        vb_buf_printf(p->b, "</td><td class=\"l small\">%s</td><td class=\"l\">%s</td></tr>",
                      i && r->p_best_test ? r->p_best_test : "", !i ? "best" : isnan(r->p_best_adj) ? "not compared"
                                                                 : sig ? "worse" : "&#8776; best");
    }
    vb_buf_puts(p->b, "</tbody></table>\n");
}

static void significance(page *p)
{
    const vb_summary *s = p->s;
    section(p, "significance", "Pairwise significance");
    if (s->n < 2)
        note(p, s->n ? "One pipeline only: nothing to compare." : "No runs yet: nothing to compare.");
    else if (s->n <= PAIRWISE_OPEN_MAX) {
        vb_buf_puts(p->b, "<div class=\"scroll\">");
        vb_render_pairwise(s, VB_FMT_HTML, p->b);
        vb_buf_puts(p->b, "</div>");
    } else {
        versus_best(p);
        size_t m = s->n_pairwise < PAIRWISE_MATRIX_MAX ? s->n_pairwise : PAIRWISE_MATRIX_MAX;
        if (m >= 2) {
            vb_buf_printf(p->b, "<details><summary>Every pair among the %zu best pipelines</summary>", m);
            vb_render_pairwise_html(s, m, p->b);
            vb_buf_puts(p->b, "</details>");
        }
    }
    vb_buf_puts(p->b, "</section>\n");
}

#define HYPER_OPEN_MAX 8

static void hyperparameters(page *p)
{
    const vb_summary *s = p->s;
    const vb_store_exp *e = p->e;
    section(p, "hyperparameters", "Hyperparameters");
    if (!s->n) {
        note(p, "No runs.");
        vb_buf_puts(p->b, "</section>\n");
        return;
    }
    /* Past HYPER_OPEN_MAX pipelines the table is folded: a row of
     * parameters and model facts per pipeline makes it a page long. */
    if (s->n > HYPER_OPEN_MAX)
        vb_buf_printf(p->b, "<details><summary>Parameters, grid choices, features and model facts of the %zu"
                            " pipelines</summary>", s->n);
    vb_buf_puts(p->b, "<div class=\"scroll\"><table><thead><tr><th class=\"l\">pipeline</th>"
                      "<th class=\"l\">classifier parameters</th><th class=\"l\">grid choice</th>"
                      "<th class=\"l\">features</th><th class=\"l\">model</th></tr></thead><tbody>");
    for (size_t i = 0; i < s->n; i++) {
        const vb_summary_row *r = &s->rows[i];
        vb_buf_puts(p->b, "<tr><td class=\"l\"><span class=\"pl\">");
        text(p, r->pipeline);
        vb_buf_puts(p->b, "</span></td><td class=\"l small\">");
        text(p, r->params ? r->params : "-");
        vb_buf_puts(p->b, "</td><td class=\"l small\">");
        /* The grid's choice per fold, once when every fold chose the same. */
        const char *first = NULL;
        int differ = 0, any = 0;
        const char *info = NULL;
        for (size_t j = 0; j < e->n_runs; j++) {
            const vb_store_run *run = &e->runs[j];
            if (strcmp(run->pipeline, r->pipeline) != 0 || strcmp(run->status, "done") != 0)
                continue;
            if (!info)
                info = run->model_info;
            if (!run->grid)
                continue;
            if (!any++)
                first = run->grid;
            else if (strcmp(first, run->grid) != 0)
                differ = 1;
        }
        if (!any)
            vb_buf_puts(p->b, "-");
        else if (!differ)
            text(p, first);
        else
            for (size_t j = 0, m = 0; j < e->n_runs; j++) {
                const vb_store_run *run = &e->runs[j];
                if (strcmp(run->pipeline, r->pipeline) != 0 || strcmp(run->status, "done") != 0 || !run->grid)
                    continue;
                vb_buf_puts(p->b, m++ ? "<br>" : "");
                text(p, run->fold);
                vb_buf_puts(p->b, ": ");
                text(p, run->grid);
            }
        vb_buf_puts(p->b, "</td><td class=\"l small\">");
        text(p, r->features ? r->features : "-");
        vb_buf_puts(p->b, "</td><td class=\"l small\">");
        text(p, info ? info : "-");
        vb_buf_puts(p->b, "</td></tr>");
    }
    vb_buf_puts(p->b, "</tbody></table></div>");
    if (s->n > HYPER_OPEN_MAX)
        vb_buf_puts(p->b, "</details>");
    vb_buf_puts(p->b, "<p class=\"small\">Parameters as used by the run on the test fold (else"
                      " the first fold); a grid choice is the value tuned on the validation part.</p></section>\n");
}

static void resources(page *p)
{
    const vb_summary *s = p->s;
    section(p, "resources", "Timings and memory");
    if (!s->n) {
        note(p, "No runs.");
        vb_buf_puts(p->b, "</section>\n");
        return;
    }
    /* folded like the hyperparameters (the leaderboard has the main times) */
    if (s->n > HYPER_OPEN_MAX)
        vb_buf_printf(p->b, "<details><summary>Extraction, tuning, training and prediction times, memory, model size"
                            " and feature dimension of the %zu pipelines</summary>", s->n);
    vb_buf_puts(p->b, "<div class=\"scroll\"><table><thead><tr><th class=\"l\">pipeline</th><th>runs</th>"
                      "<th>extract s</th><th>postprocess s</th><th>tune s</th><th>train s</th><th>predict s</th>"
                      "<th>images/s</th>"
                      "<th>peak RSS MB</th><th>model KB</th><th>feature dim</th></tr></thead><tbody>");
    for (size_t i = 0; i < s->n; i++) {
        const vb_summary_row *r = &s->rows[i];
        int d = r->n_done > 0;
        vb_buf_puts(p->b, "<tr><td class=\"l\"><span class=\"pl\">");
        text(p, r->pipeline);
        vb_buf_printf(p->b, "</span></td><td>%zu</td>", r->n_done);
        cell_num(p, d ? r->extract_s : NAN, 3);
        cell_num(p, d ? r->postprocess_s : NAN, 3);
        cell_num(p, d ? r->tune_s : NAN, 3);
        cell_num(p, d ? r->train_s : NAN, 3);
        cell_num(p, d ? r->predict_s : NAN, 3);
        cell_num(p, d ? r->predict_per_s : NAN, 0);
        cell_num(p, d ? r->peak_rss_mb : NAN, 0);
        cell_num(p, d ? r->model_kb : NAN, 1);
        cell_num(p, p->v[i].dim_run_features ? (double)p->v[i].dim : NAN, 0);
        vb_buf_puts(p->b, "</tr>");
    }
    vb_buf_puts(p->b, "</tbody></table></div>");
    if (s->n > HYPER_OPEN_MAX)
        vb_buf_puts(p->b, "</details>");
    vb_buf_puts(p->b, "<p class=\"small\">Means per finished run. Extraction is shared between"
                      " pipelines with the same features, so a pipeline that reused another&#8217;s shows little"
                      " extract time. Peak RSS is the process&#8217;s peak during the run (the maximum over runs); model"
                      " size is the serialised classifier.</p></section>\n");
}

static void failures(page *p)
{
    const vb_store_exp *e = p->e;
    size_t n = 0;
    for (size_t i = 0; i < e->n_runs; i++)
        n += strcmp(e->runs[i].status, "done") != 0;
    if (!n)
        return;
    section(p, "failures", "Runs that did not finish");
    vb_buf_puts(p->b, "<div class=\"scroll\"><table><thead><tr><th class=\"l\">pipeline</th><th class=\"l\">fold</th>"
                      "<th class=\"l\">status</th><th class=\"l\">error</th></tr></thead><tbody>");
    for (size_t i = 0; i < e->n_runs; i++) {
        const vb_store_run *r = &e->runs[i];
        if (strcmp(r->status, "done") == 0)
            continue;
        vb_buf_puts(p->b, "<tr><td class=\"l\">");
        text(p, r->pipeline);
        vb_buf_puts(p->b, "</td><td class=\"l\">");
        text(p, r->fold);
        vb_buf_puts(p->b, "</td><td class=\"l\">");
        text(p, r->status);
        vb_buf_puts(p->b, "</td><td class=\"err\">");
        text(p, r->error ? r->error : strcmp(r->status, "running") == 0 ? "running, or interrupted" : "-");
        vb_buf_puts(p->b, "</td></tr>");
    }
    vb_buf_puts(p->b, "</tbody></table></div></section>\n");
}


/* ---- multilabel and hierarchical tasks ------------------------------------------ */

static int task_is(const page *p, const char *t) { return p->e->task && strcmp(p->e->task, t) == 0; }

static double row_metric(const page *p, size_t i, const char *name) { return rep_row_metric(p->s, i, name); }

static void where_note(page *p)
{
    if (p->s->has_test) {
        vb_buf_puts(p->b, " on the ");
        text(p, tf(p));
        vb_buf_puts(p->b, " fold");
    } else
        vb_buf_puts(p->b, ", mean over the cross-validation folds");
}

/* The task's own metrics (rep_task_metrics), one row per pipeline. */
static void metric_table(page *p)
{
    char names[40][40], heads[40][40];
    size_t n = rep_task_metrics(p->e, names, heads, 40);
    vb_buf_puts(p->b, "<div class=\"scroll\"><table><thead><tr><th class=\"l\">pipeline</th>");
    for (size_t j = 0; j < n; j++)
        vb_buf_printf(p->b, "<th>%s</th>", heads[j]);
    vb_buf_puts(p->b, "</tr></thead><tbody>");
    for (size_t i = 0; i < p->s->n; i++) {
        vb_buf_puts(p->b, "<tr><td class=\"l nw\">");
        text(p, p->s->rows[i].pipeline);
        vb_buf_puts(p->b, "</td>");
        for (size_t j = 0; j < n; j++)
            cell_num(p, row_metric(p, i, names[j]), 4);
        vb_buf_puts(p->b, "</tr>");
    }
    vb_buf_puts(p->b, "</tbody></table></div>\n");
}

static void multilabel(page *p)
{
    if (!task_is(p, "multilabel"))
        return;
    section(p, "multilabel", "Label sets");
    metric_table(p);
    vb_buf_puts(p->b, "<p class=\"small\">Each image has a set of labels");
    where_note(p);
    vb_buf_puts(p->b, ". Subset accuracy counts the images whose predicted set is exactly the true set (it is the "
                      "accuracy everywhere else in this report, and what McNemar&#8217;s test compares); the Hamming "
                      "loss is the share of wrong (image, label) decisions; LRAP (label ranking average precision) "
                      "and the coverage error judge the scores&#8217; ranking of the labels (coverage: how far down "
                      "the ranking all true labels are found; lower is better). The per-label F1 table is under "
                      "<a href=\"#per-class\">Per label</a>.</p>\n");
    /* per-label F1 of the best pipeline as bars */
    const rep_view *v = &p->v[0];
    if (v->has_class && p->k) {
        vb_bar *bars = calloc(p->k, sizeof *bars);
        if (!bars) {
            p->b->failed = 1;
            return;
        }
        for (size_t c = 0; c < p->k; c++)
            bars[c] = (vb_bar){.label = p->e->classes[c], .value = v->f1[c], .err = NAN, .marker = NAN,
                               .color = c};
        vb_bar_chart c = {.id = "label-f1", .title = "F1 of each label, best pipeline", .x = {"F1", 0, 1, 0, 1},
                          .n = p->k, .bars = bars, .value_legend = "F1"};
        fig_open(p);
        vb_chart_bars(&c, p->b);
        expect(p, "label-f1");
        vb_buf_puts(p->b, "<figcaption>F1 of each label for the best pipeline (");
        text(p, v->row->pipeline);
        vb_buf_puts(p->b, ").</figcaption></figure>\n");
        free(bars);
    }
    vb_buf_puts(p->b, "</section>\n");
}

/* The confusion matrix of one level for row i: from the test run, or summed
 * over the first repetition's CV folds; nodes in level order. */
static void level_confusion(const page *p, size_t i, int level, const int *nodes, int k, size_t *cm)
{
    const vb_summary_row *r = &p->s->rows[i];
    memset(cm, 0, (size_t)k * (size_t)k * sizeof *cm);
    for (size_t j = 0; j < r->n_runs; j++) {
        const vb_store_run *run = &p->e->runs[r->run_idx[j]];
        if (strcmp(run->status, "done") != 0 ||
            (r->test_run ? run != r->test_run : !vb_store_run_first_repetition(run)))
            continue;
        for (size_t q = 0; q < run->n_level_conf; q++) {
            if (run->lc_level[q] != level)
                continue;
            int a = -1, b = -1;
            for (int t = 0; t < k; t++) {
                a = nodes[t] == run->lc_true[q] ? t : a;
                b = nodes[t] == run->lc_pred[q] ? t : b;
            }
            if (a >= 0 && b >= 0)
                cm[(size_t)a * (size_t)k + (size_t)b] += run->lc_count[q];
        }
    }
}

static void hierarchy(page *p)
{
    const vb_taxonomy *t = p->e->tax;
    if (!t)
        return;
    section(p, "hierarchy", "Hierarchy");
    metric_table(p);
    vb_buf_puts(p->b, "<p class=\"small\">The classes form a taxonomy of ");
    vb_buf_printf(p->b, "%d level%s", t->max_depth, t->max_depth == 1 ? "" : "s");
    where_note(p);
    vb_buf_puts(p->b, ". hP, hR and hF are the hierarchical precision, recall and F1 of Kiritchenko et al. (2006): "
                      "a prediction is credited for every ancestor it shares with the truth, so a sneaker taken for "
                      "a sandal is less wrong than one taken for a shirt. Per level, both the truth and the "
                      "prediction are cut to that level (a leaf higher up stands for itself).</p>\n");
    /* accuracy per level, one bar chart per level */
    vb_bar *bars = calloc(p->s->n ? p->s->n : 1, sizeof *bars);
    size_t kmax = 1;
    for (int l = 1; l <= t->max_depth; l++) {
        size_t c = (size_t)vb_tax_level_nodes(t, l, NULL);
        kmax = c > kmax ? c : kmax;
    }
    int *nodes = malloc(kmax * sizeof *nodes);
    size_t *cm = malloc(kmax * kmax * sizeof *cm);
    double *shade = malloc(kmax * kmax * sizeof *shade), *val = malloc(kmax * kmax * sizeof *val);
    const char **labels = malloc(kmax * sizeof *labels);
    if (!bars || !nodes || !cm || !shade || !val || !labels) {
        p->b->failed = 1;
        goto out;
    }
    vb_buf_puts(p->b, "<div class=\"grid\">");
    for (int l = 1; l <= t->max_depth; l++) {
        char id[32], title[64], metric[40];
        snprintf(id, sizeof id, "level-%d-acc", l);
        snprintf(title, sizeof title, "Accuracy at level %d", l);
        snprintf(metric, sizeof metric, "level%d_accuracy", l);
        for (size_t i = 0; i < p->s->n; i++)
            bars[i] = (vb_bar){.label = p->s->rows[i].pipeline, .value = row_metric(p, i, metric), .err = NAN,
                               .marker = NAN, .color = p->v[i].color};
        vb_bar_chart c = {.id = id, .title = title, .x = {"accuracy", 0, 1, 0, 1}, .n = p->s->n, .bars = bars,
                          .value_legend = "accuracy"};
        fig_open(p);
        vb_chart_bars(&c, p->b);
        expect(p, id);
        vb_buf_printf(p->b, "<figcaption>Accuracy at level %d.</figcaption></figure>\n", l);
    }
    vb_buf_puts(p->b, "</div>\n<h3>Confusion per level</h3><p class=\"small\">Rows: true node; columns: "
                      "predicted node, for each level above the leaves (the leaves&#8217; matrix is under "
                      "<a href=\"#confusion\">Confusion</a>).</p>\n");
    for (size_t i = 0; i < p->s->n; i++) {
        if (!p->v[i].has_class)
            continue;
        detail_open(p, i, NULL);
        vb_buf_puts(p->b, "<div class=\"grid\">");
        for (int l = 1; l < t->max_depth; l++) {
            int k = vb_tax_level_nodes(t, l, nodes);
            for (int q = 0; q < k; q++)
                labels[q] = t->names[nodes[q]];
            level_confusion(p, i, l, nodes, k, cm);
            size_t max = 0;
            for (size_t q = 0; q < (size_t)k * (size_t)k; q++)
                max = cm[q] > max ? cm[q] : max;
            for (size_t q = 0; q < (size_t)k * (size_t)k; q++) {
                val[q] = (double)cm[q];
                shade[q] = max ? (double)cm[q] / (double)max : 0;
            }
            char id[48], title[64];
            snprintf(id, sizeof id, "lcm-%zu-%d", i + 1, l);
            snprintf(title, sizeof title, "Confusion matrix at level %d", l);
            vb_heatmap h = {.id = id, .title = title, .rows = (size_t)k, .cols = (size_t)k, .row_labels = labels,
                            .col_labels = labels, .row_title = "true node", .col_title = "predicted node",
                            .shade = shade, .value = val, .decimals = 0};
            fig_open(p);
            vb_chart_heatmap(&h, p->b);
            expect(p, id);
            vb_buf_printf(p->b, "<figcaption>level %d</figcaption></figure>\n", l);
        }
        vb_buf_puts(p->b, "</div>");
        detail_close(p);
    }
out:
    vb_buf_puts(p->b, "</section>\n");
    free(bars);
    free(nodes);
    free(cm);
    free(shade);
    free(val);
    free(labels);
}

void rep_html(const vb_summary *s, const rep_view *v, const char *source, const vb_across *across, vb_buf *b)
{
    page p = {.b = b, .s = s, .v = v, .e = s->e, .k = (size_t)s->e->n_classes};
    vb_buf_init(&p.expected);
    const vb_store_exp *e = s->e;
    vb_buf_puts(b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                   "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                   /* Nothing may be fetched: the page is one file. */
                   "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
                   "style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">"
                   "<meta name=\"generator\" content=\"visbench " VB_VERSION "\"><title>visbench report: ");
    text(&p, e->name);
    vb_buf_printf(b, "</title>\n<script>%s</script>\n<style>%s</style></head>\n<body>\n<header><h1>visbench report: ",
                  JS_ERRORS, CSS);
    text(&p, e->name);
    vb_buf_puts(b, "</h1><p class=\"sub\">");
    text(&p, e->dataset);
    vb_buf_puts(b, " &middot; ");
    text(&p, e->protocol);
    vb_buf_printf(b, " split &middot; %zu pipeline%s &middot; %d classes &middot; ", s->n, s->n == 1 ? "" : "s",
                  e->n_classes);
    text(&p, rep_first_start(e));
    vb_buf_puts(b, "</p><nav><a href=\"#summary\">Summary</a><a href=\"#leaderboard\">Leaderboard</a>");
    if (across && across->n_sets > 1)
        vb_buf_puts(b, "<a href=\"#datasets\">Datasets</a>");
    if (s->has_cluster)
        vb_buf_puts(b, "<a href=\"#clustering\">Clustering</a>");
    if (e->task && strcmp(e->task, "multilabel") == 0)
        vb_buf_puts(b, "<a href=\"#multilabel\">Label sets</a>");
    if (e->tax)
        vb_buf_puts(b, "<a href=\"#hierarchy\">Hierarchy</a>");
    /* mode: cluster has no classification results to draw */
    if (!s->cluster_only)
        vb_buf_puts(b, "<a href=\"#accuracy\">Accuracy</a><a href=\"#tradeoffs\">Cost</a><a href=\"#per-class\">Per "
                       "class</a><a href=\"#confusion\">Confusion</a><a href=\"#roc\">ROC</a><a href=\"#curves\">"
                       "Curves</a><a href=\"#significance\">Significance</a>");
    vb_buf_puts(b, "<a href=\"#hyperparameters\">Hyperparameters</a><a href=\"#resources\">Timings</a></nav></header>"
                   "\n<main>\n");
    summary(&p);
    leaderboard(&p);
    if (across && across->n_sets > 1) {
        vb_render_across_html(across, b);
        if (across->have_stats)
            expect(&p, "cd-diagram");
    }
    clustering(&p);
    multilabel(&p);
    hierarchy(&p);
    if (!s->cluster_only) {
        accuracy(&p);
        tradeoffs(&p);
        per_class(&p);
        confusion(&p);
        roc(&p);
        curves(&p);
        training_size(&p);
        significance(&p);
    }
    hyperparameters(&p);
    resources(&p);
    failures(&p);
    vb_buf_puts(b, "</main>\n<footer><p>Rendered by visbench " VB_VERSION);
    if (source) {
        vb_buf_puts(b, " from ");
        text(&p, source);
    }
    vb_buf_printf(b, " (experiment %lld), from the stored results only. Colours: the Okabe&#8211;Ito palette and five more,"
                     " then marker shapes and dash patterns; classes have a palette of their own.</p>"
                     "</footer>\n",
                  (long long)e->id);
    if (p.expected.failed)
        b->failed = 1;
    vb_buf_printf(b,
                  "<div id=\"vb-check\" hidden data-status=\"pending\" data-errors=\"0\" data-expected=\"%s\"></div>\n"
                  "<script>%s</script>\n</body></html>\n",
                  p.expected.data ? p.expected.data : "", JS_CHECK);
    vb_buf_free(&p.expected);
}
