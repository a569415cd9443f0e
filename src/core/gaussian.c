/* SPDX-License-Identifier: MIT */
/*
 * gaussian.c - the Gaussian losses of oriented boxes: Ultralytics'
 * ProbIoU, mmrotate's GWD, KLD and KFIoU, with autograd's gradients, and
 * the ProbIoU matrix (docs/functions.md, "Oriented boxes").
 *
 * Each box is read as a 2-D Gaussian - mean the centre, covariance from
 * (w, h, r) - and each loss is a distance between the two Gaussians,
 * written line by line as its source writes it:
 *   - probiou: ultralytics/utils/metrics.py, probiou() and
 *     _get_covariance_matrix() (a, b, c = the covariance of a uniform
 *     box, w^2/12 ...), batch_probiou() for the matrix;
 *   - gwd, kld: mmrotate/models/losses/gaussian_dist_loss.py of mmrotate
 *     0.3.x and 1.0.0rc (xy_wh_r_2_xy_sigma's Sigma = R diag((w/2)^2,
 *     (h/2)^2) R^T with w, h clamped to [1e-7, 1e7], gwd_loss, kld_loss,
 *     postprocess; defaults of the GDLoss module);
 *   - kfiou: mmrotate/models/losses/kf_iou_loss.py of 1.0.0rc, kfiou_loss's
 *     overlap term (det Sigma clamped at eps before its square root).
 * The gradients are autograd's of those lines, in their order, derived by
 * hand: a clamp passes the gradient where its input is inside its bounds,
 * bounds included (torch's clamp backward); a square root of an exact 0
 * (ProbIoU of a box with w = 0, KFIoU's sqrt(det)) passes 0 where autograd
 * would give an infinity or a NaN. det is a00 a11 - a01 a10 (torch's LU
 * gives the same to rounding), inverses the adjugate over it.
 *
 * Boxes run LOSSD_LANES at a time, one per lane, branch-free: the AVX2
 * twin does four pairs per vector, with Sleef's cos and sin.
 *
 * Thread-safe: kernels write only their own units' slots.
 */
#include "oriented.h"

enum { G_PROBIOU, G_GWD, G_KLD, G_KFIOU };
enum { FUN_LOG1P, FUN_SQRT, FUN_NONE }; /* gwd, kld: fun */
enum { KF_NONE, KF_LN, KF_EXP };        /* kfiou: fun */

static const char *const gd_funs[] = {"log1p", "sqrt", "none", NULL};
static const char *const kf_funs[] = {"none", "ln", "exp", NULL};

/* mmrotate's clamps: of w and h, and of every distance before a square root. */
#define GD_MIN 1e-7
#define GD_MAX 1e7

/* Per-call constants (LOSSD__CONSTS) of the Gaussian losses and the ProbIoU matrix. */
typedef struct {
    int angle_unit; /* ANGLE_* */
    int fun;        /* FUN_* (gwd, kld) or KF_* (kfiou) */
    double eps;     /* probiou, kfiou */
    double tau;     /* gwd, kld */
    double alpha2;  /* gwd, kld: alpha * alpha */
    bool flag;      /* probiou: ciou; gwd: normalize; kld: sqrt */
} gaussian_consts;

static int gaussian_prepare(lossd_call *c, lossd_error *err)
{
    gaussian_consts *k = LOSSD__CONSTS_SET(c, gaussian_consts);
    k->angle_unit = lossd__param_choice(c, "angle_unit");
    k->fun = lossd__param_index(c->fn, "fun") >= 0 ? lossd__param_choice(c, "fun") : 0;
    k->eps = lossd__param_number_or(c, "eps", 0.0);
    k->tau = lossd__param_number_or(c, "tau", 0.0);
    double alpha = lossd__param_number_or(c, "alpha", 1.0);
    k->alpha2 = alpha * alpha; /* mmrotate: alpha * alpha * whr, xy / (alpha * alpha) */
    k->flag = lossd__param_number_or(c, "ciou", 0) != 0 ||
              lossd__param_number_or(c, "normalize", 0) != 0 ||
              lossd__param_number_or(c, "sqrt", 0) != 0;
    (void)err;
    return 0;
}

/* ------------------------------------------------------------ lanes of boxes and matrices */

/* LOSSD_LANES cxcywhr boxes, one number per vector (r in radians). */
typedef struct {
    lossd_vd x, y, w, h, r;
} gbox;

/* Boxes i..i+n-1 of a (N, 5) array; missing lanes read 0. */
LOSSD_INLINE gbox gbox_read(const double *p, size_t n, int unit)
{
    gbox b = {lossd_v_gather(p, 5, n), lossd_v_gather(p + 1, 5, n), lossd_v_gather(p + 2, 5, n),
              lossd_v_gather(p + 3, 5, n), lossd_v_gather(p + 4, 5, n)};
    if (unit == ANGLE_DEG)
        b.r = b.r * M_PI / 180.0;
    return b;
}

/* One box in every lane. */
LOSSD_INLINE gbox gbox_one(const double *p, int unit)
{
    return (gbox){lossd_v_set1(p[0]), lossd_v_set1(p[1]), lossd_v_set1(p[2]), lossd_v_set1(p[3]),
                  lossd_v_set1(obox_radians(p[4], unit))};
}

/* Lanes of 2 x 2 matrices. */
typedef struct {
    lossd_vd m00, m01, m10, m11;
} mat2;

