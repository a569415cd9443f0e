/* SPDX-License-Identifier: MIT */
/*
 * debug.h - LOSSD_ASSERT: checks of API preconditions and internal
 * invariants, compiled in by ./configure --enable-debug (and in CI's
 * sanitizer builds), compiled out otherwise, in the spirit of curl's
 * DEBUGASSERT.
 *
 * Use it for what only a programmer can get wrong: a NULL where the
 * contract says never, a block range past the call's end, a call run
 * before it was prepared. Never for anything a client can send: bad input
 * is an error value (lossd_error, lossd_fault), in every build.
 *
 * Shared by the core library and the service; include it from .c files
 * and internal headers only (buf.h's inline functions use it), never from
 * an installed one. Any thread.
 */
#ifndef LOSSD_DEBUG_H
#define LOSSD_DEBUG_H

#ifdef LOSSD_DEBUG
#include <stdio.h>
#include <stdlib.h>

#define LOSSD_ASSERT(cond)                                                                     \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            fprintf(stderr, "%s:%d: %s: assertion failed: %s\n", __FILE__, __LINE__, __func__, \
                    #cond);                                                                    \
            abort();                                                                           \
        }                                                                                      \
    } while (0)
#else
/* Compiled out, but still parsed: a typo in a condition breaks every build. */
#define LOSSD_ASSERT(cond) ((void)sizeof(!(cond)))
#endif

#endif /* LOSSD_DEBUG_H */
