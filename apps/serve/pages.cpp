#include "apps/serve/pages.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <mutex>
#include <cmath>
#include <cstdlib>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/file_io.h"
#include "core/util.h"
#include "experiments/slurm_grid.h"
#include "experiments/worker_process.h"
#include "reports/diff.h"
#include "reports/report.h"
#include "reports/stats.h"
#include "tracker/queries.h"
#include "tracker/selectors.h"

namespace lowbit::web {

namespace {

constexpr int64_t kPageRows = 50;
constexpr size_t kMaxParam = 4000;

const char* kStyle = R"(<style>
body{font:14px/1.4 system-ui,sans-serif;margin:0 1.5em 2em;color:#222}
nav{padding:.6em 0;border-bottom:1px solid #ccc;margin-bottom:1em}nav a{margin-right:1em}
table{border-collapse:collapse;margin:.5em 0}td,th{padding:.2em .6em;border-bottom:1px solid #e4e4e4;text-align:left}
th a{color:inherit}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
.status-done{color:#1a7f37}.status-failed,.status-diverged{color:#c62828}.status-running{color:#1565c0}
pre{background:#f6f6f6;padding:.6em;overflow:auto;max-height:30em}svg.chart{max-width:100%;height:auto}
form.filter input[type=text]{width:40em}.muted{color:#777}
</style>)";

// Refreshes each experiment's counts and ETA from /api/progress every 3 seconds.
const char* kPollScript = R"(<script>
(function(){
  function poll(){
    fetch('api/progress' + location.search).then(function(r){ return r.json(); }).then(function(exps){
      exps.forEach(function(e){
        e.counts.forEach(function(c){
          var el = document.getElementById('n-' + e.name + '-' + c[0]); if (el) el.textContent = c[1];
        });
        var eta = document.getElementById('eta-' + e.name); if (eta) eta.textContent = e.eta;
        var tot = document.getElementById('total-' + e.name); if (tot) tot.textContent = e.total;
      });
    }).catch(function(){});
    var shards = document.getElementById('shards');
    if (shards) fetch('api/shards' + location.search).then(function(r){ return r.text(); })
      .then(function(t){ shards.textContent = t; }).catch(function(){});
  }
  setInterval(poll, 3000);
})();
</script>)";

std::string esc(const std::string& s) { return html_escape(s); }

std::string shell(const std::string& title, const std::string& body, size_t db_ix, const std::string& head = "") {
  return fmt::format(
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{} — lowbit</title>{}{}</head>\n"
      "<body><nav><a href=\"/?db={}\">experiments</a><span class=\"muted\">lowbit serve (read-only)</span></nav>\n"
      "<h1>{}</h1>\n{}</body></html>\n",
      esc(title), kStyle, head, db_ix, esc(title), body);
}

std::string duration_text(double s) { return s < 0 ? "?" : format_duration(s); }

int64_t int_param(const Params& p, const std::string& name, int64_t fallback, int64_t lo, int64_t hi) {
  const std::string v = param(p, name);
  if (v.empty()) return fallback;
  char* end = nullptr;
  const long long n = std::strtoll(v.c_str(), &end, 10);
  if (*end != '\0' || n < lo || n > hi)
    throw ConfigError(fmt::format("{}={}: expected a whole number in {}..{}", name, truncate_for_message(v), lo, hi));
  return n;
}

std::vector<std::string> params(const Params& p, const std::string& name) {
  std::vector<std::string> out;
  for (auto [it, end] = p.equal_range(name); it != end; ++it)
    if (!it->second.empty()) {
      if (it->second.size() > kMaxParam) throw ConfigError(name + ": a value longer than 4000 characters");
      out.push_back(it->second);
    }
  return out;
}

std::string cell_text(const SqlValue& v) {
  if (auto* d = std::get_if<double>(&v)) return fmt::format("{:.6g}", *d);
  return sql_value_text(v);
}

// The per-epoch series of `metric` over the runs' metrics: x = epoch, mean and std over the
// runs that have it, as the report's tables compute them (reports/stats.h, summarize).
Curve curve_of(const std::string& label, const std::vector<EpochMetrics>& runs, const std::string& metric) {
  std::map<int64_t, std::vector<double>> by_epoch;
  for (const EpochMetrics& m : runs)
    for (auto& [k, v] : m)
      if (k.second == metric && std::isfinite(v)) by_epoch[k.first].push_back(v);
  Curve c;
  c.label = label;
  for (auto& [epoch, vs] : by_epoch) {
    const Summary s = summarize(vs);
    c.x.push_back(double(epoch));
    c.mean.push_back(s.mean);
    c.std.push_back(s.std);
  }
  return c;
}

}  // namespace

std::string param(const Params& p, const std::string& name, const std::string& fallback) {
  auto it = p.find(name);
  if (it == p.end()) return fallback;
  if (it->second.size() > kMaxParam) throw ConfigError(name + ": a value longer than 4000 characters");
  return it->second;
}

size_t db_index(const Site& site, const Params& p) {
  return size_t(int_param(p, "db", 0, 0, int64_t(site.dbs.size()) - 1));
}

std::string url_encode(const std::string& s) {
  std::string out;
  for (unsigned char c : s)
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~')
      out += char(c);
    else
      out += fmt::format("%{:02X}", c);
  return out;
}

std::string svg_chart(const std::string& title, const std::string& xlabel, const std::vector<Curve>& curves) {
  static const char* kColors[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"};
  const double W = 700, H = 300, L = 60, R = 200, T = 30, B = 40;
  double x0 = 1e300, x1 = -1e300, y0 = 1e300, y1 = -1e300;
  for (auto& c : curves)
    for (size_t i = 0; i < c.x.size(); ++i) {
      x0 = std::min(x0, c.x[i]), x1 = std::max(x1, c.x[i]);
      y0 = std::min(y0, c.mean[i] - c.std[i]), y1 = std::max(y1, c.mean[i] + c.std[i]);
    }
  std::string out = fmt::format(
      "<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {} {}\" width=\"{}\" height=\"{}\" "
      "role=\"img\" aria-label=\"{}\"><text x=\"{}\" y=\"18\" font-size=\"14\">{}</text>\n",
      W, H, W, H, esc(title), L, esc(title));
  if (x0 > x1) return out + fmt::format("<text x=\"{}\" y=\"{}\">no values yet</text></svg>\n", L, H / 2);
  if (x1 == x0) x0 -= 1, x1 += 1;
  if (y1 == y0) y0 -= 1e-3 + std::abs(y0) * 0.05, y1 += 1e-3 + std::abs(y1) * 0.05;
  auto px = [&](double x) { return L + (x - x0) / (x1 - x0) * (W - L - R); };
  auto py = [&](double y) { return H - B - (y - y0) / (y1 - y0) * (H - T - B); };
  out += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#999\"/>\n", L, T,
                     W - L - R, H - T - B);
  for (int i = 0; i <= 4; ++i) {
    const double yv = y0 + (y1 - y0) * i / 4, xv = x0 + (x1 - x0) * i / 4;
    out += fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"end\">{:.4g}</text>\n", L - 4,
                       py(yv) + 4, yv);
    out += fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"middle\">{:.4g}</text>\n", px(xv),
                       H - B + 14, xv);
  }
  out += fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"12\" text-anchor=\"middle\">{}</text>\n",
                     (L + W - R) / 2, H - 6, esc(xlabel));
  for (size_t k = 0; k < curves.size(); ++k) {
    const auto& c = curves[k];
    const char* color = kColors[k % 8];
    std::string band, line;
    for (size_t i = 0; i < c.x.size(); ++i) band += fmt::format("{:.1f},{:.1f} ", px(c.x[i]), py(c.mean[i] + c.std[i]));
    for (size_t i = c.x.size(); i-- > 0;) band += fmt::format("{:.1f},{:.1f} ", px(c.x[i]), py(c.mean[i] - c.std[i]));
    for (size_t i = 0; i < c.x.size(); ++i) line += fmt::format("{:.1f},{:.1f} ", px(c.x[i]), py(c.mean[i]));
    out += fmt::format("<polygon class=\"band\" points=\"{}\" fill=\"{}\" fill-opacity=\"0.18\" stroke=\"none\"/>\n",
                       band, color);
    out += fmt::format("<polyline class=\"curve\" points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\"/>\n",
                       line, color);
    if (c.x.size() == 1)
      out += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"3\" fill=\"{}\"/>\n", px(c.x[0]), py(c.mean[0]), color);
    out += fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"12\" fill=\"{}\">{}</text>\n", W - R + 8, T + 14 + 16 * k,
                       color, esc(c.label.size() > 26 ? c.label.substr(0, 25) + "…" : c.label));
  }
  return out + "</svg>\n";
}

