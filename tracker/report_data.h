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
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/config/run_config.h"  // config_value_text
#include "tracker/db_handle.h"

namespace lowbit {

struct RunData {
  int64_t id = 0, seed = 0;
  std::string variant, git_commit;
  std::string error;  ///< why a failed, diverged, stopped or interrupted run ended
  int64_t parent_id = 0;    ///< init.from_run: the run (of this experiment) it starts from
  int64_t reused_from = 0;  ///< a copy of this finished run of another experiment
  RunStatus status = RunStatus::kPending;
  std::string config_json;  ///< the resolved config as stored (runs.config_json)
  /// The resolved config (nested), parsed from config_json on first use unless
  /// load_experiment_data parsed every run's up front.
  const nlohmann::json& config() const;
  mutable std::shared_ptr<const nlohmann::json> config_tree;  ///< set once parsed
  /// Config values read from run_config by load_config_text: key -> its text as
  /// config_value_text prints it. A key absent here is read from config().
  std::map<std::string, std::string> config_text;
  nlohmann::json varying;  ///< axis values of this run
  std::map<std::string, double> summary;
  std::vector<std::string> tags;   ///< lowbit tag, sorted
  std::vector<std::string> notes;  ///< lowbit note, oldest first
  /// Extra row keys that are not config keys (e.g. "layer" for per-layer tables), set by
  /// the report that expands a run into one row per layer.
  std::map<std::string, std::string> row_keys;
  /// runs.in_definition: of the definition the experiment was last launched with. A run
  /// outside it is loaded only with all_runs, its variant then marked kOutsideMark.
  bool in_definition = true;
};

/// Appended to the variant of a run outside the experiment's current definition (all_runs), so
/// that tables keep it in rows of its own instead of averaging it with the definition's runs.
inline constexpr const char* kOutsideMark = " (earlier def.)";

struct ExperimentData {
  int64_t id = 0;
  std::string name, description;
  nlohmann::json spec;                 ///< the experiment definition as registered
  std::vector<std::string> axis_keys;  ///< from the spec, global then per-variant
  std::vector<RunData> runs;           ///< every status, in id order
  /// Runs of the experiment outside its current definition (runs.in_definition = 0; an
  /// earlier version of the file): id, variant, seed, status. In `runs` too when all_runs.
  std::vector<RunData> outside;
  /// The SQL condition on runs that selects this experiment's loaded runs.
  std::string run_condition;
  std::vector<std::string> queries;    ///< SQL behind the data
  /// The run with this id, or nullptr (a binary search: runs are in id order).
  RunData* run(int64_t id);
  const RunData* run(int64_t id) const;
};

/// Loads an experiment; throws StoreError listing the experiments when it does not exist.
/// parse_configs: parse every run's config JSON now, on every core (the energy tables read
/// nested values); otherwise each run parses its own on first use of RunData::config().
/// all_runs: also the runs outside the definition the experiment was last launched with
/// (marked); by default they are only listed in ExperimentData::outside.
/// where: a condition over `runs r JOIN experiments e` (tracker/filter.h's RunFilter::sql) that
/// every loaded run, and every listed outside one, satisfies; "" for all.
ExperimentData load_experiment_data(Db& db, const std::string& experiment,
                                    bool parse_configs = true, bool all_runs = false,
                                    const std::string& where = "");


/// Reads `keys` (config key paths) of every run from run_config into RunData::config_text,
/// typed by the key's field so that the text equals config_value_text of the JSON value.
/// At 100,000 runs this replaces parsing 129 MB of JSON when a report needs only its row keys.
void load_config_text(Db& db, ExperimentData& e, const std::vector<std::string>& keys);

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
