/* SPDX-License-Identifier: MIT */
/*
 * check_info.c - the information measures (src/core/info.c): reference
 * values, the identity H_P(Q) = H(P) + D_KL(P||Q), bases, 0 log 0,
 * infinite divergences, the row-sum rules, and the gradients: finite
 * differences at generic points, the rule at the simplex's faces. The reference values of the
 * golden vectors are check_golden.c's.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

typedef struct {
    lossd_call c;
    lossd_error err;
    lossd_tensor p, q;
} bound;

/* Binds name(p[, q]) over rows x k; base 0 means "e". */
static void bind(bound *b, const char *name, const double *p, const double *q, size_t rows,
                 size_t k, double base, bool normalize)
{
    size_t shape[2] = {rows, k};
    memset(&b->err, 0, sizeof b->err);
    b->p = tensor_of(p, 2, shape);
    lossd_call_init(&b->c, must_find(LOSSD_KIND_INFO, name));
    ck_assert_int_eq(lossd_call_set_operand(&b->c, "p", &b->p, &b->err), 0);
    if (q) {
        b->q = tensor_of(q, 2, shape);
        ck_assert_int_eq(lossd_call_set_operand(&b->c, "q", &b->q, &b->err), 0);
    }
    if (base != 0)
        ck_assert_int_eq(lossd_call_set_number(&b->c, "base", base, &b->err), 0);
    if (normalize)
        ck_assert_int_eq(lossd_call_set_bool(&b->c, "normalize", true, &b->err), 0);
}

static const double *values(bound *b)
{
    ck_assert_msg(lossd_call_compute(&b->c, &b->err) == 0, "%s", b->err.message);
    return b->c.output.data;
}

static void random_distributions(test_rng *r, double *x, size_t rows, size_t k, bool zeros)
{
    for (size_t i = 0; i < rows; i++) {
        double s = 0;
        for (size_t j = 0; j < k; j++) {
            x[i * k + j] = zeros && (i + j) % 5 == 0 ? 0 : rng_uniform(r, 0.01, 1);
            s += x[i * k + j];
        }
        for (size_t j = 0; j < k; j++)
            x[i * k + j] /= s;
    }
}

START_TEST(cross_entropy_is_entropy_plus_kl)
{
    enum { R = 40, K = 9 };
    test_rng r;
    rng_seed(&r, 81);
    double p[R * K], q[R * K];
    random_distributions(&r, p, R, K, true);
    random_distributions(&r, q, R, K, false);
    const double bases[] = {0, 2, 10};
    for (int b = 0; b < 3; b++) {
        static bound h, ce, kl;
        bind(&h, "entropy", p, NULL, R, K, bases[b], false);
        bind(&ce, "cross_entropy", p, q, R, K, bases[b], false);
        bind(&kl, "kl_divergence", p, q, R, K, bases[b], false);
        const double *vh = values(&h), *vce = values(&ce), *vkl = values(&kl);
        for (int i = 0; i < R; i++)
            ck_assert_close(vce[i], vh[i] + vkl[i], 1e-13, 1e-15, "H_P(Q) = H(P) + KL(P||Q)");
        lossd_call_cleanup(&h.c);
        lossd_call_cleanup(&ce.c);
        lossd_call_cleanup(&kl.c);
    }
}
END_TEST

START_TEST(known_values)
{
    /* uniform over 8: 3 bits; a certain outcome: 0; 0 log 0 = 0 */
    double u[16] = {0.125, 0.125, 0.125, 0.125, 0.125, 0.125, 0.125, 0.125, 1, 0, 0, 0, 0, 0, 0, 0};
    static bound b;
    bind(&b, "entropy", u, NULL, 2, 8, 2, false);
    const double *v = values(&b);
    ck_assert_double_eq(v[0], 3.0);
    ck_assert_double_eq(v[1], 0.0);
    ck_assert(!signbit(v[1])); /* +0, not -0 */
    lossd_call_cleanup(&b.c);
    bind(&b, "self_information", u, NULL, 2, 8, 2, false);
    v = values(&b);
    ck_assert_double_eq(v[0], 3.0);
    ck_assert_double_eq(v[8], 0.0);
    ck_assert(isinf(v[9]) && v[9] > 0); /* -log 0 */
    ck_assert_uint_eq(b.c.n_nonfinite, 7);
    lossd_call_cleanup(&b.c);
    /* natural log by default */
    bind(&b, "entropy", u, NULL, 1, 8, 0, false);
    ck_assert_close(values(&b)[0], log(8), 1e-15, 0, "nats");
    lossd_call_cleanup(&b.c);
}
END_TEST

