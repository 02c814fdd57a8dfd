/* report: escaping, SVG charts on hand-made data, and reports of stores
 * built by hand (one pipeline, failures, no curves, CV only, test only). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "support/testutil.h"
#include "visbench/chart.h"
#include "visbench/across.h"
#include "visbench/report.h"
#include "visbench/spec.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HOSTILE_CLASS "<img src=x onerror=alert(1)>"
#define HOSTILE_CLASS_ESC "&lt;img src=x onerror=alert(1)&gt;"
#define HOSTILE_PIPE "q\"uo'te & <b>amp</b>"
#define HOSTILE_PIPE_ESC "q&quot;uo&#39;te &amp; &lt;b&gt;amp&lt;/b&gt;"
#define HOSTILE_ERROR "<script>alert('x')</script> went wrong"

/* ---- small text helpers ---------------------------------------------------- */

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0, len = strlen(needle);
    for (const char *p = strstr(hay, needle); p; p = strstr(p + len, needle))
        n++;
    return n;
}

/* Every '&' starts a well-formed character reference: truncation never
 * cuts an entity and nothing raw slips through. */
static void assert_entities_ok(const char *html)
{
    for (const char *p = strchr(html, '&'); p; p = strchr(p + 1, '&')) {
        /* inside our scripts '&' is JavaScript */
        const char *open = NULL;
        for (const char *q = strstr(html, "<script>"); q && q < p; q = strstr(q + 1, "<script>"))
            open = q;
        const char *close = open ? strstr(open, "</script>") : NULL;
        if (open && close && p < close)
            continue;
        const char *q = p + 1;
        if (*q == '#') {
            q++;
            while (isalnum((unsigned char)*q))
                q++;
        } else
            while (isalpha((unsigned char)*q))
                q++;
        if (*q != ';' || q == p + 1)
            fail_msg("malformed character reference at: %.40s", p);
    }
}

/* The element <tag ... id="id" ...> must exist, and its <g class="data">
 * must draw something (a rect, path or circle) before the chart ends. */
static void assert_chart_drawn(const char *html, const char *id)
{
    char key[96];
    snprintf(key, sizeof key, "id=\"%s\"", id);
    const char *p = strstr(html, key);
    if (!p)
        fail_msg("chart %s is missing", id);
    const char *end = strstr(p, "</svg>");
    const char *data = strstr(p, "<g class=\"data\"");
    assert_non_null(end);
    if (!data || data > end)
        fail_msg("chart %s has no data group", id);
    size_t len = (size_t)(end - data);
    char *g = strndup(data, len);
    int drawn = strstr(g, "<rect") || strstr(g, "<path") || strstr(g, "<circle");
    free(g);
    if (!drawn)
        fail_msg("chart %s draws nothing", id);
}

/* Every chart the page lists for its self-check exists and draws. */
static void assert_expected_charts(const char *html)
{
    const char *p = strstr(html, "data-expected=\"");
    assert_non_null(p);
    p += strlen("data-expected=\"");
    const char *end = strchr(p, '"');
    char *list = strndup(p, (size_t)(end - p));
    for (char *tok = strtok(list, " "); tok; tok = strtok(NULL, " "))
        assert_chart_drawn(html, tok);
    free(list);
}

/* The data group of the first chart (malloc'ed). */
static char *data_group(const char *svg)
{
    const char *a = strstr(svg, "<g class=\"data\"");
    assert_non_null(a);
    const char *z = strstr(a, "</svg>");
    assert_non_null(z);
    return strndup(a, (size_t)(z - a));
}

/* Numeric attribute `name` of the i-th `<tag` in s. */
static double attr_of(const char *s, const char *tag, size_t i, const char *name)
{
    const char *p = s;
    for (size_t k = 0; k <= i; k++) {
        p = strstr(p, tag);
        assert_non_null(p);
        p += strlen(tag);
    }
    char key[32];
    snprintf(key, sizeof key, " %s=\"", name);
    const char *a = strstr(p, key);
    const char *close = strchr(p, '>');
    assert_non_null(a);
    assert_true(a < close);
    return strtod(a + strlen(key), NULL);
}

/* ---- CSV parsing (RFC 4180) ----------------------------------------------- */

/* Parses one record at *p into fields (malloc'ed); returns the count. */
static size_t csv_record(const char **p, char **fields, size_t max)
{
    size_t n = 0;
    const char *s = *p;
    for (;;) {
        vb_buf f;
        vb_buf_init(&f);
        if (*s == '"') {
            s++;
            for (;;) {
                if (*s == '"' && s[1] == '"') {
                    vb_buf_append(&f, "\"", 1);
                    s += 2;
                } else if (*s == '"') {
                    s++;
                    break;
                } else {
                    assert_true(*s != 0);
                    vb_buf_append(&f, s++, 1);
                }
            }
        } else
            while (*s && *s != ',' && *s != '\n')
                vb_buf_append(&f, s++, 1);
        assert_true(n < max);
        fields[n++] = f.data ? f.data : strdup("");
        if (*s == ',') {
            s++;
            continue;
        }
        if (*s == '\n')
            s++;
        break;
    }
    *p = s;
    return n;
}

/* ---- charts ---------------------------------------------------------------- */

static void test_ticks(void **state)
{
    double t[32];
    size_t n = vb_chart_ticks(0, 1, 0, t, 32);
    assert_int_equal(n, 6);
    for (size_t i = 0; i < 6; i++)
        assert_float_equal(t[i], 0.2 * (double)i, 1e-12);
    n = vb_chart_ticks(0.02, 0.1, 1, t, 32); /* within a decade: 1, 2, 3, 5 */
    assert_int_equal(n, 4);
    assert_float_equal(t[0], 0.02, 1e-15);
    assert_float_equal(t[1], 0.03, 1e-15);
    assert_float_equal(t[2], 0.05, 1e-15);
    assert_float_equal(t[3], 0.1, 1e-15);
    n = vb_chart_ticks(1, 1e6, 1, t, 32); /* six decades: powers of ten only */
    assert_int_equal(n, 7);
    assert_float_equal(t[6], 1e6, 1e-6);
    n = vb_chart_ticks(-5, 35, 0, t, 32); /* step 10 */
    assert_int_equal(n, 4);
    assert_float_equal(t[0], 0, 0);
    assert_float_equal(t[3], 30, 0);
    assert_int_equal(vb_chart_ticks(0.5, 0.5, 0, t, 32), 0);
    assert_int_equal(vb_chart_ticks(0, 10, 1, t, 32), 0); /* log of 0 */
    assert_int_equal(vb_chart_ticks(0, 1, 0, t, 3), 3);  /* capped */
}

/* Three bars: three rects whose widths are proportional to the values,
 * ticks 0.0 .. 1.0, the axis title, error bars and dots. */
static void test_bars(void **state)
{
    const double dots[3] = {0.3, 0.4, 0.5};
    vb_bar bars[3] = {{.label = "a", .value = 0.2, .err = NAN, .marker = NAN, .color = 0},
                      {.label = "b", .value = 0.4, .err = 0.1, .dots = dots, .n_dots = 3, .marker = 0.45, .color = 1},
                      {.label = "c", .value = 0.8, .err = NAN, .marker = NAN, .color = 2}};
    vb_bar_chart c = {.id = "bars", .title = "t", .x = {"accuracy", 0, 1, 0, 0}, .value_legend = "mean",
                      .dots_legend = "fold", .marker_legend = "test", .n = 3, .bars = bars};
    vb_buf b;
    vb_buf_init(&b);
    vb_chart_bars(&c, &b);
    assert_false(b.failed);
    assert_non_null(strstr(b.data, "<svg"));
    assert_non_null(strstr(b.data, "id=\"bars\""));
    assert_non_null(strstr(b.data, ">accuracy</text>"));
    for (int i = 0; i <= 10; i += 2) {
        char tick[32];
        snprintf(tick, sizeof tick, ">%.1f</text>", i / 10.0);
        if (!strstr(b.data, tick))
            fail_msg("tick %s missing", tick);
    }
    char *g = data_group(b.data);
    assert_int_equal(count(g, "<rect"), 3);
    double w0 = attr_of(g, "<rect", 0, "width"), w1 = attr_of(g, "<rect", 1, "width"),
           w2 = attr_of(g, "<rect", 2, "width");
    double x0 = attr_of(g, "<rect", 0, "x"), x2 = attr_of(g, "<rect", 2, "x");
    assert_float_equal(x0, x2, 0); /* all start at 0 */
    assert_true(w0 > 10);
    assert_float_equal(w1 / w0, 2.0, 0.01);
    assert_float_equal(w2 / w0, 4.0, 0.01);
    /* bar heights equal; rows go down */
    assert_float_equal(attr_of(g, "<rect", 0, "height"), attr_of(g, "<rect", 2, "height"), 0);
    assert_true(attr_of(g, "<rect", 2, "y") > attr_of(g, "<rect", 0, "y"));
    assert_int_equal(count(g, "<circle"), 3); /* the dots */
    assert_int_equal(count(g, "<path"), 2);   /* one error bar, one diamond */
    free(g);
    /* A bar without a value says so and draws nothing. */
    vb_bar none = {.label = "x", .value = NAN, .err = NAN, .marker = NAN};
    vb_bar_chart c2 = {.id = "none", .x = {"accuracy", 0, 1, 0, 0}, .n = 1, .bars = &none};
    vb_buf_free(&b);
    vb_buf_init(&b);
    vb_chart_bars(&c2, &b);
    g = data_group(b.data);
    assert_int_equal(count(g, "<rect") + count(g, "<path") + count(g, "<circle"), 0);
    assert_non_null(strstr(g, "no result"));
    free(g);
    vb_buf_free(&b);
}

static void test_pareto(void **state)
{
    /* (time, accuracy): C is beaten by B (faster, more accurate), E ties
     * B exactly (both stay), F has no time. */
    const double x[6] = {1, 2, 3, 4, 2, NAN}, y[6] = {0.5, 0.7, 0.6, 0.9, 0.7, 0.99};
    int on[6];
    assert_int_equal(vb_pareto_front(x, y, 6, 1, on), 4);
    const int want[6] = {1, 1, 0, 1, 1, 0};
    assert_memory_equal(on, want, sizeof want);
    /* Higher x better (throughput): D dominates everything. */
    assert_int_equal(vb_pareto_front(x, y, 6, 0, on), 1);
    assert_int_equal(on[3], 1);
    /* Trade-off without domination: all on the front. */
    const double x2[3] = {1, 10, 100}, y2[3] = {0.1, 0.5, 0.9};
    assert_int_equal(vb_pareto_front(x2, y2, 3, 1, on), 3);
    assert_int_equal(vb_pareto_front(x2, y2, 0, 1, on), 0);
}

