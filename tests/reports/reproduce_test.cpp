// lowbit reproduce: the verdict logic on hand-made metrics (the interval computed by hand),
// then the command on a tiny grid: bit-identical, a tampered metric, bad input.
#include <doctest/doctest.h>

#include <cmath>
#include <fstream>

#include <fmt/format.h>

#include "reports/reproduce.h"
#include "tracker/queries.h"
#include "tracker/sqlite.h"
#include "tests/test_util.h"

using namespace lowbit;
using namespace lowbit::test;

TEST_CASE("reproduce: verdicts on hand-made metrics; timings never count") {
  EpochMetrics stored = {{{1, "test_acc"}, 0.5}, {{2, "test_acc"}, 0.81}, {{2, "train_loss"}, 0.3},
                         {{2, "epoch_seconds"}, 4.0}};
  EpochMetrics same = stored;
  same[{2, "epoch_seconds"}] = 9.0;  // timing: ignored
  same[{2, "images_per_second"}] = 100;
  CHECK(judge_reproduction(stored, same, "test_acc", {0.81}).verdict == "bit-identical");

  EpochMetrics off = same;
  off[{2, "test_acc"}] = 0.83;
  // Cell {0.80, 0.82, 0.84}: mean 0.82, s 0.02; t(0.975, 2) = 4.302653; half = t s sqrt(4/3).
  const double half = 4.302652729911275 * 0.02 * std::sqrt(4.0 / 3.0);
  auto v = judge_reproduction(stored, off, "test_acc", {0.80, 0.82, 0.84});
  CHECK(v.verdict == "within seed spread");
  CHECK(v.detail == fmt::format("first departure at epoch 2, test_acc: stored 0.81000000000000005, rerun "
                                "0.82999999999999996; final test_acc 0.83 is inside the cell's 95% "
                                "prediction interval [{:.6g}, {:.6g}] (3 seeds)",
                                0.82 - half, 0.82 + half));
  off[{2, "test_acc"}] = 0.95;  // 0.95 - 0.82 = 0.13 > half (0.0994)
  CHECK(judge_reproduction(stored, off, "test_acc", {0.80, 0.82, 0.84}).verdict == "different");
  auto lone = judge_reproduction(stored, off, "test_acc", {0.81});
  CHECK(lone.verdict == "different");
  CHECK(lone.detail.find("the cell has 1 done seed(s): no spread") != std::string::npos);
  EpochMetrics shorter = {{{1, "test_acc"}, 0.5}};
  CHECK(judge_reproduction(stored, shorter, "test_acc", {0.81, 0.82}).detail.rfind(
            "epoch 2 test_acc: stored 0.81000000000000005, the rerun has none", 0) == 0);
}

TEST_CASE("reproduce: a finished run reruns bit-identical; a tampered record is caught; bad input") {
  TempDir d;
  const std::string g = d / "r.json", db = d / "r.db";
  write_tiny_experiment(g, "r", 64, 2,
                        R"("variants": {"fp": {}, "bad": {"optim.lr": 1e30, "optim.momentum": 0,
                                                          "optim.schedule": "constant"}}, "seeds": 2)");
  run_lowbit("grid " + g + " --db " + db + " --threads-per-worker 1");
  auto r = run_lowbit("reproduce 1 --db " + db + " --scratch " + d / "s1");
  CHECK(r.code == 0);
  CHECK(last_line(r.out).find("): bit-identical (every metric of every epoch is the same double; 1 threads;") !=
        std::string::npos);
  {
    Db w(db, Db::Mode::kReadWrite);
    w.exec("UPDATE metrics SET value = value + 1e-6 WHERE run_id = 2 AND epoch = 2 AND key = 'train_loss'");
  }
  auto t = run_lowbit("reproduce 2 --db " + db + " --scratch " + d / "s2");
  CHECK(last_line(t.out).find("first departure at epoch 2, train_loss: stored ") != std::string::npos);
  auto conn = open_readonly(db);
  auto rows = run_sql(*conn, "SELECT run_id, verdict FROM reproductions ORDER BY id").rows;
  REQUIRE(rows.size() == 2);
  CHECK(std::get<std::string>(rows[0][1]) == "bit-identical");
  auto q = run_lowbit("query runs --db " + db + " --where variant=fp --format csv");
  CHECK(q.out.find(",bit-identical,\n") != std::string::npos);  // then the (empty) reason

  // Without --scratch the rerun's directory under /tmp is removed once the verdict is recorded.
  auto count_scratch = [] {
    auto ls = ::popen("ls -d /tmp/lowbit_reproduce_* 2>/dev/null | wc -l", "r");
    int n = 0;
    if (std::fscanf(ls, "%d", &n) != 1) n = -1;
    ::pclose(ls);
    return n;
  };
  const int scratch_before = count_scratch();
  auto plain = run_lowbit("reproduce 1 --db " + db);
  CHECK(plain.code == 0);
  CHECK(last_line(plain.out).find("; rerun files removed: --scratch DIR keeps them)") != std::string::npos);
  CHECK(count_scratch() == scratch_before);
  CHECK(slurp(d / "s1" + "/metrics.jsonl").size() > 0);  // with --scratch they stay

  auto diverged = run_lowbit("reproduce 3 --db " + db);
  CHECK(diverged.code == 2);
  CHECK(diverged.out.find("is diverged; only a finished (done) run can be reproduced") != std::string::npos);
  auto cell = run_lowbit("reproduce r:fp --db " + db);
  CHECK(cell.code == 2);
  CHECK(run_lowbit("reproduce 77 --db " + db).code == 2);
}
