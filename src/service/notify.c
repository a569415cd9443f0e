/* SPDX-License-Identifier: MIT */
/*
 * notify.c - readiness and status for the service manager (see notify.h).
 *
 * One datagram per call: the state and its STATUS= line arrive together,
 * so a manager never sees READY=1 with the previous status. The text is
 * built here rather than with sd_notifyf() so that a build without
 * libsystemd still checks the format strings.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#ifdef LOSSD_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "log.h"
#include "notify.h"

void lossd_notify(const char *state, const char *fmt, ...)
{
    char message[512];
    int len = state ? snprintf(message, sizeof message, "%s\nSTATUS=", state)
                    : snprintf(message, sizeof message, "STATUS=");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message + len, sizeof message - (size_t)len, fmt, ap);
    va_end(ap);
#ifdef LOSSD_HAVE_SYSTEMD
    /* 0: nobody listens (no NOTIFY_SOCKET); > 0: sent. */
    int r = sd_notify(0, message);
    if (r < 0)
        lossd_log("warning", "sd_notify to $NOTIFY_SOCKET failed: %s", strerror(-r));
#endif
}

void lossd_notify_ready(const lossd_config *cfg, unsigned port)
{
    char host[256];
    unsigned configured;
    if (lossd_config_listen(cfg, host, sizeof host, &configured) < 0)
        snprintf(host, sizeof host, "?");
    /* An IPv6 address takes brackets, as in --listen. */
    const char *open = strchr(host, ':') ? "[" : "", *close = *open ? "]" : "";
    lossd_notify("READY=1", "serving on %s%s%s:%u (%s)", open, host, close, port,
                 cfg->tls_cert[0] ? "https" : "http");
}
