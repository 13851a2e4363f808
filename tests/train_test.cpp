#include <doctest/doctest.h>

#include <iomanip>
#include <torch/torch.h>

#include <fstream>

#include <fmt/format.h>

#include "core/error.h"
#include "core/nn/torch_compat.h"
#include "core/quant/slb.h"
#include "core/quant/twn.h"
#include "core/train/trainer.h"
#include "tests/test_util.h"

using namespace lowbit;
using namespace lowbit::test;

namespace {

// Records every event for assertions.
struct Recorder : Observer {
  std::vector<EpochEvent> epochs;
  std::vector<RunEndEvent> ends;
  RunStartEvent start;
  void on_run_start(const RunStartEvent& e) override { start = e; }
  void on_epoch_end(const EpochEvent& e) override { epochs.push_back(e); }
  void on_run_end(const RunEndEvent& e) override { ends.push_back(e); }
};

// Metrics without wall-clock entries, for bit-exact comparisons.
std::map<std::string, double> timeless(std::map<std::string, double> m) {
  for (const char* k : {"epoch_seconds", "train_seconds", "images_per_second"}) m.erase(k);
  return m;
}

}  // namespace

TEST_CASE("train: a tiny synthetic run learns and emits every documented metric") {
  RunConfig c = tiny_config();
  c.epochs = 3;
  Recorder r;
  auto res = train_run(c, {}, r);
  CHECK(res.status == "done");
  REQUIRE(r.epochs.size() == 3);
  for (const char* k : {"train_loss", "train_acc", "test_loss", "test_acc", "lr", "epoch_seconds",
                        "act_sparsity_mean"})
    CHECK_MESSAGE(r.epochs[0].metrics.count(k), k);
  CHECK(r.epochs.back().metrics["test_acc"] > 0.6);  // 4 classes: chance is 0.25
  CHECK(r.epochs.back().metrics["train_loss"] < r.epochs.front().metrics["train_loss"]);
  CHECK(res.summary.count("peak_rss_bytes"));
  CHECK(res.summary["final_test_acc"] == r.epochs.back().metrics["test_acc"]);
  // Per-layer statistics: activation sparsity of every ReLU and gradient norms.
  int acts = 0, grads = 0;
  for (auto& s : r.epochs[0].layers) {
    if (s.key == "act_sparsity") {
      ++acts;
      CHECK((s.value > 0.0 && s.value < 1.0));
    }
    if (s.key == "grad_norm") {
      ++grads;
      CHECK(s.value > 0.0);
    }
  }
  CHECK(acts == 3);
  CHECK(grads == 4);
  CHECK(r.ends.size() == 1);
  CHECK(r.ends[0].status == "done");
}

TEST_CASE("train: same config and seed give bit-identical metrics; another seed differs") {
  RunConfig c = tiny_config();
  Recorder a, b, other;
  train_run(c, {}, a);
  train_run(c, {}, b);
  c.seed = 1;
  train_run(c, {}, other);
  REQUIRE(a.epochs.size() == b.epochs.size());
  for (size_t i = 0; i < a.epochs.size(); ++i)
    CHECK(timeless(a.epochs[i].metrics) == timeless(b.epochs[i].metrics));
  CHECK(timeless(a.epochs[0].metrics) != timeless(other.epochs[0].metrics));
}

TEST_CASE("train: checkpoint resume gives the same metrics as an uninterrupted run") {
  RunConfig c = tiny_config();
  c.epochs = 3;
  c.optim.schedule = LrSchedule::kCosine;
  TempDir full_dir, part_dir;
  Recorder full, part1, part2;
  TrainOptions o;
  o.checkpoint_dir = full_dir.path;
  train_run(c, o, full);
  o.checkpoint_dir = part_dir.path;
  o.stop_after_epoch = 1;
  auto stopped = train_run(c, o, part1);
  CHECK(stopped.status == "stopped");
  CHECK(part1.epochs.size() == 1);
  o.stop_after_epoch = 0;
  o.resume = true;
  train_run(c, o, part2);
  CHECK(part2.start.start_epoch == 1);
  REQUIRE(part2.epochs.size() == 2);
  CHECK(timeless(part2.epochs[0].metrics) == timeless(full.epochs[1].metrics));
  CHECK(timeless(part2.epochs[1].metrics) == timeless(full.epochs[2].metrics));
}

