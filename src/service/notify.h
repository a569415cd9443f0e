/* SPDX-License-Identifier: MIT */
/*
 * notify.h - tells the service manager what lossd is doing: systemd with
 * Type=notify, or podman run --sdnotify=container. READY=1 once the server
 * answers, STOPPING=1 when draining starts, and a STATUS= line with each
 * (what `systemctl status lossd` shows).
 *
 * Messages go to $NOTIFY_SOCKET through libsystemd's sd_notify(3). Without
 * that variable, or in a build without libsystemd (./configure
 * --without-systemd), every call does nothing.
 *
 * Threading: main's controlling thread only (it is not linked into
 * liblossd_service, only into lossd itself).
 */
#ifndef LOSSD_SERVICE_NOTIFY_H
#define LOSSD_SERVICE_NOTIFY_H

#include "options.h"

/*
 * Sends `state` (such as "STOPPING=1"; NULL: none) with STATUS= and the
 * formatted text. A failed send is logged as a warning, never fatal.
 */
void lossd_notify(const char *state, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Sends READY=1 with "STATUS=serving on HOST:PORT (http|https)", `port`
 * being the one actually bound (cfg's may be 0). Call once the server
 * started: its socket is bound and its threads answer.
 */
void lossd_notify_ready(const lossd_config *cfg, unsigned port);

#endif /* LOSSD_SERVICE_NOTIFY_H */
