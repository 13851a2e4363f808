#include <doctest/doctest.h>

#include <fstream>
#include <sstream>

#include "core/config/run_config.h"
#include "core/error.h"
#include "tests/test_util.h"

using namespace lowbit;
using nlohmann::json;

namespace {
std::string error_of(const std::function<void()>& f) {
  return lowbit::test::error_message<ConfigError>(f);
}
}  // namespace

TEST_CASE("config: defaults are filled and round-trip through JSON") {
  RunConfig c;
  json j = to_json(c);
  CHECK(j["optim"]["lr"] == 0.1);
  CHECK(j["data"]["name"] == "fashion_mnist");
  CHECK(j["quant"]["temperature"]["gamma"] == 1.2);
  RunConfig d;
  d.optim.lr = 0.7;
  apply_json(d, j, "x.json");
  CHECK(d.optim.lr == 0.1);
  CHECK(to_json(d) == j);
  // Every field of the table appears in the JSON.
  for (const auto& f : config_fields()) {
    std::string ptr = "/" + f.path;
    std::replace(ptr.begin(), ptr.end(), '.', '/');
    CHECK_MESSAGE(j.contains(json::json_pointer(ptr)), f.path);
  }
}

TEST_CASE("config: nested and flat keys") {
  RunConfig c;
  apply_json(
      c,
      json::parse(
          R"({"optim": {"lr": 0.05}, "data.train_limit": 100, "quant": {"temperature": {"t0": 2}}})"),
      "f.json");
  CHECK(c.optim.lr == 0.05);
  CHECK(c.data.train_limit == 100);
  CHECK(c.quant.temp_t0 == 2.0);
}

TEST_CASE("config: unknown key names the path and suggests the nearest") {
  RunConfig c;
  CHECK(error_of([&] {
          apply_json(c, json::parse(R"({"optim": {"lrr": 0.1}})"), "configs/x.json");
        }) == "configs/x.json: unknown key 'optim.lrr', did you mean 'optim.lr'?");
  CHECK(error_of([&] { apply_json(c, json::parse(R"({"epoch": 3})"), "configs/x.json"); }) ==
        "configs/x.json: unknown key 'epoch', did you mean 'epochs'?");
  CHECK(error_of([&] { apply_json(c, json::parse(R"({"zzzzzzzz": 3})"), "a.json"); }) ==
        "a.json: unknown key 'zzzzzzzz'");
}

TEST_CASE("config: wrong types and ranges name the expected type") {
  RunConfig c;
  CHECK(error_of([&] { apply_json(c, json::parse(R"({"optim": {"lr": "0.1"}})"), "x.json"); }) ==
        "x.json: optim.lr: expected a number, got string \"0.1\"");
  CHECK(error_of([&] { apply_json(c, json::parse(R"({"epochs": 2.5})"), "x.json"); }) ==
        "x.json: epochs: expected an integer, got 2.5");
  CHECK(error_of([&] {
          apply_json(c, json::parse(R"({"quant": {"threshold": 1.5}})"), "configs/x.json");
        }) == "configs/x.json: quant.threshold: expected a number in (0, 1), got 1.5");
  CHECK(error_of([&] { apply_json(c, json::parse(R"({"model": "resnet21"})"), "x.json"); }) ==
        "x.json: model: unknown value 'resnet21', did you mean 'resnet20'? (one of small_cnn, "
        "resnet20, resnet32, resnet44, resnet56, vgg_small)");
  CHECK(error_of([&] { apply_json(c, json::parse(R"({"data": 3})"), "x.json"); }) ==
        "x.json: data: expected an object of settings, got 3");
  CHECK(error_of([&] { apply_json(c, json::parse(R"({"quant": {"bits": 0}})"), "x.json"); }) ==
        "x.json: quant.bits: expected an integer in [1, 8], got 0");
}

TEST_CASE("config: --set uses the same paths") {
  RunConfig c;
  apply_set(c, "optim.lr=0.05");
  apply_set(c, "model=resnet20");
  apply_set(c, "quant.temperature.schedule=cos");
  apply_set(c, R"(quant.threshold={"conv2": 0.1})");
  CHECK(c.optim.lr == 0.05);
  CHECK(c.model == "resnet20");
  CHECK(c.quant.temp_schedule == TempSchedule::kCos);
  CHECK(c.quant.threshold["conv2"] == 0.1);
  CHECK(error_of([&] { apply_set(c, "optim.lrate=1"); }) ==
        "--set: unknown key 'optim.lrate', did you mean 'optim.lr'?");
  CHECK(error_of([&] { apply_set(c, "novalue"); }) ==
        "--set novalue: expected key=value (e.g. optim.lr=0.05)");
}

TEST_CASE("config: syntax errors give line and column") {
  CHECK(error_of([] {
          parse_json_text("{\n  \"epochs\": 3,\n  \"seed\": ,\n}", "bad.json");
        }).rfind("bad.json:3:11: syntax error", 0) == 0);
}

