/* SPDX-License-Identifier: MIT */
/*
 * polygon_avx2.c - polygon.c compiled again for AVX2, for oriented.c's
 * AVX2 twin (polygon.h says why); empty where the build has no AVX2 twins.
 */
#define LOSSD_SIMD_AVX2 1
#include "simd.h"

#ifdef LOSSD_SIMD_AVX2
#include "polygon.c"
#else
typedef int lossd__polygon_avx2_unused; /* ISO C wants something in a translation unit */
#endif
