#include "core/schedule/trajectory.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "core/schedule/schedules.h"

namespace lowbit {
namespace {

constexpr double kFloat32Max = std::numeric_limits<float>::max();

// Training progress runs over [0, epochs): the samples a check looks at, `per_epoch` to an
// epoch (at most 200,000 in all), plus the moments where the window opens and closes.
std::vector<double> sample_points(const RunConfig& c, int per_epoch) {
  const double E = double(c.epochs);
  const int64_t n = std::min<int64_t>(int64_t(per_epoch) * c.epochs, 200000);
  std::vector<double> t;
  for (int64_t k = 0; k < n; ++k) t.push_back(double(k) * E / double(n));
  const TemperatureWindow w = temperature_window(c.quant, c.epochs);
  for (double x : {w.start, w.end - 1e-9, w.end, E - 1e-9})
    if (x >= 0 && x < E) t.push_back(x);
  std::sort(t.begin(), t.end());
  return t;
}

bool endpoint_defined(const QuantConfig& q) {
  switch (q.temp_schedule) {
    case TempSchedule::kCos:
    case TempSchedule::kLinear:
    case TempSchedule::kSgdr:
      return true;
    case TempSchedule::kExp:
      return !q.temp_gamma.has_value();
    case TempSchedule::kConstant:
      return false;
  }
  return false;
}

// 1 + m + ... + m^(k-1): the window length, in first cycles, that k SGDR cycles fill.
double cycles_length(double m, int k) {
  double s = 0, len = 1;
  for (int i = 0; i < k; ++i) s += len, len *= m;
  return s;
}

void check_sgdr(const RunConfig& c, ScheduleProblems& out) {
  const QuantConfig& q = c.quant;
  const TemperatureWindow w = temperature_window(q, c.epochs);
  const double width = w.end - w.start, first = q.temp_period * double(c.epochs);
  if (width <= 0 || first <= 0) return;
  int k = 1;
  while (first * cycles_length(q.temp_period_mult, k) < width * (1 - 1e-9) && k < 1000) ++k;
  const double filled = first * cycles_length(q.temp_period_mult, k);
  if (std::abs(filled - width) <= 1e-9 * width) return;
  const double cut_start = first * cycles_length(q.temp_period_mult, k - 1);
  const double cut = (width - cut_start) / (filled - cut_start);
  const double at_cut = q.temp_t0 + (q.temp_t1 - q.temp_t0) * 0.5 * (1 - std::cos(M_PI * cut));
  auto period_for = [&](int n) { return width / double(c.epochs) / cycles_length(q.temp_period_mult, n); };
  std::string fix = k > 1 ? fmt::format("period {:.6g} ({} cycles) or {:.6g} ({} cycles)", period_for(k - 1), k - 1,
                                        period_for(k), k)
                          : fmt::format("period {:.6g} (1 cycle)", period_for(1));
  out.errors.push_back(fmt::format(
      "quant.temperature.period: SGDR cycles of {} x {}^i of training do not tile the window of {:.6g} "
      "epochs (cycle {} is cut at {:.0f}% of its length, so the window closes at T = {:.4g}, not t1 = {:.6g}); "
      "use {} with period_mult {}",
      q.temp_period, q.temp_period_mult, width, k, 100 * cut, at_cut, q.temp_t1, fix, q.temp_period_mult));
}

void check_range(const RunConfig& c, const ScheduleSummary& s, ScheduleProblems& out) {
  if (std::isfinite(s.t_max.value) && s.t_max.value <= kMaxTemperature) return;
  const QuantConfig& q = c.quant;
  double first_over = -1, first_inf = -1;
  for (double t : sample_points(c, 64)) {
    const double v = temperature_at(q, c.epochs, t).value;
    if (!(v <= kMaxTemperature) && first_over < 0) first_over = t;
    if (!(v <= kFloat32Max)) {
      first_inf = t;
      break;
    }
  }
  std::string fix = q.temp_schedule == TempSchedule::kExp && q.temp_gamma
                        ? fmt::format("set quant.temperature.gamma to null to go from t0 = {:.6g} to t1 = {:.6g} "
                                      "across the window ({:.6g} per epoch), or pin a smaller gamma",
                                      q.temp_t0, q.temp_t1, endpoint_gamma(q, c.epochs))
                        : "lower quant.temperature.t1";
  out.errors.push_back(fmt::format(
      "quant.temperature: T reaches {:.3g} at epoch {:.3g}, past {:.0e} (T multiplies the logits; float32 "
      "holds at most 3.4e38){}; {}",
      temperature_at(q, c.epochs, first_over).value, first_over, kMaxTemperature,
      first_inf >= 0 ? fmt::format(", and is infinite in float32 from epoch {:.3g}", first_inf) : "", fix));
}

void check_reaches_t1(const RunConfig& c, const ScheduleSummary& s, ScheduleProblems& out) {
  const QuantConfig& q = c.quant;
  if (!endpoint_defined(q) || s.window_end <= s.window_start) return;
  if (std::abs(s.last_soft.value - q.temp_t1) <= 1e-6 * std::abs(q.temp_t1)) return;
  out.warnings.push_back(fmt::format(
      "quant.temperature: the last soft step (epoch {:.4g}) runs at T = {:.4g}, not t1 = {:.6g}{}",
      s.last_soft.epoch, s.last_soft.value, q.temp_t1,
      s.hard_from ? fmt::format("; the forward turns hard from epoch {:.4g}", *s.hard_from) : "",
      q.temp_per_step ? "" : " (per-epoch updates: set per_step true, or an end that is a whole epoch)"));
}

void check_lr(const RunConfig& c, ScheduleProblems& out) {
  const OptimConfig& o = c.optim;
  if (o.schedule == LrSchedule::kMultistep)
    for (int64_t m : o.milestones)
      if (m >= c.epochs)
        out.warnings.push_back(fmt::format("optim.milestones: {} is not before the last epoch ({}): the lr "
                                           "never drops there",
                                           m, c.epochs));
  if (o.schedule == LrSchedule::kStep && o.step_size >= c.epochs)
    out.warnings.push_back(fmt::format("optim.step_size: {} epochs is not shorter than the run ({}): the lr "
                                       "never drops",
                                       o.step_size, c.epochs));
  if (o.warmup_epochs >= double(c.epochs))
    out.warnings.push_back(fmt::format("optim.warmup_epochs: {} is not shorter than the run ({}): the lr never "
                                       "reaches optim.lr",
                                       o.warmup_epochs, c.epochs));
}

}  // namespace

ScheduleSummary summarize_schedules(const RunConfig& c) {
  ScheduleSummary s;
  const double last = double(c.epochs) - 1e-9;
  s.lr_start = {0, lr_at(c.optim, c.epochs, 0)};
  s.lr_end = {last, lr_at(c.optim, c.epochs, last)};
  if (c.quant.method != "slb") return s;
  s.slb = true;
  const QuantConfig& q = c.quant;
  const TemperatureWindow w = temperature_window(q, c.epochs);
  s.window_start = w.start, s.window_end = w.end;
  auto at = [&](double t) { return TrajectoryPoint{t, temperature_at(q, c.epochs, std::min(t, last)).value}; };
  s.t_start = at(w.start), s.t_mid = at(0.5 * (w.start + w.end)), s.t_end = at(w.end);
  if (q.temp_schedule == TempSchedule::kExp) s.exp_gamma = exp_gamma(q, c.epochs);
  s.t_max = at(0);
  s.last_soft = at(0);
  for (double t : sample_points(c, 64)) {
    const Temperature T = temperature_at(q, c.epochs, t);
    if (!(T.value <= s.t_max.value)) s.t_max = {t, T.value};
    if (T.hard && !s.hard_from) s.hard_from = t;
    if (!T.hard) s.last_soft = {t, T.value};
  }
  return s;
}

ScheduleProblems check_schedules(const RunConfig& c) {
  ScheduleProblems out;
  check_lr(c, out);
  if (c.quant.method != "slb") return out;
  const ScheduleSummary s = summarize_schedules(c);
  if (c.quant.temp_schedule == TempSchedule::kSgdr) check_sgdr(c, out);
  check_range(c, s, out);
  if (out.errors.empty()) check_reaches_t1(c, s, out);
  return out;
}

Trajectory sample_trajectory(const RunConfig& c, int per_epoch) {
  Trajectory tr;
  const int64_t n = std::max<int64_t>(2, std::min<int64_t>(int64_t(per_epoch) * c.epochs, 4000));
  for (int64_t k = 0; k <= n; ++k) {
    const double t = std::min(double(k) * double(c.epochs) / double(n), double(c.epochs) - 1e-9);
    tr.lr.push_back({t, lr_at(c.optim, c.epochs, t)});
    if (c.quant.method != "slb") continue;
    const Temperature T = temperature_at(c.quant, c.epochs, t);
    tr.temperature.push_back({t, T.value});
    tr.hard.push_back(T.hard);
  }
  return tr;
}

}  // namespace lowbit
