// Events a training run emits. The trainer knows nothing of where they go: the console
// progress line, the JSON-lines writer and the SQLite tracker are each an Observer.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "core/run_status.h"

namespace lowbit {

struct RunConfig;

/// One per-layer statistic at the end of an epoch (e.g. layer "conv2", key "sparsity").
struct LayerStat {
  std::string layer;
  std::string key;
  double value;
};

struct RunStartEvent {
  const RunConfig* config = nullptr;
  std::string config_hash;
  int64_t start_epoch = 0;  ///< 0, or the epoch after the checkpoint resumed from
  int64_t epochs = 0;
  int64_t batches_per_epoch = 0;
  int64_t train_examples = 0;
  int64_t parameters = 0;
};

struct BatchEvent {
  int64_t epoch, batch, batches;
  double loss, acc;  ///< running means over the epoch so far
  double images_per_second;
};

struct EpochEvent {
  int64_t epoch;  ///< 0-based
  int64_t epochs;
  std::map<std::string, double> metrics;  ///< train_loss, train_acc, test_loss, test_acc, lr, ...
  std::vector<LayerStat> layers;
};

/// status: done | diverged | failed | interrupted.
struct RunEndEvent {
  RunStatus status = RunStatus::kDone;
  std::string error;
  std::map<std::string, double> summary;  ///< final_test_acc, best_test_acc, peak_rss_bytes, ...
};

class Observer {
 public:
  virtual ~Observer() = default;
  virtual void on_run_start(const RunStartEvent& e) {}
  virtual void on_batch(const BatchEvent& e) {}
  virtual void on_epoch_end(const EpochEvent& e) {}
  virtual void on_run_end(const RunEndEvent& e) {}
};

/// Forwards every event to several observers, in order.
class MultiObserver : public Observer {
 public:
  explicit MultiObserver(std::vector<Observer*> obs) : obs_(std::move(obs)) {}
  void on_run_start(const RunStartEvent& e) override {
    for (auto* o : obs_) o->on_run_start(e);
  }
  void on_batch(const BatchEvent& e) override {
    for (auto* o : obs_) o->on_batch(e);
  }
  void on_epoch_end(const EpochEvent& e) override {
    for (auto* o : obs_) o->on_epoch_end(e);
  }
  void on_run_end(const RunEndEvent& e) override {
    for (auto* o : obs_) o->on_run_end(e);
  }

 private:
  std::vector<Observer*> obs_;
};

}  // namespace lowbit
