/* SPDX-License-Identifier: MIT */
/*
 * log.c - access and service log lines (see log.h).
 *
 * Access lines are formatted by the thread that finishes the request
 * (libmicrohttpd's), appended to a shared buffer and written to stderr by
 * a log thread in batches: a write(2) per request on the I/O thread cost
 * about a tenth of small-request throughput. The log thread writes at
 * least every LOG_FLUSH_MS; a producer that finds the buffer full writes it
 * out itself, so lines are never dropped, only the I/O thread is held up
 * when stderr cannot keep up. Service messages flush the buffer and are
 * written at once, in order after the access lines before them.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "buf.h"
#include "dtoa.h"
#include "log.h"

#define LOG_BUFFER   (256 * 1024)
#define LOG_FLUSH_MS 100

static lossd_log_format log_format = LOSSD_LOG_TEXT;

static struct {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    pthread_mutex_t write_lock; /* orders the batches written to stderr */
    char *data;
    size_t len;
    bool running, stopping;
    pthread_t thread;
} sink = {.lock = PTHREAD_MUTEX_INITIALIZER,
          .wake = PTHREAD_COND_INITIALIZER,
          .write_lock = PTHREAD_MUTEX_INITIALIZER};

/* Writes all of buf to stderr, retrying short writes. */
static void write_all(const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(STDERR_FILENO, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return; /* stderr is gone: nothing better to do */
        buf += n;
        len -= (size_t)n;
    }
}

/* Takes the buffered lines (under sink.lock) and writes them (outside it). */
static void flush_locked_then_unlock(void)
{
    char *batch = sink.data;
    size_t len = sink.len;
    sink.data = NULL;
    sink.len = 0;
    pthread_mutex_lock(&sink.write_lock); /* before unlocking: batches stay in order */
    pthread_mutex_unlock(&sink.lock);
    if (batch)
        write_all(batch, len);
    pthread_mutex_unlock(&sink.write_lock);
    free(batch);
}

static void *log_thread(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&sink.lock);
    while (!sink.stopping) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += LOG_FLUSH_MS * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&sink.wake, &sink.lock, &until);
        if (sink.len > 0) {
            flush_locked_then_unlock();
            pthread_mutex_lock(&sink.lock);
        }
    }
    pthread_mutex_unlock(&sink.lock);
    return NULL;
}

/* Appends one line (with its newline) for the log thread to write. */
static void append(const char *line, size_t len)
{
    pthread_mutex_lock(&sink.lock);
    if (!sink.running) { /* no log thread (yet, or any more): write at once */
        pthread_mutex_unlock(&sink.lock);
        write_all(line, len);
        return;
    }
    if (sink.data == NULL && (sink.data = malloc(LOG_BUFFER)) == NULL) {
        pthread_mutex_unlock(&sink.lock);
        write_all(line, len);
        return;
    }
    if (sink.len + len > LOG_BUFFER) {
        flush_locked_then_unlock(); /* full: this thread writes the batch */
        append(line, len);
        return;
    }
    memcpy(sink.data + sink.len, line, len);
    sink.len += len;
    pthread_mutex_unlock(&sink.lock);
}

void lossd_log_init(lossd_log_format format)
{
    log_format = format;
    pthread_mutex_lock(&sink.lock);
    if (format != LOSSD_LOG_OFF && !sink.running) {
        sink.stopping = false;
        sink.running = pthread_create(&sink.thread, NULL, log_thread, NULL) == 0;
    }
    pthread_mutex_unlock(&sink.lock);
}

void lossd_log_shutdown(void)
{
    pthread_mutex_lock(&sink.lock);
    bool running = sink.running;
    sink.stopping = true;
    sink.running = false;
    pthread_cond_signal(&sink.wake);
    pthread_mutex_unlock(&sink.lock);
    if (running)
        pthread_join(sink.thread, NULL);
    pthread_mutex_lock(&sink.lock);
    flush_locked_then_unlock();
}

/*
 * "2026-11-28T14:13:12.450Z". The seconds part is formatted once per
 * second per thread; only the milliseconds change in between.
 */
static void timestamp(char *buf, size_t size)
{
    static __thread time_t cached_second = -1;
    static __thread char cached[32];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (ts.tv_sec != cached_second) {
        struct tm tm;
        gmtime_r(&ts.tv_sec, &tm);
        strftime(cached, sizeof cached, "%Y-%m-%dT%H:%M:%S", &tm);
        cached_second = ts.tv_sec;
    }
    int ms = (int)(ts.tv_nsec / 1000000);
    size_t n = strnlen(cached, 24);
    if (size < n + 6)
        return;
    memcpy(buf, cached, n);
    buf[n] = '.';
    buf[n + 1] = (char)('0' + ms / 100);
    buf[n + 2] = (char)('0' + ms / 10 % 10);
    buf[n + 3] = (char)('0' + ms % 10);
    buf[n + 4] = 'Z';
    buf[n + 5] = '\0';
}

