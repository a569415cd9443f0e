# SPDX-License-Identifier: MIT
"""The oriented-box references of lossd's golden vectors (riou, rgiou,
probiou, gwd, kld, kfiou and the riou and probiou matrices), and their cases.

gen_golden.py imports this module and appends its families to the loss and
pairwise files; bench/bench_torch.py times the same references. Everything
is float64 PyTorch, written from the formulas of docs/functions.md
("Oriented boxes"), which follow their sources line by line:

  - riou, rgiou: a differentiable clipping - every corner of one box inside
    the other and every crossing of two edges, sorted by angle around their
    mean, summed by the shoelace formula - whose gradient is autograd's
    through the corners and the crossing points. It is a different
    algorithm from lossd's (Sutherland-Hodgman with provenance), and every
    value it gives is checked here against GEOS, shapely 1.8's
    Polygon(P).intersection(Polygon(Q)).area and
    MultiPoint(P + Q).convex_hull.area, before it is written.
  - probiou: Ultralytics' probiou() and _get_covariance_matrix()
    (ultralytics/utils/metrics.py); batch_probiou() for the matrix.
  - gwd, kld, kfiou: mmrotate's gwd_loss, kld_loss, postprocess and
    xy_wh_r_2_xy_sigma (mmrotate/models/losses/gaussian_dist_loss.py, 0.3.x
    and 1.0.0rc) and kfiou_loss's overlap term (kf_iou_loss.py, 1.0.0rc).

Reference cases avoid degenerate inputs (touching edges, nested boxes with
shared edges, identical boxes), where a candidate-collecting clipping is
not robust: lossd's Check suite holds those with exact expectations.
"""

import math

import torch
from shapely.geometry import MultiPoint, Polygon

F64 = torch.float64
REDUCTIONS = ("mean", "sum", "none")

# --------------------------------------------------------------------------
# Boxes as polygons
# --------------------------------------------------------------------------


def radians(r, angle_unit):
    return r * math.pi / 180.0 if angle_unit == "deg" else r


def rect_corners(boxes, angle_unit="rad"):
    """(..., 5) cxcywhr boxes -> (..., 4, 2) corners, counter-clockwise:
    (cx, cy) +- (w/2) u +- (h/2) v, u = (cos r, sin r), v = (-sin r, cos r)."""
    cx, cy, w, h, r = boxes.unbind(-1)
    r = radians(r, angle_unit)
    c, s = torch.cos(r), torch.sin(r)
    ax, ay = 0.5 * w * c, 0.5 * w * s
    bx, by = -0.5 * h * s, 0.5 * h * c
    sx, sy = (1, -1, -1, 1), (1, 1, -1, -1)
    xs = [cx + sx[j] * ax + sy[j] * bx for j in range(4)]
    ys = [cy + sx[j] * ay + sy[j] * by for j in range(4)]
    return torch.stack([torch.stack(xs, -1), torch.stack(ys, -1)], -1)


def quad_corners(boxes):
    """(..., 8) xyxyxyxy -> (..., 4, 2), turned counter-clockwise (a
    clockwise quadrilateral is read as corners 0 3 2 1)."""
    pts = boxes.reshape(boxes.shape[:-1] + (4, 2))
    area = shoelace(pts.detach())
    ccw = pts[..., [0, 3, 2, 1], :]
    return torch.where((area < 0)[..., None, None], ccw, pts)


def corners_of(boxes, box_format, angle_unit):
    if box_format == "xyxyxyxy":
        return quad_corners(boxes)
    return rect_corners(boxes, angle_unit)


def cross(a, b):
    return a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]


def shoelace(pts):
    """Signed area of (..., n, 2) polygons, as a fan from the first point."""
    rel = pts - pts[..., :1, :]
    return 0.5 * cross(rel[..., 1:-1, :], rel[..., 2:, :]).sum(-1)


