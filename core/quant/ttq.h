// Trained Ternary Quantization (Zhu, Han, Mao, Dally, ICLR 2017), as the official code
// (czhu95/ternarynet, tw_ternarize) does it:
//   delta = t * max|w|;  w_q = +Wp where w > delta, -Wn where w < -delta, 0 otherwise.
//   dL/dw = Wp*g (w > delta), g (|w| <= delta), Wn*g (w < -delta)   (scaled straight-through)
//   dL/dWp = sum of g over the positive set;  dL/dWn = -(sum of g over the negative set).
// Differences from the official code, on purpose: the zero set is |w| <= delta (the
// official code gives w = +1 at exactly w == delta); the threshold may be chosen per layer,
// or so that a target fraction of weights is zero; and weight decay: the official code decays
// Wp/Wn with the weights (regularize_cost('.*/W', ...) matches 'W', 'Wp' and 'Wn'), lowbit
// only with quant.scale_weight_decay = true (off by default), which reproduces it.
#pragma once
#include "core/config/choices.h"
#include "core/quant/quantizer.h"

namespace lowbit {

struct TTQOptions {
  double threshold = 0.05;      ///< t in (0, 1). Default: 0.05 (the paper's).
  double target_sparsity = -1;  ///< in (0, 1): delta = that quantile of |w|; < 0: off.
  bool normalize_latent =
      false;  ///< divide w by max|w| (gradient scaled by 1/max|w|). Default: false.
  ScaleInit scale_init = ScaleInit::kOne;  ///< one (1.0, the official code) or mean (mean |w| of each set)
  /// Keep Wp and Wn at their initial values (no gradient): the ablation of the paper's claim
  /// that the learned scales act as learning-rate multipliers. Default: false (learned).
  bool freeze_scales = false;
};

class TTQImpl : public WeightQuantizer {
 public:
  explicit TTQImpl(TTQOptions o);
  void reset();
  /// w: (out, ...) -> ternary weight of the same shape with values {-Wn, 0, +Wp}.
  torch::Tensor forward(const torch::Tensor& w) override;
  void init_from(const torch::Tensor& w) override;
  void collect_stats(const torch::Tensor& w, StatMap& out) override;
  bool supports_pack() const override { return true; }
  PackedWeight pack(const torch::Tensor& w) override;
  std::vector<torch::Tensor> scale_parameters() override { return {wp, wn}; }
  int weight_bits() const override { return 2; }
  int weight_levels() const override { return 3; }  // {-Wn, 0, Wp}: ternary, not 4-level
  std::string describe() const override;
  /// The threshold delta for latent weight w (in the units of w).
  double delta(const torch::Tensor& w) const;

  TTQOptions options;
  torch::Tensor wp, wn;  ///< scalar scales, shape {1}
};

}  // namespace lowbit
