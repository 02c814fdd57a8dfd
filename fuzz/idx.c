/* Fuzz target: the IDX loader. The input is a label file of L bytes and
 * an image file (the rest), L in the first two bytes (big-endian); either
 * may be gzip data. */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    size_t nl = (size_t)data[0] << 8 | data[1];
    data += 2;
    size -= 2;
    nl = nl < size ? nl : size;
    char p[128];
    fuzz_write(fuzz_path(p, sizeof p, "labels"), data, nl);
    fuzz_write(fuzz_path(p, sizeof p, "images"), data + nl, size - nl);
    fuzz_load_dataset("format: idx\ntrain_images: images\ntrain_labels: labels\n", 0);
    return 0;
}
