/* SPDX-License-Identifier: MIT */
/*
 * boxes.c - bounding-box losses (IoU, GIoU, DIoU, CIoU, EIoU, SIoU, NWD)
 * with gradients, as torchvision computes them (the newer ones as
 * docs/functions.md defines them). The pairwise matrices are
 * box_pairwise.c, what runs outside the kernels (the parameters,
 * validation, sampling) box_operands.c; what they share is boxes.h.
 *
 * The torchvision-style losses share one pair routine: what they all
 * compute (intersection, union, IoU, the enclosing box), then each
 * penalty - GIoU's enclosing area, the centre distance of DIoU, CIoU and
 * EIoU, CIoU's aspect term, EIoU's width and height gaps, Alpha-IoU's
 * powers - as a helper for its value and one for its gradient. SIoU and
 * NWD, which share little with them, have a pair routine each. The
 * kernels are those routines specialised by a constant.
 * Box formats are converted once on the way in and gradients pulled back
 * once on the way out.
 *
 * torchvision details matched (torchvision/ops/_utils.py, giou_loss.py,
 * diou_loss.py, ciou_loss.py):
 *   - the losses' intersection is (xk2-xk1)(yk2-yk1) only where both are
 *     strictly positive, else 0 (a masked assignment: no gradient there);
 *   - iou = I / (U + eps), GIoU's penalty (C - U) / (C + eps), DIoU's
 *     rho^2 / (c^2 + eps) with eps added to c^2 itself;
 *   - CIoU calls the DIoU helper without eps, so its IoU and distance
 *     term always use 1e-7; only its aspect weight (torchvision's alpha,
 *     v / (1 - iou + v + eps)) sees the caller's eps, and it is computed
 *     under no_grad;
 *   - elementwise max/min split the gradient in half on ties (autograd's
 *     maximum/minimum backward).
 *
 * Thread-safe: kernels write only their own units' slots.
 */
#include "boxes.h"

/* The eps torchvision's CIoU always uses inside its DIoU term. */
#define CIOU_INNER_EPS 1e-7

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

/*
 * d (cw, ch) / d (x1, y1, x2, y2) of a, the enclosing box's sides from
 * min/max of the corners: d[0] = d cw / d x1, d[1] = d ch / d y1, d[2] =
 * d cw / d x2, d[3] = d ch / d y2 (each side moves with two corners only).
 */
LOSSD_INLINE void enclosing_grad(box_lanes a, box_lanes b, lossd_vd d[4])
{
    d[0] = -dmin(a.x1, b.x1);
    d[1] = -dmin(a.y1, b.y1);
    d[2] = dmax(a.x2, b.x2);
    d[3] = dmax(a.y2, b.y2);
}

/*
 * One box of a pair as the one a gradient is taken with respect to: self,
 * the other box, and whether self is the pair's second box (the target).
 * The pair routines compute each difference of the two boxes once, first
 * minus second (the centres' offset, CIoU's angle gap, the side gaps);
 * flip() makes it self minus other. Everything else a gradient needs is
 * symmetric in the two boxes, or is self's own (its sides, its corners'
 * max/min against the other's).
 */
typedef struct {
    box_lanes self, other;
    bool second; /* a constant where the kernels are specialised */
} box_side;

LOSSD_INLINE box_side side_of(box_lanes a, box_lanes b, bool second)
{
    return second ? (box_side){b, a, true} : (box_side){a, b, false};
}

/* A first-minus-second difference of the pair, as self minus other. */
LOSSD_INLINE lossd_vd flip(const box_side *s, lossd_vd difference)
{
    return s->second ? -difference : difference;
}

/*
 * Per-box extras, in the order of the function's `terms` row. Each pair
 * routine adds its own, always: the kernel stores them only when they are
 * asked for, and their count stays a constant the compiler sees.
 */
typedef struct {
    lossd_vd value[LOSSD_MAX_TERMS];
    size_t count;
} box_terms;

LOSSD_INLINE void term_add(box_terms *t, lossd_vd value)
{
    t->value[t->count++] = value;
}

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

/* ------------------------------------------------------------ iou, giou, diou, ciou, eiou */

/*
 * What a torchvision-style loss computes of a pair, and what its gradient
 * needs: the IoU's parts, then each penalty's (zero where a loss has
 * none). "powered" is Alpha-IoU's form (box_pair_loss).
 */
typedef struct {
    /* the intersection's sides (before the mask), the mask, I, U, U + eps, IoU */
    lossd_vd iw, ih, inter, uni, den, iou;
    lossd_vm overlap;
    lossd_vd cw, ch;         /* the enclosing box's sides */
    lossd_vd iou_a, d_iou;   /* powered: IoU^alpha and d IoU^alpha / d IoU */
    lossd_vd area_c, d_area; /* giou: |C|; powered: d P^alpha / d P */
    lossd_vd diag2, c2;      /* diou, ciou, eiou: the enclosing diagonal^2, the denominator */
    lossd_vd dx, dy, rho2;   /* the centres' offset (a's minus b's), its square */
    lossd_vd pen_rho;        /* rho^2, powered: (rho^2)^alpha */
    lossd_vd d_rho, d_diag;  /* powered: d (rho^2)^alpha / d rho^2, d (c^2)^alpha / d c^2 */
    lossd_vd datan, v;       /* ciou: atan(wb/hb) - atan(wa/ha), v */
    lossd_vd aspect_weight;  /* v / (1 - IoU + v + eps): torchvision's alpha */
    lossd_vd d_wv;           /* powered: d (aspect_weight v)^alpha / d (aspect_weight v) */
    lossd_vd dw, dh;         /* eiou: a's width and height minus b's */
    lossd_vd cw2, ch2;       /* cw^2 + eps, ch^2 + eps */
    lossd_vd width_term, height_term;
} box_parts;

