// The tests that decide claims (docs/CLAIMS.md): the difference of two cells, paired over
// common seeds or Welch's otherwise; one-sided tests for `greater` and `noninferior`, two
// one-sided tests (TOST) for `equivalent`; Holm's step-down adjustment across a family; the
// minimum detectable effect and the seeds a margin needs; and the Lan-DeMets
// O'Brien-Fleming-type alpha-spending function that bounds repeated looks (--settle).
// Pure functions of numbers: no database, no torch.
#pragma once
#include "lowbit_room.h"  // the build refuses this header in rooms below reports/
#ifndef LOWBIT_MAY_INCLUDE_REPORTS
#error "this room may not include reports/ (docs/ARCHITECTURE.md: rooms)"
#endif
#include <string>
#include <vector>

#include "core/config/claims.h"
#include "reports/stats.h"

namespace lowbit {

/// mean(A) - mean(B) with its standard error and degrees of freedom.
struct Difference {
  bool paired = false;
  int n_a = 0, n_b = 0;  ///< paired: both the number of pairs
  double estimate = 0, se = 0, df = 0;
  double sd_a = 0, sd_b = 0;  ///< the cells' sample SDs
  double sd_diff = 0;         ///< paired: the SD of the per-seed differences
  /// Whether a test is defined: n >= 2 on each side and se > 0.
  bool testable() const;
};

/// Paired: a[i] and b[i] are the same seed. REQUIRES: a.size() == b.size().
/// se = sd(a - b) / sqrt(n), df = n - 1.
Difference paired_difference(const std::vector<double>& a, const std::vector<double>& b);
/// Welch: se = sqrt(sa^2/na + sb^2/nb), Welch-Satterthwaite df.
Difference welch_difference(const std::vector<double>& a, const std::vector<double>& b);

/// P-value of H0: delta <= bound against delta > bound (t = (estimate - bound) / se).
double p_greater(const Difference& d, double bound);
/// P-value of H0: delta >= bound against delta < bound.
double p_less(const Difference& d, double bound);

/// The two directions a claim can be decided in. `p_for`: the test of the claim (greater:
/// H0 delta <= margin0; noninferior: H0 delta <= -margin; equivalent: TOST, the larger of the
/// two one-sided p-values). `p_against`: the test of its negation (greater: delta < 0;
/// noninferior: delta < -margin; equivalent: delta outside (-margin, margin), the smaller
/// one-sided p doubled, Bonferroni over the two sides). NaN where the difference is not
/// testable.
struct ClaimP {
  double p_for = 0, p_against = 0;
};
/// `margin`: in the difference's units; 0 for greater without a margin (a greater claim
/// with a margin m tests delta > 0 still: m is only the effect its power is planned for).
ClaimP claim_p(ClaimKind kind, const Difference& d, double margin);

/// Holm's step-down adjustment of a family of p-values (NaN entries are not tested and stay
/// NaN; the family size is the number of finite ones): sorted ascending, adjusted p_(i) =
/// max over j <= i of min(1, (m - j + 1) p_(j)).
std::vector<double> holm_adjust(const std::vector<double>& p);

/// Two-sided (1 - 2 alpha) interval of the difference, the one that matches one-sided tests
/// at alpha: estimate -/+ t_{1-alpha, df} se.
std::pair<double, double> difference_interval(const Difference& d, double alpha);

/// The smallest true effect the claim's test detects with probability `power` at one-sided
/// level `alpha`, for this SE and df: (t_{1-alpha,df} + t_{power,df}) se; for equivalent
/// (true delta 0, TOST) (t_{1-alpha,df} + t_{(1+power)/2,df}) se. The usual t-quantile
/// approximation of the power of a t-test (Chow, Shao & Wang, Sample Size Calculations in
/// Clinical Research, 2nd ed., 3.1-3.2). NaN where not testable.
double minimum_detectable_effect(ClaimKind kind, const Difference& d, double alpha, double power);

/// The seeds per cell at which minimum_detectable_effect falls to `effect`, for the SDs of
/// `d` (paired: sd_diff with df n - 1; Welch: sd_a and sd_b with n per cell and the
/// Welch-Satterthwaite df), searched from 2 to `cap`; 0 where `cap` does not suffice or the
/// SDs are unknown (0).
int seeds_needed(ClaimKind kind, const Difference& d, double effect, double alpha, double power,
                 int cap = 1000);

/// Standard normal CDF and quantile.
double normal_cdf(double z);
double normal_quantile(double q);

/// Lan-DeMets O'Brien-Fleming-type spending at information fraction tau in (0, 1]:
/// alpha(tau) = 2 - 2 Phi(z_{1 - alpha/2} / sqrt(tau)); alpha(1) = alpha.
double obrien_fleming_spent(double alpha, double tau);

/// The nominal one-sided level of look k (0-based) of looks at information fractions `taus`
/// (increasing, the last 1): the alpha spent between look k-1 and look k. Using each increment
/// as the look's level (a Bonferroni bound over the looks) keeps the overall error at most
/// alpha, whatever the correlation of the looks; exact boundaries would be a little wider.
double spending_level(double alpha, const std::vector<double>& taus, size_t k);

}  // namespace lowbit
