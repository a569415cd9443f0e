/* SPDX-License-Identifier: MIT */
/*
 * check_classification.c - BCE, BCE with logits, cross-entropy, NLL, KL
 * divergence and the focal losses (src/core/classification.c): finite
 * differences (of the target's gradient too), identities between the
 * losses, extreme inputs and validation errors. PyTorch's own values and gradients are the golden
 * vectors (check_golden.c).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

/* A call under construction with views that stay valid (static storage). */
typedef struct {
    lossd_call c;
    lossd_error err;
    lossd_tensor in, tg;
} bound;

static void bind(bound *b, const char *name, const double *x, int rx, const size_t *sx,
                 const double *t, int rt, const size_t *st)
{
    memset(&b->err, 0, sizeof b->err);
    b->in = tensor_of(x, rx, sx);
    b->tg = tensor_of(t, rt, st);
    lossd_call_init(&b->c, must_find(LOSSD_KIND_LOSS, name));
    lossd_call_set_operand(&b->c, "input", &b->in, &b->err);
    lossd_call_set_operand(&b->c, "target", &b->tg, &b->err);
}

static double compute(bound *b)
{
    ck_assert_msg(lossd_call_compute(&b->c, &b->err) == 0, "%s", b->err.message);
    return b->c.loss;
}

START_TEST(extreme_logits_stay_finite)
{
    double x[4] = {1000, -1000, 0, 50}, t[4] = {0, 1, 0.5, 1};
    size_t s4[1] = {4}, s22[2] = {2, 2}, s2[1] = {2};
    const char *pointwise[] = {"bce_with_logits", "sigmoid_focal"};
    for (int f = 0; f < 2; f++) {
        static bound b;
        bind(&b, pointwise[f], x, 1, s4, t, 1, s4);
        b.c.want_grad = true;
        double loss = compute(&b);
        ck_assert_msg(isfinite(loss), "%s = %g", pointwise[f], loss);
        ck_assert_uint_eq(b.c.n_nonfinite, 0);
        lossd_call_cleanup(&b.c);
    }
    /* bce_with_logits(1000, 0) = 1000 exactly, (-1000, 1) too */
    static bound b;
    bind(&b, "bce_with_logits", x, 1, s4, t, 1, s4);
    lossd_call_set_reduction(&b.c, "none", &b.err);
    compute(&b);
    ck_assert_double_eq(b.c.output.data[0], 1000.0);
    ck_assert_double_eq(b.c.output.data[1], 1000.0);
    lossd_call_cleanup(&b.c);
    /* cross-entropy and focal on logits +-1000 */
    double logits[4] = {1000, -1000, -1000, 1000}, idx[2] = {1, 0};
    const char *rowwise[] = {"cross_entropy", "focal"};
    for (int f = 0; f < 2; f++) {
        bind(&b, rowwise[f], logits, 2, s22, idx, 1, s2);
        b.c.want_grad = true;
        double loss = compute(&b);
        ck_assert_msg(isfinite(loss), "%s = %g", rowwise[f], loss);
        ck_assert_uint_eq(b.c.n_nonfinite, 0);
        lossd_call_cleanup(&b.c);
    }
    bind(&b, "cross_entropy", logits, 2, s22, idx, 1, s2);
    ck_assert_double_eq(compute(&b), 2000.0); /* both rows are 2000 off */
    lossd_call_cleanup(&b.c);
}
END_TEST

START_TEST(bce_clamps_logs)
{
    /* Probabilities exactly 0 and 1: logs clamp at -100, the gradient's
       denominator at 1e-12 (PyTorch's EPSILON). */
    double x[4] = {0, 1, 0, 1}, t[4] = {1, 0, 0, 1};
    size_t s4[1] = {4};
    static bound b;
    bind(&b, "bce", x, 1, s4, t, 1, s4);
    lossd_call_set_reduction(&b.c, "none", &b.err);
    b.c.want_grad = true;
    compute(&b);
    ck_assert_double_eq(b.c.output.data[0], 100.0);
    ck_assert_double_eq(b.c.output.data[1], 100.0);
    ck_assert_double_eq(b.c.output.data[2], 0.0);
    ck_assert_double_eq(b.c.output.data[3], 0.0);
    /* ATen's clamp is the float 1e-12f, i.e. 9.999999960041972e-13 */
    ck_assert_double_eq(b.c.grad[0], -1 / (double)1e-12f);
    ck_assert_double_eq(b.c.grad[1], 1 / (double)1e-12f);
    ck_assert_uint_eq(b.c.n_nonfinite, 0);
    lossd_call_cleanup(&b.c);
}
END_TEST

