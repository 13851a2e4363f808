#include "core/quant/twn.h"
#include "core/quant/ternary.h"
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
  ternary_stats(w > delta, w < -delta, out);
  out[key::kAlpha] = alpha;
  out[key::kDelta] = delta;
}

PackedWeight TWNImpl::pack(const torch::Tensor& w) {
  auto [delta, alpha] = delta_alpha(w);
  // Same arithmetic as forward: sign * 1 * alpha in float.
  return pack_ternary(w > delta, w < -delta, float(alpha), float(alpha));
}

}  // namespace lowbit
