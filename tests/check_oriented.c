/* SPDX-License-Identifier: MIT */
/*
 * check_oriented.c - the oriented-box losses and matrices (src/core/
 * oriented.c, gaussian.c): the degenerate inputs of docs/functions.md
 * with exact expectations, invariances on random inputs, finite
 * differences of every gradient, and the error messages. Values and
 * gradients against PyTorch and GEOS are the golden vectors
 * (check_golden.c).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#define MAX_PAIRS 64

/* One call's results: per-box loss, gradient, the first three terms. */
typedef struct {
    double loss[MAX_PAIRS], grad[8 * MAX_PAIRS], term[3][MAX_PAIRS];
} result;

/* Sets "name=value ..." parameters on c by their types. */
static void set_params(lossd_call *c, const char *params)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", params ? params : "");
    for (char *save = NULL, *tok = strtok_r(buf, " ", &save); tok;
         tok = strtok_r(NULL, " ", &save)) {
        char *eq = strchr(tok, '=');
        ck_assert_ptr_nonnull(eq);
        *eq = 0;
        const lossd_param_spec *spec = lossd_function_param(c->fn, tok);
        ck_assert_msg(spec != NULL, "%s has no parameter %s", c->fn->name, tok);
        lossd_error err = {0};
        int rc = spec->type == LOSSD_PARAM_CHOICE ? lossd_call_set_choice(c, tok, eq + 1, &err)
                 : spec->type == LOSSD_PARAM_BOOL
                     ? lossd_call_set_bool(c, tok, strcmp(eq + 1, "true") == 0, &err)
                     : lossd_call_set_number(c, tok, strtod(eq + 1, NULL), &err);
        ck_assert_msg(rc == 0, "%s", err.message);
    }
}

static size_t box_len(const char *params)
{
    return params && strstr(params, "xyxyxyxy") ? 8 : 5;
}

/* Loss `name` of n pairs with reduction none, its gradient and terms, into *res. */
static void run(const char *name, const char *params, const double *a, const double *b, size_t n,
                result *res)
{
    size_t len = box_len(params), shape[2] = {n, len};
    lossd_tensor ta = tensor_of(a, 2, shape), tb = tensor_of(b, 2, shape);
    lossd_call c;
    lossd_error err = {0};
    ck_assert_uint_le(n, MAX_PAIRS);
    memset(res, 0, sizeof *res);
    lossd_call_init(&c, must_find(LOSSD_KIND_LOSS, name));
    set_params(&c, params);
    ck_assert_int_eq(lossd_call_set_operand(&c, "input", &ta, &err), 0);
    ck_assert_int_eq(lossd_call_set_operand(&c, "target", &tb, &err), 0);
    ck_assert_int_eq(lossd_call_set_reduction(&c, "none", &err), 0);
    c.want_grad = c.want_terms = true;
    ck_assert_msg(lossd_call_compute(&c, &err) == 0, "%s: %s", name, err.message);
    memcpy(res->loss, c.output.data, n * sizeof(double));
    memcpy(res->grad, c.grad, n * len * sizeof(double));
    for (size_t k = 0; k < 3; k++)
        if (c.terms[k])
            memcpy(res->term[k], c.terms[k], n * sizeof(double));
    lossd_call_cleanup(&c);
}

/* One pair's loss (and its terms into res when not NULL). */
static double one(const char *name, const char *params, const double *a, const double *b,
                  result *res)
{
    result local;
    run(name, params, a, b, 1, res ? res : &local);
    return res ? res->loss[0] : local.loss[0];
}

static void assert_finite_grad(const result *res, size_t n, size_t len, const char *what)
{
    for (size_t i = 0; i < n * len; i++)
        ck_assert_msg(isfinite(res->grad[i]), "%s: gradient [%zu] is %g", what, i, res->grad[i]);
}

/* The corners of cxcywhr box b as xyxyxyxy, from corner `start`, reversed when asked. */
static void corners(const double *b, double *out, int start, bool reverse)
{
    static const double sx[4] = {1, -1, -1, 1}, sy[4] = {1, 1, -1, -1};
    double c = cos(b[4]), s = sin(b[4]);
    for (int k = 0; k < 4; k++) {
        int j = reverse ? (start + 4 - k) % 4 : (start + k) % 4;
        double u = sx[j] * b[2] / 2, v = sy[j] * b[3] / 2;
        out[2 * k] = b[0] + u * c - v * s;
        out[2 * k + 1] = b[1] + u * s + v * c;
    }
}