START_TEST(cross_entropy_identities)
{
    /* One-hot probability targets give the index-target loss; cross_entropy
       equals nll of log_softmax. */
    enum { N = 7, C = 5 };
    test_rng r;
    rng_seed(&r, 31);
    double x[N * C], onehot[N * C] = {0}, idx[N], logp[N * C];
    for (int i = 0; i < N; i++) {
        idx[i] = (double)(i % C);
        onehot[i * C + i % C] = 1;
        double m = -INFINITY, s = 0;
        for (int k = 0; k < C; k++)
            x[i * C + k] = rng_uniform(&r, -4, 4), m = fmax(m, x[i * C + k]);
        for (int k = 0; k < C; k++)
            s += exp(x[i * C + k] - m);
        for (int k = 0; k < C; k++)
            logp[i * C + k] = x[i * C + k] - m - log(s);
    }
    size_t snc[2] = {N, C}, sn[1] = {N};
    static bound a, b, n;
    bind(&a, "cross_entropy", x, 2, snc, idx, 1, sn);
    bind(&b, "cross_entropy", x, 2, snc, onehot, 2, snc);
    bind(&n, "nll", logp, 2, snc, idx, 1, sn);
    a.c.want_grad = b.c.want_grad = true;
    double la = compute(&a), lb = compute(&b), ln = compute(&n);
    ck_assert(!a.c.prob_target && b.c.prob_target);
    ck_assert_close(la, lb, 1e-14, 0, "index vs one-hot");
    ck_assert_close(la, ln, 1e-14, 0, "cross_entropy vs nll(log_softmax)");
    for (int i = 0; i < N * C; i++)
        ck_assert_close(a.c.grad[i], b.c.grad[i], 1e-12, 1e-16, "gradients");
    lossd_call_cleanup(&a.c);
    lossd_call_cleanup(&b.c);
    lossd_call_cleanup(&n.c);
}
END_TEST

START_TEST(ignore_index_mean)
{
    /* Ignored rows count neither in the sum nor in the mean's denominator. */
    double x[6] = {1, 2, 3, 3, 2, 1}, idx[2] = {2, -100}, one[1] = {2};
    size_t s23[2] = {2, 3}, s2[1] = {2}, s13[2] = {1, 3}, s1[1] = {1};
    static bound a, b;
    bind(&a, "cross_entropy", x, 2, s23, idx, 1, s2);
    bind(&b, "cross_entropy", x, 2, s13, one, 1, s1);
    a.c.want_grad = true;
    ck_assert_double_eq(compute(&a), compute(&b));
    ck_assert_double_eq(a.c.grad[3], 0.0);
    ck_assert_double_eq(a.c.grad[4], 0.0);
    ck_assert_double_eq(a.c.grad[5], 0.0);
    lossd_call_cleanup(&a.c);
    lossd_call_cleanup(&b.c);
    /* Every row ignored: PyTorch's mean is 0/0 = NaN, reported as non-finite. */
    double none[2] = {-100, -100};
    bind(&a, "nll", x, 2, s23, none, 1, s2);
    ck_assert(isnan(compute(&a)));
    ck_assert_uint_eq(a.c.n_nonfinite, 1);
    lossd_call_cleanup(&a.c);
}
END_TEST

START_TEST(focal_reduces_to_known_losses)
{
    /* sigmoid_focal with gamma 0, alpha -1 is bce_with_logits; focal with
       gamma 0, alpha 1 is cross_entropy. */
    enum { N = 6, C = 4 };
    test_rng r;
    rng_seed(&r, 41);
    double x[N * C], t[N * C], idx[N];
    for (int i = 0; i < N * C; i++)
        x[i] = rng_uniform(&r, -6, 6), t[i] = rng_uniform(&r, 0, 1);
    for (int i = 0; i < N; i++)
        idx[i] = (double)((i * 3) % C);
    size_t snc[2] = {N, C}, sn[1] = {N};
    static bound a, b;
    bind(&a, "sigmoid_focal", x, 2, snc, t, 2, snc);
    lossd_call_set_number(&a.c, "gamma", 0, &a.err);
    lossd_call_set_number(&a.c, "alpha", -1, &a.err);
    bind(&b, "bce_with_logits", x, 2, snc, t, 2, snc);
    a.c.want_grad = b.c.want_grad = true;
    ck_assert_close(compute(&a), compute(&b), 1e-14, 0, "sigmoid_focal(gamma 0) = bce");
    for (int i = 0; i < N * C; i++)
        ck_assert_close(a.c.grad[i], b.c.grad[i], 1e-12, 1e-16, "gradient");
    lossd_call_cleanup(&a.c);
    lossd_call_cleanup(&b.c);
    bind(&a, "focal", x, 2, snc, idx, 1, sn);
    lossd_call_set_number(&a.c, "gamma", 0, &a.err);
    lossd_call_set_number(&a.c, "alpha", 1, &a.err);
    bind(&b, "cross_entropy", x, 2, snc, idx, 1, sn);
    a.c.want_grad = b.c.want_grad = true;
    ck_assert_close(compute(&a), compute(&b), 1e-14, 0, "focal(gamma 0) = cross_entropy");
    for (int i = 0; i < N * C; i++)
        ck_assert_close(a.c.grad[i], b.c.grad[i], 1e-12, 1e-16, "gradient");
    lossd_call_cleanup(&a.c);
    lossd_call_cleanup(&b.c);
}
END_TEST

