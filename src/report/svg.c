/* Inline SVG charts: bars, scatter with a Pareto front, lines, heatmaps. */
#include "visbench/chart.h"
#include "visbench/report.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Pipelines: Okabe & Ito (2008) without its yellow (too faint on white):
 * blue, orange, green, vermillion, reddish purple, sky blue, black; then
 * Tol's indigo, wine and olive, a maroon and a dark olive green. Chosen so
 * that any two differ by at least 20 in CIEDE2000. */
static const char *const pipeline_colors[VB_CHART_COLORS] = {
    "#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9",
    "#000000", "#332288", "#882255", "#999933", "#7F0000", "#556B2F"};
/* Classes (per-class charts): another set, none of the pipelines' colours,
 * so that a class never looks like a pipeline of another chart. */
static const char *const class_colors[VB_CHART_COLORS] = {
    "#D62728", "#17BECF", "#33A02C", "#7570B3", "#A6761D", "#E7298A",
    "#00707A", "#FF7F00", "#8C564B", "#AA4499", "#EE6677", "#7F7F7F"};
/* When the colours run out: the next marker shape and dash pattern. */
static const char *const variant_dash[VB_CHART_VARIANTS] = {NULL, "7 3", "2 2", "8 3 2 3"};
/* Dashed series (validation curves) of each variant. */
static const char *const variant_dash2[VB_CHART_VARIANTS] = {"6 4", "9 3 2 3", "1 3", "12 4"};

vb_style vb_chart_style(vb_palette pal, size_t i)
{
    size_t v = (i / VB_CHART_COLORS) % VB_CHART_VARIANTS;
    vb_style st = {pal == VB_PALETTE_CLASSES ? class_colors[i % VB_CHART_COLORS] : pipeline_colors[i % VB_CHART_COLORS],
                   (vb_marker)v, variant_dash[v]};
    return st;
}

const char *vb_chart_color(size_t i) { return pipeline_colors[i % VB_CHART_COLORS]; }

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

/* Advances of DejaVu Sans in thousandths of an em, for ' ' .. '~'. */
static const unsigned short advance[95] = {
    318, 401, 460, 838, 636, 950, 780, 275, 390, 390, 500, 838, 318, 361, 318, 337, /*  !"#$%&'()*+,-./ */
    636, 636, 636, 636, 636, 636, 636, 636, 636, 636, 337, 337, 838, 838, 838, 531, /* 0-9 :;<=>? */
    1000, 684, 686, 698, 770, 632, 575, 775, 752, 295, 295, 656, 557, 863, 748, 787, /* @A-O */
    603, 787, 695, 635, 611, 732, 684, 989, 685, 611, 685, 390, 337, 390, 838, 500, /* P-Z [\]^_ */
    500, 613, 635, 550, 635, 615, 352, 635, 634, 278, 278, 579, 278, 974, 634, 612, /* `a-o */
    635, 635, 411, 521, 392, 634, 592, 818, 592, 592, 525, 636, 337, 636, 838};    /* p-z {|}~ */

double vb_chart_text_width(const char *s, double font)
{
    double em = 0;
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        if (*p >= 0x20 && *p < 0x7f)
            em += advance[*p - 0x20] / 1000.0;
        else if ((*p & 0xC0) != 0x80 && *p >= 0x80)
            em += 1.0; /* a code point beyond ASCII (the ellipsis is 1 em) */
    }
    return em * font;
}

/* Width of s as text_fit writes it (cut to max code points). */
static double text_wf(const char *s, size_t max, double font)
{
    if (utf8_len(s) <= max)
        return vb_chart_text_width(s, font);
    char *cut = vb_chart_shorten(s, max);
    double w = cut ? vb_chart_text_width(cut, font) : (double)max * font;
    free(cut);
    return w;
}

static double text_w(const char *s, size_t max) { return text_wf(s, max, FONT); }

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

int vb_chart_zoom(double dmin, double dmax, double lim_lo, double lim_hi, double *lo, double *hi)
{
    *lo = lim_lo;
    *hi = lim_hi;
    if (isnan(dmin) || isnan(dmax) || !(lim_hi > lim_lo))
        return 0;
    dmin = fmax(dmin, lim_lo);
    dmax = fmin(dmax, lim_hi);
    if (dmax < dmin)
        dmax = dmin;
    double margin = fmax(0.1 * (dmax - dmin), 0.01 * (lim_hi - lim_lo));
    double a = dmin - margin, z = dmax + margin;
    double step = nice_step((z - a) / 5);
    double l = floor(a / step + 1e-9) * step, h = ceil(z / step - 1e-9) * step;
    l = fmax(l, lim_lo);
    h = fmin(h, lim_hi);
    if (l - lim_lo < 0.3 * (h - l)) /* so little cut off that the axis may as well start at the limit */
        l = lim_lo;
    if (!(h > l))
        return 0;
    *lo = l;
    *hi = h;
    return l > lim_lo;
}

/* Range of an axis: the given ends, else the data's, padded and rounded
 * to tick values; zoomed within the given ends (vb_chart_zoom). Returns
 * 1 when a zoomed axis starts above its lower limit. */
