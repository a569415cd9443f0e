/* SPDX-License-Identifier: MIT */
/*
 * reaper.h - closes connections too slow to deliver a request.
 *
 * libmicrohttpd's timeout only closes *idle* connections: a client that
 * trickles a byte every second keeps one open forever, and a few hundred
 * such clients exhaust --max-connections (slowloris). The reaper gives each
 * request a deadline instead: from the moment a connection is ready for a
 * request (accepted, or its previous reply sent), the whole request -
 * headers and body - must arrive within --timeout, or the connection is
 * shut down. Connections whose request is complete (computing, answering)
 * are never touched.
 *
 * Safety: a connection is shut down (shutdown(2), never close(2)) only
 * while registered, under the reaper's lock; libmicrohttpd unregisters it
 * (MHD_CONNECTION_NOTIFY_CLOSED) before closing its socket, so a reused
 * descriptor can never be hit.
 *
 * Threading: add/remove/mark from libmicrohttpd's threads; the reaper runs
 * its own thread.
 */
#ifndef LOSSD_SERVICE_REAPER_H
#define LOSSD_SERVICE_REAPER_H

#include <stddef.h>

typedef struct lossd_reaper lossd_reaper;
typedef struct lossd_watch lossd_watch;

/* Starts a reaper with the given deadline; on_reap(arg) runs for each cut. NULL on failure. */
lossd_reaper *lossd_reaper_create(double timeout_seconds, void (*on_reap)(void *arg), void *arg);
void lossd_reaper_destroy(lossd_reaper *r);

/* A new connection on socket fd, ready for a request now. */
lossd_watch *lossd_reaper_add(lossd_reaper *r, int fd);

/* The connection is closing: forget it (before its socket is closed). */
void lossd_reaper_remove(lossd_reaper *r, lossd_watch *w);

/* Its request has fully arrived: no deadline until the reply is sent. */
void lossd_watch_request_done(lossd_watch *w);

/* Its reply has been sent: the next request's deadline starts now. */
void lossd_watch_reply_done(lossd_watch *w);

#endif /* LOSSD_SERVICE_REAPER_H */
