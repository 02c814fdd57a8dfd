/* visbench core: status codes with a message, log and progress hooks, the one
 * seeded RNG, monotonic timers, a peak-memory probe and small checked helpers.
 *
 * Error convention used by every module: a fallible function returns a
 * vb_status and, when it fails, fills the caller's vb_error (which may be NULL
 * when the caller does not want the text).  Library code never prints and
 * never exits; it reports through vb_log() and vb_progress(), whose hooks the
 * application (the CLI) installs.
 *
 *     vb_error err = {0};
 *     vb_image *img = NULL;
 *     if (vb_image_load("cat.png", &img, &err) != VB_OK)
 *         fprintf(stderr, "%s\n", err.msg);
 */
#ifndef VISBENCH_CORE_H
#define VISBENCH_CORE_H

#include <stddef.h>
#include <stdint.h>
#include <stdarg.h>

#define VB_VERSION "0.1.0"

#if defined(__GNUC__)
#define VB_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define VB_MUST_USE __attribute__((warn_unused_result))
#else
#define VB_PRINTF(a, b)
#define VB_MUST_USE
#endif

typedef enum vb_status {
    VB_OK = 0,
    VB_ERR_NOMEM,       /* allocation failed or a size overflowed */
    VB_ERR_IO,          /* a file could not be opened, read or written */
    VB_ERR_FORMAT,      /* a file's contents are not what they claim */
    VB_ERR_SPEC,        /* a spec or descriptor is invalid */
    VB_ERR_PARAM,       /* a parameter value is invalid */
    VB_ERR_DATA,        /* the data cannot be used (empty class, NaN, ...) */
    VB_ERR_STATE,       /* an object is used in the wrong state */
    VB_ERR_NUMERIC,     /* a computation diverged (NaN loss, singular matrix) */
    VB_ERR_INTERRUPTED, /* the user asked to stop */
    VB_ERR_INTERNAL     /* a bug in visbench or a library it calls */
} vb_status;

/* An error slot: the status and one message for a person. */
typedef struct vb_error {
    vb_status status;
    char msg[1024];
} vb_error;

/* Sets err (if not NULL) and returns st, so `return vb_fail(err, ...)` reads well. */
vb_status vb_fail(vb_error *err, vb_status st, const char *fmt, ...) VB_PRINTF(3, 4);
/* Prepends "context: " to the message already in err; returns err's status. */
vb_status vb_error_prefix(vb_error *err, const char *fmt, ...) VB_PRINTF(2, 3);
const char *vb_status_name(vb_status st);

/* ---- log hook ---------------------------------------------------------- */
typedef enum vb_log_level { VB_LOG_DEBUG, VB_LOG_INFO, VB_LOG_WARN } vb_log_level;
typedef void (*vb_log_fn)(void *user, vb_log_level level, const char *msg);
/* Installs the hook (NULL silences the library, the default). Not thread-safe
 * against concurrent vb_log(); install it once at start-up. */
void vb_log_set_hook(vb_log_fn fn, void *user);
void vb_log(vb_log_level level, const char *fmt, ...) VB_PRINTF(2, 3);

/* ---- progress hook ----------------------------------------------------- */
/* stage names the work ("extract hog", "train svm"); done of total units.
 * done == total marks the end of a stage. Called from one thread only. */
typedef void (*vb_progress_fn)(void *user, const char *stage, size_t done, size_t total);
void vb_progress_set_hook(vb_progress_fn fn, void *user);
void vb_progress(const char *stage, size_t done, size_t total);

/* ---- interruption ------------------------------------------------------ */
/* A signal handler may call vb_interrupt_request(); long loops poll
 * vb_interrupted() and return VB_ERR_INTERRUPTED. */
void vb_interrupt_request(void);
void vb_interrupt_clear(void);
int vb_interrupted(void);

/* ---- RNG --------------------------------------------------------------- */
/* The one random source (GSL's MT19937 behind a small interface). Streams
 * are derived from (seed, purpose) with vb_seed_derive so that every
 * pipeline, fold and thread draws the same numbers whatever order or
 * subset of the work runs. */
typedef struct vb_rng vb_rng;
vb_rng *vb_rng_new(uint64_t seed);
void vb_rng_free(vb_rng *rng);
uint32_t vb_rng_u32(vb_rng *rng);
uint64_t vb_rng_u64(vb_rng *rng);
double vb_rng_uniform(vb_rng *rng);                 /* [0, 1) */
size_t vb_rng_below(vb_rng *rng, size_t n);         /* [0, n), n > 0 */
double vb_rng_gauss(vb_rng *rng, double sigma);     /* N(0, sigma^2) */
void vb_rng_shuffle(vb_rng *rng, size_t *a, size_t n);
/* Mixes a seed with a label and an index into a new 64-bit seed (splitmix64
 * over an FNV-1a hash of the label). */
