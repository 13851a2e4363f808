#include "core/quant/slb.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include <ATen/Parallel.h>

#include <torch/autograd.h>

#include <fmt/format.h>

#include "core/error.h"
#include "core/schedule/schedules.h"
#include "core/train/keys.h"

namespace lowbit {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// The CPU float32 path: one pass over each weight's K logits. ATen's softmax and matmul over a
// last dimension of 2 to 16 spend most of their time on per-row overhead (on small_cnn, SLB
// 1-bit's softmax alone took 7 ms of a 36 ms step). The arithmetic is ATen's, in the same
// order: x = a * T in float, p = exp(x - max x) * (1 / sum) with ATen's exp, W = sum_k p_k v_k,
// and dL/dA_k = ((g * T) * p_k) * (v_k - W); only the order of the sums may differ.
bool fused_cpu(const torch::Tensor& logits, const torch::Tensor& values) {
  return logits.is_cpu() && values.is_cpu() && logits.scalar_type() == torch::kFloat &&
         values.scalar_type() == torch::kFloat;
}

// Runs body(i) for the n weights on every thread.
template <class Body>
void for_each_weight(int64_t n, const Body& body) {
  at::parallel_for(0, n, 4096, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) body(i);
  });
}

// softmax(a * T) over the last dimension, (n, K): the row max and shift, then ATen's exp over
// the whole tensor (vectorized), then each row times 1 / its sum.
torch::Tensor softmax_cpu(const torch::Tensor& a, int64_t K, float T) {
  const int64_t n = a.numel() / K;
  auto p = torch::empty({n, K}, a.options());
  const float* ap = a.data_ptr<float>();
  float* pp = p.data_ptr<float>();
  for_each_weight(n, [&](int64_t i) {
    const float* x = ap + i * K;
    float m = x[0] * T;
    for (int64_t k = 1; k < K; ++k) m = std::max(m, x[k] * T);
    for (int64_t k = 0; k < K; ++k) pp[i * K + k] = x[k] * T - m;
  });
  p.exp_();
  for_each_weight(n, [&](int64_t i) {
    float* r = pp + i * K;
    float sum = 0;
    for (int64_t k = 0; k < K; ++k) sum += r[k];
    const float inv = 1.0f / sum;
    for (int64_t k = 0; k < K; ++k) r[k] *= inv;
  });
  return p;
}

inline float dot_row(const float* p, const float* v, int64_t K) {
  float w = 0;
  for (int64_t k = 0; k < K; ++k) w += p[k] * v[k];
  return w;
}

torch::Tensor expectation_cpu(const torch::Tensor& logits, const torch::Tensor& values, float T) {
  auto a = logits.contiguous();
  auto v = values.contiguous();
  const int64_t K = v.numel();
  auto p = softmax_cpu(a, K, T);
  auto w = torch::empty(a.sizes().slice(0, a.dim() - 1), a.options());
  const float* vp = v.data_ptr<float>();
  const float* pp = p.data_ptr<float>();
  float* wp = w.data_ptr<float>();
  for_each_weight(w.numel(), [&](int64_t i) { wp[i] = dot_row(pp + i * K, vp, K); });
  return w;
}

torch::Tensor grad_logits_cpu(const torch::Tensor& logits, const torch::Tensor& values,
                              const torch::Tensor& grad, float T) {
  auto a = logits.contiguous();
  auto v = values.contiguous();
  auto g = grad.contiguous();
  const int64_t K = v.numel();
  auto p = softmax_cpu(a, K, T);  // becomes the gradient in place
  const float* vp = v.data_ptr<float>();
  const float* gp = g.data_ptr<float>();
  float* pp = p.data_ptr<float>();
  for_each_weight(g.numel(), [&](int64_t i) {
    float* r = pp + i * K;
    const float w = dot_row(r, vp, K);
    const float gT = gp[i] * T;
    for (int64_t k = 0; k < K; ++k) r[k] = gT * r[k] * (vp[k] - w);
  });
  return p.view(a.sizes());
}

