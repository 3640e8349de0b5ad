// The JS face of the pixel kernels (pixels.h) — what torchvision's PIL backend does to 8-bit HWC
// images, with Pillow's own arithmetic, so the data pipeline's PIL path gives torchvision-on-PIL
// pixels bit for bit at C speed — with their argument checks, plus JPEG decoding:
//  - resizeBytes: the antialiased bilinear resampler, optionally cropped (resample.cc);
//  - jitterBytes: ColorJitter's steps (color.cc);
//  - bytesToFloat, flipBytes: ToTensor and FLIP_LEFT_RIGHT (layout.cc);
//  - decodeJpeg: libjpeg decoding with PIL's settings (islow IDCT, fancy upsampling, RGB out):
//    with Debian's libjpeg-turbo, the one Debian's Pillow uses, the same pixels, and ~3x cheaper
//    than a libvips pipeline for a small photo.
// No ATen headers: this file compiles in seconds.

#include <napi.h>

#include "pixels.h"

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

namespace dml {
namespace {

int IntArg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (!info[i].IsNumber()) throw Napi::TypeError::New(info.Env(), std::string(name) + " must be a number");
  const double v = info[i].As<Napi::Number>().DoubleValue();
  if (!(v >= 0 && v <= 1 << 30) || v != std::floor(v)) throw Napi::RangeError::New(info.Env(), std::string(name) + " must be a non-negative integer");
  return static_cast<int>(v);
}

constexpr int kMaxSide = 1 << 16;
constexpr uint64_t kMaxBytes = uint64_t(1) << 30;

// resizeBytes(src, width, height, channels, boxX, boxY, boxW, boxH, outW, outH[, winX, winY, winW, winH])
// -> Uint8Array: PIL's img.crop(box).resize((outW, outH), BILINEAR) on HWC bytes, or only the
// window of it (a following crop, at the cost of the window's pixels alone).
Napi::Value ResizeBytesJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if ((info.Length() != 10 && info.Length() != 14) || !info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    throw Napi::TypeError::New(env, "resizeBytes(src: Uint8Array, width, height, channels, boxX, boxY, boxW, boxH, outW, outH[, winX, winY, winW, winH])");
  }
  Napi::Uint8Array srcArr = info[0].As<Napi::Uint8Array>();
  const int W = IntArg(info, 1, "width"), H = IntArg(info, 2, "height"), C = IntArg(info, 3, "channels");
  const int bx = IntArg(info, 4, "boxX"), by = IntArg(info, 5, "boxY"), bw = IntArg(info, 6, "boxW"), bh = IntArg(info, 7, "boxH");
  const int outW = IntArg(info, 8, "outW"), outH = IntArg(info, 9, "outH");
  const bool window = info.Length() == 14;
  const int wx = window ? IntArg(info, 10, "winX") : 0, wy = window ? IntArg(info, 11, "winY") : 0;
  const int ww = window ? IntArg(info, 12, "winW") : outW, wh = window ? IntArg(info, 13, "winH") : outH;
  if (C < 1 || C > 4) throw Napi::RangeError::New(env, "resizeBytes: channels must be 1 to 4");
  if (srcArr.ElementLength() != static_cast<size_t>(W) * H * C) throw Napi::RangeError::New(env, "resizeBytes: src length is not width * height * channels");
  if (bw < 1 || bh < 1 || bx + bw > W || by + bh > H) throw Napi::RangeError::New(env, "resizeBytes: box is not inside the image");
  if (outW < 1 || outH < 1) throw Napi::RangeError::New(env, "resizeBytes: output size must be positive");
  if (ww < 1 || wh < 1 || wx + ww > outW || wy + wh > outH) throw Napi::RangeError::New(env, "resizeBytes: window is not inside the output");
  // The resampler's coefficient tables grow with the output size, its buffers with the window: an
  // absurd size must be an error here, not an allocation failure that ends the process.
  if (outW > kMaxSide || outH > kMaxSide) {
    throw Napi::RangeError::New(env, "resizeBytes: output size " + std::to_string(outW) + "x" + std::to_string(outH) + " exceeds " + std::to_string(kMaxSide) + " pixels per side");
  }
  const uint64_t bytes = static_cast<uint64_t>(ww) * wh * C, scratch = static_cast<uint64_t>(bh) * ww * C;
  if (bytes > kMaxBytes || scratch > kMaxBytes) {
    throw Napi::RangeError::New(env, "resizeBytes: a " + std::to_string(ww) + "x" + std::to_string(wh) + "x" + std::to_string(C)
      + " result of a " + std::to_string(bw) + "x" + std::to_string(bh) + " box needs more than " + std::to_string(kMaxBytes >> 20) + " MiB");
  }
  Napi::Uint8Array result = Napi::Uint8Array::New(env, static_cast<size_t>(ww) * wh * C);
  ResampleBytes(srcArr.Data(), W, H, C, bx, by, bw, bh, outW, outH, wx, wy, ww, wh, result.Data());
  return result;
}