TEST_CASE("train: a checkpoint resumes under other observation keys, with the same metrics") {
  RunConfig c = tiny_config();
  c.epochs = 2;
  TempDir full_dir, part_dir;
  Recorder full, part1, part2;
  TrainOptions o;
  o.checkpoint_dir = full_dir.path;
  train_run(c, o, full);
  o.checkpoint_dir = part_dir.path;
  o.stop_after_epoch = 1;
  REQUIRE(train_run(c, o, part1).status == "stopped");
  // Observation keys changed between the attempts: the same identity, so the checkpoint is
  // this run's. The weights are the same, so every metric is, except the test loss, whose sum
  // over other evaluation batches differs in its last bits (measured 4e-8 relative).
  RunConfig later = c;
  later.eval_batch_size = 7;
  later.health.grad_spike = 50;
  later.checkpoint_every = 3;
  REQUIRE(config_hash(later) == config_hash(c));
  o.stop_after_epoch = 0;
  o.resume = true;
  train_run(later, o, part2);
  CHECK(part2.start.start_epoch == 1);
  REQUIRE(part2.epochs.size() == 1);
  for (auto& [k, v] : timeless(full.epochs[1].metrics)) {
    const double resumed = timeless(part2.epochs[0].metrics).at(k);
    if (k == "test_loss")
      CHECK(resumed == doctest::Approx(v).epsilon(1e-6));
    else
      CHECK_MESSAGE(resumed == v, k << " " << std::setprecision(17) << v << " vs " << resumed);
  }
}

TEST_CASE("train: resume refuses a checkpoint of another config") {
  RunConfig c = tiny_config();
  c.epochs = 1;
  TempDir d;
  TrainOptions o;
  o.checkpoint_dir = d.path;
  Recorder r;
  train_run(c, o, r);
  c.optim.lr = 0.01;
  o.resume = true;
  CHECK_THROWS_AS(train_run(c, o, r), ConfigError);
}

TEST_CASE("train: a NaN loss ends the run as diverged, naming epoch and batch") {
  RunConfig c = tiny_config();
  c.optim.lr = 1e30;
  c.optim.momentum = 0;
  c.optim.schedule = LrSchedule::kConstant;
  Recorder r;
  auto res = train_run(c, {}, r);
  CHECK(res.status == "diverged");
  CHECK(res.error.find("loss is") == 0);
  CHECK(res.error.find("at epoch 1, batch") != std::string::npos);
  REQUIRE(r.ends.size() == 1);
  CHECK(r.ends[0].status == "diverged");
}

TEST_CASE("train: adam, step schedule and validation split") {
  RunConfig c = tiny_config();
  c.optim.name = OptimizerName::kAdam;
  c.optim.lr = 0.01;
  c.optim.schedule = LrSchedule::kStep;
  c.optim.step_size = 1;
  c.optim.gamma = 0.5;
  c.data.val_fraction = 0.25;
  Recorder r;
  auto res = train_run(c, {}, r);
  CHECK(res.status == "done");
  CHECK(r.epochs[1].metrics["lr"] == doctest::Approx(0.005));
  CHECK(r.epochs[0].metrics.count("val_acc"));
  CHECK(res.summary.count("best_val_acc"));
  CHECK(r.start.train_examples == 72);
}

TEST_CASE("train: init.from_checkpoint loads the weights of a previous run") {
  RunConfig fp = tiny_config();
  fp.epochs = 2;
  TempDir d;
  TrainOptions o;
  o.checkpoint_dir = d.path;
  Recorder r_fp;
  train_run(fp, o, r_fp);
  double fp_acc = r_fp.epochs.back().metrics["test_acc"];
  // Another seed (another random init) built with init.from_checkpoint evaluates exactly
  // like the checkpoint itself: every parameter and buffer was loaded.
  RunConfig next = tiny_config();
  next.seed = 5;
  next.epochs = 1;
  next.init_from_checkpoint = checkpoint_path(d.path);
  ModelSpec spec{1, 8, 8, 4};
  auto loaded = build_network(next, spec);
  auto reference = load_checkpoint_model(checkpoint_path(d.path));
  double loaded_acc = test_accuracy(*loaded, next),
         ref_acc = test_accuracy(*reference.model, reference.config);
  CHECK(loaded_acc == ref_acc);
  CHECK(ref_acc == fp_acc);
  next.init_from_checkpoint = "";
  CHECK(test_accuracy(*build_network(next, spec), next) < fp_acc - 0.2);
  // TTQ starts from the same weights (its scales initialised from them).
  RunConfig ttq = next;
  ttq.quant.method = "ttq";
  ttq.quant.scale_init = ScaleInit::kMean;
  Recorder r_ttq;
  CHECK(train_run(ttq, {}, r_ttq).status == "done");
  ttq.init_from_checkpoint = d / "missing.pt";
  CHECK_THROWS_WITH_AS(train_run(ttq, {}, r_ttq),
                       ("init.from_checkpoint: " + d / "missing.pt" +
                        ": no such file (train the full-precision run first, or fix the path)")
                           .c_str(),
                       ConfigError);
}

