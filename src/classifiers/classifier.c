/* Classifier instances (checks shared by every classifier) and the registry. */
#include "visbench/classifier.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int vb_find_nonfinite(const float *X, size_t n, size_t d, size_t *row, size_t *col)
{
    for (size_t i = 0; i < n; i++) {
        /* x * 0 is NaN exactly when x is not finite: one vectorised sum per
         * row, and a scan only of a row that has one */
        const float *x = X + i * d;
        float acc = 0;
#pragma omp simd reduction(+ : acc)
        for (size_t j = 0; j < d; j++)
            acc += x[j] * 0.0f;
        if (acc == 0)
            continue;
        for (size_t j = 0; j < d; j++)
            if (!isfinite(x[j])) {
                *row = i;
                *col = j;
                return 1;
            }
    }
    return 0;
}

vb_status vb_classifier_new(const vb_classifier_vt *vt, const vb_params *params, vb_classifier **out, vb_error *err)
{
    *out = NULL;
    vb_classifier *c = vb_calloc(1, sizeof *c, err);
    if (!c)
        return VB_ERR_NOMEM;
    c->vt = vt;
    vb_status st = vb_params_copy(&c->params, params, err);
    if (st == VB_OK)
        st = vt->create(&c->params, &c->state, err);
    if (st != VB_OK) {
        vb_classifier_free(c);
        return st;
    }
    *out = c;
    return VB_OK;
}

void vb_classifier_free(vb_classifier *c)
{
    if (!c)
        return;
    if (c->state)
        c->vt->destroy(c->state);
    vb_params_free(&c->params);
    free(c);
}

static vb_status image_rows_needed(const char *name, size_t d, vb_error *err)
{
    return vb_fail(err, VB_ERR_SPEC,
                   "%s: needs raw image rows as input (give the pipeline no features, or features: [raw], and no "
                   "postprocess), got %zu features",
                   name, d);
}

/* A classifier needs two classes; a clustering learns without labels (one class). */
static int min_classes(const vb_classifier *c) { return vb_classifier_clusters(c->vt, &c->params) ? 1 : 2; }

vb_status vb_classifier_check(const vb_classifier *c, size_t d, vb_shape shape, int n_classes, vb_error *err)
{
    int image = shape.w > 0 && shape.h > 0 && shape.c > 0 && (size_t)shape.w * shape.h * shape.c == d;
    if (n_classes < min_classes(c))
        return vb_fail(err, VB_ERR_DATA, "%s: needs at least two classes, the data has %d", c->vt->info.name,
                       n_classes);
    if ((c->vt->flags & VB_CLF_IMAGE) && !image)
        return image_rows_needed(c->vt->info.name, d, err);
    if (!c->vt->check)
        return VB_OK;
    if (!image)
        shape = (vb_shape){0, 0, 0};
    return c->vt->check(c->state, d, shape, n_classes, err);
}

size_t vb_classifier_curve(const vb_classifier *c, const vb_epoch **epochs)
{
    *epochs = NULL;
    if (!c->trained || !c->vt->curve)
        return 0;
    return c->vt->curve(c->state, epochs);
}

/* A multilabel instance given one label per image. When a parameter makes
 * it multilabel (multilabel_if) and its default does not, the message names
 * both (cnn: "output: sigmoid ...; use output: softmax"). */
static vb_status sets_needed(const vb_classifier *c, vb_error *err)
{
    const vb_plugin *info = &c->vt->info;
    const vb_param_rule *r = &c->vt->multilabel_if;
    const char *def = NULL;
    for (size_t i = 0; r->name && i < info->n_params; i++)
        if (strcmp(info->params[i].name, r->name) == 0)
            def = info->params[i].def;
    if (def && strcmp(def, r->value) != 0)
        return vb_fail(err, VB_ERR_DATA,
                       "%s: %s: %s learns label sets, but this dataset has one label per image; use %s: %s",
                       info->name, r->name, r->value, r->name, def);
    return vb_fail(err, VB_ERR_DATA,
                   "%s: learns label sets (multilabel) but the data has one label per image; use a multilabel "
                   "dataset, or a single-label classifier",
                   info->name);
}

