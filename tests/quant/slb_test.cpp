#include <doctest/doctest.h>
#include <torch/torch.h>

#include "core/data/dataset.h"
#include "core/error.h"
#include "core/models/models.h"
#include "core/nn/qlayers.h"
#include "core/nn/state_bn.h"
#include "core/quant/registry.h"
#include "core/quant/slb.h"
#include "core/train/trainer.h"
#include "tests/test_util.h"

using namespace lowbit;
using doctest::Approx;

TEST_CASE("slb: value sets for 1-4 bits, custom lists and grids") {
  CHECK(slb_values(1, "linspace") == std::vector<double>{-1, 1});
  auto v2 = slb_values(2, "linspace");
  REQUIRE(v2.size() == 4);
  CHECK(v2[1] == Approx(-1.0 / 3));
  CHECK(v2[2] == Approx(1.0 / 3));
  CHECK(slb_values(3, "linspace").size() == 8);
  CHECK(slb_values(4, "linspace").size() == 16);
  CHECK(slb_values(4, "linspace").back() == Approx(1.0));
  CHECK(slb_values(2, nlohmann::json::parse("[0.5, -1, 0]")) == std::vector<double>{-1, 0, 0.5});
  CHECK(slb_values(2, nlohmann::json::parse(R"({"grid": 0.5})")) ==
        std::vector<double>{-0.5, -0.25, 0, 0.25, 0.5});
  CHECK(slb_values(1, nlohmann::json::parse(R"({"grid": 1})")) == std::vector<double>{-1, 0, 1});
  CHECK_THROWS_AS(slb_values(2, nlohmann::json::parse("[1, 1]")), ConfigError);
}

TEST_CASE("slb: the expectation equals a hand computation") {
  // Two weights, values {-1, 0, 1}, T = 2.
  auto logits = torch::tensor({0.0, 0.5, 1.0, 1.0, 0.0, -1.0}, torch::kFloat64).view({2, 3});
  auto values = torch::tensor({-1.0, 0.0, 1.0}, torch::kFloat64);
  auto w = slb_soft_expectation(logits, values, 2.0);
  // Weight 0: exp(0), exp(1), exp(2) -> (e^2 - 1) / (1 + e + e^2).
  double e = std::exp(1.0);
  CHECK(w[0].item<double>() == Approx((e * e - 1) / (1 + e + e * e)));
  // Weight 1: exp(2), exp(0), exp(-2) -> (e^-2 - e^2) / (e^2 + 1 + e^-2).
  CHECK(w[1].item<double>() == Approx((1 / (e * e) - e * e) / (e * e + 1 + 1 / (e * e))));
}

TEST_CASE("slb: as T grows the expectation converges to the argmax value") {
  auto logits = torch::randn({50, 4}, torch::kFloat64);
  auto values = torch::tensor({-1.0, -1.0 / 3, 1.0 / 3, 1.0}, torch::kFloat64);
  auto hard = values.index_select(0, logits.argmax(-1));
  double prev = 1e9;
  for (double T : {1.0, 10.0, 100.0, 1e4}) {
    double err = (slb_soft_expectation(logits, values, T) - hard).abs().max().item<double>();
    CHECK(err <= prev + 1e-12);
    prev = err;
  }
  CHECK(prev < 1e-6);
}

TEST_CASE("slb: the custom backward equals autograd on the plain formula") {
  auto a1 = torch::randn({3, 2, 3, 3, 4}, torch::kFloat64).requires_grad_(true);
  auto a2 = a1.detach().clone().requires_grad_(true);
  auto values = torch::tensor({-1.0, -0.2, 0.3, 1.0}, torch::kFloat64);
  auto g = torch::randn({3, 2, 3, 3}, torch::kFloat64);
  double T = 3.7;
  (slb_soft_expectation(a1, values, T) * g).sum().backward();
  (torch::matmul(torch::softmax(a2 * T, -1), values) * g).sum().backward();
  CHECK(torch::allclose(a1.grad(), a2.grad(), 1e-10, 1e-12));
}

