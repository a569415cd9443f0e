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

typedef struct {
    double x1, y1, x2, y2;
} box;

static int box_format(const lossd_call *c)
{
    int i = lossd__param_index(c->fn, "box_format");
    return i < 0 ? FORMAT_XYXY : c->params[i].choice;
}

/* Reads box i of a (N,4) array in `format`, as torchvision converts it. */
LOSSD_INLINE box box_read(const double *p, int format)
{
    box b;
    switch (format) {
    case FORMAT_XYWH:
        b = (box){p[0], p[1], p[0] + p[2], p[1] + p[3]};
        break;
    case FORMAT_CXCYWH:
        b = (box){p[0] - 0.5 * p[2], p[1] - 0.5 * p[3], p[0] + 0.5 * p[2], p[1] + 0.5 * p[3]};
        break;
    default:
        b = (box){p[0], p[1], p[2], p[3]};
        break;
    }
    return b;
}

/* Pulls an xyxy gradient back to `format` and writes it. */
LOSSD_INLINE void box_grad_write(double *out, const double g[4], int format)
{
    switch (format) {
    case FORMAT_XYWH:
        out[0] = g[0] + g[2];
        out[1] = g[1] + g[3];
        out[2] = g[2];
        out[3] = g[3];
        break;
    case FORMAT_CXCYWH:
        out[0] = g[0] + g[2];
        out[1] = g[1] + g[3];
        out[2] = 0.5 * (g[2] - g[0]);
        out[3] = 0.5 * (g[3] - g[1]);
        break;
    default:
        memcpy(out, g, 4 * sizeof *out);
        break;
    }
}

int lossd__boxes_check(const lossd_call *c, size_t k, lossd_error *err)
{
    const lossd_tensor *t = &c->operand[k];
    int format = box_format(c);
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
                return lossd__fail(err, LOSSD_EINVAL, path, "invalid box: %s (%.17g < %.17g)", what,
                                   hi, lo);
            if (what[0] == 'n' && what[1] == 'e')
                return lossd__fail(err, LOSSD_EINVAL, path, "invalid %s box: %s (%.17g)",
                                   box_formats[format], what, hi);
            return lossd__fail(err, LOSSD_EINVAL, path, "invalid box: a coordinate is %s", what);
        }
    }
    return 0;
}

/* d max(a, b) / d a as autograd's maximum backward: 1, 1/2 on a tie, 0. */
LOSSD_INLINE double dmax(double a, double b)
{
    return a > b ? 1.0 : a == b ? 0.5 : 0.0;
}

/* d min(a, b) / d a as autograd's minimum backward. */
LOSSD_INLINE double dmin(double a, double b)
{
    return a < b ? 1.0 : a == b ? 0.5 : 0.0;
}

/* Per-box extras, in the order of each function's `terms` row. */
typedef struct {
    double iou, enclosing_area, rho2, c2, v, alpha;
} box_terms;

/*
 * The loss of box pair (a, b) for `which`; when grad is not NULL, also the
 * gradient with respect to a (xyxy) times `upstream`.
 */
