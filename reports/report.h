// `lowbit report`: the paper's tables and curves for one experiment, from the database only.
// Writes into out_dir: report.md (tables inline, plots linked, provenance footer),
// <table>.csv / .tex / .md for each table, and the plots as SVG and PNG.
#pragma once
#include "lowbit_room.h"  // the build refuses this header in rooms below reports/
#ifndef LOWBIT_MAY_INCLUDE_REPORTS
#error "this room may not include reports/ (docs/ARCHITECTURE.md: rooms)"
#endif
#include <string>
#include <vector>

namespace lowbit {

struct ReportOptions {
  std::string db = "results/results.db";
  std::string experiment;
  std::string out_dir;            ///< default results/<experiment>
  std::vector<std::string> rows;  ///< grouping keys; default variant + the experiment's axes
  std::vector<std::string> cols;  ///< keys whose values become columns; default none
  std::string metric = "test_acc:final";
  std::vector<std::string> formats = {"md", "csv", "tex", "html"};
  double ci = 0;              ///< e.g. 95: Student-t CI instead of the std
  bool interval = false;      ///< with ci: the std and the CI as [low, high]
  std::string baseline;       ///< variant for Welch's t-test
  std::string table = "all";  ///< comma-separated names from report_tables(), or all
  bool plots = true;
  /// Include the runs outside the experiment's current definition (runs.in_definition = 0),
  /// their variant marked; by default a footnote lists them.
  bool all_runs = false;
  /// Only the runs that satisfy these conditions (tracker/filter.h; all must hold): a report of
  /// a subset, which its summary line names.
  std::vector<std::string> where;
  /// The process exits right after the report (lowbit report): the experiment's parsed data is
  /// left for the exit to reclaim instead of being freed run by run, which at 100,000 runs took
  /// a quarter of the report's time. lowbit suite, which writes many reports, keeps false.
  bool exiting_after = false;
};

struct ReportResult {
  std::string report_md;
  std::vector<std::string> files;
  std::vector<std::string> warnings;
};

/// Throws StoreError/ConfigError (exit 2) for a missing experiment or metric (listing the
/// valid ones), an experiment with no finished run, or an output directory that cannot be written.
ReportResult write_report(const ReportOptions& opt);

}  // namespace lowbit
