#include "common.h"

namespace dml {

namespace {
struct Slot {
  at::Tensor t;
  uint32_t gen = 0;
  int64_t reported = 0;  // bytes reported to V8 as external memory
};
// Per thread: each worker_thread (its own JS realm) owns its tensors, so tables need no lock.
thread_local std::vector<Slot> slots;
thread_local std::vector<uint32_t> freeSlots;
thread_local int64_t live = 0;

int64_t Footprint(const at::Tensor& t) { return static_cast<int64_t>(t.numel()) * static_cast<int64_t>(t.element_size()); }

// V8 only needs a rough idea of native memory to schedule GC; calling it on every op costs more than
// the op itself for small tensors, so changes are batched until they pass 1 MiB.
thread_local int64_t pendingExternal = 0;
void Report(Napi::Env env, int64_t delta) {
  pendingExternal += delta;
  if (pendingExternal > (1 << 20) || pendingExternal < -(1 << 20)) {
    Napi::MemoryManagement::AdjustExternalMemory(env, pendingExternal);
    pendingExternal = 0;
  }
}
constexpr TensorId kIndexBits = 32;
}  // namespace

int64_t LiveTensors() { return live; }

Napi::Value Wrap(Napi::Env env, at::Tensor t) {
  if (!t.defined()) return env.Null();
  uint32_t index;
  if (!freeSlots.empty()) {
    index = freeSlots.back();
    freeSlots.pop_back();
  } else {
    index = static_cast<uint32_t>(slots.size());
    slots.emplace_back();
  }
  Slot& s = slots[index];
  s.t = std::move(t);
  s.reported = Footprint(s.t);
  if (s.reported) Report(env, s.reported);
  live++;
  TensorId id = (static_cast<TensorId>(s.gen) << kIndexBits) | index;
  napi_value out;
  napi_status st = napi_create_bigint_uint64(env, id, &out);
  if (st != napi_ok) {
    Release(env, id);
    NAPI_THROW_IF_FAILED(env, st, Napi::Value());
  }
  return Napi::Value(env, out);
}

at::Tensor* Lookup(TensorId id) {
  uint32_t index = static_cast<uint32_t>(id);
  uint32_t gen = static_cast<uint32_t>(id >> kIndexBits);
  if (index >= slots.size()) return nullptr;
  Slot& s = slots[index];
  if (s.gen != gen || !s.t.defined()) return nullptr;
  return &s.t;
}

bool Release(Napi::Env env, TensorId id) {
  at::Tensor* t = Lookup(id);
  if (!t) return false;
  uint32_t index = static_cast<uint32_t>(id);
  Slot& s = slots[index];
  s.t = at::Tensor();
  s.gen++;  // invalidates every copy of the old id
  if (s.reported) Report(env, -s.reported);
  s.reported = 0;
  freeSlots.push_back(index);
  live--;
  return true;
}

TensorId IdOf(const Napi::Value& v) {
  uint64_t id = 0;
  bool lossless = false;
  // A negative or wider BigInt is not one of ours: map it to an id whose index no table reaches.
  if (napi_get_value_bigint_uint64(v.Env(), v, &id, &lossless) != napi_ok || !lossless) return ~TensorId{0};
  return id;
}

napi_valuetype Args::type(size_t i) const {
  if (i >= info_.Length()) return napi_undefined;
  if (i < 12) {
    if (known_ & (1u << i)) return types_[i];
    napi_typeof(info_.Env(), info_[i], &types_[i]);
    known_ |= static_cast<uint16_t>(1u << i);
    return types_[i];
  }
  napi_valuetype k;
  napi_typeof(info_.Env(), info_[i], &k);
  return k;
}

void Args::fail(size_t i, const char* what) const {
  throw Napi::TypeError::New(env(), "argument " + std::to_string(i) + ": expected " + what);
}

TensorId Args::id(size_t i) const {
  if (type(i) != napi_bigint) fail(i, "a tensor");
  return IdOf(info_[i]);
}

const at::Tensor& Args::t(size_t i) const {
  at::Tensor* t = Lookup(id(i));
  if (!t) throw Napi::Error::New(env(), "tensor was disposed (argument " + std::to_string(i) + ")");
  return *t;
}

std::vector<at::Tensor> Args::tensors(size_t i) const {
  if (!has(i) || !info_[i].IsArray()) fail(i, "an array of tensors");
  auto arr = info_[i].As<Napi::Array>();
  std::vector<at::Tensor> out;
  out.reserve(arr.Length());
  for (uint32_t k = 0; k < arr.Length(); k++) {
    Napi::Value v = arr.Get(k);
    if (!IsHandle(v)) fail(i, "an array of tensors");
    at::Tensor* t = Lookup(IdOf(v));
    if (!t) throw Napi::Error::New(env(), "tensor was disposed (argument " + std::to_string(i) + ", element " + std::to_string(k) + ")");
    out.push_back(*t);
  }
  return out;
}

at::Scalar Args::s(size_t i) const {
  napi_valuetype k = type(i);
  if (k == napi_boolean) return at::Scalar(info_[i].As<Napi::Boolean>().Value());
  if (k != napi_number) fail(i, "a number");
  double v = info_[i].As<Napi::Number>().DoubleValue();
  // Integral JS numbers act like Python ints, so int tensors stay int (x + 1), floats stay float.
  if (std::isfinite(v) && v == std::floor(v) && std::fabs(v) < 9007199254740992.0) return at::Scalar(static_cast<int64_t>(v));
  return at::Scalar(v);
}

int64_t Args::i64(size_t i) const {
  if (type(i) != napi_number) fail(i, "an integer");
  double v = info_[i].As<Napi::Number>().DoubleValue();
  if (!std::isfinite(v) || v != std::floor(v)) fail(i, "an integer");
  return static_cast<int64_t>(v);
}

double Args::f64(size_t i) const {
  if (type(i) != napi_number) fail(i, "a number");
  return info_[i].As<Napi::Number>().DoubleValue();
}

bool Args::b(size_t i) const {
  if (type(i) != napi_boolean) fail(i, "a boolean");
  return info_[i].As<Napi::Boolean>().Value();
}

std::vector<int64_t> Args::ints(size_t i) const {
  if (type(i) == napi_number) return {i64(i)};
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

const napi_type_tag kGeneratorTag = {0x9d1f6c2a4b7e4f01ULL, 0xa5c3e8d2f0b61e77ULL};

c10::optional<at::Generator> Args::gen(size_t i) const {
  if (!has(i)) return c10::nullopt;
  if (!info_[i].IsExternal()) fail(i, "a generator");
  auto ext = info_[i].As<Napi::External<at::Generator>>();
  if (!ext.CheckTypeTag(&kGeneratorTag)) fail(i, "a generator");
  return *ext.Data();
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
