/* SPDX-License-Identifier: MIT */
/*
 * check_listener.c - what lossd needs before it serves (listener.c): the
 * listening socket (":PORT" on every interface, IPv4 and IPv6; the
 * system's reason when it cannot bind) and the TLS files (one message
 * naming the option for a missing file, a file that is not PEM, an
 * encrypted key, a key that does not go with the certificate), also
 * through lossd_server_start().
 */
#define _GNU_SOURCE /* open_memstream */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../src/service/listener.h"
#include "../src/service/log.h"
#include "../src/service/server.h"
#include "serviceutil.h"

/* A stream for messages; close_messages() returns what was written (caller frees). */
typedef struct {
    FILE *f;
    char *text;
    size_t size;
} messages;

static void open_messages(messages *m)
{
    m->f = open_memstream(&m->text, &m->size);
    ck_assert_ptr_nonnull(m->f);
}

static char *close_messages(messages *m)
{
    fclose(m->f);
    return m->text;
}

/* Whether a TCP connection to address:port (IPv4 or IPv6) succeeds. */
static bool connects(const char *address, unsigned port)
{
    struct sockaddr_storage ss = {0};
    socklen_t len;
    if (strchr(address, ':')) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        ck_assert_int_eq(inet_pton(AF_INET6, address, &in6->sin6_addr), 1);
        len = sizeof *in6;
    } else {
        struct sockaddr_in *in = (struct sockaddr_in *)&ss;
        in->sin_family = AF_INET;
        in->sin_port = htons((uint16_t)port);
        ck_assert_int_eq(inet_pton(AF_INET, address, &in->sin_addr), 1);
        len = sizeof *in;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM, 0);
    if (fd < 0)
        return false;
    bool ok = connect(fd, (struct sockaddr *)&ss, len) == 0;
    close(fd);
    return ok;
}

