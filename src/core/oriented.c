/* SPDX-License-Identifier: MIT */
/*
 * oriented.c - the exact IoU losses of oriented boxes (riou, rgiou) with
 * their analytic gradients, the riou matrix, and the validation of
 * oriented boxes (docs/functions.md, "Oriented boxes").
 *
 * A pair of boxes becomes two counter-clockwise quadrilaterals in a local
 * frame (the first box's centre, or its first corner: coordinates near 1e6
 * then keep the digits a box of size 1 needs); polygon.c intersects them
 * and takes their hull, and its provenance-aware gradients flow back to
 * the first box's corners, then through the corner formulas to (cx, cy,
 * w, h, r) or stay with the eight corner coordinates.
 *
 * What makes the degenerate inputs exact rather than merely close:
 *   - a box inside the other (every corner inside or on every edge) has
 *     the inner box's area as its intersection and the outer box as its
 *     hull, from the very same shoelace sums: identical boxes give
 *     I = U = C bit for bit, IoU exactly 1 and, with eps = 0, a loss of 0;
 *   - I is clamped to [0, min(area P, area Q)] and the hull to at least U,
 *     what exact arithmetic guarantees and rounding may not: IoU stays in
 *     [0, 1] and GIoU's penalty non-negative.
 * The clamps and the nesting pass the gradient of what they select (the
 * inner box's area, the union), so gradients stay finite there; at the
 * minimum itself (one polygon, each inside the other) the gradient is 0.
 *
 * The clipping is scalar code: one pair's vertex count and provenance
 * differ from the next pair's, which is what vector lanes cannot follow.
 * Lanes do the boxes' sines and cosines, LOSSD_LANES boxes per call
 * (docs/performance.md has the measurements). The AVX2 twin is this code
 * compiled for AVX2, calling polygon.c's AVX2 twin.
 *
 * Thread-safe: kernels write only their own units' slots.
 */
#include <string.h>

#include "oriented.h"
#include "polygon.h"

enum { OBOX_RIOU, OBOX_RGIOU };

#ifndef LOSSD_SIMD_AVX2 /* one copy of the shared choices and of the validation */
const char *const lossd__obox_formats[] = {"cxcywhr", "xyxyxyxy", NULL};
const size_t lossd__obox_lengths[] = {5, 8};
const char *const lossd__obox_rect_formats[] = {"cxcywhr", NULL};
const char *const lossd__angle_units[] = {"rad", "deg", NULL};
#endif

/* Rows of the riou matrix per block (oriented_prepare). */
#define MATRIX_BLOCK_ROWS 16

/* Per-call constants (LOSSD__CONSTS) of riou, rgiou and the riou matrix. */
typedef struct {
    int format;     /* OBOX_* */
    int angle_unit; /* ANGLE_* */
    double eps;     /* 0 for the matrix */
} oriented_consts;

static int oriented_prepare(lossd_call *c, lossd_error *err)
{
    oriented_consts *k = LOSSD__CONSTS_SET(c, oriented_consts);
    k->format = lossd__param_choice(c, "box_format");
    k->angle_unit = lossd__param_choice(c, "angle_unit");
    k->eps = lossd__param_number_or(c, "eps", 0.0);
    /*
     * The matrix computes a tile of column geometries (sines, cosines,
     * corners) per block and reuses it for the block's rows: blocks of at
     * least MATRIX_BLOCK_ROWS rows keep that below 2% of a row's pairs.
     */
    lossd__call_state *s = c->state;
    if (c->fn->kind == LOSSD_KIND_PAIRWISE && s->block_units < MATRIX_BLOCK_ROWS) {
        s->block_units = MATRIX_BLOCK_ROWS;
        c->n_blocks = (s->n_units + s->block_units - 1) / s->block_units;
    }
    (void)err;
    return 0;
}

/* ------------------------------------------------------------ boxes as polygons */

/* Corner signs of cxcywhr: corner j = centre + SX[j] (w/2) u + SY[j] (h/2) v. */
static const double SX[4] = {1, -1, -1, 1}, SY[4] = {1, 1, -1, -1};

