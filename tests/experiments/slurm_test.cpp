// The Slurm path without a Slurm (tests/slurm/run.sh runs it on a real one): the array
// script, the number of tasks, squeue's output, the shard directory's files, lowbit merge
// (idempotence, failed and half-written shards, a done copy against partial ones) and bad input.
#include <doctest/doctest.h>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <thread>

#include "core/error.h"
#include "experiments/shard_dir.h"
#include "experiments/slurm.h"
#include "experiments/spec.h"
#include "tests/test_util.h"
#include "tracker/shards.h"
#include "tracker/sqlite.h"

using namespace lowbit;
using namespace lowbit::test;

TEST_CASE("slurm: the array script, exactly, for given options") {
  SlurmOptions o;
  o.shard_dir = "/shared/sd";
  o.max_concurrent = 8;
  o.partition = "gpu";
  o.time = "04:00:00";
  o.cpus_per_task = 4;
  o.gres = "gpu:1";
  o.requeue = true;
  o.sbatch_args = {"--mem=16G", "--account=lab"};
  o.device = "cuda";
  CHECK(sbatch_script(o, "ttq_sweep", 32, 600, "/opt/lowbit/build/lowbit") ==
        "#!/bin/bash\n"
        "# lowbit: an array of 32 worker task(s) for experiment 'ttq_sweep' (600 run(s) to train). Each\n"
        "# task claims runs from /shared/sd/claims and trains them one after another into its own\n"
        "# shard database (/shared/sd/shards/<job>_<task>.db) until none is left; a killed, requeued or\n"
        "# timed-out run resumes from its checkpoint in /shared/sd/runs. Written by\n"
        "# `lowbit grid --backend slurm`; it may be submitted again by hand (sbatch this file),\n"
        "# though running that command again also releases the claims of tasks that are gone.\n"
        "# Then: lowbit status --shard-dir /shared/sd ; lowbit merge --into results.db /shared/sd\n"
        "#SBATCH --job-name=lowbit-ttq_sweep\n"
        "#SBATCH --array=0-31%8\n"
        "#SBATCH --output=/shared/sd/logs/%A_%a.out\n"
        "#SBATCH --open-mode=append\n"
        "#SBATCH --cpus-per-task=4\n"
        "#SBATCH --partition=gpu\n"
        "#SBATCH --time=04:00:00\n"
        "#SBATCH --gres=gpu:1\n"
        "#SBATCH --requeue\n"
        "#SBATCH --mem=16G\n"
        "#SBATCH --account=lab\n"
        "exec /opt/lowbit/build/lowbit slurm-task --shard-dir /shared/sd --threads \"${SLURM_CPUS_PER_TASK:-4}\" "
        "--device cuda\n");
  SlurmOptions plain;
  plain.shard_dir = "/s";
  const std::string s = sbatch_script(plain, "e", 3, 3, "/l");
  CHECK(s.find("#SBATCH --array=0-2\n") != std::string::npos);  // no %M without --max-concurrent
  CHECK(s.find("--partition") == std::string::npos);
  CHECK(s.find("--requeue") == std::string::npos);
}

TEST_CASE("slurm: tasks = min(runs to train, MaxArraySize - 1, 64), from scontrol's text") {
  CHECK(default_tasks(6000, 1001) == 64);
  CHECK(default_tasks(6000, 40) == 39);
  CHECK(default_tasks(10, 1001) == 10);
  CHECK(default_tasks(6000, -1) == 64);  // MaxArraySize unknown
  CHECK(default_tasks(0, 1001) == 1);
  CHECK(default_tasks(5, 2) == 1);
  const std::string config =
      "Configuration data as of 2026-11-24T13:37:04\nAccountingStorageBackupHost = (null)\n"
      "MaxArraySize            = 501\nMaxJobCount             = 10000\n";
  CHECK(parse_max_array_size(config) == 501);
  CHECK(default_tasks(6000, parse_max_array_size(config)) == 64);
  CHECK(parse_max_array_size("MaxJobCount = 10000\n") == -1);
}

TEST_CASE("slurm: squeue's array tasks, by name; a job that is not an array is no task") {
  auto live = parse_squeue("12 0 RUNNING\n12 3 PENDING\n99 N/A RUNNING\n13 1 COMPLETING\n");
  CHECK(live.size() == 3);
  CHECK(live["12_0"] == "RUNNING");
  CHECK(live["12_3"] == "PENDING");
  CHECK(live["13_1"] == "COMPLETING");
  CHECK(live.count("99_N/A") == 0);
}

