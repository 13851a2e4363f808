#include "reports/diff.h"

#include <cmath>
#include <map>
#include <set>

#include <fmt/format.h>

#include "core/config/run_config.h"
#include "core/error.h"
#include "core/train/keys.h"
#include "core/util.h"
#include "reports/stats.h"
#include "tracker/queries.h"

namespace lowbit {

using nlohmann::json;

namespace {

// The values one side has for `key`, joined ("a" or "a | b" when its runs disagree).
std::string side_values(const std::vector<json>& per_run, const std::string& key) {
  std::set<std::string> vs;
  for (auto& p : per_run) vs.insert(p.contains(key) ? p[key].get<std::string>() : "(none)");
  return join({vs.begin(), vs.end()}, " | ");
}

std::vector<json> per_run(Db& db, const RunSelection& s, bool config) {
  std::vector<json> out;
  for (int64_t id : s.runs) {
    json j = json::object();
    for (auto& [k, v] : config ? run_config_text(db, id) : run_provenance(db, id)) j[k] = v;
    if (config && s.cell) j.erase("seed");
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

json side_stats(const Summary& s) {
  return {{"mean", s.mean}, {"std", s.std}, {"n", s.n}};
}

json metric_rows(Db& db, const RunSelection& a, const RunSelection& b) {
  auto ma = run_summaries(db, a.runs), mb = run_summaries(db, b.runs);
  json rows = json::array();
  for (auto& [key, xs] : ma) {
    auto it = mb.find(key);
    if (it == mb.end()) continue;
    const Summary sa = summarize(xs), sb = summarize(it->second);
    json row = {{"key", key}, {"a", side_stats(sa)}, {"b", side_stats(sb)}, {"diff", sb.mean - sa.mean}};
    if (const OutputKey* k = find_output_key(key, KeyScope::kRun); k && k->machine_dependent)
      row["machine_dependent"] = true;  // a difference of the machines (or their load) as much as of the runs
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

std::string stats_text(const std::string& key, const json& s) {
  auto number = [&](double v) { return output_value_text(key, v); };
  if (s["n"].get<int>() < 2) return number(s["mean"].get<double>());
  return fmt::format("{} ± {} (n={})", number(s["mean"].get<double>()), number(s["std"].get<double>()),
                     s["n"].get<int>());
}

}  // namespace

json diff_runs(Db& db, const RunSelection& a, const RunSelection& b) {
  for (const RunSelection* s : {&a, &b})
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
  out += "\nfinal metrics (B - A; 95% Welch interval and p where both sides have 2+ seeds; (machine): "
         "depends on the machine and its load, docs/OUTPUTS.md)\n";
  for (auto& r : d["metrics"]) {
    const std::string name = r["key"].get<std::string>();
    auto number = [&](double v) { return output_value_text(name, v); };
    std::string extra;
    if (r.contains("ci95"))
      extra = fmt::format("  [{}, {}]  p={:.3g}", number(r["ci95"][0].get<double>()),
                          number(r["ci95"][1].get<double>()), r["p"].get<double>());
    const std::string key = name + (r.value("machine_dependent", false) ? " (machine)" : "");
    const double diff = r["diff"].get<double>();
    out += fmt::format("  {:<30} {:<28} {:<28} {}{}{}\n", key, stats_text(name, r["a"]), stats_text(name, r["b"]),
                       diff >= 0 ? "+" : "", number(diff), extra);
  }
  return out;
}

}  // namespace lowbit
