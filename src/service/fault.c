/* SPDX-License-Identifier: MIT */
/*
 * fault.c - request faults and the error body the contract promises.
 * Thread-safe: the table is immutable; a fault belongs to its request.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "fault.h"

static const struct {
    int status;
    const char *code;
} kinds[LOSSD_FAULT_COUNT] = {
    [LOSSD_FAULT_NONE] = {200, "ok"},
    [LOSSD_FAULT_INVALID_JSON] = {400, "invalid_json"},
    [LOSSD_FAULT_BAD_REQUEST] = {400, "bad_request"},
    [LOSSD_FAULT_UNAUTHORIZED] = {401, "unauthorized"},
    [LOSSD_FAULT_NOT_FOUND] = {404, "not_found"},
    [LOSSD_FAULT_METHOD] = {405, "method_not_allowed"},
    [LOSSD_FAULT_TOO_LARGE] = {413, "payload_too_large"},
    [LOSSD_FAULT_MEDIA_TYPE] = {415, "unsupported_media_type"},
    [LOSSD_FAULT_INVALID_ARGUMENT] = {422, "invalid_argument"},
    [LOSSD_FAULT_INTERNAL] = {500, "internal"},
    [LOSSD_FAULT_OVERLOADED] = {503, "overloaded"},
    [LOSSD_FAULT_DRAINING] = {503, "draining"},
};

int lossd_fault_status(lossd_fault_kind kind)
{
    return (unsigned)kind < LOSSD_FAULT_COUNT ? kinds[kind].status : 500;
}

const char *lossd_fault_code(lossd_fault_kind kind)
{
    return (unsigned)kind < LOSSD_FAULT_COUNT ? kinds[kind].code : "internal";
}

int lossd_fault_set(lossd_fault *f, lossd_fault_kind kind, const char *field, const char *fmt, ...)
{
    if (f->kind != LOSSD_FAULT_NONE)
        return -1;
    f->kind = kind;
    snprintf(f->field, sizeof f->field, "%s", field ? field : "");
    size_t used = 0;
    if (field && *field) {
        int n = snprintf(f->message, sizeof f->message, "%s: ", field);
        used = n < 0 ? 0 : ((size_t)n < sizeof f->message ? (size_t)n : sizeof f->message - 1);
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->message + used, sizeof f->message - used, fmt, ap);
    va_end(ap);
    return -1;
}

int lossd_fault_from_error(lossd_fault *f, const lossd_error *err)
{
    lossd_fault_kind kind = LOSSD_FAULT_INVALID_ARGUMENT;
    if (err->code == LOSSD_ETOOBIG)
        kind = LOSSD_FAULT_TOO_LARGE;
    else if (err->code == LOSSD_ENOMEM)
        kind = LOSSD_FAULT_INTERNAL;
    if (f->kind != LOSSD_FAULT_NONE)
        return -1;
    f->kind = kind;
    snprintf(f->field, sizeof f->field, "%s", err->field);
    snprintf(f->message, sizeof f->message, "%s", err->message);
    return -1;
}

/*
 * Copies s, replacing bytes that are not part of valid UTF-8 with '?': a
 * message cut short by its buffer may end inside a multi-byte character,
 * and jansson refuses strings that are not UTF-8.
 */
static void utf8_clean(char *dst, const char *s, size_t size)
{
    const unsigned char *in = (const unsigned char *)s;
    size_t i = 0, o = 0, len = strlen(s);
    while (i < len && o + 1 < size) {
        /* Decode one scalar value strictly: no overlong forms, surrogates or > U+10FFFF. */
        unsigned c = in[i], cp = 0;
        size_t n = c < 0x80                 ? 1
                   : c >= 0xC2 && c <= 0xDF ? 2
                   : c >= 0xE0 && c <= 0xEF ? 3
                   : c >= 0xF0 && c <= 0xF4 ? 4
                                            : 0;
        bool ok = n > 0 && i + n <= len && o + n < size;
        if (ok && n > 1) {
            cp = c & (0xFFu >> (n + 1));
            for (size_t k = 1; ok && k < n; k++) {
                ok = (in[i + k] & 0xC0) == 0x80;
                cp = (cp << 6) | (in[i + k] & 0x3F);
            }
            static const unsigned min[5] = {0, 0, 0x80, 0x800, 0x10000};
            ok = ok && cp >= min[n] && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF);
        }
        if (!ok) {
            dst[o++] = '?';
            i++;
            continue;
        }
        memcpy(dst + o, s + i, n);
        o += n;
        i += n;
    }
    dst[o] = '\0';
}

/* Appends body as compact ASCII JSON and releases it; a fixed body when it is NULL. */
static void write_body(json_t *body, lossd_buf *out)
{
    char *text = body ? json_dumps(body, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
    size_t len;
    if (text)
        lossd_buf_puts(out, text);
    else { /* out of memory: a fixed body still tells the client */
        const char *oom = lossd_fault_oom_body(&len);
        lossd_buf_append(out, oom, len);
    }
    free(text);
    json_decref(body);
}

void lossd_fault_write(const lossd_fault *f, lossd_buf *out)
{
    char message[LOSSD_FAULT_MESSAGE_MAX], field[LOSSD_FIELD_MAX];
    utf8_clean(message, f->message[0] ? f->message : lossd_fault_code(f->kind), sizeof message);
    utf8_clean(field, f->field, sizeof field);
    json_t *error = json_pack("{s:s, s:s}", "code", lossd_fault_code(f->kind), "message", message);
    if (error && field[0])
        json_object_set_new(error, "field", json_string(field));
    write_body(error ? json_pack("{s:o}", "error", error) : NULL, out);
}

void lossd_fault_write_v2(const lossd_fault *f, lossd_buf *out)
{
    char message[LOSSD_FAULT_MESSAGE_MAX];
    utf8_clean(message, f->message[0] ? f->message : lossd_fault_code(f->kind), sizeof message);
    write_body(json_pack("{s:s}", "error", message), out);
}

const char *lossd_fault_oom_body(size_t *len)
{
    static const char body[] = "{\"error\":{\"code\":\"internal\",\"message\":\"out of memory\"}}";
    *len = sizeof body - 1;
    return body;
}
