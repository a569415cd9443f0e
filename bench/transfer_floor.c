/* SPDX-License-Identifier: MIT */
/*
 * transfer_floor.c - the floor under a large binary request's end-to-end
 * time: a libmicrohttpd server configured like lossd (internal epoll
 * polling threads, turbo, suspend/resume allowed, 16 KiB of connection
 * memory) whose handler reads the request body into memory, as lossd does,
 * and answers REPLY_BYTES bytes from a buffer it already holds - no
 * parsing, no math, no formatting. Whatever lossd takes beyond this is
 * lossd's own work.
 *
 *   bench/transfer_floor PORT REPLY_BYTES [IO_THREADS]    serve until SIGTERM/SIGINT
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

static char *reply;
static size_t reply_bytes;

/* One request's body, kept as lossd keeps it: one allocation of Content-Length bytes. */
typedef struct {
    char *data;
    size_t len, cap;
} body;

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload,
                                 size_t *upload_size, void **state)
{
    (void)cls, (void)url, (void)method, (void)version;
    body *b = *state;
    if (b == NULL) {
        if ((b = calloc(1, sizeof *b)) == NULL)
            return MHD_NO;
        const char *length = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
        b->cap = length ? strtoull(length, NULL, 10) : 0;
        if (b->cap && (b->data = malloc(b->cap)) == NULL)
            return MHD_NO;
        *state = b;
        return MHD_YES;
    }
    if (*upload_size) {
        size_t n = *upload_size;
        if (b->len + n > b->cap) {
            char *p = realloc(b->data, b->len + n);
            if (p == NULL)
                return MHD_NO;
            b->data = p;
            b->cap = b->len + n;
        }
        memcpy(b->data + b->len, upload, n);
        b->len += n;
        *upload_size = 0;
        return MHD_YES;
    }
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(reply_bytes, reply, MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(resp, "Content-Type", "application/octet-stream");
    enum MHD_Result rc = MHD_queue_response(conn, 200, resp);
    MHD_destroy_response(resp);
    return rc;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **state,
                         enum MHD_RequestTerminationCode code)
{
    (void)cls, (void)conn, (void)code;
    body *b = *state;
    if (b) {
        free(b->data);
        free(b);
        *state = NULL;
    }
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s PORT REPLY_BYTES [IO_THREADS]\n", argv[0]);
        return 2;
    }
    reply_bytes = strtoull(argv[2], NULL, 10);
    unsigned threads = argc > 3 ? (unsigned)atoi(argv[3]) : 2;
    if ((reply = malloc(reply_bytes ? reply_bytes : 1)) == NULL)
        return 1;
    memset(reply, 0x3f, reply_bytes); /* touched once, as a computed reply would be */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_TURBO | MHD_ALLOW_SUSPEND_RESUME,
        (uint16_t)atoi(argv[1]), NULL, NULL, on_access, NULL, MHD_OPTION_NOTIFY_COMPLETED,
        on_completed, NULL, MHD_OPTION_CONNECTION_LIMIT, (unsigned)1024,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(16 * 1024), MHD_OPTION_THREAD_POOL_SIZE,
        threads > 1 ? threads : 0, MHD_OPTION_END);
    if (d == NULL) {
        fprintf(stderr, "transfer_floor: cannot listen on %s\n", argv[1]);
        return 1;
    }
    int sig;
    sigwait(&stop, &sig);
    MHD_stop_daemon(d);
    free(reply);
    return 0;
}