struct SoftExpectation : public torch::autograd::Function<SoftExpectation> {
  // logits (..., K), values (K) -> (...)
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& logits,
                               const torch::Tensor& values, double T) {
    ctx->save_for_backward({logits, values});
    ctx->saved_data["T"] = T;
    if (fused_cpu(logits, values)) return expectation_cpu(logits, values, float(T));
    return torch::matmul(torch::softmax(logits * T, -1), values);
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto saved = ctx->get_saved_variables();
    auto &logits = saved[0], &values = saved[1];
    double T = ctx->saved_data["T"].toDouble();
    // Values are a buffer unless a caller passes a tensor that trains; keep that gradient honest.
    const bool values_grad = ctx->needs_input_grad(1);
    if (fused_cpu(logits, values) && !values_grad)
      return {grad_logits_cpu(logits, values, grads[0], float(T)), torch::Tensor(),
              torch::Tensor()};
    auto p = torch::softmax(logits * T, -1);  // recomputed, freed after this function
    auto w = torch::matmul(p, values).unsqueeze(-1);
    auto g = grads[0].unsqueeze(-1);
    auto grad_logits = g * T * p * (values - w);
    // d/dv_k = sum over weights of g * p_k.
    auto grad_values = values_grad ? (g * p).reshape({-1, values.size(0)}).sum(0) : torch::Tensor();
    return {grad_logits, grad_values, torch::Tensor()};
  }
};

}  // namespace

std::vector<double> slb_values(int bits, const nlohmann::json& spec) {
  if (bits < 1 || bits > 8)
    throw ConfigError(fmt::format("quant.bits: expected an integer in [1, 8], got {}", bits));
  std::vector<double> v;
  if (spec.is_array()) {
    for (auto& x : spec) v.push_back(x.get<double>());
    std::sort(v.begin(), v.end());
    if (std::adjacent_find(v.begin(), v.end()) != v.end())
      throw ConfigError("quant.value_set: values must be distinct, got " + spec.dump());
    return v;
  }
  if (spec.is_object()) {
    double a = spec["grid"].get<double>();
    int m = 1 << (bits - 1);
    for (int k = -m; k <= m; ++k) v.push_back(a * double(k) / double(m));
    return v;
  }
  int n = 1 << bits;  // linspace(-1, 1, 2^bits); 1 bit: {-1, +1}
  for (int i = 0; i < n; ++i) v.push_back(-1.0 + 2.0 * double(i) / double(n - 1));
  return v;
}

double slb_init_std(const std::vector<int64_t>& logit_shape) {
  double fan_out = double(logit_shape.at(0));
  for (size_t i = 2; i < logit_shape.size(); ++i) fan_out *= double(logit_shape[i]);
  return std::sqrt(2.0 / fan_out);
}

torch::Tensor slb_soft_expectation(const torch::Tensor& logits, const torch::Tensor& values,
                                   double T) {
  return SoftExpectation::apply(logits, values, T);
}

SLBImpl::SLBImpl(const QuantConfig& q) : config(q) {
  auto v = slb_values(int(q.bits), q.value_set);
  values = register_buffer("values", torch::tensor(v, torch::kFloat32));
  if (q.value_set.is_string() && q.value_set == "learned_scale")
    scale = register_parameter(key::kScale, torch::ones({1}));
  T_ = q.temp_t0;
}

void SLBImpl::init_from(const torch::Tensor& w) {
  torch::NoGradGuard g;
  auto shape = w.sizes().vec();
  const int64_t K = values.size(0);
  shape.push_back(K);
  torch::Tensor a;
  if (config.logit_init == LogitInit::kCheckpoint) {
    // Closer values get larger logits: -scale * |w_n - v| with w scaled to V's range.
    auto vmax = values.abs().max();
    auto wn = (w / w.abs().max().clamp_min(1e-12) * vmax).unsqueeze(-1);
    a = -config.logit_init_scale * (wn - values).abs() / vmax;
  } else {
    // He-normal, fan_out mode, over the logit tensor (out, in, kh, kw, K) as the golden-stick
    // port does (HeNormal(mode='fan_out') on that 5-D shape): fan_out = size(0) times the
    // product of the sizes after dim 1 = out * kh * kw * K (out * K for a linear layer).
    a = torch::randn(shape) * slb_init_std(shape);
  }
  logits = register_parameter("logits", a.contiguous());
  last_argmax = register_buffer("last_argmax", a.argmax(-1));
}

