/* SPDX-License-Identifier: MIT */
/*
 * check_call.c - the registry (src/core/registry.c) and the generic call
 * machinery (src/core/call.c, error.c, tensor.c): table invariants,
 * catalog texts, parameter binding, reductions, grad_output rules, block
 * determinism, limits and error values.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

/*
 * The functions the v1 API (docs/api.md) promises. A new
 * function needs no entry here - the registry is the list, and the golden
 * and docs checks follow it; this only catches a promised function that
 * disappears or is renamed.
 */
static const char *const api_losses[] = {"l1",
                                         "mse",
                                         "smooth_l1",
                                         "huber",
                                         "bce",
                                         "bce_with_logits",
                                         "cross_entropy",
                                         "nll",
                                         "kl_div",
                                         "sigmoid_focal",
                                         "focal",
                                         "iou",
                                         "giou",
                                         "diou",
                                         "ciou",
                                         NULL};
static const char *const api_activations[] = {
    "relu",      "leaky_relu", "prelu",    "elu",     "celu",        "selu",  "gelu",
    "silu",      "mish",       "sigmoid",  "tanh",    "softsign",    "relu6", "hardsigmoid",
    "hardswish", "hardtanh",   "softplus", "softmax", "log_softmax", NULL};
static const char *const api_info[] = {"self_information", "entropy",       "cross_entropy",
                                       "kl_divergence",    "js_divergence", NULL};
static const char *const api_pairwise[] = {"iou", "giou", "diou", "ciou", NULL};

static size_t count(const char *const *names)
{
    size_t n = 0;
    while (names[n])
        n++;
    return n;
}

/* ------------------------------------------------------------ registry */

START_TEST(registry_has_the_contract)
{
    const char *const *lists[] = {api_losses, api_activations, api_info, api_pairwise};
    const lossd_kind kinds[] = {LOSSD_KIND_LOSS, LOSSD_KIND_ACTIVATION, LOSSD_KIND_INFO,
                                LOSSD_KIND_PAIRWISE};
    size_t total = 0;
    for (int k = 0; k < 4; k++) {
        for (size_t i = 0; lists[k][i]; i++) {
            const lossd_function *fn = lossd_function_find(kinds[k], lists[k][i]);
            ck_assert_msg(fn != NULL, "%s/%s is not registered", lossd_kind_name(kinds[k]),
                          lists[k][i]);
            ck_assert_int_eq(fn->kind, kinds[k]);
        }
        total += count(lists[k]);
    }
    ck_assert_uint_ge(lossd_function_count(), total);
    ck_assert_ptr_null(lossd_function_find(LOSSD_KIND_LOSS, "relu"));
    ck_assert_ptr_null(lossd_function_find(LOSSD_KIND_ACTIVATION, "nope"));
    ck_assert_ptr_nonnull(lossd_function_at(lossd_function_count() - 1));
    ck_assert_ptr_null(lossd_function_at(lossd_function_count()));
}
END_TEST

START_TEST(registry_rows_are_complete)
{
    for (size_t i = 0; i < lossd_function_count(); i++) {
        const lossd_function *fn = lossd_function_at(i);
        ck_assert_ptr_nonnull(fn);
        ck_assert_msg(fn->name && fn->summary && fn->formula && fn->reference && fn->impl,
                      "row %zu (%s) is incomplete", i, fn->name);
        ck_assert_msg(strchr(fn->summary, '\n') == NULL, "%s: summary is not one line", fn->name);
        ck_assert_uint_le(fn->n_params, LOSSD_MAX_PARAMS);
        ck_assert_msg(fn->operands[0].rule != LOSSD_RULE_NONE && fn->operands[0].name,
                      "%s has no first operand", fn->name);
        ck_assert_ptr_eq(lossd_function_find(fn->kind, fn->name), fn); /* names are unique */
        bool grad = fn->flags & LOSSD_FN_GRAD, second = fn->flags & LOSSD_FN_GRAD_SECOND;
        ck_assert_msg(grad == (fn->kind != LOSSD_KIND_PAIRWISE),
                      "%s: gradients exactly for losses, activations and information measures",
                      fn->name);
        ck_assert_msg(!second || (grad && fn->operands[1].rule != LOSSD_RULE_NONE),
                      "%s: a second operand's gradient without a first's or a second operand",
                      fn->name);
        if (fn->kind == LOSSD_KIND_INFO) /* each distribution has one */
            ck_assert(second == (fn->operands[1].rule != LOSSD_RULE_NONE));
        for (size_t p = 0; p < fn->n_params; p++) {
            const lossd_param_spec *spec = &fn->params[p];
            ck_assert_ptr_eq(lossd_function_param(fn, spec->name), spec);
            ck_assert_msg(spec->summary && *spec->summary, "%s.%s has no summary", fn->name,
                          spec->name);
            if (spec->type == LOSSD_PARAM_CHOICE)
                ck_assert_ptr_nonnull(spec->choices[0]);
            /* Defaults are inside their own domain. */
            if (spec->type == LOSSD_PARAM_NUMBER || spec->type == LOSSD_PARAM_INTEGER) {
                lossd_call c;
                lossd_error err = {0};
                lossd_call_init(&c, fn);
                ck_assert_msg(lossd_call_set_number(&c, spec->name, spec->default_number, &err) ==
                                  0,
                              "%s.%s: default rejected: %s", fn->name, spec->name, err.message);
            }
        }
    }
}
END_TEST

