#include "experiments/grid.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <map>
#include <set>
#include <thread>

#include <fmt/format.h>

#include "core/error.h"
#include "core/file_io.h"
#include "core/train/interrupt.h"
#include "core/util.h"
#include "experiments/schedule_check.h"
#include "experiments/spec.h"
#include "experiments/worker_process.h"
#include "tracker/store.h"

namespace lowbit {

namespace {

constexpr int kMaxWorkers = 256;
using Clock = std::chrono::steady_clock;
using Counts = std::map<RunStatus, int64_t>;

// Child pids, for the signal handler's second-signal kill.
volatile pid_t g_children[kMaxWorkers];

void grid_signal(int) {
  if (interrupt_count().fetch_add(1) >= 1) {
    for (int i = 0; i < kMaxWorkers; ++i)
      if (g_children[i] > 0) ::kill(g_children[i], SIGKILL);
    _exit(kExitInterrupted);
  }
}

void install_grid_signals() {
  struct sigaction sa {};
  sa.sa_handler = grid_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

void print_dry_run(const ExperimentSpec& spec) {
  fmt::print("{:<16}  {:<12}  {:<40}  {}\n", "hash", "variant", "varying", "seed");
  for (auto& r : spec.runs)
    fmt::print("{:<16}  {:<12}  {:<40}  {}\n", r.hash, r.variant, r.varying.dump(), r.config.seed);
  print_schedule_summaries(spec, stdout);
  fmt::print("{} runs\n", spec.runs.size());
}

// The database's directory must exist and be writable before anything is created in it.
void check_db_dir(const std::string& db) {
  auto slash = db.rfind('/');
  if (slash == std::string::npos) return;
  std::string dir = db.substr(0, slash);
  if (::access(dir.c_str(), F_OK) != 0)
    throw StoreError("--db " + db + ": directory " + dir + " does not exist (create it or choose another --db)",
                     true);
  if (::access(dir.c_str(), W_OK) != 0)
    throw StoreError("--db " + db + ": directory " + dir + " is not writable (choose another --db)", true);
}

// Runs of this experiment that the definition does not produce: recorded by an earlier version
// of the file (or, before schema 7, by a lowbit whose config keys differed). Reports leave them
// out and list them apart (lowbit report --all-runs includes them, marked); say so here.
void note_other_runs(Store& store, int64_t exp_id, const ExperimentSpec& spec, const std::string& db) {
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

// Registers the experiment and its runs, reclaims dead workers' runs, retries and reuses as
// asked, and says what it found; returns the experiment's id.
int64_t prepare_grid(Store& store, const ExperimentSpec& spec, const GridOptions& opt) {
  int64_t exp_id = store.upsert_experiment(spec.name, spec.description, spec.raw.dump());
  int added = store.add_runs(exp_id, spec.runs);
  store.set_definition(exp_id, spec.runs);
  note_other_runs(store, exp_id, spec, opt.db);
  int reclaimed = store.reclaim_stale(kStaleHeartbeatSeconds);
  int retried = opt.retry_failed ? store.retry_failed(exp_id) : 0;
  int reused = opt.reuse ? store.reuse_done_runs(exp_id) : 0;
  auto c0 = store.counts(exp_id);
  fmt::print("{}: {} runs ({} new, {} done, {} reclaimed{}{}) in {}\n", spec.name, spec.runs.size(), added,
             c0[RunStatus::kDone], reclaimed, opt.retry_failed ? fmt::format(", {} retried", retried) : "",
             reused ? fmt::format(", {} reused from other experiments; --no-reuse trains them again", reused) : "",
             opt.db);
  std::fflush(stdout);
  return exp_id;
}

// `workers` workers, each with --threads-per-worker threads, or the cores shared among them.
Layout layout(int cores, int workers, int threads_per_worker) {
  return {workers, threads_per_worker > 0 ? threads_per_worker : std::max(1, cores / workers), "", {}};
}

bool on_gpu(const std::string& device) { return device.rfind("cuda", 0) == 0; }

// Worker slot i on gpus[i % G]: each GPU gets its share of the layout's workers.
void spread_over(Layout& l, const std::vector<int>& gpus) {
  for (int i = 0; i < l.workers; ++i)
    l.devices.push_back(fmt::format("cuda:{}", gpus.empty() ? 0 : gpus[size_t(i) % gpus.size()]));
}

// The CUDA indices --device names: cuda:N, or every GPU LibTorch sees.
std::vector<int> gpu_indices(const GridOptions& opt) {
  if (opt.device.size() > 5) return {std::stoi(opt.device.substr(5))};  // cuda:N, checked by check_device
  std::vector<int> all;
  for (int i = 0; i < std::max(1, opt.gpus); ++i) all.push_back(i);
  return all;
}

Layout choose_layout(const GridOptions& opt, Counts c0) {
  const int cores = int(std::max(1u, std::thread::hardware_concurrency()));
  const int64_t to_train = c0[RunStatus::kPending] + c0[RunStatus::kBlocked] + c0[RunStatus::kRunning] +
                           c0[RunStatus::kInterrupted];
  if (on_gpu(opt.device) && (opt.workers_per_device > 0 || opt.workers == 0)) {
    const std::vector<int64_t> free =
        opt.workers_per_device > 0 ? std::vector<int64_t>{} : gpu_free_bytes();
    Layout l = device_layout(gpu_indices(opt), free, cores, to_train, opt.workers_per_device,
                             int64_t(opt.gib_per_worker * double(1ll << 30)), opt.threads_per_worker);
    fmt::print("workers: {}\n", l.why);
    return l;
  }
  if (opt.workers != 0) {
    Layout l = layout(cores, opt.workers, opt.threads_per_worker);
    if (on_gpu(opt.device) && opt.device.size() == 4) spread_over(l, gpu_indices(opt));  // --workers N: every GPU, in turn
    return l;
  }
  Layout l = auto_layout(cores, to_train, opt.threads_per_worker);
  fmt::print("workers auto: {}\n", l.why);
  return l;
}

// The grid's worker processes: spawns them, forwards the first interrupt once, reaps them
// and settles the run of one that died (classify_exit).
class WorkerPool {
 public:
  WorkerPool(Store& store, const GridOptions& opt, const std::string& experiment, const Layout& l)
      : store_(store), opt_(opt), slot_device_(l.devices), slot_pid_(l.devices.size(), 0) {
    request_.db = opt.db, request_.experiment = experiment, request_.threads = l.threads;
    request_.device = opt.device, request_.determinism = opt.determinism;
  }
  size_t size() const { return live_.size(); }
  bool disk_full() const { return disk_full_; }
  int64_t deaths() const { return deaths_; }
  const std::string& last_death() const { return last_death_; }

  void spawn() {
    // On GPUs, a worker takes the first free slot, and so its GPU: each GPU keeps its K.
    auto slot = std::find(slot_pid_.begin(), slot_pid_.end(), 0);
    if (slot != slot_pid_.end()) request_.device = slot_device_[size_t(slot - slot_pid_.begin())];
    pid_t pid = spawn_worker_process(request_.argv(opt_.exe), true);
    if (slot != slot_pid_.end()) *slot = pid;
    for (int i = 0; i < kMaxWorkers; ++i)
      if (g_children[i] == 0) {
        g_children[i] = pid;
        break;
      }
    live_.push_back(pid);
  }

  void forward_interrupt_once() {
    if (forwarded_) return;
    for (pid_t p : live_) ::kill(p, SIGINT);
    forwarded_ = true;
    fmt::print("\ngrid: interrupt: workers are stopping after their current batch (Ctrl-C again to kill them)\n");
    std::fflush(stdout);
  }

  void reap() {
    for (auto it = live_.begin(); it != live_.end();) {
      int status;
      if (::waitpid(*it, &status, WNOHANG) != *it) {
        ++it;
        continue;
      }
      settle(*it, status);
      for (int i = 0; i < kMaxWorkers; ++i)
        if (g_children[i] == *it) g_children[i] = 0;
      std::replace(slot_pid_.begin(), slot_pid_.end(), *it, pid_t(0));
      it = live_.erase(it);
    }
  }

 private:
  void settle(pid_t pid, int status) {
    switch (classify_exit(status)) {
      case WorkerExit::kEnded: return;
      case WorkerExit::kExecFailed:
        throw Error("cannot run the worker binary " + opt_.exe + " (exit 127); rebuild lowbit");
      case WorkerExit::kDiskFull:
        // Every later run would fail the same way: spawn no more workers, let the live ones
        // end, and say what to free. A run the worker could not mark goes back.
        disk_full_ = true;
        if (int64_t run = store_.running_run(pid))
          store_.release_run(run, RunStatus::kFailed, "disk full " + free_space_advice(opt_.db + ".runs"));
        return;
      case WorkerExit::kDied: {
        // A worker that died (OOM killer, a stray kill, a crash) leaves its run `running`:
        // hand it back as interrupted, so that a new worker resumes it from its checkpoint,
        // or give up on it after kMaxWorkerDeaths deaths.
        const std::string why = worker_death(status);
        ++deaths_, last_death_ = why;
        if (int64_t run = store_.running_run(pid)) release_after_death(store_, run, why, run_deaths_[run]);
        return;
      }
    }
  }

  Store& store_;
  const GridOptions& opt_;
  WorkerRequest request_;
  std::vector<std::string> slot_device_;  // Layout::devices: empty, or a GPU per worker slot
  std::vector<pid_t> slot_pid_;           // the worker in each slot; 0 for none
  std::vector<pid_t> live_;
  std::map<int64_t, int> run_deaths_;  // run id -> workers that died holding it
  int64_t deaths_ = 0;
  std::string last_death_;
  bool forwarded_ = false, disk_full_ = false;
};

// " | suite: F/T runs ended, ETA E" from the runs ended and trained so far in the suite.
std::string suite_progress(const SuiteProgress& p, int64_t finished, int64_t trained, double elapsed) {
  const int64_t ended = p.finished_before + finished, runs = p.trained_before + trained;
  const double seconds = p.seconds_before + elapsed;
  return fmt::format(" | suite: {}/{} runs ended, ETA {}", ended, p.total,
                     runs > 0 ? format_duration(seconds / double(runs) * double(p.total - ended)) : "?");
}

// The status line: counts, elapsed time and ETA; on a terminal rewritten in place, else a new
// line whenever another run ends.
class ProgressLine {
 public:
  ProgressLine(const ExperimentSpec& spec, const GridOptions& opt, int64_t done0)
      : spec_(spec), opt_(opt), done0_(done0), t0_(Clock::now()), tty_(::isatty(STDOUT_FILENO) != 0) {}
  double elapsed() const { return std::chrono::duration<double>(Clock::now() - t0_).count(); }

  void show(Counts c) {
    const int64_t total = int64_t(spec_.runs.size()), done = c[RunStatus::kDone],
                  finished = done + c[RunStatus::kFailed] + c[RunStatus::kDiverged] + c[RunStatus::kStopped] +
                             c[RunStatus::kBlocked];
    const double seconds = elapsed();
    const int64_t new_done = done - done0_;
    std::string eta = new_done > 0 ? format_duration(seconds / double(new_done) * double(total - finished)) : "?";
    std::string line = fmt::format(
        "{}: {}/{} done, {} running, {} failed, {} diverged, {} pending | {} elapsed, ETA {}", spec_.name, done,
        total, c[RunStatus::kRunning], c[RunStatus::kFailed], c[RunStatus::kDiverged],
        c[RunStatus::kPending] + c[RunStatus::kInterrupted], format_duration(seconds), eta);
    if (opt_.suite) line += suite_progress(*opt_.suite, finished, new_done, seconds);
    if (tty_)
      fmt::print("\r\033[K{}", line), std::fflush(stdout);
    else if (finished != last_finished_)
      fmt::print("{}\n", line), std::fflush(stdout), last_finished_ = finished;
  }
  void end() const {
    if (tty_) fmt::print("\n");
  }

 private:
  const ExperimentSpec& spec_;
  const GridOptions& opt_;
  int64_t done0_;
  Clock::time_point t0_;
  bool tty_;
  int64_t last_finished_ = -1;
};

// Keeps `n_workers` workers while there is work and no interrupt, until every run that can
// run here has ended. The experiment's state is read once per round after the reaping: runs
// whose parent has no result are blocked first, then the counts and the runs a worker could
// claim now (no parent, or a finished one). A worker not yet counted as running may still be
// about to claim, hence live < ready + running.
void run_pool(Store& store, int64_t exp_id, WorkerPool& pool, ProgressLine& progress, int n_workers) {
  Counts c;
  int64_t ready = 0;
  auto refresh = [&] {
    store.block_children(exp_id);
    c = store.counts(exp_id);
    ready = store.ready_count(exp_id);
  };
  refresh();
  while (true) {
    while (interrupt_count().load() == 0 && !pool.disk_full() && int(pool.size()) < n_workers && ready > 0 &&
           int64_t(pool.size()) < ready + c[RunStatus::kRunning])
      pool.spawn();
    if (interrupt_count().load() > 0) pool.forward_interrupt_once();
    pool.reap();
    refresh();
    progress.show(c);
    // Runs that wait on a parent another process trains are left to that process's grid.
    if (pool.size() == 0 && (ready == 0 || interrupt_count().load() > 0 || pool.disk_full())) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
  progress.end();
}

GridSummary summarize(Store& store, int64_t exp_id, const ExperimentSpec& spec, const WorkerPool& pool,
                      int64_t done0, double seconds, const std::string& db) {
  Counts c = store.counts(exp_id);
  GridSummary s{c[RunStatus::kDone], c[RunStatus::kFailed],      c[RunStatus::kDiverged],
                c[RunStatus::kStopped], c[RunStatus::kInterrupted], interrupt_count().load() > 0,
                pool.deaths(),          ""};
  s.blocked = c[RunStatus::kBlocked];
  s.total = int64_t(spec.runs.size());
  s.trained = c[RunStatus::kDone] - done0;
  s.seconds = seconds;
  if (pool.disk_full())
    s.disk_full = "grid stopped: a run found the disk full " + free_space_advice(db + ".runs") +
                  ", then run the same command with --retry-failed";
  return s;
}

void print_summary(const GridSummary& s, const WorkerPool& pool, const std::string& db) {
  if (s.worker_deaths > 0)
    fmt::print("grid: {} worker(s) died without finishing their run (last: {}); their runs were resumed from "
               "their checkpoints, or failed after {} deaths\n",
               s.worker_deaths, pool.last_death(), kMaxWorkerDeaths);
  if (s.interrupted)
    fmt::print("grid: interrupted; {} done, {} interrupted. Run the same command again to resume.\n", s.done,
               s.interrupted_runs);
  else
    fmt::print("grid: {} done, {} failed, {} diverged{}{} (lowbit status --db {})\n", s.done, s.failed, s.diverged,
               s.stopped > 0 ? fmt::format(", {} stopped by health rules", s.stopped) : "",
               s.blocked > 0 ? fmt::format(", {} blocked (the run they start from has no result)", s.blocked) : "",
               db);
}

}  // namespace

int parse_workers(const std::string& text) {
  if (text == "auto") return 0;
  try {
    size_t used = 0;
    int n = std::stoi(text, &used);
    if (used == text.size() && n >= 1 && n <= kMaxWorkers) return n;
  } catch (const std::exception&) {
  }
  throw ConfigError(fmt::format("--workers {}: expected a number in 1..{} or auto", text, kMaxWorkers));
}

Layout auto_layout(int cores, int64_t runs_to_train, int threads_per_worker) {
  Layout l = layout(cores, int(std::clamp<int64_t>(std::min<int64_t>(cores, runs_to_train), 1, kMaxWorkers)),
                    threads_per_worker);
  l.why = fmt::format(
      "{} worker{} x {} thread{} ({} cores, {} runs to train: one run per core while there are "
      "runs for them, as bench/results/grid_layout.md measured faster)",
      l.workers, l.workers == 1 ? "" : "s", l.threads, l.threads == 1 ? "" : "s", cores, runs_to_train);
  return l;
}

Layout device_layout(const std::vector<int>& gpus, const std::vector<int64_t>& free_bytes, int cores,
                     int64_t runs_to_train, int per_device, int64_t bytes_per_worker, int threads_per_worker) {
  const int g = int(std::max<size_t>(1, gpus.size()));
  std::string how;
  int k = per_device;
  if (k == 0) {
    const int64_t least = free_bytes.empty() ? 0 : *std::min_element(free_bytes.begin(), free_bytes.end());
    const int64_t fits = int64_t(0.9 * double(least) / double(std::max<int64_t>(1, bytes_per_worker)));
    k = int(std::clamp<int64_t>(fits, 1, kMaxWorkersPerDevice));
    how = fmt::format(" (90% of {:.1f} GiB free / {:.1f} GiB per worker = {}, at most {} per GPU)",
                      double(least) / double(1ll << 30), double(bytes_per_worker) / double(1ll << 30), fits,
                      kMaxWorkersPerDevice);
  }
  const int64_t cap = std::min<int64_t>({int64_t(k) * g, std::max(1, cores), std::max<int64_t>(1, runs_to_train),
                                         kMaxWorkers});
  Layout l = layout(cores, int(cap), threads_per_worker);
  spread_over(l, gpus);
  l.why = fmt::format("{} worker{} per GPU{} x {} GPU{}: {} worker{} x {} thread{} (at most one per core, {} "
                      "cores, and one per run, {} to train)",
                      k, k == 1 ? "" : "s", how, g, g == 1 ? "" : "s", l.workers, l.workers == 1 ? "" : "s",
                      l.threads, l.threads == 1 ? "" : "s", cores, runs_to_train);
  return l;
}

std::vector<int64_t> parse_gpu_free(const std::string& text) {
  std::vector<int64_t> out;
  for (std::string t : split(text, '\n')) {
    while (!t.empty() && std::isspace(static_cast<unsigned char>(t.back()))) t.pop_back();
    while (!t.empty() && std::isspace(static_cast<unsigned char>(t.front()))) t.erase(0, 1);
    if (t.empty()) continue;
    char* end = nullptr;
    const long long mib = std::strtoll(t.c_str(), &end, 10);
    if (end == t.c_str() || *end != '\0' || mib < 0)
      throw ConfigError("--workers auto: cannot read nvidia-smi's free memory from '" +
                        truncate_for_message(t) + "'; give --workers-per-device K instead");
    out.push_back(int64_t(mib) << 20);
  }
  if (out.empty())
    throw ConfigError("--workers auto: nvidia-smi lists no GPU; give --workers-per-device K instead");
  return out;
}

std::vector<int64_t> gpu_free_bytes() {
  std::vector<std::string> argv = {"nvidia-smi", "--query-gpu=memory.free", "--format=csv,noheader,nounits"};
  if (const char* v = std::getenv("CUDA_VISIBLE_DEVICES"); v && *v) argv.insert(argv.end(), {"-i", v});
  const Captured c = on_path(argv[0]) ? run_captured(argv) : Captured{127, ""};
  const std::string text = c.status == 0 ? c.out : "";
  if (text.empty())
    throw ConfigError("--workers auto --device cuda: cannot read the GPUs' free memory (nvidia-smi failed or is "
                      "missing); give --workers-per-device K instead");
  return parse_gpu_free(text);
}

GridSummary run_grid(const ExperimentSpec& spec, const GridOptions& opt) {
  if (opt.dry_run) return print_dry_run(spec), GridSummary{};
  if (opt.workers < 0 || opt.workers > kMaxWorkers)
    throw ConfigError(fmt::format("--workers: expected 1..{} or auto", kMaxWorkers));
  check_db_dir(opt.db);
  Store store(opt.db, Store::Open::kMigrate);
  const int64_t exp_id = prepare_grid(store, spec, opt);
  Counts c0 = store.counts(exp_id);
  const int64_t done0 = c0[RunStatus::kDone];
  const Layout l = choose_layout(opt, c0);
  install_grid_signals();
  WorkerPool pool(store, opt, spec.name, l);
  ProgressLine progress(spec, opt, done0);
  run_pool(store, exp_id, pool, progress, l.workers);
  GridSummary s = summarize(store, exp_id, spec, pool, done0, progress.elapsed(), opt.db);
  print_summary(s, pool, opt.db);
  return s;
}

}  // namespace lowbit
