/* SPDX-License-Identifier: MIT */
/* fuzz_v2.c - libFuzzer target: the Open Inference Protocol's framing (see fuzz.h). */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_v2(data, size);
    return 0;
}
