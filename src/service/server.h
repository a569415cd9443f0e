/* SPDX-License-Identifier: MIT */
/*
 * server.h - the HTTP server: libmicrohttpd's polling thread(s) do socket
 * I/O and cheap admission checks; complete compute requests go to the
 * worker pool with their connection suspended, and come back resumed with
 * their reply.
 *
 * Threading: start/drain/wait/stop are called by one controlling thread
 * (main, or a test). Everything else happens on libmicrohttpd's and the
 * pool's threads.
 */
#ifndef LOSSD_SERVICE_SERVER_H
#define LOSSD_SERVICE_SERVER_H

#include <stdbool.h>
#include <stdio.h>

#include "options.h"

typedef struct lossd_server lossd_server;

/*
 * Starts serving cfg (which must outlive the server). NULL after printing
 * the reason to err. json_object_seed() must have run before (main does it).
 */
lossd_server *lossd_server_start(const lossd_config *cfg, FILE *err);

/* The port actually bound (useful with port 0). */
unsigned lossd_server_port(const lossd_server *s);

/* Whether this libmicrohttpd can serve HTTPS. */
bool lossd_server_tls_available(void);

/*
 * Starts draining: /readyz answers 503, new compute requests 503 draining,
 * and the listening socket closes. Requests already accepted go on.
 */
void lossd_server_drain(lossd_server *s);

/* Waits until no request is in flight, or `seconds` pass. True if none is left. */
bool lossd_server_wait_idle(lossd_server *s, double seconds);

/*
 * Stops libmicrohttpd and the pool and frees s. Only after
 * lossd_server_wait_idle() returned true (a suspended connection would make
 * libmicrohttpd abort).
 */
void lossd_server_stop(lossd_server *s);

#endif /* LOSSD_SERVICE_SERVER_H */
