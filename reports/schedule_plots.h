// The schedules of an experiment, drawn before it runs (lowbit grid --dry-run --plot DIR): what
// each variant's learning rate and SLB inverse temperature do over its epochs.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "core/config/run_config.h"

namespace lowbit {

/// DIR/<name>-lr.svg and, with SLB runs, DIR/<name>-temperature.svg (log scale; the part of
/// each curve where the forward is hard is its own curve), one curve per labelled config, each
/// also as PNG. Returns the files written; none without gnuplot.
std::vector<std::string> plot_schedules(const std::string& name, const std::vector<std::pair<std::string, RunConfig>>& runs,
                                        const std::string& dir);

}  // namespace lowbit
