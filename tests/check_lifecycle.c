/* SPDX-License-Identifier: MIT */
/*
 * check_lifecycle.c - the service's life over real HTTP: draining (an
 * open request outlives it, readiness turns, the listener closes at
 * once), and the lossd binary itself (./lossd, started by the test):
 * SIGTERM drains and exits 0, --healthcheck, and the access log (JSON and
 * text; the client behind a trusted proxy).
 */
#define _GNU_SOURCE /* strcasestr */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../src/service/dtoa.h"
#include "httputil.h"

typedef struct {
    pid_t pid;
    int err_fd; /* the child's stderr */
    unsigned port;
} child;

/* Starts ./lossd on a free port; reads the port from its first log line. */
static child spawn_lossd(const char *const *extra)
{
    int pipefd[2];
    ck_assert_int_eq(pipe(pipefd), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        dup2(pipefd[1], 2);
        close(pipefd[0]);
        const char *argv[16] = {LOSSD_BINARY, "--listen", "127.0.0.1:0", "--drain-timeout", "10"};
        int argc = 5;
        for (int i = 0; extra && extra[i]; i++)
            argv[argc++] = extra[i];
        argv[argc] = NULL;
        execv(LOSSD_BINARY, (char *const *)argv);
        _exit(127);
    }
    close(pipefd[1]);
    child c = {pid, pipefd[0], 0};
    char line[1024];
    FILE *f = fdopen(dup(c.err_fd), "r");
    while (fgets(line, sizeof line, f)) {
        char *at = strstr(line, "listening on 127.0.0.1:");
        if (at) {
            c.port = (unsigned)atoi(at + strlen("listening on 127.0.0.1:"));
            break;
        }
    }
    fclose(f);
    ck_assert_msg(c.port > 0, "lossd did not say where it listens");
    return c;
}

/* Whether a new connection is refused outright (the listener is closed). */
static bool listener_closed(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)http_port())};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    bool closed = connect(fd, (struct sockaddr *)&sa, sizeof sa) == -1 && errno == ECONNREFUSED;
    close(fd);
    return closed;
}

/* The value of /metrics' lossd_open_requests, the scrape itself included. */
static unsigned open_requests(void)
{
    http_reply m = http_get("/metrics");
    ck_assert_int_eq(m.status, 200);
    const char *at = strstr(m.body, "\nlossd_open_requests ");
    ck_assert_ptr_nonnull(at);
    unsigned n = (unsigned)strtoul(at + strlen("\nlossd_open_requests "), NULL, 10);
    http_reply_free(&m);
    return n;
}

/* Waits (up to 10 s) until n requests besides the scrape are open. A
   previous scrape may still count for a moment: its completion is
   reported just after its client has read the reply. */
static void wait_open(unsigned n)
{
    unsigned open = 0;
    for (int i = 0; i < 1000 && (open = open_requests()) != n + 1; i++)
        usleep(10000);
    ck_assert_uint_eq(open, n + 1);
}

/* Sends a request whole but for its body's last byte: lossd has read its
   headers and admitted it, and it stays open until release_held(). */
static int hold_request(const char *path, const char *body)
{
    int fd = raw_connect();
    char head[256];
    size_t len = strlen(body);
    int n = snprintf(head, sizeof head,
                     "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\n\r\n",
                     path, len);
    ck_assert_int_eq(send(fd, head, (size_t)n, 0), n);
    for (size_t off = 0; off < len - 1;) {
        ssize_t sent = send(fd, body + off, len - 1 - off, 0);
        ck_assert_int_gt(sent, 0);
        off += (size_t)sent;
    }
    return fd;
}

/* Sends the last byte and reads the reply until lossd closes the connection
   (as it does while draining). The whole response, NUL-terminated. */
static char *release_held(int fd, const char *body)
{
    ck_assert_int_eq(send(fd, body + strlen(body) - 1, 1, 0), 1);
    char *response = raw_read(fd, NULL, NULL);
    close(fd);
    return response;
}

/* The JSON body of a whole response, checked to be 200 with Connection: close. */
static json_t *closing_200(const char *response)
{
    ck_assert_msg(strncmp(response, "HTTP/1.1 200 ", 13) == 0, "got: %.200s", response);
    const char *end = strstr(response, "\r\n\r\n");
    ck_assert_ptr_nonnull(end);
    const char *connection = strcasestr(response, "\r\nConnection: close\r\n");
    ck_assert_msg(connection != NULL && connection < end, "no Connection: close in %.*s",
                  (int)(end - response), response);
    json_t *j = json_loads(end + 4, 0, NULL);
    ck_assert_ptr_nonnull(j);
    return j;
}