TEST_CASE("slb: the float32 CPU kernel equals the plain formula") {
  // The fused CPU path (float32) against autograd on softmax/matmul, for value sets of 2, 3, 4
  // and 16, a temperature that makes a * T large (the max shift must keep exp finite) and one
  // that keeps it small.
  // - W against ATen's float32 ops: the same roundings of a * T, so within 1e-6 absolute
  //   (|v| <= 1). (The gradients are not compared in float32: autograd's softmax backward is a
  //   different, equally rounded formula.)
  // - Against float64 on the same (float32) logits: float32's rounding of a * T alone moves
  //   p by up to |a * T| * 2^-24 relatively, so the bound is 4 * 2^-24 * max |a * T| (+1e-6).
  for (int64_t K : {2, 3, 4, 16}) {
    for (double T : {0.7, 40.0}) {
      CAPTURE(K);
      CAPTURE(T);
      auto a32 = (torch::randn({5, 3, 3, 3, K}) * 3).requires_grad_(true);
      auto v32 = torch::linspace(-1, 1, K);
      auto g32 = torch::randn({5, 3, 3, 3});
      auto w32 = slb_soft_expectation(a32, v32, T);
      (w32 * g32).sum().backward();
      auto w_aten = torch::matmul(torch::softmax(a32.detach() * T, -1), v32);
      auto ref_in = a32.detach().to(torch::kFloat64).requires_grad_(true);
      auto w64 = torch::matmul(torch::softmax(ref_in * T, -1), v32.to(torch::kFloat64));
      (w64 * g32.to(torch::kFloat64)).sum().backward();

      CHECK(torch::isfinite(w32).all().item<bool>());
      const double gscale = std::max(1.0, ref_in.grad().abs().max().item<double>());
      CHECK((w32 - w_aten).abs().max().item<double>() < 1e-6);
      const double tol = 1e-6 + 4 * std::ldexp(1.0, -24) * (a32.abs().max().item<double>() * T);
      CHECK((w32.to(torch::kFloat64) - w64).abs().max().item<double>() < tol);
      CHECK((a32.grad().to(torch::kFloat64) - ref_in.grad()).abs().max().item<double>() <
            tol * gscale);
    }
  }
}

TEST_CASE("slb: quantizer modes: soft in training, argmax in eval and after the window") {
  QuantConfig q;
  q.temp_window = TempWindow::kFractional;  // the arithmetic under test
  q.method = "slb";
  q.bits = 2;
  SLBImpl s(q);
  auto w = torch::randn({4, 3, 3, 3});
  s.init_from(w);
  CHECK(s.logits.sizes() == torch::IntArrayRef({4, 3, 3, 3, 4}));
  s.train();
  auto soft = s.forward(w);
  s.eval();
  auto hard = s.forward(w);
  auto levels = std::get<0>(torch::_unique(hard));
  CHECK(levels.numel() <= 4);
  for (int64_t i = 0; i < levels.numel(); ++i) {
    double v = levels[i].item<double>();
    CHECK((std::abs(v + 1) < 1e-6 || std::abs(v + 1.0 / 3) < 1e-6 || std::abs(v - 1.0 / 3) < 1e-6 ||
           std::abs(v - 1) < 1e-6));
  }
  CHECK(!torch::equal(soft, hard));
  s.train();
  s.set_progress(7.0, 10);  // default window 0.2..0.6: past the end
  CHECK(s.hard());
  CHECK(torch::equal(s.forward(w).detach(), hard));
  StatMap st;
  s.collect_stats(w, st);
  double total = 0;
  for (int k = 0; k < 4; ++k) total += st["hist_" + std::to_string(k)];
  CHECK(total == Approx(1.0));
  CHECK(st["sparsity"] == 0.0);  // 0 is not in linspace(-1, 1, 4)
  CHECK(st["temperature"] == Approx(std::pow(1.2, 4)));
}

