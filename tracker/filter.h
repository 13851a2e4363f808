// The one filter language of lowbit query runs --where, lowbit tag --where and lowbit report
// --where (docs/QUERY.md): a condition on runs, compiled to SQL.
//
//   quant.method in (ttq, slb) and quant.bits <= 2 or tag = reviewed and not status = done
//
// Names: config keys (dotted; the run_params column name, quant_bits, works too), run, seed,
// variant, experiment, status, hash (a prefix), tag, and the run summaries (final_test_acc,
// wall_seconds, ...). Operators = != < <= > >= in, not in; and, or, not, parentheses. A key
// outside its scope (core/config/keys.def; quant.bits of an FP run) is absent: every comparison
// on it is false, != included. An unknown name or value is an error with did-you-mean.
#pragma once
#include "lowbit_room.h"  // the build refuses this header in rooms below tracker/
#ifndef LOWBIT_MAY_INCLUDE_TRACKER
#error "this room may not include tracker/ (docs/ARCHITECTURE.md: rooms)"
#endif
#include <string>
#include <vector>

#include "tracker/db_handle.h"

namespace lowbit {

struct ConfigField;

/// A compiled condition: SQL over `runs r JOIN experiments e ON e.id = r.experiment_id`,
/// literals inlined (quoted), so that it can go inside any statement.
struct RunFilter {
  std::string text;  ///< as the user wrote it (several --where joined with "and")
  std::string sql;   ///< "1 = 1" when there is no condition
  bool empty() const { return text.empty(); }
};

/// Compiles the conditions (all must hold). The database supplies the values that names like
/// variant, experiment and tag can take, for did-you-mean. Throws ConfigError naming the
/// condition, the word and the fix.
RunFilter compile_run_filter(Db& db, const std::vector<std::string>& conditions);

/// The ids of the runs that satisfy the filter, in id order.
std::vector<int64_t> filtered_runs(Db& db, const RunFilter& filter);

/// The SQL value of config key `f` for the run whose id is the SQL expression `run_id`: its
/// stored value inside the key's scope, NULL outside it (a key added after a run was recorded
/// reads as its neutral value, as the run ran).
std::string config_column_sql(const ConfigField& f, const std::string& run_id);

}  // namespace lowbit
