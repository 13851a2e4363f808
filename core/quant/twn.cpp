#include "core/quant/twn.h"
#include "core/train/keys.h"

namespace lowbit {

std::pair<double, double> TWNImpl::delta_alpha(const torch::Tensor& w) {
  auto a = w.detach().abs();
  double delta = 0.7 * a.mean().item<double>();
  auto kept = a.masked_select(a > delta);
  double alpha = kept.numel() > 0 ? kept.mean().item<double>() : 0.0;
  return {delta, alpha};
}

torch::Tensor TWNImpl::forward(const torch::Tensor& w) {
  auto [delta, alpha] = delta_alpha(w);
  auto q = (torch::sign(w) * (w.abs() > delta).to(w.dtype()) * alpha).detach();
  return q + (w - w.detach());  // straight-through: forward q, gradient identity
}

void TWNImpl::collect_stats(const torch::Tensor& w, StatMap& out) {
  auto [delta, alpha] = delta_alpha(w);
  double n = double(w.numel());
  double pos = (w > delta).sum().item<double>() / n, neg = (w < -delta).sum().item<double>() / n;
  out[key::kSparsity] = 1 - pos - neg;
  out[key::kFracPos] = pos;
  out[key::kFracNeg] = neg;
  out[key::kAlpha] = alpha;
  out[key::kDelta] = delta;
}

PackedWeight TWNImpl::pack(const torch::Tensor& w) {
  auto [delta, alpha] = delta_alpha(w);
  auto codes = ((w > delta).to(torch::kUInt8) + 2 * (w < -delta).to(torch::kUInt8))
                   .flatten()
                   .contiguous()
                   .cpu();
  PackedWeight p;
  p.bits = 2;
  p.codes.assign(codes.data_ptr<uint8_t>(), codes.data_ptr<uint8_t>() + codes.numel());
  // Same arithmetic as forward: sign * 1 * alpha in float.
  p.table = {0.0f, float(alpha), -float(alpha)};
  return p;
}

}  // namespace lowbit
