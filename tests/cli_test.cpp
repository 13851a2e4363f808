// Runs the real `lowbit` binary: exit codes and one-line messages.
#include <doctest/doctest.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "core/util.h"
#include "tests/test_util.h"

using namespace lowbit::test;

TEST_CASE("cli: --version, --help, unknown command") {
  auto v = run_lowbit("--version");
  CHECK(v.code == 0);
  CHECK(v.out.rfind("lowbit ", 0) == 0);
  auto h = run_lowbit("--help");
  CHECK(h.code == 0);
  CHECK(h.out.find("train") != std::string::npos);
  auto u = run_lowbit("trian");
  CHECK(u.code == 2);
  CHECK(u.out == "lowbit: unknown command 'trian', did you mean 'train'? (see lowbit --help)\n");
  auto th = run_lowbit("train --help");
  CHECK(th.code == 0);
  CHECK(th.out.find("--config") != std::string::npos);
}

TEST_CASE("cli: train on a tiny synthetic config writes metrics as JSON lines") {
  TempDir d;
  std::ofstream(d / "c.json")
      << R"({"data": {"name": "synthetic", "synthetic": {"train": 64, "test": 32, "size": 8, "classes": 3}},
    "epochs": 2, "batch_size": 32, "optim": {"lr": 0.05}})";
  auto r =
      run_lowbit("train --config " + d / "c.json" + " --out " + d / "out --threads 1 --set seed=3");
  CHECK(r.code == 0);
  CHECK(r.out.find("final_test_acc") != std::string::npos);
  std::ifstream in(d / "out/metrics.jsonl");
  int lines = 0, acc_lines = 0;
  for (std::string line; std::getline(in, line); ++lines) {
    auto j = nlohmann::json::parse(line);
    if (j["key"] == "test_acc") {
      ++acc_lines;
      CHECK(j["value"].get<double>() >= 0.0);
      CHECK(j["value"].get<double>() <= 1.0);
    }
  }
  CHECK(acc_lines == 2);
  std::ifstream cfg(d / "out/config.json");
  CHECK(nlohmann::json::parse(cfg)["seed"] == 3);
  std::ifstream sum(d / "out/summary.json");
  CHECK(nlohmann::json::parse(sum)["status"] == "done");
}

TEST_CASE("cli: train never overwrites a run silently, and a failed train leaves no folder") {
  TempDir d;
  std::ofstream(d / "c.json")
      << R"({"data": {"name": "synthetic", "synthetic": {"train": 64, "test": 32, "size": 8, "classes": 3}},
    "epochs": 1, "batch_size": 32})";
  const std::string train = "train --config " + d / "c.json" + " --threads 1 --out " + d / "out";
  REQUIRE(run_lowbit(train).code == 0);
  const std::string before = slurp(d / "out/metrics.jsonl");
  auto again = run_lowbit(train);
  CHECK(again.code == 2);
  CHECK(again.out == "lowbit: --out " + d / "out" +
                         " already holds a run (metrics.jsonl): pass --resume to continue it (a finished run "
                         "prints its results), or choose another --out\n");
  CHECK(slurp(d / "out/metrics.jsonl") == before);
  CHECK(run_lowbit(train + " --resume").code == 0);  // finished: prints its results
  CHECK(slurp(d / "out/metrics.jsonl") == before);
  // A run that fails before its first epoch removes the folder it created.
  auto bad = run_lowbit("train --config " + d / "c.json" + " --out " + d / "fresh --set data.name=mnist --set data.dir=" +
                        d / "none");
  CHECK(bad.code == 2);
  CHECK_FALSE(lowbit::is_dir(d / "fresh"));
}

TEST_CASE("cli: a missing data file is exit 2 with one line naming the file and the fix") {
  TempDir d;
  std::ofstream(d / "c.json") << R"({"data": {"name": "fashion_mnist", "dir": ")" + d.path +
                                     R"("}})";
  auto r = run_lowbit("train --config " + d / "c.json" + " --out " + d / "out");
  CHECK(r.code == 2);
  CHECK(r.out == "lowbit: " + d.path +
                     "/train-images-idx3-ubyte.gz: no such file; install dataset-fashion-mnist "
                     "(scripts/install-deps.sh) or set data.dir\n");
}

