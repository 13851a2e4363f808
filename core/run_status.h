// The status of a run, as the trainer reports it and the results database stores it (the
// names are the database's text values). No torch: every room uses it.
#pragma once
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace lowbit {

enum class RunStatus {
  kPending,      ///< planned, not started (or reset by --retry-failed)
  kRunning,      ///< claimed by a live worker
  kDone,         ///< finished every epoch
  kFailed,       ///< stopped by an error (the message is in runs.error)
  kDiverged,     ///< loss became NaN/Inf
  kInterrupted,  ///< stopped by a signal or a dead worker; resumes from its checkpoint
  kStopped,      ///< stopped before its last epoch by a health rule (health.*; the rule is its error)
  kBlocked,      ///< never started: the run it starts from (init.from_run) ended without a result
};

/// Every status, in the order status listings show them.
const std::vector<RunStatus>& all_run_statuses();

/// "pending", "running", "done", "failed", "diverged", "interrupted", "stopped", "blocked".
const char* to_string(RunStatus s);

/// The status named `name`; throws Error for a name that is none of them.
RunStatus parse_run_status(std::string_view name);

inline bool operator==(RunStatus s, std::string_view name) { return name == to_string(s); }
inline bool operator!=(RunStatus s, std::string_view name) { return !(s == name); }
inline std::ostream& operator<<(std::ostream& os, RunStatus s) { return os << to_string(s); }

}  // namespace lowbit
