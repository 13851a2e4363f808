// The worker: `lowbit worker` claims one run of an experiment from the database, trains it
// with a TrackerObserver (heartbeats while it lives), records its checkpoint, and exits; the
// grid (experiments/grid.h) and a Slurm task (experiments/slurm_grid.h) start one per run.
#pragma once
#include "lowbit_room.h"  // the build refuses this header in rooms below experiments/
#ifndef LOWBIT_MAY_INCLUDE_EXPERIMENTS
#error "this room may not include experiments/ (docs/ARCHITECTURE.md: rooms)"
#endif
#include "core/run_status.h"
#include "experiments/worker_process.h"

namespace lowbit {

/// What one worker did: whether it claimed a run, and how that run ended.
struct WorkerOutcome {
  bool claimed = false;
  RunStatus status = RunStatus::kDone;
  bool disk_full = false;  ///< the run failed because a write found the disk full
};

/// One worker: claims one run of `request.experiment` and trains it.
WorkerOutcome run_worker(const WorkerRequest& request);

}  // namespace lowbit