/* The intersection, the union and the IoU as _loss_inter_union, and the enclosing box. */
LOSSD_INLINE void iou_of(box_lanes a, box_lanes b, double iou_eps, box_parts *p)
{
    const lossd_vd zero = lossd_v_set1(0.0);
    /* zero (and flat) unless both sides > 0 */
    lossd_vd xk1 = lossd_v_fmax(a.x1, b.x1), yk1 = lossd_v_fmax(a.y1, b.y1);
    lossd_vd xk2 = lossd_v_fmin(a.x2, b.x2), yk2 = lossd_v_fmin(a.y2, b.y2);
    p->overlap = (yk2 > yk1) & (xk2 > xk1);
    p->iw = xk2 - xk1, p->ih = yk2 - yk1;
    p->inter = lossd_v_select(p->overlap, p->iw * p->ih, zero);
    lossd_vd aw = a.x2 - a.x1, ah = a.y2 - a.y1;
    lossd_vd bw = b.x2 - b.x1, bh = b.y2 - b.y1;
    p->uni = aw * ah + bw * bh - p->inter;
    p->den = p->uni + iou_eps;
    p->iou = p->inter / p->den;
    p->cw = lossd_v_fmax(a.x2, b.x2) - lossd_v_fmin(a.x1, b.x1);
    p->ch = lossd_v_fmax(a.y2, b.y2) - lossd_v_fmin(a.y1, b.y1);
}

/*
 * GIoU's penalty (C - U) / (C + eps); powered: max(P, 0)^alpha, as P can
 * be -1e-17 for nested boxes and a power of it would be NaN.
 */
LOSSD_INLINE lossd_vd giou_penalty(bool powered, double eps, double alpha, box_parts *p)
{
    p->area_c = p->cw * p->ch;
    lossd_vd penalty = (p->area_c - p->uni) / (p->area_c + eps);
    if (!powered)
        return penalty;
    return power_alpha(lossd_v_select(penalty < 0, lossd_v_set1(0.0), penalty), alpha, &p->d_area);
}

/* DIoU's centre distance rho^2 / (c^2 + eps); powered: (rho^2)^alpha / ((c^2)^alpha + eps). */
LOSSD_INLINE lossd_vd distance_penalty(box_lanes a, box_lanes b, bool powered, double iou_eps,
                                       double alpha, box_parts *p)
{
    p->diag2 = p->cw * p->cw + p->ch * p->ch;
    p->dx = (a.x2 + a.x1) / 2 - (b.x1 + b.x2) / 2;
    p->dy = (a.y2 + a.y1) / 2 - (b.y1 + b.y2) / 2;
    p->rho2 = p->dx * p->dx + p->dy * p->dy;
    if (powered) {
        p->pen_rho = power_alpha(p->rho2, alpha, &p->d_rho);
        p->c2 = power_alpha(p->diag2, alpha, &p->d_diag) + iou_eps;
    } else {
        p->pen_rho = p->rho2;
        p->c2 = p->diag2 + iou_eps;
    }
    return p->pen_rho / p->c2;
}

/*
 * CIoU's aspect term aspect_weight v, v = 4/pi^2 (atan(wb/hb) -
 * atan(wa/ha))^2 and aspect_weight = v / (1 - IoU + v + eps) (torchvision's
 * alpha: a constant for the gradient); powered: (aspect_weight v)^alpha.
 */
LOSSD_INLINE lossd_vd aspect_penalty(box_lanes a, box_lanes b, bool powered, double eps,
                                     double alpha, box_parts *p)
{
    lossd_vd aw = a.x2 - a.x1, ah = a.y2 - a.y1, bw = b.x2 - b.x1, bh = b.y2 - b.y1;
    p->datan = lossd_v_atan(bw / bh) - lossd_v_atan(aw / ah);
    p->v = (4 / (M_PI * M_PI)) * (p->datan * p->datan);
    p->aspect_weight = p->v / (1 - p->iou + p->v + eps);
    lossd_vd term = p->aspect_weight * p->v;
    return powered ? power_alpha(term, alpha, &p->d_wv) : term;
}

/* EIoU's width and height gaps over the enclosing box's sides, (wa - wb)^2 / (cw^2 + eps) & co. */
LOSSD_INLINE void side_gap_penalties(box_lanes a, box_lanes b, double eps, box_parts *p)
{
    p->dw = (a.x2 - a.x1) - (b.x2 - b.x1);
    p->dh = (a.y2 - a.y1) - (b.y2 - b.y1);
    p->cw2 = p->cw * p->cw + eps;
    p->ch2 = p->ch * p->ch + eps;
    p->width_term = p->dw * p->dw / p->cw2;
    p->height_term = p->dh * p->dh / p->ch2;
}

