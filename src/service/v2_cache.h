/* SPDX-License-Identifier: MIT */
/*
 * v2_cache.h - parsed /v2 binary request headers, per thread.
 *
 * A client that sends binary tensors of the same shapes sends the same
 * JSON header, byte for byte, every time: tritonclient builds it from the
 * inputs' names, shapes and datatypes, which a training loop or an
 * evaluation job repeats. Parsing it again costs more than everything
 * else a small request does (jansson reads ~200 instructions a byte), so
 * each thread keeps the trees of its last few such headers, keyed by their
 * exact bytes, and reads a repeated header from its tree (a tree says
 * nothing of the model: the same header sent to another model is read
 * against that model's row like any other).
 * Only headers without numbers in them ("data") are kept - those rarely
 * repeat - and only small ones; the tree is read exactly as a freshly
 * parsed one is, so a cached request is validated like any other.
 *
 * Threading: each thread has its own cache (a pthread key, freed when the
 * thread ends); nothing is shared. A tree found is the thread's own and
 * stays valid until that thread's next lossd_v2_cache_put().
 */
#ifndef LOSSD_SERVICE_V2_CACHE_H
#define LOSSD_SERVICE_V2_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* Where a header would go in this thread's cache: filled by lossd_v2_cache_find(). */
typedef struct {
    struct v2_header_cache *cache; /* NULL: not cacheable (too large, out of memory) */
    uint64_t hash;
} lossd_v2_cache_key;

/*
 * The tree of header text[0..len) when this thread has it (read only),
 * else NULL; key is set for a later lossd_v2_cache_put().
 */
const json_t *lossd_v2_cache_find(const char *text, size_t len, lossd_v2_cache_key *key);

/* Keeps a copy of the header and of its tree (which must not be in an arena). */
void lossd_v2_cache_put(const lossd_v2_cache_key *key, const char *text, size_t len,
                        const json_t *tree);

#endif /* LOSSD_SERVICE_V2_CACHE_H */
