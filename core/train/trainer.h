// The training loop: one RunConfig in, events out. It builds data and model, attaches the
// quantizers, trains with the configured optimizer and schedules, evaluates each epoch,
// collects per-layer statistics, checkpoints (core/train/checkpoint.h owns the format),
// resumes, and reports divergence. It never writes results itself: observers do (console,
// JSON lines, SQLite). It never names a quantizer: what a method needs (a soft training
// forward, batch-norm handling, its own weight update) reaches it through WeightQuantizer.
#pragma once
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <torch/optim/optimizer.h>

#include "core/config/run_config.h"
#include "core/models/models.h"
#include "core/nn/qlayers.h"
#include "core/train/checkpoint.h"
#include "core/train/observer.h"

namespace lowbit {

struct TrainOptions {
  std::string device = "cpu";    ///< "cpu" or "cuda" (or "cuda:N")
  std::string checkpoint_dir;    ///< where checkpoint.pt is written; "" = none
  bool resume = false;           ///< continue from checkpoint_dir/checkpoint.pt when it exists
  int64_t stop_after_epoch = 0;  ///< testing aid: stop (as if killed) after this many epochs
};

struct TrainResult {
  RunStatus status = RunStatus::kDone;  ///< done, diverged, or stopped (a health rule, or
                                        ///< stop_after_epoch)
  std::string error;
  std::map<std::string, double> summary;
  /// Resumed from a checkpoint after the last epoch: nothing was trained, the summary was
  /// rebuilt from the checkpoint.
  bool already_finished = false;
};

/// Parameters that share one weight-decay rule. Groups: "weights" (conv/linear weights:
/// optim.weight_decay), "bn_and_bias" (batch-norm affine parameters and biases: only with
/// optim.bn_weight_decay), "scales" (TTQ Wp/Wn, SLB learned scale, PACT clip: only with
/// quant.scale_weight_decay), "quantizer" (the quantizer's other parameters, SLB logits:
/// never decayed).
struct ParamGroup {
  std::string name;
  std::vector<torch::Tensor> params;
  double weight_decay = 0;
};

/// The optimizer's parameter groups for `model`. Latent weights that a quantizer does not
/// use (SLB) are frozen (requires_grad false) and in no group; weights that a quantizer
/// updates itself (Bop) are in no group.
std::vector<ParamGroup> parameter_groups(Network& model, const RunConfig& cfg);

/// SGD or Adam over `groups`, each with its own weight decay.
std::unique_ptr<torch::optim::Optimizer> make_optimizer(const std::vector<ParamGroup>& groups,
                                                        const OptimConfig& o);

/// bn_mode = state, after each training step (every quant.state_bn_every): one discrete
/// (one-hot) forward of the batch without gradient, in training mode, so that the discrete
/// statistics take the usual momentum update from the hard-weight activations. The continuous
/// statistics and the weights are untouched. `qlayers`: the quantized layers.
void discrete_bn_pass(Network& model, const std::vector<LayerRef>& qlayers, const torch::Tensor& x);

/// The --device of train, grid and suite: cpu, cuda or cuda:N, usable here. Throws ConfigError in
/// one line, before anything starts, for another name or for cuda where this LibTorch has no
/// CUDA or no GPU is visible.
void check_device(const std::string& device);

/// flip_rate: the fraction of w's discrete levels (the quantizer's packed codes) that differ
/// from `last`, which then holds this epoch's codes; nullopt at the first call (last empty)
/// or for a quantizer that cannot pack.
std::optional<double> flip_rate(WeightQuantizer& q, const torch::Tensor& w, std::vector<uint8_t>& last);

/// bn_mode calibrate_port: the calibration pass after 0-based epoch e shuffles and augments the
/// training set as BatchLoader does with seed mix_seed(seed, kPortCalibrationStream, e).
inline constexpr uint64_t kPortCalibrationStream = 0xCA11B2A7E;
/// bn_mode calibrate_port: whether the port calibrates after 1-based epoch `epoch`:
/// epoch > int(epochs * quant.temperature.start), as its BNCalibrationCallback.
bool port_calibrates(const RunConfig& cfg, int64_t epoch);

/// Calibration batches for bn_mode calibrate_*: min(quant.bn_calib_batches, full batches).
int64_t calibration_batches(const RunConfig& cfg, int64_t train_size);

/// Runs one training run. Throws ConfigError/DataError on bad input (before training
/// starts), Interrupted when interrupt_count() becomes non-zero (after on_run_end).
/// A NaN/Inf loss ends the run with status "diverged", naming the epoch and batch.
TrainResult train_run(const RunConfig& cfg, const TrainOptions& opt, Observer& obs);

/// make_model + init.from_checkpoint (when load_init) + attach_quantizers, seeded by cfg.seed.
std::shared_ptr<Network> build_network(const RunConfig& cfg, const ModelSpec& spec,
                                       bool load_init = true);

/// Test-set accuracy of `model` on the data `cfg` names.
double test_accuracy(Network& model, const RunConfig& cfg, const std::string& device = "cpu");

/// Peak resident set size of this process in bytes.
int64_t peak_rss_bytes();

}  // namespace lowbit
