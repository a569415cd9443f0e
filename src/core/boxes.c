/* SPDX-License-Identifier: MIT */
/*
 * boxes.c - bounding-box losses (IoU, GIoU, DIoU, CIoU, EIoU, SIoU, NWD)
 * with gradients, and the pairwise similarity matrices, as torchvision
 * computes them (the newer ones as docs/functions.md defines them).
 *
 * One box-pair routine computes every quantity the torchvision-style
 * losses share (intersection, union, enclosing box, centre distance,
 * aspect term, EIoU's side gaps) and their gradients; SIoU and NWD, which
 * share little with them, have a pair routine each. The kernels are those
 * routines specialised by a constant.
 * Box formats are converted once on the way in and gradients pulled back
 * once on the way out.
 *
 * torchvision details matched (torchvision/ops/_utils.py, giou_loss.py,
 * diou_loss.py, ciou_loss.py, boxes.py):
 *   - the losses' intersection is (xk2-xk1)(yk2-yk1) only where both are
 *     strictly positive, else 0 (a masked assignment: no gradient there);
 *   - iou = I / (U + eps), GIoU's penalty (C - U) / (C + eps), DIoU's
 *     rho^2 / (c^2 + eps) with eps added to c^2 itself;
 *   - CIoU calls the DIoU helper without eps, so its IoU and distance
 *     term always use 1e-7; only alpha = v / (1 - iou + v + eps) sees the
 *     caller's eps, and alpha is computed under no_grad;
 *   - elementwise max/min split the gradient in half on ties (autograd's
 *     maximum/minimum backward);
 *   - the pairwise matrices use box_iou's inter / union with no eps and
 *     clamp(min=0) overlaps; generalized_box_iou takes no eps at all.
 *
 * Thread-safe: kernels write only their own units' slots.
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"

enum { FORMAT_XYXY, FORMAT_XYWH, FORMAT_CXCYWH };
enum { BOX_IOU, BOX_GIOU, BOX_DIOU, BOX_CIOU, BOX_SIOU, BOX_EIOU, BOX_NWD };

/* The eps torchvision's CIoU always uses inside its DIoU term. */
#define CIOU_INNER_EPS 1e-7

/* NWD's default normalising constant C: its repository's, about the average object size of
   its tiny-object dataset (docs/functions.md). */
#define NWD_CONSTANT 12.8

static const char *const box_formats[] = {"xyxy", "xywh", "cxcywh", NULL};

/* LOSSD_LANES boxes in xyxy, one coordinate per vector: lane k is box k. */
typedef struct {
    lossd_vd x1, y1, x2, y2;
} box_lanes;

/*
 * Per-call constants (LOSSD__CONSTS) of box losses and matrices, resolved
 * from the parameters by box_prepare.
 */
typedef struct {
    int format;        /* FORMAT_* */
    double eps;        /* 0 for the matrices that take none (box_iou, generalized_box_iou) */
    double alpha;      /* Alpha-IoU's power (iou, giou, diou, ciou); 1 for the rows without it */
    double gamma_sign; /* siou: gamma = gamma_sign (Lambda - 2); 1 with neg_gamma, else -1 */
    double constant;   /* nwd: the normalising constant C of exp(-sqrt(W^2) / C) */
} box_consts;

static int box_prepare(lossd_call *c, lossd_error *err)
{
    box_consts *k = LOSSD__CONSTS_SET(c, box_consts);
    k->format = lossd__param_choice(c, "box_format");
    k->eps = lossd__param_number_or(c, "eps", 0.0);
    k->alpha = lossd__param_number_or(c, "alpha", 1.0);
    /* 2 - Lambda is -(Lambda - 2) exactly: one expression for both signs */
    k->gamma_sign = lossd__param_number_or(c, "neg_gamma", 1.0) != 0 ? 1.0 : -1.0;
    k->constant = lossd__param_number_or(c, "constant", NWD_CONSTANT);
    (void)err;
    return 0;
}

/* Converts four coordinate vectors from `format` to xyxy, as torchvision does. */
LOSSD_INLINE box_lanes box_from_columns(const lossd_vd col[4], int format)
{
    switch (format) {
    case FORMAT_XYWH:
        return (box_lanes){col[0], col[1], col[0] + col[2], col[1] + col[3]};
    case FORMAT_CXCYWH:
        return (box_lanes){col[0] - 0.5 * col[2], col[1] - 0.5 * col[3], col[0] + 0.5 * col[2],
                           col[1] + 0.5 * col[3]};
    default:
        return (box_lanes){col[0], col[1], col[2], col[3]};
    }
}

/* Boxes i..i+n-1 (n <= LOSSD_LANES) of a (N,4) array in `format`; missing ones are zeros. */
LOSSD_INLINE box_lanes box_read(const double *p, size_t n, int format)
{
    lossd_vd col[4];
    lossd_v_load_columns4(p, n, col);
    return box_from_columns(col, format);
}

/* One box of a (N,4) array in every lane. */
LOSSD_INLINE box_lanes box_read_one(const double *p, int format)
{
    lossd_vd col[4] = {lossd_v_set1(p[0]), lossd_v_set1(p[1]), lossd_v_set1(p[2]),
                       lossd_v_set1(p[3])};
    return box_from_columns(col, format);
}

/* Pulls xyxy gradients of boxes i..i+n-1 back to `format`, writes and tallies them. */
LOSSD_INLINE void box_grad_write(double *out, size_t n, const lossd_vd g[4], int format,
                                 lossd_vm *bad)
{
    lossd_vd col[4] = {g[0], g[1], g[2], g[3]};
    switch (format) {
    case FORMAT_XYWH:
        col[0] = g[0] + g[2];
        col[1] = g[1] + g[3];
        break;
    case FORMAT_CXCYWH:
        col[0] = g[0] + g[2];
        col[1] = g[1] + g[3];
        col[2] = 0.5 * (g[2] - g[0]);
        col[3] = 0.5 * (g[3] - g[1]);
        break;
    default:
        break;
    }
    lossd_v_store_columns4(out, n, col);
    for (int j = 0; j < 4; j++)
        lossd__tally_nonfinite(bad, col[j], n);
}

#ifndef LOSSD_SIMD_AVX2 /* validation and sampling run outside the kernels: one copy */
/* What is wrong with a box. */
typedef enum {
    BOX_OK,
    BOX_X2_BELOW_X1,
    BOX_Y2_BELOW_Y1,
    BOX_NEGATIVE_W,
    BOX_NEGATIVE_H,
    BOX_NOT_FINITE
} box_problem;

static box_problem box_problem_of(const double *p, int format)
{
    if (format == FORMAT_XYXY) {
        if (!(p[2] >= p[0]))
            return isnan(p[0]) || isnan(p[2]) ? BOX_NOT_FINITE : BOX_X2_BELOW_X1;
        if (!(p[3] >= p[1]))
            return isnan(p[1]) || isnan(p[3]) ? BOX_NOT_FINITE : BOX_Y2_BELOW_Y1;
    } else {
        if (!(p[2] >= 0))
            return isnan(p[2]) ? BOX_NOT_FINITE : BOX_NEGATIVE_W;
        if (!(p[3] >= 0))
            return isnan(p[3]) ? BOX_NOT_FINITE : BOX_NEGATIVE_H;
    }
    for (int j = 0; j < 4; j++)
        if (!isfinite(p[j]))
            return BOX_NOT_FINITE;
    return BOX_OK;
}

