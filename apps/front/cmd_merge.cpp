// lowbit merge: folds the shard databases of a Slurm grid into a results database.
#include <iostream>

#include <fmt/format.h>

#include "apps/cli.h"
#include "apps/commands.h"
#include "core/error.h"
#include "experiments/shard_dir.h"
#include "tracker/shards.h"

namespace lowbit {

int cmd_merge(const std::vector<std::string>& args) {
  po::options_description desc("options");
  std::string into, dir;
  desc.add_options()("into", po::value(&into)->required(), "the results database to merge into (created if missing)")(
      "shard-dir", po::value(&dir)->required(), "the shard directory of lowbit grid --backend slurm");
  po::positional_options_description pos;
  pos.add("shard-dir", 1);
  po::variables_map vm;
  if (!parse_args("merge", args, desc, vm, &pos, "--into results.db SHARD_DIR")) return kExitSuccess;
  const ShardPlan plan = read_plan(dir);
  MergeInput in{plan.experiment, plan.description, plan.spec.dump(), plan.runs, list_shards(dir)};
  MergeSummary s = merge_shards(into, in);
  std::string counts;
  for (const auto& [status, n] : s.status)
    if (n > 0) counts += fmt::format(" {} {}", status, n);
  fmt::print("merged {} shard(s) of '{}' into {}: {} run(s) updated, {} unchanged{}{}\n{}:{}\n", s.shards,
             plan.experiment, into, s.updated, s.unchanged,
             s.kept ? fmt::format(", {} kept (newer in {})", s.kept, into) : "",
             s.untrained ? fmt::format(", {} not in any shard yet", s.untrained) : "", plan.experiment, counts);
  return kExitSuccess;
}

}  // namespace lowbit
