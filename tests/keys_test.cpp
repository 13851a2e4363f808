// The output-key table (core/train/keys.h): every key a run records is in it, once per scope,
// and docs/OUTPUTS.md is generated from it.
#include <doctest/doctest.h>

#include <fstream>
#include <set>
#include <sstream>

#include "core/train/keys.h"
#include "core/train/trainer.h"
#include "tests/test_util.h"

using namespace lowbit;

namespace {

// Collects every key a run records, by scope.
struct KeyRecorder : Observer {
  std::set<std::string> epoch, layer, run;
  std::set<double> in_bits_first, in_bits_rest;  // in_bits of the first layer, and of the others
  std::set<std::string> first_layers;
  void on_epoch_end(const EpochEvent& e) override {
    for (auto& [k, v] : e.metrics) epoch.insert(k);
    for (auto& s : e.layers) {
      layer.insert(s.key);
      if (s.key == key::kFirst) first_layers.insert(s.layer);
    }
    for (auto& s : e.layers)
      if (s.key == key::kInBits) (first_layers.count(s.layer) ? in_bits_first : in_bits_rest).insert(s.value);
  }
  void on_run_end(const RunEndEvent& e) override {
    for (auto& [k, v] : e.summary) run.insert(k);
  }
};

}  // namespace

TEST_CASE("output keys: docs/OUTPUTS.md is the generated table") {
  std::ifstream in(std::string(LOWBIT_SOURCE_DIR) + "/docs/OUTPUTS.md");
  std::stringstream ss;
  ss << in.rdbuf();
  CHECK_MESSAGE(ss.str() == output_keys_markdown(),
                "docs/OUTPUTS.md is out of date: run `build/lowbit list outputs --docs > docs/OUTPUTS.md`");
}

TEST_CASE("output keys: one row per key and scope; families end in '*'") {
  std::set<std::pair<std::string, KeyScope>> seen;
  for (const auto& k : output_keys()) {
    CAPTURE(k.name);
    CHECK(seen.insert({k.name, k.scope}).second);
    CHECK(std::string(k.description).size() > 10);
    CHECK(std::string(k.who).size() > 2);
  }
  // find_metric_key looks in summaries, then metrics: no name may be both.
  for (const auto& k : output_keys())
    if (k.scope == KeyScope::kRun) CHECK_MESSAGE(find_output_key(k.name, KeyScope::kEpoch) == nullptr, k.name);
  CHECK(find_metric_key(key::kPeakRssBytes)->scope == KeyScope::kRun);
  CHECK(find_metric_key(key::kTrainLoss)->scope == KeyScope::kEpoch);
  CHECK(find_metric_key(key::kMacs) == nullptr);  // a layer statistic
  CHECK(find_output_key("hist_3", KeyScope::kLayer) != nullptr);
  CHECK(find_output_key("hist_3", KeyScope::kEpoch) == nullptr);
  CHECK(find_output_key("no_such_key", KeyScope::kRun) == nullptr);
  CHECK(find_output_key(key::kEpochSeconds, KeyScope::kEpoch)->machine_dependent);
  CHECK_FALSE(find_output_key(key::kTestAcc, KeyScope::kEpoch)->machine_dependent);
  CHECK(find_output_key(key::kTestAcc, KeyScope::kEpoch)->percent());
}

TEST_CASE("output keys: every key each quantizer's run records is in the table, in its scope") {
  struct Method {
    const char* name;
    std::vector<std::pair<std::string, std::string>> set;
    double act_bits;  ///< in_bits of every layer but the first (the activation quantizer's bits)
  };
  const std::vector<Method> methods = {
      {"fp", {}, 32},
      {"ttq", {{"quant.method", "ttq"}}, 32},
      {"twn", {{"quant.method", "twn"}, {"quant.act.method", "dorefa"}, {"quant.act.bits", "4"}}, 4},
      {"sign", {{"quant.method", "sign"}, {"quant.act.method", "sign"}}, 1},
      {"dorefa", {{"quant.method", "dorefa"}, {"quant.bits", "2"}, {"quant.act.method", "pact"}, {"quant.act.bits", "3"}}, 3},
      {"bop", {{"quant.method", "bop"}}, 32},
      {"slb", {{"quant.method", "slb"}, {"quant.bits", "1"}, {"quant.value_set", "learned_scale"},
               {"quant.bn_mode", "calibrate_each_epoch"}, {"diag.before_calib", "true"}, {"data.val_fraction", "0.25"}},
       32},
  };
  for (const auto& m : methods) {
    CAPTURE(m.name);
    RunConfig cfg = test::tiny_config();
    cfg.epochs = 1;
    for (auto& [k, v] : m.set) apply_set(cfg, k + "=" + v);
    validate(cfg, "test");
    KeyRecorder rec;
    TrainOptions opt;
    train_run(cfg, opt, rec);
    for (auto& k : rec.epoch) CHECK_MESSAGE(find_output_key(k, KeyScope::kEpoch) != nullptr, k);
    for (auto& k : rec.layer) CHECK_MESSAGE(find_output_key(k, KeyScope::kLayer) != nullptr, k);
    for (auto& k : rec.run) CHECK_MESSAGE(find_output_key(k, KeyScope::kRun) != nullptr, k);
    // in_bits: the image's 32 bits at the first layer, the activation quantizer's elsewhere.
    CHECK(rec.in_bits_first == std::set<double>{32});
    CHECK(rec.in_bits_rest == std::set<double>{m.act_bits});
  }
}