int lossd__boxes_check(lossd_call *c, size_t k, lossd_error *err)
{
    const lossd_tensor *t = &c->operand[k];
    int format = lossd__param_choice(c, "box_format");
    const char *name = c->fn->operands[k].name;
    for (size_t i = 0; i + 4 <= t->size; i += 4) {
        const double *p = t->data + i;
        box_problem problem = box_problem_of(p, format);
        if (problem == BOX_OK)
            continue;
        char path[LOSSD_FIELD_MAX];
        lossd__path(path, sizeof path, name, t, i, t->rank - 1);
        switch (problem) {
        case BOX_X2_BELOW_X1:
            return lossd__fail(err, LOSSD_EINVAL, path, "invalid box: x2 < x1 (%s < %s)",
                               LOSSD__SHORTEST(p[2]), LOSSD__SHORTEST(p[0]));
        case BOX_Y2_BELOW_Y1:
            return lossd__fail(err, LOSSD_EINVAL, path, "invalid box: y2 < y1 (%s < %s)",
                               LOSSD__SHORTEST(p[3]), LOSSD__SHORTEST(p[1]));
        case BOX_NEGATIVE_W:
        case BOX_NEGATIVE_H:
            return lossd__fail(err, LOSSD_EINVAL, path, "invalid %s box: negative %s (%s)",
                               box_formats[format], problem == BOX_NEGATIVE_W ? "width" : "height",
                               LOSSD__SHORTEST(problem == BOX_NEGATIVE_W ? p[2] : p[3]));
        default:
            return lossd__fail(err, LOSSD_EINVAL, path, "invalid box: a coordinate is not finite");
        }
    }
    return 0;
}

/* An xyxy box written in the call's format. */
static void box_in_format(double *out, const double *xyxy, int format)
{
    double w = xyxy[2] - xyxy[0], h = xyxy[3] - xyxy[1];
    switch (format) {
    case FORMAT_XYWH:
        out[0] = xyxy[0], out[1] = xyxy[1], out[2] = w, out[3] = h;
        break;
    case FORMAT_CXCYWH:
        out[0] = xyxy[0] + 0.5 * w, out[1] = xyxy[1] + 0.5 * h, out[2] = w, out[3] = h;
        break;
    default:
        memcpy(out, xyxy, 4 * sizeof *out);
    }
}

/*
 * Targets 5..50 wide in a 500 x 500 field; a second operand shaped like
 * the first (predictions) jittered from it by up to 20% so that most pairs
 * overlap, as a detector's do; box lists 5..60 wide in a 200 x 200 field,
 * a realistic mix of overlaps and misses.
 */
void lossd__boxes_sample(const lossd_call *c, size_t k, const lossd_tensor *shape, double *out,
                         uint64_t *rng)
{
    int format = lossd__param_choice(c, "box_format");
    bool near_first = k == 1 && (c->fn->operands[1].flags & LOSSD_OPERAND_LIKE_INPUT) &&
                      c->operand_set[0] && c->operand[0].size == shape->size;
    bool list = c->fn->operands[k].rule == LOSSD_RULE_BOX_LIST;
    double field = list ? 200 : 500, lo = 5, hi = list ? 60 : 50;
    for (size_t i = 0; i + 4 <= shape->size; i += 4) {
        double b[4];
        if (near_first) {
            const double *p = c->operand[0].data + i;
            double t[4];
            /* the first operand's box back in xyxy */
            if (format == FORMAT_XYXY)
                memcpy(t, p, sizeof t);
            else if (format == FORMAT_XYWH)
                t[0] = p[0], t[1] = p[1], t[2] = p[0] + p[2], t[3] = p[1] + p[3];
            else
                t[0] = p[0] - 0.5 * p[2], t[1] = p[1] - 0.5 * p[3], t[2] = p[0] + 0.5 * p[2],
                t[3] = p[1] + 0.5 * p[3];
            double w = t[2] - t[0], h = t[3] - t[1];
            b[0] = t[0] + lossd__rng_uniform(rng, -0.2, 0.2) * w;
            b[1] = t[1] + lossd__rng_uniform(rng, -0.2, 0.2) * h;
            b[2] = b[0] + w * lossd__rng_uniform(rng, 0.8, 1.2);
            b[3] = b[1] + h * lossd__rng_uniform(rng, 0.8, 1.2);
        } else {
            b[0] = lossd__rng_uniform(rng, 0, field);
            b[1] = lossd__rng_uniform(rng, 0, field);
            b[2] = b[0] + lossd__rng_uniform(rng, lo, hi);
            b[3] = b[1] + lossd__rng_uniform(rng, lo, hi);
        }
        box_in_format(out + i, b, format);
    }
}
#endif

/* d max(a, b) / d a as autograd's maximum backward: 1, 1/2 on a tie, 0. */
LOSSD_INLINE lossd_vd dmax(lossd_vd a, lossd_vd b)
{
    return lossd_v_select(a > b, lossd_v_set1(1.0),
                          lossd_v_select(a == b, lossd_v_set1(0.5), lossd_v_set1(0.0)));
}

/* d min(a, b) / d a as autograd's minimum backward. */
LOSSD_INLINE lossd_vd dmin(lossd_vd a, lossd_vd b)
{
    return dmax(b, a);
}

/*
 * d (iw ih) / d (x1, y1, x2, y2) of a, the intersection's sides iw, ih
 * from max/min of the corners: where pass_x (pass_y) holds the x (y)
 * factor passes its gradient, elsewhere 0 (a mask or a clamp).
 */
LOSSD_INLINE void overlap_grad(box_lanes a, box_lanes b, lossd_vd iw, lossd_vd ih, lossd_vm pass_x,
                               lossd_vm pass_y, lossd_vd g[4])
{
    const lossd_vd zero = lossd_v_set1(0.0);
    g[0] = lossd_v_select(pass_x, -ih * dmax(a.x1, b.x1), zero);
    g[1] = lossd_v_select(pass_y, -iw * dmax(a.y1, b.y1), zero);
    g[2] = lossd_v_select(pass_x, ih * dmin(a.x2, b.x2), zero);
    g[3] = lossd_v_select(pass_y, iw * dmin(a.y2, b.y2), zero);
}

/* Per-box extras, in the order of each function's `terms` row. */
typedef struct {
    lossd_vd iou, enclosing_area, rho2, c2, v, beta;
    lossd_vd angle_cost, distance_cost, shape_cost; /* siou */
    lossd_vd width_term, height_term;               /* eiou */
    lossd_vd w2;                                    /* nwd */
} box_terms;

/*
 * x^alpha for x >= 0 and alpha > 1, as pow(x, alpha) - what PyTorch's
 * x ** alpha computes - and its derivative alpha x^(alpha - 1) in *d,
 * which is 0 at x = 0 (alpha > 1) and NaN where x is.
 */
LOSSD_INLINE lossd_vd power_alpha(lossd_vd x, double alpha, lossd_vd *d)
{
    lossd_vd p = lossd_v_pow_scalar(x, alpha);
    *d = lossd_v_select(x == 0.0, lossd_v_set1(0.0), alpha * (p / x));
    return p;
}

