/* SPDX-License-Identifier: MIT */
/*
 * buf.h - a growable byte buffer for building replies (after curl's dynbuf).
 *
 * A lossd_buf belongs to one thread at a time. After an allocation failure
 * or when `max` would be exceeded, the buffer is marked failed: further
 * appends are ignored and lossd_buf_failed() says so, so writers can append
 * freely and check once at the end.
 *
 * Its fields are private (as curl's DYNBUF.md says of dynbuf's): use the
 * functions below, which keep its invariants - the bytes are NUL-terminated
 * once the buffer has memory, and a failed buffer stays failed until
 * lossd_buf_reset(). To write numbers in place without a copy (the reply
 * writer's hot path), lossd_buf_prepare() room, write into it, then
 * lossd_buf_commit() what was written.
 */
#ifndef LOSSD_SERVICE_BUF_H
#define LOSSD_SERVICE_BUF_H

#include <stdbool.h>
#include <stddef.h>

#include "../debug.h"

typedef struct {
    /* private: read and change them through the functions below */
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

/*
 * Room for up to `room` more bytes at the end, to write in place: returns
 * where they go, or NULL (and failed) when the buffer cannot grow. Write
 * there, then lossd_buf_commit() how many were written; nothing else may
 * change the buffer in between. Inline, with commit: the reply writer
 * calls them once per row of numbers.
 */
static inline char *lossd_buf_prepare(lossd_buf *b, size_t room)
{
    return lossd_buf_reserve(b, room) ? b->data + b->len : NULL;
}

/* Appends the first n bytes written at lossd_buf_prepare()'s pointer (n <= its room). */
static inline void lossd_buf_commit(lossd_buf *b, size_t n)
{
    LOSSD_ASSERT(!b->failed && b->data != NULL); /* after a lossd_buf_prepare() that succeeded */
    LOSSD_ASSERT(n < b->cap - b->len);           /* within its room, the NUL's byte left */
    b->len += n;
    b->data[b->len] = '\0';
}

void lossd_buf_append(lossd_buf *b, const void *data, size_t len);
void lossd_buf_puts(lossd_buf *b, const char *s);
void lossd_buf_printf(lossd_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Appends a double in the shortest form that reads back the same; null if not finite. */
void lossd_buf_number(lossd_buf *b, double x);

/* The longest text lossd_utoa() writes (2^64 - 1), without a terminator. */
#define LOSSD_UTOA_MAX 20

/*
 * Writes x in decimal into buf (at least LOSSD_UTOA_MAX bytes, not
 * terminated) and returns the length: printf's %llu without printf, for
 * the per-request paths (replies, headers, the access log). Any thread.
 */
size_t lossd_utoa(unsigned long long x, char *buf);

/* Appends x in decimal. */
void lossd_buf_uint(lossd_buf *b, unsigned long long x);

static inline bool lossd_buf_failed(const lossd_buf *b)
{
    return b->failed;
}

/* Marks the buffer failed, as an allocation failure would: what it holds is not the whole. */
void lossd_buf_fail(lossd_buf *b);

/* Empties the buffer and clears a failure, keeping its memory and limit (to write anew). */
void lossd_buf_reset(lossd_buf *b);

/*
 * The bytes so far, NUL-terminated (NULL until the buffer first grows),
 * and how many: valid until the buffer next changes. Borrowed: the buffer
 * keeps them.
 */
static inline const char *lossd_buf_data(const lossd_buf *b)
{
    return b->data;
}

static inline size_t lossd_buf_len(const lossd_buf *b)
{
    return b->len;
}

/*
 * Hands the bytes over: returns the data (NUL-terminated, the caller
 * frees it) and its length, and leaves the buffer empty.
 */
char *lossd_buf_steal(lossd_buf *b, size_t *len);

#endif /* LOSSD_SERVICE_BUF_H */
