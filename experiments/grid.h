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
};
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
