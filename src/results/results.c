/* Results files: predictions CSV and metrics JSON, rewritten atomically. */
#include "visbench/results.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

struct vb_results {
    char *pred_path, *metrics_path;
    vb_buf pred;    /* predictions.csv text */
    vb_buf head;    /* metrics.json text before the results array */
    vb_buf items;   /* the result objects, comma separated */
    vb_buf fails;   /* the failure objects */
    const vb_dataset *ds;
};

void vb_results_free(vb_results *r)
{
    if (!r)
        return;
    free(r->pred_path);
    free(r->metrics_path);
    vb_buf_free(&r->pred);
    vb_buf_free(&r->head);
    vb_buf_free(&r->items);
    vb_buf_free(&r->fails);
    free(r);
}

/* A CSV field, quoted when it needs to be. */
static void csv_field(vb_buf *b, const char *s)
{
    if (!strpbrk(s, ",\"\n\r")) {
        vb_buf_puts(b, s);
        return;
    }
    vb_buf_puts(b, "\"");
    for (const char *p = s; *p; p++) {
        if (*p == '"')
            vb_buf_puts(b, "\"");
        vb_buf_append(b, p, 1);
    }
    vb_buf_puts(b, "\"");
}

vb_status vb_results_open(const char *dir, const vb_spec *spec, const vb_dataset *ds, const vb_split *split,
                          vb_results **out, vb_error *err)
{
    *out = NULL;
    vb_status st = vb_mkdirs(dir, err);
    if (st != VB_OK)
        return st;
    vb_results *r = vb_calloc(1, sizeof *r, err);
    if (!r)
        return VB_ERR_NOMEM;
    r->ds = ds;
    r->pred_path = vb_path_join(dir, "predictions.csv");
    r->metrics_path = vb_path_join(dir, "metrics.json");
    vb_buf_puts(&r->pred, "pipeline,fold,sample,true,predicted");
    for (int k = 0; k < ds->n_classes; k++) {
        char *col = vb_asprintf("score:%s", ds->classes[k]);
        vb_buf_puts(&r->pred, ",");
        csv_field(&r->pred, col ? col : "score");
        free(col);
    }
    vb_buf_puts(&r->pred, "\n");
    char hash[17];
    vb_split_hash_text(split, hash);
    vb_buf *h = &r->head;
    vb_buf_puts(h, "{\n  \"visbench\": ");
    vb_buf_json_str(h, VB_VERSION);
    vb_buf_puts(h, ",\n  \"spec\": ");
    vb_buf_json_str(h, spec->name);
    vb_buf_printf(h, ",\n  \"spec_hash\": \"%016" PRIx64 "\",\n  \"dataset\": ", spec->hash);
    vb_buf_json_str(h, ds->name);
    vb_buf_printf(h, ",\n  \"protocol\": \"%s\",\n  \"split_hash\": \"%s\",\n  \"seed\": %" PRIu64 ",\n  \"classes\": [",
                  vb_protocol_name(split->conf.protocol), hash, spec->seed);
    for (int k = 0; k < ds->n_classes; k++) {
        if (k)
            vb_buf_puts(h, ", ");
        vb_buf_json_str(h, ds->classes[k]);
    }
    vb_buf_puts(h, "],\n");
    if (!r->pred_path || !r->metrics_path || r->pred.failed || h->failed) {
        vb_results_free(r);
        return vb_fail(err, VB_ERR_NOMEM, "out of memory");
    }
    *out = r;
    return VB_OK;
}

static vb_status flush(vb_results *r, vb_error *err)
{
    vb_buf m;
    vb_buf_init(&m);
    vb_buf_append(&m, r->head.data, r->head.len);
    vb_buf_puts(&m, "  \"results\": [\n");
    if (r->items.len)
        vb_buf_append(&m, r->items.data, r->items.len);
    vb_buf_puts(&m, "\n  ],\n  \"failures\": [\n");
    if (r->fails.len)
        vb_buf_append(&m, r->fails.data, r->fails.len);
    vb_buf_puts(&m, "\n  ]\n}\n");
    vb_status st;
    if (m.failed || r->pred.failed || r->items.failed || r->fails.failed)
        st = vb_fail(err, VB_ERR_NOMEM, "out of memory writing results");
    else {
        st = vb_file_write_atomic(r->pred_path, r->pred.data, r->pred.len, err);
        if (st == VB_OK)
            st = vb_file_write_atomic(r->metrics_path, m.data, m.len, err);
    }
    vb_buf_free(&m);
    return st;
}

