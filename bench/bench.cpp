// lowbit benchmarks (`make bench`): speed and memory targets live here, never in tests.
//   lowbit_bench tracker          tracker overhead as a share of a small_cnn epoch (goal <= 1%)
//   lowbit_bench query DIR        builds DIR/bench_big.db (100,000 runs, 10,000,000 metric
//                                 rows) and times query runs / report on it in-process (goals
//                                 <= 1 s and <= 2 s); bench/run.sh times the CLI on it too
//   lowbit_bench slb METHOD BITS  peak RSS and step time of one training configuration
//                                 (run each in its own process: peak RSS is per process)
//   lowbit_bench loader           the data loader's images/s against the FP step's
//   lowbit_bench step [JSON]      training step per method (forward, backward, optimizer and
//                                 SLB's state batch-norm pass timed apart), small_cnn and
//                                 resnet20, batch 128, 2 threads,
//                                 methods interleaved in rounds, ratio to full precision (the
//                                 median of the rounds' ratios); the matrix-multiply peak and the
//                                 FP step's share of it; JSON lines to the file if given
//   lowbit_bench step-pair JSON R small_cnn FP, TTQ, SLB 1/2-bit steps only, as round R of
//                                 bench/vs_python.sh's alternation with the Python step
//   lowbit_bench bandwidth         STREAM copy/triad, and the FP small_cnn step's time outside
//                                 its convolutions against the bytes its passes must move
//                                 (markdown; bench/bandwidth.sh)
//   lowbit_bench diag              seconds per epoch of the opt-in statistics (diag.step_flips,
//                                 diag.soft_eval) against the same runs without them, and the
//                                 per-epoch flip rate's own cost per call
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <cstdio>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include <torch/optim/sgd.h>
#include <torch/torch.h>
#include <fmt/format.h>

#include "bench/bandwidth.h"
#include "bench/timing.h"
#include "core/allocator.h"
#include "core/data/dataset.h"
#include "core/nn/qlayers.h"
#include "core/nn/torch_compat.h"
#include "core/train/trainer.h"
#include "reports/report.h"
#include "tracker/queries.h"
#include "tracker/store.h"
#include "tracker/sqlite.h"
#include "core/train/keys.h"

using namespace lowbit;
using bench::Clock;
using bench::median;
using bench::median_seconds;
using bench::since;

