/* The comparison report: per-pipeline views, Markdown, long CSV. */
#include "internal.h"
#include "visbench/across.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Folds are told apart by their kind (vb_store_run_is_test,
 * vb_store_run_first_repetition): the CV folds of the first repetition,
 * pooled, predict every sample of the pool exactly once (a repeated
 * holdout's first draw: its test set). */

static int done(const vb_store_run *r) { return strcmp(r->status, "done") == 0; }

/* Runs whose scores were stored (the classifier returned scores, so AUC was computed). */
static int has_scores(const vb_store_run *r) { return r->n_pred > 0 && !isnan(vb_store_metric(r, "auc_macro")); }

void rep_views_free(rep_view *v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++) {
        free(v[i].precision);
        free(v[i].recall);
        free(v[i].f1);
        free(v[i].auc);
        free(v[i].confusion);
        free(v[i].truth);
        free(v[i].scores);
        free(v[i].cv_acc);
    }
    free(v);
}

static vb_status view_build(const vb_store_exp *e, const vb_summary_row *row, rep_view *v, vb_error *err)
{
    size_t k = (size_t)e->n_classes, kk;
    if (!vb_mul_ok(k, k, &kk))
        return vb_fail(err, VB_ERR_NOMEM, "too many classes");
    v->precision = vb_calloc(k ? k : 1, sizeof *v->precision, err);
    v->recall = vb_calloc(k ? k : 1, sizeof *v->recall, err);
    v->f1 = vb_calloc(k ? k : 1, sizeof *v->f1, err);
    v->auc = vb_calloc(k ? k : 1, sizeof *v->auc, err);
    v->cv_acc = vb_calloc(e->n_runs ? e->n_runs : 1, sizeof *v->cv_acc, err);
    if (!v->precision || !v->recall || !v->f1 || !v->auc || !v->cv_acc)
        return VB_ERR_NOMEM;
    const vb_store_run *test = row->test_run;
    for (size_t i = 0; i < e->n_runs; i++) {
        const vb_store_run *r = &e->runs[i];
        if (strcmp(r->pipeline, row->pipeline) != 0 || !done(r))
            continue;
        if (!v->dim_run_features) {
            v->dim_run_features = r->features;
            v->dim = r->dim;
        }
        if (r->n_epochs && (!v->curves || r == test))
            v->curves = r;
        if (!vb_store_run_is_test(r)) {
            double a = vb_store_metric(r, "accuracy");
            if (!isnan(a))
                v->cv_acc[v->n_cv_acc++] = a;
        }
    }
    if (test) {
        v->from_test = 1;
        v->has_class = 1;
        memcpy(v->precision, test->precision, k * sizeof *v->precision);
        memcpy(v->recall, test->recall, k * sizeof *v->recall);
        memcpy(v->f1, test->f1, k * sizeof *v->f1);
        memcpy(v->auc, test->auc, k * sizeof *v->auc);
        if (!(v->confusion = vb_malloc(kk ? kk : 1, sizeof *v->confusion, err)))
            return VB_ERR_NOMEM;
        memcpy(v->confusion, test->confusion, kk * sizeof *v->confusion);
        if (has_scores(test)) {
            v->truth = vb_malloc(test->n_pred, sizeof *v->truth, err);
            v->scores = vb_malloc(test->n_pred * k, sizeof *v->scores, err);
            if (!v->truth || !v->scores)
                return VB_ERR_NOMEM;
            memcpy(v->truth, test->truth, test->n_pred * sizeof *v->truth);
            memcpy(v->scores, test->scores, test->n_pred * k * sizeof *v->scores);
            v->n_pred = test->n_pred;
        }
        return VB_OK;
    }
    /* No test fold: per-class means over every CV fold; confusion and ROC
     * from the first repetition's out-of-fold predictions. */
    size_t *auc_n = vb_calloc(k ? k : 1, sizeof *auc_n, err);
    if (!auc_n)
        return VB_ERR_NOMEM;
    for (size_t c = 0; c < k; c++)
        v->auc[c] = 0;
    size_t n_pool = 0, n_rep1 = 0, n_rep1_scored = 0;
    for (size_t i = 0; i < e->n_runs; i++) {
        const vb_store_run *r = &e->runs[i];
        if (strcmp(r->pipeline, row->pipeline) != 0 || !done(r) || vb_store_run_is_test(r))
            continue;
        v->n_cv++;
        for (size_t c = 0; c < k; c++) {
            v->precision[c] += r->precision[c];
            v->recall[c] += r->recall[c];
            v->f1[c] += r->f1[c];
            if (!isnan(r->auc[c])) {
                v->auc[c] += r->auc[c];
                auc_n[c]++;
            }
        }
        if (vb_store_run_first_repetition(r)) {
            n_rep1++;
            n_rep1_scored += has_scores(r);
            n_pool += r->n_pred;
            if (!v->confusion && !(v->confusion = vb_calloc(kk ? kk : 1, sizeof *v->confusion, err))) {
                free(auc_n);
                return VB_ERR_NOMEM;
            }
            for (size_t j = 0; j < kk; j++)
                v->confusion[j] += r->confusion[j];
        }
    }
    for (size_t c = 0; c < k; c++) {
        double n = (double)v->n_cv;
        v->precision[c] = v->n_cv ? v->precision[c] / n : NAN;
        v->recall[c] = v->n_cv ? v->recall[c] / n : NAN;
        v->f1[c] = v->n_cv ? v->f1[c] / n : NAN;
        v->auc[c] = auc_n[c] ? v->auc[c] / (double)auc_n[c] : NAN;
    }
    free(auc_n);
    if (row->pooled && v->confusion) { /* leave-one-out: one image a fold, so pool them */
        vb_metrics pm;
        if (vb_metrics_from_confusion(v->confusion, e->n_classes, &pm, err) != VB_OK)
            return err ? err->status : VB_ERR_NOMEM;
        memcpy(v->precision, pm.precision, k * sizeof *v->precision);
        memcpy(v->recall, pm.recall, k * sizeof *v->recall);
        memcpy(v->f1, pm.f1, k * sizeof *v->f1);
        vb_metrics_free(&pm);
    }
    v->has_class = v->n_cv > 0;
    if (n_rep1 && n_rep1 == n_rep1_scored && n_pool) {
        v->truth = vb_malloc(n_pool, sizeof *v->truth, err);
        v->scores = vb_malloc(n_pool * k, sizeof *v->scores, err);
        if (!v->truth || !v->scores)
            return VB_ERR_NOMEM;
        for (size_t i = 0; i < e->n_runs; i++) {
            const vb_store_run *r = &e->runs[i];
            if (strcmp(r->pipeline, row->pipeline) != 0 || !done(r) || vb_store_run_is_test(r) ||
                !vb_store_run_first_repetition(r))
                continue;
            memcpy(v->truth + v->n_pred, r->truth, r->n_pred * sizeof *v->truth);
            memcpy(v->scores + v->n_pred * k, r->scores, r->n_pred * k * sizeof *v->scores);
            v->n_pred += r->n_pred;
        }
    }
    return VB_OK;
}

