#include <doctest/doctest.h>

#include "core/error.h"
#include "experiments/spec.h"

#include <map>

using namespace lowbit;

namespace {
const char* kGrid = R"({
  "name": "g",
  "base": {"data": {"name": "synthetic"}, "epochs": 1},
  "axes": {"optim.lr": [0.1, 0.05]},
  "variants": {
    "fp": {"quant.method": "fp"},
    "ttq": {"quant": {"method": "ttq"}, "axes": {"quant.threshold": [0.05, 0.1, 0.2]}}
  },
  "exclude": [{"variant": "ttq", "optim.lr": 0.05, "quant.threshold": 0.2}],
  "seeds": 2
})";
}  // namespace

TEST_CASE("spec: axes x variants x seeds with excludes and per-variant axes") {
  auto s = parse_experiment(kGrid, "g.json");
  // fp: 2 lr x 2 seeds = 4; ttq: 2 lr x 3 thresholds x 2 seeds = 12, minus 1 x 2 seeds excluded.
  CHECK(s.runs.size() == 4 + 12 - 2);
  CHECK(s.axis_keys == std::vector<std::string>{"optim.lr", "quant.threshold"});
  CHECK(s.runs[0].variant == "fp");
  CHECK(s.runs[0].config.optim.lr == 0.1);
  CHECK(s.runs[0].config.seed == 0);
  CHECK(s.runs[1].config.seed == 1);
  CHECK(s.runs[2].config.optim.lr == 0.05);
  CHECK(s.runs[4].variant == "ttq");
  CHECK(s.runs[4].config.quant.method == "ttq");
  CHECK(s.runs[4].config.quant.threshold == 0.05);
  CHECK(s.runs[4].varying == nlohmann::json{{"optim.lr", 0.1}, {"quant.threshold", 0.05}});
  for (auto& r : s.runs) {
    CHECK(r.config.name == "g");
    CHECK(r.config.epochs == 1);
    CHECK(r.config.data.name == "synthetic");
    CHECK(!(r.variant == "ttq" && r.config.optim.lr == 0.05 && r.config.quant.threshold == 0.2));
  }
}

TEST_CASE("spec: hashes are stable across key order and number spelling") {
  auto a = parse_experiment(
      R"({"name": "x", "base": {"epochs": 2, "optim": {"lr": 0.1, "momentum": 0.9}}, "seeds": [3]})",
      "a");
  auto b = parse_experiment(
      R"({"seeds": [3], "base": {"optim": {"momentum": 9e-1, "lr": 1.0e-1}, "epochs": 2.0}, "name": "x"})",
      "b");
  REQUIRE(a.runs.size() == 1);
  CHECK(a.runs[0].hash == b.runs[0].hash);
  CHECK(a.runs[0].hash == config_hash(a.runs[0].config));
}

TEST_CASE("spec: one bad value anywhere fails the whole grid with file, place and key") {
  CHECK_THROWS_WITH_AS(
      parse_experiment(R"({"name": "x", "variants": {"a": {}, "b": {"optim": {"lrr": 1}}}})",
                       "g.json"),
      "g.json: variants.b: unknown key 'optim.lrr', did you mean 'optim.lr'?", ConfigError);
  CHECK_THROWS_WITH_AS(
      parse_experiment(R"({"name": "x", "axes": {"quant.threshold": [0.05, 1.5]}})", "g.json"),
      "g.json: axes.quant.threshold[1]: quant.threshold: expected a number in (0, 1), got 1.5",
      ConfigError);
  CHECK_THROWS_WITH_AS(parse_experiment(R"({"name": "x", "varients": {}})", "g.json"),
                       "g.json: unknown key 'varients', did you mean 'variants'? (experiment keys: "
                       "name, description, base, axes, variants, exclude, seeds, report, set, claims, settle_max_seeds)",
                       ConfigError);
  CHECK_THROWS_WITH_AS(
      parse_experiment(
          R"({"name": "x", "base": {"quant": {"method": "ttq", "threshold": {"conv9": 0.1}}}})",
          "g.json"),
      "g.json: variants.default: quant.threshold.conv9: matches no quantized layer, did you mean "
      "'conv2'? (quantized: conv2, conv3)",
      ConfigError);
  const std::string dup =
      "g.json: variant b {} seed 0 and variant a {} seed 0 are the same run (hash " +
      parse_experiment(R"({"name": "x"})", "h").runs[0].hash +
      "); make the variants differ or drop one";
  CHECK_THROWS_WITH_AS(
      parse_experiment(R"({"name": "x", "variants": {"a": {}, "b": {"epochs": 10}}})", "g.json"),
      dup.c_str(), ConfigError);
}

TEST_CASE("spec: a syntax error gives line and column") {
  try {
    parse_experiment("{\n  \"name\": \"x\",\n  \"seeds\": [1, 2,,]\n}", "g.json");
    FAIL("no error");
  } catch (const ConfigError& e) {
    CHECK(std::string(e.what()).rfind("g.json:3:18: syntax error", 0) == 0);
  }
}

