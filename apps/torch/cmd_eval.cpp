// lowbit eval: test accuracy of a training checkpoint or a packed model (.lbt).
#include <torch/torch.h>

#include <fmt/format.h>

#include "apps/cli.h"
#include "apps/commands.h"
#include "core/error.h"
#include "core/quant/export.h"
#include "core/train/trainer.h"

namespace lowbit {

int cmd_eval(const std::vector<std::string>& args) {
  po::options_description desc("options");
  std::string checkpoint, model, device;
  int threads = 0;
  desc.add_options()("checkpoint", po::value(&checkpoint), "training checkpoint")(
      "model", po::value(&model), "packed model (.lbt)")(
      "threads,t", po::value(&threads)->default_value(0), "LibTorch threads (0 = all cores)")(
      "device,d", po::value(&device)->default_value("cpu"), "cpu or cuda");
  po::variables_map vm;
  if (!parse_args("eval", args, desc, vm, nullptr, "--checkpoint FILE | --model MODEL.lbt"))
    return kExitSuccess;
  if (checkpoint.empty() == model.empty())
    throw ConfigError("lowbit eval: give exactly one of --checkpoint and --model");
  torch::set_num_threads(resolve_threads(threads));
  double acc;
  if (!checkpoint.empty()) {
    CheckpointModel cm = load_checkpoint_model(checkpoint);
    acc = test_accuracy(*cm.model, cm.config, device);
  } else {
    LoadedModel lm = load_packed_model(model);
    acc = test_accuracy(*lm.model, lm.config, device);
  }
  fmt::print("test_acc {:.6f}\n", acc);
  return kExitSuccess;
}

}  // namespace lowbit
