/* Timers, memory probe, thread settings, checked allocation, files. */
#define _GNU_SOURCE
#include "visbench/core.h"
#include "linalg.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>
#ifdef _OPENMP
#include <omp.h>
#endif

/* OpenBLAS's threading control; declared here so that core does not need
 * cblas.h. Resolved from libopenblas at link time. */
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
/* VLFeat keeps its own OpenMP thread count (vl/generic.h). */
void vl_set_num_threads(size_t n);

#define VB_HUGE_BYTES ((size_t)16 << 20)

uint32_t vb_crc32(const void *data, size_t len, uint32_t crc)
{
    const unsigned char *p = data;
    uLong c = crc;
    while (len > 0) {
        uInt chunk = len > 0x40000000u ? 0x40000000u : (uInt)len;
        c = crc32(c, p, chunk);
        p += chunk;
        len -= chunk;
    }
    return (uint32_t)c;
}

double vb_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

double vb_cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static size_t status_kb(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return 0;
    char line[256];
    size_t kb = 0, klen = strlen(key);
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
            kb = strtoull(line + klen + 1, NULL, 10);
            break;
        }
    }
    fclose(f);
    return kb;
}

size_t vb_rss_peak_kb(void)
{
    size_t kb = status_kb("VmHWM");
    if (kb == 0) {
        struct rusage ru;
        if (getrusage(RUSAGE_SELF, &ru) == 0)
            kb = (size_t)ru.ru_maxrss;
    }
    return kb;
}

size_t vb_rss_now_kb(void) { return status_kb("VmRSS"); }

void vb_rss_reset_peak(void)
{
    /* Writing 5 to clear_refs resets VmHWM to the current RSS (Linux >= 4.0). */
    int fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t r = write(fd, "5", 1);
        (void)r;
        close(fd);
    }
}

static int n_threads;

void vb_set_threads(int n)
{
    if (n <= 0) {
        long c = sysconf(_SC_NPROCESSORS_ONLN);
        n = c > 0 ? (int)c : 1;
    }
    n_threads = n;
#ifdef _OPENMP
    omp_set_num_threads(n);
#endif
    /* OpenBLAS stays single-threaded: our OpenMP threads share out GEMM
     * tiles (vb_sgemm), and a threaded OpenBLAS call gives other bits for
     * another thread count, and races with ours when called from inside
     * a parallel region. */
    openblas_set_num_threads(1);
    vl_set_num_threads((size_t)n);
}

int vb_blas_serial_enter(void)
{
#ifdef _OPENMP
    if (omp_in_parallel()) /* the setting is global: only the serial part of a program changes it */
        return 1;
#endif
    int saved = openblas_get_num_threads();
    if (saved != 1)
        openblas_set_num_threads(1);
    return saved;
}

void vb_blas_serial_leave(int saved)
{
    if (saved != 1)
        openblas_set_num_threads(saved);
}

int vb_get_threads(void)
{
    if (n_threads > 0)
        return n_threads;
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

int vb_mul_ok(size_t a, size_t b, size_t *out)
{
    size_t r;
    if (__builtin_mul_overflow(a, b, &r))
        return 0;
    *out = r;
    return 1;
}

void *vb_calloc(size_t n, size_t size, vb_error *err)
{
    size_t total;
    if (!vb_mul_ok(n, size, &total)) {
        vb_fail(err, VB_ERR_NOMEM, "allocation of %zu x %zu bytes overflows", n, size);
        return NULL;
    }
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        vb_fail(err, VB_ERR_NOMEM, "out of memory allocating %zu bytes", total);
    return p;
}

void *vb_malloc(size_t n, size_t size, vb_error *err)
{
    size_t total;
    if (!vb_mul_ok(n, size, &total)) {
        vb_fail(err, VB_ERR_NOMEM, "allocation of %zu x %zu bytes overflows", n, size);
        return NULL;
    }
    void *p = NULL;
    if (total >= VB_HUGE_BYTES) {
        /* Large buffers on 2 MB pages where the kernel lends them on
         * request (transparent huge pages in "madvise" mode): first
         * touching a 365 MB training copy then takes 175 faults, not
         * 90,000, and faults cost more than the copying here. */
        if (posix_memalign(&p, (size_t)2 << 20, total) != 0)
            p = NULL;
        else
            madvise(p, total, MADV_HUGEPAGE);
    } else {
        p = malloc(total ? total : 1);
    }
    if (!p)
        vb_fail(err, VB_ERR_NOMEM, "out of memory allocating %zu bytes", total);
    return p;
}

char *vb_strdup(const char *s, vb_error *err)
{
    char *d = strdup(s ? s : "");
    if (!d)
        vb_fail(err, VB_ERR_NOMEM, "out of memory");
    return d;
}

char *vb_asprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0)
        s = NULL;
    va_end(ap);
    return s;
}

vb_status vb_file_read_max(const char *path, size_t max, const char *what, char **data, size_t *len, vb_error *err)
{
    *data = NULL;
    if (len)
        *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return vb_fail(err, VB_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    /* A regular file's size is known before a byte is read; a pipe or a
     * device is cut off as it passes the limit. */
    struct stat sb;
    if (fstat(fileno(f), &sb) == 0 && S_ISREG(sb.st_mode) && (unsigned long long)sb.st_size > max) {
        fclose(f);
        return vb_fail(err, VB_ERR_FORMAT, "%s: %lld bytes, more than the %zu bytes %s may have", path,
                       (long long)sb.st_size, max, what);
    }
    vb_buf b;
    vb_buf_init(&b);
    char chunk[65536];
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (got > max - b.len) {
            fclose(f);
            vb_buf_free(&b);
            return vb_fail(err, VB_ERR_FORMAT, "%s: more than the %zu bytes %s may have", path, max, what);
        }
        vb_buf_append(&b, chunk, got);
    }
    int bad = ferror(f), why = errno;
    fclose(f);
    if (bad) {
        vb_buf_free(&b);
        return vb_fail(err, VB_ERR_IO, "%s: read error: %s", path, strerror(why));
    }
    vb_buf_append(&b, "", 1);
    if (b.failed) {
        vb_buf_free(&b);
        return vb_fail(err, VB_ERR_NOMEM, "%s: out of memory reading the file", path);
    }
    *data = b.data;
    if (len)
        *len = b.len - 1;
    return VB_OK;
}

