// absmean ternary weights (BitNet b1.58: Ma et al., "The Era of 1-bit LLMs", 2024; the
// reference weight_quant of its training tips):
//   gamma = max(mean |w|, 1e-5) over the layer;  w_q = gamma * clip(round(w / gamma), -1, 1)
// with round half to even (torch.round), and a straight-through gradient (identity) to the
// latent weight. Weights only: BitNet's 8-bit absmax activations are not part of it (choose
// quant.act.method); docs/DEVIATIONS.md.
#pragma once
#include "core/quant/quantizer.h"

namespace lowbit {

class AbsMeanImpl : public WeightQuantizer {
 public:
  /// w: (out, ...) -> gamma * {-1, 0, 1}, same shape; gradient identity.
  torch::Tensor forward(const torch::Tensor& w) override;
  void collect_stats(const torch::Tensor& w, StatMap& out) override;
  bool supports_pack() const override { return true; }
  PackedWeight pack(const torch::Tensor& w) override;
  int weight_bits() const override { return 2; }
  int weight_levels() const override { return 3; }
  std::string describe() const override { return "AbsMean(ternary, gamma=mean|w|)"; }
  /// gamma of w: max(mean |w|, 1e-5).
  static double gamma(const torch::Tensor& w);
  /// The ternary codes clip(round(w / gamma), -1, 1), as float.
  static torch::Tensor levels(const torch::Tensor& w);
};

}  // namespace lowbit
