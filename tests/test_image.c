/* image: shapes, 8-bit conversion, PNG round trips, decoding errors,
 * resizing and colour conversion. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "support/testutil.h"
#include "visbench/image.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <stb/stb_image_write.h>

/* ---- shapes ------------------------------------------------------------ */

static void test_new_rejects_bad_shapes(void **state)
{
    static const int bad[][3] = {{0, 4, 1},  {4, 0, 1},      {-1, 4, 1}, {4, -3, 3}, {32769, 1, 1},
                                 {1, 32769, 3}, {4, 4, 2},   {4, 4, 0},  {4, 4, 4},  {4, 4, -1}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        vb_error err = {0};
        vb_image *img = vb_image_new(bad[i][0], bad[i][1], bad[i][2], &err);
        assert_null(img);
        assert_int_equal(err.status, VB_ERR_PARAM);
        char want[80];
        snprintf(want, sizeof want, "invalid image shape %dx%dx%d", bad[i][0], bad[i][1], bad[i][2]);
        assert_string_equal(err.msg, want);
    }
    assert_null(vb_image_new(0, 0, 1, NULL)); /* no error slot: still NULL */

    vb_error err = {0};
    vb_image *img = vb_image_new(VB_IMAGE_MAX_SIDE, 1, 1, &err); /* the limit itself is fine */
    assert_non_null(img);
    vb_image_free(img);
    img = vb_image_new(3, 2, 3, &err);
    assert_non_null(img);
    assert_int_equal(img->w, 3);
    assert_int_equal(img->h, 2);
    assert_int_equal(img->c, 3);
    for (int i = 0; i < 18; i++)
        assert_true(img->data[i] == 0.0f); /* zeroed */
    assert_ptr_equal(vb_image_plane(img, 2), img->data + 12);
    vb_image_free(img);
    vb_image_free(NULL);
}

static void test_reshape_and_clone(void **state)
{
    vb_error err = {0};
    vb_image *img = vb_image_new(2, 3, 1, &err);
    for (int i = 0; i < 6; i++)
        img->data[i] = (float)i;
    float *before = img->data;
    assert_int_equal(vb_image_reshape(img, 3, 2, 1, &err), VB_OK); /* same size: buffer kept */
    assert_ptr_equal(img->data, before);
    assert_int_equal(img->w, 3);
    assert_int_equal(img->h, 2);
    assert_int_equal(vb_image_reshape(img, 3, 2, 2, &err), VB_ERR_PARAM);
    assert_int_equal(img->w, 3); /* unchanged after a failure */
    assert_int_equal(img->c, 1);
    assert_int_equal(vb_image_reshape(img, 5, 4, 3, &err), VB_OK);
    assert_int_equal(img->w * img->h * img->c, 60);
    img->data[59] = 7.0f; /* the new buffer is large enough (ASan checks) */

    vb_image *c = vb_image_clone(img, &err);
    assert_non_null(c);
    assert_int_equal(c->w, 5);
    assert_int_equal(c->h, 4);
    assert_int_equal(c->c, 3);
    assert_true(c->data != img->data);
    assert_true(c->data[59] == 7.0f);
    c->data[59] = 1.0f;
    assert_true(img->data[59] == 7.0f); /* independent */
    vb_image_free(c);
    vb_image_free(img);

    /* Reshaping an image with no buffer yet (as vb_image_load does). */
    vb_image empty = {0};
    assert_int_equal(vb_image_reshape(&empty, 2, 2, 3, &err), VB_OK);
    assert_non_null(empty.data);
    free(empty.data);
}

/* ---- 8-bit conversion -------------------------------------------------- */