static const char small_body[] = "{\"input\":[3],\"target\":[1]}";

START_TEST(open_request_outlives_the_drain)
{
    /* In-process: a request whose headers were read before the drain is
       answered after it, even though the rest of its body comes later. */
    int fd = hold_request("/v1/loss/mse", small_body);
    wait_open(1);
    lossd_server_drain(http_server());
    char *got = release_held(fd, small_body);
    json_t *j = closing_200(got);
    ck_assert_double_eq(json_real_value(json_object_get(j, "loss")), 4.0);
    json_decref(j);
    free(got);
    ck_assert(lossd_server_wait_idle(http_server(), 5));
}
END_TEST

START_TEST(sigterm_drains)
{
    child c = spawn_lossd(NULL);
    http_target(c.port);
    /* A large request and a small one are open when the signal comes; their
       last bytes go out once the listener is closed, so both are parsed and
       computed during the drain, with no race against the signal. */
    char *heavy = heavy_body(HEAVY_N);
    int heavy_fd = hold_request("/v1/pairwise/ciou", heavy);
    int small_fd = hold_request("/v1/loss/mse", small_body);
    wait_open(2);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    ck_assert_int_eq(kill(c.pid, SIGTERM), 0);
    bool closed = false;
    for (int i = 0; i < 1000 && !(closed = listener_closed()); i++)
        usleep(10000);
    ck_assert_msg(closed, "the listener is still open 10 s after SIGTERM");
    char *got = release_held(heavy_fd, heavy);
    json_t *j = closing_200(got);
    ck_assert_uint_eq(json_array_size(json_object_get(j, "matrix")), HEAVY_N);
    json_decref(j);
    free(got);
    got = release_held(small_fd, small_body);
    j = closing_200(got);
    ck_assert_double_eq(json_real_value(json_object_get(j, "loss")), 4.0);
    json_decref(j);
    free(got);
    int status;
    ck_assert_int_eq(waitpid(c.pid, &status, 0), c.pid);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    ck_assert(WIFEXITED(status));
    ck_assert_int_eq(WEXITSTATUS(status), 0);
    double took = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    ck_assert_msg(took < 10, "drain took %.1fs", took);
    close(c.err_fd);
    free(heavy);
}
END_TEST

START_TEST(readiness_turns_during_drain)
{
    /* In-process: after drain starts, /readyz answers 503 draining on a
       keep-alive connection opened before it. */
    CURL *curl = curl_easy_init();
    ck_assert_ptr_nonnull(curl);
    expect_status(http_request_on(curl, NULL, "/readyz", NULL, 0, NULL), 200);
    lossd_server_drain(http_server());
    http_reply r = http_request_on(curl, NULL, "/readyz", NULL, 0, NULL);
    long new_connections = -1;
    curl_easy_getinfo(curl, CURLINFO_NUM_CONNECTS, &new_connections);
    ck_assert_int_eq(new_connections, 0); /* the same connection */
    ck_assert_int_eq(r.status, 503);
    ck_assert_str_eq(r.body, "{\"status\":\"draining\"}");
    http_reply_free(&r);
    curl_easy_cleanup(curl);
    /* and a new connection is refused at once, not left in the listen backlog */
    ck_assert(listener_closed());
}
END_TEST

START_TEST(healthcheck_flag)
{
    child c = spawn_lossd(NULL);
    char listen[64], cmd[256];
    snprintf(listen, sizeof listen, "127.0.0.1:%u", c.port);
    snprintf(cmd, sizeof cmd, "%s --healthcheck --listen %s 2>/dev/null", LOSSD_BINARY, listen);
    ck_assert_int_eq(system(cmd), 0);
    kill(c.pid, SIGTERM);
    int status;
    waitpid(c.pid, &status, 0);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    /* nothing listening any more: the check fails */
    ck_assert_int_ne(system(cmd), 0);
    close(c.err_fd);
}
END_TEST

