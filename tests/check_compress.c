/* SPDX-License-Identifier: MIT */
/*
 * check_compress.c - content codings (src/service/compress.c) and the
 * request body they inflate into (src/service/body.c): header values,
 * round trips through zlib in every form clients send, streaming in tiny
 * pieces, decompression bombs stopped at the limit with bounded memory,
 * corrupt and truncated streams, and the body's aligned offset.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "../src/service/body.h"
#include "../src/service/compress.h"
#include "testutil.h"

/* ------------------------------------------------------------ header values */

START_TEST(content_encoding_values)
{
    ck_assert_int_eq(lossd_encoding_of(NULL), LOSSD_ENCODING_IDENTITY);
    ck_assert_int_eq(lossd_encoding_of(""), LOSSD_ENCODING_IDENTITY);
    ck_assert_int_eq(lossd_encoding_of("identity"), LOSSD_ENCODING_IDENTITY);
    ck_assert_int_eq(lossd_encoding_of("gzip"), LOSSD_ENCODING_GZIP);
    ck_assert_int_eq(lossd_encoding_of(" GZip "), LOSSD_ENCODING_GZIP);
    ck_assert_int_eq(lossd_encoding_of("x-gzip"), LOSSD_ENCODING_GZIP);
    ck_assert_int_eq(lossd_encoding_of("deflate"), LOSSD_ENCODING_DEFLATE);
    ck_assert_int_eq(lossd_encoding_of("br"), LOSSD_ENCODING_UNSUPPORTED);
    ck_assert_int_eq(lossd_encoding_of("zstd"), LOSSD_ENCODING_UNSUPPORTED);
    ck_assert_int_eq(lossd_encoding_of("gzipx"), LOSSD_ENCODING_UNSUPPORTED);
    /* two codings applied in turn: more than one decoder */
    ck_assert_int_eq(lossd_encoding_of("gzip, deflate"), LOSSD_ENCODING_UNSUPPORTED);
    ck_assert_int_eq(lossd_encoding_of("gzip, br"), LOSSD_ENCODING_UNSUPPORTED);
    ck_assert_int_eq(lossd_encoding_of("gzip, identity"), LOSSD_ENCODING_GZIP);
}
END_TEST

START_TEST(accept_encoding_values)
{
    static const struct {
        const char *header;
        lossd_encoding want;
    } cases[] = {
        {NULL, LOSSD_ENCODING_IDENTITY},
        {"", LOSSD_ENCODING_IDENTITY},
        {"gzip", LOSSD_ENCODING_GZIP},
        {"deflate", LOSSD_ENCODING_DEFLATE},
        {"gzip, deflate, br", LOSSD_ENCODING_GZIP},
        {"br, deflate", LOSSD_ENCODING_DEFLATE},
        {"gzip;q=0, deflate", LOSSD_ENCODING_DEFLATE},
        {"gzip; q=0.0, deflate;q=0", LOSSD_ENCODING_IDENTITY},
        {"deflate;q=0.5, gzip;q=0.4", LOSSD_ENCODING_DEFLATE},
        {"deflate;q=0.5, gzip;q=0.5", LOSSD_ENCODING_GZIP},
        {"*", LOSSD_ENCODING_GZIP},
        {"*;q=0", LOSSD_ENCODING_IDENTITY},
        {"*;q=0, deflate", LOSSD_ENCODING_DEFLATE},
        {"gzip;q=0, *", LOSSD_ENCODING_DEFLATE},
        {"br", LOSSD_ENCODING_IDENTITY},
        {"identity", LOSSD_ENCODING_IDENTITY},
        {"GZIP", LOSSD_ENCODING_GZIP},
        {"gzip;q=nonsense", LOSSD_ENCODING_IDENTITY}, /* a malformed q refuses the coding */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        ck_assert_msg(lossd_encoding_accepted(cases[i].header) == cases[i].want,
                      "Accept-Encoding: %s: got %d, want %d",
                      cases[i].header ? cases[i].header : "(none)",
                      lossd_encoding_accepted(cases[i].header), cases[i].want);
    ck_assert_str_eq(lossd_encoding_name(LOSSD_ENCODING_GZIP), "gzip");
    ck_assert_str_eq(lossd_encoding_name(LOSSD_ENCODING_DEFLATE), "deflate");
}
END_TEST

/* ------------------------------------------------------------ data */

/* n bytes of text-like data that compresses well but not trivially. */
static unsigned char *sample(size_t n, unsigned long long seed)
{
    unsigned char *p = malloc(n);
    ck_assert_ptr_nonnull(p);
    test_rng rng;
    rng_seed(&rng, seed);
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)("0123456789.,[]e-"[rng_bits(&rng) % 16]);
    return p;
}

