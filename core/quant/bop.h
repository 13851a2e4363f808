// Bop (Helwegen et al., NeurIPS 2019, "Latent weights do not exist"): binary weights with
// no latent weights. The layer's weight holds +-1 itself; after each backward pass
//   m <- (1 - gamma) m + gamma g;   flip w where |m| > tau and sign(m) = sign(w).
// The forward uses the binary weight as it is (batch norm follows every layer). Other
// parameters (batch norm, skipped layers) use the configured optimizer. The momentum m is
// a registered buffer, so it is saved and restored with the model.
#pragma once
#include "core/quant/quantizer.h"

namespace lowbit {

class BopImpl : public WeightQuantizer {
 public:
  BopImpl(double gamma, double tau);
  /// w: (out, ...) binary weight -> the same tensor.
  torch::Tensor forward(const torch::Tensor& w) override { return w; }
  /// Binarises the layer's weight in place: sign(w), +1 at 0.
  void init_from(const torch::Tensor& w) override;
  bool updates_latent_weight() const override { return true; }
  /// REQUIRES: w.grad() holds this step's gradient.
  void update(torch::Tensor& w) override;
  void collect_stats(const torch::Tensor& w, StatMap& out) override;
  bool supports_pack() const override { return true; }
  PackedWeight pack(const torch::Tensor& w) override;
  int weight_bits() const override { return 1; }
  std::string describe() const override;

  double gamma, tau;
  torch::Tensor m;  ///< exponential moving average of the gradient, same shape as w
  int64_t flips_since_stats = 0;
};

}  // namespace lowbit
