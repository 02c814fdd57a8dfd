/* CNN training and inference throughput on Fashion-MNIST, through the cnn
 * classifier exactly as `visbench run` uses it.
 *
 *   bench_cnn [--net lenet|cnn2] [--train N] [--epochs E] [--test N] [--threads T] [--batch B]
 *             [--repeat R] [--seed S] [--init he|xavier|uniform]
 *   bench_cnn --steps K [--net ...] [--threads T] [--batch B]
 *             K training steps and K inference batches on random data (no
 *             data loading): the loop to profile.
 *
 * Uses the first N official training images and the first N test images
 * (in file order; the torch peer takes the same ones), pixels / 255, Adam
 * lr 0.001, no validation. Prints one line:
 *   RESULT name=visbench-cnn2 threads=2 train=N epochs=E batch=64 train_s=... train_images_per_s=...
 *          infer_images_per_s=... accuracy=... train_gflops=... infer_gflops=... blas_core=...
 * train_images_per_s counts the training epochs only (standardisation and
 * initialisation excluded, as in the torch peer); inference is the best of
 * R passes over the test images.
 */
#include "visbench/cnn.h"
#include "visbench/pipeline.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *openblas_get_corename(void);

static const char *net_layers(const char *name)
{
    if (strcmp(name, "lenet") == 0)
        return "[conv: {filters: 6, size: 5, pad: 2}, relu, maxpool: 2, conv: {filters: 16, size: 5}, relu, "
               "maxpool: 2, flatten, fc: 120, relu, fc: 84, relu, fc: classes]";
    if (strcmp(name, "cnn2") == 0)
        return "[conv: {filters: 32, size: 5, pad: 2}, relu, maxpool: 2, conv: {filters: 64, size: 5, pad: 2}, relu, "
               "maxpool: 2, flatten, fc: 1024, relu, fc: classes]";
    return NULL;
}

/* The first `want` images of one official part as float rows / 255. */
static float *take(const vb_dataset *ds, int part, size_t want, int **labels, size_t *n_out)
{
    size_t n = 0, d = (size_t)ds->fixed_w * ds->fixed_h;
    for (size_t i = 0; i < ds->n; i++)
        n += ds->part[i] == part;
    if (want && want < n)
        n = want;
    float *X = malloc(n * d * sizeof *X);
    int *y = malloc(n * sizeof *y);
    size_t j = 0;
    for (size_t i = 0; i < ds->n && j < n; i++) {
        if (ds->part[i] != part)
            continue;
        for (size_t p = 0; p < d; p++)
            X[j * d + p] = ds->px[i][p] / 255.0f;
        y[j++] = ds->labels[i];
    }
    *labels = y;
    *n_out = n;
    return X;
}

/* The timed loops (a function of their own, for callgrind --toggle-collect). */
__attribute__((noinline)) static void train_steps(vb_cnn *net, vb_cnn_ws *ws, vb_cnn_opt *opt, const int *y, int k,
                                                  int batch)
{
    for (int s = 0; s < k; s++) {
        vb_cnn_forward(net, ws, (size_t)batch, 1);
        vb_cnn_xent(vb_cnn_ws_output(ws), y, (size_t)batch, 10, vb_cnn_ws_output_grad(ws), NULL, NULL);
        vb_cnn_backward(net, ws, (size_t)batch);
        vb_cnn_opt_step(opt, net, vb_cnn_ws_param_grad(ws), 1e-3);
    }
}

__attribute__((noinline)) static void infer_steps(vb_cnn *net, vb_cnn_ws *ws, int k, int batch)
{
    for (int s = 0; s < k; s++)
        vb_cnn_forward(net, ws, (size_t)batch, 0);
}

