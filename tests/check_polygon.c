/* SPDX-License-Identifier: MIT */
/*
 * check_polygon.c - the convex-polygon kernel (src/core/polygon.c):
 * intersections and hulls of shapes whose areas are known, the degenerate
 * shapes naive clipping gets wrong, an oracle over random and adversarial
 * polygons (the libFuzzer target tests/fuzz/fuzz_polygon.c runs the same
 * oracle on inputs it invents), and the area gradients against central
 * differences.
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../src/core/polygon.h"
#include "fuzz/polyoracle.h"
#include "testutil.h"

static const lossd__point unit_square[4] = {{0, 0}, {1, 0}, {1, 1}, {0, 1}};

static double clip_area(const lossd__point *p, size_t n_p, const lossd__point *q, size_t n_q)
{
    lossd__vertex v[LOSSD__CLIP_MAX];
    size_t n = lossd__poly_clip(p, n_p, q, n_q, v);
    return lossd__clip_area(v, n);
}

static double hull_area(const lossd__point *p, size_t n_p, const lossd__point *q, size_t n_q)
{
    lossd__point pts[2 * LOSSD__POLY_MAX];
    memcpy(pts, p, n_p * sizeof *p);
    memcpy(pts + n_p, q, n_q * sizeof *q);
    unsigned char hull[LOSSD__HULL_MAX];
    size_t n = lossd__poly_hull(pts, n_p + n_q, hull);
    return lossd__hull_area(pts, hull, n);
}

/* The square [x, x + s] x [y, y + s] turned by t about its centre, counter-clockwise. */
static void square(lossd__point *out, double x, double y, double s, double t)
{
    double cx = x + s / 2, cy = y + s / 2, c = cos(t), sn = sin(t);
    for (int j = 0; j < 4; j++) {
        double u = unit_square[j].x * s - s / 2, v = unit_square[j].y * s - s / 2;
        out[j] = (lossd__point){cx + c * u - sn * v, cy + sn * u + c * v};
    }
}

/* ------------------------------------------------------------ known areas */

START_TEST(known_intersections)
{
    lossd__point q[4];
    square(q, 0.5, 0.5, 1, 0);
    ck_assert_double_eq(clip_area(unit_square, 4, q, 4), 0.25);
    ck_assert_double_eq(hull_area(unit_square, 4, q, 4), 2.25 - 2 * 0.125);
    /* a square turned by pi/4 about the same centre: the regular octagon 2 (sqrt 2 - 1) */
    square(q, 0, 0, 1, M_PI / 4);
    ck_assert_close(clip_area(unit_square, 4, q, 4), 2 * (sqrt(2) - 1), 1e-15, 0, "octagon");
    lossd__vertex v[LOSSD__CLIP_MAX];
    size_t n = lossd__poly_clip(unit_square, 4, q, 4, v);
    ck_assert_uint_eq(n, 8);
    for (size_t m = 0; m < n; m++) /* every vertex is a crossing of two edges */
        ck_assert_int_eq(v[m].from, LOSSD__FROM_CROSSING);
    /* a triangle (three corners) inside a square, and the square's corners inside a big one */
    lossd__point tri[3] = {{0.2, 0.2}, {0.8, 0.2}, {0.5, 0.9}};
    ck_assert_close(clip_area(tri, 3, unit_square, 4), 0.21, 1e-15, 0, "triangle inside");
    lossd__point big[4];
    square(big, -1, -1, 3, 0);
    n = lossd__poly_clip(unit_square, 4, big, 4, v);
    ck_assert_uint_eq(n, 4);
    for (size_t m = 0; m < n; m++)
        ck_assert_int_eq(v[m].from, LOSSD__FROM_P);
    n = lossd__poly_clip(big, 4, unit_square, 4, v);
    ck_assert_double_eq(lossd__clip_area(v, n), 1.0);
    for (size_t m = 0; m < n; m++) /* the inner square's corners, exactly */
        ck_assert_int_eq(v[m].from, LOSSD__FROM_Q);
}
END_TEST

