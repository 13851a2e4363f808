#include "core/config/claims.h"

#include <algorithm>
#include <functional>
#include <set>

#include <fmt/format.h>

#include "core/error.h"
#include "core/util.h"

namespace lowbit {

using nlohmann::json;

const char* claim_kind_name(ClaimKind k) {
  switch (k) {
    case ClaimKind::kGreater: return "greater";
    case ClaimKind::kNoninferior: return "noninferior";
    case ClaimKind::kEquivalent: return "equivalent";
  }
  return "";
}

std::vector<std::string> claim_kind_names() { return {"greater", "noninferior", "equivalent"}; }

std::string ClaimSpec::where(size_t index) const {
  return fmt::format("claims[{}]{}", index, name.empty() ? "" : " (" + name + ")");
}

namespace {

const std::vector<std::string> kFields = {"name", "a", "b", "metric", "kind", "margin", "source", "prior_sd"};

ClaimCell parse_cell(const std::string& text, const std::function<void(const std::string&)>& fail) {
  ClaimCell c;
  c.text = text;
  auto parts = split(text, ':');
  if (text.empty() || parts.empty() || parts[0].empty())
    fail("expected a cell \"variant[:key=value...]\", got \"" + text + "\"");
  c.variant = parts[0];
  for (size_t i = 1; i < parts.size(); ++i) {
    auto eq = parts[i].find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == parts[i].size())
      fail("expected key=value after the variant, got \"" + parts[i] + "\" in \"" + text + "\"");
    c.filters.emplace_back(parts[i].substr(0, eq), parts[i].substr(eq + 1));
  }
  return c;
}

std::string text_field(const json& j, const std::string& key,
                       const std::function<void(const std::string&)>& fail, bool required) {
  if (!j.contains(key)) {
    if (required) fail("missing (" + key + " is required)");
    return "";
  }
  if (!j[key].is_string() || j[key].get<std::string>().empty())
    fail("expected a non-empty string, got " + truncate_for_message(j[key].dump()));
  return j[key];
}

std::optional<double> positive_field(const json& j, const std::string& key,
                                     const std::function<void(const std::string&)>& fail) {
  if (!j.contains(key) || j[key].is_null()) return std::nullopt;
  if (!j[key].is_number() || !(j[key].get<double>() > 0))
    fail("expected a number > 0 (in the metric's table units), got " + truncate_for_message(j[key].dump()));
  return j[key].get<double>();
}

ClaimSpec parse_one(const json& j, size_t i, const std::string& source) {
  ClaimSpec c;
  if (j.is_object() && j.contains("name") && j["name"].is_string()) c.name = j["name"];
  const std::string where = source + ": " + c.where(i);
  if (!j.is_object())
    throw ConfigError(where + ": expected an object {" + join(kFields, ", ") + "}");
  for (auto& [k, v] : j.items())
    if (std::find(kFields.begin(), kFields.end(), k) == kFields.end())
      throw ConfigError(where + ": unknown field '" + k + "'" + did_you_mean(k, kFields) + " (" +
                        join(kFields, ", ") + ")");
  auto field = [&](const std::string& key) {
    return [where, key](const std::string& msg) { throw ConfigError(where + ": " + key + ": " + msg); };
  };
  c.name = text_field(j, "name", field("name"), true);
  c.a = parse_cell(text_field(j, "a", field("a"), true), field("a"));
  c.b = parse_cell(text_field(j, "b", field("b"), true), field("b"));
  if (j.contains("metric")) c.metric = text_field(j, "metric", field("metric"), true);
  const std::string kind = text_field(j, "kind", field("kind"), true);
  const auto kinds = claim_kind_names();
  auto it = std::find(kinds.begin(), kinds.end(), kind);
  if (it == kinds.end())
    field("kind")("unknown kind '" + kind + "'" + did_you_mean(kind, kinds) + " (" + join(kinds, ", ") + ")");
  c.kind = ClaimKind(it - kinds.begin());
  c.margin = positive_field(j, "margin", field("margin"));
  if (c.kind != ClaimKind::kGreater && !c.margin)
    field("margin")(std::string("required for ") + claim_kind_name(c.kind) +
                    ": the largest difference that still counts as " +
                    (c.kind == ClaimKind::kEquivalent ? "equal" : "not worse") + ", in the metric's table units");
  c.source = text_field(j, "source", field("source"), true);
  c.prior_sd = positive_field(j, "prior_sd", field("prior_sd"));
  if (c.a.text == c.b.text) field("b")("names the same cell as a (\"" + c.a.text + "\")");
  return c;
}

}  // namespace

std::vector<ClaimSpec> parse_claims(const json& claims, const std::string& source) {
  if (!claims.is_array())
    throw ConfigError(source + ": claims: expected a list of {" + join(kFields, ", ") + "}, got " +
                      truncate_for_message(claims.dump()));
  std::vector<ClaimSpec> out;
  std::set<std::string> names;
  for (size_t i = 0; i < claims.size(); ++i) {
    out.push_back(parse_one(claims[i], i, source));
    if (!names.insert(out.back().name).second)
      throw ConfigError(source + ": " + out.back().where(i) + ": name: '" + out.back().name +
                        "' names an earlier claim too (names must be unique)");
  }
  return out;
}

}  // namespace lowbit
