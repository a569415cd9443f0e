/* SPDX-License-Identifier: MIT */
/*
 * check_regression.c - L1, MSE, Smooth L1 and Huber (src/core/regression.c):
 * finite differences (of both operands' gradients), the identities
 * between them, PyTorch's choices at the kinks and ties, and errors. PyTorch's own values and
 * gradients are the golden vectors (check_golden.c).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

/* The losses that are exactly 0 with a 0 gradient where input equals target. */
static const char *const names[] = {"l1", "mse", "smooth_l1", "huber", NULL};

/*
 * Evaluates name(x, t) with reduction none; fills loss and gradient, and
 * the target's gradient when grad_target is not NULL.
 */
static void eval_grads(const char *name, const char *param, double value, const double *x,
                       const double *t, size_t n, double *loss, double *grad, double *grad_target)
{
    size_t shape[1] = {n};
    lossd_tensor in = tensor_of(x, 1, shape), tg = tensor_of(t, 1, shape);
    lossd_call c;
    lossd_error err = {0};
    lossd_call_init(&c, must_find(LOSSD_KIND_LOSS, name));
    lossd_call_set_operand(&c, "input", &in, &err);
    lossd_call_set_operand(&c, "target", &tg, &err);
    lossd_call_set_reduction(&c, "none", &err);
    if (param)
        ck_assert_int_eq(lossd_call_set_number(&c, param, value, &err), 0);
    c.want_grad = true;
    c.want_grad_second = grad_target != NULL;
    ck_assert_msg(lossd_call_compute(&c, &err) == 0, "%s", err.message);
    memcpy(loss, c.output.data, n * sizeof *loss);
    memcpy(grad, c.grad, n * sizeof *grad);
    if (grad_target)
        memcpy(grad_target, c.grad_second, n * sizeof *grad_target);
    lossd_call_cleanup(&c);
}

static void eval(const char *name, const char *param, double value, const double *x,
                 const double *t, size_t n, double *loss, double *grad)
{
    eval_grads(name, param, value, x, t, n, loss, grad, NULL);
}

START_TEST(kinks_follow_pytorch)
{
    /* d = x - t in {0, +-beta, +-delta}: PyTorch's backward picks these. */
    double x[5] = {1, 3, -1, 2.5, 1.5}, t[5] = {1, 1, 1, 1, 1}; /* d = 0, 2, -2, 1.5, 0.5 */
    double loss[5], grad[5];
    eval("l1", NULL, 0, x, t, 5, loss, grad);
    ck_assert_double_eq(grad[0], 0.0); /* sgn(0) */
    ck_assert_double_eq(grad[1], 1.0);
    ck_assert_double_eq(grad[2], -1.0);
    eval("smooth_l1", "beta", 2.0, x, t, 5, loss, grad);
    ck_assert_double_eq(grad[0], 0.0);
    ck_assert_double_eq(grad[1], 1.0); /* |d| == beta is linear */
    ck_assert_double_eq(grad[2], -1.0);
    ck_assert_double_eq(loss[1], 1.0);  /* 2 - 0.5 * 2 */
    ck_assert_double_eq(grad[3], 0.75); /* 1.5 / 2 */
    ck_assert_double_eq(loss[3], 0.5625);
    eval("huber", "delta", 2.0, x, t, 5, loss, grad);
    ck_assert_double_eq(grad[1], 2.0); /* |d| == delta is linear: delta * sgn */
    ck_assert_double_eq(grad[2], -2.0);
    ck_assert_double_eq(loss[1], 2.0); /* 2 * (2 - 1) */
    ck_assert_double_eq(grad[4], 0.5);
    eval("mse", NULL, 0, x, t, 5, loss, grad);
    ck_assert_double_eq(loss[1], 4.0);
    ck_assert_double_eq(grad[2], -4.0);
}
END_TEST