static void test_scatter(void **state)
{
    vb_point pts[5] = {{"fast", 1, 0.5, 0}, {"mid", 2, 0.7, 1}, {"slow-worse", 3, 0.6, 2},
                       {"slow", 4, 0.9, 3}, {"bad & <gone>", 0, 0.8, 4}}; /* x = 0: not on a log axis */
    vb_scatter c = {.id = "sc", .title = "s", .x = {"time (s)", NAN, NAN, 1, 0}, .y = {"accuracy", NAN, NAN, 0, 0},
                    .n = 5, .pts = pts, .x_lower_better = 1};
    vb_buf b;
    vb_buf_init(&b);
    vb_chart_scatter(&c, &b);
    char *g = data_group(b.data);
    assert_int_equal(count(g, "<circle"), 4);
    assert_int_equal(count(g, "stroke=\"#000\" stroke-width=\"2\""), 3); /* ringed: the front */
    assert_int_equal(count(g, "Pareto front)"), 3);
    assert_int_equal(count(g, "<path"), 1); /* the front line through 3 points */
    const char *d = strstr(g, "<path d=\"");
    assert_non_null(d);
    size_t ls = 0;
    for (const char *q = d + 9; *q != '"'; q++)
        ls += *q == 'L';
    assert_int_equal(ls, 2);
    free(g);
    assert_non_null(strstr(b.data, "(log scale)"));
    assert_null(strstr(b.data, "<gone>"));
    assert_entities_ok(b.data);
    vb_buf_free(&b);
}

static void test_lines(void **state)
{
    const double x[5] = {1, 2, 3, 4, 5}, y[5] = {0.1, 0.2, NAN, 0.4, 0.5}, none[5] = {NAN, NAN, NAN, NAN, NAN};
    vb_series s[2] = {{"broken", x, y, 5, 0, 0}, {"empty", x, none, 5, 13, 1}};
    vb_line_chart c = {.id = "ln", .title = "l", .x = {"epoch", NAN, NAN, 0, 0}, .y = {"loss", NAN, NAN, 0, 0}, .n = 2,
                       .series = s, .markers = 1};
    vb_buf b;
    vb_buf_init(&b);
    vb_chart_lines(&c, &b);
    char *g = data_group(b.data);
    assert_int_equal(count(g, "<path"), 1); /* the empty series draws no path */
    const char *d = strstr(g, "<path d=\"");
    size_t ms = 0;
    for (const char *q = d + 9; *q != '"'; q++)
        ms += *q == 'M';
    assert_int_equal(ms, 2); /* the NaN breaks the line */
    assert_int_equal(count(g, "<circle"), 4);
    free(g);
    assert_non_null(strstr(b.data, ">broken</text>"));
    assert_non_null(strstr(b.data, ">empty</text>")); /* still in the legend */
    assert_non_null(strstr(b.data, "stroke-dasharray=\"9 3 2 3\"")); /* style 13 (second variant) + dashed */
    vb_buf_free(&b);
}

static void test_heatmap(void **state)
{
    const char *rows[2] = {HOSTILE_CLASS, "b"}, *cols[3] = {"x", "y", "z&z"};
    const double v[6] = {1, 2, 3, 4, 5, 6}, sh[6] = {0, 0.2, 0.4, 0.6, 0.8, 1};
    vb_heatmap h = {.id = "hm", .title = "h", .rows = 2, .cols = 3, .row_labels = rows, .col_labels = cols,
                    .row_title = "true", .col_title = "predicted", .shade = sh, .value = v, .decimals = 0};
    vb_buf b;
    vb_buf_init(&b);
    vb_chart_heatmap(&h, &b);
    char *g = data_group(b.data);
    assert_int_equal(count(g, "<rect"), 6);
    assert_non_null(strstr(g, ">6</text>"));
    assert_non_null(strstr(g, "fill=\"#fff\">6<")); /* white on the darkest cell */
    free(g);
    assert_null(strstr(b.data, "<img"));
    assert_non_null(strstr(b.data, "&lt;img src=x"));
    assert_entities_ok(b.data);
    vb_buf_free(&b);
}

/* The SVG's tags nest: every element opened is closed, in order, and each
 * tag's quotes pair up. */
static void assert_balanced(const char *svg)
{
    const char *stack[64];
    size_t lens[64], depth = 0;
    for (const char *p = strchr(svg, '<'); p; p = strchr(p + 1, '<')) {
        const char *end = strchr(p, '>');
        assert_non_null(end);
        size_t quotes = 0;
        for (const char *q = p; q < end; q++)
            quotes += *q == '"';
        if (quotes % 2)
            fail_msg("unpaired quote in: %.60s", p);
        int closing = p[1] == '/', self = end[-1] == '/';
        const char *name = p + 1 + closing;
        size_t len = strcspn(name, " />");
        if (closing) {
            if (depth == 0 || lens[depth - 1] != len || strncmp(stack[depth - 1], name, len) != 0)
                fail_msg("</%.*s> closes %.*s", (int)len, name, depth ? (int)lens[depth - 1] : 4,
                         depth ? stack[depth - 1] : "none");
            depth--;
        } else if (!self) {
            assert_true(depth < 64);
            stack[depth] = name;
            lens[depth++] = len;
        }
    }
    if (depth)
        fail_msg("<%.*s> is never closed", (int)lens[depth - 1], stack[depth - 1]);
}

/* The first path of class cls: "M x0 y H x1". */
static void hpath(const char *svg, const char *cls, double *x0, double *y, double *x1)
{
    char key[64];
    snprintf(key, sizeof key, "class=\"%s\" d=\"", cls);
    const char *p = strstr(svg, key);
    if (!p)
        fail_msg("no path of class %s", cls);
    assert_int_equal(sscanf(p + strlen(key), "M%lf %lfH%lf", x0, y, x1), 3);
}

/* vb_cd_groups gives n_want groups, these (first, last) positions, and
 * (when want_order is not NULL) this order. */
static void expect_groups(const double *r, size_t n, double cd, const size_t *want_order, const size_t *want,
                          size_t n_want)
{
    size_t order[8], g[8][2];
    assert_true(n <= 8);
    assert_int_equal(vb_cd_groups(r, n, cd, order, g, 8), n_want);
    if (want_order)
        assert_memory_equal(order, want_order, n * sizeof *order);
    for (size_t i = 0; i < n_want; i++)
        if (g[i][0] != want[2 * i] || g[i][1] != want[2 * i + 1])
            fail_msg("group %zu is %zu..%zu, expected %zu..%zu", i, g[i][0], g[i][1], want[2 * i], want[2 * i + 1]);
}

/* Demšar's groups: runs of methods in rank order whose ranks differ by
 * less than CD, none inside a longer one. */
static void test_cd_groups(void **state)
{
    const double r[4] = {1.0, 1.5, 3.0, 3.2};
    const size_t o1[4] = {0, 1, 2, 3}, g1[4] = {0, 1, 2, 3};
    expect_groups(r, 4, 1.0, o1, g1, 2);
    /* the same ranks given in another order */
    const double shuffled[4] = {3.2, 1.0, 3.0, 1.5};
    const size_t o2[4] = {1, 3, 2, 0};
    expect_groups(shuffled, 4, 1.0, o2, g1, 2);
    /* Demšar's example (C4.5, +m, +cf, +m+cf): one group at CD 1.25;
     * at 1.12 C4.5 (3.143) leaves the best two: {+m+cf, +m, +cf}, {+cf, C4.5} */
    const double d[4] = {44.0 / 14, 28.0 / 14, 40.5 / 14, 27.5 / 14};
    const size_t o3[4] = {3, 1, 2, 0}, all[2] = {0, 3}, g3[4] = {0, 2, 2, 3};
    expect_groups(d, 4, 1.25, o3, all, 1);
    expect_groups(d, 4, 1.12, o3, g3, 2);
    /* overlapping runs: 1.9 .. 3.4, 3.0 .. 6.2, 5.5 .. 7.1 */
    const double r8[8] = {2.1, 1.9, 5.5, 3.0, 3.4, 6.8, 7.1, 6.2};
    const size_t o8[8] = {1, 0, 3, 4, 2, 7, 5, 6}, g8[6] = {0, 3, 2, 5, 4, 7};
    expect_groups(r8, 8, 3.32, o8, g8, 3);
    /* exactly CD apart is a significant difference; ties group; NaN is
     * left out at the end; no CD, no groups */
    const double two[2] = {1, 2}, tie[3] = {2, 2, 2}, gap[3] = {1, NAN, 1.2};
    const size_t ot[3] = {0, 1, 2}, gt[2] = {0, 2}, og[3] = {0, 2, 1}, gg[2] = {0, 1};
    expect_groups(two, 2, 1.0, NULL, NULL, 0);
    expect_groups(tie, 3, 0.5, ot, gt, 1);
    expect_groups(gap, 3, 1.0, og, gg, 1);
    expect_groups(r, 4, NAN, o1, NULL, 0);
    expect_groups(r, 4, 0, o1, NULL, 0);
    /* max caps what is written, not what is counted */
    size_t order[4], g[2][2] = {{0, 0}, {99, 99}};
    assert_int_equal(vb_cd_groups(r, 4, 1.0, order, g, 1), 2);
    assert_int_equal(g[1][0], 99);
}

/* A hand-made diagram: tags nest, names are escaped, the bar is CD ranks
 * long on the axis' scale, the groups are {A, B} and {C, D}, the best
 * are named on the left and the worst on the right. */
static void test_cd_diagram(void **state)
{
    const char *names[4] = {"a&1", HOSTILE_PIPE, "c", "d"};
    const double r[4] = {1.0, 1.5, 3.0, 3.2};
    vb_cd_diagram c = {.id = "cd", .title = "ranks", .n = 4, .labels = names, .ranks = r, .cd = 1.0,
                       .cd_label = "Nemenyi CD <0.05>"};
    vb_buf b;
    vb_buf_init(&b);
    vb_chart_cd(&c, &b);
    assert_false(b.failed);
    assert_int_equal(strncmp(b.data, "<svg", 4), 0);
    assert_balanced(b.data);
    assert_entities_ok(b.data);
    assert_null(strstr(b.data, HOSTILE_PIPE));
    assert_null(strstr(b.data, "<0.05>"));
    assert_non_null(strstr(b.data, ">a&amp;1</text>"));
    assert_non_null(strstr(b.data, ">" HOSTILE_PIPE_ESC "</text>"));
    assert_non_null(strstr(b.data, ">c</text>"));
    assert_non_null(strstr(b.data, ">d</text>"));
    assert_non_null(strstr(b.data, "Nemenyi CD &lt;0.05&gt; = 1.00</text>"));
    double a0, ay, a1, c0, cy, c1;
    hpath(b.data, "cd-axis", &a0, &ay, &a1);
    hpath(b.data, "cd-bar", &c0, &cy, &c1);
    double ppr = (a1 - a0) / 3; /* ranks 1 .. 4 */
    assert_true(ppr > 50);
    tu_assert_near(c1 - c0, 1.0 * ppr, 0.02);
    tu_assert_near(c0, a0, 0.01); /* from rank 1 */
    assert_true(cy < ay);         /* above the axis */
    char *g = data_group(b.data);
    assert_int_equal(count(g, "<circle"), 4);
    for (int i = 0; i < 4; i++)
        tu_assert_near(attr_of(g, "<circle", (size_t)i, "cx"), a0 + (r[i] - 1) * ppr, 0.01);
    assert_int_equal(count(g, "class=\"cd-group\""), 2);
    assert_non_null(strstr(g, "<title>not significantly different: a&amp;1, " HOSTILE_PIPE_ESC "</title>"));
    assert_non_null(strstr(g, "<title>not significantly different: c, d</title>"));
    double g0, gy, g1;
    hpath(g, "cd-group", &g0, &gy, &g1); /* the first group: under A .. B */
    assert_true(gy > ay);
    assert_true(g0 <= a0 && g1 >= a0 + 0.5 * ppr && g1 < a0 + 2 * ppr);
    free(g);
    /* A and B named left of the axis, C and D right of it */
    const char *la = strstr(b.data, "<title>a&amp;1</title>"), *ld = strstr(b.data, "<title>d</title>");
    assert_non_null(la);
    assert_non_null(ld);
    double xa = strtod(strstr(la - 80, "x=\"") + 3, NULL), xd = strtod(strstr(ld - 80, "x=\"") + 3, NULL);
    assert_true(xa < a0 && xd > a1);
    vb_buf_free(&b);

    /* no CD: no bar, no groups; a method without a rank is listed */
    const double r2[3] = {2.0, NAN, 1.0};
    const char *n2[3] = {"x", "lost <one>", "y"};
    vb_cd_diagram c2 = {.id = "cd2", .n = 3, .labels = n2, .ranks = r2, .cd = NAN};
    vb_buf_init(&b);
    vb_chart_cd(&c2, &b);
    assert_balanced(b.data);
    assert_null(strstr(b.data, "cd-bar"));
    assert_null(strstr(b.data, "cd-group"));
    assert_non_null(strstr(b.data, "no rank: lost &lt;one&gt;</text>"));
    g = data_group(b.data);
    assert_int_equal(count(g, "<circle"), 2);
    free(g);
    vb_buf_free(&b);
}

