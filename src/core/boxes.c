/*
 * boxes.c - bounding-box losses (IoU, GIoU, DIoU, CIoU) with gradients,
 * and the pairwise similarity matrices, as torchvision computes them.
 *
 * One box-pair routine computes every quantity the four losses share
 * (intersection, union, enclosing box, centre distance, aspect term) and
 * their gradients; the kernels are that routine specialised by a constant.
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
enum { BOX_IOU, BOX_GIOU, BOX_DIOU, BOX_CIOU };

/* The eps torchvision's CIoU always uses inside its DIoU term. */
#define CIOU_INNER_EPS 1e-7

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
    int format; /* FORMAT_* */
    double eps; /* 0 for the matrices that take none (box_iou, generalized_box_iou) */
} box_consts;

static int box_prepare(lossd_call *c, lossd_error *err)
{
    box_consts *k = LOSSD__CONSTS_SET(c, box_consts);
    k->format = lossd__param_choice(c, "box_format");
    k->eps = lossd__param_number_or(c, "eps", 0.0);
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

#ifndef LOSSD_SIMD_AVX2 /* validation runs before any kernel: one copy */
int lossd__boxes_check(const lossd_call *c, size_t k, lossd_error *err)
{
    const lossd_tensor *t = &c->operand[k];
    int format = lossd__param_choice(c, "box_format");
    const char *name = c->fn->operands[k].name;
    for (size_t i = 0; i + 4 <= t->size; i += 4) {
        const double *p = t->data + i;
        const char *what = NULL;
        double lo = 0, hi = 0;
        if (format == FORMAT_XYXY) {
            if (!(p[2] >= p[0]))
                what = "x2 < x1", lo = p[0], hi = p[2];
            else if (!(p[3] >= p[1]))
                what = "y2 < y1", lo = p[1], hi = p[3];
        } else {
            if (!(p[2] >= 0))
                what = "negative width", hi = p[2];
            else if (!(p[3] >= 0))
                what = "negative height", hi = p[3];
        }
        for (int j = 0; j < 4 && what == NULL; j++)
            if (!isfinite(p[j]))
                what = "not finite";
        if (what) {
            char path[LOSSD_FIELD_MAX];
            lossd__path(path, sizeof path, name, t, i, t->rank - 1);
            if (format == FORMAT_XYXY && what[0] != 'n')
                return lossd__fail(err, LOSSD_EINVAL, path, "invalid box: %s (%s < %s)", what,
                                   LOSSD__SHORTEST(hi), LOSSD__SHORTEST(lo));
            if (what[0] == 'n' && what[1] == 'e')
                return lossd__fail(err, LOSSD_EINVAL, path, "invalid %s box: %s (%s)",
                                   box_formats[format], what, LOSSD__SHORTEST(hi));
            return lossd__fail(err, LOSSD_EINVAL, path, "invalid box: a coordinate is %s", what);
        }
    }
    return 0;
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

/* Per-box extras, in the order of each function's `terms` row. */
typedef struct {
    lossd_vd iou, enclosing_area, rho2, c2, v, alpha;
} box_terms;

/*
 * The losses of LOSSD_LANES box pairs (a, b) for `which`; when grad is not
 * NULL, also the gradients with respect to a (xyxy) times `upstream`.
 * Branch-free: what torchvision masks is selected lane by lane.
 */
LOSSD_INLINE lossd_vd box_pair_loss(int which, box_lanes a, box_lanes b, double eps, lossd_vd *grad,
                                    lossd_vd upstream, box_terms *terms)
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
    double iou_eps = which == BOX_CIOU ? CIOU_INNER_EPS : eps;
    lossd_vd den = uni + iou_eps;
    lossd_vd iou = inter / den;
    lossd_vd loss = 1.0 - iou;

    /* enclosing box */
    lossd_vd xc1 = lossd_v_fmin(a.x1, b.x1), yc1 = lossd_v_fmin(a.y1, b.y1);
    lossd_vd xc2 = lossd_v_fmax(a.x2, b.x2), yc2 = lossd_v_fmax(a.y2, b.y2);
    lossd_vd cw = xc2 - xc1, ch = yc2 - yc1;

    lossd_vd area_c = zero, diag2 = zero, c2 = zero, rho2 = zero, v = zero, alpha = zero;
    lossd_vd dx = zero, dy = zero, datan = zero;
    if (which == BOX_GIOU) {
        area_c = cw * ch;
        loss += (area_c - uni) / (area_c + eps);
    } else if (which == BOX_DIOU || which == BOX_CIOU) {
        diag2 = cw * cw + ch * ch;
        c2 = diag2 + iou_eps;
        dx = (a.x2 + a.x1) / 2 - (b.x1 + b.x2) / 2;
        dy = (a.y2 + a.y1) / 2 - (b.y1 + b.y2) / 2;
        rho2 = dx * dx + dy * dy;
        loss += rho2 / c2;
    }
    if (which == BOX_CIOU) {
        datan = lossd_v_atan(bw / bh) - lossd_v_atan(aw / ah);
        v = (4 / (M_PI * M_PI)) * (datan * datan);
        alpha = v / (1 - iou + v + eps); /* a constant for the gradient */
        loss += alpha * v;
    }
    if (terms) {
        terms->iou = iou;
        terms->enclosing_area = area_c;
        terms->rho2 = rho2;
        terms->c2 = diag2;
        terms->v = v;
        terms->alpha = alpha;
    }
    if (grad == NULL)
        return loss;

    /* d inter / d (x1, y1, x2, y2) of a */
    lossd_vd gi[4] = {lossd_v_select(overlap, -ih * dmax(a.x1, b.x1), zero),
                      lossd_v_select(overlap, -iw * dmax(a.y1, b.y1), zero),
                      lossd_v_select(overlap, ih * dmin(a.x2, b.x2), zero),
                      lossd_v_select(overlap, iw * dmin(a.y2, b.y2), zero)};
    /* d union = d area(a) - d inter */
    lossd_vd gu[4] = {-ah - gi[0], -aw - gi[1], ah - gi[2], aw - gi[3]};
    lossd_vd g[4];
    for (int j = 0; j < 4; j++)
        g[j] = -(gi[j] / den - iou * gu[j] / den); /* d(1 - iou) */

    if (which == BOX_GIOU) {
        /* d (C - U)/(C + eps) = dC (U + eps)/(C + eps)^2 - dU/(C + eps) */
        lossd_vd ce = area_c + eps;
        lossd_vd gc[4] = {-ch * dmin(a.x1, b.x1), -cw * dmin(a.y1, b.y1), ch * dmax(a.x2, b.x2),
                          cw * dmax(a.y2, b.y2)};
        for (int j = 0; j < 4; j++)
            g[j] += gc[j] * (uni + eps) / (ce * ce) - gu[j] / ce;
    } else if (which == BOX_DIOU || which == BOX_CIOU) {
        /* d rho2/c2 = d rho2 / c2 - rho2 d c2 / c2^2 */
        lossd_vd gc2[4] = {-2 * cw * dmin(a.x1, b.x1), -2 * ch * dmin(a.y1, b.y1),
                           2 * cw * dmax(a.x2, b.x2), 2 * ch * dmax(a.y2, b.y2)};
        lossd_vd grho[4] = {dx, dy, dx, dy};
        for (int j = 0; j < 4; j++)
            g[j] += grho[j] / c2 - rho2 * gc2[j] / (c2 * c2);
    }
    if (which == BOX_CIOU) {
        /* alpha * dv, v = 4/pi^2 (atan(bw/bh) - atan(aw/ah))^2 */
        lossd_vd r = aw / ah;
        lossd_vd dv_dr = (4 / (M_PI * M_PI)) * 2 * datan * -(1 / (1 + r * r));
        lossd_vd dr_dw = 1 / ah, dr_dh = -r / ah;
        g[0] += alpha * dv_dr * -dr_dw;
        g[1] += alpha * dv_dr * -dr_dh;
        g[2] += alpha * dv_dr * dr_dw;
        g[3] += alpha * dv_dr * dr_dh;
    }
    for (int j = 0; j < 4; j++)
        grad[j] = upstream * g[j];
    return loss;
}

/* Writes and tallies the extras of boxes i..i+n-1. */
LOSSD_INLINE void store_terms(const lossd_call *c, int which, size_t i, size_t n,
                              const box_terms *t, lossd_vm *bad)
{
    lossd_vd values[LOSSD_MAX_TERMS];
    size_t count = 0;
    values[count++] = t->iou;
    if (which == BOX_GIOU)
        values[count++] = t->enclosing_area;
    if (which == BOX_DIOU || which == BOX_CIOU) {
        values[count++] = t->rho2;
        values[count++] = t->c2;
    }
    if (which == BOX_CIOU) {
        values[count++] = t->v;
        values[count++] = t->alpha;
    }
    for (size_t k = 0; k < count; k++) {
        lossd_v_store_n(c->terms[k] + i, values[k], n);
        lossd__tally_nonfinite(bad, values[k], n);
    }
}

/*
 * Box pairs i..i+n-1 (n <= LOSSD_LANES); out points at pair i's slot.
 * eps and scale (the call's term_scale) are read once per kernel.
 */
LOSSD_INLINE void box_loss_lanes(const lossd_call *restrict c, double eps, double scale, size_t i,
                                 size_t n, double *restrict out, double *restrict grad, int which,
                                 int format, lossd_vm *bad)
{
    box_lanes a = box_read(c->operand[0].data + 4 * i, n, format);
    box_lanes b = box_read(c->operand[1].data + 4 * i, n, format);
    lossd_vd g[4], upstream = grad ? lossd__upstream(c, scale, i, n) : lossd_v_set1(0.0);
    box_terms terms;
    lossd_vd loss =
        box_pair_loss(which, a, b, eps, grad ? g : NULL, upstream, c->terms[0] ? &terms : NULL);
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
                                double *restrict out, double *restrict grad, int which, int format)
{
    double eps = LOSSD__CONSTS(c, box_consts)->eps, scale = c->state->term_scale;
    lossd_vm bad = {0};
    size_t i = begin;
    for (; end - i >= LOSSD_LANES; i += LOSSD_LANES)
        box_loss_lanes(c, eps, scale, i, LOSSD_LANES, out + (i - begin), grad, which, format, &bad);
    if (i < end)
        box_loss_lanes(c, eps, scale, i, end - i, out + (i - begin), grad, which, format, &bad);
    lossd__report_nonfinite(c, begin, lossd_v_count(bad));
}

LOSSD_INLINE size_t box_loss_kernel(const lossd_call *c, size_t begin, size_t end, double *out,
                                    int which)
{
    int format = LOSSD__CONSTS(c, box_consts)->format;
    /* one loop per case, so that the box format and the gradient are decided once */
    for (int f = FORMAT_XYXY; f <= FORMAT_CXCYWH; f++)
        if (f == format) {
            if (c->grad)
                box_loss_loop(c, begin, end, out, c->grad, which, f);
            else
                box_loss_loop(c, begin, end, out, NULL, which, f);
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

/* ------------------------------------------------------------ pairwise */

/*
 * Similarity of boxes1[i] and boxes2[j] as torchvision.ops.box_iou & co.
 * atan_a is atan(w/h) of a (CIoU only), computed once per row.
 */
LOSSD_INLINE lossd_vd box_pair_similarity(int which, box_lanes a, lossd_vd atan_a, box_lanes b,
                                          double eps)
{
    const lossd_vd zero = lossd_v_set1(0.0);
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
    double eps = LOSSD__CONSTS(c, box_consts)->eps;
    size_t m = c->operand[1].rank == 2 ? c->operand[1].shape[0] : 0;
    const double *b1 = c->operand[0].data, *b2 = c->operand[1].data;
    lossd_vm bad = {0};
    for (size_t i = begin; i < end; i++) {
        box_lanes a = box_read_one(b1 + 4 * i, format);
        lossd_vd atan_a = which == BOX_CIOU ? lossd_v_atan((a.x2 - a.x1) / (a.y2 - a.y1)) : a.x1;
        double *row = out + (i - begin) * m;
        size_t j = 0;
        for (; m - j >= LOSSD_LANES; j += LOSSD_LANES) {
            box_lanes b = box_read(b2 + 4 * j, LOSSD_LANES, format);
            lossd_vd similarity = box_pair_similarity(which, a, atan_a, b, eps);
            lossd_v_store(row + j, similarity);
            lossd__tally_nonfinite(&bad, similarity, LOSSD_LANES);
        }
        if (j < m) {
            box_lanes b = box_read(b2 + 4 * j, m - j, format);
            lossd_vd similarity = box_pair_similarity(which, a, atan_a, b, eps);
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

/* ------------------------------------------------------------ registry rows */

static const lossd_param_spec box_loss_params[] = {
    {.name = "box_format",
     .type = LOSSD_PARAM_CHOICE,
     .summary = "how the 4 numbers of a box are laid out",
     .choices = box_formats},
    {.name = "eps",
     .type = LOSSD_PARAM_NUMBER,
     .summary = "added to denominators to avoid division by zero",
     .default_number = 1e-7,
     .domain = LOSSD__NONNEG},
};

/* iou and giou matrices take no eps: torchvision's box_iou and generalized_box_iou have none. */
static const lossd_param_spec box_format_only[] = {
    {.name = "box_format",
     .type = LOSSD_PARAM_CHOICE,
     .summary = "how the 4 numbers of a box are laid out",
     .choices = box_formats},
};

static const char *const iou_terms[] = {"iou", NULL};
static const char *const giou_terms[] = {"iou", "enclosing_area", NULL};
static const char *const diou_terms[] = {"iou", "rho2", "c2", NULL};
static const char *const ciou_terms[] = {"iou", "rho2", "c2", "v", "alpha", NULL};

#define BOX_OPERANDS                                                                       \
    {                                                                                      \
        {"input", LOSSD_SHAPE_BOXES, LOSSD_VALUES_BOX, "predicted boxes (N,4) or (4)"},    \
        {                                                                                  \
            "target", LOSSD_SHAPE_LIKE_INPUT, LOSSD_VALUES_BOX, "target boxes, same shape" \
        }                                                                                  \
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
     .params = LOSSD__PARAMS(box_loss_params),
     .terms = iou_terms,
     .impl = LOSSD__IMPL(.prepare = box_prepare, .kernel = iou_loss_kernel)},
    {.kind = LOSSD_KIND_LOSS,
     .name = "giou",
     .summary = "Generalized IoU loss (Rezatofighi et al. 2019)",
     .formula = "1 - \\mathrm{IoU} + \\frac{|C| - |A \\cup B|}{|C| + \\epsilon}",
     .reference = "torchvision.ops.generalized_box_iou_loss",
     .flags = BOX_LOSS_FLAGS,
     .operands = BOX_OPERANDS,
     .params = LOSSD__PARAMS(box_loss_params),
     .terms = giou_terms,
     .impl = LOSSD__IMPL(.prepare = box_prepare, .kernel = giou_loss_kernel)},
    {.kind = LOSSD_KIND_LOSS,
     .name = "diou",
     .summary = "Distance IoU loss (Zheng et al. 2020)",
     .formula = "1 - \\mathrm{IoU} + \\frac{\\rho^2(b, b^{gt})}{c^2 + \\epsilon}",
     .reference = "torchvision.ops.distance_box_iou_loss",
     .flags = BOX_LOSS_FLAGS,
     .operands = BOX_OPERANDS,
     .params = LOSSD__PARAMS(box_loss_params),
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
     .params = LOSSD__PARAMS(box_loss_params),
     .terms = ciou_terms,
     .impl = LOSSD__IMPL(.prepare = box_prepare, .kernel = ciou_loss_kernel)},
};

LOSSD__MODULE(lossd__box_module, box_functions);

#define PAIRWISE_OPERANDS                                                   \
    {                                                                       \
        {"boxes1", LOSSD_SHAPE_BOX_LIST, LOSSD_VALUES_BOX, "boxes (N,4)"},  \
        {                                                                   \
            "boxes2", LOSSD_SHAPE_BOX_LIST, LOSSD_VALUES_BOX, "boxes (M,4)" \
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
};

LOSSD__MODULE(lossd__pairwise_module, pairwise_functions);
