/* SPDX-License-Identifier: MIT */
/*
 * compress.c - content codings with zlib (see compress.h).
 *
 * Inflating writes straight into the request's body (lossd_body_space),
 * asking for room in steps, so memory follows the inflated size and stops
 * at the limit whatever the compression ratio: zlib never sees more output
 * room than the limit leaves.
 */
#include <ctype.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <zlib.h>

#include "../debug.h"
#include "compress.h"

/* ---------------------------------------------------------------- header values */

/* The next comma-separated element of a header value: [*start, *end), trimmed. */
static bool next_element(const char **p, const char **start, const char **end)
{
    const char *s = *p;
    while (*s == ' ' || *s == '\t' || *s == ',')
        s++;
    if (*s == '\0')
        return false;
    const char *e = s;
    while (*e && *e != ',')
        e++;
    *p = e;
    while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
    *start = s;
    *end = e;
    return true;
}

static bool token_is(const char *s, size_t len, const char *name)
{
    return strlen(name) == len && strncasecmp(s, name, len) == 0;
}

static lossd_encoding coding_named(const char *s, size_t len)
{
    if (token_is(s, len, "gzip") || token_is(s, len, "x-gzip"))
        return LOSSD_ENCODING_GZIP;
    if (token_is(s, len, "deflate"))
        return LOSSD_ENCODING_DEFLATE;
    if (token_is(s, len, "identity"))
        return LOSSD_ENCODING_IDENTITY;
    return LOSSD_ENCODING_UNSUPPORTED;
}

lossd_encoding lossd_encoding_of(const char *value)
{
    const char *p = value, *s, *e;
    if (value == NULL || !next_element(&p, &s, &e))
        return LOSSD_ENCODING_IDENTITY;
    lossd_encoding first = coding_named(s, (size_t)(e - s));
    /* Several codings applied in turn ("gzip, br") are more than lossd decodes. */
    while (next_element(&p, &s, &e))
        if (coding_named(s, (size_t)(e - s)) != LOSSD_ENCODING_IDENTITY)
            return LOSSD_ENCODING_UNSUPPORTED;
    return first;
}

/* The q value of an Accept-Encoding element's parameters (1 when absent; 0 when malformed). */
static double q_value(const char *params, const char *end)
{
    for (const char *p = params; p < end; p++) {
        if (*p != ';')
            continue;
        p++;
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        if (p + 1 < end && tolower((unsigned char)p[0]) == 'q' && p[1] == '=') {
            char text[8] = {0};
            size_t n = (size_t)(end - (p + 2));
            memcpy(text, p + 2, n < sizeof text - 1 ? n : sizeof text - 1);
            char *stop;
            double q = strtod(text, &stop);
            return stop != text && q >= 0 && q <= 1 ? q : 0;
        }
    }
    return 1;
}

lossd_encoding lossd_encoding_accepted(const char *value)
{
    /* q of gzip, deflate, and of "*" (-1: not named) */
    double q[3] = {-1, -1, -1};
    const char *p = value, *s, *e;
    while (value && next_element(&p, &s, &e)) {
        const char *name_end = s;
        while (name_end < e && *name_end != ';' && *name_end != ' ' && *name_end != '\t')
            name_end++;
        size_t len = (size_t)(name_end - s);
        double weight = q_value(name_end, e);
        if (token_is(s, len, "gzip") || token_is(s, len, "x-gzip"))
            q[0] = weight;
        else if (token_is(s, len, "deflate"))
            q[1] = weight;
        else if (token_is(s, len, "*"))
            q[2] = weight;
    }
    for (int i = 0; i < 2; i++)
        if (q[i] < 0)
            q[i] = q[2] < 0 ? 0 : q[2];
    if (q[0] > 0 && q[0] >= q[1])
        return LOSSD_ENCODING_GZIP;
    if (q[1] > 0)
        return LOSSD_ENCODING_DEFLATE;
    return LOSSD_ENCODING_IDENTITY;
}

