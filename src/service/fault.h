/* SPDX-License-Identifier: MIT */
/*
 * fault.h - what went wrong with a request, as a value: the contract's
 * error kinds (docs/api.md's error table), the offending field and a
 * message. The table in fault.c maps each kind to its HTTP status and
 * code; nothing else in the service spells a status number for an error.
 */
#ifndef LOSSD_SERVICE_FAULT_H
#define LOSSD_SERVICE_FAULT_H

#include <lossd/lossd.h>

#include "buf.h"

typedef enum {
    LOSSD_FAULT_NONE = 0,
    LOSSD_FAULT_INVALID_JSON,     /* 400 */
    LOSSD_FAULT_BAD_REQUEST,      /* 400: HTTP framing (Content-Length with Transfer-Encoding) */
    LOSSD_FAULT_UNAUTHORIZED,     /* 401 */
    LOSSD_FAULT_NOT_FOUND,        /* 404 */
    LOSSD_FAULT_METHOD,           /* 405 */
    LOSSD_FAULT_TOO_LARGE,        /* 413 */
    LOSSD_FAULT_MEDIA_TYPE,       /* 415 */
    LOSSD_FAULT_INVALID_ARGUMENT, /* 422 */
    LOSSD_FAULT_INTERNAL,         /* 500 */
    LOSSD_FAULT_OVERLOADED,       /* 503 */
    LOSSD_FAULT_DRAINING,         /* 503 */
    LOSSD_FAULT_COUNT
} lossd_fault_kind;

#define LOSSD_FAULT_MESSAGE_MAX 768

typedef struct {
    lossd_fault_kind kind;
    char field[LOSSD_FIELD_MAX];
    char message[LOSSD_FAULT_MESSAGE_MAX];
} lossd_fault;

/*
 * Records a fault (the first one wins, like lossd_error). The message is
 * prefixed with "field: " when field is not empty. Returns -1.
 */
int lossd_fault_set(lossd_fault *f, lossd_fault_kind kind, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Converts a core error into a fault: 422, or 413 for a size limit, 500 for memory. */
int lossd_fault_from_error(lossd_fault *f, const lossd_error *err);

int lossd_fault_status(lossd_fault_kind kind);
const char *lossd_fault_code(lossd_fault_kind kind);

/* Writes the contract's error body: {"error": {"code", "message", "field"?}}. */
void lossd_fault_write(const lossd_fault *f, lossd_buf *out);

/*
 * Writes the Open Inference Protocol's error body for /v2:
 * {"error": "<field path>: <message>"}, a string, as its clients expect.
 */
void lossd_fault_write_v2(const lossd_fault *f, lossd_buf *out);

/*
 * The error body of last resort, for when memory ran out writing a reply:
 * {"error":{"code":"internal","message":"out of memory"}}, whose status is
 * lossd_fault_status(LOSSD_FAULT_INTERNAL). Static storage: nothing to
 * allocate or free. *len gets its length.
 */
const char *lossd_fault_oom_body(size_t *len);

#endif /* LOSSD_SERVICE_FAULT_H */
