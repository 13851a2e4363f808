// lowbit grid FILE --settle --max-seeds N (and lowbit suite DIR --settle): seeds added to the
// cells of undecided claims until every claim is decided or the budget is spent
// (docs/CLAIMS.md). Looks are planned at n0, 2 n0, 4 n0, ... and N seeds per cell; each look's
// level is the O'Brien-Fleming-type alpha spent since the last (reports/claims.h), so looking
// repeatedly does not inflate the error rate. Every look is recorded in the database before
// the next starts: the same command after an interruption (Ctrl-C, kill -9) trains what is
// missing, replays the recorded decisions and goes on.
#pragma once
#include <string>

#include "experiments/grid.h"

namespace lowbit {

struct SettleResult {
  GridSummary last;         ///< the last look's grid
  bool interrupted = false;
  int64_t undecided = 0;    ///< claims still inconclusive when the budget was spent
};

/// Settles `spec` (loaded from `file` with `o.overrides`). Throws ConfigError when the
/// definition has no claims, its seeds are not 0..n0-1, or max_seeds <= n0, and when the
/// database holds looks of another plan.
SettleResult settle_experiment(const std::string& file, const ExperimentSpec& spec, const GridOptions& o,
                               int64_t max_seeds);

}  // namespace lowbit
