#include "core/config/run_config.h"

#include "core/config/member_count.h"
#include "core/config/names.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "core/error.h"
#include "core/sha256.h"
#include "core/util.h"

namespace lowbit {
namespace {

using nlohmann::json;

std::string describe(const json& v) {
  switch (v.type()) {
    case json::value_t::string:
      return "string " + truncate_for_message(v.dump(-1, ' ', false, json::error_handler_t::replace));
    case json::value_t::boolean:
      return "boolean " + v.dump();
    case json::value_t::null:
      return "null";
    case json::value_t::object:
      return "an object";
    case json::value_t::array:
      return "a list";
    default:
      return v.dump();
  }
}

[[noreturn]] void bad(const std::string& path, const std::string& msg) {
  throw ConfigError(path + ": " + msg);
}

// Field builders. Each returns a ConfigField whose setter checks type and range.
template <typename Get>
ConfigField int_field(std::string path, std::string doc, Get get, int64_t lo, int64_t hi) {
  ConfigField f;
  f.path = path;
  f.type = "integer";
  f.doc = std::move(doc);
  f.get = [get](const RunConfig& c) { return json(get(const_cast<RunConfig&>(c))); };
  f.set = [get, path, lo, hi](RunConfig& c, const json& v) {
    bool integral = v.is_number_integer() ||
                    (v.is_number_float() && std::floor(v.get<double>()) == v.get<double>());
    if (!integral) bad(path, "expected an integer, got " + describe(v));
    // Range-check before converting: 1e30 or 2^64 - 1 do not fit an int64 (the conversion
    // would wrap to a meaningless number in the message).
    const bool in_range = v.is_number_float()      ? v.get<double>() >= double(lo) && v.get<double>() <= double(hi)
                          : v.is_number_unsigned() ? v.get<uint64_t>() <= uint64_t(hi) && int64_t(v.get<uint64_t>()) >= lo
                                                   : v.get<int64_t>() >= lo && v.get<int64_t>() <= hi;
    if (!in_range)
      bad(path, fmt::format("expected an integer in [{}, {}], got {}", lo, hi, truncate_for_message(v.dump())));
    get(c) = v.is_number_float() ? int64_t(v.get<double>()) : v.get<int64_t>();
  };
  return f;
}

enum class Bound { kOpen, kClosed };

template <typename Get>
ConfigField num_field(std::string path, std::string doc, Get get, double lo, double hi,
                      Bound lo_b = Bound::kClosed, Bound hi_b = Bound::kClosed) {
  ConfigField f;
  f.path = path;
  f.type = "number";
  f.doc = std::move(doc);
  f.get = [get](const RunConfig& c) { return json(get(const_cast<RunConfig&>(c))); };
  f.set = [get, path, lo, hi, lo_b, hi_b](RunConfig& c, const json& v) {
    if (!v.is_number()) bad(path, "expected a number, got " + describe(v));
    double x = v.get<double>();
    bool ok = std::isfinite(x) && (lo_b == Bound::kOpen ? x > lo : x >= lo) &&
              (hi_b == Bound::kOpen ? x < hi : x <= hi);
    if (!ok) {
      std::string range = fmt::format("{}{}, {}{}", lo_b == Bound::kOpen ? "(" : "[", lo, hi,
                                      hi_b == Bound::kOpen ? ")" : "]");
      if (std::isinf(hi)) range = fmt::format("{}{}, inf)", lo_b == Bound::kOpen ? "(" : "[", lo);
      bad(path, fmt::format("expected a number in {}, got {}", range, v.dump()));
    }
    get(c) = x;
  };
  return f;
}

template <typename Get>
ConfigField bool_field(std::string path, std::string doc, Get get) {
  ConfigField f;
  f.path = path;
  f.type = "boolean";
  f.doc = std::move(doc);
  f.get = [get](const RunConfig& c) { return json(get(const_cast<RunConfig&>(c))); };
  f.set = [get, path](RunConfig& c, const json& v) {
    if (!v.is_boolean()) bad(path, "expected true or false, got " + describe(v));
    get(c) = v.get<bool>();
  };
  return f;
}

// A string; when `choices` is non-empty, one of them.
template <typename Get>
ConfigField str_field(std::string path, std::string doc, Get get,
                      std::vector<std::string> choices = {}) {
  ConfigField f;
  f.path = path;
  f.type = choices.empty() ? "string" : "one of " + join(choices, ", ");
  f.doc = std::move(doc);
  f.get = [get](const RunConfig& c) { return json(get(const_cast<RunConfig&>(c))); };
  f.set = [get, path, choices](RunConfig& c, const json& v) {
    if (!v.is_string()) bad(path, "expected a string, got " + describe(v));
    std::string s = v.get<std::string>();
    if (!choices.empty() && std::find(choices.begin(), choices.end(), s) == choices.end())
      bad(path, "unknown value '" + truncate_for_message(s) + "'" + did_you_mean(s, choices) + " (one of " +
                    join(choices, ", ") + ")");
    get(c) = s;
  };
  return f;
}

// A closed choice: the member is an enum (core/config/choices.h), the JSON a string.
template <typename E, typename Get>
ConfigField choice_field(std::string path, std::string doc, Get get) {
  const std::vector<std::string> choices = choice_names<E>();
  ConfigField f;
  f.path = path;
  f.type = "one of " + join(choices, ", ");
  f.doc = std::move(doc);
  f.get = [get](const RunConfig& c) { return json(choice_name(get(const_cast<RunConfig&>(c)))); };
  f.set = [get, path, choices](RunConfig& c, const json& v) {
    if (!v.is_string()) bad(path, "expected a string, got " + describe(v));
    const std::string s = v.get<std::string>();
    const std::optional<E> e = parse_choice<E>(s);
    if (!e)
      bad(path, "unknown value '" + truncate_for_message(s) + "'" + did_you_mean(s, choices) + " (one of " +
                    join(choices, ", ") + ")");
    get(c) = *e;
  };
  return f;
}

template <typename Get>
ConfigField int_list_field(std::string path, std::string doc, Get get) {
  ConfigField f;
  f.path = path;
  f.type = "list of integers";
  f.doc = std::move(doc);
  f.get = [get](const RunConfig& c) { return json(get(const_cast<RunConfig&>(c))); };
  f.set = [get, path](RunConfig& c, const json& v) {
    if (!v.is_array()) bad(path, "expected a list of integers, got " + describe(v));
    std::vector<int64_t> out;
    for (const auto& e : v) {
      if (!e.is_number_integer())
        bad(path, "expected a list of integers, got element " + describe(e));
      out.push_back(e.get<int64_t>());
    }
    get(c) = out;
  };
  return f;
}

template <typename Get>
ConfigField str_list_field(std::string path, std::string doc, Get get) {
  ConfigField f;
  f.path = path;
  f.type = "list of strings";
  f.doc = std::move(doc);
  f.get = [get](const RunConfig& c) { return json(get(const_cast<RunConfig&>(c))); };
  f.set = [get, path](RunConfig& c, const json& v) {
    if (!v.is_array()) bad(path, "expected a list of strings, got " + describe(v));
    std::vector<std::string> out;
    for (const auto& e : v) {
      if (!e.is_string()) bad(path, "expected a list of strings, got element " + describe(e));
      out.push_back(e.get<std::string>());
    }
    get(c) = out;
  };
  return f;
}

// A number in (lo, hi), or an object {glob: number in (lo, hi)}; `allow_null` admits null.
// Integers are stored as floats so that 1 and 1.0 hash alike.
template <typename Get>
ConfigField per_layer_field(std::string path, std::string doc, Get get, double lo, double hi,
                            bool allow_null) {
  ConfigField f;
  f.path = path;
  f.type = allow_null ? "null, number or {layer glob: number}" : "number or {layer glob: number}";
  f.doc = std::move(doc);
  f.get = [get](const RunConfig& c) { return get(const_cast<RunConfig&>(c)); };
  f.set = [get, path, lo, hi, allow_null](RunConfig& c, const json& v) {
    auto check = [&](const json& x, const std::string& where) -> double {
      if (!x.is_number())
        bad(where,
            "expected a number in (" + fmt::format("{}, {}", lo, hi) + "), got " + describe(x));
      double d = x.get<double>();
      if (!(d > lo && d < hi))
        bad(where, fmt::format("expected a number in ({}, {}), got {}", lo, hi, x.dump()));
      return d;
    };
    if (v.is_null() && allow_null) {
      get(c) = nullptr;
    } else if (v.is_number()) {
      get(c) = check(v, path);
    } else if (v.is_object()) {
      if (v.empty()) bad(path, "expected at least one {layer glob: number} entry");
      json out = json::object();
      for (const auto& [k, x] : v.items()) out[k] = check(x, path + "." + k);
      get(c) = out;
    } else {
      bad(path, "expected " + std::string(allow_null ? "null, " : "") +
                    "a number or an object {layer glob: number}, got " + describe(v));
    }
  };
  return f;
}

// Free-form JSON validated elsewhere (value sets).
template <typename Get>
ConfigField json_field(std::string path, std::string type, std::string doc, Get get,
                       std::function<void(const json&)> check) {
  ConfigField f;
  f.path = path;
  f.type = std::move(type);
  f.doc = std::move(doc);
  f.get = [get](const RunConfig& c) { return get(const_cast<RunConfig&>(c)); };
  f.set = [get, check](RunConfig& c, const json& v) {
    check(v);
    get(c) = v;
  };
  return f;
}

// Roles (run_config.h, ConfigField::role). A row without a wrapper is a format-1 identity key.
// A format-1 observation key: hashed at `frozen` for ever, whatever its value.
ConfigField observation(ConfigField f, json frozen) {
  f.role = KeyRole::kObservation;
  f.hashed_value = std::move(frozen);
  return f;
}
// A key added after hash format 1. An identity key is hashed only when its value differs from
// `neutral`, the value that does what lowbit did before the key existed; an observation key
// never. `neutral` is written here once and never changed, even when the default is.
ConfigField added(ConfigField f, KeyRole role, json neutral) {
  f.role = role;
  f.format1 = false;
  f.hashed_value = std::move(neutral);
  return f;
}

constexpr double kInf = std::numeric_limits<double>::infinity();

void check_value_set(const json& v) {
  const std::string path = "quant.value_set";
  if (v.is_string()) {
    if (v != "linspace" && v != "learned_scale")
      bad(path, "unknown value set '" + v.get<std::string>() +
                    "' (one of linspace, learned_scale, a list of numbers, or {\"grid\": a})");
    return;
  }
  if (v.is_array()) {
    if (v.size() < 2) bad(path, "expected at least 2 values, got " + std::to_string(v.size()));
    for (const auto& e : v)
      if (!e.is_number()) bad(path, "expected a list of numbers, got element " + describe(e));
    return;
  }
  if (v.is_object() && v.size() == 1 && v.contains("grid") && v["grid"].is_number() &&
      v["grid"].get<double>() > 0)
    return;
  bad(path,
      "expected \"linspace\", \"learned_scale\", a list of numbers or {\"grid\": a > 0}, got " +
          describe(v));
}

// One table row per struct member. A member added to a config struct fails the build here
// until the count is raised, and a test (tests/config_fields_test.cpp) fails until the table
// has its row: a field can no longer be left out of parsing, the hash and the database.
static_assert(count_members<DataConfig>() == 13,
              "DataConfig changed: add the member's row to make_fields() and update this count");
static_assert(count_members<OptimConfig>() == 14,
              "OptimConfig changed: add the member's row to make_fields() and update this count");
static_assert(count_members<QuantConfig>() == 31,
              "QuantConfig changed: add the member's row to make_fields() and update this count");
static_assert(count_members<HealthConfig>() == 5,
              "HealthConfig changed: add the member's row to make_fields() and update this count");
static_assert(count_members<DiagConfig>() == 1,
              "DiagConfig changed: add the member's row to make_fields() and update this count");
static_assert(count_members<RunConfig>() == 14,
              "RunConfig changed: add the member's row to make_fields() and update this count");

std::vector<ConfigField> make_fields() {
  std::vector<ConfigField> f;
  f.push_back(str_field(
      "name", "Human-readable run name (not part of identity beyond the hash).",
      [](RunConfig & c) -> auto& { return c.name; }));
  f.push_back(int_field(
      "seed", "Seed for weight initialisation, data order and augmentation.",
      [](RunConfig & c) -> auto& { return c.seed; }, 0, INT64_MAX));
  f.push_back(int_field(
      "epochs", "Number of training epochs.", [](RunConfig & c) -> auto& { return c.epochs; }, 1,
      100000));
  f.push_back(int_field(
      "batch_size", "Training mini-batch size.",
      [](RunConfig & c) -> auto& { return c.batch_size; }, 1, 1 << 20));
  f.push_back(observation(
      int_field(
          "eval_batch_size",
          "Batch size for evaluation passes. On the CPU at most 128 examples go through the "
          "network at once (larger batches overflow the caches and run slower); accuracy does not "
          "depend on it. Observation: it never changes a weight; the batches it makes change the "
          "order in which the test loss is summed (its last bits: a test holds it within 1e-6 "
          "relative), and a convolution algorithm chosen per batch shape could flip an exact "
          "near-tie between two classes.",
          [](RunConfig & c) -> auto& { return c.eval_batch_size; }, 1, 1 << 20),
      int64_t(1000)));
  f.push_back(str_field(
      "model", "Network architecture (see `lowbit list models`).",
      [](RunConfig & c) -> auto& { return c.model; }, names_of(model_names())));
  f.push_back(str_field(
      "init.from_checkpoint",
      "Checkpoint whose matching parameters initialise the model (e.g. a full-precision run for "
      "TTQ); \"\" = none.",
      [](RunConfig & c) -> auto& { return c.init_from_checkpoint; }));
  f.push_back(str_field(
      "init.from_run",
      "In an experiment definition: the variant whose run with the same seed and axis values "
      "initialises this one from its final checkpoint (`{\"variant\": \"fp\"}` or \"fp\"); "
      "lowbit grid trains that run first and stores \"<variant>@<its training hash>\" here, so "
      "the parent is part of this run's identity. \"\" = none.",
      [](RunConfig & c) -> auto& { return c.init_from_run; }));
  f.push_back(observation(
      int_field("checkpoint.every",
                "Write a resumable checkpoint every N epochs (needs an output directory). "
                "Observation: it says how often progress is saved; a resumed run continues "
                "from the checkpoint's weights, optimizer state and random state.",
                [](RunConfig & c) -> auto& { return c.checkpoint_every; }, 1, 100000),
      int64_t(1)));

  f.push_back(str_field(
      "data.name", "Dataset.", [](RunConfig & c) -> auto& { return c.data.name; },
      names_of(dataset_names())));
  f.push_back(str_field(
      "data.dir",
      "Directory of the dataset files; \"\" = /usr/share/datasets/fashion-mnist for fashion_mnist "
      "(required for mnist and cifar10).",
      [](RunConfig & c) -> auto& { return c.data.dir; }));
  f.push_back(int_field(
      "data.train_limit", "Use only the first N training examples; 0 = all.",
      [](RunConfig & c) -> auto& { return c.data.train_limit; }, 0, INT64_MAX));
  f.push_back(int_field(
      "data.test_limit", "Use only the first N test examples; 0 = all.",
      [](RunConfig & c) -> auto& { return c.data.test_limit; }, 0, INT64_MAX));
  f.push_back(num_field(
      "data.val_fraction",
      "Fraction of the training set held out (from its end) as a validation split, reported as "
      "val_acc.",
      [](RunConfig & c) -> auto& { return c.data.val_fraction; }, 0, 1, Bound::kClosed,
      Bound::kOpen));
  f.push_back(bool_field(
      "data.augment",
      "Standard CIFAR-10 augmentation (pad 4 + random 32x32 crop + horizontal flip), seeded; "
      "ignored for other datasets.",
      [](RunConfig & c) -> auto& { return c.data.augment; }));
  f.push_back(bool_field(
      "data.normalize",
      "Normalise inputs with the dataset's mean and std (Fashion-MNIST 0.2860/0.3530).",
      [](RunConfig & c) -> auto& { return c.data.normalize; }));
  f.push_back(int_field(
      "data.synthetic.train", "Synthetic dataset: training examples.",
      [](RunConfig & c) -> auto& { return c.data.synthetic_train; }, 1, 10000000));
  f.push_back(int_field(
      "data.synthetic.test", "Synthetic dataset: test examples.",
      [](RunConfig & c) -> auto& { return c.data.synthetic_test; }, 1, 10000000));
  f.push_back(int_field(
      "data.synthetic.channels", "Synthetic dataset: image channels.",
      [](RunConfig & c) -> auto& { return c.data.synthetic_channels; }, 1, 64));
  f.push_back(int_field(
      "data.synthetic.size", "Synthetic dataset: image height and width.",
      [](RunConfig & c) -> auto& { return c.data.synthetic_size; }, 4, 512));
  f.push_back(int_field(
      "data.synthetic.classes", "Synthetic dataset: number of classes.",
      [](RunConfig & c) -> auto& { return c.data.synthetic_classes; }, 2, 1000));
  f.push_back(num_field(
      "data.synthetic.noise",
      "Synthetic dataset: std of the Gaussian noise added to each class prototype.",
      [](RunConfig & c) -> auto& { return c.data.synthetic_noise; }, 0, kInf));

  f.push_back(choice_field<OptimizerName>(
      "optim.name",
      "Optimizer for all parameters (Bop, when quant.method = bop, takes the binary weights).",
      [](RunConfig & c) -> auto& { return c.optim.name; }));
  f.push_back(num_field(
      "optim.lr", "Peak learning rate.", [](RunConfig & c) -> auto& { return c.optim.lr; }, 0, kInf,
      Bound::kOpen));
  f.push_back(num_field(
      "optim.momentum", "SGD momentum.", [](RunConfig & c) -> auto& { return c.optim.momentum; }, 0,
      1, Bound::kClosed, Bound::kOpen));
  f.push_back(bool_field(
      "optim.nesterov", "SGD with Nesterov momentum.",
      [](RunConfig & c) -> auto& { return c.optim.nesterov; }));
  f.push_back(num_field(
      "optim.weight_decay",
      "L2 weight decay on conv/linear weights; other parameters only as optim.bn_weight_decay and "
      "quant.scale_weight_decay say, SLB logits never.",
      [](RunConfig & c) -> auto& { return c.optim.weight_decay; }, 0, kInf));
  f.push_back(bool_field(
      "optim.bn_weight_decay",
      "Also apply optim.weight_decay to batch-norm affine parameters and biases. Never touches SLB "
      "logits (never decayed) or learned scales (quant.scale_weight_decay).",
      [](RunConfig & c) -> auto& { return c.optim.bn_weight_decay; }));
  f.push_back(num_field(
      "optim.beta1", "Adam beta1.", [](RunConfig & c) -> auto& { return c.optim.beta1; }, 0, 1,
      Bound::kClosed, Bound::kOpen));
  f.push_back(num_field(
      "optim.beta2", "Adam beta2.", [](RunConfig & c) -> auto& { return c.optim.beta2; }, 0, 1,
      Bound::kClosed, Bound::kOpen));
  f.push_back(str_field(
      "optim.schedule", "Learning-rate schedule, evaluated every step.",
      [](RunConfig & c) -> auto& { return c.optim.schedule; }, names_of(lr_schedule_names())));
  f.push_back(int_field(
      "optim.step_size", "step: multiply the lr by optim.gamma every N epochs.",
      [](RunConfig & c) -> auto& { return c.optim.step_size; }, 1, 100000));
  f.push_back(int_list_field(
      "optim.milestones", "multistep: epochs at which the lr is multiplied by optim.gamma.",
      [](RunConfig & c) -> auto& { return c.optim.milestones; }));
  f.push_back(num_field(
      "optim.gamma", "step/multistep: lr decay factor.",
      [](RunConfig & c) -> auto& { return c.optim.gamma; }, 0, 1, Bound::kOpen, Bound::kClosed));
  f.push_back(num_field(
      "optim.warmup_epochs",
      "Linear warm-up from 0 to optim.lr over this many epochs (fractions allowed).",
      [](RunConfig & c) -> auto& { return c.optim.warmup_epochs; }, 0, kInf));
  f.push_back(num_field(
      "optim.min_lr", "cosine: final learning rate.",
      [](RunConfig & c) -> auto& { return c.optim.min_lr; }, 0, kInf));

  f.push_back(str_field(
      "quant.method", "Weight quantizer (see `lowbit list quantizers`).",
      [](RunConfig & c) -> auto& { return c.quant.method; }, names_of(quantizer_names())));
  f.push_back(int_field(
      "quant.bits",
      "Weight bits for dorefa (1..8) and slb (1..8); ternary and binary methods ignore it.",
      [](RunConfig & c) -> auto& { return c.quant.bits; }, 1, 8));
  f.push_back(str_list_field(
      "quant.skip", "Layers kept in full precision: names, globs, or the positions first / last.",
      [](RunConfig & c) -> auto& { return c.quant.skip; }));
  f.push_back(per_layer_field(
      "quant.threshold",
      "TTQ threshold factor t: delta = t * max|w|. One number for all layers, or {layer name or "
      "glob: t}: an exact name beats a glob, a longer glob beats a shorter one, \"*\" is the "
      "fallback.",
      [](RunConfig & c) -> auto& { return c.quant.threshold; }, 0, 1, false));
  f.push_back(per_layer_field(
      "quant.target_sparsity",
      "TTQ threshold rule: choose delta per layer so that this fraction of weights is zero "
      "(overrides quant.threshold where set). null = off.",
      [](RunConfig & c) -> auto& { return c.quant.target_sparsity; }, 0, 1, true));
  f.push_back(bool_field(
      "quant.normalize_latent",
      "TTQ: scale latent weights to [-1, 1] by max|w| before thresholding (the paper's "
      "description; the official code does not).",
      [](RunConfig & c) -> auto& { return c.quant.normalize_latent; }));
  f.push_back(choice_field<ScaleInit>(
      "quant.scale_init",
      "TTQ: initial Wp/Wn: one (1.0) or mean (mean |w| over the positive / negative set).",
      [](RunConfig & c) -> auto& { return c.quant.scale_init; }));
  f.push_back(bool_field(
      "quant.scale_weight_decay",
      "Apply optim.weight_decay to the learned scales: TTQ Wp/Wn, the SLB learned scale and the "
      "PACT clip. The official TTQ code decays Wp/Wn with the weights (its regularize_cost('.*/W') "
      "matches them): set true to reproduce it.",
      [](RunConfig & c) -> auto& { return c.quant.scale_weight_decay; }));
  f.push_back(choice_field<Scaling>("quant.scaling",
                        "sign: scale of the binary weights: none, layer (mean|w|, XNOR-style) or "
                        "channel (mean|w| per output channel).",
                        [](RunConfig & c) -> auto& { return c.quant.scaling; }));
  f.push_back(str_field(
      "quant.act.method",
      "Activation quantizer after each ReLU position: none (ReLU), sign (1 bit, clipped STE), "
      "dorefa (k-bit uniform on [0, 1]), pact (k-bit with a learned clip).",
      [](RunConfig & c) -> auto& { return c.quant.act_method; },
      names_of(activation_quantizer_names())));
  f.push_back(int_field(
      "quant.act.bits", "Activation bits for dorefa / pact.",
      [](RunConfig & c) -> auto& { return c.quant.act_bits; }, 1, 8));
  f.push_back(num_field(
      "quant.act.clip", "pact: initial clip value alpha.",
      [](RunConfig & c) -> auto& { return c.quant.act_clip; }, 0, kInf, Bound::kOpen));
  f.push_back(num_field(
      "quant.bop.gamma", "Bop adaptivity rate gamma (m <- (1 - gamma) m + gamma g).",
      [](RunConfig & c) -> auto& { return c.quant.bop_gamma; }, 0, 1, Bound::kOpen,
      Bound::kClosed));
  f.push_back(num_field(
      "quant.bop.tau", "Bop threshold tau: flip where |m| > tau and sign(m) = sign(w).",
      [](RunConfig & c) -> auto& { return c.quant.bop_tau; }, 0, kInf));

  f.push_back(json_field(
      "quant.value_set", "\"linspace\", \"learned_scale\", [numbers] or {\"grid\": a}",
      "SLB value set V: linspace(-1, 1, 2^bits) (the paper's), a learned per-layer scale times "
      "linspace, an explicit list, or the symmetric integer grid scaled to [-a, a].",
      [](RunConfig & c) -> auto& { return c.quant.value_set; }, check_value_set));
  f.push_back(choice_field<LogitInit>("quant.logit_init",
                        "SLB logits initialisation: he (He-normal, fan_out mode over the logit "
                        "tensor as the golden-stick port: std = sqrt(2 / (out * kh * kw * |V|)) "
                        "for a conv, sqrt(2 / (out * |V|)) for a linear layer) or checkpoint (from "
                        "the distance of the checkpoint's weight to each value).",
                        [](RunConfig & c) -> auto& { return c.quant.logit_init; }));
  f.push_back(num_field(
      "quant.logit_init_scale", "SLB checkpoint init: logits = -scale * |w - v| / max|w|.",
      [](RunConfig & c) -> auto& { return c.quant.logit_init_scale; }, 0, kInf, Bound::kOpen));
  f.push_back(str_field(
      "quant.temperature.schedule",
      "SLB inverse-temperature schedule inside the window [start, end] of training.",
      [](RunConfig & c) -> auto& { return c.quant.temp_schedule; },
      names_of(temperature_schedule_names())));
  f.push_back(num_field(
      "quant.temperature.t0", "SLB initial inverse temperature T0.",
      [](RunConfig & c) -> auto& { return c.quant.temp_t0; }, 0, kInf, Bound::kOpen));
  f.push_back(num_field(
      "quant.temperature.t1", "SLB final inverse temperature for cos, linear and sgdr.",
      [](RunConfig & c) -> auto& { return c.quant.temp_t1; }, 0, kInf, Bound::kOpen));
  f.push_back(num_field(
      "quant.temperature.gamma",
      "SLB exp schedule: T = T0 * gamma^(e - e_start) per epoch inside the window.",
      [](RunConfig & c) -> auto& { return c.quant.temp_gamma; }, 1, kInf));
  f.push_back(num_field(
      "quant.temperature.start", "Start of the temperature window as a fraction of training.",
      [](RunConfig & c) -> auto& { return c.quant.temp_start; }, 0, 1));
  f.push_back(num_field(
      "quant.temperature.end",
      "End of the temperature window as a fraction of training; after it the forward pass is hard "
      "arg-max (see quant.temperature.after_window).",
      [](RunConfig & c) -> auto& { return c.quant.temp_end; }, 0, 1));
  f.push_back(num_field(
      "quant.temperature.period", "sgdr: first cycle length as a fraction of training.",
      [](RunConfig & c) -> auto& { return c.quant.temp_period; }, 0, 1, Bound::kOpen,
      Bound::kClosed));
  f.push_back(num_field(
      "quant.temperature.period_mult",
      "sgdr: each cycle is this many times longer than the previous.",
      [](RunConfig & c) -> auto& { return c.quant.temp_period_mult; }, 1, kInf));
  f.push_back(bool_field(
      "quant.temperature.per_step", "Update the temperature every step instead of every epoch.",
      [](RunConfig & c) -> auto& { return c.quant.temp_per_step; }));
  f.push_back(choice_field<TempWindow>(
      "quant.temperature.window",
      "SLB: how start/end map to epochs. fractional: the window is [start*epochs, end*epochs] in "
      "(fractional) epochs, hard forward after it when end < 1. port: the golden-stick port's "
      "integer arithmetic: with 1-based epoch e, s = int(start*epochs), f = int(end*epochs), T = "
      "T0 * gamma^(min(e, f) - s) for e > s (T0 before), hard forward from e >= f (even when end = "
      "1); per epoch.",
      [](RunConfig & c) -> auto& { return c.quant.temp_window; }));
  f.push_back(choice_field<AfterWindow>("quant.temperature.after_window",
                        "SLB after the temperature window: freeze (the port's: one-hot forward, no "
                        "gradient to the logits; only batch norm and full-precision layers keep "
                        "training) or ste (hard forward, the soft gradient at the frozen "
                        "temperature reaches the logits, so the arg-max can still change).",
                        [](RunConfig & c) -> auto& { return c.quant.temp_after_window; }));
  f.push_back(choice_field<BnMode>(
      "quant.bn_mode",
      "SLB batch norm. state: two sets of statistics; every quant.state_bn_every steps a "
      "no-gradient discrete (one-hot) forward of the batch updates the discrete set with momentum "
      "0.1, and evaluation uses it. calibrate_each_epoch: one set, recomputed from the calibration "
      "batches (quant.bn_calib_batches) after every epoch. calibrate_after: recomputed once, after "
      "the last epoch; earlier epochs' test_acc is uncalibrated. none: never recalibrated "
      "(evaluation uses the statistics of the soft forward).",
      [](RunConfig & c) -> auto& { return c.quant.bn_mode; }));
  f.push_back(int_field(
      "quant.state_bn_every",
      "SLB bn_mode state: run the discrete forward that updates the discrete statistics every N "
      "training steps.",
      [](RunConfig & c) -> auto& { return c.quant.state_bn_every; }, 1, 1000000));
  f.push_back(int_field(
      "quant.bn_calib_batches",
      "SLB calibrate modes: number of calibration batches: the first N full training batches in "
      "file order, without augmentation, the same for every seed and epoch (fewer if the training "
      "set has fewer full batches).",
      [](RunConfig & c) -> auto& { return c.quant.bn_calib_batches; }, 1, 1000000));

  f.push_back(observation(
      bool_field(
      "health.ttq_scales",
      "TTQ: stop when a layer's Wp or Wn has gone <= 0 (its ternary values collapse to zero or "
      "change sign).",
      [](RunConfig & c) -> auto& { return c.health.ttq_scales; }),
      json(true)));
  f.push_back(observation(
      num_field(
      "health.max_zero_fraction",
      "Stop when a quantized layer's weights are more than this fraction zeros (the layer has all "
      "but vanished); 1 = off.",
      [](RunConfig & c) -> auto& { return c.health.max_zero_fraction; }, 0, 1, Bound::kOpen),
      json(0.99)));
  f.push_back(observation(
      int_field(
      "health.chance_after_epochs",
      "Stop when test accuracy (validation accuracy when there is a validation split) is still at "
      "chance (at most 1/classes + health.chance_margin) after this many epochs; 0 = off.",
      [](RunConfig & c) -> auto& { return c.health.chance_after_epochs; }, 0, 100000),
      json(int64_t(0))));
  f.push_back(observation(
      num_field(
      "health.chance_margin", "How far above 1/classes accuracy still counts as chance.",
      [](RunConfig & c) -> auto& { return c.health.chance_margin; }, 0, 1),
      json(0.01)));
  f.push_back(observation(
      num_field(
      "health.grad_spike",
      "Stop when a step's gradient norm (over every conv and linear layer's weight) exceeds this "
      "many times the mean of the earlier steps of this process (after 20 steps); 0 = off.",
      [](RunConfig & c) -> auto& { return c.health.grad_spike; }, 0, 1e12),
      json(0.0)));

  f.push_back(added(
      bool_field("diag.before_calib",
                 "SLB calibrate modes: also score the test set before each batch-norm calibration "
                 "(metric test_acc_before_calib: the discrete network with the statistics of the "
                 "soft one). One more evaluation pass per calibrating epoch.",
                 [](RunConfig & c) -> auto& { return c.diag.before_calib; }),
      KeyRole::kObservation, json(true)));
  return f;
}

}  // namespace

const std::vector<ConfigField>& config_fields() {
  static const std::vector<ConfigField> fields = make_fields();
  return fields;
}

std::vector<std::string> config_paths() {
  std::vector<std::string> out;
  for (const auto& f : config_fields()) out.push_back(f.path);
  return out;
}

namespace {

const ConfigField* find_field(const std::string& path) {
  for (const auto& f : config_fields())
    if (f.path == path) return &f;
  return nullptr;
}

bool is_prefix_of_field(const std::string& path) {
  for (const auto& f : config_fields())
    if (f.path.rfind(path + ".", 0) == 0) return true;
  return false;
}

void apply_object(RunConfig& cfg, const json& j, const std::string& prefix,
                  const std::string& source) {
  for (const auto& [key, value] : j.items()) {
    std::string path = prefix.empty() ? key : prefix + "." + key;
    try {
      if (const ConfigField* f = find_field(path)) {
        f->set(cfg, value);
      } else if (is_prefix_of_field(path)) {
        if (!value.is_object()) bad(path, "expected an object of settings, got " + describe(value));
        apply_object(cfg, value, path, source);
      } else {
        throw ConfigError("unknown key '" + path + "'" + did_you_mean(path, config_paths()));
      }
    } catch (const ConfigError& e) {
      std::string msg = e.what();
      // Prefix the source once, at the innermost level.
      if (!source.empty() && msg.rfind(source + ": ", 0) != 0) msg = source + ": " + msg;
      throw ConfigError(msg);
    }
  }
}

}  // namespace

void apply_json(RunConfig& cfg, const json& j, const std::string& source) {
  if (!j.is_object()) {
    throw ConfigError((source.empty() ? "" : source + ": ") +
                      "expected a JSON object of settings, got " + describe(j));
  }
  apply_object(cfg, j, "", source);
}

namespace {
// "1e999": a number that JSON cannot hold, not a bare word.
bool looks_like_overflowing_number(const std::string& text) {
  if (text.empty() || text.find_first_not_of("+-0123456789.eE") != std::string::npos) return false;
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(text.c_str(), &end);
  return end == text.c_str() + text.size() && errno == ERANGE && std::isinf(v);
}
}  // namespace

std::pair<std::string, json> parse_assignment(const std::string& assignment) {
  auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0)
    throw ConfigError("--set " + assignment + ": expected key=value (e.g. optim.lr=0.05)");
  std::string key = assignment.substr(0, eq), text = assignment.substr(eq + 1);
  if (!find_field(key) && !is_prefix_of_field(key)) {
    const std::string hint = did_you_mean(key, config_paths());
    throw ConfigError("--set: unknown key '" + truncate_for_message(key) + "'" +
                      (hint.empty() ? " (every key: lowbit list keys, docs/CONFIG.md)" : hint));
  }
  json value = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded() && looks_like_overflowing_number(text))
    throw ConfigError("--set " + key + "=" + truncate_for_message(text) +
                      ": number overflow (larger than any number a key accepts)");
  if (value.is_discarded()) {
    value = text;  // bare words are strings: model=resnet20
    try {
      (void)value.dump();
    } catch (const json::type_error&) {  // JSON strings are UTF-8; a shell can pass anything
      throw ConfigError("--set " + key + ": the value is not valid UTF-8 text (" +
                        truncate_for_message(value.dump(-1, ' ', true, json::error_handler_t::replace)) +
                        "); write it in UTF-8");
    }
  }
  return {key, value};
}

