// What the benchmarks time with (bench/bench.cpp, bench/bandwidth.cpp): one clock, one median,
// one repeated measurement.
#pragma once

#include <algorithm>
#include <chrono>
#include <vector>

namespace lowbit::bench {

using Clock = std::chrono::steady_clock;

/// Seconds since t.
inline double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

/// The median (the upper one of an even count); 0 for none.
inline double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

/// The median seconds of `reps` calls of f after `warmup` calls; `before` runs, untimed,
/// before each timed call (bench/bandwidth.cpp empties the caches there).
template <typename F, typename Before>
double median_seconds(F f, int warmup, int reps, Before before) {
  for (int i = 0; i < warmup; ++i) f();
  std::vector<double> t;
  for (int i = 0; i < reps; ++i) {
    before();
    const auto t0 = Clock::now();
    f();
    t.push_back(since(t0));
  }
  return median(t);
}
template <typename F>
double median_seconds(F f, int warmup, int reps) {
  return median_seconds(f, warmup, reps, [] {});
}

}  // namespace lowbit::bench
