// StateBatchNorm: 2-D batch norm with two sets of running statistics, one for the
// continuous network and one for the discrete (quantized) network, as SLB's "state batch
// norm" needs. The affine parameters are shared. Full-precision and most quantized runs
// only ever use the continuous state, which makes this an ordinary BatchNorm2d.
#pragma once
#include <torch/nn/module.h>
#include <torch/types.h>

namespace lowbit {

/// Which statistics normalise in evaluation: the continuous set, the discrete set (SLB state
/// BN), or each evaluated batch's own (the golden-stick port after its BN calibration, which
/// leaves use_batch_statistics on). Training always uses the batch's statistics and updates
/// the continuous set, or the discrete one in kDiscrete.
enum class BNState { kContinuous = 0, kDiscrete = 1, kBatch = 2 };

/// "continuous", "discrete", "batch": the names checkpoints and packed models store.
const char* bn_state_name(BNState s);
/// REQUIRES: `name` is one of bn_state_name's; throws DataError naming `source` otherwise.
BNState bn_state_from_name(const std::string& name, const std::string& source);

class StateBatchNormImpl : public torch::nn::Module {
 public:
  explicit StateBatchNormImpl(int64_t features, double momentum = 0.1, double eps = 1e-5);
  /// x: (B, C, H, W) -> same shape.
  torch::Tensor forward(const torch::Tensor& x);
  void set_state(BNState s) { state_ = s; }
  BNState state() const { return state_; }
  /// Resets the running statistics of the current state (before recalibration).
  void reset_running_stats();
  /// Uses a cumulative moving average (momentum = None in PyTorch) while recalibrating.
  void set_cumulative(bool on) {
    cumulative_ = on;
    batches_ = 0;
  }
  void pretty_print(std::ostream& os) const override;

  torch::Tensor weight, bias;
  torch::Tensor running_mean, running_var, running_mean_q, running_var_q;

 private:
  int64_t features_;
  double momentum_, eps_;
  BNState state_ = BNState::kContinuous;
  bool cumulative_ = false;
  int64_t batches_ = 0;
};

/// Sets the state of every StateBatchNorm in `model`.
void set_bn_state(torch::nn::Module& model, BNState s);

}  // namespace lowbit