void apply_set(RunConfig& cfg, const std::string& assignment) {
  auto [key, value] = parse_assignment(assignment);
  // Build the nested object so that the same path logic (and messages) apply.
  json nested = value;
  std::string rest = key;
  std::vector<std::string> parts;
  for (size_t p; (p = rest.find('.')) != std::string::npos; rest = rest.substr(p + 1))
    parts.push_back(rest.substr(0, p));
  parts.push_back(rest);
  // Leaf keys of the table may themselves contain dots (quant.temperature.t0): rebuild
  // the nesting so that apply_object walks through them as prefixes.
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) nested = json{{*it, nested}};
  apply_json(cfg, nested, "--set");
}

void validate(const RunConfig& c, const std::string& source) {
  auto fail = [&](const std::string& msg) {
    throw ConfigError((source.empty() ? "" : source + ": ") + msg);
  };
  for (size_t i = 1; i < c.optim.milestones.size(); ++i)
    if (c.optim.milestones[i] <= c.optim.milestones[i - 1])
      fail("optim.milestones: expected increasing epochs, got " + json(c.optim.milestones).dump());
  if (c.health.grad_spike > 0 && c.health.grad_spike <= 1)
    fail(fmt::format("health.grad_spike: {} would stop at the first step above the mean; use a "
                     "factor > 1 (e.g. 10) or 0 for off",
                     c.health.grad_spike));
  if (c.quant.temp_end < c.quant.temp_start)
    fail(fmt::format(
        "quant.temperature.end: the window ends ({}) before it starts ({}); set end >= start",
        c.quant.temp_end, c.quant.temp_start));
  if (c.quant.temp_window == TempWindow::kPort && c.quant.temp_per_step)
    fail(
        "quant.temperature.per_step: the port's window arithmetic is per epoch; set per_step to "
        "false or "
        "quant.temperature.window to fractional");
  if ((c.data.name == "mnist" || c.data.name == "cifar10") && c.data.dir.empty())
    fail("data.dir: " + c.data.name + " needs the directory of its files (set data.dir)");
  if (c.quant.method == "slb" && c.quant.value_set.is_array() &&
      int64_t(c.quant.value_set.size()) > 256)
    fail("quant.value_set: at most 256 values");
}

