/* Inline SVG charts: bars, scatter with a Pareto front, lines, heatmaps. */
#include "visbench/chart.h"
#include "visbench/report.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Okabe & Ito (2008): blue, orange, green, vermillion, purple, sky blue,
 * black, yellow. Yellow is last: it is the hardest to see on white. */
static const char *const palette[8] = {"#0072B2", "#E69F00", "#009E73", "#D55E00",
                                       "#CC79A7", "#56B4E9", "#000000", "#F0E442"};

const char *vb_chart_color(size_t i) { return palette[i % 8]; }

void vb_chart_shade(double t, char out[8], int *dark)
{
    /* A blue ramp, light to dark, monotone in lightness. */
    static const unsigned char stops[5][3] = {
        {0xf7, 0xfb, 0xff}, {0xc6, 0xdb, 0xef}, {0x6b, 0xae, 0xd6}, {0x21, 0x71, 0xb5}, {0x08, 0x30, 0x6b}};
    if (isnan(t)) {
        snprintf(out, 8, "#eeeeee");
        if (dark)
            *dark = 0;
        return;
    }
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    double u = t * 4;
    int i = (int)u;
    if (i > 3)
        i = 3;
    double f = u - i;
    int rgb[3];
    for (int c = 0; c < 3; c++)
        rgb[c] = (int)lround(stops[i][c] + f * (stops[i + 1][c] - stops[i][c]));
    snprintf(out, 8, "#%02x%02x%02x", rgb[0] & 255, rgb[1] & 255, rgb[2] & 255);
    if (dark)
        *dark = t > 0.55;
}

/* ---- text ------------------------------------------------------------------ */

#define FONT 12.0
#define CHAR_W (FONT * 0.6) /* average advance of a sans-serif glyph */

static size_t utf8_len(const char *s)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++)
        n += (*p & 0xC0) != 0x80;
    return n;
}

char *vb_chart_shorten(const char *s, size_t max)
{
    s = s ? s : "";
    if (utf8_len(s) <= max)
        return strdup(s);
    size_t keep = max > 1 ? max - 1 : 0, n = 0;
    const char *p = s;
    while (*p) {
        if ((*(const unsigned char *)p & 0xC0) != 0x80) {
            if (n == keep)
                break;
            n++;
        }
        p++;
    }
    return vb_asprintf("%.*s\xe2\x80\xa6", (int)(p - s), s);
}

/* Escaped text, cut to max code points with an ellipsis. */
static void text_fit(vb_buf *b, const char *s, size_t max)
{
    if (utf8_len(s) <= max) {
        vb_html_text(b, s);
        return;
    }
    char *cut = vb_chart_shorten(s, max);
    if (!cut) {
        b->failed = 1;
        return;
    }
    vb_html_text(b, cut);
    free(cut);
}

static double text_w(const char *s, size_t max)
{
    size_t n = utf8_len(s);
    return (double)(n < max ? n : max) * CHAR_W;
}

/* A <title> tooltip with the full text. */
static void tooltip(vb_buf *b, const char *s)
{
    vb_buf_puts(b, "<title>");
    vb_html_text(b, s);
    vb_buf_puts(b, "</title>");
}

static void open_svg(vb_buf *b, const char *id, const char *title, double w, double h)
{
    vb_buf_printf(b,
                  "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" id=\"%s\" viewBox=\"0 0 %.0f %.0f\""
                  " width=\"%.0f\" height=\"%.0f\" role=\"img\" font-family=\"system-ui, sans-serif\""
                  " font-size=\"%.0f\">",
                  id ? id : "chart", w, h, w, h, FONT);
    if (title)
        tooltip(b, title);
}

/* ---- scales and ticks ------------------------------------------------------ */

static double nice_step(double x)
{
    if (!(x > 0) || !isfinite(x))
        return 1;
    double e = floor(log10(x)), f = x / pow(10, e);
    double m = f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10;
    return m * pow(10, e);
}

