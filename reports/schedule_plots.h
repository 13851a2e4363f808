// The schedules of an experiment as its configs define them, drawn from the configs alone:
// before it runs (lowbit grid --dry-run --plot DIR) and in the report of every experiment with
// SLB runs. One curve per labelled config.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "core/config/run_config.h"

namespace lowbit {

/// DIR/<name>.svg and .png: each config's learning rate over its epochs. Returns the files
/// written; none without gnuplot.
std::vector<std::string> plot_lr_schedules(const std::string& dir, const std::string& name, const std::string& title,
                                           const std::vector<std::pair<std::string, RunConfig>>& runs);

/// DIR/<name>.svg and .png: each SLB config's inverse temperature T (log scale); where the
/// forward is hard the curve goes on dashed. Nothing without SLB configs. `colors`: each
/// config's palette index (Series::color), or empty for one after another.
std::vector<std::string> plot_temperature_schedules(const std::string& dir, const std::string& name,
                                                    const std::string& title,
                                                    const std::vector<std::pair<std::string, RunConfig>>& runs,
                                                    const std::vector<int>& colors = {});

}  // namespace lowbit
