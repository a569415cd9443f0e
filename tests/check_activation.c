/* SPDX-License-Identifier: MIT */
/*
 * check_activation.c - the activations (src/core/activation.c): finite
 * differences, PyTorch's choices at kinks, extremes and errors. PyTorch's
 * own values, vector-Jacobian products and zero-derivative statistics are
 * the golden vectors (check_golden.c).
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

/* Applies an activation to x[0..n) with gradients; params as name/value pairs. */
static void apply(const char *name, const double *x, size_t n, double *y, double *dy,
                  double *zero_fraction, const char *param, double value)
{
    size_t shape[1] = {n};
    lossd_tensor in = tensor_of(x, 1, shape);
    lossd_call c;
    lossd_error err = {0};
    lossd_call_init(&c, must_find(LOSSD_KIND_ACTIVATION, name));
    lossd_call_set_operand(&c, "input", &in, &err);
    if (param)
        ck_assert_int_eq(lossd_call_set_number(&c, param, value, &err), 0);
    c.want_grad = true;
    ck_assert_msg(lossd_call_compute(&c, &err) == 0, "%s: %s", name, err.message);
    memcpy(y, c.output.data, n * sizeof *y);
    memcpy(dy, c.grad, n * sizeof *dy);
    if (zero_fraction)
        *zero_fraction = c.zero_grad_fraction;
    lossd_call_cleanup(&c);
}

START_TEST(kinks_follow_pytorch)
{
    double x[] = {-3, 0, 3, 6}, y[4], d[4], zf;
    apply("relu", x, 4, y, d, &zf, NULL, 0);
    ck_assert_double_eq(d[1], 0.0); /* relu'(0) = 0 */
    ck_assert_double_eq(zf, 0.5);   /* -3 and 0 are dead */
    apply("leaky_relu", x, 4, y, d, &zf, "negative_slope", 0.2);
    ck_assert_double_eq(d[1], 0.2); /* leaky_relu'(0) = slope */
    ck_assert_double_eq(zf, 0.0);
    apply("relu6", x, 4, y, d, NULL, NULL, 0);
    ck_assert_double_eq(d[1], 0.0); /* flat at both bounds */
    ck_assert_double_eq(d[3], 0.0);
    ck_assert_double_eq(d[2], 1.0);
    apply("hardsigmoid", x, 4, y, d, NULL, NULL, 0);
    ck_assert_double_eq(d[0], 0.0); /* flat at -3 and 3 */
    ck_assert_double_eq(d[2], 0.0);
    ck_assert_double_eq(y[2], 1.0);
    apply("hardswish", x, 4, y, d, NULL, NULL, 0);
    ck_assert_double_eq(d[0], -0.5); /* x <= 3 branch: x/3 + 1/2 at -3 is -1/2 */
    ck_assert_double_eq(d[2], 1.5);
    /*
     * ... wherever the element lies: ATen's vectorised loop gives 1 at 3 for
     * the elements of each whole block of 8 doubles, its scalar tail 3/2
     * (docs/functions.md, hardswish); lossd gives 3/2 to all, on every lane
     * and block of its own kernels.
     */
    double threes[17], d17[17], y17[17];
    for (size_t i = 0; i < 17; i++)
        threes[i] = 3.0;
    apply("hardswish", threes, 17, y17, d17, NULL, NULL, 0);
    for (size_t i = 0; i < 17; i++)
        ck_assert_msg(d17[i] == 1.5, "hardswish'(3) at [%zu]: %.17g", i, d17[i]);
    apply("elu", x, 4, y, d, NULL, "alpha", 0.7);
    ck_assert_double_eq(d[1], 0.7); /* elu'(0) = alpha */
    apply("hardtanh", (double[]){-1, 1, 0.5, 2}, 4, y, d, NULL, NULL, 0);
    ck_assert_double_eq(d[0], 0.0);
    ck_assert_double_eq(d[1], 0.0);
    ck_assert_double_eq(d[2], 1.0);
    /* softplus turns linear strictly above threshold / beta */
    apply("softplus", (double[]){20, 20.5, -1, 0}, 4, y, d, NULL, NULL, 0);
    ck_assert_double_eq(y[1], 20.5);
    ck_assert_double_eq(d[1], 1.0);
    ck_assert_double_eq(y[0], log1p(exp(20.0)));
    ck_assert_double_eq(y[3], log(2.0));
}
END_TEST

/*
 * A double from anywhere: a quarter in [-7, 7], a quarter from any finite
 * binade, a quarter from the smallest binades (subnormals included), a
 * quarter within 4096 ulps of -3 or 3.
 */
