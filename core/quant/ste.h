// Straight-through-estimator baselines.
//  Sign / BinaryConnect: w_q = alpha * sign(w) (sign(0) = +1), alpha = 1, mean|w| per layer
//    (XNOR-style) or per output channel; gradient g * 1{|w| <= 1} (hardtanh STE), alpha
//    treated as a constant.
//  DoReFa k-bit weights (Zhou et al. 2016): k = 1: sign(w) * mean|w|; k >= 2:
//    w_q = 2 * round_k(tanh(w) / (2 max|tanh(w)|) + 1/2) - 1, round_k(x) = round(x (2^k-1)) /
//    (2^k-1), straight-through on the rounding.
#pragma once
#include "core/config/choices.h"
#include "core/quant/quantizer.h"

namespace lowbit {

class SignImpl : public WeightQuantizer {
 public:
  explicit SignImpl(Scaling scaling = Scaling::kLayer);
  /// w: (out, ...) -> alpha * sign(w), alpha of shape broadcastable to w.
  torch::Tensor forward(const torch::Tensor& w) override;
  void collect_stats(const torch::Tensor& w, StatMap& out) override;
  bool supports_pack() const override { return true; }
  PackedWeight pack(const torch::Tensor& w) override;
  int weight_bits() const override { return 1; }
  std::string describe() const override { return std::string("Sign(scaling=") + choice_name(scaling) + ")"; }
  torch::Tensor alpha(const torch::Tensor& w) const;
  Scaling scaling;  ///< none | layer | channel. Default: layer.
};

class DoReFaImpl : public WeightQuantizer {
 public:
  /// grad_through_max: the gradient flows through max|tanh w| (tensorpack); false: detached.
  DoReFaImpl(int bits, bool grad_through_max = true);
  /// w: (out, ...) -> k-bit weight in [-1, 1] (k >= 2) or sign(w)*mean|w| (k = 1).
  torch::Tensor forward(const torch::Tensor& w) override;
  void collect_stats(const torch::Tensor& w, StatMap& out) override;
  bool supports_pack() const override { return true; }
  PackedWeight pack(const torch::Tensor& w) override;
  int weight_bits() const override { return bits; }
  std::string describe() const override { return "DoReFa(bits=" + std::to_string(bits) + ")"; }
  int bits;  ///< 1..8
  bool grad_through_max;
};

/// Statistics of k-bit quantized weights q (or their integer levels: the same signs and
/// zeros): sparsity, fractions positive and negative, distinct levels in use.
void level_stats(const torch::Tensor& q, StatMap& out);

/// x rounded to k-bit levels on [0, 1] with a straight-through gradient.
torch::Tensor round_ste(const torch::Tensor& x, int bits);

}  // namespace lowbit