// He-normal in fan_out mode over the logit tensor, as the golden-stick port initialises its
// 5-D weight: std = sqrt(2 / (out * kh * kw * K)). Empirical std over 18,432 * K draws has
// a relative standard error below 0.6%; tolerance 3%.
TEST_CASE("slb: logits start He-normal with fan_out = out * k * k * |V| at 1, 2 and 4 bits") {
  for (int bits : {1, 2, 4}) {
    const int64_t K = int64_t(1) << bits;
    QuantConfig q;
    q.temp_window = TempWindow::kFractional;  // the arithmetic under test
    q.bits = bits;
    SLBImpl s(q);
    torch::manual_seed(1);
    s.init_from(torch::randn({64, 32, 3, 3}));
    const double expected = std::sqrt(2.0 / double(64 * 3 * 3 * K));
    CHECK(slb_init_std({64, 32, 3, 3, K}) == Approx(expected).epsilon(1e-15));
    CHECK_MESSAGE(s.logits.std().item<double>() == Approx(expected).epsilon(0.03), bits << " bits");
    CHECK(std::abs(s.logits.mean().item<double>()) < expected * 0.03);
  }
  // A linear layer's logits (out, in, K): fan_out = out * K.
  CHECK(slb_init_std({10, 128, 4}) == Approx(std::sqrt(2.0 / 40.0)).epsilon(1e-15));
}

TEST_CASE("slb: after the window, freeze sends no gradient to the logits, ste does") {
  for (const char* mode : {"freeze", "ste"}) {
    QuantConfig q;
    q.temp_window = TempWindow::kFractional;  // the arithmetic under test
    q.bits = 2;
    q.temp_after_window = *parse_choice<AfterWindow>(mode);
    SLBImpl s(q);
    auto w = torch::randn({4, 3, 3, 3});
    s.init_from(w);
    s.train();
    s.set_progress(7.0, 10);  // default window 0.2..0.6: closed
    REQUIRE(s.hard());
    auto out = s.forward(w);
    s.eval();
    CHECK(torch::equal(out.detach(), s.forward(w)));  // the one-hot forward either way
    s.train();
    if (std::string(mode) == "freeze") {
      CHECK(!out.requires_grad());
    } else {
      (out * torch::randn_like(out)).sum().backward();
      REQUIRE(s.logits.grad().defined());
      CHECK(s.logits.grad().abs().sum().item<double>() > 0);
    }
  }
}

TEST_CASE("slb: checkpoint init puts the largest logit on the nearest value") {
  QuantConfig q;
  q.temp_window = TempWindow::kFractional;  // the arithmetic under test
  q.bits = 2;
  q.logit_init = LogitInit::kCheckpoint;
  SLBImpl s(q);
  auto w = torch::tensor({-0.9f, -0.2f, 0.3f, 1.0f}).view({2, 2});
  s.init_from(w);
  CHECK(torch::equal(s.logits.argmax(-1).flatten(), torch::tensor({0, 1, 2, 3}, torch::kInt64)));
}

namespace {
// Running means of every StateBatchNorm: continuous (q = false) or discrete (q = true) state.
std::vector<torch::Tensor> running_stats(Network& m, bool q = false) {
  std::vector<torch::Tensor> out;
  for (auto& mod : m.modules(false))
    if (auto bn = std::dynamic_pointer_cast<StateBatchNormImpl>(mod))
      out.push_back((q ? bn->running_mean_q : bn->running_mean).clone());
  return out;
}
bool all_equal(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  for (size_t i = 0; i < a.size(); ++i)
    if (!torch::equal(a[i], b[i])) return false;
  return a.size() == b.size();
}
struct Quiet : Observer {};
}  // namespace

TEST_CASE(
    "slb: bn modes: none keeps the training statistics, calibrate_after changes them, state keeps "
    "two sets") {
  auto cfg = lowbit::test::tiny_config();
  cfg.quant.method = "slb";
  cfg.quant.bits = 1;
  cfg.epochs = 1;
  cfg.quant.bn_calib_batches = 2;
  Quiet quiet;
  std::map<std::string, CheckpointModel> models;
  std::map<std::string, TrainResult> results;
  std::vector<std::unique_ptr<lowbit::test::TempDir>> dirs;
  for (const char* mode : {"none", "calibrate_after", "state"}) {
    cfg.quant.bn_mode = *parse_choice<BnMode>(mode);
    dirs.push_back(std::make_unique<lowbit::test::TempDir>());
    TrainOptions o;
    o.checkpoint_dir = dirs.back()->path;
    results[mode] = train_run(cfg, o, quiet);
    CHECK(results[mode].status == "done");
    models[mode] = load_checkpoint_model(checkpoint_path(o.checkpoint_dir));
  }
  auto none = running_stats(*models["none"].model),
       after = running_stats(*models["calibrate_after"].model);
  auto state_c = running_stats(*models["state"].model),
       state_q = running_stats(*models["state"].model, true);
  // Training is identical in all three; only what happens after it differs.
  CHECK(all_equal(none, state_c));  // state recalibrates only its discrete set
  CHECK(!all_equal(none, after));   // calibrate_after overwrote the statistics
  CHECK(!all_equal(state_c, state_q));
  CHECK(models["state"].bn_state == BNState::kDiscrete);
  CHECK(models["none"].bn_state == BNState::kContinuous);
  CHECK(results["state"].summary.count("logits_bytes"));
  // 1 bit, small_cnn on 1 channel: conv2 and conv3 have (64*32*9 + 128*64*9) weights, 2 logits
  // each.
  CHECK(results["state"].summary["logits_bytes"] == 4.0 * 2 * (64 * 32 * 9 + 128 * 64 * 9));
}