/*
 * The losses of LOSSD_LANES box pairs (a, b) for `which`; when grad is not
 * NULL, also the gradients with respect to a (xyxy) times `upstream`.
 * Branch-free: what torchvision masks is selected lane by lane.
 *
 * powered (a constant: the kernels decide alpha != 1 once) gives
 * Alpha-IoU's forms (LOSSES-NEXT.md): IoU^alpha, the GIoU penalty
 * max(P, 0)^alpha, (rho^2)^alpha / ((c^2)^alpha + eps) and CIoU's
 * (beta v)^alpha; without it the code is today's torchvision arithmetic,
 * untouched, so that alpha = 1 is the torchvision loss bit for bit.
 */
LOSSD_INLINE lossd_vd box_pair_loss(int which, bool powered, box_lanes a, box_lanes b, double eps,
                                    double alpha, lossd_vd *grad, lossd_vd upstream,
                                    box_terms *terms)
{
    const lossd_vd zero = lossd_v_set1(0.0);
    /* intersection, as _loss_inter_union: zero (and flat) unless both sides > 0 */
    lossd_vd xk1 = lossd_v_fmax(a.x1, b.x1), yk1 = lossd_v_fmax(a.y1, b.y1);
    lossd_vd xk2 = lossd_v_fmin(a.x2, b.x2), yk2 = lossd_v_fmin(a.y2, b.y2);
    lossd_vm overlap = (yk2 > yk1) & (xk2 > xk1);
    lossd_vd iw = xk2 - xk1, ih = yk2 - yk1;
    lossd_vd inter = lossd_v_select(overlap, iw * ih, zero);
    lossd_vd aw = a.x2 - a.x1, ah = a.y2 - a.y1;
    lossd_vd bw = b.x2 - b.x1, bh = b.y2 - b.y1;
    lossd_vd uni = aw * ah + bw * bh - inter;
    double iou_eps = which == BOX_CIOU ? CIOU_INNER_EPS : eps; /* eiou: eps, as diou */
    lossd_vd den = uni + iou_eps;
    lossd_vd iou = inter / den;
    lossd_vd loss = 1.0 - iou;
    lossd_vd d_iou = zero, iou_a = zero; /* powered: d IoU^alpha / d IoU and IoU^alpha */
    if (powered) {
        iou_a = power_alpha(iou, alpha, &d_iou);
        loss = 1.0 - iou_a;
    }

    /* enclosing box */
    lossd_vd xc1 = lossd_v_fmin(a.x1, b.x1), yc1 = lossd_v_fmin(a.y1, b.y1);
    lossd_vd xc2 = lossd_v_fmax(a.x2, b.x2), yc2 = lossd_v_fmax(a.y2, b.y2);
    lossd_vd cw = xc2 - xc1, ch = yc2 - yc1;

    lossd_vd area_c = zero, diag2 = zero, c2 = zero, rho2 = zero, v = zero, beta = zero;
    lossd_vd dx = zero, dy = zero, datan = zero;
    lossd_vd d_pen = zero, d_rho = zero, d_diag = zero, pen_rho = zero, d_bv = zero;
    if (which == BOX_GIOU) {
        area_c = cw * ch;
        lossd_vd penalty = (area_c - uni) / (area_c + eps);
        if (powered) /* P can be -1e-17 for nested boxes: a power of it would be NaN */
            loss = 1.0 -
                   (iou_a - power_alpha(lossd_v_select(penalty < 0, zero, penalty), alpha, &d_pen));
        else
            loss += penalty;
    } else if (which == BOX_DIOU || which == BOX_CIOU || which == BOX_EIOU) {
        diag2 = cw * cw + ch * ch;
        dx = (a.x2 + a.x1) / 2 - (b.x1 + b.x2) / 2;
        dy = (a.y2 + a.y1) / 2 - (b.y1 + b.y2) / 2;
        rho2 = dx * dx + dy * dy;
        if (powered) {
            pen_rho = power_alpha(rho2, alpha, &d_rho);
            c2 = power_alpha(diag2, alpha, &d_diag) + iou_eps;
        } else {
            pen_rho = rho2;
            c2 = diag2 + iou_eps;
        }
        loss += pen_rho / c2;
    }
    if (which == BOX_CIOU) {
        datan = lossd_v_atan(bw / bh) - lossd_v_atan(aw / ah);
        v = (4 / (M_PI * M_PI)) * (datan * datan);
        beta = v / (1 - iou + v + eps); /* torchvision's alpha: a constant for the gradient */
        loss += powered ? power_alpha(beta * v, alpha, &d_bv) : beta * v;
    }
    /* EIoU: the width and height gaps over the enclosing box's sides, summed after DIoU's term */
    lossd_vd dw = zero, dh = zero, cw2 = zero, ch2 = zero, width_term = zero, height_term = zero;
    if (which == BOX_EIOU) {
        dw = aw - bw;
        dh = ah - bh;
        cw2 = cw * cw + eps;
        ch2 = ch * ch + eps;
        width_term = dw * dw / cw2;
        height_term = dh * dh / ch2;
        loss += width_term;
        loss += height_term;
    }
    if (terms) {
        terms->iou = iou;
        terms->enclosing_area = area_c;
        terms->rho2 = rho2;
        terms->c2 = diag2;
        terms->v = v;
        terms->beta = beta;
        terms->width_term = width_term;
        terms->height_term = height_term;
    }
    if (grad == NULL)
        return loss;

    /* d inter / d (x1, y1, x2, y2) of a: none where torchvision's mask is off */
    lossd_vd gi[4];
    overlap_grad(a, b, iw, ih, overlap, overlap, gi);
    /* d union = d area(a) - d inter */
    lossd_vd gu[4] = {-ah - gi[0], -aw - gi[1], ah - gi[2], aw - gi[3]};
    lossd_vd g[4];
    for (int j = 0; j < 4; j++)
        g[j] = -(gi[j] / den - iou * gu[j] / den); /* d(1 - iou) */
    if (powered)
        for (int j = 0; j < 4; j++)
            g[j] *= d_iou; /* d(1 - iou^alpha) */

    if (which == BOX_GIOU) {
        /* d (C - U)/(C + eps) = dC (U + eps)/(C + eps)^2 - dU/(C + eps) */
        lossd_vd ce = area_c + eps;
        lossd_vd gc[4] = {-ch * dmin(a.x1, b.x1), -cw * dmin(a.y1, b.y1), ch * dmax(a.x2, b.x2),
                          cw * dmax(a.y2, b.y2)};
        for (int j = 0; j < 4; j++) {
            lossd_vd d_penalty = gc[j] * (uni + eps) / (ce * ce) - gu[j] / ce;
            g[j] += powered ? d_pen * d_penalty : d_penalty;
        }
    } else if (which == BOX_DIOU || which == BOX_CIOU || which == BOX_EIOU) {
        /* d rho2/c2 = d rho2 / c2 - rho2 d c2 / c2^2 (powered: of rho2^alpha and diag2^alpha) */
        lossd_vd gc2[4] = {-2 * cw * dmin(a.x1, b.x1), -2 * ch * dmin(a.y1, b.y1),
                           2 * cw * dmax(a.x2, b.x2), 2 * ch * dmax(a.y2, b.y2)};
        lossd_vd grho[4] = {dx, dy, dx, dy};
        if (powered)
            for (int j = 0; j < 4; j++) {
                grho[j] *= d_rho;
                gc2[j] *= d_diag;
            }
        for (int j = 0; j < 4; j++)
            g[j] += grho[j] / c2 - pen_rho * gc2[j] / (c2 * c2);
    }
    if (which == BOX_CIOU) {
        /* beta * dv, v = 4/pi^2 (atan(bw/bh) - atan(aw/ah))^2; powered: (beta v)^alpha */
        lossd_vd r = aw / ah;
        lossd_vd dv_dr = (4 / (M_PI * M_PI)) * 2 * datan * -(1 / (1 + r * r));
        lossd_vd dr_dw = 1 / ah, dr_dh = -r / ah;
        lossd_vd k = powered ? d_bv * beta : beta;
        g[0] += k * dv_dr * -dr_dw;
        g[1] += k * dv_dr * -dr_dh;
        g[2] += k * dv_dr * dr_dw;
        g[3] += k * dv_dr * dr_dh;
    }
    if (which == BOX_EIOU) {
        /* d dw^2/(cw^2 + eps) = 2 dw d(w) / (cw^2 + eps) - (width term) 2 cw d(cw) / (cw^2 + eps)
         */
        lossd_vd d_side_w = 2 * dw / cw2, d_cw = -2 * cw * width_term / cw2;
        lossd_vd d_side_h = 2 * dh / ch2, d_ch = -2 * ch * height_term / ch2;
        g[0] += -d_side_w - d_cw * dmin(a.x1, b.x1);
        g[1] += -d_side_h - d_ch * dmin(a.y1, b.y1);
        g[2] += d_side_w + d_cw * dmax(a.x2, b.x2);
        g[3] += d_side_h + d_ch * dmax(a.y2, b.y2);
    }
    for (int j = 0; j < 4; j++)
        grad[j] = upstream * g[j];
    return loss;
}

