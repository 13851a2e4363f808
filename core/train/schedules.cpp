#include "core/train/schedules.h"

#include <cmath>

namespace lowbit {

double lr_at(const OptimConfig& o, int64_t epochs, double t) {
  double lr = o.lr;
  if (o.schedule == "step") {
    lr *= std::pow(o.gamma, std::floor(t / double(o.step_size)));
  } else if (o.schedule == "multistep") {
    for (int64_t m : o.milestones)
      if (t >= double(m)) lr *= o.gamma;
  } else if (o.schedule == "cosine") {
    // Cosine over the epochs after warm-up, from lr down to min_lr.
    double span = std::max(1e-12, double(epochs) - o.warmup_epochs);
    double p = std::clamp((t - o.warmup_epochs) / span, 0.0, 1.0);
    lr = o.min_lr + (o.lr - o.min_lr) * 0.5 * (1 + std::cos(M_PI * p));
  }
  if (o.warmup_epochs > 0 && t < o.warmup_epochs) lr = o.lr * (t / o.warmup_epochs);
  return lr;
}

Temperature temperature_at(const QuantConfig& q, int64_t epochs, double t) {
  const double e0 = q.temp_start * double(epochs), e1 = q.temp_end * double(epochs);
  auto value_at = [&](double e) {
    e = std::clamp(e, e0, e1);
    double p = e1 > e0 ? (e - e0) / (e1 - e0) : 1.0;
    const std::string& s = q.temp_schedule;
    if (s == "exp") return q.temp_t0 * std::pow(q.temp_gamma, e - e0);
    if (s == "cos") return q.temp_t1 + (q.temp_t0 - q.temp_t1) * 0.5 * (1 + std::cos(M_PI * p));
    if (s == "linear") return q.temp_t0 + (q.temp_t1 - q.temp_t0) * p;
    if (s == "sgdr") {
      double len = q.temp_period * double(epochs), pos = e - e0;
      while (len > 0 && pos >= len && len < 1e12) pos -= len, len *= q.temp_period_mult;
      double c = len > 0 ? std::min(pos / len, 1.0) : 1.0;
      return q.temp_t0 + (q.temp_t1 - q.temp_t0) * 0.5 * (1 - std::cos(M_PI * c));
    }
    return q.temp_t0;  // constant
  };
  double e = q.temp_per_step ? t : std::floor(t);
  Temperature out;
  out.value = value_at(e);
  // Hard argmax once the window has closed; a window that reaches the end of training
  // keeps the forward soft to the last step (evaluation is argmax either way).
  out.hard = q.temp_end < 1.0 && e >= e1;
  return out;
}

const std::vector<std::string>& temperature_schedules() {
  static const std::vector<std::string> names = {"exp", "cos", "linear", "sgdr", "constant"};
  return names;
}

}  // namespace lowbit
