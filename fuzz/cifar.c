/* Fuzz target: the CIFAR-10 loader on one training batch. */
#include "fuzz.h"

#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char p[128];
    mkdir(fuzz_path(p, sizeof p, "cf"), 0755);
    fuzz_write(fuzz_path(p, sizeof p, "cf/b.bin"), data, size);
    size_t n = fuzz_load_dataset("format: cifar10\npath: cf\ntrain_files: [b.bin]\ntest_files: []\n", 0);
    FUZZ_REQUIRE(n == 0 || n * 3073 == size, "%zu records from %zu bytes", n, size);
    return 0;
}
