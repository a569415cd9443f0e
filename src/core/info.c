/* SPDX-License-Identifier: MIT */
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

/* Per-call constants (LOSSD__CONSTS), resolved from the parameters by info_prepare. */
typedef struct {
    double ln_base; /* log(base), or 0 for base e: no division */
    bool normalize;
} info_consts;

enum { SELF_INFORMATION, ENTROPY, CROSS_ENTROPY, KL_DIVERGENCE, JS_DIVERGENCE };

#define ROW_SUM_TOLERANCE 1e-6

/*
 * The sums of LOSSD_LANES rows (lane k: row k, rows n apart; n_rows of
 * them), each compensated and in order: lane k is what lossd__sum gives
 * for its row.
 */
LOSSD_INLINE lossd_vd row_sums(const double *x, size_t n, size_t n_rows)
{
    lossd__sum_lanes s = {lossd_v_set1(0.0), lossd_v_set1(0.0)};
    for (size_t j = 0; j < n; j++)
        lossd__sum_lanes_add(&s, lossd_v_gather(x + j, n, n_rows));
    return lossd__sum_lanes_value(&s);
}

LOSSD_INLINE bool valid_value(double x, bool normalize)
{
    return normalize ? x >= 0 && isfinite(x) : x >= 0 && x <= 1;
}

/*
 * One row of n numbers in one pass: returns its plain sum, in vectors (the
 * check needs no compensation: the tolerance is 1e-6, and a sum of
 * non-negative numbers is positive or infinite exactly when its
 * compensated sum is), and sets in *bad the lanes, or *tail_bad for the
 * numbers after the last whole vector, that met a value outside [0, hi]
 * (a NaN among them).
 */
LOSSD_INLINE double check_row(const double *x, size_t n, double hi, lossd_vm *bad, int *tail_bad)
{
    lossd_vd a = lossd_v_set1(0.0);
    size_t j = 0;
    for (; n - j >= LOSSD_LANES; j += LOSSD_LANES) {
        lossd_vd v = lossd_v_load(x + j);
        *bad |= ~((v >= 0) & (v <= hi));
        a += v;
    }
    double s = 0;
    for (size_t k = 0; k < LOSSD_LANES; k++)
        s += a[k];
    for (; j < n; j++) { /* a row's last numbers one by one: cheaper than a masked load */
        *tail_bad |= !(x[j] >= 0) | !(x[j] <= hi);
        s += x[j];
    }
    return s;
}

/* The same for rows 0..LOSSD_LANES-1 of x (rows n apart), their sums in lanes. */
LOSSD_INLINE lossd_vd check_rows(const double *x, size_t n, double hi, lossd_vm *bad)
{
    lossd_vd acc[LOSSD_LANES];
    for (size_t k = 0; k < LOSSD_LANES; k++)
        acc[k] = lossd_v_set1(0.0);
    size_t j = 0;
    for (; n - j >= LOSSD_LANES; j += LOSSD_LANES)
        for (size_t k = 0; k < LOSSD_LANES; k++) {
            lossd_vd v = lossd_v_load(x + k * n + j);
            *bad |= ~((v >= 0) & (v <= hi));
            acc[k] += v;
        }
    lossd_vd sums = lossd_v_sum_each(acc);
    for (; j < n; j++) { /* the rows' last numbers, a column at a time */
        lossd_vd v = lossd_v_gather(x + j, n, LOSSD_LANES);
        *bad |= ~((v >= 0) & (v <= hi));
        sums += v;
    }
    return sums;
}

/*
 * Value and row-sum checks for each distribution operand, in one pass over
 * it; a bad value is reported before a bad row, and only the first of
 * either pays for its path.
 */
