// lowbit grid: runs an experiment definition (axes x variants x seeds) into a database.
#include <unistd.h>

#include <iostream>
#include <set>

#include <fmt/format.h>

#include "apps/commands.h"
#include "apps/torch/grid_cli.h"
#include "apps/torch/settle.h"
#include "core/error.h"
#include "core/nn/torch_compat.h"
#include "core/train/trainer.h"
#include "core/util.h"
#include "experiments/grid.h"
#include "experiments/schedule_check.h"
#include "experiments/slurm_grid.h"
#include "experiments/spec.h"
#include "reports/claims.h"
#include "reports/plots.h"
#include "reports/schedule_plots.h"

namespace lowbit {

void add_grid_options(po::options_description& desc, GridOptions& o, std::string& workers) {
  desc.add_options()(
      "workers,w", po::value(&workers)->default_value("1"),
      "worker processes, or auto: one per core while there are runs for them (bench/results/"
      "grid_layout.md), the cores shared among them")(
      "threads-per-worker", po::value(&o.threads_per_worker)->default_value(0),
      "LibTorch threads per worker (0 = cores / workers)")(
      "device,d", po::value(&o.device)->default_value("cpu"), "cpu, cuda (every GPU) or cuda:N")(
      "workers-per-device", po::value(&o.workers_per_device)->default_value(0),
      "with --device cuda: K workers on each GPU (small runs share a GPU; --workers auto picks K from "
      "free GPU memory)")(
      "device-memory-per-worker", po::value(&o.gib_per_worker)->default_value(o.gib_per_worker),
      "GiB of GPU memory --workers auto reserves per worker (CUDA context, data, model, activations)")(
      "determinism", po::value(&o.determinism)->default_value(o.determinism),
      "strict (cuDNN's deterministic algorithms: the same bits on the same GPU) or fast (cuDNN "
      "benchmarks); recorded with each run")(
      "retry-failed", "run failed, diverged and blocked runs again")(
      "no-reuse", "train every run, even one another experiment of the database already finished")(
      "max-runs", po::value(&o.max_runs)->default_value(o.max_runs),
      "refuse a definition that expands to more runs")(
      "set,s", po::value(&o.overrides.set)->composing(),
      "set a key in every run, after its variant: --set epochs=1 (repeatable; written into the stored "
      "definition as its \"set\"; an axis key is refused)")(
      "seeds", po::value(&o.overrides.seeds), "seeds 0..N-1 instead of the definition's")(
      "epochs", po::value(&o.overrides.epochs), "the same as --set epochs=N");
}

void read_grid_options(const po::variables_map& vm, const std::string& workers, GridOptions& o) {
  o.workers = parse_workers(workers);
  check_determinism(o.determinism);
  if (o.workers_per_device < 0 || o.workers_per_device > kMaxWorkersPerDevice)
    throw ConfigError(fmt::format("--workers-per-device {}: expected 1..{}", o.workers_per_device,
                                  kMaxWorkersPerDevice));
  if (o.workers_per_device > 0 && o.device.rfind("cuda", 0) != 0)
    throw ConfigError(fmt::format("--workers-per-device {}: only with --device cuda; on the CPU use --workers N",
                                  o.workers_per_device));
  if (o.workers_per_device > 0 && !vm["workers"].defaulted())
    throw ConfigError(fmt::format("--workers-per-device {} and --workers {}: give one of them",
                                  o.workers_per_device, workers));
  if (!(o.gib_per_worker > 0))
    throw ConfigError(fmt::format("--device-memory-per-worker {}: expected GiB above 0", o.gib_per_worker));
  for (const char* k : {"seeds", "epochs"})
    if (vm.count(k) && vm[k].as<int64_t>() < 1)
      throw ConfigError(fmt::format("--{} {}: expected 1 or more", k, vm[k].as<int64_t>()));
  o.retry_failed = vm.count("retry-failed") > 0;
  o.reuse = vm.count("no-reuse") == 0;
}

namespace {

// --backend slurm: the Slurm options, declared apart so that --help groups them.
po::options_description slurm_options(SlurmOptions& so, std::string& backend) {
  po::options_description d("cluster (docs/CLUSTER.md)");
  d.add_options()("backend", po::value(&backend)->default_value("local"),
                  "local (worker processes on this machine) or slurm (one job array of worker tasks)")(
      "shard-dir", po::value(&so.shard_dir), "slurm: the directory on the shared file system for plan, claims, "
                                             "shard databases, checkpoints and logs")(
      "tasks", po::value(&so.tasks)->default_value(0),
      "slurm: array tasks (0 = min(runs to train, the cluster's MaxArraySize - 1, 64))")(
      "max-concurrent", po::value(&so.max_concurrent)->default_value(0),
      "slurm: tasks running at once (the array's %M; 0 = no limit)")(
      "partition", po::value(&so.partition), "slurm: partition")(
      "time", po::value(&so.time), "slurm: time limit per task (HH:MM:SS, D-HH:MM:SS, minutes)")(
      "cpus-per-task", po::value(&so.cpus_per_task)->default_value(1),
      "slurm: CPUs per task, also each run's LibTorch threads")(
      "gres", po::value(&so.gres), "slurm: generic resources per task, e.g. gpu:1 (with --device cuda)")(
      "requeue", "slurm: let Slurm requeue a preempted task (it resumes its run from the checkpoint)")(
      "sbatch-arg", po::value(&so.sbatch_args)->composing(),
      "slurm: one more #SBATCH line, e.g. --sbatch-arg=--mem=8G (repeatable)");
  return d;
}

// The definition with every run validated and its schedules checked; with --dry-run, its runs
// and schedules are listed first, so that a refused trajectory is seen with the others.
ExperimentSpec load_checked(const std::string& file, const GridOptions& o, const std::string& plot_dir = "") {
  ExperimentSpec spec = load_experiment(file, o.max_runs, o.overrides);
  if (o.dry_run) run_grid(spec, o);
  if (o.dry_run && !spec.claims.empty()) {
    std::set<int64_t> seeds;
    for (auto& r : spec.runs) seeds.insert(r.config.seed);
    fmt::print("claims: the seeds each needs (docs/CLAIMS.md)\n");
    for (auto& line : claim_power_plan(spec.claims, spec.name, int64_t(seeds.size()), o.db))
      fmt::print("  {}\n", line);
  }
  if (!plot_dir.empty()) {
    if (!gnuplot_available()) throw ConfigError("--plot " + plot_dir + ": needs gnuplot (scripts/install-deps.sh)");
    const auto runs = distinct_trainings(spec);
    auto files = plot_lr_schedules(plot_dir, spec.name + "-lr", spec.name + ": learning rate", runs);
    const auto t = plot_temperature_schedules(plot_dir, spec.name + "-temperature",
                                              spec.name + ": SLB inverse temperature T (dashed: hard forward)", runs);
    files.insert(files.end(), t.begin(), t.end());
    fmt::print("schedules drawn: {}\n", join(files, ", "));
  }
  check_launch_schedules(spec, stderr);
  return spec;
}

// --settle --dry-run: the looks and each look's level.
void print_settle_plan(const ExperimentSpec& spec, int64_t max_seeds) {
  std::set<int64_t> seeds;
  for (auto& r : spec.runs) seeds.insert(r.config.seed);
  if (int64_t(seeds.size()) >= max_seeds)
    throw ConfigError(fmt::format("--max-seeds {}: must exceed the definition's {} seeds", max_seeds, seeds.size()));
  const auto plan = settle_plan(int64_t(seeds.size()), max_seeds);
  fmt::print("settle: looks at");
  for (size_t k = 0; k < plan.size(); ++k) fmt::print("{} {} seeds (level {:.4g})", k ? "," : "", plan[k], settle_level(plan, k));
  fmt::print("; O'Brien-Fleming-type spending of alpha {} over the looks\n", kClaimAlpha);
}

int grid_on_slurm(const std::string& file, const GridOptions& o, SlurmOptions so, const po::variables_map& vm,
                  const std::string& plot_dir) {
  if (so.shard_dir.empty())
    throw ConfigError("--backend slurm needs --shard-dir DIR on the shared file system (docs/CLUSTER.md)");
  if (!vm["workers"].defaulted() || !vm["threads-per-worker"].defaulted())
    throw ConfigError("--workers and --threads-per-worker are for --backend local; with slurm use --tasks and "
                      "--cpus-per-task");
  so.requeue = vm.count("requeue") > 0;
  so.device = o.device;
  so.retry_failed = o.retry_failed;
  check_slurm_options(so);
  const ExperimentSpec spec = load_checked(file, o, plot_dir);
  if (o.dry_run) return kExitSuccess;
  std::string exe = self_exe();
  exe = exe.substr(0, exe.rfind('/') + 1) + "lowbit";  // the front, as a person would type it
  submit_slurm_grid(spec, so, exe);
  return kExitSuccess;
}

}  // namespace

int cmd_grid(const std::vector<std::string>& args) {
  po::options_description desc("options");
  std::string file, workers, backend;
  GridOptions o;
  SlurmOptions so;
  desc.add_options()("file", po::value(&file)->required(), "experiment definition (JSON)")(
      "db", po::value(&o.db)->default_value(o.db), "results database (SQLite)");
  add_grid_options(desc, o, workers);
  std::string plot_dir;
  int64_t max_seeds = 0;
  desc.add_options()("dry-run", "validate and list the runs and each variant's schedules; train nothing")(
      "plot", po::value(&plot_dir), "with --dry-run: draw every variant's lr and temperature into DIR (SVG, PNG)")(
      "settle", "add seeds to the cells of undecided claims until each is decided or --max-seeds is reached "
                "(docs/CLAIMS.md)")(
      "max-seeds", po::value(&max_seeds)->default_value(0), "with --settle: the most seeds per cell");
  desc.add(slurm_options(so, backend));
  po::positional_options_description pos;
  pos.add("file", 1);
  po::variables_map vm;
  if (!parse_args("grid", args, desc, vm, &pos,
                  "FILE.json [--db results.db] [--workers N] [--dry-run]\n"
                  "       lowbit grid FILE.json --backend slurm --shard-dir DIR [--tasks K] [--time HH:MM:SS] ..."))
    return kExitSuccess;
  read_grid_options(vm, workers, o);
  o.dry_run = vm.count("dry-run") > 0;
  if (!plot_dir.empty() && !o.dry_run)
    throw ConfigError("--plot " + plot_dir + ": draws the schedules of a --dry-run; add --dry-run");
  o.exe = self_exe();
  const bool settle = vm.count("settle") > 0;
  if (settle != (max_seeds > 0))
    throw ConfigError(settle ? "--settle needs --max-seeds N, the most seeds per cell it may add up to"
                             : "--max-seeds is an option of --settle");
  if (settle && backend == "slurm")
    throw ConfigError("--settle runs its looks one after another on this machine (--backend local)");
  if (backend == "slurm") return grid_on_slurm(file, o, so, vm, plot_dir);
  if (backend != "local") throw ConfigError("--backend " + backend + ": expected local or slurm");
  for (const char* k : {"shard-dir", "partition", "time", "gres", "sbatch-arg", "requeue"})
    if (vm.count(k)) throw ConfigError(std::string("--") + k + " is an option of --backend slurm");
  if (!o.dry_run) check_device(o.device);  // a GPU the workers cannot have fails here, not per run
  o.gpus = visible_gpus();
  const ExperimentSpec spec = load_checked(file, o, plot_dir);  // every run validated before anything starts
  if (settle && o.dry_run) return print_settle_plan(spec, max_seeds), kExitSuccess;
  if (o.dry_run) return kExitSuccess;
  if (settle) {
    SettleResult r = settle_experiment(file, spec, o, max_seeds);
    if (r.interrupted) return kExitInterrupted;
    return r.undecided > 0 ? kExitFailure : kExitSuccess;
  }
  GridSummary s = run_grid(spec, o);
  if (!s.disk_full.empty()) throw DiskFullError(s.disk_full);
  if (s.interrupted) return kExitInterrupted;
  return s.failed + s.diverged + s.stopped + s.blocked > 0 ? kExitFailure : kExitSuccess;
}

}  // namespace lowbit
