/* SPDX-License-Identifier: MIT */
/*
 * check_fault.c - faults and the contract's error body (fault.c): the
 * status and code of every kind, the body written for each, the first
 * fault winning, core errors mapped to faults, and messages cut or
 * holding invalid UTF-8 still written as valid JSON.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/service/buf.h"
#include "../src/service/fault.h"
#include "../src/service/route.h"
#include "serviceutil.h"

START_TEST(fault_table)
{
    static const struct {
        lossd_fault_kind kind;
        int status;
        const char *code;
    } table[] = {
        {LOSSD_FAULT_INVALID_JSON, 400, "invalid_json"},
        {LOSSD_FAULT_BAD_REQUEST, 400, "bad_request"},
        {LOSSD_FAULT_UNAUTHORIZED, 401, "unauthorized"},
        {LOSSD_FAULT_NOT_FOUND, 404, "not_found"},
        {LOSSD_FAULT_METHOD, 405, "method_not_allowed"},
        {LOSSD_FAULT_TOO_LARGE, 413, "payload_too_large"},
        {LOSSD_FAULT_MEDIA_TYPE, 415, "unsupported_media_type"},
        {LOSSD_FAULT_INVALID_ARGUMENT, 422, "invalid_argument"},
        {LOSSD_FAULT_INTERNAL, 500, "internal"},
        {LOSSD_FAULT_OVERLOADED, 503, "overloaded"},
        {LOSSD_FAULT_DRAINING, 503, "draining"},
    };
    ck_assert_uint_eq(sizeof table / sizeof table[0], LOSSD_FAULT_COUNT - 1);
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        ck_assert_int_eq(lossd_fault_status(table[i].kind), table[i].status);
        ck_assert_str_eq(lossd_fault_code(table[i].kind), table[i].code);
    }
    /* Out of range: a bug, so 500. */
    ck_assert_int_eq(lossd_fault_status(LOSSD_FAULT_COUNT), 500);
    ck_assert_str_eq(lossd_fault_code(LOSSD_FAULT_COUNT), "internal");
    ck_assert_int_eq(lossd_fault_status((lossd_fault_kind)-1), 500);
}
END_TEST

/* Writes f's error body and parses it back; checks its shape. */
static json_t *fault_body(const lossd_fault *f)
{
    lossd_buf b;
    lossd_buf_init(&b, 0);
    lossd_fault_write(f, &b);
    ck_assert(!lossd_buf_failed(&b));
    json_t *body = parse_json(lossd_buf_data(&b));
    lossd_buf_cleanup(&b);
    ck_assert(json_is_object(body));
    ck_assert_uint_eq(json_object_size(body), 1);
    json_t *error = json_object_get(body, "error");
    ck_assert(json_is_object(error));
    ck_assert(json_is_string(json_object_get(error, "code")));
    ck_assert(json_is_string(json_object_get(error, "message")));
    return body;
}