/* Two calls on the same operands agree bit for bit: losses and gradients. */
static void expect_same_bits(bound *a, bound *b, const char *what)
{
    a->c.want_grad = b->c.want_grad = true;
    ck_assert_msg(same_bits(compute(a), compute(b)), "%s: loss", what);
    for (size_t i = 0; i < a->c.operand[0].size; i++)
        ck_assert_msg(same_bits(a->c.grad[i], b->c.grad[i]), "%s: grad[%zu]: %.17g vs %.17g", what,
                      i, a->c.grad[i], b->c.grad[i]);
    lossd_call_cleanup(&a->c);
    lossd_call_cleanup(&b->c);
}

START_TEST(soft_target_losses_reduce_to_bce)
{
    /* qfl with beta 0 is bce_with_logits, bit for bit: |y - s|^0 = 1 and
       pow's derivative is 0. */
    enum { N = 6, C = 5 };
    test_rng r;
    rng_seed(&r, 47);
    double x[N * C], t[N * C];
    for (int i = 0; i < N * C; i++) {
        x[i] = i % 7 == 0 ? 40.0 * (i % 2 ? 1 : -1) : rng_uniform(&r, -6, 6);
        t[i] = i % 3 == 0 ? 0.0 : rng_uniform(&r, 0, 1);
    }
    size_t snc[2] = {N, C};
    static bound a, b;
    bind(&a, "qfl", x, 2, snc, t, 2, snc);
    ck_assert_int_eq(lossd_call_set_number(&a.c, "beta", 0.0, &a.err), 0);
    bind(&b, "bce_with_logits", x, 2, snc, t, 2, snc);
    expect_same_bits(&a, &b, "qfl(beta 0)");
}
END_TEST

START_TEST(poly1_at_epsilon_0_is_cross_entropy)
{
    /* Bit for bit, every reduction, with and without grad_output: poly1's
       cross-entropy part is cross_entropy's arithmetic in its order. */
    enum { N = 9, C = 7 };
    test_rng r;
    rng_seed(&r, 43);
    double x[N * C], idx[N], go[N];
    for (int i = 0; i < N * C; i++)
        x[i] = i % 11 == 0 ? 1000.0 * (i % 2 ? 1 : -1) : rng_uniform(&r, -8, 8);
    for (int i = 0; i < N; i++)
        idx[i] = (double)((i * 5) % C), go[i] = rng_uniform(&r, -2, 2);
    size_t snc[2] = {N, C}, sn[1] = {N};
    lossd_tensor grad_output = tensor_of(go, 1, sn);
    const char *reductions[] = {"mean", "sum", "none", "none"};
    for (int k = 0; k < 4; k++) {
        static bound a, b;
        bind(&a, "poly1", x, 2, snc, idx, 1, sn);
        ck_assert_int_eq(lossd_call_set_number(&a.c, "epsilon", 0.0, &a.err), 0);
        bind(&b, "cross_entropy", x, 2, snc, idx, 1, sn);
        lossd_call_set_reduction(&a.c, reductions[k], &a.err);
        lossd_call_set_reduction(&b.c, reductions[k], &b.err);
        a.c.want_grad = b.c.want_grad = true;
        if (k == 3) {
            a.c.grad_output = b.c.grad_output = grad_output;
            a.c.grad_output_set = b.c.grad_output_set = true;
        }
        ck_assert(same_bits(compute(&a), compute(&b)));
        for (size_t i = 0; k >= 2 && i < N; i++)
            ck_assert_msg(same_bits(a.c.output.data[i], b.c.output.data[i]), "%s: loss[%zu]",
                          reductions[k], i);
        for (size_t i = 0; i < N * C; i++)
            ck_assert_msg(same_bits(a.c.grad[i], b.c.grad[i]), "%s: grad[%zu]: %.17g vs %.17g",
                          reductions[k], i, a.c.grad[i], b.c.grad[i]);
        lossd_call_cleanup(&a.c);
        lossd_call_cleanup(&b.c);
    }
    /* One class: p_t = 1, so the loss is 0 whatever epsilon is. */
    double one[3] = {2.5, -7, 0}, zeros[3] = {0, 0, 0};
    size_t s31[2] = {3, 1}, s3[1] = {3};
    static bound b;
    bind(&b, "poly1", one, 2, s31, zeros, 1, s3);
    lossd_call_set_number(&b.c, "epsilon", 3.0, &b.err);
    b.c.want_grad = true;
    ck_assert_double_eq(compute(&b), 0.0);
    for (int i = 0; i < 3; i++)
        ck_assert_double_eq(b.c.grad[i], 0.0);
    lossd_call_cleanup(&b.c);
}
END_TEST