TEST_CASE(
    "slb: training end to end emits temperature, entropy, histograms and before/after calibration "
    "accuracy") {
  auto cfg = lowbit::test::tiny_config();
  cfg.quant.method = "slb";
  cfg.quant.bits = 2;
  cfg.epochs = 3;
  cfg.quant.temp_start = 0.0;
  cfg.quant.temp_end = 0.67;
  cfg.quant.bn_mode = BnMode::kCalibrateEachEpoch;  // the mode that reports accuracy before calibration
  cfg.diag.before_calib = true;                 // an observation, off by default
  struct Rec : Observer {
    std::vector<EpochEvent> ev;
    void on_epoch_end(const EpochEvent& e) override { ev.push_back(e); }
  } rec;
  auto r = train_run(cfg, {}, rec);
  CHECK(r.status == "done");
  REQUIRE(rec.ev.size() == 3);
  CHECK(rec.ev[0].metrics.count("test_acc_before_calib"));
  // Off (the default), the same run trains the same weights: every other metric but the
  // seconds is equal, the hash too, and the extra scoring is gone.
  cfg.diag.before_calib = false;
  Rec off;
  REQUIRE(train_run(cfg, {}, off).status == "done");
  REQUIRE(off.ev.size() == 3);
  CHECK(!off.ev[0].metrics.count("test_acc_before_calib"));
  for (size_t e = 0; e < 3; ++e)
    for (const char* k : {"train_loss", "train_acc", "test_loss", "test_acc", "temperature"})
      CHECK_MESSAGE(off.ev[e].metrics.at(k) == rec.ev[e].metrics.at(k), k << " epoch " << e);
  RunConfig on = cfg;
  on.diag.before_calib = true;
  CHECK(config_hash(on) == config_hash(cfg));
  CHECK(rec.ev[0].metrics["temperature"] == Approx(1.0));
  CHECK(rec.ev[1].metrics["temperature"] == Approx(1.2));
  std::set<std::string> keys;
  for (auto& s : rec.ev[1].layers) keys.insert(s.key);
  for (const char* k :
       {"temperature", "entropy", "argmax_changed", "hist_0", "hist_3", "sparsity", "act_sparsity"})
    CHECK_MESSAGE(keys.count(k), k);
}

namespace {
template <typename T>
std::shared_ptr<T> named(Network& m, const std::string& name) {
  for (auto& item : m.named_modules("", false))
    if (item.key() == name) return std::dynamic_pointer_cast<T>(item.value());
  return nullptr;
}

// small_cnn's one-hot network (`net`'s SLB layers at their arg-max, the first conv full
// precision) over the first `batches` batches of `loader`, by hand with plain functional ops:
// each BN's running mean and unbiased variance updated at momentum 0.1 from `mean` / `var`.
void hand_bn_updates(Network& net, const BatchLoader& loader, int64_t batches,
                     std::map<std::string, torch::Tensor>& mean, std::map<std::string, torch::Tensor>& var) {
  namespace F = torch::nn::functional;
  auto hard = [&](const std::string& layer) {
    auto l = named<QLayerImpl>(net, layer);
    auto q = std::dynamic_pointer_cast<SLBImpl>(l->quantizer());
    return q ? q->values.index_select(0, q->logits.argmax(-1).flatten()).view(l->weight.sizes())
             : l->weight.detach();
  };
  torch::NoGradGuard g;
  for (int64_t b = 0; b < batches; ++b) {
    auto x = loader.batch(b).first;
    int i = 1;
    for (const std::string layer : {"conv1", "conv2", "conv3"}) {
      auto h = F::conv2d(x, hard(layer), F::Conv2dFuncOptions().padding(1));  // (B, C, H, W)
      torch::Tensor m = h.mean({0, 2, 3});
      torch::Tensor v_biased = h.var(std::vector<int64_t>{0, 2, 3}, false),
                    v = h.var(std::vector<int64_t>{0, 2, 3}, true);
      std::string bn = "bn" + std::to_string(i++);
      mean[bn] = 0.9 * mean[bn] + 0.1 * m;
      var[bn] = 0.9 * var[bn] + 0.1 * v;
      x = torch::relu((h - m.view({1, -1, 1, 1})) / torch::sqrt(v_biased.view({1, -1, 1, 1}) + 1e-5));
      if (layer != "conv3") x = F::max_pool2d(x, F::MaxPool2dFuncOptions(2));
    }
  }
}
}  // namespace