/* Stops a lossd started by spawn_lossd() and returns all it wrote to stderr (caller frees). */
static char *stop_and_read_log(child *c)
{
    kill(c->pid, SIGTERM);
    int status;
    waitpid(c->pid, &status, 0);
    size_t cap = 65536, len = 0;
    char *log = malloc(cap);
    ck_assert_ptr_nonnull(log);
    for (ssize_t got; (got = read(c->err_fd, log + len, cap - 1 - len)) > 0;)
        len += (size_t)got;
    log[len] = '\0';
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "lossd ended with %s %d after SIGTERM; its log:\n%s",
                  WIFEXITED(status) ? "status" : "signal",
                  WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), log);
    close(c->err_fd);
    return log;
}

/* Whether text is "ADDRESS:PORT" for this address (a peer, with its port). */
static bool peer_of(const char *text, const char *address)
{
    size_t n = strlen(address);
    return strncmp(text, address, n) == 0 && text[n] == ':' && text[n + 1] >= '1' &&
           text[n + 1] <= '9' && strspn(text + n + 1, "0123456789") == strlen(text + n + 1);
}

/*
 * Every thread but main blocks SIGTERM and SIGINT, so that only main's
 * sigwait() takes them: a thread that did not (the log thread once, started
 * before the mask was set) was where the kernel sent a SIGTERM arriving
 * before main reached sigwait(), and the process died undrained.
 * /proc/PID/task/TID/status's SigBlk is each thread's mask, in hex.
 */
START_TEST(only_main_takes_the_stop_signals)
{
    const char *flags[] = {"--log-format", "json", NULL};
    child c = spawn_lossd(flags);
    char path[128];
    snprintf(path, sizeof path, "/proc/%d/task", (int)c.pid);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "ls %s", path);
    FILE *tasks = popen(cmd, "r");
    ck_assert_ptr_nonnull(tasks);
    int tid, threads = 0;
    unsigned long long stop_bits = (1ull << (SIGTERM - 1)) | (1ull << (SIGINT - 1));
    while (fscanf(tasks, "%d", &tid) == 1) {
        if (tid == (int)c.pid)
            continue; /* main: it waits for them */
        char status[160], line[256];
        snprintf(status, sizeof status, "%s/%d/status", path, tid);
        FILE *f = fopen(status, "r");
        if (f == NULL)
            continue; /* a thread that has just ended */
        unsigned long long blocked = 0;
        bool seen = false;
        while (fgets(line, sizeof line, f))
            if (sscanf(line, "SigBlk: %llx", &blocked) == 1)
                seen = true;
        fclose(f);
        ck_assert(seen);
        ck_assert_msg((blocked & stop_bits) == stop_bits,
                      "thread %d does not block SIGTERM and SIGINT (SigBlk %llx)", tid, blocked);
        threads++;
    }
    pclose(tasks);
    ck_assert_int_ge(threads, 3); /* the log thread, the workers, libmicrohttpd's */
    free(stop_and_read_log(&c));
    close(c.err_fd);
}
END_TEST

