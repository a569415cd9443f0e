/* SPDX-License-Identifier: MIT */
/*
 * fuzz.h - the fuzzing entry points, shared by the libFuzzer targets
 * (--enable-fuzzing) and by tests/check_fuzz_replay, which runs every seed
 * and every saved crash input through them in the normal test suite.
 *
 * All abort() on a broken invariant, so libFuzzer records the input:
 *   - a reply that is not one JSON object, or whose status is not one of
 *     the contract's for that input (never 500);
 *   - any crash, leak or undefined behaviour (the sanitizers).
 */
#ifndef LOSSD_TESTS_FUZZ_H
#define LOSSD_TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>

/* One-time set-up (jansson's seed and allocator). */
void fuzz_init(void);

/*
 * The whole request path below HTTP: the input's first line is the path
 * ("/v1/loss/giou"), the rest the body. Routes, parses, validates, computes
 * and serialises like a worker, then checks the reply.
 */
void fuzz_request(const uint8_t *data, size_t size);

/*
 * JSON validation alone: the first byte picks a registered function, the
 * rest is the body; load, bind and prepare (no computation).
 */
void fuzz_json(const uint8_t *data, size_t size);

/*
 * The Open Inference Protocol's framing and header parsing: byte 0 picks a
 * registered function (its model), byte 1 holds flags (bit 0: the
 * request has an Inference-Header-Content-Length header; bit 1: the body
 * is gzip, bit 2: deflate - inflated first, as the server does, under a
 * small --max-body; bits 3-4: the client's Accept-Encoding), then a line
 * that is the header's text, then the body. Parses the header value as
 * the server does, serves the request like a worker and checks the reply:
 * a status of the contract, a v2 error string, or a JSON header whose
 * binary_data_size add up to the binary bytes that follow it.
 */
void fuzz_v2(const uint8_t *data, size_t size);

/*
 * The convex-polygon kernel under the oriented-box losses (core only; no
 * JSON): the bytes build two polygons, random or adversarial, and the
 * oracle of polyoracle.h checks the intersection, the hull and riou/rgiou
 * of them (tests/fuzz/polyoracle.c).
 */
void fuzz_polygon(const uint8_t *data, size_t size);

#endif /* LOSSD_TESTS_FUZZ_H */