START_TEST(divergences)
{
    double p[4] = {0.5, 0.5, 0, 0}, q[4] = {0.5, 0.25, 0.25, 0}, z[4] = {1, 0, 0, 0};
    static bound b;
    /* KL is +inf where q = 0 < p; 0 where p = 0 whatever q */
    bind(&b, "kl_divergence", p, z, 1, 4, 0, false);
    ck_assert(isinf(values(&b)[0]));
    ck_assert_uint_eq(b.c.n_nonfinite, 1);
    lossd_call_cleanup(&b.c);
    bind(&b, "kl_divergence", z, p, 1, 4, 2, false);
    ck_assert_double_eq(values(&b)[0], 1.0); /* log2(1 / 0.5) */
    lossd_call_cleanup(&b.c);
    bind(&b, "cross_entropy", p, z, 1, 4, 0, false);
    ck_assert(isinf(values(&b)[0]));
    lossd_call_cleanup(&b.c);
    /* JS is symmetric, finite and at most log 2 */
    static bound a;
    bind(&a, "js_divergence", p, q, 1, 4, 0, false);
    bind(&b, "js_divergence", q, p, 1, 4, 0, false);
    ck_assert_double_eq(values(&a)[0], values(&b)[0]);
    lossd_call_cleanup(&a.c);
    lossd_call_cleanup(&b.c);
    double s1[2] = {1, 0}, s2[2] = {0, 1};
    bind(&b, "js_divergence", s1, s2, 1, 2, 2, false);
    ck_assert_double_eq(values(&b)[0], 1.0); /* disjoint supports: exactly 1 bit */
    lossd_call_cleanup(&b.c);
}
END_TEST

START_TEST(normalization)
{
    double raw[3] = {1, 2, 5}, norm[3] = {0.125, 0.25, 0.625};
    static bound a, b;
    bind(&a, "entropy", raw, NULL, 1, 3, 0, true);
    bind(&b, "entropy", norm, NULL, 1, 3, 0, false);
    ck_assert_double_eq(values(&a)[0], values(&b)[0]);
    lossd_call_cleanup(&a.c);
    lossd_call_cleanup(&b.c);
    /* rank-1 p gives a rank-0 value */
    size_t s3[1] = {3};
    lossd_tensor t = tensor_of(norm, 1, s3);
    lossd_call c;
    lossd_error err = {0};
    lossd_call_init(&c, must_find(LOSSD_KIND_INFO, "entropy"));
    lossd_call_set_operand(&c, "p", &t, &err);
    ck_assert_int_eq(lossd_call_compute(&c, &err), 0);
    ck_assert_int_eq(c.output.rank, 0);
    ck_assert_uint_eq(c.output.size, 1);
    lossd_call_cleanup(&c);
}
END_TEST

