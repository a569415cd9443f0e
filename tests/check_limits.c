/* SPDX-License-Identifier: MIT */
/*
 * check_limits.c - the service's limits over real HTTP: 413 for bodies,
 * elements, jobs and replies over their limit (a too-large body refused
 * before it arrives), many clients at once, 503 and recovery when the
 * queue is full, slow and trickling clients cut off, connection limits
 * and the budget of buffered bodies. An in-process server per test, with
 * the limit under test set small (tests/httputil.h).
 *
 * Timing is asserted only with margins of several times the expected
 * figure (a refusal must come before the work it refuses finishes).
 */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "httputil.h"

static void small_limits(lossd_config *c)
{
    c->max_body = 4096;
    c->max_elements = 100;
    c->max_jobs = 3;
}

static void setup_small_limits(void)
{
    http_start(small_limits);
}

START_TEST(limits_give_413)
{
    /* body over --max-body, elements over --max-elements, jobs over --max-jobs, reply too big */
    char *big = malloc(8192);
    memset(big, ' ', 8191);
    big[8191] = '\0';
    memcpy(big, "{\"input\":[1],\"target\":[1]}", 26);
    http_reply r = http_post("/v1/loss/mse", big);
    expect_http_error(&r, 413, "payload_too_large", NULL);
    http_reply_free(&r);
    free(big);
    char body[2048], *p = body;
    p += sprintf(p, "{\"input\":[");
    for (int i = 0; i < 101; i++)
        p += sprintf(p, "%s%d", i ? "," : "", i);
    sprintf(p, "],\"target\":[1]}");
    r = http_post("/v1/loss/mse", body);
    expect_http_error(&r, 413, "payload_too_large", "input");
    http_reply_free(&r);
    r = http_post("/v1/batch", "{\"jobs\":[{},{},{},{}]}");
    expect_http_error(&r, 413, "payload_too_large", "jobs");
    http_reply_free(&r);
    /* an 11 x 11 matrix is 121 numbers: more than the reply may hold */
    p = body;
    p += sprintf(p, "{\"boxes1\":[");
    for (int i = 0; i < 11; i++)
        p += sprintf(p, "%s[0,0,1,1]", i ? "," : "");
    p += sprintf(p, "],\"boxes2\":[");
    for (int i = 0; i < 11; i++)
        p += sprintf(p, "%s[0,0,1,1]", i ? "," : "");
    sprintf(p, "]}");
    r = http_post("/v1/pairwise/iou", body);
    expect_http_error(&r, 413, "payload_too_large", "boxes2");
    http_reply_free(&r);
}
END_TEST

START_TEST(too_large_before_the_body)
{
    /* A gigabyte announced and never sent: 413 comes back anyway. */
    int fd = raw_connect();
    const char *head = "POST /v1/loss/mse HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                       "Content-Length: 1000000000\r\n\r\n";
    ck_assert_int_eq(send(fd, head, strlen(head), 0), (ssize_t)strlen(head));
    char *got = raw_read(fd, "}}", NULL);
    ck_assert_msg(strncmp(got, "HTTP/1.1 413", 12) == 0, "got: %s", got);
    ck_assert_ptr_nonnull(strstr(got, "payload_too_large"));
    free(got);
    close(fd);
    /* both Content-Length and Transfer-Encoding: 400 */
    fd = raw_connect();
    head = "POST /v1/loss/mse HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
           "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
    send(fd, head, strlen(head), 0);
    got = raw_read(fd, "}}", NULL);
    ck_assert_msg(strncmp(got, "HTTP/1.1 400", 12) == 0, "got: %s", got);
    ck_assert_ptr_nonnull(strstr(got, "bad_request"));
    free(got);
    close(fd);
    /* a chunked body past --max-body: 413 at its end */
    fd = raw_connect();
    head = "POST /v1/loss/mse HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
    send(fd, head, strlen(head), 0);
    char chunk[300];
    memset(chunk, 'x', sizeof chunk);
    for (int i = 0; i < 20; i++) {
        send(fd, "12c\r\n", 5, 0);
        send(fd, chunk, sizeof chunk, 0);
        send(fd, "\r\n", 2, 0);
    }
    send(fd, "0\r\n\r\n", 5, 0);
    got = raw_read(fd, "}}", NULL);
    ck_assert_msg(strncmp(got, "HTTP/1.1 413", 12) == 0, "got: %s", got);
    free(got);
    close(fd);
}
END_TEST

