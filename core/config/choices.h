// The closed choices of config keys: enums in the code, spelled as strings only at the edges
// (JSON, --set, CONFIG.md, the hash, messages). Each enum's names are listed once, beside it,
// in the enum's order; choice_name and parse_choice convert. Open choices whose names come from
// a registry (model, data.name, quant.method, quant.act.method: core/config/names.h) stay
// strings. An enum listed by `lowbit list` also has one description per name.
#pragma once
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace lowbit {

/// Names of an enum's values, in the enum's order: a specialisation per enum below.
template <typename E>
struct ChoiceNames;

/// `optim.name`
enum class OptimizerName { kSgd, kAdam };
template <>
struct ChoiceNames<OptimizerName> {
  static constexpr const char* names[] = {"sgd", "adam"};
};

/// `quant.scale_init` (TTQ)
enum class ScaleInit { kOne, kMean };
template <>
struct ChoiceNames<ScaleInit> {
  static constexpr const char* names[] = {"one", "mean"};
};

/// `quant.scaling` (sign)
enum class Scaling { kNone, kLayer, kChannel };
template <>
struct ChoiceNames<Scaling> {
  static constexpr const char* names[] = {"none", "layer", "channel"};
};

/// `quant.logit_init` (SLB)
enum class LogitInit { kHe, kCheckpoint };
template <>
struct ChoiceNames<LogitInit> {
  static constexpr const char* names[] = {"he", "checkpoint"};
};

/// `quant.temperature.window` (SLB)
enum class TempWindow { kFractional, kPort };
template <>
struct ChoiceNames<TempWindow> {
  static constexpr const char* names[] = {"fractional", "port"};
};

/// `quant.temperature.after_window` (SLB)
enum class AfterWindow { kFreeze, kSte };
template <>
struct ChoiceNames<AfterWindow> {
  static constexpr const char* names[] = {"freeze", "ste"};
};

/// `optim.schedule`
enum class LrSchedule { kConstant, kStep, kMultistep, kCosine };
template <>
struct ChoiceNames<LrSchedule> {
  static constexpr const char* names[] = {"constant", "step", "multistep", "cosine"};
  static constexpr const char* descriptions[] = {
      "optim.lr throughout",
      "multiply by optim.gamma every optim.step_size epochs",
      "multiply by optim.gamma at each of optim.milestones",
      "half cosine from optim.lr to optim.min_lr after the warm-up",
  };
};

/// `quant.temperature.schedule` (SLB)
enum class TempSchedule { kExp, kCos, kLinear, kSgdr, kConstant };
template <>
struct ChoiceNames<TempSchedule> {
  static constexpr const char* names[] = {"exp", "cos", "linear", "sgdr", "constant"};
  static constexpr const char* descriptions[] = {
      "T = T0 * gamma^(epochs into the window)",
      "half cosine from T0 to T1 over the window",
      "linear from T0 to T1 over the window",
      "cosine cycles from T0 to T1 that restart (warm restarts), each period_mult times longer",
      "T0 throughout",
  };
};

/// `quant.bn_mode` (SLB)
enum class BnMode { kState, kNone, kCalibrateAfter, kCalibrateEachEpoch, kCalibratePort };
template <>
struct ChoiceNames<BnMode> {
  static constexpr const char* names[] = {"state", "none", "calibrate_after", "calibrate_each_epoch",
                                          "calibrate_port"};
};

/// `quant.act.alpha_decay` (PACT)
enum class AlphaDecay { kWeights, kScales };
template <>
struct ChoiceNames<AlphaDecay> {
  static constexpr const char* names[] = {"weights", "scales"};
};

/// LSQ activations: what N of the step's gradient scale 1/sqrt(N Q_P) counts.
enum class LsqGradCount { kFeatures, kElements };
template <>
struct ChoiceNames<LsqGradCount> {
  static constexpr const char* names[] = {"features", "elements"};
};

/// The string of `e`, as configs spell it.
template <typename E>
const char* choice_name(E e) {
  return ChoiceNames<E>::names[static_cast<size_t>(e)];
}

/// Every name of E, in order.
template <typename E>
std::vector<std::string> choice_names() {
  return {std::begin(ChoiceNames<E>::names), std::end(ChoiceNames<E>::names)};
}

/// The value named `s`, or nothing.
template <typename E>
std::optional<E> parse_choice(const std::string& s) {
  const auto& names = ChoiceNames<E>::names;
  for (size_t i = 0; i < std::size(names); ++i)
    if (s == names[i]) return static_cast<E>(i);
  return std::nullopt;
}

}  // namespace lowbit