static int info_prepare(lossd_call *c, lossd_error *err)
{
    info_consts *info = LOSSD__CONSTS_SET(c, info_consts);
    bool normalize = info->normalize = lossd__param_bool(c, "normalize");
    double base = lossd__param_number(c, "base"); /* 0: "e" */
    info->ln_base = base == 0 ? 0.0 : log(base);
    for (size_t k = 0; k < 2; k++) {
        if (c->fn->operands[k].rule == LOSSD_RULE_NONE)
            continue;
        const lossd_tensor *t = &c->operand[k];
        const char *name = c->fn->operands[k].name;
        size_t n = lossd__row_len(t), rows = lossd__n_rows(t), bad_row = rows;
        double bad_sum = 0;
        lossd_vm bad = {0};
        int tail_bad = 0;
        char path[LOSSD_FIELD_MAX];
        double hi = normalize ? DBL_MAX : 1.0;
        size_t r = 0;
        for (; rows - r >= LOSSD_LANES; r += LOSSD_LANES) { /* a row per lane */
            lossd_vd sums = check_rows(t->data + r * n, n, hi, &bad);
            lossd_vm ok = normalize ? (sums > 0) & (sums <= DBL_MAX)
                                    : ~(lossd_v_abs(sums - 1) > ROW_SUM_TOLERANCE);
            for (size_t l = 0; bad_row == rows && lossd_v_any(~ok) && l < LOSSD_LANES; l++)
                if (!ok[l])
                    bad_row = r + l, bad_sum = sums[l];
        }
        for (; r < rows; r++) {
            double s = check_row(t->data + r * n, n, hi, &bad, &tail_bad);
            bool ok = normalize ? s > 0 && isfinite(s) : !(fabs(s - 1) > ROW_SUM_TOLERANCE);
            if (!ok && bad_row == rows)
                bad_row = r, bad_sum = s;
        }
        for (size_t i = 0; (tail_bad || lossd_v_any(bad)) && i < t->size; i++) {
            double x = t->data[i];
            if (!valid_value(x, normalize)) {
                lossd__path(path, sizeof path, name, t, i, -1);
                return lossd__fail(err, LOSSD_EINVAL, path,
                                   normalize ? "%s is negative or not finite"
                                             : "%s is not a probability in [0, 1]",
                                   LOSSD__SHORTEST(x));
            }
        }
        if (bad_row == rows)
            continue;
        lossd__path(path, sizeof path, name, t, bad_row * n, t->rank - 1);
        if (normalize)
            return lossd__fail(err, LOSSD_EINVAL, path, "sums to %s and cannot be normalized",
                               LOSSD__SHORTEST(bad_sum));
        return lossd__fail(err, LOSSD_EINVAL, path,
                           "sums to %s, not 1 (within 1e-6); send \"normalize\": "
                           "true to rescale",
                           LOSSD__SHORTEST(bad_sum));
    }
    return 0;
}

/* Nats in the call's base: ln_base is info_consts' (0: base e), read once per kernel. */
LOSSD_INLINE lossd_vd in_base(double ln_base, lossd_vd nats)
{
    return ln_base == 0 ? nats : nats / ln_base;
}

/* p log(p / q) with 0 log 0 = 0 and +inf where q == 0 < p. */
LOSSD_INLINE lossd_vd kl_term(lossd_vd p, lossd_vd q)
{
    return lossd_v_select(p == 0, lossd_v_set1(0.0), p * (lossd_v_log(p) - lossd_v_log(q)));
}

/*
 * -log(p) of count numbers, in the base when `based` (else nats), tallying
 * non-finite results when `stats`: one loop per case (the callers pass
 * constants), so that no vector tests them.
 */
LOSSD_INLINE void surprisals(double ln_base, const double *p, size_t count, double *restrict out,
                             bool based, bool stats, lossd_vm *bad)
{
    size_t i = 0;
    for (; count - i >= LOSSD_LANES; i += LOSSD_LANES) {
        lossd_vd y = -lossd_v_log(lossd_v_load(p + i));
        y = based ? y / ln_base : y;
        lossd_v_store(out + i, y);
        if (stats)
            lossd__tally_nonfinite(bad, y, LOSSD_LANES);
    }
    if (i < count) {
        lossd_vd y = in_base(ln_base, -lossd_v_log(lossd_v_load_n(p + i, count - i)));
        lossd_v_store_n(out + i, y, count - i);
        lossd__tally_nonfinite(bad, y, count - i);
    }
}

/* The summed term of a row-valued measure at p_j, q_j. */
LOSSD_INLINE lossd_vd info_term(int which, lossd_vd pj, lossd_vd qj)
{
    const lossd_vd zero = lossd_v_set1(0.0);
    switch (which) {
    case ENTROPY:
        return lossd_v_select(pj == 0, zero, -(pj * lossd_v_log(pj)));
    case CROSS_ENTROPY:
        return lossd_v_select(pj == 0, zero, -(pj * lossd_v_log(qj)));
    case KL_DIVERGENCE:
        return kl_term(pj, qj);
    default: { /* JS_DIVERGENCE */
        lossd_vd m = 0.5 * (pj + qj);
        return 0.5 * kl_term(pj, m) + 0.5 * kl_term(qj, m);
    }
    }
}