LOSSD_INLINE mat2 mat_mul(mat2 a, mat2 b)
{
    return (mat2){a.m00 * b.m00 + a.m01 * b.m10, a.m00 * b.m01 + a.m01 * b.m11,
                  a.m10 * b.m00 + a.m11 * b.m10, a.m10 * b.m01 + a.m11 * b.m11};
}

LOSSD_INLINE mat2 mat_t(mat2 a)
{
    return (mat2){a.m00, a.m10, a.m01, a.m11};
}

LOSSD_INLINE mat2 mat_add(mat2 a, mat2 b)
{
    return (mat2){a.m00 + b.m00, a.m01 + b.m01, a.m10 + b.m10, a.m11 + b.m11};
}

LOSSD_INLINE lossd_vd mat_det(mat2 a)
{
    return a.m00 * a.m11 - a.m01 * a.m10;
}

/* d det / d a: the adjugate, transposed. */
LOSSD_INLINE mat2 mat_det_grad(mat2 a, lossd_vd g)
{
    return (mat2){g * a.m11, -g * a.m10, -g * a.m01, g * a.m00};
}

/* The inverse as the adjugate over the determinant. */
LOSSD_INLINE mat2 mat_inv(mat2 a)
{
    lossd_vd d = mat_det(a);
    return (mat2){a.m11 / d, -a.m01 / d, -a.m10 / d, a.m00 / d};
}

/* max(x, lo) and where the clamp passes the gradient (x >= lo, as torch's clamp). */
LOSSD_INLINE lossd_vd clamp_min(lossd_vd x, double lo, lossd_vm *pass)
{
    *pass = x >= lo;
    return lossd_v_select(*pass, x, lossd_v_set1(lo));
}

/* g where the mask holds, else 0. */
LOSSD_INLINE lossd_vd masked(lossd_vm m, lossd_vd g)
{
    return lossd_v_select(m, g, lossd_v_set1(0.0));
}

/* ------------------------------------------------------------ mmrotate's Gaussian */

/* xy_wh_r_2_xy_sigma of lanes of boxes, and what its backward needs. */
typedef struct {
    mat2 s;
    lossd_vd c, sn, half_w, half_h, s1, s2;
    lossd_vm pass_w, pass_h;
} gd_sigma;

LOSSD_INLINE gd_sigma gd_sigma_of(gbox b)
{
    gd_sigma g;
    g.pass_w = (b.w >= GD_MIN) & (b.w <= GD_MAX);
    g.pass_h = (b.h >= GD_MIN) & (b.h <= GD_MAX);
    lossd_vd w = lossd_v_fmin(lossd_v_fmax(b.w, lossd_v_set1(GD_MIN)), lossd_v_set1(GD_MAX));
    lossd_vd h = lossd_v_fmin(lossd_v_fmax(b.h, lossd_v_set1(GD_MIN)), lossd_v_set1(GD_MAX));
    g.half_w = 0.5 * w;
    g.half_h = 0.5 * h;
    g.s1 = g.half_w * g.half_w;
    g.s2 = g.half_h * g.half_h;
    g.c = lossd_v_cos(b.r);
    g.sn = lossd_v_sin(b.r);
    /* R.bmm(S.square()).bmm(R.permute(0, 2, 1)), R = [[c, -s], [s, c]] */
    lossd_vd rs00 = g.c * g.s1, rs01 = -g.sn * g.s2, rs10 = g.sn * g.s1, rs11 = g.c * g.s2;
    g.s = (mat2){rs00 * g.c + rs01 * -g.sn, rs00 * g.sn + rs01 * g.c, rs10 * g.c + rs11 * -g.sn,
                 rs10 * g.sn + rs11 * g.c};
    return g;
}

/* d/d(w, h, r) of a function of Sigma whose gradient with respect to Sigma is gs. */
LOSSD_INLINE void gd_sigma_grad(const gd_sigma *g, mat2 gs, lossd_vd *gw, lossd_vd *gh,
                                lossd_vd *gr)
{
    lossd_vd cc = g->c * g->c, ss = g->sn * g->sn, cs = g->c * g->sn, off = gs.m01 + gs.m10;
    lossd_vd g_s1 = gs.m00 * cc + off * cs + gs.m11 * ss;
    lossd_vd g_s2 = gs.m00 * ss - off * cs + gs.m11 * cc;
    *gr = (g->s1 - g->s2) * (2 * cs * (gs.m11 - gs.m00) + (cc - ss) * off);
    *gw = masked(g->pass_w, g_s1 * g->half_w); /* d (0.5 w)^2 / dw = 0.5 w */
    *gh = masked(g->pass_h, g_s2 * g->half_h);
}

/* mmrotate's postprocess(d, fun, tau) and its derivative. */
LOSSD_INLINE lossd_vd gd_postprocess(lossd_vd d, int fun, double tau, lossd_vd *dd)
{
    lossd_vd y = d, dy = lossd_v_set1(1.0);
    if (fun == FUN_LOG1P) {
        y = lossd_v_log1p(d);
        dy = 1 / (1 + d);
    } else if (fun == FUN_SQRT) {
        lossd_vm pass;
        y = lossd_v_sqrt(clamp_min(d, GD_MIN, &pass));
        dy = masked(pass, 0.5 / y);
    }
    if (tau >= 1) {
        lossd_vd z = tau + y;
        *dd = dy / (z * z);
        return 1 - 1 / z;
    }
    *dd = dy;
    return y;
}

