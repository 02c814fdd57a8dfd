/* Leaderboards and pairwise significance from a stored experiment. */
#define _GNU_SOURCE
#include "visbench/summary.h"
#include "visbench/eval.h"
#include "visbench/node.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>


void vb_summary_free(vb_summary *s)
{
    if (!s)
        return;
    free(s->rows);
    free(s->run_order);
    free(s->mcnemar_p);
    free(s->ttest_p);
    free(s->ttest_t);
    free(s->mcnemar_p_adj);
    free(s->ttest_p_adj);
    free(s);
}

double vb_summary_score(const vb_summary *s, const vb_summary_row *r)
{
    const vb_stat *v = s->by_nmi ? &r->nmi : &r->accuracy;
    return s->has_test && !isnan(v->test) ? v->test : v->mean;
}

static int by_score(const void *a, const void *b, void *ctx)
{
    double x = vb_summary_score(ctx, a), y = vb_summary_score(ctx, b);
    if (isnan(x) != isnan(y))
        return isnan(x) ? 1 : -1;
    if (x != y && !isnan(x))
        return x > y ? -1 : 1;
    return strcmp(((const vb_summary_row *)a)->pipeline, ((const vb_summary_row *)b)->pipeline);
}

/* The runs of one pipeline: indices into e->runs, in fold order. */
typedef struct run_set {
    const size_t *idx;
    size_t n;
} run_set;

static void stat_of(const vb_store_exp *e, run_set rs, const char *metric, vb_stat *st)
{
    double vals[4096];
    size_t n = 0;
    st->test = NAN;
    for (size_t k = 0; k < rs.n; k++) {
        const vb_store_run *r = &e->runs[rs.idx[k]];
        if (strcmp(r->status, "done") != 0)
            continue;
        double v = vb_store_metric(r, metric);
        if (vb_store_run_is_test(r))
            st->test = v;
        else if (!isnan(v) && n < 4096)
            vals[n++] = v;
    }
    st->n = n;
    if (n)
        vb_mean_sd(vals, n, &st->mean, &st->sd);
    else
        st->mean = st->sd = NAN;
}

/* The confusion matrix of a pipeline's leave-one-out folds, summed into cm
 * (k x k, zeroed): 1 when every averaged fold is one (single labels), else
 * 0. */
static int loo_confusion(const vb_store_exp *e, run_set rs, size_t *cm)
{
    size_t kk = (size_t)e->n_classes, folds = 0;
    if (!e->task || strcmp(e->task, vb_task_name(VB_TASK_SINGLE)) != 0)
        return 0;
    for (size_t k = 0; k < rs.n; k++) {
        const vb_store_run *r = &e->runs[rs.idx[k]];
        if (strcmp(r->status, "done") != 0 || vb_store_run_is_test(r))
            continue;
        if (r->fold_kind != VB_FOLD_LOO || !r->confusion)
            return 0;
        for (size_t i = 0; i < kk * kk; i++)
            cm[i] += r->confusion[i];
        folds++;
    }
    return folds > 0;
}

/* The scores of a row's leave-one-out folds pooled (one confusion matrix
 * summed over them); *found 0, and m empty, for a row without. */
static vb_status pooled_metrics(const vb_store_exp *e, const vb_summary_row *row, int *found, vb_metrics *m,
                                vb_error *err)
{
    memset(m, 0, sizeof *m);
    size_t kk = (size_t)e->n_classes;
    size_t *cm = vb_calloc(kk ? kk * kk : 1, sizeof *cm, err);
    if (!cm)
        return VB_ERR_NOMEM;
    *found = loo_confusion(e, (run_set){row->run_idx, row->n_runs}, cm);
    vb_status st = *found ? vb_metrics_from_confusion(cm, e->n_classes, m, err) : VB_OK;
    free(cm);
    return st;
}

/* The done run of a pipeline on fold, or NULL. */
static const vb_store_run *find_run(const vb_store_exp *e, run_set rs, const char *fold)
{
    for (size_t k = 0; k < rs.n; k++) {
        const vb_store_run *r = &e->runs[rs.idx[k]];
        if (strcmp(r->fold, fold) == 0 && strcmp(r->status, "done") == 0)
            return r;
    }
    return NULL;
}

/* Is prediction i of run r right? For label sets (k labels), when the
 * predicted set is the true set (subset correctness). */
static int run_correct(const vb_store_run *r, size_t i, int k)
{
    if (r->truth_sets && r->pred_sets)
        return memcmp(r->truth_sets + i * (size_t)k, r->pred_sets + i * (size_t)k, (size_t)k) == 0;
    return r->truth[i] == r->pred[i];
}