size_t vb_chart_ticks(double lo, double hi, int log, double *ticks, size_t max)
{
    size_t n = 0;
    if (!(hi > lo) || !isfinite(lo) || !isfinite(hi) || max == 0)
        return 0;
    if (!log) {
        double step = nice_step((hi - lo) / 5);
        double first = ceil(lo / step - 1e-9);
        for (double k = first; n < max; k++) {
            double v = k * step;
            if (v > hi + 1e-9 * step)
                break;
            ticks[n++] = fabs(v) < 1e-12 * step ? 0 : v;
        }
        return n;
    }
    if (!(lo > 0))
        return 0;
    double span = log10(hi / lo);
    int d0 = (int)floor(log10(lo)), d1 = (int)ceil(log10(hi));
    int every = span > 8 ? 2 : 1;
    static const double mult[4] = {1, 2, 5, 3}; /* 3 only within about a decade */
    int nm = span < 1.2 ? 4 : span < 3 ? 3 : 1;
    for (int d = d0; d <= d1 && n < max; d++) {
        if ((d - d0) % every)
            continue;
        for (int m = 0; m < nm && n < max; m++) {
            double v = mult[m] * pow(10, d);
            if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9))
                ticks[n++] = v;
        }
    }
    /* ascending order (3 was appended after 5) */
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && ticks[j - 1] > ticks[j]; j--) {
            double t = ticks[j];
            ticks[j] = ticks[j - 1];
            ticks[j - 1] = t;
        }
    return n;
}

/* The 1-2-5 value at or below (down) or at or above v > 0. */
static double snap125(double v, int up)
{
    double e = floor(log10(v));
    static const double mult[4] = {1, 2, 5, 10};
    double best = up ? 10 * pow(10, e) : pow(10, e);
    for (int i = 0; i < 4; i++) {
        double c = mult[i] * pow(10, e);
        if (up && c >= v * (1 - 1e-12) && c < best)
            best = c;
        if (!up && c <= v * (1 + 1e-12) && c > best)
            best = c;
    }
    return best;
}

typedef struct scale {
    double lo, hi, p0, p1; /* data range -> pixel range */
    int log;
} scale;

static double tx(const scale *s, double v) { return s->log ? log10(v) : v; }

static double map(const scale *s, double v)
{
    double a = tx(s, s->lo), z = tx(s, s->hi);
    double t = z > a ? (tx(s, v) - a) / (z - a) : 0.5;
    return s->p0 + t * (s->p1 - s->p0);
}

static int drawable(const scale *s, double v) { return !isnan(v) && isfinite(v) && (!s->log || v > 0); }

/* Range of an axis: the given ends, else the data's, padded and rounded
 * to tick values. */
static void axis_range(const vb_axis *a, double dmin, double dmax, double *lo, double *hi)
{
    *lo = a->lo;
    *hi = a->hi;
    if (!isnan(*lo) && !isnan(*hi) && *hi > *lo)
        return;
    if (isnan(dmin) || isnan(dmax)) { /* no data */
        dmin = a->log ? 1 : 0;
        dmax = a->log ? 10 : 1;
    }
    if (a->log) {
        double l = snap125(dmin / 1.15, 0), h = snap125(dmax * 1.15, 1);
        if (isnan(*lo))
            *lo = l;
        if (isnan(*hi))
            *hi = h;
    } else {
        if (dmax - dmin < 1e-12) {
            double pad = fabs(dmin) > 0 ? fabs(dmin) * 0.1 : 1;
            dmin -= pad;
            dmax += pad;
        }
        double pad = (dmax - dmin) * 0.05;
        double step = nice_step((dmax - dmin + 2 * pad) / 5);
        if (isnan(*lo))
            *lo = floor((dmin - pad) / step) * step;
        if (isnan(*hi))
            *hi = ceil((dmax + pad) / step) * step;
    }
    if (!(*hi > *lo))
        *hi = a->log ? *lo * 10 : *lo + 1;
}

static void tick_label(vb_buf *b, double v, const scale *s)
{
    if (s->log) {
        vb_buf_printf(b, "%g", v);
        return;
    }
    double step = nice_step((s->hi - s->lo) / 5);
    int dec = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
    vb_buf_printf(b, "%.*f", dec > 6 ? 6 : dec, v);
}

/* Grid lines, ticks and labels of the x axis along the bottom of the plot
 * (top..bottom pixels), with the axis title below. */
