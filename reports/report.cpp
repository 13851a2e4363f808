// write_report: validates the options, prepares the ReportContext, runs the registered
// table and plot builders (reports/report_registry.h) and writes report.md with a
// provenance footer.
#include "reports/report.h"

#include <map>
#include <memory>

#include <cstdio>
#include <fstream>
#include <future>
#include <set>

#include <fmt/format.h>

#include "core/config/run_config.h"
#include "core/error.h"
#include "core/provenance.h"
#include "core/sha256.h"
#include "core/util.h"
#include "reports/plots.h"
#include "reports/claims.h"
#include "reports/report_html.h"
#include "reports/report_registry.h"
#include "tracker/filter.h"
#include "tracker/jsonl_observer.h"
#include "tracker/queries.h"

namespace lowbit {


void write_text(const std::string& path, const std::string& text, std::vector<std::string>& files,
                const std::string& what) {
  std::ofstream out(path, std::ios::binary);
  if (!out || !(out << text)) throw ConfigError(what + ": cannot write " + path);
  files.push_back(path);
}

namespace {

// The files a report wrote into its folder, by name, in a manifest beside them: a report
// written again into the same folder (say with fewer --tables) removes what the earlier one
// wrote and this one did not, and nothing else: a file lowbit did not write stays.
constexpr const char* kManifest = ".lowbit-report-files";

std::set<std::string> read_manifest(const std::string& dir) {
  std::set<std::string> names;
  std::ifstream in(dir + "/" + kManifest);
  for (std::string line; std::getline(in, line);)
    if (!line.empty() && line.find('/') == std::string::npos) names.insert(line);
  return names;
}

std::string base_name(const std::string& path) { return path.substr(path.rfind('/') + 1); }

// Removes the earlier report's files that this one did not write (a plot's data file with its
// plot), then records this report's files.
void replace_manifest(const std::string& dir, const std::set<std::string>& before,
                      const std::vector<std::string>& written) {
  std::set<std::string> now;
  for (const auto& f : written) now.insert(base_name(f));
  for (const auto& name : before) {
    if (now.count(name)) continue;
    std::remove((dir + "/" + name).c_str());
    const auto dot = name.rfind('.');
    if (dot != std::string::npos && name.compare(dot, 4, ".svg") == 0)
      std::remove((dir + "/" + name.substr(0, dot) + ".dat").c_str());
  }
  std::string text;
  for (const auto& name : now) text += name + "\n";
  std::vector<std::string> ignored;
  write_text(dir + "/" + kManifest, text, ignored, "--out");
}

// The registered tables that --table names (comma-separated; "all" = every one).
std::vector<const ReportTable*> selected_tables(const ReportOptions& opt) {
  for (auto& f : opt.formats)
    if (f != "md" && f != "csv" && f != "tex" && f != "html")
      throw ConfigError("--format: unknown format '" + f + "' (md, csv, tex, html)");
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
  if (done == 0 && !opt.where.empty())
    throw ConfigError(fmt::format("--where \"{}\": no finished run of experiment '{}' satisfies it ({} of any "
                                  "status do; see lowbit query runs -e {} --where ...)",
                                  truncate_for_message(join(opt.where, " and ")), e.name, e.runs.size(), e.name));
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

// Writes one table in every requested file format (html has no per-table file: report.html
// holds them all); returns its markdown section.
std::string write_table(const AggTable& t, ReportContext& c) {
  std::string md = render_markdown(t);
  for (auto& f : c.opt.formats)
    if (f != "html")
      write_text(c.out_dir + "/" + t.name + "." + f,
                 f == "md" ? md : f == "csv" ? render_csv(t) : render_latex(t), c.result.files,
                 "--out " + c.out_dir);
  return "## " + t.title + "\n\n" + md + "\n";
}

// Runs that finished without a result (failed, diverged, stopped) are never averaged in; say
// which and why, so that a cell's n is explained. One row per run: run, variant, seed,
// status, why.
std::vector<std::vector<std::string>> excluded_runs(const ExperimentData& e) {
  std::vector<std::vector<std::string>> rows;
  for (auto& r : e.runs) {
    if (r.status != RunStatus::kFailed && r.status != RunStatus::kDiverged &&
        r.status != RunStatus::kStopped)
      continue;
    std::string why = r.error.empty() ? "(no message recorded)" : r.error;
    for (char& ch : why)
      if (ch == '|' || ch == '\n') ch = ' ';
    rows.push_back({std::to_string(r.id), r.variant, std::to_string(r.seed), to_string(r.status), why});
  }
  return rows;
}

std::string excluded_runs_md(const std::vector<std::vector<std::string>>& rows) {
  if (rows.empty()) return "";
  std::string md = "## " + std::string(kExcludedTitle) + "\n\n" + kExcludedNote +
                   "\n\n| run | variant | seed | status | why |\n| ---: | --- | ---: | --- | --- |\n";
  for (auto& r : rows) md += "| " + join(r, " | ") + " |\n";
  return md + "\n";
}

// Tags and notes added after the fact (lowbit tag, lowbit note), as footnotes: one line per
// run that has any, so that a reader knows which runs someone flagged and why.
std::vector<std::string> tags_and_notes(const ExperimentData& e) {
  std::vector<std::string> lines;
  for (auto& r : e.runs) {
    if (r.tags.empty() && r.notes.empty()) continue;
    std::string line = fmt::format("run {} ({}, seed {})", r.id, r.variant, r.seed);
    if (!r.tags.empty()) line += ": tags `" + join(r.tags, "`, `") + "`";
    for (auto& n : r.notes) line += (r.tags.empty() && &n == &r.notes.front() ? ": " : "; ") + ("note: " + n);
    for (char& ch : line)
      if (ch == '\n') ch = ' ';
    lines.push_back(line);
  }
  return lines;
}

// Runs of the experiment outside the definition it was last launched with (an earlier version
// of the file): a footnote, so that a reader knows they exist and what --all-runs does.
std::vector<std::string> outside_runs(const ExperimentData& e, bool included) {
  if (e.outside.empty()) return {};
  std::map<std::string, std::vector<std::string>> by_variant;
  for (auto& r : e.outside)
    by_variant[r.variant].push_back(fmt::format("{} (seed {}, {})", r.id, r.seed, to_string(r.status)));
  std::vector<std::string> lines = {fmt::format(
      "{} run(s) of `{}` are not in the definition it was last launched with (an earlier version "
      "of the file); {}",
      e.outside.size(), e.name,
      included ? "they are included in rows of their own, marked `" + std::string(kOutsideMark).substr(1) + "`"
               : std::string("they are left out of every table and plot (`lowbit report --all-runs` "
                             "includes them, marked)"))};
  for (auto& [variant, runs] : by_variant) lines.push_back("variant `" + variant + "`: runs " + join(runs, ", "));
  return lines;
}

std::string list_md(const std::string& heading, const std::vector<std::string>& items) {
  if (items.empty()) return "";
  std::string md = "## " + heading + "\n\n";
  for (auto& i : items) md += "- " + i + "\n";
  return md + "\n";
}

// The footer's lines (inline markdown) and the SQL behind the tables.
std::vector<std::string> provenance_items(const ReportContext& c, const std::string& db_sha256) {
  std::set<std::string> commits;
  for (auto& r : c.e.runs)
    if (!r.git_commit.empty()) commits.insert(r.git_commit.substr(0, 12));
  return {fmt::format("database: `{}`, sha256 `{}`", c.opt.db, db_sha256),
          fmt::format("lowbit {} (report written by commit {})", LOWBIT_VERSION,
                      std::string(build_git_commit()).substr(0, 12)),
          "git commits of the runs: " +
              (commits.empty() ? std::string("none recorded")
                               : "`" + join({commits.begin(), commits.end()}, "`, `") + "`")};
}

std::string provenance_md(const std::vector<std::string>& items,
                          const std::vector<std::string>& queries) {
  std::string md = "---\n\n### Provenance\n\n";
  for (auto& i : items) md += "- " + i + "\n";
  md += "- queries behind the tables:\n\n```sql\n";
  for (auto& q : queries) md += q + ";\n";
  return md + "```\n";
}

std::string plots_md(const std::vector<PlotRef>& plots) {
  std::string md;
  for (auto& p : plots)
    if (!p.png.empty()) md += "![" + p.caption + "](" + p.png + ")\n\n";
  return md.empty() ? "" : "## Curves\n\n" + md;
}


// The row, column and plot keys of every run, read typed from run_config, so that no run
// parses its config JSON for them (a run lacking one of them there parses its own on first use).
void load_row_keys(const ReportOptions& opt, Db& db, ExperimentData& e, const std::vector<std::string>& rows) {
  std::vector<std::string> keys = rows;
  keys.insert(keys.end(), opt.cols.begin(), opt.cols.end());
  if (opt.plots)
    for (const auto& p : report_plots()) keys.insert(keys.end(), p.config_keys.begin(), p.config_keys.end());
  load_config_text(db, e, keys);
}

// Every selected table, written in each format; returns the markdown of them all.
std::string build_tables(const std::vector<const ReportTable*>& tables, ReportContext& c, HtmlReport& html) {
  std::string body;
  for (auto* t : tables)
    for (auto& table : t->build(c)) {
      body += write_table(table, c);
      const bool per_layer =
          std::find(table.row_keys.begin(), table.row_keys.end(), "layer") != table.row_keys.end();
      html.tables.push_back({table, per_layer});
    }
  return body;
}

// The claims of the experiment's definition, decided, in every requested format; returns the
// markdown section ("" without claims). The claims lead the report.
std::string build_claims(ReportContext& c, HtmlReport& html) {
  const auto claims = evaluate_claims(c.db, c.e);
  if (claims.empty()) return "";
  const std::string md = claims_markdown(claims);
  for (auto& f : c.opt.formats) {
    if (f == "html") continue;
    write_text(c.out_dir + "/claims." + f, f == "md" ? md : f == "csv" ? claims_csv(claims) : claims_latex(claims),
               c.result.files, "--out " + c.out_dir);
  }
  html.claims = claims_html(claims);
  return std::string("## ") + kClaimsTitle + "\n\n" + md + "\n";
}

// The curves, with the main table, where gnuplot is installed.
void build_plots(const ReportOptions& opt, const std::vector<const ReportTable*>& tables, ReportContext& c) {
  const bool main = std::any_of(tables.begin(), tables.end(), [](auto* t) { return t->name == "main"; });
  if (!opt.plots || !main) return;
  if (!gnuplot_available())
    c.result.warnings.push_back("gnuplot not found: plots skipped (install gnuplot-nox); the tables are complete");
  else
    for (auto& p : report_plots()) p.build(c);
}

}  // namespace

ReportResult write_report(const ReportOptions& opt) {
  ReportResult res;
  if (opt.experiment.empty()) throw ConfigError("lowbit report: --experiment is required");
  auto tables = selected_tables(opt);
  auto db = open_readonly(opt.db);
  // The footer's sha256 of the database file, hashed on another core while the tables are
  // built: 1 GiB at 100,000 runs (with the CPU's SHA extensions, core/sha256.h, a fraction of
  // the report's time; several seconds of CPU without them).
  auto db_sha256 = std::async(std::launch::async, [path = opt.db] { return sha256_file(path); });
  const RunFilter subset = compile_run_filter(*db, opt.where);
  auto data = std::make_unique<ExperimentData>(load_experiment_data(
      *db, opt.experiment, /*parse_configs=*/false, opt.all_runs, subset.empty() ? "" : subset.sql));
  ExperimentData& e = *data;
  const int64_t done = check_experiment(opt, e);
  std::vector<std::string> rows = row_keys(opt, e);
  load_row_keys(opt, *db, e, rows);
  ReportContext c{opt,
                  *db,
                  e,
                  rows,
                  TableOptions{opt.ci / 100.0, opt.interval, opt.baseline, {}},
                  resolve_metric(*db, e, opt.metric),
                  opt.out_dir.empty() ? "results/" + e.name : opt.out_dir,
                  res};
  make_dirs(c.out_dir, "--out");
  const std::set<std::string> earlier = read_manifest(c.out_dir);

  HtmlReport html{e.name, e.description, "", "", {}, {}, {}, {}, {}, e.queries};
  const std::string body = build_claims(c, html) + build_tables(tables, c, html);
  build_plots(opt, tables, c);
  html.summary = fmt::format("{} runs{}, {} finished. Tables: {}.", e.runs.size(),
                             subset.empty() ? "" : " (only those where " + subset.text + ")", done,
                             join(opt.formats, ", "));
  html.excluded = excluded_runs(e);
  html.notes = outside_runs(e, opt.all_runs);
  for (auto& line : tags_and_notes(e)) html.notes.push_back(line);
  html.plots = c.plots;
  html.provenance = provenance_items(c, db_sha256.get());

  std::string md = "# " + e.name + "\n\n" + (e.description.empty() ? "" : e.description + "\n\n") +
                   html.summary + "\n\n" + body + excluded_runs_md(html.excluded) +
                   list_md(kNotesTitle, html.notes) + plots_md(c.plots) +
                   provenance_md(html.provenance, e.queries);
  res.report_md = c.out_dir + "/report.md";
  write_text(res.report_md, md, res.files, "--out");
  if (std::find(opt.formats.begin(), opt.formats.end(), "html") != opt.formats.end())
    write_text(c.out_dir + "/report.html", render_report_html(html), res.files, "--out");
  replace_manifest(c.out_dir, earlier, res.files);
  if (opt.exiting_after) (void)data.release();  // see ReportOptions::exiting_after
  return res;
}

}  // namespace lowbit
