/* SPDX-License-Identifier: MIT */
/*
 * polyoracle.h - the oracle of the convex-polygon kernel, shared by the
 * libFuzzer target tests/fuzz/fuzz_polygon.c, tests/check_fuzz_replay (its
 * seeds and saved crash inputs) and tests/check_polygon.c (random inputs
 * in every `make check`).
 *
 * The input's bytes build two convex polygons of 3 to 8 corners, random
 * or adversarial (identical, turned by 1e-12 or by pi, sharing an edge or
 * a corner, nested with touching edges, zero width, a point, far from the
 * origin), clip and hull them, and check what exact arithmetic guarantees,
 * to a rounding tolerance scaled by the coordinates:
 *   0 <= I <= min(area P, area Q), I(P, Q) = I(Q, P), every vertex of the
 *   intersection inside both polygons, hull area >= max(area P, area Q) and
 *   >= I, provenance indices in range, finite gradients;
 * and, for two quadrilaterals, riou and rgiou through the library's calls:
 * IoU in [0, 1] exactly, the hull at least the union, finite gradients.
 *
 * Single-threaded test code; no allocation outside the library's calls.
 */
#ifndef LOSSD_TESTS_POLYORACLE_H
#define LOSSD_TESTS_POLYORACLE_H

#include <stddef.h>
#include <stdint.h>

/* Input bytes the oracle reads at most (more are ignored, fewer read as zeros). */
#define POLY_ORACLE_BYTES 96

/* NULL when every invariant holds, else a static description of the first that broke. */
const char *poly_oracle(const uint8_t *data, size_t size);

#endif /* LOSSD_TESTS_POLYORACLE_H */
