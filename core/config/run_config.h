// RunConfig: one fully resolved training run. Every field has a default, a dotted key
// path (`optim.lr`), a type, a one-line meaning and a role (identity or observation), all
// held in one field table (`config_fields()`); JSON parsing, `--set`, the identity that is
// hashed, error messages with "did you mean", and docs/CONFIG.md are all derived from that
// table, so they cannot drift apart. No torch here: the experiments room includes this header.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/config/choices.h"

namespace lowbit {

struct DataConfig {
  /// `data.name`: Dataset. Default: "fashion_mnist".
  std::string name = "fashion_mnist";
  /// `data.dir`: Directory of the dataset files; "" = /usr/share/datasets/fashion-mnist for
  /// fashion_mnist (required for mnist and cifar10). Default: "".
  std::string dir;
  /// `data.train_limit`: Use only the first N training examples; 0 = all. Default: 0.
  int64_t train_limit = 0;
  /// `data.test_limit`: Use only the first N test examples; 0 = all. Default: 0.
  int64_t test_limit = 0;
  /// `data.val_fraction`: Fraction of the training set held out (from its end) as a validation
  /// split, reported as val_acc. Default: 0.0.
  double val_fraction = 0.0;
  /// `data.augment`: Standard CIFAR-10 augmentation (pad 4 + random 32x32 crop + horizontal flip),
  /// seeded; ignored for other datasets. Default: true.
  bool augment = true;
  /// `data.normalize`: Normalise inputs with the dataset's mean and std (Fashion-MNIST
  /// 0.2860/0.3530). Default: true.
  bool normalize = true;
  /// `data.synthetic.train`: Synthetic dataset: training examples. Default: 512.
  int64_t synthetic_train = 512;
  /// `data.synthetic.test`: Synthetic dataset: test examples. Default: 256.
  int64_t synthetic_test = 256;
  /// `data.synthetic.channels`: Synthetic dataset: image channels. Default: 1.
  int64_t synthetic_channels = 1;
  /// `data.synthetic.size`: Synthetic dataset: image height and width. Default: 28.
  int64_t synthetic_size = 28;
  /// `data.synthetic.classes`: Synthetic dataset: number of classes. Default: 10.
  int64_t synthetic_classes = 10;
  /// `data.synthetic.noise`: Synthetic dataset: std of the Gaussian noise added to each class
  /// prototype. Default: 0.5.
  double synthetic_noise = 0.5;
};

struct OptimConfig {
  /// `optim.name`: Optimizer for all parameters (Bop, when quant.method = bop, takes the binary
  /// weights). Default: "sgd".
  OptimizerName name = OptimizerName::kSgd;
  /// `optim.lr`: Peak learning rate. Default: 0.1.
  double lr = 0.1;
  /// `optim.momentum`: SGD momentum. Default: 0.9.
  double momentum = 0.9;
  /// `optim.nesterov`: SGD with Nesterov momentum. Default: false.
  bool nesterov = false;
  /// `optim.weight_decay`: L2 weight decay on conv/linear weights; other parameters only as
  /// optim.bn_weight_decay and quant.scale_weight_decay say, SLB logits never. Default: 0.0005.
  double weight_decay = 5e-4;
  /// `optim.bn_weight_decay`: Also apply optim.weight_decay to batch-norm affine parameters and
  /// biases. Never touches SLB logits (never decayed) or learned scales (quant.scale_weight_decay).
  /// Default: false.
  bool bn_weight_decay = false;
  /// `optim.beta1`: Adam beta1. Default: 0.9.
  double beta1 = 0.9;
  /// `optim.beta2`: Adam beta2. Default: 0.999.
  double beta2 = 0.999;
  /// `optim.schedule`: Learning-rate schedule, evaluated every step. Default: "cosine".
  std::string schedule = "cosine";
  /// `optim.step_size`: step: multiply the lr by optim.gamma every N epochs. Default: 30.
  int64_t step_size = 30;
  /// `optim.milestones`: multistep: epochs at which the lr is multiplied by optim.gamma. Default:
  /// [].
  std::vector<int64_t> milestones;
  /// `optim.gamma`: step/multistep: lr decay factor. Default: 0.1.
  double gamma = 0.1;
  /// `optim.warmup_epochs`: Linear warm-up from 0 to optim.lr over this many epochs (fractions
  /// allowed). Default: 0.0.
  double warmup_epochs = 0.0;
  /// `optim.min_lr`: cosine: final learning rate. Default: 0.0.
  double min_lr = 0.0;
};

struct QuantConfig {
  /// `quant.method`: Weight quantizer (see `lowbit list quantizers`). Default: "fp".
  std::string method = "fp";
  /// `quant.bits`: Weight bits for dorefa (1..8) and slb (1..8); ternary and binary methods ignore
  /// it. Default: 2.
  int64_t bits = 2;
  /// `quant.skip`: Layers kept in full precision: names, globs, or the positions first / last.
  /// Default: ["first","last"].
  std::vector<std::string> skip = {"first", "last"};
  /// `quant.threshold`: TTQ threshold factor t: delta = t * max|w|. One number for all layers, or
  /// {layer name or glob: t}: an exact name beats a glob, a longer glob beats a shorter one, "*" is
  /// the fallback. Default: 0.05.
  nlohmann::json threshold = 0.05;
  /// `quant.target_sparsity`: TTQ threshold rule: choose delta per layer so that this fraction of
  /// weights is zero (overrides quant.threshold where set). null = off. Default: null.
  nlohmann::json target_sparsity = nullptr;
  /// `quant.normalize_latent`: TTQ: scale latent weights to [-1, 1] by max|w| before thresholding
  /// (the paper's description; the official code does not). Default: false.
  bool normalize_latent = false;
  /// `quant.scale_init`: TTQ: initial Wp/Wn: one (1.0) or mean (mean |w| over the positive /
  /// negative set). Default: "one".
  ScaleInit scale_init = ScaleInit::kOne;
  /// `quant.scale_weight_decay`: Apply optim.weight_decay to the learned scales: TTQ Wp/Wn, the SLB
  /// learned scale and the PACT clip. The official TTQ code decays Wp/Wn with the weights (its
  /// regularize_cost('.*/W') matches them): set true to reproduce it. Default: false.
  bool scale_weight_decay = false;
  /// `quant.scaling`: sign: scale of the binary weights: none, layer (mean|w|, XNOR-style) or
  /// channel (mean|w| per output channel). Default: "layer".
  Scaling scaling = Scaling::kLayer;
  /// `quant.act.method`: Activation quantizer after each ReLU position: none (ReLU), sign (1 bit,
  /// clipped STE), dorefa (k-bit uniform on [0, 1]), pact (k-bit with a learned clip). Default:
  /// "none".
  std::string act_method = "none";
  /// `quant.act.bits`: Activation bits for dorefa / pact. Default: 2.
  int64_t act_bits = 2;
  /// `quant.act.clip`: pact: initial clip value alpha. Default: 1.0.
  double act_clip = 1.0;
  /// `quant.bop.gamma`: Bop adaptivity rate gamma (m <- (1 - gamma) m + gamma g). Default: 0.0001.
  double bop_gamma = 1e-4;
  /// `quant.bop.tau`: Bop threshold tau: flip where |m| > tau and sign(m) = sign(w). Default:
  /// 1e-08.
  double bop_tau = 1e-8;
  // SLB
  /// `quant.value_set`: SLB value set V: linspace(-1, 1, 2^bits) (the paper's), a learned per-layer
  /// scale times linspace, an explicit list, or the symmetric integer grid scaled to [-a, a].
  /// Default: "linspace".
  nlohmann::json value_set = "linspace";
  /// `quant.logit_init`: SLB logits initialisation: he (He-normal, fan_out mode over the logit
  /// tensor as the golden-stick port: std = sqrt(2 / (out * kh * kw * |V|)) for a conv, sqrt(2 /
  /// (out * |V|)) for a linear layer) or checkpoint (from the distance of the checkpoint's weight
  /// to each value). Default: "he".
  LogitInit logit_init = LogitInit::kHe;
  /// `quant.logit_init_scale`: SLB checkpoint init: logits = -scale * |w - v| / max|w|. Default:
  /// 1.0.
  double logit_init_scale = 1.0;
  /// `quant.temperature.schedule`: SLB inverse-temperature schedule inside the window [start, end]
  /// of training. Default: "exp".
  std::string temp_schedule = "exp";
  /// `quant.temperature.t0`: SLB initial inverse temperature T0. Default: 1.0.
  double temp_t0 = 1.0;
  /// `quant.temperature.t1`: SLB final inverse temperature for cos, linear and sgdr. Default:
  /// 100.0.
  double temp_t1 = 100.0;
  /// `quant.temperature.gamma`: SLB exp schedule: T = T0 * gamma^(e - e_start) per epoch inside the
  /// window. Default: 1.2.
  double temp_gamma = 1.2;
  /// `quant.temperature.start`: Start of the temperature window as a fraction of training. Default:
  /// 0.2.
  double temp_start = 0.2;
  /// `quant.temperature.end`: End of the temperature window as a fraction of training; after it the
  /// forward pass is hard arg-max (see quant.temperature.after_window). Default: 0.6.
  double temp_end = 0.6;
  /// `quant.temperature.period`: sgdr: first cycle length as a fraction of training. Default: 0.1.
  double temp_period = 0.1;
  /// `quant.temperature.period_mult`: sgdr: each cycle is this many times longer than the previous.
  /// Default: 2.0.
  double temp_period_mult = 2.0;
  /// `quant.temperature.per_step`: Update the temperature every step instead of every epoch.
  /// Default: false.
  bool temp_per_step = false;
  /// `quant.temperature.window`: SLB: how start/end map to epochs. fractional: the window is
  /// [start*epochs, end*epochs] in (fractional) epochs, hard forward after it when end < 1. port:
  /// the golden-stick port's integer arithmetic: with 1-based epoch e, s = int(start*epochs), f =
  /// int(end*epochs), T = T0 * gamma^(min(e, f) - s) for e > s (T0 before), hard forward from e >=
  /// f (even when end = 1); per epoch. Default: "fractional".
  TempWindow temp_window = TempWindow::kFractional;
  /// `quant.temperature.after_window`: SLB after the temperature window: freeze (the port's:
  /// one-hot forward, no gradient to the logits; only batch norm and full-precision layers keep
  /// training) or ste (hard forward, the soft gradient at the frozen temperature reaches the
  /// logits, so the arg-max can still change). Default: "freeze".
  AfterWindow temp_after_window = AfterWindow::kFreeze;
  /// `quant.bn_mode`: SLB batch norm. state: two sets of statistics; every quant.state_bn_every
  /// steps a no-gradient discrete (one-hot) forward of the batch updates the discrete set with
  /// momentum 0.1, and evaluation uses it. calibrate_each_epoch: one set, recomputed from the
  /// calibration batches (quant.bn_calib_batches) after every epoch. calibrate_after: recomputed
  /// once, after the last epoch; earlier epochs' test_acc is uncalibrated. none: never recalibrated
  /// (evaluation uses the statistics of the soft forward). Default: "state".
  BnMode bn_mode = BnMode::kState;
  /// `quant.state_bn_every`: SLB bn_mode state: run the discrete forward that updates the discrete
  /// statistics every N training steps. Default: 1.
  int64_t state_bn_every = 1;
  /// `quant.bn_calib_batches`: SLB calibrate modes: number of calibration batches: the first N full
  /// training batches in file order, without augmentation, the same for every seed and epoch (fewer
  /// if the training set has fewer full batches). Default: 10.
  int64_t bn_calib_batches = 10;
};

/// Health rules: stop a run that cannot recover, early, with the rule and epoch as its error
/// (status `stopped`). They are checked after each epoch (the gradient spike after each step).
/// Observation keys: a rule decides whether training goes on, never a value recorded before
/// it stops, so runs that differ only in their rules are one run.
struct HealthConfig {
  /// `health.ttq_scales`: TTQ: stop when a layer's Wp or Wn has gone <= 0 (its ternary values
  /// collapse to zero or change sign). Default: true.
  bool ttq_scales = true;
  /// `health.max_zero_fraction`: Stop when a quantized layer's weights are more than this
  /// fraction zeros (the layer has all but vanished); 1 = off. Default: 0.99.
  double max_zero_fraction = 0.99;
  /// `health.chance_after_epochs`: Stop when test accuracy (validation accuracy when there is a
  /// validation split) is still at chance (at most 1/classes + health.chance_margin) after this
  /// many epochs; 0 = off. Default: 0.
  int64_t chance_after_epochs = 0;
  /// `health.chance_margin`: How far above 1/classes accuracy still counts as chance.
  /// Default: 0.01.
  double chance_margin = 0.01;
  /// `health.grad_spike`: Stop when a step's gradient norm (over every conv and linear layer's
  /// weight) exceeds this many times the mean of the earlier steps of this process (after 20
  /// steps); 0 = off. Default: 0.0.
  double grad_spike = 0;
};

/// Diagnostics: extra measurements that cost time and change nothing that is trained
/// (observation keys: not part of a run's identity).
struct DiagConfig {
  /// `diag.before_calib`: SLB calibrate modes: also score the test set before each batch-norm
  /// calibration (metric test_acc_before_calib: the discrete network with the statistics of
  /// the soft one). One more evaluation pass per calibrating epoch. Default: false.
  bool before_calib = false;
};

struct RunConfig {
  /// `name`: Human-readable run name (not part of identity beyond the hash). Default: "run".
  std::string name = "run";
  /// `seed`: Seed for weight initialisation, data order and augmentation. Default: 0.
  int64_t seed = 0;
  /// `epochs`: Number of training epochs. Default: 10.
  int64_t epochs = 10;
  /// `batch_size`: Training mini-batch size. Default: 128.
  int64_t batch_size = 128;
  /// `eval_batch_size`: Batch size for evaluation passes. On the CPU at most 128 examples go
  /// through the network at once (larger batches overflow the caches and run slower); accuracy
  /// does not depend on it. Observation: it never changes a weight; the batches it makes change
  /// the order in which the test loss is summed (its last bits: a test holds it within 1e-6
  /// relative), and a convolution algorithm chosen per batch shape could flip an exact
  /// near-tie between two classes. Default: 1000.
  int64_t eval_batch_size = 1000;
  /// `model`: Network architecture (see `lowbit list models`). Default: "small_cnn".
  std::string model = "small_cnn";
  /// `init.from_checkpoint`: Checkpoint whose matching parameters initialise the model (e.g. a
  /// full-precision run for TTQ); "" = none. Default: "".
  std::string init_from_checkpoint;
  /// `init.from_run`: In an experiment definition: the variant whose run with the same seed and
  /// axis values initialises this one from its final checkpoint (`{"variant": "fp"}` or "fp");
  /// lowbit grid trains that run first and stores "<variant>@<its training hash>" here, so the
  /// parent is part of this run's identity. "" = none. Default: "".
  std::string init_from_run;
  /// `checkpoint.every`: Write a resumable checkpoint every N epochs (needs an output directory).
  /// Observation: it says how often progress is saved; a resumed run continues from the
  /// checkpoint's weights, optimizer state and random state. Default: 1.
  int64_t checkpoint_every = 1;
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