static void expect_domain(lossd_kind kind, const char *fname, const char *param, const char *domain,
                          const char *deflt)
{
    const lossd_param_spec *spec = lossd_function_param(must_find(kind, fname), param);
    ck_assert_ptr_nonnull(spec);
    char buf[128];
    lossd_param_domain_text(spec, buf, sizeof buf);
    ck_assert_str_eq(buf, domain);
    lossd_param_default_text(spec, buf, sizeof buf);
    ck_assert_str_eq(buf, deflt);
}

START_TEST(catalog_texts)
{
    expect_domain(LOSSD_KIND_LOSS, "giou", "eps", ">= 0", "1e-07");
    expect_domain(LOSSD_KIND_LOSS, "giou", "box_format", "one of: xyxy, xywh, cxcywh", "xyxy");
    expect_domain(LOSSD_KIND_LOSS, "sigmoid_focal", "alpha", "[0, 1] or -1", "0.25");
    expect_domain(LOSSD_KIND_LOSS, "huber", "delta", "> 0", "1");
    expect_domain(LOSSD_KIND_LOSS, "cross_entropy", "label_smoothing", "[0, 1]", "0");
    expect_domain(LOSSD_KIND_LOSS, "cross_entropy", "ignore_index", "any", "-100");
    expect_domain(LOSSD_KIND_LOSS, "cross_entropy", "weight", "(C): one per class", "none");
    expect_domain(LOSSD_KIND_LOSS, "kl_div", "log_target", "true or false", "false");
    expect_domain(LOSSD_KIND_INFO, "entropy", "base", "\"e\", or > 0 and != 1", "e");
    expect_domain(LOSSD_KIND_ACTIVATION, "celu", "alpha", "!= 0", "1");
    expect_domain(LOSSD_KIND_ACTIVATION, "leaky_relu", "negative_slope", "any", "0.01");
    ck_assert_str_eq(lossd_param_type_name(LOSSD_PARAM_INTEGER), "integer");
    ck_assert_str_eq(lossd_kind_name(LOSSD_KIND_PAIRWISE), "pairwise");
    /* snprintf-like: the length needed is returned even when the buffer is short. */
    char tiny[4];
    const lossd_param_spec *fmt =
        lossd_function_param(must_find(LOSSD_KIND_LOSS, "giou"), "box_format");
    ck_assert_int_eq(lossd_param_domain_text(fmt, tiny, sizeof tiny),
                     (int)strlen("one of: xyxy, xywh, cxcywh"));
    ck_assert_str_eq(tiny, "one");
}
END_TEST

/* ------------------------------------------------------------ binding */

