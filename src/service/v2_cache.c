/* SPDX-License-Identifier: MIT */
/*
 * v2_cache.c - parsed /v2 headers, per thread (see v2_cache.h).
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "v2_cache.h"

#define HEADER_CACHE_ENTRIES 4
#define HEADER_CACHE_MAX     2048 /* bytes of header; larger ones are parsed every time */

typedef struct {
    uint64_t hash;
    size_t len;
    char *text;   /* the header's bytes */
    json_t *tree; /* parsed outside any arena (malloc'd); read only */
    uint64_t used;
} cached_header;

struct v2_header_cache {
    cached_header entry[HEADER_CACHE_ENTRIES];
    uint64_t clock;
};

static pthread_key_t cache_key;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;
static bool cache_ready;

static void cache_drop(cached_header *e)
{
    free(e->text);
    json_decref(e->tree);
    memset(e, 0, sizeof *e);
}

static void cache_destroy(void *arg)
{
    struct v2_header_cache *cache = arg;
    for (size_t i = 0; i < HEADER_CACHE_ENTRIES; i++)
        cache_drop(&cache->entry[i]);
    free(cache);
}

static void cache_init(void)
{
    cache_ready = pthread_key_create(&cache_key, cache_destroy) == 0;
}

/* This thread's cache, created on first use; NULL when out of memory. */
static struct v2_header_cache *thread_cache(void)
{
    pthread_once(&cache_once, cache_init);
    if (!cache_ready)
        return NULL;
    struct v2_header_cache *cache = pthread_getspecific(cache_key);
    if (cache == NULL && (cache = calloc(1, sizeof *cache)) != NULL &&
        pthread_setspecific(cache_key, cache) != 0) {
        free(cache);
        cache = NULL;
    }
    return cache;
}

/* FNV-1a: cheap, and good enough to tell a handful of headers apart (bytes are compared too). */
static uint64_t header_hash(const char *text, size_t len)
{
    uint64_t h = 14695981039346656037ull;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)text[i]) * 1099511628211ull;
    return h;
}

const json_t *lossd_v2_cache_find(const char *text, size_t len, lossd_v2_cache_key *key)
{
    key->cache = len <= HEADER_CACHE_MAX ? thread_cache() : NULL;
    if (key->cache == NULL)
        return NULL;
    key->hash = header_hash(text, len);
    for (size_t i = 0; i < HEADER_CACHE_ENTRIES; i++) {
        cached_header *e = &key->cache->entry[i];
        if (e->tree && e->hash == key->hash && e->len == len && memcmp(e->text, text, len) == 0) {
            e->used = ++key->cache->clock;
            return e->tree;
        }
    }
    return NULL;
}

/* In place of the least recently used entry. */
void lossd_v2_cache_put(const lossd_v2_cache_key *key, const char *text, size_t len,
                        const json_t *tree)
{
    struct v2_header_cache *cache = key->cache;
    if (cache == NULL)
        return;
    cached_header *e = &cache->entry[0];
    for (size_t i = 1; i < HEADER_CACHE_ENTRIES; i++)
        if (cache->entry[i].used < e->used)
            e = &cache->entry[i];
    cache_drop(e);
    json_t *copy = json_deep_copy(tree); /* no arena is active here: plain malloc */
    char *bytes = malloc(len ? len : 1);
    if (copy == NULL || bytes == NULL) {
        json_decref(copy);
        free(bytes);
        return;
    }
    memcpy(bytes, text, len);
    *e = (cached_header){key->hash, len, bytes, copy, ++cache->clock};
}
