// lowbit slurm-task (internal, the command of each task of a Slurm grid's array script).
#include "apps/cli.h"
#include "apps/commands.h"
#include "core/error.h"
#include "experiments/slurm_grid.h"

namespace lowbit {

int cmd_slurm_task(const std::vector<std::string>& args) {
  po::options_description desc("options (internal: the command of lowbit grid --backend slurm's array script)");
  std::string dir, device;
  int threads = 1;
  desc.add_options()("shard-dir", po::value(&dir)->required(), "the shard directory")(
      "threads", po::value(&threads)->default_value(1), "LibTorch threads of each run")(
      "device", po::value(&device)->default_value("cpu"), "cpu or cuda");
  po::variables_map vm;
  if (!parse_args("slurm-task", args, desc, vm)) return kExitSuccess;
  return run_slurm_task(dir, threads, device, self_exe());
}

}  // namespace lowbit
