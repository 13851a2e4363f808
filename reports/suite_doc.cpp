#include "reports/suite_doc.h"

#include <algorithm>
#include <map>

#include <fmt/format.h>

#include "core/error.h"
#include "core/file_io.h"
#include "core/provenance.h"
#include "core/sha256.h"
#include "core/util.h"
#include "reports/claims.h"
#include "reports/commentary_check.h"
#include "reports/report_registry.h"
#include "tracker/archive.h"
#include "tracker/jsonl_observer.h"
#include "tracker/queries.h"

namespace lowbit {

namespace {

// Runs of the experiment by status, "12 done, 1 failed" (no experiment: "not run").
std::string status_counts(Db& db, const std::string& experiment) {
  std::vector<std::string> parts;
  for (auto& [status, n] : runs_by_status(db, experiment)) parts.push_back(fmt::format("{} {}", n, status));
  return parts.empty() ? "not run" : join(parts, ", ");
}

// Wall time of the trained runs: first start to last finish, and the time during which at
// least one of them was running (the union of their intervals), which leaves out the gaps
// when the suite was stopped and later resumed (started_at is a run's first start; a resumed
// run counts from its last start, its finish minus its wall_seconds).
std::string wall_time(Db& db) {
  const std::vector<std::pair<double, double>> spans = trained_run_spans(db);
  if (spans.empty()) return "no finished run";
  double busy = 0, end = spans.front().first, last = spans.front().second;
  for (auto [a, b] : spans) {
    busy += std::max(0.0, b - std::max(a, end));
    end = std::max(end, b);
    last = std::max(last, b);
  }
  return fmt::format("{} runs trained; first start to last finish {}, of which {} with at least "
                     "one run in progress (a resumed run counted from its last start)",
                     spans.size(), format_duration(last - spans.front().first),
                     format_duration(busy));
}

// The relative path from the directory of `from` to `to` when `to` lies below it; else `to`.
std::string relative_to(const std::string& from_file, const std::string& to) {
  const auto slash = from_file.rfind('/');
  const std::string dir = slash == std::string::npos ? "" : from_file.substr(0, slash + 1);
  return !dir.empty() && to.rfind(dir, 0) == 0 ? to.substr(dir.size()) : to;
}

// The markdown tables a report wrote (its <table>.md files, in report order).
std::string tables_md(const SuiteEntry& e) {
  std::string md;
  for (auto& f : e.written.files)
    if (f.size() > 3 && f.compare(f.size() - 3, 3, ".md") == 0 && f != e.written.report_md)
      md += read_file(f) + "\n";
  return md;
}

// Copies one plot of the entry's report next to the results document; returns its markdown
// image line.
std::string plot_md(const SuiteEntry& e, const std::string& plot, const std::string& doc, std::vector<std::string>& files) {
  if (plot.empty()) return "";
  const std::string svg = e.report.out_dir + "/" + plot + ".svg";
  std::string caption = plot;
  for (auto& p : report_plots())
    if (p.name == plot) caption = p.title;
  if (!is_file(svg)) return "_(plot " + plot + " was not drawn: no data for it, or gnuplot missing)_\n\n";
  const auto slash = doc.rfind('/');
  const std::string dir = slash == std::string::npos ? std::string("results") : doc.substr(0, slash) + "/results";
  make_dirs(dir, "results document");
  const std::string copy = dir + "/" + e.name + "-" + plot + ".svg";
  write_text(copy, read_file(svg), files, "--results");
  return "![" + e.name + ": " + caption + "](" + relative_to(doc, copy) + ")\n\n";
}

std::string section(Db& db, const SuiteEntry& e, size_t i, const std::string& doc,
                    std::vector<std::string>& files) {
  std::string md = fmt::format("## {}. {}\n\n{}\n\n", i + 1, e.name, e.description);
  md += fmt::format("- runs: {}\n- train: `lowbit grid {} --db {}`\n- report: `lowbit report --db {} --experiment {}{}{}{}{} --ci 95 --interval`\n\n",
                    status_counts(db, e.name), e.config, e.report.db, e.report.db, e.name,
                    e.report.table == "all" ? "" : " --tables " + e.report.table,
                    e.report.metric == ReportOptions().metric ? "" : " --metric " + e.report.metric,
                    e.report.rows.empty() ? "" : " --rows " + join(e.report.rows, ","),
                    e.report.baseline.empty() ? "" : " --baseline " + e.report.baseline);
  if (!e.report_error.empty()) return md + "_No report: " + e.report_error + "._\n\n";
  const std::string tables = tables_md(e);
  md += tables;
  const std::vector<std::string> plots = split(e.plot, ',');  // "flip_rate,soft_hard_acc": each in turn
  for (const auto& p : plots) md += plot_md(e, p, doc, files);
  // A question with SLB runs also shows the temperature its arms were scheduled to follow.
  if (std::find(plots.begin(), plots.end(), "schedule") == plots.end() && is_file(e.report.out_dir + "/schedule.svg"))
    md += plot_md(e, "schedule", doc, files);
  std::string notes = e.notes.empty() || !is_file(e.notes) ? "" : read_file(e.notes);
  // The commentary interprets the tables and claims; a number of its own is refused.
  if (auto problems = unsupported_numbers(notes, tables); !problems.empty())
    throw ConfigError(commentary_error(e.notes, e.name, problems) + "; the results document was not written");
  md += notes.empty() ? "_No commentary yet: it belongs in " + (e.notes.empty() ? e.config : e.notes) + "._\n\n"
                      : "**What the numbers say.** " + notes + (notes.back() == '\n' ? "\n" : "\n\n");
  return md;
}

// "commit 351281a13ed1 (111 runs)", or several commits with their run counts.
std::string commits_text(Db& db) {
  std::vector<std::string> parts;
  for (auto& [commit, n] : trained_run_commits(db))
    parts.push_back(fmt::format("commit {} ({} runs)", commit.empty() ? "unknown" : commit.substr(0, 12) +
                                                              (commit.size() > 40 ? commit.substr(40) : ""), n));
  return parts.empty() ? "no commit (no run trained)" : join(parts, ", ");
}

// The paper-scale twin of a suite definition (configs/suite/x.json -> configs/paper/x.json), or "".
std::string paper_twin(const std::string& config) {
  const auto at = config.rfind("/suite/");
  if (at == std::string::npos) return "";
  const std::string twin = config.substr(0, at) + "/paper/" + config.substr(at + 7);
  return is_file(twin) ? twin : "";
}

// The table that leads the results document: every claim of every question with its verdict.
std::string verdict_table(Db& db, const std::vector<SuiteEntry>& entries) {
  std::string rows;
  std::map<Verdict, int> counts;
  int questions = 0;
  for (size_t i = 0; i < entries.size(); ++i) {
    const auto& e = entries[i];
    const std::string q = fmt::format("{}. {}", i + 1, e.name);
    if (!e.report_error.empty()) {
      rows += fmt::format("| {} | | no report: {} | | | | |\n", q, e.report_error);
      continue;
    }
    ExperimentData data = load_experiment_data(db, e.name);
    const auto claims = evaluate_claims(db, data);
    if (claims.empty()) {
      rows += fmt::format("| {} | | no claim in its definition: tables only | | | | |\n", q);
      continue;
    }
    ++questions;
    const std::string twin = paper_twin(e.config);
    for (const auto& r : claims) {
      ++counts[r.verdict];
      auto cells = claim_summary_cells(r);
      if (r.verdict == Verdict::kInconclusive && !twin.empty())
        cells[5] += (cells[5].empty() ? "" : "; ") + std::string("at paper scale: `") + twin + "`";
      cells[2] = "**" + cells[2] + "**";
      for (auto& c : cells) std::replace(c.begin(), c.end(), '|', '/');
      rows += "| " + q + " | `" + cells[0] + "` | " + join({cells[1], cells[2], cells[3], cells[4], cells[5]}, " | ") + " |\n";
    }
  }
  const int total = counts[Verdict::kSupported] + counts[Verdict::kContradicted] + counts[Verdict::kInconclusive];
  return fmt::format(
             "## Verdicts\n\n{} claims over {} questions: {} supported, {} contradicted, {} inconclusive. Each is "
             "tested as the claims table of its question says (docs/CLAIMS.md): paired t-test over common seeds "
             "where the cells are paired, else Welch; Holm-adjusted within the question; one-sided α = 0.05 "
             "(equivalence: two one-sided tests); the interval is the 90% interval of A − B. Inconclusive is not "
             "evidence of no difference: its row gives the smallest effect the test would detect at 80% power and "
             "the seeds its margin would need, and names the paper-scale twin that asks the question at the "
             "papers' scale.\n\n"
             "| question | claim | asserts | verdict | A − B [90% CI] | n (A / B) | if inconclusive |\n"
             "| --- | --- | --- | --- | --- | --- | --- |\n",
             total, questions, counts[Verdict::kSupported], counts[Verdict::kContradicted],
             counts[Verdict::kInconclusive]) +
         rows + "\n";
}

}  // namespace

std::vector<std::string> write_suite_index(const std::string& db_path, const std::vector<SuiteEntry>& entries,
                                           const std::string& out_dir, const std::string& command) {
  auto db = open_readonly(db_path);
  std::vector<std::string> files;
  std::string md = "# Suite: " + std::to_string(entries.size()) + " experiments\n\n`" + command +
                   "`; database `" + db_path + "`; " + wall_time(*db) +
                   ".\n\n| # | experiment | runs | report | question |\n| ---: | --- | --- | --- | --- |\n";
  std::string rows;
  for (size_t i = 0; i < entries.size(); ++i) {
    const auto& e = entries[i];
    std::string q = e.description;
    for (char& c : q)
      if (c == '|' || c == '\n') c = ' ';
    const std::string counts = status_counts(*db, e.name);
    const std::string link = e.report_error.empty() ? "[md](" + e.name + "/report.md), [html](" + e.name + "/report.html)"
                                                    : e.report_error;
    md += fmt::format("| {} | {} | {} | {} | {} |\n", i + 1, e.name, counts, link, q);
    rows += fmt::format("<tr><td class=\"num\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n", i + 1,
                        html_escape(e.name), html_escape(counts),
                        e.report_error.empty() ? "<a href=\"" + html_escape(e.name) + "/report.html\">report</a>"
                                               : html_escape(e.report_error),
                        html_escape(e.description));
  }
  make_dirs(out_dir, "--out");
  write_text(out_dir + "/index.md", md, files, "--out");
  write_text(out_dir + "/index.html",
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>lowbit suite</title>\n"
        "<style>body{font:15px/1.45 sans-serif;max-width:1100px;margin:2em auto}td,th{border:1px solid #ccc;"
        "padding:.3em .6em;vertical-align:top}table{border-collapse:collapse}.num{text-align:right}</style>\n"
        "</head>\n<body>\n<h1>Suite: " + std::to_string(entries.size()) + " experiments</h1>\n<p><code>" +
            html_escape(command) + "</code>; database <code>" + html_escape(db_path) + "</code>; " +
            html_escape(wall_time(*db)) +
            ".</p>\n<table>\n<thead><tr><th>#</th><th>experiment</th><th>runs</th><th>report</th><th>question</th></tr>"
            "</thead>\n<tbody>\n" + rows + "</tbody>\n</table>\n</body>\n</html>\n",
        files, "--out");
  return files;
}

std::vector<std::string> write_results_doc(const std::string& db_path, const std::vector<SuiteEntry>& entries,
                                           const std::string& path, const std::string& command) {
  auto db = open_readonly(db_path);
  std::vector<std::string> files;
  std::string md = "# Results: the reviewer-question suite\n\n";
  md += fmt::format(
      "Generated by `{}` from `{}` (data sha256 `{}`, the digest of its `lowbit dump`, which a restored dump "
      "shares); runs trained by lowbit at {}; {}. Do not edit by hand: the numbers come from the database, the "
      "commentary from the `.md` file beside each config.\n\n"
      "Cells are mean ± standard deviation over seeds, (n) finished seeds, and the 95% Student-t confidence "
      "interval in brackets.\n\n",
      command, db_path, data_digest(db_path), commits_text(*db), wall_time(*db));
  md += verdict_table(*db, entries);
  for (size_t i = 0; i < entries.size(); ++i) md += section(*db, entries[i], i, path, files);
  write_text(path, md, files, "--results");
  return files;
}

}  // namespace lowbit
