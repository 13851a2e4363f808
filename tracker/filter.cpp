// The filter language (tracker/filter.h): a tokenizer, a recursive-descent parser that writes
// SQL as it goes, and the names a condition can use.
#include "tracker/filter.h"

#include <algorithm>
#include <cctype>
#include <cmath>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/config/run_config.h"
#include "core/error.h"
#include "core/run_status.h"
#include "core/train/keys.h"
#include "core/util.h"
#include "tracker/sqlite.h"

namespace lowbit {
namespace {

using nlohmann::json;

std::string sql_text(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

// A JSON value as the run_config table stores it (tracker/store.cpp, typed_config).
std::string sql_literal(const json& v) {
  if (v.is_null()) return "NULL";
  if (v.is_boolean()) return v.get<bool>() ? "1" : "0";
  if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
  if (v.is_number()) return fmt::format("{:.17g}", v.get<double>());
  if (v.is_string()) return sql_text(v.get<std::string>());
  return sql_text(v.dump());
}

std::string stored_value_sql(const std::string& key, const std::string& run_id) {
  return fmt::format("(SELECT value FROM run_config WHERE run_id = {} AND key = {})", run_id, sql_text(key));
}

// The scope as a condition on the run's stored values: the scope's keys are format-1 keys of
// names, which every run stores.
std::string scope_sql(const ConfigScope& scope, const std::string& run_id) {
  if (scope.everywhere()) return "1";
  std::vector<std::string> any;
  for (const auto& all : scope.any) {
    std::vector<std::string> terms;
    for (const auto& t : all) {
      std::vector<std::string> values;
      for (const auto& v : t.values) values.push_back(sql_text(v));
      terms.push_back(fmt::format("{} IN ({})", stored_value_sql(t.key, run_id), join(values, ", ")));
    }
    any.push_back("(" + join(terms, " AND ") + ")");
  }
  return "(" + join(any, " OR ") + ")";
}

std::string raw_value_sql(const ConfigField& f, const std::string& run_id) {
  if (f.format1) return stored_value_sql(f.path, run_id);
  return fmt::format("IFNULL({}, {})", stored_value_sql(f.path, run_id), sql_literal(f.hashed_value));
}

// A key by its dotted path, or by its run_params column name (dots as underscores).
const ConfigField* find_config_field(const std::string& name) {
  if (const ConfigField* f = find_field(name)) return f;
  for (const auto& f : config_fields()) {
    std::string column = f.path;
    std::replace(column.begin(), column.end(), '.', '_');
    if (column == name) return &f;
  }
  return nullptr;
}

// ---- tokens ----

struct Token {
  enum Kind { kWord, kString, kOp, kOpen, kClose, kComma, kEnd } kind = kEnd;
  std::string text;
  size_t at = 0;
};

bool word_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || std::string_view("_.:@/+-*").find(c) != std::string_view::npos;
}

std::vector<Token> tokenize(const std::string& s, const std::string& where) {
  std::vector<Token> out;
  size_t i = 0;
  while (i < s.size()) {
    const char c = s[i];
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
      continue;
    }
    Token t;
    t.at = i;
    if (c == '(' || c == ')' || c == ',') {
      t.kind = c == '(' ? Token::kOpen : c == ')' ? Token::kClose : Token::kComma;
      t.text = std::string(1, c);
      ++i;
    } else if (c == '\'' || c == '"') {
      t.kind = Token::kString;
      size_t j = i + 1;
      for (;; ++j) {
        if (j >= s.size())
          throw ConfigError(fmt::format("--where \"{}\": the quote at character {} is never closed",
                                        truncate_for_message(where), i + 1));
        if (s[j] == c && j + 1 < s.size() && s[j + 1] == c) {
          t.text += c, ++j;  // a doubled quote is one quote
        } else if (s[j] == c) {
          break;
        } else {
          t.text += s[j];
        }
      }
      i = j + 1;
    } else if (std::string_view("=!<>").find(c) != std::string_view::npos) {
      t.kind = Token::kOp;
      size_t j = i + 1;
      while (j < s.size() && std::string_view("=!<>").find(s[j]) != std::string_view::npos) ++j;
      t.text = s.substr(i, j - i);
      if (t.text == "==") t.text = "=";
      if (t.text == "<>") t.text = "!=";
      if (t.text != "=" && t.text != "!=" && t.text != "<" && t.text != "<=" && t.text != ">" && t.text != ">=")
        throw ConfigError(fmt::format("--where \"{}\": unknown operator '{}' (operators: = != < <= > >= in, not in)",
                                      truncate_for_message(where), t.text));
      i = j;
    } else if (word_char(c)) {
      t.kind = Token::kWord;
      size_t j = i;
      while (j < s.size() && word_char(s[j])) ++j;
      t.text = s.substr(i, j - i);
      i = j;
    } else {
      throw ConfigError(fmt::format("--where \"{}\": unexpected '{}' at character {} (quote values "
                                    "that hold it: variant = 'a b')",
                                    truncate_for_message(where), c, i + 1));
    }
    out.push_back(t);
  }
  Token end;
  end.at = s.size();
  out.push_back(end);
  return out;
}

std::string lower(std::string s) {
  for (auto& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// ---- names ----

// What a name of the language reads.
struct Subject {
  enum Kind { kConfig, kSummary, kText, kInt, kHash, kTag } kind = kText;
  std::string name;   ///< as the errors name it
  std::string value;  ///< SQL of the value (not for kTag)
  const ConfigField* field = nullptr;
  std::vector<std::string> known;  ///< kText: the values there are, for did-you-mean
};

std::vector<std::string> distinct_texts(Db& db, const std::string& sql) {
  std::vector<std::string> out;
  auto st = db.prepare(sql);
  while (st.step()) out.push_back(st.get_text(0));
  return out;
}

class Parser {
 public:
  Parser(Db& db, std::string text) : db_(db), text_(std::move(text)), tokens_(tokenize(text_, text_)) {}

  std::string parse() {
    if (tokens_.size() == 2 && tokens_[0].kind == Token::kWord && lower(tokens_[0].text) == "all") return "1 = 1";
    if (peek().kind == Token::kEnd) fail(peek(), "the condition is empty (every run: --where all)");
    std::string sql = parse_or();
    if (peek().kind != Token::kEnd) fail(peek(), "expected and, or or the end of the condition");
    return sql;
  }

 private:
  const Token& peek() const { return tokens_[pos_]; }
  const Token& next() { return tokens_[pos_ == tokens_.size() - 1 ? pos_ : pos_++]; }
  bool keyword(const char* k) const { return peek().kind == Token::kWord && lower(peek().text) == k; }

  [[noreturn]] void fail(const Token& at, const std::string& what) const {
    const std::string near = at.kind == Token::kEnd ? "at the end" : fmt::format("at '{}'", at.text);
    throw ConfigError(fmt::format("--where \"{}\": {}: {}", truncate_for_message(text_), near, what));
  }

  std::string parse_or() {
    std::string sql = parse_and();
    while (keyword("or")) next(), sql = "(" + sql + " OR " + parse_and() + ")";
    return sql;
  }
  std::string parse_and() {
    std::string sql = parse_unary();
    while (keyword("and")) next(), sql = "(" + sql + " AND " + parse_unary() + ")";
    return sql;
  }
  std::string parse_unary() {
    if (keyword("not")) {
      next();
      return "(NOT " + parse_unary() + ")";
    }
    if (peek().kind == Token::kOpen) {
      next();
      std::string sql = parse_or();
      if (peek().kind != Token::kClose) fail(peek(), "expected ')'");
      next();
      return "(" + sql + ")";
    }
    return parse_comparison();
  }

  std::string parse_comparison() {
    const Token name = next();
    if (name.kind != Token::kWord) fail(name, "expected a name (a config key, variant, seed, status, tag, ...)");
    const Subject s = subject(name);
    std::string op;
    if (keyword("in")) {
      next(), op = "in";
    } else if (keyword("not")) {
      next();
      if (!keyword("in")) fail(peek(), "expected 'in' after 'not'");
      next(), op = "not in";
    } else if (peek().kind == Token::kOp) {
      op = next().text;
    } else {
      fail(peek(), fmt::format("expected an operator after '{}' (= != < <= > >= in)", name.text));
    }
    std::vector<Token> values;
    if (op == "in" || op == "not in") {
      if (peek().kind != Token::kOpen) fail(peek(), "expected '(' and a list of values after in");
      next();
      for (;;) {
        values.push_back(value_token());
        if (peek().kind == Token::kComma) {
          next();
          continue;
        }
        if (peek().kind != Token::kClose) fail(peek(), "expected ',' or ')' in the list");
        next();
        break;
      }
    } else {
      values.push_back(value_token());
    }
    return comparison(s, op, values);
  }

  Token value_token() {
    const Token t = next();
    if (t.kind != Token::kWord && t.kind != Token::kString) fail(t, "expected a value");
    return t;
  }

  Subject subject(const Token& name) {
    Subject s;
    s.name = name.text;
    const std::string n = name.text;
    if (n == "run" || n == "run_id" || n == "id") {
      s.kind = Subject::kInt, s.value = "r.id";
    } else if (n == "seed") {
      s.kind = Subject::kInt, s.value = "r.seed";
    } else if (n == "variant") {
      s.value = "r.variant", s.known = distinct_texts(db_, "SELECT DISTINCT variant FROM runs ORDER BY 1");
    } else if (n == "experiment") {
      s.value = "e.name", s.known = distinct_texts(db_, "SELECT name FROM experiments ORDER BY 1");
    } else if (n == "status") {
      s.value = "r.status";
      for (auto st : all_run_statuses()) s.known.push_back(to_string(st));
    } else if (n == "hash") {
      s.kind = Subject::kHash;
    } else if (n == "tag") {
      if (!db_.has_table("tags")) fail(name, "this database has no tags yet (lowbit tag adds them)");
      s.kind = Subject::kTag, s.known = distinct_texts(db_, "SELECT DISTINCT tag FROM tags ORDER BY 1");
    } else if (const ConfigField* f = find_config_field(n)) {
      s.kind = Subject::kConfig, s.field = f, s.name = f->path, s.value = raw_value_sql(*f, "r.id");
    } else if (find_output_key(n, KeyScope::kRun) && n.back() != '*') {
      s.kind = Subject::kSummary;
      s.value = fmt::format("(SELECT value FROM summaries WHERE run_id = r.id AND key = {})", sql_text(n));
    } else {
      std::vector<std::string> names = {"run", "seed", "variant", "experiment", "status", "hash", "tag"};
      for (const auto& p : config_paths()) names.push_back(p);
      for (const auto& k : output_keys())
        if (k.scope == KeyScope::kRun) names.push_back(k.name);
      if (std::isdigit(static_cast<unsigned char>(n[0])))
        fail(name, "a condition starts with a name, e.g. seed < 3 (every run: --where all)");
      fail(name, fmt::format("unknown name '{}'{} (names: config keys as lowbit list keys prints them, "
                             "run, seed, variant, experiment, status, hash, tag, and run summaries such as "
                             "final_test_acc)",
                             n, did_you_mean(n, names)));
    }
    return s;
  }

  // A value token as JSON: a quoted string stays a string; a bare word is JSON when it parses
  // (2, 0.05, true, null), else a string.
  static json token_json(const Token& t) {
    if (t.kind == Token::kString) return t.text;
    json j = json::parse(t.text, nullptr, false);
    if (!j.is_discarded() && (j.is_number() || j.is_boolean() || j.is_null())) return j;
    return t.text;
  }

  // The config value as the key's own parser reads it: a wrong type or an unknown choice is
  // the key's error, with its did-you-mean.
  json config_value(const Subject& s, const Token& t, bool ordered) {
    json v = token_json(t);
    if (v.is_null()) return v;
    RunConfig scratch;
    try {
      s.field->set(scratch, v);
    } catch (const ConfigError& e) {
      if (!(ordered && v.is_number())) fail(t, e.what());
    }
    return v;
  }

  void check_known(const Subject& s, const Token& t) {
    if (std::find(s.known.begin(), s.known.end(), t.text) != s.known.end()) return;
    const std::string listed = s.known.size() <= 12 ? " (" + join(s.known, ", ") + ")" : "";
    fail(t, fmt::format("no run has {} '{}'{}{}", s.name, t.text, did_you_mean(t.text, s.known), listed));
  }

  std::string comparison(const Subject& s, const std::string& op, const std::vector<Token>& values) {
    const bool ordered = op == "<" || op == "<=" || op == ">" || op == ">=";
    const bool positive = op == "=" || op == "in";
    const std::string sql_op = op == "in" ? "IN" : op == "not in" ? "NOT IN" : op;
    if (s.kind == Subject::kTag) {
      if (ordered) fail(values[0], "tag takes = != in, not in");
      std::vector<std::string> tags;
      for (const auto& t : values) {
        if (positive) check_known(s, t);
        tags.push_back(sql_text(t.text));
      }
      const std::string has = fmt::format("EXISTS (SELECT 1 FROM tags WHERE run_id = r.id AND tag IN ({}))",
                                          join(tags, ", "));
      return positive ? has : "(NOT " + has + ")";
    }
    if (s.kind == Subject::kHash) {
      if (ordered || values.size() != 1) fail(values[0], "hash takes = or != and one prefix");
      const std::string like = fmt::format("r.config_hash LIKE {}", sql_text(values[0].text + "%"));
      return positive ? like : "(NOT " + like + ")";
    }
    std::vector<std::string> literals;
    for (const auto& t : values) {
      if (s.kind == Subject::kConfig) {
        const json v = config_value(s, t, ordered);
        if (v.is_null() && op != "=" && op != "!=") fail(t, "null takes = or != only");
        if (ordered && !v.is_number()) fail(t, fmt::format("{} compares numbers; {} is not one", op, s.name));
        literals.push_back(sql_literal(v));
      } else if (s.kind == Subject::kText) {
        if (ordered) fail(t, fmt::format("{} takes = != in, not in", s.name));
        if (positive) check_known(s, t);
        literals.push_back(sql_text(t.text));
      } else {  // numbers: run, seed, summaries
        const json v = token_json(t);
        if (!v.is_number()) fail(t, fmt::format("{} is a number; '{}' is not one", s.name, t.text));
        literals.push_back(sql_literal(v));
      }
    }
    std::string cond;
    if (literals.size() > 1 || op == "in" || op == "not in")
      cond = fmt::format("{} {} ({})", s.value, sql_op, join(literals, ", "));
    else if (literals[0] == "NULL")
      cond = fmt::format("{} {} NULL", s.value, op == "=" ? "IS" : "IS NOT");
    else
      cond = fmt::format("{} {} {}", s.value, sql_op, literals[0]);
    // Absent (outside the key's scope, or a summary never recorded): every comparison false.
    if (s.kind == Subject::kConfig && !s.field->scope.everywhere())
      cond = fmt::format("({} AND {})", scope_sql(s.field->scope, "r.id"), cond);
    else if (s.kind == Subject::kSummary)
      cond = fmt::format("({} IS NOT NULL AND {})", s.value, cond);
    return "(" + cond + ")";
  }

  Db& db_;
  std::string text_;
  std::vector<Token> tokens_;
  size_t pos_ = 0;
};

}  // namespace

std::string config_column_sql(const ConfigField& f, const std::string& run_id) {
  const std::string raw = raw_value_sql(f, run_id);
  if (f.scope.everywhere()) return raw;
  return fmt::format("CASE WHEN {} THEN {} END", scope_sql(f.scope, run_id), raw);
}

RunFilter compile_run_filter(Db& db, const std::vector<std::string>& conditions) {
  RunFilter out;
  std::vector<std::string> texts, sqls;
  for (const auto& c : conditions) {
    texts.push_back(conditions.size() > 1 ? "(" + c + ")" : c);
    sqls.push_back(Parser(db, c).parse());
  }
  out.text = join(texts, " and ");
  out.sql = sqls.empty() ? "1 = 1" : join(sqls, " AND ");
  return out;
}

std::vector<int64_t> filtered_runs(Db& db, const RunFilter& filter) {
  auto st = db.prepare("SELECT r.id FROM runs r JOIN experiments e ON e.id = r.experiment_id WHERE " +
                       filter.sql + " ORDER BY r.id");
  std::vector<int64_t> out;
  while (st.step()) out.push_back(st.get_int(0));
  return out;
}

}  // namespace lowbit
