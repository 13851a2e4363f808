// configs/paper/ is what a researcher with a cluster runs, hundreds of GPU-hours per question,
// and none of it can run here at scale. So: each paper config is checked against its laptop
// twin in configs/suite/ (the same question: variants, axes and claims equal apart from
// scale), its description against the epochs it trains, its schedules before launch, and
// every variant trains two steps on synthetic data in CIFAR-10's binary format, through the
// CIFAR loader, augmentation and the config's networks (ResNet-20, VGG-small).
#include <doctest/doctest.h>

#include <filesystem>
#include <map>
#include <regex>
#include <set>

#include <fmt/format.h>

#include "core/config/run_config.h"
#include "core/schedule/trajectory.h"
#include "core/train/trainer.h"
#include "core/util.h"
#include "experiments/spec.h"
#include "tests/test_util.h"
#include "core/train/observer.h"

using namespace lowbit;
using nlohmann::json;
using nlohmann::ordered_json;

namespace {

const std::string kConfigs = std::string(LOWBIT_SOURCE_DIR) + "/configs/";

std::vector<std::string> names_in(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& n : list_dir(kConfigs + dir).value_or(std::vector<std::string>{}))
    if (n.size() > 5 && n.compare(n.size() - 5, 5, ".json") == 0) out.push_back(n);
  std::sort(out.begin(), out.end());
  return out;
}

ordered_json read_json(const std::string& path) { return ordered_json::parse(lowbit::test::slurp(path)); }

// A key whose value may differ between the twins: the scale (network, data, budget, recipe)
// and what is named after the network's layers.
bool scale_key(const std::string& key, const json& value) {
  for (const char* prefix : {"data.", "optim."})
    if (key.rfind(prefix, 0) == 0) return true;
  for (const char* k : {"model", "epochs", "batch_size", "eval_batch_size", "checkpoint.every", "quant.skip"})
    if (key == k) return true;
  return key == "quant.threshold" && value.is_object();  // {layer glob: t}: the layers differ
}

// A variant's settings as dotted keys (nested objects flattened down to the config keys).
void flatten(const ordered_json& j, const std::string& prefix, std::map<std::string, json>& out) {
  static const std::vector<std::string> paths = config_paths();
  for (const auto& [k, v] : j.items()) {
    const std::string key = prefix.empty() ? k : prefix + "." + k;
    const bool leaf = std::find(paths.begin(), paths.end(), key) != paths.end() || k == "axes";
    if (v.is_object() && !leaf)
      flatten(v, key, out);
    else
      out[key] = json::parse(v.dump());
  }
}

void check_same_question(const std::string& name, const std::map<std::string, json>& suite,
                         const std::map<std::string, json>& paper, const std::string& where) {
  std::set<std::string> keys;
  for (auto& [k, v] : suite) keys.insert(k);
  for (auto& [k, v] : paper) keys.insert(k);
  for (const auto& k : keys) {
    const json s = suite.count(k) ? suite.at(k) : json(), p = paper.count(k) ? paper.at(k) : json();
    if (k == "axes") continue;  // compared by check_axes
    if (scale_key(k, s.is_null() ? p : s)) continue;
    CHECK_MESSAGE(s == p, name << ": " << where << "." << k << ": suite " << s.dump() << ", paper " << p.dump());
  }
}

// Axis keys equal (the paper may add the model axis); values equal unless the key is scale.
void check_axes(const std::string& name, const json& suite, const json& paper, const std::string& where) {
  const json s = suite.is_null() ? json::object() : suite, p = paper.is_null() ? json::object() : paper;
  for (auto& [k, v] : p.items())
    CHECK_MESSAGE((s.contains(k) || k == "model"), name << ": " << where << " axis " << k << " only in the paper twin");
  for (auto& [k, v] : s.items()) {
    REQUIRE_MESSAGE(p.contains(k), name << ": " << where << " axis " << k << " only in the suite twin");
    if (!scale_key(k, v)) CHECK_MESSAGE(v == p[k], name << ": " << where << " axis " << k << " values differ");
  }
}

// The numbers the description gives as epochs: "500 epochs", "(1, 2, 4, 8 epochs", "8-epoch".
std::set<int64_t> epochs_stated(const std::string& description) {
  std::set<int64_t> out;
  static const std::regex list(R"(((?:\d[\d,]*, )*\d[\d,]*(?:,? and \d[\d,]*)?)[ -]epochs?\b)");
  for (std::sregex_iterator it(description.begin(), description.end(), list), end; it != end; ++it) {
    static const std::regex number(R"(\d[\d,]*)");
    const std::string text = (*it)[1];
    for (std::sregex_iterator n(text.begin(), text.end(), number); n != std::sregex_iterator(); ++n) {
      std::string digits = n->str();
      digits.erase(std::remove(digits.begin(), digits.end(), ','), digits.end());
      out.insert(std::stoll(digits));
    }
  }
  return out;
}

