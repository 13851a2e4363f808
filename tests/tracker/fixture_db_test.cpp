// The committed fixture databases (tests/fixtures/README.md): one written by lowbit before
// schema 7 (fixture-v6.db, by the tracker of commit 90aa6e6) and one by this version
// (fixture-v7.db). Every later version must open them, migrate them, resume their grids without
// training anything, report and query them, and keep every run's id, data and children.
#include <doctest/doctest.h>

#include <algorithm>

#include <fmt/format.h>

#include "core/config/run_config.h"
#include "tests/test_util.h"
#include "tracker/queries.h"
#include "tracker/sqlite.h"
#include "tracker/store.h"

using namespace lowbit;
using lowbit::test::run_lowbit;
using lowbit::test::slurp;
using lowbit::test::TempDir;

namespace {

const std::string kFixtures = std::string(LOWBIT_SOURCE_DIR) + "/tests/fixtures";

int64_t count(const std::string& db, const std::string& sql) {
  Db d(db, Db::Mode::kReadOnly);
  return std::get<int64_t>(run_sql(d, sql).rows.at(0).at(0));
}

std::string text(const std::string& db, const std::string& sql) {
  Db d(db, Db::Mode::kReadOnly);
  return std::get<std::string>(run_sql(d, sql).rows.at(0).at(0));
}

// What every fixture holds, whichever version wrote it, before and after any migration.
void check_contents(const std::string& db) {
  CHECK(count(db, "SELECT count(*) FROM runs") == 14);
  CHECK(count(db, "SELECT count(*) FROM experiments") == 3);
  CHECK(count(db, "SELECT count(*) FROM metrics") == 136);
  CHECK(count(db, "SELECT count(*) FROM layer_stats") == 61);
  CHECK(count(db, "SELECT count(*) FROM tags") == 3);
  CHECK(count(db, "SELECT count(*) FROM notes") == 2);
  CHECK(count(db, "SELECT count(*) FROM reproductions") == 1);
  CHECK(count(db, "SELECT count(*) FROM runs WHERE reused_from IS NOT NULL") == 2);
  for (const char* status : {"done", "failed", "diverged", "stopped", "blocked", "pending"})
    CHECK_MESSAGE(count(db, fmt::format("SELECT count(*) FROM runs WHERE status = '{}'", status)) > 0,
                  status);
  // Each child names its parent's training hash, in its config and in run_config.
  CHECK(count(db,
              "SELECT count(*) FROM runs c JOIN runs p ON p.id = c.parent_run_id WHERE "
              "json_extract(c.config_json, '$.init.from_run') != p.variant || '@' || p.train_hash") == 0);
  CHECK(count(db,
              "SELECT count(*) FROM runs c JOIN run_config k ON k.run_id = c.id AND k.key = "
              "'init.from_run' WHERE k.value != json_extract(c.config_json, '$.init.from_run')") == 0);
  CHECK(count(db, "SELECT count(*) FROM runs WHERE parent_run_id IS NOT NULL") == 6);
}

}  // namespace