START_TEST(parameter_binding_errors)
{
    lossd_call c;
    lossd_error err = {0};
    lossd_call_init(&c, must_find(LOSSD_KIND_LOSS, "smooth_l1"));
    ck_assert_int_eq(lossd_call_set_number(&c, "betta", 1, &err), LOSSD_ENOENT);
    ck_assert_str_eq(err.field, "betta");
    memset(&err, 0, sizeof err);
    ck_assert_int_eq(lossd_call_set_bool(&c, "beta", true, &err), LOSSD_ETYPE);
    ck_assert_str_eq(err.message, "beta: expected a number");
    memset(&err, 0, sizeof err);
    ck_assert_int_eq(lossd_call_set_number(&c, "beta", -0.5, &err), LOSSD_EINVAL);
    ck_assert_str_eq(err.field, "beta");
    memset(&err, 0, sizeof err);
    ck_assert_int_eq(lossd_call_set_number(&c, "beta", INFINITY, &err), LOSSD_EINVAL);
    memset(&err, 0, sizeof err);
    ck_assert_int_eq(lossd_call_set_reduction(&c, "batchmean", &err), LOSSD_EINVAL);
    ck_assert_str_eq(err.field, "reduction");
    memset(&err, 0, sizeof err);
    ck_assert_int_eq(lossd_call_set_reduction(&c, "avg", &err), LOSSD_EINVAL);

    /* The first error wins: a second failure does not overwrite it. */
    ck_assert_int_eq(lossd_call_set_number(&c, "zzz", 1, &err), LOSSD_ENOENT);
    ck_assert_str_eq(err.field, "reduction");

    memset(&err, 0, sizeof err);
    lossd_call_init(&c, must_find(LOSSD_KIND_LOSS, "kl_div"));
    ck_assert_int_eq(lossd_call_set_reduction(&c, "batchmean", &err), 0);
    ck_assert_int_eq(c.reduction, LOSSD_REDUCTION_BATCHMEAN);

    lossd_call_init(&c, must_find(LOSSD_KIND_LOSS, "nll"));
    ck_assert_int_eq(lossd_call_set_number(&c, "ignore_index", 2.5, &err), LOSSD_EINVAL);
    ck_assert_str_eq(err.field, "ignore_index");
    memset(&err, 0, sizeof err);
    ck_assert_int_eq(lossd_call_set_number(&c, "weight", 2, &err), LOSSD_ETYPE);

    memset(&err, 0, sizeof err);
    lossd_call_init(&c, must_find(LOSSD_KIND_INFO, "entropy"));
    ck_assert_int_eq(lossd_call_set_number(&c, "base", 1, &err), LOSSD_EINVAL);
    memset(&err, 0, sizeof err);
    ck_assert_int_eq(lossd_call_set_number(&c, "base", 0, &err), LOSSD_EINVAL);
    memset(&err, 0, sizeof err);
    ck_assert_int_eq(lossd_call_set_choice(&c, "base", "two", &err), LOSSD_EINVAL);
    ck_assert_str_eq(err.field, "base");
    memset(&err, 0, sizeof err);
    ck_assert_int_eq(lossd_call_set_choice(&c, "base", "e", &err), 0);
    ck_assert_int_eq(lossd_call_set_reduction(&c, "sum", &err), LOSSD_ENOENT);
    memset(&err, 0, sizeof err);
    double v = 1;
    lossd_tensor t = tensor_of(&v, 0, NULL);
    ck_assert_int_eq(lossd_call_set_operand(&c, "q", &t, &err), LOSSD_ENOENT);
    ck_assert_str_eq(err.field, "q");
}
END_TEST

START_TEST(tensor_views)
{
    lossd_tensor t;
    size_t shape[9] = {1, 2, 3, 1, 1, 1, 1, 1, 1};
    ck_assert_int_eq(lossd_tensor_view(&t, NULL, 9, shape), LOSSD_ETOOBIG);
    ck_assert_int_eq(lossd_tensor_view(&t, NULL, 3, shape), 0);
    ck_assert_uint_eq(t.size, 6);
    size_t huge[2] = {(size_t)1 << 40, (size_t)1 << 40};
    ck_assert_int_eq(lossd_tensor_view(&t, NULL, 2, huge), LOSSD_ETOOBIG);
    ck_assert_int_eq(lossd_tensor_view(&t, NULL, 0, NULL), 0);
    ck_assert_uint_eq(t.size, 1);
    ck_assert_str_eq(lossd_strerror(LOSSD_EINVAL), "invalid argument");
    ck_assert_str_eq(lossd_strerror(12345), "unknown error");
}
END_TEST

/* ------------------------------------------------------------ calls */

static double *random_data(size_t n, unsigned long long seed)
{
    test_rng r;
    rng_seed(&r, seed);
    double *x = malloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++)
        x[i] = rng_uniform(&r, -3, 3);
    return x;
}

