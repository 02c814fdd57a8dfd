/* visbench train | predict | evaluate: trained models. */
#include "cli.h"
#include "visbench/cnn.h"
#include "visbench/model.h"

#include <dirent.h>
#include <math.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* The fold `train` fits, and its index (the seeds are the fold's): the one
 * named with --fold; else the split's single evaluation fold (holdout or
 * official-test: what run evaluated); else, for cross-validation, the whole
 * pool as one fold, which run never evaluates: what a user ships. With
 * with_val the validation part trains too (the fold is copied into *own). */
static vb_status choose_fold(const vb_split *split, const vb_spec *spec, const vb_dataset *ds, const char *name,
                             int with_val, vb_fold *own, const vb_fold **fold, size_t *index, vb_error *err)
{
    memset(own, 0, sizeof *own);
    *fold = NULL;
    if (name) {
        for (size_t f = 0; f < split->n_folds && !*fold; f++)
            if (strcmp(split->folds[f].name, name) == 0) {
                *fold = &split->folds[f];
                *index = f;
            }
        if (!*fold) {
            vb_buf list;
            vb_buf_init(&list);
            for (size_t f = 0; f < split->n_folds; f++)
                vb_buf_printf(&list, "%s%s", f ? ", " : "", split->folds[f].name);
            vb_fail(err, VB_ERR_PARAM, "%s: no fold named '%s' (folds: %s)", spec->path, name,
                    list.data ? list.data : "");
            vb_buf_free(&list);
            return VB_ERR_PARAM;
        }
    } else if ((*fold = vb_split_single_fold(split)))
        *index = (size_t)(*fold - split->folds);
    else {
        vb_status st = vb_split_pool_fold(&spec->split, ds, own, err);
        if (st != VB_OK)
            return st;
        *fold = own;
        *index = split->n_folds;
        vb_log(VB_LOG_INFO, "%s: no --fold given: training on the whole %s pool (%zu images), which run does not "
                            "evaluate; --fold NAME reproduces one fold of run",
               spec->path, vb_protocol_name(split->conf.protocol), own->n_train + own->n_val);
    }
    if (!with_val || (*fold)->n_val == 0)
        return VB_OK;
    /* the validation part joins the training part, in index order */
    const vb_fold *src = *fold;
    size_t n = src->n_train + src->n_val;
    size_t *tr = vb_malloc(n, sizeof *tr, err), *test = NULL;
    if (!tr)
        return VB_ERR_NOMEM;
    if (src->n_test && !(test = vb_malloc(src->n_test, sizeof *test, err))) {
        free(tr);
        return VB_ERR_NOMEM;
    }
    size_t i = 0, j = 0, k = 0;
    while (i < src->n_train || j < src->n_val)
        tr[k++] = j >= src->n_val || (i < src->n_train && src->train[i] < src->val[j]) ? src->train[i++] : src->val[j++];
    if (test)
        memcpy(test, src->test, src->n_test * sizeof *test);
    vb_fold merged = *src;
    merged.train = tr;
    merged.n_train = n;
    merged.val = NULL;
    merged.n_val = 0;
    merged.test = test;
    vb_fold_free(own);
    *own = merged;
    *fold = own;
    return VB_OK;
}

/* What the trained classifier says of itself (nodes, support vectors,
 * ...) as a JSON object, or nothing: an ensemble's is its meta-classifier's. */
static void classifier_info(const vb_model *m, vb_buf *ci)
{
    const vb_classifier *c = m->clf ? m->clf : m->meta;
    vb_buf_init(ci);
    if (c && c->vt->info_json) {
        vb_buf_puts(ci, "{");
        c->vt->info_json(c->state, ci);
        vb_buf_puts(ci, "}");
    }
}