START_TEST(degenerate_shapes)
{
    lossd__point q[4], p[4];
    /* identical: the intersection is P itself, in P's order: its area bit for bit */
    square(p, 0.3, -0.2, 1.7, 0.4);
    memcpy(q, p, sizeof q);
    ck_assert_double_eq(clip_area(p, 4, q, 4), lossd__poly_area(p, 4));
    /* a shared edge and a shared corner: nothing in common */
    square(q, 1, 0, 1, 0);
    ck_assert_double_eq(clip_area(unit_square, 4, q, 4), 0.0);
    square(q, 1, 1, 1, 0);
    ck_assert_double_eq(clip_area(unit_square, 4, q, 4), 0.0);
    /* nested, touching along an edge */
    lossd__point half[4] = {{0, 0}, {0.5, 0}, {0.5, 1}, {0, 1}};
    ck_assert_double_eq(clip_area(half, 4, unit_square, 4), 0.5);
    ck_assert_double_eq(clip_area(unit_square, 4, half, 4), 0.5);
    /* a segment (zero width) across the square, and a point */
    lossd__point seg[4] = {{-1, 0.5}, {2, 0.5}, {2, 0.5}, {-1, 0.5}};
    ck_assert_double_eq(clip_area(seg, 4, unit_square, 4), 0.0);
    ck_assert_double_eq(clip_area(unit_square, 4, seg, 4), 0.0);
    ck_assert_double_eq(hull_area(seg, 4, unit_square, 4), 2.0); /* the square and two triangles */
    lossd__point dot[4] = {{0.5, 0.5}, {0.5, 0.5}, {0.5, 0.5}, {0.5, 0.5}};
    ck_assert_double_eq(clip_area(dot, 4, unit_square, 4), 0.0);
    /* three collinear corners: a triangle written as a quadrilateral, on either side; the
       middle corner is no vertex of an intersection away from it */
    lossd__point tri4[4] = {{0, 0}, {1, 0}, {2, 0}, {1, 1}};
    ck_assert_close(clip_area(tri4, 4, unit_square, 4), 0.5, 1e-15, 0, "collinear corners");
    lossd__point right[4];
    square(right, 1.25, 0, 0.5, 0); /* [1.25, 1.75] x [0, 0.5], on the base right of (1, 0) */
    double cut = 0.5 * 0.5 - 0.5 * 0.25 * 0.25; /* less the corner the edge (2,0)-(1,1) cuts */
    for (double t = 0; t < 6; t += 0.1) {       /* turned: collinear only to rounding */
        lossd__point tt[4], rt[4];
        for (int j = 0; j < 4; j++) {
            tt[j] = (lossd__point){cos(t) * tri4[j].x - sin(t) * tri4[j].y,
                                   sin(t) * tri4[j].x + cos(t) * tri4[j].y};
            rt[j] = (lossd__point){cos(t) * right[j].x - sin(t) * right[j].y,
                                   sin(t) * right[j].x + cos(t) * right[j].y};
        }
        ck_assert_close(clip_area(rt, 4, tt, 4), cut, 1e-14, 0, "collinear corners, as Q");
        lossd__vertex v[LOSSD__CLIP_MAX];
        size_t n = lossd__poly_clip(rt, 4, tt, 4, v);
        for (size_t m = 0; m < n; m++) /* none at the middle corner, outside P */
            ck_assert_msg(lossd__poly_inside(&v[m].at, 1, rt, 4) ||
                              hypot(v[m].at.x - tt[1].x, v[m].at.y - tt[1].y) > 0.2,
                          "turned by %g: vertex %zu at the middle corner", t, m);
        ck_assert_close(clip_area(tt, 4, rt, 4), cut, 1e-14, 0, "collinear corners, as P");
    }
    /* near-parallel edges 1e-9 apart, and a square turned by 1e-12 */
    for (double t = 1e-9; t >= 1e-13; t *= 1e-3) {
        square(q, 0, 0, 1, t);
        double want = 1 - pow(sin(t) - 2 * sin(t / 2) * sin(t / 2), 2) / sin(2 * t);
        double got = clip_area(unit_square, 4, q, 4);
        ck_assert_msg(fabs(got - want) <= 1e-15 && got <= 1.0, "turned by %g: %.17g, want %.17g", t,
                      got, want);
    }
}
END_TEST

/* ------------------------------------------------------------ oracle */