START_TEST(fault_write_bodies)
{
    for (int k = 1; k < LOSSD_FAULT_COUNT; k++) {
        lossd_fault f = {0};
        ck_assert_int_eq(lossd_fault_set(&f, (lossd_fault_kind)k, "target[3]",
                                         "expected %d numbers, got %d", 4, 3),
                         -1);
        json_t *body = fault_body(&f);
        json_t *error = json_object_get(body, "error");
        ck_assert_uint_eq(json_object_size(error), 3);
        ck_assert_str_eq(string_at(error, "code"), lossd_fault_code((lossd_fault_kind)k));
        ck_assert_str_eq(string_at(error, "message"), "target[3]: expected 4 numbers, got 3");
        ck_assert_str_eq(string_at(error, "field"), "target[3]");
        json_decref(body);
    }

    /* No field: no "field" member, and the message is not prefixed. */
    lossd_fault f = {0};
    lossd_fault_set(&f, LOSSD_FAULT_OVERLOADED, NULL, "the work queue is full");
    json_t *body = fault_body(&f);
    json_t *error = json_object_get(body, "error");
    ck_assert_uint_eq(json_object_size(error), 2);
    ck_assert_ptr_null(json_object_get(error, "field"));
    ck_assert_str_eq(string_at(error, "message"), "the work queue is full");
    json_decref(body);

    /* An empty message falls back to the code; quotes and control bytes are escaped. */
    memset(&f, 0, sizeof f);
    lossd_fault_set(&f, LOSSD_FAULT_DRAINING, "", "%s", "");
    body = fault_body(&f);
    ck_assert_str_eq(string_at(json_object_get(body, "error"), "message"), "draining");
    json_decref(body);
    memset(&f, 0, sizeof f);
    lossd_fault_set(&f, LOSSD_FAULT_INVALID_ARGUMENT, "a\"b", "tab\there \\ \"q\" \x01");
    body = fault_body(&f);
    ck_assert_str_eq(string_at(json_object_get(body, "error"), "message"),
                     "a\"b: tab\there \\ \"q\" \x01");
    ck_assert_str_eq(string_at(json_object_get(body, "error"), "field"), "a\"b");
    json_decref(body);

    /* The body of last resort: the contract's shape for 500 internal, from static storage. */
    size_t len = 0;
    const char *oom = lossd_fault_oom_body(&len);
    ck_assert_uint_eq(len, strlen(oom));
    ck_assert_ptr_eq(lossd_fault_oom_body(&len), oom);
    body = parse_json(oom);
    error = json_object_get(body, "error");
    ck_assert_uint_eq(json_object_size(body), 1);
    ck_assert_uint_eq(json_object_size(error), 2);
    ck_assert_str_eq(string_at(error, "code"), lossd_fault_code(LOSSD_FAULT_INTERNAL));
    ck_assert_str_eq(string_at(error, "message"), "out of memory");
    json_decref(body);
}
END_TEST

START_TEST(fault_first_wins)
{
    lossd_fault f = {0};
    lossd_fault_set(&f, LOSSD_FAULT_INVALID_ARGUMENT, "input", "first");
    ck_assert_int_eq(lossd_fault_set(&f, LOSSD_FAULT_INTERNAL, "target", "second"), -1);
    expect_fault(&f, LOSSD_FAULT_INVALID_ARGUMENT, "input", "input: first");
    lossd_error err = {.code = LOSSD_ETOOBIG, .field = "q", .message = "q: third"};
    ck_assert_int_eq(lossd_fault_from_error(&f, &err), -1);
    expect_fault(&f, LOSSD_FAULT_INVALID_ARGUMENT, "input", "input: first");
    ck_assert(strstr(f.message, "second") == NULL && strstr(f.message, "third") == NULL);
}
END_TEST

START_TEST(fault_from_core_errors)
{
    static const struct {
        int code;
        lossd_fault_kind kind;
        int status;
    } table[] = {
        {LOSSD_ETOOBIG, LOSSD_FAULT_TOO_LARGE, 413},
        {LOSSD_ENOMEM, LOSSD_FAULT_INTERNAL, 500},
        {LOSSD_EINVAL, LOSSD_FAULT_INVALID_ARGUMENT, 422},
        {LOSSD_ENOENT, LOSSD_FAULT_INVALID_ARGUMENT, 422},
        {LOSSD_ETYPE, LOSSD_FAULT_INVALID_ARGUMENT, 422},
        {LOSSD_EMISSING, LOSSD_FAULT_INVALID_ARGUMENT, 422},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        lossd_error err = {.code = table[i].code,
                           .field = "target[2][1]",
                           .message = "target[2][1]: 1.5 is not a class index"};
        lossd_fault f = {0};
        ck_assert_int_eq(lossd_fault_from_error(&f, &err), -1);
        expect_fault(&f, table[i].kind, "target[2][1]", NULL);
        ck_assert_str_eq(f.message, "target[2][1]: 1.5 is not a class index");
        ck_assert_int_eq(lossd_fault_status(f.kind), table[i].status);
    }
    /* A call-level error (no field) gives a body without "field". */
    lossd_error err = {.code = LOSSD_EINVAL, .field = "", .message = "unknown function kind"};
    lossd_fault f = {0};
    lossd_fault_from_error(&f, &err);
    json_t *body = fault_body(&f);
    ck_assert_ptr_null(json_object_get(json_object_get(body, "error"), "field"));
    json_decref(body);
}
END_TEST