/* McNemar between two runs over the samples both predicted (matched by
 * sample id) on their correctness: *p, NaN when they share no sample. */
static vb_status mcnemar_runs(const vb_store_run *a, const vb_store_run *b, int k, double *p, vb_error *err)
{
    *p = NAN;
    if (!a || !b || !a->n_pred || !b->n_pred)
        return VB_OK;
    size_t n = a->n_pred < b->n_pred ? a->n_pred : b->n_pred;
    uint8_t *pa = malloc(n), *pb = malloc(n);
    size_t m = 0, i = 0, j = 0;
    vb_status st = pa && pb ? VB_OK : vb_fail(err, VB_ERR_NOMEM, "out of memory");
    if (st == VB_OK)
        while (i < a->n_pred && j < b->n_pred) { /* both sorted by sample */
            if (a->sample[i] < b->sample[j])
                i++;
            else if (a->sample[i] > b->sample[j])
                j++;
            else {
                pa[m] = (uint8_t)run_correct(a, i, k);
                pb[m++] = (uint8_t)run_correct(b, j, k);
                i++;
                j++;
            }
        }
    if (m) {
        vb_mcnemar mc;
        vb_mcnemar_correct(pa, pb, m, &mc);
        *p = mc.p;
    }
    free(pa);
    free(pb);
    return st;
}

static int by_sample(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b; /* sample is the first member */
    return x < y ? -1 : x > y;
}

/* Pooled out-of-fold predictions of one pipeline over the CV folds of the
 * first repetition, as a pseudo-run sorted by sample (none: n_pred 0). */
static vb_status pooled_oof(const vb_store_exp *e, run_set rs, vb_store_run *out, vb_error *err)
{
    memset(out, 0, sizeof *out);
    size_t total = 0;
    for (size_t k = 0; k < rs.n; k++) {
        const vb_store_run *r = &e->runs[rs.idx[k]];
        if (strcmp(r->status, "done") == 0 && vb_store_run_first_repetition(r))
            total += r->n_pred;
    }
    if (!total)
        return VB_OK;
    out->sample = malloc(total * sizeof *out->sample);
    out->truth = malloc(total * sizeof *out->truth);
    out->pred = malloc(total * sizeof *out->pred);
    if (!out->sample || !out->truth || !out->pred)
        return vb_fail(err, VB_ERR_NOMEM, "out of memory");
    for (size_t k = 0; k < rs.n; k++) {
        const vb_store_run *r = &e->runs[rs.idx[k]];
        if (strcmp(r->status, "done") != 0 || !vb_store_run_first_repetition(r))
            continue;
        memcpy(out->sample + out->n_pred, r->sample, r->n_pred * sizeof *r->sample);
        memcpy(out->truth + out->n_pred, r->truth, r->n_pred * sizeof *r->truth);
        memcpy(out->pred + out->n_pred, r->pred, r->n_pred * sizeof *r->pred);
        /* label sets: the pseudo-run keeps only their correctness (truth 1,
         * pred 1 when right), which is all McNemar needs */
        for (size_t i = 0; r->truth_sets && i < r->n_pred; i++) {
            out->truth[out->n_pred + i] = 1;
            out->pred[out->n_pred + i] = run_correct(r, i, e->n_classes);
        }
        out->n_pred += r->n_pred;
    }
    /* Folds interleave samples: order by sample so runs can be matched. */
    typedef struct triple {
        size_t sample;
        int truth, pred;
    } triple;
    triple *t = malloc(out->n_pred * sizeof *t);
    if (!t)
        return vb_fail(err, VB_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < out->n_pred; i++)
        t[i] = (triple){out->sample[i], out->truth[i], out->pred[i]};
    qsort(t, out->n_pred, sizeof *t, by_sample);
    for (size_t i = 0; i < out->n_pred; i++) {
        out->sample[i] = t[i].sample;
        out->truth[i] = t[i].truth;
        out->pred[i] = t[i].pred;
    }
    free(t);
    return VB_OK;
}

static void free_pseudo(vb_store_run *r)
{
    free(r->sample);
    free(r->truth);
    free(r->pred);
}

/* Sorts run indices by pipeline name, then fold index. */
static int by_pipeline_fold(const void *a, const void *b, void *ctx)
{
    const vb_store_exp *e = ctx;
    const vb_store_run *x = &e->runs[*(const size_t *)a], *y = &e->runs[*(const size_t *)b];
    int c = strcmp(x->pipeline, y->pipeline);
    if (c)
        return c;
    if (x->fold_index != y->fold_index)
        return x->fold_index < y->fold_index ? -1 : 1;
    return *(const size_t *)a < *(const size_t *)b ? -1 : 1;
}

