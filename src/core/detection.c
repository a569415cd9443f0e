/* SPDX-License-Identifier: MIT */
/*
 * detection.c - losses of dense detection heads that PyTorch lacks, from
 * their papers and mmdetection (docs/functions.md gives each formula and
 * its source): Poly-1, Quality Focal Loss, Varifocal loss and Distribution
 * Focal Loss. They are made of classification.c's arithmetic (ATen's BCE
 * on logits, cross_entropy's log_softmax) and share its constants
 * (classification.h); their rows follow classification.c's in the
 * registry.
 *
 * Thread-safe: kernels write only their own units' slots.
 */
#include "classification.h"

/* ------------------------------------------------------------ pointwise */

/*
 * Quality Focal Loss with a dense soft target: BCE(x, y) |y - s|^beta, s =
 * sigmoid(x). The gradient is autograd's on that product: (s - y) m +
 * BCE dm/dx, with dm/dx = beta |d|^(beta-1) sgn(d) (-s (1 - s)) for d = y -
 * s, 0 at beta = 0 (pow backward). Like autograd, beta < 1 gives NaN where
 * y = s exactly (|d|^(beta-1) is infinite, sgn(d) is 0).
 */
LOSSD_INLINE lossd_vd qfl_elem(const void *consts, size_t i, lossd_vd x, lossd_vd t, lossd_vd *dl,
                               lossd_vd *dt)
{
    (void)i, (void)dt; /* the target has no gradient here */
    double beta = LOSSD__CONSTS_OF(consts, classification_consts)->beta;
    lossd_vd s = sigmoid(x);
    lossd_vd ce = bce_logits_plain(x, t);
    lossd_vd d = t - s, abs_d = lossd_v_abs(d);
    lossd_vd m = lossd_v_pow_scalar(abs_d, beta);
    lossd_vd dm_dd =
        beta == 0 ? lossd_v_set1(0.0) : beta * lossd_v_pow_scalar(abs_d, beta - 1) * lossd_v_sgn(d);
    *dl = (s - t) * m + ce * (dm_dd * -((1 - s) * s));
    return ce * m;
}

/*
 * Varifocal loss (mmdetection's varifocal_loss): BCE(x, y) w, where
 * positives (y > 0) weigh y (iou_weighted) or 1, and negatives (y = 0)
 * alpha |s - y|^gamma, s = sigmoid(x). Nothing is detached, as in mmdet:
 * the negatives' gradient flows through their weight too. The mask passes
 * no gradient to the side it does not take (a select, not mmdet's product
 * with a 0/1 mask, which autograd would turn into 0 * inf = NaN where a
 * positive meets s = y with gamma < 1).
 */
LOSSD_INLINE lossd_vd varifocal_elem(const void *consts, size_t i, lossd_vd x, lossd_vd t,
                                     lossd_vd *dl, lossd_vd *dt)
{
    (void)i, (void)dt; /* the target has no gradient here */
    const classification_consts *k = LOSSD__CONSTS_OF(consts, classification_consts);
    double alpha = k->alpha, gamma = k->gamma;
    lossd_vd s = sigmoid(x);
    lossd_vd ce = bce_logits_plain(x, t);
    lossd_vd d = s - t, abs_d = lossd_v_abs(d);
    lossd_vm negative = t <= 0;
    lossd_vd m = lossd_v_pow_scalar(abs_d, gamma);
    lossd_vd w = lossd_v_select(negative, alpha * m, k->iou_weighted ? t : lossd_v_set1(1.0));
    /* d w / dx of the negatives: alpha gamma |d|^(gamma-1) sgn(d) s (1 - s); pow's is 0 at gamma 0
     */
    lossd_vd dm_dd = gamma == 0 ? lossd_v_set1(0.0)
                                : gamma * lossd_v_pow_scalar(abs_d, gamma - 1) * lossd_v_sgn(d);
    lossd_vd dw = lossd_v_select(negative, alpha * (dm_dd * ((1 - s) * s)), lossd_v_set1(0.0));
    *dl = (s - t) * w + ce * dw;
    return ce * w;
}

