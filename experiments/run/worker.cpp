#include "experiments/run/worker.h"

#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include <torch/torch.h>
#include <fmt/format.h>

#include "core/error.h"
#include "core/nn/torch_compat.h"
#include "core/file_io.h"
#include "core/sha256.h"
#include "core/train/interrupt.h"
#include "core/train/trainer.h"
#include "core/util.h"
#include "experiments/console_observer.h"
#include "tracker/jsonl_observer.h"
#include "tracker/store.h"
#include "core/train/keys.h"

namespace lowbit {

namespace {

// Heartbeats every 10 s while the run lives, so that other hosts can tell a silent run from a
// slow one; stopped and joined on every way out, an exception included.
class Heartbeat {
 public:
  Heartbeat(Store& store, int64_t run) : thread_([this, &store, run] { beat(store, run); }) {}
  ~Heartbeat() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  void beat(Store& store, int64_t run) {
    std::unique_lock<std::mutex> lock(mu_);
    while (!cv_.wait_for(lock, std::chrono::seconds(10), [&] { return stop_; })) {
      try {
        store.heartbeat(run);
      } catch (const std::exception&) {
        // A busy database delays one heartbeat; the next one will do.
      }
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;  // last: started once the members it uses exist
};

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

// The run's directory. A run whose hash schema 7 rewrote keeps the directory (and checkpoint)
// named after its old one.
std::string run_directory(const WorkerRequest& req, const ClaimedRun& claimed) {
  auto dir_of = [&](const std::string& hash) {
    return req.runs_dir.empty() ? run_dir(req.db, hash) : req.runs_dir + "/" + hash;
  };
  std::string dir = dir_of(claimed.hash);
  if (!claimed.legacy_hash.empty() && !is_dir(dir) && is_dir(dir_of(claimed.legacy_hash)))
    dir = dir_of(claimed.legacy_hash);
  return dir;
}

// Trains the claimed run into `dir` and records its checkpoint; returns how it ended.
RunStatus train_claimed(Store& store, const WorkerRequest& req, const ClaimedRun& claimed,
                        const std::string& dir) {
  make_dirs(dir, "run directory");
  TrackerObserver tracker(store, claimed.id);
  // The run's log (kRunLogFile), appended to across resumes: its start, each epoch's line and
  // how it ended, as a terminal would show them; lowbit serve shows its tail. Not written when
  // the file cannot be opened: the database holds every number anyway.
  std::unique_ptr<FILE, int (*)(FILE*)> log(std::fopen((dir + "/" + kRunLogFile).c_str(), "a"), &std::fclose);
  std::unique_ptr<ConsoleObserver> console = log ? std::make_unique<ConsoleObserver>(log.get()) : nullptr;
  MultiObserver observers(console ? std::vector<Observer*>{&tracker, console.get()} : std::vector<Observer*>{&tracker});
  TrainOptions o;
  o.device = req.device;
  o.checkpoint_dir = dir;
  o.resume = true;
  RunConfig cfg = claimed.config;
  if (!req.init_checkpoint.empty()) {
    ClaimedRun parent = claimed;
    parent.parent_checkpoint = req.init_checkpoint, parent.parent_sha256 = req.init_sha256;
    cfg.init_from_checkpoint = parent_checkpoint(store, parent);
  } else if (claimed.parent_id) {
    cfg.init_from_checkpoint = parent_checkpoint(store, claimed);
  }
  TrainResult r = train_run(cfg, o, observers);
  std::string ckpt = checkpoint_path(dir);
  if (::access(ckpt.c_str(), R_OK) == 0) store.add_artifact(claimed.id, "checkpoint", ckpt, sha256_file(ckpt));
  auto acc = r.summary.count(key::kFinalTestAcc) ? r.summary[key::kFinalTestAcc] : 0.0;
  fmt::print("run {} ({}, seed {}): {} test_acc {:.4f} in {:.0f}s\n", claimed.hash, claimed.variant,
             claimed.config.seed, to_string(r.status), acc, r.summary[key::kWallSeconds]);
  return r.status;
}

// A run that threw: recorded failed. A full disk (the partial file is already removed) tells
// the grid to stop spawning; the database may sit on the same disk, so recording the failure
// may fail too, and then the grid releases the run when it reaps this worker.
WorkerOutcome record_failure(Store& store, const ClaimedRun& claimed, const std::exception& e) {
  std::string what = e.what();
  what = what.substr(0, what.find('\n'));
  fmt::print(stderr, "run {}: failed: {}\n", claimed.hash, what);
  WorkerOutcome outcome{true, RunStatus::kFailed};
  outcome.disk_full = dynamic_cast<const DiskFullError*>(&e) != nullptr;
  try {
    store.finish_run(claimed.id, RunStatus::kFailed, what, {});
  } catch (const std::exception&) {
    if (!outcome.disk_full) throw;
  }
  return outcome;
}

}  // namespace

WorkerOutcome run_worker(const WorkerRequest& req) {
  torch::set_num_threads(req.threads);
  Store store(req.db, Store::Open::kExisting);
  if (!req.runs_dir.empty()) store.resume_ahead_allowed();  // a Slurm shard's worker: shared run directories
  Provenance p;
  p.host = host_name();
  p.pid = ::getpid();
  p.threads = req.threads;
  p.device = req.device;
  p.command_line = req.command_line;
  p.torch_version = libtorch_build();
  p.determinism = set_determinism(req.determinism, req.device);  // before the run's first CUDA call
  auto claimed = store.claim(store.experiment_id(req.experiment), p, req.run_hash);
  if (!claimed) return {};
  Heartbeat heartbeat(store, claimed->id);
  try {
    return {true, train_claimed(store, req, *claimed, run_directory(req, *claimed))};
  } catch (const Interrupted&) {
    return {true, RunStatus::kInterrupted};  // the trainer already marked the run interrupted
  } catch (const std::exception& e) {
    return record_failure(store, *claimed, e);
  }
}

}  // namespace lowbit