static run_set runs_of(const vb_summary_row *row) { return (run_set){row->run_idx, row->n_runs}; }

/* McNemar and the corrected t-test between rows a and b. */
static vb_status pair_tests(const vb_summary *s, const vb_store_run *oof, size_t a, size_t b, double *mc_p,
                            double *t_p, double *t_t, vb_error *err)
{
    const vb_store_exp *e = s->e;
    const vb_summary_row *ra = &s->rows[a], *rb = &s->rows[b];
    *t_p = *t_t = NAN;
    vb_status st = s->has_test ? mcnemar_runs(find_run(e, runs_of(ra), s->test_fold),
                                              find_run(e, runs_of(rb), s->test_fold), e->n_classes, mc_p, err)
                               : mcnemar_runs(&oof[a], &oof[b], e->n_classes, mc_p, err);
    if (st != VB_OK)
        return st;
    /* corrected resampled t-test over the resampled folds both have (CV,
     * repeated CV and repeated holdout alike: each fold trains on n_train
     * and tests on n_test of the pool) */
    double d[4096];
    size_t J = 0;
    double ntr = 0, nte = 0;
    for (size_t k = 0; k < ra->n_runs && J < 4096; k++) {
        const vb_store_run *x = &e->runs[ra->run_idx[k]];
        if (strcmp(x->status, "done") != 0 || !vb_store_run_resampled(x))
            continue;
        const vb_store_run *y = find_run(e, runs_of(rb), x->fold);
        if (!y)
            continue;
        d[J++] = vb_store_metric(x, "accuracy") - vb_store_metric(y, "accuracy");
        ntr = (double)x->n_train;
        nte = (double)x->n_test;
    }
    vb_ttest t;
    if (J >= 2 && vb_corrected_ttest(d, J, ntr, nte, &t, NULL) == VB_OK) {
        *t_p = t.p;
        *t_t = t.t;
    }
    return VB_OK;
}

/* The spec's `correction`, read back from the stored text: the spec was
 * checked when it was stored, so a text without one (or that no longer
 * reads) means the default, holm. Fails only for memory. */
static vb_status spec_correction(const char *text, vb_correction *c, vb_error *err)
{
    *c = VB_CORRECT_HOLM;
    vb_doc *doc = NULL;
    vb_error e2 = {0};
    if (!text || !*text)
        return VB_OK;
    if (vb_doc_load_string(text, "spec", &doc, &e2) != VB_OK)
        return e2.status == VB_ERR_NOMEM ? vb_fail(err, VB_ERR_NOMEM, "out of memory") : VB_OK;
    const vb_node *n = doc->root && doc->root->kind == VB_NODE_MAP ? vb_node_get(doc->root, "correction") : NULL;
    if (n && n->kind == VB_NODE_SCALAR)
        vb_correction_parse(n->text, c);
    vb_doc_free(doc);
    return VB_OK;
}

/* Adjusts the upper triangle of the m x m matrix p (NaN where no test
 * applied) as one family into both triangles of adj; *n_pairs gets the
 * size of the family. */
static vb_status adjust_matrix(const double *p, size_t m, vb_correction c, double *adj, size_t *n_pairs,
                               vb_error *err)
{
    size_t np = m * (m ? m - 1 : 0) / 2, k = 0;
    double *v = vb_malloc(np ? np : 1, sizeof *v, err);
    if (!v)
        return VB_ERR_NOMEM;
    *n_pairs = 0;
    for (size_t a = 0; a < m; a++)
        for (size_t b = a + 1; b < m; b++) {
            v[k] = p[a * m + b];
            *n_pairs += !isnan(v[k++]);
        }
    vb_status st = vb_p_adjust(v, np, c, v, err);
    k = 0;
    for (size_t i = 0; i < m * m; i++)
        adj[i] = NAN;
    for (size_t a = 0; st == VB_OK && a < m; a++)
        for (size_t b = a + 1; b < m; b++, k++)
            adj[a * m + b] = adj[b * m + a] = v[k];
    free(v);
    return st;
}

/* p_best of rows 1 .. n-1 adjusted as one family. */
static vb_status adjust_best(vb_summary *s, vb_error *err)
{
    double *v = vb_malloc(s->n ? s->n : 1, sizeof *v, err);
    if (!v)
        return VB_ERR_NOMEM;
    s->n_best_tests = 0;
    for (size_t i = 0; i < s->n; i++) {
        v[i] = s->rows[i].p_best;
        s->n_best_tests += !isnan(v[i]);
    }
    vb_status st = vb_p_adjust(v, s->n, s->correction, v, err);
    for (size_t i = 0; st == VB_OK && i < s->n; i++)
        s->rows[i].p_best_adj = v[i];
    free(v);
    return st;
}

