// Health rules (config health.*): a run that cannot recover is stopped early, with the rule,
// the layer and the epoch as its error, instead of burning its remaining epochs. Torch-free:
// the rules read the epoch's metrics and layer statistics and the step's gradient norm.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include "core/config/run_config.h"
#include "core/train/observer.h"

namespace lowbit {

/// The first epoch-level rule that `ev` breaks (health.ttq_scales, health.max_zero_fraction,
/// health.chance_after_epochs), as the run's error, or nullopt when the run is healthy.
std::optional<std::string> epoch_health(const HealthConfig& h, const EpochEvent& ev,
                                        int64_t classes, bool has_val);

/// health.grad_spike: compares each step's gradient norm with the mean of the earlier steps.
class GradSpikeMonitor {
 public:
  static constexpr int64_t kWarmupSteps = 20;
  explicit GradSpikeMonitor(double factor) : factor_(factor) {}
  bool active() const { return factor_ > 0; }
  /// Records one step's norm; the error when it exceeds factor x the mean of the earlier ones.
  std::optional<std::string> step(double norm, int64_t epoch, int64_t batch);

 private:
  double factor_;
  double sum_ = 0;
  int64_t steps_ = 0;
};

}  // namespace lowbit
