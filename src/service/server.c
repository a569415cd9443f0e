/* SPDX-License-Identifier: MIT */
/*
 * server.c - libmicrohttpd glue (see server.h).
 *
 * The life of a request, all on libmicrohttpd's polling thread unless
 * said otherwise:
 *   1. first access-handler call: a `request` is created and admitted -
 *      route (404/405), API key (401), draining (503), framing (400),
 *      media type (415), Content-Length against --max-body (413). A refusal
 *      is answered at once, before any body byte is read.
 *   2. body chunks are appended; past --max-body the body is dropped and
 *      the request answered 413 as soon as libmicrohttpd lets us.
 *   3. on the final call, GET endpoints answer inline (they are cheap);
 *      compute requests are suspended, then submitted to the pool. A full
 *      queue resumes the connection at once and answers 503 overloaded.
 *   4. a worker parses, validates, computes and serialises (handler.c),
 *      stores the reply in the request and resumes the connection.
 *   5. the resumed handler call queues the reply.
 *   6. NOTIFY_COMPLETED (also for aborted connections) logs the access
 *      line, records metrics and frees the request - the only place it is
 *      freed.
 * A worker touches a request only between submit and resume, and the
 * polling thread does not touch it in that window.
 */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#include <arpa/inet.h>
#include <netdb.h>
#include <sched.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "../debug.h"
#include "auth.h"
#include "catalog.h"
#include "client.h"
#include "compress.h"
#include "handler.h"
#include "listener.h"
#include "log.h"
#include "metrics.h"
#include "openapi.h"
#include "pool.h"
#include "reaper.h"
#include "server.h"
#include "v2.h"
#include "web.h"

#define CONNECTION_MEMORY (16 * 1024)

/* Bodies up to this size are served on libmicrohttpd's thread (dispatch). */
#define INLINE_BODY_MAX 4096

struct lossd_server {
    const lossd_config *cfg;
    struct MHD_Daemon *daemon;
    lossd_pool *pool;
    lossd_metrics *metrics;
    lossd_auth *auth;
    lossd_reaper *reaper; /* request deadlines; NULL with --timeout 0 */
    lossd_handler handler;
    lossd_handler inline_handler; /* small requests, on libmicrohttpd's thread (dispatch) */
    char *catalog, *v1, *v2;
    size_t catalog_len, v1_len, v2_len;
    char **models; /* GET /v2/models/{m}, one per registry row (lossd_function_at order) */
    /* GET /openapi.yaml and /openapi.json, built at start-up */
    lossd_openapi *openapi;
    unsigned port;
    atomic_bool draining;
    /* the listening socket once draining: MHD's threads may still use it,
       so it is closed only after MHD_stop_daemon() (libmicrohttpd's rule) */
    MHD_socket quiesced;
    atomic_size_t active;   /* requests begun and not yet completed */
    atomic_size_t inflight; /* compute requests accepted into the pool, not yet answered */
    atomic_size_t buffered; /* bytes of request bodies held, uploading, queued or parsing */
    size_t max_buffered;
    char *tls_cert, *tls_key;
    lossd_trust trust; /* --trusted-proxy */
};

/*
 * The request headers lossd reads, collected in one pass over the request's
 * headers when it begins: a lookup by name walks them all each time, and
 * a request asked for a dozen. The values are libmicrohttpd's, valid until
 * the request completes. NULL when absent.
 */
typedef struct {
    const char *content_length, *transfer_encoding, *content_type, *content_encoding;
    const char *accept_encoding, *authorization, *header_len, *request_id, *user_agent, *origin;
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
    bool computed;            /* the worker's reply is ready */
    bool answered;
    bool counted_inflight;
    bool preflight; /* a CORS preflight: answered 204 (web.h) */
    lossd_reply reply;
    struct timespec start;
    int status;
    size_t bytes_out;
    const char *error;
    request_headers headers; /* the ones lossd reads, found in one pass (collect_headers) */
    const char *request_id;  /* the client's X-Request-Id, or generated_id */
    char generated_id[LOSSD_REQUEST_ID_GENERATED];
    char method[16];
    char path[512];
} request;

static double seconds_since(const struct timespec *t0)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - t0->tv_sec) + (double)(now.tv_nsec - t0->tv_nsec) / 1e9;
}

/* ------------------------------------------------------------ responses */

static void free_body(void *body)
{
    free(body);
}

/* Adds the headers every reply may need, queues `resp` (len bytes) and lets go of it. */
static enum MHD_Result respond(request *r, int status, struct MHD_Response *resp, size_t len,
                               const char *content_type)
{
    lossd_server *s = r->srv;
    if (content_type)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    lossd_header web[LOSSD_WEB_HEADERS_MAX];
    size_t n_web = lossd_web_headers(s->cfg, &r->route, r->headers.origin, r->preflight, web);
    for (size_t i = 0; i < n_web; i++)
        MHD_add_response_header(resp, web[i].name, web[i].value);
    MHD_add_response_header(resp, "X-Request-Id", r->request_id);
    if (status == 405 && r->route.allow)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, r->route.allow);
    if (status == 401)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"lossd\"");
    if (r->fault.kind == LOSSD_FAULT_OVERLOADED)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, "1");
    if (atomic_load(&s->draining))
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result rc = MHD_queue_response(r->conn, (unsigned)status, resp);
    MHD_destroy_response(resp);
    if (rc == MHD_YES) {
        r->status = status;
        r->bytes_out = len;
        r->answered = true;
    }
    return rc;
}

/* Content-Encoding and Vary for a reply compressed with e. */
static void add_encoding(struct MHD_Response *resp, lossd_encoding e)
{
    MHD_add_response_header(resp, MHD_HTTP_HEADER_VARY, MHD_HTTP_HEADER_ACCEPT_ENCODING);
    if (e != LOSSD_ENCODING_IDENTITY)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_ENCODING, lossd_encoding_name(e));
}

/*
 * Queues a reply made on this thread. `body` is malloc'd and handed over
 * (freed by libmicrohttpd). Large bodies are compressed when the client
 * takes it (they are small here: GET endpoints and errors; computed
 * replies were compressed by their worker).
 */