vb_status rep_views_build(const vb_summary *s, rep_view **out, vb_error *err)
{
    *out = NULL;
    rep_view *v = vb_calloc(s->n ? s->n : 1, sizeof *v, err);
    if (!v)
        return VB_ERR_NOMEM;
    for (size_t i = 0; i < s->n; i++) {
        v[i].row = &s->rows[i];
        v[i].color = i;
        vb_status st = view_build(s->e, &s->rows[i], &v[i], err);
        if (st != VB_OK) {
            rep_views_free(v, s->n);
            return st;
        }
    }
    *out = v;
    return VB_OK;
}

size_t rep_roc_macro(const rep_view *v, int k, const double *grid, size_t n_grid, double *tpr_out)
{
    enum { MAXP = 512 };
    double fpr[MAXP], tpr[MAXP];
    size_t used = 0;
    for (size_t g = 0; g < n_grid; g++)
        tpr_out[g] = 0;
    for (int c = 0; c < k && v->n_pred; c++) {
        size_t np = vb_roc_ovr(v->truth, v->scores, v->n_pred, k, c, fpr, tpr, MAXP);
        if (np < 2)
            continue;
        used++;
        /* The curve's TPR at each grid FPR: linear between points, the top
         * of a vertical step at its FPR. */
        for (size_t g = 0; g < n_grid; g++) {
            double f = grid[g], best = 0;
            for (size_t i = 0; i + 1 < np; i++) {
                if (fpr[i] > f)
                    break;
                double t = fpr[i + 1] <= f ? tpr[i + 1]
                         : fpr[i + 1] > fpr[i] ? tpr[i] + (tpr[i + 1] - tpr[i]) * (f - fpr[i]) / (fpr[i + 1] - fpr[i])
                                               : tpr[i];
                if (t > best)
                    best = t;
            }
            tpr_out[g] += best;
        }
    }
    for (size_t g = 0; used && g < n_grid; g++)
        tpr_out[g] /= (double)used;
    return used;
}

