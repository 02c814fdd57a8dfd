/* Image buffers, decoding through stb_image, PNG writing, resizing and
 * colour conversion. */
#include "visbench/image.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <stb/stb_image.h>
#include <stb/stb_image_resize.h>
#include <stb/stb_image_write.h>

static vb_status check_shape(int w, int h, int c, vb_error *err)
{
    if (w <= 0 || h <= 0 || w > VB_IMAGE_MAX_SIDE || h > VB_IMAGE_MAX_SIDE || (c != 1 && c != 3))
        return vb_fail(err, VB_ERR_PARAM, "invalid image shape %dx%dx%d", w, h, c);
    return VB_OK;
}

vb_image *vb_image_new(int w, int h, int c, vb_error *err)
{
    if (check_shape(w, h, c, err) != VB_OK)
        return NULL;
    vb_image *img = vb_calloc(1, sizeof *img, err);
    if (!img)
        return NULL;
    img->data = vb_calloc((size_t)w * (size_t)h * (size_t)c, sizeof(float), err);
    if (!img->data) {
        free(img);
        return NULL;
    }
    img->w = w;
    img->h = h;
    img->c = c;
    return img;
}

void vb_image_free(vb_image *img)
{
    if (!img)
        return;
    free(img->data);
    free(img);
}

vb_status vb_image_reshape(vb_image *img, int w, int h, int c, vb_error *err)
{
    vb_status st = check_shape(w, h, c, err);
    if (st != VB_OK)
        return st;
    size_t need = (size_t)w * (size_t)h * (size_t)c;
    size_t have = img->data ? (size_t)img->w * (size_t)img->h * (size_t)img->c : 0;
    if (need != have) {
        float *d = realloc(img->data, need * sizeof(float));
        if (!d)
            return vb_fail(err, VB_ERR_NOMEM, "out of memory for a %dx%dx%d image", w, h, c);
        img->data = d;
    }
    img->w = w;
    img->h = h;
    img->c = c;
    return VB_OK;
}

vb_image *vb_image_clone(const vb_image *img, vb_error *err)
{
    vb_image *d = vb_image_new(img->w, img->h, img->c, err);
    if (d)
        memcpy(d->data, img->data, (size_t)img->w * (size_t)img->h * (size_t)img->c * sizeof(float));
    return d;
}

/* stb gives 1..4 channels; keep 1 (grey) or 3 (RGB), dropping alpha. */
static vb_status finish_decode(unsigned char *raw, int w, int h, int comp, uint8_t **px, int *pw, int *ph, int *pc,
                               vb_error *err)
{
    int c = (comp == 1 || comp == 2) ? 1 : 3;
    size_t n = (size_t)w * (size_t)h;
    uint8_t *out = vb_malloc(n, (size_t)c, err);
    if (!out) {
        stbi_image_free(raw);
        return VB_ERR_NOMEM;
    }
    for (size_t i = 0; i < n; i++)
        for (int k = 0; k < c; k++)
            out[i * (size_t)c + (size_t)k] = raw[i * (size_t)comp + (size_t)k];
    stbi_image_free(raw);
    *px = out;
    *pw = w;
    *ph = h;
    *pc = c;
    return VB_OK;
}

/* stb_image's reason, printable: for an unknown PNG chunk it copies the
 * chunk's type bytes from the file into the text (a newline, say). */
static vb_status unreadable(const char *name, const char *hint, vb_error *err)
{
    const char *r = stbi_failure_reason();
    char reason[64];
    size_t n = 0;
    for (; r && r[n] && n < sizeof reason - 1; n++)
        reason[n] = r[n] >= 0x20 && r[n] < 0x7f ? r[n] : '?';
    reason[n] = 0;
    return vb_fail(err, VB_ERR_FORMAT, "%s: not a readable image (%s)%s", name, n ? reason : "unknown reason", hint);
}

/* ---- what stb_image 2.27 must not see ------------------------------------ */

/* Byte i of d, or 0 past the end (as stb_image reads). */
static unsigned at(const unsigned char *d, size_t len, size_t i)
{
    return i < len ? d[i] : 0;
}

/* A JPEG Huffman table (DHT) whose 16 code counts add up to more than 256:
 * stb_image writes past its 257-entry size table and 256-entry value table
 * before it checks the codes. Every marker segment is walked, the ones
 * between progressive scans too (entropy-coded data has no other 0xFF
 * than stuffed 0xFF00 and RSTn). 0 when the JPEG has none. */
