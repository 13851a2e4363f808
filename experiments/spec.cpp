#include "experiments/spec.h"

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "core/config/names.h"
#include "core/error.h"
#include "core/train/interrupt.h"
#include "core/util.h"

namespace lowbit {

using nlohmann::json;
using nlohmann::ordered_json;

namespace {

constexpr size_t kMaxNameLength = 200;

json plain(const ordered_json& j) { return json::parse(j.dump()); }

// Applies {path: value} pairs (flat keys) through apply_json so that errors name the key.
void apply_axis(RunConfig& cfg, const std::string& key, const ordered_json& value,
                const std::string& where) {
  json nested = plain(value);
  std::vector<std::string> parts;
  std::stringstream ss(key);
  for (std::string p; std::getline(ss, p, '.');) parts.push_back(p);
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) nested = json{{*it, nested}};
  apply_json(cfg, nested, where);
}

struct Axis {
  std::string key;
  std::vector<ordered_json> values;
};

std::vector<Axis> read_axes(const ordered_json& j, const std::string& where) {
  std::vector<Axis> out;
  if (j.is_null()) return out;
  if (!j.is_object()) throw ConfigError(where + ": expected an object {key.path: [values]}");
  if (j.empty())
    throw ConfigError(where + ": expected at least one axis {key.path: [values]} (remove \"axes\" for none)");
  for (auto& [k, v] : j.items()) {
    if (!v.is_array() || v.empty())
      throw ConfigError(where + "." + k + ": expected a non-empty list of values, got " + v.dump());
    Axis a{k, {}};
    for (auto& x : v) a.values.push_back(x);
    out.push_back(a);
  }
  return out;
}

// The value at a dotted path of a config's JSON (null when absent).
json value_at(const json& cfg_json, const std::string& path) {
  auto p = config_pointer(path);
  return cfg_json.contains(p) ? cfg_json[p] : json();
}

bool same_value(const json& a, const json& b) {
  if (a.is_number() && b.is_number()) return a.get<double>() == b.get<double>();
  return a == b;
}


// init.from_run may be written {"variant": "fp"} (as the docs show) or "fp"; the config field
// holds the variant's name.
void normalize_from_run(ordered_json& partial, const std::string& where) {
  if (!partial.is_object() || !partial.contains("init") || !partial["init"].is_object()) return;
  auto& init = partial["init"];
  if (!init.contains("from_run") || !init["from_run"].is_object()) return;
  const auto& f = init["from_run"];
  if (f.size() != 1 || !f.contains("variant") || !f["variant"].is_string())
    throw ConfigError(where + ": init.from_run: expected {\"variant\": \"<a variant of this experiment>\"}, got " +
                      truncate_for_message(f.dump()));
  init["from_run"] = f["variant"];
}

// "report": {tables, plot, metric, baseline: strings; rows, cols: lists of strings}.
json read_report_settings(const ordered_json& r, const std::string& source) {
  if (!r.is_object()) throw ConfigError(source + ": report: expected an object {tables, plot, metric, rows, cols, baseline}");
  const std::vector<std::string> strings = {"tables", "plot", "metric", "baseline"}, lists = {"rows", "cols"};
  for (auto& [k, v] : r.items()) {
    const bool is_string = std::find(strings.begin(), strings.end(), k) != strings.end();
    const bool is_list = std::find(lists.begin(), lists.end(), k) != lists.end();
    if (!is_string && !is_list) {
      std::vector<std::string> all = strings;
      all.insert(all.end(), lists.begin(), lists.end());
      throw ConfigError(source + ": report: unknown key '" + k + "'" + did_you_mean(k, all) + " (" + join(all, ", ") + ")");
    }
    bool ok = is_string ? v.is_string() : v.is_array() && std::all_of(v.begin(), v.end(), [](auto& x) { return x.is_string(); });
    if (!ok)
      throw ConfigError(source + ": report." + k + ": expected " + (is_string ? "a string" : "a list of strings") +
                        ", got " + truncate_for_message(v.dump()));
  }
  return plain(r);
}

struct VariantPlan {
  std::string name, where, parent;  ///< parent: the variant named by init.from_run
  RunConfig base;                   ///< base, then the variant
  std::vector<Axis> axes;           ///< global, then the variant's own
};

VariantPlan plan_variant(const std::string& name, const ordered_json& vraw, const RunConfig& base,
                         const std::vector<Axis>& global_axes, const std::string& source,
                         ExperimentSpec& spec) {
  VariantPlan plan{name, source + ": variants." + name, "", base, global_axes};
  if (!vraw.is_object()) throw ConfigError(plan.where + ": expected an object (a partial run config)");
  ordered_json vcfg = vraw;
  if (vcfg.contains("axes")) {
    for (auto& a : read_axes(vcfg["axes"], plan.where + ".axes")) {
      plan.axes.push_back(a);
      if (std::find(spec.axis_keys.begin(), spec.axis_keys.end(), a.key) == spec.axis_keys.end())
        spec.axis_keys.push_back(a.key);
    }
    vcfg.erase("axes");
  }
  normalize_from_run(vcfg, plan.where);
  apply_json(plan.base, plain(vcfg), plan.where);
  plan.parent = plan.base.init_from_run;
  if (plan.parent.empty()) return plan;
  if (plan.parent.find('@') != std::string::npos)
    plan.parent = plan.parent.substr(0, plan.parent.find('@'));  // a stored config read back
  std::vector<std::string> names;
  if (spec.raw.contains("variants"))
    for (auto& [k, v] : spec.raw["variants"].items()) names.push_back(k);
  if (plan.parent == name)
    throw ConfigError(plan.where + ": init.from_run: a variant cannot start from itself (set "
                      "init.from_run in the variant that starts from another, not in base)");
  if (std::find(names.begin(), names.end(), plan.parent) == names.end())
    throw ConfigError(plan.where + ": init.from_run: no variant '" + plan.parent + "'" +
                      did_you_mean(plan.parent, names) + " (variants: " + join(names, ", ") + ")");
  if (!plan.base.init_from_checkpoint.empty())
    throw ConfigError(plan.where + ": init.from_run and init.from_checkpoint both set; keep one");
  return plan;
}

// The runs of one variant: the cartesian product of its axes (odometer over indices) x the
// seeds, without the excluded ones.
std::vector<PlannedRun> expand_variant(const VariantPlan& plan, size_t n_global,
                                       const std::vector<int64_t>& seeds,
                                       const std::vector<ordered_json>& excludes,
                                       const std::string& source, const std::string& experiment) {
  std::vector<PlannedRun> out;
  const auto& axes = plan.axes;
  std::vector<size_t> idx(axes.size(), 0);
  while (true) {
    RunConfig c = plan.base;
    ordered_json varying = ordered_json::object();
    for (size_t a = 0; a < axes.size(); ++a) {
      apply_axis(c, axes[a].key, axes[a].values[idx[a]],
                 fmt::format("{}: {}axes.{}[{}]", source, a < n_global ? "" : "variants." + plan.name + ".",
                             axes[a].key, idx[a]));
      varying[axes[a].key] = axes[a].values[idx[a]];
    }
    c.name = experiment;
    if (interrupt_count().load() > 0) throw Interrupted("interrupted while expanding " + source);
    for (int64_t seed : seeds) {
      RunConfig r = c;
      r.seed = seed;
      validate(r, plan.where);
      json rj = to_json(r);
      bool excluded = false;
      for (auto& rule : excludes) {
        bool all = true;
        for (auto& [k, v] : rule.items())
          all = all && (k == "variant" ? v == plan.name : same_value(value_at(rj, k), plain(v)));
        excluded = excluded || all;
      }
      if (excluded) continue;
      PlannedRun p;
      p.config = r;
      p.hash = config_hash(r);
      p.variant = plan.name;
      p.varying = plain(varying);
      out.push_back(std::move(p));
    }
    size_t a = 0;
    while (a < axes.size() && ++idx[a] == axes[a].values.size()) idx[a++] = 0;
    if (a == axes.size()) break;
  }
  return out;
}

// Each run of a variant with init.from_run starts from the parent variant's run with the same
// seed and the same values on every axis both vary; exactly one such run must exist. The
// child's config then names the parent's training hash, so the parent is part of its identity.
void link_parents(std::vector<PlannedRun>& children, const std::vector<PlannedRun>& parents,
                  const VariantPlan& plan, const std::string& source) {
  for (auto& child : children) {
    std::vector<const PlannedRun*> match;
    for (auto& p : parents) {
      bool same = p.config.seed == child.config.seed;
      for (auto& [k, v] : p.varying.items())
        if (child.varying.contains(k)) same = same && same_value(v, child.varying[k]);
      if (same) match.push_back(&p);
    }
    std::string here = fmt::format("{}: variants.{}: init.from_run: run {} seed {}", source, plan.name,
                                   child.varying.dump(), child.config.seed);
    if (match.empty())
      throw ConfigError(here + ": variant " + plan.parent +
                        " has no run with this seed and these axis values (excluded?)");
    if (match.size() > 1) {
      std::set<std::string> keys;
      for (auto& [k, v] : match.front()->varying.items())
        if (!child.varying.contains(k)) keys.insert(k);
      throw ConfigError(fmt::format("{}: variant {} has {} runs that match (they differ in {}, which {} does not "
                                    "vary): give {} the same axes",
                                    here, plan.parent, match.size(),
                                    join(std::vector<std::string>(keys.begin(), keys.end()), ", "),
                                    plan.name, plan.name));
    }
    child.config.init_from_run = plan.parent + "@" + training_hash(match.front()->config);
    child.parent_hash = match.front()->hash;
    child.hash = config_hash(child.config);
  }
}

// The experiment's own keys: none unknown, name, description and report settings.
void read_header(ExperimentSpec& spec, const std::string& source) {
  const auto& raw = spec.raw;
  if (!raw.is_object()) throw ConfigError(source + ": expected a JSON object");
  const std::vector<std::string> known = {"name",  "description", "base",   "axes", "variants",
                                          "exclude", "seeds",      "report", "set", "claims",
                                          "settle_max_seeds"};
  for (auto& [k, v] : raw.items())
    if (std::find(known.begin(), known.end(), k) == known.end())
      throw ConfigError(source + ": unknown key '" + k + "'" + did_you_mean(k, known) +
                        " (experiment keys: " + join(known, ", ") + ")");
  if (!raw.contains("name") || !raw["name"].is_string() || raw["name"].get<std::string>().empty())
    throw ConfigError(source + ": name: expected a non-empty string");
  spec.name = raw["name"];
  // The name is a handle typed on command lines and printed in tables and file names.
  if (spec.name.size() > kMaxNameLength ||
      std::any_of(spec.name.begin(), spec.name.end(), [](unsigned char c) { return c < 0x20 || c == 0x7f; }))
    throw ConfigError(fmt::format("{}: name: expected at most {} characters and no control characters, got '{}'",
                                  source, kMaxNameLength, truncate_for_message(spec.name)));
  if (raw.contains("description") && !raw["description"].is_string())
    throw ConfigError(source + ": description: expected a string, got " + truncate_for_message(raw["description"].dump()));
  spec.description = raw.value("description", "");
  if (raw.contains("report")) spec.report = read_report_settings(raw["report"], source);
}

// "settle_max_seeds": the most seeds per cell --settle may add up to for this question (the
// cap its power analysis sets); at least the definition's seeds, and only with claims.
void read_settle_cap(ExperimentSpec& spec, size_t seeds, const std::string& source) {
  if (!spec.raw.contains("settle_max_seeds")) return;
  const auto& v = spec.raw["settle_max_seeds"];
  if (!v.is_number_integer() || v.get<int64_t>() < int64_t(seeds) || v.get<int64_t>() > 1000)
    throw ConfigError(fmt::format("{}: settle_max_seeds: expected a whole number from the definition's {} seeds "
                                  "to 1000, got {}",
                                  source, seeds, truncate_for_message(v.dump())));
  if (spec.claims.empty())
    throw ConfigError(source + ": settle_max_seeds: the definition has no claims for --settle to decide; drop it");
  spec.settle_max_seeds = v.get<int64_t>();
}

// "seeds": a count N (seeds 0..N-1) or a list; absent: seed 0.
std::vector<int64_t> read_seeds(const ordered_json& raw, const std::string& source, int64_t max_runs) {
  if (!raw.contains("seeds")) return {0};
  const auto& s = raw["seeds"];
  std::vector<int64_t> seeds;
  if (s.is_number_integer() && s.get<int64_t>() >= 1) {
    if (s.get<int64_t>() > max_runs)
      throw ConfigError(fmt::format("{}: seeds: {} seeds alone exceed the limit of {} runs; raise it with "
                                    "lowbit grid --max-runs N, or split the experiment",
                                    source, s.get<int64_t>(), max_runs));
    for (int64_t i = 0; i < s.get<int64_t>(); ++i) seeds.push_back(i);
  } else if (s.is_array() && !s.empty()) {
    for (auto& x : s) {
      if (!x.is_number_integer() || x.get<int64_t>() < 0)
        throw ConfigError(source + ": seeds: expected non-negative integers, got " + x.dump());
      seeds.push_back(x.get<int64_t>());
    }
  } else {
    throw ConfigError(source + ": seeds: expected a count >= 1 or a list of seeds, got " + s.dump());
  }
  return seeds;
}

// "set": {"dotted.key": value}, applied to every run after its variant (lowbit grid --set and
// --epochs write it): the last word on a key, so an axis key cannot be set.
std::vector<std::pair<std::string, ordered_json>> read_set(const ordered_json& raw, const std::string& source) {
  std::vector<std::pair<std::string, ordered_json>> set;
  if (!raw.contains("set")) return set;
  if (!raw["set"].is_object()) throw ConfigError(source + ": set: expected an object {\"dotted.key\": value}");
  const std::vector<std::string> paths = config_paths();
  for (auto& [k, v] : raw["set"].items()) {
    if (std::find(paths.begin(), paths.end(), k) == paths.end())
      throw ConfigError(source + ": set: unknown key '" + k + "'" + did_you_mean(k, paths));
    set.emplace_back(k, v);
  }
  return set;
}

// "variants" in file order; absent: one variant "default" that changes nothing.
std::vector<std::pair<std::string, ordered_json>> read_variants(const ordered_json& raw, const std::string& source) {
  std::vector<std::pair<std::string, ordered_json>> variants;
  if (!raw.contains("variants")) return {{"default", ordered_json::object()}};
  if (!raw["variants"].is_object() || raw["variants"].empty())
    throw ConfigError(source + ": variants: expected an object {name: partial config}");
  for (auto& [k, v] : raw["variants"].items()) variants.emplace_back(k, v);
  return variants;
}

// "exclude": rules {key: value, ...} on config keys or "variant".
std::vector<ordered_json> read_excludes(const ordered_json& raw, const std::string& source) {
  std::vector<ordered_json> excludes;
  if (!raw.contains("exclude")) return excludes;
  if (!raw["exclude"].is_array()) throw ConfigError(source + ": exclude: expected a list of {key: value} rules");
  // One vector for the search: begin() and end() of two config_paths() temporaries never met
  // (undefined behaviour that accepted any key).
  const std::vector<std::string> paths = config_paths();
  for (auto& e : raw["exclude"]) {
    if (!e.is_object() || e.empty())
      throw ConfigError(source + ": exclude: each rule is a non-empty object {key: value}");
    for (auto& [k, v] : e.items())
      if (k != "variant" && std::find(paths.begin(), paths.end(), k) == paths.end())
        throw ConfigError(source + ": exclude: unknown key '" + k + "'" + did_you_mean(k, paths));
    excludes.push_back(e);
  }
  return excludes;
}

// Counts the runs before expanding any (seeds x sum over variants of the axes' product) and
// refuses more than max_runs.
void check_run_count(const std::vector<std::pair<std::string, ordered_json>>& variants,
                     const std::vector<Axis>& global_axes, size_t n_seeds, const std::string& source,
                     int64_t max_runs) {
  double total = 0;
  for (auto& [vname, vraw] : variants) {
    double n = double(n_seeds);
    for (auto& a : global_axes) n *= double(a.values.size());
    if (vraw.is_object() && vraw.contains("axes") && vraw["axes"].is_object())
      for (auto& [k, v] : vraw["axes"].items()) n *= v.is_array() ? double(std::max<size_t>(1, v.size())) : 1.0;
    total += n;
  }
  if (total > double(max_runs))
    throw ConfigError(fmt::format("{}: the grid has {:.0f} runs (seeds x variants x axes), more than the limit of {}; "
                                  "raise it with lowbit grid --max-runs N, or split the experiment",
                                  source, total, max_runs));
}

// Variants in file order; a variant that starts from another (init.from_run) is expanded after
// it, since its runs' identity includes the parent run's training hash.
std::map<std::string, std::vector<PlannedRun>> expand_in_parent_order(
    const std::vector<VariantPlan>& plans, size_t n_axes, const std::vector<int64_t>& seeds,
    const std::vector<ordered_json>& excludes, const std::string& source, const std::string& name) {
  std::map<std::string, std::vector<PlannedRun>> expanded;
  while (expanded.size() < plans.size()) {
    size_t before = expanded.size();
    for (auto& plan : plans) {
      if (expanded.count(plan.name)) continue;
      if (!plan.parent.empty() && !expanded.count(plan.parent)) continue;
      std::vector<PlannedRun> runs = expand_variant(plan, n_axes, seeds, excludes, source, name);
      if (!plan.parent.empty()) link_parents(runs, expanded[plan.parent], plan, source);
      expanded[plan.name] = std::move(runs);
    }
    if (expanded.size() == before) {
      std::vector<std::string> cycle;
      for (auto& plan : plans)
        if (!expanded.count(plan.name)) cycle.push_back(plan.name + " <- " + plan.parent);
      throw ConfigError(source + ": init.from_run: variants start from each other in a cycle (" +
                        join(cycle, ", ") + "); one of them must start from scratch");
    }
  }
  return expanded;
}

// "set" on every variant's config, after the variant's own values; a key that is an axis is
// refused (the axis would set it again, run by run).
void apply_set_to_plans(std::vector<VariantPlan>& plans, const std::vector<std::pair<std::string, ordered_json>>& set,
                        const ExperimentSpec& spec, const std::string& source) {
  for (auto& [k, v] : set) {
    if (std::find(spec.axis_keys.begin(), spec.axis_keys.end(), k) != spec.axis_keys.end())
      throw ConfigError(source + ": set: " + k + " is an axis of the experiment; drop the axis, or the --set");
    if (k.rfind("init.", 0) == 0)
      throw ConfigError(source + ": set: " + k + " names a run or a file; set it in a variant");
    for (auto& plan : plans) apply_axis(plan.base, k, v, source + ": set." + k);
  }
}

// The runs in variant order; two runs with one hash are the same run, which is an error.
void collect_runs(ExperimentSpec& spec, const std::vector<VariantPlan>& plans,
                  std::map<std::string, std::vector<PlannedRun>>& expanded, const std::string& source) {
  std::map<std::string, std::string> seen;  // hash -> where
  for (auto& plan : plans)
    for (auto& p : expanded[plan.name]) {
      std::string here = fmt::format("variant {} {} seed {}", p.variant, p.varying.dump(), p.config.seed);
      if (auto it = seen.find(p.hash); it != seen.end())
        throw ConfigError(source + ": " + here + " and " + it->second + " are the same run (hash " + p.hash +
                          "); make the variants differ or drop one");
      seen[p.hash] = here;
      spec.runs.push_back(std::move(p));
    }
  if (spec.runs.empty()) throw ConfigError(source + ": the grid is empty (every run excluded?)");
}

}  // namespace

