/* Writes the binary seeds of a fuzz target into a folder (fuzz/seeds.sh
 * calls it): mkseeds idx|cifar|image|csv DIR. Small, valid inputs of each
 * format, made here so that no binary file is committed. */
#include "visbench/visbench.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include <stb/stb_image_write.h>

static const char *dir;

static void put(const char *name, const void *data, size_t len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || (len && fwrite(data, 1, len, f) != len) || fclose(f) != 0) {
        fprintf(stderr, "mkseeds: cannot write %s\n", path);
        exit(1);
    }
}

/* data as a gzip stream in out (malloc'ed); returns its length. */
static size_t gzip(const uint8_t *data, size_t len, uint8_t **out)
{
    z_stream z = {0};
    size_t cap = len + 64;
    *out = malloc(cap);
    if (!*out || deflateInit2(&z, 9, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        exit(1);
    z.next_in = (uint8_t *)data;
    z.avail_in = (unsigned)len;
    z.next_out = *out;
    z.avail_out = (unsigned)cap;
    if (deflate(&z, Z_FINISH) != Z_STREAM_END)
        exit(1);
    deflateEnd(&z);
    return cap - z.avail_out;
}

static size_t be32(uint8_t *b, uint32_t v)
{
    b[0] = (uint8_t)(v >> 24), b[1] = (uint8_t)(v >> 16), b[2] = (uint8_t)(v >> 8), b[3] = (uint8_t)v;
    return 4;
}

/* fuzz/idx.c's input: 2 bytes L, L bytes of labels file, the images file. */
static void idx_seed(const char *name, int n, int rows, int cols, int gz)
{
    uint8_t lab[64], img[4096];
    size_t nl = be32(lab, 0x801), ni = be32(img, 0x803);
    nl += be32(lab + nl, (uint32_t)n);
    ni += be32(img + ni, (uint32_t)n);
    ni += be32(img + ni, (uint32_t)rows);
    ni += be32(img + ni, (uint32_t)cols);
    for (int i = 0; i < n; i++)
        lab[nl++] = (uint8_t)(i % 3);
    for (int i = 0; i < n * rows * cols; i++)
        img[ni++] = (uint8_t)(i * 29);
    uint8_t *zl = NULL, *zi = NULL;
    const uint8_t *pl = lab, *pi = img;
    if (gz) {
        nl = gzip(lab, nl, &zl);
        ni = gzip(img, ni, &zi);
        pl = zl;
        pi = zi;
    }
    uint8_t *b = malloc(2 + nl + ni);
    if (!b)
        exit(1);
    b[0] = (uint8_t)(nl >> 8);
    b[1] = (uint8_t)nl;
    memcpy(b + 2, pl, nl);
    memcpy(b + 2 + nl, pi, ni);
    put(name, b, 2 + nl + ni);
    free(b);
    free(zl);
    free(zi);
}

static void cifar_seed(const char *name, int records)
{
    uint8_t *b = malloc((size_t)records * 3073);
    if (!b)
        exit(1);
    for (int r = 0; r < records; r++) {
        b[(size_t)r * 3073] = (uint8_t)(r % 10);
        for (int i = 1; i < 3073; i++)
            b[(size_t)r * 3073 + (size_t)i] = (uint8_t)(i * 7 + r * 13);
    }
    put(name, b, (size_t)records * 3073);
    free(b);
}

static void write_fn(void *ctx, void *data, int size)
{
    put(ctx, data, (size_t)size);
}

static void image_seeds(void)
{
    enum { W = 7, H = 5 };
    uint8_t px[W * H * 4];
    for (int i = 0; i < W * H * 4; i++)
        px[i] = (uint8_t)(i * 37 + 11);
    for (int c = 1; c <= 4; c++) {
        char name[32];
        snprintf(name, sizeof name, "png%d.png", c);
        stbi_write_png_to_func(write_fn, name, W, H, c, px, W * c);
        snprintf(name, sizeof name, "bmp%d.bmp", c);
        stbi_write_bmp_to_func(write_fn, name, W, H, c, px);
        snprintf(name, sizeof name, "tga%d.tga", c);
        stbi_write_tga_to_func(write_fn, name, W, H, c, px);
        snprintf(name, sizeof name, "jpg%d.jpg", c);
        stbi_write_jpg_to_func(write_fn, name, W, H, c, px, 90);
    }
    float hdr[W * H * 3];
    for (int i = 0; i < W * H * 3; i++)
        hdr[i] = (float)i / 7.0f;
    stbi_write_hdr_to_func(write_fn, "img.hdr", W, H, 3, hdr);
    char pnm[256];
    int n = snprintf(pnm, sizeof pnm, "P5\n# seed\n%d %d\n255\n", W, H);
    memcpy(pnm + n, px, W * H);
    put("grey.pgm", pnm, (size_t)n + W * H);
    n = snprintf(pnm, sizeof pnm, "P6 2 2 65535\n");
    memcpy(pnm + n, px, 2 * 2 * 3 * 2);
    put("deep.ppm", pnm, (size_t)n + 24);
    static const uint8_t gif[] = {'G', 'I', 'F', '8', '9', 'a', 1, 0, 1, 0, 0x80, 0, 0, 0xff, 0xff, 0xff,
                                  0, 0, 0, '!', 0xf9, 4, 1, 0, 0, 0, 0, ',', 0, 0, 0, 0,
                                  1, 0, 1, 0, 0, 2, 2, 'D', 1, 0, ';'};
    put("dot.gif", gif, sizeof gif);
}

static void csv_seeds(void)
{
    static const char *const seeds[] = {
        "path,label\nimg/a.png,cat\nimg/b.png,dog\n",
        "img/a.png,cat\r\nimg/b.png,cat\r\n\"img/b.png\",\"d\"\"og\"\n# comment\n\n",
        "img/a.png,1\nimg/a.png,2\nimg/b.png,3\nimg/missing.png,3\n",
        "session,path,label,notes\ns1,img/a.png,cat,\"x, y\"\ns2,img/b.png,dog,\ns1,img/b.png,cat,z\n",
    };
    for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++) {
        char name[32];
        snprintf(name, sizeof name, "list%zu.csv", i);
        put(name, seeds[i], strlen(seeds[i]));
    }
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: mkseeds idx|cifar|image|csv DIR\n");
        return 2;
    }
    dir = argv[2];
    if (strcmp(argv[1], "idx") == 0) {
        idx_seed("plain", 3, 2, 3, 0);
        idx_seed("gz", 3, 2, 3, 1);
        idx_seed("one", 1, 28, 28, 0);
    } else if (strcmp(argv[1], "cifar") == 0) {
        cifar_seed("one.bin", 1);
        cifar_seed("three.bin", 3);
    } else if (strcmp(argv[1], "image") == 0)
        image_seeds();
    else if (strcmp(argv[1], "csv") == 0)
        csv_seeds();
    else {
        fprintf(stderr, "mkseeds: no binary seeds for '%s'\n", argv[1]);
        return 2;
    }
    return 0;
}