static enum MHD_Result queue(request *r, int status, char *body, size_t len,
                             const char *content_type)
{
    lossd_encoding e = LOSSD_ENCODING_IDENTITY;
    if (r->accepts != LOSSD_ENCODING_IDENTITY && len > LOSSD_COMPRESS_MIN) {
        size_t packed_len;
        void *packed = lossd_compress(r->accepts, &(lossd_piece){body, len}, 1, &packed_len);
        if (packed) {
            free(body);
            body = packed;
            len = packed_len;
            e = r->accepts;
        }
    }
    struct MHD_Response *resp =
        MHD_create_response_from_buffer_with_free_callback(len, body, free_body);
    if (resp == NULL) {
        free(body);
        return MHD_NO;
    }
    if (len > LOSSD_COMPRESS_MIN || e != LOSSD_ENCODING_IDENTITY)
        add_encoding(resp, e);
    return respond(r, status, resp, len, content_type);
}

static enum MHD_Result queue_json(request *r, int status, const char *text, size_t len)
{
    char *copy = malloc(len ? len : 1);
    if (copy == NULL)
        return MHD_NO;
    memcpy(copy, text, len);
    return queue(r, status, copy, len, "application/json");
}

static enum MHD_Result queue_buf(request *r, int status, lossd_buf *b, const char *type)
{
    size_t len = 0;
    char *body = lossd_buf_steal(b, &len);
    if (body == NULL) {
        const char *oom = lossd_fault_oom_body(&len);
        return queue_json(r, lossd_fault_status(LOSSD_FAULT_INTERNAL), oom, len);
    }
    return queue(r, status, body, len, type);
}

/* What a reply with binary outputs leaves to libmicrohttpd until it is sent. */
typedef struct {
    char *header;
    void (*release)(void *owner);
    void *owner;
} sent_reply;

static void free_sent(void *arg)
{
    sent_reply *sent = arg;
    free(sent->header);
    sent->release(sent->owner);
    free(sent);
}

/*
 * Binary outputs up to this many bytes are copied behind their JSON header:
 * libmicrohttpd sends a buffer's headers and body in one system call, an
 * iovec reply's in two, which held small binary requests at 72% of the
 * ceiling (against 84% for the same request in JSON).
 */
#define COPIED_SEGMENTS_MAX ((size_t)16 << 10)

/* Moves small binary outputs into the reply's body, releasing their owner. */
static void copy_small_segments(lossd_reply *reply)
{
    size_t total = 0;
    for (size_t i = 0; i < reply->n_segments; i++)
        total += reply->segments[i].len;
    if (total > COPIED_SEGMENTS_MAX)
        return;
    for (size_t i = 0; i < reply->n_segments; i++)
        lossd_buf_append(&reply->body, reply->segments[i].data, reply->segments[i].len);
    reply->n_segments = 0;
    if (reply->release)
        reply->release(reply->owner);
    reply->release = NULL;
}

/*
 * Queues a worker's reply: compressed, or a JSON header with binary
 * outputs sent from the call's own arrays (no copy; small ones are copied
 * behind the header), or a JSON body.
 */
static enum MHD_Result queue_reply(request *r, lossd_reply *reply)
{
    if (reply->n_segments > 0 && reply->compressed == NULL)
        copy_small_segments(reply);
    const char *type = reply->content_type ? reply->content_type : "application/json";
    char header_len[LOSSD_UTOA_MAX + 1] = "";
    if (reply->header_len)
        header_len[lossd_utoa(reply->header_len, header_len)] = '\0';
    struct MHD_Response *resp = NULL;
    size_t len = 0;
    if (reply->compressed) {
        len = reply->compressed_len;
        resp = MHD_create_response_from_buffer_with_free_callback(len, reply->compressed, free);
        if (resp)
            reply->compressed = NULL;
    } else if (reply->n_segments > 0) {
        struct MHD_IoVec iov[1 + LOSSD_REPLY_MAX_SEGMENTS];
        sent_reply *sent = malloc(sizeof *sent);
        if (sent == NULL)
            return MHD_NO;
        size_t header;
        sent->header = lossd_buf_steal(&reply->body, &header);
        sent->release = reply->release;
        sent->owner = reply->owner;
        iov[0] = (struct MHD_IoVec){sent->header, header};
        len = header;
        for (size_t i = 0; i < reply->n_segments; i++) {
            iov[i + 1] = (struct MHD_IoVec){reply->segments[i].data, reply->segments[i].len};
            len += reply->segments[i].len;
        }
        resp =
            MHD_create_response_from_iovec(iov, (unsigned)reply->n_segments + 1, free_sent, sent);
        if (resp == NULL) {
            free(sent->header);
            free(sent);
            return MHD_NO;
        }
        reply->release = NULL; /* libmicrohttpd's now: free_sent() */
        reply->n_segments = 0;
    } else {
        char *body = lossd_buf_steal(&reply->body, &len);
        if (body == NULL)
            return MHD_NO;
        resp = MHD_create_response_from_buffer_with_free_callback(len, body, free_body);
        if (resp == NULL)
            free(body);
    }
    if (resp == NULL)
        return MHD_NO;
    if (len > LOSSD_COMPRESS_MIN || reply->compressed_len)
        add_encoding(resp, reply->encoding);
    if (header_len[0])
        MHD_add_response_header(resp, "Inference-Header-Content-Length", header_len);
    return respond(r, reply->status, resp, len, type);
}

static enum MHD_Result queue_fault(request *r)
{
    lossd_buf b;
    lossd_buf_init(&b, 0);
    if (r->route.v2)
        lossd_fault_write_v2(&r->fault, &b);
    else
        lossd_fault_write(&r->fault, &b);
    r->error = lossd_fault_code(r->fault.kind);
    return queue_buf(r, lossd_fault_status(r->fault.kind), &b, "application/json");
}

/* ------------------------------------------------------------ admission */