START_TEST(kl_div_of_identical_is_zero)
{
    double logp[4] = {log(0.1), log(0.2), log(0.3), log(0.4)}, p[4] = {0.1, 0.2, 0.3, 0.4};
    size_t s4[1] = {4};
    static bound b;
    bind(&b, "kl_div", logp, 1, s4, p, 1, s4);
    ck_assert_msg(fabs(compute(&b)) < 1e-16, "kl = %g", b.c.loss);
    lossd_call_cleanup(&b.c);
    bind(&b, "kl_div", logp, 1, s4, logp, 1, s4);
    lossd_call_set_bool(&b.c, "log_target", true, &b.err);
    ck_assert_double_eq(compute(&b), 0.0);
    lossd_call_cleanup(&b.c);
    /* batchmean divides by the first dimension only */
    double lp2[8], p2[8];
    for (int i = 0; i < 8; i++)
        lp2[i] = log(0.25), p2[i] = i < 4 ? 0.25 : (i == 4 ? 1 : 0);
    size_t s24[2] = {2, 4};
    bind(&b, "kl_div", lp2, 2, s24, p2, 2, s24);
    lossd_call_set_reduction(&b.c, "batchmean", &b.err);
    ck_assert_close(compute(&b), log(4) / 2, 1e-15, 0, "batchmean");
    lossd_call_cleanup(&b.c);
    /* a scalar has no batch axis: batchmean is the sum, as F.kl_div */
    double lx = -0.5, pt = 0.3;
    bind(&b, "kl_div", &lx, 0, NULL, &pt, 0, NULL);
    lossd_call_set_reduction(&b.c, "batchmean", &b.err);
    ck_assert_close(compute(&b), 0.3 * log(0.3) + 0.3 * 0.5, 1e-15, 0, "scalar batchmean");
    lossd_call_cleanup(&b.c);
}
END_TEST

/* ------------------------------------------------------------ gradients */

typedef struct {
    const char *name;
    const double *target;
    int target_rank;
    size_t target_shape[2];
    const char *reduction;
    const char *param;
    double value;
    const lossd_tensor *weight;
    const lossd_tensor *pos_weight; /* bce_with_logits */
    const double *input;            /* shaped like the target: set too (target's checks) */
} cls_ctx;

static void configure(lossd_call *c, void *ctx_)
{
    cls_ctx *ctx = ctx_;
    static lossd_tensor t, x;
    t = tensor_of(ctx->target, ctx->target_rank, ctx->target_shape);
    lossd_error err = {0};
    ck_assert_int_eq(lossd_call_set_operand(c, "target", &t, &err), 0);
    if (ctx->input) {
        x = tensor_of(ctx->input, ctx->target_rank, ctx->target_shape);
        ck_assert_int_eq(lossd_call_set_operand(c, "input", &x, &err), 0);
    }
    if (ctx->pos_weight)
        ck_assert_int_eq(lossd_call_set_tensor(c, "pos_weight", ctx->pos_weight, &err), 0);
    ck_assert_int_eq(lossd_call_set_reduction(c, ctx->reduction, &err), 0);
    if (ctx->param)
        ck_assert_int_eq(lossd_call_set_number(c, ctx->param, ctx->value, &err), 0);
    if (ctx->weight)
        ck_assert_int_eq(lossd_call_set_tensor(c, "weight", ctx->weight, &err), 0);
}

/* configure, with log_target true. */
static void configure_log_target(lossd_call *c, void *ctx)
{
    configure(c, ctx);
    lossd_error err = {0};
    ck_assert_int_eq(lossd_call_set_bool(c, "log_target", true, &err), 0);
}

