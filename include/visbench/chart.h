/* Inline SVG charts for the HTML report.
 *
 * Each function appends one <svg class="chart"> element to a buffer: axes
 * with tick labels and titles, a legend, and the data drawn inside a
 * <g class="data"> group (rect, path and circle elements only, so a test
 * or the report's self-check can count what was drawn). Every string is
 * escaped for HTML text and attributes; labels longer than the chart has
 * room for are shortened with an ellipsis and keep their full text in a
 * <title> tooltip. Pipelines take their colours from a palette of twelve
 * (Okabe-Ito's first seven, which stay distinguishable with the common
 * colour-vision deficiencies, and five more); past twelve the colours
 * repeat with another marker shape and dash pattern, so 48 pipelines have
 * distinct styles. Per-class charts use a palette of their own, none of
 * whose colours is a pipeline's. Accuracy axes may zoom to the data (the
 * chart then says where the axis starts); scatter labels are placed where
 * they collide with nothing, or left out and listed under the chart.
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

#define VB_CHART_COLORS 12  /* colours in each palette */
#define VB_CHART_VARIANTS 4 /* marker shapes and dash patterns */

typedef enum vb_palette { VB_PALETTE_PIPELINES, VB_PALETTE_CLASSES } vb_palette;
typedef enum vb_marker { VB_MARKER_CIRCLE, VB_MARKER_SQUARE, VB_MARKER_TRIANGLE, VB_MARKER_DIAMOND } vb_marker;

/* How series i is drawn: colour i % 12 of the palette, and for i >= 12 the
 * marker shape and dash pattern of variant (i / 12) % 4 (dash NULL: solid).
 * Distinct for i < VB_CHART_COLORS * VB_CHART_VARIANTS. */
typedef struct vb_style {
    const char *color; /* "#RRGGBB" */
    vb_marker marker;
    const char *dash;  /* stroke-dasharray, NULL for a solid line */
} vb_style;
vb_style vb_chart_style(vb_palette pal, size_t i);
/* The pipeline colour of index i (cycled), as "#RRGGBB". */
const char *vb_chart_color(size_t i);
/* Sequential colour for t in [0, 1] (white to dark blue, monotone in
 * lightness); *dark is set when text drawn on it should be white. NaN gives
 * a light grey. out receives "#rrggbb". */
void vb_chart_shade(double t, char out[8], int *dark);

/* s cut to at most max code points (UTF-8), the last replaced by an
 * ellipsis when it was longer; malloc'ed (NULL when out of memory). */
char *vb_chart_shorten(const char *s, size_t max);

/* Width in pixels of s in a sans-serif font of size font: per-character
 * advances of DejaVu Sans (among the widest common sans fonts, so that
 * the estimate rarely falls short), 1 em for anything not ASCII. */
double vb_chart_text_width(const char *s, double font);

typedef struct vb_axis {
    const char *title;
    double lo, hi; /* the range; NaN = from the data. With zoom: the limits */
    int log;       /* log10 scale: values <= 0 are left out */
    int zoom;      /* linear only: the data's range with a margin, within [lo, hi] */
} vb_axis;

/* A zoomed axis for data in [dmin, dmax] within the limits [lim_lo,
 * lim_hi] (e.g. accuracy: 0 and 1): the data plus a margin of a tenth of
 * its span (at least a hundredth of the limits'), rounded out to tick
 * steps and clipped to the limits, so it never runs past them. When the
 * cut below would be small next to the range, the axis starts at lim_lo.
 * NaN data: the limits. Returns 1 when *lo > lim_lo (the chart then says
 * where the axis starts). */
int vb_chart_zoom(double dmin, double dmax, double lim_lo, double lim_hi, double *lo, double *hi);

/* ---- label placement --------------------------------------------------------- */

typedef struct vb_box {
    double x, y, w, h; /* top left corner and size, in pixels (y down) */
} vb_box;

typedef struct vb_label {
    double ax, ay, r; /* in: the point labelled and the radius of its marker */
    double w, h;      /* in: the label's size */
    int placed;       /* out: 1 when a place was found */
    vb_box box;       /* out: where the label goes */
    int leader;       /* out: 1 when the label stands off and needs a leader line */
} vb_label;

typedef struct vb_segment {
    double x0, y0, x1, y1;
} vb_segment;

/* Greedy placement in array order (put the important labels first): each
 * label takes the first of a ring of candidate places around its point,
 * nearest first, whose box lies within bounds and clears every label
 * placed so far, every point's marker, the given lines (such as a Pareto
 * front; pad pixels around each of these) and the leader lines drawn so
 * far, and whose own leader line crosses no placed label. A label with no
 * such place is left out (placed = 0). Returns the number placed. */
size_t vb_chart_place_labels(vb_label *l, size_t n, const vb_segment *lines, size_t n_lines, vb_box bounds,
                             double pad);

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
    size_t color;       /* style index (vb_chart_style) */
} vb_bar;

typedef struct vb_bar_chart {
    const char *id, *title; /* title: accessible name of the chart */
    vb_axis x;              /* the value axis (bars start at its lower end: 0 unless zoomed) */
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
    vb_palette palette; /* the series' colours: pipelines or classes */
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

/* ---- critical-difference diagram (Demšar 2006, Fig. 1) ----------------------
 *
 * Methods compared over several data sets by their average ranks: an axis
 * of ranks 1..k with the best (rank 1) on the left, each method's rank
 * marked on it and joined by a line to its name, the better half named on
 * the left and the rest on the right; above the axis a bar as long as the
 * critical difference; below it a thick line under each group of methods
 * that are not significantly different (vb_cd_groups). Methods without a
 * rank (NaN) are listed under the diagram. The axis line, the CD bar and
 * the group lines are <path> elements of class "cd-axis", "cd-bar" and
 * "cd-group", each group with a <title> naming its methods. */

typedef struct vb_cd_diagram {
    const char *id, *title;
    size_t n;                  /* methods (k) */
    const char *const *labels; /* n names */
    const double *ranks;       /* n average ranks in [1, n] (NaN: left out) */
    double cd;                 /* the critical difference (NaN or <= 0: no bar, no groups) */
    const char *cd_label;      /* what the bar is called, as "Nemenyi CD at 0.05" (NULL: "CD") */
} vb_cd_diagram;

/* The groups a diagram joins: with the methods in rank order (order[0 ..
 * n) receives their indices, best first, ties in index order), each group
 * is a run order[first .. last] of two or more methods whose ranks differ
 * by less than cd, and is in no longer such run: Demšar's "groups of
 * classifiers that are not significantly different". Writes at most max
 * groups as (first, last) positions into order, by first; returns how
 * many there are. NaN ranks are left out (at the end of order, in no
 * group); no groups when cd is NaN or <= 0. */
size_t vb_cd_groups(const double *ranks, size_t n, double cd, size_t *order, size_t (*groups)[2], size_t max);

void vb_chart_cd(const vb_cd_diagram *c, vb_buf *b);

#endif