/* The gradient of a loss with respect to box p (lanes), before the angle unit. */
typedef struct {
    lossd_vd x, y, w, h, r;
} gbox_grad;

/*
 * gwd_loss: its value, d (before postprocess) in *dist, and with grad the
 * gradient times up.
 */
LOSSD_INLINE lossd_vd gwd_lanes(gbox p, gbox t, const gaussian_consts *k, lossd_vd up,
                                gbox_grad *grad, lossd_vd *dist)
{
    gd_sigma gp = gd_sigma_of(p), gt = gd_sigma_of(t);
    lossd_vd dx = p.x - t.x, dy = p.y - t.y;
    lossd_vd xy = dx * dx + dy * dy;
    lossd_vd trace_p = gp.s.m00 + gp.s.m11, trace_t = gt.s.m00 + gt.s.m11;
    mat2 pt = mat_mul(gp.s, gt.s);
    lossd_vd tt = pt.m00 + pt.m11;
    lossd_vd det_p = mat_det(gp.s), det_t = mat_det(gt.s);
    lossd_vm pass_pd, pass_q, pass_z, pass_s1, pass_m1, pass_m2;
    lossd_vd s = lossd_v_sqrt(clamp_min(det_p * det_t, GD_MIN, &pass_pd));
    lossd_vd sq = lossd_v_sqrt(clamp_min(tt + 2 * s, GD_MIN, &pass_q));
    lossd_vd whr = trace_p + trace_t + -2 * sq;
    lossd_vd d0 = lossd_v_sqrt(clamp_min(xy + k->alpha2 * whr, GD_MIN, &pass_z));
    lossd_vd d = d0, m1 = d0, m2 = d0, scale = d0;
    if (k->flag) { /* normalize */
        m1 = lossd_v_sqrt(clamp_min(s, GD_MIN, &pass_s1));
        m2 = lossd_v_sqrt(clamp_min(m1, GD_MIN, &pass_m1));
        scale = 2 * clamp_min(m2, GD_MIN, &pass_m2);
        d = d0 / scale;
    }
    *dist = d;
    lossd_vd dpost, loss = gd_postprocess(d, k->fun, k->tau, &dpost);
    if (grad == NULL)
        return loss;

    lossd_vd g_d = up * dpost, g_d0 = g_d, g_s = lossd_v_set1(0.0);
    if (k->flag) {
        g_d0 = g_d / scale;
        lossd_vd g_m2 = masked(pass_m2, 2 * (-g_d * d / scale));
        lossd_vd g_m1 = masked(pass_m1, g_m2 * 0.5 / m2);
        g_s = masked(pass_s1, g_m1 * 0.5 / m1);
    }
    lossd_vd g_z = masked(pass_z, g_d0 * 0.5 / d0);
    lossd_vd g_whr = k->alpha2 * g_z, g_q = masked(pass_q, -2 * g_whr * 0.5 / sq);
    g_s += 2 * g_q;
    lossd_vd g_det_p = masked(pass_pd, g_s * 0.5 / s) * det_t;
    mat2 gs = mat_det_grad(gp.s, g_det_p);
    /* d tr(P T) / dP = T^T, d tr P / dP = I */
    gs.m00 += g_q * gt.s.m00 + g_whr;
    gs.m01 += g_q * gt.s.m10;
    gs.m10 += g_q * gt.s.m01;
    gs.m11 += g_q * gt.s.m11 + g_whr;
    gd_sigma_grad(&gp, gs, &grad->w, &grad->h, &grad->r);
    grad->x = 2 * dx * g_z;
    grad->y = 2 * dy * g_z;
    return loss;
}

/* kld_loss, as gwd_lanes. */
LOSSD_INLINE lossd_vd kld_lanes(gbox p, gbox t, const gaussian_consts *k, lossd_vd up,
                                gbox_grad *grad, lossd_vd *dist)
{
    gd_sigma gp = gd_sigma_of(p), gt = gd_sigma_of(t);
    lossd_vd det_p = mat_det(gp.s), det_t = mat_det(gt.s);
    mat2 adj = {gp.s.m11, -gp.s.m01, -gp.s.m10, gp.s.m00};
    mat2 inv = {adj.m00 / det_p, adj.m01 / det_p, adj.m10 / det_p, adj.m11 / det_p};
    lossd_vd dx = p.x - t.x, dy = p.y - t.y;
    /* dxy^T inv dxy as bmm computes it: (dx inv00 + dy inv10) dx + (dx inv01 + dy inv11) dy */
    lossd_vd xy = 0.5 * ((dx * inv.m00 + dy * inv.m10) * dx + (dx * inv.m01 + dy * inv.m11) * dy);
    mat2 it = mat_mul(inv, gt.s);
    lossd_vd whr = 0.5 * (it.m00 + it.m11);
    whr = whr + 0.5 * (lossd_v_log(det_p) - lossd_v_log(det_t));
    whr = whr - 1;
    lossd_vd d0 = xy / k->alpha2 + whr, d = d0;
    lossd_vm pass_d = d0 == d0;
    if (k->flag) /* sqrt */
        d = lossd_v_sqrt(clamp_min(d0, GD_MIN, &pass_d));
    *dist = d;
    lossd_vd dpost, loss = gd_postprocess(d, k->fun, k->tau, &dpost);
    if (grad == NULL)
        return loss;

    lossd_vd g_d0 = up * dpost;
    if (k->flag)
        g_d0 = masked(pass_d, g_d0 * 0.5 / d);
    lossd_vd g_xy = g_d0 / k->alpha2, g_whr = g_d0;
    lossd_vd half_xy = 0.5 * g_xy, half_whr = 0.5 * g_whr;
    /* d inv: from xy (dx dx^T / 2) and from tr(inv T) / 2 (T^T) */
    mat2 g_inv = {half_xy * dx * dx + half_whr * gt.s.m00, half_xy * dx * dy + half_whr * gt.s.m10,
                  half_xy * dy * dx + half_whr * gt.s.m01, half_xy * dy * dy + half_whr * gt.s.m11};
    lossd_vd g_det = half_whr / det_p; /* log det_p */
    g_det -=
        (g_inv.m00 * inv.m00 + g_inv.m01 * inv.m01 + g_inv.m10 * inv.m10 + g_inv.m11 * inv.m11) /
        det_p;
    mat2 gs = mat_det_grad(gp.s, g_det);
    /* adj = [[s11, -s01], [-s10, s00]] */
    gs.m00 += g_inv.m11 / det_p;
    gs.m11 += g_inv.m00 / det_p;
    gs.m01 -= g_inv.m01 / det_p;
    gs.m10 -= g_inv.m10 / det_p;
    gd_sigma_grad(&gp, gs, &grad->w, &grad->h, &grad->r);
    lossd_vd sym = inv.m01 + inv.m10;
    grad->x = half_xy * (2 * dx * inv.m00 + dy * sym);
    grad->y = half_xy * (dx * sym + 2 * dy * inv.m11);
    return loss;
}