static int jpeg_bad_dht(const unsigned char *d, size_t len)
{
    if (len < 2 || d[0] != 0xff || d[1] != 0xd8)
        return 0;
    for (size_t p = 2; p + 1 < len;) {
        unsigned m = d[p + 1];
        if (d[p] != 0xff || m == 0xff) { /* data, or fill before a marker */
            p++;
            continue;
        }
        if (m == 0x00 || m == 0x01 || (m >= 0xd0 && m <= 0xd8)) { /* stuffing, TEM, RSTn, SOI */
            p += 2;
            continue;
        }
        if (m == 0xd9) /* EOI */
            return 0;
        long seg = (long)(at(d, len, p + 2) << 8 | at(d, len, p + 3));
        if (m == 0xc4) /* as stbi__process_marker reads it */
            for (long left = seg - 2, q = (long)p + 4; left > 0;) {
                unsigned tc = at(d, len, (size_t)q) >> 4, th = at(d, len, (size_t)q) & 15, n = 0;
                if (tc > 1 || th > 3)
                    break; /* stb refuses the table itself */
                for (int i = 1; i <= 16; i++)
                    n += at(d, len, (size_t)q + (size_t)i);
                if (n > 256)
                    return 1;
                left -= 17 + (long)n;
                q += 17 + (long)n;
            }
        p += 2 + (size_t)seg;
    }
    return 0;
}

/* A binary PNM header (P5, P6), parsed as stb_image parses it: whitespace
 * and # comments between the three numbers, and a digit that ends the data
 * is not read. 0: not one; -1: a side over VB_IMAGE_MAX_SIDE or a maximum
 * value over 65535 (stb_image reads its numbers into an int without an
 * overflow check); 1: v holds width, height and maximum value, and *off
 * where the pixels start. */
static int pnm_header(const unsigned char *d, size_t len, unsigned long v[3], size_t *off)
{
    if (len < 2 || d[0] != 'P' || (d[1] != '5' && d[1] != '6'))
        return 0;
    size_t p = 2;
    unsigned c = at(d, len, p++);
    const unsigned long limit[3] = {VB_IMAGE_MAX_SIDE, VB_IMAGE_MAX_SIDE, 65535};
    for (int k = 0; k < 3; k++) {
        for (;;) {
            while (p < len && (c == ' ' || (c >= '\t' && c <= '\r')))
                c = at(d, len, p++);
            if (p >= len || c != '#')
                break;
            while (p < len && c != '\n' && c != '\r')
                c = at(d, len, p++);
        }
        v[k] = 0;
        while (p < len && c >= '0' && c <= '9') {
            v[k] = v[k] * 10 + (c - '0');
            if (v[k] > limit[k])
                return -1;
            c = at(d, len, p++);
        }
    }
    *off = p < len ? p : len;
    return 1;
}

static int pnm_bad_header(const unsigned char *d, size_t len)
{
    unsigned long v[3];
    size_t off;
    return pnm_header(d, len, v, &off) < 0;
}

/* PNG chunks stb_image 2.27 mishandles, walked as it walks them:
 *  - the first IDAT chunk empty: stb_image appends each IDAT's bytes to a
 *    buffer it allocates only for a chunk with data, so it adds the empty
 *    chunk's offset to a null pointer (stb_image.h:5130; found by make fuzz);
 *  - an IDAT chunk that claims more bytes than the file holds: stb_image
 *    grows its buffer to the claim before it reads (a 91-byte file asked
 *    for 2 GiB; found by make fuzz).
 * Writers make neither, so such a file is refused as corrupt. Returns 0,
 * or 1 and 2 for these. */
static int png_bad_idat(const unsigned char *d, size_t len, size_t *claim, size_t *left)
{
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (len < 8 || memcmp(d, sig, 8) != 0)
        return 0;
    int seen_idat = 0;
    for (size_t p = 8; p + 8 <= len;) {
        size_t n = (size_t)d[p] << 24 | (size_t)d[p + 1] << 16 | (size_t)d[p + 2] << 8 | d[p + 3];
        int idat = memcmp(d + p + 4, "IDAT", 4) == 0;
        if (idat && n == 0 && !seen_idat)
            return 1;
        if (idat && n > len - p - 8) {
            *claim = n;
            *left = len - p - 8;
            return 2;
        }
        if (memcmp(d + p + 4, "IEND", 4) == 0 || n > len - p - 8)
            return 0;
        seen_idat |= idat && n > 0;
        p += 8 + n + 4; /* length and type, data, CRC */
    }
    return 0;
}