def clipped_area(p, q):
    """Area of the intersection of (B, 4, 2) convex counter-clockwise
    polygons p and q, differentiable through the points that make it."""
    ep, eq = p.roll(-1, -2) - p, q.roll(-1, -2) - q
    # a corner of p strictly inside q (every edge of q has it on its left), and vice versa
    p_in = (cross(eq[:, None, :, :], p[:, :, None, :] - q[:, None, :, :]) > 0).all(-1)
    q_in = (cross(ep[:, None, :, :], q[:, :, None, :] - p[:, None, :, :]) > 0).all(-1)
    # edge i of p against edge k of q: p_i + t e_i = q_k + u f_k with 0 < t, u < 1
    a, e = p[:, :, None, :], ep[:, :, None, :]
    c, f = q[:, None, :, :], eq[:, None, :, :]
    den = cross(e, f)
    safe = torch.where(den == 0, torch.ones_like(den), den)
    t, u = cross(c - a, f) / safe, cross(c - a, e) / safe
    hit = (den != 0) & (t > 0) & (t < 1) & (u > 0) & (u < 1)
    crossings = (a + t[..., None] * e).reshape(p.shape[0], 16, 2)
    pts = torch.cat([p, q, crossings], 1)
    valid = torch.cat([p_in, q_in, hit.reshape(p.shape[0], 16)], 1)
    count = valid.sum(1)
    with torch.no_grad():
        centre = (pts * valid[..., None]).sum(1) / count.clamp(min=1)[:, None]
        rel = pts - centre[:, None, :]
        angle = torch.atan2(rel[..., 1], rel[..., 0])
        angle = torch.where(valid, angle, torch.full_like(angle, math.inf))
        order = angle.argsort(1)
        # past the valid points, repeat the first: they add nothing to the area
        slot = torch.arange(24)[None, :].expand(p.shape[0], 24)
        order = torch.where(slot < count[:, None], order, order[:, :1])
    ring = pts.gather(1, order[..., None].expand(-1, -1, 2))
    area = shoelace(ring)
    return torch.where(count >= 3, area, torch.zeros_like(area))


def hull_indices(points):
    """Andrew's monotone chain on (n, 2) detached points: the hull's vertex
    indices, counter-clockwise (collinear points left out)."""
    pts = points.tolist()
    order = sorted(range(len(pts)), key=lambda i: (pts[i][0], pts[i][1]))

    def turn(o, a, b):
        return (pts[a][0] - pts[o][0]) * (pts[b][1] - pts[o][1]) - \
               (pts[a][1] - pts[o][1]) * (pts[b][0] - pts[o][0])

    lower, upper = [], []
    for i in order:
        while len(lower) >= 2 and turn(lower[-2], lower[-1], i) <= 0:
            lower.pop()
        lower.append(i)
    for i in reversed(order):
        while len(upper) >= 2 and turn(upper[-2], upper[-1], i) <= 0:
            upper.pop()
        upper.append(i)
    return lower[:-1] + upper[:-1]


def hull_area(p, q):
    """Area of the convex hull of the 8 corners of each pair, through its vertices."""
    pts = torch.cat([p, q], 1)
    areas = [shoelace(pts[b, hull_indices(pts[b].detach())]) for b in range(pts.shape[0])]
    return torch.stack(areas) if areas else pts.new_zeros(0)


def shapely_overlap(p, q):
    """GEOS's intersection and hull areas of one pair of (4, 2) corner lists."""
    pp, qq = [tuple(v) for v in p.tolist()], [tuple(v) for v in q.tolist()]
    inter = Polygon(pp).intersection(Polygon(qq)).area
    hull = MultiPoint(pp + qq).convex_hull.area
    return inter, hull


def assert_geos(inter, hull, p, q):
    """Every reference value of the clipping and the hull agrees with GEOS to
    1e-12 (relative, or absolute below 1)."""
    for b in range(p.shape[0]):
        want_i, want_c = shapely_overlap(p[b].detach(), q[b].detach())
        for got, want, what in ((inter[b].item(), want_i, "intersection"),
                                (hull[b].item() if hull is not None else want_c, want_c, "hull")):
            assert abs(got - want) <= 1e-12 * max(1.0, abs(want)), \
                f"{what} {got!r} disagrees with GEOS {want!r}"


# --------------------------------------------------------------------------
# Reference losses: (per-box loss, terms) from (input, target)
# --------------------------------------------------------------------------


def flat(x, width):
    return x.reshape(-1, width)


def riou_parts(inp, tgt, box_format="cxcywhr", angle_unit="rad", eps=1e-7, hull=False,
               geos=True):
    """geos=False skips the check against GEOS (the benchmarks time the rest)."""
    width = 8 if box_format == "xyxyxyxy" else 5
    p = corners_of(flat(inp, width), box_format, angle_unit)
    q = corners_of(flat(tgt, width), box_format, angle_unit)
    inter = clipped_area(p, q)
    hull_c = hull_area(p, q) if hull else None
    if geos:
        assert_geos(inter, hull_c, p, q)
    uni = shoelace(p) + shoelace(q) - inter
    iou = inter / (uni + eps)
    loss = 1 - iou
    terms = {"iou": iou, "intersection": inter, "union": uni}
    if hull:
        loss = 1 - (iou - (hull_c - uni) / (hull_c + eps))
        terms = {"iou": iou, "hull_area": hull_c}
    shape = inp.shape[:-1]
    return loss.reshape(shape), {k: v.reshape(shape).detach() for k, v in terms.items()}


def rgiou_parts(inp, tgt, **params):
    return riou_parts(inp, tgt, hull=True, **params)


def in_radians(boxes, angle_unit):
    """cxcywhr boxes with r converted to radians (through autograd)."""
    return torch.cat([boxes[..., :4], radians(boxes[..., 4:], angle_unit)], -1)