std::string error_page(int status, const std::string& message) {
  return fmt::format(
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{} — lowbit</title>{}</head>"
      "<body><nav><a href=\"/\">experiments</a></nav><h1>{}</h1><p class=\"error\">{}</p></body></html>\n",
      status, kStyle, status, esc(message));
}

std::string progress_json(Db& db) {
  nlohmann::json out = nlohmann::json::array();
  for (auto& e : experiments_progress(db)) {
    nlohmann::json counts = nlohmann::json::array();
    for (auto& [s, n] : e.counts) counts.push_back({s, n});
    out.push_back({{"name", e.name}, {"total", e.total}, {"counts", counts}, {"eta", duration_text(e.eta_seconds)}});
  }
  return out.dump();
}

std::string shards_text(const Site& site) {
  if (site.shard_dir.empty()) return "(no --shard-dir)";
  try {
    return shard_status_report(site.shard_dir);
  } catch (const std::exception& e) {
    return e.what();
  }
}

std::string experiments_page(const Site& site, Db& db, size_t db_ix) {
  std::string body;
  if (site.dbs.size() > 1) {
    body += "<p>databases:";
    for (size_t i = 0; i < site.dbs.size(); ++i)
      body += fmt::format(" <a href=\"/?db={}\">{}</a>", i, esc(site.dbs[i]));
    body += "</p>\n";
  }
  const auto exps = experiments_progress(db);
  body += fmt::format("<p>{} ({} experiment{}); counts refresh every 3 s.</p>\n", esc(site.dbs[db_ix]), exps.size(),
                      exps.size() == 1 ? "" : "s");
  body += "<table id=\"experiments\"><thead><tr><th>experiment</th><th class=\"num\">runs</th>";
  for (RunStatus s : all_run_statuses()) body += fmt::format("<th class=\"num\">{}</th>", to_string(s));
  body += "<th>ETA</th><th></th></tr></thead><tbody>\n";
  for (auto& e : exps) {
    body += fmt::format("<tr><td><a href=\"/runs?db={}&amp;e={}\">{}</a></td><td class=\"num\" id=\"total-{}\">{}</td>",
                        db_ix, url_encode(e.name), esc(e.name), esc(e.name), e.total);
    for (auto& [s, n] : e.counts)
      body += fmt::format("<td class=\"num status-{}\" id=\"n-{}-{}\">{}</td>", s, esc(e.name), s, n);
    body += fmt::format("<td id=\"eta-{}\">{}</td><td><a href=\"/report?db={}&amp;e={}\">report</a></td></tr>\n",
                        esc(e.name), duration_text(e.eta_seconds), db_ix, url_encode(e.name));
  }
  body += "</tbody></table>\n";
  if (!site.shard_dir.empty())
    body += "<h2>Slurm shards: " + esc(site.shard_dir) + "</h2>\n<pre id=\"shards\">" + esc(shards_text(site)) + "</pre>\n";
  return shell("experiments", body, db_ix, kPollScript);
}

