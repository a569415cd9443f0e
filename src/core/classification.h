/* SPDX-License-Identifier: MIT */
/*
 * classification.h - what classification.c and detection.c share, and
 * nothing outside them sees: the family's per-call constants and the
 * numerics both files' kernels are made of (sigmoid, ATen's BCE on
 * logits, the class-index targets of rows of scores).
 *
 * Both files are compiled twice (simd.h); everything here is inline or a
 * type, so each twin gets its own copy. Thread-safe: no state.
 */
#ifndef LOSSD_CORE_CLASSIFICATION_H
#define LOSSD_CORE_CLASSIFICATION_H

#include "internal.h"

/*
 * Per-call constants (LOSSD__CONSTS), resolved from the parameters by the
 * prepare hooks: the element-wise losses' part first, then what the
 * row-wise ones (cross_entropy, nll, focal) share.
 */
typedef struct {
    /* bce, bce_with_logits: rescaling weights broadcast over input (unset: 1) */
    lossd__param_view weight, pos_weight;
    bool has_pos_weight;
    bool log_target;     /* kl_div */
    double alpha, gamma; /* sigmoid_focal, focal */
    double beta;         /* qfl: the exponent of |y - sigmoid(x)| */
    bool iou_weighted;   /* varifocal: positives weigh y (else 1) */

    /* rows of class scores */
    const double *class_weight; /* one weight per class, or NULL: every class weighs 1 */
    double ignore_index;
    double label_smoothing; /* cross_entropy */
    /*
     * cross_entropy and nll: the scale of the NLL part, with 1 - label_smoothing
     * and the mean's division by the kept targets' total weight folded in
     * (probability targets: of the whole term, 1/N under mean)
     */
    double nll_scale;
    double smooth_scale; /* cross_entropy: label_smoothing / C, divided like nll_scale */
    double weight_total; /* cross_entropy: the class weights summed in order (C unweighted) */
    double poly_epsilon; /* poly1: the weight of (1 - p_t) */
} classification_consts;

LOSSD_INLINE lossd_vd sigmoid(lossd_vd x)
{
    return 1 / (1 + lossd_v_exp(-x));
}

/*
 * log(exp(-max_val) + exp(-x - max_val)), the log-sum-exp of ATen's max_val
 * form (max_val = max(-x, 0)), with one exponential: one of the two
 * exponents is exactly 0 (exp gives exactly 1) and the other is -|x|, so
 * this is log(1 + exp(-|x|)) bit for bit (the sum's order does not matter).
 */
LOSSD_INLINE lossd_vd bce_logits_lse(lossd_vd x)
{
    return lossd_v_log(1 + lossd_v_exp(-lossd_v_abs(x)));
}

/* BCE on logits without weights, as ATen's max_val form. */
LOSSD_INLINE lossd_vd bce_logits_plain(lossd_vd x, lossd_vd t)
{
    lossd_vd max_val = lossd_v_fmax(-x, lossd_v_set1(0.0));
    return (1 - t) * x + max_val + bce_logits_lse(x);
}

/* Class weight w[j]: 1 without a weight tensor. */
LOSSD_INLINE double class_weight(const classification_consts *k, size_t j)
{
    return k->class_weight ? k->class_weight[j] : 1.0;
}

/*
 * The class-index targets of rows r..r+n_rows-1, one per lane: *target
 * as given, *ignored_rows marks ignore_index, index[k] is the class (0
 * for ignored and missing rows, so that it can always be read),
 * *x_target is x[row][index] and *w_target its class weight (w_target is
 * NULL for functions without class weights: no look-up).
 */
LOSSD_INLINE void row_targets(const lossd_call *c, const classification_consts *k, size_t r,
                              size_t n_rows, lossd_vd *target, size_t index[LOSSD_LANES],
                              lossd_vm *ignored_rows, lossd_vd *x_target, lossd_vd *w_target)
{
    size_t n_cls = c->state->n_classes;
    const double *x = c->operand[0].data + r * n_cls;
    const double *w = w_target ? k->class_weight : NULL;
    *target = lossd_v_load_n(c->operand[1].data + r, n_rows);
    *ignored_rows = *target == k->ignore_index;
    /*
     * The classes as integers, all lanes at once: validation made them
     * whole numbers in [0, 2^52), and adding 2^52 puts such a number in
     * the low bits of the sum's representation. An ignored row's
     * ignore_index may be anything: out of range, it reads class 0.
     */
    lossd_vm bits = (lossd_vm)(*target + 0x1p52) - (lossd_vm)lossd_v_set1(0x1p52);
    for (size_t l = 0; l < LOSSD_LANES; l++) {
        index[l] = l < n_rows && (size_t)bits[l] < n_cls ? (size_t)bits[l] : 0;
        (*x_target)[l] = l < n_rows ? x[l * n_cls + index[l]] : 0;
        if (w_target)
            (*w_target)[l] = w ? w[index[l]] : 1.0;
    }
}

/* 1.0 in the lanes whose target is class j (compared as doubles: SSE2 has no 64-bit integer
 * compare). */
LOSSD_INLINE lossd_vd is_target(lossd_vd target, size_t j)
{
    return lossd_v_ones(target == (double)j);
}

/* Scores (N,C) or (C) described by input_text, and one class index per row. */
#define CLASS_INDEX_OPERANDS(input_text)                                     \
    {                                                                        \
        {"input", LOSSD_RULE_SCORES, 0, input_text},                         \
        {                                                                    \
            "target", LOSSD_RULE_CLASS_INDICES, 0, "class indices (N) or ()" \
        }                                                                    \
    }

/*
 * A pointwise loss's kernel: elem over units [begin, end) from the kernel's
 * copy of the family's constants (lossd__pointwise_loss; `loop` is
 * lossd__pointwise_loss_dt for element functions that give dl/dt).
 */
#define CLASSIFICATION_KERNEL(kernel, loop, elem)                                    \
    static size_t kernel(const lossd_call *c, size_t begin, size_t end, double *out) \
    {                                                                                \
        classification_consts k = *LOSSD__CONSTS(c, classification_consts);          \
        return loop(c, &k, begin, end, out, elem);                                   \
    }

#endif /* LOSSD_CORE_CLASSIFICATION_H */