uint64_t vb_seed_derive(uint64_t seed, const char *label, uint64_t index);

/* Assigns n labelled rows (labels in [0, n_classes)) to k folds,
 * stratified: a shuffle seeded by seed, then each class dealt round-robin,
 * so class counts per fold differ by at most one. fold receives n values in
 * [0, k). Used for inner cross-validation (calibration, grid tuning). */
vb_status vb_stratified_folds(const int *y, size_t n, int n_classes, int k, uint64_t seed, int *fold, vb_error *err);

/* ---- hashing ----------------------------------------------------------- */
uint64_t vb_hash64(const void *data, size_t len, uint64_t h); /* FNV-1a; h = 0 to start */
uint32_t vb_crc32(const void *data, size_t len, uint32_t crc); /* zlib crc32 */

/* ---- time and memory --------------------------------------------------- */
double vb_now(void);             /* monotonic seconds */
double vb_cpu_seconds(void);     /* process CPU time */
size_t vb_rss_peak_kb(void);     /* peak resident set since the last reset */
void vb_rss_reset_peak(void);    /* best effort (Linux clear_refs) */
size_t vb_rss_now_kb(void);
/* Start time of process pid in clock ticks since boot (Linux /proc), so a
 * reused pid is not taken for the old process; 0 when there is no such
 * process or it is a zombie waiting to be reaped. */
unsigned long long vb_proc_start(long pid);

/* ---- threads ----------------------------------------------------------- */
/* Sets the thread count for OpenMP and OpenBLAS (0 = all cores). */
void vb_set_threads(int n);
int vb_get_threads(void);

/* ---- checked allocation ------------------------------------------------ */
/* Multiplies with overflow check; returns 0 on overflow. */
int vb_mul_ok(size_t a, size_t b, size_t *out);
/* calloc(n, size) with overflow check; sets err on failure. */
void *vb_calloc(size_t n, size_t size, vb_error *err);
/* malloc(n * size) with overflow check; sets err on failure. */
void *vb_malloc(size_t n, size_t size, vb_error *err);
char *vb_strdup(const char *s, vb_error *err);
/* malloc'ed printf; NULL on failure. */
char *vb_asprintf(const char *fmt, ...) VB_PRINTF(1, 2);

/* ---- small string and number helpers ----------------------------------- */
/* Strict parse of a whole string: no trailing junk, no overflow. */
int vb_parse_long(const char *s, long *out);
int vb_parse_double(const char *s, double *out);
/* Levenshtein distance, capped at 255. */
int vb_edit_distance(const char *a, const char *b);
/* The nearest of names[0..n) to s, or NULL when none is close enough. */
const char *vb_nearest_name(const char *s, const char *const *names, size_t n);

/* ---- files ------------------------------------------------------------- */
/* Reads a whole file into a malloc'ed buffer (NUL-terminated). */
vb_status vb_file_read(const char *path, char **data, size_t *len, vb_error *err);
/* The same for a file of at most max bytes: a larger one is VB_ERR_FORMAT
 * ("PATH: N bytes, more than the MAX bytes WHAT may have"), refused before
 * it is read when it is a regular file. */
vb_status vb_file_read_max(const char *path, size_t max, const char *what, char **data, size_t *len,
                           vb_error *err);
/* Writes data to path atomically: a temporary file beside it (PATH.tmp.PID), fsync, rename. Temporary
 * files of PATH left by a process that died mid-write are removed first. */
vb_status vb_file_write_atomic(const char *path, const void *data, size_t len, vb_error *err);
/* mkdir -p */
vb_status vb_mkdirs(const char *path, vb_error *err);
/* Joins a directory and a relative path (an absolute path is returned as is). */
char *vb_path_join(const char *dir, const char *path);
/* Directory part of a path ("." when there is none); malloc'ed. */
char *vb_path_dirname(const char *path);

/* ---- growable text/byte buffer ----------------------------------------- */
typedef struct vb_buf {
    char *data;
    size_t len, cap;
    int failed; /* set when an allocation failed; further appends do nothing */
} vb_buf;
void vb_buf_init(vb_buf *b);
void vb_buf_free(vb_buf *b);
void vb_buf_append(vb_buf *b, const void *data, size_t len);
void vb_buf_printf(vb_buf *b, const char *fmt, ...) VB_PRINTF(2, 3);
void vb_buf_puts(vb_buf *b, const char *s);
/* Appends s as a JSON string literal (quoted and escaped). */
void vb_buf_json_str(vb_buf *b, const char *s);
/* Appends s as one CSV field (RFC 4180: quoted when it holds a comma, a
 * quote or a line break; quotes doubled). */
void vb_buf_csv_field(vb_buf *b, const char *s);
/* Appends a double with %.17g in the C locale regardless of the process locale. */
void vb_buf_double(vb_buf *b, double v);

#endif