double rep_row_metric(const vb_summary *s, size_t i, const char *name)
{
    const vb_summary_row *r = &s->rows[i];
    if (r->test_run)
        return vb_store_metric(r->test_run, name);
    double sum = 0;
    size_t n = 0;
    for (size_t j = 0; j < r->n_runs; j++) {
        const vb_store_run *run = &s->e->runs[r->run_idx[j]];
        double v = done(run) ? vb_store_metric(run, name) : NAN;
        if (!isnan(v)) {
            sum += v;
            n++;
        }
    }
    return n ? sum / (double)n : NAN;
}

size_t rep_task_metrics(const vb_store_exp *e, char names[][40], char heads[][40], size_t max)
{
    static const char *const ml[][2] = {{"subset_accuracy", "subset accuracy"}, {"hamming_loss", "Hamming loss"},
                                        {"micro_f1", "micro-F1"},               {"macro_f1", "macro-F1"},
                                        {"samples_f1", "samples-F1"},           {"micro_precision", "micro precision"},
                                        {"micro_recall", "micro recall"},       {"lrap", "LRAP"},
                                        {"coverage_error", "coverage error"},   {"auc_macro", "AUC (macro)"}};
    static const char *const hi[][2] = {{"hierarchical_precision", "hP"}, {"hierarchical_recall", "hR"},
                                        {"hierarchical_f1", "hF"}};
    size_t n = 0;
    if (e->task && strcmp(e->task, "multilabel") == 0)
        for (size_t j = 0; j < sizeof ml / sizeof ml[0] && n < max; j++, n++) {
            snprintf(names[n], 40, "%s", ml[j][0]);
            snprintf(heads[n], 40, "%s", ml[j][1]);
        }
    if (e->tax) {
        for (size_t j = 0; j < 3 && n < max; j++, n++) {
            snprintf(names[n], 40, "%s", hi[j][0]);
            snprintf(heads[n], 40, "%s", hi[j][1]);
        }
        for (int l = 1; l <= e->tax->max_depth && n + 2 <= max; l++) {
            snprintf(names[n], 40, "level%d_accuracy", l);
            snprintf(heads[n++], 40, "level %d accuracy", l);
            snprintf(names[n], 40, "level%d_macro_f1", l);
            snprintf(heads[n++], 40, "level %d macro-F1", l);
        }
    }
    return n;
}

/* ---- Markdown ------------------------------------------------------------------ */

static void md_num(vb_buf *b, double v, int decimals)
{
    if (isnan(v))
        vb_buf_puts(b, "-");
    else
        vb_buf_printf(b, "%.*f", decimals, v);
}