START_TEST(grad_output_rules)
{
    double x[6] = {1, 2, 3, 4, 5, 6}, t[6] = {0}, go3[3] = {1, 1, 1};
    size_t s23[2] = {2, 3}, s3[1] = {3};
    lossd_tensor in = tensor_of(x, 2, s23), tg = tensor_of(t, 2, s23), g3 = tensor_of(go3, 1, s3);
    lossd_error err = {0};
    lossd_call c;
    /* only with reduction none */
    lossd_call_init(&c, must_find(LOSSD_KIND_LOSS, "mse"));
    lossd_call_set_operand(&c, "input", &in, &err);
    lossd_call_set_operand(&c, "target", &tg, &err);
    c.want_grad = true;
    c.grad_output = tg;
    c.grad_output_set = true;
    expect_error(&c, LOSSD_EINVAL, "grad_output");
    /* only with grad */
    lossd_call_init(&c, must_find(LOSSD_KIND_LOSS, "mse"));
    lossd_call_set_operand(&c, "input", &in, &err);
    lossd_call_set_operand(&c, "target", &tg, &err);
    lossd_call_set_reduction(&c, "none", &err);
    c.grad_output = tg;
    c.grad_output_set = true;
    expect_error(&c, LOSSD_EINVAL, "grad_output");
    /* shaped like the unreduced loss */
    lossd_call_init(&c, must_find(LOSSD_KIND_LOSS, "mse"));
    lossd_call_set_operand(&c, "input", &in, &err);
    lossd_call_set_operand(&c, "target", &tg, &err);
    lossd_call_set_reduction(&c, "none", &err);
    c.want_grad = true;
    c.grad_output = g3;
    c.grad_output_set = true;
    expect_error(&c, LOSSD_EINVAL, "grad_output");
    /* cross_entropy's unreduced loss is (N): (2) */
    lossd_call_init(&c, must_find(LOSSD_KIND_LOSS, "cross_entropy"));
    double idx[2] = {0, 2}, go2[2] = {2, -1};
    size_t s2[1] = {2};
    lossd_tensor ti = tensor_of(idx, 1, s2), g2 = tensor_of(go2, 1, s2);
    lossd_call_set_operand(&c, "input", &in, &err);
    lossd_call_set_operand(&c, "target", &ti, &err);
    lossd_call_set_reduction(&c, "none", &err);
    c.want_grad = true;
    c.grad_output = g2;
    c.grad_output_set = true;
    ck_assert_int_eq(lossd_call_compute(&c, &err), 0);
    ck_assert_int_eq(c.output.rank, 1);
    ck_assert_uint_eq(c.output.shape[0], 2);
    /* row 1's gradient is -1 times the plain one: sums to zero either way */
    double s = 0;
    for (int j = 0; j < 3; j++)
        s += c.grad[3 + j];
    ck_assert_msg(fabs(s) < 1e-15, "softmax gradient rows sum to 0, got %g", s);
    ck_assert_msg(c.grad[5] > 0, "row 1 is scaled by grad_output = -1");
    lossd_call_cleanup(&c);
    /* terms only for box losses; a second operand's gradient only where the row has one */
    lossd_call_init(&c, must_find(LOSSD_KIND_LOSS, "mse"));
    lossd_call_set_operand(&c, "input", &in, &err);
    lossd_call_set_operand(&c, "target", &tg, &err);
    c.want_terms = true;
    expect_error(&c, LOSSD_EINVAL, "terms");
    double p[3] = {0.2, 0.3, 0.5};
    lossd_tensor tp = tensor_of(p, 1, s3);
    lossd_call_init(&c, must_find(LOSSD_KIND_INFO, "entropy"));
    lossd_call_set_operand(&c, "p", &tp, &err);
    c.want_grad_second = true;
    expect_error(&c, LOSSD_EINVAL, "grad");
    ck_assert_str_eq(last_error()->message,
                     "grad: entropy has no gradient with respect to a second operand");
    /* grad_output with the second operand's gradient alone */
    lossd_call_init(&c, must_find(LOSSD_KIND_LOSS, "mse"));
    lossd_call_set_operand(&c, "input", &in, &err);
    lossd_call_set_operand(&c, "target", &tg, &err);
    lossd_call_set_reduction(&c, "none", &err);
    c.want_grad_second = true;
    c.grad_output = in;
    c.grad_output_set = true;
    ck_assert_int_eq(lossd_call_compute(&c, &err), 0);
    ck_assert_ptr_null(c.grad);
    for (int i = 0; i < 6; i++) /* 2 (t - x) g with t = 0, g = x */
        ck_assert_double_eq(c.grad_second[i], -2 * x[i] * x[i]);
    lossd_call_cleanup(&c);
}
END_TEST

/* Runs a prepared call's blocks in the given order. */
static void run_blocks(lossd_call *c, bool reverse, size_t step)
{
    if (!reverse) {
        for (size_t b = 0; b < c->n_blocks; b += step)
            lossd_call_run(c, b, b + step);
    } else {
        for (size_t b = c->n_blocks; b > 0; b--)
            lossd_call_run(c, b - 1, b);
    }
    lossd_call_finish(c);
}

