/* SPDX-License-Identifier: MIT */
/*
 * float64.h - what the core and the service both rely on about IEEE 754
 * binary64, the only number type lossd computes in: named once, so that a
 * bound checked in the core and the same bound checked on the wire are one
 * number.
 *
 * Shared by the core library and the service like debug.h: include it from
 * .c files and internal headers only, never from an installed one.
 * Constants only: any thread.
 */
#ifndef LOSSD_FLOAT64_H
#define LOSSD_FLOAT64_H

/*
 * 2^53: every integer of magnitude up to it is a double exactly, and
 * 2^53 + 1 is the first that is not. An integer parameter, a JSON length
 * or a byte count read as a double is trusted only up to it.
 */
#define LOSSD_EXACT_INTEGER_MAX 9007199254740992.0

#endif /* LOSSD_FLOAT64_H */
