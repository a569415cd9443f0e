/* SPDX-License-Identifier: MIT */
/*
 * activation.c - PyTorch's common activations with their derivatives, and
 * softmax / log_softmax along any axis (`dim`, default the last).
 *
 * Each element function returns y and writes dy/dx in the form of ATen's
 * own backward kernel (aten/src/ATen/native/cpu/Activation.cpp and
 * derivatives.yaml), so kinks get PyTorch's choice: relu'(0) = 0,
 * leaky_relu'(0) = negative_slope, hardtanh/relu6 are flat at their
 * bounds, hardsigmoid is flat at +-3 while hardswish'(-3) = -1/2 and
 * hardswish'(3) = 1.5, elu'(0) = alpha, softplus is linear where
 * beta x > threshold.
 *
 * CELU's derivative divides by alpha rounded to float, as PyTorch 1.13's
 * backward does (1.0 / alpha.toFloat()); its value uses the double.
 *
 * ELU's forward uses exp(x) - 1, as PyTorch 1.13 does, not expm1 (see
 * elu_core).
 *
 * Thread-safe: kernels write only their own units' slots.
 */
#include "internal.h"

/* SELU's constants (Klambauer et al. 2017), as ATen spells them. */
#define SELU_ALPHA 1.6732632423543772848170429916717
#define SELU_SCALE 1.0507009873554804934193349852946

enum { GELU_NONE, GELU_TANH };

/*
 * Per-call constants (LOSSD__CONSTS), one member per function that has
 * any, resolved from the parameters by the prepare hooks below.
 */
typedef union {
    struct {
        double negative_slope;
    } leaky_relu;
    struct {
        lossd__param_view weight;
        size_t inner; /* elements per channel: the product of the axes after axis 1 */
    } prelu;
    struct {
        double alpha;
        double inv_alpha;      /* celu: 1 / alpha, the forward's input scale */
        double grad_inv_alpha; /* celu: 1 / (float)alpha, PyTorch 1.13's backward scale */
    } elu;                     /* elu, celu */
    struct {
        int approximate; /* GELU_NONE, GELU_TANH */
    } gelu;
    struct {
        double min_val, max_val;
    } hardtanh;
    struct {
        double beta, threshold;
    } softplus;
} activation_consts;

LOSSD_INLINE lossd_vd relu_elem(const void *consts, size_t i, lossd_vd x, lossd_vd *d,
                                bool need_grad)
{
    (void)consts, (void)i, (void)need_grad;
    *d = lossd_v_ones(x > 0);
    return lossd_v_select(x < 0, lossd_v_set1(0.0), x); /* NaN and -0 pass through */
}

LOSSD_INLINE lossd_vd leaky_relu_elem(const void *consts, size_t i, lossd_vd x, lossd_vd *d,
                                      bool need_grad)
{
    (void)i, (void)need_grad;
    double slope = LOSSD__CONSTS_OF(consts, activation_consts)->leaky_relu.negative_slope;
    *d = lossd_v_select(x > 0, lossd_v_set1(1.0), lossd_v_set1(slope));
    return lossd_v_select(x > 0, x, x * slope);
}

/* prelu: weight[channel], the channel being axis 1. */
LOSSD_INLINE lossd_vd prelu_elem(const void *consts, size_t i, lossd_vd x, lossd_vd *d,
                                 bool need_grad)
{
    (void)need_grad;
    const activation_consts *k = LOSSD__CONSTS_OF(consts, activation_consts);
    const lossd__param_view *w = &k->prelu.weight;
    lossd_vd wi;
    size_t inner = k->prelu.inner;
    for (size_t l = 0; l < LOSSD_LANES; l++)
        wi[l] = w->data[((i + l) / inner) % w->period];
    *d = lossd_v_select(x > 0, lossd_v_set1(1.0), wi);
    return lossd_v_select(x > 0, x, wi * x);
}

/* prelu with one weight for every channel. */
LOSSD_INLINE lossd_vd prelu1_elem(const void *consts, size_t i, lossd_vd x, lossd_vd *d,
                                  bool need_grad)
{
    (void)i, (void)need_grad;
    double w = LOSSD__CONSTS_OF(consts, activation_consts)->prelu.weight.data[0];
    *d = lossd_v_select(x > 0, lossd_v_set1(1.0), lossd_v_set1(w));
    return lossd_v_select(x > 0, x, x * w);
}

