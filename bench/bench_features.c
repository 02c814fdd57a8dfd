/* Feature extraction throughput on Fashion-MNIST's 10k test images.
 *
 *   bench_features [--threads N] [--size S] [--count N] [--repeat R] EXTRACTOR [PARAMS]
 *   bench_features --vlfeat-hog CELL [--size S] ...        (vl_hog called directly, one thread)
 *   bench_features --vlfeat-dsift STEP,BIN [--size S] ...  (vl_dsift, flat window of size 2, whole image,
 *                                                          one scale, descriptors and masses; one thread)
 *   bench_features --list                                  (the extractors in the registry)
 *
 * Images are decoded (and upscaled to S x S when --size is given) before
 * timing; the timed part is what `visbench run` does per image: 8-bit to
 * float conversion and extraction, in parallel over images. The best of R
 * repeats is reported as one line:
 *   RESULT name=hog threads=1 size=28 images=10000 seconds=... images_per_s=... mpix_per_s=...
 */
#include "visbench/pipeline.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <vl/dsift.h>
#include <vl/hog.h>

static vb_dataset *load_images(int size, size_t count, vb_error *err)
{
    vb_dataset *full = NULL;
    if (vb_dataset_load_path("datasets/fashion-mnist.yaml", &full, err) != VB_OK)
        return NULL;
    /* The official test part, upscaled when asked. */
    size_t n = 0;
    for (size_t i = 0; i < full->n; i++)
        n += full->part[i] == VB_PART_TEST;
    if (count && count < n)
        n = count;
    int side = size ? size : full->fixed_w;
    vb_dataset *ds = vb_dataset_new(n, 0, err);
    if (!ds || !(ds->block = vb_malloc(n, (size_t)side * side, err))) {
        vb_dataset_free(full);
        vb_dataset_free(ds);
        return NULL;
    }
    vb_image src = {0}, dst = {0};
    size_t j = 0;
    for (size_t i = 0; i < full->n && j < n; i++) {
        if (full->part[i] != VB_PART_TEST)
            continue;
        vb_dataset_image(full, i, &src, err);
        vb_image_resize(&src, side, side, &dst, err);
        uint8_t *px = ds->block + j * (size_t)side * side;
        for (int p = 0; p < side * side; p++) {
            float v = dst.data[p] * 255.0f + 0.5f;
            px[p] = v < 0 ? 0 : v > 255 ? 255 : (uint8_t)v;
        }
        ds->px[j] = px;
        ds->w[j] = ds->h[j] = (uint16_t)side;
        ds->c[j] = 1;
        ds->labels[j] = full->labels[i];
        j++;
    }
    free(src.data);
    free(dst.data);
    vb_dataset_free(full);
    ds->n_classes = 10;
    vb_dataset_finish(ds);
    return ds;
}

static void report(const char *name, int threads, int side, size_t n, double best)
{
    printf("RESULT name=%s threads=%d size=%d images=%zu seconds=%.4f images_per_s=%.1f mpix_per_s=%.2f\n", name,
           threads, side, n, best, (double)n / best, (double)n * side * side / best / 1e6);
}