START_TEST(finite_differences)
{
    enum { N = 6, C = 5 };
    test_rng r;
    rng_seed(&r, 51);
    double logits[N * C], probs[N * C], labels[N * C], idx[N], idx_all[N], logp[N * C], w[C];
    double bins[N] = {0.0, 2.0, C - 1, 0.25, 3.5, C - 1.001}; /* dfl: whole, last, between */
    for (int i = 0; i < N * C; i++) {
        logits[i] = rng_uniform(&r, -3, 3);
        probs[i] = rng_uniform(&r, 0.05, 0.95);
        labels[i] = i % 3 ? rng_uniform(&r, 0, 1) : (double)(i % 2);
        logp[i] = log(rng_uniform(&r, 0.05, 0.9));
    }
    for (int i = 0; i < N; i++) {
        idx[i] = i == 2 ? -100 : (double)((i * 2) % C);
        idx_all[i] = (double)((i * 2) % C); /* no ignore_index */
    }
    for (int k = 0; k < C; k++)
        w[k] = rng_uniform(&r, 0.5, 2);
    size_t sw[1] = {C};
    lossd_tensor weight = tensor_of(w, 1, sw);
    cls_ctx ctxs[] = {
        {"bce", labels, 2, {N, C}, "mean", NULL, 0, NULL, NULL, NULL},
        {"bce_with_logits", labels, 2, {N, C}, "sum", NULL, 0, NULL, NULL, NULL},
        {"cross_entropy", idx, 1, {N}, "mean", NULL, 0, &weight, NULL, NULL},
        {"cross_entropy", idx, 1, {N}, "mean", "label_smoothing", 0.2, &weight, NULL, NULL},
        {"cross_entropy", idx, 1, {N}, "sum", "label_smoothing", 0.3, NULL, NULL, NULL},
        {"cross_entropy", probs, 2, {N, C}, "mean", "label_smoothing", 0.1, &weight, NULL, NULL},
        {"nll", idx, 1, {N}, "mean", NULL, 0, &weight, NULL, NULL},
        {"kl_div", probs, 2, {N, C}, "batchmean", NULL, 0, NULL, NULL, NULL},
        {"sigmoid_focal", labels, 2, {N, C}, "mean", "gamma", 1.5, NULL, NULL, NULL},
        {"sigmoid_focal", labels, 2, {N, C}, "sum", "alpha", -1, NULL, NULL, NULL},
        {"focal", idx, 1, {N}, "mean", "gamma", 2.5, NULL, NULL, NULL},
        {"focal", idx, 1, {N}, "sum", "gamma", 0, NULL, NULL, NULL},
        {"qfl", labels, 2, {N, C}, "mean", NULL, 0, NULL, NULL, NULL},
        {"qfl", labels, 2, {N, C}, "sum", "beta", 1.5, NULL, NULL, NULL},
        {"poly1", idx_all, 1, {N}, "mean", "epsilon", 2.0, NULL, NULL, NULL},
        {"poly1", idx_all, 1, {N}, "sum", "epsilon", -1.0, NULL, NULL, NULL},
        {"varifocal", labels, 2, {N, C}, "mean", NULL, 0, NULL, NULL, NULL},
        {"varifocal", labels, 2, {N, C}, "sum", "gamma", 1.5, NULL, NULL, NULL},
        {"varifocal", labels, 2, {N, C}, "mean", "alpha", 0.25, NULL, NULL, NULL},
        {"dfl", bins, 1, {N}, "mean", NULL, 0, NULL, NULL, NULL},
        {"dfl", bins, 1, {N}, "sum", NULL, 0, NULL, NULL, NULL},
    };
    size_t snc[2] = {N, C};
    for (size_t k = 0; k < sizeof ctxs / sizeof ctxs[0]; k++) {
        double *x = strcmp(ctxs[k].name, "bce") == 0 ? probs
                    : strcmp(ctxs[k].name, "nll") == 0 || strcmp(ctxs[k].name, "kl_div") == 0
                        ? logp
                        : logits;
        double copy[N * C];
        memcpy(copy, x, sizeof copy);
        lossd_tensor input = tensor_of(copy, 2, snc);
        fd_check(must_find(LOSSD_KIND_LOSS, ctxs[k].name), &input, copy, configure, &ctxs[k], 1e-6,
                 1e-9);
    }
}
END_TEST

