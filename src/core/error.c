/* Status codes, error slots, and the log / progress / interrupt hooks. */
#include "visbench/core.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

/* A message is one line: control characters from the input it quotes (a
 * folded multi-line YAML value, a file name) are written as \n, \t, \r or
 * \xHH. */
static void one_line(char *msg, size_t cap)
{
    char out[sizeof ((vb_error *)0)->msg];
    size_t n = 0;
    for (const unsigned char *c = (const unsigned char *)msg; *c; c++) {
        int plain = *c >= 0x20 && *c != 0x7f, named = *c == '\n' || *c == '\t' || *c == '\r';
        if (n + (plain ? 1 : named ? 2 : 4) >= sizeof out)
            break;
        if (plain)
            out[n++] = (char)*c;
        else if (named) {
            out[n++] = '\\';
            out[n++] = *c == '\n' ? 'n' : *c == '\t' ? 't' : 'r';
        } else
            n += (size_t)snprintf(out + n, sizeof out - n, "\\x%02x", *c);
    }
    out[n] = 0;
    n = n < cap ? n : cap - 1;
    memcpy(msg, out, n);
    msg[n] = 0;
}

vb_status vb_fail(vb_error *err, vb_status st, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        one_line(err->msg, sizeof err->msg);
        err->status = st;
    }
    return st;
}

vb_status vb_error_prefix(vb_error *err, const char *fmt, ...)
{
    if (!err)
        return VB_ERR_INTERNAL;
    char head[512], old[sizeof err->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(head, sizeof head, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    /* Truncation of an over-long message is fine; build it by hand so the
     * compiler's truncation warning does not apply. */
    size_t cap = sizeof err->msg - 1, n = 0;
    for (const char *parts[] = {head, ": ", old}, **p = parts; p < parts + 3; p++)
        for (const char *c = *p; *c && n < cap; c++)
            err->msg[n++] = *c;
    err->msg[n] = 0;
    one_line(err->msg, sizeof err->msg);
    return err->status;
}

const char *vb_status_name(vb_status st)
{
    static const char *const names[] = {
        "ok", "out of memory", "I/O error", "format error", "spec error",
        "parameter error", "data error", "state error", "numeric error",
        "interrupted", "internal error"};
    if ((unsigned)st < sizeof names / sizeof names[0])
        return names[st];
    return "unknown status";
}

static vb_log_fn log_fn;
static void *log_user;

void vb_log_set_hook(vb_log_fn fn, void *user)
{
    log_fn = fn;
    log_user = user;
}

void vb_log(vb_log_level level, const char *fmt, ...)
{
    if (!log_fn)
        return;
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    log_fn(log_user, level, msg);
}

static vb_progress_fn progress_fn;
static void *progress_user;

void vb_progress_set_hook(vb_progress_fn fn, void *user)
{
    progress_fn = fn;
    progress_user = user;
}

void vb_progress(const char *stage, size_t done, size_t total)
{
    if (progress_fn)
        progress_fn(progress_user, stage, done, total);
}

static volatile sig_atomic_t interrupt_flag;

void vb_interrupt_request(void) { interrupt_flag = 1; }
void vb_interrupt_clear(void) { interrupt_flag = 0; }
int vb_interrupted(void) { return interrupt_flag != 0; }
