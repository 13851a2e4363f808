#include "apps/torch/settle.h"

#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "core/error.h"
#include "core/util.h"
#include "reports/claims.h"
#include "tracker/queries.h"
#include "tracker/report_data.h"
#include "tracker/store.h"

namespace lowbit {

namespace {

bool in_cell(const PlannedRun& r, const ClaimCell& c) {
  if (r.variant != c.variant) return false;
  for (auto& [k, v] : c.filters)
    if (!r.varying.is_object() || !r.varying.contains(k) || config_value_text(r.varying[k]) != v) return false;
  return true;
}

// The runs of one look: every run of the definition's own seeds and, in each claim's cells,
// the seeds below that claim's count; with the runs they start from (init.from_run).
ExperimentSpec look_spec(const ExperimentSpec& full, int64_t n0, const std::vector<ClaimSpec>& claims,
                         const std::vector<int64_t>& seeds_of) {
  std::set<std::string> keep;
  for (const auto& r : full.runs) {
    bool k = r.config.seed < n0;
    for (size_t i = 0; i < claims.size() && !k; ++i)
      k = r.config.seed < seeds_of[i] && (in_cell(r, claims[i].a) || in_cell(r, claims[i].b));
    if (k) keep.insert(r.hash);
  }
  for (bool grew = true; grew;) {
    grew = false;
    for (const auto& r : full.runs)
      if (keep.count(r.hash) && !r.parent_hash.empty() && keep.insert(r.parent_hash).second) grew = true;
  }
  ExperimentSpec s = full;
  s.runs.clear();
  for (const auto& r : full.runs)
    if (keep.count(r.hash)) s.runs.push_back(r);
  return s;
}

int64_t definition_seeds(const ExperimentSpec& spec, const std::string& file) {
  std::set<int64_t> seeds;
  for (const auto& r : spec.runs) seeds.insert(r.config.seed);
  const int64_t n0 = int64_t(seeds.size());
  if (seeds.empty() || *seeds.begin() != 0 || *seeds.rbegin() != n0 - 1)
    throw ConfigError(file + ": --settle adds seeds after the definition's, which must be 0..N-1 (\"seeds\": N)");
  return n0;
}

// The decisions recorded for look `k`, by claim name.
std::map<std::string, std::string> recorded_look(const std::vector<SettleLook>& looks, int64_t k) {
  std::map<std::string, std::string> out;
  for (const auto& l : looks)
    if (l.look == k) out[l.claim] = l.decision;
  return out;
}

Verdict verdict_of(const std::string& decision) {
  return decision == "supported" ? Verdict::kSupported
         : decision == "contradicted" ? Verdict::kContradicted
                                      : Verdict::kInconclusive;
}

// Evaluates look k and records it; a look recorded before (a resumed --settle) is replayed.
void decide_look(const std::string& db_path, const ExperimentSpec& spec, const std::vector<int64_t>& plan,
                 size_t k, std::vector<ClaimResult>& results, std::vector<bool>& decided,
                 const std::vector<int64_t>& seeds_of, const std::map<std::string, std::string>& recorded) {
  const double level = settle_level(plan, k);
  const bool last = k + 1 == plan.size();
  if (!recorded.empty()) {
    decide_at_look(results, std::vector<bool>(results.size(), true), level);  // the adjusted p's only
    for (auto& r : results)
      if (auto it = recorded.find(r.claim.name); it != recorded.end()) r.verdict = verdict_of(it->second);
  } else {
    decide_at_look(results, decided, level);
  }
  std::vector<SettleLook> rows;
  for (size_t i = 0; i < results.size(); ++i) {
    if (decided[i]) continue;
    const auto& r = results[i];
    SettleLook l;
    l.look = int64_t(k), l.seeds = seeds_of[i], l.max_seeds = plan.back(), l.level = level;
    l.claim = r.claim.name, l.n_a = r.diff.n_a, l.n_b = r.diff.n_b, l.difference = r.diff.estimate;
    l.p_for = r.p.p_for, l.p_against = r.p.p_against;
    l.p_for_holm = r.adjusted.p_for, l.p_against_holm = r.adjusted.p_against;
    l.decision = r.verdict != Verdict::kInconclusive ? verdict_name(r.verdict) : last ? "inconclusive" : "undecided";
    fmt::print("  {}: {} (n {} + {}, Holm p {:.4g}, against {:.4g})\n", l.claim, l.decision, l.n_a, l.n_b,
               l.p_for_holm, l.p_against_holm);
    rows.push_back(l);
  }
  if (recorded.empty()) {
    Store store(db_path, Store::Open::kMigrate);
    store.record_settle_look(store.experiment_id(spec.name), rows);
  }
  for (size_t i = 0; i < results.size(); ++i) decided[i] = decided[i] || results[i].verdict != Verdict::kInconclusive;
}

}  // namespace

SettleResult settle_experiment(const std::string& file, const ExperimentSpec& spec, const GridOptions& o,
                               int64_t max_seeds) {
  if (spec.claims.empty())
    throw ConfigError(file + ": --settle decides claims, and this definition has none (docs/CLAIMS.md)");
  const int64_t n0 = definition_seeds(spec, file);
  if (max_seeds <= n0)
    throw ConfigError(fmt::format("--max-seeds {}: must exceed the definition's {} seeds", max_seeds, n0));
  const auto plan = settle_plan(n0, max_seeds);
  DefinitionOverrides all = o.overrides;
  all.seeds = max_seeds;
  const ExperimentSpec full = load_experiment(file, o.max_runs, all);
  const auto recorded = is_file(o.db) ? settle_looks(*open_readonly(o.db), spec.name) : std::vector<SettleLook>{};
  if (!recorded.empty() && (recorded.front().max_seeds != max_seeds || recorded.front().seeds != n0))
    throw ConfigError(fmt::format(
        "--settle: {} holds the looks of {} with {} seeds and --max-seeds {}; run that command again to resume "
        "it (a new plan would repeat looks at another error rate)",
        o.db, spec.name, recorded.front().seeds, recorded.front().max_seeds));
  fmt::print("settle: {}: looks at {} seeds per cell (O'Brien-Fleming-type spending of alpha {}, docs/CLAIMS.md)\n",
             spec.name, fmt::format("{}", fmt::join(plan, ", ")), kClaimAlpha);
  SettleResult out;
  std::vector<ClaimSpec> claims;
  std::vector<int64_t> seeds_of;
  std::vector<bool> decided;
  for (size_t k = 0; k < plan.size(); ++k) {
    const ExperimentSpec s = k == 0 ? spec : look_spec(full, n0, claims, seeds_of);
    fmt::print("settle: look {}/{}: {} seeds per cell of the undecided claims, level {:.4g}\n", k + 1, plan.size(),
               plan[k], settle_level(plan, k));
    std::fflush(stdout);
    out.last = run_grid(s, o);
    if (!out.last.disk_full.empty()) throw DiskFullError(out.last.disk_full);
    if ((out.interrupted = out.last.interrupted)) return out;
    if (const int64_t bad = out.last.failed + out.last.diverged + out.last.stopped + out.last.blocked; bad > 0)
      throw Error(fmt::format("settle: look {}: {} run(s) without a result; a look needs every seed of its cells "
                              "(lowbit status --db {}; lowbit grid --retry-failed), then run the same command",
                              k + 1, bad, o.db));
    auto db = open_readonly(o.db);
    ExperimentData e = load_experiment_data(*db, spec.name);
    if (k == 0) {
      claims = expand_claims(spec.claims, e);
      seeds_of.assign(claims.size(), n0);
      decided.assign(claims.size(), false);
    }
    auto results = test_claims(*db, e, claims, seeds_of);
    decide_look(o.db, spec, plan, k, results, decided, seeds_of, recorded_look(recorded, int64_t(k)));
    if (std::all_of(decided.begin(), decided.end(), [](bool d) { return d; })) break;
    if (k + 1 < plan.size())
      for (size_t i = 0; i < claims.size(); ++i)
        if (!decided[i]) seeds_of[i] = plan[k + 1];
  }
  out.undecided = std::count(decided.begin(), decided.end(), false);
  fmt::print("settle: {}: {} of {} claims decided\n", spec.name, int64_t(claims.size()) - out.undecided, claims.size());
  return out;
}

}  // namespace lowbit
