// The main table: the metric (--metric KEY[:final|best|last-K-mean]) per row, mean over
// seeds, optionally split into columns by config keys (--cols).
#include <algorithm>
#include <map>

#include <fmt/format.h>

#include "core/error.h"
#include "core/util.h"
#include "reports/report_registry.h"
#include "core/train/keys.h"

namespace lowbit {

namespace {

// "test_acc:final", "test_acc:best", "test_acc:last-3-mean"; summary keys take no mode.
struct MetricSpec {
  std::string key, mode = "final";
  int k = 1;
  std::string label() const {
    if (mode == "final") return key + " (final)";
    if (mode == "best") return key + " (best epoch)";
    return fmt::format("{} (mean of last {} epochs)", key, k);
  }
};

MetricSpec parse_metric(const std::string& s) {
  MetricSpec m;
  auto colon = s.find(':');
  m.key = s.substr(0, colon);
  if (colon == std::string::npos) return m;
  std::string mode = s.substr(colon + 1);
  if (mode == "final" || mode == "best") {
    m.mode = mode;
  } else if (mode.rfind("last-", 0) == 0 && mode.size() > 10 &&
             mode.substr(mode.size() - 5) == "-mean") {
    m.mode = "last-k-mean";
    try {
      m.k = std::stoi(mode.substr(5, mode.size() - 10));
    } catch (...) {
      m.k = 0;
    }
    if (m.k < 1)
      throw ConfigError("--metric " + s +
                        ": expected last-K-mean with K >= 1 (e.g. test_acc:last-3-mean)");
  } else {
    throw ConfigError("--metric " + s + ": unknown mode '" + mode +
                      "' (final, best or last-K-mean)");
  }
  return m;
}

std::optional<double> series_value(const std::vector<std::pair<int64_t, double>>& s,
                                   const MetricSpec& m) {
  if (s.empty()) return std::nullopt;
  if (m.mode == "final") return s.back().second;
  if (m.mode == "best") {
    double b = s[0].second;
    for (auto& [e, v] : s) b = lower_is_better(m.key) ? std::min(b, v) : std::max(b, v);
    return b;
  }
  size_t k = std::min(s.size(), size_t(m.k));
  double sum = 0;
  for (size_t i = s.size() - k; i < s.size(); ++i) sum += s[i].second;
  return sum / double(k);
}

// The value at the epoch where `selector` is best (the validation split), if recorded.
std::optional<double> at_best_epoch(const std::vector<std::pair<int64_t, double>>& series,
                                    const std::vector<std::pair<int64_t, double>>& selector,
                                    bool lower_better) {
  auto best = selector.front();
  for (auto& ev : selector)
    if (lower_better ? ev.second < best.second : ev.second > best.second) best = ev;
  for (auto& [epoch, v] : series)
    if (epoch == best.first) return v;
  return std::nullopt;
}

// One run's layer statistic `key` per epoch, averaged over the layers that report it, each
// weighted by its weight count (its last recorded `weights`): the network-level value.
std::map<int64_t, double> weighted_over_layers(const LayerSeries::mapped_type& layers, const char* key) {
  std::map<int64_t, std::pair<double, double>> acc;  // epoch -> (sum of value * weights, weights)
  for (auto& [layer, stats] : layers) {
    auto v = stats.find(key);
    auto w = layer_last(stats, key::kWeights);
    if (v == stats.end() || !w) continue;
    for (auto& [epoch, value] : v->second) acc[epoch].first += value * *w, acc[epoch].second += *w;
  }
  std::map<int64_t, double> out;
  for (auto& [epoch, sums] : acc)
    if (sums.second > 0) out[epoch] = sums.first / sums.second;
  return out;
}

// The weight sparsity of the whole network's quantized layers: zero weights over weights,
// summed over every layer that reports a sparsity (each layer's last-epoch fraction times
// its weight count). A column only where some run has zero weights (TTQ, TWN, a grid with
// zero), so that binary-only experiments keep their table as it was.
std::optional<ColumnSpec> network_weight_sparsity(ReportContext& c) {
  std::map<int64_t, double> value;
  bool any_zero = false;
  for (auto& [run, layers] : c.layers()) {
    const auto series = weighted_over_layers(layers, key::kSparsity);
    if (series.empty()) continue;
    value[run] = series.rbegin()->second;  // the last epoch
    any_zero = any_zero || value[run] > 0;
  }
  if (!any_zero) return std::nullopt;
  ColumnSpec col{"weight sparsity, quantized layers",
                 [value = std::move(value)](const RunData& r) -> std::optional<double> {
                   auto it = value.find(r.id);
                   return it == value.end() ? std::nullopt : std::optional<double>(it->second);
                 },
                 {}, /*percent=*/true, /*lower_better=*/false};
  col.mark_best = false;
  return col;
}

// A derived network-level metric per run and epoch: the layer statistic `layer_key` averaged
// over the layers that report it, each weighted by its weight count.
RunSeries network_series(Db& db, ExperimentData& e, const std::string& metric, const char* layer_key) {
  RunSeries out;
  for (auto& [run, layers] : load_layer_series(db, e, {layer_key, key::kWeights}))
    for (auto& [epoch, v] : weighted_over_layers(layers, layer_key)) out[run].emplace_back(epoch, v);
  if (out.empty())
    throw ConfigError("--metric: " + metric + " averages the layer statistic " + layer_key + ", which no run of " +
                      e.name + " recorded (docs/OUTPUTS.md)");
  return out;
}

}  // namespace

ReportMetric resolve_metric(Db& db, ExperimentData& e, const std::string& spec_text) {
  MetricSpec metric = parse_metric(spec_text);
  if (const char* layer_key = derived_layer_key(metric.key)) {
    ReportMetric m;
    m.key = metric.key;
    m.percent = true;  // a fraction
    m.lower_better = false;
    auto series = std::make_shared<RunSeries>(network_series(db, e, metric.key, layer_key));
    m.value = [series, metric](const RunData& r) -> std::optional<double> {
      auto it = series->find(r.id);
      return it == series->end() ? std::nullopt : series_value(it->second, metric);
    };
    m.label = metric.label();
    return m;
  }
  // Existence checks stop at the first row; the full key lists (every metric row of the
  // experiment) are read only for the error message.
  const bool is_metric = has_metric_key(db, e, metric.key);
  const bool is_summary = !is_metric && has_summary_key(db, e, metric.key);
  if (!is_metric && !is_summary) {
    auto mkeys = metric_keys(db, e), skeys = summary_keys(db, e);
    std::vector<std::string> valid = mkeys;
    valid.insert(valid.end(), skeys.begin(), skeys.end());
    throw ConfigError("--metric: no metric '" + metric.key + "' in " + e.name +
                      did_you_mean(metric.key, valid) + " (per-epoch: " + join(mkeys, ", ") +
                      "; per-run: " + join(skeys, ", ") + ")");
  }
  ReportMetric m;
  m.key = metric.key;
  m.percent = metric.key.size() > 4 && metric.key.substr(metric.key.size() - 4) == "_acc";
  m.lower_better = lower_is_better(metric.key);
  if (!is_metric) {
    m.value = summary_value(metric.key);
    m.label = metric.key;
    if (metric.key.rfind("best_test_", 0) == 0)
      m.label += " (selected on the test set: optimistic)";
    return m;
  }
  auto series = std::make_shared<RunSeries>(load_metric_series(db, e, metric.key));
  // A best epoch of a test metric is chosen on the validation split where the run has one
  // (test_acc at the epoch of the best val_acc); chosen on the test set it is optimistic,
  // and the label says so.
  const bool select_on_val = metric.mode == "best" && metric.key.rfind("test_", 0) == 0;
  auto selector = std::make_shared<RunSeries>(
      select_on_val ? load_metric_series(db, e, "val_" + metric.key.substr(5)) : RunSeries{});
  const bool lower = m.lower_better;
  m.value = [series, selector, metric, select_on_val,
             lower](const RunData& r) -> std::optional<double> {
    auto it = series->find(r.id);
    if (it == series->end()) return std::nullopt;
    auto sel = selector->find(r.id);
    if (select_on_val && sel != selector->end() && !sel->second.empty())
      return at_best_epoch(it->second, sel->second, lower);
    return series_value(it->second, metric);
  };
  m.label = metric.label();
  if (select_on_val) {
    bool on_test = std::any_of(e.runs.begin(), e.runs.end(), [&](const RunData& r) {
      auto sel = selector->find(r.id);
      return series->count(r.id) && (sel == selector->end() || sel->second.empty());
    });
    m.label = on_test ? metric.key + " (best epoch, selected on the test set: optimistic)"
                      : metric.key + " (at the epoch of the best val_" + metric.key.substr(5) + ")";
  }
  return m;
}

std::vector<AggTable> main_table(ReportContext& c) {
  const ReportMetric& m = c.metric;
  std::vector<ColumnSpec> cols;
  if (c.opt.cols.empty()) {
    cols.push_back({m.key, m.value, {}, m.percent, m.lower_better});
  } else {
    // One column per distinct combination of the --cols keys, in order of appearance.
    std::vector<std::vector<std::string>> seen;
    for (auto& r : c.e.runs) {
      std::vector<std::string> v;
      for (auto& k : c.opt.cols) v.push_back(key_value(r, k));
      if (std::find(seen.begin(), seen.end(), v) != seen.end()) continue;
      seen.push_back(v);
      auto keys = c.opt.cols;
      cols.push_back({group_label(keys, v), m.value,
                      [keys, v](const RunData& run) {
                        for (size_t i = 0; i < keys.size(); ++i)
                          if (key_value(run, keys[i]) != v[i]) return false;
                        return true;
                      },
                      m.percent, m.lower_better});
    }
  }
  // Runs that start from another (init.from_run): the parent's value beside the child's.
  if (std::any_of(c.e.runs.begin(), c.e.runs.end(), [](const RunData& r) { return r.parent_id != 0; })) {
    const ExperimentData& e = c.e;
    ColumnSpec parent{m.key + " of the run it starts from",
                      [&e, m](const RunData& r) -> std::optional<double> {
                        for (auto& p : e.runs)
                          if (p.id == r.parent_id && p.status == RunStatus::kDone) return m.value(p);
                        return std::nullopt;
                      },
                      [](const RunData& r) { return r.parent_id != 0; }, m.percent, m.lower_better};
    parent.mark_best = false;
    cols.push_back(parent);
  }
  // --metric naming seconds or memory: its columns are shown, never tested.
  const OutputKey* k = find_metric_key(m.key);
  for (auto& col : cols) col.machine_dependent = k && k->machine_dependent;
  if (auto sparsity = network_weight_sparsity(c)) cols.push_back(*sparsity);
  return {aggregate("main", c.e.name + ": " + m.label + (m.percent ? ", %" : ""), c.e, c.rows, cols,
                    c.topt)};
}

}  // namespace lowbit