std::string runs_page(const Site& site, Db& db, size_t db_ix, const Params& p) {
  const std::string exp = param(p, "e"), sort = param(p, "sort"), where = param(p, "where");
  const bool desc = param(p, "desc") == "1";
  const int64_t page = int_param(p, "page", 0, 0, 100000000);
  const RunPage rp = query_runs_page(db, exp, where.empty() ? std::vector<std::string>{} : std::vector<std::string>{where},
                                     sort, desc, page * kPageRows, kPageRows);
  const std::string base = fmt::format("/runs?db={}&amp;e={}&amp;where={}", db_ix, url_encode(exp), url_encode(where));
  std::string body = fmt::format(
      "<form class=\"filter\" method=\"get\" action=\"/runs\"><input type=\"hidden\" name=\"db\" value=\"{}\">"
      "<input type=\"hidden\" name=\"e\" value=\"{}\"><input type=\"text\" name=\"where\" value=\"{}\" "
      "placeholder=\"quant.method in (ttq, slb) and quant.bits &lt;= 2 (docs/QUERY.md)\"> <button>filter</button></form>\n",
      db_ix, esc(exp), esc(where));
  const int64_t last = std::max<int64_t>(0, (rp.total - 1) / kPageRows);
  body += fmt::format("<p id=\"count\">{} run{}{}, page {} of {}", rp.total, rp.total == 1 ? "" : "s",
                      where.empty() ? "" : " where " + esc(where), page + 1, last + 1);
  const std::string keep = fmt::format("{}&amp;sort={}&amp;desc={}", base, url_encode(sort), desc ? 1 : 0);
  if (page > 0) body += fmt::format(" · <a rel=\"prev\" href=\"{}&amp;page={}\">previous</a>", keep, page - 1);
  if (page < last) body += fmt::format(" · <a rel=\"next\" href=\"{}&amp;page={}\">next</a>", keep, page + 1);
  body += fmt::format("</p>\n<form method=\"get\" action=\"/compare\"><input type=\"hidden\" name=\"db\" value=\"{}\">"
                      "<button id=\"compare\">compare selected</button> <span class=\"muted\">(run: that run; cell: "
                      "the done seeds of its cell, mean ± std)</span>\n<table id=\"runs\"><thead><tr><th>run</th><th>cell</th>",
                      db_ix);
  for (auto& c : rp.table.columns) {
    const bool now = c == sort || (sort.empty() && c == "run");
    body += fmt::format("<th><a class=\"sort\" href=\"{}&amp;sort={}&amp;desc={}\">{}{}</a></th>", base, url_encode(c),
                        now && !desc ? 1 : 0, esc(c), now ? (desc ? " ▼" : " ▲") : "");
  }
  body += "</tr></thead><tbody>\n";
  for (auto& row : rp.table.rows) {
    const std::string id = cell_text(row[0]);
    body += fmt::format("<tr><td><input type=\"checkbox\" name=\"sel\" value=\"{}\"></td><td><input "
                        "type=\"checkbox\" name=\"sel\" class=\"cell\" value=\"cell:{}\"></td>",
                        esc(id), esc(id));
    for (size_t i = 0; i < row.size(); ++i) {
      const std::string text = cell_text(row[i]);
      const std::string& col = rp.table.columns[i];
      if (i == 0)
        body += fmt::format("<td class=\"num\"><a href=\"/run?db={}&amp;id={}\">{}</a></td>", db_ix, esc(id), esc(id));
      else if (col == "status")
        body += fmt::format("<td class=\"status-{}\">{}</td>", esc(text), esc(text));
      else if (auto* d = std::get_if<double>(&row[i]))  // bytes whole, seconds to the hundredth
        body += fmt::format("<td class=\"num\">{}</td>", esc(output_value_text(col, *d)));
      else
        body += fmt::format("<td>{}</td>", esc(truncate_for_message(text, 80)));
    }
    body += "</tr>\n";
  }
  body += "</tbody></table></form>\n";
  return shell(exp.empty() ? "runs" : exp + ": runs", body, db_ix);
}

