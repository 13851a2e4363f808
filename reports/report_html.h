// report.html: the same tables, plots, notes and provenance as report.md in one
// self-contained file that opens from the file system (no server, no network): inline SVG
// plots, tables sorted by clicking a header (a few lines of inline script), the per-layer
// tables and curves in a collapsible section, and the provenance footer.
#pragma once
#include "lowbit_room.h"  // the build refuses this header in rooms below reports/
#ifndef LOWBIT_MAY_INCLUDE_REPORTS
#error "this room may not include reports/ (docs/ARCHITECTURE.md: rooms)"
#endif
#include <string>
#include <utility>
#include <vector>

#include "reports/report_registry.h"
#include "reports/table.h"

namespace lowbit {

// Section titles shared by report.md and report.html.
inline constexpr const char* kExcludedTitle = "Excluded runs";
inline constexpr const char* kExcludedNote =
    "Not in any table above (each cell's n counts only finished runs).";
inline constexpr const char* kNotesTitle = "Tags and notes";
inline constexpr const char* kClaimsTitle = "Claims";
inline constexpr const char* kPerLayerTitle = "Per-layer statistics";

/// Everything report.md shows, as data.
struct HtmlReport {
  std::string title, description, summary;
  std::string claims;  ///< the claims table as HTML (reports/claims.h); "" without claims
  std::vector<std::pair<AggTable, bool>> tables;     ///< table, per-layer (collapsible)
  std::vector<std::vector<std::string>> excluded;    ///< run, variant, seed, status, why
  std::vector<std::string> notes;                    ///< inline markdown (`code`)
  std::vector<PlotRef> plots;
  std::vector<std::string> provenance;               ///< inline markdown (`code`)
  std::vector<std::string> queries;                  ///< the SQL behind the tables
};

/// The whole page. SVG files that cannot be read are named in the page instead.
std::string render_report_html(const HtmlReport& r);

/// An SVG file's markup ready to inline: the XML prolog dropped and every id (and each
/// reference to it) prefixed with `prefix`, so that several gnuplot figures, which all use
/// the same ids, can share one page.
std::string inline_svg(const std::string& svg, const std::string& prefix);

/// Inline markdown as HTML: escaped text, `code` spans and **bold**.
std::string inline_md_html(const std::string& s);

}  // namespace lowbit
