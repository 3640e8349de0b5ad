// Moving bytes between layouts: ToTensor (HWC uint8 -> CHW float v / 255, as torchvision's
// to_tensor: x.float().div(255)) and FLIP_LEFT_RIGHT.
#include <algorithm>
#include <cstring>

#include "pixels.h"
#include "simd.h"

namespace dml {
namespace {

void BytesToFloatScalar(const uint8_t* src, size_t pixels, int C, float* out) {
  float lut[256];
  for (int v = 0; v < 256; v++) lut[v] = static_cast<float>(v) / 255.0f;
  for (int c = 0; c < C; c++) {
    float* o = out + c * pixels;
    for (size_t i = 0; i < pixels; i++) o[i] = lut[src[i * C + c]];
  }
}

#ifdef DML_AVX2
// RGB, 16 pixels (48 bytes) per step: byte shuffles split the channels, then widen, convert and
// divide (IEEE division: the same floats as the scalar v / 255.0f).
DML_TARGET_AVX2 void Rgb16ToFloat(__m128i a, __m128i b, __m128i c, float* r, float* g, float* bl) {
  static const int8_t kMask[3][3][16] = {
      {{0, 3, 6, 9, 12, 15, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1}, {-1, -1, -1, -1, -1, -1, 2, 5, 8, 11, 14, -1, -1, -1, -1, -1}, {-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 1, 4, 7, 10, 13}},
      {{1, 4, 7, 10, 13, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1}, {-1, -1, -1, -1, -1, 0, 3, 6, 9, 12, 15, -1, -1, -1, -1, -1}, {-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 2, 5, 8, 11, 14}},
      {{2, 5, 8, 11, 14, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1}, {-1, -1, -1, -1, -1, 1, 4, 7, 10, 13, -1, -1, -1, -1, -1, -1}, {-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 0, 3, 6, 9, 12, 15}},
  };
  const __m256 d = _mm256_set1_ps(255.0f);
  float* outs[3] = {r, g, bl};
  for (int ch = 0; ch < 3; ch++) {
    const __m128i v = _mm_or_si128(_mm_or_si128(_mm_shuffle_epi8(a, _mm_loadu_si128(reinterpret_cast<const __m128i*>(kMask[ch][0]))),
                                                _mm_shuffle_epi8(b, _mm_loadu_si128(reinterpret_cast<const __m128i*>(kMask[ch][1])))),
                                   _mm_shuffle_epi8(c, _mm_loadu_si128(reinterpret_cast<const __m128i*>(kMask[ch][2]))));
    _mm256_storeu_ps(outs[ch], _mm256_div_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(v)), d));
    _mm256_storeu_ps(outs[ch] + 8, _mm256_div_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(v, 8))), d));
  }
}

DML_TARGET_AVX2 void RgbToFloatAvx2(const uint8_t* src, size_t pixels, float* out) {
  float *r = out, *g = out + pixels, *b = out + 2 * pixels;
  size_t i = 0;
  for (; i + 16 <= pixels; i += 16) {
    const __m128i* p = reinterpret_cast<const __m128i*>(src + 3 * i);
    Rgb16ToFloat(_mm_loadu_si128(p), _mm_loadu_si128(p + 1), _mm_loadu_si128(p + 2), r + i, g + i, b + i);
  }
  for (; i < pixels; i++) {
    r[i] = static_cast<float>(src[3 * i]) / 255.0f;
    g[i] = static_cast<float>(src[3 * i + 1]) / 255.0f;
    b[i] = static_cast<float>(src[3 * i + 2]) / 255.0f;
  }
}
#endif

}  // namespace

void BytesToFloat(const uint8_t* src, size_t pixels, int C, float* out) {
#ifdef DML_AVX2
  if (C == 3 && ImageKernelsUseSimd()) return RgbToFloatAvx2(src, pixels, out);
#endif
  BytesToFloatScalar(src, pixels, C, out);
}

void FlipBytes(const uint8_t* src, int W, int H, int C, uint8_t* out) {
  const size_t stride = static_cast<size_t>(W) * C;
  for (int y = 0; y < H; y++) {
    const uint8_t* s = src + y * stride;
    uint8_t* d = out + y * stride + stride;
    if (C == 3) {
      for (int x = 0; x < W; x++, s += 3) {
        d -= 3;
        d[0] = s[0];
        d[1] = s[1];
        d[2] = s[2];
      }
    } else if (C == 1) {
      std::reverse_copy(s, s + W, out + y * stride);
    } else {
      for (int x = 0; x < W; x++, s += C) {
        d -= C;
        std::memcpy(d, s, C);
      }
    }
  }
}

}  // namespace dml
