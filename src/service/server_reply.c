/* SPDX-License-Identifier: MIT */
/*
 * server_reply.c - every reply the server sends, assembled for
 * libmicrohttpd: the headers each needs (CORS, X-Request-Id, Allow,
 * WWW-Authenticate, Retry-After, Connection: close while draining),
 * compression, error bodies from a fault, a worker's reply - a JSON body,
 * or a JSON header with binary outputs sent from the call's own arrays -
 * and the GET endpoints, whose answers are cheap enough to give inline.
 *
 * Threading: libmicrohttpd's polling thread. A body handed to
 * request_queue() becomes libmicrohttpd's, freed once sent; a worker's
 * reply is taken from r->reply as it is queued (what it still holds is
 * freed with the request).
 */
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "server_internal.h"
#include "web.h"

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

/* A response that frees body once sent; NULL (body freed) when libmicrohttpd has no memory. */
static struct MHD_Response *owned_response(char *body, size_t len)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer_with_free_callback(len, body, free_body);
    if (resp == NULL)
        free(body);
    return resp;
}

/*
 * Large bodies are compressed when the client takes it (they are small
 * here: GET endpoints and errors; computed replies were compressed by
 * their worker).
 */
enum MHD_Result request_queue(request *r, int status, char *body, size_t len,
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
    struct MHD_Response *resp = owned_response(body, len);
    if (resp == NULL)
        return MHD_NO;
    if (len > LOSSD_COMPRESS_MIN || e != LOSSD_ENCODING_IDENTITY)
        add_encoding(resp, e);
    return respond(r, status, resp, len, content_type);
}

enum MHD_Result request_queue_json(request *r, int status, const char *text, size_t len)
{
    char *copy = malloc(len ? len : 1);
    if (copy == NULL)
        return MHD_NO;
    memcpy(copy, text, len);
    return request_queue(r, status, copy, len, "application/json");
}

/* Queues what b holds (handed over), or the out-of-memory error when b ran out of memory. */
static enum MHD_Result queue_buf(request *r, int status, lossd_buf *b, const char *type)
{
    size_t len = 0;
    char *body = lossd_buf_steal(b, &len);
    if (body == NULL) {
        const char *oom = lossd_fault_oom_body(&len);
        return request_queue_json(r, lossd_fault_status(LOSSD_FAULT_INTERNAL), oom, len);
    }
    return request_queue(r, status, body, len, type);
}

enum MHD_Result request_queue_fault(request *r)
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

/* ------------------------------------------------------------ computed replies */

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
 * The JSON header and the binary outputs as one iovec response, sent from
 * where they lie: the outputs' owner is released once libmicrohttpd has
 * sent them (free_sent). *len gets the bytes in all.
 */
static struct MHD_Response *segments_response(lossd_reply *reply, size_t *len)
{
    struct MHD_IoVec iov[1 + LOSSD_REPLY_MAX_SEGMENTS];
    sent_reply *sent = malloc(sizeof *sent);
    if (sent == NULL)
        return NULL;
    size_t header;
    sent->header = lossd_buf_steal(&reply->body, &header);
    sent->release = reply->release;
    sent->owner = reply->owner;
    iov[0] = (struct MHD_IoVec){sent->header, header};
    *len = header;
    for (size_t i = 0; i < reply->n_segments; i++) {
        iov[i + 1] = (struct MHD_IoVec){reply->segments[i].data, reply->segments[i].len};
        *len += reply->segments[i].len;
    }
    struct MHD_Response *resp =
        MHD_create_response_from_iovec(iov, (unsigned)reply->n_segments + 1, free_sent, sent);
    if (resp == NULL) {
        free(sent->header);
        free(sent);
        return NULL;
    }
    reply->release = NULL; /* libmicrohttpd's now: free_sent() */
    reply->n_segments = 0;
    return resp;
}

/*
 * The response for a worker's reply: its compressed bytes, or a JSON
 * header with binary outputs (small ones copied behind the header), or a
 * JSON body. *len gets its length; NULL when memory ran out.
 */
static struct MHD_Response *reply_response(lossd_reply *reply, size_t *len)
{
    if (reply->n_segments > 0 && reply->compressed == NULL)
        copy_small_segments(reply);
    if (reply->compressed) {
        *len = reply->compressed_len;
        struct MHD_Response *resp =
            MHD_create_response_from_buffer_with_free_callback(*len, reply->compressed, free);
        if (resp)
            reply->compressed = NULL;
        return resp;
    }
    if (reply->n_segments > 0)
        return segments_response(reply, len);
    char *body = lossd_buf_steal(&reply->body, len);
    return body ? owned_response(body, *len) : NULL;
}

enum MHD_Result request_queue_computed(request *r)
{
    lossd_reply *reply = &r->reply;
    r->error = reply->fault == LOSSD_FAULT_NONE ? NULL : lossd_fault_code(reply->fault);
    const char *type = reply->content_type ? reply->content_type : "application/json";
    size_t len = 0;
    struct MHD_Response *resp = reply_response(reply, &len);
    if (resp == NULL)
        return MHD_NO;
    if (len > LOSSD_COMPRESS_MIN || reply->compressed_len)
        add_encoding(resp, reply->encoding);
    if (reply->header_len) {
        char header_len[LOSSD_UTOA_MAX + 1];
        header_len[lossd_utoa(reply->header_len, header_len)] = '\0';
        MHD_add_response_header(resp, "Inference-Header-Content-Length", header_len);
    }
    return respond(r, reply->status, resp, len, type);
}

