// The grid through the real binary: workers, resume after kill -9, concurrency, queries.
#include <doctest/doctest.h>

#include <signal.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "core/error.h"
#include "experiments/grid.h"
#include "tracker/queries.h"
#include "tests/db_poll.h"
#include "tracker/sqlite.h"
#include "core/nn/torch_compat.h"
#include "tests/test_util.h"

using namespace lowbit;
using namespace lowbit::test;

namespace {

// A grid of `variants` x 2 lrs x `seeds` tiny synthetic runs of `epochs` epochs.
std::string write_grid(const TempDir& d, int seeds, int epochs, const std::string& name = "tiny") {
  std::string path = d / (name + ".json");
  std::ofstream(path) << R"({"name": ")" << name << R"(",
    "base": {"data": {"name": "synthetic", "synthetic": {"train": 96, "test": 48, "size": 8, "classes": 4}},
             "batch_size": 32, "eval_batch_size": 48, "epochs": )"
                      << epochs << R"(},
    "axes": {"optim.lr": [0.05, 0.02]},
    "variants": {"fp": {}, "ttq": {"quant.method": "ttq"}},
    "seeds": )" << seeds
                      << "}";
  return path;
}

// True once a running run of the grid writing `db` has finished an epoch (60 s at most).
bool running_run_past_first_epoch(const std::string& db) {
  return wait_until(db, "SELECT COALESCE(max(epoch), 0) FROM runs WHERE status = 'running'", 1) >= 1;
}

// Two 4-epoch runs on 1,500 synthetic images: slow enough to interrupt mid-run.
std::string write_slow_grid(const TempDir& d) {
  const std::string g = d / "slow.json";
  std::ofstream(g) << R"({"name": "slow",
    "base": {"data": {"name": "synthetic", "synthetic": {"train": 1500, "test": 100, "size": 8, "classes": 4}},
             "batch_size": 32, "epochs": 4},
    "seeds": 2})";
  return g;
}

// Starts `lowbit grid g --db db` with one thread per worker in the background, its output
// in d/log; returns its pid.
pid_t start_grid(const TempDir& d, const std::string& g, const std::string& db) {
  pid_t pid = ::fork();
  if (pid == 0) {
    int fd = ::open((d / "log").c_str(), O_WRONLY | O_CREAT, 0644);
    ::dup2(fd, 1), ::dup2(fd, 2);
    ::execl(LOWBIT_BINARY, LOWBIT_BINARY, "grid", g.c_str(), "--db", db.c_str(),
            "--threads-per-worker", "1", (char*)nullptr);
    _exit(127);
  }
  return pid;
}

}  // namespace

TEST_CASE("grid: --dry-run lists and counts the runs, trains nothing") {
  TempDir d;
  auto g = write_grid(d, 3, 1);
  auto r = run_lowbit("grid " + g + " --dry-run --db " + d / "r.db");
  CHECK(r.code == 0);
  CHECK(last_line(r.out) == "12 runs");
  CHECK(r.out.find("ttq") != std::string::npos);
  struct stat st;
  CHECK(::stat((d / "r.db").c_str(), &st) != 0);
}

TEST_CASE("grid: --set, --seeds and --epochs change the grid and are stored with its definition") {
  TempDir d;
  auto g = write_grid(d, 3, 1);  // 12 runs: 3 seeds
  auto dry = run_lowbit("grid " + g + " --dry-run --seeds 1 --db " + d / "r.db");
  CHECK(last_line(dry.out) == "4 runs");
  auto r = run_lowbit("grid " + g + " --db " + d / "r.db --seeds 1 --epochs 1 --set optim.momentum=0.5 "
                      "--threads-per-worker 1");
  CHECK_MESSAGE(r.code == 0, r.out);
  const std::string db = d / "r.db";
  CHECK(scalar(db, "SELECT count(*) FROM runs WHERE status = 'done'") == 4);
  CHECK(scalar(db, "SELECT count(*) FROM run_config WHERE key = 'epochs' AND value = 1") == 4);
  CHECK(scalar(db, "SELECT count(*) FROM run_config WHERE key = 'optim.momentum' AND value = 0.5") == 4);
  CHECK(scalar(db, "SELECT count(*) FROM experiments WHERE json_extract(spec_json, '$.set.epochs') = 1 AND "
                   "json_extract(spec_json, '$.seeds') = 1") == 1);
  // The same command resumes the same grid: nothing new to train.
  auto again = run_lowbit("grid " + g + " --db " + d / "r.db --seeds 1 --epochs 1 --set optim.momentum=0.5");
  CHECK(again.out.find("4 runs (0 new, 4 done") != std::string::npos);
  auto bad = run_lowbit("grid " + g + " --db " + d / "r.db --epochs 0");
  CHECK(bad.code == 2);
  CHECK(bad.out == "lowbit: --epochs 0: expected 1 or more\n");
  // The GPU options, refused in one line before anything is registered.
  const std::vector<std::pair<std::string, std::string>> refused = {
      {"--workers-per-device 2", "--workers-per-device 2: only with --device cuda; on the CPU use --workers N"},
      {"--workers-per-device 9 --device cuda", "--workers-per-device 9: expected 1..8"},
      {"--determinism sloppy",
       "--determinism sloppy: expected strict (the default: the same bits on the same GPU) or fast (cuDNN "
       "benchmarks its algorithms)"},
      {"--device-memory-per-worker 0", "--device-memory-per-worker 0: expected GiB above 0"}};
  for (auto& [args, message] : refused) {
    auto r = run_lowbit("grid " + g + " --db " + d / "gpu.db " + args);
    CHECK_MESSAGE(r.code == 2, args);
    CHECK(r.out == "lowbit: " + message + "\n");
  }
  CHECK(!std::ifstream(d / "gpu.db").good());
}

