// lowbit worker (internal, started by lowbit grid and by a Slurm task): claims one pending
// run and trains it.
#include "apps/cli.h"
#include "apps/commands.h"
#include "core/error.h"
#include "experiments/runner.h"

namespace lowbit {

int cmd_worker(const std::vector<std::string>& args) {
  po::options_description desc("options (internal: started by lowbit grid and lowbit slurm-task)");
  WorkerRequest r;
  desc.add_options()("db", po::value(&r.db)->required(), "results database")(
      "experiment", po::value(&r.experiment)->required(), "experiment name")(
      "threads", po::value(&r.threads)->default_value(1), "LibTorch threads")(
      "device", po::value(&r.device)->default_value("cpu"), "cpu or cuda")(
      "run", po::value(&r.run_hash), "only the run with this config hash")(
      "runs-dir", po::value(&r.runs_dir), "checkpoint directories (default: <db>.runs)")(
      "init-checkpoint", po::value(&r.init_checkpoint), "the parent run's checkpoint (init.from_run)")(
      "init-sha256", po::value(&r.init_sha256), "its sha256 when the parent finished");
  po::variables_map vm;
  if (!parse_args("worker", args, desc, vm)) return kExitSuccess;
  r.command_line = "lowbit worker";
  for (auto& a : args) r.command_line += " " + a;
  WorkerOutcome w = run_worker(r);
  if (w.disk_full) return kExitDiskFull;
  if (!w.claimed || w.status == RunStatus::kDone) return kExitSuccess;
  return w.status == RunStatus::kInterrupted ? kExitInterrupted : kExitFailure;
}

}  // namespace lowbit
