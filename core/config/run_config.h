// RunConfig: one fully resolved training run. Every field has a default, a dotted key
// path (`optim.lr`), a type and a one-line meaning, all held in one field table
// (`config_fields()`); JSON parsing, `--set`, the canonical form that is hashed, error
// messages with "did you mean", and docs/CONFIG.md are all derived from that table, so
// they cannot drift apart. No torch here: the experiments room includes this header.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace lowbit {

struct DataConfig {
  std::string name = "fashion_mnist";  // fashion_mnist | mnist | cifar10 | synthetic
  std::string dir;                     // "" = the dataset's default directory
  int64_t train_limit = 0;             // first N training examples; 0 = all
  int64_t test_limit = 0;              // first N test examples; 0 = all
  double val_fraction = 0.0;           // held out from the end of the training set
  bool augment = true;                 // CIFAR-10 pad-4 crop + flip
  bool normalize = true;               // per-dataset mean/std
  int64_t synthetic_train = 512;
  int64_t synthetic_test = 256;
  int64_t synthetic_channels = 1;
  int64_t synthetic_size = 28;
  int64_t synthetic_classes = 10;
  double synthetic_noise = 0.5;
};

struct OptimConfig {
  std::string name = "sgd";  // sgd | adam
  double lr = 0.1;
  double momentum = 0.9;
  bool nesterov = false;
  double weight_decay = 5e-4;
  bool bn_weight_decay = false;
  double beta1 = 0.9;
  double beta2 = 0.999;
  std::string schedule = "cosine";  // constant | step | multistep | cosine
  int64_t step_size = 30;
  std::vector<int64_t> milestones;
  double gamma = 0.1;
  double warmup_epochs = 0.0;
  double min_lr = 0.0;
};

struct QuantConfig {
  std::string method = "fp";  // see the quantizer registry
  int64_t bits = 2;
  std::vector<std::string> skip = {"first", "last"};
  nlohmann::json threshold = 0.05;  // number, or {glob: number}
  nlohmann::json target_sparsity = nullptr;  // null, number, or {glob: number}
  bool normalize_latent = false;
  std::string scale_init = "one";  // one | mean
  bool scale_weight_decay = false;
  std::string scaling = "layer";  // none | layer | channel (sign)
  std::string act_method = "none";  // none | sign | dorefa | pact
  int64_t act_bits = 2;
  double act_clip = 1.0;
  double bop_gamma = 1e-4;
  double bop_tau = 1e-8;
  // SLB
  nlohmann::json value_set = "linspace";
  std::string logit_init = "he";  // he | checkpoint
  double logit_init_scale = 1.0;
  std::string temp_schedule = "exp";  // exp | cos | linear | sgdr | constant
  double temp_t0 = 1.0;
  double temp_t1 = 100.0;
  double temp_gamma = 1.2;
  double temp_start = 0.2;
  double temp_end = 0.6;
  double temp_period = 0.1;
  double temp_period_mult = 2.0;
  bool temp_per_step = false;
  std::string temp_window = "fractional";  // fractional | port (golden-stick epoch arithmetic)
  std::string temp_after_window = "freeze";  // freeze (the port's) | ste
  std::string bn_mode = "state";  // state | none | calibrate_after | calibrate_each_epoch
  int64_t state_bn_every = 1;     // state: discrete forward every N training steps
  int64_t bn_calib_batches = 10;
};

struct RunConfig {
  std::string name = "run";
  int64_t seed = 0;
  int64_t epochs = 10;
  int64_t batch_size = 128;
  int64_t eval_batch_size = 1000;
  std::string model = "small_cnn";
  std::string init_from_checkpoint;
  int64_t checkpoint_every = 1;
  DataConfig data;
  OptimConfig optim;
  QuantConfig quant;
};

/// One row of the field table.
struct ConfigField {
  std::string path;  ///< dotted key path, e.g. "optim.lr"
  std::string type;  ///< as shown in errors and docs: "integer", "number", ...
  std::string doc;   ///< one-line meaning
  std::function<nlohmann::json(const RunConfig&)> get;
  /// Sets the field from `v`; throws ConfigError("<path>: ...") on a wrong type or value.
  std::function<void(RunConfig&, const nlohmann::json& v)> set;
};

/// The field table, in documentation order.
const std::vector<ConfigField>& config_fields();

/// All key paths, for "did you mean".
std::vector<std::string> config_paths();

/// Applies a (partial, nested) JSON object to `cfg`. `source` prefixes every error
/// ("configs/x.json"). Throws ConfigError naming the key path on an unknown key,
/// a wrong type or a value out of range.
void apply_json(RunConfig& cfg, const nlohmann::json& j, const std::string& source);

/// Applies `key=value` (value parsed as JSON, else taken as a string).
void apply_set(RunConfig& cfg, const std::string& assignment);

/// Cross-field checks (e.g. milestones increasing); throws ConfigError.
void validate(const RunConfig& cfg, const std::string& source);

/// Nested JSON with every field, keys sorted: the canonical form.
nlohmann::json to_json(const RunConfig& cfg);

/// Parses a JSON text; syntax errors become ConfigError("<source>:<line>:<col>: ...").
nlohmann::json parse_json_text(const std::string& text, const std::string& source);

/// Reads a JSON file into a RunConfig (defaults for the rest) and validates it.
RunConfig load_run_config(const std::string& path, const std::vector<std::string>& sets = {});

/// Canonical JSON text (sorted keys, fixed number spelling) and its hash (16 hex digits).
std::string canonical_json(const nlohmann::json& j);
std::string config_hash(const RunConfig& cfg);

/// Markdown table of every key, its type, default and meaning (docs/CONFIG.md body).
std::string config_markdown();

}  // namespace lowbit