def ultralytics_cov(boxes):
    """Ultralytics' _get_covariance_matrix: a, b, c of each (N, 5) box."""
    big = boxes[:, 2:4].pow(2) / 12
    big_a, big_b, r = big[:, 0:1], big[:, 1:2], boxes[:, 4:5]
    cos, sin = r.cos(), r.sin()
    cos2, sin2 = cos.pow(2), sin.pow(2)
    return big_a * cos2 + big_b * sin2, big_a * sin2 + big_b * cos2, (big_a - big_b) * cos * sin


def ultralytics_probiou(obb1, obb2, ciou=False, eps=1e-7, with_bd=False):
    """Ultralytics' probiou (and batch_probiou when obb2's boxes run along a
    second axis: pass obb2 as (1, M, ...) columns, see probiou_matrix)."""
    x1, y1 = obb1[..., 0:1], obb1[..., 1:2]
    x2, y2 = obb2[..., 0:1], obb2[..., 1:2]
    a1, b1, c1 = ultralytics_cov(obb1)
    a2, b2, c2 = ultralytics_cov(obb2)
    det = (a1 + a2) * (b1 + b2) - (c1 + c2).pow(2)
    t1 = (((a1 + a2) * (y1 - y2).pow(2) + (b1 + b2) * (x1 - x2).pow(2)) / (det + eps)) * 0.25
    t2 = (((c1 + c2) * (x2 - x1) * (y1 - y2)) / (det + eps)) * 0.5
    root = ((a1 * b1 - c1.pow(2)).clamp(0) * (a2 * b2 - c2.pow(2)).clamp(0)).sqrt()
    t3 = (det / (4 * root + eps) + eps).log() * 0.5
    bd = (t1 + t2 + t3).clamp(eps, 100.0)
    hd = (1.0 - (-bd).exp() + eps).sqrt()
    iou = 1 - hd
    out = iou
    if ciou:
        w1, h1 = obb1[..., 2:3], obb1[..., 3:4]
        w2, h2 = obb2[..., 2:3], obb2[..., 3:4]
        v = (4 / math.pi ** 2) * ((w2 / h2).atan() - (w1 / h1).atan()).pow(2)
        with torch.no_grad():
            alpha = v / (v - iou + (1 + eps))
        out = iou - v * alpha
    return (out, iou, bd) if with_bd else out


def probiou_parts(inp, tgt, box_format="cxcywhr", angle_unit="rad", eps=1e-7, ciou=False):
    shape = inp.shape[:-1]
    p, t = in_radians(flat(inp, 5), angle_unit), in_radians(flat(tgt, 5), angle_unit)
    out, iou, bd = ultralytics_probiou(p, t, ciou, eps, with_bd=True)
    loss = (1 - out).reshape(shape)
    return loss, {"probiou": iou.reshape(shape).detach(), "bhattacharyya": bd.reshape(shape).detach()}


def mmrotate_sigma(xywhr):
    """mmrotate's xy_wh_r_2_xy_sigma."""
    xy = xywhr[..., :2]
    wh = xywhr[..., 2:4].clamp(min=1e-7, max=1e7).reshape(-1, 2)
    r = xywhr[..., 4]
    rot = torch.stack((r.cos(), -r.sin(), r.sin(), r.cos()), dim=-1).reshape(-1, 2, 2)
    half = 0.5 * torch.diag_embed(wh)
    return xy, rot.bmm(half.square()).bmm(rot.permute(0, 2, 1))


def postprocess(distance, fun="log1p", tau=0.0):
    if fun == "log1p":
        distance = torch.log1p(distance)
    elif fun == "sqrt":
        distance = torch.sqrt(distance.clamp(1e-7))
    if tau >= 1.0:
        return 1 - 1 / (tau + distance)
    return distance


def gwd_distance(p, t, alpha=1.0, normalize=True):
    (xy_p, sp), (xy_t, st) = p, t
    xy = (xy_p - xy_t).square().sum(dim=-1)
    whr = sp.diagonal(dim1=-2, dim2=-1).sum(dim=-1) + st.diagonal(dim1=-2, dim2=-1).sum(dim=-1)
    tr = sp.bmm(st).diagonal(dim1=-2, dim2=-1).sum(dim=-1)
    det_sqrt = (sp.det() * st.det()).clamp(1e-7).sqrt()
    whr = whr + (-2) * ((tr + 2 * det_sqrt).clamp(1e-7).sqrt())
    distance = (xy + alpha * alpha * whr).clamp(1e-7).sqrt()
    if normalize:
        distance = distance / (2 * det_sqrt.clamp(1e-7).sqrt().clamp(1e-7).sqrt().clamp(1e-7))
    return distance


