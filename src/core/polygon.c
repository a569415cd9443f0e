/* SPDX-License-Identifier: MIT */
/*
 * polygon.c - the convex-polygon kernel under the oriented-box losses:
 * Sutherland-Hodgman intersection with each vertex's provenance, Andrew's
 * convex hull, shoelace areas and their gradients (polygon.h has the
 * contracts).
 *
 * Why Sutherland-Hodgman and not "collect the corners inside the other
 * box and the edge crossings, sort them by angle" (mmcv's and Detectron2's
 * box_iou_rotated): the collecting methods decide each candidate by its
 * own tolerance tests, so a crossing at a shared corner can be counted
 * twice or lost, and near-parallel edges produce crossings far outside the
 * boxes - IoU above 1 or negative areas. Clipping decides the side of each
 * vertex once per edge, adds a crossing only between two vertices strictly
 * on either side, and places it between them: whatever the rounding, the
 * result is a closed polygon within rounding of the true one.
 *
 * Thread-safe: pure functions; no allocation.
 */
#include "polygon.h"

#include <float.h>
#include <math.h>
#include <stdbool.h>

#include "../debug.h"

/* The lines of lossd__vertex.line: P's edge i is i, Q's edge k is Q_LINE + k. */
#define Q_LINE LOSSD__POLY_MAX

static lossd__point sub(lossd__point a, lossd__point b)
{
    return (lossd__point){a.x - b.x, a.y - b.y};
}

static double cross(lossd__point a, lossd__point b)
{
    return a.x * b.y - a.y * b.x;
}

double lossd__poly_area(const lossd__point *v, size_t n)
{
    double sum = 0;
    for (size_t m = 1; m + 1 < n; m++)
        sum += cross(sub(v[m], v[0]), sub(v[m + 1], v[0]));
    return 0.5 * sum;
}

double lossd__clip_area(const lossd__vertex *v, size_t n)
{
    double sum = 0;
    for (size_t m = 1; m + 1 < n; m++)
        sum += cross(sub(v[m].at, v[0].at), sub(v[m + 1].at, v[0].at));
    return 0.5 * sum;
}

void lossd__poly_area_grad(const lossd__point *v, size_t n, double scale, lossd__point *grad)
{
    for (size_t m = 0; m < n && n >= 3; m++) {
        lossd__point prev = v[m ? m - 1 : n - 1], next = v[m + 1 < n ? m + 1 : 0];
        grad[m].x += 0.5 * scale * (next.y - prev.y);
        grad[m].y += 0.5 * scale * (prev.x - next.x);
    }
}

int lossd__poly_inside(const lossd__point *inner, size_t n_inner, const lossd__point *outer,
                       size_t n_outer)
{
    for (size_t k = 0; k < n_outer; k++) {
        lossd__point c = outer[k], f = sub(outer[(k + 1) % n_outer], c);
        for (size_t i = 0; i < n_inner; i++)
            if (cross(f, sub(inner[i], c)) < 0)
                return 0;
    }
    return 1;
}

/*
 * Whether Q's edges j and k turn at their shared corner by more than
 * rounding: only then is that corner where their lines cross. Three
 * collinear corners (allowed: a triangle written as a quadrilateral) make
 * two edges one line, which "crosses" the other anywhere along it.
 */
static bool turns(const lossd__point *q, size_t n_q, size_t j, size_t k)
{
    lossd__point fj = sub(q[(j + 1) % n_q], q[j]), fk = sub(q[(k + 1) % n_q], q[k]);
    double c = cross(fj, fk), tol = 64 * DBL_EPSILON;
    return c * c > tol * tol * (fj.x * fj.x + fj.y * fj.y) * (fk.x * fk.x + fk.y * fk.y);
}

/*
 * The vertex where the segment from `cur` (on line cur->line) to `nxt`
 * crosses Q's edge k, at t = s_cur / (s_cur - s_nxt) of the way (the two
 * signed distances have strictly opposite signs, so 0 < t < 1 and the
 * denominator is not 0). On a line of P it is the crossing of that edge
 * with edge k; on a line of Q adjacent to k that turns into it, the
 * corner they share, exactly; on any other line of Q (parallel edges,
 * degenerate ones) a point that carries no gradient.
 */