/* n random boxes, and partners near them: overlapping most of the time. */
static void random_pairs(test_rng *r, double *a, double *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        double *p = a + 5 * i, *q = b + 5 * i;
        p[0] = rng_uniform(r, -2, 2), p[1] = rng_uniform(r, -2, 2);
        p[2] = rng_uniform(r, 0.4, 3), p[3] = rng_uniform(r, 0.4, 3);
        p[4] = rng_uniform(r, -M_PI, M_PI);
        q[0] = p[0] + rng_uniform(r, -1, 1), q[1] = p[1] + rng_uniform(r, -1, 1);
        q[2] = rng_uniform(r, 0.4, 3), q[3] = rng_uniform(r, 0.4, 3);
        q[4] = rng_uniform(r, -M_PI, M_PI);
    }
}

static const char *const iou_losses[] = {"riou", "rgiou"};

/* ------------------------------------------------------------ degenerate inputs */

START_TEST(identical_boxes_score_exactly_one)
{
    test_rng r;
    rng_seed(&r, 1);
    double a[5 * 40], b[5 * 40], qa[8 * 40];
    random_pairs(&r, a, b, 40);
    for (size_t i = 0; i < 40; i++)
        corners(a + 5 * i, qa + 8 * i, (int)(i % 4), i % 2);
    result res;
    for (int f = 0; f < 2; f++) {
        run(iou_losses[f], "eps=0", a, a, 40, &res);
        for (size_t i = 0; i < 40; i++) {
            ck_assert_msg(res.loss[i] == 0.0, "%s of a box and itself: %.17g", iou_losses[f],
                          res.loss[i]);
            ck_assert_double_eq(res.term[0][i], 1.0);
        }
        for (size_t i = 0; i < 5 * 40; i++) /* the minimum: the least-norm subgradient, 0 */
            ck_assert_double_eq(res.grad[i], 0.0);
        run(iou_losses[f], "box_format=xyxyxyxy eps=0", qa, qa, 40, &res);
        for (size_t i = 0; i < 40; i++)
            ck_assert_msg(res.loss[i] == 0.0 && res.term[0][i] == 1.0, "%s of corners: %.17g",
                          iou_losses[f], res.loss[i]);
        assert_finite_grad(&res, 40, 8, iou_losses[f]);
        run(iou_losses[f], NULL, a, a, 40, &res); /* the default eps: just below 1 */
        for (size_t i = 0; i < 40; i++)
            ck_assert(res.term[0][i] < 1.0 && res.term[0][i] > 1 - 1e-6);
    }
}
END_TEST

START_TEST(r_and_r_plus_pi_are_one_box)
{
    test_rng r;
    rng_seed(&r, 2);
    double a[5 * 30], b[5 * 30], turned[5 * 30];
    random_pairs(&r, a, b, 30);
    memcpy(turned, a, sizeof a);
    for (size_t i = 0; i < 30; i++)
        turned[5 * i + 4] += i % 3 == 0 ? M_PI : i % 3 == 1 ? -M_PI : 2 * M_PI;
    for (int f = 0; f < 2; f++) {
        result plain, flipped, self;
        run(iou_losses[f], "eps=0", a, b, 30, &plain);
        run(iou_losses[f], "eps=0", turned, b, 30, &flipped);
        run(iou_losses[f], "eps=0", a, turned, 30, &self);
        for (size_t i = 0; i < 30; i++) {
            ck_assert_close(flipped.loss[i], plain.loss[i], 0, 1e-9, "r + pi against a third box");
            ck_assert_msg(self.loss[i] >= 0 && self.loss[i] <= 1e-9, "r against r + pi: %g",
                          self.loss[i]);
        }
        assert_finite_grad(&self, 30, 5, "r against r + pi");
    }
}
END_TEST

