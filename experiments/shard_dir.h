// The shard directory of a grid run as a Slurm job array (docs/CLUSTER.md). It lives on the
// shared file system and is the only thing the tasks share; no SQLite file in it has two
// writers:
//
//   DIR/plan.json          the runs (config, hash, variant, parent), written once per
//                          submission by lowbit grid --backend slurm (tmp + rename)
//   DIR/claims/<hash>      a run being trained: created with O_CREAT|O_EXCL by the task that
//                          trains it (one winner, also on NFS v3+), holding that task's name
//   DIR/ended/<hash>       a run that ended (done, failed, diverged, stopped, blocked): its
//                          status, the task, its checkpoint and sha256 (tmp + rename)
//   DIR/shards/<task>.db   each task's own results database (rollback journal, not WAL)
//   DIR/runs/<hash>/       each run's checkpoint, where any later task resumes it
//   DIR/logs/              the tasks' output;  DIR/jobs: the submitted job ids
//   DIR/<experiment>.sbatch  the array script, readable, submittable by hand
//
// A task's name is "<array job id>_<task id>", which a requeued task keeps: it resumes the
// runs it holds before claiming new ones. The claim of a task that is gone (not in squeue)
// is released by the next lowbit grid --backend slurm, which reads that task's shard first.
#pragma once
#include "lowbit_room.h"  // the build refuses this header in rooms below experiments/
#ifndef LOWBIT_MAY_INCLUDE_EXPERIMENTS
#error "this room may not include experiments/ (docs/ARCHITECTURE.md: rooms)"
#endif
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tracker/store.h"

namespace lowbit {

/// What plan.json holds: the experiment and every run it expands to, in order (a run's
/// parent, init.from_run, comes before it).
struct ShardPlan {
  std::string experiment, description;
  nlohmann::json spec;  ///< the definition as written
  std::vector<PlannedRun> runs;
};

/// DIR/<what>: the paths of the shard directory.
std::string shard_path(const std::string& dir, const std::string& what);

/// Creates DIR and its subdirectories; throws ConfigError naming DIR when it cannot.
void make_shard_dir(const std::string& dir);
/// True when DIR has a plan.json.
bool is_shard_dir(const std::string& dir);

void write_plan(const std::string& dir, const ShardPlan& plan);
/// Throws ConfigError naming the file when plan.json is missing or not lowbit's.
ShardPlan read_plan(const std::string& dir);

/// Tries to create DIR/claims/<hash> for `task`; false when another task holds it.
bool try_claim(const std::string& dir, const std::string& hash, const std::string& task);
/// The task that holds <hash>, if any.
std::optional<std::string> claim_holder(const std::string& dir, const std::string& hash);
void release_claim(const std::string& dir, const std::string& hash);
/// Every claim: {hash, task}.
std::vector<std::pair<std::string, std::string>> list_claims(const std::string& dir);

/// DIR/ended/<hash>: how a run ended, written after its shard recorded it.
struct Ended {
  std::string status, task, checkpoint, sha256;
};
void write_ended(const std::string& dir, const std::string& hash, const Ended& e);
std::optional<Ended> read_ended(const std::string& dir, const std::string& hash);
/// Removes the ended marker of every run that did not end `done` (--retry-failed); returns
/// how many.
int forget_unfinished(const std::string& dir);

/// The shard databases in DIR/shards, sorted.
std::vector<std::string> list_shards(const std::string& dir);
/// The job ids lowbit submitted for DIR, oldest first; append_job adds one.
std::vector<std::string> list_jobs(const std::string& dir);
void append_job(const std::string& dir, const std::string& job_id);

/// This process's task name: "<SLURM_ARRAY_JOB_ID>_<SLURM_ARRAY_TASK_ID>", else
/// "<SLURM_JOB_ID>", else "local-<host>-<pid>" (a task started by hand).
std::string task_name();

}  // namespace lowbit
