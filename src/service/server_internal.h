/* SPDX-License-Identifier: MIT */
/*
 * server_internal.h - what the server's files share and nothing else may
 * include: the server's state, the request it serves, and the functions
 * one server file calls in another. server.c follows a request through
 * libmicrohttpd's callbacks and hands it to the pool; server_admit.c
 * decides on its headers whether to take it; server_body.c receives its
 * body; server_reply.c queues every reply; server_start.c builds and
 * frees the server.
 *
 * Threading and ownership: the server is built and freed by the
 * controlling thread (server.h); once started its fields are read-only
 * except the atomics, which any thread updates. A request belongs to
 * libmicrohttpd's polling thread from its first access-handler call to
 * NOTIFY_COMPLETED - the only place it is freed - except between submit
 * and resume, when only the worker serving it touches it. Every function
 * declared here runs on the polling thread unless its comment says
 * otherwise.
 */
#ifndef LOSSD_SERVICE_SERVER_INTERNAL_H
#define LOSSD_SERVICE_SERVER_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <microhttpd.h>

#include "auth.h"
#include "client.h"
#include "compress.h"
#include "handler.h"
#include "metrics.h"
#include "openapi.h"
#include "options.h"
#include "pool.h"
#include "reaper.h"
#include "server.h"

/* A reply fixed at start: JSON text (malloc'd, NUL-terminated) and its length. */
typedef struct {
    char *text;
    size_t len;
} server_document;

struct lossd_server {
    const lossd_config *cfg;
    struct MHD_Daemon *daemon;
    lossd_pool *pool;
    lossd_metrics *metrics;
    lossd_auth *auth;
    lossd_reaper *reaper; /* request deadlines; NULL with --timeout 0 */
    lossd_handler handler;
    lossd_handler inline_handler; /* small requests, on libmicrohttpd's thread (dispatch) */
    /* GET /v1, /v1/functions and /v2, by endpoint (the others' are empty) */
    server_document documents[LOSSD_ROUTE_COUNT];
    server_document *models; /* GET /v2/models/{m}, one per registry row (lossd_function_at) */
    server_document kinds[LOSSD_KIND_COUNT]; /* GET /v1/functions/{kind} */
    lossd_openapi *openapi;                  /* GET /openapi.yaml and /openapi.json */
    unsigned port;
    size_t workers, io_threads; /* as resolved from the configuration at start */
    atomic_bool draining;
    /* the listening socket once draining: MHD's threads may still use it,
       so it is closed only after MHD_stop_daemon() (libmicrohttpd's rule) */
    MHD_socket quiesced;
    atomic_size_t active;   /* requests begun and not yet completed */
    atomic_size_t inflight; /* compute requests accepted into the pool, not yet answered */
    atomic_size_t buffered; /* bytes of request bodies held, uploading, queued or parsing */
    size_t max_buffered;
    char *tls_cert, *tls_key; /* both NULL without TLS */
    lossd_trust trust;        /* --trusted-proxy */
};

/* The request headers lossd reads (request_headers' slots, in collect_header's table). */
#define REQUEST_HEADERS 11

/*
 * The request headers lossd reads, collected in one pass over the request's
 * headers when it begins: a lookup by name walks them all each time, and
 * a request asked for a dozen. Each value is without the optional
 * whitespace around it (RFC 9110, section 5.5): libmicrohttpd's own
 * bytes, valid until the request completes, or for a value that ended in
 * whitespace a trimmed copy in `owned`, freed with the request. NULL when
 * absent; of a repeated header, the first (as libmicrohttpd's own lookup
 * answers), with `hosts` counting every Host line.
 */
typedef struct {
    const char *content_length, *transfer_encoding, *content_type, *content_encoding;
    const char *accept_encoding, *authorization, *header_len, *request_id, *user_agent, *origin;
    const char *host;
    unsigned hosts;
    char *owned[REQUEST_HEADERS];
} request_headers;

