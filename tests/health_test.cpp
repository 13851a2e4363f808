// Health rules (health.*): each rule on hand-made statistics, then each stopping a real tiny
// run, and a stopped run in a grid: exit 1, status `stopped`, excluded from the report.
#include <doctest/doctest.h>

#include <fstream>

#include "core/train/health.h"
#include "core/train/trainer.h"
#include "tests/test_util.h"

using namespace lowbit;
using namespace lowbit::test;

namespace {
EpochEvent epoch_with(std::vector<LayerStat> layers, std::map<std::string, double> metrics = {}) {
  EpochEvent ev;
  ev.epoch = 2;  // the third epoch
  ev.epochs = 10;
  ev.layers = std::move(layers);
  ev.metrics = std::move(metrics);
  return ev;
}

struct Ends : Observer {
  std::vector<EpochEvent> epochs;
  std::vector<RunEndEvent> ends;
  void on_epoch_end(const EpochEvent& e) override { epochs.push_back(e); }
  void on_run_end(const RunEndEvent& e) override { ends.push_back(e); }
};

// A 4-epoch run on 320 synthetic images (10 steps an epoch) with `sets` applied.
RunConfig health_config(const std::vector<std::string>& sets) {
  RunConfig c;  // the defaults (SGD, momentum 0.9, cosine), as `lowbit train` would use them
  c.data.name = "synthetic";
  c.data.synthetic_train = 320;
  c.data.synthetic_test = 64;
  c.data.synthetic_size = 8;
  c.data.synthetic_classes = 4;
  c.batch_size = 32;
  c.epochs = 4;
  c.optim.lr = 0.5;
  for (const auto& s : sets) apply_set(c, s);
  validate(c, "test");
  return c;
}
}  // namespace

TEST_CASE("health: each epoch rule on hand-made statistics, with its exact message") {
  HealthConfig h;
  CHECK(!epoch_health(h, epoch_with({{"conv2", "wp", 0.3}, {"conv2", "wn", 0.2}, {"conv2", "sparsity", 0.5}}), 10, false));
  CHECK(*epoch_health(h, epoch_with({{"conv2", "wp", 0.3}, {"conv2", "wn", -0.25}}), 10, false) ==
        "health.ttq_scales: layer conv2 has Wn = -0.25 <= 0 at epoch 3 (its ternary values change sign); "
        "lower optim.lr, or set health.ttq_scales=false to let it run");
  CHECK(epoch_health(h, epoch_with({{"fc", "wp", 0.0}}), 10, false)->find("Wp = 0 <= 0 at epoch 3 (its ternary values collapse to zero)") != std::string::npos);
  CHECK(*epoch_health(h, epoch_with({{"layer1.0.conv1", "sparsity", 0.995}}), 10, false) ==
        "health.max_zero_fraction: layer layer1.0.conv1 is 99.50% zeros at epoch 3 (limit 99.00%); lower "
        "the threshold, or set health.max_zero_fraction=1 to let it run");
  // Activation and input sparsity are not weight sparsity.
  CHECK(!epoch_health(h, epoch_with({{"conv2", "act_sparsity", 1.0}, {"conv2", "in_sparsity", 1.0}}), 10, false));
  // Chance: off by default; at 1/classes + margin on or after the epoch named.
  auto at_chance = epoch_with({}, {{"test_acc", 0.105}, {"val_acc", 0.5}});
  CHECK(!epoch_health(h, at_chance, 10, false));
  h.chance_after_epochs = 3;
  CHECK(*epoch_health(h, at_chance, 10, false) ==
        "health.chance_after_epochs: test_acc 0.1050 is at chance (1/10 + 0.01) after 3 epochs; check "
        "optim.lr and the data, or set health.chance_after_epochs=0 to let it run");
  CHECK(!epoch_health(h, at_chance, 10, /*has_val=*/true));  // selection is on val_acc: 0.5
  h.chance_after_epochs = 4;
  CHECK(!epoch_health(h, at_chance, 10, false));  // not yet
  // Switched off.
  h.ttq_scales = false, h.max_zero_fraction = 1;
  CHECK(!epoch_health(h, epoch_with({{"conv2", "wn", -1.0}, {"conv2", "sparsity", 1.0}}), 10, false));
}