CLASSIFICATION_KERNEL(qfl_kernel, lossd__pointwise_loss, qfl_elem)

CLASSIFICATION_KERNEL(varifocal_kernel, lossd__pointwise_loss, varifocal_elem)

static int qfl_prepare(lossd_call *c, lossd_error *err)
{
    classification_consts *k = LOSSD__CONSTS_SET(c, classification_consts);
    k->beta = lossd__param_number(c, "beta");
    (void)err;
    return 0;
}

static int varifocal_prepare(lossd_call *c, lossd_error *err)
{
    classification_consts *k = LOSSD__CONSTS_SET(c, classification_consts);
    k->alpha = lossd__param_number(c, "alpha");
    k->gamma = lossd__param_number(c, "gamma");
    k->iou_weighted = lossd__param_bool(c, "iou_weighted");
    (void)err;
    return 0;
}

/* ------------------------------------------------------------ row-wise (N, C) */

/*
 * Poly-1 (Leng et al. 2022): CE(x, y) + epsilon (1 - p_t), p_t = softmax(x)[y],
 * over class indices without weights, ignore_index or label smoothing. The
 * cross-entropy part is cross_entropy_kernel's arithmetic in its order, so
 * that epsilon = 0 gives its results bit for bit (check_classification.c
 * checks it). d/dx_j = (p_j - [j = y]) (1 + epsilon p_t): autograd's two
 * paths, CE's p - onehot and epsilon p_t (p - onehot), share the factor.
 */
static int poly1_prepare(lossd_call *c, lossd_error *err)
{
    (void)err;
    classification_consts *k = LOSSD__CONSTS_SET(c, classification_consts);
    k->class_weight = NULL;
    k->ignore_index = NAN; /* no target is ignored: NaN equals nothing */
    k->poly_epsilon = lossd__param_number(c, "epsilon");
    return 0;
}

static size_t poly1_kernel(const lossd_call *restrict c, size_t begin, size_t end, double *out)
{
    const classification_consts *k = LOSSD__CONSTS(c, classification_consts);
    size_t n_cls = c->state->n_classes;
    double epsilon = k->poly_epsilon, scale = c->state->term_scale;
    bool reduced = lossd__reduced(c);
    lossd_vm bad = {0};
    for (size_t r = begin; r < end; r += LOSSD_LANES) {
        size_t rows = end - r < LOSSD_LANES ? end - r : LOSSD_LANES;
        const double *x = c->operand[0].data + r * n_cls;
        double *g = c->grad ? c->grad + r * n_cls : NULL;
        size_t index[LOSSD_LANES];
        lossd_vd target, x_target;
        lossd_vm ignored_rows; /* none: poly1 has no ignore_index */
        row_targets(c, k, r, rows, &target, index, &ignored_rows, &x_target, NULL);
        lossd_vd max, sum;
        lossd__softmax_rows(x, n_cls, rows, &max, &sum, NULL);
        lossd_vd logsum = lossd_v_log(sum);
        lossd_vd logp_t = (x_target - max) - logsum;
        lossd_vd p_t = lossd_v_exp(logp_t);
        lossd_vd loss = scale * (-logp_t + epsilon * (1 - p_t));
        lossd_v_store_n(out + (r - begin), loss, rows);
        if (!reduced)
            lossd__tally_nonfinite(&bad, loss, rows);
        if (!g)
            continue;
        lossd_vd up = lossd__upstream(c, scale, r, rows) * (1 + epsilon * p_t);
        for (size_t j = 0; j < n_cls; j++) {
            lossd_vd p = lossd_v_exp((lossd_v_gather(x + j, n_cls, rows) - max) - logsum);
            lossd_vd gj = up * (p - is_target(target, j));
            lossd_v_scatter(g + j, n_cls, gj, rows);
            lossd__tally_nonfinite(&bad, gj, rows);
        }
    }
    lossd__report_nonfinite(c, begin, lossd_v_count(bad));
    return 0;
}

