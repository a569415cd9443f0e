/* SPDX-License-Identifier: MIT */
/*
 * server_body.c - receiving an admitted request's body: chunks appended
 * (inflated first when the body is compressed) under --max-body, as sent
 * and as inflated, and under --max-buffered, the memory all bodies may
 * hold at once; a body past either is dropped as it comes and the
 * request answered 413 or 503 once it is in. At its end, a compressed
 * body must have ended its stream, and a body that is plainly compressed
 * but sent without Content-Encoding is named as such.
 *
 * Threading: libmicrohttpd's polling thread, while the body arrives. The
 * server's count of buffered bytes is atomic: the workers give back what
 * their request held (request_release) on their own threads.
 */
#include <stdlib.h>
#include <string.h>

#include "server_internal.h"

bool request_reserve(request *r, size_t n)
{
    lossd_server *s = r->srv;
    /* Without a budget, a queue of maximum-size bodies (or many slow uploads) could hold
       gigabytes. */
    size_t held = atomic_load(&s->buffered);
    do {
        if (held > 0 && (held + n < held || held + n > s->max_buffered))
            return false;
    } while (!atomic_compare_exchange_weak(&s->buffered, &held, held + n));
    r->reserved += n;
    return true;
}

void request_release(request *r)
{
    atomic_fetch_sub(&r->srv->buffered, r->reserved);
    r->reserved = 0;
}

void request_refuse_buffered(request *r)
{
    lossd_metrics_reject(r->srv->metrics, LOSSD_REJECT_OVERLOADED);
    lossd_fault_set(&r->fault, LOSSD_FAULT_OVERLOADED, NULL,
                    "request bodies in memory would pass %zu bytes (--max-buffered); retry after "
                    "a second",
                    r->srv->max_buffered);
}

/* Frees the body as it stands: the request is answered with its fault. */
static void drop_body(request *r)
{
    lossd_body_cleanup(&r->body);
    lossd_inflater_destroy(r->inflater);
    r->inflater = NULL;
}

/* Counts the body's memory against --max-buffered; false (and 503) past it. */
static bool body_fits_budget(request *r)
{
    if (r->body.cap <= r->reserved || request_reserve(r, r->body.cap - r->reserved))
        return true;
    drop_body(r); /* a chunked or inflating body past the budget */
    request_refuse_buffered(r);
    return false;
}

/* Drops the body and records the 413 of a body past --max-body; `how` says as what. */
static void refuse_too_large(request *r, const char *how)
{
    drop_body(r);
    lossd_metrics_reject(r->srv->metrics, LOSSD_REJECT_TOO_LARGE);
    lossd_fault_set(&r->fault, LOSSD_FAULT_TOO_LARGE, NULL,
                    "the body %s more than %zu bytes "
                    "(--max-body)",
                    how, r->srv->cfg->max_body);
}

/* Feeds a chunk of a compressed body to its decoder, which appends what it inflates. */
static void inflate_chunk(request *r, const char *data, size_t size)
{
    const char *why = "";
    lossd_inflate_status st =
        lossd_inflater_feed(r->inflater, data, size, &r->body, r->srv->cfg->max_body, &why);
    if (!body_fits_budget(r))
        return;
    if (st == LOSSD_INFLATE_TOO_LARGE) {
        refuse_too_large(r, "inflates to");
    } else if (st != LOSSD_INFLATE_OK) {
        drop_body(r);
        lossd_fault_set(&r->fault,
                        st == LOSSD_INFLATE_NOMEM ? LOSSD_FAULT_INTERNAL : LOSSD_FAULT_BAD_REQUEST,
                        NULL, "Content-Encoding: %s", why);
    }
}

/*
 * Appends a body chunk, inflating it first when the body is compressed;
 * past --max-body (as sent, or as inflated), drops the body and records
 * 413: a decompression bomb costs at most --max-body of memory.
 */
void request_receive(request *r, const char *data, size_t size)
{
    size_t max = r->srv->cfg->max_body;
    r->bytes_in += size;
    if (r->fault.kind != LOSSD_FAULT_NONE)
        return;
    if (r->bytes_in > max) {
        refuse_too_large(r, "is");
        return;
    }
    if (r->inflater) {
        inflate_chunk(r, data, size);
        return;
    }
    if (r->body.len + size > r->body.cap) { /* chunked, or more than Content-Length said */
        size_t room;
        if (lossd_body_space(&r->body, size, max, &room) == NULL) {
            drop_body(r);
            lossd_fault_set(&r->fault, LOSSD_FAULT_INTERNAL, NULL, "out of memory for the body");
            return;
        }
        if (!body_fits_budget(r))
            return;
    }
    lossd_body_append(&r->body, data, size, max);
}

/*
 * The coding whose stream a body plainly begins with - gzip's magic bytes
 * 1f 8b (RFC 1952), or the zlib header zlib itself writes (RFC 1950:
 * deflate with a 32 KiB window, 78 then 01, 5e, 9c or da by level) - as
 * its Content-Encoding would name it; NULL for anything else. Neither can
 * begin a JSON text (nor /v2's JSON header): 0x1f is a control character,
 * 'x' no JSON token.
 */
static const char *compressed_coding(const lossd_body *body)
{
    const unsigned char *p = (const unsigned char *)body->data;
    if (body->len < 2)
        return NULL;
    if (p[0] == 0x1f && p[1] == 0x8b)
        return "gzip";
    if (p[0] == 0x78 && (p[1] == 0x01 || p[1] == 0x5e || p[1] == 0x9c || p[1] == 0xda))
        return "deflate";
    return NULL;
}

void request_received(request *r)
{
    const char *why = "";
    if (r->fault.kind == LOSSD_FAULT_NONE && r->inflater &&
        lossd_inflater_finish(r->inflater, &why) != LOSSD_INFLATE_OK) {
        drop_body(r);
        lossd_fault_set(&r->fault, LOSSD_FAULT_BAD_REQUEST, NULL, "Content-Encoding: %s", why);
    }
    const char *coding = NULL;
    if (r->fault.kind == LOSSD_FAULT_NONE && r->inflater == NULL &&
        (coding = compressed_coding(&r->body)) != NULL) {
        drop_body(r);
        lossd_fault_set(&r->fault, LOSSD_FAULT_INVALID_JSON, NULL,
                        "the body looks %s-compressed, but the request has no Content-Encoding: "
                        "send the header Content-Encoding: %s with it, or send the body "
                        "uncompressed",
                        coding, coding);
    }
    lossd_inflater_destroy(r->inflater);
    r->inflater = NULL;
}
