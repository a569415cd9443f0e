/* SPDX-License-Identifier: MIT */
/*
 * check_codec.c - the JSON codec's reading half (codec.c): loading bodies
 * (depth limit, strings, rejects, arenas) and binding them to calls
 * (every field kind, names, unknown fields, wrong types, ragged tensors,
 * ranks, the element limit), each fault checked for kind, field and
 * message. check_reply.c covers the writing half.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/service/arena.h"
#include "../src/service/codec.h"
#include "serviceutil.h"

/* ------------------------------------------------------------ codec: load */

/* A body {"a": [[...[1]...]]} whose deepest value sits `depth` levels down. */
static char *nested_body(int depth)
{
    char *body = malloc(2 * (size_t)depth + 16);
    char *p = body;
    p += sprintf(p, "{\"a\":");
    for (int i = 1; i < depth; i++)
        *p++ = '[';
    *p++ = '1';
    for (int i = 1; i < depth; i++)
        *p++ = ']';
    strcpy(p, "}");
    return body;
}

START_TEST(load_depth_limit)
{
    lossd_fault f = {0};
    char *body = nested_body(LOSSD_MAX_JSON_DEPTH);
    json_t *root = lossd_codec_load(body, strlen(body), NULL, &f);
    ck_assert_msg(root != NULL, "depth %d refused: %s", LOSSD_MAX_JSON_DEPTH, f.message);
    ck_assert_int_eq(f.kind, LOSSD_FAULT_NONE);
    json_decref(root);
    free(body);

    body = nested_body(LOSSD_MAX_JSON_DEPTH + 1);
    ck_assert_ptr_null(lossd_codec_load(body, strlen(body), NULL, &f));
    expect_fault(&f, LOSSD_FAULT_INVALID_JSON, "", "nested deeper than 16 levels");
    ck_assert_int_eq(lossd_fault_status(f.kind), 400);
    /* The offending bracket is the 17th opener: byte 5 + 15 = 20. */
    ck_assert(strstr(f.message, "(at byte 20)") != NULL);
    free(body);

    /* Hostile depth is refused without recursing into it. */
    size_t n = 1000000;
    char *deep = malloc(n);
    memset(deep, '[', n);
    memset(&f, 0, sizeof f);
    ck_assert_ptr_null(lossd_codec_load(deep, n, NULL, &f));
    expect_fault(&f, LOSSD_FAULT_INVALID_JSON, "", "nested deeper");
    free(deep);
}
END_TEST

START_TEST(load_brackets_in_strings)
{
    /* 40 brackets inside strings (with escaped quotes) count for nothing. */
    const char *body = "{\"a\": \"[[[[[[[[[[[[[[[[[[[[{{{{{{{{{{{{{{{{{{{{\", "
                       "\"b\\\"[[[[[[[[[[[[[[[[[[[[\": \"\\\"[[[[[[[[[[[[[[[[[[[[\", \"c\": [[1]]}";
    lossd_fault f = {0};
    json_t *root = lossd_codec_load(body, strlen(body), NULL, &f);
    ck_assert_msg(root != NULL, "refused: %s", f.message);
    ck_assert_str_eq(string_at(root, "a"), "[[[[[[[[[[[[[[[[[[[[{{{{{{{{{{{{{{{{{{{{");
    json_decref(root);

    /* An escaped backslash ends with its string: the brackets after it count. */
    char deep[256];
    strcpy(deep, "{\"a\": \"\\\\\", \"b\": ");
    for (int i = 0; i < LOSSD_MAX_JSON_DEPTH; i++)
        strcat(deep, "[");
    for (int i = 0; i < LOSSD_MAX_JSON_DEPTH; i++)
        strcat(deep, "]");
    strcat(deep, "}");
    memset(&f, 0, sizeof f);
    ck_assert_ptr_null(lossd_codec_load(deep, strlen(deep), NULL, &f));
    expect_fault(&f, LOSSD_FAULT_INVALID_JSON, "", "nested deeper");
}
END_TEST

START_TEST(load_rejects)
{
    static const struct {
        const char *body;
        const char *fragment;
    } cases[] = {
        {"{\"a\": 1, \"a\": 2}", "duplicate object key"},
        /* not an object: says what it is */
        {"[1, 2]", "the body must be a JSON object {...}, got an array"},
        {"3", "the body must be a JSON object {...}, got a number"},
        {"\"x\"", "the body must be a JSON object {...}, got a string"},
        {"null", "the body must be a JSON object {...}, got null"},
        {" true ", "got a boolean"},
        /* nothing there: says so */
        {"", "the body is empty; send a JSON object"},
        {" \r\n\t", "the body is empty; send a JSON object"},
        {"\xEF\xBB\xBF", "the body is empty"},
        /* \u0000: in lossd's words, not jansson's flag names (JSON_ALLOW_NUL) */
        {"{\"a\": \"x\\u0000y\"}", "a string holds \\u0000, which lossd does not take (line 1"},
        {"{\"a\\u0000\": 1}", "a string holds \\u0000"},
        {"{\"a\": 1} {}", "end of file expected"},
        /* Python's json.dumps default: said as it is, with what to send instead */
        {"{\"a\": NaN}", "NaN is not JSON (line 1, column 9): Python's json.dumps writes NaN"},
        {"{\"a\": [1, Infinity]}", "Infinity is not JSON"},
        {"{\"a\": [1, -Infinity]}", "-Infinity is not JSON"},
        {"{\"a\": -Infinity}", "with \"nonfinite\": \"strings\" in the request"},
        {"{\"a\": nope}", "invalid token"},
        {"{\"a\": \"\xC3\"}", "unable to decode"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        lossd_fault f = {0};
        ck_assert_ptr_null(lossd_codec_load(cases[i].body, strlen(cases[i].body), NULL, &f));
        expect_fault(&f, LOSSD_FAULT_INVALID_JSON, "", cases[i].fragment);
    }

    /* The message is jansson's, with its line and column. */
    const char *body = "{\n  \"input\": [1, 2],\n  \"target\": }";
    json_error_t error;
    ck_assert_ptr_null(json_loadb(body, strlen(body), JSON_REJECT_DUPLICATES, &error));
    char want[LOSSD_FAULT_MESSAGE_MAX];
    snprintf(want, sizeof want, "%s (line %d, column %d)", error.text, error.line, error.column);
    ck_assert_int_eq(error.line, 3);
    lossd_fault f = {0};
    ck_assert_ptr_null(lossd_codec_load(body, strlen(body), NULL, &f));
    ck_assert_str_eq(f.message, want);
    ck_assert(strstr(f.message, "(line 3, column ") != NULL);

    /* No message names one of jansson's flags. */
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        memset(&f, 0, sizeof f);
        lossd_codec_load(cases[i].body, strlen(cases[i].body), NULL, &f);
        ck_assert_msg(strstr(f.message, "JSON_") == NULL, "%s", f.message);
    }
}
END_TEST