/*
 * SIoU (Gevorgyan 2022) of LOSSD_LANES box pairs, in the arithmetic of
 * mmdetection's siou_loss (PR #10290, from YOLOv6; LOSSES-NEXT.md), and
 * its gradient with respect to a times upstream when grad is not NULL.
 * Unlike torchvision's losses, the overlap is clamped at 0 (its gradient
 * passes where a side is >= 0, as clamp's does), the enclosing box's sides
 * at eps. gamma_sign is box_consts' (neg_gamma).
 */
LOSSD_INLINE lossd_vd siou_pair_loss(box_lanes a, box_lanes b, double eps, double gamma_sign,
                                     lossd_vd *grad, lossd_vd upstream, box_terms *terms)
{
    const lossd_vd zero = lossd_v_set1(0.0), eps_v = lossd_v_set1(eps);
    /* IoU = overlap / ((A + Ag - overlap) + eps) */
    lossd_vd iw_raw = lossd_v_fmin(a.x2, b.x2) - lossd_v_fmax(a.x1, b.x1);
    lossd_vd ih_raw = lossd_v_fmin(a.y2, b.y2) - lossd_v_fmax(a.y1, b.y1);
    lossd_vm pass_w = iw_raw >= 0, pass_h = ih_raw >= 0;
    lossd_vd iw = lossd_v_select(pass_w, iw_raw, zero), ih = lossd_v_select(pass_h, ih_raw, zero);
    lossd_vd overlap = iw * ih;
    lossd_vd aw = a.x2 - a.x1, ah = a.y2 - a.y1, bw = b.x2 - b.x1, bh = b.y2 - b.y1;
    lossd_vd uni = aw * ah + bw * bh - overlap + eps;
    lossd_vd iou = overlap / uni;
    /* the enclosing box, its sides clamped at eps */
    lossd_vd cw_raw = lossd_v_fmax(a.x2, b.x2) - lossd_v_fmin(a.x1, b.x1);
    lossd_vd ch_raw = lossd_v_fmax(a.y2, b.y2) - lossd_v_fmin(a.y1, b.y1);
    lossd_vm pass_cw = cw_raw >= eps, pass_ch = ch_raw >= eps;
    lossd_vd cw = lossd_v_select(pass_cw, cw_raw, eps_v),
             ch = lossd_v_select(pass_ch, ch_raw, eps_v);
    /* angle cost: Lambda = cos(2 asin(sin_alpha) - pi/2) of the centres' offset */
    lossd_vd sx = (b.x1 + b.x2 - a.x1 - a.x2) * 0.5 + eps;
    lossd_vd sy = (b.y1 + b.y2 - a.y1 - a.y2) * 0.5 + eps;
    lossd_vd sigma = lossd_v_sqrt(sx * sx + sy * sy);
    lossd_vd s1 = lossd_v_abs(sx) / sigma, s2 = lossd_v_abs(sy) / sigma;
    lossd_vm steep = s1 > M_SQRT1_2; /* then sin_alpha is s2: the angle to the nearer axis */
    lossd_vd sin_alpha = lossd_v_select(steep, s2, s1);
    lossd_vd angle = lossd_v_cos(lossd_v_asin(sin_alpha) * 2 - M_PI / 2);
    /* distance cost: 2 - exp(gamma rho_x) - exp(gamma rho_y) */
    lossd_vd qx = sx / cw, qy = sy / ch;
    lossd_vd rho_x = qx * qx, rho_y = qy * qy;
    lossd_vd gamma = gamma_sign * (angle - 2);
    lossd_vd ex = lossd_v_exp(gamma * rho_x), ey = lossd_v_exp(gamma * rho_y);
    lossd_vd distance = 2 - ex - ey;
    /* shape cost: (1 - e^-omega_w)^4 + (1 - e^-omega_h)^4, eps on the heights only */
    lossd_vd h1 = ah + eps, h2 = bh + eps;
    lossd_vd mw = lossd_v_fmax(aw, bw), mh = lossd_v_fmax(h1, h2);
    lossd_vd dw = aw - bw, dh = h1 - h2;
    lossd_vd omega_w = lossd_v_abs(dw) / mw, omega_h = lossd_v_abs(dh) / mh;
    lossd_vd e_w = lossd_v_exp(-omega_w), e_h = lossd_v_exp(-omega_h);
    lossd_vd tw = 1 - e_w, th = 1 - e_h;
    lossd_vd tw2 = tw * tw, th2 = th * th; /* t^4 as (t^2)^2: within an ulp of pow(t, 4) */
    lossd_vd shape = tw2 * tw2 + th2 * th2;
    /* 1 - clamp(siou, -1, 1); a NaN stays NaN, as clamp leaves it */
    lossd_vd siou = iou - 0.5 * (distance + shape);
    lossd_vm inside = (siou >= -1) & (siou <= 1);
    lossd_vd clamped = lossd_v_select(siou > 1, lossd_v_set1(1.0),
                                      lossd_v_select(siou < -1, lossd_v_set1(-1.0), siou));
    lossd_vd loss = 1 - clamped;
    if (terms) {
        terms->iou = iou;
        terms->angle_cost = angle;
        terms->distance_cost = distance;
        terms->shape_cost = shape;
    }
    if (grad == NULL)
        return loss;

    /* d iou: d overlap through the clamps and the max/min of the intersection */
    lossd_vd gov[4];
    overlap_grad(a, b, iw, ih, pass_w, pass_h, gov);
    lossd_vd garea[4] = {-ah, -aw, ah, aw};
    /* d sin_alpha / d(sx, sy): sin_alpha = |u| / sigma, u the chosen offset, v the other */
    lossd_vd u = lossd_v_select(steep, sy, sx), v = lossd_v_select(steep, sx, sy);
    lossd_vd sigma3 = sigma * sigma * sigma;
    lossd_vd d_u = lossd_v_sgn(u) * (v * v) / sigma3, d_v = -lossd_v_abs(u) * v / sigma3;
    lossd_vd dsin_dsx = lossd_v_select(steep, d_v, d_u), dsin_dsy = lossd_v_select(steep, d_u, d_v);
    /* d Lambda / d sin_alpha = -sin(2 asin(s) - pi/2) * 2 / sqrt(1 - s^2), -sin(...) = 1 - 2 s^2 */
    lossd_vd dangle =
        (1 - 2 * (sin_alpha * sin_alpha)) * 2 / lossd_v_sqrt(1 - sin_alpha * sin_alpha);
    /* d distance through gamma (d gamma = gamma_sign d Lambda) and through rho_x, rho_y */
    lossd_vd through_gamma = -gamma_sign * dangle * (ex * rho_x + ey * rho_y);
    lossd_vd dd_dsx = through_gamma * dsin_dsx - gamma * ex * 2 * qx / cw;
    lossd_vd dd_dsy = through_gamma * dsin_dsy - gamma * ey * 2 * qy / ch;
    lossd_vd dd_dcw = 2 * gamma * ex * rho_x / cw, dd_dch = 2 * gamma * ey * rho_y / ch;
    /* d cw, d ch through their clamps; d sx = d sy = -1/2 for both corners */
    lossd_vd gcw[2] = {lossd_v_select(pass_cw, -dmin(a.x1, b.x1), zero),
                       lossd_v_select(pass_cw, dmax(a.x2, b.x2), zero)};
    lossd_vd gch[2] = {lossd_v_select(pass_ch, -dmin(a.y1, b.y1), zero),
                       lossd_v_select(pass_ch, dmax(a.y2, b.y2), zero)};
    lossd_vd gdist[4] = {-0.5 * dd_dsx + dd_dcw * gcw[0], -0.5 * dd_dsy + dd_dch * gch[0],
                         -0.5 * dd_dsx + dd_dcw * gcw[1], -0.5 * dd_dsy + dd_dch * gch[1]};
    /* d shape / d w1, d h1: 4 t^3 e^-omega d omega, omega = |d| / max */
    lossd_vd ds_dw =
        4 * (tw2 * tw) * e_w * (lossd_v_sgn(dw) / mw - lossd_v_abs(dw) * dmax(aw, bw) / (mw * mw));
    lossd_vd ds_dh =
        4 * (th2 * th) * e_h * (lossd_v_sgn(dh) / mh - lossd_v_abs(dh) * dmax(h1, h2) / (mh * mh));
    lossd_vd gshape[4] = {-ds_dw, -ds_dh, ds_dw, ds_dh};
    /* d loss = -[inside] d siou: clamp passes its gradient where -1 <= siou <= 1 */
    lossd_vd k = lossd_v_select(inside, -upstream, zero);
    for (int j = 0; j < 4; j++) {
        lossd_vd diou = gov[j] / uni - iou * (garea[j] - gov[j]) / uni;
        grad[j] = k * (diou - 0.5 * (gdist[j] + gshape[j]));
    }
    return loss;
}

