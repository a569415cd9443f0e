/* SPDX-License-Identifier: MIT */
/*
 * server_start.c - building the server and taking it apart: the worker
 * pool, the metrics, the API keys, the trusted proxies, the request
 * deadlines, the JSON documents served as they are (built once from the
 * registry), the file-descriptor limit, and libmicrohttpd's daemon on the
 * listening socket with its options.
 *
 * Threading and ownership: lossd_server_start() and server_free() run on
 * the controlling thread (server.h), before libmicrohttpd's threads exist
 * and after they are gone. The server owns everything it points to; a
 * partly built one is freed by server_free() as well, so each step of the
 * start-up releases through the one exit (redis's aeCreateEventLoop).
 */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "../debug.h"
#include "catalog.h"
#include "listener.h"
#include "log.h"
#include "server_internal.h"
#include "v2.h"

/*
 * Each connection's header memory, zeroed by libmicrohttpd after every
 * request: 16 KiB still takes headers of several KiB (larger get 431).
 */
#define CONNECTION_MEMORY (16 * 1024)

/* File descriptors beyond one per connection: listeners, epoll, eventfds, logs. */
#define SPARE_FDS 64

/* --max-buffered 0: room for this many bodies of --max-body (as --help says). */
#define BUFFERED_BODIES 4

double seconds_since(const struct timespec *t0)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - t0->tv_sec) + (double)(now.tv_nsec - t0->tv_nsec) / 1e9;
}

bool lossd_server_tls_available(void)
{
    return MHD_is_feature_supported(MHD_FEATURE_TLS) == MHD_YES;
}

/*
 * Every connection is a file descriptor: make sure the process may open
 * --max-connections of them (plus SPARE_FDS), raising the soft limit
 * towards the hard one, and warn when even that is short.
 */
