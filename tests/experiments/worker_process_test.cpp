// WorkerRequest writes the worker's command line and reads it back; classify_exit reads how a
// worker ended, for the local grid and the Slurm task alike.
#include <doctest/doctest.h>

#include <sys/wait.h>

#include "core/error.h"
#include "experiments/worker_process.h"
#include "tests/test_util.h"

using namespace lowbit;

TEST_CASE("worker request: argv and from_args are inverses; empty members are left out") {
  WorkerRequest r;
  r.db = "/tmp/r.db", r.experiment = "exp", r.threads = 3, r.device = "cuda", r.run_hash = "abcd1234";
  r.runs_dir = "/shard/runs", r.init_checkpoint = "/p/ckpt.pt", r.init_sha256 = "ff00";
  const auto argv = r.argv("/bin/lowbit");
  CHECK(argv == std::vector<std::string>{"/bin/lowbit", "worker", "--db", "/tmp/r.db", "--experiment", "exp",
                                         "--threads", "3", "--device", "cuda", "--determinism", "strict", "--run", "abcd1234",
                                         "--runs-dir", "/shard/runs", "--init-checkpoint", "/p/ckpt.pt",
                                         "--init-sha256", "ff00"});
  const WorkerRequest back = WorkerRequest::from_args({argv.begin() + 2, argv.end()});
  CHECK(back.db == r.db);
  CHECK(back.experiment == r.experiment);
  CHECK(back.threads == 3);
  CHECK(back.device == "cuda");
  CHECK(back.determinism == "strict");
  CHECK(back.run_hash == r.run_hash);
  CHECK(back.runs_dir == r.runs_dir);
  CHECK(back.init_checkpoint == r.init_checkpoint);
  CHECK(back.init_sha256 == r.init_sha256);
  CHECK(back.command_line.rfind("lowbit worker --db /tmp/r.db --experiment exp --threads 3", 0) == 0);

  // The local grid's worker: no --run, --runs-dir or parent checkpoint on its command line.
  WorkerRequest local;
  local.db = "d.db", local.experiment = "e";
  CHECK(local.argv("/x") ==
        std::vector<std::string>{"/x", "worker", "--db", "d.db", "--experiment", "e", "--threads", "1", "--device", "cpu",
                                 "--determinism", "strict"});
}

TEST_CASE("worker request: a bad command line is a one-line error naming the option") {
  using test::error_message;
  CHECK(error_message<ConfigError>([] { WorkerRequest::from_args({"--db", "d", "--bogus", "1"}); }) ==
        "lowbit worker: unknown option '--bogus' (see lowbit worker --help)");
  CHECK(error_message<ConfigError>([] { WorkerRequest::from_args({"--db", "d", "--experiment"}); }) ==
        "lowbit worker: --experiment needs a value");
  CHECK(error_message<ConfigError>([] { WorkerRequest::from_args({"--db", "d"}); }) ==
        "lowbit worker: --db and --experiment are required (see lowbit worker --help)");
  CHECK(error_message<ConfigError>([] { WorkerRequest::from_args({"--db", "d", "--experiment", "e", "--threads", "0"}); }) ==
        "lowbit worker --threads 0: expected 1..4096");
}

TEST_CASE("classify_exit: ended, disk full, binary missing, died") {
  auto exited = [](int code) { return code << 8; };  // the wait status of exit(code) on Linux
  REQUIRE(WIFEXITED(exited(3)));
  REQUIRE(WEXITSTATUS(exited(3)) == 3);
  CHECK(classify_exit(exited(kExitSuccess)) == WorkerExit::kEnded);
  CHECK(classify_exit(exited(kExitFailure)) == WorkerExit::kEnded);
  CHECK(classify_exit(exited(kExitInterrupted)) == WorkerExit::kEnded);
  CHECK(classify_exit(exited(kExitDiskFull)) == WorkerExit::kDiskFull);
  CHECK(classify_exit(exited(127)) == WorkerExit::kExecFailed);
  CHECK(classify_exit(exited(kExitBadInput)) == WorkerExit::kDied);  // a worker never exits 2 by itself
  CHECK(classify_exit(9) == WorkerExit::kDied);                        // killed by SIGKILL
  CHECK(WIFSIGNALED(9));
}