/*
 * d(1 - IoU) / d (x1, y1, x2, y2) of self into g (powered: of 1 -
 * IoU^alpha), and d U / d self into gu.
 */
LOSSD_INLINE void iou_grad(const box_side *s, bool powered, const box_parts *p, lossd_vd gu[4],
                           lossd_vd g[4])
{
    lossd_vd w = s->self.x2 - s->self.x1, h = s->self.y2 - s->self.y1;
    /* d inter: none where torchvision's mask is off */
    lossd_vd gi[4];
    overlap_grad(s->self, s->other, p->iw, p->ih, p->overlap, p->overlap, gi);
    /* d union = d area(self) - d inter */
    gu[0] = -h - gi[0], gu[1] = -w - gi[1], gu[2] = h - gi[2], gu[3] = w - gi[3];
    for (int j = 0; j < 4; j++)
        g[j] = -(gi[j] / p->den - p->iou * gu[j] / p->den);
    if (powered)
        for (int j = 0; j < 4; j++)
            g[j] *= p->d_iou;
}

/* Adds d P to g: d (C - U)/(C + eps) = dC (U + eps)/(C + eps)^2 - dU/(C + eps). */
LOSSD_INLINE void giou_penalty_grad(const box_side *s, bool powered, double eps, const box_parts *p,
                                    const lossd_vd gu[4], lossd_vd g[4])
{
    lossd_vd encl[4];
    enclosing_grad(s->self, s->other, encl);
    lossd_vd ce = p->area_c + eps;
    lossd_vd gc[4] = {p->ch * encl[0], p->cw * encl[1], p->ch * encl[2], p->cw * encl[3]};
    for (int j = 0; j < 4; j++) {
        lossd_vd d_penalty = gc[j] * (p->uni + eps) / (ce * ce) - gu[j] / ce;
        g[j] += powered ? p->d_area * d_penalty : d_penalty;
    }
}

/* Adds d rho2/c2 = d rho2 / c2 - rho2 d c2 / c2^2 to g (powered: of rho2^alpha and diag2^alpha). */
LOSSD_INLINE void distance_penalty_grad(const box_side *s, bool powered, const box_parts *p,
                                        lossd_vd g[4])
{
    lossd_vd encl[4];
    enclosing_grad(s->self, s->other, encl);
    lossd_vd gc2[4] = {2 * p->cw * encl[0], 2 * p->ch * encl[1], 2 * p->cw * encl[2],
                       2 * p->ch * encl[3]};
    /* d rho2 / d corner = the offset of self's centre from the other's */
    lossd_vd dx = flip(s, p->dx), dy = flip(s, p->dy);
    lossd_vd grho[4] = {dx, dy, dx, dy};
    if (powered)
        for (int j = 0; j < 4; j++) {
            grho[j] *= p->d_rho;
            gc2[j] *= p->d_diag;
        }
    for (int j = 0; j < 4; j++)
        g[j] += grho[j] / p->c2 - p->pen_rho * gc2[j] / (p->c2 * p->c2);
}

/*
 * Adds aspect_weight dv to g, v through self's w/h (powered: d
 * (aspect_weight v)^alpha); the weight is a constant.
 */
LOSSD_INLINE void aspect_penalty_grad(const box_side *s, bool powered, const box_parts *p,
                                      lossd_vd g[4])
{
    lossd_vd w = s->self.x2 - s->self.x1, h = s->self.y2 - s->self.y1;
    lossd_vd r = w / h;
    /* v = 4/pi^2 (atan(r_other) - atan(r_self))^2: datan as the other's minus self's */
    lossd_vd datan = flip(s, p->datan);
    lossd_vd dv_dr = (4 / (M_PI * M_PI)) * 2 * datan * -(1 / (1 + r * r));
    lossd_vd dr_dw = 1 / h, dr_dh = -r / h;
    lossd_vd k = powered ? p->d_wv * p->aspect_weight : p->aspect_weight;
    g[0] += k * dv_dr * -dr_dw;
    g[1] += k * dv_dr * -dr_dh;
    g[2] += k * dv_dr * dr_dw;
    g[3] += k * dv_dr * dr_dh;
}

/*
 * Adds d dw^2/(cw^2 + eps) = 2 dw d(w) / (cw^2 + eps) - (width term) 2 cw
 * d(cw) / (cw^2 + eps) and its height twin to g.
 */
LOSSD_INLINE void side_gap_penalties_grad(const box_side *s, const box_parts *p, lossd_vd g[4])
{
    lossd_vd encl[4];
    enclosing_grad(s->self, s->other, encl);
    lossd_vd dw = flip(s, p->dw), dh = flip(s, p->dh); /* self's sides minus the other's */
    lossd_vd d_side_w = 2 * dw / p->cw2, d_cw = -2 * p->cw * p->width_term / p->cw2;
    lossd_vd d_side_h = 2 * dh / p->ch2, d_ch = -2 * p->ch * p->height_term / p->ch2;
    g[0] += -d_side_w + d_cw * encl[0];
    g[1] += -d_side_h + d_ch * encl[1];
    g[2] += d_side_w + d_cw * encl[2];
    g[3] += d_side_h + d_ch * encl[3];
}

LOSSD_INLINE bool has_distance(int which)
{
    return which == BOX_DIOU || which == BOX_CIOU || which == BOX_EIOU;
}