START_TEST(load_skips_a_byte_order_mark)
{
    /* A UTF-8 byte-order mark before the object is not part of the JSON. */
    const char *body = "\xEF\xBB\xBF{\"input\": [1]}";
    lossd_fault f = {0};
    json_t *root = lossd_codec_load(body, strlen(body), NULL, &f);
    ck_assert_msg(root != NULL, "%s", f.message);
    ck_assert_int_eq(json_array_size(json_object_get(root, "input")), 1);
    json_decref(root);
    /* only at the start, and only once */
    static const char *const bad[] = {"\xEF\xBB\xBF\xEF\xBB\xBF{}", " \xEF\xBB\xBF{}",
                                      "{}\xEF\xBB\xBF"};
    for (size_t i = 0; i < 3; i++) {
        memset(&f, 0, sizeof f);
        ck_assert_ptr_null(lossd_codec_load(bad[i], strlen(bad[i]), NULL, &f));
        ck_assert_int_eq(f.kind, LOSSD_FAULT_INVALID_JSON);
    }
}
END_TEST

START_TEST(load_reads_len_bytes_and_integers_as_reals)
{
    /* Exactly len bytes: what follows is not the body. */
    const char *text = "{\"a\": 3, \"b\": -12, \"c\": 12345678901234567890, \"d\": 0.5}garbage";
    size_t len = strlen(text) - strlen("garbage");
    lossd_fault f = {0};
    json_t *root = lossd_codec_load(text, len, NULL, &f);
    ck_assert_msg(root != NULL, "refused: %s", f.message);
    ck_assert(json_is_real(json_object_get(root, "a")));
    ck_assert(same_bits(number_at(root, "a"), 3.0));
    ck_assert(json_is_real(json_object_get(root, "b")));
    ck_assert(same_bits(number_at(root, "b"), -12.0));
    /* Past the range of json_int_t: still a number, not an error. */
    ck_assert(same_bits(number_at(root, "c"), 12345678901234567890.0));
    ck_assert(same_bits(number_at(root, "d"), 0.5));
    json_decref(root);

    ck_assert_ptr_null(lossd_codec_load(text, strlen(text), NULL, &f));
    ck_assert_int_eq(f.kind, LOSSD_FAULT_INVALID_JSON);
}
END_TEST

/* Parsed into an arena, a tree reads the same; a failed parse leaves the arena to release. */
START_TEST(load_into_an_arena)
{
    /* A body of ~3 MB: the arena grows past its first chunk. */
    lossd_buf body;
    lossd_buf_init(&body, 0);
    lossd_buf_puts(&body, "{\"grad\": true, \"input\": [");
    for (int i = 0; i < 200000; i++)
        lossd_buf_printf(&body, "%s%d.25", i ? "," : "", i);
    lossd_buf_puts(&body, "]}");
    lossd_arena arena = {0};
    lossd_fault f = {0};
    json_t *root = lossd_codec_load(lossd_buf_data(&body), lossd_buf_len(&body), &arena, &f);
    ck_assert_msg(root != NULL, "%s", f.message);
    ck_assert_uint_gt(arena.bytes, (size_t)1 << 20);
    ck_assert(json_is_true(json_object_get(root, "grad")));
    json_t *input = json_object_get(root, "input");
    ck_assert_uint_eq(json_array_size(input), 200000);
    ck_assert(same_bits(element_at(input, 0), 0.25));
    ck_assert(same_bits(element_at(input, 199999), 199999.25));
    /* Binding reads the tree; the call keeps nothing of it once the arena is gone. */
    lossd_call c;
    lossd_tensors store = {0};
    lossd_limits lim = {1u << 20, 16};
    ck_assert_int_eq(lossd_codec_bind(must_find(LOSSD_KIND_ACTIVATION, "relu"), root, &lim, &c,
                                      &store, &(bool){false}, &f),
                     0);
    lossd_arena_release(&arena);
    ck_assert_ptr_null(arena.chunks);
    ck_assert_uint_eq(arena.bytes, 0);
    lossd_error err = {0};
    ck_assert_int_eq(lossd_call_compute(&c, &err), 0);
    ck_assert(same_bits(c.output.data[123456], 123456.25));
    ck_assert(c.want_grad && same_bits(c.grad[7], 1.0));
    lossd_call_cleanup(&c);
    lossd_tensors_free(&store);
    lossd_buf_cleanup(&body);

    /* Failures: a syntax error, and a non-object (not decref'd: the arena holds it). */
    static const char *const bad[] = {"{\"a\": [1, 2,", "[1, 2, 3]"};
    for (size_t i = 0; i < 2; i++) {
        lossd_arena a = {0};
        memset(&f, 0, sizeof f);
        ck_assert_ptr_null(lossd_codec_load(bad[i], strlen(bad[i]), &a, &f));
        ck_assert_int_eq(f.kind, LOSSD_FAULT_INVALID_JSON);
        lossd_arena_release(&a);
        ck_assert_ptr_null(a.chunks);
    }
    /* Outside an arena, jansson allocates as usual. */
    json_t *plain = lossd_codec_load("{\"x\": [1]}", 10, NULL, &f);
    ck_assert_ptr_nonnull(plain);
    json_decref(plain);
}
END_TEST

/* ------------------------------------------------------------ codec: bind */

/* Binds and expects a fault of `kind` naming `field`, its message holding `fragment`. */
static void bind_fails(lossd_kind kind, const char *name, const char *body, size_t max_elements,
                       lossd_fault_kind fault, const char *field, const char *fragment)
{
    binding b;
    int rc = bind_body(&b, kind, name, body, max_elements);
    ck_assert_msg(rc == -1, "%s/%s accepted %s", lossd_kind_name(kind), name, body);
    expect_fault(&b.fault, fault, field, fragment);
    /* The message starts with the field it names. */
    if (field && *field)
        ck_assert_int_eq(strncmp(b.fault.message, field, strlen(field)), 0);
    binding_cleanup(&b);
}

static const lossd_value *param(const lossd_call *c, const char *name)
{
    const lossd_param_spec *spec = lossd_function_param(c->fn, name);
    ck_assert_msg(spec != NULL, "%s has no parameter %s", c->fn->name, name);
    return &c->params[spec - c->fn->params];
}

