#include "experiments/slurm_grid.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <set>
#include <thread>

#include <fmt/format.h>

#include "core/error.h"
#include "core/file_io.h"
#include "core/train/interrupt.h"
#include "core/util.h"
#include "experiments/spec.h"
#include "experiments/worker_process.h"
#include "tracker/shards.h"

namespace lowbit {

namespace {

bool ended_status(RunStatus s) {
  return s == RunStatus::kDone || s == RunStatus::kFailed || s == RunStatus::kDiverged ||
         s == RunStatus::kStopped || s == RunStatus::kBlocked;
}

std::string shard_of(const std::string& dir, const std::string& task) {
  return shard_path(dir, "shards/" + task + ".db");
}

// A claim of a local task (started by hand) is live while its process is.
bool local_task_alive(const std::string& task) {
  const std::string prefix = "local-" + host_name() + "-";
  if (task.rfind(prefix, 0) != 0) return false;
  return process_alive(std::atoll(task.c_str() + prefix.size()));
}

// The claim `hash` of the dead task `holder`: what its shard says the run became.
void settle_dead_claim(const std::string& dir, const std::string& experiment, const std::string& hash,
                       const std::string& holder) {
  const std::string shard = shard_of(dir, holder);
  if (::access(shard.c_str(), F_OK) == 0) {
    Store store(shard, Store::Open::kExisting);
    auto st = store.run_state(store.experiment_id(experiment), hash);
    if (st && ended_status(st->status)) {
      write_ended(dir, hash, {to_string(st->status), holder, st->checkpoint, st->sha256});
    } else if (st && st->status == RunStatus::kRunning) {
      store.release_run(st->id, RunStatus::kInterrupted,
                        "task " + holder + " is gone (not in squeue); resumed by a later task");
    }
  }
  release_claim(dir, hash);
}

}  // namespace

int reconcile_claims(const std::string& dir, const std::string& experiment,
                     const std::optional<std::map<std::string, std::string>>& live) {
  int released = 0;
  for (const auto& [hash, holder] : list_claims(dir)) {
    if (read_ended(dir, hash)) {
      release_claim(dir, hash);  // the task ended the run and died before removing its claim
      continue;
    }
    if (holder.empty() || local_task_alive(holder)) continue;  // being created, or a live local task
    const bool slurm_task = holder.rfind("local-", 0) != 0;
    if (slurm_task && (!live || live->count(holder))) continue;  // alive, or cannot tell
    settle_dead_claim(dir, experiment, hash, holder);
    ++released;
  }
  return released;
}

SlurmSubmission submit_slurm_grid(const ExperimentSpec& spec, SlurmOptions o, const std::string& lowbit) {
  check_slurm_options(o);
  if (!on_path("sbatch"))
    throw Error("sbatch is not on PATH: run lowbit grid --backend slurm on the cluster's login node, or install "
                "the Slurm client (Debian package slurm-client) with SLURM_CONF pointing at the cluster's slurm.conf");
  make_shard_dir(o.shard_dir);
  char* abs = ::realpath(o.shard_dir.c_str(), nullptr);
  if (abs) o.shard_dir = abs, ::free(abs);
  const std::string& dir = o.shard_dir;
  if (is_shard_dir(dir)) {
    ShardPlan old = read_plan(dir);
    if (old.experiment != spec.name)
      throw ConfigError("--shard-dir " + dir + " holds experiment '" + old.experiment + "', not '" + spec.name +
                        "': give each experiment its own shard directory");
  }
  write_plan(dir, {spec.name, spec.description, nlohmann::json::parse(spec.raw.dump()), spec.runs});
  if (o.retry_failed) forget_unfinished(dir);

  SlurmSubmission s;
  const auto live = slurm_live_tasks();
  s.released = reconcile_claims(dir, spec.name, live);
  s.runs = int64_t(spec.runs.size());
  for (const auto& r : spec.runs) {
    if (auto e = read_ended(dir, r.hash))
      ++(e->status == "done" ? s.done : s.ended_other);
    else if (claim_holder(dir, r.hash))
      ++s.held;
    else
      ++s.to_train;
  }
  fmt::print("{}: {} runs in {}: {} done, {} ended otherwise{}, {} held by {}, {} to train{}\n", spec.name, s.runs,
             dir, s.done, s.ended_other, s.ended_other ? " (--retry-failed trains them again)" : "", s.held,
             live ? "live tasks" : "tasks squeue could not be asked about (claims kept)", s.to_train,
             s.released ? fmt::format(" ({} claims of tasks that are gone released)", s.released) : "");
  if (s.to_train == 0) {
    fmt::print("nothing to submit{}\n", s.held ? "; lowbit status --shard-dir " + dir + " shows the live tasks" : "");
    return s;
  }
  s.tasks = o.tasks > 0 ? o.tasks : default_tasks(s.to_train, cluster_max_array_size());
  s.script = shard_path(dir, spec.name + ".sbatch");
  write_file_atomic(s.script, sbatch_script(o, spec.name, s.tasks, s.to_train, lowbit));
  s.job_id = submit_array(s.script);
  append_job(dir, s.job_id);
  fmt::print("submitted job {}: {} task(s) for {} run(s) ({})\nfollow: lowbit status --shard-dir {}\nthen:   lowbit merge --into results.db {}\n",
             s.job_id, s.tasks, s.to_train, s.script, dir, dir);
  return s;
}

namespace {

// The run a task trains next: one it already holds (a requeued task resumes its own runs
// first), else the first unclaimed run, in plan order, whose parent (init.from_run) ended.
// nullptr when there is none; a run whose parent another task still trains is left to that
// task, which reaches it after its parent.
const PlannedRun* next_run(const std::string& dir, const ShardPlan& plan, const std::string& task,
                           std::set<std::string>& ended) {
  std::map<std::string, const PlannedRun*> by_hash;
  for (const auto& r : plan.runs) by_hash[r.hash] = &r;
  for (const auto& [hash, holder] : list_claims(dir))
    if (holder == task && !read_ended(dir, hash)) {
      if (by_hash.count(hash)) return by_hash[hash];
      release_claim(dir, hash);  // a run the plan no longer has
    }
  for (const auto& r : plan.runs) {
    if (ended.count(r.hash)) continue;
    if (read_ended(dir, r.hash)) {
      ended.insert(r.hash);
      continue;
    }
    if (!r.parent_hash.empty() && !read_ended(dir, r.parent_hash)) continue;
    if (try_claim(dir, r.hash, task)) return &r;
  }
  return nullptr;
}

// Waits for the worker; a signal to the task (scancel, requeue, the time limit: Slurm
// signals every process of the job, but a kill of the task alone does not) is passed on
// once after 2 s if the worker has not seen one.
int wait_worker(pid_t pid) {
  auto signalled = std::chrono::steady_clock::time_point::max();
  bool forwarded = false;
  while (true) {
    int st = 0;
    pid_t r = ::waitpid(pid, &st, WNOHANG);
    if (r == pid) return st;
    if (interrupt_count().load() > 0 && !forwarded) {
      auto now = std::chrono::steady_clock::now();
      if (signalled == std::chrono::steady_clock::time_point::max()) signalled = now;
      if (now - signalled > std::chrono::seconds(2)) ::kill(pid, SIGTERM), forwarded = true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

struct Task {
  std::string dir, task, shard, device, exe;
  int threads = 1;
  ShardPlan plan;
  Store* store = nullptr;
  int64_t exp_id = 0;
  std::map<std::string, int> deaths;
  int64_t trained = 0;
};

// Records how the run ended in the shard directory and lets go of it.
void settle(Task& t, const PlannedRun& run, const Store::RunState& st) {
  write_ended(t.dir, run.hash, {to_string(st.status), t.task, st.checkpoint, st.sha256});
  release_claim(t.dir, run.hash);
}

// Trains one claimed run in a worker; returns false when the task must stop.
bool train_claimed(Task& t, const PlannedRun& run, int& exit_code) {
  PlannedRun local = run;
  local.parent_hash.clear();  // the parent lives in another shard: its checkpoint is passed below
  t.store->add_runs(t.exp_id, {local});
  auto st = t.store->run_state(t.exp_id, run.hash);
  if (ended_status(st->status)) return settle(t, run, *st), true;  // ended before the marker was written
  WorkerRequest req;
  req.db = t.shard, req.experiment = t.plan.experiment, req.run_hash = run.hash, req.threads = t.threads;
  req.device = t.device, req.runs_dir = shard_path(t.dir, "runs");
  if (!run.parent_hash.empty()) {
    auto parent = read_ended(t.dir, run.parent_hash);
    if (parent->status != "done") {
      Provenance p;
      p.host = host_name(), p.pid = ::getpid();
      auto c = t.store->claim(t.exp_id, p, run.hash);
      t.store->finish_run(c->id, RunStatus::kBlocked,
                          "the run it starts from (init.from_run), " + run.parent_hash + ", ended " + parent->status +
                              "; fix that run, then lowbit grid --backend slurm --retry-failed",
                          {});
      return settle(t, run, *t.store->run_state(t.exp_id, run.hash)), true;
    }
    req.init_checkpoint = parent->checkpoint, req.init_sha256 = parent->sha256;
  }
  fmt::print("task {}: run {} ({}, seed {})\n", t.task, run.hash, run.variant, run.config.seed);
  std::fflush(stdout);
  const int status = wait_worker(spawn_worker_process(req.argv(t.exe), false));
  const WorkerExit exit = classify_exit(status);
  if (exit == WorkerExit::kExecFailed)
    throw Error("cannot run the worker binary " + t.exe + " (exit 127); rebuild lowbit on the shared file system");
  st = t.store->run_state(t.exp_id, run.hash);
  if (ended_status(st->status)) {
    t.trained += st->status == RunStatus::kDone;
    settle(t, run, *st);
    return interrupt_count().load() == 0;
  }
  if (exit == WorkerExit::kDiskFull) {
    if (st->status == RunStatus::kRunning) t.store->release_run(st->id, RunStatus::kInterrupted, "disk full");
    exit_code = kExitDiskFull;
    return false;
  }
  if (interrupt_count().load() > 0 || st->status == RunStatus::kInterrupted) {
    if (st->status == RunStatus::kRunning)
      t.store->release_run(st->id, RunStatus::kInterrupted, "task " + t.task + " stopped by a signal");
    exit_code = kExitInterrupted;
    return false;  // the claim stays: this task resumes the run when Slurm requeues it
  }
  // The worker died holding the run (OOM killer, a crash): resume it, or give up on it.
  if (release_after_death(*t.store, st->id, worker_death(status), t.deaths[run.hash]))
    settle(t, run, *t.store->run_state(t.exp_id, run.hash));
  return true;
}

}  // namespace

int run_slurm_task(const std::string& dir, int threads, const std::string& device, const std::string& exe) {
  Task t;
  t.dir = dir, t.task = task_name(), t.device = device, t.exe = exe, t.threads = threads;
  t.plan = read_plan(dir);
  t.shard = shard_of(dir, t.task);
  Store store(t.shard, Store::Open::kShard);
  t.store = &store;
  t.exp_id = store.upsert_experiment(t.plan.experiment, t.plan.description, t.plan.spec.dump());
  const int resumed = store.interrupt_running("an earlier attempt of task " + t.task +
                                              " ended without finishing the run (requeued, preempted or killed)");
  fmt::print("task {} on {}: shard {}{}\n", t.task, host_name(), t.shard,
             resumed ? fmt::format(", {} run(s) of an earlier attempt to resume", resumed) : "");
  std::fflush(stdout);
  std::set<std::string> ended;
  int exit_code = kExitSuccess;
  while (interrupt_count().load() == 0) {
    const PlannedRun* run = next_run(dir, t.plan, t.task, ended);
    if (!run) break;
    if (!train_claimed(t, *run, exit_code)) break;
  }
  if (exit_code == kExitSuccess && interrupt_count().load() > 0) exit_code = kExitInterrupted;
  fmt::print("task {}: {} run(s) trained to the end{}\n", t.task, t.trained,
             exit_code == kExitInterrupted ? "; stopped by a signal, its run resumes on requeue or resubmission" : "");
  return exit_code;
}

std::string shard_status_report(const std::string& dir) {
  const ShardPlan plan = read_plan(dir);
  std::map<std::string, ShardRun> best;  // by hash, across shards
  std::string out, unreadable;
  for (const auto& shard : list_shards(dir)) {
    try {
      for (auto& r : read_shard(shard, plan.experiment, true))
        if (!best.count(r.hash) || copy_wins(r, best[r.hash])) best[r.hash] = r;
    } catch (const Error& e) {
      unreadable += fmt::format("  shard {} not readable now: {}\n", shard, e.what());
    }
  }
  std::map<std::string, int64_t> counts;
  std::string running;
  for (const auto& r : plan.runs) {
    std::string status = "pending";
    if (auto e = read_ended(dir, r.hash))
      status = e->status;
    else if (best.count(r.hash))
      status = best[r.hash].status;
    if (status == "pending" && claim_holder(dir, r.hash)) status = "claimed";
    ++counts[status];
    if (status == "running") {
      const ShardRun& b = best[r.hash];
      std::string task = b.shard.substr(b.shard.rfind('/') + 1);
      task = task.substr(0, task.size() - 3);  // <task>.db
      running += fmt::format("  {}  {:<12} seed {:<3} epoch {}/{}  task {} on {}\n", r.hash, r.variant, r.config.seed,
                             b.epoch, r.config.epochs, task, b.host);
    }
  }
  out += fmt::format("{}: {} runs in {} ({} shard(s))\n ", plan.experiment, plan.runs.size(), dir, list_shards(dir).size());
  for (const auto& [status, n] : counts) out += fmt::format(" {} {}", status, n);
  out += "\n" + running + unreadable;
  const auto jobs = list_jobs(dir);
  auto live = jobs.empty() ? std::nullopt : slurm_live_tasks();
  if (jobs.empty()) {
    out += "slurm: no job submitted from this directory\n";
  } else if (!live) {
    out += "slurm: squeue not available here; jobs " + join(jobs, ", ") + "\n";
  } else {
    std::map<std::string, std::map<std::string, int>> by_job;
    for (const auto& [task, state] : *live) ++by_job[task.substr(0, task.find('_'))][state];
    for (const auto& job : jobs) {
      std::string states;
      for (const auto& [state, n] : by_job[job]) states += fmt::format(" {} {}", state, n);
      out += fmt::format("slurm job {}:{}\n", job, states.empty() ? " no task in squeue (ended)" : states);
    }
  }
  return out;
}

}  // namespace lowbit
