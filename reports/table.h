// Tables over seeds: runs grouped into rows (by config keys) and columns (by config keys or
// by metric), each cell mean ± spread (n), rendered as markdown, CSV and LaTeX. Reports
// never compute from anything but the database (tracker/report_data.h).
#pragma once
#include "lowbit_room.h"  // the build refuses this header in rooms below reports/
#ifndef LOWBIT_MAY_INCLUDE_REPORTS
#error "this room may not include reports/ (docs/ARCHITECTURE.md: rooms)"
#endif
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "reports/stats.h"
#include "tracker/report_data.h"

namespace lowbit {

/// One column: which runs it takes and the value of a run.
struct ColumnSpec {
  std::string label;
  std::function<std::optional<double>(const RunData&)> value;
  std::function<bool(const RunData&)> filter;  ///< empty: every run
  bool percent = false;                        ///< values are fractions, shown as percent
  bool lower_better = false;                   ///< for the best-cell mark
  double scale = 1.0;  ///< display multiplier (e.g. 1/2^20 for MiB), in every format
  /// True for values that cannot vary with the seed (parameter bytes, MACs): printed
  /// without a spread and never tested against the baseline.
  bool seed_invariant = false;
  /// False where "best" means nothing (per-layer statistics): no bold.
  bool mark_best = true;
  /// Values that depend on the machine and its load (seconds, memory): never tested, never
  /// bold (docs/OUTPUTS.md marks them).
  bool machine_dependent = false;
  /// Whether a test may decide anything about this column.
  bool testable() const { return !seed_invariant && !machine_dependent; }
};

struct TableOptions {
  double ci_level = 0;   ///< 0: show the std; e.g. 0.95: the Student-t CI half-width
  /// With ci_level > 0: show the std as the spread and the CI as an interval [low, high].
  bool interval = false;
  std::string baseline;  ///< a variant: Welch's t-test of every other row against it
  /// Row keys on which a row and its baseline row must agree (e.g. "layer": each layer is
  /// tested against the same layer of the baseline). Other keys are ignored.
  std::vector<std::string> baseline_match;
};

struct Cell {
  Summary s;
  int requested = 0;  ///< runs planned for the cell (every status)
  int done =
      0;  ///< finished runs in the cell; done > 0 with n == 0: the metric does not apply (n/a)
  double ci = 0;  ///< CI half-width (NaN when n < 2)
  double p = -1;      ///< Welch p-value vs the baseline row; < 0: none
  double p_holm = -1; ///< p Holm-adjusted across the table's tests against the baseline; < 0: none
  bool best = false;
  /// The metric does not apply to the cell's runs (finished, none with a value).
  bool na() const { return s.n == 0 && done > 0; }
  /// Fewer values than requested runs, where the metric applies.
  bool incomplete() const { return !na() && s.n < requested; }
};

struct AggTable {
  std::string name, title;
  std::vector<std::string> row_keys;
  std::vector<std::vector<std::string>> rows;
  std::vector<ColumnSpec> cols;
  std::vector<std::vector<Cell>> cells;  ///< [row][col]
  TableOptions opt;
  std::string spread_note;  ///< caption text on the spread, n and markers
};

/// The display text of run `r`'s value at `key` ("variant", "seed", one of r.row_keys or a
/// config path).
std::string key_value(const RunData& r, const std::string& key);

/// Groups the experiment's runs by `row_keys`; only `done` runs contribute values, every
/// run counts towards `requested`.
AggTable aggregate(const std::string& name, const std::string& title, const ExperimentData& e,
                   const std::vector<std::string>& row_keys, const std::vector<ColumnSpec>& cols,
                   const TableOptions& opt);

/// Text for LaTeX (pdflatex): the ten special characters escaped, and the symbols lowbit's
/// captions, headers and values use (±, †, ≤, µ, ...) in math mode.
std::string tex_escape(const std::string& s);

std::string render_markdown(const AggTable& t);
/// Long format, one header row, plain numbers: row keys, column, mean, std, n, requested,
/// ci_low, ci_high, p_value, p_holm, incomplete, na, best.
std::string render_csv(const AggTable& t);
std::string render_latex(const AggTable& t);
/// A paragraph with the title and spread note, then one <table> (data-title: the title): numeric cells carry their mean in data-sort (for the
/// report's click-to-sort script); every text is escaped.
std::string render_html(const AggTable& t);

}  // namespace lowbit
