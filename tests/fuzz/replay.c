/* SPDX-License-Identifier: MIT */
/*
 * replay.c - runs every file of the fuzzing seed corpora and every saved
 * crash input through the fuzzing entry points, in the normal test suite
 * (no libFuzzer needed): a fixed bug stays fixed.
 *
 *   tests/fuzz/corpus/request/, tests/fuzz/regressions/request/  -> fuzz_request
 *   tests/fuzz/corpus/json/,    tests/fuzz/regressions/json/     -> fuzz_json
 *   tests/fuzz/corpus/v2/,      tests/fuzz/regressions/v2/       -> fuzz_v2
 *   tests/fuzz/corpus/polygon/, tests/fuzz/regressions/polygon/  -> fuzz_polygon
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

#ifndef FUZZ_DIR
#error "FUZZ_DIR must point at tests/fuzz"
#endif

static int replay_dir(const char *dir, void (*target)(const uint8_t *, size_t))
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", FUZZ_DIR, dir);
    DIR *d = opendir(path);
    if (d == NULL)
        return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char file[1300];
        snprintf(file, sizeof file, "%s/%s", path, e->d_name);
        FILE *f = fopen(file, "rb");
        if (f == NULL)
            continue;
        fseek(f, 0, SEEK_END);
        long len = ftell(f);
        rewind(f);
        unsigned char *data = malloc(len > 0 ? (size_t)len : 1);
        size_t got = fread(data, 1, (size_t)len, f);
        fclose(f);
        target(data, got);
        free(data);
        n++;
    }
    closedir(d);
    return n;
}

int main(void)
{
    int seeds = replay_dir("corpus/request", fuzz_request) + replay_dir("corpus/json", fuzz_json) +
                replay_dir("corpus/v2", fuzz_v2) + replay_dir("corpus/polygon", fuzz_polygon);
    int fixed = replay_dir("regressions/request", fuzz_request) +
                replay_dir("regressions/json", fuzz_json) + replay_dir("regressions/v2", fuzz_v2) +
                replay_dir("regressions/polygon", fuzz_polygon);
    printf("fuzz replay: %d seeds and %d regression inputs passed\n", seeds, fixed);
    return seeds > 0 ? 0 : 1; /* an empty corpus means a broken checkout */
}
