// What a user names on the command line, resolved to runs: a run id, a config-hash prefix,
// or a cell "experiment:variant[:key=value...]" (the seeds of one configuration); and the
// per-run rows that lowbit diff and lowbit reproduce compare. Read-only.
#pragma once
#include "lowbit_room.h"  // the build refuses this header in rooms below tracker/
#ifndef LOWBIT_MAY_INCLUDE_TRACKER
#error "this room may not include tracker/ (docs/ARCHITECTURE.md: rooms)"
#endif
#include <map>
#include <string>
#include <vector>

#include "tracker/db_handle.h"

namespace lowbit {

/// The runs a selector named.
struct RunSelection {
  std::string selector;        ///< as the user wrote it
  std::string label;           ///< "run 12 (3f2a9c1d...)" or "exp:variant (3 seeds)"
  std::vector<int64_t> runs;   ///< run ids; one for a run, the done seeds for a cell
  bool cell = false;
  int64_t seeds = 0;           ///< runs the selector named, done or not
};

/// Resolves a selector: a run id ("12"), a config-hash prefix (4+ hex digits, unique), a
/// run as init.from_run names it, "variant@train-hash" (a prefix of 4+ hex digits), or a cell
/// "experiment:variant" with optional ":key=value" filters that pick one cell when the variant
/// spans several (axes); a cell holds the runs a report's cell holds. Throws ConfigError with
/// did-you-mean otherwise.
RunSelection resolve_selector(Db& db, const std::string& selector);

/// The done runs of `run`'s cell, `run` itself included when it is done: the runs of the same
/// experiment and variant with the same axis values (varying_json) in the definition the
/// experiment was last launched with, as a report's cell; for a run outside that definition,
/// the runs with its config but for the seed and init.from_run.
std::vector<int64_t> done_runs_of_cell(Db& db, int64_t run);

/// A run's config as key -> value text (run_config, full precision).
std::map<std::string, std::string> run_config_text(Db& db, int64_t run);

/// A run's provenance (kProvenanceColumns, tracker/store.h) as text, and "dirty_diff": the
/// line count of its uncommitted diff, or "none".
std::map<std::string, std::string> run_provenance(Db& db, int64_t run);

/// The summaries of `runs` with a value: key -> one value per run that has it.
std::map<std::string, std::vector<double>> run_summaries(Db& db, const std::vector<int64_t>& runs);

/// A run's per-epoch metrics: (epoch, key) -> value, epochs 1-based as stored.
using EpochMetrics = std::map<std::pair<int64_t, std::string>, double>;
EpochMetrics run_metrics(Db& db, int64_t run);

/// A run's notes (lowbit note), oldest first: (created_at, text); none in a database older than
/// the notes table (schema 3).
std::vector<std::pair<std::string, std::string>> run_notes(Db& db, int64_t run);

/// What lowbit reproduce needs of a stored run besides its metrics.
struct StoredRunRow {
  std::string status, git_commit, torch_version, config_json;
  int64_t threads = 1;
};
StoredRunRow stored_run_row(Db& db, int64_t run);

}  // namespace lowbit