static void md_class_table(const vb_summary *s, const rep_view *v, const double *(*get)(const rep_view *), vb_buf *b)
{
    const vb_store_exp *e = s->e;
    vb_buf_puts(b, "| pipeline |");
    for (int c = 0; c < e->n_classes; c++) {
        vb_buf_puts(b, " ");
        vb_md_cell(b, e->classes[c]);
        vb_buf_puts(b, " |");
    }
    vb_buf_puts(b, "\n|---|");
    for (int c = 0; c < e->n_classes; c++)
        vb_buf_puts(b, "---:|");
    vb_buf_puts(b, "\n");
    for (size_t i = 0; i < s->n; i++) {
        if (!v[i].has_class)
            continue;
        vb_buf_puts(b, "| ");
        vb_md_cell(b, v[i].row->pipeline);
        vb_buf_puts(b, " |");
        const double *x = get(&v[i]);
        for (int c = 0; c < e->n_classes; c++) {
            vb_buf_puts(b, " ");
            md_num(b, x[c], 3);
            vb_buf_puts(b, " |");
        }
        vb_buf_puts(b, "\n");
    }
    vb_buf_puts(b, "\n");
}

static const double *get_f1(const rep_view *v) { return v->f1; }
static const double *get_auc(const rep_view *v) { return v->auc; }

static const char *source_of(const vb_summary *s, const rep_view *v)
{
    return v->from_test ? (s->test_fold ? s->test_fold : "test") : "CV";
}