namespace {
// The group that holds parameter `p`, or "" when the optimizer does not see it.
std::string group_of(const std::vector<ParamGroup>& groups, const torch::Tensor& p) {
  for (auto& g : groups)
    for (auto& q : g.params)
      if (q.unsafeGetTensorImpl() == p.unsafeGetTensorImpl()) return g.name;
  return "";
}
double decay_of(const std::vector<ParamGroup>& groups, const std::string& name) {
  for (auto& g : groups)
    if (g.name == name) return g.weight_decay;
  return -1;
}
}  // namespace

TEST_CASE(
    "train: weight decay: SLB logits never, scales only with quant.scale_weight_decay, PACT's "
    "clip as quant.act.alpha_decay says") {
  RunConfig c = tiny_config();
  c.optim.weight_decay = 1e-3;
  c.optim.bn_weight_decay = true;  // must not reach logits or scales
  c.quant.method = "slb";
  c.quant.value_set = "learned_scale";
  c.quant.act_method = "pact";
  auto net = build_network(c, {1, 8, 8, 4});
  auto groups = parameter_groups(*net, c);
  std::map<std::string, std::string> where;
  for (auto& p : net->named_parameters()) where[p.key()] = group_of(groups, p.value());
  CHECK(where["conv1.weight"] == "weights");
  CHECK(where["bn1.weight"] == "bn_and_bias");
  CHECK(where["fc.bias"] == "bn_and_bias");
  CHECK(where["conv2.quantizer.logits"] == "quantizer");
  CHECK(where["conv2.quantizer.scale"] == "scales");
  CHECK(where["act1.quantizer.alpha"] == "act_clip");
  CHECK(where["conv2.weight"] == "");  // SLB does not use the latent weight: frozen
  CHECK(!net->named_parameters()["conv2.weight"].requires_grad());
  CHECK(decay_of(groups, "weights") == 1e-3);
  CHECK(decay_of(groups, "bn_and_bias") == 1e-3);
  CHECK(decay_of(groups, "quantizer") == 0.0);
  CHECK(decay_of(groups, "scales") == 0.0);
  CHECK(decay_of(groups, "act_clip") == 1e-3);  // the PACT paper's L2 on alpha, by default
  {
    // One SGD step with no loss gradient: alpha' = alpha - lr * wd * alpha = 1 - 0.1 * 1e-3,
    // by hand 0.9999 (tolerance 1e-7, float32).
    c.optim.lr = 0.1, c.optim.momentum = 0;
    auto opt = make_optimizer(groups, c.optim);
    for (auto& p : net->parameters()) p.mutable_grad() = torch::zeros_like(p);
    opt->step();
    CHECK(net->named_parameters()["act1.quantizer.alpha"].item<double>() ==
          doctest::Approx(0.9999).epsilon(1e-7));
  }
  c.quant.act_alpha_decay = AlphaDecay::kScales;  // lowbit before the key: as the scales
  CHECK(decay_of(parameter_groups(*build_network(c, {1, 8, 8, 4}), c), "act_clip") == 0.0);
  c.quant.scale_weight_decay = true;
  CHECK(decay_of(parameter_groups(*build_network(c, {1, 8, 8, 4}), c), "scales") == 1e-3);
  CHECK(decay_of(parameter_groups(*build_network(c, {1, 8, 8, 4}), c), "act_clip") == 1e-3);
  // TTQ: Wp/Wn are scales; the official code decays them (quant.scale_weight_decay = true).
  c.quant.method = "ttq";
  c.quant.act_method = "none";
  auto ttq = build_network(c, {1, 8, 8, 4});
  auto tg = parameter_groups(*ttq, c);
  CHECK(group_of(tg, ttq->named_parameters()["conv2.quantizer.wp"]) == "scales");
  CHECK(group_of(tg, ttq->named_parameters()["conv2.quantizer.wn"]) == "scales");
  CHECK(group_of(tg, ttq->named_parameters()["conv2.weight"]) == "weights");
}

