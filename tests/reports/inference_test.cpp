// The claim tests against values from independent packages: scipy 1.14.1 (stats.ttest_rel,
// stats.ttest_ind(equal_var=False), stats.t.ppf, stats.norm) and statsmodels 0.15.0
// (weightstats.ttost_paired / ttost_ind(usevar="unequal"), multitest.multipletests(method=
// "holm")), run by /usr/bin/python3 in a virtual environment on 2026-12-05; the script is
// quoted in each comment. Tolerance: 1e-6 relative unless stated.
#include <doctest/doctest.h>

#include <cmath>

#include "reports/inference.h"

using namespace lowbit;
using doctest::Approx;

namespace {
const std::vector<double> kA = {79.42, 80.10, 78.95, 79.80}, kB = {78.01, 79.22, 78.40, 78.35};
const std::vector<double> kX = {76.63, 77.40, 75.90}, kY = {78.10, 77.95, 78.60, 77.20};
}  // namespace

TEST_CASE("inference: paired t-test, one-sided, as scipy.stats.ttest_rel") {
  const Difference d = paired_difference(kA, kB);
  CHECK(d.paired);
  CHECK(d.df == 3);
  CHECK(d.estimate / d.se == Approx(4.936254581595226).epsilon(1e-6));
  // ttest_rel(a, b, alternative="greater").pvalue; alternative="less"
  CHECK(p_greater(d, 0) == Approx(0.007971422064634123).epsilon(1e-6));
  CHECK(p_less(d, 0) == Approx(0.9920285779353658).epsilon(1e-6));
  CHECK(d.sd_diff == Approx(0.4345399866525536).epsilon(1e-9));
  // 90% interval: mean(d) -/+ t.ppf(0.95, 3) * se
  auto [lo, hi] = difference_interval(d, 0.05);
  CHECK(lo == Approx(0.5611847422263013).epsilon(1e-6));
  CHECK(hi == Approx(1.5838152577736948).epsilon(1e-6));
}

TEST_CASE("inference: Welch's test and non-inferiority, as scipy.stats.ttest_ind") {
  const Difference d = welch_difference(kX, kY);
  CHECK(!d.paired);
  // ttest_ind(x, y, equal_var=False, alternative="greater"): statistic, pvalue, df
  CHECK(d.estimate / d.se == Approx(-2.5319445498102002).epsilon(1e-6));
  CHECK(d.df == Approx(3.696618416927506).epsilon(1e-9));
  CHECK(p_greater(d, 0) == Approx(0.9652026298601436).epsilon(1e-6));
  // Non-inferiority with margin 1: ttest_ind(x + 1, y, equal_var=False, alternative="greater")
  CHECK(claim_p(ClaimKind::kNoninferior, d, 1.0).p_for == Approx(0.712094462010169).epsilon(1e-6));
  // greater: the claim's p and its negation's add to 1 (a continuous statistic)
  const ClaimP g = claim_p(ClaimKind::kGreater, d, 0);
  CHECK(g.p_for + g.p_against == Approx(1.0));
}

TEST_CASE("inference: TOST, as statsmodels ttost_paired and ttost_ind") {
  // ttost_paired(a, b, -2, 2): p = 0.011795830048425729 (lower 0.000383, upper 0.011796)
  const ClaimP paired = claim_p(ClaimKind::kEquivalent, paired_difference(kA, kB), 2.0);
  CHECK(paired.p_for == Approx(0.011795830048425729).epsilon(1e-6));
  // ttost_ind(x, y, -2, 2, usevar="unequal"): p = 0.1333272371212151 (lower), upper 0.002027
  const Difference w = welch_difference(kX, kY);
  const ClaimP welch = claim_p(ClaimKind::kEquivalent, w, 2.0);
  CHECK(welch.p_for == Approx(0.1333272371212151).epsilon(1e-6));
  // Against equivalence: the smaller one-sided p of "outside" doubled: by hand, x - y =
  // -1.3067 is inside (-2, 2), so both one-sided p's exceed 0.5 / 2 and nothing is decided.
  CHECK(welch.p_against == Approx(std::min(1.0, 2 * std::min(p_less(w, -2), p_greater(w, 2)))));
  CHECK(welch.p_against > 0.5);
}