/*
 * One box as a counter-clockwise quadrilateral: an anchor (cxcywhr: the
 * centre; xyxyxyxy: the first corner) and the corners' offsets from it,
 * their bounds, and what the gradient needs. A pair is read in the first
 * box's frame: its corners are its offsets, the other's are (anchor
 * difference) + offsets, so two boxes near 1e6 keep the digits a box of
 * size 1 needs, and a matrix computes each box's offsets (and its sin and
 * cos) once rather than once per pair.
 */
typedef struct {
    lossd__point anchor, off[4];
    lossd__point lo, hi;     /* bounds of off */
    unsigned char corner[4]; /* xyxyxyxy: the input corner of corner i (reversed: 0 3 2 1) */
    double cos_r, sin_r;     /* cxcywhr: the angle */
    double half_w, half_h;   /* cxcywhr: the half sides */
} obox_geom;

static void geom_bounds(obox_geom *g)
{
    g->lo = g->hi = g->off[0];
    for (int j = 1; j < 4; j++) { /* finite numbers: plain comparisons (fmin is a call) */
        lossd__point o = g->off[j];
        g->lo.x = o.x < g->lo.x ? o.x : g->lo.x, g->hi.x = o.x > g->hi.x ? o.x : g->hi.x;
        g->lo.y = o.y < g->lo.y ? o.y : g->lo.y, g->hi.y = o.y > g->hi.y ? o.y : g->hi.y;
    }
}

/* A xyxyxyxy box: its corners less the first, reversed (0 3 2 1) when they run clockwise. */
static void quad_read(const double *b, obox_geom *g)
{
    g->anchor = (lossd__point){b[0], b[1]};
    for (int j = 0; j < 4; j++)
        g->off[j] = (lossd__point){b[2 * j] - b[0], b[2 * j + 1] - b[1]};
    bool reverse = lossd__poly_area(g->off, 4) < 0;
    if (reverse) {
        lossd__point t = g->off[1];
        g->off[1] = g->off[3];
        g->off[3] = t;
    }
    for (int j = 0; j < 4; j++)
        g->corner[j] = (unsigned char)(reverse ? (4 - j) % 4 : j);
    geom_bounds(g);
}

/*
 * Boxes b[0..n), n <= LOSSD_LANES, as geometries. A cxcywhr box has corner
 * j = centre + SX[j] (w/2) u + SY[j] (h/2) v, counter-clockwise for w,
 * h >= 0. The sines and cosines of LOSSD_LANES boxes are one vector call
 * (Sleef's in the AVX2 twin, libm's lane by lane in the baseline): where
 * vector lanes pay here (docs/performance.md).
 */
static void geoms_read(const double *b, size_t n, int format, int unit, obox_geom *g)
{
    if (format == OBOX_XYXYXYXY) {
        for (size_t i = 0; i < n; i++)
            quad_read(b + 8 * i, &g[i]);
        return;
    }
    lossd_vd r = lossd_v_gather(b + 4, 5, n);
    if (unit == ANGLE_DEG)
        r = r * M_PI / 180.0; /* obox_radians, lane by lane */
    lossd_vd c = lossd_v_cos(r), s = lossd_v_sin(r);
    lossd_vd hw = 0.5 * lossd_v_gather(b + 2, 5, n), hh = 0.5 * lossd_v_gather(b + 3, 5, n);
    lossd_vd ax = hw * c, ay = hw * s, bx = -hh * s, by = hh * c;
    for (size_t i = 0; i < n; i++) {
        g[i].anchor = (lossd__point){b[5 * i], b[5 * i + 1]};
        for (int j = 0; j < 4; j++)
            g[i].off[j] =
                (lossd__point){SX[j] * ax[i] + SY[j] * bx[i], SX[j] * ay[i] + SY[j] * by[i]};
        g[i].cos_r = c[i], g[i].sin_r = s[i], g[i].half_w = hw[i], g[i].half_h = hh[i];
        geom_bounds(&g[i]);
    }
}

/* Whether two boxes' bounds are apart (then so are the boxes); d: q's anchor less p's. */
static bool geom_apart(const obox_geom *p, const obox_geom *q, lossd__point d)
{
    return d.x + q->lo.x > p->hi.x || d.x + q->hi.x < p->lo.x || d.y + q->lo.y > p->hi.y ||
           d.y + q->hi.y < p->lo.y;
}

