#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "clfutil.h"

#include <string.h>

vb_classifier *cu_make(const char *name, const char *yaml)
{
    const vb_classifier_vt *vt = vb_classifier_find(name);
    assert_non_null(vt);
    vb_params p;
    vb_error err = {0};
    if (vb_params_parse_text(&p, &vt->info, yaml, &err) != VB_OK)
        fail_msg("%s %s: %s", name, yaml, err.msg);
    vb_classifier *c = NULL;
    vb_status st = vb_classifier_new(vt, &p, &c, &err);
    vb_params_free(&p);
    if (st != VB_OK)
        fail_msg("%s %s: %s", name, yaml, err.msg);
    return c;
}

vb_traindata cu_data(const float *X, const int *y, size_t n, size_t d, int K, uint64_t seed)
{
    vb_traindata td = {0};
    td.X = X;
    td.y = y;
    td.n = n;
    td.d = d;
    td.n_classes = K;
    td.seed = seed;
    return td;
}

void cu_train(vb_classifier *c, const float *X, const int *y, size_t n, size_t d, int K, uint64_t seed)
{
    vb_traindata td = cu_data(X, y, n, d, K, seed);
    vb_error err = {0};
    if (vb_classifier_train(c, &td, &err) != VB_OK)
        fail_msg("train %s: %s", c->vt->info.name, err.msg);
}

void cu_predict(const vb_classifier *c, const float *X, size_t n, size_t d, int *labels, float *scores)
{
    vb_error err = {0};
    if (vb_classifier_predict(c, X, n, d, labels, scores, &err) != VB_OK)
        fail_msg("predict %s: %s", c->vt->info.name, err.msg);
}

double cu_accuracy(const int *a, const int *b, size_t n)
{
    size_t ok = 0;
    for (size_t i = 0; i < n; i++)
        ok += a[i] == b[i];
    return (double)ok / (double)n;
}

void cu_save(const vb_classifier *c, vb_writer *w)
{
    vb_error err = {0};
    vb_writer_init(w);
    if (vb_classifier_save(c, w, &err) != VB_OK)
        fail_msg("save %s: %s", c->vt->info.name, err.msg);
}

void cu_assert_thread_independent(const char *name, const char *yaml, const float *X, const int *y, size_t n,
                                  size_t d, int k, uint64_t seed)
{
    vb_writer w[2];
    int saved = vb_get_threads();
    for (int t = 0; t < 2; t++) {
        vb_set_threads(t + 1);
        vb_classifier *c = cu_make(name, yaml);
        cu_train(c, X, y, n, d, k, seed);
        cu_save(c, &w[t]);
        vb_classifier_free(c);
    }
    vb_set_threads(saved);
    if (w[0].buf.len != w[1].buf.len || memcmp(w[0].buf.data, w[1].buf.data, w[0].buf.len) != 0)
        fail_msg("%s %s: one and two threads give different models", name, yaml);
    vb_writer_free(&w[0]);
    vb_writer_free(&w[1]);
}
