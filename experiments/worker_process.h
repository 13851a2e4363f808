// Worker processes, as lowbit grid and a Slurm task (lowbit slurm-task) start them: one
// exec'd `lowbit worker` per run that dies with its parent, and what becomes of the run of a
// worker that died holding it. Torch-free (the front compiles experiments/slurm_grid.cpp).
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

/// A run whose worker dies this often is failed, not resumed again.
constexpr int kMaxWorkerDeaths = 3;

/// Starts `argv` (argv[0]: an absolute path) as a child that dies with this process
/// (PR_SET_PDEATHSIG). `own_group`: in a process group of its own, so that a Ctrl-C reaches
/// only the parent, which forwards it once. An exec that fails exits 127.
pid_t spawn_worker_process(const std::vector<std::string>& argv, bool own_group);

/// "worker killed by signal N" or "worker exited with status N", for a waitpid status.
std::string worker_death(int wait_status);

/// Hands back the `running` run of a worker that died (`why`: worker_death): interrupted, to
/// be resumed from its checkpoint, or failed at its kMaxWorkerDeaths-th death, which
/// `deaths` (the run's count so far) reaches. Returns true when it gave up on the run.
bool release_after_death(Store& store, int64_t run_id, const std::string& why, int& deaths);

}  // namespace lowbit