// bn_mode = state: after every step a no-gradient one-hot forward of the batch updates the
// discrete statistics with momentum 0.1. With lr = 1e-30 no float32 weight can move, so the
// two steps' hard networks are the initial one and the update can be computed by hand with
// plain functional ops: r = 0.9 (0.9 r0 + 0.1 b0) + 0.1 b1, var unbiased. Tolerance 1e-5.
TEST_CASE(
    "slb: state batch norm: two steps give the hand-computed momentum update of the discrete "
    "statistics") {
  auto cfg = lowbit::test::tiny_config();
  cfg.quant.method = "slb";
  cfg.quant.bits = 1;
  cfg.quant.bn_mode = BnMode::kState;
  cfg.data.synthetic_train = 64;  // two batches of 32: two steps
  cfg.epochs = 1;
  cfg.optim.lr = 1e-30;
  lowbit::test::TempDir dir;
  TrainOptions o;
  o.checkpoint_dir = dir.path;
  Quiet quiet;
  REQUIRE(train_run(cfg, o, quiet).status == "done");
  auto trained = load_checkpoint_model(checkpoint_path(dir.path));

  // The initial network (same seed) and the two training batches, by hand.
  DataBundle data = load_data(cfg.data);
  auto net = build_network(cfg, ModelSpec{data.channels, data.height, data.width, data.classes});
  std::map<std::string, torch::Tensor> mean, var;
  for (const std::string bn : {"bn1", "bn2", "bn3"})
    mean[bn] = torch::zeros({1}), var[bn] = torch::ones({1});
  BatchLoader loader(data, data.train, cfg.batch_size, true, uint64_t(cfg.seed), 0, torch::kCPU);
  REQUIRE(loader.num_batches() == 2);
  hand_bn_updates(*net, loader, 2, mean, var);
  for (const std::string bn : {"bn1", "bn2", "bn3"}) {
    auto m = named<StateBatchNormImpl>(*trained.model, bn);
    CHECK_MESSAGE(torch::allclose(m->running_mean_q, mean[bn], 1e-5, 1e-6), bn);
    CHECK_MESSAGE(torch::allclose(m->running_var_q, var[bn], 1e-5, 1e-6), bn);
    // bn1 follows a full-precision conv: both states see the same input. After an SLB layer
    // the continuous (soft) statistics differ from the discrete ones.
    if (bn != "bn1")
      CHECK_MESSAGE(!torch::allclose(m->running_mean, m->running_mean_q, 1e-3, 1e-4), bn);
  }
}