/* Claims the bytes of a whole file must back (the probe reads only a
 * prefix, so these are checked before decoding, not in check_stb_input):
 * a PNG IDAT chunk longer than what is left (stb_image would allocate the
 * claim), and a PNM file with fewer pixel bytes than its header promises
 * (stb_image 2.27 ignores the short read and returns the pixels
 * uninitialised). */
static vb_status check_size_claims(const unsigned char *d, size_t len, const char *name, const char *hint,
                                   vb_error *err)
{
    size_t claim, left;
    if (png_bad_idat(d, len, &claim, &left) == 2)
        return vb_fail(err, VB_ERR_FORMAT, "%s: truncated PNG: an IDAT chunk claims %zu bytes, the file has %zu left%s",
                       name, claim, left, hint);
    unsigned long v[3];
    size_t off;
    if (pnm_header(d, len, v, &off) <= 0)
        return VB_OK;
    if (v[2] == 0)
        return vb_fail(err, VB_ERR_FORMAT, "%s: corrupt PNM header: the maximum value is 0 or missing%s", name,
                       hint);
    size_t need = (size_t)v[0] * v[1] * (d[1] == '6' ? 3 : 1) * (v[2] > 255 ? 2 : 1);
    if (len - off < need)
        return vb_fail(err, VB_ERR_FORMAT, "%s: truncated PNM: the header promises %zu bytes of pixels, the file "
                       "holds %zu%s", name, need, len - off, hint);
    return VB_OK;
}

/* Input that is undefined behaviour inside stb_image, refused at our
 * boundary (all are corrupt or odd files that no writer makes). */
static vb_status check_stb_input(const unsigned char *data, size_t len, const char *name, const char *hint,
                                 vb_error *err)
{
    if (jpeg_bad_dht(data, len))
        return vb_fail(err, VB_ERR_FORMAT, "%s: corrupt JPEG: a Huffman table (DHT) lists more than 256 codes%s",
                       name, hint);
    size_t claim, left;
    if (png_bad_idat(data, len, &claim, &left) == 1)
        return vb_fail(err, VB_ERR_FORMAT, "%s: corrupt PNG: the first IDAT chunk is empty%s", name, hint);
    if (pnm_bad_header(data, len))
        return vb_fail(err, VB_ERR_FORMAT, "%s: corrupt PNM header: a side over %d or a maximum value over 65535%s",
                       name, VB_IMAGE_MAX_SIDE, hint);
    return VB_OK;
}

/* stb_image allocates whatever a header claims: the claimed size is
 * checked against the limits before anything is decoded. */
static vb_status check_header(const unsigned char *data, size_t len, const char *name, const char *hint,
                              vb_error *err)
{
    if (len > VB_IMAGE_MAX_FILE_BYTES)
        return vb_fail(err, VB_ERR_FORMAT, "%s: %zu bytes, more than the %zu bytes an image file may have", name,
                       len, (size_t)VB_IMAGE_MAX_FILE_BYTES);
    vb_status st = check_stb_input(data, len, name, hint, err);
    if (st == VB_OK)
        st = check_size_claims(data, len, name, hint, err);
    if (st != VB_OK)
        return st;
    int w = 0, h = 0, comp = 0;
    if (!stbi_info_from_memory(data, (int)len, &w, &h, &comp))
        return unreadable(name, hint, err);
    if (w <= 0 || h <= 0 || w > VB_IMAGE_MAX_SIDE || h > VB_IMAGE_MAX_SIDE ||
        (size_t)w * (size_t)h > VB_IMAGE_MAX_PIXELS)
        return vb_fail(err, VB_ERR_FORMAT,
                       "%s: unsupported image size %dx%d (at most %d pixels a side and %zu pixels in all)", name, w,
                       h, VB_IMAGE_MAX_SIDE, (size_t)VB_IMAGE_MAX_PIXELS);
    return VB_OK;
}

