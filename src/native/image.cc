// What torchvision's PIL backend does to 8-bit HWC images, with Pillow's own arithmetic, so the
// data pipeline's PIL path gives torchvision-on-PIL pixels bit for bit at C speed:
//  - resizeBytes: the antialiased bilinear resampler (resample.cc);
//  - jitterBytes: ColorJitter's steps — ImageEnhance brightness/contrast/saturation (Image.blend
//    against a degenerate image, Blend.c) and adjust_hue through Convert.c's 8-bit HSV;
//  - bytesToFloat: ToTensor (HWC uint8 -> CHW float32 / 255);
//  - decodeJpeg: libjpeg decoding with PIL's settings (islow IDCT, fancy upsampling, RGB out):
//    with Debian's libjpeg-turbo, the one Debian's Pillow uses, the same pixels, and ~3x cheaper
//    than a libvips pipeline for a small photo.
// No ATen headers: this file compiles in seconds.

#include <napi.h>

#include "resample.h"

#include <algorithm>
#include <cmath>
#include <csetjmp>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <jpeglib.h>
#include <jerror.h>
#include <string>
#include <vector>

namespace dml {
namespace {

int IntArg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (!info[i].IsNumber()) throw Napi::TypeError::New(info.Env(), std::string(name) + " must be a number");
  const double v = info[i].As<Napi::Number>().DoubleValue();
  if (!(v >= 0 && v <= 1 << 30) || v != std::floor(v)) throw Napi::RangeError::New(info.Env(), std::string(name) + " must be a non-negative integer");
  return static_cast<int>(v);
}

// resizeBytes(src, width, height, channels, boxX, boxY, boxW, boxH, outW, outH) -> Uint8Array:
// PIL's img.crop(box).resize((outW, outH), BILINEAR) on HWC bytes.
Napi::Value ResizeBytes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 10 || !info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    throw Napi::TypeError::New(env, "resizeBytes(src: Uint8Array, width, height, channels, boxX, boxY, boxW, boxH, outW, outH)");
  }
  Napi::Uint8Array srcArr = info[0].As<Napi::Uint8Array>();
  const int W = IntArg(info, 1, "width"), H = IntArg(info, 2, "height"), C = IntArg(info, 3, "channels");
  const int bx = IntArg(info, 4, "boxX"), by = IntArg(info, 5, "boxY"), bw = IntArg(info, 6, "boxW"), bh = IntArg(info, 7, "boxH");
  const int outW = IntArg(info, 8, "outW"), outH = IntArg(info, 9, "outH");
  if (C < 1 || C > 4) throw Napi::RangeError::New(env, "resizeBytes: channels must be 1 to 4");
  if (srcArr.ElementLength() != static_cast<size_t>(W) * H * C) throw Napi::RangeError::New(env, "resizeBytes: src length is not width * height * channels");
  if (bw < 1 || bh < 1 || bx + bw > W || by + bh > H) throw Napi::RangeError::New(env, "resizeBytes: box is not inside the image");
  if (outW < 1 || outH < 1) throw Napi::RangeError::New(env, "resizeBytes: output size must be positive");
  Napi::Uint8Array result = Napi::Uint8Array::New(env, static_cast<size_t>(outW) * outH * C);
  ResampleBytes(srcArr.Data(), W, H, C, bx, by, bw, bh, outW, outH, result.Data());
  return result;
}

// Image.blend(degenerate d, image x, alpha) on one value: Blend.c's float arithmetic, truncated and clipped.
inline uint8_t Blend(int d, int x, float alpha) {
  const float t = d + alpha * (x - d);
  return t <= 0.0f ? 0 : t >= 255.0f ? 255 : static_cast<uint8_t>(t);
}

