// lowbit grid / worker / status / query: the experiment harness on the command line.
#include <unistd.h>

#include <iostream>

#include "apps/cli.h"
#include "apps/commands.h"
#include "core/error.h"
#include "experiments/runner.h"
#include "tracker/queries.h"

namespace lowbit {

namespace {
std::string self_exe() {
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) throw Error("cannot find the lowbit binary (/proc/self/exe)");
  return std::string(buf, size_t(n));
}
}  // namespace

int cmd_grid(const std::vector<std::string>& args) {
  po::options_description desc("options");
  std::string file;
  GridOptions o;
  desc.add_options()("file", po::value(&file)->required(), "experiment definition (JSON)")
      ("db", po::value(&o.db)->default_value(o.db), "results database (SQLite)")
      ("workers,w", po::value(&o.workers)->default_value(1), "worker processes")
      ("threads-per-worker", po::value(&o.threads_per_worker)->default_value(0), "LibTorch threads per worker (0 = cores / workers)")
      ("device,d", po::value(&o.device)->default_value("cpu"), "cpu or cuda")
      ("retry-failed", "run failed and diverged runs again")
      ("dry-run", "validate and list the runs; train nothing");
  po::positional_options_description pos;
  pos.add("file", 1);
  po::variables_map vm;
  if (!parse_args("grid", args, desc, vm, &pos, "FILE.json [--db results.db] [--workers N] [--dry-run]")) return kExitSuccess;
  o.retry_failed = vm.count("retry-failed") > 0;
  o.dry_run = vm.count("dry-run") > 0;
  o.exe = self_exe();
  return run_grid(file, o);
}

int cmd_worker(const std::vector<std::string>& args) {
  po::options_description desc("options (internal: started by lowbit grid)");
  std::string db, experiment, device;
  int threads = 1;
  desc.add_options()("db", po::value(&db)->required(), "results database")
      ("experiment", po::value(&experiment)->required(), "experiment name")
      ("threads", po::value(&threads)->default_value(1), "LibTorch threads")
      ("device", po::value(&device)->default_value("cpu"), "cpu or cuda");
  po::variables_map vm;
  if (!parse_args("worker", args, desc, vm)) return kExitSuccess;
  std::string cmd = "lowbit worker";
  for (auto& a : args) cmd += " " + a;
  return run_worker(db, experiment, threads, device, cmd);
}

int cmd_status(const std::vector<std::string>& args) {
  po::options_description desc("options");
  std::string db, experiment;
  desc.add_options()("db", po::value(&db)->default_value("results/results.db"), "results database")
      ("experiment,e", po::value(&experiment), "only this experiment");
  po::variables_map vm;
  if (!parse_args("status", args, desc, vm)) return kExitSuccess;
  auto conn = open_readonly(db);
  std::cout << status_report(*conn, experiment);
  return kExitSuccess;
}

int cmd_query(const std::vector<std::string>& args) {
  po::options_description desc("options");
  std::string db, experiment, format, sql, what;
  std::vector<std::string> where;
  desc.add_options()("what", po::value(&what), "runs")
      ("db", po::value(&db)->default_value("results/results.db"), "results database (opened read-only)")
      ("experiment,e", po::value(&experiment), "only this experiment")
      ("where", po::value(&where)->composing(), "filter key=value on config keys, variant, status, seed (repeatable)")
      ("format,f", po::value(&format)->default_value("table"), "table, csv or json")
      ("sql", po::value(&sql), "run one read-only SQL statement");
  po::positional_options_description pos;
  pos.add("what", 1);
  po::variables_map vm;
  if (!parse_args("query", args, desc, vm, &pos, "runs [--experiment X] [--where k=v ...] | --sql \"SELECT ...\"")) return kExitSuccess;
  if (sql.empty() && what != "runs") throw ConfigError("lowbit query: expected `runs` or --sql \"SELECT ...\"");
  auto conn = open_readonly(db);
  Table t = sql.empty() ? query_runs(*conn, experiment, where) : run_sql(*conn, sql);
  std::cout << format_table(t, format);
  return kExitSuccess;
}

}  // namespace lowbit
