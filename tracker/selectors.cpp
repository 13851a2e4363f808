#include "tracker/selectors.h"
#include "tracker/sqlite.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/util.h"
#include "tracker/store.h"

namespace lowbit {

using nlohmann::json;

std::map<std::string, std::string> run_config_text(Db& db, int64_t run) {
  std::map<std::string, std::string> out;
  auto st = db.prepare("SELECT key, value FROM run_config WHERE run_id = ?");
  st.bind(1, run);
  while (st.step()) out[st.get_text(0)] = sql_value_text(st.get(1), /*full=*/true);
  return out;
}

namespace {

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
      "no run '{}'{} (a run id, a config-hash prefix of 4+ hex digits, variant@train-hash, or experiment:variant; "
      "see lowbit query runs)",
      truncate_for_message(sel), did_you_mean(sel, all_run_ids(db))));
}

using FoundRuns = std::vector<std::pair<int64_t, std::string>>;  // (id, config_hash)

// The runs that `condition` (one parameter per value) selects.
FoundRuns runs_where(Db& db, const std::string& condition, const std::vector<SqlValue>& values) {
  auto st = db.prepare("SELECT id, config_hash FROM runs WHERE " + condition + " ORDER BY id");
  for (size_t i = 0; i < values.size(); ++i) st.bind(int(i) + 1, values[i]);
  FoundRuns found;
  while (st.step()) found.push_back({st.get_int(0), st.get_text(1)});
  return found;
}

// The one run `sel` named: none, or more than one, is an error that says so.
RunSelection one_run(Db& db, const std::string& sel, const FoundRuns& found) {
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

// A run id, or else ("1234" may be either) a config-hash prefix of 4+ hex digits.
RunSelection resolve_run(Db& db, const std::string& sel) {
  const bool digits = std::all_of(sel.begin(), sel.end(), [](unsigned char c) { return std::isdigit(c); });
  FoundRuns found;
  if (digits && sel.size() < 10) found = runs_where(db, "id = ?", {int64_t(std::stoll(sel))});
  if (found.empty() && sel.size() >= 4) found = runs_where(db, "config_hash LIKE ? || '%'", {sel});
  return one_run(db, sel, found);
}

// "variant@train-hash", as init.from_run stores a parent: the run of that variant whose
// training hash starts with the hash (the original, not a copy another experiment reused).
RunSelection resolve_train_ref(Db& db, const std::string& sel) {
  const auto at = sel.find('@');
  const std::string variant = sel.substr(0, at), hash = sel.substr(at + 1);
  if (variant.empty() || hash.size() < 4 || !is_hex(hash))
    throw ConfigError("'" + truncate_for_message(sel) +
                      "': expected variant@hash, 4+ hex digits of the run's training hash (as init.from_run stores it)");
  if (!db.has_column("runs", "train_hash")) no_run(db, sel);
  return one_run(db, sel,
                 runs_where(db, "variant = ? AND train_hash LIKE ? || '%' AND reused_from IS NULL", {variant, hash}));
}

struct CellRun {
  int64_t id;
  bool done;
};
using ConfigGroups = std::map<std::map<std::string, std::string>, std::vector<CellRun>>;

// How runs are grouped into cells. kReport: as a report groups them, by the values of the
// experiment's axes (varying_json), among the runs of the definition the experiment was last
// launched with (in_definition); a child's init.from_run names its own seed's parent, so the
// full config would split a cell the report averages as one. kConfig, for a run outside that
// definition: by its whole config but the seed and init.from_run, among every run.
enum class Cells { kReport, kConfig };

// The runs of one experiment and variant that `keep` accepts (given each run's config),
// grouped into cells: one group per cell, one run per seed.
template <typename Keep>
ConfigGroups group_by_config(Db& db, int64_t experiment_id, const std::string& variant, Keep keep,
                             Cells cells = Cells::kReport) {
  const bool definition = cells == Cells::kReport && db.has_column("runs", "in_definition");
  auto st = db.prepare("SELECT id, status, varying_json FROM runs WHERE experiment_id = ? AND variant = ?" +
                       std::string(definition ? " AND in_definition = 1" : "") + " ORDER BY id");
  st.bind(1, experiment_id).bind(2, variant);
  ConfigGroups groups;
  while (st.step()) {
    auto cfg = run_config_text(db, st.get_int(0));
    if (!keep(cfg)) continue;
    std::map<std::string, std::string> cell;  // the keys that tell cells apart, with this run's values
    if (cells == Cells::kReport) {
      const json varying = json::parse(st.get_text(2));
      for (auto& [k, v] : varying.items())
        if (auto it = cfg.find(k); it != cfg.end()) cell[k] = it->second;
    } else {
      cfg.erase("seed"), cfg.erase("init.from_run");
      cell = std::move(cfg);
    }
    groups[cell].push_back({st.get_int(0), st.get_text(1) == "done"});
  }
  return groups;
}

// "exp:variant[:key=value...]": the done runs of one configuration, one per seed.
RunSelection resolve_cell(Db& db, const std::string& sel) {
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
  RunSelection side{sel, "", {}, true, int64_t(runs.size())};
  for (const CellRun& r : runs)
    if (r.done) side.runs.push_back(r.id);
  side.label = fmt::format("{} ({} done of {} seeds)", sel, side.runs.size(), side.seeds);
  return side;
}

}  // namespace