TEST_CASE("config: cross-field validation") {
  RunConfig c;
  c.quant.temp_start = 0.6;
  c.quant.temp_end = 0.2;
  CHECK(error_of([&] { validate(c, "x.json"); }) ==
        "x.json: quant.temperature.end: the window ends (0.2) before it starts (0.6); set end >= "
        "start");
  RunConfig d;
  d.optim.milestones = {10, 5};
  CHECK(error_of([&] { validate(d, "x.json"); }) ==
        "x.json: optim.milestones: expected increasing epochs, got [10,5]");
}

TEST_CASE("config: hash ignores key order and number spelling") {
  RunConfig a, b;
  apply_json(a, json::parse(R"({"optim": {"lr": 0.1, "momentum": 0.9}, "epochs": 3})"), "");
  apply_json(b, json::parse(R"({"epochs": 3.0, "optim": {"momentum": 9e-1, "lr": 1e-1}})"), "");
  CHECK(config_hash(a) == config_hash(b));
  CHECK(config_hash(a).size() == 16);
  b.seed = 1;
  CHECK(config_hash(a) != config_hash(b));
}

TEST_CASE("config: docs/CONFIG.md is the generated key reference") {
  std::ifstream in(std::string(LOWBIT_SOURCE_DIR) + "/docs/CONFIG.md");
  REQUIRE(in);
  std::stringstream ss;
  ss << in.rdbuf();
  auto md = config_markdown();
  CHECK_MESSAGE(ss.str().find(md) != std::string::npos,
                "docs/CONFIG.md is out of date: run `build/lowbit config --docs > docs/CONFIG.md`");
}

TEST_CASE("config: quantizer and SLB bad input names the key") {
  RunConfig c;
  CHECK(
      error_of([&] { apply_json(c, json::parse(R"({"quant": {"method": "tqq"}})"), "x.json"); }) ==
      "x.json: quant.method: unknown value 'tqq', did you mean 'ttq'? (one of fp, ttq, twn, absmean, sign, "
      "dorefa, bop, slb, lsq)");
  CHECK(error_of([&] { apply_json(c, json::parse(R"({"quant": {"bits": 9}})"), "x.json"); }) ==
        "x.json: quant.bits: expected an integer in [1, 8], got 9");
  CHECK(error_of([&] {
          apply_json(c, json::parse(R"({"quant": {"temperature": {"schedule": "cosine"}}})"),
                     "x.json");
        }) ==
        "x.json: quant.temperature.schedule: unknown value 'cosine', did you mean 'cos'? (one of "
        "exp, cos, linear, sgdr, constant)");
  CHECK(error_of([&] {
          apply_json(c, json::parse(R"({"quant": {"bn_calib_batches": 0}})"), "x.json");
        }) == "x.json: quant.bn_calib_batches: expected an integer in [1, 1000000], got 0");
  CHECK(error_of([&] { apply_json(c, json::parse(R"({"quant": {"threshold": 0}})"), "x.json"); }) ==
        "x.json: quant.threshold: expected a number in (0, 1), got 0");
  CHECK(error_of([&] {
          apply_json(c, json::parse(R"({"quant": {"threshold": {"conv2": 1.2}}})"), "x.json");
        }) == "x.json: quant.threshold.conv2: expected a number in (0, 1), got 1.2");
  CHECK(error_of([&] {
          apply_json(c, json::parse(R"({"quant": {"value_set": [1]}})"), "x.json");
        }) == "x.json: quant.value_set: expected at least 2 values, got 1");
  CHECK(error_of([&] {
          apply_json(c, json::parse(R"({"quant": {"act": {"bits": 0}}})"), "x.json");
        }) == "x.json: quant.act.bits: expected an integer in [1, 8], got 0");
}

TEST_CASE("cli: a bad quantizer setting stops before anything starts") {
  lowbit::test::TempDir d;
  std::ofstream(d / "c.json")
      << R"({"data": {"name": "synthetic"}, "quant": {"method": "ttq", "threshold": {"layer9.*": 0.1}}})";
  auto r = lowbit::test::run_lowbit("train --config " + d / "c.json" + " --out " + d / "out");
  CHECK(r.code == 2);
  CHECK(r.out == "lowbit: " + d / "c.json" +
                     ": quant.threshold.layer9.*: matches no quantized layer (quantized: conv2, conv3)\n");
  std::ifstream metrics(d / "out/metrics.jsonl");
  CHECK(!metrics.good());
}

