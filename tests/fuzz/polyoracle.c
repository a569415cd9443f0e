/* SPDX-License-Identifier: MIT */
/*
 * polyoracle.c - the convex-polygon kernel's oracle (polyoracle.h): how
 * the bytes become polygons, and the invariants checked on them.
 */
#include "polyoracle.h"

#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lossd/lossd.h>

#include "../../src/core/polygon.h"
#include "fuzz.h"

typedef struct {
    const uint8_t *p;
    size_t n, at;
} reader;

static unsigned next_byte(reader *r)
{
    return r->at < r->n && r->at < POLY_ORACLE_BYTES ? r->p[r->at++] : 0;
}

/* A number in [0, 1] from two bytes. */
static double unit(reader *r)
{
    unsigned hi = next_byte(r), lo = next_byte(r);
    return (double)(hi << 8 | lo) / 65535.0;
}

/* Any finite double from eight bytes, folded into [-1e3, 1e3] (subnormals and signed zeros too). */
static double raw(reader *r)
{
    uint64_t bits = 0;
    for (int i = 0; i < 8; i++)
        bits = bits << 8 | next_byte(r);
    double x;
    memcpy(&x, &bits, sizeof x);
    if (!isfinite(x))
        return 0.0;
    return fabs(x) > 1e3 ? fmod(x, 1e3) : x;
}

typedef struct {
    lossd__point v[LOSSD__POLY_MAX];
    size_t n;
} polygon;

static double area(const polygon *p)
{
    return lossd__poly_area(p->v, p->n);
}

/* Turns a polygon counter-clockwise (a clockwise one is reversed). */
static void make_ccw(polygon *p)
{
    if (area(p) >= 0)
        return;
    for (size_t i = 0, j = p->n - 1; i < j; i++, j--) {
        lossd__point t = p->v[i];
        p->v[i] = p->v[j];
        p->v[j] = t;
    }
}

/* Corners on an ellipse at increasing angles: convex, 3 to 8 of them. */
static void ellipse(reader *r, polygon *p, double offset)
{
    p->n = 3 + next_byte(r) % 6;
    double cx = offset + 4 * unit(r) - 2, cy = offset + 4 * unit(r) - 2;
    double rx = 0.05 + 2 * unit(r), ry = next_byte(r) % 4 ? 0.05 + 2 * unit(r) : 0.0;
    double gaps[LOSSD__POLY_MAX], sum = 0, turn = 2 * M_PI * unit(r);
    for (size_t i = 0; i < p->n; i++)
        sum += gaps[i] = 0.1 + unit(r);
    double at = turn;
    for (size_t i = 0; i < p->n; i++) {
        at += gaps[i] / sum * 2 * M_PI;
        p->v[i] = (lossd__point){cx + rx * cos(at), cy + ry * sin(at)};
    }
}

/* A rotated rectangle as the library builds one, sides possibly 0, angle possibly a multiple of
 * pi/2. */
static void rectangle(reader *r, polygon *p, double offset)
{
    double cx = offset + raw(r), cy = offset + raw(r);
    unsigned flags = next_byte(r);
    double w = flags & 1 ? 0.0 : 3 * unit(r), h = flags & 2 ? 0.0 : 3 * unit(r);
    double t = flags & 4 ? (next_byte(r) % 8) * M_PI / 4 : raw(r);
    double c = cos(t), s = sin(t), ax = w / 2 * c, ay = w / 2 * s, bx = -h / 2 * s, by = h / 2 * c;
    static const double sx[4] = {1, -1, -1, 1}, sy[4] = {1, 1, -1, -1};
    p->n = 4;
    for (int j = 0; j < 4; j++)
        p->v[j] = (lossd__point){cx + sx[j] * ax + sy[j] * bx, cy + sx[j] * ay + sy[j] * by};
}

/* The first polygon: random, a rectangle, far from the origin, a segment or a point. */
static void first_polygon(reader *r, polygon *p)
{
    unsigned mode = next_byte(r) % 6;
    double offset = mode == 2 ? pow(10.0, next_byte(r) % 13) : 0.0;
    if (mode == 0)
        ellipse(r, p, 0.0);
    else if (mode <= 2)
        rectangle(r, p, offset);
    else if (mode == 3)
        ellipse(r, p, pow(10.0, next_byte(r) % 13));
    else if (mode == 4) { /* collinear corners: a segment */
        double x = raw(r), y = raw(r), dx = unit(r), dy = unit(r);
        p->n = 4;
        for (int j = 0; j < 4; j++)
            p->v[j] = (lossd__point){x + dx * (j % 3), y + dy * (j % 3)};
    } else { /* one point four times */
        double x = raw(r), y = raw(r);
        p->n = 4;
        for (int j = 0; j < 4; j++)
            p->v[j] = (lossd__point){x, y};
    }
}

