/*
 * fuzz.h - the fuzzing entry points, shared by the libFuzzer targets
 * (--enable-fuzzing) and by tests/check_fuzz_replay, which runs every seed
 * and every saved crash input through them in the normal test suite.
 *
 * Both abort() on a broken invariant, so libFuzzer records the input:
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

#endif /* LOSSD_TESTS_FUZZ_H */
