// lowbit train: one run from a JSON config, metrics as JSON lines under --out.
#include <unistd.h>

#include "core/file_io.h"

#include <torch/torch.h>

#include <fmt/format.h>

#include "apps/cli.h"
#include "apps/commands.h"
#include "core/config/run_config.h"
#include "core/error.h"
#include "core/nn/torch_compat.h"
#include "core/schedule/trajectory.h"
#include "core/train/trainer.h"
#include "core/util.h"
#include "experiments/spec.h"
#include "experiments/console_observer.h"
#include "tracker/jsonl_observer.h"
#include "core/train/keys.h"

namespace lowbit {

namespace {
// Checks quant.skip and the per-layer globs against the model; an error names the --set
// that gave the key when one did, else the config file.
void check_layers(const RunConfig& cfg, const std::string& file, const std::vector<std::string>& sets) {
  try {
    check_layer_settings(cfg, file);
  } catch (const ConfigError& e) {
    const std::string body = std::string(e.what()).substr(file.size() + 2);
    for (auto s = sets.rbegin(); s != sets.rend(); ++s)
      if (body.rfind(s->substr(0, s->find('=')), 0) == 0)
        throw ConfigError("--set " + truncate_for_message(*s) + ": " + body);
    throw;
  }
}
// A schedule that is a waste to run (core/schedule/trajectory.h) is refused; a likely slip
// is said on stderr.
void check_trajectory(const RunConfig& cfg, const std::string& file) {
  const ScheduleProblems p = check_schedules(cfg);
  if (!p.errors.empty()) throw ConfigError(file + ": " + p.errors.front());
  for (const auto& w : p.warnings) fmt::print(stderr, "warning: {}: {}\n", file, w);
}
// A folder that already holds a run is continued with --resume, never overwritten silently.
void refuse_to_overwrite(const std::string& out, bool resume) {
  if (resume) return;
  for (const char* f : {"metrics.jsonl", "checkpoint.pt", "config.json"})
    if (::access((out + "/" + f).c_str(), F_OK) == 0)
      throw ConfigError("--out " + out + " already holds a run (" + f +
                        "): pass --resume to continue it (a finished run prints its results), or choose another --out");
}
}  // namespace

int cmd_train(const std::vector<std::string>& args) {
  po::options_description desc("options");
  std::string config, out, device, determinism;
  std::vector<std::string> sets;
  int threads = 0;
  desc.add_options()("config,c", po::value(&config)->required(), "experiment run config (JSON)")(
      "set,s", po::value(&sets)->composing(), "override a key: --set optim.lr=0.05 (repeatable)")(
      "out,o", po::value(&out), "output directory (default results/runs/<name>-<hash>)")(
      "threads,t", po::value(&threads)->default_value(0), "LibTorch threads (0 = all cores)")(
      "device,d", po::value(&device)->default_value("cpu"), "cpu or cuda")(
      "determinism", po::value(&determinism)->default_value("strict"),
      "strict (cuDNN's deterministic algorithms) or fast (cuDNN benchmarks)")(
      "resume", "continue from the checkpoint in --out when one exists");
  po::variables_map vm;
  if (!parse_args("train", args, desc, vm, nullptr,
                  "--config FILE.json [--set key=value ...] [--out DIR]"))
    return kExitSuccess;
  check_device(device);
  const std::string determinism_set = set_determinism(determinism, device);

  RunConfig cfg = load_run_config(config, sets);
  if (!cfg.init_from_run.empty())
    throw ConfigError(config + ": init.from_run '" + cfg.init_from_run +
                      "': names a variant of an experiment definition (lowbit grid); for one run, use "
                      "init.from_checkpoint=<path to the run's checkpoint.pt>");
  check_layers(cfg, config, sets);
  check_trajectory(cfg, config);
  const std::string hash = config_hash(cfg);
  if (out.empty()) out = "results/runs/" + cfg.name + "-" + hash;
  const int n_threads = resolve_threads(threads);
  torch::set_num_threads(n_threads);

  const bool resume = vm.count("resume") > 0;
  refuse_to_overwrite(out, resume);
  const bool created = !is_dir(out);
  JsonlObserver files(out);
  ConsoleObserver console(stderr);
  MultiObserver obs({&console, &files});
  TrainOptions opt;
  opt.device = device;
  opt.checkpoint_dir = out;
  opt.resume = resume;
  TrainResult r;
  try {
    r = train_run(cfg, opt, obs);
  } catch (...) {
    // A run that failed before recording an epoch leaves no folder behind (one it created).
    auto empty = [&](const char* f) { return file_size_or_minus1(out + "/" + f) <= 0; };  // missing or empty
    if (created && empty("metrics.jsonl") && empty("layer_stats.jsonl")) remove_tree(out);
    throw;
  }
  if (r.status == RunStatus::kDiverged)
    throw Error("run diverged: " + r.error + "; metrics so far are in " + out);
  if (r.status == RunStatus::kStopped)
    throw Error("run stopped by " + r.error + "; metrics so far are in " + out);

  if (r.already_finished)
    fmt::print("lowbit: {} already finished all {} epochs; its results:\n", out, cfg.epochs);
  auto& s = r.summary;
  // With a validation split the best epoch is chosen on it, and that is what is printed.
  const bool val = s.count(key::kBestValAcc) > 0;
  fmt::print(
      "final_test_acc {:.4f}  {} {:.4f}  mean_epoch_seconds {:.1f}  peak_rss_mb {:.0f}  "
      "threads {}\n",
      s[key::kFinalTestAcc], val ? key::kBestValAcc : key::kBestTestAcc, val ? s[key::kBestValAcc] : s[key::kBestTestAcc],
      s[key::kMeanEpochSeconds], s[key::kPeakRssBytes] / 1048576.0, n_threads);
  if (device != "cpu") fmt::print("determinism {}\n", determinism_set);
  fmt::print("results in {}\n", out);
  return kExitSuccess;
}

}  // namespace lowbit