START_TEST(touching_boxes)
{
    /* a turned box, its neighbour across an edge, across a corner, and a half inside it */
    for (double t = -3; t < 3.2; t += 0.7) {
        double w = 2.0, h = 1.0, c = cos(t), s = sin(t);
        double a[5] = {0.3, -0.2, w, h, t};
        double edge[5] = {0.3 + w * c, -0.2 + w * s, w, h, t};
        double corner[5] = {0.3 + w * c - h * s, -0.2 + w * s + h * c, w, h, t};
        double half[5] = {0.3 + w / 4 * c, -0.2 + w / 4 * s, w / 2, h, t};
        result res;
        for (int f = 0; f < 2; f++) {
            const char *name = iou_losses[f];
            one(name, "eps=0", a, edge, &res);
            ck_assert_close(res.term[0][0], 0.0, 0, 1e-9, "IoU across a shared edge");
            ck_assert_close(res.loss[0], 1.0, 0, 1e-9, "loss across a shared edge");
            assert_finite_grad(&res, 1, 5, "shared edge");
            one(name, "eps=0", a, corner, &res);
            ck_assert_close(res.term[0][0], 0.0, 0, 1e-9, "IoU across a shared corner");
            /* the hull of two rectangles corner to corner is 3/2 of their union */
            ck_assert_close(res.loss[0], f ? 1 + 1.0 / 3 : 1.0, 0, 1e-9, "shared corner");
            assert_finite_grad(&res, 1, 5, "shared corner");
            for (int swap = 0; swap < 2; swap++) { /* nested, sharing three edges */
                one(name, "eps=0", swap ? half : a, swap ? a : half, &res);
                ck_assert_close(res.term[0][0], 0.5, 0, 1e-9, "IoU of a half inside");
                ck_assert_close(res.loss[0], 0.5, 0, 1e-9, "loss of a half inside");
                assert_finite_grad(&res, 1, 5, "nested");
            }
        }
    }
}
END_TEST

START_TEST(zero_area_boxes)
{
    double box[5] = {0.0, 0.0, 2.0, 1.5, 0.4};
    double flat[3][5] = {{0.1, 0.2, 0.0, 1.0, -0.3}, {0.1, 0.2, 1.0, 0.0, 1.0}, {0, 0, 0, 0, 0}};
    for (int f = 0; f < 2; f++)
        for (int k = 0; k < 3; k++)
            for (int swap = 0; swap < 2; swap++) {
                result res;
                one(iou_losses[f], "eps=0", swap ? box : flat[k], swap ? flat[k] : box, &res);
                ck_assert_double_eq(res.term[0][0], 0.0);
                if (f == 0) {
                    ck_assert_double_eq(res.loss[0], 1.0);
                    ck_assert_double_eq(res.term[1][0], 0.0);            /* I */
                    ck_assert_close(res.term[2][0], 3.0, 1e-15, 0, "U"); /* the other's area */
                }
                assert_finite_grad(&res, 1, 5, "zero area");
            }
}
END_TEST

/* I of the unit square and itself turned by t about its centre (see check_polygon.c). */
static double turned_square_inter(double t)
{
    double h = sin(t) - 2 * sin(t / 2) * sin(t / 2);
    return 1 - h * h / sin(2 * t);
}

START_TEST(near_parallel_edges)
{
    double sq[5] = {0.5, 0.5, 1, 1, 0};
    for (double t = 1e-6; t >= 1e-13; t *= 1e-1) {
        double turned[5] = {0.5, 0.5, 1, 1, t};
        /* the hull: the octagon of all eight corners, sin t + cos t */
        double inter = turned_square_inter(t), uni = 2 - inter, hull = sin(t) + cos(t);
        result res;
        for (int f = 0; f < 2; f++) {
            double want = 1 - inter / uni + (f ? (hull - uni) / hull : 0);
            one(iou_losses[f], "eps=0", sq, turned, &res);
            ck_assert_msg(fabs(res.loss[0] - want) <= 1e-9 && res.term[0][0] <= 1.0,
                          "%s turned by %g: %.17g, want %.17g", iou_losses[f], t, res.loss[0],
                          want);
            assert_finite_grad(&res, 1, 5, "a square turned a little");
        }
    }
    /* two boxes apart whose edges are 1e-9 from parallel: as if they were parallel, to 1e-8 */
    test_rng r;
    rng_seed(&r, 4);
    double a[5 * 30], b[5 * 30], tilted[5 * 30];
    random_pairs(&r, a, b, 30);
    for (size_t i = 0; i < 30; i++) {
        b[5 * i + 4] = a[5 * i + 4] + (i % 2 ? M_PI / 2 : 0);
        memcpy(tilted + 5 * i, b + 5 * i, 5 * sizeof(double));
        tilted[5 * i + 4] += i % 3 ? 1e-9 : -1e-12;
    }
    for (int f = 0; f < 2; f++) {
        result flat, tilt;
        run(iou_losses[f], "eps=0", a, b, 30, &flat);
        run(iou_losses[f], "eps=0", a, tilted, 30, &tilt);
        for (size_t i = 0; i < 30; i++)
            ck_assert_close(tilt.loss[i], flat.loss[i], 0, 1e-8, "near-parallel");
        assert_finite_grad(&tilt, 30, 5, "near-parallel");
    }
}
END_TEST

