#include "tracker/report_data.h"

#include <algorithm>
#include <exception>
#include <thread>

#include <fmt/format.h>

#include "core/error.h"
#include "core/util.h"
#include "tracker/queries.h"

namespace lowbit {

using nlohmann::json;

namespace {

// Each run's config JSON into its RunData, on up to one thread per core: at 100,000 runs
// (129 MB of JSON) parsing is most of the report's load time.
void parse_configs(const std::vector<std::string>& configs, std::vector<RunData>& runs) {
  const size_t n = configs.size();
  const size_t threads = std::clamp<size_t>(std::thread::hardware_concurrency(), 1, 8);
  if (n < 1000 || threads == 1) {
    for (size_t i = 0; i < n; ++i) runs[i].config = json::parse(configs[i]);
    return;
  }
  std::vector<std::exception_ptr> errors(threads);
  std::vector<std::thread> pool;
  for (size_t t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      try {
        for (size_t i = t * n / threads; i < (t + 1) * n / threads; ++i) runs[i].config = json::parse(configs[i]);
      } catch (...) {
        errors[t] = std::current_exception();
      }
    });
  for (auto& th : pool) th.join();
  for (auto& err : errors)
    if (err) std::rethrow_exception(err);
}

}  // namespace

ExperimentData load_experiment_data(Db& db, const std::string& experiment) {
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
  // Databases older than schema 5 have no parent or reuse columns.
  const bool v5 = db.has_column("runs", "parent_run_id");
  const std::string q_runs = fmt::format(
      "SELECT id, seed, variant, status, COALESCE(git_commit, ''), config_json, varying_json, "
      "COALESCE(error, ''), {} FROM runs WHERE experiment_id = {} ORDER BY id",
      v5 ? "COALESCE(parent_run_id, 0), COALESCE(reused_from, 0)" : "0, 0", id);
  auto r = db.prepare(q_runs);
  std::map<int64_t, size_t> index;
  std::vector<std::string> configs;  // parsed below, on every core
  while (r.step()) {
    RunData d;
    d.id = r.get_int(0);
    d.seed = r.get_int(1);
    d.variant = r.get_text(2);
    d.status = parse_run_status(r.get_text(3));
    d.git_commit = r.get_text(4);
    configs.push_back(r.get_text(5));
    d.varying = json::parse(r.get_text(6));
    d.error = r.get_text(7);
    d.parent_id = r.get_int(8);
    d.reused_from = r.get_int(9);
    index[d.id] = e.runs.size();
    e.runs.push_back(std::move(d));
  }
  parse_configs(configs, e.runs);
  e.queries.push_back(q_runs);
  // A per-variant axis does not apply to the other variants: mark it absent (null) there so
  // tables show an empty cell rather than the default value.
  for (auto& run : e.runs)
    for (auto& k : e.axis_keys)
      if (!run.varying.contains(k)) run.varying[k] = nullptr;
  const std::string q_sum = fmt::format(
      "SELECT s.run_id, s.key, s.value FROM summaries s JOIN runs r ON r.id = s.run_id WHERE "
      "r.experiment_id = {}",
      id);
  auto s = db.prepare(q_sum);
  while (s.step()) e.runs[index[s.get_int(0)]].summary[s.get_text(1)] = s.get_double(2);
  e.queries.push_back(q_sum);
  if (db.has_table("tags")) {  // schema 3: tags and notes added after the fact
    const std::string q_tags = fmt::format(
        "SELECT t.run_id, t.tag FROM tags t JOIN runs r ON r.id = t.run_id WHERE r.experiment_id = {} "
        "ORDER BY t.run_id, t.tag",
        id);
    auto t = db.prepare(q_tags);
    while (t.step()) e.runs[index[t.get_int(0)]].tags.push_back(t.get_text(1));
    const std::string q_notes = fmt::format(
        "SELECT n.run_id, n.text FROM notes n JOIN runs r ON r.id = n.run_id WHERE r.experiment_id = {} "
        "ORDER BY n.id",
        id);
    auto n = db.prepare(q_notes);
    while (n.step()) e.runs[index[n.get_int(0)]].notes.push_back(n.get_text(1));
    e.queries.push_back(q_tags), e.queries.push_back(q_notes);
  }
  return e;
}

namespace {
std::string experiment_filter(const ExperimentData& e) {
  return fmt::format("run_id IN (SELECT id FROM runs WHERE experiment_id = {})", e.id);
}
}  // namespace

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