namespace {
// The run's last 10 epochs, its main metrics one row each: what a log's tail would say (lowbit
// keeps no text log per run; these rows are what the worker recorded).
std::string latest_epochs(const EpochMetrics& metrics) {
  std::map<int64_t, std::map<std::string, double>> rows;
  for (auto& [k, v] : metrics) rows[k.first][k.second] = v;
  const std::vector<std::string> cols = {"train_loss", "train_acc", "test_loss", "test_acc", "val_acc", "lr",
                                         "temperature", "epoch_seconds"};
  std::string out = "<h2>Latest epochs</h2>\n<table id=\"epochs\"><thead><tr><th class=\"num\">epoch</th>";
  std::vector<std::string> shown;
  for (auto& c : cols)
    for (auto& [e, m] : rows)
      if (m.count(c)) {
        shown.push_back(c), out += "<th class=\"num\">" + esc(c) + "</th>";
        break;
      }
  out += "</tr></thead><tbody>\n";
  size_t skip = rows.size() > 10 ? rows.size() - 10 : 0;
  for (auto& [e, m] : rows) {
    if (skip > 0 && skip--) continue;
    out += fmt::format("<tr><td class=\"num\">{}</td>", e);
    for (auto& c : shown)
      out += m.count(c) ? fmt::format("<td class=\"num\">{}</td>", esc(output_value_text(c, m.at(c)))) : "<td></td>";
    out += "</tr>\n";
  }
  return out + "</tbody></table>\n";
}
}  // namespace

namespace {
// The last 40 lines of the run's log (kRunLogFile in <db>.runs/<hash>, or the directory of the
// hash it had before schema 7), if the worker wrote one. The path comes from the database's
// hash, never from the request; a hash that is not hex digits names no file.
std::string log_tail(const std::string& db, const std::string& hash, const std::string& legacy) {
  auto hex = [](const std::string& h) {
    return !h.empty() && h.size() <= 64 && h.find_first_not_of("0123456789abcdef") == std::string::npos;
  };
  for (const std::string& hsh : {hash, legacy}) {
    if (!hex(hsh)) continue;
    const std::string path = run_dir(db, hsh) + "/" + kRunLogFile;
    if (!is_file(path)) continue;
    std::string text = read_file(path);
    size_t from = text.size(), lines = 0;
    while (from > 0 && lines <= 40)
      if (text[--from] == '\n') ++lines;
    if (lines > 40) text = text.substr(from + 1);
    return "<h2>Log</h2>\n<p class=\"muted\">the last 40 lines of " + esc(path) + "</p>\n<pre id=\"log\">" +
           esc(text) + "</pre>\n";
  }
  return "";
}
}  // namespace

