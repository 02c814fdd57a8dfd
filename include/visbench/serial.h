/* Binary serialisation used by every plug-in's save/load and by model files.
 *
 * Fields are fixed-width little-endian. The reader never trusts a length
 * field: before it allocates, it checks that the bytes it would fill are
 * still in the input, so a corrupt length gives VB_ERR_FORMAT, never a huge
 * allocation or an out-of-bounds read.
 *
 *     vb_writer w; vb_writer_init(&w);
 *     vb_write_u32(&w, 3); vb_write_f32s(&w, v, 3);
 *     ... w.buf.data, w.buf.len ...
 *     vb_reader r; vb_reader_init(&r, w.buf.data, w.buf.len, "model.vbm");
 *     uint32_t n; vb_read_u32(&r, &n, &err);
 */
#ifndef VISBENCH_SERIAL_H
#define VISBENCH_SERIAL_H

#include "visbench/core.h"

typedef struct vb_writer {
    vb_buf buf;
} vb_writer;

void vb_writer_init(vb_writer *w);
void vb_writer_free(vb_writer *w);
/* VB_ERR_NOMEM when any write failed. */
vb_status vb_writer_status(const vb_writer *w, vb_error *err);
void vb_write_u8(vb_writer *w, uint8_t v);
void vb_write_u32(vb_writer *w, uint32_t v);
void vb_write_i32(vb_writer *w, int32_t v);
void vb_write_u64(vb_writer *w, uint64_t v);
void vb_write_f32(vb_writer *w, float v);
void vb_write_f64(vb_writer *w, double v);
/* A u64 length followed by the bytes (no terminator). NULL is written as length 0. */
void vb_write_str(vb_writer *w, const char *s);
/* A u64 count followed by the elements. */
void vb_write_f32s(vb_writer *w, const float *v, size_t n);
void vb_write_f64s(vb_writer *w, const double *v, size_t n);
void vb_write_i32s(vb_writer *w, const int32_t *v, size_t n);
void vb_write_bytes(vb_writer *w, const void *v, size_t n);

typedef struct vb_reader {
    const uint8_t *p;
    size_t len, pos;
    const char *what; /* named in errors, e.g. the file and section */
} vb_reader;

void vb_reader_init(vb_reader *r, const void *data, size_t len, const char *what);
size_t vb_reader_left(const vb_reader *r);
vb_status vb_read_u8(vb_reader *r, uint8_t *v, vb_error *err);
vb_status vb_read_u32(vb_reader *r, uint32_t *v, vb_error *err);
vb_status vb_read_i32(vb_reader *r, int32_t *v, vb_error *err);
vb_status vb_read_u64(vb_reader *r, uint64_t *v, vb_error *err);
vb_status vb_read_f32(vb_reader *r, float *v, vb_error *err);
vb_status vb_read_f64(vb_reader *r, double *v, vb_error *err);
/* Reads a u32 and checks lo <= v <= hi. */
vb_status vb_read_u32_range(vb_reader *r, uint32_t *v, uint32_t lo, uint32_t hi,
                            const char *field, vb_error *err);
/* Allocates a NUL-terminated copy; *s is NULL for length 0. */
vb_status vb_read_str(vb_reader *r, char **s, vb_error *err);
/* Reads a counted array that must hold exactly n elements (n known from
 * earlier fields) into a caller buffer. */
vb_status vb_read_f32s_into(vb_reader *r, float *v, size_t n, vb_error *err);
vb_status vb_read_f64s_into(vb_reader *r, double *v, size_t n, vb_error *err);
vb_status vb_read_i32s_into(vb_reader *r, int32_t *v, size_t n, vb_error *err);
/* Reads a counted array of any length (checked against the input) into a
 * new allocation; *n receives the count. */
vb_status vb_read_f32s_alloc(vb_reader *r, float **v, size_t *n, vb_error *err);
vb_status vb_read_f64s_alloc(vb_reader *r, double **v, size_t *n, vb_error *err);
vb_status vb_read_i32s_alloc(vb_reader *r, int32_t **v, size_t *n, vb_error *err);
vb_status vb_read_bytes_into(vb_reader *r, void *v, size_t n, vb_error *err);
/* Checks that all input was consumed. */
vb_status vb_reader_end(const vb_reader *r, vb_error *err);

#endif
