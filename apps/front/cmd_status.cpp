// lowbit status: counts per status, running runs and the completeness matrix of a database;
// with --watch, the same refreshed in place until Ctrl-C.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <iostream>
#include <thread>

#include <fmt/format.h>

#include "apps/cli.h"
#include "apps/commands.h"
#include "core/error.h"
#include "experiments/slurm_grid.h"
#include "tracker/queries.h"

namespace lowbit {

namespace {

volatile sig_atomic_t g_stop_watching = 0;
void stop_watching(int) { g_stop_watching = 1; }

// Sleeps `seconds`, waking early when Ctrl-C asks to stop.
void wait_or_stop(double seconds) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (!g_stop_watching && std::chrono::steady_clock::now() < end)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
}

// The report every `every` seconds, `count` times (0: until Ctrl-C). On a terminal each
// report replaces the last; piped, they follow one another under a time stamp.
int watch(Db& db, const std::string& experiment, double every, int64_t count) {
  struct sigaction sa {};
  sa.sa_handler = stop_watching;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  const bool tty = ::isatty(STDOUT_FILENO);
  for (int64_t i = 0; !g_stop_watching && (count == 0 || i < count); ++i) {
    if (i > 0) wait_or_stop(every);
    if (g_stop_watching) break;
    const std::time_t now = std::time(nullptr);
    char stamp[32];
    std::strftime(stamp, sizeof stamp, "%H:%M:%S", std::localtime(&now));
    const std::string report = status_report(db, experiment);
    std::cout << (tty ? "\033[H\033[2J" : "")
              << fmt::format("lowbit status --watch: {} (every {}s; Ctrl-C stops)\n", stamp, every) << report
              << std::flush;
  }
  return kExitSuccess;
}

}  // namespace

int cmd_status(const std::vector<std::string>& args) {
  po::options_description desc("options");
  std::string db, experiment, shard_dir;
  double every = 0;
  int64_t count = 0;
  desc.add_options()("db", po::value(&db)->default_value("results/results.db"), "results database")(
      "experiment,e", po::value(&experiment), "only this experiment")(
      "shard-dir", po::value(&shard_dir),
      "a Slurm grid's shard directory: runs by status across its shards, and squeue's view")(
      "watch,w", po::value(&every)->implicit_value(2.0),
      "--watch=SECONDS: refresh every SECONDS (default 2) in place until Ctrl-C: each running run's epoch, latest "
      "train_loss and test_acc, stale runs, why runs stopped")(
      "count", po::value(&count)->default_value(0), "with --watch: stop after N reports (0: until Ctrl-C)");
  po::variables_map vm;
  if (!parse_args("status", args, desc, vm)) return kExitSuccess;
  if (!shard_dir.empty()) {
    if (vm.count("watch")) throw ConfigError("--watch reads a database (--db); with --shard-dir, use watch(1)");
    std::cout << shard_status_report(shard_dir);
    return kExitSuccess;
  }
  if (vm.count("watch") && !(every >= 0.1 && every <= 86400))
    throw ConfigError(fmt::format("--watch {}: expected seconds between 0.1 and 86400", every));
  if (count < 0) throw ConfigError(fmt::format("--count {}: expected 0 (until Ctrl-C) or more", count));
  auto conn = open_readonly(db);
  if (vm.count("watch")) return watch(*conn, experiment, every, count);
  std::cout << status_report(*conn, experiment);
  return kExitSuccess;
}

}  // namespace lowbit
