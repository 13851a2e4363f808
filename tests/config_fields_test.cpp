// The config structs and the field table are one list: one row per member.
#include <doctest/doctest.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "core/config/member_count.h"
#include "core/config/run_config.h"

using namespace lowbit;

namespace {
size_t rows_with_prefix(const std::string& prefix) {
  size_t n = 0;
  for (auto& f : config_fields()) n += f.path.rfind(prefix, 0) == 0;
  return n;
}
struct Probe {
  std::string s;
  nlohmann::json j = 1;
  std::vector<int64_t> v;
  bool b = false;
  double d = 0;
};
}  // namespace

TEST_CASE("config: every member of every config struct has exactly one row in the field table") {
  CHECK(count_members<Probe>() == 5);  // the counter itself, on every kind of member type
  const size_t data = rows_with_prefix("data."), optim = rows_with_prefix("optim."),
               quant = rows_with_prefix("quant."), health = rows_with_prefix("health."),
               diag = rows_with_prefix("diag.");
  CHECK(data == count_members<DataConfig>());
  CHECK(optim == count_members<OptimConfig>());
  CHECK(quant == count_members<QuantConfig>());
  CHECK(health == count_members<HealthConfig>());
  CHECK(diag == count_members<DiagConfig>());
  // RunConfig: its own scalar members, plus the five sub-structs.
  CHECK(config_fields().size() - data - optim - quant - health - diag + 5 ==
        count_members<RunConfig>());
}

// The header documents each member as leveldb's options.h does ("/// `key`: meaning.
// Default: value."); the text comes from the field table, and this test keeps it so.
TEST_CASE("config: run_config.h documents every member with the table's meaning and default") {
  std::ifstream in(std::string(LOWBIT_SOURCE_DIR) + "/core/config/run_config.h");
  std::string header((std::istreambuf_iterator<char>(in)), {});
  // Joined "///" comment text, one block per member.
  std::vector<std::string> blocks;
  std::string cur;
  std::istringstream lines(header);
  for (std::string line; std::getline(lines, line);) {
    auto p = line.find("/// `");
    auto q = line.find("///");
    if (p != std::string::npos && line.find_first_not_of(' ') == p) {
      if (!cur.empty()) blocks.push_back(cur);
      cur = line.substr(p + 4);
    } else if (!cur.empty() && q != std::string::npos && line.find_first_not_of(' ') == q) {
      cur += " " + line.substr(q + 4);
    } else if (!cur.empty()) {
      blocks.push_back(cur), cur.clear();
    }
  }
  RunConfig defaults;
  size_t checked = 0;
  for (auto& f : config_fields()) {
    std::string expected =
        "`" + f.path + "`: " + f.doc + " Default: " + f.get(defaults).dump() + ".";
    CHECK_MESSAGE(std::find(blocks.begin(), blocks.end(), expected) != blocks.end(),
                  "core/config/run_config.h lacks: /// " << expected);
    ++checked;
  }
  CHECK(checked == config_fields().size());
}