/* Compresses with zlib directly: windowBits 15 (zlib), 31 (gzip) or -15 (raw). */
static unsigned char *zlib_pack_level(const unsigned char *in, size_t n, int window, int level,
                                      size_t *len)
{
    z_stream z = {0};
    ck_assert_int_eq(deflateInit2(&z, level, Z_DEFLATED, window, 8, Z_DEFAULT_STRATEGY), Z_OK);
    size_t cap = deflateBound(&z, n) + 64;
    unsigned char *out = malloc(cap);
    z.next_in = (Bytef *)(uintptr_t)in;
    z.avail_in = (uInt)n;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    ck_assert_int_eq(deflate(&z, Z_FINISH), Z_STREAM_END);
    *len = cap - z.avail_out;
    deflateEnd(&z);
    return out;
}

static unsigned char *zlib_pack(const unsigned char *in, size_t n, int window, size_t *len)
{
    return zlib_pack_level(in, n, window, 6, len);
}

/* Inflates all of `in` in pieces of `step` bytes into a fresh body; returns the status. */
static lossd_inflate_status inflate_all(lossd_encoding e, const unsigned char *in, size_t n,
                                        size_t step, size_t max, lossd_body *body)
{
    lossd_inflater *z = lossd_inflater_create(e);
    ck_assert_ptr_nonnull(z);
    const char *why = NULL;
    lossd_inflate_status st = LOSSD_INFLATE_OK;
    for (size_t at = 0; at < n && st == LOSSD_INFLATE_OK; at += step)
        st = lossd_inflater_feed(z, in + at, n - at < step ? n - at : step, body, max, &why);
    if (st == LOSSD_INFLATE_OK)
        st = lossd_inflater_finish(z, &why);
    if (st != LOSSD_INFLATE_OK)
        ck_assert_msg(why && *why, "a failure without a reason");
    lossd_inflater_destroy(z);
    return st;
}

START_TEST(inflate_every_form)
{
    size_t n = 300000, len;
    unsigned char *data = sample(n, 7);
    static const struct {
        lossd_encoding e;
        int window;
    } forms[] = {
        {LOSSD_ENCODING_GZIP, 31},
        {LOSSD_ENCODING_DEFLATE, 15},  /* the zlib format: what "deflate" means */
        {LOSSD_ENCODING_DEFLATE, -15}, /* raw deflate, as some clients send it */
    };
    static const size_t steps[] = {1, 7, 4096, (size_t)1 << 30};
    for (size_t f = 0; f < sizeof forms / sizeof forms[0]; f++) {
        unsigned char *packed = zlib_pack(data, n, forms[f].window, &len);
        for (size_t s = 0; s < sizeof steps / sizeof steps[0]; s++) {
            if (steps[s] == 1 && f > 0)
                continue; /* byte by byte once is enough (slow) */
            lossd_body body;
            lossd_body_init(&body, 0);
            ck_assert_int_eq(inflate_all(forms[f].e, packed, len, steps[s], n, &body),
                             LOSSD_INFLATE_OK);
            ck_assert_uint_eq(body.len, n);
            ck_assert(memcmp(body.data, data, n) == 0);
            lossd_body_cleanup(&body);
        }
        free(packed);
    }
    free(data);
}
END_TEST

START_TEST(gzip_members_follow_each_other)
{
    size_t n1 = 1000, n2 = 5000, l1, l2;
    unsigned char *a = sample(n1, 1), *b = sample(n2, 2);
    unsigned char *pa = zlib_pack(a, n1, 31, &l1), *pb = zlib_pack(b, n2, 31, &l2);
    unsigned char *both = malloc(l1 + l2);
    memcpy(both, pa, l1);
    memcpy(both + l1, pb, l2);
    lossd_body body;
    lossd_body_init(&body, 0);
    ck_assert_int_eq(inflate_all(LOSSD_ENCODING_GZIP, both, l1 + l2, 333, n1 + n2, &body),
                     LOSSD_INFLATE_OK);
    ck_assert_uint_eq(body.len, n1 + n2);
    ck_assert(memcmp(body.data, a, n1) == 0 && memcmp(body.data + n1, b, n2) == 0);
    lossd_body_cleanup(&body);
    free(a), free(b), free(pa), free(pb), free(both);
}
END_TEST