/* The second: independent, or the first identical, turned, shifted, mirrored, shrunk, relisted. */
static void second_polygon(reader *r, const polygon *p, polygon *q)
{
    unsigned mode = next_byte(r) % 7;
    *q = *p;
    lossd__point c = {0, 0};
    for (size_t i = 0; i < p->n; i++)
        c.x += p->v[i].x / (double)p->n, c.y += p->v[i].y / (double)p->n;
    if (mode == 0) {
        first_polygon(r, q);
    } else if (mode == 2) { /* turned about its centre by 1e-15 .. 1, or by pi */
        unsigned k = next_byte(r) % 17;
        double t = k == 16 ? M_PI : pow(10.0, -(double)k), cs = cos(t), sn = sin(t);
        for (size_t i = 0; i < q->n; i++) {
            double u = p->v[i].x - c.x, v = p->v[i].y - c.y;
            q->v[i] = (lossd__point){c.x + cs * u - sn * v, c.y + sn * u + cs * v};
        }
    } else if (mode == 3) { /* shifted by a tiny vector, or by an edge: a shared edge */
        size_t e = next_byte(r) % p->n;
        lossd__point d = {p->v[(e + 1) % p->n].x - p->v[e].x, p->v[(e + 1) % p->n].y - p->v[e].y};
        double scale = next_byte(r) % 2 ? pow(10.0, -(double)(next_byte(r) % 16)) : 1.0;
        for (size_t i = 0; i < q->n; i++)
            q->v[i].x += scale * d.y, q->v[i].y -= scale * d.x;
    } else if (mode == 4) { /* mirrored across an edge: touching along it */
        size_t e = next_byte(r) % p->n;
        lossd__point a = p->v[e], b = p->v[(e + 1) % p->n];
        double dx = b.x - a.x, dy = b.y - a.y, len2 = dx * dx + dy * dy;
        for (size_t i = 0; i < q->n && len2 > 0; i++) {
            double t = ((p->v[i].x - a.x) * dx + (p->v[i].y - a.y) * dy) / len2;
            lossd__point f = {a.x + t * dx, a.y + t * dy};
            q->v[i] = (lossd__point){2 * f.x - p->v[i].x, 2 * f.y - p->v[i].y};
        }
    } else if (mode == 5) { /* shrunk towards one of its corners: nested, touching there */
        lossd__point o = p->v[next_byte(r) % p->n];
        double f = unit(r);
        for (size_t i = 0; i < q->n; i++)
            q->v[i] = (lossd__point){o.x + f * (p->v[i].x - o.x), o.y + f * (p->v[i].y - o.y)};
    } else if (mode == 6) { /* the same corners from another start */
        size_t k = next_byte(r) % p->n;
        for (size_t i = 0; i < q->n; i++)
            q->v[i] = p->v[(i + k) % p->n];
    }
}

/* The extent of the two polygons and their largest coordinate. */
static void scales(const polygon *p, const polygon *q, double *extent, double *magnitude)
{
    double lo_x = INFINITY, hi_x = -INFINITY, lo_y = INFINITY, hi_y = -INFINITY, m = 0;
    const polygon *both[2] = {p, q};
    for (int k = 0; k < 2; k++)
        for (size_t i = 0; i < both[k]->n; i++) {
            lossd__point v = both[k]->v[i];
            lo_x = fmin(lo_x, v.x), hi_x = fmax(hi_x, v.x);
            lo_y = fmin(lo_y, v.y), hi_y = fmax(hi_y, v.y);
            m = fmax(m, fmax(fabs(v.x), fabs(v.y)));
        }
    *extent = fmax(hi_x - lo_x, hi_y - lo_y);
    *magnitude = m;
}

/* Whether v lies inside or on every edge of p, to a distance tol. */
static bool inside(lossd__point v, const polygon *p, double tol)
{
    for (size_t i = 0; i < p->n; i++) {
        lossd__point a = p->v[i], b = p->v[(i + 1) % p->n];
        double dx = b.x - a.x, dy = b.y - a.y, len = hypot(dx, dy);
        if (len > 0 && (dx * (v.y - a.y) - dy * (v.x - a.x)) / len < -tol)
            return false;
    }
    return true;
}

static const char *check_clip(const polygon *p, const polygon *q, double tol_area, double tol_len,
                              double *inter)
{
    bool both_flat = area(p) <= tol_area && area(q) <= tol_area;
    lossd__vertex v[LOSSD__CLIP_MAX];
    size_t n = lossd__poly_clip(p->v, p->n, q->v, q->n, v);
    *inter = lossd__clip_area(v, n);
    for (size_t m = 0; m < n; m++) {
        bool ok = v[m].from == LOSSD__FROM_P         ? v[m].p < p->n
                  : v[m].from == LOSSD__FROM_Q       ? v[m].q < q->n
                  : v[m].from == LOSSD__FROM_NOWHERE ? v[m].q < q->n
                                                     : v[m].p < p->n && v[m].q < q->n;
        if (!ok)
            return "a vertex's provenance is out of range";
        /* two segments cross where nearly parallel lines meet: anywhere along them, at no area */
        if (!both_flat && (!inside(v[m].at, p, tol_len) || !inside(v[m].at, q, tol_len)))
            return "a vertex of the intersection lies outside a polygon";
    }
    if (!(*inter >= -tol_area))
        return "the intersection's area is negative";
    if (!(*inter <= fmin(area(p), area(q)) + tol_area))
        return "the intersection is larger than a polygon";
    lossd__point gp[LOSSD__POLY_MAX] = {{0, 0}}, gq[LOSSD__POLY_MAX] = {{0, 0}};
    lossd__clip_area_grad(v, n, p->v, p->n, q->v, q->n, 1.0, gp, gq);
    for (size_t i = 0; i < LOSSD__POLY_MAX; i++)
        if (!isfinite(gp[i].x + gp[i].y + gq[i].x + gq[i].y))
            return "a gradient of the intersection is not finite";
    return NULL;
}