int cmd_train(int argc, char **argv)
{
    const char *only = NULL, *out = NULL, *fold_name = NULL;
    int with_val = 0;
    static const struct option opts[] = {{"pipeline", required_argument, 0, 'p'},
                                         {"output", required_argument, 0, 'o'},
                                         {"fold", required_argument, 0, 'f'},
                                         {"with-val", no_argument, 0, 'v'},
                                         {0, 0, 0, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":p:o:f:", opts, NULL)) != -1) {
        switch (c) {
        case 'p': only = optarg; break;
        case 'o': out = optarg; break;
        case 'f': fold_name = optarg; break;
        case 'v': with_val = 1; break;
        default: return cli_bad_option("train", c, argv);
        }
    }
    if (optind != argc - 1 || !only)
        return cli_usage("train", "expects SPEC --pipeline NAME [-o model.vbm]");
    vb_error err = {0};
    vb_spec *spec = NULL;
    vb_dataset *ds = NULL;
    vb_split *split = NULL;
    vb_model *m = NULL;
    vb_run_opts ropts = {.only = only};
    char *path = NULL;
    int rc = VB_EXIT_FAIL;
    const vb_spec_pipeline *sp = NULL;
    const vb_fold *fold = NULL;
    vb_fold own;
    memset(&own, 0, sizeof own);
    size_t fold_index = 0;
    if (vb_spec_load(argv[optind], &spec, &err) != VB_OK || vb_spec_load_dataset(spec, &ds, &err) != VB_OK)
        goto fail;
    if (vb_spec_split(spec, ds, &split, &err) != VB_OK || vb_experiment_check(spec, ds, &ropts, &err) != VB_OK)
        goto fail;
    sp = vb_spec_find_pipeline(spec, only);
    if (choose_fold(split, spec, ds, fold_name, with_val, &own, &fold, &fold_index, &err) != VB_OK)
        goto fail;
    path = out ? strdup(out) : vb_asprintf("results/%s.%s.vbm", spec->name, sp->name);
    if (!path) {
        vb_fail(&err, VB_ERR_NOMEM, "out of memory");
        goto fail;
    }
    struct stat ps;
    if (stat(path, &ps) == 0 && S_ISDIR(ps.st_mode)) { /* before the training, not after it */
        vb_fail(&err, VB_ERR_IO, "%s: a folder; give -o the model's file name (e.g. %s/%s.vbm)", path, path, sp->name);
        goto fail;
    }
    vb_log(VB_LOG_INFO, "training %s on fold %s: %zu training images%s", sp->name, fold->name, fold->n_train,
           with_val ? " (with the validation part)" : "");
    double t0 = vb_now();
    if (vb_train_model(spec, sp, ds, fold, fold_index, &m, &err) != VB_OK)
        goto fail;
    double train_s = vb_now() - t0;
    char hash[17];
    vb_split_hash_text(split, hash);
    char *members = vb_asprintf("\"dataset_hash\": \"%016llx\", \"split_hash\": \"%s\", \"train_s\": %.3f",
                                (unsigned long long)split->data_hash, hash, train_s);
    if (!members || vb_model_info_add(m, members, &err) != VB_OK) {
        free(members);
        vb_fail(&err, VB_ERR_NOMEM, "out of memory");
        goto fail;
    }
    free(members);
    /* The fold's test part, as run scored it; the metrics go into the model's
     * INFO. An interrupt here still saves the model, without them. */
    vb_metrics mt = {0};
    vb_ml_metrics mlt = {0};
    vb_cluster_scores cs = {0};
    vb_status st = VB_OK;
    int scored = 0, clusters = vb_model_clusters(m), k = 0;
    if (fold->n_test && !ds->unlabeled) {
        int *pred = vb_malloc(fold->n_test, sizeof *pred, &err), *truth = vb_malloc(fold->n_test, sizeof *truth, &err);
        int *assign = clusters ? vb_malloc(fold->n_test, sizeof *assign, &err) : NULL;
        vb_dataset_view view;
        vb_imgsrc src;
        vb_imgsrc_dataset(&src, &view, ds, fold->test, fold->n_test);
        int ml = m->task == VB_TASK_MULTILABEL;
        uint8_t *sets = ml ? vb_malloc(fold->n_test, (size_t)ds->n_classes, &err) : NULL;
        uint8_t *tsets = ml ? vb_dataset_label_rows(ds, fold->test, fold->n_test, &err) : NULL;
        float *sc = ml ? vb_malloc(fold->n_test, (size_t)ds->n_classes * sizeof *sc, &err) : NULL;
        st = pred && truth && (assign || !clusters) && (!ml || (sets && tsets && sc))
                 ? vb_model_predict_src_sets(m, &src, pred, sc, assign, sets, &err)
                 : VB_ERR_NOMEM;
        for (size_t i = 0; st == VB_OK && i < fold->n_test; i++) {
            truth[i] = ds->labels[fold->test[i]];
            pred[i] = pred[i] >= ds->n_classes ? -1 : pred[i]; /* stopped above the leaves */
        }
        if (st == VB_OK && ml) {
            st = vb_ml_metrics_compute(tsets, sets, sc, fold->n_test, ds->n_classes, &mlt, &err);
            mt.accuracy = mlt.subset_accuracy;
            mt.macro_f1 = mlt.macro_f1;
            mt.balanced_accuracy = mlt.micro_f1;
        } else if (st == VB_OK)
            st = vb_metrics_compute(truth, pred, fold->n_test, ds->n_classes, &mt, &err);
        free(sets);
        free(tsets);
        free(sc);
        for (size_t i = 0; st == VB_OK && clusters && i < fold->n_test; i++)
            k = assign[i] + 1 > k ? assign[i] + 1 : k;
        if (st == VB_OK && clusters)
            st = vb_cluster_compare(truth, assign, fold->n_test, ds->n_classes, k, &cs, &err);
        free(pred);
        free(truth);
        free(assign);
        scored = st == VB_OK;
        if (st == VB_ERR_INTERRUPTED) {
            vb_interrupt_clear();
            cli_progress_break();
            fprintf(stderr, "visbench: interrupted while scoring the %s fold's test part; saving the model without "
                            "its test metrics\n",
                    fold->name);
        } else if (st != VB_OK)
            goto fail;
    }
    if (scored) {
        /* mode: cluster keeps the clustering scores only, as run does */
        char *acc = spec->cluster ? vb_strdup("", &err)
                    : m->task == VB_TASK_MULTILABEL
                        ? vb_asprintf(", \"subset_accuracy\": %.6f, \"micro_f1\": %.6f, \"macro_f1\": %.6f, "
                                      "\"hamming_loss\": %.6f",
                                      mlt.subset_accuracy, mlt.micro_f1, mlt.macro_f1, mlt.hamming_loss)
                        : vb_asprintf(", \"accuracy\": %.6f, \"balanced_accuracy\": %.6f, \"macro_f1\": %.6f",
                                      mt.accuracy, mt.balanced_accuracy, mt.macro_f1);
        char *clu = !clusters ? vb_strdup("", &err)
                              : vb_asprintf(", \"nmi\": %.6f, \"ari\": %.6f, \"purity\": %.6f", cs.nmi, cs.ari,
                                            cs.purity);
        char *mm = acc && clu ? vb_asprintf("\"test\": {\"n\": %zu%s%s}", fold->n_test, acc, clu) : NULL;
        st = mm ? vb_model_info_add(m, mm, &err) : vb_fail(&err, VB_ERR_NOMEM, "out of memory");
        free(acc);
        free(clu);
        free(mm);
        if (st != VB_OK) {
            vb_metrics_free(&mt);
            vb_ml_metrics_free(&mlt);
            goto fail;
        }
    }
    char *dir = vb_path_dirname(path);
    st = dir ? vb_mkdirs(dir, &err) : vb_fail(&err, VB_ERR_NOMEM, "out of memory");
    free(dir);
    if (st != VB_OK || vb_model_save(m, path, &err) != VB_OK) {
        vb_metrics_free(&mt);
        vb_ml_metrics_free(&mlt);
        goto fail;
    }
    struct stat sb;
    printf("model: %s (%.1f kB)\n  %s\n  trained in %.1f s on %zu images of %s\n", path,
           stat(path, &sb) == 0 ? (double)sb.st_size / 1024.0 : 0.0, vb_model_describe(m), train_s, fold->n_train,
           ds->name);
    if (scored && m->task == VB_TASK_MULTILABEL)
        printf("  %s fold test part: subset accuracy %.4f, micro-F1 %.4f, macro-F1 %.4f, Hamming loss %.4f (%zu "
               "images)\n",
               fold->name, mlt.subset_accuracy, mlt.micro_f1, mlt.macro_f1, mlt.hamming_loss, fold->n_test);
    else if (scored && !spec->cluster)
        printf("  %s fold test part: accuracy %.4f, macro-F1 %.4f (%zu images)\n", fold->name, mt.accuracy,
               mt.macro_f1, fold->n_test);
    if (scored && clusters)
        printf("  %s fold test part: NMI %.4f, ARI %.4f, purity %.4f (%zu images)\n", fold->name, cs.nmi, cs.ari,
               cs.purity, fold->n_test);
    else if (ds->unlabeled && fold->n_test)
        printf("  %s fold test part: no labels to score the clusters against (%zu images)\n", fold->name,
               fold->n_test);
    vb_metrics_free(&mt);
    vb_ml_metrics_free(&mlt);
    rc = VB_EXIT_OK;
    goto done;