TEST_CASE("inference: Holm's adjustment, as statsmodels multipletests(method='holm')") {
  auto adj = holm_adjust({0.01, 0.04, 0.03, 0.20});
  CHECK(adj[0] == Approx(0.04));
  CHECK(adj[1] == Approx(0.09));
  CHECK(adj[2] == Approx(0.09));
  CHECK(adj[3] == Approx(0.2));
  // An untestable entry (NaN) is not part of the family: m = 2 here.
  auto with_nan = holm_adjust({0.01, std::nan(""), 0.04});
  CHECK(with_nan[0] == Approx(0.02));
  CHECK(std::isnan(with_nan[1]));
  CHECK(with_nan[2] == Approx(0.04));
}

TEST_CASE("inference: minimum detectable effect and seeds needed, by the t-quantile formula") {
  // (t.ppf(0.95, 3) + t.ppf(0.8, 3)) * sd_diff / 2; equivalent: t.ppf(0.9, 3) for 0.8
  const Difference d = paired_difference(kA, kB);
  CHECK(minimum_detectable_effect(ClaimKind::kGreater, d, 0.05, 0.8) ==
        Approx(0.7239079305508185).epsilon(1e-6));
  CHECK(minimum_detectable_effect(ClaimKind::kEquivalent, d, 0.05, 0.8) ==
        Approx(0.8671479625714197).epsilon(1e-6));
  // The smallest n with (t.ppf(0.95, n-1) + t.ppf(0.8, n-1)) * sd_diff / sqrt(n) <= 0.5: 7
  CHECK(seeds_needed(ClaimKind::kGreater, d, 0.5, 0.05, 0.8) == 7);
  // Welch, n per cell, the Welch-Satterthwaite df at n: 7 for an effect of 1.0
  CHECK(seeds_needed(ClaimKind::kGreater, welch_difference(kX, kY), 1.0, 0.05, 0.8) == 7);
  CHECK(seeds_needed(ClaimKind::kGreater, d, 1e-9, 0.05, 0.8, 50) == 0);  // beyond the cap
}

TEST_CASE("inference: O'Brien-Fleming-type spending, as 2 - 2 norm.cdf(norm.ppf(0.975) / sqrt(tau))") {
  CHECK(obrien_fleming_spent(0.05, 0.25) == Approx(8.857543832130332e-05).epsilon(1e-6));
  CHECK(obrien_fleming_spent(0.05, 0.5) == Approx(0.005574596680784305).epsilon(1e-6));
  CHECK(obrien_fleming_spent(0.05, 0.75) == Approx(0.023625121317601305).epsilon(1e-6));
  CHECK(obrien_fleming_spent(0.05, 1.0) == Approx(0.05).epsilon(1e-9));
  // Each look's level is what was spent since the last; the levels add to alpha.
  const std::vector<double> taus = {0.5, 0.75, 1.0};
  double total = 0;
  for (size_t k = 0; k < taus.size(); ++k) total += spending_level(0.05, taus, k);
  CHECK(total == Approx(0.05).epsilon(1e-9));
  CHECK(spending_level(0.05, taus, 1) == Approx(0.023625121317601305 - 0.005574596680784305).epsilon(1e-6));
}

TEST_CASE("inference: too few seeds give no test") {
  const Difference d = welch_difference({1.0}, {0.5, 0.7});
  CHECK(!d.testable());
  CHECK(std::isnan(p_greater(d, 0)));
  CHECK(std::isnan(claim_p(ClaimKind::kEquivalent, d, 1).p_against));
  CHECK(std::isnan(minimum_detectable_effect(ClaimKind::kGreater, d, 0.05, 0.8)));
}
