/* Fixed-width little-endian serialisation with bounds-checked reads. */
#include "visbench/serial.h"

#include <stdlib.h>
#include <string.h>

void vb_writer_init(vb_writer *w) { vb_buf_init(&w->buf); }
void vb_writer_free(vb_writer *w) { vb_buf_free(&w->buf); }

vb_status vb_writer_status(const vb_writer *w, vb_error *err)
{
    if (w->buf.failed)
        return vb_fail(err, VB_ERR_NOMEM, "out of memory while serialising");
    return VB_OK;
}

static void put_le(vb_writer *w, uint64_t v, int bytes)
{
    uint8_t b[8];
    for (int i = 0; i < bytes; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    vb_buf_append(&w->buf, b, (size_t)bytes);
}

void vb_write_u8(vb_writer *w, uint8_t v) { put_le(w, v, 1); }
void vb_write_u32(vb_writer *w, uint32_t v) { put_le(w, v, 4); }
void vb_write_i32(vb_writer *w, int32_t v) { put_le(w, (uint32_t)v, 4); }
void vb_write_u64(vb_writer *w, uint64_t v) { put_le(w, v, 8); }

void vb_write_f32(vb_writer *w, float v)
{
    uint32_t u = 0;
    memcpy(&u, &v, 4);
    put_le(w, u, 4);
}

void vb_write_f64(vb_writer *w, double v)
{
    uint64_t u = 0;
    memcpy(&u, &v, 8);
    put_le(w, u, 8);
}

void vb_write_str(vb_writer *w, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    vb_write_u64(w, n);
    vb_buf_append(&w->buf, s, n);
}

void vb_write_f32s(vb_writer *w, const float *v, size_t n)
{
    vb_write_u64(w, n);
    for (size_t i = 0; i < n; i++)
        vb_write_f32(w, v[i]);
}

void vb_write_f64s(vb_writer *w, const double *v, size_t n)
{
    vb_write_u64(w, n);
    for (size_t i = 0; i < n; i++)
        vb_write_f64(w, v[i]);
}

void vb_write_i32s(vb_writer *w, const int32_t *v, size_t n)
{
    vb_write_u64(w, n);
    for (size_t i = 0; i < n; i++)
        vb_write_i32(w, v[i]);
}

void vb_write_bytes(vb_writer *w, const void *v, size_t n) { vb_buf_append(&w->buf, v, n); }

void vb_reader_init(vb_reader *r, const void *data, size_t len, const char *what)
{
    r->p = data;
    r->len = len;
    r->pos = 0;
    r->what = what ? what : "input";
}

size_t vb_reader_left(const vb_reader *r) { return r->len - r->pos; }

static vb_status truncated(const vb_reader *r, vb_error *err)
{
    return vb_fail(err, VB_ERR_FORMAT,
                   "%s: truncated or corrupt (needed more bytes at offset %zu of %zu)",
                   r->what, r->pos, r->len);
}

static vb_status get_le(vb_reader *r, uint64_t *v, int bytes, vb_error *err)
{
    if (vb_reader_left(r) < (size_t)bytes)
        return truncated(r, err);
    uint64_t x = 0;
    for (int i = 0; i < bytes; i++)
        x |= (uint64_t)r->p[r->pos + (size_t)i] << (8 * i);
    r->pos += (size_t)bytes;
    *v = x;
    return VB_OK;
}

vb_status vb_read_u8(vb_reader *r, uint8_t *v, vb_error *err)
{
    uint64_t x = 0;
    vb_status st = get_le(r, &x, 1, err);
    if (st == VB_OK)
        *v = (uint8_t)x;
    return st;
}

vb_status vb_read_u32(vb_reader *r, uint32_t *v, vb_error *err)
{
    uint64_t x = 0;
    vb_status st = get_le(r, &x, 4, err);
    if (st == VB_OK)
        *v = (uint32_t)x;
    return st;
}

vb_status vb_read_i32(vb_reader *r, int32_t *v, vb_error *err)
{
    uint32_t u = 0;
    vb_status st = vb_read_u32(r, &u, err);
    if (st == VB_OK)
        *v = (int32_t)u;
    return st;
}

vb_status vb_read_u64(vb_reader *r, uint64_t *v, vb_error *err) { return get_le(r, v, 8, err); }

vb_status vb_read_f32(vb_reader *r, float *v, vb_error *err)
{
    uint32_t u = 0;
    vb_status st = vb_read_u32(r, &u, err);
    if (st == VB_OK)
        memcpy(v, &u, 4);
    return st;
}

vb_status vb_read_f64(vb_reader *r, double *v, vb_error *err)
{
    uint64_t u = 0;
    vb_status st = vb_read_u64(r, &u, err);
    if (st == VB_OK)
        memcpy(v, &u, 8);
    return st;
}

vb_status vb_read_u32_range(vb_reader *r, uint32_t *v, uint32_t lo, uint32_t hi,
                            const char *field, vb_error *err)
{
    vb_status st = vb_read_u32(r, v, err);
    if (st != VB_OK)
        return st;
    if (*v < lo || *v > hi)
        return vb_fail(err, VB_ERR_FORMAT, "%s: corrupt field %s = %u (expected %u..%u)",
                       r->what, field, *v, lo, hi);
    return VB_OK;
}

/* Reads a u64 count and checks that count * elem bytes remain. */
static vb_status read_count(vb_reader *r, size_t elem, size_t *n, vb_error *err)
{
    uint64_t c = 0;
    vb_status st = vb_read_u64(r, &c, err);
    if (st != VB_OK)
        return st;
    if (c > SIZE_MAX / (elem ? elem : 1) || c * (elem ? elem : 1) > vb_reader_left(r))
        return vb_fail(err, VB_ERR_FORMAT,
                       "%s: corrupt length field %llu at offset %zu (only %zu bytes left)",
                       r->what, (unsigned long long)c, r->pos - 8, vb_reader_left(r));
    *n = (size_t)c;
    return VB_OK;
}

vb_status vb_read_str(vb_reader *r, char **s, vb_error *err)
{
    *s = NULL;
    size_t n = 0;
    vb_status st = read_count(r, 1, &n, err);
    if (st != VB_OK || n == 0)
        return st;
    char *d = vb_malloc(n + 1, 1, err);
    if (!d)
        return VB_ERR_NOMEM;
    memcpy(d, r->p + r->pos, n);
    d[n] = 0;
    if (memchr(d, 0, n)) {
        free(d);
        return vb_fail(err, VB_ERR_FORMAT, "%s: corrupt string at offset %zu", r->what, r->pos);
    }
    r->pos += n;
    *s = d;
    return VB_OK;
}

vb_status vb_read_bytes_into(vb_reader *r, void *v, size_t n, vb_error *err)
{
    if (vb_reader_left(r) < n)
        return truncated(r, err);
    memcpy(v, r->p + r->pos, n);
    r->pos += n;
    return VB_OK;
}

#define READ_ARRAY(NAME, T, ELEM, READ1)                                                  \
    vb_status vb_read_##NAME##_into(vb_reader *r, T *v, size_t n, vb_error *err)         \
    {                                                                                     \
        size_t c = 0;                                                                       \
        vb_status st = read_count(r, ELEM, &c, err);                                      \
        if (st != VB_OK)                                                                  \
            return st;                                                                    \
        if (c != n)                                                                       \
            return vb_fail(err, VB_ERR_FORMAT, "%s: array of %zu elements where %zu were expected", \
                           r->what, c, n);                                                \
        for (size_t i = 0; i < n; i++)                                                    \
            if ((st = READ1(r, &v[i], err)) != VB_OK)                                     \
                return st;                                                                \
        return VB_OK;                                                                     \
    }                                                                                     \
    vb_status vb_read_##NAME##_alloc(vb_reader *r, T **v, size_t *n, vb_error *err)      \
    {                                                                                     \
        *v = NULL;                                                                        \
        *n = 0;                                                                           \
        size_t c = 0;                                                                       \
        vb_status st = read_count(r, ELEM, &c, err);                                      \
        if (st != VB_OK)                                                                  \
            return st;                                                                    \
        T *a = vb_malloc(c ? c : 1, sizeof(T), err);                                      \
        if (!a)                                                                           \
            return VB_ERR_NOMEM;                                                          \
        for (size_t i = 0; i < c; i++)                                                    \
            if ((st = READ1(r, &a[i], err)) != VB_OK) {                                   \
                free(a);                                                                  \
                return st;                                                                \
            }                                                                             \
        *v = a;                                                                           \
        *n = c;                                                                           \
        return VB_OK;                                                                     \
    }

READ_ARRAY(f32s, float, 4, vb_read_f32)
READ_ARRAY(f64s, double, 8, vb_read_f64)
READ_ARRAY(i32s, int32_t, 4, vb_read_i32)

vb_status vb_reader_end(const vb_reader *r, vb_error *err)
{
    if (r->pos != r->len)
        return vb_fail(err, VB_ERR_FORMAT, "%s: %zu unexpected trailing bytes", r->what,
                       r->len - r->pos);
    return VB_OK;
}