fail:
    rc = cli_error(&err);
done:
    vb_model_free(m);
    vb_fold_free(&own);
    vb_split_free(split);
    vb_dataset_free(ds);
    vb_spec_free(spec);
    free(path);
    return rc;
}

/* ---- predict ----------------------------------------------------------- */

typedef struct paths {
    char **v;
    size_t n, cap;
} paths;

static int push_path(paths *p, char *s)
{
    if (!s)
        return 0;
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 256;
        char **nv = realloc(p->v, cap * sizeof *nv);
        if (!nv) {
            free(s);
            return 0;
        }
        p->v = nv;
        p->cap = cap;
    }
    p->v[p->n++] = s;
    return 1;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Every image under dir (sorted, recursively); other files are reported. */
static vb_status collect_dir(const char *dir, paths *out, paths *skipped, vb_error *err)
{
    DIR *d = opendir(dir);
    if (!d)
        return vb_fail(err, VB_ERR_IO, "%s: cannot open the folder", dir);
    paths here = {0};
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.' && !push_path(&here, vb_path_join(dir, e->d_name))) {
            closedir(d);
            for (size_t i = 0; i < here.n; i++)
                free(here.v[i]);
            free(here.v);
            return vb_fail(err, VB_ERR_NOMEM, "out of memory");
        }
    closedir(d);
    if (here.n) /* here.v is NULL for an empty folder */
        qsort(here.v, here.n, sizeof *here.v, cmp_str);
    vb_status st = VB_OK;
    for (size_t i = 0; i < here.n; i++) {
        struct stat sb;
        if (st != VB_OK || stat(here.v[i], &sb) != 0) {
            free(here.v[i]);
            continue;
        }
        if (S_ISDIR(sb.st_mode)) {
            st = collect_dir(here.v[i], out, skipped, err);
            free(here.v[i]);
            continue;
        }
        int image = 0;
        st = vb_image_probe(here.v[i], &image, err);
        if (st == VB_OK && image) {
            if (!push_path(out, here.v[i]))
                st = vb_fail(err, VB_ERR_NOMEM, "out of memory");
        } else if (st == VB_OK) { /* said once the whole list is known */
            if (!push_path(skipped, here.v[i]))
                st = vb_fail(err, VB_ERR_NOMEM, "out of memory");
        } else
            free(here.v[i]);
    }
    free(here.v);
    return st;
}

/* The n best classes by score into order (ties to the lower class). */
static int top_classes(const float *scores, int k, int top, int order[64])
{
    int n = k < top ? k : top;
    if (n > 64)
        n = 64;
    for (int t = 0; t < n; t++) { /* n is small: repeated selection */
        int best = -1;
        for (int c = 0; c < k; c++) {
            int taken = 0;
            for (int u = 0; u < t; u++)
                taken |= order[u] == c;
            if (!taken && (best < 0 || scores[c] > scores[best]))
                best = c;
        }
        order[t] = best;
    }
    return n;
}

/* What a model's scores are, for people. */
static const char *scores_text(const vb_model *m)
{
    int p = vb_model_has_probabilities(m);
    if (m->task == VB_TASK_MULTILABEL)
        return p ? "per-label probabilities (each label on its own; the set is the labels above their thresholds)"
                 : "per-label decision values (the set is the labels above their thresholds)";
    return p ? "probabilities (they sum to 1)" : "decision values (higher = more likely), not probabilities";
}

