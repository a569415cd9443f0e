/* SPDX-License-Identifier: MIT */
/*
 * auth.c - API keys (see auth.h).
 *
 * Every key is padded to one fixed length so that a comparison touches the
 * same bytes whatever the candidate, and every key is compared, so neither
 * the matching key's position nor a matching prefix shows in the timing.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth.h"
#include "util.h"

#define KEY_MAX 256

struct lossd_auth {
    size_t n_keys;
    unsigned char (*keys)[KEY_MAX];
    size_t *lengths;
};

lossd_auth *lossd_auth_load(const char *path, FILE *err)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        fprintf(err, "lossd: --api-key-file %s: %s\n", path, strerror(errno));
        return NULL;
    }
    lossd_auth *a = calloc(1, sizeof *a);
    char line[1024];
    size_t cap = 0, lineno = 0;
    while (a && fgets(line, sizeof line, f)) {
        lineno++;
        char *s = line, *e;
        while (isspace((unsigned char)*s))
            s++;
        e = s + strlen(s);
        while (e > s && isspace((unsigned char)e[-1]))
            *--e = '\0';
        if (*s == '\0' || *s == '#')
            continue;
        size_t len = (size_t)(e - s);
        if (len >= KEY_MAX) {
            fprintf(err, "lossd: --api-key-file %s:%zu: key longer than %d bytes\n", path, lineno,
                    KEY_MAX - 1);
            lossd_auth_destroy(a);
            a = NULL;
            break;
        }
        if (a->n_keys == cap) {
            cap = cap ? 2 * cap : 4;
            void *k = realloc(a->keys, cap * sizeof *a->keys);
            void *l = k ? realloc(a->lengths, cap * sizeof *a->lengths) : NULL;
            if (k)
                a->keys = k;
            if (l == NULL) {
                lossd_auth_destroy(a);
                a = NULL;
                break;
            }
            a->lengths = l;
        }
        memset(a->keys[a->n_keys], 0, KEY_MAX);
        memcpy(a->keys[a->n_keys], s, len);
        a->lengths[a->n_keys++] = len;
    }
    fclose(f);
    if (a && a->n_keys == 0) {
        fprintf(err, "lossd: --api-key-file %s holds no key\n", path);
        lossd_auth_destroy(a);
        return NULL;
    }
    return a;
}

void lossd_auth_destroy(lossd_auth *a)
{
    if (a == NULL)
        return;
    if (a->keys)
        memset(a->keys, 0, a->n_keys * sizeof *a->keys);
    free(a->keys);
    free(a->lengths);
    free(a);
}

bool lossd_auth_check(const lossd_auth *a, const char *authorization)
{
    if (authorization == NULL || !LOSSD_STARTS_WITH_CASE(authorization, "Bearer "))
        return false;
    const char *token = authorization + LOSSD_LITERAL_LEN("Bearer ");
    while (*token == ' ')
        token++;
    size_t len = strlen(token);
    unsigned char candidate[KEY_MAX] = {0};
    memcpy(candidate, token, len < KEY_MAX ? len : KEY_MAX);
    unsigned match = 0;
    for (size_t k = 0; k < a->n_keys; k++) {
        volatile unsigned diff = (unsigned)(len ^ a->lengths[k]);
        for (size_t i = 0; i < KEY_MAX; i++)
            diff |= candidate[i] ^ a->keys[k][i];
        match |= (diff == 0);
    }
    return match != 0;
}
