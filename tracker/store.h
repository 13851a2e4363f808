// The results database. Every write of lowbit's results goes through Store; every read for
// status, query and reports goes through the read-only functions in tracker/queries.h.
//
// Concurrency: SQLite in WAL mode with a 30 s busy timeout; every writing transaction is
// BEGIN IMMEDIATE; one connection per process (the heartbeat thread shares it under
// SQLite's serialized mode). The schema is created or migrated by open(kMigrate) only, which
// `lowbit grid` does once before its workers start; workers open with kExisting and refuse a
// database of another schema version.
#pragma once
#include "lowbit_room.h"  // the build refuses this header in rooms below tracker/
#ifndef LOWBIT_MAY_INCLUDE_TRACKER
#error "this room may not include tracker/ (docs/ARCHITECTURE.md: rooms)"
#endif
#include "core/run_status.h"
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/config/run_config.h"
#include "core/train/observer.h"
#include "tracker/db_handle.h"

namespace lowbit {

/// The provenance columns of a run's row: what built the binary and where it ran. claim_run
/// writes them, the reuse of a finished run and the shard merge copy them, lowbit diff compares
/// them; this is their one list.
inline constexpr const char* kProvenanceColumns[] = {"host",          "git_commit", "git_dirty",
                                                     "lowbit_version", "torch_version", "compiler",
                                                     "threads",       "device",
                                                     "determinism"};
/// The columns of a run's row that its last attempt decides, besides its provenance: copied
/// with it by the reuse of a finished run and by the shard merge.
inline constexpr const char* kAttemptColumns[] = {"status", "pid",   "heartbeat_at", "finished_at",
                                                  "error",  "epoch", "command_line"};
/// Both lists, attempt columns first: the run columns that travel with a run's result.
std::vector<std::string> result_columns();
/// The same as "a, b, c".
std::string result_column_list();

/// A run as a grid plans it.
struct PlannedRun {
  RunConfig config;
  std::string hash;
  std::string variant;
  nlohmann::json varying;  ///< the axis values of this run ({key: value}), for display
  std::string parent_hash;  ///< init.from_run: the config hash of the parent run; "" for none
};

/// What a process records about itself when it claims a run.
struct Provenance {
  std::string host, command_line, device = "cpu";
  int64_t pid = 0, threads = 1;
  /// The LibTorch the run trains with (TORCH_VERSION, set by the worker: tracker/ is compiled
  /// without LibTorch); "none" for a claim that trains nothing (a run marked blocked).
  std::string torch_version = "none";
  /// What --determinism set (core/nn/torch_compat.h, set_determinism); "" for a claim that
  /// trains nothing.
  std::string determinism = "";
};

/// A `running` run whose heartbeat is older than this has no live worker (its worker beats every
/// 10 s): lowbit grid reclaims it, lowbit status calls it stale, a migration treats it as idle.
inline constexpr double kStaleHeartbeatSeconds = 300;

struct ClaimedRun {
  int64_t id;
  RunConfig config;
  std::string hash, variant;
  int64_t parent_id = 0;  ///< init.from_run: the finished run this one starts from; 0 for none
  std::string parent_checkpoint, parent_sha256;  ///< its checkpoint artifact
  /// The hash it had before schema 7 rewrote it, or "": a run directory written before the
  /// migration is named after it.
  std::string legacy_hash;
};

/// One claim at one look of `lowbit grid --settle` (table settle_looks, schema 8): what was
/// decided with how many seeds, so that a resumed --settle replays the same decisions.
struct SettleLook {
  int64_t look = 0;       ///< 0-based, in the plan of looks
  int64_t seeds = 0;      ///< seeds per cell of the claim at this look
  int64_t max_seeds = 0;  ///< the budget: seeds at the last planned look
  double level = 0;       ///< the look's nominal one-sided level (alpha spent since the last look)
  std::string claim;      ///< the claim's name (per global-axis value: "name [model=x]")
  int64_t n_a = 0, n_b = 0;
  double difference = 0, p_for = 0, p_against = 0, p_for_holm = 0, p_against_holm = 0;
  std::string decision;   ///< supported, contradicted, undecided, or inconclusive (budget spent)
};

class Store {
 public:
  static constexpr int kSchemaVersion = 9;
  enum class Open { kMigrate, kExisting, kShard };