/* What a prediction says, for people: the class; a multilabel model's
 * label set ("dog;car", "" for none); a hierarchical model's node (a leaf,
 * or an inner node where it stopped early). */
static void label_text(const vb_model *m, int label, const uint8_t *set, vb_buf *b)
{
    if (set) {
        vb_labelset_text(b, set, m->n_classes, (const char *const *)m->classes);
        return;
    }
    vb_buf_puts(b, m->tax && label >= 0 && label < m->tax->n_nodes ? m->tax->names[label]
                                                                  : vb_model_class_name(m, label));
}

/* csv_top: CSV with the top classes (--top given) rather than every score. */
/* cluster: the image's cluster, or -1 for a model that does not cluster. */
/* set: a multilabel model's label set of the image, else NULL. */
static void print_prediction(const vb_model *m, const char *path, int label, int cluster, const uint8_t *set,
                             const float *scores, vb_format fmt, int top, int csv_top, vb_buf *b)
{
    int k = vb_model_n_classes(m);
    int order[64], n = top_classes(scores, k, top, order);
    vb_buf lt, tp;
    vb_buf_init(&lt);
    vb_buf_init(&tp);
    label_text(m, label, set, &lt);
    if (m->tax)
        vb_tax_path_text(m->tax, label, &tp);
    b->failed |= lt.failed | tp.failed;
    const char *lab = lt.data ? lt.data : "", *tpath = tp.data ? tp.data : "";
    if (fmt == VB_FMT_CSV) {
        vb_buf_csv_field(b, path);
        vb_buf_puts(b, ",");
        vb_buf_csv_field(b, lab);
        if (m->tax) {
            vb_buf_puts(b, ",");
            vb_buf_csv_field(b, tpath);
        }
        if (cluster >= 0)
            vb_buf_printf(b, ",%d", cluster);
        for (int c = 0; c < (csv_top ? n : k); c++) {
            vb_buf_puts(b, ",");
            if (csv_top) {
                vb_buf_csv_field(b, vb_model_class_name(m, order[c]));
                vb_buf_puts(b, ",");
            }
            vb_buf_double(b, scores[csv_top ? order[c] : c]);
        }
        vb_buf_puts(b, "\n");
        goto out;
    }
    if (fmt == VB_FMT_JSON) {
        vb_buf_puts(b, "{\"path\": ");
        vb_buf_json_str(b, path);
        if (set) {
            vb_buf_puts(b, ", \"labels\": [");
            int first = 1;
            for (int c = 0; c < k; c++)
                if (set[c]) {
                    vb_buf_puts(b, first ? "" : ", ");
                    vb_buf_json_str(b, m->classes[c]);
                    first = 0;
                }
            vb_buf_puts(b, "]");
        } else {
            vb_buf_puts(b, ", \"label\": ");
            vb_buf_json_str(b, lab);
        }
        if (m->tax) {
            vb_buf_puts(b, ", \"taxonomy_path\": ");
            vb_buf_json_str(b, tpath);
        }
        if (cluster >= 0)
            vb_buf_printf(b, ", \"cluster\": %d", cluster);
        vb_buf_printf(b, ", \"scores\": \"%s\", \"top\": [",
                      vb_model_has_probabilities(m) ? "probabilities" : "decision values");
        for (int t = 0; t < n; t++) {
            vb_buf_puts(b, t ? ", {\"class\": " : "{\"class\": ");
            vb_buf_json_str(b, vb_model_class_name(m, order[t]));
            vb_buf_puts(b, ", \"score\": ");
            vb_buf_double(b, scores[order[t]]);
            vb_buf_puts(b, "}");
        }
        vb_buf_puts(b, "]}\n");
        goto out;
    }
    if (set)
        vb_buf_printf(b, "%s\t{%s}", path, lab);
    else
        vb_buf_printf(b, "%s\t%s", path, m->tax ? tpath : lab);
    if (cluster >= 0)
        vb_buf_printf(b, "\tcluster %d", cluster);
    for (int t = 0; t < n; t++)
        vb_buf_printf(b, "\t%s %.4f", vb_model_class_name(m, order[t]), scores[order[t]]);
    vb_buf_puts(b, "\n");
out:
    vb_buf_free(&lt);
    vb_buf_free(&tp);
}

