/* SPDX-License-Identifier: MIT */
/*
 * util.h - the small text helpers every protocol binding shares: element
 * paths for messages ("target[3][1]"), lists of names ("a, b, c"), the
 * reply field each kind of function answers with, and prefix tests whose
 * lengths the compiler counts.
 *
 * Shapes are written by the core's lossd_shape_text(), "(2, 3)", on every
 * binding alike.
 *
 * Threading: pure functions on the caller's buffers; any thread.
 */
#ifndef LOSSD_SERVICE_UTIL_H
#define LOSSD_SERVICE_UTIL_H

#include <stddef.h>
#include <string.h>
#include <strings.h>

#include <lossd/lossd.h>

/* The length of a string literal, counted by the compiler. */
#define LOSSD_LITERAL_LEN(literal) (sizeof "" literal - 1)

/* Whether text begins with the string literal `prefix` (in any case: _CASE). */
#define LOSSD_STARTS_WITH(text, prefix) (strncmp(text, "" prefix, LOSSD_LITERAL_LEN(prefix)) == 0)
#define LOSSD_STARTS_WITH_CASE(text, prefix) \
    (strncasecmp(text, "" prefix, LOSSD_LITERAL_LEN(prefix)) == 0)

/* Writes name[i0][i1]... for the first `depth` indices into buf (truncated). Returns buf. */
char *lossd_path_index(char *buf, size_t size, const char *name, const size_t *idx, int depth);

/*
 * Appends `name` to the NUL-terminated list in buf ("a" then "a, b"),
 * truncating at size: for "one of: ..." and "takes: ..." messages.
 */
void lossd_names_add(char *buf, size_t size, const char *name);

/* The reply field holding a function's result: "loss", "output", "value" or "matrix". */
const char *lossd_kind_result(lossd_kind kind);

#endif /* LOSSD_SERVICE_UTIL_H */