static double any_double(test_rng *r)
{
    unsigned long long b = rng_bits(r), sign = b & (1ull << 63), mant = b & ((1ull << 52) - 1);
    double x;
    switch (rng_bits(r) & 3) {
    case 0:
        return rng_uniform(r, -7, 7);
    case 1:
        b = sign | (rng_bits(r) % 2047) << 52 | mant; /* exponent field 0..2046: finite */
        break;
    case 2:
        b = sign | (rng_bits(r) % 64) << 52 | mant;
        break;
    default:
        /* +-3 + k 2^-52, exact: below 3 that is k ulps, above it k / 2 */
        return ((b >> 62 & 1) ? 3.0 : -3.0) + ((double)(rng_bits(r) % 8193) - 4096) * 0x1p-52;
    }
    memcpy(&x, &b, sizeof x);
    return x;
}

/* The same double (NaN: any NaN): the kernels must round as the formula does, not nearly. */
static bool same_double(double got, double want)
{
    return (isnan(got) && isnan(want)) || memcmp(&got, &want, sizeof got) == 0;
}

/* PyTorch's formulas, scalar: hardsigmoid, hardswish, hardswish_backward at upstream 1 */
static double hardsigmoid_ref(double x)
{
    return fmin(fmax(x + 3, 0), 6) / 6;
}

static double hardswish_ref(double x)
{
    return x * fmin(fmax(x + 3, 0), 6) / 6;
}

static double hardswish_slope_ref(double x)
{
    return x < -3 ? 0 : x <= 3 ? x / 3 + 0.5 : 1;
}

/* Asserts got[i] is ref(x[i]), the same double, for i < n; one assertion (Check's write to a
 * pipe each). */
static void expect_same_doubles(const char *what, const double *x, const double *got, size_t n,
                                double (*ref)(double))
{
    size_t i = 0;
    while (i < n && same_double(got[i], ref(x[i])))
        i++;
    ck_assert_msg(i == n, "%s(%a) = %a, the division gives %a", what, x[i], got[i], ref(x[i]));
}

/*
 * hardsigmoid and hardswish divide by 6 (and hardswish's derivative by 3)
 * as PyTorch does; the AVX2 kernels get hardsigmoid's and the derivative's
 * quotients without the divider (simd.h, lossd_v_div_const), which must
 * give the division's double for every input: compared bit for bit over
 * every binade, hardswish's value too.
 */
START_TEST(hard_activations_divide_exactly)
{
    enum { N = 1 << 20, SPECIALS = 14 };
    static const double special[SPECIALS] = {0.0,
                                             -0.0,
                                             INFINITY,
                                             -INFINITY,
                                             NAN,
                                             -3,
                                             3,
                                             -1.5,
                                             DBL_MIN,
                                             -DBL_MIN,
                                             4.9406564584124654e-324,
                                             -4.9406564584124654e-324,
                                             DBL_MAX,
                                             -DBL_MAX};
    double *x = malloc(3 * N * sizeof *x), *y = x + N, *d = y + N;
    ck_assert_ptr_nonnull(x);
    test_rng r;
    rng_seed(&r, 1066);
    for (size_t i = 0; i < N; i++)
        x[i] = i < SPECIALS ? special[i] : any_double(&r);

    apply("hardsigmoid", x, N, y, d, NULL, NULL, 0);
    expect_same_doubles("hardsigmoid", x, y, N, hardsigmoid_ref);
    apply("hardswish", x, N, y, d, NULL, NULL, 0);
    expect_same_doubles("hardswish", x, y, N, hardswish_ref);
    expect_same_doubles("hardswish'", x, d, N, hardswish_slope_ref);
    free(x);
}
END_TEST

START_TEST(extremes_stay_finite)
{
    static const char *const fns[] = {
        "relu",     "leaky_relu", "elu",     "celu",        "selu",  "gelu",        "silu",
        "mish",     "sigmoid",    "tanh",    "softsign",    "relu6", "hardsigmoid", "hardswish",
        "hardtanh", "softplus",   "softmax", "log_softmax", NULL};
    double x[] = {-1000, -50, -1e-300, 0, 1e-300, 50, 1000}, y[7], d[7];
    for (int f = 0; fns[f]; f++) {
        apply(fns[f], x, 7, y, d, NULL, NULL, 0);
        for (int i = 0; i < 7; i++)
            ck_assert_msg(isfinite(y[i]) && isfinite(d[i]), "%s(%g) = %g, derivative %g", fns[f],
                          x[i], y[i], d[i]);
    }
    apply("sigmoid", x, 7, y, d, NULL, NULL, 0);
    ck_assert_double_eq(y[0], 0.0);
    ck_assert_double_eq(y[6], 1.0);
    apply("mish", x, 7, y, d, NULL, NULL, 0);
    ck_assert_double_eq(y[6], 1000.0);
}
END_TEST

