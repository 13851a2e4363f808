#include "reports/report.h"

#include <cmath>
#include <fstream>
#include <set>

#include <fmt/format.h>

#include "core/config/run_config.h"
#include "core/error.h"
#include "core/provenance.h"
#include "core/sha256.h"
#include "core/util.h"
#include "reports/energy.h"
#include "reports/plots.h"
#include "reports/table.h"
#include "tracker/jsonl_observer.h"
#include "tracker/queries.h"
#include "tracker/report_data.h"

namespace lowbit {

namespace {

using nlohmann::json;
using RunSeries = std::map<int64_t, std::vector<std::pair<int64_t, double>>>;

bool lower_is_better(const std::string& key) {
  for (const char* w : {"loss", "bytes", "seconds", "energy", "rss"})
    if (key.find(w) != std::string::npos) return true;
  return false;
}

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
  } else if (mode.rfind("last-", 0) == 0 && mode.size() > 10 && mode.substr(mode.size() - 5) == "-mean") {
    m.mode = "last-k-mean";
    try {
      m.k = std::stoi(mode.substr(5, mode.size() - 10));
    } catch (...) {
      m.k = 0;
    }
    if (m.k < 1) throw ConfigError("--metric " + s + ": expected last-K-mean with K >= 1 (e.g. test_acc:last-3-mean)");
  } else {
    throw ConfigError("--metric " + s + ": unknown mode '" + mode + "' (final, best or last-K-mean)");
  }
  return m;
}

