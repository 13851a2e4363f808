// lowbit reproduce RUN: trains a finished run again from its stored config, into a scratch
// directory (never the main database), compares every epoch's metrics with the stored ones
// and records the verdict (reports/reproduce.h) in the reproductions table.
#include <unistd.h>

#include <cmath>
#include "core/file_io.h"
#include <iostream>

#include <torch/torch.h>
#include <fmt/format.h>

#include "apps/cli.h"
#include "apps/commands.h"
#include "core/config/run_config.h"
#include "core/error.h"
#include "core/nn/torch_compat.h"
#include "core/provenance.h"
#include "core/train/trainer.h"
#include "core/util.h"
#include "experiments/console_observer.h"
#include "reports/reproduce.h"
#include "tracker/jsonl_observer.h"
#include "tracker/queries.h"
#include "tracker/selectors.h"
#include "tracker/store.h"
#include "core/train/keys.h"

namespace lowbit {

namespace {

struct StoredRun {
  int64_t id = 0, threads = 1;
  std::string status, git_commit, torch_version, label;
  nlohmann::json config;
  EpochMetrics metrics;
  std::vector<double> cell_finals;  ///< final `key` of every done seed of this configuration
};

StoredRun load_stored(Db& db, const RunSelection& side, const std::string& final_key) {
  StoredRun r;
  r.id = side.runs.at(0);
  r.label = side.label;
  const StoredRunRow row = stored_run_row(db, r.id);
  r.status = row.status, r.git_commit = row.git_commit, r.torch_version = row.torch_version;
  r.threads = row.threads;
  r.config = nlohmann::json::parse(row.config_json);
  r.metrics = run_metrics(db, r.id);
  // The cell's seeds: their final `final_key`, the rerun's yardstick.
  for (int64_t id : done_runs_of_cell(db, r.id))
    if (double v = final_value(run_metrics(db, id), final_key); !std::isnan(v)) r.cell_finals.push_back(v);
  return r;
}

// Collects each epoch's metrics, 1-based as the database stores them.
struct EpochRecorder : Observer {
  EpochMetrics metrics;
  void on_epoch_end(const EpochEvent& e) override {
    for (auto& [k, v] : e.metrics) metrics[{e.epoch + 1, k}] = v;
  }
};

}  // namespace

int cmd_reproduce(const std::vector<std::string>& args) {
  po::options_description desc("options");
  std::string db, run, scratch, key;
  int threads = 0;
  desc.add_options()("run", po::value(&run)->required(), "run id or config-hash prefix")(
      "db", po::value(&db)->default_value("results/results.db"), "results database")(
      "scratch", po::value(&scratch), "directory for the rerun's files (default: a new one under /tmp)")(
      "metric", po::value(&key)->default_value(key::kTestAcc), "metric judged against the cell's seeds")(
      "threads,t", po::value(&threads)->default_value(0), "LibTorch threads (0 = the run's own)");
  po::positional_options_description pos;
  pos.add("run", 1);
  po::variables_map vm;
  if (!parse_args("reproduce", args, desc, vm, &pos, "RUN [--db results.db] [--scratch DIR]"))
    return kExitSuccess;
  if (run.find(':') != std::string::npos)
    throw ConfigError("lowbit reproduce: '" + truncate_for_message(run) + "' is a cell; reproduce one run (an id or a hash prefix)");

  StoredRun stored;
  {
    auto ro = open_readonly(db);
    stored = load_stored(*ro, resolve_selector(*ro, run), key);
  }
  if (stored.status != "done")
    throw ConfigError(fmt::format("{} is {}; only a finished (done) run can be reproduced", stored.label, stored.status));
  if (stored.git_commit != build_git_commit())
    fmt::print(stderr, "warning: {} was trained by commit {}, this binary is {}: a departure may come from the code\n",
               stored.label, stored.git_commit.empty() ? "(unknown)" : stored.git_commit.substr(0, 12),
               std::string(build_git_commit()).substr(0, 12));
  if (!same_libtorch(stored.torch_version))
    fmt::print(stderr, "warning: {} was trained with LibTorch {}, this binary uses {}\n", stored.label,
               stored.torch_version.empty() ? "(unknown)" : stored.torch_version, libtorch_build());

  RunConfig cfg;
  apply_json(cfg, stored.config, stored.label);
  validate(cfg, stored.label);
  const int n_threads = threads > 0 ? threads : int(stored.threads);
  torch::set_num_threads(n_threads);
  // Without --scratch the rerun's files go to a new directory under /tmp, removed on every way
  // out (an exception included): the verdict is in the database, the files were only a means.
  struct TempScratch {
    std::string dir;
    ~TempScratch() {
      if (!dir.empty()) remove_tree(dir);
    }
  } temp;
  if (scratch.empty()) {
    char tmpl[] = "/tmp/lowbit_reproduce_XXXXXX";
    if (!::mkdtemp(tmpl)) throw Error("cannot create a scratch directory under /tmp (use --scratch DIR)");
    scratch = temp.dir = tmpl;
  }
  JsonlObserver files(scratch);
  ConsoleObserver console(stderr);
  EpochRecorder rec;
  MultiObserver obs({&console, &files, &rec});
  TrainOptions opt;
  opt.checkpoint_dir = scratch;  // never resumes: a reproduction trains from the start
  TrainResult r = train_run(cfg, opt, obs);
  (void)r;

  ReproductionVerdict v = judge_reproduction(stored.metrics, rec.metrics, key, stored.cell_finals);
  Store store(db, Store::Open::kMigrate);
  store.add_reproduction(stored.id, v.verdict, v.detail, n_threads, libtorch_build());
  fmt::print("{}: {} ({}; {} threads; {})\n", stored.label, v.verdict, v.detail, n_threads,
             temp.dir.empty() ? "rerun files in " + scratch : std::string("rerun files removed: --scratch DIR keeps them"));
  return v.verdict == "different" ? kExitFailure : kExitSuccess;
}

}  // namespace lowbit