/* Files one header into the request_headers: by length first, then the name itself. */
static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *name,
                                      const char *value)
{
    (void)kind;
    request_headers *h = cls;
    static const struct {
        const char *name;
        size_t offset;
    } wanted[] = {
        {MHD_HTTP_HEADER_CONTENT_LENGTH, offsetof(request_headers, content_length)},
        {MHD_HTTP_HEADER_TRANSFER_ENCODING, offsetof(request_headers, transfer_encoding)},
        {MHD_HTTP_HEADER_CONTENT_TYPE, offsetof(request_headers, content_type)},
        {MHD_HTTP_HEADER_CONTENT_ENCODING, offsetof(request_headers, content_encoding)},
        {MHD_HTTP_HEADER_ACCEPT_ENCODING, offsetof(request_headers, accept_encoding)},
        {MHD_HTTP_HEADER_AUTHORIZATION, offsetof(request_headers, authorization)},
        {"Inference-Header-Content-Length", offsetof(request_headers, header_len)},
        {"X-Request-Id", offsetof(request_headers, request_id)},
        {MHD_HTTP_HEADER_USER_AGENT, offsetof(request_headers, user_agent)},
        {"Origin", offsetof(request_headers, origin)},
    };
    size_t len = strlen(name);
    for (size_t i = 0; i < sizeof wanted / sizeof wanted[0]; i++) {
        const char **slot = (const char **)(void *)((char *)h + wanted[i].offset);
        /* the first of a repeated header, as libmicrohttpd's own lookup answers */
        if (*slot == NULL && strlen(wanted[i].name) == len &&
            strcasecmp(wanted[i].name, name) == 0) {
            *slot = value;
            break;
        }
    }
    return MHD_YES;
}

/*
 * Whether a Content-Type may carry a JSON body: application/json, with
 * parameters, in any case, and the structured-syntax types built on it
 * (application/vnd.api+json, RFC 6839) - except application/problem+json,
 * which describes an error (RFC 9457), never a request. application/x-www-
 * form-urlencoded is read as JSON too: it is what `curl -d` sends unless
 * told otherwise, and the simplest client must work. Every other type is
 * refused with 415.
 */
static bool is_json_media_type(const char *value)
{
    static const char *const accepted[] = {"application/json", "application/x-www-form-urlencoded"};
    static const char application[] = "application/", suffix[] = "+json";
    while (*value == ' ')
        value++;
    for (size_t i = 0; i < sizeof accepted / sizeof accepted[0]; i++) {
        size_t len = strlen(accepted[i]);
        if (strncasecmp(value, accepted[i], len) != 0)
            continue;
        char next = value[len];
        if (next == '\0' || next == ';' || next == ' ')
            return true;
    }
    if (strncasecmp(value, application, sizeof application - 1) != 0)
        return false;
    const char *subtype = value + sizeof application - 1;
    size_t len = strcspn(subtype, "; ");
    return len > sizeof suffix - 1 &&
           strncasecmp(subtype + len - (sizeof suffix - 1), suffix, sizeof suffix - 1) == 0 &&
           !(len == 12 && strncasecmp(subtype, "problem+json", 12) == 0);
}

/*
 * Counts n more bytes of this request's body against --max-buffered, the
 * memory all bodies may hold at once: without it, a queue of maximum-size
 * bodies (or many slow uploads) could hold gigabytes. The first body always
 * fits, whatever the limit. False when the budget is spent.
 */
static bool reserve(request *r, size_t n)
{
    lossd_server *s = r->srv;
    size_t held = atomic_load(&s->buffered);
    do {
        if (held > 0 && (held + n < held || held + n > s->max_buffered))
            return false;
    } while (!atomic_compare_exchange_weak(&s->buffered, &held, held + n));
    r->reserved += n;
    return true;
}

static void release(request *r)
{
    atomic_fetch_sub(&r->srv->buffered, r->reserved);
    r->reserved = 0;
}

static void refuse_buffered(request *r)
{
    lossd_metrics_reject(r->srv->metrics, LOSSD_REJECT_OVERLOADED);
    lossd_fault_set(&r->fault, LOSSD_FAULT_OVERLOADED, NULL,
                    "request bodies in memory would pass %zu bytes (--max-buffered); retry after "
                    "a second",
                    r->srv->max_buffered);
}

/*
 * Reads /v2's Inference-Header-Content-Length: the length of the JSON
 * header before the binary tensors (in the uncompressed body). Sets a 400
 * when it is not a plain decimal, or says more than Content-Length.
 */
static void read_header_len(request *r, const char *length, bool encoded)
{
    const char *value = r->headers.header_len;
    if (value == NULL || r->route.endpoint != LOSSD_ROUTE_V2_INFER)
        return;
    size_t n;
    if (lossd_v2_header_len(value, &n) < 0) {
        lossd_fault_set(&r->fault, LOSSD_FAULT_BAD_REQUEST, NULL,
                        "Inference-Header-Content-Length must be a whole number of bytes, got "
                        "\"%.32s\"",
                        value);
        return;
    }
    if (length && !encoded && n > strtoull(length, NULL, 10)) {
        lossd_fault_set(&r->fault, LOSSD_FAULT_BAD_REQUEST, NULL,
                        "Inference-Header-Content-Length is %zu, more than the body's %s bytes "
                        "(Content-Length)",
                        n, length);
        return;
    }
    r->header_len = n;
}

/* Whether a request body of this Content-Type may be served: JSON, or for /v2 raw bytes too. */
static bool accepted_media_type(request *r, const char *type)
{
    if (type == NULL || is_json_media_type(type))
        return true;
    static const char octets[] = "application/octet-stream";
    while (*type == ' ')
        type++;
    return r->route.endpoint == LOSSD_ROUTE_V2_INFER &&
           strncasecmp(type, octets, sizeof octets - 1) == 0 &&
           (type[sizeof octets - 1] == '\0' || type[sizeof octets - 1] == ';' ||
            type[sizeof octets - 1] == ' ');
}

/* The first query argument, for refuse_query's message. */
typedef struct {
    const char *key, *value;
} query_arg;

static enum MHD_Result first_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                 const char *value)
{
    (void)kind;
    query_arg *arg = cls;
    arg->key = key;
    arg->value = value;
    return MHD_NO; /* the first is enough */
}

/*
 * Compute endpoints take no query string: POST /v1/loss/mse?reduction=sum
 * must not answer the mean. libmicrohttpd has taken the query off the
 * path and parsed it into arguments; any argument is a 422 naming the
 * field "query" (the same on /v2, in its error form). GET endpoints take
 * no input, and ignore one (a cache-buster such as ?_=1 is harmless).
 */