/* The loss of `which` from its parts (box_pair_loss), computing them into *p. */
LOSSD_INLINE lossd_vd box_parts_loss(int which, bool powered, box_lanes a, box_lanes b, double eps,
                                     double alpha, box_parts *p)
{
    double iou_eps = which == BOX_CIOU ? CIOU_INNER_EPS : eps; /* eiou: eps, as diou */
    iou_of(a, b, iou_eps, p);
    lossd_vd loss = 1.0 - p->iou;
    if (powered) {
        p->iou_a = power_alpha(p->iou, alpha, &p->d_iou);
        loss = 1.0 - p->iou_a;
    }
    if (which == BOX_GIOU) {
        lossd_vd penalty = giou_penalty(powered, eps, alpha, p);
        loss = powered ? 1.0 - (p->iou_a - penalty) : loss + penalty;
    } else if (has_distance(which)) {
        loss += distance_penalty(a, b, powered, iou_eps, alpha, p);
    }
    if (which == BOX_CIOU)
        loss += aspect_penalty(a, b, powered, eps, alpha, p);
    if (which == BOX_EIOU) { /* summed after DIoU's term */
        side_gap_penalties(a, b, eps, p);
        loss += p->width_term;
        loss += p->height_term;
    }
    return loss;
}

/*
 * d loss / d (x1, y1, x2, y2) of one box of the pair, from the parts of
 * `which` (box_pair_loss), times upstream into grad.
 */
LOSSD_INLINE void box_parts_grad(int which, bool powered, const box_side *s, double eps,
                                 const box_parts *p, lossd_vd upstream, lossd_vd grad[4])
{
    lossd_vd gu[4], g[4];
    iou_grad(s, powered, p, gu, g);
    if (which == BOX_GIOU)
        giou_penalty_grad(s, powered, eps, p, gu, g);
    else if (has_distance(which))
        distance_penalty_grad(s, powered, p, g);
    if (which == BOX_CIOU)
        aspect_penalty_grad(s, powered, p, g);
    if (which == BOX_EIOU)
        side_gap_penalties_grad(s, p, g);
    for (int j = 0; j < 4; j++)
        grad[j] = upstream * g[j];
}

/*
 * The losses of LOSSD_LANES box pairs (a, b) for `which`, their extras
 * added to *terms; when grad (grad_second) is not NULL, also the
 * gradients with respect to a (b), xyxy, times `upstream`. Branch-free: what torchvision masks is
 * selected lane by lane.
 *
 * powered (a constant: the kernels decide alpha != 1 once) gives
 * Alpha-IoU's forms (docs/functions.md): IoU^alpha, the GIoU penalty
 * max(P, 0)^alpha, (rho^2)^alpha / ((c^2)^alpha + eps) and CIoU's
 * (aspect_weight v)^alpha; without it the code is today's torchvision arithmetic,
 * untouched, so that alpha = 1 is the torchvision loss bit for bit.
 */
LOSSD_INLINE lossd_vd box_pair_loss(int which, bool powered, box_lanes a, box_lanes b, double eps,
                                    double alpha, lossd_vd *grad, lossd_vd *grad_second,
                                    lossd_vd upstream, box_terms *terms)
{
    box_parts p;
    lossd_vd loss = box_parts_loss(which, powered, a, b, eps, alpha, &p);
    term_add(terms, p.iou);
    if (which == BOX_GIOU)
        term_add(terms, p.area_c);
    if (has_distance(which)) {
        term_add(terms, p.rho2);
        term_add(terms, p.diag2);
    }
    if (which == BOX_CIOU) {
        term_add(terms, p.v);
        term_add(terms, p.aspect_weight);
    }
    if (which == BOX_EIOU) {
        term_add(terms, p.width_term);
        term_add(terms, p.height_term);
    }
    if (grad) {
        box_side s = side_of(a, b, false);
        box_parts_grad(which, powered, &s, eps, &p, upstream, grad);
    }
    if (grad_second) { /* torchvision's losses differentiated with respect to the target */
        box_side s = side_of(a, b, true);
        box_parts_grad(which, powered, &s, eps, &p, upstream, grad_second);
    }
    return loss;
}

/* ------------------------------------------------------------ siou */

/* What SIoU computes of a pair, and what its gradient needs (siou_pair_loss). */
typedef struct {
    lossd_vd iw, ih, uni, iou;         /* the clamped overlap's sides, U + eps, IoU */
    lossd_vm pass_w, pass_h;           /* where the overlap's clamps pass their gradient */
    lossd_vd cw, ch;                   /* the enclosing box's sides, at least eps */
    lossd_vm pass_cw, pass_ch;         /* ... and where their clamps pass */
    lossd_vd sx, sy, sigma, sin_alpha; /* the centres' offset (b's minus a's, plus eps) */
    lossd_vm steep;                    /* sin_alpha is s2: the angle to the nearer axis */
    lossd_vd angle, gamma;             /* Lambda, and gamma = gamma_sign (Lambda - 2) */
    lossd_vd qx, qy, rho_x, rho_y, ex, ey, distance;
    lossd_vd mw, mh, dw, dh, e_w, e_h, tw, th, tw2, th2, shape; /* the shape cost */
    lossd_vm inside;                                            /* -1 <= siou <= 1 */
} siou_parts;

