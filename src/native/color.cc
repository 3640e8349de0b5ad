// ColorJitter's steps with the arithmetic torchvision uses on PIL images: brightness, contrast and
// saturation are ImageEnhance (Image.blend against a degenerate image: Blend.c's float maths,
// truncated to uint8 after every step), hue goes through Convert.c's 8-bit HSV.
// Brightness and contrast map each byte on its own, so consecutive ones fold into one 256-entry
// table, applied while the next pass reads the pixels; saturation and hue (no-ops on grey images,
// as in PIL) take a pass each. A typical three-step jitter thus reads the image twice or three
// times instead of copying it and then passing over it once per step.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "pixels.h"
#include "simd.h"

namespace dml {
namespace {

// Image.blend(degenerate d, image x, alpha) on one value: Blend.c's float arithmetic, truncated and clipped.
inline uint8_t Blend(int d, int x, float alpha) {
  const float t = d + alpha * (x - d);
  return t <= 0.0f ? 0 : t >= 255.0f ? 255 : static_cast<uint8_t>(t);
}

// Convert.c's L24: ITU-R 601-2 luma in 16-bit fixed point.
inline int Luma(int r, int g, int b) { return (r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16; }

// adjust_hue's arithmetic that depends on one or two bytes only — its float divisions and
// conversions — tabulated once per process, each entry by Pillow's own expression.
struct HueTables {
  float quot[256 * 256];     // (float)a / (float)cr at a * 256 + cr
  uint8_t sat[256 * 256];    // us of (cr, maxc) at cr * 256 + maxc
  int sector[256];           // i of hh
  float frac[256];           // f of hh
  float fs[256];             // fs of us
  uint8_t p[256 * 256];      // p of (us, v) at us * 256 + v
  HueTables() {
    for (int cr = 1; cr < 256; cr++) {
      for (int a = 0; a <= cr; a++) quot[a * 256 + cr] = static_cast<float>(a) / static_cast<float>(cr);
      for (int maxc = cr; maxc < 256; maxc++) {
        const float sv = static_cast<float>(cr) / static_cast<float>(maxc);
        sat[cr * 256 + maxc] = static_cast<uint8_t>(std::clamp(static_cast<int>(sv * 255.0), 0, 255));
      }
    }
    for (int x = 0; x < 256; x++) {
      sector[x] = static_cast<int>(std::floor(static_cast<float>(x) * 6.0 / 255.0));
      frac[x] = static_cast<float>(static_cast<float>(x) * 6.0 / 255.0 - static_cast<float>(sector[x]));
      fs[x] = static_cast<float>(static_cast<float>(x) / 255.0);
    }
    for (int us = 0; us < 256; us++) {
      for (int v = 0; v < 256; v++) {
        p[us * 256 + v] = static_cast<uint8_t>(std::clamp(static_cast<int>(std::round(static_cast<float>(v) * (1.0 - fs[us]))), 0, 255));
      }
    }
  }
};

const HueTables& Tables() {
  static const HueTables* t = new HueTables();  // built on first use, thread-safely; never freed
  return *t;
}

// std::round (halves away from zero) and the clamp to a byte, for x in [0, 255]: the truncation
// is the floor there, and x minus it is exact.
inline uint8_t RoundNonNegative(double x) {
  const int t = static_cast<int>(x);
  return static_cast<uint8_t>(t + (x - t >= 0.5 ? 1 : 0));
}

// torchvision's F_pil.adjust_hue on one pixel: convert('HSV') (Convert.c's rgb2hsv_row), H +=
// uint8(shift) wrapping, convert('RGB') (hsv2rgb), with Pillow's float/double mix: the same
// operations in the same order, where a division or a conversion of one or two bytes is a lookup.
// fmod(x, 1) is x or x - 1, exactly, as x = h / 6 + 1 lies in [5/6, 11/6). The tests compare it
// with PIL on a cube of 86^3 colours (and it matched the line-by-line port it replaced on all 2^24).
inline void HueShift(const HueTables& T, const uint8_t* in, uint8_t* out, int shift) {
  const uint8_t r = in[0], g = in[1], b = in[2];
  const uint8_t maxc = std::max(r, std::max(g, b)), minc = std::min(r, std::min(g, b));
  const uint8_t v = maxc;
  if (minc == maxc) {
    out[0] = out[1] = out[2] = v;
    return;
  }
  const int cr = maxc - minc;
  const int us = T.sat[cr * 256 + maxc];
  if (us == 0) {
    out[0] = out[1] = out[2] = v;
    return;
  }
  const float rc = T.quot[(maxc - r) * 256 + cr], gc = T.quot[(maxc - g) * 256 + cr], bc = T.quot[(maxc - b) * 256 + cr];
  float h;
  if (r == maxc) h = bc - gc;
  else if (g == maxc) h = 2.0 + rc - bc;
  else h = 4.0 + gc - rc;
  const double x = h / 6.0 + 1.0;
  h = static_cast<float>(x >= 1.0 ? x - 1.0 : x);
  const int uh = std::clamp(static_cast<int>(h * 255.0), 0, 255);
  const int hh = (uh + shift) & 255;
  const int i = T.sector[hh];
  const float f = T.frac[hh];
  const float fs = T.fs[us];
  const uint8_t p = T.p[us * 256 + v];
  const uint8_t q = RoundNonNegative(static_cast<float>(v) * (1.0 - fs * f));
  const uint8_t t = RoundNonNegative(static_cast<float>(v) * (1.0 - fs * (1.0 - f)));
  switch (i % 6) {
    case 0: out[0] = v; out[1] = t; out[2] = p; break;
    case 1: out[0] = q; out[1] = v; out[2] = p; break;
    case 2: out[0] = p; out[1] = v; out[2] = t; break;
    case 3: out[0] = p; out[1] = q; out[2] = v; break;
    case 4: out[0] = t; out[1] = p; out[2] = v; break;
    default: out[0] = v; out[1] = p; out[2] = q; break;
  }
}

// table[(l << 8) | v] = Blend(l, v, alpha): ImageEnhance.Color's blend of a value with its pixel's luma.
void BlendTable(float alpha, uint8_t* table) {
  for (int l = 0; l < 256; l++) {
    for (int v = 0; v < 256; v++) table[(l << 8) | v] = Blend(l, v, alpha);
  }
}

#ifdef DML_AVX2
// The same table 32 entries at a time, with the same float operations: (float)(v - l) * alpha + l,
// then clamped (min/max then truncation agrees with Blend's comparisons) and truncated.
DML_TARGET_AVX2 void BlendTableAvx2(float alpha, uint8_t* table) {
  const __m256 a = _mm256_set1_ps(alpha), lo = _mm256_setzero_ps(), hi = _mm256_set1_ps(255.0f);
  const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  for (int l = 0; l < 256; l++) {
    const __m256i li = _mm256_set1_epi32(l);
    const __m256 lf = _mm256_set1_ps(static_cast<float>(l));
    for (int v = 0; v < 256; v += 32) {
      __m256i q[4];
      for (int k = 0; k < 4; k++) {
        const __m256i x = _mm256_add_epi32(_mm256_set1_epi32(v + 8 * k), iota);
        const __m256 t = _mm256_add_ps(lf, _mm256_mul_ps(a, _mm256_cvtepi32_ps(_mm256_sub_epi32(x, li))));
        q[k] = _mm256_cvttps_epi32(_mm256_min_ps(_mm256_max_ps(t, lo), hi));
      }
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(table + (l << 8) + v), PackBytes(q[0], q[1], q[2], q[3]));
    }
  }
}
#endif

}  // namespace

void JitterBytes(const uint8_t* src, uint8_t* out, size_t pixels, int C, const int* ops, const double* factors, size_t steps) {
  const size_t n = pixels * C;
  const uint8_t* cur = src;  // the image so far, before `lut`: src until a pass has written out
  uint8_t lut[256];
  bool identity = true;
  auto resetLut = [&]() {
    for (int v = 0; v < 256; v++) lut[v] = static_cast<uint8_t>(v);
    identity = true;
  };
  resetLut();
  std::vector<uint8_t> table;
  for (size_t s = 0; s < steps; s++) {
    const float alpha = static_cast<float>(factors[s]);
    switch (ops[s]) {
      case 0:
        for (int v = 0; v < 256; v++) lut[v] = Blend(0, lut[v], alpha);
        identity = false;
        break;
      case 1: {
        // ImageEnhance.Contrast: int(mean of convert('L') + 0.5), of the image as it is now.
        uint64_t sum = 0;
        if (C == 1) {
          for (size_t i = 0; i < n; i++) sum += lut[cur[i]];
        } else {
          for (size_t i = 0; i < n; i += 3) sum += Luma(lut[cur[i]], lut[cur[i + 1]], lut[cur[i + 2]]);
        }
        const int mean = static_cast<int>(static_cast<double>(sum) / static_cast<double>(pixels) + 0.5);
        for (int v = 0; v < 256; v++) lut[v] = Blend(mean, lut[v], alpha);
        identity = false;
        break;
      }
      case 2: {
        if (C != 3) break;
        table.resize(256 * 256);
#ifdef DML_AVX2
        if (ImageKernelsUseSimd()) BlendTableAvx2(alpha, table.data());
        else BlendTable(alpha, table.data());
#else
        BlendTable(alpha, table.data());
#endif
        for (size_t i = 0; i < n; i += 3) {
          const uint8_t r = lut[cur[i]], g = lut[cur[i + 1]], b = lut[cur[i + 2]];
          const int l = Luma(r, g, b) << 8;
          out[i] = table[l | r];
          out[i + 1] = table[l | g];
          out[i + 2] = table[l | b];
        }
        cur = out;
        resetLut();
        break;
      }
      case 3: {
        if (C != 3) break;
        // numpy's uint8 of the truncated shift: negative values wrap.
        const int shift = static_cast<int>(factors[s] * 255.0) & 255;
        const HueTables& tables = Tables();
        for (size_t i = 0; i < n; i += 3) {
          const uint8_t px[3] = {lut[cur[i]], lut[cur[i + 1]], lut[cur[i + 2]]};
          HueShift(tables, px, out + i, shift);
        }
        cur = out;
        resetLut();
        break;
      }
      default:
        break;  // the caller validates ops
    }
  }
  if (!identity) {
    for (size_t i = 0; i < n; i++) out[i] = lut[cur[i]];
  } else if (cur != out) {
    std::memcpy(out, cur, n);
  }
}

}  // namespace dml
