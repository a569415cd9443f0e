/* SPDX-License-Identifier: MIT */
/*
 * polygon.h - exact intersection and convex hull of small convex polygons
 * in float64, with the provenance of every vertex, and the gradients of
 * their areas with respect to the polygons' corners (polygon.c).
 *
 * The oriented-box losses (oriented.c) are built on these: riou's
 * intersection is the area of lossd__poly_clip()'s polygon, rgiou's
 * enclosing shape the area of lossd__poly_hull()'s. Every vertex of an
 * intersection is a corner of P, a corner of Q, or the crossing of an edge
 * of P with an edge of Q - and says which, so that the area's gradient
 * flows to the corners that made it (lossd__clip_area_grad()).
 *
 * Conventions: polygons are convex, given counter-clockwise (positive
 * shoelace area; the caller reverses a clockwise one), with at most
 * LOSSD__POLY_MAX corners, and degenerate ones are welcome (repeated
 * corners, three or all four corners on a line, zero area). Coordinates
 * should be local: subtract a point near the polygons first, so that
 * cross products of coordinates near 1e6 do not cancel away the area of a
 * box of size 1.
 *
 * Thread-safe: pure functions of their arguments; no allocation.
 */
#ifndef LOSSD_CORE_POLYGON_H
#define LOSSD_CORE_POLYGON_H

#include <stddef.h>

/*
 * polygon.c is compiled twice, as the kernels are (simd.h): the AVX2 twin
 * of oriented.c calls the AVX2 twin of these, so that its scalar clipping
 * never switches between VEX and legacy SSE code (the switch cost the
 * gradient 3x in wall time on this machine, not in instructions). Outside
 * the twins (tests, the fuzz target) the names are the baseline's.
 */
#ifdef LOSSD_SIMD_AVX2
#define lossd__poly_area      lossd__poly_area_avx2
#define lossd__poly_area_grad lossd__poly_area_grad_avx2
#define lossd__poly_inside    lossd__poly_inside_avx2
#define lossd__poly_clip      lossd__poly_clip_avx2
#define lossd__clip_area      lossd__clip_area_avx2
#define lossd__clip_area_grad lossd__clip_area_grad_avx2
#define lossd__poly_hull      lossd__poly_hull_avx2
#define lossd__hull_area_grad lossd__hull_area_grad_avx2
#define lossd__hull_area      lossd__hull_area_avx2
#endif

/* The most corners an input polygon may have. */
#define LOSSD__POLY_MAX 8

/*
 * Room for an intersection's vertices. Each clipping pass turns m vertices
 * into at most floor(1.5 m) (a vertex is kept, or dropped and then gives at
 * most the two crossings of its edges): 8 corners after 8 passes stay
 * below 205, quadrilaterals below 20. In exact arithmetic two convex
 * polygons never have more than n_p + n_q.
 */
#define LOSSD__CLIP_MAX 208

/* The most vertices a hull of n points has, plus the repeated first one. */
#define LOSSD__HULL_MAX (2 * LOSSD__POLY_MAX + 1)

typedef struct {
    double x, y;
} lossd__point;

/* Where a vertex of an intersection comes from (lossd__vertex.from). */
enum {
    LOSSD__FROM_P,        /* corner p of P */
    LOSSD__FROM_Q,        /* corner q of Q */
    LOSSD__FROM_CROSSING, /* edge p of P (corner p to p + 1) crosses edge q of Q */
    LOSSD__FROM_NOWHERE,  /* two non-adjacent edges of Q (only in degenerate input): no gradient */
};

typedef struct {
    lossd__point at;
    unsigned char from; /* LOSSD__FROM_* */
    unsigned char p, q; /* P's corner or edge, Q's corner or edge, as `from` says */
    unsigned char line; /* private to lossd__poly_clip: the line to the next vertex */
} lossd__vertex;

/*
 * The signed shoelace area of n points (positive counter-clockwise), as a
 * fan of cross products from the first point (GEOS sums relative to its
 * first point too): no cancellation between coordinates far from 0.
 */
double lossd__poly_area(const lossd__point *v, size_t n);

/* Adds scale * d(lossd__poly_area) / d(v[m]) to grad[m]. */
void lossd__poly_area_grad(const lossd__point *v, size_t n, double scale, lossd__point *grad);

/*
 * True when every corner of `inner` lies inside or on every edge of
 * `outer` (both counter-clockwise): the intersection is then `inner`
 * itself, exactly, and the hull `outer`.
 */
int lossd__poly_inside(const lossd__point *inner, size_t n_inner, const lossd__point *outer,
                       size_t n_outer);

/*
 * The intersection of P (n_p corners) and Q (n_q corners), both convex
 * and counter-clockwise, n_p, n_q <= LOSSD__POLY_MAX: Sutherland-Hodgman
 * clipping of P by each edge of Q in turn, which classifies every vertex
 * once per edge and adds a crossing only where two consecutive vertices
 * lie strictly on either side - so no crossing is lost or counted twice,
 * however near the edges are to each other, and a crossing is always
 * between the two vertices it was cut from. Writes the vertices,
 * counter-clockwise, to out (LOSSD__CLIP_MAX of them) and returns how many
 * there are; fewer than 3 means an empty or degenerate intersection. The
 * polygon may hold repeated vertices and vertices on a line (each adds
 * nothing to the area).
 */
size_t lossd__poly_clip(const lossd__point *p, size_t n_p, const lossd__point *q, size_t n_q,
                        lossd__vertex *out);

/* The area of an intersection (its vertices' shoelace, as lossd__poly_area). */
double lossd__clip_area(const lossd__vertex *v, size_t n);

/*
 * Adds scale * d(area of the polygon v[0..n)) / d(corner) to grad_p[i]
 * for the corners of P and, when grad_q is not NULL, to grad_q[j] for
 * those of Q, following each vertex's provenance: a corner's share goes to
 * that corner, a crossing's to the four corners of the two edges that
 * make it (through the derivative of the crossing point of two lines).
 */
void lossd__clip_area_grad(const lossd__vertex *v, size_t n, const lossd__point *p, size_t n_p,
                           const lossd__point *q, size_t n_q, double scale, lossd__point *grad_p,
                           lossd__point *grad_q);

/*
 * The convex hull of n points (n <= 2 * LOSSD__POLY_MAX), Andrew's
 * monotone chain: writes the indices of its vertices, counter-clockwise,
 * to hull (LOSSD__HULL_MAX of them) and returns how many there are (points
 * on a hull edge and repeated points are left out).
 */
size_t lossd__poly_hull(const lossd__point *pts, size_t n, unsigned char *hull);

/*
 * Adds scale * d(area of the hull) / d(point) to grad[idx] for each hull
 * vertex idx = hull[m] with idx < n_grad (the points the caller wants the
 * gradient of).
 */
void lossd__hull_area_grad(const lossd__point *pts, const unsigned char *hull, size_t n_hull,
                           double scale, lossd__point *grad, size_t n_grad);

/* The area of a hull of lossd__poly_hull(). */
double lossd__hull_area(const lossd__point *pts, const unsigned char *hull, size_t n_hull);

#endif /* LOSSD_CORE_POLYGON_H */
