/* SPDX-License-Identifier: MIT */
/*
 * check_buf.c - writing numbers (dtoa.cc) into the reply buffer (buf.c):
 * fixed texts for the numbers whose text the contract pins, a
 * round-trip property over random bit patterns and short decimals
 * (shortest text that reads back bit for bit, and that jansson reads as
 * the same real), and the buffer's growth, limit and hand-over.
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/service/buf.h"
#include "../src/service/dtoa.h"
#include "serviceutil.h"

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
    ck_assert_str_eq(lossd_buf_data(&b), "0.1,null,-0.0");
    ck_assert_uint_eq(lossd_buf_len(&b), strlen("0.1,null,-0.0"));
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
    test_rng rng;
    rng_seed(&rng, 0x9E3779B97F4A7C15ULL);
    char buf[LOSSD_DTOA_MAX + 1], shorter[64];
    size_t n_checked = 0;
    for (size_t i = 0; i < 200000; i++) {
        double x;
        uint64_t bits = rng_bits(&rng);
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
        ck_assert_msg(same_bits(back, x), "%.17g was written %s, which reads back as %.17g", x,
                      text, back);
        int digits = significant_digits(text);
        ck_assert_msg(digits <= 17, "%.17g was written %s: %d significant digits", x, text, digits);
        /* Shortest: the correctly rounded text one digit shorter must not round-trip. */
        if (digits > 1) {
            snprintf(shorter, sizeof shorter, "%.*e", digits - 2, x);
            ck_assert_msg(!same_bits(strtod(shorter, NULL), x),
                          "%.17g was written %s, but %s (shorter) reads back the same", x, text,
                          shorter);
        }
        /* jansson reads it as the same real (every 64th, jansson is slower). */
        if (i % 64 == 0) {
            json_t *v = json_loads(text, JSON_DECODE_ANY, NULL);
            ck_assert_msg(json_is_real(v), "jansson does not read %s as a real", text);
            ck_assert(same_bits(json_real_value(v), x));
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
    ck_assert_ptr_null(lossd_buf_data(&b));
    /* Growth: 10000 appends of varying lengths keep every byte in order. */
    size_t expected_len = 0;
    for (int i = 0; i < 10000; i++) {
        char piece[16];
        int n = snprintf(piece, sizeof piece, "%d;", i);
        lossd_buf_append(&b, piece, (size_t)n);
        expected_len += (size_t)n;
    }
    ck_assert(!lossd_buf_failed(&b));
    ck_assert_uint_eq(lossd_buf_len(&b), expected_len);
    ck_assert_int_eq(lossd_buf_data(&b)[lossd_buf_len(&b)], '\0');
    ck_assert_int_eq(strncmp(lossd_buf_data(&b), "0;1;2;3;", 8), 0);
    ck_assert_str_eq(lossd_buf_data(&b) + lossd_buf_len(&b) - 5, "9999;");
    lossd_buf_printf(&b, "[%d-%s-%.1f]", 42, "x", 2.5);
    ck_assert_str_eq(lossd_buf_data(&b) + expected_len, "[42-x-2.5]");

    /* Steal hands over the bytes and leaves the buffer empty and reusable. */
    size_t len = 0;
    char *data = lossd_buf_steal(&b, &len);
    ck_assert_ptr_nonnull(data);
    ck_assert_uint_eq(len, expected_len + strlen("[42-x-2.5]"));
    ck_assert_uint_eq(strlen(data), len);
    ck_assert_ptr_null(lossd_buf_data(&b));
    ck_assert_uint_eq(lossd_buf_len(&b), 0);
    free(data);
    lossd_buf_puts(&b, "again");
    ck_assert_str_eq(lossd_buf_data(&b), "again");
    lossd_buf_cleanup(&b);

    /* max: exactly max bytes fit; one more fails and freezes the buffer. */
    lossd_buf_init(&b, 10);
    lossd_buf_puts(&b, "12345");
    lossd_buf_puts(&b, "67890");
    ck_assert(!lossd_buf_failed(&b));
    ck_assert_str_eq(lossd_buf_data(&b), "1234567890");
    lossd_buf_puts(&b, "x");
    ck_assert(lossd_buf_failed(&b));
    ck_assert_str_eq(lossd_buf_data(&b), "1234567890");
    ck_assert(!lossd_buf_reserve(&b, 0));
    ck_assert_ptr_null(lossd_buf_steal(&b, &len));
    lossd_buf_cleanup(&b);

    /* A failed append leaves what came before; later small appends stay ignored. */
    lossd_buf_init(&b, 8);
    lossd_buf_puts(&b, "abc");
    lossd_buf_printf(&b, "%s", "defghijkl");
    ck_assert(lossd_buf_failed(&b));
    lossd_buf_puts(&b, "d");
    ck_assert_str_eq(lossd_buf_data(&b), "abc");
    ck_assert_uint_eq(lossd_buf_len(&b), 3);
    lossd_buf_cleanup(&b);
    ck_assert(!lossd_buf_failed(&b)); /* cleanup resets */
}
END_TEST

