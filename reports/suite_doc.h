// The documents of a suite (lowbit suite): an index of its experiments' reports, and the
// results document (docs/RESULTS.md) that answers each question with its command, its tables
// (mean ± std (n) [95% CI]), one plot (and, for SLB questions, the scheduled temperature) and
// the commentary written beside its config.
// Both read only the database and the reports just written.
#pragma once
#include "lowbit_room.h"  // the build refuses this header in rooms below reports/
#ifndef LOWBIT_MAY_INCLUDE_REPORTS
#error "this room may not include reports/ (docs/ARCHITECTURE.md: rooms)"
#endif
#include <string>
#include <vector>

#include "reports/report.h"

namespace lowbit {

/// One experiment of a suite and what its report wrote.
struct SuiteEntry {
  std::string name, description;
  std::string config;      ///< the definition's path, e.g. configs/suite/bop.json
  std::string notes;       ///< commentary for RESULTS.md: <config without .json>.md ("" if none)
  std::string plot;        ///< the plots RESULTS.md shows (report_plots() names, comma-separated)
  ReportOptions report;    ///< how its report was written
  ReportResult written;    ///< what it wrote (empty when the report failed)
  std::string report_error;  ///< why there is no report (e.g. no finished run yet)
};

/// out_dir/index.md and index.html: per experiment its question, runs by status, and links
/// to report.md and report.html. Returns the files written.
std::vector<std::string> write_suite_index(const std::string& db, const std::vector<SuiteEntry>& entries,
                                           const std::string& out_dir, const std::string& command);

/// The results document at `path`: a header with the command, database and commit; per
/// experiment its question, the commands, its tables, one plot (copied as SVG to
/// <dir of path>/results/<experiment>-<plot>.svg) and the commentary from entry.notes.
std::vector<std::string> write_results_doc(const std::string& db, const std::vector<SuiteEntry>& entries,
                                           const std::string& path, const std::string& command);

}  // namespace lowbit
