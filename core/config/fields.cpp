// The field table: each key declared in core/config/keys.def becomes one ConfigField, whose
// setter checks the JSON value's type and range (its kind) and whose role says how the key is
// hashed. The kinds are checked at compile time against the member's C++ type.
#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <limits>
#include <type_traits>

#include <fmt/format.h>

#include "core/config/names.h"
#include "core/config/run_config.h"
#include "core/error.h"
#include "core/util.h"

namespace lowbit {
namespace {

using nlohmann::json;

[[noreturn]] void bad(const std::string& path, const std::string& msg) {
  throw ConfigError(path + ": " + msg);
}

// The C++ type of the member an accessor returns.
template <typename Get>
using MemberOf = std::remove_reference_t<std::invoke_result_t<Get, RunConfig&>>;

template <typename T>
json member_json(const T& v) {
  if constexpr (std::is_enum_v<T>)
    return json(choice_name(v));
  else
    return json(v);
}
template <typename T>
json member_json(const std::optional<T>& v) {
  return v ? member_json(*v) : json(nullptr);
}

// A row whose value is read as `parse(path, json)` and written back as JSON.
template <typename Get, typename Parse>
ConfigField row(const std::string& path, std::string type, const std::string& doc, Get get,
                Parse parse) {
  ConfigField f;
  f.path = path;
  f.type = std::move(type);
  f.doc = doc;
  f.get = [get](const RunConfig& c) { return member_json(get(const_cast<RunConfig&>(c))); };
  f.set = [get, parse, path](RunConfig& c, const json& v) { get(c) = parse(path, v); };
  return f;
}

std::string one_of(const std::vector<std::string>& choices) { return "one of " + join(choices, ", "); }

std::string unknown_choice(const std::string& s, const std::vector<std::string>& choices) {
  return "unknown value '" + truncate_for_message(s) + "'" + did_you_mean(s, choices) + " (" +
         one_of(choices) + ")";
}

// ---- kinds (keys.def's fifth column) ----

struct Int {
  int64_t lo, hi;
  Int(int64_t l, int64_t h) : lo(l), hi(h) {}
  template <typename Get>
  ConfigField field(const std::string& path, const std::string& doc, Get get) const {
    static_assert(std::is_same_v<MemberOf<Get>, int64_t>, "Int() declares an int64_t member");
    return row(path, "integer", doc, get, [lo = lo, hi = hi](const std::string& p, const json& v) {
      const bool integral = v.is_number_integer() ||
                            (v.is_number_float() && std::floor(v.get<double>()) == v.get<double>());
      if (!integral) bad(p, "expected an integer, got " + describe_json(v));
      // Range-check before converting: 1e30 or 2^64 - 1 do not fit an int64 (the conversion
      // would wrap to a meaningless number in the message).
      const bool in_range =
          v.is_number_float()      ? v.get<double>() >= double(lo) && v.get<double>() <= double(hi)
          : v.is_number_unsigned() ? v.get<uint64_t>() <= uint64_t(hi) && int64_t(v.get<uint64_t>()) >= lo
                                   : v.get<int64_t>() >= lo && v.get<int64_t>() <= hi;
      if (!in_range)
        bad(p, fmt::format("expected an integer in [{}, {}], got {}", lo, hi, truncate_for_message(v.dump())));
      return v.is_number_float() ? int64_t(v.get<double>()) : v.get<int64_t>();
    });
  }
};

enum Bound { kOpen, kClosed };
constexpr double kInf = std::numeric_limits<double>::infinity();

struct Num {
  double lo, hi;
  Bound lo_b, hi_b;
  Num(double l, double h, Bound lb = kClosed, Bound hb = kClosed) : lo(l), hi(h), lo_b(lb), hi_b(hb) {}
  std::string range() const {
    const char* open = lo_b == kOpen ? "(" : "[";
    if (std::isinf(hi)) return fmt::format("{}{}, inf)", open, lo);
    return fmt::format("{}{}, {}{}", open, lo, hi, hi_b == kOpen ? ")" : "]");
  }
  double parse(const std::string& p, const json& v) const {
    if (!v.is_number()) bad(p, "expected a number, got " + describe_json(v));
    const double x = v.get<double>();
    const bool ok = std::isfinite(x) && (lo_b == kOpen ? x > lo : x >= lo) && (hi_b == kOpen ? x < hi : x <= hi);
    if (!ok) bad(p, fmt::format("expected a number in {}, got {}", range(), v.dump()));
    return x;
  }
  template <typename Get>
  ConfigField field(const std::string& path, const std::string& doc, Get get) const {
    static_assert(std::is_same_v<MemberOf<Get>, double>, "Num() declares a double member");
    return row(path, "number", doc, get, [n = *this](const std::string& p, const json& v) { return n.parse(p, v); });
  }
};

// A number in a range, or null (none).
struct NumOrNull : Num {
  using Num::Num;
  template <typename Get>
  ConfigField field(const std::string& path, const std::string& doc, Get get) const {
    static_assert(std::is_same_v<MemberOf<Get>, std::optional<double>>,
                  "NumOrNull() declares a std::optional<double> member");
    return row(path, "null or number", doc, get, [n = *this](const std::string& p, const json& v) {
      if (v.is_null()) return std::optional<double>();
      if (!v.is_number()) bad(p, "expected null or a number, got " + describe_json(v));
      return std::optional<double>(n.parse(p, v));
    });
  }
};

struct Bool {
  template <typename Get>
  ConfigField field(const std::string& path, const std::string& doc, Get get) const {
    static_assert(std::is_same_v<MemberOf<Get>, bool>, "Bool() declares a bool member");
    return row(path, "boolean", doc, get, [](const std::string& p, const json& v) {
      if (!v.is_boolean()) bad(p, "expected true or false, got " + describe_json(v));
      return v.get<bool>();
    });
  }
};

// A string; OneOf: one of the names of a table in core/config/names.h.
struct Str {
  std::vector<std::string> choices;
  template <typename Get>
  ConfigField field(const std::string& path, const std::string& doc, Get get) const {
    static_assert(std::is_same_v<MemberOf<Get>, std::string>, "Str()/OneOf() declare a std::string member");
    return row(path, choices.empty() ? "string" : one_of(choices), doc, get,
               [choices = choices](const std::string& p, const json& v) {
                 if (!v.is_string()) bad(p, "expected a string, got " + describe_json(v));
                 std::string s = v.get<std::string>();
                 if (!choices.empty() && std::find(choices.begin(), choices.end(), s) == choices.end())
                   bad(p, unknown_choice(s, choices));
                 return s;
               });
  }
};
struct OneOf : Str {
  explicit OneOf(const std::vector<NameEntry>& (*table)()) { choices = names_of(table()); }
};

// A closed choice: the member is an enum of core/config/choices.h, the JSON its name.
template <typename E>
struct Choice {
  template <typename Get>
  ConfigField field(const std::string& path, const std::string& doc, Get get) const {
    static_assert(std::is_same_v<MemberOf<Get>, E>, "Choice<E>() declares a member of enum E");
    const std::vector<std::string> choices = choice_names<E>();
    return row(path, one_of(choices), doc, get, [choices](const std::string& p, const json& v) {
      if (!v.is_string()) bad(p, "expected a string, got " + describe_json(v));
      const std::string s = v.get<std::string>();
      const std::optional<E> e = parse_choice<E>(s);
      if (!e) bad(p, unknown_choice(s, choices));
      return *e;
    });
  }
};

// A list whose elements are all of one JSON type.
template <typename T>
struct ListOf {
  template <typename Get>
  ConfigField field(const std::string& path, const std::string& doc, Get get) const {
    static_assert(std::is_same_v<MemberOf<Get>, std::vector<T>>, "IntList()/StrList(): a vector member");
    const std::string type = std::is_same_v<T, int64_t> ? "list of integers" : "list of strings";
    return row(path, type, doc, get, [type](const std::string& p, const json& v) {
      if (!v.is_array()) bad(p, "expected a " + type + ", got " + describe_json(v));
      std::vector<T> out;
      for (const auto& e : v) {
        const bool ok = std::is_same_v<T, int64_t> ? e.is_number_integer() : e.is_string();
        if (!ok) bad(p, "expected a " + type + ", got element " + describe_json(e));
        out.push_back(e.get<T>());
      }
      return out;
    });
  }
};
using IntList = ListOf<int64_t>;
using StrList = ListOf<std::string>;

// A number in (lo, hi), or an object {layer glob: number in (lo, hi)}; kOrNull admits null.
// Integers are stored as floats so that 1 and 1.0 hash alike.
enum NullPolicy { kNoNull, kOrNull };
struct PerLayer {
  double lo, hi;
  NullPolicy null;
  PerLayer(double l, double h, NullPolicy n) : lo(l), hi(h), null(n) {}
  double check(const json& x, const std::string& where) const {
    if (!x.is_number()) bad(where, fmt::format("expected a number in ({}, {}), got ", lo, hi) + describe_json(x));
    const double d = x.get<double>();
    if (!(d > lo && d < hi)) bad(where, fmt::format("expected a number in ({}, {}), got {}", lo, hi, x.dump()));
    return d;
  }
  template <typename Get>
  ConfigField field(const std::string& path, const std::string& doc, Get get) const {
    static_assert(std::is_same_v<MemberOf<Get>, json>, "PerLayer() declares a JSON member");
    const bool allow_null = null == kOrNull;
    return row(path, allow_null ? "null, number or {layer glob: number}" : "number or {layer glob: number}",
               doc, get, [k = *this, allow_null](const std::string& p, const json& v) -> json {
                 if (v.is_null() && allow_null) return nullptr;
                 if (v.is_number()) return k.check(v, p);
                 if (!v.is_object())
                   bad(p, std::string("expected ") + (allow_null ? "null, " : "") +
                              "a number or an object {layer glob: number}, got " + describe_json(v));
                 if (v.empty()) bad(p, "expected at least one {layer glob: number} entry");
                 json out = json::object();
                 for (const auto& [key, x] : v.items()) out[key] = k.check(x, p + "." + key);
                 return out;
               });
  }
};

// SLB's value set: "linspace", "learned_scale", a list of numbers or {"grid": a > 0}.
struct ValueSet {
  static void check(const std::string& p, const json& v) {
    if (v.is_string()) {
      if (v != "linspace" && v != "learned_scale")
        bad(p, "unknown value set '" + v.get<std::string>() +
                   "' (one of linspace, learned_scale, a list of numbers, or {\"grid\": a})");
      return;
    }
    if (v.is_array()) {
      if (v.size() < 2) bad(p, "expected at least 2 values, got " + std::to_string(v.size()));
      for (const auto& e : v)
        if (!e.is_number()) bad(p, "expected a list of numbers, got element " + describe_json(e));
      return;
    }
    if (v.is_object() && v.size() == 1 && v.contains("grid") && v["grid"].is_number() &&
        v["grid"].get<double>() > 0)
      return;
    bad(p, "expected \"linspace\", \"learned_scale\", a list of numbers or {\"grid\": a > 0}, got " +
               describe_json(v));
  }
  template <typename Get>
  ConfigField field(const std::string& path, const std::string& doc, Get get) const {
    static_assert(std::is_same_v<MemberOf<Get>, json>, "ValueSet() declares a JSON member");
    return row(path, "\"linspace\", \"learned_scale\", [numbers] or {\"grid\": a}", doc, get,
               [](const std::string& p, const json& v) {
                 check(p, v);
                 return v;
               });
  }
};

// ---- roles (keys.def's sixth column; ConfigField::role, format1, hashed_value) ----

// ---- scopes (where a key applies; the role's last argument) ----

ConfigScope when(const std::string& key, std::vector<std::string> values) {
  ConfigScope s;
  s.any.push_back({ScopeTerm{key, std::move(values)}});
  return s;
}
// Both: every alternative of one with every alternative of the other.
ConfigScope operator&&(const ConfigScope& a, const ConfigScope& b) {
  if (a.everywhere()) return b;
  if (b.everywhere()) return a;
  ConfigScope s;
  for (const auto& x : a.any)
    for (const auto& y : b.any) {
      auto& both = s.any.emplace_back(x);
      both.insert(both.end(), y.begin(), y.end());
    }
  return s;
}
ConfigScope operator||(const ConfigScope& a, const ConfigScope& b) {
  if (a.everywhere() || b.everywhere()) return {};
  ConfigScope s = a;
  s.any.insert(s.any.end(), b.any.begin(), b.any.end());
  return s;
}
// Runs of these weight quantizers.
ConfigScope for_methods(std::vector<std::string> methods) { return when("quant.method", std::move(methods)); }
ConfigScope for_method(const std::string& method) { return for_methods({method}); }
// Runs of every weight quantizer but fp.
ConfigScope quantized() {
  std::vector<std::string> names;
  for (const auto& n : names_of(quantizer_names()))
    if (n != "fp") names.push_back(n);
  return for_methods(names);
}
// Runs of these activation quantizers.
ConfigScope for_act_methods(std::vector<std::string> methods) {
  return when("quant.act.method", std::move(methods));
}
ConfigScope for_act_method(const std::string& method) { return for_act_methods({method}); }
// Runs that read a dataset from files (every dataset but synthetic).
ConfigScope file_data() {
  std::vector<std::string> names;
  for (const auto& n : names_of(dataset_names()))
    if (n != "synthetic") names.push_back(n);
  return when("data.name", names);
}

// ---- roles (keys.def's sixth column; ConfigField::role, format1, hashed_value, scope) ----

struct Identity {
  ConfigScope scope;
  explicit Identity(ConfigScope where = {}) : scope(std::move(where)) {}
  ConfigField apply(ConfigField f) const {
    f.scope = scope;
    return f;
  }
};
struct Observation {
  json frozen;
  ConfigScope scope;
  explicit Observation(json v, ConfigScope where = {}) : frozen(std::move(v)), scope(std::move(where)) {}
  ConfigField apply(ConfigField f) const {
    f.role = KeyRole::kObservation;
    f.hashed_value = frozen;
    f.scope = scope;
    return f;
  }
};
// A key added after format 1: hashed only where its scope holds, so the scope never changes.
template <KeyRole kRole>
struct Added {
  json neutral;
  ConfigScope scope;
  explicit Added(json v, ConfigScope where = {}) : neutral(std::move(v)), scope(std::move(where)) {}
  ConfigField apply(ConfigField f) const {
    f.role = kRole;
    f.format1 = false;
    f.hashed_value = neutral;
    f.scope = scope;
    return f;
  }
};
using AddedIdentity = Added<KeyRole::kIdentity>;
using AddedObservation = Added<KeyRole::kObservation>;

std::vector<ConfigField> expand_declarations() {
#define LOWBIT_KEY_ROW(access, path, kind, role, doc) \
  role.apply(kind.field(path, doc, [](RunConfig& c) -> auto& { return access; })),
#define LOWBIT_RUN_KEY(m, type, def, path, kind, role, doc) LOWBIT_KEY_ROW(c.m, path, kind, role, doc)
#define LOWBIT_DATA_KEY(m, type, def, path, kind, role, doc) LOWBIT_KEY_ROW(c.data.m, path, kind, role, doc)
#define LOWBIT_OPTIM_KEY(m, type, def, path, kind, role, doc) LOWBIT_KEY_ROW(c.optim.m, path, kind, role, doc)
#define LOWBIT_QUANT_KEY(m, type, def, path, kind, role, doc) LOWBIT_KEY_ROW(c.quant.m, path, kind, role, doc)
#define LOWBIT_HEALTH_KEY(m, type, def, path, kind, role, doc) LOWBIT_KEY_ROW(c.health.m, path, kind, role, doc)
#define LOWBIT_DIAG_KEY(m, type, def, path, kind, role, doc) LOWBIT_KEY_ROW(c.diag.m, path, kind, role, doc)
  return {
#include "core/config/keys.def"
  };
#undef LOWBIT_KEY_ROW
}

}  // namespace

std::string describe_json(const json& v) {
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

const std::vector<ConfigField>& config_fields() {
  static const std::vector<ConfigField> fields = expand_declarations();
  return fields;
}

bool ConfigScope::holds(const RunConfig& cfg) const {
  if (everywhere()) return true;
  auto value_of = [&](const std::string& key) {
    if (const ConfigField* f = find_field(key)) return config_value_text(f->get(cfg));
    throw std::logic_error("scope names no key '" + key + "'");  // keys.def is wrong
  };
  for (const auto& all : any) {
    bool ok = true;
    for (const auto& t : all) {
      const std::string v = value_of(t.key);
      ok = ok && std::find(t.values.begin(), t.values.end(), v) != t.values.end();
    }
    if (ok) return true;
  }
  return false;
}

std::string ConfigScope::text() const {
  std::vector<std::string> alternatives;
  for (const auto& all : any) {
    std::vector<std::string> terms;
    for (const auto& t : all)
      terms.push_back(t.values.size() == 1 ? fmt::format("{} = {}", t.key, t.values[0])
                                           : fmt::format("{} in {{{}}}", t.key, join(t.values, ", ")));
    alternatives.push_back(join(terms, " and "));
  }
  return join(alternatives, any.size() > 1 ? "; or " : "");
}

std::vector<std::string> config_paths() {
  std::vector<std::string> out;
  for (const auto& f : config_fields()) out.push_back(f.path);
  return out;
}

std::string config_markdown() {
  std::string out =
      "| key | type | default | role | applies to | meaning |\n| --- | --- | --- | --- | --- | --- |\n";
  RunConfig defaults;
  for (const auto& f : config_fields())
    out += fmt::format("| `{}` | {} | `{}` | {} | {} | {} |\n", f.path, f.type, f.get(defaults).dump(),
                       f.role == KeyRole::kIdentity ? "identity" : "observation",
                       f.scope.everywhere() ? "every run" : f.scope.text(), f.doc);
  return out;
}

}  // namespace lowbit