TEST_CASE("fixture databases: every version opens, migrates, resumes without training, reports") {
  for (const char* name : {"fixture-v6.db", "fixture-v7.db", "fixture-v8.db", "fixture-v9.db"}) {
    CAPTURE(name);
    TempDir d;
    const std::string db = d / "results.db";
    REQUIRE(std::system(fmt::format("cp '{}/{}' '{}'", kFixtures, name, db).c_str()) == 0);
    check_contents(db);
    // Status reads it as it is, before any migration.
    auto st = run_lowbit("status --db " + db);
    CHECK_MESSAGE(st.code == 0, st.out);
    CHECK(st.out.find("fixture_reuse") != std::string::npos);
    // The grid migrates and finds every run of each definition recorded: nothing to train
    // (exit 1: fixture holds failed runs, and the grid says so).
    for (const char* def : {"fixture", "fixture_reuse"}) {
      auto g = run_lowbit(fmt::format("grid {}/{}.json --db {} --workers 1", kFixtures, def, db));
      CHECK_MESSAGE(g.code == (std::string(def) == "fixture" ? 1 : 0), g.out);
      CHECK_MESSAGE(g.out.find(" new,") != std::string::npos, g.out);
      CHECK_MESSAGE(g.out.find("(0 new,") != std::string::npos, g.out);
      CHECK_MESSAGE(g.out.find("test_acc") == std::string::npos, g.out);  // no run trained
      CHECK_MESSAGE(g.out.find("not in this definition") == std::string::npos, g.out);
    }
    CHECK(count(db, "SELECT version FROM schema_version") == Store::kSchemaVersion);
    check_contents(db);
    CHECK(count(db, "SELECT count(*) FROM runs WHERE in_definition = 0") == 0);
    // The unfinished experiment's definition still expands to its runs (a dry run lists them).
    auto dry = run_lowbit(fmt::format("grid {}/fixture_live.json --db {} --dry-run", kFixtures, db));
    CHECK(dry.code == 0);
    for (int64_t id = 11; id <= 14; ++id) {
      const std::string h = text(db, fmt::format("SELECT config_hash FROM runs WHERE id = {}", id));
      CHECK_MESSAGE(dry.out.find(h) != std::string::npos, "run " << id << " " << h);
    }
    // Report and query read it.
    auto rep = run_lowbit(fmt::format("report --experiment fixture --db {} --out {} --no-plots", db, d / "rep"));
    CHECK_MESSAGE(rep.code == 0, rep.out);
    const std::string md = slurp(d / "rep/report.md");
    CHECK(md.find("| fp ") != std::string::npos);
    CHECK(md.find("out of memory") != std::string::npos);  // the failed run, excluded with its reason
    CHECK(md.find("the reference FP run") != std::string::npos);  // a note
    auto q = run_lowbit("query runs --db " + db);
    CHECK_MESSAGE(q.code == 0, q.out);
    CHECK(q.out.find("fixture_live") != std::string::npos);
  }
}

TEST_CASE("fixture databases: the pre-schema-7 hashes that move are rewritten, children relinked") {
  TempDir d;
  const std::string db = d / "results.db";
  REQUIRE(std::system(fmt::format("cp '{}/fixture-v6.db' '{}'", kFixtures, db).c_str()) == 0);
  // fixture and fixture_reuse set observation keys (eval_batch_size 48, health.grad_spike 10):
  // their format-1 hashes moved; fixture_live sets none, so its hashes stay.
  const std::string fp0 = text(db, "SELECT config_hash FROM runs WHERE id = 1");
  const std::string live = text(db, "SELECT config_hash FROM runs WHERE id = 11");
  const std::string ttq_from = text(db, "SELECT json_extract(config_json, '$.init.from_run') FROM runs WHERE id = 3");
  auto g = run_lowbit(fmt::format("grid {}/fixture.json --db {}", kFixtures, db));
  REQUIRE_MESSAGE(g.code == 1, g.out);  // its failed runs
  CHECK(text(db, "SELECT config_hash FROM runs WHERE id = 1") != fp0);
  CHECK(text(db, "SELECT legacy_hash FROM runs WHERE id = 1") == fp0);
  CHECK(text(db, "SELECT config_hash FROM runs WHERE id = 11") == live);
  CHECK(count(db, "SELECT count(*) FROM runs WHERE id = 11 AND legacy_hash IS NULL") == 1);
  CHECK(text(db, "SELECT json_extract(config_json, '$.init.from_run') FROM runs WHERE id = 3") != ttq_from);
  // The new hash is what this version computes from the stored config.
  const RunConfig fp = config_from_json(
      nlohmann::json::parse(text(db, "SELECT config_json FROM runs WHERE id = 1")), "run 1");
  CHECK(text(db, "SELECT config_hash FROM runs WHERE id = 1") == config_hash(fp));
  CHECK(text(db, "SELECT train_hash FROM runs WHERE id = 1") == training_hash(fp));
}