START_TEST(smooth_l1_beta_zero_is_l1)
{
    /* The same values; the same gradients except at d = 0, where PyTorch's
       smooth_l1 backward gives -1 (its first test is d <= -beta) and l1's 0. */
    enum { N = 257 };
    test_rng r;
    rng_seed(&r, 21);
    double x[N], t[N], l1[N], g1[N], s[N], gs[N];
    for (int i = 0; i < N; i++)
        x[i] = rng_uniform(&r, -4, 4), t[i] = i % 7 ? rng_uniform(&r, -4, 4) : x[i];
    eval("l1", NULL, 0, x, t, N, l1, g1);
    eval("smooth_l1", "beta", 0.0, x, t, N, s, gs);
    ck_assert_mem_eq(l1, s, sizeof l1);
    for (int i = 0; i < N; i++) {
        if (x[i] == t[i]) {
            ck_assert_double_eq(g1[i], 0.0);
            ck_assert_double_eq(gs[i], -1.0);
        } else {
            ck_assert_double_eq(g1[i], gs[i]);
        }
    }
}
END_TEST

START_TEST(huber_is_scaled_smooth_l1)
{
    /* huber(d; delta) = delta * smooth_l1(d; beta = delta) */
    enum { N = 300 };
    test_rng r;
    rng_seed(&r, 22);
    double x[N], t[N], h[N], gh[N], s[N], gs[N];
    for (int i = 0; i < N; i++)
        x[i] = rng_uniform(&r, -5, 5), t[i] = rng_uniform(&r, -5, 5);
    const double deltas[] = {0.25, 1.0, 3.0};
    for (int k = 0; k < 3; k++) {
        eval("huber", "delta", deltas[k], x, t, N, h, gh);
        eval("smooth_l1", "beta", deltas[k], x, t, N, s, gs);
        for (int i = 0; i < N; i++) {
            ck_assert_close(h[i], deltas[k] * s[i], 1e-12, 1e-15, "huber value");
            ck_assert_close(gh[i], deltas[k] * gs[i], 1e-12, 1e-15, "huber gradient");
        }
    }
}
END_TEST

START_TEST(identical_inputs_give_zero)
{
    double x[6] = {-2, -0.5, 0, 0.25, 1, 1e300};
    double loss[6], grad[6];
    for (int f = 0; names[f]; f++) {
        eval(names[f], NULL, 0, x, x, 6, loss, grad);
        for (int i = 0; i < 6; i++) {
            ck_assert_double_eq(loss[i], 0.0);
            ck_assert_double_eq(grad[i], 0.0);
        }
    }
}
END_TEST

typedef struct {
    const double *target;
    size_t n;
    const char *param;
    double value;
    const char *reduction;
    const double *input;       /* set too (the target's checks perturb the target) */
    const double *grad_output; /* with "none" */
} reg_ctx;

static void configure(lossd_call *c, void *ctx_)
{
    reg_ctx *ctx = ctx_;
    size_t shape[2] = {ctx->n / 4, 4};
    static lossd_tensor t, x, go;
    t = tensor_of(ctx->target, 2, shape);
    lossd_error err = {0};
    ck_assert_int_eq(lossd_call_set_operand(c, "target", &t, &err), 0);
    if (ctx->input) {
        x = tensor_of(ctx->input, 2, shape);
        ck_assert_int_eq(lossd_call_set_operand(c, "input", &x, &err), 0);
    }
    ck_assert_int_eq(lossd_call_set_reduction(c, ctx->reduction, &err), 0);
    if (ctx->param)
        ck_assert_int_eq(lossd_call_set_number(c, ctx->param, ctx->value, &err), 0);
    if (ctx->grad_output) {
        go = tensor_of(ctx->grad_output, 2, shape);
        c->grad_output = go;
        c->grad_output_set = true;
    }
}