static int refuse_query(request *r)
{
    query_arg arg = {NULL, NULL};
    int n = MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, NULL, NULL);
    if (n <= 0)
        return 0;
    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, first_arg, &arg);
    return lossd_fault_set(&r->fault, LOSSD_FAULT_INVALID_ARGUMENT, "query",
                           "%s takes no query string, got ?%.64s%s%.64s%s; send parameters in "
                           "the JSON body",
                           r->route.v2 ? "an inference endpoint" : "a compute endpoint",
                           arg.key ? arg.key : "", arg.value ? "=" : "", arg.value ? arg.value : "",
                           n > 1 ? "&..." : "");
}

static void admit(request *r)
{
    lossd_server *s = r->srv;
    const lossd_config *cfg = s->cfg;
    r->header_len = LOSSD_NO_HEADER_LEN;
    r->accepts = lossd_encoding_accepted(r->headers.accept_encoding);
    int found = lossd_route_find(r->method, r->path, &r->route, &r->fault);
    int web = lossd_web_admit(cfg, r->method, found, &r->route, &r->fault);
    r->preflight = web == 1;
    if (web != 0)
        return;
    if (r->route.needs_key && s->auth && !lossd_auth_check(s->auth, r->headers.authorization)) {
        lossd_metrics_reject(s->metrics, LOSSD_REJECT_UNAUTHORIZED);
        lossd_fault_set(&r->fault, LOSSD_FAULT_UNAUTHORIZED, NULL,
                        "a valid API key is required: send Authorization: Bearer KEY");
        return;
    }
    if (!r->route.compute)
        return;
    if (atomic_load(&s->draining)) {
        lossd_metrics_reject(s->metrics, LOSSD_REJECT_DRAINING);
        lossd_fault_set(&r->fault, LOSSD_FAULT_DRAINING, NULL,
                        "the server is shutting down; retry on another instance");
        return;
    }
    const char *length = r->headers.content_length;
    const char *transfer = r->headers.transfer_encoding;
    if (length && transfer) {
        lossd_fault_set(&r->fault, LOSSD_FAULT_BAD_REQUEST, NULL,
                        "a request must not carry both Content-Length and Transfer-Encoding");
        return;
    }
    const char *type = r->headers.content_type;
    if (!accepted_media_type(r, type)) {
        lossd_fault_set(
            &r->fault, LOSSD_FAULT_MEDIA_TYPE, NULL, "expected Content-Type: %s, got %.64s%s",
            r->route.v2 ? "application/json or application/octet-stream" : "application/json", type,
            strncasecmp(type, "application/problem+json", 24) == 0
                ? " (a problem report describes an error, not a request)"
                : "");
        return;
    }
    const char *coding = r->headers.content_encoding;
    lossd_encoding encoding = lossd_encoding_of(coding);
    if (encoding == LOSSD_ENCODING_UNSUPPORTED) {
        lossd_fault_set(&r->fault, LOSSD_FAULT_MEDIA_TYPE, NULL,
                        "Content-Encoding %.64s is not supported; send the body as it is, or "
                        "compressed with gzip or deflate",
                        coding);
        return;
    }
    if (refuse_query(r) < 0)
        return;
    read_header_len(r, length, encoding != LOSSD_ENCODING_IDENTITY);
    if (r->fault.kind != LOSSD_FAULT_NONE)
        return;
    lossd_body_init(&r->body, r->header_len == LOSSD_NO_HEADER_LEN ? 0 : r->header_len);
    if (encoding != LOSSD_ENCODING_IDENTITY &&
        (r->inflater = lossd_inflater_create(encoding)) == NULL) {
        lossd_fault_set(&r->fault, LOSSD_FAULT_INTERNAL, NULL, "out of memory for a decoder");
        return;
    }
    if (length) {
        char *end;
        unsigned long long n = strtoull(length, &end, 10);
        if (*end == '\0' && n > cfg->max_body) {
            lossd_metrics_reject(s->metrics, LOSSD_REJECT_TOO_LARGE);
            lossd_fault_set(&r->fault, LOSSD_FAULT_TOO_LARGE, NULL,
                            "the body is %llu bytes, more than %zu (--max-body)", n, cfg->max_body);
        } else if (*end == '\0' && n > 0 && r->inflater == NULL) {
            /* One allocation, no copies as it arrives (a compressed body grows as it inflates). */
            if (!reserve(r, (size_t)n))
                refuse_buffered(r); /* before any of the body is read */
            else
                lossd_body_reserve(&r->body, (size_t)n);
        }
    }
}

/* Whether the request says a body follows (Content-Length > 0, or chunked). */
static bool announces_body(request *r)
{
    const char *length = r->headers.content_length;
    return r->headers.transfer_encoding != NULL ||
           (length != NULL && strtoull(length, NULL, 10) > 0);
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
    if (r->body.cap <= r->reserved || reserve(r, r->body.cap - r->reserved))
        return true;
    drop_body(r); /* a chunked or inflating body past the budget */
    refuse_buffered(r);
    return false;
}

/*
 * Appends a body chunk, inflating it first when the body is compressed;
 * past --max-body (as sent, or as inflated), drops the body and records
 * 413: a decompression bomb costs at most --max-body of memory.
 */