/* ---- styles, zoomed axes, label placement ------------------------------------ */

static void hex_lab(const char *hex, double lab[3])
{
    unsigned v[3];
    assert_int_equal(sscanf(hex, "#%2x%2x%2x", &v[0], &v[1], &v[2]), 3);
    double c[3];
    for (int i = 0; i < 3; i++) {
        double u = v[i] / 255.0;
        c[i] = u <= 0.04045 ? u / 12.92 : pow((u + 0.055) / 1.055, 2.4);
    }
    double xyz[3] = {(0.4124 * c[0] + 0.3576 * c[1] + 0.1805 * c[2]) / 0.95047,
                     0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2],
                     (0.0193 * c[0] + 0.1192 * c[1] + 0.9505 * c[2]) / 1.08883};
    double f[3];
    for (int i = 0; i < 3; i++)
        f[i] = xyz[i] > 216.0 / 24389 ? cbrt(xyz[i]) : (24389.0 / 27 * xyz[i] + 16) / 116;
    lab[0] = 116 * f[1] - 16;
    lab[1] = 500 * (f[0] - f[1]);
    lab[2] = 200 * (f[1] - f[2]);
}

/* CIE76 colour difference of two "#RRGGBB" colours. */
static double delta_e(const char *a, const char *b)
{
    double p[3], q[3];
    hex_lab(a, p);
    hex_lab(b, q);
    return sqrt((p[0] - q[0]) * (p[0] - q[0]) + (p[1] - q[1]) * (p[1] - q[1]) + (p[2] - q[2]) * (p[2] - q[2]));
}

/* Twelve colours per palette, far apart; the class palette shares none
 * with the pipelines'; 48 distinct styles (colour, marker, dash). */
static void test_palette(void **state)
{
    const vb_palette pals[2] = {VB_PALETTE_PIPELINES, VB_PALETTE_CLASSES};
    for (int p = 0; p < 2; p++)
        for (size_t i = 0; i < VB_CHART_COLORS; i++) {
            const char *a = vb_chart_style(pals[p], i).color;
            assert_int_equal(strlen(a), 7);
            for (size_t j = i + 1; j < VB_CHART_COLORS; j++) {
                const char *b = vb_chart_style(pals[p], j).color;
                if (delta_e(a, b) < 25)
                    fail_msg("palette %d: %s and %s differ by %.1f only", p, a, b, delta_e(a, b));
            }
            for (size_t j = 0; p == 1 && j < VB_CHART_COLORS; j++) {
                const char *b = vb_chart_color(j);
                if (strcmp(a, b) == 0 || delta_e(a, b) < 15)
                    fail_msg("class colour %s is too close to pipeline colour %s", a, b);
            }
        }
    assert_string_equal(vb_chart_color(0), "#0072B2");
    assert_string_equal(vb_chart_color(12), vb_chart_color(0)); /* cycles */
    /* styles: the first twelve are circles with solid lines, then other
     * shapes and dashes; all 48 differ in something */
    enum { NS = VB_CHART_COLORS * VB_CHART_VARIANTS };
    assert_int_equal(NS, 48);
    vb_style st[NS];
    for (size_t i = 0; i < NS; i++)
        st[i] = vb_chart_style(VB_PALETTE_PIPELINES, i);
    for (size_t i = 0; i < VB_CHART_COLORS; i++) {
        assert_int_equal(st[i].marker, VB_MARKER_CIRCLE);
        assert_null(st[i].dash);
    }
    assert_int_equal(st[12].marker, VB_MARKER_SQUARE);
    assert_non_null(st[12].dash);
    assert_string_equal(st[12].color, st[0].color);
    for (size_t i = 0; i < NS; i++)
        for (size_t j = i + 1; j < NS; j++) {
            int same = strcmp(st[i].color, st[j].color) == 0 && st[i].marker == st[j].marker &&
                       (st[i].dash == st[j].dash || (st[i].dash && st[j].dash && strcmp(st[i].dash, st[j].dash) == 0));
            if (same)
                fail_msg("styles %zu and %zu look the same", i, j);
        }
    /* DejaVu Sans advances: "hog8-logreg" is 6.064 em */
    assert_float_equal(vb_chart_text_width("hog8-logreg", 12), 72.768, 1e-9);
    assert_float_equal(vb_chart_text_width("\xe2\x80\xa6", 10), 10, 1e-12); /* an ellipsis: 1 em */
}

static void test_zoom(void **state)
{
    double lo, hi;
    /* close accuracies: a zoomed axis around them, never past 1 */
    assert_int_equal(vb_chart_zoom(0.87, 0.89, 0, 1, &lo, &hi), 1);
    assert_true(lo >= 0.8 && lo <= 0.87 && hi >= 0.89 && hi <= 0.95);
    assert_float_equal(lo, 0.86, 1e-9);
    assert_float_equal(hi, 0.90, 1e-9);
    /* at the top: clipped to exactly 1 */
    assert_int_equal(vb_chart_zoom(0.98, 1.0, 0, 1, &lo, &hi), 1);
    assert_float_equal(hi, 1.0, 0);
    assert_float_equal(lo, 0.97, 1e-9);
    /* one value: a margin of a hundredth of the limits either side */
    assert_int_equal(vb_chart_zoom(0.9, 0.9, 0, 1, &lo, &hi), 1);
    assert_true(lo < 0.9 && lo >= 0.885 && hi > 0.9 && hi <= 0.915);
    /* spread out: the axis starts at 0, nothing to say */
    assert_int_equal(vb_chart_zoom(0.12, 0.66, 0, 1, &lo, &hi), 0);
    assert_float_equal(lo, 0, 0);
    assert_float_equal(hi, 0.8, 1e-9);
    /* 0.5 .. 0.95: from 0.4 to 1 */
    assert_int_equal(vb_chart_zoom(0.5, 0.95, 0, 1, &lo, &hi), 1);
    assert_float_equal(lo, 0.4, 1e-9);
    assert_float_equal(hi, 1.0, 0);
    /* no data: the limits */
    assert_int_equal(vb_chart_zoom(NAN, NAN, 0, 1, &lo, &hi), 0);
    assert_float_equal(lo, 0, 0);
    assert_float_equal(hi, 1, 0);
    /* every case within the limits */
    for (int a = 0; a <= 100; a += 7)
        for (int z = a; z <= 100; z += 3) {
            vb_chart_zoom(a / 100.0, z / 100.0, 0, 1, &lo, &hi);
            assert_true(lo >= 0 && hi <= 1 && lo <= a / 100.0 + 1e-12 && hi >= z / 100.0 - 1e-12 && hi > lo);
        }

    /* A zoomed bar chart: it says where it starts, bar lengths count from
     * there, and no tick is past 1. */
    vb_bar bars[2] = {{.label = "a", .value = 0.89, .err = NAN, .marker = NAN, .color = 0},
                      {.label = "b", .value = 0.87, .err = NAN, .marker = NAN, .color = 1}};
    vb_bar_chart c = {.id = "z", .x = {"accuracy", 0, 1, 0, 1}, .n = 2, .bars = bars};
    vb_buf b;
    vb_buf_init(&b);
    vb_chart_bars(&c, &b);
    assert_non_null(strstr(b.data, ">axis from 0.86</text>"));
    assert_non_null(strstr(b.data, ">0.90</text>"));
    assert_null(strstr(b.data, ">1.0"));
    char *g = data_group(b.data);
    double w0 = attr_of(g, "<rect", 0, "width"), w1 = attr_of(g, "<rect", 1, "width");
    assert_float_equal(w0 / w1, (0.89 - 0.86) / (0.87 - 0.86), 0.01); /* 3 : 1, not 89 : 87 */
    free(g);
    vb_buf_free(&b);
    /* not zoomed: no note, bars from 0 */
    c.x.zoom = 0;
    vb_buf_init(&b);
    vb_chart_bars(&c, &b);
    assert_null(strstr(b.data, "axis from"));
    g = data_group(b.data);
    assert_float_equal(attr_of(g, "<rect", 0, "width") / attr_of(g, "<rect", 1, "width"), 0.89 / 0.87, 0.01);
    free(g);
    vb_buf_free(&b);
    /* a scatter's accuracy axis: zoomed, said, within [0, 1] */
    vb_point pts[2] = {{"p", 1, 0.97, 0}, {"q", 2, 0.99, 1}};
    vb_scatter sc = {.id = "s", .x = {"t", NAN, NAN, 1, 0}, .y = {"accuracy", 0, 1, 0, 1}, .n = 2, .pts = pts,
                     .x_lower_better = 1};
    vb_buf_init(&b);
    vb_chart_scatter(&sc, &b);
    assert_non_null(strstr(b.data, ">y axis from 0.96</text>"));
    assert_non_null(strstr(b.data, ">1.00</text>"));
    assert_null(strstr(b.data, ">1.01"));
    vb_buf_free(&b);
}

static int box_in(const vb_box *a, const vb_box *o)
{
    return a->x >= o->x - 1e-9 && a->y >= o->y - 1e-9 && a->x + a->w <= o->x + o->w + 1e-9 &&
           a->y + a->h <= o->y + o->h + 1e-9;
}

static int boxes_overlap(const vb_box *a, const vb_box *b)
{
    return a->x < b->x + b->w && b->x < a->x + a->w && a->y < b->y + b->h && b->y < a->y + a->h;
}

/* Placed label boxes lie in bounds, overlap no other label and cover no
 * marker; returns the number placed. */
static size_t check_placement(const vb_label *l, size_t n, const vb_box *bounds)
{
    size_t placed = 0;
    for (size_t i = 0; i < n; i++) {
        if (!l[i].placed)
            continue;
        placed++;
        assert_true(box_in(&l[i].box, bounds));
        assert_float_equal(l[i].box.w, l[i].w, 0);
        for (size_t j = 0; j < n; j++) {
            if (j != i && l[j].placed && boxes_overlap(&l[i].box, &l[j].box))
                fail_msg("labels %zu and %zu overlap", i, j);
            double nx = fmin(fmax(l[j].ax, l[i].box.x), l[i].box.x + l[i].box.w);
            double ny = fmin(fmax(l[j].ay, l[i].box.y), l[i].box.y + l[i].box.h);
            if (hypot(nx - l[j].ax, ny - l[j].ay) < l[j].r)
                fail_msg("label %zu covers the marker of %zu", i, j);
        }
    }
    return placed;
}