/* sqrt(x) and d sqrt / dx, which is 0 at x = 0 (autograd: infinite; docs/functions.md). */
LOSSD_INLINE lossd_vd sqrt_or_flat(lossd_vd x, lossd_vd *d)
{
    lossd_vd y = lossd_v_sqrt(x);
    *d = masked(y > 0, 0.5 / y);
    return y;
}

/* kfiou_loss's overlap term, as gwd_lanes (dist: k). */
LOSSD_INLINE lossd_vd kfiou_lanes(gbox p, gbox t, const gaussian_consts *k, lossd_vd up,
                                  gbox_grad *grad, lossd_vd *dist)
{
    gd_sigma gp = gd_sigma_of(p), gt = gd_sigma_of(t);
    lossd_vd det_p = mat_det(gp.s), dsq_p, dsq_t;
    lossd_vd vp = 4 * sqrt_or_flat(det_p, &dsq_p), vt = 4 * sqrt_or_flat(mat_det(gt.s), &dsq_t);
    mat2 m_inv = mat_inv(mat_add(gp.s, gt.s));
    mat2 kk = mat_mul(gp.s, m_inv), ks = mat_mul(kk, gp.s);
    mat2 s = {gp.s.m00 - ks.m00, gp.s.m01 - ks.m01, gp.s.m10 - ks.m10, gp.s.m11 - ks.m11};
    lossd_vm pass_s;
    lossd_vd v = 4 * lossd_v_sqrt(clamp_min(mat_det(s), k->eps, &pass_s));
    lossd_vm nan_v = v != v; /* torch.where(isnan(Vb), 0, Vb) */
    v = masked(~nan_v, v);
    lossd_vd den = vp + vt - v + k->eps, kf = v / den;
    *dist = kf;
    lossd_vd f, df;
    if (k->fun == KF_LN) {
        f = -lossd_v_log(kf + k->eps);
        df = -1 / (kf + k->eps);
    } else if (k->fun == KF_EXP) {
        lossd_vd e = lossd_v_exp(1 - kf);
        f = e - 1;
        df = -e;
    } else {
        f = 1 - kf;
        df = lossd_v_set1(-1.0);
    }
    lossd_vm pass_f;
    lossd_vd loss = clamp_min(f, 0.0, &pass_f);
    if (grad == NULL)
        return loss;

    lossd_vd g_k = masked(pass_f, up * df);
    lossd_vd g_v = g_k * (den + v) / (den * den), g_vp = -g_k * v / (den * den);
    lossd_vd g_det_s = masked(pass_s & ~nan_v, g_v * 4 * 0.5 / (0.25 * v));
    mat2 g_s = mat_det_grad(s, g_det_s);
    /* S = P - K P, K = P M^-1, M = P + T */
    mat2 g_ks = {-g_s.m00, -g_s.m01, -g_s.m10, -g_s.m11};
    mat2 g_k_mat = mat_mul(g_ks, mat_t(gp.s));
    mat2 gs = mat_add(g_s, mat_mul(mat_t(kk), g_ks));
    gs = mat_add(gs, mat_mul(g_k_mat, mat_t(m_inv)));
    mat2 g_m_inv = mat_mul(mat_t(gp.s), g_k_mat);
    mat2 g_m = mat_mul(mat_mul(mat_t(m_inv), g_m_inv), mat_t(m_inv));
    gs = (mat2){gs.m00 - g_m.m00, gs.m01 - g_m.m01, gs.m10 - g_m.m10, gs.m11 - g_m.m11};
    gs = mat_add(gs, mat_det_grad(gp.s, g_vp * 4 * dsq_p));
    gd_sigma_grad(&gp, gs, &grad->w, &grad->h, &grad->r);
    grad->x = grad->y = lossd_v_set1(0.0); /* the centre offsets are KFLoss's Smooth L1 term */
    return loss;
}