// A database deleted (or replaced by an older copy) while its run directories stay: a
// checkpoint ahead of what the database recorded is not resumed silently (which would mark the
// run done without the metrics of the epochs it skipped); the run fails saying what to delete.
TEST_CASE("grid: a checkpoint from another copy of the database fails its run, naming the directory") {
  TempDir d;
  auto g = write_grid(d, 1, 2);
  const std::string db = d / "r.db";
  REQUIRE(run_lowbit("grid " + g + " --db " + db + " --epochs 2 --threads-per-worker 1").code == 0);
  for (const char* f : {"", "-wal", "-shm"}) std::remove((db + f).c_str());
  auto r = run_lowbit("grid " + g + " --db " + db + " --epochs 2 --threads-per-worker 1");
  CHECK(r.code != 0);
  CHECK(scalar(db, "SELECT count(*) FROM runs WHERE status = 'done'") == 0);
  CHECK_MESSAGE(r.out.find("its checkpoint resumes after epoch 2, but " + db +
                           " recorded 0 epoch(s) of it: the checkpoint belongs to another copy of this database") !=
                    std::string::npos,
                r.out);
  CHECK(r.out.find("delete the run's directory (" + db + ".runs/") != std::string::npos);
  // Deleted as it says, the runs train from the start.
  std::system(("rm -rf '" + db + ".runs'").c_str());
  auto again = run_lowbit("grid " + g + " --db " + db + " --epochs 2 --threads-per-worker 1 --retry-failed");
  CHECK_MESSAGE(again.code == 0, again.out);
  CHECK(scalar(db, "SELECT count(*) FROM runs WHERE status = 'done'") == scalar(db, "SELECT count(*) FROM runs"));
  CHECK(scalar(db, "SELECT count(*) FROM metrics WHERE key = 'test_acc'") == 2 * scalar(db, "SELECT count(*) FROM runs"));
}

TEST_CASE("grid: runs with 2 workers, records provenance, status and query read it") {
  TempDir d;
  auto g = write_grid(d, 2, 2);
  auto r = run_lowbit("grid " + g + " --db " + d / "r.db --workers 2 --threads-per-worker 1");
  CHECK(r.code == 0);
  const std::string db = d / "r.db";
  CHECK(scalar(db, "SELECT count(*) FROM runs WHERE status = 'done'") == 8);
  CHECK(scalar(db, "SELECT count(*) FROM runs WHERE attempts = 1") == 8);
  // Every run has every metric of both epochs exactly once.
  CHECK(scalar(db,
               "SELECT count(*) FROM (SELECT run_id, count(*) AS n FROM metrics WHERE key = "
               "'test_acc' GROUP BY run_id) WHERE n = 2") == 8);
  // Provenance columns are filled and plausible.
  CHECK(scalar(db,
               "SELECT count(*) FROM runs WHERE length(git_commit) >= 7 AND git_dirty IN (0, 1) "
               "AND host <> '' AND pid > 0 "
               "AND threads = 1 AND device = 'cpu' AND lowbit_version <> '' AND torch_version = '" +
                   libtorch_build() + "' AND compiler LIKE '%GNU%' "
               "AND determinism = 'strict: cpu (the same bits for the same thread count; the setting "
               "changes nothing here)' "
               "AND command_line LIKE 'lowbit worker --db%' AND started_at LIKE '20__-__-__T%Z' "
               "AND finished_at >= started_at "
               "AND length(config_json) > 100 AND length(config_hash) = 16") == 8);
  CHECK(
      scalar(db,
             "SELECT count(*) FROM artifacts WHERE kind = 'checkpoint' AND length(sha256) = 64") ==
      8);
  CHECK(scalar(db, "SELECT count(*) FROM summaries WHERE key = 'peak_rss_bytes' AND value > 1e6") ==
        8);
  // Each run's log: its start, one line per epoch, in its directory.
  {
    Db conn(db, Db::Mode::kReadOnly);
    auto st = conn.prepare("SELECT config_hash FROM runs ORDER BY id LIMIT 1");
    REQUIRE(st.step());
    const std::string log = slurp(db + ".runs/" + st.get_text(0) + "/log.txt");
    CHECK_MESSAGE(log.find("epoch 1/2 train_loss") != std::string::npos, log);
    CHECK_MESSAGE(log.find("epoch 2/2 train_loss") != std::string::npos, log);
  }
  auto status = run_lowbit("status --db " + db);
  CHECK(status.code == 0);
  CHECK(status.out.find("experiment tiny: 8 runs: 8 done") != std::string::npos);
  CHECK(status.out.find("ttq {\"optim.lr\":0.02}") != std::string::npos);
  auto q = run_lowbit("query runs --db " + db +
                      " --where quant.method=ttq --where optim.lr=0.05 --format csv");
  CHECK(q.code == 0);
  CHECK(q.out.rfind("run,experiment,variant,seed,status,optim.lr,quant.method,final_test_acc,best_"
                    "test_acc,wall_seconds,peak_rss_bytes,tags,notes,reproduced,reason\n",
                    0) == 0);
  CHECK(std::count(q.out.begin(), q.out.end(), '\n') == 3);  // header + 2 seeds
  auto sql = run_lowbit("query --db " + db + " --sql \"DELETE FROM runs\"");
  CHECK(sql.code == 2);
  CHECK(sql.out ==
        "lowbit: refused: queries are read-only (no INSERT, UPDATE, DELETE, DROP, CREATE, ATTACH "
        "or PRAGMA writes)\n");
  // Re-running the same command finds everything done and trains nothing.
  auto again = run_lowbit("grid " + g + " --db " + db);
  CHECK(again.code == 0);
  CHECK(again.out.find("8 runs (0 new, 8 done, 0 reclaimed)") != std::string::npos);
  CHECK(scalar(db, "SELECT max(attempts) FROM runs") == 1);
}

