// lowbit worker (internal, started by lowbit grid): claims one pending run and trains it.
#include "apps/cli.h"
#include "apps/commands.h"
#include "core/error.h"
#include "experiments/runner.h"

namespace lowbit {

int cmd_worker(const std::vector<std::string>& args) {
  po::options_description desc("options (internal: started by lowbit grid)");
  std::string db, experiment, device;
  int threads = 1;
  desc.add_options()("db", po::value(&db)->required(), "results database")(
      "experiment", po::value(&experiment)->required(), "experiment name")(
      "threads", po::value(&threads)->default_value(1), "LibTorch threads")(
      "device", po::value(&device)->default_value("cpu"), "cpu or cuda");
  po::variables_map vm;
  if (!parse_args("worker", args, desc, vm)) return kExitSuccess;
  std::string cmd = "lowbit worker";
  for (auto& a : args) cmd += " " + a;
  WorkerOutcome w = run_worker(db, experiment, threads, device, cmd);
  if (w.disk_full) return kExitDiskFull;
  if (!w.claimed || w.status == RunStatus::kDone) return kExitSuccess;
  return w.status == RunStatus::kInterrupted ? kExitInterrupted : kExitFailure;
}

}  // namespace lowbit