// bn_mode = calibrate_port: 2 epochs, window start 0.5: int(2 * 0.5) = 1, so the port
// calibrates after epoch 2 only. With lr = 1e-30 no float32 weight can move, so the pass is
// computable by hand: start from the continuous statistics a run with bn_mode none ends with
// (running statistics never influence training, so training is the same), then
// r <- 0.9 r + 0.1 b over every batch of the calibration loader, b the one-hot network's batch
// mean and unbiased variance: no reset, the whole training set. Tolerance 1e-5.
TEST_CASE(
    "slb: calibrate_port continues the running average over the whole training set after the "
    "window's start, then evaluates with batch statistics, as the port's BNCalibrationCallback") {
  auto cfg = lowbit::test::tiny_config();  // 96 training examples, batch 32: 3 batches
  cfg.quant.method = "slb";
  cfg.quant.bits = 1;
  cfg.epochs = 2;
  cfg.quant.temp_start = 0.5;
  cfg.optim.lr = 1e-30;
  struct Rec : Observer {
    std::vector<EpochEvent> ev;
    void on_epoch_end(const EpochEvent& e) override { ev.push_back(e); }
  };
  std::map<std::string, CheckpointModel> models;
  std::map<std::string, Rec> recs;
  std::vector<std::unique_ptr<lowbit::test::TempDir>> dirs;
  for (const char* mode : {"none", "calibrate_port"}) {
    cfg.quant.bn_mode = *parse_choice<BnMode>(mode);
    dirs.push_back(std::make_unique<lowbit::test::TempDir>());
    TrainOptions o;
    o.checkpoint_dir = dirs.back()->path;
    REQUIRE(train_run(cfg, o, recs[mode]).status == "done");
    models[mode] = load_checkpoint_model(checkpoint_path(o.checkpoint_dir));
  }
  const auto& ev = recs["calibrate_port"].ev;
  REQUIRE(ev.size() == 2);
  CHECK(!port_calibrates(cfg, 1));
  CHECK(port_calibrates(cfg, 2));
  CHECK(ev[0].metrics.at("calib_seconds") == 0);
  CHECK(ev[1].metrics.at("calib_seconds") > 0);
  // Before the first calibration both modes evaluate alike (the running statistics).
  CHECK(ev[0].metrics.at("test_acc") == recs["none"].ev[0].metrics.at("test_acc"));
  CHECK(ev[0].metrics.at("test_loss") == recs["none"].ev[0].metrics.at("test_loss"));
  auto& port = models["calibrate_port"];
  CHECK(port.bn_state == BNState::kBatch);  // the port never resets use_batch_statistics
  CHECK(models["none"].bn_state == BNState::kContinuous);

  DataBundle data = load_data(cfg.data);
  auto net = build_network(cfg, ModelSpec{data.channels, data.height, data.width, data.classes});
  std::map<std::string, torch::Tensor> mean, var;
  for (const std::string bn : {"bn1", "bn2", "bn3"}) {
    auto m = named<StateBatchNormImpl>(*models["none"].model, bn);
    mean[bn] = m->running_mean.clone(), var[bn] = m->running_var.clone();
  }
  BatchLoader loader(data, data.train, cfg.batch_size, true,
                     mix_seed(uint64_t(cfg.seed), kPortCalibrationStream, 1), 1, torch::kCPU);
  REQUIRE(loader.num_batches() == 3);
  hand_bn_updates(*net, loader, 3, mean, var);
  torch::NoGradGuard g;
  for (const std::string bn : {"bn1", "bn2", "bn3"}) {
    auto m = named<StateBatchNormImpl>(*port.model, bn);
    CHECK_MESSAGE(torch::allclose(m->running_mean, mean[bn], 1e-5, 1e-6), bn);
    CHECK_MESSAGE(torch::allclose(m->running_var, var[bn], 1e-5, 1e-6), bn);
  }
  // lowbit eval of the checkpoint evaluates as the run did: with the test batches' statistics.
  CHECK(test_accuracy(*port.model, port.config) == ev[1].metrics.at("test_acc"));
}