static void render_md(const vb_summary *s, const rep_view *v, const char *source, vb_buf *b)
{
    const vb_store_exp *e = s->e;
    size_t k = (size_t)e->n_classes;
    vb_buf_puts(b, "# visbench report: ");
    vb_md_cell(b, e->name);
    vb_buf_puts(b, "\n\n");
    vb_render_experiment(e, VB_FMT_MD, b);
    vb_buf_printf(b, "Classes (%d): ", e->n_classes);
    for (size_t c = 0; c < k; c++) {
        vb_buf_puts(b, c ? ", " : "");
        vb_md_cell(b, e->classes[c]);
    }
    vb_buf_puts(b, "\n\n");

    vb_buf_puts(b, "## Leaderboard\n\n");
    if (!s->n)
        vb_buf_puts(b, "No runs are stored for this experiment yet.\n\n");
    else {
        vb_render_leaderboard(s, VB_FMT_MD, b);
        vb_buf_puts(b, "\n");
    }

    char tn[40][40], th[40][40];
    size_t nt = rep_task_metrics(e, tn, th, 40);
    int ml = e->task && strcmp(e->task, "multilabel") == 0;
    if (nt && s->n) {
        vb_buf_puts(b, ml ? "## Label sets\n\nSubset accuracy is the accuracy of the leaderboard. "
                          : "## Hierarchy\n\nHierarchical precision, recall and F1 (Kiritchenko et al. 2006), and "
                            "accuracy and macro-F1 per level. ");
        vb_buf_puts(b, "On the test fold; pipelines without one: mean over CV folds.\n\n| pipeline |");
        for (size_t j = 0; j < nt; j++)
            vb_buf_printf(b, " %s |", th[j]);
        vb_buf_puts(b, "\n|---|");
        for (size_t j = 0; j < nt; j++)
            vb_buf_puts(b, "---:|");
        vb_buf_puts(b, "\n");
        for (size_t i = 0; i < s->n; i++) {
            vb_buf_puts(b, "| ");
            vb_md_cell(b, s->rows[i].pipeline);
            vb_buf_puts(b, " |");
            for (size_t j = 0; j < nt; j++) {
                vb_buf_puts(b, " ");
                md_num(b, rep_row_metric(s, i, tn[j]), 4);
                vb_buf_puts(b, " |");
            }
            vb_buf_puts(b, "\n");
        }
        vb_buf_puts(b, "\n");
    }
    int any_class = 0, any_auc = 0, any_conf = 0, any_curve = 0;
    for (size_t i = 0; i < s->n; i++) {
        any_class |= v[i].has_class;
        any_conf |= v[i].confusion != NULL;
        any_curve |= v[i].curves != NULL;
        for (size_t c = 0; c < k; c++)
            any_auc |= v[i].has_class && !isnan(v[i].auc[c]);
    }
    if (any_class) {
        vb_buf_puts(b, ml ? "## Per-label F1\n\nOn the test fold; pipelines without one: mean over CV folds.\n\n"
                          : "## Per-class F1\n\nOn the test fold; pipelines without one: mean over CV folds.\n\n");
        md_class_table(s, v, get_f1, b);
    }
    if (any_auc) {
        vb_buf_puts(b, ml ? "## Per-label ROC AUC\n\n" : "## Per-class ROC AUC (one-vs-rest)\n\n");
        md_class_table(s, v, get_auc, b);
    }
    if (any_conf && !ml) {
        vb_buf_puts(b, "## Confusion matrices\n\nRows: true class; columns: predicted class.\n\n");
        for (size_t i = 0; i < s->n; i++) {
            if (!v[i].confusion)
                continue;
            vb_buf_puts(b, "### ");
            vb_md_cell(b, v[i].row->pipeline);
            vb_buf_printf(b, " (%s)\n\n| true ↓ predicted → |", v[i].from_test ? source_of(s, &v[i])
                                                                                    : "pooled CV folds");
            for (size_t c = 0; c < k; c++) {
                vb_buf_puts(b, " ");
                vb_md_cell(b, e->classes[c]);
                vb_buf_puts(b, " |");
            }
            vb_buf_puts(b, "\n|---|");
            for (size_t c = 0; c < k; c++)
                vb_buf_puts(b, "---:|");
            vb_buf_puts(b, "\n");
            for (size_t r = 0; r < k; r++) {
                vb_buf_puts(b, "| ");
                vb_md_cell(b, e->classes[r]);
                vb_buf_puts(b, " |");
                for (size_t c = 0; c < k; c++)
                    vb_buf_printf(b, " %zu |", v[i].confusion[r * k + c]);
                vb_buf_puts(b, "\n");
            }
            vb_buf_puts(b, "\n");
        }
    }
    if (any_curve) {
        vb_buf_puts(b, "## Learning curves\n\n");
        for (size_t i = 0; i < s->n; i++) {
            const vb_store_run *r = v[i].curves;
            if (!r)
                continue;
            vb_buf_puts(b, "### ");
            vb_md_cell(b, v[i].row->pipeline);
            vb_buf_puts(b, " (");
            vb_md_cell(b, r->fold);
            vb_buf_puts(b, ")\n\n| epoch | train loss | train acc | val loss | val acc | lr | s |\n"
                           "|---:|---:|---:|---:|---:|---:|---:|\n");
            for (size_t j = 0; j < r->n_epochs; j++) {
                const vb_store_epoch *ep = &r->epochs[j];
                vb_buf_printf(b, "| %zu | ", j + 1);
                md_num(b, ep->train_loss, 4);
                vb_buf_puts(b, " | ");
                md_num(b, ep->train_acc, 4);
                vb_buf_puts(b, " | ");
                md_num(b, ep->val_loss, 4);
                vb_buf_puts(b, " | ");
                md_num(b, ep->val_acc, 4);
                vb_buf_puts(b, " | ");
                if (isnan(ep->lr))
                    vb_buf_puts(b, "-");
                else
                    vb_buf_printf(b, "%g", ep->lr);
                vb_buf_puts(b, " | ");
                md_num(b, ep->seconds, 1);
                vb_buf_puts(b, " |\n");
            }
            vb_buf_puts(b, "\n");
        }
    }
    vb_buf_puts(b, "## Pairwise significance\n\n");
    if (s->n < 2)
        vb_buf_puts(b, s->n ? "One pipeline only: nothing to compare.\n\n" : "No runs yet: nothing to compare.\n\n");
    else
        vb_render_pairwise(s, VB_FMT_MD, b);

    vb_buf_puts(b, "## Hyperparameters\n\n| pipeline | classifier parameters | grid choice | features |\n"
                   "|---|---|---|---|\n");
    for (size_t i = 0; i < s->n; i++) {
        const vb_summary_row *r = &s->rows[i];
        vb_buf_puts(b, "| ");
        vb_md_cell(b, r->pipeline);
        vb_buf_puts(b, " | ");
        vb_md_cell(b, r->params ? r->params : "-");
        vb_buf_puts(b, " | ");
        vb_md_cell(b, r->grid ? r->grid : "-");
        vb_buf_puts(b, " | ");
        vb_md_cell(b, r->features ? r->features : "-");
        vb_buf_puts(b, " |\n");
    }
    vb_buf_puts(b, "\n## Timings and memory\n\nMeans per run (seconds); peak RSS is the maximum.\n\n"
                   "| pipeline | runs | extract s | postprocess s | tune s | train s | predict s | images/s | peak RSS MB |"
                   " model KB | dim |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for (size_t i = 0; i < s->n; i++) {
        const vb_summary_row *r = &s->rows[i];
        vb_buf_puts(b, "| ");
        vb_md_cell(b, r->pipeline);
        vb_buf_printf(b, " | %zu", r->n_done);
        double vals[] = {r->extract_s, r->postprocess_s, r->tune_s, r->train_s, r->predict_s};
        for (size_t j = 0; j < 5; j++) {
            vb_buf_puts(b, " | ");
            md_num(b, r->n_done ? vals[j] : NAN, 3);
        }
        vb_buf_puts(b, " | ");
        md_num(b, r->n_done ? r->predict_per_s : NAN, 0);
        vb_buf_puts(b, " | ");
        md_num(b, r->n_done ? r->peak_rss_mb : NAN, 0);
        vb_buf_puts(b, " | ");
        md_num(b, r->n_done ? r->model_kb : NAN, 1);
        if (v[i].dim_run_features)
            vb_buf_printf(b, " | %zu |\n", v[i].dim);
        else
            vb_buf_puts(b, " | - |\n");
    }
    int unfinished = 0;
    for (size_t i = 0; i < e->n_runs; i++)
        unfinished |= !done(&e->runs[i]);
    if (unfinished) {
        vb_buf_puts(b, "\n## Runs that did not finish\n\n| pipeline | fold | status | error |\n|---|---|---|---|\n");
        for (size_t i = 0; i < e->n_runs; i++) {
            const vb_store_run *r = &e->runs[i];
            if (done(r))
                continue;
            vb_buf_puts(b, "| ");
            vb_md_cell(b, r->pipeline);
            vb_buf_puts(b, " | ");
            vb_md_cell(b, r->fold);
            vb_buf_puts(b, " | ");
            vb_md_cell(b, r->status);
            vb_buf_puts(b, " | ");
            vb_md_cell(b, r->error ? r->error : strcmp(r->status, "running") == 0 ? "running or interrupted" : "-");
            vb_buf_puts(b, " |\n");
        }
    }
    vb_buf_puts(b, "\n---\nRendered by visbench " VB_VERSION);
    if (source) {
        vb_buf_puts(b, " from ");
        vb_md_cell(b, source);
    }
    vb_buf_printf(b, " (experiment %lld).\n", (long long)e->id);
}

