#include "core/schedule/schedules.h"

#include <cmath>

namespace lowbit {

double lr_at(const OptimConfig& o, int64_t epochs, double t) {
  double lr = o.lr;
  switch (o.schedule) {
    case LrSchedule::kStep:
      lr *= std::pow(o.gamma, std::floor(t / double(o.step_size)));
      break;
    case LrSchedule::kMultistep:
      for (int64_t m : o.milestones)
        if (t >= double(m)) lr *= o.gamma;
      break;
    case LrSchedule::kCosine: {
      // Cosine over the epochs after warm-up, from lr down to min_lr.
      double span = std::max(1e-12, double(epochs) - o.warmup_epochs);
      double p = std::clamp((t - o.warmup_epochs) / span, 0.0, 1.0);
      lr = o.min_lr + (o.lr - o.min_lr) * 0.5 * (1 + std::cos(M_PI * p));
      break;
    }
    case LrSchedule::kConstant:
      break;
  }
  if (o.warmup_epochs > 0 && t < o.warmup_epochs) lr = o.lr * (t / o.warmup_epochs);
  return lr;
}

TemperatureWindow temperature_window(const QuantConfig& q, int64_t epochs) {
  if (q.temp_window == TempWindow::kPort)
    return {double(int64_t(double(epochs) * q.temp_start)), double(int64_t(double(epochs) * q.temp_end))};
  return {q.temp_start * double(epochs), q.temp_end * double(epochs)};
}

double endpoint_gamma(const QuantConfig& q, int64_t epochs) {
  const TemperatureWindow w = temperature_window(q, epochs);
  return w.end > w.start ? std::pow(q.temp_t1 / q.temp_t0, 1.0 / (w.end - w.start)) : 1.0;
}

double exp_gamma(const QuantConfig& q, int64_t epochs) {
  return q.temp_gamma ? *q.temp_gamma : endpoint_gamma(q, epochs);
}

namespace {

// The schedule's value at position p in [0, 1] of the window, `span` epochs after its start
// (exp counts epochs, the others the fraction of the window).
double schedule_value(const QuantConfig& q, int64_t epochs, double p, double span) {
  switch (q.temp_schedule) {
    case TempSchedule::kExp:
      return q.temp_t0 * std::pow(exp_gamma(q, epochs), span);
    case TempSchedule::kCos:
      return q.temp_t1 + (q.temp_t0 - q.temp_t1) * 0.5 * (1 + std::cos(M_PI * p));
    case TempSchedule::kLinear:
      return q.temp_t0 + (q.temp_t1 - q.temp_t0) * p;
    case TempSchedule::kSgdr: {
      // A cycle that ends inside the window restarts at T0; one that ends where the window
      // ends stays at T1 (the hard forward and after_window = ste run at T1, not at a restart).
      const TemperatureWindow w = temperature_window(q, epochs);
      const double width = w.end - w.start;
      double len = q.temp_period * double(epochs), pos = span, done = 0;
      while (len > 0 && pos >= len && len < 1e12 && done + len < width * (1 - 1e-12))
        pos -= len, done += len, len *= q.temp_period_mult;
      double c = len > 0 ? std::min(pos / len, 1.0) : 1.0;
      return q.temp_t0 + (q.temp_t1 - q.temp_t0) * 0.5 * (1 - std::cos(M_PI * c));
    }
    case TempSchedule::kConstant:
      break;
  }
  return q.temp_t0;
}

// The golden-stick port (TemperatureScheduler.epoch_begin): 1-based epoch e,
// s = int(E * start), f = int(E * end); T = T0 * gamma^(min(e, f) - s) when e > s, else T0;
// the one-hot forward from e >= f on.
Temperature port_temperature(const QuantConfig& q, int64_t epochs, double t) {
  const int64_t e = int64_t(std::floor(t)) + 1;
  const TemperatureWindow w = temperature_window(q, epochs);  // int(E start), int(E end)
  const int64_t s = int64_t(w.start), f = int64_t(w.end);
  const double span = e > s ? double(std::min(e, f) - s) : 0.0;
  const double p = f > s ? span / double(f - s) : 1.0;
  return {schedule_value(q, epochs, p, span), e >= f};
}

}  // namespace

Temperature temperature_at(const QuantConfig& q, int64_t epochs, double t) {
  if (q.temp_window == TempWindow::kPort) return port_temperature(q, epochs, t);
  const TemperatureWindow w = temperature_window(q, epochs);
  const double e0 = w.start, e1 = w.end;
  double e = std::clamp(q.temp_per_step ? t : std::floor(t), e0, e1);
  double p = e1 > e0 ? (e - e0) / (e1 - e0) : 1.0;
  Temperature out;
  out.value = schedule_value(q, epochs, p, e - e0);
  // Hard arg-max once the window has closed; a window that reaches the end of training
  // keeps the forward soft to the last step (evaluation is arg-max either way).
  double raw = q.temp_per_step ? t : std::floor(t);
  out.hard = q.temp_end < 1.0 && raw >= e1;
  return out;
}

}  // namespace lowbit
