/* Allocation-failure injection for the fault-test build of the CLI
 * (make test-faults). Linked with
 *   -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=strdup,
 *   --wrap=strndup,--wrap=posix_memalign,--wrap=aligned_alloc,--wrap=vasprintf
 * so that every allocation made by visbench's own objects (the CLI and
 * libvisbench.a) goes through a counter here; allocations inside shared
 * libraries (libsvm, SQLite, libfyaml, ...) do not, since --wrap only
 * rewrites references from the objects being linked.
 *
 *   VB_FAIL_ALLOC=N    the N-th counted allocation (from 1) returns NULL
 *                      (errno ENOMEM); every other one succeeds
 *   VB_COUNT_ALLOC=1   print "inject: N allocations" on stderr at exit
 *   VB_FAIL_TRACE=1    print the stack of the failed allocation (ASan
 *                      builds) on stderr, to find the site that mishandles it
 *
 * The counter is atomic, but the order of allocations made by several
 * threads is not fixed: sweep with one thread (--threads 1). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);
int __real_posix_memalign(void **p, size_t align, size_t n);
void *__real_aligned_alloc(size_t align, size_t n);
int __real_vasprintf(char **s, const char *fmt, va_list ap);

void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);
int __wrap_posix_memalign(void **p, size_t align, size_t n);
void *__wrap_aligned_alloc(size_t align, size_t n);
int __wrap_vasprintf(char **s, const char *fmt, va_list ap);

/* From the sanitizer runtime, when there is one. */
void __sanitizer_print_stack_trace(void) __attribute__((weak));

static unsigned long counted, fail_at;
static int configured, trace;

static void configure(void)
{
    const char *v = getenv("VB_FAIL_ALLOC");
    fail_at = v ? strtoul(v, NULL, 10) : 0;
    trace = getenv("VB_FAIL_TRACE") != NULL;
    __atomic_store_n(&configured, 1, __ATOMIC_RELEASE);
}

/* Is this allocation the one to fail? */
static int fail_now(void)
{
    if (!__atomic_load_n(&configured, __ATOMIC_ACQUIRE))
        configure();
    unsigned long k = __atomic_add_fetch(&counted, 1, __ATOMIC_RELAXED);
    if (k != fail_at)
        return 0;
    if (trace) {
        fprintf(stderr, "inject: failing allocation %lu\n", k);
        if (__sanitizer_print_stack_trace)
            __sanitizer_print_stack_trace();
    }
    errno = ENOMEM;
    return 1;
}

void *__wrap_malloc(size_t n) { return fail_now() ? NULL : __real_malloc(n); }
void *__wrap_calloc(size_t n, size_t size) { return fail_now() ? NULL : __real_calloc(n, size); }
void *__wrap_realloc(void *p, size_t n) { return fail_now() ? NULL : __real_realloc(p, n); }
char *__wrap_strdup(const char *s) { return fail_now() ? NULL : __real_strdup(s); }
char *__wrap_strndup(const char *s, size_t n) { return fail_now() ? NULL : __real_strndup(s, n); }
void *__wrap_aligned_alloc(size_t align, size_t n) { return fail_now() ? NULL : __real_aligned_alloc(align, n); }

int __wrap_posix_memalign(void **p, size_t align, size_t n)
{
    return fail_now() ? ENOMEM : __real_posix_memalign(p, align, n);
}

int __wrap_vasprintf(char **s, const char *fmt, va_list ap)
{
    if (fail_now()) {
        *s = NULL; /* glibc leaves it undefined; callers here test the result */
        return -1;
    }
    return __real_vasprintf(s, fmt, ap);
}

__attribute__((destructor)) static void report_count(void)
{
    if (getenv("VB_COUNT_ALLOC"))
        fprintf(stderr, "inject: %lu allocations\n", __atomic_load_n(&counted, __ATOMIC_RELAXED));
}
