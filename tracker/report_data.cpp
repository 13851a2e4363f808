#include "tracker/report_data.h"
#include "tracker/sqlite.h"

#include <algorithm>
#include <exception>
#include <memory>
#include <thread>
#include <variant>

#include <fmt/format.h>

#include "core/config/run_config.h"
#include "core/error.h"
#include "core/util.h"
#include "tracker/queries.h"

namespace lowbit {

using nlohmann::json;

namespace {

// Each run's config JSON into its RunData, on up to one thread per core: at 100,000 runs
// (129 MB of JSON) parsing is most of the report's load time.
void parse_configs(std::vector<RunData>& runs) {
  const size_t n = runs.size();
  const size_t threads = std::clamp<size_t>(std::thread::hardware_concurrency(), 1, 8);
  auto parse = [&](size_t i) { runs[i].config(); };
  if (n < 1000 || threads == 1) {
    for (size_t i = 0; i < n; ++i) parse(i);
    return;
  }
  std::vector<std::exception_ptr> errors(threads);
  std::vector<std::thread> pool;
  for (size_t t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      try {
        for (size_t i = t * n / threads; i < (t + 1) * n / threads; ++i) parse(i);
      } catch (...) {
        errors[t] = std::current_exception();
      }
    });
  for (auto& th : pool) th.join();
  for (auto& err : errors)
    if (err) std::rethrow_exception(err);
}

// A config field's JSON type, from its default: run_config stores booleans as integers and
// lists and objects as their JSON text (typed_config), so reading one back needs it.
struct FieldKind {
  bool boolean = false, string = false;
};

// run_config's value as the JSON value to_json(RunConfig) holds there.
json typed_value(FieldKind kind, const SqlValue& v) {
  if (std::holds_alternative<std::monostate>(v)) return nullptr;
  if (auto* i = std::get_if<int64_t>(&v)) return kind.boolean ? json(*i != 0) : json(*i);
  if (auto* d = std::get_if<double>(&v)) return *d;
  const auto& text = std::get<std::string>(v);
  return kind.string ? json(text) : json::parse(text);
}
}  // namespace

RunData* ExperimentData::run(int64_t id) {
  auto it = std::lower_bound(runs.begin(), runs.end(), id,
                             [](const RunData& r, int64_t v) { return r.id < v; });
  return it != runs.end() && it->id == id ? &*it : nullptr;
}

const RunData* ExperimentData::run(int64_t id) const {
  return const_cast<ExperimentData*>(this)->run(id);
}

const json& RunData::config() const {
  if (!config_tree) config_tree = std::make_shared<const json>(json::parse(config_json));
  return *config_tree;
}