TEST_CASE("config: out-of-range numbers, unknown --set keys and number overflow are named as written") {
  RunConfig c;
  CHECK(error_of([&] { apply_json(c, json::parse(R"({"epochs": 1e30})"), "x.json"); }) ==
        "x.json: epochs: expected an integer in [1, 100000], got 1e+30");
  CHECK(error_of([&] { apply_json(c, json::parse(R"({"epochs": 18446744073709551615})"), "x.json"); }) ==
        "x.json: epochs: expected an integer in [1, 100000], got 18446744073709551615");
  CHECK(error_of([&] { apply_set(c, "nosuch.key=1"); }) ==
        "--set: unknown key 'nosuch.key' (every key: lowbit list keys, docs/CONFIG.md)");
  CHECK(error_of([&] { apply_set(c, "epochs=0"); }) == "--set: epochs: expected an integer in [1, 100000], got 0");
  CHECK(error_of([&] { parse_json_text(R"({"epochs": 1e999})", "x.json"); }) ==
        "x.json: number overflow parsing '1e999' (larger than any number a key accepts)");
  // A huge value is never echoed whole.
  std::string big(1 << 20, 'a');
  std::string msg = error_of([&] { apply_set(c, big + "=1"); });
  CHECK(msg.size() < 400);
  CHECK(msg.find("... (1048576 characters)") != std::string::npos);
}

TEST_CASE("config: a --set value that is not UTF-8 is a ConfigError, not a JSON exception (found by fuzz_config)") {
  RunConfig c;
  CHECK(error_of([&] { apply_set(c, "quant.threshold={\"conv*\xff\": 0.1}"); }) ==
        "--set quant.threshold: the value is not valid UTF-8 text (\"{\\\"conv*\\ufffd\\\": 0.1}\"); write it "
        "in UTF-8");
  CHECK(error_of([&] { apply_set(c, "model=res\xffnet"); }) ==
        "--set model: the value is not valid UTF-8 text (\"res\\ufffdnet\"); write it in UTF-8");
}

// quant.dorefa.grad_through_max was added after hash format 1 with a default (true, tensorpack's
// gradient) other than its neutral value (false, lowbit before it): it is hashed only in runs
// of quant.method = dorefa, so a dorefa run recorded before it keeps its hash, and runs of any
// other method keep theirs whatever it says. The two hashes were computed by lowbit 19a04e1
// (`lowbit config FILE --hash`), before the key existed.
TEST_CASE("config: a key added later is hashed only where it applies") {
  RunConfig dorefa;
  dorefa.epochs = 3;
  apply_set(dorefa, "quant.method=dorefa");
  apply_set(dorefa, "quant.bits=2");
  RunConfig before = dorefa;
  before.quant.dorefa_grad_through_max = false;
  CHECK(config_hash(before) == "8414e956fa3d618d");
  CHECK(config_hash(dorefa) != "8414e956fa3d618d");
  CHECK(identity_json(dorefa)["quant"]["dorefa"]["grad_through_max"] == true);
  RunConfig fp;
  fp.epochs = 3;
  CHECK(config_hash(fp) == "d609d01abc5db77f");
  fp.quant.dorefa_grad_through_max = false;
  CHECK(config_hash(fp) == "d609d01abc5db77f");
  // A stored config from before the key reads back as what it ran: the max detached.
  nlohmann::json stored = to_json(before);
  stored["quant"].erase("dorefa");
  CHECK_FALSE(config_from_json(stored, "stored").quant.dorefa_grad_through_max);
  CHECK(config_hash(config_from_json(stored, "stored")) == "8414e956fa3d618d");
}

// quant.act.alpha_decay likewise: hashed only in runs with PACT activations. The hash was
// computed by lowbit 32d9da8 (`lowbit config FILE --hash`), before the key existed, for
// {"epochs": 3, "quant": {"method": "dorefa", "bits": 2, "dorefa": {"grad_through_max":
// false}, "act": {"method": "pact", "bits": 2}}}.
TEST_CASE("config: PACT runs recorded before quant.act.alpha_decay keep their hash and meaning") {
  RunConfig pact;
  pact.epochs = 3;
  for (const char* s : {"quant.method=dorefa", "quant.bits=2", "quant.dorefa.grad_through_max=false",
                        "quant.act.method=pact", "quant.act.bits=2"})
    apply_set(pact, s);
  CHECK(pact.quant.act_alpha_decay == AlphaDecay::kWeights);  // the paper's L2 by default
  CHECK(config_hash(pact) != "f6ba445c8e8e1853");
  nlohmann::json stored = to_json(pact);
  stored["quant"]["act"].erase("alpha_decay");
  RunConfig read = config_from_json(stored, "stored");
  CHECK(read.quant.act_alpha_decay == AlphaDecay::kScales);
  CHECK(config_hash(read) == "f6ba445c8e8e1853");
  RunConfig fp;
  fp.epochs = 3;
  fp.quant.act_alpha_decay = AlphaDecay::kScales;
  CHECK(config_hash(fp) == "d609d01abc5db77f");  // no PACT: not hashed
}