/*
 * A pair in p's frame: p's corners, q's, whether their bounds are apart,
 * and whether either's bounds hold the other's (only then can it hold it:
 * the nesting test is skipped otherwise).
 */
typedef struct {
    lossd__point p[4], q[4];
    bool apart, p_in_q, q_in_p;
} obox_pair;

static void pair_of(const obox_geom *p, const obox_geom *q, obox_pair *pr)
{
    lossd__point d = {q->anchor.x - p->anchor.x, q->anchor.y - p->anchor.y};
    for (int j = 0; j < 4; j++) {
        pr->p[j] = p->off[j];
        pr->q[j] = (lossd__point){d.x + q->off[j].x, d.y + q->off[j].y};
    }
    pr->apart = geom_apart(p, q, d);
    lossd__point q_lo = {d.x + q->lo.x, d.y + q->lo.y}, q_hi = {d.x + q->hi.x, d.y + q->hi.y};
    pr->p_in_q = q_lo.x <= p->lo.x && p->hi.x <= q_hi.x && q_lo.y <= p->lo.y && p->hi.y <= q_hi.y;
    pr->q_in_p = p->lo.x <= q_lo.x && q_hi.x <= p->hi.x && p->lo.y <= q_lo.y && q_hi.y <= p->hi.y;
}

/* ------------------------------------------------------------ overlap */

/* What an area was taken from, for its gradient. */
enum { FROM_NONE, FROM_AREA_P, FROM_CLIP, FROM_HULL, FROM_UNION };

/* The intersection, union and (with_hull) hull of a pair, and where each came from. */
typedef struct {
    double area_p, area_q, inter, uni, hull;
    int inter_from, hull_from;
    bool p_live; /* area_p is P's shoelace (not clamped at 0) */
    bool same;   /* each polygon inside the other: one polygon, the loss at its minimum */
    size_t n_clip, n_hull;
    lossd__vertex clip[LOSSD__CLIP_MAX];
    lossd__point pts[8]; /* P's corners, then Q's: what the hull indexes */
    unsigned char hull_idx[LOSSD__HULL_MAX];
} obox_overlap;

static void overlap_compute(const obox_pair *pr, bool with_hull, obox_overlap *ov)
{
    double ap = lossd__poly_area(pr->p, 4), aq = lossd__poly_area(pr->q, 4);
    ov->p_live = ap > 0;
    ov->area_p = ap > 0 ? ap : 0; /* a segment's shoelace may round below 0 */
    ov->area_q = aq > 0 ? aq : 0;
    ov->n_clip = ov->n_hull = 0;
    /* nested: 1 P inside Q, 2 Q inside P, 3 both (one polygon, perhaps listed from another
       corner). A polygon of no area holds nothing: its zero-length edges pass every point. */
    bool apart = pr->apart; /* most pairs of a matrix: no clipping at all */
    int nested =
        apart ? 0
              : (ov->area_q > 0 && pr->p_in_q && lossd__poly_inside(pr->p, 4, pr->q, 4)) |
                    (ov->area_p > 0 && pr->q_in_p && lossd__poly_inside(pr->q, 4, pr->p, 4)) << 1;
    ov->same = nested == 3;
    if (ov->same) /* the same polygon: its areas differ at most by the sums' rounding */
        ov->area_q = ov->area_p;
    if (nested & 1) {
        ov->inter = ov->area_p;
        ov->inter_from = FROM_AREA_P;
    } else if (nested || apart) {
        ov->inter = apart ? 0.0 : ov->area_q;
        ov->inter_from = FROM_NONE;
    } else {
        ov->n_clip = lossd__poly_clip(pr->p, 4, pr->q, 4, ov->clip);
        ov->inter = lossd__clip_area(ov->clip, ov->n_clip);
        ov->inter_from = FROM_CLIP;
    }
    /*
     * What exact arithmetic guarantees: 0 <= I <= min(area P, area Q). (No
     * fmin: in the AVX2 twin a call into libm's SSE code, with the sines'
     * vectors still in the upper halves, made it 16% of the riou matrix.)
     */
    double cap = ov->area_p < ov->area_q ? ov->area_p : ov->area_q;
    if (ov->inter > cap) {
        ov->inter = cap;
        ov->inter_from = ov->area_p <= ov->area_q ? FROM_AREA_P : FROM_NONE;
    } else if (ov->inter < 0) {
        ov->inter = 0;
        ov->inter_from = FROM_NONE;
    }
    ov->uni = ov->area_p + ov->area_q - ov->inter;
    if (!with_hull)
        return;
    if (nested) { /* the hull is the outer box */
        ov->hull = nested & 1 ? ov->area_q : ov->area_p;
        ov->hull_from = nested & 1 ? FROM_NONE : FROM_AREA_P;
    } else {
        for (int j = 0; j < 4; j++) {
            ov->pts[j] = pr->p[j];
            ov->pts[4 + j] = pr->q[j];
        }
        ov->n_hull = lossd__poly_hull(ov->pts, 8, ov->hull_idx);
        ov->hull = lossd__hull_area(ov->pts, ov->hull_idx, ov->n_hull);
        ov->hull_from = FROM_HULL;
    }
    if (ov->hull < ov->uni) { /* the hull holds the union (U = A + B - I rounds on its own) */
        ov->hull = ov->uni;
        ov->hull_from = FROM_UNION;
    }
}

