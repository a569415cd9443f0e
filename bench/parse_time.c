/* SPDX-License-Identifier: MIT */
/*
 * parse_time.c - how long jansson alone takes to parse a request body, the
 * floor under any jansson-based server's end-to-end time for that body.
 * Parses the file as lossd does (json_loadb on the exact length, duplicate
 * keys rejected, integers as reals) and frees the tree, `runs` times, and
 * prints the fastest and the median in seconds.
 *
 *   bench/parse_time FILE [RUNS]
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE [RUNS]\n", argv[0]);
        return 2;
    }
    int runs = argc > 2 ? atoi(argv[2]) : 7;
    FILE *f = fopen(argv[1], "rb");
    if (f == NULL) {
        perror(argv[1]);
        return 1;
    }
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    rewind(f);
    char *body = malloc((size_t)len);
    if (body == NULL || fread(body, 1, (size_t)len, f) != (size_t)len) {
        fprintf(stderr, "cannot read %s\n", argv[1]);
        return 1;
    }
    fclose(f);
    double *times = malloc((size_t)runs * sizeof *times);
    for (int i = 0; i < runs; i++) {
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        json_error_t err;
        json_t *root =
            json_loadb(body, (size_t)len, JSON_REJECT_DUPLICATES | JSON_DECODE_INT_AS_REAL, &err);
        if (root == NULL) {
            fprintf(stderr, "%s: %s\n", argv[1], err.text);
            return 1;
        }
        json_decref(root);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        times[i] = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    }
    qsort(times, (size_t)runs, sizeof *times, cmp);
    printf("{\"bytes\": %ld, \"runs\": %d, \"min_s\": %.6f, \"median_s\": %.6f}\n", len, runs,
           times[0], times[runs / 2]);
    free(times);
    free(body);
    return 0;
}
