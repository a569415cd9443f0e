/* SPDX-License-Identifier: MIT */
/*
 * arena.h - region allocation for jansson parse trees.
 *
 * A large request is mostly numbers, and jansson makes each one a json_t
 * of its own: ~900,000 malloc calls and as many frees for a 100,000-box
 * body, with allocator overhead on each. While an arena is *active* on a
 * thread, every jansson allocation that thread makes is carved from the
 * arena's chunks (from 64 KiB, from malloc's heap, up to 16 MiB, mapped
 * of their own), and jansson's frees of them do nothing; releasing the
 * arena frees its chunks, the whole tree at once. (Keeping released
 * chunks mapped for reuse parsed ~15% faster, but held a large request's
 * tree while its reply was written: the peak memory went from under 10x
 * the body to 13x. docs/performance.md.)
 *
 * Rules: a tree parsed in an arena is never json_decref'd - the arena is
 * released instead - and nothing allocated by jansson while the arena is
 * active may outlive it (only json_loadb runs inside). Allocations outside
 * an active arena go to malloc/free as usual, on any thread.
 *
 * Threading: lossd_arena_install() once, before any thread starts. An
 * arena belongs to one thread while active; its tree may then be read (not
 * modified) by other threads until it is released.
 */
#ifndef LOSSD_SERVICE_ARENA_H
#define LOSSD_SERVICE_ARENA_H

#include <stddef.h>

typedef struct lossd_arena_chunk lossd_arena_chunk;

typedef struct {
    lossd_arena_chunk *chunks; /* newest first */
    size_t bytes;              /* mapped, for the curious */
} lossd_arena;

/* Routes jansson's allocations through the arena allocator. */
void lossd_arena_install(void);

/* Makes `a` (zero-initialised) the calling thread's active arena. */
void lossd_arena_begin(lossd_arena *a);

/* Ends the calling thread's active arena; what it holds stays valid. */
void lossd_arena_end(lossd_arena *a);

/* Frees everything the arena holds. Not while it is active. */
void lossd_arena_release(lossd_arena *a);

#endif /* LOSSD_SERVICE_ARENA_H */
