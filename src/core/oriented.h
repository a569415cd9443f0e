/* SPDX-License-Identifier: MIT */
/*
 * oriented.h - what the oriented-box modules share: the box formats and
 * angle units, their parameter specs, and reading a box's numbers in the
 * call's format (oriented.c: riou, rgiou and the riou matrix; gaussian.c:
 * probiou, gwd, kld, kfiou and the probiou matrix).
 *
 * Formats (docs/functions.md, "Oriented boxes"):
 *   cxcywhr  (cx, cy, w, h, r): corners (cx, cy) +- (w/2) u +- (h/2) v with
 *            u = (cos r, sin r), v = (-sin r, cos r) - mmrotate's le90
 *            xy_wh_r, Ultralytics' xywhr; r in radians, or in degrees
 *            with angle_unit deg (converted as r * pi / 180 first);
 *   xyxyxyxy the four corners of a convex quadrilateral, either turning
 *            direction (riou, rgiou and the riou matrix only).
 *
 * Thread-safe: constants and pure functions.
 */
#ifndef LOSSD_CORE_ORIENTED_H
#define LOSSD_CORE_ORIENTED_H

#include "internal.h"

enum { OBOX_CXCYWHR, OBOX_XYXYXYXY };
enum { ANGLE_RAD, ANGLE_DEG };

/* Numbers per box in each format. */
LOSSD_INLINE size_t obox_len(int format)
{
    return format == OBOX_XYXYXYXY ? 8 : 5;
}

/* Degrees to radians as torchvision's rotated-box conversions write it: r * pi / 180. */
LOSSD_INLINE double obox_radians(double r, int unit)
{
    return unit == ANGLE_DEG ? r * M_PI / 180.0 : r;
}

/* d radians / d angle in the call's unit. */
LOSSD_INLINE double obox_angle_scale(int unit)
{
    return unit == ANGLE_DEG ? M_PI / 180.0 : 1.0;
}

/* The choices of box_format, all formats (internal.h) and the rectangles' alone; of angle_unit. */
extern const char *const lossd__obox_rect_formats[];
extern const char *const lossd__angle_units[];

#define OBOX_FORMAT_SPEC(choices_array, what)                              \
    {                                                                      \
        .name = "box_format", .type = LOSSD_PARAM_CHOICE, .summary = what, \
        .choices = choices_array                                           \
    }
#define OBOX_ANY_FORMAT_SPEC                                                       \
    OBOX_FORMAT_SPEC(lossd__obox_formats,                                          \
                     "cxcywhr: (cx, cy, w, h, r), a rotated rectangle; xyxyxyxy: " \
                     "the four corners of a convex quadrilateral")
#define OBOX_RECT_FORMAT_SPEC \
    OBOX_FORMAT_SPEC(lossd__obox_rect_formats, "(cx, cy, w, h, r), a rotated rectangle")
#define ANGLE_UNIT_SPEC                                                                       \
    {                                                                                         \
        .name = "angle_unit", .type = LOSSD_PARAM_CHOICE,                                     \
        .summary = "the unit of r in cxcywhr: rad, or deg (converted as r * pi / 180 first; " \
                   "the gradient is then per degree)",                                        \
        .choices = lossd__angle_units                                                         \
    }

/* The operands of the oriented-box losses and of their matrices (rules.c has the rules). */
#define OBOX_OPERANDS                                                          \
    {                                                                          \
        {"input", LOSSD_RULE_ORIENTED_BOXES, 0,                                \
         "predicted oriented boxes (..., 5) or (..., 8), as box_format says"}, \
        {                                                                      \
            "target", LOSSD_RULE_ORIENTED_BOXES, LOSSD_OPERAND_LIKE_INPUT,     \
                "target boxes, same shape"                                     \
        }                                                                      \
    }
#define OBOX_LIST_OPERANDS                                                               \
    {                                                                                    \
        {"boxes1", LOSSD_RULE_ORIENTED_LIST, 0, "oriented boxes (N, 5|8), or one box"},  \
        {                                                                                \
            "boxes2", LOSSD_RULE_ORIENTED_LIST, 0, "oriented boxes (M, 5|8), or one box" \
        }                                                                                \
    }

#endif /* LOSSD_CORE_ORIENTED_H */
