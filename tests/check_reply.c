/* SPDX-License-Identifier: MIT */
/*
 * check_reply.c - the JSON codec's writing half (codec.c): the reply of
 * every family pinned to its exact text, non-finite results, and replies
 * written in parallel on the pool byte for byte the same as written in
 * sequence.
 */
#include <float.h>
#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/service/codec.h"
#include "../src/service/pool.h"
#include "serviceutil.h"

/* The reply of kind/name for body must be exactly `want`. */
static void expect_reply(lossd_kind kind, const char *name, const char *body, const char *want)
{
    char *text = reply_text(kind, name, body, NULL);
    ck_assert_msg(strcmp(text, want) == 0, "%s/%s %s\n got %s\nwant %s", lossd_kind_name(kind),
                  name, body, text, want);
    json_decref(parse_json(text));
    free(text);
}

START_TEST(reply_losses)
{
    expect_reply(LOSSD_KIND_LOSS, "mse", "{\"input\": [1, 2], \"target\": [0, 0]}",
                 "{\"loss\":2.5,\"n\":2}");
    expect_reply(LOSSD_KIND_LOSS, "mse",
                 "{\"input\": [1, 2], \"target\": [0, 0], \"grad\": true, \"reduction\": \"sum\"}",
                 "{\"loss\":5.0,\"n\":2,\"grad\":[2.0,4.0]}");
    expect_reply(LOSSD_KIND_LOSS, "mse", "{\"input\": [], \"target\": []}",
                 "{\"loss\":0.0,\"n\":0}");
    /* none: the unreduced loss, shaped like it; the gradient shaped like input. */
    expect_reply(LOSSD_KIND_LOSS, "l1",
                 "{\"input\": [[1, -2.5], [0.1, 4]], \"target\": [[0, 0], [0, 0]], "
                 "\"reduction\": \"none\", \"grad\": true}",
                 "{\"loss\":[[1.0,2.5],[0.1,4.0]],\"n\":4,\"grad\":[[1.0,-1.0],[1.0,1.0]]}");
    expect_reply(LOSSD_KIND_LOSS, "cross_entropy",
                 "{\"input\": [[0, 0], [0, 0]], \"target\": [0, 1], \"reduction\": \"none\", "
                 "\"grad\": true, \"grad_output\": [1, 2]}",
                 "{\"loss\":[0.6931471805599453,0.6931471805599453],\"n\":2,"
                 "\"grad\":[[-0.5,0.5],[1.0,-1.0]]}");
    /* A scalar loss with none is a number, and its gradient too. */
    expect_reply(LOSSD_KIND_LOSS, "mse",
                 "{\"input\": 3, \"target\": 1, \"reduction\": \"none\", \"grad\": true}",
                 "{\"loss\":4.0,\"n\":1,\"grad\":4.0}");
}
END_TEST