static int axis_range(const vb_axis *a, double dmin, double dmax, double *lo, double *hi)
{
    if (a->zoom && !a->log && !isnan(a->lo) && !isnan(a->hi))
        return vb_chart_zoom(dmin, dmax, a->lo, a->hi, lo, hi);
    *lo = a->lo;
    *hi = a->hi;
    if (!isnan(*lo) && !isnan(*hi) && *hi > *lo)
        return 0;
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
    return 0;
}

/* A tick value as written: log axes with k and M for thousands and
 * millions (100k, 2M rather than 100000, 2e+06). */
static void tick_text(char out[32], double v, const scale *s)
{
    if (s->log) {
        double a = fabs(v);
        if (a >= 1e6 && a < 1e15)
            snprintf(out, 32, "%gM", v / 1e6);
        else if (a >= 1e4 && a < 1e6)
            snprintf(out, 32, "%gk", v / 1e3);
        else
            snprintf(out, 32, "%g", v);
        return;
    }
    double step = nice_step((s->hi - s->lo) / 5);
    int dec = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
    snprintf(out, 32, "%.*f", dec > 6 ? 6 : dec, v);
}

/* Grid lines, ticks and labels of the x axis along the bottom of the plot
 * (top..bottom pixels), with the axis title below. corner: a y axis
 * stands at the left end, so a tick label there starts at the corner
 * instead of straddling it (it would meet the y axis's lowest label).
 * A label that would touch the one before is left out (its grid line
 * stays). */
static void x_axis(vb_buf *b, const scale *sx, double top, double bottom, const char *title, int corner)
{
    double t[32];
    size_t n = vb_chart_ticks(sx->lo, sx->hi, sx->log, t, 32);
    double last = -INFINITY;
    vb_buf_puts(b, "<g class=\"axis\">");
    for (size_t i = 0; i < n; i++) {
        double x = map(sx, t[i]);
        char lab[32];
        tick_text(lab, t[i], sx);
        double w = vb_chart_text_width(lab, FONT);
        int start = corner && x - sx->p0 < w / 2;
        double x0 = start ? x : x - w / 2;
        vb_buf_printf(b, "<path d=\"M%.1f %.1fV%.1f\" stroke=\"#ddd\"/>", x, top, bottom);
        if (x0 < last + 6)
            continue;
        last = x0 + w;
        vb_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\" fill=\"#333\">%s</text>", x, bottom + 15,
                      start ? "start" : "middle", lab);
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
    double last = INFINITY;
    vb_buf_puts(b, "<g class=\"axis\">");
    for (size_t i = 0; i < n; i++) {
        double y = map(sy, t[i]);
        char lab[32];
        tick_text(lab, t[i], sy);
        vb_buf_printf(b, "<path d=\"M%.1f %.1fH%.1f\" stroke=\"#ddd\"/>", left, y, right);
        if (y > last - FONT * 1.3) /* ticks go up the page */
            continue;
        last = y;
        vb_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" fill=\"#333\">%s</text>", left - 6, y + 4,
                      lab);
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

/* A zoomed value axis says where it starts: a break mark across the axis
 * line at its left end and "axis from 0.85" under it. */
static void zoom_note(vb_buf *b, const scale *sx, double bottom)
{
    char lab[32];
    tick_text(lab, sx->lo, sx);
    vb_buf_printf(b,
                  "<g class=\"zoom\"><path d=\"M%.1f %.1fl6 -8M%.1f %.1fl6 -8\" stroke=\"#555\" stroke-width=\"1.5\"/>"
                  "<text x=\"%.1f\" y=\"%.1f\" fill=\"#555\" font-style=\"italic\" font-size=\"11\">axis from %s"
                  "</text></g>",
                  sx->p0 + 2, bottom + 4, sx->p0 + 7, bottom + 4, sx->p0, bottom + 34, lab);
}

/* ---- markers and legends ------------------------------------------------------ */

/* Opens the element of marker m centred at (x, y): a circle of radius r,
 * or a square, triangle or diamond of about its area. The tag is left
 * open for more attributes; returns the element's name, to close it. */
static const char *marker_open(vb_buf *b, vb_marker m, double x, double y, double r)
{
    switch (m) {
    case VB_MARKER_SQUARE: {
        double h = r * 0.89;
        vb_buf_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"", x - h, y - h, 2 * h, 2 * h);
        return "rect";
    }
    case VB_MARKER_TRIANGLE: {
        double h = r * 1.45;
        vb_buf_printf(b, "<path d=\"M%.1f %.1fL%.1f %.1fL%.1f %.1fZ\"", x, y - h, x + h * 0.866, y + h * 0.5,
                      x - h * 0.866, y + h * 0.5);
        return "path";
    }
    case VB_MARKER_DIAMOND: {
        double h = r * 1.25;
        vb_buf_printf(b, "<path d=\"M%.1f %.1fL%.1f %.1fL%.1f %.1fL%.1f %.1fZ\"", x, y - h, x + h, y, x, y + h, x - h, y);
        return "path";
    }
    default:
        vb_buf_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\"", x, y, r);
        return "circle";
    }
}

/* A closed marker filled with its style's colour. */
static void marker_key(vb_buf *b, const vb_style *st, double x, double y, double r)
{
    const char *tag = marker_open(b, st->marker, x, y, r);
    vb_buf_printf(b, " fill=\"%s\"></%s>", st->color, tag);
}