def kld_distance(p, t, alpha=1.0, sqrt=True):
    (xy_p, sp), (xy_t, st) = p, t
    inv = torch.stack((sp[..., 1, 1], -sp[..., 0, 1], -sp[..., 1, 0], sp[..., 0, 0]),
                      dim=-1).reshape(-1, 2, 2)
    inv = inv / sp.det()[:, None, None]
    dxy = (xy_p - xy_t).unsqueeze(-1)
    xy = 0.5 * dxy.permute(0, 2, 1).bmm(inv).bmm(dxy).view(-1)
    whr = 0.5 * inv.bmm(st).diagonal(dim1=-2, dim2=-1).sum(dim=-1)
    whr = whr + 0.5 * (sp.det().log() - st.det().log()) - 1
    distance = xy / (alpha * alpha) + whr
    if sqrt:
        distance = distance.clamp(1e-7).sqrt()
    return distance


def gaussian_parts(kind):
    def parts(inp, tgt, box_format="cxcywhr", angle_unit="rad", fun="log1p", tau=0.0,
              alpha=1.0, **flag):
        shape = inp.shape[:-1]
        p = mmrotate_sigma(in_radians(flat(inp, 5), angle_unit))
        t = mmrotate_sigma(in_radians(flat(tgt, 5), angle_unit))
        d = (gwd_distance if kind == "gwd" else kld_distance)(p, t, alpha, **flag)
        term = "distance" if kind == "gwd" else "divergence"
        return postprocess(d, fun, tau).reshape(shape), {term: d.reshape(shape).detach()}
    return parts


def kfiou_parts(inp, tgt, box_format="cxcywhr", angle_unit="rad", eps=1e-6, fun="none"):
    shape = inp.shape[:-1]
    _, sp = mmrotate_sigma(in_radians(flat(inp, 5), angle_unit))
    _, st = mmrotate_sigma(in_radians(flat(tgt, 5), angle_unit))
    vp, vt = 4 * sp.det().sqrt(), 4 * st.det().sqrt()
    gain = sp.bmm((sp + st).inverse())
    sigma = sp - gain.bmm(sp)
    v = 4 * sigma.det().clamp(eps).sqrt()
    v = torch.where(torch.isnan(v), torch.zeros_like(v), v)
    k = v / (vp + vt - v + eps)
    if fun == "ln":
        kf = -torch.log(k + eps)
    elif fun == "exp":
        kf = torch.exp(1 - k) - 1
    else:
        kf = 1 - k
    return kf.clamp(0).reshape(shape), {"kfiou": k.reshape(shape).detach()}


ORIENTED_LOSSES = {
    "riou": riou_parts,
    "rgiou": rgiou_parts,
    "probiou": probiou_parts,
    "gwd": gaussian_parts("gwd"),
    "kld": gaussian_parts("kld"),
    "kfiou": kfiou_parts,
}


def riou_matrix(b1, b2, box_format="cxcywhr", angle_unit="rad", geos=True):
    """pairwise/riou: I / U of every pair (0 where U = 0)."""
    width = 8 if box_format == "xyxyxyxy" else 5
    n, m = b1.reshape(-1, width).shape[0], b2.reshape(-1, width).shape[0]
    a = flat(b1, width).repeat_interleave(m, 0)
    b = flat(b2, width).repeat(n, 1)
    p, q = corners_of(a, box_format, angle_unit), corners_of(b, box_format, angle_unit)
    inter = clipped_area(p, q)
    if geos:
        assert_geos(inter, None, p, q)
    uni = shoelace(p) + shoelace(q) - inter
    iou = torch.where(uni > 0, inter / torch.where(uni > 0, uni, torch.ones_like(uni)), uni * 0)
    return iou.reshape(n, m)


def probiou_matrix(b1, b2, box_format="cxcywhr", angle_unit="rad", eps=1e-7):
    """pairwise/probiou: batch_probiou's (N, M) ProbIoU."""
    p = in_radians(flat(b1, 5), angle_unit)
    q = in_radians(flat(b2, 5), angle_unit)
    n, m = p.shape[0], q.shape[0]
    return ultralytics_probiou(p.repeat_interleave(m, 0), q.repeat(n, 1), eps=eps).reshape(n, m)


ORIENTED_PAIRWISE = {"riou": riou_matrix, "probiou": probiou_matrix}

# --------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------


class Rng:
    def __init__(self, seed):
        self.g = torch.Generator().manual_seed(seed)

    def uniform(self, *shape, lo=0.0, hi=1.0):
        return lo + (hi - lo) * torch.rand(shape, generator=self.g, dtype=F64)

    def normal(self, *shape):
        return torch.randn(shape, generator=self.g, dtype=F64)


def random_rects(rng, n, spread=1.0, size=(0.5, 3.0), deg=False):
    """n cxcywhr boxes around the origin, r in (-pi, pi) (or degrees)."""
    lo, hi = size
    r = rng.uniform(n, lo=-math.pi, hi=math.pi)
    if deg:
        r = r * 180 / math.pi
    return torch.stack([rng.uniform(n, lo=-spread, hi=spread), rng.uniform(n, lo=-spread, hi=spread),
                        rng.uniform(n, lo=lo, hi=hi), rng.uniform(n, lo=lo, hi=hi), r], -1)


