/* SPDX-License-Identifier: MIT */
/*
 * listener.c - the listening socket and the TLS files (see listener.h).
 *
 * lossd binds the socket itself and hands it to libmicrohttpd
 * (MHD_OPTION_LISTEN_SOCKET): libmicrohttpd's own bind reports a failure
 * only to its log, and lossd could then say no more than "cannot serve".
 * Binding here gives the system's reason, and control over dual-stack.
 *
 * The TLS files are checked before libmicrohttpd sees them for the same
 * reason: it fails on a bad certificate with a generic "cannot start".
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#if LOSSD_HAVE_GNUTLS
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#endif

#include "buf.h"
#include "listener.h"

/* Binds and listens on one address; -1 with errno set on failure. */
static int bind_one(const struct sockaddr *sa, socklen_t len, bool dual_stack)
{
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int on = 1, off = 0;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    if (sa->sa_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, dual_stack ? &off : &on, sizeof on);
    if (bind(fd, sa, len) < 0 || listen(fd, SOMAXCONN) < 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

/* Where l listens, as the log shows it. */
static void describe(lossd_listener *l, const char *host)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(l->fd, (struct sockaddr *)&ss, &len) == 0)
        l->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                 : ((struct sockaddr_in *)&ss)->sin_port);
    bool bracket = l->v6 && strchr(host, ':') != NULL;
    snprintf(l->shown, sizeof l->shown, "%s%s%s:%u", bracket ? "[" : "", host, bracket ? "]" : "",
             l->port);
}

int lossd_listener_open(const lossd_config *cfg, lossd_listener *l, FILE *err)
{
    char host[256], port_text[16];
    unsigned port;
    memset(l, 0, sizeof *l);
    l->fd = -1;
    if (lossd_config_listen(cfg, host, sizeof host, &port) < 0) {
        fprintf(err, "lossd: --listen %s: expected HOST:PORT or :PORT\n", cfg->listen);
        return -1;
    }
    if (host[0] == '\0') { /* every interface: one IPv6 socket taking IPv4 too, if IPv6 exists */
        struct sockaddr_in6 any6 = {.sin6_family = AF_INET6,
                                    .sin6_port = htons((uint16_t)port),
                                    .sin6_addr = IN6ADDR_ANY_INIT};
        l->fd = bind_one((const struct sockaddr *)&any6, sizeof any6, true);
        if (l->fd >= 0) {
            l->v6 = l->dual_stack = true;
            describe(l, "::");
            return 0;
        }
        if (errno != EAFNOSUPPORT && errno != EADDRNOTAVAIL) {
            fprintf(err, "lossd: --listen %s: %s\n", cfg->listen, strerror(errno));
            return -1;
        }
        strcpy(host, "0.0.0.0"); /* no IPv6 here: IPv4 only */
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV},
                    *addr = NULL;
    snprintf(port_text, sizeof port_text, "%u", port);
    int gai = getaddrinfo(host, port_text, &hints, &addr);
    if (gai != 0) {
        fprintf(err, "lossd: --listen %s: %s\n", cfg->listen, gai_strerror(gai));
        return -1;
    }
    int why = 0;
    for (struct addrinfo *a = addr; a && l->fd < 0; a = a->ai_next) {
        l->fd = bind_one(a->ai_addr, a->ai_addrlen, false);
        if (l->fd < 0 && why == 0)
            why = errno; /* the first address's reason is the one to tell */
        l->v6 = a->ai_family == AF_INET6;
    }
    freeaddrinfo(addr);
    if (l->fd < 0) {
        fprintf(err, "lossd: --listen %s: %s\n", cfg->listen, strerror(why));
        return -1;
    }
    describe(l, host);
    return 0;
}

void lossd_listener_close(lossd_listener *l)
{
    int listening = 0;
    socklen_t len = sizeof listening;
    if (l->fd >= 0 && getsockopt(l->fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) == 0 &&
        listening)
        close(l->fd);
    l->fd = -1;
}

/* ------------------------------------------------------------ TLS files */

