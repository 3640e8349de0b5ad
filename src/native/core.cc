// Tensor life cycle, creation, data transfer, metadata, generators and engine settings.
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <ATen/Version.h>
#include <torch/csrc/api/include/torch/version.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <c10/util/irange.h>
#include <cstring>
#include "common.h"

// ATen/autocast_mode.h pulls in NativeFunctions.h, Operators.h and torch/library.h (minutes of
// compile); the four functions used here are declared as that header declares them.
namespace at::autocast {
TORCH_API bool is_autocast_enabled(at::DeviceType device_type);
TORCH_API void set_autocast_enabled(at::DeviceType device_type, bool enabled);
TORCH_API at::ScalarType get_autocast_dtype(at::DeviceType device_type);
TORCH_API void set_autocast_dtype(at::DeviceType device_type, at::ScalarType dtype);
TORCH_API void clear_cache();
TORCH_API int increment_nesting();
TORCH_API int decrement_nesting();
}  // namespace at::autocast

namespace dml {

static at::TensorOptions Opts(const Args& a, size_t dtypeAt, size_t deviceAt) {
  auto o = at::TensorOptions().dtype(a.has(dtypeAt) ? a.dtype(dtypeAt) : at::kFloat);
  if (a.has(deviceAt)) o = o.device(a.device(deviceAt));
  return o;
}

DML_FN(dispose) {
  return Napi::Boolean::New(a.env(), Release(a.env(), a.id(0)));
}
DML_FN(isDisposed) { return Napi::Boolean::New(a.env(), Lookup(a.id(0)) == nullptr); }
DML_FN(liveTensors) { return Napi::Number::New(a.env(), static_cast<double>(LiveTensors())); }

// fromBuffer(typedArrayOrArrayBuffer, dtype, shape, device?) copies the bytes into a new tensor.
DML_FN(fromBuffer) {
  Napi::Value v = a.info()[0];
  const uint8_t* src = nullptr;
  size_t bytes = 0;
  if (v.IsTypedArray()) {
    // The data pointer straight from the view: Napi::TypedArray::ArrayBuffer() refuses views of a
    // SharedArrayBuffer (the image loader's batches).
    auto ta = v.As<Napi::TypedArray>();
    void* data = nullptr;
    NAPI_THROW_IF_FAILED(a.env(), napi_get_typedarray_info(a.env(), ta, nullptr, nullptr, &data, nullptr, nullptr), a.env().Undefined());
    src = static_cast<const uint8_t*>(data);
    bytes = ta.ByteLength();
  } else if (v.IsArrayBuffer()) {
    auto ab = v.As<Napi::ArrayBuffer>();
    src = static_cast<const uint8_t*>(ab.Data());
    bytes = ab.ByteLength();
  } else {
    throw Napi::TypeError::New(a.env(), "argument 0: expected a TypedArray or ArrayBuffer");
  }
  at::Tensor t = at::empty(a.ints(2), at::TensorOptions().dtype(a.dtype(1)));
  size_t need = static_cast<size_t>(t.numel()) * t.element_size();
  if (need != bytes)
    throw Napi::RangeError::New(a.env(), "fromBuffer: shape needs " + std::to_string(need) + " bytes, buffer has " + std::to_string(bytes));
  if (bytes) std::memcpy(t.data_ptr(), src, bytes);
  if (a.has(3)) t = t.to(a.device(3));
  return Wrap(a.env(), t);
}

DML_FN(empty) { return Wrap(a.env(), at::empty(a.ints(0), Opts(a, 1, 2))); }
DML_FN(zeros) { return Wrap(a.env(), at::zeros(a.ints(0), Opts(a, 1, 2))); }
DML_FN(ones) { return Wrap(a.env(), at::ones(a.ints(0), Opts(a, 1, 2))); }
DML_FN(full) { return Wrap(a.env(), at::full(a.ints(0), a.s(1), Opts(a, 2, 3))); }
DML_FN(eye) { return Wrap(a.env(), at::eye(a.i64(0), a.i64(1, a.i64(0)), Opts(a, 2, 3))); }
DML_FN(arange) {
  auto o = a.has(3) ? Opts(a, 3, 4) : at::TensorOptions();
  if (a.has(4) && !a.has(3)) o = o.device(a.device(4));
  return Wrap(a.env(), at::arange(a.s(0), a.s(1), a.s(2), o));
}
DML_FN(linspace) { return Wrap(a.env(), at::linspace(a.s(0), a.s(1), a.i64(2), Opts(a, 3, 4))); }
DML_FN(rand) { return Wrap(a.env(), at::rand(a.ints(0), a.gen(3), Opts(a, 1, 2))); }
DML_FN(randn) { return Wrap(a.env(), at::randn(a.ints(0), a.gen(3), Opts(a, 1, 2))); }
DML_FN(randint) {
  auto o = a.has(3) ? Opts(a, 3, 4) : at::TensorOptions().dtype(at::kLong);
  if (a.has(4)) o = o.device(a.device(4));
  return Wrap(a.env(), at::randint(a.i64(0), a.i64(1), a.ints(2), a.gen(5), o));
}
DML_FN(randperm) {
  auto o = a.has(1) ? Opts(a, 1, 2) : at::TensorOptions().dtype(at::kLong);
  if (a.has(2)) o = o.device(a.device(2));
  return Wrap(a.env(), at::randperm(a.i64(0), a.gen(3), o));
}
DML_FN(uniform_) { a.t(0).uniform_(a.f64(1), a.f64(2), a.gen(3)); return a.env().Undefined(); }
DML_FN(normal_) { a.t(0).normal_(a.f64(1), a.f64(2), a.gen(3)); return a.env().Undefined(); }
// bernoulli(probs, p?, gen?): elementwise probabilities, or a constant p in probs' shape.
DML_FN(bernoulli) {
  return Wrap(a.env(), a.has(1) ? at::bernoulli(a.t(0), a.f64(1), a.gen(2)) : at::bernoulli(a.t(0), a.gen(2)));
}
DML_FN(multinomial) { return Wrap(a.env(), at::multinomial(a.t(0), a.i64(1), a.b(2, false), a.gen(3))); }

DML_FN(shape) {
  auto sizes = a.t(0).sizes();
  auto arr = Napi::Array::New(a.env(), sizes.size());
  for (size_t k = 0; k < sizes.size(); k++) arr.Set(static_cast<uint32_t>(k), Napi::Number::New(a.env(), static_cast<double>(sizes[k])));
  return arr;
}
DML_FN(strides) {
  auto st = a.t(0).strides();
  auto arr = Napi::Array::New(a.env(), st.size());
  for (size_t k = 0; k < st.size(); k++) arr.Set(static_cast<uint32_t>(k), Napi::Number::New(a.env(), static_cast<double>(st[k])));
  return arr;
}
DML_FN(dtype) { return Napi::Number::New(a.env(), static_cast<int>(a.t(0).scalar_type())); }
DML_FN(device) { return Napi::String::New(a.env(), a.t(0).device().str()); }
DML_FN(numel) { return Napi::Number::New(a.env(), static_cast<double>(a.t(0).numel())); }
DML_FN(isContiguous) { return Napi::Boolean::New(a.env(), a.t(0).is_contiguous()); }
// memory formats by code: 0 contiguous (NCHW), 1 channels-last (NHWC strides).
static at::MemoryFormat memoryFormat(int64_t code) { return code == 1 ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::Contiguous; }
DML_FN(isContiguousFormat) { return Napi::Boolean::New(a.env(), a.t(0).is_contiguous(memoryFormat(a.i64(1)))); }

DML_FN(item) {
  const at::Tensor& t = a.t(0);
  if (t.numel() != 1) throw Napi::Error::New(a.env(), "item(): tensor has " + std::to_string(t.numel()) + " elements, expected 1");
  at::Scalar s = t.item();
  if (s.isBoolean()) return Napi::Boolean::New(a.env(), s.toBool());
  if (s.isIntegral(false)) return Napi::Number::New(a.env(), static_cast<double>(s.toLong()));
  return Napi::Number::New(a.env(), s.toDouble());
}

// toBuffer(t) → ArrayBuffer with a contiguous CPU copy of the elements.
DML_FN(toBuffer) {
  at::Tensor c = a.t(0).detach().to(at::kCPU).contiguous();
  size_t bytes = static_cast<size_t>(c.numel()) * c.element_size();
  auto buf = Napi::ArrayBuffer::New(a.env(), bytes);
  if (bytes) std::memcpy(buf.Data(), c.data_ptr(), bytes);
  return buf;
}

DML_FN(to) {
  const at::Tensor& t = a.t(0);
  at::TensorOptions o = t.options();
  if (a.has(1)) o = o.dtype(a.dtype(1));
  if (a.has(2)) o = o.device(a.device(2));
  // non_blocking matters for a host→GPU copy from pinned memory (and GPU→host); elsewhere it is a plain copy.
  return Wrap(a.env(), t.to(o, /*non_blocking=*/a.b(4, false), /*copy=*/a.b(3, false)));
}

// A page-locked copy of a CPU tensor, so that its copy to a GPU can run asynchronously. Without a
// visible GPU there is nothing to pin for (and pinning would throw): the tensor itself comes back.
DML_FN(pinMemory) {
  const at::Tensor& t = a.t(0);
  if (!t.is_cpu() || !at::hasCUDA() || t.is_pinned()) return Wrap(a.env(), t);
  return Wrap(a.env(), t.pin_memory());
}

// CUDA autocast, as torch.autocast('cuda', dtype) does it: enter returns the previous state (-1 off,
// else its dtype code) for exit to restore; the cast cache is cleared when the outermost region ends.
DML_FN(autocastEnter) {
  const bool was = at::autocast::is_autocast_enabled(at::kCUDA);
  const int prev = was ? static_cast<int>(at::autocast::get_autocast_dtype(at::kCUDA)) : -1;
  at::autocast::set_autocast_dtype(at::kCUDA, a.dtype(0));
  at::autocast::set_autocast_enabled(at::kCUDA, true);
  at::autocast::increment_nesting();
  return Napi::Number::New(a.env(), prev);
}
// TF32 for cuDNN convolutions and cuBLAS matmuls (libtorch's defaults: cuDNN on, cuBLAS off);
// returns the previous cuDNN flag. Off, a GPU float32 result matches the CPU's to float32 rounding.
DML_FN(setAllowTf32) {
  const bool was = at::globalContext().allowTF32CuDNN();
  at::globalContext().setAllowTF32CuDNN(a.b(0));
  at::globalContext().setAllowTF32CuBLAS(a.b(0));
  return Napi::Boolean::New(a.env(), was);
}
DML_FN(autocastExit) {
  const int64_t prev = a.i64(0);
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  at::autocast::set_autocast_enabled(at::kCUDA, prev >= 0);
  if (prev >= 0) at::autocast::set_autocast_dtype(at::kCUDA, static_cast<at::ScalarType>(prev));
  return a.env().Undefined();
}

DML_FN(newGenerator) {
  auto* g = new at::Generator(at::detail::createCPUGenerator(static_cast<uint64_t>(a.i64(0, 0))));
  auto ext = Napi::External<at::Generator>::New(a.env(), g, [](Napi::Env, at::Generator* p) { delete p; });
  ext.TypeTag(&kGeneratorTag);
  return ext;
}
static at::Generator Gen(const Args& a, size_t i) {
  auto g = a.gen(i);
  return g ? *g : at::detail::getDefaultCPUGenerator();
}
// Generator state as a uint8 tensor, so a run can be resumed bit-for-bit.
DML_FN(getRngState) {
  at::Generator g = Gen(a, 0);
  std::lock_guard<std::mutex> lock(g.mutex());
  return Wrap(a.env(), at::Tensor(g.get_state()));
}
DML_FN(setRngState) {
  at::Generator g = Gen(a, 1);
  std::lock_guard<std::mutex> lock(g.mutex());
  g.set_state(a.t(0));
  return a.env().Undefined();
}
DML_FN(manualSeed) {
  uint64_t seed = static_cast<uint64_t>(a.i64(0));
  {
    auto gen = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_current_seed(seed);
  }
  if (at::hasCUDA()) {
    auto& hooks = at::detail::getCUDAHooks();
    for (int64_t d = 0; d < hooks.getNumGPUs(); d++) {
      auto gen = hooks.getDefaultGenerator(d);
      std::lock_guard<std::mutex> lock(gen.mutex());
      gen.set_current_seed(seed);
    }
  }
  return a.env().Undefined();
}

// OpenMP would try to create every thread asked for and end the process when it cannot.
constexpr int64_t kMaxThreads = 1024;
DML_FN(setNumThreads) {
  int64_t n = a.i64(0);
  if (n < 1 || n > kMaxThreads) throw Napi::RangeError::New(a.env(), "setNumThreads(n): n must be an integer in [1, " + std::to_string(kMaxThreads) + "], got " + std::to_string(n));
  at::set_num_threads(static_cast<int>(n));
  return a.env().Undefined();
}
DML_FN(getNumThreads) { return Napi::Number::New(a.env(), at::get_num_threads()); }

DML_FN(buildInfo) {
  auto o = Napi::Object::New(a.env());
  o.Set("torchVersion", std::to_string(TORCH_VERSION_MAJOR) + "." + std::to_string(TORCH_VERSION_MINOR) + "." + std::to_string(TORCH_VERSION_PATCH));
  o.Set("cpuCapability", at::get_cpu_capability());
  // Built with CUDA (libtorch_cuda's hooks registered) is not the same as a GPU being visible now.
  o.Set("cudaBuilt", at::detail::getCUDAHooks().isBuilt());
  o.Set("cudaAvailable", at::hasCUDA());
  o.Set("cudaDeviceCount", at::hasCUDA() ? static_cast<double>(at::detail::getCUDAHooks().getNumGPUs()) : 0.0);
  o.Set("config", at::show_config());
  o.Set("parallelInfo", at::get_parallel_info());
  return o;
}

void RegisterCore(Napi::Env env, Napi::Object e) {
  (void)env;
  DML_EXPORT(e, dispose); DML_EXPORT(e, isDisposed); DML_EXPORT(e, liveTensors);
  DML_EXPORT(e, empty); DML_EXPORT(e, zeros); DML_EXPORT(e, ones); DML_EXPORT(e, full); DML_EXPORT(e, eye);
  DML_EXPORT(e, arange); DML_EXPORT(e, linspace); DML_EXPORT(e, rand); DML_EXPORT(e, randn); DML_EXPORT(e, randint);
  DML_EXPORT(e, randperm); DML_EXPORT(e, uniform_); DML_EXPORT(e, normal_); DML_EXPORT(e, bernoulli); DML_EXPORT(e, multinomial);
  DML_EXPORT(e, shape); DML_EXPORT(e, strides); DML_EXPORT(e, dtype); DML_EXPORT(e, device); DML_EXPORT(e, numel);
  DML_EXPORT(e, isContiguous); DML_EXPORT(e, isContiguousFormat); DML_EXPORT(e, item); DML_EXPORT(e, toBuffer); DML_EXPORT(e, to); DML_EXPORT(e, pinMemory);
  DML_EXPORT(e, autocastEnter); DML_EXPORT(e, autocastExit); DML_EXPORT(e, setAllowTf32);
  DML_EXPORT(e, newGenerator); DML_EXPORT(e, getRngState); DML_EXPORT(e, setRngState); DML_EXPORT(e, fromBuffer); DML_EXPORT(e, manualSeed); DML_EXPORT(e, setNumThreads); DML_EXPORT(e, getNumThreads);
  DML_EXPORT(e, buildInfo);
}

}  // namespace dml
