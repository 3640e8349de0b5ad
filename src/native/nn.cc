// Neural-network kernels and the in-place updates optimisers need.
#include "common.h"
#include <ATen/core/grad_mode.h>

namespace dml {

DML_FN(conv2d) {
  return Wrap(a.env(), at::conv2d(a.t(0), a.t(1), a.optT(2), a.ints(3), a.ints(4), a.ints(5), a.i64(6, 1)));
}
// scaledDotProductAttention(q, k, v, mask?, scale?): libtorch's fused attention (flash / memory-efficient
// kernels on CPU where the shapes allow, the composed math otherwise), no dropout, not causal.
DML_FN(scaledDotProductAttention) {
  std::optional<double> scale;
  if (a.has(4)) scale = a.f64(4);
  return Wrap(a.env(), at::scaled_dot_product_attention(a.t(0), a.t(1), a.t(2), a.optT(3), 0.0, false, scale));
}
DML_FN(linear) { return Wrap(a.env(), at::linear(a.t(0), a.t(1), a.optT(2))); }
// batchNorm(x, weight?, bias?, runningMean?, runningVar?, training, momentum, eps): running stats update in place.
DML_FN(batchNorm) {
  return Wrap(a.env(), at::batch_norm(a.t(0), a.optT(1), a.optT(2), a.optT(3), a.optT(4), a.b(5), a.f64(6), a.f64(7), true));
}
DML_FN(layerNorm) { return Wrap(a.env(), at::layer_norm(a.t(0), a.ints(1), a.optT(2), a.optT(3), a.f64(4), true)); }
DML_FN(dropout) { return Wrap(a.env(), at::dropout(a.t(0), a.f64(1), a.b(2))); }
DML_FN(maxPool2d) { return Wrap(a.env(), at::max_pool2d(a.t(0), a.ints(1), a.ints(2), a.ints(3), a.ints(4), a.b(5, false))); }
DML_FN(avgPool2d) {
  return Wrap(a.env(), at::avg_pool2d(a.t(0), a.ints(1), a.ints(2), a.ints(3), a.b(4, false), a.b(5, true)));
}
DML_FN(adaptiveAvgPool2d) { return Wrap(a.env(), at::adaptive_avg_pool2d(a.t(0), a.ints(1))); }
DML_FN(adaptiveMaxPool2d) { return Wrap(a.env(), std::get<0>(at::adaptive_max_pool2d(a.t(0), a.ints(1)))); }
DML_FN(upsampleBilinear2d) {
  return Wrap(a.env(), at::upsample_bilinear2d(a.t(0), a.ints(1), a.b(2, false), c10::nullopt, c10::nullopt));
}
DML_FN(upsampleBicubic2d) {
  return Wrap(a.env(), at::upsample_bicubic2d(a.t(0), a.ints(1), a.b(2, false), c10::nullopt, c10::nullopt));
}
// reduction codes follow at::Reduction: 0 none, 1 mean, 2 sum.
DML_FN(crossEntropy) {
  return Wrap(a.env(), at::cross_entropy_loss(a.t(0), a.t(1), a.optT(2), a.i64(3, 1), a.i64(4, -100), a.f64(5, 0.0)));
}
DML_FN(nllLoss) { return Wrap(a.env(), at::nll_loss(a.t(0), a.t(1), a.optT(2), a.i64(3, 1), a.i64(4, -100))); }
DML_FN(klDiv) { return Wrap(a.env(), at::kl_div(a.t(0), a.t(1), a.i64(2, 1), a.b(3, false))); }
DML_FN(mseLoss) { return Wrap(a.env(), at::mse_loss(a.t(0), a.t(1), a.i64(2, 1))); }
DML_FN(bceWithLogits) {
  return Wrap(a.env(), at::binary_cross_entropy_with_logits(a.t(0), a.t(1), a.optT(2), a.optT(3), a.i64(4, 1)));
}

// In-place updates: they mutate the tensor behind argument 0 and return nothing.
#define INPLACE(name, stmt) \
  DML_FN(name) {            \
    at::Tensor x = a.t(0);  \
    stmt;                   \
    return a.env().Undefined(); \
  }
INPLACE(add_, a.isTensor(1) ? x.add_(a.t(1), a.has(2) ? a.s(2) : at::Scalar(1)) : x.add_(a.s(1), a.has(2) ? a.s(2) : at::Scalar(1)))
INPLACE(sub_, a.isTensor(1) ? x.sub_(a.t(1), a.has(2) ? a.s(2) : at::Scalar(1)) : x.sub_(a.s(1), a.has(2) ? a.s(2) : at::Scalar(1)))
INPLACE(mul_, a.isTensor(1) ? x.mul_(a.t(1)) : x.mul_(a.s(1)))
INPLACE(div_, a.isTensor(1) ? x.div_(a.t(1)) : x.div_(a.s(1)))
INPLACE(addcmul_, x.addcmul_(a.t(1), a.t(2), a.s(3)))
INPLACE(addcdiv_, x.addcdiv_(a.t(1), a.t(2), a.s(3)))
INPLACE(lerp_, x.lerp_(a.t(1), a.s(2)))
INPLACE(copy_, x.copy_(a.t(1)))
INPLACE(zero_, x.zero_())
INPLACE(fill_, x.fill_(a.s(1)))
INPLACE(relu_, x.relu_())
INPLACE(clamp_, x.clamp_(a.optS(1), a.optS(2)))
INPLACE(sqrt_, x.sqrt_())
INPLACE(maskedFill_, x.masked_fill_(a.t(1), a.s(2)))
INPLACE(indexPut_, x.index_put_({a.t(1)}, a.isTensor(2) ? a.t(2) : at::scalar_tensor(a.s(2), x.options()), a.b(3, false)))

// sgdStep(params, bufs, lr, momentum, dampening, weightDecay, nesterov, maximize):
// SGD with momentum over a whole parameter group in one call, so a ResNet-50 step does not pay
// 160 × 4 JS→native crossings. Matches torch.optim.SGD (foreach=False) to the bit.
DML_FN(sgdStep) {
  auto params = a.tensors(0);
  if (!a.info()[1].IsArray()) throw Napi::TypeError::New(a.env(), "argument 1: expected an array");
  auto bufsArr = a.info()[1].As<Napi::Array>();
  double lr = a.f64(2), momentum = a.f64(3), dampening = a.f64(4), wd = a.f64(5);
  bool nesterov = a.b(6), maximize = a.b(7, false);
  if (bufsArr.Length() != params.size()) throw Napi::Error::New(a.env(), "sgdStep: params and buffers differ in length");
  // Momentum buffers come in as tensors or nulls; a null is created here (buffer = d on the first
  // step, as torch does) and handed back at the same position of the returned array.
  auto created = Napi::Array::New(a.env(), params.size());
  at::NoGradGuard guard;
  for (size_t k = 0; k < params.size(); k++) {
    const at::Tensor& g = params[k].grad();
    if (!g.defined()) continue;  // parameters without a gradient are left alone, as in torch
    at::Tensor d = maximize ? -g : g;
    if (wd != 0) d = d.add(params[k], wd);
    if (momentum != 0) {
      Napi::Value bv = bufsArr.Get(static_cast<uint32_t>(k));
      at::Tensor buf;
      at::Tensor* existing = IsHandle(bv) ? Lookup(IdOf(bv)) : nullptr;
      if (existing) {
        buf = *existing;
        buf.mul_(momentum).add_(d, 1 - dampening);
      } else {
        buf = d.clone().detach();
        created.Set(static_cast<uint32_t>(k), Wrap(a.env(), buf));
      }
      d = nesterov ? d.add(buf, momentum) : buf;
    }
    params[k].add_(d, -lr);
  }
  return created;
}

void RegisterNN(Napi::Env env, Napi::Object e) {
  (void)env;
  DML_EXPORT(e, conv2d); DML_EXPORT(e, linear); DML_EXPORT(e, scaledDotProductAttention); DML_EXPORT(e, batchNorm); DML_EXPORT(e, layerNorm); DML_EXPORT(e, dropout);
  DML_EXPORT(e, maxPool2d); DML_EXPORT(e, avgPool2d); DML_EXPORT(e, adaptiveAvgPool2d); DML_EXPORT(e, adaptiveMaxPool2d);
  DML_EXPORT(e, upsampleBilinear2d); DML_EXPORT(e, upsampleBicubic2d); DML_EXPORT(e, crossEntropy); DML_EXPORT(e, nllLoss); DML_EXPORT(e, klDiv);
  DML_EXPORT(e, mseLoss); DML_EXPORT(e, bceWithLogits);
  DML_EXPORT(e, add_); DML_EXPORT(e, sub_); DML_EXPORT(e, mul_); DML_EXPORT(e, div_); DML_EXPORT(e, addcmul_);
  DML_EXPORT(e, addcdiv_); DML_EXPORT(e, lerp_); DML_EXPORT(e, copy_); DML_EXPORT(e, zero_); DML_EXPORT(e, fill_);
  DML_EXPORT(e, clamp_); DML_EXPORT(e, relu_); DML_EXPORT(e, sqrt_); DML_EXPORT(e, maskedFill_); DML_EXPORT(e, indexPut_); DML_EXPORT(e, sgdStep);
}

}  // namespace dml
