// lowbit diff through the binary: runs, hash prefixes and cells; the Welch interval and p
// recomputed here from the runs' own summaries; bad selectors.
#include <doctest/doctest.h>

#include <cmath>
#include <fstream>

#include <nlohmann/json.hpp>

#include "reports/stats.h"
#include "tracker/queries.h"
#include "tracker/sqlite.h"
#include "tests/test_util.h"

using namespace lowbit;
using namespace lowbit::test;

namespace {
std::vector<double> final_train_loss(const std::string& db, const std::string& variant) {
  auto conn = open_readonly(db);
  auto t = run_sql(*conn, "SELECT s.value FROM summaries s JOIN runs r ON r.id = s.run_id WHERE "
                          "s.key = 'final_train_loss' AND r.variant = '" + variant + "' ORDER BY r.id");
  std::vector<double> out;
  for (auto& row : t.rows) out.push_back(std::get<double>(row[0]));
  return out;
}
}  // namespace

TEST_CASE("diff: runs, hash prefixes and cells; Welch interval and p as computed by hand; bad selectors") {
  TempDir d;
  const std::string g = d / "d.json", db = d / "r.db";
  write_tiny_experiment(g, "d", 96, 2,
                        R"("variants": {"fp": {}, "ttq": {"quant.method": "ttq"},
                                        "lr": {"axes": {"optim.lr": [0.05, 0.02]}}}, "seeds": 2)");
  REQUIRE(run_lowbit("grid " + g + " --db " + db + " --threads-per-worker 1").code == 0);

  // Two runs of one configuration differ in the seed only.
  auto r = run_lowbit("diff 1 2 --db " + db);
  CHECK(r.code == 0);
  CHECK(r.out.find("config (1 differs)\n  seed                             0 -> 1\n") != std::string::npos);
  CHECK(r.out.find("provenance (0 differ)") != std::string::npos);

  // A hash prefix names the same run as its id.
  auto conn = open_readonly(db);
  const std::string hash = std::get<std::string>(run_sql(*conn, "SELECT config_hash FROM runs WHERE id = 3").rows[0][0]);
  auto by_hash = run_lowbit("diff 1 " + hash.substr(0, 8) + " --db " + db + " --format json");
  auto by_id = run_lowbit("diff 1 3 --db " + db + " --format json");
  CHECK(by_hash.code == 0);
  CHECK(nlohmann::json::parse(by_hash.out)["metrics"] == nlohmann::json::parse(by_id.out)["metrics"]);

  // Cells: mean ± std (n), B - A, Welch's interval and p from the seeds' own values.
  auto c = run_lowbit("diff d:fp d:ttq --db " + db + " --format json");
  REQUIRE(c.code == 0);
  auto j = nlohmann::json::parse(c.out);
  CHECK(j["config"].size() == 1);
  CHECK(j["config"][0] ==
        nlohmann::json{{"key", "quant.method"}, {"a", "fp"}, {"b", "ttq"}, {"role", "identity"}});
  nlohmann::json row;
  for (auto& m : j["metrics"])
    if (m["key"] == "final_train_loss") row = m;
  REQUIRE(!row.is_null());
  const auto a = final_train_loss(db, "fp"), b = final_train_loss(db, "ttq");
  REQUIRE(a.size() == 2);
  REQUIRE(b.size() == 2);
  const double ma = (a[0] + a[1]) / 2, mb = (b[0] + b[1]) / 2;
  const double va = ((a[0] - ma) * (a[0] - ma) + (a[1] - ma) * (a[1] - ma)) / 1,
               vb = ((b[0] - mb) * (b[0] - mb) + (b[1] - mb) * (b[1] - mb)) / 1;
  const double se2 = va / 2 + vb / 2;
  const double df = se2 * se2 / ((va / 2) * (va / 2) + (vb / 2) * (vb / 2));  // n - 1 = 1 each
  const double half = student_t_quantile(0.975, df) * std::sqrt(se2);
  const double t = (mb - ma) / std::sqrt(se2);
  const double p = 2 * (1 - student_t_cdf(std::fabs(t), df));
  CHECK(row["a"]["n"] == 2);
  CHECK(row["a"]["mean"].get<double>() == doctest::Approx(ma).epsilon(1e-12));
  CHECK(row["diff"].get<double>() == doctest::Approx(mb - ma).epsilon(1e-12));
  CHECK(row["ci95"][0].get<double>() == doctest::Approx(mb - ma - half).epsilon(1e-9));
  CHECK(row["ci95"][1].get<double>() == doctest::Approx(mb - ma + half).epsilon(1e-9));
  CHECK(row["p"].get<double>() == doctest::Approx(p).epsilon(1e-9));
  auto text = run_lowbit("diff d:fp d:ttq --db " + db);
  CHECK(text.out.find("A: d:fp (2 done of 2 seeds)") != std::string::npos);
  CHECK(text.out.find("quant.method                     fp -> ttq") != std::string::npos);

  // Observation keys are shown, marked: another experiment that differs from d:fp only in its
  // evaluation batch trains the same thing, so the grid reuses d's run for it.
  const std::string e = d / "e.json";
  write_tiny_experiment(e, "e", 96, 2, R"("variants": {"fp": {"eval_batch_size": 16}}, "seeds": 1)");
  auto eg = run_lowbit("grid " + e + " --db " + db + " --threads-per-worker 1");
  REQUIRE(eg.code == 0);
  CHECK_MESSAGE(eg.out.find("1 reused from other experiments") != std::string::npos, eg.out);
  auto obs = run_lowbit("diff d:fp e:fp --db " + db);
  CHECK_MESSAGE(obs.out.find("  eval_batch_size (observation)    1000 -> 16\n") != std::string::npos, obs.out);
  CHECK(obs.out.find("  name                             d -> e\n") != std::string::npos);

  // A variant spanning several configurations needs a filter; the filter picks one.
  auto many = run_lowbit("diff d:fp d:lr --db " + db);
  CHECK(many.code == 2);
  CHECK(many.out == "lowbit: d:lr holds 2 configurations (optim.lr in {0.02, 0.05}); pick one with "
                    "filters, e.g. d:lr:optim.lr=0.02\n");
  auto one = run_lowbit("diff d:fp d:lr:optim.lr=2e-2 --db " + db + " --format json");
  CHECK(one.code == 0);
  CHECK(nlohmann::json::parse(one.out)["config"][0]["b"] == "0.02");

  // Bad selectors: one line, exit 2, did-you-mean.
  auto unknown = run_lowbit("diff 1 d:tqq --db " + db);
  CHECK(unknown.code == 2);
  CHECK(unknown.out == "lowbit: no cell 'd:tqq', did you mean 'd:ttq'? (experiment:variant; see lowbit status)\n");
  auto no_run = run_lowbit("diff 999 1 --db " + db);
  CHECK(no_run.code == 2);
  CHECK(no_run.out.rfind("lowbit: no run '999'", 0) == 0);
  auto word = run_lowbit("diff banana 1 --db " + db);
  CHECK(word.code == 2);
  CHECK(word.out.rfind("lowbit: no run 'banana'", 0) == 0);
  {
    Db w(db, Db::Mode::kReadWrite);  // an empty selection: every seed of a cell failed
    w.exec("UPDATE runs SET status = 'failed' WHERE variant = 'ttq'");
  }
  auto empty = run_lowbit("diff d:fp d:ttq --db " + db);
  CHECK(empty.code == 2);
  CHECK(empty.out == "lowbit: d:ttq has no finished run to compare (0 done of 2 seeds)\n");
  auto fmt_bad = run_lowbit("diff 1 2 --format yaml --db " + db);
  CHECK(fmt_bad.code == 2);
  CHECK(fmt_bad.out == "lowbit: --format: expected text or json, got 'yaml'\n");
}