static void test_place_labels(void **state)
{
    vb_box bounds = {0, 0, 400, 300};
    /* far apart: each label right beside its point, no leader */
    vb_label apart[3] = {{.ax = 50, .ay = 50, .r = 6, .w = 60, .h = 14},
                         {.ax = 200, .ay = 150, .r = 6, .w = 60, .h = 14},
                         {.ax = 300, .ay = 250, .r = 6, .w = 60, .h = 14}};
    assert_int_equal(vb_chart_place_labels(apart, 3, NULL, 0, bounds, 2), 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(apart[i].leader, 0);
        assert_float_equal(apart[i].box.x, apart[i].ax + 6 + 3, 1e-9); /* east first */
        assert_float_equal(apart[i].box.y + 7, apart[i].ay, 1e-9);
    }
    /* a point at the right edge: its label goes west */
    vb_label edge = {.ax = 395, .ay = 100, .r = 4, .w = 60, .h = 14};
    assert_int_equal(vb_chart_place_labels(&edge, 1, NULL, 0, bounds, 2), 1);
    assert_true(edge.box.x + edge.box.w <= edge.ax - 4);
    /* crowded: 16 points in a 60 x 40 patch, labels 70 x 14: whatever is
     * placed does not collide, the first (most important) is beside its
     * point, later ones stand off with leaders */
    vb_label crowd[16];
    for (int i = 0; i < 16; i++)
        crowd[i] = (vb_label){.ax = 170 + (i % 4) * 20, .ay = 130 + (i / 4) * 13, .r = 6, .w = 70, .h = 14};
    size_t n = vb_chart_place_labels(crowd, 16, NULL, 0, bounds, 2);
    assert_int_equal(check_placement(crowd, 16, &bounds), n);
    assert_true(n >= 8);
    assert_true(crowd[0].placed && !crowd[0].leader);
    size_t leaders = 0;
    for (int i = 0; i < 16; i++)
        leaders += crowd[i].placed && crowd[i].leader;
    assert_true(leaders > 0);
    /* a line through the place east of a point: the label goes elsewhere,
     * clear of it */
    vb_label by_line = {.ax = 100, .ay = 100, .r = 6, .w = 60, .h = 14};
    vb_segment line = {110, 100, 300, 100}; /* from beside the point through its east side */
    assert_int_equal(vb_chart_place_labels(&by_line, 1, &line, 1, bounds, 2), 1);
    assert_true(by_line.box.x + by_line.box.w <= 100); /* west of it */
    /* no room at all: nothing placed */
    vb_label tiny[2] = {{.ax = 10, .ay = 10, .r = 6, .w = 60, .h = 14}, {.ax = 12, .ay = 12, .r = 6, .w = 60, .h = 14}};
    assert_int_equal(vb_chart_place_labels(tiny, 2, NULL, 0, (vb_box){0, 0, 30, 30}, 2), 0);

    /* A crowded scatter: every point is named, by a label or in the list
     * under the chart, and labels are text outside the data group. */
    enum { NP = 24 };
    vb_point pts[NP];
    char names[NP][16];
    for (int i = 0; i < NP; i++) {
        snprintf(names[i], sizeof names[i], "pipeline-%02u", (unsigned)i % 100u);
        pts[i] = (vb_point){names[i], 1 + 0.01 * i, 0.80 + 0.002 * (i % 6), (size_t)i};
    }
    vb_scatter sc = {.id = "crowd", .x = {"t", NAN, NAN, 1, 0}, .y = {"accuracy", 0, 1, 0, 1}, .n = NP, .pts = pts,
                     .x_lower_better = 1};
    vb_buf b;
    vb_buf_init(&b);
    vb_chart_scatter(&sc, &b);
    assert_false(b.failed);
    const char *labels = strstr(b.data, "<g class=\"labels\"");
    assert_non_null(labels);
    const char *listed = strstr(b.data, ">not labelled:</text>");
    assert_non_null(listed); /* 24 labels cannot all fit in that patch */
    for (int i = 0; i < NP; i++) {
        char key[64];
        snprintf(key, sizeof key, ">%.15s</text>", names[i]);
        const char *at = strstr(b.data, key);
        if (!at)
            fail_msg("%s is neither labelled nor listed", names[i]);
        assert_null(strstr(at + 1, key)); /* once */
    }
    /* points 12..23 are squares (the second style): rects in the data */
    char *g = data_group(b.data);
    assert_int_equal(count(g, "<rect"), 12);
    free(g);
    assert_entities_ok(b.data);
    vb_buf_free(&b);
}

/* Markdown cells: what would open a tag, an entity or a table cell is
 * escaped; arrows stay readable. */
static void test_md_cell(void **state)
{
    vb_buf b;
    vb_buf_init(&b);
    vb_md_cell(&b, "hog 1519 -> 200 | <b> & *x*");
    assert_string_equal(b.data, "hog 1519 -> 200 \\| &lt;b> &amp; \\*x\\*");
    vb_buf_free(&b);
}

static void test_shade_and_shorten(void **state)
{
    double last = 1e9;
    for (int i = 0; i <= 10; i++) {
        char c[8];
        vb_chart_shade(i / 10.0, c, NULL);
        unsigned r, g, b;
        assert_int_equal(sscanf(c, "#%2x%2x%2x", &r, &g, &b), 3);
        double lum = 0.2126 * r + 0.7152 * g + 0.0722 * b;
        assert_true(lum < last); /* darker as t grows */
        last = lum;
    }
    char *s = vb_chart_shorten("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", 3);
    assert_string_equal(s, "\xc3\xa9\xc3\xa9\xe2\x80\xa6");
    free(s);
    s = vb_chart_shorten("abc", 3);
    assert_string_equal(s, "abc");
    free(s);
    /* Labels are cut before escaping: no entity is split. */
    vb_bar bar = {.label = "aaaaaaaaaaaaaaaaaaaaaaaaa&&&&&&&&&&&", .value = 0.5, .err = NAN, .marker = NAN};
    vb_bar_chart c = {.id = "cut", .x = {"x", 0, 1, 0, 0}, .n = 1, .bars = &bar};
    vb_buf b;
    vb_buf_init(&b);
    vb_chart_bars(&c, &b);
    assert_entities_ok(b.data);
    assert_non_null(strstr(b.data, "&amp;&amp;\xe2\x80\xa6"));
    vb_buf_free(&b);
}

/* ---- stores built by hand --------------------------------------------------- */

/* Its folds (fold1..fold3 and test) are the ones the hand-made runs name. */
static const char SPEC[] = "name: rep\nseed: 5\ndataset: mem\nsplit: {protocol: kfold, k: 3, official_test: true}\n"
                           "pipelines:\n  - {name: a, classifier: svm}\n";

static vb_dataset *mem_dataset(int k)
{
    size_t n = 4 * (size_t)k;
    vb_dataset *ds = vb_dataset_new(n, 1, NULL);
    assert_non_null(ds);
    ds->block = malloc(n);
    for (size_t i = 0; i < n; i++) {
        ds->block[i] = (uint8_t)(i * 7);
        ds->px[i] = ds->block + i;
        ds->w[i] = ds->h[i] = ds->c[i] = 1;
        ds->labels[i] = (int)(i % (size_t)k);
        ds->part[i] = i < 3 * (size_t)k ? VB_PART_TRAIN : VB_PART_TEST;
    }
    const char *names[3] = {HOSTILE_CLASS, "cat & dog", "a|b*c"};
    assert_int_equal(vb_dataset_set_classes(ds, names, k, NULL), VB_OK);
    ds->name = strdup("mem <ds>");
    vb_dataset_finish(ds);
    return ds;
}

typedef struct store_ctx {
    vb_spec *spec;
    vb_dataset *ds;
    vb_split *split;
    vb_store *s;
    int64_t exp;
} store_ctx;

/* A store of the spec text over mem_dataset(3). */
static void ctx_open_spec(store_ctx *c, const char *path, const char *spec)
{
    vb_error err = {0};
    memset(c, 0, sizeof *c);
    remove(path);
    c->ds = mem_dataset(3);
    if (vb_spec_parse(spec, "rep.yaml", &c->spec, &err) != VB_OK ||
        vb_split_make(&c->spec->split, c->ds, &c->split, &err) != VB_OK ||
        vb_store_open(path, 0, &c->s, &err) != VB_OK ||
        vb_store_experiment(c->s, c->spec, c->ds, c->split, &c->exp, &err) != VB_OK)
        fail_msg("%s", err.msg);
}

static void ctx_open(store_ctx *c, const char *path) { ctx_open_spec(c, path, SPEC); }

static void ctx_close(store_ctx *c)
{
    vb_store_close(c->s);
    vb_split_free(c->split);
    vb_spec_free(c->spec);
    vb_dataset_free(c->ds);
}

/* A store's latest experiment, read back and summarised. */
typedef struct loaded {
    vb_store *s;
    vb_store_exp *e;
    vb_summary *sum;
} loaded;

static loaded load_summary(const char *path)
{
    loaded l = {0};
    vb_error err = {0};
    if (vb_store_open(path, 1, &l.s, &err) != VB_OK || vb_store_load(l.s, 0, 1, &l.e, &err) != VB_OK ||
        vb_summary_build(l.e, &l.sum, &err) != VB_OK)
        fail_msg("%s: %s", path, err.msg);
    return l;
}

static void loaded_free(loaded *l)
{
    vb_summary_free(l->sum);
    vb_store_exp_free(l->e);
    vb_store_close(l->s);
}

/* A run of 3 classes x n_per samples: `wrong` predictions are off by one
 * class; scores favour the prediction, with a little spread so ROC curves
 * have several points. fold_index decides the sample ids (disjoint
 * folds). */
static void add_run(store_ctx *c, const char *pipeline, size_t pidx, const char *fold, size_t fidx, size_t wrong,
                    int scores, size_t n_epochs)
{
    enum { K = 3, NPER = 6, N = K * NPER };
    int truth[N], pred[N];
    size_t idx[N];
    float sc[N * K];
    vb_epoch ep[8];
    for (size_t i = 0; i < N; i++) {
        truth[i] = (int)(i % K);
        pred[i] = i < wrong ? (truth[i] + 1) % K : truth[i];
        idx[i] = fidx * 100 + i;
        for (int k = 0; k < K; k++)
            sc[i * K + (size_t)k] = k == pred[i] ? 0.6f + 0.02f * (float)(i % 5) : 0.2f - 0.01f * (float)(i % 5);
    }
    for (size_t e = 0; e < n_epochs && e < 8; e++)
        ep[e] = (vb_epoch){2.0 / (double)(e + 1), 0.5 + 0.05 * (double)e, 2.2 / (double)(e + 1),
                           e == 1 ? NAN : 0.45 + 0.05 * (double)e, 0.01, 1.0 + (double)e};
    vb_metrics m;
    vb_error err = {0};
    assert_int_equal(vb_metrics_compute(truth, pred, N, K, &m, &err), VB_OK);
    vb_run_result r = {.pipeline = pipeline, .fold = fold, .fold_index = fidx, .n_train = 40, .n_val = 4,
                       .n_test = N, .n_classes = K, .test_idx = idx, .truth = truth, .pred = pred,
                       .scores = scores ? sc : NULL, .proba = 0, .metrics = &m, .extract_s = 0.5 + (double)pidx,
                       .tune_s = 0.1, .train_s = 1.0 + (double)pidx * 3, .predict_s = 0.01 * (double)(pidx + 1),
                       .peak_rss_kb = 2048 * (pidx + 1), .model_bytes = 1000 * (pidx + 1), .dim = 12,
                       .features = "raw 12 <f>", .params = "{C: 1, note: \"<x>\"}", .grid = fidx ? "C=1" : "C=10",
                       .clf_info = "\"n_sv\": 4", .epochs = n_epochs ? ep : NULL, .n_epochs = n_epochs};
    vb_claim cl;
    if (vb_store_claim(c->s, c->exp, pipeline, pidx, fold, fidx, "cfg", 0, &cl, &err) != VB_OK ||
        vb_store_save_run(c->s, c->exp, &r, &err) != VB_OK)
        fail_msg("%s", err.msg);
    vb_metrics_free(&m);
}

