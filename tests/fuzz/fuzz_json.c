/* SPDX-License-Identifier: MIT */
/* fuzz_json.c - libFuzzer target: JSON validation alone (see fuzz.h). */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_json(data, size);
    return 0;
}
