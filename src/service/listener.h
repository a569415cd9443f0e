/* SPDX-License-Identifier: MIT */
/*
 * listener.h - what lossd must have before it can serve, each failure told
 * once, naming its option and its real cause: the listening socket of
 * --listen (":PORT" is every interface, IPv4 and IPv6 on one dual-stack
 * socket), and the certificate and key of --tls-cert and --tls-key, read
 * and checked to be PEM that belong together.
 *
 * Threading: called by the thread that starts the server, before
 * libmicrohttpd runs.
 */
#ifndef LOSSD_SERVICE_LISTENER_H
#define LOSSD_SERVICE_LISTENER_H

#include <stdbool.h>
#include <stdio.h>

#include "options.h"

typedef struct {
    int fd;          /* listening, bound; handed to libmicrohttpd */
    bool v6;         /* an IPv6 socket (dual-stack for a wildcard) */
    bool dual_stack; /* also takes IPv4 clients */
    unsigned port;   /* bound (the chosen one for port 0) */
    char shown[300]; /* "127.0.0.1:8080", "[::]:8080": where it listens, for the log */
} lossd_listener;

/*
 * Opens, binds and listens on cfg->listen. Returns 0, or -1 after printing
 * to err "lossd: --listen ADDRESS: <why>" (the system's reason: address in
 * use, not available here, permission denied, an unknown host).
 */
int lossd_listener_open(const lossd_config *cfg, lossd_listener *l, FILE *err);

/*
 * Closes the socket unless libmicrohttpd took it: a failed
 * MHD_start_daemon() closes it on some paths and not on others, so it is
 * closed only when it is still a listening socket (no other thread opens
 * one while the server starts).
 */
void lossd_listener_close(lossd_listener *l);

/*
 * Reads cfg's certificate and key into *cert and *key (NUL-terminated,
 * malloc'd, the caller frees) and checks them: readable, PEM (a
 * certificate, an unencrypted private key) and, when lossd has GnuTLS,
 * parsed and matching each other. Returns 0, or -1 after printing one
 * message naming the option to err.
 */
int lossd_listener_tls(const lossd_config *cfg, char **cert, char **key, FILE *err);

#endif /* LOSSD_SERVICE_LISTENER_H */