/*
 * ELU family: x <= 0 ? negcoef (exp(x negiptcoef) - 1) : poscoef x, as
 * ATen's elu computes it: exp(x) - 1, not expm1(x), which differ near 0
 * (for x = -1e-10, by 8e-8 relative). The derivative takes its own input
 * scale (CELU's differs, below); where it equals negiptcoef, the one
 * exponential serves both. Both sides are computed and the lane picks one:
 * the exponential of a large positive x overflows harmlessly in a lane
 * that is not kept. Like ATen, a vector with no x <= 0 skips the exponential.
 */
LOSSD_INLINE lossd_vd elu_core(lossd_vd x, double negcoef, double poscoef, double negiptcoef,
                               double grad_negiptcoef, lossd_vd *d, bool need_grad)
{
    lossd_vm negative = x <= 0;
    if (!lossd_v_any(negative)) {
        *d = lossd_v_set1(poscoef);
        return x * poscoef;
    }
    lossd_vd e = lossd_v_exp(x * negiptcoef);
    lossd_vd y = lossd_v_select(negative, (e - 1) * negcoef, x * poscoef);
    double k = grad_negiptcoef * negcoef;
    if (grad_negiptcoef == negiptcoef) {
        *d = lossd_v_select(negative, k * e, lossd_v_set1(poscoef));
        return y;
    }
    lossd_vd t = x * grad_negiptcoef;
    if (!need_grad) {
        /*
         * Only the zeros of d = k exp(t) count: with exp(t) a normal number
         * in (2^-995, 2^995) and 2^-75 < |k| < 2^900, d cannot round to 0,
         * so the second exponential is needed only near underflow or overflow.
         */
        lossd_vm sure = (t > -690) & (t < 690);
        bool moderate = fabs(k) > 0x1p-75 && fabs(k) < 0x1p900;
        if (moderate && !lossd_v_any(negative & ~sure)) {
            *d = lossd_v_select(negative, lossd_v_set1(1.0), lossd_v_set1(poscoef));
            return y;
        }
    }
    *d = lossd_v_select(negative, k * lossd_v_exp(t), lossd_v_set1(poscoef));
    return y;
}

LOSSD_INLINE lossd_vd elu_elem(const void *consts, size_t i, lossd_vd x, lossd_vd *d,
                               bool need_grad)
{
    (void)i;
    return elu_core(x, LOSSD__CONSTS_OF(consts, activation_consts)->elu.alpha, 1.0, 1.0, 1.0, d,
                    need_grad);
}

LOSSD_INLINE lossd_vd celu_elem(const void *consts, size_t i, lossd_vd x, lossd_vd *d,
                                bool need_grad)
{
    (void)i;
    const activation_consts *k = LOSSD__CONSTS_OF(consts, activation_consts);
    return elu_core(x, k->elu.alpha, 1.0, k->elu.inv_alpha, k->elu.grad_inv_alpha, d, need_grad);
}

LOSSD_INLINE lossd_vd selu_elem(const void *consts, size_t i, lossd_vd x, lossd_vd *d,
                                bool need_grad)
{
    (void)consts, (void)i;
    return elu_core(x, SELU_ALPHA * SELU_SCALE, SELU_SCALE, 1.0, 1.0, d, need_grad);
}

/* gelu with approximate "tanh" */
LOSSD_INLINE lossd_vd gelu_tanh_elem(const void *consts, size_t i, lossd_vd x, lossd_vd *d,
                                     bool need_grad)
{
    (void)consts, (void)i, (void)need_grad;
    const double beta = M_SQRT2 * M_2_SQRTPI * 0.5, kappa = 0.044715;
    lossd_vd x_sq = x * x, inner = beta * (x + kappa * x_sq * x);
    lossd_vd tanh_inner = lossd_v_tanh(inner);
    lossd_vd left = 0.5 * x, right = 1 + tanh_inner;
    lossd_vd right_derivative =
        left * (1 - tanh_inner * tanh_inner) * beta * (1 + 3 * kappa * x_sq);
    *d = 0.5 * right + right_derivative;
    return left * right;
}

/* gelu with approximate "none": the erf form */
LOSSD_INLINE lossd_vd gelu_elem(const void *consts, size_t i, lossd_vd x, lossd_vd *d,
                                bool need_grad)
{
    (void)consts, (void)i, (void)need_grad;
    const double alpha = M_2_SQRTPI * M_SQRT1_2 * 0.5;
    lossd_vd erf_1 = 1 + lossd_v_erf(x * M_SQRT1_2);
    *d = 0.5 * erf_1 + x * (alpha * lossd_v_exp(-0.5 * x * x));
    return x * 0.5 * erf_1; /* ATen's order; the same number, as halving is exact */
}

