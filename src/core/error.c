/* SPDX-License-Identifier: MIT */
/*
 * error.c - status codes and the error values every check fills.
 *
 * Thread-safe: nothing here touches shared state; a lossd_error belongs to
 * the caller.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

const char *lossd_strerror(int status)
{
    switch (status) {
    case LOSSD_OK:
        return "success";
    case LOSSD_EINVAL:
        return "invalid argument";
    case LOSSD_ENOMEM:
        return "out of memory";
    case LOSSD_ENOENT:
        return "no such function or parameter";
    case LOSSD_ETYPE:
        return "wrong type";
    case LOSSD_ETOOBIG:
        return "too large";
    case LOSSD_EMISSING:
        return "missing operand";
    default:
        return "unknown error";
    }
}

int lossd__fail(lossd_error *err, int code, const char *field, const char *fmt, ...)
{
    if (err == NULL || err->code != 0)
        return code;
    err->code = code;
    snprintf(err->field, sizeof err->field, "%s", field ? field : "");
    size_t used = 0;
    if (field && *field) {
        int n = snprintf(err->message, sizeof err->message, "%s: ", field);
        used = n < 0 ? 0 : (size_t)n;
        if (used >= sizeof err->message)
            used = sizeof err->message - 1;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message + used, sizeof err->message - used, fmt, ap);
    va_end(ap);
    return code;
}

const char *lossd__shortest(double x, char *buf)
{
    char text[LOSSD__SHORTEST_MAX];
    int digits = 17;
    if (isfinite(x)) /* an error path: a few tries are cheap */
        for (digits = 1; digits < 17; digits++) {
            snprintf(text, sizeof text, "%.*g", digits, x);
            if (strtod(text, NULL) == x)
                break;
        }
    snprintf(text, sizeof text, "%.*g", digits, x);
    memcpy(buf, text, sizeof text);
    return buf;
}

char *lossd__path(char *buf, size_t size, const char *name, const lossd_tensor *t, size_t flat,
                  int depth)
{
    size_t index[LOSSD_MAX_RANK];
    for (int d = t->rank - 1; d >= 0; d--) {
        size_t extent = t->shape[d];
        index[d] = extent ? flat % extent : 0;
        flat = extent ? flat / extent : 0;
    }
    int keep = depth < 0 || depth > t->rank ? t->rank : depth;
    int n = snprintf(buf, size, "%s", name);
    for (int d = 0; d < keep && n >= 0 && (size_t)n < size; d++)
        n += snprintf(buf + n, size - (size_t)n, "[%zu]", index[d]);
    return buf;
}
