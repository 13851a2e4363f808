// lowbit benchmarks (`make bench`): speed and memory targets live here, never in tests.
//   lowbit_bench tracker          tracker overhead as a share of a small_cnn epoch (goal <= 1%)
//   lowbit_bench query DIR        lowbit query runs / report over 10,000 runs and 1,000,000
//                                 metric rows (goals <= 1 s and <= 2 s)
//   lowbit_bench slb METHOD BITS  peak RSS and step time of one training configuration
//                                 (run each in its own process: peak RSS is per process)
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <string>

#include <torch/torch.h>
#include <fmt/format.h>

#include "core/data/dataset.h"
#include "core/train/trainer.h"
#include "reports/report.h"
#include "tracker/queries.h"
#include "tracker/store.h"

using namespace lowbit;
using Clock = std::chrono::steady_clock;

namespace {

double since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// Wraps an observer and adds up the time spent in it.
struct Timed : Observer {
  Observer& inner;
  double seconds = 0;
  explicit Timed(Observer& o) : inner(o) {}
  template <typename F>
  void time(F f) {
    auto t = Clock::now();
    f();
    seconds += since(t);
  }
  void on_run_start(const RunStartEvent& e) override {
    time([&] { inner.on_run_start(e); });
  }
  void on_epoch_end(const EpochEvent& e) override {
    time([&] { inner.on_epoch_end(e); });
  }
  void on_run_end(const RunEndEvent& e) override {
    time([&] { inner.on_run_end(e); });
  }
};

int bench_tracker() {
  RunConfig cfg;
  cfg.epochs = 2;
  cfg.data.train_limit = 10000;
  cfg.data.test_limit = 2000;
  cfg.quant.method = "ttq";
  std::string db = "/tmp/lowbit_bench_tracker.db";
  std::remove(db.c_str());
  Store store(db, Store::Open::kMigrate);
  int64_t e = store.upsert_experiment("bench", "", "{}");
  PlannedRun p{cfg, config_hash(cfg), "ttq", nlohmann::json::object()};
  store.add_runs(e, {p});
  auto c = store.claim(e, Provenance{"h", "bench", "cpu", 1, 2});
  TrackerObserver tracker(store, c->id);
  Timed timed(tracker);
  auto t0 = Clock::now();
  train_run(cfg, {}, timed);
  double total = since(t0);
  fmt::print(
      "tracker: {:.1f} s run (2 epochs of 10,000 Fashion-MNIST images, TTQ small_cnn), {:.4f} s in "
      "the tracker = {:.3f}% (goal <= 1%)\n",
      total, timed.seconds, 100 * timed.seconds / total);
  return 0;
}

int bench_query(const std::string& dir) {
  std::string db = dir + "/bench_10k.db";
  std::remove(db.c_str());
  {
    Store s(db, Store::Open::kMigrate);
    int64_t e = s.upsert_experiment(
        "big", "10,000 runs", R"({"name": "big", "axes": {"optim.lr": [0.1, 0.05]}, "seeds": 5})");
    std::vector<PlannedRun> runs;
    for (int i = 0; i < 10000; ++i) {
      RunConfig c;
      c.seed = i % 5;
      c.optim.lr = i % 2 ? 0.1 : 0.05;
      c.quant.bits = 1 + (i / 10) % 8;
      c.name = "big" + std::to_string(i / 10);
      PlannedRun p{c, config_hash(c), i % 3 ? "ttq" : "fp", {{"optim.lr", c.optim.lr}}};
      runs.push_back(p);
    }
    auto t = Clock::now();
    s.add_runs(e, runs);
    // 100 metric rows per run: 10 epochs x 10 keys, written directly in one transaction.
    Transaction tx(s.db());
    auto m = s.db().prepare("INSERT INTO metrics(run_id, epoch, key, value) VALUES (?, ?, ?, ?)");
    auto sm = s.db().prepare("INSERT INTO summaries(run_id, key, value) VALUES (?, ?, ?)");
    const char* keys[] = {
        "train_loss",    "train_acc",         "test_loss",     "test_acc",          "lr",
        "epoch_seconds", "act_sparsity_mean", "train_seconds", "images_per_second", "val_acc"};
    for (int64_t run = 1; run <= 10000; ++run) {
      for (int ep = 1; ep <= 10; ++ep)
        for (auto* k : keys)
          m.bind(1, run).bind(2, int64_t(ep)).bind(3, k).bind(4, 0.5 + 0.01 * ep), m.run();
      for (auto* k : {"final_test_acc", "peak_rss_bytes", "wall_seconds", "packed_model_bytes"})
        sm.bind(1, run).bind(2, k).bind(3, 1.0), sm.run();
    }
    s.db().exec("UPDATE runs SET status = 'done'");
    tx.commit();
    fmt::print("query: built {} with 10,000 runs and 1,000,000 metric rows in {:.1f} s\n", db,
               since(t));
  }
  auto conn = open_readonly(db);
  auto t = Clock::now();
  auto table = query_runs(*conn, "big", {});
  std::string text = format_table(table, "table");
  fmt::print("query: lowbit query runs over 10,000 runs: {} rows in {:.3f} s (goal <= 1 s)\n",
             table.rows.size(), since(t));
  t = Clock::now();
  ReportOptions o;
  o.db = db;
  o.experiment = "big";
  o.out_dir = dir + "/bench_report";
  o.plots = false;
  o.table = "main";
  write_report(o);
  fmt::print("report: main table over 10,000 runs in {:.3f} s (goal <= 2 s)\n", since(t));
  t = Clock::now();
  o.table = "all";
  write_report(o);
  fmt::print("report: all tables (main, cost, layers, energy) over 10,000 runs in {:.3f} s\n",
             since(t));
  return 0;
}

int bench_slb(const std::string& method, int bits) {
  RunConfig cfg;
  cfg.data.name = "synthetic";
  cfg.data.synthetic_train = 128 * 20;
  cfg.data.synthetic_test = 256;
  cfg.data.synthetic_size = 28;
  cfg.data.synthetic_classes = 10;
  cfg.epochs = 1;
  cfg.batch_size = 128;
  cfg.quant.method = method;
  cfg.quant.bits = bits;
  cfg.quant.bn_mode = "none";
  struct Quiet : Observer {
  } quiet;
  auto t = Clock::now();
  auto r = train_run(cfg, {}, quiet);
  double secs = r.summary["mean_epoch_seconds"];
  (void)t;
  fmt::print(
      "slb-bench: {:<4} bits {}  step {:.1f} ms  peak RSS {:.0f} MiB  logits {:.0f} KiB  "
      "parameters {:.0f} KiB\n",
      method, method == "fp" ? 32 : bits, 1000 * secs / 20, r.summary["peak_rss_bytes"] / 1048576,
      r.summary.count("logits_bytes") ? r.summary["logits_bytes"] / 1024 : 0.0,
      r.summary["param_bytes"] / 1024);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  torch::set_num_threads(2);
  std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "tracker") return bench_tracker();
  if (mode == "query") return bench_query(argc > 2 ? argv[2] : "/tmp");
  if (mode == "slb" && argc > 3) return bench_slb(argv[2], std::stoi(argv[3]));
  std::fprintf(stderr, "usage: lowbit_bench tracker | query [DIR] | slb METHOD BITS\n");
  return 2;
}