/* Terms per stack buffer of info_rows_buffered(). */
#define INFO_CHUNK 1024

/* Rows r..r+rows-1 of buffered terms t (rows n apart) summed in order, one row per lane. */
LOSSD_INLINE lossd_vd buffered_row_sums(const double *t, size_t n, size_t rows)
{
    lossd__sum_lanes acc = {lossd_v_set1(0.0), lossd_v_set1(0.0)};
    for (size_t j = 0; j < n; j++)
        lossd__sum_lanes_add(&acc, lossd_v_gather(t + j, n, rows));
    return lossd__sum_lanes_value(&acc);
}

/*
 * A row-valued measure without normalisation, for rows of 1..INFO_CHUNK
 * numbers: the terms of as many whole rows as fit in a stack buffer,
 * element by element (contiguous loads for the vector math, not one number
 * per lane from rows n apart), then each row's sum in order, one row per
 * lane - the same additions, so the same numbers, as info_kernel's loop.
 */
LOSSD_INLINE void info_rows_buffered(const lossd_call *restrict c, double ln_base, size_t begin,
                                     size_t end, double *out, int which, lossd_vm *bad)
{
    double buf[INFO_CHUNK];
    size_t n = lossd__row_len(&c->operand[0]), per_chunk = INFO_CHUNK / n;
    const lossd_vd zero = lossd_v_set1(0.0);
    for (size_t r0 = begin; r0 < end; r0 += per_chunk) {
        size_t r1 = end - r0 < per_chunk ? end : r0 + per_chunk;
        const double *p = c->operand[0].data + r0 * n;
        const double *q = which >= CROSS_ENTROPY ? c->operand[1].data + r0 * n : NULL;
        size_t count = (r1 - r0) * n, i = 0;
        for (; count - i >= LOSSD_LANES; i += LOSSD_LANES)
            lossd_v_store(buf + i,
                          info_term(which, lossd_v_load(p + i), q ? lossd_v_load(q + i) : zero));
        if (i < count) { /* zeros pad the tail: every term of (0, 0) is 0 */
            size_t m = count - i;
            lossd_vd qi = q ? lossd_v_load_n(q + i, m) : zero;
            lossd_v_store_n(buf + i, info_term(which, lossd_v_load_n(p + i, m), qi), m);
        }
        size_t r = r0;
        for (; r1 - r >= LOSSD_LANES; r += LOSSD_LANES) { /* whole groups: unrolled gathers */
            lossd_vd value =
                in_base(ln_base, buffered_row_sums(buf + (r - r0) * n, n, LOSSD_LANES));
            lossd_v_store(out + (r - begin), value);
            lossd__tally_nonfinite(bad, value, LOSSD_LANES);
        }
        if (r < r1) {
            lossd_vd value = in_base(ln_base, buffered_row_sums(buf + (r - r0) * n, n, r1 - r));
            lossd_v_store_n(out + (r - begin), value, r1 - r);
            lossd__tally_nonfinite(bad, value, r1 - r);
        }
    }
}

/*
 * Entry j of LOSSD_LANES rows of p and q (lane k: row k, rows n apart;
 * q NULL reads zeros), divided by the rows' sums sp and sq with normalize.
 */
LOSSD_INLINE void row_entries(const double *p, const double *q, size_t j, size_t n, size_t rows,
                              bool normalize, lossd_vd sp, lossd_vd sq, lossd_vd *pj, lossd_vd *qj)
{
    *pj = lossd_v_gather(p + j, n, rows);
    *qj = q ? lossd_v_gather(q + j, n, rows) : lossd_v_set1(0.0);
    if (normalize) {
        *pj = *pj / sp;
        *qj = q ? *qj / sq : *qj;
    }
}

/* ---- gradients (docs/functions.md, "Gradients of the information measures") ---- */

/*
 * The partial derivatives, in nats, of a row-valued measure's summed term
 * at p_j, q_j with respect to each (dq only for the measures of two
 * distributions): the derivatives on the open simplex, which autograd
 * gives there, continued to its faces as the one-sided derivatives of the
 * terms with 0 log 0 = 0 - where autograd's xlogy gives 0 (its self
 * gradient at p = 0) or NaN (its other gradient 0 / 0 at p = q = 0):
 *   entropy        dp = -(1 + log p)              +inf at p = 0
 *   cross_entropy  dp = -log q, dq = -p / q       dq = 0 where p = 0
 *   kl_divergence  dp = log p + 1 - log q         +inf where q = 0
 *                  dq = -p / q                    0 where p = 0
 *   js_divergence  dp = log(p / m) / 2, dq = log(q / m) / 2, m = (p + q) / 2,
 *                  log(2) / 2 each at p = q = 0
 */
