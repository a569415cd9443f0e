/* SPDX-License-Identifier: MIT */
/*
 * body.h - a request body in memory: one growing allocation whose byte at
 * `align_at` lies on a cache line.
 *
 * A /v2 request's binary tensors start right after its JSON header, at an
 * offset the client chose (Inference-Header-Content-Length). Placing the
 * body so that this offset is aligned lets the FP64 tensors be read in
 * place as the core's double arrays: no copy of a large request, and the
 * alignment the kernels stream best from (src/core/call.c places its own
 * outputs the same way). v1 bodies align their start (align_at 0).
 *
 * The bytes are preceded by room for the alignment and followed by one
 * spare byte, so data[len] may be written (a NUL) by whoever needs a
 * terminated string.
 *
 * Threading: a body belongs to one thread at a time - libmicrohttpd's
 * while it arrives, then the worker that serves it.
 */
#ifndef LOSSD_SERVICE_BODY_H
#define LOSSD_SERVICE_BODY_H

#include <stdbool.h>
#include <stddef.h>

/* The alignment of data + align_at. */
#define LOSSD_BODY_ALIGN 64

typedef struct {
    char *data;      /* len bytes (NULL until the first byte or reservation) */
    size_t len, cap; /* cap: bytes available at data */
    size_t align_at; /* the offset kept aligned */
    void *block;     /* what malloc or mmap returned; private */
    size_t mapped;   /* the mapping's size when mmap'd, else 0; private */
} lossd_body;

/* Caller-owned storage: an empty body whose byte `align_at` will be aligned. */
void lossd_body_init(lossd_body *b, size_t align_at);

/*
 * Makes room for `total` bytes in all (the whole body, when its size is
 * known up front: one allocation, no copies as it arrives). False when
 * out of memory; the body is unchanged then.
 */
bool lossd_body_reserve(lossd_body *b, size_t total);

/*
 * Room to write at least `min` more bytes at data + len, growing
 * geometrically but never past `max` bytes in all (max >= len + min).
 * Returns the write position and sets *room to the bytes there, or NULL
 * when out of memory. lossd_body_commit() then counts what was written.
 */
char *lossd_body_space(lossd_body *b, size_t min, size_t max, size_t *room);
void lossd_body_commit(lossd_body *b, size_t n);

/* Appends n bytes (growing within max as above). False when out of memory. */
bool lossd_body_append(lossd_body *b, const void *bytes, size_t n, size_t max);

/* Frees the bytes; the body is empty again (align_at kept). */
void lossd_body_cleanup(lossd_body *b);

#endif /* LOSSD_SERVICE_BODY_H */