const char *lossd_encoding_name(lossd_encoding e)
{
    switch (e) {
    case LOSSD_ENCODING_GZIP:
        return "gzip";
    case LOSSD_ENCODING_DEFLATE:
        return "deflate";
    case LOSSD_ENCODING_IDENTITY:
        return "identity";
    case LOSSD_ENCODING_UNSUPPORTED:
        break;
    }
    return "unsupported";
}

/* ---------------------------------------------------------------- inflating */

/* zlib's windowBits: 15 bits of window, +16 for a gzip wrapper, negative for none. */
#define WINDOW_ZLIB 15
#define WINDOW_GZIP (15 + 16)
#define WINDOW_RAW  (-15)

/* Output room asked of the body per step: zlib fills it before more is asked. */
#define INFLATE_STEP (64 * 1024)

struct lossd_inflater {
    z_stream z;
    lossd_encoding encoding;
    bool started; /* some input was taken */
    bool ended;   /* the (last) stream ended */
    bool failed;
};

static voidpf z_alloc(voidpf opaque, uInt items, uInt size)
{
    (void)opaque;
    return calloc(items, size);
}

static void z_free(voidpf opaque, voidpf p)
{
    (void)opaque;
    free(p);
}

lossd_inflater *lossd_inflater_create(lossd_encoding e)
{
    LOSSD_ASSERT(e == LOSSD_ENCODING_GZIP || e == LOSSD_ENCODING_DEFLATE);
    lossd_inflater *z = calloc(1, sizeof *z);
    if (z == NULL)
        return NULL;
    z->encoding = e;
    z->z.zalloc = z_alloc;
    z->z.zfree = z_free;
    if (inflateInit2(&z->z, e == LOSSD_ENCODING_GZIP ? WINDOW_GZIP : WINDOW_ZLIB) != Z_OK) {
        free(z);
        return NULL;
    }
    return z;
}

static lossd_inflate_status fail(lossd_inflater *z, lossd_inflate_status status, const char **why,
                                 const char *text)
{
    z->failed = true;
    *why = text;
    return status;
}

lossd_inflate_status lossd_inflater_feed(lossd_inflater *z, const void *in, size_t n,
                                         lossd_body *body, size_t max, const char **why)
{
    static const char corrupt[] = "the body is not valid compressed data";
    if (z->failed)
        return fail(z, LOSSD_INFLATE_CORRUPT, why, corrupt);
    const unsigned char *next = in;
    while (n > 0) {
        if (z->ended) {
            /* After a gzip member, only another member may follow. */
            if (z->encoding != LOSSD_ENCODING_GZIP || next[0] != 0x1f)
                return fail(z, LOSSD_INFLATE_CORRUPT, why,
                            "the body has bytes after the end of its compressed data");
            if (inflateReset(&z->z) != Z_OK)
                return fail(z, LOSSD_INFLATE_CORRUPT, why, corrupt);
            z->ended = false;
        }
        size_t room;
        char spill[1], *out;
        if (body->len == max) {
            /* Full: what is left may only be the stream's trailer. A byte of output is too much. */
            out = spill;
            room = sizeof spill;
        } else {
            size_t want = max - body->len < INFLATE_STEP ? max - body->len : INFLATE_STEP;
            if ((out = lossd_body_space(body, want, max, &room)) == NULL)
                return fail(z, LOSSD_INFLATE_NOMEM, why, "out of memory inflating the body");
            if (room > max - body->len)
                room = max - body->len;
        }
        uInt take = n > UINT_MAX ? UINT_MAX : (uInt)n,
             give = room > UINT_MAX ? UINT_MAX : (uInt)room;
        z->z.next_in = (Bytef *)(uintptr_t)next;
        z->z.avail_in = take;
        z->z.next_out = (Bytef *)out;
        z->z.avail_out = give;
        int rc = inflate(&z->z, Z_NO_FLUSH);
        size_t used = take - z->z.avail_in, made = give - z->z.avail_out;
        if (out == spill && made > 0)
            return fail(z, LOSSD_INFLATE_TOO_LARGE, why, "the inflated body is too large");
        if (out != spill)
            lossd_body_commit(body, made);
        if (rc == Z_DATA_ERROR && z->encoding == LOSSD_ENCODING_DEFLATE && !z->started) {
            /* Not the zlib format: a raw deflate stream, as some clients send. */
            if (inflateReset2(&z->z, WINDOW_RAW) != Z_OK)
                return fail(z, LOSSD_INFLATE_CORRUPT, why, corrupt);
            z->started = true;
            body->len -= made;
            continue;
        }
        if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR)
            return fail(z, rc == Z_MEM_ERROR ? LOSSD_INFLATE_NOMEM : LOSSD_INFLATE_CORRUPT, why,
                        rc == Z_MEM_ERROR ? "out of memory inflating the body" : corrupt);
        z->started = z->started || used > 0;
        next += used;
        n -= used;
        if (rc == Z_STREAM_END)
            z->ended = true;
        else if (used == 0 && made == 0)
            return fail(z, LOSSD_INFLATE_CORRUPT, why, corrupt); /* no progress: cannot happen */
    }
    return LOSSD_INFLATE_OK;
}