START_TEST(reply_box_terms)
{
    /* Two box pairs: [0,0,2,2] vs [1,1,3,3] (I 1, U 7, C 9) and two equal unit boxes. */
    const double eps = 1e-7;
    const double iou[2] = {1 / (7 + eps), 1 / (1 + eps)};
    const double area[2] = {9, 1};
    const double loss[2] = {1 - iou[0] + (9.0 - 7.0) / (9 + eps), 1 - iou[1] + 0 / (1 + eps)};
    char *text = reply_text(LOSSD_KIND_LOSS, "giou",
                            "{\"input\": [[0, 0, 2, 2], [0, 0, 1, 1]], "
                            "\"target\": [[1, 1, 3, 3], [0, 0, 1, 1]], "
                            "\"reduction\": \"none\", \"terms\": true}",
                            NULL);
    json_t *reply = parse_json(text);
    ck_assert_uint_eq(json_object_size(reply), 3);
    json_t *losses = json_object_get(reply, "loss"), *terms = json_object_get(reply, "terms");
    ck_assert_uint_eq(json_array_size(losses), 2);
    ck_assert(same_bits(number_at(reply, "n"), 2));
    ck_assert_uint_eq(json_object_size(terms), 2);
    for (size_t i = 0; i < 2; i++) {
        ck_assert_msg(fabs(element_at(losses, i) - loss[i]) <= 1e-15, "loss %zu: %.17g", i,
                      element_at(losses, i));
        ck_assert_msg(fabs(element_at(json_object_get(terms, "iou"), i) - iou[i]) <= 1e-15,
                      "iou %zu", i);
        ck_assert(same_bits(element_at(json_object_get(terms, "enclosing_area"), i), area[i]));
    }
    /* Terms come in the registry's order. */
    ck_assert_ptr_nonnull(strstr(text, "\"terms\":{\"iou\":["));
    ck_assert_ptr_nonnull(strstr(text, "],\"enclosing_area\":[9.0,1.0]}"));
    json_decref(reply);
    free(text);

    /* Reduced: the loss is a number, the terms stay per box; ciou has five terms. */
    text = reply_text(LOSSD_KIND_LOSS, "ciou",
                      "{\"input\": [[0, 0, 2, 2], [0, 0, 1, 1], [0, 0, 1, 2]], "
                      "\"target\": [[1, 1, 3, 3], [0, 0, 1, 1], [0, 0, 2, 1]], \"terms\": true}",
                      NULL);
    reply = parse_json(text);
    ck_assert(json_is_number(json_object_get(reply, "loss")));
    terms = json_object_get(reply, "terms");
    const char *names[] = {"iou", "rho2", "c2", "v", "alpha"};
    ck_assert_uint_eq(json_object_size(terms), 5);
    for (size_t k = 0; k < 5; k++)
        ck_assert_uint_eq(json_array_size(json_object_get(terms, names[k])), 3);
    /* rho2 of the first pair: centres (1,1) and (2,2); c2: the enclosing diagonal 3^2 + 3^2. */
    ck_assert(same_bits(element_at(json_object_get(terms, "rho2"), 0), 2.0));
    ck_assert(same_bits(element_at(json_object_get(terms, "c2"), 0), 18.0));
    ck_assert(same_bits(element_at(json_object_get(terms, "v"), 1), 0.0));
    json_decref(reply);
    free(text);

    /* One box (4): the loss terms are scalars. */
    text = reply_text(LOSSD_KIND_LOSS, "iou",
                      "{\"input\": [0, 0, 2, 2], \"target\": [0, 0, 2, 2], \"terms\": true, "
                      "\"reduction\": \"none\", \"eps\": 0}",
                      NULL);
    ck_assert_str_eq(text, "{\"loss\":0.0,\"n\":1,\"terms\":{\"iou\":1.0}}");
    free(text);
}
END_TEST

START_TEST(reply_activations)
{
    char *text =
        reply_text(LOSSD_KIND_ACTIVATION, "relu", "{\"input\": [-1, 0, 2], \"grad\": true}", NULL);
    json_t *reply = parse_json(text);
    json_t *output = json_object_get(reply, "output"), *grad = json_object_get(reply, "grad");
    json_t *stats = json_object_get(reply, "stats");
    ck_assert_uint_eq(json_object_size(reply), 3);
    const double want_out[] = {0, 0, 2}, want_grad[] = {0, 0, 1};
    for (size_t i = 0; i < 3; i++) {
        ck_assert(element_at(output, i) == want_out[i]);
        ck_assert(same_bits(element_at(grad, i), want_grad[i]));
    }
    ck_assert_uint_eq(json_object_size(stats), 2);
    ck_assert(same_bits(number_at(stats, "n"), 3));
    ck_assert(same_bits(number_at(stats, "zero_grad_fraction"), 2.0 / 3.0));
    ck_assert_ptr_nonnull(strstr(text, "\"zero_grad_fraction\":0.6666666666666666}"));
    json_decref(reply);
    free(text);

    /* Without grad: no "grad" member; the stats stay. */
    expect_reply(LOSSD_KIND_ACTIVATION, "hardtanh", "{\"input\": [[-3, 0.5], [2, 0.25]]}",
                 "{\"output\":[[-1.0,0.5],[1.0,0.25]],\"stats\":{\"n\":4,\"zero_grad_fraction\":"
                 "0.5}}");
    expect_reply(LOSSD_KIND_ACTIVATION, "softmax", "{\"input\": [0, 0, 0, 0]}",
                 "{\"output\":[0.25,0.25,0.25,0.25],\"stats\":{\"n\":4,\"zero_grad_fraction\":"
                 "0.0}}");
    expect_reply(LOSSD_KIND_ACTIVATION, "relu", "{\"input\": 5}",
                 "{\"output\":5.0,\"stats\":{\"n\":1,\"zero_grad_fraction\":0.0}}");
}
END_TEST

