// The cost table: peak memory, parameter and packed sizes, time per epoch and in all, and
// what SLB's batch-norm mode costs.
#include <algorithm>

#include "reports/report_registry.h"

namespace lowbit {

std::vector<AggTable> cost_table(ReportContext& c) {
  auto skeys = summary_keys(c.db, c.e);
  auto has = [&](const char* k) { return std::find(skeys.begin(), skeys.end(), k) != skeys.end(); };
  std::vector<ColumnSpec> cols = {
      {"peak RSS (MiB)", summary_value("peak_rss_bytes"), {}, false, true, 1.0 / 1048576},
      {"parameters (KiB, fp32)", summary_value("param_bytes"), {}, false, true, 1.0 / 1024, true},
      {"packed model (KiB)",
       summary_value("packed_model_bytes"),
       {},
       false,
       true,
       1.0 / 1024,
       true},
      {"s / epoch", summary_value("mean_epoch_seconds"), {}, false, true},
      {"total wall time (s)", summary_value("wall_seconds"), {}, false, true}};
  if (has("logits_bytes"))
    cols.insert(
        cols.begin() + 3,
        ColumnSpec{
            "SLB logits (KiB)", summary_value("logits_bytes"), {}, false, true, 1.0 / 1024, true});
  // Discrete passes (bn_mode state) and calibration, seconds per epoch.
  if (has("mean_bn_seconds"))
    cols.push_back({"BN passes (s / epoch)", summary_value("mean_bn_seconds"), {}, false, true});
  return {
      aggregate("cost", c.e.name + ": memory, size and time per run", c.e, c.rows, cols, c.topt)};
}

}  // namespace lowbit
