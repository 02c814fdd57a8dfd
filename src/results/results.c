/* A finished run as one JSON object (visbench run --json). */
#include "visbench/results.h"
#include "visbench/node.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The parameters (canonical flow YAML) as a JSON object, as the store
 * keeps them; the text as a string should it not parse. */
static void params_json(const char *yaml, vb_buf *b)
{
    vb_doc *doc = NULL;
    if (yaml && *yaml && vb_doc_load_string(yaml, "parameters", &doc, NULL) == VB_OK) {
        vb_node_to_json(doc->root, b);
        vb_doc_free(doc);
    } else
        vb_buf_json_str(b, yaml ? yaml : "");
}

/* ", \"name\": value" for each of n values. */
static void json_members(vb_buf *b, const vb_named_value *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        vb_buf_printf(b, ", \"%s\": ", v[i].name);
        vb_buf_double(b, v[i].v);
    }
}

/* The members both kinds of result share: sizes, memory, the features. */
static void sizes_json(size_t n_train, size_t n_val, size_t n_test, size_t dim, int shared, size_t peak_kb,
                       size_t model_bytes, int proba, const char *features, vb_buf *b)
{
    vb_buf_printf(b, ", \"n_train\": %zu, \"n_val\": %zu, \"n_test\": %zu, \"dim\": %zu", n_train, n_val, n_test,
                  dim);
    vb_buf_printf(b, ", \"features_shared\": %s, \"peak_rss_mb\": ", shared ? "true" : "false");
    vb_buf_double(b, (double)peak_kb / 1024.0);
    vb_buf_printf(b, ", \"model_bytes\": %zu, \"probabilities\": %s, \"features\": ", model_bytes,
                  proba ? "true" : "false");
    vb_buf_json_str(b, features ? features : "");
}

void vb_result_json(const vb_run_result *r, const vb_dataset *ds, int details, vb_buf *b)
{
    const vb_metrics *m = r->metrics;
    vb_buf_puts(b, "{\"pipeline\": ");
    vb_buf_json_str(b, r->pipeline);
    vb_buf_puts(b, ", \"fold\": ");
    vb_buf_json_str(b, r->fold);
    const vb_named_value times[] = {{"extract_s", r->extract_s}, {"postprocess_s", r->postprocess_s},
                                    {"tune_s", r->tune_s},       {"train_s", r->train_s},
                                    {"predict_s", r->predict_s}};
    if (r->ml) { /* label sets: accuracy is subset accuracy, then the multilabel set */
        vb_named_value ms[VB_ML_METRIC_SET_SIZE];
        vb_ml_metric_set(r->ml, ms);
        json_members(b, &(vb_named_value){"accuracy", r->ml->subset_accuracy}, 1);
        json_members(b, ms, VB_ML_METRIC_SET_SIZE);
    } else if (!r->cluster_mode) { /* mode: cluster keeps no classification metrics */
        const vb_named_value metrics[] = {
            {"accuracy", m->accuracy},         {"balanced_accuracy", m->balanced_accuracy},
            {"macro_f1", m->macro_f1},         {"macro_precision", m->macro_precision},
            {"macro_recall", m->macro_recall}, {"weighted_f1", m->weighted_f1}};
        json_members(b, metrics, sizeof metrics / sizeof metrics[0]);
    }
    if (r->hier) {
        const vb_named_value hs[] = {{"hierarchical_precision", r->hier->hp},
                                     {"hierarchical_recall", r->hier->hr},
                                     {"hierarchical_f1", r->hier->hf}};
        json_members(b, hs, sizeof hs / sizeof hs[0]);
    }
    json_members(b, times, sizeof times / sizeof times[0]);
    if (r->n_clusters)
        vb_buf_printf(b, ", \"clusters\": %d", r->n_clusters);
    if (r->cluster) {
        const vb_named_value cs[] = {{"nmi", r->cluster->nmi}, {"ari", r->cluster->ari}, {"purity", r->cluster->purity}};
        json_members(b, cs, sizeof cs / sizeof cs[0]);
    }
    sizes_json(r->n_train, r->n_val, r->n_test, r->dim, r->features_shared, r->peak_rss_kb, r->model_bytes, r->proba,
               r->features, b);
    vb_buf_puts(b, ", \"params\": ");
    params_json(r->params, b);
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
    vb_buf_puts(b, ", \"kept\": false}");
}

void vb_stored_result_json(const vb_store_run *r, vb_buf *b)
{
    vb_buf_puts(b, "{\"pipeline\": ");
    vb_buf_json_str(b, r->pipeline);
    vb_buf_puts(b, ", \"fold\": ");
    vb_buf_json_str(b, r->fold);
    static const char *const metrics[] = {"accuracy",        "balanced_accuracy", "macro_f1",
                                          "macro_precision", "macro_recall",      "weighted_f1"};
    /* mode: cluster stores no accuracy, and only clusterings have the rest */
    int cluster_mode = isnan(vb_store_metric(r, "accuracy")) && !isnan(vb_store_metric(r, "clusters"));
    for (size_t i = 0; !cluster_mode && i < sizeof metrics / sizeof metrics[0]; i++)
        json_members(b, &(vb_named_value){metrics[i], vb_store_metric(r, metrics[i])}, 1);
    static const char *const cluster[] = {"clusters", "nmi", "ari", "purity"};
    for (size_t i = 0; i < sizeof cluster / sizeof cluster[0]; i++)
        if (!isnan(vb_store_metric(r, cluster[i])))
            json_members(b, &(vb_named_value){cluster[i], vb_store_metric(r, cluster[i])}, 1);
    const vb_named_value times[] = {{"extract_s", r->extract_s},
                                    {"postprocess_s", r->postprocess_s},
                                    {"tune_s", r->tune_s},
                                    {"train_s", r->train_s},
                                    {"predict_s", r->predict_s}};
    json_members(b, times, sizeof times / sizeof times[0]);
    sizes_json(r->n_train, r->n_val, r->n_test, r->dim, r->features_shared, r->peak_rss_kb, r->model_bytes, r->proba,
               r->features, b);
    vb_buf_printf(b, ", \"params\": %s", r->params && *r->params ? r->params : "{}");
    if (r->grid) {
        vb_buf_puts(b, ", \"grid\": ");
        vb_buf_json_str(b, r->grid);
    }
    if (r->model_info && *r->model_info)
        vb_buf_printf(b, ", \"model\": %s", r->model_info);
    vb_buf_puts(b, ", \"kept\": true}");
}