/*
 * SIoU (Gevorgyan 2022) of LOSSD_LANES box pairs, in the arithmetic of
 * mmdetection's siou_loss (PR #10290, from YOLOv6; docs/functions.md),
 * its parts into *p. Unlike torchvision's losses, the overlap is clamped
 * at 0 (its gradient passes where a side is >= 0, as clamp's does), the
 * enclosing box's sides at eps. gamma_sign is box_consts' (neg_gamma).
 */
LOSSD_INLINE lossd_vd siou_loss_of(box_lanes a, box_lanes b, double eps, double gamma_sign,
                                   siou_parts *p)
{
    const lossd_vd zero = lossd_v_set1(0.0), eps_v = lossd_v_set1(eps);
    /* IoU = overlap / ((A + Ag - overlap) + eps) */
    lossd_vd iw_raw = lossd_v_fmin(a.x2, b.x2) - lossd_v_fmax(a.x1, b.x1);
    lossd_vd ih_raw = lossd_v_fmin(a.y2, b.y2) - lossd_v_fmax(a.y1, b.y1);
    p->pass_w = iw_raw >= 0, p->pass_h = ih_raw >= 0;
    p->iw = lossd_v_select(p->pass_w, iw_raw, zero),
    p->ih = lossd_v_select(p->pass_h, ih_raw, zero);
    lossd_vd overlap = p->iw * p->ih;
    lossd_vd aw = a.x2 - a.x1, ah = a.y2 - a.y1, bw = b.x2 - b.x1, bh = b.y2 - b.y1;
    p->uni = aw * ah + bw * bh - overlap + eps;
    p->iou = overlap / p->uni;
    /* the enclosing box, its sides clamped at eps */
    lossd_vd cw_raw = lossd_v_fmax(a.x2, b.x2) - lossd_v_fmin(a.x1, b.x1);
    lossd_vd ch_raw = lossd_v_fmax(a.y2, b.y2) - lossd_v_fmin(a.y1, b.y1);
    p->pass_cw = cw_raw >= eps, p->pass_ch = ch_raw >= eps;
    p->cw = lossd_v_select(p->pass_cw, cw_raw, eps_v);
    p->ch = lossd_v_select(p->pass_ch, ch_raw, eps_v);
    /* angle cost: Lambda = cos(2 asin(sin_alpha) - pi/2) of the centres' offset */
    p->sx = (b.x1 + b.x2 - a.x1 - a.x2) * 0.5 + eps;
    p->sy = (b.y1 + b.y2 - a.y1 - a.y2) * 0.5 + eps;
    p->sigma = lossd_v_sqrt(p->sx * p->sx + p->sy * p->sy);
    lossd_vd s1 = lossd_v_abs(p->sx) / p->sigma, s2 = lossd_v_abs(p->sy) / p->sigma;
    p->steep = s1 > M_SQRT1_2;
    p->sin_alpha = lossd_v_select(p->steep, s2, s1);
    p->angle = lossd_v_cos(lossd_v_asin(p->sin_alpha) * 2 - M_PI / 2);
    /* distance cost: 2 - exp(gamma rho_x) - exp(gamma rho_y) */
    p->qx = p->sx / p->cw, p->qy = p->sy / p->ch;
    p->rho_x = p->qx * p->qx, p->rho_y = p->qy * p->qy;
    p->gamma = gamma_sign * (p->angle - 2);
    p->ex = lossd_v_exp(p->gamma * p->rho_x), p->ey = lossd_v_exp(p->gamma * p->rho_y);
    p->distance = 2 - p->ex - p->ey;
    /* shape cost: (1 - e^-omega_w)^4 + (1 - e^-omega_h)^4, eps on the heights only */
    lossd_vd h1 = ah + eps, h2 = bh + eps;
    p->mw = lossd_v_fmax(aw, bw), p->mh = lossd_v_fmax(h1, h2);
    p->dw = aw - bw, p->dh = h1 - h2;
    lossd_vd omega_w = lossd_v_abs(p->dw) / p->mw, omega_h = lossd_v_abs(p->dh) / p->mh;
    p->e_w = lossd_v_exp(-omega_w), p->e_h = lossd_v_exp(-omega_h);
    p->tw = 1 - p->e_w, p->th = 1 - p->e_h;
    p->tw2 = p->tw * p->tw, p->th2 = p->th * p->th; /* t^4 as (t^2)^2: within an ulp of pow */
    p->shape = p->tw2 * p->tw2 + p->th2 * p->th2;
    /* 1 - clamp(siou, -1, 1); a NaN stays NaN, as clamp leaves it */
    lossd_vd siou = p->iou - 0.5 * (p->distance + p->shape);
    p->inside = (siou >= -1) & (siou <= 1);
    lossd_vd clamped = lossd_v_select(siou > 1, lossd_v_set1(1.0),
                                      lossd_v_select(siou < -1, lossd_v_set1(-1.0), siou));
    return 1 - clamped;
}

