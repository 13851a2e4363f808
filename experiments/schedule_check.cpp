#include "experiments/schedule_check.h"

#include <set>

#include <fmt/format.h>

#include "core/error.h"
#include "core/schedule/trajectory.h"

namespace lowbit {

std::vector<std::pair<std::string, RunConfig>> distinct_trainings(const ExperimentSpec& spec) {
  std::vector<std::pair<std::string, RunConfig>> out;
  std::set<std::string> seen;
  for (const PlannedRun& r : spec.runs) {
    std::string label = r.variant;
    if (!r.varying.empty()) label += " " + r.varying.dump();
    if (seen.insert(label).second) out.emplace_back(label, r.config);
  }
  return out;
}

namespace {

std::string point(const TrajectoryPoint& p) { return fmt::format("{:.4g} (epoch {:.4g})", p.value, p.epoch); }

}  // namespace

void check_launch_schedules(const ExperimentSpec& spec, std::FILE* warn) {
  for (const auto& [label, run] : distinct_trainings(spec)) {
    const ScheduleProblems p = check_schedules(run);
    if (!p.errors.empty()) throw ConfigError(spec.source + ": variants." + label + ": " + p.errors.front());
    for (const auto& w : p.warnings) fmt::print(warn, "warning: {}: variants.{}: {}\n", spec.source, label, w);
  }
}

void print_schedule_summaries(const ExperimentSpec& spec, std::FILE* out) {
  fmt::print(out, "schedules (one line per variant and axis values):\n");
  for (const auto& [label, run] : distinct_trainings(spec)) {
    const ScheduleSummary s = summarize_schedules(run);
    std::string line = fmt::format("  {}: lr {:.4g} -> {:.4g}", label, s.lr_start.value, s.lr_end.value);
    if (s.slb) {
      line += fmt::format("; T {} -> {} -> {}", point(s.t_start), point(s.t_mid), point(s.t_end));
      if (s.exp_gamma) line += fmt::format(", x{:.6g} per epoch", *s.exp_gamma);
      line += s.hard_from ? fmt::format("; hard from epoch {:.4g} (last soft T {:.4g})", *s.hard_from, s.last_soft.value)
                          : "; soft to the end";
    }
    fmt::print(out, "{}\n", line);
  }
}

}  // namespace lowbit
