// lowbit grid: runs an experiment definition (axes x variants x seeds) into a database.
#include <unistd.h>

#include <iostream>

#include "apps/commands.h"
#include "apps/grid_cli.h"
#include "core/error.h"
#include "experiments/runner.h"

namespace lowbit {

void add_grid_options(po::options_description& desc, GridOptions& o, std::string& workers) {
  desc.add_options()(
      "workers,w", po::value(&workers)->default_value("1"),
      "worker processes, or auto: one per core while there are runs for them (bench/results/"
      "grid_layout.md), the cores shared among them")(
      "threads-per-worker", po::value(&o.threads_per_worker)->default_value(0),
      "LibTorch threads per worker (0 = cores / workers)")(
      "device,d", po::value(&o.device)->default_value("cpu"), "cpu or cuda")(
      "retry-failed", "run failed, diverged and blocked runs again")(
      "no-reuse", "train every run, even one another experiment of the database already finished")(
      "max-runs", po::value(&o.max_runs)->default_value(o.max_runs),
      "refuse a definition that expands to more runs");
}

void read_grid_options(const po::variables_map& vm, const std::string& workers, GridOptions& o) {
  o.workers = parse_workers(workers);
  o.retry_failed = vm.count("retry-failed") > 0;
  o.reuse = vm.count("no-reuse") == 0;
}

int cmd_grid(const std::vector<std::string>& args) {
  po::options_description desc("options");
  std::string file, workers;
  GridOptions o;
  desc.add_options()("file", po::value(&file)->required(), "experiment definition (JSON)")(
      "db", po::value(&o.db)->default_value(o.db), "results database (SQLite)");
  add_grid_options(desc, o, workers);
  desc.add_options()("dry-run", "validate and list the runs; train nothing");
  po::positional_options_description pos;
  pos.add("file", 1);
  po::variables_map vm;
  if (!parse_args("grid", args, desc, vm, &pos,
                  "FILE.json [--db results.db] [--workers N] [--dry-run]"))
    return kExitSuccess;
  read_grid_options(vm, workers, o);
  o.dry_run = vm.count("dry-run") > 0;
  o.exe = self_exe();
  GridSummary s = run_grid(file, o);
  if (!s.disk_full.empty()) throw DiskFullError(s.disk_full);
  if (s.interrupted) return kExitInterrupted;
  return s.failed + s.diverged + s.stopped + s.blocked > 0 ? kExitFailure : kExitSuccess;
}

}  // namespace lowbit