START_TEST(bind_every_field_kind)
{
    binding b;
    /* Operands, reduction, grad. */
    bind_ok(&b, LOSSD_KIND_LOSS, "mse",
            "{\"input\": [[1, 2.5], [-3, 4e-3]], \"target\": [[0, 0], [0, 1]], "
            "\"reduction\": \"sum\", \"grad\": true}");
    expect_tensor(&b.call.operand[0], 2, (size_t[]){2, 2}, (double[]){1, 2.5, -3, 4e-3});
    expect_tensor(&b.call.operand[1], 2, (size_t[]){2, 2}, (double[]){0, 0, 0, 1});
    ck_assert(b.call.operand_set[0] && b.call.operand_set[1]);
    ck_assert_int_eq(b.call.reduction, LOSSD_REDUCTION_SUM);
    ck_assert(b.call.want_grad);
    ck_assert_uint_eq(b.call.max_output, 1u << 24);
    ck_assert_uint_eq(b.store.elements, 8);
    binding_cleanup(&b);

    /* grad_output with reduction none; grad false. */
    bind_ok(&b, LOSSD_KIND_LOSS, "l1",
            "{\"input\": [1, 2, 3], \"target\": [0, 0, 0], \"reduction\": \"none\", "
            "\"grad\": false, \"grad_output\": [0.5, -1, 2]}");
    ck_assert_int_eq(b.call.reduction, LOSSD_REDUCTION_NONE);
    ck_assert(!b.call.want_grad);
    ck_assert(b.call.grad_output_set);
    expect_tensor(&b.call.grad_output, 1, (size_t[]){3}, (double[]){0.5, -1, 2});
    binding_cleanup(&b);

    /* terms, a choice and a number. */
    bind_ok(&b, LOSSD_KIND_LOSS, "giou",
            "{\"terms\": true, \"box_format\": \"cxcywh\", \"eps\": 0.001, "
            "\"input\": [0, 0, 1, 1], \"target\": [0, 0, 1, 1]}");
    ck_assert(b.call.want_terms);
    ck_assert(param(&b.call, "box_format")->set);
    ck_assert_int_eq(param(&b.call, "box_format")->choice, 2);
    ck_assert(param(&b.call, "eps")->set);
    ck_assert(same_bits(param(&b.call, "eps")->number, 0.001));
    expect_tensor(&b.call.operand[0], 1, (size_t[]){4}, (double[]){0, 0, 1, 1});
    binding_cleanup(&b);

    /* An integer, a number in [0, 1] and a tensor parameter. */
    bind_ok(&b, LOSSD_KIND_LOSS, "cross_entropy",
            "{\"input\": [[1, 2, 3]], \"target\": [2], \"ignore_index\": 1, "
            "\"label_smoothing\": 0.25, \"weight\": [1, 2, 0.5]}");
    ck_assert(same_bits(param(&b.call, "ignore_index")->number, 1));
    ck_assert(same_bits(param(&b.call, "label_smoothing")->number, 0.25));
    ck_assert(param(&b.call, "weight")->set);
    expect_tensor(&param(&b.call, "weight")->tensor, 1, (size_t[]){3}, (double[]){1, 2, 0.5});
    ck_assert(param(&b.call, "ignore_index")->set);
    binding_cleanup(&b);

    /* A boolean and batchmean. */
    bind_ok(&b, LOSSD_KIND_LOSS, "kl_div",
            "{\"input\": [-1, -2], \"target\": [-1, -2], \"log_target\": true, "
            "\"reduction\": \"batchmean\"}");
    ck_assert(same_bits(param(&b.call, "log_target")->number, 1));
    ck_assert_int_eq(b.call.reduction, LOSSD_REDUCTION_BATCHMEAN);
    binding_cleanup(&b);

    /* Choice on an activation. */
    bind_ok(&b, LOSSD_KIND_ACTIVATION, "gelu", "{\"input\": [0.5], \"approximate\": \"tanh\"}");
    ck_assert_int_eq(param(&b.call, "approximate")->choice, 1);
    binding_cleanup(&b);

    /* Log bases: a number, and "e" (0). */
    bind_ok(&b, LOSSD_KIND_INFO, "entropy",
            "{\"p\": [0.5, 0.5], \"base\": 2, \"normalize\": true}");
    ck_assert(param(&b.call, "base")->set);
    ck_assert(same_bits(param(&b.call, "base")->number, 2));
    ck_assert(same_bits(param(&b.call, "normalize")->number, 1));
    binding_cleanup(&b);
    bind_ok(&b, LOSSD_KIND_INFO, "kl_divergence",
            "{\"p\": [0.5, 0.5], \"q\": [0.25, 0.75], \"base\": \"e\"}");
    ck_assert(param(&b.call, "base")->set);
    ck_assert(same_bits(param(&b.call, "base")->number, 0));
    expect_tensor(&b.call.operand[1], 1, (size_t[]){2}, (double[]){0.25, 0.75});
    binding_cleanup(&b);

    /* prelu's weight: a lone number (rank 0) or one per channel. */
    bind_ok(&b, LOSSD_KIND_ACTIVATION, "prelu", "{\"input\": [[-1, 2]], \"weight\": 0.25}");
    expect_tensor(&param(&b.call, "weight")->tensor, 0, NULL, (double[]){0.25});
    binding_cleanup(&b);
    bind_ok(&b, LOSSD_KIND_ACTIVATION, "prelu",
            "{\"input\": [[-1, 2]], \"weight\": [0.1, 0.2], \"grad\": true, "
            "\"grad_output\": [[1, 1]]}");
    expect_tensor(&param(&b.call, "weight")->tensor, 1, (size_t[]){2}, (double[]){0.1, 0.2});
    ck_assert(b.call.want_grad && b.call.grad_output_set);
    binding_cleanup(&b);

    /* Pairwise operands. */
    bind_ok(&b, LOSSD_KIND_PAIRWISE, "diou",
            "{\"boxes1\": [[0, 0, 1, 1]], \"boxes2\": [[0, 0, 2, 2], [1, 1, 2, 2]], \"eps\": 0}");
    expect_tensor(&b.call.operand[1], 2, (size_t[]){2, 4}, (double[]){0, 0, 2, 2, 1, 1, 2, 2});
    binding_cleanup(&b);

    /* Parameters left out keep their defaults, unset. */
    bind_ok(&b, LOSSD_KIND_LOSS, "huber", "{\"input\": [1], \"target\": [0]}");
    ck_assert(!param(&b.call, "delta")->set);
    ck_assert(same_bits(param(&b.call, "delta")->number, 1.0));
    ck_assert_int_eq(b.call.reduction, LOSSD_REDUCTION_MEAN);
    ck_assert(!b.call.want_grad && !b.call.want_terms && !b.call.grad_output_set);
    binding_cleanup(&b);
}
END_TEST

