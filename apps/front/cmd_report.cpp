// lowbit report: tables with error bars and curves for one experiment.
#include <iostream>

#include <fmt/format.h>

#include "apps/cli.h"
#include "apps/commands.h"
#include "core/error.h"
#include "core/util.h"
#include "reports/report.h"

namespace lowbit {

int cmd_report(const std::vector<std::string>& args) {
  po::options_description desc("options");
  ReportOptions o;
  std::string rows, cols, formats = "md,csv,tex,html";
  desc.add_options()("db", po::value(&o.db)->default_value(o.db),
                     "results database (opened read-only)")(
      "experiment,e", po::value(&o.experiment)->required(), "experiment name")(
      "where", po::value(&o.where)->composing(),
      "only the runs that satisfy this condition, e.g. \"seed < 3 and tag != broken\" (docs/QUERY.md; "
      "repeatable: all must hold)")(
      "rows", po::value(&rows),
      "grouping keys, comma-separated (default: variant and the experiment's axes)")(
      "cols", po::value(&cols), "keys whose values become columns (e.g. epochs, quant.bn_mode)")(
      "metric,m", po::value(&o.metric)->default_value(o.metric), "KEY[:final|best|last-K-mean]")(
      "format,f", po::value(&formats)->default_value(formats),
      "md,csv,tex,html (report.html: one self-contained page with every table and plot)")(
      "out,o", po::value(&o.out_dir), "output directory (default results/<experiment>)")(
      "ci", po::value(&o.ci)->default_value(0),
      "show a Student-t confidence interval at this level (e.g. 95) instead of the std")(
      "interval", "with --ci: show the std and the interval [low, high] (default level 95)")(
      "baseline", po::value(&o.baseline), "variant to test every row against (Welch's t-test)")(
      "tables", po::value(&o.table),
      "tables, comma-separated: main, cost, layers, energy, or all (default)")(
      "table", po::value(&o.table), "the same as --tables")("no-plots", "tables only")(
      "all-runs",
      "also the experiment's runs outside the definition it was last launched with, in rows of "
      "their own marked '(earlier def.)'");
  po::variables_map vm;
  if (!parse_args("report", args, desc, vm, nullptr,
                  "--experiment NAME [--db results.db] [--out DIR]"))
    return kExitSuccess;
  if (o.ci != 0 && (o.ci <= 0 || o.ci >= 100))
    throw ConfigError("--ci: expected a level in (0, 100), e.g. 95");
  o.interval = vm.count("interval") > 0;
  if (o.interval && o.ci == 0) o.ci = 95;
  o.rows = split(rows, ',');
  o.cols = split(cols, ',');
  o.formats = split(formats, ',');
  o.plots = vm.count("no-plots") == 0;
  o.all_runs = vm.count("all-runs") > 0;
  o.exiting_after = true;
  ReportResult r = write_report(o);
  for (auto& w : r.warnings) fmt::print(stderr, "lowbit: warning: {}\n", w);
  fmt::print("report: {} ({} files)\n", r.report_md, r.files.size());
  return kExitSuccess;
}

}  // namespace lowbit
