#include "reports/reproduce.h"

#include "core/train/keys.h"

#include <cmath>

#include <fmt/format.h>

#include "reports/stats.h"

namespace lowbit {

bool is_timing_metric(const std::string& key) {
  if (const OutputKey* k = find_output_key(key, KeyScope::kEpoch)) return k->machine_dependent;
  for (const char* part : {"seconds", "rss", "bytes", "per_second"})  // a key of no table: by its name
    if (key.find(part) != std::string::npos) return true;
  return false;
}

double final_value(const EpochMetrics& m, const std::string& key) {
  double v = NAN;
  int64_t last = -1;
  for (const auto& [at, value] : m)
    if (at.second == key && at.first > last) last = at.first, v = value;
  return v;
}

ReproductionVerdict judge_reproduction(const EpochMetrics& stored, const EpochMetrics& fresh,
                                       const std::string& final_key,
                                       const std::vector<double>& cell_finals) {
  std::string departure;
  for (const auto& [at, value] : stored) {
    if (is_timing_metric(at.second)) continue;
    auto it = fresh.find(at);
    if (it == fresh.end()) {
      departure = fmt::format("epoch {} {}: stored {:.17g}, the rerun has none", at.first, at.second, value);
      break;
    }
    if (it->second != value && !(std::isnan(it->second) && std::isnan(value))) {
      departure = fmt::format("first departure at epoch {}, {}: stored {:.17g}, rerun {:.17g}",
                              at.first, at.second, value, it->second);
      break;
    }
  }
  if (departure.empty()) {
    for (const auto& [at, value] : fresh)
      if (!is_timing_metric(at.second) && !stored.count(at)) {
        departure = fmt::format("epoch {} {}: the rerun has {:.17g}, the database none", at.first, at.second, value);
        break;
      }
  }
  if (departure.empty()) return {"bit-identical", "every metric of every epoch is the same double"};

  const double rerun_final = final_value(fresh, final_key);
  const Summary s = summarize(cell_finals);
  if (s.n < 2 || std::isnan(rerun_final))
    return {"different", departure + fmt::format("; the cell has {} done seed(s): no spread to judge {} against",
                                                 s.n, final_key)};
  const double half = student_t_quantile(0.975, s.n - 1) * s.std * std::sqrt(1.0 + 1.0 / s.n);
  const bool inside = std::fabs(rerun_final - s.mean) <= half;
  return {inside ? "within seed spread" : "different",
          departure + fmt::format("; final {} {:.6g} is {} the cell's 95% prediction interval [{:.6g}, "
                                  "{:.6g}] ({} seeds)",
                                  final_key, rerun_final, inside ? "inside" : "outside",
                                  s.mean - half, s.mean + half, s.n)};
}

}  // namespace lowbit