START_TEST(bind_null_is_the_default)
{
    /* null for an optional field or parameter leaves its default, as if absent. */
    binding b;
    bind_ok(&b, LOSSD_KIND_LOSS, "smooth_l1",
            "{\"input\": [1, 2], \"target\": [0, 0], \"reduction\": null, \"grad\": null, "
            "\"grad_output\": null, \"beta\": null}");
    ck_assert_int_eq(b.call.reduction, LOSSD_REDUCTION_MEAN);
    ck_assert(!b.call.want_grad && !b.call.grad_output_set);
    ck_assert(!param(&b.call, "beta")->set);
    binding_cleanup(&b);
    bind_ok(&b, LOSSD_KIND_LOSS, "cross_entropy",
            "{\"input\": [[1, 2, 3]], \"target\": [2], \"weight\": null, \"ignore_index\": null, "
            "\"label_smoothing\": null}");
    ck_assert(!param(&b.call, "weight")->set && !param(&b.call, "ignore_index")->set);
    ck_assert(!param(&b.call, "label_smoothing")->set);
    binding_cleanup(&b);
    bind_ok(&b, LOSSD_KIND_LOSS, "giou",
            "{\"input\": [0, 0, 1, 1], \"target\": [0, 0, 1, 1], \"terms\": null, "
            "\"box_format\": null, \"eps\": null}");
    ck_assert(!b.call.want_terms && !param(&b.call, "box_format")->set);
    binding_cleanup(&b);
    bind_ok(&b, LOSSD_KIND_INFO, "entropy", "{\"p\": [0.5, 0.5], \"base\": null}");
    ck_assert(!param(&b.call, "base")->set);
    binding_cleanup(&b);

    /* A parameter without a default is then missing, as when absent. */
    bind_ok(&b, LOSSD_KIND_ACTIVATION, "prelu", "{\"input\": [1, -1], \"weight\": null}");
    lossd_error err = {0};
    ck_assert_int_eq(lossd_call_prepare(&b.call, &err), LOSSD_EMISSING);
    ck_assert_str_eq(err.field, "weight");
    binding_cleanup(&b);

    /* Not for operands, nor for fields the function does not take: a typo stays an error. */
    ck_assert_int_eq(
        bind_body(&b, LOSSD_KIND_LOSS, "mse", "{\"input\": null, \"target\": [1]}", 100), -1);
    expect_fault(&b.fault, LOSSD_FAULT_INVALID_ARGUMENT, "input", "got null");
    binding_cleanup(&b);
    ck_assert_int_eq(bind_body(&b, LOSSD_KIND_LOSS, "mse",
                               "{\"input\": [1], \"target\": [1], \"betta\": null}", 100),
                     -1);
    expect_fault(&b.fault, LOSSD_FAULT_INVALID_ARGUMENT, "betta", "unknown field");
    binding_cleanup(&b);
    ck_assert_int_eq(
        bind_body(&b, LOSSD_KIND_ACTIVATION, "relu", "{\"input\": [1], \"reduction\": null}", 100),
        -1);
    expect_fault(&b.fault, LOSSD_FAULT_INVALID_ARGUMENT, "reduction", "unknown field");
    binding_cleanup(&b);
}
END_TEST

START_TEST(bind_field_names)
{
    static const struct {
        lossd_kind kind;
        const char *name, *fields;
    } cases[] = {
        {LOSSD_KIND_LOSS, "mse", "input, target, reduction, grad, grad_output, nonfinite"},
        {LOSSD_KIND_LOSS, "giou",
         "input, target, reduction, grad, grad_output, terms, nonfinite, box_format, eps, alpha"},
        {LOSSD_KIND_LOSS, "siou",
         "input, target, reduction, grad, grad_output, terms, nonfinite, box_format, eps, "
         "neg_gamma"},
        {LOSSD_KIND_LOSS, "cross_entropy",
         "input, target, reduction, grad, grad_output, nonfinite, weight, ignore_index, "
         "label_smoothing"},
        {LOSSD_KIND_ACTIVATION, "relu", "input, grad, grad_output, nonfinite"},
        {LOSSD_KIND_ACTIVATION, "prelu", "input, grad, grad_output, nonfinite, weight"},
        {LOSSD_KIND_INFO, "entropy", "p, nonfinite, base, normalize"},
        {LOSSD_KIND_INFO, "js_divergence", "p, q, nonfinite, base, normalize"},
        {LOSSD_KIND_PAIRWISE, "iou", "boxes1, boxes2, nonfinite, box_format"},
        {LOSSD_KIND_PAIRWISE, "ciou", "boxes1, boxes2, nonfinite, box_format, eps"},
    };
    char names[512];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        lossd_codec_field_names(must_find(cases[i].kind, cases[i].name), names, sizeof names);
        ck_assert_str_eq(names, cases[i].fields);
    }
    /* A short buffer is cut, never overrun. */
    char tiny[10];
    memset(tiny, 'x', sizeof tiny);
    lossd_codec_field_names(must_find(LOSSD_KIND_LOSS, "mse"), tiny, sizeof tiny);
    ck_assert_uint_lt(strlen(tiny), sizeof tiny);
    ck_assert_int_eq(strncmp(tiny, "input, ta", strlen(tiny)), 0);
}
END_TEST

