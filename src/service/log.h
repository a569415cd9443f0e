/* SPDX-License-Identifier: MIT */
/*
 * log.h - the access log (one line per request on stderr, text or JSON)
 * and the service's own messages in the same format.
 *
 * Threading: any thread. Access lines are buffered and written in batches
 * by a log thread (at least every 100 ms); service messages are written at
 * once. Lines never interleave.
 */
#ifndef LOSSD_SERVICE_LOG_H
#define LOSSD_SERVICE_LOG_H

#include <stddef.h>

#include "options.h"

/*
 * One access line. Text:
 *   TIME CLIENT "METHOD PATH" STATUS BYTES_IN BYTES_OUT 1.234ms FUNCTION ERROR REQUEST_ID "AGENT"
 * (ERROR and AGENT "-" when there is none); JSON: one object with these
 * fields (duration_ms in the shortest form that reads back exactly;
 * error only when there is one).
 */
typedef struct {
    const char *remote; /* client address (client.h) */
    const char *method, *path;
    int status;
    size_t bytes_in, bytes_out;
    double seconds;
    const char *function;   /* route label */
    const char *error;      /* error code, or NULL */
    const char *request_id; /* X-Request-Id, taken or generated */
    const char *user_agent; /* the client's User-Agent, or NULL */
} lossd_access;

/* Sets the format and, unless it is off, starts the log thread. */
void lossd_log_init(lossd_log_format format);

/* Writes out what is buffered and stops the log thread (before exit). */
void lossd_log_shutdown(void);
void lossd_log_access(const lossd_access *a);

/* A service message: level is "info", "warning" or "error". Printed even with --log-format off. */
void lossd_log(const char *level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif /* LOSSD_SERVICE_LOG_H */
