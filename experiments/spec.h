// Experiment definitions: one JSON file -> fully resolved, validated run configs.
//
//   {"name": "thresholds", "description": "...",
//    "base": {partial run config},
//    "axes": {"key.path": [v1, v2, ...], ...},            crossed (cartesian product)
//    "variants": {"fp": {partial config}, "ttq": {partial config, "axes": {...}}},
//    "exclude": [{"variant": "fp", "epochs": 1}, ...],     a run matching every entry is dropped
//    "seeds": 3 | [0, 1, 2],
//    "report": {"tables": "main,layers", "plot": "weight_sparsity", "metric": "test_acc:final",
//               "rows": [...], "cols": [...], "baseline": "fp"}}   how lowbit suite reports it
//
// Runs: for each variant (in file order) x each combination of the global axes and the
// variant's own axes x each seed. Each run is base, then the variant, then the axis values,
// then the seed, applied to the defaults. Its identity is the hash of its canonical JSON.
#pragma once
#include "lowbit_room.h"  // the build refuses this header in rooms below experiments/
#ifndef LOWBIT_MAY_INCLUDE_EXPERIMENTS
#error "this room may not include experiments/ (docs/ARCHITECTURE.md: rooms)"
#endif
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/config/claims.h"
#include "tracker/store.h"

namespace lowbit {

struct ModelSpec;

struct ExperimentSpec {
  std::string name, description, source;
  nlohmann::ordered_json raw;
  std::vector<PlannedRun> runs;
  std::vector<std::string> axis_keys;  ///< every axis key, global then per-variant, in order
  /// "report": the report lowbit suite writes (and docs/RESULTS.md shows) for this experiment:
  /// tables, the one plot, metric, rows, cols, baseline. Types checked here; names when used.
  nlohmann::json report = nlohmann::json::object();
  /// "claims": what the question asserts about its cells (core/config/claims.h), checked
  /// against the variants, axes and output keys.
  std::vector<ClaimSpec> claims;
  /// "settle_max_seeds": the seed cap of this question under lowbit suite --settle (its power
  /// analysis); 0: the command's --max-seeds alone.
  int64_t settle_max_seeds = 0;
};

/// The most runs one definition may expand to unless the caller raises it (--max-runs):
/// the count is checked before anything is expanded, so 10^7 seeds fail at once.
constexpr int64_t kDefaultMaxRuns = 100000;

/// Command-line changes to a definition (lowbit grid and lowbit suite --set, --seeds,
/// --epochs), written into the definition itself: "seeds", and "set" (every run's config after
/// its variant; --epochs N is --set epochs=N), so that the stored definition says what ran and
/// the same command resumes the same grid.
struct DefinitionOverrides {
  std::vector<std::string> set;  ///< "key=value", as lowbit train --set
  int64_t seeds = 0;             ///< 0: the definition's
  int64_t epochs = 0;            ///< 0: the definition's
  bool empty() const { return set.empty() && seeds == 0 && epochs == 0; }
};

/// The definition `text` with `o` written into it (unchanged when `o` is empty).
std::string apply_overrides(const std::string& text, const std::string& source, const DefinitionOverrides& o);

/// Reads, expands and validates `path`. Throws ConfigError naming the file, the place in it
/// (base, variants.X, axes.K[i]) and the key, before anything runs; Interrupted when a
/// signal arrives during the expansion.
ExperimentSpec load_experiment(const std::string& path, int64_t max_runs = kDefaultMaxRuns,
                               const DefinitionOverrides& overrides = {});

/// Parses an experiment from JSON text (for tests); `source` names it in errors. It is
/// expand_experiment followed by check_layer_settings for each distinct model and quant.
ExperimentSpec parse_experiment(const std::string& text, const std::string& source,
                                int64_t max_runs = kDefaultMaxRuns);

/// Parses, validates and expands a definition without building any model (no torch): every
/// error except those of quant.skip and per-layer globs, which need the layer names.
ExperimentSpec expand_experiment(const std::string& text, const std::string& source,
                                 int64_t max_runs = kDefaultMaxRuns);

/// Checks the settings that need the model (quant.skip and per-layer globs) by building it
/// once without data. A ConfigError is prefixed with `where` ("file.json: variants.X").
void check_layer_settings(const RunConfig& cfg, const std::string& where);

/// Checks spec.claims against the expanded runs: each cell names a variant and pins one cell
/// (every axis the variant spans, with a value some run has), and the metric is an output key
/// that a test may decide (not machine-dependent). Throws ConfigError naming the claim and
/// the field, with did-you-mean. (experiments/spec_claims.cpp)
void check_claims(const ExperimentSpec& spec, const std::string& source);

/// The data shape a config's dataset has, without loading it.
ModelSpec model_spec_for(const DataConfig& d);

}  // namespace lowbit