static vb_status decode_memory(const unsigned char *data, size_t len, const char *name, const char *hint,
                               uint8_t **px, int *w, int *h, int *c, vb_error *err)
{
    *px = NULL;
    vb_status st = check_header(data, len, name, hint, err);
    if (st != VB_OK)
        return st;
    int iw = 0, ih = 0, comp = 0;
    unsigned char *raw = stbi_load_from_memory(data, (int)len, &iw, &ih, &comp, 0);
    if (!raw)
        return unreadable(name, hint, err);
    if (iw <= 0 || ih <= 0 || iw > VB_IMAGE_MAX_SIDE || ih > VB_IMAGE_MAX_SIDE ||
        (size_t)iw * (size_t)ih > VB_IMAGE_MAX_PIXELS) { /* (the header said otherwise) */
        stbi_image_free(raw);
        return vb_fail(err, VB_ERR_FORMAT, "%s: unsupported image size %dx%d", name, iw, ih);
    }
    return finish_decode(raw, iw, ih, comp, px, w, h, c, err);
}

vb_status vb_image_decode_u8(const char *path, uint8_t **px, int *w, int *h, int *c, vb_error *err)
{
    *px = NULL;
    char *data;
    size_t len;
    /* A FIFO would block the read until a writer came (a device might
     * never end): only regular files are images. */
    struct stat sb;
    if (stat(path, &sb) == 0 && !S_ISREG(sb.st_mode))
        return vb_fail(err, VB_ERR_FORMAT, "%s: not a regular file; remove or replace it", path);
    vb_status st = vb_file_read_max(path, VB_IMAGE_MAX_FILE_BYTES, "an image file", &data, &len, err);
    if (st != VB_OK)
        return st;
    st = decode_memory((const unsigned char *)data, len, path, "; remove or replace the file", px, w, h, c, err);
    free(data);
    return st;
}

vb_status vb_image_decode_u8_memory(const void *data, size_t len, const char *name, uint8_t **px,
                                    int *w, int *h, int *c, vb_error *err)
{
    return decode_memory(data, len, name, "", px, w, h, c, err);
}

/* The probe reads no more than this: enough for any header stb_image
 * reads before the pixels. */
#define PROBE_BYTES ((size_t)1 << 20)

vb_status vb_image_probe(const char *path, int *is_image, vb_error *err)
{
    *is_image = 0;
    struct stat sb;
    if (stat(path, &sb) == 0 && !S_ISREG(sb.st_mode) && !S_ISDIR(sb.st_mode)) /* see vb_image_decode_u8 */
        return VB_OK;
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno == ENOENT) /* gone since it was listed: not an image */
            return VB_OK;
        return vb_fail(err, VB_ERR_IO, "%s: cannot read (%s); check its permissions", path, strerror(errno));
    }
    unsigned char *buf = malloc(PROBE_BYTES);
    if (!buf) {
        fclose(f);
        return vb_fail(err, VB_ERR_NOMEM, "%s: out of memory while reading its header", path);
    }
    size_t len = fread(buf, 1, PROBE_BYTES, f);
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return vb_fail(err, VB_ERR_IO, "%s: read error; check the disk and the file", path);
    }
    int w, h, comp;
    *is_image = len > 0 && check_stb_input(buf, len, path, "", NULL) == VB_OK &&
                stbi_info_from_memory(buf, (int)len, &w, &h, &comp);
    free(buf);
    return VB_OK;
}

vb_status vb_image_from_u8(const uint8_t *px, int w, int h, int c, vb_image *dst, vb_error *err)
{
    vb_status st = vb_image_reshape(dst, w, h, c, err);
    if (st != VB_OK)
        return st;
    size_t n = (size_t)w * (size_t)h;
    const float s = 1.0f / 255.0f;
    if (c == 1) { /* grey: a unit stride, so the loop vectorises */
        for (size_t i = 0; i < n; i++)
            dst->data[i] = (float)px[i] * s;
        return VB_OK;
    }
    for (int k = 0; k < c; k++) {
        float *plane = dst->data + (size_t)k * n;
        for (size_t i = 0; i < n; i++)
            plane[i] = (float)px[i * (size_t)c + (size_t)k] * s;
    }
    return VB_OK;
}

vb_status vb_image_load(const char *path, vb_image **out, vb_error *err)
{
    *out = NULL;
    uint8_t *px;
    int w, h, c;
    vb_status st = vb_image_decode_u8(path, &px, &w, &h, &c, err);
    if (st != VB_OK)
        return st;
    vb_image *img = vb_calloc(1, sizeof *img, err);
    if (!img) {
        free(px);
        return VB_ERR_NOMEM;
    }
    st = vb_image_from_u8(px, w, h, c, img, err);
    free(px);
    if (st != VB_OK) {
        vb_image_free(img);
        return st;
    }
    *out = img;
    return VB_OK;
}