START_TEST(far_from_the_origin)
{
    test_rng r;
    rng_seed(&r, 5);
    double a[5 * 30], b[5 * 30], fa[5 * 30], fb[5 * 30], qa[8 * 30], qb[8 * 30];
    random_pairs(&r, a, b, 30);
    memcpy(fa, a, sizeof a);
    memcpy(fb, b, sizeof b);
    for (size_t i = 0; i < 30; i++) {
        double dx = 1e6 + rng_uniform(&r, 0, 1e3), dy = -1e6 - rng_uniform(&r, 0, 1e3);
        fa[5 * i] += dx, fb[5 * i] += dx, fa[5 * i + 1] += dy, fb[5 * i + 1] += dy;
        corners(fa + 5 * i, qa + 8 * i, 0, false);
        corners(fb + 5 * i, qb + 8 * i, 1, true);
    }
    for (int f = 0; f < 2; f++) {
        result near, far, quads;
        run(iou_losses[f], NULL, a, b, 30, &near);
        run(iou_losses[f], NULL, fa, fb, 30, &far);
        run(iou_losses[f], "box_format=xyxyxyxy", qa, qb, 30, &quads);
        for (size_t i = 0; i < 30; i++) {
            ck_assert_close(far.loss[i], near.loss[i], 0, 1e-9, "cxcywhr near 1e6");
            ck_assert_close(quads.loss[i], near.loss[i], 0, 1e-9, "xyxyxyxy near 1e6");
        }
        for (size_t i = 0; i < 5 * 30; i++)
            ck_assert_close(far.grad[i], near.grad[i], 1e-6, 1e-9, "gradient near 1e6");
    }
}
END_TEST

START_TEST(values_stay_in_range)
{
    /* random pairs, half of them made degenerate: identical, flat, touching, turned by pi */
    test_rng r;
    rng_seed(&r, 6);
    for (int round = 0; round < 20; round++) {
        double a[5 * 64], b[5 * 64];
        random_pairs(&r, a, b, 64);
        for (size_t i = 0; i < 64; i += 2) {
            double *p = a + 5 * i, *q = b + 5 * i;
            switch ((i / 2) % 4) {
            case 0:
                memcpy(q, p, 5 * sizeof *q);
                break;
            case 1:
                q[2] = 0;
                break;
            case 2:
                memcpy(q, p, 5 * sizeof *q);
                q[0] += p[2] * cos(p[4]), q[1] += p[2] * sin(p[4]);
                break;
            default:
                memcpy(q, p, 5 * sizeof *q);
                q[4] += M_PI;
            }
        }
        result iou, giou;
        run("riou", "eps=0", a, b, 64, &iou);
        run("rgiou", "eps=0", a, b, 64, &giou);
        for (size_t i = 0; i < 64; i++) {
            ck_assert_msg(iou.term[0][i] >= 0 && iou.term[0][i] <= 1, "IoU %.17g", iou.term[0][i]);
            ck_assert(iou.loss[i] >= 0 && iou.loss[i] <= 1);
            ck_assert(giou.loss[i] >= 0 && giou.loss[i] <= 2);
            ck_assert_msg(giou.term[1][i] >= iou.term[2][i], "hull %.17g below the union %.17g",
                          giou.term[1][i], iou.term[2][i]);
            ck_assert(iou.term[1][i] <= iou.term[2][i]);
        }
        assert_finite_grad(&iou, 64, 5, "riou");
        assert_finite_grad(&giou, 64, 5, "rgiou");
    }
}
END_TEST

