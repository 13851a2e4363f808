#include "reports/diff.h"

#include <cctype>
#include <cmath>
#include <map>
#include <set>

#include <fmt/format.h>

#include "core/config/run_config.h"
#include "core/error.h"
#include "core/util.h"
#include "reports/stats.h"

namespace lowbit {

using nlohmann::json;

namespace {

// key -> value text for each run.
std::map<std::string, std::string> run_config_of(Db& db, int64_t run) {
  std::map<std::string, std::string> out;
  auto st = db.prepare("SELECT key, value FROM run_config WHERE run_id = ?");
  st.bind(1, run);
  while (st.step()) out[st.get_text(0)] = sql_value_text(st.get(1), /*full=*/true);
  return out;
}

std::vector<std::string> all_run_ids(Db& db) {
  std::vector<std::string> out;
  auto st = db.prepare("SELECT id, config_hash FROM runs ORDER BY id");
  while (st.step()) out.push_back(std::to_string(st.get_int(0))), out.push_back(st.get_text(1));
  return out;
}

std::vector<std::string> all_cells(Db& db) {
  std::vector<std::string> out;
  auto st = db.prepare(
      "SELECT DISTINCT e.name || ':' || r.variant FROM runs r JOIN experiments e ON e.id = "
      "r.experiment_id ORDER BY 1");
  while (st.step()) out.push_back(st.get_text(0));
  return out;
}

// "0.1" and "1e-1" name the same number; anything else compares as text.
bool same_value(const std::string& stored, const std::string& given) {
  if (stored == given) return true;
  char *end_a = nullptr, *end_b = nullptr;
  const double a = std::strtod(stored.c_str(), &end_a), b = std::strtod(given.c_str(), &end_b);
  return !stored.empty() && !given.empty() && *end_a == '\0' && *end_b == '\0' && a == b;
}

bool is_hex(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isxdigit(c); });
}

[[noreturn]] void no_run(Db& db, const std::string& sel) {
  throw ConfigError(fmt::format(
      "no run '{}'{} (a run id, a config-hash prefix of 4+ hex digits, or experiment:variant; "
      "see lowbit query runs)",
      truncate_for_message(sel), did_you_mean(sel, all_run_ids(db))));
}

// (id, config_hash) of the runs that `condition` (one parameter) selects.
std::vector<std::pair<int64_t, std::string>> runs_where(Db& db, const std::string& condition,
                                                        const SqlValue& value) {
  auto st = db.prepare("SELECT id, config_hash FROM runs WHERE " + condition + " ORDER BY id");
  st.bind(1, value);
  std::vector<std::pair<int64_t, std::string>> found;
  while (st.step()) found.push_back({st.get_int(0), st.get_text(1)});
  return found;
}

// A run id, or else ("1234" may be either) a config-hash prefix of 4+ hex digits.
DiffSide resolve_run(Db& db, const std::string& sel) {
  const bool digits = std::all_of(sel.begin(), sel.end(), [](unsigned char c) { return std::isdigit(c); });
  std::vector<std::pair<int64_t, std::string>> found;
  if (digits && sel.size() < 10) found = runs_where(db, "id = ?", int64_t(std::stoll(sel)));
  if (found.empty() && sel.size() >= 4) found = runs_where(db, "config_hash LIKE ? || '%'", sel);
  if (found.size() > 1) {
    std::vector<std::string> ids;
    for (auto& [id, hash] : found) ids.push_back(fmt::format("{} ({})", id, hash));
    throw ConfigError(fmt::format("'{}' matches {} runs: {}; give more of the hash or the run id",
                                  truncate_for_message(sel), found.size(),
                                  truncate_for_message(join(ids, ", "), 300)));
  }
  if (found.empty()) no_run(db, sel);
  return {sel, fmt::format("run {} ({})", found[0].first, found[0].second), {found[0].first}, false, 1};
}

struct CellRun {
  int64_t id;
  bool done;
};
using ConfigGroups = std::map<std::map<std::string, std::string>, std::vector<CellRun>>;