LOSSD_INLINE lossd_vd silu_elem(const void *consts, size_t i, lossd_vd x, lossd_vd *d,
                                bool need_grad)
{
    (void)consts, (void)i, (void)need_grad;
    lossd_vd e = lossd_v_exp(-x);
    lossd_vd s = 1 / (1 + e);
    *d = s * (1 + x * (1 - s));
    return x / (1 + e);
}

LOSSD_INLINE lossd_vd mish_elem(const void *consts, size_t i, lossd_vd x, lossd_vd *d,
                                bool need_grad)
{
    (void)consts, (void)i, (void)need_grad;
    lossd_vd s = 1 / (1 + lossd_v_exp(-x));
    lossd_vd tsp = lossd_v_tanh(lossd_v_log1p(lossd_v_exp(x)));
    *d = tsp + x * s * (1 - tsp * tsp);
    return x * tsp;
}

LOSSD_INLINE lossd_vd sigmoid_elem(const void *consts, size_t i, lossd_vd x, lossd_vd *d,
                                   bool need_grad)
{
    (void)consts, (void)i;
    lossd_vd den = 1 + lossd_v_exp(-x), y = 1 / den;
    /* (1 - y) y is 0 exactly where y is 1 or 0: where den is 1 or infinite */
    *d = need_grad ? (1 - y) * y : lossd_v_ones(~((den == 1) | (den == INFINITY)));
    return y;
}

LOSSD_INLINE lossd_vd tanh_elem(const void *consts, size_t i, lossd_vd x, lossd_vd *d,
                                bool need_grad)
{
    (void)consts, (void)i;
    lossd_vd y = lossd_v_tanh(x);
    /* 1 - y^2 is 0 exactly where |y| is 1 (below 1, y^2 rounds below 1 too) */
    *d = need_grad ? 1 - y * y : lossd_v_ones(lossd_v_abs(y) != 1);
    return y;
}

/* F.softsign is x / (|x| + 1) in Python; this is autograd's derivative of it. */
LOSSD_INLINE lossd_vd softsign_elem(const void *consts, size_t i, lossd_vd x, lossd_vd *d,
                                    bool need_grad)
{
    (void)consts, (void)i, (void)need_grad;
    lossd_vd den = lossd_v_abs(x) + 1;
    *d = 1 / den - x * lossd_v_sgn(x) / (den * den);
    return x / den;
}

LOSSD_INLINE lossd_vd clamp_elem(lossd_vd x, double lo, double hi, lossd_vd *d)
{
    *d = lossd_v_ones(~((x <= lo) | (x >= hi)));
    return lossd_v_select(x < lo, lossd_v_set1(lo), lossd_v_select(x > hi, lossd_v_set1(hi), x));
}

LOSSD_INLINE lossd_vd relu6_elem(const void *consts, size_t i, lossd_vd x, lossd_vd *d,
                                 bool need_grad)
{
    (void)consts, (void)i, (void)need_grad;
    return clamp_elem(x, 0.0, 6.0, d);
}

LOSSD_INLINE lossd_vd hardtanh_elem(const void *consts, size_t i, lossd_vd x, lossd_vd *d,
                                    bool need_grad)
{
    (void)i, (void)need_grad;
    const activation_consts *k = LOSSD__CONSTS_OF(consts, activation_consts);
    return clamp_elem(x, k->hardtanh.min_val, k->hardtanh.max_val, d);
}

/* hardsigmoid_backward multiplies by ATen's one_sixth, the float 1.0f / 6.0f. */
#define HARDSIGMOID_SLOPE ((double)(1.0f / 6.0f))

/* min(max(x + 3, 0), 6) with fmax/fmin's NaN rule: a NaN x gives 0. */
LOSSD_INLINE lossd_vd relu6_of_shifted(lossd_vd x)
{
    return lossd_v_fmin(lossd_v_fmax(x + 3, lossd_v_set1(0.0)), lossd_v_set1(6.0));
}