int cmd_predict(int argc, char **argv)
{
    vb_format fmt = VB_FMT_TEXT;
    long top = 3;
    int top_given = 0;
    static const struct option opts[] = {{"format", required_argument, 0, 'f'}, {"top", required_argument, 0, 't'},
                                         {0, 0, 0, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":f:", opts, NULL)) != -1) {
        switch (c) {
        case 'f':
            if (!vb_format_parse(optarg, &fmt) || fmt == VB_FMT_MD || fmt == VB_FMT_HTML)
                return cli_usage("predict", "--format takes text, csv or json, not '%s'", optarg);
            break;
        case 't':
            if (!vb_parse_long(optarg, &top) || top < 1 || top > 64)
                return cli_usage("predict", "--top takes 1..64, not '%s'", optarg);
            top_given = 1;
            break;
        default: return cli_bad_option("predict", c, argv);
        }
    }
    if (argc - optind < 2)
        return cli_usage("predict", "expects MODEL IMAGE|DIR...");
    vb_error err = {0};
    vb_model *m = NULL;
    paths files = {0}, skipped = {0};
    int rc = VB_EXIT_FAIL;
    int *labels = NULL, *clusters = NULL;
    float *scores = NULL;
    uint8_t *sets = NULL;
    if (vb_model_load(argv[optind], &m, &err) != VB_OK)
        goto fail;
    for (int i = optind + 1; i < argc; i++) {
        struct stat sb;
        if (stat(argv[i], &sb) != 0) {
            vb_fail(&err, VB_ERR_IO, "%s: no such file or folder", argv[i]);
            goto fail;
        }
        if (S_ISDIR(sb.st_mode)) {
            if (collect_dir(argv[i], &files, &skipped, &err) != VB_OK)
                goto fail;
        } else if (!push_path(&files, strdup(argv[i]))) {
            vb_fail(&err, VB_ERR_NOMEM, "out of memory");
            goto fail;
        }
    }
    if (files.n == 0) {
        if (skipped.n) /* one message, not a warning per file and then the error */
            vb_fail(&err, VB_ERR_DATA, "%s: no images to predict (%s%s is not an image)", argv[optind + 1],
                    skipped.v[0], skipped.n > 1 ? ", like every other file there," : "");
        else if (argc - optind == 2)
            vb_fail(&err, VB_ERR_DATA, "%s: no images to predict", argv[optind + 1]);
        else
            vb_fail(&err, VB_ERR_DATA, "%s and the other folders given: no images to predict", argv[optind + 1]);
        goto fail;
    }
    for (size_t i = 0; i < skipped.n; i++)
        vb_log(VB_LOG_WARN, "%s: not an image, skipped", skipped.v[i]);
    /* In batches: memory stays bounded for folders of any size. */
    const size_t B = 4096;
    int k = vb_model_n_classes(m);
    labels = vb_malloc(B, sizeof *labels, &err);
    scores = vb_malloc(B, (size_t)k * sizeof *scores, &err);
    clusters = vb_model_clusters(m) ? vb_malloc(B, sizeof *clusters, &err) : NULL;
    int ml = m->task == VB_TASK_MULTILABEL;
    sets = ml ? vb_malloc(B, (size_t)k, &err) : NULL;
    if (!labels || !scores || (vb_model_clusters(m) && !clusters) || (ml && !sets))
        goto fail;
    int csv_top = fmt == VB_FMT_CSV && top_given;
    if (fmt == VB_FMT_CSV) {
        vb_buf h;
        vb_buf_init(&h);
        vb_buf_puts(&h, ml ? "path,labels" : "path,label");
        if (m->tax)
            vb_buf_puts(&h, ",taxonomy_path");
        if (clusters)
            vb_buf_puts(&h, ",cluster");
        for (int j = 0; j < (csv_top ? (top < k ? (int)top : k) : k); j++) {
            char *col = csv_top ? vb_asprintf("top%d,score%d", j + 1, j + 1)
                                : vb_asprintf("score:%s", vb_model_class_name(m, j));
            vb_buf_puts(&h, ",");
            if (csv_top)
                vb_buf_puts(&h, col ? col : "top,score");
            else
                vb_buf_csv_field(&h, col ? col : "score");
            h.failed |= !col;
            free(col);
        }
        if (h.failed) {
            vb_buf_free(&h);
            vb_fail(&err, VB_ERR_NOMEM, "out of memory");
            goto fail;
        }
        printf("%s\n", h.data);
        vb_buf_free(&h);
    }
    double t0 = vb_now();
    for (size_t at = 0; at < files.n; at += B) {
        size_t n = files.n - at < B ? files.n - at : B;
        if ((ml ? vb_model_predict_files_sets(m, (const char *const *)files.v + at, n, labels, scores, sets, &err)
                : vb_model_predict_files_ex(m, (const char *const *)files.v + at, n, labels, scores, clusters,
                                            &err)) != VB_OK)
            goto fail;
        vb_buf out;
        vb_buf_init(&out);
        for (size_t i = 0; i < n; i++)
            print_prediction(m, files.v[at + i], labels[i], clusters ? clusters[i] : -1,
                             sets ? sets + i * (size_t)k : NULL, scores + i * (size_t)k, fmt, (int)top, csv_top, &out);
        if (out.failed) { /* not a list of predictions cut short */
            vb_buf_free(&out);
            vb_fail(&err, VB_ERR_NOMEM, "out of memory");
            goto fail;
        }
        cli_progress_break();
        if (out.data)
            fwrite(out.data, 1, out.len, stdout);
        vb_buf_free(&out);
    }
    double el = vb_now() - t0;
    vb_log(VB_LOG_INFO, "%zu images in %.2f s (%.0f images/s)", files.n, el, el > 0 ? (double)files.n / el : 0.0);
    vb_log(VB_LOG_INFO, "%s: scores are %s", argv[optind], scores_text(m));
    rc = VB_EXIT_OK;
    goto done;
fail:
    rc = cli_error(&err);
done:
    for (size_t i = 0; i < files.n; i++)
        free(files.v[i]);
    free(files.v);
    for (size_t i = 0; i < skipped.n; i++)
        free(skipped.v[i]);
    free(skipped.v);
    free(labels);
    free(scores);
    free(clusters);
    free(sets);
    vb_model_free(m);
    return rc;
}

/* ---- evaluate ---------------------------------------------------------- */