// The claims with each cell's value of a scale axis (epochs: 1, 2, 4, 8 in the suite, 50 to 500
// in the paper) replaced by its position in the axis, so that twins' claims compare equal.
ordered_json claims_at_scale(const ordered_json& definition) {
  ordered_json claims = definition.value("claims", ordered_json::array());
  const ordered_json axes = definition.value("axes", ordered_json::object());
  for (auto& c : claims)
    for (const char* side : {"a", "b"}) {
      std::vector<std::string> parts = split(c[side].get<std::string>(), ':');
      for (auto& part : parts)
        for (auto& [k, values] : axes.items()) {
          if (!scale_key(k, json::parse(values.dump()))) continue;
          for (size_t i = 0; i < values.size(); ++i)
            if (part == k + "=" + values[i].dump()) part = k + "=#" + std::to_string(i);
        }
      c[side] = join(parts, ":");
    }
  return claims;
}

std::set<int64_t> epochs_trained(const ExperimentSpec& spec) {
  std::set<int64_t> out;
  for (const auto& r : spec.runs) out.insert(r.config.epochs);
  return out;
}

}  // namespace

TEST_CASE("paper configs: every paper config has its suite twin, asking the same question") {
  const auto paper = names_in("paper"), suite = names_in("suite");
  REQUIRE(!paper.empty());
  CHECK(paper == suite);
  for (const auto& name : paper) {
    CAPTURE(name);
    const ordered_json p = read_json(kConfigs + "paper/" + name), s = read_json(kConfigs + "suite/" + name);
    CHECK(claims_at_scale(p) == claims_at_scale(s));
    check_axes(name, json::parse(s.value("axes", ordered_json()).dump()), json::parse(p.value("axes", ordered_json()).dump()),
               "axes");
    std::set<std::string> variants;
    for (auto& [v, body] : s["variants"].items()) variants.insert(v);
    for (auto& [v, body] : p["variants"].items())
      CHECK_MESSAGE(variants.count(v), name << ": variant " << v << " only in the paper twin");
    for (auto& [v, body] : s["variants"].items()) {
      REQUIRE_MESSAGE(p["variants"].contains(v), name << ": variant " << v << " only in the suite twin");
      std::map<std::string, json> fs, fp;
      flatten(body, "", fs);
      flatten(p["variants"][v], "", fp);
      check_same_question(name, fs, fp, "variants." + v);
      check_axes(name, fs.count("axes") ? fs["axes"] : json(), fp.count("axes") ? fp["axes"] : json(), "variants." + v);
    }
  }
}

TEST_CASE("paper configs: each description states exactly the epochs its runs train") {
  for (const char* dir : {"paper", "suite"}) {
    for (const auto& name : names_in(dir)) {
      const std::string path = kConfigs + dir + "/" + name;
      CAPTURE(path);
      const ExperimentSpec spec = load_experiment(path);
      const std::set<int64_t> stated = epochs_stated(spec.description), trained = epochs_trained(spec);
      CHECK_MESSAGE(stated == trained, path << ": the description states " << json(stated).dump()
                                            << " epochs, the runs train " << json(trained).dump());
    }
  }
}

TEST_CASE("paper configs: every schedule is checked before launch and passes") {
  for (const char* dir : {"paper", "suite"}) {
    for (const auto& name : names_in(dir)) {
      const std::string path = kConfigs + dir + "/" + name;
      const ExperimentSpec spec = load_experiment(path);
      for (const auto& r : spec.runs) {
        const ScheduleProblems p = check_schedules(r.config);
        CHECK_MESSAGE(p.errors.empty(), path << ": " << r.variant << ": " << (p.errors.empty() ? "" : p.errors[0]));
        CHECK_MESSAGE(p.warnings.empty(), path << ": " << r.variant << ": " << (p.warnings.empty() ? "" : p.warnings[0]));
      }
    }
  }
}

