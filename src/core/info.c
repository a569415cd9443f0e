/*
 * info.c - information measures of discrete distributions: self-information,
 * entropy, cross-entropy, KL and Jensen-Shannon divergence, in any base.
 *
 * Rows are distributions. With normalize false each row must already sum
 * to 1 within 1e-6; with normalize true each row is divided by its sum.
 * 0 log 0 = 0 wherever it appears; a divergence is +inf where Q = 0 < P
 * (the service writes it as null and counts it as non-finite).
 *
 * Thread-safe: kernels write only their own units' slots.
 */
#include <stdio.h>

#include "internal.h"

enum { P_BASE = 0, P_NORMALIZE = 1 };

enum { SELF_INFORMATION, ENTROPY, CROSS_ENTROPY, KL_DIVERGENCE, JS_DIVERGENCE };

#define ROW_SUM_TOLERANCE 1e-6

static double row_sum(const double *x, size_t n)
{
    lossd__sum s = {0, 0};
    for (size_t j = 0; j < n; j++)
        lossd__sum_add(&s, x[j]);
    return lossd__sum_value(&s);
}

/* Value and row-sum checks for each distribution operand. */
static int info_prepare(lossd_call *c, lossd_error *err)
{
    bool normalize = lossd__num(c, P_NORMALIZE) != 0;
    for (size_t k = 0; k < 2; k++) {
        if (c->fn->operands[k].shape == LOSSD_SHAPE_NONE)
            continue;
        const lossd_tensor *t = &c->operand[k];
        const char *name = c->fn->operands[k].name;
        size_t n = lossd__row_len(t), rows = lossd__n_rows(t);
        char path[LOSSD_FIELD_MAX];
        for (size_t i = 0; i < t->size; i++) {
            double x = t->data[i];
            if (normalize ? !(x >= 0 && isfinite(x)) : !(x >= 0 && x <= 1)) {
                lossd__path(path, sizeof path, name, t, i, -1);
                return lossd__fail(err, LOSSD_EINVAL, path,
                                   normalize ? "%.17g is negative or not finite"
                                             : "%.17g is not a probability in [0, 1]",
                                   x);
            }
        }
        for (size_t r = 0; r < rows; r++) {
            double s = row_sum(t->data + r * n, n);
            lossd__path(path, sizeof path, name, t, r * n, t->rank - 1);
            if (normalize && !(s > 0 && isfinite(s)))
                return lossd__fail(err, LOSSD_EINVAL, path,
                                   "sums to %.17g and cannot be normalized", s);
            if (!normalize && fabs(s - 1) > ROW_SUM_TOLERANCE)
                return lossd__fail(err, LOSSD_EINVAL, path,
                                   "sums to %.17g, not 1 (within 1e-6); send \"normalize\": "
                                   "true to rescale",
                                   s);
        }
    }
    double base = lossd__num(c, P_BASE);
    c->coef[1] = base == 0 ? 0.0 : log(base); /* 0: natural log, no division */
    return 0;
}

LOSSD_INLINE double in_base(const lossd_call *c, double nats)
{
    return c->coef[1] == 0 ? nats : nats / c->coef[1];
}

/* p log(p / q) with 0 log 0 = 0 and +inf where q == 0 < p. */
LOSSD_INLINE double kl_term(double p, double q)
{
    if (p == 0)
        return 0;
    return p * (log(p) - log(q));
}

LOSSD_INLINE size_t info_kernel(const lossd_call *c, size_t begin, size_t end, double *out,
                                int which)
{
    const lossd_tensor *pt = &c->operand[0];
    size_t n = lossd__row_len(pt);
    bool normalize = lossd__num(c, P_NORMALIZE) != 0;
    for (size_t r = begin; r < end; r++) {
        const double *p = pt->data + r * n;
        const double *q = which >= CROSS_ENTROPY ? c->operand[1].data + r * n : NULL;
        double sp = normalize ? row_sum(p, n) : 1.0;
        double sq = normalize && q ? row_sum(q, n) : 1.0;
        if (which == SELF_INFORMATION) {
            double *y = out + (r - begin) * n;
            for (size_t j = 0; j < n; j++)
                y[j] = in_base(c, -log(normalize ? p[j] / sp : p[j]));
            continue;
        }
        lossd__sum acc = {0, 0};
        for (size_t j = 0; j < n; j++) {
            double pj = normalize ? p[j] / sp : p[j];
            double qj = q ? (normalize ? q[j] / sq : q[j]) : 0;
            double term;
            switch (which) {
            case ENTROPY:
                term = pj == 0 ? 0.0 : -(pj * log(pj));
                break;
            case CROSS_ENTROPY:
                term = pj == 0 ? 0.0 : -(pj * log(qj));
                break;
            case KL_DIVERGENCE:
                term = kl_term(pj, qj);
                break;
            default: { /* JS_DIVERGENCE */
                double m = 0.5 * (pj + qj);
                term = 0.5 * kl_term(pj, m) + 0.5 * kl_term(qj, m);
                break;
            }
            }
            lossd__sum_add(&acc, term);
        }
        out[r - begin] = in_base(c, lossd__sum_value(&acc));
    }
    return 0;
}