/*
 * NWD's squared 2-Wasserstein distance W^2 between the Gaussians of box
 * pairs (a, b) in the NWD repo's arithmetic (LOSSES-NEXT.md): eps inside
 * the centre distance and on each side. When d is not NULL, also
 * d W^2 / d (x1, y1, x2, y2) of a.
 */
LOSSD_INLINE lossd_vd nwd_w2(box_lanes a, box_lanes b, double eps, lossd_vd d[4])
{
    lossd_vd dx = (a.x1 + a.x2) / 2 - (b.x1 + b.x2) / 2;
    lossd_vd dy = (a.y1 + a.y2) / 2 - (b.y1 + b.y2) / 2;
    lossd_vd dw = (a.x2 - a.x1 + eps) - (b.x2 - b.x1 + eps);
    lossd_vd dh = (a.y2 - a.y1 + eps) - (b.y2 - b.y1 + eps);
    if (d) {
        /* each corner moves its centre by 1/2 and its side by -1 or +1 */
        d[0] = dx - 0.5 * dw;
        d[1] = dy - 0.5 * dh;
        d[2] = dx + 0.5 * dw;
        d[3] = dy + 0.5 * dh;
    }
    return (dx * dx + dy * dy + eps) + (dw * dw + dh * dh) / 4;
}

/*
 * The NWD loss 1 - exp(-sqrt(W^2) / constant) of LOSSD_LANES box pairs and
 * its gradient with respect to a times upstream when grad is not NULL.
 * With eps = 0, identical boxes have W^2 = 0: sqrt's infinite slope times
 * a zero d W^2 is NaN, as autograd has it.
 */
LOSSD_INLINE lossd_vd nwd_pair_loss(box_lanes a, box_lanes b, double eps, double constant,
                                    lossd_vd *grad, lossd_vd upstream, box_terms *terms)
{
    lossd_vd d[4];
    lossd_vd w2 = nwd_w2(a, b, eps, grad ? d : NULL);
    lossd_vd dist = lossd_v_sqrt(w2);
    lossd_vd similarity = lossd_v_exp(-dist / constant);
    if (terms)
        terms->w2 = w2;
    if (grad) {
        /* d(1 - e^(-s/C)) / d W^2 = e^(-s/C) / C / (2 s) */
        lossd_vd k = upstream * (similarity / constant / (2 * dist));
        for (int j = 0; j < 4; j++)
            grad[j] = k * d[j];
    }
    return 1 - similarity;
}

/* Writes and tallies the extras of boxes i..i+n-1. */
LOSSD_INLINE void store_terms(const lossd_call *c, int which, size_t i, size_t n,
                              const box_terms *t, lossd_vm *bad)
{
    lossd_vd values[LOSSD_MAX_TERMS];
    size_t count = 0;
    if (which == BOX_NWD)
        values[count++] = t->w2;
    else
        values[count++] = t->iou;
    if (which == BOX_SIOU) {
        values[count++] = t->angle_cost;
        values[count++] = t->distance_cost;
        values[count++] = t->shape_cost;
    }
    if (which == BOX_GIOU)
        values[count++] = t->enclosing_area;
    if (which == BOX_DIOU || which == BOX_CIOU || which == BOX_EIOU) {
        values[count++] = t->rho2;
        values[count++] = t->c2;
    }
    if (which == BOX_CIOU) {
        values[count++] = t->v;
        values[count++] = t->beta;
    }
    if (which == BOX_EIOU) {
        values[count++] = t->width_term;
        values[count++] = t->height_term;
    }
    for (size_t k = 0; k < count; k++) {
        lossd_v_store_n(c->terms[k] + i, values[k], n);
        lossd__tally_nonfinite(bad, values[k], n);
    }
}

/*
 * Box pairs i..i+n-1 (n <= LOSSD_LANES); out points at pair i's slot.
 * k (the kernel's copy of the constants) and scale (the call's
 * term_scale) are read once per kernel.
 */
LOSSD_INLINE void box_loss_lanes(const lossd_call *restrict c, const box_consts *k, double scale,
                                 size_t i, size_t n, double *restrict out, double *restrict grad,
                                 int which, bool powered, int format, lossd_vm *bad)
{
    box_lanes a = box_read(c->operand[0].data + 4 * i, n, format);
    box_lanes b = box_read(c->operand[1].data + 4 * i, n, format);
    lossd_vd g[4], upstream = grad ? lossd__upstream(c, scale, i, n) : lossd_v_set1(0.0);
    box_terms terms, *t = c->terms[0] ? &terms : NULL;
    lossd_vd loss;
    if (which == BOX_SIOU)
        loss = siou_pair_loss(a, b, k->eps, k->gamma_sign, grad ? g : NULL, upstream, t);
    else if (which == BOX_NWD)
        loss = nwd_pair_loss(a, b, k->eps, k->constant, grad ? g : NULL, upstream, t);
    else
        loss = box_pair_loss(which, powered, a, b, k->eps, k->alpha, grad ? g : NULL, upstream, t);
    loss = scale * loss;
    lossd_v_store_n(out, loss, n);
    if (!lossd__reduced(c))
        lossd__tally_nonfinite(bad, loss, n);
    if (grad)
        box_grad_write(grad + 4 * i, n, g, format, bad);
    if (c->terms[0])
        store_terms(c, which, i, n, &terms, bad);
}