START_TEST(errors)
{
    double off[6] = {0.5, 0.5, 0, 0.5, 0.4, 0}; /* row 1 sums to 0.9 */
    double neg[6] = {0.5, 0.5, 0, 0.5, -0.5, 1};
    double zero[6] = {0.5, 0.5, 0, 0, 0, 0};
    double ok[6] = {0.5, 0.5, 0, 0.2, 0.3, 0.5};
    static bound b;
    bind(&b, "entropy", off, NULL, 2, 3, 0, false);
    expect_error(&b.c, LOSSD_EINVAL, "p[1]");
    ck_assert_ptr_nonnull(strstr(last_error()->message, "not 1 (within 1e-6)"));
    bind(&b, "entropy", neg, NULL, 2, 3, 0, true);
    expect_error(&b.c, LOSSD_EINVAL, "p[1][1]");
    bind(&b, "entropy", neg, NULL, 2, 3, 0, false);
    expect_error(&b.c, LOSSD_EINVAL, "p[1][1]");
    bind(&b, "js_divergence", ok, zero, 2, 3, 0, true);
    expect_error(&b.c, LOSSD_EINVAL, "q[1]");
    bind(&b, "kl_divergence", ok, off, 2, 3, 0, false);
    expect_error(&b.c, LOSSD_EINVAL, "q[1]");
    /* rows are checked four at a time, the rest one by one: a bad row or value
       in any lane, any column (whole vectors or the last numbers) and the
       rest is found, the first one named, and a bad value before a bad row */
    enum { ROWS = 9, N = 6 };
    static double many[ROWS * N];
    for (size_t bad_row = 0; bad_row < ROWS; bad_row++)
        for (size_t col = 0; col < N; col++) {
            for (size_t i = 0; i < ROWS * N; i++)
                many[i] = 1.0 / N;
            many[bad_row * N + col] += 0.01; /* sums to 1.01 */
            if (bad_row + 2 < ROWS)
                many[(bad_row + 2) * N] = 0.5; /* a later bad row: not the one named */
            char want[32];
            snprintf(want, sizeof want, "p[%zu]", bad_row);
            bind(&b, "entropy", many, NULL, ROWS, N, 0, false);
            expect_error(&b.c, LOSSD_EINVAL, want);
            for (size_t i = 0; i < ROWS * N; i++)
                many[i] = 1.0 / N;
            if (bad_row > 0)
                many[1] = 0.5; /* an earlier bad row: a bad value is reported first */
            many[bad_row * N + col] = -0.25;
            snprintf(want, sizeof want, "p[%zu][%zu]", bad_row, col);
            bind(&b, "entropy", many, NULL, ROWS, N, 0, false);
            expect_error(&b.c, LOSSD_EINVAL, want);
            many[bad_row * N + col] = NAN;
            bind(&b, "entropy", many, NULL, ROWS, N, 0, true);
            expect_error(&b.c, LOSSD_EINVAL, want);
        }
    /* within 1e-6 is accepted */
    double close[3] = {0.5, 0.5, 5e-7};
    bind(&b, "entropy", close, NULL, 1, 3, 0, false);
    ck_assert_int_eq(lossd_call_compute(&b.c, &b.err), 0);
    lossd_call_cleanup(&b.c);
    /* shapes */
    size_t s23[2] = {2, 3}, s32[2] = {3, 2}, s0[1] = {0};
    lossd_tensor p = tensor_of(ok, 2, s23), q = tensor_of(ok, 2, s32), e = tensor_of(ok, 1, s0);
    lossd_call c;
    lossd_error err = {0};
    lossd_call_init(&c, must_find(LOSSD_KIND_INFO, "kl_divergence"));
    lossd_call_set_operand(&c, "p", &p, &err);
    lossd_call_set_operand(&c, "q", &q, &err);
    expect_error(&c, LOSSD_EINVAL, "q");
    lossd_call_init(&c, must_find(LOSSD_KIND_INFO, "kl_divergence"));
    lossd_call_set_operand(&c, "p", &p, &err);
    expect_error(&c, LOSSD_EMISSING, "q");
    lossd_call_init(&c, must_find(LOSSD_KIND_INFO, "entropy"));
    lossd_call_set_operand(&c, "p", &e, &err);
    expect_error(&c, LOSSD_EINVAL, "p");
}
END_TEST

/* ------------------------------------------------------------ gradients */