/* d distance / d (x1, y1, x2, y2) of self: through the offset, gamma's Lambda and cw, ch. */
LOSSD_INLINE void siou_distance_grad(const box_side *s, double gamma_sign, const siou_parts *p,
                                     lossd_vd gdist[4])
{
    const lossd_vd zero = lossd_v_set1(0.0);
    /* d sin_alpha / d(sx, sy): sin_alpha = |u| / sigma, u the chosen offset, v the other */
    lossd_vd u = lossd_v_select(p->steep, p->sy, p->sx), v = lossd_v_select(p->steep, p->sx, p->sy);
    lossd_vd sigma3 = p->sigma * p->sigma * p->sigma;
    lossd_vd d_u = lossd_v_sgn(u) * (v * v) / sigma3, d_v = -lossd_v_abs(u) * v / sigma3;
    lossd_vd dsin_dsx = lossd_v_select(p->steep, d_v, d_u);
    lossd_vd dsin_dsy = lossd_v_select(p->steep, d_u, d_v);
    /* d Lambda / d sin_alpha = -sin(2 asin(s) - pi/2) * 2 / sqrt(1 - s^2), -sin(...) = 1 - 2 s^2 */
    lossd_vd sa = p->sin_alpha;
    lossd_vd dangle = (1 - 2 * (sa * sa)) * 2 / lossd_v_sqrt(1 - sa * sa);
    /* through gamma (d gamma = gamma_sign d Lambda) and through rho_x, rho_y */
    lossd_vd through_gamma = -gamma_sign * dangle * (p->ex * p->rho_x + p->ey * p->rho_y);
    lossd_vd dd_dsx = through_gamma * dsin_dsx - p->gamma * p->ex * 2 * p->qx / p->cw;
    lossd_vd dd_dsy = through_gamma * dsin_dsy - p->gamma * p->ey * 2 * p->qy / p->ch;
    lossd_vd dd_dcw = 2 * p->gamma * p->ex * p->rho_x / p->cw;
    lossd_vd dd_dch = 2 * p->gamma * p->ey * p->rho_y / p->ch;
    /* d cw, d ch through their clamps; the offset is second minus first: d sx = d sy = -1/2
       for both corners of the first box, +1/2 for the second's */
    lossd_vd encl[4];
    enclosing_grad(s->self, s->other, encl);
    lossd_vd through_sx = flip(s, -0.5 * dd_dsx), through_sy = flip(s, -0.5 * dd_dsy);
    gdist[0] = through_sx + dd_dcw * lossd_v_select(p->pass_cw, encl[0], zero);
    gdist[1] = through_sy + dd_dch * lossd_v_select(p->pass_ch, encl[1], zero);
    gdist[2] = through_sx + dd_dcw * lossd_v_select(p->pass_cw, encl[2], zero);
    gdist[3] = through_sy + dd_dch * lossd_v_select(p->pass_ch, encl[3], zero);
}

/* d loss / d (x1, y1, x2, y2) of self times upstream, from SIoU's parts, into grad. */
LOSSD_INLINE void siou_grad(const box_side *s, double eps, double gamma_sign, const siou_parts *p,
                            lossd_vd upstream, lossd_vd grad[4])
{
    const lossd_vd zero = lossd_v_set1(0.0);
    lossd_vd w = s->self.x2 - s->self.x1, h = s->self.y2 - s->self.y1;
    lossd_vd other_w = s->other.x2 - s->other.x1, other_h = s->other.y2 - s->other.y1;
    /* d iou: d overlap through the clamps and the max/min of the intersection */
    lossd_vd gov[4];
    overlap_grad(s->self, s->other, p->iw, p->ih, p->pass_w, p->pass_h, gov);
    lossd_vd garea[4] = {-h, -w, h, w};
    lossd_vd gdist[4];
    siou_distance_grad(s, gamma_sign, p, gdist);
    /* d shape / d w, d h of self: 4 t^3 e^-omega d omega, omega = |d| / max */
    lossd_vd dw = flip(s, p->dw), dh = flip(s, p->dh); /* self's sides minus the other's */
    lossd_vd ds_dw =
        4 * (p->tw2 * p->tw) * p->e_w *
        (lossd_v_sgn(dw) / p->mw - lossd_v_abs(dw) * dmax(w, other_w) / (p->mw * p->mw));
    lossd_vd ds_dh = 4 * (p->th2 * p->th) * p->e_h *
                     (lossd_v_sgn(dh) / p->mh -
                      lossd_v_abs(dh) * dmax(h + eps, other_h + eps) / (p->mh * p->mh));
    lossd_vd gshape[4] = {-ds_dw, -ds_dh, ds_dw, ds_dh};
    /* d loss = -[inside] d siou: clamp passes its gradient where -1 <= siou <= 1 */
    lossd_vd k = lossd_v_select(p->inside, -upstream, zero);
    for (int j = 0; j < 4; j++) {
        lossd_vd diou = gov[j] / p->uni - p->iou * (garea[j] - gov[j]) / p->uni;
        grad[j] = k * (diou - 0.5 * (gdist[j] + gshape[j]));
    }
}

/*
 * SIoU's loss of LOSSD_LANES box pairs (siou_loss_of), its extras added
 * to *terms, and its gradients with respect to a (b) times upstream when
 * grad (grad_second) is not NULL.
 */