  /// Opens `path` for writing. kMigrate creates the file and schema or migrates an older
  /// schema (keeping all data); kExisting requires the current schema version. kShard is
  /// kMigrate for a Slurm task's shard on a shared file system: a rollback journal instead
  /// of WAL (WAL needs shared memory, which network file systems do not give) and
  /// synchronous=FULL; a shard has one writer, its task.
  Store(const std::string& path, Open how);
  Db& db() { return *db_; }
  int schema_version();

  /// Inserts the experiment if new (spec updated when changed); returns its id.
  int64_t upsert_experiment(const std::string& name, const std::string& description,
                            const std::string& spec_json);
  /// Inserts runs not yet present (by config hash) as pending; returns how many were new. A
  /// run already present without a result (not done, not running) takes the stored config of
  /// `runs` (the same identity; its observation keys may differ).
  int add_runs(int64_t experiment_id, const std::vector<PlannedRun>& runs);
  /// Marks `runs` as the definition the experiment was last launched with
  /// (runs.in_definition): reports show those, and list the experiment's other runs apart.
  void set_definition(int64_t experiment_id, const std::vector<PlannedRun>& runs);
  int64_t experiment_id(const std::string& name);
  /// Records one look of --settle (every claim's row) in one transaction; a look recorded
  /// again (a resumed --settle that re-evaluated it) replaces its rows.
  void record_settle_look(int64_t experiment_id, const std::vector<SettleLook>& rows);
  /// Config hashes of every run the experiment holds, for telling a definition's runs from
  /// runs recorded by an older lowbit or an earlier version of the file.
  std::vector<std::string> run_hashes(int64_t experiment_id);

  /// Marks `running` runs whose process is gone (same host, pid not alive) or whose heartbeat
  /// is older than `stale_seconds` as interrupted; returns how many.
  int reclaim_stale(double stale_seconds);
  /// Failed, diverged, stopped and blocked runs of the experiment back to pending (a stopped
  /// run resumes from its checkpoint under the health rules it is given now); returns how many.
  int retry_failed(int64_t experiment_id);
  /// Never-started runs of the experiment whose training hash another experiment has already
  /// finished become copies of that run (status, provenance, metrics, layer statistics,
  /// summaries, artifacts), with reused_from naming it; returns how many.
  int reuse_done_runs(int64_t experiment_id);
  /// Pending and interrupted runs whose parent (init.from_run) failed, diverged, stopped or
  /// is blocked become `blocked`, with the parent's fate as their error; returns how many.
  int block_children(int64_t experiment_id);
  /// Runs a worker could claim now (of the current definition, pending or interrupted, parent
  /// done or none).
  int64_t ready_count(int64_t experiment_id);

  /// Atomically claims the next pending or interrupted run of the experiment whose parent,
  /// if it has one, is done.
  std::optional<ClaimedRun> claim(int64_t experiment_id, const Provenance& p);
  /// The same for the run with config hash `hash` only (a Slurm task's worker).
  std::optional<ClaimedRun> claim(int64_t experiment_id, const Provenance& p, const std::string& hash);
  /// Marks every `running` run interrupted with `why` (a requeued Slurm task, whose earlier
  /// attempt is dead, before it resumes its runs); returns how many.
  int interrupt_running(const std::string& why);