LOSSD_INLINE void box_loss_loop(const lossd_call *restrict c, size_t begin, size_t end,
                                double *restrict out, double *restrict grad, int which,
                                bool powered, int format)
{
    box_consts k = *LOSSD__CONSTS(c, box_consts);
    double scale = c->state->term_scale;
    lossd_vm bad = {0};
    size_t i = begin;
    for (; end - i >= LOSSD_LANES; i += LOSSD_LANES)
        box_loss_lanes(c, &k, scale, i, LOSSD_LANES, out + (i - begin), grad, which, powered,
                       format, &bad);
    if (i < end)
        box_loss_lanes(c, &k, scale, i, end - i, out + (i - begin), grad, which, powered, format,
                       &bad);
    lossd__report_nonfinite(c, begin, lossd_v_count(bad));
}

LOSSD_INLINE void box_loss_cases(const lossd_call *c, size_t begin, size_t end, double *out,
                                 int which, bool powered, int format)
{
    if (c->grad)
        box_loss_loop(c, begin, end, out, c->grad, which, powered, format);
    else
        box_loss_loop(c, begin, end, out, NULL, which, powered, format);
}

LOSSD_INLINE size_t box_loss_kernel(const lossd_call *c, size_t begin, size_t end, double *out,
                                    int which)
{
    const box_consts *k = LOSSD__CONSTS(c, box_consts);
    /* Alpha-IoU's powers only where alpha != 1: alpha = 1 runs today's loops, unchanged */
    bool powered = which <= BOX_CIOU && k->alpha != 1.0;
    /* one loop per case, so that the box format, the gradient and the power are decided once */
    for (int f = FORMAT_XYXY; f <= FORMAT_CXCYWH; f++)
        if (f == k->format) {
            if (powered)
                box_loss_cases(c, begin, end, out, which, true, f);
            else
                box_loss_cases(c, begin, end, out, which, false, f);
        }
    return 0;
}

static size_t iou_loss_kernel(const lossd_call *c, size_t begin, size_t end, double *out)
{
    return box_loss_kernel(c, begin, end, out, BOX_IOU);
}

static size_t giou_loss_kernel(const lossd_call *c, size_t begin, size_t end, double *out)
{
    return box_loss_kernel(c, begin, end, out, BOX_GIOU);
}

static size_t diou_loss_kernel(const lossd_call *c, size_t begin, size_t end, double *out)
{
    return box_loss_kernel(c, begin, end, out, BOX_DIOU);
}

static size_t ciou_loss_kernel(const lossd_call *c, size_t begin, size_t end, double *out)
{
    return box_loss_kernel(c, begin, end, out, BOX_CIOU);
}

static size_t siou_loss_kernel(const lossd_call *c, size_t begin, size_t end, double *out)
{
    return box_loss_kernel(c, begin, end, out, BOX_SIOU);
}

static size_t eiou_loss_kernel(const lossd_call *c, size_t begin, size_t end, double *out)
{
    return box_loss_kernel(c, begin, end, out, BOX_EIOU);
}

static size_t nwd_loss_kernel(const lossd_call *c, size_t begin, size_t end, double *out)
{
    return box_loss_kernel(c, begin, end, out, BOX_NWD);
}

/* ------------------------------------------------------------ pairwise */

/*
 * Similarity of boxes1[i] and boxes2[j] as torchvision.ops.box_iou & co.,
 * and NWD's exp(-sqrt(W^2) / constant). atan_a is atan(w/h) of a (CIoU
 * only), computed once per row.
 */
LOSSD_INLINE lossd_vd box_pair_similarity(int which, box_lanes a, lossd_vd atan_a, box_lanes b,
                                          const box_consts *k)
{
    const lossd_vd zero = lossd_v_set1(0.0);
    double eps = k->eps;
    if (which == BOX_NWD)
        return lossd_v_exp(-lossd_v_sqrt(nwd_w2(a, b, eps, NULL)) / k->constant);
    lossd_vd aw = a.x2 - a.x1, ah = a.y2 - a.y1, bw = b.x2 - b.x1, bh = b.y2 - b.y1;
    lossd_vd iw = lossd_v_fmax(lossd_v_fmin(a.x2, b.x2) - lossd_v_fmax(a.x1, b.x1), zero);
    lossd_vd ih = lossd_v_fmax(lossd_v_fmin(a.y2, b.y2) - lossd_v_fmax(a.y1, b.y1), zero);
    lossd_vd inter = iw * ih;
    lossd_vd uni = aw * ah + bw * bh - inter;
    lossd_vd iou = inter / uni;
    if (which == BOX_IOU)
        return iou;
    lossd_vd cw = lossd_v_fmax(lossd_v_fmax(a.x2, b.x2) - lossd_v_fmin(a.x1, b.x1), zero);
    lossd_vd ch = lossd_v_fmax(lossd_v_fmax(a.y2, b.y2) - lossd_v_fmin(a.y1, b.y1), zero);
    if (which == BOX_GIOU) {
        lossd_vd area_c = cw * ch;
        return iou - (area_c - uni) / area_c;
    }
    lossd_vd c2 = cw * cw + ch * ch + eps;
    lossd_vd dx = (a.x1 + a.x2) / 2 - (b.x1 + b.x2) / 2;
    lossd_vd dy = (a.y1 + a.y2) / 2 - (b.y1 + b.y2) / 2;
    lossd_vd diou = iou - (dx * dx + dy * dy) / c2;
    if (which == BOX_DIOU)
        return diou;
    lossd_vd datan = atan_a - lossd_v_atan(bw / bh);
    lossd_vd v = (4 / (M_PI * M_PI)) * (datan * datan);
    lossd_vd alpha = v / (1 - iou + v + eps);
    return diou - alpha * v;
}

LOSSD_INLINE void pairwise_rows(const lossd_call *restrict c, size_t begin, size_t end,
                                double *restrict out, int which, int format)
{
    box_consts k = *LOSSD__CONSTS(c, box_consts);
    size_t m = c->operand[1].size / 4; /* (M,4), one box (4) or [] */
    const double *b1 = c->operand[0].data, *b2 = c->operand[1].data;
    lossd_vm bad = {0};
    for (size_t i = begin; i < end; i++) {
        box_lanes a = box_read_one(b1 + 4 * i, format);
        lossd_vd atan_a = which == BOX_CIOU ? lossd_v_atan((a.x2 - a.x1) / (a.y2 - a.y1)) : a.x1;
        double *row = out + (i - begin) * m;
        size_t j = 0;
        for (; m - j >= LOSSD_LANES; j += LOSSD_LANES) {
            box_lanes b = box_read(b2 + 4 * j, LOSSD_LANES, format);
            lossd_vd similarity = box_pair_similarity(which, a, atan_a, b, &k);
            lossd_v_store(row + j, similarity);
            lossd__tally_nonfinite(&bad, similarity, LOSSD_LANES);
        }
        if (j < m) {
            box_lanes b = box_read(b2 + 4 * j, m - j, format);
            lossd_vd similarity = box_pair_similarity(which, a, atan_a, b, &k);
            lossd_v_store_n(row + j, similarity, m - j);
            lossd__tally_nonfinite(&bad, similarity, m - j);
        }
    }
    lossd__report_nonfinite(c, begin, lossd_v_count(bad));
}

