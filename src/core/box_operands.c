/* SPDX-License-Identifier: MIT */
/*
 * box_operands.c - what the box family does outside its kernels: the
 * prepare hook that resolves the parameters into box_consts (every box
 * row's), the validation of box operands and the sampling of valid ones
 * (the rule table's box rows call them, rules.c).
 *
 * Compiled once: none of it is vector code.
 * Thread-safe: reads the call, writes only what it is given.
 */
#include <stdio.h>
#include <string.h>

#include "boxes.h"

int lossd__box_prepare(lossd_call *c, lossd_error *err)
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
