/*
 * buf.h - a growable byte buffer for building replies (after curl's dynbuf).
 *
 * A lossd_buf belongs to one thread at a time. After an allocation failure
 * or when `max` would be exceeded, the buffer is marked failed: further
 * appends are ignored and lossd_buf_failed() says so, so writers can append
 * freely and check once at the end.
 */
#ifndef LOSSD_SERVICE_BUF_H
#define LOSSD_SERVICE_BUF_H

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    char *data;
    size_t len, cap;
    size_t max; /* 0: no limit */
    bool failed;
} lossd_buf;

/* Caller-owned storage: init before use, cleanup after. */
void lossd_buf_init(lossd_buf *b, size_t max);
void lossd_buf_cleanup(lossd_buf *b);

/* Makes room for `extra` more bytes; false (and failed) if impossible. */
bool lossd_buf_reserve(lossd_buf *b, size_t extra);

void lossd_buf_append(lossd_buf *b, const void *data, size_t len);
void lossd_buf_puts(lossd_buf *b, const char *s);
void lossd_buf_printf(lossd_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Appends a double in the shortest form that reads back the same; null if not finite. */
void lossd_buf_number(lossd_buf *b, double x);

static inline bool lossd_buf_failed(const lossd_buf *b)
{
    return b->failed;
}

/*
 * Hands the bytes over: returns the data (NUL-terminated, the caller
 * frees it) and its length, and leaves the buffer empty.
 */
char *lossd_buf_steal(lossd_buf *b, size_t *len);

#endif /* LOSSD_SERVICE_BUF_H */
