/*
 * log.c - access and service log lines (see log.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <jansson.h>

#include "log.h"

static lossd_log_format log_format = LOSSD_LOG_TEXT;

void lossd_log_init(lossd_log_format format)
{
    log_format = format;
}

static void timestamp(char *buf, size_t size)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, size - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

/* Writes a JSON object as one line and releases it. */
static void emit_json(json_t *line)
{
    char *text = line ? json_dumps(line, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
    if (text)
        fprintf(stderr, "%s\n", text);
    free(text);
    json_decref(line);
}

void lossd_log_access(const lossd_access *a)
{
    char now[40];
    if (log_format == LOSSD_LOG_OFF)
        return;
    timestamp(now, sizeof now);
    /* The path is the client's: keep printable ASCII only. */
    char path[256];
    size_t n = 0;
    for (const char *p = a->path; *p && n + 1 < sizeof path; p++)
        path[n++] = (*p > 32 && *p < 127 && *p != '"') ? *p : '?';
    path[n] = '\0';
    if (log_format == LOSSD_LOG_JSON) {
        json_t *line =
            json_pack("{s:s, s:s, s:s, s:s, s:i, s:I, s:I, s:f, s:s}", "time", now, "remote",
                      a->remote, "method", a->method, "path", path, "status", a->status, "bytes_in",
                      (json_int_t)a->bytes_in, "bytes_out", (json_int_t)a->bytes_out, "duration_ms",
                      a->seconds * 1e3, "function", a->function);
        if (line && a->error)
            json_object_set_new(line, "error", json_string(a->error));
        emit_json(line);
        return;
    }
    fprintf(stderr, "%s %s \"%s %s\" %d %zu %zu %.3fms %s%s%s\n", now, a->remote, a->method, path,
            a->status, a->bytes_in, a->bytes_out, a->seconds * 1e3, a->function,
            a->error ? " " : "", a->error ? a->error : "");
}

void lossd_log(const char *level, const char *fmt, ...)
{
    char now[40], message[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    timestamp(now, sizeof now);
    if (log_format == LOSSD_LOG_JSON)
        emit_json(json_pack("{s:s, s:s, s:s}", "time", now, "level", level, "message", message));
    else
        fprintf(stderr, "%s lossd %s: %s\n", now, level, message);
}