torch::Tensor SLBImpl::value_tensor() const { return scale.defined() ? values * scale : values; }

torch::Tensor SLBImpl::forward(const torch::Tensor& w) {
  bool hard = !is_training() || hard_ || force_hard_;
  auto soft = [&] {
    auto e = slb_soft_expectation(logits, values, T_);
    return scale.defined() ? e * scale : e;
  };
  if (!hard || force_soft_) return soft();
  auto v = value_tensor();
  auto h = v.index_select(0, logits.argmax(-1).flatten())
               .view(logits.sizes().slice(0, logits.dim() - 1));
  // After the window, "freeze" (the port's) is the one-hot forward with no gradient to the
  // logits; "ste" keeps passing the soft gradient at the frozen temperature.
  const bool frozen = hard_ && config.temp_after_window == AfterWindow::kFreeze;
  if (!is_training() || force_hard_ || frozen || !logits.requires_grad() ||
      !torch::GradMode::is_enabled())
    return h;  // no gradient to the logits (arg-max); a learned scale still trains
  auto s = soft();
  return h.detach() + (s - s.detach());  // hard forward, soft gradient
}

void SLBImpl::set_progress(double t, int64_t epochs) {
  auto temp = temperature_at(config, epochs, t);
  T_ = temp.value;
  hard_ = temp.hard;
}

void SLBImpl::collect_stats(const torch::Tensor& w, StatMap& out) {
  auto am = logits.argmax(-1);
  auto p = torch::softmax(logits * T_, -1);
  out[key::kTemperature] = T_;
  out[key::kHard] = hard_ ? 1.0 : 0.0;
  out[key::kEntropy] = (-(p * torch::log(p.clamp_min(1e-30))).sum(-1)).mean().item<double>();
  out[key::kArgmaxChanged] = (am != last_argmax).to(torch::kFloat64).mean().item<double>();
  last_argmax.copy_(am);
  auto hist =
      torch::bincount(am.flatten(), {}, values.size(0)).to(torch::kFloat64) / double(am.numel());
  auto v = values.cpu();
  double zero_frac = 0;
  for (int64_t k = 0; k < values.size(0); ++k) {
    out[key::kHistPrefix + std::to_string(k)] = hist[k].item<double>();
    if (v[k].item<float>() == 0.0f) zero_frac += hist[k].item<double>();
  }
  out[key::kSparsity] = zero_frac;
  if (scale.defined()) out[key::kScale] = scale.item<double>();
  // The soft-hard gap: how far the expected weights are from their arg-max values.
  const auto vt = value_tensor().detach();
  const auto expected = (p * vt).sum(-1);
  const auto hard = vt.index_select(0, am.flatten()).view(am.sizes());
  const double norm = hard.norm().item<double>();
  out[key::kSoftHardGap] = norm > 0 ? (expected - hard).norm().item<double>() / norm : 0.0;
}

PackedWeight SLBImpl::pack(const torch::Tensor& w) {
  PackedWeight p;
  const int64_t K = values.size(0);
  p.bits = 1;
  while ((int64_t(1) << p.bits) < K) ++p.bits;
  auto codes = logits.argmax(-1).flatten().to(torch::kUInt8).cpu().contiguous();
  p.codes.assign(codes.data_ptr<uint8_t>(), codes.data_ptr<uint8_t>() + codes.numel());
  auto v = value_tensor().detach().cpu().contiguous();
  p.table.assign(v.data_ptr<float>(), v.data_ptr<float>() + K);
  return p;
}

std::vector<torch::Tensor> SLBImpl::scale_parameters() {
  if (scale.defined()) return {scale};
  return {};
}

std::string SLBImpl::describe() const {
  return fmt::format("SLB(bits={}, values={}, schedule={}, T0={})", config.bits, values.size(0),
                     choice_name(config.temp_schedule), config.temp_t0);
}

}  // namespace lowbit