START_TEST(blocks_are_deterministic)
{
    /* However blocks are shared out, a reduction is bit-for-bit the same. */
    enum { N = 100003 };
    double *x = random_data(N, 1), *t = random_data(N, 2);
    size_t shape[1] = {N};
    lossd_tensor in = tensor_of(x, 1, shape), tg = tensor_of(t, 1, shape);
    const char *names[] = {"mse", "smooth_l1", "bce_with_logits"};
    for (int f = 0; f < 3; f++) {
        if (f == 2) /* bce_with_logits wants targets in [0, 1] */
            for (size_t i = 0; i < N; i++)
                t[i] = fabs(t[i]) / 3;
        double loss[3];
        for (int way = 0; way < 3; way++) {
            lossd_call c;
            lossd_error err = {0};
            lossd_call_init(&c, must_find(LOSSD_KIND_LOSS, names[f]));
            lossd_call_set_operand(&c, "input", &in, &err);
            lossd_call_set_operand(&c, "target", &tg, &err);
            ck_assert_int_eq(lossd_call_prepare(&c, &err), 0);
            ck_assert_uint_gt(c.n_blocks, 8);
            run_blocks(&c, way == 1, way == 2 ? 5 : 1);
            loss[way] = c.loss;
            lossd_call_cleanup(&c);
        }
        ck_assert_msg(loss[0] == loss[1] && loss[1] == loss[2], "%s: %.17g %.17g %.17g", names[f],
                      loss[0], loss[1], loss[2]);
    }
    free(x);
    free(t);
}
END_TEST

START_TEST(mean_matches_sum_over_n)
{
    enum { N = 5000 };
    double *x = random_data(N, 5), *t = random_data(N, 6);
    size_t shape[2] = {N / 10, 10};
    lossd_tensor in = tensor_of(x, 2, shape), tg = tensor_of(t, 2, shape);
    double values[2];
    for (int r = 0; r < 2; r++) {
        lossd_call c;
        lossd_error err = {0};
        lossd_call_init(&c, must_find(LOSSD_KIND_LOSS, "l1"));
        lossd_call_set_operand(&c, "input", &in, &err);
        lossd_call_set_operand(&c, "target", &tg, &err);
        lossd_call_set_reduction(&c, r ? "sum" : "mean", &err);
        ck_assert_int_eq(lossd_call_compute(&c, &err), 0);
        ck_assert_uint_eq(c.n_terms, N);
        values[r] = c.loss;
        lossd_call_cleanup(&c);
    }
    ck_assert_close(values[0], values[1] / N, 1e-14, 0, "mean = sum / n");
    free(x);
    free(t);
}
END_TEST

/* Computes loss `name` of (x, t) with the gradient; the caller cleans c up. */
static void loss_with_grad(lossd_call *c, const char *name, const lossd_tensor *x,
                           const lossd_tensor *t, const char *reduction)
{
    lossd_error err = {0};
    lossd_call_init(c, must_find(LOSSD_KIND_LOSS, name));
    lossd_call_set_operand(c, "input", x, &err);
    lossd_call_set_operand(c, "target", t, &err);
    lossd_call_set_reduction(c, reduction, &err);
    c->want_grad = true;
    ck_assert_msg(lossd_call_compute(c, &err) == 0, "%s: %s", name, err.message);
}

START_TEST(empty_batches)
{
    /*
     * No loss terms, PyTorch's answer: the mean of an empty batch is 0/0 =
     * NaN (null and non-finite in a reply), and so is the mean of a batch
     * whose every target is ignore_index; a sum is 0; none gives [].
     * torchvision's box losses guard their mean (0), and lossd's follow them.
     */
    size_t zero[1] = {0};
    lossd_tensor e = tensor_of(NULL, 1, zero);
    const char *names[] = {"mse", "giou", "cross_entropy", "nll", "focal", "bce", "kl_div"};
    const char *reductions[] = {"mean", "sum", "none", "batchmean"};
    for (int f = 0; f < 7; f++)
        for (int r = 0; r < (f == 6 ? 4 : 3); r++) {
            lossd_call c;
            loss_with_grad(&c, names[f], &e, &e, reductions[r]);
            ck_assert_uint_eq(c.n_terms, 0);
            bool nan = (r == 0 || r == 3) && f != 1;
            ck_assert_msg(nan ? isnan(c.loss) : same_bits(c.loss, 0.0), "%s %s: %g", names[f],
                          reductions[r], c.loss);
            if (r == 2)
                ck_assert_uint_eq(c.output.size, 0);
            ck_assert_uint_eq(c.n_nonfinite, nan);
            lossd_call_cleanup(&c);
        }
    double x[6] = {1, 2, 3, 3, 2, 1}, ignored[2] = {-100, -100};
    size_t s23[2] = {2, 3}, s2[1] = {2};
    lossd_tensor scores = tensor_of(x, 2, s23), targets = tensor_of(ignored, 1, s2);
    for (int f = 2; f < 5; f++)
        for (int r = 0; r < 2; r++) {
            lossd_call c;
            loss_with_grad(&c, names[f], &scores, &targets, reductions[r]);
            ck_assert_uint_eq(c.n_terms, 2);
            ck_assert_msg(r == 0 ? isnan(c.loss) : c.loss == 0.0, "%s all ignored, %s: %g",
                          names[f], reductions[r], c.loss);
            for (int i = 0; i < 6; i++)
                ck_assert(same_bits(c.grad[i], 0.0)); /* no term, no gradient */
            lossd_call_cleanup(&c);
        }
}
END_TEST

