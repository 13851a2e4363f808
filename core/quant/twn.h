// Ternary Weight Networks (Li, Zhang, Liu 2016): delta = 0.7 * mean|w|; one scale per
// layer alpha = mean |w| over |w| > delta (computed, not learned); straight-through
// gradient to the latent weight.
#pragma once
#include "core/quant/quantizer.h"

namespace lowbit {

class TWNImpl : public WeightQuantizer {
 public:
  /// w: (out, ...) -> alpha * sign(w) * (|w| > delta), same shape.
  torch::Tensor forward(const torch::Tensor& w) override;
  void collect_stats(const torch::Tensor& w, StatMap& out) override;
  bool supports_pack() const override { return true; }
  PackedWeight pack(const torch::Tensor& w) override;
  int weight_bits() const override { return 2; }
  int weight_levels() const override { return 3; }  // {-a, 0, a}: ternary
  std::string describe() const override { return "TWN(delta=0.7*mean|w|)"; }
  /// delta and alpha of w.
  static std::pair<double, double> delta_alpha(const torch::Tensor& w);
};

}  // namespace lowbit
