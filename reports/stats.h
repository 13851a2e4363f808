// Statistics for tables over seeds: mean, sample standard deviation, Student-t confidence
// intervals (never z = 1.96: with 3 seeds that is 2.2x too narrow) and Welch's t-test.
// The t distribution comes from the regularized incomplete beta function, evaluated by its
// continued fraction (Numerical Recipes, 3rd ed., 6.4), accurate to ~1e-12 here.
#pragma once
#include "lowbit_room.h"  // the build refuses this header in rooms below reports/
#ifndef LOWBIT_MAY_INCLUDE_REPORTS
#error "this room may not include reports/ (docs/ARCHITECTURE.md: rooms)"
#endif
#include <vector>

namespace lowbit {

struct Summary {
  int n = 0;
  double mean = 0, std = 0;  ///< std: sample standard deviation (n - 1); 0 when n < 2
};

Summary summarize(const std::vector<double>& xs);

/// Regularized incomplete beta I_x(a, b).
double incomplete_beta(double a, double b, double x);

/// P(T <= t) for Student's t with `df` degrees of freedom (df may be fractional).
double student_t_cdf(double t, double df);

/// The q-quantile of Student's t with df degrees of freedom (q in (0, 1)).
double student_t_quantile(double q, double df);

/// Half-width of the two-sided `level` (e.g. 0.95) confidence interval of the mean:
/// t_{(1+level)/2, n-1} * std / sqrt(n). NaN when n < 2.
double ci_half_width(const Summary& s, double level);

/// Welch's unequal-variance t-test: two-sided p-value, t statistic and the
/// Welch-Satterthwaite degrees of freedom. NaN p when either side has n < 2 or both sides
/// have zero variance (the statistic is undefined: no p-value, no star).
struct WelchResult {
  double t = 0, df = 0, p = 0;
};
WelchResult welch_test(const Summary& a, const Summary& b);

}  // namespace lowbit
