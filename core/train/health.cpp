#include "core/train/health.h"
#include "core/train/keys.h"

#include <fmt/format.h>

namespace lowbit {

std::optional<std::string> epoch_health(const HealthConfig& h, const EpochEvent& ev,
                                        int64_t classes, bool has_val) {
  const int64_t epoch = ev.epoch + 1;  // 1-based, as in the database and the messages
  for (const auto& s : ev.layers) {
    if (h.ttq_scales && (s.key == key::kWp || s.key == key::kWn) && !(s.value > 0))
      return fmt::format(
          "health.ttq_scales: layer {} has {} = {:.4g} <= 0 at epoch {} (its ternary values {}); "
          "lower optim.lr, or set health.ttq_scales=false to let it run",
          s.layer, s.key == key::kWp ? "Wp" : "Wn", s.value, epoch,
          s.value == 0 ? "collapse to zero" : "change sign");
    if (s.key == key::kSparsity && h.max_zero_fraction < 1 && s.value > h.max_zero_fraction)
      return fmt::format(
          "health.max_zero_fraction: layer {} is {:.2f}% zeros at epoch {} (limit {:.2f}%); lower "
          "the threshold, or set health.max_zero_fraction=1 to let it run",
          s.layer, 100 * s.value, epoch, 100 * h.max_zero_fraction);
  }
  if (h.chance_after_epochs > 0 && epoch >= h.chance_after_epochs && classes > 0) {
    const std::string metric = has_val ? key::kValAcc : key::kTestAcc;
    auto it = ev.metrics.find(metric);
    const double chance = 1.0 / double(classes);
    if (it != ev.metrics.end() && it->second <= chance + h.chance_margin)
      return fmt::format(
          "health.chance_after_epochs: {} {:.4f} is at chance (1/{} + {}) after {} epochs; check "
          "optim.lr and the data, or set health.chance_after_epochs=0 to let it run",
          metric, it->second, classes, h.chance_margin, epoch);
  }
  return std::nullopt;
}

std::optional<std::string> GradSpikeMonitor::step(double norm, int64_t epoch, int64_t batch) {
  const double mean = steps_ > 0 ? sum_ / double(steps_) : 0;
  const bool spike = steps_ >= kWarmupSteps && norm > factor_ * mean;
  sum_ += norm;
  ++steps_;
  if (!spike) return std::nullopt;
  return fmt::format(
      "health.grad_spike: gradient norm {:.4g} at epoch {}, batch {} is {:.1f}x the mean of the {} "
      "steps before ({:.4g}; limit {}x); lower optim.lr, or set health.grad_spike=0 to let it run",
      norm, epoch + 1, batch + 1, norm / mean, steps_ - 1, mean, factor_);
}

}  // namespace lowbit
