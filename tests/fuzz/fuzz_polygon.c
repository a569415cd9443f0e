/* SPDX-License-Identifier: MIT */
/* fuzz_polygon.c - libFuzzer target: the convex-polygon kernel's oracle (see fuzz.h). */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_polygon(data, size);
    return 0;
}
