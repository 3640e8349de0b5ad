// Pillow's antialiased bilinear resampler on HWC uint8 images (see resample.cc). No N-API, no ATen.
#pragma once

#include <cstdint>

namespace dml {

// PIL's img.crop((bx, by, bx + bw, by + bh)).resize((outW, outH), BILINEAR) of a W×H×C image
// (C 1..4, the box inside the image) into out (outW * outH * C bytes), bit for bit.
void ResampleBytes(const uint8_t* src, int W, int H, int C, int bx, int by, int bw, int bh, int outW, int outH, uint8_t* out);

// Whether the AVX2 kernels run: the CPU has AVX2 and DML_NO_SIMD is unset or "0".
bool ResampleUsesSimd();

}  // namespace dml
