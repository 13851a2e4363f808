// Interfaces of weight and activation quantizers. A quantized layer (core/nn/qlayers.h)
// holds a latent weight and, when quantized, a WeightQuantizer that maps it to the weight
// used in the forward pass. Quantizers are LibTorch modules so that their own parameters
// (TTQ's Wp/Wn, SLB's logits) are registered, saved and optimised like any other.
#pragma once
#include <limits>
#include <map>
#include <string>
#include <vector>

#include <torch/nn/module.h>
#include <torch/types.h>

namespace lowbit {

using StatMap = std::map<std::string, double>;

/// Weights packed for export: integer codes per weight and the values they decode to.
struct PackedWeight {
  int bits = 0;                      ///< bits per code (1 or 2 for binary/ternary, k for k-bit)
  std::vector<uint8_t> codes;        ///< one code per weight, < 2^bits (packed on write)
  std::vector<float> table;          ///< decode table: code c -> table[c] (per layer)
  std::vector<float> channel_scale;  ///< optional per-output-channel multiplier
};

class WeightQuantizer : public torch::nn::Module {
 public:
  /// w: the latent weight (out, in, kh, kw) or (out, in); returns the forward weight, same shape.
  virtual torch::Tensor forward(const torch::Tensor& w) = 0;
  /// Called once after the latent weight is initialised or loaded (e.g. scale init).
  virtual void init_from(const torch::Tensor& w) {}
  /// Per-layer statistics at the end of an epoch (w is the latent weight).
  virtual void collect_stats(const torch::Tensor& w, StatMap& out) {}
  /// False when the quantizer owns its own representation (SLB logits) and the latent
  /// weight is unused; the trainer then freezes it.
  virtual bool uses_latent_weight() const { return true; }
  /// Codes and decode table of the current quantized weight; `supports_pack` says whether
  /// the quantizer's values form a small per-layer table.
  virtual bool supports_pack() const { return false; }
  virtual PackedWeight pack(const torch::Tensor& w) { return {}; }
  /// Bits per stored weight (2 for ternary, 1 for binary, k for k-bit): packed size and energy.
  virtual int weight_bits() const = 0;
  /// Parameters that are scales (excluded from weight decay unless asked).
  virtual std::vector<torch::Tensor> scale_parameters() { return {}; }
  /// Called by the trainer at the start of every step with the training progress
  /// (epochs done as a fraction); SLB updates its temperature here.
  virtual void set_progress(double epoch_fraction, int64_t total_epochs) {}
  /// Forces the discrete (hard) forward even in training mode, for batch-norm
  /// recalibration of the discrete network (SLB).
  virtual void set_force_hard(bool on) {}
  /// Forces the soft forward even in evaluation (and after SLB's window), to score the soft
  /// network (diag.soft_eval).
  virtual void set_force_soft(bool on) {}
  /// True when the training forward differs from the deployed (discrete) one, so that
  /// batch-norm statistics of the discrete network need quant.bn_mode (SLB).
  virtual bool soft_in_training() const { return false; }
  /// The inverse temperature of a soft quantizer, NaN for the others.
  virtual double temperature_value() const { return std::numeric_limits<double>::quiet_NaN(); }
  /// Number of distinct weight values a layer can take (3 for ternary, 2 for binary, |V| for
  /// SLB): the energy model tells multiply-free layers (<= 3 levels) from k-bit ones.
  virtual int weight_levels() const { return 1 << weight_bits(); }
  /// True when the quantizer updates the latent weight itself (Bop) instead of the
  /// optimizer; the trainer then calls update() after every backward pass.
  virtual bool updates_latent_weight() const { return false; }
  virtual void update(torch::Tensor& w) {}
  /// The method's name and its options, e.g. "TTQ(threshold=0.05, scale_init=one)".
  virtual std::string describe() const = 0;
  void pretty_print(std::ostream& os) const override { os << describe(); }
};

class ActQuantizer : public torch::nn::Module {
 public:
  /// x: pre-activation (any shape); returns the quantized activation, same shape.
  virtual torch::Tensor forward(const torch::Tensor& x) = 0;
  /// Bits of one quantized activation: what the next layer's multiplies read (energy model).
  virtual int activation_bits() const = 0;
  /// Parameters that are scales (LSQ's step): weight decay as quant.scale_weight_decay says.
  /// The others (PACT's alpha) decay as quant.act.alpha_decay says.
  virtual std::vector<torch::Tensor> scale_parameters() { return {}; }
  virtual std::string describe() const = 0;
  void pretty_print(std::ostream& os) const override { os << describe(); }
};

}  // namespace lowbit