static void receive(request *r, const char *data, size_t size)
{
    size_t max = r->srv->cfg->max_body;
    r->bytes_in += size;
    if (r->fault.kind != LOSSD_FAULT_NONE)
        return;
    if (r->bytes_in > max) {
        drop_body(r);
        lossd_metrics_reject(r->srv->metrics, LOSSD_REJECT_TOO_LARGE);
        lossd_fault_set(&r->fault, LOSSD_FAULT_TOO_LARGE, NULL,
                        "the body is more than %zu bytes (--max-body)", max);
        return;
    }
    if (r->inflater) {
        const char *why = "";
        lossd_inflate_status st = lossd_inflater_feed(r->inflater, data, size, &r->body, max, &why);
        if (!body_fits_budget(r))
            return;
        if (st == LOSSD_INFLATE_TOO_LARGE) {
            drop_body(r);
            lossd_metrics_reject(r->srv->metrics, LOSSD_REJECT_TOO_LARGE);
            lossd_fault_set(&r->fault, LOSSD_FAULT_TOO_LARGE, NULL,
                            "the body inflates to more than %zu bytes (--max-body)", max);
        } else if (st != LOSSD_INFLATE_OK) {
            drop_body(r);
            lossd_fault_set(&r->fault,
                            st == LOSSD_INFLATE_NOMEM ? LOSSD_FAULT_INTERNAL
                                                      : LOSSD_FAULT_BAD_REQUEST,
                            NULL, "Content-Encoding: %s", why);
        }
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

/* At the end of the body: a compressed body must have ended with its stream. */
static void received(request *r)
{
    const char *why = "";
    if (r->fault.kind == LOSSD_FAULT_NONE && r->inflater &&
        lossd_inflater_finish(r->inflater, &why) != LOSSD_INFLATE_OK) {
        drop_body(r);
        lossd_fault_set(&r->fault, LOSSD_FAULT_BAD_REQUEST, NULL, "Content-Encoding: %s", why);
    }
    lossd_inflater_destroy(r->inflater);
    r->inflater = NULL;
}

/* ------------------------------------------------------------ GET endpoints */

static enum MHD_Result serve_get(request *r)
{
    lossd_server *s = r->srv;
    switch (r->route.endpoint) {
    case LOSSD_ROUTE_HEALTHZ:
        return queue_json(r, 200, "{\"status\":\"ok\"}", 15);
    case LOSSD_ROUTE_READYZ:
        if (atomic_load(&s->draining))
            return queue_json(r, 503, "{\"status\":\"draining\"}", 21);
        if (lossd_pool_queued(s->pool) >= s->cfg->queue)
            return queue_json(r, 503, "{\"status\":\"overloaded\"}", 23);
        return queue_json(r, 200, "{\"status\":\"ready\"}", 18);
    case LOSSD_ROUTE_METRICS: {
        lossd_buf b;
        lossd_buf_init(&b, 0);
        lossd_gauges g = {lossd_pool_queued(s->pool), atomic_load(&s->inflight),
                          atomic_load(&s->active)};
        lossd_metrics_render(s->metrics, &g, &b);
        return queue_buf(r, 200, &b, "text/plain; version=0.0.4; charset=utf-8");
    }
    case LOSSD_ROUTE_V1:
        return queue_json(r, 200, s->v1, s->v1_len);
    case LOSSD_ROUTE_FUNCTIONS:
        return queue_json(r, 200, s->catalog, s->catalog_len);
    case LOSSD_ROUTE_V2:
        return queue_json(r, 200, s->v2, s->v2_len);
    case LOSSD_ROUTE_V2_LIVE:
        return queue_json(r, 200, "{\"live\":true}", 13);
    case LOSSD_ROUTE_V2_READY:
        if (atomic_load(&s->draining) || lossd_pool_queued(s->pool) >= s->cfg->queue)
            return queue_json(r, 503, "{\"ready\":false}", 15);
        return queue_json(r, 200, "{\"ready\":true}", 14);
    case LOSSD_ROUTE_V2_MODEL:
        for (size_t i = 0; i < lossd_function_count(); i++)
            if (lossd_function_at(i) == r->route.fn)
                return queue_json(r, 200, s->models[i], strlen(s->models[i]));
        break;
    case LOSSD_ROUTE_V2_MODEL_READY: {
        char text[160];
        int n = snprintf(text, sizeof text, "{\"name\":\"%s.%s\",\"ready\":true}",
                         lossd_kind_name(r->route.fn->kind), r->route.fn->name);
        return queue_json(r, 200, text, (size_t)n);
    }
    case LOSSD_ROUTE_FUNCTION: {
        char *entry = lossd_catalog_function_json(r->route.fn);
        if (entry)
            return queue(r, 200, entry, strlen(entry), "application/json");
        lossd_fault_set(&r->fault, LOSSD_FAULT_INTERNAL, NULL, "no catalog entry for %s",
                        r->route.fn->name);
        return queue_fault(r);
    }
    case LOSSD_ROUTE_OPENAPI:
        /* built at start-up, and served as the files built in are */
        r->route.asset = lossd_openapi_find(s->openapi, r->path);
        /* fall through */
    case LOSSD_ROUTE_WEB: {
        /* Built in (or at start-up), gzip'd once: served from where it lies, never copied. */
        const lossd_asset *a = r->route.asset;
        size_t size;
        lossd_encoding e;
        const unsigned char *data = lossd_web_asset_body(a, r->accepts, &size, &e);
        struct MHD_Response *resp =
            MHD_create_response_from_buffer(size, (void *)data, MHD_RESPMEM_PERSISTENT);
        if (resp == NULL)
            return MHD_NO;
        if (a->gzip)
            add_encoding(resp, e); /* Vary on both forms: caches keep them apart */
        return respond(r, 200, resp, size, a->content_type);
    }
    default:
        break;
    }
    lossd_fault_set(&r->fault, LOSSD_FAULT_INTERNAL, NULL, "no GET handler for this route");
    return queue_fault(r);
}

/* ------------------------------------------------------------ compute */

/*
 * Serves a complete request with h: on a worker, or inline on
 * libmicrohttpd's thread for a small one. The body is handed over.
 */
static void serve(request *r, const lossd_handler *h)
{
    lossd_request req = {&r->route, r->body, r->header_len, r->accepts};
    lossd_body_init(&r->body, 0); /* handed over: freed as soon as it is read */
    lossd_reply_init(&r->reply);
    lossd_handle(h, &req, &r->reply);
    release(r); /* the body, and the tree built from it, are gone */
    r->computed = true;
}

/* On a worker thread. */
static void run_job(void *arg)
{
    request *r = arg;
    serve(r, &r->srv->handler);
    MHD_resume_connection(r->conn);
}

static enum MHD_Result answer_computed(request *r)
{
    r->error = r->reply.fault == LOSSD_FAULT_NONE ? NULL : lossd_fault_code(r->reply.fault);
    return queue_reply(r, &r->reply);
}

/*
 * Hands a complete request to the pool. The connection is suspended first,
 * so that a worker's resume can never come before it; a full queue resumes
 * it at once, and the next handler call answers 503. (Suspending inside the
 * pool's lock instead would nest libmicrohttpd's lock in ours, which every
 * worker also takes: measured, that contention cost a third of the
 * small-request throughput.)
 *
 * A single call whose body is at most INLINE_BODY_MAX bytes is served
 * right here instead, on one thread: its parse and math take a few
 * microseconds, less than the suspend, the queue, a worker's wake-up and
 * the resume cost (docs/performance.md). Its work is bounded by its size:
 * the largest reply it can ask for - a pairwise matrix of the boxes that
 * fit in it - takes well under a millisecond. Batches always go to the
 * pool: their jobs run in parallel.
 */
static enum MHD_Result dispatch(request *r)
{
    lossd_server *s = r->srv;
    r->counted_inflight = true;
    atomic_fetch_add(&s->inflight, 1);
    if (r->route.endpoint != LOSSD_ROUTE_BATCH && r->body.len <= INLINE_BODY_MAX) {
        serve(r, &s->inline_handler);
        return answer_computed(r);
    }
    MHD_suspend_connection(r->conn);
    if (lossd_pool_submit(s->pool, run_job, r, r->body.len) == 0)
        return MHD_YES;
    r->counted_inflight = false;
    atomic_fetch_sub(&s->inflight, 1);
    lossd_metrics_reject(s->metrics, LOSSD_REJECT_OVERLOADED);
    lossd_fault_set(&r->fault, LOSSD_FAULT_OVERLOADED, NULL,
                    "the work queue is full (%zu waiting); retry after a second", s->cfg->queue);
    MHD_resume_connection(r->conn);
    return MHD_YES;
}

/* ------------------------------------------------------------ callbacks */

/* strlcpy: copies what fits of src, always terminated. */
static void copy_text(char *dst, size_t size, const char *src)
{
    size_t len = strnlen(src, size - 1);
    memcpy(dst, src, len);
    dst[len] = '\0';
}

static request *request_create(lossd_server *s, struct MHD_Connection *conn, const char *url,
                               const char *method)
{
    request *r = calloc(1, sizeof *r);
    if (r == NULL)
        return NULL;
    r->srv = s;
    r->conn = conn;
    clock_gettime(CLOCK_MONOTONIC, &r->start);
    copy_text(r->method, sizeof r->method, method);
    copy_text(r->path, sizeof r->path, url);
    /* The client's id when it is fit to echo and log, else one of ours: never refused. */
    MHD_get_connection_values(conn, MHD_HEADER_KIND, collect_header, &r->headers);
    r->request_id = r->headers.request_id;
    if (!lossd_request_id_valid(r->request_id))
        r->request_id = lossd_request_id_generate(r->generated_id);
    atomic_fetch_add(&s->active, 1);
    return r;
}

/* The reaper's record of a connection, or NULL. */
static lossd_watch *watch_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return info ? info->socket_context : NULL;
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    lossd_server *s = cls;
    if (s->reaper == NULL)
        return;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *info =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        *socket_context = info ? lossd_reaper_add(s->reaper, info->connect_fd) : NULL;
    } else { /* closed: libmicrohttpd closes the socket after this returns */
        lossd_reaper_remove(s->reaper, *socket_context);
        *socket_context = NULL;
    }
}