static size_t self_information_kernel(const lossd_call *c, size_t begin, size_t end, double *out)
{
    return info_kernel(c, begin, end, out, SELF_INFORMATION);
}

static size_t entropy_kernel(const lossd_call *c, size_t begin, size_t end, double *out)
{
    return info_kernel(c, begin, end, out, ENTROPY);
}

static size_t cross_entropy_kernel(const lossd_call *c, size_t begin, size_t end, double *out)
{
    return info_kernel(c, begin, end, out, CROSS_ENTROPY);
}

static size_t kl_divergence_kernel(const lossd_call *c, size_t begin, size_t end, double *out)
{
    return info_kernel(c, begin, end, out, KL_DIVERGENCE);
}

static size_t js_divergence_kernel(const lossd_call *c, size_t begin, size_t end, double *out)
{
    return info_kernel(c, begin, end, out, JS_DIVERGENCE);
}

static const lossd_param_spec info_params[] = {
    {.name = "base",
     .type = LOSSD_PARAM_LOG_BASE,
     .summary = "the logarithm's base: \"e\" (nats), 2 (bits), 10, ...",
     .default_number = 0},
    {.name = "normalize",
     .type = LOSSD_PARAM_BOOL,
     .summary = "divide each row by its sum (otherwise rows must sum to 1 within 1e-6)",
     .default_number = 0},
};

#define P_OPERAND                                                                      \
    {                                                                                  \
        "p", LOSSD_SHAPE_DISTRIBUTIONS, LOSSD_VALUES_ANY, "distributions (K) or (N,K)" \
    }
#define Q_OPERAND                                                                       \
    {                                                                                   \
        "q", LOSSD_SHAPE_LIKE_INPUT, LOSSD_VALUES_ANY, "distributions, same shape as p" \
    }
#define NO_OPERAND                                     \
    {                                                  \
        NULL, LOSSD_SHAPE_NONE, LOSSD_VALUES_ANY, NULL \
    }

#define INFO(fname, fsummary, fformula, fflags, q_operand)                             \
    .kind = LOSSD_KIND_INFO, .name = #fname, .summary = fsummary, .formula = fformula, \
    .reference = "information theory (Shannon 1948; Kullback-Leibler 1951; Lin 1991)", \
    .flags = LOSSD__FN_ROWWISE | (fflags), .operands = {P_OPERAND, q_operand},         \
    .params = LOSSD__PARAMS(info_params), .prepare = info_prepare, .kernel = fname##_kernel

static const lossd_function info_functions[] = {
    {INFO(self_information, "surprisal of each outcome", "I(x) = -\\log P(x)", 0, NO_OPERAND)},
    {INFO(entropy, "Shannon entropy of each row", "H(P) = -\\sum_x P(x) \\log P(x)",
          LOSSD__FN_ROW_OUTPUT, NO_OPERAND)},
    {INFO(cross_entropy, "cross-entropy of Q relative to P", "H_P(Q) = -\\sum_x P(x) \\log Q(x)",
          LOSSD__FN_ROW_OUTPUT, Q_OPERAND)},
    {INFO(kl_divergence, "Kullback-Leibler divergence of Q from P",
          "D_{KL}(P \\| Q) = \\sum_x P(x) \\log \\frac{P(x)}{Q(x)}", LOSSD__FN_ROW_OUTPUT,
          Q_OPERAND)},
    {INFO(js_divergence, "Jensen-Shannon divergence",
          "\\tfrac12 D_{KL}(P \\| M) + \\tfrac12 D_{KL}(Q \\| M),\\ M = \\tfrac12 (P + Q)",
          LOSSD__FN_ROW_OUTPUT, Q_OPERAND)},
};

LOSSD__MODULE(lossd__info_module, info_functions);
