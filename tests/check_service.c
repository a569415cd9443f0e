/*
 * check_service.c - the service modules one by one, without HTTP: number
 * formatting (dtoa.cc, buf.c), faults and the contract's error body
 * (fault.c), the JSON codec - loading bodies, binding requests to calls,
 * writing replies in sequence and in parallel - (codec.c), routing
 * (route.c), options (options.c), API keys (auth.c), the worker pool
 * (pool.c), metrics (metrics.c) and the catalog (catalog.c).
 * check_server.c drives the same modules over real HTTP.
 *
 * Every expectation is a concrete value: replies are parsed back with
 * jansson and their numbers compared bit for bit; errors are checked for
 * status, code, field and message. Tests that start threads join them
 * before they return, and tests that touch the environment restore it,
 * so the suite runs the same with CK_FORK=no as forked.
 */
#define _GNU_SOURCE /* open_memstream */
#include <check.h>
#include <float.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <lossd/lossd.h>

#include "../src/service/arena.h"
#include "../src/service/auth.h"
#include "../src/service/buf.h"
#include "../src/service/catalog.h"
#include "../src/service/codec.h"
#include "../src/service/dtoa.h"
#include "../src/service/exec.h"
#include "../src/service/fault.h"
#include "../src/service/metrics.h"
#include "../src/service/options.h"
#include "../src/service/pool.h"
#include "../src/service/route.h"

/* ------------------------------------------------------------ helpers */

/* xorshift64*: reproducible pseudo-random bits for property tests. */
static uint64_t rng_next(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/* Bitwise equality: tells -0.0 from 0.0, as the contract's round trip must. */
static bool same_double(double a, double b)
{
    return memcmp(&a, &b, sizeof a) == 0;
}

/* Parses text the test expects to be one valid JSON value; fails the test otherwise. */
static json_t *parse(const char *text)
{
    json_error_t error;
    json_t *v = json_loads(text, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &error);
    ck_assert_msg(v != NULL, "not valid JSON (%s, line %d, column %d): %.300s", error.text,
                  error.line, error.column, text);
    return v;
}

/* The number under `key` of obj; fails the test if there is none. */
static double number_at(const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);
    ck_assert_msg(json_is_number(v), "\"%s\" is not a number", key);
    return json_number_value(v);
}

/* The string under `key` of obj; fails the test if there is none. */
static const char *string_at(const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);
    ck_assert_msg(json_is_string(v), "\"%s\" is not a string", key);
    return json_string_value(v);
}

/* Element i of a JSON array of numbers. */
static double element(const json_t *array, size_t i)
{
    const json_t *v = json_array_get(array, i);
    ck_assert_msg(json_is_number(v), "element %zu is not a number", i);
    return json_number_value(v);
}

static void expect_fault(const lossd_fault *f, lossd_fault_kind kind, const char *field,
                         const char *fragment)
{
    ck_assert_msg(f->kind == kind, "fault %s (%d), want %s; message: %s", lossd_fault_code(f->kind),
                  (int)f->kind, lossd_fault_code(kind), f->message);
    if (field)
        ck_assert_str_eq(f->field, field);
    if (fragment)
        ck_assert_msg(strstr(f->message, fragment) != NULL, "message \"%s\" lacks \"%s\"",
                      f->message, fragment);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Polls `cond` for up to 10 s, then asserts it. */
#define WAIT_FOR(cond)                                                       \
    do {                                                                     \
        for (int ms_ = 0; !(cond) && ms_ < 10000; ms_++)                     \
            sleep_ms(1);                                                     \
        ck_assert_msg((cond), "timed out after 10 s waiting for %s", #cond); \
    } while (0)

/* ------------------------------------------------------------ dtoa and buf */

static const char *dtoa_text(double x, char buf[LOSSD_DTOA_MAX + 1])
{
    size_t n = lossd_dtoa(x, buf);
    ck_assert_uint_le(n, LOSSD_DTOA_MAX);
    buf[n] = '\0';
    return buf;
}

START_TEST(dtoa_fixed_values)
{
    static const struct {
        double x;
        const char *text;
    } cases[] = {
        {0.1, "0.1"},
        {1.0, "1.0"},
        {-0.0, "-0.0"},
        {0.0, "0.0"},
        {3.0, "3.0"},
        {2.5, "2.5"},
        {-7.25, "-7.25"},
        {0.1 + 0.2, "0.30000000000000004"},
        {1.0 / 3.0, "0.3333333333333333"},
        {1e-6, "0.000001"},
        {1e-7, "1e-7"},
        {1.5e-7, "1.5e-7"},
        {1e20, "100000000000000000000.0"},
        {1e21, "1e+21"},
        {-2.5e22, "-2.5e+22"},
        {1e300, "1e+300"},
        {5e-324, "5e-324"},
        {DBL_MIN, "2.2250738585072014e-308"},
        {DBL_MAX, "1.7976931348623157e+308"},
        {-DBL_MAX, "-1.7976931348623157e+308"},
        {9007199254740993.0, "9007199254740992.0"},
        {123456.789, "123456.789"},
    };
    char buf[LOSSD_DTOA_MAX + 1];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        ck_assert_msg(strcmp(dtoa_text(cases[i].x, buf), cases[i].text) == 0,
                      "%.17g was written %s, want %s", cases[i].x, buf, cases[i].text);
    ck_assert_str_eq(dtoa_text(NAN, buf), "null");
    ck_assert_str_eq(dtoa_text(-NAN, buf), "null");
    ck_assert_str_eq(dtoa_text(INFINITY, buf), "null");
    ck_assert_str_eq(dtoa_text(-INFINITY, buf), "null");

    /* lossd_buf_number writes the same text, terminated. */
    lossd_buf b;
    lossd_buf_init(&b, 0);
    lossd_buf_number(&b, 0.1);
    lossd_buf_puts(&b, ",");
    lossd_buf_number(&b, INFINITY);
    lossd_buf_puts(&b, ",");
    lossd_buf_number(&b, -0.0);
    ck_assert(!lossd_buf_failed(&b));
    ck_assert_str_eq(b.data, "0.1,null,-0.0");
    ck_assert_uint_eq(b.len, strlen("0.1,null,-0.0"));
    lossd_buf_cleanup(&b);
}
END_TEST

/* Significant digits of a number's text: its mantissa without sign, point and outer zeros. */
static int significant_digits(const char *text)
{
    char digits[LOSSD_DTOA_MAX + 1];
    size_t n = 0;
    for (const char *p = text; *p && *p != 'e'; p++)
        if (*p >= '0' && *p <= '9')
            digits[n++] = *p;
    size_t first = 0;
    while (first < n && digits[first] == '0')
        first++;
    while (n > first && digits[n - 1] == '0')
        n--;
    return n > first ? (int)(n - first) : 1;
}

/* The JSON number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static bool is_json_number(const char *s)
{
    if (*s == '-')
        s++;
    if (*s == '0')
        s++;
    else if (*s >= '1' && *s <= '9')
        while (*s >= '0' && *s <= '9')
            s++;
    else
        return false;
    if (*s == '.') {
        s++;
        if (!(*s >= '0' && *s <= '9'))
            return false;
        while (*s >= '0' && *s <= '9')
            s++;
    }
    if (*s == 'e' || *s == 'E') {
        s++;
        if (*s == '+' || *s == '-')
            s++;
        if (!(*s >= '0' && *s <= '9'))
            return false;
        while (*s >= '0' && *s <= '9')
            s++;
    }
    return *s == '\0';
}

START_TEST(dtoa_round_trips)
{
    uint64_t state = 0x9E3779B97F4A7C15ULL;
    char buf[LOSSD_DTOA_MAX + 1], shorter[64];
    size_t n_checked = 0;
    for (size_t i = 0; i < 200000; i++) {
        double x;
        uint64_t bits = rng_next(&state);
        if (i % 2 == 0) {
            /* Any bit pattern: every exponent, subnormals included. */
            memcpy(&x, &bits, sizeof x);
            if (!isfinite(x))
                continue;
        } else {
            /* Short decimals, the numbers people type: k * 10^e. */
            double k = (double)(bits % 100000) - 50000;
            int e = (int)((bits >> 20) % 80) - 40;
            x = k * pow(10.0, e);
        }
        const char *text = dtoa_text(x, buf);
        ck_assert_msg(is_json_number(text), "%.17g was written %s: not a JSON number", x, text);
        double back = strtod(text, NULL);
        ck_assert_msg(same_double(back, x), "%.17g was written %s, which reads back as %.17g", x,
                      text, back);
        int digits = significant_digits(text);
        ck_assert_msg(digits <= 17, "%.17g was written %s: %d significant digits", x, text, digits);
        /* Shortest: the correctly rounded text one digit shorter must not round-trip. */
        if (digits > 1) {
            snprintf(shorter, sizeof shorter, "%.*e", digits - 2, x);
            ck_assert_msg(!same_double(strtod(shorter, NULL), x),
                          "%.17g was written %s, but %s (shorter) reads back the same", x, text,
                          shorter);
        }
        /* jansson reads it as the same real (every 64th, jansson is slower). */
        if (i % 64 == 0) {
            json_t *v = json_loads(text, JSON_DECODE_ANY, NULL);
            ck_assert_msg(json_is_real(v), "jansson does not read %s as a real", text);
            ck_assert(same_double(json_real_value(v), x));
            json_decref(v);
        }
        n_checked++;
    }
    ck_assert_uint_gt(n_checked, 199000);
}
END_TEST

START_TEST(buf_grows_limits_and_steals)
{
    lossd_buf b;
    lossd_buf_init(&b, 0);
    ck_assert_ptr_null(b.data);
    /* Growth: 10000 appends of varying lengths keep every byte in order. */
    size_t expected_len = 0;
    for (int i = 0; i < 10000; i++) {
        char piece[16];
        int n = snprintf(piece, sizeof piece, "%d;", i);
        lossd_buf_append(&b, piece, (size_t)n);
        expected_len += (size_t)n;
    }
    ck_assert(!lossd_buf_failed(&b));
    ck_assert_uint_eq(b.len, expected_len);
    ck_assert_uint_gt(b.cap, b.len);
    ck_assert_int_eq(b.data[b.len], '\0');
    ck_assert_int_eq(strncmp(b.data, "0;1;2;3;", 8), 0);
    ck_assert_str_eq(b.data + b.len - 5, "9999;");
    lossd_buf_printf(&b, "[%d-%s-%.1f]", 42, "x", 2.5);
    ck_assert_str_eq(b.data + expected_len, "[42-x-2.5]");

    /* Steal hands over the bytes and leaves the buffer empty and reusable. */
    size_t len = 0;
    char *data = lossd_buf_steal(&b, &len);
    ck_assert_ptr_nonnull(data);
    ck_assert_uint_eq(len, expected_len + strlen("[42-x-2.5]"));
    ck_assert_uint_eq(strlen(data), len);
    ck_assert_ptr_null(b.data);
    ck_assert_uint_eq(b.len, 0);
    free(data);
    lossd_buf_puts(&b, "again");
    ck_assert_str_eq(b.data, "again");
    lossd_buf_cleanup(&b);

    /* max: exactly max bytes fit; one more fails and freezes the buffer. */
    lossd_buf_init(&b, 10);
    lossd_buf_puts(&b, "12345");
    lossd_buf_puts(&b, "67890");
    ck_assert(!lossd_buf_failed(&b));
    ck_assert_str_eq(b.data, "1234567890");
    lossd_buf_puts(&b, "x");
    ck_assert(lossd_buf_failed(&b));
    ck_assert_str_eq(b.data, "1234567890");
    ck_assert(!lossd_buf_reserve(&b, 0));
    ck_assert_ptr_null(lossd_buf_steal(&b, &len));
    lossd_buf_cleanup(&b);

    /* A failed append leaves what came before; later small appends stay ignored. */
    lossd_buf_init(&b, 8);
    lossd_buf_puts(&b, "abc");
    lossd_buf_printf(&b, "%s", "defghijkl");
    ck_assert(lossd_buf_failed(&b));
    lossd_buf_puts(&b, "d");
    ck_assert_str_eq(b.data, "abc");
    ck_assert_uint_eq(b.len, 3);
    lossd_buf_cleanup(&b);
    ck_assert(!lossd_buf_failed(&b)); /* cleanup resets */
}
END_TEST

