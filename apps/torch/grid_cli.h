// The options lowbit grid and lowbit suite share (workers, threads, device, retries, reuse,
// the run limit), declared and read in one place (apps/cmd_grid.cpp). Both commands run in
// build/lowbit-torch only, never in the torch-free front.
#pragma once
#include <string>

#include "apps/cli.h"
#include "experiments/grid.h"

namespace lowbit {

/// Adds --workers (into `workers`, parsed by read_grid_options), --threads-per-worker,
/// --device, --retry-failed, --no-reuse, --max-runs, and the definition overrides --set,
/// --seeds and --epochs.
void add_grid_options(po::options_description& desc, GridOptions& o, std::string& workers);

/// Fills `o` from what add_grid_options declared; throws ConfigError on a bad --workers.
void read_grid_options(const po::variables_map& vm, const std::string& workers, GridOptions& o);

}  // namespace lowbit