static void add_failure(store_ctx *c, const char *pipeline, size_t pidx, const char *fold, size_t fidx)
{
    vb_claim cl;
    vb_error err = {0};
    if (vb_store_claim(c->s, c->exp, pipeline, pidx, fold, fidx, "cfg", 0, &cl, &err) != VB_OK ||
        vb_store_save_failure(c->s, c->exp, pipeline, fold, HOSTILE_ERROR, &err) != VB_OK)
        fail_msg("%s", err.msg);
}

/* A clustering run as mode: cluster stores it: NMI, ARI, purity of the
 * test part and every sample's cluster, no classification results. */
static void add_cluster_run(store_ctx *c, const char *pipeline, size_t pidx, const char *fold, size_t fidx,
                            double nmi)
{
    enum { N = 6 };
    int truth[N] = {0, 1, 2, 0, 1, 2}, pred[N] = {0, 1, 2, 0, 1, 2}, assign[N] = {1, 0, 0, 1, 0, 1};
    size_t idx[N];
    for (size_t i = 0; i < N; i++)
        idx[i] = fidx * 100 + i;
    vb_metrics m;
    vb_error err = {0};
    assert_int_equal(vb_metrics_compute(truth, pred, N, 3, &m, &err), VB_OK);
    vb_cluster_scores cs = {.purity = 0.5, .nmi = nmi, .ari = nmi / 2};
    vb_run_result r = {.pipeline = pipeline, .fold = fold, .fold_index = fidx, .n_train = 40, .n_test = N,
                       .n_classes = 3, .test_idx = idx, .truth = truth, .pred = pred, .metrics = &m,
                       .features = "raw 12", .params = "{k: 2}", .clf_info = "", .cluster_mode = 1,
                       .n_clusters = 2, .cluster = &cs, .n_assigned = N, .assigned_idx = idx, .assign = assign};
    vb_claim cl;
    if (vb_store_claim(c->s, c->exp, pipeline, pidx, fold, fidx, "cfg", 0, &cl, &err) != VB_OK ||
        vb_store_save_run(c->s, c->exp, &r, &err) != VB_OK)
        fail_msg("%s", err.msg);
    vb_metrics_free(&m);
}

/* mode: cluster: only clustering scores are kept, pipelines rank by NMI
 * (not by name), the assignments come back as CSV, and the report draws
 * no classification sections. */
static void test_cluster_mode(void **state)
{
    store_ctx c;
    ctx_open(&c, "clu.db");
    static const char *const folds[] = {"fold1", "fold2", "fold3", "test"};
    for (size_t f = 0; f < 4; f++) {
        add_cluster_run(&c, "a-low", 0, folds[f], f, 0.2 + 0.01 * (double)f);
        add_cluster_run(&c, "b-high", 1, folds[f], f, 0.6);
    }
    vb_error err = {0};
    vb_buf b;
    vb_buf_init(&b);
    assert_int_equal(vb_store_clusters_csv(c.s, c.exp, &b, &err), VB_OK);
    assert_int_equal(strncmp(b.data, "pipeline,fold,sample,part,file,item,cluster\na-low,fold1,0,", 58), 0);
    assert_int_equal(count(b.data, "\n"), 1 + 2 * 4 * 6);
    assert_non_null(strstr(b.data, "\nb-high,test,305,"));
    vb_buf_free(&b);
    ctx_close(&c);

    loaded l = load_summary("clu.db");
    const vb_store_exp *e = l.e;
    const vb_summary *sum = l.sum;
    assert_true(isnan(vb_store_metric(&e->runs[0], "accuracy")));
    assert_float_equal(vb_store_metric(&e->runs[0], "nmi"), 0.2, 1e-12);
    assert_float_equal(vb_store_metric(&e->runs[0], "clusters"), 2, 0);
    assert_int_equal(e->runs[0].n_pred, 0);
    assert_true(sum->cluster_only && sum->by_nmi && sum->has_nmi);
    assert_string_equal(sum->rows[0].pipeline, "b-high");
    assert_float_equal(sum->rows[0].nmi.test, 0.6, 1e-12);
    assert_float_equal(sum->rows[1].nmi.mean, 0.21, 1e-12);
    assert_float_equal(sum->rows[1].ari.test, 0.115, 1e-12);
    vb_buf_init(&b);
    vb_render_leaderboard(sum, VB_FMT_TEXT, &b);
    assert_non_null(strstr(b.data, "NMI     ARI  purity clusters"));
    assert_null(strstr(b.data, "accuracy"));
    vb_buf_free(&b);
    vb_buf_init(&b);
    assert_int_equal(vb_report_render(e, VB_FMT_HTML, "clu.db", &b, &err), VB_OK);
    assert_non_null(strstr(b.data, "<section id=\"clustering\">"));
    assert_non_null(strstr(b.data, "Ranked by NMI on the test part."));
    assert_null(strstr(b.data, "id=\"confusion\""));
    assert_null(strstr(b.data, "id=\"accuracy\""));
    vb_buf_free(&b);
    loaded_free(&l);
}

typedef struct rendered {
    char *html, *md, *csv;
} rendered;

/* Renders the store's latest experiment in the three formats, checking
 * what every report must satisfy. */
static rendered render_all(const char *path)
{
    vb_store *s = NULL;
    vb_store_exp *e = NULL;
    vb_error err = {0};
    if (vb_store_open(path, 1, &s, &err) != VB_OK || vb_store_load(s, 0, 1, &e, &err) != VB_OK)
        fail_msg("%s", err.msg);
    rendered out;
    char **dst[3] = {&out.html, &out.md, &out.csv};
    const vb_format fmts[3] = {VB_FMT_HTML, VB_FMT_MD, VB_FMT_CSV};
    for (int i = 0; i < 3; i++) {
        vb_buf b;
        vb_buf_init(&b);
        if (vb_report_render(e, fmts[i], "dir/<store>.db", &b, &err) != VB_OK)
            fail_msg("render %d: %s", i, err.msg);
        assert_non_null(b.data);
        *dst[i] = b.data;
    }
    vb_buf b;
    vb_buf_init(&b);
    assert_int_equal(vb_report_render(e, VB_FMT_JSON, NULL, &b, &err), VB_ERR_PARAM);
    vb_buf_free(&b);
    vb_store_exp_free(e);
    vb_store_close(s);

    /* HTML: one document, nothing fetched, every data string escaped. */
    const char *h = out.html;
    assert_int_equal(strncmp(h, "<!DOCTYPE html>", 15), 0);
    assert_int_equal(count(h, "</html>"), 1);
    assert_int_equal(count(h, "<img"), 0);
    assert_int_equal(count(h, "<script"), 2); /* ours: the error recorder and the self-check */
    /* the only URL is the SVG namespace, which is a name, not a fetch */
    assert_int_equal(count(h, "http://"), count(h, "xmlns=\"http://www.w3.org/2000/svg\""));
    assert_null(strstr(h, "https://"));
    assert_null(strstr(h, "src=\""));
    assert_non_null(strstr(h, "Content-Security-Policy\" content=\"default-src 'none'"));
    assert_null(strstr(h, "<link"));
    assert_non_null(strstr(h, HOSTILE_CLASS_ESC));
    assert_null(strstr(h, "<store>"));
    assert_null(strstr(h, "<ds>"));
    assert_null(strstr(h, "<f>"));
    assert_entities_ok(h);
    assert_expected_charts(h);
    /* Markdown: the same names, escaped for a Markdown renderer. */
    assert_int_equal(count(out.md, "<img"), 0);
    assert_non_null(strstr(out.md, "&lt;img src=x onerror=alert(1)>")); /* no tag opens; '>' stays '>' */
    assert_null(strstr(out.md, "&gt;"));
    assert_non_null(strstr(out.md, "a\\|b\\*c"));
    /* CSV: a header, then records of 6 fields. */
    assert_int_equal(strncmp(out.csv, "experiment,pipeline,fold,metric,class,value\n", 44), 0);
    return out;
}

static void rendered_free(rendered *r)
{
    free(r->html);
    free(r->md);
    free(r->csv);
}

/* Every CSV record has 6 fields; returns the value of (pipeline, fold,
 * metric, class) or NaN; counts records in *n. */
static double csv_lookup(const char *csv, const char *pipeline, const char *fold, const char *metric,
                         const char *cls, size_t *n)
{
    const char *p = csv;
    char *f[8];
    double v = NAN;
    size_t rec = 0;
    assert_int_equal(csv_record(&p, f, 8), 6);
    for (int i = 0; i < 6; i++)
        free(f[i]);
    while (*p) {
        size_t nf = csv_record(&p, f, 8);
        if (nf != 6)
            fail_msg("a CSV record has %zu fields", nf);
        rec++;
        if (strcmp(f[1], pipeline) == 0 && strcmp(f[2], fold) == 0 && strcmp(f[3], metric) == 0 &&
            strcmp(f[4], cls) == 0)
            v = strtod(f[5], NULL);
        for (size_t i = 0; i < nf; i++)
            free(f[i]);
    }
    if (n)
        *n = rec;
    return v;
}

/* Hostile names in every format: escaped in HTML and Markdown, quoted and
 * intact in CSV. Two pipelines, CV folds and a test fold, one with curves:
 * every chart appears. */
