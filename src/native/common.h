// Shared plumbing of the addon: tensor handles, argument decoding and the C++→JS error bridge.
// Kept free of torch/torch.h so each translation unit compiles in seconds, not minutes.
#pragma once
#define NAPI_CPP_EXCEPTIONS
#include <napi.h>
#include <ATen/ATen.h>
#include <atomic>
#include <string>
#include <vector>

namespace dml {

// A JS tensor owns one Handle through a napi External. dispose() empties `t` so that native memory
// is released deterministically; the External's finalizer is the GC backstop.
struct Handle {
  at::Tensor t;
  int64_t reported = 0;  // bytes reported to V8 as external memory, given back on release
};

extern std::atomic<int64_t> liveHandles;

Napi::Value Wrap(Napi::Env env, at::Tensor t);
void Release(Napi::Env env, Handle* h);

class Args {
 public:
  explicit Args(const Napi::CallbackInfo& info) : info_(info) {}
  Napi::Env env() const { return info_.Env(); }
  const Napi::CallbackInfo& info() const { return info_; }
  size_t size() const { return info_.Length(); }
  bool has(size_t i) const { return i < info_.Length() && !info_[i].IsUndefined() && !info_[i].IsNull(); }
  bool isTensor(size_t i) const { return has(i) && info_[i].IsExternal(); }
  Handle* handle(size_t i) const;
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

}  // namespace dml