static const char *dash_of(size_t i, int dashed)
{
    size_t v = (i / VB_CHART_COLORS) % VB_CHART_VARIANTS;
    return dashed ? variant_dash2[v] : variant_dash[v];
}

typedef enum swatch { SW_RECT, SW_LINE, SW_DOT, SW_DIAMOND, SW_FRONT, SW_FADED, SW_MARKER } swatch;

static void swatch_at(vb_buf *b, swatch k, double x, double y, vb_palette pal, size_t color, int dashed)
{
    vb_style st = vb_chart_style(pal, color);
    switch (k) {
    case SW_RECT:
        vb_buf_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"16\" height=\"10\" fill=\"%s\"/>", x, y - 5, st.color);
        break;
    case SW_LINE: {
        const char *d = dash_of(color, dashed);
        vb_buf_printf(b, "<path d=\"M%.1f %.1fH%.1f\" stroke=\"%s\" stroke-width=\"2.5\" fill=\"none\"", x, y, x + 22,
                      st.color);
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
    case SW_MARKER: marker_key(b, &st, x + 11, y, 4.5); break;
    }
}

/* One legend entry: swatch then label; returns the x after it. */
static double legend_item(vb_buf *b, swatch k, double x, double y, vb_palette pal, size_t color, int dashed,
                          const char *label, size_t max)
{
    swatch_at(b, k, x, y, pal, color, dashed);
    vb_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\">", x + 28, y + 4);
    text_fit(b, label, max);
    vb_buf_puts(b, "</text>");
    return x + 28 + text_w(label, max) + 18;
}

/* ---- bars -------------------------------------------------------------------- */

#define BAR_LABEL_MAX 28

static void span_add(double v, double *lo, double *hi)
{
    if (isnan(v) || !isfinite(v))
        return;
    *lo = isnan(*lo) || v < *lo ? v : *lo;
    *hi = isnan(*hi) || v > *hi ? v : *hi;
}

void vb_chart_bars(const vb_bar_chart *c, vb_buf *b)
{
    double maxlab = 0, dmax = 0, zmin = NAN, zmax = NAN;
    for (size_t i = 0; i < c->n; i++) {
        const vb_bar *r = &c->bars[i];
        double w = text_w(r->label, BAR_LABEL_MAX);
        maxlab = w > maxlab ? w : maxlab;
        double e = isnan(r->err) ? 0 : r->err;
        double top = r->value + e;
        if (!isnan(top) && top > dmax)
            dmax = top;
        if (!isnan(r->marker) && r->marker > dmax)
            dmax = r->marker;
        span_add(r->value - e, &zmin, &zmax);
        span_add(r->value + e, &zmin, &zmax);
        span_add(r->marker, &zmin, &zmax);
        for (size_t j = 0; j < r->n_dots; j++) {
            if (!isnan(r->dots[j]) && r->dots[j] > dmax)
                dmax = r->dots[j];
            span_add(r->dots[j], &zmin, &zmax);
        }
    }
    int legend = c->value_legend || c->dots_legend || c->marker_legend;
    /* left of the plot: the label, then the pipeline's marker (the key to
     * the scatter charts, and what tells apart two bars of one colour) */
    /* rows closer together when there are many */
    double W = 680, left = 14 + maxlab + 28, right = W - 24, top = legend ? 34 : 12, row = c->n > 12 ? 24 : 30;
    double bh = row - 12;
    double H = top + (double)c->n * row + 50;
    vb_axis ax = c->x;
    ax.log = 0;
    double lo = 0, hi;
    int zoomed = 0;
    if (ax.zoom)
        zoomed = axis_range(&ax, zmin, zmax, &lo, &hi);
    else {
        axis_range(&ax, 0, dmax > 0 ? dmax : 1, &lo, &hi);
        lo = 0;
    }
    scale sx = {lo, hi, left, right, 0};
    open_svg(b, c->id, c->title, W, H);
    double bottom = top + (double)c->n * row;
    x_axis(b, &sx, top, bottom, c->x.title, 0);
    if (zoomed)
        zoom_note(b, &sx, bottom);
    if (legend) {
        vb_buf_puts(b, "<g class=\"legend\">");
        double x = left;
        if (c->value_legend)
            x = legend_item(b, SW_RECT, x, 14, VB_PALETTE_PIPELINES, 0, 0, c->value_legend, 40);
        if (c->dots_legend)
            x = legend_item(b, SW_DOT, x, 14, VB_PALETTE_PIPELINES, 0, 0, c->dots_legend, 40);
        if (c->marker_legend)
            legend_item(b, SW_DIAMOND, x, 14, VB_PALETTE_PIPELINES, 0, 0, c->marker_legend, 40);
        vb_buf_puts(b, "</g>");
    }
    vb_buf_puts(b, "<g class=\"labels\">");
    for (size_t i = 0; i < c->n; i++) {
        double yc = top + (double)i * row + row / 2;
        vb_style st = vb_chart_style(VB_PALETTE_PIPELINES, c->bars[i].color);
        marker_key(b, &st, left - 12, yc, 4.5);
        vb_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">", left - 24, yc + 4);
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
            double x1 = map(&sx, r->value < lo ? lo : r->value > hi ? hi : r->value);
            vb_buf_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.0f\" fill=\"%s\">", left,
                          yc - bh / 2, x1 - left, bh, vb_chart_color(r->color));
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