START_TEST(random_and_adversarial_polygons)
{
    test_rng r;
    rng_seed(&r, 18);
    unsigned char bytes[POLY_ORACLE_BYTES];
    for (int iter = 0; iter < 20000; iter++) {
        for (size_t i = 0; i < sizeof bytes; i++)
            bytes[i] = (unsigned char)(rng_bits(&r) >> 56);
        const char *broken = poly_oracle(bytes, sizeof bytes);
        ck_assert_msg(broken == NULL, "iteration %d: %s", iter, broken);
    }
}
END_TEST

/* ------------------------------------------------------------ gradients */

/* Central differences of area(clip(P, Q)) against lossd__clip_area_grad, for P's and Q's corners.
 */
static void check_clip_grad(lossd__point *p, size_t n_p, lossd__point *q, size_t n_q)
{
    lossd__vertex v[LOSSD__CLIP_MAX];
    size_t n = lossd__poly_clip(p, n_p, q, n_q, v);
    lossd__point gp[LOSSD__POLY_MAX] = {{0, 0}}, gq[LOSSD__POLY_MAX] = {{0, 0}};
    lossd__clip_area_grad(v, n, p, n_p, q, n_q, 1.0, gp, gq);
    for (int side = 0; side < 2; side++)
        for (size_t i = 0; i < (side ? n_q : n_p); i++)
            for (int axis = 0; axis < 2; axis++) {
                lossd__point *pt = side ? &q[i] : &p[i];
                double *x = axis ? &pt->y : &pt->x, keep = *x, h = 1e-6;
                *x = keep + h;
                double up = clip_area(p, n_p, q, n_q);
                *x = keep - h;
                double down = clip_area(p, n_p, q, n_q);
                *x = keep;
                lossd__point g = side ? gq[i] : gp[i];
                ck_assert_close(axis ? g.y : g.x, (up - down) / (2 * h), 1e-6, 1e-8,
                                side ? "d area / d Q" : "d area / d P");
            }
}

START_TEST(area_gradients)
{
    test_rng r;
    rng_seed(&r, 7);
    for (int iter = 0; iter < 200; iter++) {
        lossd__point p[4], q[4];
        square(p, rng_uniform(&r, -0.5, 0.5), rng_uniform(&r, -0.5, 0.5), rng_uniform(&r, 0.5, 2),
               rng_uniform(&r, -3, 3));
        square(q, rng_uniform(&r, -0.5, 0.5), rng_uniform(&r, -0.5, 0.5), rng_uniform(&r, 0.5, 2),
               rng_uniform(&r, -3, 3));
        check_clip_grad(p, 4, q, 4);
        /* the hull's gradient, with respect to all 8 points */
        lossd__point pts[8];
        memcpy(pts, p, sizeof p);
        memcpy(pts + 4, q, sizeof q);
        unsigned char hull[LOSSD__HULL_MAX];
        size_t n = lossd__poly_hull(pts, 8, hull);
        lossd__point g[8] = {{0, 0}};
        lossd__hull_area_grad(pts, hull, n, 1.0, g, 8);
        for (int i = 0; i < 8; i++)
            for (int axis = 0; axis < 2; axis++) {
                double *x = axis ? &pts[i].y : &pts[i].x, keep = *x, h = 1e-6;
                *x = keep + h;
                n = lossd__poly_hull(pts, 8, hull);
                double up = lossd__hull_area(pts, hull, n);
                *x = keep - h;
                n = lossd__poly_hull(pts, 8, hull);
                double down = lossd__hull_area(pts, hull, n);
                *x = keep;
                ck_assert_close(axis ? g[i].y : g[i].x, (up - down) / (2 * h), 1e-6, 1e-8,
                                "d hull / d point");
            }
    }
}
END_TEST

static Suite *polygon_suite(void)
{
    Suite *s = suite_create("polygon");
    add_case(s, "areas", 0, NULL, NULL, TESTS(known_intersections, degenerate_shapes));
    add_case(s, "oracle", 60, NULL, NULL, TESTS(random_and_adversarial_polygons));
    add_case(s, "gradients", 60, NULL, NULL, TESTS(area_gradients));
    return s;
}

int main(void)
{
    return run_suite(polygon_suite());
}