static void test_from_u8_layout(void **state)
{
    /* A 3-wide, 2-high RGB image, interleaved HWC; every byte distinct, and
     * the three values the brief pins exactly: 0, 255 and 128. */
    const uint8_t px[2 * 3 * 3] = {
        0,  255, 128, /* (x0,y0) */ 10, 11, 12, /* (x1,y0) */ 20, 21, 22, /* (x2,y0) */
        30, 31,  32,  /* (x0,y1) */ 40, 41, 42, /* (x1,y1) */ 50, 51, 52, /* (x2,y1) */
    };
    vb_error err = {0};
    vb_image img = {0};
    assert_int_equal(vb_image_from_u8(px, 3, 2, 3, &img, &err), VB_OK);
    assert_int_equal(img.w, 3);
    assert_int_equal(img.h, 2);
    assert_int_equal(img.c, 3);
    /* Planar CHW: plane k holds channel k row by row. */
    const float *r = vb_image_plane(&img, 0), *g = vb_image_plane(&img, 1), *b = vb_image_plane(&img, 2);
    assert_true(r[0] == 0.0f);
    assert_true(g[0] == 1.0f);
    assert_true(b[0] == 128.0f / 255.0f);
    for (int y = 0; y < 2; y++)
        for (int x = 0; x < 3; x++)
            for (int k = 0; k < 3; k++) {
                uint8_t v = px[(y * 3 + x) * 3 + k];
                float got = vb_image_plane(&img, k)[y * 3 + x];
                if (fabsf(got - (float)v / 255.0f) > 1e-7f)
                    fail_msg("pixel (%d,%d) channel %d: %g, expected %d/255", x, y, k, got, v);
            }
    /* Spot checks of the placement, in plain numbers: */
    assert_float_equal(r[4], 40.0 / 255, 1e-7); /* (x1,y1) red */
    assert_float_equal(g[2], 21.0 / 255, 1e-7); /* (x2,y0) green */
    assert_float_equal(b[3], 32.0 / 255, 1e-7); /* (x0,y1) blue */

    /* Grey: every value 0..255 lands in [0, 1] and is monotonic. */
    uint8_t ramp[256];
    for (int i = 0; i < 256; i++)
        ramp[i] = (uint8_t)i;
    assert_int_equal(vb_image_from_u8(ramp, 16, 16, 1, &img, &err), VB_OK);
    assert_int_equal(img.c, 1);
    for (int i = 1; i < 256; i++)
        assert_true(img.data[i] > img.data[i - 1]);
    assert_true(img.data[0] == 0.0f && img.data[255] == 1.0f);
    assert_true(img.data[128] == 128.0f / 255.0f);

    assert_int_equal(vb_image_from_u8(ramp, 8, 8, 2, &img, &err), VB_ERR_PARAM);
    free(img.data);
}

/* ---- PNG files --------------------------------------------------------- */

static uint8_t *random_bytes(size_t n, uint64_t seed)
{
    vb_rng *r = vb_rng_new(seed);
    uint8_t *p = malloc(n);
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)vb_rng_below(r, 256);
    vb_rng_free(r);
    return p;
}

static void round_trip(int w, int h, int c, const char *path)
{
    size_t n = (size_t)w * (size_t)h * (size_t)c;
    uint8_t *px = random_bytes(n, (uint64_t)(w * 131 + c));
    px[0] = 0;
    px[n - 1] = 255;
    vb_error err = {0};
    vb_image img = {0};
    assert_int_equal(vb_image_from_u8(px, w, h, c, &img, &err), VB_OK);
    assert_int_equal(vb_image_save_png(&img, path, &err), VB_OK);

    uint8_t *back = NULL;
    int bw = 0, bh = 0, bc = 0;
    assert_int_equal(vb_image_decode_u8(path, &back, &bw, &bh, &bc, &err), VB_OK);
    assert_int_equal(bw, w);
    assert_int_equal(bh, h);
    assert_int_equal(bc, c);
    assert_memory_equal(back, px, n);
    free(back);

    /* vb_image_load gives the same floats as vb_image_from_u8. */
    vb_image *loaded = NULL;
    assert_int_equal(vb_image_load(path, &loaded, &err), VB_OK);
    assert_int_equal(loaded->w, w);
    assert_int_equal(loaded->c, c);
    assert_memory_equal(loaded->data, img.data, n * sizeof(float));
    vb_image_free(loaded);

    /* And from memory. */
    size_t len = 0;
    char *file = tu_read_file(path, &len);
    assert_int_equal(vb_image_decode_u8_memory(file, len, "mem.png", &back, &bw, &bh, &bc, &err), VB_OK);
    assert_int_equal(bc, c);
    assert_memory_equal(back, px, n);
    free(back);
    free(file);
    free(img.data);
    free(px);
}

static void test_png_round_trip(void **state)
{
    round_trip(17, 9, 1, "grey.png");
    round_trip(7, 12, 3, "rgb.png");
    round_trip(1, 1, 1, "one.png");
}