/* K training steps and K inference forwards of one batch of random images. */
static int steps(const char *layers, const char *name, int k, int batch, int threads)
{
    vb_error err = {0};
    vb_doc *doc = NULL;
    vb_cnn_arch arch;
    vb_cnn *net = NULL;
    vb_cnn_ws *ws = NULL, *iws = NULL;
    vb_cnn_opt *opt = NULL;
    vb_shape in = {28, 28, 1};
    vb_cnn_opt_conf oc = {.kind = VB_CNN_ADAM, .lr = 1e-3, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8};
    if (vb_doc_load_string(layers, "layers", &doc, &err) != VB_OK || vb_cnn_arch_parse(doc->root, &arch, &err) ||
        vb_cnn_new(&arch, in, 10, &net, &err) || vb_cnn_init(net, VB_CNN_INIT_HE, 1, &err) ||
        vb_cnn_ws_new(net, (size_t)batch, 1, 0, &ws, &err) || vb_cnn_ws_new(net, (size_t)batch, 0, 0, &iws, &err) ||
        vb_cnn_opt_new(net, &oc, 0, &opt, &err)) {
        fprintf(stderr, "bench_cnn: %s\n", err.msg);
        return 1;
    }
    vb_rng *rng = vb_rng_new(1);
    int *y = malloc((size_t)batch * sizeof *y);
    for (int i = 0; i < batch; i++)
        y[i] = i % 10;
    float *x = vb_cnn_ws_input(ws), *xi = vb_cnn_ws_input(iws);
    for (int i = 0; i < batch * 784; i++)
        x[i] = xi[i] = (float)vb_rng_gauss(rng, 1);
    double t0 = vb_now(), c0 = vb_cpu_seconds();
    train_steps(net, ws, opt, y, k, batch);
    double t1 = vb_now(), c1 = vb_cpu_seconds();
    infer_steps(net, iws, k, batch);
    double t2 = vb_now(), c2 = vb_cpu_seconds();
    double f, t;
    vb_cnn_flops(net, &f, &t);
    double tr = (double)k * batch / (t1 - t0), inf = (double)k * batch / (t2 - t1);
    printf("STEPS name=%s threads=%d batch=%d train_images_per_s=%.1f infer_images_per_s=%.1f train_gflops=%.1f "
           "infer_gflops=%.1f train_cpu_us_per_image=%.1f infer_cpu_us_per_image=%.1f\n",
           name, threads, batch, tr, inf, tr * t / 1e9, inf * f / 1e9, (c1 - c0) / k / batch * 1e6,
           (c2 - c1) / k / batch * 1e6);
    free(y);
    vb_rng_free(rng);
    vb_cnn_opt_free(opt);
    vb_cnn_ws_free(ws);
    vb_cnn_ws_free(iws);
    vb_cnn_free(net);
    vb_cnn_arch_free(&arch);
    vb_doc_free(doc);
    return 0;
}

