// Autograd: gradients, grad mode and the graph-level grad() used by gradient checks.
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/function.h>
#include "common.h"

namespace dml {

DML_FN(backward) {
  at::Tensor g = a.has(1) ? a.t(1) : at::Tensor();
  c10::optional<bool> retain;
  if (a.has(2)) retain = a.b(2);
  a.t(0).backward(g, retain, a.b(3, false));
  return a.env().Undefined();
}
DML_FN(grad) { return Wrap(a.env(), a.t(0).grad()); }
// Like Python's x.grad = g: a gradient of another shape, dtype or device is refused (an optimiser
// would otherwise broadcast it silently or fail far from the assignment).
DML_FN(setGrad) {
  at::Tensor x = a.t(0);
  if (!a.has(1)) {
    x.mutable_grad() = at::Tensor();
    return a.env().Undefined();
  }
  const at::Tensor& g = a.t(1);
  TORCH_CHECK(g.scalar_type() == x.scalar_type(), "assigned grad has data of a different type");
  TORCH_CHECK(g.device() == x.device(), "assigned grad has data located on a different device");
  TORCH_CHECK(g.sizes() == x.sizes(), "assigned grad has data of a different size");
  x.mutable_grad() = g;
  return a.env().Undefined();
}
DML_FN(requiresGrad) { return Napi::Boolean::New(a.env(), a.t(0).requires_grad()); }
DML_FN(setRequiresGrad) { a.t(0).requires_grad_(a.b(1)); return a.env().Undefined(); }
DML_FN(isLeaf) { return Napi::Boolean::New(a.env(), a.t(0).is_leaf()); }
DML_FN(retainGrad) { a.t(0).retain_grad(); return a.env().Undefined(); }
DML_FN(gradFn) {
  auto fn = a.t(0).grad_fn();
  if (!fn) return a.env().Null();
  return Napi::String::New(a.env(), fn->name());
}
DML_FN(setGradEnabled) {
  bool prev = c10::GradMode::is_enabled();
  c10::GradMode::set_enabled(a.b(0));
  return Napi::Boolean::New(a.env(), prev);
}
DML_FN(isGradEnabled) { return Napi::Boolean::New(a.env(), c10::GradMode::is_enabled()); }
// autogradGrad(outputs, inputs, gradOutputs?, retainGraph?, createGraph?, allowUnused?)
DML_FN(autogradGrad) {
  auto outs = a.tensors(0);
  auto ins = a.tensors(1);
  std::vector<at::Tensor> gos = a.has(2) ? a.tensors(2) : std::vector<at::Tensor>();
  c10::optional<bool> retain;
  if (a.has(3)) retain = a.b(3);
  auto r = torch::autograd::grad(outs, ins, gos, retain, a.b(4, false), a.b(5, false));
  return List(a.env(), r);
}

void RegisterAutograd(Napi::Env env, Napi::Object e) {
  (void)env;
  DML_EXPORT(e, backward); DML_EXPORT(e, grad); DML_EXPORT(e, setGrad); DML_EXPORT(e, requiresGrad);
  DML_EXPORT(e, setRequiresGrad); DML_EXPORT(e, isLeaf); DML_EXPORT(e, retainGrad); DML_EXPORT(e, gradFn);
  DML_EXPORT(e, setGradEnabled); DML_EXPORT(e, isGradEnabled); DML_EXPORT(e, autogradGrad);
}

}  // namespace dml