static void x_axis(vb_buf *b, const scale *sx, double top, double bottom, const char *title)
{
    double t[32];
    size_t n = vb_chart_ticks(sx->lo, sx->hi, sx->log, t, 32);
    vb_buf_puts(b, "<g class=\"axis\">");
    for (size_t i = 0; i < n; i++) {
        double x = map(sx, t[i]);
        vb_buf_printf(b, "<path d=\"M%.1f %.1fV%.1f\" stroke=\"#ddd\"/>", x, top, bottom);
        vb_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" fill=\"#333\">", x, bottom + 15);
        tick_label(b, t[i], sx);
        vb_buf_puts(b, "</text>");
    }
    vb_buf_printf(b, "<path d=\"M%.1f %.1fH%.1f\" stroke=\"#555\"/>", sx->p0, bottom, sx->p1);
    if (title) {
        vb_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-weight=\"600\">",
                      (sx->p0 + sx->p1) / 2, bottom + 34);
        vb_html_text(b, title);
        if (sx->log)
            vb_buf_puts(b, " (log scale)");
        vb_buf_puts(b, "</text>");
    }
    vb_buf_puts(b, "</g>");
}

static void y_axis(vb_buf *b, const scale *sy, double left, double right, const char *title)
{
    double t[32];
    size_t n = vb_chart_ticks(sy->lo, sy->hi, sy->log, t, 32);
    vb_buf_puts(b, "<g class=\"axis\">");
    for (size_t i = 0; i < n; i++) {
        double y = map(sy, t[i]);
        vb_buf_printf(b, "<path d=\"M%.1f %.1fH%.1f\" stroke=\"#ddd\"/>", left, y, right);
        vb_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" fill=\"#333\">", left - 6, y + 4);
        tick_label(b, t[i], sy);
        vb_buf_puts(b, "</text>");
    }
    vb_buf_printf(b, "<path d=\"M%.1f %.1fV%.1f\" stroke=\"#555\"/>", left, sy->p0, sy->p1);
    if (title) {
        double cy = (sy->p0 + sy->p1) / 2;
        vb_buf_printf(b,
                      "<text transform=\"translate(%.1f %.1f) rotate(-90)\" text-anchor=\"middle\""
                      " font-weight=\"600\">",
                      16.0, cy);
        vb_html_text(b, title);
        if (sy->log)
            vb_buf_puts(b, " (log scale)");
        vb_buf_puts(b, "</text>");
    }
    vb_buf_puts(b, "</g>");
}

/* ---- legends ---------------------------------------------------------------- */

typedef enum swatch { SW_RECT, SW_LINE, SW_DOT, SW_DIAMOND, SW_FRONT, SW_FADED } swatch;

static const char *dash_of(size_t color, int dashed)
{
    if (color >= 8)
        return dashed ? "9 3 2 3" : "2 2";
    return dashed ? "6 4" : NULL;
}

static void swatch_at(vb_buf *b, swatch k, double x, double y, size_t color, int dashed)
{
    const char *c = vb_chart_color(color);
    switch (k) {
    case SW_RECT: vb_buf_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"16\" height=\"10\" fill=\"%s\"/>", x, y - 5, c); break;
    case SW_LINE: {
        const char *d = dash_of(color, dashed);
        vb_buf_printf(b, "<path d=\"M%.1f %.1fH%.1f\" stroke=\"%s\" stroke-width=\"2.5\" fill=\"none\"", x, y, x + 22, c);
        if (d)
            vb_buf_printf(b, " stroke-dasharray=\"%s\"", d);
        vb_buf_puts(b, "/>");
        break;
    }
    case SW_DOT:
        vb_buf_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"#222\" stroke=\"#fff\"/>", x + 8, y);
        break;
    case SW_DIAMOND:
        vb_buf_printf(b, "<path d=\"M%.1f %.1fl6 6l-6 6l-6 -6z\" fill=\"#fff\" stroke=\"#000\" stroke-width=\"2\"/>", x + 8,
                      y - 6);
        break;
    case SW_FRONT:
        vb_buf_printf(b,
                      "<path d=\"M%.1f %.1fH%.1f\" stroke=\"#000\" stroke-dasharray=\"5 3\"/>"
                      "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"5\" fill=\"#888\" stroke=\"#000\" stroke-width=\"2\"/>",
                      x, y, x + 22, x + 11, y);
        break;
    case SW_FADED:
        vb_buf_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"5\" fill=\"#888\" fill-opacity=\"0.35\" stroke=\"#888\"/>",
                      x + 11, y);
        break;
    }
}