/* relu6_of_shifted(x) is +0 or at least 2^-51: its sixth is a normal number */
LOSSD_INLINE lossd_vd hardsigmoid_elem(const void *consts, size_t i, lossd_vd x, lossd_vd *d,
                                       bool need_grad)
{
    (void)consts, (void)i, (void)need_grad;
    *d = lossd_v_select((x > -3) & (x < 3), lossd_v_set1(HARDSIGMOID_SLOPE), lossd_v_set1(0.0));
    return lossd_v_div_const(relu6_of_shifted(x), 6, 1.0 / 6);
}

LOSSD_INLINE lossd_vd hardswish_elem(const void *consts, size_t i, lossd_vd x, lossd_vd *d,
                                     bool need_grad)
{
    (void)consts, (void)i;
    /*
     * x / 3 + 0.5 is 0 only at x = -1.5 (the nearest doubles give +-1 ulp
     * of -0.5): the statistic alone needs no division. Where x / 3 is not
     * a normal number its lane is either not selected (|x| > 3, NaN) or
     * the + 0.5 rounds it away (|x| < 2^-1021), so lossd_v_div_const
     * serves all lanes.
     */
    *d = need_grad ? lossd_v_select(x < -3, lossd_v_set1(0.0),
                                    lossd_v_select(x <= 3, lossd_v_div_const(x, 3, 1.0 / 3) + 0.5,
                                                   lossd_v_set1(1.0)))
                   : lossd_v_ones(~((x < -3) | (x == -1.5)));
    /*
     * The division stays here: x (x + 3 clamped) is -0 for x <= -3, and
     * tiny or infinite for tiny or huge x, outside lossd_v_div_const's
     * domain - guarding the lanes cost more than the divider (measured).
     */
    return x * relu6_of_shifted(x) / 6;
}

/* unit: beta is 1, so x beta is x and the division by beta (a divider's slow op) is exact to skip.
 */
LOSSD_INLINE lossd_vd softplus_core(const void *consts, lossd_vd x, lossd_vd *d, bool need_grad,
                                    bool unit)
{
    const activation_consts *k = LOSSD__CONSTS_OF(consts, activation_consts);
    double beta = unit ? 1.0 : k->softplus.beta, threshold = k->softplus.threshold;
    lossd_vd xb = unit ? x : x * beta;
    lossd_vm linear = xb > threshold;
    lossd_vd z = lossd_v_exp(xb);
    /* z / (z + 1) is 0 exactly where z is: no division for the statistic alone */
    lossd_vd slope = need_grad ? z / (z + 1) : lossd_v_ones(z != 0);
    *d = lossd_v_select(linear, lossd_v_set1(1.0), slope);
    lossd_vd soft = unit ? lossd_v_log1p(z) : lossd_v_log1p(z) / beta;
    return lossd_v_select(linear, x, soft);
}

LOSSD_INLINE lossd_vd softplus_elem(const void *consts, size_t i, lossd_vd x, lossd_vd *d,
                                    bool need_grad)
{
    (void)i;
    return softplus_core(consts, x, d, need_grad, false);
}

LOSSD_INLINE lossd_vd softplus1_elem(const void *consts, size_t i, lossd_vd x, lossd_vd *d,
                                     bool need_grad)
{
    (void)i;
    return softplus_core(consts, x, d, need_grad, true);
}