LOSSD_INLINE size_t pairwise_kernel(const lossd_call *c, size_t begin, size_t end, double *out,
                                    int which)
{
    int format = LOSSD__CONSTS(c, box_consts)->format;
    for (int f = FORMAT_XYXY; f <= FORMAT_CXCYWH; f++)
        if (f == format)
            pairwise_rows(c, begin, end, out, which, f);
    return 0;
}

static size_t iou_matrix_kernel(const lossd_call *c, size_t begin, size_t end, double *out)
{
    return pairwise_kernel(c, begin, end, out, BOX_IOU);
}

static size_t giou_matrix_kernel(const lossd_call *c, size_t begin, size_t end, double *out)
{
    return pairwise_kernel(c, begin, end, out, BOX_GIOU);
}

static size_t diou_matrix_kernel(const lossd_call *c, size_t begin, size_t end, double *out)
{
    return pairwise_kernel(c, begin, end, out, BOX_DIOU);
}

static size_t ciou_matrix_kernel(const lossd_call *c, size_t begin, size_t end, double *out)
{
    return pairwise_kernel(c, begin, end, out, BOX_CIOU);
}

static size_t nwd_matrix_kernel(const lossd_call *c, size_t begin, size_t end, double *out)
{
    return pairwise_kernel(c, begin, end, out, BOX_NWD);
}

/* ------------------------------------------------------------ registry rows */

#define BOX_FORMAT_SPEC                                                              \
    {                                                                                \
        .name = "box_format", .type = LOSSD_PARAM_CHOICE,                            \
        .summary = "how the 4 numbers of a box are laid out", .choices = box_formats \
    }
#define BOX_EPS_SPEC(what)                                                                  \
    {                                                                                       \
        .name = "eps", .type = LOSSD_PARAM_NUMBER, .summary = what, .default_number = 1e-7, \
        .domain = LOSSD__NONNEG                                                             \
    }
#define DENOMINATOR_EPS "added to denominators to avoid division by zero"

/* The diou and ciou matrices and eiou. */
static const lossd_param_spec box_loss_params[] = {BOX_FORMAT_SPEC, BOX_EPS_SPEC(DENOMINATOR_EPS)};

/* iou, giou, diou and ciou losses: with Alpha-IoU's power (the matrices take none). */
static const lossd_param_spec alpha_iou_params[] = {
    BOX_FORMAT_SPEC,
    BOX_EPS_SPEC(DENOMINATOR_EPS),
    {.name = "alpha",
     .type = LOSSD_PARAM_NUMBER,
     .summary = "Alpha-IoU's power on the IoU and each penalty (1: the torchvision loss)",
     .default_number = 1.0,
     .domain = {1, INFINITY, false, false, false, 0, false, 0}},
};

static const lossd_param_spec siou_params[] = {
    BOX_FORMAT_SPEC,
    BOX_EPS_SPEC("added to the union, the heights and the centres' offsets; the enclosing box's "
                 "sides are at least eps"),
    {.name = "neg_gamma",
     .type = LOSSD_PARAM_BOOL,
     .summary = "the paper's distance cost, gamma = Lambda - 2 (false: mmdetection's default, "
                "gamma = 2 - Lambda)",
     .default_number = 1.0},
};

/* nwd's loss and matrix. */
static const lossd_param_spec nwd_params[] = {
    BOX_FORMAT_SPEC,
    BOX_EPS_SPEC("added to the squared centre distance and to each box's width and height"),
    {.name = "constant",
     .type = LOSSD_PARAM_NUMBER,
     .summary = "the normalising constant C of exp(-sqrt(W^2) / C), about the dataset's average "
                "object size",
     .default_number = NWD_CONSTANT,
     .domain = LOSSD__POSITIVE},
};

/* iou and giou matrices take no eps: torchvision's box_iou and generalized_box_iou have none. */
static const lossd_param_spec box_format_only[] = {BOX_FORMAT_SPEC};

static const char *const iou_terms[] = {"iou", NULL};
static const char *const giou_terms[] = {"iou", "enclosing_area", NULL};
static const char *const diou_terms[] = {"iou", "rho2", "c2", NULL};
static const char *const ciou_terms[] = {"iou", "rho2", "c2", "v", "alpha", NULL};
static const char *const siou_terms[] = {"iou", "angle_cost", "distance_cost", "shape_cost", NULL};
static const char *const eiou_terms[] = {"iou", "rho2", "c2", "width_term", "height_term", NULL};
static const char *const nwd_terms[] = {"w2", NULL};

#define BOX_OPERANDS                                                                         \
    {                                                                                        \
        {"input", LOSSD_RULE_BOXES, 0, "predicted boxes (..., 4)"},                          \
        {                                                                                    \
            "target", LOSSD_RULE_BOXES, LOSSD_OPERAND_LIKE_INPUT, "target boxes, same shape" \
        }                                                                                    \
    }

#define BOX_LOSS_FLAGS (LOSSD_FN_GRAD | LOSSD_FN_TERMS)

