/* SPDX-License-Identifier: MIT */
/*
 * regression.c - the regression losses: L1, MSE, Smooth L1 and Huber, as
 * torch.nn.functional computes them, with gradients.
 *
 * PyTorch details matched (aten/src/ATen/native/Loss.cpp):
 *   - l1's derivative is sgn(x - t), 0 where x == t (abs backward);
 *   - smooth_l1 is quadratic strictly inside |d| < beta; its derivative
 *     follows smooth_l1_backward's tests in order (d <= -beta: -1,
 *     d >= beta: 1, else d / beta), so with beta = 0 the value is l1's but
 *     the derivative at d = 0 is -1, not 0;
 *   - huber is quadratic strictly inside |d| < delta, derivative +-delta
 *     from |d| >= delta on (huber_loss_backward);
 *   - the target's gradient is autograd's: -sgn(x - t) for l1 (whose
 *     autograd is abs's), the backward with input and target swapped for
 *     the others, so that a tie with beta = 0 gives smooth_l1 -1 for both.
 *
 * Thread-safe: kernels write only their own units' slots.
 */
#include "internal.h"

/* Per-call constants (LOSSD__CONSTS), resolved from the parameters by the prepare hooks. */
typedef union {
    struct {
        double beta;
        /* 0.5 / beta when that and 1 / beta are normal numbers, else 0: divide */
        double half_inv_beta;
    } smooth_l1;
    struct {
        double delta;
        double half_delta; /* 0.5 delta, once per call rather than per vector */
    } huber;
} regression_consts;

/*
 * The target's derivatives are ATen's: l1 is abs(x - t) (autograd: -sgn),
 * the others call their backward with input and target swapped
 * (derivatives.yaml), so each slope is taken at t - x.
 */
LOSSD_INLINE lossd_vd l1_elem(const void *consts, size_t i, lossd_vd x, lossd_vd t, lossd_vd *dl,
                              lossd_vd *dt)
{
    (void)consts, (void)i;
    lossd_vd d = x - t;
    *dl = lossd_v_sgn(d);
    *dt = -*dl; /* -0 at a tie, as autograd's negation */
    return lossd_v_abs(d);
}

LOSSD_INLINE lossd_vd mse_elem(const void *consts, size_t i, lossd_vd x, lossd_vd t, lossd_vd *dl,
                               lossd_vd *dt)
{
    (void)consts, (void)i;
    lossd_vd d = x - t;
    *dl = 2 * d;
    *dt = 2 * (t - x); /* +0 at a tie */
    return d * d;
}

/* smooth_l1_backward's slope at d, its tests in its order: with beta = 0, d = 0 gives -1. */
LOSSD_INLINE lossd_vd smooth_l1_slope(lossd_vd d, double beta)
{
    return lossd_v_select(d <= -beta, lossd_v_set1(-1.0),
                          lossd_v_select(d >= beta, lossd_v_set1(1.0), d / beta));
}

/*
 * smooth_l1 with the quadratic 0.5 d^2 / beta computed as `quadratic`
 * says: a product by half_inv_beta = 0.5 / beta, or (beta tiny, huge or
 * 0) the division. The kernel picks one per call.
 */
LOSSD_INLINE lossd_vd smooth_l1_core(const void *consts, lossd_vd x, lossd_vd t, lossd_vd *dl,
                                     lossd_vd *dt, bool product)
{
    const regression_consts *k = LOSSD__CONSTS_OF(consts, regression_consts);
    double beta = k->smooth_l1.beta, half_inv_beta = k->smooth_l1.half_inv_beta;
    lossd_vd d = x - t, ad = lossd_v_abs(d);
    *dl = smooth_l1_slope(d, beta);
    *dt = smooth_l1_slope(t - x, beta); /* +0 at a tie, as ATen; beta = 0: -1 for both */
    lossd_vd quadratic = product ? d * d * half_inv_beta : 0.5 * d * d / beta;
    return lossd_v_select(ad < beta, quadratic, ad - 0.5 * beta);
}

LOSSD_INLINE lossd_vd smooth_l1_elem(const void *consts, size_t i, lossd_vd x, lossd_vd t,
                                     lossd_vd *dl, lossd_vd *dt)
{
    (void)i;
    return smooth_l1_core(consts, x, t, dl, dt, true);
}

LOSSD_INLINE lossd_vd smooth_l1_div_elem(const void *consts, size_t i, lossd_vd x, lossd_vd t,
                                         lossd_vd *dl, lossd_vd *dt)
{
    (void)i;
    return smooth_l1_core(consts, x, t, dl, dt, false);
}

/*
 * 0.5 / beta only when that and 1 / beta are normal numbers: a product
 * then rounds within 2 ulp of ATen's division (a divider is 4x slower
 * than a multiplier).
 */
static int smooth_l1_prepare(lossd_call *c, lossd_error *err)
{
    regression_consts *k = LOSSD__CONSTS_SET(c, regression_consts);
    double beta = lossd__param_number(c, "beta");
    k->smooth_l1.beta = beta;
    k->smooth_l1.half_inv_beta = beta > 0x1p-1000 && beta < 0x1p1000 ? 0.5 / beta : 0.0;
    (void)err;
    return 0;
}

/* huber_loss_backward's slope at d: d inside |d| < delta, +-delta from there on. */
LOSSD_INLINE lossd_vd huber_slope(lossd_vd d, double delta)
{
    return lossd_v_select(lossd_v_abs(d) < delta, d, delta * lossd_v_sgn(d));
}

