// The built-in networks and their registry. Every conv/linear is a QConv2d/QLinear and
// every ReLU position an Act, registered under stable names (`layer2.0.conv1`), so that
// quantizers and per-layer settings can address them.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <torch/nn/module.h>
#include <torch/types.h>

namespace lowbit {

/// The shape of the data a model is built for.
struct ModelSpec {
  int64_t channels = 1, height = 28, width = 28, classes = 10;
};

class Network : public torch::nn::Module {
 public:
  /// x: (B, C, H, W) -> logits (B, classes)
  virtual torch::Tensor forward(torch::Tensor x) = 0;
};

/// A model's factory; the name and its description are in model_names()
/// (core/config/names.h), which a test checks against this registry.
struct ModelEntry {
  std::string name;
  std::function<std::shared_ptr<Network>(const ModelSpec&)> make;
};

/// The model factories, one per name of model_names().
const std::vector<ModelEntry>& model_registry();

/// Builds a registered model; throws ConfigError("unknown model 'x', did you mean 'y'?").
std::shared_ptr<Network> make_model(const std::string& name, const ModelSpec& spec);

/// Number of trainable parameters.
int64_t count_parameters(torch::nn::Module& m);

}  // namespace lowbit