START_TEST(reply_info_and_pairwise)
{
    /* Rank 0: one distribution, one value. */
    expect_reply(LOSSD_KIND_INFO, "entropy", "{\"p\": [0.5, 0.5], \"base\": 2}", "{\"value\":1.0}");
    expect_reply(LOSSD_KIND_INFO, "entropy", "{\"p\": [0.25, 0.25, 0.25, 0.25], \"base\": 2}",
                 "{\"value\":2.0}");
    /* Rank 1: one value per row. */
    char *text = reply_text(LOSSD_KIND_INFO, "entropy", "{\"p\": [[0.5, 0.5], [1, 0]]}", NULL);
    json_t *reply = parse_json(text);
    json_t *value = json_object_get(reply, "value");
    ck_assert_uint_eq(json_array_size(value), 2);
    ck_assert_msg(fabs(element_at(value, 0) - log(2.0)) <= 1e-16, "%.17g", element_at(value, 0));
    ck_assert(element_at(value, 1) == 0);
    json_decref(reply);
    free(text);
    /* self_information is element-wise. */
    text =
        reply_text(LOSSD_KIND_INFO, "self_information", "{\"p\": [0.25, 0.75], \"base\": 2}", NULL);
    reply = parse_json(text);
    value = json_object_get(reply, "value");
    ck_assert(same_bits(element_at(value, 0), 2.0));
    ck_assert_msg(fabs(element_at(value, 1) + log2(0.75)) <= 1e-15, "%.17g", element_at(value, 1));
    json_decref(reply);
    free(text);

    /* Matrices, including the empty ones. */
    expect_reply(LOSSD_KIND_PAIRWISE, "iou",
                 "{\"boxes1\": [[0, 0, 1, 1], [0, 0, 2, 2]], "
                 "\"boxes2\": [[0, 0, 1, 1], [1, 1, 2, 2], [5, 5, 6, 6]]}",
                 "{\"matrix\":[[1.0,0.0,0.0],[0.25,0.25,0.0]]}");
    expect_reply(LOSSD_KIND_PAIRWISE, "giou", "{\"boxes1\": [], \"boxes2\": [[0, 0, 1, 1]]}",
                 "{\"matrix\":[]}");
    expect_reply(LOSSD_KIND_PAIRWISE, "iou",
                 "{\"boxes1\": [[0, 0, 1, 1], [0, 0, 2, 2]], \"boxes2\": []}",
                 "{\"matrix\":[[],[]]}");
    expect_reply(LOSSD_KIND_PAIRWISE, "diou", "{\"boxes1\": [], \"boxes2\": []}",
                 "{\"matrix\":[]}");
}
END_TEST