/* ------------------------------------------------------------ GET endpoints */

/* Whether the server takes compute requests now: not draining, and room in the queue. */
static bool ready(const lossd_server *s)
{
    return !atomic_load(&s->draining) && lossd_pool_queued(s->pool) < s->cfg->queue;
}

static enum MHD_Result get_healthz(request *r)
{
    return request_queue_literal(r, 200, "{\"status\":\"ok\"}");
}

static enum MHD_Result get_readyz(request *r)
{
    lossd_server *s = r->srv;
    if (atomic_load(&s->draining))
        return request_queue_literal(r, 503, "{\"status\":\"draining\"}");
    if (!ready(s))
        return request_queue_literal(r, 503, "{\"status\":\"overloaded\"}");
    return request_queue_literal(r, 200, "{\"status\":\"ready\"}");
}

static enum MHD_Result get_metrics(request *r)
{
    lossd_server *s = r->srv;
    lossd_buf b;
    lossd_buf_init(&b, 0);
    lossd_gauges g = {lossd_pool_queued(s->pool), atomic_load(&s->inflight),
                      atomic_load(&s->active)};
    lossd_metrics_render(s->metrics, &g, &b);
    return queue_buf(r, 200, &b, "text/plain; version=0.0.4; charset=utf-8");
}

/* /v1, /v1/functions, /v2: JSON built once at start. */
static enum MHD_Result get_document(request *r)
{
    const server_document *d = &r->srv->documents[r->route.endpoint];
    return request_queue_json(r, 200, d->text, d->len);
}

/* /v1/functions/{kind}: built once at start, one per kind. */
static enum MHD_Result get_kind(request *r)
{
    const server_document *d = &r->srv->kinds[r->route.kind];
    return request_queue_json(r, 200, d->text, d->len);
}

static enum MHD_Result get_v2_live(request *r)
{
    return request_queue_literal(r, 200, "{\"live\":true}");
}

static enum MHD_Result get_v2_ready(request *r)
{
    if (!ready(r->srv))
        return request_queue_literal(r, 503, "{\"ready\":false}");
    return request_queue_literal(r, 200, "{\"ready\":true}");
}

static enum MHD_Result get_v2_model(request *r)
{
    const server_document *d = &r->srv->models[r->route.fn_index];
    return request_queue_json(r, 200, d->text, d->len);
}

static enum MHD_Result get_v2_model_ready(request *r)
{
    char text[160];
    int n = snprintf(text, sizeof text, "{\"name\":\"%s.%s\",\"ready\":true}",
                     lossd_kind_name(r->route.fn->kind), r->route.fn->name);
    return request_queue_json(r, 200, text, (size_t)n);
}

static enum MHD_Result get_function(request *r)
{
    char *entry = lossd_catalog_function_json(r->route.fn);
    if (entry)
        return request_queue(r, 200, entry, strlen(entry), "application/json");
    lossd_fault_set(&r->fault, LOSSD_FAULT_INTERNAL, NULL, "no catalog entry for %s",
                    r->route.fn->name);
    return request_queue_fault(r);
}

/* Built into the binary, gzip'd at build time: served from where it lies, never copied. */
static enum MHD_Result get_web(request *r)
{
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

/* Built at start-up (openapi.h), gzip'd once: served as the files built in are. */
static enum MHD_Result get_openapi(request *r)
{
    r->route.asset = lossd_openapi_find(r->srv->openapi, r->path);
    return get_web(r);
}

/* Each GET endpoint's answer; a route without one is a programmer's error, answered 500. */
static enum MHD_Result (*const get_handlers[LOSSD_ROUTE_COUNT])(request *r) = {
    [LOSSD_ROUTE_HEALTHZ] = get_healthz,
    [LOSSD_ROUTE_READYZ] = get_readyz,
    [LOSSD_ROUTE_METRICS] = get_metrics,
    [LOSSD_ROUTE_V1] = get_document,
    [LOSSD_ROUTE_FUNCTIONS] = get_document,
    [LOSSD_ROUTE_FUNCTIONS_KIND] = get_kind,
    [LOSSD_ROUTE_FUNCTION] = get_function,
    [LOSSD_ROUTE_WEB] = get_web,
    [LOSSD_ROUTE_V2] = get_document,
    [LOSSD_ROUTE_V2_LIVE] = get_v2_live,
    [LOSSD_ROUTE_V2_READY] = get_v2_ready,
    [LOSSD_ROUTE_V2_MODEL] = get_v2_model,
    [LOSSD_ROUTE_V2_MODEL_READY] = get_v2_model_ready,
    [LOSSD_ROUTE_OPENAPI] = get_openapi,
};

enum MHD_Result request_serve_get(request *r)
{
    if ((unsigned)r->route.endpoint < LOSSD_ROUTE_COUNT && get_handlers[r->route.endpoint])
        return get_handlers[r->route.endpoint](r);
    lossd_fault_set(&r->fault, LOSSD_FAULT_INTERNAL, NULL, "no GET handler for this route");
    return request_queue_fault(r);
}