START_TEST(finite_differences)
{
    enum { N = 48 };
    test_rng r;
    rng_seed(&r, 9);
    double x[N], t[N];
    for (int i = 0; i < N; i++) {
        t[i] = rng_uniform(&r, -3, 3);
        /* keep |x - t| away from 0 and from beta/delta, where kinks are */
        double d = rng_uniform(&r, 0.05, 2.9);
        if (fabs(d - 1.0) < 0.05 || fabs(d - 0.5) < 0.05)
            d += 0.2;
        x[i] = t[i] + (i % 2 ? d : -d);
    }
    size_t shape[2] = {N / 4, 4};
    lossd_tensor input = tensor_of(x, 2, shape);
    reg_ctx ctxs[] = {
        {t, N, NULL, 0, "mean", NULL, NULL},      {t, N, NULL, 0, "sum", NULL, NULL},
        {t, N, "beta", 1.0, "mean", NULL, NULL},  {t, N, "beta", 0.5, "sum", NULL, NULL},
        {t, N, "delta", 1.0, "mean", NULL, NULL}, {t, N, "delta", 0.5, "sum", NULL, NULL}};
    const char *fns[] = {"l1", "mse", "smooth_l1", "smooth_l1", "huber", "huber"};
    for (int k = 0; k < 6; k++)
        fd_check(must_find(LOSSD_KIND_LOSS, fns[k]), &input, x, configure, &ctxs[k], 1e-6, 1e-9);
}
END_TEST

START_TEST(target_finite_differences)
{
    /* The target's gradient (LOSSD_FN_GRAD_SECOND) at generic points, every reduction. */
    enum { N = 48 };
    test_rng r;
    rng_seed(&r, 19);
    double x[N], t[N], go[N];
    for (int i = 0; i < N; i++) {
        x[i] = rng_uniform(&r, -3, 3);
        double d = rng_uniform(&r, 0.05, 2.9); /* away from the kinks, as above */
        if (fabs(d - 1.0) < 0.05 || fabs(d - 0.5) < 0.05)
            d += 0.2;
        t[i] = x[i] + (i % 3 ? d : -d);
        go[i] = rng_uniform(&r, -2, 2);
    }
    size_t shape[2] = {N / 4, 4};
    double copy[N];
    lossd_tensor target = tensor_of(copy, 2, shape);
    const char *fns[] = {"l1", "mse", "smooth_l1", "smooth_l1", "huber", "huber"};
    const char *params[] = {NULL, NULL, "beta", "beta", "delta", "delta"};
    const double values[] = {0, 0, 1.0, 0.5, 1.0, 0.5};
    const char *reductions[] = {"mean", "sum", "none"};
    for (int k = 0; k < 6; k++)
        for (int red = 0; red < 3; red++) {
            reg_ctx ctx = {
                t, N, params[k], values[k], reductions[red], x, red == 2 && k % 2 ? go : NULL};
            memcpy(copy, t, sizeof copy);
            fd_check_operand(must_find(LOSSD_KIND_LOSS, fns[k]), 1, &target, copy, 1e-6, configure,
                             &ctx, 1e-6, 1e-9);
        }
}
END_TEST