TEST_CASE("fixture databases: a migration that rewrites identities refuses a database in use") {
  TempDir d;
  const std::string db = d / "results.db";
  REQUIRE(std::system(fmt::format("cp '{}/fixture-v6.db' '{}'", kFixtures, db).c_str()) == 0);
  {
    Db w(db, Db::Mode::kReadWrite);
    w.exec("UPDATE runs SET heartbeat_at = CAST(strftime('%s', 'now') AS REAL) - 2 WHERE id = 12");
  }
  auto g = run_lowbit(fmt::format("grid {}/fixture.json --db {}", kFixtures, db));
  CHECK(g.code == 2);
  CHECK_MESSAGE(g.out.find("schema 7 rewrites run identities, and run 12 is running (pid 4000000 on "
                           "fixture-host, heartbeat ") != std::string::npos,
                g.out);
  CHECK(g.out.find("stop that grid (Ctrl-C), then run lowbit grid again") != std::string::npos);
  CHECK(count(db, "SELECT version FROM schema_version") == 6);  // nothing written
  CHECK(text(db, "SELECT config_hash FROM runs WHERE id = 1") == text(kFixtures + "/fixture-v6.db", "SELECT config_hash FROM runs WHERE id = 1"));
}

TEST_CASE("reports keep to the definition: other runs of the experiment in a footnote, --all-runs marks them") {
  TempDir d;
  const std::string db = d / "results.db";
  REQUIRE(std::system(fmt::format("cp '{}/fixture-v7.db' '{}'", kFixtures, db).c_str()) == 0);
  // The same experiment relaunched with seed 0 only: seed 1's runs leave the definition.
  std::string def = slurp(kFixtures + "/fixture.json");
  def.replace(def.find("\"seeds\": 2"), 10, "\"seeds\": [0]");
  lowbit::test::write_file(d / "fixture.json", def);
  auto g = run_lowbit(fmt::format("grid {} --db {}", d / "fixture.json", db));
  REQUIRE_MESSAGE(g.code == 1, g.out);  // its failed run
  CHECK_MESSAGE(g.out.find("fixture: 4 runs (0 new, 3 done,") != std::string::npos, g.out);
  CHECK_MESSAGE(g.out.find("grid: 4 earlier run(s) of 'fixture' in " + db + " are not in this definition") !=
                    std::string::npos,
                g.out);
  CHECK(count(db, "SELECT count(*) FROM runs WHERE in_definition = 0") == 4);
  auto rep = run_lowbit(fmt::format("report --experiment fixture --db {} --out {} --no-plots --tables main", db, d / "a"));
  REQUIRE_MESSAGE(rep.code == 0, rep.out);
  const std::string md = slurp(d / "a/report.md");
  CHECK(md.find("4 runs, 3 finished") != std::string::npos);
  CHECK(md.find("4 run(s) of `fixture` are not in the definition it was last launched with") != std::string::npos);
  CHECK(md.find("variant `ttq`: runs 4 (seed 1, failed)") != std::string::npos);
  CHECK(md.find("(earlier def.)") == std::string::npos);
  auto all = run_lowbit(
      fmt::format("report --experiment fixture --db {} --out {} --no-plots --tables main --all-runs", db, d / "b"));
  REQUIRE_MESSAGE(all.code == 0, all.out);
  const std::string md_all = slurp(d / "b/report.md");
  CHECK(md_all.find("8 runs, 4 finished") != std::string::npos);
  CHECK(md_all.find("| fp (earlier def.) ") != std::string::npos);
  CHECK(md_all.find("they are included in rows of their own, marked `(earlier def.)`") != std::string::npos);
  // Relaunching the full definition brings them back.
  auto back = run_lowbit(fmt::format("grid {}/fixture.json --db {}", kFixtures, db));
  CHECK(back.code == 1);
  CHECK(count(db, "SELECT count(*) FROM runs WHERE in_definition = 0") == 0);
}

