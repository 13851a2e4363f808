// Read-only access to the results database for `lowbit status`, `lowbit query` and the
// reports. Every function here opens or takes a read-only connection: a query can never
// change recorded results.
#pragma once
#include "lowbit_room.h"  // the build refuses this header in rooms below tracker/
#ifndef LOWBIT_MAY_INCLUDE_TRACKER
#error "this room may not include tracker/ (docs/ARCHITECTURE.md: rooms)"
#endif
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

#include "tracker/db_handle.h"

namespace lowbit {

struct SettleLook;

/// The recorded looks of lowbit grid --settle for `experiment`, in look order then claim
/// order as recorded; empty when there are none (or the experiment does not exist).
std::vector<SettleLook> settle_looks(Db& db, const std::string& experiment);

/// Opens `path` read-only; a missing file is a StoreError naming it (exit 2).
DbHandle open_readonly(const std::string& path);

/// A table of values with column names.
struct Table {
  std::vector<std::string> columns;
  std::vector<std::vector<SqlValue>> rows;
};

/// Runs one read-only statement; INSERT/UPDATE/DELETE/DROP/CREATE/ATTACH are refused with
/// StoreError("refused: queries are read-only ...").
Table run_sql(Db& db, const std::string& sql);

/// Runs with the keys that vary inside their experiment, the seed, status, final metrics, tags,
/// the number of notes (lowbit note RUN prints them), the latest reproduce verdict, and the
/// reason a run failed, diverged, stopped, was interrupted or is blocked (runs.error). `where`:
/// conditions in the filter language (tracker/filter.h), all of which must hold.
Table query_runs(Db& db, const std::string& experiment, const std::vector<std::string>& where);

/// One page of query_runs' table, for lowbit serve: sorted by `sort` (one of its columns; ""
/// or "run": run id), descending when `desc`, rows offset .. offset + limit - 1, and the number
/// of runs the filter keeps. Only the page's rows are computed (at 100,000 runs, sorted by id).
/// An unknown sort column is a ConfigError naming the columns.
struct RunPage {
  Table table;
  int64_t total = 0;
};
RunPage query_runs_page(Db& db, const std::string& experiment, const std::vector<std::string>& where,
                        const std::string& sort, bool desc, int64_t offset, int64_t limit);

/// An experiment's progress, for lowbit serve: its runs by status (all_run_statuses order, zeros
/// included), the mean seconds of its runs trained to the end here (not copies: reused_from),
/// and the ETA those give: mean seconds x runs left / max(1, running); -1 when unknown.
struct ExperimentProgress {
  std::string name, description;
  std::vector<std::pair<std::string, int64_t>> counts;
  int64_t total = 0;
  double mean_run_seconds = -1, eta_seconds = -1;
};
std::vector<ExperimentProgress> experiments_progress(Db& db);

/// A run's row for its page: id, experiment, variant, seed, status, config_hash, epoch, error,
/// legacy_hash ("" for none); no row when there is no such run.
Table run_head(Db& db, int64_t run);

/// A run's per-layer statistics at its last recorded epoch: (layer, key, value), by layer
/// name, then key.
std::vector<std::tuple<std::string, std::string, double>> run_last_layer_stats(Db& db, int64_t run);

/// The experiments, in creation order.
std::vector<std::string> experiment_names(Db& db);

/// The runs of experiment `name` counted by status, the most frequent first (none: empty).
std::vector<std::pair<std::string, int64_t>> runs_by_status(Db& db, const std::string& name);

/// The (start, finish) of every run trained to the end in this database (Unix seconds, sorted
/// by start): done, not copied from another run (reused_from), a resumed run counted from its
/// last start (its finish minus its wall_seconds).
std::vector<std::pair<double, double>> trained_run_spans(Db& db);

/// The commits the runs of trained_run_spans were built at ("<sha>" or "<sha>+dirty"), with
/// their run counts, the most runs first.
std::vector<std::pair<std::string, int64_t>> trained_run_commits(Db& db);

/// A value of output key `key` (core/train/keys.h) for a person to read: bytes and other counts
/// whole ("359923712", not "3.59924e+08"), seconds to the hundredth, anything else (or a key of
/// no table) with 6 significant digits.
std::string output_value_text(const std::string& key, double v);

/// Text of `t` as an aligned table, CSV (plain numbers, one header row) or JSON records.
std::string format_table(const Table& t, const std::string& format);

/// `lowbit status` text: per experiment the counts by status, the running runs with epoch
/// and heartbeat age, and the completeness matrix (configurations x seeds).
std::string status_report(Db& db, const std::string& experiment);

/// The id of experiment `name`; throws StoreError "no experiment 'x' in DB, did you mean
/// 'y'? (experiments: ...)" when there is none.
int64_t experiment_id_or_throw(Db& db, const std::string& name);

}  // namespace lowbit