START_TEST(buf_prepare_commit_reset_fail)
{
    /* In place: prepare room, write part of it, commit what was written. */
    lossd_buf b;
    lossd_buf_init(&b, 0);
    char *p = lossd_buf_prepare(&b, 64);
    ck_assert_ptr_nonnull(p);
    memcpy(p, "1.5,2.5", 7); /* no NUL: commit writes it */
    lossd_buf_commit(&b, 7);
    ck_assert_str_eq(lossd_buf_data(&b), "1.5,2.5");
    ck_assert_uint_eq(lossd_buf_len(&b), 7);
    /* Room that needs growth keeps what came before, and starts after it. */
    p = lossd_buf_prepare(&b, 100000);
    ck_assert_ptr_eq(p, lossd_buf_data(&b) + 7);
    memset(p, '9', 100000);
    lossd_buf_commit(&b, 3);
    ck_assert_str_eq(lossd_buf_data(&b), "1.5,2.5999");
    lossd_buf_commit(&b, 0);
    ck_assert_uint_eq(lossd_buf_len(&b), 10);

    /* fail: as an allocation failure - appends are ignored, no room is given. */
    lossd_buf_fail(&b);
    ck_assert(lossd_buf_failed(&b));
    lossd_buf_puts(&b, "x");
    lossd_buf_number(&b, 1.0);
    ck_assert_str_eq(lossd_buf_data(&b), "1.5,2.5999");
    ck_assert_ptr_null(lossd_buf_prepare(&b, 1));

    /* reset: empty and writable again, in the same memory. */
    const char *memory = lossd_buf_data(&b);
    lossd_buf_reset(&b);
    ck_assert(!lossd_buf_failed(&b));
    ck_assert_uint_eq(lossd_buf_len(&b), 0);
    ck_assert_ptr_eq(lossd_buf_data(&b), memory);
    ck_assert_str_eq(lossd_buf_data(&b), "");
    lossd_buf_puts(&b, "{}");
    ck_assert_str_eq(lossd_buf_data(&b), "{}");
    lossd_buf_cleanup(&b);

    /* The limit holds for prepared room as for appends, and survives reset. */
    lossd_buf_init(&b, 8);
    ck_assert_ptr_nonnull(lossd_buf_prepare(&b, 8));
    ck_assert_ptr_null(lossd_buf_prepare(&b, 9));
    ck_assert(lossd_buf_failed(&b));
    lossd_buf_reset(&b);
    lossd_buf_puts(&b, "12345678");
    ck_assert(!lossd_buf_failed(&b));
    lossd_buf_puts(&b, "9");
    ck_assert(lossd_buf_failed(&b));
    ck_assert_str_eq(lossd_buf_data(&b), "12345678");
    lossd_buf_cleanup(&b);

    /* Memory without content is an empty string, never stale bytes. */
    lossd_buf_init(&b, 0);
    ck_assert(lossd_buf_reserve(&b, 32));
    ck_assert_str_eq(lossd_buf_data(&b), "");
    lossd_buf_cleanup(&b);
}
END_TEST

/*
 * buf.h: steal returns the data "NUL-terminated". A buffer nothing was
 * appended to must give "", not the uninitialised block reserve()
 * allocated: listener.c reads --tls-cert/--tls-key files into a buf and
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

int main(void)
{
    Suite *s = suite_create("buf");
    add_case(s, "dtoa/buf", 60, NULL, NULL,
             TESTS(dtoa_fixed_values, dtoa_round_trips, buf_grows_limits_and_steals,
                   buf_prepare_commit_reset_fail, buf_steal_empty_is_terminated));
    return run_service_suite(s);
}
