// report.html: well-formed, self-contained, and holding every table and plot of report.md.
#include <doctest/doctest.h>

#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "core/util.h"
#include "reports/plots.h"
#include "reports/report.h"
#include "reports/report_html.h"
#include "tracker/store.h"
#include "tests/test_util.h"

using namespace lowbit;
using namespace lowbit::test;

namespace {

// Experiment "h": variants A and B, 2 seeds each; B's seed 1 failed. conv1 has per-layer
// statistics; run 1 carries a tag and a note with characters that HTML must escape.
void build_db(const std::string& path) {
  Store s(path, Store::Open::kMigrate);
  int64_t e = s.upsert_experiment("h", "A & B <compared>",
                                  R"({"name": "h", "variants": {"A": {}, "B": {}}, "seeds": 2})");
  std::vector<PlannedRun> runs;
  for (std::string v : {"A", "B"})
    for (int seed = 0; seed < 2; ++seed) {
      PlannedRun p;
      p.config.seed = seed;
      p.config.optim.lr = v == "A" ? 0.1 : 0.2;
      p.hash = config_hash(p.config);
      p.variant = v;
      runs.push_back(p);
    }
  s.add_runs(e, runs);
  while (auto c = s.claim(e, Provenance{"h", "x", "cpu", 1, 1})) {
    bool a = c->config.optim.lr == 0.1;
    s.begin_run(c->id, 0);
    if (!a && c->config.seed == 1) {
      s.finish_run(c->id, "failed", "loss <nan> & worse", {});
      continue;
    }
    for (int ep = 0; ep < 3; ++ep)
      s.write_epoch(c->id, {ep,
                            3,
                            {{"test_acc", (a ? 0.8 : 0.7) + 0.05 * ep + 0.01 * c->config.seed},
                             {"act_sparsity_mean", 0.5}},
                            {{"conv1", "sparsity", 0.3 + 0.01 * ep}, {"conv1", "macs", 1000},
                             {"relu1", "act_sparsity", 0.4}}});
    s.finish_run(c->id, "done", "", {{"packed_model_bytes", a ? 4096.0 : 1024.0}});
  }
  s.tag_runs({1}, {"outlier"}, {});
  s.add_note(1, "seed <0> looked \"odd\" & was kept");
}

// The fixture database in d, and report options for experiment "h" into d/rep.
ReportOptions built(const TempDir& d) {
  build_db(d / "r.db");
  ReportOptions o;
  o.db = d / "r.db";
  o.experiment = "h";
  o.out_dir = d / "rep";
  return o;
}

// The tags of an HTML document, checked for nesting: every element that is opened is closed
// in order (void elements and self-closing SVG elements excepted); script and style bodies are
// skipped. Returns "" or the first problem.
std::string check_nesting(const std::string& html, std::map<std::string, int>* counts) {
  static const std::set<std::string> kVoid = {"meta", "br", "img", "input", "link", "hr"};
  std::vector<std::string> stack;
  for (size_t p = 0; (p = html.find('<', p)) != std::string::npos;) {
    size_t end = html.find('>', p);
    if (end == std::string::npos) return "unterminated tag at " + std::to_string(p);
    std::string tag = html.substr(p + 1, end - p - 1);
    p = end + 1;
    if (tag.rfind("!DOCTYPE", 0) == 0 || tag.rfind("!--", 0) == 0) continue;
    bool closing = !tag.empty() && tag[0] == '/';
    bool self = !tag.empty() && tag.back() == '/';
    std::string name = tag.substr(closing, tag.find_first_of(" \t\n/", closing) - closing);
    if (closing) {
      if (stack.empty() || stack.back() != name)
        return "</" + name + "> closes <" + (stack.empty() ? "nothing" : stack.back()) + ">";
      stack.pop_back();
      continue;
    }
    if (counts) ++(*counts)[name];
    if (self || kVoid.count(name)) continue;
    if (name == "script" || name == "style") {
      size_t close = html.find("</" + name + ">", p);
      if (close == std::string::npos) return "<" + name + "> never closed";
      p = close + name.size() + 3;
      continue;
    }
    stack.push_back(name);
  }
  return stack.empty() ? "" : "<" + stack.back() + "> never closed";
}

std::string strip_tags(const std::string& s) {
  std::string out = std::regex_replace(s, std::regex("<[^>]*>"), "");
  for (auto [from, to] : std::vector<std::pair<std::string, std::string>>{
           {"&lt;", "<"}, {"&gt;", ">"}, {"&quot;", "\""}, {"&#39;", "'"}, {"&amp;", "&"}})
    for (size_t q = 0; (q = out.find(from, q)) != std::string::npos; q += to.size())
      out.replace(q, from.size(), to);
  return out;
}

// report.md's tables: title -> data rows, each as its cells joined by " | " (bold markers
// dropped).
std::map<std::string, std::vector<std::string>> md_tables(const std::string& md) {
  std::map<std::string, std::vector<std::string>> out;
  std::istringstream in(md);
  std::string line, title;
  int row = 0;
  while (std::getline(in, line)) {
    if (line.rfind("## ", 0) == 0) title = line.substr(3), row = 0;
    if (line.rfind("| ", 0) != 0) continue;
    if (row++ < 2) continue;  // header and rule
    std::string r = std::regex_replace(line.substr(2, line.size() - 4), std::regex("\\*\\*"), "");
    out[title].push_back(r);
  }
  return out;
}

// report.html's tables: title (data-title) -> body rows as cell texts joined by " | ".
std::map<std::string, std::vector<std::string>> html_tables(const std::string& html,
                                                           const std::string& excluded_title) {
  std::map<std::string, std::vector<std::string>> out;
  for (size_t p = 0; (p = html.find("<table", p)) != std::string::npos; ++p) {
    size_t end = html.find("</table>", p);
    std::string t = html.substr(p, end - p);
    std::string title = excluded_title;
    if (size_t c = t.find("data-title=\""); c != std::string::npos && c < t.find('>'))
      title = strip_tags(t.substr(c + 12, t.find('"', c + 12) - c - 12));
    size_t body = t.find("<tbody>");
    for (size_t r = body; (r = t.find("<tr>", r)) != std::string::npos; ++r) {
      std::string tr = t.substr(r, t.find("</tr>", r) - r);
      std::vector<std::string> cells;
      for (size_t d = 0; (d = tr.find("<td", d)) != std::string::npos; ++d)
        cells.push_back(strip_tags(tr.substr(d, tr.find("</td>", d) - d + 5)));
      out[title].push_back(join(cells, " | "));
    }
  }
  return out;
}

}  // namespace

