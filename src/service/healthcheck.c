/* SPDX-License-Identifier: MIT */
/*
 * healthcheck.c - a minimal HTTP/1.0 client for GET /healthz (see
 * healthcheck.h). A wildcard listen address (:PORT, 0.0.0.0, ::) is
 * checked on loopback. With --tls-cert it speaks TLS through GnuTLS (libmicrohttpd's
 * own TLS library) without verifying the certificate: it checks that this
 * process's server answers, not who it is.
 */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "healthcheck.h"

#if LOSSD_HAVE_GNUTLS
#include <gnutls/gnutls.h>
#endif

#define TIMEOUT_SECONDS 5

static int connect_to(const char *host, unsigned port)
{
    char port_text[16];
    snprintf(port_text, sizeof port_text, "%u", port);
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *res, *ai;
    int rc = getaddrinfo(host, port_text, &hints, &res);
    if (rc != 0) {
        fprintf(stderr, "lossd --healthcheck: %s: %s\n", host, gai_strerror(rc));
        return -1;
    }
    int fd = -1;
    for (ai = res; ai && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
        if (fd < 0)
            continue;
        struct timeval tv = {TIMEOUT_SECONDS, 0};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd < 0)
        fprintf(stderr, "lossd --healthcheck: cannot connect to %s:%u: %s\n", host, port,
                strerror(errno));
    return fd;
}

/* Checks the status line of a reply read into buf. */
static int check_status(const char *buf)
{
    int status = 0;
    if (sscanf(buf, "HTTP/%*d.%*d %d", &status) == 1 && status == 200)
        return 0;
    fprintf(stderr, "lossd --healthcheck: /healthz answered %d\n", status);
    return 1;
}

static int check_plain(int fd, const char *request)
{
    char buf[512] = {0};
    if (send(fd, request, strlen(request), MSG_NOSIGNAL) < 0) {
        fprintf(stderr, "lossd --healthcheck: send: %s\n", strerror(errno));
        return 1;
    }
    ssize_t got = recv(fd, buf, sizeof buf - 1, 0);
    if (got <= 0) {
        fprintf(stderr, "lossd --healthcheck: no reply\n");
        return 1;
    }
    return check_status(buf);
}

#if LOSSD_HAVE_GNUTLS
static int check_tls(int fd, const char *request)
{
    gnutls_session_t session;
    gnutls_certificate_credentials_t creds;
    char buf[512] = {0};
    int rc = 1;
    if (gnutls_certificate_allocate_credentials(&creds) < 0)
        return 1;
    if (gnutls_init(&session, GNUTLS_CLIENT) < 0) {
        gnutls_certificate_free_credentials(creds);
        return 1;
    }
    gnutls_set_default_priority(session);
    gnutls_credentials_set(session, GNUTLS_CRD_CERTIFICATE, creds);
    gnutls_transport_set_int(session, fd);
    gnutls_handshake_set_timeout(session, TIMEOUT_SECONDS * 1000);
    int hs;
    do
        hs = gnutls_handshake(session);
    while (hs < 0 && gnutls_error_is_fatal(hs) == 0);
    if (hs < 0) {
        fprintf(stderr, "lossd --healthcheck: TLS handshake: %s\n", gnutls_strerror(hs));
    } else if (gnutls_record_send(session, request, strlen(request)) < 0) {
        fprintf(stderr, "lossd --healthcheck: TLS send failed\n");
    } else if (gnutls_record_recv(session, buf, sizeof buf - 1) <= 0) {
        fprintf(stderr, "lossd --healthcheck: no reply\n");
    } else {
        rc = check_status(buf);
    }
    gnutls_deinit(session);
    gnutls_certificate_free_credentials(creds);
    return rc;
}
#endif

int lossd_healthcheck(const lossd_config *cfg)
{
    char host[256], request[512];
    unsigned port;
    if (lossd_config_listen(cfg, host, sizeof host, &port) < 0) {
        fprintf(stderr, "lossd --healthcheck: bad --listen %s\n", cfg->listen);
        return 1;
    }
    if (host[0] == '\0' || strcmp(host, "0.0.0.0") == 0)
        strcpy(host, "127.0.0.1");
    else if (strcmp(host, "::") == 0)
        strcpy(host, "::1");
    int fd = connect_to(host, port);
    if (fd < 0)
        return 1;
    snprintf(request, sizeof request,
             "GET /healthz HTTP/1.0\r\nHost: %s\r\nUser-Agent: lossd-healthcheck\r\n\r\n", host);
    int rc;
    if (cfg->tls_cert[0]) {
#if LOSSD_HAVE_GNUTLS
        rc = check_tls(fd, request);
#else
        fprintf(stderr,
                "lossd --healthcheck: built without GnuTLS, cannot check an HTTPS server\n");
        rc = 1;
#endif
    } else {
        rc = check_plain(fd, request);
    }
    close(fd);
    return rc;
}