static void test_alpha_is_dropped(void **state)
{
    /* 3x2 RGBA and grey+alpha files written by stb directly. */
    uint8_t rgba[3 * 2 * 4], ga[3 * 2 * 2];
    for (int i = 0; i < 6; i++) {
        rgba[i * 4 + 0] = (uint8_t)(10 * i);
        rgba[i * 4 + 1] = (uint8_t)(10 * i + 1);
        rgba[i * 4 + 2] = (uint8_t)(10 * i + 2);
        rgba[i * 4 + 3] = (uint8_t)(i * 40); /* alpha: must not leak into any channel */
        ga[i * 2 + 0] = (uint8_t)(200 + i);
        ga[i * 2 + 1] = (uint8_t)(i * 7);
    }
    assert_true(stbi_write_png("rgba.png", 3, 2, 4, rgba, 3 * 4));
    assert_true(stbi_write_png("ga.png", 3, 2, 2, ga, 3 * 2));

    vb_error err = {0};
    uint8_t *px = NULL;
    int w, h, c;
    assert_int_equal(vb_image_decode_u8("rgba.png", &px, &w, &h, &c, &err), VB_OK);
    assert_int_equal(w, 3);
    assert_int_equal(h, 2);
    assert_int_equal(c, 3);
    for (int i = 0; i < 6; i++)
        for (int k = 0; k < 3; k++)
            assert_int_equal(px[i * 3 + k], rgba[i * 4 + k]);
    free(px);
    assert_int_equal(vb_image_decode_u8("ga.png", &px, &w, &h, &c, &err), VB_OK);
    assert_int_equal(c, 1);
    for (int i = 0; i < 6; i++)
        assert_int_equal(px[i], 200 + i);
    free(px);

    vb_image *img = NULL;
    assert_int_equal(vb_image_load("rgba.png", &img, &err), VB_OK);
    assert_int_equal(img->c, 3);
    assert_float_equal(vb_image_plane(img, 2)[5], 52.0 / 255, 1e-7);
    vb_image_free(img);
}

static void test_decode_errors(void **state)
{
    /* A valid PNG cut in half. */
    int w = 64, h = 64;
    uint8_t *px = random_bytes((size_t)w * h * 3, 5);
    assert_true(stbi_write_png("whole.png", w, h, 3, px, w * 3));
    free(px);
    size_t len = 0;
    char *bytes = tu_read_file("whole.png", &len);
    assert_true(len > 1000);
    tu_write_file("cut.png", bytes, len / 2);

    vb_error err = {0};
    uint8_t *out = (uint8_t *)1;
    int ow, oh, oc;
    assert_int_equal(vb_image_decode_u8("cut.png", &out, &ow, &oh, &oc, &err), VB_ERR_FORMAT);
    assert_null(out);
    assert_int_equal(err.status, VB_ERR_FORMAT);
    /* (its IDAT chunk claims more bytes than are left) */
    assert_memory_equal(err.msg, "cut.png: truncated PNG: an IDAT chunk claims ", 44);
    tu_assert_fails_with(VB_ERR_FORMAT, err, " left; remove or replace the file");
    vb_image *img = (vb_image *)1;
    assert_int_equal(vb_image_load("cut.png", &img, &err), VB_ERR_FORMAT);
    assert_null(img);
    assert_memory_equal(err.msg, "cut.png: truncated PNG: ", 24);
    assert_int_equal(vb_image_decode_u8_memory(bytes, len / 2, "blob#3", &out, &ow, &oh, &oc, &err),
                     VB_ERR_FORMAT);
    assert_memory_equal(err.msg, "blob#3: truncated PNG: ", 23);
    free(bytes);

    /* Text is not an image. */
    tu_write_text("notes.png", "these are not the pixels you are looking for\n");
    assert_int_equal(vb_image_decode_u8("notes.png", &out, &ow, &oh, &oc, &err), VB_ERR_FORMAT);
    assert_memory_equal(err.msg, "notes.png: not a readable image (", 33);
    tu_write_file("empty.png", "", 0);
    assert_int_equal(vb_image_decode_u8("empty.png", &out, &ow, &oh, &oc, &err), VB_ERR_FORMAT);

    /* A missing file is an I/O error. */
    assert_int_equal(vb_image_decode_u8("missing.png", &out, &ow, &oh, &oc, &err), VB_ERR_IO);
    char want[200];
    snprintf(want, sizeof want, "missing.png: cannot open: %s", strerror(ENOENT));
    assert_string_equal(err.msg, want);
    assert_int_equal(vb_image_load("missing.png", &img, &err), VB_ERR_IO);

    /* A decodable image wider than VB_IMAGE_MAX_SIDE is refused. */
    uint8_t *row = calloc(VB_IMAGE_MAX_SIDE + 1, 1);
    assert_true(stbi_write_png("wide.png", VB_IMAGE_MAX_SIDE + 1, 1, 1, row, VB_IMAGE_MAX_SIDE + 1));
    free(row);
    assert_int_equal(vb_image_decode_u8("wide.png", &out, &ow, &oh, &oc, &err), VB_ERR_FORMAT);
    assert_null(out);
    assert_string_equal(err.msg, "wide.png: unsupported image size 32769x1 (at most 32768 pixels a side and 33554432 "
                                 "pixels in all)");
}

