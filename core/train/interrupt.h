// The one process-wide flag that a signal handler may set: the trainer polls it between
// batches and stops cleanly (status interrupted, last checkpoint kept).
#pragma once
#include <atomic>

namespace lowbit {

/// Number of interrupt requests received (SIGINT/SIGTERM); 0 = keep going.
inline std::atomic<int>& interrupt_count() {
  static std::atomic<int> count{0};
  return count;
}

}  // namespace lowbit