START_TEST(softmax_rows)
{
    enum { R = 5, C = 7 };
    test_rng r;
    rng_seed(&r, 61);
    double x[R * C];
    for (int i = 0; i < R * C; i++)
        x[i] = rng_uniform(&r, -20, 20);
    size_t shape[2] = {R, C};
    lossd_tensor in = tensor_of(x, 2, shape);
    lossd_call s, l;
    lossd_error err = {0};
    lossd_call_init(&s, must_find(LOSSD_KIND_ACTIVATION, "softmax"));
    lossd_call_init(&l, must_find(LOSSD_KIND_ACTIVATION, "log_softmax"));
    lossd_call_set_operand(&s, "input", &in, &err);
    lossd_call_set_operand(&l, "input", &in, &err);
    s.want_grad = l.want_grad = true;
    ck_assert_int_eq(lossd_call_compute(&s, &err), 0);
    ck_assert_int_eq(lossd_call_compute(&l, &err), 0);
    for (int i = 0; i < R; i++) {
        double sum = 0, gsum = 0;
        for (int j = 0; j < C; j++) {
            sum += s.output.data[i * C + j];
            gsum += s.grad[i * C + j];
            ck_assert_close(l.output.data[i * C + j], log(s.output.data[i * C + j]), 1e-12, 1e-14,
                            "log_softmax = log(softmax)");
        }
        ck_assert_close(sum, 1.0, 1e-15, 0, "softmax row sum");
        /* with grad_output all ones, softmax's vjp is y (1 - sum y) = 0 */
        ck_assert_msg(fabs(gsum) < 1e-15, "softmax vjp row sum %g", gsum);
    }
    lossd_call_cleanup(&s);
    lossd_call_cleanup(&l);
}
END_TEST

/*
 * softmax along axis 1 of (A, B, C) is softmax along the last axis of its
 * (A, C, B) transpose, bit for bit (each row's terms are added in the same
 * order), values and gradients, with a grad_output; and dim = -2 is dim = 1.
 */
START_TEST(softmax_along_any_axis)
{
    enum { A = 3, B = 6, C = 5 };
    test_rng r;
    rng_seed(&r, 62);
    double x[A * B * C], xt[A * C * B], go[A * B * C], got[A * C * B];
    for (int i = 0; i < A * B * C; i++)
        x[i] = i % 13 == 0 ? 800.0 : rng_uniform(&r, -20, 20), go[i] = rng_uniform(&r, -2, 2);
    for (int a = 0; a < A; a++)
        for (int b = 0; b < B; b++)
            for (int c = 0; c < C; c++) {
                xt[(a * C + c) * B + b] = x[(a * B + b) * C + c];
                got[(a * C + c) * B + b] = go[(a * B + b) * C + c];
            }
    size_t shape[3] = {A, B, C}, shape_t[3] = {A, C, B};
    const char *names[2] = {"softmax", "log_softmax"};
    const double dims[2] = {1, -2};
    for (int f = 0; f < 2; f++)
        for (int d = 0; d < 2; d++) {
            lossd_tensor in = tensor_of(x, 3, shape), in_t = tensor_of(xt, 3, shape_t);
            lossd_call s, t;
            lossd_error err = {0};
            lossd_call_init(&s, must_find(LOSSD_KIND_ACTIVATION, names[f]));
            lossd_call_init(&t, must_find(LOSSD_KIND_ACTIVATION, names[f]));
            ck_assert_int_eq(lossd_call_set_number(&s, "dim", dims[d], &err), 0);
            lossd_call_set_operand(&s, "input", &in, &err);
            lossd_call_set_operand(&t, "input", &in_t, &err);
            s.want_grad = t.want_grad = true;
            s.grad_output = tensor_of(go, 3, shape);
            t.grad_output = tensor_of(got, 3, shape_t);
            s.grad_output_set = t.grad_output_set = true;
            ck_assert_int_eq(lossd_call_compute(&s, &err), 0);
            ck_assert_int_eq(lossd_call_compute(&t, &err), 0);
            ck_assert_double_eq(s.zero_grad_fraction, t.zero_grad_fraction);
            for (int a = 0; a < A; a++)
                for (int b = 0; b < B; b++)
                    for (int c = 0; c < C; c++) {
                        size_t i = (size_t)((a * B + b) * C + c), j = (size_t)((a * C + c) * B + b);
                        ck_assert_msg(same_bits(s.output.data[i], t.output.data[j]),
                                      "%s dim %g: output[%zu]", names[f], dims[d], i);
                        ck_assert_msg(same_bits(s.grad[i], t.grad[j]), "%s dim %g: grad[%zu]",
                                      names[f], dims[d], i);
                    }
            lossd_call_cleanup(&s);
            lossd_call_cleanup(&t);
        }
}
END_TEST