static void on_reap(void *arg)
{
    lossd_server *s = arg;
    lossd_metrics_reject(s->metrics, LOSSD_REJECT_SLOW_CLIENT);
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **con_cls)
{
    (void)version;
    lossd_server *s = cls;
    request *r = *con_cls;
    if (r == NULL) {
        if ((r = request_create(s, conn, url, method)) == NULL)
            return MHD_NO;
        *con_cls = r;
        admit(r);
        /*
         * A refused request that announces a body is answered now, before
         * any of the body is read (the connection then closes). Otherwise
         * the answer waits for the final call, which keeps the connection
         * alive: libmicrohttpd closes after any answer given this early.
         */
        if (r->fault.kind != LOSSD_FAULT_NONE && announces_body(r)) {
            lossd_watch_request_done(watch_of(conn)); /* answered: the body is not wanted */
            return queue_fault(r);
        }
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        /*
         * libmicrohttpd 0.9.75 cannot answer in the middle of a body (a
         * reply may be queued only before the body or after it), so a
         * refused body - one past --max-body that was chunked, or that
         * inflates past it - is read to its end and dropped as it comes,
         * then answered (413) on the final call. Clients expect that: most
         * read no reply before they have sent their body, and a server
         * that closes on them mid-body leaves them with a reset, not an
         * answer. What bounds an endless body is --timeout: the reaper
         * cuts off a request that takes longer to arrive.
         */
        receive(r, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (r->answered)
        return MHD_YES;
    lossd_watch_request_done(watch_of(conn)); /* the whole request is in */
    if (!r->computed)
        received(r);
    if (r->computed)
        return answer_computed(r);
    if (r->fault.kind != LOSSD_FAULT_NONE)
        return queue_fault(r);
    if (r->preflight)
        return queue(r, 204, NULL, 0, NULL);
    if (!r->route.compute)
        return serve_get(r);
    return dispatch(r);
}

/*
 * Collects the X-Forwarded-For headers, in order (a proxy may add its own
 * line); of more than fit, the last ones, which the nearest proxies wrote.
 */
typedef struct {
    const char *values[8];
    size_t n;
} forwarded_for;

static enum MHD_Result add_forwarded(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *value)
{
    (void)kind;
    forwarded_for *f = cls;
    size_t max = sizeof f->values / sizeof f->values[0];
    if (value == NULL || strcasecmp(key, "X-Forwarded-For") != 0)
        return MHD_YES;
    if (f->n == max) {
        memmove(f->values, f->values + 1, (max - 1) * sizeof f->values[0]);
        f->n--;
    }
    f->values[f->n++] = value;
    return MHD_YES;
}

/*
 * Writes the access line of a finished request. The client is the TCP
 * peer, or behind a --trusted-proxy peer the address its X-Forwarded-For
 * names (client.h); the headers are still there (libmicrohttpd frees them
 * after NOTIFY_COMPLETED).
 */
static void log_access(request *r, int status, double seconds)
{
    lossd_server *s = r->srv;
    char client[LOSSD_ADDRESS_MAX], label[96];
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *peer = info ? info->client_addr : NULL;
    forwarded_for f = {{NULL}, 0};
    if (s->trust.n && lossd_trust_contains(&s->trust, peer))
        MHD_get_connection_values(r->conn, MHD_HEADER_KIND, add_forwarded, &f);
    lossd_client_address(&s->trust, peer, f.values, f.n, client);
    lossd_access line = {.remote = client,
                         .method = r->method,
                         .path = r->path,
                         .status = status,
                         .bytes_in = r->bytes_in,
                         .bytes_out = r->bytes_out,
                         .seconds = seconds,
                         .function = lossd_route_label(&r->route, label, sizeof label),
                         .error = r->error,
                         .request_id = r->request_id,
                         .user_agent = r->headers.user_agent};
    lossd_log_access(&line);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode code)
{
    lossd_server *s = cls;
    request *r = *con_cls;
    lossd_watch_reply_done(watch_of(conn)); /* the next request's deadline starts now */
    if (r == NULL)
        return;
    *con_cls = NULL;
    double seconds = seconds_since(&r->start);
    int status = r->answered ? r->status : 0; /* 0: the client went away unanswered */
    if (!r->answered && code == MHD_REQUEST_TERMINATED_TIMEOUT_REACHED)
        r->error = "timeout";
    else if (!r->answered && r->error == NULL)
        r->error = "aborted";
    lossd_metrics_request(s->metrics, &r->route, status, seconds, r->reply.elements);
    if (s->cfg->log_format != LOSSD_LOG_OFF)
        log_access(r, status, seconds);
    if (r->counted_inflight)
        atomic_fetch_sub(&s->inflight, 1);
    release(r);
    lossd_body_cleanup(&r->body);
    lossd_inflater_destroy(r->inflater);
    lossd_reply_cleanup(&r->reply);
    free(r);
    atomic_fetch_sub(&s->active, 1);
}

/* libmicrohttpd's format strings are its own, never a client's. */
__attribute__((format(printf, 2, 0))) static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char message[512];
    vsnprintf(message, sizeof message, fmt, ap);
    size_t n = strlen(message);
    while (n && message[n - 1] == '\n')
        message[--n] = '\0';
    lossd_log("warning", "libmicrohttpd: %s", message);
}

/* ------------------------------------------------------------ lifecycle */

/*
 * Every connection is a file descriptor: make sure the process may open
 * --max-connections of them (plus listeners, epoll, eventfds, logs), raising
 * the soft limit towards the hard one, and warn when even that is short.
 */
static void ensure_fd_limit(size_t connections)
{
    struct rlimit rl;
    rlim_t need = (rlim_t)connections + 64;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= need)
        return;
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= need ? need : rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < need)
        lossd_log("warning",
                  "--max-connections %zu needs %llu file descriptors; the limit is %llu: "
                  "raise it (ulimit -n) or lower --max-connections",
                  connections, (unsigned long long)need, (unsigned long long)rl.rlim_cur);
}