TEST_CASE("spec: unknown exclude keys, duplicate keys and empty axes are errors that name them") {
  CHECK_THROWS_WITH_AS(
      parse_experiment(R"({"name": "x", "axes": {"optim.lr": [0.1, 0.2]}, "exclude": [{"optim.lrr": 0.1}]})",
                       "g.json"),
      "g.json: exclude: unknown key 'optim.lrr', did you mean 'optim.lr'?", ConfigError);
  CHECK_THROWS_WITH_AS(
      parse_experiment(R"({"name": "x", "variants": {"fp": {"quant.method": "fp"}, "fp": {"quant.method": "ttq"}}})",
                       "g.json"),
      "g.json: variants: duplicate key 'fp' (the later one would silently replace the earlier; keep one)",
      ConfigError);
  CHECK_THROWS_WITH_AS(
      parse_experiment(R"({"name": "x", "base": {"optim": {"lr": 0.1, "lr": 0.2}}})", "g.json"),
      "g.json: base.optim: duplicate key 'lr' (the later one would silently replace the earlier; keep one)",
      ConfigError);
  CHECK_THROWS_WITH_AS(parse_experiment(R"({"name": "x", "name": "y"})", "g.json"),
                       "g.json: duplicate key 'name' (the later one would silently replace the earlier; keep one)",
                       ConfigError);
  CHECK_THROWS_WITH_AS(parse_experiment(R"({"name": "x", "axes": {}})", "g.json"),
                       "g.json: axes: expected at least one axis {key.path: [values]} (remove \"axes\" for none)",
                       ConfigError);
  // A duplicate inside a list of objects names the list.
  CHECK_THROWS_WITH_AS(
      parse_experiment(R"({"name": "x", "axes": {"optim.lr": [0.1]}, "exclude": [{"optim.lr": 0.1, "optim.lr": 0.2}]})",
                       "g.json"),
      "g.json: exclude[]: duplicate key 'optim.lr' (the later one would silently replace the earlier; keep one)",
      ConfigError);
}

TEST_CASE("spec: the run count is checked before expanding: huge grids fail at once, the limit is a parameter") {
  CHECK_THROWS_WITH_AS(parse_experiment(R"({"name": "x", "seeds": 10000000})", "g.json"),
                       "g.json: seeds: 10000000 seeds alone exceed the limit of 100000 runs; raise it with lowbit "
                       "grid --max-runs N, or split the experiment",
                       ConfigError);
  const std::string six = R"({"name": "x", "seeds": 3, "axes": {"optim.lr": [0.1, 0.2]}})";
  CHECK_THROWS_WITH_AS(parse_experiment(six, "g.json", 5),
                       "g.json: the grid has 6 runs (seeds x variants x axes), more than the limit of 5; raise it "
                       "with lowbit grid --max-runs N, or split the experiment",
                       ConfigError);
  CHECK(parse_experiment(six, "g.json", 6).runs.size() == 6);
  // A 10 MB string is never echoed back whole.
  std::string huge = R"({"name": "x", "base": {"model": ")" + std::string(10 << 20, 'm') + R"("}})";
  std::string msg;
  try {
    parse_experiment(huge, "g.json");
  } catch (const ConfigError& e) {
    msg = e.what();
  }
  CHECK(!msg.empty());
  CHECK(msg.size() < 1000);
}

