// lowbit diff A B: what differs between two runs or two cells (reports/diff.h).
#include <iostream>

#include "apps/cli.h"
#include "apps/commands.h"
#include "core/error.h"
#include "reports/diff.h"
#include "tracker/queries.h"

namespace lowbit {

int cmd_diff(const std::vector<std::string>& args) {
  po::options_description desc("options");
  std::string db, a, b, format;
  desc.add_options()("a", po::value(&a), "run id, config-hash prefix, or experiment:variant[:key=value]")(
      "b", po::value(&b), "the same, for the other side")(
      "db", po::value(&db)->default_value("results/results.db"), "results database")(
      "format", po::value(&format)->default_value("text"), "text or json");
  po::positional_options_description pos;
  pos.add("a", 1).add("b", 1);
  po::variables_map vm;
  if (!parse_args("diff", args, desc, vm, &pos, "A B [--db results.db] [--format text|json]"))
    return kExitSuccess;
  if (a.empty() || b.empty())
    throw ConfigError(
        "lowbit diff: expected two runs or cells to compare, got " +
        (a.empty() ? std::string("none") : "one ('" + a + "')") +
        " (e.g. lowbit diff 3 7, or lowbit diff quickstart:fp quickstart:ttq; ids: lowbit query runs)");
  if (format != "text" && format != "json")
    throw ConfigError("--format: expected text or json, got '" + format + "'");
  auto conn = open_readonly(db);
  const RunSelection side_a = resolve_selector(*conn, a);  // A's errors first
  const RunSelection side_b = resolve_selector(*conn, b);
  auto d = diff_runs(*conn, side_a, side_b);
  std::cout << (format == "json" ? d.dump(2) + "\n" : format_diff(d));
  return kExitSuccess;
}

}  // namespace lowbit
