/* SPDX-License-Identifier: MIT */
/*
 * server_admit.c - a request's beginning: its headers collected in one
 * pass (trimmed of optional whitespace), its id, and the checks that
 * admit it or refuse it before any body byte is read - route (404/405),
 * API key (401), draining (503), Host and framing (400), media type and
 * coding (415), query string (422), Content-Length against --max-body
 * (413) and --max-buffered (503).
 *
 * Threading: libmicrohttpd's polling thread, at a request's first
 * access-handler call; the header values it keeps are libmicrohttpd's
 * (valid until NOTIFY_COMPLETED) or the request's own trimmed copies,
 * freed by request_destroy() with the request.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server_internal.h"
#include "v2.h"
#include "web.h"

/* strlcpy: copies what fits of src, always terminated. */
static void copy_text(char *dst, size_t size, const char *src)
{
    size_t len = strnlen(src, size - 1);
    memcpy(dst, src, len);
    dst[len] = '\0';
}

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/*
 * value without the optional whitespace around it (RFC 9110, section
 * 5.5): a pointer into it when nothing follows the text, else a trimmed
 * copy kept in *owned (value itself when that copy cannot be made).
 */
static const char *trimmed(const char *value, char **owned)
{
    while (is_ows(*value))
        value++;
    size_t len = strlen(value);
    if (len == 0 || !is_ows(value[len - 1]))
        return value;
    while (len > 0 && is_ows(value[len - 1]))
        len--;
    char *copy = strndup(value, len);
    if (copy == NULL)
        return value; /* left as sent: refused as malformed, as before */
    *owned = copy;
    return copy;
}

/* Files one header into the request_headers: by length first, then the name itself. */
static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *name,
                                      const char *value)
{
    (void)kind;
    request_headers *h = cls;
    static const struct {
        const char *name;
        size_t len, offset;
    } wanted[REQUEST_HEADERS] = {
#define WANTED(header, slot) {header, sizeof header - 1, offsetof(request_headers, slot)}
        WANTED(MHD_HTTP_HEADER_CONTENT_LENGTH, content_length),
        WANTED(MHD_HTTP_HEADER_TRANSFER_ENCODING, transfer_encoding),
        WANTED(MHD_HTTP_HEADER_CONTENT_TYPE, content_type),
        WANTED(MHD_HTTP_HEADER_CONTENT_ENCODING, content_encoding),
        WANTED(MHD_HTTP_HEADER_ACCEPT_ENCODING, accept_encoding),
        WANTED(MHD_HTTP_HEADER_AUTHORIZATION, authorization),
        WANTED("Inference-Header-Content-Length", header_len),
        WANTED("X-Request-Id", request_id),
        WANTED(MHD_HTTP_HEADER_USER_AGENT, user_agent),
        WANTED("Origin", origin),
        WANTED(MHD_HTTP_HEADER_HOST, host),
#undef WANTED
    };
    size_t len = strlen(name);
    for (size_t i = 0; i < REQUEST_HEADERS; i++) {
        if (wanted[i].len != len || strcasecmp(wanted[i].name, name) != 0)
            continue;
        const char **slot = (const char **)(void *)((char *)h + wanted[i].offset);
        if (wanted[i].offset == offsetof(request_headers, host))
            h->hosts++;
        /* the first of a repeated header, as libmicrohttpd's own lookup answers */
        if (*slot == NULL && value != NULL)
            *slot = trimmed(value, &h->owned[i]);
        break;
    }
    return MHD_YES;
}

request *request_create(lossd_server *s, struct MHD_Connection *conn, const char *url,
                        const char *method, const char *version)
{
    request *r = calloc(1, sizeof *r);
    if (r == NULL)
        return NULL;
    r->srv = s;
    r->conn = conn;
    clock_gettime(CLOCK_MONOTONIC, &r->start);
    copy_text(r->method, sizeof r->method, method);
    copy_text(r->path, sizeof r->path, url);
    r->http_1_1 = version != NULL && strcmp(version, MHD_HTTP_VERSION_1_1) == 0;
    MHD_get_connection_values(conn, MHD_HEADER_KIND, collect_header, &r->headers);
    /* The client's id when it is fit to echo and log, else one of ours: never refused. */
    r->request_id = r->headers.request_id;
    if (!lossd_request_id_valid(r->request_id))
        r->request_id = lossd_request_id_generate(r->generated_id);
    atomic_fetch_add(&s->active, 1);
    return r;
}

void request_destroy(request *r)
{
    lossd_server *s = r->srv;
    request_release(r);
    lossd_body_cleanup(&r->body);
    lossd_inflater_destroy(r->inflater);
    lossd_reply_cleanup(&r->reply);
    for (size_t i = 0; i < REQUEST_HEADERS; i++)
        free(r->headers.owned[i]);
    free(r);
    atomic_fetch_sub(&s->active, 1);
}

/*
 * Whether value begins with the media type `type` (in any case), followed
 * by its end, its parameters or whitespace.
 */
static bool media_type_is(const char *value, const char *type, size_t len)
{
    if (strncasecmp(value, type, len) != 0)
        return false;
    char next = value[len];
    return next == '\0' || next == ';' || next == ' ' || next == '\t';
}

#define MEDIA_TYPE_IS(value, literal) media_type_is(value, "" literal, sizeof literal - 1)

/* RFC 9457's error report: it describes an error, never a request. */
#define PROBLEM_JSON "application/problem+json"

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
    static const char application[] = "application/", suffix[] = "+json";
    if (MEDIA_TYPE_IS(value, "application/json") ||
        MEDIA_TYPE_IS(value, "application/x-www-form-urlencoded"))
        return true;
    if (strncasecmp(value, application, sizeof application - 1) != 0 ||
        MEDIA_TYPE_IS(value, PROBLEM_JSON))
        return false;
    const char *subtype = value + sizeof application - 1;
    size_t len = strcspn(subtype, "; \t");
    return len > sizeof suffix - 1 &&
           strncasecmp(subtype + len - (sizeof suffix - 1), suffix, sizeof suffix - 1) == 0;
}

