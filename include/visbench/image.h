/* vb_image: a float32 image in planar CHW layout (channel planes of h rows
 * of w pixels). Loaded images hold values in [0, 1].
 *
 * Colour: images have 1 (grey) or 3 (RGB) channels. Alpha is dropped on
 * load; 16-bit files are reduced to 8 bits by stb_image.
 *
 *     vb_image *img = NULL;
 *     if (vb_image_load("x.png", &img, &err) == VB_OK) { ... vb_image_free(img); }
 */
#ifndef VISBENCH_IMAGE_H
#define VISBENCH_IMAGE_H

#include "visbench/core.h"

typedef struct vb_image {
    int w, h, c;
    float *data; /* c * h * w floats, owned */
} vb_image;

/* An image shape; 0 in w/h means "varies". */
typedef struct vb_shape {
    int w, h, c;
} vb_shape;

/* Largest side accepted anywhere (guards size products). */
#define VB_IMAGE_MAX_SIDE 32768
/* Decoding checks a file's header against these before stb_image
 * allocates anything: pixels of one image (8192 x 4096; its float RGB copy
 * takes 400 MB) and bytes of one image file. */
#define VB_IMAGE_MAX_PIXELS (1u << 25)
#define VB_IMAGE_MAX_FILE_BYTES (256u << 20)

/* A zeroed image; NULL (and err set) for invalid sizes or no memory. */
vb_image *vb_image_new(int w, int h, int c, vb_error *err);
void vb_image_free(vb_image *img);
/* Reallocates img's buffer for a new shape when needed (keeps it otherwise). */
vb_status vb_image_reshape(vb_image *img, int w, int h, int c, vb_error *err);
vb_image *vb_image_clone(const vb_image *img, vb_error *err);
static inline float *vb_image_plane(const vb_image *img, int ch)
{
    return img->data + (size_t)ch * (size_t)img->w * (size_t)img->h;
}

/* Decodes any format stb_image reads (PNG, JPEG, BMP, PGM/PPM, TGA, GIF, PSD,
 * HDR, PIC) into 8-bit interleaved pixels with 1 or 3 channels. *px is
 * malloc'ed. Errors name the file; a file or a claimed size over the
 * limits above is refused before it is decoded. */
vb_status vb_image_decode_u8(const char *path, uint8_t **px, int *w, int *h, int *c, vb_error *err);
vb_status vb_image_decode_u8_memory(const void *data, size_t len, const char *name, uint8_t **px,
                                    int *w, int *h, int *c, vb_error *err);
/* Reads only the header: *is_image says whether path is an image
 * stb_image can decode (0 for a file that is not, or that is gone). A
 * file that cannot be read, or memory that runs out, is an error: a
 * caller must not take it for "not an image" and skip the file. */
vb_status vb_image_probe(const char *path, int *is_image, vb_error *err);

/* Converts 8-bit interleaved HWC pixels into dst (reshaped to w x h x c), scaled to [0, 1]. */
vb_status vb_image_from_u8(const uint8_t *px, int w, int h, int c, vb_image *dst, vb_error *err);
/* Loads a file into a new image. */
vb_status vb_image_load(const char *path, vb_image **out, vb_error *err);
/* Writes an 8-bit PNG (values clamped to [0, 1], 1 or 3 channels). */
vb_status vb_image_save_png(const vb_image *img, const char *path, vb_error *err);

/* Resamples src into dst, reshaped to w x h with src's channel count (stb_image_resize:
 * Mitchell filter when shrinking, Catmull-Rom when enlarging, clamped edges). */
vb_status vb_image_resize(const vb_image *src, int w, int h, vb_image *dst, vb_error *err);
/* Luma (ITU-R BT.601: 0.299 R + 0.587 G + 0.114 B); a grey image is copied. */
vb_status vb_image_to_gray(const vb_image *src, vb_image *dst, vb_error *err);
/* Grey replicated to three channels; an RGB image is copied. */
vb_status vb_image_to_rgb(const vb_image *src, vb_image *dst, vb_error *err);

#endif
