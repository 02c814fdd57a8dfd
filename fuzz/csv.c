/* Fuzz target: the CSV manifest loader. The manifest may name img/a.png
 * and img/b.png (two small images made at start-up) or anything else. It
 * is loaded plain and with a group column (group: session). */
#include "fuzz.h"

#include <sys/stat.h>

static void make_images(void)
{
    char p[128];
    mkdir(fuzz_path(p, sizeof p, "img"), 0755);
    for (int k = 0; k < 2; k++) {
        vb_image *img = vb_image_new(4, 3, k ? 3 : 1, NULL);
        if (!img)
            abort();
        for (int i = 0; i < 4 * 3 * img->c; i++)
            img->data[i] = (float)((i * 37 + k * 11) % 256) / 255.0f;
        if (vb_image_save_png(img, fuzz_path(p, sizeof p, k ? "img/b.png" : "img/a.png"), NULL) != VB_OK)
            abort();
        vb_image_free(img);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        make_images();
        ready = 1;
    }
    char p[128];
    fuzz_write(fuzz_path(p, sizeof p, "list.csv"), data, size);
    fuzz_load_dataset("format: csv\npath: list.csv\n", 1);
    fuzz_load_dataset("format: csv\npath: list.csv\ngroup: session\n", 1);
    return 0;
}
