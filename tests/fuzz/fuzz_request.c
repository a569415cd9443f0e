/* SPDX-License-Identifier: MIT */
/* fuzz_request.c - libFuzzer target: the whole request path (see fuzz.h). */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_request(data, size);
    return 0;
}
