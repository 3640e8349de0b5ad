// Pillow's antialiased bilinear resampler (Resample.c: precompute_coeffs, normalize_coeffs_8bpc,
// ImagingResampleHorizontal/Vertical_8bpc) on HWC uint8 images, bit for bit. It is the data
// loader's hot spot, so on x86-64 CPUs with AVX2 both passes run hand-vectorised kernels, chosen
// at run time (the portable build targets baseline x86-64, whose SSE2 has no 32-bit multiply).
// They stay exact: they add the same 32-bit integer products as Pillow, only in another order,
// and integer addition does not care. DML_NO_SIMD=1 forces the scalar loops (tests compare both).
#include "pixels.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "simd.h"

namespace dml {
namespace {

constexpr int kPrecisionBits = 32 - 8 - 2;
constexpr int32_t kHalf = 1 << (kPrecisionBits - 1);

struct Coeffs {
  std::vector<int> first, count;
  std::vector<int32_t> weights;
  int ksize = 0;
};

// Bilinear (triangle, support 1) taps of an axis of inSize samples resized to outSize; the
// filter widens by the scale when shrinking (antialiasing).
Coeffs Precompute(int inSize, int outSize) {
  const double scale = static_cast<double>(inSize) / outSize;
  const double filterscale = scale < 1.0 ? 1.0 : scale;
  const double support = filterscale;
  Coeffs c;
  c.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
  c.first.resize(outSize);
  c.count.resize(outSize);
  c.weights.assign(static_cast<size_t>(outSize) * c.ksize, 0);
  std::vector<double> pre(c.ksize);
  const double ss = 1.0 / filterscale;
  for (int xx = 0; xx < outSize; xx++) {
    const double center = (xx + 0.5) * scale;
    int xmin = static_cast<int>(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    int xmax = static_cast<int>(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    double ww = 0.0;
    for (int x = 0; x < xmax; x++) {
      double t = (x + xmin - center + 0.5) * ss;
      if (t < 0) t = -t;
      pre[x] = t < 1.0 ? 1.0 - t : 0.0;
      ww += pre[x];
    }
    int32_t* k = &c.weights[static_cast<size_t>(xx) * c.ksize];
    for (int x = 0; x < xmax; x++) {
      const double w = ww != 0.0 ? pre[x] / ww : pre[x];
      k[x] = static_cast<int32_t>(w < 0 ? -0.5 + w * (1 << kPrecisionBits) : 0.5 + w * (1 << kPrecisionBits));
    }
    c.first[xx] = xmin;
    c.count[xx] = xmax < 0 ? 0 : xmax;
  }
  return c;
}

// The taps of outputs [from, from + n) only: a window of the resized image costs only its own pixels.
Coeffs Slice(const Coeffs& c, int from, int n) {
  Coeffs s;
  s.ksize = c.ksize;
  s.first.assign(c.first.begin() + from, c.first.begin() + from + n);
  s.count.assign(c.count.begin() + from, c.count.begin() + from + n);
  s.weights.assign(c.weights.begin() + static_cast<size_t>(from) * c.ksize, c.weights.begin() + static_cast<size_t>(from + n) * c.ksize);
  return s;
}

inline uint8_t Clip8(int32_t in) {
  const int32_t v = in >> kPrecisionBits;
  return v < 0 ? 0 : v > 255 ? 255 : static_cast<uint8_t>(v);
}

// Output columns [x0, x1) of one row (`in` points at the box's first pixel), scalar.
void HorizontalRow(const uint8_t* in, int channels, const Coeffs& c, int x0, int x1, uint8_t* o) {
  for (int xx = x0; xx < x1; xx++) {
    const int32_t* k = &c.weights[static_cast<size_t>(xx) * c.ksize];
    const uint8_t* p = in + static_cast<size_t>(c.first[xx]) * channels;
    const int n = c.count[xx];
    uint8_t* q = o + static_cast<size_t>(xx) * channels;
    if (channels == 3) {
      int32_t s0 = kHalf, s1 = kHalf, s2 = kHalf;
      for (int t = 0; t < n; t++, p += 3) {
        s0 += p[0] * k[t];
        s1 += p[1] * k[t];
        s2 += p[2] * k[t];
      }
      q[0] = Clip8(s0);
      q[1] = Clip8(s1);
      q[2] = Clip8(s2);
      continue;
    }
    for (int ch = 0; ch < channels; ch++) {
      int32_t s = kHalf;
      for (int t = 0; t < n; t++) s += p[t * channels + ch] * k[t];
      q[ch] = Clip8(s);
    }
  }
}

// Rows [rowFirst, rowFirst + rows) of the box, resampled horizontally to c.count.size() columns.
void Horizontal(const uint8_t* src, int width, int channels, int boxX, int rowFirst, int rows, const Coeffs& c, uint8_t* out) {
  const int outW = static_cast<int>(c.count.size());
  const size_t stride = static_cast<size_t>(width) * channels;
  for (int r = 0; r < rows; r++) {
    HorizontalRow(src + (rowFirst + r) * stride + static_cast<size_t>(boxX) * channels, channels, c, 0, outW, out + static_cast<size_t>(r) * outW * channels);
  }
}

// Output rows of rowLen bytes from rows of src (the first tap row of output yy is srcRow0 +
// c.first[yy]), scalar.
void Vertical(const uint8_t* src, size_t stride, size_t rowOffset, int rowLen, int srcRow0, const Coeffs& c, uint8_t* out) {
  const int outH = static_cast<int>(c.count.size());
  std::vector<int32_t> acc(rowLen);
  for (int yy = 0; yy < outH; yy++) {
    std::fill(acc.begin(), acc.end(), kHalf);
    const int32_t* k = &c.weights[static_cast<size_t>(yy) * c.ksize];
    for (int t = 0; t < c.count[yy]; t++) {
      const uint8_t* in = src + (srcRow0 + c.first[yy] + t) * stride + rowOffset;
      const int32_t w = k[t];
      for (int i = 0; i < rowLen; i++) acc[i] += in[i] * w;
    }
    uint8_t* o = out + static_cast<size_t>(yy) * rowLen;
    for (int i = 0; i < rowLen; i++) o[i] = Clip8(acc[i]);
  }
}

#ifdef DML_AVX2

// RGB rows, two at a time, with two taps per step: 8 bytes loaded at a pixel give that pixel and
// the next, spread by a byte shuffle into 32-bit lanes [R G B 0 | R' G' B' 0] and multiplied by
// [k k k 0 | k' k' k' 0]. A load reads 2 bytes past the pair (and a whole pixel past an odd count,
// weighted 0): pixels whose last load would leave the image take the scalar path, as does a last
// odd row.
DML_TARGET_AVX2 void Horizontal3Avx2(const uint8_t* src, const uint8_t* srcEnd, int width, int boxX, int rowFirst, int rows, const Coeffs& c, uint8_t* out) {
  const int outW = static_cast<int>(c.count.size());
  const int pairs = (c.ksize + 1) / 2;
  std::vector<int32_t> wv(static_cast<size_t>(outW) * pairs * 8, 0);
  for (int xx = 0; xx < outW; xx++) {
    const int32_t* k = &c.weights[static_cast<size_t>(xx) * c.ksize];
    int32_t* w = &wv[static_cast<size_t>(xx) * pairs * 8];
    for (int t = 0; t < c.count[xx]; t++) std::fill_n(w + (t / 2) * 8 + (t % 2) * 4, 3, k[t]);
  }
  const __m128i spread = _mm_setr_epi8(0, 1, 2, -1, 3, 4, 5, -1, -1, -1, -1, -1, -1, -1, -1, -1);
  const __m256i half = _mm256_set1_epi32(kHalf);
  const size_t stride = static_cast<size_t>(width) * 3;
  // Two rows per step share each output pixel's bookkeeping and weights, and one reduction.
  int r = 0;
  for (; r + 2 <= rows; r += 2) {
    const uint8_t* in0 = src + (rowFirst + r) * stride + static_cast<size_t>(boxX) * 3;
    const uint8_t* in1 = in0 + stride;
    uint8_t* o0 = out + static_cast<size_t>(r) * outW * 3;
    uint8_t* o1 = o0 + static_cast<size_t>(outW) * 3;
    for (int xx = 0; xx < outW; xx++) {
      const int n = c.count[xx], np = (n + 1) / 2;
      const size_t off = static_cast<size_t>(c.first[xx]) * 3;
      if (in1 + off + (np - 1) * 6 + 8 > srcEnd) {
        HorizontalRow(in0, 3, c, xx, xx + 1, o0);
        HorizontalRow(in1, 3, c, xx, xx + 1, o1);
        continue;
      }
      const uint8_t* p0 = in0 + off;
      const uint8_t* p1 = in1 + off;
      const int32_t* w = &wv[static_cast<size_t>(xx) * pairs * 8];
      __m256i a0 = _mm256_setzero_si256(), a1 = _mm256_setzero_si256();
      for (int j = 0; j < np; j++, p0 += 6, p1 += 6, w += 8) {
        const __m256i wj = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w));
        a0 = _mm256_add_epi32(a0, _mm256_mullo_epi32(_mm256_cvtepu8_epi32(_mm_shuffle_epi8(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p0)), spread)), wj));
        a1 = _mm256_add_epi32(a1, _mm256_mullo_epi32(_mm256_cvtepu8_epi32(_mm_shuffle_epi8(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p1)), spread)), wj));
      }
      // [row 0 taps | row 1 taps] halves summed: lane 0 holds row 0's RGB, lane 1 row 1's.
      __m256i s = _mm256_add_epi32(_mm256_permute2x128_si256(a0, a1, 0x20), _mm256_permute2x128_si256(a0, a1, 0x31));
      s = _mm256_srai_epi32(_mm256_add_epi32(s, half), kPrecisionBits);
      // Signed then unsigned saturation: Clip8's clamp to [0, 255].
      s = _mm256_packus_epi16(_mm256_packs_epi32(s, s), s);
      const uint32_t rgb0 = static_cast<uint32_t>(_mm256_extract_epi32(s, 0)), rgb1 = static_cast<uint32_t>(_mm256_extract_epi32(s, 4));
      uint8_t* q0 = o0 + static_cast<size_t>(xx) * 3;
      uint8_t* q1 = o1 + static_cast<size_t>(xx) * 3;
      q0[0] = static_cast<uint8_t>(rgb0);
      q0[1] = static_cast<uint8_t>(rgb0 >> 8);
      q0[2] = static_cast<uint8_t>(rgb0 >> 16);
      q1[0] = static_cast<uint8_t>(rgb1);
      q1[1] = static_cast<uint8_t>(rgb1 >> 8);
      q1[2] = static_cast<uint8_t>(rgb1 >> 16);
    }
  }
  for (; r < rows; r++) HorizontalRow(src + (rowFirst + r) * stride + static_cast<size_t>(boxX) * 3, 3, c, 0, outW, out + static_cast<size_t>(r) * outW * 3);
}

