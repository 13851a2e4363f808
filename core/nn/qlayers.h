// Quantizable layers. Every conv and linear layer of every model is a QConv2d or QLinear
// registered under its module path (core/models), so that quantizers can be attached by
// name or position later; every ReLU position is an Act, which either applies ReLU or an
// activation quantizer. Both count exact zeros while tracking (evaluation): the Act its
// output (activation sparsity), the layer its input (the energy model's input sparsity).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include <torch/nn/module.h>
#include <torch/nn/modules/container/any.h>
#include <torch/types.h>

#include "core/quant/quantizer.h"

namespace lowbit {

/// Counts exact zeros of the tensors it is shown while on (evaluation passes): the
/// activation sparsity of an Act's output and the input sparsity of a conv/linear layer.
class ZeroCounter {
 public:
  void start();
  void count(const torch::Tensor& x);
  /// Fraction of exact zeros since start(); stops counting.
  double stop();
  bool on() const { return on_; }

 private:
  bool on_ = false;
  torch::Tensor zeros_;      ///< off the CPU: the count so far, on the device
  int64_t cpu_zeros_ = 0;    ///< dense float32 CPU tensors: counted directly
  int64_t total_ = 0;
};

/// Common base of QConv2d and QLinear: a latent weight, an optional bias and an optional
/// weight quantizer. While input tracking is on it counts exact zeros of its input as it
/// reaches the layer (after pooling): the energy model's per-layer input sparsity.
class QLayerImpl : public torch::nn::Module {
 public:
  ZeroCounter input_zeros;
  torch::Tensor weight;  ///< latent weight
  torch::Tensor bias;    ///< undefined when the layer has none
  /// The forward weight: the quantizer's output, or the latent weight itself.
  torch::Tensor effective_weight();
  /// Attaches (or with nullptr removes) a quantizer; it is registered as submodule "quantizer".
  void set_quantizer(std::shared_ptr<WeightQuantizer> q);
  const std::shared_ptr<WeightQuantizer>& quantizer() const { return quantizer_; }
  /// Number of multiply-accumulates per example of the last forward (set in forward).
  int64_t macs() const { return macs_; }
  /// The input shape of the last forward, batch included (set in forward).
  const std::vector<int64_t>& input_sizes() const { return input_sizes_; }
  virtual torch::Tensor forward(const torch::Tensor& x) = 0;

 protected:
  std::shared_ptr<WeightQuantizer> quantizer_;
  int64_t macs_ = 0;
  std::vector<int64_t> input_sizes_;
};

struct QConv2dOptions {
  int64_t in, out, kernel, stride = 1, padding = 0;
  bool bias = false;
};

class QConv2dImpl : public QLayerImpl {
 public:
  explicit QConv2dImpl(QConv2dOptions o);
  void reset_parameters();
  /// x: (B, in, H, W) -> (B, out, H', W')
  torch::Tensor forward(const torch::Tensor& x) override;
  void pretty_print(std::ostream& os) const override;
  QConv2dOptions options;
};

class QLinearImpl : public QLayerImpl {
 public:
  QLinearImpl(int64_t in, int64_t out, bool bias = true);
  void reset_parameters();
  /// x: (B, in) -> (B, out)
  torch::Tensor forward(const torch::Tensor& x) override;
  void pretty_print(std::ostream& os) const override;
  int64_t in, out;
};

/// An activation position: ReLU, or an activation quantizer. Counts exact zeros of its
/// output while tracking is on (evaluation passes).
class ActImpl : public torch::nn::Module {
 public:
  torch::Tensor forward(const torch::Tensor& x);
  void set_quantizer(std::shared_ptr<ActQuantizer> q);
  const std::shared_ptr<ActQuantizer>& quantizer() const { return quantizer_; }
  void pretty_print(std::ostream& os) const override;
  ZeroCounter output_zeros;

 private:
  std::shared_ptr<ActQuantizer> quantizer_;
};

/// A named reference to a quantizable layer of a model, in creation order.
struct LayerRef {
  std::string name;  ///< e.g. "layer2.0.conv1"
  std::shared_ptr<QLayerImpl> layer;
  bool first = false, last = false;
};

/// All QConv2d/QLinear layers of `model` in registration order; the first and last are marked.
std::vector<LayerRef> quant_layers(torch::nn::Module& model);

/// All Act positions of `model` with their names.
std::vector<std::pair<std::string, std::shared_ptr<ActImpl>>> act_layers(torch::nn::Module& model);

}  // namespace lowbit
