// A grid as a Slurm job array (docs/CLUSTER.md): the submitter (lowbit grid --backend
// slurm), the tasks it starts (lowbit slurm-task), and what lowbit status --shard-dir shows.
// The files they share are described in experiments/shard_dir.h.
//
// Exactly once: a run is trained only by the task that created its claim file. A task that
// is requeued keeps its name and resumes the runs it holds first, from their checkpoints; a
// task that is gone (scancel, time limit, node failure) keeps its claims until the next
// lowbit grid --backend slurm, which asks squeue, reads the dead task's shard (a run it
// recorded as ended gets its ended marker; one it left running is marked interrupted there)
// and releases the claim, so the new array resumes that run from its checkpoint.
#pragma once
#include "lowbit_room.h"  // the build refuses this header in rooms below experiments/
#ifndef LOWBIT_MAY_INCLUDE_EXPERIMENTS
#error "this room may not include experiments/ (docs/ARCHITECTURE.md: rooms)"
#endif
#include <map>
#include <optional>
#include <string>

#include "experiments/shard_dir.h"
#include "experiments/slurm.h"

namespace lowbit {

struct ExperimentSpec;

/// What lowbit grid --backend slurm found and did.
struct SlurmSubmission {
  int64_t runs = 0, done = 0, ended_other = 0, held = 0, to_train = 0, released = 0;
  int tasks = 0;
  std::string job_id, script;  ///< empty when nothing was submitted
};

/// Writes the plan into o.shard_dir, releases the claims of tasks Slurm no longer holds,
/// and submits one array for the runs not done and not held by a live task (none when
/// there are none). `lowbit` is the absolute path of the lowbit binary the tasks run.
SlurmSubmission submit_slurm_grid(const ExperimentSpec& spec, SlurmOptions o, const std::string& lowbit);

/// Releases the claims of tasks that are gone (`live`: squeue's view; nullopt: unknown, and
/// then only the claims of local tasks whose process is gone); returns how many.
int reconcile_claims(const std::string& dir, const std::string& experiment,
                     const std::optional<std::map<std::string, std::string>>& live);

/// One array task (lowbit slurm-task): claims and trains runs of the shard directory one
/// after another, each in a worker process (`exe` worker), into DIR/shards/<task>.db, until
/// no run is left to claim or a signal stops it. Returns the exit code.
int run_slurm_task(const std::string& dir, int threads, const std::string& device, const std::string& exe);

/// lowbit status --shard-dir: the runs by status across shards and markers, the running
/// ones with their epoch and task, and Slurm's view of the submitted jobs.
std::string shard_status_report(const std::string& dir);

}  // namespace lowbit
