#include "reports/inference.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace lowbit {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

double sample_sd(const std::vector<double>& xs) { return summarize(xs).std; }

// Welch-Satterthwaite df of two variance terms va = sa^2/na, vb = sb^2/nb.
double welch_df(double va, double vb, int na, int nb) {
  return (va + vb) * (va + vb) / (va * va / (na - 1) + vb * vb / (nb - 1));
}

}  // namespace

bool Difference::testable() const { return n_a >= 2 && n_b >= 2 && se > 0 && std::isfinite(se); }

Difference paired_difference(const std::vector<double>& a, const std::vector<double>& b) {
  Difference d;
  d.paired = true;
  d.n_a = d.n_b = int(a.size());
  std::vector<double> diff(a.size());
  for (size_t i = 0; i < a.size(); ++i) diff[i] = a[i] - b[i];
  const Summary s = summarize(diff);
  d.estimate = s.mean;
  d.sd_a = sample_sd(a), d.sd_b = sample_sd(b), d.sd_diff = s.std;
  if (s.n >= 2) d.se = s.std / std::sqrt(double(s.n)), d.df = s.n - 1;
  return d;
}

Difference welch_difference(const std::vector<double>& a, const std::vector<double>& b) {
  Difference d;
  const Summary sa = summarize(a), sb = summarize(b);
  d.n_a = sa.n, d.n_b = sb.n;
  d.estimate = sa.mean - sb.mean;
  d.sd_a = sa.std, d.sd_b = sb.std;
  if (sa.n >= 2 && sb.n >= 2) {
    const double va = sa.std * sa.std / sa.n, vb = sb.std * sb.std / sb.n;
    d.se = std::sqrt(va + vb);
    if (d.se > 0) d.df = welch_df(va, vb, sa.n, sb.n);
  }
  return d;
}

double p_greater(const Difference& d, double bound) {
  if (!d.testable()) return kNaN;
  return 1 - student_t_cdf((d.estimate - bound) / d.se, d.df);
}

double p_less(const Difference& d, double bound) {
  if (!d.testable()) return kNaN;
  return student_t_cdf((d.estimate - bound) / d.se, d.df);
}

ClaimP claim_p(ClaimKind kind, const Difference& d, double margin) {
  switch (kind) {
    case ClaimKind::kGreater:
      return {p_greater(d, 0), p_less(d, 0)};
    case ClaimKind::kNoninferior:
      return {p_greater(d, -margin), p_less(d, -margin)};
    case ClaimKind::kEquivalent: {
      const double lower = p_greater(d, -margin), upper = p_less(d, margin);
      const double out = std::min(1.0, 2 * std::min(p_less(d, -margin), p_greater(d, margin)));
      return {std::max(lower, upper), d.testable() ? out : kNaN};
    }
  }
  return {kNaN, kNaN};
}

std::vector<double> holm_adjust(const std::vector<double>& p) {
  std::vector<size_t> order;
  for (size_t i = 0; i < p.size(); ++i)
    if (std::isfinite(p[i])) order.push_back(i);
  std::stable_sort(order.begin(), order.end(), [&](size_t x, size_t y) { return p[x] < p[y]; });
  std::vector<double> out(p.size(), kNaN);
  const double m = double(order.size());
  double running = 0;
  for (size_t j = 0; j < order.size(); ++j) {
    running = std::max(running, std::min(1.0, (m - double(j)) * p[order[j]]));
    out[order[j]] = running;
  }
  return out;
}

std::pair<double, double> difference_interval(const Difference& d, double alpha) {
  if (!d.testable()) return {kNaN, kNaN};
  const double half = student_t_quantile(1 - alpha, d.df) * d.se;
  return {d.estimate - half, d.estimate + half};
}

namespace {

double detectable(ClaimKind kind, double se, double df, double alpha, double power) {
  const double beta_q = kind == ClaimKind::kEquivalent ? (1 + power) / 2 : power;
  return (student_t_quantile(1 - alpha, df) + student_t_quantile(beta_q, df)) * se;
}

}  // namespace

double minimum_detectable_effect(ClaimKind kind, const Difference& d, double alpha, double power) {
  if (!d.testable()) return kNaN;
  return detectable(kind, d.se, d.df, alpha, power);
}

int seeds_needed(ClaimKind kind, const Difference& d, double effect, double alpha, double power,
                 int cap) {
  if (!(effect > 0)) return 0;
  for (int n = 2; n <= cap; ++n) {
    double se, df;
    if (d.paired) {
      if (!(d.sd_diff > 0)) return 0;
      se = d.sd_diff / std::sqrt(double(n)), df = n - 1;
    } else {
      const double va = d.sd_a * d.sd_a / n, vb = d.sd_b * d.sd_b / n;
      if (!(va + vb > 0)) return 0;
      se = std::sqrt(va + vb), df = welch_df(va, vb, n, n);
    }
    if (detectable(kind, se, df, alpha, power) <= effect) return n;
  }
  return 0;
}

double normal_cdf(double z) { return 0.5 * std::erfc(-z / std::sqrt(2.0)); }

double normal_quantile(double q) {
  double lo = -40, hi = 40;  // bisection on the CDF, as student_t_quantile
  for (int i = 0; i < 200; ++i) {
    const double mid = 0.5 * (lo + hi);
    (normal_cdf(mid) < q ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}

double obrien_fleming_spent(double alpha, double tau) {
  if (tau <= 0) return 0;
  tau = std::min(tau, 1.0);
  // 2 - 2 Phi(x) = erfc(x / sqrt 2), without the cancellation of 2 - 2 Phi for large x.
  return std::erfc(normal_quantile(1 - alpha / 2) / std::sqrt(tau) / std::sqrt(2.0));
}

double spending_level(double alpha, const std::vector<double>& taus, size_t k) {
  const double before = k == 0 ? 0.0 : obrien_fleming_spent(alpha, taus[k - 1]);
  return obrien_fleming_spent(alpha, taus[k]) - before;
}

}  // namespace lowbit
