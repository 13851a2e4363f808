// lowbit list: the registries (models, quantizers, schedules) and config keys.
#include <fmt/format.h>

#include "apps/cli.h"
#include "apps/commands.h"
#include "core/config/run_config.h"
#include "core/error.h"
#include "core/models/models.h"
#include "core/quant/registry.h"
#include "core/train/schedules.h"
#include "core/util.h"

namespace lowbit {

int cmd_list(const std::vector<std::string>& args) {
  po::options_description desc("options");
  std::string what;
  desc.add_options()("what", po::value(&what)->default_value("all"), "models | quantizers | schedules | keys");
  po::positional_options_description pos;
  pos.add("what", 1);
  po::variables_map vm;
  if (!parse_args("list", args, desc, vm, &pos, "[models|quantizers|schedules|keys]")) return kExitSuccess;
  const std::vector<std::string> kinds = {"all", "models", "quantizers", "schedules", "keys"};
  if (std::find(kinds.begin(), kinds.end(), what) == kinds.end())
    throw ConfigError("lowbit list: unknown list '" + what + "'" + did_you_mean(what, kinds));
  if (what == "all" || what == "models") {
    fmt::print("models:\n");
    for (const auto& m : model_registry()) fmt::print("  {:<10} {}\n", m.name, m.description);
  }
  if (what == "all" || what == "quantizers") {
    fmt::print("quantizers (quant.method):\n");
    for (const auto& q : quantizer_registry()) fmt::print("  {:<10} {}\n", q.name, q.description);
  }
  if (what == "all" || what == "schedules") {
    fmt::print("temperature schedules (quant.temperature.schedule): {}\n", join(temperature_schedules(), ", "));
    fmt::print("lr schedules (optim.schedule): constant, step, multistep, cosine\n");
  }
  if (what == "keys") {
    for (const auto& f : config_fields()) fmt::print("{:<28} {}\n", f.path, f.doc);
  }
  return kExitSuccess;
}

}  // namespace lowbit