TEST_CASE("slurm: bad options name the option and the fix") {
  SlurmOptions o;
  o.time = "4h";
  CHECK(error_message<ConfigError>([&] { check_slurm_options(o); }).find("--time 4h: expected Slurm's time format") == 0);
  for (const char* t : {"30", "30:00", "04:00:00", "1-12", "1-12:00", "1-12:00:00"}) {
    o.time = t;
    CHECK_NOTHROW(check_slurm_options(o));
  }
  o.sbatch_args = {"mem=8G"};
  CHECK(error_message<ConfigError>([&] { check_slurm_options(o); }).find("--sbatch-arg 'mem=8G'") == 0);
  o.sbatch_args.clear();
  o.device = "gpu";
  CHECK(error_message<ConfigError>([&] { check_slurm_options(o); }) == "--device gpu: expected cpu or cuda");
}

TEST_CASE("slurm: claims are exclusive; ended markers; the plan round-trips") {
  TempDir d;
  make_shard_dir(d.path);
  CHECK(try_claim(d.path, "h1", "7_0"));
  CHECK_FALSE(try_claim(d.path, "h1", "7_1"));
  CHECK(*claim_holder(d.path, "h1") == "7_0");
  CHECK_FALSE(claim_holder(d.path, "h2"));
  write_ended(d.path, "h1", {"done", "7_0", "/x/ckpt.pt", "abc"});
  write_ended(d.path, "h2", {"failed", "7_1", "", ""});
  CHECK(read_ended(d.path, "h1")->checkpoint == "/x/ckpt.pt");
  CHECK(forget_unfinished(d.path) == 1);  // --retry-failed: the failed one only
  CHECK_FALSE(read_ended(d.path, "h2"));
  release_claim(d.path, "h1");
  CHECK(list_claims(d.path).empty());

  ShardPlan p{"exp", "about", nlohmann::json{{"name", "exp"}}, {}};
  PlannedRun r;
  r.config = tiny_config();
  r.config.seed = 3;
  r.hash = "abc", r.variant = "ttq", r.varying = {{"quant.method", "ttq"}}, r.parent_hash = "def";
  p.runs.push_back(r);
  write_plan(d.path, p);
  ShardPlan q = read_plan(d.path);
  CHECK(q.experiment == "exp");
  REQUIRE(q.runs.size() == 1);
  CHECK(q.runs[0].config.seed == 3);
  CHECK(q.runs[0].parent_hash == "def");
  CHECK(to_json(q.runs[0].config) == to_json(r.config));
  write_file(d / "plan.json", "{\"runs\": []}");
  CHECK(error_message<ConfigError>([&] { read_plan(d.path); }).find(d / "plan.json" + ": not a lowbit shard plan") == 0);
}

namespace {

PlannedRun planned(const std::string& hash, int seed) {
  PlannedRun r;
  r.config = tiny_config();
  r.config.seed = seed;
  r.config.name = "m";
  r.hash = hash;
  r.variant = "fp";
  r.varying = nlohmann::json::object();
  return r;
}

// A shard holding run `hash`, trained over epochs [from, to] (1-based) and ended `status`.
void shard_with(const std::string& path, const PlannedRun& run, int from, int to, RunStatus status,
                const std::string& host) {
  Store s(path, Store::Open::kShard);
  const int64_t e = s.upsert_experiment("m", "", "{}");
  s.add_runs(e, {run});
  Provenance p;
  p.host = host;
  auto c = s.claim(e, p, run.hash);
  REQUIRE(c);
  s.begin_run(c->id, from - 1);
  for (int ep = from; ep <= to; ++ep) {
    EpochEvent ev{ep - 1, 4, {{"test_acc", 0.5 + 0.01 * ep + (host == "b" ? 0.001 : 0)}}, {{"conv1", "sparsity", 0.1 * ep}}};
    s.write_epoch(c->id, ev);
  }
  if (status == RunStatus::kRunning) return;
  s.finish_run(c->id, status, status == RunStatus::kFailed ? "boom" : "", {{"final_test_acc", 0.9}});
}

int64_t scalar(const std::string& db, const std::string& sql) {
  Db conn(db, Db::Mode::kReadOnly);
  auto q = conn.prepare(sql);
  q.step();
  return q.get_int(0);
}

std::string dump(const std::string& db) {
  Db conn(db, Db::Mode::kReadOnly);
  std::string out;
  for (const char* t : {"runs", "metrics", "layer_stats", "summaries", "artifacts"}) {
    auto q = conn.prepare(std::string("SELECT * FROM ") + t + " ORDER BY 1, 2");
    while (q.step())
      for (int i = 0; i < q.columns(); ++i) out += q.get_text(i) + (i + 1 < q.columns() ? "|" : "\n");
  }
  return out;
}

}  // namespace