START_TEST(reply_nonfinite)
{
    /* D_KL is infinite where Q = 0 < P: null, counted. */
    expect_reply(LOSSD_KIND_INFO, "kl_divergence", "{\"p\": [0.5, 0.5], \"q\": [1, 0]}",
                 "{\"value\":null,\"nonfinite\":1}");
    char *text = reply_text(LOSSD_KIND_INFO, "kl_divergence",
                            "{\"p\": [[0.5, 0.5], [0.5, 0.5], [0, 1]], "
                            "\"q\": [[1, 0], [0.5, 0.5], [1, 0]]}",
                            NULL);
    json_t *reply = parse_json(text);
    json_t *value = json_object_get(reply, "value");
    ck_assert(json_is_null(json_array_get(value, 0)));
    ck_assert(same_bits(element_at(value, 1), 0.0));
    ck_assert(json_is_null(json_array_get(value, 2)));
    ck_assert(same_bits(number_at(reply, "nonfinite"), 2));
    ck_assert_ptr_null(strstr(text, "nan"));
    ck_assert_ptr_null(strstr(text, "inf"));
    json_decref(reply);
    free(text);
    /* self_information of 0 is +inf. */
    text = reply_text(LOSSD_KIND_INFO, "self_information", "{\"p\": [0, 1, 0]}", NULL);
    reply = parse_json(text);
    value = json_object_get(reply, "value");
    ck_assert(json_is_null(json_array_get(value, 0)));
    ck_assert(element_at(value, 1) == 0);
    ck_assert(json_is_null(json_array_get(value, 2)));
    ck_assert(same_bits(number_at(reply, "nonfinite"), 2));
    json_decref(reply);
    free(text);
    /* A finite reply has no "nonfinite". */
    text = reply_text(LOSSD_KIND_INFO, "entropy", "{\"p\": [0, 1]}", NULL);
    ck_assert_ptr_null(strstr(text, "nonfinite"));
    free(text);
}
END_TEST

/* An executor that counts its parallel-fors and hands them to the pool's. */
typedef struct {
    const lossd_exec *inner;
    atomic_size_t calls, tasks;
} counting_exec;

static void counting_parallel_for(void *impl, size_t n, lossd_task_fn fn, void *arg)
{
    counting_exec *ce = impl;
    atomic_fetch_add(&ce->calls, 1);
    atomic_fetch_add(&ce->tasks, n);
    ce->inner->parallel_for(ce->inner->impl, n, fn, arg);
}

/*
 * hardtanh with bounds at +-DBL_MAX is the identity, so its output is
 * exactly its input: formatting can be checked number for number.
 */