std::string run_page(const Site& site, Db& db, size_t db_ix, const Params& p) {
  const int64_t id = int_param(p, "id", -1, 1, INT64_MAX);
  if (id < 0) throw ConfigError("id: which run? (/run?id=N)");
  const Table head = run_head(db, id);
  if (head.rows.empty()) throw StoreError(fmt::format("no run {} in {}", id, site.dbs[db_ix]), true);
  const auto& h = head.rows[0];
  const std::string status = cell_text(h[4]);
  std::string body = fmt::format(
      "<p>experiment <a href=\"/runs?db={}&amp;e={}\">{}</a> · variant {} · seed {} · <span class=\"status-{}\" "
      "id=\"status\">{}</span> · epoch {} · hash {}</p>\n",
      db_ix, url_encode(cell_text(h[1])), esc(cell_text(h[1])), esc(cell_text(h[2])), esc(cell_text(h[3])), esc(status),
      esc(status), esc(cell_text(h[6])), esc(cell_text(h[5])));
  if (!cell_text(h[7]).empty()) body += "<p class=\"error\">" + esc(cell_text(h[7])) + "</p>\n";
  const EpochMetrics metrics = run_metrics(db, id);
  std::set<std::string> keys;
  for (auto& [k, v] : metrics) keys.insert(k.second);
  body += "<h2>Curves</h2>\n";
  for (const char* m : {"test_acc", "train_loss", "train_acc", "test_loss", "val_acc", "temperature", "act_sparsity_mean",
                        "lr", "test_acc_soft"})
    if (keys.count(m)) body += svg_chart(m, "epoch", {curve_of("run " + std::to_string(id), {metrics}, m)});
  if (metrics.empty()) body += "<p>no epoch recorded yet</p>\n";
  body += latest_epochs(metrics);
  body += log_tail(site.dbs[db_ix], cell_text(h[5]), cell_text(h[8]));
  body += "<h2>Last epoch, per layer</h2>\n<table id=\"layers\"><thead><tr><th>layer</th><th>key</th><th "
          "class=\"num\">value</th></tr></thead><tbody>\n";
  for (auto& [layer, key, value] : run_last_layer_stats(db, id))
    body += fmt::format("<tr><td>{}</td><td>{}</td><td class=\"num\">{:.6g}</td></tr>\n", esc(layer), esc(key), value);
  body += "</tbody></table>\n<h2>Provenance</h2>\n<table id=\"provenance\"><tbody>\n";
  for (auto& [k, v] : run_provenance(db, id))
    body += fmt::format("<tr><th>{}</th><td>{}</td></tr>\n", esc(k), esc(v));
  body += "</tbody></table>\n<h2>Config</h2>\n<table id=\"config\"><tbody>\n";
  for (auto& [k, v] : run_config_text(db, id)) body += fmt::format("<tr><th>{}</th><td>{}</td></tr>\n", esc(k), esc(v));
  body += "</tbody></table>\n";
  const auto notes = run_notes(db, id);
  if (!notes.empty()) {
    body += "<h2>Notes</h2>\n<ul>\n";
    for (auto& [at, text] : notes) body += "<li>" + esc(at) + ": " + esc(text) + "</li>\n";
    body += "</ul>\n";
  }
  // A live run's page reloads itself: its curves grow as epochs are recorded.
  const std::string head_extra = status == "running" ? "<meta http-equiv=\"refresh\" content=\"5\">" : "";
  return shell(fmt::format("run {}", id), body, db_ix, head_extra);
}

namespace {
// "cell:<run id>": the done seeds of that run's cell (as a report's cell), labelled like lowbit diff's cells.
RunSelection cell_of(Db& db, const std::string& sel) {
  const RunSelection run = resolve_selector(db, sel.substr(5));
  RunSelection cell{sel, "", done_runs_of_cell(db, run.runs.at(0)), true, 0};
  cell.seeds = int64_t(cell.runs.size());
  const Table head = run_head(db, run.runs.at(0));
  cell.label = fmt::format("{}:{} ({} done)", cell_text(head.rows.at(0)[1]), cell_text(head.rows.at(0)[2]), cell.runs.size());
  return cell;
}
}  // namespace

