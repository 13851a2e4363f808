// Worker processes, as lowbit grid and a Slurm task (lowbit slurm-task) start them: what a
// worker is asked to do (WorkerRequest, which writes and reads its own command line), one
// exec'd `lowbit worker` per run that dies with its parent, how its exit is read
// (classify_exit), and what becomes of the run of a worker that died holding it. Torch-free;
// the worker itself is experiments/run/worker.h.
#pragma once
#include "lowbit_room.h"  // the build refuses this header in rooms below experiments/
#ifndef LOWBIT_MAY_INCLUDE_EXPERIMENTS
#error "this room may not include experiments/ (docs/ARCHITECTURE.md: rooms)"
#endif
#include <sys/types.h>

#include <string>
#include <vector>

#include "tracker/store.h"

namespace lowbit {

/// What one worker process is asked to do.
struct WorkerRequest {
  std::string db, experiment, device = "cpu";
  std::string determinism = "strict";  ///< --determinism: strict or fast (set_determinism)
  int threads = 1;
  std::string run_hash;   ///< only this run (a Slurm task's worker); "" = the next ready one
  std::string runs_dir;   ///< where run checkpoints live; "" = <db>.runs
  /// init.from_run when the parent is in another database (a Slurm task's shard): the
  /// parent's checkpoint and the sha256 it had when the parent finished.
  std::string init_checkpoint, init_sha256;
  std::string command_line;  ///< recorded as the run's provenance; set by from_args

  /// The worker's command line: {exe, "worker", --db ..., ...}; empty members are left out.
  std::vector<std::string> argv(const std::string& exe) const;
  /// Reads what argv wrote (the arguments after "worker"); an unknown option, a missing value
  /// or a missing --db or --experiment is a ConfigError naming it.
  static WorkerRequest from_args(const std::vector<std::string>& args);
  /// The options, one line each, for lowbit worker --help.
  static std::string usage();
};

/// How a worker process ended, from its wait status: kEnded, it recorded its run's end
/// itself (exit 0, 1 or 130); kDiskFull (exit 3): a write found the disk full, so every later
/// run would too; kExecFailed (exit 127): the binary could not be run; kDied: killed or
/// crashed, leaving its run `running`.
enum class WorkerExit { kEnded, kDiskFull, kExecFailed, kDied };
WorkerExit classify_exit(int wait_status);

/// Directory for a run's checkpoint: next to the database, <db>.runs/<hash>.
std::string run_dir(const std::string& db, const std::string& hash);

/// The run's log in its directory: what a terminal would have shown of it (lowbit serve's tail).
inline constexpr const char kRunLogFile[] = "log.txt";

/// A run whose worker dies this often is failed, not resumed again.
constexpr int kMaxWorkerDeaths = 3;

/// Starts `argv` (argv[0]: an absolute path) as a child that dies with this process
/// (PR_SET_PDEATHSIG). `own_group`: in a process group of its own, so that a Ctrl-C reaches
/// only the parent, which forwards it once. An exec that fails exits 127.
pid_t spawn_worker_process(const std::vector<std::string>& argv, bool own_group);

/// {exit status, stdout} of a program run to completion.
struct Captured {
  int status = 0;
  std::string out;
};
/// Runs argv[0] (searched on PATH, no shell) and waits for it; its stderr goes to ours when
/// `show_stderr`, else nowhere. A program that cannot be run exits 127.
Captured run_captured(const std::vector<std::string>& argv, bool show_stderr = false);

/// True when `program` is on PATH.
bool on_path(const std::string& program);

/// "worker killed by signal N" or "worker exited with status N", for a waitpid status.
std::string worker_death(int wait_status);

/// Hands back the `running` run of a worker that died (`why`: worker_death): interrupted, to
/// be resumed from its checkpoint, or failed at its kMaxWorkerDeaths-th death, which
/// `deaths` (the run's count so far) reaches. Returns true when it gave up on the run.
bool release_after_death(Store& store, int64_t run_id, const std::string& why, int& deaths);

}  // namespace lowbit
