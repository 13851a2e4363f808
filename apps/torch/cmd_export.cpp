// lowbit export: a training checkpoint -> packed model (.lbt).
#include <torch/torch.h>

#include <fmt/format.h>

#include "apps/cli.h"
#include "apps/commands.h"
#include "core/error.h"
#include "core/quant/export.h"
#include "core/train/trainer.h"

namespace lowbit {

int cmd_export(const std::vector<std::string>& args) {
  po::options_description desc("options");
  std::string checkpoint, out;
  desc.add_options()("checkpoint", po::value(&checkpoint)->required(),
                     "training checkpoint (DIR/checkpoint.pt)")(
      "out,o", po::value(&out)->required(), "packed model file to write (MODEL.lbt)");
  po::variables_map vm;
  if (!parse_args("export", args, desc, vm, nullptr, "--checkpoint FILE --out MODEL.lbt"))
    return kExitSuccess;
  torch::set_num_threads(resolve_threads(0));
  CheckpointModel cm = load_checkpoint_model(checkpoint);
  ExportStats st = export_model(*cm.model, cm.config, cm.spec, cm.bn_state, out);
  fmt::print("wrote {}: {} quantized layers ({} weights) packed\n", out, st.packed_layers,
             st.packed_weights);
  fmt::print("full-precision bytes {}  packed bytes {}  ratio {:.2f}x\n", st.float_bytes,
             st.packed_bytes, double(st.float_bytes) / double(st.packed_bytes));
  return kExitSuccess;
}

}  // namespace lowbit