START_TEST(target_gradient_at_ties)
{
    /*
     * autograd's answers at x == t (torch 1.13, tests/data/gen_golden.py has
     * them too, to the sign of zero here): l1's target gradient is -sgn(0) =
     * -0 (its autograd negates abs's); mse's 2 (t - x) = +0 (its backward
     * with the operands swapped); smooth_l1 with beta = 0 gives -1 for both
     * operands (the swapped backward's first test, d <= -beta, holds at d = 0
     * for each); huber 0 for both. Beyond the kinks, the target's gradient is
     * the input's negated.
     */
    double x[3] = {1.5, 1.5, -2.0}, t[3] = {1.5, 0.5, 1.0}, loss[3], g[3], gt[3];
    eval_grads("l1", NULL, 0, x, t, 3, loss, g, gt);
    ck_assert(same_bits(gt[0], -0.0) && same_bits(g[0], 0.0));
    ck_assert_double_eq(gt[1], -1.0);
    ck_assert_double_eq(gt[2], 1.0);
    eval_grads("mse", NULL, 0, x, t, 3, loss, g, gt);
    ck_assert(same_bits(gt[0], 0.0) && same_bits(g[0], 0.0));
    ck_assert_double_eq(gt[2], 6.0);
    eval_grads("smooth_l1", "beta", 0.0, x, t, 3, loss, g, gt);
    ck_assert_double_eq(g[0], -1.0);
    ck_assert_double_eq(gt[0], -1.0);
    ck_assert_double_eq(gt[1], -1.0);
    eval_grads("smooth_l1", "beta", 2.0, x, t, 3, loss, g, gt);
    ck_assert(same_bits(gt[0], 0.0)); /* (t - x) / beta = +0 / 2, not -0 */
    ck_assert_double_eq(gt[1], -0.5);
    ck_assert_double_eq(gt[2], 1.0); /* |d| = 3 >= beta */
    eval_grads("huber", "delta", 0.5, x, t, 3, loss, g, gt);
    ck_assert(same_bits(gt[0], 0.0) && same_bits(g[0], 0.0));
    ck_assert_double_eq(gt[1], -0.5); /* |d| = 1 >= delta: -delta sgn(d) */
    ck_assert_double_eq(g[1], 0.5);
}
END_TEST

START_TEST(errors)
{
    double x[6] = {0}, t[4] = {0};
    size_t s6[1] = {6}, s4[1] = {4}, s23[2] = {2, 3}, s32[2] = {3, 2};
    lossd_tensor a = tensor_of(x, 1, s6), b = tensor_of(t, 1, s4);
    lossd_tensor m23 = tensor_of(x, 2, s23), m32 = tensor_of(x, 2, s32);
    lossd_call c;
    lossd_error err = {0};
    lossd_call_init(&c, must_find(LOSSD_KIND_LOSS, "mse"));
    lossd_call_set_operand(&c, "input", &a, &err);
    lossd_call_set_operand(&c, "target", &b, &err);
    expect_error(&c, LOSSD_EINVAL, "target");
    lossd_call_init(&c, must_find(LOSSD_KIND_LOSS, "l1"));
    lossd_call_set_operand(&c, "input", &m23, &err);
    lossd_call_set_operand(&c, "target", &m32, &err);
    expect_error(&c, LOSSD_EINVAL, "target");
    lossd_call_init(&c, must_find(LOSSD_KIND_LOSS, "huber"));
    ck_assert_int_eq(lossd_call_set_number(&c, "delta", 0, &err), LOSSD_EINVAL);
    ck_assert_str_eq(err.field, "delta");
    ck_assert_str_eq(err.message, "delta: 0 is out of its domain (> 0)");
    memset(&err, 0, sizeof err);
    lossd_call_init(&c, must_find(LOSSD_KIND_LOSS, "smooth_l1"));
    ck_assert_int_eq(lossd_call_set_number(&c, "beta", -1, &err), LOSSD_EINVAL);
    ck_assert_str_eq(err.message, "beta: -1 is out of its domain (>= 0)");
}
END_TEST

static Suite *regression_suite(void)
{
    Suite *s = suite_create("regression");
    add_case(s, "values", 0, NULL, NULL, TESTS(kinks_follow_pytorch));
    add_case(s, "gradients", 0, NULL, NULL,
             TESTS(finite_differences, target_finite_differences, target_gradient_at_ties));
    add_case(
        s, "properties", 0, NULL, NULL,
        TESTS(smooth_l1_beta_zero_is_l1, huber_is_scaled_smooth_l1, identical_inputs_give_zero));
    add_case(s, "errors", 0, NULL, NULL, TESTS(errors));
    return s;
}

int main(void)
{
    return run_suite(regression_suite());
}