TEST_CASE("fixture databases: a run without a result takes the definition's observation keys, a finished run keeps its own") {
  TempDir d;
  const std::string db = d / "results.db";
  REQUIRE(std::system(fmt::format("cp '{}/fixture-v7.db' '{}'", kFixtures, db).c_str()) == 0);
  std::string def = slurp(kFixtures + "/fixture.json");
  def.replace(def.find("\"grad_spike\": 10"), 16, "\"grad_spike\": 50");
  lowbit::test::write_file(d / "fixture.json", def);
  auto g = run_lowbit(fmt::format("grid {} --db {}", d / "fixture.json", db));
  REQUIRE_MESSAGE(g.code == 1, g.out);
  CHECK(g.out.find("(0 new,") != std::string::npos);
  const auto spike = [&](int64_t id) {
    Db r(db, Db::Mode::kReadOnly);
    auto t = run_sql(r, fmt::format("SELECT json_extract(config_json, '$.health.grad_spike'), (SELECT value "
                                    "FROM run_config WHERE run_id = {0} AND key = 'health.grad_spike') "
                                    "FROM runs WHERE id = {0}",
                                    id));
    return std::make_pair(std::get<double>(t.rows.at(0).at(0)), std::get<double>(t.rows.at(0).at(1)));
  };
  CHECK(spike(8) == std::make_pair(50.0, 50.0));  // stopped: it resumes under the new rule
  CHECK(spike(4) == std::make_pair(50.0, 50.0));  // failed
  CHECK(spike(1) == std::make_pair(10.0, 10.0));  // done: the rule it ran with
  CHECK(count(db, "SELECT count(*) FROM runs WHERE in_definition = 0") == 0);
}

TEST_CASE("status calls a running run whose worker is gone stale, and says the grid reclaims it") {
  TempDir d;
  const std::string db = d / "results.db";
  REQUIRE(std::system(fmt::format("cp '{}/fixture-v7.db' '{}'", kFixtures, db).c_str()) == 0);
  auto st = run_lowbit("status --db " + db + " --experiment fixture_live");
  REQUIRE_MESSAGE(st.code == 0, st.out);
  CHECK_MESSAGE(st.out.find("  stale: run 12 ") != std::string::npos, st.out);
  // Its latest recorded epoch, with its loss and accuracy.
  CHECK_MESSAGE(st.out.find("; after epoch 1: train_loss 1.3000, test_acc 32.00% (") != std::string::npos, st.out);
  CHECK(st.out.find("(no heartbeat for ") != std::string::npos);
  CHECK(st.out.find("s; the next lowbit grid reclaims it)\n") != std::string::npos);
  // On this host with a fresh heartbeat, a dead pid is enough.
  char host[256] = {0};
  ::gethostname(host, sizeof host - 1);
  {
    Db w(db, Db::Mode::kReadWrite);
    w.prepare("UPDATE runs SET host = ?, heartbeat_at = CAST(strftime('%s', 'now') AS REAL) WHERE id = 12")
        .bind(1, std::string(host))
        .run();
  }
  auto here = run_lowbit("status --db " + db + " --experiment fixture_live");
  CHECK_MESSAGE(here.out.find("(its worker (pid 4000000) is gone; the next lowbit grid reclaims it)") !=
                    std::string::npos,
                here.out);
  // --watch: the same report again and again (here twice, 0.1 s apart; piped: one after the other).
  auto w = run_lowbit("status --db " + db + " --experiment fixture_live --watch=0.1 --count 2");
  CHECK_MESSAGE(w.code == 0, w.out);
  CHECK(std::count(w.out.begin(), w.out.end(), '\n') > 2);
  size_t headers = 0;
  for (size_t p = w.out.find("lowbit status --watch: "); p != std::string::npos; p = w.out.find("lowbit status --watch: ", p + 1))
    ++headers;
  CHECK(headers == 2);
  CHECK(w.out.find("\033[") == std::string::npos);  // not a terminal: no screen clearing
  CHECK(run_lowbit("status --db " + db + " --watch=0").code != 0);
}