/* ------------------------------------------------------------ Ultralytics' ProbIoU */

/* _get_covariance_matrix of lanes of boxes: a, b, c and what their backward needs. */
typedef struct {
    lossd_vd a, b, c, big_a, big_b, cos, sin, cos2, sin2;
} pr_cov;

LOSSD_INLINE pr_cov pr_cov_of(gbox x)
{
    pr_cov v;
    v.big_a = x.w * x.w / 12; /* boxes[:, 2:4].pow(2) / 12 */
    v.big_b = x.h * x.h / 12;
    v.cos = lossd_v_cos(x.r);
    v.sin = lossd_v_sin(x.r);
    v.cos2 = v.cos * v.cos;
    v.sin2 = v.sin * v.sin;
    v.a = v.big_a * v.cos2 + v.big_b * v.sin2;
    v.b = v.big_a * v.sin2 + v.big_b * v.cos2;
    v.c = (v.big_a - v.big_b) * v.cos * v.sin;
    return v;
}

/* d/d(w, h, r) of a function of (a, b, c) whose gradients are ga, gb, gc. */
LOSSD_INLINE void pr_cov_grad(const pr_cov *v, gbox x, lossd_vd ga, lossd_vd gb, lossd_vd gc,
                              gbox_grad *g)
{
    lossd_vd g_big_a = ga * v->cos2 + gb * v->sin2 + gc * v->cos * v->sin;
    lossd_vd g_big_b = ga * v->sin2 + gb * v->cos2 - gc * v->cos * v->sin;
    lossd_vd g_cos =
        2 * v->cos * (ga * v->big_a + gb * v->big_b) + gc * (v->big_a - v->big_b) * v->sin;
    lossd_vd g_sin =
        2 * v->sin * (ga * v->big_b + gb * v->big_a) + gc * (v->big_a - v->big_b) * v->cos;
    g->r = -v->sin * g_cos + v->cos * g_sin;
    g->w = g_big_a * 2 * x.w / 12;
    g->h = g_big_b * 2 * x.h / 12;
}

/* d atan(w / h) / d(w, h) times g, added to *gw, *gh; 0 where h = 0 (autograd: NaN). */
LOSSD_INLINE void ratio_atan_grad(lossd_vd w, lossd_vd h, lossd_vd g, lossd_vd *gw, lossd_vd *gh)
{
    lossd_vd ratio = w / h, g_ratio = g / (1 + ratio * ratio);
    lossd_vm live = h != 0;
    *gw += masked(live, g_ratio / h);
    *gh += masked(live, -g_ratio * w / (h * h));
}

/*
 * probiou(obb1 = p, obb2 = t, CIoU = k->flag, eps): the loss 1 - (ProbIoU,
 * CIoU-adjusted), *raw the ProbIoU before the adjustment, *bd the clamped
 * Bhattacharyya distance; with grad, the gradient with respect to p times up.
 */
LOSSD_INLINE lossd_vd probiou_lanes(gbox p, gbox t, const gaussian_consts *k, lossd_vd up,
                                    gbox_grad *grad, lossd_vd *raw, lossd_vd *bd_out)
{
    double eps = k->eps;
    pr_cov c1 = pr_cov_of(p), c2 = pr_cov_of(t);
    lossd_vd sa = c1.a + c2.a, sb = c1.b + c2.b, sc = c1.c + c2.c;
    lossd_vd d = sa * sb - sc * sc, de = d + eps;
    lossd_vd dx = p.x - t.x, dy = p.y - t.y; /* x1 - x2, y1 - y2 */
    lossd_vd n1 = sa * (dy * dy) + sb * (dx * dx);
    lossd_vd t1 = (n1 / de) * 0.25;
    lossd_vd n2 = sc * (t.x - p.x) * dy;
    lossd_vd t2 = (n2 / de) * 0.5;
    lossd_vm pass_e1, pass_e2;
    lossd_vd e1 = clamp_min(c1.a * c1.b - c1.c * c1.c, 0.0, &pass_e1);
    lossd_vd e2 = clamp_min(c2.a * c2.b - c2.c * c2.c, 0.0, &pass_e2);
    lossd_vd d_sq, sq = sqrt_or_flat(e1 * e2, &d_sq);
    lossd_vd den3 = 4 * sq + eps, l3 = d / den3 + eps;
    lossd_vd t3 = lossd_v_log(l3) * 0.5;
    lossd_vd sum = t1 + t2 + t3;
    lossd_vm pass_bd = (sum >= eps) & (sum <= 100.0);
    lossd_vd bd = lossd_v_fmin(lossd_v_fmax(sum, lossd_v_set1(eps)), lossd_v_set1(100.0));
    lossd_vd e = lossd_v_exp(-bd);
    lossd_vd hd = lossd_v_sqrt(1.0 - e + eps);
    lossd_vd iou = 1 - hd, out = iou, v = iou, alpha = iou, datan = iou;
    if (k->flag) { /* CIoU: the aspect term, alpha under no_grad */
        datan = lossd_v_atan(t.w / t.h) - lossd_v_atan(p.w / p.h);
        v = (4 / (M_PI * M_PI)) * (datan * datan);
        alpha = v / (v - iou + (1 + eps));
        out = iou - v * alpha;
    }
    *raw = iou;
    *bd_out = bd;
    if (grad == NULL)
        return 1 - out;

    lossd_vd g_out = -up, g_iou = g_out;
    lossd_vd g_bd = masked(pass_bd, -g_iou * 0.5 / hd * e);
    lossd_vd g_l3 = 0.5 * g_bd / l3;
    lossd_vd g_d = g_l3 / den3;
    lossd_vd g_sq = 4 * (-g_l3 * d / (den3 * den3));
    lossd_vd g_e1 = masked(pass_e1, g_sq * d_sq * e2);
    lossd_vd g_n1 = 0.25 * g_bd / de, g_n2 = 0.5 * g_bd / de;
    g_d += -(g_n1 * n1 + g_n2 * n2) / de; /* both share D + eps */
    lossd_vd g_sa = g_n1 * (dy * dy) + g_d * sb;
    lossd_vd g_sb = g_n1 * (dx * dx) + g_d * sa;
    lossd_vd g_sc = g_n2 * (t.x - p.x) * dy - 2 * sc * g_d;
    lossd_vd g_a = g_sa + g_e1 * c1.b, g_b = g_sb + g_e1 * c1.a, g_c = g_sc - 2 * c1.c * g_e1;
    pr_cov_grad(&c1, p, g_a, g_b, g_c, grad);
    grad->x = g_n1 * sb * 2 * dx - g_n2 * sc * dy;
    grad->y = g_n1 * sa * 2 * dy + g_n2 * sc * (t.x - p.x);
    if (k->flag) {
        lossd_vd g_datan = -g_out * alpha * (4 / (M_PI * M_PI)) * 2 * datan;
        ratio_atan_grad(p.w, p.h, -g_datan, &grad->w, &grad->h);
    }
    return 1 - out;
}