/* Whether a request body of this Content-Type may be served: JSON, or for /v2 raw bytes too. */
static bool accepted_media_type(const request *r, const char *type)
{
    return type == NULL || is_json_media_type(type) ||
           (r->route.endpoint == LOSSD_ROUTE_V2_INFER &&
            MEDIA_TYPE_IS(type, "application/octet-stream"));
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

/*
 * RFC 9112, section 3.2: a server must answer 400 to an HTTP/1.1 request
 * without a Host header, or with more than one. Decided before the route:
 * the request as a whole is malformed, whatever it asks for.
 */
static int refuse_host(request *r)
{
    const request_headers *h = &r->headers;
    if (!r->http_1_1 || h->hosts == 1)
        return 0;
    lossd_fault f = {0};
    lossd_fault_set(&f, LOSSD_FAULT_BAD_REQUEST, NULL,
                    h->hosts == 0 ? "an HTTP/1.1 request must carry a Host header (RFC 9112, "
                                    "section 3.2)"
                                  : "an HTTP/1.1 request must carry one Host header, not "
                                    "several (RFC 9112, section 3.2)");
    r->fault = f; /* this refusal comes before the route's */
    return -1;
}

/*
 * What the headers of a compute request must say of its body: not both
 * framings, a media type and a coding lossd reads, no query, and a
 * well-formed Inference-Header-Content-Length. Sets r->fault and returns
 * -1 at the first refusal; *encoding gets the body's coding.
 */
static int admit_headers(request *r, lossd_encoding *encoding)
{
    const request_headers *h = &r->headers;
    if (h->content_length && h->transfer_encoding)
        return lossd_fault_set(&r->fault, LOSSD_FAULT_BAD_REQUEST, NULL,
                               "a request must not carry both Content-Length and "
                               "Transfer-Encoding");
    const char *type = h->content_type;
    if (!accepted_media_type(r, type))
        return lossd_fault_set(
            &r->fault, LOSSD_FAULT_MEDIA_TYPE, NULL, "expected Content-Type: %s, got %.64s%s",
            r->route.v2 ? "application/json or application/octet-stream" : "application/json", type,
            MEDIA_TYPE_IS(type, PROBLEM_JSON)
                ? " (a problem report describes an error, not a request)"
                : "");
    *encoding = lossd_encoding_of(h->content_encoding);
    if (*encoding == LOSSD_ENCODING_UNSUPPORTED)
        return lossd_fault_set(&r->fault, LOSSD_FAULT_MEDIA_TYPE, NULL,
                               "Content-Encoding %.64s is not supported; send the body as it is, "
                               "or compressed with gzip or deflate",
                               h->content_encoding);
    if (refuse_query(r) < 0)
        return -1;
    read_header_len(r, h->content_length, *encoding != LOSSD_ENCODING_IDENTITY);
    return r->fault.kind == LOSSD_FAULT_NONE ? 0 : -1;
}

/*
 * Prepares the body the headers announce: a decoder for a compressed one,
 * and for a plain one of known length its whole memory at once (no copies
 * as it arrives), counted against --max-buffered - or the 413 or 503 that
 * refuses it before any of it is read.
 */
static void admit_body(request *r, lossd_encoding encoding)
{
    lossd_server *s = r->srv;
    size_t max_body = s->cfg->max_body;
    lossd_body_init(&r->body, r->header_len == LOSSD_NO_HEADER_LEN ? 0 : r->header_len);
    if (encoding != LOSSD_ENCODING_IDENTITY &&
        (r->inflater = lossd_inflater_create(encoding)) == NULL) {
        lossd_fault_set(&r->fault, LOSSD_FAULT_INTERNAL, NULL, "out of memory for a decoder");
        return;
    }
    const char *length = r->headers.content_length;
    if (length == NULL)
        return;
    char *end;
    unsigned long long n = strtoull(length, &end, 10);
    if (*end != '\0')
        return; /* libmicrohttpd's to refuse */
    if (n > max_body) {
        lossd_metrics_reject(s->metrics, LOSSD_REJECT_TOO_LARGE);
        lossd_fault_set(&r->fault, LOSSD_FAULT_TOO_LARGE, NULL,
                        "the body is %llu bytes, more than %zu (--max-body)", n, max_body);
    } else if (n > 0 && r->inflater == NULL) {
        /* A compressed body grows as it inflates: it is reserved as it comes. */
        if (!request_reserve(r, (size_t)n))
            request_refuse_buffered(r);
        else
            lossd_body_reserve(&r->body, (size_t)n);
    }
}

void request_admit(request *r)
{
    lossd_server *s = r->srv;
    r->header_len = LOSSD_NO_HEADER_LEN;
    r->accepts = lossd_encoding_accepted(r->headers.accept_encoding);
    int found = lossd_route_find(r->method, r->path, &r->route, &r->fault);
    if (refuse_host(r) < 0)
        return;
    int web = lossd_web_admit(s->cfg, r->method, found, &r->route, &r->fault);
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
    lossd_encoding encoding = LOSSD_ENCODING_IDENTITY;
    if (admit_headers(r, &encoding) == 0)
        admit_body(r, encoding);
}

bool request_announces_body(const request *r)
{
    const char *length = r->headers.content_length;
    return r->headers.transfer_encoding != NULL ||
           (length != NULL && strtoull(length, NULL, 10) > 0);
}