void vb_result_json(const vb_run_result *r, const vb_dataset *ds, int details, vb_buf *b)
{
    const vb_metrics *m = r->metrics;
    vb_buf_puts(b, "{\"pipeline\": ");
    vb_buf_json_str(b, r->pipeline);
    vb_buf_puts(b, ", \"fold\": ");
    vb_buf_json_str(b, r->fold);
    struct {
        const char *name;
        double v;
    } nums[] = {{"accuracy", m->accuracy},         {"balanced_accuracy", m->balanced_accuracy},
                {"macro_f1", m->macro_f1},         {"macro_precision", m->macro_precision},
                {"macro_recall", m->macro_recall}, {"weighted_f1", m->weighted_f1},
                {"extract_s", r->extract_s},       {"tune_s", r->tune_s},
                {"train_s", r->train_s},           {"predict_s", r->predict_s}};
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
        vb_buf_printf(b, ", \"%s\": ", nums[i].name);
        vb_buf_double(b, nums[i].v);
    }
    vb_buf_printf(b, ", \"n_train\": %zu, \"n_val\": %zu, \"n_test\": %zu, \"dim\": %zu", r->n_train, r->n_val,
                  r->n_test, r->dim);
    vb_buf_printf(b, ", \"features_shared\": %s, \"peak_rss_mb\": ", r->features_shared ? "true" : "false");
    vb_buf_double(b, (double)r->peak_rss_kb / 1024.0);
    vb_buf_printf(b, ", \"model_bytes\": %zu, \"probabilities\": %s, \"features\": ", r->model_bytes,
                  r->proba ? "true" : "false");
    vb_buf_json_str(b, r->features);
    vb_buf_puts(b, ", \"params\": ");
    vb_buf_json_str(b, r->params);
    if (r->grid) {
        vb_buf_puts(b, ", \"grid\": ");
        vb_buf_json_str(b, r->grid);
    }
    if (r->clf_info && *r->clf_info)
        vb_buf_printf(b, ", \"model\": {%s}", r->clf_info);
    if (details) {
        vb_buf_puts(b, ", \"per_class\": [");
        for (int k = 0; k < m->n_classes; k++) {
            vb_buf_puts(b, k ? ", {\"class\": " : "{\"class\": ");
            vb_buf_json_str(b, ds->classes[k]);
            vb_buf_puts(b, ", \"precision\": ");
            vb_buf_double(b, m->precision[k]);
            vb_buf_puts(b, ", \"recall\": ");
            vb_buf_double(b, m->recall[k]);
            vb_buf_puts(b, ", \"f1\": ");
            vb_buf_double(b, m->f1[k]);
            vb_buf_printf(b, ", \"support\": %zu}", m->support[k]);
        }
        vb_buf_puts(b, "], \"confusion\": [");
        for (int i = 0; i < m->n_classes; i++) {
            vb_buf_puts(b, i ? ", [" : "[");
            for (int j = 0; j < m->n_classes; j++)
                vb_buf_printf(b, "%s%zu", j ? ", " : "", m->confusion[(size_t)i * (size_t)m->n_classes + (size_t)j]);
            vb_buf_puts(b, "]");
        }
        vb_buf_puts(b, "]");
    }
    vb_buf_puts(b, "}");
}

vb_status vb_results_add(vb_results *r, const vb_run_result *res, vb_error *err)
{
    for (size_t i = 0; i < res->n_test; i++) {
        csv_field(&r->pred, res->pipeline);
        vb_buf_puts(&r->pred, ",");
        csv_field(&r->pred, res->fold);
        vb_buf_printf(&r->pred, ",%zu,%d,%d", res->test_idx[i], res->truth[i], res->pred[i]);
        for (int k = 0; res->scores && k < res->n_classes; k++)
            vb_buf_printf(&r->pred, ",%.6g", (double)res->scores[i * (size_t)res->n_classes + (size_t)k]);
        vb_buf_puts(&r->pred, "\n");
    }
    if (r->items.len)
        vb_buf_puts(&r->items, ",\n");
    vb_buf_puts(&r->items, "    ");
    vb_result_json(res, r->ds, 1, &r->items);
    return flush(r, err);
}

vb_status vb_results_add_failure(vb_results *r, const char *pipeline, const char *fold, const char *msg,
                                 vb_error *err)
{
    if (r->fails.len)
        vb_buf_puts(&r->fails, ",\n");
    vb_buf_puts(&r->fails, "    {\"pipeline\": ");
    vb_buf_json_str(&r->fails, pipeline);
    vb_buf_puts(&r->fails, ", \"fold\": ");
    vb_buf_json_str(&r->fails, fold);
    vb_buf_puts(&r->fails, ", \"error\": ");
    vb_buf_json_str(&r->fails, msg);
    vb_buf_puts(&r->fails, "}");
    return flush(r, err);
}