ExperimentData load_experiment_data(Db& db, const std::string& experiment,
                                    bool parse_configs_now, bool all_runs, const std::string& where) {
  ExperimentData e;
  experiment_id_or_throw(db, experiment);  // names the experiments there are
  const std::string q_exp =
      "SELECT id, name, description, spec_json FROM experiments WHERE name = ?";
  auto st = db.prepare(q_exp);
  st.bind(1, experiment).step();
  int64_t id = e.id = st.get_int(0);
  e.name = st.get_text(1);
  e.description = st.get_text(2);
  e.spec = json::parse(st.get_text(3), nullptr, false);
  if (e.spec.is_object()) {
    if (e.spec.contains("axes") && e.spec["axes"].is_object())
      for (auto& [k, v] : e.spec["axes"].items()) e.axis_keys.push_back(k);
    if (e.spec.contains("variants") && e.spec["variants"].is_object())
      for (auto& [vn, v] : e.spec["variants"].items())
        if (v.is_object() && v.contains("axes") && v["axes"].is_object())
          for (auto& [k, x] : v["axes"].items())
            if (std::find(e.axis_keys.begin(), e.axis_keys.end(), k) == e.axis_keys.end())
              e.axis_keys.push_back(k);
  }
  e.queries.push_back(q_exp);
  // Databases older than schema 5 have no parent or reuse columns, older than 7 no
  // definition membership (every run counts as the definition's).
  const bool v5 = db.has_column("runs", "parent_run_id");
  const bool v7 = db.has_column("runs", "in_definition");
  const std::string subset =
      where.empty() ? ""
                    : " AND id IN (SELECT r.id FROM runs r JOIN experiments e ON e.id = r.experiment_id WHERE " +
                          where + ")";
  e.run_condition =
      fmt::format("experiment_id = {}{}{}", id, v7 && !all_runs ? " AND in_definition = 1" : "", subset);
  if (v7) {
    auto o = db.prepare(
        "SELECT id, variant, seed, status FROM runs WHERE experiment_id = ? AND in_definition = 0" + subset +
        " ORDER BY id");
    o.bind(1, id);
    while (o.step()) {
      RunData d;
      d.id = o.get_int(0), d.variant = o.get_text(1), d.seed = o.get_int(2);
      d.status = parse_run_status(o.get_text(3));
      d.in_definition = false;
      e.outside.push_back(std::move(d));
    }
  }
  const std::string q_runs = fmt::format(
      "SELECT id, seed, variant, status, COALESCE(git_commit, ''), config_json, varying_json, "
      "COALESCE(error, ''), {}, {} FROM runs WHERE {} ORDER BY id",
      v5 ? "COALESCE(parent_run_id, 0), COALESCE(reused_from, 0)" : "0, 0",
      v7 ? "in_definition" : "1", e.run_condition);
  auto r = db.prepare(q_runs);
  while (r.step()) {
    RunData d;
    d.id = r.get_int(0);
    d.seed = r.get_int(1);
    d.variant = r.get_text(2);
    d.status = parse_run_status(r.get_text(3));
    d.git_commit = r.get_text(4);
    d.config_json = r.get_text(5);
    d.varying = json::parse(r.get_text(6));
    d.error = r.get_text(7);
    d.parent_id = r.get_int(8);
    d.reused_from = r.get_int(9);
    d.in_definition = r.get_int(10) != 0;
    if (!d.in_definition) d.variant += kOutsideMark;
    e.runs.push_back(std::move(d));
  }
  if (parse_configs_now) parse_configs(e.runs);
  e.queries.push_back(q_runs);
  // A per-variant axis does not apply to the other variants: mark it absent (null) there so
  // tables show an empty cell rather than the default value.
  for (auto& run : e.runs)
    for (auto& k : e.axis_keys)
      if (!run.varying.contains(k)) run.varying[k] = nullptr;
  const std::string q_sum = fmt::format(
      "SELECT s.run_id, s.key, s.value FROM summaries s JOIN runs r ON r.id = s.run_id WHERE "
      "r.{}",
      e.run_condition);
  auto s = db.prepare(q_sum);
  while (s.step())
    if (RunData* run = e.run(s.get_int(0))) run->summary[s.get_text(1)] = s.get_double(2);
  e.queries.push_back(q_sum);
  if (db.has_table("tags")) {  // schema 3: tags and notes added after the fact
    const std::string q_tags = fmt::format(
        "SELECT t.run_id, t.tag FROM tags t JOIN runs r ON r.id = t.run_id WHERE r.experiment_id = {} "
        "ORDER BY t.run_id, t.tag",
        id);
    auto t = db.prepare(q_tags);
    while (t.step())
      if (RunData* run = e.run(t.get_int(0))) run->tags.push_back(t.get_text(1));
    const std::string q_notes = fmt::format(
        "SELECT n.run_id, n.text FROM notes n JOIN runs r ON r.id = n.run_id WHERE r.experiment_id = {} "
        "ORDER BY n.id",
        id);
    auto n = db.prepare(q_notes);
    while (n.step())
      if (RunData* run = e.run(n.get_int(0))) run->notes.push_back(n.get_text(1));
    e.queries.push_back(q_tags), e.queries.push_back(q_notes);
  }
  return e;
}

namespace {
std::string experiment_filter(const ExperimentData& e) {
  return fmt::format("run_id IN (SELECT id FROM runs WHERE {})", e.run_condition);
}
}  // namespace