vb_status vb_classifier_train(vb_classifier *c, const vb_traindata *td, vb_error *err)
{
    const char *name = c->vt->info.name;
    if (td->n == 0 || td->d == 0)
        return vb_fail(err, VB_ERR_DATA, "%s: empty training set (%zu rows of %zu features)", name, td->n, td->d);
    if (td->n_classes < min_classes(c))
        return vb_fail(err, VB_ERR_DATA, "%s: needs at least two classes, the dataset has %d", name, td->n_classes);
    int *seen = vb_calloc((size_t)td->n_classes, sizeof *seen, err);
    if (!seen)
        return VB_ERR_NOMEM;
    int distinct = 0;
    for (size_t i = 0; i < td->n; i++) {
        if (td->y[i] < 0 || td->y[i] >= td->n_classes) {
            free(seen);
            return vb_fail(err, VB_ERR_DATA, "%s: label %d of row %zu is outside 0..%d", name, td->y[i], i,
                           td->n_classes - 1);
        }
        if (!seen[td->y[i]]++)
            distinct++;
    }
    free(seen);
    int ml = vb_classifier_multilabels(c->vt, &c->params);
    if (ml && !td->Y)
        return sets_needed(c, err);
    if (!ml && distinct < min_classes(c))
        return vb_fail(err, VB_ERR_DATA,
                       "%s: the training set holds only one class; a classifier needs at least two", name);
    size_t r, col;
    if (vb_find_nonfinite(td->X, td->n, td->d, &r, &col))
        return vb_fail(err, VB_ERR_DATA,
                       "%s: training feature %zu of row %zu is %s; check the extractor and post-processing", name,
                       col, r, isnan(td->X[r * td->d + col]) ? "NaN" : "infinite");
    if (td->Xval && vb_find_nonfinite(td->Xval, td->n_val, td->d, &r, &col))
        return vb_fail(err, VB_ERR_DATA, "%s: validation feature %zu of row %zu is not finite", name, col, r);
    if ((c->vt->flags & VB_CLF_IMAGE) && (size_t)td->shape.w * td->shape.h * td->shape.c != td->d)
        return image_rows_needed(name, td->d, err);
    vb_status st = c->vt->train(c->state, td, err);
    if (st != VB_OK)
        return st;
    c->d = td->d;
    c->n_classes = td->n_classes;
    c->trained = 1;
    return VB_OK;
}

/* What every use of a trained instance on rows checks first: trained, the
 * trained feature count, finite features. verb: "predict", "cluster". */
static vb_status rows_check(const vb_classifier *c, const float *X, size_t n, size_t d, const char *verb,
                            vb_error *err)
{
    const char *name = c->vt->info.name;
    if (!c->trained)
        return vb_fail(err, VB_ERR_STATE, "%s: %s before train", name, verb);
    if (d != c->d)
        return vb_fail(err, VB_ERR_DATA, "%s: trained on %zu features, asked to %s rows of %zu", name, c->d, verb, d);
    size_t r, col;
    if (vb_find_nonfinite(X, n, d, &r, &col))
        return vb_fail(err, VB_ERR_DATA, "%s: feature %zu of row %zu is not finite", name, col, r);
    return VB_OK;
}

void vb_scores_argmax(const float *scores, size_t n, int k, int *labels)
{
    for (size_t i = 0; i < n; i++) {
        const float *r = scores + i * (size_t)k;
        int b = 0;
        for (int c = 1; c < k; c++)
            b = r[c] > r[b] ? c : b;
        labels[i] = b;
    }
}

vb_status vb_classifier_predict(const vb_classifier *c, const float *X, size_t n, size_t d, int *labels, float *scores,
                                vb_error *err)
{
    vb_status st = rows_check(c, X, n, d, "predict", err);
    if (st != VB_OK || n == 0)
        return st;
    return c->vt->predict(c->state, X, n, labels, scores, err);
}

/* Does the parameter rule hold ({NULL} always does)? */
static int rule_holds(const vb_params *p, const vb_param_rule *r)
{
    if (!r->name)
        return 1;
    const vb_pvalue *v = vb_param(p, r->name);
    if (!v)
        return 0;
    if (v->word)
        return strcmp(v->word, r->value) == 0;
    return (v->num != 0) == (strcmp(r->value, "true") == 0); /* a bool */
}

int vb_classifier_params_proba(const vb_classifier_vt *vt, const vb_params *p)
{
    if (!(vt->flags & VB_CLF_PROBA))
        return 0;
    return vt->proba_of ? vt->proba_of(p) : rule_holds(p, &vt->proba_if);
}

int vb_classifier_has_proba(const vb_classifier *c) { return vb_classifier_params_proba(c->vt, &c->params); }

int vb_classifier_multilabels(const vb_classifier_vt *vt, const vb_params *p)
{
    return (vt->flags & VB_CLF_MULTILABEL) && vt->predict_sets && rule_holds(p, &vt->multilabel_if);
}

