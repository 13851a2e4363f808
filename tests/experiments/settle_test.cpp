// lowbit grid --settle through the real binary: seeds added to undecided claims' cells at the
// planned looks, every look recorded, and a kill -9 in the middle followed by the same command
// giving the same decisions as an uninterrupted run.
#include <doctest/doctest.h>
#include <signal.h>

#include <chrono>
#include <fstream>
#include <thread>

#include <fmt/format.h>

#include "core/util.h"
#include "tests/db_poll.h"
#include "tracker/jsonl_observer.h"
#include "tests/test_util.h"

using namespace lowbit;
using namespace lowbit::test;

namespace {

// Noisy synthetic data: A learns to about 60%; B barely moves (lr 1e-6: chance, about 25%);
// A2 is A with a learning rate 10% lower, within a few points of A seed for seed.
// Two seeds to start: the first look (2 of 6 seeds) has the level 2 - 2 Phi(1.96 sqrt 3) =
// 0.00069, which a t-test with one degree of freedom cannot reach (t > 460), so every claim is
// settled by the seeds --settle adds.
std::string write_definition(const TempDir& d) {
  const std::string path = d / "settle.json";
  std::ofstream(path) << R"({"name": "settle",
    "base": {"data": {"name": "synthetic", "synthetic": {"train": 256, "test": 128, "size": 8, "classes": 4,
             "noise": 3.0}}, "batch_size": 32, "epochs": 1},
    "variants": {"A": {"optim.lr": 0.05}, "B": {"optim.lr": 1e-6}, "A2": {"optim.lr": 0.045}}, "seeds": 2,
    "claims": [
    {"name": "a_beats_b", "a": "A", "b": "B", "kind": "greater", "margin": 5, "source": "A learns."},
    {"name": "b_beats_a", "a": "B", "b": "A", "kind": "greater", "source": "B learns better."},
    {"name": "a_like_a2", "a": "A", "b": "A2", "kind": "equivalent", "margin": 10, "source": "10% of lr is nothing."}]})";
  return path;
}

std::string settle_command(const std::string& def, const std::string& db) {
  return "grid " + def + " --db " + db + " --workers 2 --threads-per-worker 1 --settle --max-seeds 6";
}

// Every recorded look: "look claim decision" lines.
std::string decisions(const std::string& db) {
  return run_lowbit("query --db " + db +
                    " --sql \"SELECT look, claim, seeds, decision FROM settle_looks ORDER BY look, claim\" --format csv")
      .out;
}

}  // namespace

TEST_CASE("settle: looks at 2, 4, 6 seeds decide every claim; a kill -9 mid-way and the same command decide alike") {
  TempDir d;
  const std::string def = write_definition(d);
  const std::string clean = d / "clean.db";
  auto r = run_lowbit(settle_command(def, clean));
  REQUIRE_MESSAGE(r.code == 0, r.out);
  CHECK(r.out.find("looks at 2, 4, 6 seeds per cell") != std::string::npos);
  const std::string want = decisions(clean);
  // Nothing is decided at the first look (one degree of freedom cannot reach its level).
  CHECK(want.find("0,a_beats_b,2,undecided") != std::string::npos);
  CHECK(want.find("0,a_like_a2,2,undecided") != std::string::npos);
  CHECK(want.find(",a_beats_b,") != std::string::npos);
  for (const char* decided : {"a_beats_b,{},supported", "b_beats_a,{},contradicted", "a_like_a2,{},supported"}) {
    const bool found = want.find(fmt::format(decided, 4)) != std::string::npos ||
                       want.find(fmt::format(decided, 6)) != std::string::npos;
    CHECK_MESSAGE(found, decided << "\n" << want);
  }
  // Seeds were added only to the cells that needed them: at most 6 each, and B, decided at
  // the second look at the latest, never got a sixth.
  CHECK(scalar(clean, "SELECT max(seed) FROM runs") <= 5);
  CHECK(scalar(clean, "SELECT count(*) FROM runs r JOIN run_params p ON p.run_id = r.id WHERE p.variant = 'B'") <= 4);
  // The report shows the decisions --settle made, with the look.
  auto rep = run_lowbit("report --db " + clean + " --experiment settle --out " + d / "rep" + " --no-plots");
  REQUIRE_MESSAGE(rep.code == 0, rep.out);
  const std::string md = slurp(d / "rep/report.md");
  CHECK(md.find("--settle: supported at look") != std::string::npos);
  CHECK(md.find("**contradicted**") != std::string::npos);

  // The same again, killed (kill -9) once the first look is recorded, then resumed.
  const std::string killed = d / "killed.db";
  const std::string cmd = std::string(LOWBIT_BINARY) + " " + settle_command(def, killed) + " > " + d / "log" + " 2>&1 & echo $!";
  FILE* p = ::popen(cmd.c_str(), "r");
  int pid = 0;
  REQUIRE(std::fscanf(p, "%d", &pid) == 1);
  ::pclose(p);
  REQUIRE(wait_until(killed, "SELECT count(*) FROM settle_looks", 3) >= 3);
  wait_until(killed, "SELECT count(*) FROM runs WHERE status = 'done'", 7, 20);  // into the second look
  ::kill(pid, SIGKILL);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  auto again = run_lowbit(settle_command(def, killed));
  REQUIRE_MESSAGE(again.code == 0, again.out);
  CHECK(decisions(killed) == want);
  // A resumed --settle must keep its plan.
  auto other = run_lowbit("grid " + def + " --db " + killed + " --settle --max-seeds 8");
  CHECK(other.code == 2);
  CHECK(other.out.find("holds the looks of settle with 2 seeds and --max-seeds 6") != std::string::npos);
}