/*
 * Distribution Focal Loss (GFL, mmdetection's distribution_focal_loss): a
 * real target y in [0, C - 1] between bins l = floor(y) and l + 1 is
 * CE(x, l) (l + 1 - y) + CE(x, l + 1) (y - l), each CE in cross_entropy's
 * arithmetic. At y = C - 1 the right term, whose weight is 0, is dropped
 * (mmdet would index bin C): its CE is taken at bin C - 1 instead, which
 * adds exactly 0 to the loss, and no lane matches bin C in the gradient.
 * d/dx_j = wl (p_j - [j = l]) + wr (p_j - [j = l + 1]), autograd's sum of the
 * two log_softmax backwards. Call-time validation put every y in [0, C - 1].
 */
static size_t dfl_kernel(const lossd_call *restrict c, size_t begin, size_t end, double *out)
{
    size_t n_cls = c->state->n_classes;
    double scale = c->state->term_scale;
    bool reduced = lossd__reduced(c);
    lossd_vm bad = {0};
    for (size_t r = begin; r < end; r += LOSSD_LANES) {
        size_t rows = end - r < LOSSD_LANES ? end - r : LOSSD_LANES;
        const double *x = c->operand[0].data + r * n_cls;
        double *g = c->grad ? c->grad + r * n_cls : NULL;
        lossd_vd y = lossd_v_load_n(c->operand[1].data + r, rows);
        lossd_vd left = lossd_v_set1(0.0), x_left = left, x_right = left;
        for (size_t l = 0; l < rows; l++) {
            size_t bin = (size_t)floor(y[l]);
            left[l] = (double)bin;
            x_left[l] = x[l * n_cls + bin];
            x_right[l] = x[l * n_cls + (bin + 1 < n_cls ? bin + 1 : bin)];
        }
        lossd_vd w_left = (left + 1) - y, w_right = y - left;
        lossd_vd max, sum;
        lossd__softmax_rows(x, n_cls, rows, &max, &sum, NULL);
        lossd_vd logsum = lossd_v_log(sum);
        lossd_vd ce_left = -((x_left - max) - logsum), ce_right = -((x_right - max) - logsum);
        lossd_vd loss = scale * (ce_left * w_left + ce_right * w_right);
        lossd_v_store_n(out + (r - begin), loss, rows);
        if (!reduced)
            lossd__tally_nonfinite(&bad, loss, rows);
        if (!g)
            continue;
        lossd_vd up = lossd__upstream(c, scale, r, rows);
        for (size_t j = 0; j < n_cls; j++) {
            lossd_vd p = lossd_v_exp((lossd_v_gather(x + j, n_cls, rows) - max) - logsum);
            lossd_vd gj =
                up * (w_left * (p - is_target(left, j)) + w_right * (p - is_target(left + 1, j)));
            lossd_v_scatter(g + j, n_cls, gj, rows);
            lossd__tally_nonfinite(&bad, gj, rows);
        }
    }
    lossd__report_nonfinite(c, begin, lossd_v_count(bad));
    return 0;
}

/* ------------------------------------------------------------ registry rows */

static const lossd_param_spec poly1_params[] = {
    {.name = "epsilon",
     .type = LOSSD_PARAM_NUMBER,
     .summary = "the weight of the first polynomial term (1 - p_t); 0 is cross-entropy",
     .default_number = 1.0,
     .domain = {-1, INFINITY, false, false, false, 0, false, 0}},
};

static const lossd_param_spec qfl_params[] = {
    {.name = "beta",
     .type = LOSSD_PARAM_NUMBER,
     .summary = "the focusing exponent of abs(y - sigmoid(x)); 0 is bce_with_logits",
     .default_number = 2.0,
     .domain = LOSSD__NONNEG},
};

static const lossd_param_spec varifocal_params[] = {
    {.name = "alpha",
     .type = LOSSD_PARAM_NUMBER,
     .summary = "the weight of the negatives' term alpha abs(sigmoid(x) - y)^gamma",
     .default_number = 0.75,
     .domain = LOSSD__NONNEG},
    {.name = "gamma",
     .type = LOSSD_PARAM_NUMBER,
     .summary = "the focusing exponent of the negatives' abs(sigmoid(x) - y)",
     .default_number = 2.0,
     .domain = LOSSD__NONNEG},
    {.name = "iou_weighted",
     .type = LOSSD_PARAM_BOOL,
     .summary = "positives weigh their target (IoU); false: 1",
     .default_number = 1},
};

