// lowbit grid: runs an experiment definition (axes x variants x seeds) into a database.
#include <unistd.h>

#include <iostream>

#include "apps/cli.h"
#include "apps/commands.h"
#include "core/error.h"
#include "experiments/runner.h"

namespace lowbit {

int cmd_grid(const std::vector<std::string>& args) {
  po::options_description desc("options");
  std::string file, workers;
  GridOptions o;
  desc.add_options()("file", po::value(&file)->required(), "experiment definition (JSON)")(
      "db", po::value(&o.db)->default_value(o.db), "results database (SQLite)")(
      "workers,w", po::value(&workers)->default_value("1"),
      "worker processes, or auto: one per core while there are runs for them (bench/results/"
      "grid_layout.md), the cores shared among them")(
      "threads-per-worker", po::value(&o.threads_per_worker)->default_value(0),
      "LibTorch threads per worker (0 = cores / workers)")(
      "device,d", po::value(&o.device)->default_value("cpu"), "cpu or cuda")(
      "retry-failed", "run failed, diverged and blocked runs again")(
      "no-reuse", "train every run, even one another experiment of the database already finished")(
      "max-runs", po::value(&o.max_runs)->default_value(o.max_runs),
      "refuse a definition that expands to more runs")(
      "dry-run", "validate and list the runs; train nothing");
  po::positional_options_description pos;
  pos.add("file", 1);
  po::variables_map vm;
  if (!parse_args("grid", args, desc, vm, &pos,
                  "FILE.json [--db results.db] [--workers N] [--dry-run]"))
    return kExitSuccess;
  o.workers = parse_workers(workers);
  o.retry_failed = vm.count("retry-failed") > 0;
  o.dry_run = vm.count("dry-run") > 0;
  o.reuse = vm.count("no-reuse") == 0;
  o.exe = self_exe();
  GridSummary s = run_grid(file, o);
  if (!s.disk_full.empty()) throw DiskFullError(s.disk_full);
  if (s.interrupted) return kExitInterrupted;
  return s.failed + s.diverged + s.stopped + s.blocked > 0 ? kExitFailure : kExitSuccess;
}

}  // namespace lowbit