/* ---- label placement ------------------------------------------------------------ */

static int boxes_meet(const vb_box *a, const vb_box *b, double pad)
{
    return a->x < b->x + b->w + pad && b->x < a->x + a->w + pad && a->y < b->y + b->h + pad &&
           b->y < a->y + a->h + pad;
}

/* The point of box nearest to (x, y). */
static void box_nearest(const vb_box *bx, double x, double y, double *nx, double *ny)
{
    *nx = fmin(fmax(x, bx->x), bx->x + bx->w);
    *ny = fmin(fmax(y, bx->y), bx->y + bx->h);
}

static int disc_meets_box(double x, double y, double r, const vb_box *bx)
{
    double nx, ny;
    box_nearest(bx, x, y, &nx, &ny);
    return hypot(nx - x, ny - y) < r;
}

/* Does the segment (x0, y0)-(x1, y1) pass through the box grown by pad?
 * (Liang-Barsky clipping.) */
static int segment_meets_box(double x0, double y0, double x1, double y1, const vb_box *bx, double pad)
{
    double dx = x1 - x0, dy = y1 - y0, t0 = 0, t1 = 1;
    double p[4] = {-dx, dx, -dy, dy};
    double q[4] = {x0 - (bx->x - pad), bx->x + bx->w + pad - x0, y0 - (bx->y - pad), bx->y + bx->h + pad - y0};
    for (int i = 0; i < 4; i++) {
        if (p[i] == 0) {
            if (q[i] < 0)
                return 0;
            continue;
        }
        double t = q[i] / p[i];
        if (p[i] < 0)
            t0 = fmax(t0, t);
        else
            t1 = fmin(t1, t);
        if (t0 > t1)
            return 0;
    }
    return 1;
}

/* The leader from the edge of label i's marker to the nearest point of
 * its box. */
static void leader_of(const vb_label *l, double *x0, double *y0, double *x1, double *y1)
{
    box_nearest(&l->box, l->ax, l->ay, x1, y1);
    double d = hypot(*x1 - l->ax, *y1 - l->ay);
    double ux = d > 0 ? (*x1 - l->ax) / d : 0, uy = d > 0 ? (*y1 - l->ay) / d : 0;
    *x0 = l->ax + ux * l->r;
    *y0 = l->ay + uy * l->r;
}