// The four modes answer four different questions. Per-epoch test accuracy (and loss) differs
// between every pair; the final accuracies of calibrate_after and calibrate_each_epoch are
// equal by construction (the last calibration is a pure function of the final weights, and
// running statistics never influence training in these modes).
TEST_CASE("slb: the four bn modes give four different test_acc curves, and report their cost") {
  auto cfg = lowbit::test::tiny_config();
  cfg.quant.method = "slb";
  cfg.quant.bits = 1;
  cfg.epochs = 3;
  cfg.data.synthetic_test = 192;
  cfg.eval_batch_size = 64;
  cfg.quant.bn_calib_batches = 2;
  struct Rec : Observer {
    std::vector<EpochEvent> ev;
    std::map<std::string, double> summary;
    void on_epoch_end(const EpochEvent& e) override { ev.push_back(e); }
    void on_run_end(const RunEndEvent& e) override { summary = e.summary; }
  };
  std::map<std::string, std::vector<std::pair<double, double>>> curves;
  std::map<std::string, Rec> recs;
  for (const char* mode : {"state", "none", "calibrate_after", "calibrate_each_epoch"}) {
    cfg.quant.bn_mode = *parse_choice<BnMode>(mode);
    auto& rec = recs[mode];
    REQUIRE(train_run(cfg, {}, rec).status == "done");
    REQUIRE(rec.ev.size() == 3);
    for (auto& e : rec.ev)
      curves[mode].push_back({e.metrics.at("test_acc"), e.metrics.at("test_loss")});
    CHECK(rec.summary.count("mean_bn_seconds"));
  }
  std::vector<std::string> modes = {"state", "none", "calibrate_after", "calibrate_each_epoch"};
  for (size_t i = 0; i < modes.size(); ++i)
    for (size_t j = i + 1; j < modes.size(); ++j)
      CHECK_MESSAGE(curves[modes[i]] != curves[modes[j]], modes[i] << " vs " << modes[j]);
  CHECK(curves["calibrate_after"][0] == curves["none"][0]);  // uncalibrated until the last epoch
  CHECK(curves["calibrate_after"][2].first == curves["calibrate_each_epoch"][2].first);
  // Cost: state pays a discrete pass every step, calibration only where it calibrates.
  CHECK(recs["state"].ev[0].metrics.at("state_bn_seconds") > 0);
  CHECK(recs["state"].ev[0].metrics.at("calib_seconds") == 0);
  CHECK(recs["none"].ev[0].metrics.at("state_bn_seconds") == 0);
  CHECK(recs["calibrate_after"].ev[0].metrics.at("calib_seconds") == 0);
  CHECK(recs["calibrate_after"].ev[2].metrics.at("calib_seconds") > 0);
  CHECK(recs["calibrate_each_epoch"].ev[0].metrics.at("calib_seconds") > 0);
  // diag.before_calib is off by default: no second scoring of the test set.
  CHECK(!recs["calibrate_each_epoch"].ev[0].metrics.count("test_acc_before_calib"));
  CHECK(!recs["state"].ev[0].metrics.count("test_acc_before_calib"));
}

// Calibration uses the first n full training batches in file order (an unshuffled,
// unaugmented loader, so the same for every seed and epoch); the short last batch never.
TEST_CASE("slb: calibration batches are full batches, capped by the training set") {
  auto cfg = lowbit::test::tiny_config();  // 96 examples, batch 32
  cfg.quant.bn_calib_batches = 10;
  CHECK(calibration_batches(cfg, 96) == 3);
  CHECK(calibration_batches(cfg, 95) == 2);  // the short last batch is never used
  cfg.quant.bn_calib_batches = 2;
  CHECK(calibration_batches(cfg, 96) == 2);
  cfg.quant.method = "slb";
  cfg.quant.bn_mode = BnMode::kCalibrateAfter;
  cfg.data.synthetic_train = 20;
  Quiet quiet;
  CHECK_THROWS_WITH_AS(train_run(cfg, {}, quiet),
                       "quant.bn_mode: calibrate_after needs at least one full training batch, but "
                       "the training set has 20 "
                       "examples and batch_size is 32 (lower batch_size or use more data)",
                       ConfigError);
}

// The soft-hard gap by hand (numpy): values (-1, 1), logits (0, 1) and (2, 0) at T = 1:
// E = (0.4621, -0.7616), arg-max values (1, -1): ||E - h|| / ||h|| = 0.4160260202129773.
TEST_CASE("slb: the soft-hard gap is the relative distance of the expected weights from the arg-max") {
  QuantConfig q;
  q.method = "slb";
  q.bits = 1;
  q.temp_window = TempWindow::kFractional;  // the arithmetic under test
  SLBImpl s(q);
  s.init_from(torch::zeros({2, 1}));
  torch::NoGradGuard g;
  s.logits.copy_(torch::tensor({0.f, 1.f, 2.f, 0.f}).view(s.logits.sizes()));
  s.set_progress(0, 10);  // before the window: T = T0 = 1
  StatMap out;
  s.collect_stats(torch::zeros({2, 1}), out);
  CHECK(out.at("soft_hard_gap") == doctest::Approx(0.4160260202129773).epsilon(1e-6));
}