/* ------------------------------------------------------------ kernels */

/* One of the four losses; terms[0] (and for probiou terms[1]) receive its extras. */
LOSSD_INLINE lossd_vd gaussian_lanes(int which, gbox p, gbox t, const gaussian_consts *k,
                                     lossd_vd up, gbox_grad *grad, lossd_vd terms[2])
{
    switch (which) {
    case G_PROBIOU:
        return probiou_lanes(p, t, k, up, grad, &terms[0], &terms[1]);
    case G_GWD:
        return gwd_lanes(p, t, k, up, grad, &terms[0]);
    case G_KLD:
        return kld_lanes(p, t, k, up, grad, &terms[0]);
    default:
        return kfiou_lanes(p, t, k, up, grad, &terms[0]);
    }
}

/* Boxes i..i+n-1: the loss, its gradient and its extras, written and tallied. */
LOSSD_INLINE void gaussian_step(const lossd_call *restrict c, const gaussian_consts *k,
                                double scale, size_t i, size_t n, double *restrict out,
                                double *restrict grad, int which, lossd_vm *bad)
{
    gbox p = gbox_read(c->operand[0].data + 5 * i, n, k->angle_unit);
    gbox t = gbox_read(c->operand[1].data + 5 * i, n, k->angle_unit);
    lossd_vd up = grad ? lossd__upstream(c, scale, i, n) : lossd_v_set1(0.0);
    gbox_grad g;
    lossd_vd terms[2];
    lossd_vd loss = scale * gaussian_lanes(which, p, t, k, up, grad ? &g : NULL, terms);
    lossd_v_store_n(out, loss, n);
    if (!lossd__reduced(c))
        lossd__tally_nonfinite(bad, loss, n);
    if (grad) {
        lossd_vd cols[5] = {g.x, g.y, g.w, g.h, g.r * obox_angle_scale(k->angle_unit)};
        for (int j = 0; j < 5; j++) {
            lossd_v_scatter(grad + 5 * i + j, 5, cols[j], n);
            lossd__tally_nonfinite(bad, cols[j], n);
        }
    }
    if (c->terms[0])
        for (size_t j = 0; j < (which == G_PROBIOU ? 2u : 1u); j++) {
            lossd_v_store_n(c->terms[j] + i, terms[j], n);
            lossd__tally_nonfinite(bad, terms[j], n);
        }
}

LOSSD_INLINE void gaussian_loop(const lossd_call *restrict c, size_t begin, size_t end,
                                double *restrict out, double *restrict grad, int which)
{
    gaussian_consts k = *LOSSD__CONSTS(c, gaussian_consts);
    double scale = c->state->term_scale;
    lossd_vm bad = {0};
    size_t i = begin;
    for (; end - i >= LOSSD_LANES; i += LOSSD_LANES)
        gaussian_step(c, &k, scale, i, LOSSD_LANES, out + (i - begin), grad, which, &bad);
    if (i < end)
        gaussian_step(c, &k, scale, i, end - i, out + (i - begin), grad, which, &bad);
    lossd__report_nonfinite(c, begin, lossd_v_count(bad));
}

LOSSD_INLINE size_t gaussian_kernel(const lossd_call *c, size_t begin, size_t end, double *out,
                                    int which)
{
    if (c->grad) /* one loop each, so that no lane tests for the gradient */
        gaussian_loop(c, begin, end, out, c->grad, which);
    else
        gaussian_loop(c, begin, end, out, NULL, which);
    return 0;
}

static size_t probiou_kernel(const lossd_call *c, size_t begin, size_t end, double *out)
{
    return gaussian_kernel(c, begin, end, out, G_PROBIOU);
}

