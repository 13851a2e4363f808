#include "reports/schedule_plots.h"

#include "core/schedule/trajectory.h"
#include "reports/plots.h"
#include "tracker/jsonl_observer.h"

namespace lowbit {

std::vector<std::string> plot_lr_schedules(const std::string& dir, const std::string& name, const std::string& title,
                                           const std::vector<std::pair<std::string, RunConfig>>& runs) {
  std::vector<Series> lr;
  for (const auto& [label, config] : runs) {
    Series l{label, {}, {}, {}};
    for (const auto& p : sample_trajectory(config).lr) l.x.push_back(p.epoch), l.mean.push_back(p.value), l.std.push_back(0);
    lr.push_back(std::move(l));
  }
  make_dirs(dir, "plot folder");
  return plot_lines(dir, name, title, "epoch", "learning rate", lr);
}

std::vector<std::string> plot_temperature_schedules(const std::string& dir, const std::string& name,
                                                    const std::string& title,
                                                    const std::vector<std::pair<std::string, RunConfig>>& runs,
                                                    const std::vector<int>& colors) {
  std::vector<Series> temperature;
  for (size_t k = 0; k < runs.size(); ++k) {
    const auto& [label, config] = runs[k];
    const Trajectory tr = sample_trajectory(config);
    // The soft part is the curve; the hard part continues it, dashed, in its colour.
    Series soft{label, {}, {}, {}}, hard{label, {}, {}, {}};
    for (size_t i = 0; i < tr.temperature.size(); ++i) {
      Series& s = tr.hard[i] ? hard : soft;
      s.x.push_back(tr.temperature[i].epoch), s.mean.push_back(tr.temperature[i].value), s.std.push_back(0);
    }
    if (soft.x.empty()) std::swap(soft, hard);  // hard from the first step: one curve
    soft.color = k < colors.size() ? colors[k] : -1;
    temperature.push_back(std::move(soft));
    if (!hard.x.empty()) hard.continues = int(temperature.size()) - 1, temperature.push_back(std::move(hard));
  }
  if (temperature.empty()) return {};
  make_dirs(dir, "plot folder");
  return plot_lines(dir, name, title, "epoch", "T", temperature, /*logy=*/true);
}

}  // namespace lowbit