/* ---- long CSV -------------------------------------------------------------------- */

static void csv_row(vb_buf *b, const vb_store_exp *e, const vb_store_run *r, const char *metric, const char *cls,
                    double v)
{
    if (isnan(v))
        return;
    vb_buf_csv_field(b, e->name);
    vb_buf_puts(b, ",");
    vb_buf_csv_field(b, r->pipeline);
    vb_buf_puts(b, ",");
    vb_buf_csv_field(b, r->fold);
    vb_buf_printf(b, ",%s,", metric);
    vb_buf_csv_field(b, cls);
    vb_buf_puts(b, ",");
    vb_buf_double(b, v);
    vb_buf_puts(b, "\n");
}

void vb_report_metrics_csv(const vb_store_exp *e, vb_buf *b)
{
    vb_buf_puts(b, "experiment,pipeline,fold,metric,class,value\n");
    for (size_t i = 0; i < e->n_runs; i++) {
        const vb_store_run *r = &e->runs[i];
        if (!done(r))
            continue;
        for (size_t m = 0; m < r->n_metrics; m++) {
            if (isnan(r->metric_values[m]))
                continue;
            vb_buf_csv_field(b, e->name);
            vb_buf_puts(b, ",");
            vb_buf_csv_field(b, r->pipeline);
            vb_buf_puts(b, ",");
            vb_buf_csv_field(b, r->fold);
            vb_buf_puts(b, ",");
            vb_buf_csv_field(b, r->metric_names[m]); /* names come from the store: quote them too */
            vb_buf_puts(b, ",,");
            vb_buf_double(b, r->metric_values[m]);
            vb_buf_puts(b, "\n");
        }
        for (int c = 0; c < e->n_classes; c++) {
            const char *cls = e->classes[c];
            csv_row(b, e, r, "precision", cls, r->precision[c]);
            csv_row(b, e, r, "recall", cls, r->recall[c]);
            csv_row(b, e, r, "f1", cls, r->f1[c]);
            csv_row(b, e, r, "support", cls, (double)r->support[c]);
            csv_row(b, e, r, "auc", cls, r->auc[c]);
        }
        csv_row(b, e, r, "extract_s", "", r->extract_s);
        csv_row(b, e, r, "postprocess_s", "", r->postprocess_s);
        csv_row(b, e, r, "tune_s", "", r->tune_s);
        csv_row(b, e, r, "train_s", "", r->train_s);
        csv_row(b, e, r, "predict_s", "", r->predict_s);
        csv_row(b, e, r, "peak_rss_kb", "", (double)r->peak_rss_kb);
        csv_row(b, e, r, "model_bytes", "", (double)r->model_bytes);
        csv_row(b, e, r, "n_train", "", (double)r->n_train);
        csv_row(b, e, r, "n_val", "", (double)r->n_val);
        csv_row(b, e, r, "n_test", "", (double)r->n_test);
        csv_row(b, e, r, "dim", "", (double)r->dim);
    }
}