size_t vb_chart_place_labels(vb_label *l, size_t n, const vb_segment *lines, size_t n_lines, vb_box bounds,
                             double pad)
{
    /* east, west, north, south, then the diagonals; nearest ring first */
    static const double dirs[8][2] = {{1, 0}, {-1, 0}, {0, -1}, {0, 1}, {1, -1}, {-1, -1}, {1, 1}, {-1, 1}};
    static const double gaps[5] = {3, 14, 28, 44, 62};
    size_t placed = 0;
    for (size_t i = 0; i < n; i++) {
        vb_label *c = &l[i];
        c->placed = c->leader = 0;
        for (size_t g = 0; g < 5 && !c->placed; g++)
            for (size_t d = 0; d < 8 && !c->placed; d++) {
                double dx = dirs[d][0], dy = dirs[d][1], reach = c->r + gaps[g];
                double k = dx != 0 && dy != 0 ? 0.7071 : 1;
                vb_box bx = {c->ax + dx * reach * k - (dx < 0 ? c->w : dx == 0 ? c->w / 2 : 0),
                             c->ay + dy * reach * k - (dy < 0 ? c->h : dy == 0 ? c->h / 2 : 0), c->w, c->h};
                if (bx.x < bounds.x || bx.y < bounds.y || bx.x + bx.w > bounds.x + bounds.w ||
                    bx.y + bx.h > bounds.y + bounds.h)
                    continue;
                int ok = 1;
                for (size_t j = 0; j < n && ok; j++) /* every marker, placed label and leader */
                    ok = !disc_meets_box(l[j].ax, l[j].ay, l[j].r + pad, &bx) &&
                         !(j < i && l[j].placed && boxes_meet(&l[j].box, &bx, pad));
                for (size_t j = 0; j < n_lines && ok; j++)
                    ok = !segment_meets_box(lines[j].x0, lines[j].y0, lines[j].x1, lines[j].y1, &bx, pad);
                for (size_t j = 0; j < i && ok; j++)
                    if (l[j].placed && l[j].leader) {
                        double x0, y0, x1, y1;
                        leader_of(&l[j], &x0, &y0, &x1, &y1);
                        ok = !segment_meets_box(x0, y0, x1, y1, &bx, pad);
                    }
                if (!ok)
                    continue;
                c->box = bx;
                if (g > 0) { /* standing off: its leader must cross no label */
                    double x0, y0, x1, y1;
                    leader_of(c, &x0, &y0, &x1, &y1);
                    for (size_t j = 0; j < i && ok; j++)
                        ok = !(l[j].placed && segment_meets_box(x0, y0, x1, y1, &l[j].box, 1));
                    if (!ok)
                        continue;
                }
                c->placed = 1;
                c->leader = g > 0;
                placed++;
            }
    }
    return placed;
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
#define POINT_FONT 11.0
#define POINT_R 6.0
/* Labels tried (the rest are listed as unlabelled), and names listed. */
#define PLACE_MAX 64
#define UNLABELLED_MAX 32

typedef struct rank_key {
    size_t i;
    int front;
    double y;
} rank_key;

/* Front first, then higher y (the better points get the labels). */
static int by_priority(const void *a, const void *b)
{
    const rank_key *p = a, *q = b;
    if (p->front != q->front)
        return q->front - p->front;
    if (p->y != q->y)
        return p->y > q->y ? -1 : 1;
    return p->i < q->i ? -1 : p->i > q->i;
}

void vb_chart_scatter(const vb_scatter *c, vb_buf *b)
{
    double W = 540, H = 360, left = 70, right = W - 20, top = 34, bottom = H - 52;
    size_t m = c->n ? c->n : 1;
    double *xs = malloc(m * sizeof *xs), *ys = malloc(m * sizeof *ys);
    int *front = malloc(m * sizeof *front);
    ordered *fp = malloc(m * sizeof *fp);
    rank_key *order = malloc(m * sizeof *order);
    vb_label *lab = calloc(m, sizeof *lab);
    vb_segment *seg = malloc(m * sizeof *seg);
    if (!xs || !ys || !front || !fp || !order || !lab || !seg) {
        b->failed = 1;
        goto out;
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
    int yzoom = axis_range(&c->y, ymin, ymax, &sy.lo, &sy.hi);

    /* The front, left to right. */
    size_t nf = 0;
    for (size_t i = 0; i < c->n; i++)
        if (front[i])
            fp[nf++] = (ordered){map(&sx, xs[i]), map(&sy, ys[i])};
    qsort(fp, nf, sizeof *fp, by_x);
    for (size_t i = 0; i + 1 < nf; i++)
        seg[i] = (vb_segment){fp[i].x, fp[i].y, fp[i + 1].x, fp[i + 1].y};

    /* Labels: the best points first, clear of the front line; those that
     * find no free place are listed under the chart. */
    size_t nd = 0;
    for (size_t i = 0; i < c->n; i++)
        if (!isnan(xs[i]))
            order[nd++] = (rank_key){i, front[i], ys[i]};
    qsort(order, nd, sizeof *order, by_priority);
    for (size_t k = 0; k < nd; k++) {
        size_t i = order[k].i;
        lab[k] = (vb_label){.ax = map(&sx, xs[i]), .ay = map(&sy, ys[i]), .r = POINT_R + 1,
                            .w = text_wf(c->pts[i].label, POINT_LABEL_MAX, POINT_FONT) + 2, .h = POINT_FONT * 1.2};
    }
    /* every point is an obstacle; only the first PLACE_MAX get a label */
    vb_chart_place_labels(lab, nd < PLACE_MAX ? nd : PLACE_MAX, seg, nf > 1 ? nf - 1 : 0,
                          (vb_box){left + 1, top, right - left - 1, bottom - top - 1}, 2);
    for (size_t k = PLACE_MAX; k < nd; k++)
        lab[k].placed = 0;
    size_t n_un = 0, rows = 0;
    double ux = W, uw = 0;
    for (size_t k = 0; k < nd; k++) {
        if (lab[k].placed || n_un >= UNLABELLED_MAX)
            continue;
        n_un++;
        uw = 14 + text_wf(c->pts[order[k].i].label, POINT_LABEL_MAX, POINT_FONT) + 14;
        if (ux + uw > W - 10) {
            rows++;
            ux = 20 + vb_chart_text_width("not labelled: ", POINT_FONT);
        }
        ux += uw;
    }
    size_t more = 0;
    for (size_t k = 0; k < nd; k++)
        more += !lab[k].placed;
    more -= n_un;
    if (more)
        rows++;
    H += rows ? (double)rows * 16 + 6 : 0;

    open_svg(b, c->id, c->title, W, H);
    x_axis(b, &sx, top, bottom, c->x.title, 1);
    y_axis(b, &sy, left, right, c->y.title);
    vb_buf_puts(b, "<g class=\"legend\">");
    double lx = legend_item(b, SW_FRONT, left, 14, VB_PALETTE_PIPELINES, 0, 0, "Pareto front", 40);
    legend_item(b, SW_FADED, lx, 14, VB_PALETTE_PIPELINES, 0, 0, "dominated", 40);
    if (yzoom) {
        char lo[32];
        tick_text(lo, sy.lo, &sy);
        vb_buf_printf(b, "<text x=\"%.1f\" y=\"18\" text-anchor=\"end\" fill=\"#555\" font-style=\"italic\""
                         " font-size=\"11\">y axis from %s</text>", right, lo);
    }
    if (rows) {
        double y = H - (double)rows * 16 + 6;
        vb_buf_printf(b, "<text x=\"20\" y=\"%.1f\" fill=\"#555\" font-size=\"%.0f\">not labelled:</text>", y + 4,
                      POINT_FONT);
        ux = 20 + vb_chart_text_width("not labelled: ", POINT_FONT);
        size_t listed = 0;
        for (size_t k = 0; k < nd && listed < n_un; k++) {
            if (lab[k].placed)
                continue;
            size_t i = order[k].i;
            uw = 14 + text_wf(c->pts[i].label, POINT_LABEL_MAX, POINT_FONT) + 14;
            if (ux + uw > W - 10 && listed) {
                y += 16;
                ux = 20 + vb_chart_text_width("not labelled: ", POINT_FONT);
            }
            vb_style st = vb_chart_style(VB_PALETTE_PIPELINES, c->pts[i].color);
            vb_buf_puts(b, "<g>");
            tooltip(b, c->pts[i].label);
            marker_key(b, &st, ux + 5, y, 4);
            vb_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"%.0f\">", ux + 14, y + 4, POINT_FONT);
            text_fit(b, c->pts[i].label, POINT_LABEL_MAX);
            vb_buf_puts(b, "</text></g>");
            ux += uw;
            listed++;
        }
        if (more)
            vb_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" fill=\"#555\" font-size=\"%.0f\">and %zu more (hover a"
                             " point for its name)</text>", ux > W - 260 ? 20 + vb_chart_text_width("not labelled: ", POINT_FONT) : ux,
                          ux > W - 260 ? y + 20 : y + 4, POINT_FONT, more);
    }
    vb_buf_puts(b, "</g><g class=\"data\">");
    if (nf > 1) {
        vb_buf_puts(b, "<path d=\"");
        for (size_t i = 0; i < nf; i++)
            vb_buf_printf(b, "%c%.1f %.1f", i ? 'L' : 'M', fp[i].x, fp[i].y);
        vb_buf_puts(b, "\" fill=\"none\" stroke=\"#000\" stroke-width=\"1.5\" stroke-dasharray=\"5 3\"/>");
    }
    for (int pass = 0; pass < 2; pass++) /* front points on top */
        for (size_t i = 0; i < c->n; i++) {
            if (isnan(xs[i]) || front[i] != pass)
                continue;
            vb_style st = vb_chart_style(VB_PALETTE_PIPELINES, c->pts[i].color);
            double px = map(&sx, xs[i]), py = map(&sy, ys[i]);
            const char *tag = marker_open(b, st.marker, px, py, POINT_R);
            if (front[i])
                vb_buf_printf(b, " fill=\"%s\" stroke=\"#000\" stroke-width=\"2\">", st.color);
            else
                vb_buf_printf(b, " fill=\"%s\" fill-opacity=\"0.35\" stroke=\"%s\" stroke-width=\"1.5\">", st.color,
                              st.color);
            vb_buf_puts(b, "<title>");
            vb_html_text(b, c->pts[i].label);
            vb_buf_printf(b, ": %s %.4g, %s %.4f%s</title></%s>", c->x.title ? c->x.title : "x", xs[i],
                          c->y.title ? c->y.title : "y", ys[i], front[i] ? " (Pareto front)" : "", tag);
        }
    vb_buf_printf(b, "</g><g class=\"labels\" font-size=\"%.0f\">", POINT_FONT);
    for (size_t k = 0; k < nd; k++) {
        const vb_label *l = &lab[k];
        if (!l->placed)
            continue;
        if (l->leader) {
            double x0, y0, x1, y1;
            leader_of(l, &x0, &y0, &x1, &y1);
            vb_buf_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#888\"/>", x0, y0, x1, y1);
        }
        vb_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" fill=\"#222\">", l->box.x + 1, l->box.y + POINT_FONT * 0.95);
        text_fit(b, c->pts[order[k].i].label, POINT_LABEL_MAX);
        vb_buf_puts(b, "</text>");
    }
    vb_buf_puts(b, "</g></svg>");