START_TEST(chunked_body_far_too_large)
{
    /* A chunked body of three times --max-body: a 413, not a dropped connection. */
    int fd = raw_connect();
    const char *head = "POST /v1/loss/mse HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                       "X-Request-Id: far-too-large\r\n\r\n";
    ck_assert_int_eq(send(fd, head, strlen(head), 0), (ssize_t)strlen(head));
    char chunk[1024];
    memset(chunk, 'x', sizeof chunk);
    size_t sent = 0;
    while (sent < 3 * http_config()->max_body) {
        ck_assert_int_eq(send(fd, "400\r\n", 5, MSG_NOSIGNAL), 5);
        ck_assert_int_eq(send(fd, chunk, sizeof chunk, MSG_NOSIGNAL), (ssize_t)sizeof chunk);
        ck_assert_int_eq(send(fd, "\r\n", 2, MSG_NOSIGNAL), 2);
        sent += sizeof chunk;
    }
    ck_assert_int_eq(send(fd, "0\r\n\r\n", 5, MSG_NOSIGNAL), 5);
    char *got = raw_read(fd, "}}", NULL);
    ck_assert_msg(strncmp(got, "HTTP/1.1 413", 12) == 0, "got: %s", got);
    ck_assert_ptr_nonnull(strstr(got, "X-Request-Id: far-too-large"));
    ck_assert_ptr_nonnull(strstr(got, "\"code\":\"payload_too_large\""));
    ck_assert_ptr_nonnull(strstr(got, "the body is more than 4096 bytes (--max-body)"));
    free(got);
    close(fd);
}
END_TEST

/* ------------------------------------------------------------ concurrency */

typedef struct {
    int id;
    atomic_int *failures;
} client_arg;

static void *client(void *arg_)
{
    client_arg *arg = arg_;
    for (int k = 0; k < 10; k++) {
        char body[128];
        double a = arg->id * 0.5 + k, b = -k - 1; /* a > b: l1's gradient is 1 */
        snprintf(body, sizeof body, "{\"input\":[%.17g],\"target\":[%.17g],\"grad\":true}", a, b);
        http_reply r = http_post("/v1/loss/l1", body);
        double want = fabs(a - b);
        bool ok = r.status == 200 && r.json &&
                  json_real_value(json_object_get(r.json, "loss")) == want &&
                  json_real_value(json_array_get(json_object_get(r.json, "grad"), 0)) == 1.0;
        if (!ok) {
            fprintf(stderr, "client %d/%d: status %ld, reply %s\n", arg->id, k, r.status, r.body);
            atomic_fetch_add(arg->failures, 1);
        }
        http_reply_free(&r);
    }
    return NULL;
}

START_TEST(sixty_four_clients)
{
    enum { N = 64 };
    pthread_t threads[N];
    client_arg args[N];
    atomic_int failures = 0;
    for (int i = 0; i < N; i++) {
        args[i] = (client_arg){i, &failures};
        ck_assert_int_eq(pthread_create(&threads[i], NULL, client, &args[i]), 0);
    }
    for (int i = 0; i < N; i++)
        pthread_join(threads[i], NULL);
    ck_assert_int_eq(atomic_load(&failures), 0);
}
END_TEST

static void tiny_queue(lossd_config *c)
{
    c->workers = 1;
    c->queue = 1;
    c->max_elements = 1 << 24;
}

static void setup_tiny_queue(void)
{
    http_start(tiny_queue);
}

typedef struct {
    const char *body;
    long status;
    bool retry_after, correct;
    double seconds;
} heavy_arg;

static void *heavy_client(void *arg_)
{
    heavy_arg *arg = arg_;
    http_reply r = http_post("/v1/pairwise/ciou", arg->body);
    arg->status = r.status;
    arg->seconds = r.seconds;
    arg->retry_after =
        http_header(&r, "Retry-After") && strcmp(http_header(&r, "Retry-After"), "1") == 0;
    arg->correct = r.status == 200 &&
                   json_array_size(json_object_get(r.json, "matrix")) == HEAVY_N &&
                   json_array_size(json_array_get(json_object_get(r.json, "matrix"), 0)) == HEAVY_N;
    if (r.status == 503)
        arg->correct = strstr(r.body, "\"overloaded\"") != NULL;
    http_reply_free(&r);
    return NULL;
}

