/* SPDX-License-Identifier: MIT */
/*
 * boxes.h - what the box losses (boxes.c) and the pairwise box matrices
 * (box_pairwise.c) share: the box formats, LOSSD_LANES boxes read into
 * vectors, the family's per-call constants, NWD's Wasserstein distance and
 * the parameters their registry rows have in common.
 *
 * Private to src/core, and included by files that are compiled twice
 * (simd.h): everything here is an inline function, a type or static const
 * data, except lossd__box_prepare, which boxes.c defines once.
 *
 * Thread-safe: pure functions and constant data.
 */
#ifndef LOSSD_CORE_BOXES_H
#define LOSSD_CORE_BOXES_H

#include "internal.h"

enum { FORMAT_XYXY, FORMAT_XYWH, FORMAT_CXCYWH };
enum { BOX_IOU, BOX_GIOU, BOX_DIOU, BOX_CIOU, BOX_SIOU, BOX_EIOU, BOX_NWD };

static const char *const box_formats[] = {"xyxy", "xywh", "cxcywh", NULL};

/* LOSSD_LANES boxes in xyxy, one coordinate per vector: lane k is box k. */
typedef struct {
    lossd_vd x1, y1, x2, y2;
} box_lanes;

/*
 * Per-call constants (LOSSD__CONSTS) of box losses and matrices, resolved
 * from the parameters by lossd__box_prepare.
 */
typedef struct {
    int format;        /* FORMAT_* */
    double eps;        /* 0 for the matrices that take none (box_iou, generalized_box_iou) */
    double alpha;      /* Alpha-IoU's power (iou, giou, diou, ciou); 1 for the rows without it */
    double gamma_sign; /* siou: gamma = gamma_sign (Lambda - 2); 1 with neg_gamma, else -1 */
    double constant;   /* nwd: the normalising constant C of exp(-sqrt(W^2) / C) */
} box_consts;

/* The prepare hook of every box row: fills box_consts by parameter name. */
int lossd__box_prepare(lossd_call *c, lossd_error *err);

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

/*
 * NWD's squared 2-Wasserstein distance W^2 between the Gaussians of box
 * pairs (a, b) in the NWD repo's arithmetic (docs/functions.md): eps
 * inside the centre distance and on each side. When d is not NULL, also
 * d W^2 / d (x1, y1, x2, y2) of a; W^2 is symmetric in a and b, and its
 * derivative with respect to b is -d.
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
 * Defines a registry row's kernel: the family's `generic` kernel
 * (box_loss_kernel, pairwise_kernel) specialised by the constant `which`.
 */
#define BOX_KERNEL(kernel, generic, which)                                           \
    static size_t kernel(const lossd_call *c, size_t begin, size_t end, double *out) \
    {                                                                                \
        return generic(c, begin, end, out, which);                                   \
    }

/* ------------------------------------------------------------ parameters of the rows */

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

/* NWD's default normalising constant C: its repository's, about the average object size of
   its tiny-object dataset (docs/functions.md). */
#define NWD_CONSTANT 12.8

/* The diou and ciou matrices and eiou. */
static const lossd_param_spec box_loss_params[] = {BOX_FORMAT_SPEC, BOX_EPS_SPEC(DENOMINATOR_EPS)};

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

#endif /* LOSSD_CORE_BOXES_H */
