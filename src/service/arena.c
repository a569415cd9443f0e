/*
 * arena.c - bump allocation for jansson (see arena.h).
 */
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#include <jansson.h>

#include "../debug.h"
#include "arena.h"

/*
 * Chunk sizes grow with the arena, so a large body takes few chunks. Small
 * ones come from malloc's heap, where they are reused without a system
 * call: mapping and unmapping even one chunk per request cost small
 * requests most of their throughput (each munmap in a threaded process
 * interrupts the other CPUs to flush their TLBs). From CHUNK_MAP up they
 * are mappings of their own, returned to the system on release.
 */
#define CHUNK_MIN ((size_t)64 << 10)
#define CHUNK_MAP ((size_t)1 << 20)
#define CHUNK_MAX ((size_t)16 << 20)
/* jansson's structs hold pointers, sizes and doubles: 8 bytes is enough. */
#define ALIGNMENT 8

struct lossd_arena_chunk {
    lossd_arena_chunk *next;
    size_t size; /* mapped bytes, this header included */
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
    void *p;
    if (size < CHUNK_MAP) {
        if ((p = malloc(size)) == NULL)
            return NULL;
    } else {
        p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
            return NULL;
        madvise(p, size, MADV_HUGEPAGE); /* fewer faults where transparent huge pages are on */
    }
    lossd_arena_chunk *c = p;
    c->next = a->chunks;
    c->size = size;
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
        if (c->size < CHUNK_MAP)
            free(c);
        else
            munmap(c, c->size);
        c = next;
    }
    a->chunks = NULL;
    a->bytes = 0;
}
