/* Embedding visbench: load a trained model and classify images.
 *
 *   visbench train pipelines/quickstart.yaml --pipeline hog-svm -o hog.vbm
 *   cc examples/predict.c $(pkg-config --cflags --libs visbench) -o predict
 *   ./predict hog.vbm shirt.png boot.jpg
 */
#include <visbench/visbench.h>

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s MODEL IMAGE...\n", argv[0]);
        return 2;
    }
    vb_error err = {0};
    vb_model *model = NULL;
    if (vb_model_load(argv[1], &model, &err) != VB_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    int n = vb_model_n_classes(model), status = 0;
    float *scores = malloc((size_t)n * sizeof *scores);
    if (!scores) {
        vb_model_free(model);
        return 1;
    }
    for (int i = 2; i < argc; i++) {
        int label;
        if (vb_model_predict_file(model, argv[i], &label, scores, &err) != VB_OK) {
            fprintf(stderr, "%s\n", err.msg);
            status = 1;
            continue;
        }
        printf("%s: %s (%s %.3f)\n", argv[i], vb_model_class_name(model, label),
               vb_model_has_probabilities(model) ? "probability" : "score", scores[label]);
    }
    free(scores);
    vb_model_free(model);
    return status;
}