/*
 * riou and rgiou of two quadrilaterals through the library (xyxyxyxy, q
 * listed clockwise), eps 0: IoU in [0, 1] (NaN only when both areas are
 * 0: 0/0), riou in [0, 1], rgiou in [0, 2], finite gradients of finite
 * losses.
 */
static const char *check_losses(const polygon *p, const polygon *q, bool both_flat)
{
    double a[8], b[8];
    for (int j = 0; j < 4; j++) {
        a[2 * j] = p->v[j].x, a[2 * j + 1] = p->v[j].y;
        b[2 * j] = q->v[3 - j].x, b[2 * j + 1] = q->v[3 - j].y;
    }
    static const char *const names[2] = {"riou", "rgiou"};
    for (int f = 0; f < 2; f++) {
        lossd_call c;
        lossd_error err = {0};
        lossd_tensor ta, tb;
        size_t shape[1] = {8};
        lossd_tensor_view(&ta, a, 1, shape);
        lossd_tensor_view(&tb, b, 1, shape);
        lossd_call_init(&c, lossd_function_find(LOSSD_KIND_LOSS, names[f]));
        lossd_call_set_operand(&c, "input", &ta, &err);
        lossd_call_set_operand(&c, "target", &tb, &err);
        lossd_call_set_choice(&c, "box_format", "xyxyxyxy", &err);
        lossd_call_set_number(&c, "eps", 0.0, &err);
        lossd_call_set_reduction(&c, "none", &err);
        c.want_grad = c.want_terms = true;
        int rc = lossd_call_compute(&c, &err);
        const char *broken = NULL;
        if (rc == LOSSD_EINVAL && strstr(err.message, "convex")) {
            /* corners that round to a dent are refused, as they should be */
        } else if (rc != 0) {
            broken = "a valid pair of quadrilaterals was refused";
        } else {
            double iou = c.terms[0][0], loss = c.output.data[0];
            bool nan_ok = both_flat && isnan(iou);
            if (!(iou >= 0 && iou <= 1) && !nan_ok)
                broken = "an IoU outside [0, 1]";
            else if (!(loss >= 0 && loss <= (f ? 2 : 1)) && !nan_ok)
                broken = "a loss outside its range";
            for (int j = 0; j < 8 && broken == NULL && isfinite(loss); j++)
                if (!isfinite(c.grad[j]))
                    broken = "a non-finite gradient of a finite loss";
        }
        lossd_call_cleanup(&c);
        if (broken)
            return broken;
    }
    return NULL;
}

const char *poly_oracle(const uint8_t *data, size_t size)
{
    reader r = {data, size, 0};
    polygon p, q;
    first_polygon(&r, &p);
    second_polygon(&r, &p, &q);
    make_ccw(&p);
    make_ccw(&q);
    double extent, magnitude;
    scales(&p, &q, &extent, &magnitude);
    /* a vertex is placed to a few ulps of the largest coordinate; areas to that times the extent */
    double tol_len = 256 * DBL_EPSILON * (magnitude + extent);
    double tol_area = 64 * (p.n + q.n) * tol_len * fmax(extent, DBL_MIN);
    double i_pq, i_qp;
    const char *broken = check_clip(&p, &q, tol_area, tol_len, &i_pq);
    if (broken == NULL)
        broken = check_clip(&q, &p, tol_area, tol_len, &i_qp);
    if (broken)
        return broken;
    if (!(fabs(i_pq - i_qp) <= 2 * tol_area))
        return "the intersection depends on the order of the polygons";
    lossd__point pts[2 * LOSSD__POLY_MAX];
    memcpy(pts, p.v, p.n * sizeof *pts);
    memcpy(pts + p.n, q.v, q.n * sizeof *pts);
    unsigned char hull[LOSSD__HULL_MAX];
    size_t n_hull = lossd__poly_hull(pts, p.n + q.n, hull);
    double c = lossd__hull_area(pts, hull, n_hull);
    if (!(c >= fmax(area(&p), area(&q)) - tol_area) || !(c >= i_pq - tol_area))
        return "the hull is smaller than what it holds";
    if (p.n == 4 && q.n == 4)
        return check_losses(&p, &q, area(&p) <= tol_area && area(&q) <= tol_area);
    return NULL;
}

void fuzz_polygon(const uint8_t *data, size_t size)
{
    const char *broken = poly_oracle(data, size);
    if (broken) {
        fprintf(stderr, "fuzz_polygon: %s\n", broken);
        abort();
    }
}
