#include "experiments/console_observer.h"

#include <unistd.h>

#include <fmt/format.h>

#include "core/util.h"
#include "core/train/keys.h"

namespace lowbit {

ConsoleObserver::ConsoleObserver(FILE* out, std::string prefix)
    : out_(out), prefix_(std::move(prefix)), tty_(::isatty(::fileno(out)) != 0) {}

void ConsoleObserver::on_run_start(const RunStartEvent& e) {
  epochs_ = e.epochs;
  start_epoch_ = e.start_epoch;
  t0_ = std::chrono::steady_clock::now();
  fmt::print(out_, "{}run {} | {} parameters | {} training examples, {} batches per epoch{}\n",
             prefix_, e.config_hash, e.parameters, e.train_examples, e.batches_per_epoch,
             e.start_epoch > 0 ? fmt::format(" | resumed at epoch {}", e.start_epoch + 1) : "");
}

void ConsoleObserver::on_batch(const BatchEvent& e) {
  if (!tty_) return;
  auto now = std::chrono::steady_clock::now();
  if (e.batch != e.batches && now - last_print_ < std::chrono::milliseconds(200)) return;
  last_print_ = now;
  double elapsed = std::chrono::duration<double>(now - t0_).count();
  double done = double(e.epoch - start_epoch_) + double(e.batch) / double(e.batches);
  double total = double(epochs_ - start_epoch_);
  double eta = done > 0 ? elapsed / done * (total - done) : 0;
  fmt::print(out_, "\r\033[K{}epoch {}/{} batch {}/{} loss {:.4f} acc {:.4f} {:.0f} img/s ETA {}",
             prefix_, e.epoch + 1, epochs_, e.batch, e.batches, e.loss, e.acc, e.images_per_second,
             format_duration(eta));
  std::fflush(out_);
}

void ConsoleObserver::on_epoch_end(const EpochEvent& e) {
  const auto& m = e.metrics;
  auto get = [&](const char* k) {
    auto it = m.find(k);
    return it == m.end() ? 0.0 : it->second;
  };
  fmt::print(out_,
             "{}{}epoch {}/{} train_loss {:.4f} train_acc {:.4f} test_loss {:.4f} test_acc {:.4f} "
             "lr {:.4g} {:.1f}s\n",
             tty_ ? "\r\033[K" : "", prefix_, e.epoch + 1, e.epochs, get(key::kTrainLoss),
             get(key::kTrainAcc), get(key::kTestLoss), get(key::kTestAcc), get(key::kLr), get(key::kEpochSeconds));
  std::fflush(out_);
}

void ConsoleObserver::on_run_end(const RunEndEvent& e) {
  if (tty_) fmt::print(out_, "\r\033[K");
  if (e.status != RunStatus::kDone)
    fmt::print(out_, "{}run {}: {}\n", prefix_, to_string(e.status), e.error);
  std::fflush(out_);
}

}  // namespace lowbit
