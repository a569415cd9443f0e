/* SPDX-License-Identifier: MIT */
/*
 * arena.c - bump allocation for jansson (see arena.h).
 */
#include <stdint.h>
#include <stdlib.h>

#include <jansson.h>

#include "../debug.h"
#include "../hugemap.h"
#include "arena.h"

/*
 * Chunk sizes grow with the arena, so a large body takes few chunks. Small
 * ones come from malloc's heap, where they are reused without a system
 * call: mapping and unmapping even one chunk per request cost small
 * requests most of their throughput (each munmap in a threaded process
 * interrupts the other CPUs to flush their TLBs). From LOSSD_HUGE_MIN (2
 * MiB) up they are mappings of their own on huge-page boundaries
 * (hugemap.h), returned to the system on release.
 */
#define CHUNK_MIN ((size_t)64 << 10)
#define CHUNK_MAX ((size_t)16 << 20)
/* jansson's structs hold pointers, sizes and doubles: 8 bytes is enough. */
#define ALIGNMENT 8

struct lossd_arena_chunk {
    lossd_arena_chunk *next;
    size_t size;   /* usable bytes, this header included */
    size_t mapped; /* the mapping's length (hugemap.h), 0 when from malloc */
    size_t used;
};

static __thread lossd_arena *active;

static size_t header_size(void)
{
    return (sizeof(lossd_arena_chunk) + ALIGNMENT - 1) & ~(size_t)(ALIGNMENT - 1);
}

static lossd_arena_chunk *new_chunk(lossd_arena *a, size_t need)
{
    size_t size = a->chunks ? a->chunks->size * 2 : CHUNK_MIN;
    if (size > CHUNK_MAX)
        size = CHUNK_MAX;
    if (size < need + header_size())
        size = need + header_size();
    size_t mapped;
    void *p = lossd_huge_alloc(size, &mapped, 0);
    if (p == NULL)
        return NULL;
    lossd_arena_chunk *c = p;
    c->next = a->chunks;
    c->size = size;
    c->mapped = mapped;
    c->used = header_size();
    a->chunks = c;
    a->bytes += size;
    return c;
}

static void *arena_malloc(size_t size)
{
    lossd_arena *a = active;
    if (a == NULL)
        return malloc(size);
    size = (size + ALIGNMENT - 1) & ~(size_t)(ALIGNMENT - 1);
    lossd_arena_chunk *c = a->chunks;
    if (c == NULL || c->size - c->used < size) {
        if ((c = new_chunk(a, size)) == NULL)
            return NULL; /* jansson reports the failure as a parse error */
    }
    void *p = (char *)c + c->used;
    c->used += size;
    return p;
}

/* Whether p was carved from one of a's chunks. */
static int owned(const lossd_arena *a, const void *p)
{
    for (const lossd_arena_chunk *c = a->chunks; c; c = c->next)
        if ((const char *)p >= (const char *)c && (const char *)p < (const char *)c + c->size)
            return 1;
    return 0;
}

static void arena_free(void *p)
{
    if (p == NULL)
        return;
    if (active && owned(active, p))
        return; /* released with the arena */
    free(p);
}

void lossd_arena_install(void)
{
    json_set_alloc_funcs(arena_malloc, arena_free);
}

void lossd_arena_begin(lossd_arena *a)
{
    LOSSD_ASSERT(a != NULL);
    LOSSD_ASSERT(active == NULL); /* one active arena per thread: no nesting */
    active = a;
}

void lossd_arena_end(lossd_arena *a)
{
    LOSSD_ASSERT(a != NULL && active == a);
    if (active == a)
        active = NULL;
}

void lossd_arena_release(lossd_arena *a)
{
    LOSSD_ASSERT(a != NULL && active != a); /* lossd_arena_end() first */
    lossd_arena_chunk *c = a->chunks;
    while (c) {
        lossd_arena_chunk *next = c->next;
        lossd_huge_free(c, c->mapped);
        c = next;
    }
    a->chunks = NULL;
    a->bytes = 0;
}
