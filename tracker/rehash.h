// Schema 7's one-time rewrite of run identities: each run's config hash and training hash
// recomputed from its stored config by this version's rule (identity keys only; run_config.h),
// the init.from_run references of its children rewritten to the parent's new training hash.
// Runs keep their ids, so metrics, layer statistics, summaries, artifacts, tags, notes and
// reproductions stay attached. Called inside the migration's transaction.
#pragma once
#include "lowbit_room.h"  // the build refuses this header in rooms below tracker/
#ifndef LOWBIT_MAY_INCLUDE_TRACKER
#error "this room may not include tracker/ (docs/ARCHITECTURE.md: rooms)"
#endif
#include "tracker/db_handle.h"

namespace lowbit {

/// Recomputes every run's hashes. When any would change and a run is `running` with a
/// heartbeat younger than `live_seconds`, throws StoreError (a grid is using the database:
/// stop it first) before writing anything. A run whose new hash another run of its experiment
/// takes keeps its old hash and leaves the definition (runs.in_definition = 0); the run that
/// keeps the identity is the one with a result (done), else the one whose hash it already
/// was, else the oldest.
/// REQUIRES: an open transaction; runs.legacy_hash and runs.in_definition exist.
void rehash_runs(Db& db, double live_seconds);

}  // namespace lowbit