// The runs of one experiment and variant that `keep` accepts (given each run's config),
// grouped by their configuration without the seed: one group per configuration, one run
// per seed.
template <typename Keep>
ConfigGroups group_by_config(Db& db, int64_t experiment_id, const std::string& variant, Keep keep) {
  auto st = db.prepare("SELECT id, status FROM runs WHERE experiment_id = ? AND variant = ? ORDER BY id");
  st.bind(1, experiment_id).bind(2, variant);
  ConfigGroups groups;
  while (st.step()) {
    auto cfg = run_config_of(db, st.get_int(0));
    if (!keep(cfg)) continue;
    cfg.erase("seed");
    groups[cfg].push_back({st.get_int(0), st.get_text(1) == "done"});
  }
  return groups;
}

// "exp:variant[:key=value...]": the done runs of one configuration, one per seed.
DiffSide resolve_cell(Db& db, const std::string& sel) {
  std::vector<std::string> parts;
  for (size_t start = 0;;) {
    size_t c = sel.find(':', start);
    parts.push_back(sel.substr(start, c == std::string::npos ? std::string::npos : c - start));
    if (c == std::string::npos) break;
    start = c + 1;
  }
  const std::string& experiment = parts[0];
  const std::string& variant = parts[1];
  std::map<std::string, std::string> filters;
  for (size_t i = 2; i < parts.size(); ++i) {
    auto eq = parts[i].find('=');
    if (eq == std::string::npos || eq == 0)
      throw ConfigError(fmt::format("'{}': expected key=value after '{}:{}:' (e.g. optim.lr=0.1)",
                                    truncate_for_message(sel), experiment, variant));
    filters[parts[i].substr(0, eq)] = parts[i].substr(eq + 1);
  }
  auto st = db.prepare(
      "SELECT e.id FROM runs r JOIN experiments e ON e.id = r.experiment_id WHERE e.name = ? AND "
      "r.variant = ? LIMIT 1");
  st.bind(1, experiment).bind(2, variant);
  if (!st.step())
    throw ConfigError(fmt::format("no cell '{}:{}'{} (experiment:variant; see lowbit status)",
                                  truncate_for_message(experiment), truncate_for_message(variant),
                                  did_you_mean(experiment + ":" + variant, all_cells(db))));
  // Filters pick one configuration.
  ConfigGroups groups = group_by_config(db, st.get_int(0), variant, [&](const auto& cfg) {
    bool keep = true;
    for (auto& [k, v] : filters) {
      auto it = cfg.find(k);
      if (it == cfg.end())
        throw ConfigError(fmt::format("'{}': unknown key '{}'", truncate_for_message(sel), k));
      keep = keep && same_value(it->second, v);
    }
    return keep;
  });
  if (groups.empty())
    throw ConfigError(fmt::format("no run of {}:{} matches the filters in '{}'", experiment,
                                  variant, truncate_for_message(sel)));
  if (groups.size() > 1) {
    // Name the keys that tell the configurations apart, with their values.
    std::map<std::string, std::set<std::string>> values;
    for (auto& [cfg, runs] : groups)
      for (auto& [k, v] : cfg) values[k].insert(v);
    std::vector<std::string> varying;
    for (auto& [k, vs] : values)
      if (vs.size() > 1) varying.push_back(k + " in {" + join({vs.begin(), vs.end()}, ", ") + "}");
    throw ConfigError(fmt::format(
        "{}:{} holds {} configurations ({}); pick one with filters, e.g. {}:{}:{}={}", experiment,
        variant, groups.size(), truncate_for_message(join(varying, "; "), 300), experiment, variant,
        varying.empty() ? "key" : varying[0].substr(0, varying[0].find(' ')),
        values[varying[0].substr(0, varying[0].find(' '))].begin()->c_str()));
  }
  // The cell's done runs: a failed or stopped seed has no final metrics to average.
  const auto& runs = groups.begin()->second;
  DiffSide side{sel, "", {}, true, int64_t(runs.size())};
  for (const CellRun& r : runs)
    if (r.done) side.runs.push_back(r.id);
  side.label = fmt::format("{} ({} done of {} seeds)", sel, side.runs.size(), side.seeds);
  return side;
}