/*
 * buf.h: steal returns the data "NUL-terminated". A buffer nothing was
 * appended to must give "", not the uninitialised block reserve()
 * allocated: server.c reads --tls-cert/--tls-key files into a buf and
 * passes the stolen text to libmicrohttpd as a C string, so an empty file
 * would be read past its allocation.
 */
START_TEST(buf_steal_empty_is_terminated)
{
    for (int round = 0; round < 8; round++) {
        /* Dirty the heap so that a fresh block is unlikely to start with a zero. */
        char *junk = malloc(256);
        memset(junk, 'x', 256);
        free(junk);
        lossd_buf b;
        lossd_buf_init(&b, round % 2 ? 0 : (size_t)1 << 20);
        size_t len = 99;
        char *data = lossd_buf_steal(&b, &len);
        ck_assert_ptr_nonnull(data);
        ck_assert_uint_eq(len, 0);
        ck_assert_msg(data[0] == '\0', "an empty buffer was stolen as \"%.8s...\", not \"\"", data);
        free(data);
        lossd_buf_cleanup(&b);
    }
}
END_TEST

/* ------------------------------------------------------------ fault */

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
    json_t *body = parse(b.data);
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

/* ------------------------------------------------------------ codec: load */

static const lossd_function *find_function(lossd_kind kind, const char *name)
{
    const lossd_function *fn = lossd_function_find(kind, name);
    ck_assert_msg(fn != NULL, "%s/%s is not registered", lossd_kind_name(kind), name);
    return fn;
}

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
        {"[1, 2]", "one JSON object"},
        {"3", "'[' or '{' expected"},
        {"\"x\"", "'[' or '{' expected"},
        {"null", "'[' or '{' expected"},
        {"", "(line 1, column 0)"},
        {"{\"a\": 1} {}", "end of file expected"},
        {"{\"a\": NaN}", "invalid token"},
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
    ck_assert(same_double(number_at(root, "a"), 3.0));
    ck_assert(json_is_real(json_object_get(root, "b")));
    ck_assert(same_double(number_at(root, "b"), -12.0));
    /* Past the range of json_int_t: still a number, not an error. */
    ck_assert(same_double(number_at(root, "c"), 12345678901234567890.0));
    ck_assert(same_double(number_at(root, "d"), 0.5));
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
    json_t *root = lossd_codec_load(body.data, body.len, &arena, &f);
    ck_assert_msg(root != NULL, "%s", f.message);
    ck_assert_uint_gt(arena.bytes, (size_t)1 << 20);
    ck_assert(json_is_true(json_object_get(root, "grad")));
    json_t *input = json_object_get(root, "input");
    ck_assert_uint_eq(json_array_size(input), 200000);
    ck_assert(same_double(element(input, 0), 0.25));
    ck_assert(same_double(element(input, 199999), 199999.25));
    /* Binding reads the tree; the call keeps nothing of it once the arena is gone. */
    lossd_call c;
    lossd_tensors store = {0};
    lossd_limits lim = {1u << 20, 16};
    ck_assert_int_eq(
        lossd_codec_bind(find_function(LOSSD_KIND_ACTIVATION, "relu"), root, &lim, &c, &store, &f),
        0);
    lossd_arena_release(&arena);
    ck_assert_ptr_null(arena.chunks);
    ck_assert_uint_eq(arena.bytes, 0);
    lossd_error err = {0};
    ck_assert_int_eq(lossd_call_compute(&c, &err), 0);
    ck_assert(same_double(c.output.data[123456], 123456.25));
    ck_assert(c.want_grad && same_double(c.grad[7], 1.0));
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

typedef struct {
    lossd_call call;
    lossd_tensors store;
    lossd_fault fault;
} binding;

/*
 * Loads `body` and binds it to kind/name with at most max_elements
 * numbers. The JSON tree is released before returning: a bound call must
 * not need it. Returns lossd_codec_bind's result.
 */
static int bind_body(binding *b, lossd_kind kind, const char *name, const char *body,
                     size_t max_elements)
{
    memset(b, 0, sizeof *b);
    const lossd_function *fn = find_function(kind, name);
    json_t *obj = lossd_codec_load(body, strlen(body), NULL, &b->fault);
    ck_assert_msg(obj != NULL, "body refused: %s", b->fault.message);
    lossd_limits lim = {max_elements, 1024};
    int rc = lossd_codec_bind(fn, obj, &lim, &b->call, &b->store, &b->fault);
    json_decref(obj);
    ck_assert_int_eq(rc == 0, b->fault.kind == LOSSD_FAULT_NONE);
    return rc;
}

static void binding_cleanup(binding *b)
{
    lossd_call_cleanup(&b->call);
    lossd_tensors_free(&b->store);
}

/* Binds and expects success; fails the test with the fault otherwise. */
static void bind_ok(binding *b, lossd_kind kind, const char *name, const char *body)
{
    int rc = bind_body(b, kind, name, body, 1u << 24);
    ck_assert_msg(rc == 0, "%s/%s %s: %s", lossd_kind_name(kind), name, body, b->fault.message);
}

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

static void expect_tensor(const lossd_tensor *t, int rank, const size_t *shape, const double *data)
{
    ck_assert_int_eq(t->rank, rank);
    size_t size = 1;
    for (int d = 0; d < rank; d++) {
        ck_assert_uint_eq(t->shape[d], shape[d]);
        size *= shape[d];
    }
    ck_assert_uint_eq(t->size, size);
    for (size_t i = 0; i < size; i++)
        ck_assert_msg(same_double(t->data[i], data[i]), "element %zu: %.17g, want %.17g", i,
                      t->data[i], data[i]);
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
    ck_assert(same_double(param(&b.call, "eps")->number, 0.001));
    expect_tensor(&b.call.operand[0], 1, (size_t[]){4}, (double[]){0, 0, 1, 1});
    binding_cleanup(&b);

    /* An integer, a number in [0, 1] and a tensor parameter. */
    bind_ok(&b, LOSSD_KIND_LOSS, "cross_entropy",
            "{\"input\": [[1, 2, 3]], \"target\": [2], \"ignore_index\": 1, "
            "\"label_smoothing\": 0.25, \"weight\": [1, 2, 0.5]}");
    ck_assert(same_double(param(&b.call, "ignore_index")->number, 1));
    ck_assert(same_double(param(&b.call, "label_smoothing")->number, 0.25));
    ck_assert(param(&b.call, "weight")->set);
    expect_tensor(&param(&b.call, "weight")->tensor, 1, (size_t[]){3}, (double[]){1, 2, 0.5});
    ck_assert(param(&b.call, "ignore_index")->set);
    binding_cleanup(&b);

    /* A boolean and batchmean. */
    bind_ok(&b, LOSSD_KIND_LOSS, "kl_div",
            "{\"input\": [-1, -2], \"target\": [-1, -2], \"log_target\": true, "
            "\"reduction\": \"batchmean\"}");
    ck_assert(same_double(param(&b.call, "log_target")->number, 1));
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
    ck_assert(same_double(param(&b.call, "base")->number, 2));
    ck_assert(same_double(param(&b.call, "normalize")->number, 1));
    binding_cleanup(&b);
    bind_ok(&b, LOSSD_KIND_INFO, "kl_divergence",
            "{\"p\": [0.5, 0.5], \"q\": [0.25, 0.75], \"base\": \"e\"}");
    ck_assert(param(&b.call, "base")->set);
    ck_assert(same_double(param(&b.call, "base")->number, 0));
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
    ck_assert(same_double(param(&b.call, "delta")->number, 1.0));
    ck_assert_int_eq(b.call.reduction, LOSSD_REDUCTION_MEAN);
    ck_assert(!b.call.want_grad && !b.call.want_terms && !b.call.grad_output_set);
    binding_cleanup(&b);
}
END_TEST

START_TEST(bind_field_names)
{
    static const struct {
        lossd_kind kind;
        const char *name, *fields;
    } cases[] = {
        {LOSSD_KIND_LOSS, "mse", "input, target, reduction, grad, grad_output"},
        {LOSSD_KIND_LOSS, "giou",
         "input, target, reduction, grad, grad_output, terms, box_format, eps"},
        {LOSSD_KIND_LOSS, "cross_entropy",
         "input, target, reduction, grad, grad_output, weight, ignore_index, label_smoothing"},
        {LOSSD_KIND_ACTIVATION, "relu", "input, grad, grad_output"},
        {LOSSD_KIND_ACTIVATION, "prelu", "input, grad, grad_output, weight"},
        {LOSSD_KIND_INFO, "entropy", "p, base, normalize"},
        {LOSSD_KIND_INFO, "js_divergence", "p, q, base, normalize"},
        {LOSSD_KIND_PAIRWISE, "iou", "boxes1, boxes2, box_format"},
        {LOSSD_KIND_PAIRWISE, "ciou", "boxes1, boxes2, box_format, eps"},
    };
    char names[512];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        lossd_codec_field_names(find_function(cases[i].kind, cases[i].name), names, sizeof names);
        ck_assert_str_eq(names, cases[i].fields);
    }
    /* A short buffer is cut, never overrun. */
    char tiny[10];
    memset(tiny, 'x', sizeof tiny);
    lossd_codec_field_names(find_function(LOSSD_KIND_LOSS, "mse"), tiny, sizeof tiny);
    ck_assert_uint_lt(strlen(tiny), sizeof tiny);
    ck_assert_int_eq(strncmp(tiny, "input, ta", strlen(tiny)), 0);
}
END_TEST

