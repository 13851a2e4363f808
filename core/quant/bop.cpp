#include "core/quant/bop.h"
#include "core/train/keys.h"

#include <fmt/format.h>

namespace lowbit {

BopImpl::BopImpl(double g, double t) : gamma(g), tau(t) {
  TORCH_CHECK(gamma > 0 && gamma <= 1, "Bop: gamma must be in (0, 1]");
  TORCH_CHECK(tau >= 0, "Bop: tau must be non-negative");
}

void BopImpl::init_from(const torch::Tensor& w) {
  torch::NoGradGuard g;
  auto wd = w.detach();
  wd.copy_(torch::where(wd >= 0, torch::ones({}, wd.options()), -torch::ones({}, wd.options())));
  m = register_buffer("m", torch::zeros_like(wd));
}

void BopImpl::update(torch::Tensor& w) {
  torch::NoGradGuard g;
  auto grad = w.grad();
  if (!grad.defined()) return;
  m.mul_(1 - gamma).add_(grad, gamma);
  auto flip = (m.abs() > tau) & (torch::sign(m) == torch::sign(w));
  flips_since_stats += flip.sum().item<int64_t>();
  w.copy_(torch::where(flip, -w, w));
}

void BopImpl::collect_stats(const torch::Tensor& w, StatMap& out) {
  out[key::kFracPos] = (w > 0).to(torch::kFloat64).mean().item<double>();
  out[key::kFracNeg] = 1 - out[key::kFracPos];
  out[key::kSparsity] = 0.0;
  out[key::kFlips] = double(flips_since_stats);
  out[key::kMAbsMean] = m.abs().mean().item<double>();
  flips_since_stats = 0;
}

PackedWeight BopImpl::pack(const torch::Tensor& w) {
  PackedWeight p;
  p.bits = 1;
  auto codes = (w < 0).to(torch::kUInt8).flatten().contiguous().cpu();
  p.codes.assign(codes.data_ptr<uint8_t>(), codes.data_ptr<uint8_t>() + codes.numel());
  p.table = {1.0f, -1.0f};
  return p;
}

std::string BopImpl::describe() const { return fmt::format("Bop(gamma={}, tau={})", gamma, tau); }

}  // namespace lowbit