LOSSD_INLINE lossd_vd siou_pair_loss(box_lanes a, box_lanes b, double eps, double gamma_sign,
                                     lossd_vd *grad, lossd_vd *grad_second, lossd_vd upstream,
                                     box_terms *terms)
{
    siou_parts p;
    lossd_vd loss = siou_loss_of(a, b, eps, gamma_sign, &p);
    term_add(terms, p.iou);
    term_add(terms, p.angle);
    term_add(terms, p.distance);
    term_add(terms, p.shape);
    if (grad) {
        box_side s = side_of(a, b, false);
        siou_grad(&s, eps, gamma_sign, &p, upstream, grad);
    }
    if (grad_second) {
        box_side s = side_of(a, b, true);
        siou_grad(&s, eps, gamma_sign, &p, upstream, grad_second);
    }
    return loss;
}

/* ------------------------------------------------------------ nwd */

/*
 * The NWD loss 1 - exp(-sqrt(W^2) / constant) of LOSSD_LANES box pairs,
 * W^2 added to *terms, and its gradients with respect to a (b) times
 * upstream when grad (grad_second) is not NULL: W^2 depends on the
 * differences of the two boxes alone, so b's is minus a's.
 * With eps = 0, identical boxes have W^2 = 0: sqrt's infinite slope times
 * a zero d W^2 is NaN, as autograd has it.
 */
LOSSD_INLINE lossd_vd nwd_pair_loss(box_lanes a, box_lanes b, double eps, double constant,
                                    lossd_vd *grad, lossd_vd *grad_second, lossd_vd upstream,
                                    box_terms *terms)
{
    lossd_vd d[4];
    lossd_vd w2 = nwd_w2(a, b, eps, grad || grad_second ? d : NULL);
    lossd_vd dist = lossd_v_sqrt(w2);
    lossd_vd similarity = lossd_v_exp(-dist / constant);
    term_add(terms, w2);
    if (grad || grad_second) {
        /* d(1 - e^(-s/C)) / d W^2 = e^(-s/C) / C / (2 s) */
        lossd_vd k = upstream * (similarity / constant / (2 * dist));
        for (int j = 0; j < 4; j++) {
            lossd_vd g = k * d[j];
            if (grad)
                grad[j] = g;
            if (grad_second)
                grad_second[j] = -g;
        }
    }
    return 1 - similarity;
}

/* ------------------------------------------------------------ kernels */

/* Writes and tallies the extras of boxes i..i+n-1. */
LOSSD_INLINE void store_terms(const lossd_call *c, size_t i, size_t n, const box_terms *t,
                              lossd_vm *bad)
{
    for (size_t k = 0; k < t->count; k++) {
        lossd_v_store_n(c->terms[k] + i, t->value[k], n);
        lossd__tally_nonfinite(bad, t->value[k], n);
    }
}

/*
 * Box pairs i..i+n-1 (n <= LOSSD_LANES); out points at pair i's slot, grad
 * and grad_second (when not NULL) at the whole gradients. k (the kernel's
 * copy of the constants) and scale (the call's term_scale) are read once
 * per kernel.
 */
LOSSD_INLINE void box_loss_lanes(const lossd_call *restrict c, const box_consts *k, double scale,
                                 size_t i, size_t n, double *restrict out, double *restrict grad,
                                 double *restrict grad_second, int which, bool powered, int format,
                                 lossd_vm *bad)
{
    box_lanes a = box_read(c->operand[0].data + 4 * i, n, format);
    box_lanes b = box_read(c->operand[1].data + 4 * i, n, format);
    lossd_vd g[4], g2[4];
    lossd_vd upstream = grad || grad_second ? lossd__upstream(c, scale, i, n) : lossd_v_set1(0.0);
    lossd_vd *ga = grad ? g : NULL, *gb = grad_second ? g2 : NULL;
    box_terms terms;
    terms.count = 0;
    lossd_vd loss;
    if (which == BOX_SIOU)
        loss = siou_pair_loss(a, b, k->eps, k->gamma_sign, ga, gb, upstream, &terms);
    else if (which == BOX_NWD)
        loss = nwd_pair_loss(a, b, k->eps, k->constant, ga, gb, upstream, &terms);
    else
        loss = box_pair_loss(which, powered, a, b, k->eps, k->alpha, ga, gb, upstream, &terms);
    loss = scale * loss;
    lossd_v_store_n(out, loss, n);
    if (!lossd__reduced(c))
        lossd__tally_nonfinite(bad, loss, n);
    if (grad)
        box_grad_write(grad + 4 * i, n, g, format, bad);
    if (grad_second)
        box_grad_write(grad_second + 4 * i, n, g2, format, bad);
    if (c->terms[0])
        store_terms(c, i, n, &terms, bad);
}

LOSSD_INLINE void box_loss_loop(const lossd_call *restrict c, size_t begin, size_t end,
                                double *restrict out, double *restrict grad,
                                double *restrict grad_second, int which, bool powered, int format)
{
    box_consts k = *LOSSD__CONSTS(c, box_consts);
    double scale = c->state->term_scale;
    lossd_vm bad = {0};
    size_t i = begin;
    for (; end - i >= LOSSD_LANES; i += LOSSD_LANES)
        box_loss_lanes(c, &k, scale, i, LOSSD_LANES, out + (i - begin), grad, grad_second, which,
                       powered, format, &bad);
    if (i < end)
        box_loss_lanes(c, &k, scale, i, end - i, out + (i - begin), grad, grad_second, which,
                       powered, format, &bad);
    lossd__report_nonfinite(c, begin, lossd_v_count(bad));
}