namespace {
// fp and ttq (from fp), 2 lrs x 2 seeds; `from` is the init.from_run value as written.
std::string lineage(const std::string& from, const std::string& fp_extra = "") {
  return R"({"name": "l", "base": {"data": {"name": "synthetic"}, "epochs": 1},
    "axes": {"optim.lr": [0.1, 0.05]},
    "variants": {"ttq": {"quant.method": "ttq", "init": {"from_run": )" +
         from + R"(}}, "fp": {)" + fp_extra + R"(}}, "seeds": 2})";
}
}  // namespace

TEST_CASE("spec: init.from_run pairs each run with the parent variant's run of the same seed and axes") {
  auto spec = parse_experiment(lineage(R"({"variant": "fp"})"), "l.json");
  REQUIRE(spec.runs.size() == 8);
  std::map<std::string, const PlannedRun*> by_hash;
  for (auto& r : spec.runs) by_hash[r.hash] = &r;
  int children = 0;
  for (auto& r : spec.runs) {
    if (r.variant == "fp") {
      CHECK(r.parent_hash.empty());
      CHECK(r.config.init_from_run.empty());
      continue;
    }
    ++children;
    REQUIRE(by_hash.count(r.parent_hash) == 1);
    const PlannedRun& p = *by_hash[r.parent_hash];
    CHECK(p.variant == "fp");
    CHECK(p.config.seed == r.config.seed);
    CHECK(p.config.optim.lr == r.config.optim.lr);
    // The parent's training hash (its config without the experiment name) is in the child's config.
    CHECK(r.config.init_from_run == "fp@" + training_hash(p.config));
    CHECK(r.hash == config_hash(r.config));
  }
  CHECK(children == 4);
  // The string form is the same definition; a change to the parent changes every child's hash.
  auto same = parse_experiment(lineage(R"("fp")"), "l.json");
  auto other = parse_experiment(lineage(R"("fp")", R"("optim.momentum": 0.8)"), "l.json");
  for (size_t i = 0; i < 4; ++i) {  // ttq's runs come first (file order)
    CHECK(same.runs[i].hash == spec.runs[i].hash);
    CHECK(other.runs[i].hash != spec.runs[i].hash);
    CHECK(other.runs[i].config.quant.method == "ttq");
  }
  // The training hash ignores the experiment name; the config hash does not.
  RunConfig a = spec.runs[0].config, b = a;
  b.name = "another";
  CHECK(training_hash(a) == training_hash(b));
  CHECK(config_hash(a) != config_hash(b));
}

TEST_CASE("spec: init.from_run errors name the variant and the fix") {
  auto err = [](const std::string& text) {
    try {
      parse_experiment(text, "l.json");
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK(err(lineage(R"("fpp")")) ==
        "l.json: variants.ttq: init.from_run: no variant 'fpp', did you mean 'fp'? (variants: ttq, fp)");
  CHECK(err(lineage(R"({"variant": "fp", "seed": 1})")) ==
        "l.json: variants.ttq: init.from_run: expected {\"variant\": \"<a variant of this experiment>\"}, got "
        "{\"variant\":\"fp\",\"seed\":1}");
  CHECK(err(lineage(R"("ttq")")) ==
        "l.json: variants.ttq: init.from_run: a variant cannot start from itself (set init.from_run in the "
        "variant that starts from another, not in base)");
  CHECK(err(lineage(R"("fp")", R"("init.from_run": "ttq")")) ==
        "l.json: init.from_run: variants start from each other in a cycle (ttq <- fp, fp <- ttq); one of them "
        "must start from scratch");
  CHECK(err(lineage(R"("fp")", R"("axes": {"optim.momentum": [0.9, 0.8]})")) ==
        "l.json: variants.ttq: init.from_run: run {\"optim.lr\":0.1} seed 0: variant fp has 2 runs that match "
        "(they differ in optim.momentum, which ttq does not vary): give ttq the same axes");
  CHECK(err(R"({"name": "l", "base": {"data": {"name": "synthetic"}},
    "variants": {"fp": {}, "ttq": {"init": {"from_run": "fp", "from_checkpoint": "x.pt"}}}})") ==
        "l.json: variants.ttq: init.from_run and init.from_checkpoint both set; keep one");
  CHECK(err(R"({"name": "l", "base": {"data": {"name": "synthetic"}},
    "variants": {"fp": {}, "ttq": {"init.from_run": "fp"}}, "exclude": [{"variant": "fp"}]})")
            .find("variant fp has no run with this seed and these axis values (excluded?)") != std::string::npos);
}

TEST_CASE("spec: --set, --seeds and --epochs are written into the definition and win over variants") {
  DefinitionOverrides o;
  o.set = {"optim.momentum=0.5", "quant.bits=1"};
  o.seeds = 3;
  o.epochs = 2;
  const std::string text = apply_overrides(kGrid, "g.json", o);
  const auto raw = nlohmann::json::parse(text);
  CHECK(raw["seeds"] == 3);
  CHECK(raw["set"] == nlohmann::json{{"epochs", 2}, {"optim.momentum", 0.5}, {"quant.bits", 1}});
  auto s = parse_experiment(text, "g.json");
  CHECK(s.runs.size() == (4 + 12 - 2) / 2 * 3);  // the same cells, three seeds each
  for (auto& r : s.runs) {
    CHECK(r.config.epochs == 2);
    CHECK(r.config.optim.momentum == 0.5);
    CHECK(r.config.quant.bits == 1);
  }
  // "set" wins over a variant's own value; without overrides the text is untouched.
  auto v = parse_experiment(R"({"name": "v", "variants": {"a": {"epochs": 5}}, "set": {"epochs": 1}})", "v.json");
  CHECK(v.runs.at(0).config.epochs == 1);
  CHECK(apply_overrides(kGrid, "g.json", {}) == kGrid);

  using test_error = ConfigError;
  auto message = [](const std::string& t) {
    try {
      parse_experiment(t, "x.json");
    } catch (const test_error& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  CHECK(message(apply_overrides(kGrid, "x.json", {{"optim.lr=0.2"}, 0, 0})) ==
        "x.json: set: optim.lr is an axis of the experiment; drop the axis, or the --set");
  CHECK(message(R"({"name": "x", "set": {"optim.lrr": 1}})") ==
        "x.json: set: unknown key 'optim.lrr', did you mean 'optim.lr'?");
  CHECK(message(R"({"name": "x", "set": [1]})") == "x.json: set: expected an object {\"dotted.key\": value}");
  CHECK(message(R"({"name": "x", "set": {"init.from_checkpoint": "a.pt"}})") ==
        "x.json: set: init.from_checkpoint names a run or a file; set it in a variant");
  try {
    apply_overrides(kGrid, "x.json", {{"nokey=1"}, 0, 0});
    CHECK(false);
  } catch (const ConfigError& e) {
    CHECK(std::string(e.what()).rfind("--set: unknown key 'nokey'", 0) == 0);
  }
}