vb_status vb_summary_build(const vb_store_exp *e, vb_summary **out, vb_error *err)
{
    *out = NULL;
    vb_summary *s = vb_calloc(1, sizeof *s, err);
    if (!s)
        return VB_ERR_NOMEM;
    s->e = e;
    s->rows = vb_calloc(e->n_runs ? e->n_runs : 1, sizeof *s->rows, err);
    s->run_order = vb_malloc(e->n_runs ? e->n_runs : 1, sizeof *s->run_order, err);
    if (!s->rows || !s->run_order) {
        vb_summary_free(s);
        return VB_ERR_NOMEM;
    }
    /* Runs grouped by pipeline in one sort: n log n, however many pipelines. */
    for (size_t i = 0; i < e->n_runs; i++)
        s->run_order[i] = i;
    qsort_r(s->run_order, e->n_runs, sizeof *s->run_order, by_pipeline_fold, (void *)e);
    for (size_t k = 0; k < e->n_runs; k++) {
        const vb_store_run *r = &e->runs[s->run_order[k]];
        if (!s->n || strcmp(s->rows[s->n - 1].pipeline, r->pipeline) != 0) {
            s->rows[s->n].pipeline = r->pipeline;
            s->rows[s->n].run_idx = &s->run_order[k];
            s->n++;
        }
        vb_summary_row *row = &s->rows[s->n - 1];
        row->n_runs++;
        if (vb_store_run_is_test(r)) {
            s->has_test = 1;
            s->test_fold = r->fold;
        } else
            s->has_cv = 1;
        s->repeated_holdout |= r->fold_kind == VB_FOLD_REPEATED_HOLDOUT;
        if (strcmp(r->status, "failed") == 0) {
            row->n_failed++;
            if (!row->error)
                row->error = r->error;
            continue;
        }
        if (strcmp(r->status, "done") != 0)
            continue;
        row->n_done++;
        row->n_cv += !vb_store_run_is_test(r);
        row->extract_s += r->extract_s;
        row->postprocess_s += r->postprocess_s;
        row->train_s += r->train_s;
        row->tune_s += r->tune_s;
        row->predict_s += r->predict_s;
        row->predict_per_s += r->predict_s > 0 ? (double)r->n_test / r->predict_s : 0;
        row->model_kb += (double)r->model_bytes / 1024.0;
        double mb = (double)r->peak_rss_kb / 1024.0;
        row->peak_rss_mb = mb > row->peak_rss_mb ? mb : row->peak_rss_mb;
        row->proba = r->proba;
        if (vb_store_run_is_test(r) || !row->features) {
            row->features = r->features;
            row->params = r->params;
            row->grid = r->grid;
        }
        if (vb_store_run_is_test(r))
            row->test_run = r;
    }
    int has_accuracy = 0;
    for (size_t j = 0; j < s->n; j++) {
        vb_summary_row *row = &s->rows[j];
        if (row->n_done) {
            double n = (double)row->n_done;
            row->extract_s /= n;
            row->postprocess_s /= n;
            row->train_s /= n;
            row->tune_s /= n;
            row->predict_s /= n;
            row->predict_per_s /= n;
            row->model_kb /= n;
        }
        run_set rs = runs_of(row);
        stat_of(e, rs, "accuracy", &row->accuracy);
        stat_of(e, rs, "balanced_accuracy", &row->balanced_accuracy);
        stat_of(e, rs, "macro_f1", &row->macro_f1);
        stat_of(e, rs, "auc_macro", &row->auc_macro);
        stat_of(e, rs, "log_loss", &row->log_loss);
        stat_of(e, rs, "top2_accuracy", &row->top2_accuracy);
        stat_of(e, rs, "purity", &row->purity);
        stat_of(e, rs, "nmi", &row->nmi);
        stat_of(e, rs, "ari", &row->ari);
        stat_of(e, rs, "clusters", &row->clusters);
        vb_metrics pm;
        vb_status pst = pooled_metrics(e, row, &row->pooled, &pm, err);
        if (pst != VB_OK) {
            vb_summary_free(s);
            return pst;
        }
        if (row->pooled) {
            row->macro_f1.mean = pm.macro_f1;
            row->balanced_accuracy.mean = pm.balanced_accuracy;
            row->macro_f1.sd = row->balanced_accuracy.sd = NAN;
        }
        vb_metrics_free(&pm);
        s->has_cluster |= !isnan(row->clusters.test) || row->clusters.n > 0;
        has_accuracy |= !isnan(row->accuracy.test) || row->accuracy.n > 0;
        s->has_nmi |= !isnan(row->nmi.test) || row->nmi.n > 0;
        if (row->n_cv > s->n_cv_folds)
            s->n_cv_folds = row->n_cv;
    }
    s->cluster_only = !has_accuracy && s->has_cluster;
    s->by_nmi = s->cluster_only && s->has_nmi;
    qsort_r(s->rows, s->n, sizeof *s->rows, by_score, s);
    size_t n = s->n;
    /* The full pairwise matrix for the leading pipelines; every pipeline
     * against the best. */
    size_t m = n < VB_SUMMARY_MAX_PAIRWISE ? n : VB_SUMMARY_MAX_PAIRWISE;
    s->n_pairwise = m;
    size_t mm = m ? m * m : 1;
    s->mcnemar_p = vb_malloc(mm, sizeof *s->mcnemar_p, err);
    s->ttest_p = vb_malloc(mm, sizeof *s->ttest_p, err);
    s->ttest_t = vb_malloc(mm, sizeof *s->ttest_t, err);
    vb_store_run *oof = !s->has_test ? vb_calloc(n ? n : 1, sizeof *oof, err) : NULL;
    if (!s->mcnemar_p || !s->ttest_p || !s->ttest_t || (!s->has_test && !oof)) {
        free(oof);
        vb_summary_free(s);
        return VB_ERR_NOMEM;
    }
    for (size_t i = 0; i < mm; i++)
        s->mcnemar_p[i] = s->ttest_p[i] = s->ttest_t[i] = NAN;
    vb_status st = VB_OK;
    for (size_t a = 0; oof && a < n && st == VB_OK; a++)
        st = pooled_oof(e, runs_of(&s->rows[a]), &oof[a], err);
    for (size_t a = 0; a < m && st == VB_OK; a++)
        for (size_t b = a + 1; b < m && st == VB_OK; b++) {
            double mp, tp, tt;
            if ((st = pair_tests(s, oof, a, b, &mp, &tp, &tt, err)) != VB_OK)
                break;
            s->mcnemar_p[a * m + b] = s->mcnemar_p[b * m + a] = mp;
            s->ttest_p[a * m + b] = s->ttest_p[b * m + a] = tp;
            s->ttest_t[a * m + b] = tt;
            s->ttest_t[b * m + a] = -tt;
        }
    /* Against the best, in the test that matches the ranking score. */
    int by_test = n && s->has_test && !isnan(s->rows[0].accuracy.test);
    for (size_t i = 1; i < n && st == VB_OK; i++) {
        double mp, tp, tt;
        if (i < m) {
            mp = s->mcnemar_p[i];
            tp = s->ttest_p[i];
        } else if ((st = pair_tests(s, oof, 0, i, &mp, &tp, &tt, err)) != VB_OK)
            break;
        double p = by_test ? mp : tp;
        const char *test = by_test ? "McNemar" : "corrected t-test";
        if (!by_test && isnan(p)) {
            p = mp;
            test = "McNemar";
        }
        s->rows[i].p_best = p;
        s->rows[i].p_best_test = isnan(p) ? NULL : test;
    }
    if (n)
        s->rows[0].p_best = NAN;
    for (size_t a = 0; oof && a < n; a++)
        free_pseudo(&oof[a]);
    free(oof);
    if (st == VB_OK)
        st = spec_correction(e->spec_text, &s->correction, err);
    if (st == VB_OK) {
        s->mcnemar_p_adj = vb_malloc(mm, sizeof *s->mcnemar_p_adj, err);
        s->ttest_p_adj = vb_malloc(mm, sizeof *s->ttest_p_adj, err);
        st = s->mcnemar_p_adj && s->ttest_p_adj ? VB_OK : VB_ERR_NOMEM;
    }
    if (st == VB_OK)
        st = adjust_matrix(s->mcnemar_p, m, s->correction, s->mcnemar_p_adj, &s->n_mcnemar_pairs, err);
    if (st == VB_OK)
        st = adjust_matrix(s->ttest_p, m, s->correction, s->ttest_p_adj, &s->n_ttest_pairs, err);
    if (st == VB_OK)
        st = adjust_best(s, err);
    if (st != VB_OK) {
        vb_summary_free(s);
        return st;
    }
    *out = s;
    return VB_OK;
}
