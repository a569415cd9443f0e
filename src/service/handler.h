/* SPDX-License-Identifier: MIT */
/*
 * handler.h - serving one compute request from its raw body: parse, bind,
 * validate, compute (its blocks spread over the pool through exec),
 * serialise; and /v1/batch, whose jobs run in parallel the same way.
 * Knows nothing of libmicrohttpd: the server hands it bytes and gets back
 * a status and a body.
 *
 * Threading: any worker; a reply belongs to the request that made it.
 */
#ifndef LOSSD_SERVICE_HANDLER_H
#define LOSSD_SERVICE_HANDLER_H

#include "body.h"
#include "buf.h"
#include "codec.h"
#include "compress.h"
#include "exec.h"
#include "fault.h"
#include "route.h"

typedef struct {
    lossd_limits limits;
    const lossd_exec *exec; /* NULL: compute on the calling thread */
} lossd_handler;

/* Binary pieces a /v2 reply sends after its JSON header: outputs, pointing into the call. */
#define LOSSD_REPLY_MAX_SEGMENTS 16

/*
 * What the server sends. Without segments, `body` is the whole reply.
 * With segments (a /v2 reply with binary outputs), `body` is the JSON
 * header and the segments follow it on the wire; they point into memory
 * that `owner` holds until release(owner). When the reply was compressed,
 * `compressed` holds all of it (header and segments) and the rest was
 * released.
 */
typedef struct {
    int status;
    lossd_fault_kind fault;   /* LOSSD_FAULT_NONE on success */
    lossd_buf body;           /* the JSON reply or header; the caller cleans it up */
    const char *content_type; /* static text; NULL means application/json */
    size_t
        header_len; /* with segments: the JSON header's length (Inference-Header-Content-Length) */
    lossd_piece segments[LOSSD_REPLY_MAX_SEGMENTS];
    size_t n_segments;
    void (*release)(void *owner); /* frees what the segments point into */
    void *owner;
    lossd_encoding encoding; /* of `compressed`; IDENTITY when not compressed */
    void *compressed;        /* malloc'd, compressed_len bytes */
    size_t compressed_len;
    size_t elements; /* numbers read from the request's tensors */
} lossd_reply;

/* lossd_request.header_len when the request had no Inference-Header-Content-Length. */
#define LOSSD_NO_HEADER_LEN ((size_t)-1)

/* A request body handed to the handler, with what it needs to know of the HTTP request. */
typedef struct {
    const lossd_route *route;
    lossd_body body;        /* taken over: the handler frees it */
    size_t header_len;      /* /v2: Inference-Header-Content-Length, or LOSSD_NO_HEADER_LEN */
    lossd_encoding accepts; /* the coding the client takes for the reply (Accept-Encoding) */
} lossd_request;

/*
 * Serves a request with a body - a compute, batch, /v2 inference or /v2
 * repository index request, by its route's endpoint - and frees its body as
 * soon as it is no longer needed: a large body's memory is given back
 * before its reply is built. Always fills reply (lossd_reply_init() first),
 * compressed when the client accepts it and the reply is large.
 */
void lossd_handle(const lossd_handler *h, lossd_request *req, lossd_reply *reply);

/* An empty reply (status 200, nothing to send yet). */
void lossd_reply_init(lossd_reply *reply);

/* Frees what the reply holds: body, segments' owner, compressed bytes. */
void lossd_reply_cleanup(lossd_reply *reply);

/* Fills reply with a fault's status and error body: the Open Inference Protocol's form with v2. */
void lossd_reply_fault(lossd_reply *reply, const lossd_fault *f, bool v2);

/* Runs a prepared call's blocks, spread over h's executor when it is large, and finishes it. */
void lossd_handler_compute(const lossd_handler *h, lossd_call *c);

#endif /* LOSSD_SERVICE_HANDLER_H */