std::string apply_overrides(const std::string& text, const std::string& source, const DefinitionOverrides& o) {
  if (o.empty()) return text;
  (void)parse_json_text(text, source);  // syntax errors with line and column, before any change
  ordered_json raw = ordered_json::parse(text);
  if (!raw.is_object()) throw ConfigError(source + ": expected a JSON object");
  if (o.seeds > 0) raw["seeds"] = o.seeds;
  if (o.epochs > 0) raw["set"]["epochs"] = o.epochs;
  for (const auto& a : o.set) {
    auto [key, value] = parse_assignment(a);
    raw["set"][key] = value;
  }
  return raw.dump(2);
}

ExperimentSpec expand_experiment(const std::string& text, const std::string& source, int64_t max_runs) {
  ExperimentSpec spec;
  spec.source = source;
  json probe = parse_json_text(text, source);  // syntax errors with line and column
  (void)probe;
  spec.raw = ordered_json::parse(text);
  read_header(spec, source);
  const auto& raw = spec.raw;
  RunConfig base;
  if (raw.contains("base")) {
    ordered_json b = raw["base"];
    normalize_from_run(b, source + ": base");
    apply_json(base, plain(b), source + ": base");
  }
  const std::vector<int64_t> seeds = read_seeds(raw, source, max_runs);
  auto global_axes = read_axes(raw.contains("axes") ? raw["axes"] : ordered_json(), source + ": axes");
  for (auto& a : global_axes) spec.axis_keys.push_back(a.key);
  const auto variants = read_variants(raw, source);
  const std::vector<ordered_json> excludes = read_excludes(raw, source);
  check_run_count(variants, global_axes, seeds.size(), source, max_runs);
  std::vector<VariantPlan> plans;
  for (auto& [vname, vraw] : variants) plans.push_back(plan_variant(vname, vraw, base, global_axes, source, spec));
  apply_set_to_plans(plans, read_set(raw, source), spec, source);
  auto expanded = expand_in_parent_order(plans, global_axes.size(), seeds, excludes, source, spec.name);
  collect_runs(spec, plans, expanded, source);
  if (raw.contains("claims")) {
    spec.claims = parse_claims(plain(raw["claims"]), source);
    check_claims(spec, source);
  }
  read_settle_cap(spec, seeds.size(), source);
  return spec;
}

}  // namespace lowbit