START_TEST(bind_unknown_fields)
{
    bind_fails(LOSSD_KIND_LOSS, "mse", "{\"input\": [1], \"target\": [1], \"betta\": 1}", 100,
               LOSSD_FAULT_INVALID_ARGUMENT, "betta",
               "betta: unknown field; loss/mse takes: input, target, reduction, grad, "
               "grad_output, nonfinite");
    /* Fields of other functions or kinds are unknown here. */
    bind_fails(LOSSD_KIND_LOSS, "mse", "{\"input\": [1], \"terms\": true}", 100,
               LOSSD_FAULT_INVALID_ARGUMENT, "terms", "unknown field");
    bind_fails(LOSSD_KIND_ACTIVATION, "relu", "{\"input\": [1], \"reduction\": \"sum\"}", 100,
               LOSSD_FAULT_INVALID_ARGUMENT, "reduction",
               "unknown field; activation/relu takes: input, grad, grad_output, nonfinite");
    bind_fails(LOSSD_KIND_INFO, "entropy", "{\"p\": [1], \"q\": [1]}", 100,
               LOSSD_FAULT_INVALID_ARGUMENT, "q",
               "unknown field; info/entropy takes: p, nonfinite, base, normalize");
    bind_fails(LOSSD_KIND_INFO, "entropy", "{\"p\": [1], \"grad\": true}", 100,
               LOSSD_FAULT_INVALID_ARGUMENT, "grad", "unknown field");
    bind_fails(LOSSD_KIND_PAIRWISE, "iou", "{\"boxes1\": [], \"boxes2\": [], \"eps\": 0.1}", 100,
               LOSSD_FAULT_INVALID_ARGUMENT, "eps",
               "unknown field; pairwise/iou takes: boxes1, boxes2, nonfinite, box_format");
    /* Field names are case-sensitive. */
    bind_fails(LOSSD_KIND_LOSS, "mse", "{\"Input\": [1]}", 100, LOSSD_FAULT_INVALID_ARGUMENT,
               "Input", "unknown field");
    /* Not an object at all. */
    binding b;
    memset(&b, 0, sizeof b);
    json_t *array = json_array();
    lossd_limits lim = {100, 10};
    ck_assert_int_eq(lossd_codec_bind(must_find(LOSSD_KIND_LOSS, "mse"), array, &lim, &b.call,
                                      &b.store, &b.nonfinite_strings, &b.fault),
                     -1);
    expect_fault(&b.fault, LOSSD_FAULT_INVALID_ARGUMENT, "", "must be a JSON object, got an array");
    json_decref(array);
    binding_cleanup(&b);
}
END_TEST