typedef struct {
    const char *param;
    double value;
    const lossd_tensor *weight;
    const double *grad_output;
} act_ctx;

static void configure(lossd_call *c, void *ctx_)
{
    act_ctx *ctx = ctx_;
    lossd_error err = {0};
    if (ctx->param)
        ck_assert_int_eq(lossd_call_set_number(c, ctx->param, ctx->value, &err), 0);
    if (ctx->weight)
        ck_assert_int_eq(lossd_call_set_tensor(c, "weight", ctx->weight, &err), 0);
    static lossd_tensor go;
    size_t shape[3] = {2, 3, 4};
    go = tensor_of(ctx->grad_output, 3, shape);
    c->grad_output = go;
    c->grad_output_set = true;
}

START_TEST(finite_differences)
{
    enum { N = 24 };
    test_rng r;
    rng_seed(&r, 71);
    double x[N], go[N], w[3] = {0.1, -0.3, 0.7};
    for (int i = 0; i < N; i++) {
        double v = rng_uniform(&r, 0.05, 4);
        x[i] = i % 2 ? v : -v; /* away from 0 */
        if (fabs(fabs(x[i]) - 3) < 0.05)
            x[i] += 0.2; /* and from the hard functions' +-3 */
        go[i] = rng_uniform(&r, -2, 2);
    }
    size_t shape[3] = {2, 3, 4}, sw[1] = {3};
    lossd_tensor input = tensor_of(x, 3, shape), weight = tensor_of(w, 1, sw);
    struct {
        const char *name;
        act_ctx ctx;
    } cases[] = {
        {"relu", {NULL, 0, NULL, go}},         {"leaky_relu", {"negative_slope", 0.1, NULL, go}},
        {"prelu", {NULL, 0, &weight, go}},     {"elu", {"alpha", 1.3, NULL, go}},
        {"celu", {"alpha", 0.6, NULL, go}},    {"selu", {NULL, 0, NULL, go}},
        {"gelu", {NULL, 0, NULL, go}},         {"silu", {NULL, 0, NULL, go}},
        {"mish", {NULL, 0, NULL, go}},         {"sigmoid", {NULL, 0, NULL, go}},
        {"tanh", {NULL, 0, NULL, go}},         {"softsign", {NULL, 0, NULL, go}},
        {"relu6", {NULL, 0, NULL, go}},        {"hardsigmoid", {NULL, 0, NULL, go}},
        {"hardswish", {NULL, 0, NULL, go}},    {"hardtanh", {"max_val", 2.0, NULL, go}},
        {"softplus", {"beta", 2.0, NULL, go}}, {"softmax", {NULL, 0, NULL, go}},
        {"log_softmax", {NULL, 0, NULL, go}},  {"softmax", {"dim", 0, NULL, go}},
        {"softmax", {"dim", -2, NULL, go}},    {"log_softmax", {"dim", 0, NULL, go}},
        {"log_softmax", {"dim", 1, NULL, go}},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++)
        fd_check(must_find(LOSSD_KIND_ACTIVATION, cases[k].name), &input, x, configure,
                 &cases[k].ctx, 1e-6, 1e-9);
    /* gelu's tanh approximation too */
    for (size_t k = 0; k < 1; k++) {
        lossd_call c;
        lossd_error err = {0};
        lossd_call_init(&c, must_find(LOSSD_KIND_ACTIVATION, "gelu"));
        ck_assert_int_eq(lossd_call_set_choice(&c, "approximate", "tanh", &err), 0);
        lossd_call_set_operand(&c, "input", &input, &err);
        c.want_grad = true;
        ck_assert_int_eq(lossd_call_compute(&c, &err), 0);
        for (int i = 0; i < N; i++) {
            double h = 1e-6, a = x[i] + h, b = x[i] - h;
            double fa = 0.5 * a * (1 + tanh(sqrt(2 / M_PI) * (a + 0.044715 * a * a * a)));
            double fb = 0.5 * b * (1 + tanh(sqrt(2 / M_PI) * (b + 0.044715 * b * b * b)));
            ck_assert_close(c.grad[i], (fa - fb) / (2 * h), 1e-6, 1e-9, "gelu tanh");
        }
        lossd_call_cleanup(&c);
    }
}
END_TEST