/* Formats a JSON object as one line, appends it and releases the object. */
static void emit_json(json_t *line, bool now)
{
    char *text = line ? json_dumps(line, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
    if (text) {
        size_t len = strlen(text);
        text[len] = '\n'; /* json_dumps' terminator becomes the newline */
        if (now) {
            pthread_mutex_lock(&sink.lock);
            flush_locked_then_unlock();
            write_all(text, len + 1);
        } else {
            append(text, len + 1);
        }
    }
    free(text);
    json_decref(line);
}

/* The longest User-Agent written; longer ones are cut. */
#define AGENT_MAX 256

/*
 * Appends the client's text s (at most max bytes of it) as the inside of
 * a JSON string: quotes, backslashes and control bytes escaped, bytes
 * past ASCII written as '?' (the log is ASCII, whatever a client sends).
 * `at` has room for 6 * max bytes.
 */
static char *put_escaped(char *at, const char *s, size_t max)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; s[i] && i < max; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            *at++ = '\\';
            *at++ = (char)c;
        } else if (c < 0x20 || c == 0x7F) {
            memcpy(at, "\\u00", 4);
            at[4] = hex[c >> 4];
            at[5] = hex[c & 15];
            at += 6;
        } else {
            *at++ = c < 0x80 ? (char)c : '?';
        }
    }
    return at;
}

/* Appends at most max bytes of s (a string of the service's own, or already cleaned). */
static char *put(char *at, const char *s, size_t max)
{
    size_t n = strnlen(s, max);
    memcpy(at, s, n);
    return at + n;
}

static char *put_uint(char *at, unsigned long long x)
{
    return at + lossd_utoa(x, at);
}

/* Appends "name":"value" (escaped), with a leading comma. */
static char *put_field(char *at, const char *name, const char *value, size_t max)
{
    at = put(at, ",\"", 2);
    at = put(at, name, 32);
    at = put(at, "\":\"", 3);
    at = put_escaped(at, value, max);
    *at++ = '"';
    return at;
}

void lossd_log_access(const lossd_access *a)
{
    char now[40];
    if (log_format == LOSSD_LOG_OFF)
        return;
    timestamp(now, sizeof now);
    /* The path is the client's: printable ASCII only, no quotes or spaces. */
    char path[256];
    size_t n = 0;
    for (const char *p = a->path; *p && n + 1 < sizeof path; p++)
        path[n++] = (*p > 32 && *p < 127 && *p != '"') ? *p : '?';
    path[n] = '\0';
    const char *agent = a->user_agent ? a->user_agent : "-";
    /* Every field is bounded: the path, the id (128), the agent, the route label. */
    char line[3 * 1024 + 6 * AGENT_MAX];
    char *at = line;
    /* Written piece by piece, every field bounded: printf cost as much as the rest of a small
       request's own work. */
    if (log_format == LOSSD_LOG_JSON) {
        at = put(at, "{\"time\":\"", 9);
        at = put(at, now, sizeof now);
        *at++ = '"';
        at = put_field(at, "remote", a->remote, 64);
        at = put_field(at, "method", a->method, 16);
        at = put_field(at, "path", path, sizeof path);
        at = put(at, ",\"status\":", 10);
        at = put_uint(at, (unsigned)a->status);
        at = put(at, ",\"bytes_in\":", 12);
        at = put_uint(at, a->bytes_in);
        at = put(at, ",\"bytes_out\":", 13);
        at = put_uint(at, a->bytes_out);
        at = put(at, ",\"duration_ms\":", 15);
        /* to the nanosecond (the clock's unit), in the shortest form: 0.30824, not 0.30824499... */
        at += lossd_dtoa(nearbyint(a->seconds * 1e9) / 1e6, at);
        at = put_field(at, "function", a->function, 96);
        if (a->request_id)
            at = put_field(at, "request_id", a->request_id, 128);
        if (a->user_agent)
            at = put_field(at, "user_agent", a->user_agent, AGENT_MAX);
        if (a->error)
            at = put_field(at, "error", a->error, 32);
        memcpy(at, "}\n", 2);
        append(line, (size_t)(at + 2 - line));
        return;
    }
    /* time remote "METHOD path" status in out 0.123ms function error id "agent" */
    unsigned long long us = (unsigned long long)llround(a->seconds * 1e6);
    at = put(at, now, sizeof now);
    *at++ = ' ';
    at = put(at, a->remote, 64);
    at = put(at, " \"", 2);
    at = put(at, a->method, 16);
    *at++ = ' ';
    at = put(at, path, sizeof path);
    at = put(at, "\" ", 2);
    at = put_uint(at, (unsigned)a->status);
    *at++ = ' ';
    at = put_uint(at, a->bytes_in);
    *at++ = ' ';
    at = put_uint(at, a->bytes_out);
    *at++ = ' ';
    at = put_uint(at, us / 1000);
    *at++ = '.';
    *at++ = (char)('0' + us % 1000 / 100);
    *at++ = (char)('0' + us % 100 / 10);
    *at++ = (char)('0' + us % 10);
    at = put(at, "ms ", 3);
    at = put(at, a->function, 96);
    *at++ = ' ';
    at = put(at, a->error ? a->error : "-", 32);
    *at++ = ' ';
    at = put(at, a->request_id ? a->request_id : "-", 128);
    at = put(at, " \"", 2);
    at = put_escaped(at, agent, AGENT_MAX);
    memcpy(at, "\"\n", 2);
    append(line, (size_t)(at + 2 - line));
}

void lossd_log(const char *level, const char *fmt, ...)
{
    char now[40], message[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    timestamp(now, sizeof now);
    if (log_format == LOSSD_LOG_JSON) {
        emit_json(json_pack("{s:s, s:s, s:s}", "time", now, "level", level, "message", message),
                  true);
        return;
    }
    char line[1200];
    int len = snprintf(line, sizeof line, "%s lossd %s: %s\n", now, level, message);
    pthread_mutex_lock(&sink.lock);
    flush_locked_then_unlock();
    if (len > 0)
        write_all(line, (size_t)len < sizeof line ? (size_t)len : sizeof line - 1);
}