out:
    free(xs);
    free(ys);
    free(front);
    free(fp);
    free(order);
    free(lab);
    free(seg);
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
    /* Large: legend on the right (the chart grows to hold it). Small (for
     * small multiples): legend below. */
    size_t lmax = c->small ? 48 : SERIES_LABEL_MAX;
    double lw = 40 + maxlab, W = c->small ? 440 : 600 + lw, left = c->small ? 58 : 66;
    double right = c->small ? W - 16 : W - lw - 8, top = 14, bottom = c->small ? 274 : 288;
    double H = c->small ? bottom + 50 + (double)c->n * 18 : fmax(340, top + 8 + (double)c->n * 18);
    scale sx = {0, 0, left, right, c->x.log}, sy = {0, 0, bottom, top, c->y.log};
    axis_range(&c->x, xmin, xmax, &sx.lo, &sx.hi);
    int yzoom = axis_range(&c->y, ymin, ymax, &sy.lo, &sy.hi);
    open_svg(b, c->id, c->title, W, H);
    x_axis(b, &sx, top, bottom, c->x.title, 1);
    y_axis(b, &sy, left, right, c->y.title);
    if (yzoom) {
        char lo[32];
        tick_text(lo, sy.lo, &sy);
        vb_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" fill=\"#555\" font-style=\"italic\""
                         " font-size=\"11\">y axis from %s</text>", right, bottom + 34, lo);
    }
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
        legend_item(b, SW_LINE, c->small ? left - 30 : right + 14, y, c->palette, c->series[i].color,
                    c->series[i].dashed, c->series[i].label, lmax);
        vb_buf_puts(b, "</g>");
    }
    vb_buf_puts(b, "</g><g class=\"data\">");
    for (size_t i = 0; i < c->n; i++) {
        const vb_series *s = &c->series[i];
        vb_style st = vb_chart_style(c->palette, s->color);
        const char *col = st.color, *dash = dash_of(s->color, s->dashed);
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
            const char *tag = marker_open(b, st.marker, map(&sx, fmin(sx.hi, fmax(sx.lo, s->x[j]))),
                                          map(&sy, fmin(sy.hi, fmax(sy.lo, s->y[j]))), 2.5);
            vb_buf_printf(b, " fill=\"%s\"><title>", col);
            vb_html_text(b, s->label);
            vb_buf_printf(b, ": %g, %.4g</title></%s>", s->x[j], s->y[j], tag);
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

/* ---- critical-difference diagram ------------------------------------------------ */

size_t vb_cd_groups(const double *ranks, size_t n, double cd, size_t *order, size_t (*groups)[2], size_t max)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (!isnan(ranks[i]))
            order[m++] = i;
    for (size_t i = 0, t = m; i < n; i++)
        if (isnan(ranks[i]))
            order[t++] = i;
    /* by rank, an insertion sort (a handful of methods), stable: ties stay in index order */
    for (size_t i = 1; i < m; i++) {
        size_t v = order[i], j = i;
        for (; j > 0 && ranks[order[j - 1]] > ranks[v]; j--)
            order[j] = order[j - 1];
        order[j] = v;
    }
    if (!(cd > 0))
        return 0;
    /* From each method, the run of those within cd of it; a run is maximal
     * unless the run before reaches as far (runs only ever reach further). */
    size_t count = 0, reach = 0;
    for (size_t i = 0; i < m; i++) {
        size_t j = i;
        while (j + 1 < m && ranks[order[j + 1]] - ranks[order[i]] < cd)
            j++;
        if (j > i && (count == 0 || j > reach)) {
            if (count < max) {
                groups[count][0] = i;
                groups[count][1] = j;
            }
            count++;
            reach = j;
        }
    }
    return count;
}