std::map<std::string, std::string> run_provenance(Db& db, int64_t run) {
  // A database read before it is migrated may lack the newer columns: NULL there.
  std::string columns;
  for (const char* c : kProvenanceColumns) columns += (db.has_column("runs", c) ? c : std::string("NULL")) + ", ";
  auto st = db.prepare("SELECT " + columns +
                       "(SELECT length(diff) - length(replace(diff, char(10), '')) FROM diffs WHERE "
                       "id = runs.diff_id) FROM runs WHERE id = ?");
  st.bind(1, run);
  std::map<std::string, std::string> p;
  if (!st.step()) return p;
  int i = 0;
  for (const char* c : kProvenanceColumns) p[c] = sql_value_text(st.get(i++), true);
  const std::string lines = sql_value_text(st.get(i), true);
  p["dirty_diff"] = lines.empty() ? "none" : lines + " lines";
  return p;
}

std::map<std::string, std::vector<double>> run_summaries(Db& db, const std::vector<int64_t>& runs) {
  std::map<std::string, std::vector<double>> out;
  auto st = db.prepare("SELECT key, value FROM summaries WHERE run_id = ? AND value IS NOT NULL");
  for (int64_t id : runs) {
    st.bind(1, id);
    while (st.step()) out[st.get_text(0)].push_back(st.get_double(1));
    st.reset();
  }
  return out;
}

EpochMetrics run_metrics(Db& db, int64_t run) {
  EpochMetrics m;
  auto st = db.prepare("SELECT epoch, key, value FROM metrics WHERE run_id = ?");
  st.bind(1, run);
  while (st.step()) m[{st.get_int(0), st.get_text(1)}] = st.get_double(2);
  return m;
}

std::vector<std::pair<std::string, std::string>> run_notes(Db& db, int64_t run) {
  std::vector<std::pair<std::string, std::string>> out;
  if (!db.has_table("notes")) return out;
  auto st = db.prepare("SELECT created_at, text FROM notes WHERE run_id = ? ORDER BY id");
  st.bind(1, run);
  while (st.step()) out.emplace_back(st.get_text(0), st.get_text(1));
  return out;
}

StoredRunRow stored_run_row(Db& db, int64_t run) {
  auto st = db.prepare(
      "SELECT status, COALESCE(git_commit, ''), COALESCE(torch_version, ''), COALESCE(threads, 1), "
      "config_json FROM runs WHERE id = ?");
  st.bind(1, run);
  if (!st.step()) throw StoreError(db.path() + ": no run " + std::to_string(run), true);
  return {st.get_text(0), st.get_text(1), st.get_text(2), st.get_text(4), st.get_int(3)};
}

std::vector<int64_t> done_runs_of_cell(Db& db, int64_t run) {
  const bool definition = db.has_column("runs", "in_definition");
  auto st = db.prepare(std::string("SELECT experiment_id, variant, ") + (definition ? "in_definition" : "1") +
                       " FROM runs WHERE id = ?");
  st.bind(1, run);
  if (!st.step()) return {};
  const Cells cells = st.get_int(2) == 1 ? Cells::kReport : Cells::kConfig;
  for (auto& [cfg, runs] :
       group_by_config(db, st.get_int(0), st.get_text(1), [](const auto&) { return true; }, cells)) {
    if (std::none_of(runs.begin(), runs.end(), [&](const CellRun& r) { return r.id == run; })) continue;
    std::vector<int64_t> done;
    for (const CellRun& r : runs)
      if (r.done) done.push_back(r.id);
    return done;
  }
  return {};
}

RunSelection resolve_selector(Db& db, const std::string& selector) {
  if (selector.empty()) throw ConfigError("an empty selector: give a run id, a hash prefix or experiment:variant");
  if (selector.find('@') != std::string::npos && selector.find(':') == std::string::npos)
    return resolve_train_ref(db, selector);
  if (selector.find(':') != std::string::npos) return resolve_cell(db, selector);
  if (!is_hex(selector)) no_run(db, selector);
  if (selector.size() < 4 && !std::all_of(selector.begin(), selector.end(), [](unsigned char c) { return std::isdigit(c); }))
    throw ConfigError("'" + selector + "': a hash prefix needs at least 4 hex digits");
  return resolve_run(db, selector);
}


}  // namespace lowbit