TEST_CASE("settle: refused without claims, without --max-seeds, or with too few seeds") {
  TempDir d;
  write_tiny_experiment(d / "none.json", "none", 64, 1, R"("variants": {"A": {}}, "seeds": 2)");
  auto r = run_lowbit("grid " + d / "none.json" + " --db " + d / "r.db" + " --settle --max-seeds 4");
  CHECK(r.code == 2);
  CHECK(r.out.find("--settle decides claims, and this definition has none") != std::string::npos);
  const std::string def = write_definition(d);
  r = run_lowbit("grid " + def + " --db " + d / "r.db" + " --settle");
  CHECK(r.code == 2);
  CHECK(r.out.find("--settle needs --max-seeds N") != std::string::npos);
  r = run_lowbit("grid " + def + " --db " + d / "r.db" + " --settle --max-seeds 2");
  CHECK(r.code == 2);
  CHECK(r.out.find("--max-seeds 2: must exceed the definition's 2 seeds") != std::string::npos);
  r = run_lowbit("grid " + def + " --db " + d / "r.db" + " --settle --max-seeds 6 --dry-run");
  CHECK(r.code == 0);
  CHECK(r.out.find("settle: looks at 2 seeds (level 0.0006") != std::string::npos);
  // The power line of each claim before launch: nothing recorded yet, no prior given.
  CHECK(r.out.find("claims: the seeds each needs") != std::string::npos);
  CHECK(r.out.find("claim b_beats_a (greater): no margin") != std::string::npos);
  CHECK(r.out.find("claim a_beats_b (greater, margin 5): no SD yet") != std::string::npos);
}

TEST_CASE("settle: lowbit suite --settle settles each question; its results document quotes only its tables") {
  TempDir d;
  make_dirs(d / "suite", "test");
  const std::string one = write_definition(d);
  std::rename(one.c_str(), (d / "suite/a_settle.json").c_str());
  std::ofstream(d / "suite/b_second.json") << R"({"name": "second",
    "base": {"data": {"name": "synthetic", "synthetic": {"train": 256, "test": 128, "size": 8, "classes": 4,
             "noise": 3.0}}, "batch_size": 32, "epochs": 1},
    "variants": {"C": {"optim.lr": 0.05}, "D": {"optim.lr": 1e-6}}, "seeds": 2,
    "claims": [{"name": "c_beats_d", "a": "C", "b": "D", "kind": "greater", "margin": 5, "source": "C learns."}]})";
  // A commentary that quotes a number no table prints: the results document is refused.
  std::ofstream(d / "suite/b_second.md") << "C learns.\nIt ends near 99.99% here.\n";
  const std::string cmd = "suite " + d / "suite" + " --db " + d / "s.db" + " --out " + d / "out" + " --results " +
                          d / "RESULTS.md" + " --workers 2 --threads-per-worker 1 --settle --max-seeds 4";
  auto r = run_lowbit(cmd);
  CHECK(r.code == 2);
  CHECK_MESSAGE(r.out.find("b_second.md:2: 99.99 is in no table or claim of second") != std::string::npos, r.out);
  CHECK(!is_file(d / "RESULTS.md"));
  CHECK(scalar(d / "s.db", "SELECT count(DISTINCT experiment_id) FROM settle_looks") == 2);
  // Interpreting the claims instead: written, each question led by its claims.
  std::ofstream(d / "suite/b_second.md") << "The claims table decides whether C learns.\n";
  r = run_lowbit(cmd);
  REQUIRE_MESSAGE(r.code == 0, r.out);
  const std::string doc = slurp(d / "RESULTS.md");
  CHECK(doc.find("**Claims**") != std::string::npos);
  CHECK(doc.find("c_beats_d") != std::string::npos);
  CHECK(doc.find("--settle: supported at look") != std::string::npos);
}
