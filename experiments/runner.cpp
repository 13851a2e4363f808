#include "experiments/runner.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <set>
#include <thread>

#include <torch/torch.h>
#include <fmt/format.h>

#include "core/error.h"
#include "core/file_io.h"
#include "core/sha256.h"
#include "core/train/interrupt.h"
#include "core/train/trainer.h"
#include "core/util.h"
#include "experiments/spec.h"
#include "experiments/worker_process.h"
#include "tracker/jsonl_observer.h"
#include "tracker/store.h"

namespace lowbit {

std::string run_dir(const std::string& db, const std::string& hash) { return db + ".runs/" + hash; }

namespace {

// Child pids, for the signal handler's second-signal kill.
constexpr int kMaxWorkers = 256;
volatile pid_t g_children[kMaxWorkers];

void grid_signal(int) {
  if (interrupt_count().fetch_add(1) >= 1) {
    for (int i = 0; i < kMaxWorkers; ++i)
      if (g_children[i] > 0) ::kill(g_children[i], SIGKILL);
    _exit(kExitInterrupted);
  }
}

pid_t spawn_worker(const GridOptions& opt, const std::string& experiment, int threads) {
  return spawn_worker_process({opt.exe, "worker", "--db", opt.db, "--experiment", experiment, "--threads",
                               std::to_string(threads), "--device", opt.device},
                              true);
}

// Runs of this experiment that the definition does not produce: recorded by an earlier version
// of the file (or, before schema 7, by a lowbit whose config keys differed). Reports leave them
// out and list them apart (lowbit report --all-runs includes them, marked); say so here.
void note_other_runs(Store& store, int64_t exp_id, const ExperimentSpec& spec,
                     const std::string& db) {
  std::set<std::string> mine;
  for (auto& r : spec.runs) mine.insert(r.hash);
  int64_t other = 0;
  for (auto& h : store.run_hashes(exp_id)) other += mine.count(h) == 0;
  if (other > 0)
    fmt::print("grid: {} earlier run(s) of '{}' in {} are not in this definition (an earlier "
               "version of the file); lowbit report leaves them out and lists them apart "
               "(--all-runs includes them, marked)\n",
               other, spec.name, db);
}

// The checkpoint a run with init.from_run starts from: its parent's, as recorded when the
// parent finished; recorded again as this run's "init" artifact. A missing or changed file
// fails the run rather than start it from something else.
std::string parent_checkpoint(Store& store, const ClaimedRun& run) {
  const std::string& path = run.parent_checkpoint;
  const std::string parent = run.parent_id ? fmt::format("the run it starts from (init.from_run), run {}", run.parent_id)
                                           : std::string("the run it starts from (init.from_run)");
  if (path.empty()) throw Error(parent + ", recorded no checkpoint; train it again (lowbit grid --retry-failed)");
  if (::access(path.c_str(), R_OK) != 0)
    throw Error(parent + ": checkpoint " + path + " is missing; restore it or train that run again");
  std::string sha = sha256_file(path);
  if (!run.parent_sha256.empty() && sha != run.parent_sha256)
    throw Error(parent + ": checkpoint " + path + " changed since that run finished (sha256 " + sha.substr(0, 12) +
                ", recorded " + run.parent_sha256.substr(0, 12) + ")");
  store.add_artifact(run.id, "init", path, sha);
  return path;
}

// " | suite: F/T runs ended, ETA E" from the runs ended and trained so far in the suite.
std::string suite_progress(const SuiteProgress& p, int64_t finished, int64_t trained, double elapsed) {
  const int64_t ended = p.finished_before + finished, runs = p.trained_before + trained;
  const double seconds = p.seconds_before + elapsed;
  return fmt::format(" | suite: {}/{} runs ended, ETA {}", ended, p.total,
                     runs > 0 ? format_duration(seconds / double(runs) * double(p.total - ended)) : "?");
}

// `workers` workers, each with --threads-per-worker threads, or the cores shared among them.
Layout layout(int cores, int workers, int threads_per_worker) {
  return {workers, threads_per_worker > 0 ? threads_per_worker : std::max(1, cores / workers), ""};
}

}  // namespace

GridSummary run_grid(const std::string& spec_path, const GridOptions& opt) {
  // Every run validated before anything starts.
  return run_grid(load_experiment(spec_path, opt.max_runs), opt);
}

int parse_workers(const std::string& text) {
  if (text == "auto") return 0;
  try {
    size_t used = 0;
    int n = std::stoi(text, &used);
    if (used == text.size() && n >= 1 && n <= kMaxWorkers) return n;
  } catch (const std::exception&) {
  }
  throw ConfigError(fmt::format("--workers {}: expected a number in 1..{} or auto", text,
                                kMaxWorkers));
}

Layout auto_layout(int cores, int64_t runs_to_train, int threads_per_worker) {
  Layout l = layout(
      cores, int(std::clamp<int64_t>(std::min<int64_t>(cores, runs_to_train), 1, kMaxWorkers)),
      threads_per_worker);
  l.why = fmt::format(
      "{} worker{} x {} thread{} ({} cores, {} runs to train: one run per core while there are "
      "runs for them, as bench/results/grid_layout.md measured faster)",
      l.workers, l.workers == 1 ? "" : "s", l.threads, l.threads == 1 ? "" : "s", cores,
      runs_to_train);
  return l;
}

GridSummary run_grid(const ExperimentSpec& spec, const GridOptions& opt) {
  if (opt.dry_run) {
    fmt::print("{:<16}  {:<12}  {:<40}  {}\n", "hash", "variant", "varying", "seed");
    for (auto& r : spec.runs)
      fmt::print("{:<16}  {:<12}  {:<40}  {}\n", r.hash, r.variant, r.varying.dump(),
                 r.config.seed);
    fmt::print("{} runs\n", spec.runs.size());
    return {};
  }
  if (opt.workers < 0 || opt.workers > kMaxWorkers)
    throw ConfigError(fmt::format("--workers: expected 1..{} or auto", kMaxWorkers));

  auto slash = opt.db.rfind('/');
  if (slash != std::string::npos) {
    std::string dir = opt.db.substr(0, slash);
    if (::access(dir.c_str(), F_OK) != 0)
      throw StoreError("--db " + opt.db + ": directory " + dir +
                           " does not exist (create it or choose another --db)",
                       true);
    if (::access(dir.c_str(), W_OK) != 0)
      throw StoreError(
          "--db " + opt.db + ": directory " + dir + " is not writable (choose another --db)", true);
  }
  Store store(opt.db, Store::Open::kMigrate);
  int64_t exp_id = store.upsert_experiment(spec.name, spec.description, spec.raw.dump());
  int added = store.add_runs(exp_id, spec.runs);
  store.set_definition(exp_id, spec.runs);
  note_other_runs(store, exp_id, spec, opt.db);
  int reclaimed = store.reclaim_stale(kStaleHeartbeatSeconds);
  int retried = opt.retry_failed ? store.retry_failed(exp_id) : 0;
  int reused = opt.reuse ? store.reuse_done_runs(exp_id) : 0;
  auto c0 = store.counts(exp_id);
  fmt::print("{}: {} runs ({} new, {} done, {} reclaimed{}{}) in {}\n", spec.name, spec.runs.size(),
             added, c0[RunStatus::kDone], reclaimed,
             opt.retry_failed ? fmt::format(", {} retried", retried) : "",
             reused ? fmt::format(", {} reused from other experiments; --no-reuse trains them again", reused) : "",
             opt.db);
  std::fflush(stdout);

  const int cores = int(std::max(1u, std::thread::hardware_concurrency()));
  const Layout l =
      opt.workers == 0
          ? auto_layout(cores,
                        c0[RunStatus::kPending] + c0[RunStatus::kBlocked] + c0[RunStatus::kRunning],
                        opt.threads_per_worker)
          : layout(cores, opt.workers, opt.threads_per_worker);
  if (opt.workers == 0) fmt::print("workers auto: {}\n", l.why);
  const int n_workers = l.workers, threads = l.threads;

  struct sigaction sa {};
  sa.sa_handler = grid_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  std::vector<pid_t> live;
  std::map<int64_t, int> deaths;  // run id -> workers that died holding it
  int64_t worker_deaths = 0;
  std::string last_death;
  bool forwarded = false, disk_full = false, tty = ::isatty(STDOUT_FILENO) != 0;
  const auto t0 = std::chrono::steady_clock::now();
  const int64_t done0 = c0[RunStatus::kDone];
  // The experiment's state, read once per round after the reaping: runs whose parent has no
  // result are blocked first, then the counts and the runs a worker could claim now (no
  // parent, or a finished one). The next round spawns from it: a worker that claimed in the
  // meantime is already in `live`, and a run that became ready waits one round at most.
  std::map<RunStatus, int64_t> c;
  int64_t ready = 0;
  auto refresh = [&] {
    store.block_children(exp_id);
    c = store.counts(exp_id);
    ready = store.ready_count(exp_id);
  };
  refresh();
  int64_t last_line = -1;
  while (true) {
    // Keep N workers while there is work and no interrupt; a worker not yet counted as
    // running may still be about to claim, hence live < ready + running.
    while (interrupt_count().load() == 0 && !disk_full && int(live.size()) < n_workers &&
           ready > 0 && int64_t(live.size()) < ready + c[RunStatus::kRunning]) {
      pid_t pid = spawn_worker(opt, spec.name, threads);
      for (int i = 0; i < kMaxWorkers; ++i)
        if (g_children[i] == 0) {
          g_children[i] = pid;
          break;
        }
      live.push_back(pid);
    }
    if (interrupt_count().load() > 0 && !forwarded) {
      for (pid_t p : live) ::kill(p, SIGINT);
      forwarded = true;
      fmt::print(
          "\ngrid: interrupt: workers are stopping after their current batch (Ctrl-C again to kill "
          "them)\n");
      std::fflush(stdout);
    }
    // Reap finished workers.
    for (auto it = live.begin(); it != live.end();) {
      int status;
      if (::waitpid(*it, &status, WNOHANG) == *it) {
        if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
          throw Error("cannot run the worker binary " + opt.exe + " (exit 127); rebuild lowbit");
        // A worker that died (OOM killer, a stray kill, a crash) leaves its run `running`:
        // hand it back as interrupted, so that a new worker resumes it from its checkpoint,
        // or give up on it after kMaxWorkerDeaths deaths.
        const bool full = WIFEXITED(status) && WEXITSTATUS(status) == kExitDiskFull;
        const bool clean = WIFEXITED(status) && (WEXITSTATUS(status) == kExitSuccess ||
                                                 WEXITSTATUS(status) == kExitFailure ||
                                                 WEXITSTATUS(status) == kExitInterrupted);
        if (full) {
          // Every later run would fail the same way: spawn no more workers, let the live
          // ones end, and say what to free. A run the worker could not mark goes back.
          disk_full = true;
          if (int64_t run = store.running_run(*it))
            store.release_run(run, RunStatus::kFailed,
                              "disk full " + free_space_advice(opt.db + ".runs"));
        } else if (!clean) {
          const std::string why = worker_death(status);
          ++worker_deaths, last_death = why;
          if (int64_t run = store.running_run(*it)) release_after_death(store, run, why, deaths[run]);
        }
        for (int i = 0; i < kMaxWorkers; ++i)
          if (g_children[i] == *it) g_children[i] = 0;
        it = live.erase(it);
      } else {
        ++it;
      }
    }
    refresh();
    int64_t total = int64_t(spec.runs.size()), done = c[RunStatus::kDone],
            finished = done + c[RunStatus::kFailed] + c[RunStatus::kDiverged] +
                       c[RunStatus::kStopped] + c[RunStatus::kBlocked];
    double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    int64_t new_done = done - done0;
    std::string eta =
        new_done > 0 ? format_duration(elapsed / double(new_done) * double(total - finished)) : "?";
    std::string line = fmt::format(
        "{}: {}/{} done, {} running, {} failed, {} diverged, {} pending | {} elapsed, ETA {}",
        spec.name, done, total, c[RunStatus::kRunning], c[RunStatus::kFailed],
        c[RunStatus::kDiverged], c[RunStatus::kPending] + c[RunStatus::kInterrupted],
        format_duration(elapsed), eta);
    if (opt.suite) line += suite_progress(*opt.suite, finished, new_done, elapsed);
    if (tty)
      fmt::print("\r\033[K{}", line), std::fflush(stdout);
    else if (finished != last_line)
      fmt::print("{}\n", line), std::fflush(stdout), last_line = finished;
    // Runs that wait on a parent another process trains are left to that process's grid.
    if (live.empty() && (ready == 0 || interrupt_count().load() > 0 || disk_full)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
  if (tty) fmt::print("\n");
  c = store.counts(exp_id);
  GridSummary s{c[RunStatus::kDone], c[RunStatus::kFailed], c[RunStatus::kDiverged],
                c[RunStatus::kStopped], c[RunStatus::kInterrupted], interrupt_count().load() > 0,
                worker_deaths, ""};
  s.blocked = c[RunStatus::kBlocked];
  s.total = int64_t(spec.runs.size());
  s.trained = c[RunStatus::kDone] - done0;
  s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (disk_full)
    s.disk_full = "grid stopped: a run found the disk full " + free_space_advice(opt.db + ".runs") +
                  ", then run the same command with --retry-failed";
  if (worker_deaths > 0)
    fmt::print("grid: {} worker(s) died without finishing their run (last: {}); their runs were resumed from "
               "their checkpoints, or failed after {} deaths\n",
               worker_deaths, last_death, kMaxWorkerDeaths);
  if (s.interrupted)
    fmt::print(
        "grid: interrupted; {} done, {} interrupted. Run the same command again to resume.\n",
        s.done, s.interrupted_runs);
  else
    fmt::print("grid: {} done, {} failed, {} diverged{}{} (lowbit status --db {})\n", s.done, s.failed,
               s.diverged, s.stopped > 0 ? fmt::format(", {} stopped by health rules", s.stopped) : "",
               s.blocked > 0 ? fmt::format(", {} blocked (the run they start from has no result)", s.blocked) : "",
               opt.db);
  return s;
}

WorkerOutcome run_worker(const std::string& db, const std::string& experiment, int threads,
                         const std::string& device, const std::string& command_line) {
  WorkerRequest r;
  r.db = db, r.experiment = experiment, r.threads = threads, r.device = device, r.command_line = command_line;
  return run_worker(r);
}

WorkerOutcome run_worker(const WorkerRequest& req) {
  const std::string& db = req.db;
  const std::string& device = req.device;
  torch::set_num_threads(req.threads);
  Store store(db, Store::Open::kExisting);
  Provenance p;
  p.host = host_name();
  p.pid = ::getpid();
  p.threads = req.threads;
  p.device = device;
  p.command_line = req.command_line;
  auto claimed = store.claim(store.experiment_id(req.experiment), p, req.run_hash);
  if (!claimed) return {};

  // Heartbeat while the run lives, so that other hosts can tell a silent run from a slow one.
  std::mutex mu;
  std::condition_variable cv;
  bool stop = false;
  std::thread beat([&] {
    std::unique_lock<std::mutex> lock(mu);
    while (!cv.wait_for(lock, std::chrono::seconds(10), [&] { return stop; })) {
      try {
        store.heartbeat(claimed->id);
      } catch (const std::exception&) {
        // A busy database delays one heartbeat; the next one will do.
      }
    }
  });
  auto stop_beat = [&] {
    {
      std::lock_guard<std::mutex> lock(mu);
      stop = true;
    }
    cv.notify_all();
    if (beat.joinable()) beat.join();
  };
  // Joined on every way out, an exception included (a joinable thread's destructor aborts).
  struct JoinOnExit {
    decltype(stop_beat)& stop;
    ~JoinOnExit() { stop(); }
  } join_on_exit{stop_beat};

  WorkerOutcome outcome{true, RunStatus::kDone};
  // A run whose hash schema 7 rewrote keeps the directory (and checkpoint) named after its old one.
  auto dir_of = [&](const std::string& hash) {
    return req.runs_dir.empty() ? run_dir(db, hash) : req.runs_dir + "/" + hash;
  };
  std::string dir = dir_of(claimed->hash);
  if (!claimed->legacy_hash.empty() && !is_dir(dir) && is_dir(dir_of(claimed->legacy_hash)))
    dir = dir_of(claimed->legacy_hash);
  try {
    make_dirs(dir, "run directory");
    TrackerObserver tracker(store, claimed->id);
    TrainOptions o;
    o.device = device;
    o.checkpoint_dir = dir;
    o.resume = true;
    RunConfig cfg = claimed->config;
    if (!req.init_checkpoint.empty()) {
      ClaimedRun parent = *claimed;
      parent.parent_checkpoint = req.init_checkpoint, parent.parent_sha256 = req.init_sha256;
      cfg.init_from_checkpoint = parent_checkpoint(store, parent);
    } else if (claimed->parent_id) {
      cfg.init_from_checkpoint = parent_checkpoint(store, *claimed);
    }
    TrainResult r = train_run(cfg, o, tracker);
    std::string ckpt = checkpoint_path(dir);
    if (::access(ckpt.c_str(), R_OK) == 0)
      store.add_artifact(claimed->id, "checkpoint", ckpt, sha256_file(ckpt));
    auto acc = r.summary.count("final_test_acc") ? r.summary["final_test_acc"] : 0.0;
    fmt::print("run {} ({}, seed {}): {} test_acc {:.4f} in {:.0f}s\n", claimed->hash,
               claimed->variant, claimed->config.seed, to_string(r.status), acc,
               r.summary["wall_seconds"]);
    outcome.status = r.status;
  } catch (const Interrupted&) {
    outcome.status = RunStatus::kInterrupted;  // the trainer already marked the run interrupted
  } catch (const std::exception& e) {
    std::string what = e.what();
    what = what.substr(0, what.find('\n'));
    fmt::print(stderr, "run {}: failed: {}\n", claimed->hash, what);
    outcome.status = RunStatus::kFailed;
    // A full disk (the partial file is already removed) tells the grid to stop spawning; the
    // database may sit on the same disk, so recording the failure may fail too, and then the
    // grid releases the run when it reaps this worker.
    outcome.disk_full = dynamic_cast<const DiskFullError*>(&e) != nullptr;
    try {
      store.finish_run(claimed->id, RunStatus::kFailed, what, {});
    } catch (const std::exception&) {
      if (!outcome.disk_full) throw;
    }
  }
  return outcome;
}

}  // namespace lowbit
