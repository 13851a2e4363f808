// Reading and writing run configs: JSON (flat or nested), --set, validation across keys, the
// canonical form, the hashed identity and its upgrades. The keys themselves are declared in
// core/config/keys.def and expanded into the field table by core/config/fields.cpp.
#include "core/config/run_config.h"

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

[[noreturn]] void bad(const std::string& path, const std::string& msg) {
  throw ConfigError(path + ": " + msg);
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
        if (!value.is_object()) bad(path, "expected an object of settings, got " + describe_json(value));
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
                      "expected a JSON object of settings, got " + describe_json(j));
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
        "quant.temperature.per_step: true, but quant.temperature.window is port, whose integer "
        "arithmetic is per epoch; set quant.temperature.window to fractional or per_step to "
        "false");
  if ((c.data.name == "mnist" || c.data.name == "cifar10") && c.data.dir.empty())
    fail("data.dir: " + c.data.name + " needs the directory of its files (set data.dir)");
  if (c.quant.method == "lsq" && c.quant.bits < 2)
    fail(fmt::format("quant.bits: LSQ weights are signed with Q_N = 2^(b-1), Q_P = 2^(b-1) - 1, so b = {} leaves "
                     "Q_P = 0; use 2..8 bits (binary weights: quant.method = sign)",
                     c.quant.bits));
  if (c.quant.method == "lsq" && c.quant.scaling == Scaling::kNone)
    fail("quant.scaling: LSQ learns a step per layer or per channel; set layer or channel, not none");
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

const ConfigField* find_field(const std::string& path) {
  for (const auto& f : config_fields())
    if (f.path == path) return &f;
  return nullptr;
}

std::string config_value_text(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_float()) return fmt::format("{}", v.get<double>());
  return v.dump();
}

std::string canonical_json(const json& j) { return j.dump(); }  // std::map keys are sorted

json identity_json(const RunConfig& cfg, bool with_name) {
  json out = json::object();
  for (const auto& f : config_fields()) {
    if (!with_name && f.path == "name") continue;
    if (f.format1) {
      out[config_pointer(f.path)] = f.role == KeyRole::kIdentity ? f.get(cfg) : f.hashed_value;
    } else if (f.role == KeyRole::kIdentity && f.applies(cfg)) {
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

}  // namespace lowbit
