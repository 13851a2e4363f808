// The field table expanded from core/config/keys.def: one row per declared key, each row's
// default inside its own declared range, each role's hashed value one the key accepts.
#include <doctest/doctest.h>

#include <filesystem>
#include <set>

#include "core/config/run_config.h"
#include "tests/test_util.h"

using namespace lowbit;
using nlohmann::json;

TEST_CASE("config: every declared key has one row, with a path, a type and a meaning") {
  std::set<std::string> paths;
  for (const auto& f : config_fields()) {
    CAPTURE(f.path);
    CHECK(paths.insert(f.path).second);
    CHECK(!f.type.empty());
    REQUIRE(!f.doc.empty());
    CHECK(f.doc.back() == '.');
    CHECK(f.doc.find("  ") == std::string::npos);  // literals split across lines join with one space
  }
  // 9 run keys, 13 data, 14 optim, 34 quant, 5 health, 1 diag.
  CHECK(config_fields().size() == 79);
}

TEST_CASE("config: each key's default is a value its own declaration accepts") {
  const RunConfig defaults;
  for (const auto& f : config_fields()) {
    CAPTURE(f.path);
    RunConfig c;
    CHECK_NOTHROW(f.set(c, f.get(defaults)));
    CHECK(to_json(c) == to_json(defaults));
  }
}

TEST_CASE("config: a row reads and writes its own member, no other") {
  const RunConfig defaults;
  const json before = to_json(defaults);
  auto set_and_compare = [&](const std::string& path, const json& value) {
    RunConfig c;
    apply_set(c, path + "=" + value.dump());
    json after = to_json(c);
    CHECK(after[config_pointer(path)] == value);
    after[config_pointer(path)] = before[config_pointer(path)];
    CHECK(after == before);
  };
  set_and_compare("data.synthetic.size", 20);
  set_and_compare("data.synthetic.channels", 3);
  set_and_compare("optim.beta1", 0.5);
  set_and_compare("optim.beta2", 0.5);
  set_and_compare("quant.temperature.t0", 2.0);
  set_and_compare("quant.temperature.t1", 3.0);
  set_and_compare("quant.bn_mode", "none");
  set_and_compare("health.chance_margin", 0.05);
  set_and_compare("diag.before_calib", true);
  set_and_compare("checkpoint.every", 3);
}

TEST_CASE("config: the value a role hashes is one the key accepts") {
  for (const auto& f : config_fields()) {
    CAPTURE(f.path);
    if (f.role == KeyRole::kIdentity && f.format1) {
      CHECK(f.hashed_value.is_null());  // hashed at its value: nothing frozen
      continue;
    }
    RunConfig c;
    CHECK_NOTHROW(f.set(c, f.hashed_value));
    CHECK(f.get(c) == f.hashed_value);
  }
}

TEST_CASE("config: a kind refuses the JSON types it does not declare, naming the key") {
  RunConfig c;
  CHECK_THROWS_WITH(apply_set(c, "epochs=1.5"), doctest::Contains("epochs: expected an integer"));
  CHECK_THROWS_WITH(apply_set(c, "optim.lr=0"), doctest::Contains("optim.lr: expected a number in (0, inf)"));
  CHECK_THROWS_WITH(apply_set(c, "optim.momentum=1"), doctest::Contains("optim.momentum: expected a number in [0, 1)"));
  CHECK_THROWS_WITH(apply_set(c, "quant.skip=[1]"), doctest::Contains("quant.skip: expected a list of strings, got element 1"));
  CHECK_THROWS_WITH(apply_set(c, "optim.milestones=[\"a\"]"),
                    doctest::Contains("optim.milestones: expected a list of integers"));
  CHECK_THROWS_WITH(apply_set(c, "quant.bn_mode=stat"), doctest::Contains("did you mean 'state'"));
  CHECK_THROWS_WITH(apply_set(c, "model=resnet"), doctest::Contains("model: unknown value 'resnet'"));
  CHECK_THROWS_WITH(apply_set(c, "quant.threshold={\"conv1\": 2}"),
                    doctest::Contains("quant.threshold.conv1: expected a number in (0, 1), got 2"));
  CHECK_THROWS_WITH(apply_set(c, "quant.value_set=[1]"), doctest::Contains("quant.value_set: expected at least 2 values"));
  CHECK_THROWS_WITH(apply_set(c, "data.augment=1"), doctest::Contains("data.augment: expected true or false"));
}

// A declaration whose kind does not fit its member's C++ type (here data.val_fraction, a
// double, declared Int) must not compile: fields.cpp checks each kind against the member.
TEST_CASE("config: a kind that does not fit the member's type does not compile") {
  lowbit::test::TempDir dir;
  std::filesystem::create_directories(dir / "core/config");
  std::string decl = lowbit::test::slurp(std::string(LOWBIT_SOURCE_DIR) + "/core/config/keys.def");
  const std::string fits = "\"data.val_fraction\",\n    Num(0, 1, kClosed, kOpen)";
  const auto at = decl.find(fits);
  REQUIRE(at != std::string::npos);
  decl.replace(at, fits.size(), "\"data.val_fraction\",\n    Int(0, 1)");
  lowbit::test::write_file(dir / "core/config/keys.def", decl);
  const auto r = lowbit::test::compile_in_room("core", std::string(LOWBIT_SOURCE_DIR) + "/core/config/fields.cpp",
                                               dir.path);
  CHECK(r.code != 0);
  CHECK_MESSAGE(r.out.find("Int() declares an int64_t member") != std::string::npos, r.out);
}
