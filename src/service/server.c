/* SPDX-License-Identifier: MIT */
/*
 * server.c - libmicrohttpd glue (see server.h): its callbacks, which
 * follow a request from its first byte to its last, the hand-off of
 * compute requests to the pool, the access log, and draining. What each
 * step does lives in its own file (server_internal.h names them).
 *
 * The life of a request, all on libmicrohttpd's polling thread unless
 * said otherwise:
 *   1. first access-handler call: a `request` is created and admitted
 *      (server_admit.c) - route (404/405), Host (400), API key (401),
 *      draining (503), framing (400), media type (415), Content-Length
 *      against --max-body (413). A refusal is answered at once, before any
 *      body byte is read.
 *   2. body chunks are appended (server_body.c); past --max-body the body
 *      is dropped and the request answered 413 as soon as libmicrohttpd
 *      lets us.
 *   3. on the final call, GET endpoints answer inline (server_reply.c:
 *      they are cheap); compute requests are suspended, then submitted to
 *      the pool. A full queue resumes the connection at once and answers
 *      503 overloaded.
 *   4. a worker parses, validates, computes and serialises (handler.c),
 *      stores the reply in the request and resumes the connection.
 *   5. the resumed handler call queues the reply (server_reply.c).
 *   6. NOTIFY_COMPLETED (also for aborted connections) logs the access
 *      line, records metrics and frees the request - the only place it is
 *      freed.
 * A worker touches a request only between submit and resume, and the
 * polling thread does not touch it in that window.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "../debug.h"
#include "log.h"
#include "server_internal.h"

/* Bodies up to this size are served on libmicrohttpd's thread (dispatch). */
#define INLINE_BODY_MAX 4096

/* How often lossd_server_wait_idle() looks at the count of active requests. */
#define IDLE_POLL_NS (10 * 1000 * 1000)

/* X-Forwarded-For lines kept for the access log: the last ones, the nearest proxies'. */
#define FORWARDED_MAX 8

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
    request_release(r); /* the body, and the tree built from it, are gone */
    r->computed = true;
}

/* On a worker thread. */
static void run_job(void *arg)
{
    request *r = arg;
    serve(r, &r->srv->handler);
    MHD_resume_connection(r->conn);
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
        return request_queue_computed(r);
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

/* The reaper's record of a connection, or NULL. */
static lossd_watch *watch_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return info ? info->socket_context : NULL;
}

void server_on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
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

void server_on_reap(void *arg)
{
    lossd_server *s = arg;
    lossd_metrics_reject(s->metrics, LOSSD_REJECT_SLOW_CLIENT);
}

enum MHD_Result server_on_access(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **con_cls)
{
    lossd_server *s = cls;
    request *r = *con_cls;
    if (r == NULL) {
        if ((r = request_create(s, conn, url, method, version)) == NULL)
            return MHD_NO;
        *con_cls = r;
        request_admit(r);
        /*
         * A refused request that announces a body is answered now, before
         * any of the body is read (the connection then closes). Otherwise
         * the answer waits for the final call, which keeps the connection
         * alive: libmicrohttpd closes after any answer given this early.
         */
        if (r->fault.kind != LOSSD_FAULT_NONE && request_announces_body(r)) {
            lossd_watch_request_done(watch_of(conn)); /* answered: the body is not wanted */
            return request_queue_fault(r);
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
        request_receive(r, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (r->answered)
        return MHD_YES;
    lossd_watch_request_done(watch_of(conn)); /* the whole request is in */
    if (!r->computed)
        request_received(r);
    if (r->computed)
        return request_queue_computed(r);
    if (r->fault.kind != LOSSD_FAULT_NONE)
        return request_queue_fault(r);
    if (r->preflight)
        return request_queue(r, 204, NULL, 0, NULL);
    if (!r->route.compute)
        return request_serve_get(r);
    return dispatch(r);
}

/*
 * Collects the X-Forwarded-For headers, in order (a proxy may add its own
 * line); of more than fit, the last ones, which the nearest proxies wrote.
 */
typedef struct {
    const char *values[FORWARDED_MAX];
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

void server_on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
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
    request_destroy(r);
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
        struct timespec nap = {0, IDLE_POLL_NS};
        nanosleep(&nap, NULL);
    }
    return true;
}

void lossd_server_stop(lossd_server *s)
{
    LOSSD_ASSERT(s != NULL);
    server_free(s);
}