  /// Run lifecycle writes (each one IMMEDIATE transaction).
  /// begin_run: the run starts after `start_epoch` epochs (its checkpoint's). Outside a shard, a
  /// checkpoint ahead of the epochs this database recorded belongs to another copy of it (one
  /// deleted, or older than this one): StoreError, so that the run fails with what to delete
  /// instead of ending done without the metrics of the epochs it skipped. A Slurm shard may
  /// resume a run another task's shard recorded: no check there (Open::kShard, or a worker
  /// of a shard: resume_ahead_allowed).
  void begin_run(int64_t run_id, int64_t start_epoch);
  /// For a worker whose run directories are shared by several databases (a Slurm grid's
  /// shards): a checkpoint may be ahead of this database's record of the run.
  void resume_ahead_allowed() { resume_ahead_ok_ = true; }
  void write_epoch(int64_t run_id, const EpochEvent& e);
  void finish_run(int64_t run_id, RunStatus status, const std::string& error,
                  const std::map<std::string, double>& summary);
  /// The same with the status by name (parse_run_status), for tools and tests.
  void finish_run(int64_t run_id, const std::string& status, const std::string& error,
                  const std::map<std::string, double>& summary) {
    finish_run(run_id, parse_run_status(status), error, summary);
  }
  void heartbeat(int64_t run_id);
  void add_artifact(int64_t run_id, const std::string& kind, const std::string& path,
                    const std::string& sha256);

  /// A run's status and checkpoint artifact, by config hash (a Slurm task after its worker).
  struct RunState {
    int64_t id = 0;
    RunStatus status = RunStatus::kPending;
    std::string checkpoint, sha256;
  };
  std::optional<RunState> run_state(int64_t experiment_id, const std::string& hash);

  /// Status counts of the runs of an experiment's current definition.
  std::map<RunStatus, int64_t> counts(int64_t experiment_id);
  /// The run that worker process `pid` of this host holds (status `running`), or 0.
  int64_t running_run(int64_t pid);
  /// Ends a `running` run whose worker died: `interrupted` (resumed by the next worker) or
  /// `failed`, with `why` as its error.
  void release_run(int64_t run_id, RunStatus status, const std::string& why);

  /// Adds and removes tags on runs, in one transaction; returns {tags added, tags removed}.
  std::pair<int64_t, int64_t> tag_runs(const std::vector<int64_t>& runs,
                                       const std::vector<std::string>& add,
                                       const std::vector<std::string>& remove);
  /// Appends a note to a run; returns its id.
  int64_t add_note(int64_t run_id, const std::string& text);
  /// Records a lowbit reproduce verdict, with this binary's commit and the rerun's LibTorch
  /// version (TORCH_VERSION of the caller: tracker/ is compiled without LibTorch).
  int64_t add_reproduction(int64_t run_id, const std::string& verdict, const std::string& detail,
                           int64_t threads, const std::string& torch_version = "none");

 private:
  void migrate();
  void create_views();
  DbHandle db_;
  bool resume_ahead_ok_ = false;  // a Slurm shard (Open::kShard) or one of its workers
  std::mutex mu_;  // the heartbeat thread and the trainer share the connection
};

/// The config as typed (key, value) rows: numbers as numbers so SQL compares them.
std::vector<std::pair<std::string, SqlValue>> typed_config(const RunConfig& cfg);

/// Current time as ISO-8601 UTC text and as Unix seconds.
std::string now_iso();
double now_unix();
std::string host_name();

/// An Observer that writes a claimed run's events into the store.
class TrackerObserver : public Observer {
 public:
  TrackerObserver(Store& store, int64_t run_id) : store_(store), run_id_(run_id) {}
  void on_run_start(const RunStartEvent& e) override { store_.begin_run(run_id_, e.start_epoch); }
  void on_epoch_end(const EpochEvent& e) override { store_.write_epoch(run_id_, e); }
  void on_run_end(const RunEndEvent& e) override {
    store_.finish_run(run_id_, e.status, e.error, e.summary);
  }

 private:
  Store& store_;
  int64_t run_id_;
};

}  // namespace lowbit
