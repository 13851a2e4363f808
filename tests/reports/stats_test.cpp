// Reference values from an independent computation (Simpson integration of the Student-t
// density), tolerance stated per check.
#include <doctest/doctest.h>

#include <cmath>

#include "reports/stats.h"

using namespace lowbit;
using doctest::Approx;

TEST_CASE("stats: mean and sample std") {
  auto s = summarize({1, 2, 3});
  CHECK(s.n == 3);
  CHECK(s.mean == Approx(2.0));
  CHECK(s.std == Approx(1.0));
  CHECK(summarize({5}).std == 0.0);
  CHECK(summarize({}).n == 0);
}

TEST_CASE("stats: Student-t quantiles (tolerance 1e-8)") {
  CHECK(student_t_quantile(0.975, 1) == Approx(12.706204736174).epsilon(1e-8));
  CHECK(student_t_quantile(0.975, 2) == Approx(4.302652729911).epsilon(1e-8));
  CHECK(student_t_quantile(0.975, 4) == Approx(2.776445105198).epsilon(1e-8));
  CHECK(student_t_quantile(0.975, 10) == Approx(2.228138851986).epsilon(1e-8));
  CHECK(student_t_cdf(0, 3) == Approx(0.5));
  // With 3 seeds the 95% CI uses t = 4.30, not z = 1.96.
  auto s = summarize({0.90, 0.92, 0.94});
  CHECK(ci_half_width(s, 0.95) == Approx(4.302652729911 * 0.02 / std::sqrt(3.0)).epsilon(1e-8));
  CHECK(std::isnan(ci_half_width(summarize({1.0}), 0.95)));
}

TEST_CASE("stats: Welch's t-test (tolerance 1e-6)") {
  auto r = welch_test(summarize({1, 2, 3}), summarize({4, 5, 6, 7}));
  CHECK(r.t == Approx(-4.041451884327).epsilon(1e-9));
  CHECK(r.df == Approx(4.959183673469).epsilon(1e-9));
  CHECK(r.p == Approx(0.010076943348).epsilon(1e-6));
  auto r2 = welch_test(summarize({0.80, 0.84}), summarize({0.90, 0.92, 0.94}));
  CHECK(r2.t == Approx(-4.330127018922).epsilon(1e-9));
  CHECK(r2.df == Approx(1.684210526316).epsilon(1e-9));
  CHECK(r2.p == Approx(0.066496033741).epsilon(1e-6));
  CHECK(std::isnan(welch_test(summarize({1}), summarize({1, 2})).p));
}

TEST_CASE("stats: constant groups have exactly zero spread and no Welch p-value") {
  auto a = summarize({0.8, 0.8, 0.8}), b = summarize({0.9, 0.9, 0.9});
  CHECK(a.mean == 0.8);  // not 0.8000000000000002 from the rounded sum
  CHECK(a.std == 0.0);
  CHECK(std::isnan(welch_test(a, b).p));  // t undefined: no star, although the means differ
  CHECK(std::isnan(welch_test(a, a).p));
  // One constant side is fine: the other's variance defines t.
  CHECK(welch_test(summarize({0.5, 0.6, 0.7}), summarize({0.0, 0.0, 0.0})).p ==
        doctest::Approx(0.00914).epsilon(0.01));
}