TEST_CASE("train: resuming after the last epoch rebuilds the summary from the checkpoint") {
  RunConfig c = tiny_config();
  TempDir d;
  TrainOptions o;
  o.checkpoint_dir = d.path;
  Recorder first;
  auto done = train_run(c, o, first);
  REQUIRE(done.status == RunStatus::kDone);
  o.resume = true;  // as a worker does after a kill between the last checkpoint and finish_run
  Recorder again;
  auto resumed = train_run(c, o, again);
  CHECK(resumed.already_finished);
  CHECK(!done.already_finished);
  CHECK(again.epochs.empty());  // nothing trained twice
  REQUIRE(again.ends.size() == 1);
  CHECK(again.ends[0].status == RunStatus::kDone);
  for (const char* k : {"final_test_acc", "final_train_loss", "best_test_acc", "best_epoch", "mean_epoch_seconds"}) {
    REQUIRE_MESSAGE(resumed.summary.count(k), k);
    CHECK_MESSAGE(resumed.summary[k] == done.summary[k], k);
  }
  // The command line says so and prints the results.
  std::ofstream(d / "c.json") << to_json(c).dump();
  auto r = run_lowbit("train --config " + d / "c.json" + " --out " + d.path + " --resume");
  CHECK(r.code == 0);
  CHECK(r.out.find("already finished all 2 epochs; its results:") != std::string::npos);
  CHECK(r.out.find(fmt::format("final_test_acc {:.4f}", done.summary["final_test_acc"])) != std::string::npos);
}

TEST_CASE("train: quantizer parameters get gradient norms (TTQ wp/wn, SLB logits)") {
  for (const char* method : {"ttq", "slb"}) {
    RunConfig c = tiny_config();
    c.epochs = 1;
    c.quant.method = method;
    c.quant.bits = 1;
    Recorder r;
    auto res = train_run(c, {}, r);
    REQUIRE(res.status == "done");
    std::map<std::string, int> seen;
    for (auto& s : r.epochs[0].layers)
      if (s.key.rfind("grad_norm", 0) == 0) {
        ++seen[s.key];
        CHECK_MESSAGE(s.value > 0.0, method, " ", s.layer, " ", s.key);
      }
    INFO(std::string(method));
    if (std::string(method) == "ttq") {
      CHECK(seen["grad_norm_wp"] >= 1);
      CHECK(seen["grad_norm_wn"] >= 1);
    } else {
      CHECK(seen["grad_norm_logits"] >= 1);
    }
  }
}