START_TEST(bind_wrong_types)
{
    static const struct {
        lossd_kind kind;
        const char *name, *body, *field, *fragment;
    } cases[] = {
        {LOSSD_KIND_LOSS, "mse", "{\"input\": [1], \"grad\": 1}", "grad",
         "grad: expected true, false or a list of operand names (input), got a number"},
        {LOSSD_KIND_LOSS, "mse", "{\"grad\": \"true\"}", "grad", "got a string"},
        {LOSSD_KIND_LOSS, "mse", "{\"reduction\": 3}", "reduction",
         "reduction: expected a string, got a number"},
        {LOSSD_KIND_LOSS, "mse", "{\"reduction\": \"avg\"}", "reduction",
         "\"avg\" is not one of: mean, sum, none"},
        {LOSSD_KIND_LOSS, "mse", "{\"reduction\": \"batchmean\"}", "reduction", "not one of"},
        {LOSSD_KIND_LOSS, "smooth_l1", "{\"beta\": \"x\"}", "beta",
         "beta: expected a number, got a string"},
        {LOSSD_KIND_LOSS, "smooth_l1", "{\"beta\": -1}", "beta", "out of its domain (>= 0)"},
        {LOSSD_KIND_LOSS, "huber", "{\"delta\": [1]}", "delta", "got an array"},
        {LOSSD_KIND_LOSS, "bce", "{\"weight\": true}", "weight",
         "weight: expected a number or an array of numbers, got a boolean"},
        {LOSSD_KIND_LOSS, "bce_with_logits", "{\"pos_weight\": {\"a\": 1}}", "pos_weight",
         "got an object"},
        {LOSSD_KIND_LOSS, "giou", "{\"terms\": \"yes\"}", "terms",
         "terms: expected true or false, got a string"},
        {LOSSD_KIND_LOSS, "giou", "{\"box_format\": 4}", "box_format",
         "box_format: expected a string, got a number"},
        {LOSSD_KIND_LOSS, "giou", "{\"box_format\": \"xyzw\"}", "box_format",
         "\"xyzw\" is not one of: xyxy, xywh, cxcywh"},
        {LOSSD_KIND_LOSS, "giou", "{\"eps\": \"1e-7\"}", "eps", "expected a number, got a string"},
        {LOSSD_KIND_LOSS, "cross_entropy", "{\"ignore_index\": 1.5}", "ignore_index",
         "1.5 is not an integer"},
        {LOSSD_KIND_LOSS, "cross_entropy", "{\"ignore_index\": \"1\"}", "ignore_index",
         "expected an integer, got a string"},
        {LOSSD_KIND_LOSS, "cross_entropy", "{\"label_smoothing\": 1.5}", "label_smoothing",
         "out of its domain"},
        {LOSSD_KIND_LOSS, "kl_div", "{\"log_target\": 0}", "log_target",
         "expected true or false, got a number"},
        {LOSSD_KIND_INFO, "entropy", "{\"base\": true}", "base",
         "expected a number or \"e\", got a boolean"},
        {LOSSD_KIND_INFO, "entropy", "{\"base\": 1}", "base", "is not a logarithm base"},
        {LOSSD_KIND_INFO, "entropy", "{\"base\": -2}", "base", "is not a logarithm base"},
        {LOSSD_KIND_INFO, "entropy", "{\"base\": \"ten\"}", "base", "got \"ten\""},
        {LOSSD_KIND_INFO, "entropy", "{\"normalize\": \"yes\"}", "normalize",
         "expected true or false"},
        {LOSSD_KIND_ACTIVATION, "gelu", "{\"approximate\": false}", "approximate",
         "expected a string, got a boolean"},
        {LOSSD_KIND_ACTIVATION, "celu", "{\"alpha\": 0}", "alpha", "out of its domain"},
        {LOSSD_KIND_ACTIVATION, "prelu", "{\"weight\": \"0.25\"}", "weight", "got a string"},
        {LOSSD_KIND_ACTIVATION, "relu", "{\"grad_output\": \"x\"}", "grad_output",
         "grad_output: expected a number or an array of numbers, got a string"},
        {LOSSD_KIND_LOSS, "mse", "{\"input\": \"abc\"}", "input",
         "input: expected a number or an array of numbers, got a string"},
        {LOSSD_KIND_LOSS, "mse", "{\"input\": {\"a\": 1}}", "input", "got an object"},
        {LOSSD_KIND_LOSS, "mse", "{\"target\": null}", "target", "got null"},
        {LOSSD_KIND_LOSS, "mse", "{\"target\": false}", "target", "got a boolean"},
        {LOSSD_KIND_PAIRWISE, "giou", "{\"boxes1\": \"[]\"}", "boxes1", "got a string"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        bind_fails(cases[i].kind, cases[i].name, cases[i].body, 100, LOSSD_FAULT_INVALID_ARGUMENT,
                   cases[i].field, cases[i].fragment);
    /* Fields bind in the order they appear; the first bad one is named. */
    bind_fails(LOSSD_KIND_LOSS, "mse", "{\"reduction\": 3, \"grad\": 1}", 100,
               LOSSD_FAULT_INVALID_ARGUMENT, "reduction", NULL);
    bind_fails(LOSSD_KIND_LOSS, "mse", "{\"grad\": 1, \"reduction\": 3}", 100,
               LOSSD_FAULT_INVALID_ARGUMENT, "grad", NULL);
}
END_TEST

START_TEST(bind_ragged_and_mixed_tensors)
{
    static const struct {
        const char *body, *field, *message;
    } cases[] = {
        {"{\"input\": [[1, 2, 3], [4, 5]]}", "input[1]",
         "input[1]: expected 3 numbers, got 2 (tensors must be rectangular)"},
        {"{\"input\": [[1, 2], [3, 4, 5]]}", "input[1]", "input[1]: expected 2 numbers, got 3"},
        {"{\"input\": [[[1, 2], [3, 4]], [[5, 6], [7]]]}", "input[1][1]",
         "input[1][1]: expected 2 numbers, got 1"},
        {"{\"input\": [[[1], [2]], [[3]]]}", "input[1]", "input[1]: expected 2 arrays, got 1"},
        {"{\"input\": [[1, 2], []]}", "input[1]", "input[1]: expected 2 numbers, got 0"},
        {"{\"input\": [[], [1]]}", "input[1]", "input[1]: expected 0 numbers, got 1"},
        {"{\"input\": [[1, 2], 3]}", "input[1]",
         "input[1]: expected an array of 2, got a number (tensors must be rectangular)"},
        {"{\"input\": [1, [2]]}", "input[1]", "input[1]: expected a number, got an array"},
        {"{\"input\": [[1], [[2]]]}", "input[1][0]",
         "input[1][0]: expected a number, got an array"},
        {"{\"input\": [1, 2], \"target\": [[1, 2, \"x\"]]}", "target[0][2]",
         "target[0][2]: expected a number, got a string"},
        {"{\"target\": [[1], [true]]}", "target[1][0]",
         "target[1][0]: expected a number, got a boolean"},
        {"{\"target\": [1, null]}", "target[1]", "target[1]: expected a number, got null"},
        {"{\"input\": [{\"a\": 1}]}", "input[0]", "input[0]: expected a number, got an object"},
        {"{\"input\": [[1, 2], {\"a\": 1}]}", "input[1]",
         "input[1]: expected an array of 2, got an object"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        binding b;
        ck_assert_int_eq(bind_body(&b, LOSSD_KIND_LOSS, "mse", cases[i].body, 100), -1);
        expect_fault(&b.fault, LOSSD_FAULT_INVALID_ARGUMENT, cases[i].field, cases[i].message);
        ck_assert_int_eq(strncmp(b.fault.message, cases[i].message, strlen(cases[i].message)), 0);
        binding_cleanup(&b);
    }
    /* Parameter tensors and grad_output have paths too. */
    bind_fails(LOSSD_KIND_LOSS, "bce", "{\"weight\": [[1], [1, 2]]}", 100,
               LOSSD_FAULT_INVALID_ARGUMENT, "weight[1]", "expected 1 numbers, got 2");
    bind_fails(LOSSD_KIND_ACTIVATION, "relu", "{\"grad_output\": [1, \"2\"]}", 100,
               LOSSD_FAULT_INVALID_ARGUMENT, "grad_output[1]", "got a string");
}
END_TEST

/* {"input": [[...[v]...]]} with `rank` levels of arrays around two numbers. */
static char *rank_body(int rank)
{
    char *body = malloc(2 * (size_t)rank + 64);
    char *p = body + sprintf(body, "{\"input\": ");
    for (int i = 0; i < rank; i++)
        *p++ = '[';
    p += sprintf(p, "1.5, -2");
    for (int i = 0; i < rank; i++)
        *p++ = ']';
    strcpy(p, "}");
    return body;
}

START_TEST(bind_ranks_empty_and_scalars)
{
    binding b;
    char *body = rank_body(LOSSD_MAX_RANK);
    bind_ok(&b, LOSSD_KIND_ACTIVATION, "relu", body);
    expect_tensor(&b.call.operand[0], 8, (size_t[]){1, 1, 1, 1, 1, 1, 1, 2}, (double[]){1.5, -2});
    binding_cleanup(&b);
    free(body);
    body = rank_body(LOSSD_MAX_RANK + 1);
    bind_fails(LOSSD_KIND_ACTIVATION, "relu", body, 100, LOSSD_FAULT_INVALID_ARGUMENT, "input",
               "input: a tensor has at most 8 dimensions");
    free(body);
    bind_fails(LOSSD_KIND_ACTIVATION, "relu", "{\"input\": [[[[[[[[[]]]]]]]]]}", 100,
               LOSSD_FAULT_INVALID_ARGUMENT, "input", "at most 8 dimensions");

    /* Empty arrays: shape (0) and (1, 0), (2, 0). */
    bind_ok(&b, LOSSD_KIND_LOSS, "mse", "{\"input\": [], \"target\": []}");
    expect_tensor(&b.call.operand[0], 1, (size_t[]){0}, NULL);
    lossd_error err = {0};
    ck_assert_int_eq(lossd_call_compute(&b.call, &err), 0);
    ck_assert(same_bits(b.call.loss, 0.0));
    ck_assert_uint_eq(b.call.n_terms, 0);
    binding_cleanup(&b);
    bind_ok(&b, LOSSD_KIND_ACTIVATION, "relu", "{\"input\": [[]]}");
    expect_tensor(&b.call.operand[0], 2, (size_t[]){1, 0}, NULL);
    binding_cleanup(&b);
    bind_ok(&b, LOSSD_KIND_ACTIVATION, "relu", "{\"input\": [[], []]}");
    expect_tensor(&b.call.operand[0], 2, (size_t[]){2, 0}, NULL);
    binding_cleanup(&b);

    /* Scalars: rank 0, size 1. */
    bind_ok(&b, LOSSD_KIND_LOSS, "mse", "{\"input\": 3, \"target\": 1}");
    expect_tensor(&b.call.operand[0], 0, NULL, (double[]){3});
    expect_tensor(&b.call.operand[1], 0, NULL, (double[]){1});
    ck_assert_int_eq(lossd_call_compute(&b.call, &err), 0);
    ck_assert(same_bits(b.call.loss, 4.0));
    ck_assert_uint_eq(b.call.n_terms, 1);
    binding_cleanup(&b);
}
END_TEST

START_TEST(bind_element_limit)
{
    /* Six numbers: five is one too few, and the tensor that crosses the limit is named. */
    const char *body = "{\"input\": [1, 2, 3], \"target\": [1, 2, 3]}";
    bind_fails(LOSSD_KIND_LOSS, "mse", body, 5, LOSSD_FAULT_TOO_LARGE, "target",
               "target: the request holds more than 5 numbers (--max-elements)");
    bind_fails(LOSSD_KIND_LOSS, "mse", body, 2, LOSSD_FAULT_TOO_LARGE, "input",
               "more than 2 numbers");
    binding b;
    ck_assert_int_eq(bind_body(&b, LOSSD_KIND_LOSS, "mse", body, 6), 0);
    ck_assert_uint_eq(b.store.elements, 6);
    binding_cleanup(&b);
    ck_assert_int_eq(lossd_fault_status(LOSSD_FAULT_TOO_LARGE), 413);

    /* Parameter tensors and grad_output count against the same budget. */
    bind_fails(LOSSD_KIND_LOSS, "bce", "{\"input\": [0.5], \"target\": [1], \"weight\": [1, 2]}", 3,
               LOSSD_FAULT_TOO_LARGE, "weight", NULL);
    bind_fails(LOSSD_KIND_ACTIVATION, "relu",
               "{\"input\": [1, 2], \"grad\": true, \"grad_output\": [1, 1]}", 3,
               LOSSD_FAULT_TOO_LARGE, "grad_output", NULL);

    /* Outputs too: a 10 x 10 matrix from 80 numbers is over a limit of 80. */
    lossd_buf text;
    lossd_buf_init(&text, 0);
    lossd_buf_puts(&text, "{\"boxes1\": [");
    for (int i = 0; i < 10; i++)
        lossd_buf_printf(&text, "%s[0, 0, %d, %d]", i ? ", " : "", i + 1, i + 1);
    lossd_buf_puts(&text, "], \"boxes2\": [");
    for (int i = 0; i < 10; i++)
        lossd_buf_printf(&text, "%s[0, 0, %d, 1]", i ? ", " : "", i + 1);
    lossd_buf_puts(&text, "]}");
    ck_assert_int_eq(bind_body(&b, LOSSD_KIND_PAIRWISE, "iou", lossd_buf_data(&text), 80), 0);
    lossd_error err = {0};
    ck_assert_int_eq(lossd_call_prepare(&b.call, &err), LOSSD_ETOOBIG);
    lossd_fault_from_error(&b.fault, &err);
    expect_fault(&b.fault, LOSSD_FAULT_TOO_LARGE, "boxes2", "the reply would hold 100 numbers");
    binding_cleanup(&b);
    ck_assert_int_eq(bind_body(&b, LOSSD_KIND_PAIRWISE, "iou", lossd_buf_data(&text), 100), 0);
    ck_assert_int_eq(lossd_call_compute(&b.call, &err), 0);
    ck_assert_uint_eq(b.call.output.size, 100);
    binding_cleanup(&b);
    lossd_buf_cleanup(&text);
}
END_TEST

/* Computes a bound call with a fresh error (lossd_error keeps the first error it gets). */
static int compute(binding *b, lossd_error *err)
{
    memset(err, 0, sizeof *err);
    return lossd_call_compute(&b->call, err);
}

START_TEST(bind_then_compute)
{
    binding b;
    lossd_error err = {0};
    /* mse of [1, 2] against [0, 0]: (1 + 4) / 2; gradient 2 (x - y) / n. */
    bind_ok(&b, LOSSD_KIND_LOSS, "mse", "{\"input\": [1, 2], \"target\": [0, 0], \"grad\": true}");
    ck_assert_int_eq(compute(&b, &err), 0);
    ck_assert(same_bits(b.call.loss, 2.5));
    ck_assert(same_bits(b.call.grad[0], 1.0) && same_bits(b.call.grad[1], 2.0));
    binding_cleanup(&b);

    /* smooth_l1 with beta 0.5: 0.5 z^2 / beta below beta, |z| - beta / 2 above. */
    bind_ok(&b, LOSSD_KIND_LOSS, "smooth_l1",
            "{\"input\": [0.2, 2], \"target\": [0, 0], \"beta\": 0.5, \"reduction\": \"none\"}");
    ck_assert_int_eq(compute(&b, &err), 0);
    ck_assert_msg(fabs(b.call.output.data[0] - 0.04) <= 1e-17, "%.17g", b.call.output.data[0]);
    ck_assert(same_bits(b.call.output.data[1], 1.75));
    binding_cleanup(&b);

    /* Class-index targets: cross_entropy is -log softmax at the target class. */
    bind_ok(&b, LOSSD_KIND_LOSS, "cross_entropy",
            "{\"input\": [[1, 2, 3], [1, 2, 3]], \"target\": [0, 2], \"reduction\": \"none\"}");
    expect_tensor(&b.call.operand[1], 1, (size_t[]){2}, (double[]){0, 2});
    ck_assert_int_eq(compute(&b, &err), 0);
    double lse = 3 + log(1 + exp(-1.0) + exp(-2.0));
    ck_assert_msg(fabs(b.call.output.data[0] - (lse - 1)) < 1e-14, "%.17g", b.call.output.data[0]);
    ck_assert_msg(fabs(b.call.output.data[1] - (lse - 3)) < 1e-14, "%.17g", b.call.output.data[1]);
    binding_cleanup(&b);
    /* The same targets as probabilities give the same mean. */
    bind_ok(&b, LOSSD_KIND_LOSS, "cross_entropy",
            "{\"input\": [[1, 2, 3], [1, 2, 3]], \"target\": [[1, 0, 0], [0, 0, 1]]}");
    ck_assert_int_eq(compute(&b, &err), 0);
    ck_assert(b.call.prob_target);
    ck_assert_msg(fabs(b.call.loss - (lse - 2)) < 1e-14, "%.17g", b.call.loss);
    binding_cleanup(&b);

    /* Class indices out of range or not whole: the core names the element. */
    bind_ok(&b, LOSSD_KIND_LOSS, "nll", "{\"input\": [[-1, -2], [-1, -2]], \"target\": [1, 2]}");
    ck_assert_int_eq(compute(&b, &err), LOSSD_EINVAL);
    lossd_fault_from_error(&b.fault, &err);
    expect_fault(&b.fault, LOSSD_FAULT_INVALID_ARGUMENT, "target[1]", "out of range [0, 2)");
    binding_cleanup(&b);

    /* Binding does not check shapes or presence; prepare does, naming the field. */
    bind_ok(&b, LOSSD_KIND_LOSS, "mse", "{\"input\": [1, 2], \"target\": [1]}");
    ck_assert_int_eq(compute(&b, &err), LOSSD_EINVAL);
    ck_assert_str_eq(err.field, "target");
    binding_cleanup(&b);
    bind_ok(&b, LOSSD_KIND_LOSS, "mse", "{\"input\": [1, 2]}");
    ck_assert_int_eq(compute(&b, &err), LOSSD_EMISSING);
    lossd_fault_from_error(&b.fault, &err);
    expect_fault(&b.fault, LOSSD_FAULT_INVALID_ARGUMENT, "target", "required");
    binding_cleanup(&b);
    bind_ok(&b, LOSSD_KIND_ACTIVATION, "prelu", "{\"input\": [1, 2]}");
    ck_assert_int_eq(compute(&b, &err), LOSSD_EMISSING);
    ck_assert_str_eq(err.field, "weight");
    binding_cleanup(&b);
}
END_TEST

/* "nonfinite": "strings" reads "NaN", "Infinity", "-Infinity" in tensors and writes them back. */
START_TEST(bind_nonfinite_strings)
{
    binding b;
    bind_ok(&b, LOSSD_KIND_LOSS, "mse",
            "{\"input\": [\"NaN\", \"Infinity\", \"-Infinity\", 1], \"target\": [1, 2, 3, 4], "
            "\"nonfinite\": \"strings\"}");
    ck_assert(b.nonfinite_strings);
    const double *x = b.call.operand[0].data;
    ck_assert(isnan(x[0]) && x[1] == INFINITY && x[2] == -INFINITY && x[3] == 1);
    binding_cleanup(&b);
    /* the option is read first, wherever it is; a scalar tensor too; null is the default */
    bind_ok(&b, LOSSD_KIND_ACTIVATION, "relu",
            "{\"input\": \"-Infinity\", \"nonfinite\": \"strings\"}");
    ck_assert(b.call.operand[0].data[0] == -INFINITY);
    binding_cleanup(&b);
    bind_ok(&b, LOSSD_KIND_ACTIVATION, "relu", "{\"input\": [1], \"nonfinite\": null}");
    ck_assert(!b.nonfinite_strings);
    binding_cleanup(&b);
    /* without it a string is not a number, and the message says how to send one */
    bind_fails(LOSSD_KIND_LOSS, "mse", "{\"input\": [\"NaN\"], \"target\": [1]}", 100,
               LOSSD_FAULT_INVALID_ARGUMENT, "input[0]",
               "input[0]: expected a number, got a string (for NaN and infinities, send "
               "\"nonfinite\": \"strings\"");
    /* other strings stay errors; the option takes two values */
    bind_fails(LOSSD_KIND_LOSS, "mse",
               "{\"input\": [\"nan\"], \"target\": [1], \"nonfinite\": \"strings\"}", 100,
               LOSSD_FAULT_INVALID_ARGUMENT, "input[0]",
               "input[0]: expected a number, got a string");
    bind_fails(LOSSD_KIND_LOSS, "mse", "{\"input\": [1], \"target\": [1], \"nonfinite\": \"yes\"}",
               100, LOSSD_FAULT_INVALID_ARGUMENT, "nonfinite",
               "nonfinite: expected \"null\" (non-finite numbers as null, the default) or "
               "\"strings\" (as \"NaN\", \"Infinity\", \"-Infinity\"), got \"yes\"");
    bind_fails(LOSSD_KIND_LOSS, "mse", "{\"input\": [1], \"target\": [1], \"nonfinite\": true}",
               100, LOSSD_FAULT_INVALID_ARGUMENT, "nonfinite", "got a boolean");
    /* parameters must stay finite numbers */
    bind_fails(LOSSD_KIND_LOSS, "smooth_l1",
               "{\"input\": [1], \"target\": [1], \"beta\": \"Infinity\", \"nonfinite\": "
               "\"strings\"}",
               100, LOSSD_FAULT_INVALID_ARGUMENT, "beta", "beta: expected a number");
}
END_TEST

/* Replies write non-finite results as null by default, as strings when asked, and count them. */
START_TEST(reply_nonfinite_forms)
{
#define OVERFLOWING                                                          \
    "{\"input\": [1e308, 1, 0], \"target\": [-1e308, 1, 0], \"reduction\": " \
    "\"none\", \"grad\": true"
    char *reply = reply_text(LOSSD_KIND_LOSS, "mse", OVERFLOWING "}", NULL);
    ck_assert_str_eq(reply,
                     "{\"loss\":[null,0.0,0.0],\"n\":3,\"grad\":[null,0.0,0.0],\"nonfinite\":2}");
    free(reply);
    reply = reply_text(LOSSD_KIND_LOSS, "mse", OVERFLOWING ", \"nonfinite\": \"strings\"}", NULL);
#undef OVERFLOWING
    ck_assert_str_eq(reply,
                     "{\"loss\":[\"Infinity\",0.0,0.0],\"n\":3,\"grad\":[\"Infinity\",0.0,0.0],"
                     "\"nonfinite\":2}");
    free(reply);
    /* NaN and -Infinity, reduced and not */
    reply = reply_text(LOSSD_KIND_LOSS, "mse",
                       "{\"input\": [\"NaN\"], \"target\": [1], \"nonfinite\": \"strings\"}", NULL);
    ck_assert_str_eq(reply, "{\"loss\":\"NaN\",\"n\":1,\"nonfinite\":1}");
    free(reply);
    reply = reply_text(LOSSD_KIND_ACTIVATION, "relu",
                       "{\"input\": [\"-Infinity\", 2], \"nonfinite\": \"strings\"}", NULL);
    ck_assert_ptr_nonnull(strstr(reply, "\"output\":[0.0,2.0]"));
    free(reply);
    reply = reply_text(LOSSD_KIND_ACTIVATION, "tanh",
                       "{\"input\": [\"-Infinity\", \"NaN\"], \"nonfinite\": \"strings\"}", NULL);
    ck_assert_ptr_nonnull(strstr(reply, "\"output\":[-1.0,\"NaN\"]"));
    free(reply);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("codec");
    add_case(s, "codec-load", 10, NULL, NULL,
             TESTS(load_depth_limit, load_brackets_in_strings, load_rejects,
                   load_reads_len_bytes_and_integers_as_reals, load_into_an_arena,
                   load_skips_a_byte_order_mark));
    add_case(s, "codec-bind", 10, NULL, NULL,
             TESTS(bind_every_field_kind, bind_null_is_the_default, bind_field_names,
                   bind_unknown_fields, bind_wrong_types, bind_ragged_and_mixed_tensors,
                   bind_ranks_empty_and_scalars, bind_element_limit, bind_then_compute,
                   bind_nonfinite_strings, reply_nonfinite_forms));
    return run_service_suite(s);
}