TEST_CASE("health: the gradient spike rule waits 20 steps, then compares with the mean before") {
  GradSpikeMonitor off(0);
  CHECK(!off.active());
  GradSpikeMonitor m(3);
  for (int i = 0; i < 20; ++i) CHECK(!m.step(i == 5 ? 100.0 : 1.0, 0, i));  // warm-up: no verdict
  CHECK(!m.step(16.0, 1, 0));  // mean of the 20 before is (19 + 100) / 20 = 5.95; 16 < 17.85
  // Now the mean of 21 steps is (119 + 16) / 21 = 6.4286; 20 is 3.11x of it.
  CHECK(*m.step(20.0, 1, 1) ==
        "health.grad_spike: gradient norm 20 at epoch 2, batch 2 is 3.1x the mean of the 21 steps "
        "before (6.429; limit 3x); lower optim.lr, or set health.grad_spike=0 to let it run");
}

TEST_CASE("health: each rule stops a real tiny run after the epoch it broke; the epoch is recorded") {
  struct Case {
    std::vector<std::string> sets;
    std::string rule;
    size_t epochs_recorded;
  };
  for (const auto& k : std::vector<Case>{
           {{"quant.method=ttq", "quant.threshold=0.99"}, "health.max_zero_fraction: layer conv2 is ", 1},
           {{"quant.method=ttq", "optim.lr=3"}, "health.ttq_scales: layer conv2 has Wp = ", 1},
           {{"health.chance_after_epochs=2", "health.chance_margin=1"}, "health.chance_after_epochs: test_acc ", 2},
           // The step rule stops inside epoch 3, which is therefore not recorded.
           {{"health.grad_spike=1.05"}, "health.grad_spike: gradient norm ", 2}}) {
    CAPTURE(k.rule);
    Ends obs;
    TrainResult r = train_run(health_config(k.sets), {}, obs);
    CHECK(r.status == RunStatus::kStopped);
    CHECK(r.error.rfind(k.rule, 0) == 0);
    CHECK(obs.epochs.size() == k.epochs_recorded);
    REQUIRE(obs.ends.size() == 1);
    CHECK(obs.ends[0].status == RunStatus::kStopped);
    CHECK(obs.ends[0].error == r.error);
  }
  // The defaults leave a healthy run alone.
  Ends obs;
  CHECK(train_run(health_config({"quant.method=ttq", "optim.lr=0.05"}), {}, obs).status == RunStatus::kDone);
  CHECK(obs.epochs.size() == 4);
}

TEST_CASE("health: a grid goes on past a stopped run, exits 1, and the report lists it as excluded") {
  TempDir d;
  const std::string g = d / "h.json", db = d / "r.db";
  write_tiny_experiment(g, "h", 96, 3,
                        R"("variants": {"ok": {"quant.method": "ttq"},
                                        "doomed": {"quant.method": "ttq", "quant.threshold": 0.99}})");
  auto r = run_lowbit("grid " + g + " --db " + db + " --threads-per-worker 1");
  CHECK(r.code == 1);
  CHECK(r.out.find("grid: 1 done, 0 failed, 0 diverged, 1 stopped by health rules") != std::string::npos);
  auto q = run_lowbit("query --db " + db + " --sql \"SELECT variant, status, epoch, error FROM runs ORDER BY variant\"");
  CHECK(q.out.find("doomed") != std::string::npos);
  CHECK(q.out.find("stopped") != std::string::npos);
  CHECK(q.out.find("health.max_zero_fraction: layer conv2 is") != std::string::npos);
  auto rep = run_lowbit("report --db " + db + " --experiment h --out " + d / "rep --tables main");
  CHECK(rep.code == 0);
  std::ifstream in(d / "rep/report.md");
  std::string md((std::istreambuf_iterator<char>(in)), {});
  CHECK(md.find("Excluded runs") != std::string::npos);
  CHECK(md.find("health.max_zero_fraction") != std::string::npos);
}