int cmd_evaluate(int argc, char **argv)
{
    const char *part_name = NULL;
    int json = 0;
    static const struct option opts[] = {{"part", required_argument, 0, 'p'}, {"json", no_argument, 0, 'j'},
                                         {0, 0, 0, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":p:j", opts, NULL)) != -1) {
        switch (c) {
        case 'p':
            if (strcmp(optarg, "test") && strcmp(optarg, "train") && strcmp(optarg, "all"))
                return cli_usage("evaluate", "--part takes test, train or all, not '%s'", optarg);
            part_name = optarg;
            break;
        case 'j': json = 1; break;
        default: return cli_bad_option("evaluate", c, argv);
        }
    }
    if (argc - optind != 2)
        return cli_usage("evaluate", "expects MODEL DATASET");
    vb_error err = {0};
    vb_model *m = NULL;
    vb_dataset *ds = NULL;
    int rc = VB_EXIT_FAIL;
    size_t *idx = NULL, n = 0;
    int *truth = NULL, *pred = NULL, *map = NULL;
    vb_metrics mt = {0};
    if (vb_model_load(argv[optind], &m, &err) != VB_OK || vb_dataset_load_path(argv[optind + 1], &ds, &err) != VB_OK)
        goto fail;
    /* Dataset classes map to the model's by name. */
    if (!(map = vb_calloc((size_t)ds->n_classes, sizeof *map, &err)))
        goto fail;
    for (int k = 0; k < ds->n_classes; k++) {
        map[k] = -1;
        for (int j = 0; j < vb_model_n_classes(m); j++)
            if (strcmp(ds->classes[k], vb_model_class_name(m, j)) == 0)
                map[k] = j;
        if (map[k] < 0) {
            vb_fail(&err, VB_ERR_DATA, "%s: class '%s' is not one of the model's %d classes", argv[optind + 1],
                    ds->classes[k], vb_model_n_classes(m));
            goto fail;
        }
    }
    int part = !part_name ? (ds->part ? VB_PART_TEST : VB_PART_NONE)
             : strcmp(part_name, "test") == 0 ? VB_PART_TEST
             : strcmp(part_name, "train") == 0 ? VB_PART_TRAIN : VB_PART_NONE;
    if (part != VB_PART_NONE && !ds->part) {
        vb_fail(&err, VB_ERR_DATA, "%s: the dataset has no %s part; use --part all", argv[optind + 1], part_name);
        goto fail;
    }
    if (m->task == VB_TASK_MULTILABEL || ds->task == VB_TASK_MULTILABEL) {
        vb_fail(&err, VB_ERR_DATA,
                "%s: evaluate scores one label per image; for label sets (multilabel) the metrics come from run "
                "(visbench results) and train (the fold's test part)",
                m->task == VB_TASK_MULTILABEL ? argv[optind] : argv[optind + 1]);
        goto fail;
    }
    if (!(idx = vb_malloc(ds->n, sizeof *idx, &err)))
        goto fail;
    for (size_t i = 0; i < ds->n; i++)
        if (part == VB_PART_NONE || ds->part[i] == part)
            idx[n++] = i;
    truth = vb_malloc(n ? n : 1, sizeof *truth, &err);
    pred = vb_malloc(n ? n : 1, sizeof *pred, &err);
    if (!truth || !pred)
        goto fail;
    for (size_t i = 0; i < n; i++)
        truth[i] = map[ds->labels[idx[i]]];
    vb_dataset_view view;
    vb_imgsrc src;
    vb_imgsrc_dataset(&src, &view, ds, idx, n);
    int K = vb_model_n_classes(m);
    float *scores = vb_malloc(n ? n : 1, (size_t)K * sizeof *scores, &err);
    if (!scores)
        goto fail;
    double t0 = vb_now();
    vb_status pst = vb_model_predict_src(m, &src, pred, scores, &err);
    for (size_t i = 0; pst == VB_OK && i < n; i++)
        pred[i] = pred[i] >= K ? -1 : pred[i]; /* stopped above the leaves: no class */
    if (pst != VB_OK || vb_metrics_compute(truth, pred, n, K, &mt, &err) != VB_OK) {
        free(scores);
        goto fail;
    }
    double el = vb_now() - t0;
    cli_progress_break();
    int proba = vb_model_has_probabilities(m);
    /* The full metric set: the store's, from the labels and the scores. */
    vb_named_value ms[VB_METRIC_SET_SIZE];
    vb_metric_set(&mt, truth, scores, n, K, proba, ms);
    size_t n_ms = VB_METRIC_SET_SIZE;
    vb_buf b;
    vb_buf_init(&b);
    if (json) {
        vb_buf_puts(&b, "{\"model\": ");
        vb_buf_json_str(&b, argv[optind]);
        vb_buf_puts(&b, ", \"dataset\": ");
        vb_buf_json_str(&b, ds->name);
        vb_buf_printf(&b, ", \"n\": %zu, \"probabilities\": %s", n, proba ? "true" : "false");
        for (size_t i = 0; i < n_ms; i++)
            if (!isnan(ms[i].v)) {
                vb_buf_printf(&b, ", \"%s\": ", ms[i].name);
                vb_buf_double(&b, ms[i].v);
            }
        vb_buf_puts(&b, ", \"seconds\": ");
        vb_buf_double(&b, el);
        vb_buf_puts(&b, ", \"per_class\": [");
        for (int k = 0; k < K; k++) {
            vb_buf_puts(&b, k ? ", {\"class\": " : "{\"class\": ");
            vb_buf_json_str(&b, vb_model_class_name(m, k));
            double v[4] = {mt.precision[k], mt.recall[k], mt.f1[k], vb_auc_ovr(truth, scores, n, K, k)};
            static const char *const vn[4] = {"precision", "recall", "f1", "auc"};
            for (int j = 0; j < 4; j++)
                if (!isnan(v[j])) {
                    vb_buf_printf(&b, ", \"%s\": ", vn[j]);
                    vb_buf_double(&b, v[j]);
                }
            vb_buf_printf(&b, ", \"support\": %zu}", mt.support[k]);
        }
        vb_buf_puts(&b, "], \"confusion\": [");
        for (int i = 0; i < K; i++) {
            vb_buf_puts(&b, i ? ", [" : "[");
            for (int j = 0; j < K; j++)
                vb_buf_printf(&b, "%s%zu", j ? ", " : "", mt.confusion[(size_t)i * (size_t)K + (size_t)j]);
            vb_buf_puts(&b, "]");
        }
        vb_buf_puts(&b, "]}\n");
    } else {
        vb_buf_printf(&b, "%s on %s (%zu images, %.1f s): accuracy %.4f, balanced %.4f, macro-F1 %.4f\n",
                      argv[optind], ds->name, n, el, mt.accuracy, mt.balanced_accuracy, mt.macro_f1);
        vb_buf_printf(&b, "scores: %s\n", proba ? "probabilities" : "decision values (log loss does not apply)");
        for (size_t i = 0; i < n_ms; i++)
            if (!isnan(ms[i].v))
                vb_buf_printf(&b, "  %-18s %.4f\n", ms[i].name, ms[i].v);
        vb_buf_printf(&b, "  %-22s %9s %8s %8s %8s %8s\n", "class", "precision", "recall", "f1", "auc", "support");
        for (int k = 0; k < K; k++) {
            double auc = vb_auc_ovr(truth, scores, n, K, k);
            vb_buf_printf(&b, "  %-22.22s %9.4f %8.4f %8.4f ", vb_model_class_name(m, k), mt.precision[k],
                          mt.recall[k], mt.f1[k]);
            if (isnan(auc))
                vb_buf_printf(&b, "%8s", "-");
            else
                vb_buf_printf(&b, "%8.4f", auc);
            vb_buf_printf(&b, " %8zu\n", mt.support[k]);
        }
        vb_buf_puts(&b, "confusion (rows: true class, columns: predicted, in the order above):\n");
        for (int i = 0; i < K; i++) {
            vb_buf_printf(&b, "  %-22.22s", vb_model_class_name(m, i));
            for (int j = 0; j < K; j++)
                vb_buf_printf(&b, " %6zu", mt.confusion[(size_t)i * (size_t)K + (size_t)j]);
            vb_buf_puts(&b, "\n");
        }
    }
    free(scores);
    if (b.failed) {
        vb_buf_free(&b);
        vb_fail(&err, VB_ERR_NOMEM, "out of memory");
        goto fail;
    }
    fputs(b.data ? b.data : "", stdout);
    vb_buf_free(&b);
    rc = VB_EXIT_OK;
    goto done;