TEST_CASE("report.html: well-formed, self-contained, every table and plot of report.md") {
  REQUIRE_MESSAGE(gnuplot_available(), "gnuplot is missing: run scripts/install-deps.sh");
  TempDir d;
  ReportOptions o = built(d);
  o.baseline = "A";
  auto r = write_report(o);  // the default formats include html
  const std::string md = slurp(r.report_md), html = slurp(d / "rep/report.html");
  REQUIRE(!html.empty());

  // Structure: one document, balanced elements, unique ids, the escaped description.
  CHECK(html.rfind("<!DOCTYPE html>\n<html lang=\"en\">", 0) == 0);
  std::map<std::string, int> counts;
  CHECK(check_nesting(html, &counts) == "");
  CHECK(counts["html"] == 1);
  CHECK(counts["body"] == 1);
  CHECK(counts["script"] == 1);
  std::set<std::string> ids;
  std::smatch m;
  for (auto it = html.cbegin();
       std::regex_search(it, html.cend(), m, std::regex("\\sid=[\"']([^\"']*)[\"']"));
       it = m.suffix().first)
    CHECK_MESSAGE(ids.insert(m[1]).second, "duplicate id " << m[1]);
  CHECK(html.find("<p>A &amp; B &lt;compared&gt;</p>") != std::string::npos);

  // Self-contained: nothing is fetched (the only URLs are the SVG namespaces).
  std::string no_ns = std::regex_replace(html, std::regex("xmlns(:xlink)?=\"[^\"]*\""), "");
  CHECK(no_ns.find("http") == std::string::npos);
  CHECK(html.find(" src=") == std::string::npos);
  CHECK(html.find("<link") == std::string::npos);

  // Every table of report.md, row for row and cell for cell.
  auto mt = md_tables(md), ht = html_tables(html, kExcludedTitle);
  REQUIRE(mt.size() >= 6);  // main, cost, layers, activations, energy, energy per layer, excluded
  for (auto& [title, rows] : mt) {
    INFO(title);
    REQUIRE(ht.count(title) == 1);
    CHECK(ht[title] == rows);
  }
  CHECK(ht.size() == mt.size());
  REQUIRE(ht[kExcludedTitle].size() == 1);
  CHECK(ht[kExcludedTitle][0].find(" | B | 1 | failed | loss <nan> & worse") != std::string::npos);

  // Every plot of report.md: its caption under an inline SVG.
  std::vector<std::string> captions;
  for (auto it = md.cbegin(); std::regex_search(it, md.cend(), m, std::regex("!\\[([^\\]]*)\\]\\("));
       it = m.suffix().first)
    captions.push_back(m[1]);
  REQUIRE(captions.size() >= 4);
  CHECK(counts["svg"] == int(captions.size()));
  CHECK(counts["figure"] == int(captions.size()));
  for (auto& c : captions) {
    INFO(c);
    size_t f = html.find("<figcaption>" + html_escape(c) + "</figcaption>");
    REQUIRE(f != std::string::npos);
    size_t fig = html.rfind("<figure", f);
    CHECK(html.find("<svg class=\"plot\" role=\"img\"", fig) < f);
  }

  // The per-layer tables and curves are in the collapsible section; the rest is not.
  size_t details = html.find("<details id=\"per-layer\">"), details_end = html.find("</details>");
  REQUIRE(details != std::string::npos);
  CHECK(html.find("h: weight layers at the last epoch", details) < details_end);
  CHECK(html.find("Weight sparsity per layer</figcaption>", details) < details_end);
  CHECK(html.find("Test accuracy (mean ± std over seeds)</figcaption>") > details_end);

  // Sortable: numeric cells sort by their unscaled mean; the script is inline.
  CHECK(html.find("<table class=\"lb-table sortable\" id=\"table-main\" data-title=\"h: test_acc "
                  "(final), %\">") != std::string::npos);
  // A's final test_acc: (0.90 + 0.91) / 2, to the last digit that fmt prints.
  size_t main_at = html.find("id=\"table-main\""), sort_at = html.find("data-sort=\"", main_at);
  REQUIRE(sort_at != std::string::npos);
  CHECK(std::stod(html.substr(sort_at + 11)) == doctest::Approx(0.905).epsilon(1e-12));
  CHECK(html.find("addEventListener('click'") != std::string::npos);

  // Notes and provenance, escaped.
  CHECK(html.find("<code>outlier</code>") != std::string::npos);
  CHECK(html.find("note: seed &lt;0&gt; looked &quot;odd&quot; &amp; was kept") !=
        std::string::npos);
  CHECK(html.find("<footer id=\"provenance\">") != std::string::npos);
  CHECK(html.find("SELECT run_id, epoch, value FROM metrics") != std::string::npos);
}

