#include "core/config/names.h"

#include <iterator>

#include "core/error.h"
#include "core/util.h"

namespace lowbit {

const std::vector<NameEntry>& quantizer_names() {
  static const std::vector<NameEntry> t = {
      {"fp", "full precision (no quantizer)"},
      {"ttq", "Trained Ternary Quantization (Zhu et al. 2017): {-Wn, 0, +Wp}, learned scales"},
      {"twn", "Ternary Weight Networks (Li et al. 2016): delta = 0.7 mean|w|, one scale per layer"},
      {"absmean",
       "absmean ternary (BitNet b1.58, Ma et al. 2024): scale mean|w| per layer, round-clip w / "
       "scale to {-1, 0, 1}, STE"},
      {"sign",
       "BinaryConnect / XNOR-style sign with optional scaling (quant.scaling), clipped STE"},
      {"dorefa", "DoReFa k-bit weights (quant.bits), STE"},
      {"bop",
       "Bop (Helwegen et al. 2019): binary weights flipped by gradient momentum, no latent "
       "weights"},
      {"slb",
       "SLB (Yang et al. 2020): search over a value set with temperature-annealed softmax logits"},
      {"lsq",
       "LSQ (Esser et al. 2020): k-bit signed weights (quant.bits 2..8) with a learned step per layer "
       "or channel (quant.scaling), gradient scale 1/sqrt(N Q_P)"},
  };
  return t;
}

const std::vector<NameEntry>& activation_quantizer_names() {
  static const std::vector<NameEntry> t = {
      {"none", "ReLU, no activation quantizer"},
      {"sign", "1-bit sign activations, clipped straight-through estimator"},
      {"dorefa", "DoReFa k-bit uniform activations on [0, 1] (quant.act.bits)"},
      {"pact", "PACT k-bit activations with a learned clip alpha (quant.act.bits, quant.act.clip)"},
      {"lsq", "LSQ k-bit unsigned activations with a learned step (quant.act.bits, quant.act.lsq_grad_count)"},
  };
  return t;
}

const std::vector<NameEntry>& model_names() {
  static const std::vector<NameEntry> t = {
      {"small_cnn", "3 conv (32/64/128) + BN + ReLU, 2 max-pools, global average pool, linear"},
      {"resnet20", "CIFAR ResNet-20 (He et al. 2016, option-A shortcuts, ~0.27M parameters)"},
      {"resnet32", "CIFAR ResNet-32"},
      {"resnet44", "CIFAR ResNet-44"},
      {"resnet56", "CIFAR ResNet-56"},
      {"vgg_small", "VGG-Small (LQ-Nets / SLB): 128-128-M-256-256-M-512-512-M-FC"},
  };
  return t;
}

namespace {
// The {name, description} table of a closed choice (core/config/choices.h).
template <typename E>
std::vector<NameEntry> choice_table() {
  using Names = ChoiceNames<E>;
  static_assert(std::size(Names::names) == std::size(Names::descriptions), "one description per name");
  std::vector<NameEntry> t;
  for (size_t i = 0; i < std::size(Names::names); ++i) t.push_back({Names::names[i], Names::descriptions[i]});
  return t;
}
}  // namespace

const std::vector<NameEntry>& lr_schedule_names() {
  static const std::vector<NameEntry> t = choice_table<LrSchedule>();
  return t;
}

const std::vector<NameEntry>& temperature_schedule_names() {
  static const std::vector<NameEntry> t = choice_table<TempSchedule>();
  return t;
}

const std::vector<NameEntry>& dataset_names() {
  static const std::vector<NameEntry> t = {
      {"fashion_mnist",
       "Fashion-MNIST (IDX), default directory from the Debian package dataset-fashion-mnist"},
      {"mnist", "MNIST (IDX) from data.dir"},
      {"cifar10", "CIFAR-10 binary version from data.dir"},
      {"synthetic", "deterministic class prototypes plus Gaussian noise (data.synthetic.*)"},
  };
  return t;
}

std::vector<std::string> names_of(const std::vector<NameEntry>& table) {
  std::vector<std::string> out;
  for (auto& e : table) out.push_back(e.name);
  return out;
}

DataShape data_shape(const DataConfig& d) {
  if (d.name == "fashion_mnist" || d.name == "mnist") return {1, 28, 28, 10};
  if (d.name == "cifar10") return {3, 32, 32, 10};
  if (d.name == "synthetic")
    return {d.synthetic_channels, d.synthetic_size, d.synthetic_size, d.synthetic_classes};
  throw ConfigError("data.name: unknown dataset '" + d.name + "'" +
                    did_you_mean(d.name, names_of(dataset_names())));
}

}  // namespace lowbit
