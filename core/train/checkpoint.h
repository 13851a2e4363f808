// The training checkpoint: one file per run directory (checkpoint.pt), a LibTorch archive
// with the model, the optimizer, where training stands, the config (hash and JSON), the
// data shape, the batch-norm state used for evaluation and the CPU generator state. This
// file owns the format: writing, resuming, loading a trained model for export or
// evaluation, and init.from_checkpoint. Writes are atomic (temporary file, then rename).
#pragma once
#include <map>
#include <memory>
#include <optional>
#include <string>

#include <torch/optim/optimizer.h>

#include "core/config/run_config.h"
#include "core/models/models.h"
#include "core/nn/state_bn.h"

namespace lowbit {

/// Path of the checkpoint inside a run directory.
std::string checkpoint_path(const std::string& dir);

/// Where training stands after a checkpointed epoch (0-based epoch), with what the run's
/// summary needs so that a run resumed after its last epoch can still be summarised.
struct TrainingState {
  int64_t epoch = -1;
  double best_acc = -1;
  int64_t best_epoch = -1;
  std::map<std::string, double> last_metrics;  ///< the last finished epoch's metrics
  double epoch_seconds = 0, bn_seconds = 0;    ///< totals over every epoch trained so far
  int64_t epochs_timed = 0;                    ///< epochs behind those totals
};

/// Writes `path` atomically. `bn_state`: the batch-norm statistics evaluation uses (the
/// discrete ones of SLB state BN, or the batch's own after the port's calibration). Throws
/// Error when the file cannot be written.
void write_checkpoint(const std::string& path, Network& model, torch::optim::Optimizer& optimizer,
                      const RunConfig& cfg, const ModelSpec& spec, BNState bn_state,
                      const TrainingState& state);

/// Restores model, optimizer and the CPU generator from `path`; nullopt when the file does
/// not exist. Throws DataError for a corrupt file, ConfigError for another config's file.
std::optional<TrainingState> resume_checkpoint(const std::string& path, const RunConfig& cfg,
                                               Network& model, torch::optim::Optimizer& optimizer);

/// init.from_checkpoint: copies every parameter and buffer of the checkpoint at `path` whose
/// name and shape match into `model`. Throws ConfigError when nothing matches.
void load_init_checkpoint(Network& model, const std::string& path);

/// A network rebuilt from a training checkpoint, weights loaded, batch-norm state set as
/// the trainer evaluates it.
struct CheckpointModel {
  RunConfig config;
  ModelSpec spec;
  std::shared_ptr<Network> model;
  BNState bn_state = BNState::kContinuous;
};
CheckpointModel load_checkpoint_model(const std::string& path);

}  // namespace lowbit
