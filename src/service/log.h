/*
 * log.h - the access log (one line per request on stderr, text or JSON)
 * and the service's own messages in the same format.
 *
 * Threading: any thread; each line is written with one locked stdio call,
 * so lines from different threads never interleave.
 */
#ifndef LOSSD_SERVICE_LOG_H
#define LOSSD_SERVICE_LOG_H

#include <stddef.h>

#include "options.h"

typedef struct {
    const char *remote; /* client address */
    const char *method, *path;
    int status;
    size_t bytes_in, bytes_out;
    double seconds;
    const char *function; /* route label */
    const char *error;    /* error code, or NULL */
} lossd_access;

void lossd_log_init(lossd_log_format format);
void lossd_log_access(const lossd_access *a);

/* A service message: level is "info", "warning" or "error". Printed even with --log-format off. */
void lossd_log(const char *level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif /* LOSSD_SERVICE_LOG_H */
