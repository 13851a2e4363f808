// lowbit diff A B: what differs between two runs or two cells (experiment:variant, the
// seeds of one configuration): config keys, provenance, and final metrics side by side;
// for cells mean ± std (n), the difference of the means with its 95% Welch interval and
// Welch's p. Only what differs is shown, except the metrics, which are the point.
#pragma once
#include "lowbit_room.h"  // the build refuses this header in rooms below reports/
#ifndef LOWBIT_MAY_INCLUDE_REPORTS
#error "this room may not include reports/ (docs/ARCHITECTURE.md: rooms)"
#endif
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tracker/sqlite.h"

namespace lowbit {

/// One side of a diff: the runs a selector named.
struct DiffSide {
  std::string selector;        ///< as the user wrote it
  std::string label;           ///< "run 12 (3f2a9c1d...)" or "exp:variant (3 seeds)"
  std::vector<int64_t> runs;   ///< run ids; one for a run, the done seeds for a cell
  bool cell = false;
  int64_t seeds = 0;           ///< runs the selector named, done or not
};

/// Resolves a selector: a run id ("12"), a config-hash prefix (4+ hex digits, unique), or a
/// cell "experiment:variant" with optional ":key=value" filters that pick one configuration
/// when the variant spans several (axes). Throws ConfigError with did-you-mean otherwise.
DiffSide resolve_selector(Db& db, const std::string& selector);

/// The done runs of `run`'s cell: the same experiment and variant, the same configuration
/// but for the seed (run_config), `run` itself included when it is done.
std::vector<int64_t> done_runs_of_cell(Db& db, int64_t run);

/// The whole comparison as JSON: {"a", "b", "config": [{key, a, b}], "provenance": [...],
/// "metrics": [{key, a: {mean, std, n}, b: {...}, diff, ci95: [lo, hi], p}]}.
nlohmann::json diff_runs(Db& db, const DiffSide& a, const DiffSide& b);

/// The comparison as text for a terminal.
std::string format_diff(const nlohmann::json& d);

}  // namespace lowbit
