// LSQ, Learned Step Size Quantization (Esser et al., ICLR 2020), for weights and activations:
//   v_q = round(clip(v / s, -Q_N, Q_P)) * s
// Weights are signed, Q_N = 2^(b-1), Q_P = 2^(b-1) - 1 (b >= 2); activations, at the Act
// positions in place of ReLU, unsigned, Q_N = 0, Q_P = 2^b - 1. Round half to even.
// Gradients (the paper's Eq. 3 with the straight-through estimator):
//   dv_q/dv = 1 where -Q_N < v/s < Q_P, else 0
//   dv_q/ds = round(v/s) - v/s inside, -Q_N below, Q_P above; times g = 1/sqrt(N Q_P)
// N: the weights a step governs (the layer's, or a channel's with per-channel steps); for
// activations the features per example (quant.act.lsq_grad_count = features, the paper's N_F)
// or every element of the batch (elements, as the lsq-net reimplementation).
// Step initialisation: s = 2 mean|v| / sqrt(Q_P), from the weights the layer starts with (per
// channel with per-channel steps) and, for activations, from the first training batch's
// ReLU outputs. The step is kept positive: before every forward, a step below 1e-8 is set to
// 1e-8 (a projection; the paper does not say how). docs/DEVIATIONS.md.
#pragma once
#include "core/config/choices.h"
#include "core/quant/quantizer.h"

namespace lowbit {

/// The step size with its gradient multiplied by g: forward value s, backward g * ds.
torch::Tensor grad_scaled(const torch::Tensor& s, double g);

class LsqImpl : public WeightQuantizer {
 public:
  /// per_channel: one step per output channel (quant.scaling = channel), else one per layer.
  LsqImpl(int bits, bool per_channel);
  torch::Tensor forward(const torch::Tensor& w) override;
  /// s = 2 mean|w| / sqrt(Q_P), per layer or per output channel.
  void init_from(const torch::Tensor& w) override;
  void collect_stats(const torch::Tensor& w, StatMap& out) override;
  bool supports_pack() const override { return true; }
  PackedWeight pack(const torch::Tensor& w) override;
  int weight_bits() const override { return bits; }
  std::vector<torch::Tensor> scale_parameters() override { return {step}; }
  std::string describe() const override;
  int64_t qn() const { return int64_t(1) << (bits - 1); }
  int64_t qp() const { return (int64_t(1) << (bits - 1)) - 1; }
  /// The integer levels round(clip(w / s, -Q_N, Q_P)), as float, without gradient.
  torch::Tensor levels(const torch::Tensor& w) const;
  int bits;
  bool per_channel;
  torch::Tensor step;  ///< shape {1}, or {out, 1, ...} per channel
};

class LsqActImpl : public ActQuantizer {
 public:
  LsqActImpl(int bits, LsqGradCount count);
  /// x: pre-activation (batch first) -> levels {0, s, ..., Q_P s}, same shape.
  torch::Tensor forward(const torch::Tensor& x) override;
  int activation_bits() const override { return bits; }
  std::vector<torch::Tensor> scale_parameters() override { return {step}; }
  std::string describe() const override;
  int64_t qp() const { return (int64_t(1) << bits) - 1; }
  int bits;
  LsqGradCount count;
  torch::Tensor step;         ///< shape {1}
  torch::Tensor initialized;  ///< buffer {1}: 1 once the first training batch set the step
};

}  // namespace lowbit