/* A kernel over name##_elem, given its copy of the constants (lossd__pointwise_loss). */
#define POINTWISE_KERNEL(name)                                                              \
    static size_t name##_kernel(const lossd_call *c, size_t begin, size_t end, double *out) \
    {                                                                                       \
        activation_consts k = *LOSSD__CONSTS(c, activation_consts);                         \
        return lossd__pointwise_activation(c, &k, begin, end, out, name##_elem);            \
    }

POINTWISE_KERNEL(relu)
POINTWISE_KERNEL(leaky_relu)
static size_t prelu_kernel(const lossd_call *c, size_t begin, size_t end, double *out)
{
    activation_consts k = *LOSSD__CONSTS(c, activation_consts);
    if (k.prelu.weight.period == 1) /* one loop for one weight: no test per vector */
        return lossd__pointwise_activation(c, &k, begin, end, out, prelu1_elem);
    return lossd__pointwise_activation(c, &k, begin, end, out, prelu_elem);
}
POINTWISE_KERNEL(elu)
POINTWISE_KERNEL(celu)
POINTWISE_KERNEL(selu)
static size_t gelu_kernel(const lossd_call *c, size_t begin, size_t end, double *out)
{
    if (LOSSD__CONSTS(c, activation_consts)->gelu.approximate == GELU_TANH)
        return lossd__pointwise_activation(c, NULL, begin, end, out, gelu_tanh_elem);
    return lossd__pointwise_activation(c, NULL, begin, end, out, gelu_elem);
}
POINTWISE_KERNEL(silu)
POINTWISE_KERNEL(mish)
POINTWISE_KERNEL(sigmoid)
POINTWISE_KERNEL(tanh)
POINTWISE_KERNEL(softsign)
POINTWISE_KERNEL(relu6)
POINTWISE_KERNEL(hardtanh)
POINTWISE_KERNEL(hardsigmoid)
POINTWISE_KERNEL(hardswish)
static size_t softplus_kernel(const lossd_call *c, size_t begin, size_t end, double *out)
{
    activation_consts k = *LOSSD__CONSTS(c, activation_consts);
    if (k.softplus.beta == 1) /* the default */
        return lossd__pointwise_activation(c, &k, begin, end, out, softplus1_elem);
    return lossd__pointwise_activation(c, &k, begin, end, out, softplus_elem);
}

/* ------------------------------------------------------------ row-wise */

/*
 * softmax and log_softmax of LOSSD_LANES rows at a time (one per lane),
 * rows whose entry j lies j * step from their first and whose first
 * entries lie lane_step apart; `at` is lane 0's first entry's index into
 * the input (and grad, grad_output), y its place in the output. Backward
 * as ATen: softmax y (g - sum g y), log_softmax g - exp(y) sum g. The "zero
 * derivative" statistic uses the Jacobian's diagonal: y (1 - y) and 1 - p.
 * Returns that count.
 */
LOSSD_INLINE size_t softmax_lanes(const lossd_call *restrict c, size_t at, double *y, size_t n,
                                  size_t step, size_t lane_step, size_t rows, bool log_space,
                                  lossd_vm *bad)
{
    const double *x = c->operand[0].data + at;
    lossd_vm live = lossd_v_first(rows);
    lossd_vd max, sum;
    /* softmax keeps the exponentials in y, to scale them below */
    lossd__softmax_strided(x, n, step, lane_step, rows, &max, &sum, log_space ? NULL : y);
    lossd_vd logsum = lossd_v_log(sum), inv_sum = 1 / sum;
    lossd_vm zero = {0};
    for (size_t j = 0; j < n; j++) {
        lossd_vd yj, p;
        if (log_space) {
            yj = (lossd_v_gather(x + j * step, lane_step, rows) - max) - logsum;
            p = lossd_v_exp(yj);
            zero += (1 - p == 0) & live;
        } else {
            yj = lossd_v_gather(y + j * step, lane_step, rows) * inv_sum;
            zero += (yj * (1 - yj) == 0) & live;
        }
        lossd_v_scatter(y + j * step, lane_step, yj, rows);
        lossd__tally_nonfinite(bad, yj, rows);
    }
    if (c->grad == NULL)
        return lossd_v_count(zero);
    double *g = c->grad + at;
    const double *gr = c->grad_output_set ? c->grad_output.data + at : NULL;
    lossd_vd dot = lossd_v_set1(0.0);
    for (size_t j = 0; j < n; j++) {
        lossd_vd gj = gr ? lossd_v_gather(gr + j * step, lane_step, rows) : lossd_v_set1(1.0);
        dot += log_space ? gj : gj * lossd_v_gather(y + j * step, lane_step, rows);
    }
    for (size_t j = 0; j < n; j++) {
        lossd_vd gj = gr ? lossd_v_gather(gr + j * step, lane_step, rows) : lossd_v_set1(1.0);
        lossd_vd yj = lossd_v_gather(y + j * step, lane_step, rows);
        lossd_vd gradient = log_space ? gj - lossd_v_exp(yj) * dot : yj * (gj - dot);
        lossd_v_scatter(g + j * step, lane_step, gradient, rows);
        lossd__tally_nonfinite(bad, gradient, rows);
    }
    return lossd_v_count(zero);
}

/*
 * Units [begin, end): rows along the last axis, whole rows in a row of
 * lanes; or, with a `dim` before it (axis_inner > 1), slabs of axis_len
 * rows of axis_inner entries, whose axis_inner rows run side by side -
 * the lanes then read neighbouring numbers.
 */
LOSSD_INLINE size_t softmax_units(const lossd_call *restrict c, size_t begin, size_t end,
                                  double *out, bool log_space)
{
    size_t zeros = 0, inner = c->state->axis_inner;
    lossd_vm bad = {0};
    if (inner <= 1) {
        size_t n = c->state->axis_len ? c->state->axis_len : lossd__row_len(&c->operand[0]);
        for (size_t r = begin; r < end; r += LOSSD_LANES) {
            size_t rows = end - r < LOSSD_LANES ? end - r : LOSSD_LANES;
            zeros += softmax_lanes(c, r * n, out + (r - begin) * n, n, 1, n, rows, log_space, &bad);
        }
    } else {
        size_t n = c->state->axis_len, slab = n * inner;
        for (size_t u = begin; u < end; u++)
            for (size_t i = 0; i < inner; i += LOSSD_LANES) {
                size_t rows = inner - i < LOSSD_LANES ? inner - i : LOSSD_LANES;
                zeros += softmax_lanes(c, u * slab + i, out + (u - begin) * slab + i, n, inner, 1,
                                       rows, log_space, &bad);
            }
    }
    lossd__report_nonfinite(c, begin, lossd_v_count(bad));
    return zeros;
}

static size_t softmax_kernel(const lossd_call *c, size_t begin, size_t end, double *out)
{
    return softmax_units(c, begin, end, out, false);
}

static size_t log_softmax_kernel(const lossd_call *c, size_t begin, size_t end, double *out)
{
    return softmax_units(c, begin, end, out, true);
}

/* ------------------------------------------------------------ prepare hooks */

static int leaky_relu_prepare(lossd_call *c, lossd_error *err)
{
    activation_consts *k = LOSSD__CONSTS_SET(c, activation_consts);
    k->leaky_relu.negative_slope = lossd__param_number(c, "negative_slope");
    (void)err;
    return 0;
}

static int prelu_prepare(lossd_call *c, lossd_error *err)
{
    activation_consts *k = LOSSD__CONSTS_SET(c, activation_consts);
    const lossd_tensor *x = &c->operand[0];
    size_t inner = 1;
    for (int d = 2; d < x->rank; d++)
        inner *= x->shape[d];
    k->prelu.weight = lossd__param_view_of(c, "weight");
    k->prelu.inner = inner ? inner : 1;
    (void)err;
    return 0;
}

static int elu_prepare(lossd_call *c, lossd_error *err)
{
    activation_consts *k = LOSSD__CONSTS_SET(c, activation_consts);
    k->elu.alpha = lossd__param_number(c, "alpha");
    (void)err;
    return 0;
}

/* The inverse scales, once per call rather than once per vector. */
static int celu_prepare(lossd_call *c, lossd_error *err)
{
    activation_consts *k = LOSSD__CONSTS_SET(c, activation_consts);
    double alpha = k->elu.alpha = lossd__param_number(c, "alpha");
    k->elu.inv_alpha = 1.0 / alpha;
    k->elu.grad_inv_alpha = 1.0 / (double)(float)alpha; /* as PyTorch 1.13's backward */
    (void)err;
    return 0;
}

static int gelu_prepare(lossd_call *c, lossd_error *err)
{
    activation_consts *k = LOSSD__CONSTS_SET(c, activation_consts);
    k->gelu.approximate = lossd__param_choice(c, "approximate");
    (void)err;
    return 0;
}

static int hardtanh_prepare(lossd_call *c, lossd_error *err)
{
    activation_consts *k = LOSSD__CONSTS_SET(c, activation_consts);
    double min_val = k->hardtanh.min_val = lossd__param_number(c, "min_val");
    double max_val = k->hardtanh.max_val = lossd__param_number(c, "max_val");
    if (min_val > max_val)
        return lossd__fail(err, LOSSD_EINVAL, "max_val", "must be >= min_val (%s), got %s",
                           LOSSD__SHORTEST(min_val), LOSSD__SHORTEST(max_val));
    return 0;
}

static int softplus_prepare(lossd_call *c, lossd_error *err)
{
    activation_consts *k = LOSSD__CONSTS_SET(c, activation_consts);
    k->softplus.beta = lossd__param_number(c, "beta");
    k->softplus.threshold = lossd__param_number(c, "threshold");
    (void)err;
    return 0;
}

/* ------------------------------------------------------------ registry rows */

static const lossd_param_spec leaky_relu_params[] = {
    {.name = "negative_slope",
     .type = LOSSD_PARAM_NUMBER,
     .summary = "the slope for x <= 0",
     .default_number = 0.01,
     .domain = LOSSD__ANY},
};

static const lossd_param_spec prelu_params[] = {
    {.name = "weight",
     .type = LOSSD_PARAM_TENSOR,
     .summary = "the learnt slope for x <= 0: one number, or one per channel (axis 1)",
     .shape = LOSSD_PSHAPE_CHANNELS,
     .required = true},
};

static const lossd_param_spec elu_params[] = {
    {.name = "alpha",
     .type = LOSSD_PARAM_NUMBER,
     .summary = "the value approached as x goes to minus infinity is -alpha",
     .default_number = 1.0,
     .domain = LOSSD__ANY},
};

static const lossd_param_spec celu_params[] = {
    {.name = "alpha",
     .type = LOSSD_PARAM_NUMBER,
     .summary = "scale of the negative part, continuously differentiable at 0",
     .default_number = 1.0,
     .domain = LOSSD__NONZERO},
};

static const char *const gelu_modes[] = {"none", "tanh", NULL};

static const lossd_param_spec gelu_params[] = {
    {.name = "approximate",
     .type = LOSSD_PARAM_CHOICE,
     .summary = "\"none\" for the exact erf form, \"tanh\" for the tanh approximation",
     .choices = gelu_modes},
};

static const lossd_param_spec hardtanh_params[] = {
    {.name = "min_val",
     .type = LOSSD_PARAM_NUMBER,
     .summary = "the lower bound",
     .default_number = -1.0,
     .domain = LOSSD__ANY},
    {.name = "max_val",
     .type = LOSSD_PARAM_NUMBER,
     .summary = "the upper bound, >= min_val",
     .default_number = 1.0,
     .domain = LOSSD__ANY},
};

static const lossd_param_spec softplus_params[] = {
    {.name = "beta",
     .type = LOSSD_PARAM_NUMBER,
     .summary = "sharpness: log(1 + exp(beta x)) / beta",
     .default_number = 1.0,
     .domain = LOSSD__NONZERO},
    {.name = "threshold",
     .type = LOSSD_PARAM_NUMBER,
     .summary = "above beta x > threshold the function is x",
     .default_number = 20.0,
     .domain = LOSSD__ANY},
};

/* A row's public half; .impl follows (LOSSD__IMPL). */
/* The axis of the sums, as PyTorch's dim (call.c resolves it: row_axis). */
static const lossd_param_spec softmax_params[] = {
    {.name = "dim",
     .type = LOSSD_PARAM_INTEGER,
     .summary = "the axis the exponentials are normalised along; negative counts from the last",
     .default_number = -1,
     .domain = LOSSD__ANY},
};

#define ACTIVATION(fname, fsummary, fformula, fref)                                          \
    .kind = LOSSD_KIND_ACTIVATION, .name = #fname, .summary = fsummary, .formula = fformula, \
    .reference = fref, .flags = LOSSD_FN_GRAD,                                               \
    .operands = {{"input", LOSSD_RULE_ANY, 0, "any shape"}, {NULL, LOSSD_RULE_NONE, 0, NULL}}

static const lossd_function activation_functions[] = {
    {ACTIVATION(relu, "rectified linear unit", "\\max(0, x)", "torch.nn.functional.relu"),
     .impl = LOSSD__IMPL(.kernel = relu_kernel)},
    {ACTIVATION(leaky_relu, "ReLU with a small slope for negative inputs",
                "\\max(0, x) + s \\min(0, x)", "torch.nn.functional.leaky_relu"),
     .params = LOSSD__PARAMS(leaky_relu_params),
     .impl = LOSSD__IMPL(.prepare = leaky_relu_prepare, .kernel = leaky_relu_kernel)},
    {ACTIVATION(prelu, "leaky ReLU with a given slope per channel", "\\max(0, x) + w_c \\min(0, x)",
                "torch.nn.functional.prelu"),
     .params = LOSSD__PARAMS(prelu_params),
     .impl = LOSSD__IMPL(.prepare = prelu_prepare, .kernel = prelu_kernel)},
    {ACTIVATION(elu, "exponential linear unit",
                "\\begin{cases} x & x > 0 \\\\ \\alpha (e^x - 1) & x \\le 0 \\end{cases}",
                "torch.nn.functional.elu"),
     .params = LOSSD__PARAMS(elu_params),
     .impl = LOSSD__IMPL(.prepare = elu_prepare, .kernel = elu_kernel)},
    {ACTIVATION(celu, "continuously differentiable ELU",
                "\\max(0, x) + \\min(0, \\alpha (e^{x/\\alpha} - 1))", "torch.nn.functional.celu"),
     .params = LOSSD__PARAMS(celu_params),
     .impl = LOSSD__IMPL(.prepare = celu_prepare, .kernel = celu_kernel)},
    {ACTIVATION(selu, "scaled ELU (self-normalising networks)",
                "\\lambda \\begin{cases} x & x > 0 \\\\ \\alpha (e^x - 1) & x \\le 0 \\end{cases}",
                "torch.nn.functional.selu"),
     .impl = LOSSD__IMPL(.kernel = selu_kernel)},
    {ACTIVATION(gelu, "Gaussian error linear unit", "x \\Phi(x)", "torch.nn.functional.gelu"),
     .params = LOSSD__PARAMS(gelu_params),
     .impl = LOSSD__IMPL(.prepare = gelu_prepare, .kernel = gelu_kernel)},
    {ACTIVATION(silu, "sigmoid-weighted linear unit (swish)", "x \\sigma(x)",
                "torch.nn.functional.silu"),
     .impl = LOSSD__IMPL(.kernel = silu_kernel)},
    {ACTIVATION(mish, "self-regularised non-monotonic activation", "x \\tanh(\\log(1 + e^x))",
                "torch.nn.functional.mish"),
     .impl = LOSSD__IMPL(.kernel = mish_kernel)},
    {ACTIVATION(sigmoid, "logistic sigmoid", "\\frac{1}{1 + e^{-x}}",
                "torch.nn.functional.sigmoid"),
     .impl = LOSSD__IMPL(.kernel = sigmoid_kernel)},
    {ACTIVATION(tanh, "hyperbolic tangent", "\\tanh x", "torch.nn.functional.tanh"),
     .impl = LOSSD__IMPL(.kernel = tanh_kernel)},
    {ACTIVATION(softsign, "x over one plus its magnitude", "\\frac{x}{1 + |x|}",
                "torch.nn.functional.softsign"),
     .impl = LOSSD__IMPL(.kernel = softsign_kernel)},
    {ACTIVATION(relu6, "ReLU capped at 6", "\\min(\\max(0, x), 6)", "torch.nn.functional.relu6"),
     .impl = LOSSD__IMPL(.kernel = relu6_kernel)},
    {ACTIVATION(hardsigmoid, "piecewise-linear sigmoid", "\\frac{\\min(\\max(x + 3, 0), 6)}{6}",
                "torch.nn.functional.hardsigmoid"),
     .impl = LOSSD__IMPL(.kernel = hardsigmoid_kernel)},
    {ACTIVATION(hardswish, "piecewise-quadratic swish", "x \\frac{\\min(\\max(x + 3, 0), 6)}{6}",
                "torch.nn.functional.hardswish"),
     .impl = LOSSD__IMPL(.kernel = hardswish_kernel)},
    {ACTIVATION(hardtanh, "clamp to [min_val, max_val]", "\\min(\\max(x, a), b)",
                "torch.nn.functional.hardtanh"),
     .params = LOSSD__PARAMS(hardtanh_params),
     .impl = LOSSD__IMPL(.prepare = hardtanh_prepare, .kernel = hardtanh_kernel)},
    {ACTIVATION(softplus, "smooth approximation of ReLU",
                "\\frac{1}{\\beta} \\log(1 + e^{\\beta x})", "torch.nn.functional.softplus"),
     .params = LOSSD__PARAMS(softplus_params),
     .impl = LOSSD__IMPL(.prepare = softplus_prepare, .kernel = softplus_kernel)},
    {ACTIVATION(softmax, "softmax along an axis (dim, default the last)",
                "\\frac{e^{x_j}}{\\sum_k e^{x_k}}", "torch.nn.functional.softmax"),
     .params = LOSSD__PARAMS(softmax_params),
     .impl = LOSSD__IMPL(.flags = LOSSD__FN_ROWWISE, .kernel = softmax_kernel)},
    {ACTIVATION(log_softmax, "log-softmax along an axis (dim, default the last)",
                "x_j - \\log \\sum_k e^{x_k}", "torch.nn.functional.log_softmax"),
     .params = LOSSD__PARAMS(softmax_params),
     .impl = LOSSD__IMPL(.flags = LOSSD__FN_ROWWISE, .kernel = log_softmax_kernel)},
};

LOSSD__MODULE(lossd__activation_module, activation_functions);
