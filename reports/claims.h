// Claims decided from the database (docs/CLAIMS.md): each claim of an experiment's definition
// tested on its two cells, Holm-adjusted across the experiment's claims, with a verdict, and
// rendered as the table that leads each report (md, CSV, LaTeX, HTML) and each question of the
// results document.
#pragma once
#include "lowbit_room.h"  // the build refuses this header in rooms below reports/
#ifndef LOWBIT_MAY_INCLUDE_REPORTS
#error "this room may not include reports/ (docs/ARCHITECTURE.md: rooms)"
#endif
#include <optional>
#include <string>
#include <vector>

#include "core/config/claims.h"
#include "reports/inference.h"
#include "tracker/report_data.h"

namespace lowbit {

/// The significance level of every claim (one-sided; TOST at alpha on each side), and the
/// power that minimum detectable effects and seed counts plan for.
inline constexpr double kClaimAlpha = 0.05;
inline constexpr double kClaimPower = 0.8;

enum class Verdict { kSupported, kContradicted, kInconclusive };
const char* verdict_name(Verdict v);

/// One cell of a claim: its finished runs' values in the metric's table units, by seed.
struct ClaimSide {
  std::vector<int64_t> seeds, runs;
  std::vector<double> values;
  int requested = 0;  ///< runs planned for the cell, every status
};

struct ClaimResult {
  ClaimSpec claim;
  std::string metric_label;  ///< e.g. "test_acc (final), %"
  bool percent = false;      ///< values and margins in percentage points
  ClaimSide a, b;
  Difference diff;           ///< A - B in table units
  std::string test;          ///< "paired t (3 seeds)", "Welch t", or why there is none
  ClaimP p;                  ///< raw
  ClaimP adjusted;           ///< Holm across the experiment's claims (each direction its own family)
  std::pair<double, double> interval{0, 0};  ///< (1 - 2 alpha) interval of A - B
  Verdict verdict = Verdict::kInconclusive;
  double mde = 0;            ///< inconclusive: minimum detectable effect at 80% power
  int seeds_for_margin = 0;  ///< inconclusive: seeds per cell to detect the margin (0: > 1000)
  double planned_effect = 0; ///< the effect seeds_for_margin plans for (margin, or |estimate|)
  /// Decided by lowbit grid --settle (its recorded look overrides the verdict at alpha):
  /// "supported at look 2 of 3 (6 seeds per cell, level 0.0110)"; "" otherwise.
  std::string settled;
};

/// The values of `cell`'s finished runs under `value` (table units), with their seeds.
ClaimSide claim_side(const ExperimentData& e, const ClaimCell& cell,
                     const std::function<std::optional<double>(const RunData&)>& value, double scale);

/// Whether two cells' runs are paired: the runs of a common seed share the model, the dataset
/// and the batch size (so the initial weights' seed and the data order), or one starts from
/// the other (init.from_run). Paired cells are compared over their common seeds.
bool cells_paired(const ExperimentData& e, const ClaimSide& a, const ClaimSide& b);

/// Tests one claim (no adjustment yet): the difference, raw p, interval, and, where it stays
/// undecided, the minimum detectable effect and the seeds its margin needs.
ClaimResult test_claim(const ExperimentData& e, const ClaimSpec& claim, ClaimSide a, ClaimSide b,
                       bool percent, const std::string& metric_label);

/// Holm across `results` (p_for one family, p_against another), then the verdicts.
void decide_claims(std::vector<ClaimResult>& results, double alpha = kClaimAlpha);

/// The claims with a global axis left unpinned (e.g. "model") made one claim per value of it
/// that the experiment's runs have: "name [model=resnet20]", both cells pinned to the value.
std::vector<ClaimSpec> expand_claims(const std::vector<ClaimSpec>& claims, const ExperimentData& e);

/// The claims tested on the experiment's finished runs; with `seed_limits` (one per claim), only
/// the runs of seeds below the claim's limit (a look of --settle). No adjustment yet.
std::vector<ClaimResult> test_claims(Db& db, ExperimentData& e, const std::vector<ClaimSpec>& claims,
                                     const std::vector<int64_t>& seed_limits = {});

/// --settle's planned looks, in seeds per cell: n0, 2 n0, 4 n0, ... while below max_seeds,
/// then max_seeds. REQUIRES: 1 <= n0 < max_seeds.
std::vector<int64_t> settle_plan(int64_t n0, int64_t max_seeds);

/// The nominal one-sided level of look k: the O'Brien-Fleming-type alpha spent between look k-1
/// and look k at information fractions seeds / max_seeds (inference.h: spending_level).
double settle_level(const std::vector<int64_t>& plan, size_t k, double alpha = kClaimAlpha);

/// One look: Holm across every claim's current p (each direction its own family), then each
/// claim not yet decided (`decided[i]` false) is supported or contradicted where its adjusted p
/// is below `level`. Claims decided earlier keep their verdict.
void decide_at_look(std::vector<ClaimResult>& results, const std::vector<bool>& decided, double level);

/// Every claim of the experiment's registered definition, decided. Empty without claims.
std::vector<ClaimResult> evaluate_claims(Db& db, ExperimentData& e);

/// The claims table: markdown (with a sources list under it), CSV (one row per claim, plain
/// numbers), LaTeX (booktabs), HTML (escaped).
std::string claims_markdown(const std::vector<ClaimResult>& r);
std::string claims_csv(const std::vector<ClaimResult>& r);
std::string claims_latex(const std::vector<ClaimResult>& r);
std::string claims_html(const std::vector<ClaimResult>& r);

/// What each claim needs before launch (lowbit grid --dry-run): the SD of its cells from the
/// runs `db_path` holds of `experiment` (none: the claim's prior_sd), the seeds per cell that
/// detect its margin at 80% power (one-sided alpha 0.05, before Holm's adjustment), against
/// the `planned_seeds` of the definition, and what the missing runs cost at the wall seconds
/// recorded for those cells. One line per claim.
std::vector<std::string> claim_power_plan(const std::vector<ClaimSpec>& claims, const std::string& experiment,
                                          int64_t planned_seeds, const std::string& db_path);

/// One claim's row of a summary over several experiments (the results document's verdict
/// table): claim, what it asserts (cells, kind, metric), verdict, A − B [90% CI], n (A / B), and
/// for an inconclusive claim the effect its test detects and the seeds its margin needs.
std::vector<std::string> claim_summary_cells(const ClaimResult& r);

/// The caption shared by every format: the tests, the adjustment and the verdict rules.
std::string claims_caption();

}  // namespace lowbit