// jitterBytes(src, width, height, channels, ops: Int32Array, factors: Float64Array) -> Uint8Array:
// ColorJitter's steps (0 brightness, 1 contrast, 2 saturation, 3 hue) in order, PIL's arithmetic.
Napi::Value JitterBytesJs(const Napi::CallbackInfo& info) {
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
  const size_t pixels = static_cast<size_t>(W) * H;
  if (srcArr.ElementLength() != pixels * C) throw Napi::RangeError::New(env, "jitterBytes: src length is not width * height * channels");
  if (ops.ElementLength() != factors.ElementLength()) throw Napi::RangeError::New(env, "jitterBytes: ops and factors differ in length");
  for (size_t s = 0; s < ops.ElementLength(); s++) {
    if (ops[s] < 0 || ops[s] > 3) throw Napi::RangeError::New(env, "jitterBytes: ops must be 0 (brightness), 1 (contrast), 2 (saturation) or 3 (hue)");
    if (ops[s] == 3 && !(factors[s] >= -0.5 && factors[s] <= 0.5)) throw Napi::RangeError::New(env, "jitterBytes: hue factor must be in [-0.5, 0.5]");
  }
  Napi::Uint8Array result = Napi::Uint8Array::New(env, pixels * C);
  JitterBytes(srcArr.Data(), result.Data(), pixels, C, ops.Data(), factors.Data(), ops.ElementLength());
  return result;
}

// bytesToFloat(src, width, height, channels[, out: Float32Array]) -> Float32Array: ToTensor, HWC
// uint8 -> CHW v / 255, into `out` when given (e.g. a batch slot in shared memory).
Napi::Value BytesToFloatJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const bool into = info.Length() == 5;
  if ((info.Length() != 4 && !into) || !info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array ||
      (into && (!info[4].IsTypedArray() || info[4].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array))) {
    throw Napi::TypeError::New(env, "bytesToFloat(src: Uint8Array, width, height, channels[, out: Float32Array])");
  }
  Napi::Uint8Array srcArr = info[0].As<Napi::Uint8Array>();
  const int W = IntArg(info, 1, "width"), H = IntArg(info, 2, "height"), C = IntArg(info, 3, "channels");
  if (C < 1) throw Napi::RangeError::New(env, "bytesToFloat: channels must be positive");
  const size_t pixels = static_cast<size_t>(W) * H;
  if (srcArr.ElementLength() != pixels * C) throw Napi::RangeError::New(env, "bytesToFloat: src length is not width * height * channels");
  Napi::Float32Array result = into ? info[4].As<Napi::Float32Array>() : Napi::Float32Array::New(env, pixels * C);
  if (result.ElementLength() != pixels * C) throw Napi::RangeError::New(env, "bytesToFloat: out length is not width * height * channels");
  BytesToFloat(srcArr.Data(), pixels, C, result.Data());
  return result;
}

// flipBytes(src, width, height, channels) -> Uint8Array: PIL's FLIP_LEFT_RIGHT.
Napi::Value FlipBytesJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 4 || !info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    throw Napi::TypeError::New(env, "flipBytes(src: Uint8Array, width, height, channels)");
  }
  Napi::Uint8Array srcArr = info[0].As<Napi::Uint8Array>();
  const int W = IntArg(info, 1, "width"), H = IntArg(info, 2, "height"), C = IntArg(info, 3, "channels");
  if (C < 1) throw Napi::RangeError::New(env, "flipBytes: channels must be positive");
  if (srcArr.ElementLength() != static_cast<size_t>(W) * H * C) throw Napi::RangeError::New(env, "flipBytes: src length is not width * height * channels");
  Napi::Uint8Array result = Napi::Uint8Array::New(env, srcArr.ElementLength());
  FlipBytes(srcArr.Data(), W, H, C, result.Data());
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
  exports.Set("resizeBytes", Napi::Function::New(env, ResizeBytesJs, "resizeBytes"));
  exports.Set("jitterBytes", Napi::Function::New(env, JitterBytesJs, "jitterBytes"));
  exports.Set("bytesToFloat", Napi::Function::New(env, BytesToFloatJs, "bytesToFloat"));
  exports.Set("flipBytes", Napi::Function::New(env, FlipBytesJs, "flipBytes"));
  exports.Set("decodeJpeg", Napi::Function::New(env, DecodeJpeg, "decodeJpeg"));
  exports.Set("imageSimd", Napi::Boolean::New(env, ImageKernelsUseSimd()));
}

}  // namespace dml