LOSSD_INLINE void info_partials(int which, lossd_vd pj, lossd_vd qj, lossd_vd *dp, lossd_vd *dq)
{
    const lossd_vd zero = lossd_v_set1(0.0);
    switch (which) {
    case ENTROPY:
        *dp = -(1 + lossd_v_log(pj));
        break;
    case CROSS_ENTROPY:
        *dp = -lossd_v_log(qj);
        *dq = lossd_v_select(pj == 0, zero, -(pj / qj));
        break;
    case KL_DIVERGENCE:
        *dp = lossd_v_select(qj == 0, lossd_v_set1(INFINITY),
                             (lossd_v_log(pj) + 1) - lossd_v_log(qj));
        *dq = lossd_v_select(pj == 0, zero, -(pj / qj));
        break;
    default: { /* JS_DIVERGENCE */
        lossd_vd m = 0.5 * (pj + qj), half_ln2 = lossd_v_set1(0.5 * M_LN2), log_m = lossd_v_log(m);
        *dp = lossd_v_select(m == 0, half_ln2, 0.5 * (lossd_v_log(pj) - log_m));
        *dq = lossd_v_select(m == 0, half_ln2, 0.5 * (lossd_v_log(qj) - log_m));
    }
    }
}

/*
 * The gradient of a measure of normalised rows, p~ = p / s, through the
 * division: (d_k - sum_j p~_j d_j) / s, where a p~_j of 0 adds nothing
 * (it stays 0 whatever the row's other values). The sum over a row, one
 * row per lane, in order.
 */
LOSSD_INLINE lossd_vd info_dot(lossd_vd acc, lossd_vd pj, lossd_vd dj)
{
    return acc + lossd_v_select(pj == 0, lossd_v_set1(0.0), pj * dj);
}

/*
 * Rows r..r+rows-1 of self_information's gradient: -g_j / p_j, and with
 * normalize -g_j / p_j + (sum_k g_k) / s (autograd of log s - log p_j), in
 * the base (the upstream g divided by ln(base)).
 */
LOSSD_INLINE void surprisal_grad_rows(const lossd_call *restrict c, double ln_base, bool normalize,
                                      size_t r, size_t rows, lossd_vm *bad)
{
    size_t n = lossd__row_len(&c->operand[0]);
    const double *p = c->operand[0].data + r * n;
    const double *go = c->grad_output_set ? c->grad_output.data + r * n : NULL;
    lossd_vd ones = lossd_v_set1(1.0), spread = lossd_v_set1(0.0);
    if (normalize) {
        lossd_vd total = go ? row_sums(go, n, rows) : lossd_v_set1((double)n);
        spread = total / row_sums(p, n, rows);
    }
    for (size_t j = 0; j < n; j++) {
        lossd_vd g = go ? lossd_v_gather(go + j, n, rows) : ones;
        lossd_vd d = in_base(ln_base, -g / lossd_v_gather(p + j, n, rows) + spread);
        lossd_v_scatter(c->grad + r * n + j, n, d, rows);
        lossd__tally_nonfinite(bad, d, rows);
    }
}

/*
 * Rows r..r+rows-1 of a row-valued measure: the value (the same additions
 * as info_kernel's) and the gradients the call asks for, in the base.
 * Three passes over a row: the sums (normalize), the value with the
 * normalisation's dot products, the gradients.
 */