json::json_pointer config_pointer(const std::string& dotted) {
  std::string p = "/" + dotted;
  std::replace(p.begin(), p.end(), '.', '/');
  return json::json_pointer(p);
}

json to_json(const RunConfig& cfg) {
  json out = json::object();
  for (const auto& f : config_fields()) {
    json v = f.get(cfg);
    out[config_pointer(f.path)] = v;
  }
  return out;
}

json parse_json_text(const std::string& text, const std::string& source) {
  // A key repeated in one object would silently keep the last value (a variant "fp" defined
  // twice runs the second definition): refuse it, naming the object's path.
  struct Frame {
    std::string path;
    bool object = false;
    std::set<std::string> keys;
  };
  std::vector<Frame> stack;
  std::string last_key;
  auto child = [&] {
    if (stack.empty()) return std::string();
    const Frame& top = stack.back();
    if (!top.object) return top.path + "[]";
    return top.path.empty() ? last_key : top.path + "." + last_key;
  };
  json::parser_callback_t check = [&](int, json::parse_event_t event, json& parsed) {
    if (event == json::parse_event_t::object_start || event == json::parse_event_t::array_start) {
      stack.push_back({child(), event == json::parse_event_t::object_start, {}});
    } else if (event == json::parse_event_t::object_end || event == json::parse_event_t::array_end) {
      if (!stack.empty()) stack.pop_back();
    } else if (event == json::parse_event_t::key && !stack.empty()) {
      last_key = parsed.get<std::string>();
      if (!stack.back().keys.insert(last_key).second)
        throw ConfigError(source + ": " + (stack.back().path.empty() ? "" : stack.back().path + ": ") +
                          "duplicate key '" + truncate_for_message(last_key) +
                          "' (the later one would silently replace the earlier; keep one)");
    }
    return true;
  };
  try {
    return json::parse(text, check);
  } catch (const json::out_of_range& e) {
    // "number overflow parsing '1e999'": a number no double holds.
    std::string what = e.what();
    auto pos = what.find("number overflow");
    throw ConfigError(source + ": " + truncate_for_message(pos == std::string::npos ? what : what.substr(pos), 120) +
                      " (larger than any number a key accepts)");
  } catch (const json::parse_error& e) {
    size_t byte = e.byte == 0 ? 0 : e.byte - 1, line = 1, col = 1;
    for (size_t i = 0; i < byte && i < text.size(); ++i) {
      if (text[i] == '\n')
        ++line, col = 1;
      else
        ++col;
    }
    std::string what = e.what();
    auto pos = what.find("syntax error");
    throw ConfigError(fmt::format("{}:{}:{}: {}", source, line, col,
                                  pos == std::string::npos ? what : what.substr(pos)));
  }
}