TEST_CASE(
    "grid: killed with SIGKILL mid-way and re-run, every run is done once and earlier results are "
    "intact") {
  TempDir d;
  auto g = write_grid(d, 3, 3);  // 12 runs
  const std::string db = d / "r.db";
  std::string cmd = std::string(LOWBIT_BINARY) + " grid " + g + " --db " + db +
                    " --workers 2 --threads-per-worker 1 > " + d / "log" + " 2>&1 & echo $!";
  FILE* p = ::popen(cmd.c_str(), "r");
  int pid = 0;
  REQUIRE(std::fscanf(p, "%d", &pid) == 1);
  ::pclose(p);
  // Wait until some runs are done, then kill the grid (its workers die with it).
  REQUIRE(wait_until(db, "SELECT count(*) FROM runs WHERE status = 'done'", 3) >= 3);
  ::kill(pid, SIGKILL);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  auto before =
      run_lowbit("query --db " + db +
                 " --sql \"SELECT run_id, epoch, key, value FROM metrics WHERE run_id IN "
                 "(SELECT id FROM runs WHERE status = 'done') ORDER BY 1, 2, 3\" --format csv");
  int64_t done_before = scalar(db, "SELECT count(*) FROM runs WHERE status = 'done'");
  CHECK(done_before < 12);
  auto r = run_lowbit("grid " + g + " --db " + db + " --workers 2 --threads-per-worker 1");
  CHECK(r.code == 0);
  CHECK(scalar(db, "SELECT count(*) FROM runs WHERE status = 'done'") == 12);
  CHECK(scalar(db,
               "SELECT count(*) FROM (SELECT run_id, count(*) AS n FROM metrics WHERE key = "
               "'test_acc' GROUP BY run_id) WHERE n = 3") == 12);
  // Runs finished before the kill were not run again and their metrics are unchanged.
  CHECK(scalar(db, "SELECT count(*) FROM runs WHERE attempts > 1") <= 2);
  auto after = run_lowbit("query --db " + db +
                          " --sql \"SELECT run_id, epoch, key, value FROM metrics WHERE run_id IN "
                          "(SELECT id FROM runs WHERE attempts = 1 AND finished_at IS NOT NULL) "
                          "ORDER BY 1, 2, 3\" --format csv");
  CHECK(after.out.find(before.out.substr(before.out.find('\n') + 1)) != std::string::npos);
}

