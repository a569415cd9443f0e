/* SPDX-License-Identifier: MIT */
/*
 * oriented_avx2.c - oriented.c compiled again for AVX2 (simd.h explains
 * the twins); empty where the build has no AVX2 twins.
 */
#define LOSSD_SIMD_AVX2 1
#include "simd.h"

#ifdef LOSSD_SIMD_AVX2
#include "oriented.c"
#else
typedef int lossd__oriented_avx2_unused; /* ISO C wants something in a translation unit */
#endif
