#include "reports/claims.h"

#include <algorithm>
#include <cmath>
#include <map>

#include <fmt/format.h>

#include "core/error.h"
#include "core/train/keys.h"
#include "core/util.h"
#include "tracker/queries.h"
#include "tracker/store.h"
#include "reports/report_registry.h"
#include "reports/table.h"

namespace lowbit {

const char* verdict_name(Verdict v) {
  switch (v) {
    case Verdict::kSupported: return "supported";
    case Verdict::kContradicted: return "contradicted";
    case Verdict::kInconclusive: return "inconclusive";
  }
  return "";
}

ClaimSide claim_side(const ExperimentData& e, const ClaimCell& cell,
                     const std::function<std::optional<double>(const RunData&)>& value, double scale) {
  ClaimSide s;
  for (const auto& r : e.runs) {
    if (r.variant != cell.variant) continue;
    bool match = true;
    for (auto& [k, v] : cell.filters) match = match && key_value(r, k) == v;
    if (!match) continue;
    ++s.requested;
    if (r.status != RunStatus::kDone) continue;
    if (auto v = value(r)) {
      s.seeds.push_back(r.seed);
      s.runs.push_back(r.id);
      s.values.push_back(*v * scale);
    }
  }
  return s;
}

namespace {

// seed -> index into the side's vectors.
std::map<int64_t, size_t> by_seed(const ClaimSide& s) {
  std::map<int64_t, size_t> m;
  for (size_t i = 0; i < s.seeds.size(); ++i) m.emplace(s.seeds[i], i);
  return m;
}

std::string num_text(double v) { return fmt::format("{:.4g}", v); }

bool runs_paired(const RunData& x, const RunData& y) {
  if (x.parent_id == y.id || y.parent_id == x.id) return true;
  for (const char* k : {"model", "data.name", "batch_size"})
    if (key_value(x, k) != key_value(y, k)) return false;
  return true;
}

}  // namespace

bool cells_paired(const ExperimentData& e, const ClaimSide& a, const ClaimSide& b) {
  auto ia = by_seed(a), ib = by_seed(b);
  int common = 0;
  for (auto& [seed, i] : ia) {
    auto j = ib.find(seed);
    if (j == ib.end()) continue;
    const RunData *x = e.run(a.runs[i]), *y = e.run(b.runs[j->second]);
    if (!x || !y || !runs_paired(*x, *y)) return false;
    ++common;
  }
  return common >= 2;
}

ClaimResult test_claim(const ExperimentData& e, const ClaimSpec& claim, ClaimSide a, ClaimSide b,
                       bool percent, const std::string& metric_label) {
  ClaimResult r;
  r.claim = claim;
  r.percent = percent;
  r.metric_label = metric_label;
  r.a = std::move(a), r.b = std::move(b);
  if (cells_paired(e, r.a, r.b)) {
    std::vector<double> xa, xb;
    auto ib = by_seed(r.b);
    for (size_t i = 0; i < r.a.seeds.size(); ++i)
      if (auto j = ib.find(r.a.seeds[i]); j != ib.end())
        xa.push_back(r.a.values[i]), xb.push_back(r.b.values[j->second]);
    r.diff = paired_difference(xa, xb);
    r.test = fmt::format("paired t over {} common seeds", xa.size());
  } else {
    r.diff = welch_difference(r.a.values, r.b.values);
    r.test = "Welch t";
  }
  if (!r.diff.testable())
    r.test = r.diff.n_a < 2 || r.diff.n_b < 2 ? std::string("none: fewer than 2 seeds in a cell")
             : r.diff.paired ? fmt::format("none: the {} paired seeds differ by the same {} each", r.diff.n_a,
                                           num_text(r.diff.estimate))
                             : std::string("none: no spread in either cell");
  const double margin = claim.margin.value_or(0);
  r.p = claim_p(claim.kind, r.diff, claim.kind == ClaimKind::kGreater ? 0 : margin);
  r.interval = difference_interval(r.diff, kClaimAlpha);
  // What more seeds would buy: planned for the margin, or for the difference observed.
  r.planned_effect = claim.margin ? margin : std::fabs(r.diff.estimate);
  Difference plan = r.diff;
  if (claim.prior_sd && !(plan.sd_a > 0 || plan.sd_b > 0 || plan.sd_diff > 0))
    plan.paired = false, plan.sd_a = plan.sd_b = *claim.prior_sd;
  r.mde = minimum_detectable_effect(claim.kind, r.diff, kClaimAlpha, kClaimPower);
  r.seeds_for_margin = seeds_needed(claim.kind, plan, r.planned_effect, kClaimAlpha, kClaimPower);
  return r;
}

void decide_claims(std::vector<ClaimResult>& results, double alpha) {
  decide_at_look(results, std::vector<bool>(results.size(), false), alpha);
}

std::vector<ClaimSpec> expand_claims(const std::vector<ClaimSpec>& claims, const ExperimentData& e) {
  std::vector<std::string> global;
  if (e.spec.is_object() && e.spec.contains("axes") && e.spec["axes"].is_object())
    for (auto& [k, v] : e.spec["axes"].items()) global.push_back(k);
  std::vector<ClaimSpec> out;
  for (const auto& c : claims) {
    std::vector<std::string> open;
    for (auto& k : global) {
      auto pinned = [&](const ClaimCell& cell) {
        return std::any_of(cell.filters.begin(), cell.filters.end(), [&](auto& f) { return f.first == k; });
      };
      if (!pinned(c.a) && !pinned(c.b)) open.push_back(k);
    }
    if (open.empty()) {
      out.push_back(c);
      continue;
    }
    std::vector<std::vector<std::string>> values;  // the open axes' values A's runs have, in order
    for (const auto& r : e.runs) {
      if (r.variant != c.a.variant) continue;
      std::vector<std::string> v;
      for (auto& k : open) v.push_back(key_value(r, k));
      if (std::find(values.begin(), values.end(), v) == values.end()) values.push_back(v);
    }
    for (auto& v : values) {
      ClaimSpec sub = c;
      std::vector<std::string> pins;
      for (size_t i = 0; i < open.size(); ++i) {
        pins.push_back(open[i] + "=" + v[i]);
        for (ClaimCell* cell : {&sub.a, &sub.b}) cell->filters.emplace_back(open[i], v[i]), cell->text += ":" + pins.back();
      }
      sub.name += " [" + join(pins, ", ") + "]";
      out.push_back(sub);
    }
  }
  return out;
}

std::vector<ClaimResult> test_claims(Db& db, ExperimentData& e, const std::vector<ClaimSpec>& claims,
                                     const std::vector<int64_t>& seed_limits) {
  std::vector<ClaimResult> out;
  for (size_t i = 0; i < claims.size(); ++i) {
    const ClaimSpec& c = claims[i];
    ReportMetric m = resolve_metric(db, e, c.metric);
    const OutputKey* k = find_metric_key(m.key);
    const bool percent = k && std::string(k->unit) == "fraction";
    auto value = m.value;
    if (i < seed_limits.size())
      value = [value, limit = seed_limits[i]](const RunData& r) -> std::optional<double> {
        return r.seed < limit ? value(r) : std::nullopt;
      };
    out.push_back(test_claim(e, c, claim_side(e, c.a, value, percent ? 100 : 1),
                             claim_side(e, c.b, value, percent ? 100 : 1), percent,
                             m.label + (percent ? ", %" : "")));
  }
  return out;
}

std::vector<int64_t> settle_plan(int64_t n0, int64_t max_seeds) {
  std::vector<int64_t> plan;
  for (int64_t n = n0; n < max_seeds; n *= 2) plan.push_back(n);
  plan.push_back(max_seeds);
  return plan;
}

double settle_level(const std::vector<int64_t>& plan, size_t k, double alpha) {
  std::vector<double> taus;
  for (int64_t n : plan) taus.push_back(double(n) / double(plan.back()));
  return spending_level(alpha, taus, k);
}

void decide_at_look(std::vector<ClaimResult>& results, const std::vector<bool>& decided, double level) {
  std::vector<double> pf, pa;
  for (auto& r : results) pf.push_back(r.p.p_for), pa.push_back(r.p.p_against);
  const auto af = holm_adjust(pf), aa = holm_adjust(pa);
  for (size_t i = 0; i < results.size(); ++i) {
    auto& r = results[i];
    r.adjusted = {af[i], aa[i]};
    if (decided[i]) continue;
    r.verdict = af[i] < level   ? Verdict::kSupported
                : aa[i] < level ? Verdict::kContradicted
                                : Verdict::kInconclusive;
  }
}

namespace {

// A claim that --settle decided takes the verdict of its last recorded look.
void apply_settle_looks(Db& db, const ExperimentData& e, std::vector<ClaimResult>& results) {
  const auto looks = settle_looks(db, e.name);
  if (looks.empty()) return;
  const auto plan = settle_plan(std::max<int64_t>(1, looks.front().seeds), looks.front().max_seeds);
  for (auto& r : results) {
    const SettleLook* last = nullptr;
    for (auto& l : looks)
      if (l.claim == r.claim.name) last = &l;
    if (!last) continue;
    r.verdict = last->decision == "supported"      ? Verdict::kSupported
                : last->decision == "contradicted" ? Verdict::kContradicted
                                                   : Verdict::kInconclusive;
    r.settled = fmt::format(
        "--settle: {} at look {} of {} ({} seeds per cell; level {:.4g}, O'Brien-Fleming-type alpha spending; "
        "Holm p {:.4g})",
        last->decision, last->look + 1, plan.size(), last->seeds, last->level,
        last->decision == "contradicted" ? last->p_against_holm : last->p_for_holm);
  }
}

}  // namespace

std::vector<ClaimResult> evaluate_claims(Db& db, ExperimentData& e) {
  if (!e.spec.is_object() || !e.spec.contains("claims")) return {};
  const auto claims = expand_claims(parse_claims(e.spec["claims"], "experiment " + e.name), e);
  std::vector<ClaimResult> out = test_claims(db, e, claims);
  decide_claims(out);
  apply_settle_looks(db, e, out);
  return out;
}

namespace {

// Mean wall seconds of a side's finished runs; 0 where none recorded.
double mean_wall_seconds(const ExperimentData& e, const ClaimSide& s) {
  std::vector<double> xs;
  for (int64_t id : s.runs)
    if (const RunData* r = e.run(id))
      if (auto it = r->summary.find(key::kWallSeconds); it != r->summary.end()) xs.push_back(it->second);
  return summarize(xs).mean;
}

std::unique_ptr<ExperimentData> recorded(const std::string& db_path, const std::string& experiment, DbHandle& db) {
  if (!is_file(db_path)) return nullptr;
  try {
    db = open_readonly(db_path);
    return std::make_unique<ExperimentData>(load_experiment_data(*db, experiment, false));
  } catch (const Error&) {
    return nullptr;  // no such experiment yet: plan from the prior
  }
}

std::string plan_line(const ClaimSpec& c, const ClaimResult* r, const ExperimentData* e, int64_t planned) {
  const std::string head = fmt::format("claim {} ({}{}): ", c.name, claim_kind_name(c.kind),
                                       c.margin ? fmt::format(", margin {}", *c.margin) : "");
  if (!c.margin) return head + "no margin: give the smallest difference worth finding (\"margin\") to plan its seeds";
  Difference plan;
  std::string from;
  if (r && (r->diff.sd_a > 0 || r->diff.sd_b > 0 || r->diff.sd_diff > 0)) {
    plan = r->diff;
    from = plan.paired ? fmt::format("SD of the paired differences {:.3g} over {} seeds in the database", plan.sd_diff, plan.n_a)
                       : fmt::format("SDs {:.3g} and {:.3g} from {} + {} runs in the database", plan.sd_a, plan.sd_b, plan.n_a, plan.n_b);
  } else if (c.prior_sd) {
    plan.sd_a = plan.sd_b = *c.prior_sd;
    from = fmt::format("prior_sd {}", *c.prior_sd);
  } else {
    return head + "no SD yet (no runs with 2+ seeds in the database): give \"prior_sd\" to plan before launch";
  }
  const int n = seeds_needed(c.kind, plan, *c.margin, kClaimAlpha, kClaimPower);
  std::string out = head + from + "; ";
  if (n == 0) return out + "more than 1000 seeds per cell would be needed to detect the margin at 80% power";
  out += fmt::format("{} seeds per cell detect the margin at 80% power (one-sided alpha {}, before Holm); the "
                     "definition plans {}",
                     n, kClaimAlpha, planned);
  if (n <= planned) return out;
  out += fmt::format(": {} more runs", 2 * (n - planned));
  const double secs = r && e ? (mean_wall_seconds(*e, r->a) + mean_wall_seconds(*e, r->b)) / 2 : 0;
  if (secs > 0) out += fmt::format(", about {:.1f} h at the {:.0f} s per run recorded for these cells", 2.0 * (n - planned) * secs / 3600, secs);
  return out;
}

}  // namespace

std::vector<std::string> claim_power_plan(const std::vector<ClaimSpec>& claims, const std::string& experiment,
                                          int64_t planned_seeds, const std::string& db_path) {
  DbHandle db;
  auto e = recorded(db_path, experiment, db);
  std::vector<ClaimResult> results;
  const std::vector<ClaimSpec> planned = e ? expand_claims(claims, *e) : claims;
  if (e) {
    for (const auto& c : planned) {
      try {
        ReportMetric m = resolve_metric(*db, *e, c.metric);
        const OutputKey* k = find_metric_key(m.key);
        const double scale = k && std::string(k->unit) == "fraction" ? 100 : 1;
        results.push_back(test_claim(*e, c, claim_side(*e, c.a, m.value, scale), claim_side(*e, c.b, m.value, scale),
                                     scale == 100, m.label));
      } catch (const ConfigError&) {
        results.push_back(ClaimResult{});  // the metric is not recorded yet
        results.back().claim = c;
      }
    }
  }
  std::vector<std::string> lines;
  for (size_t i = 0; i < planned.size(); ++i)
    lines.push_back(plan_line(planned[i], e ? &results[i] : nullptr, e.get(), planned_seeds));
  return lines;
}

// ---- rendering ----

namespace {

std::string num(double v) {
  if (!std::isfinite(v)) return "–";
  const double a = std::fabs(v);
  if (a == 0) return "0";
  if (a >= 100) return fmt::format("{:.1f}", v);
  if (a >= 0.01) return fmt::format("{:.2f}", v);
  return fmt::format("{:.3g}", v);
}

std::string pval(double p) {
  if (!std::isfinite(p)) return "–";
  if (p < 1e-4) return "<0.0001";
  return fmt::format("{:.4f}", p);
}

std::string units(const ClaimResult& r) { return r.percent ? " pp" : ""; }

std::string claim_text(const ClaimResult& r) {
  const auto& c = r.claim;
  switch (c.kind) {
    case ClaimKind::kGreater: return "A > B";
    case ClaimKind::kNoninferior: return "A ≥ B − " + num(*c.margin) + units(r);
    case ClaimKind::kEquivalent: return "|A − B| < " + num(*c.margin) + units(r);
  }
  return "";
}

std::string side_text(const ClaimSide& s, const std::string& cell) {
  const Summary m = summarize(s.values);
  std::string v = m.n == 0 ? "no value" : m.n == 1 ? num(m.mean) : num(m.mean) + " ± " + num(m.std);
  return fmt::format("{}: {} ({}{})", cell, v, m.n, m.n < s.requested ? fmt::format("/{}", s.requested) : "");
}

std::string difference_text(const ClaimResult& r) {
  if (r.a.values.empty() || r.b.values.empty()) return "–";  // a cell without a finished run
  std::string d = num(r.diff.estimate) + units(r);
  if (r.diff.testable()) d += " [" + num(r.interval.first) + ", " + num(r.interval.second) + "]";
  return d;
}

// The p that decided (or, undecided, the claim's own), raw and Holm-adjusted.
std::string p_text(const ClaimResult& r) {
  const bool against = r.verdict == Verdict::kContradicted;
  const double raw = against ? r.p.p_against : r.p.p_for, adj = against ? r.adjusted.p_against : r.adjusted.p_for;
  return pval(raw) + " / " + pval(adj) + (against ? " (against)" : "");
}

std::string power_text(const ClaimResult& r) {
  if (r.verdict != Verdict::kInconclusive) return "";
  std::string out;
  if (std::isfinite(r.mde)) out = "detectable at 80%: " + num(r.mde) + units(r);
  const std::string effect = r.claim.margin ? "the margin " + num(r.planned_effect) + units(r)
                                            : "the observed " + num(r.planned_effect) + units(r);
  if (r.planned_effect > 0)
    out += (out.empty() ? "" : "; ") +
           (r.seeds_for_margin > 0 ? fmt::format("{} seeds per cell for {}", r.seeds_for_margin, effect)
                                   : "more than 1000 seeds per cell (or no SD yet) for " + effect);
  return out;
}

std::vector<std::string> row_cells(const ClaimResult& r) {
  return {r.claim.name, claim_text(r),         side_text(r.a, r.claim.a.text), side_text(r.b, r.claim.b.text),
          difference_text(r), r.settled.empty() ? r.test : r.test + "; " + r.settled, p_text(r),
          verdict_name(r.verdict), power_text(r)};
}

const std::vector<std::string> kHeader = {"claim", "asserts", "A", "B", "A − B [90% CI]", "test",
                                          "p / Holm", "verdict", "if inconclusive"};

}  // namespace

std::vector<std::string> claim_summary_cells(const ClaimResult& r) {
  const Summary a = summarize(r.a.values), b = summarize(r.b.values);
  return {r.claim.name, r.claim.a.text + " vs " + r.claim.b.text + ": " + claim_text(r) + " (" + r.metric_label + ")",
          verdict_name(r.verdict), difference_text(r), fmt::format("{} / {}", a.n, b.n), power_text(r)};
}

std::string claims_caption() {
  return fmt::format(
      "Each claim is tested on its two cells (mean ± SD (n) over finished seeds, in the table's "
      "units; pp: percentage points): a paired t-test over common seeds where the cells' runs "
      "are paired (same seed, model, dataset and batch size, or a child of the other's run), "
      "Welch's t-test otherwise. greater and noninferior: one-sided at α = {}; equivalent: two "
      "one-sided tests (TOST). p: the claim's test, raw / Holm-adjusted across this experiment's "
      "claims; (against): the test of the claim's negation, which decided it. supported or "
      "contradicted only where the adjusted p < {}; otherwise inconclusive, with the smallest "
      "effect the test would detect at 80% power and the seeds per cell it would need; "
      "inconclusive is not evidence of no difference. The interval is the 90% interval that "
      "matches one-sided tests at 5%",
      kClaimAlpha, kClaimAlpha);
}

std::string claims_markdown(const std::vector<ClaimResult>& results) {
  std::string md = "**Claims** — " + claims_caption() + ".\n\n| " + join(kHeader, " | ") + " |\n|";
  for (size_t i = 0; i < kHeader.size(); ++i) md += " --- |";
  md += "\n";
  for (auto& r : results) {
    auto cells = row_cells(r);
    cells[7] = "**" + cells[7] + "**";
    for (auto& c : cells) std::replace(c.begin(), c.end(), '|', '/');
    md += "| " + join(cells, " | ") + " |\n";
  }
  md += "\nSources:\n\n";
  for (auto& r : results) md += "- `" + r.claim.name + "`: " + r.claim.source + "\n";
  return md;
}

std::string claims_csv(const std::vector<ClaimResult>& results) {
  auto q = [](const std::string& s) {
    std::string out = "\"";
    for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
    return out + "\"";
  };
  auto n = [](double v) { return std::isfinite(v) ? fmt::format("{}", v) : std::string(); };
  std::string out =
      "claim,kind,margin,metric,a,b,mean_a,sd_a,n_a,mean_b,sd_b,n_b,difference,ci90_low,ci90_high,test,paired,"
      "df,p,p_holm,p_against,p_against_holm,verdict,mde80,seeds_needed,planned_effect,source\n";
  for (auto& r : results) {
    const Summary a = summarize(r.a.values), b = summarize(r.b.values);
    out += join({q(r.claim.name), claim_kind_name(r.claim.kind), r.claim.margin ? n(*r.claim.margin) : "",
                 q(r.metric_label), q(r.claim.a.text), q(r.claim.b.text), n(a.mean), n(a.std),
                 std::to_string(a.n), n(b.mean), n(b.std), std::to_string(b.n), n(r.diff.estimate),
                 n(r.interval.first), n(r.interval.second), q(r.test), r.diff.paired ? "1" : "0",
                 n(r.diff.df), n(r.p.p_for), n(r.adjusted.p_for), n(r.p.p_against), n(r.adjusted.p_against),
                 verdict_name(r.verdict), r.verdict == Verdict::kInconclusive ? n(r.mde) : "",
                 r.verdict == Verdict::kInconclusive ? std::to_string(r.seeds_for_margin) : "",
                 n(r.planned_effect), q(r.claim.source)},
                ",") +
           "\n";
  }
  return out;
}

std::string claims_latex(const std::vector<ClaimResult>& results) {
  std::string out = "% lowbit claims; needs \\usepackage{booktabs}\n\\begin{table}[t]\n\\centering\n\\caption{Claims: " +
                    tex_escape(claims_caption()) + ".}\n\\label{tab:claims}\n\\small\n\\begin{tabular}{" +
                    std::string(kHeader.size(), 'l') + "}\n\\toprule\n";
  std::vector<std::string> head;
  for (auto& h : kHeader) head.push_back(tex_escape(h));
  out += join(head, " & ") + " \\\\\n\\midrule\n";
  for (auto& r : results) {
    std::vector<std::string> cells;
    for (auto& c : row_cells(r)) cells.push_back(tex_escape(c));
    cells[7] = "\\textbf{" + cells[7] + "}";
    out += join(cells, " & ") + " \\\\\n";
  }
  return out + "\\bottomrule\n\\end{tabular}\n\\end{table}\n";
}

std::string claims_html(const std::vector<ClaimResult>& results) {
  std::string out = "<p class=\"note\"><strong>Claims</strong> — " + html_escape(claims_caption()) +
                    ".</p>\n<div class=\"scroll\"><table class=\"lb-table\" id=\"table-claims\">\n<thead><tr>";
  for (auto& h : kHeader) out += "<th>" + html_escape(h) + "</th>";
  out += "</tr></thead>\n<tbody>\n";
  for (auto& r : results) {
    auto cells = row_cells(r);
    out += "<tr>";
    for (size_t i = 0; i < cells.size(); ++i)
      out += i == 7 ? "<td><strong>" + html_escape(cells[i]) + "</strong></td>" : "<td>" + html_escape(cells[i]) + "</td>";
    out += "</tr>\n";
  }
  out += "</tbody></table></div>\n<ul>\n";
  for (auto& r : results)
    out += "<li><code>" + html_escape(r.claim.name) + "</code>: " + html_escape(r.claim.source) + "</li>\n";
  return out + "</ul>\n";
}

}  // namespace lowbit