/* A message cut by its buffer inside a multi-byte character still makes valid JSON. */
START_TEST(fault_truncated_utf8)
{
    /* 2-, 3- and 4-byte characters, cut after each possible byte. */
    static const char *const chars[] = {"\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x98\x80"};
    for (size_t c = 0; c < 3; c++) {
        size_t width = strlen(chars[c]);
        for (size_t cut = 1; cut < width; cut++) {
            /* The buffer keeps LOSSD_FAULT_MESSAGE_MAX - 1 bytes: end `cut` bytes into a char. */
            size_t ascii = LOSSD_FAULT_MESSAGE_MAX - 1 - cut;
            char *text = malloc(ascii + 4 * width + 1);
            memset(text, 'a', ascii);
            text[ascii] = '\0';
            for (int k = 0; k < 4; k++)
                strcat(text, chars[c]);
            lossd_fault f = {0};
            lossd_fault_set(&f, LOSSD_FAULT_INVALID_ARGUMENT, NULL, "%s", text);
            ck_assert_uint_eq(strlen(f.message), LOSSD_FAULT_MESSAGE_MAX - 1);
            json_t *body = fault_body(&f);
            json_t *error = json_object_get(body, "error");
            ck_assert_str_eq(string_at(error, "code"), "invalid_argument");
            const char *message = string_at(error, "message");
            ck_assert_uint_eq(strspn(message, "a"), ascii);
            /* The broken tail is replaced, byte by byte, by '?'. */
            for (size_t i = ascii; i < ascii + cut; i++)
                ck_assert_int_eq(message[i], '?');
            ck_assert_uint_eq(strlen(message), ascii + cut);
            json_decref(body);
            free(text);
        }
    }

    /* A field of 2-byte characters cut by LOSSD_FIELD_MAX, and so its message prefix. */
    char field[201];
    for (int i = 0; i < 100; i++)
        memcpy(field + 2 * i, "\xC3\xA9", 2);
    field[200] = '\0';
    lossd_fault f = {0};
    lossd_fault_set(&f, LOSSD_FAULT_INVALID_ARGUMENT, field, "unknown field");
    json_t *body = fault_body(&f);
    const char *got = string_at(json_object_get(body, "error"), "field");
    ck_assert_uint_eq(strlen(got), LOSSD_FIELD_MAX - 1);
    ck_assert_int_eq(got[LOSSD_FIELD_MAX - 2], '?');
    ck_assert_int_eq(strncmp(got, field, LOSSD_FIELD_MAX - 2), 0);
    json_decref(body);
}
END_TEST

/*
 * Bytes that look like UTF-8 but are not (an overlong '/', a UTF-16
 * surrogate, a code point past U+10FFFF) reach messages through the
 * request path, which libmicrohttpd percent-decodes: GET /%C0%AF. jansson
 * refuses such strings, so the body must not depend on it accepting them:
 * the reply must still say not_found, not internal.
 */
START_TEST(fault_invalid_utf8_keeps_the_code)
{
    static const char *const paths[] = {
        "/\xC0\xAF",         "/\xE0\x80\xAF",         "/\xED\xA0\x80",
        "/\xF4\x90\x80\x80", "/\xF8\x88\x80\x80\x80", "/\xFF"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        lossd_route r;
        lossd_fault f = {0};
        ck_assert_int_eq(lossd_route_find("GET", paths[i], &r, &f), -1);
        ck_assert_int_eq(f.kind, LOSSD_FAULT_NOT_FOUND);
        json_t *body = fault_body(&f);
        json_t *error = json_object_get(body, "error");
        ck_assert_msg(strcmp(string_at(error, "code"), "not_found") == 0,
                      "path %zu: the 404 body says code \"%s\", message \"%s\"", i,
                      string_at(error, "code"), string_at(error, "message"));
        ck_assert(strstr(string_at(error, "message"), "no endpoint at /") != NULL);
        json_decref(body);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("fault");
    add_case(s, "fault", 10, NULL, NULL,
             TESTS(fault_table, fault_write_bodies, fault_first_wins, fault_from_core_errors,
                   fault_truncated_utf8, fault_invalid_utf8_keeps_the_code));
    return run_service_suite(s);
}
