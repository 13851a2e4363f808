// The half of an experiment's validation that needs the models (quant.skip and per-layer
// globs), and reading a definition from its file. spec.cpp expands without torch, so that
// the fuzzer (tests/fuzz) can build it alone.
#include <fstream>
#include <set>
#include <sstream>

#include "core/config/names.h"
#include "core/error.h"
#include "core/models/models.h"
#include "core/quant/registry.h"
#include "experiments/spec.h"

namespace lowbit {

using nlohmann::json;

ModelSpec model_spec_for(const DataConfig& d) {
  DataShape s = data_shape(d);
  return {s.channels, s.height, s.width, s.classes};
}

void check_layer_settings(const RunConfig& cfg, const std::string& where) {
  try {
    auto m = make_model(cfg.model, model_spec_for(cfg.data));
    attach_quantizers(*m, cfg.quant);
  } catch (const ConfigError& e) {
    throw ConfigError(where + ": " + e.what());
  }
}

ExperimentSpec parse_experiment(const std::string& text, const std::string& source, int64_t max_runs) {
  ExperimentSpec spec = expand_experiment(text, source, max_runs);
  // Per-layer settings need the model: build each distinct (model, data shape, quant) once.
  std::set<std::string> checked;
  for (auto& r : spec.runs) {
    json cfg = to_json(r.config);
    json key = {cfg["quant"], r.config.model, cfg["data"]};
    if (!checked.insert(key.dump()).second) continue;
    check_layer_settings(r.config, source + ": variants." + r.variant);
  }
  return spec;
}

ExperimentSpec load_experiment(const std::string& path, int64_t max_runs, const DefinitionOverrides& overrides) {
  std::ifstream in(path);
  if (!in) throw ConfigError(path + ": cannot open experiment file (check the path)");
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_experiment(apply_overrides(ss.str(), path, overrides), path, max_runs);
}

}  // namespace lowbit
