#include "experiments/worker_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include <fmt/format.h>

#include "core/error.h"
#include "core/util.h"

namespace lowbit {

namespace {

// The worker's options, one row each: argv writes them and from_args reads them.
struct WorkerFlag {
  const char* flag;
  std::string WorkerRequest::*text;  ///< null for --threads
  const char* help;
};
const WorkerFlag kWorkerFlags[] = {
    {"--db", &WorkerRequest::db, "results database"},
    {"--experiment", &WorkerRequest::experiment, "experiment name"},
    {"--threads", nullptr, "LibTorch threads (default 1)"},
    {"--device", &WorkerRequest::device, "cpu or cuda (default cpu)"},
    {"--determinism", &WorkerRequest::determinism, "strict (default) or fast (cuDNN benchmarks)"},
    {"--run", &WorkerRequest::run_hash, "only the run with this config hash"},
    {"--runs-dir", &WorkerRequest::runs_dir, "checkpoint directories (default: <db>.runs)"},
    {"--init-checkpoint", &WorkerRequest::init_checkpoint, "the parent run's checkpoint (init.from_run)"},
    {"--init-sha256", &WorkerRequest::init_sha256, "its sha256 when the parent finished"},
};

}  // namespace

std::string run_dir(const std::string& db, const std::string& hash) { return db + ".runs/" + hash; }

std::vector<std::string> WorkerRequest::argv(const std::string& exe) const {
  std::vector<std::string> out = {exe, "worker"};
  for (const WorkerFlag& f : kWorkerFlags) {
    const std::string value = f.text ? this->*f.text : std::to_string(threads);
    if (!value.empty()) out.insert(out.end(), {f.flag, value});
  }
  return out;
}

WorkerRequest WorkerRequest::from_args(const std::vector<std::string>& args) {
  WorkerRequest r;
  r.command_line = "lowbit worker";
  for (auto& a : args) r.command_line += " " + a;
  for (size_t i = 0; i < args.size(); i += 2) {
    const WorkerFlag* f = nullptr;
    for (const WorkerFlag& g : kWorkerFlags)
      if (args[i] == g.flag) f = &g;
    if (!f) throw ConfigError("lowbit worker: unknown option '" + truncate_for_message(args[i]) + "' (see lowbit worker --help)");
    if (i + 1 >= args.size()) throw ConfigError(std::string("lowbit worker: ") + f->flag + " needs a value");
    if (f->text) {
      r.*(f->text) = args[i + 1];
    } else {
      char* end = nullptr;
      const long n = std::strtol(args[i + 1].c_str(), &end, 10);
      if (args[i + 1].empty() || *end != '\0' || n < 1 || n > 4096)
        throw ConfigError("lowbit worker --threads " + truncate_for_message(args[i + 1]) + ": expected 1..4096");
      r.threads = int(n);
    }
  }
  if (r.db.empty() || r.experiment.empty())
    throw ConfigError("lowbit worker: --db and --experiment are required (see lowbit worker --help)");
  return r;
}

std::string WorkerRequest::usage() {
  std::string out = "usage: lowbit worker --db DB --experiment NAME [options] (internal: started by lowbit grid "
                    "and lowbit slurm-task)\n";
  for (const WorkerFlag& f : kWorkerFlags) out += fmt::format("  {:<18} {}\n", f.flag, f.help);
  return out;
}

bool on_path(const std::string& program) {
  const char* path = std::getenv("PATH");
  for (const auto& d : split(path ? path : "", ':'))
    if (!d.empty() && ::access((d + "/" + program).c_str(), X_OK) == 0) return true;
  return false;
}

Captured run_captured(const std::vector<std::string>& argv, bool show_stderr) {
  int out[2];
  if (::pipe(out) != 0) throw Error("cannot run " + argv[0] + ": pipe failed");
  pid_t pid = ::fork();
  if (pid < 0) throw Error("cannot run " + argv[0] + ": fork failed");
  if (pid == 0) {
    ::dup2(out[1], STDOUT_FILENO);
    if (!show_stderr) {
      const int null = ::open("/dev/null", O_WRONLY);
      if (null >= 0) ::dup2(null, STDERR_FILENO), ::close(null);
    }
    ::close(out[0]);
    ::close(out[1]);
    std::vector<char*> args;
    std::vector<std::string> copy = argv;
    for (auto& a : copy) args.push_back(a.data());
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    _exit(127);
  }
  ::close(out[1]);
  Captured c;
  char buf[4096];
  for (ssize_t n; (n = ::read(out[0], buf, sizeof buf)) != 0;) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    c.out.append(buf, size_t(n));
  }
  ::close(out[0]);
  int st = 0;
  while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  c.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return c;
}

WorkerExit classify_exit(int status) {
  if (!WIFEXITED(status)) return WorkerExit::kDied;
  switch (WEXITSTATUS(status)) {
    case 127: return WorkerExit::kExecFailed;
    case kExitDiskFull: return WorkerExit::kDiskFull;
    case kExitSuccess:
    case kExitFailure:
    case kExitInterrupted: return WorkerExit::kEnded;
    default: return WorkerExit::kDied;
  }
}

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