/* Whether this machine has IPv6 loopback (containers may not). */
static bool have_ipv6(void)
{
    int fd = socket(AF_INET6, SOCK_STREAM, 0);
    struct sockaddr_in6 sa = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    bool ok = fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

/* Opens a listener on `listen`, expected to succeed silently. */
static lossd_listener open_ok(const char *listen)
{
    lossd_config cfg;
    lossd_config_defaults(&cfg);
    snprintf(cfg.listen, sizeof cfg.listen, "%s", listen);
    lossd_listener l;
    messages m;
    open_messages(&m);
    int rc = lossd_listener_open(&cfg, &l, m.f);
    char *text = close_messages(&m);
    ck_assert_msg(rc == 0 && text[0] == '\0', "%s: %d %s", listen, rc, text);
    free(text);
    return l;
}

START_TEST(listen_every_interface)
{
    lossd_listener l = open_ok(":0");
    ck_assert_int_ge(l.fd, 0);
    ck_assert_uint_gt(l.port, 0);
    char want[64];
    if (have_ipv6()) {
        /* one dual-stack socket: IPv4 and IPv6 clients both reach it */
        ck_assert(l.v6 && l.dual_stack);
        snprintf(want, sizeof want, "[::]:%u", l.port);
        ck_assert_str_eq(l.shown, want);
        ck_assert(connects("::1", l.port));
    } else {
        ck_assert(!l.v6 && !l.dual_stack);
        snprintf(want, sizeof want, "0.0.0.0:%u", l.port);
        ck_assert_str_eq(l.shown, want);
    }
    ck_assert(connects("127.0.0.1", l.port));
    lossd_listener_close(&l);
    ck_assert_int_eq(l.fd, -1);
}
END_TEST

START_TEST(listen_one_address)
{
    lossd_listener l = open_ok("127.0.0.1:0");
    char want[64];
    snprintf(want, sizeof want, "127.0.0.1:%u", l.port);
    ck_assert_str_eq(l.shown, want);
    ck_assert(!l.v6 && !l.dual_stack);

    /* The same address again: the system's reason, naming --listen, once. */
    lossd_config again;
    lossd_config_defaults(&again);
    snprintf(again.listen, sizeof again.listen, "127.0.0.1:%u", l.port);
    lossd_listener l2;
    messages m;
    open_messages(&m);
    ck_assert_int_eq(lossd_listener_open(&again, &l2, m.f), -1);
    char *text = close_messages(&m), line[128];
    snprintf(line, sizeof line, "lossd: --listen 127.0.0.1:%u: Address already in use\n", l.port);
    ck_assert_str_eq(text, line);
    free(text);
    lossd_listener_close(&l);

    if (have_ipv6()) {
        l = open_ok("[::1]:0");
        snprintf(want, sizeof want, "[::1]:%u", l.port);
        ck_assert_str_eq(l.shown, want);
        ck_assert(l.v6 && !l.dual_stack);
        ck_assert(!connects("127.0.0.1", l.port));
        lossd_listener_close(&l);
    }

    /* An address this machine does not have; a name that does not resolve. */
    static const struct {
        const char *listen, *message;
    } bad[] = {
        {"192.0.2.1:8080", "lossd: --listen 192.0.2.1:8080: Cannot assign requested address\n"},
        {"no-such-host.invalid:8080", "lossd: --listen no-such-host.invalid:8080: "},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        strcpy(again.listen, bad[i].listen);
        open_messages(&m);
        ck_assert_int_eq(lossd_listener_open(&again, &l, m.f), -1);
        text = close_messages(&m);
        ck_assert_msg(strncmp(text, bad[i].message, strlen(bad[i].message)) == 0, "%s", text);
        ck_assert_msg(strchr(text, '\n') == text + strlen(text) - 1, "more than a line: %s", text);
        free(text);
    }
}
END_TEST

/* ------------------------------------------------------------ TLS files */

static char *data_path(const char *name)
{
    char *path = malloc(strlen(TEST_DATA_DIR) + strlen(name) + 8);
    ck_assert_ptr_nonnull(path);
    sprintf(path, "%s/tls/%s", TEST_DATA_DIR, name);
    return path;
}

/* Runs lossd_listener_tls on cert and key; returns what it printed (caller frees). */
static char *tls_message(const char *cert, const char *key, int want_rc)
{
    lossd_config cfg;
    lossd_config_defaults(&cfg);
    snprintf(cfg.tls_cert, sizeof cfg.tls_cert, "%s", cert);
    snprintf(cfg.tls_key, sizeof cfg.tls_key, "%s", key);
    messages m;
    open_messages(&m);
    char *c = (char *)"unchanged", *k = (char *)"unchanged";
    int rc = lossd_listener_tls(&cfg, &c, &k, m.f);
    char *text = close_messages(&m);
    ck_assert_msg(rc == want_rc, "%s / %s: %d: %s", cert, key, rc, text);
    if (rc == 0) {
        ck_assert_msg(strncmp(c, "-----BEGIN CERTIFICATE-----", 27) == 0, "%.40s", c);
        ck_assert_ptr_nonnull(strstr(k, "PRIVATE KEY-----"));
        free(c);
        free(k);
    } else {
        ck_assert_ptr_null(c);
        ck_assert_ptr_null(k);
        /* one message, one line */
        ck_assert_msg(strchr(text, '\n') == text + strlen(text) - 1, "not one line: %s", text);
    }
    return text;
}

static void expect_tls_message(const char *cert, const char *key, const char *fragment)
{
    char *text = tls_message(cert, key, -1);
    ck_assert_msg(strstr(text, fragment) != NULL, "want \"%s\" in: %s", fragment, text);
    free(text);
}

START_TEST(tls_files)
{
    char *cert = data_path("cert.pem"), *key = data_path("key.pem");
    char *other_key = data_path("other-key.pem");
    free(tls_message(cert, key, 0));

    char line[512];
    snprintf(line, sizeof line, "lossd: --tls-cert /nonexistent: No such file or directory\n");
    char *text = tls_message("/nonexistent", key, -1);
    ck_assert_str_eq(text, line);
    free(text);
    snprintf(line, sizeof line, "lossd: --tls-key /nonexistent: No such file or directory\n");
    text = tls_message(cert, "/nonexistent", -1);
    ck_assert_str_eq(text, line);
    free(text);

    /* Files that exist but are not PEM: text, binary (DER), a key for a certificate. */
    char *prose = temp_file("not a certificate\n");
    char *der = temp_file("0\x82\x03\x0f"
                          "0\x82\x01\xf7\xa0\x03\x02\x01\x02\x02\x14");
    char *encrypted = temp_file("-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIF\n"
                                "-----END ENCRYPTED PRIVATE KEY-----\n");
    char *empty = temp_file("");
    expect_tls_message(prose, key, "--tls-cert");
    expect_tls_message(prose, key, "not a PEM certificate (no \"-----BEGIN CERTIFICATE-----\"");
    expect_tls_message(empty, key, "not a PEM certificate");
    expect_tls_message(key, key, "--tls-cert");
    expect_tls_message(cert, prose, "--tls-key");
    expect_tls_message(cert, prose, "not a PEM private key");
    expect_tls_message(cert, cert, "not a PEM private key");
    expect_tls_message(cert, encrypted, "--tls-key");
    expect_tls_message(cert, encrypted, "the private key is encrypted");
    FILE *f = fopen(der, "ab"); /* a NUL: DER, not text */
    fputc(0, f);
    fclose(f);
    expect_tls_message(der, key, "--tls-cert");
    expect_tls_message(der, key, "a binary file, not PEM text");
#if LOSSD_HAVE_GNUTLS
    expect_tls_message(cert, other_key, "does not go with --tls-cert");
    char *broken = temp_file("-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n");
    expect_tls_message(broken, key, "--tls-cert");
    expect_tls_message(broken, key, "not a usable certificate: ");
    unlink(broken);
    free(broken);
#endif
    char *files[] = {prose, der, encrypted, empty};
    for (size_t i = 0; i < 4; i++) {
        unlink(files[i]);
        free(files[i]);
    }
    free(cert);
    free(key);
    free(other_key);
}
END_TEST

START_TEST(server_says_it_once)
{
    /* Starting a server with a missing certificate: one line, naming the option. */
    lossd_config cfg;
    lossd_config_defaults(&cfg);
    strcpy(cfg.listen, "127.0.0.1:0");
    cfg.workers = 1;
    cfg.log_format = LOSSD_LOG_OFF;
    strcpy(cfg.tls_cert, "/nonexistent");
    strcpy(cfg.tls_key, "/nonexistent");
    lossd_log_init(LOSSD_LOG_OFF);
    messages m;
    open_messages(&m);
    lossd_server *s = lossd_server_start(&cfg, m.f);
    char *text = close_messages(&m);
    ck_assert_ptr_null(s);
    if (lossd_server_tls_available())
        ck_assert_str_eq(text, "lossd: --tls-cert /nonexistent: No such file or directory\n");
    free(text);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("listener");
    add_case(s, "listen", 10, NULL, NULL, TESTS(listen_every_interface, listen_one_address));
    add_case(s, "tls", 10, NULL, NULL, TESTS(tls_files, server_says_it_once));
    return run_service_suite(s);
}