/* ------------------------------------------------------------ invariances */

START_TEST(invariances)
{
    enum { N = 40 };
    test_rng r;
    rng_seed(&r, 8);
    double a[5 * N], b[5 * N], ta[5 * N], tb[5 * N];
    random_pairs(&r, a, b, N);
    for (int f = 0; f < 2; f++) {
        const char *name = iou_losses[f];
        result base, other;
        run(name, NULL, a, b, N, &base);
        /* translating both */
        for (size_t i = 0; i < 5 * N; i++)
            ta[i] = a[i] + (i % 5 == 0   ? 3.75
                            : i % 5 == 1 ? -12.5
                                         : 0),
            tb[i] = b[i] + (i % 5 == 0   ? 3.75
                            : i % 5 == 1 ? -12.5
                                         : 0);
        run(name, NULL, ta, tb, N, &other);
        for (size_t i = 0; i < N; i++)
            ck_assert_close(other.loss[i], base.loss[i], 1e-12, 1e-12, "translated");
        /* turning both about the origin */
        double phi = 0.8, c = cos(phi), s = sin(phi);
        for (size_t i = 0; i < N; i++)
            for (int k = 0; k < 2; k++) {
                const double *src = (k ? b : a) + 5 * i;
                double *dst = (k ? tb : ta) + 5 * i;
                dst[0] = c * src[0] - s * src[1], dst[1] = s * src[0] + c * src[1];
                dst[2] = src[2], dst[3] = src[3], dst[4] = src[4] + phi;
            }
        run(name, NULL, ta, tb, N, &other);
        for (size_t i = 0; i < N; i++)
            ck_assert_close(other.loss[i], base.loss[i], 1e-12, 1e-12, "turned together");
        /* swapping the boxes */
        run(name, NULL, b, a, N, &other);
        for (size_t i = 0; i < N; i++)
            ck_assert_close(other.loss[i], base.loss[i], 1e-12, 1e-12, "swapped");
        /* the corners from another start, either way round: the value, and the gradient follows */
        double qa[8 * N], qb[8 * N], qa2[8 * N], qb2[8 * N];
        for (size_t i = 0; i < N; i++) {
            corners(a + 5 * i, qa + 8 * i, 0, false), corners(b + 5 * i, qb + 8 * i, 0, false);
            corners(a + 5 * i, qa2 + 8 * i, (int)(i % 4), i % 2);
            corners(b + 5 * i, qb2 + 8 * i, (int)((i + 1) % 4), i % 3 == 0);
        }
        result quads, relisted;
        run(name, "box_format=xyxyxyxy", qa, qb, N, &quads);
        run(name, "box_format=xyxyxyxy", qa2, qb2, N, &relisted);
        for (size_t i = 0; i < N; i++) {
            ck_assert_close(quads.loss[i], base.loss[i], 1e-12, 1e-12, "as corners");
            ck_assert_close(relisted.loss[i], base.loss[i], 1e-12, 1e-12, "relisted corners");
            for (int k = 0; k < 4; k++) { /* relisted corner k is corner j of the first listing */
                int start = (int)(i % 4), j = i % 2 ? (start + 4 - k) % 4 : (start + k) % 4;
                for (int axis = 0; axis < 2; axis++)
                    ck_assert_close(relisted.grad[8 * i + 2 * k + axis],
                                    quads.grad[8 * i + 2 * j + axis], 1e-9, 1e-12,
                                    "gradient of a relisted corner");
            }
        }
        /* degrees: the same values, the angle's gradient per degree */
        double da[5 * N], db[5 * N];
        memcpy(da, a, sizeof a), memcpy(db, b, sizeof b);
        for (size_t i = 0; i < N; i++)
            da[5 * i + 4] *= 180 / M_PI, db[5 * i + 4] *= 180 / M_PI;
        run(name, "angle_unit=deg", da, db, N, &other);
        for (size_t i = 0; i < N; i++) {
            ck_assert_close(other.loss[i], base.loss[i], 1e-12, 1e-12, "in degrees");
            ck_assert_close(other.grad[5 * i + 4], base.grad[5 * i + 4] * M_PI / 180, 1e-9, 1e-12,
                            "per degree");
        }
    }
}
END_TEST

