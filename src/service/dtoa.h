/* SPDX-License-Identifier: MIT */
/*
 * dtoa.h - doubles to JSON text in the shortest form that parses back to
 * the same double ("0.1", not "0.10000000000000001"), through Dragonbox
 * (Debian's libdragonbox-dev). Any thread.
 */
#ifndef LOSSD_SERVICE_DTOA_H
#define LOSSD_SERVICE_DTOA_H

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Longest text lossd_dtoa() writes, without a terminator. */
#define LOSSD_DTOA_MAX 32

/*
 * Writes x into buf (at least LOSSD_DTOA_MAX bytes, not NUL-terminated)
 * and returns the length. Non-finite values are written as null; whole
 * numbers keep a ".0" ("3.0", "-0.0") so every number reads as a float.
 */
size_t lossd_dtoa(double x, char *buf);

/*
 * lossd_dtoa(), with non-finite values written as the JSON strings "NaN",
 * "Infinity" and "-Infinity" when `strings` (a request's "nonfinite":
 * "strings"), as null otherwise.
 */
size_t lossd_dtoa_json(double x, char *buf, bool strings);

/*
 * The same, NUL-terminated, for messages that quote a number (a
 * non-finite one as NaN, Infinity or -Infinity): buf holds
 * LOSSD_DTOA_MAX + 1 bytes. Returns buf.
 */
const char *lossd_dtoa_text(double x, char *buf);

#ifdef __cplusplus
}
#endif

#endif /* LOSSD_SERVICE_DTOA_H */
