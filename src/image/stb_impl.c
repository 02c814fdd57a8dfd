/* stb_image's implementation, compiled in only when VB_STB_IMPL is set:
 * the sanitizer and fuzzing builds, so that what stb_image does with bad
 * input is checked too. Elsewhere Debian's libstb (the same stb_image
 * 2.27) provides it. */
#ifdef VB_STB_IMPL
#define STB_IMAGE_IMPLEMENTATION
#include <stb/stb_image.h>
#else
typedef int vb_stb_impl_unused; /* a translation unit declares something */
#endif