// flip_rate: the fraction of discrete levels that changed since the last epoch, from the
// quantizer's packed codes. By hand: TWN on w = (0.9, -0.9, 0.05, 0.8) has delta = 0.7 * 0.6625
// = 0.46375 and codes (+, -, 0, +); after moving w to (0.9, 0.9, 0.05, 0.01), delta = 0.326,
// codes (+, +, 0, 0): 2 of 4 levels changed.
TEST_CASE("train: flip_rate counts changed discrete levels; none at the first epoch, 0 when nothing moves") {
  TWNImpl twn;
  std::vector<uint8_t> last;
  CHECK(!flip_rate(twn, torch::tensor({0.9f, -0.9f, 0.05f, 0.8f}), last));  // the first epoch
  CHECK(last.size() == 4);
  auto r = flip_rate(twn, torch::tensor({0.9f, 0.9f, 0.05f, 0.01f}), last);
  REQUIRE(r);
  CHECK(*r == doctest::Approx(0.5));
  struct Rec : Observer {
    std::vector<EpochEvent> ev;
    void on_epoch_end(const EpochEvent& e) override { ev.push_back(e); }
  };
  auto flips = [](const EpochEvent& e) {
    std::map<std::string, double> out;
    for (auto& s : e.layers)
      if (s.key == "flip_rate") out[s.layer] = s.value;
    return out;
  };
  RunConfig c = tiny_config();
  c.quant.method = "ttq";
  c.epochs = 3;
  Rec moving;
  REQUIRE(train_run(c, {}, moving).status == "done");
  REQUIRE(moving.ev.size() == 3);
  CHECK(flips(moving.ev[0]).empty());
  CHECK(flips(moving.ev[1]).size() == 2);  // small_cnn's two quantized layers
  for (auto& [layer, f] : flips(moving.ev[2])) CHECK_MESSAGE((f >= 0 && f <= 1), layer);
  c.optim.lr = 1e-30;  // no float32 weight can move: no level flips
  Rec still;
  REQUIRE(train_run(c, {}, still).status == "done");
  for (auto& [layer, f] : flips(still.ev[2])) CHECK_MESSAGE(f == 0.0, layer);
  // SLB after its window closes with after_window = freeze: no gradient reaches the logits, so
  // without momentum the arg-max cannot change. (With momentum it can: the buffer the logits
  // carry from the window keeps moving them. flip_rate found it: 0.22% and 0.23% of conv2's and
  // conv3's levels flipped in the epoch after the window at momentum 0.9.)
  c = tiny_config();
  c.optim.momentum = 0;
  c.quant.method = "slb";
  c.quant.bits = 1;
  c.epochs = 3;
  c.quant.temp_start = 0.0, c.quant.temp_end = 0.34;
  Rec slb;
  REQUIRE(train_run(c, {}, slb).status == "done");
  REQUIRE(flips(slb.ev[2]).size() == 2);
  for (auto& [layer, f] : flips(slb.ev[2])) CHECK_MESSAGE(f == 0.0, layer);
}

namespace {
struct EpochRecorder : Observer {
  std::vector<EpochEvent> ev;
  void on_epoch_end(const EpochEvent& e) override { ev.push_back(e); }
};
std::map<std::string, double> layer_values(const EpochEvent& e, const std::string& key) {
  std::map<std::string, double> out;
  for (auto& s : e.layers)
    if (s.key == key) out[s.layer] = s.value;
  return out;
}
}  // namespace

TEST_CASE("train: diag.step_flips averages each step's level changes; bounds the epoch's; changes nothing trained") {
  RunConfig c = tiny_config();  // 96 examples, batches of 32: 3 steps per epoch
  c.quant.method = "ttq";
  c.epochs = 2;
  EpochRecorder off;
  REQUIRE(train_run(c, {}, off).status == "done");
  CHECK(layer_values(off.ev[1], "flip_rate_step").empty());  // only when asked
  c.diag.step_flips = true;
  EpochRecorder on;
  REQUIRE(train_run(c, {}, on).status == "done");
  REQUIRE(on.ev.size() == 2);
  CHECK(timeless(on.ev[1].metrics) == timeless(off.ev[1].metrics));  // an observation: bit-identical
  for (int e = 0; e < 2; ++e) {
    auto step = layer_values(on.ev[size_t(e)], "flip_rate_step");
    REQUIRE(step.size() == 2);  // small_cnn's two quantized layers (the first step of the run is not counted)
    for (auto& [layer, f] : step) CHECK_MESSAGE((f >= 0 && f <= 1), layer);
  }
  // A level that differs between the ends of epochs 1 and 2 changed in one of epoch 2's three
  // steps (the first compares with epoch 1's last): the epoch's flip rate is at most 3 times
  // the mean per-step rate.
  auto epoch = layer_values(on.ev[1], "flip_rate"), step = layer_values(on.ev[1], "flip_rate_step");
  for (auto& [layer, f] : epoch) CHECK_MESSAGE(f <= 3 * step.at(layer) + 1e-12, layer);
  c.optim.lr = 1e-30;  // nothing moves
  EpochRecorder still;
  REQUIRE(train_run(c, {}, still).status == "done");
  for (auto& [layer, f] : layer_values(still.ev[1], "flip_rate_step")) CHECK_MESSAGE(f == 0.0, layer);
}