json provenance_of(Db& db, int64_t run) {
  auto st = db.prepare(
      "SELECT git_commit, git_dirty, lowbit_version, torch_version, compiler, threads, device, "
      "host, (SELECT length(diff) - length(replace(diff, char(10), '')) FROM diffs WHERE id = "
      "runs.diff_id) FROM runs WHERE id = ?");
  st.bind(1, run);
  json p = json::object();
  if (!st.step()) return p;
  const char* keys[] = {"git_commit", "git_dirty", "lowbit_version", "torch_version",
                        "compiler",   "threads",   "device",         "host"};
  for (int i = 0; i < 8; ++i) p[keys[i]] = sql_value_text(st.get(i), true);
  const std::string lines = sql_value_text(st.get(8), true);
  p["dirty_diff"] = lines.empty() ? "none" : lines + " lines";
  return p;
}

// The values one side has for `key`, joined ("a" or "a | b" when its runs disagree).
std::string side_values(const std::vector<json>& per_run, const std::string& key) {
  std::set<std::string> vs;
  for (auto& p : per_run) vs.insert(p.contains(key) ? p[key].get<std::string>() : "(none)");
  return join({vs.begin(), vs.end()}, " | ");
}

std::vector<json> per_run(Db& db, const DiffSide& s, bool config) {
  std::vector<json> out;
  for (int64_t id : s.runs) {
    if (!config) {
      out.push_back(provenance_of(db, id));
      continue;
    }
    json j = json::object();
    for (auto& [k, v] : run_config_of(db, id)) j[k] = v;
    if (s.cell) j.erase("seed");
    out.push_back(j);
  }
  return out;
}

// with_roles: config rows name the key's role (identity or observation, run_config.h), so that
// a reader sees which differences are not part of the runs' identities.
json differing(const std::vector<json>& a, const std::vector<json>& b, bool with_roles) {
  std::set<std::string> keys;
  for (auto* side : {&a, &b})
    for (auto& j : *side)
      for (auto& [k, v] : j.items()) keys.insert(k);
  std::map<std::string, KeyRole> roles;
  if (with_roles)
    for (const auto& f : config_fields()) roles[f.path] = f.role;
  json rows = json::array();
  for (auto& k : keys) {
    std::string va = side_values(a, k), vb = side_values(b, k);
    if (va == vb) continue;
    json row = {{"key", k}, {"a", va}, {"b", vb}};
    if (auto it = roles.find(k); it != roles.end())
      row["role"] = it->second == KeyRole::kIdentity ? "identity" : "observation";
    rows.push_back(row);
  }
  return rows;
}

std::map<std::string, std::vector<double>> summaries_of(Db& db, const DiffSide& s) {
  std::map<std::string, std::vector<double>> out;
  for (int64_t id : s.runs) {
    auto st = db.prepare("SELECT key, value FROM summaries WHERE run_id = ? AND value IS NOT NULL");
    st.bind(1, id);
    while (st.step()) out[st.get_text(0)].push_back(st.get_double(1));
  }
  return out;
}

json side_stats(const Summary& s) {
  return {{"mean", s.mean}, {"std", s.std}, {"n", s.n}};
}

json metric_rows(Db& db, const DiffSide& a, const DiffSide& b) {
  auto ma = summaries_of(db, a), mb = summaries_of(db, b);
  json rows = json::array();
  for (auto& [key, xs] : ma) {
    auto it = mb.find(key);
    if (it == mb.end()) continue;
    const Summary sa = summarize(xs), sb = summarize(it->second);
    json row = {{"key", key}, {"a", side_stats(sa)}, {"b", side_stats(sb)}, {"diff", sb.mean - sa.mean}};
    if (sa.n >= 2 && sb.n >= 2) {
      const WelchResult w = welch_test(sa, sb);
      const double se = std::sqrt(sa.std * sa.std / sa.n + sb.std * sb.std / sb.n);
      if (se > 0 && std::isfinite(w.df)) {
        const double half = student_t_quantile(0.975, w.df) * se;
        row["ci95"] = {sb.mean - sa.mean - half, sb.mean - sa.mean + half};
        row["p"] = w.p;
      }
    }
    rows.push_back(row);
  }
  return rows;
}

