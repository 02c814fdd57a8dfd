/* Multilabel label sets of a subset of a dataset. */
#include "visbench/data.h"

#include <string.h>

uint8_t *vb_dataset_label_rows(const vb_dataset *ds, const size_t *idx, size_t n, vb_error *err)
{
    size_t L = (size_t)ds->n_classes;
    uint8_t *Y = vb_malloc(n && L ? n : 1, L ? L : 1, err);
    if (!Y)
        return NULL;
    for (size_t i = 0; i < n; i++)
        memcpy(Y + i * L, ds->Y + idx[i] * L, L);
    return Y;
}