START_TEST(bind_unknown_fields)
{
    bind_fails(LOSSD_KIND_LOSS, "mse", "{\"input\": [1], \"target\": [1], \"betta\": 1}", 100,
               LOSSD_FAULT_INVALID_ARGUMENT, "betta",
               "betta: unknown field; loss/mse takes: input, target, reduction, grad, "
               "grad_output");
    /* Fields of other functions or kinds are unknown here. */
    bind_fails(LOSSD_KIND_LOSS, "mse", "{\"input\": [1], \"terms\": true}", 100,
               LOSSD_FAULT_INVALID_ARGUMENT, "terms", "unknown field");
    bind_fails(LOSSD_KIND_ACTIVATION, "relu", "{\"input\": [1], \"reduction\": \"sum\"}", 100,
               LOSSD_FAULT_INVALID_ARGUMENT, "reduction",
               "unknown field; activation/relu takes: input, grad, grad_output");
    bind_fails(LOSSD_KIND_INFO, "entropy", "{\"p\": [1], \"q\": [1]}", 100,
               LOSSD_FAULT_INVALID_ARGUMENT, "q",
               "unknown field; info/entropy takes: p, base, normalize");
    bind_fails(LOSSD_KIND_INFO, "entropy", "{\"p\": [1], \"grad\": true}", 100,
               LOSSD_FAULT_INVALID_ARGUMENT, "grad", "unknown field");
    bind_fails(LOSSD_KIND_PAIRWISE, "iou", "{\"boxes1\": [], \"boxes2\": [], \"eps\": 0.1}", 100,
               LOSSD_FAULT_INVALID_ARGUMENT, "eps",
               "unknown field; pairwise/iou takes: boxes1, boxes2, box_format");
    /* Field names are case-sensitive. */
    bind_fails(LOSSD_KIND_LOSS, "mse", "{\"Input\": [1]}", 100, LOSSD_FAULT_INVALID_ARGUMENT,
               "Input", "unknown field");
    /* Not an object at all. */
    binding b;
    memset(&b, 0, sizeof b);
    json_t *array = json_array();
    lossd_limits lim = {100, 10};
    ck_assert_int_eq(lossd_codec_bind(find_function(LOSSD_KIND_LOSS, "mse"), array, &lim, &b.call,
                                      &b.store, &b.fault),
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
         "grad: expected true or false, got a number"},
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
        {LOSSD_KIND_LOSS, "giou", "{\"eps\": null}", "eps", "expected a number, got null"},
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
        {LOSSD_KIND_ACTIVATION, "gelu", "{\"approximate\": null}", "approximate",
         "expected a string, got null"},
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
    ck_assert(same_double(b.call.loss, 0.0));
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
    ck_assert(same_double(b.call.loss, 4.0));
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
    ck_assert_int_eq(bind_body(&b, LOSSD_KIND_PAIRWISE, "iou", text.data, 80), 0);
    lossd_error err = {0};
    ck_assert_int_eq(lossd_call_prepare(&b.call, &err), LOSSD_ETOOBIG);
    lossd_fault_from_error(&b.fault, &err);
    expect_fault(&b.fault, LOSSD_FAULT_TOO_LARGE, "boxes2", "the reply would hold 100 numbers");
    binding_cleanup(&b);
    ck_assert_int_eq(bind_body(&b, LOSSD_KIND_PAIRWISE, "iou", text.data, 100), 0);
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
    ck_assert(same_double(b.call.loss, 2.5));
    ck_assert(same_double(b.call.grad[0], 1.0) && same_double(b.call.grad[1], 2.0));
    binding_cleanup(&b);

    /* smooth_l1 with beta 0.5: 0.5 z^2 / beta below beta, |z| - beta / 2 above. */
    bind_ok(&b, LOSSD_KIND_LOSS, "smooth_l1",
            "{\"input\": [0.2, 2], \"target\": [0, 0], \"beta\": 0.5, \"reduction\": \"none\"}");
    ck_assert_int_eq(compute(&b, &err), 0);
    ck_assert_msg(fabs(b.call.output.data[0] - 0.04) <= 1e-17, "%.17g", b.call.output.data[0]);
    ck_assert(same_double(b.call.output.data[1], 1.75));
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

/* ------------------------------------------------------------ codec: reply */

/* Binds body to kind/name, computes it and returns its reply (caller frees). */
static char *reply_text(lossd_kind kind, const char *name, const char *body, const lossd_exec *exec)
{
    binding b;
    bind_ok(&b, kind, name, body);
    lossd_error err = {0};
    ck_assert_msg(lossd_call_compute(&b.call, &err) == 0, "%s/%s %s: %s", lossd_kind_name(kind),
                  name, body, err.message);
    lossd_buf out;
    lossd_buf_init(&out, 0);
    lossd_codec_write_reply(&b.call, exec, &out);
    ck_assert(!lossd_buf_failed(&out));
    size_t len;
    char *text = lossd_buf_steal(&out, &len);
    ck_assert_uint_eq(strlen(text), len);
    binding_cleanup(&b);
    return text;
}

/* The reply of kind/name for body must be exactly `want`. */
static void expect_reply(lossd_kind kind, const char *name, const char *body, const char *want)
{
    char *text = reply_text(kind, name, body, NULL);
    ck_assert_msg(strcmp(text, want) == 0, "%s/%s %s\n got %s\nwant %s", lossd_kind_name(kind),
                  name, body, text, want);
    json_decref(parse(text));
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
    json_t *reply = parse(text);
    ck_assert_uint_eq(json_object_size(reply), 3);
    json_t *losses = json_object_get(reply, "loss"), *terms = json_object_get(reply, "terms");
    ck_assert_uint_eq(json_array_size(losses), 2);
    ck_assert(same_double(number_at(reply, "n"), 2));
    ck_assert_uint_eq(json_object_size(terms), 2);
    for (size_t i = 0; i < 2; i++) {
        ck_assert_msg(fabs(element(losses, i) - loss[i]) <= 1e-15, "loss %zu: %.17g", i,
                      element(losses, i));
        ck_assert_msg(fabs(element(json_object_get(terms, "iou"), i) - iou[i]) <= 1e-15, "iou %zu",
                      i);
        ck_assert(same_double(element(json_object_get(terms, "enclosing_area"), i), area[i]));
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
    reply = parse(text);
    ck_assert(json_is_number(json_object_get(reply, "loss")));
    terms = json_object_get(reply, "terms");
    const char *names[] = {"iou", "rho2", "c2", "v", "alpha"};
    ck_assert_uint_eq(json_object_size(terms), 5);
    for (size_t k = 0; k < 5; k++)
        ck_assert_uint_eq(json_array_size(json_object_get(terms, names[k])), 3);
    /* rho2 of the first pair: centres (1,1) and (2,2); c2: the enclosing diagonal 3^2 + 3^2. */
    ck_assert(same_double(element(json_object_get(terms, "rho2"), 0), 2.0));
    ck_assert(same_double(element(json_object_get(terms, "c2"), 0), 18.0));
    ck_assert(same_double(element(json_object_get(terms, "v"), 1), 0.0));
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
    json_t *reply = parse(text);
    json_t *output = json_object_get(reply, "output"), *grad = json_object_get(reply, "grad");
    json_t *stats = json_object_get(reply, "stats");
    ck_assert_uint_eq(json_object_size(reply), 3);
    const double want_out[] = {0, 0, 2}, want_grad[] = {0, 0, 1};
    for (size_t i = 0; i < 3; i++) {
        ck_assert(element(output, i) == want_out[i]);
        ck_assert(same_double(element(grad, i), want_grad[i]));
    }
    ck_assert_uint_eq(json_object_size(stats), 2);
    ck_assert(same_double(number_at(stats, "n"), 3));
    ck_assert(same_double(number_at(stats, "zero_grad_fraction"), 2.0 / 3.0));
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
    json_t *reply = parse(text);
    json_t *value = json_object_get(reply, "value");
    ck_assert_uint_eq(json_array_size(value), 2);
    ck_assert_msg(fabs(element(value, 0) - log(2.0)) <= 1e-16, "%.17g", element(value, 0));
    ck_assert(element(value, 1) == 0);
    json_decref(reply);
    free(text);
    /* self_information is element-wise. */
    text =
        reply_text(LOSSD_KIND_INFO, "self_information", "{\"p\": [0.25, 0.75], \"base\": 2}", NULL);
    reply = parse(text);
    value = json_object_get(reply, "value");
    ck_assert(same_double(element(value, 0), 2.0));
    ck_assert_msg(fabs(element(value, 1) + log2(0.75)) <= 1e-15, "%.17g", element(value, 1));
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
    json_t *reply = parse(text);
    json_t *value = json_object_get(reply, "value");
    ck_assert(json_is_null(json_array_get(value, 0)));
    ck_assert(same_double(element(value, 1), 0.0));
    ck_assert(json_is_null(json_array_get(value, 2)));
    ck_assert(same_double(number_at(reply, "nonfinite"), 2));
    ck_assert_ptr_null(strstr(text, "nan"));
    ck_assert_ptr_null(strstr(text, "inf"));
    json_decref(reply);
    free(text);
    /* self_information of 0 is +inf. */
    text = reply_text(LOSSD_KIND_INFO, "self_information", "{\"p\": [0, 1, 0]}", NULL);
    reply = parse(text);
    value = json_object_get(reply, "value");
    ck_assert(json_is_null(json_array_get(value, 0)));
    ck_assert(element(value, 1) == 0);
    ck_assert(json_is_null(json_array_get(value, 2)));
    ck_assert(same_double(number_at(reply, "nonfinite"), 2));
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
                          bool expect_parallel, uint64_t *state)
{
    size_t size = 1;
    for (int d = 0; d < rank; d++)
        size *= shape[d];
    double *data = malloc(size * sizeof *data);
    for (size_t i = 0; i < size; i++) {
        uint64_t bits = rng_next(state);
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
    bind_ok(&b, LOSSD_KIND_ACTIVATION, "hardtanh", body.data);
    lossd_buf_cleanup(&body);
    expect_tensor(&b.call.operand[0], rank, shape, data);
    lossd_error err = {0};
    ck_assert_int_eq(lossd_call_compute(&b.call, &err), 0);

    lossd_buf sequential, parallel;
    lossd_buf_init(&sequential, 0);
    lossd_buf_init(&parallel, 0);
    lossd_codec_write_reply(&b.call, NULL, &sequential);
    size_t calls_before = atomic_load(&ce->calls);
    lossd_codec_write_reply(&b.call, exec, &parallel);
    size_t calls = atomic_load(&ce->calls) - calls_before;
    ck_assert(!lossd_buf_failed(&sequential) && !lossd_buf_failed(&parallel));
    /* Output and grad are both large: two parallel-fors, or none. */
    ck_assert_uint_eq(calls, expect_parallel ? 2 : 0);
    ck_assert_uint_eq(parallel.len, sequential.len);
    ck_assert_msg(memcmp(parallel.data, sequential.data, sequential.len) == 0,
                  "parallel and sequential replies differ (rank %d, %zu numbers)", rank, size);

    /* And the text is right: every output number is the input, every derivative 1. */
    json_t *reply = parse(sequential.data);
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
        ck_assert_msg(json_is_number(o) && same_double(json_number_value(o), data[i]),
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
    uint64_t state = 42;
    /* Shapes around the thresholds: 32768 numbers formatted in parallel, 16384 per task. */
    parallel_case(&exec, &ce, 1, (size_t[]){40000}, true, &state);
    parallel_case(&exec, &ce, 1, (size_t[]){32769}, true, &state);
    parallel_case(&exec, &ce, 1, (size_t[]){32767}, false, &state);
    parallel_case(&exec, &ce, 2, (size_t[]){250, 160}, true, &state);
    parallel_case(&exec, &ce, 2, (size_t[]){2, 20000}, true, &state);  /* rows longer than a task */
    parallel_case(&exec, &ce, 2, (size_t[]){1, 40000}, false, &state); /* one row: one task */
    parallel_case(&exec, &ce, 3, (size_t[]){10, 2000, 2}, true, &state);
    parallel_case(&exec, &ce, 4, (size_t[]){3, 7, 11, 173}, true, &state);
    lossd_pool_destroy(pool);
}
END_TEST

/* ------------------------------------------------------------ route */

START_TEST(route_fixed_endpoints)
{
    static const struct {
        const char *path, *method;
        lossd_endpoint endpoint;
        bool compute, protected_;
        const char *label;
    } routes[] = {
        {"/healthz", "GET", LOSSD_ROUTE_HEALTHZ, false, false, "healthz"},
        {"/readyz", "GET", LOSSD_ROUTE_READYZ, false, false, "readyz"},
        {"/metrics", "GET", LOSSD_ROUTE_METRICS, false, false, "metrics"},
        {"/v1", "GET", LOSSD_ROUTE_V1, false, true, "v1"},
        {"/v1/functions", "GET", LOSSD_ROUTE_FUNCTIONS, false, true, "functions"},
        {"/v1/batch", "POST", LOSSD_ROUTE_BATCH, true, true, "batch"},
    };
    static const char *const methods[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS"};
    char label[96];
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        for (size_t m = 0; m < sizeof methods / sizeof methods[0]; m++) {
            lossd_route r;
            lossd_fault f = {0};
            bool ok = strcmp(methods[m], routes[i].method) == 0 ||
                      (strcmp(routes[i].method, "GET") == 0 && strcmp(methods[m], "HEAD") == 0);
            int rc = lossd_route_find(methods[m], routes[i].path, &r, &f);
            ck_assert_msg(rc == (ok ? 0 : -1), "%s %s: %d", methods[m], routes[i].path, rc);
            ck_assert_int_eq(r.endpoint, routes[i].endpoint);
            ck_assert_ptr_null(r.fn);
            ck_assert_str_eq(r.allow, routes[i].method);
            ck_assert_str_eq(lossd_route_label(&r, label, sizeof label), routes[i].label);
            if (ok) {
                ck_assert_int_eq(f.kind, LOSSD_FAULT_NONE);
                ck_assert(r.compute == routes[i].compute);
                ck_assert(r.protected_ == routes[i].protected_);
            } else {
                expect_fault(&f, LOSSD_FAULT_METHOD, "", methods[m]);
                ck_assert_int_eq(lossd_fault_status(f.kind), 405);
                char want[128];
                snprintf(want, sizeof want, "%s is not allowed on %s; use %s", methods[m],
                         routes[i].path, routes[i].method);
                ck_assert_str_eq(f.message, want);
            }
        }
    }
}
END_TEST

START_TEST(route_every_function)
{
    char path[128], label[96], want[96];
    for (size_t i = 0; i < lossd_function_count(); i++) {
        const lossd_function *fn = lossd_function_at(i);
        snprintf(path, sizeof path, "/v1/%s/%s", lossd_kind_name(fn->kind), fn->name);
        lossd_route r;
        lossd_fault f = {0};
        ck_assert_msg(lossd_route_find("POST", path, &r, &f) == 0, "POST %s: %s", path, f.message);
        ck_assert_int_eq(r.endpoint, LOSSD_ROUTE_COMPUTE);
        ck_assert_ptr_eq(r.fn, fn);
        ck_assert(r.compute && r.protected_);
        ck_assert_str_eq(r.allow, "POST");
        snprintf(want, sizeof want, "%s/%s", lossd_kind_name(fn->kind), fn->name);
        ck_assert_str_eq(lossd_route_label(&r, label, sizeof label), want);
        /* Functions are POST only, HEAD included. */
        for (int m = 0; m < 3; m++) {
            const char *method = (const char *[]){"GET", "HEAD", "PUT"}[m];
            memset(&f, 0, sizeof f);
            ck_assert_int_eq(lossd_route_find(method, path, &r, &f), -1);
            expect_fault(&f, LOSSD_FAULT_METHOD, "", "use POST");
            ck_assert_str_eq(r.allow, "POST");
            ck_assert_ptr_eq(r.fn, fn);
            ck_assert_int_eq(r.endpoint, LOSSD_ROUTE_COMPUTE);
        }
    }
    /* Same names in different kinds are different functions. */
    lossd_route a, b;
    lossd_fault f = {0};
    ck_assert_int_eq(lossd_route_find("POST", "/v1/loss/giou", &a, &f), 0);
    ck_assert_int_eq(lossd_route_find("POST", "/v1/pairwise/giou", &b, &f), 0);
    ck_assert_ptr_ne(a.fn, b.fn);
    ck_assert_int_eq(b.fn->kind, LOSSD_KIND_PAIRWISE);
}
END_TEST

START_TEST(route_not_found)
{
    /* An unknown function lists every function of that kind. */
    for (int k = 0; k < LOSSD_KIND_COUNT; k++) {
        char path[64], label[96];
        snprintf(path, sizeof path, "/v1/%s/nope", lossd_kind_name((lossd_kind)k));
        lossd_route r;
        lossd_fault f = {0};
        ck_assert_int_eq(lossd_route_find("POST", path, &r, &f), -1);
        expect_fault(&f, LOSSD_FAULT_NOT_FOUND, "", "called \"nope\"");
        ck_assert_int_eq(lossd_fault_status(f.kind), 404);
        ck_assert_int_eq(r.endpoint, LOSSD_ROUTE_UNKNOWN);
        ck_assert_ptr_null(r.fn);
        ck_assert_str_eq(lossd_route_label(&r, label, sizeof label), "unknown");
        const char *list = strstr(f.message, " functions are: ");
        ck_assert_ptr_nonnull(list);
        size_t listed = 0;
        for (size_t i = 0; i < lossd_function_count(); i++) {
            const lossd_function *fn = lossd_function_at(i);
            char name[72];
            snprintf(name, sizeof name, " %s,", fn->name);
            bool in_list = strstr(list, name) != NULL;
            /* The last name ends the message. */
            size_t tail = strlen(list) - strlen(fn->name);
            in_list = in_list || (strcmp(list + tail, fn->name) == 0 && list[tail - 1] == ' ');
            if (fn->kind == (lossd_kind)k) {
                ck_assert_msg(in_list, "%s: \"%s\" is not listed in: %s", path, fn->name,
                              f.message);
                listed++;
            }
        }
        ck_assert_uint_gt(listed, 0);
    }
    /* Unknown function names are quoted, cut at 64 bytes. */
    char path[256] = "/v1/activation/";
    memset(path + strlen(path), 'z', 100);
    lossd_route r;
    lossd_fault f = {0};
    ck_assert_int_eq(lossd_route_find("POST", path, &r, &f), -1);
    char quoted[80] = "called \"";
    memset(quoted + strlen(quoted), 'z', 64);
    strcat(quoted, "\";");
    ck_assert_msg(strstr(f.message, quoted) != NULL, "%s", f.message);

    static const char *const paths[] = {"/index.html",   "/nope",        "/v1/",
                                        "/v1/loss",      "/v1/foo/bar",  "/healthz/",
                                        "/v1/lossx/mse", "/V1/loss/mse", "/v1/loss/mse/",
                                        "/v1//mse",      "v1/loss/mse",  "/v1/functions/x"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        memset(&f, 0, sizeof f);
        ck_assert_msg(lossd_route_find("POST", paths[i], &r, &f) == -1, "%s was found", paths[i]);
        expect_fault(&f, LOSSD_FAULT_NOT_FOUND, "", NULL);
        ck_assert_int_eq(r.endpoint, LOSSD_ROUTE_UNKNOWN);
        ck_assert_ptr_null(r.fn);
        ck_assert(!r.compute);
    }
    memset(&f, 0, sizeof f);
    lossd_route_find("GET", "/v1/foo/bar", &r, &f);
    ck_assert_str_eq(f.message,
                     "no endpoint at /v1/foo/bar; see GET /v1/functions for the catalog");
    /* /v1/loss/ names no function: the loss names are listed. */
    memset(&f, 0, sizeof f);
    lossd_route_find("POST", "/v1/loss/", &r, &f);
    expect_fault(&f, LOSSD_FAULT_NOT_FOUND, "", "the loss functions are: ");
}
END_TEST

/* ------------------------------------------------------------ options */

static const char *const env_names[] = {"LOSSD_LISTEN",          "LOSSD_WORKERS",
                                        "LOSSD_IO_THREADS",      "LOSSD_QUEUE",
                                        "LOSSD_MAX_BODY",        "LOSSD_MAX_ELEMENTS",
                                        "LOSSD_MAX_JOBS",        "LOSSD_TIMEOUT",
                                        "LOSSD_MAX_CONNECTIONS", "LOSSD_MAX_CONNECTIONS_PER_IP",
                                        "LOSSD_DRAIN_TIMEOUT",   "LOSSD_API_KEY_FILE",
                                        "LOSSD_TLS_CERT",        "LOSSD_TLS_KEY",
                                        "LOSSD_LOG_FORMAT",      NULL};

/* The options tests start and end with no LOSSD_* variable set. */
static void clear_env(void)
{
    for (size_t i = 0; env_names[i]; i++)
        unsetenv(env_names[i]);
}

/* Loads defaults + environment + argv (NULL-terminated); *err gets what was printed. */
static int load_config(lossd_config *cfg, lossd_action *action, char **err, char **argv)
{
    int argc = 0;
    while (argv[argc])
        argc++;
    size_t size;
    FILE *f = open_memstream(err, &size);
    ck_assert_ptr_nonnull(f);
    lossd_config_defaults(cfg);
    *action = (lossd_action)-1;
    int rc = lossd_config_load(cfg, argc, argv, f, action);
    fclose(f);
    return rc;
}

START_TEST(options_defaults)
{
    lossd_config cfg, defaults;
    lossd_action action;
    char *err;
    ck_assert_int_eq(load_config(&cfg, &action, &err, (char *[]){"lossd", NULL}), 0);
    ck_assert_str_eq(err, "");
    free(err);
    ck_assert_int_eq(action, LOSSD_ACTION_SERVE);
    lossd_config_defaults(&defaults);
    ck_assert_int_eq(memcmp(&cfg, &defaults, sizeof cfg), 0);
    /* API.md's defaults. */
    ck_assert_str_eq(cfg.listen, "127.0.0.1:8080");
    ck_assert_uint_eq(cfg.max_body, 64u * 1024 * 1024);
    ck_assert_uint_eq(cfg.max_elements, 16777216);
    ck_assert_uint_eq(cfg.max_jobs, 1024);
    ck_assert_uint_eq(cfg.timeout, 30);
    ck_assert_uint_eq(cfg.drain_timeout, 10);
    ck_assert_uint_eq(cfg.workers, 0); /* one per CPU */
    ck_assert_uint_ge(cfg.queue, 1);
    ck_assert_uint_eq(cfg.io_threads, 0); /* two, or one on one CPU */
    ck_assert_uint_ge(cfg.max_connections, 1);
    ck_assert_int_eq(cfg.log_format, LOSSD_LOG_TEXT);
    ck_assert_str_eq(cfg.api_key_file, "");
    ck_assert_str_eq(cfg.tls_cert, "");
    ck_assert_str_eq(cfg.tls_key, "");
}
END_TEST

START_TEST(options_flags)
{
    lossd_config cfg;
    lossd_action action;
    char *err;
    char *argv[] = {"lossd",     "--listen=0.0.0.0:9000", "--workers",
                    "3",         "--io-threads=2",        "--queue",
                    "7",         "--max-body=10MiB",      "--max-elements",
                    "100",       "--max-jobs=9",          "--timeout",
                    "5",         "--max-connections=11",  "--max-connections-per-ip",
                    "4",         "--drain-timeout=2",     "--api-key-file",
                    "/tmp/keys", "--tls-cert=/c.pem",     "--tls-key",
                    "/k.pem",    "--log-format=json",     NULL};
    ck_assert_int_eq(load_config(&cfg, &action, &err, argv), 0);
    ck_assert_str_eq(err, "");
    free(err);
    ck_assert_int_eq(action, LOSSD_ACTION_SERVE);
    ck_assert_str_eq(cfg.listen, "0.0.0.0:9000");
    ck_assert_uint_eq(cfg.workers, 3);
    ck_assert_uint_eq(cfg.io_threads, 2);
    ck_assert_uint_eq(cfg.queue, 7);
    ck_assert_uint_eq(cfg.max_body, 10u << 20);
    ck_assert_uint_eq(cfg.max_elements, 100);
    ck_assert_uint_eq(cfg.max_jobs, 9);
    ck_assert_uint_eq(cfg.timeout, 5);
    ck_assert_uint_eq(cfg.max_connections, 11);
    ck_assert_uint_eq(cfg.max_connections_per_ip, 4);
    ck_assert_uint_eq(cfg.drain_timeout, 2);
    ck_assert_str_eq(cfg.api_key_file, "/tmp/keys");
    ck_assert_str_eq(cfg.tls_cert, "/c.pem");
    ck_assert_str_eq(cfg.tls_key, "/k.pem");
    ck_assert_int_eq(cfg.log_format, LOSSD_LOG_JSON);

    /* The last of a repeated flag wins; "=" may carry an empty or "="-holding value. */
    ck_assert_int_eq(load_config(&cfg, &action, &err,
                                 (char *[]){"lossd", "--workers=1", "--workers", "6",
                                            "--log-format", "off", "--api-key-file=/a=b", NULL}),
                     0);
    free(err);
    ck_assert_uint_eq(cfg.workers, 6);
    ck_assert_int_eq(cfg.log_format, LOSSD_LOG_OFF);
    ck_assert_str_eq(cfg.api_key_file, "/a=b");
}
END_TEST

START_TEST(options_environment)
{
    lossd_config cfg;
    lossd_action action;
    char *err;
    setenv("LOSSD_LISTEN", "[::1]:7000", 1);
    setenv("LOSSD_WORKERS", "5", 1);
    setenv("LOSSD_MAX_BODY", "1G", 1);
    setenv("LOSSD_LOG_FORMAT", "off", 1);
    setenv("LOSSD_DRAIN_TIMEOUT", "3", 1);
    setenv("LOSSD_QUEUE", "", 1); /* empty: not set */
    ck_assert_int_eq(load_config(&cfg, &action, &err, (char *[]){"lossd", NULL}), 0);
    ck_assert_str_eq(err, "");
    free(err);
    ck_assert_str_eq(cfg.listen, "[::1]:7000");
    ck_assert_uint_eq(cfg.workers, 5);
    ck_assert_uint_eq(cfg.max_body, 1u << 30);
    ck_assert_int_eq(cfg.log_format, LOSSD_LOG_OFF);
    ck_assert_uint_eq(cfg.drain_timeout, 3);
    lossd_config defaults;
    lossd_config_defaults(&defaults);
    ck_assert_uint_eq(cfg.queue, defaults.queue);

    /* Flags win over the environment; the rest of the environment stays. */
    ck_assert_int_eq(
        load_config(&cfg, &action, &err,
                    (char *[]){"lossd", "--workers", "2", "--listen=127.0.0.1:1", NULL}),
        0);
    free(err);
    ck_assert_uint_eq(cfg.workers, 2);
    ck_assert_str_eq(cfg.listen, "127.0.0.1:1");
    ck_assert_uint_eq(cfg.max_body, 1u << 30);
    ck_assert_int_eq(cfg.log_format, LOSSD_LOG_OFF);

    /* A bad variable is named. */
    setenv("LOSSD_MAX_ELEMENTS", "lots", 1);
    ck_assert_int_eq(load_config(&cfg, &action, &err, (char *[]){"lossd", NULL}), -1);
    ck_assert_msg(strstr(err, "LOSSD_MAX_ELEMENTS: expected a whole number, got \"lots\"") != NULL,
                  "%s", err);
    free(err);
    clear_env();
}
END_TEST

START_TEST(options_sizes)
{
    static const struct {
        const char *text;
        size_t bytes;
    } good[] = {
        {"64M", (size_t)64 << 20},
        {"1G", (size_t)1 << 30},
        {"512K", (size_t)512 << 10},
        {"10MiB", (size_t)10 << 20},
        {"10KB", 10240},
        {"5k", 5120},
        {"2g", (size_t)2 << 30},
        {"123", 123},
        {"0000017", 17},
        {"1MB", (size_t)1 << 20},
        {"3KiB", 3072},
    };
    static const char *const bad[] = {"10X",          "M", "-1",  " 5",   "1.5M",
                                      "10MiBs",       "",  "1 M", "0x10", "99999999999999999999",
                                      "17179869184G", "1T"};
    lossd_config cfg;
    lossd_action action;
    char *err, arg[64];
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        snprintf(arg, sizeof arg, "--max-body=%s", good[i].text);
        ck_assert_msg(load_config(&cfg, &action, &err, (char *[]){"lossd", arg, NULL}) == 0,
                      "%s: %s", arg, err);
        free(err);
        ck_assert_msg(cfg.max_body == good[i].bytes, "%s: %zu bytes", arg, cfg.max_body);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(arg, sizeof arg, "--max-body=%s", bad[i]);
        ck_assert_msg(load_config(&cfg, &action, &err, (char *[]){"lossd", arg, NULL}) == -1,
                      "%s was accepted: %zu", arg, cfg.max_body);
        ck_assert_msg(strstr(err, "--max-body: expected a whole number of bytes") != NULL, "%s",
                      err);
        free(err);
    }
    /* Counts and seconds take no suffix. */
    ck_assert_int_eq(
        load_config(&cfg, &action, &err, (char *[]){"lossd", "--max-elements=10K", NULL}), -1);
    ck_assert_ptr_nonnull(strstr(err, "--max-elements: expected a whole number, got \"10K\""));
    free(err);
    ck_assert_int_eq(load_config(&cfg, &action, &err, (char *[]){"lossd", "--timeout=30s", NULL}),
                     -1);
    free(err);
}
END_TEST

START_TEST(options_errors)
{
    static const struct {
        const char *args[4];
        const char *message;
    } cases[] = {
        {{"--nope"}, "lossd: unknown option \"--nope\" (see --help)"},
        {{"--listenx=1"}, "unknown option \"--listenx=1\""},
        {{"-h"}, "unexpected argument \"-h\""},
        {{"serve"}, "unexpected argument \"serve\""},
        {{"--listen"}, "lossd: --listen needs a value"},
        {{"--workers", "abc"}, "lossd: --workers: expected a whole number, got \"abc\""},
        {{"--workers=-2"}, "--workers: expected a whole number"},
        {{"--tls-cert", "/c.pem"}, "lossd: --tls-cert and --tls-key go together"},
        {{"--tls-key=/k.pem"}, "--tls-cert and --tls-key go together"},
        {{"--queue", "0"}, "lossd: --queue must be at least 1"},
        {{"--max-elements=0"}, "--max-elements must be at least 1"},
        {{"--max-body=0"}, "--max-body must be at least 1"},
        {{"--max-jobs", "0"}, "--max-jobs must be at least 1"},
        {{"--max-connections=0"}, "--max-connections must be at least 1"},
        {{"--log-format=xml"}, "--log-format: expected text, json or off, got \"xml\""},
        {{"--listen", "nope"}, "lossd: --listen: expected HOST:PORT, got \"nope\""},
        {{"--listen=127.0.0.1:70000"}, "--listen: expected HOST:PORT"},
        {{"--help=1"}, "lossd: --help takes no value"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *argv[6] = {"lossd"};
        int argc = 1;
        for (int a = 0; a < 4 && cases[i].args[a]; a++)
            argv[argc++] = (char *)cases[i].args[a];
        argv[argc] = NULL;
        lossd_config cfg;
        lossd_action action;
        char *err;
        ck_assert_msg(load_config(&cfg, &action, &err, argv) == -1, "case %zu (%s) accepted", i,
                      argv[1]);
        ck_assert_msg(strstr(err, cases[i].message) != NULL,
                      "case %zu: printed \"%s\", want \"%s\"", i, err, cases[i].message);
        ck_assert_msg(err[strlen(err) - 1] == '\n', "case %zu: no newline", i);
        free(err);
    }
    /* A string longer than its buffer is refused, not cut. */
    char *listen = malloc(400);
    memset(listen, 'h', 390);
    strcpy(listen + 390, ":80");
    lossd_config cfg;
    lossd_action action;
    char *err;
    ck_assert_int_eq(
        load_config(&cfg, &action, &err, (char *[]){"lossd", "--listen", listen, NULL}), -1);
    ck_assert_ptr_nonnull(strstr(err, "--listen: value too long"));
    free(err);
    free(listen);
}
END_TEST

START_TEST(options_actions)
{
    lossd_config cfg;
    lossd_action action;
    char *err;
    ck_assert_int_eq(load_config(&cfg, &action, &err, (char *[]){"lossd", "--help", NULL}), 0);
    ck_assert_int_eq(action, LOSSD_ACTION_HELP);
    ck_assert_str_eq(err, "");
    free(err);
    ck_assert_int_eq(load_config(&cfg, &action, &err, (char *[]){"lossd", "--version", NULL}), 0);
    ck_assert_int_eq(action, LOSSD_ACTION_VERSION);
    free(err);
    /* --help answers even beside options that would not validate. */
    ck_assert_int_eq(
        load_config(&cfg, &action, &err, (char *[]){"lossd", "--queue", "0", "--help", NULL}), 0);
    ck_assert_int_eq(action, LOSSD_ACTION_HELP);
    free(err);
    /* --healthcheck uses (and validates) the configured address. */
    ck_assert_int_eq(
        load_config(&cfg, &action, &err,
                    (char *[]){"lossd", "--healthcheck", "--listen", "[::1]:9999", NULL}),
        0);
    ck_assert_int_eq(action, LOSSD_ACTION_HEALTHCHECK);
    ck_assert_str_eq(cfg.listen, "[::1]:9999");
    free(err);
    ck_assert_int_eq(load_config(&cfg, &action, &err,
                                 (char *[]){"lossd", "--healthcheck", "--listen=bad", NULL}),
                     -1);
    free(err);
}
END_TEST

START_TEST(options_listen)
{
    static const struct {
        const char *listen, *host;
        unsigned port;
    } good[] = {
        {"127.0.0.1:8080", "127.0.0.1", 8080}, {"[::1]:8080", "::1", 8080},
        {"localhost:0", "localhost", 0},       {"[::]:65535", "::", 65535},
        {"0.0.0.0:1", "0.0.0.0", 1},           {"example.org:443", "example.org", 443},
    };
    static const char *const bad[] = {"127.0.0.1", "127.0.0.1:", ":8080",    "[::1]8080",
                                      "[::1]",     "[::1:80",    "[]:80",    "host:65536",
                                      "host:-1",   "host:80x",   "host: 80", ""};
    lossd_config cfg;
    lossd_config_defaults(&cfg);
    char host[256];
    unsigned port;
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        strcpy(cfg.listen, good[i].listen);
        port = 12345;
        ck_assert_msg(lossd_config_listen(&cfg, host, sizeof host, &port) == 0, "%s refused",
                      good[i].listen);
        ck_assert_str_eq(host, good[i].host);
        ck_assert_uint_eq(port, good[i].port);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        strcpy(cfg.listen, bad[i]);
        ck_assert_msg(lossd_config_listen(&cfg, host, sizeof host, &port) == -1, "%s accepted",
                      bad[i]);
    }
    /* A host that does not fit the caller's buffer is refused. */
    strcpy(cfg.listen, "127.0.0.1:80");
    char small[9];
    ck_assert_int_eq(lossd_config_listen(&cfg, small, sizeof small, &port), -1);
    char exact[10];
    ck_assert_int_eq(lossd_config_listen(&cfg, exact, sizeof exact, &port), 0);
    ck_assert_str_eq(exact, "127.0.0.1");
}
END_TEST

START_TEST(options_usage)
{
    char *text;
    size_t size;
    FILE *f = open_memstream(&text, &size);
    lossd_config_usage(f);
    fclose(f);
    for (size_t i = 0; env_names[i]; i++) {
        char want[64];
        snprintf(want, sizeof want, "[%s; default ", env_names[i]);
        ck_assert_msg(strstr(text, want) != NULL, "--help does not mention %s", env_names[i]);
    }
    static const char *const fragments[] = {"Usage: lossd [OPTION]...",
                                            "--listen HOST:PORT",
                                            "--help",
                                            "--version",
                                            "--healthcheck",
                                            "[LOSSD_LISTEN; default 127.0.0.1:8080]",
                                            "[LOSSD_MAX_BODY; default 64M]",
                                            "[LOSSD_MAX_ELEMENTS; default 16777216]",
                                            "[LOSSD_MAX_JOBS; default 1024]",
                                            "[LOSSD_TIMEOUT; default 30]",
                                            "[LOSSD_DRAIN_TIMEOUT; default 10]",
                                            "[LOSSD_API_KEY_FILE; default unset]",
                                            "[LOSSD_LOG_FORMAT; default text]"};
    for (size_t i = 0; i < sizeof fragments / sizeof fragments[0]; i++)
        ck_assert_msg(strstr(text, fragments[i]) != NULL, "--help lacks \"%s\"", fragments[i]);
    free(text);
}
END_TEST

/* ------------------------------------------------------------ auth */

/* Writes `content` to a new temporary file; returns its path (caller unlinks and frees). */
static char *temp_file(const char *content)
{
    const char *dir = getenv("TMPDIR");
    char *path;
    ck_assert_int_gt(asprintf(&path, "%s/lossd-check-XXXXXX", dir && *dir ? dir : "/tmp"), 0);
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    size_t len = strlen(content);
    ck_assert_int_eq(write(fd, content, len), (ssize_t)len);
    close(fd);
    return path;
}

/* lossd_auth_load with its complaints captured in *err. */
static lossd_auth *auth_load(const char *path, char **err)
{
    size_t size;
    FILE *f = open_memstream(err, &size);
    lossd_auth *a = lossd_auth_load(path, f);
    fclose(f);
    return a;
}

START_TEST(auth_keys)
{
    char *path = temp_file("# production keys\n"
                           "  alpha-key-1  \n"
                           "\n"
                           "   \n"
                           "\tbeta_key\t\r\n"
                           "# gamma-commented\n"
                           "k\n"
                           "last-key-without-newline");
    char *err;
    lossd_auth *a = auth_load(path, &err);
    ck_assert_msg(a != NULL, "%s", err);
    ck_assert_str_eq(err, "");
    free(err);
    static const struct {
        const char *header;
        bool ok;
    } cases[] = {
        {"Bearer alpha-key-1", true},
        {"bearer beta_key", true},
        {"BEARER k", true},
        {"BeArEr last-key-without-newline", true},
        {"Bearer   alpha-key-1", true}, /* spaces after the scheme are skipped */
        {"Bearer alpha-key", false},    /* a prefix of a key */
        {"Bearer alpha-key-12", false}, /* a key and one more character */
        {"Bearer alpha-key-1 ", false},
        {"Bearer  k2", false},
        {"Bearer ALPHA-KEY-1", false}, /* keys are case-sensitive */
        {"Bearer gamma-commented", false},
        {"Bearer # gamma-commented", false},
        {"Bearer ", false},
        {"Bearer", false},
        {"", false},
        {"Basic alpha-key-1", false},
        {"alpha-key-1", false},
        {"Bearer\talpha-key-1", false},
        {"Bearer beta_key\t", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        ck_assert_msg(lossd_auth_check(a, cases[i].header) == cases[i].ok, "\"%s\": %s",
                      cases[i].header, cases[i].ok ? "refused" : "accepted");
    ck_assert(!lossd_auth_check(a, NULL));
    /* A long token (longer than any key could be) is refused, not overrun. */
    char long_header[1200] = "Bearer ";
    memset(long_header + 7, 'k', 1000);
    ck_assert(!lossd_auth_check(a, long_header));
    lossd_auth_destroy(a);
    lossd_auth_destroy(NULL);
    unlink(path);
    free(path);
}
END_TEST

START_TEST(auth_bad_files)
{
    char *err;
    /* Only comments and blank lines: no key. */
    char *path = temp_file("# nothing here\n\n   \n#x\n");
    ck_assert_ptr_null(auth_load(path, &err));
    ck_assert_msg(strstr(err, "holds no key") != NULL && strstr(err, path) != NULL, "%s", err);
    free(err);
    unlink(path);
    free(path);
    /* An empty file. */
    path = temp_file("");
    ck_assert_ptr_null(auth_load(path, &err));
    ck_assert_ptr_nonnull(strstr(err, "holds no key"));
    free(err);
    unlink(path);
    free(path);
    /* A key longer than 255 bytes. */
    char content[400];
    memset(content, 'x', 300);
    strcpy(content + 300, "\n");
    path = temp_file(content);
    ck_assert_ptr_null(auth_load(path, &err));
    ck_assert_msg(strstr(err, ":1: key longer than 255 bytes") != NULL, "%s", err);
    free(err);
    unlink(path);
    free(path);
    /* A file that does not exist. */
    ck_assert_ptr_null(auth_load("/nonexistent/lossd/keys", &err));
    ck_assert_msg(strstr(err, "/nonexistent/lossd/keys") != NULL &&
                      strstr(err, "No such file or directory") != NULL,
                  "%s", err);
    free(err);
}
END_TEST

/* ------------------------------------------------------------ pool */

/* Jobs report through a gate: a lock, a condition and counters. */
typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    bool open;      /* blocked jobs may finish */
    size_t waiting; /* blocked jobs inside */
    size_t done;    /* jobs finished */
} gate;

static void gate_init(gate *g)
{
    pthread_mutex_init(&g->lock, NULL);
    pthread_cond_init(&g->changed, NULL);
    g->open = false;
    g->waiting = g->done = 0;
}

static void gate_destroy(gate *g)
{
    pthread_cond_destroy(&g->changed);
    pthread_mutex_destroy(&g->lock);
}

static void gate_open(gate *g)
{
    pthread_mutex_lock(&g->lock);
    g->open = true;
    pthread_cond_broadcast(&g->changed);
    pthread_mutex_unlock(&g->lock);
}

static size_t gate_read(gate *g, const size_t *counter)
{
    pthread_mutex_lock(&g->lock);
    size_t n = *counter;
    pthread_mutex_unlock(&g->lock);
    return n;
}

/* Waits up to `seconds` for *counter to reach want; returns what it reached. */
static size_t gate_wait_for(gate *g, const size_t *counter, size_t want, int seconds)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += seconds;
    pthread_mutex_lock(&g->lock);
    while (*counter < want && pthread_cond_timedwait(&g->changed, &g->lock, &deadline) == 0)
        ;
    size_t n = *counter;
    pthread_mutex_unlock(&g->lock);
    return n;
}

static size_t gate_wait(gate *g, const size_t *counter, size_t want)
{
    return gate_wait_for(g, counter, want, 10);
}

/* A job that counts itself done. */
static void count_job(void *arg)
{
    gate *g = arg;
    pthread_mutex_lock(&g->lock);
    g->done++;
    pthread_cond_broadcast(&g->changed);
    pthread_mutex_unlock(&g->lock);
}

/* A job that waits until the gate opens, then counts itself done. */
static void blocked_job(void *arg)
{
    gate *g = arg;
    pthread_mutex_lock(&g->lock);
    g->waiting++;
    pthread_cond_broadcast(&g->changed);
    while (!g->open)
        pthread_cond_wait(&g->changed, &g->lock);
    g->waiting--;
    g->done++;
    pthread_cond_broadcast(&g->changed);
    pthread_mutex_unlock(&g->lock);
}

/* A job that must never run. */
static void forbidden_job(void *arg)
{
    atomic_store((atomic_bool *)arg, true);
}

START_TEST(pool_runs_every_job)
{
    ck_assert_ptr_null(lossd_pool_create(0, 8));
    ck_assert_ptr_null(lossd_pool_create(2, 0));
    lossd_pool *p = lossd_pool_create(4, 64);
    ck_assert_ptr_nonnull(p);
    ck_assert_uint_eq(lossd_pool_exec(p)->width, 4);
    gate g;
    gate_init(&g);
    const size_t n_jobs = 5000;
    for (size_t i = 0; i < n_jobs; i++) {
        /* Mixed cost hints: small ones, and large ones that wake more workers. */
        size_t cost = i % 7 == 0 ? (size_t)1 << 20 : 100;
        while (lossd_pool_submit(p, count_job, &g, cost) != 0)
            sleep_ms(1); /* the queue is full: let the workers catch up */
    }
    ck_assert_uint_eq(gate_wait(&g, &g.done, n_jobs), n_jobs);
    WAIT_FOR(lossd_pool_running(p) == 0);
    ck_assert_uint_eq(lossd_pool_queued(p), 0);
    lossd_pool_destroy(p);
    ck_assert_uint_eq(g.done, n_jobs); /* and not one more */
    gate_destroy(&g);
}
END_TEST

/*
 * Tests that block workers keep their gate in static storage: should an
 * assertion fail while a worker waits on it (with CK_FORK=no the process
 * goes on), the worker keeps waiting on valid memory.
 */
START_TEST(pool_queue_capacity)
{
    static gate g;
    gate_init(&g);
    lossd_pool *p = lossd_pool_create(1, 4);
    ck_assert_ptr_nonnull(p);
    static atomic_bool ran;
    atomic_store(&ran, false);
    /* The only worker takes a job that blocks. */
    ck_assert_int_eq(lossd_pool_submit(p, blocked_job, &g, 0), 0);
    ck_assert_uint_eq(gate_wait(&g, &g.waiting, 1), 1);
    ck_assert_uint_eq(lossd_pool_running(p), 1);
    ck_assert_uint_eq(lossd_pool_queued(p), 0);
    /* Four wait in the queue; a fifth is refused at once and never runs. */
    for (size_t i = 0; i < 4; i++) {
        ck_assert_int_eq(lossd_pool_submit(p, count_job, &g, 10), 0);
        ck_assert_uint_eq(lossd_pool_queued(p), i + 1);
    }
    ck_assert_int_eq(lossd_pool_submit(p, forbidden_job, &ran, 10), -1);
    ck_assert_int_eq(lossd_pool_submit(p, forbidden_job, &ran, (size_t)1 << 30), -1);
    ck_assert_uint_eq(lossd_pool_queued(p), 4);
    ck_assert_uint_eq(lossd_pool_running(p), 1);
    ck_assert_uint_eq(gate_read(&g, &g.done), 0);
    /* Open the gate: the blocked job and the four queued ones all run. */
    gate_open(&g);
    ck_assert_uint_eq(gate_wait(&g, &g.done, 5), 5);
    WAIT_FOR(lossd_pool_running(p) == 0 && lossd_pool_queued(p) == 0);
    /* The ring wraps: the queue takes four again. */
    for (size_t i = 0; i < 4; i++)
        ck_assert_int_eq(lossd_pool_submit(p, count_job, &g, 10), 0);
    ck_assert_uint_eq(gate_wait(&g, &g.done, 9), 9);
    lossd_pool_destroy(p);
    ck_assert(!atomic_load(&ran));
    ck_assert_uint_eq(g.done, 9);
    gate_destroy(&g);
}
END_TEST

/*
 * pool.h: "small jobs are left to workers already awake, large ones wake
 * more"; pool.c: a large job "gets its own worker". So a second large job
 * submitted while one worker is busy must start on the sleeping worker,
 * not wait in the queue until the first job ends.
 */
START_TEST(pool_large_jobs_get_their_own_worker)
{
    static gate g;
    gate_init(&g);
    lossd_pool *p = lossd_pool_create(2, 8);
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(lossd_pool_submit(p, blocked_job, &g, (size_t)1 << 20), 0);
    ck_assert_uint_eq(gate_wait(&g, &g.waiting, 1), 1);
    WAIT_FOR(lossd_pool_running(p) == 1 && lossd_pool_queued(p) == 0);
    sleep_ms(50); /* let the idle worker settle into its sleep */
    ck_assert_int_eq(lossd_pool_submit(p, blocked_job, &g, (size_t)1 << 20), 0);
    size_t side_by_side = gate_wait_for(&g, &g.waiting, 2, 3);
    size_t running = lossd_pool_running(p), queued = lossd_pool_queued(p);
    /* Release both before judging, so that a failure leaves no worker blocked. */
    gate_open(&g);
    ck_assert_uint_eq(gate_wait(&g, &g.done, 2), 2);
    lossd_pool_destroy(p);
    gate_destroy(&g);
    ck_assert_msg(side_by_side == 2,
                  "a large job waited 3 s in the queue while a worker slept "
                  "(running %zu, queued %zu)",
                  running, queued);
}
END_TEST

/* A parallel-for's bookkeeping: how often each index ran, and their sum. */
typedef struct {
    atomic_uchar *hits;
    atomic_ullong sum;
    size_t n;
} tally;

static void tally_task(void *arg, size_t i)
{
    tally *t = arg;
    atomic_fetch_add(&t->hits[i], 1);
    atomic_fetch_add(&t->sum, (unsigned long long)i);
}

static void tally_init(tally *t, size_t n)
{
    t->hits = calloc(n ? n : 1, sizeof *t->hits);
    atomic_init(&t->sum, 0);
    t->n = n;
}

/* Every index ran exactly once. */
static void tally_check(tally *t)
{
    for (size_t i = 0; i < t->n; i++)
        ck_assert_msg(atomic_load(&t->hits[i]) == 1, "index %zu ran %d times", i,
                      (int)atomic_load(&t->hits[i]));
    unsigned long long n = t->n;
    ck_assert_uint_eq(atomic_load(&t->sum), n ? n * (n - 1) / 2 : 0);
    free(t->hits);
}

/* Two tasks that each wait for the other to start: they need two threads at once. */
typedef struct {
    atomic_int started;
    atomic_bool met;
} rendezvous;

static void rendezvous_task(void *arg, size_t i)
{
    rendezvous *r = arg;
    atomic_fetch_add(&r->started, 1);
    for (int ms = 0; ms < 5000 && atomic_load(&r->started) < 2; ms++)
        sleep_ms(1);
    if (atomic_load(&r->started) >= 2)
        atomic_store(&r->met, true);
}

START_TEST(pool_parallel_for)
{
    lossd_pool *p = lossd_pool_create(4, 16);
    const lossd_exec *exec = lossd_pool_exec(p);
    ck_assert_ptr_eq(lossd_pool_exec(p), exec);
    const size_t sizes[] = {0, 1, 2, 3, 100, 100000};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        tally t;
        tally_init(&t, sizes[s]);
        lossd_exec_for(exec, t.n, tally_task, &t);
        tally_check(&t);
    }
    /* Sequential without an executor, too. */
    tally t;
    tally_init(&t, 1000);
    lossd_exec_for(NULL, t.n, tally_task, &t);
    tally_check(&t);
    /* Idle workers really take part. */
    rendezvous r = {0};
    lossd_exec_for(exec, 2, rendezvous_task, &r);
    ck_assert_msg(atomic_load(&r.met), "no worker helped with a parallel-for");
    lossd_pool_destroy(p);
}
END_TEST

/* A pool job that runs a parallel-for whose tasks run parallel-fors. */
typedef struct {
    const lossd_exec *exec;
    atomic_uchar *hits; /* outer x inner */
    size_t outer, inner;
    gate *g;
} nested_job_ctx;

typedef struct {
    nested_job_ctx *ctx;
    size_t row;
} nested_row;

static void nested_inner(void *arg, size_t j)
{
    nested_row *row = arg;
    atomic_fetch_add(&row->ctx->hits[row->row * row->ctx->inner + j], 1);
}

static void nested_outer(void *arg, size_t i)
{
    nested_job_ctx *ctx = arg;
    nested_row row = {ctx, i};
    lossd_exec_for(ctx->exec, ctx->inner, nested_inner, &row);
}

static void nested_job(void *arg)
{
    nested_job_ctx *ctx = arg;
    lossd_exec_for(ctx->exec, ctx->outer, nested_outer, ctx);
    count_job(ctx->g);
}

START_TEST(pool_nested_parallel_for)
{
    lossd_pool *p = lossd_pool_create(3, 8);
    gate g;
    gate_init(&g);
    enum { N_JOBS = 4, OUTER = 64, INNER = 500 };
    nested_job_ctx ctx[N_JOBS];
    for (int k = 0; k < N_JOBS; k++) {
        ctx[k] = (nested_job_ctx){lossd_pool_exec(p), calloc(OUTER * INNER, sizeof(atomic_uchar)),
                                  OUTER, INNER, &g};
        ck_assert_int_eq(lossd_pool_submit(p, nested_job, &ctx[k], (size_t)1 << 20), 0);
    }
    /* Meanwhile the test thread runs its own parallel-for on the same pool. */
    tally t;
    tally_init(&t, 50000);
    lossd_exec_for(lossd_pool_exec(p), t.n, tally_task, &t);
    tally_check(&t);
    ck_assert_uint_eq(gate_wait(&g, &g.done, N_JOBS), N_JOBS);
    for (int k = 0; k < N_JOBS; k++) {
        for (size_t i = 0; i < OUTER * INNER; i++)
            ck_assert_msg(atomic_load(&ctx[k].hits[i]) == 1, "job %d, index %zu ran %d times", k, i,
                          (int)atomic_load(&ctx[k].hits[i]));
        free(ctx[k].hits);
    }
    lossd_pool_destroy(p);
    gate_destroy(&g);
}
END_TEST

/* A job that takes a while, then counts itself done. */
static void slow_job(void *arg)
{
    sleep_ms(20);
    atomic_fetch_add((atomic_size_t *)arg, 1);
}

START_TEST(pool_destroy_waits)
{
    lossd_pool *p = lossd_pool_create(2, 16);
    atomic_size_t done = 0;
    for (int i = 0; i < 10; i++)
        ck_assert_int_eq(lossd_pool_submit(p, slow_job, &done, 10), 0);
    lossd_pool_destroy(p); /* the ten accepted jobs finish first */
    ck_assert_uint_eq(atomic_load(&done), 10);
    lossd_pool_destroy(NULL);
}
END_TEST

/* ------------------------------------------------------------ metrics */

/* True when `line` is one whole line of text. */
static bool has_line(const char *text, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = text; (p = strstr(p, line)) != NULL; p++)
        if ((p == text || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0'))
            return true;
    return false;
}

/* Asserts that a printf-formatted line is one whole line of text (which is shown cut short). */
#define ASSERT_LINE(text, ...)                                                                \
    do {                                                                                      \
        char line_[256];                                                                      \
        snprintf(line_, sizeof line_, __VA_ARGS__);                                           \
        ck_assert_msg(has_line((text), line_), "no line \"%s\" in:\n%.2000s", line_, (text)); \
    } while (0)

static lossd_route route_of(const char *method, const char *path)
{
    lossd_route r;
    lossd_fault f = {0};
    lossd_route_find(method, path, &r, &f);
    return r;
}

START_TEST(metrics_render)
{
    lossd_metrics *m = lossd_metrics_create();
    ck_assert_ptr_nonnull(m);
    lossd_route giou = route_of("POST", "/v1/loss/giou");
    lossd_route relu = route_of("POST", "/v1/activation/relu");
    lossd_route healthz = route_of("GET", "/healthz");
    lossd_route unknown = route_of("GET", "/nope");
    lossd_route batch = route_of("POST", "/v1/batch");
    lossd_route wrong_method = route_of("GET", "/v1/loss/giou");
    /* giou: three 200s and a 422, over the histogram; 0.0005 is in the le="0.0005" bucket. */
    lossd_metrics_request(m, &giou, 200, 0.0005, 8);
    lossd_metrics_request(m, &giou, 200, 0.003, 8);
    lossd_metrics_request(m, &giou, 200, 0.3, 8);
    lossd_metrics_request(m, &giou, 422, 2.0, 8);
    lossd_metrics_request(m, &wrong_method, 405, 0.0001, 0);
    lossd_metrics_request(m, &relu, 200, 20.0, 1000);
    lossd_metrics_request(m, &healthz, 200, 0.0001, 0);
    lossd_metrics_request(m, &healthz, 200, 0.0001, 0);
    lossd_metrics_request(m, &unknown, 404, 0.0001, 0);
    lossd_metrics_request(m, &batch, 200, 0.01, 77);
    lossd_metrics_request(m, &relu, 418, 0.0001, 0); /* not a status lossd answers */
    lossd_metrics_reject(m, LOSSD_REJECT_OVERLOADED);
    lossd_metrics_reject(m, LOSSD_REJECT_OVERLOADED);
    lossd_metrics_reject(m, LOSSD_REJECT_DRAINING);
    lossd_metrics_reject(m, LOSSD_REJECT_UNAUTHORIZED);
    lossd_metrics_reject(m, LOSSD_REJECT_COUNT); /* ignored */

    lossd_gauges gauges = {.queue_depth = 5, .inflight = 7, .open = 9};
    lossd_buf out;
    lossd_buf_init(&out, 0);
    lossd_metrics_render(m, &gauges, &out);
    ck_assert(!lossd_buf_failed(&out));
    const char *text = out.data;
    ck_assert_int_eq(text[out.len - 1], '\n');

    ASSERT_LINE(text, "# TYPE lossd_requests_total counter");
    ck_assert(!has_line(text, "lossd_requests_total{function=\"loss/giou\",code=\"200\"} 4"));
    ASSERT_LINE(text, "lossd_requests_total{function=\"loss/giou\",code=\"200\"} 3");
    ASSERT_LINE(text, "lossd_requests_total{function=\"loss/giou\",code=\"422\"} 1");
    ASSERT_LINE(text, "lossd_requests_total{function=\"loss/giou\",code=\"405\"} 1");
    ASSERT_LINE(text, "lossd_requests_total{function=\"activation/relu\",code=\"200\"} 1");
    ASSERT_LINE(text, "lossd_requests_total{function=\"activation/relu\",code=\"other\"} 1");
    ASSERT_LINE(text, "lossd_requests_total{function=\"healthz\",code=\"200\"} 2");
    ASSERT_LINE(text, "lossd_requests_total{function=\"unknown\",code=\"404\"} 1");
    ASSERT_LINE(text, "lossd_requests_total{function=\"batch\",code=\"200\"} 1");
    /* Series that saw nothing are left out. */
    ck_assert_ptr_null(strstr(text, "lossd_requests_total{function=\"loss/mse\""));
    ck_assert_ptr_null(strstr(text, "lossd_requests_total{function=\"readyz\""));

    /* The histogram is cumulative, ends at +Inf and counts every request. */
    ASSERT_LINE(text, "# TYPE lossd_request_duration_seconds histogram");
    static const struct {
        const char *le;
        int count;
    } buckets[] = {{"0.0005", 2}, {"0.001", 2}, {"0.0025", 2}, {"0.005", 3}, {"0.01", 3},
                   {"0.025", 3},  {"0.05", 3},  {"0.1", 3},    {"0.25", 3},  {"0.5", 4},
                   {"1", 4},      {"2.5", 5},   {"5", 5},      {"10", 5},    {"+Inf", 5}};
    for (size_t i = 0; i < sizeof buckets / sizeof buckets[0]; i++)
        ASSERT_LINE(text,
                    "lossd_request_duration_seconds_bucket{function=\"loss/giou\",le=\"%s\"} %d",
                    buckets[i].le, buckets[i].count);
    ASSERT_LINE(text, "lossd_request_duration_seconds_count{function=\"loss/giou\"} 5");
    ASSERT_LINE(text,
                "lossd_request_duration_seconds_bucket{function=\"activation/relu\",le=\"10\"} 1");
    ASSERT_LINE(
        text, "lossd_request_duration_seconds_bucket{function=\"activation/relu\",le=\"+Inf\"} 2");
    const char *sum = strstr(text, "lossd_request_duration_seconds_sum{function=\"loss/giou\"} ");
    ck_assert_ptr_nonnull(sum);
    double seconds = strtod(strchr(sum, '}') + 2, NULL);
    ck_assert_msg(fabs(seconds - (0.0005 + 0.003 + 0.3 + 2.0 + 0.0001)) < 1e-8, "sum %.9f",
                  seconds);
    /* Every bucket line of every series is cumulative. */
    unsigned long long previous = 0;
    char function[96] = "";
    for (const char *p = text; (p = strstr(p, "lossd_request_duration_seconds_bucket{")) != NULL;
         p++) {
        char name[96];
        unsigned long long count;
        ck_assert_int_eq(
            sscanf(p, "lossd_request_duration_seconds_bucket{function=\"%95[^\"]\"", name), 1);
        count = strtoull(strstr(p, "} ") + 2, NULL, 10);
        if (strcmp(name, function) != 0) {
            strcpy(function, name);
            previous = 0;
        }
        ck_assert_msg(count >= previous, "%s: bucket count falls", name);
        previous = count;
    }

    /* Elements: every function (zero or not), and the batch. */
    ASSERT_LINE(text, "lossd_elements_total{function=\"loss/giou\"} 32");
    ASSERT_LINE(text, "lossd_elements_total{function=\"activation/relu\"} 1000");
    ASSERT_LINE(text, "lossd_elements_total{function=\"loss/mse\"} 0");
    ASSERT_LINE(text, "lossd_elements_total{function=\"batch\"} 77");
    for (size_t i = 0; i < lossd_function_count(); i++) {
        const lossd_function *fn = lossd_function_at(i);
        char prefix[128];
        snprintf(prefix, sizeof prefix, "lossd_elements_total{function=\"%s/%s\"} ",
                 lossd_kind_name(fn->kind), fn->name);
        ck_assert_msg(strstr(text, prefix) != NULL, "no %s", prefix);
    }

    ASSERT_LINE(text, "# TYPE lossd_queue_depth gauge");
    ASSERT_LINE(text, "lossd_queue_depth 5");
    ASSERT_LINE(text, "# TYPE lossd_inflight_requests gauge");
    ASSERT_LINE(text, "lossd_inflight_requests 7");
    ASSERT_LINE(text, "# TYPE lossd_open_requests gauge");
    ASSERT_LINE(text, "lossd_open_requests 9");
    ASSERT_LINE(text, "lossd_rejected_total{reason=\"overloaded\"} 2");
    ASSERT_LINE(text, "lossd_rejected_total{reason=\"draining\"} 1");
    ASSERT_LINE(text, "lossd_rejected_total{reason=\"too_large\"} 0");
    ASSERT_LINE(text, "lossd_rejected_total{reason=\"unauthorized\"} 1");
    ASSERT_LINE(text, "lossd_build_info{version=\"0.1.0\"} 1");
    ck_assert_str_eq(LOSSD_VERSION_STRING, "0.1.0");

    /* Every line is a comment or "name{labels} value" / "name value". */
    char *copy = strdup(text), *save = NULL;
    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (line[0] == '#') {
            ck_assert_msg(strncmp(line, "# HELP lossd_", 13) == 0 ||
                              strncmp(line, "# TYPE lossd_", 13) == 0,
                          "bad comment: %s", line);
            continue;
        }
        ck_assert_msg(strncmp(line, "lossd_", 6) == 0, "bad line: %s", line);
        const char *value = strrchr(line, ' ');
        ck_assert_ptr_nonnull(value);
        char *end;
        strtod(value + 1, &end);
        ck_assert_msg(*end == '\0' && end > value + 1, "bad value in: %s", line);
    }
    free(copy);
    lossd_buf_cleanup(&out);
    lossd_metrics_destroy(m);
    lossd_metrics_destroy(NULL);
}
END_TEST

/* Records from many threads at once: no count is lost. */
typedef struct {
    lossd_metrics *m;
    lossd_route route;
} recorder;

static void *record_many(void *arg)
{
    recorder *r = arg;
    for (int i = 0; i < 10000; i++) {
        lossd_metrics_request(r->m, &r->route, 200, 0.001, 2);
        lossd_metrics_reject(r->m, LOSSD_REJECT_TOO_LARGE);
    }
    return NULL;
}

START_TEST(metrics_concurrent)
{
    lossd_metrics *m = lossd_metrics_create();
    recorder r = {m, route_of("POST", "/v1/pairwise/ciou")};
    pthread_t threads[4];
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(pthread_create(&threads[i], NULL, record_many, &r), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(threads[i], NULL);
    lossd_buf out;
    lossd_buf_init(&out, 0);
    lossd_gauges gauges = {0, 0, 0};
    lossd_metrics_render(m, &gauges, &out);
    ASSERT_LINE(out.data, "lossd_requests_total{function=\"pairwise/ciou\",code=\"200\"} 40000");
    ASSERT_LINE(out.data, "lossd_request_duration_seconds_count{function=\"pairwise/ciou\"} 40000");
    ASSERT_LINE(out.data, "lossd_elements_total{function=\"pairwise/ciou\"} 80000");
    ASSERT_LINE(out.data, "lossd_rejected_total{reason=\"too_large\"} 40000");
    ASSERT_LINE(out.data, "lossd_queue_depth 0");
    lossd_buf_cleanup(&out);
    lossd_metrics_destroy(m);
}
END_TEST

/* ------------------------------------------------------------ catalog */

START_TEST(catalog_functions)
{
    char *text = lossd_catalog_functions_json();
    ck_assert_ptr_nonnull(text);
    json_t *doc = parse(text);
    json_t *list = json_object_get(doc, "functions");
    ck_assert_uint_eq(json_array_size(list), lossd_function_count());
    ck_assert(same_double(number_at(doc, "count"), (double)lossd_function_count()));
    for (size_t i = 0; i < lossd_function_count(); i++) {
        const lossd_function *fn = lossd_function_at(i);
        json_t *entry = json_array_get(list, i);
        char path[128];
        snprintf(path, sizeof path, "/v1/%s/%s", lossd_kind_name(fn->kind), fn->name);
        ck_assert_str_eq(string_at(entry, "kind"), lossd_kind_name(fn->kind));
        ck_assert_str_eq(string_at(entry, "name"), fn->name);
        ck_assert_str_eq(string_at(entry, "path"), path);
        ck_assert_str_eq(string_at(entry, "summary"), fn->summary);
        ck_assert_str_eq(string_at(entry, "formula"), fn->formula);
        ck_assert_str_eq(string_at(entry, "reference"), fn->reference);
        ck_assert(json_is_boolean(json_object_get(entry, "grad")));
        ck_assert(json_is_true(json_object_get(entry, "grad")) ==
                  ((fn->flags & LOSSD_FN_GRAD) != 0));
        /* The path routes back to this very function. */
        lossd_route r = route_of("POST", path);
        ck_assert_ptr_eq(r.fn, fn);
        /* Operands by request field name. */
        json_t *operands = json_object_get(entry, "operands");
        ck_assert(json_is_object(operands));
        size_t n_operands = 0;
        for (size_t k = 0; k < 2; k++)
            if (fn->operands[k].shape != LOSSD_SHAPE_NONE) {
                ck_assert_str_eq(string_at(operands, fn->operands[k].name),
                                 fn->operands[k].summary);
                n_operands++;
            }
        ck_assert_uint_eq(json_object_size(operands), n_operands);
        /* Parameters in registry order, each with name, type, default, domain and summary. */
        json_t *params = json_object_get(entry, "params");
        ck_assert_uint_eq(json_array_size(params), fn->n_params);
        for (size_t k = 0; k < fn->n_params; k++) {
            json_t *p = json_array_get(params, k);
            const lossd_param_spec *spec = &fn->params[k];
            char domain[256];
            lossd_param_domain_text(spec, domain, sizeof domain);
            ck_assert_str_eq(string_at(p, "name"), spec->name);
            ck_assert_str_eq(string_at(p, "type"), lossd_param_type_name(spec->type));
            ck_assert_str_eq(string_at(p, "domain"), domain);
            ck_assert_str_eq(string_at(p, "summary"), spec->summary);
            ck_assert_ptr_nonnull(json_object_get(p, "default"));
            ck_assert(json_is_true(json_object_get(p, "required")) == spec->required);
        }
        /* Losses list their reductions; only box losses have terms. */
        json_t *reductions = json_object_get(entry, "reductions");
        ck_assert((reductions != NULL) == (fn->kind == LOSSD_KIND_LOSS));
        if (reductions) {
            ck_assert_str_eq(json_string_value(json_array_get(reductions, 0)), "mean");
            ck_assert_str_eq(json_string_value(json_array_get(reductions, 1)), "sum");
            ck_assert_str_eq(json_string_value(json_array_get(reductions, 2)), "none");
            ck_assert_uint_eq(json_array_size(reductions),
                              (fn->flags & LOSSD_FN_BATCHMEAN) ? 4 : 3);
        }
        ck_assert((json_object_get(entry, "terms") != NULL) == ((fn->flags & LOSSD_FN_TERMS) != 0));
    }
    json_decref(doc);
    free(text);
}
END_TEST

/* The catalog entry of kind/name. */
static json_t *catalog_entry(json_t *doc, const char *kind, const char *name)
{
    size_t i;
    json_t *entry;
    json_array_foreach(json_object_get(doc, "functions"), i, entry)
    {
        if (strcmp(string_at(entry, "kind"), kind) == 0 &&
            strcmp(string_at(entry, "name"), name) == 0)
            return entry;
    }
    ck_abort_msg("%s/%s is not in the catalog", kind, name);
    return NULL;
}

/* The parameter `name` of a catalog entry. */
static json_t *catalog_param(json_t *entry, const char *name)
{
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(entry, "params"), i, p)
    {
        if (strcmp(string_at(p, "name"), name) == 0)
            return p;
    }
    ck_abort_msg("no parameter %s", name);
    return NULL;
}

START_TEST(catalog_details)
{
    char *text = lossd_catalog_functions_json();
    json_t *doc = parse(text);

    json_t *giou = catalog_entry(doc, "loss", "giou");
    json_t *want = json_pack("[s, s]", "iou", "enclosing_area");
    ck_assert(json_equal(json_object_get(giou, "terms"), want));
    json_decref(want);
    want = json_pack("[s, s, s]", "mean", "sum", "none");
    ck_assert(json_equal(json_object_get(giou, "reductions"), want));
    json_decref(want);
    ck_assert(json_is_true(json_object_get(giou, "grad")));
    json_t *eps = json_object_get(catalog_param(giou, "eps"), "default");
    ck_assert(json_is_real(eps));
    ck_assert(same_double(json_real_value(eps), 1e-7));
    ck_assert_ptr_nonnull(strstr(text, "\"name\":\"eps\",\"type\":\"number\",\"default\":1e-7,"));
    ck_assert_str_eq(string_at(catalog_param(giou, "box_format"), "default"), "xyxy");
    ck_assert_str_eq(string_at(catalog_param(giou, "box_format"), "type"), "string");
    ck_assert_str_eq(string_at(catalog_param(giou, "eps"), "type"), "number");
    ck_assert_str_eq(string_at(json_object_get(giou, "operands"), "input"),
                     "predicted boxes (N,4) or (4)");

    json_t *kl = catalog_entry(doc, "loss", "kl_div");
    want = json_pack("[s, s, s, s]", "mean", "sum", "none", "batchmean");
    ck_assert(json_equal(json_object_get(kl, "reductions"), want));
    json_decref(want);
    ck_assert(json_is_false(json_object_get(catalog_param(kl, "log_target"), "default")));
    ck_assert_str_eq(string_at(catalog_param(kl, "log_target"), "type"), "boolean");

    json_t *prelu = catalog_entry(doc, "activation", "prelu");
    json_t *weight = catalog_param(prelu, "weight");
    ck_assert(json_is_true(json_object_get(weight, "required")));
    ck_assert(json_is_null(json_object_get(weight, "default")));
    ck_assert_str_eq(string_at(weight, "type"), "tensor");
    ck_assert_ptr_null(json_object_get(prelu, "reductions"));
    ck_assert_ptr_null(json_object_get(
        catalog_param(catalog_entry(doc, "activation", "gelu"), "approximate"), "required"));

    json_t *ce = catalog_entry(doc, "loss", "cross_entropy");
    json_t *ignore = json_object_get(catalog_param(ce, "ignore_index"), "default");
    ck_assert(json_is_integer(ignore) && json_integer_value(ignore) == -100);
    ck_assert_str_eq(string_at(catalog_param(ce, "ignore_index"), "type"), "integer");
    ck_assert(same_double(number_at(catalog_param(ce, "label_smoothing"), "default"), 0.0));
    ck_assert_str_eq(string_at(catalog_param(ce, "label_smoothing"), "domain"), "[0, 1]");

    json_t *entropy = catalog_entry(doc, "info", "entropy");
    ck_assert_str_eq(string_at(catalog_param(entropy, "base"), "default"), "e");
    ck_assert(json_is_false(json_object_get(entropy, "grad")));
    ck_assert_ptr_null(json_object_get(entropy, "reductions"));

    json_t *pairwise = catalog_entry(doc, "pairwise", "ciou");
    ck_assert_str_eq(string_at(pairwise, "path"), "/v1/pairwise/ciou");
    ck_assert_uint_eq(json_object_size(json_object_get(pairwise, "operands")), 2);

    json_t *focal = catalog_entry(doc, "loss", "sigmoid_focal");
    ck_assert(same_double(number_at(catalog_param(focal, "alpha"), "default"), 0.25));
    ck_assert_str_eq(string_at(catalog_param(focal, "alpha"), "domain"), "[0, 1] or -1");

    json_decref(doc);
    free(text);

    text = lossd_catalog_v1_json();
    ck_assert_ptr_nonnull(text);
    doc = parse(text);
    ck_assert_uint_eq(json_object_size(doc), 4); /* name, version, functions, links */
    ck_assert_str_eq(string_at(doc, "name"), "lossd");
    ck_assert_str_eq(string_at(doc, "version"), LOSSD_VERSION_STRING);
    ck_assert(json_is_integer(json_object_get(doc, "functions")));
    ck_assert_int_eq(json_integer_value(json_object_get(doc, "functions")),
                     (json_int_t)lossd_function_count());
    json_decref(doc);
    free(text);
}
END_TEST

/* ------------------------------------------------------------ suite */

static void add_case(Suite *s, const char *name, const TTest *const *tests, int timeout,
                     void (*fixture)(void))
{
    TCase *tc = tcase_create(name);
    tcase_set_timeout(tc, timeout);
    if (fixture)
        tcase_add_checked_fixture(tc, fixture, fixture);
    for (size_t i = 0; tests[i]; i++)
        tcase_add_test(tc, tests[i]);
    suite_add_tcase(s, tc);
}

static Suite *service_suite(void)
{
    Suite *s = suite_create("service");
    add_case(s, "dtoa/buf",
             (const TTest *const[]){dtoa_fixed_values, dtoa_round_trips,
                                    buf_grows_limits_and_steals, buf_steal_empty_is_terminated,
                                    NULL},
             60, NULL);
    add_case(s, "fault",
             (const TTest *const[]){fault_table, fault_write_bodies, fault_first_wins,
                                    fault_from_core_errors, fault_truncated_utf8,
                                    fault_invalid_utf8_keeps_the_code, NULL},
             10, NULL);
    add_case(s, "codec-load",
             (const TTest *const[]){load_depth_limit, load_brackets_in_strings, load_rejects,
                                    load_reads_len_bytes_and_integers_as_reals, load_into_an_arena,
                                    NULL},
             10, NULL);
    add_case(s, "codec-bind",
             (const TTest *const[]){bind_every_field_kind, bind_field_names, bind_unknown_fields,
                                    bind_wrong_types, bind_ragged_and_mixed_tensors,
                                    bind_ranks_empty_and_scalars, bind_element_limit,
                                    bind_then_compute, NULL},
             10, NULL);
    add_case(s, "codec-reply",
             (const TTest *const[]){reply_losses, reply_box_terms, reply_activations,
                                    reply_info_and_pairwise, reply_nonfinite,
                                    reply_parallel_matches_sequential, NULL},
             60, NULL);
    add_case(
        s, "route",
        (const TTest *const[]){route_fixed_endpoints, route_every_function, route_not_found, NULL},
        10, NULL);
    add_case(s, "options",
             (const TTest *const[]){options_defaults, options_flags, options_environment,
                                    options_sizes, options_errors, options_actions, options_listen,
                                    options_usage, NULL},
             10, clear_env);
    add_case(s, "auth", (const TTest *const[]){auth_keys, auth_bad_files, NULL}, 10, NULL);
    add_case(s, "pool",
             (const TTest *const[]){pool_runs_every_job, pool_queue_capacity,
                                    pool_large_jobs_get_their_own_worker, pool_parallel_for,
                                    pool_nested_parallel_for, pool_destroy_waits, NULL},
             60, NULL);
    add_case(s, "metrics", (const TTest *const[]){metrics_render, metrics_concurrent, NULL}, 10,
             NULL);
    add_case(s, "catalog", (const TTest *const[]){catalog_functions, catalog_details, NULL}, 10,
             NULL);
    return s;
}

int main(void)
{
    json_object_seed(0);   /* before any thread, as main.c does */
    lossd_arena_install(); /* jansson's allocator, as main.c installs it */
    SRunner *sr = srunner_create(service_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