/* IoU of a pair, I / U, and 0 where U = 0 (the matrix's definition). */
static double pair_iou(const obox_geom *p, const obox_geom *q)
{
    if (geom_apart(p, q, (lossd__point){q->anchor.x - p->anchor.x, q->anchor.y - p->anchor.y}))
        return 0.0; /* no overlap: I = 0, and U >= 0 */
    obox_pair pr;
    obox_overlap ov;
    pair_of(p, q, &pr);
    overlap_compute(&pr, false, &ov);
    return ov.uni > 0 ? ov.inter / ov.uni : 0.0;
}

/* ------------------------------------------------------------ losses */

typedef struct {
    double iou, inter, uni, hull;
} obox_terms;

/*
 * Pulls the gradient with respect to P's four (local) corners back to the
 * box's numbers, times upstream, into grad (5 or 8 of them).
 */
static void corners_to_box(const obox_geom *pr, const lossd__point *g, int format, int unit,
                           double upstream, double *grad)
{
    if (format == OBOX_XYXYXYXY) {
        for (int j = 0; j < 4; j++) {
            grad[2 * pr->corner[j]] = upstream * g[j].x;
            grad[2 * pr->corner[j] + 1] = upstream * g[j].y;
        }
        return;
    }
    /* corner j = c + SX[j] (w/2)(cos, sin) + SY[j] (h/2)(-sin, cos) */
    lossd__point sum_x = {0, 0}, sum_y = {0, 0}, all = {0, 0};
    for (int j = 0; j < 4; j++) {
        all.x += g[j].x;
        all.y += g[j].y;
        sum_x.x += SX[j] * g[j].x;
        sum_x.y += SX[j] * g[j].y;
        sum_y.x += SY[j] * g[j].x;
        sum_y.y += SY[j] * g[j].y;
    }
    double c = pr->cos_r, s = pr->sin_r;
    double along_u = sum_x.x * c + sum_x.y * s, across_u = -sum_x.x * s + sum_x.y * c;
    double along_v = -sum_y.x * s + sum_y.y * c, across_v = -sum_y.x * c - sum_y.y * s;
    grad[0] = upstream * all.x;
    grad[1] = upstream * all.y;
    grad[2] = upstream * 0.5 * along_u;
    grad[3] = upstream * 0.5 * along_v;
    grad[4] = upstream * obox_angle_scale(unit) * (pr->half_w * across_u + pr->half_h * across_v);
}

/*
 * The loss of one pair: riou 1 - I/(U + eps), rgiou that plus
 * (C - U)/(C + eps); when grad is not NULL, also upstream * its gradient
 * with respect to a's numbers. Written as
 *   d loss = k_i dI + k_a d area(P) + k_c dC
 * (U = area P + area Q - I), each area's gradient then taken from where
 * the area came from: P's shoelace, the clipped polygon, or the hull.
 */