START_TEST(target_finite_differences)
{
    /* The target's gradient at generic points: bce, bce_with_logits (weights, pos_weight),
       kl_div (both log_target) and cross_entropy's probability targets. */
    enum { N = 6, C = 5 };
    test_rng r;
    rng_seed(&r, 52);
    double logits[N * C], probs[N * C], soft[N * C], logp[N * C], logt[N * C], w[C], pw[C];
    for (int i = 0; i < N * C; i++) {
        logits[i] = rng_uniform(&r, -3, 3);
        probs[i] = rng_uniform(&r, 0.05, 0.95);
        soft[i] = rng_uniform(&r, 0.05, 0.95);
        logp[i] = log(rng_uniform(&r, 0.05, 0.9));
        logt[i] = log(rng_uniform(&r, 0.05, 0.9));
    }
    for (int k = 0; k < C; k++)
        w[k] = rng_uniform(&r, 0.5, 2), pw[k] = rng_uniform(&r, 0.2, 4);
    size_t sc[1] = {C};
    lossd_tensor weight = tensor_of(w, 1, sc), pos_weight = tensor_of(pw, 1, sc);
    const cls_ctx ctxs[] = {
        {"bce", soft, 2, {N, C}, "mean", NULL, 0, NULL, NULL, probs},
        {"bce", soft, 2, {N, C}, "sum", NULL, 0, &weight, NULL, probs},
        {"bce_with_logits", soft, 2, {N, C}, "mean", NULL, 0, NULL, NULL, logits},
        {"bce_with_logits", soft, 2, {N, C}, "sum", NULL, 0, &weight, NULL, logits},
        {"bce_with_logits", soft, 2, {N, C}, "mean", NULL, 0, NULL, &pos_weight, logits},
        {"bce_with_logits", soft, 2, {N, C}, "sum", NULL, 0, &weight, &pos_weight, logits},
        {"kl_div", probs, 2, {N, C}, "batchmean", NULL, 0, NULL, NULL, logp},
        {"kl_div", probs, 2, {N, C}, "mean", NULL, 0, NULL, NULL, logp},
        {"kl_div", logt, 2, {N, C}, "sum", "log_target", 1, NULL, NULL, logp},
        {"cross_entropy", probs, 2, {N, C}, "mean", NULL, 0, NULL, NULL, logits},
        {"cross_entropy", probs, 2, {N, C}, "mean", "label_smoothing", 0.1, &weight, NULL, logits},
        {"cross_entropy", probs, 2, {N, C}, "sum", "label_smoothing", 0.3, NULL, NULL, logits},
    };
    size_t snc[2] = {N, C};
    for (size_t k = 0; k < sizeof ctxs / sizeof ctxs[0]; k++) {
        cls_ctx ctx = ctxs[k];
        double copy[N * C];
        memcpy(copy, ctx.target, sizeof copy);
        lossd_tensor target = tensor_of(copy, 2, snc);
        const lossd_function *fn = must_find(LOSSD_KIND_LOSS, ctx.name);
        if (ctx.param && strcmp(ctx.param, "log_target") == 0) { /* a boolean */
            ctx.param = NULL;
            fd_check_operand(fn, 1, &target, copy, 1e-6, configure_log_target, &ctx, 1e-6, 1e-9);
            continue;
        }
        fd_check_operand(fn, 1, &target, copy, 1e-6, configure, &ctx, 1e-6, 1e-9);
    }
}
END_TEST

/* The target's gradient of name(x, t) with reduction none (weight: bce's, or NULL). */
static void target_grad(bound *b, const char *name, const double *x, const double *t, size_t n,
                        const lossd_tensor *weight)
{
    size_t shape[1] = {n};
    bind(b, name, x, 1, shape, t, 1, shape);
    lossd_call_set_reduction(&b->c, "none", &b->err);
    if (weight)
        ck_assert_int_eq(lossd_call_set_tensor(&b->c, "weight", weight, &b->err), 0);
    b->c.want_grad_second = true;
    compute(b);
}

START_TEST(target_gradient_edges)
{
    /*
     * bce's target gradient is autograd's log(1 - x) - log(x), unclamped: +inf
     * at x = 0, -inf at x = 1, NaN there where the weight is 0 (inf * 0), +0 at
     * x = 1/2; the values stay clamped and finite. kl_div's is NaN at t = 0
     * (xlogy's t / t in autograd), finite with log_target.
     */
    double x[5] = {0, 1, 0.5, 0, 1}, t[5] = {0.3, 0.3, 0.3, 0.3, 0.3}, w[5] = {1, 2, 1, 0, 0};
    size_t s5[1] = {5};
    lossd_tensor weight = tensor_of(w, 1, s5);
    static bound b;
    target_grad(&b, "bce", x, t, 5, &weight);
    ck_assert(b.c.grad_second[0] == INFINITY && b.c.grad_second[1] == -INFINITY);
    ck_assert(same_bits(b.c.grad_second[2], 0.0));
    ck_assert(isnan(b.c.grad_second[3]) && isnan(b.c.grad_second[4]));
    ck_assert(isfinite(b.c.output.data[0]) && isfinite(b.c.output.data[1]));
    ck_assert_uint_eq(b.c.n_nonfinite, 4);
    lossd_call_cleanup(&b.c);

    double lx[3] = {-1.0, -0.5, -2.0}, pt[3] = {0.0, 0.25, 1.0};
    target_grad(&b, "kl_div", lx, pt, 3, NULL);
    ck_assert(isnan(b.c.grad_second[0]));
    ck_assert_double_eq(b.c.grad_second[1], log(0.25) + 1 + 0.5);
    ck_assert_double_eq(b.c.grad_second[2], 1 + 2.0);
    lossd_call_cleanup(&b.c);
    double lt[3] = {-3.0, log(0.25), 0.0};
    size_t s3[1] = {3};
    bind(&b, "kl_div", lx, 1, s3, lt, 1, s3);
    ck_assert_int_eq(lossd_call_set_bool(&b.c, "log_target", true, &b.err), 0);
    lossd_call_set_reduction(&b.c, "sum", &b.err);
    b.c.want_grad_second = true;
    compute(&b);
    for (int i = 0; i < 3; i++) /* e^t (t - x + 1) */
        ck_assert_close(b.c.grad_second[i], exp(lt[i]) * (lt[i] - lx[i] + 1), 1e-15, 0, "kl");
    lossd_call_cleanup(&b.c);
}
END_TEST

