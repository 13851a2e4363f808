// The commentary of a results document may interpret its numbers, not bring its own: every
// number with a decimal point in a question's commentary (configs/suite/*.md) must appear, as
// printed, in that question's tables or claims. A number in a `code span` is a setting (a
// config value such as `1e-4` or `0.9`), not a measurement, and is not checked; integers
// (bits, epochs, seeds, layer names) are not checked either.
#pragma once
#include "lowbit_room.h"  // the build refuses this header in rooms below reports/
#ifndef LOWBIT_MAY_INCLUDE_REPORTS
#error "this room may not include reports/ (docs/ARCHITECTURE.md: rooms)"
#endif
#include <string>
#include <vector>

namespace lowbit {

struct UnsupportedNumber {
  int line = 0;        ///< 1-based, in the commentary
  std::string number;  ///< as written
};

/// The numbers of `commentary` that `evidence` (the question's tables and claims, as
/// markdown) does not print.
std::vector<UnsupportedNumber> unsupported_numbers(const std::string& commentary, const std::string& evidence);

/// The decimal numbers of `text` outside code spans, with their lines.
std::vector<UnsupportedNumber> decimal_numbers(const std::string& text);

/// The one-line refusal: "<file>:<line>: <number> is in no table or claim of <question> ...",
/// with how many more there are. "" when `problems` is empty.
std::string commentary_error(const std::string& file, const std::string& question,
                             const std::vector<UnsupportedNumber>& problems);

}  // namespace lowbit
