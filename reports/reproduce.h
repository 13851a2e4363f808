// The verdict of lowbit reproduce: a run trained again from its stored config, compared with
// what the database recorded for it, epoch by epoch.
#pragma once
#include "lowbit_room.h"  // the build refuses this header in rooms below reports/
#ifndef LOWBIT_MAY_INCLUDE_REPORTS
#error "this room may not include reports/ (docs/ARCHITECTURE.md: rooms)"
#endif
#include <string>
#include <vector>

#include "tracker/selectors.h"  // EpochMetrics: (epoch, metric key) -> value

namespace lowbit {

/// Timings and memory, which no rerun reproduces (machine_dependent in core/train/keys.h): left
/// out of every comparison.
bool is_timing_metric(const std::string& key);

/// The value of `key` at its last epoch in `m`, or NaN when `m` has none.
double final_value(const EpochMetrics& m, const std::string& key);

struct ReproductionVerdict {
  std::string verdict;  ///< "bit-identical", "within seed spread" or "different"
  std::string detail;   ///< the first departure and the spread it was judged against
};

/// Compares a rerun with the stored run. Bit-identical: every non-timing metric of every
/// epoch is the same double. Otherwise the first departure is named, and the rerun's final
/// `final_key` is judged against the cell's seeds (`cell_finals`, the other done seeds of
/// the same configuration, this run included): within their 95% prediction interval for one
/// new draw, mean ± t(0.975, n-1) · s · sqrt(1 + 1/n), or different. Fewer than 2 seeds give
/// no spread: different.
ReproductionVerdict judge_reproduction(const EpochMetrics& stored, const EpochMetrics& fresh,
                                       const std::string& final_key,
                                       const std::vector<double>& cell_finals);

}  // namespace lowbit