std::string number(double v) { return fmt::format("{:.6g}", v); }

std::string stats_text(const json& s) {
  if (s["n"].get<int>() < 2) return number(s["mean"].get<double>());
  return fmt::format("{} ± {} (n={})", number(s["mean"].get<double>()), number(s["std"].get<double>()),
                     s["n"].get<int>());
}

}  // namespace

std::vector<int64_t> done_runs_of_cell(Db& db, int64_t run) {
  auto st = db.prepare("SELECT experiment_id, variant FROM runs WHERE id = ?");
  st.bind(1, run);
  if (!st.step()) return {};
  for (auto& [cfg, runs] : group_by_config(db, st.get_int(0), st.get_text(1), [](const auto&) { return true; })) {
    if (std::none_of(runs.begin(), runs.end(), [&](const CellRun& r) { return r.id == run; })) continue;
    std::vector<int64_t> done;
    for (const CellRun& r : runs)
      if (r.done) done.push_back(r.id);
    return done;
  }
  return {};
}

DiffSide resolve_selector(Db& db, const std::string& selector) {
  if (selector.empty()) throw ConfigError("an empty selector: give a run id, a hash prefix or experiment:variant");
  if (selector.find(':') != std::string::npos) return resolve_cell(db, selector);
  if (!is_hex(selector)) no_run(db, selector);
  if (selector.size() < 4 && !std::all_of(selector.begin(), selector.end(), [](unsigned char c) { return std::isdigit(c); }))
    throw ConfigError("'" + selector + "': a hash prefix needs at least 4 hex digits");
  return resolve_run(db, selector);
}

json diff_runs(Db& db, const DiffSide& a, const DiffSide& b) {
  for (const DiffSide* s : {&a, &b})
    if (s->runs.empty())
      throw ConfigError(fmt::format("{} has no finished run to compare (0 done of {} seeds)",
                                    s->selector, s->seeds));
  return {{"a", a.label},
          {"b", b.label},
          {"config", differing(per_run(db, a, true), per_run(db, b, true), true)},
          {"provenance", differing(per_run(db, a, false), per_run(db, b, false), false)},
          {"metrics", metric_rows(db, a, b)}};
}

std::string format_diff(const json& d) {
  std::string out = fmt::format("A: {}\nB: {}\n", d["a"].get<std::string>(), d["b"].get<std::string>());
  for (const char* section : {"config", "provenance"}) {
    out += fmt::format("\n{} ({} differ{})\n", section, d[section].size(), d[section].size() == 1 ? "s" : "");
    for (auto& r : d[section]) {
      std::string key = r["key"].get<std::string>();
      if (r.value("role", "") == "observation") key += " (observation)";
      out += fmt::format("  {:<32} {} -> {}\n", key, r["a"].get<std::string>(), r["b"].get<std::string>());
    }
  }
  out += "\nfinal metrics (B - A; 95% Welch interval and p where both sides have 2+ seeds)\n";
  for (auto& r : d["metrics"]) {
    std::string extra;
    if (r.contains("ci95"))
      extra = fmt::format("  [{}, {}]  p={:.3g}", number(r["ci95"][0].get<double>()),
                          number(r["ci95"][1].get<double>()), r["p"].get<double>());
    out += fmt::format("  {:<24} {:<28} {:<28} {:+.6g}{}\n", r["key"].get<std::string>(),
                       stats_text(r["a"]), stats_text(r["b"]), r["diff"].get<double>(), extra);
  }
  return out;
}

}  // namespace lowbit