static size_t gwd_kernel(const lossd_call *c, size_t begin, size_t end, double *out)
{
    return gaussian_kernel(c, begin, end, out, G_GWD);
}

static size_t kld_kernel(const lossd_call *c, size_t begin, size_t end, double *out)
{
    return gaussian_kernel(c, begin, end, out, G_KLD);
}

static size_t kfiou_kernel(const lossd_call *c, size_t begin, size_t end, double *out)
{
    return gaussian_kernel(c, begin, end, out, G_KFIOU);
}

/* Rows [begin, end) of batch_probiou's matrix: ProbIoU without CIoU. */
static size_t probiou_matrix_kernel(const lossd_call *c, size_t begin, size_t end, double *out)
{
    gaussian_consts k = *LOSSD__CONSTS(c, gaussian_consts);
    k.flag = false;
    size_t m = c->operand[1].size / 5;
    const double *b1 = c->operand[0].data, *b2 = c->operand[1].data;
    lossd_vm bad = {0};
    for (size_t i = begin; i < end; i++) {
        gbox a = gbox_one(b1 + 5 * i, k.angle_unit);
        double *row = out + (i - begin) * m;
        for (size_t j = 0; j < m; j += LOSSD_LANES) {
            size_t n = m - j < LOSSD_LANES ? m - j : LOSSD_LANES;
            lossd_vd raw, bd, zero = lossd_v_set1(0.0);
            probiou_lanes(a, gbox_read(b2 + 5 * j, n, k.angle_unit), &k, zero, NULL, &raw, &bd);
            lossd_v_store_n(row + j, raw, n);
            lossd__tally_nonfinite(&bad, raw, n);
        }
    }
    lossd__report_nonfinite(c, begin, lossd_v_count(bad));
    return 0;
}

/* ------------------------------------------------------------ registry rows */

#define GD_FUN_SPEC                                                                             \
    {                                                                                           \
        .name = "fun", .type = LOSSD_PARAM_CHOICE,                                              \
        .summary = "postprocess's function of the distance: log1p(d), sqrt(max(d, 1e-7)) or d", \
        .choices = gd_funs                                                                      \
    }
#define GD_TAU_SPEC                                                                          \
    {                                                                                        \
        .name = "tau", .type = LOSSD_PARAM_NUMBER,                                           \
        .summary = "tau >= 1: the loss is 1 - 1/(tau + f(d)); below 1 it is f(d) (GDLoss's " \
                   "default 0)",                                                             \
        .default_number = 0.0, .domain = LOSSD__NONNEG                                       \
    }
#define GD_ALPHA_SPEC(what)                                                                  \
    {                                                                                        \
        .name = "alpha", .type = LOSSD_PARAM_NUMBER, .summary = what, .default_number = 1.0, \
        .domain = LOSSD__POSITIVE                                                            \
    }

static const lossd_param_spec probiou_params[] = {
    OBOX_RECT_FORMAT_SPEC,
    ANGLE_UNIT_SPEC,
    {.name = "eps",
     .type = LOSSD_PARAM_NUMBER,
     .summary = "Ultralytics' eps: in each denominator, the logarithm, the square root and the "
                "clamp of the Bhattacharyya distance to [eps, 100]",
     .default_number = 1e-7,
     .domain = LOSSD__POSITIVE},
    {.name = "ciou",
     .type = LOSSD_PARAM_BOOL,
     .summary = "subtract CIoU's aspect term v alpha (alpha a constant), as probiou(CIoU=True)",
     .default_number = 0.0},
};

static const lossd_param_spec gwd_params[] = {
    OBOX_RECT_FORMAT_SPEC,
    ANGLE_UNIT_SPEC,
    GD_FUN_SPEC,
    GD_TAU_SPEC,
    GD_ALPHA_SPEC("weight of the covariance term: d^2 = |mu_p - mu_t|^2 + alpha^2 whr"),
    {.name = "normalize",
     .type = LOSSD_PARAM_BOOL,
     .summary = "divide d by 2 (det Sigma_p det Sigma_t)^(1/8), clamped as mmrotate does",
     .default_number = 1.0},
};

static const lossd_param_spec kld_params[] = {
    OBOX_RECT_FORMAT_SPEC,
    ANGLE_UNIT_SPEC,
    GD_FUN_SPEC,
    GD_TAU_SPEC,
    GD_ALPHA_SPEC("the centre term is divided by alpha^2"),
    {.name = "sqrt",
     .type = LOSSD_PARAM_BOOL,
     .summary = "take sqrt(max(d, 1e-7)) of the divergence before postprocess",
     .default_number = 1.0},
};

static const lossd_param_spec kfiou_params[] = {
    OBOX_RECT_FORMAT_SPEC,
    ANGLE_UNIT_SPEC,
    {.name = "eps",
     .type = LOSSD_PARAM_NUMBER,
     .summary = "kfiou_loss's eps: the clamp of det Sigma, the denominator and ln's argument",
     .default_number = 1e-6,
     .domain = LOSSD__POSITIVE},
    {.name = "fun",
     .type = LOSSD_PARAM_CHOICE,
     .summary = "the loss of the overlap k: 1 - k, -ln(k + eps) or exp(1 - k) - 1",
     .choices = kf_funs},
};

static const lossd_param_spec probiou_matrix_params[] = {
    OBOX_RECT_FORMAT_SPEC,
    ANGLE_UNIT_SPEC,
    {.name = "eps",
     .type = LOSSD_PARAM_NUMBER,
     .summary = "as probiou's eps",
     .default_number = 1e-7,
     .domain = LOSSD__POSITIVE},
};