void load_config_text(Db& db, ExperimentData& e, const std::vector<std::string>& keys) {
  std::map<std::string, FieldKind> kinds;
  const RunConfig defaults;
  for (const auto& f : config_fields())
    if (std::find(keys.begin(), keys.end(), f.path) != keys.end()) {
      const json d = f.get(defaults);
      kinds[f.path] = {d.is_boolean(), d.is_string()};
    }
  if (kinds.empty()) return;
  std::string in;
  for (size_t i = 0; i < kinds.size(); ++i) in += i ? ", ?" : "?";
  const std::string sql = "SELECT run_id, key, value FROM run_config WHERE key IN (" + in +
                          ") AND " + experiment_filter(e);
  auto st = db.prepare(sql);
  int b = 1;
  for (auto& [k, kind] : kinds) st.bind(b++, k);
  while (st.step()) {
    RunData* run = e.run(st.get_int(0));
    if (!run) continue;
    std::string key = st.get_text(1);
    run->config_text[key] = config_value_text(typed_value(kinds.at(key), st.get(2)));
  }
  std::string names;
  for (auto& [k, kind] : kinds) names += (names.empty() ? "'" : ", '") + k + "'";
  e.queries.push_back(sql + "  -- keys: " + names);
}

std::map<int64_t, std::vector<std::pair<int64_t, double>>> load_metric_series(
    Db& db, ExperimentData& e, const std::string& key) {
  std::map<int64_t, std::vector<std::pair<int64_t, double>>> out;
  const std::string sql = "SELECT run_id, epoch, value FROM metrics WHERE key = ? AND " +
                          experiment_filter(e) + " ORDER BY run_id, epoch";
  auto st = db.prepare(sql);
  st.bind(1, key);
  while (st.step()) out[st.get_int(0)].emplace_back(st.get_int(1), st.get_double(2));
  e.queries.push_back(fmt::format("{}  -- key = '{}'", sql, key));
  return out;
}

LayerSeries load_layer_series(Db& db, ExperimentData& e, const std::vector<std::string>& keys) {
  LayerSeries out;
  std::string in;
  for (auto& k : keys) in += (in.empty() ? "'" : ",'") + k + "'";
  const std::string sql =
      "SELECT run_id, layer, key, epoch, value FROM layer_stats WHERE key IN (" + in + ") AND " +
      experiment_filter(e) + " ORDER BY run_id, layer, key, epoch";
  auto st = db.prepare(sql);
  while (st.step())
    out[st.get_int(0)][st.get_text(1)][st.get_text(2)].emplace_back(st.get_int(3),
                                                                    st.get_double(4));
  e.queries.push_back(sql);
  return out;
}

std::vector<std::string> metric_keys(Db& db, ExperimentData& e) {
  std::vector<std::string> out;
  auto st = db.prepare("SELECT DISTINCT key FROM metrics WHERE " + experiment_filter(e) +
                       " ORDER BY key");
  while (st.step()) out.push_back(st.get_text(0));
  return out;
}

namespace {
bool has_key(Db& db, ExperimentData& e, const char* table, const std::string& key) {
  auto st = db.prepare(fmt::format("SELECT EXISTS (SELECT 1 FROM {} WHERE key = ? AND {})", table,
                                   experiment_filter(e)));
  st.bind(1, key);
  return st.step() && st.get_int(0) != 0;
}
}  // namespace

bool has_metric_key(Db& db, ExperimentData& e, const std::string& key) {
  return has_key(db, e, "metrics", key);
}

bool has_summary_key(Db& db, ExperimentData& e, const std::string& key) {
  return has_key(db, e, "summaries", key);
}

std::vector<std::string> summary_keys(Db& db, ExperimentData& e) {
  std::vector<std::string> out;
  auto st = db.prepare("SELECT DISTINCT key FROM summaries WHERE " + experiment_filter(e) +
                       " ORDER BY key");
  while (st.step()) out.push_back(st.get_text(0));
  return out;
}

}  // namespace lowbit
