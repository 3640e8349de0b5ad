// Shared plumbing of the addon: tensor handles, argument decoding and the C++→JS error bridge.
// Kept free of torch/torch.h so each translation unit compiles in seconds, not minutes.
#pragma once
#ifndef NAPI_CPP_EXCEPTIONS
#define NAPI_CPP_EXCEPTIONS
#endif
#include <napi.h>
#include <ATen/ATen.h>
#include <ATen/core/LegacyTypeDispatch.h>
#include <atomic>
#include <string>
#include <vector>

namespace dml {

// Tensors live in a native slot table; JS holds the slot id (index + generation) as a BigInt, not a
// pointer. A BigInt is a plain young-generation value: Node 20's napi_create_external allocates a
// wrapper and a weak global handle per call, which cost about a third of a 1-element add. A stale id
// is detected by its generation instead of touching freed memory, and the GC backstop is a JS
// FinalizationRegistry registered only for tensors that escape tidy() scopes.
using TensorId = uint64_t;
int64_t LiveTensors();
Napi::Value Wrap(Napi::Env env, at::Tensor t);
// Frees the slot behind id; false when it was already free (disposed earlier).
bool Release(Napi::Env env, TensorId id);
// The tensor behind id, or nullptr when the id is stale.
at::Tensor* Lookup(TensorId id);
TensorId IdOf(const Napi::Value& v);
// Whether v has the type of a tensor handle (it may still be stale).
inline bool IsHandle(const Napi::Value& v) { return v.IsBigInt(); }
// Generators are tagged so that another External (a process group, a reducer) passed where a
// generator is expected is refused instead of being dereferenced as an at::Generator*.
extern const napi_type_tag kGeneratorTag;

class Args {
 public:
  explicit Args(const Napi::CallbackInfo& info) : info_(info) {}
  Napi::Env env() const { return info_.Env(); }
  const Napi::CallbackInfo& info() const { return info_; }
  size_t size() const { return info_.Length(); }
  napi_valuetype type(size_t i) const;
  bool has(size_t i) const { napi_valuetype k = type(i); return k != napi_undefined && k != napi_null; }
  bool isTensor(size_t i) const { return type(i) == napi_bigint; }
  TensorId id(size_t i) const;
  const at::Tensor& t(size_t i) const;
  c10::optional<at::Tensor> optT(size_t i) const { return has(i) ? c10::optional<at::Tensor>(t(i)) : c10::nullopt; }
  std::vector<at::Tensor> tensors(size_t i) const;
  at::Scalar s(size_t i) const;
  c10::optional<at::Scalar> optS(size_t i) const { return has(i) ? c10::optional<at::Scalar>(s(i)) : c10::nullopt; }
  int64_t i64(size_t i) const;
  int64_t i64(size_t i, int64_t dflt) const { return has(i) ? i64(i) : dflt; }
  double f64(size_t i) const;
  double f64(size_t i, double dflt) const { return has(i) ? f64(i) : dflt; }
  bool b(size_t i) const;
  bool b(size_t i, bool dflt) const { return has(i) ? b(i) : dflt; }
  std::vector<int64_t> ints(size_t i) const;
  c10::optional<std::vector<int64_t>> optInts(size_t i) const {
    return has(i) ? c10::optional<std::vector<int64_t>>(ints(i)) : c10::nullopt;
  }
  std::string str(size_t i) const;
  at::ScalarType dtype(size_t i) const;
  c10::optional<at::ScalarType> optDtype(size_t i) const { return has(i) ? c10::optional<at::ScalarType>(dtype(i)) : c10::nullopt; }
  at::Device device(size_t i) const;
  c10::optional<at::Generator> gen(size_t i) const;
  // A tensor, or a JS number/boolean turned into a 0-d tensor like PyTorch's wrapped scalars.
  at::Tensor tOrScalar(size_t i, const at::Tensor& like) const;

 private:
  [[noreturn]] void fail(size_t i, const char* what) const;
  const Napi::CallbackInfo& info_;
  // napi_typeof results, filled on first use: every argument is classified once.
  mutable napi_valuetype types_[12];
  mutable uint16_t known_ = 0;
};

// For out-of-place, non-view ops: when no input needs a gradient (the engine has no forward-mode
// AD), the autograd and view-tracking dispatch layers only decide that the result needs none either,
// which is a quarter of a small op's time. Skipping them gives the same tensor.
class BelowAutogradIfNoGrad {
 public:
  explicit BelowAutogradIfNoGrad(const at::Tensor& x, const at::Tensor* y = nullptr) {
    if (!x.requires_grad() && !(y && y->requires_grad())) guard_.emplace();
  }

 private:
  c10::optional<at::AutoDispatchBelowADInplaceOrView> guard_;
};

Napi::Value Pair(Napi::Env env, const std::tuple<at::Tensor, at::Tensor>& p);
Napi::Value List(Napi::Env env, const std::vector<at::Tensor>& ts);

template <Napi::Value (*F)(const Args&)>
Napi::Value Guarded(const Napi::CallbackInfo& info) {
  try {
    return F(Args(info));
  } catch (const Napi::Error&) {
    throw;
  } catch (const c10::Error& e) {
    throw Napi::Error::New(info.Env(), e.what_without_backtrace());
  } catch (const std::exception& e) {
    throw Napi::Error::New(info.Env(), e.what());
  } catch (...) {
    throw Napi::Error::New(info.Env(), "unknown native error");
  }
}

#define DML_FN(name) static Napi::Value name(const dml::Args& a)
#define DML_EXPORT(exports, name) \
  (exports).Set(#name, Napi::Function::New((exports).Env(), dml::Guarded<name>, #name))

void RegisterCore(Napi::Env env, Napi::Object exports);
void RegisterMath(Napi::Env env, Napi::Object exports);
void RegisterShape(Napi::Env env, Napi::Object exports);
void RegisterNN(Napi::Env env, Napi::Object exports);
void RegisterAutograd(Napi::Env env, Napi::Object exports);
void RegisterImage(Napi::Env env, Napi::Object exports);
void RegisterDistributed(Napi::Env env, Napi::Object exports);
void RegisterProfiler(Napi::Env env, Napi::Object exports);

}  // namespace dml
