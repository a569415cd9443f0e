/* SPDX-License-Identifier: MIT */
/*
 * util.h - the small text helpers every protocol binding shares: element
 * paths for messages ("target[3][1]"), lists of names ("a, b, c") and
 * the reply field each kind of function answers with.
 *
 * Shapes are written by the core's lossd_shape_text(), "(2, 3)", on every
 * binding alike.
 *
 * Threading: pure functions on the caller's buffers; any thread.
 */
#ifndef LOSSD_SERVICE_UTIL_H
#define LOSSD_SERVICE_UTIL_H

#include <stddef.h>

#include <lossd/lossd.h>

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
