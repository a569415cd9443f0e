/* SPDX-License-Identifier: MIT */
/*
 * box_pairwise.c - the pairwise box similarity matrices (IoU, GIoU, DIoU,
 * CIoU as torchvision.ops.box_iou & co., and NWD's): an (N,M) matrix of
 * every box of the first list against every box of the second, one row
 * of the first list against LOSSD_LANES boxes of the second at a time.
 *
 * torchvision details matched (torchvision/ops/boxes.py): box_iou's
 * inter / union with no eps and clamp(min=0) overlaps;
 * generalized_box_iou takes no eps at all; distance_box_iou and
 * complete_box_iou add eps to c^2.
 *
 * Compiled twice, as the kernels are (simd.h: box_pairwise_avx2.c).
 * Thread-safe: kernels write only their own rows of the matrix.
 */
#include "boxes.h"

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
    lossd_vd aspect_weight = v / (1 - iou + v + eps);
    return diou - aspect_weight * v;
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

/* One kernel per matrix: pairwise_kernel specialised by its constant. */
BOX_KERNEL(iou_matrix_kernel, pairwise_kernel, BOX_IOU)
BOX_KERNEL(giou_matrix_kernel, pairwise_kernel, BOX_GIOU)
BOX_KERNEL(diou_matrix_kernel, pairwise_kernel, BOX_DIOU)
BOX_KERNEL(ciou_matrix_kernel, pairwise_kernel, BOX_CIOU)
BOX_KERNEL(nwd_matrix_kernel, pairwise_kernel, BOX_NWD)

/* ------------------------------------------------------------ registry rows */

/* iou and giou matrices take no eps: torchvision's box_iou and generalized_box_iou have none. */
static const lossd_param_spec box_format_only[] = {BOX_FORMAT_SPEC};

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
     .impl = LOSSD__IMPL(.prepare = lossd__box_prepare, .kernel = iou_matrix_kernel)},
    {.kind = LOSSD_KIND_PAIRWISE,
     .name = "giou",
     .summary = "pairwise generalized IoU, an (N,M) matrix",
     .formula = "\\mathrm{IoU}_{ij} - \\frac{|C_{ij}| - |A_i \\cup B_j|}{|C_{ij}|}",
     .reference = "torchvision.ops.generalized_box_iou",
     .operands = PAIRWISE_OPERANDS,
     .params = LOSSD__PARAMS(box_format_only),
     .impl = LOSSD__IMPL(.prepare = lossd__box_prepare, .kernel = giou_matrix_kernel)},
    {.kind = LOSSD_KIND_PAIRWISE,
     .name = "diou",
     .summary = "pairwise distance IoU, an (N,M) matrix",
     .formula = "\\mathrm{IoU}_{ij} - \\frac{\\rho^2_{ij}}{c^2_{ij} + \\epsilon}",
     .reference = "torchvision.ops.distance_box_iou",
     .operands = PAIRWISE_OPERANDS,
     .params = LOSSD__PARAMS(box_loss_params),
     .impl = LOSSD__IMPL(.prepare = lossd__box_prepare, .kernel = diou_matrix_kernel)},
    {.kind = LOSSD_KIND_PAIRWISE,
     .name = "ciou",
     .summary = "pairwise complete IoU, an (N,M) matrix",
     .formula = "\\mathrm{DIoU}_{ij} - \\beta_{ij} v_{ij}",
     .reference = "torchvision.ops.complete_box_iou",
     .operands = PAIRWISE_OPERANDS,
     .params = LOSSD__PARAMS(box_loss_params),
     .impl = LOSSD__IMPL(.prepare = lossd__box_prepare, .kernel = ciou_matrix_kernel)},
    {.kind = LOSSD_KIND_PAIRWISE,
     .name = "nwd",
     .summary = "pairwise normalized Gaussian Wasserstein distance, an (N,M) matrix",
     .formula = "\\exp\\left(-\\sqrt{W_2^2(A_i, B_j)} / C\\right)",
     .reference = "exp(-sqrt(W^2)/constant) of jwwangchn/NWD's wasserstein_loss",
     .operands = PAIRWISE_OPERANDS,
     .params = LOSSD__PARAMS(nwd_params),
     .impl = LOSSD__IMPL(.prepare = lossd__box_prepare, .kernel = nwd_matrix_kernel)},
};

LOSSD__MODULE(lossd__pairwise_module, pairwise_functions);
