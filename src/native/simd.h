// What the pixel kernels' AVX2 versions share. They are compiled with target("avx2") attributes
// into the portable (baseline x86-64) build and chosen at run time by ImageKernelsUseSimd().
#pragma once

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define DML_AVX2 1
#define DML_TARGET_AVX2 __attribute__((target("avx2")))

namespace dml {

// 32 int32 lanes (a0: bytes 0-7, ..., a3: bytes 24-31) to 32 bytes, each clamped to [0, 255].
DML_TARGET_AVX2 inline __m256i PackBytes(__m256i a0, __m256i a1, __m256i a2, __m256i a3) {
  // The packs work within 128-bit lanes; the permute puts the 32 bytes back in order.
  const __m256i p = _mm256_packus_epi16(_mm256_packs_epi32(a0, a1), _mm256_packs_epi32(a2, a3));
  return _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

}  // namespace dml
#endif