def near(rng, boxes, shift=0.8, deg=False):
    """Boxes near `boxes`: overlapping most of the time, never aligned."""
    n = boxes.shape[0]
    other = random_rects(rng, n, 0.0, deg=deg)
    other[:, :2] = boxes[:, :2] + rng.uniform(n, 2, lo=-shift, hi=shift)
    return other


def random_quads(rng, n, spread=1.0):
    """n convex quadrilaterals: corners at sorted angles on random ellipses,
    every second one clockwise, each listed from a random corner."""
    quads = []
    for i in range(n):
        centre = rng.uniform(2, lo=-spread, hi=spread)
        radii = rng.uniform(2, lo=0.5, hi=1.8)
        turn = rng.uniform(1, lo=0, hi=math.pi).item()
        gaps = rng.uniform(4, lo=0.4, hi=1.0)
        angles = torch.cumsum(gaps / gaps.sum() * 2 * math.pi, 0) + turn
        pts = torch.stack([radii[0] * angles.cos(), radii[1] * angles.sin()], -1)
        pts = pts + centre
        if i % 2:
            pts = pts.flip(0)
        pts = pts.roll(int(rng.uniform(1, lo=0, hi=3.999).item()), 0)
        quads.append(pts.reshape(8))
    return torch.stack(quads)


def quads_of(rects):
    """The corners of cxcywhr boxes as xyxyxyxy."""
    return rect_corners(rects).reshape(-1, 8)


# --------------------------------------------------------------------------
# Cases
# --------------------------------------------------------------------------

# Hand-picked cxcywhr pairs, radians: overlapping at odd angles, one box
# strictly inside the other, disjoint, a thin box across a square.
FIXED_PAIRS = [
    ([0.0, 0.0, 2.0, 1.0, 0.3], [0.5, 0.2, 1.5, 1.0, -0.4]),
    ([0.0, 0.0, 2.0, 2.0, 0.5], [0.1, -0.1, 0.8, 0.5, 1.1]),
    ([0.0, 0.0, 1.0, 3.0, 1.0], [4.0, 4.0, 1.0, 1.0, 0.2]),
    ([1.0, 2.0, 3.0, 0.7, -2.0], [1.3, 1.8, 2.0, 1.2, 2.9]),
    ([0.0, 0.0, 2.0, 1.0, 0.7], [0.3, 0.1, 1.2, 2.5, 0.9]),
    ([-1.0, 0.5, 1.5, 1.5, 0.25], [-0.4, 0.9, 1.0, 2.0, -1.3]),
    ([2.0, -1.0, 4.0, 0.3, 0.1], [2.2, -0.9, 1.1, 1.3, -0.6]),
]


def f64(values):
    return torch.as_tensor(values, dtype=F64).clone()


def fixed_pairs(deg=False):
    a, b = f64([p for p, _ in FIXED_PAIRS]), f64([q for _, q in FIXED_PAIRS])
    if deg:
        a[:, 4] *= 180 / math.pi
        b[:, 4] *= 180 / math.pi
    return a, b


def reference(name):
    """ORIENTED_LOSSES[name] as gen_golden's LOSSES are called: (x, t, reduction, **params),
    the reduced loss (an empty batch's mean is PyTorch's, NaN)."""
    def reduced(x, t, reduction, **params):
        loss = ORIENTED_LOSSES[name](x, t, **params)[0]
        return loss.mean() if reduction == "mean" else loss.sum() if reduction == "sum" else loss
    return reduced


def emitter(emit_loss):
    """gen_golden's emit_loss for ORIENTED_LOSSES: emit(out, rng, label, name, inp, tgt,
    reduction, params, grad=, terms=) - reduction None leaves lossd's default (mean)."""

    def emit(out, rng, label, name, inp, tgt, reduction="mean", params=None, grad=True,
             terms=False):
        emit_loss(out, rng, label, name, f64(inp), f64(tgt), reduction, params, grad, terms,
                  reference=reference(name),
                  extras=lambda x, t, **p: ORIENTED_LOSSES[name](x, t, **p)[1])
    return emit