lossd_inflate_status lossd_inflater_finish(lossd_inflater *z, const char **why)
{
    if (z->failed)
        return LOSSD_INFLATE_CORRUPT;
    if (!z->ended)
        return fail(z, LOSSD_INFLATE_CORRUPT, why, "the compressed body ends before its data does");
    return LOSSD_INFLATE_OK;
}

void lossd_inflater_destroy(lossd_inflater *z)
{
    if (z == NULL)
        return;
    inflateEnd(&z->z);
    free(z);
}

/* ---------------------------------------------------------------- compressing */

void *lossd_compress(lossd_encoding e, const lossd_piece *pieces, size_t n_pieces, size_t *len)
{
    LOSSD_ASSERT(e == LOSSD_ENCODING_GZIP || e == LOSSD_ENCODING_DEFLATE);
    z_stream z = {.zalloc = z_alloc, .zfree = z_free};
    if (deflateInit2(&z, Z_BEST_SPEED, Z_DEFLATED,
                     e == LOSSD_ENCODING_GZIP ? WINDOW_GZIP : WINDOW_ZLIB, 8,
                     Z_DEFAULT_STRATEGY) != Z_OK)
        return NULL;
    size_t total = 0;
    for (size_t i = 0; i < n_pieces; i++)
        total += pieces[i].len;
    /* deflateBound covers the whole input at once; pieces add a few bytes each. */
    size_t cap = deflateBound(&z, total > ULONG_MAX ? ULONG_MAX : (uLong)total) + 16 * n_pieces;
    unsigned char *out = malloc(cap);
    if (out == NULL) {
        deflateEnd(&z);
        return NULL;
    }
    z.next_out = out;
    for (size_t i = 0; i < n_pieces; i++) {
        const unsigned char *p = pieces[i].data;
        size_t left = pieces[i].len;
        bool last = i + 1 == n_pieces;
        do {
            uInt take = left > UINT_MAX ? UINT_MAX : (uInt)left;
            size_t room = cap - (size_t)(z.next_out - out);
            z.next_in = (Bytef *)(uintptr_t)p;
            z.avail_in = take;
            z.avail_out = room > UINT_MAX ? UINT_MAX : (uInt)room;
            int flush = last && take == left ? Z_FINISH : Z_NO_FLUSH;
            int rc = deflate(&z, flush);
            if (rc == Z_STREAM_ERROR || (flush == Z_FINISH && rc != Z_STREAM_END)) {
                free(out);
                deflateEnd(&z);
                return NULL;
            }
            p += take - z.avail_in;
            left -= take - z.avail_in;
        } while (left > 0);
    }
    if (n_pieces == 0) {
        z.avail_in = 0;
        z.avail_out = (uInt)cap;
        deflate(&z, Z_FINISH);
    }
    *len = (size_t)(z.next_out - out);
    deflateEnd(&z);
    return out;
}