fail:
    rc = cli_error(&err);
done:
    vb_metrics_free(&mt);
    free(idx);
    free(truth);
    free(pred);
    free(map);
    vb_dataset_free(ds);
    vb_model_free(m);
    return rc;
}

/* ---- model info ---------------------------------------------------------- */

/* Prints the members of a flat JSON object (as vb_model_info and the
 * classifiers' info write it: strings, numbers, and objects or lists of
 * numbers) as "  key: value" lines. */
static void print_info_members(const char *json)
{
    const char *p = json && *json == '{' ? json + 1 : "";
    while (*p && *p != '}') {
        while (*p == ' ' || *p == ',')
            p++;
        if (*p != '"')
            break;
        const char *k = ++p;
        while (*p && *p != '"')
            p++;
        int klen = (int)(p - k);
        if (*p)
            p++;
        while (*p == ':' || *p == ' ')
            p++;
        printf("  %-15.*s ", klen, k);
        if (*p == '"') { /* a string: unescape \" and \\ */
            for (p++; *p && *p != '"'; p++) {
                if (*p == '\\' && p[1])
                    p++;
                putchar(*p);
            }
            if (*p)
                p++;
        } else if (*p == '{' || *p == '[') { /* to the bracket that closes it */
            const char *e = p;
            for (int depth = 0; *e; e++) {
                depth += (*e == '{' || *e == '[') - (*e == '}' || *e == ']');
                if (depth == 0) {
                    e++;
                    break;
                }
            }
            printf("%.*s", (int)(e - p), p);
            p = e;
        } else {
            const char *e = p + strcspn(p, ",}");
            printf("%.*s", (int)(e - p), p);
            p = e;
        }
        putchar('\n');
    }
}

/* A network's layers (a cnn model): number, name (what the cnn extractor's
 * layer: takes), what it is, its output shape. */
static const vb_cnn *model_net(const vb_model *m)
{
    return m->clf && m->clf->vt->net ? m->clf->vt->net(m->clf->state) : NULL; /* (an ensemble has none) */
}

/* Layer l's name and what it is (d: initialised by the caller). */
static void layer_text(const vb_cnn *net, size_t l, char *name, size_t size, vb_buf *d)
{
    vb_cnn_layer_name(net, l, name, size);
    vb_cnn_layer_describe(net, l, d);
}

