// Curves with gnuplot: one mean line and a ±std band over seeds per group, written as SVG
// and PNG. Without gnuplot nothing is drawn and the caller says so; tables never depend on it.
#pragma once
#include "lowbit_room.h"  // the build refuses this header in rooms below reports/
#ifndef LOWBIT_MAY_INCLUDE_REPORTS
#error "this room may not include reports/ (docs/ARCHITECTURE.md: rooms)"
#endif
#include <string>
#include <vector>

namespace lowbit {

/// One curve: a label and, per x, the values over seeds.
struct Series {
  std::string label;
  std::vector<double> x, mean, std;
  /// A continuation of another curve: drawn dashed in that curve's colour (its index in the
  /// series list), without a key entry. -1: a curve of its own.
  int continues = -1;
  /// Its colour in the palette, so that a group keeps one colour from plot to plot (a report
  /// passes the group's index); -1: the next colour of this plot.
  int color = -1;
};

/// One point of a scatter with error bars (Pareto plot).
struct Point {
  std::string label;
  double x, y, yerr;
  int color = -1;  ///< as Series::color
};

/// True when a gnuplot binary is on PATH.
bool gnuplot_available();

/// Draws `series` into out_dir/name.svg and name.png; returns the files written.
std::vector<std::string> plot_lines(const std::string& out_dir, const std::string& name,
                                    const std::string& title, const std::string& xlabel,
                                    const std::string& ylabel, const std::vector<Series>& series,
                                    bool logy = false);

/// Accuracy against size: one point per group with CI whiskers, log x.
std::vector<std::string> plot_points(const std::string& out_dir, const std::string& name,
                                     const std::string& title, const std::string& xlabel,
                                     const std::string& ylabel, const std::vector<Point>& points);

}  // namespace lowbit