TEST_CASE("merge: a done copy wins over an older partial one, each epoch once; merging twice changes nothing") {
  TempDir d;
  const PlannedRun x = planned("x", 0), y = planned("y", 1), z = planned("z", 2);
  // x: interrupted at epoch 2 in task a's shard, resumed from its checkpoint and done in b's.
  shard_with(d / "a.db", x, 1, 2, RunStatus::kInterrupted, "a");
  shard_with(d / "b.db", x, 3, 4, RunStatus::kDone, "b");
  shard_with(d / "b.db", y, 1, 4, RunStatus::kDone, "b");
  shard_with(d / "a.db", z, 1, 1, RunStatus::kFailed, "a");
  MergeInput in{"m", "about m", "{}", {x, y, z, planned("w", 3)}, {d / "a.db", d / "b.db"}};
  const std::string main = d / "main.db";
  MergeSummary s = merge_shards(main, in);
  CHECK(s.updated == 3);
  CHECK(s.untrained == 1);
  CHECK(s.status["done"] == 2);
  CHECK(s.status["failed"] == 1);
  CHECK(s.status["pending"] == 1);
  const std::string run_x = "(SELECT id FROM runs WHERE config_hash = 'x')";
  CHECK(scalar(main, "SELECT count(*) FROM runs WHERE config_hash = 'x' AND status = 'done' AND epoch = 4 AND "
                     "attempts = 2 AND host = 'b'") == 1);
  CHECK(scalar(main, "SELECT count(*) FROM metrics WHERE run_id = " + run_x) == 4);  // epochs 1..4, once each
  CHECK(scalar(main, "SELECT count(DISTINCT epoch) FROM layer_stats WHERE run_id = " + run_x) == 4);
  // Epochs 1-2 from a's copy (b resumed at 3), 3-4 from b's: the values say which.
  CHECK(scalar(main, "SELECT count(*) FROM metrics WHERE run_id = " + run_x +
                     " AND ((epoch <= 2 AND abs(value - (0.5 + 0.01 * epoch)) < 1e-12) OR (epoch > 2 AND "
                     "abs(value - (0.501 + 0.01 * epoch)) < 1e-12))") == 4);
  CHECK(scalar(main, "SELECT count(*) FROM runs WHERE config_hash = 'z' AND status = 'failed' AND error = 'boom'") == 1);
  CHECK(scalar(main, "SELECT count(*) FROM summaries WHERE key = 'final_test_acc'") == 3);
  const std::string once = dump(main);
  MergeSummary again = merge_shards(main, in);
  CHECK(again.updated == 0);
  CHECK(again.unchanged == 3);
  CHECK(dump(main) == once);
}

TEST_CASE("merge: a running copy merges as running; a half-written shard gives its committed rows") {
  TempDir d;
  const PlannedRun x = planned("x", 0);
  shard_with(d / "a.db", x, 1, 2, RunStatus::kRunning, "a");
  // A task killed inside an epoch's transaction: its journal is left hot.
  pid_t pid = ::fork();
  if (pid == 0) {
    Db db(d / "a.db", Db::Mode::kReadWrite);
    db.exec("BEGIN IMMEDIATE");
    db.exec("INSERT INTO metrics(run_id, epoch, key, value) VALUES (1, 3, 'test_acc', 0.99)");
    db.exec("UPDATE runs SET epoch = 3");
    ::_exit(0);  // no COMMIT, no close
  }
  int st = 0;
  ::waitpid(pid, &st, 0);
  CHECK(::access((d / "a.db-journal").c_str(), F_OK) == 0);
  MergeInput in{"m", "", "{}", {x}, {d / "a.db"}};
  merge_shards(d / "main.db", in);
  CHECK(scalar(d / "main.db", "SELECT count(*) FROM runs WHERE status = 'running' AND epoch = 2") == 1);
  CHECK(scalar(d / "main.db", "SELECT count(*) FROM metrics") == 2);
}