TEST_CASE("grid: several workers and a concurrent reader: no lock errors, no lost rows") {
  TempDir d;
  auto g = write_grid(d, 2, 2);
  const std::string db = d / "r.db";
  std::atomic<bool> stop{false};
  std::atomic<int> reads{0}, errors{0};
  std::thread reader([&] {
    while (!stop) {
      struct stat st;
      if (::stat(db.c_str(), &st) == 0) {
        try {
          auto conn = open_readonly(db);
          run_sql(*conn, "SELECT count(*) FROM metrics");
          run_sql(*conn, "SELECT * FROM run_params");
          ++reads;
        } catch (const std::exception& e) {
          std::string w = e.what();
          if (w.find("no such table") == std::string::npos &&
              w.find("not a lowbit results database") == std::string::npos)
            ++errors;
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });
  auto r = run_lowbit("grid " + g + " --db " + db + " --workers 3 --threads-per-worker 1");
  stop = true;
  reader.join();
  CHECK(r.code == 0);
  CHECK(r.out.find("locked") == std::string::npos);
  CHECK(errors == 0);
  CHECK(reads > 10);
  int64_t keys = scalar(db, "SELECT count(DISTINCT key) FROM metrics");
  CHECK(scalar(db, "SELECT count(*) FROM metrics") == 8 * 2 * keys);
}

TEST_CASE("grid: bad input is exit 2 with one line, and nothing is written") {
  TempDir d;
  std::ofstream(d / "bad.json")
      << "{\n  \"name\": \"x\",\n  \"seeds\": 2,\n  \"axes\": {\"optim.lr\": [0.1,]}\n}";
  auto r = run_lowbit("grid " + d / "bad.json --db " + d / "r.db");
  CHECK(r.code == 2);
  CHECK(r.out.rfind("lowbit: " + d / "bad.json" + ":4:", 0) == 0);
  CHECK(std::count(r.out.begin(), r.out.end(), '\n') == 1);
  std::ofstream(d / "unknown.json")
      << R"({"name": "x", "variants": {"a": {}, "b": {"quant": {"methd": "ttq"}}}})";
  auto u = run_lowbit("grid " + d / "unknown.json --db " + d / "r.db");
  CHECK(u.code == 2);
  CHECK(u.out == "lowbit: " + d / "unknown.json" +
                     ": variants.b: unknown key 'quant.methd', did you mean 'quant.method'?\n");
  auto nodir = run_lowbit("grid " + write_grid(d, 1, 1) + " --db " + d / "missing/r.db");
  CHECK(nodir.code == 2);
  CHECK(nodir.out == "lowbit: --db " + d / "missing/r.db" + ": directory " + d / "missing" +
                         " does not exist (create it or choose another --db)\n");
  struct stat st;
  CHECK(::stat((d / "r.db").c_str(), &st) != 0);
}

TEST_CASE(
    "grid: SIGINT marks the running run interrupted, exits 130, and the next run resumes it") {
  TempDir d;
  const std::string g = write_slow_grid(d), db = d / "r.db";
  pid_t pid = start_grid(d, g, db);
  // Wait until the first run has finished an epoch, then press Ctrl-C once.
  REQUIRE(running_run_past_first_epoch(db));
  ::kill(pid, SIGINT);
  int status = 0;
  ::waitpid(pid, &status, 0);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 130);
  CHECK(scalar(db,
               "SELECT count(*) FROM runs WHERE status = 'interrupted' AND error LIKE 'interrupted "
               "at epoch %'") == 1);
  CHECK(scalar(db, "SELECT count(*) FROM runs WHERE status = 'running'") == 0);
  auto r = run_lowbit("grid " + g + " --db " + db + " --threads-per-worker 1");
  CHECK(r.code == 0);
  CHECK(r.out.find("(0 new, 0 done, 0 reclaimed)") != std::string::npos);
  CHECK(scalar(db, "SELECT count(*) FROM runs WHERE status = 'done'") == 2);
  CHECK(scalar(db,
               "SELECT count(*) FROM (SELECT run_id, count(*) AS n FROM metrics WHERE key = "
               "'test_acc' GROUP BY run_id) WHERE n = 4") == 2);
  CHECK(scalar(db, "SELECT max(attempts) FROM runs") == 2);  // the interrupted run, resumed once
}

TEST_CASE("grid: --retry-failed runs failed runs again") {
  TempDir d;
  const std::string g = d / "f.json", db = d / "r.db";
  // A missing data directory fails every run at start (a DataError), recorded as failed.
  std::ofstream(g) << R"({"name": "f", "base": {"data": {"name": "mnist", "dir": ")" + d.path +
                          R"(/none"}, "epochs": 1}})";
  auto r = run_lowbit("grid " + g + " --db " + db);
  CHECK(r.code == 1);
  CHECK(
      scalar(db,
             "SELECT count(*) FROM runs WHERE status = 'failed' AND error LIKE '%no such file%'") ==
      1);
  auto again = run_lowbit("grid " + g + " --db " + db);
  CHECK(scalar(db, "SELECT max(attempts) FROM runs") ==
        1);  // failed runs are not retried by default
  CHECK(again.code == 1);
  auto retry = run_lowbit("grid " + g + " --db " + db + " --retry-failed");
  CHECK(retry.out.find("1 retried") != std::string::npos);
  CHECK(scalar(db, "SELECT max(attempts) FROM runs") == 2);
}

