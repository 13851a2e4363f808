// The commentary of the results document quotes only numbers its question's tables and claims
// print; the committed docs/RESULTS.md is checked here, as lowbit suite checks before writing it.
#include <doctest/doctest.h>

#include <regex>

#include "core/util.h"
#include "reports/commentary_check.h"
#include "tests/test_util.h"

using namespace lowbit;

TEST_CASE("commentary: decimal numbers outside code spans, with their lines") {
  auto n = decimal_numbers("SLB 81.76 ± 0.82%, t `0.05` and 1e-4,\n4 bits, 93,728 weights, v1.2.3 and 7.95.");
  REQUIRE(n.size() == 3);
  CHECK(n[0].number == "81.76");
  CHECK(n[1].number == "0.82");
  CHECK(n[2].number == "7.95");  // the sentence's full stop is not part of it
  CHECK(n[2].line == 2);
}

TEST_CASE("commentary: a number no table prints is refused, naming the file, line and number") {
  const std::string tables = "| slb | 81.76 ± 0.82 (3) |\n| fp | 82.16 ± 0.50 (3) |\n";
  CHECK(unsupported_numbers("SLB ends at 81.76 ± 0.82% against 82.16 ± 0.50%.", tables).empty());
  auto bad = unsupported_numbers("SLB ends at 81.8 ± 0.8%,\nwithin 0.40 of full precision.", tables);
  REQUIRE(bad.size() == 3);
  CHECK(commentary_error("configs/suite/x.md", "x", bad) ==
        "configs/suite/x.md:1: 81.8 is in no table or claim of x, and 2 more number(s) are not either "
        "(quote numbers as the tables print them, write a setting as `code`, or state the comparison as "
        "a claim in the definition: docs/CLAIMS.md)");
  CHECK(commentary_error("f", "x", {}).empty());
}

TEST_CASE("commentary: every question of the committed docs/RESULTS.md quotes only its own tables") {
  const std::string doc = read_file(std::string(LOWBIT_SOURCE_DIR) + "/docs/RESULTS.md");
  const std::regex heading(R"(\n## \d+\. ([a-z_]+)\n)");
  std::vector<std::pair<std::string, size_t>> starts;
  for (std::sregex_iterator it(doc.begin(), doc.end(), heading), end; it != end; ++it)
    starts.push_back({(*it)[1], size_t(it->position())});
  REQUIRE(starts.size() >= 10);
  for (size_t i = 0; i < starts.size(); ++i) {
    const size_t end = i + 1 < starts.size() ? starts[i + 1].second : doc.size();
    const std::string section = doc.substr(starts[i].second, end - starts[i].second);
    const size_t at = section.find("**What the numbers say.**");
    REQUIRE_MESSAGE(at != std::string::npos, starts[i].first);
    const auto bad = unsupported_numbers(section.substr(at), section.substr(0, at));
    CHECK_MESSAGE(bad.empty(), commentary_error("docs/RESULTS.md (" + starts[i].first + ")", starts[i].first, bad));
  }
}
