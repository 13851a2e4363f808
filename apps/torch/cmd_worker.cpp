// lowbit worker (internal, started by lowbit grid and by a Slurm task): claims one pending
// run and trains it. Its command line is WorkerRequest's (experiments/worker_process.h),
// which the grid and the Slurm task write.
#include <iostream>

#include "apps/commands.h"
#include "core/error.h"
#include "experiments/run/worker.h"

namespace lowbit {

int cmd_worker(const std::vector<std::string>& args) {
  if (args.size() == 1 && (args[0] == "--help" || args[0] == "-h")) {
    std::cout << WorkerRequest::usage();
    return kExitSuccess;
  }
  WorkerOutcome w = run_worker(WorkerRequest::from_args(args));
  if (w.disk_full) return kExitDiskFull;
  if (!w.claimed || w.status == RunStatus::kDone) return kExitSuccess;
  return w.status == RunStatus::kInterrupted ? kExitInterrupted : kExitFailure;
}

}  // namespace lowbit
