#include "core/run_status.h"

#include "core/error.h"

namespace lowbit {

const std::vector<RunStatus>& all_run_statuses() {
  static const std::vector<RunStatus> all = {
      RunStatus::kDone,   RunStatus::kRunning,  RunStatus::kPending, RunStatus::kInterrupted,
      RunStatus::kFailed, RunStatus::kDiverged, RunStatus::kStopped, RunStatus::kBlocked};
  return all;
}

const char* to_string(RunStatus s) {
  switch (s) {
    case RunStatus::kPending:
      return "pending";
    case RunStatus::kRunning:
      return "running";
    case RunStatus::kDone:
      return "done";
    case RunStatus::kFailed:
      return "failed";
    case RunStatus::kDiverged:
      return "diverged";
    case RunStatus::kInterrupted:
      return "interrupted";
    case RunStatus::kStopped:
      return "stopped";
    case RunStatus::kBlocked:
      return "blocked";
  }
  return "unknown";
}

RunStatus parse_run_status(std::string_view name) {
  for (RunStatus s : all_run_statuses())
    if (name == to_string(s)) return s;
  throw Error("unknown run status '" + std::string(name) +
              "' in the database (written by a newer lowbit? upgrade lowbit)");
}

}  // namespace lowbit
