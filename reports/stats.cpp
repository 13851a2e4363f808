#include "reports/stats.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace lowbit {

Summary summarize(const std::vector<double>& xs) {
  Summary s;
  s.n = int(xs.size());
  if (s.n == 0) return s;
  // Identical values have exactly that mean and no spread: summing them can round the
  // mean off by an ulp, and the resulting 1e-16 "std" would make Welch's test call a
  // difference between two constant groups significant.
  if (std::all_of(xs.begin(), xs.end(), [&](double x) { return x == xs[0]; })) {
    s.mean = xs[0];
    return s;
  }
  for (double x : xs) s.mean += x;
  s.mean /= s.n;
  if (s.n > 1) {
    double ss = 0;
    for (double x : xs) ss += (x - s.mean) * (x - s.mean);
    s.std = std::sqrt(ss / (s.n - 1));
  }
  return s;
}

namespace {
// Continued fraction for I_x(a, b) (modified Lentz).
double beta_cf(double a, double b, double x) {
  const double eps = 1e-15, tiny = 1e-300;
  double qab = a + b, qap = a + 1, qam = a - 1, c = 1, d = 1 - qab * x / qap;
  if (std::fabs(d) < tiny) d = tiny;
  d = 1 / d;
  double h = d;
  for (int m = 1; m <= 10000; ++m) {
    int m2 = 2 * m;
    double aa = m * (b - m) * x / ((qam + m2) * (a + m2));
    d = 1 + aa * d;
    if (std::fabs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (std::fabs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
    d = 1 + aa * d;
    if (std::fabs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (std::fabs(c) < tiny) c = tiny;
    d = 1 / d;
    double del = d * c;
    h *= del;
    if (std::fabs(del - 1) < eps) break;
  }
  return h;
}
}  // namespace

double incomplete_beta(double a, double b, double x) {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  double lbt =
      std::lgamma(a + b) - std::lgamma(a) - std::lgamma(b) + a * std::log(x) + b * std::log1p(-x);
  double bt = std::exp(lbt);
  if (x < (a + 1) / (a + b + 2)) return bt * beta_cf(a, b, x) / a;
  return 1 - bt * beta_cf(b, a, 1 - x) / b;
}

double student_t_cdf(double t, double df) {
  double x = df / (df + t * t);
  double tail = 0.5 * incomplete_beta(df / 2, 0.5, x);  // P(T > |t|)
  return t >= 0 ? 1 - tail : tail;
}

double student_t_quantile(double q, double df) {
  // Bisection on the CDF: monotone, and 200 halvings reach double precision.
  double lo = -1e4, hi = 1e4;
  for (int i = 0; i < 200; ++i) {
    double mid = 0.5 * (lo + hi);
    (student_t_cdf(mid, df) < q ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}

double ci_half_width(const Summary& s, double level) {
  if (s.n < 2) return std::numeric_limits<double>::quiet_NaN();
  return student_t_quantile(0.5 + level / 2, s.n - 1) * s.std / std::sqrt(double(s.n));
}

WelchResult welch_test(const Summary& a, const Summary& b) {
  WelchResult r;
  if (a.n < 2 || b.n < 2) {
    r.p = std::numeric_limits<double>::quiet_NaN();
    return r;
  }
  double va = a.std * a.std / a.n, vb = b.std * b.std / b.n;
  if (va + vb == 0) {
    // No variance on either side: the t statistic is undefined, so there is no p-value
    // (and no significance mark), whatever the means.
    r.p = std::numeric_limits<double>::quiet_NaN();
    return r;
  }
  r.t = (a.mean - b.mean) / std::sqrt(va + vb);
  r.df = (va + vb) * (va + vb) / (va * va / (a.n - 1) + vb * vb / (b.n - 1));
  r.p = 2 * (1 - student_t_cdf(std::fabs(r.t), r.df));
  return r;
}

}  // namespace lowbit