/* ------------------------------------------------------------ gradients */

typedef struct {
    const double *target;
    size_t n, len;
    const char *params, *reduction;
} fd_ctx;

static void configure(lossd_call *c, void *ctx_)
{
    fd_ctx *ctx = ctx_;
    size_t shape[2] = {ctx->n, ctx->len};
    lossd_tensor t = tensor_of(ctx->target, 2, shape);
    lossd_error err = {0};
    ck_assert_int_eq(lossd_call_set_operand(c, "target", &t, &err), 0);
    ck_assert_int_eq(lossd_call_set_reduction(c, ctx->reduction, &err), 0);
    set_params(c, ctx->params);
}

START_TEST(finite_differences)
{
    enum { N = 12 };
    static const struct {
        const char *name, *params;
    } settings[] = {
        {"riou", NULL},
        {"riou", "eps=0.1 angle_unit=deg"},
        {"riou", "box_format=xyxyxyxy"},
        {"rgiou", NULL},
        {"rgiou", "eps=0 angle_unit=deg"},
        {"rgiou", "box_format=xyxyxyxy eps=0.01"},
        {"probiou", NULL},
        {"probiou", "eps=1e-3 angle_unit=deg"},
        {"gwd", NULL},
        {"gwd", "fun=sqrt tau=1 alpha=0.5 normalize=false"},
        {"gwd", "fun=none tau=2.5 alpha=2 angle_unit=deg"},
        {"kld", NULL},
        {"kld", "fun=sqrt tau=1 alpha=0.5 sqrt=false"},
        {"kld", "fun=none tau=0 sqrt=true angle_unit=deg"},
        {"kfiou", NULL},
        {"kfiou", "fun=ln eps=1e-3"},
        {"kfiou", "fun=exp angle_unit=deg"},
    };
    test_rng r;
    rng_seed(&r, 9);
    double a[5 * N], b[5 * N], qa[8 * N], qb[8 * N];
    random_pairs(&r, a, b, N);
    for (size_t i = 0; i < N; i++) {
        corners(a + 5 * i, qa + 8 * i, (int)(i % 4), i % 2);
        corners(b + 5 * i, qb + 8 * i, 0, false);
        /* bend the quadrilaterals off rectangles, keeping them convex */
        qa[8 * i] += 0.1, qb[8 * i + 3] -= 0.1;
    }
    for (size_t k = 0; k < sizeof settings / sizeof settings[0]; k++) {
        bool deg = settings[k].params && strstr(settings[k].params, "deg");
        size_t len = box_len(settings[k].params);
        double in[8 * N], tg[8 * N];
        memcpy(in, len == 8 ? qa : a, len * N * sizeof(double));
        memcpy(tg, len == 8 ? qb : b, len * N * sizeof(double));
        for (size_t i = 0; deg && i < N; i++)
            in[5 * i + 4] *= 180 / M_PI, tg[5 * i + 4] *= 180 / M_PI;
        fd_ctx ctx = {tg, N, len, settings[k].params, k % 2 ? "sum" : "mean"};
        size_t shape[2] = {N, len};
        lossd_tensor input = tensor_of(in, 2, shape);
        fd_check(must_find(LOSSD_KIND_LOSS, settings[k].name), &input, in, configure, &ctx, 1e-5,
                 1e-8);
    }
}
END_TEST