/*
 * One loop per case of the gradients: none, the input's (as before the
 * target had one: those loops are unchanged), or the target's with or
 * without the input's (grad is then decided per vector, a branch that
 * always goes the same way).
 */
LOSSD_INLINE void box_loss_cases(const lossd_call *c, size_t begin, size_t end, double *out,
                                 int which, bool powered, int format)
{
    if (c->grad_second)
        box_loss_loop(c, begin, end, out, c->grad, c->grad_second, which, powered, format);
    else if (c->grad)
        box_loss_loop(c, begin, end, out, c->grad, NULL, which, powered, format);
    else
        box_loss_loop(c, begin, end, out, NULL, NULL, which, powered, format);
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

/* One kernel per loss: box_loss_kernel specialised by its constant. */
BOX_KERNEL(iou_loss_kernel, box_loss_kernel, BOX_IOU)
BOX_KERNEL(giou_loss_kernel, box_loss_kernel, BOX_GIOU)
BOX_KERNEL(diou_loss_kernel, box_loss_kernel, BOX_DIOU)
BOX_KERNEL(ciou_loss_kernel, box_loss_kernel, BOX_CIOU)
BOX_KERNEL(siou_loss_kernel, box_loss_kernel, BOX_SIOU)
BOX_KERNEL(eiou_loss_kernel, box_loss_kernel, BOX_EIOU)
BOX_KERNEL(nwd_loss_kernel, box_loss_kernel, BOX_NWD)

/* ------------------------------------------------------------ registry rows */

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

static const char *const iou_terms[] = {"iou", NULL};
static const char *const giou_terms[] = {"iou", "enclosing_area", NULL};
static const char *const diou_terms[] = {"iou", "rho2", "c2", NULL};
static const char *const ciou_terms[] = {"iou", "rho2", "c2", "v", "aspect_weight", NULL};
/* The aspect weight was "alpha" until 0.2.0, the name of Alpha-IoU's parameter on the same row. */
static const lossd_term_alias ciou_term_aliases[] = {{"alpha", "aspect_weight", "0.3.0"}, {NULL}};
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

#define BOX_LOSS_FLAGS (LOSSD_FN_GRAD | LOSSD_FN_GRAD_SECOND | LOSSD_FN_TERMS)

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
     .impl = LOSSD__IMPL(.prepare = lossd__box_prepare, .kernel = iou_loss_kernel)},
    {.kind = LOSSD_KIND_LOSS,
     .name = "giou",
     .summary = "Generalized IoU loss (Rezatofighi et al. 2019)",
     .formula = "1 - \\mathrm{IoU} + \\frac{|C| - |A \\cup B|}{|C| + \\epsilon}",
     .reference = "torchvision.ops.generalized_box_iou_loss",
     .flags = BOX_LOSS_FLAGS,
     .operands = BOX_OPERANDS,
     .params = LOSSD__PARAMS(alpha_iou_params),
     .terms = giou_terms,
     .impl = LOSSD__IMPL(.prepare = lossd__box_prepare, .kernel = giou_loss_kernel)},
    {.kind = LOSSD_KIND_LOSS,
     .name = "diou",
     .summary = "Distance IoU loss (Zheng et al. 2020)",
     .formula = "1 - \\mathrm{IoU} + \\frac{\\rho^2(b, b^{gt})}{c^2 + \\epsilon}",
     .reference = "torchvision.ops.distance_box_iou_loss",
     .flags = BOX_LOSS_FLAGS,
     .operands = BOX_OPERANDS,
     .params = LOSSD__PARAMS(alpha_iou_params),
     .terms = diou_terms,
     .impl = LOSSD__IMPL(.prepare = lossd__box_prepare, .kernel = diou_loss_kernel)},
    {.kind = LOSSD_KIND_LOSS,
     .name = "ciou",
     .summary = "Complete IoU loss (Zheng et al. 2020); its aspect weight is a constant in the "
                "gradient",
     .formula = "1 - \\mathrm{IoU} + \\frac{\\rho^2}{c^2} + \\beta v,\\ v = \\frac{4}{\\pi^2}"
                "\\left(\\arctan\\frac{w^{gt}}{h^{gt}} - \\arctan\\frac{w}{h}\\right)^2,\\ "
                "\\beta = \\frac{v}{1 - \\mathrm{IoU} + v + \\epsilon}",
     .reference = "torchvision.ops.complete_box_iou_loss",
     .flags = BOX_LOSS_FLAGS,
     .operands = BOX_OPERANDS,
     .params = LOSSD__PARAMS(alpha_iou_params),
     .terms = ciou_terms,
     .term_aliases = ciou_term_aliases,
     .impl = LOSSD__IMPL(.prepare = lossd__box_prepare, .kernel = ciou_loss_kernel)},
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
     .impl = LOSSD__IMPL(.prepare = lossd__box_prepare, .kernel = siou_loss_kernel)},
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
     .impl = LOSSD__IMPL(.prepare = lossd__box_prepare, .kernel = eiou_loss_kernel)},
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
     .impl = LOSSD__IMPL(.prepare = lossd__box_prepare, .kernel = nwd_loss_kernel)},
};

LOSSD__MODULE(lossd__box_module, box_functions);