TEST_CASE(
    "grid: a worker killed alone is noticed; its run resumes from its checkpoint and the grid says "
    "so") {
  TempDir d;
  const std::string g = write_slow_grid(d), db = d / "r.db";
  pid_t pid = start_grid(d, g, db);
  // Once the first run has finished an epoch, kill its worker (as the OOM killer would).
  REQUIRE(running_run_past_first_epoch(db));
  const int64_t worker = scalar(db, "SELECT pid FROM runs WHERE status = 'running' LIMIT 1");
  REQUIRE(worker > 0);
  ::kill(pid_t(worker), SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);  // the run was resumed and finished
  CHECK(scalar(db, "SELECT count(*) FROM runs WHERE status = 'done'") == 2);
  CHECK(scalar(db,
               "SELECT count(*) FROM (SELECT run_id, count(*) AS n FROM metrics WHERE key = "
               "'test_acc' GROUP BY run_id) WHERE n = 4") == 2);
  CHECK(scalar(db, "SELECT max(attempts) FROM runs") == 2);
  std::ifstream in(d / "log");
  std::string log((std::istreambuf_iterator<char>(in)), {});
  CHECK(
      log.find(
          "grid: 1 worker(s) died without finishing their run (last: worker killed by signal 9)") !=
      std::string::npos);
}

TEST_CASE(
    "grid: a full disk fails the run with 'disk full writing <path>', stops the grid with exit 3, "
    "and --retry-failed finishes it") {
  TempDir d;
  const std::string g = write_grid(d, 1, 2), db = d / "r.db";
  // Every run's checkpoint lands on "a full disk": its .tmp file is a link to /dev/full.
  auto dry = run_lowbit("grid " + g + " --dry-run");
  std::vector<std::string> hashes;
  std::istringstream lines(dry.out);
  for (std::string line; std::getline(lines, line);)
    if (line.size() > 16 && line[16] == ' ' && line.rfind("hash", 0) != 0) hashes.push_back(line.substr(0, 16));
  REQUIRE(hashes.size() == 4);
  for (auto& h : hashes) {
    REQUIRE(::system(("mkdir -p '" + db + ".runs/" + h + "'").c_str()) == 0);
    REQUIRE(::symlink("/dev/full", (db + ".runs/" + h + "/checkpoint.pt.tmp").c_str()) == 0);
  }
  auto r = run_lowbit("grid " + g + " --db " + db + " --threads-per-worker 1");
  CHECK(r.code == 3);
  CHECK(r.out.find("frame #") == std::string::npos);  // no LibTorch backtrace, no abort
  CHECK(last_line(r.out).rfind("lowbit: grid stopped: a run found the disk full (", 0) == 0);
  CHECK(last_line(r.out).find("then run the same command with --retry-failed") != std::string::npos);
  // One run failed with the path; the grid spawned no more workers; nothing is falsely done.
  CHECK(scalar(db, "SELECT count(*) FROM runs WHERE status = 'failed' AND error LIKE 'disk full writing " +
                       db + ".runs/%/checkpoint.pt (%'") == 1);
  CHECK(scalar(db, "SELECT count(*) FROM runs WHERE status = 'pending'") == 3);
  CHECK(scalar(db, "SELECT count(*) FROM runs WHERE status = 'done'") == 0);

  for (auto& h : hashes) ::unlink((db + ".runs/" + h + "/checkpoint.pt.tmp").c_str());
  auto retry = run_lowbit("grid " + g + " --db " + db + " --threads-per-worker 1 --retry-failed");
  CHECK(retry.code == 0);
  CHECK(scalar(db, "SELECT count(*) FROM runs WHERE status = 'done'") == 4);
  CHECK(scalar(db, "SELECT count(*) FROM metrics WHERE key = 'test_acc'") == 8);
}

TEST_CASE("grid: runs of the experiment that the definition no longer produces are named, and left out of reports") {
  TempDir d;
  const std::string db = d / "r.db";
  auto first = run_lowbit("grid " + write_grid(d, 1, 1) + " --db " + db + " --threads-per-worker 1");
  CHECK(first.code == 0);
  CHECK(first.out.find("not in this definition") == std::string::npos);
  // The same name, one more epoch: every config hash changes.
  auto second = run_lowbit("grid " + write_grid(d, 1, 2) + " --db " + db + " --threads-per-worker 1");
  CHECK(second.code == 0);
  CHECK(second.out.find("grid: 4 earlier run(s) of 'tiny' in " + db +
                        " are not in this definition (an earlier version of the file); lowbit report "
                        "leaves them out and lists them apart (--all-runs includes them, marked)\n") !=
        std::string::npos);
  CHECK(scalar(db, "SELECT count(*) FROM runs WHERE in_definition = 0 AND json_extract(config_json, "
                   "'$.epochs') = 1") == 4);
  CHECK(scalar(db, "SELECT count(*) FROM runs WHERE in_definition = 1 AND json_extract(config_json, "
                   "'$.epochs') = 2") == 4);
  // Observation keys alone do not make a run new: a third launch with other health rules and
  // another evaluation batch trains nothing.
  std::string def = slurp(write_grid(d, 1, 2));
  def.replace(def.find("\"eval_batch_size\": 48"), 21,
              "\"eval_batch_size\": 7, \"health\": {\"grad_spike\": 50}");
  lowbit::test::write_file(d / "obs.json", def);
  auto third = run_lowbit("grid " + d / "obs.json" + " --db " + db + " --threads-per-worker 1");
  CHECK_MESSAGE(third.code == 0, third.out);
  CHECK_MESSAGE(third.out.find("(0 new, 4 done,") != std::string::npos, third.out);
  CHECK(third.out.find("test_acc") == std::string::npos);
}

