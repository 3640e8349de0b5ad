// Element-wise arithmetic, comparisons, reductions and linear algebra.
#include "common.h"

namespace dml {

#define UNARY(name, expr)         \
  DML_FN(name) {                  \
    const at::Tensor& x = a.t(0); \
    BelowAutogradIfNoGrad fast(x); \
    return Wrap(a.env(), expr);   \
  }
UNARY(neg, at::neg(x)) UNARY(exp, at::exp(x)) UNARY(log, at::log(x)) UNARY(log1p, at::log1p(x))
UNARY(expm1, at::expm1(x)) UNARY(log2, at::log2(x)) UNARY(sqrt, at::sqrt(x)) UNARY(rsqrt, at::rsqrt(x))
UNARY(abs, at::abs(x)) UNARY(sign, at::sign(x)) UNARY(floor, at::floor(x)) UNARY(ceil, at::ceil(x))
UNARY(round, at::round(x)) UNARY(trunc, at::trunc(x)) UNARY(sin, at::sin(x)) UNARY(cos, at::cos(x))
UNARY(tan, at::tan(x)) UNARY(acos, at::acos(x)) UNARY(relu, at::relu(x)) UNARY(sigmoid, at::sigmoid(x))
UNARY(tanh, at::tanh(x)) UNARY(gelu, at::gelu(x)) UNARY(geluTanh, at::gelu(x, "tanh")) UNARY(silu, at::silu(x)) UNARY(square, at::square(x))
UNARY(reciprocal, at::reciprocal(x)) UNARY(lgamma, at::lgamma(x)) UNARY(digamma, at::digamma(x))
UNARY(erf, at::erf(x)) UNARY(isnan, at::isnan(x)) UNARY(isinf, at::isinf(x)) UNARY(isfinite, at::isfinite(x))
UNARY(logicalNot, at::logical_not(x))
DML_FN(t) { return Wrap(a.env(), a.t(0).t()); }  // a view: it keeps the full dispatch
UNARY(softplus, at::softplus(x, a.s(1), a.s(2)))
UNARY(leakyRelu, at::leaky_relu(x, a.s(1)))
UNARY(clamp, at::clamp(x, a.optS(1), a.optS(2)))
// The bounds may need a gradient themselves: full dispatch.
DML_FN(clampTensor) { return Wrap(a.env(), at::clamp(a.t(0), a.optT(1), a.optT(2))); }

// Binary ops take a tensor or a JS number as the second operand, like PyTorch's Python API.
#define BINARY(name, fn)                                                 \
  DML_FN(name) {                                                         \
    const at::Tensor& x = a.t(0);                                        \
    if (!a.isTensor(1)) {                                                \
      BelowAutogradIfNoGrad fast(x);                                     \
      return Wrap(a.env(), fn(x, a.s(1)));                               \
    }                                                                    \
    const at::Tensor& y = a.t(1);                                        \
    BelowAutogradIfNoGrad fast(x, &y);                                   \
    return Wrap(a.env(), fn(x, y));                                      \
  }
BINARY(mul, at::mul) BINARY(pow, at::pow) BINARY(remainder, at::remainder) BINARY(fmod, at::fmod)
BINARY(eq, at::eq) BINARY(ne, at::ne) BINARY(lt, at::lt) BINARY(le, at::le) BINARY(gt, at::gt) BINARY(ge, at::ge)

// add/sub also take PyTorch's alpha (x + alpha * y).
#define BINARY_ALPHA(name, fn)                                   \
  DML_FN(name) {                                                 \
    const at::Tensor& x = a.t(0);                                \
    at::Scalar alpha = a.has(2) ? a.s(2) : at::Scalar(1);        \
    if (!a.isTensor(1)) {                                        \
      BelowAutogradIfNoGrad fast(x);                             \
      return Wrap(a.env(), fn(x, a.s(1), alpha));                \
    }                                                            \
    const at::Tensor& y = a.t(1);                                \
    BelowAutogradIfNoGrad fast(x, &y);                           \
    return Wrap(a.env(), fn(x, y, alpha));                       \
  }
BINARY_ALPHA(add, at::add) BINARY_ALPHA(sub, at::sub)
DML_FN(rsub) { return Wrap(a.env(), at::rsub(a.t(0), a.s(1))); }
DML_FN(div) {
  const at::Tensor& x = a.t(0);
  c10::optional<c10::string_view> mode;
  std::string m;
  if (a.has(2)) { m = a.str(2); mode = m; }
  return Wrap(a.env(), a.isTensor(1) ? at::div(x, a.t(1), mode) : at::div(x, a.s(1), mode));
}
DML_FN(powScalarBase) { return Wrap(a.env(), at::pow(a.s(0), a.t(1))); }
DML_FN(maximum) { const at::Tensor& x = a.t(0); return Wrap(a.env(), at::maximum(x, a.tOrScalar(1, x))); }
DML_FN(minimum) { const at::Tensor& x = a.t(0); return Wrap(a.env(), at::minimum(x, a.tOrScalar(1, x))); }
DML_FN(logicalAnd) { return Wrap(a.env(), at::logical_and(a.t(0), a.t(1))); }
DML_FN(logicalOr) { return Wrap(a.env(), at::logical_or(a.t(0), a.t(1))); }
DML_FN(logicalXor) { return Wrap(a.env(), at::logical_xor(a.t(0), a.t(1))); }
DML_FN(where) {
  const at::Tensor& c = a.t(0);
  at::Tensor x = a.isTensor(1) ? a.t(1) : (a.isTensor(2) ? a.tOrScalar(1, a.t(2)) : a.tOrScalar(1, c));
  at::Tensor y = a.tOrScalar(2, x);
  return Wrap(a.env(), at::where(c, x, y));
}
DML_FN(lerp) { return Wrap(a.env(), at::lerp(a.t(0), a.t(1), a.s(2))); }
DML_FN(atan2) { return Wrap(a.env(), at::atan2(a.t(0), a.t(1))); }

// Reductions: dims undefined means over all elements.
DML_FN(sum) {
  const at::Tensor& x = a.t(0);
  if (!a.has(1)) return Wrap(a.env(), at::sum(x, a.optDtype(3)));
  return Wrap(a.env(), at::sum(x, a.ints(1), a.b(2, false), a.optDtype(3)));
}
DML_FN(mean) {
  const at::Tensor& x = a.t(0);
  if (!a.has(1)) return Wrap(a.env(), at::mean(x));
  return Wrap(a.env(), at::mean(x, a.ints(1), a.b(2, false)));
}
DML_FN(prod) {
  const at::Tensor& x = a.t(0);
  if (!a.has(1)) return Wrap(a.env(), at::prod(x));
  return Wrap(a.env(), at::prod(x, a.i64(1), a.b(2, false)));
}
DML_FN(maxAll) { return Wrap(a.env(), at::max(a.t(0))); }
DML_FN(minAll) { return Wrap(a.env(), at::min(a.t(0))); }
DML_FN(maxDim) { return Pair(a.env(), at::max(a.t(0), a.i64(1), a.b(2, false))); }
DML_FN(minDim) { return Pair(a.env(), at::min(a.t(0), a.i64(1), a.b(2, false))); }
DML_FN(amax) { return Wrap(a.env(), at::amax(a.t(0), a.ints(1), a.b(2, false))); }
DML_FN(amin) { return Wrap(a.env(), at::amin(a.t(0), a.ints(1), a.b(2, false))); }
DML_FN(argmax) {
  c10::optional<int64_t> dim;
  if (a.has(1)) dim = a.i64(1);
  return Wrap(a.env(), at::argmax(a.t(0), dim, a.b(2, false)));
}
DML_FN(argmin) {
  c10::optional<int64_t> dim;
  if (a.has(1)) dim = a.i64(1);
  return Wrap(a.env(), at::argmin(a.t(0), dim, a.b(2, false)));
}
DML_FN(logsumexp) { return Wrap(a.env(), at::logsumexp(a.t(0), a.ints(1), a.b(2, false))); }
DML_FN(softmax) { return Wrap(a.env(), at::softmax(a.t(0), a.i64(1), a.optDtype(2))); }
DML_FN(logSoftmax) { return Wrap(a.env(), at::log_softmax(a.t(0), a.i64(1), a.optDtype(2))); }
DML_FN(norm) {
  const at::Tensor& x = a.t(0);
  at::Scalar p = a.has(1) ? a.s(1) : at::Scalar(2.0);
  if (!a.has(2)) return Wrap(a.env(), at::norm(x, p));
  return Wrap(a.env(), at::norm(x, p, a.ints(2), a.b(3, false)));
}
DML_FN(cumsum) { return Wrap(a.env(), at::cumsum(a.t(0), a.i64(1))); }
DML_FN(cumprod) { return Wrap(a.env(), at::cumprod(a.t(0), a.i64(1))); }
DML_FN(any) {
  if (!a.has(1)) return Wrap(a.env(), at::any(a.t(0)));
  return Wrap(a.env(), at::any(a.t(0), a.i64(1), a.b(2, false)));
}
DML_FN(all) {
  if (!a.has(1)) return Wrap(a.env(), at::all(a.t(0)));
  return Wrap(a.env(), at::all(a.t(0), a.i64(1), a.b(2, false)));
}
DML_FN(var) {
  const at::Tensor& x = a.t(0);
  c10::optional<at::IntArrayRef> dims;
  std::vector<int64_t> d;
  if (a.has(1)) { d = a.ints(1); dims = d; }
  return Wrap(a.env(), at::var(x, dims, a.has(2) ? c10::optional<int64_t>(a.i64(2)) : c10::nullopt, a.b(3, false)));
}
DML_FN(std) {
  const at::Tensor& x = a.t(0);
  c10::optional<at::IntArrayRef> dims;
  std::vector<int64_t> d;
  if (a.has(1)) { d = a.ints(1); dims = d; }
  return Wrap(a.env(), at::std(x, dims, a.has(2) ? c10::optional<int64_t>(a.i64(2)) : c10::nullopt, a.b(3, false)));
}

DML_FN(matmul) { return Wrap(a.env(), at::matmul(a.t(0), a.t(1))); }
DML_FN(mm) { return Wrap(a.env(), at::mm(a.t(0), a.t(1))); }
DML_FN(bmm) { return Wrap(a.env(), at::bmm(a.t(0), a.t(1))); }
DML_FN(outer) { return Wrap(a.env(), at::outer(a.t(0), a.t(1))); }
DML_FN(addmm) { return Wrap(a.env(), at::addmm(a.t(0), a.t(1), a.t(2), a.s(3), a.s(4))); }
DML_FN(cdist) { return Wrap(a.env(), at::cdist(a.t(0), a.t(1), a.f64(2, 2.0))); }
DML_FN(einsum) { return Wrap(a.env(), at::einsum(a.str(0), a.tensors(1))); }
// Symmetric eigenproblems and SVD (torch.linalg); uplo names the triangle read, as in PyTorch.
DML_FN(eigh) {
  auto r = at::linalg_eigh(a.t(0), a.has(1) ? a.str(1) : std::string("L"));
  return List(a.env(), {std::get<0>(r), std::get<1>(r)});
}
DML_FN(eigvalsh) { return Wrap(a.env(), at::linalg_eigvalsh(a.t(0), a.has(1) ? a.str(1) : std::string("L"))); }
DML_FN(svd) {
  auto r = at::linalg_svd(a.t(0), a.b(1, true));
  return List(a.env(), {std::get<0>(r), std::get<1>(r), std::get<2>(r)});
}
DML_FN(svdvals) { return Wrap(a.env(), at::linalg_svdvals(a.t(0))); }
DML_FN(diag) { return Wrap(a.env(), at::diag(a.t(0), a.i64(1, 0))); }
DML_FN(diagonal) { return Wrap(a.env(), at::diagonal(a.t(0), a.i64(1, 0), a.i64(2, 0), a.i64(3, 1))); }
DML_FN(triu) { return Wrap(a.env(), at::triu(a.t(0), a.i64(1, 0))); }
DML_FN(tril) { return Wrap(a.env(), at::tril(a.t(0), a.i64(1, 0))); }

void RegisterMath(Napi::Env env, Napi::Object e) {
  (void)env;
  DML_EXPORT(e, neg); DML_EXPORT(e, exp); DML_EXPORT(e, log); DML_EXPORT(e, log1p); DML_EXPORT(e, expm1); DML_EXPORT(e, log2);
  DML_EXPORT(e, sqrt); DML_EXPORT(e, rsqrt); DML_EXPORT(e, abs); DML_EXPORT(e, sign); DML_EXPORT(e, floor); DML_EXPORT(e, ceil);
  DML_EXPORT(e, round); DML_EXPORT(e, trunc); DML_EXPORT(e, sin); DML_EXPORT(e, cos); DML_EXPORT(e, tan); DML_EXPORT(e, acos);
  DML_EXPORT(e, relu); DML_EXPORT(e, sigmoid); DML_EXPORT(e, tanh); DML_EXPORT(e, gelu); DML_EXPORT(e, geluTanh); DML_EXPORT(e, silu); DML_EXPORT(e, square);
  DML_EXPORT(e, reciprocal); DML_EXPORT(e, lgamma); DML_EXPORT(e, digamma); DML_EXPORT(e, erf); DML_EXPORT(e, isnan);
  DML_EXPORT(e, isinf); DML_EXPORT(e, isfinite); DML_EXPORT(e, logicalNot); DML_EXPORT(e, t); DML_EXPORT(e, softplus);
  DML_EXPORT(e, leakyRelu); DML_EXPORT(e, clamp); DML_EXPORT(e, clampTensor);
  DML_EXPORT(e, add); DML_EXPORT(e, sub); DML_EXPORT(e, rsub); DML_EXPORT(e, mul); DML_EXPORT(e, div); DML_EXPORT(e, pow);
  DML_EXPORT(e, powScalarBase); DML_EXPORT(e, remainder); DML_EXPORT(e, fmod);
  DML_EXPORT(e, eq); DML_EXPORT(e, ne); DML_EXPORT(e, lt); DML_EXPORT(e, le); DML_EXPORT(e, gt); DML_EXPORT(e, ge);
  DML_EXPORT(e, maximum); DML_EXPORT(e, minimum); DML_EXPORT(e, logicalAnd); DML_EXPORT(e, logicalOr); DML_EXPORT(e, logicalXor);
  DML_EXPORT(e, where); DML_EXPORT(e, lerp); DML_EXPORT(e, atan2);
  DML_EXPORT(e, sum); DML_EXPORT(e, mean); DML_EXPORT(e, prod); DML_EXPORT(e, maxAll); DML_EXPORT(e, minAll); DML_EXPORT(e, maxDim);
  DML_EXPORT(e, minDim); DML_EXPORT(e, amax); DML_EXPORT(e, amin); DML_EXPORT(e, argmax); DML_EXPORT(e, argmin);
  DML_EXPORT(e, logsumexp); DML_EXPORT(e, softmax); DML_EXPORT(e, logSoftmax); DML_EXPORT(e, norm); DML_EXPORT(e, cumsum);
  DML_EXPORT(e, cumprod); DML_EXPORT(e, any); DML_EXPORT(e, all); DML_EXPORT(e, var); DML_EXPORT(e, std);
  DML_EXPORT(e, matmul); DML_EXPORT(e, mm); DML_EXPORT(e, bmm); DML_EXPORT(e, outer); DML_EXPORT(e, addmm); DML_EXPORT(e, cdist);
  DML_EXPORT(e, einsum); DML_EXPORT(e, diag); DML_EXPORT(e, diagonal); DML_EXPORT(e, triu); DML_EXPORT(e, tril);
  DML_EXPORT(e, eigh); DML_EXPORT(e, eigvalsh); DML_EXPORT(e, svd); DML_EXPORT(e, svdvals);
}

}  // namespace dml