static void parallel_case(const lossd_exec *exec, counting_exec *ce, int rank, const size_t *shape,
                          bool expect_parallel, test_rng *rng)
{
    size_t size = 1;
    for (int d = 0; d < rank; d++)
        size *= shape[d];
    double *data = malloc(size * sizeof *data);
    for (size_t i = 0; i < size; i++) {
        uint64_t bits = rng_bits(rng);
        switch (i % 4) {
        case 0:
            data[i] = (double)(int64_t)(bits % 2001) - 1000; /* whole: "3.0" */
            break;
        case 1:
            data[i] = ((double)(bits >> 11) / 9007199254740992.0 - 0.5) * 1e-9;
            break;
        default:
            memcpy(&data[i], &bits, sizeof data[i]);
            if (!isfinite(data[i]))
                data[i] = -0.0;
        }
    }
    /* The request body: nested arrays, written with the same shortest numbers. */
    lossd_buf body;
    lossd_buf_init(&body, 0);
    lossd_buf_puts(&body, "{\"min_val\": -1.7976931348623157e308, \"max_val\": "
                          "1.7976931348623157e308, \"grad\": true, \"input\": ");
    size_t idx[LOSSD_MAX_RANK] = {0};
    for (size_t i = 0; i < size; i++) {
        int opened = 0;
        for (int d = rank - 1; d >= 0 && idx[d] == 0; d--)
            opened++;
        for (int k = 0; k < opened; k++)
            lossd_buf_puts(&body, "[");
        lossd_buf_number(&body, data[i]);
        int d = rank - 1;
        while (d >= 0 && ++idx[d] == shape[d]) {
            idx[d] = 0;
            lossd_buf_puts(&body, "]");
            d--;
        }
        if (d >= 0)
            lossd_buf_puts(&body, ",");
    }
    lossd_buf_puts(&body, "}");

    binding b;
    bind_ok(&b, LOSSD_KIND_ACTIVATION, "hardtanh", lossd_buf_data(&body));
    lossd_buf_cleanup(&body);
    expect_tensor(&b.call.operand[0], rank, shape, data);
    lossd_error err = {0};
    ck_assert_int_eq(lossd_call_compute(&b.call, &err), 0);

    lossd_buf sequential, parallel;
    lossd_buf_init(&sequential, 0);
    lossd_buf_init(&parallel, 0);
    lossd_codec_write_reply(&b.call, &(lossd_number_format){NULL, false}, &sequential);
    size_t calls_before = atomic_load(&ce->calls);
    lossd_codec_write_reply(&b.call, &(lossd_number_format){exec, false}, &parallel);
    size_t calls = atomic_load(&ce->calls) - calls_before;
    ck_assert(!lossd_buf_failed(&sequential) && !lossd_buf_failed(&parallel));
    /* Output and grad are both large: two parallel-fors, or none. */
    ck_assert_uint_eq(calls, expect_parallel ? 2 : 0);
    ck_assert_uint_eq(lossd_buf_len(&parallel), lossd_buf_len(&sequential));
    ck_assert_msg(memcmp(lossd_buf_data(&parallel), lossd_buf_data(&sequential),
                         lossd_buf_len(&sequential)) == 0,
                  "parallel and sequential replies differ (rank %d, %zu numbers)", rank, size);

    /* And the text is right: every output number is the input, every derivative 1. */
    json_t *reply = parse_json(lossd_buf_data(&sequential));
    const json_t *out = json_object_get(reply, "output"), *grad = json_object_get(reply, "grad");
    size_t flat = 0;
    for (size_t i = 0; i < size; i++) {
        const json_t *o = out, *g = grad;
        size_t rest = i;
        for (int d = 0; d < rank; d++) {
            size_t stride = 1;
            for (int e = d + 1; e < rank; e++)
                stride *= shape[e];
            ck_assert_uint_eq(json_array_size(o), shape[d]);
            o = json_array_get(o, rest / stride);
            g = json_array_get(g, rest / stride);
            rest %= stride;
        }
        ck_assert_msg(json_is_number(o) && same_bits(json_number_value(o), data[i]),
                      "output %zu: want %.17g", i, data[i]);
        ck_assert(json_is_number(g) && json_number_value(g) == 1.0);
        flat++;
    }
    ck_assert_uint_eq(flat, size);
    json_decref(reply);
    lossd_buf_cleanup(&sequential);
    lossd_buf_cleanup(&parallel);
    binding_cleanup(&b);
    free(data);
}

START_TEST(reply_parallel_matches_sequential)
{
    lossd_pool *pool = lossd_pool_create(2, 8);
    ck_assert_ptr_nonnull(pool);
    counting_exec ce = {.inner = lossd_pool_exec(pool)};
    ck_assert_uint_eq(ce.inner->width, 2);
    lossd_exec exec = {counting_parallel_for, &ce, 2};
    test_rng rng;
    rng_seed(&rng, 42);
    /* Shapes around the thresholds: 32768 numbers formatted in parallel, 16384 per task. */
    parallel_case(&exec, &ce, 1, (size_t[]){40000}, true, &rng);
    parallel_case(&exec, &ce, 1, (size_t[]){32769}, true, &rng);
    parallel_case(&exec, &ce, 1, (size_t[]){32767}, false, &rng);
    parallel_case(&exec, &ce, 2, (size_t[]){250, 160}, true, &rng);
    parallel_case(&exec, &ce, 2, (size_t[]){2, 20000}, true, &rng);  /* rows longer than a task */
    parallel_case(&exec, &ce, 2, (size_t[]){1, 40000}, false, &rng); /* one row: one task */
    parallel_case(&exec, &ce, 3, (size_t[]){10, 2000, 2}, true, &rng);
    parallel_case(&exec, &ce, 4, (size_t[]){3, 7, 11, 173}, true, &rng);
    lossd_pool_destroy(pool);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("reply");
    add_case(s, "codec-reply", 60, NULL, NULL,
             TESTS(reply_losses, reply_box_terms, reply_activations, reply_info_and_pairwise,
                   reply_nonfinite, reply_parallel_matches_sequential));
    return run_service_suite(s);
}