/* vb_image_probe's answer, for a probe that must not fail */
static int probe(const char *path)
{
    int is_image = -1;
    vb_error err = {0};
    assert_int_equal(vb_image_probe(path, &is_image, &err), VB_OK);
    assert_true(is_image == 0 || is_image == 1);
    return is_image;
}

/* A PNG of a few dozen bytes whose header claims w x h pixels (stb_image
 * checks no CRC, and needs no pixel data to read the header). */
static void write_png_header(const char *path, uint32_t w, uint32_t h, int bits, int color)
{
    uint8_t b[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n',
                   0, 0, 0, 13, 'I', 'H', 'D', 'R', (uint8_t)(w >> 24), (uint8_t)(w >> 16), (uint8_t)(w >> 8),
                   (uint8_t)w, (uint8_t)(h >> 24), (uint8_t)(h >> 16), (uint8_t)(h >> 8), (uint8_t)h,
                   (uint8_t)bits, (uint8_t)color, 0, 0, 0, 0, 0, 0, 0,
                   0, 0, 0, 8, 'I', 'D', 'A', 'T', 0x78, 0x9c, 0x03, 0, 0, 0, 0, 1, 0, 0, 0, 0,
                   0, 0, 0, 0, 'I', 'E', 'N', 'D', 0, 0, 0, 0};
    tu_write_file(path, b, sizeof b);
}

/* The size a header claims is checked before stb_image decodes (and
 * allocates): 16000 x 16000 grey at 16 bits once cost over 0.5 GB before
 * the "unsupported size" error (stb_image itself stops at 2^30 bytes of
 * 8-bit samples). */

static void test_decode_checks_claimed_size(void **state)
{
    write_png_header("claim.png", 16000, 16000, 16, 0);
    uint8_t *out = (uint8_t *)1;
    int ow, oh, oc;
    vb_error err = {0};
    assert_int_equal(vb_image_decode_u8("claim.png", &out, &ow, &oh, &oc, &err), VB_ERR_FORMAT);
    assert_null(out);
    assert_string_equal(err.msg, "claim.png: unsupported image size 16000x16000 (at most 32768 pixels a side and "
                                 "33554432 pixels in all)");
    /* the same from memory, and a side within limits but too many pixels */
    write_png_header("claim.png", 32768, 1025, 8, 0);
    size_t len;
    char *bytes = tu_read_file("claim.png", &len);
    assert_int_equal(vb_image_decode_u8_memory(bytes, len, "blob", &out, &ow, &oh, &oc, &err), VB_ERR_FORMAT);
    assert_string_equal(err.msg, "blob: unsupported image size 32768x1025 (at most 32768 pixels a side and "
                                 "33554432 pixels in all)");
    free(bytes);
    /* stb_image puts an unknown critical chunk's type bytes into its
     * reason: the message stays one printable line (found by make fuzz) */
    write_png_header("claim.png", 7, 5, 8, 6);
    bytes = tu_read_file("claim.png", &len);
    memcpy(bytes + 37, "\x1a\nAB", 4); /* the IDAT chunk's type */
    assert_int_equal(vb_image_decode_u8_memory(bytes, len, "chunk", &out, &ow, &oh, &oc, &err), VB_ERR_FORMAT);
    assert_string_equal(err.msg, "chunk: not a readable image (??AB PNG chunk not known)");
    free(bytes);
    write_png_header("claim.png", 32768, 1025, 8, 0);
    /* the probe still sees an image (its size is an error when decoded) */
    assert_true(probe("claim.png"));
    /* at the limit the header passes, and the missing pixels are the error */
    write_png_header("claim.png", 8192, 4096, 8, 0);
    assert_int_equal(vb_image_decode_u8("claim.png", &out, &ow, &oh, &oc, &err), VB_ERR_FORMAT);
    assert_memory_equal(err.msg, "claim.png: not a readable image (", 33);
}