// Convert.c's L24: ITU-R 601-2 luma in 16-bit fixed point.
inline int Luma(int r, int g, int b) { return (r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16; }

// torchvision's F_pil.adjust_hue: convert('HSV') (rgb2hsv_row), H += uint8(shift) wrapping,
// convert('RGB') (hsv2rgb), keeping Pillow's float/double mix.
inline void HueShift(const uint8_t* in, uint8_t* out, int shift) {
  const uint8_t r = in[0], g = in[1], b = in[2];
  const uint8_t maxc = std::max(r, std::max(g, b)), minc = std::min(r, std::min(g, b));
  const uint8_t v = maxc;
  int uh = 0, us = 0;
  if (minc != maxc) {
    const float cr = static_cast<float>(maxc - minc);
    const float s = cr / static_cast<float>(maxc);
    const float rc = static_cast<float>(maxc - r) / cr, gc = static_cast<float>(maxc - g) / cr, bc = static_cast<float>(maxc - b) / cr;
    float h;
    if (r == maxc) h = bc - gc;
    else if (g == maxc) h = 2.0 + rc - bc;
    else h = 4.0 + gc - rc;
    h = std::fmod((h / 6.0 + 1.0), 1.0);
    uh = std::clamp(static_cast<int>(h * 255.0), 0, 255);
    us = std::clamp(static_cast<int>(s * 255.0), 0, 255);
  }
  if (us == 0) {
    out[0] = out[1] = out[2] = v;
    return;
  }
  const uint8_t hh = static_cast<uint8_t>((uh + shift) & 255);
  const int i = static_cast<int>(std::floor(static_cast<float>(hh) * 6.0 / 255.0));
  const float f = static_cast<float>(hh) * 6.0 / 255.0 - static_cast<float>(i);
  const float fs = static_cast<float>(us) / 255.0;
  const uint8_t p = static_cast<uint8_t>(std::clamp(static_cast<int>(std::round(static_cast<float>(v) * (1.0 - fs))), 0, 255));
  const uint8_t q = static_cast<uint8_t>(std::clamp(static_cast<int>(std::round(static_cast<float>(v) * (1.0 - fs * f))), 0, 255));
  const uint8_t t = static_cast<uint8_t>(std::clamp(static_cast<int>(std::round(static_cast<float>(v) * (1.0 - fs * (1.0 - f)))), 0, 255));
  switch (i % 6) {
    case 0: out[0] = v; out[1] = t; out[2] = p; break;
    case 1: out[0] = q; out[1] = v; out[2] = p; break;
    case 2: out[0] = p; out[1] = v; out[2] = t; break;
    case 3: out[0] = p; out[1] = q; out[2] = v; break;
    case 4: out[0] = t; out[1] = p; out[2] = v; break;
    default: out[0] = v; out[1] = p; out[2] = q; break;
  }
}

// jitterBytes(src, width, height, channels, ops: Int32Array, factors: Float64Array) -> Uint8Array.
// ops: 0 brightness, 1 contrast, 2 saturation, 3 hue, applied in order. Brightness and contrast
// map each byte on its own, so consecutive ones fold into one 256-entry table; saturation and
// hue (no-ops on grey images, as in PIL / torchvision) each take a pass over the pixels.
Napi::Value JitterBytes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 6 || !info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array ||
      !info[4].IsTypedArray() || info[4].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array ||
      !info[5].IsTypedArray() || info[5].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array) {
    throw Napi::TypeError::New(env, "jitterBytes(src: Uint8Array, width, height, channels, ops: Int32Array, factors: Float64Array)");
  }
  Napi::Uint8Array srcArr = info[0].As<Napi::Uint8Array>();
  const int W = IntArg(info, 1, "width"), H = IntArg(info, 2, "height"), C = IntArg(info, 3, "channels");
  Napi::Int32Array ops = info[4].As<Napi::Int32Array>();
  Napi::Float64Array factors = info[5].As<Napi::Float64Array>();
  if (C != 1 && C != 3) throw Napi::RangeError::New(env, "jitterBytes: channels must be 1 or 3");
  const size_t n = static_cast<size_t>(W) * H * C;
  if (srcArr.ElementLength() != n) throw Napi::RangeError::New(env, "jitterBytes: src length is not width * height * channels");
  if (ops.ElementLength() != factors.ElementLength()) throw Napi::RangeError::New(env, "jitterBytes: ops and factors differ in length");
  const size_t pixels = static_cast<size_t>(W) * H;
  Napi::Uint8Array result = Napi::Uint8Array::New(env, n);
  uint8_t* out = result.Data();
  std::copy_n(srcArr.Data(), n, out);
  uint8_t lut[256];
  bool identity = true;
  for (int v = 0; v < 256; v++) lut[v] = static_cast<uint8_t>(v);
  auto applyLut = [&]() {
    if (identity) return;
    for (size_t i = 0; i < n; i++) out[i] = lut[out[i]];
    for (int v = 0; v < 256; v++) lut[v] = static_cast<uint8_t>(v);
    identity = true;
  };
  std::vector<uint8_t> table;
  for (size_t s = 0; s < ops.ElementLength(); s++) {
    const int op = ops[s];
    const double factor = factors[s];
    const float alpha = static_cast<float>(factor);
    if (op == 0) {
      for (int v = 0; v < 256; v++) lut[v] = Blend(0, lut[v], alpha);
      identity = false;
    } else if (op == 1) {
      // ImageEnhance.Contrast: int(mean of convert('L') + 0.5), of the image as it is now.
      double sum = 0;
      if (C == 1) {
        for (size_t i = 0; i < n; i++) sum += lut[out[i]];
      } else {
        for (size_t i = 0; i < n; i += 3) sum += Luma(lut[out[i]], lut[out[i + 1]], lut[out[i + 2]]);
      }
      const int mean = static_cast<int>(sum / static_cast<double>(pixels) + 0.5);
      for (int v = 0; v < 256; v++) lut[v] = Blend(mean, lut[v], alpha);
      identity = false;
    } else if (op == 2) {
      if (C != 3) continue;
      applyLut();
      // ImageEnhance.Color: each channel blended with its pixel's L; a table over (L, value).
      table.resize(256 * 256);
      for (int l = 0; l < 256; l++) for (int v = 0; v < 256; v++) table[(l << 8) | v] = Blend(l, v, alpha);
      for (size_t i = 0; i < n; i += 3) {
        const int l = Luma(out[i], out[i + 1], out[i + 2]) << 8;
        out[i] = table[l | out[i]];
        out[i + 1] = table[l | out[i + 1]];
        out[i + 2] = table[l | out[i + 2]];
      }
    } else if (op == 3) {
      if (!(factor >= -0.5 && factor <= 0.5)) throw Napi::RangeError::New(env, "jitterBytes: hue factor must be in [-0.5, 0.5]");
      if (C != 3) continue;
      applyLut();
      // numpy's uint8 of the truncated shift: negative values wrap.
      const int shift = static_cast<int>(factor * 255.0) & 255;
      for (size_t i = 0; i < n; i += 3) HueShift(out + i, out + i, shift);
    } else {
      throw Napi::RangeError::New(env, "jitterBytes: ops must be 0 (brightness), 1 (contrast), 2 (saturation) or 3 (hue)");
    }
  }
  applyLut();
  return result;
}

