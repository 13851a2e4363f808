// The shard databases of a Slurm grid (experiments/shard_dir.h): reading what a shard holds,
// and folding shards into a main results database (lowbit merge).
#pragma once
#include "lowbit_room.h"  // the build refuses this header in rooms below tracker/
#ifndef LOWBIT_MAY_INCLUDE_TRACKER
#error "this room may not include tracker/ (docs/ARCHITECTURE.md: rooms)"
#endif
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "tracker/store.h"

namespace lowbit {

/// One copy of a run in one shard.
struct ShardRun {
  std::string shard, hash, status, error, host;
  int64_t id = 0, epoch = 0, attempts = 0;
  double heartbeat = 0;  ///< Unix seconds of its last write; 0: never started
  std::string checkpoint, sha256;  ///< its checkpoint artifact, if recorded
};

/// Every run of `experiment` that shard `path` holds. Throws StoreError naming the file when
/// it is not a lowbit database of this schema version, is damaged (PRAGMA quick_check), or
/// holds another experiment. `readonly`: open without write access (lowbit status), which
/// cannot roll back the journal a killed task left; merge opens read-write to do so.
std::vector<ShardRun> read_shard(const std::string& path, const std::string& experiment, bool readonly);

/// Which of several copies of one run stands for it: a done copy always wins (the latest
/// done one if several); otherwise the copy written last (heartbeat), whose status is then
/// the run's true status (running, interrupted, failed ...).
bool copy_wins(const ShardRun& a, const ShardRun& b);

struct MergeInput {
  std::string experiment, description, spec_json;
  std::vector<PlannedRun> runs;
  std::vector<std::string> shards;
};

struct MergeSummary {
  int64_t shards = 0, updated = 0, unchanged = 0, kept = 0, untrained = 0;
  std::map<std::string, int64_t> status;  ///< the main database's runs of the experiment, by status
};

/// Folds the shards into `main` (created or migrated as lowbit grid does): the experiment
/// and all its runs (pending until some shard holds them); for each run, the winning copy's
/// status, provenance, summaries and artifacts, and its per-epoch rows, where an epoch the
/// winner did not train itself (it resumed from a checkpoint another task wrote) comes from
/// the latest copy that did, up to the winner's last epoch, so no epoch appears twice.
/// Idempotent: a run whose main row already matches its winner is not written. A main row
/// newer than every shard copy (a done run merged from shards since removed) is kept.
/// Every shard is read and checked before the main database is opened: a bad shard throws
/// and leaves it untouched.
MergeSummary merge_shards(const std::string& main, const MergeInput& in);

}  // namespace lowbit