LOSSD_INLINE double box_pair_loss(int which, box a, box b, double eps, double *grad,
                                  double upstream, box_terms *terms)
{
    /* intersection, as _loss_inter_union: zero (and flat) unless both sides > 0 */
    double xk1 = fmax(a.x1, b.x1), yk1 = fmax(a.y1, b.y1);
    double xk2 = fmin(a.x2, b.x2), yk2 = fmin(a.y2, b.y2);
    bool overlap = (yk2 > yk1) && (xk2 > xk1);
    double iw = xk2 - xk1, ih = yk2 - yk1;
    double inter = overlap ? iw * ih : 0.0;
    double aw = a.x2 - a.x1, ah = a.y2 - a.y1;
    double bw = b.x2 - b.x1, bh = b.y2 - b.y1;
    double uni = aw * ah + bw * bh - inter;
    double iou_eps = which == BOX_CIOU ? CIOU_INNER_EPS : eps;
    double den = uni + iou_eps;
    double iou = inter / den;
    double loss = 1.0 - iou;

    /* enclosing box */
    double xc1 = fmin(a.x1, b.x1), yc1 = fmin(a.y1, b.y1);
    double xc2 = fmax(a.x2, b.x2), yc2 = fmax(a.y2, b.y2);
    double cw = xc2 - xc1, ch = yc2 - yc1;

    double area_c = 0, diag2 = 0, c2 = 0, rho2 = 0, v = 0, alpha = 0, dx = 0, dy = 0, datan = 0;
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
        datan = atan(bw / bh) - atan(aw / ah);
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
    double gi[4] = {0, 0, 0, 0};
    if (overlap) {
        gi[0] = -ih * dmax(a.x1, b.x1);
        gi[1] = -iw * dmax(a.y1, b.y1);
        gi[2] = ih * dmin(a.x2, b.x2);
        gi[3] = iw * dmin(a.y2, b.y2);
    }
    /* d union = d area(a) - d inter */
    double gu[4] = {-ah - gi[0], -aw - gi[1], ah - gi[2], aw - gi[3]};
    double g[4];
    for (int j = 0; j < 4; j++)
        g[j] = -(gi[j] / den - iou * gu[j] / den); /* d(1 - iou) */

    if (which == BOX_GIOU) {
        /* d (C - U)/(C + eps) = dC (U + eps)/(C + eps)^2 - dU/(C + eps) */
        double ce = area_c + eps;
        double gc[4] = {-ch * dmin(a.x1, b.x1), -cw * dmin(a.y1, b.y1), ch * dmax(a.x2, b.x2),
                        cw * dmax(a.y2, b.y2)};
        for (int j = 0; j < 4; j++)
            g[j] += gc[j] * (uni + eps) / (ce * ce) - gu[j] / ce;
    } else if (which == BOX_DIOU || which == BOX_CIOU) {
        /* d rho2/c2 = d rho2 / c2 - rho2 d c2 / c2^2 */
        double gc2[4] = {-2 * cw * dmin(a.x1, b.x1), -2 * ch * dmin(a.y1, b.y1),
                         2 * cw * dmax(a.x2, b.x2), 2 * ch * dmax(a.y2, b.y2)};
        double grho[4] = {dx, dy, dx, dy};
        for (int j = 0; j < 4; j++)
            g[j] += grho[j] / c2 - rho2 * gc2[j] / (c2 * c2);
    }
    if (which == BOX_CIOU) {
        /* alpha * dv, v = 4/pi^2 (atan(bw/bh) - atan(aw/ah))^2 */
        double r = aw / ah;
        double dv_dr = (4 / (M_PI * M_PI)) * 2 * datan * -(1 / (1 + r * r));
        double dr_dw = 1 / ah, dr_dh = -r / ah;
        g[0] += alpha * dv_dr * -dr_dw;
        g[1] += alpha * dv_dr * -dr_dh;
        g[2] += alpha * dv_dr * dr_dw;
        g[3] += alpha * dv_dr * dr_dh;
    }
    for (int j = 0; j < 4; j++)
        grad[j] = upstream * g[j];
    return loss;
}

LOSSD_INLINE void store_terms(const lossd_call *c, int which, size_t i, const box_terms *t)
{
    double values[LOSSD_MAX_TERMS];
    size_t n = 0;
    values[n++] = t->iou;
    if (which == BOX_GIOU)
        values[n++] = t->enclosing_area;
    if (which == BOX_DIOU || which == BOX_CIOU) {
        values[n++] = t->rho2;
        values[n++] = t->c2;
    }
    if (which == BOX_CIOU) {
        values[n++] = t->v;
        values[n++] = t->alpha;
    }
    for (size_t k = 0; k < n; k++)
        c->terms[k][i] = values[k];
}

