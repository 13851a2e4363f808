#include "core/quant/lsq.h"

#include <cmath>

#include <fmt/format.h>

#include "core/quant/ste.h"
#include "core/train/keys.h"

namespace lowbit {

namespace {

constexpr double kMinStep = 1e-8;

// round() with a straight-through gradient.
torch::Tensor round_pass(const torch::Tensor& x) { return (torch::round(x) - x).detach() + x; }

// Keeps the step positive: a projection before the forward, outside autograd.
void keep_positive(torch::Tensor& step) {
  torch::NoGradGuard g;
  step.clamp_min_(kMinStep);
}

}  // namespace

torch::Tensor grad_scaled(const torch::Tensor& s, double g) { return (s - s * g).detach() + s * g; }

LsqImpl::LsqImpl(int b, bool channel) : bits(b), per_channel(channel) {
  TORCH_CHECK(bits >= 2 && bits <= 8, "LSQ weights: bits must be in 2..8");
  step = register_parameter("step", torch::ones({1}));
}

void LsqImpl::init_from(const torch::Tensor& w) {
  torch::NoGradGuard g;
  const double root = std::sqrt(double(qp()));
  if (per_channel) {
    std::vector<int64_t> shape(w.dim(), 1);
    shape[0] = w.size(0);
    step.set_data((2 * w.abs().flatten(1).mean(1) / root).view(shape).to(w.options()));
  } else {
    step.set_data(torch::full({1}, 2 * w.abs().mean().item<double>() / root, w.options()));
  }
  keep_positive(step);
}

torch::Tensor LsqImpl::forward(const torch::Tensor& w) {
  keep_positive(step);
  // N: the weights each step governs.
  const double n = per_channel ? double(w.numel() / w.size(0)) : double(w.numel());
  const auto s = grad_scaled(step, 1.0 / std::sqrt(n * double(qp())));
  return round_pass((w / s).clamp(-double(qn()), double(qp()))) * s;
}

torch::Tensor LsqImpl::levels(const torch::Tensor& w) const {
  return torch::round((w.detach() / step.detach()).clamp(-double(qn()), double(qp())));
}

void LsqImpl::collect_stats(const torch::Tensor& w, StatMap& out) {
  level_stats(levels(w), out);
  out[key::kAlpha] = step.detach().mean().item<double>();
}

PackedWeight LsqImpl::pack(const torch::Tensor& w) {
  PackedWeight p;
  p.bits = bits;
  auto codes = (levels(w) + double(qn())).flatten().to(torch::kUInt8).cpu();
  p.codes.assign(codes.data_ptr<uint8_t>(), codes.data_ptr<uint8_t>() + codes.numel());
  const auto s = step.detach().to(torch::kCPU, torch::kFloat32).flatten();
  // Decodes as forward computes: level * step, in float.
  for (int64_t c = 0; c < (int64_t(1) << bits); ++c)
    p.table.push_back(per_channel ? float(c - qn()) : float(c - qn()) * s[0].item<float>());
  if (per_channel) p.channel_scale.assign(s.data_ptr<float>(), s.data_ptr<float>() + s.numel());
  return p;
}

std::string LsqImpl::describe() const {
  return fmt::format("LSQ(bits={}, step per {})", bits, per_channel ? "channel" : "layer");
}

LsqActImpl::LsqActImpl(int b, LsqGradCount c) : bits(b), count(c) {
  TORCH_CHECK(bits >= 1 && bits <= 8, "LSQ activations: bits must be in 1..8");
  step = register_parameter("step", torch::ones({1}));
  initialized = register_buffer("initialized", torch::zeros({1}));
}

torch::Tensor LsqActImpl::forward(const torch::Tensor& x) {
  if (is_training() && initialized.item<double>() == 0) {
    torch::NoGradGuard g;
    step.fill_(2 * x.clamp_min(0).mean().item<double>() / std::sqrt(double(qp())));
    initialized.fill_(1);
  }
  keep_positive(step);
  const double n = count == LsqGradCount::kElements ? double(x.numel())
                                                     : double(x.numel() / std::max<int64_t>(x.size(0), 1));
  const auto s = grad_scaled(step, 1.0 / std::sqrt(n * double(qp())));
  return round_pass((x / s).clamp(0.0, double(qp()))) * s;
}

std::string LsqActImpl::describe() const {
  return fmt::format("LSQAct(bits={}, step={:.4g})", bits, step.item<double>());
}

}  // namespace lowbit
