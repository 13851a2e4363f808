#include "tracker/queries.h"
#include "tracker/sqlite.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <set>

#include <fmt/format.h>

#include "core/error.h"
#include "core/run_status.h"
#include "core/config/run_config.h"
#include "core/util.h"
#include "tracker/filter.h"
#include "tracker/store.h"
#include "core/train/keys.h"

namespace lowbit {

using nlohmann::json;

DbHandle open_readonly(const std::string& path) {
  if (::access(path.c_str(), F_OK) != 0)
    throw StoreError(path + ": no such results database (run lowbit grid first, or pass --db)",
                     true);
  DbHandle db(new Db(path, Db::Mode::kReadOnly));
  if (!db->has_table("runs"))
    throw StoreError(path + ": not a lowbit results database (no runs table)", true);
  return db;
}

namespace {
// Every row of a prepared statement, with its column names.
Table collect(Statement& st) {
  Table t;
  for (int i = 0; i < st.columns(); ++i) t.columns.push_back(st.column_name(i));
  while (st.step()) {
    std::vector<SqlValue> row;
    for (int i = 0; i < st.columns(); ++i) row.push_back(st.get(i));
    t.rows.push_back(std::move(row));
  }
  return t;
}
}  // namespace

Table run_sql(Db& db, const std::string& sql) {
  Statement st = db.prepare(sql);
  if (!st.readonly())
    throw StoreError(
        "refused: queries are read-only (no INSERT, UPDATE, DELETE, DROP, CREATE, ATTACH or PRAGMA "
        "writes)",
        true);
  // One statement, and no PRAGMA: "SELECT 1; DELETE FROM runs" would otherwise run the first
  // and drop the rest silently, and a PRAGMA (even one SQLite calls read-only, such as
  // writable_schema) changes how the connection treats the file.
  const size_t start = sql.find_first_not_of(" \t\r\n(");
  std::string first = start == std::string::npos ? "" : sql.substr(start, 6);
  std::transform(first.begin(), first.end(), first.begin(), [](unsigned char c) { return char(std::toupper(c)); });
  if (first == "PRAGMA")
    throw StoreError("refused: --sql runs one read-only SELECT; PRAGMA statements are not allowed", true);
  const size_t more = st.tail().find_first_not_of(" \t\r\n;");
  if (more != std::string::npos)
    throw StoreError("refused: --sql runs exactly one statement; found more after the first: '" +
                         truncate_for_message(st.tail().substr(more), 40) + "'",
                     true);
  return collect(st);
}

std::vector<SettleLook> settle_looks(Db& db, const std::string& experiment) {
  std::vector<SettleLook> out;
  if (!db.has_table("settle_looks")) return out;
  auto st = db.prepare(
      "SELECT l.look, l.seeds, l.max_seeds, l.level, l.claim, l.n_a, l.n_b, l.difference, l.p_for, l.p_against, "
      "l.p_for_holm, l.p_against_holm, l.decision FROM settle_looks l JOIN experiments e ON e.id = l.experiment_id "
      "WHERE e.name = ? ORDER BY l.look, l.rowid");
  st.bind(1, experiment);
  auto number = [&](int i) { return st.is_null(i) ? std::nan("") : st.get_double(i); };
  while (st.step()) {
    SettleLook r;
    r.look = st.get_int(0), r.seeds = st.get_int(1), r.max_seeds = st.get_int(2), r.level = st.get_double(3);
    r.claim = st.get_text(4), r.n_a = st.get_int(5), r.n_b = st.get_int(6);
    r.difference = number(7), r.p_for = number(8), r.p_against = number(9);
    r.p_for_holm = number(10), r.p_against_holm = number(11), r.decision = st.get_text(12);
    out.push_back(r);
  }
  return out;
}

std::vector<std::pair<std::string, int64_t>> runs_by_status(Db& db, const std::string& name) {
  auto st = db.prepare(
      "SELECT r.status, count(*) FROM runs r JOIN experiments e ON e.id = r.experiment_id WHERE "
      "e.name = ? GROUP BY r.status ORDER BY count(*) DESC");
  st.bind(1, name);
  std::vector<std::pair<std::string, int64_t>> out;
  while (st.step()) out.emplace_back(st.get_text(0), st.get_int(1));
  return out;
}

namespace {
// A run of `runs r` trained to the end in this database (done, not a copy: reused_from), and
// its last start in Unix seconds: a resumed run counted from its last start, its finish
// minus its wall_seconds.
constexpr const char* kTrainedHere =
    "r.status = 'done' AND r.reused_from IS NULL AND r.started_at IS NOT NULL AND r.finished_at IS NOT NULL";
constexpr const char* kLastStart =
    "max(julianday(r.started_at) * 86400, julianday(r.finished_at) * 86400 - COALESCE((SELECT value FROM "
    "summaries WHERE run_id = r.id AND key = 'wall_seconds'), 0))";
}  // namespace

std::vector<std::pair<double, double>> trained_run_spans(Db& db) {
  auto st = db.prepare(fmt::format("SELECT {}, julianday(r.finished_at) * 86400 FROM runs r WHERE {} ORDER BY 1",
                                   kLastStart, kTrainedHere));
  std::vector<std::pair<double, double>> spans;
  while (st.step()) spans.emplace_back(st.get_double(0), st.get_double(1));
  return spans;
}

std::vector<std::pair<std::string, int64_t>> trained_run_commits(Db& db) {
  auto st = db.prepare(fmt::format(
      "SELECT COALESCE(r.git_commit, '') || CASE WHEN r.git_dirty THEN '+dirty' ELSE '' END, count(*) "
      "FROM runs r WHERE {} GROUP BY 1 ORDER BY 2 DESC, 1",
      kTrainedHere));
  std::vector<std::pair<std::string, int64_t>> out;
  while (st.step()) out.emplace_back(st.get_text(0), st.get_int(1));
  return out;
}

std::vector<std::string> experiment_names(Db& db) {
  std::vector<std::string> out;
  auto st = db.prepare("SELECT name FROM experiments ORDER BY id");
  while (st.step()) out.push_back(st.get_text(0));
  return out;
}

int64_t experiment_id_or_throw(Db& db, const std::string& name) {
  auto st = db.prepare("SELECT id FROM experiments WHERE name = ?");
  if (st.bind(1, name).step()) return st.get_int(0);
  auto names = experiment_names(db);
  throw StoreError("no experiment '" + name + "' in " + db.path() + did_you_mean(name, names) +
                       " (experiments: " + (names.empty() ? "none" : join(names, ", ")) + ")",
                   true);
}

namespace {

// Whether config key `key` takes more than one value (NULL counts as one) among the runs of
// experiment `exp`. It walks the key's distinct values in the (key, value) index, smallest
// first, and asks of each whether a run of the experiment has it, stopping at the second one
// found: a few index seeks for a key that varies inside the experiment, where counting the
// distinct values of every run of the experiment read all of the key's rows (0.25 s for two
// keys at 100,000 runs). Values compare as SQLite compares them (1 and 1.0 are one value), as
// in the database-wide test of varying_config_keys.
bool varies_inside(Db& db, const std::string& key, int64_t exp) {
  auto has = db.prepare(
      "SELECT EXISTS (SELECT 1 FROM run_config c JOIN runs r ON r.id = c.run_id WHERE c.key = ?1 "
      "AND c.value IS ?2 AND r.experiment_id = ?3)");
  auto first = db.prepare("SELECT min(value) FROM run_config WHERE key = ?1");
  auto next = db.prepare("SELECT min(value) FROM run_config WHERE key = ?1 AND value > ?2");
  auto present = [&](const SqlValue& v) {
    has.reset();
    has.bind(1, key).bind(2, v).bind(3, exp);
    return has.step() && has.get_int(0) != 0;
  };
  int found = present(SqlValue{}) ? 1 : 0;  // NULL
  first.bind(1, key);
  SqlValue v = first.step() ? first.get(0) : SqlValue{};
  while (!std::holds_alternative<std::monostate>(v)) {
    if (present(v) && ++found == 2) return true;
    next.reset();
    next.bind(1, key).bind(2, v);
    v = next.step() ? next.get(0) : SqlValue{};
  }
  return false;
}

// The config keys (but seed and name) whose value differs between runs of experiment `exp`
// (0: of the whole database). Each key's smallest and largest value come from the (key,
// value) index in two lookups, so a key that is constant across the database costs nothing;
// only a key that varies somewhere is looked at inside the experiment (varies_inside). At
// 100,000 runs this is milliseconds where one GROUP BY over every run's config took 5 s
// (bench/results).
std::vector<std::string> varying_config_keys(Db& db, int64_t exp) {
  std::vector<std::string> keys;
  {
    auto st = db.prepare(
        "WITH RECURSIVE k(key) AS (SELECT min(key) FROM run_config UNION ALL SELECT (SELECT "
        "min(key) FROM run_config WHERE key > k.key) FROM k WHERE k.key IS NOT NULL) "
        "SELECT key FROM k WHERE key IS NOT NULL AND key NOT IN ('seed', 'name') ORDER BY key");
    while (st.step()) keys.push_back(st.get_text(0));
  }
  auto somewhere = db.prepare(
      "SELECT (SELECT min(value) FROM run_config WHERE key = ?1) IS NOT (SELECT max(value) FROM "
      "run_config WHERE key = ?1) OR (EXISTS (SELECT 1 FROM run_config WHERE key = ?1 AND value "
      "IS NULL) AND EXISTS (SELECT 1 FROM run_config WHERE key = ?1 AND value IS NOT NULL))");
  std::vector<std::string> varying;
  for (auto& key : keys) {
    somewhere.reset();
    somewhere.bind(1, key);
    if (!somewhere.step() || somewhere.get_int(0) == 0) continue;
    if (exp != 0 && !varies_inside(db, key, exp)) continue;
    varying.push_back(key);
  }
  return varying;
}

}  // namespace

namespace {
// query_runs' statement without its ORDER BY: its column list, and the FROM and WHERE that
// pick its runs (the experiment and the filter), which a page also counts and pages by.
struct RunsSelect {
  std::string columns, from;
};
RunsSelect runs_select_sql(Db& db, const std::string& experiment, const std::vector<std::string>& where) {
  std::vector<int64_t> exps;
  if (!experiment.empty()) exps.push_back(experiment_id_or_throw(db, experiment));
  // Config keys that vary inside the selected experiments (seed shown separately).
  std::string exp_filter = exps.empty() ? "" : fmt::format(" AND r.experiment_id = {}", exps[0]);
  const std::vector<std::string> varying = varying_config_keys(db, exps.empty() ? 0 : exps[0]);
  std::string sql = "SELECT r.id AS run, e.name AS experiment, r.variant, r.seed, r.status";
  // A key outside its scope (quant.bits of an FP run) is empty, not its default.
  for (const auto& k : varying)
    if (const ConfigField* f = find_field(k)) sql += fmt::format(", {} AS \"{}\"", config_column_sql(*f, "r.id"), k);
  for (const char* k : {key::kFinalTestAcc, key::kBestTestAcc, key::kWallSeconds, key::kPeakRssBytes})
    sql += fmt::format(", (SELECT value FROM summaries WHERE run_id = r.id AND key = '{}') AS {}",
                       k, k);
  const bool tagged = db.has_table("tags");  // schema 3 and later
  if (tagged)
    sql += ", (SELECT group_concat(tag, ' ') FROM (SELECT tag FROM tags WHERE run_id = r.id ORDER BY tag)) "
           "AS tags, (SELECT group_concat(text, ' | ') FROM (SELECT text FROM notes WHERE run_id = r.id ORDER BY id)) "
           "AS notes";  // the notes' text, oldest first
  if (db.has_table("reproductions"))  // schema 4: the latest lowbit reproduce verdict
    sql += ", (SELECT verdict FROM reproductions WHERE run_id = r.id ORDER BY id DESC LIMIT 1) AS reproduced";
  sql += ", r.error AS reason";  // why a run failed, diverged, stopped, was interrupted or is blocked
  return {sql, " FROM runs r JOIN experiments e ON e.id = r.experiment_id WHERE 1 = 1" + exp_filter + " AND " +
                   compile_run_filter(db, where).sql};
}
}  // namespace

Table query_runs(Db& db, const std::string& experiment, const std::vector<std::string>& where) {
  const RunsSelect s = runs_select_sql(db, experiment, where);
  Statement st = db.prepare(s.columns + s.from + " ORDER BY r.id");
  return collect(st);
}

RunPage query_runs_page(Db& db, const std::string& experiment, const std::vector<std::string>& where,
                        const std::string& sort, bool desc, int64_t offset, int64_t limit) {
  const RunsSelect s = runs_select_sql(db, experiment, where);
  const std::string sql = s.columns + s.from;
  RunPage page;
  {
    Statement st = db.prepare("SELECT count(*)" + s.from);
    st.step();
    page.total = st.get_int(0);
  }
  const std::string dir = desc ? " DESC" : "";
  const std::string bounds = fmt::format(" LIMIT {} OFFSET {}", std::max<int64_t>(0, limit), std::max<int64_t>(0, offset));
  if (sort.empty() || sort == "run") {
    // The page's ids first (an index walk), then its rows: an OFFSET over the whole select
    // would step through every earlier row's joins (page 2,000 of 100,000 runs: 640 ms).
    std::string ids;
    Statement pick = db.prepare("SELECT r.id" + s.from + " ORDER BY r.id" + dir + bounds);
    while (pick.step()) ids += (ids.empty() ? "" : ", ") + std::to_string(pick.get_int(0));
    Statement st = db.prepare(sql + " AND r.id IN (" + (ids.empty() ? "NULL" : ids) + ") ORDER BY r.id" + dir);
    page.table = collect(st);
    return page;
  }
  std::vector<std::string> columns;
  {
    Statement st = db.prepare(sql + " LIMIT 0");
    for (int i = 0; i < st.columns(); ++i) columns.push_back(st.column_name(i));
  }
  if (std::find(columns.begin(), columns.end(), sort) == columns.end())
    throw ConfigError("sort " + truncate_for_message(sort) + ": not a column" + did_you_mean(sort, columns) +
                      " (columns: " + join(columns, ", ") + ")");
  // `sort` is one of query_runs' own column names (checked above): no double quote in it.
  Statement st = db.prepare("SELECT * FROM (" + sql + ") ORDER BY \"" + sort + "\" IS NULL, \"" + sort + "\"" + dir +
                            ", run" + bounds);
  page.table = collect(st);
  return page;
}

std::vector<ExperimentProgress> experiments_progress(Db& db) {
  std::vector<ExperimentProgress> out;
  auto st = db.prepare(fmt::format(
      "SELECT e.name, e.description, (SELECT avg(julianday(r.finished_at) * 86400 - {}) FROM runs r WHERE "
      "r.experiment_id = e.id AND {}) FROM experiments e ORDER BY e.id",
      kLastStart, kTrainedHere));
  while (st.step()) {
    ExperimentProgress p;
    p.name = st.get_text(0), p.description = st.get_text(1);
    if (st.get(2).index() != 0) p.mean_run_seconds = st.get_double(2);
    std::map<std::string, int64_t> by;
    for (auto& [status, n] : runs_by_status(db, p.name)) by[status] = n, p.total += n;
    for (RunStatus s : all_run_statuses()) p.counts.emplace_back(to_string(s), by[to_string(s)]);
    const int64_t left = by["pending"] + by["running"] + by["interrupted"];
    if (p.mean_run_seconds >= 0 && left > 0)
      p.eta_seconds = p.mean_run_seconds * double(left) / double(std::max<int64_t>(1, by["running"]));
    else if (left == 0)
      p.eta_seconds = 0;
    out.push_back(std::move(p));
  }
  return out;
}

Table run_head(Db& db, int64_t run) {
  const std::string legacy = db.has_column("runs", "legacy_hash") ? "COALESCE(r.legacy_hash, '')" : "''";
  Statement st = db.prepare(
      "SELECT r.id, e.name, r.variant, r.seed, r.status, r.config_hash, r.epoch, r.error, " + legacy +
      " FROM runs r JOIN experiments e ON e.id = r.experiment_id WHERE r.id = ?");
  st.bind(1, run);
  return collect(st);
}

std::vector<std::tuple<std::string, std::string, double>> run_last_layer_stats(Db& db, int64_t run) {
  auto st = db.prepare(
      "SELECT layer, key, value FROM layer_stats WHERE run_id = ?1 AND value IS NOT NULL AND epoch = "
      "(SELECT max(epoch) FROM layer_stats WHERE run_id = ?1) ORDER BY layer, key");
  st.bind(1, run);
  std::vector<std::tuple<std::string, std::string, double>> out;
  while (st.step()) out.emplace_back(st.get_text(0), st.get_text(1), st.get_double(2));
  return out;
}

namespace {

std::string value_text(const OutputKey* k, double v) {
  const std::string unit = k ? k->unit : "";
  if (std::isfinite(v) && (unit == "bytes" || unit == "count" || unit == "MACs")) return fmt::format("{:.0f}", v);
  if (std::isfinite(v) && unit == "seconds") return fmt::format("{:.2f}", v);
  return fmt::format("{:.6g}", v);
}

// The aligned table's cells as text: a real of an output-key column by its unit; a reason cut
// at 60 characters (CSV and JSON hold it whole). Each column's key is looked up once.
std::vector<std::vector<std::string>> cell_texts(const Table& t) {
  std::vector<const OutputKey*> keys;
  for (const auto& c : t.columns) keys.push_back(find_metric_key(c));
  std::vector<std::vector<std::string>> out;
  for (const auto& r : t.rows) {
    auto& row = out.emplace_back();
    for (size_t i = 0; i < r.size(); ++i) {
      if (auto* d = std::get_if<double>(&r[i]))
        row.push_back(value_text(keys[i], *d));
      else
        row.push_back(t.columns[i] == "reason" || t.columns[i] == "notes"
                          ? truncate_for_message(sql_value_text(r[i]), 60)  // whole in CSV and JSON
                          : sql_value_text(r[i]));
    }
  }
  return out;
}

}  // namespace

std::string output_value_text(const std::string& key, double v) { return value_text(find_metric_key(key), v); }

std::string format_table(const Table& t, const std::string& format) {
  std::string out;
  if (format == "csv") {
    auto quote = csv_quote;
    for (size_t i = 0; i < t.columns.size(); ++i) out += (i ? "," : "") + quote(t.columns[i]);
    out += "\n";
    for (auto& r : t.rows) {
      for (size_t i = 0; i < r.size(); ++i)
        out += (i ? "," : "") + quote(sql_value_text(r[i], true));
      out += "\n";
    }
    return out;
  }
  if (format == "json") {
    json arr = json::array();
    for (auto& r : t.rows) {
      json o = json::object();
      for (size_t i = 0; i < r.size(); ++i) {
        const auto& v = r[i];
        if (auto* x = std::get_if<int64_t>(&v))
          o[t.columns[i]] = *x;
        else if (auto* d = std::get_if<double>(&v))
          o[t.columns[i]] = *d;
        else if (auto* s = std::get_if<std::string>(&v))
          o[t.columns[i]] = *s;
        else
          o[t.columns[i]] = nullptr;
      }
      arr.push_back(o);
    }
    return arr.dump(2) + "\n";
  }
  if (format != "table")
    throw ConfigError("--format: expected table, csv or json, got '" + format + "'");
  const auto texts = cell_texts(t);
  std::vector<size_t> w(t.columns.size());
  for (size_t i = 0; i < t.columns.size(); ++i) w[i] = t.columns[i].size();
  for (auto& r : texts)
    for (size_t i = 0; i < r.size(); ++i) w[i] = std::max(w[i], r[i].size());
  for (size_t i = 0; i < t.columns.size(); ++i) out += fmt::format("{:<{}}  ", t.columns[i], w[i]);
  out += "\n";
  for (size_t i = 0; i < t.columns.size(); ++i) out += std::string(w[i], '-') + "  ";
  out += "\n";
  for (auto& r : texts) {
    for (size_t i = 0; i < r.size(); ++i)
      out += fmt::format("{:<{}}  ", r[i], w[i]);
    out += "\n";
  }
  out += fmt::format("({} rows)\n", t.rows.size());
  return out;
}

namespace {
// A running run's latest recorded epoch (1-based, as the metrics table counts):
// "; after epoch E: train_loss L, test_acc A%" (empty before its first epoch).
std::string latest_epoch_text(Db& db, int64_t run) {
  auto q = db.prepare(
      "SELECT epoch, key, value FROM metrics WHERE run_id = ?1 AND key IN (?2, ?3) AND "
      "epoch = (SELECT max(epoch) FROM metrics WHERE run_id = ?1)");
  q.bind(1, run);
  q.bind(2, key::kTrainLoss);
  q.bind(3, key::kTestAcc);
  std::string loss, acc;
  int64_t epoch = -1;
  while (q.step()) {
    epoch = q.get_int(0);
    if (q.get_text(1) == key::kTrainLoss) loss = fmt::format("train_loss {:.4f}", q.get_double(2));
    if (q.get_text(1) == key::kTestAcc) acc = fmt::format("test_acc {:.2f}%", 100 * q.get_double(2));
  }
  if (epoch < 0) return "";
  return fmt::format("; after epoch {}: {}", epoch, loss + (loss.empty() || acc.empty() ? "" : ", ") + acc);
}
}  // namespace

std::string status_report(Db& db, const std::string& experiment) {
  std::vector<std::string> names =
      experiment.empty() ? experiment_names(db) : std::vector<std::string>{experiment};
  if (names.empty()) return db.path() + ": no experiments yet\n";
  std::string out;
  const double now = now_unix();
  for (const auto& name : names) {
    int64_t id = experiment_id_or_throw(db, name);
    std::map<RunStatus, int64_t> counts;
    auto c =
        db.prepare("SELECT status, count(*) FROM runs WHERE experiment_id = ? GROUP BY status");
    c.bind(1, id);
    int64_t total = 0;
    while (c.step()) counts[parse_run_status(c.get_text(0))] = c.get_int(1), total += c.get_int(1);
    out += fmt::format("experiment {}: {} runs:", name, total);
    for (RunStatus s : all_run_statuses())
      if (counts[s]) out += fmt::format(" {} {}", counts[s], to_string(s));
    out += "\n";
    auto r = db.prepare(
        "SELECT id, config_hash, variant, seed, epoch, heartbeat_at, host, pid, "
        "json_extract(config_json, '$.epochs') "
        "FROM runs WHERE experiment_id = ? AND status = 'running' ORDER BY id");
    r.bind(1, id);
    const std::string here = host_name();
    while (r.step()) {
      // A run whose worker is gone still says `running` until a grid reclaims it: say so.
      const double age = r.is_null(5) ? 0.0 : now - r.get_double(5);
      const bool gone = r.get_text(6) == here && !process_alive(pid_t(r.get_int(7)));
      const std::string why =
          gone ? fmt::format("its worker (pid {}) is gone", r.get_int(7))
          : age > kStaleHeartbeatSeconds ? fmt::format("no heartbeat for {:.0f}s", age)
                                         : "";
      out += fmt::format(
          "  {}: run {} {} ({}, seed {}) epoch {}/{} on {} pid {}, heartbeat {:.0f}s ago{}{}\n",
          why.empty() ? "running" : "stale", r.get_int(0), r.get_text(1), r.get_text(2),
          r.get_int(3), r.get_int(4), r.get_int(8), r.get_text(6), r.get_int(7), age,
          latest_epoch_text(db, r.get_int(0)),
          why.empty() ? "" : " (" + why + "; the next lowbit grid reclaims it)");
    }
    auto f = db.prepare(
        "SELECT id, config_hash, variant, seed, status, error FROM runs WHERE experiment_id = ? "
        "AND "
        "status IN ('failed', 'diverged', 'stopped', 'interrupted', 'blocked') ORDER BY id");
    f.bind(1, id);
    while (f.step())
      out += fmt::format("  {}: run {} {} ({}, seed {}): {}\n", f.get_text(4), f.get_int(0),
                         f.get_text(1), f.get_text(2), f.get_int(3), f.get_text(5));
    // Completeness matrix: one row per configuration (variant + axis values), one column per seed.
    std::map<std::string, std::map<int64_t, std::string>> cells;
    std::set<int64_t> seeds;
    auto m = db.prepare(
        "SELECT variant, varying_json, seed, status FROM runs WHERE experiment_id = ? ORDER BY id");
    m.bind(1, id);
    std::vector<std::string> order;
    while (m.step()) {
      std::string cfg = m.get_text(0) + (m.get_text(1) == "{}" ? "" : " " + m.get_text(1));
      if (!cells.count(cfg)) order.push_back(cfg);
      seeds.insert(m.get_int(2));
      cells[cfg][m.get_int(2)] = m.get_text(3);
    }
    size_t width = 13;
    for (auto& o : order) width = std::max(width, o.size());
    out += fmt::format("  {:<{}}", "configuration", width);
    for (int64_t s : seeds) out += fmt::format(" {:>6}", "seed" + std::to_string(s));
    out += "\n";
    auto mark = [](const std::string& name) {
      switch (parse_run_status(name)) {
        case RunStatus::kDone:
          return "done";
        case RunStatus::kRunning:
          return "run";
        case RunStatus::kFailed:
          return "FAIL";
        case RunStatus::kDiverged:
          return "DIV";
        case RunStatus::kInterrupted:
          return "intr";
        case RunStatus::kPending:
          return "-";
        case RunStatus::kStopped:
          return "stop";
        case RunStatus::kBlocked:
          return "blkd";
      }
      return "?";
    };
    for (auto& o : order) {
      out += fmt::format("  {:<{}}", o, width);
      for (int64_t s : seeds)
        out += fmt::format(" {:>6}", cells[o].count(s) ? mark(cells[o][s]) : "miss");
      out += "\n";
    }
  }
  return out;
}

}  // namespace lowbit