namespace {

// Synthetic CIFAR-10 in its binary format (1 label byte, then 3072 pixel bytes per record):
// five training batches of 4 records and a test batch of 8.
void write_cifar(const std::string& dir) {
  auto records = [](int n, int salt) {
    std::string out;
    for (int i = 0; i < n; ++i) {
      out += char((i + salt) % 10);
      for (int k = 0; k < 3072; ++k) out += char((k * 7 + i * 13 + salt) % 256);
    }
    return out;
  };
  for (int b = 1; b <= 5; ++b) lowbit::test::write_file(dir + "/data_batch_" + std::to_string(b) + ".bin", records(4, b));
  lowbit::test::write_file(dir + "/test_batch.bin", records(8, 9));
}

// The number of training steps of the epoch, as the trainer reports it with each batch event.
struct StepCounter : Observer {
  int64_t steps = 0;
  void on_batch(const BatchEvent& e) override { steps = e.batches; }
};

// The definition at smoke size: one seed, one epoch of two steps (20 training records, 10%
// held out, batches of 9), 8 test records; an epoch axis becomes [1].
ExperimentSpec smoke_spec(const std::string& path, const std::string& data_dir) {
  ordered_json raw = read_json(path);
  raw["seeds"] = 1;
  raw["set"] = {{"data.dir", data_dir}, {"data.train_limit", 20}, {"data.test_limit", 8}, {"batch_size", 9},
                {"eval_batch_size", 8}};
  raw.erase("claims");  // they pin the epochs axis's values, shrunk here (checked by the twin test)
  raw.erase("settle_max_seeds");  // a cap for the claims' --settle
  if (raw.contains("axes") && raw["axes"].contains("epochs")) {
    raw["axes"]["epochs"] = {1};
  } else {
    // One epoch, and two for a variant with a budget of its own (fp_same_budget, bop_long),
    // which would otherwise be the same run as its shorter twin.
    raw["base"]["epochs"] = 1;
    for (auto& [name, v] : raw["variants"].items())
      if (v.is_object() && v.contains("epochs")) v["epochs"] = 2;
  }
  return expand_experiment(raw.dump(2), path, kDefaultMaxRuns);
}

// One run per variant, the networks of a model axis taken in turn, so that each appears.
std::vector<const PlannedRun*> one_per_variant(const ExperimentSpec& spec) {
  std::vector<const PlannedRun*> out;
  std::set<std::string> done;
  for (const auto& r : spec.runs) {
    if (done.count(r.variant)) continue;
    const bool has_model_axis = r.varying.contains("model");
    const std::string want = out.size() % 2 == 0 ? "resnet20" : "vgg_small";
    if (has_model_axis && r.varying["model"] != want) continue;
    done.insert(r.variant);
    out.push_back(&r);
  }
  for (const auto& r : spec.runs)  // a variant whose runs all have the other network
    if (!done.count(r.variant)) done.insert(r.variant), out.push_back(&r);
  return out;
}

}  // namespace

TEST_CASE("paper configs: every variant trains two steps on CIFAR-10-format data") {
  lowbit::test::TempDir data, runs;
  write_cifar(data.path);
  std::set<std::string> models;
  std::map<std::string, std::string> checkpoints;  // training hash -> its checkpoint
  for (const auto& name : names_in("paper")) {
    const std::string path = kConfigs + "paper/" + name;
    const ExperimentSpec spec = smoke_spec(path, data.path);
    std::function<std::string(const PlannedRun&)> train = [&](const PlannedRun& r) -> std::string {
      const std::string hash = training_hash(r.config);
      if (checkpoints.count(hash)) return checkpoints[hash];
      RunConfig cfg = r.config;
      if (!cfg.init_from_run.empty()) {  // the parent (variant@training hash) first, as lowbit grid does
        const std::string parent_hash = cfg.init_from_run.substr(cfg.init_from_run.find('@') + 1);
        const auto parent = std::find_if(spec.runs.begin(), spec.runs.end(),
                                         [&](const PlannedRun& p) { return training_hash(p.config) == parent_hash; });
        REQUIRE(parent != spec.runs.end());
        cfg.init_from_checkpoint = train(*parent);
        cfg.init_from_run.clear();
      }
      TrainOptions opt;
      opt.checkpoint_dir = runs / hash;
      std::filesystem::create_directories(opt.checkpoint_dir);
      StepCounter steps;
      const TrainResult result = train_run(cfg, opt, steps);
      CHECK_MESSAGE(result.status == RunStatus::kDone, name << ": " << r.variant << ": " << result.error);
      CHECK_MESSAGE(steps.steps == 2, name << ": " << r.variant);
      models.insert(cfg.model);
      return checkpoints[hash] = opt.checkpoint_dir + "/checkpoint.pt";
    };
    for (const PlannedRun* r : one_per_variant(spec)) {
      CAPTURE(name);
      CAPTURE(r->variant);
      train(*r);
    }
  }
  CHECK(models == std::set<std::string>{"resnet20", "vgg_small"});
}