// bytesToFloat(src, width, height, channels) -> Float32Array: ToTensor, HWC uint8 -> CHW v / 255.
Napi::Value BytesToFloat(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 4 || !info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    throw Napi::TypeError::New(env, "bytesToFloat(src: Uint8Array, width, height, channels)");
  }
  Napi::Uint8Array srcArr = info[0].As<Napi::Uint8Array>();
  const int W = IntArg(info, 1, "width"), H = IntArg(info, 2, "height"), C = IntArg(info, 3, "channels");
  if (C < 1) throw Napi::RangeError::New(env, "bytesToFloat: channels must be positive");
  const size_t plane = static_cast<size_t>(W) * H;
  if (srcArr.ElementLength() != plane * C) throw Napi::RangeError::New(env, "bytesToFloat: src length is not width * height * channels");
  float lut[256];
  for (int v = 0; v < 256; v++) lut[v] = static_cast<float>(v) / 255.0f;
  Napi::Float32Array result = Napi::Float32Array::New(env, plane * C);
  float* out = result.Data();
  const uint8_t* src = srcArr.Data();
  for (int c = 0; c < C; c++) {
    float* o = out + c * plane;
    for (size_t i = 0; i < plane; i++) o[i] = lut[src[i * C + c]];
  }
  return result;
}

struct JpegErrors {
  jpeg_error_mgr mgr;
  jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
  char warning[JMSG_LENGTH_MAX];
  bool truncated;
  int warnings;
};

void JpegFail(j_common_ptr c) {
  auto* e = reinterpret_cast<JpegErrors*>(c->err);
  (*c->err->format_message)(c, e->message);
  longjmp(e->jump, 1);
}

void JpegMessage(j_common_ptr c, int level) {
  if (level >= 0) return;  // trace messages
  auto* e = reinterpret_cast<JpegErrors*>(c->err);
  if (c->err->msg_code == JWRN_JPEG_EOF) e->truncated = true;
  if (e->warnings++ == 0) (*c->err->format_message)(c, e->warning);
}

enum JpegStatus { kJpegOk, kJpegFailed, kJpegUnsupported };

