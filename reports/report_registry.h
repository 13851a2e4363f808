// The report's tables and plots as one registry each: {name, title, build}. A table builder
// turns the experiment's data (ReportContext) into one or more AggTables; a plot builder
// draws one figure. `lowbit report --tables a,b` and report.md read these lists, and a new
// table is one registration here plus its own file in reports/tables/.
#pragma once
#include "lowbit_room.h"  // the build refuses this header in rooms below reports/
#ifndef LOWBIT_MAY_INCLUDE_REPORTS
#error "this room may not include reports/ (docs/ARCHITECTURE.md: rooms)"
#endif
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "reports/report.h"
#include "reports/table.h"
#include "tracker/report_data.h"

namespace lowbit {

using RunSeries = std::map<int64_t, std::vector<std::pair<int64_t, double>>>;

/// The metric of the main table (--metric): its value per run and its label.
struct ReportMetric {
  std::string key;
  std::string label;     ///< e.g. "test_acc (final)"
  bool percent = false;  ///< an accuracy: shown in %
  bool lower_better = false;
  std::function<std::optional<double>(const RunData&)> value;
};

/// One figure drawn by a plot builder: its caption, the PNG that report.md links and the SVG
/// that report.html inlines.
struct PlotRef {
  std::string caption, png, svg;
  bool per_layer = false;  ///< one curve per layer: in the HTML report's per-layer section
};

/// What every table and plot builder reads: the experiment, how rows are grouped, the
/// metric, and the per-layer series (loaded once, on first use).
struct ReportContext {
  ReportContext(const ReportOptions& o, Db& d, ExperimentData& ex,
                std::vector<std::string> row_keys, TableOptions t, ReportMetric m, std::string out,
                ReportResult& r)
      : opt(o),
        db(d),
        e(ex),
        rows(std::move(row_keys)),
        topt(std::move(t)),
        metric(std::move(m)),
        out_dir(std::move(out)),
        result(r) {}
  const ReportOptions& opt;
  Db& db;
  ExperimentData& e;
  std::vector<std::string> rows;  ///< grouping keys
  TableOptions topt;
  ReportMetric metric;
  std::string out_dir;
  ReportResult& result;
  std::vector<PlotRef> plots;  ///< the figures drawn, in report order

  /// Per-layer statistics of every run (last value per epoch) and the network-mean
  /// activation sparsity.
  const LayerSeries& layers();
  const RunSeries& act_mean();
  /// Groups of finished runs by the row keys, with their labels (the curves of a plot).
  std::vector<std::pair<std::string, std::vector<int64_t>>> groups() const;

 private:
  std::optional<LayerSeries> layers_;
  std::optional<RunSeries> act_mean_;
};

struct ReportTable {
  std::string name, title;
  std::function<std::vector<AggTable>(ReportContext&)> build;
};

struct ReportPlot {
  std::string name, title;
  std::function<void(ReportContext&)> build;
  /// Config keys it reads of every run besides the row and column keys (read typed from
  /// run_config with them, so that no run parses its config JSON for them).
  std::vector<std::string> config_keys = {};
};

/// The metric that --metric names ("key[:final|best|last-K-mean]"), resolved against the
/// experiment's recorded keys. Throws ConfigError with did-you-mean. (tables/main_table.cpp)
ReportMetric resolve_metric(Db& db, ExperimentData& e, const std::string& spec_text);

/// The tables, in report order (main, cost, layers, energy).
const std::vector<ReportTable>& report_tables();
/// The plots, in report order.
const std::vector<ReportPlot>& report_plots();

// Table builders, one file each under reports/tables/.
std::vector<AggTable> main_table(ReportContext& c);
std::vector<AggTable> cost_table(ReportContext& c);
std::vector<AggTable> layer_tables(ReportContext& c);
std::vector<AggTable> energy_tables(ReportContext& c);

// Helpers shared by the builders.

/// The label of a group of rows or a column: "variant key=value ..." for the non-empty
/// values of `keys` (the variant by its name alone).
std::string group_label(const std::vector<std::string>& keys,
                        const std::vector<std::string>& values);
/// True for keys where smaller is better (loss, bytes, seconds, energy, RSS).
bool lower_is_better(const std::string& key);
/// The last recorded value of a per-layer statistic.
std::optional<double> layer_last(const LayerSeries& layers, int64_t run, const std::string& layer,
                                 const std::string& key);
/// The same within one layer's statistics (an entry of layers()[run]).
std::optional<double> layer_last(const LayerSeries::mapped_type::mapped_type& stats,
                                 const std::string& key);
/// One copy of every run per weight layer (activations = false) or activation layer, with
/// the row key "layer": the rows of per-layer tables.
ExperimentData expand_by_layer(const ExperimentData& e, const LayerSeries& layers,
                               bool activations);
/// Removes rows in which no cell has a value.
void drop_empty_rows(AggTable& t);
/// Writes `text` to `path` and appends the path to `files`; a failure is a ConfigError
/// "<what>: cannot write <path>" (what: the option that chose the place, e.g. "--out DIR").
void write_text(const std::string& path, const std::string& text, std::vector<std::string>& files,
                const std::string& what);
/// A run's summary value as a column.
std::function<std::optional<double>(const RunData&)> summary_value(const std::string& key);

}  // namespace lowbit
