// Bulk reads for reports: an experiment's runs with their configs and summaries, and the
// per-epoch series of chosen metrics and layer statistics. Each loader records the SQL it
// ran, so that a report can print the query behind every table.
#pragma once
#include "lowbit_room.h"  // the build refuses this header in rooms below tracker/
#ifndef LOWBIT_MAY_INCLUDE_TRACKER
#error "this room may not include tracker/ (docs/ARCHITECTURE.md: rooms)"
#endif
#include "core/run_status.h"
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tracker/sqlite.h"

namespace lowbit {

struct RunData {
  int64_t id = 0, seed = 0;
  std::string variant, git_commit;
  std::string error;  ///< why a failed, diverged, stopped or interrupted run ended
  int64_t parent_id = 0;    ///< init.from_run: the run (of this experiment) it starts from
  int64_t reused_from = 0;  ///< a copy of this finished run of another experiment
  RunStatus status = RunStatus::kPending;
  nlohmann::json config;   ///< resolved config (nested)
  nlohmann::json varying;  ///< axis values of this run
  std::map<std::string, double> summary;
  std::vector<std::string> tags;   ///< lowbit tag, sorted
  std::vector<std::string> notes;  ///< lowbit note, oldest first
  /// Extra row keys that are not config keys (e.g. "layer" for per-layer tables), set by
  /// the report that expands a run into one row per layer.
  std::map<std::string, std::string> row_keys;
};

struct ExperimentData {
  int64_t id = 0;
  std::string name, description;
  nlohmann::json spec;                 ///< the experiment definition as registered
  std::vector<std::string> axis_keys;  ///< from the spec, global then per-variant
  std::vector<RunData> runs;           ///< every status, in id order
  std::vector<std::string> queries;    ///< SQL behind the data
};

/// Loads an experiment; throws StoreError listing the experiments when it does not exist.
ExperimentData load_experiment_data(Db& db, const std::string& experiment);

/// (epoch, value) series of metric `key` for every run of the experiment: run id -> series.
std::map<int64_t, std::vector<std::pair<int64_t, double>>> load_metric_series(
    Db& db, ExperimentData& e, const std::string& key);

/// Per-layer series: run id -> layer -> key -> (epoch, value), for the given keys.
using LayerSeries =
    std::map<int64_t,
             std::map<std::string, std::map<std::string, std::vector<std::pair<int64_t, double>>>>>;
LayerSeries load_layer_series(Db& db, ExperimentData& e, const std::vector<std::string>& keys);

/// The metric keys recorded for the experiment (per epoch) and the summary keys.
std::vector<std::string> metric_keys(Db& db, ExperimentData& e);
/// Whether some run of the experiment recorded per-epoch metric / summary `key`: stops at the
/// first row, where metric_keys reads every metric row of the experiment.
bool has_metric_key(Db& db, ExperimentData& e, const std::string& key);
bool has_summary_key(Db& db, ExperimentData& e, const std::string& key);
std::vector<std::string> summary_keys(Db& db, ExperimentData& e);

}  // namespace lowbit