START_TEST(broken_streams_are_refused)
{
    size_t n = 20000, len;
    unsigned char *data = sample(n, 3);
    unsigned char *packed = zlib_pack(data, n, 31, &len);
    lossd_body body;
    /* cut short: the stream never ends */
    lossd_body_init(&body, 0);
    ck_assert_int_eq(inflate_all(LOSSD_ENCODING_GZIP, packed, len / 2, 100, n, &body),
                     LOSSD_INFLATE_CORRUPT);
    lossd_body_cleanup(&body);
    /* bytes after the end */
    unsigned char *tail = malloc(len + 3);
    memcpy(tail, packed, len);
    memcpy(tail + len, "xyz", 3);
    ck_assert_int_eq(inflate_all(LOSSD_ENCODING_GZIP, tail, len + 3, 4096, n, &body),
                     LOSSD_INFLATE_CORRUPT);
    lossd_body_cleanup(&body);
    /* a flipped byte in the middle: CRC or data error */
    tail[len / 2] ^= 0x55;
    ck_assert_int_eq(inflate_all(LOSSD_ENCODING_GZIP, tail, len, 4096, n, &body),
                     LOSSD_INFLATE_CORRUPT);
    lossd_body_cleanup(&body);
    /* not compressed at all */
    ck_assert_int_eq(inflate_all(LOSSD_ENCODING_GZIP, data, n, 4096, n, &body),
                     LOSSD_INFLATE_CORRUPT);
    lossd_body_cleanup(&body);
    ck_assert_int_eq(
        inflate_all(LOSSD_ENCODING_DEFLATE, (const unsigned char *)"{}", 2, 4096, n, &body),
        LOSSD_INFLATE_CORRUPT);
    lossd_body_cleanup(&body);
    free(tail), free(packed), free(data);
}
END_TEST

START_TEST(a_bomb_stops_at_the_limit)
{
    /* 64 MiB of zeros compress to a few hundred KiB; the limit is 1 MiB. */
    size_t n = (size_t)64 << 20, max = (size_t)1 << 20, len;
    unsigned char *zeros = calloc(1, n);
    ck_assert_ptr_nonnull(zeros);
    unsigned char *packed = zlib_pack_level(zeros, n, 31, 1, &len);
    free(zeros);
    ck_assert_uint_lt(len, n / 200); /* a ratio of over 200 */
    lossd_body body;
    lossd_body_init(&body, 0);
    ck_assert_int_eq(inflate_all(LOSSD_ENCODING_GZIP, packed, len, 16384, max, &body),
                     LOSSD_INFLATE_TOO_LARGE);
    /* memory never went past the limit */
    ck_assert_uint_le(body.cap, max);
    ck_assert_uint_le(body.len, max);
    lossd_body_cleanup(&body);
    /* exactly at the limit is still fine */
    unsigned char *small = calloc(1, max);
    unsigned char *packed_small = zlib_pack(small, max, 31, &len);
    lossd_body_init(&body, 0);
    ck_assert_int_eq(inflate_all(LOSSD_ENCODING_GZIP, packed_small, len, 16384, max, &body),
                     LOSSD_INFLATE_OK);
    ck_assert_uint_eq(body.len, max);
    lossd_body_cleanup(&body);
    lossd_body_init(&body, 0);
    ck_assert_int_eq(inflate_all(LOSSD_ENCODING_GZIP, packed_small, len, 16384, max - 1, &body),
                     LOSSD_INFLATE_TOO_LARGE);
    lossd_body_cleanup(&body);
    free(small), free(packed_small), free(packed);
}
END_TEST