START_TEST(probiou_ciou_alpha_is_constant)
{
    /* Ultralytics computes alpha under no_grad: the reported gradient is that of
       ProbIoU minus alpha times that of v = 4/pi^2 (atan(w2/h2) - atan(w1/h1))^2 */
    enum { N = 10 };
    test_rng r;
    rng_seed(&r, 10);
    double a[5 * N], b[5 * N];
    random_pairs(&r, a, b, N);
    result plain, adjusted;
    run("probiou", NULL, a, b, N, &plain);
    run("probiou", "ciou=true", a, b, N, &adjusted);
    for (size_t i = 0; i < N; i++) {
        const double *p = a + 5 * i, *t = b + 5 * i;
        double d = atan(t[2] / t[3]) - atan(p[2] / p[3]), v = 4 / (M_PI * M_PI) * d * d;
        double iou = adjusted.term[0][i], alpha = v / (v - iou + (1 + 1e-7));
        ck_assert_close(adjusted.loss[i], plain.loss[i] + alpha * v, 1e-12, 1e-15, "ciou value");
        /* d v / d w1 and d h1, through atan(w1 / h1) */
        double ratio = p[2] / p[3], dv = 4 / (M_PI * M_PI) * 2 * d * -1 / (1 + ratio * ratio);
        ck_assert_close(adjusted.grad[5 * i + 2], plain.grad[5 * i + 2] + alpha * dv / p[3], 1e-9,
                        1e-12, "ciou d/dw");
        ck_assert_close(adjusted.grad[5 * i + 3],
                        plain.grad[5 * i + 3] + alpha * dv * -p[2] / (p[3] * p[3]), 1e-9, 1e-12,
                        "ciou d/dh");
    }
}
END_TEST

/* ------------------------------------------------------------ the Gaussian losses */

START_TEST(gaussians_cannot_see_a_square_turn)
{
    /* A square's Gaussian is a circle: turning it changes nothing the Gaussian losses see,
       while the exact IoU sees 1 - 1/sqrt(2) at pi/4. */
    double sq[5] = {0, 0, 1, 1, 0}, turned[5] = {0, 0, 1, 1, M_PI / 4};
    ck_assert_close(one("riou", "eps=0", sq, turned, NULL), 1 - 1 / sqrt(2), 1e-15, 0,
                    "riou of the turned square");
    static const char *const gaussian[] = {"probiou", "gwd", "kld", "kfiou"};
    for (int g = 0; g < 4; g++) {
        double same = one(gaussian[g], NULL, sq, sq, NULL);
        double turn = one(gaussian[g], NULL, sq, turned, NULL);
        ck_assert_close(turn, same, 1e-9, 1e-12, gaussian[g]);
        /* KFIoU's k is V / (2 V - V/2) = 1/3 for identical boxes: its loss is 2/3 there */
        double floor = g == 3 ? 2.0 / 3 : 0;
        ck_assert_msg(same >= floor && same < floor + 1e-3, "%s of a box and itself: %g",
                      gaussian[g], same);
    }
}
END_TEST

START_TEST(gaussian_degenerate_boxes)
{
    /* w = 0 and h = 0: ProbIoU's sqrt of an exact 0 passes 0, mmrotate clamps at 1e-7 */
    double box[5] = {0.2, 0.1, 2.0, 1.0, 0.3};
    double flats[3][5] = {{0, 0, 0.0, 1.0, 0.5}, {0, 0, 1.5, 0.0, -1}, {0.2, 0.1, 2.0, 1.0, 0.3}};
    static const char *const gaussian[] = {"probiou", "gwd", "kld", "kfiou"};
    for (int g = 0; g < 4; g++)
        for (int k = 0; k < 3; k++) {
            result res;
            one(gaussian[g], NULL, flats[k], box, &res);
            assert_finite_grad(&res, 1, 5, gaussian[g]);
            if (g != 2) /* kld divides by det Sigma_p: a flat prediction is a huge loss */
                ck_assert_msg(isfinite(res.loss[0]), "%s: %g", gaussian[g], res.loss[0]);
        }
}
END_TEST

