// write_report: validates the options, prepares the ReportContext, runs the registered
// table and plot builders (reports/report_registry.h) and writes report.md with a
// provenance footer.
#include "reports/report.h"

#include <fstream>
#include <set>

#include <fmt/format.h>

#include "core/config/run_config.h"
#include "core/error.h"
#include "core/provenance.h"
#include "core/sha256.h"
#include "core/util.h"
#include "reports/plots.h"
#include "reports/report_registry.h"
#include "tracker/jsonl_observer.h"
#include "tracker/queries.h"

namespace lowbit {

ReportMetric resolve_metric(Db& db, ExperimentData& e,
                            const std::string& spec_text);  // tables/main_table.cpp

namespace {

// The registered tables that --table names (comma-separated; "all" = every one).
std::vector<const ReportTable*> selected_tables(const ReportOptions& opt) {
  for (auto& f : opt.formats)
    if (f != "md" && f != "csv" && f != "tex")
      throw ConfigError("--format: unknown format '" + f + "' (md, csv, tex)");
  std::vector<std::string> names = {"all"};
  for (auto& t : report_tables()) names.push_back(t.name);
  std::vector<const ReportTable*> out;
  for (auto& want : split(opt.table, ',')) {
    if (std::find(names.begin(), names.end(), want) == names.end())
      throw ConfigError("--table: unknown table '" + want + "'" + did_you_mean(want, names) + " (" +
                        join(names, ", ") + ")");
    for (auto& t : report_tables())
      if ((want == "all" || want == t.name) && std::find(out.begin(), out.end(), &t) == out.end())
        out.push_back(&t);
  }
  return out;
}

// Grouping keys: --rows, else the variant and the experiment's axes not used as columns.
std::vector<std::string> row_keys(const ReportOptions& opt, const ExperimentData& e) {
  std::vector<std::string> rows = opt.rows;
  if (rows.empty()) {
    rows.push_back("variant");
    for (auto& k : e.axis_keys)
      if (std::find(opt.cols.begin(), opt.cols.end(), k) == opt.cols.end()) rows.push_back(k);
  }
  std::vector<std::string> valid = config_paths();
  valid.insert(valid.end(), {"variant", "seed"});
  for (auto& k : rows)
    if (std::find(valid.begin(), valid.end(), k) == valid.end())
      throw ConfigError("--rows: unknown key '" + k + "'" + did_you_mean(k, valid));
  return rows;
}

// Checks that the experiment has a finished run and the baseline exists; returns the number
// of finished runs.
int64_t check_experiment(const ReportOptions& opt, const ExperimentData& e) {
  int64_t done = std::count_if(e.runs.begin(), e.runs.end(),
                               [](const RunData& r) { return r.status == RunStatus::kDone; });
  if (done == 0)
    throw StoreError("experiment '" + e.name + "' has no finished runs yet (" +
                         std::to_string(e.runs.size()) + " runs; see lowbit status --db " + opt.db +
                         ")",
                     true);
  if (!opt.baseline.empty() && std::none_of(e.runs.begin(), e.runs.end(),
                                            [&](auto& r) { return r.variant == opt.baseline; })) {
    std::set<std::string> vs;
    for (auto& r : e.runs) vs.insert(r.variant);
    throw ConfigError("--baseline: no variant '" + opt.baseline + "' in " + e.name +
                      " (variants: " + join(std::vector<std::string>(vs.begin(), vs.end()), ", ") +
                      ")");
  }
  return done;
}

// Writes one table in every requested format; returns its markdown section.
std::string write_table(const AggTable& t, ReportContext& c) {
  std::string md = render_markdown(t);
  for (auto& f : c.opt.formats) {
    std::string path = c.out_dir + "/" + t.name + "." + f;
    std::ofstream out(path);
    if (!out) throw ConfigError("--out " + c.out_dir + ": cannot write " + path);
    out << (f == "md" ? md : f == "csv" ? render_csv(t) : render_latex(t));
    c.result.files.push_back(path);
  }
  return "## " + t.title + "\n\n" + md + "\n";
}

// Runs that finished without a result (failed, diverged, stopped) are never averaged in; say
// which and why, so that a cell's n is explained.
std::string excluded_runs(const ExperimentData& e) {
  std::string md;
  for (auto& r : e.runs) {
    if (r.status != RunStatus::kFailed && r.status != RunStatus::kDiverged &&
        r.status != RunStatus::kStopped)
      continue;
    std::string why = r.error.empty() ? "(no message recorded)" : r.error;
    for (char& ch : why)
      if (ch == '|' || ch == '\n') ch = ' ';
    md += fmt::format("| {} | {} | {} | {} | {} |\n", r.id, r.variant, r.seed, to_string(r.status),
                      why);
  }
  if (md.empty()) return "";
  return "## Excluded runs\n\nNot in any table above (each cell's n counts only finished runs).\n\n"
         "| run | variant | seed | status | why |\n| ---: | --- | ---: | --- | --- |\n" +
         md + "\n";
}

// Tags and notes added after the fact (lowbit tag, lowbit note), as footnotes: one line per
// run that has any, so that a reader knows which runs someone flagged and why.
std::string tags_and_notes(const ExperimentData& e) {
  std::string md;
  for (auto& r : e.runs) {
    if (r.tags.empty() && r.notes.empty()) continue;
    std::string line = fmt::format("- run {} ({}, seed {})", r.id, r.variant, r.seed);
    if (!r.tags.empty()) line += ": tags `" + join(r.tags, "`, `") + "`";
    for (auto& n : r.notes) line += (r.tags.empty() && &n == &r.notes.front() ? ": " : "; ") + ("note: " + n);
    for (char& ch : line)
      if (ch == '\n') ch = ' ';
    md += line + "\n";
  }
  return md.empty() ? "" : "## Tags and notes\n\n" + md + "\n";
}

std::string provenance_footer(const ReportContext& c) {
  std::set<std::string> commits;
  for (auto& r : c.e.runs)
    if (!r.git_commit.empty()) commits.insert(r.git_commit.substr(0, 12));
  std::string md = "---\n\n### Provenance\n\n";
  md += fmt::format("- database: `{}`, sha256 `{}`\n", c.opt.db, sha256_file(c.opt.db));
  md += fmt::format("- lowbit {} (report written by commit {})\n", LOWBIT_VERSION,
                    std::string(build_git_commit()).substr(0, 12));
  md += "- git commits of the runs: " +
        (commits.empty() ? std::string("none recorded")
                         : "`" + join({commits.begin(), commits.end()}, "`, `") + "`") +
        "\n";
  md += "- queries behind the tables:\n\n```sql\n";
  for (auto& q : c.e.queries) md += q + ";\n";
  return md + "```\n";
}

}  // namespace

ReportResult write_report(const ReportOptions& opt) {
  ReportResult res;
  if (opt.experiment.empty()) throw ConfigError("lowbit report: --experiment is required");
  auto tables = selected_tables(opt);
  auto db = open_readonly(opt.db);
  ExperimentData e = load_experiment_data(*db, opt.experiment);
  const int64_t done = check_experiment(opt, e);
  ReportContext c{opt,
                  *db,
                  e,
                  row_keys(opt, e),
                  TableOptions{opt.ci / 100.0, opt.baseline, {}},
                  resolve_metric(*db, e, opt.metric),
                  opt.out_dir.empty() ? "results/" + e.name : opt.out_dir,
                  res};
  make_dirs(c.out_dir, "--out");

  std::string body;
  for (auto* t : tables)
    for (auto& table : t->build(c)) body += write_table(table, c);
  const bool main =
      std::any_of(tables.begin(), tables.end(), [](auto* t) { return t->name == "main"; });
  if (opt.plots && main) {
    if (!gnuplot_available())
      res.warnings.push_back(
          "gnuplot not found: plots skipped (install gnuplot-nox); the tables are complete");
    else
      for (auto& p : report_plots()) p.build(c);
  }

  std::string md = "# " + e.name + "\n\n" + (e.description.empty() ? "" : e.description + "\n\n") +
                   fmt::format("{} runs, {} finished. Tables: {}.\n\n", e.runs.size(), done,
                               join(opt.formats, ", ")) +
                   body + excluded_runs(e) + tags_and_notes(e) +
                   (c.plots_md.empty() ? "" : "## Curves\n\n" + c.plots_md) + provenance_footer(c);
  res.report_md = c.out_dir + "/report.md";
  std::ofstream(res.report_md) << md;
  res.files.push_back(res.report_md);
  return res;
}

}  // namespace lowbit