START_TEST(compress_round_trips)
{
    size_t n = 100000;
    unsigned char *data = sample(n, 9);
    /* in pieces, as a reply's header and binary outputs */
    size_t cuts[] = {0, 17, 17, 50000, n};
    lossd_piece pieces[4];
    for (size_t i = 0; i < 4; i++)
        pieces[i] = (lossd_piece){data + cuts[i], cuts[i + 1] - cuts[i]};
    lossd_encoding codings[] = {LOSSD_ENCODING_GZIP, LOSSD_ENCODING_DEFLATE};
    for (size_t c = 0; c < 2; c++) {
        size_t len;
        unsigned char *packed = lossd_compress(codings[c], pieces, 4, &len);
        ck_assert_ptr_nonnull(packed);
        ck_assert_uint_lt(len, n * 3 / 4); /* 4 bits of entropy per byte */
        /* zlib itself reads it back: gzip with 31, deflate (zlib format) with 15 */
        z_stream z = {0};
        ck_assert_int_eq(inflateInit2(&z, c == 0 ? 31 : 15), Z_OK);
        unsigned char *out = malloc(n + 1);
        z.next_in = packed;
        z.avail_in = (uInt)len;
        z.next_out = out;
        z.avail_out = (uInt)n + 1;
        ck_assert_int_eq(inflate(&z, Z_FINISH), Z_STREAM_END);
        ck_assert_uint_eq(z.total_out, n);
        ck_assert(memcmp(out, data, n) == 0);
        inflateEnd(&z);
        free(out);
        free(packed);
    }
    size_t len;
    void *empty = lossd_compress(LOSSD_ENCODING_GZIP, NULL, 0, &len);
    ck_assert_ptr_nonnull(empty);
    ck_assert_uint_gt(len, 0);
    free(empty);
    free(data);
}
END_TEST

/* ------------------------------------------------------------ bodies */

START_TEST(body_keeps_its_offset_aligned)
{
    static const size_t offsets[] = {0, 1, 7, 63, 64, 65, 1000, 4097};
    for (size_t o = 0; o < sizeof offsets / sizeof offsets[0]; o++) {
        lossd_body b;
        lossd_body_init(&b, offsets[o]);
        /* grow from nothing, byte chunks of odd sizes, across several reallocations */
        size_t total = 0;
        for (size_t chunk = 1; total < 200000; chunk = chunk * 3 + 1) {
            unsigned char bytes[4096];
            size_t n = chunk % sizeof bytes + 1;
            for (size_t i = 0; i < n; i++)
                bytes[i] = (unsigned char)(total + i);
            ck_assert(lossd_body_append(&b, bytes, n, 1 << 20));
            total += n;
            ck_assert_uint_eq(((uintptr_t)b.data + offsets[o]) % LOSSD_BODY_ALIGN, 0);
        }
        ck_assert_uint_eq(b.len, total);
        size_t wrong = 0;
        for (size_t i = 0; i < total; i++)
            wrong += (unsigned char)b.data[i] != (unsigned char)i;
        ck_assert_uint_eq(wrong, 0);
        lossd_body_cleanup(&b);
        ck_assert_ptr_null(b.data);
        ck_assert_uint_eq(b.len, 0);

        /* reserved up front: one allocation that never moves */
        lossd_body_init(&b, offsets[o]);
        ck_assert(lossd_body_reserve(&b, 10000));
        char *first = b.data;
        for (size_t i = 0; i < 10; i++)
            ck_assert(lossd_body_append(&b, "0123456789", 10, 10000));
        ck_assert_ptr_eq(b.data, first);
        ck_assert_uint_eq(((uintptr_t)b.data + offsets[o]) % LOSSD_BODY_ALIGN, 0);
        lossd_body_cleanup(&b);
    }
}
END_TEST

START_TEST(body_never_grows_past_its_limit)
{
    lossd_body b;
    lossd_body_init(&b, 0);
    size_t room;
    char *at = lossd_body_space(&b, 10, 100, &room);
    ck_assert_ptr_nonnull(at);
    ck_assert_uint_ge(room, 10);
    ck_assert_uint_le(b.cap, 100);
    lossd_body_commit(&b, 10);
    at = lossd_body_space(&b, 90, 100, &room);
    ck_assert_ptr_nonnull(at);
    ck_assert_uint_eq(b.cap, 100);
    ck_assert_uint_eq(room, 90);
    lossd_body_cleanup(&b);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("compress");
    add_case(s, "codings", 0, NULL, NULL, TESTS(content_encoding_values, accept_encoding_values));
    add_case(s, "streams", 60, NULL, NULL,
             TESTS(inflate_every_form, gzip_members_follow_each_other, broken_streams_are_refused,
                   a_bomb_stops_at_the_limit, compress_round_trips));
    add_case(s, "bodies", 0, NULL, NULL,
             TESTS(body_keeps_its_offset_aligned, body_never_grows_past_its_limit));
    return run_suite(s);
}