START_TEST(target_gradient_refused)
{
    /* Class indices have no gradient, nor has a function without LOSSD_FN_GRAD_SECOND. */
    double x[6] = {1, 2, 3, 3, 2, 1}, idx[2] = {2, 0};
    size_t s23[2] = {2, 3}, s2[1] = {2};
    static bound b;
    bind(&b, "cross_entropy", x, 2, s23, idx, 1, s2);
    b.c.want_grad_second = true;
    expect_error(&b.c, LOSSD_EINVAL, "grad");
    ck_assert_str_eq(last_error()->message, "grad: class indices have no gradient; a target of "
                                            "probabilities shaped like input has one");
    bind(&b, "nll", x, 2, s23, idx, 1, s2);
    b.c.want_grad_second = true;
    expect_error(&b.c, LOSSD_EINVAL, "grad");
    ck_assert_str_eq(last_error()->message, "grad: nll has no gradient with respect to target");
}
END_TEST

/* ------------------------------------------------------------ errors */

START_TEST(validation_errors)
{
    double x[6] = {0.1, 0.2, 0.7, 0.3, 0.3, 0.4}, bad_p[6] = {0.1, 0.2, 0.7, 1.5, 0.3, 0.4};
    double idx_range[2] = {0, 3}, idx_frac[2] = {0, 1.5}, idx3[3] = {0, 1, 2};
    size_t s23[2] = {2, 3}, s2[1] = {2}, s3[1] = {3}, s22[2] = {2, 2};
    static bound b;
    bind(&b, "cross_entropy", x, 2, s23, idx_range, 1, s2);
    expect_error(&b.c, LOSSD_EINVAL, "target[1]");
    ck_assert_ptr_nonnull(strstr(last_error()->message, "out of range [0, 3)"));
    bind(&b, "nll", x, 2, s23, idx_frac, 1, s2);
    expect_error(&b.c, LOSSD_EINVAL, "target[1]");
    bind(&b, "focal", x, 2, s23, idx3, 1, s3);
    expect_error(&b.c, LOSSD_EINVAL, "target");
    bind(&b, "bce", bad_p, 2, s23, x, 2, s23);
    expect_error(&b.c, LOSSD_EINVAL, "input[1][0]");
    bind(&b, "bce_with_logits", x, 2, s23, bad_p, 2, s23);
    expect_error(&b.c, LOSSD_EINVAL, "target[1][0]");
    bind(&b, "cross_entropy", x, 2, s23, bad_p, 2, s23);
    expect_error(&b.c, LOSSD_EINVAL, "target[1][0]");
    bind(&b, "kl_div", x, 2, s23, bad_p, 2, s23);
    expect_error(&b.c, LOSSD_EINVAL, "target[1][0]");
    bind(&b, "kl_div", x, 2, s23, bad_p, 2, s23); /* any log-target is fine */
    lossd_call_set_bool(&b.c, "log_target", true, &b.err);
    ck_assert_int_eq(lossd_call_compute(&b.c, &b.err), 0);
    lossd_call_cleanup(&b.c);
    /* weights */
    double w2[2] = {1, 2};
    lossd_tensor wt2 = tensor_of(w2, 1, s2), wt22 = tensor_of(x, 2, s22);
    bind(&b, "cross_entropy", x, 2, s23, idx3, 1, s2);
    lossd_call_set_tensor(&b.c, "weight", &wt2, &b.err);
    expect_error(&b.c, LOSSD_EINVAL, "weight");
    bind(&b, "bce", x, 2, s23, x, 2, s23);
    lossd_call_set_tensor(&b.c, "weight", &wt22, &b.err);
    expect_error(&b.c, LOSSD_EINVAL, "weight");
    bind(&b, "bce_with_logits", x, 2, s23, x, 2, s23);
    lossd_call_set_tensor(&b.c, "pos_weight", &wt2, &b.err);
    expect_error(&b.c, LOSSD_EINVAL, "pos_weight");
    /* domains */
    bind(&b, "cross_entropy", x, 2, s23, idx3, 1, s2);
    ck_assert_int_eq(lossd_call_set_number(&b.c, "label_smoothing", 1.5, &b.err), LOSSD_EINVAL);
    ck_assert_str_eq(b.err.field, "label_smoothing");
    bind(&b, "sigmoid_focal", x, 2, s23, x, 2, s23);
    ck_assert_int_eq(lossd_call_set_number(&b.c, "alpha", -0.5, &b.err), LOSSD_EINVAL);
    memset(&b.err, 0, sizeof b.err);
    ck_assert_int_eq(lossd_call_set_number(&b.c, "alpha", -1, &b.err), 0);
    ck_assert_int_eq(lossd_call_set_number(&b.c, "gamma", -1, &b.err), LOSSD_EINVAL);
    /* qfl: probability targets, beta >= 0 */
    bind(&b, "qfl", x, 2, s23, bad_p, 2, s23);
    expect_error(&b.c, LOSSD_EINVAL, "target[1][0]");
    bind(&b, "qfl", x, 2, s23, x, 2, s23);
    ck_assert_int_eq(lossd_call_set_number(&b.c, "beta", -0.5, &b.err), LOSSD_EINVAL);
    ck_assert_str_eq(b.err.field, "beta");
    lossd_call_cleanup(&b.c);
    /* dfl: one real per row in [0, C - 1]; (C - 1, C) is out too */
    double bins_out[2] = {0.5, 2.5}, bins_neg[2] = {-0.25, 1};
    bind(&b, "dfl", x, 2, s23, bins_out, 1, s2);
    expect_error(&b.c, LOSSD_EINVAL, "target[1]");
    ck_assert_ptr_nonnull(strstr(last_error()->message, "outside the bins' range [0, 2]"));
    bind(&b, "dfl", x, 2, s23, bins_neg, 1, s2);
    expect_error(&b.c, LOSSD_EINVAL, "target[0]");
    bind(&b, "dfl", x, 2, s23, idx3, 1, s3);
    expect_error(&b.c, LOSSD_EINVAL, "target");
    ck_assert_ptr_nonnull(strstr(last_error()->message, "bin targets of shape (2)"));
    /* poly1: class indices, epsilon >= -1 */
    bind(&b, "poly1", x, 2, s23, idx_range, 1, s2);
    expect_error(&b.c, LOSSD_EINVAL, "target[1]");
    bind(&b, "poly1", x, 2, s23, idx_frac, 1, s2);
    expect_error(&b.c, LOSSD_EINVAL, "target[1]");
    bind(&b, "poly1", x, 2, s23, idx3, 1, s2);
    ck_assert_int_eq(lossd_call_set_number(&b.c, "epsilon", -1.0000001, &b.err), LOSSD_EINVAL);
    ck_assert_str_eq(b.err.field, "epsilon");
    memset(&b.err, 0, sizeof b.err);
    ck_assert_int_eq(lossd_call_set_number(&b.c, "epsilon", -1, &b.err), 0);
    lossd_call_cleanup(&b.c);
    /* probability targets refuse an ignore_index >= 0, as PyTorch */
    bind(&b, "cross_entropy", x, 2, s23, x, 2, s23);
    lossd_call_set_number(&b.c, "ignore_index", 1, &b.err);
    expect_error(&b.c, LOSSD_EINVAL, "ignore_index");
}
END_TEST