static const char *const probiou_terms[] = {"probiou", "bhattacharyya", NULL};
static const char *const gwd_terms[] = {"distance", NULL};
static const char *const kld_terms[] = {"divergence", NULL};
static const char *const kfiou_terms[] = {"kfiou", NULL};

#define GAUSSIAN_FLAGS (LOSSD_FN_GRAD | LOSSD_FN_TERMS)

static const lossd_function gaussian_functions[] = {
    {.kind = LOSSD_KIND_LOSS,
     .name = "probiou",
     .summary = "ProbIoU loss (Llerena et al. 2021): one minus the Hellinger affinity of the "
                "boxes' Gaussians, as Ultralytics' OBB models train with",
     .formula = "1 - \\left(1 - \\sqrt{1 - e^{-B} + \\epsilon}\\right),\\ B = "
                "\\mathrm{clamp}(t_1 + t_2 + t_3, \\epsilon, 100)",
     .reference = "1 - ultralytics.utils.metrics.probiou(pred, target, CIoU, eps)",
     .flags = GAUSSIAN_FLAGS,
     .operands = OBOX_OPERANDS,
     .params = LOSSD__PARAMS(probiou_params),
     .terms = probiou_terms,
     .impl = LOSSD__IMPL(.prepare = gaussian_prepare, .kernel = probiou_kernel)},
    {.kind = LOSSD_KIND_LOSS,
     .name = "gwd",
     .summary = "Gaussian Wasserstein distance loss (Yang et al. 2021), mmrotate's GDLoss gwd",
     .formula = "f\\left(\\sqrt{\\lVert \\mu_p - \\mu_t \\rVert^2 + \\alpha^2 \\left(\\mathrm{tr} "
                "\\Sigma_p + \\mathrm{tr} \\Sigma_t - 2 \\sqrt{\\mathrm{tr} \\Sigma_p \\Sigma_t + "
                "2 \\sqrt{|\\Sigma_p| |\\Sigma_t|}}\\right)}\\right)",
     .reference = "mmrotate.models.losses.gaussian_dist_loss.gwd_loss (GDLoss('gwd'))",
     .flags = GAUSSIAN_FLAGS,
     .operands = OBOX_OPERANDS,
     .params = LOSSD__PARAMS(gwd_params),
     .terms = gwd_terms,
     .impl = LOSSD__IMPL(.prepare = gaussian_prepare, .kernel = gwd_kernel)},
    {.kind = LOSSD_KIND_LOSS,
     .name = "kld",
     .summary = "Kullback-Leibler divergence loss of the boxes' Gaussians (Yang et al. 2021), "
                "mmrotate's GDLoss kld",
     .formula = "f\\left(\\sqrt{\\tfrac{1}{2\\alpha^2} \\delta^\\top \\Sigma_p^{-1} \\delta + "
                "\\tfrac12 \\mathrm{tr}(\\Sigma_p^{-1} \\Sigma_t) + \\tfrac12 \\ln "
                "\\frac{|\\Sigma_p|}{|\\Sigma_t|} - 1}\\right)",
     .reference = "mmrotate.models.losses.gaussian_dist_loss.kld_loss (GDLoss('kld'))",
     .flags = GAUSSIAN_FLAGS,
     .operands = OBOX_OPERANDS,
     .params = LOSSD__PARAMS(kld_params),
     .terms = kld_terms,
     .impl = LOSSD__IMPL(.prepare = gaussian_prepare, .kernel = kld_kernel)},
    {.kind = LOSSD_KIND_LOSS,
     .name = "kfiou",
     .summary = "KFIoU's overlap term (Yang et al. 2022), mmrotate's KFLoss without its Smooth "
                "L1 of the encoded centres",
     .formula = "\\max(g(k), 0),\\ k = \\frac{V}{V_p + V_t - V + \\epsilon},\\ V = 4 "
                "\\sqrt{|\\Sigma_p - \\Sigma_p (\\Sigma_p + \\Sigma_t)^{-1} \\Sigma_p|}",
     .reference = "mmrotate.models.losses.kf_iou_loss.kfiou_loss (1.0.0rc), overlap term",
     .flags = GAUSSIAN_FLAGS,
     .operands = OBOX_OPERANDS,
     .params = LOSSD__PARAMS(kfiou_params),
     .terms = kfiou_terms,
     .impl = LOSSD__IMPL(.prepare = gaussian_prepare, .kernel = kfiou_kernel)},
};

LOSSD__MODULE(lossd__gaussian_module, gaussian_functions);

static const lossd_function gaussian_pairwise_functions[] = {
    {.kind = LOSSD_KIND_PAIRWISE,
     .name = "probiou",
     .summary = "pairwise ProbIoU of oriented boxes, an (N,M) matrix",
     .formula = "1 - \\sqrt{1 - e^{-B_{ij}} + \\epsilon}",
     .reference = "ultralytics.utils.metrics.batch_probiou",
     .operands = OBOX_LIST_OPERANDS,
     .params = LOSSD__PARAMS(probiou_matrix_params),
     .impl = LOSSD__IMPL(.prepare = gaussian_prepare, .kernel = probiou_matrix_kernel)},
};

LOSSD__MODULE(lossd__gaussian_pairwise_module, gaussian_pairwise_functions);
