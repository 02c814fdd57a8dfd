/* Shared by the libFuzzer targets (fuzz/NAME.c, built by make fuzz). */
#ifndef VB_FUZZ_H
#define VB_FUZZ_H

#include "visbench/data.h"
#include "visbench/visbench.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A broken promise of the library's contract: abort, so libFuzzer keeps
 * the input. */
#define FUZZ_REQUIRE(cond, ...)                                                                                     \
    do {                                                                                                        \
        if (!(cond)) {                                                                                          \
            fprintf(stderr, "fuzz: %s failed: ", #cond);                                                        \
            fprintf(stderr, __VA_ARGS__);                                                                       \
            fputc('\n', stderr);                                                                                \
            abort();                                                                                            \
        }                                                                                                       \
    } while (0)

/* A private folder for the files a target writes, made once per process
 * (in /dev/shm when there is one: no disk writes per input) and removed at
 * exit. */
static char fuzz_dir_path[64];

static void fuzz_dir_remove(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", fuzz_dir_path);
    if (system(cmd) != 0)
        fprintf(stderr, "fuzz: could not remove %s\n", fuzz_dir_path);
}

static inline const char *fuzz_dir(void)
{
    if (!fuzz_dir_path[0]) {
        snprintf(fuzz_dir_path, sizeof fuzz_dir_path, "%s/vbfuzz.XXXXXX",
                 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
        if (!mkdtemp(fuzz_dir_path))
            abort();
        atexit(fuzz_dir_remove);
        vb_set_threads(1);
    }
    return fuzz_dir_path;
}

/* fuzz_dir()/name in buf. */
static inline const char *fuzz_path(char *buf, size_t cap, const char *name)
{
    snprintf(buf, cap, "%s/%s", fuzz_dir(), name);
    return buf;
}

static inline void fuzz_write(const char *path, const void *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0)
        abort();
}

/* A failure carries one message that names the file it is about. */
static inline void fuzz_require_named(vb_status st, const vb_error *err, const char *name)
{
    FUZZ_REQUIRE(err->msg[0] != 0, "status %s without a message", vb_status_name(st));
    FUZZ_REQUIRE(st == VB_ERR_NOMEM || strstr(err->msg, name), "'%s' does not name %s", err->msg, name);
    FUZZ_REQUIRE(!strchr(err->msg, '\n'), "'%s' is more than one line", err->msg);
}

/* Loads the descriptor desc (written to fuzz_dir()/d.yaml) and checks the
 * loader's contract: a dataset with samples and classes, or none and one
 * message naming a file under fuzz_dir() (or, with abs_ok, any absolute
 * path the message starts with: a manifest may list one). Returns the
 * sample count, 0 on failure. */
static inline size_t fuzz_load_dataset(const char *desc, int abs_ok)
{
    char p[128];
    fuzz_write(fuzz_path(p, sizeof p, "d.yaml"), desc, strlen(desc));
    vb_dataset *ds = (vb_dataset *)1;
    vb_error err = {0};
    vb_status st = vb_dataset_load_path(p, &ds, &err);
    if (st != VB_OK) {
        FUZZ_REQUIRE(ds == NULL, "a dataset despite '%s'", err.msg);
        fuzz_require_named(st, &err, abs_ok && err.msg[0] == '/' ? "/" : fuzz_dir());
        return 0;
    }
    FUZZ_REQUIRE(ds && ds->n > 0 && ds->n_classes > 0, "an empty dataset");
    size_t n = ds->n;
    vb_dataset_free(ds);
    return n;
}

#endif
