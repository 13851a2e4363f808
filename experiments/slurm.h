// Slurm, as lowbit uses it: the array script, the number of tasks, and the three client
// commands (scontrol show config, sbatch, squeue). Torch-free: lowbit status --shard-dir
// (the front) reads squeue through it too. The grid logic is in slurm_grid.h.
#pragma once
#include "lowbit_room.h"  // the build refuses this header in rooms below experiments/
#ifndef LOWBIT_MAY_INCLUDE_EXPERIMENTS
#error "this room may not include experiments/ (docs/ARCHITECTURE.md: rooms)"
#endif
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "experiments/worker_process.h"

#include "experiments/worker_process.h"

namespace lowbit {

/// The options of lowbit grid --backend slurm.
struct SlurmOptions {
  std::string shard_dir;                ///< absolute once the grid resolved it
  int tasks = 0;                        ///< --tasks K; 0: default_tasks
  int max_concurrent = 0;               ///< --max-concurrent M (the array's %M); 0: no limit
  std::string partition, time, gres;    ///< --partition, --time, --gres ("" = the cluster's default)
  int cpus_per_task = 1;                ///< --cpus-per-task, also each task's LibTorch threads
  bool requeue = false;                 ///< --requeue
  std::vector<std::string> sbatch_args; ///< --sbatch-arg, each one more #SBATCH line
  std::string device = "cpu";
  bool retry_failed = false;
};

/// The tasks an array gets unless --tasks says: min(runs to train, MaxArraySize - 1, 64),
/// at least 1. `max_array_size` <= 0: unknown (no cap but 64).
int default_tasks(int64_t runs_to_train, int64_t max_array_size);

/// MaxArraySize from the text of `scontrol show config` ("MaxArraySize = 1001"); -1 if absent.
int64_t parse_max_array_size(const std::string& scontrol_config);

/// Checks --time (minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS), --tasks,
/// --max-concurrent, --cpus-per-task and --gres; throws ConfigError naming the option.
void check_slurm_options(const SlurmOptions& o);

/// The sbatch script of an array of `tasks` worker tasks for `experiment`, run by `lowbit`
/// (an absolute path). Plain #SBATCH lines a person can read, edit and submit by hand.
std::string sbatch_script(const SlurmOptions& o, const std::string& experiment, int tasks,
                          int64_t runs, const std::string& lowbit);

/// run_captured (experiments/worker_process.h) for a Slurm client program: throws Error naming
/// the program and the Debian package (slurm-client) when it is not on PATH.
Captured run_slurm_command(const std::vector<std::string>& argv, bool show_stderr = false);

/// The cluster's MaxArraySize (scontrol show config), or -1 when it cannot be read.
int64_t cluster_max_array_size();

/// Submits `script` (sbatch --parsable); returns the job id.
std::string submit_array(const std::string& script);

/// The array tasks of this user that Slurm still holds (pending, running, requeued,
/// completing), by task name "<array job id>_<task id>" -> state; nullopt when squeue cannot
/// be asked (not on PATH, or it failed). Every job counts, not only those lowbit submitted
/// from a shard directory: an array submitted by hand from its script holds claims too.
std::optional<std::map<std::string, std::string>> slurm_live_tasks();

/// The same from squeue's output of `-h -r -o "%F %K %T"`.
std::map<std::string, std::string> parse_squeue(const std::string& text);

}  // namespace lowbit