static void ensure_fd_limit(size_t connections)
{
    struct rlimit rl;
    rlim_t need = (rlim_t)connections + SPARE_FDS;
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

void server_free(lossd_server *s)
{
    if (s->daemon)
        MHD_stop_daemon(s->daemon);
    if (s->quiesced != MHD_INVALID_SOCKET)
        close(s->quiesced);
    lossd_reaper_destroy(s->reaper);
    lossd_pool_destroy(s->pool);
    lossd_metrics_destroy(s->metrics);
    lossd_auth_destroy(s->auth);
    for (size_t i = 0; i < LOSSD_ROUTE_COUNT; i++)
        free(s->documents[i].text);
    for (size_t i = 0; s->models && i < lossd_function_count(); i++)
        free(s->models[i].text);
    for (size_t k = 0; k < LOSSD_KIND_COUNT; k++)
        free(s->kinds[k].text);
    free(s->models);
    lossd_openapi_destroy(s->openapi);
    free(s->tls_cert);
    free(s->tls_key);
    free(s);
}

/* A server with cfg's settings resolved and nothing started; NULL when memory is short. */
static lossd_server *server_create(const lossd_config *cfg)
{
    lossd_server *s = calloc(1, sizeof *s);
    if (s == NULL)
        return NULL;
    s->cfg = cfg;
    s->quiesced = MHD_INVALID_SOCKET;
    atomic_init(&s->draining, false);
    atomic_init(&s->active, 0);
    atomic_init(&s->inflight, 0);
    atomic_init(&s->buffered, 0);
    s->max_buffered = cfg->max_buffered ? cfg->max_buffered : BUFFERED_BODIES * cfg->max_body;
    s->workers = cfg->workers ? cfg->workers : cpu_count();
    /* Two I/O threads measured best even on two cores (docs/performance.md). */
    s->io_threads = cfg->io_threads ? cfg->io_threads : (cpu_count() > 1 ? 2 : 1);
    return s;
}

/* The settings read from files or text that can be wrong: proxies, TLS, API keys. */
static int load_settings(lossd_server *s, FILE *err)
{
    const lossd_config *cfg = s->cfg;
    char why[256];
    if (cfg->trusted_proxy[0] &&
        lossd_trust_parse(&s->trust, cfg->trusted_proxy, why, sizeof why) < 0) {
        fprintf(err, "lossd: --trusted-proxy: %s\n", why);
        return -1;
    }
    if (cfg->tls_cert[0] != '\0') {
        if (!lossd_server_tls_available()) {
            fprintf(err, "lossd: --tls-cert given, but this libmicrohttpd was built without TLS\n");
            return -1;
        }
        if (lossd_listener_tls(cfg, &s->tls_cert, &s->tls_key, err) < 0)
            return -1;
    }
    if (cfg->api_key_file[0] && (s->auth = lossd_auth_load(cfg->api_key_file, err)) == NULL)
        return -1;
    return 0;
}

/* Takes a malloc'd JSON text (NULL when it could not be built) as a document. */
static bool set_document(server_document *d, char *text)
{
    d->text = text;
    d->len = text ? strlen(text) : 0;
    return text != NULL;
}

/* The JSON served as it is, built once from the registry. False when memory is short. */
static bool build_documents(lossd_server *s)
{
    server_document *d = s->documents;
    bool ok = set_document(&d[LOSSD_ROUTE_FUNCTIONS], lossd_catalog_functions_json()) &
              set_document(&d[LOSSD_ROUTE_V1], lossd_catalog_v1_json()) &
              set_document(&d[LOSSD_ROUTE_V2], lossd_v2_server_json());
    for (int k = 0; k < LOSSD_KIND_COUNT; k++)
        ok &= set_document(&s->kinds[k], lossd_catalog_kind_json((lossd_kind)k));
    size_t n = lossd_function_count();
    if ((s->models = calloc(n, sizeof *s->models)) == NULL)
        return false;
    for (size_t i = 0; i < n; i++)
        ok &= set_document(&s->models[i], lossd_v2_model_json(lossd_function_at(i)));
    s->openapi = lossd_openapi_create();
    return ok && s->openapi != NULL;
}

/* The pool, the metrics, the documents and the handlers; the deadline thread. */
static int build_parts(lossd_server *s, FILE *err)
{
    const lossd_config *cfg = s->cfg;
    s->pool = lossd_pool_create(s->workers, cfg->queue);
    s->metrics = lossd_metrics_create();
    if (!build_documents(s) || !s->pool || !s->metrics) {
        fprintf(err, "lossd: out of memory starting the server (%zu workers, queue %zu)\n",
                s->workers, cfg->queue);
        return -1;
    }
    s->handler.limits = (lossd_limits){cfg->max_elements, cfg->max_jobs};
    s->handler.exec = lossd_pool_exec(s->pool);
    s->inline_handler.limits = s->handler.limits; /* and no executor: one thread */
    if (cfg->timeout > 0 &&
        (s->reaper = lossd_reaper_create((double)cfg->timeout, server_on_reap, s)) == NULL) {
        fprintf(err, "lossd: cannot start the request-deadline thread\n");
        return -1;
    }
    return 0;
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

/* At most this many options (daemon_options); MHD_OPTION_END included. */
#define DAEMON_OPTIONS_MAX 16

/* libmicrohttpd's options for s on the listening socket fd, ended by MHD_OPTION_END. */
static void daemon_options(lossd_server *s, MHD_socket fd, struct MHD_OptionItem *opts)
{
    const lossd_config *cfg = s->cfg;
    size_t n = 0;
#define OPTION(option, value, ptr) \
    (opts[n++] = (struct MHD_OptionItem){option, (intptr_t)(value), ptr})
    OPTION(MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL);
    OPTION(MHD_OPTION_LISTEN_SOCKET, fd, NULL);
    OPTION(MHD_OPTION_NOTIFY_COMPLETED, server_on_completed, s);
    OPTION(MHD_OPTION_NOTIFY_CONNECTION, server_on_connection, s);
    OPTION(MHD_OPTION_CONNECTION_TIMEOUT, cfg->timeout, NULL);
    OPTION(MHD_OPTION_CONNECTION_LIMIT, cfg->max_connections, NULL);
    OPTION(MHD_OPTION_CONNECTION_MEMORY_LIMIT, CONNECTION_MEMORY, NULL);
    if (cfg->max_connections_per_ip)
        OPTION(MHD_OPTION_PER_IP_CONNECTION_LIMIT, cfg->max_connections_per_ip, NULL);
    if (s->io_threads > 1)
        OPTION(MHD_OPTION_THREAD_POOL_SIZE, s->io_threads, NULL);
    if (s->tls_cert) {
        OPTION(MHD_OPTION_HTTPS_MEM_CERT, 0, s->tls_cert);
        OPTION(MHD_OPTION_HTTPS_MEM_KEY, 0, s->tls_key);
    }
    OPTION(MHD_OPTION_END, 0, NULL);
#undef OPTION
    LOSSD_ASSERT(n <= DAEMON_OPTIONS_MAX);
}

/* Starts libmicrohttpd on the listener, which it then owns (listener->fd becomes -1). */
static int start_daemon(lossd_server *s, lossd_listener *listener, FILE *err)
{
    ensure_fd_limit(s->cfg->max_connections);
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_TURBO |
                     MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    if (listener->v6)
        flags |= MHD_USE_IPv6;
    if (s->tls_cert)
        flags |= MHD_USE_TLS;
    struct MHD_OptionItem opts[DAEMON_OPTIONS_MAX];
    daemon_options(s, listener->fd, opts);
    s->daemon = MHD_start_daemon(flags, 0, NULL, NULL, server_on_access, s, MHD_OPTION_ARRAY, opts,
                                 MHD_OPTION_END);
    if (s->daemon == NULL) {
        fprintf(err, "lossd: libmicrohttpd could not start on %s (its message is above)\n",
                listener->shown);
        return -1;
    }
    s->port = listener->port;
    listener->fd = -1; /* libmicrohttpd's now: closed by MHD_stop_daemon() */
    return 0;
}

/* The start-up's log lines: what the server listens on, and how. */
static void log_started(const lossd_server *s, const lossd_listener *listener)
{
    const lossd_config *cfg = s->cfg;
    bool tls = s->tls_cert != NULL;
    if (cfg->max_connections_per_ip && s->trust.n)
        lossd_log("warning",
                  "--max-connections-per-ip %zu also counts each trusted proxy's connections: "
                  "libmicrohttpd applies it when it accepts a connection, before any "
                  "X-Forwarded-For is read; limit clients at the proxy",
                  cfg->max_connections_per_ip);
    lossd_log("info", "listening on %s (%s; %s; %zu workers, queue %zu, %zu I/O thread%s; TLS %s)",
              listener->shown,
              listener->dual_stack ? "IPv4 and IPv6" : (listener->v6 ? "IPv6" : "IPv4"),
              tls ? "https" : "http", s->workers, cfg->queue, s->io_threads,
              s->io_threads == 1 ? "" : "s",
              tls ? "on" : (lossd_server_tls_available() ? "available, off" : "not available"));
}

lossd_server *lossd_server_start(const lossd_config *cfg, FILE *err)
{
    LOSSD_ASSERT(cfg != NULL && err != NULL);
    lossd_listener listener;
    if (lossd_listener_open(cfg, &listener, err) < 0)
        return NULL;
    lossd_server *s = server_create(cfg);
    if (s == NULL) {
        fprintf(err, "lossd: out of memory starting the server\n");
        goto err;
    }
    if (load_settings(s, err) < 0 || build_parts(s, err) < 0 || start_daemon(s, &listener, err) < 0)
        goto err;
    log_started(s, &listener);
    return s;

err:
    if (s)
        server_free(s);
    lossd_listener_close(&listener);
    return NULL;
}
