// The report's curves, one function each, registered in report_plots(): per-epoch metrics and
// per-layer statistics as mean ± std bands over seeds per row group, and the Pareto plot.
#include <algorithm>
#include <map>

#include "reports/plots.h"
#include "reports/schedule_plots.h"
#include "reports/report_registry.h"
#include "reports/stats.h"
#include "core/error.h"
#include "core/train/keys.h"

namespace lowbit {

namespace {

// Mean and std over runs of per-epoch series, epoch by epoch, times `scale` (100: a fraction
// shown as a percentage, as the tables show it).
Series band(const std::string& label, const std::vector<std::vector<std::pair<int64_t, double>>>& runs,
            double scale = 1) {
  std::map<int64_t, std::vector<double>> by_epoch;
  for (auto& r : runs)
    for (auto& [e, v] : r) by_epoch[e].push_back(v);
  Series s;
  s.label = label;
  for (auto& [e, vs] : by_epoch) {
    auto sm = summarize(vs);
    s.x.push_back(double(e));
    s.mean.push_back(sm.mean * scale);
    s.std.push_back(sm.std * scale);
  }
  return s;
}

// Records the files of a plot (SVG, then PNG, as plot_lines writes them) for the reports.
void add(ReportContext& c, const std::vector<std::string>& files, const std::string& caption,
         bool per_layer = false) {
  for (auto& f : files) c.result.files.push_back(f);
  PlotRef p{caption, "", "", per_layer};
  for (auto& f : files)
    (f.size() > 4 && f.compare(f.size() - 4, 4, ".png") == 0 ? p.png : p.svg) = f;
  if (!p.png.empty()) p.png = p.png.substr(p.png.rfind('/') + 1);
  if (!p.png.empty() || !p.svg.empty()) c.plots.push_back(p);
}

// A fraction is drawn as a percentage, as the tables show it: the scale and the axis label.
std::pair<double, std::string> unit_of(const std::vector<std::string>& keys, KeyScope scope, const std::string& ylabel) {
  for (const auto& k : keys) {
    const OutputKey* o = find_output_key(k, scope);
    if (!o || !o->percent()) return {1.0, ylabel};
  }
  return {100.0, ylabel + " (%)"};
}

// A per-epoch metric: one band per row group, each group in its colour of the whole report.
void metric_plot(ReportContext& c, const std::string& key, const std::string& name,
                 const std::string& title, const std::string& ylabel) {
  RunSeries s = load_metric_series(c.db, c.e, key);
  const auto [scale, axis] = unit_of({key}, KeyScope::kEpoch, ylabel);
  std::vector<Series> series;
  int group = 0;
  for (auto& [label, ids] : c.groups()) {
    std::vector<std::vector<std::pair<int64_t, double>>> runs;
    for (auto id : ids)
      if (auto it = s.find(id); it != s.end()) runs.push_back(it->second);
    if (!runs.empty()) series.push_back(band(label, runs, scale)), series.back().color = group;
    ++group;
  }
  add(c, plot_lines(c.out_dir, name, title, "epoch", axis, series), title);
}

// Per-layer statistics: one band per row group and layer (and key, when several).
void layer_plot(ReportContext& c, const std::vector<std::string>& keys, const std::string& name,
                const std::string& title, const std::string& ylabel, bool logy) {
  const LayerSeries& layers = c.layers();
  const auto [scale, axis] = unit_of(keys, KeyScope::kLayer, ylabel);
  std::vector<Series> series;
  for (auto& [label, ids] : c.groups()) {
    std::map<std::string, std::vector<std::vector<std::pair<int64_t, double>>>> per;
    for (auto id : ids)
      if (auto it = layers.find(id); it != layers.end())
        for (auto& [layer, kv] : it->second)
          for (auto& k : keys)
            if (kv.count(k)) per[layer + (keys.size() > 1 ? " " + k : "")].push_back(kv.at(k));
    for (auto& [lk, runs] : per) series.push_back(band(label + " " + lk, runs, scale));
  }
  add(c, plot_lines(c.out_dir, name, title, "epoch", axis, series, logy), title, true);
}

// Accuracy (the main metric) against packed model size, 95% CI over seeds.
void pareto_plot(ReportContext& c) {
  std::vector<Point> pts;
  int group = -1;
  for (auto& [label, ids] : c.groups()) {
    ++group;
    std::vector<double> acc, size;
    for (auto& r : c.e.runs) {
      if (std::find(ids.begin(), ids.end(), r.id) == ids.end()) continue;
      if (auto a = c.metric.value(r)) acc.push_back(*a * (c.metric.percent ? 100 : 1));
      if (r.summary.count(key::kPackedModelBytes)) size.push_back(r.summary.at(key::kPackedModelBytes));
    }
    if (acc.empty() || size.empty()) continue;
    auto sa = summarize(acc);
    pts.push_back({label, summarize(size).mean, sa.mean, sa.n > 1 ? ci_half_width(sa, 0.95) : 0, group});
  }
  add(c,
      plot_points(c.out_dir, "pareto", "Accuracy vs model size (95% CI over seeds)",
                  "packed model size (bytes)", c.metric.key + (c.metric.percent ? " (%)" : ""),
                  pts),
      "Pareto: accuracy vs size");
}

// The main metric at the end of training against the epoch budget (an axis "epochs"): one
// line per row group without the budget, mean ± std over seeds per budget.
void budget_plot(ReportContext& c) {
  if (std::find(c.e.axis_keys.begin(), c.e.axis_keys.end(), "epochs") == c.e.axis_keys.end()) return;
  std::vector<std::string> keys;
  for (auto& k : c.rows)
    if (k != "epochs") keys.push_back(k);
  std::vector<std::string> order;
  std::map<std::string, std::map<int64_t, std::vector<double>>> by_group;
  for (auto& r : c.e.runs) {
    if (r.status != RunStatus::kDone) continue;
    auto v = c.metric.value(r);
    if (!v) continue;
    std::vector<std::string> values;
    for (auto& k : keys) values.push_back(key_value(r, k));
    const std::string label = group_label(keys, values);
    if (!by_group.count(label)) order.push_back(label);
    by_group[label][std::stoll(key_value(r, "epochs"))].push_back(*v * (c.metric.percent ? 100 : 1));
  }
  std::vector<Series> series;
  for (auto& label : order) {
    Series s;
    s.label = label;
    for (auto& [epochs, vs] : by_group[label]) {
      auto sm = summarize(vs);
      s.x.push_back(double(epochs)), s.mean.push_back(sm.mean), s.std.push_back(sm.n > 1 ? sm.std : 0);
    }
    series.push_back(s);
  }
  const std::string title = c.metric.label + " against the epoch budget (mean ± std over seeds)";
  add(c, plot_lines(c.out_dir, "budget", title, "epochs (training budget)",
                    c.metric.key + (c.metric.percent ? " (%)" : ""), series),
      title);
}

// diag.soft_eval: per row group, the one-hot network's test accuracy and, dashed in the same
// colour, the soft network's: the accuracy half of SLB's soft-hard gap.
void soft_hard_accuracy_plot(ReportContext& c) {
  RunSeries hard = load_metric_series(c.db, c.e, key::kTestAcc), soft = load_metric_series(c.db, c.e, key::kTestAccSoft);
  if (soft.empty()) return;
  std::vector<Series> series;
  int group = 0;
  for (auto& [label, ids] : c.groups()) {
    std::vector<std::vector<std::pair<int64_t, double>>> h, s;
    for (auto id : ids)
      if (auto it = soft.find(id); it != soft.end() && hard.count(id)) s.push_back(it->second), h.push_back(hard.at(id));
    if (!s.empty()) {
      series.push_back(band(label, h, 100)), series.back().color = group;
      series.push_back(band(label + " (soft)", s, 100)), series.back().continues = int(series.size()) - 2;
    }
    ++group;
  }
  const std::string title = "SLB test accuracy: one-hot network (solid) and soft network (dashed)";
  add(c, plot_lines(c.out_dir, "soft_hard_acc", title, "epoch", "test accuracy (%)", series), title);
}

// SLB's temperature as each row group's config schedules it (the first finished run's config;
// the seed changes no schedule): the trajectory, not the measured per-epoch value.
void schedule_plot(ReportContext& c) {
  std::vector<std::pair<std::string, RunConfig>> configs;
  std::vector<int> colors;
  int group = -1;
  for (auto& [label, ids] : c.groups()) {
    ++group;
    const RunData* r = ids.empty() ? nullptr : c.e.run(ids.front());
    if (!r) continue;
    try {
      RunConfig cfg = config_from_json(r->config(), "run " + std::to_string(r->id));
      if (cfg.quant.method == "slb") configs.emplace_back(label, std::move(cfg)), colors.push_back(group);
    } catch (const ConfigError&) {  // a config this lowbit cannot read: no curve, the tables stand
    }
  }
  if (configs.empty()) return;
  const std::string title = "SLB inverse temperature as scheduled (dashed: hard forward)";
  add(c, plot_temperature_schedules(c.out_dir, "schedule", title, configs, colors), title);
}

}  // namespace

const std::vector<ReportPlot>& report_plots() {
  static const std::vector<ReportPlot> plots = {
      {key::kTestAcc, "Test accuracy (mean ± std over seeds)",
       [](ReportContext& c) {
         metric_plot(c, key::kTestAcc, key::kTestAcc, "Test accuracy (mean ± std over seeds)",
                     "test accuracy");  // a fraction: drawn in %
       }},
      // --metric: the report's own metric per epoch, when it is not test accuracy (drawn above)
      // and is recorded per epoch (a per-run summary has no curve).
      {"metric", "The report's metric (--metric) per epoch",
       [](ReportContext& c) {
         if (c.metric.key == key::kTestAcc) return;
         metric_plot(c, c.metric.key, "metric", c.metric.key + " (mean ± std over seeds)", c.metric.key);
       }},
      {key::kActSparsity, "Activation sparsity, network mean",
       [](ReportContext& c) {
         metric_plot(c, key::kActSparsityMean, key::kActSparsity, "Activation sparsity, network mean",
                     "zeros");
       }},
      {key::kTemperature, "SLB inverse temperature",
       [](ReportContext& c) {
         metric_plot(c, key::kTemperature, key::kTemperature, "SLB inverse temperature", "T");
       }},
      {"schedule", "SLB inverse temperature as scheduled", schedule_plot},
      {"weight_sparsity", "Weight sparsity per layer",
       [](ReportContext& c) {
         layer_plot(c, {key::kSparsity}, "weight_sparsity", "Weight sparsity per layer",
                    "zero weights", false);
       }},
      {key::kFlipRate, "Flip rate per layer: weights whose discrete level changed since the last epoch",
       [](ReportContext& c) {
         layer_plot(c, {key::kFlipRate}, key::kFlipRate, "Flip rate per layer (level changed since the last epoch)",
                    "flipped weights", false);
       }},
      {key::kSoftHardGap, "SLB soft-hard gap per layer",
       [](ReportContext& c) {
         layer_plot(c, {key::kSoftHardGap}, key::kSoftHardGap,
                    "SLB soft-hard gap per layer: ||E[w] - argmax w|| / ||argmax w||", "relative distance", false);
       }},
      {"soft_hard_acc", "SLB test accuracy of the one-hot and the soft network (diag.soft_eval)",
       soft_hard_accuracy_plot},
      {key::kFlipRateStep, "Per-step flip rate per layer (diag.step_flips)",
       [](ReportContext& c) {
         layer_plot(c, {key::kFlipRateStep}, key::kFlipRateStep,
                    "Flip rate per step per layer (mean over the epoch's steps)", "flipped weights per step", false);
       }},
      {"scales", "TTQ scales Wp / Wn per layer",
       [](ReportContext& c) {
         layer_plot(c, {key::kWp, key::kWn}, "scales", "TTQ scales Wp / Wn per layer", "scale", false);
       }},
      {key::kGradNorm, "Latent-weight gradient norm per layer",
       [](ReportContext& c) {
         layer_plot(c, {key::kGradNorm}, key::kGradNorm, "Latent-weight gradient norm per layer",
                    "||dL/dw|| (epoch mean)", true);
       }},
      {"pareto", "Pareto: accuracy vs size", pareto_plot},
      {"budget", "Final metric against the epoch budget", budget_plot, {"epochs"}},
  };
  return plots;
}

}  // namespace lowbit