/* Input that is undefined behaviour inside stb_image 2.27 is refused before
 * it gets there (under SANITIZE=1 stb_image is compiled in and checked, so
 * these once gave UBSan reports): a JPEG Huffman table with more than 256
 * codes, and PNM header numbers that overflow an int. */
static void test_stb_undefined_inputs(void **state)
{
    /* SOI, a DHT of 16 counts of 32 (512 codes) and their values, EOI */
    unsigned char jpg[2 + 4 + 17 + 512 + 2] = {0xff, 0xd8, 0xff, 0xc4, 0x02, 0x13, 0x00};
    for (int i = 0; i < 16; i++)
        jpg[7 + i] = 32;
    jpg[sizeof jpg - 2] = 0xff;
    jpg[sizeof jpg - 1] = 0xd9;
    tu_write_file("dht.jpg", jpg, sizeof jpg);
    uint8_t *out = (uint8_t *)1;
    int ow, oh, oc;
    vb_error err = {0};
    assert_int_equal(vb_image_decode_u8("dht.jpg", &out, &ow, &oh, &oc, &err), VB_ERR_FORMAT);
    assert_null(out);
    assert_string_equal(err.msg, "dht.jpg: corrupt JPEG: a Huffman table (DHT) lists more than 256 codes; remove or "
                                 "replace the file");
    assert_int_equal(vb_image_decode_u8_memory(jpg, sizeof jpg, "blob", &out, &ow, &oh, &oc, &err), VB_ERR_FORMAT);
    assert_string_equal(err.msg, "blob: corrupt JPEG: a Huffman table (DHT) lists more than 256 codes");
    assert_false(probe("dht.jpg"));
    /* a table of 256 codes is fine as far as we are concerned (stb_image
     * then judges the file: here it has no frame) */
    for (int i = 0; i < 16; i++)
        jpg[7 + i] = 16;
    assert_int_equal(vb_image_decode_u8_memory(jpg, 2 + 4 + 17 + 256, "ok", &out, &ow, &oh, &oc, &err),
                     VB_ERR_FORMAT);
    assert_memory_equal(err.msg, "ok: not a readable image (", 26);

    static const char *const pnm[] = {"P5 99999999999 1 255\n", "P6\n# a comment 9999999999\n1 99999999999 255\n",
                                      "P5 1 1 4294967297\n\x01", "P5 32769 1 255\n"};
    for (size_t i = 0; i < sizeof pnm / sizeof pnm[0]; i++) {
        tu_write_file("big.pgm", pnm[i], strlen(pnm[i]));
        assert_int_equal(vb_image_decode_u8("big.pgm", &out, &ow, &oh, &oc, &err), VB_ERR_FORMAT);
        assert_string_equal(err.msg, "big.pgm: corrupt PNM header: a side over 32768 or a maximum value over 65535; "
                                     "remove or replace the file");
        assert_false(probe("big.pgm"));
    }
    /* a PNG whose first IDAT chunk is empty (stb_image would add its
     * offset to a null pointer); an empty IDAT after one with data is fine */
    uint8_t px[6] = {10, 20, 30, 40, 50, 60};
    assert_true(stbi_write_png("idat.png", 3, 2, 1, px, 3));
    size_t plen;
    uint8_t *png = (uint8_t *)tu_read_file("idat.png", &plen);
    size_t at_idat = 0;
    for (size_t i = 8; i + 4 <= plen && !at_idat; i++)
        if (memcmp(png + i, "IDAT", 4) == 0)
            at_idat = i - 4;
    assert_true(at_idat > 8);
    uint32_t n_idat = (uint32_t)png[at_idat] << 24 | (uint32_t)png[at_idat + 1] << 16 |
                      (uint32_t)png[at_idat + 2] << 8 | png[at_idat + 3];
    const uint8_t empty[12] = {0, 0, 0, 0, 'I', 'D', 'A', 'T', 0x35, 0xaf, 0x06, 0x1e};
    for (int after = 0; after < 2; after++) {
        size_t cut = after ? at_idat + 12 + n_idat : at_idat;
        uint8_t *spliced = malloc(plen + 12);
        assert_non_null(spliced);
        memcpy(spliced, png, cut);
        memcpy(spliced + cut, empty, 12);
        memcpy(spliced + cut + 12, png + cut, plen - cut);
        vb_status st = vb_image_decode_u8_memory(spliced, plen + 12, "idat", &out, &ow, &oh, &oc, &err);
        if (after) {
            assert_int_equal(st, VB_OK);
            assert_int_equal(ow * oh * oc, 6);
            assert_memory_equal(out, px, 6);
            free(out);
        } else {
            assert_int_equal(st, VB_ERR_FORMAT);
            assert_null(out);
            assert_string_equal(err.msg, "idat: corrupt PNG: the first IDAT chunk is empty");
        }
        free(spliced);
    }
    /* an IDAT that claims more than the file holds: stb_image grew its
     * buffer to the claim (2 GiB) before reading (found by make fuzz) */
    size_t keep = at_idat + 12 + n_idat;
    uint8_t *lying = malloc(keep + 12);
    assert_non_null(lying);
    memcpy(lying, png, keep);
    memcpy(lying + keep, "\x78\x00\x00\x1dIDATx^EN", 12);
    assert_int_equal(vb_image_decode_u8_memory(lying, keep + 12, "lying", &out, &ow, &oh, &oc, &err), VB_ERR_FORMAT);
    assert_null(out);
    assert_string_equal(err.msg, "lying: truncated PNG: an IDAT chunk claims 2013265949 bytes, the file has 4 left");
    free(lying);
    free(png);
    /* numbers in a comment do not count, and a good header decodes */
    const char good[] = "P5\n# 99999999999\n2 1\n255\n\x10\x20";
    tu_write_file("good.pgm", good, sizeof good - 1);
    assert_int_equal(vb_image_decode_u8("good.pgm", &out, &ow, &oh, &oc, &err), VB_OK);
    assert_int_equal(ow, 2);
    assert_int_equal(oh, 1);
    assert_int_equal(out[1], 0x20);
    free(out);
}