namespace {
// fp, and ttq that starts from fp (init.from_run), 2 seeds, `epochs` epochs of `train` images;
// `fp_extra` is added to fp's partial config.
std::string write_lineage(const TempDir& d, const std::string& name, int train, int epochs,
                          const std::string& fp_extra = "") {
  const std::string path = d / (name + ".json");
  std::ofstream(path) << R"({"name": ")" << name << R"(",
    "base": {"data": {"name": "synthetic", "synthetic": {"train": )" << train
                      << R"(, "test": 48, "size": 8, "classes": 4}},
             "batch_size": 32, "eval_batch_size": 48, "epochs": )" << epochs << R"(},
    "variants": {"ttq": {"quant.method": "ttq", "init": {"from_run": {"variant": "fp"}}}, "fp": {)"
                      << fp_extra << R"(}},
    "seeds": 2})";
  return path;
}
}  // namespace

TEST_CASE("grid: init.from_run trains the parent first and starts the child from its checkpoint") {
  TempDir d;
  const std::string g = write_lineage(d, "lin", 96, 2), db = d / "r.db";
  auto r = run_lowbit("grid " + g + " --db " + db + " --threads-per-worker 1");
  REQUIRE(r.code == 0);
  CHECK(scalar(db, "SELECT count(*) FROM runs WHERE status = 'done'") == 4);
  // Each ttq run has its fp parent (same seed), started after the parent finished, and records
  // the parent's checkpoint (same path and sha256) as its "init" artifact.
  CHECK(scalar(db, "SELECT count(*) FROM runs c JOIN runs p ON p.id = c.parent_run_id WHERE c.variant = 'ttq' "
                   "AND p.variant = 'fp' AND p.seed = c.seed AND c.started_at >= p.finished_at") == 2);
  CHECK(scalar(db, "SELECT count(*) FROM runs WHERE variant = 'fp' AND parent_run_id IS NULL") == 2);
  CHECK(scalar(db, "SELECT count(*) FROM artifacts i JOIN runs c ON c.id = i.run_id JOIN artifacts k ON "
                   "k.run_id = c.parent_run_id AND k.kind = 'checkpoint' WHERE i.kind = 'init' AND "
                   "i.path = k.path AND i.sha256 = k.sha256") == 2);
  // The report puts the parent's accuracy beside the child's.
  REQUIRE(run_lowbit("report --db " + db + " --experiment lin --out " + d / "rep --tables main --no-plots").code == 0);
  CHECK(slurp(d / "rep/main.md").find("| variant | test_acc | test_acc of the run it starts from |") !=
        std::string::npos);
  // lowbit train refuses it (there is no experiment to find the parent in).
  std::ofstream(d / "one.json") << R"({"data": {"name": "synthetic"}, "init": {"from_run": "fp"}})";
  auto t = run_lowbit("train --config " + d / "one.json" + " --out " + d / "one");
  CHECK(t.code == 2);
  CHECK(last_line(t.out) == "lowbit: " + d / "one.json" + ": init.from_run 'fp': names a variant of an experiment "
                            "definition (lowbit grid); for one run, use init.from_checkpoint=<path to the run's "
                            "checkpoint.pt>");
}