START_TEST(nonfinite_results_are_counted)
{
    double x[3] = {1e200, 0, -1e200}, t[3] = {-1e200, 0, 1e200};
    size_t s3[1] = {3};
    lossd_tensor in = tensor_of(x, 1, s3), tg = tensor_of(t, 1, s3);
    lossd_call c;
    lossd_error err = {0};
    lossd_call_init(&c, must_find(LOSSD_KIND_LOSS, "mse"));
    lossd_call_set_operand(&c, "input", &in, &err);
    lossd_call_set_operand(&c, "target", &tg, &err);
    lossd_call_set_reduction(&c, "none", &err);
    c.want_grad = true;
    ck_assert_int_eq(lossd_call_compute(&c, &err), 0);
    ck_assert(isinf(c.output.data[0]) && c.output.data[1] == 0 && isinf(c.output.data[2]));
    ck_assert_double_eq(c.grad[0], 4e200); /* the gradient 2 (x - t) is still finite */
    ck_assert_uint_eq(c.n_nonfinite, 2);
    lossd_call_cleanup(&c);
}
END_TEST

START_TEST(nonfinite_results_are_counted_in_every_block)
{
    /* Over three blocks (8192 elements each) and a ragged tail, non-finite
       results at block edges and in the tail are each counted once. */
    enum { N = 20003 };
    static double x[N], t[N];
    const size_t at[] = {0, 8191, 8192, 16384, N - 1};
    size_t shape[1] = {N};
    lossd_tensor in = tensor_of(x, 1, shape), tg = tensor_of(t, 1, shape);
    lossd_call c;
    lossd_error err = {0};

    /* relu of NaN is NaN (derivative 0), of infinity infinity (derivative 1) */
    for (size_t i = 0; i < N; i++)
        x[i] = (double)(i % 7) - 3;
    for (size_t k = 0; k < sizeof at / sizeof at[0]; k++)
        x[at[k]] = NAN;
    x[100] = INFINITY;
    lossd_call_init(&c, must_find(LOSSD_KIND_ACTIVATION, "relu"));
    lossd_call_set_operand(&c, "input", &in, &err);
    c.want_grad = true;
    ck_assert_msg(lossd_call_compute(&c, &err) == 0, "%s: %s", err.field, err.message);
    ck_assert_uint_eq(c.n_nonfinite, 6); /* five NaN and one infinite output */
    lossd_call_cleanup(&c);

    /* mse of 1e308 against -1e308: infinite term and gradient 2 (x - t) */
    for (size_t i = 0; i < N; i++)
        x[i] = (double)(i % 5), t[i] = 1;
    for (size_t k = 0; k < sizeof at / sizeof at[0]; k++)
        x[at[k]] = 1e308, t[at[k]] = -1e308;
    lossd_call_init(&c, must_find(LOSSD_KIND_LOSS, "mse"));
    lossd_call_set_operand(&c, "input", &in, &err);
    lossd_call_set_operand(&c, "target", &tg, &err);
    lossd_call_set_reduction(&c, "none", &err);
    c.want_grad = true;
    ck_assert_msg(lossd_call_compute(&c, &err) == 0, "%s: %s", err.field, err.message);
    ck_assert_uint_eq(c.n_nonfinite, 2 * 5);
    lossd_call_cleanup(&c);
    /* reduced, the terms are not results: the infinite sum and the gradients are */
    lossd_call_init(&c, must_find(LOSSD_KIND_LOSS, "mse"));
    lossd_call_set_operand(&c, "input", &in, &err);
    lossd_call_set_operand(&c, "target", &tg, &err);
    c.want_grad = true;
    ck_assert_msg(lossd_call_compute(&c, &err) == 0, "%s: %s", err.field, err.message);
    ck_assert(isinf(c.loss));
    ck_assert_uint_eq(c.n_nonfinite, 1 + 5);
    lossd_call_cleanup(&c);
}
END_TEST

/* a and b hold the same numbers bit for bit, NaN matching any NaN (payloads carry nothing). */
static bool same_numbers(const double *a, const double *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!(isnan(a[i]) && isnan(b[i])) && memcmp(&a[i], &b[i], sizeof a[i]) != 0)
            return false;
    return true;
}