# Each function's parameter settings beyond the defaults: every parameter
# set explicitly, every choice and both values of every boolean.
SETTINGS = {
    "riou": [{"eps": 0.0}, {"eps": 0.1}],
    "rgiou": [{"eps": 0.0}, {"eps": 0.1}],
    "probiou": [{"ciou": True}, {"ciou": False, "eps": 1e-3}, {"ciou": True, "eps": 1e-9}],
    "gwd": [{"fun": f, "tau": tau, "alpha": alpha, "normalize": norm}
            for f, tau, alpha, norm in (("log1p", 0.0, 1.0, True), ("sqrt", 1.0, 0.5, True),
                                        ("none", 2.5, 2.0, False), ("log1p", 1.0, 1.0, False),
                                        ("sqrt", 0.0, 1.0, False), ("none", 0.0, 1.0, True))],
    "kld": [{"fun": f, "tau": tau, "alpha": alpha, "sqrt": root}
            for f, tau, alpha, root in (("log1p", 0.0, 1.0, True), ("sqrt", 1.0, 0.5, True),
                                        ("none", 2.5, 2.0, False), ("log1p", 1.0, 1.0, False),
                                        ("sqrt", 0.0, 1.0, False), ("none", 0.0, 1.0, True))],
    "kfiou": [{"fun": "none", "eps": 1e-6}, {"fun": "ln"}, {"fun": "exp", "eps": 1e-3},
              {"fun": "ln", "eps": 1e-9}],
}


def tag_of(params):
    return "/".join(f"{k}={v}" for k, v in params.items()) or "defaults"


def oriented_losses(out, emit_loss, emit_empty):
    """Every oriented loss in each format and angle unit, each reduction,
    gradient, grad_output and term, each parameter setting of SETTINGS, a
    single box, a batch of (2, 3) boxes, an empty batch (gen_golden's
    emit_loss and emit_empty_losses write the cases)."""
    emit = emitter(emit_loss)
    rng = Rng(1801)
    fixed_a, fixed_b = fixed_pairs()
    deg_a, deg_b = fixed_pairs(deg=True)
    rand_a = random_rects(rng, 12)
    rand_b = near(rng, rand_a)
    for name in ORIENTED_LOSSES:
        for red in REDUCTIONS:
            emit(out, rng, f"{name}/fixed/{red}/grad", name, fixed_a, fixed_b, red)
        emit(out, rng, f"{name}/fixed/terms/none/grad", name, fixed_a, fixed_b, "none",
             terms=True)
        emit(out, rng, f"{name}/explicit-defaults/random/mean/grad", name, rand_a, rand_b, "mean",
             {"box_format": "cxcywhr", "angle_unit": "rad"})
        emit(out, rng, f"{name}/deg/fixed/none/grad", name, deg_a, deg_b, "none",
             {"angle_unit": "deg"}, terms=True)
        emit(out, rng, f"{name}/deg/random/sum/grad", name, rand_a * f64([1, 1, 1, 1, 180 / math.pi]),
             rand_b * f64([1, 1, 1, 1, 180 / math.pi]), "sum", {"angle_unit": "deg"})
        for params in SETTINGS[name]:
            tag = tag_of(params)
            emit(out, rng, f"{name}/{tag}/random/none/grad", name, rand_a, rand_b, "none", params,
                 terms=True)
            emit(out, rng, f"{name}/{tag}/fixed/mean/grad", name, fixed_a, fixed_b, "mean", params)
        emit(out, rng, f"{name}/single-box/default-reduction/grad", name, fixed_a[0], fixed_b[0],
             None, terms=True)
        emit(out, rng, f"{name}/batched-2x3/none/grad", name, rand_a[:6].reshape(2, 3, 5),
             rand_b[:6].reshape(2, 3, 5), "none", terms=True)
        emit(out, rng, f"{name}/random/none/nograd", name, rand_a, rand_b, "none", grad=False)
        emit(out, rng, f"{name}/random/mean/terms/nograd", name, rand_a, rand_b, "mean",
             grad=False, terms=True)
        emit_empty(out, name, reference=reference(name))
    # the quadrilateral format: random convex quadrilaterals either way round, and rectangles
    quads_a, quads_b = random_quads(rng, 10), random_quads(rng, 10)
    for name in ("riou", "rgiou"):
        params = {"box_format": "xyxyxyxy"}
        for red in REDUCTIONS:
            emit(out, rng, f"{name}/xyxyxyxy/random/{red}/grad", name, quads_a, quads_b, red,
                 params, terms=(red == "none"))
        emit(out, rng, f"{name}/xyxyxyxy/rectangles/none/grad", name, quads_of(fixed_a),
             quads_of(fixed_b), "none", params, terms=True)
        emit(out, rng, f"{name}/xyxyxyxy+eps=0.1/random/mean/grad", name, quads_a, quads_b,
             "mean", {"box_format": "xyxyxyxy", "eps": 0.1})
        emit(out, rng, f"{name}/xyxyxyxy/single-box/sum/grad", name, quads_a[0], quads_b[0],
             "sum", params)
        emit(out, rng, f"{name}/xyxyxyxy/batched-2x2/none/grad", name,
             quads_a[:4].reshape(2, 2, 8), quads_b[:4].reshape(2, 2, 8), "none", params)