vb_status vb_report_render(const vb_store_exp *e, vb_format fmt, const char *source, vb_buf *b, vb_error *err)
{
    return vb_report_render_across(e, fmt, source, NULL, b, err);
}

vb_status vb_report_render_across(const vb_store_exp *e, vb_format fmt, const char *source, const vb_across *across,
                                  vb_buf *b, vb_error *err)
{
    if (fmt == VB_FMT_CSV) {
        vb_report_metrics_csv(e, b);
        return b->failed ? vb_fail(err, VB_ERR_NOMEM, "out of memory") : VB_OK;
    }
    if (fmt != VB_FMT_HTML && fmt != VB_FMT_MD)
        return vb_fail(err, VB_ERR_PARAM, "a report is html, md or csv");
    vb_summary *s = NULL;
    rep_view *v = NULL;
    vb_status st = vb_summary_build(e, &s, err);
    if (st == VB_OK)
        st = rep_views_build(s, &v, err);
    if (st == VB_OK) {
        if (fmt == VB_FMT_HTML)
            rep_html(s, v, source, across, b);
        else {
            render_md(s, v, source, b);
            vb_size_curve *sc = NULL;
            if (vb_size_curve_build(e, &sc, err) != VB_OK)
                b->failed = 1;
            vb_render_size_curve(sc, VB_FMT_MD, b);
            vb_size_curve_free(sc);
            if (across)
                vb_render_across(across, VB_FMT_MD, b);
        }
        if (b->failed)
            st = vb_fail(err, VB_ERR_NOMEM, "out of memory");
    }
    if (s)
        rep_views_free(v, s->n);
    vb_summary_free(s);
    return st;
}
