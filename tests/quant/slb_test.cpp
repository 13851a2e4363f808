#include <doctest/doctest.h>
#include <torch/torch.h>

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
  CHECK(slb_values(2, nlohmann::json::parse(R"({"grid": 0.5})")) == std::vector<double>{-0.5, -0.25, 0, 0.25, 0.5});
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

TEST_CASE("slb: quantizer modes: soft in training, argmax in eval and after the window") {
  QuantConfig q;
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
    CHECK((std::abs(v + 1) < 1e-6 || std::abs(v + 1.0 / 3) < 1e-6 || std::abs(v - 1.0 / 3) < 1e-6 || std::abs(v - 1) < 1e-6));
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

TEST_CASE("slb: checkpoint init puts the largest logit on the nearest value") {
  QuantConfig q;
  q.bits = 2;
  q.logit_init = "checkpoint";
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

TEST_CASE("slb: bn modes: none keeps the training statistics, calibrate_after changes them, state keeps two sets") {
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
    cfg.quant.bn_mode = mode;
    dirs.push_back(std::make_unique<lowbit::test::TempDir>());
    TrainOptions o;
    o.checkpoint_dir = dirs.back()->path;
    results[mode] = train_run(cfg, o, quiet);
    CHECK(results[mode].status == "done");
    models[mode] = load_checkpoint_model(checkpoint_path(o.checkpoint_dir));
  }
  auto none = running_stats(*models["none"].model), after = running_stats(*models["calibrate_after"].model);
  auto state_c = running_stats(*models["state"].model), state_q = running_stats(*models["state"].model, true);
  // Training is identical in all three; only what happens after it differs.
  CHECK(all_equal(none, state_c));   // state recalibrates only its discrete set
  CHECK(!all_equal(none, after));    // calibrate_after overwrote the statistics
  CHECK(!all_equal(state_c, state_q));
  CHECK(models["state"].bn_discrete);
  CHECK(!models["none"].bn_discrete);
  CHECK(results["state"].summary.count("logits_bytes"));
  // 1 bit, small_cnn on 1 channel: conv2 and conv3 have (64*32*9 + 128*64*9) weights, 2 logits each.
  CHECK(results["state"].summary["logits_bytes"] == 4.0 * 2 * (64 * 32 * 9 + 128 * 64 * 9));
}

TEST_CASE("slb: training end to end emits temperature, entropy, histograms and before/after calibration accuracy") {
  auto cfg = lowbit::test::tiny_config();
  cfg.quant.method = "slb";
  cfg.quant.bits = 2;
  cfg.epochs = 3;
  cfg.quant.temp_start = 0.0;
  cfg.quant.temp_end = 0.67;
  struct Rec : Observer {
    std::vector<EpochEvent> ev;
    void on_epoch_end(const EpochEvent& e) override { ev.push_back(e); }
  } rec;
  auto r = train_run(cfg, {}, rec);
  CHECK(r.status == "done");
  REQUIRE(rec.ev.size() == 3);
  CHECK(rec.ev[0].metrics.count("test_acc_before_calib"));
  CHECK(rec.ev[0].metrics["temperature"] == Approx(1.0));
  CHECK(rec.ev[1].metrics["temperature"] == Approx(1.2));
  std::set<std::string> keys;
  for (auto& s : rec.ev[1].layers) keys.insert(s.key);
  for (const char* k : {"temperature", "entropy", "argmax_changed", "hist_0", "hist_3", "sparsity", "act_sparsity"})
    CHECK_MESSAGE(keys.count(k), k);
}