LOSSD_INLINE lossd_vd info_grad_rows(const lossd_call *restrict c, double ln_base, bool normalize,
                                     int which, size_t r, size_t rows, lossd_vm *bad)
{
    size_t n = lossd__row_len(&c->operand[0]);
    const double *p = c->operand[0].data + r * n;
    const double *q = which >= CROSS_ENTROPY ? c->operand[1].data + r * n : NULL;
    double *gp = c->grad ? c->grad + r * n : NULL,
           *gq = c->grad_second ? c->grad_second + r * n : NULL;
    const lossd_vd zero = lossd_v_set1(0.0);
    lossd_vd sp = normalize ? row_sums(p, n, rows) : lossd_v_set1(1.0);
    lossd_vd sq = normalize && q ? row_sums(q, n, rows) : lossd_v_set1(1.0);
    lossd_vd up =
        in_base(ln_base, c->grad_output_set ? lossd_v_load_n(c->grad_output.data + r, rows)
                                            : lossd_v_set1(1.0));
    lossd__sum_lanes acc = {zero, zero};
    lossd_vd dot_p = zero, dot_q = zero, dp, dq = zero;
    for (size_t j = 0; j < n; j++) {
        lossd_vd pj, qj;
        row_entries(p, q, j, n, rows, normalize, sp, sq, &pj, &qj);
        lossd__sum_lanes_add(&acc, info_term(which, pj, qj));
        if (normalize) {
            info_partials(which, pj, qj, &dp, &dq);
            dot_p = info_dot(dot_p, pj, dp);
            dot_q = info_dot(dot_q, qj, dq);
        }
    }
    for (size_t j = 0; j < n && (gp || gq); j++) {
        lossd_vd pj, qj;
        row_entries(p, q, j, n, rows, normalize, sp, sq, &pj, &qj);
        info_partials(which, pj, qj, &dp, &dq);
        if (gp) {
            lossd_vd g = up * (normalize ? (dp - dot_p) / sp : dp);
            lossd_v_scatter(gp + j, n, g, rows);
            lossd__tally_nonfinite(bad, g, rows);
        }
        if (gq) {
            lossd_vd g = up * (normalize ? (dq - dot_q) / sq : dq);
            lossd_v_scatter(gq + j, n, g, rows);
            lossd__tally_nonfinite(bad, g, rows);
        }
    }
    return in_base(ln_base, lossd__sum_lanes_value(&acc));
}

/*
 * info_kernel with gradients: LOSSD_LANES rows at a time, one per lane.
 * Values are info_kernel's numbers (self_information's come from it).
 */
static void info_grad_kernel(const lossd_call *restrict c, size_t begin, size_t end, double *out,
                             int which)
{
    const info_consts *info = LOSSD__CONSTS(c, info_consts);
    bool normalize = info->normalize;
    double ln_base = info->ln_base;
    lossd_vm bad = {0};
    for (size_t r = begin; r < end; r += LOSSD_LANES) {
        size_t rows = end - r < LOSSD_LANES ? end - r : LOSSD_LANES;
        if (which == SELF_INFORMATION) {
            surprisal_grad_rows(c, ln_base, normalize, r, rows, &bad);
            continue;
        }
        lossd_vd value = info_grad_rows(c, ln_base, normalize, which, r, rows, &bad);
        lossd_v_store_n(out + (r - begin), value, rows);
        lossd__tally_nonfinite(&bad, value, rows);
    }
    lossd__report_nonfinite(c, begin, lossd_v_count(bad));
}