def bad_oriented_inputs(out):
    """The contract's bad inputs: the first offending box by path, the
    operand for a wrong last axis, each parameter out of its domain."""
    good = [[0.0, 0.0, 2.0, 1.0, 0.3], [1.0, 1.0, 1.0, 2.0, -0.5], [0.5, 0.5, 1.0, 1.0, 0.0]]
    nan = [good[0], [1.0, float("nan"), 1.0, 2.0, 0.0], good[2]]
    inf_r = [good[0], good[1], [0.5, 0.5, 1.0, 1.0, float("inf")]]
    neg_w = [good[0], good[1], [0.5, 0.5, -1.0, 1.0, 0.0]]
    neg_h = [[0.0, 0.0, 2.0, -0.5, 0.3], good[1], good[2]]
    quad = [[0.0, 0.0, 2.0, 0.0, 2.0, 1.0, 0.0, 1.0], [3.0, 3.0, 3.0, 5.0, 1.0, 5.0, 1.0, 3.0],
            [0.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.5, 0.5]]  # the last: three collinear corners
    bowtie = [quad[0], quad[1], [0.0, 0.0, 1.0, 1.0, 1.0, 0.0, 0.0, 1.0]]
    dent = [[0.0, 0.0, 2.0, 0.0, 1.0, 0.5, 0.0, 2.0], quad[1], quad[2]]
    quad_nan = [quad[0], [3.0, 3.0, 3.0, float("-inf"), 1.0, 5.0, 1.0, 3.0], quad[2]]

    def bad(label, name, inp, tgt, field, params=None, **kw):
        out.case(label, name, params=params, operands=[("input", f64(inp)), ("target", f64(tgt))],
                 expects=[("error", field)], **kw)

    for name in ORIENTED_LOSSES:
        b = f"{name}/bad-input"
        bad(f"{b}/nan", name, nan, good, "input[1]")
        bad(f"{b}/inf-angle", name, good, inf_r, "target[2]")
        bad(f"{b}/negative-width", name, neg_w, good, "input[2]")
        bad(f"{b}/negative-height", name, good, neg_h, "target[0]")
        bad(f"{b}/batched/negative-width", name, [good[:2], neg_w[1:]], [good[:2], good[1:]],
            "input[1][1]")
        bad(f"{b}/4-per-box", name, [[0.0, 0.0, 1.0, 1.0]], [[0.0, 0.0, 1.0, 1.0]], "input")
        bad(f"{b}/8-per-box-as-cxcywhr", name, quad, quad, "input")
        bad(f"{b}/scalar", name, 1.0, 1.0, "input")
        bad(f"{b}/target-shape", name, good, good[:2], "target")
        bad(f"{b}/box_format", name, good, good, "box_format", {"box_format": "xyxy"})
        bad(f"{b}/angle_unit", name, good, good, "angle_unit", {"angle_unit": "grad"})
        bad(f"{b}/angle_unit-number", name, good, good, "angle_unit", {"angle_unit": 1.0})
        bad(f"{b}/grad_output-with-mean", name, good, good, "grad_output", reduction="mean",
            grad=True, grad_output=f64([1.0, 1.0, 1.0]))
        bad(f"{b}/grad_output-shape", name, good, good, "grad_output", reduction="none",
            grad=True, grad_output=f64([1.0, 1.0]))
        if name in ("riou", "rgiou"):
            q = {"box_format": "xyxyxyxy"}
            bad(f"{b}/xyxyxyxy/bowtie", name, bowtie, quad, "input[2]", q)
            bad(f"{b}/xyxyxyxy/not-convex", name, quad, dent, "target[0]", q)
            bad(f"{b}/xyxyxyxy/not-finite", name, quad_nan, quad, "input[1]", q)
            bad(f"{b}/xyxyxyxy/5-per-box", name, good, good, "input", q)
            bad(f"{b}/eps<0", name, good, good, "eps", {"eps": -1e-7})
            bad(f"{b}/alpha", name, good, good, "alpha", {"alpha": 1.0})
        else:
            bad(f"{b}/xyxyxyxy", name, quad, quad, "box_format", {"box_format": "xyxyxyxy"})
    for name in ("probiou", "kfiou"):
        for eps in (0.0, -1e-7, math.inf):
            bad(f"{name}/bad-input/eps={eps}", name, good, good, "eps", {"eps": eps})
    bad("probiou/bad-input/ciou-number", "probiou", good, good, "ciou", {"ciou": 1.0})
    bad("probiou/bad-input/fun", "probiou", good, good, "fun", {"fun": "none"})
    for name in ("gwd", "kld"):
        bad(f"{name}/bad-input/fun", name, good, good, "fun", {"fun": "ln"})
        bad(f"{name}/bad-input/tau<0", name, good, good, "tau", {"tau": -1.0})
        for alpha in (0.0, -1.0):
            bad(f"{name}/bad-input/alpha={alpha}", name, good, good, "alpha", {"alpha": alpha})
        bad(f"{name}/bad-input/eps", name, good, good, "eps", {"eps": 1e-7})
    bad("gwd/bad-input/normalize-string", "gwd", good, good, "normalize", {"normalize": "true"})
    bad("gwd/bad-input/sqrt", "gwd", good, good, "sqrt", {"sqrt": True})
    bad("kld/bad-input/sqrt-number", "kld", good, good, "sqrt", {"sqrt": 0.0})
    bad("kld/bad-input/normalize", "kld", good, good, "normalize", {"normalize": True})
    bad("kfiou/bad-input/fun", "kfiou", good, good, "fun", {"fun": "log1p"})
    bad("kfiou/bad-input/tau", "kfiou", good, good, "tau", {"tau": 1.0})