/* One legend entry: swatch then label; returns the x after it. */
static double legend_item(vb_buf *b, swatch k, double x, double y, size_t color, int dashed, const char *label,
                          size_t max)
{
    swatch_at(b, k, x, y, color, dashed);
    vb_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\">", x + 28, y + 4);
    text_fit(b, label, max);
    vb_buf_puts(b, "</text>");
    return x + 28 + text_w(label, max) + 18;
}

/* ---- bars -------------------------------------------------------------------- */

#define BAR_LABEL_MAX 28

void vb_chart_bars(const vb_bar_chart *c, vb_buf *b)
{
    double maxlab = 0, dmax = 0;
    for (size_t i = 0; i < c->n; i++) {
        const vb_bar *r = &c->bars[i];
        double w = text_w(r->label, BAR_LABEL_MAX);
        maxlab = w > maxlab ? w : maxlab;
        double top = r->value + (isnan(r->err) ? 0 : r->err);
        if (!isnan(top) && top > dmax)
            dmax = top;
        if (!isnan(r->marker) && r->marker > dmax)
            dmax = r->marker;
        for (size_t j = 0; j < r->n_dots; j++)
            if (!isnan(r->dots[j]) && r->dots[j] > dmax)
                dmax = r->dots[j];
    }
    int legend = c->value_legend || c->dots_legend || c->marker_legend;
    double W = 680, left = 14 + maxlab + 10, right = W - 24, top = legend ? 34 : 12, row = 30;
    double H = top + (double)c->n * row + 50;
    vb_axis ax = c->x;
    ax.log = 0;
    double lo = 0, hi;
    axis_range(&ax, 0, dmax > 0 ? dmax : 1, &lo, &hi);
    lo = 0;
    scale sx = {lo, hi, left, right, 0};
    open_svg(b, c->id, c->title, W, H);
    double bottom = top + (double)c->n * row;
    x_axis(b, &sx, top, bottom, c->x.title);
    if (legend) {
        vb_buf_puts(b, "<g class=\"legend\">");
        double x = left;
        if (c->value_legend)
            x = legend_item(b, SW_RECT, x, 14, 0, 0, c->value_legend, 40);
        if (c->dots_legend)
            x = legend_item(b, SW_DOT, x, 14, 0, 0, c->dots_legend, 40);
        if (c->marker_legend)
            legend_item(b, SW_DIAMOND, x, 14, 0, 0, c->marker_legend, 40);
        vb_buf_puts(b, "</g>");
    }
    vb_buf_puts(b, "<g class=\"labels\">");
    for (size_t i = 0; i < c->n; i++) {
        double yc = top + (double)i * row + row / 2;
        vb_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">", left - 8, yc + 4);
        tooltip(b, c->bars[i].label);
        text_fit(b, c->bars[i].label, BAR_LABEL_MAX);
        vb_buf_puts(b, "</text>");
    }
    vb_buf_puts(b, "</g><g class=\"data\">");
    for (size_t i = 0; i < c->n; i++) {
        const vb_bar *r = &c->bars[i];
        double yc = top + (double)i * row + row / 2;
        int any = 0;
        if (!isnan(r->value)) {
            double x1 = map(&sx, r->value < 0 ? 0 : r->value > hi ? hi : r->value);
            vb_buf_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"18\" fill=\"%s\">", left, yc - 9,
                          x1 - left, vb_chart_color(r->color));
            vb_buf_puts(b, "<title>");
            vb_html_text(b, r->label);
            vb_buf_printf(b, ": %.4f", r->value);
            if (!isnan(r->err))
                vb_buf_printf(b, " \xc2\xb1 %.4f", r->err);
            vb_buf_puts(b, "</title></rect>");
            any = 1;
        }
        if (!isnan(r->value) && !isnan(r->err) && r->err > 0) {
            double a = map(&sx, fmax(lo, r->value - r->err)), z = map(&sx, fmin(hi, r->value + r->err));
            vb_buf_printf(b,
                          "<path d=\"M%.1f %.1fH%.1fM%.1f %.1fV%.1fM%.1f %.1fV%.1f\" stroke=\"#222\""
                          " stroke-width=\"1.5\" fill=\"none\"/>",
                          a, yc, z, a, yc - 5, yc + 5, z, yc - 5, yc + 5);
        }
        for (size_t j = 0; j < r->n_dots; j++) {
            if (isnan(r->dots[j]))
                continue;
            double spread = r->n_dots > 1 ? 12.0 / (double)(r->n_dots - 1) : 0;
            if (spread > 4)
                spread = 4;
            double dy = ((double)j - (double)(r->n_dots - 1) / 2) * spread;
            double v = fmin(hi, fmax(lo, r->dots[j]));
            vb_buf_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"#222\" stroke=\"#fff\"><title>%.4f</title></circle>",
                          map(&sx, v), yc + dy, r->dots[j]);
            any = 1;
        }
        if (!isnan(r->marker)) {
            double x = map(&sx, fmin(hi, fmax(lo, r->marker)));
            vb_buf_printf(b, "<path d=\"M%.1f %.1fl6 7l-6 7l-6 -7z\" fill=\"#fff\" stroke=\"#000\" stroke-width=\"2\">",
                          x, yc - 7);
            vb_buf_puts(b, "<title>");
            vb_html_text(b, c->marker_legend ? c->marker_legend : "value");
            vb_buf_printf(b, ": %.4f</title></path>", r->marker);
            any = 1;
        }
        if (!any)
            vb_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" fill=\"#777\" font-style=\"italic\">no result</text>",
                          left + 6, yc + 4);
    }
    vb_buf_puts(b, "</g></svg>");
}

