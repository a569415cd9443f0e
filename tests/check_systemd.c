/* SPDX-License-Identifier: MIT */
/*
 * check_systemd.c - lossd and its service manager: the sd_notify messages
 * the lossd binary sends to $NOTIFY_SOCKET, read as systemd reads them,
 * from an AF_UNIX datagram socket the test binds.
 *
 * The story of a Type=notify start and stop: nothing until the server
 * answers; READY=1 with a STATUS= line naming the port actually bound, at
 * which moment /healthz and /readyz answer 200; after SIGTERM, STOPPING=1
 * before the drain, then exit status 0 and no further message. A server
 * that cannot start never says READY=1. In a build without libsystemd
 * (./configure --without-systemd) the same runs must send nothing at all.
 *
 * Each test forks ./lossd (LOSSD_BINARY) and runs in Check's own child.
 */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <check.h>

#include "httputil.h"

/* A notify socket in a fresh directory, as systemd makes one per manager. */
typedef struct {
    int fd;
    char dir[64];
    char path[96];
} notify_socket;

static notify_socket notify_open(void)
{
    notify_socket n = {.fd = -1};
    snprintf(n.dir, sizeof n.dir, "/tmp/lossd-notify-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(n.dir));
    snprintf(n.path, sizeof n.path, "%s/notify", n.dir);
    n.fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(n.fd, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", n.path);
    ck_assert_int_eq(bind(n.fd, (struct sockaddr *)&sa, sizeof sa), 0);
    return n;
}

static void notify_close(notify_socket *n)
{
    close(n->fd);
    unlink(n->path);
    rmdir(n->dir);
}

/* Asserts that no datagram is waiting (all of the sender's are queued once it exited). */
static void no_message(const notify_socket *n)
{
    char buf[512];
    ssize_t len = recv(n->fd, buf, sizeof buf - 1, MSG_DONTWAIT);
    if (len >= 0)
        buf[len] = '\0';
    ck_assert_msg(len < 0 && (errno == EAGAIN || errno == EWOULDBLOCK),
                  "unexpected notify message: %s", len >= 0 ? buf : strerror(errno));
}

/* Starts ./lossd with NOTIFY_SOCKET=notify_path and the given --listen. */
static pid_t spawn_lossd(const char *notify_path, const char *listen)
{
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        setenv("NOTIFY_SOCKET", notify_path, 1);
        execl(LOSSD_BINARY, LOSSD_BINARY, "--listen", listen, "--workers", "1", "--drain-timeout",
              "10", "--log-format", "off", (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* Waits for the child; its exit status, or -1 when a signal ended it. */
static int exit_status(pid_t pid)
{
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* A TCP socket bound to a free loopback port, which it stores in *port. */
static int bound_socket(unsigned *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    socklen_t len = sizeof sa;
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    *port = ntohs(sa.sin_port);
    return fd;
}

#ifdef LOSSD_HAVE_SYSTEMD

/*
 * The next datagram, NUL-terminated in buf. The 10 s bound only keeps a
 * broken lossd from hanging the suite: the message is due well before.
 */
static void next_message(const notify_socket *n, char *buf, size_t size)
{
    struct pollfd p = {.fd = n->fd, .events = POLLIN};
    ck_assert_msg(poll(&p, 1, 10000) == 1, "no message on the notify socket");
    ssize_t len = recv(n->fd, buf, size - 1, 0);
    ck_assert_int_gt(len, 0);
    buf[len] = '\0';
}

/* The line of `message` that starts with `prefix` (its rest), or NULL. */
static const char *line_value(const char *message, const char *prefix)
{
    size_t n = strlen(prefix);
    for (const char *line = message; line && *line; line = strchr(line, '\n')) {
        if (*line == '\n')
            line++;
        if (strncmp(line, prefix, n) == 0)
            return line + n;
    }
    return NULL;
}

/*
 * Starts ./lossd on port 0 and reads its first message, which must be
 * READY=1 with where it serves; the port it bound goes to *port.
 */
static pid_t spawn_until_ready(const notify_socket *n, unsigned *port)
{
    pid_t pid = spawn_lossd(n->path, "127.0.0.1:0");
    char message[512];
    next_message(n, message, sizeof message);
    ck_assert_msg(line_value(message, "READY=1") != NULL, "first message: %s", message);
    const char *status = line_value(message, "STATUS=serving on 127.0.0.1:");
    ck_assert_msg(status != NULL, "no serving status in: %s", message);
    *port = (unsigned)strtoul(status, NULL, 10);
    ck_assert_uint_gt(*port, 0);
    ck_assert_ptr_nonnull(strstr(status, " (http)"));
    return pid;
}

/* Sends sig (called name) and reads STOPPING=1 with the drain's STATUS= line. */
static void stop_with(const notify_socket *n, pid_t pid, int sig, const char *name)
{
    ck_assert_int_eq(kill(pid, sig), 0);
    char message[512], status[64];
    next_message(n, message, sizeof message);
    ck_assert_msg(line_value(message, "STOPPING=1") != NULL, "after %s: %s", name, message);
    snprintf(status, sizeof status, "STATUS=%s: draining for up to 10 s", name);
    ck_assert_msg(line_value(message, status) != NULL, "after %s: %s", name, message);
}

START_TEST(ready_then_stopping)
{
    notify_socket n = notify_open();
    unsigned port;
    pid_t pid = spawn_until_ready(&n, &port);

    /* At the moment it says READY=1 it answers: alive and ready. */
    http_target(port);
    http_reply r = http_get("/healthz");
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "{\"status\":\"ok\"}");
    http_reply_free(&r);
    r = http_get("/readyz");
    ck_assert_int_eq(r.status, 200);
    http_reply_free(&r);
    no_message(&n); /* nothing else while it serves */

    /* SIGTERM: STOPPING=1 as the drain starts, then the end of the drain. */
    stop_with(&n, pid, SIGTERM, "SIGTERM");
    char message[512];
    next_message(&n, message, sizeof message);
    ck_assert_str_eq(message, "STATUS=drained: stopping");
    ck_assert_int_eq(exit_status(pid), 0);
    no_message(&n);
    notify_close(&n);
}
END_TEST

START_TEST(sigint_also_says_stopping)
{
    notify_socket n = notify_open();
    unsigned port;
    pid_t pid = spawn_until_ready(&n, &port);
    stop_with(&n, pid, SIGINT, "SIGINT");
    ck_assert_int_eq(exit_status(pid), 0);
    notify_close(&n);
}
END_TEST

#else /* built --without-systemd: NOTIFY_SOCKET is ignored */

START_TEST(ready_then_stopping)
{
    notify_socket n = notify_open();
    unsigned port;
    close(bound_socket(&port)); /* free now, for lossd to take */
    char listen[32];
    snprintf(listen, sizeof listen, "127.0.0.1:%u", port);
    pid_t pid = spawn_lossd(n.path, listen);
    http_target(port);
    long code = 0;
    for (int i = 0; i < 100 && code != 200; i++) {
        http_reply r = http_get("/healthz");
        code = r.status;
        http_reply_free(&r);
        if (code != 200)
            usleep(100 * 1000);
    }
    ck_assert_int_eq(code, 200);
    ck_assert_int_eq(kill(pid, SIGTERM), 0);
    ck_assert_int_eq(exit_status(pid), 0);
    no_message(&n);
    notify_close(&n);
}
END_TEST

#endif

START_TEST(no_ready_when_it_cannot_serve)
{
    /* The port is taken: lossd exits 1 and never claims to be ready. */
    unsigned port;
    int taken = bound_socket(&port);
    ck_assert_int_eq(listen(taken, 1), 0);
    char listen_at[32];
    snprintf(listen_at, sizeof listen_at, "127.0.0.1:%u", port);

    notify_socket n = notify_open();
    ck_assert_int_eq(exit_status(spawn_lossd(n.path, listen_at)), 1);
    no_message(&n);
    notify_close(&n);
    close(taken);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("systemd");
    TCase *tc = tcase_create("notify");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, ready_then_stopping);
#ifdef LOSSD_HAVE_SYSTEMD
    tcase_add_test(tc, sigint_also_says_stopping);
#endif
    tcase_add_test(tc, no_ready_when_it_cannot_serve);
    suite_add_tcase(s, tc);
    return run_http_suite(s);
}