RunConfig load_run_config(const std::string& path, const std::vector<std::string>& sets) {
  std::ifstream in(path);
  if (!in) throw ConfigError(path + ": cannot open config file (check the path)");
  std::stringstream ss;
  ss << in.rdbuf();
  RunConfig cfg;
  const json j = parse_json_text(ss.str(), path);
  // An experiment definition given where a run config belongs (lowbit train --config).
  for (const char* key : {"base", "variants", "axes"})
    if (j.is_object() && j.contains(key))
      throw ConfigError(path + ": this is an experiment definition (it has '" + key +
                        "'), not a run config: run it with lowbit grid " + path);
  apply_json(cfg, j, path);
  for (const auto& s : sets) apply_set(cfg, s);
  validate(cfg, path);
  return cfg;
}

std::string canonical_json(const json& j) { return j.dump(); }  // std::map keys are sorted

json identity_json(const RunConfig& cfg, bool with_name) {
  json out = json::object();
  for (const auto& f : config_fields()) {
    if (!with_name && f.path == "name") continue;
    if (f.format1) {
      out[config_pointer(f.path)] = f.role == KeyRole::kIdentity ? f.get(cfg) : f.hashed_value;
    } else if (f.role == KeyRole::kIdentity) {
      json v = f.get(cfg);
      if (v != f.hashed_value) out[config_pointer(f.path)] = std::move(v);
    }
  }
  return out;
}

std::string config_hash(const RunConfig& cfg) {
  return sha256_hex(canonical_json(identity_json(cfg, true))).substr(0, 16);
}

std::string training_hash(const RunConfig& cfg) {
  return sha256_hex(canonical_json(identity_json(cfg, false))).substr(0, 16);
}

RunConfig config_from_json(const json& j, const std::string& source) {
  // A key added after the config was stored did not exist when it ran: it ran as the key's
  // neutral value says, whatever this version's default is.
  RunConfig cfg;
  for (const auto& f : config_fields())
    if (!f.format1 && !(j.is_object() && j.contains(config_pointer(f.path))))
      f.set(cfg, f.hashed_value);
  apply_json(cfg, j, source);
  return cfg;
}

std::string config_markdown() {
  std::string out =
      "| key | type | default | role | meaning |\n| --- | --- | --- | --- | --- |\n";
  RunConfig defaults;
  for (const auto& f : config_fields())
    out += fmt::format("| `{}` | {} | `{}` | {} | {} |\n", f.path, f.type, f.get(defaults).dump(),
                       f.role == KeyRole::kIdentity ? "identity" : "observation", f.doc);
  return out;
}

}  // namespace lowbit