TEST_CASE("grid: a finished run of another experiment is reused, not trained again; --no-reuse trains it") {
  TempDir d;
  const std::string db = d / "r.db";
  REQUIRE(run_lowbit("grid " + write_lineage(d, "first", 96, 1) + " --db " + db + " --threads-per-worker 1").code == 0);
  // The same runs under another name: fp's configs are identical apart from the name, so are
  // ttq's (their parents' training hashes are the same): all four are copies.
  auto r = run_lowbit("grid " + write_lineage(d, "second", 96, 1) + " --db " + db + " --threads-per-worker 1");
  REQUIRE(r.code == 0);
  CHECK(r.out.find("second: 4 runs (4 new, 4 done, 0 reclaimed, 4 reused from other experiments; --no-reuse "
                   "trains them again)") != std::string::npos);
  CHECK(r.out.find("test_acc") == std::string::npos);  // no worker trained anything
  CHECK(scalar(db, "SELECT count(*) FROM runs r JOIN runs s ON s.id = r.reused_from WHERE s.experiment_id = 1 "
                   "AND r.experiment_id = 2 AND r.status = 'done' AND r.train_hash = s.train_hash") == 4);
  // Copies carry the metrics and summaries, so that status, query and reports treat them as done.
  CHECK(scalar(db, "SELECT count(*) FROM metrics m JOIN runs r ON r.id = m.run_id WHERE r.experiment_id = 2") ==
        scalar(db, "SELECT count(*) FROM metrics m JOIN runs r ON r.id = m.run_id WHERE r.experiment_id = 1"));
  CHECK(scalar(db, "SELECT count(*) FROM summaries s JOIN runs r ON r.id = s.run_id WHERE r.experiment_id = 2 "
                   "AND s.key = 'final_test_acc'") == 4);
  CHECK(run_lowbit("status --db " + db).out.find("experiment second: 4 runs: 4 done") != std::string::npos);
  // A different fp (momentum) shares nothing; with --no-reuse even identical runs train again.
  auto other = run_lowbit("grid " + write_lineage(d, "third", 96, 1, R"("optim.momentum": 0.5)") + " --db " + db +
                          " --threads-per-worker 1 --no-reuse");
  REQUIRE(other.code == 0);
  CHECK(other.out.find("reused") == std::string::npos);
  auto fresh = run_lowbit("grid " + write_lineage(d, "fourth", 96, 1) + " --db " + db +
                          " --threads-per-worker 1 --no-reuse");
  REQUIRE(fresh.code == 0);
  CHECK(scalar(db, "SELECT count(*) FROM runs WHERE experiment_id = 4 AND reused_from IS NULL AND status = 'done'") ==
        4);
}

TEST_CASE("grid: a child whose parent run fails is blocked with the reason; --retry-failed retries both") {
  TempDir d;
  const std::string db = d / "r.db";
  const std::string g = write_lineage(d, "bad", 96, 1, R"("optim.lr": 1e30)");  // fp diverges
  auto r = run_lowbit("grid " + g + " --db " + db + " --threads-per-worker 1");
  CHECK(r.code == 1);
  CHECK(r.out.find("grid: 0 done, 0 failed, 2 diverged, 2 blocked (the run they start from has no result)") !=
        std::string::npos);
  CHECK(scalar(db, "SELECT count(*) FROM runs WHERE status = 'blocked' AND variant = 'ttq' AND attempts = 0 AND "
                   "error LIKE 'the run it starts from (init.from_run), run _ (fp, seed _), ended diverged: loss "
                   "is NaN%; fix that run, then lowbit grid --retry-failed'") == 2);
  CHECK(run_lowbit("status --db " + db).out.find("  blocked: run 1 ") != std::string::npos);
  auto again = run_lowbit("grid " + g + " --db " + db + " --threads-per-worker 1 --retry-failed");
  CHECK(again.code == 1);
  CHECK(again.out.find("4 retried") != std::string::npos);
  CHECK(scalar(db, "SELECT count(*) FROM runs WHERE status = 'blocked'") == 2);
}

TEST_CASE("grid: a child killed mid-run resumes from its own checkpoint, still recording its parent") {
  TempDir d;
  const std::string g = write_lineage(d, "kill", 1500, 3), db = d / "r.db";
  pid_t pid = start_grid(d, g, db);
  // Once a ttq run (a child) has finished an epoch, kill the grid and its worker.
  REQUIRE(wait_until(db, "SELECT COALESCE(max(epoch), 0) FROM runs WHERE status = 'running' AND variant = 'ttq'",
                     1) >= 1);
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  auto r = run_lowbit("grid " + g + " --db " + db + " --threads-per-worker 1");
  REQUIRE(r.code == 0);
  CHECK(scalar(db, "SELECT count(*) FROM runs WHERE status = 'done'") == 4);
  CHECK(scalar(db, "SELECT max(attempts) FROM runs WHERE variant = 'ttq'") == 2);
  CHECK(scalar(db, "SELECT count(*) FROM (SELECT run_id FROM metrics WHERE key = 'test_acc' GROUP BY run_id "
                   "HAVING count(*) = 3)") == 4);
  CHECK(scalar(db, "SELECT count(*) FROM artifacts WHERE kind = 'init'") == 2);
}