/* ---- scatter ----------------------------------------------------------------- */

size_t vb_pareto_front(const double *x, const double *y, size_t n, int x_lower_better, int *on_front)
{
    size_t count = 0;
    for (size_t i = 0; i < n; i++) {
        on_front[i] = 0;
        if (isnan(x[i]) || isnan(y[i]))
            continue;
        int dominated = 0;
        for (size_t j = 0; j < n && !dominated; j++) {
            if (j == i || isnan(x[j]) || isnan(y[j]))
                continue;
            double xi = x_lower_better ? -x[i] : x[i], xj = x_lower_better ? -x[j] : x[j];
            if (xj >= xi && y[j] >= y[i] && (xj > xi || y[j] > y[i]))
                dominated = 1;
        }
        if (!dominated) {
            on_front[i] = 1;
            count++;
        }
    }
    return count;
}

typedef struct ordered {
    double x, y;
} ordered;

static int by_x(const void *a, const void *b)
{
    double x = ((const ordered *)a)->x, y = ((const ordered *)b)->x;
    return x < y ? -1 : x > y;
}

#define POINT_LABEL_MAX 24

void vb_chart_scatter(const vb_scatter *c, vb_buf *b)
{
    double W = 540, H = 360, left = 70, right = W - 20, top = 34, bottom = H - 52;
    double *xs = malloc((c->n ? c->n : 1) * sizeof *xs), *ys = malloc((c->n ? c->n : 1) * sizeof *ys);
    int *front = malloc((c->n ? c->n : 1) * sizeof *front);
    ordered *fp = malloc((c->n ? c->n : 1) * sizeof *fp);
    if (!xs || !ys || !front || !fp) {
        b->failed = 1;
        free(xs);
        free(ys);
        free(front);
        free(fp);
        return;
    }
    double xmin = NAN, xmax = NAN, ymin = NAN, ymax = NAN;
    for (size_t i = 0; i < c->n; i++) {
        double x = c->pts[i].x, y = c->pts[i].y;
        int ok = !isnan(x) && !isnan(y) && isfinite(x) && isfinite(y) && (!c->x.log || x > 0) && (!c->y.log || y > 0);
        xs[i] = ok ? x : NAN;
        ys[i] = ok ? y : NAN;
        if (!ok)
            continue;
        xmin = isnan(xmin) || x < xmin ? x : xmin;
        xmax = isnan(xmax) || x > xmax ? x : xmax;
        ymin = isnan(ymin) || y < ymin ? y : ymin;
        ymax = isnan(ymax) || y > ymax ? y : ymax;
    }
    vb_pareto_front(xs, ys, c->n, c->x_lower_better, front);
    scale sx = {0, 0, left, right, c->x.log}, sy = {0, 0, bottom, top, c->y.log};
    axis_range(&c->x, xmin, xmax, &sx.lo, &sx.hi);
    axis_range(&c->y, ymin, ymax, &sy.lo, &sy.hi);
    open_svg(b, c->id, c->title, W, H);
    x_axis(b, &sx, top, bottom, c->x.title);
    y_axis(b, &sy, left, right, c->y.title);
    vb_buf_puts(b, "<g class=\"legend\">");
    double lx = legend_item(b, SW_FRONT, left, 14, 0, 0, "Pareto front", 40);
    legend_item(b, SW_FADED, lx, 14, 0, 0, "dominated", 40);
    vb_buf_puts(b, "</g><g class=\"data\">");
    size_t nf = 0;
    for (size_t i = 0; i < c->n; i++)
        if (front[i])
            fp[nf++] = (ordered){map(&sx, xs[i]), map(&sy, ys[i])};
    if (nf > 1) {
        qsort(fp, nf, sizeof *fp, by_x);
        vb_buf_puts(b, "<path d=\"");
        for (size_t i = 0; i < nf; i++)
            vb_buf_printf(b, "%c%.1f %.1f", i ? 'L' : 'M', fp[i].x, fp[i].y);
        vb_buf_puts(b, "\" fill=\"none\" stroke=\"#000\" stroke-width=\"1.5\" stroke-dasharray=\"5 3\"/>");
    }
    for (int pass = 0; pass < 2; pass++) /* front points on top */
        for (size_t i = 0; i < c->n; i++) {
            if (isnan(xs[i]) || front[i] != pass)
                continue;
            const char *col = vb_chart_color(c->pts[i].color);
            double px = map(&sx, xs[i]), py = map(&sy, ys[i]);
            if (front[i])
                vb_buf_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"6\" fill=\"%s\" stroke=\"#000\" stroke-width=\"2\">",
                              px, py, col);
            else
                vb_buf_printf(b,
                              "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"6\" fill=\"%s\" fill-opacity=\"0.35\" stroke=\"%s\""
                              " stroke-width=\"1.5\">",
                              px, py, col, col);
            vb_buf_puts(b, "<title>");
            vb_html_text(b, c->pts[i].label);
            vb_buf_printf(b, ": %s %.4g, %s %.4f%s</title></circle>", c->x.title ? c->x.title : "x", xs[i],
                          c->y.title ? c->y.title : "y", ys[i], front[i] ? " (Pareto front)" : "");
        }
    vb_buf_puts(b, "</g><g class=\"labels\">");
    for (size_t i = 0; i < c->n; i++) {
        if (isnan(xs[i]))
            continue;
        double px = map(&sx, xs[i]), py = map(&sy, ys[i]);
        int flip = px > right - 150;
        vb_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\"%s fill=\"#222\">", flip ? px - 9 : px + 9, py - 8,
                      flip ? " text-anchor=\"end\"" : "");
        text_fit(b, c->pts[i].label, POINT_LABEL_MAX);
        vb_buf_puts(b, "</text>");
    }
    vb_buf_puts(b, "</g></svg>");
    free(xs);
    free(ys);
    free(front);
    free(fp);
}