/* Removes PATH.tmp.PID files that a process killed while writing PATH left
 * behind (its pid no longer runs). */
static void sweep_stale_temps(const char *path)
{
    char *dir = vb_path_dirname(path);
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t bl = strlen(base);
    DIR *d = dir ? opendir(dir) : NULL;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (strncmp(e->d_name, base, bl) != 0 || strncmp(e->d_name + bl, ".tmp.", 5) != 0)
            continue;
        const char *digits = e->d_name + bl + 5;
        long pid;
        if (!*digits || strspn(digits, "0123456789") != strlen(digits) || !vb_parse_long(digits, &pid) || pid <= 0 ||
            pid == (long)getpid())
            continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue; /* alive, or not ours to judge */
        char *full = vb_path_join(dir, e->d_name);
        if (full)
            unlink(full);
        free(full);
    }
    if (d)
        closedir(d);
    free(dir);
}

vb_status vb_file_read(const char *path, char **data, size_t *len, vb_error *err)
{
    return vb_file_read_max(path, SIZE_MAX - 1, "a file", data, len, err);
}

vb_status vb_file_write_atomic(const char *path, const void *data, size_t len, vb_error *err)
{
    sweep_stale_temps(path);
    char *tmp = vb_asprintf("%s.tmp.%ld", path, (long)getpid());
    if (!tmp)
        return vb_fail(err, VB_ERR_NOMEM, "out of memory");
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        vb_status st = vb_fail(err, VB_ERR_IO, "%s: cannot create the file: %s", path, strerror(errno));
        free(tmp);
        return st;
    }
    const char *p = data;
    size_t left = len;
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            vb_status st = vb_fail(err, VB_ERR_IO, "%s: write failed: %s", path, strerror(errno));
            close(fd);
            unlink(tmp);
            free(tmp);
            return st;
        }
        p += w;
        left -= (size_t)w;
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        vb_status st = vb_fail(err, VB_ERR_IO, "%s: write failed: %s", path, strerror(errno));
        unlink(tmp);
        free(tmp);
        return st;
    }
    if (rename(tmp, path) != 0) {
        vb_status st = vb_fail(err, VB_ERR_IO, "%s: cannot rename into place: %s", path, strerror(errno));
        unlink(tmp);
        free(tmp);
        return st;
    }
    free(tmp);
    return VB_OK;
}

vb_status vb_mkdirs(const char *path, vb_error *err)
{
    if (!path || !*path)
        return vb_fail(err, VB_ERR_IO, "cannot create a directory with an empty name");
    char *p = vb_strdup(path, err);
    if (!p)
        return VB_ERR_NOMEM;
    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = 0;
        if (mkdir(p, 0755) != 0 && errno != EEXIST) {
            vb_status st = vb_fail(err, VB_ERR_IO, "%s: cannot create directory: %s", p, strerror(errno));
            free(p);
            return st;
        }
        *s = '/';
    }
    if (mkdir(p, 0755) != 0 && errno != EEXIST) {
        vb_status st = vb_fail(err, VB_ERR_IO, "%s: cannot create directory: %s", p, strerror(errno));
        free(p);
        return st;
    }
    /* Like mkdir -p, an existing file of that name is an error. */
    struct stat sb;
    if (stat(p, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        vb_status st = vb_fail(err, VB_ERR_IO, "%s: cannot create directory: %s", p, strerror(EEXIST));
        free(p);
        return st;
    }
    free(p);
    return VB_OK;
}

char *vb_path_join(const char *dir, const char *path)
{
    if (!path)
        return NULL;
    /* "./x" is "x", and "." is the folder itself, so messages show clean paths. */
    while (path[0] == '.' && path[1] == '/')
        path += 2;
    if (strcmp(path, ".") == 0 || !*path)
        return strdup(dir && *dir ? dir : ".");
    if (path[0] == '/' || !dir || !*dir || strcmp(dir, ".") == 0)
        return strdup(path);
    size_t n = strlen(dir);
    return vb_asprintf("%s%s%s", dir, dir[n - 1] == '/' ? "" : "/", path);
}

char *vb_path_dirname(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return strdup(".");
    if (slash == path)
        return strdup("/");
    return strndup(path, (size_t)(slash - path));
}

/* Start time of a process in clock ticks since boot (field 22 of
 * /proc/PID/stat), so that a reused pid is not taken for the old process;
 * 0 when there is no such process or it has died and only waits to be
 * reaped (a zombie, state Z or X, holds no claim any more). */
unsigned long long vb_proc_start(long pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')'); /* the command name may hold spaces */
    if (!p)
        return 0;
    unsigned long long v = 0;
    int field = 2;
    char *save = NULL;
    for (char *tok = strtok_r(p + 1, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
        if (++field == 3 && (tok[0] == 'Z' || tok[0] == 'X'))
            return 0;
        if (field == 22) {
            v = strtoull(tok, NULL, 10);
            break;
        }
    }
    return v;
}