#define CD_LABEL_MAX 28
#define CD_ROW 20.0       /* between two method names on one side */
#define CD_GROUP_ROW 7.0  /* between two rows of group lines */

void vb_chart_cd(const vb_cd_diagram *c, vb_buf *b)
{
    size_t n = c->n, *order = malloc((n ? n : 1) * sizeof *order), *grow = malloc((n ? n : 1) * sizeof *grow);
    size_t(*groups)[2] = malloc((n ? n : 1) * sizeof *groups);
    if (!order || !groups || !grow) {
        b->failed = 1;
        free(order);
        free(groups);
        free(grow);
        return;
    }
    size_t ng = vb_cd_groups(c->ranks, n, c->cd, order, groups, n), m = 0;
    for (size_t i = 0; i < n; i++)
        m += !isnan(c->ranks[i]);
    size_t half = (m + 1) / 2; /* order[0 .. half) named on the left, the rest on the right */
    double wl = 0, wr = 0;
    for (size_t p = 0; p < m; p++) {
        double w = text_w(c->labels[order[p]], CD_LABEL_MAX);
        if (p < half)
            wl = fmax(wl, w);
        else
            wr = fmax(wr, w);
    }
    double W = 680, left = 14 + wl + 30, right = W - 14 - wr - 30;
    if (right - left < 160) {
        W += 160 - (right - left);
        right = left + 160;
    }
    double k = n < 2 ? 2 : (double)n, ppr = (right - left) / (k - 1);
    scale sx = {1, k, left, right, 0};
    int bar = c->cd > 0 && isfinite(c->cd);
    double y_axis = bar ? 58 : 32;
    /* each group on the first row free of the groups before it */
    size_t rows = 0;
    for (size_t g = 0; g < ng; g++) {
        size_t r = 0;
        while (r < g && r < rows) {
            int taken = 0;
            for (size_t h = 0; h < g; h++)
                taken |= grow[h] == r && groups[h][1] >= groups[g][0];
            if (!taken)
                break;
            r++;
        }
        grow[g] = r;
        rows = r + 1 > rows ? r + 1 : rows;
    }
    double y_names = y_axis + 14 + (double)rows * CD_GROUP_ROW + 12;
    size_t per_side = half > m - half ? half : m - half;
    double H = y_names + (double)(per_side ? per_side - 1 : 0) * CD_ROW + (m < n ? 44 : 20);
    open_svg(b, c->id, c->title, W, H);

    /* the axis: ranks 1 .. k, tick labels above it */
    vb_buf_puts(b, "<g class=\"axis\">");
    vb_buf_printf(b, "<path class=\"cd-axis\" d=\"M%.2f %.2fH%.2f\" stroke=\"#333\" stroke-width=\"1.5\"/>", left,
                  y_axis, right);
    double last = -INFINITY;
    for (size_t t = 1; t <= (size_t)k; t++) {
        double x = map(&sx, (double)t);
        vb_buf_printf(b, "<path d=\"M%.2f %.2fV%.2f\" stroke=\"#333\"/>", x, y_axis, y_axis - 6);
        if (t < (size_t)k && ppr >= 24)
            vb_buf_printf(b, "<path d=\"M%.2f %.2fV%.2f\" stroke=\"#333\"/>", x + ppr / 2, y_axis, y_axis - 3);
        char lab[32];
        snprintf(lab, sizeof lab, "%zu", t);
        double w = vb_chart_text_width(lab, FONT);
        if (x - w / 2 < last + 4)
            continue;
        last = x + w / 2;
        vb_buf_printf(b, "<text x=\"%.2f\" y=\"%.2f\" text-anchor=\"middle\" fill=\"#333\">%s</text>", x, y_axis - 10,
                      lab);
    }
    vb_buf_puts(b, "</g>");

    /* the critical difference, from rank 1 */
    if (bar) {
        double len = fmin(c->cd, k - 1) * ppr, y = 24;
        vb_buf_puts(b, "<g class=\"cd\">");
        vb_buf_printf(b, "<path class=\"cd-bar\" d=\"M%.2f %.2fH%.2f\" stroke=\"#000\" stroke-width=\"2\">", left, y,
                      left + len);
        vb_buf_puts(b, "<title>");
        vb_html_text(b, c->cd_label ? c->cd_label : "CD");
        vb_buf_printf(b, " = %.3f</title></path>", c->cd);
        vb_buf_printf(b, "<path d=\"M%.2f %.2fV%.2fM%.2f %.2fV%.2f\" stroke=\"#000\" stroke-width=\"2\"/>", left,
                      y - 5, y + 5, left + len, y - 5, y + 5);
        vb_buf_printf(b, "<text x=\"%.2f\" y=\"%.2f\" text-anchor=\"start\">", left, y - 9);
        vb_html_text(b, c->cd_label ? c->cd_label : "CD");
        vb_buf_printf(b, " = %.2f%s</text></g>", c->cd, c->cd > k - 1 ? " (longer than the axis)" : "");
    }

    /* names: the better half on the left, best on top; the rest on the
     * right, worst on top, so that no two lines cross */
    vb_buf_puts(b, "<g class=\"labels\">");
    for (size_t p = 0; p < m; p++) {
        size_t i = order[p];
        int on_left = p < half;
        double y = y_names + (double)(on_left ? p : m - 1 - p) * CD_ROW;
        double xe = on_left ? left - 12 : right + 12;
        vb_buf_printf(b, "<text x=\"%.2f\" y=\"%.2f\" text-anchor=\"%s\">", on_left ? xe - 4 : xe + 4, y + 4,
                      on_left ? "end" : "start");
        tooltip(b, c->labels[i]);
        text_fit(b, c->labels[i], CD_LABEL_MAX);
        vb_buf_printf(b, "</text><text x=\"%.2f\" y=\"%.2f\" text-anchor=\"%s\" font-size=\"10\" fill=\"#555\">%.2f"
                         "</text>",
                      xe, y - 4, on_left ? "start" : "end", c->ranks[i]);
    }
    if (m < n) {
        vb_buf_printf(b, "<text x=\"14\" y=\"%.2f\" fill=\"#555\" font-style=\"italic\">no rank: ", H - 10);
        for (size_t p = m; p < n; p++) {
            vb_buf_puts(b, p > m ? ", " : "");
            text_fit(b, c->labels[order[p]], CD_LABEL_MAX);
        }
        vb_buf_puts(b, "</text>");
    }
    vb_buf_puts(b, "</g><g class=\"data\">");
    for (size_t p = 0; p < m; p++) {
        size_t i = order[p];
        int on_left = p < half;
        double x = map(&sx, c->ranks[i]), y = y_names + (double)(on_left ? p : m - 1 - p) * CD_ROW;
        vb_buf_printf(b, "<path d=\"M%.2f %.2fV%.2fH%.2f\" fill=\"none\" stroke=\"#333\" stroke-width=\"1.2\"/>", x,
                      y_axis, y, on_left ? left - 12 : right + 12);
        vb_buf_printf(b, "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"3.5\" fill=\"#000\">", x, y_axis);
        vb_buf_puts(b, "<title>");
        vb_html_text(b, c->labels[i]);
        vb_buf_printf(b, ": average rank %.3f</title></circle>", c->ranks[i]);
    }
    /* groups not significantly different: a thick line a little past
     * their first and last method */
    for (size_t g = 0; g < ng; g++) {
        double x0 = map(&sx, c->ranks[order[groups[g][0]]]) - 4, x1 = map(&sx, c->ranks[order[groups[g][1]]]) + 4;
        double y = y_axis + 14 + (double)grow[g] * CD_GROUP_ROW;
        vb_buf_printf(b, "<path class=\"cd-group\" d=\"M%.2f %.2fH%.2f\" stroke=\"#000\" stroke-width=\"4\">", x0, y,
                      x1);
        vb_buf_puts(b, "<title>not significantly different: ");
        for (size_t p = groups[g][0]; p <= groups[g][1]; p++) {
            vb_buf_puts(b, p > groups[g][0] ? ", " : "");
            vb_html_text(b, c->labels[order[p]]);
        }
        vb_buf_puts(b, "</title></path>");
    }
    vb_buf_puts(b, "</g></svg>");
    free(order);
    free(groups);
    free(grow);
}