static double pair_loss(int which, const obox_geom *gp, const obox_geom *gq,
                        const oriented_consts *k, double upstream, double *grad, obox_terms *terms)
{
    obox_pair pr;
    obox_overlap ov;
    pair_of(gp, gq, &pr);
    overlap_compute(&pr, which == OBOX_RGIOU, &ov);
    double den = ov.uni + k->eps, iou = ov.inter / den;
    double loss = 1 - iou, hull_den = 0;
    if (which == OBOX_RGIOU) {
        hull_den = ov.hull + k->eps;
        loss += (ov.hull - ov.uni) / hull_den;
    }
    if (terms)
        *terms = (obox_terms){iou, ov.inter, ov.uni, ov.hull};
    if (grad == NULL)
        return loss;
    if (ov.same) {
        /*
         * The loss's minimum, a kink: shrinking P raises it at -dA/U, growing
         * it at +dA/U. 0 is the subgradient of least norm, and what lets
         * gradient descent stop there.
         */
        memset(grad, 0, obox_len(k->format) * sizeof *grad);
        return loss;
    }

    double k_i = -(1 + iou) / den, k_a = iou / den, k_c = 0;
    if (which == OBOX_RGIOU) {
        k_c = (ov.uni + k->eps) / (hull_den * hull_den);
        k_a -= 1 / hull_den;
        k_i += 1 / hull_den;
        if (ov.hull_from == FROM_UNION) { /* C = U: its gradient is U's */
            k_a += k_c;
            k_i -= k_c;
            k_c = 0;
        } else if (ov.hull_from == FROM_AREA_P) {
            k_a += k_c;
            k_c = 0;
        }
    }
    lossd__point g[4] = {{0, 0}, {0, 0}, {0, 0}, {0, 0}};
    if (ov.inter_from == FROM_AREA_P)
        k_a += k_i;
    else if (ov.inter_from == FROM_CLIP)
        lossd__clip_area_grad(ov.clip, ov.n_clip, pr.p, 4, pr.q, 4, k_i, g, NULL);
    if (ov.p_live)
        lossd__poly_area_grad(pr.p, 4, k_a, g);
    if (k_c != 0 && ov.hull_from == FROM_HULL)
        lossd__hull_area_grad(ov.pts, ov.hull_idx, ov.n_hull, k_c, g, 4);
    corners_to_box(gp, g, k->format, k->angle_unit, upstream, grad);
    return loss;
}

static size_t count_nonfinite(const double *v, size_t n)
{
    size_t bad = 0;
    for (size_t j = 0; j < n; j++)
        bad += !isfinite(v[j]);
    return bad;
}

LOSSD_INLINE size_t oriented_loss_kernel(const lossd_call *c, size_t begin, size_t end, double *out,
                                         int which)
{
    oriented_consts k = *LOSSD__CONSTS(c, oriented_consts);
    double scale = c->state->term_scale;
    size_t len = obox_len(k.format), bad = 0;
    const double *a = c->operand[0].data, *b = c->operand[1].data;
    bool reduced = lossd__reduced(c);
    for (size_t i0 = begin; i0 < end; i0 += LOSSD_LANES) {
        size_t n = end - i0 < LOSSD_LANES ? end - i0 : LOSSD_LANES;
        obox_geom gp[LOSSD_LANES], gq[LOSSD_LANES];
        geoms_read(a + len * i0, n, k.format, k.angle_unit, gp);
        geoms_read(b + len * i0, n, k.format, k.angle_unit, gq);
        for (size_t l = 0; l < n; l++) { /* the clipping: one pair at a time */
            size_t i = i0 + l;
            double upstream = c->grad_output_set ? scale * c->grad_output.data[i] : scale;
            double *grad = c->grad ? c->grad + len * i : NULL;
            obox_terms t;
            double loss = scale * pair_loss(which, &gp[l], &gq[l], &k, upstream, grad,
                                            c->terms[0] ? &t : NULL);
            out[i - begin] = loss;
            if (!reduced)
                bad += !isfinite(loss);
            if (grad)
                bad += count_nonfinite(grad, len);
            if (c->terms[0]) {
                double values[3] = {t.iou, which == OBOX_RGIOU ? t.hull : t.inter, t.uni};
                for (size_t j = 0; j < (which == OBOX_RGIOU ? 2u : 3u); j++) {
                    c->terms[j][i] = values[j];
                    bad += !isfinite(values[j]);
                }
            }
        }
    }
    lossd__report_nonfinite(c, begin, bad);
    return 0;
}

static size_t riou_kernel(const lossd_call *c, size_t begin, size_t end, double *out)
{
    return oriented_loss_kernel(c, begin, end, out, OBOX_RIOU);
}