TEST_CASE("merge: a shard that is not a lowbit database is an error naming it; the main database is untouched") {
  TempDir d;
  const PlannedRun x = planned("x", 0);
  shard_with(d / "a.db", x, 1, 4, RunStatus::kDone, "a");
  write_file(d / "junk.db", std::string(4096, 'x'));
  MergeInput in{"m", "", "{}", {x}, {d / "a.db", d / "junk.db"}};
  auto msg = error_message<StoreError>([&] { merge_shards(d / "main.db", in); });
  CHECK(msg.find(d / "junk.db" + ": not a lowbit shard database") == 0);
  struct stat sb;
  CHECK(::stat((d / "main.db").c_str(), &sb) != 0);  // not even created
  // Another experiment's shard, into an existing main database: refused, main unchanged.
  in.shards = {d / "a.db"};
  merge_shards(d / "main.db", in);
  const std::string before = dump(d / "main.db");
  {
    Store other(d / "other.db", Store::Open::kShard);
    other.upsert_experiment("not_m", "", "{}");
  }
  in.shards = {d / "a.db", d / "other.db"};
  msg = error_message<StoreError>([&] { merge_shards(d / "main.db", in); });
  CHECK(msg.find(d / "other.db" + ": holds experiment 'not_m', not 'm'") == 0);
  CHECK(dump(d / "main.db") == before);
}

TEST_CASE("slurm: the binary's bad input: no sbatch on PATH names the package; merge of a junk shard") {
  TempDir d;
  write_tiny_experiment(d / "g.json", "g", 64, 1, "\"seeds\": 1");
  const std::string cmd = "env PATH=/nonexistent " + std::string(LOWBIT_BINARY) + " grid " + d / "g.json" +
                          " --backend slurm --shard-dir " + d / "sd 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  const int code = WEXITSTATUS(::pclose(p));
  CHECK(code != 0);
  CHECK(out.find("sbatch is not on PATH") != std::string::npos);
  CHECK(out.find("Debian package slurm-client") != std::string::npos);
  CHECK(std::count(out.begin(), out.end(), '\n') == 1);

  auto noshard = run_lowbit("grid " + d / "g.json" + " --backend slurm");
  CHECK(noshard.code == 2);
  CHECK(noshard.out == "lowbit: --backend slurm needs --shard-dir DIR on the shared file system (docs/CLUSTER.md)\n");
  auto local_opt = run_lowbit("grid " + d / "g.json" + " --time 10 --db " + d / "r.db");
  CHECK(local_opt.code == 2);
  CHECK(local_opt.out == "lowbit: --time is an option of --backend slurm\n");

  auto notdir = run_lowbit("merge --into " + d / "r.db " + d.path);
  CHECK(notdir.code == 2);
  CHECK(notdir.out.find(d / "plan.json" + ": missing or empty") != std::string::npos);
}

