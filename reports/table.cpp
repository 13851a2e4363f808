#include "reports/table.h"

#include <cctype>
#include <cmath>
#include <map>
#include <vector>

#include <fmt/format.h>

#include "core/config/run_config.h"
#include "core/util.h"
#include "reports/inference.h"

namespace lowbit {

using nlohmann::json;

std::string key_value(const RunData& r, const std::string& key) {
  if (key == "variant") return r.variant;
  if (key == "seed") return std::to_string(r.seed);
  if (auto it = r.row_keys.find(key); it != r.row_keys.end()) return it->second;
  if (r.varying.is_object() && r.varying.contains(key) && r.varying[key].is_null()) return "";
  if (auto it = r.config_text.find(key); it != r.config_text.end()) return it->second;
  auto p = config_pointer(key);
  const json& config = r.config();
  if (!config.contains(p)) return "";
  return config_value_text(config[p]);
}

namespace {

// The rows of `t` (one per distinct value of its row keys, in the order the runs first show
// them) and each cell's summary: the finished runs' values, the runs requested and finished.
void group_rows(AggTable& t, const ExperimentData& e) {
  const auto& cols = t.cols;
  std::map<std::vector<std::string>, size_t> index;
  std::vector<std::vector<std::vector<double>>> values;
  std::vector<std::vector<int>> requested, done;
  for (const auto& r : e.runs) {
    std::vector<std::string> key;
    for (auto& k : t.row_keys) key.push_back(key_value(r, k));
    auto it = index.find(key);
    if (it == index.end()) {
      it = index.emplace(key, t.rows.size()).first;
      t.rows.push_back(key);
      values.emplace_back(cols.size());
      requested.emplace_back(cols.size(), 0);
      done.emplace_back(cols.size(), 0);
    }
    for (size_t c = 0; c < cols.size(); ++c) {
      if (cols[c].filter && !cols[c].filter(r)) continue;
      ++requested[it->second][c];
      if (r.status != RunStatus::kDone) continue;
      ++done[it->second][c];
      if (auto v = cols[c].value(r)) values[it->second][c].push_back(*v);
    }
  }
  t.cells.assign(t.rows.size(), std::vector<Cell>(cols.size()));
  for (size_t i = 0; i < t.rows.size(); ++i)
    for (size_t c = 0; c < cols.size(); ++c) {
      Cell& cell = t.cells[i][c];
      cell.s = summarize(values[i][c]);
      cell.requested = requested[i][c];
      cell.done = done[i][c];
      cell.ci = t.opt.ci_level > 0 ? ci_half_width(cell.s, t.opt.ci_level) : 0;
    }
}

// The best cell of column c by mean and the runner-up (the best of the rest); -1 where there
// is none or the best ties another cell.
std::pair<int, int> best_and_runner_up(const AggTable& t, size_t c) {
  int best = -1, second = -1;
  auto better = [&](size_t i, int than) {
    if (than < 0) return true;
    const double m = t.cells[i][c].s.mean, o = t.cells[size_t(than)][c].s.mean;
    return t.cols[c].lower_better ? m < o : m > o;
  };
  for (size_t i = 0; i < t.rows.size(); ++i) {
    if (t.cells[i][c].s.n == 0) continue;
    if (better(i, best))
      second = best, best = int(i);
    else if (better(i, second))
      second = int(i);
  }
  if (best < 0 || second < 0 || t.cells[size_t(best)][c].s.mean == t.cells[size_t(second)][c].s.mean)
    return {-1, -1};
  return {best, second};
}

// A column of exact values: every cell at the best value is bold, unless every cell is.
void mark_exact_best(AggTable& t, size_t c) {
  int best = -1;
  for (size_t i = 0; i < t.rows.size(); ++i) {
    if (t.cells[i][c].s.n == 0) continue;
    const double m = t.cells[i][c].s.mean;
    if (best < 0 || (t.cols[c].lower_better ? m < t.cells[size_t(best)][c].s.mean : m > t.cells[size_t(best)][c].s.mean))
      best = int(i);
  }
  if (best < 0) return;
  size_t with_data = 0, tied = 0;
  for (size_t i = 0; i < t.rows.size(); ++i)
    if (t.cells[i][c].s.n > 0) ++with_data, tied += t.cells[i][c].s.mean == t.cells[size_t(best)][c].s.mean;
  if (with_data < 2 || tied == with_data) return;
  for (size_t i = 0; i < t.rows.size(); ++i)
    if (t.cells[i][c].s.n > 0 && t.cells[i][c].s.mean == t.cells[size_t(best)][c].s.mean) t.cells[i][c].best = true;
}

// Best per column in bold only where it is decided: in a column that cannot vary with the seed
// (sizes), the exact best; elsewhere where Welch's test of the best cell (by mean) against the
// runner-up, Holm-adjusted across the table's columns, gives p < 0.05. A tie for the best,
// one row with data, a machine-dependent column (seconds, memory) or fewer than 2 seeds: no
// bold.
void mark_best(AggTable& t) {
  std::vector<double> p;
  std::vector<size_t> where;
  for (size_t c = 0; c < t.cols.size(); ++c) {
    if (!t.cols[c].mark_best || t.cols[c].machine_dependent) continue;
    if (t.cols[c].seed_invariant) {
      mark_exact_best(t, c);
      continue;
    }
    auto [best, second] = best_and_runner_up(t, c);
    if (best < 0) continue;
    p.push_back(welch_test(t.cells[size_t(best)][c].s, t.cells[size_t(second)][c].s).p);
    where.push_back(c * t.rows.size() + size_t(best));
  }
  const auto adj = holm_adjust(p);
  for (size_t k = 0; k < where.size(); ++k)
    if (adj[k] < 0.05) t.cells[where[k] % t.rows.size()][where[k] / t.rows.size()].best = true;
}

// Welch's t-test of every row against its baseline row: the row whose variant is the baseline
// and that agrees on opt.baseline_match (the first such row).
void test_against_baseline(AggTable& t) {
  const TableOptions& opt = t.opt;
  if (opt.baseline.empty()) return;
  auto pos = [&](const std::string& k) {
    return size_t(std::find(t.row_keys.begin(), t.row_keys.end(), k) - t.row_keys.begin());
  };
  const size_t vpos = pos("variant");
  auto baseline_of = [&](size_t i) -> int {
    for (size_t j = 0; j < t.rows.size(); ++j) {
      if (vpos >= t.row_keys.size() || t.rows[j][vpos] != opt.baseline) continue;
      bool same = true;
      for (auto& k : opt.baseline_match)
        if (size_t kp = pos(k); kp < t.row_keys.size() && t.rows[j][kp] != t.rows[i][kp])
          same = false;
      if (same) return int(j);
    }
    return -1;
  };
  for (size_t i = 0; i < t.rows.size(); ++i) {
    int base = baseline_of(i);
    if (base < 0 || base == int(i)) continue;
    for (size_t c = 0; c < t.cols.size(); ++c)
      if (t.cols[c].testable())
        t.cells[i][c].p = welch_test(t.cells[i][c].s, t.cells[size_t(base)][c].s).p;
  }
  // Holm across every test of the table: stars read the adjusted p.
  std::vector<double> p;
  for (auto& row : t.cells)
    for (auto& cell : row) p.push_back(cell.p >= 0 ? cell.p : std::nan(""));
  const auto adj = holm_adjust(p);
  size_t k = 0;
  for (auto& row : t.cells)
    for (auto& cell : row) {
      if (std::isfinite(adj[k])) cell.p_holm = adj[k];
      ++k;
    }
}

// The caption's note: what the ± means, and the marks the table uses.
std::string spread_note(const AggTable& t) {
  const TableOptions& opt = t.opt;
  std::string note =
      opt.ci_level > 0 && opt.interval
          ? fmt::format("mean ± standard deviation (n - 1) over seeds, (n) finished seeds, "
                        "[{:.0f}% confidence interval] (Student's t, n - 1 degrees of freedom)",
                        opt.ci_level * 100)
      : opt.ci_level > 0
          ? fmt::format(
                "mean ± {:.0f}% confidence half-width (Student's t, n - 1 degrees of "
                "freedom) over seeds, (n) finished seeds",
                opt.ci_level * 100)
          : "mean ± standard deviation (n - 1) over seeds, (n) finished seeds";
  const auto& cols = t.cols;
  if (std::any_of(cols.begin(), cols.end(), [](const ColumnSpec& c) { return c.mark_best && c.testable(); }))
    note += "; bold: best in its column where Welch's test against the runner-up, Holm-adjusted "
            "across the table's columns, gives p < 0.05";
  if (std::any_of(cols.begin(), cols.end(), [](const ColumnSpec& c) { return c.mark_best && c.seed_invariant; }))
    note += "; in a column that cannot vary with the seed, bold is the exact best";
  note += "; † fewer finished seeds than requested (not averaged silently: n shows it)";
  if (std::any_of(cols.begin(), cols.end(), [](const ColumnSpec& c) { return c.seed_invariant; }))
    note += "; values that cannot vary with the seed have no spread";
  bool any_na = false;
  for (auto& row : t.cells)
    for (auto& cell : row) any_na = any_na || (cell.s.n == 0 && cell.done > 0);
  if (any_na) note += "; n/a: the metric does not apply to that row";
  if (std::any_of(cols.begin(), cols.end(), [](const ColumnSpec& c) { return c.machine_dependent; }))
    note += "; columns that depend on the machine and its load are never tested";
  if (!opt.baseline.empty())
    note += "; * p < 0.05, ** p < 0.01 (Welch's t-test against " + opt.baseline +
            ", Holm-adjusted across the table's tests)";
  return note;
}

}  // namespace

AggTable aggregate(const std::string& name, const std::string& title, const ExperimentData& e,
                   const std::vector<std::string>& row_keys, const std::vector<ColumnSpec>& cols,
                   const TableOptions& opt) {
  AggTable t;
  t.name = name;
  t.title = title;
  t.row_keys = row_keys;
  t.cols = cols;
  t.opt = opt;
  group_rows(t, e);
  mark_best(t);
  test_against_baseline(t);
  t.spread_note = spread_note(t);
  return t;
}

namespace {

std::string number(const ColumnSpec& c, double v) {
  double x = v * (c.percent ? 100.0 : c.scale);
  if (c.percent) return fmt::format("{:.2f}", x);
  double a = std::fabs(x);
  if (a == 0) return "0";
  if (a >= 1000) return fmt::format("{:.0f}", x);
  if (a >= 100) return fmt::format("{:.1f}", x);
  if (a >= 1) return fmt::format("{:.2f}", x);
  return fmt::format("{:.3g}", x);
}

std::string stars(double p) {
  return p < 0 || std::isnan(p) ? "" : p < 0.01 ? "**" : p < 0.05 ? "*" : "";
}

enum class Style { kMarkdown, kTex, kHtml };

// "mean ± spread (n)" with markers, in the spelling of `style` (HTML: already escaped).
std::string cell_text(const AggTable& t, size_t i, size_t c, Style style) {
  const bool tex = style == Style::kTex;
  const Cell& cell = t.cells[i][c];
  const ColumnSpec& col = t.cols[c];
  if (cell.requested == 0) return tex ? "--" : "";
  if (cell.s.n == 0 && cell.done > 0) return "n/a";
  if (cell.s.n == 0) return fmt::format("– (0/{})", cell.requested);
  double spread = t.opt.ci_level > 0 && !t.opt.interval ? cell.ci : cell.s.std;
  std::string core = number(col, cell.s.mean);
  if (cell.s.n > 1 && !std::isnan(spread) && !col.seed_invariant)
    core += (tex ? " \\pm " : " ± ") + number(col, spread);
  if (tex)
    core = cell.best ? "$\\mathbf{" + core + "}$" : "$" + core + "$";
  else if (cell.best)
    core = style == Style::kHtml ? "<strong>" + core + "</strong>" : "**" + core + "**";
  std::string out = core + fmt::format(" ({})", cell.s.n);
  if (t.opt.interval && t.opt.ci_level > 0 && cell.s.n > 1 && !col.seed_invariant && !std::isnan(cell.ci))
    out += " [" + number(col, cell.s.mean - cell.ci) + ", " + number(col, cell.s.mean + cell.ci) + "]";
  if (cell.incomplete()) out += tex ? "$^\\dagger$" : "†";
  std::string s = stars(cell.p_holm);
  if (!s.empty()) out += tex ? "$^{" + s + "}$" : s;
  return out;
}


// A \label key: letters, digits and : - . _ only.
std::string tex_label(const std::string& s) {
  std::string out;
  for (char c : s) out += std::isalnum(static_cast<unsigned char>(c)) || c == ':' || c == '-' || c == '.' || c == '_' ? c : '-';
  return out;
}

}  // namespace

// Text for LaTeX (pdflatex): the ten special characters escaped, and the symbols lowbit's
// captions, headers and values use that pdflatex's UTF-8 input cannot typeset, in math mode.
std::string tex_escape(const std::string& s) {
  static const std::vector<std::pair<std::string, std::string>> symbols = {
      {"±", "$\\pm$"},    {"†", "$^\\dagger$"}, {"≤", "$\\leq$"},  {"≥", "$\\geq$"},
      {"×", "$\\times$"}, {"µ", "$\\mu$"},      {"μ", "$\\mu$"},   {"−", "$-$"},
      {"²", "$^2$"},       {"—", "---"},         {"–", "--"},       {"α", "$\\alpha$"}};
  std::string out;
  for (size_t i = 0; i < s.size();) {
    bool matched = false;
    for (auto& [from, to] : symbols)
      if (s.compare(i, from.size(), from) == 0) {
        out += to, i += from.size(), matched = true;
        break;
      }
    if (matched) continue;
    const char c = s[i++];
    switch (c) {
      case '_': case '%': case '&': case '#': case '$': case '{': case '}':
        out += '\\', out += c;
        break;
      case '\\': out += "\\textbackslash{}"; break;
      case '~': out += "\\textasciitilde{}"; break;
      case '^': out += "\\textasciicircum{}"; break;
      case '<': out += "$<$"; break;
      case '>': out += "$>$"; break;
      default: out += c;
    }
  }
  return out;
}


std::string render_markdown(const AggTable& t) {
  std::string out = "**" + t.title + "** — " + t.spread_note + ".\n\n|";
  for (auto& k : t.row_keys) out += " " + k + " |";
  for (auto& c : t.cols) out += " " + c.label + " |";
  out += "\n|";
  for (size_t i = 0; i < t.row_keys.size(); ++i) out += " --- |";
  for (size_t i = 0; i < t.cols.size(); ++i) out += " ---: |";
  out += "\n";
  for (size_t i = 0; i < t.rows.size(); ++i) {
    out += "|";
    for (auto& v : t.rows[i]) out += " " + v + " |";
    for (size_t c = 0; c < t.cols.size(); ++c) out += " " + cell_text(t, i, c, Style::kMarkdown) + " |";
    out += "\n";
  }
  return out;
}

std::string render_csv(const AggTable& t) {
  auto q = csv_quote;

  std::string out;
  for (auto& k : t.row_keys) out += q(k) + ",";
  out += "column,mean,std,n,requested,ci_low,ci_high,p_value,p_holm,incomplete,na,best\n";
  for (size_t i = 0; i < t.rows.size(); ++i)
    for (size_t c = 0; c < t.cols.size(); ++c) {
      // Values in the unit the column's label states, as the markdown shows them (a percentage
      // as a percentage, bytes as MiB), at full precision; p stays a probability.
      const double unit = t.cols[c].percent ? 100.0 : t.cols[c].scale;  // as cell_text
      auto num = [unit](double v) { return std::isnan(v) ? std::string() : fmt::format("{}", v * unit); };
      const Cell& cell = t.cells[i][c];
      if (cell.requested == 0) continue;
      for (auto& v : t.rows[i]) out += q(v) + ",";
      double ci = t.opt.ci_level > 0 ? cell.ci : ci_half_width(cell.s, 0.95);
      out += q(t.cols[c].label) + "," + (cell.s.n ? num(cell.s.mean) : "") + "," +
             (cell.s.n ? num(cell.s.std) : "") + "," + std::to_string(cell.s.n) + "," +
             std::to_string(cell.requested) + "," + (cell.s.n > 1 ? num(cell.s.mean - ci) : "") +
             "," + (cell.s.n > 1 ? num(cell.s.mean + ci) : "") + "," +
             (cell.p >= 0 ? fmt::format("{}", cell.p) : "") + "," +
             (cell.p_holm >= 0 ? fmt::format("{}", cell.p_holm) : "") + "," + (cell.incomplete() ? "1" : "0") + "," +
             (cell.na() ? "1" : "0") + "," + (cell.best ? "1" : "0") + "\n";
    }
  return out;
}

std::string render_latex(const AggTable& t) {
  std::string spec(t.row_keys.size(), 'l');
  spec += std::string(t.cols.size(), 'r');
  std::string out = "% lowbit table; needs \\usepackage{booktabs} (\\toprule, \\midrule, \\bottomrule)\n"
                    "\\begin{table}[t]\n\\centering\n\\caption{" + tex_escape(t.title) + ": " +
                    tex_escape(t.spread_note) + ".}\n\\label{tab:" + tex_label(t.name) +
                    "}\n\\begin{tabular}{" + spec + "}\n\\toprule\n";
  std::vector<std::string> head;
  for (auto& k : t.row_keys) head.push_back(tex_escape(k));
  for (auto& c : t.cols) head.push_back(tex_escape(c.label));
  for (size_t i = 0; i < head.size(); ++i) out += (i ? " & " : "") + head[i];
  out += " \\\\\n\\midrule\n";
  for (size_t i = 0; i < t.rows.size(); ++i) {
    std::vector<std::string> parts;
    for (auto& v : t.rows[i]) parts.push_back(tex_escape(v));
    for (size_t c = 0; c < t.cols.size(); ++c) parts.push_back(cell_text(t, i, c, Style::kTex));
    for (size_t k = 0; k < parts.size(); ++k) out += (k ? " & " : "") + parts[k];
    out += " \\\\\n";
  }
  out += "\\bottomrule\n\\end{tabular}\n\\end{table}\n";
  return out;
}

std::string render_html(const AggTable& t) {
  // The note is a paragraph, not a <caption>: a caption wraps at the table's width, and a
  // one-column table would squeeze it into a ribbon.
  std::string out = "<p class=\"note\"><strong>" + html_escape(t.title) + "</strong> — " +
                    html_escape(t.spread_note) + ".</p>\n<table class=\"lb-table sortable\" id=\"table-" +
                    html_escape(t.name) + "\" data-title=\"" + html_escape(t.title) +
                    "\">\n<thead><tr>";
  for (auto& k : t.row_keys) out += "<th scope=\"col\">" + html_escape(k) + "</th>";
  for (auto& c : t.cols) out += "<th scope=\"col\" class=\"num\">" + html_escape(c.label) + "</th>";
  out += "</tr></thead>\n<tbody>\n";
  for (size_t i = 0; i < t.rows.size(); ++i) {
    out += "<tr>";
    for (auto& v : t.rows[i]) out += "<td>" + html_escape(v) + "</td>";
    // data-sort: the unscaled mean, so that a click on the header sorts by value, not text;
    // cells without a value sort last.
    for (size_t c = 0; c < t.cols.size(); ++c) {
      const Cell& cell = t.cells[i][c];
      std::string key = cell.s.n > 0 ? fmt::format("{}", cell.s.mean) : "";
      out += "<td class=\"num\" data-sort=\"" + key + "\">" +
             cell_text(t, i, c, Style::kHtml) + "</td>";
    }
    out += "</tr>\n";
  }
  return out + "</tbody>\n</table>\n";
}

}  // namespace lowbit
