// check_claims (spec.h): a definition's claims against its own cells and the output keys.
#include <map>
#include <set>

#include <fmt/format.h>

#include "core/error.h"
#include "core/train/keys.h"
#include "core/util.h"
#include "experiments/spec.h"

namespace lowbit {

namespace {

// "key" or "key:final" / "key:best" / "key:last-K-mean", as report --metric reads it.
void check_metric(const ClaimSpec& c, const std::string& where) {
  const auto colon = c.metric.find(':');
  const std::string key = c.metric.substr(0, colon);
  std::vector<std::string> names;
  const OutputKey* found = nullptr;
  for (const auto& k : output_keys())
    if (k.scope == KeyScope::kEpoch || k.scope == KeyScope::kRun) {
      names.push_back(k.name);
      if (k.name == key) found = &k;
    }
  if (!found)
    throw ConfigError(where + ": metric: no output key '" + key + "'" + did_you_mean(key, names) +
                      " (docs/OUTPUTS.md lists them)");
  if (found->machine_dependent)
    throw ConfigError(where + ": metric: " + key +
                      " depends on the machine and its load, not only on the run: no test decides a "
                      "claim on it (compare it in a table instead)");
  if (colon == std::string::npos) return;
  if (found->scope == KeyScope::kRun)
    throw ConfigError(where + ": metric: " + key + " is one value per run; drop the mode ':" +
                      c.metric.substr(colon + 1) + "'");
  const std::string mode = c.metric.substr(colon + 1);
  const bool last_k = mode.rfind("last-", 0) == 0 && mode.size() > 10 &&
                      mode.compare(mode.size() - 5, 5, "-mean") == 0 &&
                      std::all_of(mode.begin() + 5, mode.end() - 5, ::isdigit);
  if (mode != "final" && mode != "best" && !last_k)
    throw ConfigError(where + ": metric: unknown mode '" + mode + "' (final, best or last-K-mean)");
}

// The axis values of every planned run of the cell's variant that passes its filters. A global
// axis may stay unpinned: the claim is then tested at each of its values (the cells of A and B
// with the same value).
void check_cell(const ExperimentSpec& spec, const ClaimCell& cell, const std::string& where) {
  std::set<std::string> global;
  if (spec.raw.contains("axes") && spec.raw["axes"].is_object())
    for (auto& [k, v] : spec.raw["axes"].items()) global.insert(k);
  std::vector<std::string> variants;
  std::map<std::string, std::vector<const PlannedRun*>> by_variant;
  for (const auto& r : spec.runs) {
    if (!by_variant.count(r.variant)) variants.push_back(r.variant);
    by_variant[r.variant].push_back(&r);
  }
  auto it = by_variant.find(cell.variant);
  if (it == by_variant.end())
    throw ConfigError(where + ": no variant '" + cell.variant + "'" + did_you_mean(cell.variant, variants) +
                      " (variants: " + join(variants, ", ") + ")");
  std::set<std::string> axes;
  for (const PlannedRun* r : it->second)
    if (r->varying.is_object())
      for (auto& [k, v] : r->varying.items()) axes.insert(k);
  const std::vector<std::string> axis_list(axes.begin(), axes.end());
  for (auto& [k, v] : cell.filters)
    if (!axes.count(k))
      throw ConfigError(where + ": '" + k + "' is not an axis of variant " + cell.variant +
                        did_you_mean(k, axis_list) +
                        (axes.empty() ? " (it has no axes: name it alone)" : " (axes: " + join(axis_list, ", ") + ")"));
  std::set<std::string> cells;
  for (const PlannedRun* r : it->second) {
    bool match = true;
    for (auto& [k, v] : cell.filters)
      match = match && config_value_text(r->varying[k]) == v;
    if (!match) continue;
    nlohmann::json own = r->varying;  // the axes a claim must pin: the variant's own
    for (auto& k : global) own.erase(k);
    cells.insert(own.dump());
  }
  if (cells.empty())
    throw ConfigError(where + ": no run of " + cell.variant + " has " + cell.text.substr(cell.variant.size() + 1) +
                      " (check the values against the axes)");
  if (cells.size() > 1) {
    std::vector<std::string> open;
    for (auto& k : axis_list)
      if (!global.count(k) &&
          std::none_of(cell.filters.begin(), cell.filters.end(), [&](auto& f) { return f.first == k; }))
        open.push_back(k);
    throw ConfigError(fmt::format("{}: \"{}\" spans {} cells; pin {} with :key=value", where, cell.text,
                                  cells.size(), join(open, ", ")));
  }
}

}  // namespace

void check_claims(const ExperimentSpec& spec, const std::string& source) {
  for (size_t i = 0; i < spec.claims.size(); ++i) {
    const ClaimSpec& c = spec.claims[i];
    const std::string where = source + ": " + c.where(i);
    check_cell(spec, c.a, where + ": a");
    check_cell(spec, c.b, where + ": b");
    check_metric(c, where);
  }
}

}  // namespace lowbit