typedef struct {
    const char *name;
    const double *p, *q; /* q: NULL for the measures of one distribution */
    size_t rows, k;
    double base; /* 0: "e" */
    bool normalize;
    const double *grad_output; /* per row (per element for self_information), or NULL */
} info_ctx;

static void configure(lossd_call *c, void *ctx_)
{
    const info_ctx *ctx = ctx_;
    static bound b;
    bind(&b, ctx->name, ctx->p, ctx->q, ctx->rows, ctx->k, ctx->base, ctx->normalize);
    *c = b.c; /* bind() initialised b.c; its tensors stay in static storage */
    static lossd_tensor go;
    if (ctx->grad_output) {
        size_t shape[2] = {ctx->rows, ctx->k};
        bool per_element = strcmp(ctx->name, "self_information") == 0;
        go = tensor_of(ctx->grad_output, per_element ? 2 : 1, shape);
        c->grad_output = go;
        c->grad_output_set = true;
    }
}

START_TEST(finite_differences)
{
    /* Every measure's gradients at generic points: each distribution, bases e, 2 and 1/2,
       with and without normalize and grad_output. Rows that must sum to 1 (within 1e-6)
       take steps of 1e-7. */
    enum { R = 5, K = 6 };
    test_rng r;
    rng_seed(&r, 83);
    double p[R * K], q[R * K], raw_p[R * K], raw_q[R * K], go[R * K];
    random_distributions(&r, p, R, K, false);
    random_distributions(&r, q, R, K, false);
    for (int i = 0; i < R * K; i++) {
        raw_p[i] = rng_uniform(&r, 0.1, 4);
        raw_q[i] = rng_uniform(&r, 0.1, 4);
        go[i] = rng_uniform(&r, -2, 2);
    }
    const char *names[] = {"self_information", "entropy", "cross_entropy", "kl_divergence",
                           "js_divergence"};
    const double bases[] = {0, 2, 0.5};
    size_t shape[2] = {R, K};
    for (int f = 0; f < 5; f++)
        for (int v = 0; v < 6; v++) {
            bool normalize = v % 2, two = f >= 2;
            info_ctx ctx = {names[f],
                            normalize ? raw_p : p,
                            two ? (normalize ? raw_q : q) : NULL,
                            R,
                            K,
                            bases[v / 2],
                            normalize,
                            v == 1 || v == 4 ? NULL : go};
            const lossd_function *fn = must_find(LOSSD_KIND_INFO, names[f]);
            for (size_t k = 0; k < (two ? 2u : 1u); k++) {
                double copy[R * K];
                memcpy(copy, k ? ctx.q : ctx.p, sizeof copy);
                lossd_tensor t = tensor_of(copy, 2, shape);
                fd_check_operand(fn, k, &t, copy, normalize ? 1e-6 : 1e-7, configure, &ctx, 1e-6,
                                 1e-8);
            }
        }
}
END_TEST

/* Computes name(p[, q]) over one row of n with both gradients (ones upstream). */
static void grads(bound *b, const char *name, const double *p, const double *q, size_t n,
                  bool normalize)
{
    bind(b, name, p, q, 1, n, 0, normalize);
    b->c.want_grad = true;
    b->c.want_grad_second = q != NULL;
    values(b);
}