/* A PNM file with fewer pixel bytes than its header promises (stb_image
 * 2.27 returns such pixels uninitialised) or a maximum value of 0 is
 * corrupt. */
static void test_pnm_truncated(void **state)
{
    uint8_t *out = NULL;
    int ow, oh, oc;
    vb_error err = {0};
    static const struct {
        const char *data, *msg;
    } bad[] = {
        {"P5 4 4 255\n0123456789", "truncated PNM: the header promises 16 bytes of pixels, the file holds 10"},
        {"P6 2 1 65535\n01234567890", "truncated PNM: the header promises 12 bytes of pixels, the file holds 11"},
        {"P5 16 16\n", "corrupt PNM header: the maximum value is 0 or missing"},
        {"P5 1 1 0\n\x01", "corrupt PNM header: the maximum value is 0 or missing"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tu_write_file("bad.pgm", bad[i].data, strlen(bad[i].data));
        assert_int_equal(vb_image_decode_u8("bad.pgm", &out, &ow, &oh, &oc, &err), VB_ERR_FORMAT);
        char want[200];
        snprintf(want, sizeof want, "bad.pgm: %s; remove or replace the file", bad[i].msg);
        assert_string_equal(err.msg, want);
    }
    tu_write_file("whole.pgm", "P6 2 1 65535\n012345678901", 25);
    assert_int_equal(vb_image_decode_u8("whole.pgm", &out, &ow, &oh, &oc, &err), VB_OK);
    free(out);
}

/* A FIFO is not read (that waits for a writer, forever): decoding refuses
 * it and the probe says it is no image. An alarm fails the test where it
 * would hang. */
static void test_fifo_not_read(void **state)
{
    uint8_t *out = NULL;
    int ow, oh, oc;
    vb_error err = {0};
    assert_int_equal(mkfifo("pipe.png", 0644), 0);
    alarm(30);
    int is_image = 1;
    assert_int_equal(vb_image_probe("pipe.png", &is_image, &err), VB_OK);
    assert_int_equal(is_image, 0);
    assert_int_equal(vb_image_decode_u8("pipe.png", &out, &ow, &oh, &oc, &err), VB_ERR_FORMAT);
    assert_string_equal(err.msg, "pipe.png: not a regular file; remove or replace it");
    alarm(0);
    unlink("pipe.png");
}

static void test_probe(void **state)
{
    uint8_t px[4] = {1, 2, 3, 4};
    assert_true(stbi_write_png("p.png", 2, 2, 1, px, 2));
    assert_true(probe("p.png"));
    tu_write_text("p.txt", "hello");
    assert_false(probe("p.txt"));
    assert_false(probe("p-missing.png"));
    tu_write_file("p-empty.png", "", 0);
    assert_false(probe("p-empty.png"));
    /* a PNG larger than the probe reads: its one IDAT chunk runs past the
     * prefix, which is no truncation (only a decode checks that) */
    size_t side = 1100;
    uint8_t *noise = malloc(side * side);
    assert_non_null(noise);
    uint32_t x = 12345;
    for (size_t i = 0; i < side * side; i++) {
        x = x * 1664525u + 1013904223u;
        noise[i] = (uint8_t)(x >> 24);
    }
    assert_true(stbi_write_png("p-big.png", (int)side, (int)side, 1, noise, (int)side));
    free(noise);
    struct stat big;
    assert_int_equal(stat("p-big.png", &big), 0);
    assert_true(big.st_size > (1 << 20));
    assert_true(probe("p-big.png"));
    /* a file that cannot be read is an error, never "not an image" (a
     * caller would skip it): a directory opens, and reading it fails */
    assert_int_equal(mkdir("p-dir.png", 0755), 0);
    int is_image = 1;
    vb_error err = {0};
    assert_int_equal(vb_image_probe("p-dir.png", &is_image, &err), VB_ERR_IO);
    assert_int_equal(is_image, 0);
    assert_string_equal(err.msg, "p-dir.png: read error; check the disk and the file");
    rmdir("p-dir.png");
}

static void test_save_png_clamps(void **state)
{
    vb_error err = {0};
    vb_image *img = vb_image_new(5, 1, 1, &err);
    img->data[0] = -0.5f;
    img->data[1] = 1.5f;
    img->data[2] = NAN; /* nothing to show: black, not undefined behaviour */
    img->data[3] = 0.5f;
    img->data[4] = 1.0f / 255.0f * 0.49f; /* rounds down to 0 */
    assert_int_equal(vb_image_save_png(img, "clamp.png", &err), VB_OK);
    uint8_t *px = NULL;
    int w, h, c;
    assert_int_equal(vb_image_decode_u8("clamp.png", &px, &w, &h, &c, &err), VB_OK);
    const uint8_t want[5] = {0, 255, 0, 128, 0};
    assert_memory_equal(px, want, 5);
    free(px);
    assert_int_equal(vb_image_save_png(img, "no-such-dir/x.png", &err), VB_ERR_IO);
    assert_string_equal(err.msg, "no-such-dir/x.png: cannot create the file: No such file or directory");
    vb_image_free(img);
}

/* ---- resize ------------------------------------------------------------ */

static void test_resize(void **state)
{
    vb_error err = {0};
    vb_image *src = vb_image_new(37, 23, 3, &err);
    for (int i = 0; i < 37 * 23 * 3; i++)
        src->data[i] = 0.37f;
    vb_image dst = {0};
    static const int sizes[][2] = {{10, 7}, {80, 50}, {37, 5}, {1, 1}, {64, 23}};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        assert_int_equal(vb_image_resize(src, sizes[s][0], sizes[s][1], &dst, &err), VB_OK);
        assert_int_equal(dst.w, sizes[s][0]);
        assert_int_equal(dst.h, sizes[s][1]);
        assert_int_equal(dst.c, 3);
        for (int i = 0; i < dst.w * dst.h * 3; i++)
            if (fabsf(dst.data[i] - 0.37f) > 1e-6f)
                fail_msg("constant image resized to %dx%d: %g at %d", dst.w, dst.h, dst.data[i], i);
    }

    /* Same size: an exact copy. */
    for (int i = 0; i < 37 * 23 * 3; i++)
        src->data[i] = (float)((i * 7919) % 1000) / 999.0f;
    assert_int_equal(vb_image_resize(src, 37, 23, &dst, &err), VB_OK);
    assert_memory_equal(dst.data, src->data, 37 * 23 * 3 * sizeof(float));

    /* 2x down of a horizontal ramp: still increasing along x, equal rows. */
    vb_image *ramp = vb_image_new(32, 8, 1, &err);
    for (int y = 0; y < 8; y++)
        for (int x = 0; x < 32; x++)
            ramp->data[y * 32 + x] = (float)x / 31.0f;
    assert_int_equal(vb_image_resize(ramp, 16, 4, &dst, &err), VB_OK);
    assert_int_equal(dst.c, 1);
    for (int y = 0; y < 4; y++)
        for (int x = 0; x < 16; x++) {
            if (x > 0)
                assert_true(dst.data[y * 16 + x] > dst.data[y * 16 + x - 1]);
            assert_float_equal(dst.data[y * 16 + x], dst.data[x], 1e-6);
        }
    /* Mean is preserved by the symmetric filter: (0 + 1) / 2. */
    double mean = 0;
    for (int x = 0; x < 16; x++)
        mean += dst.data[x];
    assert_float_equal(mean / 16, 0.5, 0.01);

    /* Bad target sizes and aliasing. */
    assert_int_equal(vb_image_resize(ramp, 0, 4, &dst, &err), VB_ERR_PARAM);
    assert_int_equal(vb_image_resize(ramp, 4, VB_IMAGE_MAX_SIDE + 1, &dst, &err), VB_ERR_PARAM);
    assert_int_equal(vb_image_resize(ramp, 16, 4, ramp, &err), VB_ERR_INTERNAL);
    assert_string_equal(err.msg, "vb_image_resize: source and destination alias");
    assert_int_equal(ramp->w, 32); /* untouched */
    free(dst.data);
    vb_image_free(ramp);
    vb_image_free(src);
}