START_TEST(access_log_lines)
{
    /* One JSON access line per request on stderr, written by the log thread
       (and flushed on exit): client, method, path, status, sizes, duration,
       function, request id, user agent, error. */
    const char *flags[] = {"--log-format", "json", "--trusted-proxy", "10.0.0.0/8", NULL};
    child c = spawn_lossd(flags);
    http_target(c.port);
    const char *id[] = {"X-Request-Id: first-one", "User-Agent: lossd-test/1.0 (\"quoted\")",
                        "X-Forwarded-For: 203.0.113.7", NULL};
    const char *ok = "{\"input\":[3],\"target\":[1]}";
    expect_status(http_request(NULL, "/v1/loss/mse", ok, strlen(ok), id), 200);
    expect_status(http_post("/v1/loss/mse", "{\"input\":[3]}"), 422);
    char *log = stop_and_read_log(&c);
    int good = 0, bad = 0;
    for (char *line = strtok(log, "\n"); line; line = strtok(NULL, "\n")) {
        json_t *j = json_loads(line, 0, NULL);
        ck_assert_msg(j != NULL, "not a JSON line: %s", line);
        const char *path = json_string_value(json_object_get(j, "path"));
        if (path && strcmp(path, "/v1/loss/mse") == 0) {
            ck_assert_str_eq(json_string_value(json_object_get(j, "method")), "POST");
            ck_assert_str_eq(json_string_value(json_object_get(j, "function")), "loss/mse");
            /* 127.0.0.1 is no trusted proxy: its X-Forwarded-For is not believed */
            const char *remote = json_string_value(json_object_get(j, "remote"));
            ck_assert_msg(peer_of(remote, "127.0.0.1"), "remote %s", remote);
            /* duration_ms in the shortest form that reads back: 0.30824, not 0.30824499999999999 */
            ck_assert(json_is_number(json_object_get(j, "duration_ms")));
            const char *text = strstr(line, "\"duration_ms\":") + strlen("\"duration_ms\":");
            char shortest[LOSSD_DTOA_MAX + 1];
            size_t n = lossd_dtoa(strtod(text, NULL), shortest);
            ck_assert_msg(strncmp(text, shortest, n) == 0 && text[n] == ',', "%s", line);
            const char *request_id = json_string_value(json_object_get(j, "request_id"));
            ck_assert_ptr_nonnull(request_id);
            long code = (long)json_integer_value(json_object_get(j, "status"));
            if (code == 200) {
                good++;
                ck_assert_ptr_null(json_object_get(j, "error"));
                ck_assert_str_eq(request_id, "first-one");
                ck_assert_str_eq(json_string_value(json_object_get(j, "user_agent")),
                                 "lossd-test/1.0 (\"quoted\")");
            } else {
                bad++;
                ck_assert_int_eq(code, 422);
                ck_assert_str_eq(json_string_value(json_object_get(j, "error")),
                                 "invalid_argument");
                ck_assert_uint_eq(strspn(request_id, "0123456789abcdef"), 16); /* generated */
            }
        }
        json_decref(j);
    }
    ck_assert_int_eq(good, 1);
    ck_assert_int_eq(bad, 1);
    free(log);
}
END_TEST

START_TEST(access_log_behind_a_proxy)
{
    /* From a trusted proxy, the client is the right-most address it did not add itself;
       the text format carries the same fields. */
    const char *flags[] = {"--trusted-proxy", "192.0.2.0/24, 127.0.0.1", NULL};
    child c = spawn_lossd(flags);
    http_target(c.port);
    const char *forwarded[] = {"X-Forwarded-For: 6.6.6.6, 198.51.100.7, 192.0.2.10",
                               "X-Request-Id: via-proxy", "User-Agent: proxied/2", NULL};
    expect_status(http_request(NULL, "/healthz", NULL, 0, forwarded), 200);
    expect_status(http_get("/readyz"), 200);
    /* many header lines: the last ones count, which the nearest proxies wrote */
    const char *many[12] = {"X-Request-Id: many-lines"};
    char lines[10][64];
    for (int i = 0; i < 10; i++) {
        snprintf(lines[i], sizeof lines[i], "X-Forwarded-For: %s",
                 i < 9 ? "6.6.6.6" : "198.51.100.9, 192.0.2.11");
        many[i + 1] = lines[i];
    }
    expect_status(http_request(NULL, "/v1", NULL, 0, many), 200);
    char *log = stop_and_read_log(&c);
    ck_assert_msg(strstr(log, " 198.51.100.7 \"GET /healthz\" 200 0 15 ") != NULL, "%s", log);
    ck_assert_msg(strstr(log, "ms healthz - via-proxy \"proxied/2\"\n") != NULL, "%s", log);
    ck_assert_msg(strstr(log, " 198.51.100.9 \"GET /v1\" 200 ") != NULL, "%s", log);
    /* no header: the proxy itself, with its port */
    char *readyz = strstr(log, "\"GET /readyz\"");
    ck_assert_ptr_nonnull(readyz);
    char *start = readyz - 2;
    while (start > log && start[-1] != ' ')
        start--;
    char remote[64];
    snprintf(remote, sizeof remote, "%.*s", (int)(readyz - 1 - start), start);
    ck_assert_msg(peer_of(remote, "127.0.0.1"), "remote %s", remote);
    free(log);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("lifecycle");
    add_case(s, "drain", 60, http_setup, http_stop,
             TESTS(readiness_turns_during_drain, open_request_outlives_the_drain));
    add_case(s, "signals", 60, NULL, NULL, TESTS(sigterm_drains, only_main_takes_the_stop_signals));
    add_case(s, "healthcheck", 30, NULL, NULL, TESTS(healthcheck_flag));
    add_case(s, "access log", 30, NULL, NULL, TESTS(access_log_lines, access_log_behind_a_proxy));
    return run_http_suite(s);
}
