// lowbit diff A B: what differs between two runs or two cells (experiment:variant, the
// seeds of one configuration): config keys, provenance, and final metrics side by side;
// for cells mean ± std (n), the difference of the means with its 95% Welch interval and
// Welch's p. Only what differs is shown, except the metrics, which are the point.
#pragma once
#include "lowbit_room.h"  // the build refuses this header in rooms below reports/
#ifndef LOWBIT_MAY_INCLUDE_REPORTS
#error "this room may not include reports/ (docs/ARCHITECTURE.md: rooms)"
#endif
#include <string>

#include <nlohmann/json.hpp>

#include "tracker/selectors.h"

namespace lowbit {

/// The whole comparison as JSON: {"a", "b", "config": [{key, a, b}], "provenance": [...],
/// "metrics": [{key, a: {mean, std, n}, b: {...}, diff, ci95: [lo, hi], p}]}.
nlohmann::json diff_runs(Db& db, const RunSelection& a, const RunSelection& b);

/// The comparison as text for a terminal.
std::string format_diff(const nlohmann::json& d);

}  // namespace lowbit
