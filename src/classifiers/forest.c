/* forest: random forest classifier (Breiman 2001) with histogram splits.
 *
 * The trees are CART trees on quantile bins (cart.c, shared with the
 * single tree): training bins every feature into at most max_bins bins
 * once, then grows each tree on a bootstrap sample, trying a random subset
 * of the features at each node.
 *
 * Trees are grown in parallel (OpenMP over trees). Tree t draws everything
 * (bootstrap sample, feature order) from its own generator seeded with
 * (seed, t), so the forest does not depend on the number of threads.
 * Probabilities are the mean of the leaves' class distributions;
 * importances are the mean decrease in impurity, normalised per tree and
 * averaged (scikit-learn's feature_importances_). */
#include "cart.h"

#include <stdlib.h>

static const vb_param_def forest_params[] = {
    {.name = "n_trees", .type = VB_PT_INT, .def = "100", .min = 1, .max = 100000, .flags = VB_PF_GRID,
     .help = "number of trees"},
    VB_CART_GROW_PARAMS("sqrt"),
    {.name = "bootstrap", .type = VB_PT_BOOL, .def = "true",
     .help = "grow each tree on a bootstrap sample (else on all rows)"},
    VB_CART_BIN_PARAMS,
};

#define FOREST_TAG VB_CLF_TAG('F', 'R', 'S', 'T')

static vb_status forest_create(const vb_params *p, void **state, vb_error *err)
{
    vb_cart_state *s = vb_calloc(1, sizeof *s, err);
    if (!s)
        return VB_ERR_NOMEM;
    *s = (vb_cart_state){.name = "forest", .tag = FOREST_TAG, .depth_key = "max_depth",
                         .T = (int)vb_param_int(p, "n_trees")};
    vb_cart_opts_read(p, &s->o);
    s->o.bootstrap = vb_param_bool(p, "bootstrap");
    *state = s;
    return VB_OK;
}

static vb_status forest_train(void *state, const vb_traindata *td, vb_error *err)
{
    vb_cart_state *s = state;
    vb_cart_model_clear(&s->m);
    size_t n = td->n, d = td->d, mf = vb_cart_features_per_split(&s->o, d);
    int K = td->n_classes, T = s->T;
    if (n > 0x7fffffffu)
        return vb_fail(err, VB_ERR_DATA, "forest: %zu training rows is beyond 2^31", n);
    vb_cart_bins bn = {0};
    vb_cart_tree *trees = vb_calloc((size_t)T, sizeof *trees, err);
    double *xlogx = vb_cart_xlogx(n, err);
    vb_status st = trees && xlogx ? vb_cart_bin(&s->o, td, "forest", 1, &bn, err) : VB_ERR_NOMEM;
    if (st != VB_OK)
        goto out;
    int fail = 0, stop = 0;
#pragma omp parallel
    {
        vb_cart_work *w = vb_cart_work_new(&bn, n, d, K, xlogx, 0);
        if (!w) {
#pragma omp atomic write
            fail = 1;
        }
#pragma omp for schedule(dynamic, 1)
        for (int t = 0; t < T; t++) {
            int bad;
#pragma omp atomic read
            bad = fail;
            if (!w || bad || stop)
                continue;
            if (vb_interrupted()) {
                stop = 1;
                continue;
            }
            vb_cart_tree *to = &trees[t];
            vb_rng *rng = vb_rng_new(vb_seed_derive(td->seed, "forest-tree", (uint64_t)t));
            to->imp = calloc(d, sizeof *to->imp);
            int rc = rng && to->imp ? vb_cart_grow(&s->o, &bn, td->y, n, d, K, mf, rng, 0, w, to) : -1;
            vb_rng_free(rng);
            if (rc == -2)
                stop = 1;
            else if (rc < 0) {
#pragma omp atomic write
                fail = 1;
            }
        }
        vb_cart_work_free(w);
    }
    if (stop)
        st = vb_fail(err, VB_ERR_INTERRUPTED, "forest: interrupted");
    else if (fail)
        st = vb_fail(err, VB_ERR_NOMEM, "forest: out of memory while growing the trees");
    else
        st = vb_cart_model_set(&s->m, trees, T, d, K, "forest", err);
out:
    if (trees)
        for (int t = 0; t < T; t++)
            vb_cart_tree_free(&trees[t]);
    free(trees);
    free(xlogx);
    vb_cart_bins_free(&bn);
    return st;
}

const vb_classifier_vt vb_clf_forest = {
    .info = {.name = "forest",
             .help = "random forest (histogram splits on quantile bins, trees in parallel, seeded per tree)",
             .doc = "Scores are the mean class distribution of the leaves (probabilities). info reports the "
                    "ten largest mean-decrease-in-impurity feature importances.",
             .params = forest_params,
             .n_params = sizeof forest_params / sizeof forest_params[0]},
    .flags = VB_CLF_PROBA,
    .create = forest_create,
    .train = forest_train,
    VB_CART_VT_ENTRIES,
};
