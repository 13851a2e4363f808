#include "reports/commentary_check.h"

#include <cctype>
#include <set>

#include <fmt/format.h>

namespace lowbit {

namespace {

bool word_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

}  // namespace

std::vector<UnsupportedNumber> decimal_numbers(const std::string& text) {
  std::vector<UnsupportedNumber> out;
  int line = 1;
  bool code = false;
  for (size_t i = 0; i < text.size();) {
    const char c = text[i];
    if (c == '\n') ++line;
    if (c == '`') code = !code;
    const bool starts = std::isdigit(static_cast<unsigned char>(c)) &&
                        (i == 0 || (!word_char(text[i - 1]) && text[i - 1] != '.'));
    if (code || !starts) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < text.size() && (std::isdigit(static_cast<unsigned char>(text[j])) || text[j] == ',')) ++j;
    bool decimal = false;
    if (j + 1 < text.size() && text[j] == '.' && std::isdigit(static_cast<unsigned char>(text[j + 1]))) {
      decimal = true;
      for (++j; j < text.size() && std::isdigit(static_cast<unsigned char>(text[j]));) ++j;
    }
    std::string number = text.substr(i, j - i);
    while (!number.empty() && number.back() == ',') number.pop_back();  // "1, 2 and 4": a list
    // "1e-4", "0.5x", "v1.2.3": not a plain printed number.
    const bool glued = j < text.size() && (word_char(text[j]) || (text[j] == '.' && j + 1 < text.size() &&
                                                                  std::isdigit(static_cast<unsigned char>(text[j + 1]))));
    if (decimal && !glued) out.push_back({line, number});
    i = j;
  }
  return out;
}

std::vector<UnsupportedNumber> unsupported_numbers(const std::string& commentary, const std::string& evidence) {
  std::set<std::string> printed;
  for (auto& n : decimal_numbers(evidence)) printed.insert(n.number);
  std::vector<UnsupportedNumber> out;
  for (auto& n : decimal_numbers(commentary))
    if (!printed.count(n.number)) out.push_back(n);
  return out;
}

std::string commentary_error(const std::string& file, const std::string& question,
                             const std::vector<UnsupportedNumber>& problems) {
  if (problems.empty()) return "";
  return fmt::format(
      "{}:{}: {} is in no table or claim of {}{} (quote numbers as the tables print them, write a "
      "setting as `code`, or state the comparison as a claim in the definition: docs/CLAIMS.md)",
      file, problems[0].line, problems[0].number, question,
      problems.size() > 1 ? fmt::format(", and {} more number(s) are not either", problems.size() - 1) : "");
}

}  // namespace lowbit
