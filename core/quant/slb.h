// SLB: Searching for Low-Bit Weights (Yang et al., NeurIPS 2020). Each weight is a
// categorical distribution over a value set V, parameterised by logits A (shape
// w.shape + [|V|]); the latent weight is unused.
//   soft forward:  W = sum_v softmax(A * T)_v * v           (T: inverse temperature)
//   hard forward:  W = V[argmax A]  (evaluation, export, and training after the window
//                  closes). After the window, quant.temperature.after_window = freeze (the
//                  golden-stick port's, default) sends no gradient to A; ste sends the soft
//                  gradient at the frozen temperature straight through.
// Initialisation: He-normal in fan_out mode over A's shape, as the port (see slb_init_std).
// Memory: SoftExpectation is a custom autograd function that keeps only A (a parameter
// anyway), V and T and recomputes the softmax in backward, so training holds no
// [N, |V|] activation per layer between forward and backward:
//   dL/dA_k = g * T * p_k * (v_k - W).
#pragma once
#include <nlohmann/json.hpp>

#include "core/config/run_config.h"
#include "core/quant/quantizer.h"

namespace lowbit {

/// The value set for `bits` and a `quant.value_set` spec: "linspace" / "learned_scale" ->
/// linspace(-1, 1, 2^bits); [numbers] -> sorted list; {"grid": a} -> a * k / 2^(bits-1)
/// for k = -2^(bits-1)..2^(bits-1) (a symmetric integer grid with 0, scaled to [-a, a]).
std::vector<double> slb_values(int bits, const nlohmann::json& spec);

/// The He-normal (fan_out) standard deviation for logits of `logit_shape` (w.shape + [K]):
/// sqrt(2 / (shape[0] * prod(shape[2:]))), i.e. sqrt(2 / (out * kh * kw * K)) for a conv.
double slb_init_std(const std::vector<int64_t>& logit_shape);

/// W = sum_v softmax(A * T)_v * v over the last dimension, softmax recomputed in backward.
/// logits: (..., K), values: (K) -> (...)
torch::Tensor slb_soft_expectation(const torch::Tensor& logits, const torch::Tensor& values,
                                   double T);

class SLBImpl : public WeightQuantizer {
 public:
  /// `q`: the method's settings (bits, value set, temperature schedule, init).
  explicit SLBImpl(const QuantConfig& q);
  /// w: latent weight, only its shape is used -> (same shape) soft or hard weight.
  torch::Tensor forward(const torch::Tensor& w) override;
  /// Creates the logits for w's shape: He-normal, or from w's distance to each value.
  void init_from(const torch::Tensor& w) override;
  void collect_stats(const torch::Tensor& w, StatMap& out) override;
  bool uses_latent_weight() const override { return false; }
  bool supports_pack() const override { return true; }
  PackedWeight pack(const torch::Tensor& w) override;
  std::vector<torch::Tensor> scale_parameters() override;
  void set_progress(double t, int64_t epochs) override;
  void set_force_hard(bool on) override { force_hard_ = on; }
  void set_force_soft(bool on) override { force_soft_ = on; }
  bool soft_in_training() const override { return true; }
  double temperature_value() const override { return T_; }
  int weight_levels() const override { return int(values.size(0)); }
  int weight_bits() const override {
    int b = 1;
    while ((int64_t(1) << b) < values.size(0)) ++b;
    return b;
  }
  std::string describe() const override;
  /// Values V (times the learned scale, if any), shape (K).
  torch::Tensor value_tensor() const;
  double temperature() const { return T_; }
  bool hard() const { return hard_; }

  QuantConfig config;
  torch::Tensor values;       ///< buffer, unit values (K)
  torch::Tensor logits;       ///< parameter, w.shape + (K)
  torch::Tensor scale;        ///< parameter {1} with value_set "learned_scale", else undefined
  torch::Tensor last_argmax;  ///< buffer: argmax at the last statistics call (int64)

 private:
  double T_ = 1.0;
  bool hard_ = false, force_hard_ = false, force_soft_ = false;
};

}  // namespace lowbit