// 32 bytes of an output row per step, four 8-lane accumulators kept in registers over the taps.
DML_TARGET_AVX2 void VerticalAvx2(const uint8_t* src, size_t stride, size_t rowOffset, int rowLen, int srcRow0, const Coeffs& c, uint8_t* out) {
  const int outH = static_cast<int>(c.count.size());
  const __m256i half = _mm256_set1_epi32(kHalf);
  const int vecEnd = rowLen - rowLen % 32;
  for (int yy = 0; yy < outH; yy++) {
    const int32_t* k = &c.weights[static_cast<size_t>(yy) * c.ksize];
    const int n = c.count[yy];
    const uint8_t* in0 = src + (srcRow0 + c.first[yy]) * stride + rowOffset;
    uint8_t* o = out + static_cast<size_t>(yy) * rowLen;
    for (int i = 0; i < vecEnd; i += 32) {
      __m256i a0 = half, a1 = half, a2 = half, a3 = half;
      const uint8_t* in = in0 + i;
      for (int t = 0; t < n; t++, in += stride) {
        const __m256i w = _mm256_set1_epi32(k[t]);
        const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(in));
        const __m128i lo = _mm256_castsi256_si128(b), hi = _mm256_extracti128_si256(b, 1);
        a0 = _mm256_add_epi32(a0, _mm256_mullo_epi32(_mm256_cvtepu8_epi32(lo), w));
        a1 = _mm256_add_epi32(a1, _mm256_mullo_epi32(_mm256_cvtepu8_epi32(_mm_srli_si128(lo, 8)), w));
        a2 = _mm256_add_epi32(a2, _mm256_mullo_epi32(_mm256_cvtepu8_epi32(hi), w));
        a3 = _mm256_add_epi32(a3, _mm256_mullo_epi32(_mm256_cvtepu8_epi32(_mm_srli_si128(hi, 8)), w));
      }
      a0 = _mm256_srai_epi32(a0, kPrecisionBits);
      a1 = _mm256_srai_epi32(a1, kPrecisionBits);
      a2 = _mm256_srai_epi32(a2, kPrecisionBits);
      a3 = _mm256_srai_epi32(a3, kPrecisionBits);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(o + i), PackBytes(a0, a1, a2, a3));
    }
    for (int i = vecEnd; i < rowLen; i++) {
      int32_t s = kHalf;
      const uint8_t* in = in0 + i;
      for (int t = 0; t < n; t++, in += stride) s += *in * k[t];
      o[i] = Clip8(s);
    }
  }
}