TEST_CASE("slurm-task: two tasks started by hand share the runs exactly once; a child starts from its parent's checkpoint") {
  TempDir d;
  const std::string path = d / "lin.json", dir = d / "sd";
  std::ofstream(path) << R"({"name": "lin",
    "base": {"data": {"name": "synthetic", "synthetic": {"train": 96, "test": 48, "size": 8, "classes": 4}},
             "batch_size": 32, "eval_batch_size": 48, "epochs": 2},
    "variants": {"ttq": {"quant.method": "ttq", "init": {"from_run": {"variant": "fp"}}}, "fp": {}},
    "seeds": 2})";
  const ExperimentSpec spec = load_experiment(path);
  make_shard_dir(dir);
  write_plan(dir, {spec.name, spec.description, nlohmann::json::parse(spec.raw.dump()), spec.runs});
  RunOutput a, b;
  std::thread ta([&] { a = run_lowbit("slurm-task --shard-dir " + dir); });
  std::thread tb([&] { b = run_lowbit("slurm-task --shard-dir " + dir); });
  ta.join();
  tb.join();
  CHECK(a.code == 0);
  CHECK(b.code == 0);
  const auto shards = list_shards(dir);
  REQUIRE(shards.size() == 2);
  std::map<std::string, int> done;
  std::map<std::string, ShardRun> runs;
  for (const auto& s : shards)
    for (auto& r : read_shard(s, "lin", true)) done[r.hash] += r.status == "done", runs[r.hash] = r;
  REQUIRE(done.size() == 4);
  for (const auto& [hash, n] : done) CHECK(n == 1);
  for (const auto& r : spec.runs) {
    CHECK(read_ended(dir, r.hash)->status == "done");
    if (r.parent_hash.empty()) continue;
    // The child's init artifact is the parent's checkpoint, with the sha256 it had when it ended.
    const ShardRun& child = runs[r.hash];
    const auto parent = read_ended(dir, r.parent_hash);
    CHECK(parent->checkpoint.rfind(dir + "/runs/" + r.parent_hash + "/", 0) == 0);
    Db db(child.shard, Db::Mode::kReadOnly);
    auto q = db.prepare("SELECT path, sha256 FROM artifacts WHERE kind = 'init' AND run_id = ?");
    REQUIRE(q.bind(1, child.id).step());
    CHECK(q.get_text(0) == parent->checkpoint);
    CHECK(q.get_text(1) == parent->sha256);
  }
  CHECK(list_claims(dir).empty());
  auto st = run_lowbit("status --shard-dir " + dir);
  CHECK(st.code == 0);
  INFO(st.out);
  CHECK(st.out.find("lin: 4 runs in " + dir + " (2 shard(s))\n  done 4\n") == 0);
  CHECK(st.out.find("slurm: no job submitted from this directory") != std::string::npos);
  // Nothing left: a third task trains nothing; the merge links each child to its parent.
  auto c = run_lowbit("slurm-task --shard-dir " + dir);
  CHECK(c.code == 0);
  CHECK(c.out.find("0 run(s) trained to the end") != std::string::npos);
  merge_shards(d / "main.db", {spec.name, spec.description, spec.raw.dump(), spec.runs, list_shards(dir)});
  CHECK(scalar(d / "main.db", "SELECT count(*) FROM runs WHERE status = 'done'") == 4);
  CHECK(scalar(d / "main.db", "SELECT count(*) FROM runs c JOIN runs p ON p.id = c.parent_run_id WHERE c.variant = "
                              "'ttq' AND p.variant = 'fp' AND p.seed = c.seed") == 2);
}

TEST_CASE("slurm: submission with stand-in Slurm commands; when squeue fails, every claim is kept") {
  TempDir d;
  const std::string bin = d / "bin", dir = d / "sd";
  ::mkdir(bin.c_str(), 0755);
  // sbatch records its argument and answers a job id; squeue and scontrol fail.
  write_file(bin + "/sbatch", "#!/bin/sh\necho \"$@\" > " + d / "sbatch.args" + "\necho '4242;cluster'\n");
  write_file(bin + "/squeue", "#!/bin/sh\nexit 1\n");
  write_file(bin + "/scontrol", "#!/bin/sh\nexit 1\n");
  for (const char* f : {"/sbatch", "/squeue", "/scontrol"}) ::chmod((bin + f).c_str(), 0755);
  write_tiny_experiment(d / "g.json", "g", 64, 1, "\"seeds\": 3");
  make_shard_dir(dir);
  const ExperimentSpec spec = load_experiment(d / "g.json");
  REQUIRE(try_claim(dir, spec.runs[0].hash, "99_0"));  // a task squeue cannot vouch for
  const std::string cmd = "env PATH=" + bin + ":/usr/bin:/bin " + std::string(LOWBIT_BINARY) + " grid " +
                          d / "g.json" + " --backend slurm --shard-dir " + dir + " 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  CHECK(WEXITSTATUS(::pclose(p)) == 0);
  INFO(out);
  CHECK(out.find("g: 3 runs in " + dir + ": 0 done, 0 ended otherwise, 1 held by tasks squeue could not be asked "
                 "about (claims kept), 2 to train\n") == 0);
  CHECK(out.find("submitted job 4242: 2 task(s) for 2 run(s)") != std::string::npos);
  CHECK(slurp(d / "sbatch.args") == "--parsable " + dir + "/g.sbatch\n");
  CHECK(list_jobs(dir) == std::vector<std::string>{"4242"});
  CHECK(*claim_holder(dir, spec.runs[0].hash) == "99_0");
  CHECK(slurp(dir + "/g.sbatch").find("#SBATCH --array=0-1\n") != std::string::npos);
}