std::optional<double> series_value(const std::vector<std::pair<int64_t, double>>& s, const MetricSpec& m) {
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

// Mean and std over runs of a per-epoch series, epoch by epoch.
std::vector<RunSeries::mapped_type> runs_series(const RunSeries& s, const std::vector<int64_t>& ids) {
  std::vector<RunSeries::mapped_type> out;
  for (auto id : ids)
    if (auto it = s.find(id); it != s.end()) out.push_back(it->second);
  return out;
}

lowbit::Series band(const std::string& label, const std::vector<std::vector<std::pair<int64_t, double>>>& runs) {
  std::map<int64_t, std::vector<double>> by_epoch;
  for (auto& r : runs)
    for (auto& [e, v] : r) by_epoch[e].push_back(v);
  lowbit::Series s;
  s.label = label;
  for (auto& [e, vs] : by_epoch) {
    auto sm = summarize(vs);
    s.x.push_back(double(e));
    s.mean.push_back(sm.mean);
    s.std.push_back(sm.std);
  }
  return s;
}

std::string md_escape_label(const std::vector<std::string>& keys, const std::vector<std::string>& vals) {
  std::vector<std::string> parts;
  for (size_t i = 0; i < keys.size(); ++i)
    if (!vals[i].empty()) parts.push_back(keys[i] == "variant" ? vals[i] : keys[i] + "=" + vals[i]);
  return join(parts, " ");
}

// The last value of a per-layer statistic, if recorded.
std::optional<double> layer_last(const LayerSeries& layers, int64_t run, const std::string& layer, const std::string& key) {
  auto r = layers.find(run);
  if (r == layers.end()) return std::nullopt;
  auto l = r->second.find(layer);
  if (l == r->second.end()) return std::nullopt;
  auto k = l->second.find(key);
  if (k == l->second.end() || k->second.empty()) return std::nullopt;
  return k->second.back().second;
}

// Activation positions record only act_sparsity; conv/linear layers record the rest.
bool is_activation_layer(const std::map<std::string, std::vector<std::pair<int64_t, double>>>& keys) {
  return keys.count("act_sparsity") > 0;
}

// One copy of every run per weight layer (activations = false) or activation layer, with
// the row key "layer": the rows of the per-layer tables.
ExperimentData expand_by_layer(const ExperimentData& e, const LayerSeries& layers, bool activations) {
  std::vector<std::string> names;
  for (auto& r : e.runs)
    if (auto it = layers.find(r.id); it != layers.end())
      for (auto& [name, keys] : it->second)
        if (is_activation_layer(keys) == activations && std::find(names.begin(), names.end(), name) == names.end())
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

// The energy model's inputs for one run, from its last epoch's layer statistics; nullopt
// when a quantized layer lacks its weight levels or (measured) its input sparsity, as in
// databases written before they were recorded.
std::optional<std::vector<LayerEnergyInput>> energy_inputs(const RunData& r, const LayerSeries& layers, bool measured) {
  auto it = layers.find(r.id);
  if (it == layers.end()) return std::nullopt;
  const json& act = r.config["quant"]["act"];
  const std::string act_method = act["method"].get<std::string>();
  const int act_bits = act_method == "none" ? 32 : act_method == "sign" ? 1 : int(act["bits"].get<int64_t>());
  std::vector<LayerEnergyInput> in;
  for (auto& [name, keys] : it->second) {
    if (!keys.count("macs")) continue;
    auto last = [&](const char* k) { return keys.at(k).back().second; };
    LayerEnergyInput l;
    l.name = name;
    l.macs = last("macs");
    l.weight_bits = keys.count("weight_bits") ? last("weight_bits") : 32;
    if (l.weight_bits < 32) {
      if (!keys.count("weight_levels")) return std::nullopt;
      l.weight_levels = last("weight_levels");
    }
    l.in_bits = keys.count("first") && last("first") > 0 ? 32 : act_bits;  // the first layer sees the image
    if (measured) {
      if (!keys.count("in_sparsity")) return std::nullopt;
      l.in_sparsity = last("in_sparsity");
    }
    in.push_back(l);
  }
  if (in.empty()) return std::nullopt;
  return in;
}

}  // namespace

ReportResult write_report(const ReportOptions& opt) {
  ReportResult res;
  if (opt.experiment.empty()) throw ConfigError("lowbit report: --experiment is required");
  for (auto& f : opt.formats)
    if (f != "md" && f != "csv" && f != "tex") throw ConfigError("--format: unknown format '" + f + "' (md, csv, tex)");
  const std::vector<std::string> tables = {"all", "main", "cost", "layers", "energy"};
  if (std::find(tables.begin(), tables.end(), opt.table) == tables.end())
    throw ConfigError("--table: unknown table '" + opt.table + "'" + did_you_mean(opt.table, tables) + " (" + join(tables, ", ") + ")");
  auto db = open_readonly(opt.db);
  ExperimentData e = load_experiment_data(*db, opt.experiment);
  int64_t done = 0;
  for (auto& r : e.runs) done += r.status == "done";
  if (e.runs.empty() || done == 0)
    throw StoreError("experiment '" + e.name + "' has no finished runs yet (" + std::to_string(e.runs.size()) +
                         " runs; see lowbit status --db " + opt.db + ")", true);
  const std::string out_dir = opt.out_dir.empty() ? "results/" + e.name : opt.out_dir;
  make_dirs(out_dir, "--out");

  std::vector<std::string> rows = opt.rows;
  if (rows.empty()) {
    rows.push_back("variant");
    for (auto& k : e.axis_keys)
      if (std::find(opt.cols.begin(), opt.cols.end(), k) == opt.cols.end()) rows.push_back(k);
  }
  auto paths = config_paths();
  for (auto& k : rows) {
    std::vector<std::string> valid = paths;
    valid.insert(valid.end(), {"variant", "seed"});
    if (std::find(valid.begin(), valid.end(), k) == valid.end())
      throw ConfigError("--rows: unknown key '" + k + "'" + did_you_mean(k, valid));
  }
  TableOptions topt{opt.ci / 100.0, opt.baseline};
  if (!opt.baseline.empty() && std::none_of(e.runs.begin(), e.runs.end(), [&](auto& r) { return r.variant == opt.baseline; })) {
    std::set<std::string> vs;
    for (auto& r : e.runs) vs.insert(r.variant);
    throw ConfigError("--baseline: no variant '" + opt.baseline + "' in " + e.name + " (variants: " +
                      join(std::vector<std::string>(vs.begin(), vs.end()), ", ") + ")");
  }

  std::vector<AggTable> out_tables;
  std::string md_body;
  const bool all = opt.table == "all";

  // ---- main table: the metric, rows x (cols keys) ----
  MetricSpec metric = parse_metric(opt.metric);
  auto mkeys = metric_keys(*db, e), skeys = summary_keys(*db, e);
  bool is_metric = std::find(mkeys.begin(), mkeys.end(), metric.key) != mkeys.end();
  bool is_summary = std::find(skeys.begin(), skeys.end(), metric.key) != skeys.end();
  if (!is_metric && !is_summary) {
    std::vector<std::string> valid = mkeys;
    valid.insert(valid.end(), skeys.begin(), skeys.end());
    throw ConfigError("--metric: no metric '" + metric.key + "' in " + e.name + did_you_mean(metric.key, valid) +
                      " (per-epoch: " + join(mkeys, ", ") + "; per-run: " + join(skeys, ", ") + ")");
  }
  RunSeries metric_series = is_metric ? load_metric_series(*db, e, metric.key) : RunSeries{};
  // A best epoch of a test metric is chosen on the validation split where the run has one
  // (test_acc at the epoch of the best val_acc); chosen on the test set itself it is
  // optimistic, and the label says so.
  const bool test_metric = metric.key.rfind("test_", 0) == 0;
  RunSeries selector = is_metric && metric.mode == "best" && test_metric
                           ? load_metric_series(*db, e, "val_" + metric.key.substr(5)) : RunSeries{};
  bool selected_on_test = false;
  auto metric_value = [&](const RunData& r) -> std::optional<double> {
    if (!is_metric) {
      auto it = r.summary.find(metric.key);
      return it == r.summary.end() ? std::nullopt : std::optional<double>(it->second);
    }
    auto it = metric_series.find(r.id);
    if (it == metric_series.end()) return std::nullopt;
    if (metric.mode == "best" && test_metric) {
      auto sel = selector.find(r.id);
      if (sel == selector.end() || sel->second.empty()) {
        selected_on_test = true;
        return series_value(it->second, metric);
      }
      auto best = sel->second.front();
      for (auto& ev : sel->second) best = lower_is_better(metric.key) ? (ev.second < best.second ? ev : best)
                                                                        : (ev.second > best.second ? ev : best);
      for (auto& [epoch, v] : it->second)
        if (epoch == best.first) return v;
      return std::nullopt;
    }
    return series_value(it->second, metric);
  };
  for (auto& r : e.runs) metric_value(r);  // settles selected_on_test before the label is written
  std::string metric_label = is_metric ? metric.label() : metric.key;
  if (is_metric && metric.mode == "best" && test_metric)
    metric_label = selected_on_test ? metric.key + " (best epoch, selected on the test set: optimistic)"
                                    : metric.key + " (at the epoch of the best val_" + metric.key.substr(5) + ")";
  if (!is_metric && metric.key.rfind("best_test_", 0) == 0) metric_label += " (selected on the test set: optimistic)";
  const bool pct = metric.key.size() > 4 && metric.key.substr(metric.key.size() - 4) == "_acc";
  if (all || opt.table == "main") {
    std::vector<ColumnSpec> cols;
    if (opt.cols.empty()) {
      cols.push_back({metric.key, metric_value, {}, pct, lower_is_better(metric.key)});
    } else {
      std::vector<std::vector<std::string>> seen;
      for (auto& r : e.runs) {
        std::vector<std::string> v;
        for (auto& k : opt.cols) v.push_back(key_value(r, k));
        if (std::find(seen.begin(), seen.end(), v) != seen.end()) continue;
        seen.push_back(v);
        ColumnSpec c{md_escape_label(opt.cols, v), metric_value, nullptr, pct, lower_is_better(metric.key)};
        auto keys = opt.cols;
        c.filter = [keys, v](const RunData& run) {
          for (size_t i = 0; i < keys.size(); ++i)
            if (key_value(run, keys[i]) != v[i]) return false;
          return true;
        };
        cols.push_back(c);
      }
    }
    out_tables.push_back(aggregate("main", e.name + ": " + metric_label + (pct ? ", %" : ""), e, rows, cols, topt));
  }

  // ---- cost table ----
  if (all || opt.table == "cost") {
    auto sum = [](const std::string& k) {
      return [k](const RunData& r) -> std::optional<double> {
        auto it = r.summary.find(k);
        return it == r.summary.end() ? std::nullopt : std::optional<double>(it->second);
      };
    };
    std::vector<ColumnSpec> cols = {
        {"peak RSS (MiB)", sum("peak_rss_bytes"), {}, false, true, 1.0 / 1048576},
        {"parameters (KiB, fp32)", sum("param_bytes"), {}, false, true, 1.0 / 1024, true},
        {"packed model (KiB)", sum("packed_model_bytes"), {}, false, true, 1.0 / 1024, true},
        {"s / epoch", sum("mean_epoch_seconds"), {}, false, true},
        {"total wall time (s)", sum("wall_seconds"), {}, false, true}};
    if (std::find(skeys.begin(), skeys.end(), "logits_bytes") != skeys.end())
      cols.insert(cols.begin() + 3, ColumnSpec{"SLB logits (KiB)", sum("logits_bytes"), {}, false, true, 1.0 / 1024, true});
    // What SLB's batch-norm mode costs: discrete passes (state) and calibration, s per epoch.
    if (std::find(skeys.begin(), skeys.end(), "mean_bn_seconds") != skeys.end())
      cols.push_back(ColumnSpec{"BN passes (s / epoch)", sum("mean_bn_seconds"), {}, false, true});
    out_tables.push_back(aggregate("cost", e.name + ": memory, size and time per run", e, rows, cols, topt));
  }

  // ---- per-layer final statistics and energy ----
  LayerSeries layers;
  RunSeries act_mean;
  if (all || opt.table == "layers" || opt.table == "energy" || opt.plots) {
    layers = load_layer_series(*db, e, {"sparsity", "wp", "wn", "alpha", "act_sparsity", "in_sparsity", "grad_norm",
                                        "grad_norm_logits", "macs", "weights", "weight_bits", "weight_levels", "first",
                                        "temperature"});
    act_mean = load_metric_series(*db, e, "act_sparsity_mean");
  }
  auto stat = [&](const std::string& key) {
    return [&, key](const RunData& r) { return layer_last(layers, r.id, r.row_keys.at("layer"), key); };
  };
  TableOptions lopt = topt;
  lopt.baseline_match = {"layer"};  // each layer against the same layer of the baseline
  auto lrows = rows;
  lrows.push_back("layer");
  auto drop_empty_rows = [](AggTable& t) {
    for (size_t i = t.rows.size(); i-- > 0;)
      if (std::none_of(t.cells[i].begin(), t.cells[i].end(), [](const Cell& c) { return c.s.n > 0; }))
        t.rows.erase(t.rows.begin() + long(i)), t.cells.erase(t.cells.begin() + long(i));
  };
  if (all || opt.table == "layers") {
    // Per-layer statistics have no "best": no bold.
    std::vector<ColumnSpec> wcols = {
        {"weight sparsity", stat("sparsity"), {}, true, false, 1.0, false, false},
        {"Wp / alpha", [&](const RunData& r) { auto v = stat("wp")(r); return v ? v : stat("alpha")(r); }, {}, false, false, 1.0, false, false},
        {"Wn", stat("wn"), {}, false, false, 1.0, false, false},
        {"latent grad norm", stat("grad_norm"), {}, false, false, 1.0, false, false},
        {"SLB logits grad norm", stat("grad_norm_logits"), {}, false, false, 1.0, false, false},
        {"input sparsity", stat("in_sparsity"), {}, true, false, 1.0, false, false}};
    auto wt = aggregate("layers", e.name + ": weight layers at the last epoch", expand_by_layer(e, layers, false), lrows, wcols, lopt);
    drop_empty_rows(wt);
    out_tables.push_back(wt);
    std::vector<ColumnSpec> acols = {{"activation sparsity", stat("act_sparsity"), {}, true, false, 1.0, false, false}};
    auto at = aggregate("activations", e.name + ": activation layers (ReLU / activation quantizer outputs) at the last epoch",
                        expand_by_layer(e, layers, true), lrows, acols, lopt);
    drop_empty_rows(at);
    out_tables.push_back(at);
  }
  if (all || opt.table == "energy") {
    auto energy = [&](const RunData& r, bool measured) -> std::optional<EnergyResult> {
      auto in = energy_inputs(r, layers, measured);
      if (!in) return std::nullopt;
      return inference_energy(*in);
    };
    auto macs = [&](const RunData& r) -> std::optional<double> {
      auto en = energy(r, false);
      return en ? std::optional<double>(en->macs * 1e-6) : std::nullopt;
    };
    auto micro_joules = [&](bool measured) {
      return [&, measured](const RunData& r) -> std::optional<double> {
        auto en = energy(r, measured);
        return en ? std::optional<double>((measured ? en->sparse_pj : en->dense_pj) * 1e-6) : std::nullopt;
      };
    };
    auto weighted_in_sparsity = [&](const RunData& r) -> std::optional<double> {
      auto in = energy_inputs(r, layers, true);
      if (!in) return std::nullopt;
      double m = 0, z = 0;
      for (auto& l : *in) m += l.macs, z += l.macs * l.in_sparsity;
      return m > 0 ? std::optional<double>(z / m) : std::nullopt;
    };
    std::vector<ColumnSpec> cols = {
        {"MMACs / inference", macs, {}, false, true, 1.0, true, false},
        {"energy, dense inputs (µJ)", micro_joules(false), {}, false, true, 1.0, true, true},
        {"energy, measured input sparsity (µJ)", micro_joules(true), {}, false, true},
        {"input sparsity, MAC-weighted", weighted_in_sparsity, {}, true, false, 1.0, false, false},
        {"activation sparsity, network mean", [&](const RunData& r) -> std::optional<double> {
           auto a = act_mean.find(r.id);
           if (a == act_mean.end() || a->second.empty()) return std::nullopt;
           return a->second.back().second;
         }, {}, true, false, 1.0, false, false}};
    out_tables.push_back(aggregate("energy", e.name + ": energy per inference (Horowitz 2014, 45 nm; see docs/ENERGY.md)", e, rows, cols, topt));
    // Per layer: the same model, layer by layer.
    auto layer_energy = [&](const RunData& r, bool measured) -> std::optional<LayerEnergy> {
      auto en = energy(r, measured);
      if (!en) return std::nullopt;
      for (auto& l : en->layers)
        if (l.name == r.row_keys.at("layer")) return l;
      return std::nullopt;
    };
    std::vector<ColumnSpec> lcols = {
        {"MMACs", [&](const RunData& r) -> std::optional<double> {
           auto v = stat("macs")(r);
           return v ? std::optional<double>(*v * 1e-6) : std::nullopt;
         }, {}, false, false, 1.0, true, false},
        {"pJ / MAC", [&](const RunData& r) -> std::optional<double> {
           auto l = layer_energy(r, false);
           return l ? std::optional<double>(l->mac_pj) : std::nullopt;
         }, {}, false, false, 1.0, true, false},
        {"input sparsity", stat("in_sparsity"), {}, true, false, 1.0, false, false},
        {"energy, dense (nJ)", [&](const RunData& r) -> std::optional<double> {
           auto l = layer_energy(r, false);
           return l ? std::optional<double>(l->dense_pj * 1e-3) : std::nullopt;
         }, {}, false, false, 1.0, true, false},
        {"energy, measured (nJ)", [&](const RunData& r) -> std::optional<double> {
           auto l = layer_energy(r, true);
           return l ? std::optional<double>(l->sparse_pj * 1e-3) : std::nullopt;
         }, {}, false, false, 1.0, false, false}};
    auto lt = aggregate("energy_layers", e.name + ": energy per layer and inference, from each layer's own input sparsity",
                        expand_by_layer(e, layers, false), lrows, lcols, lopt);
    drop_empty_rows(lt);
    out_tables.push_back(lt);
  }

  // ---- write the tables ----
  for (auto& t : out_tables) {
    std::string md = render_markdown(t);
    md_body += "## " + t.title + "\n\n" + md + "\n";
    for (auto& f : opt.formats) {
      std::string path = out_dir + "/" + t.name + "." + f;
      std::ofstream out(path);
      if (!out) throw ConfigError("--out " + out_dir + ": cannot write " + path);
      out << (f == "md" ? md : f == "csv" ? render_csv(t) : render_latex(t));
      res.files.push_back(path);
    }
  }

  // ---- plots ----
  std::string plots_md;
  if (opt.plots && (all || opt.table == "main")) {
    if (!gnuplot_available()) {
      res.warnings.push_back("gnuplot not found: plots skipped (install gnuplot-nox); the tables are complete");
    } else {
      // Groups = rows of the main table.
      std::vector<std::pair<std::string, std::vector<int64_t>>> groups;
      for (auto& r : e.runs) {
        if (r.status != "done") continue;
        std::vector<std::string> v;
        for (auto& k : rows) v.push_back(key_value(r, k));
        std::string label = md_escape_label(rows, v);
        auto it = std::find_if(groups.begin(), groups.end(), [&](auto& g) { return g.first == label; });
        if (it == groups.end()) groups.push_back({label, {r.id}});
        else it->second.push_back(r.id);
      }
      auto add = [&](const std::vector<std::string>& files, const std::string& caption) {
        for (auto& f : files) res.files.push_back(f);
        if (!files.empty()) {
          std::string png = files.back().substr(files.back().rfind('/') + 1);
          plots_md += "![" + caption + "](" + png + ")\n\n";
        }
      };
      auto metric_plot = [&](const std::string& key, const std::string& name, const std::string& title, const std::string& ylabel) {
        RunSeries s = load_metric_series(*db, e, key);
        std::vector<lowbit::Series> series;
        for (auto& [label, ids] : groups) {
          auto runs = runs_series(s, ids);
          if (!runs.empty()) series.push_back(band(label, runs));
        }
        add(plot_lines(out_dir, name, title, "epoch", ylabel, series), title);
      };
      metric_plot("test_acc", "test_acc", "Test accuracy (mean ± std over seeds)", "test accuracy");
      metric_plot("act_sparsity_mean", "act_sparsity", "Activation sparsity, network mean", "fraction of zeros");
      metric_plot("temperature", "temperature", "SLB inverse temperature", "T");
      auto layer_plot = [&](const std::vector<std::string>& keys, const std::string& name, const std::string& title,
                            const std::string& ylabel, bool logy) {
        std::vector<lowbit::Series> series;
        for (auto& [label, ids] : groups) {
          std::map<std::string, std::vector<std::vector<std::pair<int64_t, double>>>> per;
          for (auto id : ids)
            if (auto it = layers.find(id); it != layers.end())
              for (auto& [layer, kv] : it->second)
                for (auto& k : keys)
                  if (kv.count(k)) per[layer + (keys.size() > 1 ? " " + k : "")].push_back(kv.at(k));
          for (auto& [lk, runs] : per) series.push_back(band(label + " " + lk, runs));
        }
        add(plot_lines(out_dir, name, title, "epoch", ylabel, series, logy), title);
      };
      layer_plot({"sparsity"}, "weight_sparsity", "Weight sparsity per layer", "fraction of zero weights", false);
      layer_plot({"wp", "wn"}, "scales", "TTQ scales Wp / Wn per layer", "scale", false);
      layer_plot({"grad_norm"}, "grad_norm", "Latent-weight gradient norm per layer", "||dL/dw|| (epoch mean)", true);
      // Pareto: accuracy against packed model size.
      std::vector<Point> pts;
      for (auto& [label, ids] : groups) {
        std::vector<double> acc, size;
        for (auto& r : e.runs) {
          if (std::find(ids.begin(), ids.end(), r.id) == ids.end()) continue;
          if (auto a = metric_value(r)) acc.push_back(*a * (pct ? 100 : 1));
          if (r.summary.count("packed_model_bytes")) size.push_back(r.summary.at("packed_model_bytes"));
        }
        if (acc.empty() || size.empty()) continue;
        auto sa = summarize(acc);
        double err = sa.n > 1 ? ci_half_width(sa, 0.95) : 0;
        pts.push_back({label, summarize(size).mean, sa.mean, err});
      }
      add(plot_points(out_dir, "pareto", "Accuracy vs model size (95% CI over seeds)", "packed model size (bytes)",
                      metric.key + (pct ? " (%)" : ""), pts), "Pareto: accuracy vs size");
    }
  }

  // ---- report.md with a provenance footer ----
  std::set<std::string> commits;
  for (auto& r : e.runs)
    if (!r.git_commit.empty()) commits.insert(r.git_commit.substr(0, 12));
  std::string md = "# " + e.name + "\n\n" + (e.description.empty() ? "" : e.description + "\n\n") +
                   fmt::format("{} runs, {} finished. Tables: {}.\n\n", e.runs.size(), done,
                               join(opt.formats, ", ")) + md_body + (plots_md.empty() ? "" : "## Curves\n\n" + plots_md);
  md += "---\n\n### Provenance\n\n";
  md += fmt::format("- database: `{}`, sha256 `{}`\n", opt.db, sha256_file(opt.db));
  md += fmt::format("- lowbit {} (report written by commit {})\n", LOWBIT_VERSION, std::string(build_git_commit()).substr(0, 12));
  md += "- git commits of the runs: " + (commits.empty() ? std::string("none recorded") : "`" + join({commits.begin(), commits.end()}, "`, `") + "`") + "\n";
  md += "- queries behind the tables:\n\n```sql\n";
  for (auto& q : e.queries) md += q + ";\n";
  md += "```\n";
  res.report_md = out_dir + "/report.md";
  std::ofstream(res.report_md) << md;
  res.files.push_back(res.report_md);
  return res;
}

}  // namespace lowbit