static lossd__vertex crossing(const lossd__vertex *cur, const lossd__vertex *nxt, double s_cur,
                              double s_nxt, size_t k, const lossd__point *q, size_t n_q)
{
    double t = s_cur / (s_cur - s_nxt);
    lossd__vertex x = {
        .at = {cur->at.x + t * (nxt->at.x - cur->at.x), cur->at.y + t * (nxt->at.y - cur->at.y)},
        .from = LOSSD__FROM_CROSSING,
        .p = cur->line,
        .q = (unsigned char)k};
    if (cur->line < Q_LINE)
        return x;
    size_t other = cur->line - Q_LINE;
    if ((other == (k + n_q - 1) % n_q || other == (k + 1) % n_q) && turns(q, n_q, other, k)) {
        size_t corner = other == (k + 1) % n_q ? other : k; /* edge j runs from corner j */
        x.at = q[corner];
        x.from = LOSSD__FROM_Q;
        x.q = (unsigned char)corner;
        return x;
    }
    x.from = LOSSD__FROM_NOWHERE;
    return x;
}

/*
 * One Sutherland-Hodgman pass: keeps what of in[0..n) lies left of or on
 * Q's edge k, writing it to out; returns the count. A kept vertex keeps
 * the line its segment to the next vertex lies on, unless that segment
 * now runs along edge k (the vertex is the last one on the edge before the
 * polygon leaves it, or the crossing where it does).
 */
static size_t clip_pass(const lossd__vertex *in, size_t n, size_t k, const lossd__point *q,
                        size_t n_q, lossd__vertex *out)
{
    lossd__point c = q[k], f = sub(q[(k + 1) % n_q], c);
    size_t n_out = 0;
    double s_first = cross(f, sub(in[0].at, c)), s_cur = s_first;
    for (size_t m = 0; m < n; m++) {
        const lossd__vertex *cur = &in[m], *nxt = &in[m + 1 < n ? m + 1 : 0];
        double s_nxt = m + 1 < n ? cross(f, sub(nxt->at, c)) : s_first;
        if (s_cur >= 0) {
            LOSSD_ASSERT(n_out < LOSSD__CLIP_MAX);
            out[n_out] = *cur;
            if (s_cur == 0 && s_nxt < 0)
                out[n_out].line = (unsigned char)(Q_LINE + k);
            n_out++;
        }
        if ((s_cur > 0 && s_nxt < 0) || (s_cur < 0 && s_nxt > 0)) {
            LOSSD_ASSERT(n_out < LOSSD__CLIP_MAX);
            out[n_out] = crossing(cur, nxt, s_cur, s_nxt, k, q, n_q);
            out[n_out].line = s_cur > 0 ? (unsigned char)(Q_LINE + k) : cur->line;
            n_out++;
        }
        s_cur = s_nxt;
    }
    return n_out;
}

size_t lossd__poly_clip(const lossd__point *p, size_t n_p, const lossd__point *q, size_t n_q,
                        lossd__vertex *out)
{
    LOSSD_ASSERT(n_p <= LOSSD__POLY_MAX && n_q <= LOSSD__POLY_MAX);
    lossd__vertex scratch[LOSSD__CLIP_MAX];
    /* the passes alternate between the two buffers so that the last one writes to out */
    lossd__vertex *in = n_q % 2 ? scratch : out, *next = n_q % 2 ? out : scratch;
    for (size_t i = 0; i < n_p; i++)
        in[i] = (lossd__vertex){
            .at = p[i], .from = LOSSD__FROM_P, .p = (unsigned char)i, .line = (unsigned char)i};
    size_t n = n_p;
    /* a Q whose corners all coincide is a point, and its zero-length edges cut nothing */
    bool point = true;
    for (size_t k = 1; k < n_q && point; k++)
        point = q[k].x == q[0].x && q[k].y == q[0].y;
    if (point)
        return 0;
    for (size_t k = 0; k < n_q; k++) {
        n = n ? clip_pass(in, n, k, q, n_q, next) : 0;
        lossd__vertex *t = in;
        in = next;
        next = t;
    }
    return n;
}

/*
 * Adds to ga, gb the gradient, with respect to a and b, of a function of
 * the point x where line (a, b) crosses line (c, d), given g, its
 * gradient with respect to x. With e = b - a, f = d - c, x = a + t e and
 * t = cross(c - a, f) / cross(e, f), differentiating t gives
 *   d/da = (1 - t) h,  d/db = t h,  h = g - (g.e / cross(e, f)) (f.y, -f.x).
 * t is read back from x (its projection on the edge), which keeps it
 * between 0 and 1 as the clipping placed it. Parallel lines (cross(e, f)
 * = 0, a degenerate crossing) give h = g: finite, as the contract wants.
 */
