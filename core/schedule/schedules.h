// Learning-rate and temperature schedules as pure functions of training progress.
// `t` is the number of epochs completed, fractional within an epoch (step 3 of 10 in
// epoch 2 is t = 2.3). No torch, no state: the same t gives the same value, which keeps
// resumed runs exact and lets tests pin every value.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/config/run_config.h"

namespace lowbit {

/// The learning rate at progress t of a run of `epochs` epochs.
double lr_at(const OptimConfig& o, int64_t epochs, double t);

/// The SLB inverse temperature at progress t and whether the forward pass is hard argmax.
struct Temperature {
  double value = 1.0;
  bool hard = false;
};

/// The span of training, in epochs of progress, over which the schedule's argument runs from
/// the window's start to its end: [start*epochs, end*epochs] (fractional), or the port's
/// [int(start*epochs), int(end*epochs)].
struct TemperatureWindow {
  double start = 0, end = 0;
};
TemperatureWindow temperature_window(const QuantConfig& q, int64_t epochs);

/// The factor per epoch that takes T0 to T1 across the window, (T1/T0)^(1/window epochs) (1 for
/// an empty window): exp's factor when quant.temperature.gamma is null.
double endpoint_gamma(const QuantConfig& q, int64_t epochs);
/// exp's factor per epoch: quant.temperature.gamma when pinned, else endpoint_gamma.
double exp_gamma(const QuantConfig& q, int64_t epochs);

/// REQUIRES: q.temp_start <= q.temp_end.
/// Inside the window [start*epochs, end*epochs]: exp T0*gamma^(e-e0) (gamma null: the factor
/// that reaches T1 at the window's end); cos from T0 to T1
/// along a half cosine; linear from T0 to T1; sgdr cosine cycles from T0 to T1 that restart,
/// the first cycle period*epochs long and each next one period_mult times longer; constant T0.
/// Before the window T = T0; after it the forward is hard argmax (value = the schedule's
/// value at the end of the window). With per_step false, e is the whole epoch index.
/// With q.temp_window == "port", the golden-stick port's integer arithmetic instead:
/// 1-based epoch e, s = int(start*epochs), f = int(end*epochs), the schedule at min(e, f) - s
/// epochs into the window (T0 while e <= s), hard from e >= f.
Temperature temperature_at(const QuantConfig& q, int64_t epochs, double t);

}  // namespace lowbit