LOSSD_INLINE size_t box_loss_kernel(const lossd_call *c, size_t begin, size_t end, double *out,
                                    int which)
{
    int format = box_format(c);
    double eps = lossd__num(c, 1);
    const double *in = c->operand[0].data, *tg = c->operand[1].data;
    for (size_t i = begin; i < end; i++) {
        box a = box_read(in + 4 * i, format), b = box_read(tg + 4 * i, format);
        double g[4];
        box_terms terms;
        double loss =
            box_pair_loss(which, a, b, eps, c->grad ? g : NULL, c->grad ? lossd__upstream(c, i) : 0,
                          c->terms[0] ? &terms : NULL);
        out[i - begin] = c->coef[0] * loss;
        if (c->grad)
            box_grad_write(c->grad + 4 * i, g, format);
        if (c->terms[0])
            store_terms(c, which, i, &terms);
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

/* Similarity of boxes1[i] and boxes2[j] as torchvision.ops.box_iou & co. */
LOSSD_INLINE double box_pair_similarity(int which, box a, box b, double eps)
{
    double aw = a.x2 - a.x1, ah = a.y2 - a.y1, bw = b.x2 - b.x1, bh = b.y2 - b.y1;
    double iw = fmax(fmin(a.x2, b.x2) - fmax(a.x1, b.x1), 0.0);
    double ih = fmax(fmin(a.y2, b.y2) - fmax(a.y1, b.y1), 0.0);
    double inter = iw * ih;
    double uni = aw * ah + bw * bh - inter;
    double iou = inter / uni;
    if (which == BOX_IOU)
        return iou;
    double cw = fmax(fmax(a.x2, b.x2) - fmin(a.x1, b.x1), 0.0);
    double ch = fmax(fmax(a.y2, b.y2) - fmin(a.y1, b.y1), 0.0);
    if (which == BOX_GIOU) {
        double area_c = cw * ch;
        return iou - (area_c - uni) / area_c;
    }
    double c2 = cw * cw + ch * ch + eps;
    double dx = (a.x1 + a.x2) / 2 - (b.x1 + b.x2) / 2;
    double dy = (a.y1 + a.y2) / 2 - (b.y1 + b.y2) / 2;
    double diou = iou - (dx * dx + dy * dy) / c2;
    if (which == BOX_DIOU)
        return diou;
    double datan = atan(aw / ah) - atan(bw / bh);
    double v = (4 / (M_PI * M_PI)) * (datan * datan);
    double alpha = v / (1 - iou + v + eps);
    return diou - alpha * v;
}

LOSSD_INLINE size_t pairwise_kernel(const lossd_call *c, size_t begin, size_t end, double *out,
                                    int which)
{
    int format = box_format(c);
    int eps_index = lossd__param_index(c->fn, "eps");
    double eps = eps_index < 0 ? 0.0 : lossd__num(c, (size_t)eps_index);
    size_t m = c->operand[1].rank == 2 ? c->operand[1].shape[0] : 0;
    const double *b1 = c->operand[0].data, *b2 = c->operand[1].data;
    for (size_t i = begin; i < end; i++) {
        box a = box_read(b1 + 4 * i, format);
        double *row = out + (i - begin) * m;
        for (size_t j = 0; j < m; j++)
            row[j] = box_pair_similarity(which, a, box_read(b2 + 4 * j, format), eps);
    }
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
     .kernel = iou_loss_kernel},
    {.kind = LOSSD_KIND_LOSS,
     .name = "giou",
     .summary = "Generalized IoU loss (Rezatofighi et al. 2019)",
     .formula = "1 - \\mathrm{IoU} + \\frac{|C| - |A \\cup B|}{|C| + \\epsilon}",
     .reference = "torchvision.ops.generalized_box_iou_loss",
     .flags = BOX_LOSS_FLAGS,
     .operands = BOX_OPERANDS,
     .params = LOSSD__PARAMS(box_loss_params),
     .terms = giou_terms,
     .kernel = giou_loss_kernel},
    {.kind = LOSSD_KIND_LOSS,
     .name = "diou",
     .summary = "Distance IoU loss (Zheng et al. 2020)",
     .formula = "1 - \\mathrm{IoU} + \\frac{\\rho^2(b, b^{gt})}{c^2 + \\epsilon}",
     .reference = "torchvision.ops.distance_box_iou_loss",
     .flags = BOX_LOSS_FLAGS,
     .operands = BOX_OPERANDS,
     .params = LOSSD__PARAMS(box_loss_params),
     .terms = diou_terms,
     .kernel = diou_loss_kernel},
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
     .kernel = ciou_loss_kernel},
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
     .kernel = iou_matrix_kernel},
    {.kind = LOSSD_KIND_PAIRWISE,
     .name = "giou",
     .summary = "pairwise generalized IoU, an (N,M) matrix",
     .formula = "\\mathrm{IoU}_{ij} - \\frac{|C_{ij}| - |A_i \\cup B_j|}{|C_{ij}|}",
     .reference = "torchvision.ops.generalized_box_iou",
     .operands = PAIRWISE_OPERANDS,
     .params = LOSSD__PARAMS(box_format_only),
     .kernel = giou_matrix_kernel},
    {.kind = LOSSD_KIND_PAIRWISE,
     .name = "diou",
     .summary = "pairwise distance IoU, an (N,M) matrix",
     .formula = "\\mathrm{IoU}_{ij} - \\frac{\\rho^2_{ij}}{c^2_{ij} + \\epsilon}",
     .reference = "torchvision.ops.distance_box_iou",
     .operands = PAIRWISE_OPERANDS,
     .params = LOSSD__PARAMS(box_loss_params),
     .kernel = diou_matrix_kernel},
    {.kind = LOSSD_KIND_PAIRWISE,
     .name = "ciou",
     .summary = "pairwise complete IoU, an (N,M) matrix",
     .formula = "\\mathrm{DIoU}_{ij} - \\alpha_{ij} v_{ij}",
     .reference = "torchvision.ops.complete_box_iou",
     .operands = PAIRWISE_OPERANDS,
     .params = LOSSD__PARAMS(box_loss_params),
     .kernel = ciou_matrix_kernel},
};

LOSSD__MODULE(lossd__pairwise_module, pairwise_functions);
