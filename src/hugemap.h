/* SPDX-License-Identifier: MIT */
/*
 * hugemap.h - large blocks as mappings of their own, on huge page
 * boundaries, with transparent huge pages asked for.
 *
 * A request body or an output of megabytes, from malloc, is a fresh
 * mapping each time, touched page by page: a 6.4 MB binary request body
 * took 1,600 page faults and its 3.2 MB gradient 800, which on a virtual
 * machine cost more than copying the bytes and computing the loss (a
 * 100,000-box binary CIoU request: 52 ms, against 18 ms now and 15 ms for
 * the transfer floor). A mapping that starts on a 2 MiB boundary and asks
 * for huge pages takes one fault per 2 MiB where the system has them on
 * (madvise mode, as Debian's default). The mapping is as long as asked (to
 * the page): the last part of a huge page is served by small pages, so the
 * resident size stays that of the block.
 *
 * Shared by the core library (call.c's outputs) and the service (body.c);
 * internal, never installed. Any thread. Linux; elsewhere plain malloc.
 */
#ifndef LOSSD_HUGEMAP_H
#define LOSSD_HUGEMAP_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#ifdef __linux__
#include <sys/mman.h>
#endif

/* Blocks from this size up are mappings (one huge page on x86-64). */
#define LOSSD_HUGE_MIN ((size_t)2 << 20)

/*
 * A block of `size` bytes: a mapping from LOSSD_HUGE_MIN up (Linux), else
 * malloc's. *mapped: the mapping's length, 0 for malloc. NULL when out of
 * memory. Free with lossd_huge_free(block, *mapped).
 *
 * populate: the caller will write every byte at once (a call's output), so
 * the pages are made resident now, in one system call instead of a fault
 * per page; not for a request body, which fills as slowly as its client
 * sends it.
 */
static inline void *lossd_huge_alloc(size_t size, size_t *mapped, int populate)
{
    *mapped = 0;
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    if (size >= LOSSD_HUGE_MIN && size <= SIZE_MAX - 2 * LOSSD_HUGE_MIN) {
        size_t len = (size + 4095) & ~(size_t)4095;
        size_t span = len + LOSSD_HUGE_MIN; /* room to start on a boundary */
        char *p = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
            return NULL;
        char *at = (char *)(((uintptr_t)p + LOSSD_HUGE_MIN - 1) & ~(uintptr_t)(LOSSD_HUGE_MIN - 1));
        if (at > p)
            munmap(p, (size_t)(at - p));
        if (p + span > at + len)
            munmap(at + len, (size_t)(p + span - (at + len)));
        madvise(at, len, MADV_HUGEPAGE); /* a hint: where it is refused, small pages */
#ifdef MADV_POPULATE_WRITE
        if (populate)
            madvise(at, len, MADV_POPULATE_WRITE); /* Linux 5.14; a hint before */
#endif
        *mapped = len;
        return at;
    }
#endif
    (void)populate;
    return malloc(size);
}

static inline void lossd_huge_free(void *block, size_t mapped)
{
#ifdef __linux__
    if (mapped) {
        munmap(block, mapped);
        return;
    }
#endif
    free(block);
}

#endif