vb_status vb_classifier_predict_sets(const vb_classifier *c, const float *X, size_t n, size_t d, uint8_t *sets,
                                     float *scores, vb_error *err)
{
    if (!vb_classifier_multilabels(c->vt, &c->params))
        return vb_fail(err, VB_ERR_STATE, "%s: predicts one label per image, not label sets", c->vt->info.name);
    vb_status st = rows_check(c, X, n, d, "predict", err);
    if (st != VB_OK || n == 0)
        return st;
    return c->vt->predict_sets(c->state, X, n, sets, scores, err);
}

int vb_classifier_clusters(const vb_classifier_vt *vt, const vb_params *p)
{
    return vt->cluster && rule_holds(p, &vt->cluster_if);
}

vb_status vb_classifier_cluster(const vb_classifier *c, const float *X, size_t n, size_t d, int *assign, int *k,
                                vb_error *err)
{
    *k = 0;
    if (!vb_classifier_clusters(c->vt, &c->params))
        return VB_OK;
    vb_status st = rows_check(c, X, n, d, "cluster", err);
    if (st != VB_OK)
        return st;
    return c->vt->cluster(c->state, X, n, assign, k, err);
}

vb_status vb_classifier_save(const vb_classifier *c, vb_writer *w, vb_error *err)
{
    if (!c->trained)
        return vb_fail(err, VB_ERR_STATE, "%s: cannot save an untrained classifier", c->vt->info.name);
    vb_write_u64(w, c->d);
    vb_write_u32(w, (uint32_t)c->n_classes);
    vb_status st = c->vt->save ? c->vt->save(c->state, w, err) : VB_OK;
    if (st != VB_OK)
        return st;
    return vb_writer_status(w, err);
}

vb_status vb_classifier_load(vb_classifier *c, vb_reader *r, vb_error *err)
{
    uint64_t d;
    uint32_t k;
    /* The state is replaced: until the load succeeds the instance is untrained. */
    c->trained = 0;
    vb_status st = vb_read_u64(r, &d, err);
    if (st == VB_OK)
        st = vb_read_u32_range(r, &k, (uint32_t)min_classes(c), 1u << 20, "n_classes", err);
    if (st == VB_OK && (d == 0 || d > (1ull << 32)))
        st = vb_fail(err, VB_ERR_FORMAT, "%s: corrupt feature dimension %llu", r->what, (unsigned long long)d);
    if (st != VB_OK)
        return st;
    c->d = (size_t)d;
    c->n_classes = (int)k;
    if (!c->vt->load)
        return vb_fail(err, VB_ERR_INTERNAL, "%s cannot be loaded", c->vt->info.name);
    if ((st = c->vt->load(c->state, r, err)) != VB_OK)
        return st;
    if (!c->vt->dims)
        return vb_fail(err, VB_ERR_INTERNAL, "%s cannot check its loaded state", c->vt->info.name);
    size_t sd = 0;
    int sk = 0;
    c->vt->dims(c->state, &sd, &sk);
    if (sd != c->d || sk != c->n_classes)
        return vb_fail(err, VB_ERR_FORMAT, "%s: corrupt %s state (%zu features and %d classes, the header says %zu and %d)",
                       r->what, c->vt->info.name, sd, sk, c->d, c->n_classes);
    c->trained = 1;
    return VB_OK;
}

/* ---- registry: one line per classifier --------------------------------- */

extern const vb_classifier_vt vb_clf_svm, vb_clf_linear, vb_clf_knn, vb_clf_forest, vb_clf_tree, vb_clf_logreg,
    vb_clf_kmeans, vb_clf_gmm, vb_clf_cnn, vb_clf_br, vb_clf_chain, vb_clf_hier, vb_clf_boost;

static const vb_classifier_vt *const classifiers[] = {
    &vb_clf_svm,
    &vb_clf_linear,
    &vb_clf_knn,
    &vb_clf_forest,
    &vb_clf_tree,
    &vb_clf_boost,
    &vb_clf_logreg,
    &vb_clf_kmeans,
    &vb_clf_gmm,
    &vb_clf_cnn,
    &vb_clf_br,
    &vb_clf_chain,
    &vb_clf_hier,
};

const vb_classifier_vt *const *vb_classifier_registry(size_t *n)
{
    *n = sizeof classifiers / sizeof classifiers[0];
    return classifiers;
}

const vb_classifier_vt *vb_classifier_find(const char *name)
{
    return vb_plugin_find((const void *const *)classifiers, sizeof classifiers / sizeof classifiers[0], name);
}