START_TEST(overload_then_recovery)
{
    enum { N = 8 };
    char *body = heavy_body(HEAVY_N);
    pthread_t threads[N];
    heavy_arg args[N];
    for (int i = 0; i < N; i++) {
        args[i] = (heavy_arg){.body = body};
        pthread_create(&threads[i], NULL, heavy_client, &args[i]);
    }
    for (int i = 0; i < N; i++)
        pthread_join(threads[i], NULL);
    int ok = 0, rejected = 0;
    double slowest_rejection = 0, slowest_success = 0;
    for (int i = 0; i < N; i++) {
        ck_assert_msg(args[i].correct, "client %d: status %ld, wrong reply", i, args[i].status);
        if (args[i].status == 200) {
            ok++;
            slowest_success = fmax(slowest_success, args[i].seconds);
        } else {
            ck_assert_int_eq(args[i].status, 503);
            ck_assert(args[i].retry_after);
            rejected++;
            slowest_rejection = fmax(slowest_rejection, args[i].seconds);
        }
    }
    /* one running and one queued at most: the others are refused */
    ck_assert_int_ge(ok, 1);
    ck_assert_int_ge(rejected, 1);
    /* refusals come at once, not after the work: faster than the slowest success */
    ck_assert_msg(slowest_rejection < slowest_success, "503 after %.3fs, work took %.3fs",
                  slowest_rejection, slowest_success);
    /* and the server recovers */
    http_reply r = http_post("/v1/loss/mse", "{\"input\":[3],\"target\":[1]}");
    ck_assert_int_eq(r.status, 200);
    ck_assert_double_eq(json_real_value(json_object_get(r.json, "loss")), 4.0);
    http_reply_free(&r);
    expect_status(http_get("/readyz"), 200);
    free(body);
}
END_TEST

/* ------------------------------------------------------------ slow clients */

static void short_timeout(lossd_config *c)
{
    c->timeout = 1;
}

static void setup_short_timeout(void)
{
    http_start(short_timeout);
}

START_TEST(slow_client_is_cut_off)
{
    /* A client that sends half a request line and stalls is closed after
       the timeout, while others are served at once. */
    int fd = raw_connect();
    send(fd, "POST /v1/loss/mse HTTP/1.1\r\nHo", 30, 0);
    http_reply r = http_post("/v1/loss/mse", "{\"input\":[2],\"target\":[0]}");
    ck_assert_int_eq(r.status, 200);
    ck_assert_msg(r.seconds < 0.5, "a normal client waited %.3fs", r.seconds);
    http_reply_free(&r);
    double waited;
    char *got = raw_read(fd, NULL, &waited);
    ck_assert_str_eq(got, ""); /* closed without a reply */
    ck_assert_msg(waited > 0.5 && waited < 5, "closed after %.3fs", waited);
    free(got);
    close(fd);
}
END_TEST

typedef struct {
    int fd;
    const char *text;
    bool cut;
    double seconds;
} trickle_arg;

