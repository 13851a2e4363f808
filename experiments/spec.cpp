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

}  // namespace

ExperimentSpec expand_experiment(const std::string& text, const std::string& source, int64_t max_runs) {
  ExperimentSpec spec;
  spec.source = source;
  json probe = parse_json_text(text, source);  // syntax errors with line and column
  (void)probe;
  spec.raw = ordered_json::parse(text);
  const auto& raw = spec.raw;
  if (!raw.is_object()) throw ConfigError(source + ": expected a JSON object");
  const std::vector<std::string> known = {"name",     "description", "base", "axes",
                                          "variants", "exclude",     "seeds"};
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

  RunConfig base;
  if (raw.contains("base")) apply_json(base, plain(raw["base"]), source + ": base");

  std::vector<int64_t> seeds = {0};
  if (raw.contains("seeds")) {
    const auto& s = raw["seeds"];
    seeds.clear();
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
      throw ConfigError(source + ": seeds: expected a count >= 1 or a list of seeds, got " +
                        s.dump());
    }
  }

  auto global_axes =
      read_axes(raw.contains("axes") ? raw["axes"] : ordered_json(), source + ": axes");
  for (auto& a : global_axes) spec.axis_keys.push_back(a.key);

  std::vector<std::pair<std::string, ordered_json>> variants;
  if (raw.contains("variants")) {
    if (!raw["variants"].is_object() || raw["variants"].empty())
      throw ConfigError(source + ": variants: expected an object {name: partial config}");
    for (auto& [k, v] : raw["variants"].items()) variants.emplace_back(k, v);
  } else {
    variants.emplace_back("default", ordered_json::object());
  }

  std::vector<ordered_json> excludes;
  if (raw.contains("exclude")) {
    if (!raw["exclude"].is_array())
      throw ConfigError(source + ": exclude: expected a list of {key: value} rules");
    for (auto& e : raw["exclude"]) {
      if (!e.is_object() || e.empty())
        throw ConfigError(source + ": exclude: each rule is a non-empty object {key: value}");
      // One vector for the search: begin() and end() of two config_paths() temporaries
      // never met (undefined behaviour that accepted any key).
      const std::vector<std::string> paths = config_paths();
      for (auto& [k, v] : e.items())
        if (k != "variant" && std::find(paths.begin(), paths.end(), k) == paths.end())
          throw ConfigError(source + ": exclude: unknown key '" + k + "'" + did_you_mean(k, paths));
      excludes.push_back(e);
    }
  }

  // Count the runs before expanding any: seeds x sum over variants of the axes' product.
  double total = 0;
  for (auto& [vname, vraw] : variants) {
    double n = double(seeds.size());
    for (auto& a : global_axes) n *= double(a.values.size());
    if (vraw.is_object() && vraw.contains("axes") && vraw["axes"].is_object())
      for (auto& [k, v] : vraw["axes"].items()) n *= v.is_array() ? double(std::max<size_t>(1, v.size())) : 1.0;
    total += n;
  }
  if (total > double(max_runs))
    throw ConfigError(fmt::format("{}: the grid has {:.0f} runs (seeds x variants x axes), more than the limit of {}; "
                                  "raise it with lowbit grid --max-runs N, or split the experiment",
                                  source, total, max_runs));

  std::map<std::string, std::string> seen;  // hash -> where
  for (auto& [vname, vraw] : variants) {
    const std::string where = source + ": variants." + vname;
    if (!vraw.is_object()) throw ConfigError(where + ": expected an object (a partial run config)");
    ordered_json vcfg = vraw;
    std::vector<Axis> axes = global_axes;
    if (vcfg.contains("axes")) {
      for (auto& a : read_axes(vcfg["axes"], where + ".axes")) {
        axes.push_back(a);
        if (std::find(spec.axis_keys.begin(), spec.axis_keys.end(), a.key) == spec.axis_keys.end())
          spec.axis_keys.push_back(a.key);
      }
      vcfg.erase("axes");
    }
    RunConfig vbase = base;
    apply_json(vbase, plain(vcfg), where);
    // Cartesian product of the axes (odometer over indices).
    std::vector<size_t> idx(axes.size(), 0);
    while (true) {
      RunConfig c = vbase;
      ordered_json varying = ordered_json::object();
      for (size_t a = 0; a < axes.size(); ++a) {
        apply_axis(c, axes[a].key, axes[a].values[idx[a]],
                   fmt::format("{}: {}axes.{}[{}]", source,
                               a < global_axes.size() ? "" : "variants." + vname + ".", axes[a].key,
                               idx[a]));
        varying[axes[a].key] = axes[a].values[idx[a]];
      }
      c.name = spec.name;
      if (interrupt_count().load() > 0) throw Interrupted("interrupted while expanding " + source);
      for (int64_t seed : seeds) {
        RunConfig r = c;
        r.seed = seed;
        validate(r, where);
        json rj = to_json(r);
        bool excluded = false;
        for (auto& rule : excludes) {
          bool all = true;
          for (auto& [k, v] : rule.items()) {
            bool match = k == "variant" ? v == vname : same_value(value_at(rj, k), plain(v));
            all = all && match;
          }
          excluded = excluded || all;
        }
        if (excluded) continue;
        PlannedRun p;
        p.config = r;
        p.hash = config_hash(r);
        p.variant = vname;
        p.varying = plain(varying);
        std::string here = fmt::format("variant {} {} seed {}", vname, varying.dump(), seed);
        if (auto it = seen.find(p.hash); it != seen.end())
          throw ConfigError(source + ": " + here + " and " + it->second +
                            " are the same run (hash " + p.hash +
                            "); make the variants differ or drop one");
        seen[p.hash] = here;
        spec.runs.push_back(std::move(p));
      }
      size_t a = 0;
      while (a < axes.size() && ++idx[a] == axes[a].values.size()) idx[a++] = 0;
      if (a == axes.size()) break;
    }
  }
  if (spec.runs.empty()) throw ConfigError(source + ": the grid is empty (every run excluded?)");

  return spec;
}

}  // namespace lowbit