static size_t rgiou_kernel(const lossd_call *c, size_t begin, size_t end, double *out)
{
    return oriented_loss_kernel(c, begin, end, out, OBOX_RGIOU);
}

/* Columns of the riou matrix read at a time: their geometry is computed once per tile of rows. */
#define TILE_COLUMNS 64

/*
 * A tile's columns' anchors and bounds, one array each: the test of a row
 * against LOSSD_LANES columns is one vector expression (geom_apart's, lane
 * by lane), and only the columns it leaves are clipped.
 */
typedef struct {
    double x[TILE_COLUMNS], y[TILE_COLUMNS];
    double lo_x[TILE_COLUMNS], hi_x[TILE_COLUMNS], lo_y[TILE_COLUMNS], hi_y[TILE_COLUMNS];
} tile_bounds;

/* Which of columns j..j+LOSSD_LANES-1 of the tile have bounds that meet the row's (a lane mask). */
LOSSD_INLINE lossd_vm tile_meets(const tile_bounds *t, size_t j, const obox_geom *row)
{
    lossd_vd dx = lossd_v_load(t->x + j) - row->anchor.x,
             dy = lossd_v_load(t->y + j) - row->anchor.y;
    return (dx + lossd_v_load(t->lo_x + j) <= row->hi.x) &
           (dx + lossd_v_load(t->hi_x + j) >= row->lo.x) &
           (dy + lossd_v_load(t->lo_y + j) <= row->hi.y) &
           (dy + lossd_v_load(t->hi_y + j) >= row->lo.y);
}

/* Rows [begin, end) of the riou matrix, a tile of columns at a time. */
static size_t riou_matrix_kernel(const lossd_call *c, size_t begin, size_t end, double *out)
{
    oriented_consts k = *LOSSD__CONSTS(c, oriented_consts);
    size_t len = obox_len(k.format), m = c->operand[1].size / len, bad = 0;
    const double *b1 = c->operand[0].data, *b2 = c->operand[1].data;
    obox_geom cols[TILE_COLUMNS];
    tile_bounds tb;
    for (size_t j0 = 0; j0 < m; j0 += TILE_COLUMNS) {
        size_t n_cols = m - j0 < TILE_COLUMNS ? m - j0 : TILE_COLUMNS;
        for (size_t j = 0; j < n_cols; j += LOSSD_LANES)
            geoms_read(b2 + len * (j0 + j), n_cols - j < LOSSD_LANES ? n_cols - j : LOSSD_LANES,
                       k.format, k.angle_unit, &cols[j]);
        for (size_t j = 0; j < TILE_COLUMNS; j++) { /* past n_cols: bounds that meet nothing */
            const obox_geom *g = &cols[j < n_cols ? j : 0];
            bool live = j < n_cols;
            tb.x[j] = g->anchor.x, tb.y[j] = g->anchor.y;
            tb.lo_x[j] = live ? g->lo.x : INFINITY, tb.hi_x[j] = live ? g->hi.x : -INFINITY;
            tb.lo_y[j] = live ? g->lo.y : INFINITY, tb.hi_y[j] = live ? g->hi.y : -INFINITY;
        }
        for (size_t i = begin; i < end; i++) {
            obox_geom row;
            geoms_read(b1 + len * i, 1, k.format, k.angle_unit, &row);
            double *dst = out + (i - begin) * m + j0;
            for (size_t j = 0; j < n_cols; j += LOSSD_LANES) {
                lossd_vm meets = tile_meets(&tb, j, &row);
                for (size_t l = 0; l < LOSSD_LANES && j + l < n_cols; l++) {
                    dst[j + l] = meets[l] ? pair_iou(&row, &cols[j + l]) : 0.0;
                    bad += !isfinite(dst[j + l]);
                }
            }
        }
    }
    lossd__report_nonfinite(c, begin, bad);
    return 0;
}

/* ------------------------------------------------------------ validation */

#ifndef LOSSD_SIMD_AVX2 /* validation runs before any kernel: one copy */
/*
 * Whether the four corners of b turn one way only (convex, in either
 * direction; a turn within rounding of straight counts as straight, so
 * three collinear corners, or a rectangle of width 0 written as corners,
 * pass). A quadrilateral whose turns all have one sign cannot cross itself.
 */