namespace {

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
  PlannedRun p{cfg, config_hash(cfg), "ttq", nlohmann::json::object(), ""};
  store.add_runs(e, {p});
  auto c = store.claim(e, Provenance{"h", "bench", "cpu", 1, 2, "none", ""});
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

// The opt-in training statistics, each against the same run without it: TTQ and SLB 1-bit
// small_cnn on 4,000 Fashion-MNIST images (2,000 test), 2 epochs a run, configurations
// interleaved over 3 rounds; the median seconds per epoch. Then flip_rate (always on: one
// packing per quantized layer and epoch) timed alone on small_cnn's two quantized layers.
int bench_diag() {
  struct Quiet : Observer {} quiet;
  struct Arm {
    std::string label;
    RunConfig cfg;
    std::vector<double> per_epoch;
  };
  auto base = [](const std::string& method) {
    RunConfig c;
    c.epochs = 2;
    c.data.train_limit = 4000;
    c.data.test_limit = 2000;
    c.quant.method = method;
    c.quant.bits = 1;
    c.quant.temp_start = 0, c.quant.temp_end = 0.5;
    return c;
  };
  std::vector<Arm> arms;
  for (const std::string m : {"ttq", "slb"}) {
    arms.push_back({m, base(m), {}});
    arms.push_back({m + " + diag.step_flips", base(m), {}});
    arms.back().cfg.diag.step_flips = true;
    if (m == "slb") {
      arms.push_back({m + " + diag.soft_eval", base(m), {}});
      arms.back().cfg.diag.soft_eval = true;
    }
  }
  constexpr int kRounds = 3;  // make bench's 15 minutes: 5 rounds took 110 s
  for (int round = 0; round < kRounds; ++round)
    for (size_t k = 0; k < arms.size(); ++k) {
      auto& a = arms[(k + size_t(round)) % arms.size()];
      auto t0 = Clock::now();
      train_run(a.cfg, {}, quiet);
      a.per_epoch.push_back(since(t0) / double(a.cfg.epochs));
    }
  std::string md = fmt::format("| run | s / epoch (median of {}) | added |\n| --- | ---: | ---: |\n", kRounds);
  double reference = 0;
  for (auto& a : arms) {
    const double s = median(a.per_epoch);
    if (a.label == "ttq" || a.label == "slb") reference = s;
    md += fmt::format("| {} | {:.3f} | {} |\n", a.label, s,
                      a.label == "ttq" || a.label == "slb" ? std::string("")
                                                           : fmt::format("{:+.3f} s ({:+.1f}%)", s - reference,
                                                                         100 * (s - reference) / reference));
  }
  // flip_rate alone: one packing of each quantized layer and a comparison with the last codes.
  for (const std::string m : {"ttq", "slb"}) {
    RunConfig c = base(m);
    auto net = build_network(c, ModelSpec{1, 28, 28, 10});
    std::vector<double> times;
    std::map<std::string, std::vector<uint8_t>> last;
    torch::NoGradGuard g;
    for (int i = 0; i < 21; ++i) {
      auto t0 = Clock::now();
      for (auto& l : quant_layers(*net))
        if (auto& q = l.layer->quantizer()) flip_rate(*q, l.layer->weight.detach(), last[l.name]);
      times.push_back(since(t0));
    }
    md += fmt::format("| {}: flip_rate, per epoch (small_cnn's 2 quantized layers) | {:.4f} | |\n", m, median(times));
  }
  fmt::print("{}", md);
  std::ofstream("bench/results/diag_cost.md")
      << "# Cost of the training statistics (`lowbit_bench diag`, 2 threads)\n\n" << md;
  return 0;
}

int bench_query(const std::string& dir) {
  const int64_t kRuns = 100000;
  std::string db = dir + "/bench_big.db";
  std::remove(db.c_str());
  {
    Store s(db, Store::Open::kMigrate);
    int64_t e = s.upsert_experiment(
        "big", "100,000 runs", R"({"name": "big", "axes": {"optim.lr": [0.1, 0.05]}, "seeds": 5})");
    std::vector<PlannedRun> runs;
    for (int64_t i = 0; i < kRuns; ++i) {
      RunConfig c;
      c.seed = i % 5;
      c.optim.lr = i % 2 ? 0.1 : 0.05;
      c.quant.bits = 1 + (i / 10) % 8;
      c.name = "big" + std::to_string(i / 10);
      PlannedRun p{c, config_hash(c), i % 3 ? "ttq" : "fp", {{"optim.lr", c.optim.lr}}, ""};
      runs.push_back(p);
    }
    auto t = Clock::now();
    s.add_runs(e, runs);
    // 100 metric rows per run: 10 epochs x 10 keys, written directly in one transaction.
    Transaction tx(s.db());
    auto m = s.db().prepare("INSERT INTO metrics(run_id, epoch, key, value) VALUES (?, ?, ?, ?)");
    auto sm = s.db().prepare("INSERT INTO summaries(run_id, key, value) VALUES (?, ?, ?)");
    const char* keys[] = {
        key::kTrainLoss,    key::kTrainAcc,         key::kTestLoss,     key::kTestAcc,          key::kLr,
        key::kEpochSeconds, key::kActSparsityMean, key::kTrainSeconds, key::kImagesPerSecond, key::kValAcc};
    for (int64_t run = 1; run <= kRuns; ++run) {
      for (int ep = 1; ep <= 10; ++ep)
        for (auto* k : keys)
          m.bind(1, run).bind(2, int64_t(ep)).bind(3, k).bind(4, 0.5 + 0.01 * ep), m.run();
      for (auto* k : {key::kFinalTestAcc, key::kPeakRssBytes, key::kWallSeconds, key::kPackedModelBytes})
        sm.bind(1, run).bind(2, k).bind(3, 1.0), sm.run();
    }
    s.db().exec("UPDATE runs SET status = 'done'");
    tx.commit();
    fmt::print("query: built {} with {} runs and {} metric rows in {:.1f} s\n", db, kRuns,
               kRuns * 100, since(t));
  }
  auto conn = open_readonly(db);
  auto t = Clock::now();
  auto table = query_runs(*conn, "big", {});
  std::string text = format_table(table, "table");
  fmt::print("query: lowbit query runs over 100,000 runs: {} rows in {:.3f} s (goal <= 1 s)\n",
             table.rows.size(), since(t));
  t = Clock::now();
  ReportOptions o;
  o.db = db;
  o.experiment = "big";
  o.out_dir = dir + "/bench_report";
  o.plots = false;
  o.table = "main";
  write_report(o);
  fmt::print("report: main table over 100,000 runs in {:.3f} s (goal <= 2 s)\n", since(t));
  t = Clock::now();
  o.table = "all";
  write_report(o);
  fmt::print("report: all tables (main, cost, layers, energy) over 100,000 runs in {:.3f} s\n",
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
  cfg.quant.bn_mode = BnMode::kNone;
  struct Quiet : Observer {
  } quiet;
  auto t = Clock::now();
  auto r = train_run(cfg, {}, quiet);
  double secs = r.summary[key::kMeanEpochSeconds];
  (void)t;
  fmt::print(
      "slb-bench: {:<4} bits {}  step {:.1f} ms  peak RSS {:.0f} MiB  logits {:.0f} KiB  "
      "parameters {:.0f} KiB\n",
      method, method == "fp" ? 32 : bits, 1000 * secs / 20, r.summary[key::kPeakRssBytes] / 1048576,
      r.summary.count(key::kLogitsBytes) ? r.summary[key::kLogitsBytes] / 1024 : 0.0,
      r.summary[key::kParamBytes] / 1024);
  return 0;
}

// The practical float32 peak of these cores: n = 2048, 2 n^3 flops per product, as a 1x1
// convolution (oneDNN, the kernels LibTorch's CPU convolutions use), which is the peak the
// training step is measured against; and through torch::mm (the BLAS LibTorch is linked to:
// Debian's libblas3 is the unoptimized reference BLAS unless an optimized one is installed,
// about 4 s a product here, so fewer repetitions).
constexpr int64_t kPeakN = 2048;
constexpr double kPeakFlops = 2.0 * double(kPeakN) * double(kPeakN) * double(kPeakN);

// The same product through torch::mm, GFLOP/s: median of 3 after 1 warm-up.
double blas_gflops() {
  torch::NoGradGuard g;
  auto a = torch::randn({kPeakN, kPeakN}), b = torch::randn({kPeakN, kPeakN});
  return kPeakFlops / median_seconds([&] { torch::mm(a, b); }, 1, 3) / 1e9;
}

// What run_interleaved times: one step at a time, timed or not, and the seconds of each
// timed step.
class Interleaved {
 public:
  virtual ~Interleaved() = default;
  /// progress: the share of training done, for the quantizers' schedules.
  virtual void step(double progress, bool timed) = 0;
  /// Seconds of the timed steps from index `from` on (one round).
  double total_since(size_t from) const {
    double t = 0;
    for (size_t i = from; i < t_.size(); ++i) t += t_[i];
    return t;
  }
  size_t timed_steps() const { return t_.size(); }

 protected:
  std::vector<double> t_;  ///< seconds of each timed step
};

// The matrix-multiply peak's product, a kPeakN^2 float32 product as a 1x1 convolution, one
// per step: as a member of the rounds, so that the FP step's share of the peak is taken round
// by round from neighbouring measurements, and alone in conv_peak_gflops.
class PeakBench : public Interleaved {
 public:
  // (1, n, n, 1) input, (n, n, 1, 1) weight: out[o, h] = sum_c w[o, c] x[c, h].
  PeakBench() : x_(torch::randn({1, kPeakN, kPeakN, 1})), w_(torch::randn({kPeakN, kPeakN, 1, 1})) {}
  void step(double, bool timed) override {
    torch::NoGradGuard g;
    auto t0 = Clock::now();
    torch::conv2d(x_, w_);
    if (timed) t_.push_back(since(t0));
  }

 private:
  torch::Tensor x_, w_;
};

// The 1x1-convolution peak, GFLOP/s: median of 10 products after 2 warm-ups.
double conv_peak_gflops() {
  PeakBench p;
  return kPeakFlops / median_seconds([&] { p.step(0, false); }, 2, 10) / 1e9;
}

struct StepTime {
  double forward = 0, backward = 0, optimizer = 0;  // seconds per step
  double state_bn = 0;  // SLB bn_mode state: the discrete pass after the step, seconds
  double macs = 0, conv_macs = 0;                     // per image: all layers, convolutions
  /// Training state after the steps: trainable parameters, their gradients and the
  /// optimizer's buffers, in bytes per weight of the quantized layers (all conv and linear
  /// layers for full precision), and the same for the quantized layers' own state alone.
  double state_per_weight = 0, quantized_state_per_weight = 0;
  double total() const { return forward + backward + optimizer + state_bn; }
};

// Bytes of the SGD momentum buffers (the bench's optimizer) of the parameters `keep` selects.
template <typename F>
double optimizer_state_bytes(torch::optim::Optimizer& opt, F keep) {
  double bytes = 0;
  for (auto& group : opt.param_groups())
    for (auto& p : group.params()) {
      auto it = opt.state().find(optimizer_state_key(p));
      if (it == opt.state().end() || !keep(p)) continue;
      if (auto* sgd = dynamic_cast<torch::optim::SGDParamState*>(it->second.get()))
        if (sgd->momentum_buffer().defined())
          bytes += double(sgd->momentum_buffer().numel() * sgd->momentum_buffer().element_size());
    }
  return bytes;
}

// Parameter, gradient and momentum bytes: over the whole model, and over the parameters of
// the quantized layers (weights or logits and the quantizer's scales), per weight.
void measure_state(Network& net, const std::vector<LayerRef>& layers, torch::optim::Optimizer& opt,
                   StepTime& st) {
  auto bytes = [](const torch::Tensor& t) { return double(t.numel() * t.element_size()); };
  std::set<const void*> quantized;
  double all_weights = 0, q_weights = 0;
  for (auto& l : layers) {
    all_weights += double(l.layer->weight.numel());
    if (!l.layer->quantizer()) continue;
    q_weights += double(l.layer->weight.numel());
    for (auto& p : l.layer->parameters())
      if (p.requires_grad()) quantized.insert(p.unsafeGetTensorImpl());
  }
  double all = 0, q = 0;
  for (auto& p : net.parameters()) {
    if (!p.requires_grad()) continue;
    double b = bytes(p) + (p.grad().defined() ? bytes(p.grad()) : 0.0);
    all += b;
    if (quantized.count(p.unsafeGetTensorImpl())) q += b;
  }
  all += optimizer_state_bytes(opt, [](const torch::Tensor&) { return true; });
  q += optimizer_state_bytes(
      opt, [&](const torch::Tensor& p) { return quantized.count(p.unsafeGetTensorImpl()) > 0; });
  st.state_per_weight = all / all_weights;
  st.quantized_state_per_weight = q_weights > 0 ? q / q_weights : all / all_weights;
}

// One training configuration on a fixed random batch (the loader is timed elsewhere). A step
// is the one core/train/trainer.cpp takes (forward, cross-entropy, zero_grad, backward,
// optimizer step) without the per-step statistics; with SLB's bn_mode "state" it also takes
// the trainer's discrete batch-norm pass after the optimizer step (discrete_bn_pass, every
// step: quant.state_bn_every = 1). The other modes (none, calibrate_*) have the same step as
// none: their calibration is per epoch, in the epoch figures.
class StepBench : public Interleaved {
 public:
  StepBench(const std::string& model, const std::string& method, int bits,
            const std::string& bn_mode = "none") {
    cfg_.model = model;
    cfg_.quant.method = method;
    cfg_.quant.bits = bits;
    cfg_.quant.bn_mode = *parse_choice<BnMode>(bn_mode);
    if (model != "small_cnn") spec_ = ModelSpec{3, 32, 32, 10};
    net_ = build_network(cfg_, spec_, false);
    layers_ = quant_layers(*net_);
    for (auto& l : layers_)
      if (l.layer->quantizer()) qlayers_.push_back(l);
    state_bn_ = bn_mode == "state";
    opt_ = make_optimizer(parameter_groups(*net_, cfg_), cfg_.optim);
    net_->train();
    x_ = torch::randn({128, spec_.channels, spec_.height, spec_.width});
    y_ = torch::randint(0, 10, {128}, torch::kLong);
  }
  /// One step; if `timed`, appends its forward, backward, optimizer and state-BN seconds and
  /// their sum.
  void step(double progress, bool timed) override {
    for (auto& l : layers_)
      if (l.layer->quantizer()) l.layer->quantizer()->set_progress(progress, 1);
    auto t0 = Clock::now();
    auto loss = torch::nn::functional::cross_entropy(net_->forward(x_), y_);
    loss.item<double>();  // the trainer reads the loss every step
    auto t1 = Clock::now();
    opt_->zero_grad();
    loss.backward();
    auto t2 = Clock::now();
    opt_->step();
    auto t3 = Clock::now();
    if (state_bn_) discrete_bn_pass(*net_, qlayers_, x_);
    auto t4 = Clock::now();
    if (!timed) return;
    f_.push_back(std::chrono::duration<double>(t1 - t0).count());
    b_.push_back(std::chrono::duration<double>(t2 - t1).count());
    o_.push_back(std::chrono::duration<double>(t3 - t2).count());
    s_.push_back(std::chrono::duration<double>(t4 - t3).count());
    t_.push_back(f_.back() + b_.back() + o_.back() + s_.back());
  }
  /// Forward + backward seconds of the convolutions alone, at the shapes and layouts of the
  /// last step (each layer's own forward, an all-ones output gradient), median of 10 per layer
  /// after 2 warm-ups, summed over layers. The first layer gets no input gradient, as in the
  /// step.
  double conv_seconds() {
    double total = 0;
    for (auto& l : layers_) {
      if (!std::dynamic_pointer_cast<QConv2dImpl>(l.layer)) continue;
      auto x = torch::randn(l.layer->input_sizes());
      if (!l.first) x = x.contiguous(at::MemoryFormat::ChannelsLast).requires_grad_(true);
      total += median_seconds(
          [&] {
            auto y = l.layer->forward(x);
            y.backward(torch::ones_like(y));
          },
          2, 10);
    }
    opt_->zero_grad();
    return total;
  }
  /// Seconds of the convolutions' forward alone at the last step's shapes and layouts, in
  /// inference mode as evaluation runs them: median of 10 per layer after 2 warm-ups, summed.
  double conv_forward_seconds() {
    c10::InferenceMode inference;
    double total = 0;
    for (auto& l : layers_) {
      if (!std::dynamic_pointer_cast<QConv2dImpl>(l.layer)) continue;
      auto x = torch::randn(l.layer->input_sizes());
      if (!l.first) x = x.contiguous(at::MemoryFormat::ChannelsLast);
      total += median_seconds([&] { l.layer->forward(x); }, 2, 10);
    }
    return total;
  }
  /// The median of each phase over all timed steps, MACs and the training state.
  StepTime result() {
    StepTime st{median(f_), median(b_), median(o_), median(s_)};
    for (auto& l : layers_) {
      st.macs += double(l.layer->macs());
      if (std::dynamic_pointer_cast<QConv2dImpl>(l.layer)) st.conv_macs += double(l.layer->macs());
    }
    measure_state(*net_, layers_, *opt_, st);
    return st;
  }

 private:
  RunConfig cfg_;
  ModelSpec spec_;
  std::shared_ptr<Network> net_;
  std::vector<LayerRef> layers_, qlayers_;
  bool state_bn_ = false;
  std::unique_ptr<torch::optim::Optimizer> opt_;
  torch::Tensor x_, y_;
  std::vector<double> f_, b_, o_, s_;  ///< per timed step: forward, backward, optimizer, state BN
};

// Runs the benches interleaved: 3 untimed warm-up steps each, then `rounds` rounds in which
// every bench takes `per` timed steps (the order rotated each round), so that the machine's
// slow drifts hit all of them alike. -> per bench, each round's time over bench 0's.
std::vector<std::vector<double>> run_interleaved(const std::vector<Interleaved*>& benches, int rounds,
                                                 int per) {
  const int warmup = 3, steps = rounds * per;
  for (int i = 0; i < warmup; ++i)
    for (auto* b : benches) b->step(double(i) / (steps + warmup), false);
  std::vector<std::vector<double>> ratios(benches.size());
  for (int r = 0; r < rounds; ++r) {
    std::vector<double> round(benches.size());
    for (size_t k = 0; k < benches.size(); ++k) {
      const size_t m = (k + size_t(r)) % benches.size();
      const size_t from = benches[m]->timed_steps();
      for (int i = 0; i < per; ++i)
        benches[m]->step(double(warmup + r * per + i) / (steps + warmup), true);
      round[m] = benches[m]->total_since(from);
    }
    for (size_t m = 0; m < benches.size(); ++m) ratios[m].push_back(round[m] / round[0]);
  }
  return ratios;
}

// One configuration alone: 3 warm-up steps, then `steps` timed steps (one round).
StepTime time_step(const std::string& model, const std::string& method, int bits, int steps) {
  StepBench one(model, method, bits);
  run_interleaved({&one}, 1, steps);
  return one.result();
}

// The FP step's share of the matmul peak, and its bound: the convolutions alone at the step's
// shapes (whatever else the step does, batch norm, ReLU, pooling, loss, optimizer, can only
// lower the share). The share is the rounds' (peak_over_fp: the median over rounds of the peak
// products' time over the FP steps'); the convolutions alone are timed between two peak
// measurements and set against the higher.
void report_fp_share(const std::string& model, const StepTime& fp, StepBench& bench,
                     double peak_over_fp, std::ofstream& json) {
  // Forward + backward of a conv/linear layer is about 3x its forward MACs, 2 flops each.
  const double step_flops = 3.0 * 2.0 * fp.macs * 128;
  const double gflops = step_flops / fp.total() / 1e9;
  const double share = step_flops / kPeakFlops * peak_over_fp;
  fmt::print("  FP step: {:.2f} GMAC per step forward, {:.1f} GFLOP/s achieved = {:.0f}% of the "
             "1x1-convolution peak in the same rounds, {:.1f} GFLOP/s (goal >= 70%)\n",
             fp.macs * 128 / 1e9, gflops, 100 * share, gflops / share);
  const double before = conv_peak_gflops();
  const double conv_s = bench.conv_seconds();
  const double peak = std::max(before, conv_peak_gflops());
  const double conv_gflops = 3.0 * 2.0 * fp.conv_macs * 128 / conv_s / 1e9;
  fmt::print("  FP convolutions alone: {:.1f} of the {:.1f} ms step, {:.1f} GFLOP/s = {:.0f}% of "
             "the peak measured beside them, {:.1f} GFLOP/s (the bound on the step's share); the "
             "rest of the step: {:.1f} ms\n",
             1000 * conv_s, 1000 * fp.total(), conv_gflops, 100 * conv_gflops / peak, peak,
             1000 * (fp.total() - conv_s));
  if (json)
    json << fmt::format(R"({{"bench": "step_gflops", "model": "{}", "gflops": {:.3f}, "share_of_peak": {:.4f}, )"
                        R"("peak_gflops": {:.3f}, "conv_s": {:.6f}, "conv_share_of_peak": {:.4f}, )"
                        R"("conv_peak_gflops": {:.3f}}})",
                        model, gflops, share, gflops / share, conv_s, conv_gflops / peak, peak)
         << "\n";
}

struct Method {
  std::string label, method;
  int bits;
  std::string bn_mode = "none";
};

// SLB's bn_mode none, calibrate_each_epoch and calibrate_after share one step (slbN);
// slbN-state adds the discrete pass of bn_mode state (the default).
const std::vector<Method> kStepMethods = {
    {"fp", "fp", 32},          {"ttq", "ttq", 2},
    {"twn", "twn", 2},         {"dorefa2", "dorefa", 2},
    {"sign", "sign", 1},       {"slb1", "slb", 1},
    {"slb2", "slb", 2},        {"slb4", "slb", 4},
    {"slb1-state", "slb", 1, "state"}, {"slb2-state", "slb", 2, "state"},
    {"slb4-state", "slb", 4, "state"}};

// `methods` (the first: full precision) on `model`, interleaved in `rounds` rounds of `per`
// steps; prints the table and appends a JSON line per method (`bench`: name, plus the fields
// in `extra`). Each phase: the median over all timed steps; "x FP": the median over rounds of
// the round's ratio to full precision (run_interleaved). With `peak`, the peak's products
// take part in the rounds too, and *peak_over_fp gets the median over rounds of their time
// over the FP steps'. -> the benches, in `methods` order.
std::vector<std::unique_ptr<StepBench>> step_table(const std::string& model,
                                                   const std::vector<Method>& methods, int rounds,
                                                   int per, std::ofstream& json,
                                                   const std::string& name,
                                                   const std::string& extra = "",
                                                   PeakBench* peak = nullptr,
                                                   double* peak_over_fp = nullptr) {
  std::vector<std::unique_ptr<StepBench>> benches;
  std::vector<Interleaved*> all;
  for (auto& m : methods) {
    benches.push_back(std::make_unique<StepBench>(model, m.method, m.bits, m.bn_mode));
    all.push_back(benches.back().get());
  }
  if (peak) all.push_back(peak);
  const auto ratios = run_interleaved(all, rounds, per);
  if (peak && peak_over_fp) *peak_over_fp = median(ratios.back());
  fmt::print("step: {} batch 128, 2 threads, {} rounds of {} steps per method, interleaved; "
             "medians (ms)\n", model, rounds, per);
  fmt::print("  {:<11} {:>8} {:>8} {:>9} {:>8} {:>8} {:>7} {:>10} {:>10}\n", "method", "forward",
             "backward", "optimizer", "state BN", "step", "x FP", "B/weight", "B/q-weight");
  for (size_t k = 0; k < methods.size(); ++k) {
    const auto& m = methods[k];
    StepTime st = benches[k]->result();
    const double ratio = median(ratios[k]);
    fmt::print("  {:<11} {:>8.1f} {:>8.1f} {:>9.2f} {:>8.1f} {:>8.1f} {:>7.2f} {:>10.1f} {:>10.1f}\n",
               m.label, 1000 * st.forward, 1000 * st.backward, 1000 * st.optimizer,
               1000 * st.state_bn, 1000 * st.total(), ratio, st.state_per_weight,
               st.quantized_state_per_weight);
    if (json)
      json << fmt::format(
                  R"({{"bench": "{}", "model": "{}", "method": "{}", "forward_s": {:.6f}, )"
                  R"("backward_s": {:.6f}, "optimizer_s": {:.6f}, "state_bn_s": {:.6f}, )"
                  R"("step_s": {:.6f}, "ratio_fp": {:.4f}, )"
                  R"("state_bytes_per_weight": {:.3f}, "quantized_state_bytes_per_weight": {:.3f}, )"
                  R"("bits": {}, "bn_mode": "{}"{}}})",
                  name, model, m.label, st.forward, st.backward, st.optimizer, st.state_bn,
                  st.total(), ratio, st.state_per_weight, st.quantized_state_per_weight, m.bits,
                  m.bn_mode, extra)
           << "\n";
  }
  return benches;
}

// Every method on small_cnn and resnet20, the matrix-multiply peak and the FP step's share.
int bench_step(const std::string& json_path) {
  std::ofstream json;
  if (!json_path.empty()) json.open(json_path, std::ios::app);
  const double blas = blas_gflops();
  fmt::print("step: float32 2048 x 2048 product through torch::mm (the linked BLAS), 2 threads: "
             "{:.1f} GFLOP/s; the 1x1-convolution peak is measured in the rounds below\n", blas);
  if (json) json << fmt::format(R"({{"bench": "matmul_peak", "blas_gflops": {:.3f}}})", blas) << "\n";
  for (std::string model : {"small_cnn", "resnet20"}) {
    const int rounds = model == "small_cnn" ? 10 : 8, per = model == "small_cnn" ? 2 : 1;
    PeakBench peak;
    double peak_over_fp = 0;
    auto benches =
        step_table(model, kStepMethods, rounds, per, json, "step", "", &peak, &peak_over_fp);
    report_fp_share(model, benches[0]->result(), *benches[0], peak_over_fp, json);
  }
  return 0;
}

// The small_cnn steps that bench/py_bench.py also times (FP, TTQ, SLB 1/2-bit), for one
// round of bench/vs_python.sh's alternation of lowbit and Python processes (JSON lines
// "pair_step" with the round): each round's lowbit / Python ratio compares steps taken
// seconds apart, and the median over rounds damps the machine's drifts.
int bench_step_pair(const std::string& json_path, int round) {
  std::ofstream json(json_path, std::ios::app);
  std::vector<Method> methods;
  for (auto& m : kStepMethods)
    if (m.label == "fp" || m.label == "ttq" || m.label == "slb1" || m.label == "slb2")
      methods.push_back(m);
  step_table("small_cnn", methods, 10, 2, json, "pair_step", fmt::format(R"(, "round": {})", round));
  return 0;
}

// The loader alone: every training batch of an epoch over the full Fashion-MNIST training
// set (shuffled, normalised, as the trainer gets them), against the full-precision small_cnn
// step's images/s measured in the same process. Goal: loader >= 10x the step.
int bench_loader() {
  DataConfig dc;
  dc.name = "fashion_mnist";
  DataBundle data = load_data(dc);
  std::vector<double> rates;
  for (int rep = 0; rep < 3; ++rep) {
    BatchLoader loader(data, data.train, 128, /*train=*/true, 0, rep, torch::kCPU);
    auto t0 = Clock::now();
    int64_t n = 0;
    for (int64_t b = 0; b < loader.num_batches(); ++b) n += loader.batch(b).first.size(0);
    rates.push_back(double(n) / since(t0));
  }
  const double loader_rate = median(rates);
  StepTime fp = time_step("small_cnn", "fp", 32, 20);
  const double step_rate = 128.0 / fp.total();
  fmt::print(
      "loader: {:.0f} images/s (Fashion-MNIST training set, batch 128, shuffled, median of 3 "
      "epochs) against {:.0f} images/s of the full-precision small_cnn step = {:.0f}x (goal >= "
      "10x)\n",
      loader_rate, step_rate, loader_rate / step_rate);
  return 0;
}

// The memory-bandwidth limit against the FP small_cnn step's time outside its convolutions
// (bench/bandwidth.sh): STREAM's copy and triad on arrays the size of the step's largest
// activation and on arrays far larger than the caches; the step and its convolutions alone
// (the rest is batch norm, ReLU, pooling, the loss and the optimizer); and each of those
// passes timed alone with the bytes it must move, set against the triad rate. Markdown.
int bench_bandwidth() {
  const int64_t act = bench::small_cnn_largest_activation(128);
  const auto near = bench::stream_rate(act), far = bench::stream_rate(int64_t(64) << 20);
  StepBench fp("small_cnn", "fp", 32);
  run_interleaved({&fp}, 1, 20);
  const double step = fp.result().total(), conv = fp.conv_seconds(), rest = step - conv;
  const auto passes = bench::small_cnn_passes(128);
  fmt::print("STREAM, {} threads, median of 10 after 2 warm-ups (GB/s, bytes read + written):\n\n",
             torch::get_num_threads());
  fmt::print("| arrays | copy | triad |\n| --- | ---: | ---: |\n");
  fmt::print("| 3 x {:.1f} MB (the step's largest activation) | {:.1f} | {:.1f} |\n", 4e-6 * double(act),
             near.copy_gbs, near.triad_gbs);
  fmt::print("| 3 x {:.1f} MB (beyond the caches) | {:.1f} | {:.1f} |\n\n", 4e-6 * double(int64_t(64) << 20),
             far.copy_gbs, far.triad_gbs);
  fmt::print("The passes of the full-precision step other than its convolutions, each alone at the "
             "step's shapes (batch 128, channels-last), median of 10: repeated on the same tensors "
             "(warm: in the caches where they fit), and with the caches emptied before each call "
             "(cold: from memory). x bound: the time over the pass's bytes at the triad rate of the "
             "first row (warm) and of the second (cold).\n\n");
  fmt::print("| pass | MB | warm ms | GB/s | x bound | cold ms | GB/s | x bound |\n"
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
  bench::Pass all{"all of them"};
  const auto row = [&](const bench::Pass& p) {
    fmt::print("| {} | {:.1f} | {:.2f} | {:.1f} | {:.2f} | {:.2f} | {:.1f} | {:.2f} |\n", p.name, p.bytes / 1e6,
               1e3 * p.seconds, p.bytes / p.seconds / 1e9, p.seconds * near.triad_gbs * 1e9 / p.bytes,
               1e3 * p.cold_seconds, p.bytes / p.cold_seconds / 1e9, p.cold_seconds * far.triad_gbs * 1e9 / p.bytes);
  };
  for (auto& p : passes) {
    row(p);
    all.bytes += p.bytes, all.seconds += p.seconds, all.cold_seconds += p.cold_seconds;
  }
  row(all);
  const double near_bound = all.bytes / (near.triad_gbs * 1e9), far_bound = all.bytes / (far.triad_gbs * 1e9);
  fmt::print("\nThe step: {:.1f} ms (median of 20), of it the convolutions alone {:.1f} ms; the rest, {:.1f} ms, "
             "against the passes' bytes at the memory triad rate, {:.1f} ms: {:.2f}x (goal <= 1.5x); at "
             "the in-cache rate {:.1f} ms ({:.2f}x). The passes alone sum to {:.1f} ms warm and {:.1f} ms "
             "cold. ",
             1e3 * step, 1e3 * conv, 1e3 * rest, 1e3 * far_bound, rest / far_bound, 1e3 * near_bound,
             rest / near_bound, 1e3 * all.seconds, 1e3 * all.cold_seconds);
  const double beyond = rest - all.cold_seconds;
  if (beyond > 0.05 * rest)
    fmt::print("The {:.1f} ms of the rest beyond the cold sum are the loss, the optimizer, the gradient "
               "zeroing and whatever the step's passes lose to each other, not timed apart here "
               "(bench/profile.sh lists the step's operators).\n", 1e3 * beyond);
  else
    fmt::print("The cold sum is the rest to within 5% ({:+.1f} ms): in the step these passes run about as "
               "they do from memory.\n", 1e3 * beyond);
  const double fwd = fp.conv_forward_seconds();
  fmt::print("\nThe floor under evaluation: the convolutions' forward alone, in inference mode at "
             "the step's shapes, {:.2f} ms per 128 images: {:.2f} s for 10,000 test images at that rate, "
             "before any batch norm, ReLU, pooling or counting.\n",
             1e3 * fwd, 10000.0 / 128.0 * fwd);
  return 0;
}

// The BLAS LibTorch calls against the convolution peak on the same cores: torch::mm of two
// 2048 x 2048 float32 matrices (median of 3) and the 1x1 convolution of the same FLOPs
// (oneDNN; median of 10), and which BLAS this process loaded. Goal: mm >= 50% of the peak.
int bench_blas() {
  const double mm = blas_gflops(), conv = conv_peak_gflops();
  fmt::print("blas: {} ({} threads): torch::mm {:.1f} GFLOP/s, 1x1 convolution {:.1f} GFLOP/s: {:.0f}% of the "
             "convolution peak (goal >= 50%)\n",
             blas_in_use(), torch::get_num_threads(), mm, conv, 100 * mm / conv);
  return 0;
}

// CIFAR-10's augmentation, one batch of 128 3x32x32 images: the per-image crop-and-flip
// loop the loader ran until 2026-12 (3 ops per image, so 384 kernel launches per batch on a
// GPU) against the one batched gather (pad_crop_flip: about 10 ops per batch), on the CPU.
int bench_augment() {
  auto x = torch::randint(0, 256, {128, 3, 32, 32}, torch::kUInt8);
  auto off = torch::randint(0, 9, {128, 2}, torch::kInt64);
  auto flip = torch::rand({128}) < 0.5;
  auto loop = [&] {
    auto padded = torch::constant_pad_nd(x, {4, 4, 4, 4}, 0);
    auto out = torch::empty_like(x);
    auto o = off.accessor<int64_t, 2>();
    auto f = flip.accessor<bool, 1>();
    for (int64_t k = 0; k < 128; ++k) {
      auto crop = padded[k].narrow(1, o[k][0], 32).narrow(2, o[k][1], 32);
      out[k].copy_(f[k] ? crop.flip({2}) : crop);
    }
    return out;
  };
  auto batched = [&] { return pad_crop_flip(x, off, flip, 4); };
  if (!torch::equal(loop(), batched())) return std::fprintf(stderr, "augment: the two differ\n"), 1;
  auto time = [](const std::function<torch::Tensor()>& f) {
    std::vector<double> t;
    for (int rep = 0; rep < 5; ++rep) {
      auto t0 = Clock::now();
      for (int i = 0; i < 50; ++i) f();
      t.push_back(since(t0) / 50 * 1e3);
    }
    return median(t);
  };
  const double a = time(loop), b = time(batched);
  fmt::print("augment: batch of 128 3x32x32, CPU, median of 5 x 50: per-image loop {:.3f} ms, batched gather "
             "{:.3f} ms ({:.1f}x)\n",
             a, b, a / b);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  tune_allocator();
  torch::set_num_threads(2);
  std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "tracker") return bench_tracker();
  if (mode == "query") return bench_query(argc > 2 ? argv[2] : "/tmp");
  if (mode == "slb" && argc > 3) return bench_slb(argv[2], std::stoi(argv[3]));
  if (mode == "step") return bench_step(argc > 2 ? argv[2] : "");
  if (mode == "step-pair" && argc > 3) return bench_step_pair(argv[2], std::stoi(argv[3]));
  if (mode == "loader") return bench_loader();
  if (mode == "diag") return bench_diag();
  if (mode == "augment") return bench_augment();
  if (mode == "blas") return bench_blas();
  if (mode == "bandwidth") return bench_bandwidth();
  if (mode == "profile" && argc > 5) {
    torch::autograd::profiler::RecordProfile guard(argv[5]);
    time_step(argv[2], argv[3], std::stoi(argv[4]), 10);
    return 0;
  }
  std::fprintf(stderr, "usage: lowbit_bench tracker | query [DIR] | slb METHOD BITS | step [JSON] | "
               "step-pair JSON ROUND | loader | diag | augment | blas | bandwidth | "
               "profile MODEL METHOD BITS TRACE_JSON\n");
  return 2;
}