/* ---- lines --------------------------------------------------------------------- */

#define SERIES_LABEL_MAX 36

void vb_chart_lines(const vb_line_chart *c, vb_buf *b)
{
    double maxlab = 0;
    double xmin = NAN, xmax = NAN, ymin = NAN, ymax = NAN;
    for (size_t i = 0; i < c->n; i++) {
        const vb_series *s = &c->series[i];
        double w = text_w(s->label, SERIES_LABEL_MAX);
        maxlab = w > maxlab ? w : maxlab;
        for (size_t j = 0; j < s->n; j++) {
            double x = s->x[j], y = s->y[j];
            if (isnan(x) || isnan(y) || !isfinite(x) || !isfinite(y) || (c->x.log && x <= 0) || (c->y.log && y <= 0))
                continue;
            xmin = isnan(xmin) || x < xmin ? x : xmin;
            xmax = isnan(xmax) || x > xmax ? x : xmax;
            ymin = isnan(ymin) || y < ymin ? y : ymin;
            ymax = isnan(ymax) || y > ymax ? y : ymax;
        }
    }
    /* Large: legend on the right. Small (for small multiples): legend below. */
    size_t lmax = c->small ? 48 : SERIES_LABEL_MAX;
    double lw = 40 + maxlab, W = c->small ? 440 : 600 + lw, left = c->small ? 58 : 66;
    double right = c->small ? W - 16 : W - lw - 8, top = 14, bottom = c->small ? 274 : 288;
    double H = c->small ? bottom + 50 + (double)c->n * 18 : 340;
    scale sx = {0, 0, left, right, c->x.log}, sy = {0, 0, bottom, top, c->y.log};
    axis_range(&c->x, xmin, xmax, &sx.lo, &sx.hi);
    axis_range(&c->y, ymin, ymax, &sy.lo, &sy.hi);
    open_svg(b, c->id, c->title, W, H);
    x_axis(b, &sx, top, bottom, c->x.title);
    y_axis(b, &sy, left, right, c->y.title);
    if (c->diagonal) {
        double lo = fmax(sx.lo, sy.lo), hi = fmin(sx.hi, sy.hi);
        if (hi > lo)
            vb_buf_printf(b, "<path class=\"chance\" d=\"M%.1f %.1fL%.1f %.1f\" stroke=\"#999\" stroke-dasharray=\"3 3\"/>",
                          map(&sx, lo), map(&sy, lo), map(&sx, hi), map(&sy, hi));
    }
    vb_buf_puts(b, "<g class=\"legend\">");
    for (size_t i = 0; i < c->n; i++) {
        double y = c->small ? bottom + 54 + (double)i * 18 : top + 8 + (double)i * 18;
        vb_buf_puts(b, "<g>");
        tooltip(b, c->series[i].label);
        legend_item(b, SW_LINE, c->small ? left - 30 : right + 14, y, c->series[i].color, c->series[i].dashed,
                    c->series[i].label, lmax);
        vb_buf_puts(b, "</g>");
    }
    vb_buf_puts(b, "</g><g class=\"data\">");
    for (size_t i = 0; i < c->n; i++) {
        const vb_series *s = &c->series[i];
        const char *col = vb_chart_color(s->color), *dash = dash_of(s->color, s->dashed);
        vb_buf t;
        vb_buf_init(&t);
        int pen = 0;
        size_t drawn = 0;
        for (size_t j = 0; j < s->n; j++) {
            if (!drawable(&sx, s->x[j]) || !drawable(&sy, s->y[j])) {
                pen = 0;
                continue;
            }
            double x = map(&sx, fmin(sx.hi, fmax(sx.lo, s->x[j]))), y = map(&sy, fmin(sy.hi, fmax(sy.lo, s->y[j])));
            vb_buf_printf(&t, "%c%.1f %.1f", pen ? 'L' : 'M', x, y);
            pen = 1;
            drawn++;
        }
        if (t.failed)
            b->failed = 1;
        if (drawn) {
            vb_buf_printf(b, "<path d=\"%s\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\"", t.data, col);
            if (dash)
                vb_buf_printf(b, " stroke-dasharray=\"%s\"", dash);
            vb_buf_puts(b, ">");
            tooltip(b, s->label);
            vb_buf_puts(b, "</path>");
        }
        vb_buf_free(&t);
        for (size_t j = 0; c->markers && j < s->n; j++) {
            if (!drawable(&sx, s->x[j]) || !drawable(&sy, s->y[j]))
                continue;
            vb_buf_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" fill=\"%s\"><title>", map(&sx, s->x[j]),
                          map(&sy, s->y[j]), col);
            vb_html_text(b, s->label);
            vb_buf_printf(b, ": %g, %.4g</title></circle>", s->x[j], s->y[j]);
        }
    }
    vb_buf_puts(b, "</g></svg>");
}