static bool quad_is_convex(const double *b)
{
    lossd__point v[4];
    double longest = 0;
    for (int j = 0; j < 4; j++) {
        v[j] = (lossd__point){b[2 * ((j + 1) % 4)] - b[2 * j],
                              b[2 * ((j + 1) % 4) + 1] - b[2 * j + 1]};
        longest = fmax(longest, v[j].x * v[j].x + v[j].y * v[j].y);
    }
    double straight = 1e-12 * longest;
    bool left = false, right = false;
    for (int j = 0; j < 4; j++) {
        double turn = v[j].x * v[(j + 1) % 4].y - v[j].y * v[(j + 1) % 4].x;
        left |= turn > straight;
        right |= turn < -straight;
    }
    return !(left && right);
}

int lossd__oriented_check(lossd_call *c, size_t k, lossd_error *err)
{
    const lossd_tensor *t = &c->operand[k];
    int format = lossd__param_choice(c, "box_format");
    size_t len = obox_len(format);
    for (size_t i = 0; i + len <= t->size; i += len) {
        const double *p = t->data + i;
        const char *what = NULL;
        for (size_t j = 0; j < len && what == NULL; j++)
            if (!isfinite(p[j]))
                what = "a coordinate is not finite";
        double bad = 0;
        if (what == NULL && format == OBOX_CXCYWHR) {
            if (!(p[2] >= 0))
                what = "negative width", bad = p[2];
            else if (!(p[3] >= 0))
                what = "negative height", bad = p[3];
        } else if (what == NULL && !quad_is_convex(p)) {
            what = "not a convex quadrilateral (its corners turn both ways)";
        }
        if (what == NULL)
            continue;
        char path[LOSSD_FIELD_MAX];
        lossd__path(path, sizeof path, c->fn->operands[k].name, t, i, t->rank - 1);
        if (what[0] == 'n' && what[1] == 'e')
            return lossd__fail(err, LOSSD_EINVAL, path, "invalid %s box: %s (%s)",
                               lossd__obox_formats[format], what, LOSSD__SHORTEST(bad));
        return lossd__fail(err, LOSSD_EINVAL, path, "invalid %s box: %s",
                           lossd__obox_formats[format], what);
    }
    return 0;
}

/*
 * Random valid boxes for tests and benchmarks: targets 5..50 wide in a
 * 500 x 500 image at any angle (a list: 5..60 in 200 x 200, a crowded
 * scene); a second operand shaped like the first is the first's boxes
 * jittered by up to 20% of a side and 0.3 rad, as predictions near their
 * targets. xyxyxyxy boxes are such rectangles' corners (a second operand:
 * the first's, moved).
 */
void lossd__oriented_sample(const lossd_call *c, size_t k, const lossd_tensor *shape, double *out,
                            uint64_t *rng)
{
    int format = lossd__param_choice(c, "box_format");
    size_t len = obox_len(format);
    bool near_first = k == 1 && (c->fn->operands[1].flags & LOSSD_OPERAND_LIKE_INPUT) &&
                      c->operand_set[0] && c->operand[0].size == shape->size;
    bool list = c->fn->operands[k].rule == LOSSD_RULE_ORIENTED_LIST;
    double field = list ? 200 : 500, hi = list ? 60 : 50;
    for (size_t i = 0; i + len <= shape->size; i += len) {
        double b[5];
        if (near_first && format == OBOX_CXCYWHR) {
            const double *p = c->operand[0].data + i;
            b[0] = p[0] + lossd__rng_uniform(rng, -0.2, 0.2) * p[2];
            b[1] = p[1] + lossd__rng_uniform(rng, -0.2, 0.2) * p[3];
            b[2] = p[2] * lossd__rng_uniform(rng, 0.8, 1.2);
            b[3] = p[3] * lossd__rng_uniform(rng, 0.8, 1.2);
            b[4] = p[4] + lossd__rng_uniform(rng, -0.3, 0.3);
        } else {
            b[0] = lossd__rng_uniform(rng, 0, field), b[1] = lossd__rng_uniform(rng, 0, field);
            b[2] = lossd__rng_uniform(rng, 5, hi), b[3] = lossd__rng_uniform(rng, 5, hi);
            b[4] = lossd__rng_uniform(rng, -M_PI, M_PI);
        }
        if (format == OBOX_XYXYXYXY) { /* the rectangle's corners */
            if (near_first) {          /* the first's corners, moved by up to 3 in x and in y */
                double dx = lossd__rng_uniform(rng, -3, 3), dy = lossd__rng_uniform(rng, -3, 3);
                for (size_t j = 0; j < 8; j++)
                    out[i + j] = c->operand[0].data[i + j] + (j % 2 ? dy : dx);
            } else
                for (int j = 0; j < 4; j++) {
                    double u = SX[j] * b[2] / 2, v = SY[j] * b[3] / 2;
                    out[i + 2 * j] = b[0] + u * cos(b[4]) - v * sin(b[4]);
                    out[i + 2 * j + 1] = b[1] + u * sin(b[4]) + v * cos(b[4]);
                }
        } else {
            memcpy(out + i, b, sizeof b);
        }
    }
}
#endif