/* ---- colour ------------------------------------------------------------ */

static void test_gray_and_rgb(void **state)
{
    vb_error err = {0};
    vb_image *rgb = vb_image_new(2, 1, 3, &err);
    /* pixel 0: (0.2, 0.5, 0.9); pixel 1: pure white */
    float *r = vb_image_plane(rgb, 0), *g = vb_image_plane(rgb, 1), *b = vb_image_plane(rgb, 2);
    r[0] = 0.2f;
    g[0] = 0.5f;
    b[0] = 0.9f;
    r[1] = g[1] = b[1] = 1.0f;
    vb_image gray = {0};
    assert_int_equal(vb_image_to_gray(rgb, &gray, &err), VB_OK);
    assert_int_equal(gray.c, 1);
    assert_int_equal(gray.w, 2);
    /* 0.299 * 0.2 + 0.587 * 0.5 + 0.114 * 0.9 = 0.0598 + 0.2935 + 0.1026 */
    assert_float_equal(gray.data[0], 0.4559, 1e-6);
    assert_float_equal(gray.data[1], 1.0, 1e-6);

    /* Grey in: copied exactly. */
    vb_image g2 = {0};
    assert_int_equal(vb_image_to_gray(&gray, &g2, &err), VB_OK);
    assert_int_equal(g2.c, 1);
    assert_memory_equal(g2.data, gray.data, 2 * sizeof(float));

    /* Grey to RGB replicates; RGB to RGB copies. */
    vb_image rgb2 = {0};
    assert_int_equal(vb_image_to_rgb(&gray, &rgb2, &err), VB_OK);
    assert_int_equal(rgb2.c, 3);
    for (int k = 0; k < 3; k++)
        assert_memory_equal(vb_image_plane(&rgb2, k), gray.data, 2 * sizeof(float));
    assert_int_equal(vb_image_to_rgb(rgb, &rgb2, &err), VB_OK);
    assert_memory_equal(rgb2.data, rgb->data, 6 * sizeof(float));

    /* Aliasing is refused with an internal error and leaves src alone. */
    assert_int_equal(vb_image_to_gray(rgb, rgb, &err), VB_ERR_INTERNAL);
    assert_string_equal(err.msg, "vb_image_to_gray: source and destination alias");
    assert_int_equal(vb_image_to_rgb(&gray, &gray, &err), VB_ERR_INTERNAL);
    assert_string_equal(err.msg, "vb_image_to_rgb: source and destination alias");
    assert_int_equal(rgb->c, 3);
    assert_int_equal(gray.c, 1);
    free(gray.data);
    free(g2.data);
    free(rgb2.data);
    vb_image_free(rgb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_rejects_bad_shapes),
        cmocka_unit_test(test_reshape_and_clone),
        cmocka_unit_test(test_from_u8_layout),
        cmocka_unit_test(test_png_round_trip),
        cmocka_unit_test(test_alpha_is_dropped),
        cmocka_unit_test(test_decode_errors),
        cmocka_unit_test(test_probe),
        cmocka_unit_test(test_save_png_clamps),
        cmocka_unit_test(test_resize),
        cmocka_unit_test(test_decode_checks_claimed_size),
        cmocka_unit_test(test_stb_undefined_inputs),
        cmocka_unit_test(test_pnm_truncated),
        cmocka_unit_test(test_fifo_not_read),
        cmocka_unit_test(test_gray_and_rgb),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
