/* Inline SVG charts for the HTML report.
 *
 * Each function appends one <svg class="chart"> element to a buffer: axes
 * with tick labels and titles, a legend, and the data drawn inside a
 * <g class="data"> group (rect, path and circle elements only, so a test
 * or the report's self-check can count what was drawn). Every string is
 * escaped for HTML text and attributes; labels longer than the chart has
 * room for are shortened with an ellipsis and keep their full text in a
 * <title> tooltip. Series colours come from the Okabe-Ito palette, which
 * stays distinguishable with the common colour-vision deficiencies; series
 * beyond its eight colours are dashed.
 *
 *     vb_bar bars[2] = {{.label = "hog-svm", .value = 0.91, .err = 0.01},
 *                       {.label = "raw-svm", .value = 0.85, .err = NAN, .color = 1}};
 *     vb_bar_chart c = {.id = "acc", .y = {"accuracy", 0, 1, 0}, .n = 2, .bars = bars};
 *     vb_chart_bars(&c, &buf);
 *
 * Element ids are the caller's (they are not escaped: use fixed ASCII).
 */
#ifndef VISBENCH_CHART_H
#define VISBENCH_CHART_H

#include "visbench/core.h"

/* Colour i of the categorical palette (cycled), as "#rrggbb". */
const char *vb_chart_color(size_t i);
/* Sequential colour for t in [0, 1] (white to dark blue, monotone in
 * lightness); *dark is set when text drawn on it should be white. NaN gives
 * a light grey. out receives "#rrggbb". */
void vb_chart_shade(double t, char out[8], int *dark);

/* s cut to at most max code points (UTF-8), the last replaced by an
 * ellipsis when it was longer; malloc'ed (NULL when out of memory). */
char *vb_chart_shorten(const char *s, size_t max);

typedef struct vb_axis {
    const char *title;
    double lo, hi; /* the range; NaN = from the data */
    int log;       /* log10 scale: values <= 0 are left out */
} vb_axis;

/* Tick positions for [lo, hi]: multiples of 1, 2 or 5 x 10^k (linear), or
 * powers of ten with 2 and 5 between them when the range spans less than
 * three decades (log). Writes at most max ticks, returns how many. */
size_t vb_chart_ticks(double lo, double hi, int log, double *ticks, size_t max);

/* ---- horizontal bars with error bars and per-fold dots ------------------ */

typedef struct vb_bar {
    const char *label;  /* the category, left of the bar */
    double value;       /* bar length (NaN: no bar, "no result" is written) */
    double err;         /* half-width of the error bar (NaN: none) */
    const double *dots; /* individual values (folds) drawn over the bar */
    size_t n_dots;
    double marker;      /* one more value drawn as a diamond (NaN: none) */
    size_t color;       /* palette index */
} vb_bar;

typedef struct vb_bar_chart {
    const char *id, *title; /* title: accessible name of the chart */
    vb_axis x;              /* the value axis (bars start at 0) */
    const char *value_legend, *dots_legend, *marker_legend; /* NULL: no entry */
    size_t n;
    const vb_bar *bars;
} vb_bar_chart;

void vb_chart_bars(const vb_bar_chart *c, vb_buf *b);

/* ---- scatter with a Pareto front ----------------------------------------- */

typedef struct vb_point {
    const char *label;
    double x, y; /* NaN (or x <= 0 on a log axis): not drawn */
    size_t color;
} vb_point;

typedef struct vb_scatter {
    const char *id, *title;
    vb_axis x, y;
    size_t n;
    const vb_point *pts;
    int x_lower_better; /* for the front: lower x is better (a time), else higher (a rate) */
} vb_scatter;

/* Marks the points no other point beats: another point dominates i when
 * it is at least as good in x and y (higher y is better) and better in
 * one. Points with NaN coordinates are never on the front. on_front[i]
 * gets 1 or 0; returns the number on the front. */
size_t vb_pareto_front(const double *x, const double *y, size_t n, int x_lower_better, int *on_front);

void vb_chart_scatter(const vb_scatter *c, vb_buf *b);

/* ---- line charts ----------------------------------------------------------- */

typedef struct vb_series {
    const char *label;  /* legend text */
    const double *x, *y; /* n points; a NaN y breaks the line */
    size_t n;
    size_t color;
    int dashed;
} vb_series;

typedef struct vb_line_chart {
    const char *id, *title;
    vb_axis x, y;
    size_t n;
    const vb_series *series;
    int diagonal; /* draw the y = x chance line (ROC) */
    int markers;  /* a dot at every point (short series such as epochs) */
    int small;    /* a narrow chart with the legend below (small multiples) */
} vb_line_chart;

void vb_chart_lines(const vb_line_chart *c, vb_buf *b);

/* ---- heatmap (confusion matrices) ------------------------------------------ */

typedef struct vb_heatmap {
    const char *id, *title;
    size_t rows, cols;
    const char *const *row_labels, *const *col_labels;
    const char *row_title, *col_title;
    const double *shade; /* rows x cols colour values in [0, 1] (NaN: blank) */
    const double *value; /* rows x cols numbers written in the cells */
    int decimals;
} vb_heatmap;

void vb_chart_heatmap(const vb_heatmap *c, vb_buf *b);

#endif