int main(int argc, char **argv)
{
    int threads = 1, size = 0, repeat = 3, vlhog = 0, ds_step = 0, ds_bin = 0;
    size_t count = 0;
    const char *name = NULL, *params = "{}";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--list") == 0) {
            size_t n;
            const vb_extractor_vt *const *all = vb_extractor_registry(&n);
            for (size_t j = 0; j < n; j++)
                printf("%s\n", all[j]->info.name);
            return 0;
        }
        if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (strcmp(argv[i], "--size") == 0 && i + 1 < argc)
            size = atoi(argv[++i]);
        else if (strcmp(argv[i], "--count") == 0 && i + 1 < argc)
            count = (size_t)atol(argv[++i]);
        else if (strcmp(argv[i], "--repeat") == 0 && i + 1 < argc)
            repeat = atoi(argv[++i]);
        else if (strcmp(argv[i], "--vlfeat-hog") == 0 && i + 1 < argc) {
            vlhog = atoi(argv[++i]);
            name = "vlfeat-hog";
        } else if (strcmp(argv[i], "--vlfeat-dsift") == 0 && i + 1 < argc) {
            if (sscanf(argv[++i], "%d,%d", &ds_step, &ds_bin) != 2 || ds_step < 1 || ds_bin < 1) {
                fprintf(stderr, "bench_features: --vlfeat-dsift wants STEP,BIN\n");
                return 2;
            }
            name = "vlfeat-dsift";
        } else if (!name)
            name = argv[i];
        else
            params = argv[i];
    }
    if (!name) {
        fprintf(stderr, "usage: bench_features [--threads N] [--size S] [--count N] [--repeat R] EXTRACTOR [PARAMS]\n"
                        "       bench_features --vlfeat-hog CELL | --vlfeat-dsift STEP,BIN [--size S] [--count N]\n");
        return 2;
    }
    vb_set_threads(threads);
    vb_error err = {0};
    vb_dataset *ds = load_images(size, count, &err);
    if (!ds) {
        fprintf(stderr, "bench_features: %s\n", err.msg);
        return 1;
    }
    int side = ds->fixed_w;
    double best = 1e30;
    if (vlhog) {
        /* VLFeat's own HOG on float images, one thread: the library peer. */
        float *img = malloc((size_t)side * side * sizeof *img);
        VlHog *h = vl_hog_new(VlHogVariantUoctti, 9, VL_FALSE);
        vl_hog_put_image(h, img, (vl_size)side, (vl_size)side, 1, (vl_size)vlhog);
        float *out = malloc(vl_hog_get_width(h) * vl_hog_get_height(h) * vl_hog_get_dimension(h) * sizeof *out);
        for (int r = 0; r < repeat; r++) {
            double t0 = vb_now();
            for (size_t i = 0; i < ds->n; i++) {
                for (int p = 0; p < side * side; p++)
                    img[p] = ds->px[i][p] * (1.0f / 255.0f);
                vl_hog_put_image(h, img, (vl_size)side, (vl_size)side, 1, (vl_size)vlhog);
                vl_hog_extract(h, out);
            }
            double t = vb_now() - t0;
            best = t < best ? t : best;
        }
        report(name, 1, side, ds->n, best);
        vl_hog_delete(h);
        free(img);
        free(out);
        vb_dataset_free(ds);
        return 0;
    }
    if (ds_step) {
        /* VLFeat's dense SIFT on float images with a flat window, one
         * thread: the library peer of the sift extractor's descriptors. */
        float *img = malloc((size_t)side * side * sizeof *img);
        VlDsiftFilter *f = vl_dsift_new_basic(side, side, ds_step, ds_bin);
        vl_dsift_set_flat_window(f, VL_TRUE);
        vl_dsift_set_window_size(f, 2.0); /* VLFeat's default, stated: sift's row passes window_size: 2 */
        for (int r = 0; r < repeat; r++) {
            double t0 = vb_now();
            for (size_t i = 0; i < ds->n; i++) {
                for (int p = 0; p < side * side; p++)
                    img[p] = ds->px[i][p] * (1.0f / 255.0f);
                vl_dsift_process(f, img);
            }
            double t = vb_now() - t0;
            best = t < best ? t : best;
        }
        fprintf(stderr, "vl_dsift: %d descriptors per image\n", vl_dsift_get_keypoint_num(f));
        report(name, 1, side, ds->n, best);
        vl_dsift_delete(f);
        free(img);
        vb_dataset_free(ds);
        return 0;
    }
    const vb_extractor_vt *vt = vb_extractor_find(name);
    if (!vt) {
        fprintf(stderr, "bench_features: no extractor '%s'\n", name);
        return 1;
    }
    vb_spec_pipeline sp = {0};
    sp.name = (char *)name;
    sp.n_ext = 1;
    sp.ext = &vt;
    vb_params p;
    if (vb_params_parse_text(&p, &vt->info, params, &err) != VB_OK) {
        fprintf(stderr, "bench_features: %s\n", err.msg);
        return 1;
    }
    sp.ext_params = &p;
    vb_prep_chain_init(&sp.prep);
    vb_featpipe *fp = NULL;
    vb_shape in = {side, side, 1};
    if (vb_featpipe_new(&sp, in, &fp, &err) != VB_OK) {
        fprintf(stderr, "bench_features: %s\n", err.msg);
        return 1;
    }
    vb_dataset_view view;
    vb_imgsrc src;
    vb_imgsrc_dataset(&src, &view, ds, NULL, ds->n);
    if (vb_featpipe_needs_fit(fp) && vb_featpipe_fit(fp, &src, 1, &err) != VB_OK) {
        fprintf(stderr, "bench_features: %s\n", err.msg);
        return 1;
    }
    float *out = malloc(ds->n * fp->dim * sizeof *out);
    for (int r = 0; r < repeat; r++) {
        double t0 = vb_now();
        if (vb_featpipe_extract(fp, &src, out, "bench", &err) != VB_OK) {
            fprintf(stderr, "bench_features: %s\n", err.msg);
            return 1;
        }
        double t = vb_now() - t0;
        best = t < best ? t : best;
    }
    report(name, threads, side, ds->n, best);
    free(out);
    vb_featpipe_free(fp);
    vb_params_free(&p);
    vb_dataset_free(ds);
    return 0;
}