// Plain C-style so that longjmp skips no destructors: *out is malloc'd on success.
// failOn: 0 none, 1 truncated, 2 error (what sharp's 'error' means: errors and truncation), 3 warning.
JpegStatus DecodeJpegRgb(const uint8_t* src, size_t len, double maxPixels, int failOn, uint8_t** out, int* width, int* height, char* message) {
  jpeg_decompress_struct cinfo;
  JpegErrors err;
  std::memset(&err, 0, sizeof err);
  cinfo.err = jpeg_std_error(&err.mgr);
  err.mgr.error_exit = JpegFail;
  err.mgr.emit_message = JpegMessage;
  uint8_t* volatile buffer = nullptr;
  if (setjmp(err.jump)) {
    jpeg_destroy_decompress(&cinfo);
    std::free(buffer);
    std::snprintf(message, JMSG_LENGTH_MAX, "%s", err.message);
    return kJpegFailed;
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, src, static_cast<unsigned long>(len));
  jpeg_read_header(&cinfo, TRUE);
  const J_COLOR_SPACE cs = cinfo.jpeg_color_space;
  if (cs != JCS_YCbCr && cs != JCS_GRAYSCALE && cs != JCS_RGB) {  // CMYK / YCCK: left to libvips
    jpeg_destroy_decompress(&cinfo);
    return kJpegUnsupported;
  }
  if (static_cast<double>(cinfo.image_width) * cinfo.image_height > maxPixels) {
    jpeg_destroy_decompress(&cinfo);
    std::snprintf(message, JMSG_LENGTH_MAX, "Input image exceeds pixel limit");
    return kJpegFailed;
  }
  cinfo.out_color_space = JCS_RGB;
  jpeg_start_decompress(&cinfo);
  const size_t stride = static_cast<size_t>(cinfo.output_width) * 3;
  buffer = static_cast<uint8_t*>(std::malloc(stride * cinfo.output_height));
  if (!buffer) {
    jpeg_destroy_decompress(&cinfo);
    std::snprintf(message, JMSG_LENGTH_MAX, "out of memory");
    return kJpegFailed;
  }
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = buffer + cinfo.output_scanline * stride;
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_decompress(&cinfo);
  *width = static_cast<int>(cinfo.output_width);
  *height = static_cast<int>(cinfo.output_height);
  jpeg_destroy_decompress(&cinfo);
  if ((err.truncated && failOn >= 1) || (err.warnings > 0 && failOn >= 3)) {
    std::free(buffer);
    std::snprintf(message, JMSG_LENGTH_MAX, "%s", err.warning);
    return kJpegFailed;
  }
  *out = buffer;
  return kJpegOk;
}

// decodeJpeg(bytes: Uint8Array, maxPixels, failOn 0..3) -> { data: Uint8Array (HWC RGB), width, height } | null
// (null: a colour space this decoder leaves to libvips).
Napi::Value DecodeJpeg(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 3 || !info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array || !info[1].IsNumber() || !info[2].IsNumber()) {
    throw Napi::TypeError::New(env, "decodeJpeg(bytes: Uint8Array, maxPixels: number, failOn: number)");
  }
  Napi::Uint8Array bytes = info[0].As<Napi::Uint8Array>();
  uint8_t* data = nullptr;
  int w = 0, h = 0;
  char message[JMSG_LENGTH_MAX] = {0};
  const JpegStatus status = DecodeJpegRgb(bytes.Data(), bytes.ElementLength(), info[1].As<Napi::Number>().DoubleValue(), info[2].As<Napi::Number>().Int32Value(), &data, &w, &h, message);
  if (status == kJpegUnsupported) return env.Null();
  if (status == kJpegFailed) throw Napi::Error::New(env, message);
  const size_t n = static_cast<size_t>(w) * h * 3;
  Napi::Uint8Array pixels = Napi::Uint8Array::New(env, n);
  std::memcpy(pixels.Data(), data, n);
  std::free(data);
  Napi::Object result = Napi::Object::New(env);
  result.Set("data", pixels);
  result.Set("width", w);
  result.Set("height", h);
  return result;
}

}  // namespace

void RegisterImage(Napi::Env env, Napi::Object exports) {
  exports.Set("resizeBytes", Napi::Function::New(env, ResizeBytes, "resizeBytes"));
  exports.Set("jitterBytes", Napi::Function::New(env, JitterBytes, "jitterBytes"));
  exports.Set("bytesToFloat", Napi::Function::New(env, BytesToFloat, "bytesToFloat"));
  exports.Set("decodeJpeg", Napi::Function::New(env, DecodeJpeg, "decodeJpeg"));
  exports.Set("imageSimd", Napi::Boolean::New(env, ResampleUsesSimd()));
}

}  // namespace dml