static void test_full_and_escaping(void **state)
{
    store_ctx c;
    ctx_open(&c, "full.db");
    const char *folds[3] = {"fold1", "fold2", "test"};
    for (size_t f = 0; f < 3; f++) {
        add_run(&c, HOSTILE_PIPE, 0, folds[f], f, 1 + f, 1, 0);
        add_run(&c, "cnn", 1, folds[f], f, 4 + f, 1, f == 2 ? 5 : 0);
    }
    ctx_close(&c);
    rendered r = render_all("full.db");
    const char *h = r.html;
    assert_null(strstr(h, HOSTILE_PIPE));
    assert_null(strstr(h, "<b>amp</b>"));
    assert_non_null(strstr(h, HOSTILE_PIPE_ESC));
    assert_non_null(strstr(h, "cat &amp; dog"));
    /* the escaped pipeline name is in SVG text and in <title> tooltips too */
    assert_non_null(strstr(h, "<title>" HOSTILE_PIPE_ESC));
    assert_non_null(strstr(h, ">" HOSTILE_PIPE_ESC "</text>"));
    const char *charts[] = {"acc", "tradeoff-train", "tradeoff-predict", "cm-1-counts", "cm-1-rows",
                            "cm-2-counts", "cm-2-rows", "roc-macro", "roc-1", "roc-2", "curve-loss", "curve-acc"};
    for (size_t i = 0; i < sizeof charts / sizeof charts[0]; i++)
        assert_chart_drawn(h, charts[i]);
    assert_non_null(strstr(h, "id=\"significance\""));
    assert_non_null(strstr(h, "<table class=\"pw\">"));
    assert_null(strstr(h, "<table class=\"vs\">")); /* two pipelines: the matrix says it all */
    assert_null(strstr(h, "<summary><span class=\"pl\">")); /* and nothing is folded */
    assert_null(strstr(h, "id=\"failures\""));
    /* The pipeline with fewer errors ranks first and carries the badge. */
    const char *best = strstr(h, "badge best");
    assert_non_null(best);
    const char *row1 = strstr(h, "<tbody><tr><td class=\"num\">1</td>");
    assert_non_null(row1);
    assert_true(strstr(row1, HOSTILE_PIPE_ESC) < best);
    /* The grid chose differently per fold: each fold is listed. */
    assert_non_null(strstr(h, "fold1: C=10<br>fold2: C=1"));

    assert_null(strstr(r.md, HOSTILE_PIPE));
    assert_non_null(strstr(r.md, "## Learning curves"));
    assert_non_null(strstr(r.md, "## Pairwise significance"));
    /* two pipelines, both tests: one pair in each family */
    assert_non_null(strstr(r.md, "\\* p < 0.05 after Holm's correction over 1 pair, each test apart\n"));
    assert_non_null(strstr(h, "Shaded cells: p &lt; 0.05 after Holm's correction over 1 pair, each test apart"));

    /* CSV: fields round-trip, per-class values are there. */
    size_t n = 0;
    double acc = csv_lookup(r.csv, HOSTILE_PIPE, "test", "accuracy", "", &n);
    assert_float_equal(acc, 15.0 / 18.0, 1e-12);
    assert_float_equal(csv_lookup(r.csv, HOSTILE_PIPE, "fold1", "support", HOSTILE_CLASS, NULL), 6, 0);
    assert_float_equal(csv_lookup(r.csv, "cnn", "fold2", "train_s", "", NULL), 4.0, 0);
    assert_float_equal(csv_lookup(r.csv, "cnn", "fold2", "peak_rss_kb", "", NULL), 4096, 0);
    assert_float_equal(csv_lookup(r.csv, "cnn", "test", "model_bytes", "", NULL), 2000, 0);
    assert_false(isnan(csv_lookup(r.csv, "cnn", "test", "auc", "cat & dog", NULL)));
    assert_false(isnan(csv_lookup(r.csv, "cnn", "test", "f1", "a|b*c", NULL)));
    assert_true(isnan(csv_lookup(r.csv, "cnn", "test", "log_loss", "", NULL))); /* not probabilities: left out */
    /* 6 runs x (9 metrics + 3 classes x 5 + 10 run numbers) */
    assert_int_equal(n, 6 * (9 + 15 + 11));
    assert_non_null(strstr(r.csv, "\"q\"\"uo'te & <b>amp</b>\""));
    rendered_free(&r);
}

static void test_single_pipeline(void **state)
{
    store_ctx c;
    ctx_open(&c, "single.db");
    add_run(&c, "only", 0, "fold1", 0, 2, 1, 0);
    add_run(&c, "only", 0, "fold2", 1, 3, 1, 0);
    ctx_close(&c);
    rendered r = render_all("single.db");
    assert_non_null(strstr(r.html, "One pipeline only: nothing to compare."));
    assert_null(strstr(r.html, "<table class=\"pw\">"));
    assert_non_null(strstr(r.html, "No run recorded a learning curve"));
    assert_chart_drawn(r.html, "acc");
    assert_chart_drawn(r.html, "roc-macro");
    assert_null(strstr(r.html, "id=\"curve-loss\""));
    assert_non_null(strstr(r.md, "One pipeline only"));
    rendered_free(&r);
}

/* A pipeline whose every run failed, another with one failed fold, and no
 * scores at all: no ROC, the failures listed with their messages escaped. */
static void test_failed_runs(void **state)
{
    store_ctx c;
    ctx_open(&c, "failed.db");
    add_run(&c, "good", 0, "fold1", 0, 1, 0, 0);
    add_run(&c, "good", 0, "fold2", 1, 2, 0, 0);
    add_run(&c, "half", 1, "fold1", 0, 3, 0, 0);
    add_failure(&c, "half", 1, "fold2", 1);
    add_failure(&c, "broken", 2, "fold1", 0);
    add_failure(&c, "broken", 2, "fold2", 1);
    ctx_close(&c);
    rendered r = render_all("failed.db");
    const char *h = r.html;
    assert_non_null(strstr(h, "id=\"failures\""));
    assert_int_equal(count(h, "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; went wrong"), 3);
    assert_null(strstr(h, "<script>alert"));
    assert_non_null(strstr(h, "No stored prediction scores"));
    assert_null(strstr(h, "id=\"roc-macro\""));
    assert_non_null(strstr(h, "badge fail\">1 failed"));
    assert_non_null(strstr(h, "badge fail\">2 failed"));
    assert_non_null(strstr(h, ">no result</text>")); /* the broken pipeline's bar */
    /* no per-class row, confusion or point for the broken pipeline */
    assert_null(strstr(h, "id=\"cm-3-counts\""));
    assert_non_null(strstr(r.md, "## Runs that did not finish"));
    assert_non_null(strstr(r.md, "&lt;script>alert"));
    size_t n = 0;
    csv_lookup(r.csv, "x", "x", "x", "", &n);
    assert_int_equal(n, 3 * (7 + 12 + 11)); /* 3 done runs; no score metrics or AUC */
    rendered_free(&r);
}

/* Only a test fold: no CV spread, McNemar for the significance. */
static void test_test_only(void **state)
{
    store_ctx c;
    ctx_open(&c, "testonly.db");
    add_run(&c, "p1", 0, "test", 0, 2, 1, 0);
    add_run(&c, "p2", 1, "test", 0, 9, 1, 3);
    ctx_close(&c);
    rendered r = render_all("testonly.db");
    const char *h = r.html;
    assert_chart_drawn(h, "acc");
    char *g = data_group(strstr(h, "id=\"acc\""));
    assert_int_equal(count(g, "<rect"), 2);
    assert_int_equal(count(g, "<circle"), 0); /* no folds, no dots */
    free(g);
    assert_null(strstr(h, "CV accuracy"));
    assert_non_null(strstr(h, "<table class=\"pw\">"));
    assert_non_null(strstr(h, "title=\"McNemar\""));
    assert_chart_drawn(h, "curve-loss");
    rendered_free(&r);
}

/* Only CV folds: ranking by the CV mean, confusion and ROC pooled. */
static void test_cv_only(void **state)
{
    store_ctx c;
    ctx_open(&c, "cvonly.db");
    for (size_t f = 0; f < 3; f++) {
        char fold[16];
        snprintf(fold, sizeof fold, "fold%zu", f + 1);
        add_run(&c, "p1", 0, fold, f, 1 + f, 1, 0);
        add_run(&c, "p2", 1, fold, f, 6, 1, 0);
    }
    ctx_close(&c);
    rendered r = render_all("cvonly.db");
    const char *h = r.html;
    assert_non_null(strstr(h, "out-of-fold predictions of the first CV repetition, pooled"));
    assert_non_null(strstr(h, "CV accuracy (3 folds)"));
    assert_non_null(strstr(h, "title=\"corrected t-test\""));
    /* pooled counts: 3 folds x 18 samples, p1 made 1+2+3 errors */
    const char *cm = strstr(h, "id=\"cm-1-counts\"");
    assert_non_null(cm);
    const char *cm_end = strstr(cm, "</svg>");
    /* diagonal 18 - (3, 2, 1) errors; class c mistaken for c + 1 */
    const char *cells[4] = {">15</text>", ">16</text>", ">17</text>", ">3</text>"};
    for (int i = 0; i < 4; i++) {
        const char *at = strstr(cm, cells[i]);
        if (!at || at > cm_end)
            fail_msg("pooled confusion lacks %s", cells[i]);
    }
    char *g = data_group(strstr(h, "id=\"acc\""));
    assert_int_equal(count(g, "<circle"), 6); /* a dot per fold per pipeline */
    free(g);
    rendered_free(&r);
}

static void test_empty_experiment(void **state)
{
    store_ctx c;
    ctx_open(&c, "empty.db");
    ctx_close(&c);
    rendered r = render_all("empty.db");
    assert_non_null(strstr(r.html, "No runs are stored for this experiment yet."));
    assert_non_null(strstr(r.html, "data-expected=\"\""));
    assert_string_equal(r.csv, "experiment,pipeline,fold,metric,class,value\n");
    rendered_free(&r);
}

/* The summary's p-value against the best follows the ranking's test. */
static void test_p_best(void **state)
{
    store_ctx c;
    ctx_open(&c, "pbest.db");
    add_run(&c, "p1", 0, "test", 0, 0, 1, 0);
    add_run(&c, "p2", 1, "test", 0, 1, 1, 0);  /* 1 error: not significant */
    add_run(&c, "p3", 2, "test", 0, 12, 1, 0); /* 12 errors: significant */
    ctx_close(&c);
    loaded l = load_summary("pbest.db");
    const vb_summary *sum = l.sum;
    assert_string_equal(sum->rows[0].pipeline, "p1");
    assert_true(isnan(sum->rows[0].p_best));
    assert_null(sum->rows[0].p_best_test);
    assert_string_equal(sum->rows[1].p_best_test, "McNemar");
    assert_float_equal(sum->rows[1].p_best, 1.0, 1e-12); /* b + c = 1: exact two-sided p = 1 */
    assert_float_equal(sum->rows[2].p_best, pow(0.5, 11), 1e-12); /* 12 discordant, all one way */
    /* Holm over the 2 comparisons with the best (the spec names no
     * correction): 2^-11 x 2, then max(1 x 1, 2^-10) */
    assert_int_equal(sum->correction, VB_CORRECT_HOLM);
    assert_int_equal(sum->n_best_tests, 2);
    assert_float_equal(sum->rows[2].p_best_adj, pow(0.5, 10), 1e-12);
    assert_float_equal(sum->rows[1].p_best_adj, 1.0, 1e-12);
    assert_true(isnan(sum->rows[0].p_best_adj));
    vb_buf b;
    vb_buf_init(&b);
    vb_render_leaderboard(sum, VB_FMT_HTML, &b);
    assert_int_equal(count(b.data, "badge tie"), 1);
    assert_non_null(strstr(b.data, "(McNemar p = 1 \u2265 0.05 after Holm's correction over 2 comparisons)"));
    /* the best of each column in bold, as shown (4 decimals) */
    assert_non_null(strstr(b.data, "<td class=\"num best\">1.0000</td>"));
    assert_non_null(strstr(b.data, "<td class=\"num\">0.9444</td>"));
    assert_non_null(strstr(b.data, "<td class=\"num best\">2</td>")); /* peak MB: lower is better */
    vb_buf_free(&b);
    loaded_free(&l);
}

