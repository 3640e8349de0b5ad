// Run-time choice of the pixel kernels' AVX2 versions (see simd.h).
#include <cstdlib>
#include <cstring>

#include "pixels.h"
#include "simd.h"

namespace dml {
namespace {

bool Detect() {
#ifdef DML_AVX2
  const char* off = std::getenv("DML_NO_SIMD");
  if (off && *off && std::strcmp(off, "0") != 0) return false;
  return __builtin_cpu_supports("avx2");
#else
  return false;
#endif
}

const bool kSimd = Detect();

}  // namespace

bool ImageKernelsUseSimd() { return kSimd; }

}  // namespace dml