LOSSD_INLINE lossd_vd huber_elem(const void *consts, size_t i, lossd_vd x, lossd_vd t, lossd_vd *dl,
                                 lossd_vd *dt)
{
    (void)i;
    const regression_consts *k = LOSSD__CONSTS_OF(consts, regression_consts);
    double delta = k->huber.delta, half_delta = k->huber.half_delta;
    lossd_vd d = x - t, ad = lossd_v_abs(d);
    *dl = huber_slope(d, delta);
    *dt = huber_slope(t - x, delta);
    return lossd_v_select(ad < delta, 0.5 * d * d, delta * (ad - half_delta));
}

static int huber_prepare(lossd_call *c, lossd_error *err)
{
    regression_consts *k = LOSSD__CONSTS_SET(c, regression_consts);
    k->huber.delta = lossd__param_number(c, "delta");
    k->huber.half_delta = 0.5 * k->huber.delta;
    (void)err;
    return 0;
}

static size_t l1_kernel(const lossd_call *c, size_t begin, size_t end, double *out)
{
    return lossd__pointwise_loss_dt(c, NULL, begin, end, out, l1_elem);
}

static size_t mse_kernel(const lossd_call *c, size_t begin, size_t end, double *out)
{
    return lossd__pointwise_loss_dt(c, NULL, begin, end, out, mse_elem);
}

static size_t smooth_l1_kernel(const lossd_call *c, size_t begin, size_t end, double *out)
{
    regression_consts k = *LOSSD__CONSTS(c, regression_consts);
    if (k.smooth_l1.half_inv_beta == 0)
        return lossd__pointwise_loss_dt(c, &k, begin, end, out, smooth_l1_div_elem);
    return lossd__pointwise_loss_dt(c, &k, begin, end, out, smooth_l1_elem);
}

static size_t huber_kernel(const lossd_call *c, size_t begin, size_t end, double *out)
{
    regression_consts k = *LOSSD__CONSTS(c, regression_consts);
    return lossd__pointwise_loss_dt(c, &k, begin, end, out, huber_elem);
}

static const lossd_param_spec smooth_l1_params[] = {
    {.name = "beta",
     .type = LOSSD_PARAM_NUMBER,
     .summary = "where the loss turns from quadratic to linear; 0 means L1",
     .default_number = 1.0,
     .domain = LOSSD__NONNEG},
};

static const lossd_param_spec huber_params[] = {
    {.name = "delta",
     .type = LOSSD_PARAM_NUMBER,
     .summary = "where the loss turns from quadratic to linear",
     .default_number = 1.0,
     .domain = LOSSD__POSITIVE},
};

#define SAME_SHAPE_OPERANDS                                                           \
    {                                                                                 \
        {"input", LOSSD_RULE_ANY, 0, "any shape"},                                    \
        {                                                                             \
            "target", LOSSD_RULE_ANY, LOSSD_OPERAND_LIKE_INPUT, "same shape as input" \
        }                                                                             \
    }

static const lossd_function regression_functions[] = {
    {.kind = LOSSD_KIND_LOSS,
     .name = "l1",
     .summary = "mean absolute error",
     .formula = "\\ell_i = |x_i - y_i|",
     .reference = "torch.nn.functional.l1_loss",
     .flags = LOSSD_FN_GRAD | LOSSD_FN_GRAD_SECOND,
     .operands = SAME_SHAPE_OPERANDS,
     .impl = LOSSD__IMPL(.kernel = l1_kernel)},
    {.kind = LOSSD_KIND_LOSS,
     .name = "mse",
     .summary = "mean squared error",
     .formula = "\\ell_i = (x_i - y_i)^2",
     .reference = "torch.nn.functional.mse_loss",
     .flags = LOSSD_FN_GRAD | LOSSD_FN_GRAD_SECOND,
     .operands = SAME_SHAPE_OPERANDS,
     .impl = LOSSD__IMPL(.kernel = mse_kernel)},
    {.kind = LOSSD_KIND_LOSS,
     .name = "smooth_l1",
     .summary = "quadratic near zero, linear beyond beta (Fast R-CNN)",
     .formula = "\\ell_i = \\begin{cases} 0.5 (x_i - y_i)^2 / \\beta & |x_i - y_i| < \\beta \\\\ "
                "|x_i - y_i| - 0.5 \\beta & \\text{otherwise} \\end{cases}",
     .reference = "torch.nn.functional.smooth_l1_loss",
     .flags = LOSSD_FN_GRAD | LOSSD_FN_GRAD_SECOND,
     .operands = SAME_SHAPE_OPERANDS,
     .params = LOSSD__PARAMS(smooth_l1_params),
     .impl = LOSSD__IMPL(.prepare = smooth_l1_prepare, .kernel = smooth_l1_kernel)},
    {.kind = LOSSD_KIND_LOSS,
     .name = "huber",
     .summary = "quadratic near zero, linear with slope delta beyond delta",
     .formula = "\\ell_i = \\begin{cases} 0.5 (x_i - y_i)^2 & |x_i - y_i| < \\delta \\\\ "
                "\\delta (|x_i - y_i| - 0.5 \\delta) & \\text{otherwise} \\end{cases}",
     .reference = "torch.nn.functional.huber_loss",
     .flags = LOSSD_FN_GRAD | LOSSD_FN_GRAD_SECOND,
     .operands = SAME_SHAPE_OPERANDS,
     .params = LOSSD__PARAMS(huber_params),
     .impl = LOSSD__IMPL(.prepare = huber_prepare, .kernel = huber_kernel)},
};

LOSSD__MODULE(lossd__regression_module, regression_functions);