/* Reads a whole file (at most 1 MiB) as text; NULL after printing why, naming the option. */
static char *read_text(const char *option, const char *path, FILE *err)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(err, "lossd: %s %s: %s\n", option, path, strerror(errno));
        return NULL;
    }
    lossd_buf b;
    lossd_buf_init(&b, 1 << 20);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        lossd_buf_append(&b, chunk, n);
    bool failed = ferror(f) != 0;
    int saved = errno;
    fclose(f);
    size_t len;
    char *text = failed || lossd_buf_failed(&b) ? NULL : lossd_buf_steal(&b, &len);
    lossd_buf_cleanup(&b);
    if (text == NULL)
        fprintf(err, "lossd: %s %s: %s\n", option, path,
                failed ? strerror(saved) : "larger than 1 MiB: not a certificate or key");
    else if (strlen(text) != len) {
        fprintf(err, "lossd: %s %s: a binary file, not PEM text%s\n", option, path,
                strcmp(option, "--tls-cert") == 0
                    ? " (convert DER with: openssl x509 -inform der -in FILE -out cert.pem)"
                    : " (convert DER with: openssl pkey -inform der -in FILE -out key.pem)");
        free(text);
        text = NULL;
    }
    return text;
}

/* What PEM a certificate and a key must show, without a TLS library. */
static bool pem_problem(const char *cert, const char *key, const lossd_config *cfg, FILE *err)
{
    if (strstr(cert, "-----BEGIN CERTIFICATE-----") == NULL) {
        fprintf(err,
                "lossd: --tls-cert %s: not a PEM certificate (no \"-----BEGIN CERTIFICATE-----\" "
                "line)\n",
                cfg->tls_cert);
        return true;
    }
    const char *begin = strstr(key, "-----BEGIN ");
    if (begin == NULL || strstr(begin, "PRIVATE KEY-----") == NULL) {
        fprintf(err,
                "lossd: --tls-key %s: not a PEM private key (no \"-----BEGIN ... PRIVATE "
                "KEY-----\" line)\n",
                cfg->tls_key);
        return true;
    }
    if (strstr(key, "ENCRYPTED") != NULL) {
        fprintf(err,
                "lossd: --tls-key %s: the private key is encrypted; lossd needs it unencrypted "
                "(openssl pkey -in FILE -out key.pem)\n",
                cfg->tls_key);
        return true;
    }
    return false;
}

#if LOSSD_HAVE_GNUTLS
/* GnuTLS parses both and matches them: what libmicrohttpd will do, with its reason. */
static bool gnutls_problem(const char *cert, const char *key, const lossd_config *cfg, FILE *err)
{
    gnutls_datum_t c = {(unsigned char *)cert, (unsigned)strlen(cert)};
    gnutls_datum_t k = {(unsigned char *)key, (unsigned)strlen(key)};
    gnutls_x509_crt_t *certs = NULL;
    unsigned n_certs = 0;
    int rc = gnutls_x509_crt_list_import2(&certs, &n_certs, &c, GNUTLS_X509_FMT_PEM, 0);
    if (rc < 0) {
        fprintf(err, "lossd: --tls-cert %s: not a usable certificate: %s\n", cfg->tls_cert,
                gnutls_strerror(rc));
        return true;
    }
    for (unsigned i = 0; i < n_certs; i++)
        gnutls_x509_crt_deinit(certs[i]);
    gnutls_free(certs);
    gnutls_x509_privkey_t pk;
    if (gnutls_x509_privkey_init(&pk) < 0)
        return false; /* out of memory: libmicrohttpd will say */
    rc = gnutls_x509_privkey_import2(pk, &k, GNUTLS_X509_FMT_PEM, NULL, 0);
    gnutls_x509_privkey_deinit(pk);
    if (rc < 0) {
        fprintf(err, "lossd: --tls-key %s: not a usable private key: %s\n", cfg->tls_key,
                gnutls_strerror(rc));
        return true;
    }
    gnutls_certificate_credentials_t creds;
    if (gnutls_certificate_allocate_credentials(&creds) < 0)
        return false;
    rc = gnutls_certificate_set_x509_key_mem2(creds, &c, &k, GNUTLS_X509_FMT_PEM, NULL, 0);
    gnutls_certificate_free_credentials(creds);
    if (rc < 0) {
        fprintf(err, "lossd: --tls-key %s does not go with --tls-cert %s: %s\n", cfg->tls_key,
                cfg->tls_cert, gnutls_strerror(rc));
        return true;
    }
    return false;
}
#endif

int lossd_listener_tls(const lossd_config *cfg, char **cert, char **key, FILE *err)
{
    *cert = read_text("--tls-cert", cfg->tls_cert, err);
    *key = *cert ? read_text("--tls-key", cfg->tls_key, err) : NULL;
    bool bad = *cert == NULL || *key == NULL || pem_problem(*cert, *key, cfg, err);
#if LOSSD_HAVE_GNUTLS
    bad = bad || gnutls_problem(*cert, *key, cfg, err);
#endif
    if (!bad)
        return 0;
    free(*cert);
    free(*key);
    *cert = *key = NULL;
    return -1;
}
