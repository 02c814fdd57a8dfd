/* Fuzz target: image decoding (our header checks, then stb_image, which
 * make fuzz compiles in with the sanitizers), from memory and through the
 * probe that reads a file's header. */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *px = (uint8_t *)1;
    int w = 0, h = 0, c = 0;
    vb_error err = {0};
    vb_status st = vb_image_decode_u8_memory(data, size, "fuzz.img", &px, &w, &h, &c, &err);
    if (st == VB_OK) {
        FUZZ_REQUIRE(px && w > 0 && h > 0 && (c == 1 || c == 3), "decoded %dx%dx%d", w, h, c);
        FUZZ_REQUIRE((size_t)w * (size_t)h <= VB_IMAGE_MAX_PIXELS, "decoded %dx%d", w, h);
        unsigned sum = 0; /* every pixel is there (ASan checks) */
        for (size_t i = 0; i < (size_t)w * (size_t)h * (size_t)c; i++)
            sum += px[i];
        FUZZ_REQUIRE(sum <= 255u * (size_t)w * (size_t)h * (size_t)c, "pixels above 255");
        free(px);
    } else {
        FUZZ_REQUIRE(px == NULL, "pixels despite '%s'", err.msg);
        fuzz_require_named(st, &err, "fuzz.img");
    }
    char p[128];
    fuzz_write(fuzz_path(p, sizeof p, "probe"), data, size);
    int is_image = -1;
    st = vb_image_probe(p, &is_image, &err);
    FUZZ_REQUIRE(st == VB_OK && (is_image == 0 || is_image == 1), "probe: %d, %d", (int)st, is_image);
    return 0;
}