TEST_CASE("cli: config errors are exit 2 with the file and key path") {
  TempDir d;
  std::ofstream(d / "c.json") << R"({"optim": {"lr": "fast"}})";
  auto r = run_lowbit("train --config " + d / "c.json");
  CHECK(r.code == 2);
  CHECK(r.out ==
        "lowbit: " + d / "c.json" + ": optim.lr: expected a number, got string \"fast\"\n");
  auto missing = run_lowbit("train --config " + d / "nope.json");
  CHECK(missing.code == 2);
  CHECK(missing.out ==
        "lowbit: " + d / "nope.json" + ": cannot open config file (check the path)\n");
  auto noarg = run_lowbit("train");
  CHECK(noarg.code == 2);
  CHECK(noarg.out ==
        "lowbit: lowbit train: the option '--config' is required but missing (see lowbit train "
        "--help)\n");
  std::ofstream(d / "ok.json") << R"({"epochs": 1})";
  auto set =
      run_lowbit("train --config " + d / "ok.json" + " --set optim.lr=0.1 --set optim.mom=0.5");
  CHECK(set.code == 2);
  CHECK(set.out == "lowbit: --set: unknown key 'optim.mom', did you mean 'optim.momentum'?\n");
  // An experiment definition where a run config belongs.
  std::ofstream(d / "def.json") << R"({"name": "x", "base": {"epochs": 1}, "seeds": 2})";
  auto def = run_lowbit("train --config " + d / "def.json");
  CHECK(def.code == 2);
  CHECK(def.out == "lowbit: " + d / "def.json" +
                       ": this is an experiment definition (it has 'base'), not a run config: run it "
                       "with lowbit grid " + d / "def.json" + "\n");
  // diff with one side.
  auto one = run_lowbit("diff 1 --db " + d / "none.db");
  CHECK(one.code == 2);
  CHECK(one.out == "lowbit: lowbit diff: expected two runs or cells to compare, got one ('1') (e.g. "
                   "lowbit diff 3 7, or lowbit diff quickstart:fp quickstart:ttq; ids: lowbit query runs)\n");
}

TEST_CASE("cli: a per-layer glob that matches nothing names the config file or the --set") {
  TempDir d;
  std::ofstream(d / "c.json")
      << R"({"data": {"name": "synthetic", "synthetic": {"train": 64, "test": 32, "size": 8, "classes": 3}},
    "epochs": 1, "quant": {"method": "ttq", "threshold": {"nosuch*": 0.1}}})";
  auto r = run_lowbit("train --config " + d / "c.json" + " --out " + d / "out");
  CHECK(r.code == 2);
  CHECK(r.out == "lowbit: " + d / "c.json" +
                     ": quant.threshold.nosuch*: matches no quantized layer (quantized: conv2, conv3)\n");
  r = run_lowbit("train --config " + d / "c.json" + " --out " + d / "out" +
                 " --set quant.threshold=0.1 --set 'quant.skip=[\"zz*\"]'");
  CHECK(r.code == 2);
  CHECK(r.out ==
        "lowbit: --set quant.skip=[\"zz*\"]: quant.skip: 'zz*' matches no layer (layers: conv1, conv2, "
        "conv3, fc; or first, last)\n");
}

TEST_CASE("cli: the lowbit front binary does not load LibTorch; the commands that train run in lowbit-torch") {
  // What ldd lists is what the loader maps before main: no libtorch, no libc10.
  FILE* p = ::popen(("ldd " + std::string(LOWBIT_BINARY) + " 2>&1").c_str(), "r");
  REQUIRE(p != nullptr);
  std::string libs;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) libs.append(buf, n);
  ::pclose(p);
  CHECK(libs.find("libsqlite3") != std::string::npos);  // the listing is real
  CHECK(libs.find("libtorch") == std::string::npos);
  CHECK(libs.find("libc10") == std::string::npos);
  // A training command goes through the front to lowbit-torch and keeps its exit code.
  TempDir d;
  std::ofstream(d / "bad.json") << R"({"epochs": 0})";
  auto r = run_lowbit("train --config " + d / "bad.json");
  CHECK(r.code == 2);
  CHECK(r.out.find("epochs") != std::string::npos);
  // The same help from both halves.
  CHECK(run_lowbit("--help").out == [] {
    FILE* q = ::popen((std::string(LOWBIT_BINARY) + "-torch --help 2>&1").c_str(), "r");
    std::string out;
    char b[4096];
    for (size_t n; (n = std::fread(b, 1, sizeof b, q)) > 0;) out.append(b, n);
    ::pclose(q);
    return out;
  }());
}
