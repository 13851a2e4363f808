// lowbit suite: every experiment definition of a folder into one database (lowbit grid each,
// with one progress line for the whole suite), then one report per experiment, an index, and
// optionally the results document (docs/RESULTS.md).
#include <unistd.h>

#include <algorithm>
#include <chrono>

#include <fmt/format.h>

#include "apps/commands.h"
#include "apps/torch/grid_cli.h"
#include "apps/torch/settle.h"
#include "core/error.h"
#include "core/nn/torch_compat.h"
#include "core/train/trainer.h"
#include "core/util.h"
#include "experiments/grid.h"
#include "experiments/schedule_check.h"
#include "experiments/spec.h"
#include "reports/suite_doc.h"
#include "core/train/keys.h"

namespace lowbit {

namespace {

struct SuiteOptions {
  std::string dir, out = "results/suite", results;
  GridOptions grid;
  bool reports_only = false;
  int64_t settle_max_seeds = 0;  ///< --settle --max-seeds N: settle each question with claims
};

// The definitions of the folder, sorted by file name; each validated before anything runs.
std::vector<std::pair<std::string, ExperimentSpec>> load_suite(const SuiteOptions& o) {
  const auto entries = list_dir(o.dir);
  if (!entries) throw ConfigError("lowbit suite: " + o.dir + ": not a readable folder (give the folder of experiment definitions)");
  std::vector<std::string> files;
  for (const auto& n : *entries)
    if (n.size() > 5 && n.compare(n.size() - 5, 5, ".json") == 0) files.push_back(o.dir + "/" + n);
  if (files.empty()) throw ConfigError("lowbit suite: " + o.dir + ": no *.json experiment definitions in it");
  std::vector<std::pair<std::string, ExperimentSpec>> specs;
  std::map<std::string, std::string> names;
  for (auto& f : files) {
    ExperimentSpec s = load_experiment(f, o.grid.max_runs, o.grid.overrides);
    if (!o.reports_only) check_launch_schedules(s, stderr);
    if (auto it = names.find(s.name); it != names.end())
      throw ConfigError(f + ": name '" + s.name + "' is also the name of " + it->second + "; experiments of a suite need distinct names");
    names[s.name] = f;
    specs.emplace_back(f, std::move(s));
  }
  return specs;
}

// The report settings of a definition's "report" key, on top of the suite's defaults.
SuiteEntry entry_for(const std::string& file, const ExperimentSpec& s, const SuiteOptions& o) {
  SuiteEntry e;
  e.name = s.name;
  e.description = s.description;
  e.config = file;
  e.notes = file.substr(0, file.size() - 5) + ".md";
  e.plot = s.report.value("plot", key::kTestAcc);
  ReportOptions& r = e.report;
  r.db = o.grid.db;
  r.experiment = s.name;
  r.out_dir = o.out + "/" + s.name;
  r.formats = {"md", "csv", "tex", "html"};
  r.ci = 95;
  r.interval = true;
  r.table = s.report.value("tables", "main");
  r.metric = s.report.value("metric", r.metric);
  r.baseline = s.report.value("baseline", "");
  for (auto& k : s.report.value("rows", nlohmann::json::array())) r.rows.push_back(k.get<std::string>());
  for (auto& k : s.report.value("cols", nlohmann::json::array())) r.cols.push_back(k.get<std::string>());
  return e;
}

// The seed cap of --settle for one question: the command's --max-seeds, lowered to the
// definition's settle_max_seeds; 0 (no settling) without claims or when the cap is not above
// the definition's seeds.
int64_t settle_cap(const ExperimentSpec& s, int64_t max_seeds) {
  if (max_seeds <= 0 || s.claims.empty()) return 0;
  const int64_t cap = s.settle_max_seeds > 0 ? std::min(max_seeds, s.settle_max_seeds) : max_seeds;
  int64_t seeds = 0;
  for (const auto& r : s.runs) seeds = std::max(seeds, r.config.seed + 1);
  return cap > seeds ? cap : 0;
}

// Runs every grid in turn; returns false when interrupted. Throws DiskFullError.
bool run_grids(const std::vector<std::pair<std::string, ExperimentSpec>>& specs, SuiteOptions& o, int64_t& failed) {
  SuiteProgress progress;
  for (auto& [f, s] : specs) progress.total += int64_t(s.runs.size());
  o.grid.suite = &progress;
  for (size_t i = 0; i < specs.size(); ++i) {
    fmt::print("suite: experiment {}/{}: {} ({})\n", i + 1, specs.size(), specs[i].second.name, specs[i].first);
    std::fflush(stdout);
    GridSummary g;
    const int64_t cap = settle_cap(specs[i].second, o.settle_max_seeds);
    if (cap > 0) {
      fmt::print("suite: {}: --settle up to {} seeds per cell{}\n", specs[i].second.name, cap,
                 cap < o.settle_max_seeds ? " (its settle_max_seeds)" : "");
      const SettleResult r = settle_experiment(specs[i].first, specs[i].second, o.grid, cap);
      g = r.last;
      g.interrupted = r.interrupted;
    } else {
      g = run_grid(specs[i].second, o.grid);  // as validated by load_suite
    }
    if (!g.disk_full.empty()) throw DiskFullError(g.disk_full);
    if (g.interrupted) return false;
    failed += g.failed + g.diverged + g.stopped + g.blocked;
    progress.finished_before += g.done + g.failed + g.diverged + g.stopped + g.blocked;
    progress.trained_before += g.trained;
    progress.seconds_before += g.seconds;
  }
  return true;
}

}  // namespace

int cmd_suite(const std::vector<std::string>& args) {
  po::options_description desc("options");
  SuiteOptions o;
  std::string workers;
  o.grid.db = "results/suite.db";
  desc.add_options()("dir", po::value(&o.dir)->required(), "folder of experiment definitions (*.json)")(
      "db", po::value(&o.grid.db)->default_value(o.grid.db), "results database (SQLite), one for the suite")(
      "out,o", po::value(&o.out)->default_value(o.out), "reports: <out>/<experiment>/, and <out>/index.md")(
      "results", po::value(&o.results), "also write the results document here (e.g. docs/RESULTS.md)");
  add_grid_options(desc, o.grid, workers);
  desc.add_options()("reports-only", "train nothing: write the reports of what the database holds")(
      "dry-run", "validate every definition and count the runs; train nothing")(
      "settle", "for each question with claims, add seeds to the cells of undecided claims until each is "
                "decided or --max-seeds is reached (docs/CLAIMS.md)")(
      "max-seeds", po::value(&o.settle_max_seeds)->default_value(0), "with --settle: the most seeds per cell");
  po::positional_options_description pos;
  pos.add("dir", 1);
  po::variables_map vm;
  if (!parse_args("suite", args, desc, vm, &pos, "DIR [--db results/suite.db] [--out results/suite]"))
    return kExitSuccess;
  read_grid_options(vm, workers, o.grid);
  if (!vm.count("dry-run") && !vm.count("reports-only")) check_device(o.grid.device);  // before anything starts
  o.grid.gpus = visible_gpus();
  o.reports_only = vm.count("reports-only") > 0;
  if ((vm.count("settle") > 0) != (o.settle_max_seeds > 0))
    throw ConfigError(vm.count("settle") ? "--settle needs --max-seeds N, the most seeds per cell it may add up to"
                                         : "--max-seeds is an option of --settle");
  while (o.dir.size() > 1 && o.dir.back() == '/') o.dir.pop_back();
  const auto specs = load_suite(o);
  if (vm.count("dry-run")) {
    int64_t total = 0;
    for (auto& [f, s] : specs) fmt::print("{:<24} {:>6} runs  {}\n", s.name, s.runs.size(), f), total += int64_t(s.runs.size());
    fmt::print("{} experiments, {} runs\n", specs.size(), total);
    return kExitSuccess;
  }
  const auto t0 = std::chrono::steady_clock::now();
  int64_t failed = 0;
  if (!o.reports_only) {
    o.grid.exe = self_exe();
    if (!run_grids(specs, o, failed)) {
      fmt::print("suite: interrupted; run the same command again to resume\n");
      return kExitInterrupted;
    }
  }
  std::vector<SuiteEntry> entries;
  for (auto& [f, s] : specs) {
    SuiteEntry e = entry_for(f, s, o);
    try {
      e.written = write_report(e.report);
    } catch (const StoreError& err) {
      e.report_error = err.what();  // e.g. no finished run yet: the index says so
    }
    entries.push_back(std::move(e));
  }
  std::string command = "lowbit suite " + o.dir + " --db " + o.grid.db + " --out " + o.out;
  auto files = write_suite_index(o.grid.db, entries, o.out, command);
  if (!o.results.empty()) write_results_doc(o.grid.db, entries, o.results, command + " --results " + o.results);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  fmt::print("suite: {} experiments in {}; {} runs without a result; index {}{}\n", entries.size(),
             format_duration(secs), failed, files.front(), o.results.empty() ? "" : "; results " + o.results);
  return failed > 0 ? kExitFailure : kExitSuccess;
}

}  // namespace lowbit
