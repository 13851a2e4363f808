// The cost table: peak memory, parameter and packed sizes, time per epoch and in all, and
// what SLB's batch-norm mode costs.
#include <algorithm>

#include "reports/report_registry.h"
#include "core/train/keys.h"

namespace lowbit {

namespace {

// Trainable bytes (summary param_bytes) per weight of the network's conv and linear layers
// (the per-layer "weights" statistic summed): 4 for full precision, 4 K for SLB's K logits
// per weight. Gradients and optimizer state come on top (see the table note).
std::function<std::optional<double>(const RunData&)> bytes_per_weight(ReportContext& c) {
  std::map<int64_t, double> weights;
  for (auto& [run, layers] : c.layers())
    for (auto& [layer, stats] : layers)
      if (auto w = layer_last(stats, key::kWeights)) weights[run] += *w;
  return [weights = std::move(weights)](const RunData& r) -> std::optional<double> {
    auto w = weights.find(r.id);
    auto b = r.summary.find(key::kParamBytes);
    if (w == weights.end() || w->second <= 0 || b == r.summary.end()) return std::nullopt;
    return b->second / w->second;
  };
}

// A column of values that depend on the machine and its load: shown, never tested or bold.
ColumnSpec machine_column(const char* label, const char* key, double scale = 1.0) {
  ColumnSpec c{label, summary_value(key), {}, false, true, scale};
  c.machine_dependent = true;
  return c;
}

}  // namespace

std::vector<AggTable> cost_table(ReportContext& c) {
  auto skeys = summary_keys(c.db, c.e);
  auto has = [&](const char* k) { return std::find(skeys.begin(), skeys.end(), k) != skeys.end(); };
  std::vector<ColumnSpec> cols = {
      machine_column("peak RSS (MiB)", key::kPeakRssBytes, 1.0 / 1048576),
      {"parameters (KiB, fp32)", summary_value(key::kParamBytes), {}, false, true, 1.0 / 1024, true},
      {"packed model (KiB)",
       summary_value(key::kPackedModelBytes),
       {},
       false,
       true,
       1.0 / 1024,
       true},
      {"trainable bytes / weight", bytes_per_weight(c), {}, false, true, 1.0, true},
      machine_column("s / epoch", key::kMeanEpochSeconds),
      machine_column("total wall time (s)", key::kWallSeconds)};
  if (has(key::kLogitsBytes))
    cols.insert(
        cols.begin() + 3,
        ColumnSpec{
            "SLB logits (KiB)", summary_value(key::kLogitsBytes), {}, false, true, 1.0 / 1024, true});
  // Discrete passes (bn_mode state) and calibration, seconds per epoch.
  if (has(key::kMeanBnSeconds))
    cols.push_back(machine_column("BN passes (s / epoch)", key::kMeanBnSeconds));
  auto t = aggregate("cost", c.e.name + ": memory, size and time per run", c.e, c.rows, cols, c.topt);
  t.spread_note +=
      "; trainable bytes / weight: the trainable parameters' bytes per weight of the conv and "
      "linear layers, without their gradients (the same bytes again) and the optimizer's state "
      "(SGD with momentum: the same bytes again; Adam: twice)";
  return {t};
}

}  // namespace lowbit
