#include "experiments/worker_process.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include "core/error.h"

namespace lowbit {

pid_t spawn_worker_process(const std::vector<std::string>& argv, bool own_group) {
  pid_t pid = ::fork();
  if (pid < 0) throw Error("cannot start a worker process (fork failed)");
  if (pid == 0) {
    if (own_group) ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    std::vector<std::string> copy = argv;
    std::vector<char*> args;
    for (auto& a : copy) args.push_back(a.data());
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    _exit(127);
  }
  return pid;
}

std::string worker_death(int wait_status) {
  return WIFSIGNALED(wait_status) ? fmt::format("worker killed by signal {}", WTERMSIG(wait_status))
                                  : fmt::format("worker exited with status {}", WEXITSTATUS(wait_status));
}

bool release_after_death(Store& store, int64_t run_id, const std::string& why, int& deaths) {
  const bool give_up = ++deaths >= kMaxWorkerDeaths;
  store.release_run(run_id, give_up ? RunStatus::kFailed : RunStatus::kInterrupted,
                    give_up ? fmt::format("{} ({} times; not retried again)", why, deaths) : why);
  return give_up;
}

}  // namespace lowbit
