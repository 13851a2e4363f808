// Running a grid on one machine. `lowbit grid` (run_grid) registers the experiment and its
// runs, reclaims runs left `running` by dead processes, then keeps up to N worker processes
// alive; each worker (`lowbit worker`, experiments/run/worker.h) claims one pending run
// atomically from the database, trains it with a TrackerObserver, and exits. One process per run keeps
// each run's peak memory its own and isolates crashes.
//
// Signals: the first SIGINT/SIGTERM to the grid is forwarded once to every worker, which
// stops after its batch, marks its run interrupted and exits; a second one kills them and
// exits at once (SQLite's journal keeps the database intact). Workers die with the grid
// process (PR_SET_PDEATHSIG), so kill -9 of the grid leaves no orphan; the next `lowbit
// grid` reclaims their runs and resumes them from their checkpoints.
#pragma once
#include "lowbit_room.h"  // the build refuses this header in rooms below experiments/
#ifndef LOWBIT_MAY_INCLUDE_EXPERIMENTS
#error "this room may not include experiments/ (docs/ARCHITECTURE.md: rooms)"
#endif
#include <string>
#include <vector>

#include "core/run_status.h"
#include "experiments/spec.h"

namespace lowbit {

struct ExperimentSpec;

/// The progress of a whole suite (lowbit suite) that a grid adds to its status line.
struct SuiteProgress {
  int64_t total = 0;            ///< runs of every experiment of the suite
  int64_t finished_before = 0;  ///< runs of the earlier experiments that have ended
  int64_t trained_before = 0;   ///< of those, the ones this invocation trained (the ETA's basis)
  double seconds_before = 0;    ///< wall time of the earlier experiments in this invocation
};

struct GridOptions {
  std::string db = "results/results.db";
  int workers = 1;             ///< 0: auto (auto_layout)
  int threads_per_worker = 0;  ///< 0: cores / workers
  bool retry_failed = false;
  bool dry_run = false;
  bool reuse = true;  ///< copy runs another experiment of the database already finished (--no-reuse)
  int64_t max_runs = 100000;  ///< refuse a definition that expands to more runs (kDefaultMaxRuns)
  std::string device = "cpu";
  /// --workers-per-device K: K workers on each GPU of --device cuda (cuda:N: that GPU only);
  /// 0: --workers decides (auto: K from the GPUs' free memory, device_layout).
  int workers_per_device = 0;
  int gpus = 0;  ///< GPUs LibTorch sees (set by the command, which links LibTorch)
  double gib_per_worker = 2.0;  ///< --device-memory-per-worker: what --workers auto reserves per worker
  std::string determinism = "strict";  ///< --determinism (core/nn/torch_compat.h, set_determinism)
  std::string exe;  ///< the lowbit binary the workers run (/proc/self/exe)
  const SuiteProgress* suite = nullptr;  ///< set by lowbit suite: a suite-wide progress and ETA
  DefinitionOverrides overrides;         ///< --set, --seeds, --epochs, written into each definition
};

/// How a grid ended; `lowbit grid` maps it to an exit code.
struct GridSummary {
  int64_t done = 0, failed = 0, diverged = 0, stopped = 0, interrupted_runs = 0;
  bool interrupted = false;  ///< stopped by SIGINT/SIGTERM
  int64_t worker_deaths = 0; ///< workers that died holding a run (killed, crashed)
  std::string disk_full;     ///< non-empty: a worker found the disk full; what to free
  int64_t blocked = 0;       ///< never started: their parent run (init.from_run) has no result
  int64_t total = 0;         ///< runs of the experiment
  int64_t trained = 0;       ///< runs this call's workers finished
  double seconds = 0;        ///< wall time of this call
};

/// --workers: a number in 1..kMaxWorkers, or "auto" (0). Throws ConfigError naming the value.
int parse_workers(const std::string& text);

/// Workers and LibTorch threads per worker; `why` says how --workers auto chose them.
struct Layout {
  int workers = 1, threads = 1;
  std::string why;
  /// The device of each worker slot (size workers) on a GPU; empty: every worker on --device.
  std::vector<std::string> devices;
};

/// Several workers per GPU (--workers-per-device K, or --workers auto with --device cuda):
/// K on each of `gpus` (CUDA indices), slot i on gpus[i % G], at most one per core and one per
/// run to train. per_device = 0 picks K from the least free memory among them (`free_bytes`,
/// one per GPU): 90% of it over `bytes_per_worker`, capped at kMaxWorkersPerDevice.
Layout device_layout(const std::vector<int>& gpus, const std::vector<int64_t>& free_bytes, int cores,
                     int64_t runs_to_train, int per_device, int64_t bytes_per_worker,
                     int threads_per_worker = 0);
inline constexpr int kMaxWorkersPerDevice = 8;

/// The free memory of each GPU, in bytes, as `nvidia-smi` reports it (the GPUs of
/// CUDA_VISIBLE_DEVICES when set). Throws ConfigError naming the fix when it cannot be read.
std::vector<int64_t> gpu_free_bytes();
/// The free-memory column of `nvidia-smi --query-gpu=memory.free --format=csv,noheader,nounits`
/// (MiB per line) in bytes; throws ConfigError on anything else.
std::vector<int64_t> parse_gpu_free(const std::string& text);
/// The layout --workers auto picks: one worker per core while there are runs to train for
/// them (small models use a second core better as a second run than as a second thread:
/// bench/results/grid_layout.md), the cores shared among the workers unless
/// `threads_per_worker` (--threads-per-worker) is given.
Layout auto_layout(int cores, int64_t runs_to_train, int threads_per_worker = 0);

/// Registers the experiment and its runs, then runs the pending ones with opt.workers
/// worker processes (or, with opt.dry_run, lists them and trains nothing). `spec` is a
/// definition loaded and validated by load_experiment (experiments/spec.h).
GridSummary run_grid(const ExperimentSpec& spec, const GridOptions& opt);

}  // namespace lowbit