TEST_CASE("report.html: --format html alone writes report.md and report.html, no per-table files") {
  TempDir d;
  ReportOptions o = built(d);
  o.formats = {"html"};
  o.plots = false;
  auto r = write_report(o);
  CHECK(is_file(d / "rep/report.html"));
  CHECK(is_file(d / "rep/report.md"));
  CHECK_FALSE(is_file(d / "rep/main.csv"));
  CHECK_FALSE(is_file(d / "rep/main.html"));
  CHECK(check_nesting(slurp(d / "rep/report.html"), nullptr) == "");
  o.formats = {"pdf"};
  CHECK_THROWS_WITH(write_report(o), "--format: unknown format 'pdf' (md, csv, tex, html)");
}

TEST_CASE("report.html: inline_svg prefixes every id and each reference to it") {
  std::string svg =
      "<?xml version=\"1.0\"?>\n<svg viewBox='0 0 1 1'>\n<g id=\"gnuplot_canvas\">"
      "<defs><path id='gpPt7' d='M0'/><use xlink:href='#gpPt7' id='gpPt8'/></defs>"
      "<use xlink:href='#gpPt8' fill='#ff0000'/><rect fill='url(#gpPt7)'/>"
      "<text>#gpPt7 stays</text></g></svg>";
  std::string out = inline_svg(svg, "f3-");
  CHECK(out ==
        "<svg viewBox='0 0 1 1'>\n<g id=\"f3-gnuplot_canvas\">"
        "<defs><path id='f3-gpPt7' d='M0'/><use xlink:href='#f3-gpPt7' id='f3-gpPt8'/></defs>"
        "<use xlink:href='#f3-gpPt8' fill='#ff0000'/><rect fill='url(#f3-gpPt7)'/>"
        "<text>#gpPt7 stays</text></g></svg>");
  CHECK(inline_md_html("a `b<c>` **d** & e") == "a <code>b&lt;c&gt;</code> <strong>d</strong> &amp; e");
}