/* ------------------------------------------------------------ registry rows */

static const lossd_param_spec riou_params[] = {
    OBOX_ANY_FORMAT_SPEC,
    ANGLE_UNIT_SPEC,
    {.name = "eps",
     .type = LOSSD_PARAM_NUMBER,
     .summary = "added to the union (and the hull) in the denominators, as torchvision's box "
                "losses place it",
     .default_number = 1e-7,
     .domain = LOSSD__NONNEG},
};

static const lossd_param_spec riou_matrix_params[] = {OBOX_ANY_FORMAT_SPEC, ANGLE_UNIT_SPEC};

static const char *const riou_terms[] = {"iou", "intersection", "union", NULL};
static const char *const rgiou_terms[] = {"iou", "hull_area", NULL};

static const lossd_function oriented_functions[] = {
    {.kind = LOSSD_KIND_LOSS,
     .name = "riou",
     .summary = "exact rotated IoU loss: one minus the intersection over union of two oriented "
                "boxes, with its analytic gradient",
     .formula = "1 - \\frac{|P \\cap Q|}{|P| + |Q| - |P \\cap Q| + \\epsilon}",
     .reference = "1 - I/(U + eps), I = shapely Polygon(P).intersection(Polygon(Q)).area",
     .flags = LOSSD_FN_GRAD | LOSSD_FN_TERMS,
     .operands = OBOX_OPERANDS,
     .params = LOSSD__PARAMS(riou_params),
     .terms = riou_terms,
     .impl = LOSSD__IMPL(.prepare = oriented_prepare, .kernel = riou_kernel)},
    {.kind = LOSSD_KIND_LOSS,
     .name = "rgiou",
     .summary = "rotated GIoU loss: the enclosing shape is the convex hull of the two oriented "
                "boxes (mmrotate's ConvexGIoULoss)",
     .formula = "1 - \\mathrm{IoU} + \\frac{|C| - |P \\cup Q|}{|C| + \\epsilon},\\ C = "
                "\\mathrm{hull}(P \\cup Q)",
     .reference = "C = shapely MultiPoint(P + Q).convex_hull.area (GIoU for convex shapes)",
     .flags = LOSSD_FN_GRAD | LOSSD_FN_TERMS,
     .operands = OBOX_OPERANDS,
     .params = LOSSD__PARAMS(riou_params),
     .terms = rgiou_terms,
     .impl = LOSSD__IMPL(.prepare = oriented_prepare, .kernel = rgiou_kernel)},
};

LOSSD__MODULE(lossd__oriented_module, oriented_functions);

static const lossd_function oriented_pairwise_functions[] = {
    {.kind = LOSSD_KIND_PAIRWISE,
     .name = "riou",
     .summary = "pairwise exact IoU of oriented boxes, an (N,M) matrix",
     .formula = "\\frac{|P_i \\cap Q_j|}{|P_i \\cup Q_j|}\\ (0 \\text{ where the union is empty})",
     .reference = "shapely Polygon(P).intersection(Polygon(Q)).area / union",
     .operands = OBOX_LIST_OPERANDS,
     .params = LOSSD__PARAMS(riou_matrix_params),
     .impl = LOSSD__IMPL(.prepare = oriented_prepare, .kernel = riou_matrix_kernel)},
};

LOSSD__MODULE(lossd__oriented_pairwise_module, oriented_pairwise_functions);
