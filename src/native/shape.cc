// Views, reshaping, joining, indexing and sorting.
#include "common.h"

namespace dml {

DML_FN(reshape) { return Wrap(a.env(), a.t(0).reshape(a.ints(1))); }
DML_FN(view) { return Wrap(a.env(), a.t(0).view(a.ints(1))); }
DML_FN(squeeze) { return Wrap(a.env(), a.has(1) ? a.t(0).squeeze(a.i64(1)) : a.t(0).squeeze()); }
DML_FN(unsqueeze) { return Wrap(a.env(), a.t(0).unsqueeze(a.i64(1))); }
DML_FN(flatten) { return Wrap(a.env(), a.t(0).flatten(a.i64(1, 0), a.i64(2, -1))); }
DML_FN(expand) { return Wrap(a.env(), a.t(0).expand(a.ints(1))); }
DML_FN(repeat) { return Wrap(a.env(), a.t(0).repeat(a.ints(1))); }
DML_FN(repeatInterleave) { return Wrap(a.env(), at::repeat_interleave(a.t(0), a.i64(1), a.i64(2))); }
DML_FN(transpose) { return Wrap(a.env(), a.t(0).transpose(a.i64(1), a.i64(2))); }
DML_FN(permute) { return Wrap(a.env(), a.t(0).permute(a.ints(1))); }
DML_FN(contiguous) { return Wrap(a.env(), a.t(0).contiguous()); }
// contiguousFormat(t, 1): the same values in channels-last (NHWC) strides, as t.contiguous(memory_format=torch.channels_last).
DML_FN(contiguousFormat) {
  return Wrap(a.env(), a.t(0).contiguous(a.i64(1) == 1 ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::Contiguous));
}
DML_FN(clone) { return Wrap(a.env(), a.t(0).clone()); }
DML_FN(detach) { return Wrap(a.env(), a.t(0).detach()); }
DML_FN(cat) { return Wrap(a.env(), at::cat(a.tensors(0), a.i64(1, 0))); }
DML_FN(stack) { return Wrap(a.env(), at::stack(a.tensors(0), a.i64(1, 0))); }
DML_FN(narrow) { return Wrap(a.env(), a.t(0).narrow(a.i64(1), a.i64(2), a.i64(3))); }
DML_FN(slice) {
  c10::optional<int64_t> start, end;
  if (a.has(2)) start = a.i64(2);
  if (a.has(3)) end = a.i64(3);
  return Wrap(a.env(), a.t(0).slice(a.i64(1), start, end, a.i64(4, 1)));
}
DML_FN(select) { return Wrap(a.env(), a.t(0).select(a.i64(1), a.i64(2))); }
DML_FN(indexSelect) { return Wrap(a.env(), at::index_select(a.t(0), a.i64(1), a.t(2))); }
DML_FN(gather) { return Wrap(a.env(), at::gather(a.t(0), a.i64(1), a.t(2))); }
DML_FN(scatter) {
  const at::Tensor& x = a.t(0);
  return Wrap(a.env(), a.isTensor(3) ? at::scatter(x, a.i64(1), a.t(2), a.t(3)) : at::scatter(x, a.i64(1), a.t(2), a.s(3)));
}
DML_FN(scatterAdd) { return Wrap(a.env(), at::scatter_add(a.t(0), a.i64(1), a.t(2), a.t(3))); }
DML_FN(indexAdd) { return Wrap(a.env(), at::index_add(a.t(0), a.i64(1), a.t(2), a.t(3))); }
DML_FN(maskedFill) {
  const at::Tensor& x = a.t(0);
  return Wrap(a.env(), a.isTensor(2) ? at::masked_fill(x, a.t(1), a.t(2)) : at::masked_fill(x, a.t(1), a.s(2)));
}
DML_FN(maskedSelect) { return Wrap(a.env(), at::masked_select(a.t(0), a.t(1))); }
DML_FN(nonzero) { return Wrap(a.env(), at::nonzero(a.t(0))); }
// index(x, [i0, i1|null, ...]): PyTorch advanced indexing, null meaning a full slice of that dim.
static c10::List<c10::optional<at::Tensor>> Indices(const Args& a, size_t i) {
  if (!a.has(i) || !a.info()[i].IsArray()) throw Napi::TypeError::New(a.env(), "argument " + std::to_string(i) + ": expected an array of tensors or nulls");
  auto arr = a.info()[i].As<Napi::Array>();
  c10::List<c10::optional<at::Tensor>> out;
  bool any = false;
  for (uint32_t k = 0; k < arr.Length(); k++) {
    Napi::Value v = arr.Get(k);
    if (v.IsNull() || v.IsUndefined()) { out.push_back(c10::nullopt); continue; }
    any = true;
    if (!IsHandle(v)) throw Napi::TypeError::New(a.env(), "argument " + std::to_string(i) + ": expected an array of tensors or nulls");
    at::Tensor* t = Lookup(IdOf(v));
    if (!t) throw Napi::Error::New(a.env(), "tensor was disposed (index " + std::to_string(k) + ")");
    out.push_back(*t);
  }
  // libtorch's index kernels assert (INTERNAL ASSERT) when no index is a tensor.
  if (!any) throw Napi::Error::New(a.env(), "argument " + std::to_string(i) + ": expected at least one index tensor (null keeps a whole dim)");
  return out;
}
DML_FN(index) { return Wrap(a.env(), at::index(a.t(0), Indices(a, 1))); }
// A JS number value takes the destination's dtype, as x[i] = 5 does in Python (index_put
// refuses values of another dtype, and tOrScalar would make an int64 of an integral number).
DML_FN(indexPut) {
  const at::Tensor& x = a.t(0);
  at::Tensor v = a.isTensor(2) ? a.t(2) : at::scalar_tensor(a.s(2), x.options());
  return Wrap(a.env(), at::index_put(x, Indices(a, 1), v, a.b(3, false)));
}
DML_FN(flip) { return Wrap(a.env(), at::flip(a.t(0), a.ints(1))); }
DML_FN(roll) { return Wrap(a.env(), at::roll(a.t(0), a.ints(1), a.ints(2))); }
DML_FN(pad) { return Wrap(a.env(), at::constant_pad_nd(a.t(0), a.ints(1), a.has(2) ? a.s(2) : at::Scalar(0))); }
DML_FN(chunk) { return List(a.env(), at::chunk(a.t(0), a.i64(1), a.i64(2, 0))); }
DML_FN(split) { return List(a.env(), at::split(a.t(0), a.i64(1), a.i64(2, 0))); }
DML_FN(unbind) { return List(a.env(), at::unbind(a.t(0), a.i64(1, 0))); }
DML_FN(topk) { return Pair(a.env(), at::topk(a.t(0), a.i64(1), a.i64(2, -1), a.b(3, true), a.b(4, true))); }
DML_FN(sort) { return Pair(a.env(), at::sort(a.t(0), c10::optional<bool>(a.b(3, false)), a.i64(1, -1), a.b(2, false))); }
DML_FN(argsort) { return Wrap(a.env(), std::get<1>(at::sort(a.t(0), c10::optional<bool>(a.b(3, false)), a.i64(1, -1), a.b(2, false)))); }
DML_FN(oneHot) { return Wrap(a.env(), at::one_hot(a.t(0), a.i64(1, -1))); }
DML_FN(bincount) { return Wrap(a.env(), at::bincount(a.t(0), a.optT(1), a.i64(2, 0))); }
DML_FN(unique) {
  auto r = at::_unique2(a.t(0), /*sorted=*/true, /*return_inverse=*/true, /*return_counts=*/true);
  return List(a.env(), {std::get<0>(r), std::get<1>(r), std::get<2>(r)});
}

void RegisterShape(Napi::Env env, Napi::Object e) {
  (void)env;
  DML_EXPORT(e, reshape); DML_EXPORT(e, view); DML_EXPORT(e, squeeze); DML_EXPORT(e, unsqueeze); DML_EXPORT(e, flatten);
  DML_EXPORT(e, expand); DML_EXPORT(e, repeat); DML_EXPORT(e, repeatInterleave); DML_EXPORT(e, transpose); DML_EXPORT(e, permute);
  DML_EXPORT(e, contiguous); DML_EXPORT(e, contiguousFormat); DML_EXPORT(e, clone); DML_EXPORT(e, detach); DML_EXPORT(e, cat); DML_EXPORT(e, stack);
  DML_EXPORT(e, narrow); DML_EXPORT(e, slice); DML_EXPORT(e, select); DML_EXPORT(e, indexSelect); DML_EXPORT(e, gather);
  DML_EXPORT(e, scatter); DML_EXPORT(e, scatterAdd); DML_EXPORT(e, indexAdd); DML_EXPORT(e, maskedFill); DML_EXPORT(e, maskedSelect);
  DML_EXPORT(e, nonzero); DML_EXPORT(e, index); DML_EXPORT(e, indexPut); DML_EXPORT(e, flip); DML_EXPORT(e, roll); DML_EXPORT(e, pad);
  DML_EXPORT(e, chunk); DML_EXPORT(e, split); DML_EXPORT(e, unbind); DML_EXPORT(e, topk); DML_EXPORT(e, sort); DML_EXPORT(e, argsort);
  DML_EXPORT(e, oneHot); DML_EXPORT(e, bincount); DML_EXPORT(e, unique);
}

}  // namespace dml
