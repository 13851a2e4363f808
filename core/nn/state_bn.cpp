#include "core/nn/state_bn.h"

#include <torch/nn/functional.h>

#include "core/error.h"

namespace lowbit {

StateBatchNormImpl::StateBatchNormImpl(int64_t features, double momentum, double eps)
    : features_(features), momentum_(momentum), eps_(eps) {
  weight = register_parameter("weight", torch::ones({features}));
  bias = register_parameter("bias", torch::zeros({features}));
  running_mean = register_buffer("running_mean", torch::zeros({features}));
  running_var = register_buffer("running_var", torch::ones({features}));
  running_mean_q = register_buffer("running_mean_q", torch::zeros({features}));
  running_var_q = register_buffer("running_var_q", torch::ones({features}));
}

torch::Tensor StateBatchNormImpl::forward(const torch::Tensor& x) {
  if (state_ == BNState::kBatch && !is_training())  // the batch's statistics, nothing kept
    return torch::batch_norm(x, weight, bias, {}, {}, /*training=*/true, momentum_, eps_,
                             /*cudnn_enabled=*/true);
  bool q = state_ == BNState::kDiscrete;
  auto& mean = q ? running_mean_q : running_mean;
  auto& var = q ? running_var_q : running_var;
  double momentum = momentum_;
  if (cumulative_ && is_training()) momentum = 1.0 / double(++batches_);
  return torch::batch_norm(x, weight, bias, mean, var, is_training(), momentum, eps_,
                           /*cudnn_enabled=*/true);
}

void StateBatchNormImpl::reset_running_stats() {
  torch::NoGradGuard g;
  bool q = state_ == BNState::kDiscrete;
  (q ? running_mean_q : running_mean).zero_();
  (q ? running_var_q : running_var).fill_(1);
}

void StateBatchNormImpl::pretty_print(std::ostream& os) const {
  os << "StateBatchNorm(" << features_ << ", eps=" << eps_ << ", momentum=" << momentum_ << ")";
}

const char* bn_state_name(BNState s) {
  static const char* names[] = {"continuous", "discrete", "batch"};
  return names[static_cast<int>(s)];
}

BNState bn_state_from_name(const std::string& name, const std::string& source) {
  for (BNState s : {BNState::kContinuous, BNState::kDiscrete, BNState::kBatch})
    if (name == bn_state_name(s)) return s;
  throw DataError(source + ": unknown batch-norm state '" + name +
                  "' (continuous, discrete or batch; written by a newer lowbit?)");
}

void set_bn_state(torch::nn::Module& model, BNState s) {
  for (const auto& m : model.modules(/*include_self=*/true))
    if (auto bn = std::dynamic_pointer_cast<StateBatchNormImpl>(m)) bn->set_state(s);
}

}  // namespace lowbit