/* Sends one byte every 100 ms until the server hangs up. */
static void *trickle(void *arg_)
{
    trickle_arg *arg = arg_;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (size_t i = 0; arg->text[i]; i++) {
        if (send(arg->fd, arg->text + i, 1, MSG_NOSIGNAL) != 1) {
            arg->cut = true;
            break;
        }
        usleep(100000);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    arg->seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    return NULL;
}

START_TEST(trickling_clients_are_cut_off)
{
    /* Clients that keep sending - a header byte, or a body byte, every
       100 ms - never look idle, yet must not hold a connection forever: the
       whole request must arrive within --timeout (1 s here). Meanwhile a
       normal client is served at once. */
    enum { N = 20 };
    static char header[200], body_req[400];
    snprintf(header, sizeof header, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: %s\r\n\r\n",
             "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    snprintf(
        body_req, sizeof body_req,
        "POST /v1/loss/mse HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n%s",
        "{\"input\":[1],\"target\":[1]}                                                          ");
    pthread_t threads[N];
    trickle_arg args[N];
    for (int i = 0; i < N; i++) {
        int fd = raw_connect();
        const char *text = header; /* odd: the headers byte by byte */
        if (i % 2 == 0) {          /* even: the headers at once, then the body byte by byte */
            send(fd, body_req, 60, 0);
            text = body_req + 60;
        }
        args[i] = (trickle_arg){fd, text, false, 0};
        pthread_create(&threads[i], NULL, trickle, &args[i]);
    }
    usleep(300000);
    http_reply r = http_post("/v1/loss/mse", "{\"input\":[2],\"target\":[0]}");
    ck_assert_int_eq(r.status, 200);
    ck_assert_msg(r.seconds < 0.5, "a normal client waited %.3fs", r.seconds);
    http_reply_free(&r);
    for (int i = 0; i < N; i++) {
        pthread_join(threads[i], NULL);
        ck_assert_msg(args[i].cut, "trickler %d was never cut off", i);
        ck_assert_msg(args[i].seconds > 0.8 && args[i].seconds < 3, "trickler %d cut after %.2fs",
                      i, args[i].seconds);
        close(args[i].fd);
    }
    char want[64];
    snprintf(want, sizeof want, "lossd_rejected_total{reason=\"slow_client\"} %d\n", N);
    const char *wants[] = {want};
    r = http_metrics_with(wants, 1);
    ck_assert_msg(strstr(r.body, want) != NULL, "metrics lack %s", want);
    http_reply_free(&r);
}
END_TEST

/* ------------------------------------------------------------ connection limits */

static void few_connections(lossd_config *c)
{
    c->max_connections = 4;
}

static void setup_few_connections(void)
{
    http_start(few_connections);
}

static void few_per_ip(lossd_config *c)
{
    c->max_connections_per_ip = 2;
}

static void setup_few_per_ip(void)
{
    http_start(few_per_ip);
}

/* Whether the server closes a fresh connection without answering a request on it. */
static bool refused(void)
{
    int fd = raw_connect();
    const char *req = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    send(fd, req, strlen(req), MSG_NOSIGNAL);
    char *got = raw_read(fd, "\"ok\"}", NULL);
    bool closed = strstr(got, "200") == NULL;
    free(got);
    close(fd);
    return closed;
}

/* Opens n connections that each hold a request open (headers sent, no end). */
static void hold(int *fds, int n)
{
    for (int i = 0; i < n; i++) {
        fds[i] = raw_connect();
        send(fds[i], "GET /healthz HTTP/1.1\r\nHo", 26, 0);
    }
    usleep(100000); /* let the server accept them */
}

START_TEST(max_connections)
{
    int fds[4];
    hold(fds, 4);
    ck_assert_msg(refused(), "a fifth connection was served past --max-connections 4");
    for (int i = 0; i < 4; i++)
        close(fds[i]);
    usleep(200000);
    ck_assert_msg(!refused(), "the server did not recover its connections");
}
END_TEST

START_TEST(max_connections_per_ip)
{
    int fds[2];
    hold(fds, 2);
    ck_assert_msg(refused(), "a third connection from one address was served");
    close(fds[0]);
    usleep(200000);
    ck_assert_msg(!refused(), "a freed slot was not given back");
    close(fds[1]);
}
END_TEST

/* ------------------------------------------------------------ buffered bodies */

static void small_budget(lossd_config *c)
{
    c->max_body = 4096;
    c->max_buffered = 6000;
}

static void setup_small_budget(void)
{
    http_start(small_budget);
}

START_TEST(buffered_bodies_are_bounded)
{
    /* One upload holds 4000 of the 6000 bytes bodies may hold: a second one
       of 4000 is refused at once with 503 and Retry-After, before its body;
       when the first is done, it goes through. */
    char body[4001];
    memset(body, ' ', 4000);
    body[4000] = '\0';
    memcpy(body, "{\"input\":[3],\"target\":[1]}", 26);
    int slow = raw_connect();
    const char *head = "POST /v1/loss/mse HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                       "Content-Length: 4000\r\n\r\n";
    send(slow, head, strlen(head), 0);
    send(slow, body, 100, 0); /* the rest later */
    usleep(100000);
    http_reply r = http_post("/v1/loss/mse", body);
    expect_http_error(&r, 503, "overloaded", NULL);
    ck_assert_str_eq(http_header(&r, "Retry-After"), "1");
    ck_assert_ptr_nonnull(strstr(r.body, "--max-buffered"));
    http_reply_free(&r);
    /* small bodies still fit beside it */
    expect_status(http_post("/v1/loss/mse", "{\"input\":[3],\"target\":[1]}"), 200);
    send(slow, body + 100, 3900, 0);
    char *got = raw_read(slow, "}", NULL);
    ck_assert_msg(strncmp(got, "HTTP/1.1 200", 12) == 0, "got: %s", got);
    free(got);
    close(slow);
    r = http_post("/v1/loss/mse", body);
    ck_assert_int_eq(r.status, 200);
    ck_assert_double_eq(json_real_value(json_object_get(r.json, "loss")), 4.0);
    http_reply_free(&r);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("limits");
    add_case(s, "limits", 30, setup_small_limits, http_stop,
             TESTS(limits_give_413, too_large_before_the_body, chunked_body_far_too_large));
    add_case(s, "concurrency", 120, http_setup, http_stop, TESTS(sixty_four_clients));
    add_case(s, "overload", 120, setup_tiny_queue, http_stop, TESTS(overload_then_recovery));
    add_case(s, "slow clients", 30, setup_short_timeout, http_stop,
             TESTS(slow_client_is_cut_off, trickling_clients_are_cut_off));
    add_case(s, "max connections", 30, setup_few_connections, http_stop, TESTS(max_connections));
    add_case(s, "max connections per ip", 30, setup_few_per_ip, http_stop,
             TESTS(max_connections_per_ip));
    add_case(s, "buffered bodies", 30, setup_small_budget, http_stop,
             TESTS(buffered_bodies_are_bounded));
    return run_http_suite(s);
}
