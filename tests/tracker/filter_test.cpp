// The one filter language (tracker/filter.h) on the committed fixture database: what each
// operator selects, keys absent outside their scope, the names and values a condition can use,
// and the errors; then through the binary in lowbit query, tag, report and the run_params view.
#include <doctest/doctest.h>

#include <fmt/format.h>

#include "core/config/run_config.h"
#include "core/error.h"
#include "tests/test_util.h"
#include "tracker/filter.h"
#include "tracker/queries.h"
#include "tracker/store.h"

using namespace lowbit;
using namespace lowbit::test;

namespace {

const std::string kFixtures = std::string(LOWBIT_SOURCE_DIR) + "/tests/fixtures";

// The fixture's runs (tests/fixtures/fixture_db.cpp): 1-2 fp done (tag baseline), 3 ttq done,
// 4 ttq failed (tag suspect), 5 ttq_ft done, 6 ttq_ft blocked, 7 slb diverged and 8 slb stopped
// (quant.bits 1), 9-10 fp of fixture_reuse, 11-14 of fixture_live (fp, fp, ttq, ttq).
std::vector<int64_t> ids_all(const std::string& db, const std::vector<std::string>& where) {
  auto c = open_readonly(db);
  return filtered_runs(*c, compile_run_filter(*c, where));
}
std::vector<int64_t> ids(const std::string& db, const std::string& where) {
  return ids_all(db, {where});
}
std::string error_of(const std::string& db, const std::string& where) {
  try {
    ids(db, where);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(no error)";
}

std::string fixture_copy(const TempDir& d) {
  const std::string db = d / "results.db";
  REQUIRE(std::system(fmt::format("cp '{}/fixture-v9.db' '{}'", kFixtures, db).c_str()) == 0);
  return db;
}

using V = std::vector<int64_t>;

}  // namespace

TEST_CASE("filter: operators, and/or/not, parentheses and in select what they say") {
  TempDir d;
  const std::string db = fixture_copy(d);
  CHECK(ids(db, "variant = ttq") == V{3, 4, 13, 14});
  CHECK(ids(db, "variant = 'ttq'") == V{3, 4, 13, 14});  // quoted, as SQL writes it
  CHECK(ids(db, "variant == \"ttq\"") == V{3, 4, 13, 14});
  CHECK(ids(db, "quant.method in (ttq, slb) and experiment = fixture") == V{3, 4, 5, 6, 7, 8});
  CHECK(ids(db, "quant.method not in (fp, ttq)") == V{7, 8});
  CHECK(ids(db, "quant.method=ttq and seed=1") == V{4, 6});  // no spaces
  // and binds tighter than or; parentheses change it; not negates what follows.
  CHECK(ids(db, "variant = slb or variant = ttq and seed = 1") == V{4, 7, 8});
  CHECK(ids(db, "(variant = slb or variant = ttq) and seed = 1") == V{4, 8});
  CHECK(ids(db, "not experiment = fixture and status != pending") == V{9, 10, 11, 12});
  CHECK(ids(db, "run >= 12") == V{12, 13, 14});
  CHECK(ids(db, "run_id < 3") == V{1, 2});  // the run_params column name
  CHECK(ids(db, "status in (failed, diverged, stopped)") == V{4, 7, 8});
  CHECK(ids(db, "tag = baseline") == V{1, 2});
  CHECK(ids(db, "tag != baseline and experiment = fixture") == V{3, 4, 5, 6, 7, 8});
  CHECK(ids(db, "tag in (baseline, suspect)") == V{1, 2, 4});
  CHECK(ids(db, "hash = 8b84cd1d") == V{3});  // a prefix of the config hash
  CHECK(ids(db, "final_test_acc > 0.47") == V{2, 3, 5, 10});
  CHECK(ids(db, "all") == ids(db, "run > 0"));
  CHECK(ids(db, "all").size() == 14);
  // Several conditions (repeated --where): all must hold.
  CHECK(ids_all(db, {"quant.method = ttq", "status = done"}) == V{3, 5});
  auto c = open_readonly(db);
  const RunFilter both = compile_run_filter(*c, {"variant = fp or variant = slb", "seed = 0"});
  CHECK(both.text == "(variant = fp or variant = slb) and (seed = 0)");
  CHECK(filtered_runs(*c, both) == V{1, 7, 9, 11, 12});
}

TEST_CASE("filter: a key outside its scope is absent, not its default") {
  TempDir d;
  const std::string db = fixture_copy(d);
  // Every run stores quant.bits = 2 by default; only dorefa and slb read it. FP and TTQ runs
  // do not have it: no comparison holds for them, != included; not (...) is their complement.
  CHECK(ids(db, "quant.bits <= 2") == V{7, 8});
  CHECK(ids(db, "quant.bits = 2") == V{});
  CHECK(ids(db, "quant.bits != 1") == V{});
  CHECK(ids(db, "not quant.bits = 1").size() == 12);
  CHECK(ids(db, "quant.threshold = 0.05") == V{3, 4, 5, 6, 13, 14});  // TTQ's key, TTQ's runs
  CHECK(ids(db, "quant.temperature.t0 > 0") == V{7, 8});
  // The fixture's runs were recorded before quant.ttq.freeze_scales existed: no row; its TTQ
  // runs read the key's neutral value (false), as they ran; its other runs lack it.
  CHECK(ids(db, "quant.ttq.freeze_scales = false") == V{3, 4, 5, 6, 13, 14});
  CHECK(ids(db, "quant.ttq.freeze_scales = true") == V{});
  // A summary never recorded (a failed run's final accuracy) is absent as well: runs 4, 6 and 7
  // satisfy neither the comparison nor its != ...
  CHECK(ids(db, "final_test_acc < 0.47 and experiment = fixture") == V{1, 8});
  CHECK(ids(db, "final_test_acc >= 0.47 and experiment = fixture") == V{2, 3, 5});
  // ... but its complement.
  CHECK(ids(db, "not final_test_acc >= 0.47 and experiment = fixture") == V{1, 4, 6, 7, 8});
}

TEST_CASE("filter: unknown names and values are errors with did-you-mean") {
  TempDir d;
  const std::string db = fixture_copy(d);
  CHECK(error_of(db, "quant.bitz <= 2").find("unknown name 'quant.bitz', did you mean 'quant.bits'?") !=
        std::string::npos);
  const std::string slbb = error_of(db, "quant.method=slbb");
  CHECK(slbb.rfind("--where \"quant.method=slbb\": at 'slbb': quant.method: ", 0) == 0);
  CHECK(slbb.find("did you mean 'slb'?") != std::string::npos);
  CHECK(error_of(db, "variant = ttqq") ==
        "--where \"variant = ttqq\": at 'ttqq': no run has variant 'ttqq', did you mean 'ttq'? (fp, slb, ttq, ttq_ft)");
  CHECK(error_of(db, "status = finished").find("no run has status 'finished'") != std::string::npos);
  CHECK(error_of(db, "tag = baselin").find("did you mean 'baseline'?") != std::string::npos);
  CHECK(error_of(db, "quant.bits = two").find("quant.bits: expected an integer") != std::string::npos);
  CHECK(error_of(db, "quant.method < ttq") ==
        "--where \"quant.method < ttq\": at 'ttq': < compares numbers; quant.method is not one");
  CHECK(error_of(db, "variant > a").find("variant takes = != in, not in") != std::string::npos);
  CHECK(error_of(db, "variant = 'ttq").find("the quote at character 11 is never closed") != std::string::npos);
  CHECK(error_of(db, "variant = ttq extra").find("at 'extra': expected and, or or the end") != std::string::npos);
  CHECK(error_of(db, "variant").find("at the end: expected an operator after 'variant'") != std::string::npos);
  CHECK(error_of(db, "quant.bits => 2").find("unknown operator '=>'") != std::string::npos);
  CHECK(error_of(db, "1 = 1").find("at '1': a condition starts with a name, e.g. seed < 3 (every run: --where all)") !=
        std::string::npos);
  CHECK(error_of(db, "").find("the condition is empty (every run: --where all)") != std::string::npos);
  CHECK(error_of(db, "seed = x").find("seed is a number; 'x' is not one") != std::string::npos);
  // SQL cannot get through: values are quoted, names are looked up, ';' is refused.
  CHECK(error_of(db, "1); DELETE FROM runs; --").find("unexpected ';' at character 3") != std::string::npos);
  CHECK(error_of(db, "variant = ttq; DELETE FROM runs").find("unexpected ';'") != std::string::npos);
  CHECK(error_of(db, "variant = 'x'' OR 1 = 1 --'").find("no run has variant 'x' OR 1 = 1 --'") !=
        std::string::npos);  // one value, whole
}

TEST_CASE("filter: lowbit query, tag and report take it; run_params and query runs leave absent keys empty") {
  TempDir d;
  const std::string db = fixture_copy(d);
  auto q = run_lowbit("query runs --db " + db + " --experiment fixture --where \"quant.bits<=2\" --format json");
  REQUIRE_MESSAGE(q.code == 0, q.out);
  auto rows = nlohmann::json::parse(q.out);
  REQUIRE(rows.size() == 2);
  CHECK(rows[0]["run"] == 7);
  CHECK(rows[0]["quant.bits"] == 1);
  auto all = nlohmann::json::parse(run_lowbit("query runs --db " + db + " --experiment fixture --format json").out);
  REQUIRE(all.size() == 8);
  CHECK(all[0]["quant.method"] == "fp");
  CHECK(all[0]["quant.bits"].is_null());  // an FP run has no bits
  CHECK(all[6]["quant.bits"] == 1);
  auto bad = run_lowbit("query runs --db " + db + " --where quant.method=slbb");
  CHECK(bad.code == 2);
  CHECK(bad.out.find("did you mean 'slb'?") != std::string::npos);

  // tag: the same language, and --where all.
  auto t = run_lowbit("tag --db " + db + " --where \"quant.method = slb and status != diverged\" +kept");
  CHECK_MESSAGE(t.out == "1 runs matched; 1 tags added, 0 removed\n", t.out);
  CHECK(ids(db, "tag = kept") == V{8});
  CHECK(run_lowbit("tag --db " + db + " --where all -kept").out == "14 runs matched; 0 tags added, 1 removed\n");

  // run_params (recreated when a writer opens the database): NULL outside the scope.
  { Store s(db, Store::Open::kMigrate); }
  auto c = open_readonly(db);
  CHECK(run_sql(*c, "SELECT count(*) FROM run_params WHERE quant_bits <= 2").rows.at(0).at(0) == SqlValue(int64_t(2)));
  CHECK(run_sql(*c, "SELECT quant_bits FROM run_params WHERE run_id = 1").rows.at(0).at(0) == SqlValue());
  CHECK(run_sql(*c, "SELECT quant_ttq_freeze_scales FROM run_params WHERE run_id = 3").rows.at(0).at(0) ==
        SqlValue(int64_t(0)));

  // report --where: a report of a subset, which says so.
  auto r = run_lowbit("report --db " + db + " --experiment fixture --where \"variant in (fp, ttq)\" --out " +
                      d / "rep --tables main --no-plots --format md");
  REQUIRE_MESSAGE(r.code == 0, r.out);
  const std::string md = slurp(d / "rep/report.md");
  CHECK(md.find("4 runs (only those where variant in (fp, ttq)), 3 finished.") != std::string::npos);
  CHECK(md.find("| slb") == std::string::npos);
  CHECK(md.find("| ttq_ft") == std::string::npos);
  auto none = run_lowbit("report --db " + db + " --experiment fixture --where \"status = failed\" --out " +
                         d / "rep2 --no-plots");
  CHECK(none.code == 2);
  CHECK(none.out.find("--where \"status = failed\": no finished run of experiment 'fixture' satisfies it") !=
        std::string::npos);
}