/* ---- heatmap ------------------------------------------------------------------- */

#define ROW_LABEL_MAX 20
#define COL_LABEL_MAX 16

void vb_chart_heatmap(const vb_heatmap *c, vb_buf *b)
{
    size_t big = c->rows > c->cols ? c->rows : c->cols;
    double cell = big ? 360.0 / (double)big : 40;
    cell = cell < 22 ? 22 : cell > 48 ? 48 : cell;
    double font = cell * 0.34;
    font = font < 8 ? 8 : font > 12 ? 12 : font;
    double rowlab = 0, collab = 0;
    for (size_t i = 0; i < c->rows; i++)
        rowlab = fmax(rowlab, text_w(c->row_labels[i], ROW_LABEL_MAX));
    for (size_t j = 0; j < c->cols; j++)
        collab = fmax(collab, text_w(c->col_labels[j], COL_LABEL_MAX));
    /* Column labels run down-left at 45 degrees from under their column:
     * the first one must not leave the picture. */
    double left = fmax(26 + rowlab + 8, collab * 0.71 + 8 - cell / 2), top = 10;
    double bottom_pad = collab * 0.71 + 14 + 22;
    double W = fmax(left + (double)c->cols * cell + 16, 220), H = top + (double)c->rows * cell + bottom_pad;
    open_svg(b, c->id, c->title, W, H);
    vb_buf_puts(b, "<g class=\"labels\">");
    for (size_t i = 0; i < c->rows; i++) {
        vb_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">", left - 6,
                      top + ((double)i + 0.5) * cell + 4);
        tooltip(b, c->row_labels[i]);
        text_fit(b, c->row_labels[i], ROW_LABEL_MAX);
        vb_buf_puts(b, "</text>");
    }
    double by = top + (double)c->rows * cell;
    for (size_t j = 0; j < c->cols; j++) {
        double x = left + ((double)j + 0.5) * cell + 4;
        vb_buf_printf(b, "<text transform=\"translate(%.1f %.1f) rotate(-45)\" text-anchor=\"end\">", x, by + 8);
        tooltip(b, c->col_labels[j]);
        text_fit(b, c->col_labels[j], COL_LABEL_MAX);
        vb_buf_puts(b, "</text>");
    }
    if (c->row_title) {
        vb_buf_printf(b, "<text transform=\"translate(14 %.1f) rotate(-90)\" text-anchor=\"middle\" font-weight=\"600\">",
                      top + (double)c->rows * cell / 2);
        vb_html_text(b, c->row_title);
        vb_buf_puts(b, "</text>");
    }
    if (c->col_title) {
        vb_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-weight=\"600\">",
                      left + (double)c->cols * cell / 2, H - 8);
        vb_html_text(b, c->col_title);
        vb_buf_puts(b, "</text>");
    }
    vb_buf_printf(b, "</g><g class=\"data\" font-size=\"%.0f\">", font);
    for (size_t i = 0; i < c->rows; i++)
        for (size_t j = 0; j < c->cols; j++) {
            double s = c->shade[i * c->cols + j], v = c->value[i * c->cols + j];
            char col[8];
            int dark = 0;
            vb_chart_shade(s, col, &dark);
            double x = left + (double)j * cell, y = top + (double)i * cell;
            vb_buf_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\" stroke=\"#fff\">",
                          x, y, cell, cell, col);
            vb_buf_puts(b, "<title>");
            vb_html_text(b, c->row_labels[i]);
            vb_buf_puts(b, " \xe2\x86\x92 ");
            vb_html_text(b, c->col_labels[j]);
            if (!isnan(v))
                vb_buf_printf(b, ": %.*f", c->decimals, v);
            vb_buf_puts(b, "</title></rect>");
            if (!isnan(v))
                vb_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" fill=\"%s\">%.*f</text>",
                              x + cell / 2, y + cell / 2 + font * 0.35, dark ? "#fff" : "#111", c->decimals, v);
        }
    vb_buf_puts(b, "</g></svg>");
}