bool lossd_server_tls_available(void)
{
    return MHD_is_feature_supported(MHD_FEATURE_TLS) == MHD_YES;
}

/*
 * The CPUs this process may use: its affinity mask, capped by a cgroup v2
 * CPU quota (cpu.max, "QUOTA PERIOD") - in a container limited to 2 CPUs on
 * a 32-core node, "one worker per CPU" means 2 workers, not 32.
 */
static size_t cpu_count(void)
{
    cpu_set_t set;
    long n = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set)
                                                         : sysconf(_SC_NPROCESSORS_ONLN);
    FILE *f = fopen("/sys/fs/cgroup/cpu.max", "r");
    if (f) {
        char quota[32];
        long period;
        if (fscanf(f, "%31s %ld", quota, &period) == 2 && strcmp(quota, "max") != 0 && period > 0) {
            long limit = (atol(quota) + period - 1) / period;
            if (limit > 0 && limit < n)
                n = limit;
        }
        fclose(f);
    }
    return n > 0 ? (size_t)n : 1;
}

static void server_free(lossd_server *s)
{
    if (s->daemon)
        MHD_stop_daemon(s->daemon);
    if (s->quiesced != MHD_INVALID_SOCKET)
        close(s->quiesced);
    lossd_reaper_destroy(s->reaper);
    lossd_pool_destroy(s->pool);
    lossd_metrics_destroy(s->metrics);
    lossd_auth_destroy(s->auth);
    free(s->catalog);
    free(s->v1);
    free(s->v2);
    for (size_t i = 0; s->models && i < lossd_function_count(); i++)
        free(s->models[i]);
    free(s->models);
    lossd_openapi_destroy(s->openapi);
    free(s->tls_cert);
    free(s->tls_key);
    free(s);
}

/*
 * Every failure below releases what was made so far through the one exit
 * at the end (redis's aeCreateEventLoop): server_free() takes a partly
 * built server.
 */
