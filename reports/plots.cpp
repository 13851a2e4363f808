#include "reports/plots.h"

#include <cstdlib>
#include <algorithm>
#include <cmath>
#include <fstream>

#include <fmt/format.h>

#include "core/error.h"

namespace lowbit {

namespace {

const char* kColors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                         "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

std::string gp_quote(const std::string& s) {
  std::string o = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') o += '\\';
    if (c == '_') o += "\\\\";  // keep underscores literal in enhanced text mode
    o += c;
  }
  return o + "\"";
}

// A file name for gnuplot: single quotes, nothing escaped.
std::string gp_path(const std::string& s) { return "'" + s + "'"; }

// Runs `script` once per terminal; returns the files that exist afterwards.
// `height` grows with the number of curves, whose key sits below the plot.
std::vector<std::string> render(const std::string& out_dir, const std::string& name,
                                const std::string& body, int height = 500) {
  std::vector<std::string> files;
  for (auto [ext, term] :
       {std::pair<std::string, std::string>{
            "svg", fmt::format("svg size 800,{} dynamic enhanced font 'Helvetica,12'", height)},
        {"png", fmt::format("pngcairo size 800,{} enhanced font 'Helvetica,11'", height)}}) {
    std::string gp = out_dir + "/" + name + "." + ext + ".gp";
    std::ofstream(gp) << "set terminal " << term << "\nset output "
                      << gp_path(out_dir + "/" + name + "." + ext) << "\n"
                      << body;
    std::string cmd = "gnuplot " + gp + " 2>" + gp + ".err";
    if (std::system(cmd.c_str()) == 0) files.push_back(out_dir + "/" + name + "." + ext);
    if (!getenv("LOWBIT_KEEP_GP")) std::remove(gp.c_str()), std::remove((gp + ".err").c_str());
  }
  return files;
}

}  // namespace

bool gnuplot_available() { return std::system("command -v gnuplot >/dev/null 2>&1") == 0; }

std::vector<std::string> plot_lines(const std::string& out_dir, const std::string& name,
                                    const std::string& title, const std::string& xlabel,
                                    const std::string& ylabel, const std::vector<Series>& series,
                                    bool logy) {
  if (series.empty()) return {};
  std::string data = out_dir + "/" + name + ".dat";
  std::ofstream out(data);
  // One block per series (two blank lines apart): x mean std.
  for (auto& s : series) {
    out << "# " << s.label << "\n";
    for (size_t i = 0; i < s.x.size(); ++i)
      out << s.x[i] << " " << s.mean[i] << " " << s.std[i] << "\n";
    out << "\n\n";
  }
  out.close();
  // Epochs are whole numbers: one tick per epoch when there are few, never "1.5".
  double lo = 1e300, hi = -1e300;
  bool integral = true;
  for (auto& sr : series)
    for (double x : sr.x) lo = std::min(lo, x), hi = std::max(hi, x), integral = integral && x == std::floor(x);
  std::string xtics = !integral ? "" : hi - lo <= 30 ? "set xtics 1\n" : "set format x '%.0f'\n";
  // The key below the plot, one label per line: long group labels never squeeze the plot.
  std::string body = fmt::format(
      "set title {}\nset xlabel {}\nset ylabel {}\nset key below vertical maxcols 1 left\nset grid\n{}{}",
      gp_quote(title), gp_quote(xlabel), gp_quote(ylabel), xtics, logy ? "set logscale y\n" : "");
  body += "set style fill transparent solid 0.18 noborder\nplot ";
  int curves = 0;  // colours go to curves of their own, in order
  std::vector<const char*> colors;
  for (size_t i = 0; i < series.size(); ++i) {
    const int of = series[i].continues;
    const bool own = of < 0 || size_t(of) >= i;
    const int palette = series[i].color >= 0 ? series[i].color : curves;
    const char* color = own ? kColors[palette % 10] : colors[size_t(of)];
    if (own) ++curves;
    colors.push_back(color);
    body += fmt::format(
        "{}{} index {} using 1:($2-$3):($2+$3) with filledcurves lc rgb '{}' notitle, "
        "'' index {} using 1:2 with linespoints lw 2 pt 7 ps 0.5 lc rgb '{}' {}{}",
        i ? ", " : "", gp_path(data), i, color, i, color, own ? "" : "dt 2 ",
        own ? "title " + gp_quote(series[i].label) : std::string("notitle"));
  }
  body += "\n";
  return render(out_dir, name, body, 440 + 18 * std::min(curves, 60));
}

std::vector<std::string> plot_points(const std::string& out_dir, const std::string& name,
                                     const std::string& title, const std::string& xlabel,
                                     const std::string& ylabel, const std::vector<Point>& points) {
  if (points.empty()) return {};
  std::string data = out_dir + "/" + name + ".dat";
  std::ofstream out(data);
  for (auto& p : points)
    out << "# " << p.label << "\n" << p.x << " " << p.y << " " << p.yerr << "\n\n\n";
  out.close();
  std::string body = fmt::format(
      "set title {}\nset xlabel {}\nset ylabel {}\nset logscale x\nset key outside right\nset "
      "grid\nset offsets graph 0.1, graph 0.1, graph 0.1, graph 0.1\nplot ",
      gp_quote(title), gp_quote(xlabel), gp_quote(ylabel));
  for (size_t i = 0; i < points.size(); ++i)
    body += fmt::format(
        "{}{} index {} using 1:2:3 with yerrorbars pt 7 ps 1.2 lw 2 lc rgb '{}' title {}",
        i ? ", " : "", gp_path(data), i, kColors[(points[i].color >= 0 ? size_t(points[i].color) : i) % 10],
        gp_quote(points[i].label));
  body += "\n";
  return render(out_dir, name, body);
}

}  // namespace lowbit