/* Dense detection heads' logits and their IoU-like quality targets (qfl, varifocal). */
#define QUALITY_TARGET_OPERANDS                                              \
    {                                                                        \
        {"input", LOSSD_RULE_ANY, 0, "logits, any shape"},                   \
        {                                                                    \
            "target", LOSSD_RULE_PROBABILITIES, LOSSD_OPERAND_LIKE_INPUT,    \
                "quality scores (IoU) in [0,1], 0 for negatives, same shape" \
        }                                                                    \
    }

static const lossd_function detection_functions[] = {
    {.kind = LOSSD_KIND_LOSS,
     .name = "poly1",
     .summary = "Poly-1 cross-entropy: cross-entropy plus epsilon (1 - p_t) (Leng et al. 2022)",
     .formula = "\\ell_n = -\\log p_{n,y_n} + \\epsilon\\,(1 - p_{n,y_n}),\\ "
                "p_n = \\mathrm{softmax}(x_n)",
     .reference = "PolyLoss (Leng et al. ICLR 2022), as optax.poly_loss_cross_entropy",
     .flags = LOSSD_FN_GRAD,
     .operands = CLASS_INDEX_OPERANDS("logits (N,C) or (C)"),
     .params = LOSSD__PARAMS(poly1_params),
     .impl = LOSSD__IMPL(.prepare = poly1_prepare, .kernel = poly1_kernel)},
    {.kind = LOSSD_KIND_LOSS,
     .name = "qfl",
     .summary = "Quality Focal Loss on logits with a dense soft target (GFL, Li et al. 2020)",
     .formula = "\\ell_i = \\mathrm{BCE}(x_i, y_i)\\,|y_i - \\sigma(x_i)|^\\beta",
     .reference = "mmdetection quality_focal_loss_tensor_target, element by element (no sum over "
                  "classes)",
     .flags = LOSSD_FN_GRAD,
     .operands = QUALITY_TARGET_OPERANDS,
     .params = LOSSD__PARAMS(qfl_params),
     .impl = LOSSD__IMPL(.prepare = qfl_prepare, .kernel = qfl_kernel)},
    {.kind = LOSSD_KIND_LOSS,
     .name = "varifocal",
     .summary = "Varifocal loss on logits: IoU-weighted positives, focal-weighted negatives "
                "(VarifocalNet, Zhang et al. 2021)",
     .formula = "\\ell_i = \\mathrm{BCE}(x_i, y_i) \\begin{cases} y_i & y_i > 0 \\\\ "
                "\\alpha\\,\\sigma(x_i)^\\gamma & y_i = 0 \\end{cases}",
     .reference = "mmdetection varifocal_loss",
     .flags = LOSSD_FN_GRAD,
     .operands = QUALITY_TARGET_OPERANDS,
     .params = LOSSD__PARAMS(varifocal_params),
     .impl = LOSSD__IMPL(.prepare = varifocal_prepare, .kernel = varifocal_kernel)},
    {.kind = LOSSD_KIND_LOSS,
     .name = "dfl",
     .summary = "Distribution Focal Loss: cross-entropy of the two bins around a real-valued "
                "target (GFL, Li et al. 2020)",
     .formula = "\\ell_i = (l_i + 1 - y_i)\\,\\mathrm{CE}(x_i, l_i) + (y_i - l_i)\\,"
                "\\mathrm{CE}(x_i, l_i + 1),\\ l_i = \\lfloor y_i \\rfloor",
     .reference = "mmdetection distribution_focal_loss",
     .flags = LOSSD_FN_GRAD,
     .operands = {{"input", LOSSD_RULE_SCORES, 0, "logits over C bins (N,C) or (C)"},
                  {"target", LOSSD_RULE_BIN_TARGETS, 0, "reals in [0, C-1] (N) or ()"}},
     .impl = LOSSD__IMPL(.kernel = dfl_kernel)},
};

LOSSD__MODULE(lossd__detection_module, detection_functions);
