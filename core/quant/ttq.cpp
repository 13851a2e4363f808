#include "core/quant/ttq.h"
#include "core/quant/ternary.h"
#include "core/train/keys.h"

#include <algorithm>
#include <vector>

#include <ATen/Parallel.h>
#include <torch/autograd.h>

#include <fmt/format.h>

namespace lowbit {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// The CPU float32 path: one loop per direction instead of a dozen ATen ops over the weight
// (torch::where on broadcast scalars alone was 1.8 ms of a 39 ms small_cnn step). Same
// masks and products; the two scale gradients are summed in double per fixed chunk (ATen
// sums in float), so they may differ from the composite path in the last bits.
bool fused_cpu(const torch::Tensor& t) { return t.is_cpu() && t.scalar_type() == torch::kFloat; }

torch::Tensor ternary_cpu(const torch::Tensor& weight, float wp, float wn, float delta) {
  auto w = weight.contiguous();
  auto out = torch::empty_like(w, at::MemoryFormat::Contiguous);
  const float* in = w.data_ptr<float>();
  float* o = out.data_ptr<float>();
  at::parallel_for(0, w.numel(), 16384, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i)
      o[i] = in[i] > delta ? wp : (in[i] < -delta ? -wn : 0.0f);
  });
  return out;
}

// -> {dL/dw, dL/dWp, dL/dWn}
variable_list ternary_grad_cpu(const torch::Tensor& weight, const torch::Tensor& grad, float wp,
                               float wn, float delta, float scale) {
  auto w = weight.contiguous();
  auto g = grad.contiguous();
  auto gw = torch::empty_like(w, at::MemoryFormat::Contiguous);
  const float* in = w.data_ptr<float>();
  const float* gp = g.data_ptr<float>();
  float* o = gw.data_ptr<float>();
  // The scale gradients are summed per fixed chunk of 16384 weights, the chunks added in
  // order, so that they do not depend on the number of threads (at::parallel_reduce keeps
  // one partial sum per thread).
  const int64_t n = w.numel(), grain = 16384;
  const int64_t chunks = (n + grain - 1) / grain;
  std::vector<double> pos_sum(size_t(chunks), 0.0), neg_sum(size_t(chunks), 0.0);
  at::parallel_for(0, chunks, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      double ps = 0, ns = 0;
      for (int64_t i = c * grain; i < std::min(n, (c + 1) * grain); ++i) {
        const float gi = gp[i];
        if (in[i] > delta) {
          o[i] = gi * wp * scale;
          ps += gi;
        } else if (in[i] < -delta) {
          o[i] = gi * wn * scale;
          ns += gi;
        } else {
          o[i] = gi * scale;
        }
      }
      pos_sum[size_t(c)] = ps, neg_sum[size_t(c)] = ns;
    }
  });
  double ps = 0, ns = 0;
  for (int64_t c = 0; c < chunks; ++c) ps += pos_sum[size_t(c)], ns += neg_sum[size_t(c)];
  return {gw.view(weight.sizes()), torch::full({1}, float(ps), w.options()),
          torch::full({1}, float(-ns), w.options())};
}

// The ternary forward with the official code's gradients.
struct TTQFunction : public torch::autograd::Function<TTQFunction> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& w,
                               const torch::Tensor& wp, const torch::Tensor& wn, double delta,
                               double grad_scale) {
    ctx->save_for_backward({w, wp, wn});
    ctx->saved_data[key::kDelta] = delta;
    ctx->saved_data["grad_scale"] = grad_scale;
    if (fused_cpu(w))
      return ternary_cpu(w, wp.item<float>(), wn.item<float>(), float(delta));
    auto pos = w > delta, neg = w < -delta;
    auto zero = torch::zeros({}, w.options());
    return torch::where(pos, wp, torch::where(neg, -wn, zero));
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto saved = ctx->get_saved_variables();
    auto &w = saved[0], &wp = saved[1], &wn = saved[2];
    double delta = ctx->saved_data[key::kDelta].toDouble(),
           scale = ctx->saved_data["grad_scale"].toDouble();
    auto g = grads[0];
    if (fused_cpu(w) && fused_cpu(g)) {
      auto r = ternary_grad_cpu(w, g, wp.item<float>(), wn.item<float>(), float(delta),
                                float(scale));
      return {r[0], r[1].view_as(wp), r[2].view_as(wn), torch::Tensor(), torch::Tensor()};
    }
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
  wp = register_parameter(key::kWp, torch::ones({1}), /*requires_grad=*/!options.freeze_scales);
  wn = register_parameter(key::kWn, torch::ones({1}), /*requires_grad=*/!options.freeze_scales);
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
  if (options.scale_init != ScaleInit::kMean) return;
  torch::NoGradGuard g;
  double d = delta(w);
  auto p = w.masked_select(w > d), n = w.masked_select(w < -d);
  if (p.numel() > 0) wp.fill_(p.mean().item<double>());
  if (n.numel() > 0) wn.fill_(n.abs().mean().item<double>());
}

void TTQImpl::collect_stats(const torch::Tensor& w, StatMap& out) {
  const double d = delta(w);
  ternary_stats(w > d, w < -d, out);
  out[key::kWp] = wp.item<double>();
  out[key::kWn] = wn.item<double>();
  out[key::kDelta] = d;
}

PackedWeight TTQImpl::pack(const torch::Tensor& w) {
  const double d = delta(w);
  return pack_ternary(w > d, w < -d, wp.item<float>(), wn.item<float>());
}

std::string TTQImpl::describe() const {
  if (options.target_sparsity > 0)
    return fmt::format("TTQ(target_sparsity={}, scale_init={})", options.target_sparsity,
                       choice_name(options.scale_init));
  return fmt::format("TTQ(threshold={}, scale_init={})", options.threshold, choice_name(options.scale_init));
}

}  // namespace lowbit
