// Pixel kernels on HWC uint8 images with Pillow's arithmetic — what torchvision's PIL backend
// does — bit for bit. Plain C++: no N-API, no ATen (image.cc is their JS face).
#pragma once

#include <cstddef>
#include <cstdint>

namespace dml {

// Whether the AVX2 kernels run: an x86-64 CPU with AVX2, and DML_NO_SIMD unset or "0" at load.
bool ImageKernelsUseSimd();

// PIL's img.crop((bx, by, bx + bw, by + bh)).resize((outW, outH), BILINEAR) of a W×H×C image
// (C 1..4, the box inside the image), cropped to the window (wx, wy, ww, wh) of the outW×outH
// result (inside it), into out (ww * wh * C bytes). resample.cc.
void ResampleBytes(const uint8_t* src, int W, int H, int C, int bx, int by, int bw, int bh, int outW, int outH, int wx, int wy, int ww, int wh, uint8_t* out);

// ColorJitter's steps in order (ops: 0 brightness, 1 contrast, 2 saturation, 3 hue with factors
// in [-0.5, 0.5]) on `pixels` pixels of C (1 or 3) channels, src into out (may be equal). color.cc.
void JitterBytes(const uint8_t* src, uint8_t* out, size_t pixels, int C, const int* ops, const double* factors, size_t steps);

// ToTensor: HWC bytes to CHW floats v / 255. layout.cc.
void BytesToFloat(const uint8_t* src, size_t pixels, int C, float* out);

// FLIP_LEFT_RIGHT of an H×W×C image into out (not in place). layout.cc.
void FlipBytes(const uint8_t* src, int W, int H, int C, uint8_t* out);

}  // namespace dml