START_TEST(matrices_match_the_losses)
{
    enum { N = 5, M = 7 };
    test_rng r;
    rng_seed(&r, 11);
    double a[5 * M], b[5 * M];
    random_pairs(&r, a, b, M);
    size_t s1[2] = {N, 5}, s2[2] = {M, 5};
    static const char *const names[2] = {"riou", "probiou"};
    for (int k = 0; k < 2; k++) {
        lossd_call c;
        lossd_error err = {0};
        lossd_tensor t1 = tensor_of(a, 2, s1), t2 = tensor_of(b, 2, s2);
        lossd_call_init(&c, must_find(LOSSD_KIND_PAIRWISE, names[k]));
        ck_assert_int_eq(lossd_call_set_operand(&c, "boxes1", &t1, &err), 0);
        ck_assert_int_eq(lossd_call_set_operand(&c, "boxes2", &t2, &err), 0);
        ck_assert_msg(lossd_call_compute(&c, &err) == 0, "%s", err.message);
        ck_assert_uint_eq(c.output.shape[0], N);
        ck_assert_uint_eq(c.output.shape[1], M);
        for (size_t i = 0; i < N; i++)
            for (size_t j = 0; j < M; j++) {
                result res;
                one(names[k], k ? NULL : "eps=0", a + 5 * i, b + 5 * j, &res);
                double want = k ? res.term[0][0] : 1 - res.loss[0];
                ck_assert_close(c.output.data[i * M + j], want, 1e-12, 1e-15, names[k]);
            }
        lossd_call_cleanup(&c);
    }
}
END_TEST

/* ------------------------------------------------------------ errors */

static void expect_message(const char *name, const char *params, const double *a, const double *b,
                           size_t n, size_t len, const char *field, const char *message)
{
    size_t shape[2] = {n, len};
    lossd_tensor ta = tensor_of(a, 2, shape), tb = tensor_of(b, 2, shape);
    lossd_call c;
    lossd_error err = {0};
    lossd_call_init(&c, must_find(LOSSD_KIND_LOSS, name));
    set_params(&c, params);
    lossd_call_set_operand(&c, "input", &ta, &err);
    lossd_call_set_operand(&c, "target", &tb, &err);
    expect_error(&c, LOSSD_EINVAL, field);
    ck_assert_str_eq(last_error()->message, message);
    lossd_call_cleanup(&c);
}

START_TEST(error_messages)
{
    double good[10] = {0, 0, 1, 1, 0, 1, 1, 2, 2, 0.5};
    double bad_w[10] = {0, 0, 1, 1, 0, 1, 1, -2, 2, 0.5};
    expect_message("riou", NULL, bad_w, good, 2, 5, "input[1]",
                   "input[1]: invalid cxcywhr box: negative width (-2)");
    double nan_r[10] = {0, 0, 1, 1, NAN, 1, 1, 2, 2, 0.5};
    expect_message("kld", NULL, good, nan_r, 2, 5, "target[0]",
                   "target[0]: invalid cxcywhr box: a coordinate is not finite");
    double quads[16] = {0, 0, 2, 0, 2, 1, 0, 1, 0, 0, 1, 1, 1, 0, 0, 1};
    expect_message("rgiou", "box_format=xyxyxyxy", quads, quads, 2, 8, "input[1]",
                   "input[1]: invalid xyxyxyxy box: not a convex quadrilateral (its corners turn "
                   "both ways)");
    double four[8] = {0, 0, 1, 1, 0, 0, 1, 1};
    expect_message(
        "riou", NULL, four, four, 2, 4, "input",
        "input: expected oriented boxes of 5 numbers (box_format cxcywhr), got 4 per box");
    expect_message(
        "probiou", NULL, four, four, 1, 8, "input",
        "input: expected oriented boxes of 5 numbers (box_format cxcywhr), got 8 per box");
}
END_TEST

static Suite *oriented_suite(void)
{
    Suite *s = suite_create("oriented");
    add_case(s, "degenerate", 60, NULL, NULL,
             TESTS(identical_boxes_score_exactly_one, r_and_r_plus_pi_are_one_box, touching_boxes,
                   zero_area_boxes, near_parallel_edges, far_from_the_origin,
                   values_stay_in_range));
    add_case(s, "invariances", 0, NULL, NULL, TESTS(invariances));
    add_case(s, "gradients", 120, NULL, NULL,
             TESTS(finite_differences, probiou_ciou_alpha_is_constant));
    add_case(s, "gaussian", 0, NULL, NULL,
             TESTS(gaussians_cannot_see_a_square_turn, gaussian_degenerate_boxes,
                   matrices_match_the_losses));
    add_case(s, "errors", 0, NULL, NULL, TESTS(error_messages));
    return s;
}

int main(void)
{
    return run_suite(oriented_suite());
}
