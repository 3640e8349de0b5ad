#include "common.h"

namespace dml {

std::atomic<int64_t> liveHandles{0};

static int64_t Footprint(const at::Tensor& t) {
  if (!t.defined()) return 0;
  return static_cast<int64_t>(t.numel()) * static_cast<int64_t>(t.element_size());
}

// V8 only needs a rough idea of native memory to schedule GC; calling it on every op costs more than
// the op itself for small tensors, so changes are batched until they pass 1 MiB.
static int64_t pendingExternal = 0;
static void Report(Napi::Env env, int64_t delta) {
  pendingExternal += delta;
  if (pendingExternal > (1 << 20) || pendingExternal < -(1 << 20)) {
    Napi::MemoryManagement::AdjustExternalMemory(env, pendingExternal);
    pendingExternal = 0;
  }
}

void Release(Napi::Env env, Handle* h) {
  if (!h->t.defined()) return;
  h->t = at::Tensor();
  if (h->reported) Report(env, -h->reported);
  h->reported = 0;
  liveHandles--;
}

static void Finalize(napi_env env, void* data, void*) {
  auto* h = static_cast<Handle*>(data);
  Release(Napi::Env(env), h);
  delete h;
}

Napi::Value Wrap(Napi::Env env, at::Tensor t) {
  if (!t.defined()) return env.Null();
  auto* h = new Handle{std::move(t), 0};
  h->reported = Footprint(h->t);
  if (h->reported) Report(env, h->reported);
  liveHandles++;
  napi_value out;
  napi_status st = napi_create_external(env, h, Finalize, nullptr, &out);
  if (st != napi_ok) {
    Finalize(env, h, nullptr);
    NAPI_THROW_IF_FAILED(env, st, Napi::Value());
  }
  return Napi::Value(env, out);
}

void Args::fail(size_t i, const char* what) const {
  throw Napi::TypeError::New(env(), "argument " + std::to_string(i) + ": expected " + what);
}

Handle* Args::handle(size_t i) const {
  if (!has(i) || !info_[i].IsExternal()) fail(i, "a tensor");
  return info_[i].As<Napi::External<Handle>>().Data();
}

const at::Tensor& Args::t(size_t i) const {
  Handle* h = handle(i);
  if (!h->t.defined()) throw Napi::Error::New(env(), "tensor was disposed (argument " + std::to_string(i) + ")");
  return h->t;
}

std::vector<at::Tensor> Args::tensors(size_t i) const {
  if (!has(i) || !info_[i].IsArray()) fail(i, "an array of tensors");
  auto arr = info_[i].As<Napi::Array>();
  std::vector<at::Tensor> out;
  out.reserve(arr.Length());
  for (uint32_t k = 0; k < arr.Length(); k++) {
    Napi::Value v = arr.Get(k);
    if (!v.IsExternal()) fail(i, "an array of tensors");
    Handle* h = v.As<Napi::External<Handle>>().Data();
    if (!h->t.defined()) throw Napi::Error::New(env(), "tensor was disposed (argument " + std::to_string(i) + ")");
    out.push_back(h->t);
  }
  return out;
}

at::Scalar Args::s(size_t i) const {
  if (has(i) && info_[i].IsBoolean()) return at::Scalar(info_[i].As<Napi::Boolean>().Value());
  if (!has(i) || !info_[i].IsNumber()) fail(i, "a number");
  double v = info_[i].As<Napi::Number>().DoubleValue();
  // Integral JS numbers act like Python ints, so int tensors stay int (x + 1), floats stay float.
  if (std::isfinite(v) && v == std::floor(v) && std::fabs(v) < 9007199254740992.0) return at::Scalar(static_cast<int64_t>(v));
  return at::Scalar(v);
}

int64_t Args::i64(size_t i) const {
  if (!has(i) || !info_[i].IsNumber()) fail(i, "an integer");
  double v = info_[i].As<Napi::Number>().DoubleValue();
  if (!std::isfinite(v) || v != std::floor(v)) fail(i, "an integer");
  return static_cast<int64_t>(v);
}

double Args::f64(size_t i) const {
  if (!has(i) || !info_[i].IsNumber()) fail(i, "a number");
  return info_[i].As<Napi::Number>().DoubleValue();
}

bool Args::b(size_t i) const {
  if (!has(i) || !info_[i].IsBoolean()) fail(i, "a boolean");
  return info_[i].As<Napi::Boolean>().Value();
}

std::vector<int64_t> Args::ints(size_t i) const {
  if (has(i) && info_[i].IsNumber()) return {i64(i)};
  if (!has(i) || !info_[i].IsArray()) fail(i, "an array of integers");
  auto arr = info_[i].As<Napi::Array>();
  std::vector<int64_t> out(arr.Length());
  for (uint32_t k = 0; k < arr.Length(); k++) {
    Napi::Value v = arr.Get(k);
    if (!v.IsNumber()) fail(i, "an array of integers");
    double d = v.As<Napi::Number>().DoubleValue();
    if (!std::isfinite(d) || d != std::floor(d)) fail(i, "an array of integers");
    out[k] = static_cast<int64_t>(d);
  }
  return out;
}

std::string Args::str(size_t i) const {
  if (!has(i) || !info_[i].IsString()) fail(i, "a string");
  return info_[i].As<Napi::String>().Utf8Value();
}

at::ScalarType Args::dtype(size_t i) const {
  int64_t code = i64(i);
  switch (static_cast<at::ScalarType>(code)) {
    case at::kByte: case at::kChar: case at::kShort: case at::kInt: case at::kLong: case at::kHalf:
    case at::kFloat: case at::kDouble: case at::kBool: case at::kBFloat16:
      return static_cast<at::ScalarType>(code);
    default:
      fail(i, "a supported dtype code");
  }
}

at::Device Args::device(size_t i) const { return at::Device(str(i)); }

c10::optional<at::Generator> Args::gen(size_t i) const {
  if (!has(i)) return c10::nullopt;
  if (!info_[i].IsExternal()) fail(i, "a generator");
  return *info_[i].As<Napi::External<at::Generator>>().Data();
}

at::Tensor Args::tOrScalar(size_t i, const at::Tensor& like) const {
  if (isTensor(i)) return t(i);
  at::Tensor w = at::scalar_to_tensor(s(i), like.device());
  w.unsafeGetTensorImpl()->set_wrapped_number(true);
  return w;
}

Napi::Value Pair(Napi::Env env, const std::tuple<at::Tensor, at::Tensor>& p) {
  auto arr = Napi::Array::New(env, 2);
  arr.Set(0u, Wrap(env, std::get<0>(p)));
  arr.Set(1u, Wrap(env, std::get<1>(p)));
  return arr;
}

Napi::Value List(Napi::Env env, const std::vector<at::Tensor>& ts) {
  auto arr = Napi::Array::New(env, ts.size());
  for (size_t k = 0; k < ts.size(); k++) arr.Set(static_cast<uint32_t>(k), Wrap(env, ts[k]));
  return arr;
}

}  // namespace dml