static void print_network(const vb_model *m)
{
    const vb_cnn *net = model_net(m);
    if (!net)
        return;
    printf("network (%zu layers; the cnn extractor's layer: takes a name or a number):\n", net->n_layers);
    for (size_t l = 0; l < net->n_layers; l++) {
        char name[32];
        vb_buf d;
        vb_buf_init(&d);
        layer_text(net, l, name, sizeof name, &d);
        const vb_shape o = net->layers[l].out;
        printf("  %3zu %-12s %-30s -> %dx%dx%d\n", l + 1, name, d.data ? d.data : "", o.w, o.h, o.c);
        vb_buf_free(&d);
    }
}

static void network_json(const vb_model *m, vb_buf *b)
{
    const vb_cnn *net = model_net(m);
    vb_buf_puts(b, net ? ", \"layers\": [" : "");
    for (size_t l = 0; net && l < net->n_layers; l++) {
        char name[32];
        vb_buf d;
        vb_buf_init(&d);
        layer_text(net, l, name, sizeof name, &d);
        vb_buf_printf(b, "%s{\"name\": \"%s\", \"layer\": ", l ? ", " : "", name);
        vb_buf_json_str(b, d.data ? d.data : "");
        const vb_shape o = net->layers[l].out;
        vb_buf_printf(b, ", \"output\": [%d, %d, %d]}", o.w, o.h, o.c);
        vb_buf_free(&d);
    }
    vb_buf_puts(b, net ? "]" : "");
}

int cmd_model(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "info") != 0)
        return cli_usage("model", "expects 'info MODEL [--json]'");
    int json = 0;
    const char *path = NULL;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            json = 1;
        else if (argv[i][0] == '-')
            return cli_usage("model info", "unknown option '%s'", argv[i]);
        else if (!path)
            path = argv[i];
        else
            return cli_usage("model info", "expects one model file");
    }
    if (!path)
        return cli_usage("model info", "expects a model file, e.g. visbench model info hog.vbm");
    vb_error err = {0};
    vb_model *m = NULL;
    if (vb_model_load(path, &m, &err) != VB_OK)
        return cli_error(&err);
    static const char *const names[8] = {"HEAD", "PREP", "EXTR", "POST", "CLSF", "INFO", "TASK", "ENSM"};
    size_t total = 0;
    for (int i = 0; i < 8; i++)
        total += m->sections[i];
    /* what the trained classifier says of itself (nodes, support vectors, ...) */
    vb_buf ci;
    classifier_info(m, &ci);
    vb_buf b;
    vb_buf_init(&b);
    if (json) {
        vb_buf_puts(&b, "{\"path\": ");
        vb_buf_json_str(&b, path);
        vb_buf_puts(&b, ", \"written_by\": ");
        vb_buf_json_str(&b, m->written_by ? m->written_by : "");
        vb_buf_puts(&b, ", \"pipeline\": ");
        vb_buf_json_str(&b, vb_model_describe(m));
        vb_buf_printf(&b, ", \"probabilities\": %s, \"classes\": [", vb_model_has_probabilities(m) ? "true" : "false");
        for (int k = 0; k < m->n_classes; k++) {
            if (k)
                vb_buf_puts(&b, ", ");
            vb_buf_json_str(&b, m->classes[k]);
        }
        vb_buf_puts(&b, "], \"sections\": {");
        for (int i = 0, first = 1; i < 8; i++)
            if (m->sections[i]) {
                vb_buf_printf(&b, "%s\"%s\": %zu", first ? "" : ", ", names[i], m->sections[i]);
                first = 0;
            }
        vb_buf_printf(&b, "}, \"classifier\": %s", ci.data ? ci.data : "null");
        network_json(m, &b);
        vb_buf_printf(&b, ", \"info\": %s}\n", m->info ? m->info : "null");
        fputs(b.data ? b.data : "", stdout);
    } else {
        printf("model: %s (%.1f kB of sections, written by visbench %s)\n", path, (double)total / 1024.0,
               m->written_by ? m->written_by : "?");
        printf("pipeline: %s\n", vb_model_describe(m));
        printf("task: %s\nscores: %s\n", vb_task_name(m->task), scores_text(m));
        if (m->tax) {
            vb_buf tb;
            vb_buf_init(&tb);
            for (int l = 0; l < m->tax->n_leaves; l++) {
                vb_buf_puts(&tb, l ? ", " : "");
                vb_tax_path_text(m->tax, l, &tb);
            }
            printf("taxonomy (%d levels): %s\n", m->tax->max_depth, tb.data ? tb.data : "");
            vb_buf_free(&tb);
        }
        printf("classes (%d):", m->n_classes);
        for (int k = 0; k < m->n_classes; k++)
            printf("%s %s", k ? "," : "", m->classes[k]);
        printf("\ninput: images of %dx%dx%d before preprocessing (others are resized)\n", m->in.w, m->in.h, m->in.c);
        print_network(m);
        printf("sections:");
        for (int i = 0; i < 8; i++)
            if (m->sections[i])
                printf(" %s %.1f kB", names[i], (double)m->sections[i] / 1024.0);
        printf("\n");
        for (size_t i = 0; i < m->n_members; i++)
            printf("member %zu: %s\n", i + 1, vb_model_describe(m->members[i]));
        if (ci.data) {
            printf("classifier %s:\n", (m->clf ? m->clf : m->meta)->vt->info.name);
            print_info_members(ci.data);
        }
        if (m->info) {
            printf("how it was made:\n");
            print_info_members(m->info);
        } else
            printf("how it was made: not recorded (a model from an older visbench)\n");
    }
    vb_buf_free(&b);
    vb_buf_free(&ci);
    vb_model_free(m);
    return VB_EXIT_OK;
}