/* Three pipelines on a test fold, 0, 1 and 6 of 18 wrong (the first ones):
 * McNemar between 0 and 6 wrong has 6 discordant pairs all one way, p =
 * 2^-5 = 0.03125; 1 and 6: p = 2^-4 = 0.0625; 0 and 1: p = 1. Adjusted over
 * the 3 pairs: Holm 0.09375, 0.125, 1; Bonferroni 0.09375, 0.1875, 1; none
 * leaves them. The spec's correction: key chooses, the legends say which. */
static void test_pairwise_correction(void **state)
{
    static const char *const names[3] = {"none", "holm", "bonferroni"};
    const double want[3][3] = {{0.03125, 0.0625, 1}, {0.09375, 0.125, 1}, {0.09375, 0.1875, 1}};
    const char *legend[3] = {"(* p < 0.05 without correction for 3 pairs)\n",
                             "(* p < 0.05 after Holm's correction over 3 pairs)\n",
                             "(* p < 0.05 after Bonferroni's correction over 3 pairs)\n"};
    const char *md_best[3] = {"McNemar p-value against the best pipeline, without correction for 2 comparisons with the best;",
                              "McNemar p-value against the best pipeline, after Holm's correction over 2 comparisons with the best;",
                              "McNemar p-value against the best pipeline, after Bonferroni's correction over 2 comparisons with the best;"};
    const size_t ties[3] = {1, 2, 2}; /* p3 against the best: 0.03125, adjusted 0.0625 */
    for (int k = 0; k < 3; k++) {
        char spec[256], path[32];
        snprintf(spec, sizeof spec, "%scorrection: %s\n", SPEC, names[k]);
        snprintf(path, sizeof path, "corr-%s.db", names[k]);
        store_ctx c;
        ctx_open_spec(&c, path, spec);
        add_run(&c, "p1", 0, "test", 0, 0, 1, 0);
        add_run(&c, "p2", 1, "test", 0, 1, 1, 0);
        add_run(&c, "p3", 2, "test", 0, 6, 1, 0);
        ctx_close(&c);
        loaded l = load_summary(path);
        const vb_summary *sum = l.sum;
        assert_int_equal(sum->correction, (vb_correction)k);
        assert_int_equal(sum->n_mcnemar_pairs, 3);
        assert_int_equal(sum->n_ttest_pairs, 0);
        const double *raw = sum->mcnemar_p, *adj = sum->mcnemar_p_adj;
        tu_assert_near(raw[0 * 3 + 2], 0.03125, 1e-15);
        tu_assert_near(adj[0 * 3 + 2], want[k][0], 1e-15);
        tu_assert_near(adj[2 * 3 + 0], want[k][0], 1e-15); /* both triangles */
        tu_assert_near(adj[1 * 3 + 2], want[k][1], 1e-15);
        tu_assert_near(adj[0 * 3 + 1], want[k][2], 1e-15);
        assert_true(isnan(sum->ttest_p_adj[0 * 3 + 2]));
        vb_buf b;
        vb_buf_init(&b);
        vb_render_pairwise(sum, VB_FMT_TEXT, &b);
        if (!strstr(b.data, legend[k]))
            fail_msg("no legend %s in:\n%s", legend[k], b.data);
        assert_int_equal(count(b.data, "*"), k == 0 ? 2 : 1); /* 0.0313* both ways, then only the legend */
        vb_buf_free(&b);
        vb_buf_init(&b);
        vb_render_pairwise(sum, VB_FMT_CSV, &b);
        assert_int_equal(strncmp(b.data, "pipeline_a,pipeline_b,mcnemar_p,ttest_t,ttest_p,mcnemar_p_adjusted,"
                                         "ttest_p_adjusted\n", 78), 0);
        const char *row = strstr(b.data, "\np1,p3,");
        double rp, ap;
        assert_non_null(row);
        assert_int_equal(sscanf(row, "\np1,p3,%lf,,,%lf,\n", &rp, &ap), 2); /* no t-test: empty fields */
        tu_assert_near(rp, 0.03125, 1e-15);
        tu_assert_near(ap, want[k][0], 1e-15);
        vb_buf_free(&b);
        vb_buf_init(&b);
        vb_render_leaderboard(sum, VB_FMT_MD, &b);
        if (!strstr(b.data, md_best[k]))
            fail_msg("no '%s' in:\n%s", md_best[k], b.data);
        vb_buf_free(&b);
        vb_buf_init(&b);
        vb_render_leaderboard(sum, VB_FMT_HTML, &b);
        assert_int_equal(count(b.data, "badge tie"), ties[k]);
        vb_buf_free(&b);
        vb_buf_init(&b);
        vb_render_pairwise(sum, VB_FMT_HTML, &b);
        assert_int_equal(count(b.data, "class=\"num sig\""), k == 0 ? 1 : 0);
        assert_int_equal(count(b.data, "raw p"), k == 0 ? 0 : 4); /* the legend and 3 cells */
        if (k)
            assert_non_null(strstr(b.data, "title=\"McNemar, raw p = 0.0313\""));
        vb_buf_free(&b);
        loaded_free(&l);
    }
    /* Families of two sizes: McNemar on the test fold for all 3 pairs, the
     * t-test only where both pipelines have CV folds (1 pair). */
    store_ctx c;
    ctx_open(&c, "corr-two.db");
    for (size_t f = 0; f < 3; f++) {
        const char *fold = f == 2 ? "test" : f ? "fold2" : "fold1";
        add_run(&c, "a", 0, fold, f, f, 1, 0);
        add_run(&c, "b", 1, fold, f, 3 + f, 1, 0);
    }
    add_run(&c, "c", 2, "test", 2, 9, 1, 0);
    ctx_close(&c);
    loaded l = load_summary("corr-two.db");
    const vb_summary *sum = l.sum;
    assert_int_equal(sum->n_mcnemar_pairs, 3);
    assert_int_equal(sum->n_ttest_pairs, 1);
    /* a family of one is left as it is */
    tu_assert_near(sum->ttest_p_adj[0 * 3 + 1], sum->ttest_p[0 * 3 + 1], 0);
    vb_buf b;
    vb_buf_init(&b);
    vb_render_pairwise(sum, VB_FMT_MD, &b);
    if (!strstr(b.data, "\n\\* p < 0.05 after Holm's correction over 3 McNemar pairs and 1 t-test pair\n"))
        fail_msg("legend missing:\n%s", b.data);
    vb_buf_free(&b);
    loaded_free(&l);
}

static vb_summary *summary_of(const char *db, vb_store **s, vb_store_exp **e)
{
    vb_summary *sum = NULL;
    vb_error err = {0};
    if (vb_store_open(db, 1, s, &err) != VB_OK || vb_store_load(*s, 0, 1, e, &err) != VB_OK ||
        vb_summary_build(*e, &sum, &err) != VB_OK)
        fail_msg("%s", err.msg);
    return sum;
}

/* The new protocols in the leaderboard, by their folds' kinds: a repeated
 * holdout is averaged and t-tested like CV folds, McNemar on its first
 * draw; leave-one-out folds pool their confusion matrices for macro-F1 and
 * balanced accuracy, and pipelines compare by McNemar alone. */
static void test_protocol_summaries(void **state)
{
    store_ctx c;
    ctx_open_spec(&c, "rh.db", "name: rh\nseed: 5\ndataset: mem\nsplit: {protocol: holdout, repeats: 3}\n"
                                "pipelines:\n  - {name: a, classifier: svm}\n");
    assert_int_equal(c.split->n_folds, 3);
    for (size_t f = 0; f < 3; f++) {
        add_run(&c, "p1", 0, c.split->folds[f].name, f, 1 + f, 1, 0);
        add_run(&c, "p2", 1, c.split->folds[f].name, f, 4 + 2 * f, 1, 0);
    }
    ctx_close(&c);
    vb_store *s = NULL;
    vb_store_exp *e = NULL;
    vb_summary *sum = summary_of("rh.db", &s, &e);
    assert_true(sum->repeated_holdout && !sum->has_test && sum->has_cv);
    assert_string_equal(sum->rows[0].pipeline, "p1");
    assert_int_equal(sum->rows[0].accuracy.n, 3);
    tu_assert_near(sum->rows[0].accuracy.mean, (17.0 + 16 + 15) / 54, 1e-12);
    assert_false(isnan(sum->rows[0].accuracy.sd));
    assert_false(sum->rows[0].pooled);
    assert_string_equal(sum->rows[1].p_best_test, "corrected t-test");
    assert_false(isnan(sum->ttest_p[1]));
    vb_buf b;
    vb_buf_init(&b);
    vb_render_pairwise(sum, VB_FMT_TEXT, &b);
    assert_non_null(strstr(b.data, "McNemar on the first draw's test predictions"));
    vb_buf_free(&b);
    vb_summary_free(sum);
    vb_store_exp_free(e);
    vb_store_close(s);

    ctx_open_spec(&c, "loo.db", "name: loo\nseed: 5\ndataset: mem\nsplit: {protocol: loo}\n"
                                 "pipelines:\n  - {name: a, classifier: svm}\n");
    assert_int_equal(c.split->n_folds, 9);
    for (size_t f = 0; f < 3; f++) {
        add_run(&c, "p1", 0, c.split->folds[f].name, f, 1 + f, 1, 0);
        add_run(&c, "p2", 1, c.split->folds[f].name, f, 5, 1, 0);
    }
    ctx_close(&c);
    sum = summary_of("loo.db", &s, &e);
    const vb_summary_row *r = &sum->rows[0];
    assert_string_equal(r->pipeline, "p1");
    assert_true(r->pooled);
    /* pooled over 3 x 18 predictions: class 0 taken for 1 three times,
     * 1 for 2 twice, 2 for 0 once; F1 = 2 TP / (2 TP + FP + FN) */
    tu_assert_near(r->macro_f1.mean, (30.0 / 34 + 32.0 / 37 + 34.0 / 37) / 3, 1e-12);
    tu_assert_near(r->balanced_accuracy.mean, 48.0 / 54, 1e-12);
    assert_true(isnan(r->macro_f1.sd) && isnan(r->balanced_accuracy.sd));
    tu_assert_near(r->accuracy.mean, 48.0 / 54, 1e-12);
    assert_true(isnan(sum->ttest_p[1]));
    assert_string_equal(sum->rows[1].p_best_test, "McNemar");
    vb_summary_free(sum);
    vb_store_exp_free(e);
    vb_store_close(s);
}

/* Many pipelines: the pairwise matrix covers the best 64, every pipeline
 * still gets its p-value against the best, and it equals what the matrix
 * gives a pipeline with the same predictions. */
