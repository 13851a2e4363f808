// The console progress line: epoch, batch, loss, accuracy, images/s and ETA. On a
// terminal it rewrites itself in place; otherwise (CI logs, files) it prints one plain
// line per epoch.
#pragma once
#include "lowbit_room.h"  // the build refuses this header in rooms below experiments/
#ifndef LOWBIT_MAY_INCLUDE_EXPERIMENTS
#error "this room may not include experiments/ (docs/ARCHITECTURE.md: rooms)"
#endif
#include <chrono>
#include <cstdio>
#include <string>

#include "core/train/observer.h"

namespace lowbit {

class ConsoleObserver : public Observer {
 public:
  explicit ConsoleObserver(FILE* out = stderr, std::string prefix = "");
  void on_run_start(const RunStartEvent& e) override;
  void on_batch(const BatchEvent& e) override;
  void on_epoch_end(const EpochEvent& e) override;
  void on_run_end(const RunEndEvent& e) override;

 private:
  FILE* out_;
  std::string prefix_;
  bool tty_;
  int64_t epochs_ = 0, start_epoch_ = 0;
  std::chrono::steady_clock::time_point t0_;
  std::chrono::steady_clock::time_point last_print_;
};

}  // namespace lowbit
