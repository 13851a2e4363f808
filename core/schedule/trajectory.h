// What a run's schedules will do, computed from its config before it trains: the learning
// rate and SLB's inverse temperature at the window's start, middle and end, where the forward
// turns hard, and the problems that make a launch a waste (a temperature that leaves float32's
// range, SGDR cycles that do not tile the window) or likely not what was meant (a schedule
// that does not reach t1 while the forward is soft). lowbit grid and lowbit train refuse the
// errors; --dry-run prints the summary. Loading and reporting never check: a run recorded
// under an older lowbit keeps its meaning.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "core/config/run_config.h"

namespace lowbit {

/// Above this, T is refused: T multiplies the logits, and float32 holds at most 3.4e38.
inline constexpr double kMaxTemperature = 1e30;

struct TrajectoryPoint {
  double epoch = 0;  ///< training progress in epochs (fractional)
  double value = 0;
};

struct ScheduleSummary {
  TrajectoryPoint lr_start, lr_end;
  bool slb = false;  ///< the rest is filled only for quant.method = slb
  double window_start = 0, window_end = 0;   ///< in epochs, as the window arithmetic reads them
  TrajectoryPoint t_start, t_mid, t_end;     ///< T at the window's start, middle and end
  std::optional<double> hard_from;           ///< first epoch with a hard (one-hot) forward
  TrajectoryPoint last_soft;                 ///< T at the last soft step
  TrajectoryPoint t_max;                     ///< the largest T of the run
  std::optional<double> exp_gamma;           ///< exp: the factor per epoch in use
};

ScheduleSummary summarize_schedules(const RunConfig& c);

struct ScheduleProblems {
  std::vector<std::string> errors;    ///< "quant.temperature...: what, where, and the fix"
  std::vector<std::string> warnings;  ///< likely not what was meant
};

ScheduleProblems check_schedules(const RunConfig& c);

/// A sample of (epoch, lr) and (epoch, T) over the run, `per_epoch` points per epoch (at most
/// 4000 in all): what --dry-run --plot draws.
struct Trajectory {
  std::vector<TrajectoryPoint> lr, temperature;
  std::vector<bool> hard;  ///< per temperature point
};
Trajectory sample_trajectory(const RunConfig& c, int per_epoch = 20);

}  // namespace lowbit