typedef struct request {
    lossd_server *srv;
    struct MHD_Connection *conn;
    lossd_route route;
    lossd_fault fault; /* a refusal decided before the worker */
    lossd_body body;
    size_t bytes_in;
    size_t reserved;          /* of the server's buffered bytes, held for this body */
    size_t header_len;        /* /v2's Inference-Header-Content-Length, or LOSSD_NO_HEADER_LEN */
    lossd_inflater *inflater; /* a gzip or deflate body, inflated as it arrives */
    lossd_encoding accepts;   /* what the reply may be compressed with */
    bool http_1_1;            /* the request line says HTTP/1.1 (a Host header is required) */
    bool computed;            /* the worker's reply is ready */
    bool answered;
    bool counted_inflight;
    bool preflight; /* a CORS preflight: answered 204 (web.h) */
    lossd_reply reply;
    struct timespec start;
    int status;
    size_t bytes_out;
    const char *error;
    request_headers headers; /* the ones lossd reads, found in one pass (collect_header) */
    const char *request_id;  /* the client's X-Request-Id, or generated_id */
    char generated_id[LOSSD_REQUEST_ID_GENERATED];
    char method[16];
    char path[512];
} request;

/* ---------------------------------------------------- server_admit.c */

/*
 * A request at its first access-handler call, its headers collected and
 * its id chosen; NULL when memory is short. It counts as active until
 * request_destroy().
 */
request *request_create(lossd_server *s, struct MHD_Connection *conn, const char *url,
                        const char *method, const char *version);

/* Frees r and what it holds (server.c's NOTIFY_COMPLETED only). */
void request_destroy(request *r);

/*
 * Decides from the method, path and headers alone whether r is taken:
 * sets r->fault for a refusal (route, API key, draining, Host, framing,
 * media type, coding, query, Content-Length against --max-body and
 * --max-buffered), else prepares r->body for what the headers announce.
 */
void request_admit(request *r);

/* Whether the request says a body follows (Content-Length > 0, or chunked). */
bool request_announces_body(const request *r);

/* ---------------------------------------------------- server_body.c */

/*
 * Counts n more bytes of r's body against --max-buffered. False when the
 * budget is spent (the first body always fits).
 */
bool request_reserve(request *r, size_t n);

/* Gives back what r holds of --max-buffered. Any thread that owns r. */
void request_release(request *r);

/* Records the 503 for a body past --max-buffered. */
void request_refuse_buffered(request *r);

/* Appends a body chunk (inflating it, counting it against the limits), or records a refusal. */
void request_receive(request *r, const char *data, size_t size);

/* At the end of the body: a compressed body must have ended with its stream. */
void request_received(request *r);

/* ---------------------------------------------------- server_reply.c */

/*
 * Queues a reply made on this thread: `body` (malloc'd, len bytes, may be
 * NULL when len is 0) is handed over, compressed when large and the
 * client takes it. MHD_NO when libmicrohttpd refused it.
 */
enum MHD_Result request_queue(request *r, int status, char *body, size_t len,
                              const char *content_type);

/* Queues a copy of len bytes of JSON text. */
enum MHD_Result request_queue_json(request *r, int status, const char *text, size_t len);

/* Queues a JSON string literal, its length counted by the compiler. */
#define request_queue_literal(r, status, literal) \
    request_queue_json(r, status, "" literal, sizeof literal - 1)

/* Queues r->fault's error reply (in /v2's form on /v2). */
enum MHD_Result request_queue_fault(request *r);

/* Queues the reply r's handler made (r->reply), taking what it holds. */
enum MHD_Result request_queue_computed(request *r);

/* Answers a GET endpoint, all of whose answers are cheap enough to give inline. */
enum MHD_Result request_serve_get(request *r);

/* ---------------------------------------------------- server_start.c */

/* Stops libmicrohttpd and frees s, started or partly built. */
void server_free(lossd_server *s);

/* Seconds from t0 (CLOCK_MONOTONIC) to now. */
double seconds_since(const struct timespec *t0);

/* The callbacks server_start.c gives libmicrohttpd (server.c). */
enum MHD_Result server_on_access(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **con_cls);
void server_on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode code);
void server_on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode code);
/* The reaper's callback: a slow client was cut off (the reaper's thread). */
void server_on_reap(void *arg);

#endif /* LOSSD_SERVICE_SERVER_INTERNAL_H */