TEST_CASE("grid: workers per GPU: K on each, slots in turn, capped by cores, runs and free memory") {
  constexpr int64_t GiB = 1ll << 30;
  auto two = device_layout({0, 1}, {}, 16, 100, 2, 2 * GiB);  // --workers-per-device 2, two GPUs
  CHECK((two.workers == 4 && two.threads == 4));
  CHECK(two.devices == std::vector<std::string>{"cuda:0", "cuda:1", "cuda:0", "cuda:1"});
  CHECK(two.why.find("2 workers per GPU x 2 GPUs: 4 workers x 4 threads") == 0);
  auto only = device_layout({3}, {}, 16, 100, 4, 2 * GiB);  // --device cuda:3
  CHECK(only.devices == std::vector<std::string>(4, "cuda:3"));
  CHECK(device_layout({0}, {}, 2, 100, 4, 2 * GiB).workers == 2);   // one per core
  CHECK(device_layout({0}, {}, 16, 3, 4, 2 * GiB).workers == 3);    // one per run
  // --workers auto: 90% of the least free memory over the memory per worker, at most 8 per GPU.
  auto fits = device_layout({0, 1}, {10 * GiB, 7 * GiB}, 16, 100, 0, 2 * GiB);
  CHECK(fits.workers == 6);  // 0.9 * 7 / 2 = 3.15: 3 per GPU
  CHECK(fits.why.find("3 workers per GPU (90% of 7.0 GiB free / 2.0 GiB per worker = 3, at most 8 per GPU) x 2 "
                      "GPUs: 6 workers x 2 threads") == 0);
  CHECK(device_layout({0}, {80 * GiB}, 16, 100, 0, 2 * GiB).workers == 8);
  CHECK(device_layout({0}, {1 * GiB}, 16, 100, 0, 2 * GiB).workers == 1);  // never none
  // nvidia-smi's free memory, MiB per line.
  CHECK(parse_gpu_free("81000\n 40000 \n") == std::vector<int64_t>{81000ll << 20, 40000ll << 20});
  CHECK(error_message<ConfigError>([] { parse_gpu_free("[N/A]\n"); }) ==
        "--workers auto: cannot read nvidia-smi's free memory from '[N/A]'; give --workers-per-device K instead");
  CHECK(error_message<ConfigError>([] { parse_gpu_free("\n"); }) ==
        "--workers auto: nvidia-smi lists no GPU; give --workers-per-device K instead");
  // gpu_free_bytes runs nvidia-smi from PATH, with CUDA_VISIBLE_DEVICES as its -i.
  TempDir bin;
  write_file(bin / "nvidia-smi", "#!/bin/sh\necho \"$@\" > " + bin.path + "/args\nprintf '1024\\n2048\\n'\n");
  ::chmod((bin / "nvidia-smi").c_str(), 0755);
  const std::string path = std::getenv("PATH");
  ::setenv("PATH", (bin.path + ":" + path).c_str(), 1);
  ::setenv("CUDA_VISIBLE_DEVICES", "1,3", 1);
  const auto free = gpu_free_bytes();
  ::unsetenv("CUDA_VISIBLE_DEVICES");
  CHECK(free == std::vector<int64_t>{1ll << 30, 2ll << 30});
  CHECK(read_file(bin / "args") == "--query-gpu=memory.free --format=csv,noheader,nounits -i 1,3\n");
  write_file(bin / "nvidia-smi", "#!/bin/sh\nexit 9\n");
  CHECK(error_message<ConfigError>([] { gpu_free_bytes(); }).find("cannot read the GPUs' free memory (nvidia-smi "
                                                                 "failed or is missing)") != std::string::npos);
  ::setenv("PATH", path.c_str(), 1);
}

TEST_CASE("grid: --workers auto: one worker per core while there are runs, cores shared") {
  auto two = auto_layout(2, 6);
  CHECK((two.workers == 2 && two.threads == 1));
  auto few = auto_layout(8, 3);  // 3 runs on 8 cores: 3 workers of 2 threads
  CHECK((few.workers == 3 && few.threads == 2));
  auto one = auto_layout(4, 0);  // nothing to train: one worker, all cores
  CHECK((one.workers == 1 && one.threads == 4));
  CHECK(few.why.find("3 workers x 2 threads (8 cores, 3 runs to train") == 0);
  auto pinned = auto_layout(2, 6, 3);  // --threads-per-worker wins, and the line says so
  CHECK((pinned.workers == 2 && pinned.threads == 3));
  CHECK(pinned.why.find("2 workers x 3 threads") == 0);
  CHECK(parse_workers("auto") == 0);
  CHECK(parse_workers("3") == 3);
  for (const char* bad : {"0", "-1", "2x", "", "257", "many"})
    CHECK_MESSAGE(error_message<ConfigError>([&] { parse_workers(bad); }) ==
                      std::string("--workers ") + bad + ": expected a number in 1..256 or auto",
                  bad);
  // From the command line: the layout is printed and the runs are trained.
  TempDir d;
  auto g = write_grid(d, 1, 1);
  auto r = run_lowbit("grid " + g + " --db " + d / "r.db --workers auto");
  CHECK(r.code == 0);
  CHECK(r.out.find("workers auto: ") != std::string::npos);
  CHECK(scalar(d / "r.db", "SELECT count(*) FROM runs WHERE status = 'done'") ==
        scalar(d / "r.db", "SELECT count(*) FROM runs"));
  auto bad = run_lowbit("grid " + g + " --db " + d / "r.db --workers lots");
  CHECK(bad.code == 2);
  CHECK(bad.out == "lowbit: --workers lots: expected a number in 1..256 or auto\n");
}