static void crossing_grad(lossd__point a, lossd__point b, lossd__point c, lossd__point d,
                          lossd__point x, lossd__point g, lossd__point *ga, lossd__point *gb)
{
    lossd__point e = sub(b, a), f = sub(d, c);
    double ee = e.x * e.x + e.y * e.y, den = cross(e, f);
    double t = ee > 0 ? ((x.x - a.x) * e.x + (x.y - a.y) * e.y) / ee : 0.0;
    double alpha = den != 0 ? (g.x * e.x + g.y * e.y) / den : 0.0;
    lossd__point h = {g.x - alpha * f.y, g.y + alpha * f.x};
    ga->x += (1 - t) * h.x;
    ga->y += (1 - t) * h.y;
    gb->x += t * h.x;
    gb->y += t * h.y;
}

void lossd__clip_area_grad(const lossd__vertex *v, size_t n, const lossd__point *p, size_t n_p,
                           const lossd__point *q, size_t n_q, double scale, lossd__point *grad_p,
                           lossd__point *grad_q)
{
    if (n < 3)
        return; /* no area: a segment or a point */
    for (size_t m = 0; m < n; m++) {
        lossd__point prev = v[m ? m - 1 : n - 1].at, next = v[m + 1 < n ? m + 1 : 0].at;
        /* d area / d vertex m = (y_next - y_prev, x_prev - x_next) / 2 */
        lossd__point g = {0.5 * scale * (next.y - prev.y), 0.5 * scale * (prev.x - next.x)};
        const lossd__vertex *w = &v[m];
        switch (w->from) {
        case LOSSD__FROM_P:
            grad_p[w->p].x += g.x;
            grad_p[w->p].y += g.y;
            break;
        case LOSSD__FROM_Q:
            if (grad_q) {
                grad_q[w->q].x += g.x;
                grad_q[w->q].y += g.y;
            }
            break;
        case LOSSD__FROM_CROSSING: {
            size_t i = w->p, i1 = (i + 1) % n_p, k = w->q, k1 = (k + 1) % n_q;
            crossing_grad(p[i], p[i1], q[k], q[k1], w->at, g, &grad_p[i], &grad_p[i1]);
            if (grad_q)
                crossing_grad(q[k], q[k1], p[i], p[i1], w->at, g, &grad_q[k], &grad_q[k1]);
            break;
        }
        default:
            break;
        }
    }
}

/* Orientation of (o, a, b): > 0 counter-clockwise. */
static double turn(lossd__point o, lossd__point a, lossd__point b)
{
    return cross(sub(a, o), sub(b, o));
}

size_t lossd__poly_hull(const lossd__point *pts, size_t n, unsigned char *hull)
{
    LOSSD_ASSERT(n <= 2 * LOSSD__POLY_MAX);
    unsigned char order[2 * LOSSD__POLY_MAX];
    for (size_t i = 0; i < n; i++) { /* insertion sort by (x, y): n is at most 16 */
        size_t j = i;
        while (j > 0 && (pts[order[j - 1]].x > pts[i].x ||
                         (pts[order[j - 1]].x == pts[i].x && pts[order[j - 1]].y > pts[i].y))) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = (unsigned char)i;
    }
    if (n < 3) {
        for (size_t i = 0; i < n; i++)
            hull[i] = order[i];
        return n;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) { /* lower hull, left to right */
        while (k >= 2 && turn(pts[hull[k - 2]], pts[hull[k - 1]], pts[order[i]]) <= 0)
            k--;
        hull[k++] = order[i];
    }
    for (size_t i = n - 1, lower = k + 1; i-- > 0;) { /* upper hull, right to left */
        while (k >= lower && turn(pts[hull[k - 2]], pts[hull[k - 1]], pts[order[i]]) <= 0)
            k--;
        hull[k++] = order[i];
    }
    return k - 1; /* the last point is the first again */
}

double lossd__hull_area(const lossd__point *pts, const unsigned char *hull, size_t n_hull)
{
    double sum = 0;
    lossd__point o = n_hull ? pts[hull[0]] : (lossd__point){0, 0};
    for (size_t m = 1; m + 1 < n_hull; m++)
        sum += cross(sub(pts[hull[m]], o), sub(pts[hull[m + 1]], o));
    return 0.5 * sum;
}

void lossd__hull_area_grad(const lossd__point *pts, const unsigned char *hull, size_t n_hull,
                           double scale, lossd__point *grad, size_t n_grad)
{
    if (n_hull < 3)
        return;
    for (size_t m = 0; m < n_hull; m++) {
        size_t idx = hull[m];
        if (idx >= n_grad)
            continue;
        lossd__point prev = pts[hull[m ? m - 1 : n_hull - 1]];
        lossd__point next = pts[hull[m + 1 < n_hull ? m + 1 : 0]];
        grad[idx].x += 0.5 * scale * (next.y - prev.y);
        grad[idx].y += 0.5 * scale * (prev.x - next.x);
    }
}