#endif

void RunHorizontal(const uint8_t* src, const uint8_t* srcEnd, int width, int channels, int boxX, int rowFirst, int rows, const Coeffs& c, uint8_t* out) {
#ifdef DML_AVX2
  if (channels == 3 && ImageKernelsUseSimd()) return Horizontal3Avx2(src, srcEnd, width, boxX, rowFirst, rows, c, out);
#endif
  (void)srcEnd;
  Horizontal(src, width, channels, boxX, rowFirst, rows, c, out);
}

void RunVertical(const uint8_t* src, size_t stride, size_t rowOffset, int rowLen, int srcRow0, const Coeffs& c, uint8_t* out) {
#ifdef DML_AVX2
  if (ImageKernelsUseSimd()) return VerticalAvx2(src, stride, rowOffset, rowLen, srcRow0, c, out);
#endif
  Vertical(src, stride, rowOffset, rowLen, srcRow0, c, out);
}

}  // namespace

void ResampleBytes(const uint8_t* src, int W, int H, int C, int bx, int by, int bw, int bh, int outW, int outH, int wx, int wy, int ww, int wh, uint8_t* out) {
  const uint8_t* srcEnd = src + static_cast<size_t>(W) * H * C;
  const bool horizontal = outW != bw, vertical = outH != bh;
  // An axis Pillow does not resample is only cropped: its window moves the box.
  if (!horizontal) {
    bx += wx;
    bw = ww;
  }
  if (!vertical) {
    by += wy;
    bh = wh;
  }
  Coeffs vc;
  int y0 = 0, rows = bh;
  if (vertical) {
    vc = Slice(Precompute(bh, outH), wy, wh);
    y0 = vc.first[0];
    rows = vc.first[wh - 1] + vc.count[wh - 1] - y0;
  }
  if (horizontal) {
    const Coeffs hc = Slice(Precompute(bw, outW), wx, ww);
    if (!vertical) {
      RunHorizontal(src, srcEnd, W, C, bx, by, bh, hc, out);
      return;
    }
    // Only the rows the vertical pass reads go through the horizontal pass.
    std::vector<uint8_t> tmp(static_cast<size_t>(rows) * ww * C);
    RunHorizontal(src, srcEnd, W, C, bx, by + y0, rows, hc, tmp.data());
    RunVertical(tmp.data(), static_cast<size_t>(ww) * C, 0, ww * C, -y0, vc, out);
  } else if (vertical) {
    RunVertical(src, static_cast<size_t>(W) * C, static_cast<size_t>(bx) * C, bw * C, by, vc, out);
  } else {
    for (int r = 0; r < bh; r++) std::copy_n(src + (static_cast<size_t>(by + r) * W + bx) * C, static_cast<size_t>(bw) * C, out + static_cast<size_t>(r) * bw * C);
  }
}

}  // namespace dml