TEST_CASE("diff, note, reproduce: a cell is the report's cell, and variant@hash names a run") {
  TempDir d;
  const std::string g = d / "p.json", db = d / "r.db";
  // Each seed's TTQ run starts from its own seed's FP run: two parents, one cell.
  write_tiny_experiment(g, "p", 64, 1,
                        R"("variants": {"fp": {}, "ttq": {"quant.method": "ttq", "init": {"from_run": {"variant": "fp"}}}},
                           "seeds": 2)");
  REQUIRE(run_lowbit("grid " + g + " --db " + db + " --threads-per-worker 1").code == 0);
  auto c = run_lowbit("diff p:fp p:ttq --db " + db);
  CHECK_MESSAGE(c.code == 0, c.out);
  CHECK(c.out.find("B: p:ttq (2 done of 2 seeds)") != std::string::npos);

  // init.from_run's own name of the parent works wherever a run is named.
  auto conn = open_readonly(db);
  const std::string parent =
      std::get<std::string>(run_sql(*conn, "SELECT value FROM run_config WHERE key = 'init.from_run' AND value <> '' ORDER BY run_id LIMIT 1")
                                .rows[0][0]);
  REQUIRE(parent.rfind("fp@", 0) == 0);
  auto by_ref = run_lowbit("diff " + parent + " 2 --db " + db);
  CHECK_MESSAGE(by_ref.code == 0, by_ref.out);
  CHECK(by_ref.out.find("A: run 1 (") != std::string::npos);
  CHECK(run_lowbit("note " + parent + " \"parent of the first ttq run\" --db " + db).code == 0);
  CHECK(run_lowbit("note 1 --db " + db).out.find("parent of the first ttq run") != std::string::npos);
  auto bad = run_lowbit("diff fp@zz 1 --db " + db);
  CHECK(bad.code == 2);
  CHECK(bad.out == "lowbit: 'fp@zz': expected variant@hash, 4+ hex digits of the run's training hash (as "
                   "init.from_run stores it)\n");
  CHECK(run_lowbit("diff ttq@" + parent.substr(3) + " 1 --db " + db).out.rfind("lowbit: no run 'ttq@", 0) == 0);
}