/* One evaluation of fn on x (and t), with or without statistics; the caller cleans up. */
static void compute_with_stats(lossd_call *c, const char *kind_name, const char *name,
                               lossd_tensor *in, lossd_tensor *tg, bool stats, bool grad)
{
    lossd_error err = {0};
    lossd_kind kind = strcmp(kind_name, "loss") == 0 ? LOSSD_KIND_LOSS : LOSSD_KIND_ACTIVATION;
    lossd_call_init(c, must_find(kind, name));
    ck_assert(c->want_stats); /* on unless turned off */
    lossd_call_set_operand(c, "input", in, &err);
    if (kind == LOSSD_KIND_LOSS) {
        lossd_call_set_operand(c, "target", tg, &err);
        lossd_call_set_reduction(c, "none", &err);
    }
    if (strcmp(name, "celu") == 0) /* its derivative's scale differs from its value's */
        ck_assert_int_eq(lossd_call_set_number(c, "alpha", 0.3, &err), 0);
    c->want_grad = grad;
    c->want_stats = stats;
    ck_assert_msg(lossd_call_compute(c, &err) == 0, "%s: %s: %s", name, err.field, err.message);
}

START_TEST(statistics_off_change_no_value)
{
    /* Without statistics the kernels skip the counts (and a forward pass
       the derivative): every output and gradient must stay bit for bit
       the same, and the skipped statistics must not pose as numbers. */
    enum { N = 1027 }; /* a ragged tail */
    static double x[N], t[N];
    size_t shape[1] = {N};
    lossd_tensor in = tensor_of(x, 1, shape), tg = tensor_of(t, 1, shape);
    for (size_t i = 0; i < N; i++) {
        x[i] = ldexp((double)((i * 7919) % 2001) - 1000.0, -6); /* -15.6 .. 15.6, zeros too */
        t[i] = (double)(i % 2);
    }
    x[3] = NAN;
    x[500] = INFINITY;
    x[N - 1] = -INFINITY;
    static const char *const fns[][2] = {
        {"activation", "relu"},     {"activation", "leaky_relu"},
        {"activation", "elu"},      {"activation", "celu"},
        {"activation", "selu"},     {"activation", "gelu"},
        {"activation", "silu"},     {"activation", "mish"},
        {"activation", "sigmoid"},  {"activation", "tanh"},
        {"activation", "softsign"}, {"activation", "hardtanh"},
        {"activation", "softplus"}, {"activation", "hardswish"},
        {"activation", "softmax"},  {"loss", "mse"},
        {"loss", "smooth_l1"},      {"loss", "bce_with_logits"},
    };
    for (size_t f = 0; f < sizeof fns / sizeof fns[0]; f++) {
        lossd_call on, off;
        for (int forward_only = 0; forward_only < 2; forward_only++) {
            /* with gradients, and a forward pass alone: the same values either way */
            compute_with_stats(&on, fns[f][0], fns[f][1], &in, &tg, true, true);
            compute_with_stats(&off, fns[f][0], fns[f][1], &in, &tg, false, !forward_only);
            ck_assert_uint_eq(on.output.size, off.output.size);
            ck_assert_msg(same_numbers(on.output.data, off.output.data, on.output.size),
                          "%s: outputs differ without statistics", fns[f][1]);
            if (!forward_only)
                ck_assert_msg(same_numbers(on.grad, off.grad, N),
                              "%s: gradients differ without statistics", fns[f][1]);
            ck_assert_msg(on.n_nonfinite >= 1, "%s: %zu", fns[f][1], on.n_nonfinite); /* the NaN */
            ck_assert_uint_eq(off.n_nonfinite, 0);
            if (on.fn->kind == LOSSD_KIND_ACTIVATION) {
                ck_assert(on.zero_grad_fraction >= 0 && on.zero_grad_fraction <= 1);
                ck_assert(isnan(off.zero_grad_fraction));
            }
            lossd_call_cleanup(&on);
            lossd_call_cleanup(&off);
        }
    }

    /* a reduced loss still says whether it is finite */
    lossd_call c;
    lossd_error err = {0};
    lossd_call_init(&c, must_find(LOSSD_KIND_LOSS, "mse"));
    lossd_call_set_operand(&c, "input", &in, &err);
    lossd_call_set_operand(&c, "target", &tg, &err);
    c.want_stats = false;
    ck_assert_int_eq(lossd_call_compute(&c, &err), 0);
    ck_assert(isnan(c.loss));
    ck_assert_uint_eq(c.n_nonfinite, 1);
    lossd_call_cleanup(&c);
}
END_TEST

