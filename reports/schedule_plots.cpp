#include "reports/schedule_plots.h"

#include "core/schedule/trajectory.h"
#include "reports/plots.h"
#include "tracker/jsonl_observer.h"

namespace lowbit {

std::vector<std::string> plot_schedules(const std::string& name, const std::vector<std::pair<std::string, RunConfig>>& runs,
                                        const std::string& dir) {
  std::vector<Series> lr, temperature;
  for (const auto& [label, config] : runs) {
    const Trajectory tr = sample_trajectory(config);
    Series l{label, {}, {}, {}};
    for (const auto& p : tr.lr) l.x.push_back(p.epoch), l.mean.push_back(p.value), l.std.push_back(0);
    lr.push_back(std::move(l));
    if (tr.temperature.empty()) continue;
    Series soft{label, {}, {}, {}}, hard{label + " (hard forward)", {}, {}, {}};
    for (size_t i = 0; i < tr.temperature.size(); ++i) {
      Series& s = tr.hard[i] ? hard : soft;
      s.x.push_back(tr.temperature[i].epoch), s.mean.push_back(tr.temperature[i].value), s.std.push_back(0);
    }
    for (Series* s : {&soft, &hard})
      if (!s->x.empty()) temperature.push_back(std::move(*s));
  }
  make_dirs(dir, "--plot");
  std::vector<std::string> files =
      plot_lines(dir, name + "-lr", name + ": learning rate", "epoch", "learning rate", lr);
  if (!temperature.empty()) {
    auto t = plot_lines(dir, name + "-temperature", name + ": SLB inverse temperature T", "epoch", "T",
                        temperature, /*logy=*/true);
    files.insert(files.end(), t.begin(), t.end());
  }
  return files;
}

}  // namespace lowbit