lossd_server *lossd_server_start(const lossd_config *cfg, FILE *err)
{
    LOSSD_ASSERT(cfg != NULL && err != NULL);
    lossd_server *s = NULL;
    lossd_listener listener;
    if (lossd_listener_open(cfg, &listener, err) < 0)
        return NULL;
    if ((s = calloc(1, sizeof *s)) == NULL)
        goto fail;
    s->cfg = cfg;
    s->quiesced = MHD_INVALID_SOCKET;
    atomic_init(&s->draining, false);
    atomic_init(&s->active, 0);
    atomic_init(&s->inflight, 0);
    atomic_init(&s->buffered, 0);
    s->max_buffered = cfg->max_buffered ? cfg->max_buffered : 4 * cfg->max_body;
    size_t workers = cfg->workers ? cfg->workers : cpu_count();
    /* Two I/O threads measured best even on two cores (docs/performance.md). */
    size_t io_threads = cfg->io_threads ? cfg->io_threads : (cpu_count() > 1 ? 2 : 1);
    char why[256];
    if (cfg->trusted_proxy[0] &&
        lossd_trust_parse(&s->trust, cfg->trusted_proxy, why, sizeof why) < 0) {
        fprintf(err, "lossd: --trusted-proxy: %s\n", why);
        goto fail;
    }
    bool tls = cfg->tls_cert[0] != '\0';
    if (tls && !lossd_server_tls_available()) {
        fprintf(err, "lossd: --tls-cert given, but this libmicrohttpd was built without TLS\n");
        goto fail;
    }
    if (tls && lossd_listener_tls(cfg, &s->tls_cert, &s->tls_key, err) < 0)
        goto fail;
    s->pool = lossd_pool_create(workers, cfg->queue);
    s->metrics = lossd_metrics_create();
    s->catalog = lossd_catalog_functions_json();
    s->v1 = lossd_catalog_v1_json();
    s->v2 = lossd_v2_server_json();
    s->openapi = lossd_openapi_create();
    bool models_ok = (s->models = calloc(lossd_function_count(), sizeof *s->models)) != NULL;
    for (size_t i = 0; models_ok && i < lossd_function_count(); i++)
        models_ok = (s->models[i] = lossd_v2_model_json(lossd_function_at(i))) != NULL;
    if (!s->pool || !s->metrics || !s->catalog || !s->v1 || !s->v2 || !s->openapi || !models_ok) {
        fprintf(err, "lossd: out of memory starting the server (%zu workers, queue %zu)\n", workers,
                cfg->queue);
        goto fail;
    }
    s->catalog_len = strlen(s->catalog);
    s->v1_len = strlen(s->v1);
    s->v2_len = strlen(s->v2);
    s->handler.limits = (lossd_limits){cfg->max_elements, cfg->max_jobs};
    s->inline_handler.limits = s->handler.limits; /* and no executor: one thread */
    if (cfg->timeout > 0 &&
        (s->reaper = lossd_reaper_create((double)cfg->timeout, on_reap, s)) == NULL) {
        fprintf(err, "lossd: cannot start the request-deadline thread\n");
        goto fail;
    }
    s->handler.exec = lossd_pool_exec(s->pool);
    if (cfg->api_key_file[0] && (s->auth = lossd_auth_load(cfg->api_key_file, err)) == NULL)
        goto fail;

    ensure_fd_limit(cfg->max_connections);
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_TURBO |
                     MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    if (listener.v6)
        flags |= MHD_USE_IPv6;
    if (tls)
        flags |= MHD_USE_TLS;
    struct MHD_OptionItem opts[16];
    size_t n = 0;
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)on_mhd_log, NULL};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_LISTEN_SOCKET, listener.fd, NULL};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, s};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)on_connection, s};
    opts[n++] =
        (struct MHD_OptionItem){MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t)cfg->timeout, NULL};
    opts[n++] =
        (struct MHD_OptionItem){MHD_OPTION_CONNECTION_LIMIT, (intptr_t)cfg->max_connections, NULL};
    /* Each connection's header memory, zeroed by libmicrohttpd after every
       request: 16 KiB still takes headers of several KiB (larger get 431). */
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_MEMORY_LIMIT,
                                        (intptr_t)CONNECTION_MEMORY, NULL};
    if (cfg->max_connections_per_ip)
        opts[n++] = (struct MHD_OptionItem){MHD_OPTION_PER_IP_CONNECTION_LIMIT,
                                            (intptr_t)cfg->max_connections_per_ip, NULL};
    if (io_threads > 1)
        opts[n++] =
            (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE, (intptr_t)io_threads, NULL};
    if (tls) {
        opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, s->tls_cert};
        opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, s->tls_key};
    }
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    s->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_access, s, MHD_OPTION_ARRAY, opts,
                                 MHD_OPTION_END);
    if (s->daemon == NULL) {
        fprintf(err, "lossd: libmicrohttpd could not start on %s (its message is above)\n",
                listener.shown);
        goto fail;
    }
    s->port = listener.port;
    listener.fd = -1; /* libmicrohttpd's now: closed by MHD_stop_daemon() */
    if (cfg->max_connections_per_ip && s->trust.n)
        lossd_log("warning",
                  "--max-connections-per-ip %zu also counts each trusted proxy's connections: "
                  "libmicrohttpd applies it when it accepts a connection, before any "
                  "X-Forwarded-For is read; limit clients at the proxy",
                  cfg->max_connections_per_ip);
    lossd_log("info", "listening on %s (%s; %s; %zu workers, queue %zu, %zu I/O thread%s; TLS %s)",
              listener.shown,
              listener.dual_stack ? "IPv4 and IPv6" : (listener.v6 ? "IPv6" : "IPv4"),
              tls ? "https" : "http", workers, cfg->queue, io_threads, io_threads == 1 ? "" : "s",
              tls ? "on" : (lossd_server_tls_available() ? "available, off" : "not available"));
    return s;

fail:
    if (s)
        server_free(s);
    lossd_listener_close(&listener);
    return NULL;
}

unsigned lossd_server_port(const lossd_server *s)
{
    LOSSD_ASSERT(s != NULL);
    return s->port;
}

void lossd_server_drain(lossd_server *s)
{
    LOSSD_ASSERT(s != NULL);
    if (atomic_exchange(&s->draining, true))
        return;
    /* New connections are refused from now on: shutdown() makes the kernel
       reset them, and leaves the descriptor to close after MHD_stop_daemon(). */
    s->quiesced = MHD_quiesce_daemon(s->daemon);
    if (s->quiesced != MHD_INVALID_SOCKET)
        shutdown(s->quiesced, SHUT_RDWR);
    lossd_log("info", "draining: %zu request%s in flight", atomic_load(&s->active),
              atomic_load(&s->active) == 1 ? "" : "s");
}

bool lossd_server_wait_idle(lossd_server *s, double seconds)
{
    LOSSD_ASSERT(s != NULL && seconds >= 0);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (atomic_load(&s->active) > 0) {
        if (seconds_since(&t0) >= seconds)
            return false;
        struct timespec nap = {0, 10 * 1000 * 1000};
        nanosleep(&nap, NULL);
    }
    return true;
}

void lossd_server_stop(lossd_server *s)
{
    LOSSD_ASSERT(s != NULL);
    server_free(s);
}