std::string compare_page(const Site& site, Db& db, size_t db_ix, const Params& p) {
  const std::vector<std::string> sels = params(p, "sel");
  if (sels.empty()) throw ConfigError("sel: choose runs or cells to compare (/compare?sel=12&sel=exp:variant)");
  if (sels.size() > 16) throw ConfigError(fmt::format("sel: {} selections; compare at most 16", sels.size()));
  const std::string metric = param(p, "metric", "test_acc");
  std::vector<RunSelection> chosen;
  for (auto& s : sels) chosen.push_back(s.rfind("cell:", 0) == 0 ? cell_of(db, s) : resolve_selector(db, s));
  std::vector<Curve> curves;
  for (auto& c : chosen) {  // a cell: its done seeds
    std::vector<EpochMetrics> runs;
    for (int64_t r : c.runs) runs.push_back(run_metrics(db, r));
    curves.push_back(curve_of(c.label, runs, metric));
  }
  std::string body = fmt::format(
      "<form method=\"get\" action=\"/compare\"><input type=\"hidden\" name=\"db\" value=\"{}\">", db_ix);
  for (auto& s : sels) body += fmt::format("<input type=\"hidden\" name=\"sel\" value=\"{}\">", esc(s));
  body += fmt::format("metric <input type=\"text\" name=\"metric\" value=\"{}\"> <button>draw</button></form>\n", esc(metric));
  body += "<p>Mean over each cell's done seeds, band ±1 standard deviation (n − 1).</p>\n";
  body += svg_chart(metric, "epoch", curves);
  if (chosen.size() == 2) {  // a cell with no finished seed yet has nothing to diff: say so, keep the curves
    std::string diff;
    try {
      diff = format_diff(diff_runs(db, chosen[0], chosen[1]));
    } catch (const Error& e) {
      diff = std::string("no diff yet: ") + e.what();
    }
    body += "<h2>lowbit diff</h2>\n<pre id=\"diff\">" + esc(diff) + "</pre>\n";
  }
  return shell("compare", body, db_ix);
}

namespace {
// The database file and its WAL as they are now: any write changes one of them.
std::string db_state(const std::string& db) {
  std::string out;
  for (const std::string& f : {db, db + "-wal"}) {
    struct stat st {};
    if (::stat(f.c_str(), &st) == 0)
      out += fmt::format("{}.{}:{};", int64_t(st.st_mtim.tv_sec), int64_t(st.st_mtim.tv_nsec), int64_t(st.st_size));
  }
  return out;
}

// Reports already rendered, by request, with the database state they were rendered from: a
// report of 100,000 runs takes seconds to write, and is served again until the database changes.
struct ReportCache {
  std::mutex mu;
  std::map<std::string, std::pair<std::string, std::string>> pages;  // key -> (state, html)
};
ReportCache& report_cache() {
  static ReportCache cache;
  return cache;
}
}  // namespace

std::string report_page(const Site& site, size_t db_ix, const Params& p) {
  const std::string exp = param(p, "e");
  if (exp.empty()) throw ConfigError("e: which experiment? (/report?e=NAME)");
  const std::string key = fmt::format("{}\n{}\n{}", site.dbs[db_ix], exp, join(params(p, "where"), "\n"));
  const std::string state = db_state(site.dbs[db_ix]);
  {
    std::lock_guard<std::mutex> lock(report_cache().mu);
    auto it = report_cache().pages.find(key);
    if (it != report_cache().pages.end() && it->second.first == state) return it->second.second;
  }
  char tmpl[] = "/tmp/lowbit_serve_XXXXXX";
  if (!::mkdtemp(tmpl)) throw Error("cannot create a temporary folder for the report");
  const std::string dir = tmpl;
  struct Cleanup {
    std::string dir;
    ~Cleanup() { remove_tree(dir); }
  } cleanup{dir};
  ReportOptions o;
  o.db = site.dbs[db_ix];
  o.experiment = exp;
  o.out_dir = dir;
  o.formats = {"html"};
  o.where = params(p, "where");
  write_report(o);
  std::string html = read_file(dir + "/report.html");
  std::lock_guard<std::mutex> lock(report_cache().mu);
  if (report_cache().pages.size() >= 64) report_cache().pages.clear();
  report_cache().pages[key] = {state, html};
  return html;
}

}  // namespace lowbit::web
