// lowbit query: runs with their config keys and results, or one read-only SQL statement.
#include <iostream>

#include "apps/cli.h"
#include "apps/commands.h"
#include "core/error.h"
#include "tracker/queries.h"

namespace lowbit {

int cmd_query(const std::vector<std::string>& args) {
  po::options_description desc("options");
  std::string db, experiment, format, sql, what;
  std::vector<std::string> where;
  desc.add_options()("what", po::value(&what), "runs")(
      "db", po::value(&db)->default_value("results/results.db"),
      "results database (opened read-only)")("experiment,e", po::value(&experiment),
                                             "only this experiment")(
      "where", po::value(&where)->composing(),
      "a condition, e.g. \"quant.method in (ttq, slb) and quant.bits <= 2\" (docs/QUERY.md; repeatable: all must hold)")(
      "format,f", po::value(&format)->default_value("table"), "table, csv or json")(
      "sql", po::value(&sql), "run one read-only SQL statement");
  po::positional_options_description pos;
  pos.add("what", 1);
  po::variables_map vm;
  if (!parse_args("query", args, desc, vm, &pos,
                  "runs [--experiment X] [--where COND ...] | --sql \"SELECT ...\""))
    return kExitSuccess;
  if (sql.empty() && what != "runs")
    throw ConfigError("lowbit query: expected `runs` or --sql \"SELECT ...\"");
  auto conn = open_readonly(db);
  Table t = sql.empty() ? query_runs(*conn, experiment, where) : run_sql(*conn, sql);
  std::cout << format_table(t, format);
  return kExitSuccess;
}

}  // namespace lowbit