int main(int argc, char **argv)
{
    const char *net = "cnn2";
    size_t n_train = 60000, n_test = 10000;
    int epochs = 1, threads = 2, batch = 64, repeat = 3, nsteps = 0;
    unsigned long long seed = 1;
    const char *init = "he";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            fprintf(stderr, "bench_cnn: %s needs a value\n", a);
            return 2;
        }
        if (strcmp(a, "--net") == 0)
            net = v;
        else if (strcmp(a, "--train") == 0)
            n_train = (size_t)atol(v);
        else if (strcmp(a, "--test") == 0)
            n_test = (size_t)atol(v);
        else if (strcmp(a, "--epochs") == 0)
            epochs = atoi(v);
        else if (strcmp(a, "--threads") == 0)
            threads = atoi(v);
        else if (strcmp(a, "--batch") == 0)
            batch = atoi(v);
        else if (strcmp(a, "--repeat") == 0)
            repeat = atoi(v);
        else if (strcmp(a, "--steps") == 0)
            nsteps = atoi(v);
        else if (strcmp(a, "--init") == 0)
            init = v;
        else if (strcmp(a, "--seed") == 0)
            seed = strtoull(v, NULL, 10);
        else {
            fprintf(stderr, "bench_cnn: unknown option %s\n", a);
            return 2;
        }
        i++;
    }
    const char *layers = net_layers(net);
    if (!layers || epochs < 1 || batch < 1 || repeat < 1) {
        fprintf(stderr, "usage: bench_cnn [--net lenet|cnn2] [--train N] [--epochs E] [--test N] [--threads T]\n");
        return 2;
    }
    vb_set_threads(threads);
    if (nsteps > 0)
        return steps(layers, net, nsteps, batch, threads);
    vb_error err = {0};
    vb_dataset *ds = NULL;
    if (vb_dataset_load_path("datasets/fashion-mnist.yaml", &ds, &err) != VB_OK) {
        fprintf(stderr, "bench_cnn: %s\n", err.msg);
        return 1;
    }
    int *ytr, *yte;
    size_t ntr, nte;
    float *Xtr = take(ds, VB_PART_TRAIN, n_train, &ytr, &ntr);
    float *Xte = take(ds, VB_PART_TEST, n_test, &yte, &nte);
    const size_t d = (size_t)ds->fixed_w * ds->fixed_h;

    char params[1024];
    snprintf(params, sizeof params, "{layers: %s, epochs: %d, batch: %d, optimizer: {adam: {lr: 0.001}}, init: %s}",
             layers, epochs, batch, init);
    const vb_classifier_vt *vt = vb_classifier_find("cnn");
    vb_params p;
    vb_classifier *clf = NULL;
    if (vb_params_parse_text(&p, &vt->info, params, &err) != VB_OK || vb_classifier_new(vt, &p, &clf, &err) != VB_OK) {
        fprintf(stderr, "bench_cnn: %s\n", err.msg);
        return 1;
    }
    vb_traindata td = {.X = Xtr, .n = ntr, .d = d, .y = ytr, .n_classes = ds->n_classes,
                       .shape = {ds->fixed_w, ds->fixed_h, 1}, .seed = seed, .name = net};
    if (vb_classifier_train(clf, &td, &err) != VB_OK) {
        fprintf(stderr, "bench_cnn: %s\n", err.msg);
        return 1;
    }
    const vb_epoch *ep;
    size_t ne = vb_classifier_curve(clf, &ep);
    double train_s = 0;
    for (size_t e = 0; e < ne; e++)
        train_s += ep[e].seconds;

    int *pred = malloc(nte * sizeof *pred);
    double best = 1e30;
    for (int r = 0; r < repeat; r++) {
        double t0 = vb_now();
        if (vb_classifier_predict(clf, Xte, nte, d, pred, NULL, &err) != VB_OK) {
            fprintf(stderr, "bench_cnn: %s\n", err.msg);
            return 1;
        }
        double t = vb_now() - t0;
        best = t < best ? t : best;
    }
    size_t hits = 0;
    for (size_t i = 0; i < nte; i++)
        hits += pred[i] == yte[i];

    /* FLOPs from the same architecture */
    vb_cnn_arch arch;
    vb_cnn *cnn = NULL;
    vb_cnn_arch_parse(vb_param_node(&p, "layers"), &arch, &err);
    vb_shape shape = {ds->fixed_w, ds->fixed_h, 1};
    double ffwd = 0, ftrain = 0;
    if (vb_cnn_new(&arch, shape, ds->n_classes, &cnn, &err) == VB_OK)
        vb_cnn_flops(cnn, &ffwd, &ftrain);
    double train_ips = (double)ntr * (double)ne / train_s, infer_ips = (double)nte / best;
    printf("RESULT name=visbench-%s threads=%d train=%zu epochs=%zu batch=%d train_s=%.2f train_images_per_s=%.1f "
           "infer_images_per_s=%.1f accuracy=%.4f train_gflops=%.1f infer_gflops=%.1f blas_core=%s\n",
           net, threads, ntr, ne, batch, train_s, train_ips, infer_ips, (double)hits / (double)nte,
           train_ips * ftrain / 1e9, infer_ips * ffwd / 1e9, openblas_get_corename());
    for (size_t e = 0; e < ne; e++)
        printf("EPOCH name=visbench-%s epoch=%zu loss=%.4f train_acc=%.4f seconds=%.2f\n", net, e + 1,
               ep[e].train_loss, ep[e].train_acc, ep[e].seconds);
    vb_cnn_free(cnn);
    vb_cnn_arch_free(&arch);
    vb_classifier_free(clf);
    vb_params_free(&p);
    vb_dataset_free(ds);
    free(Xtr);
    free(Xte);
    free(ytr);
    free(yte);
    free(pred);
    return 0;
}
