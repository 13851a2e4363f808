// The quantizer registry and the one function that applies a QuantConfig to a model:
// which layers are quantized (quant.skip), with which per-layer settings (threshold
// globs), and which activation quantizer sits at every Act position.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <torch/nn/module.h>

#include "core/config/run_config.h"
#include "core/nn/qlayers.h"
#include "core/quant/quantizer.h"

namespace lowbit {

/// Settings resolved for one layer.
struct LayerQuantSettings {
  double threshold = 0.05;
  double target_sparsity = -1;  ///< < 0: off
};

/// A weight quantizer's factory; the name and its description are in quantizer_names()
/// (core/config/names.h).
struct QuantizerEntry {
  std::string name;
  /// nullptr for "fp".
  std::function<std::shared_ptr<WeightQuantizer>(const QuantConfig&, const LayerQuantSettings&)>
      make;
};

const std::vector<QuantizerEntry>& quantizer_registry();

/// An activation quantizer's factory; names and descriptions in activation_quantizer_names().
struct ActQuantizerEntry {
  std::string name;
  /// nullptr for "none" (ReLU).
  std::function<std::shared_ptr<ActQuantizer>(const QuantConfig&)> make;
};

const std::vector<ActQuantizerEntry>& act_quantizer_registry();

/// Attaches quantizers to `model` per `q`; returns the quantized layers (skipped ones
/// excluded). Throws ConfigError when a skip entry or per-layer glob matches no layer.
std::vector<LayerRef> attach_quantizers(torch::nn::Module& model, const QuantConfig& q);

/// The activation quantizer for `q` (nullptr = ReLU).
std::shared_ptr<ActQuantizer> make_act_quantizer(const QuantConfig& q);

}  // namespace lowbit
