/* SPDX-License-Identifier: MIT */
/*
 * body.c - request bodies with an aligned offset (see body.h).
 *
 * Growing copies into a new block rather than realloc()ing: realloc keeps
 * the bytes at malloc's alignment, which would move the aligned offset.
 * Bodies whose size is known (Content-Length) are reserved once and never
 * grow; only chunked or compressed bodies grow, geometrically.
 * Blocks of megabytes are mappings on huge page boundaries (hugemap.h).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../debug.h"
#include "../hugemap.h"
#include "body.h"

/* The first allocation of a body whose size is not known. */
#define FIRST_CAPACITY 4096

void lossd_body_init(lossd_body *b, size_t align_at)
{
    memset(b, 0, sizeof *b);
    b->align_at = align_at;
}

/* Moves the body into a block with room for `cap` bytes. */
static bool regrow(lossd_body *b, size_t cap)
{
    LOSSD_ASSERT(cap >= b->len);
    size_t pad = LOSSD_BODY_ALIGN - 1, spare = 1;
    if (cap > SIZE_MAX - pad - spare)
        return false;
    size_t mapped;
    char *block = lossd_huge_alloc(cap + pad + spare, &mapped, 0);
    if (block == NULL)
        return false;
    /* data + align_at on a multiple of LOSSD_BODY_ALIGN */
    uintptr_t want = ((uintptr_t)block + (b->align_at % LOSSD_BODY_ALIGN) + pad) &
                     ~(uintptr_t)(LOSSD_BODY_ALIGN - 1);
    char *data = block + (want - (uintptr_t)block) - b->align_at % LOSSD_BODY_ALIGN;
    if (b->len)
        memcpy(data, b->data, b->len);
    lossd_huge_free(b->block, b->mapped);
    b->block = block;
    b->mapped = mapped;
    b->data = data;
    b->cap = cap;
    return true;
}

bool lossd_body_reserve(lossd_body *b, size_t total)
{
    return total <= b->cap || regrow(b, total);
}

char *lossd_body_space(lossd_body *b, size_t min, size_t max, size_t *room)
{
    LOSSD_ASSERT(max >= b->len && max - b->len >= min);
    if (b->cap - b->len < min) {
        size_t cap = b->cap ? b->cap : FIRST_CAPACITY;
        while (cap - b->len < min && cap <= SIZE_MAX / 2)
            cap *= 2;
        if (cap > max)
            cap = max;
        if (cap - b->len < min || !regrow(b, cap))
            return NULL;
    }
    *room = b->cap - b->len;
    return b->data + b->len;
}

void lossd_body_commit(lossd_body *b, size_t n)
{
    LOSSD_ASSERT(n <= b->cap - b->len);
    b->len += n;
}

bool lossd_body_append(lossd_body *b, const void *bytes, size_t n, size_t max)
{
    size_t room;
    if (n == 0)
        return true;
    char *at = lossd_body_space(b, n, max, &room);
    if (at == NULL)
        return false;
    memcpy(at, bytes, n);
    b->len += n;
    return true;
}

void lossd_body_cleanup(lossd_body *b)
{
    lossd_huge_free(b->block, b->mapped);
    size_t align_at = b->align_at;
    lossd_body_init(b, align_at);
}
