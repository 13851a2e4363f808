// lowbit status: counts per status, running runs and the completeness matrix of a database.
#include <iostream>

#include "apps/cli.h"
#include "apps/commands.h"
#include "core/error.h"
#include "experiments/slurm_grid.h"
#include "tracker/queries.h"

namespace lowbit {

int cmd_status(const std::vector<std::string>& args) {
  po::options_description desc("options");
  std::string db, experiment, shard_dir;
  desc.add_options()("db", po::value(&db)->default_value("results/results.db"), "results database")(
      "experiment,e", po::value(&experiment), "only this experiment")(
      "shard-dir", po::value(&shard_dir),
      "a Slurm grid's shard directory: runs by status across its shards, and squeue's view");
  po::variables_map vm;
  if (!parse_args("status", args, desc, vm)) return kExitSuccess;
  if (!shard_dir.empty()) {
    std::cout << shard_status_report(shard_dir);
    return kExitSuccess;
  }
  auto conn = open_readonly(db);
  std::cout << status_report(*conn, experiment);
  return kExitSuccess;
}

}  // namespace lowbit