TEST_CASE("train: diag.soft_eval scores the soft network; a one-hot softmax scores as the one-hot network") {
  // The quantizer: in evaluation the forward is the arg-max value unless the soft one is forced.
  QuantConfig q;
  q.method = "slb";
  q.bits = 1;  // V = {-1, 1}
  SLBImpl slb(q);
  slb.init_from(torch::zeros({1, 1}));
  {
    torch::NoGradGuard g;
    slb.logits.copy_(torch::tensor({{{0.0f, std::log(3.0f)}}}));  // p = softmax(T a) at T = 1: 1/4, 3/4
  }
  slb.eval();
  CHECK(slb.forward(torch::zeros({1, 1})).item<double>() == doctest::Approx(1.0));
  slb.set_force_soft(true);
  CHECK(slb.forward(torch::zeros({1, 1})).item<double>() == doctest::Approx(0.5).epsilon(1e-6));  // -1/4 + 3/4
  slb.set_force_soft(false);

  RunConfig c = tiny_config();
  c.quant.method = "slb";
  c.quant.bits = 1;
  c.quant.bn_mode = BnMode::kNone;  // one set of statistics for both networks
  c.quant.temp_schedule = TempSchedule::kConstant;
  c.quant.temp_t0 = 1e9;  // softmax(T a) is one-hot: the soft network is the one-hot one
  EpochRecorder off;
  REQUIRE(train_run(c, {}, off).status == "done");
  CHECK(!off.ev[1].metrics.count("test_acc_soft"));
  c.diag.soft_eval = true;
  EpochRecorder on;
  REQUIRE(train_run(c, {}, on).status == "done");
  for (int e = 0; e < 2; ++e) {
    const auto& m = on.ev[size_t(e)].metrics;
    REQUIRE(m.count("test_acc_soft"));
    CHECK(m.at("test_acc_soft") == m.at("test_acc"));
  }
  auto without = on.ev[1].metrics;
  without.erase("test_acc_soft");
  CHECK(timeless(without) == timeless(off.ev[1].metrics));  // an observation: nothing trained changes
}

// --device: a name that is no device, and cuda where this build or machine has none, fail in
// one line before anything starts: grid creates no database and trains nothing.
TEST_CASE("train: --device is checked before anything starts") {
  CHECK(error_message<ConfigError>([] { check_device("gpu"); }) == "--device gpu: expected cpu, cuda or cuda:N");
  CHECK_NOTHROW(check_device("cpu"));
  if (!torch::cuda::is_available()) {
    const std::string e = error_message<ConfigError>([] { check_device("cuda"); });
    CHECK_MESSAGE(e.rfind("--device cuda: ", 0) == 0, e);
    CHECK_MESSAGE((e.find("without CUDA") != std::string::npos || e.find("no GPU is visible") != std::string::npos), e);
    TempDir d;
    write_tiny_experiment(d / "t.json", "t", 64, 1, R"("variants": {"fp": {}})");
    auto g = run_lowbit("grid " + d / "t.json" + " --db " + d / "r.db --device cuda");
    CHECK(g.code == 2);
    CHECK_MESSAGE(g.out == "lowbit: " + e + "\n", g.out);
    CHECK(!std::ifstream(d / "r.db").good());
    CHECK(run_lowbit("train --config " + d / "t.json --device cuda:x").code == 2);
  }
}

TEST_CASE("train: runs record the LibTorch build with its CUDA and cuDNN, and old records still match") {
  const std::string b = libtorch_build();
  CHECK(b.rfind(std::string(TORCH_VERSION) + " (", 0) == 0);
  CHECK_MESSAGE((b.find("(CPU; BLAS: ") != std::string::npos || b.find("(CUDA ") != std::string::npos), b);
  CHECK_MESSAGE(b.find("; BLAS: " + blas_in_use() + ")") != std::string::npos, b);
  CHECK(blas_in_use() != "none loaded");
  CHECK(same_libtorch(b));
  CHECK(same_libtorch(TORCH_VERSION));  // a run recorded before the build was named in full
  CHECK(!same_libtorch("0.4.1"));
  CHECK(!same_libtorch(std::string(TORCH_VERSION) + " (CUDA 0.1)"));
  // Recorded before the BLAS was named: the same build without it; another BLAS differs.
  const std::string without = b.substr(0, b.find("; BLAS: ")) + ")";
  CHECK(same_libtorch(without));
  CHECK(!same_libtorch(b.substr(0, b.find("; BLAS: ")) + "; BLAS: some other BLAS)"));
}
