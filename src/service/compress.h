/* SPDX-License-Identifier: MIT */
/*
 * compress.h - HTTP content codings with zlib: which encoding a request's
 * Content-Encoding names and which one a client's Accept-Encoding allows;
 * request bodies inflated as they arrive, never past a limit; replies
 * compressed in one pass.
 *
 * "deflate" is the zlib format (RFC 9110 section 8.4.1.2; what
 * tritonclient's zlib.compress sends); raw deflate streams, which some
 * clients send under that name, are accepted too. "gzip" may hold several
 * members one after another (RFC 1952), as `cat a.gz b.gz` makes.
 *
 * Threading: an inflater belongs to one request; the rest is any thread.
 */
#ifndef LOSSD_SERVICE_COMPRESS_H
#define LOSSD_SERVICE_COMPRESS_H

#include <stdbool.h>
#include <stddef.h>

#include "body.h"

typedef enum {
    LOSSD_ENCODING_IDENTITY,
    LOSSD_ENCODING_GZIP,
    LOSSD_ENCODING_DEFLATE,
    LOSSD_ENCODING_UNSUPPORTED, /* anything else: 415 */
} lossd_encoding;

/* A Content-Encoding value (NULL: none). One coding; case-insensitive; x-gzip is gzip. */
lossd_encoding lossd_encoding_of(const char *content_encoding);

/*
 * The coding to compress a reply with, from Accept-Encoding (NULL: none):
 * gzip when acceptable, else deflate, else identity. q=0 refuses a coding;
 * "*" stands for any coding not named.
 */
lossd_encoding lossd_encoding_accepted(const char *accept_encoding);

/* "gzip", "deflate", "identity". */
const char *lossd_encoding_name(lossd_encoding e);

/* Replies larger than this are compressed when the client allows it. */
#define LOSSD_COMPRESS_MIN 1024

/* ---------------------------------------------------------------- inflating */

typedef struct lossd_inflater lossd_inflater;

typedef enum {
    LOSSD_INFLATE_OK = 0,
    LOSSD_INFLATE_TOO_LARGE = -1, /* the inflated body would pass the limit */
    LOSSD_INFLATE_CORRUPT = -2,   /* not a valid stream, or bytes after its end */
    LOSSD_INFLATE_NOMEM = -3,
} lossd_inflate_status;

/* A decoder for a gzip or deflate body; NULL when out of memory. */
lossd_inflater *lossd_inflater_create(lossd_encoding e);

/*
 * Inflates n more bytes of the encoded body into `body`, which never
 * holds more than `max` bytes: past that, LOSSD_INFLATE_TOO_LARGE, and the
 * caller stops feeding (a decompression bomb costs max bytes at most).
 * After an error the inflater takes nothing more; *why (static text) says
 * what was wrong.
 */
lossd_inflate_status lossd_inflater_feed(lossd_inflater *z, const void *in, size_t n,
                                         lossd_body *body, size_t max, const char **why);

/* At the end of the encoded body: OK when the stream was whole, CORRUPT when it ended early. */
lossd_inflate_status lossd_inflater_finish(lossd_inflater *z, const char **why);

void lossd_inflater_destroy(lossd_inflater *z);

/* ---------------------------------------------------------------- compressing */

/* A piece of a reply to compress: the reply is the pieces in order. */
typedef struct {
    const void *data;
    size_t len;
} lossd_piece;

/*
 * Compresses the pieces as one stream in encoding e (gzip or deflate) at
 * zlib's fastest level (a reply is compressed once, per request, on the
 * request's thread). Returns a malloc'd block and its length in *len, or
 * NULL when out of memory.
 */
void *lossd_compress(lossd_encoding e, const lossd_piece *pieces, size_t n_pieces, size_t *len);

#endif /* LOSSD_SERVICE_COMPRESS_H */