static const lossd_function box_functions[] = {
    {.kind = LOSSD_KIND_LOSS,
     .name = "iou",
     .summary = "IoU loss: one minus intersection over union",
     .formula = "1 - \\frac{|A \\cap B|}{|A \\cup B| + \\epsilon}",
     .reference = "1 - I/(U+eps) with torchvision.ops._utils._loss_inter_union",
     .flags = BOX_LOSS_FLAGS,
     .operands = BOX_OPERANDS,
     .params = LOSSD__PARAMS(alpha_iou_params),
     .terms = iou_terms,
     .impl = LOSSD__IMPL(.prepare = box_prepare, .kernel = iou_loss_kernel)},
    {.kind = LOSSD_KIND_LOSS,
     .name = "giou",
     .summary = "Generalized IoU loss (Rezatofighi et al. 2019)",
     .formula = "1 - \\mathrm{IoU} + \\frac{|C| - |A \\cup B|}{|C| + \\epsilon}",
     .reference = "torchvision.ops.generalized_box_iou_loss",
     .flags = BOX_LOSS_FLAGS,
     .operands = BOX_OPERANDS,
     .params = LOSSD__PARAMS(alpha_iou_params),
     .terms = giou_terms,
     .impl = LOSSD__IMPL(.prepare = box_prepare, .kernel = giou_loss_kernel)},
    {.kind = LOSSD_KIND_LOSS,
     .name = "diou",
     .summary = "Distance IoU loss (Zheng et al. 2020)",
     .formula = "1 - \\mathrm{IoU} + \\frac{\\rho^2(b, b^{gt})}{c^2 + \\epsilon}",
     .reference = "torchvision.ops.distance_box_iou_loss",
     .flags = BOX_LOSS_FLAGS,
     .operands = BOX_OPERANDS,
     .params = LOSSD__PARAMS(alpha_iou_params),
     .terms = diou_terms,
     .impl = LOSSD__IMPL(.prepare = box_prepare, .kernel = diou_loss_kernel)},
    {.kind = LOSSD_KIND_LOSS,
     .name = "ciou",
     .summary = "Complete IoU loss (Zheng et al. 2020); alpha is a constant in the gradient",
     .formula = "1 - \\mathrm{IoU} + \\frac{\\rho^2}{c^2} + \\alpha v,\\ v = \\frac{4}{\\pi^2}"
                "\\left(\\arctan\\frac{w^{gt}}{h^{gt}} - \\arctan\\frac{w}{h}\\right)^2,\\ "
                "\\alpha = \\frac{v}{1 - \\mathrm{IoU} + v + \\epsilon}",
     .reference = "torchvision.ops.complete_box_iou_loss",
     .flags = BOX_LOSS_FLAGS,
     .operands = BOX_OPERANDS,
     .params = LOSSD__PARAMS(alpha_iou_params),
     .terms = ciou_terms,
     .impl = LOSSD__IMPL(.prepare = box_prepare, .kernel = ciou_loss_kernel)},
    {.kind = LOSSD_KIND_LOSS,
     .name = "siou",
     .summary = "SIoU loss (Gevorgyan 2022): IoU with angle, distance and shape costs",
     .formula = "1 - \\mathrm{clamp}\\left(\\mathrm{IoU} - \\tfrac12(\\Delta + \\Omega), -1, "
                "1\\right),\\ \\Delta = \\sum_{t=x,y} (1 - e^{\\gamma \\rho_t}),\\ "
                "\\gamma = \\Lambda - 2,\\ \\Omega = \\sum_{t=w,h} (1 - e^{-\\omega_t})^4",
     .reference = "mmdet.models.losses.iou_loss.siou_loss (mmdetection 3.x, from YOLOv6), with "
                  "other defaults: neg_gamma true (the paper's distance cost) where mmdetection's "
                  "function defaults it to false",
     .flags = BOX_LOSS_FLAGS,
     .operands = BOX_OPERANDS,
     .params = LOSSD__PARAMS(siou_params),
     .terms = siou_terms,
     .impl = LOSSD__IMPL(.prepare = box_prepare, .kernel = siou_loss_kernel)},
    {.kind = LOSSD_KIND_LOSS,
     .name = "eiou",
     .summary = "Efficient IoU loss (Zhang et al. 2021): DIoU plus the width and height gaps",
     .formula =
         "1 - \\mathrm{IoU} + \\frac{\\rho^2}{c^2 + \\epsilon} + \\frac{(w - w^{gt})^2}{w_c^2 + "
         "\\epsilon} + \\frac{(h - h^{gt})^2}{h_c^2 + \\epsilon}",
     .reference = "Efficient-IoU (arXiv 2101.08158) with torchvision.ops.distance_box_iou_loss's "
                  "eps placement",
     .flags = BOX_LOSS_FLAGS,
     .operands = BOX_OPERANDS,
     .params = LOSSD__PARAMS(box_loss_params),
     .terms = eiou_terms,
     .impl = LOSSD__IMPL(.prepare = box_prepare, .kernel = eiou_loss_kernel)},
    {.kind = LOSSD_KIND_LOSS,
     .name = "nwd",
     .summary = "Normalized Gaussian Wasserstein Distance loss (Wang et al. 2021), for tiny "
                "objects",
     .formula = "1 - \\exp\\left(-\\frac{\\sqrt{W_2^2}}{C}\\right),\\ W_2^2 = \\lVert c - "
                "c^{gt} \\rVert^2 + \\epsilon + \\tfrac14\\left((w - w^{gt})^2 + (h - "
                "h^{gt})^2\\right)",
     .reference = "jwwangchn/NWD mmdet/models/losses/iou_loss.py wasserstein_loss, mode 'exp'",
     .flags = BOX_LOSS_FLAGS,
     .operands = BOX_OPERANDS,
     .params = LOSSD__PARAMS(nwd_params),
     .terms = nwd_terms,
     .impl = LOSSD__IMPL(.prepare = box_prepare, .kernel = nwd_loss_kernel)},
};

LOSSD__MODULE(lossd__box_module, box_functions);

#define PAIRWISE_OPERANDS                                                   \
    {                                                                       \
        {"boxes1", LOSSD_RULE_BOX_LIST, 0, "boxes (N,4), or one box (4)"},  \
        {                                                                   \
            "boxes2", LOSSD_RULE_BOX_LIST, 0, "boxes (M,4), or one box (4)" \
        }                                                                   \
    }

static const lossd_function pairwise_functions[] = {
    {.kind = LOSSD_KIND_PAIRWISE,
     .name = "iou",
     .summary = "pairwise intersection over union, an (N,M) matrix",
     .formula = "\\frac{|A_i \\cap B_j|}{|A_i \\cup B_j|}",
     .reference = "torchvision.ops.box_iou",
     .operands = PAIRWISE_OPERANDS,
     .params = LOSSD__PARAMS(box_format_only),
     .impl = LOSSD__IMPL(.prepare = box_prepare, .kernel = iou_matrix_kernel)},
    {.kind = LOSSD_KIND_PAIRWISE,
     .name = "giou",
     .summary = "pairwise generalized IoU, an (N,M) matrix",
     .formula = "\\mathrm{IoU}_{ij} - \\frac{|C_{ij}| - |A_i \\cup B_j|}{|C_{ij}|}",
     .reference = "torchvision.ops.generalized_box_iou",
     .operands = PAIRWISE_OPERANDS,
     .params = LOSSD__PARAMS(box_format_only),
     .impl = LOSSD__IMPL(.prepare = box_prepare, .kernel = giou_matrix_kernel)},
    {.kind = LOSSD_KIND_PAIRWISE,
     .name = "diou",
     .summary = "pairwise distance IoU, an (N,M) matrix",
     .formula = "\\mathrm{IoU}_{ij} - \\frac{\\rho^2_{ij}}{c^2_{ij} + \\epsilon}",
     .reference = "torchvision.ops.distance_box_iou",
     .operands = PAIRWISE_OPERANDS,
     .params = LOSSD__PARAMS(box_loss_params),
     .impl = LOSSD__IMPL(.prepare = box_prepare, .kernel = diou_matrix_kernel)},
    {.kind = LOSSD_KIND_PAIRWISE,
     .name = "ciou",
     .summary = "pairwise complete IoU, an (N,M) matrix",
     .formula = "\\mathrm{DIoU}_{ij} - \\alpha_{ij} v_{ij}",
     .reference = "torchvision.ops.complete_box_iou",
     .operands = PAIRWISE_OPERANDS,
     .params = LOSSD__PARAMS(box_loss_params),
     .impl = LOSSD__IMPL(.prepare = box_prepare, .kernel = ciou_matrix_kernel)},
    {.kind = LOSSD_KIND_PAIRWISE,
     .name = "nwd",
     .summary = "pairwise normalized Gaussian Wasserstein distance, an (N,M) matrix",
     .formula = "\\exp\\left(-\\sqrt{W_2^2(A_i, B_j)} / C\\right)",
     .reference = "exp(-sqrt(W^2)/constant) of jwwangchn/NWD's wasserstein_loss",
     .operands = PAIRWISE_OPERANDS,
     .params = LOSSD__PARAMS(nwd_params),
     .impl = LOSSD__IMPL(.prepare = box_prepare, .kernel = nwd_matrix_kernel)},
};

LOSSD__MODULE(lossd__pairwise_module, pairwise_functions);