START_TEST(prelu_channels)
{
    /* weight per channel = axis 1: (2, 3, 2) input, 3 weights */
    double x[12], w[3] = {0.1, 0.2, 0.3};
    for (int i = 0; i < 12; i++)
        x[i] = -1 - i;
    size_t shape[3] = {2, 3, 2}, sw[1] = {3};
    lossd_tensor in = tensor_of(x, 3, shape), wt = tensor_of(w, 1, sw);
    lossd_call c;
    lossd_error err = {0};
    lossd_call_init(&c, must_find(LOSSD_KIND_ACTIVATION, "prelu"));
    lossd_call_set_operand(&c, "input", &in, &err);
    lossd_call_set_tensor(&c, "weight", &wt, &err);
    ck_assert_int_eq(lossd_call_compute(&c, &err), 0);
    for (int i = 0; i < 12; i++)
        ck_assert_double_eq(c.output.data[i], w[(i / 2) % 3] * x[i]);
    lossd_call_cleanup(&c);
    /* one number */
    lossd_call_init(&c, must_find(LOSSD_KIND_ACTIVATION, "prelu"));
    lossd_call_set_operand(&c, "input", &in, &err);
    ck_assert_int_eq(lossd_call_set_number(&c, "weight", 0.5, &err), 0);
    ck_assert_int_eq(lossd_call_compute(&c, &err), 0);
    ck_assert_double_eq(c.output.data[3], -2.0);
    lossd_call_cleanup(&c);
}
END_TEST

START_TEST(errors)
{
    double x[6] = {0}, w[2] = {1, 2};
    size_t s23[2] = {2, 3}, s2[1] = {2}, s3[1] = {3};
    lossd_tensor in = tensor_of(x, 2, s23), wt = tensor_of(w, 1, s2), go = tensor_of(x, 1, s3);
    lossd_call c;
    lossd_error err = {0};
    lossd_call_init(&c, must_find(LOSSD_KIND_ACTIVATION, "prelu"));
    lossd_call_set_operand(&c, "input", &in, &err);
    lossd_call_set_tensor(&c, "weight", &wt, &err);
    expect_error(&c, LOSSD_EINVAL, "weight");
    lossd_call_init(&c, must_find(LOSSD_KIND_ACTIVATION, "hardtanh"));
    lossd_call_set_operand(&c, "input", &in, &err);
    lossd_call_set_number(&c, "min_val", 2, &err);
    expect_error(&c, LOSSD_EINVAL, "max_val");
    lossd_call_init(&c, must_find(LOSSD_KIND_ACTIVATION, "celu"));
    ck_assert_int_eq(lossd_call_set_number(&c, "alpha", 0, &err), LOSSD_EINVAL);
    ck_assert_str_eq(err.field, "alpha");
    memset(&err, 0, sizeof err);
    lossd_call_init(&c, must_find(LOSSD_KIND_ACTIVATION, "gelu"));
    ck_assert_int_eq(lossd_call_set_choice(&c, "approximate", "sigmoid", &err), LOSSD_EINVAL);
    ck_assert_str_eq(err.message, "approximate: \"sigmoid\" is not one of: none, tanh");
    memset(&err, 0, sizeof err);
    lossd_call_init(&c, must_find(LOSSD_KIND_ACTIVATION, "tanh"));
    lossd_call_set_operand(&c, "input", &in, &err);
    c.want_grad = true;
    c.grad_output = go;
    c.grad_output_set = true;
    expect_error(&c, LOSSD_EINVAL, "grad_output");
}
END_TEST

static Suite *activation_suite(void)
{
    Suite *s = suite_create("activation");
    add_case(s, "values", 30, NULL, NULL,
             TESTS(kinks_follow_pytorch, prelu_channels, hard_activations_divide_exactly));
    add_case(s, "gradients", 0, NULL, NULL, TESTS(finite_differences));
    add_case(s, "properties", 0, NULL, NULL,
             TESTS(extremes_stay_finite, softmax_rows, softmax_along_any_axis));
    add_case(s, "errors", 0, NULL, NULL, TESTS(errors));
    return s;
}

int main(void)
{
    return run_suite(activation_suite());
}
