/* SPDX-License-Identifier: MIT */
/*
 * bench_oriented.c - liblossd's side of bench/oriented: the oriented-box
 * losses and matrices timed on data the driver wrote, so that lossd,
 * PyTorch and shapely see the very same boxes.
 *
 * Usage: bench_oriented A.f64 B.f64
 *   A.f64, B.f64: raw little-endian float64 cxcywhr boxes, 5 per box.
 * Then one command per line on stdin:
 *   loss NAME forward|grad N REPEATS   NAME over the first N pairs (A[i], B[i]), mean
 *   pairwise NAME N M REPEATS          NAME's (N, M) matrix of A[:N] against B[:M]
 * For each, the call is made REPEATS times (after one warm-up call) and one
 * line answers: the median seconds per call, the fastest and slowest, and a
 * checksum (the loss, or the matrix's mean) the driver compares with its
 * references. Each call is what a library user pays: init, operands,
 * compute (validation, allocation, kernel, reduction), cleanup.
 * Single-threaded; prints figures, never passes or fails on time.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lossd/lossd.h>

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double *load(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    fseek(f, 0, SEEK_END);
    long bytes = ftell(f);
    rewind(f);
    double *data = malloc(bytes > 0 ? (size_t)bytes : 1);
    *n = data ? fread(data, sizeof(double), (size_t)bytes / sizeof(double), f) : 0;
    fclose(f);
    return data;
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* One call; returns its seconds and sets *checksum, or -1 on an error (printed). */
static double one_call(const lossd_function *fn, bool pairwise, bool grad, const double *a,
                       size_t n, const double *b, size_t m, double *checksum)
{
    size_t sa[2] = {n, 5}, sb[2] = {m, 5};
    lossd_tensor ta, tb;
    lossd_tensor_view(&ta, a, 2, sa);
    lossd_tensor_view(&tb, b, 2, sb);
    lossd_call c;
    lossd_error err = {0};
    double start = now_seconds();
    lossd_call_init(&c, fn);
    c.want_stats = false; /* what PyTorch computes: values (and gradients) */
    c.want_grad = grad;
    int rc = lossd_call_set_operand(&c, pairwise ? "boxes1" : "input", &ta, &err);
    if (rc == 0)
        rc = lossd_call_set_operand(&c, pairwise ? "boxes2" : "target", &tb, &err);
    if (rc == 0)
        rc = lossd_call_compute(&c, &err);
    if (rc == 0) {
        double sum = 0;
        if (pairwise)
            for (size_t i = 0; i < c.output.size; i++)
                sum += c.output.data[i];
        *checksum = pairwise ? sum / (double)(c.output.size ? c.output.size : 1) : c.loss;
        if (grad)
            *checksum += 0 * c.grad[0]; /* read the gradient */
    }
    lossd_call_cleanup(&c);
    double seconds = now_seconds() - start;
    if (rc != 0) {
        printf("error %s\n", err.message);
        return -1;
    }
    return seconds;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: bench_oriented A.f64 B.f64 (commands on stdin)\n");
        return 2;
    }
    size_t na, nb;
    double *a = load(argv[1], &na), *b = load(argv[2], &nb);
    if (a == NULL || b == NULL) {
        fprintf(stderr, "bench_oriented: cannot read %s or %s\n", argv[1], argv[2]);
        return 2;
    }
    char line[256];
    setvbuf(stdout, NULL, _IOLBF, 0);
    while (fgets(line, sizeof line, stdin)) {
        char what[16], name[32], mode[16] = "forward";
        size_t n = 0, m = 0;
        int repeats = 0;
        bool pairwise = strncmp(line, "pairwise", 8) == 0;
        int got = pairwise ? sscanf(line, "%15s %31s %zu %zu %d", what, name, &n, &m, &repeats)
                           : sscanf(line, "%15s %31s %15s %zu %d", what, name, mode, &n, &repeats);
        if (got != 5 || repeats < 1 || repeats > 1000 || 5 * n > na ||
            5 * (pairwise ? m : n) > nb) {
            printf("error bad command: %s", line);
            continue;
        }
        const lossd_function *fn =
            lossd_function_find(pairwise ? LOSSD_KIND_PAIRWISE : LOSSD_KIND_LOSS, name);
        if (fn == NULL) {
            printf("error no function %s\n", name);
            continue;
        }
        bool grad = strcmp(mode, "grad") == 0;
        double checksum = 0, times[1000];
        if (one_call(fn, pairwise, grad, a, n, b, pairwise ? m : n, &checksum) < 0)
            continue; /* the warm-up failed: the error is printed */
        for (int r = 0; r < repeats; r++)
            times[r] = one_call(fn, pairwise, grad, a, n, b, pairwise ? m : n, &checksum);
        qsort(times, (size_t)repeats, sizeof times[0], compare_doubles);
        printf("%.9g %.9g %.9g %.17g\n", times[repeats / 2], times[0], times[repeats - 1],
               checksum);
    }
    free(a);
    free(b);
    return 0;
}
