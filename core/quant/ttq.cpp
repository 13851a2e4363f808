#include "core/quant/ttq.h"

#include <torch/autograd.h>

#include <fmt/format.h>

namespace lowbit {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// The ternary forward with the official code's gradients.
struct TTQFunction : public torch::autograd::Function<TTQFunction> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& w,
                               const torch::Tensor& wp, const torch::Tensor& wn, double delta,
                               double grad_scale) {
    auto pos = w > delta, neg = w < -delta;
    ctx->save_for_backward({w, wp, wn});
    ctx->saved_data["delta"] = delta;
    ctx->saved_data["grad_scale"] = grad_scale;
    auto zero = torch::zeros({}, w.options());
    return torch::where(pos, wp, torch::where(neg, -wn, zero));
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto saved = ctx->get_saved_variables();
    auto &w = saved[0], &wp = saved[1], &wn = saved[2];
    double delta = ctx->saved_data["delta"].toDouble(),
           scale = ctx->saved_data["grad_scale"].toDouble();
    auto g = grads[0];
    auto pos = w > delta, neg = w < -delta;  // recomputed: no per-weight masks kept alive
    auto gw = torch::where(pos, g * wp, torch::where(neg, g * wn, g)) * scale;
    auto zero = torch::zeros({}, g.options());
    auto gwp = torch::where(pos, g, zero).sum().view_as(wp);
    auto gwn = -torch::where(neg, g, zero).sum().view_as(wn);
    return {gw, gwp, gwn, torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

TTQImpl::TTQImpl(TTQOptions o) : options(std::move(o)) { reset(); }

void TTQImpl::reset() {
  TORCH_CHECK(options.threshold > 0 && options.threshold < 1,
              "TTQ: threshold must be in (0, 1), got ", options.threshold);
  TORCH_CHECK(
      options.target_sparsity < 0 || (options.target_sparsity > 0 && options.target_sparsity < 1),
      "TTQ: target_sparsity must be in (0, 1)");
  TORCH_CHECK(options.scale_init == "one" || options.scale_init == "mean",
              "TTQ: scale_init must be one or mean");
  wp = register_parameter("wp", torch::ones({1}));
  wn = register_parameter("wn", torch::ones({1}));
}

double TTQImpl::delta(const torch::Tensor& w) const {
  auto a = w.detach().abs().flatten();
  if (options.target_sparsity > 0) {
    int64_t k = int64_t(options.target_sparsity * double(a.numel()));
    if (k < 1) return 0.0;
    return std::get<0>(a.to(torch::kCPU).kthvalue(k)).item<double>();
  }
  return options.threshold * a.max().item<double>();
}

torch::Tensor TTQImpl::forward(const torch::Tensor& w) {
  double d = delta(w), scale = 1.0;
  if (options.normalize_latent) {
    // Thresholding w / max|w| at t gives the same masks as w at t * max|w|; what changes is
    // the latent gradient, scaled by 1 / max|w|.
    scale = 1.0 / std::max(1e-12, w.detach().abs().max().item<double>());
  }
  return TTQFunction::apply(w, wp, wn, d, scale);
}

void TTQImpl::init_from(const torch::Tensor& w) {
  if (options.scale_init != "mean") return;
  torch::NoGradGuard g;
  double d = delta(w);
  auto p = w.masked_select(w > d), n = w.masked_select(w < -d);
  if (p.numel() > 0) wp.fill_(p.mean().item<double>());
  if (n.numel() > 0) wn.fill_(n.abs().mean().item<double>());
}

void TTQImpl::collect_stats(const torch::Tensor& w, StatMap& out) {
  double d = delta(w), n = double(w.numel());
  double pos = (w > d).sum().item<double>() / n, neg = (w < -d).sum().item<double>() / n;
  out["sparsity"] = 1.0 - pos - neg;
  out["frac_pos"] = pos;
  out["frac_neg"] = neg;
  out["wp"] = wp.item<double>();
  out["wn"] = wn.item<double>();
  out["delta"] = d;
}

PackedWeight TTQImpl::pack(const torch::Tensor& w) {
  // Codes: 0 -> 0, 1 -> +Wp, 2 -> -Wn.
  double d = delta(w);
  auto codes =
      ((w > d).to(torch::kUInt8) + 2 * (w < -d).to(torch::kUInt8)).flatten().contiguous().cpu();
  PackedWeight p;
  p.bits = 2;
  p.codes.assign(codes.data_ptr<uint8_t>(), codes.data_ptr<uint8_t>() + codes.numel());
  p.table = {0.0f, wp.item<float>(), -wn.item<float>()};
  return p;
}

std::string TTQImpl::describe() const {
  if (options.target_sparsity > 0)
    return fmt::format("TTQ(target_sparsity={}, scale_init={})", options.target_sparsity,
                       options.scale_init);
  return fmt::format("TTQ(threshold={}, scale_init={})", options.threshold, options.scale_init);
}

}  // namespace lowbit
