#include "core/quant/absmean.h"
#include "core/quant/ternary.h"

#include <algorithm>

#include "core/train/keys.h"

namespace lowbit {

double AbsMeanImpl::gamma(const torch::Tensor& w) {
  return std::max(w.detach().abs().mean().item<double>(), 1e-5);
}

torch::Tensor AbsMeanImpl::levels(const torch::Tensor& w) {
  return torch::round(w.detach() / gamma(w)).clamp(-1, 1);
}

torch::Tensor AbsMeanImpl::forward(const torch::Tensor& w) {
  auto q = (levels(w) * gamma(w)).detach();
  return q + (w - w.detach());  // straight-through: forward q, gradient identity
}

void AbsMeanImpl::collect_stats(const torch::Tensor& w, StatMap& out) {
  const auto l = levels(w);
  ternary_stats(l > 0, l < 0, out);
  out[key::kAlpha] = gamma(w);
}

PackedWeight AbsMeanImpl::pack(const torch::Tensor& w) {
  const auto l = levels(w);
  const float g = float(gamma(w));  // the same float product as forward: level * gamma
  return pack_ternary(l > 0, l < 0, g, g);
}

}  // namespace lowbit