static void png_append(void *buf, void *data, int len) { vb_buf_append(buf, data, (size_t)len); }

vb_status vb_image_save_png(const vb_image *img, const char *path, vb_error *err)
{
    size_t n = (size_t)img->w * (size_t)img->h;
    uint8_t *px = vb_malloc(n, (size_t)img->c, err);
    if (!px)
        return VB_ERR_NOMEM;
    for (int k = 0; k < img->c; k++) {
        const float *plane = img->data + (size_t)k * n;
        for (size_t i = 0; i < n; i++) {
            float v = plane[i] * 255.0f + 0.5f;
            /* !(v > 0) also sends NaN to 0 (converting NaN is undefined). */
            px[i * (size_t)img->c + (size_t)k] = !(v > 0.0f) ? 0 : v >= 255.0f ? 255 : (uint8_t)v;
        }
    }
    /* Encoded in memory, then written atomically: stbi_write_png does not
     * check its writes, so a full disk left a truncated PNG and success. */
    vb_buf png;
    vb_buf_init(&png);
    int ok = stbi_write_png_to_func(png_append, &png, img->w, img->h, img->c, px, img->w * img->c);
    free(px);
    vb_status st = !ok || png.failed ? vb_fail(err, VB_ERR_NOMEM, "%s: out of memory encoding the PNG", path)
                                     : vb_file_write_atomic(path, png.data, png.len, err);
    vb_buf_free(&png);
    return st;
}

vb_status vb_image_resize(const vb_image *src, int w, int h, vb_image *dst, vb_error *err)
{
    if (dst == src)
        return vb_fail(err, VB_ERR_INTERNAL, "vb_image_resize: source and destination alias");
    vb_status st = vb_image_reshape(dst, w, h, src->c, err);
    if (st != VB_OK)
        return st;
    if (w == src->w && h == src->h) {
        memcpy(dst->data, src->data, (size_t)w * (size_t)h * (size_t)src->c * sizeof(float));
        return VB_OK;
    }
    for (int k = 0; k < src->c; k++) {
        int ok = stbir_resize_float_generic(vb_image_plane(src, k), src->w, src->h,
                                            src->w * (int)sizeof(float), vb_image_plane(dst, k),
                                            w, h, w * (int)sizeof(float), 1, STBIR_ALPHA_CHANNEL_NONE,
                                            0, STBIR_EDGE_CLAMP, STBIR_FILTER_DEFAULT,
                                            STBIR_COLORSPACE_LINEAR, NULL);
        if (!ok)
            return vb_fail(err, VB_ERR_NOMEM, "resize %dx%d -> %dx%d failed", src->w, src->h, w, h);
    }
    return VB_OK;
}

vb_status vb_image_to_gray(const vb_image *src, vb_image *dst, vb_error *err)
{
    if (dst == src)
        return vb_fail(err, VB_ERR_INTERNAL, "vb_image_to_gray: source and destination alias");
    vb_status st = vb_image_reshape(dst, src->w, src->h, 1, err);
    if (st != VB_OK)
        return st;
    size_t n = (size_t)src->w * (size_t)src->h;
    if (src->c == 1) {
        memcpy(dst->data, src->data, n * sizeof(float));
        return VB_OK;
    }
    const float *r = vb_image_plane(src, 0), *g = vb_image_plane(src, 1), *b = vb_image_plane(src, 2);
    for (size_t i = 0; i < n; i++)
        dst->data[i] = 0.299f * r[i] + 0.587f * g[i] + 0.114f * b[i];
    return VB_OK;
}

vb_status vb_image_to_rgb(const vb_image *src, vb_image *dst, vb_error *err)
{
    if (dst == src)
        return vb_fail(err, VB_ERR_INTERNAL, "vb_image_to_rgb: source and destination alias");
    vb_status st = vb_image_reshape(dst, src->w, src->h, 3, err);
    if (st != VB_OK)
        return st;
    size_t n = (size_t)src->w * (size_t)src->h;
    for (int k = 0; k < 3; k++)
        memcpy(vb_image_plane(dst, k), vb_image_plane(src, src->c == 1 ? 0 : k), n * sizeof(float));
    return VB_OK;
}