START_TEST(weight_broadcasting)
{
    /* bce's weight broadcasts like NumPy: (C), (N,1) and (1,C) against (N,C). */
    double x[6] = {0.1, 0.2, 0.7, 0.3, 0.3, 0.4}, t[6] = {0, 1, 1, 0, 1, 0};
    double wc[3] = {1, 2, 3}, wn[2] = {2, 5};
    size_t s23[2] = {2, 3}, s3[1] = {3}, s21[2] = {2, 1}, s13[2] = {1, 3};
    lossd_tensor tc = tensor_of(wc, 1, s3), tn = tensor_of(wn, 2, s21), t13 = tensor_of(wc, 2, s13);
    static bound plain, b;
    bind(&plain, "bce", x, 2, s23, t, 2, s23);
    lossd_call_set_reduction(&plain.c, "none", &plain.err);
    compute(&plain);
    const lossd_tensor *weights[3] = {&tc, &tn, &t13};
    for (int k = 0; k < 3; k++) {
        bind(&b, "bce", x, 2, s23, t, 2, s23);
        lossd_call_set_reduction(&b.c, "none", &b.err);
        lossd_call_set_tensor(&b.c, "weight", weights[k], &b.err);
        compute(&b);
        for (int i = 0; i < 6; i++) {
            double w = k == 1 ? wn[i / 3] : wc[i % 3];
            ck_assert_close(b.c.output.data[i], w * plain.c.output.data[i], 1e-15, 0, "weighted");
        }
        lossd_call_cleanup(&b.c);
    }
    lossd_call_cleanup(&plain.c);
}
END_TEST

static Suite *classification_suite(void)
{
    Suite *s = suite_create("classification");
    add_case(s, "values", 0, NULL, NULL,
             TESTS(bce_clamps_logs, ignore_index_mean, weight_broadcasting));
    add_case(s, "gradients", 0, NULL, NULL,
             TESTS(finite_differences, target_finite_differences, target_gradient_edges,
                   target_gradient_refused));
    add_case(s, "properties", 0, NULL, NULL,
             TESTS(extreme_logits_stay_finite, cross_entropy_identities,
                   focal_reduces_to_known_losses, soft_target_losses_reduce_to_bce,
                   poly1_at_epsilon_0_is_cross_entropy, kl_div_of_identical_is_zero));
    add_case(s, "errors", 0, NULL, NULL, TESTS(validation_errors));
    return s;
}

int main(void)
{
    return run_suite(classification_suite());
}
