#include "core/quant/absmean.h"

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
  const double n = double(w.numel());
  const double pos = (l > 0).sum().item<double>() / n, neg = (l < 0).sum().item<double>() / n;
  out[key::kSparsity] = 1 - pos - neg;
  out[key::kFracPos] = pos;
  out[key::kFracNeg] = neg;
  out[key::kAlpha] = gamma(w);
}

PackedWeight AbsMeanImpl::pack(const torch::Tensor& w) {
  const auto l = levels(w);
  auto codes = ((l > 0).to(torch::kUInt8) + 2 * (l < 0).to(torch::kUInt8)).flatten().contiguous().cpu();
  PackedWeight p;
  p.bits = 2;
  p.codes.assign(codes.data_ptr<uint8_t>(), codes.data_ptr<uint8_t>() + codes.numel());
  const float g = float(gamma(w));  // the same float product as forward: level * gamma
  p.table = {0.0f, g, -g};
  return p;
}

}  // namespace lowbit