START_TEST(gradients_at_zeros)
{
    /*
     * docs/functions.md's rule on the simplex's faces: the terms' one-sided
     * derivatives, with 0 log 0 = 0. Where it differs from autograd on the
     * torch formulas (tests/data/gen_golden.py), autograd's answer is named.
     */
    double half[3] = {0.5, 0.5, 0}, quarter[3] = {0.25, 0.25, 0.5}, one[2] = {1, 0};
    static bound b;
    grads(&b, "entropy", half, NULL, 3, false);
    ck_assert_double_eq(b.c.grad[0], -(1 + log(0.5)));
    ck_assert(b.c.grad[2] == INFINITY); /* -(1 + log 0), autograd's too */
    ck_assert_uint_eq(b.c.n_nonfinite, 1);
    lossd_call_cleanup(&b.c);
    double raw[3] = {1, 1, 0};
    grads(&b, "entropy", raw, NULL, 3, true); /* autograd of entr(p / s): NaN, the whole row */
    ck_assert_double_eq(b.c.grad[0], 0.0);    /* -(log(1/2) + H) / s, H = log 2 */
    ck_assert_double_eq(b.c.grad[1], 0.0);
    ck_assert(b.c.grad[2] == INFINITY);
    lossd_call_cleanup(&b.c);
    grads(&b, "cross_entropy", half, quarter, 3, false);
    ck_assert_double_eq(b.c.grad[2], -log(0.5)); /* -log q; autograd's xlogy: 0 */
    ck_assert_double_eq(b.c.grad_second[0], -2.0);
    ck_assert_double_eq(b.c.grad_second[2], 0.0); /* -p / q with p = 0 */
    lossd_call_cleanup(&b.c);
    grads(&b, "cross_entropy", one, one, 2, false);
    ck_assert(b.c.grad[1] == INFINITY);
    ck_assert_double_eq(b.c.grad_second[1], 0.0); /* p = q = 0: autograd's 0 / 0 = NaN */
    lossd_call_cleanup(&b.c);
    grads(&b, "kl_divergence", half, quarter, 3, false);
    ck_assert(b.c.grad[2] == -INFINITY); /* log p + 1 - log q at p = 0 < q; autograd: NaN */
    ck_assert_double_eq(b.c.grad_second[2], 0.0);
    lossd_call_cleanup(&b.c);
    grads(&b, "kl_divergence", one, one, 2, false);
    ck_assert_double_eq(b.c.grad[0], 1.0);
    ck_assert(b.c.grad[1] == INFINITY); /* q = 0: the term is +inf for any p > 0 */
    ck_assert_double_eq(b.c.grad_second[0], -1.0);
    ck_assert_double_eq(b.c.grad_second[1], 0.0);
    lossd_call_cleanup(&b.c);
    double a[3] = {1, 0, 0}, c[3] = {0, 1, 0};
    grads(&b, "js_divergence", a, c, 3, false);
    ck_assert_double_eq(b.c.grad[0], 0.5 * log(2.0)); /* log(p / m) / 2 */
    ck_assert(b.c.grad[1] == -INFINITY);
    ck_assert_double_eq(b.c.grad[2], 0.5 * M_LN2); /* p = q = 0; autograd: NaN */
    ck_assert(b.c.grad_second[0] == -INFINITY);
    ck_assert_double_eq(b.c.grad_second[2], 0.5 * M_LN2);
    lossd_call_cleanup(&b.c);
    grads(&b, "self_information", one, NULL, 2, false);
    ck_assert_double_eq(b.c.grad[0], -1.0);
    ck_assert(b.c.grad[1] == -INFINITY);   /* -1 / p */
    ck_assert_uint_eq(b.c.n_nonfinite, 2); /* and the value, +inf */
    lossd_call_cleanup(&b.c);
    /* grad_output is one number per row of a row-valued measure */
    double up[3] = {1, 2, 3};
    size_t s3[1] = {3};
    bind(&b, "entropy", quarter, NULL, 1, 3, 0, false);
    b.c.want_grad = true;
    b.c.grad_output = tensor_of(up, 1, s3);
    b.c.grad_output_set = true;
    expect_error(&b.c, LOSSD_EINVAL, "grad_output");
}
END_TEST

static Suite *info_suite(void)
{
    Suite *s = suite_create("info");
    add_case(s, "values", 0, NULL, NULL, TESTS(known_values, divergences, normalization));
    add_case(s, "gradients", 0, NULL, NULL, TESTS(finite_differences, gradients_at_zeros));
    add_case(s, "properties", 0, NULL, NULL, TESTS(cross_entropy_is_entropy_plus_kl));
    add_case(s, "errors", 0, NULL, NULL, TESTS(errors));
    return s;
}

int main(void)
{
    return run_suite(info_suite());
}
