// The report registry and what its builders share: the lazily loaded series, row groups,
// the main metric, and small helpers.
#include <algorithm>

#include <fmt/format.h>

#include "core/error.h"
#include "core/util.h"
#include "reports/report_registry.h"
#include "core/train/keys.h"

namespace lowbit {

const std::vector<ReportTable>& report_tables() {
  static const std::vector<ReportTable> tables = {
      {"main", "the metric (--metric) per row, mean over seeds", main_table},
      {"cost", "memory, size and time per run", cost_table},
      {"layers", "per-layer statistics: weight layers and activation layers", layer_tables},
      {"energy", "energy per inference and per layer (docs/ENERGY.md)", energy_tables},
  };
  return tables;
}

const LayerSeries& ReportContext::layers() {
  if (!layers_)
    layers_ = load_layer_series(db, e,
                                {key::kSparsity, key::kWp, key::kWn, key::kAlpha, key::kActSparsity,
                                 key::kInSparsity, key::kGradNorm, key::kGradNormLogits, key::kMacs,
                                 key::kWeights, key::kWeightBits, key::kWeightLevels, key::kFirst,
                                 key::kTemperature, key::kInBits, key::kFlipRate, key::kFlipRateStep,
                                 key::kSoftHardGap});
  return *layers_;
}

const RunSeries& ReportContext::act_mean() {
  if (!act_mean_) act_mean_ = load_metric_series(db, e, key::kActSparsityMean);
  return *act_mean_;
}

std::vector<std::pair<std::string, std::vector<int64_t>>> ReportContext::groups() const {
  std::vector<std::pair<std::string, std::vector<int64_t>>> out;
  for (auto& r : e.runs) {
    if (r.status != RunStatus::kDone) continue;
    std::vector<std::string> values;
    for (auto& k : rows) values.push_back(key_value(r, k));
    const std::string label = group_label(rows, values);
    auto it = std::find_if(out.begin(), out.end(), [&](auto& g) { return g.first == label; });
    if (it == out.end())
      out.push_back({label, {r.id}});
    else
      it->second.push_back(r.id);
  }
  return out;
}

std::string group_label(const std::vector<std::string>& keys,
                        const std::vector<std::string>& values) {
  std::vector<std::string> parts;
  for (size_t i = 0; i < keys.size(); ++i)
    if (!values[i].empty())
      parts.push_back(keys[i] == "variant" ? values[i] : keys[i] + "=" + values[i]);
  return join(parts, " ");
}

bool lower_is_better(const std::string& key) {
  if (const OutputKey* k = find_metric_key(key)) return k->better == Better::kLower;
  for (const char* w : {"loss", "bytes", "seconds", "energy", "rss"})  // a key of no table: by its name
    if (key.find(w) != std::string::npos) return true;
  return false;
}

std::optional<double> layer_last(const LayerSeries& layers, int64_t run, const std::string& layer,
                                 const std::string& key) {
  auto r = layers.find(run);
  if (r == layers.end()) return std::nullopt;
  auto l = r->second.find(layer);
  if (l == r->second.end()) return std::nullopt;
  return layer_last(l->second, key);
}

std::optional<double> layer_last(const LayerSeries::mapped_type::mapped_type& stats,
                                 const std::string& key) {
  auto k = stats.find(key);
  if (k == stats.end() || k->second.empty()) return std::nullopt;
  return k->second.back().second;
}

ExperimentData expand_by_layer(const ExperimentData& e, const LayerSeries& layers,
                               bool activations) {
  // Activation positions record only act_sparsity; conv/linear layers record the rest.
  std::vector<std::string> names;
  for (auto& r : e.runs)
    if (auto it = layers.find(r.id); it != layers.end())
      for (auto& [name, keys] : it->second)
        if ((keys.count(key::kActSparsity) > 0) == activations &&
            std::find(names.begin(), names.end(), name) == names.end())
          names.push_back(name);
  ExperimentData out = e;
  out.runs.clear();
  for (auto& name : names)
    for (auto& r : e.runs) {
      RunData copy = r;
      copy.row_keys["layer"] = name;
      out.runs.push_back(copy);
    }
  return out;
}

void drop_empty_rows(AggTable& t) {
  for (size_t i = t.rows.size(); i-- > 0;)
    if (std::none_of(t.cells[i].begin(), t.cells[i].end(), [](const Cell& c) { return c.s.n > 0; }))
      t.rows.erase(t.rows.begin() + long(i)), t.cells.erase(t.cells.begin() + long(i));
}

std::function<std::optional<double>(const RunData&)> summary_value(const std::string& key) {
  return [key](const RunData& r) -> std::optional<double> {
    auto it = r.summary.find(key);
    return it == r.summary.end() ? std::nullopt : std::optional<double>(it->second);
  };
}

}  // namespace lowbit
