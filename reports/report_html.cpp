#include "reports/report_html.h"

#include <cctype>
#include <set>

#include <fmt/format.h>

#include "core/file_io.h"
#include "core/util.h"

namespace lowbit {

namespace {

// Kept short and plain: the page must read well printed and without the script.
constexpr const char* kStyle = R"(
body{font:15px/1.45 -apple-system,"Segoe UI",Helvetica,Arial,sans-serif;color:#1b1b1b;max-width:1100px;margin:2em auto;padding:0 1em}
h1{font-size:1.7em;margin-bottom:.2em}h2{font-size:1.25em;margin-top:1.8em;border-bottom:1px solid #ddd;padding-bottom:.2em}
nav ul{columns:2;font-size:.92em}code,pre{font-family:Menlo,Consolas,monospace;font-size:.88em}
pre{background:#f6f6f6;padding:.7em;overflow-x:auto}
.scroll{overflow-x:auto}
table.lb-table{border-collapse:collapse;margin:.6em 0 1.2em;font-size:.92em}
p.note{color:#444;font-size:.92em;margin-bottom:.3em}
table.lb-table th,table.lb-table td{border:1px solid #d0d0d0;padding:.25em .6em;white-space:nowrap}
table.lb-table th{background:#f0f3f7;cursor:pointer;user-select:none}
table.lb-table th[aria-sort=ascending]::after{content:" \25B2"}
table.lb-table th[aria-sort=descending]::after{content:" \25BC"}
table.lb-table td.num,table.lb-table th.num{text-align:right}
table.lb-table tbody tr:nth-child(even){background:#fafafa}
figure{margin:1em 0 2em}figure svg{width:100%;max-width:820px;height:auto;display:block}
figcaption{color:#444;font-size:.92em}
details{margin:1.5em 0;border:1px solid #ddd;padding:.3em .8em}
details>summary{font-weight:600;font-size:1.15em;cursor:pointer;padding:.3em 0}
footer{margin-top:3em;border-top:1px solid #ccc;font-size:.9em;color:#333}
)";

// Click a header to sort its table by that column (numbers by value via data-sort, the rest
// as text; empty cells last either way); click again to reverse.
constexpr const char* kScript = R"(
(function(){
  function key(row, col){
    var c = row.cells[col]; if (!c) return '';
    var s = c.getAttribute('data-sort'); return s === null ? c.textContent.trim() : s;
  }
  function sortBy(table, th, col){
    var asc = th.getAttribute('aria-sort') !== 'ascending';
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function(h){ h.removeAttribute('aria-sort'); });
    th.setAttribute('aria-sort', asc ? 'ascending' : 'descending');
    var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
    rows.sort(function(a, b){
      var x = key(a, col), y = key(b, col);
      if (x === '' || y === '') return x === y ? 0 : (x === '' ? 1 : -1);
      var nx = Number(x), ny = Number(y);
      var d = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y);
      return asc ? d : -d;
    });
    rows.forEach(function(r){ body.appendChild(r); });
  }
  Array.prototype.forEach.call(document.querySelectorAll('table.sortable'), function(table){
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function(th, col){
      th.tabIndex = 0; th.title = 'sort by this column';
      th.addEventListener('click', function(){ sortBy(table, th, col); });
      th.addEventListener('keydown', function(e){ if (e.key === 'Enter') sortBy(table, th, col); });
    });
  });
})();
)";

bool id_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.' || c == ':';
}

// The anchor of a section: "section-<n>".
std::string anchor(size_t n) { return "section-" + std::to_string(n); }

std::string figure(const PlotRef& p, size_t n) {
  std::string out = "<figure id=\"figure-" + std::to_string(n) + "\">\n";
  std::string svg = p.svg.empty() ? "" : read_file(p.svg);
  if (svg.find("<svg") == std::string::npos)
    out += "<p>(the SVG of this plot, " + html_escape(p.svg.empty() ? p.png : p.svg) +
           ", could not be read)</p>\n";
  else {
    svg = inline_svg(svg, "f" + std::to_string(n) + "-");
    svg.replace(svg.find("<svg"), 4,
                "<svg class=\"plot\" role=\"img\" aria-label=\"" + html_escape(p.caption) + "\"");
    out += svg + "\n";
  }
  return out + "<figcaption>" + html_escape(p.caption) + "</figcaption>\n</figure>\n";
}

std::string table_block(const AggTable& t) {
  return "<div class=\"scroll\">\n" + render_html(t) + "</div>\n";
}

std::string excluded_block(const std::vector<std::vector<std::string>>& rows) {
  std::string out = "<p>" + html_escape(kExcludedNote) +
                    "</p>\n<div class=\"scroll\">\n<table class=\"lb-table sortable\" "
                    "id=\"table-excluded\">\n<thead><tr><th scope=\"col\" class=\"num\">run</th>"
                    "<th scope=\"col\">variant</th><th scope=\"col\" class=\"num\">seed</th>"
                    "<th scope=\"col\">status</th><th scope=\"col\">why</th></tr></thead>\n<tbody>\n";
  for (auto& r : rows) {
    out += "<tr>";
    for (size_t i = 0; i < r.size(); ++i)
      out += std::string(i == 0 || i == 2 ? "<td class=\"num\">" : "<td>") + html_escape(r[i]) +
             "</td>";
    out += "</tr>\n";
  }
  return out + "</tbody>\n</table>\n</div>\n";
}

std::string list_block(const std::vector<std::string>& items) {
  std::string out = "<ul>\n";
  for (auto& i : items) out += "<li>" + inline_md_html(i) + "</li>\n";
  return out + "</ul>\n";
}

std::string footer(const HtmlReport& r) {
  std::string out = "<footer id=\"provenance\">\n<h3>Provenance</h3>\n<ul>\n";
  for (auto& i : r.provenance) out += "<li>" + inline_md_html(i) + "</li>\n";
  out += "<li>queries behind the tables:</li>\n</ul>\n<pre><code class=\"sql\">";
  for (auto& q : r.queries) out += html_escape(q) + ";\n";
  return out + "</code></pre>\n</footer>\n";
}

// The collapsible per-layer section: per-layer tables, then per-layer curves.
std::string per_layer_block(const HtmlReport& r, size_t& figure_no) {
  std::string inner;
  size_t tables = 0, plots = 0;
  for (auto& [t, per_layer] : r.tables)
    if (per_layer) inner += "<h3>" + html_escape(t.title) + "</h3>\n" + table_block(t), ++tables;
  for (auto& p : r.plots)
    if (p.per_layer) inner += figure(p, figure_no++), ++plots;
  if (inner.empty()) return "";
  return fmt::format("<details id=\"per-layer\">\n<summary>{} ({} tables, {} plots)</summary>\n",
                     kPerLayerTitle, tables, plots) +
         inner + "</details>\n";
}

}  // namespace

std::string inline_svg(const std::string& svg, const std::string& prefix) {
  size_t start = svg.find("<svg");
  if (start == std::string::npos) return svg;
  std::string s = svg.substr(start);
  // Every id the figure defines.
  std::set<std::string> ids;
  for (size_t p = 0; (p = s.find("id=", p)) != std::string::npos; p += 3) {
    if (p == 0 || !std::isspace(static_cast<unsigned char>(s[p - 1])) || p + 3 >= s.size()) continue;
    char q = s[p + 3];
    if (q != '\'' && q != '"') continue;
    size_t end = s.find(q, p + 4);
    if (end != std::string::npos) ids.insert(s.substr(p + 4, end - p - 4));
  }
  std::string out;
  out.reserve(s.size() + ids.size() * 8);
  for (size_t i = 0; i < s.size(); ++i) {
    out += s[i];
    bool def = i >= 3 && s.compare(i - 3, 3, "id=") == 0 && (s[i] == '\'' || s[i] == '"') &&
               std::isspace(static_cast<unsigned char>(s[i - 4]));
    if (def) {
      out += prefix;
      continue;
    }
    if (s[i] != '#') continue;
    size_t e = i + 1;
    while (e < s.size() && id_char(s[e])) ++e;
    if (e < s.size() && (s[e] == '\'' || s[e] == '"' || s[e] == ')') &&
        ids.count(s.substr(i + 1, e - i - 1)))
      out += prefix;
  }
  return out;
}

std::string inline_md_html(const std::string& s) {
  std::string out;
  bool code = false, bold = false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '`') {
      out += code ? "</code>" : "<code>";
      code = !code;
    } else if (!code && s.compare(i, 2, "**") == 0) {
      out += bold ? "</strong>" : "<strong>";
      bold = !bold;
      ++i;
    } else {
      out += html_escape(std::string(1, s[i]));
    }
  }
  if (code) out += "</code>";
  if (bold) out += "</strong>";
  return out;
}

std::string render_report_html(const HtmlReport& r) {
  // Sections in page order, each with a heading for the contents list.
  std::vector<std::pair<std::string, std::string>> sections;  // heading, body
  if (!r.claims.empty()) sections.push_back({kClaimsTitle, r.claims});
  for (auto& [t, per_layer] : r.tables)
    if (!per_layer) sections.push_back({t.title, table_block(t)});
  size_t figure_no = 0;
  std::string layers = per_layer_block(r, figure_no);
  if (!r.excluded.empty()) sections.push_back({kExcludedTitle, excluded_block(r.excluded)});
  if (!r.notes.empty()) sections.push_back({kNotesTitle, list_block(r.notes)});
  std::string curves;
  for (auto& p : r.plots)
    if (!p.per_layer) curves += figure(p, figure_no++);
  if (!curves.empty()) sections.push_back({"Curves", curves});

  std::string html = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                     "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                     "<meta name=\"generator\" content=\"lowbit " LOWBIT_VERSION "\">\n<title>" +
                     html_escape(r.title) + " — lowbit report</title>\n<style>" + kStyle +
                     "</style>\n</head>\n<body>\n<header>\n<h1>" + html_escape(r.title) + "</h1>\n";
  if (!r.description.empty()) html += "<p>" + html_escape(r.description) + "</p>\n";
  html += "<p>" + html_escape(r.summary) + "</p>\n</header>\n<nav>\n<ul>\n";
  for (size_t i = 0; i < sections.size(); ++i)
    html += "<li><a href=\"#" + anchor(i) + "\">" + html_escape(sections[i].first) + "</a></li>\n";
  if (!layers.empty())
    html += std::string("<li><a href=\"#per-layer\">") + kPerLayerTitle + "</a></li>\n";
  html += "<li><a href=\"#provenance\">Provenance</a></li>\n</ul>\n</nav>\n<main>\n";
  // The per-layer section sits after the tables, before excluded runs, notes and curves.
  size_t n_tables = r.claims.empty() ? 0 : 1;
  for (auto& t : r.tables) n_tables += !t.second;
  for (size_t i = 0; i < sections.size(); ++i) {
    if (i == n_tables) html += layers;
    html += "<section id=\"" + anchor(i) + "\">\n<h2>" + html_escape(sections[i].first) +
            "</h2>\n" + sections[i].second + "</section>\n";
  }
  if (n_tables >= sections.size()) html += layers;
  return html + "</main>\n" + footer(r) + "<script>" + kScript + "</script>\n</body>\n</html>\n";
}

}  // namespace lowbit