def oriented_pairwise(out):
    """The riou matrix in both formats and angle units, the probiou matrix
    with its eps; a single box on either side; an empty list."""
    rng = Rng(1802)
    fixed_a, fixed_b = fixed_pairs()
    rand_a, rand_b = random_rects(rng, 5), random_rects(rng, 7)
    to_deg = f64([1, 1, 1, 1, 180 / math.pi])
    quads_a, quads_b = random_quads(rng, 4), random_quads(rng, 6)
    for name, fn in ORIENTED_PAIRWISE.items():
        settings = [({}, fixed_a, fixed_b), ({"angle_unit": "rad", "box_format": "cxcywhr"},
                                               rand_a, rand_b),
                    ({"angle_unit": "deg"}, rand_a * to_deg, rand_b * to_deg)]
        if name == "riou":
            settings += [({"box_format": "xyxyxyxy"}, quads_a, quads_b),
                         ({"box_format": "xyxyxyxy"}, quads_of(fixed_a), quads_of(fixed_b))]
        else:
            settings += [({"eps": 1e-3}, rand_a, rand_b), ({"eps": 1e-9}, fixed_a, fixed_b)]
        for i, (params, b1, b2) in enumerate(settings):
            width = b1.shape[-1]
            ref = {k: v for k, v in params.items()}
            out.case(f"{name}/{tag_of(params)}/{i}", name, params=params,
                     operands=[("boxes1", b1), ("boxes2", b2)],
                     expects=[("output", fn(b1, b2, **ref))])
            out.case(f"{name}/{tag_of(params)}/{i}/single-box-1", name, params=params,
                     operands=[("boxes1", b1[0]), ("boxes2", b2)],
                     expects=[("output", fn(b1[:1], b2, **ref))])
            out.case(f"{name}/{tag_of(params)}/{i}/single-box-2", name, params=params,
                     operands=[("boxes1", b1), ("boxes2", b2[1])],
                     expects=[("output", fn(b1, b2[1:2], **ref))])
            assert width in (5, 8)
        out.case(f"{name}/empty", name, operands=[("boxes1", torch.zeros(0, dtype=F64)),
                                                  ("boxes2", fixed_b)],
                 expects=[("output", torch.zeros(0, fixed_b.shape[0], dtype=F64))])
        good = [[0.0, 0.0, 2.0, 1.0, 0.3], [1.0, 1.0, 1.0, 2.0, -0.5]]
        for label, b1, b2, field, params in (
                ("nan", good, [good[0], [1.0, 1.0, float("nan"), 1.0, 0.0]], "boxes2[1]", None),
                ("negative-height", [[0.0, 0.0, 1.0, -1.0, 0.0]], good, "boxes1[0]", None),
                ("4-per-box", [[0.0, 0.0, 1.0, 1.0]], good, "boxes1", None),
                ("rank-3", [good], good, "boxes1", None),
                ("box_format", good, good, "box_format", {"box_format": "xywh"}),
                ("angle_unit", good, good, "angle_unit", {"angle_unit": "turns"})):
            out.case(f"{name}/bad-input/{label}", name, params=params,
                     operands=[("boxes1", f64(b1)), ("boxes2", f64(b2))],
                     expects=[("error", field)])
    quad = [[0.0, 0.0, 2.0, 0.0, 2.0, 1.0, 0.0, 1.0]]
    bowtie = [[0.0, 0.0, 1.0, 1.0, 1.0, 0.0, 0.0, 1.0]]
    out.case("riou/bad-input/xyxyxyxy/bowtie", "riou", params={"box_format": "xyxyxyxy"},
             operands=[("boxes1", f64(quad)), ("boxes2", f64(bowtie))],
             expects=[("error", "boxes2[0]")])
    out.case("probiou/bad-input/xyxyxyxy", "probiou", params={"box_format": "xyxyxyxy"},
             operands=[("boxes1", f64(quad)), ("boxes2", f64(quad))],
             expects=[("error", "box_format")])
    for eps in (0.0, -1.0):
        out.case(f"probiou/bad-input/eps={eps}", "probiou", params={"eps": eps},
                 operands=[("boxes1", fixed_a), ("boxes2", fixed_b)], expects=[("error", "eps")])
