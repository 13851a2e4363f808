// lowbit list: the names tables (models, quantizers, activation quantizers, schedules,
// datasets), the config keys and the output keys.
#include <tuple>

#include <fmt/format.h>

#include "apps/cli.h"
#include "apps/commands.h"
#include "core/config/run_config.h"
#include "core/error.h"
#include "core/config/names.h"
#include "core/train/keys.h"
#include "core/util.h"

namespace lowbit {

int cmd_list(const std::vector<std::string>& args) {
  // Every list is a names table of core/config/names.h: what configs accept is what is shown.
  const std::vector<std::tuple<std::string, std::string, const std::vector<NameEntry>*>> lists = {
      {"models", "models (model)", &model_names()},
      {"quantizers", "quantizers (quant.method)", &quantizer_names()},
      {"activations", "activation quantizers (quant.act.method)", &activation_quantizer_names()},
      {"schedules", "temperature schedules (quant.temperature.schedule)",
       &temperature_schedule_names()},
      {"schedules", "learning-rate schedules (optim.schedule)", &lr_schedule_names()},
      {"datasets", "datasets (data.name)", &dataset_names()}};
  std::vector<std::string> kinds = {"all", "keys", "outputs"};
  for (auto& [kind, title, table] : lists)
    if (std::find(kinds.begin(), kinds.end(), kind) == kinds.end()) kinds.push_back(kind);
  po::options_description desc("options");
  std::string what;
  desc.add_options()("what", po::value(&what)->default_value("all"), join(kinds, " | ").c_str())(
      "docs", "with outputs: docs/OUTPUTS.md, the output keys as markdown");
  po::positional_options_description pos;
  pos.add("what", 1);
  po::variables_map vm;
  if (!parse_args("list", args, desc, vm, &pos, "[" + join(kinds, "|") + "]")) return kExitSuccess;
  if (std::find(kinds.begin(), kinds.end(), what) == kinds.end())
    throw ConfigError("lowbit list: unknown list '" + what + "'" + did_you_mean(what, kinds));
  for (auto& [kind, title, table] : lists) {
    if (what != "all" && what != kind) continue;
    fmt::print("{}:\n", title);
    for (const auto& e : *table) fmt::print("  {:<14} {}\n", e.name, e.description);
  }
  if (what == "keys")
    for (const auto& f : config_fields()) fmt::print("{:<28} {}\n", f.path, f.doc);
  if (vm.count("docs") && what != "outputs") throw ConfigError("lowbit list: --docs goes with outputs (lowbit list outputs --docs)");
  if (what == "outputs" && vm.count("docs")) fmt::print("{}", output_keys_markdown());
  if (what == "outputs" && !vm.count("docs"))
    for (const auto& k : output_keys())
      fmt::print("{:<8} {:<24} {}\n",
                 k.scope == KeyScope::kEpoch ? "epoch" : k.scope == KeyScope::kLayer ? "layer" : "run", k.name,
                 k.description);
  return kExitSuccess;
}

}  // namespace lowbit