START_TEST(outputs_start_on_a_cache_line)
{
    /* the kernels' vector stores never straddle two lines (call.c, alloc_doubles) */
    static double x[1001], t[1001];
    for (size_t n = 1; n <= 1001; n += 125) {
        size_t shape[1] = {n};
        lossd_tensor in = tensor_of(x, 1, shape), tg = tensor_of(t, 1, shape);
        lossd_call c;
        compute_with_stats(&c, "loss", "mse", &in, &tg, true, true); /* unreduced, with grad */
        ck_assert_uint_eq((uintptr_t)c.output.data % 64, 0);
        ck_assert_uint_eq((uintptr_t)c.grad % 64, 0);
        c.grad[n - 1] = 1; /* the last number is the caller's to write */
        lossd_call_cleanup(&c);
    }
}
END_TEST

START_TEST(missing_and_required)
{
    lossd_call c;
    lossd_error err = {0};
    double x[2] = {1, -1};
    size_t s2[1] = {2};
    lossd_tensor in = tensor_of(x, 1, s2);
    lossd_call_init(&c, must_find(LOSSD_KIND_LOSS, "l1"));
    expect_error(&c, LOSSD_EMISSING, "input");
    lossd_call_init(&c, must_find(LOSSD_KIND_ACTIVATION, "prelu"));
    lossd_call_set_operand(&c, "input", &in, &err);
    expect_error(&c, LOSSD_EMISSING, "weight");
    lossd_call_init(&c, must_find(LOSSD_KIND_ACTIVATION, "relu"));
    lossd_call_set_operand(&c, "input", &in, &err);
    c.reduction = LOSSD_REDUCTION_SUM;
    expect_error(&c, LOSSD_EINVAL, "reduction");
}
END_TEST

START_TEST(messages_quote_numbers_shortest)
{
    /* A number quoted in a message reads as the client wrote it: the shortest
       form that reads back, never %.17g's 0.30823999999999999 or 9.9999999999999992e+22. */
    lossd_call c;
    lossd_error err = {0};
    lossd_call_init(&c, must_find(LOSSD_KIND_LOSS, "nll"));
    lossd_call_set_number(&c, "ignore_index", 0.30824, &err);
    ck_assert_str_eq(err.message, "ignore_index: 0.30824 is not an integer");
    memset(&err, 0, sizeof err);
    lossd_call_init(&c, must_find(LOSSD_KIND_LOSS, "huber"));
    lossd_call_set_number(&c, "delta", -1e23, &err);
    ck_assert_str_eq(err.message, "delta: -1e+23 is out of its domain (> 0)");
    memset(&err, 0, sizeof err);
    lossd_call_init(&c, must_find(LOSSD_KIND_INFO, "entropy"));
    lossd_call_set_number(&c, "base", 1, &err);
    ck_assert_str_eq(err.message,
                     "base: 1 is not a logarithm base (\"e\", or a number > 0 and != 1)");

    /* Found while preparing: an element, and a value computed from the client's. */
    double p[2] = {1.30824, 0.1 + 0.2}, y[2] = {0, 1};
    size_t shape[1] = {2};
    lossd_tensor input = tensor_of(p, 1, shape), target = tensor_of(y, 1, shape);
    memset(&err, 0, sizeof err);
    lossd_call_init(&c, must_find(LOSSD_KIND_LOSS, "bce"));
    lossd_call_set_operand(&c, "input", &input, &err);
    lossd_call_set_operand(&c, "target", &target, &err);
    expect_error(&c, LOSSD_EINVAL, "input[0]");
    ck_assert_str_eq(last_error()->message, "input[0]: 1.30824 is not a probability in [0, 1]");
    p[0] = 0.5;
    lossd_call_init(&c, must_find(LOSSD_KIND_INFO, "entropy"));
    lossd_call_set_operand(&c, "p", &input, &err);
    expect_error(&c, LOSSD_EINVAL, "p");
    ck_assert_str_eq(last_error()->message,
                     "p: sums to 0.8, not 1 (within 1e-6); send \"normalize\": true to rescale");
}
END_TEST

static Suite *call_suite(void)
{
    Suite *s = suite_create("call");
    add_case(s, "registry", 0, NULL, NULL,
             TESTS(registry_has_the_contract, registry_rows_are_complete, catalog_texts));
    add_case(s, "binding", 0, NULL, NULL,
             TESTS(parameter_binding_errors, tensor_views, grad_output_rules, missing_and_required,
                   messages_quote_numbers_shortest));
    add_case(s, "running", 0, NULL, NULL,
             TESTS(blocks_are_deterministic, mean_matches_sum_over_n, empty_batches,
                   nonfinite_results_are_counted, nonfinite_results_are_counted_in_every_block,
                   statistics_off_change_no_value, outputs_start_on_a_cache_line));
    return s;
}

int main(void)
{
    return run_suite(call_suite());
}