static void test_many_pipelines(void **state)
{
    store_ctx c;
    ctx_open(&c, "many.db");
    enum { P = 70 };
    for (size_t i = 0; i < P; i++) {
        char name[16];
        snprintf(name, sizeof name, "p%02zu", i);
        add_run(&c, name, i, "test", 0, i % 10, 1, 0);
    }
    ctx_close(&c);
    loaded l = load_summary("many.db");
    const vb_summary *sum = l.sum;
    assert_int_equal(sum->n, P);
    assert_int_equal(sum->n_pairwise, VB_SUMMARY_MAX_PAIRWISE);
    assert_string_equal(sum->rows[0].pipeline, "p00");
    /* rows 63..69 all have 9 wrong predictions, in name order */
    assert_string_equal(sum->rows[63].pipeline, "p09");
    assert_string_equal(sum->rows[69].pipeline, "p69");
    assert_int_equal(sum->n_best_tests, P - 1); /* the family of p_best_adj */
    for (size_t i = 1; i < P; i++)
        assert_true(sum->rows[i].p_best_adj >= sum->rows[i].p_best);
    double want = sum->mcnemar_p[63]; /* row 0 against row 63, from the matrix */
    assert_float_equal(want, pow(0.5, 8), 1e-12); /* 9 discordant, all one way */
    for (size_t i = 63; i < P; i++) {
        assert_float_equal(sum->rows[i].p_best, want, 0);
        assert_string_equal(sum->rows[i].p_best_test, "McNemar");
        assert_int_equal(sum->rows[i].n_runs, 1);
    }
    vb_buf b;
    vb_buf_init(&b);
    vb_render_pairwise(sum, VB_FMT_TEXT, &b);
    assert_non_null(strstr(b.data, "pairwise tests between the 64 best of 70 pipelines"));
    vb_buf_free(&b);
    loaded_free(&l);
}

/* The largest tick label (text filled #333) in a chart. */
static double max_tick(const char *svg)
{
    double m = -INFINITY;
    const char *key = "fill=\"#333\">";
    for (const char *p = strstr(svg, key); p; p = strstr(p + 1, key))
        m = fmax(m, strtod(p + strlen(key), NULL));
    return m;
}

/* The part of s from the first `from` to the next `to` (malloc'ed). */
static char *between(const char *s, const char *from, const char *to)
{
    const char *a = strstr(s, from);
    if (!a)
        fail_msg("no %s", from);
    const char *z = strstr(a, to);
    assert_non_null(z);
    return strndup(a, (size_t)(z - a));
}

/* Twenty pipelines: per-pipeline detail folded (closed), the significance
 * section a list against the best with the matrix of the best twelve in a
 * fold, per-class ROC in class colours only, the accuracy axis zoomed. */
static void test_report_scales(void **state)
{
    store_ctx c;
    ctx_open(&c, "scales.db");
    enum { P = 20 };
    const char *folds[3] = {"fold1", "fold2", "test"};
    for (size_t i = 0; i < P; i++) {
        char name[16];
        snprintf(name, sizeof name, "pipe-%02zu", i);
        for (size_t f = 0; f < 3; f++)
            add_run(&c, name, i, folds[f], f, f == 2 ? i % 3 : 1 + (i + f) % 3, 1, 0);
    }
    ctx_close(&c);
    rendered r = render_all("scales.db");
    const char *h = r.html;
    /* one closed fold per pipeline for confusion matrices and per-class ROC */
    assert_int_equal(count(h, "<details><summary><span class=\"pl\">"), 2 * P);
    assert_int_equal(count(h, "<details open"), 0);
    assert_chart_drawn(h, "cm-20-counts");
    assert_chart_drawn(h, "roc-20");
    /* against the best: a row per pipeline */
    char *vs = between(h, "<table class=\"vs\">", "</table>");
    assert_int_equal(count(vs, "<tr>"), P + 1);
    assert_non_null(strstr(vs, "&#8776; best"));
    free(vs);
    /* the matrix: the best twelve, columns numbered, in a fold */
    assert_non_null(strstr(h, "<details><summary>Every pair among the 12 best pipelines</summary><p>"));
    char *pw = between(h, "<table class=\"pw\">", "</table>");
    assert_int_equal(count(pw, "<th title=\""), 12);
    assert_int_equal(count(pw, "<tr>"), 13);
    assert_non_null(strstr(pw, "<th class=\"l nw\">12. "));
    free(pw);
    /* the tables of every pipeline's parameters and timings are folded */
    assert_non_null(strstr(h, "<details><summary>Parameters, grid choices, features and model facts of the 20"));
    assert_non_null(strstr(h, "<details><summary>Extraction, tuning, training and prediction times"));
    /* per-class ROC: class colours, never a pipeline's */
    char *roc = between(strstr(h, "id=\"roc-1\""), "<g class=\"legend\">", "</svg>");
    char key[32];
    snprintf(key, sizeof key, "stroke=\"%s\"", vb_chart_style(VB_PALETTE_CLASSES, 0).color);
    assert_non_null(strstr(roc, key));
    for (size_t i = 0; i < VB_CHART_COLORS; i++) {
        snprintf(key, sizeof key, "\"%s\"", vb_chart_color(i));
        if (strstr(roc, key))
            fail_msg("a per-class ROC chart uses pipeline colour %s", vb_chart_color(i));
    }
    free(roc);
    /* the macro ROC: pipelines 13..20 dashed in the colours of 1..8 */
    char *macro = between(strstr(h, "id=\"roc-macro\""), "<g class=\"data\">", "</svg>");
    assert_int_equal(count(macro, "stroke-dasharray=\"7 3\""), P - VB_CHART_COLORS);
    free(macro);
    /* test accuracies 1, 17/18 and 16/18: the axis zooms, says so, stops at 1 */
    char *acc = between(strstr(h, "id=\"acc\""), "<g", "</svg>");
    assert_non_null(strstr(acc, ">axis from 0."));
    assert_non_null(strstr(acc, ">1.00</text>"));
    assert_true(max_tick(acc) == 1.0);
    free(acc);
    rendered_free(&r);
}

/* Across datasets: three experiments of one spec (three datasets), three
 * pipelines with known test accuracies; ranks, Friedman and the section. */
static void test_across(void **state)
{
    static const char *spec = "name: acr\nseed: 5\ndataset: mem\nsplit: {protocol: official-test}\n"
                              "pipelines: [{name: a, classifier: svm}, {name: b, classifier: knn}, "
                              "{name: c, classifier: logreg}]\n";
    /* wrong predictions of 18: accuracies a 1, 17/18, 1; b 17/18, 1, 16/18; c 16/18, 16/18, 17/18 */
    static const size_t wrong[3][3] = {{0, 1, 2}, {1, 0, 2}, {0, 2, 1}};
    vb_error err = {0};
    remove("acr.db");
    vb_store *s = NULL;
    assert_int_equal(vb_store_open("acr.db", 0, &s, &err), VB_OK);
    for (size_t d = 0; d < 3; d++) {
        store_ctx c;
        memset(&c, 0, sizeof c);
        c.ds = mem_dataset(3);
        c.ds->block[0] = (uint8_t)(200 + d); /* another dataset: another split hash */
        free(c.ds->name);
        c.ds->name = vb_asprintf("set%zu", d + 1);
        if (vb_spec_parse(spec, "acr.yaml", &c.spec, &err) != VB_OK ||
            vb_split_make(&c.spec->split, c.ds, &c.split, &err) != VB_OK)
            fail_msg("%s", err.msg);
        c.s = s;
        assert_int_equal(vb_store_experiment(s, c.spec, c.ds, c.split, &c.exp, &err), VB_OK);
        for (size_t p = 0; p < 3; p++)
            add_run(&c, (const char *[]){"a", "b", "c"}[p], p, "test", 0, wrong[d][p], 0, 0);
        c.s = NULL;
        ctx_close(&c);
    }
    vb_across *a = NULL;
    assert_int_equal(vb_across_build(s, 0, &a, &err), VB_OK);
    assert_int_equal(a->n_sets, 3);
    assert_int_equal(a->k, 3);
    assert_string_equal(a->datasets[2], "set3");
    assert_string_equal(a->pipelines[0], "a");
    assert_float_equal(a->score[1 * 3 + 1], 1.0, 1e-12);
    assert_float_equal(a->score[0 * 3 + 2], 16.0 / 18, 1e-12);
    /* ranks: a (1 + 2 + 1) / 3, b (2 + 1 + 3) / 3, c (3 + 3 + 2) / 3 */
    assert_true(a->have_stats);
    assert_float_equal(a->ranks[0], 4.0 / 3, 1e-12);
    assert_float_equal(a->ranks[1], 2.0, 1e-12);
    assert_float_equal(a->ranks[2], 8.0 / 3, 1e-12);
    /* chi2 = 12N / (k(k+1)) (sum R^2 - k(k+1)^2 / 4) = 3 (16/9 + 4 + 64/9 - 12) = 8/3 */
    assert_float_equal(a->friedman.chi2, 8.0 / 3, 1e-9);
    /* CD = q(3, 0.05) sqrt(3 * 4 / 18), q = 2.343 (Demšar's Table 5a) */
    assert_float_equal(a->cd05, 2.3437 * sqrt(12.0 / 18), 1e-3);
    vb_buf b;
    vb_buf_init(&b);
    vb_render_across(a, VB_FMT_TEXT, &b);
    assert_non_null(strstr(b.data, "across 3 datasets"));
    assert_non_null(strstr(b.data, "average rank                 1.3333       2.0000       2.6667"));
    assert_non_null(strstr(b.data, "no two pipelines differ significantly"));
    vb_buf_free(&b);
    vb_buf_init(&b);
    vb_render_across(a, VB_FMT_CSV, &b);
    assert_non_null(strstr(b.data, "dataset,a,b,c\nset1,1,0.944444,0.888889\n"));
    assert_non_null(strstr(b.data, "average rank,1.33333,2,2.66667\n"));
    vb_buf_free(&b);
    vb_buf_init(&b);
    vb_render_across_html(a, &b);
    assert_non_null(strstr(b.data, "<section id=\"datasets\">"));
    assert_chart_drawn(b.data, "cd-diagram");
    vb_buf_free(&b);
    vb_across_free(a);
    vb_store_close(s);
    /* one dataset: no matrix */
    store_ctx c;
    ctx_open(&c, "one.db");
    add_run(&c, "a", 0, "test", 3, 1, 0, 0);
    assert_int_equal(vb_across_build(c.s, 0, &a, &err), VB_OK);
    assert_int_equal(a->n_sets, 1);
    vb_buf_init(&b);
    vb_render_across(a, VB_FMT_TEXT, &b);
    vb_render_across_html(a, &b);
    assert_int_equal(b.len, 0);
    vb_buf_free(&b);
    vb_across_free(a);
    ctx_close(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ticks),           cmocka_unit_test(test_bars),
        cmocka_unit_test(test_pareto),          cmocka_unit_test(test_scatter),
        cmocka_unit_test(test_lines),           cmocka_unit_test(test_heatmap),
        cmocka_unit_test(test_cd_groups),       cmocka_unit_test(test_cd_diagram),
        cmocka_unit_test(test_shade_and_shorten), cmocka_unit_test(test_full_and_escaping),
        cmocka_unit_test(test_single_pipeline), cmocka_unit_test(test_failed_runs),
        cmocka_unit_test(test_test_only),       cmocka_unit_test(test_cv_only),
        cmocka_unit_test(test_empty_experiment), cmocka_unit_test(test_p_best),
        cmocka_unit_test(test_protocol_summaries),
        cmocka_unit_test(test_many_pipelines), cmocka_unit_test(test_pairwise_correction),
        cmocka_unit_test(test_md_cell),         cmocka_unit_test(test_palette),
        cmocka_unit_test(test_zoom),            cmocka_unit_test(test_place_labels),
        cmocka_unit_test(test_report_scales),
        cmocka_unit_test(test_cluster_mode),
        cmocka_unit_test(test_across),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
