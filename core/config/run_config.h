// RunConfig: one fully resolved training run. Every key has a default, a dotted key path
// (`optim.lr`), a type with its range or choices, a one-line meaning and a role (identity or
// observation), declared once in core/config/keys.def; the structs below and the field table
// (`config_fields()`) expand from it, and JSON parsing, `--set`, the identity that is hashed,
// error messages with "did you mean", and docs/CONFIG.md all read that table.
// No torch here: the experiments room includes this header.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/config/choices.h"

namespace lowbit {

// The members of each struct are declared, with their path, type, default, range, role and
// meaning, in core/config/keys.def, one row each; they expand here.

/// `data.*`: the dataset and how much of it a run uses.
struct DataConfig {
#define LOWBIT_DATA_KEY(member, type, def, ...) type member = def;
#include "core/config/keys.def"
};

/// `optim.*`: the optimizer and the learning-rate schedule.
struct OptimConfig {
#define LOWBIT_OPTIM_KEY(member, type, def, ...) type member = def;
#include "core/config/keys.def"
};

/// `quant.*`: the weight and activation quantizers, SLB's temperature and batch norm.
struct QuantConfig {
#define LOWBIT_QUANT_KEY(member, type, def, ...) type member = def;
#include "core/config/keys.def"
};

/// `health.*`: rules that stop a run that cannot recover, early, with the rule and epoch as
/// its error (status `stopped`). They are checked after each epoch (the gradient spike after
/// each step). Observation keys: a rule decides whether training goes on, never a value
/// recorded before it stops, so runs that differ only in their rules are one run.
struct HealthConfig {
#define LOWBIT_HEALTH_KEY(member, type, def, ...) type member = def;
#include "core/config/keys.def"
};

/// `diag.*`: extra measurements that cost time and change nothing that is trained
/// (observation keys: not part of a run's identity).
struct DiagConfig {
#define LOWBIT_DIAG_KEY(member, type, def, ...) type member = def;
#include "core/config/keys.def"
};

/// One training run: its own keys (name, seed, epochs, model, ...) and one struct per group.
struct RunConfig {
#define LOWBIT_RUN_KEY(member, type, def, ...) type member = def;
#include "core/config/keys.def"
  DataConfig data;
  OptimConfig optim;
  QuantConfig quant;
  HealthConfig health;
  DiagConfig diag;
};

/// What a key is to a run's identity (docs/SCHEMA.md, "Identity and upgrades").
enum class KeyRole {
  kIdentity,     ///< changes what is trained (a weight or a metric value): in the hash
  kObservation,  ///< changes only what is measured or how the work runs: stored, not hashed
};

/// One condition of a key's scope: the run's value of `key` (a key whose values are names,
/// e.g. quant.method) is one of `values`.
struct ScopeTerm {
  std::string key;
  std::vector<std::string> values;
};

/// Where a key applies (core/config/keys.def): any of the alternatives, each all of its
/// terms. No alternative: every run.
struct ConfigScope {
  std::vector<std::vector<ScopeTerm>> any;
  bool everywhere() const { return any.empty(); }
  bool holds(const RunConfig& cfg) const;
  /// As docs/CONFIG.md prints it: "quant.method = ttq", "quant.method in {dorefa, slb}", "or" and
  /// "and" between terms; "" for everywhere.
  std::string text() const;
};

/// One row of the field table.
struct ConfigField {
  std::string path;  ///< dotted key path, e.g. "optim.lr"
  std::string type;  ///< as shown in errors and docs: "integer", "number", ...
  std::string doc;   ///< one-line meaning
  std::function<nlohmann::json(const RunConfig&)> get;
  /// Sets the field from `v`; throws ConfigError("<path>: ...") on a wrong type or value.
  std::function<void(RunConfig&, const nlohmann::json& v)> set;
  KeyRole role = KeyRole::kIdentity;
  /// Whether the key belongs to hash format 1: the keys every config had when identity and
  /// observation keys were split (schema 7). Those stay in the hashed object for ever, so
  /// that the hashes of runs recorded before the split never move; an observation key among
  /// them is hashed at its frozen `hashed_value`, whatever its value. A key added later is
  /// hashed only when it is an identity key whose value differs from `hashed_value`.
  bool format1 = true;
  /// Format-1 observation keys: the value hashed for ever (the default at the split). Keys
  /// added later: the value that does what lowbit did before the key existed; a run at that
  /// value keeps the hash it had. Never changes, even when the key's default does.
  nlohmann::json hashed_value;
  /// Where the key can change a run (quant.threshold only with quant.method = ttq); empty:
  /// everywhere. Filters (lowbit query, tag and report --where), `lowbit query runs` and the
  /// run_params view treat the key as absent from the runs outside it. A key added after format
  /// 1 is also hashed only where it applies, so that a new key whose default differs from its
  /// neutral value moves the hashes of the runs it changes and of no other: such a key's scope
  /// is part of its hash and never changes.
  ConfigScope scope;
  bool applies(const RunConfig& cfg) const { return scope.holds(cfg); }
};

/// The field table, in documentation order.
const std::vector<ConfigField>& config_fields();

/// The row of key `path` ("optim.lr"), or nullptr.
const ConfigField* find_field(const std::string& path);

/// All key paths, for "did you mean".
std::vector<std::string> config_paths();

/// A config value as report tables print it: a string as is, a float in shortest form
/// ("{}"), anything else as JSON.
std::string config_value_text(const nlohmann::json& v);
/// (Also what claims and reports compare axis values by.)

/// A JSON value as error messages name it: `string "x"`, `boolean true`, `a list`, `null`, ...
std::string describe_json(const nlohmann::json& v);

/// Applies a (partial, nested) JSON object to `cfg`. `source` prefixes every error
/// ("configs/x.json"). Throws ConfigError naming the key path on an unknown key,
/// a wrong type or a value out of range.
void apply_json(RunConfig& cfg, const nlohmann::json& j, const std::string& source);

/// Applies `key=value` (value parsed as JSON, else taken as a string).
void apply_set(RunConfig& cfg, const std::string& assignment);
/// The key and value of a --set assignment "key=value", as apply_set reads them: the key must
/// exist, the value is JSON or else a bare string; a ConfigError names what is wrong.
std::pair<std::string, nlohmann::json> parse_assignment(const std::string& assignment);

/// Cross-field checks (e.g. milestones increasing); throws ConfigError.
void validate(const RunConfig& cfg, const std::string& source);

/// The JSON pointer of a dotted key path in the nested form ("optim.lr" -> "/optim/lr").
nlohmann::json::json_pointer config_pointer(const std::string& dotted);

/// Nested JSON with every field, keys sorted: the canonical form.
nlohmann::json to_json(const RunConfig& cfg);

/// Parses a JSON text; syntax errors become ConfigError("<source>:<line>:<col>: ...").
nlohmann::json parse_json_text(const std::string& text, const std::string& source);

/// Reads a JSON file into a RunConfig (defaults for the rest) and validates it.
RunConfig load_run_config(const std::string& path, const std::vector<std::string>& sets = {});

/// Canonical JSON text (sorted keys, fixed number spelling).
std::string canonical_json(const nlohmann::json& j);
/// The object a run's identity is the hash of (nested, keys sorted): every format-1 key,
/// observation keys at their frozen value, and each later identity key whose value differs
/// from its `hashed_value`. `with_name`: include `name` (the experiment's name in a grid).
nlohmann::json identity_json(const RunConfig& cfg, bool with_name = true);
/// A run's identity within its experiment: 16 hex digits of SHA-256 of identity_json.
std::string config_hash(const RunConfig& cfg);
/// The hash of what a run trains, whatever its experiment: identity_json without `name`.
/// Runs of different experiments with the same training hash produce the same results, so
/// lowbit grid reuses a finished one instead of training it again (runs.train_hash).
std::string training_hash(const RunConfig& cfg);
/// A stored config JSON (runs.config_json, a checkpoint's) read back into a RunConfig. A key
/// it lacks takes this version's default, except a key added after hash format 1, which takes
/// its neutral value (`hashed_value`: what the run did before the key existed), so that the
/// run keeps its identity and its meaning. Throws ConfigError naming `source`.
RunConfig config_from_json(const nlohmann::json& j, const std::string& source);

/// Markdown table of every key, its type, default and meaning (docs/CONFIG.md body).
std::string config_markdown();

}  // namespace lowbit
