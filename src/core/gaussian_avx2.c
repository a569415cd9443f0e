/* SPDX-License-Identifier: MIT */
/*
 * gaussian_avx2.c - gaussian.c compiled again for AVX2 (simd.h explains
 * the twins); empty where the build has no AVX2 twins.
 */
#define LOSSD_SIMD_AVX2 1
#include "simd.h"

#ifdef LOSSD_SIMD_AVX2
#include "gaussian.c"
#else
typedef int lossd__gaussian_avx2_unused; /* ISO C wants something in a translation unit */
#endif