/* LOSSD_LANES rows at a time, one per lane; each lane adds its row's terms in order. */
LOSSD_INLINE size_t info_kernel(const lossd_call *restrict c, size_t begin, size_t end, double *out,
                                int which)
{
    const lossd_tensor *pt = &c->operand[0];
    size_t n = lossd__row_len(pt);
    const info_consts *info = LOSSD__CONSTS(c, info_consts);
    bool normalize = info->normalize;
    double ln_base = info->ln_base;
    const lossd_vd zero = lossd_v_set1(0.0);
    lossd_vm bad = {0};
    if ((c->grad || c->grad_second) && which != SELF_INFORMATION) {
        info_grad_kernel(c, begin, end, out, which);
        return 0;
    }
    if (c->grad) /* self_information: the values below, then the gradient */
        info_grad_kernel(c, begin, end, out, which);
    if (which == SELF_INFORMATION && !normalize) {
        /* element by element: the rows' layout does not matter */
        size_t count = (end - begin) * n;
        const double *p = pt->data + begin * n;
        if (ln_base == 0 && !c->want_stats)
            surprisals(ln_base, p, count, out, false, false, &bad);
        else if (ln_base == 0)
            surprisals(ln_base, p, count, out, false, true, &bad);
        else
            surprisals(ln_base, p, count, out, true, c->want_stats, &bad);
        lossd__report_nonfinite(c, begin, lossd_v_count(bad));
        return 0;
    }
    if (which != SELF_INFORMATION && !normalize && n > 0 && n <= INFO_CHUNK) {
        info_rows_buffered(c, ln_base, begin, end, out, which, &bad);
        lossd__report_nonfinite(c, begin, lossd_v_count(bad));
        return 0;
    }
    for (size_t r = begin; r < end; r += LOSSD_LANES) {
        size_t rows = end - r < LOSSD_LANES ? end - r : LOSSD_LANES;
        const double *p = pt->data + r * n;
        const double *q = which >= CROSS_ENTROPY ? c->operand[1].data + r * n : NULL;
        lossd_vd sp = normalize ? row_sums(p, n, rows) : lossd_v_set1(1.0);
        lossd_vd sq = normalize && q ? row_sums(q, n, rows) : lossd_v_set1(1.0);
        if (which == SELF_INFORMATION) {
            double *y = out + (r - begin) * n;
            for (size_t j = 0; j < n; j++) {
                lossd_vd pj = lossd_v_gather(p + j, n, rows);
                lossd_vd surprisal = in_base(ln_base, -lossd_v_log(normalize ? pj / sp : pj));
                lossd_v_scatter(y + j, n, surprisal, rows);
                lossd__tally_nonfinite(&bad, surprisal, rows);
            }
            continue;
        }
        lossd__sum_lanes acc = {zero, zero};
        for (size_t j = 0; j < n; j++) {
            lossd_vd pj, qj;
            row_entries(p, q, j, n, rows, normalize, sp, sq, &pj, &qj);
            lossd__sum_lanes_add(&acc, info_term(which, pj, qj));
        }
        lossd_vd value = in_base(ln_base, lossd__sum_lanes_value(&acc));
        lossd_v_store_n(out + (r - begin), value, rows);
        lossd__tally_nonfinite(&bad, value, rows);
    }
    lossd__report_nonfinite(c, begin, lossd_v_count(bad));
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

#define P_OPERAND                                                      \
    {                                                                  \
        "p", LOSSD_RULE_DISTRIBUTIONS, 0, "distributions (K) or (N,K)" \
    }
#define Q_OPERAND                                                                                 \
    {                                                                                             \
        "q", LOSSD_RULE_DISTRIBUTIONS, LOSSD_OPERAND_LIKE_INPUT, "distributions, same shape as p" \
    }
#define NO_OPERAND                     \
    {                                  \
        NULL, LOSSD_RULE_NONE, 0, NULL \
    }

/* Every measure has a gradient with respect to each of its distributions. */
#define INFO(fname, fsummary, fformula, fflags, q_operand, grads)                             \
    .kind = LOSSD_KIND_INFO, .name = #fname, .summary = fsummary, .formula = fformula,        \
    .reference = "information theory (Shannon 1948; Kullback-Leibler 1951; Lin 1991)",        \
    .flags = grads, .operands = {P_OPERAND, q_operand}, .params = LOSSD__PARAMS(info_params), \
    .impl = LOSSD__IMPL(.flags = LOSSD__FN_ROWWISE | (fflags), .prepare = info_prepare,       \
                        .kernel = fname##_kernel)

static const lossd_function info_functions[] = {
    {INFO(self_information, "surprisal of each outcome", "I(x) = -\\log P(x)", 0, NO_OPERAND,
          LOSSD_FN_GRAD)},
    {INFO(entropy, "Shannon entropy of each row", "H(P) = -\\sum_x P(x) \\log P(x)",
          LOSSD__FN_ROW_OUTPUT, NO_OPERAND, LOSSD_FN_GRAD)},
    {INFO(cross_entropy, "cross-entropy of Q relative to P", "H_P(Q) = -\\sum_x P(x) \\log Q(x)",
          LOSSD__FN_ROW_OUTPUT, Q_OPERAND, LOSSD_FN_GRAD | LOSSD_FN_GRAD_SECOND)},
    {INFO(kl_divergence, "Kullback-Leibler divergence of Q from P",
          "D_{KL}(P \\| Q) = \\sum_x P(x) \\log \\frac{P(x)}{Q(x)}", LOSSD__FN_ROW_OUTPUT,
          Q_OPERAND, LOSSD_FN_GRAD | LOSSD_FN_GRAD_SECOND)},
    {INFO(js_divergence, "Jensen-Shannon divergence",
          "\\tfrac12 D_{KL}(P \\| M) + \\tfrac12 D_{KL}(Q \\| M),\\ M = \\tfrac12 (P + Q)",
          LOSSD__FN_ROW_OUTPUT, Q_OPERAND, LOSSD_FN_GRAD | LOSSD_FN_GRAD_SECOND)},
};

LOSSD__MODULE(lossd__info_module, info_functions);
