#include "core/quant/ste.h"
#include "core/train/keys.h"

namespace lowbit {

torch::Tensor round_ste(const torch::Tensor& x, int bits) {
  double n = double((1 << bits) - 1);
  auto q = (torch::round(x * n) / n).detach();
  return q + (x - x.detach());
}

SignImpl::SignImpl(Scaling s) : scaling(s) {}

torch::Tensor SignImpl::alpha(const torch::Tensor& w) const {
  auto a = w.detach().abs();
  if (scaling == Scaling::kLayer) return a.mean();
  if (scaling == Scaling::kChannel) {
    std::vector<int64_t> shape(w.dim(), 1);
    shape[0] = w.size(0);
    return a.flatten(1).mean(1).view(shape);
  }
  return torch::ones({}, w.options());
}

namespace {
torch::Tensor sign_pm1(const torch::Tensor& w) {
  return torch::where(w >= 0, torch::ones({}, w.options()), -torch::ones({}, w.options()));
}
}  // namespace

torch::Tensor SignImpl::forward(const torch::Tensor& w) {
  auto q = (sign_pm1(w.detach()) * alpha(w)).detach();
  // Straight-through with the hardtanh clip: gradient flows where |w| <= 1.
  auto clipped = w.clamp(-1, 1);
  return q + (clipped - clipped.detach());
}

void SignImpl::collect_stats(const torch::Tensor& w, StatMap& out) {
  out[key::kFracPos] = (w >= 0).to(torch::kFloat64).mean().item<double>();
  out[key::kFracNeg] = 1 - out[key::kFracPos];
  out[key::kSparsity] = 0.0;
  out[key::kAlpha] = alpha(w).mean().item<double>();
}

PackedWeight SignImpl::pack(const torch::Tensor& w) {
  PackedWeight p;
  p.bits = 1;
  auto codes = (w < 0).to(torch::kUInt8).flatten().contiguous().cpu();
  p.codes.assign(codes.data_ptr<uint8_t>(), codes.data_ptr<uint8_t>() + codes.numel());
  p.table = {1.0f, -1.0f};
  auto a = alpha(w).to(torch::kCPU, torch::kFloat32).flatten();
  if (scaling == Scaling::kChannel)
    p.channel_scale.assign(a.data_ptr<float>(), a.data_ptr<float>() + a.numel());
  else
    p.table = {a.item<float>(), -a.item<float>()};
  return p;
}

DoReFaImpl::DoReFaImpl(int b, bool through_max) : bits(b), grad_through_max(through_max) {
  TORCH_CHECK(bits >= 1 && bits <= 8, "DoReFa: bits must be in 1..8");
}

torch::Tensor DoReFaImpl::forward(const torch::Tensor& w) {
  if (bits == 1) {
    auto q = (sign_pm1(w.detach()) * w.detach().abs().mean()).detach();
    return q + (w - w.detach());
  }
  auto t = torch::tanh(w);
  auto m = (grad_through_max ? t : t.detach()).abs().max();
  auto x = t / (2 * m) + 0.5;  // in [0, 1]
  return 2 * round_ste(x, bits) - 1;
}

void level_stats(const torch::Tensor& q, StatMap& out) {
  out[key::kSparsity] = (q == 0).to(torch::kFloat64).mean().item<double>();
  out[key::kFracPos] = (q > 0).to(torch::kFloat64).mean().item<double>();
  out[key::kFracNeg] = (q < 0).to(torch::kFloat64).mean().item<double>();
  out[key::kLevelsUsed] = double(std::get<0>(torch::_unique(q.flatten())).numel());
}

void DoReFaImpl::collect_stats(const torch::Tensor& w, StatMap& out) { level_stats(forward(w).detach(), out); }

PackedWeight DoReFaImpl::pack(const torch::Tensor& w) {
  PackedWeight p;
  p.bits = bits;
  auto q = forward(w).detach().flatten().cpu();
  if (bits == 1) {
    auto codes = (q < 0).to(torch::kUInt8);
    p.codes.assign(codes.data_ptr<uint8_t>(), codes.data_ptr<uint8_t>() + codes.numel());
    float a = w.detach().abs().mean().item<float>();
    p.table = {a, -a};
    return p;
  }
  // Levels 2c/n - 1 for c = 0..n; recover c from the forward value, then decode with the
  // same float arithmetic as forward (2 * (c / n) - 1).
  int n = (1 << bits) - 1;
  auto codes = torch::round((q + 1) / 2 * n).clamp(0, n).to(torch::kUInt8);
  p.codes.assign(codes.data_ptr<uint8_t>(), codes.data_ptr<uint8_t>() + codes.numel());
  for (int c = 0; c <= n; ++c) {
    auto v = 2 * (torch::round(torch::tensor(float(c) / float(n)) * n) / n) - 1;
    p.table.push_back(v.item<float>());
  }
  return p;
}

}  // namespace lowbit
