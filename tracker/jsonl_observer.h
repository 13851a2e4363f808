// Writes a run's events as files in one directory: config.json (the resolved config),
// metrics.jsonl (one line per epoch and metric), layer_stats.jsonl (one line per epoch,
// layer and key) and summary.json. On resume, lines of epochs at or after the resumed
// epoch are dropped first, so every (epoch, key) appears once.
#pragma once
#include "lowbit_room.h"  // the build refuses this header in rooms below tracker/
#ifndef LOWBIT_MAY_INCLUDE_TRACKER
#error "this room may not include tracker/ (docs/ARCHITECTURE.md: rooms)"
#endif
#include <fstream>
#include <string>

#include "core/train/observer.h"

namespace lowbit {

class JsonlObserver : public Observer {
 public:
  /// REQUIRES: `dir` exists and is writable (throws ConfigError otherwise).
  explicit JsonlObserver(std::string dir);
  void on_run_start(const RunStartEvent& e) override;
  void on_epoch_end(const EpochEvent& e) override;
  void on_run_end(const RunEndEvent& e) override;

 private:
  std::string dir_;
  std::ofstream metrics_, layers_;
};

/// Creates `dir` and its parents; throws ConfigError naming the directory when it cannot.
void make_dirs(const std::string& dir, const std::string& what);

}  // namespace lowbit
