/* Strict number parsing, edit distance for "did you mean", a growable buffer. */
#define _GNU_SOURCE
#include "visbench/core.h"

#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <pthread.h>
#include <string.h>

static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;
static void c_locale_init(void) { c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0); }

/* The C numeric locale, created once; (locale_t)0 if that failed. */
static locale_t vb_c_locale(void)
{
    pthread_once(&c_locale_once, c_locale_init);
    return c_locale;
}

/* strtol/strtod skip leading white space; a strict parse does not. */
static int starts_with_space(const char *s) { return *s == ' ' || (*s >= '\t' && *s <= '\r'); }

int vb_parse_long(const char *s, long *out)
{
    if (!s || !*s || starts_with_space(s))
        return 0;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || end == s)
        return 0;
    *out = v;
    return 1;
}

int vb_parse_double(const char *s, double *out)
{
    if (!s || !*s || starts_with_space(s))
        return 0;
    /* strtod follows LC_NUMERIC; the spec and files always use '.', so
     * parse in the C locale. */
    locale_t c = vb_c_locale();
    char *end;
    errno = 0;
    double v = c ? strtod_l(s, &end, c) : strtod(s, &end);
    int ok = !(errno == ERANGE && (v == HUGE_VAL || v == -HUGE_VAL)) && !*end && end != s;
    if (!ok)
        return 0;
    *out = v;
    return 1;
}

int vb_edit_distance(const char *a, const char *b)
{
    /* Optimal string alignment: insertions, deletions, substitutions and
     * transpositions of adjacent characters, with three rolling rows
     * (a transposition needs the row two back). */
    size_t la = strlen(a), lb = strlen(b);
    int small[3 * 65], *buf = small;
    if (lb > 64 && !(buf = malloc(3 * (lb + 1) * sizeof *buf)))
        return 255;
    int *prev2 = buf, *prev = buf + (lb + 1), *row = buf + 2 * (lb + 1);
    for (size_t j = 0; j <= lb; j++)
        row[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        int *t = prev2;
        prev2 = prev;
        prev = row;
        row = t;
        row[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int cost = a[i - 1] == b[j - 1] ? 0 : 1;
            int best = prev[j - 1] + cost;
            if (prev[j] + 1 < best)
                best = prev[j] + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && prev2[j - 2] + 1 < best)
                best = prev2[j - 2] + 1;
            row[j] = best;
        }
    }
    int d = row[lb];
    if (buf != small)
        free(buf);
    return d > 255 ? 255 : d;
}

const char *vb_nearest_name(const char *s, const char *const *names, size_t n)
{
    const char *best = NULL;
    int bestd = 1 << 30;
    for (size_t i = 0; i < n; i++) {
        int d = vb_edit_distance(s, names[i]);
        if (d < bestd) {
            bestd = d;
            best = names[i];
        }
    }
    /* Close enough: at most a third of the longer word, and at most 3 edits. */
    size_t len = strlen(s);
    if (best && strlen(best) > len)
        len = strlen(best);
    if (best && bestd <= 3 && (size_t)bestd * 3 <= len)
        return best;
    return NULL;
}

void vb_buf_init(vb_buf *b) { memset(b, 0, sizeof *b); }

void vb_buf_free(vb_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

void vb_buf_append(vb_buf *b, const void *data, size_t len)
{
    if (b->failed || len == 0)
        return;
    if (b->len + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + len + 1) {
            if (cap > SIZE_MAX / 2) {
                b->failed = 1;
                return;
            }
            cap *= 2;
        }
        char *d = realloc(b->data, cap);
        if (!d) {
            b->failed = 1;
            return;
        }
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = 0;
}

void vb_buf_puts(vb_buf *b, const char *s) { vb_buf_append(b, s, strlen(s)); }

void vb_buf_printf(vb_buf *b, const char *fmt, ...)
{
    char small[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = 1;
        return;
    }
    if ((size_t)n < sizeof small) {
        vb_buf_append(b, small, (size_t)n);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (!big) {
        b->failed = 1;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    vb_buf_append(b, big, (size_t)n);
    free(big);
}

void vb_buf_json_str(vb_buf *b, const char *s)
{
    vb_buf_append(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        switch (*p) {
        case '"': vb_buf_puts(b, "\\\""); break;
        case '\\': vb_buf_puts(b, "\\\\"); break;
        case '\n': vb_buf_puts(b, "\\n"); break;
        case '\r': vb_buf_puts(b, "\\r"); break;
        case '\t': vb_buf_puts(b, "\\t"); break;
        default:
            if (*p < 0x20)
                vb_buf_printf(b, "\\u%04x", *p);
            else
                vb_buf_append(b, p, 1);
        }
    }
    vb_buf_append(b, "\"", 1);
}

void vb_buf_csv_field(vb_buf *b, const char *s)
{
    s = s ? s : "";
    if (!strpbrk(s, ",\"\n\r")) {
        vb_buf_puts(b, s);
        return;
    }
    vb_buf_puts(b, "\"");
    for (const char *p = s; *p; p++) {
        if (*p == '"')
            vb_buf_puts(b, "\"");
        vb_buf_append(b, p, 1);
    }
    vb_buf_puts(b, "\"");
}

void vb_buf_double(vb_buf *b, double v)
{
    if (isnan(v) || isinf(v)) {
        vb_buf_puts(b, "null");
        return;
    }
    /* The shortest of %.15g..%.17g that reads back to the same double, so
     * 0.9 prints as 0.9 and every value still round-trips. */
    locale_t c = vb_c_locale();
    locale_t old = c ? uselocale(c) : (locale_t)0;
    char tmp[40];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, v);
        if (prec == 17 || (c ? strtod_l(tmp, NULL, c) : strtod(tmp, NULL)) == v)
            break;
    }
    if (c)
        uselocale(old);
    vb_buf_puts(b, tmp);
}
